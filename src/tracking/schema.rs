//! The schema of a tracked search: every tag, param, metric and artifact name a search
//! writes into a tracking store and reads back, with typed functions to write and read
//! them. [`Study`](crate::study::Study), `fmin`, sweeps, reports, the server and the UI
//! all go through this module, so each name is spelled once.
//!
//! A tracked search is one **parent run** and one nested **child run per trial**:
//!
//! | where | name | kind | value |
//! |---|---|---|---|
//! | parent | `hyperflow.role` | tag | `search` ([`Role`]) |
//! | parent | `hyperflow.study` | tag | the study's name, for loading it by name |
//! | parent | `algo`, `seed`, `direction`, `pruner` | params | the study ([`StudyParams`]) |
//! | parent | `objective.metric` | param | the metric that is the loss (sweeps) |
//! | parent | `max_evals`, `parallelism`, ... | params | the driver's settings ([`SearchSettings`]) |
//! | parent | `space.json` | artifact | the searched space |
//! | parent | `best_loss` | metric | the best loss so far, step = its trial number |
//! | parent | `best_run_id`, `best_trial` | tags | the best trial's run and number |
//! | parent | `hyperflow.stop_reason`, `hyperflow.failed_trials`, `hyperflow.pruned_trials` | tags | how it ended ([`Ending`]) |
//! | parent | `total_steps` | metric | the intermediate values its trials reported |
//! | parent | `hyperflow.resumed` | tag | how many times it was continued |
//! | child | `mlflow.parentRunId` | tag | the parent run |
//! | child | `hyperflow.role` | tag | `trial` (`run` for a lone run of `hyperflow run`) |
//! | child | `hyperflow.trial` | tag | the trial number, from 0 |
//! | child | `hyperflow.state` | tag | [`TrialState`] as serde spells it: `RUNNING`, `COMPLETE`, `FAILED`, `PRUNED`, `KILLED` |
//! | child | `hyperflow.error` | tag | why it failed, was pruned or killed |
//! | child | params | params | the point, one param per active parameter |
//! | child | `loss` | metric | the objective's value; further metrics by their names |
//! | any | `hyperflow.imported_from` | tag | the run it was copied from, by `hyperflow import` |
//!
//! A child's run status follows its state: RUNNING while running, FINISHED when complete
//! or pruned, FAILED when failed, KILLED when killed.

use serde::de::value::StrDeserializer;
use serde::{Deserialize, Serialize};

use super::filter::{Clause, Filter, RunAttribute};
use super::model::{Metric, Param, Run, RunStatus, Tag, tags};
use super::selected::SelectedRun;
use crate::space::{Point, PointError, Space};
use crate::study::StopReason;
use crate::trials::{Direction, Trial, TrialState};

/// Tag naming what a run is in a search ([`Role`]).
pub const ROLE_TAG: &str = "hyperflow.role";
/// Child-run tag holding the trial's number.
pub const TRIAL_TAG: &str = "hyperflow.trial";
/// Child-run tag holding the trial's [`TrialState`].
pub const STATE_TAG: &str = "hyperflow.state";
/// Child-run tag holding the highest step the trial reported an intermediate value at,
/// when it reported any: the objective metric's points up to it are the reports, a later
/// one is the trial's final value.
pub const LAST_STEP_TAG: &str = "hyperflow.last_step";
/// Tag holding why a run failed (also set by [`Tracker::with_run`](super::Tracker::with_run)).
pub const ERROR_TAG: &str = "hyperflow.error";
/// Parent-run tag holding the study's name.
pub const STUDY_TAG: &str = "hyperflow.study";
/// Parent-run tag holding why the search stopped ([`StopReason::as_str`]).
pub const STOP_REASON_TAG: &str = "hyperflow.stop_reason";
/// Parent-run tag counting the failed trials when the search stopped.
pub const FAILED_TRIALS_TAG: &str = "hyperflow.failed_trials";
/// Parent-run tag counting the pruned trials when the search stopped.
pub const PRUNED_TRIALS_TAG: &str = "hyperflow.pruned_trials";
/// Parent-run metric counting the intermediate values (steps) trials reported, pruned
/// ones included: the work a search spent, which pruning saves.
pub const TOTAL_STEPS_METRIC: &str = "total_steps";
/// Parent-run tag counting how many times the search was continued.
pub const RESUMED_TAG: &str = "hyperflow.resumed";
/// Parent-run tag of a sweep: its config file's absolute path.
pub const CONFIG_TAG: &str = "hyperflow.config";
/// Parent-run tag of a sweep: the key that finds it again for `--resume`.
pub const SWEEP_KEY_TAG: &str = "hyperflow.sweep_key";
/// Parent-run tag holding the best trial's run id.
pub const BEST_RUN_TAG: &str = "best_run_id";
/// Parent-run tag holding the best trial's number.
pub const BEST_TRIAL_TAG: &str = "best_trial";
/// Parent-run metric holding the best loss so far, with the trial number as step.
pub const BEST_LOSS_METRIC: &str = "best_loss";
/// Child-run metric holding the trial's loss.
pub const LOSS_METRIC: &str = "loss";
/// Parent-run artifact holding the searched space as JSON.
pub const SPACE_ARTIFACT: &str = "space.json";
/// Tag of a run copied by `hyperflow import` ([`super::import`]): the id of the run it
/// was copied from (the first source's, when that run was itself a copy).
pub const IMPORTED_FROM_TAG: &str = "hyperflow.imported_from";
/// The tag that nests a child run under its parent (MLflow's).
pub const PARENT_TAG: &str = tags::PARENT_RUN_ID;

