//! Copying an MLflow store's history into a hyperflow store (`hyperflow import`).
//!
//! [`import`] reads a source, given by URI, and copies into a destination [`Tracker`]:
//!
//! - `sqlite:///mlflow.db`: MLflow's own SQLite database, read with a read-only connection
//!   (the file is never changed); its runs' artifacts are read from their artifact
//!   locations on disk. (A hyperflow database is read through its store, read-only.)
//! - `http(s)://host:port`: an MLflow (or hyperflow) tracking server, through the REST store
//!   (feature `rest`), artifacts through its artifact proxy.
//!
//! Experiments are matched by name (created when missing; an existing one gets the
//! source's experiment tags it lacks). Each active run is copied with its name, user,
//! status, start and end times, params, tags, every point of every metric (step and
//! timestamp), and its artifact files; `mlflow.parentRunId` is rewritten to the parent's
//! copy, so nesting survives. Every copy carries [`IMPORTED_FROM_TAG`], the id of the run
//! it came from, which makes importing again idempotent: a run already copied and finished
//! is left alone, one whose copy was interrupted (or which was still running) is brought up
//! to date, and nothing is duplicated. Deleted experiments and runs are skipped, as is data
//! the destination refuses (an invalid key, say); [`ImportReport`] counts what was copied
//! and says what was skipped and why.

mod mlflow_file;

use super::artifacts::ArtifactRepo;
use super::client::{SearchRuns, Tracker};
use super::filter::{Clause, Filter};
use super::model::*;
use super::schema::{IMPORTED_FROM_TAG, PARENT_TAG, origin_run_id};
use super::sqlite::{DatabaseKind, SqliteStore};
use super::store::{
    MAX_BATCH_METRICS, MAX_BATCH_PARAMS, MAX_BATCH_TAGS, OpenMode, Result, StoreError,
};
use super::uri::TrackingUri;
use std::collections::HashMap;
use std::fmt;

/// What to import.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ImportOptions {
    /// Names of the source experiments to import; empty imports every active one.
    pub experiments: Vec<String>,
}

impl ImportOptions {
    /// Every active experiment of the source.
    pub fn new() -> Self {
        Self::default()
    }

    /// Import only the experiment named `name` (and the others named so).
    pub fn experiment(mut self, name: impl Into<String>) -> Self {
        self.experiments.push(name.into());
        self
    }
}

/// Something the import did not copy, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// What: an experiment, a run, or a run's artifacts, named.
    pub what: String,
    /// Why it was not copied.
    pub why: String,
}

/// What an import copied and skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ImportReport {
    /// Experiments created in the destination.
    pub experiments_created: usize,
    /// Source experiments whose runs went into an experiment of the same name that the
    /// destination had already.
    pub experiments_existing: usize,
    /// Runs copied for the first time.
    pub runs_copied: usize,
    /// Runs copied before whose copy was brought up to date (an interrupted import, or a
    /// source run that was still running).
    pub runs_updated: usize,
    /// Finished runs copied before and left alone.
    pub runs_unchanged: usize,
    /// Params written.
    pub params: usize,
    /// Tags written (run tags).
    pub tags: usize,
    /// Metric points written (every step of every metric).
    pub metric_points: usize,
    /// Artifact files copied.
    pub artifact_files: usize,
    /// What was not copied, and why.
    pub skipped: Vec<Skipped>,
}

impl fmt::Display for ImportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "experiments: {} created, {} already there",
            self.experiments_created, self.experiments_existing
        )?;
        writeln!(
            f,
            "runs: {} copied, {} updated, {} already imported",
            self.runs_copied, self.runs_updated, self.runs_unchanged
        )?;
        writeln!(
            f,
            "written: {} params, {} tags, {} metric points, {} artifact files",
            self.params, self.tags, self.metric_points, self.artifact_files
        )?;
        if !self.skipped.is_empty() {
            writeln!(f, "skipped {}:", self.skipped.len())?;
            for s in &self.skipped {
                writeln!(f, "  {}: {}", s.what, s.why)?;
            }
        }
        Ok(())
    }
}

