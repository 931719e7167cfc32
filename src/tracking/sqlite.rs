//! The embedded SQLite [`Store`] (the default backend).
//!
//! - One writer connection per store behind a mutex, and a pool of reader connections (see
//!   `sqlite/connections.rs`); WAL journal, `synchronous=NORMAL`, `BEGIN IMMEDIATE` write
//!   transactions retried on `SQLITE_BUSY` without holding any lock, so many processes can
//!   log into one file without "database is locked" reaching the user, and reads never wait
//!   behind writes.
//! - [`OpenMode::ReadOnly`] reads an existing file without creating, migrating or writing
//!   anything, also in a read-only file or folder.
//! - Runs are keyed internally by an integer `run_key`; params, tags, the full metric
//!   history and a `latest_metrics` table (one row per run and key, maintained on insert,
//!   max by `(step, timestamp, value)`) reference it. Searches compile MLflow's filter
//!   language into one parameterized SQL query over these tables.
//! - What a write costs is mostly the pages its commit dirties, so the schema indexes
//!   little beyond the primary keys: latest metric values by key (searches and orderings
//!   on metrics drive from it) and child runs by `mlflow.parentRunId`. A batch goes in
//!   with a few multi-row INSERTs. Foreign keys are declared but not enforced (SQLite's
//!   default, which the bundled build changes): every row's `run_key` comes from the runs
//!   table in the same transaction and runs are never removed, so enforcing them would
//!   only add a lookup per row and a statement journal per multi-row INSERT.
//! - NaN metric values are stored as `value = 0, is_nan = 1` (SQLite turns NaN into NULL),
//!   ±infinity as IEEE infinities.
//! - The schema version lives in `PRAGMA user_version`; older files are migrated when
//!   opened for writing (read-only, versions from [`MIN_READABLE_VERSION`] are read as they
//!   are), newer ones are refused with [`StoreError::SchemaTooNew`].

mod connections;
mod ledger;
mod models;
mod registry;
mod search;

pub use search::{MAX_FILTER_CLAUSES, MAX_ORDER_BY_KEYS};

use super::artifacts::{ArtifactLocation, child_location};
use super::model::*;
use super::selected::{InfoRow, SelectedRuns, SelectedRunsBuilder};
use super::sql::{KeyedRuns, KeyedSelection, RunRows};
use super::store::*;
use connections::{Connections, TxError, TxResult, sql_error};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::sync::atomic::{AtomicI64, Ordering as AtomicOrdering};

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = 7;

/// The oldest schema version a read-only store reads as it is (version 3 only dropped
/// indexes). Older files must be opened for writing once, which migrates them.
pub const MIN_READABLE_VERSION: i64 = 2;

