//! The tracking REST API 2.0 operations. Each one is a plain synchronous function
//! `(state, fields) -> JSON`, run by [`super::api_routes`] on the blocking pool: parse the
//! fields, call the [`crate::tracking::Store`], render MLflow's JSON.

use super::AppState;
use super::error::{ApiError, ApiResult};
use super::fields::Fields;
use crate::tracking::*;
use serde_json::{Map, Value, json};

/// What an operation answers: a JSON value, or a body already serialized (large answers
/// such as run searches are written straight from the model, without a `Value` tree).
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// A JSON value.
    Value(Value),
    /// Serialized JSON bytes.
    Raw(Vec<u8>),
}

impl From<Value> for Reply {
    fn from(v: Value) -> Self {
        Reply::Value(v)
    }
}

impl Reply {
    /// The JSON bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        match self {
            Reply::Value(v) => serde_json::to_vec(&v).unwrap_or_else(|_| b"{}".to_vec()),
            Reply::Raw(b) => b,
        }
    }
}

/// One API operation.
pub type Op = fn(&AppState, Fields) -> ApiResult<Reply>;

// ---------------------------------------------------------------------------------------
// Direct serialization of runs (the hot path of searches).

struct F64(f64);

impl serde::Serialize for F64 {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let v = self.0;
        if v.is_nan() {
            s.serialize_str("NaN")
        } else if v == f64::INFINITY {
            s.serialize_str("Infinity")
        } else if v == f64::NEG_INFINITY {
            s.serialize_str("-Infinity")
        } else {
            s.serialize_f64(v)
        }
    }
}

#[derive(serde::Serialize)]
struct MetricOut<'a> {
    key: &'a str,
    value: F64,
    timestamp: i64,
    step: i64,
}

#[derive(serde::Serialize)]
struct KvOut<'a> {
    key: &'a str,
    value: &'a str,
}

#[derive(serde::Serialize)]
struct InfoOut<'a> {
    run_id: &'a str,
    run_uuid: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    run_name: &'a str,
    experiment_id: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    user_id: &'a str,
    status: &'static str,
    start_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    end_time: Option<i64>,
    artifact_uri: String,
    lifecycle_stage: &'static str,
}

#[derive(serde::Serialize)]
struct DataOut<'a> {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    metrics: Vec<MetricOut<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    params: Vec<KvOut<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tags: Vec<KvOut<'a>>,
}

#[derive(serde::Serialize)]
struct Empty {}

#[derive(serde::Serialize)]
struct RunOut<'a> {
    info: InfoOut<'a>,
    data: DataOut<'a>,
    inputs: Empty,
    outputs: Empty,
}

fn info_out<'a>(st: &AppState, i: &'a RunInfo) -> InfoOut<'a> {
    InfoOut {
        run_id: &i.run_id,
        run_uuid: &i.run_id,
        run_name: &i.run_name,
        experiment_id: i.experiment_id.as_str(),
        user_id: &i.user_id,
        status: i.status.as_str(),
        start_time: i.start_time,
        end_time: i.end_time,
        artifact_uri: st.public_artifact_uri(&i.artifact_uri),
        lifecycle_stage: i.lifecycle_stage.as_str(),
    }
}

fn run_out<'a>(st: &AppState, r: &'a Run) -> RunOut<'a> {
    RunOut {
        info: info_out(st, &r.info),
        data: DataOut {
            metrics: r
                .data
                .metrics
                .iter()
                .map(|m| MetricOut {
                    key: &m.key,
                    value: F64(m.value),
                    timestamp: m.timestamp,
                    step: m.step,
                })
                .collect(),
            params: r
                .data
                .params
                .iter()
                .map(|p| KvOut {
                    key: &p.key,
                    value: &p.value,
                })
                .collect(),
            tags: r
                .data
                .tags
                .iter()
                .map(|t| KvOut {
                    key: &t.key,
                    value: &t.value,
                })
                .collect(),
        },
        inputs: Empty {},
        outputs: Empty {},
    }
}

#[derive(serde::Serialize)]
struct RunsPageOut<'a> {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    runs: Vec<RunOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_page_token: Option<&'a str>,
}

fn raw(v: &impl serde::Serialize) -> ApiResult<Reply> {
    serde_json::to_vec(v)
        .map(Reply::Raw)
        .map_err(|e| ApiError::internal(format!("serializing the answer: {e}")))
}

// ---------------------------------------------------------------------------------------
// Rendering (MLflow's `message_to_json`: snake_case, int64 as numbers, empty fields omitted).

