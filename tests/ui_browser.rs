//! The web UI in a real headless Chromium, driven over WebDriver (chromedriver).
//!
//! The server runs in-process on an ephemeral loopback port over a temp SQLite database
//! seeded with an experiment, a parent run with 20 nested trials (params, metric
//! histories), artifacts (.txt, .json, .svg) and a run whose name is an HTML injection
//! attempt. The test walks every page, checks what a user would look at, collects
//! JavaScript errors, and saves screenshots to `target/ui-screenshots/*.png`.
//!
//! Needs `/usr/bin/chromium` and `chromedriver` (`scripts/setup-browser.sh`); without
//! them the browser test prints why and passes. The HTTP checks of the UI's assets run
//! everywhere.

use hyperflow::server::{AppState, ServerHandle, spawn_state};
use hyperflow::tracking::*;
use serde_json::{Value, json};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const CHROMIUM: &str = "/usr/bin/chromium";
const XSS_NAME: &str = "<img src=x onerror=alert(1)>";
const TRIALS: usize = 20;

// ---------------------------------------------------------------------------------------
// Server and data

struct Seeded {
    server: ServerHandle,
    sqlite: Arc<SqliteStore>,
    _dir: tempfile::TempDir,
    exp: ExperimentId,
    parent: String,
    trials: Vec<String>,
    /// A sweep logged by `fmin` through the REST store: (experiment, parent run).
    tracked: (ExperimentId, String),
}

/// Final loss of trial `i`: 0.1 + 0.045 i, so trials 0..=8 have loss < 0.5.
fn final_loss(i: usize) -> f64 {
    0.1 + 0.045 * i as f64
}

/// A server over a fresh SQLite store in a temp dir, with the artifact proxy.
fn serve() -> (ServerHandle, Arc<SqliteStore>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let arts = dir.path().join("artifacts");
    let sqlite = Arc::new(
        SqliteStore::open_with_artifact_root(dir.path().join("ui.db"), &arts).expect("open store"),
    );
    let server = spawn_state(AppState::new(sqlite.clone()).with_artifacts(arts), Some(2))
        .expect("start server");
    (server, sqlite, dir)
}

fn seed() -> Seeded {
    let (server, sqlite, dir) = serve();
    // Seed through the REST API, so artifacts go through the proxy like a client's.
    let store = RestStore::with_auth(&server.url(), RestAuth::None).expect("rest store");
    let exp = store
        .create_experiment("ui-demo", None, &[])
        .expect("experiment");
    let t0 = 1_700_000_000_000_i64;
    let parent = store
        .create_run(
            &exp,
            RunStart {
                run_name: Some("sweep-parent".into()),
                start_time: Some(t0),
                tags: vec![Tag::new(
                    "mlflow.note.content",
                    "Tuning lr and depth.\nSecond line.",
                )],
                ..RunStart::default()
            },
        )
        .expect("parent");
    let pid = parent.id().to_string();
    let mut trials = Vec::new();
    for i in 0..TRIALS {
        let run = store
            .create_run(
                &exp,
                RunStart {
                    run_name: Some(format!("trial-{i}")),
                    start_time: Some(t0 + 1000 * (i as i64 + 1)),
                    tags: vec![Tag::new(tags::PARENT_RUN_ID, &pid)],
                    ..RunStart::default()
                },
            )
            .expect("trial");
        let id = run.id().to_string();
        let lr = 10f64.powf(-4.0 + 3.0 * i as f64 / (TRIALS - 1) as f64);
        let params = vec![
            Param::new("lr", format!("{lr:.6}")),
            Param::new("depth", (i % 5 + 2).to_string()),
            Param::new("optimizer", ["adam", "sgd"][i % 2]),
        ];
        let mut metrics = Vec::new();
        for step in 0..=10 {
            let ts = t0 + 1000 * (i as i64 + 1) + 10 * step;
            metrics.push(Metric {
                key: "loss".into(),
                value: final_loss(i) + (10 - step) as f64 * 0.05,
                timestamp: ts,
                step,
            });
            metrics.push(Metric {
                key: "accuracy".into(),
                value: 1.0 - final_loss(i) - (10 - step) as f64 * 0.03,
                timestamp: ts,
                step,
            });
        }
        store.log_batch(&id, &metrics, &params, &[]).expect("batch");
        let status = if i == TRIALS - 1 {
            RunStatus::Failed
        } else {
            RunStatus::Finished
        };
        store
            .update_run(
                &id,
                RunUpdate {
                    status: Some(status),
                    end_time: Some(t0 + 1000 * (i as i64 + 1) + 800),
                    run_name: None,
                },
            )
            .expect("finish");
        store
            .log_batch(
                &pid,
                &[Metric {
                    key: "best_loss".into(),
                    value: final_loss(0),
                    timestamp: t0 + 1000 * (i as i64 + 1),
                    step: i as i64,
                }],
                &[],
                &[],
            )
            .expect("parent metric");
        trials.push(id);
    }
    store
        .log_batch(&pid, &[], &[Param::new("algo", "tpe")], &[])
        .expect("parent params");
    store
        .update_run(
            &pid,
            RunUpdate {
                status: Some(RunStatus::Finished),
                end_time: Some(t0 + 60_000),
                run_name: None,
            },
        )
        .expect("finish parent");
    // Artifacts of trial-0.
    let t = store.get_run(&trials[0]).expect("trial 0");
    let repo = store
        .artifact_repo(&t.info.artifact_uri)
        .expect("artifact repo");
    repo.write_bytes("notes.txt", b"hello from trial 0\nlr was the smallest")
        .expect("txt");
    repo.write_bytes("config.json", br#"{"lr":0.0001,"layers":[64,32]}"#)
        .expect("json");
    repo.write_bytes(
            "plots/loss.svg",
            br##"<svg xmlns="http://www.w3.org/2000/svg" width="120" height="60"><rect width="120" height="60" fill="#eef"/><path d="M5 55 L60 20 L115 10" stroke="#c00" fill="none" stroke-width="3"/></svg>"##,
        )
        .expect("svg");
    // User data that looks like HTML must render as text.
    let xss = store
        .create_run(
            &exp,
            RunStart {
                run_name: Some(XSS_NAME.into()),
                start_time: Some(t0 + 100_000),
                ..RunStart::default()
            },
        )
        .expect("xss run");
    store
        .log_batch(
            xss.id(),
            &[],
            &[Param::new("lr", "<script>alert(2)</script>")],
            &[],
        )
        .expect("xss params");
    let tracked = seed_tracked_sweep(&server.url());
    Seeded {
        server,
        sqlite,
        _dir: dir,
        exp,
        parent: pid,
        trials,
        tracked,
    }
}

/// Trials of the tracked sweep: 12 top trials at the default 20%, enough for the report to
/// tell that `lr` matters (with 40, it cannot tell yet).
const TRACKED_TRIALS: usize = 60;

/// A sweep as users log it: `fmin` with tracking over the server's URL (the
/// space goes up as `space.json` through the artifact proxy). The loss depends mostly on
/// `lr` (best near 10^-2.5), a little on `optimizer`, not on `depth`.
fn seed_tracked_sweep(url: &str) -> (ExperimentId, String) {
    let tracker = Tracker::open(url).expect("tracker over REST");
    let space = hyperflow::Space::builder()
        .loguniform("lr", 1e-5, 1.0)
        .randint("depth", 2, 12)
        .choice("optimizer", ["adam", "sgd"])
        .build()
        .expect("space");
    let result = hyperflow::fmin(
        |p: &hyperflow::Point| -> Result<f64, String> {
            let lr: f64 = p.get("lr").map_err(|e| e.to_string())?;
            let opt: String = p.get("optimizer").map_err(|e| e.to_string())?;
            let penalty = if opt == "sgd" { 0.3 } else { 0.0 };
            Ok((lr.log10() + 2.5).powi(2) + penalty)
        },
        &space,
    )
    // Random search: TPE would crowd every trial near the best lr, leaving little
    // difference between top and all trials to measure.
    .algo(hyperflow::algo::Random)
    .max_evals(TRACKED_TRIALS)
    .seed(7)
    .progress(false)
    .tracking(hyperflow::study::Tracking::new(tracker.clone(), "ui-tracked").name("tracked-sweep"))
    .run()
    .expect("tracked sweep");
    let parent = result.parent_run_id().expect("parent run").to_string();
    let exp = tracker.get_run(&parent).expect("parent").info.experiment_id;
    (exp, parent)
}

/// A large sweep for the paging and rendering checks: one parent, `n` trials, written
/// straight into the database (one transaction per trial).
fn seed_big(store: &SqliteStore, n: usize) -> (ExperimentId, String) {
    let exp = store
        .create_experiment("ui-big", None, &[])
        .expect("experiment");
    let t0 = 1_710_000_000_000_i64;
    let parent = store
        .record_run(
            &exp,
            &RunRecord {
                start: RunStart {
                    run_name: Some("big-sweep".into()),
                    start_time: Some(t0),
                    ..RunStart::default()
                },
                ..RunRecord::default()
            },
        )
        .expect("parent");
    let pid = parent.id().to_string();
    for i in 0..n {
        let ts = t0 + 1 + i as i64;
        store
            .record_run(
                &exp,
                &RunRecord {
                    start: RunStart {
                        run_name: Some(format!("t{i}")),
                        start_time: Some(ts),
                        tags: vec![Tag::new(tags::PARENT_RUN_ID, &pid)],
                        ..RunStart::default()
                    },
                    metrics: vec![Metric {
                        key: "loss".into(),
                        value: ((i * 7919) % 1000) as f64 / 1000.0,
                        timestamp: ts,
                        step: 0,
                    }],
                    params: vec![
                        Param::new("x", format!("{:.4}", (i % 97) as f64 / 97.0)),
                        Param::new("k", (i % 7).to_string()),
                    ],
                    end_time: Some(ts + 5),
                    ..RunRecord::default()
                },
            )
            .expect("trial");
    }
    (exp, pid)
}

// ---------------------------------------------------------------------------------------
// HTTP checks of the UI's responses (no browser needed)

fn agent() -> ureq::Agent {
    ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build(),
    )
}

