//! The REST store (feature `rest`): a [`Store`] over MLflow's tracking REST API 2.0, against
//! a hyperflow server or a real MLflow server.
//!
//! - Every trait method maps to the REST call MLflow's own client makes; answers'
//!   `error_code`s map back to [`StoreError`] variants (`RESOURCE_DOES_NOT_EXIST` →
//!   [`StoreError::NotFound`], ...).
//! - Connection errors and 429/503 answers are retried with exponential back-off; other
//!   answers are not (a 4xx is the caller's mistake, a 500 would be repeated).
//! - Auth from `MLFLOW_TRACKING_TOKEN` (bearer) or `MLFLOW_TRACKING_USERNAME` /
//!   `MLFLOW_TRACKING_PASSWORD` (basic), or set explicitly.
//! - Artifacts of runs with `mlflow-artifacts:` URIs go through the server's artifact proxy
//!   ([`ProxyArtifactRepo`]); local (`file:`, path) URIs are read and written directly.
//!
//! ```no_run
//! use hyperflow::tracking::{RestStore, Store, ExperimentId, RunStart};
//!
//! let store = RestStore::new("http://127.0.0.1:5000")?;
//! let run = store.create_run(&ExperimentId::default_experiment(), RunStart::default())?;
//! # Ok::<(), hyperflow::tracking::StoreError>(())
//! ```

use super::artifacts::{
    ArtifactLocation, ArtifactRepo, LocalArtifactRepo, file_path, join_path, no_such_artifact,
    normalized,
};
use super::model::*;
use super::store::{Result, Store, StoreError, validate_batch, validate_history_page_size};
use base64::Engine;
use serde_json::{Map, Value, json};
use std::time::Duration;

/// How requests authenticate.
#[derive(Clone, PartialEq, Eq)]
pub enum RestAuth {
    /// No `Authorization` header.
    None,
    /// `Authorization: Bearer <token>`.
    Bearer(String),
    /// HTTP basic auth.
    Basic {
        /// User name.
        username: String,
        /// Password.
        password: String,
    },
}

impl std::fmt::Debug for RestAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RestAuth::None => f.write_str("None"),
            RestAuth::Bearer(_) => f.write_str("Bearer(***)"),
            RestAuth::Basic { username, .. } => write!(f, "Basic({username}:***)"),
        }
    }
}

impl RestAuth {
    /// From `MLFLOW_TRACKING_TOKEN`, else `MLFLOW_TRACKING_USERNAME`/`..._PASSWORD`.
    pub fn from_env() -> RestAuth {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        if let Some(t) = var("MLFLOW_TRACKING_TOKEN") {
            return RestAuth::Bearer(t);
        }
        match (
            var("MLFLOW_TRACKING_USERNAME"),
            var("MLFLOW_TRACKING_PASSWORD"),
        ) {
            (Some(username), Some(password)) => RestAuth::Basic { username, password },
            (None, Some(password)) => RestAuth::Basic {
                username: String::new(),
                password,
            },
            _ => RestAuth::None,
        }
    }

    fn header(&self) -> Option<String> {
        match self {
            RestAuth::None => None,
            RestAuth::Bearer(t) => Some(format!("Bearer {t}")),
            RestAuth::Basic { username, password } => Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"))
            )),
        }
    }
}

/// A [`Store`] talking to a tracking server over HTTP. Cheap to clone (the connection pool
/// is shared).
#[derive(Clone)]
pub struct RestStore {
    base: String,
    agent: ureq::Agent,
    auth: Option<String>,
    max_retries: u32,
    backoff: Duration,
}

impl std::fmt::Debug for RestStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RestStore")
            .field("base", &self.base)
            .field("auth", &self.auth.is_some())
            .field("max_retries", &self.max_retries)
            .finish_non_exhaustive()
    }
}

enum Req<'a> {
    Get(&'a [(&'a str, String)]),
    Post(&'a Value),
}

