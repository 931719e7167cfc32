//! The tracking data model: experiments, runs, params, metrics, tags, queries and pages.
//!
//! The shapes follow MLflow's (see `mlflow-api.md` §3): a [`Run`] is a [`RunInfo`] plus
//! [`RunData`] holding the *latest* value of each metric, the params and the tags.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Experiment identifier: a decimal integer as a string (`"0"` is the `Default` experiment).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ExperimentId(pub String);

impl ExperimentId {
    /// The pre-created `Default` experiment, id `"0"`.
    pub fn default_experiment() -> Self {
        ExperimentId("0".to_string())
    }
    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ExperimentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for ExperimentId {
    fn from(s: &str) -> Self {
        ExperimentId(s.to_string())
    }
}

impl From<String> for ExperimentId {
    fn from(s: String) -> Self {
        ExperimentId(s)
    }
}

impl From<i64> for ExperimentId {
    fn from(n: i64) -> Self {
        ExperimentId(n.to_string())
    }
}

/// Whether an experiment or run is active or (soft-)deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LifecycleStage {
    /// Visible in default searches; writable.
    Active,
    /// Soft-deleted; readable, restorable, not writable.
    Deleted,
}

impl LifecycleStage {
    /// MLflow's name: `"active"` or `"deleted"`.
    pub fn as_str(self) -> &'static str {
        match self {
            LifecycleStage::Active => "active",
            LifecycleStage::Deleted => "deleted",
        }
    }
}

impl fmt::Display for LifecycleStage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which lifecycle stages a search returns (MLflow `ViewType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum ViewType {
    /// Active only (the default).
    #[default]
    ActiveOnly,
    /// Deleted only.
    DeletedOnly,
    /// Both.
    All,
}

impl ViewType {
    /// Parse MLflow's names (`ACTIVE_ONLY`, `DELETED_ONLY`, `ALL`, any case) or numbers
    /// (`1`, `2`, `3`).
    pub fn parse(s: &str) -> Option<ViewType> {
        match s.trim().to_ascii_uppercase().as_str() {
            "ACTIVE_ONLY" | "1" => Some(ViewType::ActiveOnly),
            "DELETED_ONLY" | "2" => Some(ViewType::DeletedOnly),
            "ALL" | "3" => Some(ViewType::All),
            _ => None,
        }
    }

    /// MLflow's name, e.g. `"ACTIVE_ONLY"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ViewType::ActiveOnly => "ACTIVE_ONLY",
            ViewType::DeletedOnly => "DELETED_ONLY",
            ViewType::All => "ALL",
        }
    }

    /// Does an entity in `stage` show up under this view?
    pub fn includes(self, stage: LifecycleStage) -> bool {
        matches!(
            (self, stage),
            (ViewType::All, _)
                | (ViewType::ActiveOnly, LifecycleStage::Active)
                | (ViewType::DeletedOnly, LifecycleStage::Deleted)
        )
    }
}

/// Run status, with MLflow's names and numbers (`RUNNING=1` … `KILLED=5`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum RunStatus {
    /// In progress.
    Running,
    /// Scheduled, not yet started.
    Scheduled,
    /// Ended successfully.
    Finished,
    /// Ended with an error.
    Failed,
    /// Stopped from outside.
    Killed,
}

impl RunStatus {
    /// All statuses in MLflow's numeric order.
    pub const ALL: [RunStatus; 5] = [
        RunStatus::Running,
        RunStatus::Scheduled,
        RunStatus::Finished,
        RunStatus::Failed,
        RunStatus::Killed,
    ];

