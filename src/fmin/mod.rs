//! `fmin`: the search loop.
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
//! assert!(result.best_loss() < 1.0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
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

pub use observer::{NoLog, Observer, ObserverError, SearchInfo, StopReason, TrialLog};
pub use outcome::{IntoOutcome, Outcome, Status};

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant, SystemTime};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::algo::{Sampler, Tpe};
use crate::rng::TrialRng;
use crate::space::{Point, PointError, Space};
use crate::trials::{Direction, Trial, TrialState, Trials};

/// How trials are scheduled on the workers; see the [module docs](self#scheduling).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Schedule {
    /// Keep every worker busy; propose each point as a worker frees up.
    #[default]
    Async,
    /// Propose `parallelism` points, evaluate them, wait for all, repeat: reproducible.
    Batch,
}

/// What a running objective can do besides returning its loss: know its trial, and log
/// metrics by step and files into the trial's tracking run.
pub struct TrialContext<'a> {
    number: usize,
    logs: &'a [Box<dyn TrialLog>],
}

impl TrialContext<'_> {
    /// The trial's number in the search, from 0.
    pub fn number(&self) -> usize {
        self.number
    }

    /// The id of the tracking run that holds this trial, when tracking is on.
    pub fn run_id(&self) -> Option<&str> {
        self.logs.iter().find_map(|l| l.run_id())
    }

    /// Logs a metric value at a step (e.g. validation loss per epoch).
    pub fn log_metric(&self, key: &str, value: f64, step: i64) -> Result<(), ObserverError> {
        self.logs
            .iter()
            .try_for_each(|l| l.log_metric(key, value, step))
    }

    /// Stores a file under a path relative to the trial run's artifact directory.
    pub fn log_artifact(&self, path: &str, contents: &[u8]) -> Result<(), ObserverError> {
        self.logs
            .iter()
            .try_for_each(|l| l.log_artifact(path, contents))
    }
}

type Objective<'a> = dyn Fn(&Point, &TrialContext<'_>) -> Outcome + Sync + 'a;

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
        Box::new(move |p: &Point, _: &TrialContext<'_>| objective(p).into_outcome()),
        space,
    )
}

/// Like [`fmin`], for objectives that also take a [`TrialContext`] to log into their trial.
pub fn fmin_with_context<'a, F, R>(objective: F, space: &'a Space) -> Fmin<'a>
where
    F: Fn(&Point, &TrialContext<'_>) -> R + Sync + 'a,
    R: IntoOutcome,
{
    Fmin::new(
        Box::new(move |p: &Point, ctx: &TrialContext<'_>| objective(p, ctx).into_outcome()),
        space,
    )
}

/// A configured search; built by [`fmin`], started by [`Fmin::run`].
pub struct Fmin<'a> {
    objective: Box<Objective<'a>>,
    settings: Settings<'a>,
}

/// Everything about a search but its objective.
struct Settings<'a> {
    space: &'a Space,
    sampler: Box<dyn Sampler + 'a>,
    max_evals: usize,
    seed: Option<u64>,
    parallelism: Option<usize>,
    schedule: Schedule,
    direction: Direction,
    timeout: Option<Duration>,
    loss_threshold: Option<f64>,
    early_stop_after: Option<usize>,
    points_to_evaluate: Vec<Point>,
    history: Trials,
    progress: bool,
    observers: Vec<Arc<dyn Observer + 'a>>,
}

impl<'a> Fmin<'a> {
    fn new(objective: Box<Objective<'a>>, space: &'a Space) -> Self {
        let settings = Settings {
            space,
            sampler: Box::new(Tpe::default()),
            max_evals: 100,
            seed: None,
            parallelism: None,
            schedule: Schedule::Async,
            direction: Direction::Minimize,
            timeout: None,
            loss_threshold: None,
            early_stop_after: None,
            points_to_evaluate: Vec::new(),
            history: Trials::new(Direction::Minimize),
            progress: true,
            observers: Vec::new(),
        };
        Fmin {
            objective,
            settings,
        }
    }

    /// The total number of trials, trials from [`history`](Fmin::history) included
    /// (default 100).
    pub fn max_evals(mut self, n: usize) -> Self {
        self.settings.max_evals = n;
        self
    }

    /// The sampler that proposes points (default [`Tpe::default()`]).
    pub fn algo(mut self, sampler: impl Sampler + 'a) -> Self {
        self.settings.sampler = Box::new(sampler);
        self
    }

    /// The sampler that proposes points, already boxed (e.g. from
    /// [`algo::by_name`](crate::algo)).
    pub fn boxed_algo(mut self, sampler: Box<dyn Sampler + 'a>) -> Self {
        self.settings.sampler = sampler;
        self
    }

