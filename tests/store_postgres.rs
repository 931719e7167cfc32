//! The PostgreSQL store (feature `postgres`) against a real PostgreSQL server each test
//! starts (`tests/common/postgres.rs`): every conformance check, plus PostgreSQL-specific
//! behaviour.
#![cfg(feature = "postgres")]

mod common;

use common::conformance::conformance_suite;
use common::postgres::PgServer;
use hyperflow::tracking::*;
use std::sync::Arc;

/// A fresh PostgreSQL store, on a server of its own; `None` (the test is skipped) when
/// PostgreSQL is not installed.
fn pg_store(test: &str) -> Option<(Arc<dyn Store>, (PgServer, tempfile::TempDir))> {
    let server = PgServer::start(test)?;
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().join("artifacts").display().to_string();
    let store = PgStore::open_with_artifact_root(&server.uri(), &root).expect("open store");
    Some((Arc::new(store), (server, dir)))
}

conformance_suite!(skippable pg_store;
    experiments_crud, experiment_search, experiment_delete_cascades,
    run_create_defaults, run_update_and_reopen, run_delete_restore,
    writes_to_deleted_run_rejected, params_immutable, metrics_history_and_latest,
    tags_upsert_delete, batch_limits_and_validation, nested_runs,
    search_metric_operators, search_param_tag_operators, search_attribute_operators,
    search_order_by, search_pagination_and_views, search_pages_by_sort_key, search_errors,
    search_limits,
    record_run_in_one_go, batch_and_update_in_one_go, artifacts_round_trip,
    select_runs_reads_what_search_runs_reads, registered_models_crud,
    model_versions_and_aliases, model_version_stages, registry_order_by,
    logged_model_metrics, logged_models_crud);

#[test]
fn workers_opening_one_database_at_once_migrate_it_once() {
    let Some(server) = PgServer::start("workers_opening_one_database_at_once_migrate_it_once")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().display().to_string();
    let stores: Vec<PgStore> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..6)
            .map(|_| scope.spawn(|| PgStore::open_with_artifact_root(&server.uri(), &root)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap().expect("open"))
            .collect()
    });
    assert_eq!(server.psql("SELECT count(*) FROM hyperflow_schema"), "1");
    assert_eq!(
        server.psql("SELECT experiment_id, name FROM experiments"),
        "0|Default"
    );
    // What one store writes, another (a worker elsewhere) reads; the data survives reopening.
    let run = stores[0]
        .create_run(&ExperimentId::default_experiment(), RunStart::default())
        .unwrap();
    stores[1]
        .log_batch(run.id(), &[], &[Param::new("lr", "0.1")], &[])
        .unwrap();
    drop(stores);
    let reopened = PgStore::open_with_artifact_root(&server.uri(), &root).unwrap();
    assert_eq!(
        reopened.get_run(run.id()).unwrap().data.param("lr"),
        Some("0.1")
    );
}

#[test]
fn concurrent_creations_of_one_experiment_name_give_one_experiment() {
    let Some((store, _guard)) = pg_store("concurrent_creations_of_one_experiment_name") else {
        return;
    };
    let results: Vec<Result<ExperimentId>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|_| scope.spawn(|| store.create_experiment("shared", None, &[])))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let created: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(created.len(), 1, "{results:?}");
    for e in results.iter().filter_map(|r| r.as_ref().err()) {
        assert_eq!(e.error_code(), "RESOURCE_ALREADY_EXISTS", "{e}");
    }
}

