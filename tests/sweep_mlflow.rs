//! Trials that log with MLflow's official client, on the default SQLite store: the real
//! `hyperflow` binary runs `examples/sweeps/mlflow/train.py` (params, per-epoch metrics
//! with steps, tags, an artifact) with the venv's python, and each trial's run holds what
//! the script logged next to what the sweep logged. Skipped, with a message, when the venv
//! from `scripts/setup-mlflow.sh` cannot import mlflow. A second script,
//! `examples/sweeps/mlflow/train_sklearn.py`, only turns on `mlflow.sklearn.autolog()`: its
//! params, training metrics and logged model land in each trial's run too.
#![cfg(unix)]

mod common;

use std::path::Path;
use std::process::Command;

use hyperflow::Study;
use hyperflow::tracking::{
    LoggedModelQuery, LoggedModelStatus, RunStatus, SqliteStore, Store, Tracker,
};

const BIN: &str = env!("CARGO_BIN_EXE_hyperflow");
const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/examples/sweeps/mlflow/train.py"
);
const EPOCHS: i64 = 8;

/// A config in `dir` running the example script with `python`, `max_evals` trials.
fn config(dir: &Path, python: &Path, max_evals: usize) -> std::path::PathBuf {
    let path = dir.join("sweep.toml");
    let text = format!(
        "[experiment]\nname = \"mlflow-trials\"\n\n\
         [command]\nrun = \"{} {SCRIPT} --lr {{lr}} --l2 {{l2}}\"\n\
         env = {{ MLFLOW_DISABLE_TELEMETRY = \"true\", DO_NOT_TRACK = \"true\", \
         MLFLOW_HTTP_REQUEST_MAX_RETRIES = \"0\" }}\n\n\
         [objective]\nmetric = \"val_loss\"\n\n\
         [search]\nalgo = \"random\"\nmax_evals = {max_evals}\nparallel = 2\nseed = 5\n\n\
         [space]\nlr = {{ kind = \"loguniform\", low = 0.01, high = 0.5 }}\n\
         l2 = {{ kind = \"loguniform\", low = 0.00001, high = 0.1 }}\n",
        python.display()
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs `hyperflow ARGS` in `dir` on the default store (no tracking URI anywhere).
fn hyperflow(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(BIN)
        .current_dir(dir)
        .env_remove("HYPERFLOW_TRACKING_URI")
        .env_remove("MLFLOW_TRACKING_URI")
        .env_remove("MLFLOW_RUN_ID")
        .args(args)
        .arg("--no-progress")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "hyperflow {args:?}: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The id after `label` in the CLI's "runs stored in ..." line.
fn id_after<'a>(stdout: &'a str, label: &str) -> &'a str {
    let at = stdout.find(label).expect(label) + label.len();
    stdout[at..].split_whitespace().next().unwrap()
}

/// Checks that the run `run_id` holds everything `train.py` logs, and the sweep's
/// objective metric, params and artifacts.
fn check_run(tracker: &Tracker, run_id: &str, lr: f64, l2: f64) {
    let run = tracker.get_run(run_id).unwrap();
    let data = &run.data;
    // The sweep wrote the point before the trial started; the script logged the same
    // values in Python's notation, which is no change.
    assert_eq!(data.param("lr").unwrap().parse::<f64>().unwrap(), lr);
    assert_eq!(data.param("l2").unwrap().parse::<f64>().unwrap(), l2);
    assert_eq!(data.param("epochs"), Some("8"), "the script's own param");
    assert_eq!(data.tag("model"), Some("ridge"));
    assert_eq!(data.tag("data"), Some("synthetic-4d"));
    for key in ["train_mse", "val_mse"] {
        let steps: Vec<i64> = tracker
            .get_metric_history(run_id, key)
            .unwrap()
            .iter()
            .map(|m| m.step)
            .collect();
        assert_eq!(steps, (1..=EPOCHS).collect::<Vec<_>>(), "{key} per epoch");
    }
    // The sweep's objective, read from the script's output, is the last val_mse.
    let val_loss = data.metric("val_loss").expect("the sweep's metric");
    assert_eq!(data.metric("val_mse"), Some(val_loss));
    assert_eq!(run.info.status, RunStatus::Finished);
    let paths = |dir: &str| -> Vec<String> {
        let files = tracker.list_artifacts(run_id, dir).unwrap();
        files.into_iter().map(|f| f.path).collect()
    };
    assert_eq!(
        paths("model"),
        ["model/weights.json"],
        "the script's artifact"
    );
    let weights: serde_json::Value = serde_json::from_slice(
        &tracker
            .artifacts(run_id)
            .unwrap()
            .read_bytes("model/weights.json")
            .unwrap(),
    )
    .unwrap();
    assert_eq!(weights["weights"].as_array().map(Vec::len), Some(4));
    let names = paths("");
    assert!(
        names.contains(&"stdout.txt".to_string()),
        "the sweep's artifacts: {names:?}"
    );
}

#[test]
fn official_client_logs_into_each_trials_run_on_the_default_store() {
    let Some(python) = common::python::mlflow_python(
        "official_client_logs_into_each_trials_run_on_the_default_store",
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), &python, 3);
    let stdout = hyperflow(dir.path(), &["sweep", config.to_str().unwrap()]);
    assert!(stdout.contains("3 complete, 0 failed"), "{stdout}");

    let db = dir.path().join("hyperflow.db");
    let tracker = Tracker::open(&format!("sqlite:///{}", db.display())).unwrap();
    let study = Study::load(&tracker, id_after(&stdout, "parent run ")).unwrap();
    for trial in study.trials().all() {
        let point = &trial.point;
        let value = |k: &str| point.value(k).and_then(|v| v.as_f64()).unwrap();
        let run_id = study.run_id(trial.number).unwrap();
        check_run(&tracker, &run_id, value("lr"), value("l2"));
        assert_eq!(
            tracker.get_run(&run_id).unwrap().data.metric("val_loss"),
            trial.loss,
            "the sweep's objective"
        );
    }
    assert_eq!(study.trials().len(), 3);
}

