//! Sweeps: tune any program by running a command per trial.
//!
//! A sweep is described by a TOML file ([`SweepConfig`], format in [`config`]): the command
//! to run with `{param}` placeholders ([`CommandTemplate`]), the metric it prints, the
//! search settings and the space. [`run_sweep`] drives [`fmin`](crate::fmin()) with an
//! objective that runs the command in its own process group ([`TrialProcess`]), reads its
//! metrics from stdout ([`parse_metric_line`]) and turns the result into an
//! [`Outcome`]: the objective metric as the loss, or a failure with the reason and the tail
//! of stderr.
//!
//! Every trial process gets, besides `[command].env`:
//!
//! | variable | value |
//! |---|---|
//! | `HYPERFLOW_PARAMS` | the point as a JSON object, `{"lr": 0.001, "model": "rf"}` |
//! | `HYPERFLOW_TRIAL` | the trial's number, from 0 |
//! | `HYPERFLOW_RUN_ID`, `MLFLOW_RUN_ID` | the trial's tracking run, when tracking is on |
//! | `HYPERFLOW_TRACKING_URI`, `MLFLOW_TRACKING_URI` | where runs are stored, when known |
//! | `PYTHONUNBUFFERED` | `1`, so Python prints metrics as they happen |
//!
//! Tracking and resuming plug in from outside: [`SweepOptions::observer`] adds an
//! [`Observer`] (the tracking client, which also hands each trial a run id and takes its
//! step metrics and the `stdout.txt`/`stderr.txt` artifacts), and [`SweepOptions::history`]
//! continues from trials read back from the store.

mod command;
pub mod config;
mod progress;
mod runner;
pub mod tracked;

pub use command::{CommandTemplate, RenderError, TemplateError, display_argv, shell_quote};
pub use config::{
    Algo, CommandConfig, ConfigError, ConfigErrorKind, DurationError, Location, ObjectiveConfig,
    Origin, Overrides, SearchConfig, SweepConfig, format_duration, parse_duration,
};
pub use progress::{ProgressMode, ProgressObserver, render_summary};
pub use runner::{
    Cancellation, Ended, MetricLine, RUN_ID_VAR, STDERR_TAIL_LINES, StepMetric, TrialEnd,
    TrialOutput, TrialProcess, end_leftover_trials, parse_metric_line,
};

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use crate::algo::Sampler;
use crate::fmin::{
    FminError, NoLog, Observer, ObserverError, Outcome, SearchInfo, StopReason, TrialContext,
    TrialLog, fmin_with_context,
};
use crate::rng::TrialRng;
use crate::space::{Dist, Point, PointError, Space, Value};
use crate::trials::{Direction, Trial, TrialState, Trials};

/// Why a sweep could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SweepError {
    /// The config is not valid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The sampler cannot be used (grid search on a space with continuous parameters).
    #[error("search.algo: {0}")]
    Algo(#[from] crate::algo::AlgoError),
    /// The command's program cannot be found or run; nothing was started.
    #[error("{0}")]
    Command(String),
    /// The search itself failed (an observer such as tracking failed, or the thread pool
    /// could not start).
    #[error(transparent)]
    Search(FminError),
    /// A point given on the command line (`-P name=value`) does not fit the space.
    #[error("{message}")]
    InvalidPoint {
        /// What is wrong, and what is accepted.
        message: String,
    },
    /// The Ctrl-C handler could not be installed.
    #[error("cannot handle Ctrl-C: {0}")]
    CtrlC(String),
    /// The tracking store could not be read or written.
    #[error("tracking store: {0}")]
    Tracking(#[from] crate::tracking::StoreError),
    /// A sweep to resume was not found, or its runs do not fit the config.
    #[error("cannot resume: {message}")]
    Resume {
        /// What is wrong.
        message: String,
    },
}

/// The sampler a config's `search.algo` names, built for its space.
pub fn sampler(config: &SweepConfig) -> Result<Box<dyn Sampler>, SweepError> {
    Ok(crate::algo::by_name(
        config.search().algo().as_str(),
        config.space(),
    )?)
}

/// How a sweep ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SweepStop {
    /// It ran to the end, for this reason.
    Finished(StopReason),
    /// It was cancelled (Ctrl-C): running trials were killed, and it can be resumed.
    Interrupted,
}

