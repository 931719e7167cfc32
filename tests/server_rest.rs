//! The store conformance suite run against `RestStore` → hyperflow's server (in-process, on
//! an ephemeral loopback port, over a fresh SQLite database), plus REST-store specifics.

mod common;

use common::conformance::conformance_suite;
use hyperflow::server::{AppState, ServerHandle, spawn_state};
use hyperflow::tracking::*;
use std::sync::Arc;

/// Guard: keeps the server and its temp dir alive for a test.
pub struct Guard {
    _server: ServerHandle,
    _dir: tempfile::TempDir,
}

fn start() -> (ServerHandle, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let arts = dir.path().join("artifacts");
    let store =
        SqliteStore::open_with_artifact_root(dir.path().join("t.db"), &arts).expect("open store");
    let state = AppState::new(Arc::new(store)).with_artifacts(arts);
    let server = spawn_state(state, Some(2)).expect("start server");
    (server, dir)
}

fn rest_store() -> (Arc<dyn Store>, Guard) {
    let (server, dir) = start();
    let store = RestStore::with_auth(&server.url(), RestAuth::None).expect("rest store");
    (
        Arc::new(store),
        Guard {
            _server: server,
            _dir: dir,
        },
    )
}

conformance_suite!(rest_store);

#[test]
fn artifact_uris_go_through_the_proxy() {
    let (server, dir) = start();
    let store = RestStore::with_auth(&server.url(), RestAuth::None).unwrap();
    let exp = store.create_experiment("arts", None, &[]).unwrap();
    assert_eq!(
        store.get_experiment(&exp).unwrap().artifact_location,
        format!("mlflow-artifacts:/{exp}")
    );
    let run = store.create_run(&exp, RunStart::default()).unwrap();
    let uri = &run.info.artifact_uri;
    assert_eq!(
        uri,
        &format!("mlflow-artifacts:/{exp}/{}/artifacts", run.id())
    );
    let repo = store.artifact_repo(uri).unwrap();
    repo.write_bytes("sub/dir/x.json", b"{}").unwrap();
    // The file is where the server keeps the run's artifacts.
    let on_disk = dir.path().join(format!(
        "artifacts/{exp}/{}/artifacts/sub/dir/x.json",
        run.id()
    ));
    assert_eq!(std::fs::read(on_disk).unwrap(), b"{}");
    // The authority form names the server explicitly.
    let named = format!(
        "mlflow-artifacts://{}/{exp}/{}/artifacts",
        server.local_addr(),
        run.id()
    );
    let via_named = store.artifact_repo(&named).unwrap();
    assert_eq!(via_named.read_bytes("sub/dir/x.json").unwrap(), b"{}");
}

#[test]
fn listings_that_would_escape_are_rejected() {
    // A server answering a listing with an entry that is not a plain name must not make a
    // download write outside its directory.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let fake = std::thread::spawn(move || {
        use std::io::{Read, Write};
        let (mut conn, _) = listener.accept().unwrap();
        let mut buf = [0u8; 4096];
        let _ = conn.read(&mut buf).unwrap();
        let body = r#"{"files":[{"path":"../../evil.txt","is_dir":false,"file_size":1}]}"#;
        write!(
            conn,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
    });
    let store = RestStore::with_auth(&format!("http://{addr}"), RestAuth::None).unwrap();
    let repo = store
        .artifact_repo("mlflow-artifacts:/1/r/artifacts")
        .unwrap();
    let e = repo.list("").unwrap_err();
    assert!(matches!(e, StoreError::InvalidArtifactPath { .. }), "{e:?}");
    fake.join().unwrap();
}

#[test]
fn chunked_batches_and_nan() {
    let (server, _dir) = start();
    let store = Arc::new(RestStore::with_auth(&server.url(), RestAuth::None).unwrap());
    let run = store
        .create_run(&ExperimentId::default_experiment(), RunStart::default())
        .unwrap();
    let metrics: Vec<Metric> = (0..2500)
        .map(|i| Metric {
            key: "m".into(),
            value: i as f64,
            timestamp: 1,
            step: i,
        })
        .collect();
    let params: Vec<Param> = (0..250).map(|i| Param::new(format!("p{i}"), "v")).collect();
    // Over the per-request limits: the tracker splits it into requests the server accepts.
    Tracker::new(store.clone())
        .log_batch(run.id(), &metrics, &params, &[])
        .unwrap();
    assert_eq!(store.get_metric_history(run.id(), "m").unwrap().len(), 2500);
    assert_eq!(store.get_run(run.id()).unwrap().data.params.len(), 250);
    for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        store
            .log_metric(
                run.id(),
                &Metric {
                    key: "x".into(),
                    value: v,
                    timestamp: 5,
                    step: 0,
                },
            )
            .unwrap();
    }
    let h = store.get_metric_history(run.id(), "x").unwrap();
    assert_eq!(h.len(), 3);
    assert!(h.iter().any(|m| m.value.is_nan()));
    assert!(h.iter().any(|m| m.value == f64::INFINITY));
}

#[test]
fn tracking_uri_opens_the_rest_store() {
    let (server, _dir) = start();
    let store = open_store(&server.url()).unwrap();
    assert_eq!(
        store
            .get_experiment(&ExperimentId::default_experiment())
            .unwrap()
            .name,
        "Default"
    );
}

#[test]
fn unreachable_server_is_unavailable() {
    let store = RestStore::with_auth("http://127.0.0.1:9", RestAuth::None)
        .unwrap()
        .with_retries(1, std::time::Duration::from_millis(1));
    let e = store.get_run("x").unwrap_err();
    assert_eq!(e.error_code(), "TEMPORARILY_UNAVAILABLE");
}
