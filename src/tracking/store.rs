//! The [`Store`] trait every tracking backend implements, its error type, and the
//! validation rules and helpers all stores share (so every store enforces the same limits).

use super::artifacts::ArtifactRepo;
use super::model::*;
use super::selected::{SelectedRuns, SelectedRunsBuilder};
use std::cmp::Ordering;

/// Result alias of the tracking module.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Everything that can go wrong in tracking. Each variant maps to an MLflow error code
/// through [`StoreError::error_code`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A run, experiment, tag or artifact does not exist.
    #[error("{0}")]
    NotFound(String),
    /// An experiment with that name exists (active or deleted).
    #[error("{0}")]
    AlreadyExists(String),
    /// A request was invalid: bad key or value, param change, batch limits, write to a
    /// deleted run, bad page token.
    #[error("{0}")]
    InvalidParameter(String),
    /// A filter or order_by string could not be parsed or is not supported.
    #[error("invalid search: {0}")]
    InvalidFilter(String),
    /// The entity is in a state that forbids the operation (e.g. renaming a deleted
    /// experiment).
    #[error("{0}")]
    InvalidState(String),
    /// An artifact path escapes the run's artifact directory or is otherwise unusable.
    #[error("invalid artifact path '{path}': {reason}")]
    InvalidArtifactPath {
        /// The offending path.
        path: String,
        /// Why it was rejected and what is accepted.
        reason: String,
    },
    /// The tracking URI names a backend this build does not support.
    #[error("tracking URI '{uri}' is not supported: {reason}")]
    UnsupportedUri {
        /// The URI.
        uri: String,
        /// What is supported instead.
        reason: String,
    },
    /// A run's artifact URI names a location hyperflow cannot read or write (such as
    /// `s3://...`), or one this store cannot reach.
    #[error("artifact URI '{uri}' is not supported: {reason}")]
    UnsupportedArtifactUri {
        /// The URI.
        uri: String,
        /// Why, and what is supported.
        reason: String,
    },
    /// The database was written by a newer hyperflow.
    #[error(
        "database {path} has schema version {found}, but this hyperflow supports at most \
         version {supported}; upgrade hyperflow to open it"
    )]
    SchemaTooNew {
        /// Database path.
        path: String,
        /// Version found in the file.
        found: i64,
        /// Newest version this build understands.
        supported: i64,
    },
    /// The SQLite file is MLflow's own tracking database: hyperflow reads it only to import
    /// it, and never writes into it.
    #[error(
        "{path} is an MLflow tracking database (alembic revision {revision}); hyperflow does \
         not write into it: run `hyperflow import sqlite:///{path}` to copy its history into \
         a hyperflow store, or point --tracking-uri elsewhere"
    )]
    MlflowDatabase {
        /// The database path.
        path: String,
        /// Its alembic revision (MLflow's schema version).
        revision: String,
    },
    /// A database opened read-only is older than what this build reads without migrating.
    #[error(
        "database {path} has schema version {found}, older than version {readable}, the \
         oldest this hyperflow reads as it is; it was opened read-only, so it was not \
         upgraded. Open it once for writing to upgrade it in place: run a hyperflow command \
         that writes to it with this tracking URI (such as a sweep, or `hyperflow \
         experiments create NAME`), or open it with OpenMode::ReadWrite"
    )]
    SchemaTooOld {
        /// Database path.
        path: String,
        /// Version found in the file.
        found: i64,
        /// Oldest version read without migrating.
        readable: i64,
    },
    /// A store opened for reading names a database that does not exist (or holds nothing).
    #[error(
        "no tracking database at {path}: nothing has been logged there yet (the first run \
         logged with this tracking URI creates it); check the tracking URI if runs were \
         logged elsewhere"
    )]
    NoDatabase {
        /// The database path.
        path: String,
    },
    /// The database, or its folder, cannot be read or written as asked: file permissions, a
    /// read-only file system, or a store opened read-only.
    #[error("{path} is not {access}: {reason}")]
    NotAccessible {
        /// The file or folder.
        path: String,
        /// `readable` or `writable`.
        access: &'static str,
        /// Why, and what would work.
        reason: String,
    },
    /// File system error.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, with the path.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Serialization error (JSON artifacts, exports).
    #[error("{0}")]
    Serialization(String),
    /// An error answered by a remote tracking server (the REST store), with the MLflow
    /// error code and HTTP status it sent.
    #[error("{message}")]
    Remote {
        /// The server's `error_code` (e.g. `INTERNAL_ERROR`).
        error_code: String,
        /// The HTTP status of the answer.
        status: u16,
        /// The server's message.
        message: String,
    },
    /// A remote tracking server could not be reached or kept failing (connection refused,
    /// timeouts, repeated 429/503 answers).
    #[error("{0}")]
    Unavailable(String),
    /// Database error.
    #[error("database error while {context}: {message}")]
    Database {
        /// What was being done.
        context: String,
        /// The database's message.
        message: String,
    },
}

impl From<super::filter::FilterError> for StoreError {
    /// A filter or order_by that does not parse is [`StoreError::InvalidFilter`], with the
    /// caret rendering.
    fn from(e: super::filter::FilterError) -> Self {
        StoreError::InvalidFilter(e.to_string())
    }
}

impl StoreError {
    /// The MLflow error code for this error (`RESOURCE_DOES_NOT_EXIST`, ...).
    pub fn error_code(&self) -> &'static str {
        match self {
            StoreError::NotFound(_) | StoreError::NoDatabase { .. } => "RESOURCE_DOES_NOT_EXIST",
            StoreError::NotAccessible { .. } => "PERMISSION_DENIED",
            StoreError::AlreadyExists(_) => "RESOURCE_ALREADY_EXISTS",
            StoreError::InvalidParameter(_)
            | StoreError::InvalidFilter(_)
            | StoreError::InvalidArtifactPath { .. }
            | StoreError::UnsupportedUri { .. }
            | StoreError::MlflowDatabase { .. }
            | StoreError::UnsupportedArtifactUri { .. } => "INVALID_PARAMETER_VALUE",
            StoreError::InvalidState(_) => "INVALID_STATE",
            StoreError::Unavailable(_) => "TEMPORARILY_UNAVAILABLE",
            StoreError::Remote { error_code, .. } => known_error_code(error_code),
            StoreError::SchemaTooNew { .. }
            | StoreError::SchemaTooOld { .. }
            | StoreError::Io { .. }
            | StoreError::Serialization(_)
            | StoreError::Database { .. } => "INTERNAL_ERROR",
        }
    }

    /// An [`StoreError::Io`] with context.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        StoreError::Io {
            context: context.into(),
            source,
        }
    }

    /// "Run with id=… not found".
    pub fn run_not_found(run_id: &str) -> Self {
        StoreError::NotFound(format!("Run with id={run_id} not found"))
    }

    /// "Logged model with ID '…' not found.".
    pub fn logged_model_not_found(model_id: &str) -> Self {
        StoreError::NotFound(format!("Logged model with ID '{model_id}' not found."))
    }

    /// "Registered Model with name=… not found".
    pub fn registered_model_not_found(name: &str) -> Self {
        StoreError::NotFound(format!("Registered Model with name={name} not found"))
    }

    /// "No Experiment with id=… exists".
    pub fn experiment_not_found(id: &ExperimentId) -> Self {
        StoreError::NotFound(format!("No Experiment with id={id} exists"))
    }
}

/// How a store is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OpenMode {
    /// Read and write: an SQLite file (and its folders) is created when missing, and an
    /// older schema is upgraded.
    #[default]
    ReadWrite,
    /// Read only: nothing is created, upgraded or written, and a read-only file or folder
    /// is fine. A missing SQLite database is [`StoreError::NoDatabase`]; a write is
    /// [`StoreError::NotAccessible`]. (A tracking server decides for itself: the REST store
    /// opens the same in both modes.)
    ReadOnly,
}

/// A tracking backend. Sync, thread-safe and object-safe: use it as `Arc<dyn Store>`.
///
/// Stores own the semantics (validation, immutability of params, latest-metric rules,
/// lifecycle), so every implementation behaves the same; the conformance suite in
/// `tests/common/conformance.rs` checks that.
pub trait Store: Send + Sync {
    /// Create an experiment. `artifact_location` defaults to `<artifact root>/<id>`.
    /// Names are unique over active and deleted experiments.
    fn create_experiment(
        &self,
        name: &str,
        artifact_location: Option<&str>,
        tags: &[Tag],
    ) -> Result<ExperimentId>;
    /// Get an experiment (active or deleted).
    fn get_experiment(&self, id: &ExperimentId) -> Result<Experiment>;
    /// Get an experiment by name (active or deleted); `None` when absent.
    fn get_experiment_by_name(&self, name: &str) -> Result<Option<Experiment>>;
    /// Search experiments.
    fn search_experiments(&self, query: &ExperimentQuery) -> Result<Page<Experiment>>;
    /// Rename an active experiment.
    fn rename_experiment(&self, id: &ExperimentId, new_name: &str) -> Result<()>;
    /// Soft-delete an experiment and all its runs.
    fn delete_experiment(&self, id: &ExperimentId) -> Result<()>;
    /// Restore a deleted experiment and its runs.
    fn restore_experiment(&self, id: &ExperimentId) -> Result<()>;
    /// Set (upsert) an experiment tag.
    fn set_experiment_tag(&self, id: &ExperimentId, tag: &Tag) -> Result<()>;
    /// Delete an experiment tag; a missing tag is [`StoreError::NotFound`].
    fn delete_experiment_tag(&self, id: &ExperimentId, key: &str) -> Result<()>;