impl RestStore {
    /// A store for the server at `base_url` (e.g. `http://127.0.0.1:5000`), with auth from
    /// the environment ([`RestAuth::from_env`]).
    pub fn new(base_url: &str) -> Result<Self> {
        Self::with_auth(base_url, RestAuth::from_env())
    }

    /// A store with explicit auth.
    pub fn with_auth(base_url: &str, auth: RestAuth) -> Result<Self> {
        let base = base_url.trim().trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(StoreError::UnsupportedUri {
                uri: base_url.to_string(),
                reason: "the REST store needs an http:// or https:// URL".into(),
            });
        }
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(120)))
            .max_idle_connections_per_host(64)
            .build();
        Ok(RestStore {
            base,
            agent: ureq::Agent::new_with_config(config),
            auth: auth.header(),
            max_retries: 6,
            backoff: Duration::from_millis(100),
        })
    }

    /// Retry connection errors and 429/503 answers up to `n` times (default 6), doubling
    /// the wait from `first_backoff` (default 100 ms).
    pub fn with_retries(mut self, n: u32, first_backoff: Duration) -> Self {
        self.max_retries = n;
        self.backoff = first_backoff;
        self
    }

    /// The server's base URL.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    fn send_once(
        &self,
        method: &str,
        url: &str,
        query: &[(&str, String)],
        body: Option<&[u8]>,
        content_type: &str,
    ) -> std::result::Result<(u16, Vec<u8>), ureq::Error> {
        let mut resp = match method {
            "GET" | "DELETE" => {
                let mut rb = if method == "GET" {
                    self.agent.get(url)
                } else {
                    self.agent.delete(url)
                };
                for (k, v) in query {
                    rb = rb.query(*k, v);
                }
                if let Some(a) = &self.auth {
                    rb = rb.header("Authorization", a);
                }
                rb.call()?
            }
            _ => {
                let mut rb = if method == "PUT" {
                    self.agent.put(url)
                } else {
                    self.agent.post(url)
                };
                rb = rb.header("Content-Type", content_type);
                if let Some(a) = &self.auth {
                    rb = rb.header("Authorization", a);
                }
                rb.send(body.unwrap_or(&[]))?
            }
        };
        let status = resp.status().as_u16();
        let bytes = resp
            .body_mut()
            .with_config()
            .limit(u64::MAX)
            .read_to_vec()?;
        Ok((status, bytes))
    }

    /// Send a request with retries on connection errors and 429/503; returns status and
    /// body.
    fn send(
        &self,
        method: &str,
        path: &str,
        query: &[(&str, String)],
        body: Option<&[u8]>,
        content_type: &str,
    ) -> Result<(u16, Vec<u8>)> {
        let url = format!("{}{path}", self.base);
        let mut wait = self.backoff;
        let mut attempt = 0;
        loop {
            let outcome = self.send_once(method, &url, query, body, content_type);
            let retryable = match &outcome {
                Ok((status, _)) => matches!(status, 429 | 503),
                Err(e) => matches!(
                    e,
                    ureq::Error::Io(_)
                        | ureq::Error::ConnectionFailed
                        | ureq::Error::HostNotFound
                        | ureq::Error::Timeout(_)
                ),
            };
            if !retryable || attempt >= self.max_retries {
                return match outcome {
                    Ok(ok) => Ok(ok),
                    Err(e) => Err(StoreError::Unavailable(format!(
                        "{method} {url} failed after {} attempt(s): {e}",
                        attempt + 1
                    ))),
                };
            }
            std::thread::sleep(wait);
            wait = (wait * 2).min(Duration::from_secs(10));
            attempt += 1;
        }
    }

    /// The body of a 2xx answer, else the error the answer describes.
    fn success(status: u16, body: Vec<u8>, what: &str) -> Result<Vec<u8>> {
        if (200..300).contains(&status) {
            Ok(body)
        } else {
            Err(Self::error_from(status, &body, what))
        }
    }

    fn error_from(status: u16, body: &[u8], what: &str) -> StoreError {
        let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let code = v
            .get("error_code")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| {
                match status {
                    400 => "BAD_REQUEST",
                    401 => "UNAUTHENTICATED",
                    403 => "PERMISSION_DENIED",
                    404 => "ENDPOINT_NOT_FOUND",
                    429 => "REQUEST_LIMIT_EXCEEDED",
                    503 => "TEMPORARILY_UNAVAILABLE",
                    _ => "INTERNAL_ERROR",
                }
                .to_string()
            });
        let message = v
            .get("message")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| {
                let text = String::from_utf8_lossy(body);
                let text: String = text.chars().take(300).collect();
                format!("{what}: HTTP {status}: {text}")
            });
        match code.as_str() {
            "RESOURCE_DOES_NOT_EXIST" => StoreError::NotFound(message),
            "RESOURCE_ALREADY_EXISTS" => StoreError::AlreadyExists(message),
            "INVALID_PARAMETER_VALUE" | "BAD_REQUEST" => StoreError::InvalidParameter(message),
            "INVALID_STATE" => StoreError::InvalidState(message),
            _ => StoreError::Remote {
                error_code: code,
                status,
                message,
            },
        }
    }

    fn call(&self, endpoint: &str, req: Req<'_>) -> Result<Value> {
        let path = format!("/api/2.0/mlflow/{endpoint}");
        let (status, body) = match req {
            Req::Get(q) => self.send("GET", &path, q, None, "")?,
            Req::Post(v) => {
                let bytes =
                    serde_json::to_vec(v).map_err(|e| StoreError::Serialization(e.to_string()))?;
                self.send("POST", &path, &[], Some(&bytes), "application/json")?
            }
        };
        let body = Self::success(status, body, endpoint)?;
        if body.is_empty() {
            return Ok(json!({}));
        }
        serde_json::from_slice(&body).map_err(|e| {
            StoreError::Serialization(format!("{endpoint}: the server's answer is not JSON ({e})"))
        })
    }

    fn post(&self, endpoint: &str, body: Value) -> Result<Value> {
        self.call(endpoint, Req::Post(&body))
    }

    fn get(&self, endpoint: &str, query: &[(&str, String)]) -> Result<Value> {
        self.call(endpoint, Req::Get(query))
    }

    /// The same store for the server `mlflow-artifacts://<authority>/...` names (same scheme
    /// and auth), or this one when the URI names none.
    fn at_authority(&self, authority: Option<&str>) -> RestStore {
        match authority {
            Some(a) => {
                let scheme = self.base.split_once("://").map_or("http", |(s, _)| s);
                RestStore {
                    base: format!("{scheme}://{a}"),
                    ..self.clone()
                }
            }
            None => self.clone(),
        }
    }
}

