//! A study kept in a tracking store: its parent run, one child run per trial, written
//! and read through [`schema`].

use crate::lock;
use std::collections::HashMap;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

use super::run_ids::RunIds;
use super::{StopReason, StudyError};
use crate::space::{Point, Space};
use crate::tracking::artifacts::{ArtifactRepo, open_once};
use crate::tracking::client::{current_user, system_tags};
use crate::tracking::filter::{Clause, Filter};
use crate::tracking::ledger::{self, Ended, Ledger, LedgerStart, LedgerTrial, TrialEnd};
use crate::tracking::schema::{self, Role, SearchSettings, StudyParams};
use crate::tracking::store::{MAX_PARAM_VALUE_LENGTH, MAX_TAG_VALUE_LENGTH};
use crate::tracking::{
    ExperimentId, Metric, Param, Run, RunRecord, RunStart, RunStatus, SearchRuns, StoreError, Tag,
    Tracker, ViewType, now_ms,
};
use crate::trials::{Direction, Trial, TrialState, Trials};

/// Where a study is tracked and how its runs are named and tagged; hand it to
/// [`StudyBuilder::tracking`](super::StudyBuilder::tracking) (or to `fmin`'s
/// [`tracking`](crate::fmin::Fmin::tracking)).
///
/// ```
/// use hyperflow::study::{Study, Tracking};
/// use hyperflow::tracking::Tracker;
/// use hyperflow::Space;
///
/// let dir = tempfile::tempdir()?;
/// let tracker = Tracker::open(&format!("sqlite:///{}/runs.db", dir.path().display()))?;
/// let space = Space::builder().uniform("x", -2.0, 2.0).build()?;
/// let mut study = Study::builder(&space)
///     .tracking(Tracking::new(tracker.clone(), "quadratic").name("first"))
///     .create()?;
/// let trial = study.ask()?;
/// let x: f64 = trial.point().get("x")?;
/// study.tell(trial, x * x)?;
/// let again = Study::load_named(&tracker, "quadratic", "first")?.expect("stored");
/// assert_eq!(again.trials().len(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Tracking {
    destination: Destination,
    experiment: String,
    name: Option<String>,
    nested_under: Option<String>,
    single_run: bool,
    params: Vec<(String, String)>,
    tags: Vec<(String, String)>,
    artifacts: Vec<(String, Vec<u8>)>,
    join_key: Option<String>,
}

/// Which store a study goes to.
#[derive(Debug)]
enum Destination {
    /// A tracker handed in.
    Tracker(Tracker),
    /// The store named by the environment, opened when the study is created.
    FromEnv,
}

impl Tracking {
    /// Tracks the study in `experiment` (created if missing) of `tracker`'s store.
    pub fn new(tracker: Tracker, experiment: impl Into<String>) -> Self {
        Tracking::with(Destination::Tracker(tracker), experiment.into())
    }

    /// Tracks the study in `experiment` of the store named by the environment
    /// (`HYPERFLOW_TRACKING_URI`, else `MLFLOW_TRACKING_URI`, else
    /// `sqlite:///hyperflow.db`), opened when the study is created.
    pub fn from_env(experiment: impl Into<String>) -> Self {
        Tracking::with(Destination::FromEnv, experiment.into())
    }

    fn with(destination: Destination, experiment: String) -> Self {
        Tracking {
            destination,
            experiment,
            name: None,
            nested_under: None,
            single_run: false,
            params: Vec::new(),
            tags: Vec::new(),
            artifacts: Vec::new(),
            join_key: None,
        }
    }

    /// Lets other workers join the study while it runs: a study created with the key of
    /// one that is running in the same experiment joins that one instead of starting a
    /// new search (its parent run, trial numbers and budget are shared; see
    /// [`ledger`](crate::tracking::ledger)). The key is given up when the search ends, so
    /// the next study created with it starts afresh. Needs a store with a ledger (SQLite,
    /// PostgreSQL, a hyperflow server); elsewhere the study runs alone.
    pub fn join_key(mut self, key: impl Into<String>) -> Self {
        self.join_key = Some(key.into());
        self
    }

    /// Names the study: its parent run's name and its `hyperflow.study` tag, by which
    /// [`Study::load_named`](super::Study::load_named) finds it (default: a generated
    /// `adjective-noun-NNN` run name, and no study name).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Nests the study's parent run under an existing run.
    pub fn nested_under(mut self, run_id: impl Into<String>) -> Self {
        self.nested_under = Some(run_id.into());
        self
    }

    /// Logs each trial as a lone top-level run (tag `hyperflow.role=run`) instead of a
    /// parent run with nested children: for evaluating one given point, as
    /// `hyperflow run -P` does. The trial's run takes the [name](Self::name), the extra
    /// params and the artifacts.
    pub fn single_run(mut self) -> Self {
        self.single_run = true;
        self
    }

    /// Adds a param to the parent run (to the trial's run in
    /// [single-run](Self::single_run) mode). Values longer than the store accepts are cut.
    pub fn param(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.params.push((key.into(), value.into()));
        self
    }

    /// Adds a tag to the parent run.
    pub fn tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.tags.push((key.into(), value.into()));
        self
    }

    /// Writes an artifact file into the parent run when the study is created (into the
    /// trial's run in [single-run](Self::single_run) mode), e.g. a sweep's config file.
    pub fn artifact(mut self, path: impl Into<String>, contents: impl Into<Vec<u8>>) -> Self {
        self.artifacts.push((path.into(), contents.into()));
        self
    }

    /// The study's name, if set.
    pub(super) fn study_name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The experiment's name.
    pub(super) fn experiment(&self) -> &str {
        &self.experiment
    }

    /// The tracker of the store.
    pub(super) fn tracker(&self) -> Result<Tracker, StudyError> {
        match &self.destination {
            Destination::Tracker(t) => Ok(t.clone()),
            Destination::FromEnv => Tracker::from_env().map_err(|source| StudyError::Store {
                context: "opening the tracking store named by the environment".into(),
                source,
            }),
        }
    }
}

/// A study read back from its parent run.
pub(super) struct Loaded {
    pub space: Space,
    pub params: StudyParams,
    pub trials: Trials,
    pub store: TrackedStudy,
}