    /// Create a run (status RUNNING) in an active experiment.
    fn create_run(&self, experiment_id: &ExperimentId, start: RunStart) -> Result<Run>;
    /// Get a run (active or deleted).
    fn get_run(&self, run_id: &str) -> Result<Run>;
    /// Update status / end time / name of an active run.
    fn update_run(&self, run_id: &str, update: RunUpdate) -> Result<RunInfo>;
    /// Soft-delete a run (idempotent).
    fn delete_run(&self, run_id: &str) -> Result<()>;
    /// Restore a deleted run (idempotent).
    fn restore_run(&self, run_id: &str) -> Result<()>;
    /// Log metrics, params and tags atomically: all are validated before anything is
    /// written (limits: 1000 metrics, 100 params, 100 tags, 1000 in total).
    fn log_batch(
        &self,
        run_id: &str,
        metrics: &[Metric],
        params: &[Param],
        tags: &[Tag],
    ) -> Result<()>;
    /// [`log_batch`](Store::log_batch) `metrics` and `tags` into an active run, then
    /// [`update_run`](Store::update_run) it, as one write where the store can (the SQL
    /// stores: one transaction): a finished trial's last write, its result and its end.
    /// The default composes the two.
    fn log_batch_and_update(
        &self,
        run_id: &str,
        metrics: &[Metric],
        tags: &[Tag],
        update: RunUpdate,
    ) -> Result<RunInfo> {
        self.log_batch(run_id, metrics, &[], tags)?;
        self.update_run(run_id, update)
    }
    /// Delete a run tag; a missing tag is [`StoreError::NotFound`].
    fn delete_tag(&self, run_id: &str, key: &str) -> Result<()>;
    /// Every point of one metric, ordered by `(timestamp, step, value)`. Unknown key → empty.
    fn get_metric_history(&self, run_id: &str, key: &str) -> Result<Vec<Metric>>;
    /// Search runs with MLflow's filter and order_by language.
    fn search_runs(&self, query: &RunQuery) -> Result<Page<Run>>;
    /// How many runs `query` matches, all pages together (its order, page size and token
    /// play no part). The default pages through [`Store::search_runs`] with no order,
    /// holding one page at a time; the SQL stores answer with one `COUNT` query.
    fn count_runs(&self, query: &RunQuery) -> Result<usize> {
        let mut page_query = RunQuery {
            order_by: Vec::new(),
            max_results: COUNT_PAGE,
            page_token: None,
            ..query.clone()
        };
        let mut count = 0;
        loop {
            let page = self.search_runs(&page_query)?;
            count += page.items.len();
            match page.next_page_token {
                Some(token) => page_query.page_token = Some(token),
                None => return Ok(count),
            }
        }
    }

    /// Every run `query` matches (all pages together: its order, page size and token play
    /// no part), in no particular order, each with its info, all its params and the tags
    /// and latest metrics `fields` selects, and without its inputs: the read of a whole
    /// search that a report makes, held compactly ([`SelectedRuns`]). Each run's data is
    /// sorted by key, as in [`Store::search_runs`]. The default pages through
    /// [`Store::search_runs`] with no order and drops what `fields` leaves out; the SQL
    /// stores read the matching runs with one query and each table of their data with one
    /// more, in the order of its primary key, copying the texts of the rows they keep into
    /// the selection (no allocation of their own per row). A read of more than 4 GiB of
    /// text fails with [`StoreError::InvalidParameter`].
    fn select_runs(&self, query: &RunQuery, fields: &RunFields) -> Result<SelectedRuns> {
        let mut page_query = RunQuery {
            order_by: Vec::new(),
            max_results: MAX_RESULTS_LIMIT,
            page_token: None,
            ..query.clone()
        };
        let mut runs = SelectedRunsBuilder::default();
        loop {
            let page = self.search_runs(&page_query)?;
            for mut run in page.items {
                fields.keep(&mut run.data);
                runs.push(&run);
            }
            match page.next_page_token {
                Some(token) => page_query.page_token = Some(token),
                None => return runs.finish(),
            }
        }
    }

    /// Log dataset inputs of an active run. A dataset is identified within the run's
    /// experiment by name and digest (logging it again reuses it); an input already logged
    /// for the run gets the new tags.
    fn log_inputs(&self, run_id: &str, inputs: &[DatasetInput]) -> Result<()>;

    /// Record logged models as outputs of an active run (each model must exist).
    fn log_outputs(&self, run_id: &str, outputs: &[ModelOutput]) -> Result<()>;

    /// Create a logged model (status PENDING) in an active experiment; its artifacts go to
    /// `<experiment artifact location>/models/<model_id>/artifacts`.
    fn create_logged_model(
        &self,
        experiment_id: &ExperimentId,
        model: &NewLoggedModel,
    ) -> Result<LoggedModel>;
    /// Get a logged model; a deleted one only when `allow_deleted`.
    fn get_logged_model(&self, model_id: &str, allow_deleted: bool) -> Result<LoggedModel>;
    /// Set the status of a logged model's files (READY or UPLOAD_FAILED).
    fn finalize_logged_model(
        &self,
        model_id: &str,
        status: LoggedModelStatus,
    ) -> Result<LoggedModel>;
    /// Soft-delete a logged model.
    fn delete_logged_model(&self, model_id: &str) -> Result<()>;
    /// Set (upsert) tags of a logged model.
    fn set_logged_model_tags(&self, model_id: &str, tags: &[Tag]) -> Result<()>;
    /// Delete a tag of a logged model; a missing tag is [`StoreError::NotFound`].
    fn delete_logged_model_tag(&self, model_id: &str, key: &str) -> Result<()>;
    /// Log params of a logged model (immutable, as a run's: the same value again is fine).
    fn log_logged_model_params(&self, model_id: &str, params: &[Param]) -> Result<()>;
    /// Search active logged models of some experiments.
    fn search_logged_models(&self, query: &LoggedModelQuery) -> Result<Page<LoggedModel>>;
    /// Log metric points that belong to logged models, as MLflow's `runs/log-batch` and
    /// `runs/log-metric` with a `model_id` do: each point goes into the history of its run
    /// (which must be active) and into the metrics of its logged model (which must exist),
    /// with the dataset it was computed on, if any. Validated before anything is written.
    fn log_model_metrics(&self, metrics: &[LoggedModelMetric]) -> Result<()>;

    /// Create a registered model; a taken name is [`StoreError::AlreadyExists`].
    fn create_registered_model(
        &self,
        name: &str,
        description: Option<&str>,
        tags: &[Tag],
    ) -> Result<RegisteredModel>;
    /// Get a registered model by name.
    fn get_registered_model(&self, name: &str) -> Result<RegisteredModel>;
    /// Rename a registered model; a taken new name is [`StoreError::AlreadyExists`].
    fn rename_registered_model(&self, name: &str, new_name: &str) -> Result<RegisteredModel>;
    /// Set the description of a registered model.
    fn update_registered_model(&self, name: &str, description: &str) -> Result<RegisteredModel>;
    /// Delete a registered model with its tags.
    fn delete_registered_model(&self, name: &str) -> Result<()>;
    /// Search registered models, in `query.order_by`'s order then by name.
    fn search_registered_models(&self, query: &RegistryQuery) -> Result<Page<RegisteredModel>>;
    /// Set (upsert) a tag of a registered model.
    fn set_registered_model_tag(&self, name: &str, tag: &Tag) -> Result<()>;
    /// Delete a tag of a registered model (a missing tag is fine, as in MLflow).
    fn delete_registered_model_tag(&self, name: &str, key: &str) -> Result<()>;

