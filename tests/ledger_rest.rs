//! The ledger of searches over HTTP: the real `hyperflow server` binary over a temp SQLite
//! database, the REST store's [`Ledger`] against it (trial numbers claimed by racing
//! threads, ends and overruled ends, lost trials released once among racing reapers,
//! heartbeats and stale trials, changes since a change number, clear 4xx answers to bad
//! requests, a server that cannot be reached not taken for one without a ledger), runs
//! recorded through the server never found by their parent tag before their params, three
//! `hyperflow sweep` processes given the server's URL joining one search,
//! and, against the official MLflow server (which serves no ledger), searches that run
//! alone and a hyperflow server over it answering 501.
#![cfg(unix)]

mod common;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use common::server_process::ServerProcess;
use hyperflow::TrialState;
use hyperflow::tracking::ledger::{Ended, Ledger, LedgerStart, TrialEnd};
use hyperflow::tracking::{
    Param, RestAuth, RestStore, RunQuery, RunRecord, RunStart, RunStatus, Store, StoreError, Tag,
};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_hyperflow");

/// A `hyperflow server` over a fresh SQLite database in `dir`.
fn server(dir: &Path) -> ServerProcess {
    let db = format!("sqlite:///{}", dir.join("server.db").display());
    ServerProcess::start(BIN, dir, &db)
}

fn store(url: &str) -> RestStore {
    RestStore::with_auth(url, RestAuth::None).expect("a REST store")
}

/// The REST store's ledger, which a hyperflow server over SQLite serves.
fn ledger(store: &RestStore) -> &dyn Ledger {
    store.ledger().expect("the server serves the ledger")
}

fn end(state: TrialState, released: bool) -> TrialEnd {
    TrialEnd {
        state,
        released,
        loss: None,
        last_step: None,
        run_id: None,
    }
}

/// `method path` with a JSON body (none for GET), as raw HTTP: the status and the answer.
fn request(url: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let addr = url.trim_start_matches("http://");
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .expect("send");
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).expect("read");
    let head_end = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a head");
    let head = String::from_utf8_lossy(&buf[..head_end]);
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok());
    let answer = serde_json::from_slice(&buf[head_end + 4..]).unwrap_or(Value::Null);
    (status.expect("a status"), answer)
}

#[test]
fn claims_are_unique_and_within_the_budget_across_racing_threads() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = server(dir.path());
    let store = store(&server.url);
    let ledger = ledger(&store);
    let key = Some("1/race");
    assert_eq!(
        ledger
            .open_search("s1", key, LedgerStart::default())
            .unwrap(),
        "s1"
    );
    // A second search with the same key is told to join the first.
    assert_eq!(
        ledger
            .open_search("s2", key, LedgerStart::default())
            .unwrap(),
        "s1"
    );
    assert_eq!(ledger.find_search("1/race").unwrap().as_deref(), Some("s1"));

    const LIMIT: u64 = 25;
    let threads = 8;
    let start = Arc::new(Barrier::new(threads));
    let claimed: Vec<u64> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (store, start) = (store.clone(), start.clone());
                scope.spawn(move || {
                    let worker = format!("worker-{t}");
                    start.wait();
                    let mut mine = Vec::new();
                    let ledger = store.ledger().expect("a ledger");
                    while let Some(n) = ledger
                        .claim_trial("s1", Some(LIMIT), &[0.25, f64::NAN], &worker)
                        .expect("a claim")
                    {
                        mine.push(n);
                    }
                    mine
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a claiming thread"))
            .collect()
    });
    let unique: BTreeSet<u64> = claimed.iter().copied().collect();
    assert_eq!(
        claimed.len(),
        unique.len(),
        "a number claimed twice: {claimed:?}"
    );
    assert_eq!(
        unique,
        (0..LIMIT).collect(),
        "the budget is claimed exactly"
    );

    // A trial given back to the budget makes room for one more, with a new number.
    let given_back = ledger
        .end_trial("s1", 3, &end(TrialState::Killed, true))
        .unwrap();
    assert_eq!(given_back, Ended::Now);
    assert_eq!(
        ledger
            .claim_trial("s1", Some(LIMIT), &[0.5], "late")
            .unwrap(),
        Some(LIMIT)
    );
    assert_eq!(
        ledger
            .claim_trial("s1", Some(LIMIT), &[0.5], "late")
            .unwrap(),
        None
    );
    // No limit: always a number.
    assert_eq!(
        ledger.claim_trial("s1", None, &[0.5], "late").unwrap(),
        Some(LIMIT + 1)
    );

    // Closing gives the key up: the next search with it starts anew.
    ledger.close_search("s1").unwrap();
    assert_eq!(ledger.find_search("1/race").unwrap(), None);
    assert_eq!(
        ledger
            .open_search("s3", key, LedgerStart::default())
            .unwrap(),
        "s3"
    );
}