/// The tracking side of a study.
pub(super) struct TrackedStudy {
    tracker: Tracker,
    experiment_id: ExperimentId,
    /// The parent run; `None` in single-run mode.
    parent: Option<String>,
    /// Whether the parent is known to be RUNNING (reopened before the next write if not).
    parent_open: bool,
    /// The runs of the trials this process is running, by number.
    running: HashMap<usize, Arc<TrialRun>>,
    /// Per trial number: its run id, where known.
    run_ids: RunIds,
    /// The system tags every trial's run starts with, built once.
    system_tags: Vec<Tag>,
    user_id: String,
    /// Single-run mode: the run's name, params and artifacts.
    single: Option<Single>,
    /// Runs of trials whose end was recorded (state tag, metrics) but whose status write
    /// failed (a full disk between the two writes), with the status they should have:
    /// set by the first write of a loaded study, so loading itself writes nothing.
    unterminated: Vec<(String, RunStatus)>,
    /// Trials whose end is in their runs but could not be written into the ledger (a full
    /// disk, a lost server): written by the next write, so a tell that saved the result
    /// succeeds. Until then the ledger is behind the runs, which it can be: a reaper
    /// reads such a trial's end back from its run.
    ledger_behind: Vec<(Trial, String)>,
    /// The metric whose history holds a trial's reported intermediate values (the
    /// parent's [`OBJECTIVE_METRIC_PARAM`](schema::OBJECTIVE_METRIC_PARAM), else `loss`).
    objective: Arc<str>,
    /// The study's place in its store's ledger, when the store keeps one.
    joined: Option<Joined>,
}

/// How long a trial's worker may stay silent before the trial counts as lost, unless set
/// ([`StudyBuilder::stale_after`](super::StudyBuilder::stale_after)).
pub const DEFAULT_STALE_AFTER: Duration = Duration::from_secs(60);

/// A tracked study's place in its store's [ledger](crate::tracking::ledger).
struct Joined {
    /// The search's id there: its parent run id.
    search: String,
    /// Where its numbering starts if this process registers it (the trials it was created
    /// or loaded with).
    start: LedgerStart,
    /// Whether this process has registered it (done by the first write).
    registered: bool,
    /// How many workers joined the search before this handle (taken when registering).
    ordinal: u64,
    /// The change number read up to.
    seq: u64,
    /// This handle as the ledger names its worker.
    worker: ledger::Worker,
    /// The numbers of the trials this process runs, which the heartbeat thread stamps.
    beating: Arc<Mutex<Vec<u64>>>,
    heartbeat: Option<Heartbeat>,
    stale_after: Duration,
    /// The workers of trials that were running when last read, by number.
    workers: HashMap<u64, String>,
    /// When this handle last looked for lost trials.
    looked: Option<std::time::Instant>,
}

impl Joined {
    fn new(search: String, start: LedgerStart) -> Joined {
        Joined {
            search,
            start,
            registered: false,
            ordinal: 0,
            seq: 0,
            worker: ledger::Worker::new(),
            beating: Arc::new(Mutex::new(Vec::new())),
            heartbeat: None,
            stale_after: DEFAULT_STALE_AFTER,
            workers: HashMap::new(),
            looked: None,
        }
    }

    fn beating(&self) -> std::sync::MutexGuard<'_, Vec<u64>> {
        lock(&self.beating)
    }
}

/// A thread stamping the heartbeat of this process's running trials every quarter of
/// the stale time; it stops when dropped.
struct Heartbeat {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Heartbeat {
    fn start(
        tracker: Tracker,
        search: String,
        beating: Arc<Mutex<Vec<u64>>>,
        every: Duration,
    ) -> Heartbeat {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("hyperflow-heartbeat".into())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
                    let numbers = lock(&beating).clone();
                    if let (false, Some(ledger)) = (numbers.is_empty(), tracker.store().ledger()) {
                        // A missed beat is retried at the next tick; only a long outage
                        // makes the trials stale, which is what stale means.
                        let _ = ledger.heartbeat(&search, &numbers);
                    }
                }
            })
            .ok();
        Heartbeat {
            stop: Some(stop),
            thread,
        }
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// What creating a tracked study gave.
pub(super) enum Created {
    /// A new search.
    New(Box<TrackedStudy>),
    /// A running search with the same join key, whose parent run is this: join it.
    Join(String),
}

/// What a lone run (single-run mode) carries besides the point.
struct Single {
    name: Option<String>,
    params: Vec<Param>,
    artifacts: Vec<(String, Vec<u8>)>,
}

/// A store error, with what was being done.
fn store_error(context: impl Into<String>) -> impl FnOnce(StoreError) -> StudyError {
    let context = context.into();
    move |source| StudyError::Store { context, source }
}

fn params_of(pairs: &[(String, String)]) -> Vec<Param> {
    pairs
        .iter()
        .map(|(k, v)| Param::new(k, truncate(v, MAX_PARAM_VALUE_LENGTH)))
        .collect()
}

fn truncate(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}