/// A double as protobuf JSON writes it: a number, or `"NaN"`, `"Infinity"`, `"-Infinity"`.
pub fn f64_json(v: f64) -> Value {
    if v.is_nan() {
        Value::String("NaN".into())
    } else if v == f64::INFINITY {
        Value::String("Infinity".into())
    } else if v == f64::NEG_INFINITY {
        Value::String("-Infinity".into())
    } else {
        json!(v)
    }
}

fn kv_list<'a>(items: impl Iterator<Item = (&'a str, &'a str)>) -> Vec<Value> {
    items.map(|(k, v)| json!({"key": k, "value": v})).collect()
}

fn put_list(obj: &mut Map<String, Value>, key: &str, list: Vec<Value>) {
    if !list.is_empty() {
        obj.insert(key.into(), Value::Array(list));
    }
}

/// A metric point.
pub fn metric_json(m: &Metric) -> Value {
    json!({"key": m.key, "value": f64_json(m.value), "timestamp": m.timestamp, "step": m.step})
}

/// An experiment.
pub fn experiment_json(st: &AppState, e: &Experiment) -> Value {
    let mut o = Map::new();
    o.insert("experiment_id".into(), json!(e.experiment_id.as_str()));
    o.insert("name".into(), json!(e.name));
    o.insert(
        "artifact_location".into(),
        json!(st.public_artifact_uri(&e.artifact_location)),
    );
    o.insert("lifecycle_stage".into(), json!(e.lifecycle_stage.as_str()));
    o.insert("last_update_time".into(), json!(e.last_update_time));
    o.insert("creation_time".into(), json!(e.creation_time));
    put_list(
        &mut o,
        "tags",
        kv_list(e.tags.iter().map(|t| (t.key.as_str(), t.value.as_str()))),
    );
    Value::Object(o)
}

/// A run's info.
pub fn run_info_json(st: &AppState, i: &RunInfo) -> Value {
    let mut o = Map::new();
    o.insert("run_id".into(), json!(i.run_id));
    o.insert("run_uuid".into(), json!(i.run_id));
    if !i.run_name.is_empty() {
        o.insert("run_name".into(), json!(i.run_name));
    }
    o.insert("experiment_id".into(), json!(i.experiment_id.as_str()));
    if !i.user_id.is_empty() {
        o.insert("user_id".into(), json!(i.user_id));
    }
    o.insert("status".into(), json!(i.status.as_str()));
    o.insert("start_time".into(), json!(i.start_time));
    if let Some(t) = i.end_time {
        o.insert("end_time".into(), json!(t));
    }
    o.insert(
        "artifact_uri".into(),
        json!(st.public_artifact_uri(&i.artifact_uri)),
    );
    o.insert("lifecycle_stage".into(), json!(i.lifecycle_stage.as_str()));
    Value::Object(o)
}

/// A run: info, data (latest metrics, params, tags), empty inputs and outputs.
pub fn run_json(st: &AppState, r: &Run) -> Value {
    serde_json::to_value(run_out(st, r)).unwrap_or_default()
}

fn empty() -> ApiResult<Reply> {
    Ok(json!({}).into())
}

fn tags_of(f: &Fields, field: &str) -> ApiResult<Vec<Tag>> {
    f.obj_list(field)?
        .iter()
        .map(|t| Ok(Tag::new(t.req_str("key")?, t.str_or_empty("value")?)))
        .collect()
}

fn exp_id(f: &Fields) -> ApiResult<ExperimentId> {
    Ok(ExperimentId(f.req_str("experiment_id")?))
}

fn run_id(f: &Fields) -> ApiResult<String> {
    match f.opt_str("run_id")?.filter(|s| !s.is_empty()) {
        Some(id) => Ok(id),
        None => match f.opt_str("run_uuid")?.filter(|s| !s.is_empty()) {
            Some(id) => Ok(id),
            None => Err(ApiError::missing("run_id")),
        },
    }
}

fn metric_of(f: &Fields) -> ApiResult<Metric> {
    Ok(Metric {
        key: f.req_str("key")?,
        value: f.req_f64("value")?,
        timestamp: f.req_i64("timestamp")?,
        step: f.opt_i64("step")?.unwrap_or(0),
    })
}

fn page_json<T>(key: &str, page: Page<T>, mut render: impl FnMut(&T) -> Value) -> ApiResult<Reply> {
    let mut o = Map::new();
    put_list(&mut o, key, page.items.iter().map(&mut render).collect());
    if let Some(t) = page.next_page_token {
        o.insert("next_page_token".into(), json!(t));
    }
    Ok(Value::Object(o).into())
}