    /// MLflow's name, e.g. `"FINISHED"`.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "RUNNING",
            RunStatus::Scheduled => "SCHEDULED",
            RunStatus::Finished => "FINISHED",
            RunStatus::Failed => "FAILED",
            RunStatus::Killed => "KILLED",
        }
    }

    /// Parse MLflow's name (case-insensitive) or number (`"1"` … `"5"`).
    pub fn parse(s: &str) -> Option<RunStatus> {
        let s = s.trim();
        RunStatus::ALL
            .into_iter()
            .find(|st| st.as_str().eq_ignore_ascii_case(s) || st.number().to_string() == s)
    }

    /// MLflow's enum number (`RUNNING=1` … `KILLED=5`).
    pub fn number(self) -> i32 {
        match self {
            RunStatus::Running => 1,
            RunStatus::Scheduled => 2,
            RunStatus::Finished => 3,
            RunStatus::Failed => 4,
            RunStatus::Killed => 5,
        }
    }

    /// Is this a terminal status (FINISHED, FAILED, KILLED)?
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            RunStatus::Finished | RunStatus::Failed | RunStatus::Killed
        )
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string key/value tag (on a run or an experiment). Tags are mutable.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Tag {
    /// Key.
    pub key: String,
    /// Value.
    pub value: String,
}

impl Tag {
    /// A new tag.
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        Tag {
            key: key.into(),
            value: value.into(),
        }
    }
}

/// A string key/value parameter of a run. Params are immutable once logged.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Param {
    /// Key.
    pub key: String,
    /// Value.
    pub value: String,
}

impl Param {
    /// A new param.
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        Param {
            key: key.into(),
            value: value.into(),
        }
    }
}

/// One metric point. `value` may be NaN or ±infinity; stores keep it faithfully.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    /// Key.
    pub key: String,
    /// Value.
    pub value: f64,
    /// Milliseconds since the Unix epoch.
    pub timestamp: i64,
    /// Step (default 0).
    pub step: i64,
}

impl Metric {
    /// A point at step 0 stamped now.
    pub fn new(key: impl Into<String>, value: f64) -> Self {
        Metric {
            key: key.into(),
            value,
            timestamp: now_ms(),
            step: 0,
        }
    }

    /// A point at `step`, stamped now.
    pub fn at_step(key: impl Into<String>, value: f64, step: i64) -> Self {
        Metric {
            step,
            ..Metric::new(key, value)
        }
    }
}

/// An experiment: a named group of runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Experiment {
    /// Id.
    pub experiment_id: ExperimentId,
    /// Unique name (over active and deleted experiments).
    pub name: String,
    /// Root under which runs' artifacts go.
    pub artifact_location: String,
    /// Active or deleted.
    pub lifecycle_stage: LifecycleStage,
    /// Creation time, ms.
    pub creation_time: i64,
    /// Last update time, ms.
    pub last_update_time: i64,
    /// Tags.
    pub tags: Vec<Tag>,
}

/// A run's metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// uuid4 hex, 32 chars.
    pub run_id: String,
    /// Experiment the run belongs to.
    pub experiment_id: ExperimentId,
    /// Name (also in the `mlflow.runName` tag).
    pub run_name: String,
    /// User who created the run.
    pub user_id: String,
    /// Status.
    pub status: RunStatus,
    /// Start time, ms.
    pub start_time: i64,
    /// End time, ms; `None` while running.
    pub end_time: Option<i64>,
    /// Where the run's artifacts live.
    pub artifact_uri: String,
    /// Active or deleted.
    pub lifecycle_stage: LifecycleStage,
}

/// A run's data: latest metric values, params and tags, each sorted by key.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RunData {
    /// Latest value of each metric (max by `(step, timestamp, value)`).
    pub metrics: Vec<Metric>,
    /// Params.
    pub params: Vec<Param>,
    /// Tags.
    pub tags: Vec<Tag>,
}

impl RunData {
    /// The latest value of metric `key`.
    pub fn metric(&self, key: &str) -> Option<f64> {
        self.latest_metric(key).map(|m| m.value)
    }
    /// The latest point of metric `key`: its value with its step and timestamp.
    pub fn latest_metric(&self, key: &str) -> Option<&Metric> {
        self.metrics.iter().find(|m| m.key == key)
    }
    /// The value of param `key`.
    pub fn param(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|p| p.key == key)
            .map(|p| p.value.as_str())
    }
    /// The value of tag `key`.
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|t| t.key == key)
            .map(|t| t.value.as_str())
    }
}

/// A run: info, data and the datasets it used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    /// Metadata.
    pub info: RunInfo,
    /// Metrics, params, tags.
    pub data: RunData,
    /// Dataset inputs ([`crate::tracking::Store::log_inputs`]).
    #[serde(default)]
    pub inputs: RunInputs,
}