impl TrackedStudy {
    /// Creates the study's parent run (nothing in single-run mode).
    pub fn create(
        tracking: Tracking,
        space: &Space,
        study_params: StudyParams,
        start: LedgerStart,
    ) -> Result<Created, StudyError> {
        let tracker = tracking.tracker()?;
        let experiment_id = tracker
            .get_or_create_experiment(&tracking.experiment)
            .map_err(store_error(format!(
                "opening experiment {:?}",
                tracking.experiment
            )))?;
        let mut study = TrackedStudy {
            system_tags: system_tags(),
            user_id: current_user().to_string(),
            tracker,
            experiment_id,
            parent: None,
            parent_open: true,
            running: HashMap::new(),
            run_ids: RunIds::default(),
            single: None,
            unterminated: Vec::new(),
            ledger_behind: Vec::new(),
            joined: None,
            objective: tracking
                .params
                .iter()
                .find(|(k, _)| k == schema::OBJECTIVE_METRIC_PARAM)
                .map_or(schema::LOSS_METRIC, |(_, v)| v.as_str())
                .into(),
        };
        if tracking.single_run {
            study.single = Some(Single {
                name: tracking.name,
                params: params_of(&tracking.params),
                artifacts: tracking.artifacts,
            });
            return Ok(Created::New(Box::new(study)));
        }
        let mut tags = study.system_tags.clone();
        tags.push(Role::Search.tag());
        if let Some(outer) = &tracking.nested_under {
            study
                .tracker
                .get_run(outer)
                .map_err(store_error(format!("nesting the study under run {outer}")))?;
            tags.push(Tag::new(schema::PARENT_TAG, outer.clone()));
        }
        tags.extend(tracking.tags.iter().map(|(k, v)| Tag::new(k, v.clone())));
        let mut params = study_params.to_params();
        params.extend(params_of(&tracking.params));
        let study_name = tracking.name.clone();
        let record = RunRecord {
            start: RunStart {
                run_name: tracking.name,
                user_id: Some(study.user_id.clone()),
                start_time: None,
                tags,
            },
            params,
            status: RunStatus::Running,
            ..RunRecord::default()
        };
        let context = format!(
            "creating the study's parent run in experiment {:?}",
            tracking.experiment
        );
        let parent = study
            .tracker
            .record_run(&study.experiment_id, &record)
            .map_err(store_error(&context))?;
        let repo = study
            .tracker
            .store()
            .artifact_repo(&parent.info.artifact_uri)
            .map_err(store_error(&context))?;
        let space_json = serde_json::to_vec_pretty(&space.to_json())
            .map_err(|e| store_error(&context)(StoreError::Serialization(e.to_string())))?;
        std::iter::once((schema::SPACE_ARTIFACT, space_json.as_slice()))
            .chain(
                tracking
                    .artifacts
                    .iter()
                    .map(|(p, c)| (p.as_str(), c.as_slice())),
            )
            .try_for_each(|(path, contents)| repo.write_bytes(path, contents))
            .map_err(store_error(&context))?;
        let parent = parent.info.run_id;
        if let Some(name) = &study_name {
            // Found by its name only now that its space is there to be loaded.
            study
                .tracker
                .set_tag(&parent, schema::STUDY_TAG, name.clone())
                .map_err(store_error(&context))?;
        }
        if let Some(ledger) = study.tracker.store().ledger() {
            let key = tracking
                .join_key
                .as_ref()
                .map(|k| format!("{}/{k}", study.experiment_id));
            let holder = ledger
                .open_search(&parent, key.as_deref(), start)
                .map_err(store_error(&context))?;
            if holder != parent {
                // Another worker created the search first: this parent run goes.
                study
                    .tracker
                    .set_terminated(&parent, RunStatus::Killed)
                    .and_then(|()| study.tracker.store().delete_run(&parent))
                    .map_err(store_error(format!(
                        "{context}: giving way to run {holder}"
                    )))?;
                return Ok(Created::Join(holder));
            }
            let mut joined = Joined::new(parent.clone(), start);
            joined.registered = true;
            joined.ordinal = ledger.join_worker(&parent).map_err(store_error(&context))?;
            study.joined = Some(joined);
        }
        study.parent = Some(parent);
        Ok(Created::New(Box::new(study)))
    }

    /// Registers this loaded search under `key` (in its experiment) unless another search
    /// holds the key; returns the parent run id of the search that holds it.
    pub fn register_key(&mut self, key: &str) -> Result<String, StudyError> {
        let key = format!("{}/{key}", self.experiment_id);
        let (Some(joined), Some(ledger)) = (&mut self.joined, self.tracker.store().ledger()) else {
            return Ok(self.parent.clone().unwrap_or_default());
        };
        let holder = ledger
            .open_search(&joined.search, Some(&key), joined.start)
            .map_err(store_error("registering the search in its store's ledger"))?;
        Ok(holder)
    }

    /// The running search of `tracking`'s experiment holding its join key, if any.
    pub fn find_joinable(tracking: &Tracking) -> Result<Option<(Tracker, String)>, StudyError> {
        let Some(key) = &tracking.join_key else {
            return Ok(None);
        };
        let tracker = tracking.tracker()?;
        let Some(ledger) = tracker.store().ledger() else {
            return Ok(None);
        };
        let context = format!(
            "looking for a running search to join in experiment {:?}",
            tracking.experiment
        );
        let Some(experiment) = tracker
            .get_experiment_by_name(&tracking.experiment)
            .map_err(store_error(&context))?
        else {
            return Ok(None);
        };
        let found = ledger
            .find_search(&format!("{}/{key}", experiment.experiment_id))
            .map_err(store_error(&context))?;
        Ok(found.map(|search| (tracker, search)))
    }

    /// Reads the study whose parent run is `parent_run_id`.
    pub fn load(tracker: &Tracker, parent_run_id: &str) -> Result<Loaded, StudyError> {
        let context = format!("loading the study of parent run {parent_run_id}");
        let parent = tracker
            .get_run(parent_run_id)
            .map_err(store_error(&context))?;
        match Role::of(&parent) {
            Some(Role::Search) => {}
            Some(Role::Trial) => {
                return Err(StudyError::Mismatch(format!(
                    "run {parent_run_id} is a trial, not a search's parent run; load its parent {}",
                    parent.data.tag(schema::PARENT_TAG).unwrap_or("(unknown)")
                )));
            }
            _ => {
                return Err(StudyError::Mismatch(format!(
                    "run {parent_run_id} is not a search's parent run (it has no `{}` = `search` tag)",
                    schema::ROLE_TAG
                )));
            }
        }
        let params = StudyParams::read(&parent)?;
        let repo = tracker
            .store()
            .artifact_repo(&parent.info.artifact_uri)
            .map_err(store_error(&context))?;
        let space_json = repo
            .read_bytes(schema::SPACE_ARTIFACT)
            .map_err(store_error(format!("{context}: reading its space")))?;
        let space = Space::from_json_str(&String::from_utf8_lossy(&space_json)).map_err(|e| {
            StudyError::Mismatch(format!(
                "run {parent_run_id}: its `{}` is not a space: {e}",
                schema::SPACE_ARTIFACT
            ))
        })?;
        let children = tracker
            .search_all_runs(
                &SearchRuns::new()
                    .experiment(&parent.info.experiment_id)
                    .filter(schema::children_of(parent_run_id).to_string())
                    .view_type(ViewType::All),
            )
            .map_err(store_error(format!("{context}: reading its trials")))?;
        let metric: Arc<str> = schema::objective_metric(&parent).into();
        let (trials, run_ids) = trials_of(&children, &space, &metric, params.direction)?;
        let unterminated = children
            .iter()
            .filter(|c| c.info.status == RunStatus::Running)
            .filter_map(|c| {
                let state = schema::trial_state(c);
                state
                    .is_finished()
                    .then(|| (c.info.run_id.clone(), schema::run_status(state)))
            })
            .collect();
        let store = TrackedStudy {
            system_tags: system_tags(),
            user_id: current_user().to_string(),
            tracker: tracker.clone(),
            experiment_id: parent.info.experiment_id.clone(),
            parent_open: parent.info.status == RunStatus::Running,
            parent: Some(parent.info.run_id),
            running: HashMap::new(),
            run_ids,
            single: None,
            unterminated,
            ledger_behind: Vec::new(),
            objective: metric,
            joined: tracker.store().ledger().map(|_| {
                Joined::new(
                    parent_run_id.to_string(),
                    LedgerStart {
                        next_number: trials.len() as u64,
                        released: trials.count(crate::trials::TrialState::Killed) as u64,
                    },
                )
            }),
        };
        Ok(Loaded {
            space,
            params,
            trials,
            store,
        })
    }

