//! Opening stores read-only, with real files, real permissions and real processes: a missing
//! database is an error that creates nothing, a read-only file or folder reads fine (the
//! store and the CLI's read commands), nothing is ever migrated or written, and errors about
//! permissions name the path and what it is not.
//!
//! Permissions are real: the checks run in child processes (this test binary, or the
//! `hyperflow` binary) under another user when the tests run as root (root reads and writes
//! anything), else as this user with the permission bits taken away.
#![cfg(unix)]

use hyperflow::tracking::sqlite::{MIN_READABLE_VERSION, SCHEMA_VERSION};
use hyperflow::tracking::*;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const HYPERFLOW: &str = env!("CARGO_BIN_EXE_hyperflow");

fn user_version(db: &Path) -> i64 {
    rusqlite::Connection::open(db)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap()
}

/// A database with an experiment `seen` holding one run with a metric history, closed
/// (no -wal or -shm file left); returns the run id.
fn fixture(db: &Path) -> String {
    let store = SqliteStore::open_with_artifact_root(db, db.with_extension("artifacts")).unwrap();
    let exp = store.create_experiment("seen", None, &[]).unwrap();
    let run = store
        .record_run(
            &exp,
            &RunRecord {
                start: RunStart {
                    run_name: Some("only".into()),
                    ..RunStart::default()
                },
                metrics: (0..3)
                    .map(|step| Metric::at_step("loss", 1.0 / (step + 1) as f64, step))
                    .collect(),
                params: vec![Param::new("lr", "0.1")],
                status: RunStatus::Finished,
                end_time: None,
            },
        )
        .unwrap();
    run.info.run_id
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Runs `cmd` as a user without rights on the test's files: `nobody` when the tests run as
/// root, else this user (the permission bits apply to it).
fn as_restricted_user(cmd: &mut Command) -> Output {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        cmd.uid(65534).gid(65534);
    }
    cmd.output().expect("run child")
}

/// A temp dir the restricted user may enter; its permissions are restored when dropped so
/// it can be removed.
struct Tree {
    dir: tempfile::TempDir,
    restore: Vec<PathBuf>,
}

impl Tree {
    fn new() -> Tree {
        let dir = tempfile::tempdir().unwrap();
        chmod(dir.path(), 0o755);
        Tree {
            dir,
            restore: Vec::new(),
        }
    }

    /// Gives `path` the permission bits `mode`, restored to 0o755 at the end.
    fn protect(&mut self, path: &Path, mode: u32) {
        chmod(path, mode);
        self.restore.push(path.to_path_buf());
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        for p in &self.restore {
            let _ = std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755));
        }
    }
}

/// Runs `action` on `db` in a child process of this test binary (the ignored test
/// `child_action`) as the restricted user; returns its `RESULT` line.
fn action(action: &str, db: &Path) -> String {
    let exe = std::env::current_exe().unwrap();
    let mut cmd = Command::new(exe);
    cmd.args(["child_action", "--exact", "--ignored", "--nocapture"])
        .env("HF_RO_ACTION", action)
        .env("HF_RO_DB", db);
    let out = as_restricted_user(&mut cmd);
    let stdout = String::from_utf8_lossy(&out.stdout);
    match stdout.lines().find_map(|l| l.split_once("RESULT ")) {
        Some((_, result)) => result.to_string(),
        None => panic!("{stdout}{}", String::from_utf8_lossy(&out.stderr)),
    }
}