#[test]
fn official_client_logs_into_the_run_of_hyperflow_run() {
    let Some(python) =
        common::python::mlflow_python("official_client_logs_into_the_run_of_hyperflow_run")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), &python, 1);
    let stdout = hyperflow(
        dir.path(),
        &[
            "run",
            config.to_str().unwrap(),
            "-P",
            "lr=0.2",
            "-P",
            "l2=0.00001",
        ],
    );
    let db = dir.path().join("hyperflow.db");
    let tracker = Tracker::open(&format!("sqlite:///{}", db.display())).unwrap();
    check_run(&tracker, id_after(&stdout, "; run "), 0.2, 0.00001);
}

const SKLEARN_SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/examples/sweeps/mlflow/train_sklearn.py"
);

#[test]
fn sklearn_autolog_logs_params_metrics_and_model_into_each_trials_run() {
    let Some(python) = common::python::mlflow_python(
        "sklearn_autolog_logs_params_metrics_and_model_into_each_trials_run",
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sweep.toml");
    let text = format!(
        "[experiment]\nname = \"sklearn-trials\"\n\n\
         [command]\nrun = \"{} {SKLEARN_SCRIPT} --C {{C}}\"\n\
         env = {{ MLFLOW_DISABLE_TELEMETRY = \"true\", DO_NOT_TRACK = \"true\", \
         MLFLOW_HTTP_REQUEST_MAX_RETRIES = \"0\" }}\n\n\
         [objective]\nmetric = \"val_error\"\n\n\
         [search]\nalgo = \"random\"\nmax_evals = 2\nparallel = 2\nseed = 5\n\n\
         [space]\nC = {{ kind = \"loguniform\", low = 0.01, high = 10.0 }}\n",
        python.display()
    );
    std::fs::write(&config, text).unwrap();
    let stdout = hyperflow(dir.path(), &["sweep", config.to_str().unwrap()]);
    assert!(stdout.contains("2 complete, 0 failed"), "{stdout}");

    let db = dir.path().join("hyperflow.db");
    let tracker = Tracker::open(&format!("sqlite:///{}", db.display())).unwrap();
    let store = SqliteStore::open(&db).unwrap();
    let study = Study::load(&tracker, id_after(&stdout, "parent run ")).unwrap();
    assert_eq!(study.trials().len(), 2);
    for trial in study.trials().all() {
        let run_id = study.run_id(trial.number).unwrap();
        let run = tracker.get_run(&run_id).unwrap();
        let data = &run.data;
        // The sweep's point and autolog's estimator params live together.
        let c = trial.point.value("C").and_then(|v| v.as_f64()).unwrap();
        assert_eq!(data.param("C").unwrap().parse::<f64>().unwrap(), c);
        assert_eq!(data.param("max_iter"), Some("500"), "autolog's params");
        let accuracy = data
            .metric("training_accuracy_score")
            .expect("autolog's training metrics");
        assert!((0.0..=1.0).contains(&accuracy), "{accuracy}");
        assert_eq!(
            data.metric("val_error"),
            trial.loss,
            "the sweep's objective"
        );
        assert_eq!(run.info.status, RunStatus::Finished);

        // The fitted model is a logged model of this run, with the training metrics.
        let experiment = run.info.experiment_id.clone();
        let models = store
            .search_logged_models(&LoggedModelQuery {
                experiment_ids: vec![experiment],
                filter: format!("source_run_id = '{run_id}'"),
                ..LoggedModelQuery::default()
            })
            .unwrap()
            .items;
        assert_eq!(models.len(), 1, "{models:?}");
        let model = &models[0];
        assert_eq!(model.status, LoggedModelStatus::Ready);
        let logged_accuracy = model
            .metrics
            .iter()
            .find(|m| m.metric.key == "training_accuracy_score")
            .expect("the model's training metrics");
        assert_eq!(logged_accuracy.metric.value, accuracy);
        assert_eq!(logged_accuracy.run_id, run_id);
        let files = store
            .artifact_repo(&model.artifact_uri)
            .unwrap()
            .list("")
            .unwrap();
        assert!(
            files.iter().any(|f| f.path == "MLmodel"),
            "the model's files: {files:?}"
        );
    }
}
