//! Measures tracked sweeps: hyperflow's own overhead per trial beyond spawning the process,
//! and parallel throughput on a sleeping command.
//! How a sweep's cost and memory hold up over 20,000 trials, against `xargs -P 2`, is
//! measured by `bench/sweep_scale/run.sh` (the CLI, end to end).
//!
//! ```text
//! cargo run --release --example sweep_throughput            # 200 overhead trials, 100 ms sleeps
//! cargo run --release --example sweep_throughput -- 50      # fewer trials (CI runs it bare)
//! ```
//!
//! 1. Overhead: the same tiny command (`sh -c 'echo {"loss": 1}'`) run N times with a bare
//!    `std::process::Command`, then as a sweep of N trials (`parallel = 1`) without
//!    tracking and with tracking into a fresh SQLite store (parent run, one child per
//!    trial with params, metrics, `stdout.txt`/`stderr.txt`). The difference per trial is
//!    hyperflow's overhead: sampling, process group and reader threads, metric parsing,
//!    store writes and artifacts. Target: under 2 ms.
//! 2. Throughput: `sleep 0.1` trials, tracked, with `parallel = 1` and `parallel = 8`.
//!    Target: at least 6x the serial rate.
//! 3. With `--features server`, a tracked sweep also serves its store to the trials on a
//!    loopback port (for MLflow's official client): the tracked rows above then include
//!    starting and stopping it once per sweep, which is also timed alone here (median of
//!    21 starts over an open store). Per trial it costs two environment variables; a
//!    trial that logs through it pays a loopback request per call.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hyperflow::sweep::tracked::run_tracked;
use hyperflow::sweep::{ProgressMode, SweepConfig, SweepOptions, run_sweep};
use hyperflow::tracking::Tracker;

const SCRIPT: &str = r#"echo '{"loss": 1}'"#;

fn config(dir: &Path, name: &str, run: &str, max_evals: usize, parallel: usize) -> SweepConfig {
    let path = dir.join(format!("{name}.toml"));
    // Literal braces are doubled in command templates.
    let run = run.replace('{', "{{").replace('}', "}}");
    let text = format!(
        "[experiment]\nname = \"{name}\"\n\n[command]\nrun = {run:?}\nshell = true\n\n\
         [objective]\nmetric = \"loss\"\n\n[search]\nalgo = \"random\"\nseed = 1\n\
         max_evals = {max_evals}\nparallel = {parallel}\n\n\
         [space]\nx = {{ kind = \"uniform\", low = 0, high = 1 }}\n"
    );
    std::fs::write(&path, text).expect("write config");
    SweepConfig::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

fn tracked(dir: &Path, config: &SweepConfig) -> Duration {
    let uri = format!("sqlite:///{}/runs.db", dir.display());
    let tracker = Tracker::open(&uri).expect("open store");
    let started = Instant::now();
    let done = run_tracked(
        config,
        &tracker,
        SweepOptions::new()
            .tracking_uri(uri)
            .progress(ProgressMode::Quiet),
        None,
    )
    .expect("sweep runs");
    let elapsed = started.elapsed();
    assert_eq!(done.summary.trials().len(), config.search().max_evals());
    assert!(done.summary.failed().next().is_none(), "a trial failed");
    elapsed
}

fn per_trial(d: Duration, n: usize) -> f64 {
    d.as_secs_f64() * 1e3 / n as f64
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200);
    let dir = tempfile::tempdir().expect("temp dir");
    let dir = dir.path();

    // 1. Overhead per trial: three interleaved rounds, the fastest of each kept (the
    //    machine's other load only ever adds time).
    let (mut bare, mut untracked, mut with_tracking) = (f64::MAX, f64::MAX, f64::MAX);
    for round in 0..3 {
        let started = Instant::now();
        for _ in 0..n {
            let out = Command::new("sh")
                .args(["-c", SCRIPT])
                .stdin(Stdio::null())
                .output()
                .expect("sh runs");
            assert!(out.status.success());
        }
        bare = bare.min(per_trial(started.elapsed(), n));
        let plain = config(dir, &format!("plain{round}"), SCRIPT, n, 1);
        let started = Instant::now();
        let summary = run_sweep(&plain, SweepOptions::new().progress(ProgressMode::Quiet))
            .expect("sweep runs");
        assert_eq!(summary.trials().len(), n);
        untracked = untracked.min(per_trial(started.elapsed(), n));
        let config = config(dir, &format!("overhead{round}"), SCRIPT, n, 1);
        with_tracking = with_tracking.min(per_trial(tracked(dir, &config), n));
    }

    println!(
        "overhead per trial (best of 3 rounds of {n} trials of `sh -c 'echo {{\"loss\": 1}}'`, parallel = 1)"
    );
    println!("| run | ms per trial | overhead beyond the spawn |");
    println!("|---|---:|---:|");
    println!("| bare std::process::Command | {bare:.2} | - |");
    println!(
        "| sweep, no tracking | {untracked:.2} | {:.2} ms |",
        untracked - bare
    );
    println!(
        "| sweep, tracked (SQLite) | {with_tracking:.2} | {:.2} ms |",
        with_tracking - bare
    );

    #[cfg(feature = "server")]
    {
        let store = hyperflow::tracking::SqliteStore::open(dir.join("runs.db")).expect("store");
        let store: std::sync::Arc<dyn hyperflow::tracking::Store> = std::sync::Arc::new(store);
        let mut times: Vec<f64> = (0..21)
            .map(|_| {
                let started = Instant::now();
                let state = hyperflow::server::AppState::new(store.clone()).with_artifacts(dir);
                hyperflow::server::spawn_state(state, Some(1))
                    .expect("endpoint starts")
                    .stop()
                    .expect("endpoint stops");
                started.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        times.sort_by(f64::total_cmp);
        println!(
            "the trials' loopback endpoint (in the tracked rows): {:.2} ms to start and stop, once per sweep",
            times[times.len() / 2]
        );
    }

    // 2. Parallel throughput on 100 ms sleeps.
    let sleep = "sleep 0.1; echo '{\"loss\": 1}'";
    let serial_n = 16;
    let serial = tracked(dir, &config(dir, "serial", sleep, serial_n, 1));
    let parallel_n = 64;
    let parallel = tracked(dir, &config(dir, "parallel", sleep, parallel_n, 8));
    let serial_rate = serial_n as f64 / serial.as_secs_f64();
    let parallel_rate = parallel_n as f64 / parallel.as_secs_f64();
    println!();
    println!("throughput, tracked, `sleep 0.1` trials");
    println!("| parallel | trials | wall time | trials/s | speedup |");
    println!("|---:|---:|---:|---:|---:|");
    println!(
        "| 1 | {serial_n} | {:.2} s | {serial_rate:.2} | 1.0x |",
        serial.as_secs_f64()
    );
    println!(
        "| 8 | {parallel_n} | {:.2} s | {parallel_rate:.2} | {:.1}x |",
        parallel.as_secs_f64(),
        parallel_rate / serial_rate
    );
}
