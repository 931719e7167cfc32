//! Server benchmarks, printed as a table.
//!
//! ```text
//! # in-process hyperflow server: start-up, search over 10,000 runs, 32 concurrent clients
//! cargo run --release --features server --example server_bench
//! # only the concurrent-logging load against any MLflow-compatible server
//! cargo run --release --features server --example server_bench -- load --url http://127.0.0.1:5000 \
//!     --clients 32 --seconds 30 [--json]
//! ```
//!
//! The load test gives each client its own run and metric key, logs points with
//! `runs/log-metric` for the given time, then reads every history back and checks that each
//! acknowledged point was stored. `scripts/bench_server.py` drives the official Python
//! client for the client-side figures and calls `load` for both servers.

use hyperflow::server::{AppState, spawn_state};
use hyperflow::tracking::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

struct LoadResult {
    points: u64,
    errors: u64,
    stored: u64,
    seconds: f64,
    p50_ms: f64,
    p99_ms: f64,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn load(url: &str, clients: usize, seconds: f64) -> Result<LoadResult, StoreError> {
    let setup = RestStore::new(url)?;
    let exp = match setup.get_experiment_by_name("load-test")? {
        Some(e) => e.experiment_id,
        None => setup.create_experiment("load-test", None, &[])?,
    };
    let runs: Vec<String> = (0..clients)
        .map(|i| {
            setup
                .create_run(
                    &exp,
                    RunStart {
                        run_name: Some(format!("client-{i}")),
                        ..RunStart::default()
                    },
                )
                .map(|r| r.info.run_id)
        })
        .collect::<Result<_, _>>()?;
    let stop = Arc::new(AtomicBool::new(false));
    let errors = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let handles: Vec<_> = runs
        .iter()
        .cloned()
        .map(|run| {
            let (stop, errors, url) = (stop.clone(), errors.clone(), url.to_string());
            std::thread::spawn(move || {
                let store = match RestStore::new(&url) {
                    Ok(s) => s.with_retries(0, Duration::from_millis(1)),
                    Err(_) => return (0u64, Vec::new()),
                };
                let mut ok = 0u64;
                let mut lat = Vec::new();
                let mut step = 0i64;
                while !stop.load(Ordering::Relaxed) {
                    let t = Instant::now();
                    let m = Metric {
                        key: "load".into(),
                        value: step as f64,
                        timestamp: now_ms(),
                        step,
                    };
                    match store.log_metric(&run, &m) {
                        Ok(()) => {
                            ok += 1;
                            step += 1;
                            lat.push(t.elapsed().as_secs_f64() * 1e3);
                        }
                        Err(_) => {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                (ok, lat)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(seconds));
    stop.store(true, Ordering::Relaxed);
    let mut points = 0;
    let mut lat = Vec::new();
    for h in handles {
        let (n, l) = h.join().unwrap_or((0, Vec::new()));
        points += n;
        lat.extend(l);
    }
    let elapsed = start.elapsed().as_secs_f64();
    lat.sort_by(f64::total_cmp);
    let mut stored = 0;
    for run in &runs {
        stored += setup.get_metric_history(run, "load")?.len() as u64;
    }
    Ok(LoadResult {
        points,
        errors: errors.load(Ordering::Relaxed),
        stored,
        seconds: elapsed,
        p50_ms: percentile(&lat, 0.5),
        p99_ms: percentile(&lat, 0.99),
    })
}

fn arg<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> T {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn print_load(r: &LoadResult, clients: usize) {
    println!(
        "| {clients} clients logging for {:.0} s | {} points, {} stored ({}), {} errors, {:.0} points/s, p50 {:.2} ms, p99 {:.2} ms |",
        r.seconds,
        r.points,
        r.stored,
        if r.stored == r.points {
            "all"
        } else {
            "MISMATCH"
        },
        r.errors,
        r.points as f64 / r.seconds,
        r.p50_ms,
        r.p99_ms
    );
}

fn seed_runs(store: &dyn Store, exp: &ExperimentId, n: usize) -> Result<(), StoreError> {
    let opts = ["adam", "sgd", "rmsprop"];
    for i in 0..n {
        let record = RunRecord {
            start: RunStart {
                run_name: Some(format!("trial-{i}")),
                start_time: Some(1_700_000_000_000 + i as i64),
                ..RunStart::default()
            },
            metrics: vec![
                Metric {
                    key: "loss".into(),
                    value: ((i * 7919) % 10_000) as f64 / 10_000.0,
                    timestamp: 1,
                    step: 0,
                },
                Metric {
                    key: "acc".into(),
                    value: (i % 100) as f64 / 100.0,
                    timestamp: 1,
                    step: 0,
                },
            ],
            params: vec![
                Param::new("optimizer", opts[i % 3]),
                Param::new("lr", format!("{}", 1e-4 * (1 + i % 50) as f64)),
                Param::new("layers", format!("{}", 1 + i % 8)),
            ],
            ..RunRecord::default()
        };
        store.record_run(exp, &record)?;
    }
    Ok(())
}

fn post_ms(url: &str, path: &str, body: &str) -> Result<(f64, usize), String> {
    let agent = ureq::Agent::new_with_defaults();
    let t = Instant::now();
    let mut resp = agent
        .post(format!("{url}{path}"))
        .header("Content-Type", "application/json")
        .send(body)
        .map_err(|e| e.to_string())?;
    let bytes = resp
        .body_mut()
        .with_config()
        .limit(u64::MAX)
        .read_to_vec()
        .map_err(|e| e.to_string())?;
    Ok((t.elapsed().as_secs_f64() * 1e3, bytes.len()))
}

fn in_process(args: &[String]) -> Result<(), Box<dyn std::error::Error>> {
    let runs: usize = arg(args, "--runs", 10_000);
    let clients: usize = arg(args, "--clients", 32);
    let seconds: f64 = arg(args, "--seconds", 30.0);
    let dir = tempfile::tempdir()?;
    let arts = dir.path().join("artifacts");

    let t = Instant::now();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_with_artifact_root(
        dir.path().join("bench.db"),
        &arts,
    )?);
    let server = spawn_state(AppState::new(store.clone()).with_artifacts(&arts), None)?;
    let agent = ureq::Agent::new_with_defaults();
    agent.get(format!("{}/health", server.url())).call()?;
    let startup = t.elapsed().as_secs_f64() * 1e3;

    let seed_store = SqliteStore::open_with_artifact_root(dir.path().join("bench.db"), &arts)?;
    let exp = seed_store.create_experiment("search-bench", None, &[])?;
    let t = Instant::now();
    seed_runs(&seed_store, &exp, runs)?;
    let seed_s = t.elapsed().as_secs_f64();

    let body = format!(
        r#"{{"experiment_ids": ["{exp}"], "filter": "metrics.loss < 0.5 and params.optimizer = 'adam'", "order_by": ["metrics.loss ASC"], "max_results": 1000}}"#
    );
    let q = RunQuery {
        experiment_ids: vec![exp.clone()],
        filter: "metrics.loss < 0.5 and params.optimizer = 'adam'".into(),
        order_by: vec!["metrics.loss ASC".into()],
        max_results: 1000,
        ..RunQuery::default()
    };
    let mut direct = Vec::new();
    for _ in 0..11 {
        let t = Instant::now();
        store.search_runs(&q)?;
        direct.push(t.elapsed().as_secs_f64() * 1e3);
    }
    direct.sort_by(f64::total_cmp);
    let mut times = Vec::new();
    let mut size = 0;
    for _ in 0..21 {
        let (ms, n) = post_ms(&server.url(), "/api/2.0/mlflow/runs/search", &body)?;
        times.push(ms);
        size = n;
    }
    times.sort_by(f64::total_cmp);
    let body_top = format!(
        r#"{{"experiment_ids": ["{exp}"], "filter": "metrics.loss < 0.5 and params.optimizer = 'adam'", "order_by": ["metrics.loss ASC"], "max_results": 10}}"#
    );
    let mut top = Vec::new();
    for _ in 0..21 {
        top.push(post_ms(&server.url(), "/api/2.0/mlflow/runs/search", &body_top)?.0);
    }
    top.sort_by(f64::total_cmp);

    println!("| benchmark (hyperflow, in-process server) | result |");
    println!("|---|---|");
    println!(
        "| start-up to first request served (open SQLite + bind + /health) | {startup:.1} ms |"
    );
    println!("| seeding {runs} runs (record_run, 2 metrics + 3 params each) | {seed_s:.1} s |");
    println!(
        "| search_runs over {runs} runs, filter + order_by, 1000 results ({} KiB) | p50 {:.1} ms, max {:.1} ms |",
        size / 1024,
        percentile(&times, 0.5),
        times.last().copied().unwrap_or(f64::NAN)
    );
    println!(
        "| same search, Store::search_runs alone (no HTTP/JSON) | p50 {:.1} ms |",
        percentile(&direct, 0.5)
    );
    println!(
        "| same search, top 10 | p50 {:.1} ms, max {:.1} ms |",
        percentile(&top, 0.5),
        top.last().copied().unwrap_or(f64::NAN)
    );
    if seconds <= 0.0 {
        return Ok(());
    }
    let r = load(&server.url(), clients, seconds)?;
    print_load(&r, clients);
    if r.stored != r.points || r.errors > 0 {
        return Err("load test lost points or had errors".into());
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("load") {
        let url: String = arg(&args, "--url", "http://127.0.0.1:5000".to_string());
        let clients: usize = arg(&args, "--clients", 32);
        let seconds: f64 = arg(&args, "--seconds", 30.0);
        let r = load(&url, clients, seconds)?;
        if args.iter().any(|a| a == "--json") {
            println!(
                r#"{{"clients": {clients}, "seconds": {:.3}, "points": {}, "stored": {}, "errors": {}, "throughput": {:.1}, "p50_ms": {:.3}, "p99_ms": {:.3}}}"#,
                r.seconds,
                r.points,
                r.stored,
                r.errors,
                r.points as f64 / r.seconds,
                r.p50_ms,
                r.p99_ms
            );
        } else {
            print_load(&r, clients);
        }
        return Ok(());
    }
    in_process(&args)
}
