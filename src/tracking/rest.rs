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
//! - The [ledger of searches](super::ledger), through which workers join one search, is
//!   hyperflow's server's `/api/2.0/hyperflow/ledger/...` endpoints; against a server
//!   without them (MLflow's) [`Store::ledger`] is `None` and searches run alone.
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
    ArtifactLocation, ArtifactRepo, file_path, join_path, no_such_artifact, normalized,
    open_location,
};
use super::model::*;
use super::store::{
    Result, Store, StoreError, validate_alias, validate_batch, validate_dataset_inputs,
    validate_history_page_size, validate_key, validate_model_metrics, validate_new_logged_model,
    validate_registered_model_name, validate_transition,
};
use super::wire::{self, Call};
use base64::Engine;
use std::time::Duration;

mod ledger;

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

    fn header(&self) -> Option<AuthHeader> {
        match self {
            RestAuth::None => None,
            RestAuth::Bearer(t) => Some(AuthHeader(format!("Bearer {t}"))),
            RestAuth::Basic { username, password } => Some(AuthHeader(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"))
            ))),
        }
    }
}

/// A [`Store`] talking to a tracking server over HTTP. Cheap to clone (the connection pool
/// is shared).
#[derive(Clone, Debug)]
pub struct RestStore {
    base: String,
    agent: ureq::Agent,
    /// The `Authorization` header, sent only to the server at `base`.
    auth: Option<AuthHeader>,
    max_retries: u32,
    backoff: Duration,
    /// Whether the server serves the ledger of searches, once known (shared by clones).
    serves_ledger: std::sync::Arc<std::sync::OnceLock<bool>>,
}

/// An `Authorization` header value, kept out of `Debug` output.
#[derive(Clone)]
struct AuthHeader(String);

impl std::fmt::Debug for AuthHeader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

