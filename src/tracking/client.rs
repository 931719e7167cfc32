//! The user-facing tracking API: [`Tracker`] (MlflowClient-like) and [`ActiveRun`] (a guard
//! in the fluent style that ends its run when dropped).

use super::artifacts::{ArtifactRepo, open_once};
use super::model::*;
use super::selected::SelectedRuns;
use super::store::{
    MAX_BATCH_METRICS, MAX_BATCH_PARAMS, MAX_BATCH_TAGS, MAX_TAG_VALUE_LENGTH, OpenMode, Result,
    Store, StoreError, validate_batch_size,
};
use super::table::RunsTable;
use super::uri;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use super::schema::ERROR_TAG;

mod models;
pub use models::{LogModel, SearchRegistry};

/// Client for a tracking store.
///
/// ```
/// use hyperflow::tracking::{RunOptions, SearchRuns, Tracker};
/// # fn main() -> Result<(), hyperflow::tracking::StoreError> {
/// # let dir = tempfile::tempdir().unwrap();
/// # let db = dir.path().join("hyperflow.db");
/// let tracker = Tracker::open(&format!("sqlite:///{}", db.display()))?;
/// let exp = tracker.get_or_create_experiment("demo")?;
/// {
///     let run = tracker.start_run(RunOptions::new().experiment(&exp).run_name("first"))?;
///     run.log_param("lr", 0.01)?;
///     run.log_metric("loss", 0.25, 0)?;
///     run.log_metric("loss", 0.125, 1)?;
/// } // dropped: the run ends FINISHED
/// let page = tracker.search_runs(&SearchRuns::new().experiment(&exp).order_by("metrics.loss ASC"))?;
/// assert_eq!(page.items[0].data.metric("loss"), Some(0.125));
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Tracker {
    store: Arc<dyn Store>,
}

impl std::fmt::Debug for Tracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracker").finish_non_exhaustive()
    }
}

/// Which experiment a run goes into.
#[derive(Debug, Clone, PartialEq)]
pub enum ExperimentRef {
    /// By id.
    Id(ExperimentId),
    /// By name; created when missing.
    Name(String),
}

impl From<ExperimentId> for ExperimentRef {
    fn from(id: ExperimentId) -> Self {
        ExperimentRef::Id(id)
    }
}
impl From<&ExperimentId> for ExperimentRef {
    fn from(id: &ExperimentId) -> Self {
        ExperimentRef::Id(id.clone())
    }
}
impl From<&str> for ExperimentRef {
    fn from(name: &str) -> Self {
        ExperimentRef::Name(name.to_string())
    }
}
impl From<String> for ExperimentRef {
    fn from(name: String) -> Self {
        ExperimentRef::Name(name)
    }
}

/// Options of [`Tracker::start_run`]; every field has a working default.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunOptions {
    experiment: Option<ExperimentRef>,
    run_name: Option<String>,
    run_id: Option<String>,
    parent: Option<String>,
    tags: Vec<Tag>,
    description: Option<String>,
    no_system_tags: bool,
}

impl RunOptions {
    /// Defaults: the `Default` experiment, a generated name, system tags on.
    pub fn new() -> Self {
        Self::default()
    }
    /// The experiment, by id (`&ExperimentId`) or by name (`&str`, created when missing).
    pub fn experiment(mut self, e: impl Into<ExperimentRef>) -> Self {
        self.experiment = Some(e.into());
        self
    }
    /// The run name (default: generated `adjective-noun-NNN`).
    pub fn run_name(mut self, name: impl Into<String>) -> Self {
        self.run_name = Some(name.into());
        self
    }
    /// Reopen an existing run to log more; its status goes back to RUNNING.
    pub fn run_id(mut self, id: impl Into<String>) -> Self {
        self.run_id = Some(id.into());
        self
    }
    /// Nest the run under `parent_run_id` (sets `mlflow.parentRunId`).
    pub fn parent(mut self, parent_run_id: impl Into<String>) -> Self {
        self.parent = Some(parent_run_id.into());
        self
    }
    /// Add a tag.
    pub fn tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.tags.push(Tag::new(key, value));
        self
    }
    /// Add tags.
    pub fn tags<K: Into<String>, V: Into<String>>(
        mut self,
        tags: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.tags
            .extend(tags.into_iter().map(|(k, v)| Tag::new(k, v)));
        self
    }
    /// A description (`mlflow.note.content`).
    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.description = Some(text.into());
        self
    }
    /// Skip the system tags (`mlflow.user`, `mlflow.source.*`); useful for many small runs.
    pub fn without_system_tags(mut self) -> Self {
        self.no_system_tags = true;
        self
    }
}

