//! The SQLite store: the conformance suite plus SQLite-specific behaviour.

mod common;

use common::conformance::conformance_suite;
use hyperflow::tracking::sqlite::SCHEMA_VERSION;
use hyperflow::tracking::*;

conformance_suite!(common::sqlite_store);

fn m(key: &str, value: f64, timestamp: i64, step: i64) -> Metric {
    Metric {
        key: key.into(),
        value,
        timestamp,
        step,
    }
}

#[test]
fn data_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("sub/dir/x.db");
    let run_id = {
        let s = SqliteStore::open_with_artifact_root(&db, dir.path()).unwrap();
        let r = s
            .create_run(&ExperimentId::default_experiment(), RunStart::default())
            .unwrap();
        s.log_batch(r.id(), &[m("a", 1.5, 1, 0)], &[Param::new("p", "v")], &[])
            .unwrap();
        r.info.run_id
    };
    let s = SqliteStore::open(&db).unwrap();
    let r = s.get_run(&run_id).unwrap();
    assert_eq!(r.data.metric("a"), Some(1.5));
    assert_eq!(r.data.param("p"), Some("v"));
}

#[test]
fn stores_opened_at_once_on_a_new_file_all_open_it() {
    // Workers of one search start together on a file none has created yet: while one
    // creates the schema, the others must see either no database or all of it, never
    // tables without a version ("not a hyperflow tracking database").
    let dir = tempfile::tempdir().unwrap();
    for round in 0..300 {
        let db = dir.path().join(format!("new-{round}.db"));
        let barrier = std::sync::Barrier::new(6);
        std::thread::scope(|scope| {
            let opened: Vec<_> = (0..6_u64)
                .map(|worker| {
                    let (barrier, db, root) = (&barrier, &db, dir.path());
                    scope.spawn(move || {
                        barrier.wait();
                        // Staggered, so that some arrive while the first creates it.
                        std::thread::sleep(std::time::Duration::from_micros(worker * 150));
                        SqliteStore::open_with_artifact_root(db, root).map(|_| ())
                    })
                })
                .collect();
            for (worker, handle) in opened.into_iter().enumerate() {
                let result = handle.join().unwrap();
                assert!(result.is_ok(), "round {round}, worker {worker}: {result:?}");
            }
        });
    }
}

#[test]
fn newer_schema_is_refused_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("new.db");
    drop(SqliteStore::open(&db).unwrap());
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch(&format!("PRAGMA user_version = {}", SCHEMA_VERSION + 1))
            .unwrap();
    }
    let e = SqliteStore::open(&db).unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, StoreError::SchemaTooNew { .. }), "{e:?}");
    assert!(
        text.contains("schema version") && text.contains("upgrade hyperflow"),
        "{text}"
    );
    assert!(text.contains(&db.display().to_string()), "{text}");
}

/// The schema version of the database file `db`.
fn user_version(db: &std::path::Path) -> i64 {
    rusqlite::Connection::open(db)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap()
}

/// A database file `db` at schema `version` holding the rows `sql` inserts (as that
/// version wrote them).
fn old_database(db: &std::path::Path, version: i64, sql: &str) {
    SqliteStore::create_at_version(db, version).unwrap();
    assert_eq!(user_version(db), version);
    rusqlite::Connection::open(db)
        .unwrap()
        .execute_batch(sql)
        .unwrap();
}

#[test]
fn older_schema_is_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("old.db");
    // v1 data: a run with a metric history but no latest_metrics table.
    old_database(
        &db,
        1,
        "INSERT INTO runs (run_key, run_id, experiment_id, name, user_id, status, start_time, \
           end_time, artifact_uri, lifecycle_stage) \
         VALUES (1, '0123456789abcdef0123456789abcdef', 0, 'old', 'u', 'FINISHED', 5, 6, '/a', 'active');
         INSERT INTO metrics VALUES (1, 'loss', 3.0, 0, 10, 0), (1, 'loss', 1.0, 0, 11, 2), (1, 'loss', 2.0, 0, 12, 1);",
    );
    let s = SqliteStore::open(&db).unwrap();
    let r = s.get_run("0123456789abcdef0123456789abcdef").unwrap();
    assert_eq!(r.data.metrics, vec![m("loss", 1.0, 11, 2)]);
    assert_eq!(user_version(&db), SCHEMA_VERSION);
    let found = s
        .search_runs(&RunQuery {
            experiment_ids: vec![ExperimentId::default_experiment()],
            filter: "metrics.loss < 1.5".into(),
            ..RunQuery::default()
        })
        .unwrap();
    assert_eq!(found.items.len(), 1);
}