/// The status and JSON body of a GET of `url`.
fn get_json(a: &ureq::Agent, url: String) -> (u16, Value) {
    let mut resp = a.get(url).call().expect("GET");
    let status = resp.status().as_u16();
    (
        status,
        serde_json::from_str(&resp.body_mut().read_to_string().unwrap()).unwrap(),
    )
}

fn header(resp: &ureq::http::Response<ureq::Body>, name: &str) -> String {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

#[test]
fn ui_is_served_with_types_caching_and_csp() {
    let s = seed();
    let a = agent();
    let mut page = a.get(&s.server.url()).call().unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(header(&page, "content-type"), "text/html; charset=utf-8");
    assert_eq!(header(&page, "cache-control"), "no-cache");
    assert!(header(&page, "content-security-policy").contains("script-src 'self'"));
    let html = page.body_mut().read_to_string().unwrap();
    let version = hyperflow::server::ui::asset_version();
    assert!(html.contains(&format!("ui/{version}/app.js")));

    let mut js = a
        .get(format!("{}/ui/{version}/runs.js", s.server.url()))
        .call()
        .unwrap();
    assert_eq!(js.status(), 200);
    assert_eq!(
        header(&js, "content-type"),
        "text/javascript; charset=utf-8"
    );
    assert!(header(&js, "cache-control").contains("immutable"));
    let etag = header(&js, "etag");
    assert!(js.body_mut().read_to_string().unwrap().contains("export"));
    let again = a
        .get(format!("{}/ui/{version}/runs.js", s.server.url()))
        .header("If-None-Match", &etag)
        .call()
        .unwrap();
    assert_eq!(again.status(), 304);

    let css = a
        .get(format!("{}/ui/{version}/style.css", s.server.url()))
        .call()
        .unwrap();
    assert_eq!(header(&css, "content-type"), "text/css; charset=utf-8");
    // An old version still works (a page loaded before an upgrade) but is not cached.
    let old = a
        .get(format!("{}/ui/0000/app.js", s.server.url()))
        .call()
        .unwrap();
    assert_eq!(old.status(), 200);
    assert_eq!(header(&old, "cache-control"), "no-cache");
    let missing = a
        .get(format!("{}/ui/{version}/nope.js", s.server.url()))
        .call()
        .unwrap();
    assert_eq!(missing.status(), 404);
}

/// With a token, the UI asks the browser for basic auth (any user name, the token as
/// password); the browser then sends it with every request of the page.
#[test]
fn ui_behind_auth_asks_for_basic_auth() {
    use base64::Engine as _;
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("a.db")).unwrap();
    let server = spawn_state(
        AppState::new(Arc::new(store)).with_auth_token("s3cret"),
        Some(1),
    )
    .unwrap();
    let a = agent();
    let denied = a.get(&server.url()).call().unwrap();
    assert_eq!(denied.status(), 401);
    assert!(header(&denied, "www-authenticate").starts_with("Basic"));
    let basic = base64::engine::general_purpose::STANDARD.encode("me:s3cret");
    let page = a
        .get(&server.url())
        .header("Authorization", &format!("Basic {basic}"))
        .call()
        .unwrap();
    assert_eq!(page.status(), 200);
    let api = a
        .get(format!(
            "{}/ajax-api/2.0/mlflow/experiments/get?experiment_id=0",
            server.url()
        ))
        .header("Authorization", &format!("Basic {basic}"))
        .call()
        .unwrap();
    assert_eq!(api.status(), 200);
}

// ---------------------------------------------------------------------------------------
// A minimal WebDriver client

const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

struct Driver {
    process: Child,
    base: String,
    session: String,
    agent: ureq::Agent,
    shots: PathBuf,
    /// The browser profile, removed after the browser is gone (fields drop after `drop`).
    _profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.raw("DELETE", &format!("/session/{}", self.session), None);
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn find_chromedriver() -> Option<PathBuf> {
    let candidates = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"];
    if let Some(p) = candidates.iter().map(Path::new).find(|p| p.exists()) {
        return Some(p.to_path_buf());
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("chromedriver"))
            .find(|p| p.exists())
    })
}

impl Driver {
    fn raw(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let url = format!("{}{}", self.base, path);
        let resp = match method {
            "GET" => self.agent.get(&url).call(),
            "DELETE" => self.agent.delete(&url).call(),
            _ => self
                .agent
                .post(&url)
                .header("Content-Type", "application/json")
                .send(body.unwrap_or(json!({})).to_string()),
        };
        let mut resp = resp.map_err(|e| format!("{method} {path}: {e}"))?;
        let status = resp.status().as_u16();
        let text = resp
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_string()
            .map_err(|e| e.to_string())?;
        let v: Value = serde_json::from_str(&text).map_err(|e| format!("{e}: {text}"))?;
        if status >= 400 {
            return Err(format!("{method} {path}: {status} {}", v["value"]));
        }
        Ok(v["value"].clone())
    }

