//! The store conformance suite run against `RestStore` → hyperflow's server (in-process, on
//! an ephemeral loopback port, over a fresh SQLite database), plus REST-store specifics.

mod common;

use common::conformance::conformance_suite;
use hyperflow::server::{AppState, ServerHandle, spawn_state};
use hyperflow::tracking::wire;
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

/// One request over a fresh connection: status, `error_code` (if the body is an MLflow
/// error) and body.
fn request(addr: std::net::SocketAddr, method: &str, path: &str) -> (u16, String, Vec<u8>) {
    use std::io::{Read, Write};
    let body: &[u8] = match method {
        "POST" => b"{}",
        "PUT" => b"probe",
        _ => b"",
    };
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(body).unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).unwrap();
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let status = String::from_utf8_lossy(&buf[..end])
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let body = buf[end + 4..].to_vec();
    let code = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["error_code"].as_str().map(str::to_string))
        .unwrap_or_default();
    (status, code, body)
}

#[test]
fn every_endpoint_of_the_table_answers_through_the_real_server() {
    let (server, _dir) = start();
    let table = hyperflow::server::endpoints();
    assert!(table.len() > 50, "{} endpoints", table.len());
    for e in &table {
        let path = e.path.replace("{*path}", "0/r/artifacts/probe.txt");
        let (status, code, body) = request(server.local_addr(), e.method.as_str(), &path);
        let said = String::from_utf8_lossy(&body);
        assert!(
            code != "ENDPOINT_NOT_FOUND" && status != 405,
            "{} {path}: no route ({status} {said})",
            e.method
        );
        assert!(status < 500, "{} {path}: {status} {said}", e.method);
    }
    // Every call the REST store can make has its row, with the same method and path.
    for (method, path) in wire::CALLS {
        let method = match method {
            wire::Method::Get => "GET",
            wire::Method::Post => "POST",
            wire::Method::Patch => "PATCH",
            wire::Method::Delete => "DELETE",
        };
        for prefix in [wire::API_PREFIX, wire::AJAX_PREFIX] {
            let full = format!("{prefix}{path}");
            assert!(
                table
                    .iter()
                    .any(|e| e.method.as_str() == method && e.path == full),
                "the REST store calls {method} {full}, which the server does not route"
            );
        }
    }
    // The artifact proxy's three verbs on files, and its listing.
    let file = format!("{}{}/{{*path}}", wire::API_PREFIX, wire::ARTIFACTS_PATH);
    for method in ["GET", "PUT", "DELETE"] {
        assert!(
            table
                .iter()
                .any(|e| e.method.as_str() == method && e.path == file),
            "{method} {file}"
        );
    }
}

#[test]
fn every_store_method_of_the_rest_store_works_against_the_server() {
    let (store, _guard) = rest_store();
    let tag = Tag::new("k", "v");
    let exp = store
        .create_experiment("all-methods", None, std::slice::from_ref(&tag))
        .unwrap();
    store.get_experiment(&exp).unwrap();
    assert!(
        store
            .get_experiment_by_name("all-methods")
            .unwrap()
            .is_some()
    );
    assert_eq!(
        store
            .search_experiments(&ExperimentQuery::default())
            .unwrap()
            .items
            .len(),
        2
    );
    store.rename_experiment(&exp, "renamed").unwrap();
    store
        .set_experiment_tag(&exp, &Tag::new("k2", "v2"))
        .unwrap();
    store.delete_experiment_tag(&exp, "k2").unwrap();
    assert_eq!(store.get_experiment(&exp).unwrap().tags, vec![tag.clone()]);
    let run = store.create_run(&exp, RunStart::default()).unwrap();
    let id = run.id();
    store.get_run(id).unwrap();
    store.get_run_info(id).unwrap();
    store.log_metric(id, &Metric::at_step("m", 1.0, 1)).unwrap();
    store.log_param(id, &Param::new("p", "1")).unwrap();
    store.set_tag(id, &tag).unwrap();
    store.delete_tag(id, "k").unwrap();
    store
        .log_batch(id, &[Metric::at_step("m", 2.0, 2)], &[], &[])
        .unwrap();
    assert_eq!(store.get_metric_history(id, "m").unwrap().len(), 2);
    assert_eq!(
        store
            .get_metric_history_page(id, "m", 1, None)
            .unwrap()
            .items
            .len(),
        1
    );
    let query = RunQuery {
        experiment_ids: vec![exp.clone()],
        ..RunQuery::default()
    };
    assert_eq!(store.search_runs(&query).unwrap().items.len(), 1);
    store
        .update_run(
            id,
            RunUpdate {
                status: Some(RunStatus::Finished),
                ..RunUpdate::default()
            },
        )
        .unwrap();
    store.record_run(&exp, &RunRecord::default()).unwrap();
    store.delete_run(id).unwrap();
    store.restore_run(id).unwrap();
    let repo = store.artifact_repo(&run.info.artifact_uri).unwrap();
    repo.write_bytes("a.txt", b"a").unwrap();
    assert_eq!(repo.read_bytes("a.txt").unwrap(), b"a");
    assert_eq!(repo.list("").unwrap().len(), 1);
    store.delete_experiment(&exp).unwrap();
    store.restore_experiment(&exp).unwrap();
}