/// A request's fields: a query string (GET, DELETE) or a body (POST, PUT).
enum Payload<'a> {
    Query(&'a [(String, String)]),
    Body {
        bytes: &'a [u8],
        content_type: &'static str,
    },
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
        if origin(&base).is_none() {
            return Err(StoreError::UnsupportedUri {
                uri: base_url.to_string(),
                reason: "the REST store needs an http:// or https:// URL with a host".into(),
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
            serves_ledger: Default::default(),
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
        payload: &Payload<'_>,
    ) -> std::result::Result<(u16, Vec<u8>), ureq::Error> {
        let auth = self.auth.as_ref().map(|a| a.0.as_str());
        let mut resp = match payload {
            Payload::Query(query) => {
                let mut rb = if method == "DELETE" {
                    self.agent.delete(url)
                } else {
                    self.agent.get(url)
                };
                rb = rb.query_pairs(query.iter().map(|(k, v)| (k.as_str(), v.as_str())));
                if let Some(a) = auth {
                    rb = rb.header("Authorization", a);
                }
                rb.call()?
            }
            Payload::Body {
                bytes,
                content_type,
            } => {
                let mut rb = match method {
                    "PUT" => self.agent.put(url),
                    "PATCH" => self.agent.patch(url),
                    "DELETE" => self.agent.delete(url).force_send_body(),
                    _ => self.agent.post(url),
                };
                rb = rb.header("Content-Type", *content_type);
                if let Some(a) = auth {
                    rb = rb.header("Authorization", a);
                }
                rb.send(*bytes)?
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

    /// Send a request with retries on connection errors and 429/503; returns the body of a
    /// 2xx answer, else the error the answer describes (`what` names the request in
    /// messages).
    fn send(&self, method: &str, path: &str, payload: Payload<'_>, what: &str) -> Result<Vec<u8>> {
        let url = format!("{}{path}", self.base);
        let mut wait = self.backoff;
        let mut attempt = 0;
        loop {
            let outcome = self.send_once(method, &url, &payload);
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
                    Ok((status, body)) if (200..300).contains(&status) => Ok(body),
                    Ok((status, body)) => Err(Self::error_from(status, &body, what)),
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

    fn error_from(status: u16, body: &[u8], what: &str) -> StoreError {
        let answer: wire::ErrorBody = serde_json::from_slice(body).unwrap_or_default();
        let code = if answer.error_code.is_empty() {
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
        } else {
            answer.error_code
        };
        let message = if answer.message.is_empty() {
            let text = String::from_utf8_lossy(body);
            let text: String = text.chars().take(300).collect();
            format!("{what}: HTTP {status}: {text}")
        } else {
            answer.message
        };
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

    /// Make one call of the REST API and read its answer.
    fn call<C: Call>(&self, request: C) -> Result<C::Reply> {
        let unserializable = |e: serde_json::Error| StoreError::Serialization(e.to_string());
        let fields = serde_json::to_value(&request).map_err(unserializable)?;
        let path = format!("{}{}", wire::API_PREFIX, wire::fill_path(C::PATH, &fields));
        let what = C::PATH.trim_start_matches('/');
        let body = match C::METHOD {
            wire::Method::Get => {
                let query = wire::to_query(&request).map_err(unserializable)?;
                self.send("GET", &path, Payload::Query(&query), what)?
            }
            method => {
                let bytes = serde_json::to_vec(&fields).map_err(unserializable)?;
                let payload = Payload::Body {
                    bytes: &bytes,
                    content_type: "application/json",
                };
                let name = match method {
                    wire::Method::Patch => "PATCH",
                    wire::Method::Delete => "DELETE",
                    _ => "POST",
                };
                self.send(name, &path, payload, what)?
            }
        };
        read_answer(&body, what)
    }

    /// The store for the server an `mlflow-artifacts://<authority>/...` URI names (this
    /// one when it names none). Credentials go only to this store's own server: another
    /// scheme, host or port gets no `Authorization` header.
    fn at_authority(&self, authority: Option<&str>) -> RestStore {
        let Some(authority) = authority else {
            return self.clone();
        };
        let scheme = self.base.split_once("://").map_or("http", |(s, _)| s);
        let base = format!("{scheme}://{authority}");
        let same_server = origin(&base).is_some() && origin(&base) == origin(&self.base);
        RestStore {
            auth: if same_server { self.auth.clone() } else { None },
            base,
            ..self.clone()
        }
    }
}

/// Scheme, lower-case host and port (the scheme's default when none is given) of an
/// http(s) URL; `None` for anything else.
fn origin(url: &str) -> Option<(String, String, u16)> {
    let uri: ureq::http::Uri = url.parse().ok()?;
    let scheme = uri.scheme_str()?.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" => 80,
        "https" => 443,
        _ => return None,
    };
    let host = uri.host().filter(|h| !h.is_empty())?.to_ascii_lowercase();
    Some((scheme, host, uri.port_u16().unwrap_or(default_port)))
}

/// A 2xx answer's body as `T` (an empty body reads as `{}`).
fn read_answer<T: serde::de::DeserializeOwned>(body: &[u8], what: &str) -> Result<T> {
    let body = if body.is_empty() { b"{}" } else { body };
    serde_json::from_slice(body).map_err(|e| {
        StoreError::Serialization(format!(
            "{what}: the server's answer is not what MLflow's REST API describes ({e})"
        ))
    })
}

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

/// Characters of an artifact path sent as they are: RFC 3986's unreserved ones and `/`.
const PATH_AS_IS: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

impl ProxyArtifactRepo {
    /// The URL path of the proxy's listing endpoint.
    fn endpoint() -> String {
        format!("{}{}", wire::API_PREFIX, wire::ARTIFACTS_PATH)
    }

    /// The URL path of artifact file `path` (validated, non-empty).
    fn file_url(&self, path: &str) -> Result<String> {
        let p = join_path(&self.root, &file_path(path)?);
        Ok(format!(
            "{}/{}",
            Self::endpoint(),
            percent_encoding::utf8_percent_encode(&p, PATH_AS_IS)
        ))
    }
}

impl ArtifactRepo for ProxyArtifactRepo {
    fn write_bytes(&self, path: &str, bytes: &[u8]) -> Result<()> {
        let payload = Payload::Body {
            bytes,
            content_type: "application/octet-stream",
        };
        self.server
            .send(
                "PUT",
                &self.file_url(path)?,
                payload,
                "uploading an artifact",
            )
            .map(drop)
    }

    fn read_bytes(&self, path: &str) -> Result<Vec<u8>> {
        let url = self.file_url(path)?;
        match self
            .server
            .send("GET", &url, Payload::Query(&[]), "downloading an artifact")
        {
            // MLflow answers a missing file with a bare 404 page.
            Err(StoreError::NotFound(_)) | Err(StoreError::Remote { status: 404, .. }) => {
                Err(no_such_artifact(path))
            }
            other => other,
        }
    }

    fn list(&self, path: &str) -> Result<Vec<FileInfo>> {
        let rel = normalized(path)?;
        let query = wire::to_query(&wire::ProxyList {
            path: Some(join_path(&self.root, &rel)),
        })
        .map_err(|e| StoreError::Serialization(e.to_string()))?;
        let what = "listing artifacts";
        let body = self
            .server
            .send("GET", &Self::endpoint(), Payload::Query(&query), what)?;
        let listing: wire::ProxyListing = read_answer(&body, what)?;
        let mut out = Vec::with_capacity(listing.files.len());
        for f in listing.files {
            // A listing names direct children; anything else would write outside the
            // download directory.
            if f.path.is_empty() || f.path.contains('/') || file_path(&f.path)? != f.path {
                return Err(StoreError::InvalidArtifactPath {
                    path: f.path,
                    reason: "the server listed an entry that is not a plain file name".into(),
                });
            }
            out.push(FileInfo {
                path: join_path(&rel, &f.path),
                is_dir: f.is_dir,
                file_size: f.file_size.and_then(|n| u64::try_from(n).ok()),
            });
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }
}

/// A search request with the fields both searches share.
fn search(
    filter: &str,
    order_by: &[String],
    max_results: usize,
    token: Option<&str>,
) -> wire::Search {
    wire::Search {
        filter: Some(filter.to_string()).filter(|f| !f.is_empty()),
        max_results: Some(i64::try_from(max_results).unwrap_or(i64::MAX)),
        order_by: order_by.to_vec(),
        page_token: token.map(str::to_string),
        ..wire::Search::default()
    }
}

fn version_ref(name: &str, version: i64) -> wire::ModelVersionRef {
    wire::ModelVersionRef {
        name: name.to_string(),
        version: version.to_string(),
    }
}

fn alias_ref(name: &str, alias: &str) -> wire::AliasRef {
    wire::AliasRef {
        name: name.to_string(),
        alias: alias.to_string(),
    }
}

/// [`page`] for items whose wire form can be malformed (a version that is not a number).
fn checked_page<W, T: TryFrom<W, Error = StoreError>>(
    items: Vec<W>,
    next_page_token: Option<String>,
) -> Result<Page<T>> {
    Ok(Page {
        items: items.into_iter().map(T::try_from).collect::<Result<_>>()?,
        next_page_token,
    })
}

fn page<W, T: From<W>>(items: Vec<W>, next_page_token: Option<String>) -> Page<T> {
    Page {
        items: wire::into_all(items),
        next_page_token: next_page_token.filter(|t| !t.is_empty()),
    }
}

impl Store for RestStore {
    /// This store, when the server serves the ledger of searches (hyperflow's server over
    /// a store with one); `None` against a server without it (MLflow's), so a search
    /// through it runs alone. Asked once, the first time ([`RestStore::serves_ledger`]).
    fn ledger(&self) -> Option<&dyn super::ledger::Ledger> {
        self.serves_ledger()
            .then_some(self as &dyn super::ledger::Ledger)
    }

    fn create_experiment(
        &self,
        name: &str,
        artifact_location: Option<&str>,
        tags: &[Tag],
    ) -> Result<ExperimentId> {
        let reply = self.call(wire::CreateExperiment(wire::NewExperiment {
            name: name.to_string(),
            artifact_location: artifact_location
                .filter(|l| !l.is_empty())
                .map(str::to_string),
            tags: wire::all(tags),
        }))?;
        Ok(reply.experiment_id)
    }

    fn get_experiment(&self, id: &ExperimentId) -> Result<Experiment> {
        let reply = self.call(wire::GetExperiment(experiment_ref(id)))?;
        Ok(reply.experiment.into())
    }

    fn get_experiment_by_name(&self, name: &str) -> Result<Option<Experiment>> {
        match self.call(wire::GetExperimentByName(wire::ExperimentName {
            experiment_name: name.to_string(),
        })) {
            Ok(reply) => Ok(Some(reply.experiment.into())),
            Err(StoreError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn search_experiments(&self, q: &ExperimentQuery) -> Result<Page<Experiment>> {
        let shared = search(
            &q.filter,
            &q.order_by,
            q.max_results,
            q.page_token.as_deref(),
        );
        let reply = self.call(wire::SearchExperiments(wire::Search {
            view_type: Some(q.view_type),
            ..shared
        }))?;
        Ok(page(reply.experiments, reply.next_page_token))
    }

    fn rename_experiment(&self, id: &ExperimentId, new_name: &str) -> Result<()> {
        self.call(wire::UpdateExperiment(wire::ExperimentRename {
            experiment_id: id.clone(),
            new_name: new_name.to_string(),
        }))
        .map(drop)
    }

    fn delete_experiment(&self, id: &ExperimentId) -> Result<()> {
        self.call(wire::DeleteExperiment(experiment_ref(id)))
            .map(drop)
    }

    fn restore_experiment(&self, id: &ExperimentId) -> Result<()> {
        self.call(wire::RestoreExperiment(experiment_ref(id)))
            .map(drop)
    }

    fn set_experiment_tag(&self, id: &ExperimentId, tag: &Tag) -> Result<()> {
        self.call(wire::SetExperimentTag(wire::ExperimentTag {
            experiment_id: id.clone(),
            key: tag.key.clone(),
            value: tag.value.clone(),
        }))
        .map(drop)
    }

    fn delete_experiment_tag(&self, id: &ExperimentId, key: &str) -> Result<()> {
        self.call(wire::DeleteExperimentTag(wire::ExperimentTagKey {
            experiment_id: id.clone(),
            key: key.to_string(),
        }))
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
        self.metric_history(
            run_id,
            key,
            Some(i64::try_from(max_results).unwrap_or(i64::MAX)),
            page_token,
        )
    }

    fn create_run(&self, experiment_id: &ExperimentId, start: RunStart) -> Result<Run> {
        let reply = self.call(wire::CreateRun(wire::NewRun {
            experiment_id: Some(experiment_id.clone()),
            user_id: start.user_id,
            run_name: start.run_name,
            start_time: Some(start.start_time.unwrap_or_else(now_ms)),
            tags: wire::all(&start.tags),
        }))?;
        Ok(reply.run.into())
    }

    fn get_run(&self, run_id: &str) -> Result<Run> {
        let reply = self.call(wire::GetRun(run_ref(run_id)))?;
        Ok(reply.run.into())
    }

    fn update_run(&self, run_id: &str, update: RunUpdate) -> Result<RunInfo> {
        let reply = self.call(wire::UpdateRun(wire::RunChange {
            run_id: run_id.to_string(),
            status: update.status,
            end_time: update.end_time,
            run_name: update.run_name,
        }))?;
        Ok(reply.run_info.into())
    }

    fn delete_run(&self, run_id: &str) -> Result<()> {
        self.call(wire::DeleteRun(run_ref(run_id))).map(drop)
    }

    fn restore_run(&self, run_id: &str) -> Result<()> {
        self.call(wire::RestoreRun(run_ref(run_id))).map(drop)
    }

    fn log_batch(
        &self,
        run_id: &str,
        metrics: &[Metric],
        params: &[Param],
        tags: &[Tag],
    ) -> Result<()> {
        validate_batch(run_id, metrics, params, tags)?;
        self.call(wire::LogBatch(wire::RunBatch {
            run_id: run_id.to_string(),
            metrics: wire::all(metrics),
            params: wire::all(params),
            tags: wire::all(tags),
        }))
        .map(drop)
    }

    fn delete_tag(&self, run_id: &str, key: &str) -> Result<()> {
        self.call(wire::DeleteTag(wire::RunKey {
            run_id: run_id.to_string(),
            key: key.to_string(),
        }))
        .map(drop)
    }

    fn get_metric_history(&self, run_id: &str, key: &str) -> Result<Vec<Metric>> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self.metric_history(run_id, key, None, token.as_deref())?;
            out.extend(page.items);
            match page.next_page_token {
                Some(t) => token = Some(t),
                None => return Ok(out),
            }
        }
    }

    fn search_runs(&self, q: &RunQuery) -> Result<Page<Run>> {
        if q.experiment_ids.is_empty() {
            return Ok(Page::last(Vec::new()));
        }
        let shared = search(
            &q.filter,
            &q.order_by,
            q.max_results,
            q.page_token.as_deref(),
        );
        let reply = self.call(wire::SearchRuns(wire::Search {
            experiment_ids: q.experiment_ids.iter().map(|e| e.0.clone()).collect(),
            run_view_type: Some(q.view_type),
            ..shared
        }))?;
        Ok(page(reply.runs, reply.next_page_token))
    }

    fn log_inputs(&self, run_id: &str, inputs: &[DatasetInput]) -> Result<()> {
        validate_dataset_inputs(inputs)?;
        self.call(wire::LogInputs(wire::RunDatasets {
            run_id: run_id.to_string(),
            datasets: wire::all(inputs),
        }))
        .map(drop)
    }

    fn log_outputs(&self, run_id: &str, outputs: &[ModelOutput]) -> Result<()> {
        self.call(wire::LogOutputs(wire::RunModels {
            run_id: run_id.to_string(),
            models: wire::all(outputs),
        }))
        .map(drop)
    }

    fn create_logged_model(
        &self,
        experiment_id: &ExperimentId,
        model: &NewLoggedModel,
    ) -> Result<LoggedModel> {
        validate_new_logged_model(model)?;
        let reply = self.call(wire::CreateLoggedModel(wire::NewLoggedModel {
            experiment_id: experiment_id.clone(),
            name: model.name.clone(),
            model_type: model.model_type.clone(),
            source_run_id: model.source_run_id.clone(),
            params: wire::all(&model.params),
            tags: wire::all(&model.tags),
        }))?;
        Ok(reply.model.into())
    }

    fn get_logged_model(&self, model_id: &str, allow_deleted: bool) -> Result<LoggedModel> {
        let reply = self.call(wire::GetLoggedModel(wire::LoggedModelRef {
            model_id: model_id.to_string(),
            allow_deleted,
        }))?;
        Ok(reply.model.into())
    }

    fn finalize_logged_model(
        &self,
        model_id: &str,
        status: LoggedModelStatus,
    ) -> Result<LoggedModel> {
        let reply = self.call(wire::FinalizeLoggedModel(wire::LoggedModelFinal {
            model_id: model_id.to_string(),
            status,
        }))?;
        Ok(reply.model.into())
    }

    fn delete_logged_model(&self, model_id: &str) -> Result<()> {
        self.call(wire::DeleteLoggedModel(wire::LoggedModelRef {
            model_id: model_id.to_string(),
            allow_deleted: false,
        }))
        .map(drop)
    }

    fn set_logged_model_tags(&self, model_id: &str, tags: &[Tag]) -> Result<()> {
        self.call(wire::SetLoggedModelTags(wire::LoggedModelKeyValues {
            model_id: model_id.to_string(),
            tags: wire::all(tags),
            params: Vec::new(),
        }))
        .map(drop)
    }

    fn delete_logged_model_tag(&self, model_id: &str, key: &str) -> Result<()> {
        self.call(wire::DeleteLoggedModelTag(wire::LoggedModelTagKey {
            model_id: model_id.to_string(),
            tag_key: key.to_string(),
        }))
        .map(drop)
    }

    fn log_logged_model_params(&self, model_id: &str, params: &[Param]) -> Result<()> {
        self.call(wire::LogLoggedModelParams(wire::LoggedModelKeyValues {
            model_id: model_id.to_string(),
            tags: Vec::new(),
            params: wire::all(params),
        }))
        .map(drop)
    }

    fn create_registered_model(
        &self,
        name: &str,
        description: Option<&str>,
        tags: &[Tag],
    ) -> Result<RegisteredModel> {
        validate_registered_model_name(name)?;
        let reply = self.call(wire::CreateRegisteredModel(wire::NewRegisteredModel {
            name: name.to_string(),
            tags: wire::all(tags),
            description: description.map(str::to_string),
        }))?;
        reply.registered_model.try_into()
    }

    fn get_registered_model(&self, name: &str) -> Result<RegisteredModel> {
        let reply = self.call(wire::GetRegisteredModel(wire::RegisteredModelRef {
            name: name.to_string(),
        }))?;
        reply.registered_model.try_into()
    }

    fn rename_registered_model(&self, name: &str, new_name: &str) -> Result<RegisteredModel> {
        validate_registered_model_name(new_name)?;
        let reply = self.call(wire::RenameRegisteredModel(wire::RegisteredModelRename {
            name: name.to_string(),
            new_name: new_name.to_string(),
        }))?;
        reply.registered_model.try_into()
    }

    fn update_registered_model(&self, name: &str, description: &str) -> Result<RegisteredModel> {
        let reply = self.call(wire::UpdateRegisteredModel(
            wire::RegisteredModelDescription {
                name: name.to_string(),
                description: description.to_string(),
            },
        ))?;
        reply.registered_model.try_into()
    }

    fn delete_registered_model(&self, name: &str) -> Result<()> {
        self.call(wire::DeleteRegisteredModel(wire::RegisteredModelRef {
            name: name.to_string(),
        }))
        .map(drop)
    }

    fn search_registered_models(&self, q: &RegistryQuery) -> Result<Page<RegisteredModel>> {
        let reply = self.call(wire::SearchRegisteredModels(wire::RegisteredModelSearch {
            filter: Some(q.filter.clone()).filter(|f| !f.is_empty()),
            max_results: i64::try_from(q.max_results).ok(),
            order_by: q.order_by.clone(),
            page_token: q.page_token.clone(),
        }))?;
        checked_page(reply.registered_models, reply.next_page_token)
    }

    fn set_registered_model_tag(&self, name: &str, tag: &Tag) -> Result<()> {
        validate_key("tag", &tag.key)?;
        self.call(wire::SetRegisteredModelTag(wire::RegisteredModelTag {
            name: name.to_string(),
            key: tag.key.clone(),
            value: tag.value.clone(),
        }))
        .map(drop)
    }

    fn delete_registered_model_tag(&self, name: &str, key: &str) -> Result<()> {
        self.call(wire::DeleteRegisteredModelTag(
            wire::RegisteredModelTagKey {
                name: name.to_string(),
                key: key.to_string(),
            },
        ))
        .map(drop)
    }

    fn create_model_version(&self, name: &str, new: &NewModelVersion) -> Result<ModelVersion> {
        let reply = self.call(wire::CreateModelVersion(wire::NewModelVersion {
            name: name.to_string(),
            source: new.source.clone(),
            run_id: new.run_id.clone(),
            model_id: new.model_id.clone(),
            description: new.description.clone(),
            tags: wire::all(&new.tags),
        }))?;
        reply.model_version.try_into()
    }

    fn get_model_version(&self, name: &str, version: i64) -> Result<ModelVersion> {
        let reply = self.call(wire::GetModelVersion(version_ref(name, version)))?;
        reply.model_version.try_into()
    }

    fn update_model_version(
        &self,
        name: &str,
        version: i64,
        description: &str,
    ) -> Result<ModelVersion> {
        let reply = self.call(wire::UpdateModelVersion(wire::ModelVersionDescription {
            name: name.to_string(),
            version: version.to_string(),
            description: description.to_string(),
        }))?;
        reply.model_version.try_into()
    }

    fn delete_model_version(&self, name: &str, version: i64) -> Result<()> {
        self.call(wire::DeleteModelVersion(version_ref(name, version)))
            .map(drop)
    }

    fn search_model_versions(&self, q: &RegistryQuery) -> Result<Page<ModelVersion>> {
        let reply = self.call(wire::SearchModelVersions(wire::RegisteredModelSearch {
            filter: Some(q.filter.clone()).filter(|f| !f.is_empty()),
            max_results: i64::try_from(q.max_results).ok(),
            order_by: q.order_by.clone(),
            page_token: q.page_token.clone(),
        }))?;
        checked_page(reply.model_versions, reply.next_page_token)
    }

    fn set_model_version_tag(&self, name: &str, version: i64, tag: &Tag) -> Result<()> {
        validate_key("tag", &tag.key)?;
        self.call(wire::SetModelVersionTag(wire::ModelVersionTag {
            name: name.to_string(),
            version: version.to_string(),
            key: tag.key.clone(),
            value: tag.value.clone(),
        }))
        .map(drop)
    }

    fn delete_model_version_tag(&self, name: &str, version: i64, key: &str) -> Result<()> {
        self.call(wire::DeleteModelVersionTag(wire::ModelVersionTagKey {
            name: name.to_string(),
            version: version.to_string(),
            key: key.to_string(),
        }))
        .map(drop)
    }

    fn get_model_version_download_uri(&self, name: &str, version: i64) -> Result<String> {
        let reply = self.call(wire::GetModelVersionDownloadUri(version_ref(name, version)))?;
        Ok(reply.artifact_uri)
    }

    fn set_registered_model_alias(&self, name: &str, alias: &str, version: i64) -> Result<()> {
        validate_alias(alias)?;
        self.call(wire::SetRegisteredModelAlias(wire::AliasVersion {
            name: name.to_string(),
            alias: alias.to_string(),
            version: version.to_string(),
        }))
        .map(drop)
    }

    fn delete_registered_model_alias(&self, name: &str, alias: &str) -> Result<()> {
        self.call(wire::DeleteRegisteredModelAlias(alias_ref(name, alias)))
            .map(drop)
    }

    fn get_model_version_by_alias(&self, name: &str, alias: &str) -> Result<ModelVersion> {
        let reply = self.call(wire::GetModelVersionByAlias(alias_ref(name, alias)))?;
        reply.model_version.try_into()
    }

    fn search_logged_models(&self, q: &LoggedModelQuery) -> Result<Page<LoggedModel>> {
        if q.experiment_ids.is_empty() {
            return Ok(Page::last(Vec::new()));
        }
        let reply = self.call(wire::SearchLoggedModels(wire::LoggedModelSearch {
            experiment_ids: q.experiment_ids.iter().map(|e| e.0.clone()).collect(),
            filter: Some(q.filter.clone()).filter(|f| !f.is_empty()),
            max_results: i64::try_from(q.max_results).ok(),
            order_by: q
                .order_by
                .iter()
                .map(|o| wire::LoggedModelOrder {
                    field_name: o.field_name.clone(),
                    ascending: o.ascending,
                    dataset_name: o.dataset_name.clone(),
                    dataset_digest: o.dataset_digest.clone(),
                })
                .collect(),
            page_token: q.page_token.clone(),
        }))?;
        Ok(page(reply.models, reply.next_page_token))
    }

    fn log_metric(&self, run_id: &str, m: &Metric) -> Result<()> {
        validate_batch(run_id, std::slice::from_ref(m), &[], &[])?;
        self.call(wire::LogMetric(wire::RunMetric {
            run_id: run_id.to_string(),
            key: m.key.clone(),
            value: m.value,
            timestamp: m.timestamp,
            step: m.step,
            link: wire::ModelLink::default(),
        }))
        .map(drop)
    }

    fn log_model_metrics(&self, metrics: &[LoggedModelMetric]) -> Result<()> {
        validate_model_metrics(metrics)?;
        let mut runs: Vec<&str> = Vec::new();
        for m in metrics {
            if !runs.contains(&m.run_id.as_str()) {
                runs.push(&m.run_id);
            }
        }
        for run_id in runs {
            let points = metrics
                .iter()
                .filter(|m| m.run_id == run_id)
                .map(|m| wire::Metric {
                    run_id: None,
                    ..wire::Metric::from(m)
                })
                .collect();
            self.call(wire::LogBatch(wire::RunBatch {
                run_id: run_id.to_string(),
                metrics: points,
                params: Vec::new(),
                tags: Vec::new(),
            }))?;
        }
        Ok(())
    }

    fn transition_model_version_stage(
        &self,
        name: &str,
        version: i64,
        stage: ModelStage,
        archive_existing: bool,
    ) -> Result<ModelVersion> {
        validate_transition(stage, archive_existing)?;
        let reply = self.call(wire::TransitionModelVersionStage(wire::StageTransition {
            name: name.to_string(),
            version: version.to_string(),
            stage: stage.as_str().to_string(),
            archive_existing_versions: archive_existing,
        }))?;
        reply.model_version.try_into()
    }

    fn get_latest_versions(&self, name: &str, stages: &[ModelStage]) -> Result<Vec<ModelVersion>> {
        let reply = self.call(wire::GetLatestVersions(wire::LatestVersions {
            name: name.to_string(),
            stages: stages.iter().map(|s| s.as_str().to_string()).collect(),
        }))?;
        reply
            .model_versions
            .into_iter()
            .map(ModelVersion::try_from)
            .collect()
    }

    fn log_param(&self, run_id: &str, p: &Param) -> Result<()> {
        validate_batch(run_id, &[], std::slice::from_ref(p), &[])?;
        self.call(wire::LogParam(key_value(run_id, &p.key, &p.value)))
            .map(drop)
    }

    fn set_tag(&self, run_id: &str, t: &Tag) -> Result<()> {
        validate_batch(run_id, &[], &[], std::slice::from_ref(t))?;
        self.call(wire::SetTag(key_value(run_id, &t.key, &t.value)))
            .map(drop)
    }

    fn artifact_repo(&self, artifact_uri: &str) -> Result<Box<dyn ArtifactRepo>> {
        match ArtifactLocation::parse(artifact_uri)? {
            ArtifactLocation::Proxy { authority, path } => Ok(Box::new(ProxyArtifactRepo {
                server: self.at_authority(authority.as_deref()),
                root: path,
            })),
            // A location the client shares with the server (a directory, or object
            // storage), written directly as MLflow's clients do.
            direct => open_location(artifact_uri, direct),
        }
    }
}

fn experiment_ref(id: &ExperimentId) -> wire::ExperimentRef {
    wire::ExperimentRef {
        experiment_id: id.clone(),
    }
}

fn run_ref(run_id: &str) -> wire::RunRef {
    wire::RunRef {
        run_id: run_id.to_string(),
    }
}

fn key_value(run_id: &str, key: &str, value: &str) -> wire::RunKeyValue {
    wire::RunKeyValue {
        run_id: run_id.to_string(),
        key: key.to_string(),
        value: value.to_string(),
    }
}

impl RestStore {
    /// One page of a metric's history (all of it when `max_results` is `None`).
    fn metric_history(
        &self,
        run_id: &str,
        key: &str,
        max_results: Option<i64>,
        page_token: Option<&str>,
    ) -> Result<Page<Metric>> {
        let reply = self.call(wire::GetMetricHistory(wire::MetricHistory {
            run_id: run_id.to_string(),
            metric_key: key.to_string(),
            max_results,
            page_token: page_token.filter(|t| !t.is_empty()).map(str::to_string),
        }))?;
        Ok(page(reply.metrics, reply.next_page_token))
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
    fn origins() {
        let o = |u: &str| origin(u);
        assert_eq!(o("http://h:80"), o("http://H"));
        assert_ne!(o("http://h:5000"), o("http://h:5001"));
        assert_ne!(o("http://h:443"), o("https://h"));
        assert_eq!(o("ftp://h"), None);
        assert_eq!(o("http://"), None);
        let store = RestStore::with_auth("http://h:5000", RestAuth::Bearer("t".into())).unwrap();
        assert!(store.at_authority(Some("h:5000")).auth.is_some());
        assert!(store.at_authority(Some("other:5000")).auth.is_none());
        assert!(store.at_authority(Some("h:5001")).auth.is_none());
        assert!(store.at_authority(None).auth.is_some());
    }

    #[test]
    fn artifact_paths_are_percent_encoded() {
        let repo = ProxyArtifactRepo {
            server: RestStore::with_auth("http://h", RestAuth::None).unwrap(),
            root: "1/r".into(),
        };
        assert_eq!(
            repo.file_url("a b/c%").unwrap(),
            "/api/2.0/mlflow-artifacts/artifacts/1/r/a%20b/c%25"
        );
    }
}