/// Where the artifact proxy answers, below a server's base URL.
const PROXY_ENDPOINT: &str = "/api/2.0/mlflow-artifacts/artifacts";

/// A run's artifacts behind a tracking server's artifact proxy, for `mlflow-artifacts:`
/// artifact URIs: as in MLflow, the URI's path is appended to the proxy endpoint
/// (`/api/2.0/mlflow-artifacts/artifacts/<path>`); files are uploaded with `PUT`, read with
/// `GET`, and directories listed with `GET ...artifacts?path=<dir>`. Opened by
/// [`RestStore`]'s [`Store::artifact_repo`]; works against hyperflow's server and MLflow's
/// (`mlflow server --serve-artifacts`, the default in MLflow 3).
#[derive(Debug, Clone)]
pub struct ProxyArtifactRepo {
    server: RestStore,
    /// The run's directory below the proxy's root, e.g. `1/<run id>/artifacts`.
    root: String,
}

impl ProxyArtifactRepo {
    /// The URL path of artifact file `path` (validated, non-empty).
    fn file_url(&self, path: &str) -> Result<String> {
        let p = join_path(&self.root, &file_path(path)?);
        Ok(format!("{PROXY_ENDPOINT}/{}", encode_path(&p)))
    }
}

impl ArtifactRepo for ProxyArtifactRepo {
    fn write_bytes(&self, path: &str, bytes: &[u8]) -> Result<()> {
        let url = self.file_url(path)?;
        let (status, body) =
            self.server
                .send("PUT", &url, &[], Some(bytes), "application/octet-stream")?;
        RestStore::success(status, body, "uploading an artifact").map(drop)
    }