    /// Create the next version (1, 2, ...) of registered model `name`. A
    /// `models:/<model_id>` source names an active logged model (kept as `model_id`), a
    /// `runs:/<run_id>/<path>` source a run; the version's files are at
    /// [`Store::get_model_version_download_uri`].
    fn create_model_version(&self, name: &str, new: &NewModelVersion) -> Result<ModelVersion>;
    /// Get a model version.
    fn get_model_version(&self, name: &str, version: i64) -> Result<ModelVersion>;
    /// Set the description of a model version.
    fn update_model_version(
        &self,
        name: &str,
        version: i64,
        description: &str,
    ) -> Result<ModelVersion>;
    /// Delete a model version with its tags and the aliases pointing at it (its number is
    /// not given again).
    fn delete_model_version(&self, name: &str, version: i64) -> Result<()>;
    /// Search model versions, in `query.order_by`'s order then by name and newest version
    /// first.
    fn search_model_versions(&self, query: &RegistryQuery) -> Result<Page<ModelVersion>>;
    /// Move a model version to `stage`. With `archive_existing` (only for Staging and
    /// Production, see [`validate_transition`]) the other versions in that stage move to
    /// Archived.
    fn transition_model_version_stage(
        &self,
        name: &str,
        version: i64,
        stage: ModelStage,
        archive_existing: bool,
    ) -> Result<ModelVersion>;
    /// The latest version of registered model `name` in each of `stages` that has one
    /// (every stage when `stages` is empty), as its
    /// [`latest_versions`](RegisteredModel::latest_versions) lists them.
    fn get_latest_versions(&self, name: &str, stages: &[ModelStage]) -> Result<Vec<ModelVersion>> {
        let model = self.get_registered_model(name)?;
        Ok(model
            .latest_versions
            .into_iter()
            .filter(|v| stages.is_empty() || stages.iter().any(|s| s.as_str() == v.current_stage))
            .collect())
    }
    /// Set (upsert) a tag of a model version.
    fn set_model_version_tag(&self, name: &str, version: i64, tag: &Tag) -> Result<()>;
    /// Delete a tag of a model version (a missing tag is fine, as in MLflow).
    fn delete_model_version_tag(&self, name: &str, version: i64, key: &str) -> Result<()>;
    /// Where the files of a model version are (a logged model's or a run's artifact
    /// location, or the source URI itself).
    fn get_model_version_download_uri(&self, name: &str, version: i64) -> Result<String>;
    /// Point alias `alias` of registered model `name` at `version` (moving it if set).
    fn set_registered_model_alias(&self, name: &str, alias: &str, version: i64) -> Result<()>;
    /// Remove alias `alias` of registered model `name` (a missing alias is fine).
    fn delete_registered_model_alias(&self, name: &str, alias: &str) -> Result<()>;
    /// The version alias `alias` of registered model `name` points at.
    fn get_model_version_by_alias(&self, name: &str, alias: &str) -> Result<ModelVersion>;

    /// Create a run with its params and metrics and set its final status, as one write
    /// where the store can (SQLite: one transaction). The default composes
    /// `create_run`, `log_batch`, `update_run` and `get_run`; the run is created without
    /// its tags, which come in the batch with its params, so no reader finds it by a tag
    /// (a search's child, by `mlflow.parentRunId`) before its params are in.
    fn record_run(&self, experiment_id: &ExperimentId, record: &RunRecord) -> Result<Run> {
        let tags = &record.start.tags;
        validate_batch("<new run>", &record.metrics, &record.params, tags)?;
        let bare = RunStart {
            tags: Vec::new(),
            ..record.start.clone()
        };
        let run = self.create_run(experiment_id, bare)?;
        self.log_batch(run.id(), &record.metrics, &record.params, tags)?;
        if record.status != RunStatus::Running || record.end_time.is_some() {
            let end_time = record
                .end_time
                .or_else(|| record.status.is_terminal().then(now_ms));
            self.update_run(
                run.id(),
                RunUpdate {
                    status: Some(record.status),
                    end_time,
                    run_name: None,
                },
            )?;
        }
        self.get_run(run.id())
    }

    /// One page of a metric's history (`max_results` ≥ 1), in the order of
    /// [`Store::get_metric_history`], with the same page tokens as searches.
    fn get_metric_history_page(
        &self,
        run_id: &str,
        key: &str,
        max_results: usize,
        page_token: Option<&str>,
    ) -> Result<Page<Metric>> {
        validate_history_page_size(max_results)?;
        let offset = decode_page_token(page_token)?;
        let all = self.get_metric_history(run_id, key)?;
        let end = offset.saturating_add(max_results).min(all.len());
        let items = all.get(offset.min(end)..end).unwrap_or_default().to_vec();
        Ok(Page {
            items,
            next_page_token: (end < all.len()).then(|| encode_page_token(end)),
        })
    }

    /// A run's info without its data (cheaper than [`Store::get_run`] where stores can).
    fn get_run_info(&self, run_id: &str) -> Result<RunInfo> {
        Ok(self.get_run(run_id)?.info)
    }

    /// The artifact repository of a run whose artifact URI is `artifact_uri`. The default
    /// opens local locations (a path or a `file:` URI) and object storage (`s3://`, ...;
    /// feature `object-store`) through [`open_repo`](super::artifacts::open_repo); a store
    /// that talks to a tracking server also opens `mlflow-artifacts:` locations, through
    /// that server's artifact proxy. Opening does no I/O.
    fn artifact_repo(&self, artifact_uri: &str) -> Result<Box<dyn ArtifactRepo>> {
        super::artifacts::open_repo(artifact_uri)
    }

    /// The store's [ledger](super::ledger) of searches, through which several workers
    /// join one search; `None` for a store without one (a search then has one worker).
    fn ledger(&self) -> Option<&dyn super::ledger::Ledger> {
        None
    }

    /// Log one metric point.
    fn log_metric(&self, run_id: &str, metric: &Metric) -> Result<()> {
        self.log_batch(run_id, std::slice::from_ref(metric), &[], &[])
    }
    /// Log one param.
    fn log_param(&self, run_id: &str, param: &Param) -> Result<()> {
        self.log_batch(run_id, &[], std::slice::from_ref(param), &[])
    }
    /// Set (upsert) one run tag.
    fn set_tag(&self, run_id: &str, tag: &Tag) -> Result<()> {
        self.log_batch(run_id, &[], &[], std::slice::from_ref(tag))
    }
}

/// MLflow's error codes that a server may answer with; anything else reads as
/// `INTERNAL_ERROR`.
const KNOWN_ERROR_CODES: &[&str] = &[
    "INTERNAL_ERROR",
    "TEMPORARILY_UNAVAILABLE",
    "BAD_REQUEST",
    "INVALID_PARAMETER_VALUE",
    "ENDPOINT_NOT_FOUND",
    "RESOURCE_ALREADY_EXISTS",
    "RESOURCE_DOES_NOT_EXIST",
    "INVALID_STATE",
    "PERMISSION_DENIED",
    "UNAUTHENTICATED",
    "REQUEST_LIMIT_EXCEEDED",
    "RESOURCE_EXHAUSTED",
    "NOT_IMPLEMENTED",
    "FEATURE_DISABLED",
];

fn known_error_code(code: &str) -> &'static str {
    KNOWN_ERROR_CODES
        .iter()
        .find(|c| **c == code)
        .copied()
        .unwrap_or("INTERNAL_ERROR")
}

// ---------------------------------------------------------------------------------------
// Shared validation.

/// Longest accepted key (metric, param, tag).
pub const MAX_KEY_LENGTH: usize = 250;
/// Longest accepted param value.
pub const MAX_PARAM_VALUE_LENGTH: usize = 6000;
/// Longest accepted run tag value.
pub const MAX_TAG_VALUE_LENGTH: usize = 8000;
/// Longest accepted experiment tag value.
pub const MAX_EXPERIMENT_TAG_VALUE_LENGTH: usize = 20000;
/// Longest accepted dataset name or digest, and input tag key.
pub const MAX_DATASET_NAME_LENGTH: usize = 500;
/// Longest accepted input tag value.
pub const MAX_INPUT_TAG_VALUE_LENGTH: usize = 500;

/// Validate dataset inputs: a non-empty name and digest within the limits, tags with
/// non-empty keys and values within the limits.
pub fn validate_dataset_inputs(inputs: &[DatasetInput]) -> Result<()> {
    let bad = |m: String| Err(StoreError::InvalidParameter(m));
    for (i, input) in inputs.iter().enumerate() {
        let d = &input.dataset;
        for (field, value) in [("name", &d.name), ("digest", &d.digest)] {
            if value.is_empty() {
                return bad(format!("datasets[{i}].dataset.{field} must not be empty"));
            }
            validate_value_len("dataset", field, value, MAX_DATASET_NAME_LENGTH)?;
        }
        for t in &input.tags {
            if t.key.is_empty() {
                return bad(format!("datasets[{i}].tags: a tag key must not be empty"));
            }
            validate_value_len("input tag", "key", &t.key, MAX_DATASET_NAME_LENGTH)?;
            validate_value_len("input tag", &t.key, &t.value, MAX_INPUT_TAG_VALUE_LENGTH)?;
        }
    }
    Ok(())
}

/// A new logged model id: `m-` and 32 hex digits, as MLflow's.
pub fn new_logged_model_id() -> String {
    format!("m-{}", new_run_id())
}

/// Validate a new logged model's tags and params; its name (generated when absent).
pub fn validate_new_logged_model(model: &NewLoggedModel) -> Result<String> {
    validate_batch("<new logged model>", &[], &model.params, &model.tags)?;
    match &model.name {
        Some(name) if name.trim().is_empty() => Err(StoreError::InvalidParameter(
            "a logged model's name must not be empty; leave it out to get a generated one".into(),
        )),
        Some(name) => {
            validate_key("logged model name", name)?;
            Ok(name.clone())
        }
        None => Ok(generate_run_name()),
    }
}

