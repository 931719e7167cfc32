//! Reading a report's trials from a tracking store, and logging a report back onto a run.
//!
//! [`from_store`] turns runs into a [`ReportInput`]: one [`TrialSet`] per sweep or
//! experiment. It reads what [`TrackingObserver`](crate::tracking::TrackingObserver) (and
//! `hyperflow sweep`) write:
//!
//! - a **sweep** is a parent run whose trials are child runs (tag `mlflow.parentRunId`); the
//!   trial number is the child's `hyperflow.trial` tag, its loss the child's metric named by
//!   [`StoreOptions::metric`], else by the parent's param `objective.metric`, else `loss`;
//! - the parent's param `direction` (`minimize`/`maximize`) gives the direction, its
//!   artifact `space.json` the searched space (without it, kinds are inferred from the
//!   values, which are read with [`parse_param_value`](super::parse_param_value));
//! - run status maps to trial state: FINISHED → Complete, FAILED → Failed, KILLED →
//!   Pruned, RUNNING/SCHEDULED → Running; the `hyperflow.error` tag is the failure reason.
//!
//! Reading is one [`Tracker::select_runs`] per source, which reads only what a report
//! looks at (params, the objective metric when it is known before the runs are read, and
//! the tags that say a run's sweep, role, number, state and failure reason), plus, per sweep parent, one small artifact read for
//! `space.json`; there is no query per trial.

use std::collections::{HashMap, HashSet};

use super::input::{ReportInput, ReportTrial, TrialSet, parse_param_value};
use super::model::Report;
use super::{ReportError, render};
use crate::space::{Dist, Point, Space, Value};
use crate::tracking::model::tags;
use crate::tracking::{
    ExperimentId, ExperimentQuery, Run, RunFields, SearchRuns, SelectedRun, SelectedRuns,
    StoreError, Tracker,
};
use crate::trials::{Direction, TrialState};

/// Artifact directory [`log_artifacts`] writes into.
pub const REPORT_ARTIFACT_DIR: &str = "report";

use crate::tracking::schema::{
    self, DIRECTION_PARAM, ERROR_TAG, OBJECTIVE_METRIC_PARAM, ROLE_TAG, Role, SPACE_ARTIFACT,
    STATE_TAG, TRIAL_TAG,
};

/// The tags a report reads of each run: which sweep a trial belongs to, its role, number,
/// state and failure reason.
const REPORT_TAGS: [&str; 5] = [
    tags::PARENT_RUN_ID,
    ROLE_TAG,
    TRIAL_TAG,
    STATE_TAG,
    ERROR_TAG,
];

/// Which runs a report is made of.
///
/// ```
/// use hyperflow::report::ReportSource;
/// let one_sweep = ReportSource::Parent("4f0c…".into());
/// let two_datasets = ReportSource::Experiments(vec!["iris".into(), "wine".into()]);
/// let filtered = ReportSource::Filter {
///     filter: "params.criterion = 'gini'".into(),
///     experiments: vec![],
/// };
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ReportSource {
    /// One sweep: the child runs of this parent run. One group.
    Parent(String),
    /// Experiments, by name or id: one group each, made of the trials of every sweep in it
    /// (or of its runs, when none is nested). Two or more give house ranges.
    Experiments(Vec<String>),
    /// The runs matching an MLflow filter (`params.model = 'tree'`, `metrics.loss < 1`,
    /// ...), one group per experiment they belong to. The filter selects trial runs; sweep
    /// parents it matches are not trials.
    Filter {
        /// The filter, in MLflow's search language.
        filter: String,
        /// Experiments to search, by name or id; every active experiment when empty.
        experiments: Vec<String>,
    },
}

/// How runs are read into trials; the defaults follow what `fmin` and sweeps log.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoreOptions {
    metric: Option<String>,
    direction: Option<Direction>,
}

impl StoreOptions {
    /// The metric that is the loss, overriding the parent's `objective_metric` param and
    /// the default `loss`.
    pub fn metric(mut self, name: impl Into<String>) -> Self {
        self.metric = Some(name.into());
        self
    }

    /// The direction, overriding the parent's `direction` param (needed for runs that are
    /// not logged by a search, when higher is better).
    pub fn direction(mut self, direction: Direction) -> Self {
        self.direction = Some(direction);
        self
    }
}