/// Migration `i` takes a database from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // v0 -> v1: experiments, runs, params, tags, metric history.
    r#"
    CREATE TABLE experiments (
        experiment_id     INTEGER PRIMARY KEY,
        name              TEXT NOT NULL UNIQUE,
        artifact_location TEXT NOT NULL,
        lifecycle_stage   TEXT NOT NULL DEFAULT 'active',
        creation_time     INTEGER NOT NULL,
        last_update_time  INTEGER NOT NULL
    );
    CREATE TABLE experiment_tags (
        experiment_id INTEGER NOT NULL REFERENCES experiments(experiment_id),
        key           TEXT NOT NULL,
        value         TEXT NOT NULL,
        PRIMARY KEY (experiment_id, key)
    ) WITHOUT ROWID;
    CREATE TABLE runs (
        run_key         INTEGER PRIMARY KEY,
        run_id          TEXT NOT NULL UNIQUE,
        experiment_id   INTEGER NOT NULL REFERENCES experiments(experiment_id),
        name            TEXT NOT NULL,
        user_id         TEXT NOT NULL,
        status          TEXT NOT NULL,
        start_time      INTEGER NOT NULL,
        end_time        INTEGER,
        artifact_uri    TEXT NOT NULL,
        lifecycle_stage TEXT NOT NULL DEFAULT 'active'
    );
    CREATE INDEX runs_by_experiment ON runs(experiment_id, lifecycle_stage, start_time DESC, run_id);
    CREATE TABLE metrics (
        run_key   INTEGER NOT NULL REFERENCES runs(run_key),
        key       TEXT NOT NULL,
        value     REAL NOT NULL,
        is_nan    INTEGER NOT NULL,
        timestamp INTEGER NOT NULL,
        step      INTEGER NOT NULL,
        PRIMARY KEY (run_key, key, timestamp, step, value, is_nan)
    ) WITHOUT ROWID;
    CREATE TABLE params (
        run_key INTEGER NOT NULL REFERENCES runs(run_key),
        key     TEXT NOT NULL,
        value   TEXT NOT NULL,
        PRIMARY KEY (run_key, key)
    ) WITHOUT ROWID;
    CREATE INDEX params_by_key ON params(key, value);
    CREATE TABLE tags (
        run_key INTEGER NOT NULL REFERENCES runs(run_key),
        key     TEXT NOT NULL,
        value   TEXT NOT NULL,
        PRIMARY KEY (run_key, key)
    ) WITHOUT ROWID;
    CREATE INDEX tags_by_key ON tags(key, value);
    "#,
    // v1 -> v2: latest value per (run, metric key), for search and run data.
    r#"
    CREATE TABLE latest_metrics (
        run_key   INTEGER NOT NULL REFERENCES runs(run_key),
        key       TEXT NOT NULL,
        value     REAL NOT NULL,
        is_nan    INTEGER NOT NULL,
        timestamp INTEGER NOT NULL,
        step      INTEGER NOT NULL,
        PRIMARY KEY (run_key, key)
    ) WITHOUT ROWID;
    CREATE INDEX latest_metrics_by_key ON latest_metrics(key, is_nan, value);
    INSERT INTO latest_metrics (run_key, key, value, is_nan, timestamp, step)
        SELECT run_key, key, value, is_nan, timestamp, step FROM (
            SELECT *, row_number() OVER (
                PARTITION BY run_key, key ORDER BY step DESC, timestamp DESC, value DESC
            ) AS rn FROM metrics
        ) WHERE rn = 1;
    "#,
    // v2 -> v3: the (key, value) indexes of params and tags go. Every param and tag of a
    // new run landed on a page of its own in them, so they were about half of the pages a
    // finished trial's commit wrote. Param and tag filters now check each candidate run
    // through the primary keys (searches over metrics keep their index and drive from it);
    // the one tag filter that picks a few runs out of many, a search's child runs by
    // `mlflow.parentRunId`, keeps a partial index, which a run of the same search appends
    // to the same page.
    r#"
    DROP INDEX params_by_key;
    DROP INDEX tags_by_key;
    CREATE INDEX tags_by_parent ON tags(value) WHERE key = 'mlflow.parentRunId';
    "#,
    // v3 -> v4: MLflow 3's dataset inputs of runs and logged models.
    r#"
    CREATE TABLE datasets (
        dataset_key   INTEGER PRIMARY KEY,
        experiment_id INTEGER NOT NULL REFERENCES experiments(experiment_id),
        name          TEXT NOT NULL,
        digest        TEXT NOT NULL,
        source_type   TEXT NOT NULL,
        source        TEXT NOT NULL,
        schema        TEXT,
        profile       TEXT,
        UNIQUE (experiment_id, name, digest)
    );
    CREATE TABLE run_inputs (
        run_key     INTEGER NOT NULL REFERENCES runs(run_key),
        dataset_key INTEGER NOT NULL REFERENCES datasets(dataset_key),
        position    INTEGER NOT NULL,
        PRIMARY KEY (run_key, dataset_key)
    ) WITHOUT ROWID;
    CREATE TABLE run_input_tags (
        run_key     INTEGER NOT NULL REFERENCES runs(run_key),
        dataset_key INTEGER NOT NULL REFERENCES datasets(dataset_key),
        key         TEXT NOT NULL,
        value       TEXT NOT NULL,
        PRIMARY KEY (run_key, dataset_key, key)
    ) WITHOUT ROWID;
    CREATE TABLE run_outputs (
        run_key  INTEGER NOT NULL REFERENCES runs(run_key),
        model_id TEXT NOT NULL,
        step     INTEGER NOT NULL,
        PRIMARY KEY (run_key, model_id)
    ) WITHOUT ROWID;
    CREATE TABLE logged_models (
        model_key         INTEGER PRIMARY KEY,
        model_id          TEXT NOT NULL UNIQUE,
        experiment_id     INTEGER NOT NULL REFERENCES experiments(experiment_id),
        name              TEXT NOT NULL,
        artifact_uri      TEXT NOT NULL,
        status            TEXT NOT NULL,
        status_message    TEXT,
        model_type        TEXT,
        source_run_id     TEXT,
        creation_time     INTEGER NOT NULL,
        last_updated_time INTEGER NOT NULL,
        lifecycle_stage   TEXT NOT NULL DEFAULT 'active'
    );
    CREATE INDEX logged_models_by_experiment ON logged_models(experiment_id, creation_time DESC);
    CREATE TABLE logged_model_tags (
        model_key INTEGER NOT NULL REFERENCES logged_models(model_key),
        key       TEXT NOT NULL,
        value     TEXT NOT NULL,
        PRIMARY KEY (model_key, key)
    ) WITHOUT ROWID;
    CREATE TABLE logged_model_params (
        model_key INTEGER NOT NULL REFERENCES logged_models(model_key),
        key       TEXT NOT NULL,
        value     TEXT NOT NULL,
        PRIMARY KEY (model_key, key)
    ) WITHOUT ROWID;
    "#,
    // v4 -> v5: the model registry. Registered models are keyed by an integer so that a
    // rename touches one row; versions, tags and aliases reference that key.
    r#"
    CREATE TABLE registered_models (
        registered_model_key INTEGER PRIMARY KEY,
        name                 TEXT NOT NULL UNIQUE,
        description          TEXT,
        next_version         INTEGER NOT NULL DEFAULT 1,
        creation_time        INTEGER NOT NULL,
        last_updated_time    INTEGER NOT NULL
    );
    CREATE TABLE registered_model_tags (
        registered_model_key INTEGER NOT NULL REFERENCES registered_models(registered_model_key),
        key                  TEXT NOT NULL,
        value                TEXT NOT NULL,
        PRIMARY KEY (registered_model_key, key)
    ) WITHOUT ROWID;
    CREATE TABLE model_versions (
        registered_model_key INTEGER NOT NULL REFERENCES registered_models(registered_model_key),
        version              INTEGER NOT NULL,
        source               TEXT NOT NULL,
        storage_location     TEXT NOT NULL,
        run_id               TEXT,
        model_id             TEXT,
        description          TEXT,
        current_stage        TEXT NOT NULL DEFAULT 'None',
        creation_time        INTEGER NOT NULL,
        last_updated_time    INTEGER NOT NULL,
        PRIMARY KEY (registered_model_key, version)
    ) WITHOUT ROWID;
    CREATE TABLE model_version_tags (
        registered_model_key INTEGER NOT NULL,
        version              INTEGER NOT NULL,
        key                  TEXT NOT NULL,
        value                TEXT NOT NULL,
        PRIMARY KEY (registered_model_key, version, key)
    ) WITHOUT ROWID;
    CREATE TABLE registered_model_aliases (
        registered_model_key INTEGER NOT NULL REFERENCES registered_models(registered_model_key),
        alias                TEXT NOT NULL,
        version              INTEGER NOT NULL,
        PRIMARY KEY (registered_model_key, alias)
    ) WITHOUT ROWID;
    "#,
    // v5 -> v6: metrics of logged models (points a run logged with a model_id), with the
    // dataset each was computed on. A point is identified as in MLflow, without its value.
    r#"
    CREATE TABLE logged_model_metrics (
        model_key      INTEGER NOT NULL REFERENCES logged_models(model_key),
        key            TEXT NOT NULL,
        value          REAL NOT NULL,
        is_nan         INTEGER NOT NULL,
        timestamp      INTEGER NOT NULL,
        step           INTEGER NOT NULL,
        run_id         TEXT NOT NULL,
        dataset_name   TEXT,
        dataset_digest TEXT,
        PRIMARY KEY (model_key, key, timestamp, step, run_id)
    ) WITHOUT ROWID;
    "#,
    // v6 -> v7: the ledger of searches (see `tracking::ledger`): one row per search and
    // one per trial, with the running trials indexed by heartbeat for finding stale ones.
    r#"
    CREATE TABLE hyperflow_searches (
        search      TEXT PRIMARY KEY,
        join_key    TEXT UNIQUE,
        next_number INTEGER NOT NULL,
        released    INTEGER NOT NULL,
        seq         INTEGER NOT NULL,
        workers     INTEGER NOT NULL DEFAULT 0
    ) WITHOUT ROWID;
    CREATE TABLE hyperflow_trials (
        search    TEXT NOT NULL,
        number    INTEGER NOT NULL,
        state     TEXT NOT NULL,
        released  INTEGER NOT NULL,
        x         BLOB NOT NULL,
        loss      REAL,
        last_step INTEGER,
        run_id    TEXT,
        worker    TEXT NOT NULL,
        heartbeat INTEGER NOT NULL,
        seq       INTEGER NOT NULL,
        PRIMARY KEY (search, number)
    ) WITHOUT ROWID;
    CREATE INDEX hyperflow_trials_changes ON hyperflow_trials (search, seq);
    CREATE INDEX hyperflow_trials_running ON hyperflow_trials (search, heartbeat)
        WHERE state = 'RUNNING';
    "#,
];