/// Parent-run param: the sampler's name.
pub const ALGO_PARAM: &str = "algo";
/// Parent-run param: the pruner's name (`none` without one).
pub const PRUNER_PARAM: &str = "pruner";
/// Parent-run param: the search's seed.
pub const SEED_PARAM: &str = "seed";
/// Parent-run param: `minimize` or `maximize`.
pub const DIRECTION_PARAM: &str = "direction";
/// Parent-run param: the metric whose value is the loss (default [`LOSS_METRIC`]).
pub const OBJECTIVE_METRIC_PARAM: &str = "objective.metric";

/// The parent-run param of a pruner setting, beside the kind's [`PRUNER_PARAM`]
/// (`pruner.reduction_factor`; a sweep's `pruner.grace` too).
pub fn pruner_setting_param(key: impl std::fmt::Display) -> String {
    format!("{PRUNER_PARAM}.{key}")
}

/// The parent-run params of the settings a pruner was given, each as written (`pruner.
/// reduction_factor` = `3`); defaults are not written.
pub fn pruner_params(spec: &crate::prune::PrunerSpec) -> Vec<(String, String)> {
    spec.given()
        .map(|(key, value)| (pruner_setting_param(key), value.as_written()))
        .collect()
}

/// What a run is in a search, as its [`ROLE_TAG`] says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Role {
    /// The parent run of a search.
    Search,
    /// A trial of a search (a child run).
    Trial,
    /// A lone evaluation of one point (`hyperflow run -P ...`), not nested.
    Run,
}

/// A unit enum's serde name (`Role::Search` → `search`, `TrialState::Complete` →
/// `COMPLETE`): the one spelling stored.
pub(crate) fn serde_name<T: Serialize>(value: T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        // Only unit variants are stored this way.
        other => unreachable!("not a unit variant: {other:?}"),
    }
}

/// Reads a unit enum back from its serde name.
pub(crate) fn from_serde_name<T: for<'de> Deserialize<'de>>(text: &str) -> Option<T> {
    T::deserialize(StrDeserializer::<serde::de::value::Error>::new(text.trim())).ok()
}

/// What this schema reads of a run to tell which trial it is: its status and its tags. A
/// [`Run`] has them, and so has a [`SelectedRun`] of a whole search's read.
pub trait RunTags {
    /// The run's status.
    fn status(&self) -> RunStatus;
    /// The value of its tag `key`, if it has one (or, for a [`SelectedRun`], if it was read).
    fn tag(&self, key: &str) -> Option<&str>;
}

impl<T: RunTags + ?Sized> RunTags for &T {
    fn status(&self) -> RunStatus {
        (**self).status()
    }

    fn tag(&self, key: &str) -> Option<&str> {
        (**self).tag(key)
    }
}

impl RunTags for Run {
    fn status(&self) -> RunStatus {
        self.info.status
    }

    fn tag(&self, key: &str) -> Option<&str> {
        self.data.tag(key)
    }
}

