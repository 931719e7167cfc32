//! Sweeps: tune any program by running a command per trial.
//!
//! A sweep is described by a TOML file ([`SweepConfig`], format in [`config`]): the command
//! to run with `{param}` placeholders ([`CommandTemplate`]), the metric it prints, the
//! search settings and the space. [`run_sweep`] drives a [`Study`] (the `fmin` loop of
//! [`Study::optimize`]) with an objective that runs the command in its own process group
//! ([`TrialProcess`]), reads its metrics from stdout ([`parse_metric_line`]) and turns the
//! result into an [`Outcome`]: the objective metric as the loss, or a failure with the
//! reason and the tail of stderr.
//!
//! Every trial process gets, besides `[command].env`:
//!
//! | variable | value |
//! |---|---|
//! | `HYPERFLOW_PARAMS` | the point as a JSON object, `{"lr": 0.001, "model": "rf"}` |
//! | `HYPERFLOW_TRIAL` | the trial's number, from 0 |
//! | `HYPERFLOW_RUN_ID` | the trial's tracking run, when tracking is on |
//! | `HYPERFLOW_TRACKING_URI` | where runs are stored, when known |
//! | `MLFLOW_TRACKING_URI` | where MLflow's official client reaches the store: a server's URL, or for a local store the loopback server the sweep runs for its trials (`src/sweep/endpoint.rs`; feature `server`) |
//! | `MLFLOW_RUN_ID` | the trial's run, with `MLFLOW_TRACKING_URI`: `mlflow.start_run()` attaches to it |
//! | `PYTHONUNBUFFERED` | `1`, so Python prints metrics as they happen |
//!
//! Tracking and resuming come with the study: a tracked study (see [`tracked`]) gives each
//! trial its run, which takes its step metrics and its output as `stdout.txt`/`stderr.txt`
//! artifacts (those worth keeping, bounded; see [`KeepOutput`]), and a study loaded back
//! from the store continues where it stopped.

mod command;
pub mod config;
mod endpoint;
mod progress;
mod runner;
pub mod tracked;

pub use command::{CommandTemplate, RenderError, TemplateError, display_argv, shell_quote};
pub use config::{
    CommandConfig, ConfigError, ConfigErrorKind, DurationError, KeepOutput, Location,
    ObjectiveConfig, Origin, Overrides, SearchConfig, SweepConfig, format_duration, parse_duration,
};
pub use progress::{ProgressMode, ProgressObserver, render_summary};
pub use runner::{
    Cancellation, Ended, MetricLine, RUN_ID_VAR, STDERR_TAIL_LINES, StepMetric, StepSink, TrialEnd,
    TrialOutput, TrialProcess, end_leftover_trials, parse_metric_line,
};

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::algo::Sampler;
use crate::fmin::{FminError, Observer, Outcome, Status};
use crate::space::{Point, PointError, Space};
use crate::study::{StopReason, Study, StudyBuilder, StudyError, TrialContext};
use crate::tracking::schema::SearchSettings;
use crate::trials::{Direction, Trial, TrialState};

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
    /// The search itself failed (the tracking store or an observer failed, or the thread
    /// pool could not start).
    #[error(transparent)]
    Search(FminError),
    /// A tracked sweep stopped on an error (its tracking store failed: a full disk, a lost
    /// server, a file that is no longer writable); the trials that finished are stored and
    /// the sweep can be resumed.
    #[error(
        "{error}\nthe sweep stopped; the trials that finished are in {store}. Once the store \
         takes writes again (free space, permissions, the server back), continue with: {resume}"
    )]
    Stopped {
        /// What went wrong.
        error: Box<SweepError>,
        /// The store, as a path or URL users can find.
        store: String,
        /// The command that continues the sweep.
        resume: String,
    },
    /// The Ctrl-C handler could not be installed.
    #[error("cannot handle Ctrl-C: {0}")]
    CtrlC(String),
    /// The study could not be created or loaded.
    #[error(transparent)]
    Study(StudyError),
    /// A point given on the command line (`-P name=value`) does not fit the space.
    #[error("{message}")]
    InvalidPoint {
        /// What is wrong, and what is accepted.
        message: String,
    },
    /// The tracking server that serves a local store to the trials could not start.
    #[cfg(feature = "server")]
    #[error("cannot serve the tracking store to the trials on a loopback port: {0}")]
    Endpoint(#[source] crate::server::ServerError),
    /// The tracking store could not be read or written.
    #[error("tracking store: {0}")]
    Tracking(#[from] crate::tracking::StoreError),
    /// The first trial that exited 0 printed metrics, but not the objective metric (a
    /// misspelt `[objective] metric`); the sweep stopped after it.
    #[error(
        "trial {trial}, the first to exit 0, printed the metrics {} but not the objective \
         metric `{metric}`{}; the sweep stopped. Fix `[objective] metric` in the config or the \
         name the program prints",
        printed.join(", "),
        suggestion.as_ref().map_or_else(String::new, |s| format!(" (did you mean `{s}`?)"))
    )]
    ObjectiveNotPrinted {
        /// The trial's number.
        trial: usize,
        /// The objective metric the config names.
        metric: String,
        /// The metrics the trial printed.
        printed: Vec<String>,
        /// The printed metric closest to the objective's name, if one is a plausible typo.
        suggestion: Option<String>,
    },
    /// A sweep to resume was not found, or its runs do not fit the config.
    #[error("cannot resume: {message}")]
    Resume {
        /// What is wrong.
        message: String,
    },
}