/// The logged-model fields a search orders by, as MLflow names them (besides
/// `metrics.<key>`).
pub const LOGGED_MODEL_ORDER_FIELDS: &[&str] = &[
    "name",
    "model_id",
    "creation_timestamp",
    "last_updated_timestamp",
];

/// A value a search orders by; a missing one (`None`) sorts last in both directions.
#[derive(Debug, Clone, PartialEq, PartialOrd)]
pub enum SortKey {
    /// Text, compared by code points.
    Text(String),
    /// An integer.
    Int(i64),
    /// A number.
    Real(f64),
}

/// Sort `items` by `orders` (each a field and whether ascending), in turn; `key` reads a
/// field of an item. Items without the field come last whatever the direction.
fn sort_by_keys<T, F>(
    items: &mut [T],
    orders: &[(F, bool)],
    key: impl Fn(&T, &F) -> Option<SortKey>,
) {
    items.sort_by(|a, b| {
        orders
            .iter()
            .map(|(field, ascending)| match (key(a, field), key(b, field)) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Greater,
                (Some(_), None) => Ordering::Less,
                (Some(x), Some(y)) => {
                    let o = x.partial_cmp(&y).unwrap_or(Ordering::Equal);
                    if *ascending { o } else { o.reverse() }
                }
            })
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    });
}

/// The latest point of metric `key` of `model` (by timestamp, then step, then the first
/// run id), among the points on the dataset `order` names, if it names one.
fn latest_model_metric(model: &LoggedModel, key: &str, order: &LoggedModelOrder) -> Option<f64> {
    let on_dataset = |m: &&LoggedModelMetric| {
        order
            .dataset_name
            .as_ref()
            .is_none_or(|n| m.dataset_name.as_ref() == Some(n))
            && order
                .dataset_digest
                .as_ref()
                .is_none_or(|d| m.dataset_digest.as_ref() == Some(d))
    };
    model
        .metrics
        .iter()
        .filter(|m| m.metric.key == key)
        .filter(on_dataset)
        .max_by(|a, b| {
            (a.metric.timestamp, a.metric.step)
                .cmp(&(b.metric.timestamp, b.metric.step))
                .then_with(|| b.run_id.cmp(&a.run_id))
        })
        .map(|m| m.metric.value)
}

/// One page of `models` for `query`: its filter, its order (then newest first and by
/// model id, as MLflow) and its page token. The one implementation the stores that search
/// logged models in memory share.
pub fn page_of_logged_models(
    mut models: Vec<LoggedModel>,
    query: &LoggedModelQuery,
) -> Result<Page<LoggedModel>> {
    validate_max_results(query.max_results)?;
    let offset = decode_page_token(query.page_token.as_deref())?;
    if !query.filter.trim().is_empty() {
        let filter = super::filter::parse_logged_model_filter(&query.filter)?;
        models.retain(|m| filter.matches(m));
    }
    for order in &query.order_by {
        let field = order.field_name.as_str();
        if !LOGGED_MODEL_ORDER_FIELDS.contains(&field) && !field.starts_with("metrics.") {
            return Err(StoreError::InvalidParameter(format!(
                "Invalid order_by field '{field}' for logged models; valid fields are {} and \
                 metrics.<key>",
                LOGGED_MODEL_ORDER_FIELDS.join(", ")
            )));
        }
    }
    let mut orders: Vec<(LoggedModelOrder, bool)> = query
        .order_by
        .iter()
        .map(|o| (o.clone(), o.ascending))
        .collect();
    for (field, ascending) in [("creation_timestamp", false), ("model_id", true)] {
        if !orders.iter().any(|(o, _)| o.field_name == field) {
            let order = LoggedModelOrder {
                field_name: field.into(),
                ascending,
                ..LoggedModelOrder::default()
            };
            orders.push((order, ascending));
        }
    }
    sort_by_keys(&mut models, &orders, |m, order| {
        match order.field_name.as_str() {
            "name" => Some(SortKey::Text(m.name.clone())),
            "model_id" => Some(SortKey::Text(m.model_id.clone())),
            "creation_timestamp" => Some(SortKey::Int(m.creation_timestamp_ms)),
            "last_updated_timestamp" => Some(SortKey::Int(m.last_updated_timestamp_ms)),
            field => {
                let key = field.strip_prefix("metrics.").unwrap_or(field);
                latest_model_metric(m, key, order).map(SortKey::Real)
            }
        }
    });
    let end = offset.saturating_add(query.max_results).min(models.len());
    let more = end < models.len();
    let items = models.drain(offset.min(end)..end).collect();
    Ok(Page {
        items,
        next_page_token: more.then(|| encode_page_token(end)),
    })
}

/// Validate a list of metric points of logged models (keys, values, batch limits).
pub fn validate_model_metrics(metrics: &[LoggedModelMetric]) -> Result<()> {
    let points: Vec<Metric> = metrics.iter().map(|m| m.metric.clone()).collect();
    let run_id = metrics.first().map_or("", |m| m.run_id.as_str());
    validate_batch(run_id, &points, &[], &[])?;
    for m in metrics {
        if m.model_id.trim().is_empty() {
            return Err(StoreError::InvalidParameter(format!(
                "metric '{}' of run {} names an empty model_id",
                m.metric.key, m.run_id
            )));
        }
    }
    Ok(())
}

/// Check a stage transition: archiving the versions already in the target stage is only
/// possible for Staging and Production.
pub fn validate_transition(stage: ModelStage, archive_existing: bool) -> Result<()> {
    if archive_existing && !stage.is_active() {
        return Err(StoreError::InvalidParameter(format!(
            "Model version transition cannot archive existing model versions because \
             '{stage}' is not an Active stage. Valid stages are Staging, Production"
        )));
    }
    Ok(())
}

/// The latest version in each stage among `versions` (of one registered model), listed
/// as MLflow lists a registered model's `latest_versions`: going through the versions
/// from the oldest, a stage takes its place when its first version is met.
pub fn latest_per_stage(versions: &[ModelVersion]) -> Vec<ModelVersion> {
    let mut sorted: Vec<&ModelVersion> = versions.iter().collect();
    sorted.sort_by_key(|v| v.version);
    let mut latest: Vec<&ModelVersion> = Vec::new();
    for v in sorted {
        match latest
            .iter_mut()
            .find(|l| l.current_stage == v.current_stage)
        {
            Some(slot) => *slot = v,
            None => latest.push(v),
        }
    }
    latest.into_iter().cloned().collect()
}

/// Validate a registered model's name: not empty.
pub fn validate_registered_model_name(name: &str) -> Result<()> {
    if name.trim().is_empty() {
        return Err(StoreError::InvalidParameter(
            "Registered model name cannot be empty.".into(),
        ));
    }
    Ok(())
}

/// Does `text` match the SQL LIKE `pattern` (`%` any run, `_` any one character)?
fn like(text: &[char], pattern: &[char]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some(('%', rest)) => (0..=text.len()).any(|i| like(&text[i..], rest)),
        Some((p, rest)) => text
            .split_first()
            .is_some_and(|(t, more)| (*p == '_' || p == t) && like(more, rest)),
    }
}

/// One comparison of a registry search filter: `field op 'value'`, where a tag's field is
/// `tags.<key>`.
struct Comparison<'a> {
    field: String,
    op: &'a str,
    value: &'a str,
}

impl Comparison<'_> {
    /// Does a field with value `text` (`None`: an absent tag or field) match?
    fn matches(&self, text: Option<&str>) -> bool {
        let Some(text) = text else {
            return self.op == "!=";
        };
        let chars = |s: &str| s.chars().collect::<Vec<_>>();
        let lower = |s: &str| chars(&s.to_lowercase());
        match self.op {
            "=" => text == self.value,
            "!=" => text != self.value,
            "LIKE" => like(&chars(text), &chars(self.value)),
            _ => like(&lower(text), &lower(self.value)),
        }
    }
}

/// `value` without its quotes (`'...'`, `"..."` or `` `...` ``), if it is quoted.
fn unquote(value: &str) -> Option<&str> {
    ['\'', '"', '`']
        .iter()
        .find_map(|q| value.strip_prefix(*q).and_then(|v| v.strip_suffix(*q)))
}

/// The field a comparison starts with (one of `fields`, or `tag.<key>`/`tags.<key>` with
/// the key plain or in backticks) and what follows it.
fn comparison_field<'a>(part: &'a str, fields: &[&str]) -> Option<(String, &'a str)> {
    if let Some(tag) = part
        .strip_prefix("tags.")
        .or_else(|| part.strip_prefix("tag."))
    {
        let end = match tag.strip_prefix('`') {
            Some(quoted) => quoted.find('`')? + 2,
            None => tag.find(|c: char| c.is_whitespace() || matches!(c, '=' | '!'))?,
        };
        let key = unquote(&tag[..end]).unwrap_or(&tag[..end]);
        return Some((format!("tags.{key}"), &tag[end..]));
    }
    let field = fields.iter().find(|f| part.starts_with(**f))?;
    Some((field.to_string(), &part[field.len()..]))
}

