//! `fmin`: the search loop, over a [`Study`].
//!
//! ```
//! use hyperflow::fmin::fmin;
//! use hyperflow::space::{Point, Space};
//!
//! let space = Space::builder().uniform("x", -5.0, 5.0).build()?;
//! let result = fmin(|p: &Point| -> Result<f64, hyperflow::space::PointError> {
//!     let x: f64 = p.get("x")?;
//!     Ok((x - 1.0).powi(2))
//! }, &space)
//! .max_evals(50)
//! .seed(7)
//! .progress(false)
//! .run()?;
//! assert!(result.best_loss().unwrap() < 1.0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! `fmin` creates a study from its settings (sampler, seed, direction, history, tracking)
//! and drives it; [`Study::optimize`] drives a study you created or loaded, which is how a
//! tracked search is continued.
//!
//! # Scheduling
//!
//! With `parallelism(1)` and a seed, a search is reproducible: the same trials every time.
//! With more workers there are two schedules:
//!
//! - [`Schedule::Async`] (the default) keeps every worker busy: as soon as a trial finishes,
//!   the next point is proposed from everything known at that moment, pending trials
//!   included. Which trials have finished by then depends on timing, so the sequence of
//!   points can differ between runs.
//! - [`Schedule::Batch`] proposes `parallelism` points at once (each proposal sees the earlier
//!   ones of its batch as pending, so they differ), evaluates them in parallel, and waits for
//!   the whole batch before proposing the next. Trial *i* always sees the same history, so the
//!   search is reproducible for any parallelism; workers idle while a batch's slowest trial
//!   finishes.
//!
//! Trial *i* draws its randomness from `(seed, i)` alone in both schedules.

mod observer;
mod outcome;

pub use observer::{Observer, ObserverError, SearchInfo};
pub use outcome::{IntoOutcome, Outcome, Status};

pub use crate::study::{CancelToken, StopReason, TrialContext};

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::algo::Sampler;
use crate::prune::{NoPruning, Pruner};
use crate::space::{Point, PointError, Space};
use crate::study::{AskedTrial, Study, StudyError, Tracking};
use crate::tracking::schema::SearchSettings;
use crate::trials::{Direction, Trial, TrialState, Trials};

/// How trials are scheduled on the workers; see the [module docs](self#scheduling).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Schedule {
    /// Keep every worker busy; propose each point as a worker frees up.
    #[default]
    Async,
    /// Propose `parallelism` points, evaluate them, wait for all, repeat: reproducible.
    Batch,
}

impl Schedule {
    /// `"async"` or `"batch"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Schedule::Async => "async",
            Schedule::Batch => "batch",
        }
    }
}

type Objective<'a> = dyn Fn(&Point, &TrialContext) -> Outcome + Sync + 'a;

/// Starts a search minimizing `objective` over `space`; configure it, then call
/// [`Fmin::run`].
///
/// The objective returns `f64`, `Result<f64, E>`, an [`Outcome`] (loss plus metrics or an
/// explicit status) or `Result<Outcome, E>`. An `Err`, a panic, or a NaN/infinite loss marks
/// that trial failed; the search goes on.
pub fn fmin<'a, F, R>(objective: F, space: &'a Space) -> Fmin<'a>
where
    F: Fn(&Point) -> R + Sync + 'a,
    R: IntoOutcome,
{
    Fmin::new(
        without_context(objective),
        Source::New(Box::new(NewStudy::new(space))),
    )
}

/// Like [`fmin`], for objectives that also take a [`TrialContext`] to log into their trial.
pub fn fmin_with_context<'a, F, R>(objective: F, space: &'a Space) -> Fmin<'a>
where
    F: Fn(&Point, &TrialContext) -> R + Sync + 'a,
    R: IntoOutcome,
{
    Fmin::new(
        with_context(objective),
        Source::New(Box::new(NewStudy::new(space))),
    )
}