impl From<StudyError> for SweepError {
    fn from(e: StudyError) -> Self {
        match e {
            StudyError::Algo(e) => SweepError::Algo(e),
            e => SweepError::Study(e),
        }
    }
}

/// The sampler a config's `search.algo` names; it is checked against the space when the
/// study starts ([`study`]).
pub fn sampler(config: &SweepConfig) -> Box<dyn Sampler> {
    config.search().algo().sampler()
}

/// A study of the config's space, direction, sampler and seed, to create (or to track
/// first, see [`tracked`]).
pub fn study(config: &SweepConfig) -> Result<StudyBuilder, SweepError> {
    let mut builder = Study::builder(config.space())
        .direction(config.objective().direction())
        .boxed_sampler(sampler(config));
    if let Some(seed) = config.search().seed() {
        builder = builder.seed(seed);
    }
    if let Some(pruner) = config.pruner() {
        builder = builder.boxed_pruner(pruner.build());
    }
    if let Some(stale_after) = config.search().stale_after() {
        builder = builder.stale_after(stale_after);
    }
    Ok(builder)
}

/// What a sweep did: every trial, the best one, and how it ended.
#[derive(Debug, Clone)]
pub struct SweepSummary {
    experiment: String,
    metric: String,
    direction: Direction,
    max_evals: usize,
    /// Shared with the search's result: a long sweep's history is not copied.
    trials: Arc<Vec<Trial>>,
    seed: u64,
    stop: StopReason,
    elapsed: Duration,
    warnings: Vec<String>,
    /// The command that continues the sweep (tracked sweeps).
    resume_command: Option<String>,
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

    /// Every finished trial (complete, failed, pruned, or killed by a cancel; earlier ones
    /// of a resumed sweep first), in trial order.
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

    /// The search's seed (the config's, or one drawn from the clock).
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Why the sweep stopped.
    pub fn stop(&self) -> StopReason {
        self.stop
    }

    /// Whether it was interrupted (cancelled).
    pub fn is_interrupted(&self) -> bool {
        self.stop == StopReason::Cancelled
    }

    /// Wall time of this run of the sweep.
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// Problems that did not stop the sweep (an artifact that could not be saved, ...).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// How far an interrupted sweep got and, tracked, the command that continues it, for
    /// people.
    pub fn resume_hint(&self) -> Option<String> {
        self.is_interrupted().then(|| {
            let counted = self.trials.iter().filter(|t| t.state.is_result()).count();
            let hint = format!("interrupted after {counted} of {} trials", self.max_evals);
            match &self.resume_command {
                Some(command) => format!("{hint}; continue with `{command}`"),
                None => hint,
            }
        })
    }
}

