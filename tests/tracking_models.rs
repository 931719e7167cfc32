//! Models from Rust, the same on every store: `log_model` creates an MLflow 3 logged model
//! (READY, its source run, its params, an `MLmodel` file and `model.json` in its artifact
//! location, linked as an output of the run), the registry on `Tracker` (register, aliases,
//! tags, searches), and `load_model` by every URI form, with clear errors for wrong URIs and
//! foreign flavors. Run on a real SQLite file, on PostgreSQL (feature `postgres`) and through
//! `hyperflow server` (REST store over real HTTP); the linfa helper inside tracked trials; and the official MLflow client reading
//! what Rust logged and registered (skipped, with a message, without the MLflow venv).

mod common;

use std::collections::HashMap;
use std::path::Path;

use hyperflow::integrations::linfa::fit_and_log;
use hyperflow::study::Tracking;
use hyperflow::tracking::mlmodel::HyperflowFlavor;
use hyperflow::tracking::*;
use hyperflow::{Outcome, Point, Space, TrialContext, fmin_with_context};
use linfa::prelude::*;
use linfa_elasticnet::ElasticNet;
use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Net {
    weights: Vec<f64>,
    bias: f64,
}

fn net(bias: f64) -> Net {
    Net {
        weights: vec![0.25, -1.5],
        bias,
    }
}

/// The model error of loading `uri` as `T`.
fn load_error<T: serde::de::DeserializeOwned + std::fmt::Debug>(
    t: &Tracker,
    uri: &str,
) -> ModelError {
    t.load_model::<T>(uri)
        .expect_err(&format!("{uri} must not load"))
}

