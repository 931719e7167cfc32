//! Tracked sweeps: a sweep logged into a tracking store, and resumed from it.
//!
//! [`run_tracked`] runs a sweep with a [`TrackingObserver`]: a parent run (tag
//! `hyperflow.role=search`) holding the effective config as params (`command.run`,
//! `search.max_evals`, `space`, ...) and the config file as the artifact `sweep.toml`, and
//! one nested child run per trial. The parent is tagged with what identifies the sweep:
//!
//! | tag | value |
//! |---|---|
//! | `hyperflow.config` | the config file's absolute path |
//! | `hyperflow.sweep_key` | [`sweep_key`]: a hash of that path, the `[space]` and the objective |
//!
//! # Resume
//!
//! With [`Resume::Latest`], the latest parent run of the config's experiment with the same
//! `hyperflow.sweep_key` is continued; with [`Resume::Run`], the given parent. Its children
//! are read back ([`read_history`]): FINISHED children are complete trials (their params are
//! the point, the objective metric the loss), FAILED children failed trials; both count
//! towards `max_evals` and warm-start the sampler. Children a crash left RUNNING, and
//! trials stopped by Ctrl-C, are marked KILLED: they do not count, and their numbers are
//! not reused (new trials are numbered after the highest one), so every trial number names
//! one run. Their points are not remembered, so a grid may propose them again.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::space::{Point, Space};
use crate::tracking::observer::TRIAL_TAG;
use crate::tracking::{
    ExperimentId, Run, RunStatus, SearchRuns, StoreError, Tracker, TrackingObserver, TrackingUri,
    ViewType, tags,
};
use crate::trials::{Trial, TrialState, Trials};

use super::{
    Cancellation, ProgressMode, SweepConfig, SweepError, SweepOptions, SweepSummary, check_program,
    point_from_assignments, run_sweep, sampler,
};

/// Parent-run tag holding the config file's absolute path.
pub const CONFIG_TAG: &str = "hyperflow.config";
/// Parent-run tag identifying a sweep for `--resume` (see [`sweep_key`]).
pub const SWEEP_KEY_TAG: &str = "hyperflow.sweep_key";
/// The start of the failure reason of trials that were killed rather than failed (a
/// Ctrl-C, or a crash of hyperflow while they ran).
pub const KILLED_PREFIX: &str = "killed:";

/// Which earlier sweep to continue.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Resume {
    /// The latest parent run of the config's experiment whose `hyperflow.sweep_key` is
    /// this config's.
    Latest,
    /// This parent run.
    Run(String),
}

/// The settings of [`run_tracked`] besides the config.
#[derive(Debug, Clone)]
pub struct TrackedOptions {
    tracking_uri: String,
    resume: Option<Resume>,
    cancel: Cancellation,
    progress: ProgressMode,
}

impl TrackedOptions {
    /// Logs into the store at `tracking_uri` (handed to trials, made absolute).
    pub fn new(tracking_uri: impl Into<String>) -> Self {
        TrackedOptions {
            tracking_uri: tracking_uri.into(),
            resume: None,
            cancel: Cancellation::new(),
            progress: ProgressMode::Auto,
        }
    }

    /// Continues an earlier sweep instead of starting a new one.
    pub fn resume(mut self, resume: Resume) -> Self {
        self.resume = Some(resume);
        self
    }

    /// The switch that stops the sweep (see [`cancel_on_ctrl_c`](super::cancel_on_ctrl_c)).
    pub fn cancellation(mut self, cancel: Cancellation) -> Self {
        self.cancel = cancel;
        self
    }

    /// How progress is shown.
    pub fn progress(mut self, mode: ProgressMode) -> Self {
        self.progress = mode;
        self
    }
}

/// A tracked sweep's result: the summary and where its runs are.
#[derive(Debug, Clone)]
pub struct TrackedSweep {
    /// What the sweep did (trials of earlier runs of a resumed sweep included).
    pub summary: SweepSummary,
    /// The tracking URI as given.
    pub tracking_uri: String,
    /// The experiment's id.
    pub experiment_id: ExperimentId,
    /// The parent run's id (for `hyperflow run`, the single run's id).
    pub run_id: String,
    /// How many trials were read back from the store (0 unless resumed).
    pub resumed_trials: usize,
    /// How many trials of earlier runs were found killed and were not counted.
    pub killed_trials: usize,
    /// Whether this was one run (`hyperflow run`) rather than a sweep.
    pub single_run: bool,
}

