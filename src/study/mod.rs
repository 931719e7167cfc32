//! Studies: a search as an object that is asked for points and told results (ask/tell).
//!
//! A [`Study`] is a search's whole state: its space, its direction, its sampler's
//! [`Session`], its seed, and its trials. Untracked, it lives in memory; tracked
//! ([`StudyBuilder::tracking`]), it lives in a tracking store as a parent run and one child
//! run per trial (see [`schema`](crate::tracking::schema)), so any process can load it back
//! ([`Study::load`], [`Study::load_named`], [`StudyBuilder::open`]) and continue.
//!
//! ```
//! use hyperflow::study::Study;
//! use hyperflow::Space;
//!
//! let space = Space::builder().uniform("x", -5.0, 5.0).build()?;
//! let mut study = Study::builder(&space).seed(3).create()?;
//! for _ in 0..30 {
//!     let trial = study.ask()?;
//!     let x: f64 = trial.point().get("x")?;
//!     study.tell(trial, (x - 1.0).powi(2))?;
//! }
//! assert!(study.best().and_then(|t| t.loss).unwrap() < 0.5);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`fmin`](crate::fmin()) is a loop over a study: it asks on one thread, evaluates on
//! workers, and tells as results come back. `hyperflow sweep` drives the same loop.

mod joined;
mod run_ids;
mod tracked;

pub use tracked::{DEFAULT_STALE_AFTER, Tracking};

use crate::lock;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use crate::algo::{AlgoError, Algorithm, Sampler, Session};
use crate::fmin::IntoOutcome;
use crate::prune::{NoPruning, Progress, Pruner, PrunerSession};
use crate::rng::TrialRng;
use crate::space::{Point, PointError, Space};
use crate::tracking::ledger::LedgerStart;
use crate::tracking::schema::{Ending, SchemaError, StudyParams};
use crate::tracking::{ExperimentId, StoreError, Tracker};
use crate::trials::{Direction, HistoryError, Trial, TrialState, Trials};

use tracked::{Created, TrackedStudy, TrialRun};

/// Why a search stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StopReason {
    /// `max_evals` trials were run.
    MaxEvals,
    /// The time limit passed.
    Timeout,
    /// A trial reached the loss threshold.
    LossThreshold,
    /// No trial improved on the best for the configured number of trials.
    NoImprovement,
    /// The sampler has no new points to propose (an exhausted grid).
    Exhausted,
    /// It was cancelled through its [`CancelToken`] (Ctrl-C in a sweep): running trials
    /// were stopped and marked killed, and the search can be continued.
    Cancelled,
}

impl StopReason {
    /// Every reason.
    pub const ALL: [StopReason; 6] = [
        StopReason::MaxEvals,
        StopReason::Timeout,
        StopReason::LossThreshold,
        StopReason::NoImprovement,
        StopReason::Exhausted,
        StopReason::Cancelled,
    ];

    /// A short lowercase description, as the parent run's `hyperflow.stop_reason` tag
    /// holds it.
    pub fn as_str(self) -> &'static str {
        match self {
            StopReason::MaxEvals => "max_evals reached",
            StopReason::Timeout => "timeout",
            StopReason::LossThreshold => "loss threshold reached",
            StopReason::NoImprovement => "no improvement",
            StopReason::Exhausted => "search space exhausted",
            StopReason::Cancelled => "cancelled",
        }
    }
}

impl std::str::FromStr for StopReason {
    type Err = crate::suggest::UnknownName;

    /// Matches [`as_str`](StopReason::as_str)'s descriptions case-insensitively.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        crate::suggest::UnknownName::parse(
            "stop reason",
            name,
            &StopReason::ALL,
            StopReason::as_str,
        )
    }
}

/// A switch that stops a search from another thread (or a signal handler): no new trial
/// starts once it is set, and the search ends with [`StopReason::Cancelled`]. Clones share
/// the switch.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// A switch that is not set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the switch.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether the switch is set.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Why a study could not be created, loaded, asked or told.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StudyError {
    /// The sampler cannot search the space (grid search over continuous parameters), or
    /// the stored sampler name is unknown.
    #[error(transparent)]
    Algo(#[from] AlgoError),
    /// The history given has gaps or repeated numbers.
    #[error("history: {0}")]
    History(#[from] HistoryError),
    /// A point does not fit the study's space.
    #[error("{what}: {source}")]
    Point {
        /// Which point.
        what: String,
        /// What does not fit.
        source: PointError,
    },
    /// No trial of the study has this number.
    #[error("the study has no trial {number} (it has {len} trials)")]
    UnknownTrial {
        /// The number given.
        number: usize,
        /// How many trials it has.
        len: usize,
    },
    /// The trial was told already (or killed): its outcome is recorded.
    #[error("trial {number} is {state} already; only running trials can be told")]
    NotRunning {
        /// The trial.
        number: usize,
        /// Its state.
        state: TrialState,
    },
    /// The study being opened or loaded does not match what was asked for.
    #[error("{0}")]
    Mismatch(String),
    /// A tracking store read or write failed; the study's state in memory is as it was
    /// before the call.
    #[error("{context}: {source}")]
    Store {
        /// What was being done, and where.
        context: String,
        /// The store's error.
        source: StoreError,
    },
    /// A run of the store does not hold what a tracked search writes.
    #[error(transparent)]
    Schema(#[from] SchemaError),
}

/// What a running objective can do besides returning its loss: know its trial, report
/// intermediate values and learn whether to stop ([`report`](TrialContext::report)), and
/// log metrics by step and files into the trial's tracking run. Untracked, logging does
/// nothing.
#[derive(Clone)]
pub struct TrialContext {
    number: usize,
    run: Option<Arc<TrialRun>>,
    pruning: Arc<Mutex<Pruning>>,
}

impl std::fmt::Debug for TrialContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrialContext")
            .field("number", &self.number)
            .field("run_id", &self.run_id())
            .finish()
    }
}