    /// The seed that makes the search reproducible (default: drawn from the clock and
    /// reported in [`FminResult::seed`]).
    pub fn seed(mut self, seed: u64) -> Self {
        self.settings.seed = Some(seed);
        self
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

    /// Minimize the objective (the default).
    pub fn minimize(mut self) -> Self {
        self.settings.direction = Direction::Minimize;
        self
    }

    /// Maximize the objective.
    pub fn maximize(mut self) -> Self {
        self.settings.direction = Direction::Maximize;
        self
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

    /// Continue from earlier trials: they count towards `max_evals`, and samplers learn from
    /// them. New trials are numbered after them.
    pub fn history(mut self, trials: Trials) -> Self {
        self.settings.history = trials;
        self
    }

    /// Show a progress bar on standard error (default on; it is hidden anyway when standard
    /// error is not a terminal).
    pub fn progress(mut self, show: bool) -> Self {
        self.settings.progress = show;
        self
    }

    /// Adds an observer (e.g. tracking) that follows the search.
    pub fn observer(mut self, observer: Arc<dyn Observer + 'a>) -> Self {
        self.settings.observers.push(observer);
        self
    }

    /// Runs the search.
    pub fn run(self) -> Result<FminResult, FminError> {
        Search::start(self.settings)?.run(&*self.objective)
    }
}

/// Why a search could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FminError {
    /// A setting is out of range.
    #[error("{setting} = {value} is not valid: {expected}")]
    InvalidSetting {
        setting: &'static str,
        value: String,
        expected: &'static str,
    },
    /// A starting point does not fit the space.
    #[error("points_to_evaluate[{index}]: {source}")]
    InvalidPoint { index: usize, source: PointError },
    /// An observer (e.g. tracking) failed; trials finished before the failure were reported
    /// to it.
    #[error("observer failed: {0}")]
    Observer(ObserverError),
    /// No trial produced a valid loss.
    #[error("no trial succeeded ({} run){}", trials.len(), first_failure(trials))]
    NoSuccessfulTrial { trials: Vec<Trial> },
    /// The worker threads could not be started.
    #[error("could not start {threads} worker threads: {message}")]
    ThreadPool { threads: usize, message: String },
}

fn first_failure(trials: &[Trial]) -> String {
    trials
        .iter()
        .find_map(|t| t.error.as_ref())
        .map_or_else(String::new, |e| format!("; first failure: {e}"))
}

/// The outcome of a search: the best trial and every trial.
#[derive(Debug, Clone)]
pub struct FminResult {
    trials: Trials,
    best: usize,
    stop_reason: StopReason,
    seed: u64,
    elapsed: Duration,
}

impl FminResult {
    /// The best trial's point.
    pub fn best_point(&self) -> &Point {
        &self.best_trial().point
    }

    /// The best trial's loss, as the objective returned it.
    pub fn best_loss(&self) -> f64 {
        self.best_trial().loss.unwrap_or(f64::NAN)
    }

    /// The best trial.
    pub fn best_trial(&self) -> &Trial {
        &self.trials.all()[self.best]
    }

    /// Every trial, in the order proposed (earlier trials from `history` first).
    pub fn trials(&self) -> &[Trial] {
        self.trials.all()
    }

    /// The history, e.g. to continue the search with [`Fmin::history`].
    pub fn history(&self) -> &Trials {
        &self.trials
    }