#[test]
fn previous_schema_version_opens_migrates_and_keeps_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("previous.db");
    let (parent, child) = (
        "00000000000000000000000000000001",
        "00000000000000000000000000000002",
    );
    // A parent and a child run as the previous version wrote them.
    old_database(
        &db,
        SCHEMA_VERSION - 1,
        &format!(
            "INSERT INTO runs (run_key, run_id, experiment_id, name, user_id, status, \
               start_time, end_time, artifact_uri, lifecycle_stage) VALUES \
               (1, '{parent}', 0, 'parent', 'u', 'FINISHED', 5, 9, '/a/1', 'active'), \
               (2, '{child}', 0, 'child', 'u', 'FINISHED', 6, 8, '/a/2', 'active');
             INSERT INTO tags VALUES (1, 'mlflow.runName', 'parent'), \
               (2, 'mlflow.runName', 'child'), (2, 'mlflow.parentRunId', '{parent}');
             INSERT INTO params VALUES (2, 'opt', 'adam'), (2, 'lr', '0.1');
             INSERT INTO metrics VALUES (2, 'loss', 0.5, 0, 10, 0), (2, 'loss', 0.25, 0, 11, 1);
             INSERT INTO latest_metrics VALUES (2, 'loss', 0.25, 0, 11, 1);"
        ),
    );
    let s = SqliteStore::open(&db).unwrap();
    assert_eq!(user_version(&db), SCHEMA_VERSION);
    let run = s.get_run(child).unwrap();
    assert_eq!(
        run.data.params,
        vec![Param::new("lr", "0.1"), Param::new("opt", "adam")]
    );
    assert_eq!(run.data.tag(tags::PARENT_RUN_ID), Some(parent));
    assert_eq!(run.data.metrics, vec![m("loss", 0.25, 11, 1)]);
    assert_eq!(s.get_metric_history(child, "loss").unwrap().len(), 2);
    let search = |filter: &str| -> Vec<String> {
        s.search_runs(&RunQuery {
            experiment_ids: vec![ExperimentId::default_experiment()],
            filter: filter.into(),
            ..RunQuery::default()
        })
        .unwrap()
        .items
        .into_iter()
        .map(|r| r.info.run_id)
        .collect()
    };
    assert_eq!(
        search(&format!(
            "params.opt = 'adam' AND tags.mlflow.parentRunId = '{parent}' AND metrics.loss < 0.3"
        )),
        vec![child]
    );
    assert_eq!(search("params.opt = 'sgd'"), Vec::<String>::new());
    // The migrated file takes new data like a new one.
    s.log_batch(child, &[m("loss", 0.125, 12, 2)], &[], &[])
        .unwrap();
    assert_eq!(s.get_run(child).unwrap().data.metric("loss"), Some(0.125));
    // Its indexes are the current version's.
    let indexes: Vec<String> = rusqlite::Connection::open(&db)
        .unwrap()
        .prepare(
            "SELECT name FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL ORDER BY name",
        )
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        indexes,
        [
            "hyperflow_trials_changes",
            "hyperflow_trials_running",
            "latest_metrics_by_key",
            "logged_models_by_experiment",
            "runs_by_experiment",
            "tags_by_parent"
        ]
    );
}

#[test]
fn v5_logged_models_and_registry_migrate_to_stages_and_model_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("v5.db");
    let (run_id, model_id) = (
        "00000000000000000000000000000001",
        "m-00000000000000000000000000000002",
    );
    // A run, its logged model and two versions of a registered model as v5 wrote them.
    old_database(
        &db,
        5,
        &format!(
            "INSERT INTO runs (run_key, run_id, experiment_id, name, user_id, status, \
               start_time, end_time, artifact_uri, lifecycle_stage) VALUES \
               (1, '{run_id}', 0, 'train', 'u', 'RUNNING', 5, NULL, '/a/1', 'active');
             INSERT INTO logged_models (model_key, model_id, experiment_id, name, artifact_uri, \
               status, creation_time, last_updated_time, lifecycle_stage) VALUES \
               (1, '{model_id}', 0, 'clf', '/a/models/m/artifacts', 'READY', 7, 7, 'active');
             INSERT INTO logged_model_params VALUES (1, 'C', '0.5');
             INSERT INTO registered_models VALUES (1, 'iris', NULL, 3, 8, 9);
             INSERT INTO model_versions (registered_model_key, version, source, \
               storage_location, run_id, model_id, creation_time, last_updated_time) VALUES \
               (1, 1, 'models:/{model_id}', '/a/models/m/artifacts', '{run_id}', '{model_id}', 8, 8), \
               (1, 2, 'models:/{model_id}', '/a/models/m/artifacts', '{run_id}', '{model_id}', 9, 9);"
        ),
    );
    let s = SqliteStore::open(&db).unwrap();
    assert_eq!(user_version(&db), SCHEMA_VERSION);
    // The old model reads with no metrics and takes new ones.
    let model = s.get_logged_model(model_id, false).unwrap();
    assert_eq!(model.params, vec![Param::new("C", "0.5")]);
    assert!(model.metrics.is_empty());
    let point = LoggedModelMetric {
        model_id: model_id.into(),
        run_id: run_id.into(),
        metric: m("acc", 0.9, 10, 0),
        dataset_name: Some("iris".into()),
        dataset_digest: Some("abc".into()),
    };
    s.log_model_metrics(std::slice::from_ref(&point)).unwrap();
    assert_eq!(
        s.get_logged_model(model_id, false).unwrap().metrics,
        vec![point]
    );
    assert_eq!(s.get_run(run_id).unwrap().data.metric("acc"), Some(0.9));
    // The old versions are in stage None and move between stages.
    let registered = s.get_registered_model("iris").unwrap();
    assert_eq!(
        registered
            .latest_versions
            .iter()
            .map(|v| (v.version, v.current_stage.as_str()))
            .collect::<Vec<_>>(),
        [(2, "None")]
    );
    s.transition_model_version_stage("iris", 1, ModelStage::Production, false)
        .unwrap();
    let latest = s
        .get_latest_versions("iris", &[ModelStage::Production])
        .unwrap();
    assert_eq!(latest.len(), 1);
    assert_eq!(latest[0].version, 1);
}