/// A run search, built fluently and run with [`Tracker::search_runs`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchRuns {
    query: RunQuery,
}

impl SearchRuns {
    /// Defaults: no experiments (add some), no filter, start_time DESC, 1000 per page,
    /// active runs.
    pub fn new() -> Self {
        Self::default()
    }
    /// Search these experiments.
    pub fn experiments<I: Into<ExperimentId>>(mut self, ids: impl IntoIterator<Item = I>) -> Self {
        self.query
            .experiment_ids
            .extend(ids.into_iter().map(Into::into));
        self
    }
    /// Search this experiment too.
    pub fn experiment(mut self, id: &ExperimentId) -> Self {
        self.query.experiment_ids.push(id.clone());
        self
    }
    /// Filter in MLflow's language, e.g. `metrics.loss < 0.5 AND params.opt = 'adam'`: a
    /// string, or a [`Filter`](super::filter::Filter) built from typed clauses, which quotes
    /// keys and values itself.
    ///
    /// ```
    /// use hyperflow::tracking::filter::{Clause, Filter};
    /// use hyperflow::tracking::{RunOptions, SearchRuns, Tracker};
    /// # fn main() -> Result<(), hyperflow::tracking::StoreError> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// let tracker = Tracker::open(&format!("sqlite:///{}/t.db", dir.path().display()))?;
    /// let exp = tracker.get_or_create_experiment("demo")?;
    /// tracker.start_run(RunOptions::new().experiment(&exp).tag("owner", "o'brien"))?;
    /// tracker.start_run(RunOptions::new().experiment(&exp).tag("owner", "someone"))?;
    /// let mine = Filter::new().and(Clause::tag("owner").eq("o'brien"));
    /// let page = tracker.search_runs(&SearchRuns::new().experiment(&exp).filter(&mine))?;
    /// assert_eq!(page.items.len(), 1);
    /// # Ok(()) }
    /// ```
    pub fn filter(mut self, filter: impl Into<String>) -> Self {
        self.query.filter = filter.into();
        self
    }
    /// Add an order_by entry, e.g. `metrics.loss ASC`.
    pub fn order_by(mut self, key: impl Into<String>) -> Self {
        self.query.order_by.push(key.into());
        self
    }
    /// Page size (1..=50000, default 1000).
    pub fn max_results(mut self, n: usize) -> Self {
        self.query.max_results = n;
        self
    }
    /// Continue from a previous page's `next_page_token`.
    pub fn page_token(mut self, token: impl Into<String>) -> Self {
        self.query.page_token = Some(token.into());
        self
    }
    /// Active (default), deleted or all runs.
    pub fn view_type(mut self, v: ViewType) -> Self {
        self.query.view_type = v;
        self
    }
    /// The store-level query.
    pub fn query(&self) -> &RunQuery {
        &self.query
    }
}

impl From<SearchRuns> for RunQuery {
    fn from(s: SearchRuns) -> Self {
        s.query
    }
}

struct SystemContext {
    user: String,
    source: Option<String>,
    git_commit: Option<String>,
}

/// The system tags of runs started from this process: user, source, and git commit when
/// run inside a git checkout.
pub(crate) fn system_tags() -> Vec<Tag> {
    let ctx = system_context();
    let mut sys = vec![
        Tag::new(tags::USER, ctx.user.clone()),
        Tag::new(tags::SOURCE_TYPE, "LOCAL"),
    ];
    if let Some(s) = &ctx.source {
        sys.push(Tag::new(tags::SOURCE_NAME, s.clone()));
    }
    if let Some(c) = &ctx.git_commit {
        sys.push(Tag::new(tags::GIT_COMMIT, c.clone()));
    }
    sys
}

/// The user runs are attributed to.
pub(crate) fn current_user() -> &'static str {
    &system_context().user
}

fn system_context() -> &'static SystemContext {
    static CTX: OnceLock<SystemContext> = OnceLock::new();
    CTX.get_or_init(|| SystemContext {
        user: std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .ok()
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| "unknown".to_string()),
        source: std::env::current_exe()
            .ok()
            .map(|p| p.display().to_string()),
        git_commit: std::env::current_dir().ok().and_then(|d| git_commit(&d)),
    })
}

