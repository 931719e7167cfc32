//! The SQLite store's connections: one writer behind a mutex, a pool of readers, opening in
//! a mode, retrying a busy database without holding any lock, and database errors in words.
//!
//! - Writes go through the one writer connection, in `BEGIN IMMEDIATE` transactions. The
//!   writer has no busy timeout: when another process holds the write lock, the attempt
//!   fails at once, the mutex is released, and the write sleeps (with backoff) before it
//!   tries again, so threads of this process never wait behind a sleeping one.
//! - Reads take a reader connection from the pool (opening one when none is idle) and run a
//!   deferred transaction on it: in WAL mode they see the last commit and never wait for a
//!   writer, in this process or another.
//! - [`OpenMode::ReadOnly`] opens no writer and runs no migration; readers open the file
//!   `mode=ro`, or `immutable=1` when the folder is read-only and no write-ahead log exists
//!   (nobody can be writing it then, and SQLite could not create its shared-memory file).

use super::super::store::{OpenMode, Result, StoreError};
use crate::lock;
use percent_encoding::{AsciiSet, CONTROLS, percent_encode};
use rusqlite::{Connection, ErrorCode, OpenFlags, Transaction, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// How long a busy database is retried before giving up.
const BUSY_DEADLINE: Duration = Duration::from_secs(120);

/// Idle readers kept for reuse; more may be open while busy.
const MAX_IDLE_READERS: usize = 8;

/// The page cache of the writing connection, in KiB. Writes touch the right edges of the
/// tables and the index pages of the keys they insert; a small cache keeps a process
/// that writes a growing database (a sweep of 100,000 trials) at a flat size, and pages
/// it drops are read back from the OS's cache.
const WRITER_CACHE_KIB: i64 = 4 << 10;

/// The page cache of each reading connection, in KiB: large enough for the searches of
/// a server over a big store, bounded so that the idle readers of a long-running
/// process do not each grow to hold the database.
const READER_CACHE_KIB: i64 = 16 << 10;

/// An error inside a transaction: SQL errors may be retried, store errors not.
pub(super) enum TxError {
    Sql(rusqlite::Error),
    Store(StoreError),
}

impl From<rusqlite::Error> for TxError {
    fn from(e: rusqlite::Error) -> Self {
        TxError::Sql(e)
    }
}

impl From<StoreError> for TxError {
    fn from(e: StoreError) -> Self {
        TxError::Store(e)
    }
}

/// The result of work inside a transaction.
pub(super) type TxResult<T> = std::result::Result<T, TxError>;

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

/// Sleeps 2^attempt ms (at most 64) plus jitter.
fn backoff(attempt: u32) {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let base = 2u64.saturating_pow(attempt.min(6));
    let jitter = u64::from(nanos % 1000) * base / 1000;
    std::thread::sleep(Duration::from_millis(base + jitter));
}

/// Runs `attempt` until it does not fail with a busy database, for at most
/// [`BUSY_DEADLINE`], sleeping between attempts. Whatever `attempt` locks, it must release
/// before returning, so that nothing is held while sleeping.
fn retry_busy<T>(mut attempt: impl FnMut() -> TxResult<T>) -> TxResult<T> {
    let start = Instant::now();
    let mut n = 0;
    loop {
        match attempt() {
            Err(TxError::Sql(e)) if is_busy(&e) && start.elapsed() < BUSY_DEADLINE => {
                n += 1;
                backoff(n);
            }
            other => return other,
        }
    }
}

/// Runs `f` in one transaction of `conn`; dropping the transaction on an error rolls it back.
fn in_transaction<T>(
    conn: &mut Connection,
    behavior: TransactionBehavior,
    f: &mut impl FnMut(&Transaction<'_>) -> TxResult<T>,
) -> TxResult<T> {
    let tx = conn.transaction_with_behavior(behavior)?;
    let value = f(&tx)?;
    tx.commit()?;
    Ok(value)
}

/// An SQLite error as the store reports it: in words, with the database's path, and never
/// with SQL text in it.
pub(super) fn sql_error(path: &Path, context: &str, e: &rusqlite::Error) -> StoreError {
    let shown = path.display();
    let database = |message: String| StoreError::Database {
        context: context.to_string(),
        message,
    };
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
            StoreError::Unavailable(format!(
                "the tracking database {shown} stayed locked by another connection for {} s \
                 while {context}; try again once the other writer is done",
                BUSY_DEADLINE.as_secs()
            ))
        }
        Some(ErrorCode::ReadOnly) if folder_problem(e) => folder_not_writable(path),
        Some(ErrorCode::ReadOnly) => not_writable(
            path,
            "SQLite may not write to it (the file is read-only, or the file system is); read \
             it with OpenMode::ReadOnly (hyperflow's read commands do), or give write \
             permission",
        ),
        Some(ErrorCode::CannotOpen | ErrorCode::PermissionDenied) => cannot_open(path),
        Some(ErrorCode::DiskFull) => database(format!("the disk holding {shown} is full")),
        Some(ErrorCode::NotADatabase) => database(format!("{shown} is not an SQLite database")),
        Some(ErrorCode::DatabaseCorrupt) => database(format!(
            "{shown} is damaged (SQLite reports a malformed database image)"
        )),
        _ => database(sql_free_message(e)),
    }
}

