//! MLflow's tracking REST API on the wire (feature `rest`): every request and answer body
//! as a serde struct, shared by the REST store ([`super::rest`], which sends requests and
//! reads answers) and hyperflow's server (which reads requests and sends answers), so the
//! two cannot drift apart.
//!
//! - Each call is a [`Call`]: its HTTP method, its path below [`API_PREFIX`], the request
//!   body (GET: the query string) and the answer's type. [`CALLS`] lists them all, with
//!   hyperflow's own calls of the [ledger of searches](ledger) (`/hyperflow/ledger/...`).
//! - Entities: [`Experiment`], [`Run`] ([`RunInfo`], [`RunData`]), [`Metric`], [`KeyValue`]
//!   (tags and params), [`FileInfo`], [`ErrorBody`]; `From` conversions to and from the
//!   [`model`] types.
//! - Reading is as tolerant as MLflow's protobuf `ParseDict`: unknown fields are ignored,
//!   int64 fields take numbers or numeric strings, doubles also `"NaN"`, `"Infinity"`,
//!   `"-Infinity"`, strings also numbers, lists also a single value (a GET query's lone
//!   key), enums names or numbers; an empty string or `null` counts as absent. Writing is
//!   MLflow's `message_to_json`: empty lists and absent values are left out, doubles that
//!   JSON cannot hold are written as those strings.
//! - A field that cannot be read fails with an error that [`FieldProblem::of`] reads back,
//!   so the server can answer MLflow's "Missing value for required parameter 'x'." or
//!   "Invalid value ... for parameter 'x' supplied: Hint: ..." with the field's path.

pub mod ledger;

use super::model::{self, ExperimentId, LifecycleStage, RunStatus, ViewType};
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// Where MLflow's REST API 2.0 lives below a server's base URL.
pub const API_PREFIX: &str = "/api/2.0";
/// The same API as MLflow's web UI calls it.
pub const AJAX_PREFIX: &str = "/ajax-api/2.0";
/// The artifact proxy below [`API_PREFIX`]: `GET ...?path=<dir>` lists a directory,
/// `GET`/`PUT`/`DELETE .../<path>` read, write and delete a file.
pub const ARTIFACTS_PATH: &str = "/mlflow-artifacts/artifacts";

/// The HTTP method of a [`Call`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// Fields go in the query string.
    Get,
    /// Fields go in a JSON body.
    Post,
    /// Fields go in a JSON body (MLflow 3's updates).
    Patch,
    /// Fields go in a JSON body (MLflow 3's deletes).
    Delete,
}

/// One call of the tracking REST API.
pub trait Call: Serialize + DeserializeOwned + Send + 'static {
    /// How it is sent.
    const METHOD: Method;
    /// Its path below [`API_PREFIX`], e.g. `/mlflow/runs/get`.
    const PATH: &'static str;
    /// What a successful call answers.
    type Reply: Serialize + DeserializeOwned + Send + 'static;
}

macro_rules! calls {
    ($($(#[$doc:meta])* $call:ident($body:ty) => $method:ident $path:literal -> $reply:ty;)*) => {
        $(
            $(#[$doc])*
            #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
            #[serde(transparent)]
            pub struct $call(pub $body);

            impl Call for $call {
                const METHOD: Method = Method::$method;
                const PATH: &'static str = $path;
                type Reply = $reply;
            }
        )*

        /// Every [`Call`]: method and path below [`API_PREFIX`].
        pub const CALLS: &[(Method, &str)] = &[$((Method::$method, $path)),*];
    };
}

calls! {
    /// Create an experiment.
    CreateExperiment(NewExperiment) => Post "/mlflow/experiments/create" -> ExperimentCreated;
    /// Get an experiment by id.
    GetExperiment(ExperimentRef) => Get "/mlflow/experiments/get" -> ExperimentReply;
    /// Get an experiment by name.
    GetExperimentByName(ExperimentName) => Get "/mlflow/experiments/get-by-name" -> ExperimentReply;
    /// Search experiments (also served as GET).
    SearchExperiments(Search) => Post "/mlflow/experiments/search" -> ExperimentsPage;
    /// Rename an experiment.
    UpdateExperiment(ExperimentRename) => Post "/mlflow/experiments/update" -> Empty;
    /// Delete an experiment and its runs.
    DeleteExperiment(ExperimentRef) => Post "/mlflow/experiments/delete" -> Empty;
    /// Restore an experiment and its runs.
    RestoreExperiment(ExperimentRef) => Post "/mlflow/experiments/restore" -> Empty;
    /// Set an experiment tag.
    SetExperimentTag(ExperimentTag) => Post "/mlflow/experiments/set-experiment-tag" -> Empty;
    /// Delete an experiment tag.
    DeleteExperimentTag(ExperimentTagKey) => Post "/mlflow/experiments/delete-experiment-tag" -> Empty;
    /// Create a run.
    CreateRun(NewRun) => Post "/mlflow/runs/create" -> RunReply;
    /// Get a run.
    GetRun(RunRef) => Get "/mlflow/runs/get" -> RunReply;
    /// Change a run's status, end time or name.
    UpdateRun(RunChange) => Post "/mlflow/runs/update" -> RunInfoReply;
    /// Delete a run.
    DeleteRun(RunRef) => Post "/mlflow/runs/delete" -> Empty;
    /// Restore a run.
    RestoreRun(RunRef) => Post "/mlflow/runs/restore" -> Empty;
    /// Log one metric point.
    LogMetric(RunMetric) => Post "/mlflow/runs/log-metric" -> Empty;
    /// Log one param.
    LogParam(RunKeyValue) => Post "/mlflow/runs/log-parameter" -> Empty;
    /// Set one run tag.
    SetTag(RunKeyValue) => Post "/mlflow/runs/set-tag" -> Empty;
    /// Delete a run tag.
    DeleteTag(RunKey) => Post "/mlflow/runs/delete-tag" -> Empty;
    /// Log metrics, params and tags at once.
    LogBatch(RunBatch) => Post "/mlflow/runs/log-batch" -> Empty;
    /// Search runs.
    SearchRuns(Search) => Post "/mlflow/runs/search" -> RunsPage;
    /// A metric's history (paged when `max_results` is given).
    GetMetricHistory(MetricHistory) => Get "/mlflow/metrics/get-history" -> MetricsPage;
    /// List a run's artifacts.
    ListArtifacts(ArtifactList) => Get "/mlflow/artifacts/list" -> ArtifactListing;
    /// Log dataset inputs of a run.
    LogInputs(RunDatasets) => Post "/mlflow/runs/log-inputs" -> Empty;
    /// Record logged models as outputs of a run.
    LogOutputs(RunModels) => Post "/mlflow/runs/outputs" -> Empty;
    /// Create a logged model.
    CreateLoggedModel(NewLoggedModel) => Post "/mlflow/logged-models" -> LoggedModelReply;
    /// Get a logged model.
    GetLoggedModel(LoggedModelRef) => Get "/mlflow/logged-models/{model_id}" -> LoggedModelReply;
    /// Set a logged model's status.
    FinalizeLoggedModel(LoggedModelFinal) => Patch "/mlflow/logged-models/{model_id}" -> LoggedModelReply;
    /// Delete a logged model.
    DeleteLoggedModel(LoggedModelRef) => Delete "/mlflow/logged-models/{model_id}" -> Empty;
    /// Set tags of a logged model.
    SetLoggedModelTags(LoggedModelKeyValues) => Patch "/mlflow/logged-models/{model_id}/tags" -> Empty;
    /// Delete a tag of a logged model.
    DeleteLoggedModelTag(LoggedModelTagKey) => Delete "/mlflow/logged-models/{model_id}/tags/{tag_key}" -> Empty;
    /// Log params of a logged model.
    LogLoggedModelParams(LoggedModelKeyValues) => Post "/mlflow/logged-models/{model_id}/params" -> Empty;
    /// Search logged models.
    SearchLoggedModels(LoggedModelSearch) => Post "/mlflow/logged-models/search" -> LoggedModelsPage;
    /// Create a registered model.
    CreateRegisteredModel(NewRegisteredModel) => Post "/mlflow/registered-models/create" -> RegisteredModelReply;
    /// Get a registered model.
    GetRegisteredModel(RegisteredModelRef) => Get "/mlflow/registered-models/get" -> RegisteredModelReply;
    /// Rename a registered model.
    RenameRegisteredModel(RegisteredModelRename) => Post "/mlflow/registered-models/rename" -> RegisteredModelReply;
    /// Set a registered model's description.
    UpdateRegisteredModel(RegisteredModelDescription) => Patch "/mlflow/registered-models/update" -> RegisteredModelReply;
    /// Delete a registered model.
    DeleteRegisteredModel(RegisteredModelRef) => Delete "/mlflow/registered-models/delete" -> Empty;
    /// Search registered models.
    SearchRegisteredModels(RegisteredModelSearch) => Get "/mlflow/registered-models/search" -> RegisteredModelsPage;
    /// Set a tag of a registered model.
    SetRegisteredModelTag(RegisteredModelTag) => Post "/mlflow/registered-models/set-tag" -> Empty;
    /// Delete a tag of a registered model.
    DeleteRegisteredModelTag(RegisteredModelTagKey) => Delete "/mlflow/registered-models/delete-tag" -> Empty;
    /// Create a model version.
    CreateModelVersion(NewModelVersion) => Post "/mlflow/model-versions/create" -> ModelVersionReply;
    /// Get a model version.
    GetModelVersion(ModelVersionRef) => Get "/mlflow/model-versions/get" -> ModelVersionReply;
    /// Set a model version's description.
    UpdateModelVersion(ModelVersionDescription) => Patch "/mlflow/model-versions/update" -> ModelVersionReply;
    /// Delete a model version.
    DeleteModelVersion(ModelVersionRef) => Delete "/mlflow/model-versions/delete" -> Empty;
    /// Search model versions.
    SearchModelVersions(RegisteredModelSearch) => Get "/mlflow/model-versions/search" -> ModelVersionsPage;
    /// Set a tag of a model version.
    SetModelVersionTag(ModelVersionTag) => Post "/mlflow/model-versions/set-tag" -> Empty;
    /// Delete a tag of a model version.
    DeleteModelVersionTag(ModelVersionTagKey) => Delete "/mlflow/model-versions/delete-tag" -> Empty;
    /// Where a model version's files are.
    GetModelVersionDownloadUri(ModelVersionRef) => Get "/mlflow/model-versions/get-download-uri" -> DownloadUri;
    /// Point an alias at a version.
    SetRegisteredModelAlias(AliasVersion) => Post "/mlflow/registered-models/alias" -> Empty;
    /// Remove an alias.
    DeleteRegisteredModelAlias(AliasRef) => Delete "/mlflow/registered-models/alias" -> Empty;
    /// The version an alias points at.
    GetModelVersionByAlias(AliasRef) => Get "/mlflow/registered-models/alias" -> ModelVersionReply;
    /// Move a model version to another stage.
    TransitionModelVersionStage(StageTransition) => Post "/mlflow/model-versions/transition-stage" -> ModelVersionReply;
    /// The latest version of a registered model per stage (also served as POST).
    GetLatestVersions(LatestVersions) => Get "/mlflow/registered-models/get-latest-versions" -> ModelVersionsPage;
    /// Register a search in the ledger of searches (hyperflow's own).
    LedgerOpenSearch(ledger::OpenSearch) => Post "/hyperflow/ledger/open-search" -> ledger::SearchFound;
    /// The search holding a join key.
    LedgerFindSearch(ledger::FindSearch) => Get "/hyperflow/ledger/find-search" -> ledger::SearchFound;
    /// Give up a search's join key.
    LedgerCloseSearch(ledger::SearchRef) => Post "/hyperflow/ledger/close-search" -> Empty;
    /// Count one more worker of a search.
    LedgerJoinWorker(ledger::SearchRef) => Post "/hyperflow/ledger/join-worker" -> ledger::Joined;
    /// Claim the next trial number within the budget.
    LedgerClaimTrial(ledger::ClaimTrial) => Post "/hyperflow/ledger/claim-trial" -> ledger::Claimed;
    /// Record how a trial ended.
    LedgerEndTrial(ledger::EndTrial) => Post "/hyperflow/ledger/end-trial" -> ledger::Ended;
    /// End those of some trials that are still running.
    LedgerReleaseRunning(ledger::ReleaseRunning) => Post "/hyperflow/ledger/release-running" -> ledger::Numbers;
    /// Stamp running trials with the store's clock.
    LedgerHeartbeat(ledger::Heartbeat) => Post "/hyperflow/ledger/heartbeat" -> Empty;
    /// The running trials whose heartbeat is too old.
    LedgerStaleTrials(ledger::StaleTrials) => Get "/hyperflow/ledger/stale-trials" -> ledger::Numbers;
    /// The trials written after a change number.
    LedgerChanges(ledger::Changes) => Get "/hyperflow/ledger/changes" -> ledger::Changed;
}

// ---------------------------------------------------------------------------------------
// Entities.

/// A tag or a param: `{"key": ..., "value": ...}` (an empty value may be left out).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyValue {
    /// Key.
    #[serde(deserialize_with = "de::required")]
    pub key: String,
    /// Value.
    #[serde(default, deserialize_with = "de::text_or_empty")]
    pub value: String,
}

/// A metric point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    /// Key.
    #[serde(deserialize_with = "de::required")]
    pub key: String,
    /// Value (`"NaN"`, `"Infinity"`, `"-Infinity"` for those).
    #[serde(with = "double")]
    pub value: f64,
    /// Milliseconds since the epoch.
    #[serde(deserialize_with = "de::required_int")]
    pub timestamp: i64,
    /// Step (default 0).
    #[serde(default, deserialize_with = "de::int_or_zero")]
    pub step: i64,
    /// The logged model (and dataset) it belongs to too (MLflow 3).
    #[serde(flatten)]
    pub link: ModelLink,
    /// The run that logged it (in a logged model's metrics).
    #[serde(default, deserialize_with = "de::text", skip_serializing_if = "none")]
    pub run_id: Option<String>,
}

/// What ties a metric point to a logged model (MLflow 3): the model and the dataset the
/// point was computed on, each absent when not given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelLink {
    /// The logged model it belongs to too (MLflow 3).
    #[serde(default, deserialize_with = "de::text", skip_serializing_if = "none")]
    pub model_id: Option<String>,
    /// The dataset it was computed on: name.
    #[serde(default, deserialize_with = "de::text", skip_serializing_if = "none")]
    pub dataset_name: Option<String>,
    /// The dataset it was computed on: digest.
    #[serde(default, deserialize_with = "de::text", skip_serializing_if = "none")]
    pub dataset_digest: Option<String>,
}