fn without_context<'a, F, R>(objective: F) -> Box<Objective<'a>>
where
    F: Fn(&Point) -> R + Sync + 'a,
    R: IntoOutcome,
{
    Box::new(move |p: &Point, _: &TrialContext| objective(p).into_outcome())
}

fn with_context<'a, F, R>(objective: F) -> Box<Objective<'a>>
where
    F: Fn(&Point, &TrialContext) -> R + Sync + 'a,
    R: IntoOutcome,
{
    Box::new(move |p: &Point, ctx: &TrialContext| objective(p, ctx).into_outcome())
}

impl Study {
    /// A search loop over this study (see [`fmin`]): `study.optimize(f).max_evals(40).run()`
    /// continues a created or loaded study until it holds 40 results. The study's own
    /// settings (sampler, seed, direction, tracking) are not set on the loop.
    pub fn optimize<'a, F, R>(&'a mut self, objective: F) -> Fmin<'a>
    where
        F: Fn(&Point) -> R + Sync + 'a,
        R: IntoOutcome,
    {
        Fmin::new(without_context(objective), Source::Existing(self))
    }

    /// Like [`optimize`](Study::optimize), for objectives that also take a [`TrialContext`].
    pub fn optimize_with_context<'a, F, R>(&'a mut self, objective: F) -> Fmin<'a>
    where
        F: Fn(&Point, &TrialContext) -> R + Sync + 'a,
        R: IntoOutcome,
    {
        Fmin::new(with_context(objective), Source::Existing(self))
    }
}

/// A configured search; built by [`fmin`] or [`Study::optimize`], started by [`Fmin::run`].
pub struct Fmin<'a> {
    objective: Box<Objective<'a>>,
    source: Source<'a>,
    settings: Settings<'a>,
}

/// The study a search drives.
enum Source<'a> {
    /// One created when the search starts, from these settings.
    New(Box<NewStudy<'a>>),
    /// The caller's.
    Existing(&'a mut Study),
}

/// The settings of a study `fmin` creates.
struct NewStudy<'a> {
    space: &'a Space,
    sampler: Option<Box<dyn Sampler>>,
    seed: Option<u64>,
    direction: Direction,
    history: Option<Trials>,
    tracking: Option<Tracking>,
    pruner: Option<Box<dyn Pruner>>,
}

impl<'a> NewStudy<'a> {
    fn new(space: &'a Space) -> Self {
        NewStudy {
            space,
            sampler: None,
            seed: None,
            direction: Direction::Minimize,
            history: None,
            tracking: None,
            pruner: None,
        }
    }
}

/// The settings of the loop itself.
struct Settings<'a> {
    max_evals: usize,
    parallelism: Option<usize>,
    schedule: Schedule,
    timeout: Option<Duration>,
    loss_threshold: Option<f64>,
    early_stop_after: Option<usize>,
    points_to_evaluate: Vec<Point>,
    progress: bool,
    observers: Vec<Arc<dyn Observer + 'a>>,
    cancel: CancelToken,
    /// Study settings given for a study that exists already.
    misplaced: Vec<&'static str>,
}

impl<'a> Fmin<'a> {
    fn new(objective: Box<Objective<'a>>, source: Source<'a>) -> Self {
        Fmin {
            objective,
            source,
            settings: Settings {
                max_evals: 100,
                parallelism: None,
                schedule: Schedule::Async,
                timeout: None,
                loss_threshold: None,
                early_stop_after: None,
                points_to_evaluate: Vec::new(),
                progress: true,
                observers: Vec::new(),
                cancel: CancelToken::new(),
                misplaced: Vec::new(),
            },
        }
    }