fn is_hex_hash(s: &str) -> bool {
    (s.len() == 40 || s.len() == 64) && s.chars().all(|c| c.is_ascii_hexdigit())
}

/// The commit checked out in the git work tree containing `dir`, read from `.git` files
/// directly (handles linked worktrees, symbolic refs and packed refs).
pub fn git_commit(dir: &Path) -> Option<String> {
    let mut cur = Some(dir);
    while let Some(d) = cur {
        let dotgit = d.join(".git");
        if dotgit.exists() {
            return read_git_head(&dotgit);
        }
        cur = d.parent();
    }
    None
}

fn read_git_head(dotgit: &Path) -> Option<String> {
    let gitdir = if dotgit.is_file() {
        let text = std::fs::read_to_string(dotgit).ok()?;
        let p = PathBuf::from(text.trim().strip_prefix("gitdir:")?.trim());
        if p.is_absolute() {
            p
        } else {
            dotgit.parent()?.join(p)
        }
    } else {
        dotgit.to_path_buf()
    };
    let head = std::fs::read_to_string(gitdir.join("HEAD")).ok()?;
    let head = head.trim();
    let Some(refname) = head.strip_prefix("ref:").map(str::trim) else {
        return is_hex_hash(head).then(|| head.to_string());
    };
    let common = match std::fs::read_to_string(gitdir.join("commondir")) {
        Ok(c) => {
            let p = PathBuf::from(c.trim());
            if p.is_absolute() { p } else { gitdir.join(p) }
        }
        Err(_) => gitdir.clone(),
    };
    for d in [&gitdir, &common] {
        if let Ok(s) = std::fs::read_to_string(d.join(refname)) {
            let s = s.trim();
            if is_hex_hash(s) {
                return Some(s.to_string());
            }
        }
    }
    let packed = std::fs::read_to_string(common.join("packed-refs")).ok()?;
    packed.lines().find_map(|line| {
        let (hash, name) = line.split_once(' ')?;
        (name.trim() == refname && is_hex_hash(hash)).then(|| hash.to_string())
    })
}

fn chunked<T: Clone>(items: &[T], n: usize) -> impl Iterator<Item = &[T]> {
    items.chunks(n.max(1))
}

impl Tracker {
    /// Open the store named by a tracking URI (see [`uri`]) for reading and writing; an
    /// SQLite file is created when missing.
    pub fn open(tracking_uri: &str) -> Result<Self> {
        Tracker::open_with(tracking_uri, OpenMode::ReadWrite)
    }

    /// Open the store named by a tracking URI for reading only: a missing SQLite database is
    /// [`StoreError::NoDatabase`] (nothing is created), a read-only file or folder is fine,
    /// and writes fail.
    pub fn open_read_only(tracking_uri: &str) -> Result<Self> {
        Tracker::open_with(tracking_uri, OpenMode::ReadOnly)
    }

    /// Open the store named by a tracking URI in `mode`.
    pub fn open_with(tracking_uri: &str, mode: OpenMode) -> Result<Self> {
        Ok(Tracker::new(uri::open_store_with(tracking_uri, mode)?))
    }

    /// Open the store named by `HYPERFLOW_TRACKING_URI`, else `MLFLOW_TRACKING_URI`, else
    /// `sqlite:///hyperflow.db`.
    pub fn from_env() -> Result<Self> {
        Tracker::open(&uri::resolve_tracking_uri(None))
    }

