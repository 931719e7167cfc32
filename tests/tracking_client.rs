//! The user-facing `Tracker` / `ActiveRun` API over a real SQLite file.

mod common;

use hyperflow::tracking::*;
use std::sync::Arc;

fn tracker() -> (Tracker, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store =
        SqliteStore::open_with_artifact_root(dir.path().join("t.db"), dir.path().join("art"))
            .unwrap();
    (Tracker::new(Arc::new(store)), dir)
}

#[test]
fn guard_ends_finished_on_drop_and_failed_on_panic() {
    let (t, _d) = tracker();
    let id = {
        let run = t.start_run(RunOptions::new()).unwrap();
        run.log_metric("x", 1.0, 0).unwrap();
        run.id().to_string()
    };
    let info = t.get_run(&id).unwrap().info;
    assert_eq!(info.status, RunStatus::Finished);
    assert!(info.end_time.is_some());

    let t2 = t.clone();
    let panicked_id = std::sync::Mutex::new(String::new());
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let run = t2.start_run(RunOptions::new().run_name("boom")).unwrap();
        *panicked_id.lock().unwrap() = run.id().to_string();
        panic!("objective exploded");
    }));
    assert!(result.is_err());
    let id = panicked_id.lock().unwrap().clone();
    assert_eq!(t.get_run(&id).unwrap().info.status, RunStatus::Failed);

    let run = t.start_run(RunOptions::new()).unwrap();
    let id = run.id().to_string();
    run.end(RunStatus::Killed).unwrap();
    assert_eq!(t.get_run(&id).unwrap().info.status, RunStatus::Killed);
}

#[test]
fn with_run_tags_errors() {
    let (t, _d) = tracker();
    let mut ok_id = String::new();
    let v: Result<i32, StoreError> = t.with_run(RunOptions::new(), |run| {
        ok_id = run.id().to_string();
        run.log_param("a", 1)?;
        Ok(7)
    });
    assert_eq!(v.unwrap(), 7);
    assert_eq!(t.get_run(&ok_id).unwrap().info.status, RunStatus::Finished);

    let mut bad_id = String::new();
    let e: Result<(), StoreError> = t.with_run(RunOptions::new(), |run| {
        bad_id = run.id().to_string();
        Err(StoreError::InvalidParameter("diverged at step 3".into()))
    });
    assert!(e.is_err());
    let r = t.get_run(&bad_id).unwrap();
    assert_eq!(r.info.status, RunStatus::Failed);
    assert_eq!(r.data.tag(schema::ERROR_TAG), Some("diverged at step 3"));
}

#[test]
fn run_options_experiment_parent_description_reopen() {
    let (t, _d) = tracker();
    let parent = t
        .start_run(
            RunOptions::new()
                .experiment("sweep")
                .run_name("parent")
                .description("the search")
                .tag("k", "v")
                .tags([("a", "1"), ("b", "2")]),
        )
        .unwrap();
    let exp = t
        .get_experiment_by_name("sweep")
        .unwrap()
        .unwrap()
        .experiment_id;
    assert_eq!(parent.info().experiment_id, exp);
    let child_id = {
        let child = t
            .start_run(RunOptions::new().experiment(&exp).parent(parent.id()))
            .unwrap();
        child.log_params([("lr", 0.1), ("wd", 0.01)]).unwrap();
        child
            .log_metrics([("loss", 0.5), ("acc", 0.75)], 3)
            .unwrap();
        child.set_tags([("t1", "x")]).unwrap();
        child.delete_tag("t1").unwrap();
        child.id().to_string()
    };
    let child = t.get_run(&child_id).unwrap();
    assert_eq!(child.data.tag(tags::PARENT_RUN_ID), Some(parent.id()));
    assert_eq!(child.data.param("lr"), Some("0.1"));
    assert_eq!(
        child
            .data
            .metrics
            .iter()
            .find(|m| m.key == "acc")
            .map(|m| m.step),
        Some(3)
    );
    assert_eq!(child.data.tag("t1"), None);
    let p = t.get_run(parent.id()).unwrap();
    assert_eq!(p.data.tag(tags::NOTE), Some("the search"));
    assert_eq!(p.data.tag("k"), Some("v"));
    assert_eq!(p.data.tag("b"), Some("2"));
    // System tags.
    assert!(p.data.tag(tags::USER).is_some());
    assert_eq!(p.data.tag(tags::SOURCE_TYPE), Some("LOCAL"));
    assert!(
        p.data
            .tag(tags::SOURCE_NAME)
            .is_some_and(|s| s.contains("tracking_client"))
    );
    assert_eq!(p.info.user_id, p.data.tag(tags::USER).unwrap());
    // A missing parent is an error.
    assert_eq!(
        t.start_run(RunOptions::new().parent("0123456789abcdef0123456789abcdef"))
            .unwrap_err()
            .error_code(),
        "RESOURCE_DOES_NOT_EXIST"
    );
    drop(parent);

    // Reopen the finished child: RUNNING again, log more, finished again on drop.
    {
        let again = t.start_run(RunOptions::new().run_id(&child_id)).unwrap();
        let info = t.get_run(&child_id).unwrap().info;
        assert_eq!((info.status, info.end_time), (RunStatus::Running, None));
        again.log_metric("extra", 1.0, 0).unwrap();
    }
    let child = t.get_run(&child_id).unwrap();
    assert_eq!(child.info.status, RunStatus::Finished);
    assert_eq!(child.data.metric("extra"), Some(1.0));
    // get_or_create_experiment is idempotent; a deleted name is an error.
    assert_eq!(t.get_or_create_experiment("sweep").unwrap(), exp);
    t.delete_experiment(&exp).unwrap();
    assert!(t.get_or_create_experiment("sweep").is_err());
}