#[test]
fn ends_releases_heartbeats_and_changes_over_http() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = server(dir.path());
    let store = store(&server.url);
    let ledger = ledger(&store);
    let start = LedgerStart {
        next_number: 10,
        released: 2,
    };
    ledger.open_search("s", None, start).unwrap();
    // 10 numbers, 2 given back: 8 count towards a budget of 10.
    let a = ledger
        .claim_trial("s", Some(10), &[1.0, f64::NAN], "w1")
        .unwrap();
    let b = ledger
        .claim_trial("s", Some(10), &[2.0, 0.5], "w2")
        .unwrap();
    assert_eq!((a, b), (Some(10), Some(11)), "numbering starts where told");
    assert_eq!(
        ledger.claim_trial("s", Some(10), &[3.0], "w1").unwrap(),
        None
    );
    assert_eq!(
        ledger.claim_trial("s", Some(11), &[3.0], "w1").unwrap(),
        Some(12)
    );

    // Every trial so far, points as sent (NaN for the inactive parameter).
    let all = ledger.changes("s", 0).unwrap();
    assert_eq!(
        all.iter().map(|t| t.number).collect::<Vec<_>>(),
        [10, 11, 12]
    );
    assert_eq!(all[0].x[0], 1.0);
    assert!(all[0].x[1].is_nan());
    assert_eq!(all[1].x, [2.0, 0.5]);
    assert_eq!(all[0].worker, "w1");
    assert!(
        all.iter()
            .all(|t| t.state == TrialState::Running && !t.released)
    );
    let seen = all.iter().map(|t| t.seq).max().unwrap();
    assert!(ledger.changes("s", seen).unwrap().is_empty());

    // Trial 10 ends; only it has changed since.
    let done = TrialEnd {
        state: TrialState::Complete,
        released: false,
        loss: Some(0.125),
        last_step: Some(7),
        run_id: Some("run-10".into()),
    };
    assert_eq!(ledger.end_trial("s", 10, &done).unwrap(), Ended::Now);
    let changed = ledger.changes("s", seen).unwrap();
    assert_eq!(changed.len(), 1);
    let t = &changed[0];
    assert_eq!(
        (t.number, t.state, t.loss, t.last_step, t.run_id.as_deref()),
        (
            10,
            TrialState::Complete,
            Some(0.125),
            Some(7),
            Some("run-10")
        )
    );
    assert!(t.seq > seen);

    // Fresh heartbeats are not stale; after a while without one they are, and a beat
    // makes a trial fresh again. Ended trials are never stale.
    assert!(
        ledger
            .stale_trials("s", Duration::from_secs(3600))
            .unwrap()
            .is_empty()
    );
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(
        ledger.stale_trials("s", Duration::from_secs(1)).unwrap(),
        [11, 12]
    );
    ledger.heartbeat("s", &[11]).unwrap();
    assert_eq!(
        ledger.stale_trials("s", Duration::from_secs(1)).unwrap(),
        [12]
    );

    // Reapers race for the stale trial 12 and the finished 10: trial 12 is released by
    // exactly one of them, trial 10 by none.
    let lost = end(TrialState::Failed, true);
    let racers = 6;
    let go = Arc::new(Barrier::new(racers));
    let released: Vec<u64> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..racers)
            .map(|_| {
                let (store, go, lost) = (store.clone(), go.clone(), lost.clone());
                scope.spawn(move || {
                    go.wait();
                    store
                        .ledger()
                        .expect("a ledger")
                        .release_running("s", &[10, 12], &lost)
                        .expect("a release")
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a racing reaper"))
            .collect()
    });
    assert_eq!(released, [12], "released once, and only what ran");
    // Its budget place went back: one more trial fits.
    assert_eq!(
        ledger.claim_trial("s", Some(11), &[4.0], "w3").unwrap(),
        Some(13)
    );

    // The worker of trial 12 was alive after all: its result is recorded, overruling.
    let late = TrialEnd {
        loss: Some(0.5),
        ..end(TrialState::Complete, false)
    };
    assert_eq!(
        ledger.end_trial("s", 12, &late).unwrap(),
        Ended::Overruled(TrialState::Failed)
    );
    let t12 = ledger
        .changes("s", 0)
        .unwrap()
        .into_iter()
        .find(|t| t.number == 12)
        .unwrap();
    assert_eq!((t12.state, t12.released), (TrialState::Complete, false));
}

#[test]
fn bad_ledger_requests_get_clear_client_errors() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = server(dir.path());
    let store = store(&server.url);
    let ledger = ledger(&store);
    let url = &server.url;
    let post = |call: &str, body: Value| {
        request(
            url,
            "POST",
            &format!("/api/2.0/hyperflow/ledger/{call}"),
            Some(body),
        )
    };

    // A search that was never opened: 404, for writes and for the reapers' release.
    for result in [
        ledger.end_trial("nowhere", 0, &end(TrialState::Complete, false)),
        ledger
            .release_running("nowhere", &[0], &end(TrialState::Failed, true))
            .map(|_| Ended::Now),
        ledger
            .claim_trial("nowhere", None, &[], "w")
            .map(|_| Ended::Now),
    ] {
        assert!(
            matches!(result, Err(StoreError::NotFound(ref m)) if m.contains("nowhere")),
            "{result:?}"
        );
    }

    ledger
        .open_search("s", None, LedgerStart::default())
        .unwrap();
    let cases = [
        (
            "claim-trial",
            json!({"search": "s", "x": "abc", "worker": "w"}),
            "'x'",
        ),
        (
            "claim-trial",
            json!({"search": "s", "x": [1], "worker": "w", "limit": -1}),
            "'limit'",
        ),
        ("claim-trial", json!({"search": "s", "x": [1]}), "'worker'"),
        (
            "end-trial",
            json!({"search": "s", "number": 0, "end": {"state": "LOST"}}),
            "'end.state'",
        ),
        (
            "end-trial",
            json!({"search": "s", "number": 0, "end": {"state": "RUNNING"}}),
            "'end.state'",
        ),
        (
            "release-running",
            json!({"search": "s", "numbers": ["x"], "end": {"state": "FAILED"}}),
            "'numbers'",
        ),
        ("heartbeat", json!({"numbers": [1]}), "'search'"),
    ];
    for (call, body, names) in cases {
        let (status, answer) = post(call, body.clone());
        assert_eq!(status, 400, "{call} {body}: {answer}");
        assert_eq!(answer["error_code"], "INVALID_PARAMETER_VALUE", "{answer}");
        let message = answer["message"].as_str().unwrap_or_default();
        assert!(message.contains(names), "{call} {body}: {message}");
    }
    let (status, answer) = request(url, "GET", "/api/2.0/hyperflow/ledger/changes", None);
    assert_eq!(status, 400, "{answer}");
    assert!(answer["message"].as_str().unwrap().contains("'search'"));
    // The UI's prefix serves the same calls.
    let (status, answer) = request(
        url,
        "GET",
        "/ajax-api/2.0/hyperflow/ledger/changes?search=s&since=0",
        None,
    );
    assert_eq!((status, answer), (200, json!({})));
}