    fn start(shots: PathBuf) -> Driver {
        let exe = find_chromedriver().expect("chromedriver");
        let port = free_port();
        let process = Command::new(exe)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let profile = tempfile::tempdir().expect("profile dir");
        let profile_arg = format!("--user-data-dir={}", profile.path().display());
        let mut d = Driver {
            process,
            base: format!("http://127.0.0.1:{port}"),
            session: String::new(),
            agent: agent(),
            shots,
            _profile: profile,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while d
            .raw("GET", "/status", None)
            .map(|v| v["ready"] == json!(true))
            != Ok(true)
        {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:loggingPrefs": {"browser": "ALL"},
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--window-size=1400,1000",
                    "--disable-dev-shm-usage",
                    profile_arg,
                ]
            }
        }}});
        let v = d.raw("POST", "/session", Some(caps)).expect("new session");
        d.session = v["sessionId"].as_str().expect("session id").to_string();
        d
    }

    fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.raw(method, &format!("/session/{}{path}", self.session), body)
            .unwrap_or_else(|e| panic!("webdriver: {e}"))
    }

    fn goto(&self, url: &str) {
        self.cmd("POST", "/url", Some(json!({ "url": url })));
    }

    fn js(&self, script: &str) -> Value {
        self.cmd(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
    }

    /// Poll `expr` (a JS expression) until it is truthy; on timeout save a screenshot
    /// and fail with the page's text.
    fn wait(&self, what: &str, expr: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(15);
        let script = format!("try {{ return ({expr}); }} catch (e) {{ return null; }}");
        loop {
            let v = self.js(&script);
            let truthy =
                !matches!(v, Value::Null | Value::Bool(false)) && v != json!(0) && v != json!("");
            if truthy {
                return v;
            }
            if Instant::now() > deadline {
                self.screenshot(&format!("FAILED-{}", what.replace(' ', "-")));
                let text = self.js("return document.body.innerText");
                panic!("timed out waiting for {what} ({expr}); page text:\n{text}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn find(&self, css: &str) -> String {
        let v = self.cmd(
            "POST",
            "/element",
            Some(json!({"using": "css selector", "value": css})),
        );
        v[ELEMENT_KEY].as_str().expect("element id").to_string()
    }

    fn click(&self, css: &str) {
        let el = self.find(css);
        self.cmd("POST", &format!("/element/{el}/click"), None);
    }

    fn type_into(&self, css: &str, text: &str) {
        let el = self.find(css);
        self.cmd("POST", &format!("/element/{el}/clear"), None);
        self.cmd(
            "POST",
            &format!("/element/{el}/value"),
            Some(json!({ "text": text })),
        );
    }

    /// Open a report page and wait until it shows the report of group `name`.
    fn open_report(&self, url: &str, name: &str) {
        self.goto(url);
        self.wait(
            &format!("report of {name}"),
            &format!(
                "document.querySelector('#report h2')?.innerText === {}",
                json!(format!("Report: {name}"))
            ),
        );
    }

    fn screenshot(&self, name: &str) {
        use base64::Engine as _;
        let Ok(v) = self.raw(
            "GET",
            &format!("/session/{}/screenshot", self.session),
            None,
        ) else {
            return;
        };
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap_or(""))
            .expect("screenshot base64");
        std::fs::create_dir_all(&self.shots).expect("screenshot dir");
        std::fs::write(self.shots.join(format!("{name}.png")), png).expect("write screenshot");
    }

    /// JavaScript errors so far: the page's own record (boot.js) and the browser's
    /// console log at level SEVERE, minus failed requests the page handles itself (the
    /// 400 of an invalid filter is expected and shown to the user).
    fn js_errors(&self) -> Vec<String> {
        let mut errors: Vec<String> = self
            .js("return window.__hfErrors || []")
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|v| v.to_string())
            .collect();
        if let Ok(log) = self.raw(
            "POST",
            &format!("/session/{}/se/log", self.session),
            Some(json!({"type": "browser"})),
        ) {
            for e in log.as_array().cloned().unwrap_or_default() {
                let msg = e["message"].as_str().unwrap_or("").to_string();
                if e["level"] == json!("SEVERE") && !msg.contains("status of 400") {
                    errors.push(msg);
                }
            }
        }
        errors
    }

    fn assert_no_js_errors(&self, page: &str) {
        let errors = self.js_errors();
        assert!(
            errors.is_empty(),
            "JavaScript errors on {page}: {errors:#?}"
        );
    }

    /// As [`Self::assert_no_js_errors`], but a 404 answer (shown to the user) is expected.
    fn assert_no_js_errors_except_404(&self, page: &str) {
        let mut errors = self.js_errors();
        errors.retain(|e| !e.contains("status of 404"));
        assert!(
            errors.is_empty(),
            "JavaScript errors on {page}: {errors:#?}"
        );
    }

    /// Number of table rows that are not hidden.
    fn visible_rows(&self, css: &str) -> u64 {
        self.js(&format!(
            "return [...document.querySelectorAll({})].filter(r => !r.hidden).length",
            json!(css)
        ))
        .as_u64()
        .unwrap_or(0)
    }
}

/// JS returning column `i` of the report's Parameters table, one string per row.
fn param_cells(i: usize) -> String {
    format!(
        "return [...document.querySelectorAll(\"table[data-section='Parameters'] tbody tr\")].map(r => r.cells[{i}].innerText.trim())"
    )
}

fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("ui-screenshots")
}

fn browser_missing() -> Option<String> {
    if !Path::new(CHROMIUM).exists() {
        return Some(format!("{CHROMIUM} is absent"));
    }
    if find_chromedriver().is_none() {
        return Some("chromedriver is absent".into());
    }
    None
}

/// Whether `test` can run here: without Chromium it prints why and is skipped, unless
/// HYPERFLOW_REQUIRE_EXTERNAL is set (CI installs the browser first; there a skip would
/// hide a broken install step).
fn browser_available(test: &str) -> bool {
    let Some(why) = browser_missing() else {
        return true;
    };
    assert!(
        std::env::var_os("HYPERFLOW_REQUIRE_EXTERNAL").is_none(),
        "{test}: {why}, and HYPERFLOW_REQUIRE_EXTERNAL is set"
    );
    println!(
        "SKIPPED {test}: {why}; install with scripts/setup-browser.sh \
         (apt-get install chromium chromium-driver)"
    );
    false
}