    fn read_bytes(&self, path: &str) -> Result<Vec<u8>> {
        let url = self.file_url(path)?;
        let (status, body) = self.server.send("GET", &url, &[], None, "")?;
        match RestStore::success(status, body, "downloading an artifact") {
            // MLflow answers a missing file with a bare 404 page.
            Err(StoreError::NotFound(_)) | Err(StoreError::Remote { status: 404, .. }) => {
                Err(no_such_artifact(path))
            }
            other => other,
        }
    }

    fn list(&self, path: &str) -> Result<Vec<FileInfo>> {
        let rel = normalized(path)?;
        let (status, body) = self.server.send(
            "GET",
            PROXY_ENDPOINT,
            &[("path", join_path(&self.root, &rel))],
            None,
            "",
        )?;
        let body = RestStore::success(status, body, "listing artifacts")?;
        let v: Value = serde_json::from_slice(&body).map_err(|e| {
            StoreError::Serialization(format!(
                "listing artifacts: the server's answer is not JSON ({e})"
            ))
        })?;
        let mut out = Vec::new();
        for f in list(&v, "files") {
            let name = s(f, "path");
            // A listing names direct children; anything else would write outside the
            // download directory.
            if name.is_empty() || name.contains('/') || file_path(&name)? != name {
                return Err(StoreError::InvalidArtifactPath {
                    path: name,
                    reason: "the server listed an entry that is not a plain file name".into(),
                });
            }
            out.push(FileInfo {
                path: join_path(&rel, &name),
                is_dir: f.get("is_dir").and_then(Value::as_bool).unwrap_or(false),
                file_size: f.get("file_size").and_then(as_i64).map(|n| n as u64),
            });
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }
}

fn encode_path(p: &str) -> String {
    let mut out = String::with_capacity(p.len());
    for b in p.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// JSON → model (tolerant: int64 as numbers or strings, doubles as "NaN"/"Infinity").

fn as_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => match s.as_str() {
            "NaN" => Some(f64::NAN),
            "Infinity" => Some(f64::INFINITY),
            "-Infinity" => Some(f64::NEG_INFINITY),
            s => s.parse().ok(),
        },
        _ => None,
    }
}

fn s(v: &Value, k: &str) -> String {
    match v.get(k) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

/// The fields every search endpoint shares.
struct Search<'a> {
    filter: &'a str,
    order_by: &'a [String],
    max_results: usize,
    page_token: Option<&'a str>,
}

impl RestStore {
    /// Posts a search (the endpoint's own fields in `body`, plus the shared ones) and reads
    /// one page of `items` back.
    fn search<T>(
        &self,
        endpoint: &str,
        mut body: Map<String, Value>,
        search: Search<'_>,
        items: &str,
        parse: impl Fn(&Value) -> Result<T>,
    ) -> Result<Page<T>> {
        body.insert("max_results".into(), json!(search.max_results));
        if !search.filter.is_empty() {
            body.insert("filter".into(), json!(search.filter));
        }
        if !search.order_by.is_empty() {
            body.insert("order_by".into(), json!(search.order_by));
        }
        if let Some(t) = search.page_token {
            body.insert("page_token".into(), json!(t));
        }
        let v = self.post(endpoint, Value::Object(body))?;
        Ok(Page {
            items: list(&v, items).iter().map(parse).collect::<Result<_>>()?,
            next_page_token: token(&v),
        })
    }
}