#[test]
fn a_newer_schema_is_refused_and_bad_uris_say_what_is_wrong() {
    let Some(server) = PgServer::start("a_newer_schema_is_refused") else {
        return;
    };
    let root = "/tmp/unused-artifacts";
    drop(PgStore::open_with_artifact_root(&server.uri(), root).unwrap());
    server.psql("UPDATE hyperflow_schema SET version = version + 1");
    let e = PgStore::open_with_artifact_root(&server.uri(), root).unwrap_err();
    assert!(
        matches!(e, StoreError::SchemaTooNew { found, .. } if found == hyperflow::tracking::postgres::SCHEMA_VERSION + 1),
        "{e}"
    );
    // A database that does not exist: PostgreSQL's words, and no password in the message.
    let uri = format!(
        "postgresql://{}:secret@127.0.0.1:{}/missing",
        server.user(),
        server.port()
    );
    let e = PgStore::open(&uri).unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("missing") && !text.contains("secret"),
        "{text}"
    );
    let e = PgStore::open("postgresql://u@h:notaport/db").unwrap_err();
    assert_eq!(e.error_code(), "INVALID_PARAMETER_VALUE", "{e}");
}

/// Dataset inputs read back as the SQLite store reads them: in the order first logged,
/// one per dataset, tags upserted, the same dataset shared by the experiment's runs.
#[test]
fn dataset_inputs_as_in_sqlite() {
    let Some((pg, _guard)) = pg_store("dataset_inputs_as_in_sqlite") else {
        return;
    };
    let (sqlite, _dir) = common::sqlite_store();
    let input = |name: &str, digest: &str, tags: &[(&str, &str)]| DatasetInput {
        dataset: Dataset {
            name: name.into(),
            digest: digest.into(),
            source_type: "local".into(),
            source: format!("{{\"uri\": \"/data/{name}\"}}"),
            schema: (name == "train").then(|| "{\"cols\": [\"x\"]}".to_string()),
            profile: None,
        },
        tags: tags.iter().map(|(k, v)| Tag::new(*k, *v)).collect(),
    };
    let inputs_of = |s: &dyn Store| {
        let exp = ExperimentId::default_experiment();
        // Distinct start times: the search below orders by them.
        let start = |t| RunStart {
            start_time: Some(t),
            ..RunStart::default()
        };
        let a = s.create_run(&exp, start(1)).unwrap();
        let b = s.create_run(&exp, start(2)).unwrap();
        s.log_inputs(
            a.id(),
            &[
                input("train", "d1", &[("mlflow.data.context", "training")]),
                input("eval", "d2", &[]),
            ],
        )
        .unwrap();
        // Again: no second input, its tag upserted and another added.
        s.log_inputs(
            a.id(),
            &[input(
                "train",
                "d1",
                &[("mlflow.data.context", "tuning"), ("note", "x")],
            )],
        )
        .unwrap();
        s.log_inputs(b.id(), &[input("eval", "d2", &[("k", "v")])])
            .unwrap();
        s.delete_run(b.id()).unwrap();
        let e = s
            .log_inputs(b.id(), &[input("eval", "d2", &[])])
            .unwrap_err();
        assert_eq!(e.error_code(), "INVALID_PARAMETER_VALUE", "{e}");
        let found = s
            .search_runs(&RunQuery {
                experiment_ids: vec![exp],
                view_type: ViewType::All,
                order_by: vec!["attributes.start_time ASC".into()],
                ..RunQuery::default()
            })
            .unwrap();
        [s.get_run(a.id()).unwrap().inputs]
            .into_iter()
            .chain(found.items.into_iter().map(|r| r.inputs))
            .collect::<Vec<_>>()
    };
    let got = inputs_of(&*pg);
    assert_eq!(got, inputs_of(&*sqlite));
    assert_eq!(got[0].dataset_inputs.len(), 2);
    assert_eq!(
        got[0].dataset_inputs[0].tags,
        [
            Tag::new("mlflow.data.context", "tuning"),
            Tag::new("note", "x")
        ]
    );
}