    /// The parent run of the latest study named `name` in `experiment`.
    pub fn find_named(
        tracker: &Tracker,
        experiment: &str,
        name: &str,
    ) -> Result<Option<String>, StudyError> {
        let context = format!("looking for study {name:?} in experiment {experiment:?}");
        let Some(experiment) = tracker
            .get_experiment_by_name(experiment)
            .map_err(store_error(&context))?
        else {
            return Ok(None);
        };
        let page = tracker
            .search_runs(
                &SearchRuns::new()
                    .experiment(&experiment.experiment_id)
                    .filter(schema::studies_named(name).to_string())
                    .order_by("attributes.start_time DESC")
                    .max_results(1),
            )
            .map_err(store_error(&context))?;
        Ok(page.items.into_iter().next().map(|r| r.info.run_id))
    }

    pub fn parent_id(&self) -> Option<&str> {
        self.parent.as_deref()
    }

    pub fn experiment_id(&self) -> &ExperimentId {
        &self.experiment_id
    }

    pub fn run_id(&self, number: usize) -> Option<String> {
        self.run_ids.get(number)
    }

    /// What `trial` reported: its run's history of the objective metric, up to its
    /// `last_step` for a complete trial (whose final value is written after its reports).
    pub fn reported(&self, trial: &Trial) -> Result<Vec<(u64, f64)>, StudyError> {
        let number = trial.number;
        // A complete trial's final value follows its reports in the same history; it
        // reported up to its `last_step`, or nothing.
        let last = match trial.state {
            TrialState::Complete => match trial.last_step {
                Some(step) => step,
                None => return Ok(Vec::new()),
            },
            _ => u64::MAX,
        };
        let Some(run_id) = self.run_id(number) else {
            return Ok(Vec::new());
        };
        let history = self
            .tracker
            .get_metric_history(&run_id, &self.objective)
            .map_err(store_error(format!("reading what trial {number} reported")))?;
        Ok(history
            .into_iter()
            .filter_map(|m| Some((u64::try_from(m.step).ok()?, m.value)))
            .filter(|&(step, _)| step <= last)
            .collect())
    }

    /// Reopens the parent run if it has ended (the study is being continued).
    fn open_parent(&mut self) -> Result<(), StudyError> {
        while let Some((trial, run_id)) = self.ledger_behind.pop() {
            if let Err(e) = self.end_in_ledger(&trial, Some(&run_id)) {
                self.ledger_behind.push((trial, run_id));
                return Err(e);
            }
        }
        while let Some((run_id, status)) = self.unterminated.last() {
            self.tracker
                .set_terminated(run_id, *status)
                .map_err(store_error(format!(
                    "ending run {run_id}, whose trial ended while its status could not be written"
                )))?;
            self.unterminated.pop();
        }
        let (false, Some(parent)) = (self.parent_open, &self.parent) else {
            return Ok(());
        };
        let context = format!("reopening the study's parent run {parent}");
        let run = self
            .tracker
            .get_run(parent)
            .map_err(store_error(&context))?;
        self.tracker
            .store()
            .update_run(
                parent,
                crate::tracking::RunUpdate {
                    status: Some(RunStatus::Running),
                    ..Default::default()
                },
            )
            .map_err(store_error(&context))?;
        self.tracker
            .log_batch(parent, &[], &[], &[schema::resumed_tag(&run)])
            .map_err(store_error(&context))?;
        self.parent_open = true;
        Ok(())
    }

    /// Creates the run of a trial just asked: RUNNING, with its point as params.
    pub fn trial_started(&mut self, trial: &Trial) -> Result<Arc<TrialRun>, StudyError> {
        self.open_parent()?;
        let mut tags = self.system_tags.clone();
        tags.extend(schema::trial_start_tags(
            self.parent.as_deref(),
            trial.number,
        ));
        let mut params = schema::point_params(&trial.point);
        let run_name = match &self.single {
            Some(single) => {
                params.extend(
                    single
                        .params
                        .iter()
                        .filter(|p| trial.point.value(&p.key).is_none())
                        .cloned(),
                );
                single.name.clone()
            }
            None => Some(format!("trial-{}", trial.number)),
        };
        let record = RunRecord {
            start: RunStart {
                run_name,
                user_id: Some(self.user_id.clone()),
                start_time: Some(now_ms()),
                tags,
            },
            params,
            status: RunStatus::Running,
            ..RunRecord::default()
        };
        let context = format!("creating the run of trial {}", trial.number);
        let run = self
            .tracker
            .record_run(&self.experiment_id, &record)
            .map_err(store_error(&context))?;
        let run = Arc::new(TrialRun {
            tracker: self.tracker.clone(),
            run_id: run.info.run_id,
            artifact_uri: run.info.artifact_uri,
            repo: OnceLock::new(),
            logged: Mutex::new(HashMap::new()),
            queued: Mutex::new(Vec::new()),
            objective: Arc::clone(&self.objective),
        });
        if let Some(single) = &self.single {
            for (path, contents) in &single.artifacts {
                run.log_artifact(path, contents)
                    .map_err(store_error(&context))?;
            }
        }
        self.run_ids.set(trial.number, &run.run_id);
        self.running.insert(trial.number, run.clone());
        if let Some(joined) = &mut self.joined
            && joined.registered
        {
            joined.beating().push(trial.number as u64);
            if joined.heartbeat.is_none() {
                joined.heartbeat = Some(Heartbeat::start(
                    self.tracker.clone(),
                    joined.search.clone(),
                    Arc::clone(&joined.beating),
                    heartbeat_period(joined.stale_after),
                ));
            }
        }
        Ok(run)
    }