/// The embedded SQLite tracking store.
#[derive(Debug)]
pub struct SqliteStore {
    connections: Connections,
    /// `max(run_key)` when this store last ran ANALYZE (planner statistics).
    analyzed_runs: AtomicI64,
    path: PathBuf,
    /// An absolute directory or an object storage URI.
    artifact_root: String,
}

fn absolute(p: &Path) -> Result<PathBuf> {
    std::path::absolute(p).map_err(|e| StoreError::io(format!("resolving {}", p.display()), e))
}

/// An artifact root as stored in new experiments' locations: an object storage URI as
/// given, anything else as an absolute directory.
fn artifact_root_location(root: &Path) -> Result<String> {
    if let Some(uri) = root.to_str()
        && let Ok(ArtifactLocation::Object(location)) = ArtifactLocation::parse(uri)
    {
        return Ok(location.to_string());
    }
    Ok(absolute(root)?.display().to_string())
}

impl SqliteStore {
    /// Open (creating or migrating) the database at `path`. New experiments get their
    /// artifacts under `./hyperflow-artifacts/<experiment_id>` (made absolute now).
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with_artifact_root(path, "hyperflow-artifacts")
    }

    /// Open for reading only: the database at `path` must exist
    /// ([`StoreError::NoDatabase`] otherwise); nothing is created, migrated or written, and
    /// a read-only file or folder is fine. Writes fail with [`StoreError::NotAccessible`].
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_in(path, "hyperflow-artifacts", OpenMode::ReadOnly)
    }

    /// Open (creating or migrating) with an explicit default artifact root for new
    /// experiments.
    pub fn open_with_artifact_root(
        path: impl AsRef<Path>,
        artifact_root: impl AsRef<Path>,
    ) -> Result<Self> {
        Self::open_in(path, artifact_root, OpenMode::ReadWrite)
    }

    /// Open in `mode` (see [`OpenMode`]), with a default artifact root for new experiments:
    /// a directory (made absolute) or an object storage URI such as `s3://bucket/prefix`.
    pub fn open_in(
        path: impl AsRef<Path>,
        artifact_root: impl AsRef<Path>,
        mode: OpenMode,
    ) -> Result<Self> {
        let path = absolute(path.as_ref())?;
        let artifact_root = artifact_root_location(artifact_root.as_ref())?;
        if mode == OpenMode::ReadWrite {
            refuse_foreign(&path)?;
        }
        let connections = Connections::open(
            &path,
            mode,
            |writer| migrate(writer, &path, &artifact_root, SCHEMA_VERSION),
            |reader| check_readable(reader, &path),
        )?;
        Ok(SqliteStore {
            connections,
            analyzed_runs: AtomicI64::new(0),
            path,
            artifact_root,
        })
    }

    /// What the SQLite file at `path` holds (a missing or empty file is
    /// [`DatabaseKind::New`]), read without writing anything to it.
    pub fn database_kind(path: impl AsRef<Path>) -> Result<DatabaseKind> {
        let path = absolute(path.as_ref())?;
        let Some(conn) = connections::open_existing(&path)? else {
            return Ok(DatabaseKind::New);
        };
        let ctx = format!("reading database {}", path.display());
        DatabaseKind::of(&conn).map_err(|e| sql_error(&path, &ctx, &e))
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The default artifact root of new experiments: an absolute directory or an object
    /// storage URI.
    pub fn artifact_root(&self) -> &str {
        &self.artifact_root
    }

    /// Create a database at an older schema `version` (for migration tests).
    #[doc(hidden)]
    pub fn create_at_version(path: impl AsRef<Path>, version: i64) -> Result<()> {
        let path = absolute(path.as_ref())?;
        let root = artifact_root_location(Path::new("hyperflow-artifacts"))?;
        Connections::open(
            &path,
            OpenMode::ReadWrite,
            |writer| migrate(writer, &path, &root, version),
            |_| Ok(()),
        )
        .map(drop)
    }

    /// Refresh the query planner's statistics when the number of runs has doubled since
    /// the last refresh (and is at least 1000): with them SQLite drives a search from its
    /// most selective clause. `analysis_limit` keeps this to a few milliseconds, and it is
    /// skipped whenever the writer is busy (or the store is read-only).
    fn maybe_analyze(&self) {
        let Ok(max) = self.read("counting runs", |tx| {
            Ok(
                tx.query_row("SELECT coalesce(max(run_key), 0) FROM runs", [], |r| {
                    r.get::<_, i64>(0)
                })?,
            )
        }) else {
            return;
        };
        let last = self.analyzed_runs.load(AtomicOrdering::Relaxed);
        if max >= 1000
            && max > 2 * last
            && self
                .connections
                .try_maintain(|writer| writer.execute_batch("ANALYZE"))
        {
            self.analyzed_runs.store(max, AtomicOrdering::Relaxed);
        }
    }

    fn write<T>(&self, context: &str, f: impl FnMut(&Transaction<'_>) -> TxResult<T>) -> Result<T> {
        self.connections.write(context, f)
    }

    fn read<T>(&self, context: &str, f: impl FnMut(&Transaction<'_>) -> TxResult<T>) -> Result<T> {
        self.connections.read(context, f)
    }
}

fn user_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
}

/// What an SQLite database file holds, as [`SqliteStore::database_kind`] reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DatabaseKind {
    /// No file, or one without tables: opening it for writing creates a hyperflow database.
    New,
    /// A hyperflow tracking database at this schema version.
    Hyperflow(i64),
    /// MLflow's own tracking database (made by its SQL store), at this alembic revision.
    Mlflow {
        /// The `version_num` of its `alembic_version` table (`unknown` when it has none).
        revision: String,
    },
    /// Another program's SQLite database: tables, but neither hyperflow's nor MLflow's.
    Other,
}

