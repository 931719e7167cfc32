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

use super::artifacts::{ArtifactRepo, open_once};
use super::client::{ERROR_TAG, system_tags};
use super::model::{
    ExperimentId, Metric, Param, RunInfo, RunRecord, RunStart, RunStatus, Tag, now_ms, tags,
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
/// Parent-run tag counting how many times the search was resumed.
pub const RESUMED_TAG: &str = "hyperflow.resumed";
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
    resume: Option<String>,
    single: bool,
    params: Vec<(String, String)>,
    tags: Vec<(String, String)>,
    artifacts: Vec<(String, Vec<u8>)>,
    state: OnceLock<SearchRun>,
}

/// The parent run of a search in progress.
struct SearchRun {
    tracker: Tracker,
    experiment_id: ExperimentId,
    parent: Mutex<Option<ActiveRun>>,
    /// Empty in [single-run](TrackingObserver::single_run) mode.
    parent_id: String,
    trials: Mutex<HashMap<usize, Arc<TrialRun>>>,
    /// Single-run mode: the trial's run is top-level, named `run_name`.
    single: Option<Option<String>>,
    /// Params added to each trial's run (single-run mode).
    trial_params: Vec<Param>,
    /// Artifacts written into each trial's run (single-run mode).
    trial_artifacts: Vec<(String, Vec<u8>)>,
    /// The run of the trial that finished last.
    last_run: Mutex<Option<String>>,
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
            resume: None,
            single: false,
            params: Vec::new(),
            tags: Vec::new(),
            artifacts: Vec::new(),
            state: OnceLock::new(),
        }
    }

    /// Continues an earlier search: attaches to its existing parent run `parent_run_id`
    /// (reopened as RUNNING) instead of creating one. The parent's params and `space.json`
    /// are left as they are (params cannot change); the tags given with
    /// [`tag`](Self::tag) are set, as is `hyperflow.resumed` (how many times it was
    /// resumed). Pass the earlier trials to [`Fmin::history`] so that new trials are
    /// numbered after them.
    pub fn resume(mut self, parent_run_id: impl Into<String>) -> Self {
        self.resume = Some(parent_run_id.into());
        self
    }

    /// Logs one trial as a single top-level run (tag `hyperflow.role=run`) instead of a
    /// parent run with nested children: for evaluating one given point, as
    /// `hyperflow run -P` does. The run is named by [`run_name`](Self::run_name), and
    /// receives the extra params and artifacts given to this observer.
    pub fn single_run(mut self) -> Self {
        self.single = true;
        self
    }

    /// Adds a param to the parent run (to the trial's run in
    /// [single-run](Self::single_run) mode), besides the search settings. Values longer
    /// than the store accepts are cut.
    pub fn param(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.params.push((key.into(), value.into()));
        self
    }

    /// Adds a tag to the parent run (also when [resuming](Self::resume)).
    pub fn tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.tags.push((key.into(), value.into()));
        self
    }

    /// Writes an artifact file into the parent run when the search starts (into the
    /// trial's run in [single-run](Self::single_run) mode), e.g. the config file of a
    /// sweep. Not written again when [resuming](Self::resume).
    pub fn artifact(mut self, path: impl Into<String>, contents: impl Into<Vec<u8>>) -> Self {
        self.artifacts.push((path.into(), contents.into()));
        self
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
        self.state
            .get()
            .map(|s| s.parent_id.as_str())
            .filter(|id| !id.is_empty())
    }

    /// The run id of the trial that finished last (in [single-run](Self::single_run)
    /// mode, the run).
    pub fn last_run_id(&self) -> Option<String> {
        self.state.get().and_then(|s| lock(&s.last_run).clone())
    }

    /// The id of the experiment the runs go to, once the search has started.
    pub fn experiment_id(&self) -> Option<&ExperimentId> {
        self.state.get().map(|s| &s.experiment_id)
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
        let extra_params: Vec<Param> = self
            .params
            .iter()
            .map(|(k, v)| Param::new(k, truncate(v, super::store::MAX_PARAM_VALUE_LENGTH)))
            .collect();
        if self.single {
            let experiment_id = tracker.get_or_create_experiment(&self.experiment)?;
            return Ok(SearchRun {
                single: Some(self.run_name.clone()),
                trial_params: extra_params,
                trial_artifacts: self.artifacts.clone(),
                ..SearchRun::new(tracker, experiment_id, None)
            });
        }
        if let Some(run_id) = &self.resume {
            let existing = tracker.get_run(run_id)?;
            let resumed = existing
                .data
                .tag(RESUMED_TAG)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
            let parent = tracker.start_run(RunOptions::new().run_id(run_id.clone()))?;
            let mut tags: Vec<(String, String)> = self.tags.clone();
            tags.push((RESUMED_TAG.to_string(), (resumed + 1).to_string()));
            tags.push((
                "hyperflow.warm_start_trials".to_string(),
                info.warm_start_trials.to_string(),
            ));
            parent.set_tags(tags)?;
            return Ok(SearchRun::new(
                tracker,
                existing.info.experiment_id,
                Some(parent),
            ));
        }
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
        options = options.tags(self.tags.iter().cloned());
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
        parent.log_batch(&[], &extra_params, &[])?;
        parent.log_json(&info.space.to_json(), "space.json")?;
        let artifacts = parent.artifacts()?;
        for (path, contents) in &self.artifacts {
            artifacts.write_bytes(path, contents)?;
        }
        Ok(SearchRun::new(tracker, experiment_id, Some(parent)))
    }
}

