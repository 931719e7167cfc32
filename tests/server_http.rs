//! HTTP-level behaviour of the tracking server: status codes and MLflow error bodies,
//! limits, content types, field parsing (unknown fields, numeric strings, NaN), path
//! traversal, auth, routing. Requests are written by hand over TCP so every header and
//! byte is under the test's control.

mod common;

use hyperflow::server::{AppState, Limits, ServerConfig, ServerHandle, spawn_state};
use hyperflow::tracking::*;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;

struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn code(&self) -> String {
        self.json()["error_code"].as_str().unwrap_or("").to_string()
    }
    fn message(&self) -> String {
        self.json()["message"].as_str().unwrap_or("").to_string()
    }
}

struct Srv {
    server: ServerHandle,
    _dir: tempfile::TempDir,
}

fn start_with(f: impl FnOnce(AppState) -> AppState) -> Srv {
    let dir = tempfile::tempdir().unwrap();
    let arts = dir.path().join("artifacts");
    let store = SqliteStore::open_with_artifact_root(dir.path().join("t.db"), &arts).unwrap();
    let state = f(AppState::new(Arc::new(store)).with_artifacts(arts));
    Srv {
        server: spawn_state(state, Some(1)).unwrap(),
        _dir: dir,
    }
}

fn start() -> Srv {
    start_with(|s| s)
}

impl Srv {
    fn raw(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
        let mut s = TcpStream::connect(self.server.local_addr()).unwrap();
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {}\r\n",
            body.len()
        );
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        s.write_all(req.as_bytes()).unwrap();
        s.write_all(body).unwrap();
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).unwrap();
        parse_response(&buf)
    }

    fn post(&self, path: &str, body: &Value) -> Resp {
        self.raw(
            "POST",
            &format!("/api/2.0/mlflow/{path}"),
            &[("Content-Type", "application/json")],
            body.to_string().as_bytes(),
        )
    }

    fn get(&self, path_and_query: &str) -> Resp {
        self.raw(
            "GET",
            &format!("/api/2.0/mlflow/{path_and_query}"),
            &[],
            b"",
        )
    }

    fn new_run(&self) -> String {
        let r = self.post("runs/create", &json!({"experiment_id": "0"}));
        assert_eq!(r.status, 200);
        r.json()["run"]["info"]["run_id"]
            .as_str()
            .unwrap()
            .to_string()
    }
}

