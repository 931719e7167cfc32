//! `hyperflow` on PostgreSQL end to end: the real binary, a throwaway PostgreSQL cluster
//! (`tests/common/postgres.rs`; skipped when PostgreSQL is not installed).
//!
//! - `hyperflow server --backend-store-uri postgresql://...` with an artifacts destination:
//!   a sweep through it over HTTP, every artifact API of `Tracker` (models included)
//!   through its proxy, files landing in the destination; then the official MLflow
//!   client's registry checks (`tests/mlflow_registry.py`) against it.
//! - `hyperflow --tracking-uri postgresql://...` directly: `sweep`, `runs list` and
//!   `report` on the same database.
#![cfg(unix)]

mod common;

use common::postgres::PgServer;
use common::server_process::{ServerProcess, artifact_file, run_client, runs_of, with_role};
use hyperflow::tracking::{Run, Tracker};
use std::path::{Path, PathBuf};
use std::process::Output;

const BIN: &str = env!("CARGO_BIN_EXE_hyperflow");

/// A `hyperflow server` process on a PostgreSQL backend.
struct Server {
    process: ServerProcess,
    artifacts: PathBuf,
}

impl Server {
    /// Start the binary on port 0 over `backend`, with its artifacts destination in `dir`,
    /// and read the URL it prints once it accepts connections.
    fn start(backend: &str, dir: &Path) -> Server {
        let artifacts = dir.join("artifacts");
        let destination = artifacts.to_str().expect("a UTF-8 path");
        let args = [
            "server",
            "--port",
            "0",
            "--workers",
            "2",
            "--backend-store-uri",
            backend,
            "--artifacts-destination",
            destination,
        ];
        let process = ServerProcess::launch(BIN, dir, &args);
        Server { process, artifacts }
    }

    /// The server's own copy of artifact `path` of `run`.
    fn file_of(&self, run: &Run, path: &str) -> Vec<u8> {
        artifact_file(&self.artifacts, run, path)
    }
}

/// `hyperflow --tracking-uri <uri> args...` in `cwd`; it must succeed.
fn hyperflow(uri: &str, cwd: &Path, args: &[&str]) -> Output {
    run_client(BIN, uri, cwd, args)
}

/// A sweep config in `dir` (experiment `name`, 6 trials of a shell script printing a
/// line and its loss); returns its path.
fn sweep_config(dir: &Path, name: &str) -> PathBuf {
    std::fs::write(
        dir.join("train.sh"),
        "echo \"trial x=$1\" >&2\necho \"training with x=$1\"\nawk -v x=\"$1\" 'BEGIN { printf \"{\\\"loss\\\": %f}\\n\", (x - 0.3) ^ 2 }'\n",
    )
    .expect("script");
    let config = dir.join(format!("{name}.toml"));
    std::fs::write(
        &config,
        format!(
            "[experiment]\nname = \"{name}\"\n\n[command]\nrun = \"sh train.sh {{x}}\"\n\n\
             [objective]\nmetric = \"loss\"\n\n[search]\nalgo = \"random\"\nseed = 3\n\
             max_evals = 6\nparallel = 2\n\n[space]\nx = {{ kind = \"uniform\", low = 0, high = 1 }}\n"
        ),
    )
    .expect("config");
    config
}

#[test]
fn the_server_and_the_cli_work_on_postgresql() {
    let Some(pg) = PgServer::start("the_server_and_the_cli_work_on_postgresql") else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(&pg.uri(), dir.path());
    let work = tempfile::tempdir().expect("temp dir");

    // A sweep through the server: runs in PostgreSQL, files in the destination.
    let config = sweep_config(work.path(), "through-server");
    hyperflow(
        &server.process.url,
        work.path(),
        &["sweep", config.to_str().unwrap(), "--no-progress"],
    );
    assert!(!work.path().join("hyperflow-artifacts").exists());
    let tracker = Tracker::open(&server.process.url).expect("tracker over REST");
    let runs = runs_of(&tracker, "through-server");
    let parent = with_role(&runs, "search")[0];
    assert!(
        parent.info.artifact_uri.starts_with("mlflow-artifacts:/"),
        "{}",
        parent.info.artifact_uri
    );
    assert_eq!(
        server.file_of(parent, "sweep.toml"),
        std::fs::read(&config).unwrap()
    );
    let trials = with_role(&runs, "trial");
    assert_eq!(trials.len(), 6);
    for trial in trials {
        let stdout = tracker
            .artifacts(trial.id())
            .unwrap()
            .read_bytes("stdout.txt")
            .unwrap();
        assert_eq!(server.file_of(trial, "stdout.txt"), stdout);
    }
    // Every artifact API, logged models included, through the proxy.
    common::artifacts::tracker_round_trip(&tracker, work.path());

    // The same database straight from the CLI, as a worker with credentials would use it.
    let uri = pg.uri();
    let table = hyperflow(
        &uri,
        work.path(),
        &[
            "runs",
            "list",
            "--experiment",
            "through-server",
            "--format",
            "json",
        ],
    );
    let listed: Vec<serde_json::Value> = serde_json::from_slice(&table.stdout).expect("JSON");
    assert_eq!(listed.len(), 7, "a parent and six trials");
    let report = hyperflow(
        &uri,
        work.path(),
        &["report", "--parent", parent.id(), "--format", "json"],
    );
    let report: serde_json::Value = serde_json::from_slice(&report.stdout).expect("JSON");
    assert_eq!(report["groups"][0]["counts"]["complete"], 6);
    let config = sweep_config(work.path(), "direct");
    hyperflow(
        &uri,
        work.path(),
        &["sweep", config.to_str().unwrap(), "--no-progress"],
    );
    let direct = Tracker::open(&uri).expect("tracker on PostgreSQL");
    let runs = runs_of(&direct, "direct");
    assert_eq!(with_role(&runs, "trial").len(), 6);
    // What the server serves includes what was written directly.
    assert_eq!(runs_of(&tracker, "direct").len(), runs.len());
}

#[test]
fn the_official_client_uses_the_registry_of_a_server_on_postgresql() {
    let test = "the_official_client_uses_the_registry_of_a_server_on_postgresql";
    let Some(python) = common::python::mlflow_python(test) else {
        return;
    };
    let Some(pg) = PgServer::start(test) else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(&pg.uri(), dir.path());
    common::python::run_checks(
        &python,
        "mlflow_registry.py",
        &server.process.url,
        dir.path(),
        &[],
    );
}

/// The server in this process on PostgreSQL: its store is opened and, at the end, closed
/// while async tasks run (the driver blocks on a runtime of its own, which must not happen
/// on the server's threads), and stopping it is clean.
#[test]
fn a_server_in_process_opens_and_closes_its_postgresql_store() {
    let Some(pg) = PgServer::start("a_server_in_process_opens_and_closes_its_postgresql_store")
    else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let handle = hyperflow::server::spawn(hyperflow::server::ServerConfig {
        port: 0,
        backend_store_uri: pg.uri(),
        artifacts_destination: dir.path().join("artifacts"),
        workers: Some(2),
        ..hyperflow::server::ServerConfig::default()
    })
    .expect("start server");
    let tracker = Tracker::open(&handle.url()).expect("tracker over REST");
    let exp = tracker.create_experiment("in-process").expect("create");
    assert_eq!(
        tracker.get_experiment(&exp).expect("get").artifact_location,
        format!("mlflow-artifacts:/{exp}")
    );
    handle.stop().expect("a clean stop");
}