/// The error's message without any SQL: SQLite's generic description for errors whose
/// message may quote the statement (syntax and logic errors), its message otherwise.
fn sql_free_message(e: &rusqlite::Error) -> String {
    match e {
        rusqlite::Error::SqliteFailure(err, message) => match (err.code, message) {
            (ErrorCode::Unknown, _) | (_, None) => {
                rusqlite::ffi::code_to_str(err.extended_code).to_string()
            }
            (_, Some(message)) => message.clone(),
        },
        rusqlite::Error::SqlInputError { error, .. } => {
            rusqlite::ffi::code_to_str(error.extended_code).to_string()
        }
        other => other.to_string(),
    }
}

fn not_accessible(path: &Path, access: &'static str, reason: &str) -> StoreError {
    StoreError::NotAccessible {
        path: path.display().to_string(),
        access,
        reason: reason.to_string(),
    }
}

fn not_writable(path: &Path, reason: &str) -> StoreError {
    not_accessible(path, "writable", reason)
}

/// A read-only error that comes from the folder: SQLite could not create or lock the
/// `-wal` and `-shm` files next to the database.
fn folder_problem(e: &rusqlite::Error) -> bool {
    use rusqlite::ffi::{
        SQLITE_READONLY_CANTINIT, SQLITE_READONLY_CANTLOCK, SQLITE_READONLY_DIRECTORY,
    };
    matches!(e, rusqlite::Error::SqliteFailure(err, _) if matches!(
        err.extended_code,
        SQLITE_READONLY_CANTINIT | SQLITE_READONLY_CANTLOCK | SQLITE_READONLY_DIRECTORY
    ))
}

/// The folder of the database at `path` may not be written.
fn folder_not_writable(path: &Path) -> StoreError {
    not_writable(
        path.parent().unwrap_or(path),
        &format!(
            "SQLite keeps the -wal and -shm files of {} in its folder and could not create \
             them; give write permission on the folder, or read the database with \
             OpenMode::ReadOnly (hyperflow's read commands do)",
            path.display()
        ),
    )
}

/// SQLite could not open `path` (or a file next to it): a file that reads fine means the
/// folder may not be written, else the file may not be read.
fn cannot_open(path: &Path) -> StoreError {
    if std::fs::File::open(path).is_ok() {
        return folder_not_writable(path);
    }
    not_accessible(
        path,
        "readable",
        "SQLite could not open it; check that this user may read the file and enter its folder",
    )
}

/// `e`, met while `doing` something to `path` that needs it to be `access`, in words.
fn io_error(path: &Path, access: &'static str, doing: &str, e: std::io::Error) -> StoreError {
    use std::io::ErrorKind;
    match e.kind() {
        ErrorKind::PermissionDenied | ErrorKind::ReadOnlyFilesystem => {
            not_accessible(path, access, &format!("{doing}: {e}"))
        }
        _ => StoreError::io(format!("{doing} {}", path.display()), e),
    }
}

/// Characters a path must not hold raw in an SQLite URI.
const URI_PATH: &AsciiSet = &CONTROLS.add(b'%').add(b'?').add(b'#').add(b' ');

/// How readers open the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReaderKind {
    /// `mode=ro`: locks and the WAL as usual.
    Shared,
    /// `immutable=1`: no locks, no shared memory; only for a file nobody can be writing.
    Immutable,
}