    /// Applies a setting of the study to be created, or notes that it was given for a
    /// study that exists (an error when the search runs).
    fn study_setting(mut self, name: &'static str, apply: impl FnOnce(&mut NewStudy<'a>)) -> Self {
        match &mut self.source {
            Source::New(new) => apply(new),
            Source::Existing(_) => self.settings.misplaced.push(name),
        }
        self
    }

    /// The total number of trials that are results (complete, failed or pruned), trials of
    /// the history or of a continued study included (default 100).
    pub fn max_evals(mut self, n: usize) -> Self {
        self.settings.max_evals = n;
        self
    }

    /// The sampler that proposes points (default [`Auto`](crate::algo::Auto): a Gaussian
    /// process for the first 200 trials of flat spaces, TPE otherwise).
    pub fn algo(self, sampler: impl Sampler + 'static) -> Self {
        self.boxed_algo(Box::new(sampler))
    }

    /// The sampler that proposes points, already boxed (e.g. from
    /// [`algo::by_name`](crate::algo::by_name)).
    pub fn boxed_algo(self, sampler: Box<dyn Sampler>) -> Self {
        self.study_setting("algo", |s| s.sampler = Some(sampler))
    }

    /// The pruner that stops trials whose [reported](TrialContext::report) intermediate
    /// values look hopeless (default none); the objective, given its context by
    /// [`fmin_with_context`], reports and returns [`Outcome::pruned`] when told to stop.
    /// See [`prune`](crate::prune).
    pub fn pruner(self, pruner: impl Pruner + 'static) -> Self {
        self.boxed_pruner(Box::new(pruner))
    }

    /// The pruner, already boxed.
    pub fn boxed_pruner(self, pruner: Box<dyn Pruner>) -> Self {
        self.study_setting("pruner", |s| s.pruner = Some(pruner))
    }

    /// The seed that makes the search reproducible (default: drawn from the clock and
    /// reported in [`FminResult::seed`]).
    pub fn seed(self, seed: u64) -> Self {
        self.study_setting("seed", |s| s.seed = Some(seed))
    }

    /// How many trials run at once (default: the number of cores). With 1, the objective
    /// runs on the calling thread.
    pub fn parallelism(mut self, n: usize) -> Self {
        self.settings.parallelism = Some(n);
        self
    }

    /// How trials are scheduled on the workers (default [`Schedule::Async`]).
    pub fn schedule(mut self, schedule: Schedule) -> Self {
        self.settings.schedule = schedule;
        self
    }

    /// Minimize or maximize the objective (default: minimize).
    pub fn direction(self, direction: Direction) -> Self {
        self.study_setting("direction", |s| s.direction = direction)
    }

    /// Minimize the objective (the default).
    pub fn minimize(self) -> Self {
        self.direction(Direction::Minimize)
    }

    /// Maximize the objective.
    pub fn maximize(self) -> Self {
        self.direction(Direction::Maximize)
    }

    /// Propose no new trial after this much time; trials already running finish.
    pub fn timeout(mut self, limit: Duration) -> Self {
        self.settings.timeout = Some(limit);
        self
    }

    /// Stop once a trial's loss is at or below this value (at or above when maximizing).
    pub fn loss_threshold(mut self, threshold: f64) -> Self {
        self.settings.loss_threshold = Some(threshold);
        self
    }

    /// Stop after `n` finished trials in a row that did not improve on the best.
    pub fn early_stop_after(mut self, n: usize) -> Self {
        self.settings.early_stop_after = Some(n);
        self
    }

    /// Evaluate these points first, before the sampler proposes any.
    pub fn points_to_evaluate(mut self, points: impl IntoIterator<Item = Point>) -> Self {
        self.settings.points_to_evaluate.extend(points);
        self
    }

    /// Continue from earlier trials (e.g. [`FminResult::history`]): they count towards
    /// `max_evals`, and samplers learn from them. New trials are numbered after them.
    pub fn history(self, trials: Trials) -> Self {
        self.study_setting("history", |s| s.history = Some(trials))
    }

    /// Logs the search as configured by `tracking`: a parent run, and a nested child run
    /// per trial.
    pub fn tracking(self, tracking: Tracking) -> Self {
        self.study_setting("tracking", |s| s.tracking = Some(tracking))
    }

    /// Logs the search into `experiment` of the store named by the environment
    /// (`HYPERFLOW_TRACKING_URI`, else `MLFLOW_TRACKING_URI`, else `sqlite:///hyperflow.db`).
    pub fn experiment(self, experiment: impl Into<String>) -> Self {
        self.tracking(Tracking::from_env(experiment))
    }

    /// Show a progress bar on standard error (default on; it is hidden anyway when standard
    /// error is not a terminal).
    pub fn progress(mut self, show: bool) -> Self {
        self.settings.progress = show;
        self
    }

    /// Adds an observer that follows the search.
    pub fn observer(mut self, observer: Arc<dyn Observer + 'a>) -> Self {
        self.settings.observers.push(observer);
        self
    }

    /// The switch that stops the search: once set, no new trial starts, running ones are
    /// awaited, and the search ends with [`StopReason::Cancelled`].
    pub fn cancel_token(mut self, cancel: CancelToken) -> Self {
        self.settings.cancel = cancel;
        self
    }

    /// Runs the search. It returns its result however its trials ended (see
    /// [`FminResult::best`]); errors are for settings that are not valid and for a
    /// tracking store or an observer that failed.
    pub fn run(self) -> Result<FminResult, FminError> {
        let Fmin {
            objective,
            source,
            settings,
        } = self;
        let parallelism = settings.check()?;
        let (mut owned, mut created) = match source {
            Source::New(new) => {
                let mut builder = Study::builder(new.space).direction(new.direction);
                if let Some(sampler) = new.sampler {
                    builder = builder.boxed_sampler(sampler);
                }
                if let Some(seed) = new.seed {
                    builder = builder.seed(seed);
                }
                if let Some(history) = new.history {
                    builder = builder.history(history);
                }
                if let Some(tracking) = new.tracking {
                    builder = builder.tracking(tracking);
                }
                if let Some(pruner) = new.pruner {
                    builder = builder.boxed_pruner(pruner);
                }
                (Some(builder.create().map_err(FminError::Study)?), None)
            }
            Source::Existing(study) => (None, Some(study)),
        };
        let created_here = owned.is_some();
        let study: &mut Study = match (&mut owned, &mut created) {
            (Some(study), _) => study,
            (None, Some(study)) => study,
            (None, None) => unreachable!("a search has a study"),
        };
        if created_here {
            study
                .log_settings(&SearchSettings {
                    max_evals: Some(settings.max_evals),
                    parallelism,
                    schedule: settings.schedule.as_str(),
                    timeout: settings.timeout,
                    loss_threshold: settings.loss_threshold,
                    early_stop_after: settings.early_stop_after,
                    warm_start_trials: study.trials().len(),
                })
                .map_err(FminError::Study)?;
        }
        let mut search = Search::start(study, settings, parallelism)?;
        let outcome = search.run(&*objective);
        let stop_reason = search.stop.unwrap_or(StopReason::MaxEvals);
        let elapsed = search.started.elapsed();
        drop(search);
        outcome?;
        let study: &Study = match (&owned, &created) {
            (Some(study), _) => study,
            (None, Some(study)) => study,
            (None, None) => unreachable!("a search has a study"),
        };
        let best = study.best().map(|t| t.number);
        let seed = study.seed();
        let parent_run_id = study.parent_run_id().map(str::to_string);
        let trials = match owned {
            Some(study) => study.into_trials(),
            None => study.trials().clone(),
        };
        Ok(FminResult {
            trials,
            best,
            stop_reason,
            seed,
            elapsed,
            parent_run_id,
        })
    }
}