/// A dataset as MLflow describes it: a name and digest (its identity within an
/// experiment), where it came from, and optionally its schema and profile (JSON text).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Dataset {
    /// Name.
    pub name: String,
    /// Digest of its content.
    pub digest: String,
    /// Kind of source (`local`, `http`, `code`...).
    pub source_type: String,
    /// The source, as JSON text.
    pub source: String,
    /// Schema, as JSON text.
    pub schema: Option<String>,
    /// Profile (row counts and such), as JSON text.
    pub profile: Option<String>,
}

/// A dataset a run used, with tags of that use (such as `mlflow.data.context=training`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DatasetInput {
    /// The dataset.
    pub dataset: Dataset,
    /// Tags of the input.
    pub tags: Vec<Tag>,
}

/// What a run used: its dataset inputs, in the order they were first logged.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RunInputs {
    /// Datasets.
    pub dataset_inputs: Vec<DatasetInput>,
}

/// A logged model a run produced, at a step ([`crate::tracking::Store::log_outputs`]).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ModelOutput {
    /// The model.
    pub model_id: String,
    /// Step of the run it was logged at.
    pub step: i64,
}

/// The state of a logged model's files (MLflow's `LoggedModelStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LoggedModelStatus {
    /// Created; its files are being uploaded.
    #[serde(rename = "LOGGED_MODEL_PENDING")]
    Pending,
    /// Its files are complete.
    #[serde(rename = "LOGGED_MODEL_READY")]
    Ready,
    /// Uploading its files failed.
    #[serde(rename = "LOGGED_MODEL_UPLOAD_FAILED")]
    UploadFailed,
}

impl LoggedModelStatus {
    /// Every status.
    pub const ALL: [LoggedModelStatus; 3] = [
        LoggedModelStatus::Pending,
        LoggedModelStatus::Ready,
        LoggedModelStatus::UploadFailed,
    ];

    /// MLflow's name, e.g. `"LOGGED_MODEL_READY"`.
    pub fn as_str(self) -> &'static str {
        match self {
            LoggedModelStatus::Pending => "LOGGED_MODEL_PENDING",
            LoggedModelStatus::Ready => "LOGGED_MODEL_READY",
            LoggedModelStatus::UploadFailed => "LOGGED_MODEL_UPLOAD_FAILED",
        }
    }

    /// MLflow's number (`PENDING=1`, `READY=2`, `UPLOAD_FAILED=3`).
    pub fn number(self) -> i32 {
        match self {
            LoggedModelStatus::Pending => 1,
            LoggedModelStatus::Ready => 2,
            LoggedModelStatus::UploadFailed => 3,
        }
    }

    /// Parse a name (any case) or a number.
    pub fn parse(s: &str) -> Option<LoggedModelStatus> {
        let s = s.trim();
        Self::ALL
            .into_iter()
            .find(|st| st.as_str().eq_ignore_ascii_case(s) || st.number().to_string() == s)
    }
}

impl fmt::Display for LoggedModelStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A logged model (MLflow 3): a model's files under its own artifact location, with
/// params, tags and metrics of its own, and optionally the run that produced it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoggedModel {
    /// Id, `m-<32 hex>`.
    pub model_id: String,
    /// Experiment it belongs to.
    pub experiment_id: ExperimentId,
    /// Name.
    pub name: String,
    /// Where its files live.
    pub artifact_uri: String,
    /// Status of its files.
    pub status: LoggedModelStatus,
    /// Why it has that status, when told.
    pub status_message: Option<String>,
    /// Kind of model, as the client says (`agent`, ...).
    pub model_type: Option<String>,
    /// The run that produced it.
    pub source_run_id: Option<String>,
    /// Creation time, ms.
    pub creation_timestamp_ms: i64,
    /// Last change, ms.
    pub last_updated_timestamp_ms: i64,
    /// Active or deleted.
    pub lifecycle_stage: LifecycleStage,
    /// Tags, by key.
    pub tags: Vec<Tag>,
    /// Params, by key.
    pub params: Vec<Param>,
    /// Metrics logged for it (with a `model_id`), every point, by key, time and step.
    pub metrics: Vec<LoggedModelMetric>,
}

