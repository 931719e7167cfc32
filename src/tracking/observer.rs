//! Logging a search: one parent run per search, one nested child run per trial.
//!
//! [`TrackingObserver`] plugs into [`fmin`](crate::fmin::fmin) as an
//! [`Observer`]; `fmin` itself knows nothing of storage. The parent run holds the search
//! settings as params, the space as the artifact `space.json`, the metric `best_loss` (step =
//! trial number) and the tags `best_run_id` / `best_trial` as the best improves. Each trial
//! becomes a child run (tag `mlflow.parentRunId`) with the point as params, the metric
//! `loss` plus the objective's metrics, the tag `hyperflow.trial`, and status FINISHED or
//! FAILED (the reason in `hyperflow.error`).
//!
//! A finished trial is committed before the next one is proposed. A trial whose objective
//! does not log by itself is written in one transaction when it finishes
//! ([`Store::record_run`](super::Store::record_run)); one that logs through its
//! [`TrialContext`](crate::fmin::TrialContext) (or asks for its run id) gets its run
//! created at that moment, RUNNING until it finishes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use super::client::{ERROR_TAG, system_tags};
use super::model::{
    ExperimentId, Metric, Param, RunRecord, RunStart, RunStatus, Tag, now_ms, tags,
};
use super::{ActiveRun, RunOptions, StoreError, Tracker};
use crate::fmin::{Fmin, Observer, ObserverError, SearchInfo, StopReason, TrialLog};
use crate::trials::{Trial, TrialState, Trials};

/// Tag holding a child run's trial number.
pub const TRIAL_TAG: &str = "hyperflow.trial";
/// Tag holding a child run's trial state (`COMPLETE`, `FAILED`, `PRUNED`).
pub const TRIAL_STATE_TAG: &str = "hyperflow.state";
/// Parent-run tag holding the best child run's id.
pub const BEST_RUN_TAG: &str = "best_run_id";
/// Parent-run tag holding the best trial's number.
pub const BEST_TRIAL_TAG: &str = "best_trial";
/// Parent-run metric holding the best loss so far, with the trial number as step.
pub const BEST_LOSS_METRIC: &str = "best_loss";
/// Child-run metric holding the trial's loss.
pub const LOSS_METRIC: &str = "loss";

/// Where a search's runs go: which store, which experiment, what the parent run is called.
enum Destination {
    /// A tracker handed in.
    Tracker(Tracker),
    /// The tracking URI from the environment, opened when the search starts.
    FromEnv,
}

/// Logs a search into a tracking store; hand it to [`Fmin::observer`] or use
/// [`Fmin::experiment`] / [`Fmin::tracking`].
///
/// ```
/// use std::sync::Arc;
/// use hyperflow::tracking::{Tracker, TrackingObserver};
/// use hyperflow::{Point, Space, fmin};
///
/// let dir = tempfile::tempdir()?;
/// let tracker = Tracker::open(&format!("sqlite:///{}/runs.db", dir.path().display()))?;
/// let space = Space::builder().uniform("x", -2.0, 2.0).build()?;
/// let tracking = Arc::new(TrackingObserver::new(tracker.clone(), "quadratic").run_name("first-sweep"));
/// let result = fmin(|p: &Point| p.get::<f64>("x").map(|x| x * x), &space)
///     .max_evals(20)
///     .progress(false)
///     .observer(tracking.clone())
///     .run()?;
/// let parent = tracker.get_run(tracking.parent_run_id().expect("started"))?;
/// assert_eq!(parent.data.metric("best_loss"), Some(result.best_loss()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct TrackingObserver {
    destination: Destination,
    experiment: String,
    run_name: Option<String>,
    parent_of_parent: Option<String>,
    state: OnceLock<SearchRun>,
}

/// The parent run of a search in progress.
struct SearchRun {
    tracker: Tracker,
    experiment_id: ExperimentId,
    parent: Mutex<Option<ActiveRun>>,
    parent_id: String,
    trials: Mutex<HashMap<usize, Arc<TrialRun>>>,
    /// The tags every child run starts with (system tags, parent, role), built once
    /// because they are the same for every trial.
    trial_tags: Vec<Tag>,
    /// The user child runs are attributed to.
    user_id: String,
}

impl TrackingObserver {
    /// Logs into `experiment` (created if missing) through `tracker`.
    pub fn new(tracker: Tracker, experiment: impl Into<String>) -> Self {
        TrackingObserver::with_destination(Destination::Tracker(tracker), experiment.into())
    }

    /// Logs into `experiment` of the store named by the environment
    /// (`HYPERFLOW_TRACKING_URI`, else `MLFLOW_TRACKING_URI`, else `sqlite:///hyperflow.db`),
    /// opened when the search starts.
    pub fn from_env(experiment: impl Into<String>) -> Self {
        TrackingObserver::with_destination(Destination::FromEnv, experiment.into())
    }

    fn with_destination(destination: Destination, experiment: String) -> Self {
        TrackingObserver {
            destination,
            experiment,
            run_name: None,
            parent_of_parent: None,
            state: OnceLock::new(),
        }
    }