    /// Writes how a trial ended into its run (and, when it is the new best, into the
    /// parent). Metrics the objective already logged through its context with the same
    /// final value are not written again.
    pub fn trial_finished(&mut self, trial: &Trial, is_best: bool) -> Result<(), StudyError> {
        self.open_parent()?;
        let number = trial.number;
        let context = format!("recording trial {number}");
        let run_id = match self.run_id(number) {
            Some(run_id) => run_id.to_string(),
            None => match self.find_trial_run(number).map_err(store_error(&context))? {
                Some(run) => run.info.run_id,
                // Claimed by a worker that died before creating its run.
                None if self.joined.is_some() => return self.end_in_ledger(trial, None),
                None => {
                    return Err(StudyError::Mismatch(format!(
                        "trial {number} has no run in this store"
                    )));
                }
            },
        };
        let (mut metrics, tags, status) = schema::trial_end(trial, &self.objective, now_ms());
        let run = self.running.get(&number);
        let mut queued = 0;
        if let Some(run) = run {
            run.drop_repeats(&mut metrics);
            let points = run.take_queued();
            queued = points.len();
            metrics.splice(0..0, points);
        }
        if let Err(e) = self.tracker.end_run(&run_id, &metrics, &tags, status) {
            // Told again, the trial writes what it had queued with its end.
            if let Some(run) = run {
                run.requeue(metrics.drain(..queued).collect());
            }
            return Err(store_error(&context)(e));
        }
        if let (true, Some(parent)) = (is_best, &self.parent) {
            let (metrics, tags) = schema::best_update(trial, &run_id, trial.number as i64);
            self.tracker
                .log_batch(parent, &metrics, &[], &tags)
                .map_err(store_error(format!("{context} as the study's best")))?;
        }
        if self.end_in_ledger(trial, Some(&run_id)).is_err() {
            // The result is in its run; the ledger hears of it with the next write.
            self.ledger_behind.push((trial.clone(), run_id));
        }
        self.running.remove(&number);
        Ok(())
    }

    /// Records the end of `trial` in the ledger (after its run, which holds the result:
    /// a worker dying between the two leaves a finished run that the reaper reads back).
    /// When another worker had given the trial up as lost, its run is written again, so
    /// the result stands.
    fn end_in_ledger(&mut self, trial: &Trial, run_id: Option<&str>) -> Result<(), StudyError> {
        let Some(joined) = &mut self.joined else {
            return Ok(());
        };
        if !joined.registered {
            return Ok(());
        }
        let number = trial.number as u64;
        joined.beating().retain(|&n| n != number);
        let Some(ledger) = self.tracker.store().ledger() else {
            return Ok(());
        };
        let context = format!(
            "recording the end of trial {} in the search's ledger",
            trial.number
        );
        let ended = ledger
            .end_trial(&joined.search, number, &ledger_end(trial, run_id))
            .map_err(store_error(&context))?;
        if let (Ended::Overruled(_), Some(run_id)) = (ended, run_id) {
            let (_, tags, status) = schema::trial_end(trial, &self.objective, now_ms());
            self.tracker
                .end_run(run_id, &[], &tags, status)
                .map_err(store_error(&context))?;
        }
        Ok(())
    }

    /// Whether the study is kept in a ledger, so other workers may share it.
    pub fn is_joined(&self) -> bool {
        self.joined.is_some()
    }

    /// Whether this handle runs trial `number`.
    pub fn is_mine(&self, number: usize) -> bool {
        self.running.contains_key(&number)
    }

    /// Whether this handle wrote `row` (it knows the trial better than the ledger).
    pub fn wrote(&self, row: &LedgerTrial) -> bool {
        self.joined
            .as_ref()
            .is_some_and(|j| j.worker.id() == row.worker)
    }

    /// How often asking looks for lost trials: the heartbeat period.
    pub fn look_every(&self) -> Duration {
        self.joined
            .as_ref()
            .map_or(Duration::ZERO, |j| heartbeat_period(j.stale_after))
    }

    /// How long a worker may stay silent before its trials count as lost.
    pub fn set_stale_after(&mut self, stale_after: Duration) {
        if let Some(joined) = &mut self.joined {
            joined.stale_after = stale_after;
        }
    }

    /// The ledger and the study's place in it, registered (the first write does).
    fn ledger(&mut self) -> Result<Option<(&dyn Ledger, &mut Joined)>, StudyError> {
        let (Some(joined), Some(ledger)) = (&mut self.joined, self.tracker.store().ledger()) else {
            return Ok(None);
        };
        if !joined.registered {
            let context = "registering the search in its store's ledger";
            ledger
                .open_search(&joined.search, None, joined.start)
                .map_err(store_error(context))?;
            joined.ordinal = ledger
                .join_worker(&joined.search)
                .map_err(store_error(context))?;
            joined.registered = true;
        }
        Ok(Some((ledger, joined)))
    }

    /// Registers this handle as a worker of the search (the first write does it anyway)
    /// and returns how many workers joined before it.
    pub fn register(&mut self) -> Result<u64, StudyError> {
        Ok(self.ledger()?.map_or(0, |(_, joined)| joined.ordinal))
    }

    /// Claims the next trial number for a trial at `x` while fewer than `limit` trials
    /// count towards the budget; `Ok(None)` when they do. Unjoined studies are not asked.
    pub fn claim(&mut self, limit: Option<usize>, x: &[f64]) -> Result<Option<usize>, StudyError> {
        self.open_parent()?;
        let Some((ledger, joined)) = self.ledger()? else {
            return Ok(None);
        };
        ledger
            .claim_trial(
                &joined.search,
                limit.map(|l| l as u64),
                x,
                joined.worker.id(),
            )
            .map(|n| n.map(|n| n as usize))
            .map_err(store_error("claiming a trial number"))
    }

    /// What other workers wrote into the ledger since the last call (nothing for a study
    /// without one). Reading writes nothing.
    pub fn changes(&mut self) -> Result<Vec<LedgerTrial>, StudyError> {
        let (Some(joined), Some(ledger)) = (&mut self.joined, self.tracker.store().ledger()) else {
            return Ok(Vec::new());
        };
        let rows = ledger
            .changes(&joined.search, joined.seq)
            .map_err(store_error("reading what the search's other workers did"))?;
        for row in &rows {
            joined.seq = joined.seq.max(row.seq);
            match row.state {
                crate::trials::TrialState::Running => {
                    joined.workers.insert(row.number, row.worker.clone());
                }
                _ => {
                    joined.workers.remove(&row.number);
                }
            }
            if let Some(run_id) = &row.run_id {
                self.run_ids.set(row.number as usize, run_id);
            }
        }
        Ok(rows)
    }

    /// The running trials of other workers that are lost: their worker stopped sending
    /// heartbeats for the stale time, or was a process of this machine that is gone.
    pub fn lost_trials(&mut self) -> Result<Vec<usize>, StudyError> {
        self.lost_trials_since(Duration::ZERO)
    }