impl TrackedSweep {
    /// Where the runs are and how to list them, for people.
    pub fn location(&self) -> String {
        let uri_arg = if self.tracking_uri == crate::tracking::uri::DEFAULT_TRACKING_URI {
            String::new()
        } else {
            format!(" --tracking-uri {}", super::shell_quote(&self.tracking_uri))
        };
        format!(
            "runs stored in {} (experiment {:?}, id {}); {} {}\n\
             see them: hyperflow runs list --experiment {}{uri_arg}",
            self.tracking_uri,
            self.summary.experiment(),
            self.experiment_id,
            if self.single_run { "run" } else { "parent run" },
            self.run_id,
            super::shell_quote(self.summary.experiment()),
        )
    }
}

/// A stable key for a sweep: FNV-1a (64 bits, hex) of the config's absolute path, its
/// `[space]` (as JSON) and its objective. Changing `[search]` or `[command]` keeps the
/// key, so a sweep can be resumed with more trials or a fixed command.
pub fn sweep_key(config: &SweepConfig) -> String {
    let mut text = absolute(config.path()).display().to_string();
    text.push('\n');
    text.push_str(&config.space().to_json_string());
    text.push('\n');
    text.push_str(config.objective().metric());
    text.push(' ');
    text.push_str(config.objective().direction().as_str());
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

fn absolute(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| {
        std::env::current_dir()
            .map(|d| d.join(path))
            .unwrap_or_else(|_| path.to_path_buf())
    })
}

/// The tracking URI as trial processes should see it: a relative SQLite path made
/// absolute, since trials run in their own working directory.
pub fn absolute_tracking_uri(uri: &str) -> String {
    match TrackingUri::parse(uri) {
        Ok(TrackingUri::Sqlite(path)) if path.is_relative() => {
            format!("sqlite:///{}", absolute(&path).display())
        }
        _ => uri.to_string(),
    }
}

/// The effective config as parent-run params, besides the search settings the tracking
/// observer logs (`algo`, `max_evals`, `seed`, `parallelism`, `direction`, ...):
/// `experiment.name`, `command.run`, `command.shell`, `command.workdir`,
/// `command.timeout`, `command.env` (JSON), `objective.metric`, and `space` (JSON).
pub fn config_params(config: &SweepConfig) -> Vec<(String, String)> {
    let none = || "none".to_string();
    let command = config.command();
    let env: serde_json::Map<String, serde_json::Value> = command
        .env()
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    vec![
        ("experiment.name".into(), config.experiment().to_string()),
        (
            "command.run".into(),
            command.template().source().to_string(),
        ),
        (
            "command.shell".into(),
            command.template().is_shell().to_string(),
        ),
        (
            "command.workdir".into(),
            command.workdir().display().to_string(),
        ),
        (
            "command.timeout".into(),
            command.timeout().map_or_else(none, super::format_duration),
        ),
        (
            "command.env".into(),
            serde_json::Value::Object(env).to_string(),
        ),
        (
            "objective.metric".into(),
            config.objective().metric().into(),
        ),
        ("space".into(), config.space().to_json().to_string()),
    ]
}

/// Checks everything that can be checked before a run is created: the sampler fits the
/// space, and the command's program exists.
pub fn validate(config: &SweepConfig) -> Result<(), SweepError> {
    sampler(config)?;
    check_program(config)
}

/// Earlier trials of a sweep, read back from its parent run's children.
#[derive(Debug)]
pub struct History {
    /// Every trial number up to the highest one: complete and failed trials as they
    /// ended, killed ones (and numbers without a run) as failed placeholders whose reason
    /// starts with [`KILLED_PREFIX`].
    pub trials: Trials,
    /// How many of them count towards `max_evals` (complete and failed ones).
    pub counted: usize,
    /// How many are killed placeholders.
    pub killed: usize,
}