/// Log, register, alias and load through `t`; `name` is the registered model's. Returns
/// the logged model.
fn models_round_trip(t: &Tracker, name: &str) -> LoggedModel {
    let run = t.start_run(RunOptions::new().experiment("models")).unwrap();
    run.log_param("lr", 0.5).unwrap();
    let logged = run
        .log_model(
            &net(1.0),
            LogModel::new("net").param("layers", 2).tag("team", "a"),
        )
        .unwrap();

    // A READY logged model of this run, with the run's params and its own.
    assert_eq!(logged.status, LoggedModelStatus::Ready);
    assert_eq!(logged.source_run_id.as_deref(), Some(run.id()));
    assert_eq!(logged.name, "net");
    let mut params: Vec<(&str, &str)> = logged
        .params
        .iter()
        .map(|p| (p.key.as_str(), p.value.as_str()))
        .collect();
    params.sort();
    assert_eq!(params, [("layers", "2"), ("lr", "0.5")]);
    assert!(logged.tags.contains(&Tag::new("team", "a")));
    assert_eq!(t.get_logged_model(&logged.model_id).unwrap(), logged);
    assert_eq!(
        t.logged_models_of_run(run.id()).unwrap(),
        std::slice::from_ref(&logged)
    );

    // Its directory: model.json and an MLmodel that says what it is.
    let by_id = format!("models:/{}", logged.model_id);
    let repo = t.store().artifact_repo(&logged.artifact_uri).unwrap();
    let files: Vec<String> = repo.list("").unwrap().into_iter().map(|f| f.path).collect();
    assert_eq!(files, ["MLmodel", "model.json"]);
    let mlmodel = t.load_mlmodel(&by_id).unwrap();
    assert_eq!(mlmodel.model_id.as_deref(), Some(logged.model_id.as_str()));
    assert_eq!(mlmodel.run_id.as_deref(), Some(run.id()));
    assert_eq!(
        mlmodel.artifact_path.as_deref(),
        Some(logged.artifact_uri.as_str())
    );
    assert_eq!(
        mlmodel.hyperflow_flavor(&by_id).unwrap(),
        HyperflowFlavor::json()
    );
    let text = String::from_utf8(repo.read_bytes("MLmodel").unwrap()).unwrap();
    assert_eq!(text, mlmodel.to_yaml());
    assert_eq!(t.load_model::<Net>(&by_id).unwrap(), net(1.0));

    // A model directory among the run's artifacts, as earlier hyperflow versions wrote it.
    run.log_json(&net(2.0), "legacy/model.json").unwrap();
    run.log_text(
        "artifact_path: legacy\nflavors:\n  hyperflow:\n    format: json\n    data: \
         model.json\n    hyperflow_version: 0.1.0\n",
        "legacy/MLmodel",
    )
    .unwrap();
    let by_run = format!("runs:/{}/legacy", run.id());
    assert_eq!(t.load_model::<Net>(&by_run).unwrap(), net(2.0));

    // The registry: register_model creates the registered model, then adds versions.
    let v1 = t.register_model(&by_id, name).unwrap();
    assert_eq!(v1.version, 1);
    assert_eq!(v1.model_id.as_deref(), Some(logged.model_id.as_str()));
    assert_eq!(v1.run_id.as_deref(), Some(run.id()));
    let v2 = t.register_model(&by_run, name).unwrap();
    assert_eq!(v2.version, 2);
    assert_eq!(
        t.load_model::<Net>(&format!("models:/{name}/1")).unwrap(),
        net(1.0)
    );
    assert_eq!(
        t.load_model::<Net>(&format!("models:/{name}/2")).unwrap(),
        net(2.0)
    );

    t.set_registered_model_alias(name, "champion", 1).unwrap();
    let champion = format!("models:/{name}@champion");
    assert_eq!(t.load_model::<Net>(&champion).unwrap(), net(1.0));
    assert_eq!(
        t.get_model_version_by_alias(name, "champion")
            .unwrap()
            .version,
        1
    );
    t.set_registered_model_alias(name, "champion", 2).unwrap();
    assert_eq!(t.load_model::<Net>(&champion).unwrap(), net(2.0));
    assert_eq!(
        t.get_registered_model(name).unwrap().aliases,
        [ModelAlias {
            alias: "champion".into(),
            version: 2
        }]
    );

    // Stages: the newest version in a stage, and the newest of all.
    t.transition_model_version_stage(name, 1, ModelStage::Production, false)
        .unwrap();
    assert_eq!(
        t.load_model::<Net>(&format!("models:/{name}/production"))
            .unwrap(),
        net(1.0)
    );
    assert_eq!(
        t.load_model::<Net>(&format!("models:/{name}/latest"))
            .unwrap(),
        net(2.0)
    );
    assert_eq!(
        t.get_latest_versions(name, &[ModelStage::Production])
            .unwrap()
            .iter()
            .map(|v| v.version)
            .collect::<Vec<_>>(),
        [1]
    );
    let e = load_error::<Net>(t, &format!("models:/{name}/Staging"));
    assert!(e.to_string().contains("no version in stage Staging"), "{e}");

    t.set_registered_model_tag(name, "owner", "me").unwrap();
    t.set_model_version_tag(name, 1, "validated", "yes")
        .unwrap();
    let found = t
        .search_all_registered_models(&SearchRegistry::new().filter("tags.owner = 'me'"))
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].name, name);
    let versions = t
        .search_all_model_versions(
            &SearchRegistry::new()
                .filter(format!("name = '{name}'"))
                .max_results(1),
        )
        .unwrap();
    assert_eq!(
        versions.iter().map(|v| v.version).collect::<Vec<_>>(),
        [2, 1]
    );
    t.delete_model_version_tag(name, 1, "validated").unwrap();
    assert!(t.get_model_version(name, 1).unwrap().tags.is_empty());

    // Wrong URIs and missing models say what is wrong.
    for bad in [
        format!("models:/{name}"),
        "model:/x/1".to_string(),
        format!("runs:/{}", run.id()),
    ] {
        let e = load_error::<Net>(t, &bad);
        assert!(matches!(e, ModelError::Uri { .. }), "{bad}: {e:?}");
        assert!(e.to_string().contains(ModelUri::FORMS), "{e}");
    }
    for missing in [
        format!("models:/{name}/9"),
        format!("models:/{name}@nope"),
        "models:/m-00000000000000000000000000000000".to_string(),
    ] {
        let e = load_error::<Net>(t, &missing);
        assert!(
            matches!(&e, ModelError::Store(s) if s.error_code() == "RESOURCE_DOES_NOT_EXIST"),
            "{missing}: {e:?}"
        );
    }
    let e = load_error::<Net>(t, &format!("runs:/{}/nothing", run.id()));
    assert!(e.to_string().contains("no MLmodel file"), "{e}");
    let e = load_error::<Vec<String>>(t, &champion);
    assert!(matches!(e, ModelError::Data { .. }), "{e:?}");
    run.log_text(
        "flavors:\n  python_function:\n    loader_module: mlflow.sklearn\n  sklearn:\n    \
         pickled_model: model.pkl\n",
        "foreign/MLmodel",
    )
    .unwrap();
    let e = load_error::<Net>(t, &format!("runs:/{}/foreign", run.id()));
    assert!(
        e.to_string().contains("flavors: python_function, sklearn"),
        "{e}"
    );
    let e = t.register_model(&champion, name).unwrap_err();
    assert!(
        e.to_string().contains("already a registered version"),
        "{e}"
    );

    // A model serde refuses creates nothing.
    let unserializable = HashMap::from([((1, 2), 3)]);
    assert!(matches!(
        run.log_model(&unserializable, "bad"),
        Err(StoreError::Serialization(_))
    ));
    assert_eq!(t.logged_models_of_run(run.id()).unwrap().len(), 1);

    t.delete_registered_model(name).unwrap();
    assert!(t.get_registered_model(name).is_err());
    logged
}