/// What [`from_store`] read: the report input and where its trials came from.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreInput {
    /// The trials, one group per sweep or experiment, ready for [`analyze`](super::analyze).
    pub input: ReportInput,
    /// Per group, the ids of the sweep parent runs its trials are children of (empty for
    /// runs that are not nested).
    pub parent_run_ids: Vec<Vec<String>>,
}

impl StoreInput {
    /// The parent run, when the report covers exactly one sweep: where
    /// [`log_artifacts`] puts the report.
    pub fn sole_parent(&self) -> Option<&str> {
        let mut all = self.parent_run_ids.iter().flatten();
        match (all.next(), all.next()) {
            (Some(id), None) => Some(id.as_str()),
            _ => None,
        }
    }
}

/// Reads the trials of `source` from the store behind `tracker`.
///
/// Errors: [`ReportError::RunNotFound`] / [`ReportError::ExperimentNotFound`] for a parent
/// run or experiment that does not exist, [`ReportError::NoTrials`] when the source has no
/// run to report on, [`ReportError::MixedDirections`] when sweeps disagree on the
/// direction, [`ReportError::RunData`] for an unreadable `direction` param or `space.json`,
/// [`ReportError::Store`] for anything the store reports (an invalid filter, say).
///
/// ```
/// use hyperflow::report::{self, ReportOptions, ReportSource, StoreOptions};
/// use hyperflow::study::Tracking;
/// use hyperflow::tracking::Tracker;
/// use hyperflow::{Point, Space, fmin};
///
/// let dir = tempfile::tempdir()?;
/// let tracker = Tracker::open(&format!("sqlite:///{}/runs.db", dir.path().display()))?;
/// let space = Space::builder().uniform("x", -2.0, 2.0).build()?;
/// let result = fmin(|p: &Point| p.get::<f64>("x").map(|x| x * x), &space)
///     .max_evals(30)
///     .progress(false)
///     .tracking(Tracking::new(tracker.clone(), "demo"))
///     .run()?;
/// let parent = result.parent_run_id().expect("tracked").to_string();
/// let read = report::from_store(&tracker, &ReportSource::Parent(parent), &StoreOptions::default())?;
/// assert_eq!(read.input.groups[0].trials.len(), 30);
/// let report = report::analyze(&read.input, &ReportOptions::default())?;
/// print!("{}", report::render::terminal(&report));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn from_store(
    tracker: &Tracker,
    source: &ReportSource,
    options: &StoreOptions,
) -> Result<StoreInput, ReportError> {
    let groups = match source {
        ReportSource::Parent(run_id) => vec![sweep_group(tracker, run_id, options)?],
        ReportSource::Experiments(names) => {
            if names.is_empty() {
                return Err(ReportError::NoTrials("no experiment was named".to_string()));
            }
            let mut groups = Vec::with_capacity(names.len());
            for name in names {
                let (id, exp_name) = find_experiment(tracker, name)?;
                let runs = select_all(tracker, SearchRuns::new().experiment(&id), options)?;
                let (trials, parents) = classify(runs.iter().collect());
                if trials.is_empty() {
                    return Err(ReportError::NoTrials(format!(
                        "experiment `{exp_name}` has no trial runs"
                    )));
                }
                groups.push(build_group(tracker, exp_name, trials, &parents, options)?);
            }
            groups
        }
        ReportSource::Filter {
            filter,
            experiments,
        } => filter_groups(tracker, filter, experiments, options)?,
    };
    let mut direction: Option<(Direction, String)> = None;
    for g in groups.iter().filter(|_| options.direction.is_none()) {
        if let Some(d) = g.direction {
            match &direction {
                Some((first, name)) if *first != d => {
                    return Err(ReportError::MixedDirections(format!(
                        "`{name}` is {} but `{}` is {}; report them separately",
                        first.as_str(),
                        g.set.name,
                        d.as_str()
                    )));
                }
                Some(_) => {}
                None => direction = Some((d, g.set.name.clone())),
            }
        }
    }
    let direction = options
        .direction
        .or(direction.map(|(d, _)| d))
        .unwrap_or_default();
    let mut input = ReportInput {
        direction,
        groups: Vec::with_capacity(groups.len()),
    };
    let mut parent_run_ids = Vec::with_capacity(groups.len());
    for g in groups {
        input.groups.push(g.set);
        parent_run_ids.push(g.parents);
    }
    Ok(StoreInput {
        input,
        parent_run_ids,
    })
}

