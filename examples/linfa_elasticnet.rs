//! Tune linfa's ElasticNet on the diabetes data set with every trial tracked, then register
//! the best model, promote it with the alias `champion`, and load it back by that alias.
//!
//! - The search: penalty log-uniform in [1e-5, 1], l1 ratio uniform in [0, 1], TPE, 60 trials,
//!   trained on 60 % of the data and scored on a 20 % validation split.
//! - Tracking: a parent run for the search and one nested child run per trial in an SQLite
//!   file. Each trial fits through `hyperflow::integrations::linfa::fit_and_log` (feature
//!   `linfa`), which logs the hyperparameters as params, the training rmse as the metric
//!   `train_rmse`, and the fitted model as an MLflow 3 logged model (`MLmodel` +
//!   `model.json`) whose source run is the trial's run; the trial returns mse / rmse / r2 on
//!   the validation split as metrics (loss = rmse).
//! - Afterwards: the parent run names the best trial's run; its logged model is registered
//!   as a new version of the registered model `diabetes-elasticnet`, the alias `champion` is
//!   pointed at that version, and the model is loaded back by
//!   `models:/diabetes-elasticnet@champion` and scored on the remaining 20 % (held-out test
//!   split), `test_rmse` and `test_r2` logged into the best run; then the top 5 runs by
//!   `metrics.rmse ASC` are printed through `search_runs`.
//!
//! Run: `cargo run --release --features linfa --example linfa_elasticnet [DB_PATH]`
//!
//! The database is `target/linfa_elasticnet.db` (artifacts beside it), recreated on every
//! run; give another path as the argument or in `HYPERFLOW_EXAMPLE_DB` to keep adding to it
//! (each run then gets an experiment of its own, and the registered model a new version).
//! Inspect it afterwards with `hyperflow --tracking-uri sqlite:///target/linfa_elasticnet.db
//! runs list --experiment linfa-elasticnet`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use hyperflow::integrations::linfa::fit_and_log;
use hyperflow::study::Tracking;
use hyperflow::tracking::schema::BEST_RUN_TAG;
use hyperflow::tracking::{RunOptions, RunsTable, SearchRuns, SqliteStore, Tracker, now_ms};
use hyperflow::{Outcome, Point, Space, TrialContext, fmin_with_context};
use linfa::prelude::*;
use linfa_elasticnet::ElasticNet;
use ndarray::{Array1, Array2};
use rand08::SeedableRng;

type Data = Dataset<f64, f64, ndarray::Ix1>;

/// The registered model the best trial's model becomes a version of.
const REGISTERED_MODEL: &str = "diabetes-elasticnet";

/// Validation scores of a prediction.
struct Scores {
    mse: f64,
    rmse: f64,
    r2: f64,
}

fn scores(prediction: &Array1<f64>, truth: &Data) -> Result<Scores, linfa::Error> {
    let mse = prediction.mean_squared_error(truth)?;
    Ok(Scores {
        mse,
        rmse: mse.sqrt(),
        r2: prediction.r2(truth)?,
    })
}

/// Fits on `train` (logging params, training rmse and the model into the trial's run),
/// scores on `valid`.
fn trial(
    p: &Point,
    ctx: &TrialContext,
    train: &Data,
    valid: &Data,
) -> Result<Outcome, Box<dyn std::error::Error + Send + Sync>> {
    let penalty: f64 = p.get("penalty")?;
    let l1_ratio: f64 = p.get("l1_ratio")?;
    let fitted = fit_and_log(
        &ElasticNet::params().penalty(penalty).l1_ratio(l1_ratio),
        train,
    )
    .name("elasticnet")
    .param("penalty", penalty)
    .param("l1_ratio", l1_ratio)
    .metric("train_rmse", |model, data| {
        Ok(model.predict(data).mean_squared_error(data)?.sqrt())
    })
    .run(ctx)?;
    let s = scores(&fitted.model.predict(valid), valid)?;
    Ok(Outcome::loss(s.rmse)
        .with_metric("mse", s.mse)
        .with_metric("rmse", s.rmse)
        .with_metric("r2", s.r2))
}

/// The database path and whether this example owns it (then it is recreated).
fn database() -> (PathBuf, bool) {
    match std::env::args()
        .nth(1)
        .or_else(|| std::env::var("HYPERFLOW_EXAMPLE_DB").ok())
    {
        Some(path) => (PathBuf::from(path), false),
        None => (PathBuf::from("target/linfa_elasticnet.db"), true),
    }
}