/// The settings of one run of a sweep that do not come from its config: observers,
/// cancellation, progress display.
pub struct SweepOptions<'a> {
    observers: Vec<Arc<dyn Observer + 'a>>,
    cancel: Cancellation,
    progress: ProgressMode,
    tracking_uri: Option<String>,
    /// What trials get as `MLFLOW_TRACKING_URI` (see [`endpoint`]).
    mlflow_uri: Option<String>,
    points: Vec<Point>,
    /// Replaces the config's `max_evals` (resume adds the killed trials; `run -P` is 1).
    max_evals: Option<usize>,
    /// Replaces the config's `parallel`.
    parallel: Option<usize>,
    resume_args: Vec<String>,
}

impl Default for SweepOptions<'_> {
    fn default() -> Self {
        SweepOptions {
            max_evals: None,
            parallel: None,
            resume_args: Vec::new(),
            observers: Vec::new(),
            points: Vec::new(),
            cancel: Cancellation::new(),
            progress: ProgressMode::Auto,
            tracking_uri: None,
            mlflow_uri: None,
        }
    }
}

impl<'a> SweepOptions<'a> {
    /// Defaults: no observer, automatic progress display.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an observer, told of the search and every trial.
    pub fn observer(mut self, observer: Arc<dyn Observer + 'a>) -> Self {
        self.observers.push(observer);
        self
    }

    /// The switch that stops the sweep: no new trials, running ones are stopped and
    /// recorded as killed.
    pub fn cancellation(mut self, cancel: Cancellation) -> Self {
        self.cancel = cancel;
        self
    }

    /// How progress is shown (default [`ProgressMode::Auto`]).
    pub fn progress(mut self, mode: ProgressMode) -> Self {
        self.progress = mode;
        self
    }

    /// What the command a tracked sweep prints to continue it (when interrupted, or
    /// stopped by its store) adds to `hyperflow --tracking-uri URI sweep CONFIG --resume
    /// RUN_ID`, so that it goes on with the settings it ran with: the command line's
    /// overrides (`--set KEY=VALUE`, `--max-evals N`, ...).
    pub fn resume_args(mut self, args: impl IntoIterator<Item = String>) -> Self {
        self.resume_args.extend(args);
        self
    }

    /// Runs these points first, before the sampler proposes any (`hyperflow run -P ...`
    /// is a sweep of one given point; see [`point_from_assignments`]).
    pub fn points_to_evaluate(mut self, points: impl IntoIterator<Item = Point>) -> Self {
        self.points.extend(points);
        self
    }

    /// The tracking URI handed to trials as `HYPERFLOW_TRACKING_URI`, and as
    /// `MLFLOW_TRACKING_URI` when it is a server's URL (a tracked sweep serves a local
    /// store to its trials; see the [module docs](self)).
    pub fn tracking_uri(mut self, uri: impl Into<String>) -> Self {
        self.tracking_uri = Some(uri.into());
        self
    }
}

