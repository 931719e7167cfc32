//! Reading MLflow's own SQLite tracking database (the tables of MLflow's SQL store), read
//! only: the connection is opened `SQLITE_OPEN_READ_ONLY`, so the file is never changed.

use super::Source;
use crate::tracking::artifacts::{ArtifactRepo, LocalArtifactRepo};
use crate::tracking::model::*;
use crate::tracking::store::{Result, StoreError};
use rusqlite::{Connection, OpenFlags};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// An MLflow SQLite database, open for reading.
pub(super) struct MlflowFile {
    conn: Connection,
    path: PathBuf,
}

impl MlflowFile {
    /// Opens the MLflow database at `path` read-only.
    pub(super) fn open(path: &Path) -> Result<Self> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(|e| StoreError::Database {
            context: format!("opening the MLflow database {}", path.display()),
            message: e.to_string(),
        })?;
        // MLflow's server may be writing the file: wait for its short write locks.
        conn.busy_timeout(std::time::Duration::from_secs(30))
            .map_err(|e| database_error(path, "opening", &e))?;
        Ok(MlflowFile {
            conn,
            path: path.to_path_buf(),
        })
    }

    /// Runs `query` with `params`, mapping each row with `row`.
    fn rows<T>(
        &self,
        what: &str,
        query: &str,
        params: impl rusqlite::Params,
        row: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>> {
        let read = || -> rusqlite::Result<Vec<T>> {
            let mut statement = self.conn.prepare(query)?;
            statement.query_map(params, row)?.collect()
        };
        read().map_err(|e| database_error(&self.path, what, &e))
    }

    /// The key/value rows of `table` (`params`, `tags`) of one run.
    fn key_values(&self, table: &str, run_id: &str) -> Result<Vec<(String, String)>> {
        self.rows(
            table,
            &format!(
                "SELECT key, coalesce(value, '') FROM {table} WHERE run_uuid = ?1 ORDER BY key"
            ),
            [run_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    }
}

fn database_error(path: &Path, what: &str, e: &rusqlite::Error) -> StoreError {
    StoreError::Database {
        context: format!("reading {what} from the MLflow database {}", path.display()),
        message: e.to_string(),
    }
}

fn stage(text: Option<String>) -> LifecycleStage {
    match text.as_deref() {
        Some("deleted") => LifecycleStage::Deleted,
        _ => LifecycleStage::Active,
    }
}

impl Source for MlflowFile {
    fn experiments(&self) -> Result<Vec<Experiment>> {
        let mut tags: HashMap<String, Vec<Tag>> = HashMap::new();
        for (id, tag) in self.rows(
            "experiment tags",
            "SELECT experiment_id, key, coalesce(value, '') FROM experiment_tags ORDER BY key",
            [],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?.to_string(),
                    Tag::new(r.get::<_, String>(1)?, r.get::<_, String>(2)?),
                ))
            },
        )? {
            tags.entry(id).or_default().push(tag);
        }
        self.rows(
            "experiments",
            "SELECT experiment_id, name, coalesce(artifact_location, ''), lifecycle_stage, \
             coalesce(creation_time, 0), coalesce(last_update_time, 0) \
             FROM experiments ORDER BY experiment_id",
            [],
            |r| {
                let id = r.get::<_, i64>(0)?.to_string();
                Ok(Experiment {
                    tags: tags.remove(&id).unwrap_or_default(),
                    experiment_id: ExperimentId(id),
                    name: r.get(1)?,
                    artifact_location: r.get(2)?,
                    lifecycle_stage: stage(r.get(3)?),
                    creation_time: r.get(4)?,
                    last_update_time: r.get(5)?,
                })
            },
        )
    }

    fn runs(&self, experiment: &Experiment) -> Result<Vec<Run>> {
        let infos = self.rows(
            "runs",
            "SELECT run_uuid, coalesce(name, ''), coalesce(user_id, ''), status, \
             coalesce(start_time, 0), end_time, coalesce(artifact_uri, ''), lifecycle_stage \
             FROM runs WHERE experiment_id = ?1 ORDER BY start_time, run_uuid",
            [experiment.experiment_id.as_str()],
            |r| {
                Ok(RunInfo {
                    run_id: r.get(0)?,
                    experiment_id: experiment.experiment_id.clone(),
                    run_name: r.get(1)?,
                    user_id: r.get(2)?,
                    status: r
                        .get::<_, Option<String>>(3)?
                        .as_deref()
                        .and_then(RunStatus::parse)
                        .unwrap_or(RunStatus::Running),
                    start_time: r.get(4)?,
                    end_time: r.get(5)?,
                    artifact_uri: r.get(6)?,
                    lifecycle_stage: stage(r.get(7)?),
                })
            },
        )?;
        infos
            .into_iter()
            .map(|info| {
                let pairs = |table| self.key_values(table, &info.run_id);
                let params = pairs("params")?
                    .into_iter()
                    .map(|(k, v)| Param::new(k, v))
                    .collect();
                let tags = pairs("tags")?
                    .into_iter()
                    .map(|(k, v)| Tag::new(k, v))
                    .collect();
                Ok(Run {
                    data: RunData {
                        metrics: Vec::new(),
                        params,
                        tags,
                    },
                    info,
                    inputs: RunInputs::default(),
                })
            })
            .collect()
    }

    fn metric_history(&self, run: &Run) -> Result<Vec<Metric>> {
        self.rows(
            "metrics",
            "SELECT key, value, is_nan, timestamp, step FROM metrics WHERE run_uuid = ?1 \
             ORDER BY key, timestamp, step, value",
            [run.id()],
            |r| {
                let is_nan: bool = r.get(2)?;
                Ok(Metric {
                    key: r.get(0)?,
                    value: if is_nan { f64::NAN } else { r.get(1)? },
                    timestamp: r.get(3)?,
                    step: r.get(4)?,
                })
            },
        )
    }

    fn artifacts(&self, run: &RunInfo) -> Result<Box<dyn ArtifactRepo>> {
        Ok(Box::new(LocalArtifactRepo::new(&run.artifact_uri)?))
    }
}