#[test]
fn ui_in_headless_chromium() {
    if !browser_available("ui_in_headless_chromium") {
        return;
    }
    let s = seed();
    let base = s.server.url();
    let (big, big_parent) = seed_big(&s.sqlite, 2500);
    let d = Driver::start(screenshot_dir());

    // Experiments list: the experiment, with its run count (20 trials, parent, xss run).
    d.goto(&format!("{base}/"));
    d.wait(
        "experiments list",
        "document.querySelector('#experiments')?.innerText.includes('ui-demo')",
    );
    d.wait(
        "run count",
        "[...document.querySelectorAll('#experiments td')].some(td => td.innerText.trim() === '22')",
    );
    // The big experiment's real count (its 2,500 trials and their parent), no cap.
    d.wait(
        "big run count",
        "[...document.querySelectorAll('#experiments td')].some(td => td.innerText.trim() === '2501')",
    );
    d.screenshot("01-experiments");
    d.assert_no_js_errors("the experiments list");

    // Runs table: top level only until the parent is expanded.
    let link = d.cmd(
        "POST",
        "/element",
        Some(json!({"using": "link text", "value": "ui-demo"})),
    );
    let link = link[ELEMENT_KEY]
        .as_str()
        .unwrap_or_else(|| panic!("{link}"))
        .to_string();
    d.cmd("POST", &format!("/element/{link}/click"), None);
    d.wait(
        "runs table",
        "document.querySelectorAll('#runs tr.run-row').length > 0",
    );
    assert_eq!(d.visible_rows("#runs tr.run-row"), 2, "parent and xss run");
    assert_eq!(d.visible_rows("#runs tr.run-row[data-depth='1']"), 0);
    // The run name with markup is text: no <img src=x> element, no alert.
    let text = d.js("return document.querySelector('#runs').innerText");
    assert!(
        text.as_str().unwrap().contains(XSS_NAME),
        "xss name shown as text: {text}"
    );
    assert_eq!(
        d.js("return document.querySelectorAll('img[src=\"x\"], #runs img').length"),
        json!(0)
    );
    d.screenshot("02-runs");
    d.click(&format!(
        "#runs tr[data-run-id='{}'] button.toggle",
        s.parent
    ));
    d.wait(
        "children visible",
        &format!(
            "[...document.querySelectorAll(\"#runs tr[data-depth='1']\")].filter(r => !r.hidden).length === {TRIALS}"
        ),
    );
    assert_eq!(
        d.js(&format!(
            "return document.querySelector(\"#runs tr[data-run-id='{}'] button.toggle\").getAttribute('aria-expanded')",
            s.parent
        )),
        json!("true")
    );
    d.screenshot("03-runs-expanded");
    // Select two trials and compare them.
    for id in &s.trials[..2] {
        d.click(&format!("#runs tr[data-run-id='{id}'] input.select"));
    }
    d.wait(
        "compare button",
        "document.querySelector('#compare').textContent === 'Compare 2 runs'",
    );
    d.click("#compare");
    d.wait(
        "compare selection",
        "document.querySelectorAll('#parallel path.pc-line').length === 2",
    );
    d.cmd("POST", "/back", None);
    // Back on the runs table: groups start collapsed.
    d.wait(
        "runs table again",
        "document.querySelectorAll(\"#runs tr[data-depth='1']\").length === 20",
    );
    assert_eq!(d.visible_rows("#runs tr.run-row[data-depth='1']"), 0);

    // Column picker: hide a metric column, then show it again.
    let has_accuracy = "[...document.querySelectorAll('#runs thead th')].some(th => th.innerText.trim().startsWith('accuracy'))";
    assert_eq!(d.js(&format!("return {has_accuracy}")), json!(true));
    d.click("details.picker summary");
    d.click("details.picker input[data-col='metrics:accuracy']");
    d.wait("column hidden", &format!("!{has_accuracy}"));
    d.click("details.picker input[data-col='metrics:accuracy']");
    d.wait("column shown", has_accuracy);
    d.click("details.picker summary");

    // Server-side sorting by attributes: run name and status.
    for (col, key) in [
        ("name", "attributes.run_name"),
        ("status", "attributes.status"),
    ] {
        d.click(&format!("#runs thead th[data-col='{col}'] button.sort"));
        d.wait(
            "sorted by an attribute",
            &format!(
                "new URLSearchParams(location.hash.split('?')[1] || '').get('order') === '{key} ASC'"
            ),
        );
        // The re-rendered table marks the sorted column.
        d.wait(
            "sorted table",
            &format!(
                "document.querySelector(\"#runs thead th[data-col='{col}'][aria-sort=ascending]\")"
            ),
        );
        assert_eq!(d.visible_rows("#runs tr.run-row"), 2);
        assert_eq!(
            d.js("return document.querySelectorAll('#filter-error .error').length"),
            json!(0)
        );
    }

    // Pagination with page tokens: 22 runs, 5 per page.
    d.goto(&format!("{base}/#/experiments/{}?size=5", s.exp));
    d.wait(
        "first page",
        "document.querySelector('#run-count')?.innerText.startsWith('5 runs on this page')",
    );
    d.click("#next-page");
    d.wait(
        "second page",
        "document.querySelector('#page-number')?.innerText === 'page 2'",
    );
    d.click("#prev-page");
    d.wait(
        "first page again",
        "document.querySelector('#page-number')?.innerText === 'page 1'",
    );
    d.goto(&format!("{base}/#/experiments/{}", s.exp));
    d.wait(
        "runs table",
        "document.querySelectorAll('#runs tr.run-row').length === 22",
    );

    // Filter: fewer rows; trials 0..=8 have loss < 0.5; the parent stays as context.
    d.type_into("#filter", "metrics.loss < 0.5\u{E007}");
    d.wait(
        "filtered table",
        "document.querySelector('#run-count')?.innerText.includes('match')",
    );
    let matched = d.visible_rows("#runs tr.run-row:not(.context)");
    assert_eq!(matched, 9, "runs with loss < 0.5");
    assert_eq!(
        d.visible_rows("#runs tr.run-row.context"),
        1,
        "parent as context"
    );
    assert!(
        d.js("return location.hash")
            .as_str()
            .unwrap()
            .contains("filter=")
    );
    d.screenshot("04-runs-filtered");
    // The filter is in the URL: a reload shows the same rows.
    d.cmd("POST", "/refresh", None);
    d.wait(
        "filtered table after reload",
        "document.querySelector('#run-count')?.innerText.includes('match')",
    );
    assert_eq!(d.visible_rows("#runs tr.run-row:not(.context)"), 9);
    // Sorting by a metric column (server-side order_by) puts the lowest loss first.
    d.click("#runs thead th[data-col='metrics:loss'] button.sort");
    d.wait(
        "sorted by a metric",
        "decodeURIComponent(location.hash).includes('order=metrics.')",
    );
    d.wait(
        "sorted rows",
        "document.querySelector(\"#runs thead th[data-col='metrics:loss'][aria-sort=ascending]\")",
    );
    assert_eq!(d.visible_rows("#runs tr.run-row:not(.context)"), 9);
    // Lowest loss first among the trials.
    let first =
        d.js("return document.querySelector(\"#runs tr[data-depth='1'] td.name a\").textContent");
    assert_eq!(first, json!("trial-0"));

    // An invalid filter shows the server's error message inline.
    d.type_into("#filter", "metrics.loss < 'abc'\u{E007}");
    let err = d.wait(
        "filter error",
        "document.querySelector('#filter-error .error')?.innerText",
    );
    let err = err.as_str().unwrap();
    assert!(err.contains("INVALID_PARAMETER_VALUE"), "{err}");
    assert!(err.to_lowercase().contains("numeric"), "{err}");
    d.screenshot("05-filter-error");
    d.assert_no_js_errors("the runs table");

    // Run page (deep link): metric chart with the history path, description, params.
    d.goto(&format!("{base}/#/runs/{}", s.trials[0]));
    let d_attr = d.wait(
        "metric chart",
        "document.querySelector(\"#metric-charts figure[data-metric='loss'] svg path.series\")?.getAttribute('d')",
    );
    let segments = d_attr.as_str().unwrap().matches('L').count();
    assert_eq!(segments, 10, "11 history points by step: {d_attr}");
    assert!(
        d.js("return document.querySelector('#params').innerText")
            .as_str()
            .unwrap()
            .contains("optimizer")
    );
    d.wait(
        "artifacts",
        "document.querySelector(\"#artifacts button.file[data-path='notes.txt']\")",
    );
    d.screenshot("06-run");
    d.click("#artifacts button.file[data-path='notes.txt']");
    d.wait(
        "text preview",
        "document.querySelector('#artifact-preview pre')?.innerText.includes('hello from trial 0')",
    );
    d.js("document.querySelector('#artifacts').scrollIntoView()");
    d.screenshot("07-artifact-text");
    d.click("#artifacts button.file[data-path='config.json']");
    d.wait(
        "json preview (pretty)",
        "document.querySelector('#artifact-preview pre.json')?.innerText.includes('\"layers\": [')",
    );
    d.click("#artifacts button[aria-expanded]");
    d.wait(
        "sub-directory",
        "document.querySelector(\"#artifacts button.file[data-path='plots/loss.svg']\")",
    );
    d.click("#artifacts button.file[data-path='plots/loss.svg']");
    d.wait(
        "svg preview",
        "(i => i && i.complete && i.naturalWidth > 0)(document.querySelector('#artifact-preview img'))",
    );
    d.js("document.querySelector('#artifacts').scrollIntoView()");
    d.screenshot("08-artifact-svg");
    d.assert_no_js_errors("the run page");

    // The parent's description.
    d.goto(&format!("{base}/#/runs/{}", s.parent));
    d.wait(
        "description",
        "document.querySelector('#description')?.innerText.includes('Second line')",
    );

    // Compare: parallel coordinates and scatter over 6 trials.
    let ids = s.trials[..6].join(",");
    d.goto(&format!("{base}/#/compare?runs={ids}&exp={}", s.exp));
    d.wait(
        "parallel coordinates",
        "document.querySelectorAll('#parallel path.pc-line').length === 6",
    );
    d.wait(
        "scatter",
        "document.querySelectorAll('#scatter circle').length === 6",
    );
    d.screenshot("09-compare");
    d.assert_no_js_errors("the compare page");

    // Report of the hand-made sweep (no space.json: kinds are inferred), 19 complete
    // trials: ranges, but too few top trials to estimate importance.
    d.open_report(
        &format!("{base}/#/report/{}?parent={}", s.exp, s.parent),
        "sweep-parent",
    );
    assert_eq!(
        d.js(&param_cells(0)),
        json!(["depth", "lr", "optimizer"]),
        "one row per param, by name (there is no declared space)"
    );
    assert_eq!(
        d.js(&param_cells(7)),
        json!(["-", "-", "-"]),
        "no importance"
    );
    d.assert_no_js_errors("the report of the hand-made sweep");

    // Report of the tracked sweep: the real report with importance, recommendations and
    // plots, as `hyperflow report` makes it.
    let (tracked_exp, tracked_parent) = &s.tracked;
    d.open_report(
        &format!("{base}/#/report/{tracked_exp}?parent={tracked_parent}"),
        "tracked-sweep",
    );
    assert_eq!(
        d.js(&param_cells(0)),
        json!(["lr", "depth", "optimizer"]),
        "params in the space's order"
    );
    assert_eq!(
        d.js(&param_cells(1)),
        json!(["loguniform", "randint", "choice"]),
        "kinds from the logged space.json"
    );
    let importance = d.js(&param_cells(7));
    let lr_importance = importance[0].as_str().unwrap_or("");
    assert!(
        lr_importance.ends_with("(#1)") && lr_importance.contains('%'),
        "lr matters most: {importance}"
    );
    let main_text = d.js("return document.querySelector('main').innerText");
    let main_text = main_text.as_str().unwrap_or("");
    let counts = format!("trials: {TRACKED_TRIALS} (complete {TRACKED_TRIALS}");
    for part in ["recommended", "Best 10 trial(s)", &counts] {
        assert!(main_text.contains(part), "{part} in {main_text}");
    }
    // The best trial links to its run.
    let best_link = d.js(
        "return document.querySelector(\"table[data-section='Best 10 trial(s)'] a\")?.getAttribute('href')",
    );
    assert!(
        best_link.as_str().is_some_and(|h| h.starts_with("#/runs/")),
        "{best_link}"
    );
    d.wait(
        "report plots drawn",
        "(() => { const imgs = [...document.querySelectorAll('#report-plots img')]; \
         return imgs.length >= 4 && imgs.every(i => i.complete && i.naturalWidth > 0); })()",
    );
    d.screenshot("10-report");
    d.js("document.querySelector('#report-plots').scrollIntoView()");
    d.screenshot("10-report-plots");
    d.assert_no_js_errors("the report");

    // Another loss metric from the toolbar: the runs do not have it, so every trial counts
    // as failed, and the report says why.
    d.type_into("#report-metric", "no_such_metric");
    d.click("form.toolbar button[type=submit]");
    d.wait(
        "report over a missing metric",
        &format!(
            "document.querySelector(\"table[data-section='Failures ({TRACKED_TRIALS})']\")?.innerText.includes('complete without a loss')"
        ),
    );
    d.assert_no_js_errors("the report over a missing metric");

    // The experiment's report, narrowed by a filter; an invalid filter is the server's
    // 400, shown on the page.
    d.open_report(&format!("{base}/#/report/{tracked_exp}"), "ui-tracked");
    d.type_into("#report-filter", "params.optimizer = 'adam'");
    d.click("form.toolbar button[type=submit]");
    d.wait(
        "filtered report",
        &format!(
            "(() => {{ const t = document.querySelector('#report p')?.innerText || ''; \
             return t.startsWith('trials: ') && !t.startsWith('trials: {TRACKED_TRIALS} '); }})()"
        ),
    );
    d.type_into("#report-filter", "params.optimizer >>> 'adam'");
    d.click("form.toolbar button[type=submit]");
    let err = d.wait(
        "report error",
        "document.querySelector('main .error')?.innerText",
    );
    assert!(
        err.as_str()
            .unwrap_or("")
            .contains("INVALID_PARAMETER_VALUE"),
        "{err}"
    );
    d.assert_no_js_errors("the report with an invalid filter");

    // A large sweep: 1000 rows per page render and expand quickly (times printed, not
    // asserted), and the last page holds the rest.
    let started = Instant::now();
    d.goto(&format!("{base}/#/experiments/{big}?size=1000"));
    d.wait(
        "1000 rows",
        "document.querySelector('#run-count')?.innerText.startsWith('1000 runs on this page')",
    );
    let loaded = started.elapsed();
    assert_eq!(
        d.visible_rows("#runs tr.run-row"),
        1,
        "only the parent (context)"
    );
    // Expand in the page and force layout, to time what the user waits for.
    let expand_ms = d.js(&format!(
        "const t = performance.now(); \
         document.querySelector(\"#runs tr[data-run-id='{big_parent}'] button.toggle\").click(); \
         document.body.offsetHeight; return performance.now() - t"
    ));
    d.wait(
        "1000 children",
        "[...document.querySelectorAll(\"#runs tr[data-depth='1']\")].filter(r => !r.hidden).length === 1000",
    );
    println!("big experiment: 1000-row page shown in {loaded:?}, expanded in {expand_ms} ms");
    // The parent shows its children in all, not those on this page, and the page the runs
    // that match in all; the parent links to its children alone, paged by the server.
    d.wait(
        "the sweep's size",
        &format!(
            "document.querySelector(\"[data-kids-of='{big_parent}']\")?.innerText === '1000 of 2500' \
             && document.querySelector('#run-count').innerText.endsWith(', 2501 in all')"
        ),
    );
    d.screenshot("11-big-experiment");
    d.js("document.querySelector('a.all-children').click()");
    d.wait(
        "the sweep's children alone",
        "document.querySelector('#run-count')?.innerText === '100 runs on this page match the filter (plus 1 parent for context), 2500 in all'",
    );
    assert_eq!(d.visible_rows("#runs tr[data-depth='1']"), 100);
    d.assert_no_js_errors("the sweep's children");
    d.goto(&format!("{base}/#/experiments/{big}?size=1000"));
    d.wait(
        "1000 rows again",
        "document.querySelector('#run-count')?.innerText.startsWith('1000 runs on this page')",
    );
    d.click("#next-page");
    d.wait(
        "page 2",
        "document.querySelector('#page-number')?.innerText === 'page 2'",
    );
    d.click("#next-page");
    d.wait(
        "last page",
        "document.querySelector('#page-number')?.innerText === 'page 3' && document.querySelector('#run-count').innerText.startsWith('501 runs')",
    );
    assert_eq!(
        d.js("return document.querySelector('#next-page').disabled"),
        json!(true)
    );
    d.assert_no_js_errors("the big experiment");

    // Errors from the API are shown on the page, not thrown: a missing run, a bad route.
    // A missing run, a missing experiment, an unknown route: a sentence saying what was
    // not found and a link back, never raw JSON or a blank page.
    for (hash, sentence) in [
        (
            "#/runs/0123456789abcdef0123456789abcdef",
            "Run 0123456789abcdef0123456789abcdef was not found.",
        ),
        ("#/experiments/98765", "Experiment 98765 was not found."),
        ("#/no/such/page", "There is no page at /no/such/page."),
    ] {
        d.goto(&format!("{base}/{hash}"));
        // The page before (another error page) stays until this one is drawn: wait for
        // this one's sentence.
        let text = d.wait(
            &format!("error page of {hash}"),
            &format!(
                "document.querySelector('main h1')?.innerText === 'Not found' && document.querySelector('main .sentence')?.innerText.startsWith({}) && document.querySelector('main .sentence').innerText",
                json!(sentence)
            ),
        );
        assert!(text.as_str().unwrap().starts_with(sentence), "{text}");
        assert_eq!(
            d.js("return document.querySelector('main a[href=\"#/\"]')?.innerText"),
            json!("← Back to the experiments")
        );
        assert!(
            !d.js("return document.querySelector('main').innerText")
                .as_str()
                .unwrap()
                .contains('{')
        );
    }
    d.screenshot("12-not-found");
    d.assert_no_js_errors_except_404("error pages");

    // The xss run's page: name and param as text, no alert opened.
    d.goto(&format!("{base}/#/experiments/{}", s.exp));
    let xss_link = d.wait(
        "xss run link",
        &format!(
            "[...document.querySelectorAll('#runs a')].find(a => a.textContent === {}).getAttribute('href')",
            json!(XSS_NAME)
        ),
    );
    d.goto(&format!("{base}/{}", xss_link.as_str().unwrap()));
    d.wait(
        "xss run page",
        "document.querySelector('#params')?.innerText.includes('<script>alert(2)</script>')",
    );
    assert_eq!(
        d.js("return document.querySelector('h1').textContent"),
        json!(XSS_NAME)
    );
    assert!(
        d.raw("GET", &format!("/session/{}/alert/text", d.session), None)
            .is_err(),
        "no alert may open"
    );
    d.assert_no_js_errors("the xss run page");
}