/// An experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Experiment {
    /// Id.
    #[serde(default = "no_id", deserialize_with = "de::text_or_empty")]
    pub experiment_id: ExperimentId,
    /// Name.
    #[serde(default, deserialize_with = "de::text_or_empty")]
    pub name: String,
    /// Root of its runs' artifacts.
    #[serde(default, deserialize_with = "de::text_or_empty")]
    pub artifact_location: String,
    /// `active` or `deleted`.
    #[serde(default = "active", deserialize_with = "de::stage")]
    pub lifecycle_stage: LifecycleStage,
    /// Last update, ms.
    #[serde(default, deserialize_with = "de::int_or_zero")]
    pub last_update_time: i64,
    /// Creation, ms.
    #[serde(default, deserialize_with = "de::int_or_zero")]
    pub creation_time: i64,
    /// Tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<KeyValue>,
}

/// A run's info.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// Id.
    #[serde(default, deserialize_with = "de::text_or_empty")]
    pub run_id: String,
    /// The deprecated copy of the id (read when `run_id` is absent).
    #[serde(default, deserialize_with = "de::text_or_empty")]
    pub run_uuid: String,
    /// Name.
    #[serde(
        default,
        deserialize_with = "de::text_or_empty",
        skip_serializing_if = "blank"
    )]
    pub run_name: String,
    /// Experiment.
    #[serde(default = "no_id", deserialize_with = "de::text_or_empty")]
    pub experiment_id: ExperimentId,
    /// User.
    #[serde(
        default,
        deserialize_with = "de::text_or_empty",
        skip_serializing_if = "blank"
    )]
    pub user_id: String,
    /// Status.
    #[serde(default = "running", deserialize_with = "de::status")]
    pub status: RunStatus,
    /// Start, ms.
    #[serde(default, deserialize_with = "de::int_or_zero")]
    pub start_time: i64,
    /// End, ms; absent while running.
    #[serde(default, deserialize_with = "de::int", skip_serializing_if = "none")]
    pub end_time: Option<i64>,
    /// Where its artifacts are.
    #[serde(default, deserialize_with = "de::text_or_empty")]
    pub artifact_uri: String,
    /// `active` or `deleted`.
    #[serde(default = "active", deserialize_with = "de::stage")]
    pub lifecycle_stage: LifecycleStage,
}

/// A run's data: latest metrics, params, tags.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunData {
    /// Latest value of each metric.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<Metric>,
    /// Params.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<KeyValue>,
    /// Tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<KeyValue>,
}

/// A run: info, data, and (always empty here) inputs and outputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    /// Info.
    pub info: RunInfo,
    /// Data.
    #[serde(default)]
    pub data: RunData,
    /// Dataset inputs.
    #[serde(default)]
    pub inputs: RunInputs,
    /// Outputs (hyperflow has none).
    #[serde(default)]
    pub outputs: Empty,
}