/// Why an import stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// The source could not be opened or read.
    #[error("cannot read the import source {uri}: {source}")]
    Source {
        /// The source URI.
        uri: String,
        /// What went wrong.
        #[source]
        source: StoreError,
    },
    /// The source is not a store hyperflow imports from.
    #[error("cannot import from {uri}: {reason}")]
    UnsupportedSource {
        /// The source URI.
        uri: String,
        /// Why, and what is accepted.
        reason: String,
    },
    /// An experiment asked for is not in the source.
    #[error("the import source {uri} has no experiment named '{name}'{hint}")]
    NoSuchExperiment {
        /// The source URI.
        uri: String,
        /// The name asked for.
        name: String,
        /// "; did you mean ...?", or the names it has.
        hint: String,
    },
    /// The destination store failed (other than refusing a run's data, which is skipped).
    #[error("cannot write into the tracking store while {doing}: {source}")]
    Destination {
        /// What was being copied.
        doing: String,
        /// What went wrong.
        #[source]
        source: StoreError,
    },
}

/// A store to import from.
trait Source {
    /// Every experiment, active and deleted, with its tags.
    fn experiments(&self) -> Result<Vec<Experiment>>;
    /// Every run of `experiment`, active and deleted, with its params and tags.
    fn runs(&self, experiment: &Experiment) -> Result<Vec<Run>>;
    /// Every point of every metric of `run`.
    fn metric_history(&self, run: &Run) -> Result<Vec<Metric>>;
    /// The artifacts of `run`.
    fn artifacts(&self, run: &RunInfo) -> Result<Box<dyn ArtifactRepo>>;
}

/// Any hyperflow [`Store`](super::Store) as a source: the REST store over an MLflow
/// server, or another hyperflow database.
struct StoreSource(Tracker);

impl Source for StoreSource {
    fn experiments(&self) -> Result<Vec<Experiment>> {
        self.0.search_all_experiments(&ExperimentQuery {
            view_type: ViewType::All,
            ..ExperimentQuery::default()
        })
    }

    fn runs(&self, experiment: &Experiment) -> Result<Vec<Run>> {
        self.0.search_all_runs(
            &SearchRuns::new()
                .experiment(&experiment.experiment_id)
                .view_type(ViewType::All),
        )
    }

    fn metric_history(&self, run: &Run) -> Result<Vec<Metric>> {
        let mut points = Vec::new();
        for latest in &run.data.metrics {
            points.extend(self.0.get_metric_history(run.id(), &latest.key)?);
        }
        Ok(points)
    }

    fn artifacts(&self, run: &RunInfo) -> Result<Box<dyn ArtifactRepo>> {
        self.0.store().artifact_repo(&run.artifact_uri)
    }
}

/// Opens the source `uri` names.
fn open_source(uri: &str) -> Result<Box<dyn Source>, ImportError> {
    let source_error = |source| ImportError::Source {
        uri: uri.to_string(),
        source,
    };
    let parsed = TrackingUri::parse(uri).map_err(source_error)?;
    if let TrackingUri::Sqlite(path) = &parsed {
        match SqliteStore::database_kind(path).map_err(source_error)? {
            DatabaseKind::Mlflow { .. } => {
                return Ok(Box::new(
                    mlflow_file::MlflowFile::open(path).map_err(source_error)?,
                ));
            }
            DatabaseKind::Other => {
                return Err(ImportError::UnsupportedSource {
                    uri: uri.to_string(),
                    reason: format!(
                        "{} is an SQLite database, but neither MLflow's tracking database \
                         nor hyperflow's",
                        path.display()
                    ),
                });
            }
            // A hyperflow database opens as a store; a missing one says so there.
            DatabaseKind::New | DatabaseKind::Hyperflow(_) => {}
        }
    }
    let store = parsed.open_with(OpenMode::ReadOnly).map_err(source_error)?;
    Ok(Box::new(StoreSource(Tracker::new(store))))
}

/// Copies the history of the store at `source_uri` into `into` (see the module
/// documentation), and reports what was copied and skipped.
///
/// A source or destination that fails stops the import with an [`ImportError`]; what was
/// copied until then stays, and importing again continues where it stopped.
pub fn import(
    source_uri: &str,
    into: &Tracker,
    options: &ImportOptions,
) -> Result<ImportReport, ImportError> {
    let source = open_source(source_uri)?;
    Importer {
        source: source.as_ref(),
        source_uri,
        into,
        report: ImportReport::default(),
        copies: HashMap::new(),
        copy_ids: HashMap::new(),
    }
    .run(options)
}

