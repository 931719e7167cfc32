//! Reliability with real processes and real SQLite files: concurrent writers, reads while
//! another connection holds the write lock, and SIGKILL.
//!
//! The child processes are this test binary itself, running the ignored `child_worker` test
//! with `HF_CHILD_ROLE` set.

use hyperflow::tracking::*;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, mpsc};

const RUNS_PER_WRITER: usize = 25;
const WRITERS: usize = 8;
const STEPS: i64 = 10;

/// Starts `n` writer processes on `db`, in `dir`, with piped output.
fn spawn_writers(db: &Path, dir: &Path, n: usize) -> Vec<Child> {
    (0..n)
        .map(|w| {
            child("writer", db, w)
                .current_dir(dir)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn writer")
        })
        .collect()
}

fn child(role: &str, db: &Path, worker: usize) -> Command {
    let exe = std::env::current_exe().expect("test binary path");
    let mut cmd = Command::new(exe);
    cmd.args([
        "child_worker",
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env("HF_CHILD_ROLE", role)
    .env("HF_CHILD_DB", db)
    .env("HF_CHILD_WORKER", worker.to_string());
    cmd
}

/// One trial-like run: 10 params, 5 metrics with STEPS points each, a tag, FINISHED.
fn log_one_run(t: &Tracker, exp: &ExperimentId, name: &str) -> Result<String> {
    let run = t.start_run(RunOptions::new().experiment(exp).run_name(name))?;
    let params: Vec<(String, String)> = (0..10)
        .map(|i| (format!("p{i}"), format!("{name}-{i}")))
        .collect();
    run.log_params(params)?;
    for step in 0..STEPS {
        run.log_metrics(
            (0..5).map(|k| (format!("m{k}"), step as f64 + k as f64 / 10.0)),
            step,
        )?;
    }
    run.set_tag("worker.run", name)?;
    let id = run.id().to_string();
    run.end(RunStatus::Finished)?;
    Ok(id)
}

fn check_run(r: &Run) {
    assert_eq!(r.info.status, RunStatus::Finished, "{}", r.info.run_name);
    assert_eq!(r.data.params.len(), 10, "{}", r.info.run_name);
    assert_eq!(r.data.metrics.len(), 5, "{}", r.info.run_name);
    for m in &r.data.metrics {
        assert_eq!(m.step, STEPS - 1);
    }
    assert_eq!(r.data.tag("worker.run"), Some(r.info.run_name.as_str()));
}

/// Entry point of the child processes (does nothing when run normally).
#[test]
#[ignore = "child process entry point, started by the other tests"]
fn child_worker() {
    let (Ok(role), Ok(db)) = (std::env::var("HF_CHILD_ROLE"), std::env::var("HF_CHILD_DB")) else {
        return;
    };
    let worker = std::env::var("HF_CHILD_WORKER").unwrap_or_default();
    let t = Tracker::open(&db).unwrap_or_else(|e| panic!("worker {worker}: open: {e}"));
    let exp = t
        .get_or_create_experiment("reliability")
        .unwrap_or_else(|e| panic!("worker {worker}: experiment: {e}"));
    println!("OPENED");
    match role.as_str() {
        "writer" => {
            for i in 0..RUNS_PER_WRITER {
                log_one_run(&t, &exp, &format!("w{worker}-r{i}"))
                    .unwrap_or_else(|e| panic!("worker {worker} run {i}: {e}"));
            }
            println!("WRITER-DONE");
        }
        "endless" => {
            use std::io::Write;
            for i in 0.. {
                let id = log_one_run(&t, &exp, &format!("k-{i}"))
                    .unwrap_or_else(|e| panic!("run {i}: {e}"));
                println!("COMMITTED {id}");
                let _ = std::io::stdout().flush();
            }
        }
        other => panic!("unknown role {other}"),
    }
}

#[test]
fn eight_processes_write_into_one_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shared.db"); // does not exist yet: they race to create it
    let children = spawn_writers(&db, dir.path(), WRITERS);
    for (w, c) in children.into_iter().enumerate() {
        let out = c.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "writer {w} failed:\n{stdout}\n{stderr}"
        );
        assert!(
            stdout.contains("WRITER-DONE"),
            "writer {w} did not run:\n{stdout}\n{stderr}"
        );
        assert!(
            !stderr.contains("locked") && !stdout.contains("locked"),
            "{stdout}{stderr}"
        );
    }
    let t = Tracker::open(db.to_str().unwrap()).unwrap();
    let exp = t
        .get_experiment_by_name("reliability")
        .unwrap()
        .unwrap()
        .experiment_id;
    let runs = t
        .search_all_runs(&SearchRuns::new().experiment(&exp))
        .unwrap();
    assert_eq!(runs.len(), WRITERS * RUNS_PER_WRITER);
    let mut names: Vec<&str> = runs.iter().map(|r| r.info.run_name.as_str()).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), WRITERS * RUNS_PER_WRITER);
    for r in &runs {
        check_run(r);
        assert_eq!(
            t.get_metric_history(r.id(), "m3").unwrap().len(),
            STEPS as usize
        );
    }
}