impl TrialContext {
    /// The trial's number in the search, from 0.
    pub fn number(&self) -> usize {
        self.number
    }

    /// The id of the tracking run that holds this trial, when tracking is on.
    pub fn run_id(&self) -> Option<&str> {
        self.run.as_deref().map(TrialRun::id)
    }

    /// The tracker and the id of the run that holds this trial, when tracking is on: for
    /// what the context has no shortcut for, such as [`Tracker::log_model`].
    pub fn tracked_run(&self) -> Option<(&Tracker, &str)> {
        self.run.as_deref().map(|run| (run.tracker(), run.id()))
    }

    /// Logs a metric value at a step (e.g. validation loss per epoch).
    pub fn log_metric(&self, key: &str, value: f64, step: i64) -> Result<(), StoreError> {
        match &self.run {
            Some(run) => run.log_metric(key, value, step),
            None => Ok(()),
        }
    }

    /// Stores a file under a path relative to the trial run's artifact directory.
    pub fn log_artifact(&self, path: &str, contents: &[u8]) -> Result<(), StoreError> {
        match &self.run {
            Some(run) => run.log_artifact(path, contents),
            None => Ok(()),
        }
    }

    /// Reports the objective's intermediate value at `step` (an epoch, a boosting round,
    /// a fold) and returns whether the study's [pruner](StudyBuilder::pruner) says to stop
    /// this trial now; if so, the objective should return
    /// [`Outcome::pruned`](crate::fmin::Outcome::pruned). Tracked, the value is logged as
    /// the objective metric's history. A step reported again keeps its first value and
    /// repeats the answer given then.
    ///
    /// ```
    /// use hyperflow::prune::Median;
    /// use hyperflow::study::Study;
    /// use hyperflow::{Outcome, Space};
    ///
    /// let space = Space::builder().uniform("rate", 0.01, 1.0).build()?;
    /// let mut study = Study::builder(&space).pruner(Median::new()).seed(2).create()?;
    /// for _ in 0..20 {
    ///     let trial = study.ask()?;
    ///     let rate: f64 = trial.point().get("rate")?;
    ///     let mut loss = 1.0;
    ///     let mut outcome = None;
    ///     for epoch in 0..10 {
    ///         loss *= 1.0 - rate;
    ///         if trial.context().report(epoch, loss)? {
    ///             outcome = Some(Outcome::pruned(format!("epoch {epoch}")));
    ///             break;
    ///         }
    ///     }
    ///     study.tell(trial, outcome.unwrap_or(Outcome::loss(loss)))?;
    /// }
    /// assert!(study.trials().count(hyperflow::TrialState::Pruned) > 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// The answer is decided before the value is logged: when logging fails, the error
    /// is returned and [`should_prune`](TrialContext::should_prune) still has the answer.
    ///
    /// A step reported already keeps its first value (as optuna), and a trial that was
    /// told takes no more: such a report is neither judged nor logged, so the run's
    /// history is what the pruner saw.
    pub fn report(&self, step: u64, value: f64) -> Result<bool, StoreError> {
        let report = lock(&self.pruning).report(self.number, step, value);
        if let (true, Some(run)) = (report.taken, &self.run) {
            run.log_metric(
                run.objective_metric(),
                value,
                i64::try_from(step).unwrap_or(i64::MAX),
            )?;
        }
        Ok(report.stop)
    }

    /// [`report`](TrialContext::report), with the value written to the trial's run later:
    /// at the next [`flush_metrics`](TrialContext::flush_metrics), else with the trial's
    /// end, in the same transaction as its result. For objectives that report faster
    /// than a write per value is worth (a sweep's trial processes print values as they
    /// go); the pruner hears the value at once either way. Values still queued when the
    /// process dies are lost.
    ///
    /// ```
    /// use hyperflow::prune::Median;
    /// use hyperflow::study::Study;
    /// use hyperflow::{Outcome, Space};
    ///
    /// let space = Space::builder().uniform("rate", 0.01, 1.0).build()?;
    /// let mut study = Study::builder(&space).pruner(Median::new()).seed(3).create()?;
    /// let trial = study.ask()?;
    /// let rate: f64 = trial.point().get("rate")?;
    /// let mut loss = 1.0;
    /// for step in 0..100 {
    ///     loss *= 1.0 - rate;
    ///     if trial.context().report_later(step, loss) {
    ///         break;
    ///     }
    ///     if step % 10 == 9 {
    ///         trial.context().flush_metrics()?;
    ///     }
    /// }
    /// study.tell(trial, Outcome::loss(loss))?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn report_later(&self, step: u64, value: f64) -> bool {
        let report = lock(&self.pruning).report(self.number, step, value);
        if let (true, Some(run)) = (report.taken, &self.run) {
            let step = i64::try_from(step).unwrap_or(i64::MAX);
            run.queue_metric(run.objective_metric(), value, step);
        }
        report.stop
    }

    /// [`log_metric`](TrialContext::log_metric), with the value written later, as
    /// [`report_later`](TrialContext::report_later)'s are.
    pub fn log_metric_later(&self, key: &str, value: f64, step: i64) {
        if let Some(run) = &self.run {
            run.queue_metric(key, value, step);
        }
    }

    /// Writes the values [`report_later`](TrialContext::report_later) and
    /// [`log_metric_later`](TrialContext::log_metric_later) queued, in one batch. When
    /// the store refuses them they stay queued, for the next flush or the trial's end.
    pub fn flush_metrics(&self) -> Result<(), StoreError> {
        self.run.as_deref().map_or(Ok(()), TrialRun::flush)
    }

    /// Whether the pruner said to stop this trial at its latest
    /// [`report`](TrialContext::report) (`false` before any).
    pub fn should_prune(&self) -> bool {
        lock(&self.pruning).should_prune(self.number)
    }

    /// Whether this trial reported a value at `step` already: a
    /// [`report`](TrialContext::report) of it again is ignored, the first value kept.
    pub fn has_reported(&self, step: u64) -> bool {
        lock(&self.pruning)
            .progress
            .curve(self.number)
            .contains(step)
    }

    /// The trial's state as the study has it: [`TrialState::Running`] until it is told.
    /// A pruner takes no value reported after that.
    pub fn state(&self) -> TrialState {
        lock(&self.pruning)
            .progress
            .state(self.number)
            .unwrap_or(TrialState::Running)
    }
}

