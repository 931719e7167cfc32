//! Shared test helpers.
#![allow(dead_code)]

pub mod artifacts;
pub mod conformance;
pub mod mlflow_server;
pub mod postgres;
pub mod python;
pub mod s3;
pub mod server_process;

use hyperflow::tracking::{SqliteStore, Store};
use std::sync::Arc;

/// A fresh SQLite store in a temp dir (database file and artifact root inside it).
pub fn sqlite_store() -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store =
        SqliteStore::open_with_artifact_root(dir.path().join("t.db"), dir.path().join("artifacts"))
            .expect("open store");
    (Arc::new(store), dir)
}

/// A `hyperflow server` in this process (real HTTP on a loopback port) over a fresh SQLite
/// database and artifacts destination in `dir`.
#[cfg(feature = "server")]
pub fn hyperflow_server(dir: &std::path::Path) -> hyperflow::server::ServerHandle {
    hyperflow::server::spawn(hyperflow::server::ServerConfig {
        port: 0,
        backend_store_uri: format!("sqlite:///{}", dir.join("server.db").display()),
        artifacts_destination: dir.join("artifacts"),
        workers: Some(2),
        ..hyperflow::server::ServerConfig::default()
    })
    .expect("start server")
}

/// Calls macro `$m` with the signature of every `Store` method that has no default (as
/// `name(arg: Type, ...) -> Ret;`), for test stores that implement them all alike: one
/// that panics, one that delegates.
#[allow(unused_macros)]
macro_rules! required_store_methods {
    ($m:ident) => {
        $m! {
            create_experiment(name: &str, loc: Option<&str>, tags: &[Tag]) -> Result<ExperimentId>;
            get_experiment(id: &ExperimentId) -> Result<Experiment>;
            get_experiment_by_name(name: &str) -> Result<Option<Experiment>>;
            search_experiments(q: &ExperimentQuery) -> Result<Page<Experiment>>;
            rename_experiment(id: &ExperimentId, n: &str) -> Result<()>;
            delete_experiment(id: &ExperimentId) -> Result<()>;
            restore_experiment(id: &ExperimentId) -> Result<()>;
            set_experiment_tag(id: &ExperimentId, t: &Tag) -> Result<()>;
            delete_experiment_tag(id: &ExperimentId, k: &str) -> Result<()>;
            create_run(id: &ExperimentId, s: RunStart) -> Result<Run>;
            get_run(id: &str) -> Result<Run>;
            update_run(id: &str, u: RunUpdate) -> Result<RunInfo>;
            delete_run(id: &str) -> Result<()>;
            restore_run(id: &str) -> Result<()>;
            log_batch(id: &str, m: &[Metric], p: &[Param], t: &[Tag]) -> Result<()>;
            delete_tag(id: &str, k: &str) -> Result<()>;
            get_metric_history(id: &str, k: &str) -> Result<Vec<Metric>>;
            search_runs(q: &RunQuery) -> Result<Page<Run>>;
            log_inputs(id: &str, i: &[DatasetInput]) -> Result<()>;
            log_outputs(id: &str, o: &[ModelOutput]) -> Result<()>;
            create_logged_model(id: &ExperimentId, m: &NewLoggedModel) -> Result<LoggedModel>;
            get_logged_model(id: &str, d: bool) -> Result<LoggedModel>;
            finalize_logged_model(id: &str, s: LoggedModelStatus) -> Result<LoggedModel>;
            delete_logged_model(id: &str) -> Result<()>;
            set_logged_model_tags(id: &str, t: &[Tag]) -> Result<()>;
            delete_logged_model_tag(id: &str, k: &str) -> Result<()>;
            log_logged_model_params(id: &str, p: &[Param]) -> Result<()>;
            search_logged_models(q: &LoggedModelQuery) -> Result<Page<LoggedModel>>;
            create_registered_model(n: &str, d: Option<&str>, t: &[Tag]) -> Result<RegisteredModel>;
            get_registered_model(n: &str) -> Result<RegisteredModel>;
            rename_registered_model(n: &str, m: &str) -> Result<RegisteredModel>;
            update_registered_model(n: &str, d: &str) -> Result<RegisteredModel>;
            delete_registered_model(n: &str) -> Result<()>;
            search_registered_models(q: &RegistryQuery) -> Result<Page<RegisteredModel>>;
            set_registered_model_tag(n: &str, t: &Tag) -> Result<()>;
            delete_registered_model_tag(n: &str, k: &str) -> Result<()>;
            create_model_version(n: &str, v: &NewModelVersion) -> Result<ModelVersion>;
            get_model_version(n: &str, v: i64) -> Result<ModelVersion>;
            update_model_version(n: &str, v: i64, d: &str) -> Result<ModelVersion>;
            delete_model_version(n: &str, v: i64) -> Result<()>;
            search_model_versions(q: &RegistryQuery) -> Result<Page<ModelVersion>>;
            set_model_version_tag(n: &str, v: i64, t: &Tag) -> Result<()>;
            delete_model_version_tag(n: &str, v: i64, k: &str) -> Result<()>;
            get_model_version_download_uri(n: &str, v: i64) -> Result<String>;
            set_registered_model_alias(n: &str, a: &str, v: i64) -> Result<()>;
            delete_registered_model_alias(n: &str, a: &str) -> Result<()>;
            get_model_version_by_alias(n: &str, a: &str) -> Result<ModelVersion>;
            log_model_metrics(m: &[LoggedModelMetric]) -> Result<()>;
            transition_model_version_stage(n: &str, v: i64, s: ModelStage, a: bool) -> Result<ModelVersion>;
        }
    };
}
#[allow(unused_imports)]
pub(crate) use required_store_methods;