impl Settings<'_> {
    /// Checks the settings; returns the number of workers.
    fn check(&self) -> Result<usize, FminError> {
        let invalid = |setting, value: String, expected| {
            Err(FminError::InvalidSetting {
                setting,
                value,
                expected,
            })
        };
        if let Some(&setting) = self.misplaced.first() {
            return invalid(
                setting,
                "given".into(),
                "nothing: it is a setting of the study, which exists already",
            );
        }
        let parallelism = self
            .parallelism
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        if self.max_evals == 0 {
            return invalid("max_evals", "0".into(), "at least 1 trial");
        }
        if parallelism == 0 {
            return invalid("parallelism", "0".into(), "at least 1 worker");
        }
        if let Some(t) = self.loss_threshold.filter(|t| t.is_nan()) {
            return invalid("loss_threshold", t.to_string(), "a number");
        }
        if self.early_stop_after == Some(0) {
            return invalid("early_stop_after", "0".into(), "at least 1 trial");
        }
        Ok(parallelism)
    }
}

/// Why a search could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FminError {
    /// A setting is out of range.
    #[error("{setting} = {value} is not valid: expected {expected}")]
    InvalidSetting {
        /// The setting.
        setting: &'static str,
        /// Its value.
        value: String,
        /// What is accepted.
        expected: &'static str,
    },
    /// A starting point does not fit the space.
    #[error("points_to_evaluate[{index}]: {source}")]
    InvalidPoint {
        /// Its position among the points given.
        index: usize,
        /// What does not fit.
        source: PointError,
    },
    /// An observer failed; trials finished before the failure were recorded.
    #[error("an observer of the search stopped it: {0}")]
    Observer(ObserverError),
    /// The study could not be created, or its tracking store failed; trials finished
    /// before the failure were recorded.
    #[error(transparent)]
    Study(StudyError),
    /// The worker threads could not be started.
    #[error("could not start {threads} worker threads: {message}")]
    ThreadPool {
        /// How many were asked for.
        threads: usize,
        /// The system's answer.
        message: String,
    },
}