/// The pruner's side of a study, shared with the contexts of running trials (they report
/// from the workers' threads).
struct Pruning {
    name: String,
    session: Box<dyn PrunerSession>,
    progress: Progress,
    /// Per trial, the answer of its latest report.
    stop: Vec<bool>,
}

impl Pruning {
    fn new(pruner: &dyn Pruner, seed: u64, trials: &Trials) -> Pruning {
        let mut pruning = Pruning {
            name: pruner.name().to_string(),
            session: pruner.session(seed),
            progress: Progress::new(trials.direction()),
            stop: Vec::new(),
        };
        for trial in trials.all() {
            pruning.added(trial.number);
            if trial.state.is_finished() {
                pruning.finished(trial);
            }
        }
        pruning
    }

    /// A new trial, running.
    fn added(&mut self, number: usize) {
        self.progress.push(number, TrialState::Running);
        self.stop.push(false);
    }

    fn report(&mut self, number: usize, step: u64, value: f64) -> Report {
        let running = self.progress.state(number) == Some(TrialState::Running);
        let taken = running && self.progress.report(number, step, value);
        if taken {
            self.stop[number] = stops(&mut *self.session, &self.progress, number);
        }
        Report {
            taken,
            stop: self.should_prune(number),
        }
    }

    fn should_prune(&self, number: usize) -> bool {
        self.stop.get(number).copied().unwrap_or(false)
    }

    /// The highest step trial `number` reported, with its value.
    fn last(&self, number: usize) -> Option<(u64, f64)> {
        self.progress.curve(number).last()
    }

    /// A trial ended (as `trial` says).
    fn finished(&mut self, trial: &Trial) {
        let value = trial.loss.filter(|_| trial.state == TrialState::Complete);
        self.progress.finish(trial.number, trial.state, value);
        self.session.finished(&self.progress, trial.number);
    }

    /// A new session of `pruner`, which is told everything reported so far, trial by
    /// trial and step by step.
    fn replace(&mut self, pruner: &dyn Pruner, seed: u64) {
        let mut session = pruner.session(seed);
        let mut replay = Progress::new(self.progress.direction());
        for (number, state, curve) in self.progress.iter() {
            replay.push(number, TrialState::Running);
            for &(step, value) in curve.points() {
                replay.report(number, step, value);
                self.stop[number] = stops(&mut *session, &replay, number);
            }
            if state.is_finished() {
                replay.finish(number, state, self.progress.value(number));
                session.finished(&replay, number);
            }
        }
        self.session = session;
        self.progress = replay;
        self.name = pruner.name().to_string();
    }
}

/// Reads into `progress` what the finished trials `which` accepts reported, for those it
/// holds nothing of yet: their runs' histories ([`TrackedStudy::reported`]), with no
/// pruner session hearing them.
fn read_back(
    progress: &mut Progress,
    store: &TrackedStudy,
    trials: &Trials,
    which: impl Fn(&Trial) -> bool,
) -> Result<(), StudyError> {
    for trial in trials.all() {
        if trial.state.is_finished() && progress.curve(trial.number).is_empty() && which(trial) {
            for (step, value) in store.reported(trial)? {
                progress.report(trial.number, step, value);
            }
        }
    }
    Ok(())
}

/// What became of a report.
struct Report {
    /// Whether it was recorded: the trial runs, and had not reported that step.
    taken: bool,
    /// Whether the pruner says to stop the trial (at its latest recorded step).
    stop: bool,
}

/// Whether `session` stops trial `number` at the step it just reported: as it judges,
/// but never a trial that ran as long as a complete one ([`Progress::ran_full`]).
fn stops(session: &mut dyn PrunerSession, progress: &Progress, number: usize) -> bool {
    session.judge(progress, number) && !progress.ran_full(number)
}

/// A trial handed out by [`Study::ask`]: evaluate its point, then hand it back with the
/// outcome to [`Study::tell`]. It can be sent to another thread.
#[derive(Debug)]
pub struct AskedTrial {
    point: Point,
    context: TrialContext,
}

impl AskedTrial {
    /// The trial's number.
    pub fn number(&self) -> usize {
        self.context.number
    }

    /// The point to evaluate.
    pub fn point(&self) -> &Point {
        &self.point
    }

    /// Where the objective may log during the trial.
    pub fn context(&self) -> &TrialContext {
        &self.context
    }
}

/// A search's state; see the [module docs](self).
pub struct Study {
    space: Space,
    algo: String,
    session: Box<dyn Session>,
    seed: u64,
    trials: Trials,
    /// `(score, number)` of the best complete trial as [`Trials::best`] picks it (lowest
    /// score, earliest on ties), kept up to date so telling does not rescan the history.
    best: Option<(f64, usize)>,
    /// Encoded points to evaluate before the sampler proposes any.
    queue: VecDeque<Vec<f64>>,
    store: Option<TrackedStudy>,
    pruning: Arc<Mutex<Pruning>>,
    /// Whether creating it joined a search another worker had created.
    joined: bool,
    /// Ledger rows read while asking, of trials numbered after the one being asked.
    held: Vec<crate::tracking::ledger::LedgerTrial>,
}

impl std::fmt::Debug for Study {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Study")
            .field("algo", &self.algo)
            .field("seed", &self.seed)
            .field("direction", &self.trials.direction())
            .field("trials", &self.trials.len())
            .field("parent_run_id", &self.parent_run_id())
            .finish_non_exhaustive()
    }
}

/// Configures a new study; made by [`Study::builder`].
pub struct StudyBuilder {
    space: Space,
    direction: Option<Direction>,
    sampler: Option<Box<dyn Sampler>>,
    seed: Option<u64>,
    history: Option<Trials>,
    tracking: Option<Tracking>,
    pruner: Option<Box<dyn Pruner>>,
    stale_after: Option<Duration>,
}

