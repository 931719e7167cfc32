//! MLflow's own stores and URIs: `hyperflow import` from an MLflow SQLite database and from a
//! real `mlflow server` (histories logged by the official client, `tests/mlflow_history.py`,
//! compared field by field with what that client reads back), importing twice, the refusal
//! of an MLflow database as a hyperflow store, and tracking URIs hyperflow does not serve.
//! The tests that need the official client are skipped, with a message, when the venv from
//! `scripts/setup-mlflow.sh` cannot import mlflow (and fail when HYPERFLOW_REQUIRE_EXTERNAL
//! is set).

mod common;

use hyperflow::tracking::schema::{IMPORTED_FROM_TAG, origin_run_id};
use hyperflow::tracking::*;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_hyperflow");

/// `hyperflow ARGS` in `dir`, with no tracking URI from the environment.
fn hyperflow(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env_remove("HYPERFLOW_TRACKING_URI")
        .env_remove("MLFLOW_TRACKING_URI")
        .output()
        .expect("run hyperflow")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Logs the history of `tests/mlflow_history.py` into `tracking_uri` with the official
/// client, from `dir`; returns what that client read back.
fn log_history(python: &Path, dir: &Path, tracking_uri: &str) -> Value {
    let expected = dir.join("expected.json");
    let out = common::python::python_command(&python.to_path_buf())
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/mlflow_history.py"
        ))
        .arg(&expected)
        .current_dir(dir)
        .env("MLFLOW_TRACKING_URI", tracking_uri)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "mlflow_history.py failed: {}\n{}",
        stdout(&out),
        stderr(&out)
    );
    serde_json::from_slice(&std::fs::read(&expected).unwrap()).unwrap()
}

fn sqlite_uri(path: &Path) -> String {
    format!("sqlite:///{}", path.display())
}

/// `hyperflow import SOURCE` into `dest`, run from `dir`; its standard output.
fn run_import(dir: &Path, dest: &Path, source: &str) -> String {
    let out = hyperflow(
        dir,
        &["--tracking-uri", &sqlite_uri(dest), "import", source],
    );
    assert!(out.status.success(), "import failed: {}", stderr(&out));
    stdout(&out)
}

fn strings(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect()
}

/// `(step, timestamp, value)` of every point, sorted; NaN compares by its bits.
fn points(history: impl IntoIterator<Item = (i64, i64, f64)>) -> Vec<(i64, i64, u64)> {
    let mut points: Vec<_> = history
        .into_iter()
        .map(|(step, ts, v)| (step, ts, if v.is_nan() { f64::NAN } else { v }.to_bits()))
        .collect();
    points.sort();
    points
}

/// Every artifact file of `run`, with its bytes.
fn artifact_files(repo: &dyn ArtifactRepo, dir: &str, out: &mut BTreeMap<String, Vec<u8>>) {
    for entry in repo.list(dir).unwrap() {
        if entry.is_dir {
            artifact_files(repo, &entry.path, out);
        } else {
            out.insert(entry.path.clone(), repo.read_bytes(&entry.path).unwrap());
        }
    }
}