/// A file or directory in an artifact listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileInfo {
    /// Path (relative to the run root, or a basename in the proxy's listings).
    #[serde(default, deserialize_with = "de::text_or_empty")]
    pub path: String,
    /// Is it a directory?
    #[serde(default)]
    pub is_dir: bool,
    /// Size in bytes (files only).
    #[serde(default, deserialize_with = "de::int", skip_serializing_if = "none")]
    pub file_size: Option<i64>,
}

/// An error answer: `{"error_code": ..., "message": ...}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// MLflow error code, e.g. `RESOURCE_DOES_NOT_EXIST`.
    #[serde(default)]
    pub error_code: String,
    /// What went wrong.
    #[serde(default)]
    pub message: String,
}

/// `{}`: the answer of every call that only acts, and a request without fields.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Empty {}

/// `GET /api/3.0/mlflow/server-info`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerInfo {
    /// The kind of tracking store (`SqlStore`).
    pub store_type: String,
    /// The server's name.
    #[serde(default)]
    pub server: String,
    /// Its version.
    #[serde(default)]
    pub version: String,
    /// Whether multipart artifact uploads are available.
    #[serde(default)]
    pub multipart_uploads_enabled: bool,
}

fn none<T>(v: &Option<T>) -> bool {
    v.is_none()
}

fn empty<T>(v: &[T]) -> bool {
    v.is_empty()
}

fn blank(v: &str) -> bool {
    v.is_empty()
}

fn no_id() -> ExperimentId {
    ExperimentId(String::new())
}

fn active() -> LifecycleStage {
    LifecycleStage::Active
}

fn running() -> RunStatus {
    RunStatus::Running
}

// ---------------------------------------------------------------------------------------
// Request bodies.

/// `experiments/create`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewExperiment {
    /// Name.
    #[serde(deserialize_with = "de::required")]
    pub name: String,
    /// Root of its runs' artifacts (the server's default when absent).
    #[serde(default, deserialize_with = "de::text", skip_serializing_if = "none")]
    pub artifact_location: Option<String>,
    /// Tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<KeyValue>,
}

/// An experiment by id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExperimentRef {
    /// Id.
    #[serde(deserialize_with = "de::required")]
    pub experiment_id: ExperimentId,
}

/// An experiment by name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExperimentName {
    /// Name.
    #[serde(deserialize_with = "de::required")]
    pub experiment_name: String,
}

/// The fields of both searches: `experiment_ids` and `run_view_type` are the runs
/// search's, `view_type` the experiments search's.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Search {
    /// Experiments to search (runs).
    #[serde(
        default,
        deserialize_with = "de::text_list",
        skip_serializing_if = "empty"
    )]
    pub experiment_ids: Vec<String>,
    /// Filter in MLflow's language.
    #[serde(default, deserialize_with = "de::text", skip_serializing_if = "none")]
    pub filter: Option<String>,
    /// Page size.
    #[serde(default, deserialize_with = "de::int", skip_serializing_if = "none")]
    pub max_results: Option<i64>,
    /// order_by entries.
    #[serde(
        default,
        deserialize_with = "de::text_list",
        skip_serializing_if = "empty"
    )]
    pub order_by: Vec<String>,
    /// Token of the page to read.
    #[serde(default, deserialize_with = "de::text", skip_serializing_if = "none")]
    pub page_token: Option<String>,
    /// Lifecycle stages of experiments to include.
    #[serde(default, with = "view_type", skip_serializing_if = "none")]
    pub view_type: Option<ViewType>,
    /// Lifecycle stages of runs to include.
    #[serde(default, with = "view_type", skip_serializing_if = "none")]
    pub run_view_type: Option<ViewType>,
}

/// `experiments/update`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExperimentRename {
    /// Id.
    #[serde(deserialize_with = "de::required")]
    pub experiment_id: ExperimentId,
    /// New name.
    #[serde(deserialize_with = "de::required")]
    pub new_name: String,
}

/// `experiments/set-experiment-tag`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExperimentTag {
    /// Id.
    #[serde(deserialize_with = "de::required")]
    pub experiment_id: ExperimentId,
    /// Key.
    #[serde(deserialize_with = "de::required")]
    pub key: String,
    /// Value.
    #[serde(default, deserialize_with = "de::text_or_empty")]
    pub value: String,
}

/// `experiments/delete-experiment-tag`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExperimentTagKey {
    /// Id.
    #[serde(deserialize_with = "de::required")]
    pub experiment_id: ExperimentId,
    /// Key.
    #[serde(deserialize_with = "de::required")]
    pub key: String,
}

/// `runs/create`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NewRun {
    /// Experiment (the `Default` experiment when absent).
    #[serde(default, deserialize_with = "de::text", skip_serializing_if = "none")]
    pub experiment_id: Option<ExperimentId>,
    /// User.
    #[serde(default, deserialize_with = "de::text", skip_serializing_if = "none")]
    pub user_id: Option<String>,
    /// Name.
    #[serde(default, deserialize_with = "de::text", skip_serializing_if = "none")]
    pub run_name: Option<String>,
    /// Start, ms.
    #[serde(default, deserialize_with = "de::int", skip_serializing_if = "none")]
    pub start_time: Option<i64>,
    /// Initial tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<KeyValue>,
}

/// A run by id (the server also reads the deprecated `run_uuid`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRef {
    /// Id.
    #[serde(deserialize_with = "de::required")]
    pub run_id: String,
}

/// `runs/update`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunChange {
    /// Id.
    #[serde(deserialize_with = "de::required")]
    pub run_id: String,
    /// New status.
    #[serde(
        default,
        deserialize_with = "de::opt_status",
        skip_serializing_if = "none"
    )]
    pub status: Option<RunStatus>,
    /// New end time, ms.
    #[serde(default, deserialize_with = "de::int", skip_serializing_if = "none")]
    pub end_time: Option<i64>,
    /// New name.
    #[serde(default, deserialize_with = "de::text", skip_serializing_if = "none")]
    pub run_name: Option<String>,
}

/// `runs/log-metric`: a run and one metric point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunMetric {
    /// Id.
    #[serde(deserialize_with = "de::required")]
    pub run_id: String,
    /// Key.
    #[serde(deserialize_with = "de::required")]
    pub key: String,
    /// Value.
    #[serde(with = "double")]
    pub value: f64,
    /// Milliseconds since the epoch.
    #[serde(deserialize_with = "de::required_int")]
    pub timestamp: i64,
    /// Step (default 0).
    #[serde(default, deserialize_with = "de::int_or_zero")]
    pub step: i64,
    /// The logged model (and dataset) it belongs to too (MLflow 3).
    #[serde(flatten)]
    pub link: ModelLink,
}

/// `runs/log-parameter` and `runs/set-tag`: a run, a key and a value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunKeyValue {
    /// Id.
    #[serde(deserialize_with = "de::required")]
    pub run_id: String,
    /// Key.
    #[serde(deserialize_with = "de::required")]
    pub key: String,
    /// Value.
    #[serde(default, deserialize_with = "de::text_or_empty")]
    pub value: String,
}

/// `runs/delete-tag`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunKey {
    /// Id.
    #[serde(deserialize_with = "de::required")]
    pub run_id: String,
    /// Key.
    #[serde(deserialize_with = "de::required")]
    pub key: String,
}

/// `runs/log-batch`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunBatch {
    /// Id.
    #[serde(deserialize_with = "de::required")]
    pub run_id: String,
    /// Metric points.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<Metric>,
    /// Params.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<KeyValue>,
    /// Tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<KeyValue>,
}

/// `metrics/get-history`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricHistory {
    /// Run.
    #[serde(deserialize_with = "de::required")]
    pub run_id: String,
    /// Metric key.
    #[serde(deserialize_with = "de::required")]
    pub metric_key: String,
    /// Page size (no paging when absent).
    #[serde(default, deserialize_with = "de::int", skip_serializing_if = "none")]
    pub max_results: Option<i64>,
    /// Token of the page to read.
    #[serde(default, deserialize_with = "de::text", skip_serializing_if = "none")]
    pub page_token: Option<String>,
}

/// `artifacts/list`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArtifactList {
    /// Run.
    #[serde(deserialize_with = "de::required")]
    pub run_id: String,
    /// Directory below the run's root (the root when absent).
    #[serde(default, deserialize_with = "de::text", skip_serializing_if = "none")]
    pub path: Option<String>,
}

/// The artifact proxy's listing request: `GET ...artifacts?path=<dir>`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProxyList {
    /// Directory below the artifacts destination (the root when absent).
    #[serde(default, deserialize_with = "de::text", skip_serializing_if = "none")]
    pub path: Option<String>,
}

// ---------------------------------------------------------------------------------------
// Answers.

/// `experiments/create`'s answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExperimentCreated {
    /// The new experiment's id.
    #[serde(deserialize_with = "de::required")]
    pub experiment_id: ExperimentId,
}

/// One experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExperimentReply {
    /// The experiment.
    pub experiment: Experiment,
}