/// Marks the children of `parent_run_id` that did not end on their own KILLED: those a
/// crash left RUNNING, and those stopped by Ctrl-C (FAILED with a reason starting with
/// [`KILLED_PREFIX`]). First ends the processes those trials left running
/// ([`end_leftover_trials`](super::end_leftover_trials), SIGKILL after `kill_grace`).
/// Returns the children, updated.
pub fn settle_children(
    tracker: &Tracker,
    parent_run_id: &str,
    kill_grace: std::time::Duration,
) -> Result<Vec<Run>, SweepError> {
    let experiment = tracker.store().get_run_info(parent_run_id)?.experiment_id;
    let mut children = tracker.search_all_runs(
        &SearchRuns::new()
            .experiment(&experiment)
            .filter(format!(
                "tags.`{}` = '{}'",
                tags::PARENT_RUN_ID,
                parent_run_id.replace('\'', "")
            ))
            .view_type(ViewType::All),
    )?;
    let killed = |child: &Run| match child.info.status {
        RunStatus::Running | RunStatus::Scheduled => true,
        RunStatus::Failed => child
            .data
            .tag(crate::tracking::client::ERROR_TAG)
            .is_some_and(|e| e.starts_with(KILLED_PREFIX)),
        _ => false,
    };
    let killed_ids: Vec<&str> = children.iter().filter(|c| killed(c)).map(Run::id).collect();
    super::end_leftover_trials(&killed_ids, kill_grace).map_err(|e| SweepError::Resume {
        message: format!("cannot end the processes of killed trials: {e}"),
    })?;
    for child in &mut children {
        if killed(child) {
            tracker.set_terminated(child.id(), RunStatus::Killed)?;
            child.info.status = RunStatus::Killed;
        }
    }
    Ok(children)
}

/// Reads the trials of the sweep under `parent_run_id` back (settling killed children
/// first, see [`settle_children`]).
pub fn read_history(
    tracker: &Tracker,
    parent_run_id: &str,
    config: &SweepConfig,
) -> Result<History, SweepError> {
    let children = settle_children(tracker, parent_run_id, config.command().kill_grace())?;
    let space = config.space();
    let metric = config.objective().metric();
    let mut by_number: std::collections::BTreeMap<usize, Trial> = Default::default();
    for child in &children {
        let Some(number) = child
            .data
            .tag(TRIAL_TAG)
            .and_then(|n| n.parse::<usize>().ok())
        else {
            continue;
        };
        let state = match child.info.status {
            RunStatus::Finished => TrialState::Complete,
            RunStatus::Failed => TrialState::Failed,
            _ => continue,
        };
        let point = point_of(space, child).map_err(|e| SweepError::Resume {
            message: format!(
                "run {} (trial {number}) does not fit the config's [space]: {e}",
                child.id()
            ),
        })?;
        let x = space.encode(&point).map_err(|e| SweepError::Resume {
            message: e.to_string(),
        })?;
        let loss = child
            .data
            .metric(metric)
            .or_else(|| child.data.metric(crate::tracking::observer::LOSS_METRIC));
        let (state, loss) = match (state, loss) {
            (TrialState::Complete, Some(l)) => (TrialState::Complete, Some(l)),
            (TrialState::Complete, None) => (TrialState::Failed, None),
            (s, _) => (s, None),
        };
        let metrics = child
            .data
            .metrics
            .iter()
            .filter(|m| m.key != crate::tracking::observer::LOSS_METRIC)
            .map(|m| (m.key.clone(), m.value))
            .collect();
        let started = std::time::UNIX_EPOCH
            + std::time::Duration::from_millis(child.info.start_time.max(0) as u64);
        let duration = child.info.end_time.map(|end| {
            std::time::Duration::from_millis((end - child.info.start_time).max(0) as u64)
        });
        let error = (state == TrialState::Failed).then(|| {
            child
                .data
                .tag(crate::tracking::client::ERROR_TAG)
                .unwrap_or("failed (no reason recorded)")
                .to_string()
        });
        by_number.insert(
            number,
            Trial {
                number,
                state,
                x,
                point,
                loss,
                metrics,
                error,
                started,
                duration,
            },
        );
    }
    let end = children
        .iter()
        .filter_map(|c| c.data.tag(TRIAL_TAG).and_then(|n| n.parse::<usize>().ok()))
        .map(|n| n + 1)
        .max()
        .unwrap_or(0);
    let mut trials = Trials::new(config.objective().direction());
    let (mut counted, mut killed) = (0, 0);
    for number in 0..end {
        match by_number.remove(&number) {
            Some(trial) => {
                counted += 1;
                trials.push(trial);
            }
            None => {
                killed += 1;
                trials.push(Trial {
                    number,
                    state: TrialState::Failed,
                    // Unknown or not to be remembered: a grid may propose it again.
                    x: vec![f64::NAN; space.params().len()],
                    point: Point::default(),
                    loss: None,
                    metrics: Vec::new(),
                    error: Some(format!(
                        "{KILLED_PREFIX} stopped before it finished; not counted"
                    )),
                    started: std::time::UNIX_EPOCH,
                    duration: None,
                });
            }
        }
    }
    Ok(History {
        trials,
        counted,
        killed,
    })
}

