//! The deployment files of `deploy/` stay true: `deploy/check.sh` reads the server's and
//! the workers' commands out of `compose.yaml`, `k8s/` and `slurm/sweep-array.sh`, runs
//! them with this build's `hyperflow` (3 Slurm array tasks on one SQLite store; a server
//! and 3 workers over HTTP), and checks that each search ends with one parent run and
//! exactly `max_evals` finished trials. It reads the YAML with the PyYAML of the MLflow
//! venv (`scripts/setup-mlflow.sh`), and is skipped, with a message, without it.
#![cfg(unix)]

mod common;

use std::process::Command;

#[test]
fn deploy_check_runs_the_manifests_commands_to_one_search() {
    let Some(python) = common::python::mlflow_python("deploy_check") else {
        return;
    };
    let out = Command::new("bash")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/check.sh"))
        .arg(env!("CARGO_BIN_EXE_hyperflow"))
        .env("PYTHON", python)
        .output()
        .expect("run deploy/check.sh");
    assert!(
        out.status.success(),
        "deploy/check.sh failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