    /// A tracker over any store.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Tracker { store }
    }

    /// The underlying store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    // ---- experiments ------------------------------------------------------------------

    /// Create an experiment with the default artifact location.
    pub fn create_experiment(&self, name: &str) -> Result<ExperimentId> {
        self.store.create_experiment(name, None, &[])
    }

    /// Create an experiment with an artifact location and tags. The artifact location is
    /// checked first ([`check_writable`](super::artifacts::check_writable)): one this
    /// process cannot write to is refused now rather than at the first artifact.
    pub fn create_experiment_with(
        &self,
        name: &str,
        artifact_location: Option<&str>,
        tags: &[Tag],
    ) -> Result<ExperimentId> {
        if let Some(location) = artifact_location.filter(|l| !l.trim().is_empty()) {
            super::artifacts::check_writable(location)?;
        }
        self.store.create_experiment(name, artifact_location, tags)
    }

    /// Get an experiment by id.
    pub fn get_experiment(&self, id: &ExperimentId) -> Result<Experiment> {
        self.store.get_experiment(id)
    }

    /// Get an experiment by name (`None` when absent).
    pub fn get_experiment_by_name(&self, name: &str) -> Result<Option<Experiment>> {
        self.store.get_experiment_by_name(name)
    }

    /// The id of the experiment called `name`, created when missing. A deleted experiment
    /// of that name is an error (restore it first), as in MLflow's `set_experiment`.
    pub fn get_or_create_experiment(&self, name: &str) -> Result<ExperimentId> {
        if let Some(e) = self.store.get_experiment_by_name(name)? {
            if e.lifecycle_stage == LifecycleStage::Deleted {
                return Err(StoreError::InvalidParameter(format!(
                    "Cannot use experiment '{name}' (id {}) because it is deleted; restore it \
                     or choose another name",
                    e.experiment_id
                )));
            }
            return Ok(e.experiment_id);
        }
        match self.store.create_experiment(name, None, &[]) {
            Ok(id) => Ok(id),
            // Another process created it in between.
            Err(StoreError::AlreadyExists(_)) => self
                .store
                .get_experiment_by_name(name)?
                .map(|e| e.experiment_id)
                .ok_or_else(|| {
                    StoreError::NotFound(format!("Could not find experiment with name '{name}'"))
                }),
            Err(e) => Err(e),
        }
    }

    /// Search experiments.
    pub fn search_experiments(&self, query: &ExperimentQuery) -> Result<Page<Experiment>> {
        self.store.search_experiments(query)
    }

    /// All pages of an experiment search.
    pub fn search_all_experiments(&self, query: &ExperimentQuery) -> Result<Vec<Experiment>> {
        all_pages(
            query,
            |q| &mut q.page_token,
            |q| self.store.search_experiments(q),
        )
    }

    /// The experiment called `name_or_id`, else the one with that id (deleted ones
    /// included). When there is neither, [`StoreError::NotFound`] says so and names the
    /// closest experiment name, if one is a plausible typo.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let tracker = hyperflow::tracking::Tracker::open(&format!("sqlite:///{}/t.db", dir.path().display()))?;
    /// tracker.create_experiment("lightgbm-tuning")?;
    /// assert_eq!(tracker.find_experiment("lightgbm-tuning")?.name, "lightgbm-tuning");
    /// let err = tracker.find_experiment("lightgbm-tunning").unwrap_err();
    /// assert!(err.to_string().ends_with("did you mean `lightgbm-tuning`?"), "{err}");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn find_experiment(&self, name_or_id: &str) -> Result<Experiment> {
        if let Some(experiment) = self.store.get_experiment_by_name(name_or_id)? {
            return Ok(experiment);
        }
        let id = name_or_id.trim();
        if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) {
            match self.store.get_experiment(&ExperimentId(id.to_string())) {
                Err(StoreError::NotFound(_)) => {}
                found => return found,
            }
        }
        let experiments = self.search_all_experiments(&ExperimentQuery {
            view_type: ViewType::All,
            ..ExperimentQuery::default()
        })?;
        let hint =
            crate::suggest::did_you_mean(name_or_id, experiments.iter().map(|e| e.name.as_str()))
                .map_or_else(String::new, |name| format!("; did you mean `{name}`?"));
        Err(StoreError::NotFound(format!(
            "no experiment is named or numbered `{name_or_id}`{hint}"
        )))
    }

    /// Rename an experiment.
    pub fn rename_experiment(&self, id: &ExperimentId, new_name: &str) -> Result<()> {
        self.store.rename_experiment(id, new_name)
    }

    /// Delete an experiment and its runs.
    pub fn delete_experiment(&self, id: &ExperimentId) -> Result<()> {
        self.store.delete_experiment(id)
    }

    /// Restore an experiment and its runs.
    pub fn restore_experiment(&self, id: &ExperimentId) -> Result<()> {
        self.store.restore_experiment(id)
    }

    /// Set an experiment tag.
    pub fn set_experiment_tag(&self, id: &ExperimentId, key: &str, value: &str) -> Result<()> {
        self.store.set_experiment_tag(id, &Tag::new(key, value))
    }

    // ---- runs -------------------------------------------------------------------------

    /// Start a run (or reopen one with [`RunOptions::run_id`]); the returned guard ends it.
    pub fn start_run(&self, opts: RunOptions) -> Result<ActiveRun> {
        let mut tags = opts.tags;
        if let Some(p) = &opts.parent {
            self.store.get_run_info(p)?;
            tags.push(Tag::new(tags::PARENT_RUN_ID, p.clone()));
        }
        if let Some(d) = &opts.description {
            tags.push(Tag::new(tags::NOTE, d.clone()));
        }
        if let Some(run_id) = &opts.run_id {
            let mut info = self.store.update_run(
                run_id,
                RunUpdate {
                    status: Some(RunStatus::Running),
                    end_time: None,
                    run_name: opts.run_name.clone(),
                },
            )?;
            if let Some(ExperimentRef::Id(want)) = &opts.experiment
                && *want != info.experiment_id
            {
                return Err(StoreError::InvalidParameter(format!(
                    "Cannot reopen run {run_id} in experiment {want}: it belongs to \
                     experiment {}",
                    info.experiment_id
                )));
            }
            for chunk in chunked(&tags, MAX_BATCH_TAGS) {
                self.store.log_batch(run_id, &[], &[], chunk)?;
            }
            info.status = RunStatus::Running;
            return Ok(ActiveRun::new(self.clone(), info));
        }
        let experiment_id = match opts.experiment {
            None => ExperimentId::default_experiment(),
            Some(ExperimentRef::Id(id)) => id,
            Some(ExperimentRef::Name(name)) => self.get_or_create_experiment(&name)?,
        };
        let ctx = system_context();
        if !opts.no_system_tags {
            let mut sys = system_tags();
            // User tags win over system tags.
            sys.retain(|s| !tags.iter().any(|t| t.key == s.key));
            sys.extend(tags);
            tags = sys;
        }
        let run = self.store.create_run(
            &experiment_id,
            RunStart {
                run_name: opts.run_name,
                user_id: Some(ctx.user.clone()),
                start_time: None,
                tags,
            },
        )?;
        Ok(ActiveRun::new(self.clone(), run.info))
    }

    /// Run `f` inside a run: FINISHED when it returns `Ok`, FAILED (with the error in the
    /// `hyperflow.error` tag) when it returns `Err`, FAILED when it panics.
    pub fn with_run<T, E>(
        &self,
        opts: RunOptions,
        f: impl FnOnce(&ActiveRun) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E>
    where
        E: From<StoreError> + std::fmt::Display,
    {
        let run = self.start_run(opts)?;
        match f(&run) {
            Ok(v) => {
                run.end(RunStatus::Finished)?;
                Ok(v)
            }
            Err(e) => {
                let msg: String = e.to_string().chars().take(MAX_TAG_VALUE_LENGTH).collect();
                // Best effort: the original error matters more than a failed tag write.
                let _ = run.set_tag(ERROR_TAG, msg);
                let _ = run.end(RunStatus::Failed);
                Err(e)
            }
        }
    }

    /// Write a whole run (params, metrics, final status) in one go, e.g. a finished trial;
    /// one transaction on SQLite. Adds no system tags.
    pub fn record_run(&self, experiment_id: &ExperimentId, record: &RunRecord) -> Result<Run> {
        self.store.record_run(experiment_id, record)
    }

    /// Get a run.
    pub fn get_run(&self, run_id: &str) -> Result<Run> {
        self.store.get_run(run_id)
    }

    /// End a run with `status` (now as end time).
    pub fn set_terminated(&self, run_id: &str, status: RunStatus) -> Result<()> {
        self.store
            .update_run(run_id, RunUpdate::ended(status, now_ms()))
            .map(|_| ())
    }

    /// Log `metrics` and `tags` and end the run with `status` (now as end time), as one
    /// write where the store can ([`Store::log_batch_and_update`]).
    pub fn end_run(
        &self,
        run_id: &str,
        metrics: &[Metric],
        tags: &[Tag],
        status: RunStatus,
    ) -> Result<()> {
        self.store
            .log_batch_and_update(run_id, metrics, tags, RunUpdate::ended(status, now_ms()))
            .map(|_| ())
    }

    /// Every point of a metric, in `(timestamp, step, value)` order.
    pub fn get_metric_history(&self, run_id: &str, key: &str) -> Result<Vec<Metric>> {
        self.store.get_metric_history(run_id, key)
    }

    /// One page of a run search.
    pub fn search_runs(&self, search: &SearchRuns) -> Result<Page<Run>> {
        self.store.search_runs(&search.query)
    }

    /// How many runs a search matches, all pages together (one `COUNT` query on the SQL
    /// stores).
    pub fn count_runs(&self, search: &SearchRuns) -> Result<usize> {
        self.store.count_runs(&search.query)
    }

    /// All pages of a run search.
    pub fn search_all_runs(&self, search: &SearchRuns) -> Result<Vec<Run>> {
        all_pages(
            &search.query,
            |q| &mut q.page_token,
            |q| self.store.search_runs(q),
        )
    }

    /// Every run a search matches, in no particular order, with its params and the tags
    /// and latest metrics `fields` selects (see [`Store::select_runs`]): a whole search
    /// read at a fraction of the cost of [`Tracker::search_all_runs`]. The search's order,
    /// page size and token play no part.
    pub fn select_runs(&self, search: &SearchRuns, fields: &RunFields) -> Result<SelectedRuns> {
        self.store.select_runs(&search.query, fields)
    }

    /// All pages of a run search, as a table with MLflow's column names.
    pub fn search_runs_table(&self, search: &SearchRuns) -> Result<RunsTable> {
        Ok(RunsTable::from_runs(&self.search_all_runs(search)?))
    }

    /// Soft-delete a run.
    pub fn delete_run(&self, run_id: &str) -> Result<()> {
        self.store.delete_run(run_id)
    }

    /// Restore a deleted run.
    pub fn restore_run(&self, run_id: &str) -> Result<()> {
        self.store.restore_run(run_id)
    }

    /// Log a param (its value is converted with `to_string`).
    pub fn log_param(&self, run_id: &str, key: &str, value: impl ToString) -> Result<()> {
        self.store
            .log_param(run_id, &Param::new(key, value.to_string()))
    }

    /// Log params (in chunks of 100).
    pub fn log_params<K: Into<String>, V: ToString>(
        &self,
        run_id: &str,
        params: impl IntoIterator<Item = (K, V)>,
    ) -> Result<()> {
        let params: Vec<Param> = params
            .into_iter()
            .map(|(k, v)| Param::new(k, v.to_string()))
            .collect();
        for chunk in chunked(&params, MAX_BATCH_PARAMS) {
            self.store.log_batch(run_id, &[], chunk, &[])?;
        }
        Ok(())
    }

    /// Log a metric point at `step`, stamped now.
    pub fn log_metric(&self, run_id: &str, key: &str, value: f64, step: i64) -> Result<()> {
        self.store
            .log_metric(run_id, &Metric::at_step(key, value, step))
    }

    /// Log several metrics at one step (in chunks of 1000).
    pub fn log_metrics<K: Into<String>>(
        &self,
        run_id: &str,
        metrics: impl IntoIterator<Item = (K, f64)>,
        step: i64,
    ) -> Result<()> {
        let now = now_ms();
        let metrics: Vec<Metric> = metrics
            .into_iter()
            .map(|(k, v)| Metric {
                key: k.into(),
                value: v,
                timestamp: now,
                step,
            })
            .collect();
        for chunk in chunked(&metrics, MAX_BATCH_METRICS) {
            self.store.log_batch(run_id, chunk, &[], &[])?;
        }
        Ok(())
    }

    /// Log metrics, params and tags. Within the store limits (1000 metrics, 100 params,
    /// 100 tags, 1000 in total) this is one atomic write; larger batches are split into
    /// several writes, params first (so a param conflict stops before metrics land).
    pub fn log_batch(
        &self,
        run_id: &str,
        metrics: &[Metric],
        params: &[Param],
        tags: &[Tag],
    ) -> Result<()> {
        if validate_batch_size(metrics.len(), params.len(), tags.len()).is_ok() {
            return self.store.log_batch(run_id, metrics, params, tags);
        }
        for chunk in chunked(params, MAX_BATCH_PARAMS) {
            self.store.log_batch(run_id, &[], chunk, &[])?;
        }
        for chunk in chunked(metrics, MAX_BATCH_METRICS) {
            self.store.log_batch(run_id, chunk, &[], &[])?;
        }
        for chunk in chunked(tags, MAX_BATCH_TAGS) {
            self.store.log_batch(run_id, &[], &[], chunk)?;
        }
        Ok(())
    }

    /// Set a run tag.
    pub fn set_tag(&self, run_id: &str, key: &str, value: impl Into<String>) -> Result<()> {
        self.store.set_tag(run_id, &Tag::new(key, value))
    }

    /// Set run tags (in chunks of 100).
    pub fn set_tags<K: Into<String>, V: Into<String>>(
        &self,
        run_id: &str,
        tags: impl IntoIterator<Item = (K, V)>,
    ) -> Result<()> {
        let tags: Vec<Tag> = tags.into_iter().map(|(k, v)| Tag::new(k, v)).collect();
        for chunk in chunked(&tags, MAX_BATCH_TAGS) {
            self.store.log_batch(run_id, &[], &[], chunk)?;
        }
        Ok(())
    }

    /// Delete a run tag.
    pub fn delete_tag(&self, run_id: &str, key: &str) -> Result<()> {
        self.store.delete_tag(run_id, key)
    }

    /// The artifact repository of a run: its local directory, or the tracking server's
    /// artifact proxy for `mlflow-artifacts:` URIs (see [`Store::artifact_repo`]).
    pub fn artifacts(&self, run_id: &str) -> Result<Box<dyn ArtifactRepo>> {
        self.store
            .artifact_repo(&self.store.get_run_info(run_id)?.artifact_uri)
    }

    /// List the artifacts directly under `path` (`""` = root).
    pub fn list_artifacts(&self, run_id: &str, path: &str) -> Result<Vec<FileInfo>> {
        self.artifacts(run_id)?.list(path)
    }

    /// Copy artifact `path` (`""` = all) into local directory `dest`.
    pub fn download_artifacts(&self, run_id: &str, path: &str, dest: &Path) -> Result<PathBuf> {
        self.artifacts(run_id)?.download(path, dest)
    }
}