/// A child run's params read back as a point of `space`.
fn point_of(space: &Space, run: &Run) -> Result<Point, SweepError> {
    let assignments: Vec<String> = run
        .data
        .params
        .iter()
        .filter(|p| space.index_of(&p.key).is_some())
        .map(|p| format!("{}={}", p.key, p.value))
        .collect();
    point_from_assignments(space, &assignments)
}

/// Finds the parent run a resume continues.
pub fn find_parent(
    tracker: &Tracker,
    config: &SweepConfig,
    resume: &Resume,
) -> Result<Run, SweepError> {
    let not_found = |message: String| SweepError::Resume { message };
    match resume {
        Resume::Run(id) => {
            let run = tracker.get_run(id).map_err(|e| match e {
                StoreError::NotFound(_) => not_found(format!("no run {id} to resume")),
                e => SweepError::Tracking(e),
            })?;
            if run.data.tag(tags::PARENT_RUN_ID).is_some() && run.data.tag(TRIAL_TAG).is_some() {
                return Err(not_found(format!(
                    "run {id} is a trial, not a sweep's parent run; resume its parent {}",
                    run.data.tag(tags::PARENT_RUN_ID).unwrap_or_default()
                )));
            }
            Ok(run)
        }
        Resume::Latest => {
            let hint = format!(
                "run `hyperflow sweep {}` without --resume to start it",
                config.path().display()
            );
            let Some(experiment) = tracker.get_experiment_by_name(config.experiment())? else {
                return Err(not_found(format!(
                    "nothing to resume: there is no experiment {:?} in this store; {hint}",
                    config.experiment()
                )));
            };
            let key = sweep_key(config);
            let page = tracker.search_runs(
                &SearchRuns::new()
                    .experiment(&experiment.experiment_id)
                    .filter(format!("tags.`{SWEEP_KEY_TAG}` = '{key}'"))
                    .order_by("attributes.start_time DESC")
                    .max_results(1),
            )?;
            page.items.into_iter().next().ok_or_else(|| {
                not_found(format!(
                    "nothing to resume: experiment {:?} has no sweep of {} with this [space] \
                     and objective; {hint}, or name its parent run with --resume RUN_ID",
                    config.experiment(),
                    absolute(config.path()).display()
                ))
            })
        }
    }
}

/// Runs a sweep logged into `tracker` (see the [module docs](self)); with
/// [`TrackedOptions::resume`], continues an earlier one. Nothing is written before the
/// config's sampler and command are checked. An interrupted sweep ends with its parent
/// KILLED and its stopped trials KILLED, ready to resume.
pub fn run_tracked(
    config: &SweepConfig,
    tracker: &Tracker,
    options: TrackedOptions,
) -> Result<TrackedSweep, SweepError> {
    validate(config)?;
    let mut observer = TrackingObserver::new(tracker.clone(), config.experiment());
    let mut sweep_options = SweepOptions::new()
        .cancellation(options.cancel.clone())
        .progress(options.progress)
        .tracking_uri(absolute_tracking_uri(&options.tracking_uri));
    let (mut resumed_trials, mut killed_trials) = (0, 0);
    match &options.resume {
        Some(resume) => {
            let parent = find_parent(tracker, config, resume)?;
            let history = read_history(tracker, parent.id(), config)?;
            resumed_trials = history.counted;
            killed_trials = history.killed;
            sweep_options.max_evals = Some(config.search().max_evals() + history.killed);
            sweep_options = sweep_options.history(history.trials);
            observer = observer.resume(parent.id());
        }
        None => {
            for (key, value) in config_params(config) {
                observer = observer.param(key, value);
            }
            let text = std::fs::read(config.path()).unwrap_or_default();
            observer = observer
                .tag(CONFIG_TAG, absolute(config.path()).display().to_string())
                .tag(SWEEP_KEY_TAG, sweep_key(config))
                .artifact("sweep.toml", text);
        }
    }
    let observer = Arc::new(observer);
    let mut summary = run_sweep(config, sweep_options.observer(observer.clone()))?;
    let Some(run_id) = observer.parent_run_id().map(str::to_string) else {
        return Err(SweepError::Resume {
            message: "the sweep ended before its parent run was created".to_string(),
        });
    };
    let experiment_id = observer
        .experiment_id()
        .cloned()
        .unwrap_or_else(ExperimentId::default_experiment);
    if summary.is_interrupted() {
        settle_children(tracker, &run_id, config.command().kill_grace())?;
    }
    drop(observer); // an unfinished search marks its parent KILLED
    summary.trials.retain(|t| {
        !(t.state == TrialState::Failed
            && t.error
                .as_deref()
                .is_some_and(|e| e.starts_with(KILLED_PREFIX)))
    });
    summary.resume_from = Some(run_id.clone());
    Ok(TrackedSweep {
        summary,
        tracking_uri: options.tracking_uri,
        experiment_id,
        run_id,
        resumed_trials,
        killed_trials,
        single_run: false,
    })
}