// ---------------------------------------------------------------------------------------
// The pages for tuning: a conditional search as a sweep logs it, learning curves, models

/// Trials of the conditional search.
const TUNING_TRIALS: usize = 24;

/// A search as a sweep logs it, with sweep settings (`command`, `env.*`) as params of the
/// parent: `fmin` over `model` ∈ {gbt (lr and l2 log-uniform, depth), knn (k)}, so `lr`,
/// `depth`, `l2` and `k` are each inactive in some trials; then a `val_loss` history of 8 steps per
/// trial, as a script logging per epoch writes it. Returns the experiment, the parent and
/// the trial runs by number.
fn seed_tuning(url: &str) -> (ExperimentId, String, Vec<String>) {
    use hyperflow::space::ChoiceOption;
    let tracker = Tracker::open(url).expect("tracker over REST");
    let space = hyperflow::Space::builder()
        .choice(
            "model",
            [
                ChoiceOption::new(
                    "gbt",
                    hyperflow::Space::builder()
                        .loguniform("lr", 1e-5, 1.0)
                        .randint("depth", 2, 9)
                        // One decade: a log axis with a tick at each multiple, whose
                        // labels overlap unless thinned.
                        .loguniform("l2", 0.1, 1.0),
                ),
                ChoiceOption::new("knn", hyperflow::Space::builder().randint("k", 1, 40)),
            ],
        )
        .build()
        .expect("space");
    let result = hyperflow::fmin(
        |p: &hyperflow::Point| -> Result<f64, String> {
            Ok(match p.get::<f64>("lr") {
                Ok(lr) => (lr.log10() + 2.0).powi(2) + 0.5,
                Err(_) => 3.0 + p.get::<i64>("k").map_err(|e| e.to_string())? as f64 / 40.0,
            })
        },
        &space,
    )
    .algo(hyperflow::algo::Random)
    .max_evals(TUNING_TRIALS)
    .seed(11)
    .progress(false)
    .tracking(
        hyperflow::study::Tracking::new(tracker.clone(), "ui-tuning")
            .name("tuning-sweep")
            .param("command", "python3 train.py --model {model}")
            .param("env.PYTHONHASHSEED", "0"),
    )
    .run()
    .expect("conditional search");
    let parent = result.parent_run_id().expect("parent run").to_string();
    let (exp, children) = trial_runs(&tracker, &parent);
    let mut trials = vec![String::new(); TUNING_TRIALS];
    for run in &children {
        let number = schema::trial_number(run).expect("trial number");
        let loss = run.data.metric("loss").expect("loss");
        let history: Vec<Metric> = (0..8)
            .map(|step| Metric {
                key: "val_loss".into(),
                value: loss + (8 - step) as f64 * 0.4,
                timestamp: 1_700_000_000_000 + step,
                step,
            })
            .collect();
        tracker
            .store()
            .log_batch(run.id(), &history, &[], &[])
            .expect("history");
        trials[number] = run.id().to_string();
    }
    (exp, parent, trials)
}