/// A page of experiments.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExperimentsPage {
    /// Experiments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub experiments: Vec<Experiment>,
    /// Token of the next page, when there is one.
    #[serde(default, deserialize_with = "de::text", skip_serializing_if = "none")]
    pub next_page_token: Option<String>,
}

/// One run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReply {
    /// The run.
    pub run: Run,
}

/// One run's info.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfoReply {
    /// The info.
    pub run_info: RunInfo,
}

/// A page of runs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunsPage {
    /// Runs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runs: Vec<Run>,
    /// Token of the next page, when there is one.
    #[serde(default, deserialize_with = "de::text", skip_serializing_if = "none")]
    pub next_page_token: Option<String>,
}

/// A page of metric points.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MetricsPage {
    /// Points.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<Metric>,
    /// Token of the next page, when there is one.
    #[serde(default, deserialize_with = "de::text", skip_serializing_if = "none")]
    pub next_page_token: Option<String>,
}

/// `artifacts/list`'s answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactListing {
    /// The run's artifact URI.
    #[serde(default, deserialize_with = "de::text_or_empty")]
    pub root_uri: String,
    /// Entries, paths relative to the run root.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<FileInfo>,
}

/// The artifact proxy's listing: entries as basenames.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProxyListing {
    /// Entries.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<FileInfo>,
}

// ---------------------------------------------------------------------------------------
// Model conversions.

impl From<&model::Tag> for KeyValue {
    fn from(t: &model::Tag) -> Self {
        KeyValue {
            key: t.key.clone(),
            value: t.value.clone(),
        }
    }
}

impl From<&model::Param> for KeyValue {
    fn from(p: &model::Param) -> Self {
        KeyValue {
            key: p.key.clone(),
            value: p.value.clone(),
        }
    }
}

impl From<KeyValue> for model::Tag {
    fn from(kv: KeyValue) -> Self {
        model::Tag::new(kv.key, kv.value)
    }
}

impl From<KeyValue> for model::Param {
    fn from(kv: KeyValue) -> Self {
        model::Param::new(kv.key, kv.value)
    }
}

impl From<&model::Metric> for Metric {
    fn from(m: &model::Metric) -> Self {
        Metric {
            key: m.key.clone(),
            value: m.value,
            timestamp: m.timestamp,
            step: m.step,
            link: ModelLink::default(),
            run_id: None,
        }
    }
}

impl From<&model::LoggedModelMetric> for Metric {
    fn from(m: &model::LoggedModelMetric) -> Self {
        Metric {
            link: ModelLink {
                model_id: Some(m.model_id.clone()),
                dataset_name: m.dataset_name.clone(),
                dataset_digest: m.dataset_digest.clone(),
            },
            run_id: Some(m.run_id.clone()),
            ..Metric::from(&m.metric)
        }
    }
}

impl Metric {
    /// The point as a metric of the logged model it names, if it names one, logged by run
    /// `run_id`.
    pub fn for_model(&self, run_id: &str) -> Option<model::LoggedModelMetric> {
        Some(model::LoggedModelMetric {
            model_id: self.link.model_id.clone()?,
            run_id: run_id.to_string(),
            metric: self.clone().into(),
            dataset_name: self.link.dataset_name.clone(),
            dataset_digest: self.link.dataset_digest.clone(),
        })
    }
}

impl From<Metric> for model::Metric {
    fn from(m: Metric) -> Self {
        model::Metric {
            key: m.key,
            value: m.value,
            timestamp: m.timestamp,
            step: m.step,
        }
    }
}

impl From<RunMetric> for Metric {
    fn from(m: RunMetric) -> Self {
        Metric {
            key: m.key,
            value: m.value,
            timestamp: m.timestamp,
            step: m.step,
            link: m.link,
            run_id: None,
        }
    }
}

/// `items` converted one by one.
pub fn all<'a, T: 'a, U: From<&'a T>>(items: &'a [T]) -> Vec<U> {
    items.iter().map(U::from).collect()
}

/// `items` converted one by one, by value.
pub fn into_all<T, U: From<T>>(items: Vec<T>) -> Vec<U> {
    items.into_iter().map(U::from).collect()
}

impl From<&model::Experiment> for Experiment {
    fn from(e: &model::Experiment) -> Self {
        Experiment {
            experiment_id: e.experiment_id.clone(),
            name: e.name.clone(),
            artifact_location: e.artifact_location.clone(),
            lifecycle_stage: e.lifecycle_stage,
            last_update_time: e.last_update_time,
            creation_time: e.creation_time,
            tags: all(&e.tags),
        }
    }
}

impl From<Experiment> for model::Experiment {
    fn from(e: Experiment) -> Self {
        model::Experiment {
            experiment_id: e.experiment_id,
            name: e.name,
            artifact_location: e.artifact_location,
            lifecycle_stage: e.lifecycle_stage,
            creation_time: e.creation_time,
            last_update_time: e.last_update_time,
            tags: into_all(e.tags),
        }
    }
}

impl From<&model::RunInfo> for RunInfo {
    fn from(i: &model::RunInfo) -> Self {
        RunInfo {
            run_id: i.run_id.clone(),
            run_uuid: i.run_id.clone(),
            run_name: i.run_name.clone(),
            experiment_id: i.experiment_id.clone(),
            user_id: i.user_id.clone(),
            status: i.status,
            start_time: i.start_time,
            end_time: i.end_time,
            artifact_uri: i.artifact_uri.clone(),
            lifecycle_stage: i.lifecycle_stage,
        }
    }
}

impl From<RunInfo> for model::RunInfo {
    fn from(i: RunInfo) -> Self {
        model::RunInfo {
            run_id: if i.run_id.is_empty() {
                i.run_uuid
            } else {
                i.run_id
            },
            experiment_id: i.experiment_id,
            run_name: i.run_name,
            user_id: i.user_id,
            status: i.status,
            start_time: i.start_time,
            end_time: i.end_time,
            artifact_uri: i.artifact_uri,
            lifecycle_stage: i.lifecycle_stage,
        }
    }
}

impl From<&model::Run> for Run {
    fn from(r: &model::Run) -> Self {
        Run {
            info: RunInfo::from(&r.info),
            data: RunData {
                metrics: all(&r.data.metrics),
                params: all(&r.data.params),
                tags: all(&r.data.tags),
            },
            inputs: RunInputs {
                dataset_inputs: all(&r.inputs.dataset_inputs),
            },
            outputs: Empty {},
        }
    }
}

impl From<Run> for model::Run {
    /// The data sorted by key, as every store gives it.
    fn from(r: Run) -> Self {
        let mut data = model::RunData {
            metrics: into_all(r.data.metrics),
            params: into_all(r.data.params),
            tags: into_all(r.data.tags),
        };
        data.metrics.sort_by(|a, b| a.key.cmp(&b.key));
        data.params.sort_by(|a, b| a.key.cmp(&b.key));
        data.tags.sort_by(|a, b| a.key.cmp(&b.key));
        model::Run {
            info: r.info.into(),
            data,
            inputs: model::RunInputs {
                dataset_inputs: into_all(r.inputs.dataset_inputs),
            },
        }
    }
}

impl From<&model::FileInfo> for FileInfo {
    fn from(f: &model::FileInfo) -> Self {
        FileInfo {
            path: f.path.clone(),
            is_dir: f.is_dir,
            file_size: f.file_size.map(|n| i64::try_from(n).unwrap_or(i64::MAX)),
        }
    }
}

// ---------------------------------------------------------------------------------------
// GET queries.

/// `path` with each `{name}` replaced by the field `name` of `fields`, percent-encoded
/// (MLflow 3's calls name their entity in the path).
pub fn fill_path(path: &str, fields: &Value) -> String {
    let mut out = String::with_capacity(path.len());
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        let Some(len) = rest[start..].find('}') else {
            break;
        };
        out.push_str(&rest[..start]);
        let value = match fields.get(&rest[start + 1..start + len]) {
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => String::new(),
        };
        out.extend(percent_encoding::utf8_percent_encode(
            &value,
            percent_encoding::NON_ALPHANUMERIC,
        ));
        rest = &rest[start + len + 1..];
    }
    out.push_str(rest);
    out
}

/// A GET call's fields as query pairs: lists become repeated keys, absent fields are left
/// out.
pub fn to_query<T: Serialize>(fields: &T) -> serde_json::Result<Vec<(String, String)>> {
    let Value::Object(map) = serde_json::to_value(fields)? else {
        return Err(serde_json::Error::custom("query fields must be an object"));
    };
    let mut pairs = Vec::new();
    for (key, value) in map {
        let items = match value {
            Value::Array(items) => items,
            one => vec![one],
        };
        for item in items {
            match item {
                Value::Null => {}
                Value::String(s) => pairs.push((key.clone(), s)),
                other => pairs.push((key.clone(), other.to_string())),
            }
        }
    }
    Ok(pairs)
}