/// The writer, the readers and the background checkpointer of one store.
///
/// Fields drop in order: the checkpointer and the readers close before the writer, so that
/// the last connection to close may write, and checkpoints the WAL into the database and
/// removes the `-wal` and `-shm` files (a read-only connection could not).
#[derive(Debug)]
pub(super) struct Connections {
    _checkpointer: Option<Checkpointer>,
    idle: Mutex<Vec<(u64, Connection)>>,
    writer: Option<Mutex<Connection>>,
    path: PathBuf,
    readers: ReaderKind,
    /// Bumped when the planner statistics change: readers opened before are closed rather
    /// than reused, so that new ones load the statistics.
    generation: AtomicU64,
}

impl Connections {
    /// Opens the database at `path` (absolute) in `mode`; `prepare` runs once on the writer
    /// of a read-write store (creating or migrating the schema); `check` runs once on a
    /// reader (checking the schema version).
    pub(super) fn open(
        path: &Path,
        mode: OpenMode,
        prepare: impl FnOnce(&Connection) -> Result<()>,
        check: impl FnOnce(&Connection) -> Result<()>,
    ) -> Result<Self> {
        let (writer, readers) = match mode {
            OpenMode::ReadWrite => {
                let writer = open_writer(path)?;
                prepare(&writer)?;
                (Some(Mutex::new(writer)), ReaderKind::Shared)
            }
            OpenMode::ReadOnly => (None, reader_kind(path)?),
        };
        let connections = Connections {
            _checkpointer: writer.as_ref().map(|_| Checkpointer::start(path)),
            idle: Mutex::new(Vec::new()),
            writer,
            path: path.to_path_buf(),
            readers,
            generation: AtomicU64::new(0),
        };
        let reader = connections.open_reader()?;
        check(&reader)?;
        connections.put_reader(0, reader);
        Ok(connections)
    }

    /// Runs `f` in a write transaction, retrying the whole transaction (with the writer's
    /// mutex released) while another connection holds the write lock.
    pub(super) fn write<T>(
        &self,
        context: &str,
        mut f: impl FnMut(&Transaction<'_>) -> TxResult<T>,
    ) -> Result<T> {
        let writer = self.writer.as_ref().ok_or_else(|| {
            not_writable(
                &self.path,
                &format!(
                    "the store was opened read-only (OpenMode::ReadOnly), and {context} \
                     writes; open it with OpenMode::ReadWrite"
                ),
            )
        })?;
        let result = retry_busy(|| {
            let mut conn = lock(writer);
            in_transaction(&mut conn, TransactionBehavior::Immediate, &mut f)
        });
        self.finish(context, result)
    }

    /// Runs `f` in a read transaction on a reader connection.
    pub(super) fn read<T>(
        &self,
        context: &str,
        mut f: impl FnMut(&Transaction<'_>) -> TxResult<T>,
    ) -> Result<T> {
        let (generation, mut conn) = self.take_reader()?;
        let result =
            retry_busy(|| in_transaction(&mut conn, TransactionBehavior::Deferred, &mut f));
        self.put_reader(generation, conn);
        self.finish(context, result)
    }

    /// Runs `f` on the writer now if nothing else is using it, without waiting or retrying;
    /// `false` when it could not (read-only store, writer busy, or `f` failed). Readers
    /// opened before are retired, so that statements prepared afterwards see what `f`
    /// changed in the planner's statistics.
    pub(super) fn try_maintain(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<()>) -> bool {
        let Some(Ok(conn)) = self.writer.as_ref().map(Mutex::try_lock) else {
            return false;
        };
        let done = f(&conn).is_ok();
        if done {
            self.generation.fetch_add(1, Ordering::Relaxed);
            lock(&self.idle).clear();
        }
        done
    }

    fn finish<T>(&self, context: &str, result: TxResult<T>) -> Result<T> {
        result.map_err(|e| match e {
            TxError::Store(e) => e,
            TxError::Sql(e) => sql_error(&self.path, context, &e),
        })
    }

    fn take_reader(&self) -> Result<(u64, Connection)> {
        if let Some(idle) = lock(&self.idle).pop() {
            return Ok(idle);
        }
        let generation = self.generation.load(Ordering::Relaxed);
        Ok((generation, self.open_reader()?))
    }

    fn put_reader(&self, generation: u64, conn: Connection) {
        let mut idle = lock(&self.idle);
        if generation == self.generation.load(Ordering::Relaxed) && idle.len() < MAX_IDLE_READERS {
            idle.push((generation, conn));
        }
    }

    fn open_reader(&self) -> Result<Connection> {
        open_reader(&self.path, self.readers)
    }
}

/// Runs `f` until it does not fail with a busy database (while opening: no lock is held).
pub(super) fn retry_open<T>(
    path: &Path,
    context: &str,
    mut f: impl FnMut() -> rusqlite::Result<T>,
) -> Result<T> {
    retry_busy(|| f().map_err(TxError::Sql)).map_err(|e| match e {
        TxError::Sql(e) => sql_error(path, context, &e),
        TxError::Store(e) => e,
    })
}

fn not_a_folder(path: &Path) -> Result<()> {
    if path.is_dir() {
        return Err(StoreError::InvalidParameter(format!(
            "{} is a folder, not a tracking database file; name the .db file in the tracking \
             URI",
            path.display()
        )));
    }
    Ok(())
}

fn open_writer(path: &Path) -> Result<Connection> {
    not_a_folder(path)?;
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        // The folder is named once, as the path that failed (the database's own path
        // would repeat it).
        std::fs::create_dir_all(dir)
            .map_err(|e| io_error(dir, "writable", "creating the database's folder", e))?;
    }
    let context = format!("opening database {}", path.display());
    let conn = retry_open(path, &context, || Connection::open(path))?;
    // SQLite opens a file it may not write read-only, and says so only at the first write.
    if conn
        .is_readonly(rusqlite::MAIN_DB)
        .map_err(|e| sql_error(path, &context, &e))?
    {
        return Err(not_writable(
            path,
            "this user may not write the file; read it with OpenMode::ReadOnly (hyperflow's \
             read commands do), or give write permission",
        ));
    }
    // No busy timeout: a busy write is retried by the store with the writer's mutex released.
    conn.busy_timeout(Duration::ZERO)
        .map_err(|e| sql_error(path, &context, &e))?;
    conn.set_prepared_statement_cache_capacity(128);
    retry_open(path, &context, || {
        conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get::<_, String>(0))?;
        conn.execute_batch(
            // foreign_keys=OFF: see the module documentation of the store.
            "PRAGMA synchronous=NORMAL; PRAGMA temp_store=MEMORY; PRAGMA foreign_keys=OFF; \
             PRAGMA analysis_limit=1000; PRAGMA wal_autocheckpoint=16384;",
        )?;
        conn.execute_batch(&format!("PRAGMA cache_size=-{WRITER_CACHE_KIB};"))
    })?;
    Ok(conn)
}