/// The destination holds exactly one copy of every active source run in `expected`, equal
/// field by field, nested under the copies of their parents.
fn check_copy(tracker: &Tracker, expected: &Value) {
    let experiment = tracker
        .get_experiment_by_name("tuning")
        .unwrap()
        .expect("experiment 'tuning' copied");
    for (key, value) in strings(&expected["experiment_tags"]) {
        assert!(
            experiment.tags.contains(&Tag::new(&key, &value)),
            "experiment tag {key}={value} missing: {:?}",
            experiment.tags
        );
    }
    assert!(tracker.get_experiment_by_name("empty").unwrap().is_some());
    assert!(
        tracker
            .get_experiment_by_name("abandoned")
            .unwrap()
            .is_none()
    );
    let copies = tracker
        .search_all_runs(
            &SearchRuns::new()
                .experiment(&experiment.experiment_id)
                .view_type(ViewType::All),
        )
        .unwrap();
    let wanted = expected["runs"].as_array().unwrap();
    assert_eq!(copies.len(), wanted.len(), "one copy per active run");
    let by_origin: HashMap<&str, &Run> = copies.iter().map(|r| (origin_run_id(r), r)).collect();
    assert_eq!(by_origin.len(), copies.len(), "no run copied twice");
    for deleted in expected["deleted_runs"].as_array().unwrap() {
        assert!(!by_origin.contains_key(deleted.as_str().unwrap()));
    }
    for source in wanted {
        let id = source["run_id"].as_str().unwrap();
        let copy = by_origin[id];
        let info = &copy.info;
        assert_eq!(info.run_name, source["run_name"].as_str().unwrap());
        assert_eq!(info.user_id, source["user_id"].as_str().unwrap());
        assert_eq!(info.status.as_str(), source["status"].as_str().unwrap());
        assert_eq!(info.start_time, source["start_time"].as_i64().unwrap());
        assert_eq!(info.end_time, source["end_time"].as_i64());
        assert_eq!(info.lifecycle_stage, LifecycleStage::Active);
        let params: BTreeMap<String, String> = copy
            .data
            .params
            .iter()
            .map(|p| (p.key.clone(), p.value.clone()))
            .collect();
        assert_eq!(params, strings(&source["params"]), "params of {id}");
        let mut tags = strings(&source["tags"]);
        if let Some(parent) = tags.get_mut(tags::PARENT_RUN_ID) {
            *parent = by_origin[parent.as_str()].id().to_string();
        }
        tags.insert(IMPORTED_FROM_TAG.into(), id.into());
        let copied: BTreeMap<String, String> = copy
            .data
            .tags
            .iter()
            .map(|t| (t.key.clone(), t.value.clone()))
            .collect();
        assert_eq!(copied, tags, "tags of {id}");
        let metrics = source["metrics"].as_object().unwrap();
        let keys: Vec<&str> = copy.data.metrics.iter().map(|m| m.key.as_str()).collect();
        assert_eq!(keys.len(), metrics.len(), "metric keys of {id}: {keys:?}");
        for (key, history) in metrics {
            let want = points(history.as_array().unwrap().iter().map(|p| {
                let value: f64 = p[2].as_str().unwrap().parse().unwrap();
                (p[0].as_i64().unwrap(), p[1].as_i64().unwrap(), value)
            }));
            let got = points(
                tracker
                    .get_metric_history(copy.id(), key)
                    .unwrap()
                    .into_iter()
                    .map(|m| (m.step, m.timestamp, m.value)),
            );
            assert_eq!(got, want, "history of {key} in {id}");
        }
        let mut files = BTreeMap::new();
        artifact_files(
            tracker.artifacts(copy.id()).unwrap().as_ref(),
            "",
            &mut files,
        );
        let want: BTreeMap<String, Vec<u8>> = source["artifacts"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(path, bytes)| {
                let bytes = bytes.as_array().unwrap();
                (
                    path.clone(),
                    bytes.iter().map(|b| b.as_u64().unwrap() as u8).collect(),
                )
            })
            .collect();
        assert_eq!(files, want, "artifacts of {id}");
    }
    // The history has artifacts and nesting at all (a check that cannot pass vacuously).
    assert!(
        copies
            .iter()
            .any(|r| r.data.tag(tags::PARENT_RUN_ID).is_some())
    );
    assert!(
        wanted
            .iter()
            .any(|r| !r["artifacts"].as_object().unwrap().is_empty())
    );
}

/// Imports `source` into a new hyperflow database twice, checking the copy after each.
fn import_twice(dir: &Path, source: &str, expected: &Value) {
    let dest = dir.join("hyperflow.db");
    let first = run_import(dir, &dest, source);
    println!("{first}");
    assert!(
        first.contains("runs: 4 copied, 0 updated, 0 already imported"),
        "{first}"
    );
    let deleted = expected["deleted_runs"][0].as_str().unwrap();
    assert!(
        first.contains(&format!(
            "({deleted}) of experiment 'tuning': deleted in the source"
        )),
        "{first}"
    );
    assert!(
        first.contains("experiment 'abandoned': deleted in the source"),
        "{first}"
    );
    let tracker = Tracker::open(&sqlite_uri(&dest)).unwrap();
    check_copy(&tracker, expected);
    // Again: finished runs are left alone, the running one is brought up to date, nothing
    // is duplicated.
    let second = run_import(dir, &dest, source);
    assert!(
        second.contains("runs: 0 copied, 1 updated, 3 already imported"),
        "{second}"
    );
    assert!(
        second.contains("experiments: 0 created, 3 already there"),
        "{second}"
    );
    check_copy(&tracker, expected);
}

#[test]
fn imports_an_mlflow_sqlite_database_without_changing_it() {
    let Some(python) = common::python::mlflow_python("imports_an_mlflow_sqlite_database") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("mlflow.db");
    let expected = log_history(&python, dir.path(), &sqlite_uri(&db));
    let before = std::fs::read(&db).unwrap();
    import_twice(dir.path(), &sqlite_uri(&db), &expected);
    assert!(
        std::fs::read(&db).unwrap() == before,
        "the MLflow database changed"
    );

    // Naming experiments: only those are imported; a misspelt one is an error.
    let only = dir.path().join("only.db");
    let import_only = |name: &str| {
        let (into, from) = (sqlite_uri(&only), sqlite_uri(&db));
        let args = [
            "--tracking-uri",
            &into,
            "import",
            &from,
            "--experiment",
            name,
        ];
        hyperflow(dir.path(), &args)
    };
    let out = import_only("empty");
    assert!(out.status.success(), "{}", stderr(&out));
    let tracker = Tracker::open(&sqlite_uri(&only)).unwrap();
    assert!(tracker.get_experiment_by_name("empty").unwrap().is_some());
    assert!(tracker.get_experiment_by_name("tuning").unwrap().is_none());
    let out = import_only("tunnig");
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("has no experiment named 'tunnig'; did you mean 'tuning'?"),
        "{}",
        stderr(&out)
    );
}