#[test]
fn git_commit_tag_matches_checkout() {
    let (t, _d) = tracker();
    let run = t.start_run(RunOptions::new()).unwrap();
    let r = t.get_run(run.id()).unwrap();
    // Tests run in the crate directory, a git checkout; compare with git itself when present.
    let Ok(out) = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .output()
    else {
        return;
    };
    if out.status.success() {
        let head = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert_eq!(r.data.tag(tags::GIT_COMMIT), Some(head.as_str()));
    }
}

#[test]
fn artifacts_log_list_download_and_escapes() {
    let (t, d) = tracker();
    common::artifacts::tracker_round_trip(&t, d.path());
    // Nothing was written outside the artifact root.
    assert!(!d.path().join("art/evil.txt").exists());
    assert!(!d.path().join("evil.txt").exists());
}

#[test]
fn search_builder_and_table_export() {
    let (t, _d) = tracker();
    let exp = t.create_experiment("tbl").unwrap();
    for (i, loss) in [0.3, 0.1, 0.2].into_iter().enumerate() {
        let run = t
            .start_run(
                RunOptions::new()
                    .experiment(&exp)
                    .run_name(format!("r{i}"))
                    .without_system_tags(),
            )
            .unwrap();
        run.log_param("i", i).unwrap();
        run.log_metric("loss", loss, 0).unwrap();
    }
    let s = SearchRuns::new()
        .experiment(&exp)
        .filter("metrics.loss < 0.25")
        .order_by("metrics.loss ASC");
    let page = t.search_runs(&s).unwrap();
    let got: Vec<&str> = page
        .items
        .iter()
        .map(|r| r.info.run_name.as_str())
        .collect();
    assert_eq!(got, vec!["r1", "r2"]);
    let all = t
        .search_all_runs(&SearchRuns::new().experiments([exp.clone()]).max_results(1))
        .unwrap();
    assert_eq!(all.len(), 3);

    let table = t.search_runs_table(&s).unwrap();
    assert_eq!(
        table.columns,
        vec![
            "run_id",
            "experiment_id",
            "run_name",
            "status",
            "start_time",
            "end_time",
            "duration",
            "metrics.loss",
            "params.i",
            "tags.mlflow.runName"
        ]
    );
    let csv = table.to_csv();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3);
    assert!(
        lines[1].contains(",r1,FINISHED,") && lines[1].contains(",0.1,1,r1"),
        "{csv}"
    );
    let json = table.to_json();
    assert_eq!(json[0]["run_name"], "r1");
    assert_eq!(json[0]["metrics.loss"], 0.1);
    assert_eq!(json[1]["params.i"], "2");
    assert!(table.to_text().starts_with("run_id"));
}

#[test]
fn handles_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Tracker>();
    assert_send_sync::<ActiveRun>();
    assert_send_sync::<SqliteStore>();
    assert_send_sync::<Arc<dyn Store>>();
}

#[test]
fn many_threads_share_one_tracker() {
    let (t, _d) = tracker();
    let exp = t.create_experiment("threads").unwrap();
    std::thread::scope(|scope| {
        for w in 0..8 {
            let (t, exp) = (t.clone(), exp.clone());
            scope.spawn(move || {
                for i in 0..20 {
                    let run = t
                        .start_run(
                            RunOptions::new()
                                .experiment(&exp)
                                .run_name(format!("w{w}-{i}")),
                        )
                        .unwrap();
                    run.log_params([("w", w), ("i", i)]).unwrap();
                    run.log_metric("loss", (w * 100 + i) as f64, 0).unwrap();
                }
            });
        }
    });
    let runs = t
        .search_all_runs(
            &SearchRuns::new()
                .experiment(&exp)
                .filter("attributes.status = 'FINISHED'"),
        )
        .unwrap();
    assert_eq!(runs.len(), 160);
    assert!(
        runs.iter()
            .all(|r| r.data.params.len() == 2 && r.data.metric("loss").is_some())
    );
}