// ---------------------------------------------------------------------------------------
// Field problems: how a field deserializer tells the server what to answer.

/// What was wrong with a request field, read back from a deserialization error by
/// [`FieldProblem::of`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldProblem {
    /// A required field is absent, `null` or empty.
    Missing,
    /// A field holds something else than expected.
    Invalid {
        /// The value as JSON.
        value: String,
        /// What is expected, e.g. `an integer is expected.`.
        hint: String,
    },
}

/// Marks a field problem in an error message (a control character JSON text never holds).
const MARK: char = '\u{1f}';

impl FieldProblem {
    fn error<E: serde::de::Error>(self) -> E {
        match self {
            FieldProblem::Missing => E::custom(format_args!("{MARK}missing")),
            FieldProblem::Invalid { value, hint } => {
                E::custom(format_args!("{MARK}{value}{MARK}{hint}"))
            }
        }
    }

    fn invalid<E: serde::de::Error>(value: &Value, hint: &str) -> E {
        FieldProblem::Invalid {
            value: value.to_string(),
            hint: hint.to_string(),
        }
        .error()
    }

    /// The problem a deserialization error message reports, and the name of the field it
    /// concerns when the message names one (serde's "missing field `x`"; the path of the
    /// error names the others).
    pub fn of(message: &str) -> Option<(FieldProblem, Option<&str>)> {
        if let Some(field) = message
            .strip_prefix("missing field `")
            .and_then(|m| m.strip_suffix('`'))
        {
            return Some((FieldProblem::Missing, Some(field)));
        }
        let rest = message.strip_prefix(MARK)?;
        if rest == "missing" {
            return Some((FieldProblem::Missing, None));
        }
        let (value, hint) = rest.split_once(MARK)?;
        Some((
            FieldProblem::Invalid {
                value: value.to_string(),
                hint: hint.to_string(),
            },
            None,
        ))
    }
}

/// Tolerant field deserializers (see the module docs); public so that other endpoints of
/// the server read their fields the same way.
pub mod de {
    use super::{FieldProblem, Value};
    use crate::tracking::model::{self, LifecycleStage, RunStatus, ViewType};
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer};

    /// The text of a scalar (numbers and booleans as written); `None` for null and `""`.
    fn scalar_text<E: serde::de::Error>(v: Value, hint: &str) -> Result<Option<String>, E> {
        match v {
            Value::Null => Ok(None),
            Value::String(s) if s.is_empty() => Ok(None),
            Value::String(s) => Ok(Some(s)),
            Value::Number(n) => Ok(Some(n.to_string())),
            Value::Bool(b) => Ok(Some(b.to_string())),
            Value::Array(mut a) if a.len() == 1 => scalar_text(a.remove(0), hint),
            other => Err(FieldProblem::invalid(&other, hint)),
        }
    }

    /// An optional string (or id); null and `""` are `None`.
    pub fn text<'de, D: Deserializer<'de>, T: From<String>>(d: D) -> Result<Option<T>, D::Error> {
        Ok(scalar_text(Value::deserialize(d)?, "a string is expected.")?.map(T::from))
    }

    /// A string that may be absent or empty.
    pub fn text_or_empty<'de, D: Deserializer<'de>, T: From<String>>(d: D) -> Result<T, D::Error> {
        Ok(T::from(text::<D, String>(d)?.unwrap_or_default()))
    }

    /// A required string: null or `""` is missing.
    pub fn required<'de, D: Deserializer<'de>, T: From<String>>(d: D) -> Result<T, D::Error> {
        text(d)?.ok_or_else(|| FieldProblem::Missing.error())
    }

    /// A list of strings: a list, or one value.
    pub fn text_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
        let items = match Value::deserialize(d)? {
            Value::Array(items) => items,
            one => vec![one],
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            match item {
                Value::Null => {}
                Value::String(s) => out.push(s),
                other => out.extend(scalar_text(other, "a list of strings is expected.")?),
            }
        }
        Ok(out)
    }

    /// An optional int64: a JSON integer (or a float without fraction) or a numeric string.
    pub fn int<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        let v = Value::deserialize(d)?;
        let bad = |v: &Value| FieldProblem::invalid(v, "an integer is expected.");
        match &v {
            Value::Null => Ok(None),
            Value::String(s) if s.is_empty() => Ok(None),
            Value::String(s) => s.trim().parse().map(Some).map_err(|_| bad(&v)),
            Value::Number(n) => n
                .as_i64()
                .or_else(|| {
                    n.as_f64()
                        .filter(|f| f.fract() == 0.0 && f.abs() < 9.2e18)
                        .map(|f| f as i64)
                })
                .map(Some)
                .ok_or_else(|| bad(&v)),
            _ => Err(bad(&v)),
        }
    }

    /// A required int64.
    pub fn required_int<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        int(d)?.ok_or_else(|| FieldProblem::Missing.error())
    }

    /// An int64 that is 0 when absent.
    pub fn int_or_zero<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        Ok(int(d)?.unwrap_or(0))
    }

    /// An optional count (a non-negative integer, as [`int`] reads integers).
    pub fn count<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        let v = Value::deserialize(d)?;
        let n = int::<serde_json::Value>(v.clone())
            .map_err(|_| FieldProblem::invalid(&v, "a non-negative integer is expected."))?;
        n.map(|n| {
            u64::try_from(n)
                .map_err(|_| FieldProblem::invalid(&v, "a non-negative integer is expected."))
        })
        .transpose()
    }

    /// A required count.
    pub fn required_count<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        count(d)?.ok_or_else(|| FieldProblem::Missing.error())
    }

    /// A count that is 0 when absent.
    pub fn count_or_zero<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        Ok(count(d)?.unwrap_or(0))
    }

    /// A list of counts: a list, or one value (a GET query's lone key).
    pub fn count_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u64>, D::Error> {
        let items = match Value::deserialize(d)? {
            Value::Array(items) => items,
            Value::Null => Vec::new(),
            one => vec![one],
        };
        items
            .into_iter()
            .map(|item| required_count::<Value>(item).map_err(D::Error::custom))
            .collect()
    }

    /// An optional double: a number, a numeric string, `"NaN"`, `"Infinity"`,
    /// `"-Infinity"`.
    pub fn double<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        let v = Value::deserialize(d)?;
        let parsed = match &v {
            Value::Null => return Ok(None),
            Value::String(s) if s.is_empty() => return Ok(None),
            Value::String(s) => parse_double(s),
            Value::Number(n) => n.as_f64(),
            _ => None,
        };
        parsed
            .map(Some)
            .ok_or_else(|| FieldProblem::invalid(&v, "a number is expected."))
    }

    /// Parse a double as protobuf JSON does, including `NaN`, `Infinity`, `-Infinity`.
    pub fn parse_double(s: &str) -> Option<f64> {
        match s.trim() {
            "NaN" | "nan" => Some(f64::NAN),
            "Infinity" | "inf" | "+Infinity" => Some(f64::INFINITY),
            "-Infinity" | "-inf" => Some(f64::NEG_INFINITY),
            t => t.parse::<f64>().ok().filter(|f| f.is_finite()),
        }
    }

    /// A run status by name or number; `None` when absent.
    pub fn opt_status<'de, D: Deserializer<'de>>(d: D) -> Result<Option<RunStatus>, D::Error> {
        let v = Value::deserialize(d)?;
        let Some(text) = scalar_text::<D::Error>(v.clone(), "a status is expected.")? else {
            return Ok(None);
        };
        RunStatus::parse(&text).map(Some).ok_or_else(|| {
            FieldProblem::invalid(
                &v,
                "one of RUNNING, SCHEDULED, FINISHED, FAILED, KILLED is expected.",
            )
        })
    }

    /// A run status by name or number; RUNNING when absent.
    pub fn status<'de, D: Deserializer<'de>>(d: D) -> Result<RunStatus, D::Error> {
        Ok(opt_status(d)?.unwrap_or(RunStatus::Running))
    }

    /// A view type by name or number; `None` when absent.
    pub fn view_type<'de, D: Deserializer<'de>>(d: D) -> Result<Option<ViewType>, D::Error> {
        let v = Value::deserialize(d)?;
        let Some(text) = scalar_text::<D::Error>(v.clone(), "a view type is expected.")? else {
            return Ok(None);
        };
        ViewType::parse(&text).map(Some).ok_or_else(|| {
            FieldProblem::invalid(&v, "one of ACTIVE_ONLY, DELETED_ONLY, ALL is expected.")
        })
    }

    /// A logged model's status by name or number.
    pub fn model_status<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<model::LoggedModelStatus, D::Error> {
        let v = Value::deserialize(d)?;
        let text = scalar_text::<D::Error>(v.clone(), "a status is expected.")?;
        text.as_deref()
            .and_then(model::LoggedModelStatus::parse)
            .ok_or_else(|| {
                FieldProblem::invalid(
                    &v,
                    "one of LOGGED_MODEL_PENDING, LOGGED_MODEL_READY, \
                     LOGGED_MODEL_UPLOAD_FAILED is expected.",
                )
            })
    }

    /// A boolean, or its text (`true`/`false`, as a query string has it); false when
    /// absent.
    pub fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
        let v = Value::deserialize(d)?;
        match &v {
            Value::Bool(b) => Ok(*b),
            Value::Null => Ok(false),
            Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(true),
            Value::String(s) if s.eq_ignore_ascii_case("false") || s.is_empty() => Ok(false),
            _ => Err(FieldProblem::invalid(&v, "true or false is expected.")),
        }
    }

    /// `deleted`, or else active.
    pub fn stage<'de, D: Deserializer<'de>>(d: D) -> Result<LifecycleStage, D::Error> {
        Ok(match text::<D, String>(d)?.as_deref() {
            Some("deleted") => LifecycleStage::Deleted,
            _ => LifecycleStage::Active,
        })
    }
}