fn list<'a>(v: &'a Value, k: &str) -> &'a [Value] {
    v.get(k)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn bad_answer(what: &str) -> StoreError {
    StoreError::Serialization(format!("the server's answer has no {what}"))
}

fn stage(v: &Value) -> LifecycleStage {
    if s(v, "lifecycle_stage") == "deleted" {
        LifecycleStage::Deleted
    } else {
        LifecycleStage::Active
    }
}

fn kv<T>(v: &Value, k: &str, make: fn(String, String) -> T) -> Vec<T> {
    list(v, k)
        .iter()
        .map(|t| make(s(t, "key"), s(t, "value")))
        .collect()
}

fn parse_experiment(v: &Value) -> Result<Experiment> {
    if !v.is_object() {
        return Err(bad_answer("experiment"));
    }
    Ok(Experiment {
        experiment_id: ExperimentId(s(v, "experiment_id")),
        name: s(v, "name"),
        artifact_location: s(v, "artifact_location"),
        lifecycle_stage: stage(v),
        creation_time: v.get("creation_time").and_then(as_i64).unwrap_or(0),
        last_update_time: v.get("last_update_time").and_then(as_i64).unwrap_or(0),
        tags: kv(v, "tags", Tag::new),
    })
}

fn parse_metric(v: &Value) -> Metric {
    Metric {
        key: s(v, "key"),
        value: v.get("value").and_then(as_f64).unwrap_or(f64::NAN),
        timestamp: v.get("timestamp").and_then(as_i64).unwrap_or(0),
        step: v.get("step").and_then(as_i64).unwrap_or(0),
    }
}

fn parse_run_info(v: &Value) -> Result<RunInfo> {
    if !v.is_object() {
        return Err(bad_answer("run info"));
    }
    let mut run_id = s(v, "run_id");
    if run_id.is_empty() {
        run_id = s(v, "run_uuid");
    }
    Ok(RunInfo {
        run_id,
        experiment_id: ExperimentId(s(v, "experiment_id")),
        run_name: s(v, "run_name"),
        user_id: s(v, "user_id"),
        status: match v.get("status") {
            Some(Value::Number(n)) => n
                .as_u64()
                .and_then(|n| RunStatus::ALL.get((n as usize).wrapping_sub(1)).copied())
                .unwrap_or(RunStatus::Running),
            _ => RunStatus::parse(&s(v, "status")).unwrap_or(RunStatus::Running),
        },
        start_time: v.get("start_time").and_then(as_i64).unwrap_or(0),
        end_time: v.get("end_time").and_then(as_i64),
        artifact_uri: s(v, "artifact_uri"),
        lifecycle_stage: stage(v),
    })
}

fn parse_run(v: &Value) -> Result<Run> {
    let info = parse_run_info(v.get("info").ok_or_else(|| bad_answer("run"))?)?;
    let d = v.get("data").cloned().unwrap_or(Value::Null);
    let mut data = RunData {
        metrics: list(&d, "metrics").iter().map(parse_metric).collect(),
        params: kv(&d, "params", Param::new),
        tags: kv(&d, "tags", Tag::new),
    };
    data.metrics.sort_by(|a, b| a.key.cmp(&b.key));
    data.params.sort_by(|a, b| a.key.cmp(&b.key));
    data.tags.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(Run { info, data })
}