#[test]
fn sigkill_mid_logging_keeps_committed_runs() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("killed.db");
    let mut c = child("endless", &db, 0)
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let stdout = c.stdout.take().unwrap();
    let mut committed = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some(id) = line.strip_prefix("COMMITTED ") {
            committed.push(id.to_string());
            if committed.len() >= 30 {
                break;
            }
        }
    }
    c.kill().unwrap(); // SIGKILL on Unix, while the child keeps logging
    c.wait().unwrap();
    assert!(committed.len() >= 30, "child stopped early");

    let conn = rusqlite::Connection::open(&db).unwrap();
    let ok: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
    drop(conn);
    // A read command right after the kill (the -wal and -shm files of the killed writer are
    // still there) reads what was committed.
    let reader = Tracker::open_read_only(db.to_str().unwrap()).unwrap();
    for id in &committed {
        check_run(&reader.get_run(id).unwrap());
    }
    drop(reader);
    let t = Tracker::open(db.to_str().unwrap()).unwrap();
    for id in &committed {
        let r = t.get_run(id).unwrap();
        check_run(&r);
        assert_eq!(
            t.get_metric_history(id, "m0").unwrap().len(),
            STEPS as usize
        );
    }
    // The store stays writable.
    let exp = t.get_or_create_experiment("reliability").unwrap();
    log_one_run(&t, &exp, "after-kill").unwrap();
}

/// Waits for a child's `OPENED` line (it has opened the store and found the experiment).
fn wait_opened(child: &mut Child) {
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let opened = lines
        .by_ref()
        .map_while(|l| l.ok())
        .any(|l| l.ends_with("OPENED"));
    assert!(opened, "the child exited before opening the store");
    // Keep draining, so that the child never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
}

/// Holds the write lock of `db` through a connection of its own until dropped (rolled back).
fn hold_write_lock(db: &Path) -> rusqlite::Connection {
    let holder = rusqlite::Connection::open(db).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    holder
}

#[test]
fn reads_answer_while_another_connection_holds_the_write_lock() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("busy.db");
    let store = Arc::new(SqliteStore::open_with_artifact_root(&db, dir.path()).unwrap());
    let exp = store.create_experiment("busy", None, &[]).unwrap();
    let run = store.create_run(&exp, RunStart::default()).unwrap();
    let point = Metric {
        key: "loss".into(),
        value: 0.5,
        timestamp: 1,
        step: 0,
    };

    let holder = hold_write_lock(&db);
    // A write of the store waits for the lock, retrying...
    let (started, writing) = mpsc::channel();
    let writer = {
        let (store, run_id, point) = (Arc::clone(&store), run.info.run_id.clone(), point.clone());
        std::thread::spawn(move || {
            started.send(()).unwrap();
            store.log_batch(&run_id, &[point], &[], &[])
        })
    };
    writing.recv().unwrap();
    // ...and meanwhile every read of the same store answers, at once: none queues behind
    // the waiting write (which once slept holding the store's only connection).
    let search = RunQuery {
        experiment_ids: vec![exp.clone()],
        ..RunQuery::default()
    };
    for _ in 0..200 {
        assert_eq!(store.get_run(run.id()).unwrap().info, run.info);
        assert_eq!(store.search_runs(&search).unwrap().items.len(), 1);
        assert!(store.get_experiment_by_name("busy").unwrap().is_some());
        assert!(
            store
                .get_metric_history(run.id(), "loss")
                .unwrap()
                .is_empty()
        );
    }
    // The write cannot have finished: the lock is still held.
    assert!(!writer.is_finished(), "{:?}", writer.join());
    holder.execute_batch("COMMIT").unwrap();
    writer.join().unwrap().unwrap();
    assert_eq!(store.get_metric_history(run.id(), "loss").unwrap(), [point]);
}

#[test]
fn two_processes_writing_behind_a_held_lock_both_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("pair.db");
    Tracker::open(db.to_str().unwrap())
        .unwrap()
        .get_or_create_experiment("reliability")
        .unwrap();
    let holder = hold_write_lock(&db);
    let mut children = spawn_writers(&db, dir.path(), 2);
    for c in &mut children {
        wait_opened(c);
    }
    // Both are writing (or about to) while the lock is held; then it is released.
    drop(holder);
    for (w, c) in children.into_iter().enumerate() {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "writer {w} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let t = Tracker::open_read_only(db.to_str().unwrap()).unwrap();
    let exp = t.get_experiment_by_name("reliability").unwrap().unwrap();
    let runs = t
        .search_all_runs(&SearchRuns::new().experiment(&exp.experiment_id))
        .unwrap();
    assert_eq!(runs.len(), 2 * RUNS_PER_WRITER);
    runs.iter().for_each(check_run);
}