impl DatabaseKind {
    /// Reads the kind of the database `conn` is open on, writing nothing.
    fn of(conn: &Connection) -> rusqlite::Result<DatabaseKind> {
        // One statement, so one snapshot: read apart, another process creating the
        // database could commit its tables and version between the two reads, and the
        // file would look like tables without a version (someone else's database).
        let (version, has_tables): (i64, bool) = conn.query_row(
            "SELECT (SELECT user_version FROM pragma_user_version), \
                    EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table')",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        if version != 0 {
            return Ok(DatabaseKind::Hyperflow(version));
        }
        if !has_tables {
            return Ok(DatabaseKind::New);
        }
        // MLflow's SQL store: alembic's version table, and runs keyed by `run_uuid`.
        let mlflow: bool = conn.query_row(
            "SELECT (SELECT count(*) FROM sqlite_schema WHERE type = 'table' \
                     AND name IN ('alembic_version', 'experiments', 'runs')) = 3 \
                AND EXISTS (SELECT 1 FROM pragma_table_info('runs') WHERE name = 'run_uuid')",
            [],
            |r| r.get(0),
        )?;
        if !mlflow {
            return Ok(DatabaseKind::Other);
        }
        let revision = conn
            .query_row("SELECT version_num FROM alembic_version LIMIT 1", [], |r| {
                r.get::<_, String>(0)
            })
            .optional()?
            .unwrap_or_else(|| "unknown".to_string());
        Ok(DatabaseKind::Mlflow { revision })
    }

    /// Why a database of this kind cannot be a hyperflow store, if it cannot.
    fn refusal(&self, path: &Path) -> Option<StoreError> {
        match self {
            DatabaseKind::Mlflow { revision } => Some(StoreError::MlflowDatabase {
                path: path.display().to_string(),
                revision: revision.clone(),
            }),
            DatabaseKind::Other => Some(StoreError::InvalidParameter(format!(
                "{} is an SQLite database, but not a hyperflow tracking database (it has \
                 tables but no hyperflow schema version); name a hyperflow database or a new \
                 file",
                path.display()
            ))),
            DatabaseKind::New | DatabaseKind::Hyperflow(_) => None,
        }
    }
}

/// The check of a read-only store: a schema this build reads without migrating it.
fn check_readable(conn: &Connection, path: &Path) -> Result<()> {
    let ctx = format!("reading database {}", path.display());
    let kind = connections::retry_open(path, &ctx, || DatabaseKind::of(conn))?;
    if let Some(refusal) = kind.refusal(path) {
        return Err(refusal);
    }
    match kind {
        DatabaseKind::Hyperflow(v) if v > SCHEMA_VERSION => Err(StoreError::SchemaTooNew {
            path: path.display().to_string(),
            found: v,
            supported: SCHEMA_VERSION,
        }),
        DatabaseKind::Hyperflow(v) if v < MIN_READABLE_VERSION => Err(StoreError::SchemaTooOld {
            path: path.display().to_string(),
            found: v,
            readable: MIN_READABLE_VERSION,
        }),
        DatabaseKind::Hyperflow(_) => Ok(()),
        _ => Err(StoreError::NoDatabase {
            path: path.display().to_string(),
        }),
    }
}

/// Refuses, before anything is written to it, an existing file that is not a hyperflow
/// database (opening it for writing would switch its journal to WAL, a change to the file).
fn refuse_foreign(path: &Path) -> Result<()> {
    let Some(conn) = connections::open_existing(path)? else {
        return Ok(());
    };
    let ctx = format!("reading database {}", path.display());
    let kind = connections::retry_open(path, &ctx, || DatabaseKind::of(&conn))?;
    kind.refusal(path).map_or(Ok(()), Err)
}

fn migrate(conn: &Connection, path: &Path, artifact_root: &str, target: i64) -> Result<()> {
    let ctx = format!("migrating database {}", path.display());
    let too_new = |found| StoreError::SchemaTooNew {
        path: path.display().to_string(),
        found,
        supported: SCHEMA_VERSION,
    };
    // Another connection may be creating the database (switching it to WAL, migrating):
    // a busy read waits for it like a busy write does.
    let v = connections::retry_open(path, &ctx, || user_version(conn))?;
    if v > SCHEMA_VERSION {
        return Err(too_new(v));
    }
    if v >= target {
        return Ok(());
    }
    connections::retry_open(path, &ctx, || {
        conn.execute_batch("BEGIN IMMEDIATE")?;
        let r = (|| -> rusqlite::Result<Result<()>> {
            let v = user_version(conn)?; // re-read under the write lock
            if v > SCHEMA_VERSION {
                return Ok(Err(too_new(v)));
            }
            if v == 0
                && let Some(refusal) = DatabaseKind::of(conn)?.refusal(path)
            {
                return Ok(Err(refusal));
            }
            for (i, sql) in MIGRATIONS
                .iter()
                .enumerate()
                .take(target as usize)
                .skip(v.max(0) as usize)
            {
                conn.execute_batch(sql)?;
                if i == 0 {
                    let now = now_ms();
                    let loc = child_location(artifact_root, "0");
                    conn.execute(
                        "INSERT INTO experiments (experiment_id, name, artifact_location, \
                         lifecycle_stage, creation_time, last_update_time) \
                         VALUES (0, 'Default', ?1, 'active', ?2, ?2)",
                        params![loc, now],
                    )?;
                }
            }
            if v < target {
                conn.execute_batch(&format!("PRAGMA user_version = {target}"))?;
            }
            Ok(Ok(()))
        })();
        match r {
            Ok(Ok(())) => conn.execute_batch("COMMIT").map(|_| Ok(())),
            other => {
                let _ = conn.execute_batch("ROLLBACK");
                other
            }
        }
    })?
}

// ---------------------------------------------------------------------------------------
// Row helpers.

const RUN_COLUMNS: &str = "r.run_key, r.run_id, r.experiment_id, r.name, r.user_id, r.status, \
                           r.start_time, r.end_time, r.artifact_uri, r.lifecycle_stage";

fn stage_from(s: &str) -> LifecycleStage {
    if s == "deleted" {
        LifecycleStage::Deleted
    } else {
        LifecycleStage::Active
    }
}

fn run_info_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, RunInfo)> {
    let mut experiment_id = String::new();
    let (key, info) = info_row(row, &mut experiment_id)?;
    Ok((key, info.to_info()))
}

/// The run key and info of a row of [`RUN_COLUMNS`], borrowed from the row; the experiment
/// id is written into `experiment_id`.
fn info_row<'r>(
    row: &'r rusqlite::Row<'_>,
    experiment_id: &'r mut String,
) -> rusqlite::Result<(i64, InfoRow<'r>)> {
    experiment_id.clear();
    write!(experiment_id, "{}", row.get::<_, i64>(2)?).expect("writing to a String");
    Ok((
        row.get(0)?,
        InfoRow {
            run_id: text(row, 1)?,
            experiment_id,
            run_name: text(row, 3)?,
            user_id: text(row, 4)?,
            status: RunStatus::parse(text(row, 5)?).unwrap_or(RunStatus::Running),
            start_time: row.get(6)?,
            end_time: row.get(7)?,
            artifact_uri: text(row, 8)?,
            lifecycle_stage: stage_from(text(row, 9)?),
        },
    ))
}

