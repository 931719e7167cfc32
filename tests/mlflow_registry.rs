//! The model registry with the official MLflow client against hyperflow's server:
//! `tests/mlflow_registry.py` logs a pyfunc model, registers it, sets an alias, loads it
//! back by version and by alias and searches the registry. Skipped, with a message, when
//! the venv from `scripts/setup-mlflow.sh` cannot import mlflow (failed under
//! HYPERFLOW_REQUIRE_EXTERNAL).

mod common;

use hyperflow::server::{ServerConfig, spawn};

#[test]
fn official_client_registers_and_loads_models_against_hyperflow_server() {
    let Some(python) = common::python::mlflow_python(
        "official_client_registers_and_loads_models_against_hyperflow_server",
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = ServerConfig {
        port: 0,
        backend_store_uri: format!("sqlite:///{}", dir.path().join("registry.db").display()),
        artifacts_destination: dir.path().join("artifacts"),
        workers: Some(2),
        ..ServerConfig::default()
    };
    let server = spawn(config).expect("start server");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mlflow_registry.py");
    let out = common::python::python_command(&python)
        .arg(script)
        .current_dir(dir.path())
        .env("MLFLOW_TRACKING_URI", server.url())
        .env("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        .output()
        .expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("all checks passed"),
        "mlflow_registry.py failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
}