#[test]
fn models_and_registry_on_a_sqlite_file() {
    let (store, _dir) = common::sqlite_store();
    let logged = models_round_trip(&Tracker::new(store), "net-sqlite");
    assert!(
        Path::new(&logged.artifact_uri).is_absolute(),
        "{}",
        logged.artifact_uri
    );
}

#[cfg(feature = "postgres")]
#[test]
fn models_and_registry_on_postgresql() {
    let Some(pg) = common::postgres::PgServer::start("models_and_registry_on_postgresql") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("artifacts").display().to_string();
    let store = PgStore::open_with_artifact_root(&pg.uri(), &root).unwrap();
    let logged = models_round_trip(&Tracker::new(std::sync::Arc::new(store)), "net-pg");
    // Its files are under the store's artifact root.
    assert!(
        logged.artifact_uri.starts_with(&root),
        "{}",
        logged.artifact_uri
    );
}

#[test]
fn models_and_registry_through_hyperflow_server() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::hyperflow_server(dir.path());
    let t = Tracker::open(&server.url()).unwrap();
    let logged = models_round_trip(&t, "net-rest");
    // Its files went through the server's artifact proxy.
    assert!(
        logged.artifact_uri.starts_with("mlflow-artifacts:/"),
        "{}",
        logged.artifact_uri
    );
}

#[test]
fn a_model_whose_files_cannot_be_written_is_upload_failed() {
    let (store, dir) = common::sqlite_store();
    let t = Tracker::new(store);
    let location = dir.path().join("exp-artifacts");
    std::fs::create_dir_all(&location).unwrap();
    let exp = t
        .create_experiment_with("blocked", Some(location.to_str().unwrap()), &[])
        .unwrap();
    // Logged models go to <location>/models/<id>/artifacts: a file named `models` is in the
    // way (for every user, root included).
    std::fs::write(location.join("models"), "not a directory").unwrap();
    let run = t.start_run(RunOptions::new().experiment(&exp)).unwrap();
    let e = run.log_model(&net(1.0), "net").unwrap_err();
    assert!(matches!(e, StoreError::Io { .. }), "{e:?}");
    let models = t.logged_models_of_run(run.id()).unwrap();
    assert_eq!(models.len(), 1);
    assert_eq!(models[0].status, LoggedModelStatus::UploadFailed);
}

type Data = linfa::Dataset<f64, f64, ndarray::Ix1>;

/// y = 3 x0 - 2 x1 + 1 on a small grid.
fn linear_data() -> Data {
    let x = Array2::from_shape_fn((40, 2), |(i, j)| ((i * (j + 3)) % 11) as f64 / 5.0);
    let y = Array1::from_iter(x.rows().into_iter().map(|r| 3.0 * r[0] - 2.0 * r[1] + 1.0));
    linfa::Dataset::new(x, y)
}

/// An fmin objective fitting ElasticNet through the linfa helper.
fn elasticnet_trial(
    p: &Point,
    ctx: &TrialContext,
    train: &Data,
) -> Result<Outcome, Box<dyn std::error::Error + Send + Sync>> {
    let penalty: f64 = p.get("penalty")?;
    let fitted = fit_and_log(&ElasticNet::params().penalty(penalty), train)
        .name("elasticnet")
        .param("penalty", penalty)
        .param("solver", "cd")
        .metric("train_r2", |m, d| m.predict(d).r2(d))
        .run(ctx)?;
    let r2 = fitted.metric("train_r2").ok_or("no train_r2")?;
    Ok(Outcome::loss(1.0 - r2))
}