/// The outcome of a search: every trial, and the best one if any completed.
#[derive(Debug, Clone)]
pub struct FminResult {
    trials: Trials,
    best: Option<usize>,
    stop_reason: StopReason,
    seed: u64,
    elapsed: Duration,
    parent_run_id: Option<String>,
}

impl FminResult {
    /// The best complete trial (lowest loss, or highest when maximizing; the earliest on
    /// ties); `None` when no trial completed.
    pub fn best(&self) -> Option<&Trial> {
        self.best.map(|number| &self.trials.all()[number])
    }

    /// The best trial's loss, as the objective returned it.
    pub fn best_loss(&self) -> Option<f64> {
        self.best().and_then(|t| t.loss)
    }

    /// The best trial's point.
    pub fn best_point(&self) -> Option<&Point> {
        self.best().map(|t| &t.point)
    }

    /// Every trial, in the order proposed (earlier trials from `history` first).
    pub fn trials(&self) -> &[Trial] {
        self.trials.all()
    }

    /// The history, e.g. to continue the search with [`Fmin::history`].
    pub fn history(&self) -> &Trials {
        &self.trials
    }

    /// The history, giving up the result.
    pub fn into_history(self) -> Trials {
        self.trials
    }

    /// The trials that failed, each with its reason in [`Trial::error`].
    pub fn failures(&self) -> impl Iterator<Item = &Trial> {
        self.trials.in_state(TrialState::Failed)
    }

    /// Why the search stopped.
    pub fn stop_reason(&self) -> StopReason {
        self.stop_reason
    }

    /// The seed the search used (the one given, or the one drawn).
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Wall time of the search.
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// The parent run of a tracked search.
    pub fn parent_run_id(&self) -> Option<&str> {
        self.parent_run_id.as_deref()
    }
}

/// What the loop does next.
enum Next {
    /// Evaluate this trial.
    Trial(AskedTrial),
    /// Nothing to start now: other workers of the shared study run the last trials of its
    /// budget, and a lost one would give its place back.
    Wait,
    /// Start no more trials.
    Stop,
}

/// How long the loop waits before asking again while other workers run the last trials.
const WAIT_FOR_OTHERS: Duration = Duration::from_millis(200);
/// How often the driver of a shared, pruned study syncs it with the other workers while
/// its trials run, so that trials they end reach its pruner before its next ask.
const SYNC_WHILE_RUNNING: Duration = Duration::from_secs(1);