impl RunTags for SelectedRun<'_> {
    fn status(&self) -> RunStatus {
        SelectedRun::status(self)
    }

    fn tag(&self, key: &str) -> Option<&str> {
        SelectedRun::tag(self, key)
    }
}

impl Role {
    /// The tag that gives a run this role.
    pub fn tag(self) -> Tag {
        Tag::new(ROLE_TAG, serde_name(self))
    }

    /// The role of `run`, if it has one.
    pub fn of(run: &impl RunTags) -> Option<Role> {
        run.tag(ROLE_TAG).and_then(from_serde_name)
    }
}

/// The tag recording a trial's state.
pub fn state_tag(state: TrialState) -> Tag {
    Tag::new(STATE_TAG, serde_name(state))
}

/// The run status a trial in `state` is stored with.
pub fn run_status(state: TrialState) -> RunStatus {
    match state {
        TrialState::Running => RunStatus::Running,
        TrialState::Failed => RunStatus::Failed,
        TrialState::Killed => RunStatus::Killed,
        _ => RunStatus::Finished,
    }
}

/// The state of the trial stored in `run`: its [`STATE_TAG`], or for runs without one,
/// what its status says (FINISHED complete, FAILED failed, KILLED killed, else running).
/// A state tag that says the trial still runs, on a run that has ended, is not believed:
/// the run's status wins.
pub fn trial_state(run: &impl RunTags) -> TrialState {
    let by_status = match run.status() {
        RunStatus::Finished => TrialState::Complete,
        RunStatus::Failed => TrialState::Failed,
        RunStatus::Killed => TrialState::Killed,
        RunStatus::Running | RunStatus::Scheduled => TrialState::Running,
    };
    match run.tag(STATE_TAG).and_then(from_serde_name) {
        Some(TrialState::Running) | None => by_status,
        Some(state) => state,
    }
}

/// The run `run` is a copy of ([`IMPORTED_FROM_TAG`]), else `run` itself: the id an
/// import recognizes a run by.
pub fn origin_run_id(run: &Run) -> &str {
    run.data.tag(IMPORTED_FROM_TAG).unwrap_or(run.id())
}

/// The trial number of `run`, when it is a trial.
pub fn trial_number(run: &impl RunTags) -> Option<usize> {
    run.tag(TRIAL_TAG)?.trim().parse().ok()
}

/// The tags a trial's run starts with: nested under `parent` as trial `number` (role
/// [`Role::Trial`]), or, without a parent, a lone run ([`Role::Run`]).
pub fn trial_start_tags(parent: Option<&str>, number: usize) -> Vec<Tag> {
    match parent {
        Some(parent) => vec![
            Tag::new(PARENT_TAG, parent),
            Role::Trial.tag(),
            Tag::new(TRIAL_TAG, number.to_string()),
            state_tag(TrialState::Running),
        ],
        None => vec![Role::Run.tag(), state_tag(TrialState::Running)],
    }
}

/// A trial's point as params: one per active parameter, its value as text.
pub fn point_params(point: &Point) -> Vec<Param> {
    point
        .iter()
        .map(|(k, v)| Param::new(k, v.to_string()))
        .collect()
}

/// What a finished trial writes into its run: the metrics (`loss`; the loss again under
/// the search's `objective` metric when that is another name the trial's own metrics do
/// not hold; and those, at step 0 and `timestamp`), the tags (state, and the reason when
/// it did not complete, and the [`LAST_STEP_TAG`] when it reported), and the run status.
pub fn trial_end(
    trial: &Trial,
    objective: &str,
    timestamp: i64,
) -> (Vec<Metric>, Vec<Tag>, RunStatus) {
    let at = |key: &str, value: f64| Metric {
        timestamp,
        ..Metric::new(key, value)
    };
    let named = objective == LOSS_METRIC || trial.metrics.iter().any(|(k, _)| k == objective);
    let names = std::iter::once(LOSS_METRIC).chain((!named).then_some(objective));
    let mut metrics: Vec<Metric> = match trial.loss {
        Some(loss) => names.map(|name| at(name, loss)).collect(),
        None => Vec::new(),
    };
    metrics.extend(trial.metrics.iter().map(|(k, v)| at(k, *v)));
    let mut tags = vec![state_tag(trial.state)];
    if let Some(step) = trial.last_step {
        tags.push(Tag::new(LAST_STEP_TAG, step.to_string()));
    }
    if let Some(error) = &trial.error {
        tags.push(Tag::new(
            ERROR_TAG,
            truncate(error, super::store::MAX_TAG_VALUE_LENGTH),
        ));
    }
    (metrics, tags, run_status(trial.state))
}