/// A run in progress. Ends FINISHED when dropped normally, FAILED when dropped during a
/// panic, or with the status given to [`ActiveRun::end`].
#[derive(Debug)]
pub struct ActiveRun {
    tracker: Tracker,
    info: RunInfo,
    /// Opened on first use, so a run whose artifacts cannot be reached still logs the rest.
    repo: OnceLock<Box<dyn ArtifactRepo>>,
    ended: bool,
}

impl ActiveRun {
    fn new(tracker: Tracker, info: RunInfo) -> Self {
        ActiveRun {
            tracker,
            info,
            repo: OnceLock::new(),
            ended: false,
        }
    }

    /// The run id.
    pub fn id(&self) -> &str {
        &self.info.run_id
    }

    /// The run's info as of when it started.
    pub fn info(&self) -> &RunInfo {
        &self.info
    }

    /// The tracker this run logs through.
    pub fn tracker(&self) -> &Tracker {
        &self.tracker
    }

    /// End the run with `status`.
    pub fn end(mut self, status: RunStatus) -> Result<()> {
        self.ended = true;
        self.tracker.set_terminated(&self.info.run_id, status)
    }

    /// Log a param.
    pub fn log_param(&self, key: &str, value: impl ToString) -> Result<()> {
        self.tracker.log_param(&self.info.run_id, key, value)
    }