/// A metric point of a logged model: logged by a run (`runs/log-batch` or
/// `runs/log-metric` with a `model_id`), optionally on a dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoggedModelMetric {
    /// The logged model.
    pub model_id: String,
    /// The run that logged it.
    pub run_id: String,
    /// The point.
    pub metric: Metric,
    /// Name of the dataset it was computed on.
    pub dataset_name: Option<String>,
    /// Digest of that dataset.
    pub dataset_digest: Option<String>,
}

/// What to create a logged model with ([`crate::tracking::Store::create_logged_model`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewLoggedModel {
    /// Name (a generated `adjective-noun-NNN` when `None`).
    pub name: Option<String>,
    /// Kind of model.
    pub model_type: Option<String>,
    /// The run that produced it (must exist).
    pub source_run_id: Option<String>,
    /// Initial tags.
    pub tags: Vec<Tag>,
    /// Initial params.
    pub params: Vec<Param>,
}

/// A logged-model search.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedModelQuery {
    /// Experiments to search (empty → empty result).
    pub experiment_ids: Vec<ExperimentId>,
    /// Filter string over `name`, `model_id`, `model_type`, `status`, `source_run_id`,
    /// `tags.<k>`, `params.<k>` and `metrics.<k>` (`""` = everything).
    pub filter: String,
    /// Page size, ≥ 1.
    pub max_results: usize,
    /// Order: fields (or `metrics.<key>`) with their direction, then newest first.
    pub order_by: Vec<LoggedModelOrder>,
    /// Token from a previous page.
    pub page_token: Option<String>,
}

impl Default for LoggedModelQuery {
    /// No experiments, no filter, MLflow's default page size and order.
    fn default() -> Self {
        LoggedModelQuery {
            experiment_ids: Vec::new(),
            filter: String::new(),
            max_results: DEFAULT_MAX_RESULTS,
            order_by: Vec::new(),
            page_token: None,
        }
    }
}

/// One order_by entry of a logged-model search.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LoggedModelOrder {
    /// A field of the model (`name`, `creation_timestamp`, ...) or `metrics.<key>`.
    pub field_name: String,
    /// Ascending?
    pub ascending: bool,
    /// For `metrics.<key>`: only points logged on the dataset of this name.
    pub dataset_name: Option<String>,
    /// For `metrics.<key>`: only points logged on the dataset of this digest.
    pub dataset_digest: Option<String>,
}

impl Run {
    /// Shorthand for `self.info.run_id`.
    pub fn id(&self) -> &str {
        &self.info.run_id
    }
}

/// What to create a run with ([`crate::tracking::Store::create_run`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunStart {
    /// Run name; else the `mlflow.runName` tag; else a generated `adjective-noun-NNN`.
    pub run_name: Option<String>,
    /// User id (stored as given; empty when `None`).
    pub user_id: Option<String>,
    /// Start time in ms (now when `None`).
    pub start_time: Option<i64>,
    /// Initial tags.
    pub tags: Vec<Tag>,
}

/// Changes to a run's info ([`crate::tracking::Store::update_run`]); `None` leaves a field alone.
///
/// Setting the status to RUNNING or SCHEDULED without an `end_time` clears the end time
/// (a reopened run is running again).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunUpdate {
    /// New status.
    pub status: Option<RunStatus>,
    /// New end time, ms.
    pub end_time: Option<i64>,
    /// New name (also rewrites the `mlflow.runName` tag).
    pub run_name: Option<String>,
}

impl RunUpdate {
    /// The end of a run: `status` at `end_time` (ms).
    pub fn ended(status: RunStatus, end_time: i64) -> Self {
        RunUpdate {
            status: Some(status),
            end_time: Some(end_time),
            run_name: None,
        }
    }
}