impl StudyBuilder {
    /// Minimize or maximize the loss (default: minimize).
    pub fn direction(mut self, direction: Direction) -> Self {
        self.direction = Some(direction);
        self
    }

    /// The sampler (default [`Auto`](crate::algo::Auto), see [`Algorithm::default`]).
    pub fn sampler(self, sampler: impl Sampler + 'static) -> Self {
        self.boxed_sampler(Box::new(sampler))
    }

    /// The sampler, already boxed (e.g. from [`algo::by_name`](crate::algo::by_name)).
    pub fn boxed_sampler(mut self, sampler: Box<dyn Sampler>) -> Self {
        self.sampler = Some(sampler);
        self
    }

    /// The seed trial `i` draws its randomness from, with `i` (default: from the clock).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Earlier trials to start from (warm start): the sampler learns from them and new
    /// trials are numbered after them. Their direction must be the study's. Not written
    /// to the tracking store.
    pub fn history(mut self, trials: Trials) -> Self {
        self.history = Some(trials);
        self
    }

    /// Keep the study in a tracking store.
    pub fn tracking(mut self, tracking: Tracking) -> Self {
        self.tracking = Some(tracking);
        self
    }

    /// The pruner that judges the values trials [report](TrialContext::report) (default
    /// [`NoPruning`]); see [`prune`](crate::prune). A worker joining a running search
    /// must have the pruner the search was created with (by [name](Pruner::name)); a
    /// search reopened by name once it ended may take another.
    pub fn pruner(self, pruner: impl Pruner + 'static) -> Self {
        self.boxed_pruner(Box::new(pruner))
    }

    /// The pruner, already boxed.
    pub fn boxed_pruner(mut self, pruner: Box<dyn Pruner>) -> Self {
        self.pruner = Some(pruner);
        self
    }

    /// The name of the pruner the study gets (`none` without one), as its parent run
    /// records it.
    fn pruner_name(&self) -> &str {
        self.pruner
            .as_deref()
            .map_or(NoPruning.name(), |p| p.name())
    }

    /// How long another worker of a shared study may stay silent before its running
    /// trials count as lost: they are marked failed and their places in the budget go
    /// back to the search (default [`DEFAULT_STALE_AFTER`]). Workers send heartbeats four
    /// times per this period.
    pub fn stale_after(mut self, stale_after: Duration) -> Self {
        self.stale_after = Some(stale_after);
        self
    }

    /// Creates the study (and, when tracked, its parent run). A study whose
    /// [join key](Tracking::join_key) is held by a running search joins that one.
    pub fn create(mut self) -> Result<Study, StudyError> {
        let direction = self.direction.unwrap_or_default();
        let sampler = self
            .sampler
            .take()
            .unwrap_or_else(|| Algorithm::default().sampler());
        let seed = self.seed.unwrap_or_else(clock_seed);
        let trials = match self.history.take() {
            Some(h) if h.direction() != direction => {
                return Err(StudyError::Mismatch(format!(
                    "the history is {}d but the study is to {}",
                    h.direction().as_str(),
                    direction.as_str()
                )));
            }
            Some(h) => h,
            None => Trials::new(direction),
        };
        if let Some(trial) = trials.all().iter().find(|t| t.x.len() != self.space.len()) {
            return Err(StudyError::Mismatch(format!(
                "history trial {}: its encoded point has {} values, but the space has {} \
                 parameters; was it made for another space?",
                trial.number,
                trial.x.len(),
                self.space.len()
            )));
        }
        let session = sampler.session(&self.space)?;
        let store = match self.tracking.take() {
            Some(tracking) => {
                if let Some((tracker, parent)) = TrackedStudy::find_joinable(&tracking)? {
                    self.sampler = Some(sampler);
                    return self.join(&tracker, &parent, "the running search it joins");
                }
                let tracker = tracking.tracker()?;
                let start = LedgerStart {
                    next_number: trials.len() as u64,
                    released: trials.count(TrialState::Killed) as u64,
                };
                let params = StudyParams {
                    algo: sampler.name().to_string(),
                    seed,
                    direction,
                    pruner: Some(self.pruner_name().to_string()),
                };
                match TrackedStudy::create(tracking, &self.space, params, start)? {
                    Created::New(store) => Some(*store),
                    Created::Join(parent) => {
                        self.sampler = Some(sampler);
                        return self.join(&tracker, &parent, "the search it joins");
                    }
                }
            }
            None => None,
        };
        let mut study = Study::assemble(
            self.space,
            sampler.name().to_string(),
            session,
            seed,
            trials,
            store,
        );
        if let Some(pruner) = self.pruner {
            study.set_pruner(&*pruner)?;
        }
        if let Some(stale_after) = self.stale_after {
            study.set_stale_after(stale_after);
        }
        Ok(study)
    }

    /// Loads the study whose parent run is `parent` to continue it with this builder's
    /// sampler, pruner and stale time; its space and direction must be the builder's.
    fn join(self, tracker: &Tracker, parent: &str, what: &str) -> Result<Study, StudyError> {
        self.join_keyed(tracker, parent, what, None)
    }