/// Writes the report onto run `run_id` (a sweep's parent) as artifacts under `report/`:
/// every plot as `report/plots/<name>.svg`, `report/report.html`, `report/report.json`
/// and, when the recommendation makes a valid space, `report/next_space.toml`. Returns the
/// artifact paths written.
pub fn log_artifacts(
    tracker: &Tracker,
    run_id: &str,
    report: &Report,
) -> Result<Vec<String>, ReportError> {
    let repo = tracker
        .artifacts(run_id)
        .map_err(|e| not_found_as(e, || ReportError::RunNotFound(run_id.to_string())))?;
    let mut written = Vec::new();
    let mut put = |path: String, bytes: &[u8]| -> Result<(), ReportError> {
        repo.write_bytes(&path, bytes)?;
        written.push(path);
        Ok(())
    };
    for plot in report.plots()? {
        put(
            format!("{REPORT_ARTIFACT_DIR}/plots/{}", plot.file_name),
            plot.svg.as_bytes(),
        )?;
    }
    put(
        format!("{REPORT_ARTIFACT_DIR}/report.html"),
        render::html(report)?.as_bytes(),
    )?;
    put(
        format!("{REPORT_ARTIFACT_DIR}/report.json"),
        render::json(report)?.as_bytes(),
    )?;
    if let Ok(toml) = report.next_space_toml() {
        put(
            format!("{REPORT_ARTIFACT_DIR}/next_space.toml"),
            toml.as_bytes(),
        )?;
    }
    Ok(written)
}

/// One group as read: the trial set, the direction its parents declare, and its parents.
struct Group {
    set: TrialSet,
    direction: Option<Direction>,
    parents: Vec<String>,
}

fn not_found_as(e: StoreError, f: impl FnOnce() -> ReportError) -> ReportError {
    match e {
        StoreError::NotFound(_) => f(),
        e => ReportError::Store(e),
    }
}

/// The runs `search` matches, with what a report reads of them: [`REPORT_TAGS`] and the
/// metric `options` names (every metric when it names none: each sweep's objective is
/// known only once its parent is read).
fn select_all(
    tracker: &Tracker,
    search: SearchRuns,
    options: &StoreOptions,
) -> Result<SelectedRuns, ReportError> {
    select_with_metric(tracker, search, options.metric.as_deref())
}

/// The runs `search` matches, with [`REPORT_TAGS`] and metric `metric` (every metric when
/// `None`).
fn select_with_metric(
    tracker: &Tracker,
    search: SearchRuns,
    metric: Option<&str>,
) -> Result<SelectedRuns, ReportError> {
    let fields = RunFields::default().tags(REPORT_TAGS);
    let fields = match metric {
        Some(m) => fields.metrics([m]),
        None => fields,
    };
    Ok(tracker.select_runs(&search, &fields)?)
}

fn find_experiment(
    tracker: &Tracker,
    name_or_id: &str,
) -> Result<(ExperimentId, String), ReportError> {
    match tracker.find_experiment(name_or_id) {
        Ok(e) => Ok((e.experiment_id, e.name)),
        Err(StoreError::NotFound(message)) => Err(ReportError::ExperimentNotFound(message)),
        Err(e) => Err(e.into()),
    }
}

fn sweep_group(
    tracker: &Tracker,
    run_id: &str,
    options: &StoreOptions,
) -> Result<Group, ReportError> {
    let parent = tracker
        .get_run(run_id)
        .map_err(|e| not_found_as(e, || ReportError::RunNotFound(run_id.to_string())))?;
    let children = select_with_metric(
        tracker,
        SearchRuns::new()
            .experiment(&parent.info.experiment_id)
            .filter(schema::children_of(&parent.info.run_id).to_string()),
        Some(objective_metric(options, Some(&parent))),
    )?;
    if children.is_empty() {
        return Err(ReportError::NoTrials(format!(
            "run `{run_id}` has no child runs; pass the parent run of a sweep"
        )));
    }
    let name = parent.info.run_name.clone();
    let parents = HashMap::from([(parent.info.run_id.clone(), parent)]);
    build_group(tracker, name, children.iter().collect(), &parents, options)
}