fn token(v: &Value) -> Option<String> {
    v.get("next_page_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
}

/// A double for a request body: a number, or `"NaN"` / `"Infinity"` / `"-Infinity"`.
fn f64_json(v: f64) -> Value {
    if v.is_nan() {
        json!("NaN")
    } else if v == f64::INFINITY {
        json!("Infinity")
    } else if v == f64::NEG_INFINITY {
        json!("-Infinity")
    } else {
        json!(v)
    }
}

fn metric_body(m: &Metric) -> Value {
    json!({"key": m.key, "value": f64_json(m.value), "timestamp": m.timestamp, "step": m.step})
}

fn kv_body<'a>(items: impl Iterator<Item = (&'a str, &'a str)>) -> Value {
    Value::Array(items.map(|(k, v)| json!({"key": k, "value": v})).collect())
}

fn view_name(v: ViewType) -> &'static str {
    match v {
        ViewType::ActiveOnly => "ACTIVE_ONLY",
        ViewType::DeletedOnly => "DELETED_ONLY",
        ViewType::All => "ALL",
    }
}

impl Store for RestStore {
    fn create_experiment(
        &self,
        name: &str,
        artifact_location: Option<&str>,
        tags: &[Tag],
    ) -> Result<ExperimentId> {
        let mut body = Map::new();
        body.insert("name".into(), json!(name));
        if let Some(loc) = artifact_location.filter(|l| !l.is_empty()) {
            body.insert("artifact_location".into(), json!(loc));
        }
        if !tags.is_empty() {
            body.insert(
                "tags".into(),
                kv_body(tags.iter().map(|t| (t.key.as_str(), t.value.as_str()))),
            );
        }
        let v = self.post("experiments/create", Value::Object(body))?;
        let id = s(&v, "experiment_id");
        if id.is_empty() {
            return Err(bad_answer("experiment_id"));
        }
        Ok(ExperimentId(id))
    }

    fn get_experiment(&self, id: &ExperimentId) -> Result<Experiment> {
        let v = self.get("experiments/get", &[("experiment_id", id.0.clone())])?;
        parse_experiment(v.get("experiment").unwrap_or(&Value::Null))
    }