// ---------------------------------------------------------------------------------------
// Experiments.

/// `POST experiments/create`.
pub fn create_experiment(st: &AppState, f: Fields) -> ApiResult<Reply> {
    let name = f.req_str("name")?;
    let location = f.opt_str("artifact_location")?.filter(|s| !s.is_empty());
    let tags = tags_of(&f, "tags")?;
    let id = st
        .store
        .create_experiment(&name, location.as_deref(), &tags)?;
    Ok(json!({"experiment_id": id.as_str()}).into())
}

/// `GET experiments/get`.
pub fn get_experiment(st: &AppState, f: Fields) -> ApiResult<Reply> {
    let e = st.store.get_experiment(&exp_id(&f)?)?;
    Ok(json!({"experiment": experiment_json(st, &e)}).into())
}

/// `GET experiments/get-by-name`.
pub fn get_experiment_by_name(st: &AppState, f: Fields) -> ApiResult<Reply> {
    let name = f.req_str("experiment_name")?;
    match st.store.get_experiment_by_name(&name)? {
        Some(e) => Ok(json!({"experiment": experiment_json(st, &e)}).into()),
        None => Err(ApiError::not_found(format!(
            "Could not find experiment with name '{name}'"
        ))),
    }
}

/// `POST|GET experiments/search`.
pub fn search_experiments(st: &AppState, f: Fields) -> ApiResult<Reply> {
    let max_results = match f.opt_i64("max_results")? {
        None => DEFAULT_MAX_RESULTS,
        Some(n) if n >= 1 => usize::try_from(n).unwrap_or(usize::MAX),
        Some(n) => {
            return Err(ApiError::invalid(format!(
                "Invalid value {n} for parameter 'max_results' supplied: it must be at least 1"
            )));
        }
    };
    let q = ExperimentQuery {
        filter: f.str_or_empty("filter")?,
        view_type: f.view_type("view_type")?,
        max_results,
        order_by: f.str_list("order_by")?,
        page_token: f.opt_str("page_token")?.filter(|s| !s.is_empty()),
    };
    let page = st.store.search_experiments(&q)?;
    page_json("experiments", page, |e| experiment_json(st, e))
}

/// `POST experiments/update` (rename).
pub fn update_experiment(st: &AppState, f: Fields) -> ApiResult<Reply> {
    let id = exp_id(&f)?;
    let name = f.req_str("new_name")?;
    st.store.rename_experiment(&id, &name)?;
    empty()
}

/// `POST experiments/delete`.
pub fn delete_experiment(st: &AppState, f: Fields) -> ApiResult<Reply> {
    st.store.delete_experiment(&exp_id(&f)?)?;
    empty()
}

/// `POST experiments/restore`.
pub fn restore_experiment(st: &AppState, f: Fields) -> ApiResult<Reply> {
    st.store.restore_experiment(&exp_id(&f)?)?;
    empty()
}

/// `POST experiments/set-experiment-tag`.
pub fn set_experiment_tag(st: &AppState, f: Fields) -> ApiResult<Reply> {
    let id = exp_id(&f)?;
    let tag = Tag::new(f.req_str("key")?, f.str_or_empty("value")?);
    st.store.set_experiment_tag(&id, &tag)?;
    empty()
}

/// `POST experiments/delete-experiment-tag`.
pub fn delete_experiment_tag(st: &AppState, f: Fields) -> ApiResult<Reply> {
    let id = exp_id(&f)?;
    st.store.delete_experiment_tag(&id, &f.req_str("key")?)?;
    empty()
}

// ---------------------------------------------------------------------------------------
// Runs.

/// `POST runs/create`.
pub fn create_run(st: &AppState, f: Fields) -> ApiResult<Reply> {
    let exp = match f.opt_str("experiment_id")?.filter(|s| !s.is_empty()) {
        Some(id) => ExperimentId(id),
        None => ExperimentId::default_experiment(),
    };
    let start = RunStart {
        run_name: f.opt_str("run_name")?.filter(|s| !s.is_empty()),
        user_id: f.opt_str("user_id")?,
        start_time: f.opt_i64("start_time")?,
        tags: tags_of(&f, "tags")?,
    };
    let run = st.store.create_run(&exp, start)?;
    Ok(json!({"run": run_json(st, &run)}).into())
}