    /// [`lost_trials`](Self::lost_trials), unless this handle looked less than `recently`
    /// ago (asking looks at most once per heartbeat period, not once per trial).
    pub fn lost_trials_since(&mut self, recently: Duration) -> Result<Vec<usize>, StudyError> {
        let Some((ledger, joined)) = self.ledger()? else {
            return Ok(Vec::new());
        };
        let now = std::time::Instant::now();
        if joined
            .looked
            .is_some_and(|t| now.duration_since(t) < recently)
        {
            return Ok(Vec::new());
        }
        joined.looked = Some(now);
        let mut lost: Vec<u64> = ledger
            .stale_trials(&joined.search, joined.stale_after)
            .map_err(store_error("looking for trials whose worker stopped"))?;
        lost.extend(
            joined
                .workers
                .iter()
                .filter(|(_, w)| ledger::is_dead_local_worker(w))
                .map(|(&n, _)| n),
        );
        lost.sort_unstable();
        lost.dedup();
        let running = &self.running;
        lost.retain(|&n| !running.contains_key(&(n as usize)));
        Ok(lost.into_iter().map(|n| n as usize).collect())
    }

    /// Ends the trials `lost` as `trial_of` says, giving their places in the budget back
    /// (those another reaper did not end first), then writes each one's run: the result its run already holds when its worker died
    /// after writing it, else `trial_of`'s. Returns the numbers it ended.
    pub fn release_lost(
        &mut self,
        lost: &[usize],
        space: &Space,
        trial_of: impl Fn(usize) -> Trial,
    ) -> Result<Vec<usize>, StudyError> {
        let Some((ledger, joined)) = self.ledger()? else {
            return Ok(Vec::new());
        };
        let search = joined.search.clone();
        let numbers: Vec<u64> = lost.iter().map(|&n| n as u64).collect();
        let template = TrialEnd {
            released: true,
            ..ledger_end(&trial_of(lost.first().copied().unwrap_or_default()), None)
        };
        let won = ledger
            .release_running(&search, &numbers, &template)
            .map_err(store_error("giving up lost trials"))?;
        let mut ended = Vec::with_capacity(won.len());
        for number in won {
            let number = number as usize;
            let context = format!("recording that trial {number} was lost");
            let run = self.find_trial_run(number).map_err(store_error(&context))?;
            if let Some(run) = run {
                let recorded = schema::read_trial(&run, space, &self.objective)?;
                if recorded.state.is_finished() {
                    // Its worker wrote the result and died before the ledger heard.
                    if let Some(ledger) = self.tracker.store().ledger() {
                        ledger
                            .end_trial(
                                &search,
                                number as u64,
                                &ledger_end(&recorded, Some(&run.info.run_id)),
                            )
                            .map_err(store_error(&context))?;
                    }
                } else {
                    let (metrics, tags, status) =
                        schema::trial_end(&trial_of(number), &self.objective, now_ms());
                    self.tracker
                        .end_run(&run.info.run_id, &metrics, &tags, status)
                        .map_err(store_error(&context))?;
                }
            }
            ended.push(number);
        }
        Ok(ended)
    }

    /// The run of trial `number`, found by its number when this process does not know it.
    fn find_trial_run(&mut self, number: usize) -> Result<Option<Run>, StoreError> {
        if let Some(run_id) = self.run_id(number) {
            return self.tracker.get_run(&run_id).map(Some);
        }
        let Some(parent) = &self.parent else {
            return Ok(None);
        };
        let filter: Filter =
            schema::children_of(parent).and(Clause::tag(schema::TRIAL_TAG).eq(number.to_string()));
        let page = self.tracker.search_runs(
            &SearchRuns::new()
                .experiment(&self.experiment_id)
                .filter(filter.to_string())
                .view_type(ViewType::All)
                .max_results(1),
        )?;
        Ok(page.items.into_iter().next())
    }

    /// Gives up the search's join key: it has ended, and the next worker with the key
    /// starts a new one.
    pub fn close(&mut self) -> Result<(), StudyError> {
        let Some((ledger, joined)) = self.ledger()? else {
            return Ok(());
        };
        ledger
            .close_search(&joined.search)
            .map_err(store_error("closing the search's ledger"))
    }

    /// Records a new best complete trial on the parent run (the last worker of a joined
    /// search writes the best of all: another worker may have recorded a best of its own,
    /// worse, at a later trial number, so the best of all follows it).
    pub fn record_best(&mut self, trial: &Trial) -> Result<(), StudyError> {
        let (Some(parent), Some(run_id)) = (&self.parent, self.run_id(trial.number)) else {
            return Ok(());
        };
        let context = "recording the study's best trial";
        let recorded = self.tracker.get_run(parent).map_err(store_error(context))?;
        let latest = recorded.data.latest_metric(schema::BEST_LOSS_METRIC);
        let number = trial.number.to_string();
        if recorded.data.tag(schema::BEST_TRIAL_TAG) == Some(number.as_str())
            && latest.map(|m| m.value) == trial.loss
        {
            return Ok(());
        }
        let step = latest.map_or(0, |m| m.step + 1).max(trial.number as i64);
        let (metrics, tags) = schema::best_update(trial, &run_id, step);
        self.tracker
            .log_batch(parent, &metrics, &[], &tags)
            .map_err(store_error(context))
    }

    /// Ends the parent run: FINISHED, or KILLED when cancelled.
    pub fn finish(&mut self, ending: schema::Ending) -> Result<(), StudyError> {
        let Some(parent) = &self.parent else {
            return Ok(());
        };
        let context = format!("ending the study's parent run {parent}");
        let (metrics, tags) = ending.record();
        let status = match ending.reason {
            StopReason::Cancelled => RunStatus::Killed,
            _ => RunStatus::Finished,
        };
        self.tracker
            .end_run(parent, &metrics, &tags, status)
            .map_err(store_error(&context))?;
        self.parent_open = false;
        Ok(())
    }

    /// Ends the parent run KILLED, saying why, as far as the store still takes writes.
    pub fn abort(&mut self, why: &str) {
        let Some(parent) = &self.parent else {
            return;
        };
        let tag = Tag::new(
            schema::STOP_REASON_TAG,
            truncate(&format!("error: {why}"), MAX_TAG_VALUE_LENGTH),
        );
        // Best effort: the error that stopped the search is what gets reported.
        let _ = self.tracker.end_run(parent, &[], &[tag], RunStatus::Killed);
        self.parent_open = false;
    }

    /// Writes the driving loop's settings as parent-run params.
    pub fn log_settings(&mut self, settings: &SearchSettings) -> Result<(), StudyError> {
        let Some(parent) = &self.parent else {
            return Ok(());
        };
        self.tracker
            .log_batch(parent, &[], &settings.to_params(), &[])
            .map_err(store_error("recording the search settings"))
    }
}