/// `result` is a refusal naming `path` and saying it is not `access` (readable/writable).
fn assert_refused(result: &str, path: &Path, access: &str) {
    assert!(
        result.starts_with("err PERMISSION_DENIED")
            && result.contains(&path.display().to_string())
            && result.contains(&format!("is not {access}")),
        "{result}"
    );
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Entry point of the child processes (does nothing when run normally): prints what the
/// action gave, one `RESULT ...` line.
#[test]
#[ignore = "child process entry point, started by the other tests"]
fn child_action() {
    let (Ok(action), Ok(db)) = (std::env::var("HF_RO_ACTION"), std::env::var("HF_RO_DB")) else {
        return;
    };
    let result = match action.as_str() {
        "read" => SqliteStore::open_read_only(&db).and_then(|s| {
            let exp = s
                .get_experiment_by_name("seen")?
                .expect("experiment `seen`");
            let page = s.search_runs(&RunQuery {
                experiment_ids: vec![exp.experiment_id],
                order_by: vec!["metrics.loss".into()],
                ..RunQuery::default()
            })?;
            let run = &page.items[0];
            let history = s.get_metric_history(run.id(), "loss")?;
            Ok(format!(
                "runs={} history={} lr={}",
                page.items.len(),
                history.len(),
                run.data.param("lr").unwrap_or("-")
            ))
        }),
        "write" => SqliteStore::open(&db)
            .and_then(|s| s.create_experiment("new", None, &[]))
            .map(|id| format!("created {id}")),
        other => panic!("unknown action {other}"),
    };
    match result {
        Ok(text) => println!("RESULT ok {text}"),
        Err(e) => println!("RESULT err {} {e}", e.error_code()),
    }
}

#[test]
fn a_missing_database_is_an_error_that_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("not/there/hyperflow.db");
    let e = SqliteStore::open_read_only(&db).unwrap_err();
    assert!(matches!(e, StoreError::NoDatabase { .. }), "{e:?}");
    assert_eq!(e.error_code(), "RESOURCE_DOES_NOT_EXIST");
    let text = e.to_string();
    assert!(
        text.contains(&db.display().to_string())
            && text.contains("nothing has been logged there yet"),
        "{text}"
    );
    let uri = format!("sqlite:///{}", db.display());
    let e = Tracker::open_read_only(&uri).unwrap_err();
    assert!(matches!(e, StoreError::NoDatabase { .. }), "{e:?}");
    assert!(!dir.path().join("not").exists(), "a folder was created");
    // An empty file holds nothing either.
    let empty = dir.path().join("empty.db");
    std::fs::write(&empty, b"").unwrap();
    let e = SqliteStore::open_read_only(&empty).unwrap_err();
    assert!(matches!(e, StoreError::NoDatabase { .. }), "{e:?}");
    assert_eq!(std::fs::metadata(&empty).unwrap().len(), 0);
    // A folder is not a database.
    for e in [
        SqliteStore::open_read_only(dir.path()).unwrap_err(),
        SqliteStore::open(dir.path()).unwrap_err(),
    ] {
        assert!(e.to_string().contains("is a folder"), "{e}");
    }
}

#[test]
fn a_read_only_store_reads_and_refuses_writes_in_words() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let run_id = fixture(&db);
    let store = SqliteStore::open_read_only(&db).unwrap();
    assert_eq!(
        store.get_run(&run_id).unwrap().data.param("lr"),
        Some("0.1")
    );
    let e = store.create_experiment("x", None, &[]).unwrap_err();
    assert!(matches!(e, StoreError::NotAccessible { .. }), "{e:?}");
    assert_eq!(e.error_code(), "PERMISSION_DENIED");
    let text = e.to_string();
    assert!(
        text.contains(&db.display().to_string())
            && text.contains("is not writable")
            && text.contains("opened read-only"),
        "{text}"
    );
    let e = store.set_tag(&run_id, &Tag::new("k", "v")).unwrap_err();
    assert!(matches!(e, StoreError::NotAccessible { .. }), "{e:?}");
}

#[test]
fn read_only_never_migrates_and_names_the_way_to_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    // The previous version reads as it is, and stays at its version.
    let previous = dir.path().join("previous.db");
    SqliteStore::create_at_version(&previous, MIN_READABLE_VERSION).unwrap();
    let store = SqliteStore::open_read_only(&previous).unwrap();
    let default = store
        .search_runs(&RunQuery {
            experiment_ids: vec![ExperimentId::default_experiment()],
            filter: "metrics.loss < 1".into(),
            ..RunQuery::default()
        })
        .unwrap();
    assert!(default.items.is_empty());
    drop(store);
    assert_eq!(user_version(&previous), MIN_READABLE_VERSION);
    // Older: refused, saying how to upgrade, and left as it is.
    let old = dir.path().join("old.db");
    SqliteStore::create_at_version(&old, MIN_READABLE_VERSION - 1).unwrap();
    let e = SqliteStore::open_read_only(&old).unwrap_err();
    assert!(matches!(e, StoreError::SchemaTooOld { .. }), "{e:?}");
    let text = e.to_string();
    assert!(
        text.contains(&old.display().to_string())
            && text.contains("not upgraded")
            && text.contains("Open it once for writing"),
        "{text}"
    );
    assert_eq!(user_version(&old), MIN_READABLE_VERSION - 1);
    // Newer: refused as before.
    let new = dir.path().join("new.db");
    SqliteStore::create_at_version(&new, SCHEMA_VERSION).unwrap();
    rusqlite::Connection::open(&new)
        .unwrap()
        .execute_batch(&format!("PRAGMA user_version = {}", SCHEMA_VERSION + 1))
        .unwrap();
    let e = SqliteStore::open_read_only(&new).unwrap_err();
    assert!(matches!(e, StoreError::SchemaTooNew { .. }), "{e:?}");
}