/// Makes Ctrl-C stop sweeps cleanly: the first press sets `cancel` (no new trials,
/// running ones are stopped with SIGTERM and recorded as killed, [`run_sweep`] returns an
/// interrupted summary); a second press sends SIGKILL to every running trial's process
/// group, so the sweep returns at once. Installs a process-wide handler, so call it once,
/// from the program's `main`.
pub fn cancel_on_ctrl_c(cancel: &Cancellation) -> Result<(), SweepError> {
    let cancel = cancel.clone();
    ctrlc::set_handler(move || {
        if cancel.is_cancelled() {
            cancel.kill_all();
            eprintln!("\nkilling running trials");
            return;
        }
        cancel.cancel();
        eprintln!(
            "\ninterrupted: stopping running trials (press Ctrl-C again to kill them at once)"
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
    let mut study = study(config)?.create()?;
    let mut trials = Vec::with_capacity(n);
    for _ in 0..n {
        if study.exhausted() {
            break;
        }
        let trial = study.ask()?;
        let argv = config
            .command()
            .template()
            .render(trial.point())
            .map_err(|e| SweepError::Command(e.to_string()))?;
        trials.push(PlannedTrial {
            number: trial.number(),
            point: trial.point().clone(),
            argv,
        });
    }
    Ok(Plan {
        seed: study.seed(),
        trials,
    })
}

/// Reads `name=value` assignments (`hyperflow run sweep.toml -P lr=0.01 -P model=rf`)
/// into a point of `space`: each value is read as its parameter's kind needs (a choice
/// option as written, an integer for `randint`, a number otherwise), constants are filled
/// in, and the point must then fit the space (every active parameter given, values in
/// range, no value for a parameter that is inactive under the options chosen).
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
    let mut pairs = Vec::with_capacity(assignments.len());
    for assignment in assignments {
        let assignment = assignment.as_ref();
        let Some((name, text)) = assignment.split_once('=') else {
            return Err(invalid(format!(
                "`{assignment}`: expected `name=value`, as in `lr=0.01`"
            )));
        };
        if space.index_of(name.trim()).is_none() {
            let names = space.params().iter().map(|p| p.name.as_str());
            let hint = crate::suggest::did_you_mean(name.trim(), names)
                .map_or_else(String::new, |s| format!("; did you mean `{s}`?"));
            return Err(invalid(format!(
                "`{assignment}`: the space has no parameter `{}`{hint}",
                name.trim()
            )));
        }
        pairs.push((assignment, name, text));
    }
    let point = space
        .point_from_text(pairs.iter().map(|&(_, name, text)| (name, text)))
        .map_err(|e| match e {
            PointError::Missing { name } => invalid(format!(
                "no value for parameter `{name}`; add `-P {name}=...`"
            )),
            PointError::Unreadable { name, expected, .. } => {
                let assignment = pairs
                    .iter()
                    .find(|(_, n, _)| n.trim() == name)
                    .map_or(name.as_str(), |(a, _, _)| a);
                invalid(format!("`{assignment}`: expected {expected}"))
            }
            e => invalid(e.to_string()),
        })?;
    // Reading the point dropped the parameters inactive under its choices: a value given
    // for one of them would silently not be used.
    for &(assignment, name, _) in &pairs {
        let name = name.trim();
        if point.value(name).is_some() {
            continue;
        }
        let Some((parent, option)) = space.index_of(name).and_then(|i| space.active_under(i))
        else {
            continue;
        };
        let chosen = point
            .value(parent)
            .map_or_else(|| "itself inactive".to_string(), |v| v.quoted().to_string());
        return Err(invalid(format!(
            "`{assignment}`: parameter `{name}` is used only when `{parent}` is {}, but \
             `{parent}` is {chosen}; leave out `-P {name}=...` or pass `-P {parent}={option}`",
            option.quoted()
        )));
    }
    Ok(point)
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

/// Runs a sweep in memory (untracked): samples points, runs the command for each (in
/// parallel, up to `[search].parallel`), reads the objective metric back, and returns every
/// trial and the best. Failed trials (non-zero exit, timeout, missing metric) are recorded
/// and the sweep goes on; a cancelled sweep returns an
/// [interrupted](SweepSummary::is_interrupted) summary. [`tracked::run_tracked`] runs one
/// that is logged into a store and can be resumed.
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
    check_program(config)?;
    let mut study = study(config)?.create()?;
    let mut options = options;
    options.mlflow_uri = options
        .tracking_uri
        .as_deref()
        .and_then(endpoint::server_url);
    drive(config, &mut study, options)
}

/// The settings a sweep records on a new study's parent run.
fn settings(config: &SweepConfig, options: &SweepOptions<'_>) -> SearchSettings {
    let search = config.search();
    SearchSettings {
        max_evals: Some(options.max_evals.unwrap_or(search.max_evals())),
        parallelism: options.parallel.unwrap_or(search.parallel()),
        schedule: search.schedule().as_str(),
        timeout: search.timeout(),
        loss_threshold: search.loss_threshold(),
        early_stop_after: search.early_stop_after(),
        warm_start_trials: 0,
    }
}

/// Runs the sweep's trials over `study` until the config's budget is spent, the search is
/// cancelled or another stop rule fires.
fn drive(
    config: &SweepConfig,
    study: &mut Study,
    options: SweepOptions<'_>,
) -> Result<SweepSummary, SweepError> {
    let started = Instant::now();
    let direction = config.objective().direction();
    let metric = config.objective().metric();
    let cancel = options.cancel.clone();
    let warnings: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let tracking_uri = options.tracking_uri.as_deref();
    let mlflow_uri = options.mlflow_uri.as_deref();
    // Decided by the first trial that exits 0: `Some(None)` when it printed the objective
    // (or nothing at all), `Some(Some(error))` when it printed other metrics only.
    let first_exit: Mutex<Option<Option<SweepError>>> = Mutex::new(None);
    // Problems worth a warning once per sweep, not once per trial.
    let noted_unreadable = AtomicBool::new(false);
    let noted_no_steps = AtomicBool::new(false);
    let pruning = config
        .pruner()
        .is_some_and(|p| p.kind() != crate::prune::PrunerKind::None);

    let objective = |point: &Point, ctx: &TrialContext| -> Outcome {
        let argv = match config.command().template().render(point) {
            Ok(argv) => argv,
            Err(e) => return Outcome::failed(e.to_string()),
        };
        let process = TrialProcess {
            argv,
            workdir: config.command().workdir().to_path_buf(),
            env: trial_env(config, point, ctx, tracking_uri, mlflow_uri),
            timeout: config.command().timeout(),
            kill_grace: config.command().kill_grace(),
            prune_grace: config
                .pruner()
                .and_then(|p| p.grace())
                .unwrap_or(Duration::ZERO),
        };
        let output = process.run(
            &cancel,
            &mut TrialSteps {
                ctx,
                metric,
                condemned: false,
            },
        );
        let mut problems = Vec::new();
        let outcome = output.outcome(metric);
        let failed = matches!(outcome.status, Status::Failed(_) | Status::Killed(_));
        let streams = [
            ("stdout.txt", &output.stdout, !failed),
            ("stderr.txt", &output.stderr, false),
        ];
        let keep = config.command().keep_output().keeps(failed);
        for (name, bytes, metrics_stored) in streams.into_iter().filter(|_| keep) {
            if !runner::worth_keeping(bytes, metrics_stored) {
                continue;
            }
            if let Err(e) = ctx.log_artifact(name, bytes) {
                problems.push(format!(
                    "trial {}: could not save {name}: {e}",
                    ctx.number()
                ));
            }
        }
        if let Some(w) = output.warnings.first()
            && !noted_unreadable.swap(true, Ordering::Relaxed)
        {
            problems.push(format!(
                "trial {}: {w} (the line was skipped; the first such line of the sweep)",
                ctx.number()
            ));
        }
        if pruning
            && output.end == TrialEnd::Exited(0)
            && !output.steps.iter().any(|m| m.key == metric)
            && !noted_no_steps.swap(true, Ordering::Relaxed)
        {
            let mut stepped: Vec<&str> = Vec::new();
            for m in &output.steps {
                if !stepped.contains(&m.key.as_str()) {
                    stepped.push(&m.key);
                }
            }
            problems.push(format!(
                "trial {} printed no value of `{metric}` at a step, so the pruner had nothing \
                 to judge it by{}; print `hyperflow: metric={metric} value=V step=S` lines, or \
                 JSON lines with an integer \"step\", to stdout as it trains",
                ctx.number(),
                if stepped.is_empty() {
                    String::new()
                } else {
                    format!(" (it printed steps of: {})", stepped.join(", "))
                }
            ));
        }
        if !problems.is_empty() {
            crate::lock(&warnings).extend(problems);
        }
        if output.end == TrialEnd::Exited(0) {
            let mut first = crate::lock(&first_exit);
            if first.is_none() {
                let missing = output.metric(metric).is_none() && !output.metrics.is_empty();
                let printed: Vec<String> = output.metrics.iter().map(|(k, _)| k.clone()).collect();
                *first = Some(missing.then(|| {
                    SweepError::ObjectiveNotPrinted {
                        trial: ctx.number(),
                        metric: metric.to_string(),
                        suggestion: crate::suggest::did_you_mean(
                            metric,
                            printed.iter().map(String::as_str),
                        )
                        .map(str::to_string),
                        printed,
                    }
                }));
                if missing {
                    cancel.cancel();
                }
            }
        }
        outcome
    };

    let progress = Arc::new(ProgressObserver::new(options.progress, metric, direction));
    let max_evals = options.max_evals.unwrap_or(config.search().max_evals());
    let mut search = study
        .optimize_with_context(objective)
        .max_evals(max_evals)
        .parallelism(options.parallel.unwrap_or(config.search().parallel()))
        .schedule(config.search().schedule())
        .progress(false)
        .cancel_token(cancel.token())
        .points_to_evaluate(options.points);
    if let Some(n) = config.search().early_stop_after() {
        search = search.early_stop_after(n);
    }
    if let Some(t) = config.search().timeout() {
        search = search.timeout(t);
    }
    if let Some(t) = config.search().loss_threshold() {
        search = search.loss_threshold(t);
    }
    for o in options.observers {
        search = search.observer(o);
    }
    let result = search.observer(progress.clone()).run();
    progress.finish();
    let result = result.map_err(SweepError::Search)?;
    if let Some(Some(error)) = first_exit.into_inner().unwrap_or_else(|e| e.into_inner()) {
        return Err(error);
    }
    Ok(SweepSummary {
        experiment: config.experiment().to_string(),
        metric: metric.to_string(),
        direction,
        max_evals,
        seed: result.seed(),
        stop: result.stop_reason(),
        trials: {
            let trials = result.into_history().into_shared();
            if trials.iter().all(|t| t.state.is_finished()) {
                trials
            } else {
                Arc::new(
                    trials
                        .iter()
                        .filter(|t| t.state.is_finished())
                        .cloned()
                        .collect(),
                )
            }
        },
        elapsed: started.elapsed(),
        warnings: warnings.into_inner().unwrap_or_else(|e| e.into_inner()),
        resume_command: None,
    })
}

/// Where a sweep trial's values at steps go: the objective's to the pruner at once, every
/// one to the trial's run in batches (a write per value would cost more than a short
/// trial; what is not written when the process ends is written with the trial's end, in
/// one transaction).
struct TrialSteps<'a> {
    ctx: &'a TrialContext,
    /// The objective metric.
    metric: &'a str,
    /// Whether the pruner said to stop the trial: the objective's values after that are
    /// those of a process being stopped, and the trial stays as the pruner judged it (its
    /// last step and value the condemned ones).
    condemned: bool,
}

impl StepSink for TrialSteps<'_> {
    fn take(&mut self, m: &StepMetric) -> bool {
        // Negative steps are no pruner's business: they are only logged.
        match u64::try_from(m.step) {
            Ok(_) if m.key == self.metric && self.condemned => true,
            Ok(step) if m.key == self.metric => {
                self.condemned = self.ctx.report_later(step, m.value);
                self.condemned
            }
            _ => {
                self.ctx.log_metric_later(&m.key, m.value, m.step);
                false
            }
        }
    }

    fn flush(&mut self) {
        // Refused, the values stay queued: the trial's end writes them, or fails the
        // search with the store's error.
        let _ = self.ctx.flush_metrics();
    }
}