    /// Names the parent run (default: a generated `adjective-noun-NNN`).
    pub fn run_name(mut self, name: impl Into<String>) -> Self {
        self.run_name = Some(name.into());
        self
    }

    /// Nests the search's parent run under an existing run.
    pub fn nested_under(mut self, run_id: impl Into<String>) -> Self {
        self.parent_of_parent = Some(run_id.into());
        self
    }

    /// The id of the search's parent run, once the search has started.
    pub fn parent_run_id(&self) -> Option<&str> {
        self.state.get().map(|s| s.parent_id.as_str())
    }

    fn search(&self) -> Result<&SearchRun, ObserverError> {
        self.state
            .get()
            .ok_or_else(|| "tracking was used before the search started".into())
    }

    fn start(&self, info: &SearchInfo<'_>) -> Result<SearchRun, StoreError> {
        let tracker = match &self.destination {
            Destination::Tracker(t) => t.clone(),
            Destination::FromEnv => Tracker::from_env()?,
        };
        let experiment_id = tracker.get_or_create_experiment(&self.experiment)?;
        let mut options = RunOptions::new()
            .experiment(&experiment_id)
            .tag("hyperflow.role", "search");
        if let Some(name) = &self.run_name {
            options = options.run_name(name.clone());
        }
        if let Some(parent) = &self.parent_of_parent {
            options = options.parent(parent.clone());
        }
        let parent = tracker.start_run(options)?;
        let optional = |v: Option<String>| v.unwrap_or_else(|| "none".to_string());
        parent.log_params([
            ("algo", info.algo.to_string()),
            ("max_evals", info.max_evals.to_string()),
            ("seed", info.seed.to_string()),
            ("parallelism", info.parallelism.to_string()),
            ("schedule", format!("{:?}", info.schedule).to_lowercase()),
            ("direction", info.direction.as_str().to_string()),
            (
                "timeout",
                optional(info.timeout.map(|t| format!("{}s", t.as_secs_f64()))),
            ),
            (
                "loss_threshold",
                optional(info.loss_threshold.map(|t| t.to_string())),
            ),
            (
                "early_stop_after",
                optional(info.early_stop_after.map(|n| n.to_string())),
            ),
            ("warm_start_trials", info.warm_start_trials.to_string()),
        ])?;
        parent.log_json(&info.space.to_json(), "space.json")?;
        let mut trial_tags = system_tags();
        trial_tags.extend([
            Tag::new(tags::PARENT_RUN_ID, parent.id()),
            Tag::new("hyperflow.role", "trial"),
        ]);
        Ok(SearchRun {
            trial_tags,
            user_id: super::client::current_user().to_string(),
            parent_id: parent.id().to_string(),
            tracker,
            experiment_id,
            parent: Mutex::new(Some(parent)),
            trials: Mutex::new(HashMap::new()),
        })
    }
}

impl Observer for TrackingObserver {
    fn search_started(&self, info: &SearchInfo<'_>) -> Result<(), ObserverError> {
        let run = self.start(info)?;
        self.state
            .set(run)
            .map_err(|_| "a TrackingObserver follows one search; create a new one for each".into())
    }

    fn trial_started(&self, trial: &Trial) -> Result<Box<dyn TrialLog>, ObserverError> {
        let search = self.search()?;
        let run = Arc::new(TrialRun::new(search, trial));
        lock(&search.trials).insert(trial.number, run.clone());
        Ok(Box::new(TrialRunLog(run)))
    }

    fn trial_finished(&self, trial: &Trial, best: Option<&Trial>) -> Result<(), ObserverError> {
        let search = self.search()?;
        let Some(run) = lock(&search.trials).remove(&trial.number) else {
            return Err(format!("trial {} finished without having started", trial.number).into());
        };
        let run_id = run.finish(search, trial)?;
        if let Some(best) = best.filter(|b| b.number == trial.number)
            && let Some(loss) = best.loss
        {
            search.tracker.log_batch(
                &search.parent_id,
                &[Metric::at_step(BEST_LOSS_METRIC, loss, trial.number as i64)],
                &[],
                &[
                    Tag::new(BEST_RUN_TAG, run_id),
                    Tag::new(BEST_TRIAL_TAG, trial.number.to_string()),
                ],
            )?;
        }
        Ok(())
    }

    fn search_finished(&self, trials: &Trials, reason: StopReason) -> Result<(), ObserverError> {
        let search = self.search()?;
        let failed = trials
            .all()
            .iter()
            .filter(|t| t.state == TrialState::Failed)
            .count();
        search.tracker.set_tags(
            &search.parent_id,
            [
                ("hyperflow.stop_reason", reason.as_str().to_string()),
                ("hyperflow.failed_trials", failed.to_string()),
            ],
        )?;
        if let Some(parent) = lock(&search.parent).take() {
            parent.end(RunStatus::Finished)?;
        }
        Ok(())
    }
}