    /// [`join`](Self::join), registering the search under `key` first when it was found
    /// by name: a search that lost the key to another (its creator gives way) is left for
    /// the one holding it.
    fn join_keyed(
        self,
        tracker: &Tracker,
        parent: &str,
        what: &str,
        key: Option<&str>,
    ) -> Result<Study, StudyError> {
        let (mut study, created_pruner) =
            Study::load_inner(tracker, parent, self.sampler.as_deref())?;
        // Found by its join key, the search is running: every worker's pruner must be the
        // one it was created with, or some trials are judged by another rule than the
        // rest (a search reopened by name may take a new one).
        let pruner = self.pruner_name();
        if let Some(created) = created_pruner.filter(|c| key.is_none() && c != pruner) {
            return Err(StudyError::Mismatch(format!(
                "{what} (run {parent}) prunes with `{created}`, this worker with `{pruner}`: \
                 give every worker of a search the same pruner"
            )));
        }
        if let (Some(key), Some(store)) = (key, &mut study.store) {
            let holder = store.register_key(key)?;
            if holder != parent {
                return self.join_keyed(tracker, &holder, what, None);
            }
        }
        study.joined = true;
        if let Some(pruner) = &self.pruner {
            study.set_pruner(&**pruner)?;
        }
        if let Some(stale_after) = self.stale_after {
            study.set_stale_after(stale_after);
        }
        if study.space != self.space {
            return Err(StudyError::Mismatch(format!(
                "{what} (run {parent}) searches another space: {} (stored) against {} (given)",
                study.space.to_json(),
                self.space.to_json()
            )));
        }
        let direction = self.direction.unwrap_or_default();
        if study.direction() != direction {
            return Err(StudyError::Mismatch(format!(
                "{what} (run {parent}) is to {}, not to {}",
                study.direction().as_str(),
                direction.as_str()
            )));
        }
        if let Some(seed) = self.seed.filter(|&s| s != study.seed) {
            return Err(StudyError::Mismatch(format!(
                "{what} (run {parent}) was created with seed {}, not {seed}",
                study.seed
            )));
        }
        Ok(study)
    }

    /// Opens the tracked study of this name in its experiment (see [`Tracking::name`]),
    /// or creates it when there is none. An opened study keeps its stored seed and
    /// sampler (a sampler set here replaces it); its space and direction must be the ones
    /// given here.
    /// Processes opening one name at once open one study: while it runs, its name is its
    /// [join key](Tracking::join_key), so they share its trials and budget.
    pub fn open(mut self) -> Result<Study, StudyError> {
        let Some(tracking) = self.tracking.take() else {
            return self.create();
        };
        let Some(name) = tracking.study_name().map(str::to_string) else {
            return Err(StudyError::Mismatch(
                "opening a study needs its name: set one with Tracking::name".into(),
            ));
        };
        let key = format!("study:{name}");
        let tracking = tracking.join_key(key.clone());
        let what = format!("study {name:?}");
        if let Some((tracker, parent)) = TrackedStudy::find_joinable(&tracking)? {
            return self.join(&tracker, &parent, &what);
        }
        let tracker = tracking.tracker()?;
        match TrackedStudy::find_named(&tracker, tracking.experiment(), &name)? {
            Some(parent) => self.join_keyed(&tracker, &parent, &what, Some(&key)),
            None => {
                self.tracking = Some(tracking);
                self.create()
            }
        }
    }
}

impl Study {
    /// Starts configuring a study of `space`.
    pub fn builder(space: &Space) -> StudyBuilder {
        StudyBuilder {
            space: space.clone(),
            direction: None,
            sampler: None,
            seed: None,
            history: None,
            tracking: None,
            pruner: None,
            stale_after: None,
        }
    }

    /// Loads the tracked study whose parent run is `parent_run_id`, with its space, seed,
    /// direction, sampler (by its stored name) and every trial. Nothing is written: the
    /// parent is reopened by the first [`ask`](Study::ask) or [`tell`](Study::tell).
    /// Trials still running (in another process, or left by one that died) stay running;
    /// [`kill_running`](Study::kill_running) ends them.
    pub fn load(tracker: &Tracker, parent_run_id: &str) -> Result<Study, StudyError> {
        Study::load_inner(tracker, parent_run_id, None).map(|(study, _)| study)
    }

    /// Like [`load`](Study::load), with `sampler` instead of the one the study was created
    /// with (a sampler of your own, which [`by_name`](crate::algo::by_name) does not know).
    pub fn load_with(
        tracker: &Tracker,
        parent_run_id: &str,
        sampler: &dyn Sampler,
    ) -> Result<Study, StudyError> {
        Study::load_inner(tracker, parent_run_id, Some(sampler)).map(|(study, _)| study)
    }

    /// The study, and the name of the pruner it was created with (none when stored before
    /// pruners were recorded).
    fn load_inner(
        tracker: &Tracker,
        parent_run_id: &str,
        sampler: Option<&dyn Sampler>,
    ) -> Result<(Study, Option<String>), StudyError> {
        let loaded = TrackedStudy::load(tracker, parent_run_id)?;
        let stored;
        let sampler = match sampler {
            Some(sampler) => sampler,
            None => {
                stored = crate::algo::by_name(&loaded.params.algo)?;
                &*stored
            }
        };
        let session = sampler.session(&loaded.space)?;
        let mut study = Study::assemble(
            loaded.space,
            sampler.name().to_string(),
            session,
            loaded.params.seed,
            loaded.trials,
            Some(loaded.store),
        );
        // The ledger knows trials whose runs are behind (or not yet created).
        study.sync()?;
        Ok((study, loaded.params.pruner))
    }

    /// Loads the latest tracked study named `name` in `experiment` (see
    /// [`Study::load`]); `None` when there is none.
    pub fn load_named(
        tracker: &Tracker,
        experiment: &str,
        name: &str,
    ) -> Result<Option<Study>, StudyError> {
        match TrackedStudy::find_named(tracker, experiment, name)? {
            Some(parent) => Study::load(tracker, &parent).map(Some),
            None => Ok(None),
        }
    }

    fn assemble(
        space: Space,
        algo: String,
        mut session: Box<dyn Session>,
        seed: u64,
        trials: Trials,
        store: Option<TrackedStudy>,
    ) -> Study {
        for number in 0..trials.len() {
            session.observe(&trials, number);
        }
        let best = trials
            .best()
            .and_then(|t| Some((trials.score(t)?, t.number)));
        let pruning = Arc::new(Mutex::new(Pruning::new(&NoPruning, seed, &trials)));
        Study {
            space,
            algo,
            session,
            seed,
            trials,
            best,
            queue: VecDeque::new(),
            store,
            pruning,
            joined: false,
            held: Vec::new(),
        }
    }