fn metric_value(value: f64, is_nan: bool) -> f64 {
    if is_nan { f64::NAN } else { value }
}

fn split_nan(v: f64) -> (f64, i64) {
    if v.is_nan() { (0.0, 1) } else { (v, 0) }
}

fn find_run(conn: &Connection, run_id: &str) -> TxResult<(i64, RunInfo)> {
    let mut st = conn.prepare_cached(&format!(
        "SELECT {RUN_COLUMNS} FROM runs r WHERE r.run_id = ?1"
    ))?;
    st.query_row([run_id], run_info_from_row)
        .optional()?
        .ok_or_else(|| TxError::Store(StoreError::run_not_found(run_id)))
}

fn find_active_run(conn: &Connection, run_id: &str) -> TxResult<(i64, RunInfo)> {
    let (key, info) = find_run(conn, run_id)?;
    if info.lifecycle_stage != LifecycleStage::Active {
        return Err(run_not_active(run_id).into());
    }
    Ok((key, info))
}

/// Load whole runs for `keys` (in that order) with five queries, whatever the page size.
fn load_runs(conn: &Connection, keys: &[i64]) -> rusqlite::Result<Vec<Run>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let list = json_list(keys);
    let mut st = conn.prepare_cached(&format!(
        "SELECT {RUN_COLUMNS} FROM runs r WHERE r.run_key IN (SELECT value FROM json_each(?1))"
    ))?;
    let infos = st
        .query_map([&list], run_info_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut runs = KeyedRuns::new(infos);
    load_data(conn, &mut runs, &list, &RunFields::default())?;
    let inputs = models::load_inputs(conn, &list)?;
    Ok(runs.in_order(keys, inputs))
}

/// Run keys as the JSON array `json_each` reads.
fn json_list(keys: &[i64]) -> String {
    let mut list = String::with_capacity(keys.len() * 8 + 2);
    list.push('[');
    for (i, k) in keys.iter().enumerate() {
        if i > 0 {
            list.push(',');
        }
        write!(list, "{k}").expect("writing to a String");
    }
    list.push(']');
    list
}

/// Attaches to `runs` (whose keys are the JSON array `list`) their params and the tags and
/// latest metrics `fields` selects. Each table is read from the runs' keys in the order of
/// its primary key (run, key), with no sort and no temporary index; rows that are not
/// kept allocate nothing.
fn load_data(
    conn: &Connection,
    runs: &mut impl RunRows,
    list: &str,
    fields: &RunFields,
) -> rusqlite::Result<()> {
    let query = |st: &mut rusqlite::CachedStatement<'_>, bounds: Option<(&str, &str)>| {
        st.raw_bind_parameter(1, list)?;
        if let Some((low, high)) = bounds {
            st.raw_bind_parameter(2, low)?;
            st.raw_bind_parameter(3, high)?;
        }
        Ok::<_, rusqlite::Error>(())
    };
    let tables = [
        ("params", true, data_rows("params", "d.value", None)),
        (
            "tags",
            false,
            data_rows("tags", "d.value", fields.tag_keys()),
        ),
    ];
    for (_, is_param, sql) in tables {
        let Some((sql, bounds)) = sql else { continue };
        let mut st = conn.prepare_cached(&sql)?;
        query(&mut st, bounds)?;
        let mut rows = st.raw_query();
        while let Some(r) = rows.next()? {
            let key = text(r, 1)?;
            if !is_param && !fields.wants_tag(key) {
                continue;
            }
            let (run, value) = (r.get(0)?, text(r, 2)?);
            if is_param {
                runs.param(run, key, value);
            } else {
                runs.tag(run, key, value);
            }
        }
    }
    let metrics = data_rows(
        "latest_metrics",
        "d.value, d.is_nan, d.timestamp, d.step",
        fields.metric_keys(),
    );
    let Some((sql, bounds)) = metrics else {
        return Ok(());
    };
    let mut st = conn.prepare_cached(&sql)?;
    query(&mut st, bounds)?;
    let mut rows = st.raw_query();
    while let Some(r) = rows.next()? {
        let key = text(r, 1)?;
        if !fields.wants_metric(key) {
            continue;
        }
        let value = metric_value(r.get(2)?, r.get(3)?);
        runs.metric(r.get(0)?, key, value, r.get(4)?, r.get(5)?);
    }
    Ok(())
}

/// The query of `columns` of `table`'s rows for the runs whose keys are bound as `?1`, and
/// the bounds to bind as `?2` and `?3` when only `keys` are read (`None` when they are none).
/// Only the range between the least and the greatest key is read: each run's rows are
/// found with one seek either way, and the range skips the others.
fn data_rows<'k>(
    table: &str,
    columns: &str,
    keys: Option<&'k [String]>,
) -> Option<(String, Option<(&'k str, &'k str)>)> {
    let sql = format!(
        "SELECT d.run_key, d.key, {columns} FROM json_each(?1) k \
         CROSS JOIN {table} d ON d.run_key = k.value"
    );
    match keys.map(|k| (k.iter().min(), k.iter().max())) {
        None => Some((sql, None)),
        Some((Some(low), Some(high))) => Some((
            sql + " AND d.key BETWEEN ?2 AND ?3",
            Some((low.as_str(), high.as_str())),
        )),
        Some(_) => None,
    }
}