/// A whole response: status line, headers, body (de-chunked).
fn parse_response(buf: &[u8]) -> Resp {
    let split = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("header end");
    let head = String::from_utf8_lossy(&buf[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = buf[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"))
    {
        body = dechunk(&body);
    }
    Resp {
        status,
        headers,
        body,
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(i) = b.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let n = usize::from_str_radix(std::str::from_utf8(&b[..i]).unwrap().trim(), 16).unwrap();
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&b[i + 2..i + 2 + n]);
        b = &b[i + 2 + n + 2..];
    }
}

#[test]
fn content_type_is_checked() {
    let s = start();
    let r = s.raw(
        "POST",
        "/api/2.0/mlflow/experiments/create",
        &[],
        br#"{"name":"a"}"#,
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.code(), "INVALID_PARAMETER_VALUE");
    assert!(
        r.message().contains("Content-Type header is missing"),
        "{}",
        r.message()
    );
    let r = s.raw(
        "POST",
        "/api/2.0/mlflow/experiments/create",
        &[("Content-Type", "text/plain")],
        br#"{"name":"a"}"#,
    );
    assert_eq!(r.status, 400);
    assert!(
        r.message().contains("['application/json']"),
        "{}",
        r.message()
    );
    let r = s.raw(
        "POST",
        "/api/2.0/mlflow/experiments/create",
        &[("Content-Type", "application/json; charset=utf-8")],
        br#"{"name":"a"}"#,
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.json(), json!({"experiment_id": "1"}));
}

#[test]
fn malformed_and_missing_fields_are_400() {
    let s = start();
    for body in [&b"{"[..], b"[1,2]", b"\"x\"", b"nul"] {
        let r = s.raw(
            "POST",
            "/api/2.0/mlflow/experiments/create",
            &[("Content-Type", "application/json")],
            body,
        );
        assert_eq!(
            (r.status, r.code().as_str()),
            (400, "INVALID_PARAMETER_VALUE")
        );
        assert!(r.message().contains("Malformed request"), "{}", r.message());
    }
    // Empty body counts as {}.
    let r = s.raw(
        "POST",
        "/api/2.0/mlflow/experiments/create",
        &[("Content-Type", "application/json")],
        b"",
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.message(), "Missing value for required parameter 'name'.");
    let r = s.post("experiments/create", &json!({"name": ""}));
    assert_eq!(r.message(), "Missing value for required parameter 'name'.");
    let id = s.new_run();
    let r = s.post(
        "runs/log-batch",
        &json!({"run_id": id, "metrics": [{"key": "a", "value": 1}]}),
    );
    assert_eq!(r.status, 400);
    assert_eq!(
        r.message(),
        "Missing value for required parameter 'metrics[0].timestamp'."
    );
    let r = s.post(
        "runs/log-metric",
        &json!({"run_id": id, "key": "a", "value": "abc", "timestamp": 1}),
    );
    assert_eq!(r.status, 400);
    assert!(
        r.message()
            .starts_with("Invalid value \"abc\" for parameter 'value' supplied"),
        "{}",
        r.message()
    );
    let r = s.post("runs/update", &json!({"run_id": id, "status": "BOGUS"}));
    assert_eq!(r.status, 400);
    let r = s.get("runs/get");
    assert_eq!(
        r.message(),
        "Missing value for required parameter 'run_id'."
    );
}

#[test]
fn unknown_fields_numeric_strings_and_nan() {
    let s = start();
    let id = s.new_run();
    let r = s.post(
        "runs/log-metric",
        &json!({"run_id": id, "key": "m", "value": "NaN", "timestamp": "17", "step": "3",
                "whatever": {"nested": true}}),
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.body, b"{}");
    s.post(
        "runs/log-metric",
        &json!({"run_id": id, "key": "inf", "value": "-Infinity", "timestamp": 1}),
    );
    let r = s.get(&format!("metrics/get-history?run_id={id}&metric_key=m"));
    assert_eq!(
        r.json(),
        json!({"metrics": [{"key": "m", "value": "NaN", "timestamp": 17, "step": 3}]})
    );
    let r = s.get(&format!("runs/get?run_uuid={id}"));
    let run = r.json()["run"].clone();
    assert_eq!(run["info"]["run_uuid"], json!(id));
    assert!(run["info"]["start_time"].is_i64());
    assert!(run["info"].get("end_time").is_none());
    assert_eq!(run["info"]["status"], json!("RUNNING"));
    assert_eq!(run["inputs"], json!({}));
    let metrics = run["data"]["metrics"].as_array().unwrap();
    assert!(metrics.iter().any(|m| m["value"] == json!("-Infinity")));
    // Unknown metric key: {}.
    let r = s.get(&format!("metrics/get-history?run_id={id}&metric_key=zzz"));
    assert_eq!(r.json(), json!({}));
}

#[test]
fn history_pages() {
    let s = start();
    let id = s.new_run();
    let metrics: Vec<Value> = (0..5)
        .map(|i| json!({"key": "h", "value": i, "timestamp": i, "step": i}))
        .collect();
    assert_eq!(
        s.post("runs/log-batch", &json!({"run_id": id, "metrics": metrics}))
            .status,
        200
    );
    let r = s.get(&format!(
        "metrics/get-history?run_id={id}&metric_key=h&max_results=3"
    ));
    let v = r.json();
    assert_eq!(v["metrics"].as_array().unwrap().len(), 3);
    let tok = v["next_page_token"].as_str().unwrap().to_string();
    let r = s.get(&format!(
        "metrics/get-history?run_id={id}&metric_key=h&max_results=3&page_token={tok}"
    ));
    assert_eq!(r.json()["metrics"].as_array().unwrap().len(), 2);
    assert!(r.json().get("next_page_token").is_none());
}

#[test]
fn statuses_and_error_bodies() {
    let s = start();
    let r = s.get("runs/get?run_id=nope");
    assert_eq!(r.status, 404);
    assert_eq!(
        r.json(),
        json!({"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "Run with id=nope not found"})
    );
    let r = s.get("experiments/get-by-name?experiment_name=zz");
    assert_eq!(r.status, 404);
    assert_eq!(r.message(), "Could not find experiment with name 'zz'");
    s.post("experiments/create", &json!({"name": "dup"}));
    let r = s.post("experiments/create", &json!({"name": "dup"}));
    assert_eq!(
        (r.status, r.code().as_str()),
        (400, "RESOURCE_ALREADY_EXISTS")
    );
    // Renaming a deleted experiment: INVALID_STATE, but never a 5xx.
    s.post("experiments/delete", &json!({"experiment_id": "1"}));
    let r = s.post(
        "experiments/update",
        &json!({"experiment_id": "1", "new_name": "x"}),
    );
    assert_eq!((r.status, r.code().as_str()), (400, "INVALID_STATE"));
    // Unknown routes and methods: JSON.
    let r = s.raw("GET", "/api/2.0/mlflow/nothing/here", &[], b"");
    assert_eq!((r.status, r.code().as_str()), (404, "ENDPOINT_NOT_FOUND"));
    let r = s.raw("GET", "/nothing", &[], b"");
    assert_eq!((r.status, r.code().as_str()), (404, "ENDPOINT_NOT_FOUND"));
    let r = s.raw("GET", "/api/2.0/mlflow/runs/create", &[], b"");
    assert_eq!(r.status, 405);
    assert!(r.json()["error_code"].is_string());
    // Void endpoints and empty searches: {}.
    let id = s.new_run();
    assert_eq!(
        s.post(
            "runs/set-tag",
            &json!({"run_id": id, "key": "k", "value": "v"})
        )
        .body,
        b"{}"
    );
    let r = s.post(
        "runs/search",
        &json!({"experiment_ids": ["0"], "filter": "tags.k = 'nope'"}),
    );
    assert_eq!(r.body, b"{}");
    assert_eq!(s.post("runs/search", &json!({})).body, b"{}");
    let r = s.post("runs/delete-tag", &json!({"run_id": id, "key": "missing"}));
    assert_eq!(r.status, 404);
}

#[test]
fn search_limits_and_order_by() {
    let s = start();
    s.new_run();
    let r = s.post(
        "runs/search",
        &json!({"experiment_ids": ["0"], "order_by": ["metrics.a", "metrics.a DESC"]}),
    );
    assert_eq!(
        (r.status, r.code().as_str()),
        (400, "INVALID_PARAMETER_VALUE"),
        "{}",
        r.message()
    );
    for n in [0, 50_001] {
        let r = s.post(
            "runs/search",
            &json!({"experiment_ids": ["0"], "max_results": n}),
        );
        assert_eq!(r.status, 400, "{n}");
    }
    let r = s.post(
        "runs/search",
        &json!({"experiment_ids": ["0"], "filter": "metrics.a < 'x'"}),
    );
    assert_eq!(
        (r.status, r.code().as_str()),
        (400, "INVALID_PARAMETER_VALUE")
    );
    let r = s.post(
        "runs/search",
        &json!({"experiment_ids": ["0"], "page_token": "!!!"}),
    );
    assert_eq!(r.status, 400);
    // GET experiments/search with repeated keys.
    s.post("experiments/create", &json!({"name": "b"}));
    s.post("experiments/create", &json!({"name": "a"}));
    let r = s.get("experiments/search?max_results=10&order_by=name+ASC&order_by=experiment_id");
    let v = r.json();
    let names: Vec<&str> = v["experiments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["Default", "a", "b"]);
    let r = s.raw(
        "POST",
        "/ajax-api/2.0/mlflow/runs/search",
        &[("Content-Type", "application/json")],
        br#"{"experiment_ids": ["0"], "run_view_type": 3}"#,
    );
    assert_eq!(r.json()["runs"].as_array().unwrap().len(), 1);
}

#[test]
fn batch_limits() {
    let s = start();
    let id = s.new_run();
    let metrics: Vec<Value> = (0..1001)
        .map(|i| json!({"key": "k", "value": i, "timestamp": 1, "step": i}))
        .collect();
    let r = s.post("runs/log-batch", &json!({"run_id": id, "metrics": metrics}));
    assert_eq!(r.status, 400);
    assert!(
        r.message().contains("at most 1000 metrics"),
        "{}",
        r.message()
    );
    let r = s.post(
        "runs/log-parameter",
        &json!({"run_id": id, "key": "p", "value": "x".repeat(6001)}),
    );
    assert_eq!(r.status, 400);
}

#[test]
fn body_size_limit() {
    let s = start_with(|st| {
        st.with_limits(Limits {
            max_request_bytes: 1000,
            max_artifact_bytes: 100,
        })
    });
    let r = s.post("experiments/create", &json!({"name": "x".repeat(2000)}));
    assert_eq!(r.status, 413);
    assert_eq!(r.code(), "INVALID_PARAMETER_VALUE");
    let r = s.raw(
        "PUT",
        "/api/2.0/mlflow-artifacts/artifacts/0/r/artifacts/big.bin",
        &[],
        &[7u8; 500],
    );
    assert_eq!(r.status, 413);
    let r = s.raw(
        "PUT",
        "/api/2.0/mlflow-artifacts/artifacts/0/r/artifacts/small.bin",
        &[],
        &[7u8; 50],
    );
    assert_eq!(r.status, 200);
    let r = s.raw(
        "GET",
        "/api/2.0/mlflow-artifacts/artifacts?path=0/r/artifacts",
        &[],
        b"",
    );
    assert_eq!(
        r.json(),
        json!({"files": [{"path": "small.bin", "is_dir": false, "file_size": 50}]})
    );
}

#[test]
fn artifact_proxy_and_traversal() {
    let s = start();
    let base = "/api/2.0/mlflow-artifacts/artifacts";
    let r = s.raw(
        "PUT",
        &format!("{base}/1/run/artifacts/d/notes.txt"),
        &[],
        b"hello",
    );
    assert_eq!((r.status, r.body.as_slice()), (200, &b"{}"[..]));
    let r = s.raw(
        "GET",
        &format!("{base}/1/run/artifacts/d/notes.txt"),
        &[],
        b"",
    );
    assert_eq!(r.body, b"hello");
    assert_eq!(r.header("content-type"), Some("text/plain"));
    assert!(
        r.header("content-disposition")
            .unwrap()
            .contains("notes.txt")
    );
    let r = s.raw("GET", &format!("{base}?path=1/run/artifacts"), &[], b"");
    assert_eq!(r.json(), json!({"files": [{"path": "d", "is_dir": true}]}));
    // A file of several chunks streams back intact, with its length announced.
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let r = s.raw("PUT", &format!("{base}/1/big/w.bin"), &[], &big);
    assert_eq!(r.status, 200);
    let r = s.raw("GET", &format!("{base}/1/big/w.bin"), &[], b"");
    assert_eq!(r.header("content-length"), Some("300000"));
    assert!(r.body == big, "downloaded bytes differ");
    let r = s.raw("GET", &format!("{base}?path=1/none"), &[], b"");
    assert_eq!(r.json(), json!({}));
    let r = s.raw("GET", &format!("{base}/1/run/artifacts/missing"), &[], b"");
    assert_eq!(
        (r.status, r.code().as_str()),
        (404, "RESOURCE_DOES_NOT_EXIST")
    );
    for bad in [
        "%2e%2e/%2e%2e/etc/passwd",
        "a/%2E%2E/%2E%2E/x",
        "a/..%2F..%2Fx",
        "a%5C..%5Cx",
        "%2Fetc%2Fpasswd",
        "a/../../x",
    ] {
        let r = s.raw("PUT", &format!("{base}/{bad}"), &[], b"x");
        assert_eq!(r.status, 400, "PUT {bad}");
        let r = s.raw("GET", &format!("{base}/{bad}"), &[], b"");
        assert_eq!(r.status, 400, "GET {bad}");
    }
    let r = s.raw("GET", &format!("{base}?path=../.."), &[], b"");
    assert_eq!(r.status, 400);
    let r = s.raw(
        "DELETE",
        &format!("{base}/1/run/artifacts/d/notes.txt"),
        &[],
        b"",
    );
    assert_eq!(r.status, 200);
    let r = s.raw(
        "GET",
        &format!("{base}/1/run/artifacts/d/notes.txt"),
        &[],
        b"",
    );
    assert_eq!(r.status, 404);
    // artifacts/list on a run: paths relative to the run root.
    let id = s.new_run();
    let uri = s.get(&format!("runs/get?run_id={id}")).json()["run"]["info"]["artifact_uri"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(uri, format!("mlflow-artifacts:/0/{id}/artifacts"));
    s.raw(
        "PUT",
        &format!("{base}/0/{id}/artifacts/m/w.bin"),
        &[],
        b"123",
    );
    let r = s.get(&format!("artifacts/list?run_id={id}&path=m"));
    assert_eq!(
        r.json(),
        json!({"root_uri": uri, "files": [{"path": "m/w.bin", "is_dir": false, "file_size": 3}]})
    );
    let r = s.post("logged-models/search", &json!({"experiment_ids": ["0"]}));
    assert_eq!(r.body, b"{}");
    let r = s.raw("GET", "/api/3.0/mlflow/server-info", &[], b"");
    assert_eq!(r.json()["store_type"], json!("SqlStore"));
}

#[test]
fn auth_bearer_basic_and_missing() {
    let s = start_with(|st| st.with_auth_token("s3cret"));
    let path = "/api/2.0/mlflow/experiments/get?experiment_id=0";
    let r = s.raw("GET", path, &[], b"");
    assert_eq!(r.status, 401);
    assert_eq!(r.code(), "UNAUTHENTICATED");
    assert!(r.header("www-authenticate").is_some());
    let r = s.raw("GET", path, &[("Authorization", "Bearer wrong")], b"");
    assert_eq!(r.status, 401);
    let r = s.raw("GET", path, &[("Authorization", "Bearer s3cret")], b"");
    assert_eq!(r.status, 200);
    // "bob:s3cret"
    let r = s.raw(
        "GET",
        path,
        &[("Authorization", "Basic Ym9iOnMzY3JldA==")],
        b"",
    );
    assert_eq!(r.status, 200);
    // "bob:nope"
    let r = s.raw("GET", path, &[("Authorization", "Basic Ym9iOm5vcGU=")], b"");
    assert_eq!(r.status, 401);
    let r = s.raw(
        "PUT",
        "/api/2.0/mlflow-artifacts/artifacts/x.txt",
        &[],
        b"x",
    );
    assert_eq!(r.status, 401);
    let r = s.raw("GET", "/health", &[], b"");
    assert_eq!((r.status, r.body.as_slice()), (200, &b"OK"[..]));
}

#[test]
fn config_security_rules() {
    let c = ServerConfig {
        host: "0.0.0.0".into(),
        ..ServerConfig::default()
    };
    let e = c.validate().unwrap_err().to_string();
    assert!(
        e.contains("--auth-token") && e.contains("--insecure"),
        "{e}"
    );
    assert!(
        ServerConfig {
            insecure: true,
            ..c.clone()
        }
        .validate()
        .is_ok()
    );
    assert!(
        ServerConfig {
            auth_token: Some(" ".into()),
            ..c.clone()
        }
        .validate()
        .is_err()
    );
    for host in ["127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.2"] {
        let c = ServerConfig {
            host: host.into(),
            ..ServerConfig::default()
        };
        assert!(c.validate().is_ok(), "{host}");
    }
    let c = ServerConfig {
        backend_store_uri: "ftp://x".into(),
        ..ServerConfig::default()
    };
    assert!(c.validate().is_err());
}

/// A store whose every call panics: the server must answer 500 INTERNAL_ERROR JSON and
/// keep serving.
struct PanicStore;

macro_rules! panics {
    ($($name:ident($($arg:ident: $ty:ty),*) -> $ret:ty;)*) => {
        $(fn $name(&self, $($arg: $ty),*) -> $ret { $(let _ = $arg;)* panic!("boom") })*
    };
}

impl Store for PanicStore {
    common::required_store_methods!(panics);
}

#[test]
fn panics_become_500_json() {
    let server = spawn_state(AppState::new(Arc::new(PanicStore)), Some(1)).unwrap();
    let s = Srv {
        server,
        _dir: tempfile::tempdir().unwrap(),
    };
    let r = s.get("runs/get?run_id=x");
    assert_eq!((r.status, r.code().as_str()), (500, "INTERNAL_ERROR"));
    assert!(!r.message().contains("boom"));
    let r = s.raw("GET", "/", &[], b"");
    assert_eq!(r.status, 200);
    let r = s.raw("GET", "/health", &[], b"");
    assert_eq!(r.status, 200);
}

#[test]
fn report_endpoint_answers_the_report_or_mlflow_errors() {
    let s = start();
    let experiment = |name: &str| -> String {
        s.post("experiments/create", &json!({ "name": name }))
            .json()["experiment_id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let exp = experiment("sweep");
    let run = |body: Value| -> String {
        let r = s.post("runs/create", &body);
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        r.json()["run"]["info"]["run_id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let parent = run(json!({"experiment_id": exp, "run_name": "sweep-parent"}));
    // 30 trials: the loss is smallest near x = 0.3; `y` is noise.
    for i in 0..30 {
        let id = run(json!({
            "experiment_id": exp,
            "run_name": format!("trial-{i}"),
            "tags": [{"key": "mlflow.parentRunId", "value": parent}],
        }));
        let x = i as f64 / 29.0;
        let y = (i * 7 % 11) as f64;
        let r = s.post(
            "runs/log-batch",
            &json!({
                "run_id": id,
                "params": [{"key": "x", "value": format!("{x:.4}")}, {"key": "y", "value": y.to_string()}],
                "metrics": [{"key": "loss", "value": (x - 0.3).powi(2), "timestamp": 1, "step": 0}],
            }),
        );
        assert_eq!(r.status, 200);
        let r = s.post("runs/update", &json!({"run_id": id, "status": "FINISHED"}));
        assert_eq!(r.status, 200);
    }
    let report = |query: &str| {
        s.raw(
            "GET",
            &format!("/ajax-api/2.0/hyperflow/report?{query}"),
            &[],
            b"",
        )
    };

    let r = report(&format!("parent_run_id={parent}"));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let v = r.json();
    let group = &v["report"]["groups"][0];
    assert_eq!(group["name"], "sweep-parent");
    assert_eq!(group["counts"]["complete"], 30);
    let x = &group["params"][0];
    assert_eq!(x["name"], "x");
    assert!(x["importance"]["share"].as_f64().unwrap() > 0.5, "{x}");
    assert_eq!(v["sections"][0]["title"], "Report: sweep-parent");
    let params = v["sections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["title"] == "Parameters")
        .expect("a Parameters section");
    assert_eq!(params["table"]["header"][7], "importance");
    assert_eq!(params["table"]["rows"][0][0], "x");
    let plots = v["plots"].as_array().unwrap();
    assert!(
        plots.iter().any(|p| p["file_name"] == "loss.svg"),
        "{plots:?}"
    );
    assert!(
        plots
            .iter()
            .all(|p| p["svg"].as_str().unwrap().contains("<svg"))
    );
    assert!(v["range_legend"].as_str().unwrap().contains("range bar"));
    // What the UI's page asks for: the same sections and plots, without the report's data.
    let page = report(&format!("parent_run_id={parent}&page_only=true")).json();
    assert!(page.get("report").is_none(), "{page}");
    assert_eq!(page["sections"], v["sections"]);
    assert_eq!(page["plots"], v["plots"]);

    // The experiment's trials, all of them or those a filter picks; also under /api/2.0.
    let r = report(&format!("experiment_id={exp}"));
    assert_eq!(r.json()["report"]["groups"][0]["counts"]["complete"], 30);
    let r = s.raw(
        "GET",
        &format!("/api/2.0/hyperflow/report?experiment_id={exp}&filter=metrics.loss%20%3C%200.1&direction=maximize"),
        &[],
        b"",
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["report"]["direction"], "maximize");
    assert!(
        r.json()["report"]["groups"][0]["counts"]["total"]
            .as_u64()
            .unwrap()
            < 30
    );

    // Mistakes are MLflow error bodies with a 4xx, never a 5xx.
    let empty = experiment("empty");
    for (query, status, code, says) in [
        (
            String::new(),
            400,
            "INVALID_PARAMETER_VALUE",
            "experiment_id",
        ),
        (
            format!("parent_run_id={parent}&direction=sideways"),
            400,
            "INVALID_PARAMETER_VALUE",
            "minimize or maximize",
        ),
        (
            format!("parent_run_id={parent}&filter=params.x%3D'1'"),
            400,
            "INVALID_PARAMETER_VALUE",
            "not both",
        ),
        (
            format!("parent_run_id={parent}&top_quantile=2"),
            400,
            "INVALID_PARAMETER_VALUE",
            "top_quantile",
        ),
        (
            format!("parent_run_id={parent}&top_quantile=lots"),
            400,
            "INVALID_PARAMETER_VALUE",
            "top_quantile",
        ),
        (
            format!("experiment_id={exp}&filter=params.x%20%3E%3E%3E%201"),
            400,
            "INVALID_PARAMETER_VALUE",
            "",
        ),
        (
            format!("experiment_id={empty}"),
            400,
            "INVALID_PARAMETER_VALUE",
            "nothing to report on",
        ),
        (
            "parent_run_id=0123456789abcdef0123456789abcdef".into(),
            404,
            "RESOURCE_DOES_NOT_EXIST",
            "",
        ),
        (
            "experiment_id=no-such-experiment".into(),
            404,
            "RESOURCE_DOES_NOT_EXIST",
            "no-such-experiment",
        ),
    ] {
        let r = report(&query);
        assert_eq!(
            (r.status, r.code().as_str()),
            (status, code),
            "{query}: {}",
            r.message()
        );
        assert!(r.message().contains(says), "{query}: {}", r.message());
    }
}

impl Srv {
    /// The server's artifacts destination.
    fn artifacts(&self) -> std::path::PathBuf {
        self._dir.path().join("artifacts")
    }
}

const PROXY: &str = "/api/2.0/mlflow-artifacts/artifacts";

#[test]
#[cfg(unix)]
fn symlinks_never_lead_the_proxy_outside_its_destination() {
    let s = start();
    let root = s.artifacts();
    let outside = s._dir.path().join("outside");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("secret.txt"), "secret").unwrap();
    std::os::unix::fs::symlink(&outside, root.join("link")).unwrap();
    std::os::unix::fs::symlink(outside.join("secret.txt"), root.join("file-link")).unwrap();
    let escapes = |r: &Resp, what: &str| {
        assert_eq!(
            (r.status, r.code().as_str()),
            (400, "INVALID_PARAMETER_VALUE"),
            "{what}: {}",
            String::from_utf8_lossy(&r.body)
        );
        assert!(r.message().contains("outside"), "{what}: {}", r.message());
    };

    // Read, write, list and delete through a linked folder.
    let r = s.raw("GET", &format!("{PROXY}/link/secret.txt"), &[], b"");
    escapes(&r, "read");
    assert!(!String::from_utf8_lossy(&r.body).contains("secret\""));
    let r = s.raw("PUT", &format!("{PROXY}/link/planted.txt"), &[], b"x");
    escapes(&r, "write");
    assert!(!outside.join("planted.txt").exists());
    let r = s.raw(
        "PUT",
        &format!("{PROXY}/link/deeper/planted.txt"),
        &[],
        b"x",
    );
    escapes(&r, "write below");
    assert!(!outside.join("deeper").exists());
    let r = s.raw("GET", &format!("{PROXY}?path=link"), &[], b"");
    escapes(&r, "list");
    let r = s.raw("DELETE", &format!("{PROXY}/link/secret.txt"), &[], b"");
    escapes(&r, "delete");
    assert!(outside.join("secret.txt").exists());

    // A linked file is not read; deleting it removes the link, not its target.
    let r = s.raw("GET", &format!("{PROXY}/file-link"), &[], b"");
    escapes(&r, "read a linked file");
    let r = s.raw("GET", &format!("{PROXY}?path="), &[], b"");
    assert_eq!(r.json(), json!({}), "links out are not listed");
    let r = s.raw("DELETE", &format!("{PROXY}/file-link"), &[], b"");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert!(!root.join("file-link").exists());
    assert_eq!(
        std::fs::read_to_string(outside.join("secret.txt")).unwrap(),
        "secret"
    );

    // A link that stays inside the destination is followed beneath it.
    std::fs::create_dir_all(root.join("real")).unwrap();
    std::fs::write(root.join("real/in.txt"), "inside").unwrap();
    std::os::unix::fs::symlink("real", root.join("alias")).unwrap();
    let r = s.raw("GET", &format!("{PROXY}/alias/in.txt"), &[], b"");
    assert_eq!((r.status, r.body.as_slice()), (200, &b"inside"[..]));
}

#[test]
fn artifact_uploads_the_file_system_refuses_are_400_saying_why() {
    let s = start();
    let put = |path: &str| s.raw("PUT", &format!("{PROXY}/{path}"), &[], b"x");
    assert_eq!(put("d/notes.txt").status, 200);
    let cases = [
        ("d".to_string(), "is a folder"),
        ("d/notes.txt/under.txt".to_string(), "is a file"),
        (format!("d/{}.txt", "n".repeat(300)), "at most 255 bytes"),
        ("a/".repeat(3000) + "f.txt", "at most 4096 bytes"),
        ("a/".repeat(1000) + "f.txt", "levels deep"),
    ];
    for (path, says) in cases {
        let r = put(&path);
        assert_eq!(
            (r.status, r.code().as_str()),
            (400, "INVALID_PARAMETER_VALUE"),
            "PUT {}: {}",
            &path[..path.len().min(60)],
            String::from_utf8_lossy(&r.body)
        );
        assert!(r.message().contains(says), "{says}: {}", r.message());
    }
    // Nothing was left behind, and what was there is intact.
    let r = s.raw("GET", &format!("{PROXY}?path=d"), &[], b"");
    assert_eq!(
        r.json(),
        json!({"files": [{"path": "notes.txt", "is_dir": false, "file_size": 1}]})
    );
}

/// Send `head` (a request without `Connection: close`) and `body` on a fresh connection;
/// returns the response's status, headers and body, and whether the server then closed
/// the connection.
fn keep_alive_request(srv: &Srv, head: &str, body: &[u8]) -> (Resp, bool) {
    let mut s = TcpStream::connect(srv.server.local_addr()).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(60)))
        .unwrap();
    s.write_all(head.as_bytes()).unwrap();
    // The server may answer (and stop reading) before the whole body is sent.
    let _ = s.write_all(body);
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let (head_end, length) = loop {
        let n = s.read(&mut chunk).expect("an answer");
        assert!(n > 0, "connection closed without an answer");
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let text = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let length = text
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse::<usize>().unwrap());
            break (end + 4, length);
        }
    };
    while buf.len() < head_end + length {
        let n = s.read(&mut chunk).expect("the body");
        assert!(n > 0, "connection closed in the body");
        buf.extend_from_slice(&chunk[..n]);
    }
    let resp = parse_response(&buf[..head_end + length]);
    let closed = matches!(s.read(&mut chunk), Ok(0) | Err(_));
    (resp, closed)
}

#[test]
fn too_large_requests_get_json_and_a_clean_close() {
    let s = start_with(|st| {
        st.with_limits(Limits {
            max_request_bytes: 1000,
            max_artifact_bytes: 100,
        })
    });
    let big = vec![b' '; 200_000];
    for (path, ct) in [
        ("/api/2.0/mlflow/experiments/create", "application/json"),
        (
            "/api/2.0/mlflow-artifacts/artifacts/0/r/big.bin",
            "application/octet-stream",
        ),
    ] {
        let method = if ct == "application/json" {
            "POST"
        } else {
            "PUT"
        };
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: {ct}\r\nContent-Length: {}\r\n\r\n",
            big.len()
        );
        let (r, closed) = keep_alive_request(&s, &head, &big);
        assert_eq!(r.status, 413, "{path}");
        assert_eq!(r.code(), "INVALID_PARAMETER_VALUE");
        assert_eq!(r.header("connection"), Some("close"), "{path}");
        assert!(closed, "{path}: the connection must be closed after a 413");
    }

    let long = format!(
        "/api/2.0/mlflow/experiments/get?experiment_id=0&pad={}",
        "x".repeat(20_000)
    );
    let (r, _) = keep_alive_request(
        &s,
        &format!("GET {long} HTTP/1.1\r\nHost: localhost\r\n\r\n"),
        b"",
    );
    assert_eq!(
        (r.status, r.code().as_str()),
        (414, "INVALID_PARAMETER_VALUE")
    );
    assert!(r.message().contains("POST body"), "{}", r.message());

    let (r, _) = keep_alive_request(
        &s,
        &format!(
            "GET /health HTTP/1.1\r\nHost: localhost\r\nX-Pad: {}\r\n\r\n",
            "y".repeat(70_000)
        ),
        b"",
    );
    assert_eq!(
        (r.status, r.code().as_str()),
        (431, "INVALID_PARAMETER_VALUE")
    );
    assert_eq!(r.header("content-type"), Some("application/json"));
}

#[test]
fn stages_order_by_and_model_metrics_on_the_wire() {
    let s = start();
    let run = s.new_run();
    let r = s.post(
        "logged-models",
        &json!({"experiment_id": "0", "name": "clf", "source_run_id": run}),
    );
    let model_id = r.json()["model"]["info"]["model_id"]
        .as_str()
        .unwrap()
        .to_string();
    s.post("registered-models/create", &json!({"name": "iris"}));
    for _ in 0..2 {
        let r = s.post(
            "model-versions/create",
            &json!({"name": "iris", "source": format!("models:/{model_id}")}),
        );
        assert_eq!(r.status, 200);
    }

    // Stages: any case in, MLflow's spelling out; a bad one names the accepted stages.
    let r = s.post(
        "model-versions/transition-stage",
        &json!({"name": "iris", "version": "1", "stage": "production",
                "archive_existing_versions": false}),
    );
    assert_eq!(
        r.json()["model_version"]["current_stage"],
        json!("Production")
    );
    let r = s.post(
        "model-versions/transition-stage",
        &json!({"name": "iris", "version": "1", "stage": "live"}),
    );
    assert_eq!(
        (r.status, r.code().as_str()),
        (400, "INVALID_PARAMETER_VALUE")
    );
    assert!(
        r.message().contains("None, Staging, Production, Archived"),
        "{}",
        r.message()
    );
    let r = s.post(
        "model-versions/transition-stage",
        &json!({"name": "iris", "version": "1", "stage": "None",
                "archive_existing_versions": true}),
    );
    assert_eq!(
        (r.status, r.code().as_str()),
        (400, "INVALID_PARAMETER_VALUE")
    );
    // Latest versions by GET (repeated stages) and POST; in the registered model too.
    let r = s.get("registered-models/get-latest-versions?name=iris&stages=none&stages=Production");
    let versions = r.json()["model_versions"].clone();
    assert_eq!(versions.as_array().map(Vec::len), Some(2), "{versions}");
    let r = s.post(
        "registered-models/get-latest-versions",
        &json!({"name": "iris", "stages": ["STAGING"]}),
    );
    assert_eq!(r.body, b"{}");
    let r = s.post(
        "registered-models/get-latest-versions",
        &json!({"name": "iris", "stages": ["live"]}),
    );
    assert_eq!(
        (r.status, r.code().as_str()),
        (400, "INVALID_PARAMETER_VALUE")
    );
    let r = s.get("registered-models/get?name=iris");
    let latest = &r.json()["registered_model"]["latest_versions"];
    assert_eq!(latest[0]["current_stage"], json!("Production"), "{latest}");
    assert_eq!(latest[1]["version"], json!("2"), "{latest}");

    // order_by on the query string; a bad key names the accepted ones.
    let r = s.get("model-versions/search?order_by=version_number%20ASC");
    let versions = r.json()["model_versions"].clone();
    assert_eq!(versions[0]["version"], json!("1"), "{versions}");
    let r = s.get("registered-models/search?order_by=size");
    assert_eq!(
        (r.status, r.code().as_str()),
        (400, "INVALID_PARAMETER_VALUE")
    );
    assert!(r.message().contains("name, timestamp"), "{}", r.message());

    // Metrics with a model_id go to the run and the model; a missing model writes nothing.
    let r = s.post(
        "runs/log-batch",
        &json!({"run_id": run, "params": [{"key": "C", "value": "1"}], "metrics": [
            {"key": "acc", "value": 0.9, "timestamp": 5, "step": 1, "model_id": model_id,
             "dataset_name": "iris", "dataset_digest": "d1"},
            {"key": "loss", "value": 0.2, "timestamp": 5}]}),
    );
    assert_eq!(r.status, 200, "{}", r.message());
    let r = s.post(
        "runs/log-metric",
        &json!({"run_id": run, "key": "f1", "value": 0.8, "timestamp": 6, "model_id": model_id}),
    );
    assert_eq!(r.status, 200, "{}", r.message());
    let r = s.get(&format!("logged-models/{model_id}"));
    assert_eq!(
        r.json()["model"]["data"]["metrics"],
        json!([
            {"key": "acc", "value": 0.9, "timestamp": 5, "step": 1, "model_id": model_id,
             "dataset_name": "iris", "dataset_digest": "d1", "run_id": run},
            {"key": "f1", "value": 0.8, "timestamp": 6, "step": 0, "model_id": model_id,
             "run_id": run}
        ])
    );
    let r = s.get(&format!("runs/get?run_id={run}"));
    let metrics = r.json()["run"]["data"]["metrics"].clone();
    assert_eq!(metrics.as_array().map(Vec::len), Some(3), "{metrics}");
    let r = s.post(
        "runs/log-batch",
        &json!({"run_id": run, "params": [{"key": "D", "value": "1"}], "metrics": [
            {"key": "acc", "value": 0.5, "timestamp": 7, "model_id": "m-nope"}]}),
    );
    assert_eq!(
        (r.status, r.code().as_str()),
        (404, "RESOURCE_DOES_NOT_EXIST")
    );
    let r = s.get(&format!("runs/get?run_id={run}"));
    assert!(
        !r.body.windows(3).any(|w| w == b"\"D\""),
        "nothing of the batch is written"
    );
    let r = s.post(
        "logged-models/search",
        &json!({"experiment_ids": ["0"], "filter": "metrics.acc >= 0.9"}),
    );
    assert_eq!(r.json()["models"][0]["info"]["model_id"], json!(model_id));
    let r = s.post(
        "logged-models/search",
        &json!({"experiment_ids": ["0"], "order_by": [{"field_name": "params.C"}]}),
    );
    assert_eq!(
        (r.status, r.code().as_str()),
        (400, "INVALID_PARAMETER_VALUE")
    );
}