/// A whole run written at once ([`crate::tracking::Store::record_run`]): what a finished
/// trial produces. `metrics` and `params` obey the log_batch limits.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    /// Name, user, start time and initial tags.
    pub start: RunStart,
    /// Metric points.
    pub metrics: Vec<Metric>,
    /// Params.
    pub params: Vec<Param>,
    /// Final status (RUNNING leaves the run open).
    pub status: RunStatus,
    /// End time, ms (now when `None` and the status is terminal).
    pub end_time: Option<i64>,
}

impl Default for RunRecord {
    fn default() -> Self {
        RunRecord {
            start: RunStart::default(),
            metrics: Vec::new(),
            params: Vec::new(),
            status: RunStatus::Finished,
            end_time: None,
        }
    }
}

/// Default page size of run searches (MLflow's).
pub const DEFAULT_MAX_RESULTS: usize = 1000;
/// Largest accepted page size of run searches (MLflow's).
pub const MAX_RESULTS_LIMIT: usize = 50_000;

/// A run search, in store terms: filter and order_by are strings in MLflow's language.
#[derive(Debug, Clone, PartialEq)]
pub struct RunQuery {
    /// Experiments to search (empty → empty result).
    pub experiment_ids: Vec<ExperimentId>,
    /// Filter string (`""` = everything).
    pub filter: String,
    /// Which lifecycle stages.
    pub view_type: ViewType,
    /// Page size, 1..=50000.
    pub max_results: usize,
    /// order_by entries, e.g. `"metrics.loss ASC"`.
    pub order_by: Vec<String>,
    /// Token from a previous page.
    pub page_token: Option<String>,
}

impl Default for RunQuery {
    fn default() -> Self {
        RunQuery {
            experiment_ids: Vec::new(),
            filter: String::new(),
            view_type: ViewType::ActiveOnly,
            max_results: DEFAULT_MAX_RESULTS,
            order_by: Vec::new(),
            page_token: None,
        }
    }
}

/// Which of a run's data [`Store::select_runs`](super::Store::select_runs) reads besides
/// its info and params (which it always reads): all tags and latest metrics, or only
/// those with the keys listed. A report of a whole search reads a few tags and one metric.
///
/// ```
/// use hyperflow::tracking::{RunData, RunFields, Tag};
/// let fields = RunFields::default().tags(["mlflow.parentRunId"]).metrics(["loss"]);
/// assert!(fields.wants_tag("mlflow.parentRunId") && !fields.wants_tag("mlflow.user"));
/// let mut data = RunData::default();
/// data.tags.push(Tag::new("mlflow.user", "ada"));
/// fields.keep(&mut data);
/// assert!(data.tags.is_empty());
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunFields {
    tags: Option<Vec<String>>,
    metrics: Option<Vec<String>>,
}

impl RunFields {
    /// Reads only the tags with these keys (every tag by default).
    pub fn tags<S: Into<String>>(mut self, keys: impl IntoIterator<Item = S>) -> Self {
        self.tags = Some(keys.into_iter().map(Into::into).collect());
        self
    }

    /// Reads only the latest metrics with these keys (every metric by default).
    pub fn metrics<S: Into<String>>(mut self, keys: impl IntoIterator<Item = S>) -> Self {
        self.metrics = Some(keys.into_iter().map(Into::into).collect());
        self
    }

    /// Whether the tag `key` is read.
    pub fn wants_tag(&self, key: &str) -> bool {
        wanted(self.tags.as_deref(), key)
    }

    /// Whether the metric `key` is read.
    pub fn wants_metric(&self, key: &str) -> bool {
        wanted(self.metrics.as_deref(), key)
    }

    /// The keys of the tags read; `None` for every tag.
    #[cfg(feature = "sqlite")]
    pub(crate) fn tag_keys(&self) -> Option<&[String]> {
        self.tags.as_deref()
    }

    /// The keys of the metrics read; `None` for every metric.
    #[cfg(feature = "sqlite")]
    pub(crate) fn metric_keys(&self) -> Option<&[String]> {
        self.metrics.as_deref()
    }

    /// Drops from `data` the tags and metrics these fields do not read.
    pub fn keep(&self, data: &mut RunData) {
        data.tags.retain(|t| self.wants_tag(&t.key));
        data.metrics.retain(|m| self.wants_metric(&m.key));
    }
}

