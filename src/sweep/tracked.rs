//! Tracked sweeps: a sweep logged into a tracking store, and resumed from it.
//!
//! [`run_tracked`] runs a sweep over a tracked [`Study`]: a parent run (tag
//! `hyperflow.role=search`) holding the effective config as params (`command.run`,
//! `objective.metric`, `space`, ...) besides the study's and the loop's settings, the config
//! file as the artifact `sweep.toml`, and one nested child run per trial (see
//! [`schema`]). The parent is tagged with what identifies the sweep:
//!
//! | tag | value |
//! |---|---|
//! | `hyperflow.config` | the config file's absolute path |
//! | `hyperflow.sweep_key` | [`sweep_key`]: a hash of that path, the `[space]` and the objective |
//!
//! # Resume
//!
//! With [`Resume::Latest`], the latest parent run of the config's experiment with the same
//! `hyperflow.sweep_key` is continued; with [`Resume::Run`], the given parent. Its study is
//! loaded back ([`Study::load`]): complete, failed and pruned trials count towards
//! `max_evals` and warm-start the sampler. Trials a crash left running are marked KILLED
//! first, as are trials stopped by Ctrl-C: they do not count, and their numbers are not
//! reused, so every trial number names one run.

use std::path::{Path, PathBuf};

use crate::prune::{self, PrunerKind};
use crate::space::Point;
use crate::study::{Study, Tracking};
use crate::tracking::schema::{self, CONFIG_TAG, SWEEP_KEY_TAG};
use crate::tracking::{ExperimentId, Run, SearchRuns, StoreError, Tracker, TrackingUri};

use super::config::{PRUNER_GRACE, PrunerConfig, pruner_key};
use super::endpoint::TrialEndpoint;
use super::{
    SweepConfig, SweepError, SweepOptions, SweepSummary, check_program, drive, end_leftover_trials,
    sampler, settings, study,
};

/// Which earlier sweep to continue.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Resume {
    /// The latest parent run of the config's experiment whose `hyperflow.sweep_key` is
    /// this config's.
    Latest,
    /// This parent run.
    Run(String),
    /// The latest parent run of the config's experiment with this config's key, running
    /// or finished; a new sweep when there is none (what the workers of a job array or a
    /// Kubernetes Job run, so that one starting after the search ended does not start
    /// another).
    LatestOrNew,
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
    /// Whether this process joined a search of this config that other workers run.
    pub joined: bool,
}

impl TrackedSweep {
    /// Where the runs are and how to list them, for people.
    pub fn location(&self) -> String {
        let uri_arg = uri_arg(&self.tracking_uri);
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
            schema::OBJECTIVE_METRIC_PARAM.into(),
            config.objective().metric().into(),
        ),
        ("space".into(), config.space().to_json().to_string()),
    ]
    .into_iter()
    .chain(config.pruner().into_iter().flat_map(pruner_params))
    .collect()
}

/// A `[pruner]` table's settings as written, and its grace, as `pruner.KEY` params (its
/// kind is the study's `pruner` param).
fn pruner_params(pruner: &PrunerConfig) -> Vec<(String, String)> {
    let grace = pruner.grace().map(|grace| {
        (
            schema::pruner_setting_param(PRUNER_GRACE),
            super::format_duration(grace),
        )
    });
    schema::pruner_params(pruner.spec())
        .into_iter()
        .chain(grace)
        .collect()
}