/// Runs one tracked trial of `config` at `point` (`hyperflow run CONFIG -P name=value`):
/// a single top-level run tagged `hyperflow.role=run`, with the point and the config as
/// params, the metrics, `stdout.txt`/`stderr.txt` and `sweep.toml` as artifacts.
pub fn run_point(
    config: &SweepConfig,
    point: Point,
    tracker: &Tracker,
    options: TrackedOptions,
) -> Result<TrackedSweep, SweepError> {
    validate(config)?;
    let mut observer = TrackingObserver::new(tracker.clone(), config.experiment()).single_run();
    for (key, value) in config_params(config) {
        observer = observer.param(key, value);
    }
    let text = std::fs::read(config.path()).unwrap_or_default();
    let observer = Arc::new(
        observer
            .tag(CONFIG_TAG, absolute(config.path()).display().to_string())
            .artifact("sweep.toml", text),
    );
    let mut sweep_options = SweepOptions::new()
        .cancellation(options.cancel.clone())
        .progress(options.progress)
        .tracking_uri(absolute_tracking_uri(&options.tracking_uri))
        .points_to_evaluate([point])
        .observer(observer.clone());
    sweep_options.max_evals = Some(1);
    sweep_options.parallel = Some(1);
    let summary = run_sweep(config, sweep_options)?;
    let run_id = observer.last_run_id().unwrap_or_default();
    let experiment_id = observer
        .experiment_id()
        .cloned()
        .unwrap_or_else(ExperimentId::default_experiment);
    Ok(TrackedSweep {
        summary,
        tracking_uri: options.tracking_uri,
        experiment_id,
        run_id,
        resumed_trials: 0,
        killed_trials: 0,
        single_run: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::Overrides;

    fn config(dir: &Path, search: &str) -> SweepConfig {
        let path = dir.join("sweep.toml");
        let text = format!(
            "[experiment]\nname = \"t\"\n[command]\nrun = \"true\"\n[objective]\nmetric = \"loss\"\n\
             [search]\n{search}\n[space]\nx = {{ kind = \"uniform\", low = 0, high = 1 }}\n"
        );
        std::fs::write(&path, text).unwrap();
        SweepConfig::load_with(&path, &Overrides::default()).unwrap()
    }

    #[test]
    fn sweep_key_ignores_search_but_not_space() {
        let dir = tempfile::tempdir().unwrap();
        let a = sweep_key(&config(dir.path(), "max_evals = 5"));
        let b = sweep_key(&config(dir.path(), "max_evals = 50\nalgo = \"random\""));
        assert_eq!(a, b);
        assert_eq!(a.len(), 16);
        let path = dir.path().join("sweep.toml");
        let changed =
            SweepConfig::load_with(&path, &Overrides::default().set("space.x.high=2")).unwrap();
        assert_ne!(sweep_key(&changed), a);
    }

    #[test]
    fn relative_sqlite_uris_become_absolute() {
        let uri = absolute_tracking_uri("sqlite:///runs/h.db");
        assert!(uri.starts_with("sqlite:////"), "{uri}");
        assert!(uri.ends_with("/runs/h.db"), "{uri}");
        assert_eq!(
            absolute_tracking_uri("sqlite:////tmp/x.db"),
            "sqlite:////tmp/x.db"
        );
    }
}