/// A required double written as protobuf JSON writes it.
mod double {
    use super::*;

    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        if v.is_nan() {
            s.serialize_str("NaN")
        } else if *v == f64::INFINITY {
            s.serialize_str("Infinity")
        } else if *v == f64::NEG_INFINITY {
            s.serialize_str("-Infinity")
        } else {
            s.serialize_f64(*v)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        de::double(d)?.ok_or_else(|| FieldProblem::Missing.error())
    }
}

/// An optional view type written by name.
mod view_type {
    use super::*;

    pub fn serialize<S: Serializer>(v: &Option<ViewType>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.serialize_str(v.as_str()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<ViewType>, D::Error> {
        de::view_type(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_tolerantly() {
        let m: Metric = serde_json::from_value(
            json!({"key": "a", "value": "NaN", "timestamp": "17", "step": 2}),
        )
        .unwrap();
        assert!(m.value.is_nan());
        assert_eq!((m.timestamp, m.step), (17, 2));
        let s: Search = serde_json::from_value(json!({
            "experiment_ids": "1", "run_view_type": 3, "max_results": "5", "order_by": ["a", null]
        }))
        .unwrap();
        assert_eq!(s.experiment_ids, ["1"]);
        assert_eq!(s.run_view_type, Some(ViewType::All));
        assert_eq!(s.max_results, Some(5));
        assert_eq!(s.order_by, ["a"]);
        let r: RunInfo =
            serde_json::from_value(json!({"run_uuid": "x", "status": "FINISHED"})).unwrap();
        let r = model::RunInfo::from(r);
        assert_eq!((r.run_id.as_str(), r.status), ("x", RunStatus::Finished));
    }

    #[test]
    fn problems_read_back() {
        let e = serde_json::from_value::<Metric>(json!({"key": "a", "value": "x", "timestamp": 1}))
            .unwrap_err();
        assert_eq!(
            FieldProblem::of(&e.to_string()),
            Some((
                FieldProblem::Invalid {
                    value: "\"x\"".into(),
                    hint: "a number is expected.".into()
                },
                None
            ))
        );
        let e = serde_json::from_value::<Metric>(json!({"key": "a", "value": 1})).unwrap_err();
        assert_eq!(
            FieldProblem::of(&e.to_string()),
            Some((FieldProblem::Missing, Some("timestamp")))
        );
        let e = serde_json::from_value::<KeyValue>(json!({"key": ""})).unwrap_err();
        assert_eq!(
            FieldProblem::of(&e.to_string()),
            Some((FieldProblem::Missing, None))
        );
    }

    #[test]
    fn writes_like_mlflow() {
        let m = Metric::from(&model::Metric {
            key: "m".into(),
            value: f64::NEG_INFINITY,
            timestamp: 1,
            step: 0,
        });
        assert_eq!(
            serde_json::to_value(&m).unwrap(),
            json!({"key": "m", "value": "-Infinity", "timestamp": 1, "step": 0})
        );
        assert_eq!(serde_json::to_string(&RunsPage::default()).unwrap(), "{}");
        let q = to_query(&MetricHistory {
            run_id: "r".into(),
            metric_key: "a b".into(),
            max_results: Some(3),
            page_token: None,
        })
        .unwrap();
        assert_eq!(
            q,
            [
                ("run_id".to_string(), "r".to_string()),
                ("metric_key".into(), "a b".into()),
                ("max_results".into(), "3".into())
            ]
        );
    }
}

// ---------------------------------------------------------------------------------------
// MLflow 3: dataset inputs and logged models.

/// A dataset.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Dataset {
    /// Name.
    #[serde(deserialize_with = "de::required")]
    pub name: String,
    /// Digest.
    #[serde(deserialize_with = "de::required")]
    pub digest: String,
    /// Kind of source.
    #[serde(default, deserialize_with = "de::text_or_empty")]
    pub source_type: String,
    /// Source, JSON text.
    #[serde(default, deserialize_with = "de::text_or_empty")]
    pub source: String,
    /// Schema, JSON text.
    #[serde(default, deserialize_with = "de::text", skip_serializing_if = "none")]
    pub schema: Option<String>,
    /// Profile, JSON text.
    #[serde(default, deserialize_with = "de::text", skip_serializing_if = "none")]
    pub profile: Option<String>,
}

/// A dataset input of a run.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DatasetInput {
    /// Tags of the input.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<KeyValue>,
    /// The dataset.
    pub dataset: Dataset,
}

/// A run's inputs.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RunInputs {
    /// Dataset inputs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dataset_inputs: Vec<DatasetInput>,
}

/// `runs/log-inputs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunDatasets {
    /// Run.
    #[serde(deserialize_with = "de::required")]
    pub run_id: String,
    /// Datasets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub datasets: Vec<DatasetInput>,
}

/// A logged model's info.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoggedModelInfo {
    /// Id.
    #[serde(deserialize_with = "de::required")]
    pub model_id: String,
    /// Experiment.
    #[serde(default = "no_id", deserialize_with = "de::text_or_empty")]
    pub experiment_id: ExperimentId,
    /// Name.
    #[serde(default, deserialize_with = "de::text_or_empty")]
    pub name: String,
    /// Creation, ms.
    #[serde(default, deserialize_with = "de::int_or_zero")]
    pub creation_timestamp_ms: i64,
    /// Last change, ms.
    #[serde(default, deserialize_with = "de::int_or_zero")]
    pub last_updated_timestamp_ms: i64,
    /// Where its files live.
    #[serde(default, deserialize_with = "de::text_or_empty")]
    pub artifact_uri: String,
    /// Status.
    #[serde(deserialize_with = "de::model_status")]
    pub status: model::LoggedModelStatus,
    /// Kind of model.
    #[serde(default, deserialize_with = "de::text", skip_serializing_if = "none")]
    pub model_type: Option<String>,
    /// Producing run.
    #[serde(default, deserialize_with = "de::text", skip_serializing_if = "none")]
    pub source_run_id: Option<String>,
    /// Status message.
    #[serde(default, deserialize_with = "de::text", skip_serializing_if = "none")]
    pub status_message: Option<String>,
    /// Tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<KeyValue>,
}

/// A logged model's data.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct LoggedModelData {
    /// Params.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<KeyValue>,
    /// Metrics (every point, each with its model, run and dataset).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<Metric>,
}

/// A logged model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoggedModel {
    /// Info.
    pub info: LoggedModelInfo,
    /// Data.
    #[serde(default)]
    pub data: LoggedModelData,
}

/// `{"model": ...}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoggedModelReply {
    /// The model.
    pub model: LoggedModel,
}

/// `POST logged-models`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewLoggedModel {
    /// Experiment.
    #[serde(deserialize_with = "de::required")]
    pub experiment_id: ExperimentId,
    /// Name.
    #[serde(default, deserialize_with = "de::text", skip_serializing_if = "none")]
    pub name: Option<String>,
    /// Kind of model.
    #[serde(default, deserialize_with = "de::text", skip_serializing_if = "none")]
    pub model_type: Option<String>,
    /// Producing run.
    #[serde(default, deserialize_with = "de::text", skip_serializing_if = "none")]
    pub source_run_id: Option<String>,
    /// Params.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<KeyValue>,
    /// Tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<KeyValue>,
}

/// A logged model named in the path (`allow_deleted` on reads).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggedModelRef {
    /// Id.
    #[serde(deserialize_with = "de::required")]
    pub model_id: String,
    /// Also find a deleted model.
    #[serde(default, deserialize_with = "de::flag", skip_serializing_if = "no")]
    pub allow_deleted: bool,
}

/// `PATCH logged-models/<id>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggedModelFinal {
    /// Id.
    #[serde(deserialize_with = "de::required")]
    pub model_id: String,
    /// New status.
    #[serde(deserialize_with = "de::model_status")]
    pub status: model::LoggedModelStatus,
}