    /// Replaces the sampler: a new session that observes every trial so far.
    pub fn set_sampler(&mut self, sampler: &dyn Sampler) -> Result<(), StudyError> {
        let mut session = sampler.session(&self.space)?;
        for number in 0..self.trials.len() {
            session.observe(&self.trials, number);
        }
        self.session = session;
        self.algo = sampler.name().to_string();
        Ok(())
    }

    /// Replaces the pruner: a new session that is told every value reported so far
    /// (trials running now are judged by it from their next report on). A tracked study
    /// loaded from its store first reads what its finished trials reported (the objective
    /// metric's history of each trial run), so a resumed search prunes as it would have.
    pub fn set_pruner(&mut self, pruner: &dyn Pruner) -> Result<(), StudyError> {
        let mut pruning = lock(&self.pruning);
        if let Some(store) = &self.store {
            read_back(&mut pruning.progress, store, &self.trials, |_| true)?;
        }
        pruning.replace(pruner, self.seed);
        Ok(())
    }

    /// The pruner's name ([`PrunerKind::as_str`](crate::prune::PrunerKind::as_str) for a
    /// built-in one).
    pub fn pruner(&self) -> String {
        lock(&self.pruning).name.clone()
    }

    /// What trial `number` reported, by step (empty for a trial that reported nothing
    /// in this process).
    pub fn intermediate_values(&self, number: usize) -> Vec<(u64, f64)> {
        lock(&self.pruning).progress.curve(number).points().to_vec()
    }

    /// The space searched.
    pub fn space(&self) -> &Space {
        &self.space
    }

    /// Whether the loss is minimized or maximized.
    pub fn direction(&self) -> Direction {
        self.trials.direction()
    }

    /// The seed: trial `i` draws its randomness from `(seed, i)`.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The sampler's name.
    pub fn algo(&self) -> &str {
        &self.algo
    }

    /// Every trial so far.
    pub fn trials(&self) -> &Trials {
        &self.trials
    }

    /// The history, giving up the study.
    pub fn into_trials(self) -> Trials {
        self.trials
    }

    /// The best complete trial: lowest score, earliest on ties.
    pub fn best(&self) -> Option<&Trial> {
        self.best.map(|(_, number)| &self.trials.all()[number])
    }

    /// Whether [creating](StudyBuilder::create) or [opening](StudyBuilder::open) this
    /// study joined one that was stored already (a running search with the same
    /// [join key](Tracking::join_key), or the study of that name).
    pub fn joined(&self) -> bool {
        self.joined
    }

    /// The parent run's id, when the study is tracked (and not a lone run).
    pub fn parent_run_id(&self) -> Option<&str> {
        self.store.as_ref().and_then(TrackedStudy::parent_id)
    }

    /// The experiment the study is tracked in.
    pub fn experiment_id(&self) -> Option<&ExperimentId> {
        self.store.as_ref().map(TrackedStudy::experiment_id)
    }

    /// The tracking run of a trial, when the study is tracked and this process created or
    /// loaded it.
    pub fn run_id(&self, number: usize) -> Option<String> {
        self.store.as_ref().and_then(|s| s.run_id(number))
    }

    /// Evaluate `point` next, before the sampler proposes anything (optuna's
    /// `enqueue_trial`; `fmin`'s `points_to_evaluate`).
    pub fn enqueue(&mut self, point: &Point) -> Result<(), StudyError> {
        let x = self
            .space
            .encode(point)
            .map_err(|source| StudyError::Point {
                what: format!("enqueued point {point}"),
                source,
            })?;
        self.queue.push_back(x);
        Ok(())
    }

    /// How many enqueued points are still to be asked.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Whether the sampler has nothing new to propose and no point is enqueued.
    pub fn exhausted(&self) -> bool {
        self.queue.is_empty() && self.session.exhausted(&self.trials)
    }

    /// Proposes the next trial and records it as running (tracked: its run is created).
    /// A [shared](Study::is_shared) study first reads what its other workers did.
    pub fn ask(&mut self) -> Result<AskedTrial, StudyError> {
        self.ask_inner(None)?.ok_or_else(|| {
            StudyError::Mismatch("the search's ledger gave no trial number without a budget".into())
        })
    }

    /// Like [`ask`](Study::ask), while fewer than `budget` trials count towards the
    /// search's budget (results and running trials, of every worker of a shared study,
    /// claimed atomically); `None` when they do.
    pub fn ask_within(&mut self, budget: usize) -> Result<Option<AskedTrial>, StudyError> {
        self.ask_inner(Some(budget))
    }

    fn ask_inner(&mut self, budget: Option<usize>) -> Result<Option<AskedTrial>, StudyError> {
        let shared = self.is_shared();
        let mut stream = self.seed;
        if shared {
            let ordinal = match &mut self.store {
                Some(store) => store.register()?,
                None => 0,
            };
            self.sync()?;
            // Looking for lost trials costs a query: once per heartbeat period.
            let every = self
                .store
                .as_ref()
                .map_or(Duration::ZERO, TrackedStudy::look_every);
            self.release_lost_since(every)?;
            // While other workers run trials, each draws from its own stream (the first
            // from the seed's), so workers asking at once do not propose one point; a
            // worker alone (a resumed search) draws as an uninterrupted one would.
            if self.others_running() {
                stream = stream.wrapping_add(ordinal.wrapping_mul(0x9e37_79b9_7f4a_7c15));
            }
        } else if budget
            .is_some_and(|b| self.trials.results() + self.trials.count(TrialState::Running) >= b)
        {
            return Ok(None);
        }
        let predicted = self.trials.len();
        let queued = self.queue.pop_front();
        let from_queue = queued.is_some();
        let x = match queued {
            Some(x) => x,
            None => {
                let mut rng = TrialRng::for_trial(stream, predicted as u64);
                self.session.suggest(&self.trials, &mut rng)
            }
        };
        let number = match (shared, &mut self.store) {
            (true, Some(store)) => match store.claim(budget, &x)? {
                Some(number) => number,
                None => {
                    if from_queue {
                        self.queue.push_front(x);
                    }
                    return Ok(None);
                }
            },
            _ => predicted,
        };
        if number != self.trials.len() {
            // Other workers claimed the numbers in between: read their trials, holding
            // back those after this one until it is in place.
            self.sync_before(number)?;
        }
        if number != self.trials.len() {
            return Err(StudyError::Mismatch(format!(
                "the search's ledger gave trial number {number}, but this worker knows {} trials",
                self.trials.len()
            )));
        }
        let point = self.space.decode(&x);
        let trial = Trial::running(number, x, point.clone());
        let run = match &mut self.store {
            Some(store) => Some(store.trial_started(&trial)?),
            None => None,
        };
        self.trials.push(trial)?;
        self.session.observe(&self.trials, number);
        lock(&self.pruning).added(number);
        self.merge_held()?;
        Ok(Some(AskedTrial {
            point,
            context: TrialContext {
                number,
                run,
                pruning: Arc::clone(&self.pruning),
            },
        }))
    }

