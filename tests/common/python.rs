//! Finding the Python venv with the official MLflow client (`scripts/setup-mlflow.sh`).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The venv directory: `HYPERFLOW_MLFLOW_VENV`, else `~/.cache/hyperflow/mlflow-venv`.
pub fn venv_dir() -> PathBuf {
    std::env::var_os("HYPERFLOW_MLFLOW_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let home = std::env::var_os("HOME").unwrap_or_else(|| ".".into());
            PathBuf::from(home).join(".cache/hyperflow/mlflow-venv")
        })
}

/// A `Command` for the venv's python with MLflow's telemetry off.
pub fn python_command(python: &PathBuf) -> Command {
    let mut c = Command::new(python);
    c.env("MLFLOW_DISABLE_TELEMETRY", "true")
        .env("DO_NOT_TRACK", "true")
        .env("PYTHONUNBUFFERED", "1");
    c
}

/// The venv's python when it can import mlflow (and the pandas, requests and scikit-learn
/// the scripts use); otherwise prints why the calling test is
/// skipped and returns `None`. Cheap when the venv is absent.
pub fn mlflow_python(test: &str) -> Option<PathBuf> {
    let venv = venv_dir();
    let python = venv.join("bin/python");
    let skip = |why: String| {
        // CI installs the venv first; there a skip would hide a broken install step.
        assert!(
            std::env::var_os("HYPERFLOW_REQUIRE_EXTERNAL").is_none(),
            "{test}: {why}, and HYPERFLOW_REQUIRE_EXTERNAL is set"
        );
        eprintln!(
            "SKIPPED {test}: {why}. Run scripts/setup-mlflow.sh (venv at {}) to enable it.",
            venv.display()
        );
        None
    };
    if !python.exists() {
        return skip(format!("no python at {}", python.display()));
    }
    match python_command(&python)
        .args(["-c", "import mlflow, pandas, requests, sklearn"])
        .output()
    {
        Ok(o) if o.status.success() => Some(python),
        Ok(o) => skip(format!(
            "{} cannot import mlflow, pandas, requests and sklearn: {}",
            python.display(),
            String::from_utf8_lossy(&o.stderr)
                .lines()
                .last()
                .unwrap_or("")
        )),
        Err(e) => skip(format!("cannot run {}: {e}", python.display())),
    }
}

/// Run `tests/<script>` with `python` in `dir` against the tracking server at `url`, with
/// the extra environment `env`; it must print "all checks passed".
pub fn run_checks(python: &PathBuf, script: &str, url: &str, dir: &Path, env: &[(&str, &str)]) {
    let path = format!("{}/tests/{script}", env!("CARGO_MANIFEST_DIR"));
    let out = python_command(python)
        .arg(path)
        .current_dir(dir)
        .env("MLFLOW_TRACKING_URI", url)
        .env("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        .envs(env.iter().copied())
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