    /// Log params.
    pub fn log_params<K: Into<String>, V: ToString>(
        &self,
        params: impl IntoIterator<Item = (K, V)>,
    ) -> Result<()> {
        self.tracker.log_params(&self.info.run_id, params)
    }

    /// Log a metric point at `step`.
    pub fn log_metric(&self, key: &str, value: f64, step: i64) -> Result<()> {
        self.tracker.log_metric(&self.info.run_id, key, value, step)
    }

    /// Log several metrics at one step.
    pub fn log_metrics<K: Into<String>>(
        &self,
        metrics: impl IntoIterator<Item = (K, f64)>,
        step: i64,
    ) -> Result<()> {
        self.tracker.log_metrics(&self.info.run_id, metrics, step)
    }

    /// Log metrics, params and tags at once (see [`Tracker::log_batch`]).
    pub fn log_batch(&self, metrics: &[Metric], params: &[Param], tags: &[Tag]) -> Result<()> {
        self.tracker
            .log_batch(&self.info.run_id, metrics, params, tags)
    }

    /// Set a tag.
    pub fn set_tag(&self, key: &str, value: impl Into<String>) -> Result<()> {
        self.tracker.set_tag(&self.info.run_id, key, value)
    }

    /// Set tags.
    pub fn set_tags<K: Into<String>, V: Into<String>>(
        &self,
        tags: impl IntoIterator<Item = (K, V)>,
    ) -> Result<()> {
        self.tracker.set_tags(&self.info.run_id, tags)
    }