/// What a sweep did: every trial, the best one, and how it ended.
#[derive(Debug, Clone)]
pub struct SweepSummary {
    experiment: String,
    config_path: std::path::PathBuf,
    metric: String,
    direction: Direction,
    max_evals: usize,
    trials: Vec<Trial>,
    seed: Option<u64>,
    stop: SweepStop,
    elapsed: Duration,
    warnings: Vec<String>,
    resume_from: Option<String>,
}

impl SweepSummary {
    /// The experiment's name.
    pub fn experiment(&self) -> &str {
        &self.experiment
    }

    /// The objective metric's name.
    pub fn metric(&self) -> &str {
        &self.metric
    }

    /// Whether the metric was minimized or maximized.
    pub fn direction(&self) -> Direction {
        self.direction
    }

    /// The trial budget, earlier trials of a resumed sweep included.
    pub fn max_evals(&self) -> usize {
        self.max_evals
    }

    /// Every finished trial (earlier ones of a resumed sweep first), in trial order.
    pub fn trials(&self) -> &[Trial] {
        &self.trials
    }

    /// The best complete trial.
    pub fn best(&self) -> Option<&Trial> {
        self.ranked().into_iter().next()
    }

    /// The complete trials, best first.
    pub fn ranked(&self) -> Vec<&Trial> {
        let mut complete: Vec<(&Trial, f64)> = self
            .trials
            .iter()
            .filter(|t| t.state == TrialState::Complete)
            .filter_map(|t| t.loss.map(|l| (t, self.direction.score(l))))
            .collect();
        complete.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.number.cmp(&b.0.number)));
        complete.into_iter().map(|(t, _)| t).collect()
    }

    /// The trials that failed (killed ones included).
    pub fn failed(&self) -> impl Iterator<Item = &Trial> {
        self.trials.iter().filter(|t| t.state == TrialState::Failed)
    }

    /// The search's seed, when known (it is drawn from the clock when none is given).
    pub fn seed(&self) -> Option<u64> {
        self.seed
    }

    /// How the sweep ended.
    pub fn stop(&self) -> SweepStop {
        self.stop
    }

    /// Whether it was interrupted.
    pub fn is_interrupted(&self) -> bool {
        self.stop == SweepStop::Interrupted
    }

    /// Wall time of this run of the sweep.
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// Problems that did not stop the sweep (an artifact that could not be saved, ...).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// How to continue an interrupted sweep, for people.
    pub fn resume_hint(&self) -> Option<String> {
        self.is_interrupted().then(|| {
            format!(
                "interrupted after {} of {} trials; continue with `hyperflow sweep {} --resume{}`",
                self.trials.len(),
                self.max_evals,
                shell_quote(&self.config_path.display().to_string()),
                self.resume_from
                    .as_deref()
                    .map_or_else(String::new, |id| format!(" {id}"))
            )
        })
    }
}

/// The settings of one run of a sweep that do not come from its config: observers
/// (tracking), earlier trials (resume), cancellation, progress display.
pub struct SweepOptions<'a> {
    observers: Vec<Arc<dyn Observer + 'a>>,
    history: Option<Trials>,
    cancel: Cancellation,
    progress: ProgressMode,
    tracking_uri: Option<String>,
    points: Vec<Point>,
    /// Replaces the config's `max_evals` (resume adds the killed trials; `run -P` is 1).
    max_evals: Option<usize>,
    /// Replaces the config's `parallel`.
    parallel: Option<usize>,
}

impl Default for SweepOptions<'_> {
    fn default() -> Self {
        SweepOptions {
            max_evals: None,
            parallel: None,
            observers: Vec::new(),
            points: Vec::new(),
            history: None,
            cancel: Cancellation::new(),
            progress: ProgressMode::Auto,
            tracking_uri: None,
        }
    }
}