/// A read-only connection to the existing, non-empty database file at `path`, opened as a
/// read-only store's readers open it (writing nothing, also in a read-only folder); `None`
/// when there is no such file or it is empty (a new database).
pub(super) fn open_existing(path: &Path) -> Result<Option<Connection>> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() && meta.len() == 0 => return Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        _ => {}
    }
    let kind = reader_kind(path)?;
    open_reader(path, kind).map(Some)
}

/// How readers of the existing database at `path` open it in a read-only store; a missing
/// file is [`StoreError::NoDatabase`].
fn reader_kind(path: &Path) -> Result<ReaderKind> {
    match std::fs::metadata(path) {
        Ok(_) => not_a_folder(path)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(StoreError::NoDatabase {
                path: path.display().to_string(),
            });
        }
        Err(e) => {
            return Err(io_error(
                path,
                "readable",
                "reading the tracking database",
                e,
            ));
        }
    }
    // SQLite keeps a WAL database's shared memory in a -shm file next to it, which it must
    // be able to open or create. Where it cannot and no -wal file holds commits yet to be
    // copied into the database, nobody is writing the file, and it can be read immutable.
    match open_reader(path, ReaderKind::Shared)
        .and_then(|conn| probe(&conn).map_err(|e| sql_error(path, "reading", &e)))
    {
        Ok(()) => Ok(ReaderKind::Shared),
        Err(StoreError::NotAccessible { .. }) if !wal_path(path).exists() => {
            Ok(ReaderKind::Immutable)
        }
        Err(e) => Err(e),
    }
}

fn wal_path(path: &Path) -> PathBuf {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    PathBuf::from(wal)
}

/// Reads the schema, which needs the locks (or immutability) to work.
fn probe(conn: &Connection) -> rusqlite::Result<()> {
    conn.query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(()))
}

