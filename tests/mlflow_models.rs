//! MLflow 3's model APIs with the official MLflow client against hyperflow's server:
//! `tests/mlflow_models.py` logs a dataset input and a pyfunc model, finds it with
//! `search_logged_models` and loads it back; `tests/mlflow_registry.py` registers models,
//! sets aliases, loads them by version and by alias and searches the registry. Skipped,
//! with a message, when the venv from `scripts/setup-mlflow.sh` cannot import mlflow
//! (failed under HYPERFLOW_REQUIRE_EXTERNAL).

mod common;

use hyperflow::server::{ServerConfig, spawn};

/// Run `tests/<script>` with the official client against a fresh hyperflow server; it must
/// print "all checks passed".
fn run_script(test: &str, script: &str) {
    let Some(python) = common::python::mlflow_python(test) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = ServerConfig {
        port: 0,
        backend_store_uri: format!("sqlite:///{}", dir.path().join("models.db").display()),
        artifacts_destination: dir.path().join("artifacts"),
        workers: Some(2),
        ..ServerConfig::default()
    };
    let server = spawn(config).expect("start server");
    let path = format!("{}/tests/{script}", env!("CARGO_MANIFEST_DIR"));
    let out = common::python::python_command(&python)
        .arg(path)
        .current_dir(dir.path())
        .env("MLFLOW_TRACKING_URI", server.url())
        .env("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        .output()
        .expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("all checks passed"),
        "{script} failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
}

#[test]
fn official_client_logs_and_loads_models_against_hyperflow_server() {
    run_script(
        "official_client_logs_and_loads_models_against_hyperflow_server",
        "mlflow_models.py",
    );
}

#[test]
fn official_client_registers_and_loads_models_against_hyperflow_server() {
    run_script(
        "official_client_registers_and_loads_models_against_hyperflow_server",
        "mlflow_registry.py",
    );
}

#[test]
fn official_client_autologs_and_stages_sklearn_models_against_hyperflow_server() {
    run_script(
        "official_client_autologs_and_stages_sklearn_models_against_hyperflow_server",
        "mlflow_sklearn.py",
    );
}