    /// Delete a tag.
    pub fn delete_tag(&self, key: &str) -> Result<()> {
        self.tracker.delete_tag(&self.info.run_id, key)
    }

    /// The run's artifact repository (see [`Tracker::artifacts`]); an artifact URI that
    /// cannot be reached is [`StoreError::UnsupportedArtifactUri`].
    pub fn artifacts(&self) -> Result<&dyn ArtifactRepo> {
        open_once(&self.repo, &*self.tracker.store, &self.info.artifact_uri)
    }

    /// Copy a local file into the run's artifact root.
    pub fn log_artifact(&self, local: impl AsRef<Path>) -> Result<()> {
        self.artifacts()?.log_file(local.as_ref(), None)
    }

    /// Copy a local file into artifact directory `artifact_dir`.
    pub fn log_artifact_to(&self, local: impl AsRef<Path>, artifact_dir: &str) -> Result<()> {
        self.artifacts()?
            .log_file(local.as_ref(), Some(artifact_dir))
    }

    /// Copy the contents of a local directory into the run's artifact root.
    pub fn log_artifacts(&self, local_dir: impl AsRef<Path>) -> Result<()> {
        self.artifacts()?.log_dir(local_dir.as_ref(), None)
    }

    /// Copy the contents of a local directory into artifact directory `artifact_dir`.
    pub fn log_artifacts_to(&self, local_dir: impl AsRef<Path>, artifact_dir: &str) -> Result<()> {
        self.artifacts()?
            .log_dir(local_dir.as_ref(), Some(artifact_dir))
    }

