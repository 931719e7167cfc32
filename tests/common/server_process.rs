//! The `hyperflow` binary as a tracking server process, and what tests read back from
//! one (the runs of an experiment, by role).

use hyperflow::tracking::{Run, SearchRuns, Tracker};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

/// A server process (`hyperflow server` or `hyperflow ui`); killed on drop.
pub struct ServerProcess {
    child: Child,
    /// The URL it printed once it accepted connections.
    pub url: String,
}

impl ServerProcess {
    /// Run `bin args...` in `dir` (no tracking URI or auth token from the environment) and
    /// read the URL it prints once it accepts connections.
    pub fn launch(bin: &str, dir: &Path, args: &[&str]) -> ServerProcess {
        let mut child = Command::new(bin)
            .current_dir(dir)
            .env_remove("HYPERFLOW_AUTH_TOKEN")
            .env_remove("HYPERFLOW_TRACKING_URI")
            .env_remove("MLFLOW_TRACKING_URI")
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .expect("start hyperflow");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read the server's first line");
        let url = line
            .trim()
            .strip_prefix("hyperflow server listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
            .to_string();
        ServerProcess { child, url }
    }

    /// `hyperflow server` on port 0 over `backend_store_uri`, with its artifacts in
    /// `dir/artifacts`, run in `dir`.
    pub fn start(bin: &str, dir: &Path, backend_store_uri: &str) -> ServerProcess {
        let artifacts = dir.join("artifacts");
        let artifacts = artifacts.to_str().expect("a UTF-8 path");
        let args = [
            "server",
            "--port",
            "0",
            "--workers",
            "2",
            "--backend-store-uri",
            backend_store_uri,
            "--artifacts-destination",
            artifacts,
        ];
        ServerProcess::launch(bin, dir, &args)
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every run of experiment `experiment` (by name).
pub fn runs_of(tracker: &Tracker, experiment: &str) -> Vec<Run> {
    let exp = tracker
        .get_experiment_by_name(experiment)
        .expect("experiment lookup")
        .unwrap_or_else(|| panic!("no experiment {experiment}"))
        .experiment_id;
    tracker
        .search_all_runs(&SearchRuns::new().experiment(&exp))
        .expect("search")
}

/// The runs of `runs` whose `hyperflow.role` tag is `role`.
pub fn with_role<'a>(runs: &'a [Run], role: &str) -> Vec<&'a Run> {
    runs.iter()
        .filter(|r| r.data.tag("hyperflow.role") == Some(role))
        .collect()
}

/// `bin --tracking-uri <uri> args...` in `cwd` (no tracking URI from the environment);
/// it must succeed.
pub fn run_client(bin: &str, uri: &str, cwd: &Path, args: &[&str]) -> Output {
    let out = Command::new(bin)
        .current_dir(cwd)
        .env_remove("HYPERFLOW_TRACKING_URI")
        .env_remove("MLFLOW_TRACKING_URI")
        .args(["--tracking-uri", uri])
        .args(args)
        .output()
        .expect("run hyperflow");
    assert!(
        out.status.success(),
        "hyperflow {args:?}: {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A server's own copy of artifact `path` of `run`, under its artifacts destination
/// `artifacts`.
pub fn artifact_file(artifacts: &Path, run: &Run, path: &str) -> Vec<u8> {
    let file = artifacts
        .join(run.info.experiment_id.as_str())
        .join(&run.info.run_id)
        .join("artifacts")
        .join(path);
    std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}