impl SearchRun {
    /// A search whose trials nest under `parent`; without one, trials are top-level runs.
    fn new(tracker: Tracker, experiment_id: ExperimentId, parent: Option<ActiveRun>) -> Self {
        let parent_id = parent
            .as_ref()
            .map_or_else(String::new, |p| p.id().to_string());
        SearchRun {
            trial_tags: trial_tags(parent.as_ref().map(ActiveRun::id)),
            user_id: super::client::current_user().to_string(),
            parent_id,
            tracker,
            experiment_id,
            parent: Mutex::new(parent),
            trials: Mutex::new(HashMap::new()),
            single: None,
            trial_params: Vec::new(),
            trial_artifacts: Vec::new(),
            last_run: Mutex::new(None),
        }
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
        *lock(&search.last_run) = Some(run_id.clone());
        if search.single.is_some() {
            return Ok(());
        }
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
        if search.single.is_some() {
            return Ok(());
        }
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

/// The tags every trial's run starts with: system tags, and either the parent and role
/// `trial`, or (single-run mode, no parent) role `run`.
fn trial_tags(parent_id: Option<&str>) -> Vec<Tag> {
    let mut tags = system_tags();
    match parent_id {
        Some(parent) => tags.extend([
            Tag::new(tags::PARENT_RUN_ID, parent),
            Tag::new("hyperflow.role", "trial"),
        ]),
        None => tags.push(Tag::new("hyperflow.role", "run")),
    }
    tags
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
    /// The run's start and params, taken by whichever writes the run: its creation when
    /// the objective logs, else the trial's end.
    unwritten: Mutex<Option<(RunStart, Vec<Param>)>>,
    /// Written when the run is created (single-run mode: the config file).
    artifacts: Vec<(String, Vec<u8>)>,
    created: OnceLock<Result<RunInfo, String>>,
    /// The run's artifact repository, opened once.
    repo: OnceLock<Box<dyn ArtifactRepo>>,
}

impl TrialRun {
    fn new(search: &SearchRun, trial: &Trial) -> Self {
        let mut tags = search.trial_tags.clone();
        let mut params: Vec<Param> = trial
            .point
            .iter()
            .map(|(k, v)| Param::new(k, v.to_string()))
            .collect();
        let run_name = match &search.single {
            Some(name) => {
                params.extend(
                    search
                        .trial_params
                        .iter()
                        .filter(|p| trial.point.value(&p.key).is_none())
                        .cloned(),
                );
                name.clone()
            }
            None => {
                tags.push(Tag::new(TRIAL_TAG, trial.number.to_string()));
                Some(format!("trial-{}", trial.number))
            }
        };
        TrialRun {
            tracker: search.tracker.clone(),
            experiment_id: search.experiment_id.clone(),
            unwritten: Mutex::new(Some((
                RunStart {
                    run_name,
                    user_id: Some(search.user_id.clone()),
                    start_time: Some(now_ms()),
                    tags,
                },
                params,
            ))),
            artifacts: search.trial_artifacts.clone(),
            created: OnceLock::new(),
            repo: OnceLock::new(),
        }
    }

    /// The run, created now if it does not exist yet.
    fn created(&self) -> Result<&RunInfo, ObserverError> {
        let run = self.created.get_or_init(|| {
            // One transaction: the run, RUNNING, with its params.
            let (start, params) = self.take_unwritten()?;
            let record = RunRecord {
                start,
                metrics: Vec::new(),
                params,
                status: RunStatus::Running,
                end_time: None,
            };
            let run = self
                .tracker
                .record_run(&self.experiment_id, &record)
                .map_err(|e| e.to_string())?;
            self.write_artifacts(&run.info.artifact_uri)
                .map_err(|e| e.to_string())?;
            Ok(run.info)
        });
        match run {
            Ok(info) => Ok(info),
            Err(e) => Err(format!("could not create the trial's run: {e}").into()),
        }
    }

    fn repo(&self, artifact_uri: &str) -> Result<&dyn ArtifactRepo, StoreError> {
        open_once(&self.repo, &**self.tracker.store(), artifact_uri)
    }

    fn take_unwritten(&self) -> Result<(RunStart, Vec<Param>), String> {
        lock(&self.unwritten)
            .take()
            .ok_or_else(|| "the trial's run was written already".to_string())
    }

    fn write_artifacts(&self, artifact_uri: &str) -> Result<(), StoreError> {
        for (path, contents) in &self.artifacts {
            self.repo(artifact_uri)?.write_bytes(path, contents)?;
        }
        Ok(())
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
            Some(Ok(info)) => {
                search
                    .tracker
                    .log_batch(&info.run_id, &metrics, &[], &tags)?;
                search.tracker.set_terminated(&info.run_id, status)?;
                Ok(info.run_id.clone())
            }
            Some(Err(e)) => {
                Err(format!("could not create the run of trial {}: {e}", trial.number).into())
            }
            None => {
                let (mut start, params) = self.take_unwritten()?;
                start.tags.extend(tags);
                let record = RunRecord {
                    start,
                    metrics,
                    params,
                    status,
                    end_time: Some(now),
                };
                let run = search.tracker.record_run(&search.experiment_id, &record)?;
                self.write_artifacts(&run.info.artifact_uri)?;
                Ok(run.info.run_id)
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
        self.0.created().ok().map(|info| info.run_id.as_str())
    }

    fn log_metric(&self, key: &str, value: f64, step: i64) -> Result<(), ObserverError> {
        Ok(self
            .0
            .tracker
            .log_metric(&self.0.created()?.run_id, key, value, step)?)
    }

    fn log_artifact(&self, path: &str, contents: &[u8]) -> Result<(), ObserverError> {
        let info = self.0.created()?;
        Ok(self
            .0
            .repo(&info.artifact_uri)?
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