fn filter_groups(
    tracker: &Tracker,
    filter: &str,
    experiments: &[String],
    options: &StoreOptions,
) -> Result<Vec<Group>, ReportError> {
    let mut scope: Vec<(ExperimentId, String)> = Vec::new();
    if experiments.is_empty() {
        scope.extend(
            tracker
                .search_all_experiments(&ExperimentQuery::default())?
                .into_iter()
                .map(|e| (e.experiment_id, e.name)),
        );
    } else {
        for name in experiments {
            scope.push(find_experiment(tracker, name)?);
        }
    }
    let runs = select_all(
        tracker,
        SearchRuns::new()
            .experiments(scope.iter().map(|(id, _)| id.clone()))
            .filter(filter),
        options,
    )?;
    let matched = runs.len();
    let mut by_experiment: HashMap<&str, Vec<SelectedRun<'_>>> = HashMap::new();
    for run in runs.iter() {
        by_experiment
            .entry(run.experiment_id())
            .or_default()
            .push(run);
    }
    let mut groups = Vec::new();
    for (id, name) in &scope {
        let Some(runs) = by_experiment.remove(id.as_str()) else {
            continue;
        };
        let (trials, mut parents) = classify(runs);
        if trials.is_empty() {
            continue;
        }
        // Parents the filter did not match: one search for all of them.
        let missing: Vec<String> = trials
            .iter()
            .filter_map(|r| r.tag(tags::PARENT_RUN_ID))
            .filter(|p| !parents.contains_key(*p))
            .map(str::to_string)
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        for chunk in missing.chunks(500) {
            let found = select_all(
                tracker,
                SearchRuns::new()
                    .experiment(id)
                    .filter(schema::runs_with_ids(chunk).to_string()),
                options,
            )?;
            parents.extend(found.iter().map(|r| (r.run_id().to_string(), r.to_run())));
        }
        groups.push(build_group(
            tracker,
            name.clone(),
            trials,
            &parents,
            options,
        )?);
    }
    if groups.is_empty() {
        return Err(ReportError::NoTrials(if matched == 0 {
            format!("no run matches the filter `{filter}`")
        } else {
            format!(
                "the filter `{filter}` matches {matched} sweep parent run(s) but no trial; \
                 a filter selects trial runs (report a sweep with its parent run id)"
            )
        }));
    }
    Ok(groups)
}

/// Splits runs into trials and the sweep parents among them (read whole). Trials are the
/// nested runs that have no children of their own; when no run is nested, every run that
/// is not a search's parent.
fn classify(runs: Vec<SelectedRun<'_>>) -> (Vec<SelectedRun<'_>>, HashMap<String, Run>) {
    let with_children: HashSet<&str> = runs
        .iter()
        .filter_map(|r| r.tag(tags::PARENT_RUN_ID))
        .collect();
    let (parents, rest): (Vec<_>, Vec<_>) = runs
        .into_iter()
        .partition(|r| with_children.contains(r.run_id()) || Role::of(r) == Some(Role::Search));
    let nested = rest.iter().any(|r| r.tag(tags::PARENT_RUN_ID).is_some());
    let trials = if nested {
        rest.into_iter()
            .filter(|r| r.tag(tags::PARENT_RUN_ID).is_some())
            .collect()
    } else {
        rest
    };
    let parents = parents
        .into_iter()
        .map(|r| (r.run_id().to_string(), r.to_run()))
        .collect();
    (trials, parents)
}

/// The metric that is a trial's loss: the one `options` names, else the one its sweep's
/// `parent` declares, else `loss`.
fn objective_metric<'a>(options: &'a StoreOptions, parent: Option<&'a Run>) -> &'a str {
    options
        .metric
        .as_deref()
        .or_else(|| parent.and_then(|p| p.data.param(OBJECTIVE_METRIC_PARAM)))
        .unwrap_or(schema::LOSS_METRIC)
}

fn parse_direction(text: &str) -> Option<Direction> {
    match text.trim().to_ascii_lowercase().as_str() {
        "minimize" | "min" => Some(Direction::Minimize),
        "maximize" | "max" => Some(Direction::Maximize),
        _ => None,
    }
}