#[test]
fn a_version_1_database_is_migrated_on_opening() {
    let Some(server) = PgServer::start("a_version_1_database_is_migrated_on_opening") else {
        return;
    };
    let root = "/tmp/unused-artifacts";
    let run_id = {
        let s = PgStore::open_with_artifact_root(&server.uri(), root).unwrap();
        s.create_run(&ExperimentId::default_experiment(), RunStart::default())
            .unwrap()
            .info
            .run_id
    };
    // Back to version 1: what the later migrations add is gone.
    server.psql(
        "DROP TABLE run_input_tags, run_inputs, datasets, run_outputs, logged_model_metrics, \
         logged_model_params, logged_model_tags, logged_models, registered_model_aliases, \
         model_version_tags, model_versions, registered_model_tags, registered_models, \
         hyperflow_searches, hyperflow_trials; \
         UPDATE hyperflow_schema SET version = 1",
    );
    let s = PgStore::open_with_artifact_root(&server.uri(), root).unwrap();
    assert_eq!(
        server.psql("SELECT version FROM hyperflow_schema"),
        hyperflow::tracking::postgres::SCHEMA_VERSION.to_string()
    );
    let input = DatasetInput {
        dataset: Dataset {
            name: "d".into(),
            digest: "1".into(),
            source_type: "local".into(),
            source: "{}".into(),
            ..Dataset::default()
        },
        tags: Vec::new(),
    };
    s.log_inputs(&run_id, std::slice::from_ref(&input)).unwrap();
    assert_eq!(s.get_run(&run_id).unwrap().inputs.dataset_inputs, [input]);
    // What version 3 adds: logged models and the registry.
    let model = s
        .create_logged_model(
            &ExperimentId::default_experiment(),
            &NewLoggedModel::default(),
        )
        .unwrap();
    s.create_registered_model("m", None, &[]).unwrap();
    let version = s
        .create_model_version(
            "m",
            &NewModelVersion::new(format!("models:/{}", model.model_id)),
        )
        .unwrap();
    assert_eq!(version.run_id, None);
    assert_eq!(
        s.get_model_version_download_uri("m", 1).unwrap(),
        model.artifact_uri
    );
}

/// Whether the store's connections named `app` (the URI's `application_name`) are
/// encrypted, from the server's view; `None` when it has none open.
fn encrypted(server: &PgServer, app: &str) -> Option<bool> {
    let found = server.psql(&format!(
        "SELECT bool_and(s.ssl) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
         WHERE a.application_name = '{app}'"
    ));
    match found.as_str() {
        "t" => Some(true),
        "f" => Some(false),
        _ => None,
    }
}

#[test]
fn tls_follows_the_sslmode_of_the_uri() {
    let Some(server) = PgServer::start_with_tls("tls_follows_the_sslmode_of_the_uri") else {
        return;
    };
    let root = "/tmp/unused-artifacts";
    let ca = server.ca_cert().display().to_string();
    for (app, options, tls) in [
        ("plain", "sslmode=disable", false),
        ("preferred", "", true),
        ("required", "sslmode=require", true),
        (
            "verified",
            &format!("sslmode=verify-full&sslrootcert={ca}"),
            true,
        ),
    ] {
        let uri = format!("{}?application_name={app}&{options}", server.uri());
        let store =
            PgStore::open_with_artifact_root(&uri, root).unwrap_or_else(|e| panic!("{uri}: {e}"));
        // The pool keeps the connection open after the call.
        store.create_experiment(app, None, &[]).unwrap();
        assert_eq!(encrypted(&server, app), Some(tls), "{uri}");
    }
    // verify-full checks the certificate: not signed by one of Mozilla's roots.
    let uri = format!("{}?sslmode=verify-full", server.uri());
    let e = PgStore::open_with_artifact_root(&uri, root).unwrap_err();
    assert!(e.to_string().contains("certificate"), "{e}");
    // A root certificate file that is not there is named.
    let uri = format!(
        "{}?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem",
        server.uri()
    );
    let e = PgStore::open_with_artifact_root(&uri, root).unwrap_err();
    assert_eq!(e.error_code(), "INVALID_PARAMETER_VALUE", "{e}");
    assert!(e.to_string().contains("/nonexistent/ca.pem"), "{e}");
}

