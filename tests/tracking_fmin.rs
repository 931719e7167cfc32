//! `fmin` with tracking: a parent run per search, a nested child run per trial, on a real
//! SQLite file.

use std::sync::Arc;

use hyperflow::fmin::{Observer, ObserverError};
use hyperflow::study::Tracking;
use hyperflow::tracking::{RunStatus, SearchRuns, Tracker};
use hyperflow::{Outcome, Point, Space, Study, Trial, fmin, fmin_with_context};

fn tracker(dir: &tempfile::TempDir) -> Tracker {
    Tracker::open(&format!("sqlite:///{}/runs.db", dir.path().display())).expect("store opens")
}

fn space() -> Space {
    Space::builder()
        .uniform("x", -3.0, 3.0)
        .choice(
            "kind",
            [
                ("a", Space::builder().randint("n", 0, 5)),
                ("b", Space::builder()),
            ],
        )
        .build()
        .expect("valid")
}

fn children_of(tracker: &Tracker, parent_id: &str) -> Vec<hyperflow::tracking::Run> {
    let experiment = tracker
        .get_run(parent_id)
        .expect("parent stored")
        .info
        .experiment_id;
    tracker
        .search_all_runs(
            &SearchRuns::new()
                .experiment(&experiment)
                .filter(hyperflow::tracking::schema::children_of(parent_id).to_string()),
        )
        .expect("search")
}

#[test]
fn every_trial_is_a_nested_child_run_and_the_parent_tracks_the_best() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tracker = tracker(&dir);
    let space = space();
    let result = fmin(
        |p: &Point| -> Result<Outcome, String> {
            let x: f64 = p.get("x").map_err(|e| e.to_string())?;
            if x > 2.5 {
                return Err(format!("x = {x} is too large"));
            }
            Ok(Outcome::loss(x * x).with_metric("abs_x", x.abs()))
        },
        &space,
    )
    .max_evals(40)
    .seed(9)
    .parallelism(3)
    .progress(false)
    .tracking(Tracking::new(tracker.clone(), "quadratic").name("sweep-1"))
    .run()
    .expect("search runs");

    let parent_id = result.parent_run_id().expect("parent exists").to_string();
    let parent = tracker.get_run(&parent_id).expect("parent stored");
    assert_eq!(parent.info.status, RunStatus::Finished);
    assert_eq!(parent.info.run_name, "sweep-1");
    assert_eq!(parent.data.param("max_evals"), Some("40"));
    assert_eq!(parent.data.param("seed"), Some("9"));
    assert_eq!(parent.data.metric("best_loss"), result.best_loss());
    assert!(
        tracker
            .list_artifacts(&parent_id, "")
            .expect("artifacts")
            .iter()
            .any(|f| f.path == "space.json")
    );

    // Each new best is lower than every one logged before it. Three workers finish in any
    // order, so the steps (trial numbers) need not rise; two bests logged in the same
    // millisecond are ordered by step, so only strictly later timestamps are compared.
    let history = tracker
        .get_metric_history(&parent_id, "best_loss")
        .expect("history");
    assert!(
        history.iter().all(|later| history
            .iter()
            .filter(|earlier| earlier.timestamp < later.timestamp)
            .all(|earlier| later.value < earlier.value)),
        "{history:?}"
    );
    let lowest = history.iter().map(|m| m.value).min_by(f64::total_cmp);
    assert_eq!(lowest, result.best_loss());
    // Each was the loss of the trial whose number is its step.
    for best in &history {
        let trial = &result.trials()[usize::try_from(best.step).expect("step")];
        assert_eq!(trial.loss, Some(best.value), "{best:?}");
    }

    let children = tracker
        .search_all_runs(
            &SearchRuns::new()
                .experiment(&parent.info.experiment_id)
                .filter(format!("tags.mlflow.parentRunId = '{parent_id}'"))
                .order_by("metrics.loss ASC"),
        )
        .expect("search");
    assert_eq!(children.len(), 40);
    let best_child = &children[0];
    assert_eq!(best_child.data.metric("loss"), result.best_loss());
    assert_eq!(
        parent.data.tag("best_run_id"),
        Some(best_child.info.run_id.as_str())
    );
    assert_eq!(
        parent.data.tag("best_trial"),
        best_child.data.tag("hyperflow.trial")
    );

    for trial in result.trials() {
        let child = children
            .iter()
            .find(|c| c.data.tag("hyperflow.trial") == Some(trial.number.to_string().as_str()))
            .expect("a child per trial");
        for (name, value) in trial.point.iter() {
            assert_eq!(child.data.param(name), Some(value.to_string().as_str()));
        }
        match trial.loss {
            Some(loss) => {
                assert_eq!(child.info.status, RunStatus::Finished);
                assert_eq!(child.data.metric("loss"), Some(loss));
                assert!(child.data.metric("abs_x").is_some());
            }
            None => {
                assert_eq!(child.info.status, RunStatus::Failed);
                assert!(
                    child
                        .data
                        .tag("hyperflow.error")
                        .is_some_and(|e| e.contains("too large"))
                );
            }
        }
    }
}

