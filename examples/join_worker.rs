//! One worker of a search shared by several processes: the scale-out benchmark's worker
//! (`bench/scaleout/run.py` starts many at once).
//!
//! ```text
//! cargo run --release --example join_worker -- URI NAME MAX_EVALS SEED OBJECTIVE SLEEP_MS STALE_AFTER_S [THREADS]
//! ```
//!
//! Opens study `NAME` of experiment `scaleout` in the store at `URI` (a PostgreSQL or
//! SQLite URI, or a hyperflow server), joining it when another worker has created it, and
//! drives it with `fmin` (one trial at a time) until `MAX_EVALS` trials of all workers
//! count towards the budget. `OBJECTIVE` is `noop` (returns 0 at once) or `hartmann6`
//! (Hartmann's 6-d function, minimum -3.32237), after sleeping `SLEEP_MS` milliseconds,
//! on `THREADS` threads (default 1: `fmin`'s parallelism within this one worker).
//! Prints one JSON line: this worker's trials, wall time, the best loss it knows and the
//! parent run.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use hyperflow::study::{Study, Tracking};
use hyperflow::tracking::Tracker;
use hyperflow::{Point, Space};

#[path = "common/functions.rs"]
mod functions;

/// Hartmann's 6-d function of the point's `x0..x5`.
fn hartmann6(p: &Point) -> f64 {
    let x: Vec<f64> = (0..6)
        .map(|i| p.get(&format!("x{i}")).unwrap_or(0.5))
        .collect();
    functions::hartmann6(&x)
}

fn run(args: &[String]) -> Result<(), Box<dyn std::error::Error>> {
    let (args, threads) = match args {
        [rest @ .., threads] if rest.len() == 7 => (rest, threads.parse()?),
        _ => (args, 1),
    };
    let [uri, name, max_evals, seed, objective, sleep_ms, stale_after] = args else {
        return Err(
            "usage: join_worker URI NAME MAX_EVALS SEED OBJECTIVE SLEEP_MS STALE_AFTER_S [THREADS]"
                .into(),
        );
    };
    let (max_evals, seed): (usize, u64) = (max_evals.parse()?, seed.parse()?);
    let sleep = Duration::from_millis(sleep_ms.parse()?);
    let stale_after = Duration::from_secs_f64(stale_after.parse()?);
    let hartmann = match objective.as_str() {
        "noop" => false,
        "hartmann6" => true,
        other => return Err(format!("objective {other:?}: expected noop or hartmann6").into()),
    };
    let mut builder = Space::builder();
    for i in 0..6 {
        builder = builder.uniform(format!("x{i}"), 0.0, 1.0);
    }
    let space = builder.build()?;
    let started = Instant::now();
    let tracker = Tracker::open(uri)?;
    let mut study = Study::builder(&space)
        .seed(seed)
        .stale_after(stale_after)
        .sampler(hyperflow::algo::Tpe::default())
        .tracking(Tracking::new(tracker, "scaleout").name(name.as_str()))
        .open()?;
    let before = study.trials().len();
    let mine = std::sync::atomic::AtomicUsize::new(0);
    let result = study
        .optimize(|p| {
            mine.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if !sleep.is_zero() {
                std::thread::sleep(sleep);
            }
            if hartmann { hartmann6(p) } else { 0.0 }
        })
        .max_evals(max_evals)
        .parallelism(threads)
        .progress(false)
        .run()?;
    println!(
        "{}",
        serde_json::json!({
            "pid": std::process::id(),
            "trials": mine.into_inner(),
            "known_before": before,
            "elapsed": started.elapsed().as_secs_f64(),
            "best": result.best_loss(),
            "parent": result.parent_run_id(),
        })
    );
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("join_worker: {e}");
            ExitCode::FAILURE
        }
    }
}