#[test]
fn another_programs_database_is_named_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("other.db");
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch("CREATE TABLE experiments (id INTEGER PRIMARY KEY, other TEXT)")
        .unwrap();
    for e in [
        SqliteStore::open_read_only(&db).unwrap_err(),
        SqliteStore::open(&db).unwrap_err(),
    ] {
        assert!(
            e.to_string().contains("not a hyperflow tracking database"),
            "{e}"
        );
    }
    let tables: i64 = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))
        .unwrap();
    assert_eq!(tables, 1, "the file was changed");
}

#[test]
fn read_only_files_and_folders_are_read_and_never_written() {
    let mut tree = Tree::new();
    // A read-only file in a folder that may be written (SQLite can create its -shm file
    // there) and one in a read-only folder (it cannot: the file is read immutable).
    for (name, folder_mode) in [("writable-folder", 0o777), ("read-only-folder", 0o555)] {
        let folder = tree.dir.path().join(name);
        std::fs::create_dir(&folder).unwrap();
        let db = folder.join("t.db");
        fixture(&db);
        tree.protect(&db, 0o444);
        tree.protect(&folder, folder_mode);
        assert_eq!(action("read", &db), "ok runs=1 history=3 lr=0.1", "{name}");
        // Opening it for writing says that it may not be written, and where.
        assert_refused(&action("write", &db), &db, "writable");
    }
    // No file was added next to the database in the read-only folder.
    let listed: Vec<_> = std::fs::read_dir(tree.dir.path().join("read-only-folder"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(listed, ["t.db"]);
}

#[test]
fn unreadable_files_and_unwritable_folders_are_named() {
    let mut tree = Tree::new();
    let db = tree.dir.path().join("secret.db");
    fixture(&db);
    tree.protect(&db, 0o000);
    assert_refused(&action("read", &db), &db, "readable");
    // A new database in a folder that may not be written.
    let locked = tree.dir.path().join("locked");
    std::fs::create_dir(&locked).unwrap();
    tree.protect(&locked, 0o555);
    let fresh = locked.join("sub/new.db");
    assert_refused(&action("write", &fresh), &locked.join("sub"), "writable");
    // A database that may be written, in a folder that may not: SQLite cannot create its
    // -wal and -shm files next to it.
    let folder = tree.dir.path().join("fixed");
    std::fs::create_dir(&folder).unwrap();
    let db = folder.join("t.db");
    fixture(&db);
    tree.protect(&db, 0o666);
    tree.protect(&folder, 0o555);
    let result = action("write", &db);
    assert_refused(&result, &folder, "writable");
    assert!(result.contains("-wal and -shm files"), "{result}");
    assert_eq!(action("read", &db), "ok runs=1 history=3 lr=0.1");
}

// ---------------------------------------------------------------------------------------
// The CLI's read commands.

fn hyperflow(db: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(HYPERFLOW);
    cmd.arg("--tracking-uri")
        .arg(format!("sqlite:///{}", db.display()))
        .args(args)
        .env_remove("HYPERFLOW_TRACKING_URI")
        .env_remove("MLFLOW_TRACKING_URI");
    cmd
}

#[test]
fn cli_read_commands_on_a_missing_database_say_so_and_create_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("nowhere/yet/hyperflow.db");
    let mut commands: Vec<Vec<&str>> = vec![
        vec!["runs", "list"],
        vec!["runs", "show", "0123456789abcdef0123456789abcdef"],
        vec!["experiments", "list"],
        vec!["report", "--experiment", "Default"],
    ];
    if cfg!(feature = "server") {
        commands.push(vec!["ui"]);
    }
    for args in commands {
        let out = hyperflow(&db, &args)
            .current_dir(dir.path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(
            stderr.contains(&db.display().to_string())
                && stderr.contains("nothing has been logged there yet"),
            "{args:?}: {stderr}"
        );
        assert!(
            !dir.path().join("nowhere").exists(),
            "{args:?} created a folder"
        );
    }
}

#[test]
fn cli_read_commands_work_on_a_read_only_folder_and_writes_say_why_not() {
    let mut tree = Tree::new();
    let folder = tree.dir.path().join("shared");
    std::fs::create_dir(&folder).unwrap();
    let db = folder.join("runs.db");
    let run_id = fixture(&db);
    tree.protect(&db, 0o444);
    tree.protect(&folder, 0o555);
    let ok = |args: &[&str]| {
        let out = as_restricted_user(&mut hyperflow(&db, args));
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout(&out)
    };
    assert!(ok(&["experiments", "list", "--format", "csv"]).contains(",seen,"));
    assert!(ok(&["runs", "list", "--experiment", "seen", "--format", "csv"]).contains(&run_id));
    assert!(ok(&["runs", "show", &run_id, "--format", "json"]).contains("\"lr\""));
    let out = as_restricted_user(&mut hyperflow(&db, &["experiments", "create", "more"]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success()
            && stderr.contains(&db.display().to_string())
            && stderr.contains("is not writable"),
        "{stderr}"
    );
}