/// `PATCH logged-models/<id>/tags` and `POST logged-models/<id>/params`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggedModelKeyValues {
    /// Id.
    #[serde(deserialize_with = "de::required")]
    pub model_id: String,
    /// Tags (tags call).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<KeyValue>,
    /// Params (params call).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<KeyValue>,
}

/// `DELETE logged-models/<id>/tags/<key>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggedModelTagKey {
    /// Id.
    #[serde(deserialize_with = "de::required")]
    pub model_id: String,
    /// Tag key.
    #[serde(deserialize_with = "de::required")]
    pub tag_key: String,
}

/// One order_by entry of `logged-models/search`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggedModelOrder {
    /// Field.
    #[serde(deserialize_with = "de::required")]
    pub field_name: String,
    /// Ascending (default true).
    #[serde(default = "yes", deserialize_with = "de::flag")]
    pub ascending: bool,
    /// For a metric: only its points on the dataset of this name.
    #[serde(default, deserialize_with = "de::text", skip_serializing_if = "none")]
    pub dataset_name: Option<String>,
    /// For a metric: only its points on the dataset of this digest.
    #[serde(default, deserialize_with = "de::text", skip_serializing_if = "none")]
    pub dataset_digest: Option<String>,
}

/// `POST logged-models/search`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LoggedModelSearch {
    /// Experiments.
    #[serde(
        default,
        deserialize_with = "de::text_list",
        skip_serializing_if = "empty"
    )]
    pub experiment_ids: Vec<String>,
    /// Filter.
    #[serde(default, deserialize_with = "de::text", skip_serializing_if = "none")]
    pub filter: Option<String>,
    /// Page size.
    #[serde(default, deserialize_with = "de::int", skip_serializing_if = "none")]
    pub max_results: Option<i64>,
    /// Order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub order_by: Vec<LoggedModelOrder>,
    /// Page token.
    #[serde(default, deserialize_with = "de::text", skip_serializing_if = "none")]
    pub page_token: Option<String>,
}

/// A page of logged models.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct LoggedModelsPage {
    /// Models.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<LoggedModel>,
    /// Next page.
    #[serde(default, deserialize_with = "de::text", skip_serializing_if = "none")]
    pub next_page_token: Option<String>,
}

// ---------------------------------------------------------------------------------------
// The model registry.

/// A registered model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegisteredModel {
    /// Name.
    #[serde(deserialize_with = "de::required")]
    pub name: String,
    /// Creation, ms.
    #[serde(default, deserialize_with = "de::int_or_zero")]
    pub creation_timestamp: i64,
    /// Last change, ms.
    #[serde(default, deserialize_with = "de::int_or_zero")]
    pub last_updated_timestamp: i64,
    /// Description.
    #[serde(default, deserialize_with = "de::text", skip_serializing_if = "none")]
    pub description: Option<String>,
    /// Tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<KeyValue>,
    /// Aliases.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<Alias>,
    /// The latest version in each stage.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub latest_versions: Vec<ModelVersion>,
}

/// An alias of a registered model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alias {
    /// Alias.
    #[serde(deserialize_with = "de::required")]
    pub alias: String,
    /// Version, as text.
    #[serde(deserialize_with = "de::required")]
    pub version: String,
}

/// A model version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelVersion {
    /// Registered model.
    #[serde(deserialize_with = "de::required")]
    pub name: String,
    /// Version, as text.
    #[serde(deserialize_with = "de::required")]
    pub version: String,
    /// Creation, ms.
    #[serde(default, deserialize_with = "de::int_or_zero")]
    pub creation_timestamp: i64,
    /// Last change, ms.
    #[serde(default, deserialize_with = "de::int_or_zero")]
    pub last_updated_timestamp: i64,
    /// Stage.
    #[serde(default, deserialize_with = "de::text_or_empty")]
    pub current_stage: String,
    /// Description.
    #[serde(default, deserialize_with = "de::text", skip_serializing_if = "none")]
    pub description: Option<String>,
    /// Source.
    #[serde(default, deserialize_with = "de::text_or_empty")]
    pub source: String,
    /// Producing run.
    #[serde(default, deserialize_with = "de::text", skip_serializing_if = "none")]
    pub run_id: Option<String>,
    /// Logged model.
    #[serde(default, deserialize_with = "de::text", skip_serializing_if = "none")]
    pub model_id: Option<String>,
    /// Registration status (always `READY`).
    #[serde(default, deserialize_with = "de::text_or_empty")]
    pub status: String,
    /// Tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<KeyValue>,
    /// Aliases.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
}

/// `{"model_version": ...}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelVersionReply {
    /// The version.
    pub model_version: ModelVersion,
}

/// `model-versions/create`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewModelVersion {
    /// Registered model.
    #[serde(deserialize_with = "de::required")]
    pub name: String,
    /// Source.
    #[serde(deserialize_with = "de::required")]
    pub source: String,
    /// Producing run.
    #[serde(default, deserialize_with = "de::text", skip_serializing_if = "none")]
    pub run_id: Option<String>,
    /// Logged model.
    #[serde(default, deserialize_with = "de::text", skip_serializing_if = "none")]
    pub model_id: Option<String>,
    /// Description.
    #[serde(default, deserialize_with = "de::text", skip_serializing_if = "none")]
    pub description: Option<String>,
    /// Tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<KeyValue>,
}

/// A model version by name and version (`get`, `delete`, `get-download-uri`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelVersionRef {
    /// Registered model.
    #[serde(deserialize_with = "de::required")]
    pub name: String,
    /// Version, as text.
    #[serde(deserialize_with = "de::required")]
    pub version: String,
}

/// `model-versions/update`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelVersionDescription {
    /// Registered model.
    #[serde(deserialize_with = "de::required")]
    pub name: String,
    /// Version, as text.
    #[serde(deserialize_with = "de::required")]
    pub version: String,
    /// New description (absent: empty).
    #[serde(default, deserialize_with = "de::text_or_empty")]
    pub description: String,
}

/// `model-versions/set-tag`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelVersionTag {
    /// Registered model.
    #[serde(deserialize_with = "de::required")]
    pub name: String,
    /// Version, as text.
    #[serde(deserialize_with = "de::required")]
    pub version: String,
    /// Tag key.
    #[serde(deserialize_with = "de::required")]
    pub key: String,
    /// Tag value.
    #[serde(default, deserialize_with = "de::text_or_empty")]
    pub value: String,
}

/// `model-versions/delete-tag`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelVersionTagKey {
    /// Registered model.
    #[serde(deserialize_with = "de::required")]
    pub name: String,
    /// Version, as text.
    #[serde(deserialize_with = "de::required")]
    pub version: String,
    /// Tag key.
    #[serde(deserialize_with = "de::required")]
    pub key: String,
}

/// A page of model versions.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ModelVersionsPage {
    /// Versions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub model_versions: Vec<ModelVersion>,
    /// Next page.
    #[serde(default, deserialize_with = "de::text", skip_serializing_if = "none")]
    pub next_page_token: Option<String>,
}

/// `{"artifact_uri": ...}` of `model-versions/get-download-uri`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DownloadUri {
    /// Where the files are.
    #[serde(deserialize_with = "de::required")]
    pub artifact_uri: String,
}

/// `registered-models/alias` (POST).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AliasVersion {
    /// Registered model.
    #[serde(deserialize_with = "de::required")]
    pub name: String,
    /// Alias.
    #[serde(deserialize_with = "de::required")]
    pub alias: String,
    /// Version, as text.
    #[serde(deserialize_with = "de::required")]
    pub version: String,
}

/// `model-versions/transition-stage`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageTransition {
    /// Registered model.
    #[serde(deserialize_with = "de::required")]
    pub name: String,
    /// Version, as text.
    #[serde(deserialize_with = "de::required")]
    pub version: String,
    /// New stage, any case (`None`, `Staging`, `Production`, `Archived`).
    #[serde(deserialize_with = "de::required")]
    pub stage: String,
    /// Move the other versions in that stage to Archived.
    #[serde(default, deserialize_with = "de::flag")]
    pub archive_existing_versions: bool,
}

/// `registered-models/get-latest-versions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatestVersions {
    /// Registered model.
    #[serde(deserialize_with = "de::required")]
    pub name: String,
    /// Stages (every stage when empty).
    #[serde(
        default,
        deserialize_with = "de::text_list",
        skip_serializing_if = "empty"
    )]
    pub stages: Vec<String>,
}

/// `registered-models/alias` (GET, DELETE).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AliasRef {
    /// Registered model.
    #[serde(deserialize_with = "de::required")]
    pub name: String,
    /// Alias.
    #[serde(deserialize_with = "de::required")]
    pub alias: String,
}