impl<'a> SweepOptions<'a> {
    /// Defaults: no observer, no history, automatic progress display.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an observer (tracking): told of the search and every trial; the
    /// [`TrialLog`] it hands out per trial gives the trial its run id and receives its
    /// step metrics and its `stdout.txt`/`stderr.txt` artifacts.
    pub fn observer(mut self, observer: Arc<dyn Observer + 'a>) -> Self {
        self.observers.push(observer);
        self
    }

    /// Continues from these trials (read back from the store): they count towards
    /// `max_evals` and samplers learn from them.
    pub fn history(mut self, trials: Trials) -> Self {
        self.history = Some(trials);
        self
    }

    /// The switch that stops the sweep (see [`cancel_on_ctrl_c`]).
    pub fn cancellation(mut self, cancel: Cancellation) -> Self {
        self.cancel = cancel;
        self
    }

    /// How progress is shown (default [`ProgressMode::Auto`]).
    pub fn progress(mut self, mode: ProgressMode) -> Self {
        self.progress = mode;
        self
    }

    /// Runs these points first, before the sampler proposes any (`hyperflow run -P ...`
    /// is a sweep of one given point; see [`point_from_assignments`]).
    pub fn points_to_evaluate(mut self, points: impl IntoIterator<Item = Point>) -> Self {
        self.points.extend(points);
        self
    }

    /// The tracking URI handed to trials as `HYPERFLOW_TRACKING_URI` and
    /// `MLFLOW_TRACKING_URI`.
    pub fn tracking_uri(mut self, uri: impl Into<String>) -> Self {
        self.tracking_uri = Some(uri.into());
        self
    }
}

/// Makes Ctrl-C stop sweeps cleanly: the first press sets `cancel` (no new trials,
/// running ones are stopped and recorded as failed, [`run_sweep`] returns an interrupted
/// summary); the second kills every running trial's process group and exits with status
/// 130. Installs a process-wide handler, so call it once, from the binary.
pub fn cancel_on_ctrl_c(cancel: &Cancellation) -> Result<(), SweepError> {
    let cancel = cancel.clone();
    ctrlc::set_handler(move || {
        if cancel.is_cancelled() {
            cancel.kill_all();
            std::process::exit(130);
        }
        cancel.cancel();
        eprintln!(
            "\ninterrupted: stopping running trials (press Ctrl-C again to kill them and exit now)"
        );
    })
    .map_err(|e| SweepError::CtrlC(e.to_string()))
}

/// One trial of a dry run: the point and the command it would run.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedTrial {
    /// Its number.
    pub number: usize,
    /// Its point.
    pub point: Point,
    /// The argv it would run.
    pub argv: Vec<String>,
}

/// The first trials a sweep would run (see [`plan`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The seed used (the config's, or one drawn from the clock).
    pub seed: u64,
    /// The trials, in order.
    pub trials: Vec<PlannedTrial>,
}

/// Samples the first `n` points of a sweep and renders their commands, running nothing
/// (`--dry-run`).
///
/// Each proposal sees the earlier ones as pending, as the first batch of a real sweep
/// does; a grid stops early when it has proposed every combination. With random search and a seed, these are exactly the points the sweep runs;
/// model-based samplers adapt to results, so their later points will differ.
pub fn plan(config: &SweepConfig, n: usize) -> Result<Plan, SweepError> {
    let sampler = sampler(config)?;
    let seed = config.search().seed().unwrap_or_else(clock_seed);
    let space = config.space();
    let mut history = Trials::new(config.objective().direction());
    let mut trials = Vec::with_capacity(n);
    for number in 0..n {
        if sampler.exhausted(space, &history) {
            break;
        }
        let mut rng = TrialRng::for_trial(seed, number as u64);
        let x = sampler.suggest(space, &history, &mut rng);
        let point = space.decode(&x);
        let argv = config
            .command()
            .template()
            .render(&point)
            .map_err(|e| SweepError::Command(e.to_string()))?;
        history.push(Trial::running(number, x, point.clone()));
        trials.push(PlannedTrial {
            number,
            point,
            argv,
        });
    }
    Ok(Plan { seed, trials })
}