/// What the parent records when `trial` (whose run is `run_id`) becomes the best: the
/// `best_loss` metric at `step` (the trial's number, unless the parent holds a
/// `best_loss` at a later step, which the new best must follow to be the latest value),
/// and the `best_run_id` / `best_trial` tags.
pub fn best_update(trial: &Trial, run_id: &str, step: i64) -> (Vec<Metric>, Vec<Tag>) {
    let metrics = trial
        .loss
        .map(|loss| Metric::at_step(BEST_LOSS_METRIC, loss, step))
        .into_iter()
        .collect();
    let tags = vec![
        Tag::new(BEST_RUN_TAG, run_id),
        Tag::new(BEST_TRIAL_TAG, trial.number.to_string()),
    ];
    (metrics, tags)
}

/// How a search ended, as its parent run records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ending {
    /// Why it stopped.
    pub reason: StopReason,
    /// How many of its trials failed.
    pub failed: usize,
    /// How many were pruned.
    pub pruned: usize,
    /// How many intermediate values its trials reported.
    pub steps: usize,
}

impl Ending {
    /// The parent's tags (stop reason, failed and pruned counts) and metrics (total
    /// steps).
    pub fn record(&self) -> (Vec<Metric>, Vec<Tag>) {
        let tags = vec![
            Tag::new(STOP_REASON_TAG, self.reason.as_str()),
            Tag::new(FAILED_TRIALS_TAG, self.failed.to_string()),
            Tag::new(PRUNED_TRIALS_TAG, self.pruned.to_string()),
        ];
        let metrics = vec![Metric::new(TOTAL_STEPS_METRIC, self.steps as f64)];
        (metrics, tags)
    }
}

/// The parent's [`RESUMED_TAG`] after one more continuation.
pub fn resumed_tag(parent: &Run) -> Tag {
    let before: u64 = parent
        .data
        .tag(RESUMED_TAG)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    Tag::new(RESUMED_TAG, (before + 1).to_string())
}

/// What a study is, as its parent run's params record it.
#[derive(Debug, Clone, PartialEq)]
pub struct StudyParams {
    /// The sampler's name (`tpe`, `random`, `grid`, ...).
    pub algo: String,
    /// The seed trial `i` draws its randomness from, with `i`.
    pub seed: u64,
    /// Whether the loss is minimized or maximized.
    pub direction: Direction,
    /// The pruner's name (`none`, `asha`, ...) it started with; `None` for a search stored
    /// before pruners were recorded.
    pub pruner: Option<String>,
}

impl StudyParams {
    /// As parent-run params.
    pub fn to_params(&self) -> Vec<Param> {
        vec![
            Param::new(ALGO_PARAM, &self.algo),
            Param::new(SEED_PARAM, self.seed.to_string()),
            Param::new(DIRECTION_PARAM, self.direction.as_str()),
        ]
        .into_iter()
        .chain(self.pruner.as_ref().map(|p| Param::new(PRUNER_PARAM, p)))
        .collect()
    }

    /// Reads them from a search's parent run.
    pub fn read(parent: &Run) -> Result<StudyParams, SchemaError> {
        let param = |key: &'static str| {
            parent
                .data
                .param(key)
                .ok_or_else(|| SchemaError::missing(parent, key))
        };
        let invalid =
            |key: &'static str, value: &str, expected: &'static str| SchemaError::Invalid {
                run_id: parent.info.run_id.clone(),
                key,
                value: value.to_string(),
                expected,
            };
        let seed = param(SEED_PARAM)?;
        let direction = param(DIRECTION_PARAM)?;
        Ok(StudyParams {
            algo: param(ALGO_PARAM)?.to_string(),
            seed: seed
                .parse()
                .map_err(|_| invalid(SEED_PARAM, seed, "an unsigned 64-bit integer"))?,
            direction: from_serde_name(direction)
                .ok_or_else(|| invalid(DIRECTION_PARAM, direction, "`minimize` or `maximize`"))?,
            pruner: parent.data.param(PRUNER_PARAM).map(str::to_string),
        })
    }
}