impl From<&model::ModelVersion> for ModelVersion {
    fn from(v: &model::ModelVersion) -> Self {
        ModelVersion {
            name: v.name.clone(),
            version: v.version.to_string(),
            creation_timestamp: v.creation_timestamp_ms,
            last_updated_timestamp: v.last_updated_timestamp_ms,
            current_stage: v.current_stage.clone(),
            description: v.description.clone(),
            source: v.source.clone(),
            run_id: v.run_id.clone(),
            model_id: v.model_id.clone(),
            status: "READY".into(),
            tags: all(&v.tags),
            aliases: v.aliases.clone(),
        }
    }
}

impl TryFrom<ModelVersion> for model::ModelVersion {
    type Error = super::store::StoreError;
    fn try_from(v: ModelVersion) -> Result<Self, Self::Error> {
        Ok(model::ModelVersion {
            version: super::store::parse_version(&v.version)?,
            name: v.name,
            source: v.source,
            run_id: v.run_id,
            model_id: v.model_id,
            description: v.description,
            current_stage: v.current_stage,
            creation_timestamp_ms: v.creation_timestamp,
            last_updated_timestamp_ms: v.last_updated_timestamp,
            tags: into_all(v.tags),
            aliases: v.aliases,
        })
    }
}

/// `{"registered_model": ...}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegisteredModelReply {
    /// The model.
    pub registered_model: RegisteredModel,
}

/// `registered-models/create`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewRegisteredModel {
    /// Name.
    #[serde(deserialize_with = "de::required")]
    pub name: String,
    /// Tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<KeyValue>,
    /// Description.
    #[serde(default, deserialize_with = "de::text", skip_serializing_if = "none")]
    pub description: Option<String>,
}

/// A registered model by name (`get`, `delete`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisteredModelRef {
    /// Name.
    #[serde(deserialize_with = "de::required")]
    pub name: String,
}

/// `registered-models/rename`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisteredModelRename {
    /// Current name.
    #[serde(deserialize_with = "de::required")]
    pub name: String,
    /// New name.
    #[serde(deserialize_with = "de::required")]
    pub new_name: String,
}

/// `registered-models/update`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisteredModelDescription {
    /// Name.
    #[serde(deserialize_with = "de::required")]
    pub name: String,
    /// New description (absent: empty).
    #[serde(default, deserialize_with = "de::text_or_empty")]
    pub description: String,
}

/// `registered-models/set-tag`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisteredModelTag {
    /// Name.
    #[serde(deserialize_with = "de::required")]
    pub name: String,
    /// Tag key.
    #[serde(deserialize_with = "de::required")]
    pub key: String,
    /// Tag value.
    #[serde(default, deserialize_with = "de::text_or_empty")]
    pub value: String,
}

/// `registered-models/delete-tag`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisteredModelTagKey {
    /// Name.
    #[serde(deserialize_with = "de::required")]
    pub name: String,
    /// Tag key.
    #[serde(deserialize_with = "de::required")]
    pub key: String,
}

/// `registered-models/search` and `model-versions/search`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RegisteredModelSearch {
    /// Filter.
    #[serde(default, deserialize_with = "de::text", skip_serializing_if = "none")]
    pub filter: Option<String>,
    /// Page size.
    #[serde(default, deserialize_with = "de::int", skip_serializing_if = "none")]
    pub max_results: Option<i64>,
    /// order_by entries.
    #[serde(
        default,
        deserialize_with = "de::text_list",
        skip_serializing_if = "empty"
    )]
    pub order_by: Vec<String>,
    /// Page token.
    #[serde(default, deserialize_with = "de::text", skip_serializing_if = "none")]
    pub page_token: Option<String>,
}

/// A page of registered models.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RegisteredModelsPage {
    /// Models.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub registered_models: Vec<RegisteredModel>,
    /// Next page.
    #[serde(default, deserialize_with = "de::text", skip_serializing_if = "none")]
    pub next_page_token: Option<String>,
}

impl From<&model::RegisteredModel> for RegisteredModel {
    fn from(m: &model::RegisteredModel) -> Self {
        RegisteredModel {
            name: m.name.clone(),
            creation_timestamp: m.creation_timestamp_ms,
            last_updated_timestamp: m.last_updated_timestamp_ms,
            description: m.description.clone(),
            tags: all(&m.tags),
            aliases: m
                .aliases
                .iter()
                .map(|a| Alias {
                    alias: a.alias.clone(),
                    version: a.version.to_string(),
                })
                .collect(),
            latest_versions: all(&m.latest_versions),
        }
    }
}

impl TryFrom<RegisteredModel> for model::RegisteredModel {
    type Error = super::store::StoreError;
    fn try_from(m: RegisteredModel) -> Result<Self, Self::Error> {
        Ok(model::RegisteredModel {
            name: m.name,
            description: m.description,
            creation_timestamp_ms: m.creation_timestamp,
            last_updated_timestamp_ms: m.last_updated_timestamp,
            tags: into_all(m.tags),
            aliases: m
                .aliases
                .into_iter()
                .map(|a| {
                    Ok(model::ModelAlias {
                        version: super::store::parse_version(&a.version)?,
                        alias: a.alias,
                    })
                })
                .collect::<Result<_, Self::Error>>()?,
            latest_versions: m
                .latest_versions
                .into_iter()
                .map(model::ModelVersion::try_from)
                .collect::<Result<_, Self::Error>>()?,
        })
    }
}

fn yes() -> bool {
    true
}

fn no(v: &bool) -> bool {
    !*v
}

impl From<&model::Dataset> for Dataset {
    fn from(d: &model::Dataset) -> Self {
        Dataset {
            name: d.name.clone(),
            digest: d.digest.clone(),
            source_type: d.source_type.clone(),
            source: d.source.clone(),
            schema: d.schema.clone(),
            profile: d.profile.clone(),
        }
    }
}

impl From<Dataset> for model::Dataset {
    fn from(d: Dataset) -> Self {
        model::Dataset {
            name: d.name,
            digest: d.digest,
            source_type: d.source_type,
            source: d.source,
            schema: d.schema,
            profile: d.profile,
        }
    }
}

impl From<&model::DatasetInput> for DatasetInput {
    fn from(i: &model::DatasetInput) -> Self {
        DatasetInput {
            tags: all(&i.tags),
            dataset: Dataset::from(&i.dataset),
        }
    }
}

impl From<DatasetInput> for model::DatasetInput {
    fn from(i: DatasetInput) -> Self {
        model::DatasetInput {
            dataset: i.dataset.into(),
            tags: into_all(i.tags),
        }
    }
}

impl From<&model::LoggedModel> for LoggedModel {
    fn from(m: &model::LoggedModel) -> Self {
        LoggedModel {
            info: LoggedModelInfo {
                model_id: m.model_id.clone(),
                experiment_id: m.experiment_id.clone(),
                name: m.name.clone(),
                creation_timestamp_ms: m.creation_timestamp_ms,
                last_updated_timestamp_ms: m.last_updated_timestamp_ms,
                artifact_uri: m.artifact_uri.clone(),
                status: m.status,
                model_type: m.model_type.clone(),
                source_run_id: m.source_run_id.clone(),
                status_message: m.status_message.clone(),
                tags: all(&m.tags),
            },
            data: LoggedModelData {
                params: all(&m.params),
                metrics: all(&m.metrics),
            },
        }
    }
}

impl From<LoggedModel> for model::LoggedModel {
    fn from(m: LoggedModel) -> Self {
        let i = m.info;
        model::LoggedModel {
            model_id: i.model_id,
            experiment_id: i.experiment_id,
            name: i.name,
            artifact_uri: i.artifact_uri,
            status: i.status,
            status_message: i.status_message,
            model_type: i.model_type,
            source_run_id: i.source_run_id,
            creation_timestamp_ms: i.creation_timestamp_ms,
            last_updated_timestamp_ms: i.last_updated_timestamp_ms,
            lifecycle_stage: LifecycleStage::Active,
            tags: into_all(i.tags),
            params: into_all(m.data.params),
            metrics: m
                .data
                .metrics
                .iter()
                .filter_map(|p| p.for_model(p.run_id.as_deref().unwrap_or_default()))
                .collect(),
        }
    }
}

/// A model output of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelOutput {
    /// The model.
    #[serde(deserialize_with = "de::required")]
    pub model_id: String,
    /// Step.
    #[serde(default, deserialize_with = "de::int_or_zero")]
    pub step: i64,
}

/// `runs/outputs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunModels {
    /// Run.
    #[serde(deserialize_with = "de::required")]
    pub run_id: String,
    /// Models.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<ModelOutput>,
}

impl From<&model::ModelOutput> for ModelOutput {
    fn from(o: &model::ModelOutput) -> Self {
        ModelOutput {
            model_id: o.model_id.clone(),
            step: o.step,
        }
    }
}

impl From<ModelOutput> for model::ModelOutput {
    fn from(o: ModelOutput) -> Self {
        model::ModelOutput {
            model_id: o.model_id,
            step: o.step,
        }
    }
}
