//! Compatibility with the official MLflow Python client: `tests/mlflow_compat.py` runs
//! against hyperflow's server (in-process, ephemeral loopback port, temp SQLite database,
//! bearer-token auth). Skipped, with a message, when the venv from
//! `scripts/setup-mlflow.sh` cannot import mlflow.

mod common;

use hyperflow::server::{ServerConfig, spawn};

#[test]
fn official_mlflow_client_against_hyperflow_server() {
    let Some(python) =
        common::python::mlflow_python("official_mlflow_client_against_hyperflow_server")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("compat.db");
    let config = ServerConfig {
        port: 0,
        backend_store_uri: format!("sqlite:///{}", db.display()),
        artifacts_destination: dir.path().join("artifacts"),
        auth_token: Some("compat-token".into()),
        workers: Some(2),
        ..ServerConfig::default()
    };
    let server = spawn(config).expect("start server");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mlflow_compat.py");
    let out = common::python::python_command(&python)
        .arg(script)
        .current_dir(dir.path())
        .env("MLFLOW_TRACKING_URI", server.url())
        .env("MLFLOW_TRACKING_TOKEN", "compat-token")
        .env("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        .env_remove("MLFLOW_TRACKING_USERNAME")
        .env_remove("MLFLOW_TRACKING_PASSWORD")
        .output()
        .expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success() && stdout.contains("all checks passed"),
        "mlflow_compat.py failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
}