/// The metric whose value is the loss of `parent`'s trials: its
/// [`OBJECTIVE_METRIC_PARAM`], else [`LOSS_METRIC`].
pub fn objective_metric(parent: &Run) -> &str {
    parent
        .data
        .param(OBJECTIVE_METRIC_PARAM)
        .unwrap_or(LOSS_METRIC)
}

/// The settings of the loop that drives a search (`fmin`, a sweep), as the parent run's
/// params record them when the search starts.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchSettings {
    /// The total number of trials, if the driver knows it (a hand-driven study's budget
    /// may come with each ask instead).
    pub max_evals: Option<usize>,
    /// How many trials run at once.
    pub parallelism: usize,
    /// `async` or `batch`.
    pub schedule: &'static str,
    /// The time limit, if any.
    pub timeout: Option<std::time::Duration>,
    /// The loss at which the search stops, if any.
    pub loss_threshold: Option<f64>,
    /// Stop after this many trials without improvement, if set.
    pub early_stop_after: Option<usize>,
    /// Trials carried over from an earlier search.
    pub warm_start_trials: usize,
}

impl SearchSettings {
    /// As parent-run params (`none` for settings that are off).
    pub fn to_params(&self) -> Vec<Param> {
        let optional = |v: Option<String>| v.unwrap_or_else(|| "none".to_string());
        vec![
            Param::new("max_evals", optional(self.max_evals.map(|n| n.to_string()))),
            Param::new("parallelism", self.parallelism.to_string()),
            Param::new("schedule", self.schedule),
            Param::new(
                "timeout",
                optional(self.timeout.map(|t| format!("{}s", t.as_secs_f64()))),
            ),
            Param::new(
                "loss_threshold",
                optional(self.loss_threshold.map(|t| t.to_string())),
            ),
            Param::new(
                "early_stop_after",
                optional(self.early_stop_after.map(|n| n.to_string())),
            ),
            Param::new("warm_start_trials", self.warm_start_trials.to_string()),
        ]
    }
}

/// Reads trial `run` of a search over `space` back, with its loss from `metric`. Params
/// that are not parameters of the space are left out of the point. A complete trial whose
/// metric was never logged reads as failed, saying so.
pub fn read_trial(run: &Run, space: &Space, metric: &str) -> Result<Trial, SchemaError> {
    let number = trial_number(run).ok_or_else(|| SchemaError::missing(run, TRIAL_TAG))?;
    let point = space
        .point_from_text(
            run.data
                .params
                .iter()
                .filter(|p| space.index_of(&p.key).is_some())
                .map(|p| (p.key.as_str(), p.value.as_str())),
        )
        .map_err(|source| SchemaError::Point {
            run_id: run.info.run_id.clone(),
            number,
            source,
        })?;
    let x = space.encode(&point).map_err(|source| SchemaError::Point {
        run_id: run.info.run_id.clone(),
        number,
        source,
    })?;
    let mut trial = Trial::running(number, x, point);
    trial.started =
        std::time::UNIX_EPOCH + std::time::Duration::from_millis(run.info.start_time.max(0) as u64);
    trial.duration = run
        .info
        .end_time
        .map(|end| std::time::Duration::from_millis((end - run.info.start_time).max(0) as u64));
    trial.state = trial_state(run);
    trial.error = run.data.tag(ERROR_TAG).map(str::to_string);
    trial.last_step = run.data.tag(LAST_STEP_TAG).and_then(|s| s.parse().ok());
    trial.metrics = run
        .data
        .metrics
        .iter()
        .filter(|m| m.key != LOSS_METRIC && m.key != metric)
        .map(|m| (m.key.clone(), m.value))
        .collect();
    let latest = run.data.metrics.iter().find(|m| m.key == metric);
    match (trial.state, latest) {
        (TrialState::Complete, Some(m)) => trial.loss = Some(m.value),
        (TrialState::Complete, None) => {
            trial.state = TrialState::Failed;
            trial.error = Some(format!("metric `{metric}` was never logged"));
        }
        // A pruned trial's loss is its last reported value, logged at its last step
        // (which runs written before the `LAST_STEP_TAG` only tell this way).
        (TrialState::Pruned, Some(m)) => {
            trial.loss = Some(m.value);
            trial.last_step = trial.last_step.or(u64::try_from(m.step).ok());
        }
        _ => {}
    }
    Ok(trial)
}