#[test]
fn a_server_that_cannot_be_reached_is_not_taken_for_one_without_a_ledger() {
    // A port nothing listens on (bound, then let go).
    let port = std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let rest = store(&format!("http://127.0.0.1:{port}")).with_retries(0, Duration::ZERO);
    // Unknown, so taken as yes: the ledger's calls say what is wrong, rather than the
    // search going on alone without the workers it was meant to join.
    assert!(rest.serves_ledger());
    let err = ledger(&rest).find_search("k").unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
}

#[test]
fn a_run_recorded_through_the_server_is_never_found_by_its_tags_without_its_params() {
    // A worker joining a search reads its children while others record theirs: a child
    // found by its parent tag must already hold its params (its point).
    let dir = tempfile::tempdir().expect("temp dir");
    let server = server(dir.path());
    let rest = store(&server.url);
    let experiment = rest.create_experiment("half-written", None, &[]).unwrap();
    let parent_tag = || Tag::new("mlflow.parentRunId", "the-parent");
    let query = RunQuery {
        experiment_ids: vec![experiment.clone()],
        filter: "tags.mlflow.parentRunId = 'the-parent'".into(),
        max_results: 1000,
        ..RunQuery::default()
    };
    let runs = 150;
    let done = std::sync::atomic::AtomicBool::new(false);
    let half_written = std::thread::scope(|scope| {
        let reader = scope.spawn(|| {
            let mut seen = Vec::new();
            while !done.load(std::sync::atomic::Ordering::Acquire) {
                let page = rest.search_runs(&query).expect("a search");
                seen.extend(
                    page.items
                        .into_iter()
                        .filter(|r| r.data.params.is_empty())
                        .map(|r| r.info.run_id),
                );
            }
            seen
        });
        for i in 0..runs {
            let record = RunRecord {
                start: RunStart {
                    tags: vec![parent_tag()],
                    ..RunStart::default()
                },
                params: vec![Param::new("x", i.to_string())],
                status: RunStatus::Running,
                ..RunRecord::default()
            };
            rest.record_run(&experiment, &record).expect("a run");
        }
        done.store(true, std::sync::atomic::Ordering::Release);
        reader.join().expect("the reader")
    });
    assert!(
        half_written.is_empty(),
        "{} times a run was found without its params, e.g. {:?}",
        half_written.len(),
        half_written.first()
    );
    assert_eq!(rest.search_runs(&query).unwrap().items.len(), runs);
}