    /// The trials that failed, each with its reason in [`Trial::error`].
    pub fn failures(&self) -> impl Iterator<Item = &Trial> {
        self.trials
            .all()
            .iter()
            .filter(|t| t.state == TrialState::Failed)
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
}

/// A proposed trial on its way to a worker: its number, its point, and where it logs.
type Job = (usize, Point, Vec<Box<dyn TrialLog>>);

/// A finished evaluation on its way back from a worker.
struct Evaluated {
    number: usize,
    outcome: Outcome,
    duration: Duration,
}

/// The state of a running search, owned by the thread that proposes points.
struct Search<'a> {
    config: Settings<'a>,
    seed: u64,
    parallelism: usize,
    starting_points: std::vec::IntoIter<Vec<f64>>,
    trials: Trials,
    /// `(score, number)` of the best complete trial as [`Trials::best`] picks it (lowest
    /// score, earliest on ties), kept up to date so recording a trial does not rescan the
    /// history.
    best: Option<(f64, usize)>,
    best_score: Option<f64>,
    since_improvement: usize,
    stop: Option<StopReason>,
    started: Instant,
    progress: ProgressBar,
}

impl<'a> Search<'a> {
    fn start(mut config: Settings<'a>) -> Result<Self, FminError> {
        let parallelism = config
            .parallelism
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        if config.max_evals == 0 {
            return Err(FminError::InvalidSetting {
                setting: "max_evals",
                value: "0".into(),
                expected: "at least 1 trial",
            });
        }
        if parallelism == 0 {
            return Err(FminError::InvalidSetting {
                setting: "parallelism",
                value: "0".into(),
                expected: "at least 1 worker",
            });
        }
        if let Some(t) = config.loss_threshold.filter(|t| t.is_nan()) {
            return Err(FminError::InvalidSetting {
                setting: "loss_threshold",
                value: t.to_string(),
                expected: "a number",
            });
        }
        if config.early_stop_after == Some(0) {
            return Err(FminError::InvalidSetting {
                setting: "early_stop_after",
                value: "0".into(),
                expected: "at least 1 trial",
            });
        }
        let starting_points = std::mem::take(&mut config.points_to_evaluate)
            .iter()
            .enumerate()
            .map(|(index, p)| {
                config
                    .space
                    .encode(p)
                    .map_err(|source| FminError::InvalidPoint { index, source })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut trials = std::mem::replace(&mut config.history, Trials::new(config.direction));
        if trials.is_empty() {
            trials = Trials::new(config.direction);
        }
        let seed = config.seed.unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64)
        });
        let best_score = trials.completed().map(|(_, s)| s).min_by(f64::total_cmp);
        let best = trials
            .best()
            .and_then(|t| Some((trials.score(t)?, t.number)));
        let progress = progress_bar(config.progress, config.max_evals, trials.len());
        if let Some((_, number)) = best {
            show_best(&progress, &trials.all()[number]);
        }
        Ok(Search {
            config,
            seed,
            parallelism,
            starting_points: starting_points.into_iter(),
            trials,
            best,
            best_score,
            since_improvement: 0,
            stop: None,
            started: Instant::now(),
            progress,
        })
    }

    fn run(mut self, objective: &Objective<'_>) -> Result<FminResult, FminError> {
        let info = SearchInfo {
            space: self.config.space,
            algo: self.config.sampler.name(),
            max_evals: self.config.max_evals,
            seed: self.seed,
            parallelism: self.parallelism,
            schedule: self.config.schedule,
            direction: self.config.direction,
            timeout: self.config.timeout,
            loss_threshold: self.config.loss_threshold,
            early_stop_after: self.config.early_stop_after,
            warm_start_trials: self.trials.len(),
        };
        for o in &self.config.observers {
            o.search_started(&info).map_err(FminError::Observer)?;
        }
        self.check_budget();
        let outcome = if self.parallelism == 1 {
            self.run_inline(objective)
        } else {
            self.run_on_pool(objective)
        };
        self.progress.finish_and_clear();
        outcome?;
        let reason = self.stop.unwrap_or(StopReason::MaxEvals);
        for o in &self.config.observers {
            o.search_finished(&self.trials, reason)
                .map_err(FminError::Observer)?;
        }
        match self.best.map(|(_, number)| number) {
            Some(best) => Ok(FminResult {
                trials: self.trials,
                best,
                stop_reason: reason,
                seed: self.seed,
                elapsed: self.started.elapsed(),
            }),
            None => Err(FminError::NoSuccessfulTrial {
                trials: self.trials.all().to_vec(),
            }),
        }
    }