/// Removes the database (with its WAL files) and the artifacts of an earlier run.
fn remove_previous(db: &Path, artifacts: &Path) -> std::io::Result<()> {
    for suffix in ["", "-wal", "-shm"] {
        let mut name = db.as_os_str().to_owned();
        name.push(suffix);
        match std::fs::remove_file(&name) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    match std::fs::remove_dir_all(artifacts) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // 60 % train, 20 % validation (the search's score), 20 % test (only the best model sees
    // it). The shuffle is seeded, so every run splits the same way.
    let mut rng = rand08::rngs::StdRng::seed_from_u64(42);
    let (rest, test) = linfa_datasets::diabetes()
        .shuffle(&mut rng)
        .split_with_ratio(0.8);
    let (train, valid) = rest.split_with_ratio(0.75);
    println!(
        "diabetes: {} train, {} validation, {} test samples, {} features",
        train.nsamples(),
        valid.nsamples(),
        test.nsamples(),
        train.nfeatures()
    );

    let (db, owned) = database();
    let artifacts = db.with_extension("artifacts");
    if owned {
        remove_previous(&db, &artifacts)?;
    }
    let tracker = Tracker::new(Arc::new(SqliteStore::open_with_artifact_root(
        &db, &artifacts,
    )?));
    // A database kept from an earlier run already has this experiment: start a new one so
    // the top 5 below are this run's.
    let experiment = match tracker.get_experiment_by_name("linfa-elasticnet")? {
        None => "linfa-elasticnet".to_string(),
        Some(_) => format!("linfa-elasticnet-{}", now_ms()),
    };

    let space = Space::builder()
        .loguniform("penalty", 1e-5, 1.0)
        .uniform("l1_ratio", 0.0, 1.0)
        .build()?;
    let started = std::time::Instant::now();
    let result = fmin_with_context(|p, ctx| trial(p, ctx, &train, &valid), &space)
        .max_evals(60)
        .seed(7)
        .progress(false)
        .tracking(Tracking::new(tracker.clone(), experiment.as_str()).name("elasticnet-tpe"))
        .run()?;
    let best = result.best().ok_or("no trial succeeded")?;
    println!(
        "{} trials in {:.2} s; best validation rmse {:.3} at {}",
        result.trials().len(),
        started.elapsed().as_secs_f64(),
        best.loss.unwrap_or(f64::NAN),
        best.point
    );

    // The parent run names its best child run, whose logged model is registered and
    // promoted to `champion`; the champion is loaded back by alias and scored on the test
    // split, into the best run.
    let parent_id = result
        .parent_run_id()
        .ok_or("the search did not start a parent run")?;
    let parent = tracker.get_run(parent_id)?;
    let best_id = parent
        .data
        .tag(BEST_RUN_TAG)
        .ok_or("the parent run has no best_run_id tag")?
        .to_string();
    let experiment_id = parent.info.experiment_id;
    let logged = tracker
        .logged_models_of_run(&best_id)?
        .into_iter()
        .next()
        .ok_or("the best run logged no model")?;
    let version =
        tracker.register_model(&format!("models:/{}", logged.model_id), REGISTERED_MODEL)?;
    tracker.set_registered_model_alias(REGISTERED_MODEL, "champion", version.version)?;
    let champion: ElasticNet<f64> =
        tracker.load_model(&format!("models:/{REGISTERED_MODEL}@champion"))?;
    let test_scores = scores(&champion.predict(&test), &test)?;
    {
        let run = tracker.start_run(RunOptions::new().run_id(&best_id))?;
        run.log_metric("test_rmse", test_scores.rmse, 0)?;
        run.log_metric("test_r2", test_scores.r2, 0)?;
    } // the reopened run ends FINISHED here
    println!(
        "registered {} as {REGISTERED_MODEL} version {} (alias champion); loaded back by \
         models:/{REGISTERED_MODEL}@champion: test rmse {:.3}, test r2 {:.3}",
        logged.model_id, version.version, test_scores.rmse, test_scores.r2
    );
    let coefficients: Array2<f64> = champion.hyperplane().clone().insert_axis(ndarray::Axis(0));
    println!("coefficients: {coefficients:.1}");

    let top = tracker.search_runs(
        &SearchRuns::new()
            .experiment(&experiment_id)
            .filter(format!("tags.mlflow.parentRunId = '{parent_id}'"))
            .order_by("metrics.rmse ASC")
            .max_results(5),
    )?;
    let table = RunsTable::from_runs(&top.items).select(&[
        "run_id",
        "run_name",
        "metrics.rmse",
        "metrics.train_rmse",
        "metrics.r2",
        "metrics.test_rmse",
        "params.penalty",
        "params.l1_ratio",
    ]);
    println!(
        "\ntop 5 of experiment '{experiment}' by metrics.rmse ASC (database {}):\n{}",
        db.display(),
        table.to_text()
    );
    Ok(())
}