/// The experiment of a search's parent run, and the runs of its trials.
fn trial_runs(tracker: &Tracker, parent: &str) -> (ExperimentId, Vec<Run>) {
    let exp = tracker.get_run(parent).expect("parent").info.experiment_id;
    let children = tracker
        .search_all_runs(
            &SearchRuns::new()
                .experiment(&exp)
                .filter(schema::children_of(parent).to_string()),
        )
        .expect("trials");
    (exp, children)
}

/// A search with a median pruner whose trials report `loss` for 8 epochs (the farther `x`
/// from 0.3, the worse at every epoch). Returns the experiment, a complete trial's run, a
/// pruned trial's run and the step at which it was stopped.
fn seed_pruned(url: &str) -> (ExperimentId, String, String, i64) {
    let tracker = Tracker::open(url).expect("tracker over REST");
    let space = hyperflow::Space::builder()
        .uniform("x", 0.0, 1.0)
        .build()
        .expect("space");
    let result = hyperflow::fmin_with_context(
        |p: &hyperflow::Point, ctx: &hyperflow::TrialContext| {
            let x: f64 = p.get("x").map_err(|e| e.to_string())?;
            let mut loss = 0.0;
            for epoch in 0..8 {
                loss = (x - 0.3).powi(2) + 1.0 / (epoch + 1) as f64;
                if ctx.report(epoch, loss).map_err(|e| e.to_string())? {
                    return Ok::<_, String>(hyperflow::Outcome::pruned("median"));
                }
            }
            Ok(hyperflow::Outcome::loss(loss))
        },
        &space,
    )
    .algo(hyperflow::algo::Random)
    .pruner(hyperflow::prune::Median::new().startup_trials(2))
    .max_evals(12)
    .parallelism(1)
    .seed(3)
    .progress(false)
    .tracking(hyperflow::study::Tracking::new(
        tracker.clone(),
        "ui-pruning",
    ))
    .run()
    .expect("pruned search");
    let run_of = |state: hyperflow::TrialState| {
        let trial = result
            .trials()
            .iter()
            .find(|t| t.state == state)
            .expect("a trial in that state");
        (trial.number, trial.last_step)
    };
    let (complete, _) = run_of(hyperflow::TrialState::Complete);
    let (pruned, step) = run_of(hyperflow::TrialState::Pruned);
    let (exp, children) = trial_runs(&tracker, result.parent_run_id().expect("parent run"));
    let run_id = |number: usize| {
        children
            .iter()
            .find(|r| schema::trial_number(r) == Some(number))
            .expect("the trial's run")
            .id()
            .to_string()
    };
    let step = i64::try_from(step.expect("the pruned trial reported")).expect("small");
    (exp, run_id(complete), run_id(pruned), step)
}