/// The space a parent run logged as `space.json`, if any (none where its artifacts cannot
/// be reached: the kinds are then inferred).
pub(crate) fn parent_space(tracker: &Tracker, parent: &Run) -> Result<Option<Space>, ReportError> {
    let repo = match tracker.store().artifact_repo(&parent.info.artifact_uri) {
        Ok(repo) => repo,
        Err(StoreError::UnsupportedArtifactUri { .. }) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let bytes = match repo.read_bytes(SPACE_ARTIFACT) {
        Ok(b) => b,
        Err(StoreError::NotFound(_)) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let text = String::from_utf8_lossy(&bytes);
    Space::from_json_str(&text)
        .map(Some)
        .map_err(|e| ReportError::RunData {
            run_id: parent.info.run_id.clone(),
            message: format!("its artifact {SPACE_ARTIFACT} is not a valid space: {e}"),
        })
}

/// A logged param read back as a value: the declared choice option (or constant) it
/// prints as, else [`parse_param_value`].
fn param_value(space: Option<&Space>, key: &str, text: &str) -> Value {
    if let Some(p) = space.and_then(|s| s.params().iter().find(|p| p.name == key)) {
        match &p.dist {
            Dist::Choice { options } => {
                if let Some(o) = options.iter().find(|o| prints_as(o, text)) {
                    return o.clone();
                }
            }
            Dist::Const(v) if prints_as(v, text) => return v.clone(),
            _ => {}
        }
    }
    parse_param_value(text)
}

/// Whether `value` prints as `text`, found without printing it into a new string.
fn prints_as(value: &Value, text: &str) -> bool {
    /// What is left of the text to match.
    struct Rest<'a>(&'a str);
    impl std::fmt::Write for Rest<'_> {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            let rest = self.0.strip_prefix(s).ok_or(std::fmt::Error)?;
            self.0 = rest;
            Ok(())
        }
    }
    let mut rest = Rest(text);
    std::fmt::write(&mut rest, format_args!("{value}")).is_ok() && rest.0.is_empty()
}