/// `GET runs/get` (`run_id` or the legacy `run_uuid`).
pub fn get_run(st: &AppState, f: Fields) -> ApiResult<Reply> {
    let run = st.store.get_run(&run_id(&f)?)?;
    raw(&serde_json::json!({"run": run_out(st, &run)}))
}

/// `POST runs/update`.
pub fn update_run(st: &AppState, f: Fields) -> ApiResult<Reply> {
    let id = run_id(&f)?;
    let status = match f.opt_str("status")?.filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(match RunStatus::parse(&s) {
            Some(st) => st,
            None => match s.parse::<usize>() {
                Ok(n @ 1..=5) => RunStatus::ALL[n - 1],
                _ => {
                    return Err(ApiError::invalid(format!(
                        "Invalid value \"{s}\" for parameter 'status' supplied: Hint: one of \
                         RUNNING, SCHEDULED, FINISHED, FAILED, KILLED is expected."
                    )));
                }
            },
        }),
    };
    let update = RunUpdate {
        status,
        end_time: f.opt_i64("end_time")?,
        run_name: f.opt_str("run_name")?.filter(|s| !s.is_empty()),
    };
    let info = st.store.update_run(&id, update)?;
    Ok(json!({"run_info": run_info_json(st, &info)}).into())
}

/// `POST runs/delete`.
pub fn delete_run(st: &AppState, f: Fields) -> ApiResult<Reply> {
    st.store.delete_run(&run_id(&f)?)?;
    empty()
}

/// `POST runs/restore`.
pub fn restore_run(st: &AppState, f: Fields) -> ApiResult<Reply> {
    st.store.restore_run(&run_id(&f)?)?;
    empty()
}

/// `POST runs/log-metric`.
pub fn log_metric(st: &AppState, f: Fields) -> ApiResult<Reply> {
    let id = run_id(&f)?;
    st.store.log_metric(&id, &metric_of(&f)?)?;
    empty()
}

/// `POST runs/log-parameter`.
pub fn log_param(st: &AppState, f: Fields) -> ApiResult<Reply> {
    let id = run_id(&f)?;
    let p = Param::new(f.req_str("key")?, f.str_or_empty("value")?);
    st.store.log_param(&id, &p)?;
    empty()
}

/// `POST runs/set-tag`.
pub fn set_tag(st: &AppState, f: Fields) -> ApiResult<Reply> {
    let id = run_id(&f)?;
    let t = Tag::new(f.req_str("key")?, f.str_or_empty("value")?);
    st.store.set_tag(&id, &t)?;
    empty()
}

/// `POST runs/delete-tag`.
pub fn delete_tag(st: &AppState, f: Fields) -> ApiResult<Reply> {
    let id = run_id(&f)?;
    st.store.delete_tag(&id, &f.req_str("key")?)?;
    empty()
}

/// `POST runs/log-batch`.
pub fn log_batch(st: &AppState, f: Fields) -> ApiResult<Reply> {
    let id = run_id(&f)?;
    let metrics = f
        .obj_list("metrics")?
        .iter()
        .map(metric_of)
        .collect::<ApiResult<Vec<_>>>()?;
    let params = f
        .obj_list("params")?
        .iter()
        .map(|p| Ok(Param::new(p.req_str("key")?, p.str_or_empty("value")?)))
        .collect::<ApiResult<Vec<_>>>()?;
    let tags = tags_of(&f, "tags")?;
    st.store.log_batch(&id, &metrics, &params, &tags)?;
    empty()
}

/// `POST runs/search`.
pub fn search_runs(st: &AppState, f: Fields) -> ApiResult<Reply> {
    let max_results = match f.opt_i64("max_results")? {
        None => DEFAULT_MAX_RESULTS,
        Some(n) if (1..=MAX_RESULTS_LIMIT as i64).contains(&n) => n as usize,
        Some(n) => {
            return Err(ApiError::invalid(format!(
                "Invalid value {n} for parameter 'max_results' supplied: it must be at least 1 \
                 and at most {MAX_RESULTS_LIMIT}"
            )));
        }
    };
    let q = RunQuery {
        experiment_ids: f
            .str_list("experiment_ids")?
            .into_iter()
            .map(ExperimentId)
            .collect(),
        filter: f.str_or_empty("filter")?,
        view_type: f.view_type("run_view_type")?,
        max_results,
        order_by: f.str_list("order_by")?,
        page_token: f.opt_str("page_token")?.filter(|s| !s.is_empty()),
    };
    if q.experiment_ids.is_empty() {
        return empty();
    }
    let page = st.store.search_runs(&q)?;
    raw(&RunsPageOut {
        runs: page.items.iter().map(|r| run_out(st, r)).collect(),
        next_page_token: page.next_page_token.as_deref(),
    })
}