/// A finished evaluation on its way back from a worker.
struct Evaluated {
    trial: AskedTrial,
    outcome: Outcome,
}

/// The loop's state, owned by the thread that asks and tells.
struct Search<'s, 'a> {
    study: &'s mut Study,
    settings: Settings<'a>,
    parallelism: usize,
    /// The best score seen, for counting trials without improvement.
    best_score: Option<f64>,
    since_improvement: usize,
    stop: Option<StopReason>,
    started: Instant,
    progress: ProgressBar,
    /// Whether the driver syncs the study while its trials run: a shared study with a
    /// pruner, whose trials may run long while other workers end theirs. (A trial's
    /// worker otherwise learns of them at its next ask, after the trial.)
    syncs_while_running: bool,
}

impl<'s, 'a> Search<'s, 'a> {
    fn start(
        study: &'s mut Study,
        mut settings: Settings<'a>,
        parallelism: usize,
    ) -> Result<Self, FminError> {
        for (index, point) in std::mem::take(&mut settings.points_to_evaluate)
            .iter()
            .enumerate()
        {
            study.enqueue(point).map_err(|e| match e {
                StudyError::Point { source, .. } => FminError::InvalidPoint { index, source },
                e => FminError::Study(e),
            })?;
        }
        let trials = study.trials();
        let best_score = trials.completed().map(|(_, s)| s).min_by(f64::total_cmp);
        let progress = progress_bar(settings.progress, settings.max_evals, trials.results());
        if let Some(best) = study.best() {
            show_best(&progress, best);
        }
        let syncs_while_running = study.is_shared() && study.pruner() != NoPruning.name();
        Ok(Search {
            study,
            settings,
            parallelism,
            best_score,
            since_improvement: 0,
            stop: None,
            started: Instant::now(),
            progress,
            syncs_while_running,
        })
    }

    fn run(&mut self, objective: &Objective<'_>) -> Result<(), FminError> {
        let info = SearchInfo {
            space: self.study.space(),
            algo: self.study.algo(),
            max_evals: self.settings.max_evals,
            seed: self.study.seed(),
            parallelism: self.parallelism,
            schedule: self.settings.schedule,
            direction: self.study.direction(),
            timeout: self.settings.timeout,
            loss_threshold: self.settings.loss_threshold,
            early_stop_after: self.settings.early_stop_after,
            warm_start_trials: self.study.trials().len(),
            parent_run_id: self.study.parent_run_id(),
        };
        for o in &self.settings.observers {
            o.search_started(&info).map_err(FminError::Observer)?;
        }
        let outcome = if self.parallelism == 1 && !self.syncs_while_running {
            self.run_inline(objective)
        } else {
            self.run_on_pool(objective)
        };
        self.progress.finish_and_clear();
        if let Err(e) = outcome {
            self.study.abort(&e.to_string());
            return Err(e);
        }
        let reason = self.stop.unwrap_or(StopReason::MaxEvals);
        self.study.finish(reason).map_err(FminError::Study)?;
        for o in &self.settings.observers {
            o.search_finished(self.study.trials(), reason)
                .map_err(FminError::Observer)?;
        }
        Ok(())
    }

    /// One worker: every trial is evaluated on the calling thread, which saves two thread
    /// hand-offs per trial. Both schedules reduce to this with a single worker.
    fn run_inline(&mut self, objective: &Objective<'_>) -> Result<(), FminError> {
        loop {
            match self.propose()? {
                Next::Trial(trial) => {
                    let done = evaluate(objective, trial);
                    self.record(done)?;
                }
                Next::Wait => self.wait(),
                Next::Stop => return Ok(()),
            }
        }
    }

    /// Waits a moment for other workers of a shared study, whose running trials may give
    /// their places in the budget back.
    fn wait(&self) {
        std::thread::sleep(WAIT_FOR_OTHERS);
    }