fn wanted(keys: Option<&[String]>, key: &str) -> bool {
    keys.is_none_or(|keys| keys.iter().any(|k| k == key))
}

/// An experiment search.
#[derive(Debug, Clone, PartialEq)]
pub struct ExperimentQuery {
    /// Filter string over `name`, `experiment_id`, `creation_time`, `last_update_time`,
    /// `tags.<k>` (`""` = everything).
    pub filter: String,
    /// Which lifecycle stages.
    pub view_type: ViewType,
    /// Page size, ≥ 1.
    pub max_results: usize,
    /// order_by entries, e.g. `"name ASC"` (default `creation_time DESC, experiment_id ASC`).
    pub order_by: Vec<String>,
    /// Token from a previous page.
    pub page_token: Option<String>,
}

impl Default for ExperimentQuery {
    fn default() -> Self {
        ExperimentQuery {
            filter: String::new(),
            view_type: ViewType::ActiveOnly,
            max_results: DEFAULT_MAX_RESULTS,
            order_by: Vec::new(),
            page_token: None,
        }
    }
}

/// A registered model of the model registry: a name under which model versions are kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegisteredModel {
    /// Unique name.
    pub name: String,
    /// Free-text description.
    pub description: Option<String>,
    /// Creation time, ms.
    pub creation_timestamp_ms: i64,
    /// Last change, ms.
    pub last_updated_timestamp_ms: i64,
    /// Tags, by key.
    pub tags: Vec<Tag>,
    /// Its aliases, by alias.
    pub aliases: Vec<ModelAlias>,
    /// The latest version in each stage that has one, in the order MLflow lists them (by
    /// the stage's lowest version).
    pub latest_versions: Vec<ModelVersion>,
}

/// A model version's stage, as MLflow 3 keeps them (deprecated there in favour of
/// aliases, still served).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ModelStage {
    /// No stage (every new version).
    None,
    /// Staging.
    Staging,
    /// Production.
    Production,
    /// Archived.
    Archived,
}

impl ModelStage {
    /// Every stage, in MLflow's order.
    pub const ALL: [ModelStage; 4] = [
        ModelStage::None,
        ModelStage::Staging,
        ModelStage::Production,
        ModelStage::Archived,
    ];

    /// The name MLflow stores and returns (`Production`).
    pub fn as_str(self) -> &'static str {
        match self {
            ModelStage::None => "None",
            ModelStage::Staging => "Staging",
            ModelStage::Production => "Production",
            ModelStage::Archived => "Archived",
        }
    }

    /// Parse a stage name in any case (`production`), as MLflow accepts them; an unknown
    /// one is an error naming the accepted stages.
    pub fn parse(text: &str) -> Result<ModelStage, crate::tracking::StoreError> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| {
                crate::tracking::StoreError::InvalidParameter(format!(
                    "Invalid Model Version stage: {text}. Value must be one of None, Staging, \
                     Production, Archived."
                ))
            })
    }

    /// Staging and Production, the stages whose versions a transition may archive.
    pub fn is_active(self) -> bool {
        matches!(self, ModelStage::Staging | ModelStage::Production)
    }
}

impl fmt::Display for ModelStage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An alias of a registered model: a name that points at one of its versions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelAlias {
    /// The alias (`champion`).
    pub alias: String,
    /// The version it points at.
    pub version: i64,
}

/// A version of a registered model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelVersion {
    /// The registered model's name.
    pub name: String,
    /// Version number: 1, 2, ... per registered model, never reused.
    pub version: i64,
    /// Where it was registered from (`models:/<model_id>`, `runs:/<run_id>/<path>`, a URI).
    pub source: String,
    /// The run that produced it.
    pub run_id: Option<String>,
    /// The logged model it was registered from.
    pub model_id: Option<String>,
    /// Free-text description.
    pub description: Option<String>,
    /// Stage (`None`, `Staging`, `Production`, `Archived`).
    pub current_stage: String,
    /// Creation time, ms.
    pub creation_timestamp_ms: i64,
    /// Last change, ms.
    pub last_updated_timestamp_ms: i64,
    /// Tags, by key.
    pub tags: Vec<Tag>,
    /// Aliases pointing at it, sorted.
    pub aliases: Vec<String>,
}