    /// Write `text` to artifact file `artifact_file` (e.g. `notes/summary.txt`).
    pub fn log_text(&self, text: &str, artifact_file: &str) -> Result<()> {
        self.artifacts()?
            .write_bytes(artifact_file, text.as_bytes())
    }

    /// Write `value` as pretty JSON to artifact file `artifact_file`.
    pub fn log_json(&self, value: &impl Serialize, artifact_file: &str) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(value).map_err(|e| {
            StoreError::Serialization(format!("serializing {artifact_file} as JSON: {e}"))
        })?;
        self.artifacts()?.write_bytes(artifact_file, &bytes)
    }

    /// Write a rendered figure (`.svg`, `.png`, `.jpg`/`.jpeg`, `.pdf` or `.html`).
    pub fn log_figure(&self, bytes: &[u8], artifact_file: &str) -> Result<()> {
        let ext = Path::new(artifact_file)
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        if !matches!(
            ext.as_deref(),
            Some("svg" | "png" | "jpg" | "jpeg" | "pdf" | "html")
        ) {
            return Err(StoreError::InvalidArtifactPath {
                path: artifact_file.to_string(),
                reason: "figures need one of the extensions .svg, .png, .jpg, .jpeg, .pdf, .html"
                    .to_string(),
            });
        }
        self.artifacts()?.write_bytes(artifact_file, bytes)
    }

    /// List the artifacts directly under `path` (`""` = root).
    pub fn list_artifacts(&self, path: &str) -> Result<Vec<FileInfo>> {
        self.artifacts()?.list(path)
    }

    /// Copy artifact `path` (`""` = all) into local directory `dest`.
    pub fn download_artifacts(&self, path: &str, dest: &Path) -> Result<PathBuf> {
        self.artifacts()?.download(path, dest)
    }
}

impl Drop for ActiveRun {
    fn drop(&mut self) {
        if !self.ended {
            let status = if std::thread::panicking() {
                RunStatus::Failed
            } else {
                RunStatus::Finished
            };
            // Errors cannot be returned from drop; call `end` to see them.
            let _ = self.tracker.set_terminated(&self.info.run_id, status);
        }
    }
}

/// The items of every page of a search: `fetch` runs `query`, then again with each page's
/// `next_page_token` put where `token` says.
fn all_pages<Q: Clone, T>(
    query: &Q,
    token: impl Fn(&mut Q) -> &mut Option<String>,
    fetch: impl Fn(&Q) -> Result<Page<T>>,
) -> Result<Vec<T>> {
    let mut query = query.clone();
    let mut out = Vec::new();
    loop {
        let page = fetch(&query)?;
        out.extend(page.items);
        match page.next_page_token {
            Some(next) => *token(&mut query) = Some(next),
            None => return Ok(out),
        }
    }
}