    /// Several workers, on a pool of their own.
    fn run_on_pool(&mut self, objective: &Objective<'_>) -> Result<(), FminError> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(self.parallelism)
            .thread_name(|i| format!("hyperflow-trial-{i}"))
            .build()
            .map_err(|e| FminError::ThreadPool {
                threads: self.parallelism,
                message: e.to_string(),
            })?;
        match self.settings.schedule {
            // With one worker the schedules are the same.
            Schedule::Batch if self.parallelism > 1 => self.run_batches(objective, &pool),
            Schedule::Async | Schedule::Batch => self.run_async(objective, &pool),
        }
    }

    /// The next evaluated trial, syncing a shared, pruned study every
    /// [`SYNC_WHILE_RUNNING`] while waiting for it. A failed sync is left to the next
    /// ask, which syncs again and reports it.
    fn next_evaluated(
        &mut self,
        receiver: &mpsc::Receiver<Evaluated>,
    ) -> Result<Evaluated, mpsc::RecvError> {
        if !self.syncs_while_running {
            return receiver.recv();
        }
        loop {
            match receiver.recv_timeout(SYNC_WHILE_RUNNING) {
                Ok(done) => return Ok(done),
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let _ = self.study.sync();
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => return Err(mpsc::RecvError),
            }
        }
    }

    /// Keeps `parallelism` trials in flight, proposing each new one as soon as a worker
    /// frees up.
    fn run_async(
        &mut self,
        objective: &Objective<'_>,
        pool: &rayon::ThreadPool,
    ) -> Result<(), FminError> {
        let (sender, receiver) = mpsc::channel::<Evaluated>();
        pool.in_place_scope(|scope| {
            let mut in_flight = 0;
            let mut failure = None;
            loop {
                let mut waiting = false;
                while failure.is_none() && in_flight < self.parallelism {
                    match self.propose() {
                        Ok(Next::Trial(trial)) => {
                            let sender = sender.clone();
                            scope.spawn(move |_| {
                                // The receiver outlives the scope, so sending cannot fail.
                                let _ = sender.send(evaluate(objective, trial));
                            });
                            in_flight += 1;
                        }
                        Ok(Next::Wait) => {
                            waiting = true;
                            break;
                        }
                        Ok(Next::Stop) => break,
                        Err(e) => failure = Some(e),
                    }
                }
                if in_flight == 0 {
                    if waiting && failure.is_none() {
                        self.wait();
                        continue;
                    }
                    break;
                }
                let Ok(done) = self.next_evaluated(&receiver) else {
                    break;
                };
                in_flight -= 1;
                if let Err(e) = self.record(done) {
                    failure.get_or_insert(e);
                }
            }
            failure.map_or(Ok(()), Err)
        })
    }

    /// Proposes a batch of `parallelism` points, evaluates it in parallel, records it in
    /// trial order, repeats.
    fn run_batches(
        &mut self,
        objective: &Objective<'_>,
        pool: &rayon::ThreadPool,
    ) -> Result<(), FminError> {
        use rayon::prelude::*;
        loop {
            let mut batch = Vec::with_capacity(self.parallelism);
            let mut waiting = false;
            while batch.len() < self.parallelism {
                match self.propose()? {
                    Next::Trial(trial) => batch.push(trial),
                    Next::Wait => {
                        waiting = true;
                        break;
                    }
                    Next::Stop => break,
                }
            }
            if batch.is_empty() {
                if waiting {
                    self.wait();
                    continue;
                }
                return Ok(());
            }
            let done: Vec<Evaluated> = pool.install(|| {
                batch
                    .into_par_iter()
                    .map(|trial| evaluate(objective, trial))
                    .collect()
            });
            for d in done {
                self.record(d)?;
            }
        }
    }

