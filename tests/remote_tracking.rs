//! Logging to a tracking server end to end: the real `hyperflow server` binary (a temp
//! SQLite database and artifacts destination, an ephemeral loopback port) and clients
//! given `--tracking-uri http://127.0.0.1:PORT`: `hyperflow sweep` (the config on the
//! parent run, stdout and stderr on every trial's run), `hyperflow report` over the same
//! URI, `fmin` with tracking (the space on the parent, what objectives log on their run),
//! and the whole `Tracker` / `ActiveRun` artifact API. Every artifact is read back through
//! the client (the server's artifact proxy) and found in the server's artifacts destination.
#![cfg(unix)]

mod common;

use common::server_process::{
    ServerProcess, artifact_file, run_client, runs_of, with_role as role,
};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use hyperflow::study::Tracking;
use hyperflow::tracking::{Run, Tracker};
use hyperflow::{Point, Space, TrialContext, fmin_with_context};

const BIN: &str = env!("CARGO_BIN_EXE_hyperflow");

/// A `hyperflow server` process and its directory.
struct Server {
    process: ServerProcess,
    dir: tempfile::TempDir,
}

impl Server {
    /// Start the binary on port 0 and read the URL it prints once it accepts connections.
    fn start() -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = format!("sqlite:///{}", dir.path().join("server.db").display());
        let artifacts = dir.path().join("artifacts");
        let artifacts = artifacts.to_str().expect("a UTF-8 path");
        let args = [
            "server",
            "--port",
            "0",
            "--workers",
            "2",
            "--backend-store-uri",
            &db,
            "--artifacts-destination",
            artifacts,
        ];
        Server::launch(dir, &args)
    }

    /// Run `hyperflow args...` in `dir` and read the URL it prints once it accepts
    /// connections.
    fn launch(dir: tempfile::TempDir, args: &[&str]) -> Server {
        let process = ServerProcess::launch(BIN, dir.path(), args);
        Server { process, dir }
    }

    /// The artifacts destination the server keeps files in.
    fn artifacts(&self) -> PathBuf {
        self.dir.path().join("artifacts")
    }

    /// The server's own copy of artifact `path` of `run`.
    fn file_of(&self, run: &Run, path: &str) -> Vec<u8> {
        artifact_file(&self.artifacts(), run, path)
    }

    /// `hyperflow --tracking-uri <server> args...`, run in `cwd`.
    fn client(&self, cwd: &Path, args: &[&str]) -> Output {
        run_client(BIN, &self.process.url, cwd, args)
    }
}

/// A trial script: it says hello on stderr and stdout and prints its loss, `(x - 0.3)^2`.
const TRAIN: &str = r#"echo "trial x=$1" >&2
echo "training with x=$1"
awk -v x="$1" 'BEGIN { printf "{\"loss\": %f}\n", (x - 0.3) ^ 2 }'
"#;