#[cfg(feature = "rest")]
#[test]
fn imports_from_a_real_mlflow_server() {
    let Some(python) = common::python::mlflow_python("imports_from_a_real_mlflow_server") else {
        return;
    };
    let server = common::mlflow_server::start(&python);
    let dir = tempfile::tempdir().unwrap();
    let expected = log_history(&python, dir.path(), &server.url);
    import_twice(dir.path(), &server.url, &expected);
}

/// The bytes of `path` and of the files next to it that SQLite would add.
fn snapshot(path: &Path) -> (Vec<u8>, Vec<PathBuf>) {
    let dir = path.parent().unwrap();
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    (std::fs::read(path).unwrap(), names)
}

#[test]
fn an_mlflow_database_is_refused_in_one_sentence_and_left_unchanged() {
    let Some(python) = common::python::mlflow_python("an_mlflow_database_is_refused") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("mlflow.db");
    let out = common::python::python_command(&python)
        .args([
            "-c",
            "import mlflow; mlflow.MlflowClient().create_experiment('mine')",
        ])
        .current_dir(dir.path())
        .env("MLFLOW_TRACKING_URI", sqlite_uri(&db))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let revision: String =
        rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap()
            .query_row("SELECT version_num FROM alembic_version", [], |r| r.get(0))
            .unwrap();
    let before = snapshot(&db);
    let uri = sqlite_uri(&db);
    // A command that writes, one that reads, and the server.
    for args in [
        vec!["--tracking-uri", &uri, "experiments", "create", "x"],
        vec!["--tracking-uri", &uri, "runs", "list"],
        vec!["--tracking-uri", &uri, "server", "--port", "0"],
    ] {
        let out = hyperflow(dir.path(), &args);
        let err = stderr(&out);
        assert!(!out.status.success(), "{args:?}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(
            err.contains(&format!(
                "{} is an MLflow tracking database (alembic revision {revision}); hyperflow \
                 does not write into it: run `hyperflow import {uri}` to copy its history",
                db.display()
            )) && err.contains("or point --tracking-uri elsewhere"),
            "{args:?}: {err}"
        );
        assert!(
            snapshot(&db) == before,
            "{args:?} changed the MLflow database"
        );
    }
    // The library says the same.
    match SqliteStore::open(&db) {
        Err(StoreError::MlflowDatabase { revision: r, .. }) => assert_eq!(r, revision),
        other => panic!("expected MlflowDatabase, got {other:?}"),
    }
    assert_eq!(
        SqliteStore::database_kind(&db).unwrap(),
        DatabaseKind::Mlflow { revision }
    );
    assert!(snapshot(&db) == before);
}

#[test]
fn tracking_uris_we_do_not_serve_are_errors_and_never_files() {
    for uri in [
        "databricks",
        "databricks://my-profile",
        "databricks-uc",
        "file:///tmp/mlruns",
        "file:mlruns",
        "postgresql+psycopg2://user@localhost/db",
        "mysql://user@localhost/db",
    ] {
        let dir = tempfile::tempdir().unwrap();
        for (how, out) in [
            (
                "MLFLOW_TRACKING_URI",
                Command::new(BIN)
                    .args(["experiments", "create", "x"])
                    .current_dir(dir.path())
                    .env_remove("HYPERFLOW_TRACKING_URI")
                    .env("MLFLOW_TRACKING_URI", uri)
                    .output()
                    .unwrap(),
            ),
            (
                "--tracking-uri",
                hyperflow(dir.path(), &["--tracking-uri", uri, "runs", "list"]),
            ),
        ] {
            let err = stderr(&out);
            assert!(!out.status.success(), "{uri} via {how}");
            assert_eq!(err.lines().count(), 1, "{uri} via {how}: {err}");
            assert!(
                err.contains(&format!("tracking URI '{uri}' is not supported: "))
                    && err.contains(&hyperflow::tracking::accepted_uris()),
                "{uri} via {how}: {err}"
            );
        }
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert!(left.is_empty(), "{uri} created {left:?}");
    }
}