    /// One worker: every trial is evaluated on the calling thread, which saves two thread
    /// hand-offs per trial. Both schedules reduce to this with a single worker.
    fn run_inline(&mut self, objective: &Objective<'_>) -> Result<(), FminError> {
        while let Some((number, point, logs)) = self.propose()? {
            self.record(evaluate(objective, number, &point, &logs))?;
        }
        Ok(())
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
        match self.config.schedule {
            Schedule::Async => self.run_async(objective, &pool),
            Schedule::Batch => self.run_batches(objective, &pool),
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
                while failure.is_none() && self.stop.is_none() && in_flight < self.parallelism {
                    match self.propose() {
                        Ok(Some((number, point, logs))) => {
                            let sender = sender.clone();
                            scope.spawn(move |_| {
                                // The receiver outlives the scope, so sending cannot fail.
                                let _ = sender.send(evaluate(objective, number, &point, &logs));
                            });
                            in_flight += 1;
                        }
                        Ok(None) => break,
                        Err(e) => failure = Some(e),
                    }
                }
                if in_flight == 0 {
                    break;
                }
                let Ok(done) = receiver.recv() else { break };
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
        while self.stop.is_none() {
            let mut batch = Vec::with_capacity(self.parallelism);
            while batch.len() < self.parallelism {
                match self.propose()? {
                    Some(job) => batch.push(job),
                    None => break,
                }
            }
            if batch.is_empty() {
                break;
            }
            let done: Vec<Evaluated> = pool.install(|| {
                batch
                    .par_iter()
                    .map(|(number, point, logs)| evaluate(objective, *number, point, logs))
                    .collect()
            });
            for d in done {
                self.record(d)?;
            }
        }
        Ok(())
    }

    /// Proposes the next trial and registers it as running; `None` when no more trials
    /// should start.
    fn propose(&mut self) -> Result<Option<Job>, FminError> {
        self.check_budget();
        if self.stop.is_some() {
            return Ok(None);
        }
        let number = self.trials.len();
        let x = match self.starting_points.next() {
            Some(x) => x,
            None => {
                let mut rng = TrialRng::for_trial(self.seed, number as u64);
                self.config
                    .sampler
                    .suggest(self.config.space, &self.trials, &mut rng)
            }
        };
        let point = self.config.space.decode(&x);
        self.trials.push(Trial::running(number, x, point.clone()));
        let trial = &self.trials.all()[number];
        let logs = self
            .config
            .observers
            .iter()
            .map(|o| o.trial_started(trial))
            .collect::<Result<Vec<_>, _>>()
            .map_err(FminError::Observer)?;
        Ok(Some((number, point, logs)))
    }

    /// Stops proposing when the budget of trials or time is spent, or the sampler has
    /// nothing new to propose.
    fn check_budget(&mut self) {
        if self.stop.is_some() {
            return;
        }
        if self.trials.len() >= self.config.max_evals {
            self.stop = Some(StopReason::MaxEvals);
        } else if self
            .config
            .timeout
            .is_some_and(|t| self.started.elapsed() >= t)
        {
            self.stop = Some(StopReason::Timeout);
        } else if self.starting_points.len() == 0
            && self
                .config
                .sampler
                .exhausted(self.config.space, &self.trials)
        {
            self.stop = Some(StopReason::Exhausted);
        }
    }

    /// Records a finished evaluation and decides whether the search should stop.
    fn record(&mut self, done: Evaluated) -> Result<(), FminError> {
        let direction = self.config.direction;
        let Some(trial) = self.trials.get_mut(done.number) else {
            return Ok(());
        };
        let outcome = done.outcome.checked();
        trial.duration = Some(done.duration);
        trial.loss = outcome.loss;
        trial.metrics = outcome.metrics;
        (trial.state, trial.error) = match outcome.status {
            Status::Ok => (TrialState::Complete, None),
            Status::Failed(reason) => (TrialState::Failed, Some(reason)),
            Status::Pruned(reason) => (TrialState::Pruned, Some(reason)),
        };
        let score = self.trials.score(&self.trials.all()[done.number]);
        match (score, self.best_score) {
            (Some(s), best) if best.is_none_or(|b| s < b) => {
                self.best_score = Some(s);
                self.since_improvement = 0;
            }
            _ => self.since_improvement += 1,
        }
        let new_best = score.filter(|&s| {
            self.best
                .is_none_or(|(b, number)| s.total_cmp(&b).then(done.number.cmp(&number)).is_lt())
        });
        if let Some(s) = new_best {
            self.best = Some((s, done.number));
        }
        let trial = &self.trials.all()[done.number];
        let best = self.best.map(|(_, number)| &self.trials.all()[number]);
        for o in &self.config.observers {
            o.trial_finished(trial, best).map_err(FminError::Observer)?;
        }
        self.progress.inc(1);
        if let (Some(_), Some(best)) = (new_best, best) {
            show_best(&self.progress, best);
        }
        if self.stop.is_none() {
            if let (Some(threshold), Some(best)) = (self.config.loss_threshold, self.best_score)
                && best <= direction.score(threshold)
            {
                self.stop = Some(StopReason::LossThreshold);
            } else if self
                .config
                .early_stop_after
                .is_some_and(|n| self.since_improvement >= n)
            {
                self.stop = Some(StopReason::NoImprovement);
            }
        }
        Ok(())
    }
}

/// Runs the objective once, turning a panic into a failed outcome.
fn evaluate(
    objective: &Objective<'_>,
    number: usize,
    point: &Point,
    logs: &[Box<dyn TrialLog>],
) -> Evaluated {
    let ctx = TrialContext { number, logs };
    let started = Instant::now();
    let outcome =
        catch_unwind(AssertUnwindSafe(|| objective(point, &ctx))).unwrap_or_else(|payload| {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic payload".to_string());
            Outcome::failed(format!("the objective panicked: {message}"))
        });
    Evaluated {
        number,
        outcome,
        duration: started.elapsed(),
    }
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