/// One import in progress.
struct Importer<'a> {
    source: &'a dyn Source,
    source_uri: &'a str,
    into: &'a Tracker,
    report: ImportReport,
    /// Destination copies by origin run id ([`origin_run_id`]): those found at the start,
    /// and those made since.
    copies: HashMap<String, Run>,
    /// The id of each source run's copy, by the source run's id (for nesting).
    copy_ids: HashMap<String, String>,
}

/// A source run to copy, with the experiment it goes into.
struct Pending {
    run: Run,
    into: ExperimentId,
    experiment: String,
}

impl Importer<'_> {
    fn source_error(&self, source: StoreError) -> ImportError {
        ImportError::Source {
            uri: self.source_uri.to_string(),
            source,
        }
    }

    fn skip(&mut self, what: String, why: impl Into<String>) {
        self.report.skipped.push(Skipped {
            what,
            why: why.into(),
        });
    }

    fn run(mut self, options: &ImportOptions) -> Result<ImportReport, ImportError> {
        let experiments = self.selected(options)?;
        let mut pending = Vec::new();
        for experiment in experiments {
            if experiment.lifecycle_stage == LifecycleStage::Deleted {
                self.skip(
                    format!("experiment '{}'", experiment.name),
                    "deleted in the source",
                );
                continue;
            }
            let Some(into) = self.destination_experiment(&experiment)? else {
                continue;
            };
            let runs = self
                .source
                .runs(&experiment)
                .map_err(|e| self.source_error(e))?;
            for run in runs {
                if run.info.lifecycle_stage == LifecycleStage::Deleted {
                    self.skip(run_label(&experiment.name, &run), "deleted in the source");
                } else {
                    pending.push(Pending {
                        run,
                        into: into.clone(),
                        experiment: experiment.name.clone(),
                    });
                }
            }
        }
        for pending in parents_first(pending) {
            self.copy_run(&pending)?;
        }
        Ok(self.report)
    }

    /// The source experiments to import: those named in `options`, else all.
    fn selected(&self, options: &ImportOptions) -> Result<Vec<Experiment>, ImportError> {
        let all = self
            .source
            .experiments()
            .map_err(|e| self.source_error(e))?;
        if options.experiments.is_empty() {
            return Ok(all);
        }
        options
            .experiments
            .iter()
            .map(|name| {
                all.iter()
                    .find(|e| &e.name == name)
                    .cloned()
                    .ok_or_else(|| {
                        let names = all.iter().map(|e| e.name.as_str());
                        let hint = match crate::suggest::did_you_mean(name, names.clone()) {
                            Some(close) => format!("; did you mean '{close}'?"),
                            None => format!(
                                "; it has: {}",
                                names
                                    .map(|n| format!("'{n}'"))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        };
                        ImportError::NoSuchExperiment {
                            uri: self.source_uri.to_string(),
                            name: name.clone(),
                            hint,
                        }
                    })
            })
            .collect()
    }

    /// The destination experiment of the same name as `source` (created when missing),
    /// after noting the copies already in it; `None` when it is deleted there.
    fn destination_experiment(
        &mut self,
        source: &Experiment,
    ) -> Result<Option<ExperimentId>, ImportError> {
        let doing = format!("importing experiment '{}'", source.name);
        let dest = |e| ImportError::Destination {
            doing: doing.clone(),
            source: e,
        };
        let Some(existing) = self
            .into
            .get_experiment_by_name(&source.name)
            .map_err(dest)?
        else {
            let id = self
                .into
                .store()
                .create_experiment(&source.name, None, &source.tags)
                .map_err(dest)?;
            self.report.experiments_created += 1;
            return Ok(Some(id));
        };
        if existing.lifecycle_stage == LifecycleStage::Deleted {
            self.skip(
                format!("experiment '{}'", source.name),
                format!(
                    "an experiment of that name is deleted in the destination; restore it \
                     (hyperflow experiments restore '{}') and import again",
                    source.name
                ),
            );
            return Ok(None);
        }
        for tag in &source.tags {
            if !existing.tags.iter().any(|t| t.key == tag.key) {
                self.into
                    .set_experiment_tag(&existing.experiment_id, &tag.key, &tag.value)
                    .map_err(dest)?;
            }
        }
        let imported = Filter::new().and(Clause::tag(IMPORTED_FROM_TAG).is_not_null());
        let copies = self
            .into
            .search_all_runs(
                &SearchRuns::new()
                    .experiment(&existing.experiment_id)
                    .filter(&imported)
                    .view_type(ViewType::All),
            )
            .map_err(dest)?;
        for copy in copies {
            self.copies.insert(origin_run_id(&copy).to_string(), copy);
        }
        self.report.experiments_existing += 1;
        Ok(Some(existing.experiment_id))
    }

    /// Copies one run (or brings its copy up to date). Data the destination refuses is
    /// reported as skipped; any other failure stops the import.
    fn copy_run(&mut self, pending: &Pending) -> Result<(), ImportError> {
        let run = &pending.run;
        let label = run_label(&pending.experiment, run);
        let existing = self.copies.get(origin_run_id(run)).cloned();
        if let Some(copy) = &existing {
            if copy.info.lifecycle_stage == LifecycleStage::Deleted {
                self.skip(
                    label,
                    format!(
                        "its copy {} is deleted in the destination; restore it to update it",
                        copy.id()
                    ),
                );
                return Ok(());
            }
            self.copy_ids
                .insert(run.id().to_string(), copy.id().to_string());
            if run.info.status.is_terminal()
                && copy.info.status == run.info.status
                && copy.info.end_time == run.info.end_time
            {
                self.report.runs_unchanged += 1;
                return Ok(());
            }
        }
        match self.write_run(pending, existing) {
            Ok(()) => Ok(()),
            Err(Failure::Refused(e)) => {
                self.skip(label, e.to_string());
                Ok(())
            }
            Err(Failure::Source(e)) => Err(self.source_error(e)),
            Err(Failure::Destination(e)) => Err(ImportError::Destination {
                doing: format!("copying {label}"),
                source: e,
            }),
        }
    }

    fn write_run(&mut self, pending: &Pending, existing: Option<Run>) -> Result<(), Failure> {
        let run = &pending.run;
        let metrics = self.source.metric_history(run).map_err(Failure::Source)?;
        let store = self.into.store();
        let updating = existing.is_some();
        let copy = match existing {
            Some(copy) => copy,
            None => {
                // The origin tag goes in first: an interrupted copy is found, and finished,
                // by the next import.
                let copy = store
                    .create_run(
                        &pending.into,
                        RunStart {
                            run_name: Some(run.info.run_name.clone()),
                            user_id: Some(run.info.user_id.clone()),
                            start_time: Some(run.info.start_time),
                            tags: vec![Tag::new(IMPORTED_FROM_TAG, origin_run_id(run))],
                        },
                    )
                    .map_err(Failure::of_write)?;
                self.copies
                    .insert(origin_run_id(run).to_string(), copy.clone());
                self.copy_ids
                    .insert(run.id().to_string(), copy.id().to_string());
                copy
            }
        };
        let tags: Vec<Tag> = run
            .data
            .tags
            .iter()
            .filter(|t| t.key != IMPORTED_FROM_TAG)
            .map(|t| self.rewritten(t))
            .collect();
        for chunk in run.data.params.chunks(MAX_BATCH_PARAMS) {
            store
                .log_batch(copy.id(), &[], chunk, &[])
                .map_err(Failure::of_write)?;
        }
        for chunk in tags.chunks(MAX_BATCH_TAGS) {
            store
                .log_batch(copy.id(), &[], &[], chunk)
                .map_err(Failure::of_write)?;
        }
        for chunk in metrics.chunks(MAX_BATCH_METRICS) {
            store
                .log_batch(copy.id(), chunk, &[], &[])
                .map_err(Failure::of_write)?;
        }
        let files = self.copy_artifacts(run, &copy)?;
        if run.info.status != RunStatus::Running || run.info.end_time.is_some() {
            store
                .update_run(
                    copy.id(),
                    RunUpdate {
                        status: Some(run.info.status),
                        end_time: run.info.end_time,
                        run_name: None,
                    },
                )
                .map_err(Failure::of_write)?;
        }
        let report = &mut self.report;
        if updating {
            report.runs_updated += 1;
        } else {
            report.runs_copied += 1;
        }
        report.params += run.data.params.len();
        report.tags += tags.len();
        report.metric_points += metrics.len();
        report.artifact_files += files;
        Ok(())
    }

    /// `tag` as the copy carries it: a parent run's id becomes its copy's.
    fn rewritten(&self, tag: &Tag) -> Tag {
        match self.copy_ids.get(&tag.value) {
            Some(parent) if tag.key == PARENT_TAG => Tag::new(PARENT_TAG, parent.as_str()),
            _ => tag.clone(),
        }
    }

    /// Copies the artifact files of `run` into those of `copy`; artifacts the source cannot
    /// reach are reported as skipped.
    fn copy_artifacts(&mut self, run: &Run, copy: &Run) -> Result<usize, Failure> {
        let from = match self.source.artifacts(&run.info) {
            Ok(repo) => repo,
            Err(e) => {
                self.skip(format!("the artifacts of run {}", run.id()), e.to_string());
                return Ok(0);
            }
        };
        let to = self
            .into
            .store()
            .artifact_repo(&copy.info.artifact_uri)
            .map_err(Failure::Destination)?;
        copy_tree(from.as_ref(), to.as_ref(), "")
    }
}