/// Reads `name=value` assignments (`hyperflow run sweep.toml -P lr=0.01 -P model=rf`)
/// into a point of `space`: each value is read as its parameter's kind needs (a choice
/// option as written, an integer for `randint`, a number otherwise), constants are filled
/// in, and the point must then fit the space (every active parameter given, values in
/// range).
///
/// ```
/// use hyperflow::Space;
/// use hyperflow::sweep::point_from_assignments;
///
/// let space = Space::builder()
///     .loguniform("lr", 1e-5, 1e-1)
///     .randint("depth", 2, 17)
///     .choice("model", ["rf", "gbt"])
///     .build()?;
/// let point = point_from_assignments(&space, &["lr=0.01", "depth=6", "model=gbt"])?;
/// assert_eq!(point.to_string(), r#"{lr: 0.01, depth: 6, model: "gbt"}"#);
/// let err = point_from_assignments(&space, &["lr=0.01", "depth=6", "modle=gbt"]).unwrap_err();
/// assert!(err.to_string().contains("did you mean `model`?"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn point_from_assignments<S: AsRef<str>>(
    space: &Space,
    assignments: &[S],
) -> Result<Point, SweepError> {
    let invalid = |message: String| SweepError::InvalidPoint { message };
    let mut point = Point::default();
    for assignment in assignments {
        let assignment = assignment.as_ref();
        let Some((name, text)) = assignment.split_once('=') else {
            return Err(invalid(format!(
                "`{assignment}`: expected `name=value`, as in `lr=0.01`"
            )));
        };
        let (name, text) = (name.trim(), text.trim());
        let Some(index) = space.index_of(name) else {
            let names = space.params().iter().map(|p| p.name.as_str());
            let hint = crate::suggest::did_you_mean(name, names)
                .map_or_else(String::new, |s| format!("; did you mean `{s}`?"));
            return Err(invalid(format!(
                "`{assignment}`: the space has no parameter `{name}`{hint}"
            )));
        };
        let param = &space.params()[index];
        let value = match &param.dist {
            Dist::Choice { options } => options.iter().find(|o| o.to_string() == text).cloned(),
            Dist::Const(v) => (v.to_string() == text).then(|| v.clone()),
            Dist::RandInt { .. } => text.parse::<i64>().ok().map(Value::Int),
            _ => text.parse::<f64>().ok().map(Value::Float),
        };
        let Some(value) = value else {
            return Err(invalid(format!(
                "`{assignment}`: expected {}",
                crate::space::describe_support(&param.dist)
            )));
        };
        point.insert(name, value);
    }
    for param in space.params() {
        if let (Dist::Const(v), None) = (&param.dist, param.parent) {
            if point.value(&param.name).is_none() {
                point.insert(param.name.clone(), v.clone());
            }
        }
    }
    let x = space.encode(&point).map_err(|e| match e {
        PointError::Missing { name } => invalid(format!(
            "no value for parameter `{name}`; add `-P {name}=...`"
        )),
        e => invalid(e.to_string()),
    })?;
    // Decoding drops values of parameters that are inactive under the point's choices.
    Ok(space.decode(&x))
}

fn clock_seed() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// Checks that the command's program exists before anything starts, so a typo is one
/// clear error instead of a sweep of failed trials.
fn check_program(config: &SweepConfig) -> Result<(), SweepError> {
    let Some(program) = config.command().template().program() else {
        return Ok(());
    };
    let workdir = config.command().workdir();
    let found = if program.contains('/') {
        workdir.join(&program).is_file()
    } else {
        let path = config
            .command()
            .env()
            .iter()
            .rev()
            .find(|(k, _)| k == "PATH")
            .map(|(_, v)| v.clone().into())
            .or_else(|| std::env::var_os("PATH"))
            .unwrap_or_default();
        std::env::split_paths(&path).any(|dir| is_executable(&workdir.join(dir).join(&program)))
    };
    if found {
        Ok(())
    } else {
        let e = std::io::Error::from(std::io::ErrorKind::NotFound);
        Err(SweepError::Command(format!(
            "{} (the command of {})",
            runner::spawn_error(&program, workdir, &e),
            config.path().display()
        )))
    }
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The error the sweep's own observer raises to stop proposing trials once cancelled.
#[derive(Debug)]
struct Interrupted;

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the sweep was interrupted")
    }
}