/// Column `i` of `row` as text, borrowed from the row.
fn text<'r>(row: &'r rusqlite::Row<'_>, i: usize) -> rusqlite::Result<&'r str> {
    row.get_ref(i)?.as_str().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn load_experiment(conn: &Connection, id: i64) -> rusqlite::Result<Option<Experiment>> {
    let mut st = conn.prepare_cached(
        "SELECT experiment_id, name, artifact_location, lifecycle_stage, creation_time, \
         last_update_time FROM experiments WHERE experiment_id = ?1",
    )?;
    let exp = st
        .query_row([id], |r| {
            Ok(Experiment {
                experiment_id: ExperimentId(r.get::<_, i64>(0)?.to_string()),
                name: r.get(1)?,
                artifact_location: r.get(2)?,
                lifecycle_stage: stage_from(&r.get::<_, String>(3)?),
                creation_time: r.get(4)?,
                last_update_time: r.get(5)?,
                tags: Vec::new(),
            })
        })
        .optional()?;
    let Some(mut exp) = exp else { return Ok(None) };
    let mut st = conn.prepare_cached(
        "SELECT key, value FROM experiment_tags WHERE experiment_id = ?1 ORDER BY key",
    )?;
    for t in st.query_map([id], |r| {
        Ok(Tag::new(r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })? {
        exp.tags.push(t?);
    }
    Ok(Some(exp))
}

fn get_experiment_tx(conn: &Connection, id: &ExperimentId) -> TxResult<(i64, Experiment)> {
    let n = parse_experiment_id(id)?;
    load_experiment(conn, n)?
        .map(|e| (n, e))
        .ok_or_else(|| TxError::Store(StoreError::experiment_not_found(id)))
}

/// The key of experiment `id`, which must be active (for changing its tags).
fn active_experiment_tx(conn: &Connection, id: &ExperimentId) -> TxResult<i64> {
    let (n, exp) = get_experiment_tx(conn, id)?;
    if exp.lifecycle_stage != LifecycleStage::Active {
        return Err(experiment_not_active(id, None).into());
    }
    Ok(n)
}

/// Sets the last update time of experiment `n` to now.
fn touch_experiment(conn: &Connection, n: i64) -> TxResult<()> {
    conn.prepare_cached("UPDATE experiments SET last_update_time = ?1 WHERE experiment_id = ?2")?
        .execute(params![now_ms(), n])?;
    Ok(())
}

fn name_taken(conn: &Connection, name: &str) -> rusqlite::Result<bool> {
    conn.prepare_cached("SELECT 1 FROM experiments WHERE name = ?1")?
        .exists([name])
}

fn create_run_tx(
    tx: &Connection,
    experiment_id: &ExperimentId,
    start: &RunStart,
    prepared: &PreparedStart,
    status: RunStatus,
    end_time: Option<i64>,
) -> TxResult<(i64, Run)> {
    let run_id = new_run_id();
    let run_name = &prepared.run_name;
    let dedup = &prepared.tags;
    let start_time = start.start_time.unwrap_or_else(now_ms);
    let user_id = start.user_id.clone().unwrap_or_default();
    let n = parse_experiment_id(experiment_id)?;
    let (location, stage): (String, String) = tx
        .prepare_cached(
            "SELECT artifact_location, lifecycle_stage FROM experiments WHERE experiment_id = ?1",
        )?
        .query_row([n], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?
        .ok_or_else(|| StoreError::experiment_not_found(experiment_id))?;
    if stage_from(&stage) != LifecycleStage::Active {
        return Err(experiment_not_active(experiment_id, Some("to create runs in it")).into());
    }
    let artifact_uri = format!("{}/{run_id}/artifacts", location.trim_end_matches('/'));
    tx.prepare_cached(
        "INSERT INTO runs (run_id, experiment_id, name, user_id, status, start_time, \
                 end_time, artifact_uri, lifecycle_stage) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'active')",
    )?
    .execute(params![
        run_id,
        n,
        run_name,
        user_id,
        status.as_str(),
        start_time,
        end_time,
        artifact_uri
    ])?;
    let key = tx.last_insert_rowid();
    TAGS_INSERT.execute(tx, dedup, |t| key_value_row(key, &t.key, &t.value))?;
    Ok((
        key,
        Run {
            info: RunInfo {
                run_id: run_id.clone(),
                experiment_id: ExperimentId(n.to_string()),
                run_name: run_name.clone(),
                user_id: user_id.clone(),
                status,
                start_time,
                end_time,
                artifact_uri,
                lifecycle_stage: LifecycleStage::Active,
            },
            data: RunData {
                metrics: Vec::new(),
                params: Vec::new(),
                tags: dedup.clone(),
            },
            inputs: RunInputs::default(),
        },
    ))
}

fn update_run_tx(
    tx: &Connection,
    key: i64,
    mut info: RunInfo,
    update: &RunUpdate,
) -> TxResult<RunInfo> {
    apply_run_update(&mut info, update);
    if let Some(name) = &update.run_name {
        tx.prepare_cached("INSERT OR REPLACE INTO tags (run_key, key, value) VALUES (?1, ?2, ?3)")?
            .execute(params![key, tags::RUN_NAME, name])?;
    }
    tx.prepare_cached("UPDATE runs SET status = ?1, end_time = ?2, name = ?3 WHERE run_key = ?4")?
        .execute(params![
            info.status.as_str(),
            info.end_time,
            info.run_name,
            key
        ])?;
    Ok(info)
}

/// A multi-row `INSERT` of `W` columns: one execution writes up to [`Self::MAX_ROWS`] rows,
/// so a batch costs a few statement executions rather than one per row. Chunks have
/// power-of-two sizes, largest first, so that a handful of cached statements serves every
/// batch size.
struct MultiInsert<const W: usize> {
    /// At index `i`, the statement for a chunk of `2^i` rows.
    sql: Vec<String>,
}

impl<const W: usize> MultiInsert<W> {
    const MAX_ROWS: usize = 64;

    /// `head` is `INSERT ... INTO table (W columns)`.
    fn new(head: &str) -> Self {
        let row = format!("({})", ["?"; W].join(", "));
        let sql = (0..=Self::MAX_ROWS.ilog2())
            .map(|i| format!("{head} VALUES {}", vec![row.as_str(); 1 << i].join(", ")))
            .collect();
        MultiInsert { sql }
    }

    /// Writes one row per item of `rows`, with the column values `values` gives; returns
    /// how many rows were inserted or changed.
    fn execute<T>(
        &self,
        conn: &Connection,
        rows: &[T],
        values: impl for<'r> Fn(&'r T) -> [ValueRef<'r>; W],
    ) -> rusqlite::Result<usize> {
        let mut changed = 0;
        let mut rest = rows;
        while !rest.is_empty() {
            let log2 = rest.len().min(Self::MAX_ROWS).ilog2();
            let (chunk, tail) = rest.split_at(1 << log2);
            let mut st = conn.prepare_cached(&self.sql[log2 as usize])?;
            for (i, row) in chunk.iter().enumerate() {
                for (j, value) in values(row).into_iter().enumerate() {
                    st.raw_bind_parameter(i * W + j + 1, ToSqlOutput::Borrowed(value))?;
                }
            }
            changed += st.raw_execute()?;
            rest = tail;
        }
        Ok(changed)
    }
}

static PARAMS_INSERT: LazyLock<MultiInsert<3>> =
    LazyLock::new(|| MultiInsert::new("INSERT OR IGNORE INTO params (run_key, key, value)"));
/// For a new run's deduplicated tags: nothing is ignored, but unlike a plain INSERT, a
/// multi-row INSERT OR IGNORE cannot abort halfway, so SQLite keeps no statement journal
/// (a copy of every page it changes) for it.
static TAGS_INSERT: LazyLock<MultiInsert<3>> =
    LazyLock::new(|| MultiInsert::new("INSERT OR IGNORE INTO tags (run_key, key, value)"));
static TAGS_UPSERT: LazyLock<MultiInsert<3>> =
    LazyLock::new(|| MultiInsert::new("INSERT OR REPLACE INTO tags (run_key, key, value)"));
static METRICS_INSERT: LazyLock<MultiInsert<6>> = LazyLock::new(|| {
    MultiInsert::new("INSERT OR IGNORE INTO metrics (run_key, key, value, is_nan, timestamp, step)")
});
/// Adds the metric keys a run has no latest point for yet; [`log_batch_tx`] updates the
/// others where the new point is newer. (An upsert would do both in one statement, but
/// SQLite keeps a statement journal for a multi-row upsert.)
static LATEST_INSERT: LazyLock<MultiInsert<6>> = LazyLock::new(|| {
    MultiInsert::new(
        "INSERT OR IGNORE INTO latest_metrics (run_key, key, value, is_nan, timestamp, step)",
    )
});

/// A params or tags row.
fn key_value_row<'r>(run_key: i64, key: &'r str, value: &'r str) -> [ValueRef<'r>; 3] {
    [ValueRef::Integer(run_key), key.into(), value.into()]
}

/// A metrics or latest_metrics row.
fn metric_row(run_key: i64, m: &Metric) -> [ValueRef<'_>; 6] {
    let (value, is_nan) = split_nan(m.value);
    [
        ValueRef::Integer(run_key),
        m.key.as_str().into(),
        ValueRef::Real(value),
        ValueRef::Integer(is_nan),
        ValueRef::Integer(m.timestamp),
        ValueRef::Integer(m.step),
    ]
}

fn log_batch_tx(
    tx: &Connection,
    key: i64,
    run_id: &str,
    metrics: &[Metric],
    params: &[Param],
    tags: &[Tag],
) -> TxResult<()> {
    // Params first: a conflict aborts the whole transaction before anything lands.
    let inserted = PARAMS_INSERT.execute(tx, params, |p| key_value_row(key, &p.key, &p.value))?;
    if inserted < params.len() {
        // Some keys were there already (logged before, or earlier in this batch): each
        // must have been logged with the same value.
        let mut get =
            tx.prepare_cached("SELECT value FROM params WHERE run_key = ?1 AND key = ?2")?;
        let mut conflicts = Vec::new();
        for p in params {
            let old: String = get.query_row(params![key, p.key], |r| r.get(0))?;
            if !same_param_value(&old, &p.value) {
                conflicts.push((p.key.clone(), old, p.value.clone()));
            }
        }
        if let Some(e) = param_conflicts(run_id, &conflicts) {
            return Err(e.into());
        }
    }
    METRICS_INSERT.execute(tx, metrics, |m| metric_row(key, m))?;
    // A point already in the history is no newer than the latest, so writing the batch's
    // latest point per key where it is newer keeps `latest_metrics` the maximum of the
    // history.
    let latest = latest_per_key(metrics);
    if LATEST_INSERT.execute(tx, &latest, |m| metric_row(key, m))? < latest.len() {
        let mut update = tx.prepare_cached(
            "UPDATE latest_metrics SET value = ?3, is_nan = ?4, timestamp = ?5, step = ?6 \
             WHERE run_key = ?1 AND key = ?2 AND (step, timestamp, value) < (?6, ?5, ?3)",
        )?;
        for m in latest {
            for (i, value) in metric_row(key, m).into_iter().enumerate() {
                update.raw_bind_parameter(i + 1, ToSqlOutput::Borrowed(value))?;
            }
            update.raw_execute()?;
        }
    }
    TAGS_UPSERT.execute(tx, tags, |t| key_value_row(key, &t.key, &t.value))?;
    if let Some(name) = tags.iter().rev().find(|t| t.key == tags::RUN_NAME) {
        tx.prepare_cached("UPDATE runs SET name = ?1 WHERE run_key = ?2")?
            .execute(params![name.value, key])?;
    }
    Ok(())
}

impl Store for SqliteStore {
    fn create_experiment(
        &self,
        name: &str,
        artifact_location: Option<&str>,
        tags: &[Tag],
    ) -> Result<ExperimentId> {
        validate_experiment_name(name)?;
        for t in tags {
            validate_experiment_tag(t)?;
        }
        let root = self.artifact_root.clone();
        self.write("creating an experiment", |tx| {
            if name_taken(tx, name)? {
                return Err(experiment_name_taken(name).into());
            }
            let now = now_ms();
            tx.prepare_cached(
                "INSERT INTO experiments (name, artifact_location, lifecycle_stage, \
                 creation_time, last_update_time) VALUES (?1, ?2, 'active', ?3, ?3)",
            )?
            .execute(params![name, artifact_location.unwrap_or(""), now])?;
            let id = tx.last_insert_rowid();
            if artifact_location.is_none_or(str::is_empty) {
                let loc = child_location(&root, &id.to_string());
                tx.prepare_cached("UPDATE experiments SET artifact_location = ?1 WHERE experiment_id = ?2")?
                    .execute(params![loc, id])?;
            }
            let mut st = tx.prepare_cached(
                "INSERT OR REPLACE INTO experiment_tags (experiment_id, key, value) VALUES (?1, ?2, ?3)",
            )?;
            for t in tags {
                st.execute(params![id, t.key, t.value])?;
            }
            Ok(ExperimentId(id.to_string()))
        })
    }

    fn get_experiment_by_name(&self, name: &str) -> Result<Option<Experiment>> {
        self.read("reading an experiment", |tx| {
            let id: Option<i64> = tx
                .prepare_cached("SELECT experiment_id FROM experiments WHERE name = ?1")?
                .query_row([name], |r| r.get(0))
                .optional()?;
            match id {
                Some(id) => Ok(load_experiment(tx, id)?),
                None => Ok(None),
            }
        })
    }

    fn rename_experiment(&self, id: &ExperimentId, new_name: &str) -> Result<()> {
        validate_experiment_name(new_name)?;
        self.write("renaming an experiment", |tx| {
            let (n, exp) = get_experiment_tx(tx, id)?;
            if exp.lifecycle_stage != LifecycleStage::Active {
                return Err(experiment_rename_not_active(id).into());
            }
            if exp.name == new_name {
                return Ok(());
            }
            if name_taken(tx, new_name)? {
                return Err(experiment_rename_taken(new_name).into());
            }
            tx.prepare_cached(
                "UPDATE experiments SET name = ?1, last_update_time = ?2 WHERE experiment_id = ?3",
            )?
            .execute(params![new_name, now_ms(), n])?;
            Ok(())
        })
    }

    fn set_experiment_tag(&self, id: &ExperimentId, tag: &Tag) -> Result<()> {
        validate_experiment_tag(tag)?;
        self.write("setting an experiment tag", |tx| {
            let n = active_experiment_tx(tx, id)?;
            tx.prepare_cached(
                "INSERT OR REPLACE INTO experiment_tags (experiment_id, key, value) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![n, tag.key, tag.value])?;
            touch_experiment(tx, n)
        })
    }

    fn delete_experiment_tag(&self, id: &ExperimentId, key: &str) -> Result<()> {
        self.write("deleting an experiment tag", |tx| {
            let n = active_experiment_tx(tx, id)?;
            let changed = tx
                .prepare_cached(
                    "DELETE FROM experiment_tags WHERE experiment_id = ?1 AND key = ?2",
                )?
                .execute(params![n, key])?;
            if changed == 0 {
                return Err(tag_not_found(key, "experiment", &id.0).into());
            }
            touch_experiment(tx, n)
        })
    }

    super::sql::store_methods!();

    fn delete_tag(&self, run_id: &str, tag_key: &str) -> Result<()> {
        self.write("deleting a tag", |tx| {
            let (key, _) = find_active_run(tx, run_id)?;
            let n = tx
                .prepare_cached("DELETE FROM tags WHERE run_key = ?1 AND key = ?2")?
                .execute(params![key, tag_key])?;
            if n == 0 {
                return Err(tag_not_found(tag_key, "run", run_id).into());
            }
            Ok(())
        })
    }

    fn get_metric_history(&self, run_id: &str, metric_key: &str) -> Result<Vec<Metric>> {
        self.read("reading metric history", |tx| {
            let (key, _) = find_run(tx, run_id)?;
            let mut st = tx.prepare_cached(
                "SELECT value, is_nan, timestamp, step FROM metrics WHERE run_key = ?1 AND key = ?2 \
                 ORDER BY timestamp, step, value",
            )?;
            let rows = st.query_map(params![key, metric_key], |r| {
                Ok(Metric {
                    key: metric_key.to_string(),
                    value: metric_value(r.get(0)?, r.get(1)?),
                    timestamp: r.get(2)?,
                    step: r.get(3)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn count_runs(&self, query: &RunQuery) -> Result<usize> {
        if query.experiment_ids.is_empty() {
            return Ok(0);
        }
        let search = search::count_runs(query)?;
        self.maybe_analyze();
        self.read("counting runs", |tx| {
            Ok(search.keys(tx)?.first().copied().unwrap_or(0))
        })
        .map(|n| usize::try_from(n).unwrap_or(0))
    }

    fn search_runs(&self, query: &RunQuery) -> Result<Page<Run>> {
        validate_max_results(query.max_results)?;
        if query.experiment_ids.is_empty() {
            page_token_json(query.page_token.as_deref())?;
            return Ok(Page::last(Vec::new()));
        }
        let search = search::runs(query)?;
        self.maybe_analyze();
        self.read("searching runs", |tx| {
            let page = search.page(tx)?;
            Ok(Page {
                items: load_runs(tx, &page.keys)?,
                next_page_token: page.next_page_token,
            })
        })
    }

    fn select_runs(&self, query: &RunQuery, fields: &RunFields) -> Result<SelectedRuns> {
        if query.experiment_ids.is_empty() {
            return Ok(SelectedRuns::default());
        }
        let matches = search::select_matching(query, RUN_COLUMNS)?;
        self.maybe_analyze();
        self.read("reading runs", |tx| {
            let mut runs = SelectedRunsBuilder::default();
            let mut experiment_id = String::new();
            let keys = matches.rows(tx, |row| {
                let (key, info) = info_row(row, &mut experiment_id)?;
                Ok((key, runs.run(info)))
            })?;
            let mut runs = KeyedSelection::new(runs, keys);
            let list = json_list(runs.keys());
            load_data(tx, &mut runs, &list, fields)?;
            Ok(runs)
        })?
        .finish()
    }

    fn log_inputs(&self, run_id: &str, inputs: &[DatasetInput]) -> Result<()> {
        validate_dataset_inputs(inputs)?;
        self.write("logging inputs", |tx| {
            models::log_inputs_tx(tx, run_id, inputs)
        })
    }

    super::sql::models_and_registry_methods!();
}

impl SqliteStore {
    fn set_experiment_stage(&self, id: &ExperimentId, stage: LifecycleStage) -> Result<()> {
        self.write("changing an experiment's lifecycle stage", |tx| {
            let (n, _) = get_experiment_tx(tx, id)?;
            tx.prepare_cached(
                "UPDATE experiments SET lifecycle_stage = ?1, last_update_time = ?2 \
                 WHERE experiment_id = ?3",
            )?
            .execute(params![stage.as_str(), now_ms(), n])?;
            tx.prepare_cached("UPDATE runs SET lifecycle_stage = ?1 WHERE experiment_id = ?2")?
                .execute(params![stage.as_str(), n])?;
            Ok(())
        })
    }

    fn set_run_stage(&self, run_id: &str, stage: LifecycleStage) -> Result<()> {
        self.write("changing a run's lifecycle stage", |tx| {
            let (key, _) = find_run(tx, run_id)?;
            tx.prepare_cached("UPDATE runs SET lifecycle_stage = ?1 WHERE run_key = ?2")?
                .execute(params![stage.as_str(), key])?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nan_roundtrip_and_latest() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open_with_artifact_root(dir.path().join("t.db"), dir.path()).unwrap();
        let run = s
            .create_run(&ExperimentId::default_experiment(), RunStart::default())
            .unwrap();
        let ms = [
            Metric {
                key: "m".into(),
                value: 1.0,
                timestamp: 5,
                step: 0,
            },
            Metric {
                key: "m".into(),
                value: f64::NAN,
                timestamp: 6,
                step: 1,
            },
            Metric {
                key: "m".into(),
                value: f64::INFINITY,
                timestamp: 4,
                step: 0,
            },
        ];
        s.log_batch(run.id(), &ms, &[], &[]).unwrap();
        let h = s.get_metric_history(run.id(), "m").unwrap();
        assert_eq!(h.len(), 3);
        assert!(h[0].value.is_infinite() && h[2].value.is_nan());
        assert!(
            s.get_run(run.id())
                .unwrap()
                .data
                .metric("m")
                .unwrap()
                .is_nan()
        );
    }
}
