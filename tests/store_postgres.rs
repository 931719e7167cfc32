//! The PostgreSQL store (feature `postgres`) against a real PostgreSQL server each test
//! starts (`tests/common/postgres.rs`): the conformance checks that cover what the store
//! implements so far, plus PostgreSQL-specific behaviour.
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

// To do (the store does not implement them yet): registered_models_crud,
// model_versions_and_aliases, model_version_stages, registry_order_by,
// logged_model_metrics.
conformance_suite!(skippable pg_store;
    experiments_crud, experiment_search, experiment_delete_cascades,
    run_create_defaults, run_update_and_reopen, run_delete_restore,
    writes_to_deleted_run_rejected, params_immutable, metrics_history_and_latest,
    tags_upsert_delete, batch_limits_and_validation, nested_runs,
    search_metric_operators, search_param_tag_operators, search_attribute_operators,
    search_order_by, search_pagination_and_views, search_errors, search_limits,
    record_run_in_one_go, artifacts_round_trip);

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