#[test]
fn objectives_log_step_metrics_and_artifacts_into_their_own_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tracker = tracker(&dir);
    let space = space();
    let result = fmin_with_context(
        |p: &Point, ctx: &hyperflow::TrialContext| -> Result<f64, String> {
            let x: f64 = p.get("x").map_err(|e| e.to_string())?;
            let run_id = ctx.run_id().ok_or("tracking is on")?.to_string();
            for epoch in 0..5 {
                ctx.log_metric(
                    "val_loss",
                    x * x + 1.0 / f64::from(epoch + 1),
                    i64::from(epoch),
                )
                .map_err(|e| e.to_string())?;
            }
            ctx.log_artifact("notes/run.txt", run_id.as_bytes())
                .map_err(|e| e.to_string())?;
            Ok(x * x)
        },
        &space,
    )
    .max_evals(6)
    .progress(false)
    .tracking(Tracking::new(tracker.clone(), "epochs"))
    .run()
    .expect("search runs");

    let parent_id = result.parent_run_id().expect("started");
    let children = children_of(&tracker, parent_id);
    assert_eq!(children.len(), 6);
    for child in &children {
        assert_eq!(child.info.status, RunStatus::Finished);
        let history = tracker
            .get_metric_history(&child.info.run_id, "val_loss")
            .expect("history");
        assert_eq!(
            history.iter().map(|m| m.step).collect::<Vec<_>>(),
            vec![0, 1, 2, 3, 4]
        );
        let dest = tempfile::tempdir().expect("tempdir");
        let file = tracker
            .download_artifacts(&child.info.run_id, "notes/run.txt", dest.path())
            .expect("artifact");
        assert_eq!(
            std::fs::read_to_string(file).expect("readable"),
            child.info.run_id
        );
        assert!(child.data.param("x").is_some());
    }
}

struct StopAfterTwo;

impl Observer for StopAfterTwo {
    fn trial_finished(&self, t: &Trial, _: Option<&Trial>) -> Result<(), ObserverError> {
        if t.number >= 2 {
            Err("stop".into())
        } else {
            Ok(())
        }
    }
}

#[test]
fn a_search_stopped_by_an_error_leaves_its_parent_killed_and_its_finished_trials_stored() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tracker = tracker(&dir);
    let space = space();
    let mut study = Study::builder(&space)
        .tracking(Tracking::new(tracker.clone(), "stopped"))
        .create()
        .expect("study");
    let err = study
        .optimize(|p: &Point| p.get::<f64>("x"))
        .max_evals(50)
        .parallelism(1)
        .progress(false)
        .observer(Arc::new(StopAfterTwo))
        .run()
        .unwrap_err();
    assert!(err.to_string().contains("stop"));
    let parent_id = study.parent_run_id().expect("started").to_string();
    let parent = tracker.get_run(&parent_id).unwrap();
    assert_eq!(parent.info.status, RunStatus::Killed);
    assert!(
        parent
            .data
            .tag("hyperflow.stop_reason")
            .is_some_and(|r| r.contains("stop")),
        "{:?}",
        parent.data.tags
    );
    let children = children_of(&tracker, &parent_id);
    assert_eq!(children.len(), 3);
    assert!(
        children
            .iter()
            .all(|c| c.info.status == RunStatus::Finished)
    );
}