fn open_reader(path: &Path, kind: ReaderKind) -> Result<Connection> {
    let context = format!("opening database {}", path.display());
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_URI
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = match kind {
        ReaderKind::Shared => {
            retry_open(path, &context, || Connection::open_with_flags(path, flags))?
        }
        ReaderKind::Immutable => {
            let name = path.to_str().ok_or_else(|| {
                StoreError::InvalidParameter(format!(
                    "the path {} is not valid UTF-8, which reading a database in a read-only \
                     folder needs; move or rename it",
                    path.display()
                ))
            })?;
            let uri = format!(
                "file:{}?immutable=1",
                percent_encode(name.as_bytes(), URI_PATH)
            );
            retry_open(path, &context, || Connection::open_with_flags(&uri, flags))?
        }
    };
    conn.busy_timeout(Duration::ZERO)
        .map_err(|e| sql_error(path, &context, &e))?;
    conn.set_prepared_statement_cache_capacity(128);
    // Setting the cache reads the schema, which another process creating the database
    // may hold locked for a moment: retried like every other busy open step.
    retry_open(path, &context, || {
        conn.execute_batch(&format!(
            "PRAGMA temp_store=MEMORY; PRAGMA cache_size=-{READER_CACHE_KIB};"
        ))
    })?;
    Ok(conn)
}

/// Moves WAL pages into the database file from a background thread, so that the fsyncs
/// of checkpoints never stall a write (with `synchronous=NORMAL`, commits themselves do not
/// fsync). The writing connection keeps a large `wal_autocheckpoint` as a backstop.
#[derive(Debug)]
struct Checkpointer {
    stop: Arc<(Mutex<bool>, Condvar)>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Checkpointer {
    const INTERVAL: Duration = Duration::from_millis(500);

    fn start(path: &Path) -> Checkpointer {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let flag = Arc::clone(&stop);
        let path = path.to_path_buf();
        let handle = std::thread::Builder::new()
            .name("hyperflow-sqlite-checkpoint".into())
            .spawn(move || {
                let Ok(conn) = Connection::open(&path) else {
                    return;
                };
                let checkpoint = || {
                    // PASSIVE never blocks writers or readers; failures just wait for the
                    // next tick (or the writer's autocheckpoint backstop).
                    let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                };
                let (stop, wake) = &*flag;
                let mut stopped = lock(stop);
                while !*stopped {
                    let (guard, _) = wake
                        .wait_timeout(stopped, Self::INTERVAL)
                        .unwrap_or_else(|e| e.into_inner());
                    stopped = guard;
                    checkpoint();
                }
            })
            .ok();
        Checkpointer { stop, handle }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        let (stop, wake) = &*self.stop;
        *lock(stop) = true;
        wake.notify_all();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_errors_never_quote_sql() {
        let conn = Connection::open_in_memory().unwrap();
        let path = Path::new("/data/t.db");
        let statements = [
            "SELECT secret_column FROM nowhere_table",
            "SELEC 1 FROM runs WHERE x = 'private'",
            "SELECT * FROM sqlite_schema s0 JOIN sqlite_schema s1 ON 1",
        ];
        for sql in statements {
            let Err(e) = conn.prepare(sql) else {
                continue;
            };
            let text = sql_error(path, "searching runs", &e).to_string();
            assert!(
                text.starts_with("database error while searching runs: "),
                "{text}"
            );
            for fragment in [
                "SELECT",
                "secret_column",
                "nowhere_table",
                "private",
                "SELEC",
            ] {
                assert!(!text.contains(fragment), "{text}");
            }
        }
    }

    #[test]
    fn readonly_and_busy_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("t.db");
        Connection::open(&db)
            .unwrap()
            .execute_batch("CREATE TABLE t (x)")
            .unwrap();
        let reader = Connection::open_with_flags(&db, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
        reader.busy_timeout(Duration::ZERO).unwrap();
        let e = reader
            .execute_batch("INSERT INTO t VALUES (1)")
            .unwrap_err();
        let text = sql_error(&db, "writing", &e).to_string();
        assert!(
            text.starts_with(&format!("{} is not writable", db.display())),
            "{text}"
        );
        let holder = Connection::open(&db).unwrap();
        holder.execute_batch("BEGIN EXCLUSIVE").unwrap();
        let e = reader
            .query_row("SELECT count(*) FROM t", [], |_| Ok(()))
            .unwrap_err();
        let e = sql_error(&db, "reading", &e);
        assert_eq!(e.error_code(), "TEMPORARILY_UNAVAILABLE");
        assert!(e.to_string().contains(&db.display().to_string()), "{e}");
    }
}