/// The parts of `filter` between the `AND`s (any case) that stand outside quotes.
fn conjuncts(filter: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quote) = (0, None);
    for (i, c) in filter.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if matches!(c, '\'' | '"' | '`') => quote = Some(c),
            None if i >= start
                && filter
                    .get(i..i + 5)
                    .is_some_and(|w| w.eq_ignore_ascii_case(" and ")) =>
            {
                parts.push(&filter[start..i]);
                start = i + 5;
            }
            None => {}
        }
    }
    parts.push(&filter[start..]);
    parts
}

/// Parse a registry filter: comparisons of `fields` or tags joined by `AND`.
fn registry_filter<'a>(filter: &'a str, fields: &[&str]) -> Result<Vec<Comparison<'a>>> {
    let bad = |part: &str| {
        StoreError::InvalidFilter(format!(
            "'{part}' in filter '{filter}' is not supported: compare one of {} or \
             tags.<key> with =, !=, LIKE or ILIKE and a quoted string, such as name = 'x' \
             or name LIKE '%x%', and join comparisons with AND",
            fields.join(", ")
        ))
    };
    let mut out = Vec::new();
    for part in conjuncts(filter) {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let (field, rest) = comparison_field(part, fields).ok_or_else(|| bad(part))?;
        let rest = rest.trim_start();
        let (op, value) = ["!=", "=", "ILIKE", "LIKE"]
            .iter()
            .find_map(|op| {
                let n = op.len();
                rest.get(..n)
                    .filter(|head| head.eq_ignore_ascii_case(op))
                    .map(|_| (*op, rest[n..].trim()))
            })
            .ok_or_else(|| bad(part))?;
        let value = unquote(value).ok_or_else(|| bad(part))?;
        out.push(Comparison { field, op, value });
    }
    Ok(out)
}

/// The value of `field` when it names a tag (`tags.<key>`) of `tags`.
fn tag_field<'t>(tags: &'t [Tag], field: &str) -> Option<&'t str> {
    let key = field.strip_prefix("tags.")?;
    tags.iter().find(|t| t.key == key).map(|t| t.value.as_str())
}