#[test]
fn record_run_returns_the_latest_metrics_get_run_reads() {
    let (store, _dir) = common::sqlite_store();
    // Same step and timestamp: the larger stored value is the latest, and NaN is stored
    // as 0, so 1.0 is newer than NaN whichever comes first.
    let run = store
        .record_run(
            &ExperimentId::default_experiment(),
            &RunRecord {
                metrics: vec![m("loss", f64::NAN, 5, 0), m("loss", 1.0, 5, 0)],
                ..RunRecord::default()
            },
        )
        .unwrap();
    assert_eq!(run.data.metrics, vec![m("loss", 1.0, 5, 0)]);
    assert_eq!(store.get_run(run.id()).unwrap().data, run.data);
}

#[test]
fn wal_and_pragmas() {
    let (_, dir) = common::sqlite_store();
    let conn = rusqlite::Connection::open(dir.path().join("t.db")).unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let ok: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
}

#[test]
fn tracking_uris() {
    let dir = tempfile::tempdir().unwrap();
    let abs = dir.path().join("abs.db");
    let t = Tracker::open(&format!("sqlite:///{}", abs.display())).unwrap();
    t.create_experiment("via-uri").unwrap();
    assert!(abs.exists());
    let t2 = Tracker::open(abs.to_str().unwrap()).unwrap();
    assert!(t2.get_experiment_by_name("via-uri").unwrap().is_some());
    // postgresql:// opens the PostgreSQL store when it is built in (feature `postgres`):
    // nothing listens on port 1, which it says at once.
    let e = Tracker::open("postgresql://u@127.0.0.1:1/db").unwrap_err();
    if cfg!(feature = "postgres") {
        assert!(
            e.to_string()
                .starts_with("cannot connect to PostgreSQL at postgresql://u@127.0.0.1:1/db: "),
            "{e}"
        );
    } else {
        assert!(e.to_string().contains("feature `postgres`"), "{e}");
        assert_eq!(e.error_code(), "INVALID_PARAMETER_VALUE");
    }
    // http(s) URIs open the REST store when it is built in (feature `rest`).
    for uri in ["http://localhost:5000", "https://x.example"] {
        let opened = Tracker::open(uri);
        #[cfg(feature = "rest")]
        assert!(opened.is_ok(), "{uri}");
        #[cfg(not(feature = "rest"))]
        {
            let e = opened.unwrap_err();
            assert!(e.to_string().contains("feature `rest`"), "{e}");
            assert_eq!(e.error_code(), "INVALID_PARAMETER_VALUE");
        }
    }
}

#[test]
fn large_searches_refresh_planner_statistics() {
    let (store, dir) = common::sqlite_store();
    let exp = store.create_experiment("big", None, &[]).unwrap();
    for i in 0..1200i64 {
        let rec = RunRecord {
            start: RunStart {
                run_name: Some(format!("r{i}")),
                start_time: Some(i),
                ..RunStart::default()
            },
            metrics: vec![m("loss", (i % 100) as f64, 1, 0)],
            params: vec![Param::new("opt", if i % 3 == 0 { "adam" } else { "sgd" })],
            ..RunRecord::default()
        };
        store.record_run(&exp, &rec).unwrap();
    }
    let q = RunQuery {
        experiment_ids: vec![exp.clone()],
        filter: "metrics.loss < 10 AND params.opt = 'adam'".into(),
        order_by: vec!["metrics.loss DESC".into()],
        max_results: 50,
        ..RunQuery::default()
    };
    let mut all = Vec::new();
    let mut q2 = q.clone();
    loop {
        let p = store.search_runs(&q2).unwrap();
        all.extend(p.items);
        match p.next_page_token {
            Some(t) => q2.page_token = Some(t),
            None => break,
        }
    }
    // i % 100 < 10 and i % 3 == 0: for each residue r < 10, 12 values of i; a third are adam.
    let expected = (0..1200).filter(|i| i % 100 < 10 && i % 3 == 0).count();
    assert_eq!(all.len(), expected);
    let losses: Vec<f64> = all.iter().map(|r| r.data.metric("loss").unwrap()).collect();
    assert!(losses.windows(2).all(|w| w[0] >= w[1]));
    let conn = rusqlite::Connection::open(dir.path().join("t.db")).unwrap();
    let stats: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_stat1", [], |r| r.get(0))
        .unwrap();
    assert!(stats > 0, "ANALYZE ran");
}