/// How copying one run failed.
enum Failure {
    /// The destination refused the run's data (an invalid key or value): skip the run.
    Refused(StoreError),
    /// Reading the source failed.
    Source(StoreError),
    /// The destination failed otherwise.
    Destination(StoreError),
}

impl Failure {
    /// A failed write: refused data when the store calls it an invalid parameter (also a
    /// tracking server's answer saying so), a failing destination otherwise.
    fn of_write(e: StoreError) -> Failure {
        if e.error_code() == "INVALID_PARAMETER_VALUE" {
            Failure::Refused(e)
        } else {
            Failure::Destination(e)
        }
    }
}

/// Copies every file under artifact directory `dir` of `from` into `to`; the number of
/// files copied.
fn copy_tree(from: &dyn ArtifactRepo, to: &dyn ArtifactRepo, dir: &str) -> Result<usize, Failure> {
    let mut files = 0;
    for entry in from.list(dir).map_err(Failure::Source)? {
        if entry.is_dir {
            files += copy_tree(from, to, &entry.path)?;
        } else {
            let bytes = from.read_bytes(&entry.path).map_err(Failure::Source)?;
            to.write_bytes(&entry.path, &bytes)
                .map_err(Failure::Destination)?;
            files += 1;
        }
    }
    Ok(files)
}