#[test]
fn sweep_logs_trial_output_through_the_server() {
    let server = Server::start();
    let work = tempfile::tempdir().expect("temp dir");
    std::fs::write(work.path().join("train.sh"), TRAIN).expect("script");
    let config = work.path().join("sweep.toml");
    std::fs::write(
        &config,
        "[experiment]\nname = \"remote-sweep\"\n\n[command]\nrun = \"sh train.sh {x}\"\n\n\
         [objective]\nmetric = \"loss\"\n\n[search]\nalgo = \"random\"\nseed = 3\nmax_evals = 8\n\
         parallel = 2\n\n[space]\nx = { kind = \"uniform\", low = 0, high = 1 }\n",
    )
    .expect("config");
    server.client(
        work.path(),
        &["sweep", config.to_str().unwrap(), "--no-progress"],
    );
    // Nothing is written next to the client: everything went to the server.
    assert!(!work.path().join("hyperflow-artifacts").exists());

    let tracker = Tracker::open(&server.process.url).expect("tracker over REST");
    let runs = runs_of(&tracker, "remote-sweep");
    let parents = role(&runs, "search");
    assert_eq!(parents.len(), 1);
    let parent = parents[0];
    assert!(
        parent.info.artifact_uri.starts_with("mlflow-artifacts:/"),
        "{}",
        parent.info.artifact_uri
    );
    let sent = std::fs::read(&config).unwrap();
    let parent_files = tracker.artifacts(parent.id()).expect("parent's artifacts");
    assert_eq!(parent_files.read_bytes("sweep.toml").unwrap(), sent);
    assert_eq!(server.file_of(parent, "sweep.toml"), sent);
    assert!(!server.file_of(parent, "space.json").is_empty());

    let trials = role(&runs, "trial");
    assert_eq!(trials.len(), 8);
    for trial in trials {
        let repo = tracker.artifacts(trial.id()).expect("trial's artifacts");
        let names: Vec<String> = repo.list("").unwrap().into_iter().map(|f| f.path).collect();
        assert_eq!(names, ["stderr.txt", "stdout.txt"]);
        let stderr = repo.read_bytes("stderr.txt").unwrap();
        assert!(String::from_utf8_lossy(&stderr).starts_with("trial x="));
        let stdout = repo.read_bytes("stdout.txt").unwrap();
        assert!(String::from_utf8_lossy(&stdout).contains("\"loss\""));
        assert_eq!(server.file_of(trial, "stdout.txt"), stdout);
        assert_eq!(server.file_of(trial, "stderr.txt"), stderr);
    }

    // The report over the same URI reads the space back through the proxy.
    let out = server.client(
        work.path(),
        &["report", "--parent", parent.id(), "--format", "json"],
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    let x = &report["groups"][0]["params"][0];
    assert_eq!(x["name"], "x");
    assert_eq!(x["kind"], "uniform", "the kind comes from space.json: {x}");
    assert_eq!(report["groups"][0]["counts"]["complete"], 8);
}

#[test]
fn fmin_and_the_artifact_api_through_the_server() {
    let server = Server::start();
    let tracker = Tracker::open(&server.process.url).expect("tracker over REST");
    let space = Space::builder()
        .uniform("x", -1.0, 1.0)
        .build()
        .expect("space");
    let result = fmin_with_context(
        |p: &Point, ctx: &TrialContext| -> Result<f64, String> {
            let x: f64 = p.get("x").map_err(|e| e.to_string())?;
            ctx.log_artifact("notes/x.txt", x.to_string().as_bytes())
                .map_err(|e| e.to_string())?;
            Ok(x * x)
        },
        &space,
    )
    .max_evals(5)
    .parallelism(2)
    .progress(false)
    .tracking(Tracking::new(tracker.clone(), "remote-fmin"))
    .run()
    .expect("search");

    let runs = runs_of(&tracker, "remote-fmin");
    let parent_id = result.parent_run_id().expect("parent");
    let parent = runs.iter().find(|r| r.id() == parent_id).expect("parent");
    let space_json = tracker
        .artifacts(parent_id)
        .unwrap()
        .read_bytes("space.json")
        .unwrap();
    assert_eq!(
        Space::from_json_str(&String::from_utf8_lossy(&space_json)).expect("a space"),
        space
    );
    assert_eq!(server.file_of(parent, "space.json"), space_json);
    let trials: Vec<&Run> = runs.iter().filter(|r| r.id() != parent_id).collect();
    assert_eq!(trials.len(), 5);
    for trial in trials {
        let dest = tempfile::tempdir().unwrap();
        let file = tracker
            .download_artifacts(trial.id(), "notes", dest.path())
            .expect("download");
        let text = std::fs::read_to_string(file.join("x.txt")).unwrap();
        assert_eq!(Some(text.as_str()), trial.data.param("x"));
        assert_eq!(server.file_of(trial, "notes/x.txt"), text.as_bytes());
    }

    let scratch = tempfile::tempdir().unwrap();
    common::artifacts::tracker_round_trip(&tracker, scratch.path());
}

#[test]
fn ui_listens_where_host_and_port_say() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = format!("sqlite:///{}", dir.path().join("runs.db").display());
    Tracker::open(&db)
        .and_then(|t| t.create_experiment("seen"))
        .expect("a store with an experiment");
    let ui = Server::launch(
        dir,
        &[
            "--tracking-uri",
            &db,
            "ui",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
        ],
    );
    let port = ui
        .process
        .url
        .strip_prefix("http://127.0.0.1:")
        .expect("on loopback");
    assert_ne!(port, "5000", "port 0 picks a free port");
    let tracker = Tracker::open(&ui.process.url).expect("a client of the UI's server");
    assert!(
        tracker
            .get_experiment_by_name("seen")
            .expect("the UI serves the store")
            .is_some()
    );
    // As for `hyperflow server`, a non-loopback address needs a token.
    let out = Command::new(BIN)
        .env_remove("HYPERFLOW_AUTH_TOKEN")
        .args(["--tracking-uri", &db, "ui", "-H", "0.0.0.0", "-p", "0"])
        .output()
        .expect("run hyperflow ui");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--auth-token"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