impl Drop for TrackingObserver {
    /// A search that ended without `search_finished` (an error stopped it, or it was
    /// interrupted) leaves its parent run KILLED rather than RUNNING forever.
    fn drop(&mut self) {
        if let Some(search) = self.state.get()
            && let Some(parent) = lock(&search.parent).take()
        {
            // Nothing can be reported from drop; the run stays RUNNING if this fails.
            let _ = parent.end(RunStatus::Killed);
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves the data consistent (plain inserts
    // and takes), so a poisoned lock is still usable.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The child run of one trial: created lazily, the first time the objective logs or asks
/// for its id; otherwise written whole when the trial finishes.
struct TrialRun {
    tracker: Tracker,
    experiment_id: ExperimentId,
    start: RunStart,
    params: Vec<Param>,
    created: OnceLock<Result<String, String>>,
}

impl TrialRun {
    fn new(search: &SearchRun, trial: &Trial) -> Self {
        let mut tags = search.trial_tags.clone();
        tags.push(Tag::new(TRIAL_TAG, trial.number.to_string()));
        TrialRun {
            tracker: search.tracker.clone(),
            experiment_id: search.experiment_id.clone(),
            start: RunStart {
                run_name: Some(format!("trial-{}", trial.number)),
                user_id: Some(search.user_id.clone()),
                start_time: Some(now_ms()),
                tags,
            },
            params: trial
                .point
                .iter()
                .map(|(k, v)| Param::new(k, v.to_string()))
                .collect(),
            created: OnceLock::new(),
        }
    }

    /// The run's id, the run created now if it does not exist yet.
    fn created(&self) -> Result<&str, ObserverError> {
        let run = self.created.get_or_init(|| {
            let store = self.tracker.store();
            let run = store
                .create_run(&self.experiment_id, self.start.clone())
                .map_err(|e| e.to_string())?;
            store
                .log_batch(run.id(), &[], &self.params, &[])
                .map_err(|e| e.to_string())?;
            Ok(run.info.run_id)
        });
        match run {
            Ok(id) => Ok(id),
            Err(e) => Err(format!("could not create the trial's run: {e}").into()),
        }
    }

    /// Writes the trial's outcome and returns its run id.
    fn finish(&self, search: &SearchRun, trial: &Trial) -> Result<String, ObserverError> {
        let now = now_ms();
        let mut metrics: Vec<Metric> = trial
            .loss
            .iter()
            .map(|&l| metric(LOSS_METRIC, l, now))
            .collect();
        metrics.extend(trial.metrics.iter().map(|(k, v)| metric(k, *v, now)));
        let mut tags = vec![Tag::new(
            TRIAL_STATE_TAG,
            format!("{:?}", trial.state).to_uppercase(),
        )];
        if let Some(error) = &trial.error {
            tags.push(Tag::new(
                ERROR_TAG,
                truncate(error, super::store::MAX_TAG_VALUE_LENGTH),
            ));
        }
        let status = match trial.state {
            TrialState::Failed => RunStatus::Failed,
            TrialState::Running => RunStatus::Killed,
            TrialState::Complete | TrialState::Pruned => RunStatus::Finished,
        };
        match self.created.get() {
            Some(Ok(id)) => {
                search.tracker.log_batch(id, &metrics, &[], &tags)?;
                search.tracker.set_terminated(id, status)?;
                Ok(id.clone())
            }
            Some(Err(e)) => {
                Err(format!("could not create the run of trial {}: {e}", trial.number).into())
            }
            None => {
                let mut start = self.start.clone();
                start.tags.extend(tags);
                let record = RunRecord {
                    start,
                    metrics,
                    params: self.params.clone(),
                    status,
                    end_time: Some(now),
                };
                Ok(search
                    .tracker
                    .record_run(&search.experiment_id, &record)?
                    .info
                    .run_id)
            }
        }
    }
}

fn metric(key: &str, value: f64, timestamp: i64) -> Metric {
    Metric {
        timestamp,
        ..Metric::new(key, value)
    }
}

fn truncate(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}

/// What the objective logs through its trial context.
struct TrialRunLog(Arc<TrialRun>);

impl TrialLog for TrialRunLog {
    fn run_id(&self) -> Option<&str> {
        self.0.created().ok()
    }

    fn log_metric(&self, key: &str, value: f64, step: i64) -> Result<(), ObserverError> {
        Ok(self
            .0
            .tracker
            .log_metric(self.0.created()?, key, value, step)?)
    }

    fn log_artifact(&self, path: &str, contents: &[u8]) -> Result<(), ObserverError> {
        Ok(self
            .0
            .tracker
            .artifacts(self.0.created()?)?
            .write_bytes(path, contents)?)
    }
}

impl<'a> Fmin<'a> {
    /// Logs the search into `experiment` of the store named by the environment
    /// (`HYPERFLOW_TRACKING_URI`, else `MLFLOW_TRACKING_URI`, else `sqlite:///hyperflow.db`):
    /// a parent run for the search and a nested child run per trial.
    pub fn experiment(self, experiment: impl Into<String>) -> Self {
        self.observer(Arc::new(TrackingObserver::from_env(experiment)))
    }

    /// Logs the search as configured by `tracking` (a tracker, an experiment, a parent run
    /// name).
    pub fn tracking(self, tracking: TrackingObserver) -> Self {
        self.observer(Arc::new(tracking))
    }
}