/// The filter that finds the child runs of `parent_run_id`.
pub fn children_of(parent_run_id: &str) -> Filter {
    Filter::new().and(Clause::tag(PARENT_TAG).eq(parent_run_id))
}

/// The filter that finds the parent runs of searches named `name`.
pub fn studies_named(name: &str) -> Filter {
    Filter::new()
        .and(Clause::tag(STUDY_TAG).eq(name))
        .and(Clause::tag(ROLE_TAG).eq(serde_name(Role::Search)))
}

/// The filter that finds the parent runs of sweeps with this key.
pub fn sweeps_with_key(key: &str) -> Filter {
    Filter::new().and(Clause::tag(SWEEP_KEY_TAG).eq(key))
}

/// The filter that finds the runs with these ids.
pub fn runs_with_ids(run_ids: &[String]) -> Filter {
    Filter::new().and(Clause::attribute(RunAttribute::RUN_ID).is_in(run_ids.iter().cloned()))
}

fn truncate(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}

/// A run that does not hold what the schema says it should.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SchemaError {
    /// A tag or param the search writes is missing.
    #[error("run {run_id} has no `{key}`: it was not written by a hyperflow search")]
    Missing {
        /// The run.
        run_id: String,
        /// The tag or param.
        key: &'static str,
    },
    /// A tag or param holds a value the search never writes.
    #[error("run {run_id}: `{key}` is {value:?}, expected {expected}")]
    Invalid {
        /// The run.
        run_id: String,
        /// The tag or param.
        key: &'static str,
        /// What it holds.
        value: String,
        /// What it should hold.
        expected: &'static str,
    },
    /// A trial's params do not make a point of the search's space.
    #[error("run {run_id} (trial {number}) does not fit the search's space: {source}")]
    Point {
        /// The trial's run.
        run_id: String,
        /// The trial's number.
        number: usize,
        /// What does not fit.
        source: PointError,
    },
}

impl SchemaError {
    fn missing(run: &Run, key: &'static str) -> Self {
        SchemaError::Missing {
            run_id: run.info.run_id.clone(),
            key,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracking::filter::Literal;

    #[test]
    fn names_are_spelled_as_users_read_them() {
        assert_eq!(Role::Search.tag(), Tag::new("hyperflow.role", "search"));
        assert_eq!(state_tag(TrialState::Pruned).value, "PRUNED");
        assert_eq!(state_tag(TrialState::Killed).value, "KILLED");
        assert_eq!(
            children_of("a'b").to_string(),
            "tags.mlflow.parentRunId = 'a''b'"
        );
        let parsed = crate::tracking::filter::parse_filter(&studies_named("x`y'z").to_string())
            .expect("the filter parses");
        assert_eq!(parsed.clauses[0].value, Literal::Str("x`y'z".into()));
    }

    #[test]
    fn a_trials_run_gets_its_loss_under_the_objectives_name_once() {
        let trial = |metrics: &[(&str, f64)]| {
            let mut outcome = crate::fmin::Outcome::loss(0.3);
            outcome.metrics = metrics.iter().map(|&(k, v)| (k.to_string(), v)).collect();
            Trial::running(0, vec![], crate::Point::default())
                .finished(outcome, std::time::Duration::ZERO)
        };
        let written = |trial: &Trial, objective: &str| -> Vec<(String, f64)> {
            let (metrics, _, status) = trial_end(trial, objective, 7);
            assert_eq!(status, RunStatus::Finished);
            metrics.into_iter().map(|m| (m.key, m.value)).collect()
        };
        let pair = |k: &str, v: f64| (k.to_string(), v);
        let acc = trial(&[("acc", 0.9)]);
        assert_eq!(
            written(&acc, "val_loss"),
            [pair("loss", 0.3), pair("val_loss", 0.3), pair("acc", 0.9)]
        );
        assert_eq!(written(&acc, "loss"), [pair("loss", 0.3), pair("acc", 0.9)]);
        let own = trial(&[("val_loss", 0.3), ("acc", 0.9)]);
        assert_eq!(
            written(&own, "val_loss"),
            [pair("loss", 0.3), pair("val_loss", 0.3), pair("acc", 0.9)],
            "the trial's own value is not written twice"
        );
    }
}