#[test]
fn sslmode_require_fails_clearly_against_a_server_without_tls() {
    let Some(server) = PgServer::start("sslmode_require_fails_clearly") else {
        return;
    };
    let uri = format!("{}?sslmode=require", server.uri());
    let e = PgStore::open_with_artifact_root(&uri, "/tmp/unused-artifacts").unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("TLS") && text.contains("cannot connect"),
        "{text}"
    );
    // A mode that does not exist is named with the accepted ones, before connecting.
    let e = PgStore::open("postgresql://u@127.0.0.1:1/db?sslmode=verify-maybe").unwrap_err();
    assert_eq!(e.error_code(), "INVALID_PARAMETER_VALUE", "{e}");
    let text = e.to_string();
    assert!(
        text.contains("sslmode=verify-maybe")
            && text.contains("disable, prefer, require or verify-full"),
        "{text}"
    );
}

/// Workers registering versions of one model at once get the numbers 1..=n, each once
/// (the registered model's row is locked while a version is numbered).
#[test]
fn concurrent_model_versions_are_numbered_once_each() {
    let Some((store, _guard)) = pg_store("concurrent_model_versions_are_numbered_once_each") else {
        return;
    };
    store.create_registered_model("shared", None, &[]).unwrap();
    let mut versions: Vec<i64> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let store = &store;
                scope.spawn(move || {
                    let new = NewModelVersion::new(format!("/models/{i}"));
                    store.create_model_version("shared", &new).unwrap().version
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    versions.sort_unstable();
    assert_eq!(versions, (1..=8).collect::<Vec<i64>>());
    let model = store.get_registered_model("shared").unwrap();
    assert_eq!(model.latest_versions.len(), 1);
    assert_eq!(model.latest_versions[0].version, 8);
}

/// Read commands open the store read-only: nothing is created, upgraded or written.
#[test]
fn a_store_opened_read_only_creates_upgrades_and_writes_nothing() {
    let Some(server) = PgServer::start("a_store_opened_read_only") else {
        return;
    };
    let uri = server.uri();
    let root = "/tmp/unused-artifacts";
    let read_only = || hyperflow::tracking::open_store_with(&uri, OpenMode::ReadOnly);
    // An empty database: nothing to read, and no schema made.
    let e = read_only().err().expect("refused");
    assert!(matches!(e, StoreError::NoDatabase { .. }), "{e}");
    assert_eq!(
        server.psql("SELECT to_regclass('hyperflow_schema') IS NULL"),
        "t"
    );
    // What a writer logged reads back; every write is refused.
    let writer = PgStore::open_with_artifact_root(&uri, root).unwrap();
    let run = writer
        .create_run(&ExperimentId::default_experiment(), RunStart::default())
        .unwrap();
    writer
        .log_batch(run.id(), &[], &[Param::new("lr", "0.1")], &[])
        .unwrap();
    let reader = read_only().unwrap();
    assert_eq!(
        reader.get_run(run.id()).unwrap().data.param("lr"),
        Some("0.1")
    );
    for e in [
        reader.create_experiment("new", None, &[]).unwrap_err(),
        reader
            .log_batch(run.id(), &[], &[], &[Tag::new("k", "v")])
            .unwrap_err(),
        reader.create_registered_model("m", None, &[]).unwrap_err(),
    ] {
        assert_eq!(e.error_code(), "PERMISSION_DENIED", "{e}");
        assert!(e.to_string().contains("read-only"), "{e}");
    }
    assert_eq!(server.psql("SELECT count(*) FROM experiments"), "1");
    // An older schema is not upgraded by a reader.
    server.psql("UPDATE hyperflow_schema SET version = 2");
    let e = read_only().err().expect("refused");
    assert_eq!(e.error_code(), "INVALID_STATE", "{e}");
    assert!(e.to_string().contains("open it once for writing"), "{e}");
    assert_eq!(server.psql("SELECT version FROM hyperflow_schema"), "2");
}