/// Checks everything that can be checked before a run is created: the sampler fits the
/// space, and the command's program exists.
pub fn validate(config: &SweepConfig) -> Result<(), SweepError> {
    sampler(config)
        .session(config.space())
        .map_err(SweepError::Algo)?;
    check_program(config)
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
            if schema::Role::of(&run) == Some(schema::Role::Trial) {
                return Err(not_found(format!(
                    "run {id} is a trial, not a sweep's parent run; resume its parent {}",
                    run.data.tag(schema::PARENT_TAG).unwrap_or_default()
                )));
            }
            Ok(run)
        }
        Resume::Latest | Resume::LatestOrNew => {
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
                    .filter(schema::sweeps_with_key(&key).to_string())
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

/// Runs a sweep logged into `tracker`, whose URI is `options`' tracking URI (the default
/// store's when unset; see the [module docs](self)); with `resume`, continues an earlier
/// one. Nothing is written before the config's sampler and command are checked. An
/// interrupted sweep ends with its parent KILLED and its stopped trials KILLED, ready to
/// resume.
pub fn run_tracked(
    config: &SweepConfig,
    tracker: &Tracker,
    mut options: SweepOptions<'_>,
    resume: Option<Resume>,
) -> Result<TrackedSweep, SweepError> {
    validate(config)?;
    let tracking_uri = trials_see(&mut options);
    let resume = match resume {
        Some(Resume::LatestOrNew) => match find_parent(tracker, config, &Resume::Latest) {
            Ok(_) => Some(Resume::Latest),
            Err(SweepError::Resume { .. }) => None,
            Err(e) => return Err(e),
        },
        other => other,
    };
    let (mut study, resumed_trials, killed_trials) = match &resume {
        Some(resume) => {
            let parent = find_parent(tracker, config, resume)?;
            let mut study = Study::load(tracker, parent.id())?;
            if study.space() != config.space() {
                return Err(SweepError::Resume {
                    message: format!(
                        "run {} searched another space than the config's [space]; start a new sweep, \
                         or restore the [space] it searched: {}",
                        parent.id(),
                        study.space().to_json()
                    ),
                });
            }
            // Its trials so far were judged by the pruner it ran with; another would judge
            // the rest by another rule, and its record would name the first.
            let given = config.pruner().map_or(PrunerKind::None, |p| p.kind());
            if let Some(ran) = parent
                .data
                .param(schema::PRUNER_PARAM)
                .filter(|&ran| ran != given.as_str())
            {
                return Err(SweepError::Resume {
                    message: format!(
                        "run {} ran with pruner `{ran}`, the config gives `{given}`; resume it \
                         with the pruner it ran with (`--set {}={ran}`), or start a new sweep",
                        parent.id(),
                        pruner_key(prune::PrunerSpec::KIND),
                    ),
                });
            }
            study.set_sampler(&*sampler(config))?;
            // What the trials of a sweep that died left running ends before they are
            // marked killed, so a failure here leaves them for the next resume. Trials
            // of live workers of a shared sweep go on.
            let orphans = study.orphaned_trials()?;
            let leftovers: Vec<String> = orphans.iter().filter_map(|&n| study.run_id(n)).collect();
            end_leftover_trials(&leftovers, config.command().kill_grace()).map_err(|e| {
                SweepError::Resume {
                    message: format!("cannot end the processes of killed trials: {e}"),
                }
            })?;
            study.kill_running("the sweep that ran it stopped before it finished")?;
            // After the killed trials are marked: what they reported before the sweep
            // died is read back with the rest (their values count in `total_steps`, and
            // reached the rungs, as an uninterrupted sweep's would have).
            if let Some(pruner) = config.pruner() {
                study.set_pruner(&*pruner.build())?;
            }
            let counted = study.trials().results();
            let killed = study
                .trials()
                .in_state(crate::trials::TrialState::Killed)
                .count();
            (study, counted, killed)
        }
        None => {
            let mut tracking = Tracking::new(tracker.clone(), config.experiment());
            for (key, value) in config_params(config) {
                tracking = tracking.param(key, value);
            }
            let text = std::fs::read(config.path()).unwrap_or_default();
            let key = sweep_key(config);
            tracking = tracking
                .tag(CONFIG_TAG, absolute(config.path()).display().to_string())
                .tag(SWEEP_KEY_TAG, key.clone())
                .join_key(format!("sweep:{key}"))
                .artifact("sweep.toml", text);
            let mut study = study(config)?.tracking(tracking).create()?;
            if !study.joined() {
                study.log_settings(&settings(config, &options))?;
            }
            (study, 0, 0)
        }
    };
    // Serves the store to the trials until the sweep returns.
    let _endpoint = trial_endpoint(tracker, &tracking_uri, &study, &mut options)?;
    let resume_args = std::mem::take(&mut options.resume_args);
    let resume = |parent: &str| resume_command(config, &tracking_uri, parent, &resume_args);
    let mut summary = drive(config, &mut study, options).map_err(|error| {
        if let SweepError::ObjectiveNotPrinted { .. } = error {
            // A config to fix, not a store to wait for: resuming would not help.
            return error;
        }
        let parent = study.parent_run_id().unwrap_or_default();
        SweepError::Stopped {
            error: Box::new(error),
            store: absolute_tracking_uri(&tracking_uri),
            resume: resume(parent),
        }
    })?;
    summary.resume_command = study.parent_run_id().map(resume);
    let experiment_id = study
        .experiment_id()
        .cloned()
        .unwrap_or_else(ExperimentId::default_experiment);
    Ok(TrackedSweep {
        run_id: study.parent_run_id().unwrap_or_default().to_string(),
        summary,
        tracking_uri,
        experiment_id,
        resumed_trials,
        killed_trials,
        single_run: false,
        joined: study.joined(),
    })
}

/// The tracking URI of a tracked sweep (the default store's when `options` has none), as
/// given; `options` keep it as trials see it (a relative SQLite path made absolute).
fn trials_see(options: &mut SweepOptions<'_>) -> String {
    let uri = options
        .tracking_uri
        .take()
        .unwrap_or_else(|| crate::tracking::uri::DEFAULT_TRACKING_URI.to_string());
    options.tracking_uri = Some(absolute_tracking_uri(&uri));
    uri
}

/// Starts what serves the store at `tracking_uri` to the trials of `study` (see
/// [`endpoint`](super::endpoint)) and puts its URI into `options`; the store is served
/// while the result lives.
fn trial_endpoint(
    tracker: &Tracker,
    tracking_uri: &str,
    study: &Study,
    options: &mut SweepOptions<'_>,
) -> Result<TrialEndpoint, SweepError> {
    let experiment = study
        .experiment_id()
        .cloned()
        .unwrap_or_else(ExperimentId::default_experiment);
    let endpoint = TrialEndpoint::open(tracker, tracking_uri, &experiment)?;
    options.mlflow_uri = endpoint.uri().map(str::to_string);
    Ok(endpoint)
}

/// The command that resumes the sweep of `config` whose parent run is `parent`, in the
/// store at `tracking_uri`, with the command line's `args` (overrides) it ran with.
fn resume_command(
    config: &SweepConfig,
    tracking_uri: &str,
    parent: &str,
    args: &[String],
) -> String {
    let mut command = format!(
        "hyperflow{} sweep {} --resume {parent}",
        uri_arg(tracking_uri),
        super::shell_quote(&config.path().display().to_string())
    );
    for arg in args {
        command.push(' ');
        command.push_str(&super::shell_quote(arg));
    }
    command
}

/// The `--tracking-uri` argument that names `tracking_uri` on a command line (none for
/// the default store).
fn uri_arg(tracking_uri: &str) -> String {
    if tracking_uri == crate::tracking::uri::DEFAULT_TRACKING_URI {
        String::new()
    } else {
        format!(" --tracking-uri {}", super::shell_quote(tracking_uri))
    }
}

/// Runs one tracked trial of `config` at `point` (`hyperflow run CONFIG -P name=value`):
/// a single top-level run tagged `hyperflow.role=run`, with the point and the config as
/// params, the metrics, `stdout.txt`/`stderr.txt` and `sweep.toml` as artifacts.
pub fn run_point(
    config: &SweepConfig,
    point: Point,
    tracker: &Tracker,
    mut options: SweepOptions<'_>,
) -> Result<TrackedSweep, SweepError> {
    validate(config)?;
    let mut tracking = Tracking::new(tracker.clone(), config.experiment()).single_run();
    for (key, value) in config_params(config) {
        tracking = tracking.param(key, value);
    }
    let text = std::fs::read(config.path()).unwrap_or_default();
    let tracking = tracking
        .tag(CONFIG_TAG, absolute(config.path()).display().to_string())
        .artifact("sweep.toml", text);
    let mut study = study(config)?.tracking(tracking).create()?;
    let tracking_uri = trials_see(&mut options);
    options = options.points_to_evaluate([point]);
    options.max_evals = Some(1);
    options.parallel = Some(1);
    // Serves the store to the trial until the run returns.
    let _endpoint = trial_endpoint(tracker, &tracking_uri, &study, &mut options)?;
    let summary = drive(config, &mut study, options)?;
    let experiment_id = study
        .experiment_id()
        .cloned()
        .unwrap_or_else(ExperimentId::default_experiment);
    Ok(TrackedSweep {
        run_id: study.run_id(0).unwrap_or_default().to_string(),
        summary,
        tracking_uri,
        experiment_id,
        resumed_trials: 0,
        killed_trials: 0,
        single_run: true,
        joined: false,
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