/// A logged model made by `run_id`, registered as `name` version 1 with alias `champion`.
fn seed_model(store: &dyn Store, exp: &ExperimentId, run_id: &str, name: &str) -> String {
    let model = store
        .create_logged_model(
            exp,
            &NewLoggedModel {
                name: Some("best-gbt".into()),
                source_run_id: Some(run_id.to_string()),
                params: vec![Param::new("depth", "4")],
                ..NewLoggedModel::default()
            },
        )
        .expect("logged model");
    let model_id = model.model_id.clone();
    store
        .finalize_logged_model(&model_id, LoggedModelStatus::Ready)
        .expect("finalize");
    store
        .create_registered_model(name, Some("The best model of the tuning sweep."), &[])
        .expect("registered model");
    let version = store
        .create_model_version(
            name,
            &NewModelVersion {
                source: format!("models:/{model_id}"),
                run_id: Some(run_id.to_string()),
                model_id: Some(model_id.clone()),
                ..NewModelVersion::default()
            },
        )
        .expect("version");
    store
        .set_registered_model_alias(name, "champion", version.version)
        .expect("alias");
    model_id
}

/// JS: the pairs of `text.tick` labels of any chart on the page that overlap or come
/// closer than 3 px side by side, as "label/label" (empty when every label is clear).
const CRAMPED_TICKS: &str = "return [...document.querySelectorAll('svg.chart')].flatMap(svg => { \
     const r = [...svg.querySelectorAll('text.tick')].map(t => [t.textContent, t.getBoundingClientRect()]); \
     const out = []; \
     for (let i = 0; i < r.length; i++) for (let j = i + 1; j < r.length; j++) { \
       const [a, b] = [r[i][1], r[j][1]]; \
       if (a.left < b.right + 3 && b.left < a.right + 3 && a.top < b.bottom - 0.5 && b.top < a.bottom - 0.5) out.push(r[i][0] + '/' + r[j][0]); } \
     return out; })";

#[test]
fn searches_endpoint_describes_the_space_and_objective() {
    let (server, _sqlite, _dir) = serve();
    let (exp, parent, trials) = seed_tuning(&server.url());
    let a = agent();
    let get = |query: &str| {
        get_json(
            &a,
            format!("{}/ajax-api/2.0/hyperflow/searches?{query}", server.url()),
        )
    };
    let (status, by_exp) = get(&format!("experiment_id={exp}"));
    assert_eq!(status, 200, "{by_exp}");
    let (_, by_run) = get(&format!("run_id={parent}"));
    assert_eq!(by_exp, by_run, "one search, found either way");
    let search = &by_exp["searches"][0];
    assert_eq!(search["run_id"], json!(parent));
    assert_eq!(search["metric"], json!("loss"));
    assert_eq!(search["direction"], json!("minimize"));
    let names: Vec<&str> = search["params"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["model", "lr", "depth", "l2", "k"],
        "the space, not the sweep's params"
    );
    assert_eq!(search["params"][0]["options"], json!(["gbt", "knn"]));
    assert_eq!(search["params"][1]["log"], json!(true));
    assert_eq!(search["params"][2]["log"], json!(false));
    assert_eq!(
        search["params"][4]["active_when"],
        json!({"param": "model", "option": "knn"})
    );
    assert!(trials.contains(&search["best_run_id"].as_str().unwrap().to_string()));
    assert_eq!(
        by_exp["tags"],
        json!({"parent": "mlflow.parentRunId", "trial": "hyperflow.trial", "state": "hyperflow.state", "pruned": "PRUNED"})
    );
    // A trial is no search; missing runs and experiments are 404; a bare call is a 400.
    assert_eq!(
        get(&format!("run_id={}", trials[0])).1["searches"],
        json!([])
    );
    assert_eq!(get("run_id=0123456789abcdef0123456789abcdef").0, 404);
    assert_eq!(get("experiment_id=98765").0, 404);
    let (status, body) = get("");
    assert_eq!(status, 400);
    assert!(
        body["message"].as_str().unwrap().contains("run_id"),
        "{body}"
    );
}

#[test]
fn count_endpoint_counts_an_experiments_runs_and_a_parents_children() {
    let (server, sqlite, _dir) = serve();
    let (exp, parent) = seed_big(&sqlite, 1234);
    let a = agent();
    let get = |query: &str| {
        get_json(
            &a,
            format!("{}/ajax-api/2.0/hyperflow/runs/count?{query}", server.url()),
        )
    };
    assert_eq!(
        get(&format!("experiment_id={exp}")),
        (200, json!({"count": 1235}))
    );
    assert_eq!(
        get(&format!("parent_run_id={parent}")),
        (200, json!({"count": 1234}))
    );
    // k = i % 7 is 0 for 177 of the 1,234 trials; the filter narrows either count.
    assert_eq!(
        get(&format!(
            "parent_run_id={parent}&filter=params.k%20%3D%20%270%27"
        ))
        .1,
        json!({"count": 177})
    );
    assert_eq!(
        get(&format!(
            "experiment_id={exp}&filter=params.k%20%3D%20%270%27"
        ))
        .1,
        json!({"count": 177})
    );
    assert_eq!(get("parent_run_id=0123456789abcdef0123456789abcdef").0, 404);
    assert_eq!(get("experiment_id=98765").0, 404);
    let (status, body) = get("");
    assert_eq!(status, 400);
    assert!(
        body["message"].as_str().unwrap().contains("parent_run_id"),
        "{body}"
    );
    let (status, _) = get(&format!(
        "experiment_id={exp}&filter=params.k%20%3E%3E%3E%201"
    ));
    assert_eq!(status, 400, "a bad filter is the client's mistake");
}