/// A sweep config whose trials, run by three workers (`$WORKER`), each wait until all
/// three have started one (so every worker takes part, however the processes are
/// scheduled), then report `x` as their loss.
fn three_worker_sweep(dir: &Path, max_evals: usize) -> std::path::PathBuf {
    std::fs::write(
        dir.join("train.sh"),
        "echo \"$WORKER\" >> workers.txt\n\
         n=0\n\
         while [ \"$(sort -u workers.txt | wc -l)\" -lt 3 ] && [ ! -e gave-up ]; do\n\
           n=$((n + 1)); if [ $n -gt 1200 ]; then touch gave-up; fi; sleep 0.05\n\
         done\n\
         echo \"{\\\"loss\\\": $1}\"\n",
    )
    .expect("write the script");
    let config = dir.join("sweep.toml");
    std::fs::write(
        &config,
        format!(
            "[experiment]\nname = \"joined\"\n\n[command]\nrun = \"sh train.sh {{x}}\"\n\n\
             [objective]\nmetric = \"loss\"\n\n[search]\nalgo = \"random\"\nseed = 3\n\
             max_evals = {max_evals}\nparallel = 1\n\n\
             [space]\nx = {{ kind = \"uniform\", low = 0, high = 1 }}\n"
        ),
    )
    .expect("write the config");
    config
}

/// `hyperflow --tracking-uri <url> args...` run in `dir`.
fn hyperflow(dir: &Path, url: &str) -> Command {
    let mut c = Command::new(BIN);
    c.current_dir(dir)
        .env_remove("HYPERFLOW_TRACKING_URI")
        .env_remove("MLFLOW_TRACKING_URI")
        .args(["--tracking-uri", url]);
    c
}

fn succeeded(out: &Output) -> String {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// The runs of experiment `joined` at `url`, as `runs list --format json` prints them.
fn runs(dir: &Path, url: &str) -> Vec<Value> {
    let out = hyperflow(dir, url)
        .args(["runs", "list", "--experiment", "joined", "--format", "json"])
        .args(["--max-results", "1000"])
        .output()
        .expect("run hyperflow runs list");
    serde_json::from_str(&succeeded(&out)).expect("runs list prints JSON")
}

fn with_role<'a>(runs: &'a [Value], role: &str) -> Vec<&'a Value> {
    runs.iter()
        .filter(|r| r["tags.hyperflow.role"] == role)
        .collect()
}