/// Keep the items `query.filter` selects (`field` reads a filter field of an item:
/// one of `fields` or `tags.<key>`), order them by `query.order_by` (over `order_keys`,
/// then `tie_break`; `order_key` reads the field an entry orders by) and cut out the page
/// `query` asks for.
pub fn page_of_registry<T>(
    mut items: Vec<T>,
    query: &RegistryQuery,
    fields: &[&str],
    field: impl Fn(&T, &str) -> Option<String>,
    order_keys: super::filter::RegistryOrderKeys,
    tie_break: &[(&'static str, bool)],
    order_key: impl Fn(&T, &str) -> SortKey,
) -> Result<Page<T>> {
    let filter = registry_filter(&query.filter, fields)?;
    let mut orders: Vec<(&'static str, bool)> =
        super::filter::parse_registry_order_by_list(&query.order_by, order_keys)?
            .into_iter()
            .map(|o| (o.ident, o.ascending))
            .collect();
    for (key, ascending) in tie_break {
        if !orders.iter().any(|(k, _)| k == key) {
            orders.push((key, *ascending));
        }
    }
    items.retain(|item| {
        filter
            .iter()
            .all(|c| c.matches(field(item, &c.field).as_deref()))
    });
    sort_by_keys(&mut items, &orders, |item, key| Some(order_key(item, key)));
    let start = decode_page_token(query.page_token.as_deref())?;
    let end = start.saturating_add(query.max_results).min(items.len());
    let next = (end < items.len()).then(|| encode_page_token(end));
    Ok(Page {
        items: items.drain(start.min(end)..end).collect(),
        next_page_token: next,
    })
}

/// [`page_of_registry`] over registered models (filter on `name` and tags; order by
/// [`REGISTERED_MODEL_ORDER_KEYS`](super::filter::REGISTERED_MODEL_ORDER_KEYS), then by
/// name).
pub fn page_of_registered_models(
    models: Vec<RegisteredModel>,
    query: &RegistryQuery,
) -> Result<Page<RegisteredModel>> {
    page_of_registry(
        models,
        query,
        &["name"],
        |m, field| match field {
            "name" => Some(m.name.clone()),
            _ => tag_field(&m.tags, field).map(str::to_string),
        },
        super::filter::REGISTERED_MODEL_ORDER_KEYS,
        &[("name", true)],
        |m, key| match key {
            "name" => SortKey::Text(m.name.clone()),
            _ => SortKey::Int(m.last_updated_timestamp_ms),
        },
    )
}

/// [`page_of_registry`] over model versions (filter on `name`, `run_id`, `source`,
/// `model_id` and tags; order by
/// [`MODEL_VERSION_ORDER_KEYS`](super::filter::MODEL_VERSION_ORDER_KEYS), then by name and
/// newest version first).
pub fn page_of_model_versions(
    versions: Vec<ModelVersion>,
    query: &RegistryQuery,
) -> Result<Page<ModelVersion>> {
    page_of_registry(
        versions,
        query,
        &["name", "run_id", "source", "model_id"],
        |v, field| match field {
            "name" => Some(v.name.clone()),
            "run_id" => v.run_id.clone(),
            "source" => Some(v.source.clone()),
            "model_id" => v.model_id.clone(),
            _ => tag_field(&v.tags, field).map(str::to_string),
        },
        super::filter::MODEL_VERSION_ORDER_KEYS,
        &[("name", true), ("version_number", false)],
        |v, key| match key {
            "name" => SortKey::Text(v.name.clone()),
            "version_number" => SortKey::Int(v.version),
            "creation_timestamp" => SortKey::Int(v.creation_timestamp_ms),
            _ => SortKey::Int(v.last_updated_timestamp_ms),
        },
    )
}

/// Validate an alias: letters, digits, `_` and `-`, at most 255 characters, and not
/// `latest` or `v<number>` (which `models:/name@...` would confuse with versions).
pub fn validate_alias(alias: &str) -> Result<()> {
    let lower = alias.to_lowercase();
    let version_like = lower
        .strip_prefix('v')
        .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
    if alias.is_empty()
        || alias.chars().count() > 255
        || !alias
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
        || lower == "latest"
        || version_like
    {
        return Err(StoreError::InvalidParameter(format!(
            "Invalid alias name: '{alias}'. Aliases may contain only alphanumerics, \
             underscores and dashes, have at most 255 characters, and may not be 'latest' \
             or 'v<number>'."
        )));
    }
    Ok(())
}

/// A model version number as clients send it (`"3"`): a positive integer.
pub fn parse_version(text: &str) -> Result<i64> {
    text.trim()
        .parse::<i64>()
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| {
            StoreError::InvalidParameter(format!(
                "Model version must be a positive integer, got '{text}'"
            ))
        })
}

/// "Model Version (name=…, version=…) not found".
pub fn model_version_not_found(name: &str, version: i64) -> StoreError {
    StoreError::NotFound(format!(
        "Model Version (name={name}, version={version}) not found"
    ))
}

/// The error for creating (or renaming to) a registered model whose name is taken.
pub fn registered_model_exists(name: &str) -> StoreError {
    StoreError::AlreadyExists(format!("Registered Model (name={name}) already exists."))
}

/// The error for an alias that registered model has not got.
pub fn alias_not_found(alias: &str) -> StoreError {
    StoreError::NotFound(format!("Registered model alias {alias} not found."))
}

/// The error for logging a logged model's param again with another value.
pub fn logged_model_param_changed(model_id: &str, key: &str, old: &str, new: &str) -> StoreError {
    StoreError::InvalidParameter(format!(
        "Changing param values is not allowed. Param with key='{key}' was already logged \
         with value='{old}' for logged model ID='{model_id}'. Attempted logging new value \
         '{new}'."
    ))
}

/// The error for deleting a tag a logged model has not got.
pub fn logged_model_tag_not_found(model_id: &str, key: &str) -> StoreError {
    StoreError::NotFound(format!(
        "No tag with key '{key}' on logged model with ID '{model_id}'"
    ))
}

/// Where a new logged model's files go: under its experiment's artifact location.
pub fn logged_model_artifact_uri(experiment_location: &str, model_id: &str) -> String {
    format!(
        "{}/models/{model_id}/artifacts",
        experiment_location.trim_end_matches('/')
    )
}

/// A new model version's source resolved: where its files are (its storage location) and
/// the version with the logged model and the run its source names. A `models:/<model_id>`
/// source is the logged model's artifact location (and its source run); a
/// `runs:/<run_id>/<path>` source is under the run's artifact URI; any other non-empty
/// source is an artifact URI as given. `find_model` reads an active logged model through
/// `db`, `find_run` a run; their errors (not found) are the answer.
pub fn resolve_model_version_source<D, E: From<StoreError>>(
    db: &mut D,
    new: &NewModelVersion,
    find_model: impl Fn(&mut D, &str) -> std::result::Result<LoggedModel, E>,
    find_run: impl Fn(&mut D, &str) -> std::result::Result<RunInfo, E>,
) -> std::result::Result<(String, NewModelVersion), E> {
    let mut new = new.clone();
    if let Some(model_id) = new.source.strip_prefix("models:/") {
        let model_id = model_id.trim_end_matches('/');
        if model_id.is_empty() || model_id.contains('/') || model_id.contains('@') {
            return Err(StoreError::InvalidParameter(format!(
                "model version source '{}' is not supported: a models:/ source must name a \
                 logged model, as models:/<model_id>",
                new.source
            ))
            .into());
        }
        let model = find_model(db, model_id)?;
        new.model_id = Some(model.model_id);
        if new.run_id.is_none() {
            new.run_id = model.source_run_id;
        }
        return Ok((model.artifact_uri, new));
    }
    if let Some(model_id) = &new.model_id {
        find_model(db, model_id)?;
    }
    if let Some(rest) = new.source.strip_prefix("runs:/") {
        let (run_id, path) = rest.split_once('/').unwrap_or((rest, ""));
        let run = find_run(db, run_id)?;
        new.run_id = Some(run.run_id);
        let base = run.artifact_uri.trim_end_matches('/');
        let path = path.trim_matches('/');
        let location = if path.is_empty() {
            base.to_string()
        } else {
            format!("{base}/{path}")
        };
        return Ok((location, new));
    }
    if new.source.trim().is_empty() {
        return Err(StoreError::InvalidParameter(
            "a model version needs a source: models:/<model_id>, runs:/<run_id>/<path> or \
             an artifact URI"
                .into(),
        )
        .into());
    }
    Ok((new.source.clone(), new))
}

/// Metric points of logged models grouped as a store writes them: each run's points (in
/// the order the runs first appear), and the distinct model ids.
pub fn group_model_metrics(metrics: &[LoggedModelMetric]) -> (Vec<(&str, Vec<Metric>)>, Vec<&str>) {
    let mut runs: Vec<(&str, Vec<Metric>)> = Vec::new();
    let mut models: Vec<&str> = Vec::new();
    for m in metrics {
        if !models.contains(&m.model_id.as_str()) {
            models.push(&m.model_id);
        }
        match runs.iter_mut().find(|(id, _)| *id == m.run_id) {
            Some((_, points)) => points.push(m.metric.clone()),
            None => runs.push((&m.run_id, vec![m.metric.clone()])),
        }
    }
    (runs, models)
}

/// Longest accepted experiment name.
pub const MAX_EXPERIMENT_NAME_LENGTH: usize = 500;
/// log_batch limits: metrics, params, tags, total.
pub const MAX_BATCH_METRICS: usize = 1000;
/// See [`MAX_BATCH_METRICS`].
pub const MAX_BATCH_PARAMS: usize = 100;
/// See [`MAX_BATCH_METRICS`].
pub const MAX_BATCH_TAGS: usize = 100;
/// See [`MAX_BATCH_METRICS`].
pub const MAX_BATCH_TOTAL: usize = 1000;

/// Validate a metric/param/tag key: non-empty, ≤ 250 chars, characters from
/// `[/\w.\- :]`, and a path that normalizes to itself (no `..`, no leading `/`, no `//`).
pub fn validate_key(what: &str, key: &str) -> Result<()> {
    let bad = |why: &str| {
        Err(StoreError::InvalidParameter(format!(
            "invalid {what} key '{key}': {why}"
        )))
    };
    if key.is_empty() {
        return bad("a key must not be empty");
    }
    if key.chars().count() > MAX_KEY_LENGTH {
        return bad(&format!("keys are at most {MAX_KEY_LENGTH} characters"));
    }
    if let Some(c) = key
        .chars()
        .find(|c| !(c.is_alphanumeric() || matches!(c, '_' | '/' | '.' | '-' | ' ' | ':')))
    {
        return bad(&format!(
            "character {c:?} is not allowed; keys may contain only alphanumerics, \
             underscores (_), dashes (-), periods (.), spaces ( ), colons (:) and slashes (/)"
        ));
    }
    if key.starts_with('/')
        || key.contains("//")
        || key.split('/').any(|seg| seg == ".." || seg == ".")
        || key.ends_with('/')
    {
        return bad(
            "keys must be normalized relative paths (no leading or trailing '/', no '//', \
             no '.' or '..' segments)",
        );
    }
    Ok(())
}

fn validate_value_len(what: &str, key: &str, value: &str, max: usize) -> Result<()> {
    let n = value.chars().count();
    if n > max {
        return Err(StoreError::InvalidParameter(format!(
            "{what} value for key '{key}' has {n} characters, more than the maximum of {max}; \
             store long values as an artifact instead"
        )));
    }
    Ok(())
}

/// Check the size of a log_batch request: at most [`MAX_BATCH_METRICS`] metrics,
/// [`MAX_BATCH_PARAMS`] params, [`MAX_BATCH_TAGS`] tags and [`MAX_BATCH_TOTAL`] in total.
pub fn validate_batch_size(metrics: usize, params: usize, tags: usize) -> Result<()> {
    let limit = |n: usize, max: usize, what: &str| {
        if n > max {
            Err(StoreError::InvalidParameter(format!(
                "A batch logging request can contain at most {max} {what}. Got {n} {what}. \
                 Split the batch into smaller ones."
            )))
        } else {
            Ok(())
        }
    };
    limit(metrics, MAX_BATCH_METRICS, "metrics")?;
    limit(params, MAX_BATCH_PARAMS, "params")?;
    limit(tags, MAX_BATCH_TAGS, "tags")?;
    limit(
        metrics + params + tags,
        MAX_BATCH_TOTAL,
        "metrics, params, and tags in total",
    )
}

/// Validate a whole log_batch request before anything is written.
pub fn validate_batch(
    run_id: &str,
    metrics: &[Metric],
    params: &[Param],
    tags: &[Tag],
) -> Result<()> {
    validate_batch_size(metrics.len(), params.len(), tags.len())?;
    for m in metrics {
        validate_key("metric", &m.key)?;
        if m.timestamp < 0 {
            return Err(StoreError::InvalidParameter(format!(
                "metric '{}' has negative timestamp {}; timestamps are ms since the epoch, >= 0",
                m.key, m.timestamp
            )));
        }
    }
    for (i, p) in params.iter().enumerate() {
        validate_key("param", &p.key)?;
        validate_value_len("param", &p.key, &p.value, MAX_PARAM_VALUE_LENGTH)?;
        if let Some(other) = params[..i].iter().find(|q| q.key == p.key)
            && other.value != p.value
        {
            return Err(StoreError::InvalidParameter(format!(
                "Duplicate parameter key '{}' with different values ('{}' and '{}') in one \
                 batch for run ID='{run_id}'",
                p.key, other.value, p.value
            )));
        }
    }
    for t in tags {
        validate_key("tag", &t.key)?;
        validate_value_len("tag", &t.key, &t.value, MAX_TAG_VALUE_LENGTH)?;
    }
    Ok(())
}

/// Validate an experiment name.
pub fn validate_experiment_name(name: &str) -> Result<()> {
    if name.trim().is_empty() {
        return Err(StoreError::InvalidParameter(
            "experiment name must be a non-empty string".into(),
        ));
    }
    if name.chars().count() > MAX_EXPERIMENT_NAME_LENGTH {
        return Err(StoreError::InvalidParameter(format!(
            "experiment name '{name}' is longer than {MAX_EXPERIMENT_NAME_LENGTH} characters"
        )));
    }
    Ok(())
}

/// Validate an experiment tag.
pub fn validate_experiment_tag(tag: &Tag) -> Result<()> {
    validate_key("experiment tag", &tag.key)?;
    validate_value_len(
        "experiment tag",
        &tag.key,
        &tag.value,
        MAX_EXPERIMENT_TAG_VALUE_LENGTH,
    )
}

/// Validate the page size of a metric history page (at least 1).
pub fn validate_history_page_size(max_results: usize) -> Result<()> {
    if max_results == 0 {
        return Err(StoreError::InvalidParameter(
            "Invalid value 0 for parameter 'max_results': it must be at least 1".into(),
        ));
    }
    Ok(())
}

/// Validate a search page size (1..=50000).
pub fn validate_max_results(n: usize) -> Result<()> {
    if n == 0 || n > MAX_RESULTS_LIMIT {
        return Err(StoreError::InvalidParameter(format!(
            "Invalid value {n} for parameter 'max_results' supplied: it must be at least 1 \
             and at most {MAX_RESULTS_LIMIT}"
        )));
    }
    Ok(())
}

/// The error for writing to a deleted run.
pub fn run_not_active(run_id: &str) -> StoreError {
    StoreError::InvalidParameter(format!(
        "The run {run_id} must be in the 'active' state. Current state is deleted."
    ))
}

/// Parses an experiment id: the SQL stores key experiments by integer.
pub fn parse_experiment_id(id: &ExperimentId) -> Result<i64> {
    id.0.trim().parse::<i64>().map_err(|_| {
        StoreError::InvalidParameter(format!(
            "invalid experiment id '{id}': experiment ids are decimal integers such as \"0\""
        ))
    })
}

/// A validated run start: the run's name and its initial tags (deduplicated, sorted).
#[derive(Debug, Clone)]
pub struct PreparedStart {
    /// The run's name: given, from the `mlflow.runName` tag, or generated.
    pub run_name: String,
    /// The initial tags, `mlflow.runName` among them, one per key (the last wins), sorted.
    pub tags: Vec<Tag>,
}

/// Validates a run start and settles its name and initial tags.
pub fn prepare_run_start(start: &RunStart) -> Result<PreparedStart> {
    validate_batch("<new run>", &[], &[], &start.tags)?;
    let tag_name = start
        .tags
        .iter()
        .rev()
        .find(|t| t.key == tags::RUN_NAME)
        .map(|t| t.value.clone());
    let run_name = match (&start.run_name, &tag_name) {
        (Some(a), Some(b)) if a != b => {
            return Err(StoreError::InvalidParameter(format!(
                "Both 'run_name' argument and 'mlflow.runName' tag are specified, but with \
                     different values (run_name='{a}', mlflow.runName='{b}'); give one of them"
            )));
        }
        (Some(a), _) => a.clone(),
        (None, Some(b)) => b.clone(),
        (None, None) => generate_run_name(),
    };
    let mut run_tags: Vec<Tag> = start
        .tags
        .iter()
        .filter(|t| t.key != tags::RUN_NAME)
        .cloned()
        .collect();
    run_tags.push(Tag::new(tags::RUN_NAME, run_name.clone()));
    let mut dedup = last_tag_per_key(&run_tags);
    dedup.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(PreparedStart {
        run_name,
        tags: dedup,
    })
}

/// One tag per key, the last value of a repeated key winning (as repeated upserts would),
/// in the order keys first appear.
pub fn last_tag_per_key(tags: &[Tag]) -> Vec<Tag> {
    let mut dedup: Vec<Tag> = Vec::with_capacity(tags.len());
    for t in tags {
        if let Some(existing) = dedup.iter_mut().find(|d| d.key == t.key) {
            existing.value.clone_from(&t.value);
        } else {
            dedup.push(t.clone());
        }
    }
    dedup
}

/// Validates a batch of `metrics` and `tags` and an `update` of run `run_id` before
/// anything is written (a new name is a tag, `mlflow.runName`).
pub fn validate_update(
    run_id: &str,
    metrics: &[Metric],
    batch_tags: &[Tag],
    update: &RunUpdate,
) -> Result<()> {
    match &update.run_name {
        Some(name) => {
            let mut all = batch_tags.to_vec();
            all.push(Tag::new(tags::RUN_NAME, name.clone()));
            validate_batch(run_id, metrics, &[], &all)
        }
        None => validate_batch(run_id, metrics, &[], batch_tags),
    }
}

/// Applies `update` to `info` (status, end time, name) as a store records it: a status
/// that is not terminal clears the end time unless the update sets one.
pub fn apply_run_update(info: &mut RunInfo, update: &RunUpdate) {
    if let Some(status) = update.status {
        info.status = status;
        if !status.is_terminal() && update.end_time.is_none() {
            info.end_time = None;
        }
    }
    if let Some(end) = update.end_time {
        info.end_time = Some(end);
    }
    if let Some(name) = &update.run_name {
        info.run_name = name.clone();
    }
}

/// The latest point of each key among `metrics`, in the order keys first appear: the
/// greatest by `(step, timestamp, value)`, the earliest of equals, with NaN compared as 0.
/// This is the order the SQL stores' `latest_metrics` tables keep, on stored values (NaN
/// is stored as 0 with a flag).
pub fn latest_per_key(metrics: &[Metric]) -> Vec<&Metric> {
    let newer = |a: &Metric, b: &Metric| {
        // -0 equals 0 as in SQL.
        let value = |m: &Metric| if m.value.is_nan() { 0.0 } else { m.value };
        (a.step, a.timestamp)
            .cmp(&(b.step, b.timestamp))
            .then(value(a).partial_cmp(&value(b)).unwrap_or(Ordering::Equal))
            .is_gt()
    };
    let mut slot: std::collections::HashMap<&str, usize> =
        std::collections::HashMap::with_capacity(metrics.len());
    let mut latest: Vec<&Metric> = Vec::with_capacity(metrics.len());
    for m in metrics {
        match slot.get(m.key.as_str()) {
            Some(&i) if newer(m, latest[i]) => latest[i] = m,
            Some(_) => {}
            None => {
                slot.insert(&m.key, latest.len());
                latest.push(m);
            }
        }
    }
    latest
}

/// The error for params logged again with other values: `conflicts` holds
/// `(key, stored value, new value)` of each; `None` when there are none.
pub fn param_conflicts(run_id: &str, conflicts: &[(String, String, String)]) -> Option<StoreError> {
    if let [(k, old, new)] = conflicts {
        Some(StoreError::InvalidParameter(format!(
            "Changing param values is not allowed. Param with key='{k}' was already \
                     logged with value='{old}' for run ID='{run_id}'. Attempted logging new \
                     value '{new}'."
        )))
    } else if !conflicts.is_empty() {
        let list: Vec<String> = conflicts
            .iter()
            .map(|(k, o, n)| format!("{{'key': '{k}', 'old_value': '{o}', 'new_value': '{n}'}}"))
            .collect();
        Some(StoreError::InvalidParameter(format!(
            "Changing param values is not allowed. Params were already logged='[{}]' \
                     for run ID='{run_id}'.",
            list.join(", ")
        )))
    } else {
        None
    }
}

/// Validates a run record: its start (see [`prepare_run_start`]) and its batch; returns
/// the prepared start and the end time to store (the record's, else now when the status is
/// terminal).
pub fn prepare_record(record: &RunRecord) -> Result<(PreparedStart, Option<i64>)> {
    let prepared = prepare_run_start(&record.start)?;
    validate_batch("<new run>", &record.metrics, &record.params, &[])?;
    let end_time = record
        .end_time
        .or_else(|| record.status.is_terminal().then(now_ms));
    Ok((prepared, end_time))
}

/// Sets a just recorded run's data to the record's (params sorted and one per key, the
/// latest metric point per key): what a store holds for the new run.
pub fn set_recorded_data(run: &mut Run, record: &RunRecord) {
    let mut params = record.params.clone();
    params.sort_by(|a, b| a.key.cmp(&b.key));
    params.dedup_by(|a, b| a.key == b.key);
    let mut latest: Vec<Metric> = latest_per_key(&record.metrics)
        .into_iter()
        .cloned()
        .collect();
    latest.sort_by(|a, b| a.key.cmp(&b.key));
    run.data.metrics = latest;
    run.data.params = params;
}

/// The error for changing a deleted experiment (its tags, or creating runs in it when
/// `purpose` is given, such as "to create runs in it").
pub fn experiment_not_active(id: &ExperimentId, purpose: Option<&str>) -> StoreError {
    let purpose = purpose.map(|p| format!(" {p}")).unwrap_or_default();
    StoreError::InvalidParameter(format!(
        "The experiment {id} must be in the 'active' state{purpose}. Current state is deleted."
    ))
}

/// The error for creating an experiment whose name is taken.
pub fn experiment_name_taken(name: &str) -> StoreError {
    StoreError::AlreadyExists(format!(
        "Experiment(name={name}) already exists. Error: names are unique over active and \
         deleted experiments; restore or rename the existing one"
    ))
}

/// The error for renaming an experiment to a name that is taken.
pub fn experiment_rename_taken(new_name: &str) -> StoreError {
    StoreError::AlreadyExists(format!(
        "Experiment(name={new_name}) already exists. Error: choose another name"
    ))
}

/// The error for renaming a deleted experiment.
pub fn experiment_rename_not_active(id: &ExperimentId) -> StoreError {
    StoreError::InvalidState(format!(
        "Cannot rename a non-active experiment (id={id}); restore it first"
    ))
}

/// The error for deleting a tag that is not there: `owner` is "experiment" or "run".
pub fn tag_not_found(key: &str, owner: &str, id: &str) -> StoreError {
    StoreError::NotFound(format!("No tag with name: {key} in {owner} with id {id}"))
}

/// Whether logging the param value `new` over the stored `old` is no change: the same
/// text, or the same integer, number or boolean written another way (`0.00001` and
/// `1e-05`, `3` and `3.0`, `true` and `True`). A sweep writes a trial's point as params
/// in Rust's notation before the trial starts; a Python script that logs the same values
/// writes them in Python's. Any other difference is a change, which MLflow forbids.
pub fn same_param_value(old: &str, new: &str) -> bool {
    if old == new {
        return true;
    }
    if let (Ok(a), Ok(b)) = (old.parse::<i64>(), new.parse::<i64>()) {
        return a == b;
    }
    if let (Ok(a), Ok(b)) = (old.parse::<f64>(), new.parse::<f64>()) {
        return a == b;
    }
    let is_bool = |s: &str| s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("false");
    is_bool(old) && old.eq_ignore_ascii_case(new)
}

// ---------------------------------------------------------------------------------------
// Page tokens: base64 of JSON. MLflow's are `{"offset": N}`, which the SQL stores' run and
// experiment searches still read; they write `{"after": [...], "order": "..."}` (the last
// row's sort key, `sql.rs`), and the other listings write offsets.

/// Standard base64; decoding also takes tokens whose padding was trimmed.
const PAGE_TOKEN_BASE64: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

/// Runs per page when [`Store::count_runs`] counts by paging.
const COUNT_PAGE: usize = 1000;

/// Encode a page token for `offset`.
pub fn encode_page_token(offset: usize) -> String {
    encode_page_token_json(&format!("{{\"offset\": {offset}}}"))
}

/// A page token carrying `json`.
pub(crate) fn encode_page_token_json(json: &str) -> String {
    use base64::Engine;
    PAGE_TOKEN_BASE64.encode(json)
}

/// The JSON a page token carries; `None` for no token (the first page).
pub(crate) fn page_token_json(token: Option<&str>) -> Result<Option<serde_json::Value>> {
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    use base64::Engine;
    let bytes = PAGE_TOKEN_BASE64.decode(token.trim()).map_err(|_| {
        StoreError::InvalidParameter(format!(
            "Invalid page token '{token}', could not base64-decode; pass the \
             next_page_token of a previous page unchanged"
        ))
    })?;
    serde_json::from_slice(&bytes).map(Some).map_err(|_| {
        StoreError::InvalidParameter(format!("Invalid page token '{token}', not JSON"))
    })
}

/// The offset in an MLflow page token `{"offset": N}`, if `json` is one.
pub(crate) fn page_token_offset(json: &serde_json::Value) -> Option<usize> {
    json.get("offset")
        .and_then(|o| o.as_u64())
        .filter(|o| *o <= i64::MAX as u64)
        .and_then(|o| usize::try_from(o).ok())
}

/// Decode an offset page token; `None` means offset 0.
pub fn decode_page_token(token: Option<&str>) -> Result<usize> {
    let Some(json) = page_token_json(token)? else {
        return Ok(0);
    };
    page_token_offset(&json).ok_or_else(|| {
        StoreError::InvalidParameter(format!(
            "Invalid page token '{}', it has no non-negative 'offset'",
            token.unwrap_or_default()
        ))
    })
}

// ---------------------------------------------------------------------------------------
// Run ids and names.

/// A new run id: uuid4 as 32 lowercase hex characters.
pub fn new_run_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

const ADJECTIVES: &[&str] = &[
    "abundant",
    "agreeable",
    "amazing",
    "adorable",
    "bemused",
    "bold",
    "brawny",
    "bright",
    "bustling",
    "calm",
    "capable",
    "carefree",
    "casual",
    "caring",
    "clean",
    "colorful",
    "crawling",
    "dapper",
    "delicate",
    "enchanting",
    "entertaining",
    "fearless",
    "funny",
    "gaudy",
    "gentle",
    "gifted",
    "glamorous",
    "grandiose",
    "handsome",
    "hilarious",
    "honorable",
    "illustrious",
    "industrious",
    "judicious",
    "kindly",
    "learned",
    "legendary",
    "likeable",
    "loud",
    "luminous",
    "marvelous",
    "masked",
    "melodic",
    "merciful",
    "mercurial",
    "monumental",
    "mysterious",
    "nebulous",
    "omniscient",
    "orderly",
    "overjoyed",
    "peaceful",
    "polite",
    "popular",
    "powerful",
    "puzzled",
    "redolent",
    "resilient",
    "rogue",
    "rumbling",
    "salty",
    "sassy",
    "secretive",
    "selective",
    "sedate",
    "serious",
    "shivering",
    "skillful",
    "sincere",
    "smiling",
    "spiffy",
    "stately",
    "suave",
    "stylish",
    "tasteful",
    "thoughtful",
    "thundering",
    "traveling",
    "treasured",
    "trusting",
    "unequaled",
    "upbeat",
    "unique",
    "unruly",
    "valuable",
    "vaunted",
    "victorious",
    "welcoming",
    "whimsical",
    "wise",
    "worried",
    "youthful",
    "zealous",
];

const NOUNS: &[&str] = &[
    "ant", "ape", "asp", "auk", "bass", "bat", "bear", "bee", "bird", "boar", "bug", "calf",
    "carp", "cat", "chimp", "cod", "colt", "conch", "cow", "crab", "crane", "croc", "crow", "cub",
    "deer", "doe", "dog", "dolphin", "donkey", "dove", "duck", "eel", "elk", "fawn", "finch",
    "fish", "flea", "fly", "foal", "fowl", "fox", "frog", "gnat", "gnu", "goat", "goose", "grouse",
    "grub", "gull", "hare", "hawk", "hen", "hog", "horse", "hound", "jay", "kit", "kite", "koi",
    "lamb", "lark", "loon", "lynx", "mare", "midge", "mink", "mole", "moose", "moth", "mouse",
    "mule", "newt", "owl", "ox", "panda", "penguin", "perch", "pig", "pug", "quail", "ram", "rat",
    "ray", "robin", "roo", "rook", "seal", "shad", "shark", "sheep", "shoat", "shrew", "shrike",
    "shrimp", "skink", "skunk", "sloth", "slug", "smelt", "snail", "snake", "snipe", "sow",
    "sponge", "squid", "squirrel", "stag", "steed", "stoat", "stork", "swan", "tern", "toad",
    "trout", "turtle", "vole", "wasp", "whale", "wolf", "worm", "wren", "yak", "zebra",
];

/// A random run name `adjective-noun-NNN`, like MLflow's.
pub fn generate_run_name() -> String {
    let b = *uuid::Uuid::new_v4().as_bytes();
    let a = ADJECTIVES[usize::from(b[0]) % ADJECTIVES.len()];
    let n = NOUNS[usize::from(b[1]) % NOUNS.len()];
    let num = u16::from_le_bytes([b[2], b[3]]) % 1000;
    format!("{a}-{n}-{num}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_token_roundtrip_and_mlflow_compatible() {
        assert_eq!(encode_page_token(10), "eyJvZmZzZXQiOiAxMH0=");
        for n in [0usize, 1, 7, 999, 123_456] {
            assert_eq!(decode_page_token(Some(&encode_page_token(n))).ok(), Some(n));
        }
        assert!(decode_page_token(Some("!!!")).is_err());
        assert_eq!(decode_page_token(None).ok(), Some(0));
    }

    #[test]
    fn param_values_equal_in_another_notation_are_no_change() {
        for (old, new) in [
            ("0.00001", "1e-05"),
            ("0.5", "0.5"),
            ("3", "3.0"),
            ("100000000000000000000", "1e+20"),
            ("true", "True"),
            ("false", "FALSE"),
            ("rf", "rf"),
        ] {
            assert!(same_param_value(old, new), "{old} = {new}");
        }
        for (old, new) in [
            ("0.1", "0.2"),
            ("9007199254740993", "9007199254740992"),
            ("true", "1"),
            ("rf", "RF"),
            ("nan", "NaN"),
            ("1", ""),
        ] {
            assert!(!same_param_value(old, new), "{old} != {new}");
        }
    }

    #[test]
    fn registry_filters_split_on_and_outside_quotes_only() {
        let models = ["salt and pepper", "salt", "pepper"]
            .map(|name| RegisteredModel {
                name: name.into(),
                description: None,
                creation_timestamp_ms: 0,
                last_updated_timestamp_ms: 0,
                tags: vec![],
                aliases: vec![],
                latest_versions: vec![],
            })
            .to_vec();
        let names = |filter: &str| -> Vec<String> {
            let q = RegistryQuery {
                filter: filter.into(),
                max_results: 10,
                ..RegistryQuery::default()
            };
            page_of_registered_models(models.clone(), &q)
                .unwrap()
                .items
                .into_iter()
                .map(|m| m.name)
                .collect()
        };
        assert_eq!(names("name = 'salt and pepper'"), ["salt and pepper"]);
        assert_eq!(
            names("name LIKE 'salt%' and name != 'salt'"),
            ["salt and pepper"]
        );
        assert_eq!(
            names("name LIKE '%pepper' AND name LIKE 's%'"),
            ["salt and pepper"]
        );
    }

    #[test]
    fn keys() {
        for ok in ["loss", "a/b", "x.y-z 1:2", "ünï"] {
            assert!(validate_key("metric", ok).is_ok(), "{ok}");
        }
        for bad in ["", "/a", "a/../b", "..", "a//b", "a$b", "a/"] {
            assert!(validate_key("metric", bad).is_err(), "{bad}");
        }
        assert!(validate_key("metric", &"k".repeat(251)).is_err());
    }

    #[test]
    fn run_ids_and_names() {
        let id = new_run_id();
        assert_eq!(id.len(), 32);
        assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
        let name = generate_run_name();
        assert_eq!(name.split('-').count(), 3, "{name}");
    }
}