/// The environment of one trial: hyperflow's variables, MLflow's when its official
/// client can reach the store (`mlflow_uri`), then `[command].env` (which wins, so a
/// config can pin e.g. `MLFLOW_TRACKING_URI` itself), then the trial's run id as
/// [`RUN_ID_VAR`], which nothing overrides: it is how a resume finds what a killed trial
/// left running ([`end_leftover_trials`]).
fn trial_env(
    config: &SweepConfig,
    point: &Point,
    ctx: &TrialContext,
    tracking_uri: Option<&str>,
    mlflow_uri: Option<&str>,
) -> Vec<(String, String)> {
    let mut env = vec![
        ("HYPERFLOW_PARAMS".to_string(), point.to_json().to_string()),
        ("HYPERFLOW_TRIAL".to_string(), ctx.number().to_string()),
    ];
    if let Some(uri) = tracking_uri {
        env.push(("HYPERFLOW_TRACKING_URI".to_string(), uri.to_string()));
    }
    if let Some(uri) = mlflow_uri {
        env.push(("MLFLOW_TRACKING_URI".to_string(), uri.to_string()));
        if let Some(run_id) = ctx.run_id() {
            env.push(("MLFLOW_RUN_ID".to_string(), run_id.to_string()));
        }
    }
    env.extend(config.command().env().iter().cloned());
    if let Some(run_id) = ctx.run_id() {
        env.push((RUN_ID_VAR.to_string(), run_id.to_string()));
    }
    env
}