fn build_group(
    tracker: &Tracker,
    name: String,
    trials: Vec<SelectedRun<'_>>,
    parents: &HashMap<String, Run>,
    options: &StoreOptions,
) -> Result<Group, ReportError> {
    // The parents these trials belong to, oldest first.
    let mut mine: Vec<&Run> = trials
        .iter()
        .filter_map(|r| r.tag(tags::PARENT_RUN_ID))
        .collect::<HashSet<_>>()
        .into_iter()
        .filter_map(|id| parents.get(id))
        .collect();
    mine.sort_by(|a, b| {
        (a.info.start_time, &a.info.run_id).cmp(&(b.info.start_time, &b.info.run_id))
    });

    let mut direction: Option<Direction> = None;
    for p in mine.iter().filter(|_| options.direction.is_none()) {
        let Some(text) = p.data.param(DIRECTION_PARAM) else {
            continue;
        };
        let d = parse_direction(text).ok_or_else(|| ReportError::RunData {
            run_id: p.info.run_id.clone(),
            message: format!(
                "its param `{DIRECTION_PARAM}` is `{text}`; expected minimize or maximize"
            ),
        })?;
        match direction {
            Some(first) if first != d => {
                return Err(ReportError::MixedDirections(format!(
                    "the sweeps of `{name}` do not agree (run {} is {})",
                    p.info.run_id,
                    d.as_str()
                )));
            }
            _ => direction = Some(d),
        }
    }

    // One space for the group when every parent logged the same one.
    let mut space: Option<Space> = None;
    for (i, p) in mine.iter().enumerate() {
        match (parent_space(tracker, p)?, &space) {
            (Some(s), None) if i == 0 => space = Some(s),
            (Some(s), Some(first)) if s == *first => {}
            _ => {
                space = None;
                break;
            }
        }
    }

    let pooled = mine.len() > 1;
    let start_of: HashMap<&str, (i64, usize)> = mine
        .iter()
        .enumerate()
        .map(|(i, p)| (p.info.run_id.as_str(), (p.info.start_time, i)))
        .collect();
    // Sort key (parent's start and order, trial number, run start) and the trial.
    type Row = ((i64, usize), Option<usize>, i64, ReportTrial);
    let mut rows: Vec<Row> = Vec::with_capacity(trials.len());
    for run in trials {
        let parent = run.tag(tags::PARENT_RUN_ID);
        let metric = objective_metric(options, parent.and_then(|id| parents.get(id)));
        let order = parent
            .and_then(|id| start_of.get(id).copied())
            .unwrap_or((i64::MIN, 0));
        let status = schema::trial_state(&run);
        let loss = run.metric(metric);
        let error = run.tag(ERROR_TAG).map(str::to_string).or_else(|| {
            (status == TrialState::Complete && loss.is_none())
                .then(|| format!("metric `{metric}` was not logged"))
        });
        let number = schema::trial_number(&run);
        let params = Point::from_entries(
            run.params()
                .map(|(key, text)| (key.to_string(), param_value(space.as_ref(), key, text)))
                .collect(),
        );
        rows.push((
            order,
            number,
            run.start_time(),
            ReportTrial {
                number: number.unwrap_or(0),
                params,
                loss,
                status,
                error,
                run_id: Some(run.run_id().to_string()),
            },
        ));
    }
    rows.sort_by(|a, b| (a.0, a.1, a.2, &a.3.run_id).cmp(&(b.0, b.1, b.2, &b.3.run_id)));
    // Several sweeps pooled, or runs without a trial number: number them in order.
    let renumber = pooled || rows.iter().any(|r| r.1.is_none());
    let trials = rows
        .into_iter()
        .enumerate()
        .map(|(i, (_, _, _, mut t))| {
            if renumber {
                t.number = i;
            }
            t
        })
        .collect();
    Ok(Group {
        set: TrialSet {
            name,
            space,
            trials,
        },
        direction,
        parents: mine.iter().map(|p| p.info.run_id.clone()).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracking::model::LifecycleStage;
    use crate::tracking::{RunData, RunInfo, RunStatus, Tag};

    fn run(id: &str, parent: Option<&str>, role: Option<&str>) -> Run {
        let mut data = RunData::default();
        if let Some(p) = parent {
            data.tags.push(Tag::new(tags::PARENT_RUN_ID, p));
        }
        if let Some(r) = role {
            data.tags.push(Tag::new(schema::ROLE_TAG, r));
        }
        Run {
            info: RunInfo {
                run_id: id.into(),
                experiment_id: "1".into(),
                run_name: id.into(),
                user_id: String::new(),
                status: RunStatus::Finished,
                start_time: 0,
                end_time: None,
                artifact_uri: String::new(),
                lifecycle_stage: LifecycleStage::Active,
            },
            data,
            inputs: crate::tracking::RunInputs::default(),
        }
    }

    fn ids<'a>(runs: &[SelectedRun<'a>]) -> Vec<&'a str> {
        let mut v: Vec<&str> = runs.iter().map(|r| r.run_id()).collect();
        v.sort_unstable();
        v
    }

    #[test]
    fn nested_trials_win_over_flat_runs_and_parents_are_not_trials() {
        let runs = SelectedRuns::from_runs(vec![
            run("p", None, Some("search")),
            run("a", Some("p"), None),
            run("b", Some("p"), None),
            run("flat", None, None),
            run("lonely-parent", None, Some("search")),
        ])
        .unwrap();
        let (trials, parents) = classify(runs.iter().collect());
        assert_eq!(ids(&trials), ["a", "b"]);
        assert!(parents.contains_key("p") && parents.contains_key("lonely-parent"));
        assert_eq!(parents["p"], run("p", None, Some("search")));

        let runs =
            SelectedRuns::from_runs(vec![run("x", None, None), run("y", None, None)]).unwrap();
        let (trials, parents) = classify(runs.iter().collect());
        assert_eq!(ids(&trials), ["x", "y"]);
        assert!(parents.is_empty());

        // A sweep nested under another run: its parent is not a trial either.
        let runs = SelectedRuns::from_runs(vec![
            run("outer", None, None),
            run("p", Some("outer"), None),
            run("t", Some("p"), None),
        ])
        .unwrap();
        let (trials, _) = classify(runs.iter().collect());
        assert_eq!(ids(&trials), ["t"]);
    }

    #[test]
    fn values_follow_the_declared_kind() {
        let space = Space::builder()
            .choice("width", ["1", "2"])
            .choice("scale", [0.5, 1.0])
            .randint("depth", 1, 9)
            .build()
            .unwrap();
        assert_eq!(
            param_value(Some(&space), "width", "1"),
            Value::Str("1".into())
        );
        assert_eq!(param_value(Some(&space), "scale", "1"), Value::Float(1.0));
        assert_eq!(param_value(Some(&space), "depth", "3"), Value::Int(3));
        assert_eq!(param_value(None, "width", "1"), Value::Int(1));
        assert_eq!(
            param_value(Some(&space), "other", "gini"),
            Value::Str("gini".into())
        );
    }

    #[test]
    fn directions() {
        assert_eq!(parse_direction(" Maximize"), Some(Direction::Maximize));
        assert_eq!(parse_direction("minimize"), Some(Direction::Minimize));
        assert_eq!(parse_direction("down"), None);
    }
}