/// What to create a model version with
/// ([`crate::tracking::Store::create_model_version`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewModelVersion {
    /// `models:/<model_id>`, `runs:/<run_id>/<path>` or an artifact URI.
    pub source: String,
    /// The run that produced it.
    pub run_id: Option<String>,
    /// The logged model it comes from (taken from a `models:/<model_id>` source if absent).
    pub model_id: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Initial tags.
    pub tags: Vec<Tag>,
}

impl NewModelVersion {
    /// A version registered from `source` (`models:/<model_id>`, `runs:/<run_id>/<path>`
    /// or an artifact URI).
    pub fn new(source: impl Into<String>) -> Self {
        NewModelVersion {
            source: source.into(),
            ..NewModelVersion::default()
        }
    }
    /// The run that produced it.
    pub fn run_id(mut self, run_id: impl Into<String>) -> Self {
        self.run_id = Some(run_id.into());
        self
    }
    /// A description.
    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.description = Some(text.into());
        self
    }
    /// Add a tag.
    pub fn tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.tags.push(Tag::new(key, value));
        self
    }
}

/// A search of registered models or of model versions.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RegistryQuery {
    /// `""` (everything) or comparisons joined by `AND`: `name = 'x'`, `name != 'x'`,
    /// `name LIKE 'pattern'`, `name ILIKE 'pattern'` (versions also on `run_id`,
    /// `source` and `model_id`).
    pub filter: String,
    /// Page size.
    pub max_results: usize,
    /// Order: `<key> [ASC|DESC]` entries. Registered models: `name`, `timestamp` or
    /// `last_updated_timestamp`, then by name; versions: `name`, `version_number`,
    /// `creation_timestamp` or `last_updated_timestamp`, then by name and newest version.
    pub order_by: Vec<String>,
    /// Token of the page to read (from the previous page).
    pub page_token: Option<String>,
}

/// One page of results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Token for the next page; present only when more items exist.
    pub next_page_token: Option<String>,
}

impl<T> Page<T> {
    /// A page without a successor.
    pub fn last(items: Vec<T>) -> Self {
        Page {
            items,
            next_page_token: None,
        }
    }
}

/// A file or directory in a run's artifacts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileInfo {
    /// Path relative to the run's artifact root, `/`-separated.
    pub path: String,
    /// Is it a directory?
    pub is_dir: bool,
    /// Size in bytes (files only).
    pub file_size: Option<u64>,
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// System tag names (MLflow's).
pub mod tags {
    /// Run name.
    pub const RUN_NAME: &str = "mlflow.runName";
    /// Parent run of a nested run.
    pub const PARENT_RUN_ID: &str = "mlflow.parentRunId";
    /// User.
    pub const USER: &str = "mlflow.user";
    /// Source program.
    pub const SOURCE_NAME: &str = "mlflow.source.name";
    /// Source type (`LOCAL`).
    pub const SOURCE_TYPE: &str = "mlflow.source.type";
    /// Git commit of the source checkout.
    pub const GIT_COMMIT: &str = "mlflow.source.git.commit";
    /// Run description.
    pub const NOTE: &str = "mlflow.note.content";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enum_names_and_numbers() {
        for st in RunStatus::ALL {
            assert_eq!(RunStatus::parse(st.as_str()), Some(st));
            assert_eq!(RunStatus::parse(&st.number().to_string()), Some(st));
        }
        assert_eq!(RunStatus::parse("finished"), Some(RunStatus::Finished));
        assert_eq!(RunStatus::parse("DONE"), None);
        for v in [ViewType::ActiveOnly, ViewType::DeletedOnly, ViewType::All] {
            assert_eq!(ViewType::parse(v.as_str()), Some(v));
        }
        assert_eq!(ViewType::parse("3"), Some(ViewType::All));
        assert_eq!(
            serde_json::to_string(&RunStatus::Killed).ok().as_deref(),
            Some("\"KILLED\"")
        );
    }
}