#[test]
fn tuning_pages_in_headless_chromium() {
    if !browser_available("tuning_pages_in_headless_chromium") {
        return;
    }
    let (server, sqlite, _dir) = serve();
    let base = server.url();
    let (exp, parent, trials) = seed_tuning(&base);
    let best = Tracker::new(sqlite.clone())
        .get_run(&parent)
        .expect("parent")
        .data
        .tag("best_run_id")
        .expect("best run")
        .to_string();
    let model_id = seed_model(&*sqlite, &exp, &best, "tuned-gbt");
    let d = Driver::start(screenshot_dir());

    // Runs table of the search: trial, state, objective and the space's hyperparameters by
    // default, not the sweep's command and env; the search's trials are shown at once.
    d.goto(&format!("{base}/#/experiments/{exp}"));
    d.wait(
        "tuning runs table",
        &format!("document.querySelectorAll(\"#runs tr[data-depth='1']:not([hidden])\").length === {TUNING_TRIALS}"),
    );
    let header = d.js(
        "return [...document.querySelectorAll('#runs thead th')].map(th => th.innerText.trim())",
    );
    let header: Vec<&str> = header
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(
        header[..8],
        [
            "", "Run", "Trial", "State", "loss ↓", "model", "lr", "depth"
        ],
        "{header:?}"
    );
    assert!(
        header.contains(&"l2") && header.contains(&"k"),
        "{header:?}"
    );
    assert!(
        !header
            .iter()
            .any(|h| h.contains("command") || h.contains("env.") || h.contains("algo")),
        "sweep settings are not default columns: {header:?}"
    );
    // The best trial's objective is marked, and only there.
    assert_eq!(
        d.js("return [...document.querySelectorAll('#runs td.best')].map(td => td.closest('tr').dataset.runId)"),
        json!([best])
    );
    // Inactive hyperparameters of trials are marked as such, never blank or 0; the
    // parent has no hyperparameters at all.
    let inactive = d.js("return document.querySelectorAll('#runs td.inactive').length");
    assert!(
        inactive.as_u64().unwrap() >= TUNING_TRIALS as u64,
        "{inactive}"
    );
    assert_eq!(
        d.js(&format!("return document.querySelectorAll(\"#runs tr[data-run-id='{parent}'] td.inactive\").length")),
        json!(0)
    );
    // Times in words: "… ago" and durations such as "0.3 s".
    let times = d.js("return [...document.querySelectorAll(\"#runs tr[data-depth='1'] td.nowrap\")].slice(0, 2).map(td => td.innerText)");
    assert!(
        times[0].as_str().unwrap().ends_with(" ago") || times[0] == json!("just now"),
        "{times}"
    );
    let took = times[1].as_str().unwrap();
    assert!(took.ends_with(" s") || took.ends_with(" ms"), "{times}");
    d.screenshot("20-tuning-runs");
    // Other params are one click away.
    d.click("details.picker summary");
    d.wait(
        "command in the picker",
        "document.querySelector(\"details.picker input[data-col='params:command']\")",
    );
    d.click("details.picker summary");
    d.assert_no_js_errors("the tuning runs table");

    // Compare: the objective against each hyperparameter; trials where a parameter is
    // inactive are in its "inactive" lane (every trial is drawn in every plot); lr is on a
    // log axis; no tick labels overlap, also in a narrow window.
    let all = trials.join(",");
    d.goto(&format!("{base}/#/compare?runs={all}&exp={exp}"));
    d.wait(
        "objective plots",
        "document.querySelectorAll('#objective-plots figure').length === 5",
    );
    for param in ["lr", "depth", "l2", "k"] {
        let fig = format!("#objective-plots figure[data-param='{param}']");
        assert_eq!(
            d.js(&format!(
                "return document.querySelectorAll(\"{fig} circle.dot\").length"
            )),
            json!(TUNING_TRIALS),
            "{param}: every trial drawn"
        );
        assert!(
            d.js(&format!(
                "return document.querySelectorAll(\"{fig} circle.dot.inactive\").length"
            ))
            .as_u64()
            .unwrap()
                > 0,
            "{param}: inactive trials in their lane"
        );
        assert_eq!(
            d.js(&format!(
                "return document.querySelector(\"{fig} text.inactive-label\")?.textContent"
            )),
            json!("inactive")
        );
    }
    assert!(
        d.js("return document.querySelector(\"#objective-plots figure[data-param='lr']\").textContent")
            .as_str()
            .unwrap()
            .contains("lr (log)")
    );
    // Parallel coordinates: every trial is a line through every axis (inactive values go
    // to the lane below the axis, they do not break the line).
    d.wait(
        "parallel coordinates",
        &format!("document.querySelectorAll('#parallel path.pc-line').length === {TUNING_TRIALS}"),
    );
    let moves = d.js("return [...document.querySelectorAll('#parallel path.pc-line')].map(p => (p.getAttribute('d').match(/M/g) || []).length)");
    assert!(
        moves.as_array().unwrap().iter().all(|m| m == &json!(1)),
        "{moves}"
    );
    assert_eq!(d.js(CRAMPED_TICKS), json!([]));
    d.screenshot("21-tuning-compare");
    d.cmd(
        "POST",
        "/window/rect",
        Some(json!({"width": 480, "height": 1000})),
    );
    d.cmd("POST", "/refresh", None);
    d.wait(
        "objective plots, narrow",
        "document.querySelectorAll('#objective-plots figure').length === 5",
    );
    assert_eq!(d.js(CRAMPED_TICKS), json!([]), "narrow window");
    d.screenshot("22-tuning-compare-narrow");
    d.cmd(
        "POST",
        "/window/rect",
        Some(json!({"width": 1400, "height": 1000})),
    );
    d.assert_no_js_errors("the tuning compare page");

    // Learning curves of two trials: two series, the legend names their trial numbers;
    // the log scale keeps the two series.
    let two = format!("{},{}", trials[3], trials[5]);
    for log in ["", "&log=1"] {
        d.goto(&format!(
            "{base}/#/chart?runs={two}&exp={exp}&metric=val_loss{log}"
        ));
        d.wait(
            "two learning curves",
            "document.querySelectorAll('#curves g.series-group').length === 2",
        );
        assert_eq!(
            d.js("return [...document.querySelectorAll('#curves ul.legend li')].map(li => li.innerText.trim())"),
            json!(["trial 3", "trial 5"])
        );
        let points = d.js("return [...document.querySelectorAll('#curves path.series')].map(p => (p.getAttribute('d').match(/L/g) || []).length + 1)");
        assert_eq!(points, json!([8, 8]), "8 steps each");
        assert_eq!(d.js(CRAMPED_TICKS), json!([]));
    }
    assert_eq!(
        d.js("return document.querySelector('#curve-log').checked"),
        json!(true)
    );
    d.screenshot("23-learning-curves");
    // From the runs table: select two trials, press Chart.
    d.goto(&format!("{base}/#/experiments/{exp}"));
    for id in &trials[..2] {
        d.wait(
            "trial row",
            &format!("document.querySelector(\"#runs tr[data-run-id='{id}'] input.select\")"),
        );
        d.click(&format!("#runs tr[data-run-id='{id}'] input.select"));
    }
    d.click("#chart");
    d.wait(
        "chart from the table",
        "document.querySelectorAll('#curves g.series-group').length === 2",
    );
    d.assert_no_js_errors("the learning curves");

    // A pruned search: the pruned trial's curve is dashed, its end crossed, and the
    // legend says at which step it was stopped.
    let (pruned_exp, complete, pruned, step) = seed_pruned(&base);
    d.goto(&format!(
        "{base}/#/chart?runs={complete},{pruned}&exp={pruned_exp}&metric=loss"
    ));
    d.wait(
        "a complete and a pruned curve",
        "document.querySelectorAll('#curves g.series-group').length === 2",
    );
    let legend = d.js(
        "return [...document.querySelectorAll('#curves ul.legend li')].map(li => li.innerText.trim())",
    );
    let legend: Vec<&str> = legend
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(legend.len(), 2);
    assert!(!legend[0].contains("pruned"), "{legend:?}");
    assert!(
        legend[1].ends_with(&format!("(pruned at step {step})")),
        "{legend:?}"
    );
    assert_eq!(
        d.js("return [document.querySelectorAll('#curves path.series.pruned').length, document.querySelectorAll('#curves path.pruned-mark').length]"),
        json!([1, 1])
    );
    d.screenshot("25-pruned-curves");
    d.assert_no_js_errors("the pruned curves");
    // Compared, a pruned trial is never the best (its value is the one it was stopped
    // on) and its dots are hollow.
    for (runs, has_best) in [
        (pruned.clone(), false),
        (format!("{complete},{pruned}"), true),
    ] {
        d.goto(&format!("{base}/#/compare?runs={runs}&exp={pruned_exp}"));
        d.wait(
            "the objective plots",
            "document.querySelector('#objective-note')",
        );
        let note = d.js("return document.querySelector('#objective-note').innerText");
        let note = note.as_str().unwrap();
        assert_eq!(note.contains("The best run"), has_best, "{note}");
        assert!(note.contains("Pruned trials"), "{note}");
        assert_eq!(
            d.js("return [document.querySelectorAll('#objective-plots circle.dot.pruned').length, document.querySelectorAll('#objective-plots circle.dot.pruned.best').length]"),
            json!([1, 0])
        );
    }
    d.assert_no_js_errors("comparing a pruned trial");

    // Models: the registered model with its alias and version, the logged model, each
    // linked to the run that made it.
    d.goto(&format!("{base}/#/models"));
    d.wait(
        "registered model",
        "document.querySelector(\"article[data-model='tuned-gbt']\")",
    );
    assert_eq!(
        d.js(
            "return document.querySelector(\"article[data-model='tuned-gbt'] h3 .alias\").innerText"
        ),
        json!("@champion → v1")
    );
    assert_eq!(
        d.js("return document.querySelector(\"article[data-model='tuned-gbt'] tr[data-version='1'] a\").getAttribute('href')"),
        json!(format!("#/runs/{best}"))
    );
    assert_eq!(
        d.js(&format!("return document.querySelector(\"#logged-models tr[data-model-id='{model_id}']\").innerText")).as_str().unwrap().split('\t').take(3).collect::<Vec<_>>(),
        ["best-gbt", model_id.as_str(), "READY"]
    );
    d.screenshot("24-models");
    d.assert_no_js_errors("the models page");
}