#[test]
fn three_sweeps_given_the_server_url_join_one_search() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = server(dir.path());
    let max_evals = 9;
    let config = three_worker_sweep(dir.path(), max_evals);
    let config = config.to_str().expect("a UTF-8 path");
    let sweeps: Vec<_> = ["a", "b", "c"]
        .into_iter()
        .map(|worker| {
            hyperflow(dir.path(), &server.url)
                .args(["sweep", config, "--no-progress"])
                .env("WORKER", worker)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start a sweep")
        })
        .collect();
    for sweep in sweeps {
        succeeded(&sweep.wait_with_output().expect("a sweep"));
    }
    assert!(
        !dir.path().join("gave-up").exists(),
        "not every worker ran a trial"
    );

    let runs = runs(dir.path(), &server.url);
    let parents = with_role(&runs, "search");
    assert_eq!(parents.len(), 1, "one search: {parents:#?}");
    let parent = parents[0];
    let parent_id = parent["run_id"].as_str().unwrap();
    let trials = with_role(&runs, "trial");
    assert!(
        trials
            .iter()
            .all(|t| t["tags.mlflow.parentRunId"] == parent_id),
        "every trial is a child of the one search"
    );
    let complete: Vec<_> = trials
        .iter()
        .filter(|t| t["tags.hyperflow.state"] == "COMPLETE")
        .collect();
    assert_eq!(complete.len(), max_evals, "{trials:#?}");
    let numbers: BTreeSet<&str> = trials
        .iter()
        .map(|t| t["tags.hyperflow.trial"].as_str().unwrap())
        .collect();
    assert_eq!(numbers.len(), trials.len(), "trial numbers are unique");
    let workers = std::fs::read_to_string(dir.path().join("workers.txt")).unwrap();
    let workers: BTreeSet<&str> = workers.lines().collect();
    assert_eq!(workers, BTreeSet::from(["a", "b", "c"]));
}

#[test]
fn a_search_through_the_official_mlflow_server_runs_alone() {
    let Some(python) =
        common::python::mlflow_python("a_search_through_the_official_mlflow_server_runs_alone")
    else {
        return;
    };
    let mlflow = common::mlflow_server::start(&python);
    // MLflow has no ledger endpoints (404): the REST store has no ledger, asked once.
    let direct = store(&mlflow.url);
    assert!(!direct.serves_ledger());
    assert!(direct.ledger().is_none());

    // A sweep through it runs, alone, to its budget.
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("workers.txt"), "a\nb\nc\n").expect("no waiting");
    let config = three_worker_sweep(dir.path(), 3);
    let out = hyperflow(dir.path(), &mlflow.url)
        .args(["sweep", config.to_str().unwrap(), "--no-progress"])
        .output()
        .expect("a sweep");
    succeeded(&out);
    let runs = runs(dir.path(), &mlflow.url);
    assert_eq!(with_role(&runs, "search").len(), 1);
    let trials = with_role(&runs, "trial");
    assert_eq!(trials.len(), 3);
    assert!(
        trials.iter().all(|t| t["status"] == "FINISHED"),
        "{trials:#?}"
    );

    // A hyperflow server whose backend store is the MLflow server has no ledger to
    // serve: 501 NOT_IMPLEMENTED, and its clients run alone too.
    let front = ServerProcess::start(BIN, dir.path(), &mlflow.url);
    let (status, answer) = request(
        &front.url,
        "GET",
        "/api/2.0/hyperflow/ledger/find-search?join_key=k",
        None,
    );
    assert_eq!(status, 501, "{answer}");
    assert_eq!(answer["error_code"], "NOT_IMPLEMENTED");
    assert!(
        answer["message"].as_str().unwrap().contains("no ledger"),
        "{answer}"
    );
    assert!(store(&front.url).ledger().is_none());
}