#[test]
fn the_linfa_helper_logs_params_metrics_and_the_model_of_each_trial() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::hyperflow_server(dir.path());
    let tracker = Tracker::open(&server.url()).unwrap();
    let train = linear_data();
    let space = Space::builder()
        .loguniform("penalty", 1e-4, 1.0)
        .build()
        .unwrap();
    let result = fmin_with_context(|p, ctx| elasticnet_trial(p, ctx, &train), &space)
        .max_evals(4)
        .seed(3)
        .progress(false)
        .tracking(Tracking::new(tracker.clone(), "linfa-helper"))
        .run()
        .unwrap();
    assert_eq!(result.trials().len(), 4);
    for trial in result.trials().iter() {
        assert_eq!(trial.state, hyperflow::TrialState::Complete, "{trial:?}");
    }
    let parent = result.parent_run_id().unwrap();
    let exp = tracker.get_run(parent).unwrap().info.experiment_id;
    let runs = tracker
        .search_all_runs(
            &SearchRuns::new()
                .experiment(&exp)
                .filter(format!("tags.mlflow.parentRunId = '{parent}'")),
        )
        .unwrap();
    assert_eq!(runs.len(), 4);
    for run in runs {
        let r2 = run.data.metric("train_r2").unwrap();
        assert!(r2 > 0.0 && r2 <= 1.0, "{r2}");
        assert_eq!(run.data.param("solver"), Some("cd"));
        let models = tracker.logged_models_of_run(run.id()).unwrap();
        assert_eq!(models.len(), 1);
        let logged = &models[0];
        assert_eq!(logged.status, LoggedModelStatus::Ready);
        assert_eq!(logged.name, "elasticnet");
        // The training metric belongs to the logged model too.
        assert_eq!(
            logged
                .metrics
                .iter()
                .find(|m| m.metric.key == "train_r2")
                .map(|m| m.metric.value),
            Some(r2)
        );
        assert!(logged.params.contains(&Param::new("solver", "cd")));
        assert_eq!(
            logged
                .params
                .iter()
                .find(|p| p.key == "penalty")
                .map(|p| &p.value),
            run.data.param("penalty").map(str::to_string).as_ref()
        );
        // The loaded model predicts what the trial's fitted model scored.
        let model: ElasticNet<f64> = tracker
            .load_model(&format!("models:/{}", logged.model_id))
            .unwrap();
        let again = model.predict(&train).r2(&train).unwrap();
        assert_eq!(again, r2);
    }

    // Untracked, the helper fits and computes its metrics, and logs nothing.
    let untracked = fmin_with_context(
        |p, ctx| {
            assert!(ctx.tracked_run().is_none());
            elasticnet_trial(p, ctx, &train)
        },
        &space,
    )
    .max_evals(1)
    .progress(false)
    .run()
    .unwrap();
    assert_eq!(
        untracked.trials().iter().next().unwrap().state,
        hyperflow::TrialState::Complete
    );
}

#[test]
fn the_official_client_reads_a_model_logged_and_registered_from_rust() {
    let test = "the_official_client_reads_a_model_logged_and_registered_from_rust";
    let Some(python) = common::python::mlflow_python(test) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let server = common::hyperflow_server(dir.path());
    let t = Tracker::open(&server.url()).unwrap();
    let run = t
        .start_run(RunOptions::new().experiment("from-rust"))
        .unwrap();
    let logged = run.log_model(&net(1.0), "net").unwrap();
    let version = t
        .register_model(&format!("models:/{}", logged.model_id), "rust-net")
        .unwrap();
    t.set_registered_model_alias("rust-net", "champion", version.version)
        .unwrap();
    let run_id = run.id().to_string();
    run.end(RunStatus::Finished).unwrap();

    let model_json = serde_json::to_string(&net(1.0)).unwrap();
    common::python::run_checks(
        &python,
        "mlflow_rust_models.py",
        &server.url(),
        dir.path(),
        &[
            ("MODEL_ID", &logged.model_id),
            ("RUN_ID", &run_id),
            ("REGISTERED_MODEL", "rust-net"),
            ("MODEL_JSON", &model_json),
        ],
    );
}