/// `GET metrics/get-history` (paged when `max_results` is given).
pub fn get_metric_history(st: &AppState, f: Fields) -> ApiResult<Reply> {
    let id = run_id(&f)?;
    let key = f.req_str("metric_key")?;
    let token = f.opt_str("page_token")?.filter(|s| !s.is_empty());
    let page = match f.opt_i64("max_results")? {
        None if token.is_none() => Page::last(st.store.get_metric_history(&id, &key)?),
        None => st
            .store
            .get_metric_history_page(&id, &key, usize::MAX / 2, token.as_deref())?,
        Some(n) if n >= 1 => st.store.get_metric_history_page(
            &id,
            &key,
            usize::try_from(n).unwrap_or(usize::MAX / 2),
            token.as_deref(),
        )?,
        Some(n) => {
            return Err(ApiError::invalid(format!(
                "Invalid value {n} for parameter 'max_results' supplied: it must be at least 1"
            )));
        }
    };
    page_json("metrics", page, metric_json)
}

/// `GET artifacts/list`: files of a run's artifact directory, relative to the run root.
pub fn list_run_artifacts(st: &AppState, f: Fields) -> ApiResult<Reply> {
    let info = st.store.get_run_info(&run_id(&f)?)?;
    let path = f.str_or_empty("path")?;
    let mut o = Map::new();
    let public = st.public_artifact_uri(&info.artifact_uri);
    let local = st.local_artifact_dir(&info.artifact_uri)?;
    let files = LocalArtifactRepo::at(local).list(&path)?;
    o.insert("root_uri".into(), json!(public));
    put_list(
        &mut o,
        "files",
        files
            .iter()
            .map(|fi| {
                let mut e = Map::new();
                e.insert("path".into(), json!(fi.path));
                e.insert("is_dir".into(), json!(fi.is_dir));
                if let Some(n) = fi.file_size {
                    e.insert("file_size".into(), json!(n));
                }
                Value::Object(e)
            })
            .collect(),
    );
    Ok(Value::Object(o).into())
}

/// `POST logged-models/search`: hyperflow has no logged models; `{}` keeps the official
/// client's `list_artifacts(run_id, path)` working.
pub fn search_logged_models(_: &AppState, _: Fields) -> ApiResult<Reply> {
    empty()
}

/// `GET /api/3.0/mlflow/server-info`.
pub fn server_info(_: &AppState, _: Fields) -> ApiResult<Reply> {
    Ok(json!({
        "store_type": "SqlStore",
        "server": "hyperflow",
        "version": env!("CARGO_PKG_VERSION"),
        "multipart_uploads_enabled": false,
    })
    .into())
}

/// Every endpoint under `/api/2.0/mlflow` (and `/ajax-api/2.0/mlflow`): path, whether it
/// is read with GET (else POST), and the operation. `experiments/search` is served for both.
pub const ENDPOINTS: &[(&str, &str, Op)] = &[
    ("/experiments/create", "POST", create_experiment),
    ("/experiments/get", "GET", get_experiment),
    ("/experiments/get-by-name", "GET", get_experiment_by_name),
    ("/experiments/search", "GET,POST", search_experiments),
    ("/experiments/update", "POST", update_experiment),
    ("/experiments/delete", "POST", delete_experiment),
    ("/experiments/restore", "POST", restore_experiment),
    (
        "/experiments/set-experiment-tag",
        "POST",
        set_experiment_tag,
    ),
    ("/runs/create", "POST", create_run),
    ("/runs/get", "GET", get_run),
    ("/runs/update", "POST", update_run),
    ("/runs/delete", "POST", delete_run),
    ("/runs/restore", "POST", restore_run),
    ("/runs/log-metric", "POST", log_metric),
    ("/runs/log-parameter", "POST", log_param),
    ("/runs/set-tag", "POST", set_tag),
    ("/runs/delete-tag", "POST", delete_tag),
    ("/runs/log-batch", "POST", log_batch),
    ("/runs/search", "POST", search_runs),
    ("/metrics/get-history", "GET", get_metric_history),
    ("/artifacts/list", "GET", list_run_artifacts),
    ("/logged-models/search", "POST", search_logged_models),
];