impl std::error::Error for Interrupted {}

/// The sweep's own observer, first in line: stops new trials once cancelled, and keeps
/// what an interrupted search would otherwise not return (finished trials, the seed).
struct Control {
    cancel: Cancellation,
    seed: Mutex<Option<u64>>,
    finished: Mutex<Vec<Trial>>,
    reason: Mutex<Option<StopReason>>,
}

impl Observer for Control {
    fn search_started(&self, search: &SearchInfo<'_>) -> Result<(), ObserverError> {
        *runner_lock(&self.seed) = Some(search.seed);
        Ok(())
    }

    fn trial_started(&self, _trial: &Trial) -> Result<Box<dyn TrialLog>, ObserverError> {
        if self.cancel.is_cancelled() {
            return Err(Box::new(Interrupted));
        }
        Ok(Box::new(NoLog))
    }

    fn trial_finished(&self, trial: &Trial, _best: Option<&Trial>) -> Result<(), ObserverError> {
        runner_lock(&self.finished).push(trial.clone());
        Ok(())
    }

    fn search_finished(&self, _trials: &Trials, reason: StopReason) -> Result<(), ObserverError> {
        *runner_lock(&self.reason) = Some(reason);
        Ok(())
    }
}

fn runner_lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs a sweep: samples points, runs the command for each (in parallel, up to
/// `[search].parallel`), reads the objective metric back, and returns every trial and the
/// best. Failed trials (non-zero exit, timeout, missing metric) are recorded and the sweep
/// goes on; a cancelled sweep returns an [interrupted](SweepSummary::is_interrupted)
/// summary.
///
/// ```no_run
/// use hyperflow::sweep::{Overrides, ProgressMode, SweepConfig, SweepOptions, run_sweep};
///
/// let config = SweepConfig::load_with(
///     "examples/sweeps/python/sweep.toml",
///     &Overrides::default().max_evals(10),
/// )?;
/// let summary = run_sweep(&config, SweepOptions::new().progress(ProgressMode::Lines))?;
/// if let Some(best) = summary.best() {
///     println!("best {} = {:?} at {}", summary.metric(), best.loss, best.point);
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn run_sweep(
    config: &SweepConfig,
    options: SweepOptions<'_>,
) -> Result<SweepSummary, SweepError> {
    let started = Instant::now();
    let sampler = sampler(config)?;
    check_program(config)?;
    let direction = config.objective().direction();
    let metric = config.objective().metric();
    let cancel = options.cancel.clone();
    let warnings: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let history_len = options.history.as_ref().map_or(0, Trials::len);
    let history = options.history.clone();

    let objective = |point: &Point, ctx: &TrialContext<'_>| -> Outcome {
        let argv = match config.command().template().render(point) {
            Ok(argv) => argv,
            Err(e) => return Outcome::failed(e.to_string()),
        };
        let process = TrialProcess {
            argv,
            workdir: config.command().workdir().to_path_buf(),
            env: trial_env(config, point, ctx, options.tracking_uri.as_deref()),
            timeout: config.command().timeout(),
            kill_grace: config.command().kill_grace(),
        };
        let mut log_failures = 0_usize;
        let output = process.run(&cancel, &mut |m: &StepMetric| {
            if ctx.log_metric(&m.key, m.value, m.step).is_err() {
                log_failures += 1;
            }
        });
        let mut problems = Vec::new();
        if log_failures > 0 {
            problems.push(format!(
                "trial {}: {log_failures} step metrics could not be logged",
                ctx.number()
            ));
        }
        for (name, bytes) in [
            ("stdout.txt", &output.stdout),
            ("stderr.txt", &output.stderr),
        ] {
            if let Err(e) = ctx.log_artifact(name, bytes) {
                problems.push(format!(
                    "trial {}: could not save {name}: {e}",
                    ctx.number()
                ));
            }
        }
        if !problems.is_empty() {
            runner_lock(&warnings).extend(problems);
        }
        output.outcome(metric)
    };

    let control = Arc::new(Control {
        cancel: cancel.clone(),
        seed: Mutex::new(None),
        finished: Mutex::new(Vec::new()),
        reason: Mutex::new(None),
    });
    let progress = Arc::new(ProgressObserver::new(options.progress, metric, direction));
    let mut search = fmin_with_context(objective, config.space())
        .boxed_algo(sampler)
        .max_evals(options.max_evals.unwrap_or(config.search().max_evals()))
        .parallelism(options.parallel.unwrap_or(config.search().parallel()))
        .schedule(config.search().schedule())
        .progress(false)
        .observer(control.clone());
    search = match direction {
        Direction::Minimize => search.minimize(),
        Direction::Maximize => search.maximize(),
    };
    if let Some(seed) = config.search().seed() {
        search = search.seed(seed);
    }
    if let Some(n) = config.search().early_stop_after() {
        search = search.early_stop_after(n);
    }
    if let Some(t) = config.search().timeout() {
        search = search.timeout(t);
    }
    if let Some(t) = config.search().loss_threshold() {
        search = search.loss_threshold(t);
    }
    if let Some(h) = options.history {
        search = search.history(h);
    }
    if !options.points.is_empty() {
        search = search.points_to_evaluate(options.points);
    }
    for o in options.observers {
        search = search.observer(o);
    }
    search = search.observer(progress.clone());
    let result = search.run();

    let seed = *runner_lock(&control.seed);
    let (trials, stop) = match result {
        Ok(r) => (r.trials().to_vec(), SweepStop::Finished(r.stop_reason())),
        Err(FminError::NoSuccessfulTrial { trials }) => {
            let reason = runner_lock(&control.reason).unwrap_or(StopReason::MaxEvals);
            let stop = if cancel.is_cancelled() {
                SweepStop::Interrupted
            } else {
                SweepStop::Finished(reason)
            };
            (trials, stop)
        }
        Err(FminError::Observer(e)) if e.downcast_ref::<Interrupted>().is_some() => {
            let mut trials: Vec<Trial> = history.map(|h| h.all().to_vec()).unwrap_or_default();
            trials.truncate(history_len);
            let mut finished = std::mem::take(&mut *runner_lock(&control.finished));
            finished.sort_by_key(|t| t.number);
            trials.extend(finished);
            progress.finish();
            (trials, SweepStop::Interrupted)
        }
        Err(e) => {
            progress.finish();
            return Err(SweepError::Search(e));
        }
    };
    // Trials proposed but never evaluated (cancelled between proposal and start) are
    // not results.
    let trials = trials
        .into_iter()
        .filter(|t| t.state != TrialState::Running)
        .collect();
    let stop = if cancel.is_cancelled() {
        SweepStop::Interrupted
    } else {
        stop
    };
    Ok(SweepSummary {
        experiment: config.experiment().to_string(),
        config_path: config.path().to_path_buf(),
        metric: metric.to_string(),
        direction,
        max_evals: config.search().max_evals(),
        trials,
        seed,
        stop,
        elapsed: started.elapsed(),
        warnings: warnings.into_inner().unwrap_or_else(|e| e.into_inner()),
        resume_from: None,
    })
}

/// The environment of one trial: hyperflow's variables, then `[command].env` (which
/// wins, so a config can pin e.g. `MLFLOW_TRACKING_URI` itself).
fn trial_env(
    config: &SweepConfig,
    point: &Point,
    ctx: &TrialContext<'_>,
    tracking_uri: Option<&str>,
) -> Vec<(String, String)> {
    let mut env = vec![
        ("HYPERFLOW_PARAMS".to_string(), point.to_json().to_string()),
        ("HYPERFLOW_TRIAL".to_string(), ctx.number().to_string()),
    ];
    if let Some(run_id) = ctx.run_id() {
        env.push((RUN_ID_VAR.to_string(), run_id.to_string()));
        env.push(("MLFLOW_RUN_ID".to_string(), run_id.to_string()));
    }
    if let Some(uri) = tracking_uri {
        env.push(("HYPERFLOW_TRACKING_URI".to_string(), uri.to_string()));
        env.push(("MLFLOW_TRACKING_URI".to_string(), uri.to_string()));
    }
    env.extend(config.command().env().iter().cloned());
    env
}