    fn get_experiment_by_name(&self, name: &str) -> Result<Option<Experiment>> {
        match self.get(
            "experiments/get-by-name",
            &[("experiment_name", name.to_string())],
        ) {
            Ok(v) => parse_experiment(v.get("experiment").unwrap_or(&Value::Null)).map(Some),
            Err(StoreError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn search_experiments(&self, q: &ExperimentQuery) -> Result<Page<Experiment>> {
        let mut body = Map::new();
        body.insert("view_type".into(), json!(view_name(q.view_type)));
        let search = Search {
            filter: &q.filter,
            order_by: &q.order_by,
            max_results: q.max_results,
            page_token: q.page_token.as_deref(),
        };
        self.search(
            "experiments/search",
            body,
            search,
            "experiments",
            parse_experiment,
        )
    }

    fn rename_experiment(&self, id: &ExperimentId, new_name: &str) -> Result<()> {
        self.post(
            "experiments/update",
            json!({"experiment_id": id.as_str(), "new_name": new_name}),
        )
        .map(drop)
    }

    fn delete_experiment(&self, id: &ExperimentId) -> Result<()> {
        self.post("experiments/delete", json!({"experiment_id": id.as_str()}))
            .map(drop)
    }

    fn restore_experiment(&self, id: &ExperimentId) -> Result<()> {
        self.post("experiments/restore", json!({"experiment_id": id.as_str()}))
            .map(drop)
    }

    fn set_experiment_tag(&self, id: &ExperimentId, tag: &Tag) -> Result<()> {
        self.post(
            "experiments/set-experiment-tag",
            json!({"experiment_id": id.as_str(), "key": tag.key, "value": tag.value}),
        )
        .map(drop)
    }

    fn delete_experiment_tag(&self, id: &ExperimentId, key: &str) -> Result<()> {
        self.post(
            "experiments/delete-experiment-tag",
            json!({"experiment_id": id.as_str(), "key": key}),
        )
        .map(drop)
    }

    fn get_metric_history_page(
        &self,
        run_id: &str,
        key: &str,
        max_results: usize,
        page_token: Option<&str>,
    ) -> Result<Page<Metric>> {
        validate_history_page_size(max_results)?;
        let mut q = vec![
            ("run_id", run_id.to_string()),
            ("metric_key", key.to_string()),
            ("max_results", max_results.to_string()),
        ];
        if let Some(t) = page_token.filter(|t| !t.is_empty()) {
            q.push(("page_token", t.to_string()));
        }
        let v = self.get("metrics/get-history", &q)?;
        Ok(Page {
            items: list(&v, "metrics").iter().map(parse_metric).collect(),
            next_page_token: token(&v),
        })
    }

    fn create_run(&self, experiment_id: &ExperimentId, start: RunStart) -> Result<Run> {
        let mut body = Map::new();
        body.insert("experiment_id".into(), json!(experiment_id.as_str()));
        body.insert(
            "start_time".into(),
            json!(start.start_time.unwrap_or_else(now_ms)),
        );
        if let Some(u) = &start.user_id {
            body.insert("user_id".into(), json!(u));
        }
        if let Some(n) = &start.run_name {
            body.insert("run_name".into(), json!(n));
        }
        if !start.tags.is_empty() {
            body.insert(
                "tags".into(),
                kv_body(
                    start
                        .tags
                        .iter()
                        .map(|t| (t.key.as_str(), t.value.as_str())),
                ),
            );
        }
        let v = self.post("runs/create", Value::Object(body))?;
        parse_run(v.get("run").unwrap_or(&Value::Null))
    }

    fn get_run(&self, run_id: &str) -> Result<Run> {
        let v = self.get("runs/get", &[("run_id", run_id.to_string())])?;
        parse_run(v.get("run").unwrap_or(&Value::Null))
    }

    fn update_run(&self, run_id: &str, update: RunUpdate) -> Result<RunInfo> {
        let mut body = Map::new();
        body.insert("run_id".into(), json!(run_id));
        body.insert("run_uuid".into(), json!(run_id));
        if let Some(st) = update.status {
            body.insert("status".into(), json!(st.as_str()));
        }
        if let Some(t) = update.end_time {
            body.insert("end_time".into(), json!(t));
        }
        if let Some(n) = &update.run_name {
            body.insert("run_name".into(), json!(n));
        }
        let v = self.post("runs/update", Value::Object(body))?;
        parse_run_info(v.get("run_info").unwrap_or(&Value::Null))
    }

    fn delete_run(&self, run_id: &str) -> Result<()> {
        self.post("runs/delete", json!({"run_id": run_id}))
            .map(drop)
    }

    fn restore_run(&self, run_id: &str) -> Result<()> {
        self.post("runs/restore", json!({"run_id": run_id}))
            .map(drop)
    }

    fn log_batch(
        &self,
        run_id: &str,
        metrics: &[Metric],
        params: &[Param],
        tags: &[Tag],
    ) -> Result<()> {
        validate_batch(run_id, metrics, params, tags)?;
        let mut body = Map::new();
        body.insert("run_id".into(), json!(run_id));
        if !metrics.is_empty() {
            body.insert(
                "metrics".into(),
                Value::Array(metrics.iter().map(metric_body).collect()),
            );
        }
        if !params.is_empty() {
            body.insert(
                "params".into(),
                kv_body(params.iter().map(|p| (p.key.as_str(), p.value.as_str()))),
            );
        }
        if !tags.is_empty() {
            body.insert(
                "tags".into(),
                kv_body(tags.iter().map(|t| (t.key.as_str(), t.value.as_str()))),
            );
        }
        self.post("runs/log-batch", Value::Object(body)).map(drop)
    }

    fn delete_tag(&self, run_id: &str, key: &str) -> Result<()> {
        self.post("runs/delete-tag", json!({"run_id": run_id, "key": key}))
            .map(drop)
    }

    fn get_metric_history(&self, run_id: &str, key: &str) -> Result<Vec<Metric>> {
        let mut out = Vec::new();
        let mut page_token: Option<String> = None;
        loop {
            let mut q = vec![
                ("run_id", run_id.to_string()),
                ("metric_key", key.to_string()),
            ];
            if let Some(t) = &page_token {
                q.push(("page_token", t.clone()));
            }
            let v = self.get("metrics/get-history", &q)?;
            out.extend(list(&v, "metrics").iter().map(parse_metric));
            match token(&v) {
                Some(t) => page_token = Some(t),
                None => break,
            }
        }
        Ok(out)
    }

    fn search_runs(&self, q: &RunQuery) -> Result<Page<Run>> {
        if q.experiment_ids.is_empty() {
            return Ok(Page::last(Vec::new()));
        }
        let mut body = Map::new();
        body.insert(
            "experiment_ids".into(),
            json!(
                q.experiment_ids
                    .iter()
                    .map(ExperimentId::as_str)
                    .collect::<Vec<_>>()
            ),
        );
        body.insert("run_view_type".into(), json!(view_name(q.view_type)));
        let search = Search {
            filter: &q.filter,
            order_by: &q.order_by,
            max_results: q.max_results,
            page_token: q.page_token.as_deref(),
        };
        self.search("runs/search", body, search, "runs", parse_run)
    }

    fn log_metric(&self, run_id: &str, m: &Metric) -> Result<()> {
        validate_batch(run_id, std::slice::from_ref(m), &[], &[])?;
        let mut body = metric_body(m);
        if let Value::Object(o) = &mut body {
            o.insert("run_id".into(), json!(run_id));
        }
        self.post("runs/log-metric", body).map(drop)
    }

    fn log_param(&self, run_id: &str, p: &Param) -> Result<()> {
        validate_batch(run_id, &[], std::slice::from_ref(p), &[])?;
        self.post(
            "runs/log-parameter",
            json!({"run_id": run_id, "key": p.key, "value": p.value}),
        )
        .map(drop)
    }

    fn set_tag(&self, run_id: &str, t: &Tag) -> Result<()> {
        validate_batch(run_id, &[], &[], std::slice::from_ref(t))?;
        self.post(
            "runs/set-tag",
            json!({"run_id": run_id, "key": t.key, "value": t.value}),
        )
        .map(drop)
    }

    fn artifact_repo(&self, artifact_uri: &str) -> Result<Box<dyn ArtifactRepo>> {
        match ArtifactLocation::parse(artifact_uri)? {
            ArtifactLocation::Proxy { authority, path } => Ok(Box::new(ProxyArtifactRepo {
                server: self.at_authority(authority.as_deref()),
                root: path,
            })),
            // A location the client shares with the server (as MLflow's clients do).
            ArtifactLocation::Local(dir) => Ok(Box::new(LocalArtifactRepo::at(dir))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_map_back() {
        let e = RestStore::error_from(
            404,
            br#"{"error_code":"RESOURCE_DOES_NOT_EXIST","message":"Run with id=x not found"}"#,
            "runs/get",
        );
        assert!(matches!(e, StoreError::NotFound(_)));
        assert_eq!(e.to_string(), "Run with id=x not found");
        let e = RestStore::error_from(500, b"<html>boom</html>", "runs/get");
        assert_eq!(e.error_code(), "INTERNAL_ERROR");
        let e = RestStore::error_from(404, b"not json", "x");
        assert_eq!(e.error_code(), "ENDPOINT_NOT_FOUND");
    }

    #[test]
    fn parses_tolerantly() {
        let m = parse_metric(&json!({"key": "a", "value": "NaN", "timestamp": "17", "step": 2}));
        assert!(m.value.is_nan());
        assert_eq!((m.timestamp, m.step), (17, 2));
        assert_eq!(encode_path("a b/c%"), "a%20b/c%25");
    }
}