    /// Checks that `trial` was asked of this study, not of another one (whose trials are
    /// numbered from 0 too).
    pub fn check_asked(&self, trial: &AskedTrial) -> Result<(), StudyError> {
        if Arc::ptr_eq(&trial.context.pruning, &self.pruning) {
            return Ok(());
        }
        Err(StudyError::Mismatch(format!(
            "trial {} was asked of another study; tell it to the study that asked it",
            trial.number()
        )))
    }

    /// Records the outcome of a trial from [`ask`](Study::ask) (`f64`, `Result<f64, E>`,
    /// an [`Outcome`](crate::fmin::Outcome), ...; an error, NaN or infinite loss fails the
    /// trial) and returns it as recorded. A trial another study asked is an error.
    pub fn tell(
        &mut self,
        trial: AskedTrial,
        outcome: impl IntoOutcome,
    ) -> Result<&Trial, StudyError> {
        self.check_asked(&trial)?;
        let number = trial.number();
        drop(trial);
        self.tell_number(number, outcome)
    }

    /// Records the outcome of running trial `number`, asked by this process or by another
    /// one (a loaded study knows the trials still running).
    pub fn tell_number(
        &mut self,
        number: usize,
        outcome: impl IntoOutcome,
    ) -> Result<&Trial, StudyError> {
        let trial = self.running(number)?;
        let duration = trial.started.elapsed().unwrap_or_default();
        let mut finished = trial.clone().finished(outcome.into_outcome(), duration);
        if let Some((step, value)) = lock(&self.pruning).last(number) {
            finished.last_step = Some(step);
            // A pruned trial's value is the last one it reported, as optuna records it.
            if finished.state == TrialState::Pruned && finished.loss.is_none() {
                finished.loss = Some(value).filter(|v| v.is_finite());
            }
        }
        let score = self.trials.score(&finished);
        let is_best = score.is_some_and(|s| {
            self.best
                .is_none_or(|(b, n)| s.total_cmp(&b).then(number.cmp(&n)).is_lt())
        });
        if let Some(store) = &mut self.store {
            store.trial_finished(&finished, is_best)?;
        }
        if let (true, Some(s)) = (is_best, score) {
            self.best = Some((s, number));
        }
        self.commit(finished);
        Ok(&self.trials.all()[number])
    }

    /// Marks every running trial killed, with `reason` (their numbers are not reused and
    /// they do not count as results). Returns their numbers. Of a
    /// [shared](Study::is_shared) study, the trials of workers that are alive are left
    /// alone: this kills the trials this handle runs and those of workers that are gone
    /// (an earlier process, a dropped handle, or one silent for the stale time).
    /// Lost trials whose runs had ended already (their worker died after writing its run
    /// and before the ledger heard) give their places in the budget back too.
    pub fn kill_running(&mut self, reason: &str) -> Result<Vec<usize>, StudyError> {
        self.sync()?;
        let lost = match &mut self.store {
            Some(store) => store.lost_trials()?,
            None => Vec::new(),
        };
        let killed = self.kill(reason, |store, n| store.is_mine(n) || lost.contains(&n))?;
        self.release(&lost)?;
        Ok(killed)
    }

    /// Marks the running trials `which` accepts (all of an unshared study) killed.
    fn kill(
        &mut self,
        reason: &str,
        which: impl Fn(&TrackedStudy, usize) -> bool,
    ) -> Result<Vec<usize>, StudyError> {
        let running: Vec<usize> = self
            .trials
            .running()
            .map(|t| t.number)
            .filter(|&n| match &self.store {
                Some(store) if store.is_joined() => which(store, n),
                _ => true,
            })
            .collect();
        for &number in &running {
            let mut killed = self.trials.all()[number].clone();
            killed.kill(reason);
            if let Some(store) = &mut self.store {
                store.trial_finished(&killed, false)?;
            }
            self.commit(killed);
        }
        Ok(running)
    }

    /// Records that the search stopped, for `reason` (tracked: the parent run ends
    /// FINISHED with the reason and the counts of failed and pruned trials as tags and
    /// the [total steps](Study::total_steps) as a metric; KILLED when cancelled, ready to
    /// be continued).
    ///
    /// The last worker of a [shared](Study::is_shared) study ends it: while other workers
    /// run trials, this does nothing. The last one records the best trial of all and gives
    /// up the search's join key.
    pub fn finish(&mut self, reason: StopReason) -> Result<(), StudyError> {
        if self.is_shared() {
            self.sync()?;
            if self.others_running() {
                return Ok(());
            }
            self.read_others_reports()?;
        }
        let ending = Ending {
            reason,
            failed: self.trials.count(TrialState::Failed),
            pruned: self.trials.count(TrialState::Pruned),
            steps: self.total_steps(),
        };
        let best = self.best().cloned();
        let Some(store) = &mut self.store else {
            return Ok(());
        };
        if store.is_joined() {
            if let Some(best) = &best {
                store.record_best(best)?;
            }
            store.finish(ending)?;
            return store.close();
        }
        store.finish(ending)
    }