/// "run 'name' (id) of experiment 'e'".
fn run_label(experiment: &str, run: &Run) -> String {
    format!(
        "run '{}' ({}) of experiment '{experiment}'",
        run.info.run_name,
        run.id()
    )
}

/// `pending` ordered so that every run comes after its parent (when its parent is among
/// them), keeping the source's order otherwise.
fn parents_first(pending: Vec<Pending>) -> Vec<Pending> {
    let depths: Vec<usize> = {
        let parent_of: HashMap<&str, &str> = pending
            .iter()
            .filter_map(|p| Some((p.run.id(), p.run.data.tag(PARENT_TAG)?)))
            .collect();
        pending
            .iter()
            .map(|p| nesting_depth(&parent_of, p.run.id()))
            .collect()
    };
    let mut ordered: Vec<(usize, Pending)> = depths.into_iter().zip(pending).collect();
    ordered.sort_by_key(|(depth, _)| *depth);
    ordered.into_iter().map(|(_, p)| p).collect()
}

/// How many ancestors run `id` has in `parent_of`; a cycle (corrupt data) stops counting
/// once the depth exceeds the number of runs.
fn nesting_depth<'a>(parent_of: &HashMap<&'a str, &'a str>, mut id: &'a str) -> usize {
    let mut depth = 0;
    while let Some(parent) = parent_of.get(id) {
        if depth > parent_of.len() {
            break;
        }
        depth += 1;
        id = parent;
    }
    depth
}