/// A plain HTTP listener standing for another host: answers `{}` to every request and
/// keeps each request's head.
struct OtherHost {
    addr: std::net::SocketAddr,
    heads: Arc<std::sync::Mutex<Vec<String>>>,
}

impl OtherHost {
    fn start() -> OtherHost {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let heads = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = heads.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { return };
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut chunk) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                seen.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&buf).to_ascii_lowercase());
                let _ = conn.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                      Content-Length: 2\r\nConnection: close\r\n\r\n{}",
                );
            }
        });
        OtherHost { addr, heads }
    }
}

#[test]
fn credentials_go_only_to_the_tracking_server() {
    let dir = tempfile::tempdir().unwrap();
    let arts = dir.path().join("artifacts");
    let sqlite = SqliteStore::open_with_artifact_root(dir.path().join("t.db"), &arts).unwrap();
    let state = AppState::new(Arc::new(sqlite))
        .with_artifacts(arts)
        .with_auth_token("s3cret");
    let server = spawn_state(state, Some(2)).unwrap();
    let other = OtherHost::start();
    let auths = [
        RestAuth::Bearer("s3cret".into()),
        RestAuth::Basic {
            username: "alice".into(),
            password: "s3cret".into(),
        },
    ];
    for (i, auth) in auths.into_iter().enumerate() {
        let store = RestStore::with_auth(&server.url(), auth).unwrap();
        // An experiment whose artifacts live behind another host's proxy.
        let elsewhere = store
            .create_experiment(
                &format!("elsewhere-{i}"),
                Some(&format!("mlflow-artifacts://{}/x", other.addr)),
                &[],
            )
            .unwrap();
        let run = store.create_run(&elsewhere, RunStart::default()).unwrap();
        let repo = store.artifact_repo(&run.info.artifact_uri).unwrap();
        repo.write_bytes("a.txt", b"a").unwrap();
        repo.read_bytes("a.txt").unwrap();
        repo.list("").unwrap();
        let heads = other.heads.lock().unwrap().clone();
        assert_eq!(heads.len(), 3 * (i + 1), "{heads:?}");
        for head in &heads {
            assert!(
                !head.contains("authorization"),
                "credentials were sent to another host:\n{head}"
            );
        }
        // The tracking server itself, named explicitly, gets them (it requires them).
        let here = format!(
            "mlflow-artifacts://{}/0/{}/artifacts",
            server.local_addr(),
            run.id()
        );
        let own = store.artifact_repo(&here).unwrap();
        own.write_bytes("b.txt", b"b").unwrap();
        assert_eq!(own.read_bytes("b.txt").unwrap(), b"b");
    }
    // A location on another server that is not an artifact proxy is refused, not called.
    let store = RestStore::with_auth(&server.url(), RestAuth::Bearer("s3cret".into())).unwrap();
    assert!(
        store
            .artifact_repo(&format!("http://{}/x", other.addr))
            .is_err()
    );
    assert_eq!(other.heads.lock().unwrap().len(), 6);
}