    /// How many intermediate values the trials reported: those this process ran, and
    /// those read back with [`set_pruner`](Study::set_pruner), of a shared study's other
    /// workers as their trials end when it has a pruner, and when the last worker
    /// [finishes](Study::finish) when not.
    pub fn total_steps(&self) -> usize {
        let pruning = lock(&self.pruning);
        pruning.progress.iter().map(|(_, _, c)| c.len()).sum()
    }

    /// Records that the loop driving the study stopped on an error (`why`): running trials
    /// are killed and the parent ends KILLED, as far as the store still takes writes.
    /// The study can be continued.
    pub fn abort(&mut self, why: &str) {
        // The error being reported matters more than one in cleaning up after it.
        let _ = self.kill(
            &format!("the search stopped on an error: {why}"),
            |store, n| store.is_mine(n),
        );
        if self.others_running() {
            // The search goes on in its other workers.
            return;
        }
        if let Some(store) = &mut self.store {
            store.abort(why);
        }
    }

    /// Writes the settings of the loop that drives the study as parent-run params: call it
    /// once, on a new study (`fmin` does for the studies it creates).
    pub fn log_settings(
        &mut self,
        settings: &crate::tracking::schema::SearchSettings,
    ) -> Result<(), StudyError> {
        match &mut self.store {
            Some(store) => store.log_settings(settings),
            None => Ok(()),
        }
    }

    /// The running trial `number`.
    fn running(&self, number: usize) -> Result<&Trial, StudyError> {
        let trial = self.trials.get(number).ok_or(StudyError::UnknownTrial {
            number,
            len: self.trials.len(),
        })?;
        match trial.state {
            TrialState::Running => Ok(trial),
            state => Err(StudyError::NotRunning { number, state }),
        }
    }

    /// Puts a trial's new state into the history and tells the sampler's and the
    /// pruner's sessions.
    fn commit(&mut self, trial: Trial) {
        let number = trial.number;
        lock(&self.pruning).finished(&trial);
        self.trials.update(number, |slot| *slot = trial);
        self.session.observe(&self.trials, number);
    }
}

fn clock_seed() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algo::{Grid, Random};
    use crate::fmin::Outcome;

    fn space() -> Space {
        Space::builder()
            .uniform("x", -5.0, 5.0)
            .build()
            .expect("valid")
    }

    #[test]
    fn a_trial_is_told_only_to_the_study_that_asked_it() {
        let mut one = Study::builder(&space()).seed(1).create().unwrap();
        let mut other = Study::builder(&space()).seed(2).create().unwrap();
        let (a, b) = (one.ask().unwrap(), other.ask().unwrap());
        assert_eq!((a.number(), b.number()), (0, 0));
        let e = other.tell(a, 0.5).unwrap_err();
        assert!(
            e.to_string().contains("trial 0 was asked of another study"),
            "{e}"
        );
        assert_eq!(
            other.trials().running().count(),
            1,
            "its own trial still runs"
        );
        other.tell(b, 0.25).unwrap();
    }

    #[test]
    fn ask_tell_records_and_ranks() {
        let mut study = Study::builder(&space())
            .sampler(Random)
            .seed(1)
            .direction(Direction::Maximize)
            .create()
            .unwrap();
        let a = study.ask().unwrap();
        let b = study.ask().unwrap();
        assert_eq!((a.number(), b.number()), (0, 1));
        assert_eq!(study.trials().running().count(), 2);
        study.tell(b, 2.0).unwrap();
        study.tell(a, Outcome::failed("boom")).unwrap();
        assert_eq!(study.best().map(|t| t.number), Some(1));
        assert_eq!(study.trials().get(0).unwrap().state, TrialState::Failed);
        assert!(matches!(
            study.tell_number(0, 1.0),
            Err(StudyError::NotRunning { number: 0, .. })
        ));
        assert!(matches!(
            study.tell_number(9, 1.0),
            Err(StudyError::UnknownTrial { number: 9, len: 2 })
        ));
    }

    #[test]
    fn seeds_reproduce_and_queue_goes_first() {
        let run = |seed| {
            let mut study = Study::builder(&space()).seed(seed).create().unwrap();
            let mut start = Point::default();
            start.insert("x", 0.25);
            study.enqueue(&start).unwrap();
            (0..15)
                .map(|_| {
                    let t = study.ask().unwrap();
                    let x: f64 = t.point().get("x").unwrap();
                    study.tell(t, x * x).unwrap();
                    x
                })
                .collect::<Vec<_>>()
        };
        let a = run(4);
        assert_eq!(a[0], 0.25);
        assert_eq!(a, run(4));
        assert_ne!(a, run(5));
    }

    #[test]
    fn killed_trials_are_not_results_and_grids_get_them_back() {
        let space = Space::builder()
            .choice("c", ["a", "b"])
            .build()
            .expect("valid");
        let mut study = Study::builder(&space).sampler(Grid).create().unwrap();
        let first = study.ask().unwrap();
        let _second = study.ask().unwrap();
        assert!(study.exhausted());
        study.tell(first, 1.0).unwrap();
        assert_eq!(study.kill_running("stopped").unwrap(), vec![1]);
        assert_eq!(study.trials().results(), 1);
        assert!(!study.exhausted());
        let again = study.ask().unwrap();
        assert_eq!(again.number(), 2);
    }

    #[test]
    fn a_history_must_fit() {
        let mut h = Trials::new(Direction::Minimize);
        h.push(Trial::running(0, vec![0.0, 1.0], Point::default()))
            .unwrap();
        let err = Study::builder(&space()).history(h).create().unwrap_err();
        assert!(err.to_string().contains("2 values"), "{err}");
        let grid_on_reals = Study::builder(&space()).sampler(Grid).create();
        assert!(matches!(grid_on_reals, Err(StudyError::Algo(_))));
    }
}