/// How often a worker stamps its running trials: four times per stale time.
fn heartbeat_period(stale_after: Duration) -> Duration {
    (stale_after / 4).max(Duration::from_millis(50))
}

/// How `trial` ended, as its search's ledger records it.
fn ledger_end(trial: &Trial, run_id: Option<&str>) -> TrialEnd {
    TrialEnd {
        state: trial.state,
        released: !trial.state.is_result(),
        loss: trial.loss,
        last_step: trial.last_step,
        run_id: run_id.map(str::to_string),
    }
}

/// The trials of a study read back from its child runs, with their run ids. A number
/// held by several runs (a process died between two writes) is read from a finished one
/// first; numbers with no run at all become killed trials with no point.
fn trials_of(
    children: &[Run],
    space: &Space,
    metric: &str,
    direction: Direction,
) -> Result<(Trials, RunIds), StudyError> {
    let mut by_number: HashMap<usize, (Trial, String)> = HashMap::new();
    for child in children {
        if schema::trial_number(child).is_none() {
            continue;
        }
        let trial = schema::read_trial(child, space, metric)?;
        let keep = by_number
            .get(&trial.number)
            .is_none_or(|(kept, _)| !kept.state.is_finished() && trial.state.is_finished());
        if keep {
            by_number.insert(trial.number, (trial, child.info.run_id.clone()));
        }
    }
    let end = by_number.keys().map(|n| n + 1).max().unwrap_or(0);
    let mut run_ids = RunIds::default();
    let mut trials = Vec::with_capacity(end);
    for number in 0..end {
        match by_number.remove(&number) {
            Some((trial, run_id)) => {
                run_ids.set(number, &run_id);
                trials.push(trial);
            }
            None => {
                let mut lost =
                    Trial::running(number, vec![f64::NAN; space.len()], Point::default());
                lost.kill("no run of this trial was found in the store");
                lost.started = std::time::UNIX_EPOCH;
                trials.push(lost);
            }
        }
    }
    Ok((Trials::from_trials(direction, trials)?, run_ids))
}

/// The run of one trial, shared by the study and the objective's context.
pub(crate) struct TrialRun {
    tracker: Tracker,
    run_id: String,
    artifact_uri: String,
    repo: OnceLock<Box<dyn ArtifactRepo>>,
    /// Per metric key the objective logged through its context: the step and value of
    /// the latest point (highest step, then latest logged).
    logged: Mutex<HashMap<String, (i64, f64)>>,
    /// Points logged with [`queue_metric`](TrialRun::queue_metric) and not written yet:
    /// [`flush`](TrialRun::flush) writes them in one batch, the trial's end with its
    /// result.
    queued: Mutex<Vec<Metric>>,
    /// The metric reported intermediate values are logged as.
    objective: Arc<str>,
}

impl TrialRun {
    pub fn id(&self) -> &str {
        &self.run_id
    }

    pub fn tracker(&self) -> &Tracker {
        &self.tracker
    }

    pub fn objective_metric(&self) -> &str {
        &self.objective
    }

    pub fn log_metric(&self, key: &str, value: f64, step: i64) -> Result<(), StoreError> {
        self.tracker.log_metric(&self.run_id, key, value, step)?;
        self.logged(key, value, step);
        Ok(())
    }

    /// Logs a point later: with the next [`flush`](TrialRun::flush), else with the
    /// trial's end (`TrackedStudy::trial_finished`), in the same transaction. A point
    /// queued counts as logged for [`drop_repeats`](TrialRun::drop_repeats).
    pub fn queue_metric(&self, key: &str, value: f64, step: i64) {
        lock(&self.queued).push(Metric {
            key: key.to_string(),
            value,
            timestamp: now_ms(),
            step,
        });
        self.logged(key, value, step);
    }

    /// Writes the queued points in one batch. When the store refuses them they stay
    /// queued, for the next flush or the trial's end.
    pub fn flush(&self) -> Result<(), StoreError> {
        let queued = self.take_queued();
        if queued.is_empty() {
            return Ok(());
        }
        self.tracker
            .log_batch(&self.run_id, &queued, &[], &[])
            .inspect_err(|_| self.requeue(queued))
    }

    /// Takes the points queued and not written yet.
    fn take_queued(&self) -> Vec<Metric> {
        std::mem::take(&mut *lock(&self.queued))
    }

    /// Puts back `points`, taken and not written, before those queued since.
    fn requeue(&self, points: Vec<Metric>) {
        let mut queued = lock(&self.queued);
        let later = std::mem::replace(&mut *queued, points);
        queued.extend(later);
    }

    /// Notes a point logged: the latest of its metric when its step is the highest.
    fn logged(&self, key: &str, value: f64, step: i64) {
        let mut logged = lock(&self.logged);
        let latest = logged.entry(key.to_string()).or_insert((step, value));
        if step >= latest.0 {
            *latest = (step, value);
        }
    }

    pub fn log_artifact(&self, path: &str, contents: &[u8]) -> Result<(), StoreError> {
        open_once(&self.repo, &**self.tracker.store(), &self.artifact_uri)?
            .write_bytes(path, contents)
    }