    /// Asks the study for the next trial, within the budget of trials (which the
    /// workers of a shared study claim from one ledger).
    fn propose(&mut self) -> Result<Next, FminError> {
        self.check_budget();
        if self.stop.is_some() {
            return Ok(Next::Stop);
        }
        let Some(trial) = self
            .study
            .ask_within(self.settings.max_evals)
            .map_err(FminError::Study)?
        else {
            if self.study.others_running() {
                return Ok(Next::Wait);
            }
            self.stop = Some(StopReason::MaxEvals);
            return Ok(Next::Stop);
        };
        let asked = &self.study.trials().all()[trial.number()];
        for o in &self.settings.observers {
            o.trial_started(asked).map_err(FminError::Observer)?;
        }
        Ok(Next::Trial(trial))
    }

    /// Stops proposing when the search was cancelled, its time is spent, or the sampler
    /// has nothing new to propose (the budget of trials is the study's to check).
    fn check_budget(&mut self) {
        if self.stop.is_some() {
            return;
        }
        self.stop = if self.settings.cancel.is_cancelled() {
            Some(StopReason::Cancelled)
        } else if self
            .settings
            .timeout
            .is_some_and(|t| self.started.elapsed() >= t)
        {
            Some(StopReason::Timeout)
        } else if self.study.exhausted() {
            Some(StopReason::Exhausted)
        } else {
            None
        };
    }

    /// Tells the study how a trial ended and decides whether the search should stop.
    fn record(&mut self, done: Evaluated) -> Result<(), FminError> {
        let direction = self.study.direction();
        let before = self.study.best().map(|t| t.number);
        let number = done.trial.number();
        self.study
            .tell(done.trial, done.outcome)
            .map_err(FminError::Study)?;
        let trial = &self.study.trials().all()[number];
        let score = self.study.trials().score(trial);
        match (score, self.best_score) {
            (Some(s), best) if best.is_none_or(|b| s < b) => {
                self.best_score = Some(s);
                self.since_improvement = 0;
            }
            _ if trial.state.is_result() => self.since_improvement += 1,
            _ => {}
        }
        let best = self.study.best();
        for o in &self.settings.observers {
            o.trial_finished(trial, best).map_err(FminError::Observer)?;
        }
        self.progress.inc(u64::from(trial.state.is_result()));
        if let Some(best) = best.filter(|b| Some(b.number) != before) {
            show_best(&self.progress, best);
        }
        if self.stop.is_none() {
            if let (Some(threshold), Some(best)) = (self.settings.loss_threshold, self.best_score)
                && best <= direction.score(threshold)
            {
                self.stop = Some(StopReason::LossThreshold);
            } else if self
                .settings
                .early_stop_after
                .is_some_and(|n| self.since_improvement >= n)
            {
                self.stop = Some(StopReason::NoImprovement);
            } else if self.settings.cancel.is_cancelled() {
                self.stop = Some(StopReason::Cancelled);
            }
        }
        Ok(())
    }
}

/// Runs the objective once, turning a panic into a failed outcome.
fn evaluate(objective: &Objective<'_>, trial: AskedTrial) -> Evaluated {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        objective(trial.point(), trial.context())
    }))
    .unwrap_or_else(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic payload".to_string());
        Outcome::failed(format!("the objective panicked: {message}"))
    });
    Evaluated { trial, outcome }
}

/// Puts the best trial into the progress bar's message; formatting the point costs more
/// than the rest of recording a trial, so it is skipped when nothing is drawn.
fn show_best(progress: &ProgressBar, best: &Trial) {
    if !progress.is_hidden() {
        progress.set_message(format!(
            "best {:.6} {}",
            best.loss.unwrap_or(f64::NAN),
            best.point
        ));
    }
}

fn progress_bar(enabled: bool, total: usize, done: usize) -> ProgressBar {
    let target = if enabled {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(Some(total as u64), target);
    // The template is a constant, so the fallback only guards against indicatif changing it.
    if let Ok(style) =
        ProgressStyle::with_template("{bar:30} {pos}/{len} trials [{elapsed} < {eta}] {wide_msg}")
    {
        bar.set_style(style);
    }
    bar.set_position(done as u64);
    bar
}