    /// Leaves out the final metrics whose latest logged point holds the same value: the
    /// history then holds exactly what was logged. A final value that differs is written
    /// one step after the latest, so it is the metric's latest value.
    fn drop_repeats(&self, metrics: &mut Vec<crate::tracking::Metric>) {
        let logged = lock(&self.logged);
        metrics.retain_mut(|m| match logged.get(&m.key) {
            Some(&(_, value)) if value.to_bits() == m.value.to_bits() => false,
            Some(&(step, _)) => {
                m.step = step.saturating_add(1);
                true
            }
            None => true,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fmin::Outcome;
    use crate::study::Study;
    use crate::trials::TrialState;

    fn tracker(dir: &std::path::Path) -> Tracker {
        Tracker::open(&format!("sqlite:///{}/runs.db", dir.display())).expect("store")
    }

    /// A tracked study of one uniform parameter `x` in a new store in `dir`.
    fn study_of_x(dir: &std::path::Path) -> (Tracker, Study) {
        let tracker = tracker(dir);
        let space = Space::builder().uniform("x", 0.0, 1.0).build().unwrap();
        let study = Study::builder(&space)
            .tracking(Tracking::new(tracker.clone(), "e"))
            .create()
            .unwrap();
        (tracker, study)
    }

    /// The `(step, value)` points of metric `key` of run `run_id`, by step.
    fn history(tracker: &Tracker, run_id: &str, key: &str) -> Vec<(i64, f64)> {
        let mut h: Vec<(i64, f64)> = tracker
            .get_metric_history(run_id, key)
            .unwrap()
            .into_iter()
            .map(|m| (m.step, m.value))
            .collect();
        h.sort_by_key(|p| p.0);
        h
    }

    /// Values logged later reach the run at a flush, or with the trial's end, each once.
    #[test]
    fn values_logged_later_are_written_at_a_flush_or_with_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let (tracker, mut study) = study_of_x(dir.path());
        let trial = study.ask().unwrap();
        let ctx = trial.context().clone();
        let run_id = ctx.run_id().unwrap().to_string();
        let history = |key: &str| history(&tracker, &run_id, key);
        assert!(!ctx.report_later(0, 0.9));
        ctx.log_metric_later("acc", 0.5, 0);
        assert!(history("loss").is_empty() && history("acc").is_empty());
        ctx.flush_metrics().unwrap();
        assert_eq!(history("loss"), [(0, 0.9)]);
        assert_eq!(history("acc"), [(0, 0.5)]);
        ctx.flush_metrics().unwrap();
        assert!(!ctx.report_later(1, 0.7));
        assert!(!ctx.report_later(2, 0.4));
        study.tell(trial, 0.4).unwrap();
        // The last value reported is the loss: written once, with the end.
        assert_eq!(history("loss"), [(0, 0.9), (1, 0.7), (2, 0.4)]);
        assert_eq!(history("acc"), [(0, 0.5)]);
        let run = tracker.get_run(&run_id).unwrap();
        assert_eq!(run.info.status, crate::tracking::RunStatus::Finished);
    }

    #[test]
    fn values_a_store_refused_stay_queued_until_it_takes_them() {
        let dir = tempfile::tempdir().unwrap();
        let (tracker, mut study) = study_of_x(dir.path());
        let trial = study.ask().unwrap();
        let number = trial.number();
        let ctx = trial.context().clone();
        let run_id = ctx.run_id().unwrap().to_string();
        assert!(!ctx.report_later(0, 0.9));
        // A deleted run takes no writes: the flush and then the trial's end are refused.
        tracker.delete_run(&run_id).unwrap();
        assert!(ctx.flush_metrics().is_err());
        assert!(!ctx.report_later(1, 0.7));
        drop(trial);
        assert!(study.tell_number(number, 0.4).is_err());
        // Told again once the run takes writes, the trial writes every value it queued.
        tracker.restore_run(&run_id).unwrap();
        study.tell_number(number, 0.4).unwrap();
        // The loss, after the last step reported, with them.
        assert_eq!(
            history(&tracker, &run_id, "loss"),
            [(0, 0.9), (1, 0.7), (2, 0.4)]
        );
        assert_eq!(
            tracker.get_run(&run_id).unwrap().info.status,
            crate::tracking::RunStatus::Finished
        );
    }

    #[test]
    fn a_study_is_loaded_back_as_it_was_left() {
        let dir = tempfile::tempdir().unwrap();
        let tracker = tracker(dir.path());
        let space = Space::builder()
            .loguniform("lr", 1e-4, 1.0)
            .choice("m", ["a", "b"])
            .build()
            .unwrap();
        let mut study = Study::builder(&space)
            .seed(9)
            .direction(Direction::Maximize)
            .tracking(Tracking::new(tracker.clone(), "e").name("s"))
            .create()
            .unwrap();
        let mut asked = Vec::new();
        for i in 0..4 {
            let t = study.ask().unwrap();
            match i {
                0 => drop(study.tell(t, 1.5).unwrap()),
                1 => drop(study.tell(t, Outcome::failed("no")).unwrap()),
                2 => drop(study.tell(t, Outcome::pruned("early")).unwrap()),
                _ => asked.push(t),
            }
        }
        let parent = study.parent_run_id().unwrap().to_string();
        let mut back = Study::load(&tracker, &parent).unwrap();
        assert_eq!(back.seed(), 9);
        assert_eq!(back.direction(), Direction::Maximize);
        assert_eq!(back.space(), &space);
        let states: Vec<TrialState> = back.trials().all().iter().map(|t| t.state).collect();
        assert_eq!(
            states,
            [
                TrialState::Complete,
                TrialState::Failed,
                TrialState::Pruned,
                TrialState::Running
            ]
        );
        assert_eq!(back.trials().all()[0].point, study.trials().all()[0].point);
        assert_eq!(back.best().map(|t| t.number), Some(0));
        // The running trial is told by the process that loaded it.
        back.tell_number(3, 2.5).unwrap();
        assert_eq!(back.best().map(|t| t.number), Some(3));
        let parent_run = tracker.get_run(&parent).unwrap();
        assert_eq!(parent_run.data.metric(schema::BEST_LOSS_METRIC), Some(2.5));
        assert_eq!(parent_run.data.tag(schema::BEST_TRIAL_TAG), Some("3"));
        let named = Study::load_named(&tracker, "e", "s").unwrap().unwrap();
        assert_eq!(named.trials().len(), 4);
        assert!(Study::load_named(&tracker, "e", "other").unwrap().is_none());
        // A trial run is not a parent run.
        let trial_run = back.run_id(0).unwrap().to_string();
        let err = Study::load(&tracker, &trial_run).unwrap_err();
        assert!(err.to_string().contains("is a trial"), "{err}");
    }

    #[test]
    fn stepped_metrics_are_stored_as_logged() {
        let dir = tempfile::tempdir().unwrap();
        let (tracker, mut study) = study_of_x(dir.path());
        let t = study.ask().unwrap();
        for step in 0..3 {
            t.context()
                .log_metric("val", 1.0 / f64::from(step + 1), i64::from(step))
                .unwrap();
            t.context()
                .log_metric("loss", 0.5, i64::from(step))
                .unwrap();
        }
        let run_id = t.context().run_id().unwrap().to_string();
        let outcome = Outcome::loss(0.5)
            .with_metric("val", 1.0 / 3.0)
            .with_metric("other", 7.0);
        study.tell(t, outcome).unwrap();
        let steps = |key: &str| -> Vec<i64> {
            tracker
                .get_metric_history(&run_id, key)
                .unwrap()
                .iter()
                .map(|m| m.step)
                .collect()
        };
        assert_eq!(steps("val"), [0, 1, 2]);
        assert_eq!(steps("loss"), [0, 1, 2]);
        assert_eq!(steps("other"), [0]);
    }
}
