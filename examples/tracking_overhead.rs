//! What tracking costs per trial inside `fmin`.
//!
//! Runs the same search twice per round, untracked and tracked (a [`Tracking`] study) on a real
//! SQLite file, and reports `(with - without) / trials`: the time one nested child run with
//! 10 params and 5 metrics (`loss` plus 4 the objective returns) adds to a trial, parent-run
//! bookkeeping (`best_loss` as it improves, the search's params, `space.json`) included.
//!
//! The objective is a no-op (a sum of squares) and the sampler is random search, so what
//! remains besides tracking is `fmin`'s own loop; parallelism is 1, so every trial's write
//! is on the critical path. Rounds alternate the two variants; the table gives each round
//! and the median.
//!
//! Run: `cargo run --release --example tracking_overhead [-- --trials 1000 --rounds 5 --dir
//! target/tracking_overhead]`
//!
//! The target is at most 0.4 ms per trial; MLflow's Python client on its SQLite
//! backend is measured by `scripts/bench_mlflow_tracking.py` for the same work.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyperflow::algo::Random;
use hyperflow::study::Tracking;
use hyperflow::tracking::{Metric, RunOptions, SqliteStore, Tracker, now_ms};
use hyperflow::{Outcome, Point, Space, fmin};

struct Args {
    trials: usize,
    rounds: usize,
    dir: PathBuf,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        trials: 1000,
        rounds: 5,
        dir: PathBuf::from("target/tracking_overhead"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--trials" => args.trials = value()?.parse().map_err(|e| format!("--trials: {e}"))?,
            "--rounds" => args.rounds = value()?.parse().map_err(|e| format!("--rounds: {e}"))?,
            "--dir" => args.dir = PathBuf::from(value()?),
            other => {
                return Err(format!(
                    "unknown argument {other}; accepted: --trials N, --rounds N, --dir PATH"
                ));
            }
        }
    }
    if args.trials == 0 || args.rounds == 0 {
        return Err("--trials and --rounds must be at least 1".into());
    }
    Ok(args)
}

/// Ten parameters, as in the figure.
fn space() -> Result<Space, hyperflow::SpaceError> {
    (0..10)
        .fold(Space::builder(), |b, i| {
            b.uniform(format!("x{i}"), -1.0, 1.0)
        })
        .build()
}

/// A no-op-ish objective: the loss plus 4 more metrics, so each child run holds 5.
fn objective(p: &Point) -> Outcome {
    let xs: Vec<f64> = p.iter().filter_map(|(_, v)| v.as_f64()).collect();
    let loss: f64 = xs.iter().map(|x| x * x).sum();
    Outcome::loss(loss)
        .with_metric("l1", xs.iter().map(|x| x.abs()).sum())
        .with_metric("max", xs.iter().copied().fold(f64::MIN, f64::max))
        .with_metric("min", xs.iter().copied().fold(f64::MAX, f64::min))
        .with_metric("mean", xs.iter().sum::<f64>() / xs.len() as f64)
}

/// CPU time (user + system) of this thread so far. With parallelism 1 `fmin` proposes,
/// records and writes tracking on the calling thread (the objective runs on a worker), so
/// this is the critical path's CPU time. Under load (other builds on the same cores) wall
/// time also counts waiting for a core; CPU time does not. SQLite's background
/// checkpointer is not counted: it runs beside the search.
fn cpu_time() -> Duration {
    use nix::sys::resource::{UsageWho, getrusage};
    let Ok(usage) = getrusage(UsageWho::RUSAGE_THREAD) else {
        return Duration::ZERO;
    };
    let tv =
        |t: nix::sys::time::TimeVal| Duration::new(t.tv_sec() as u64, t.tv_usec() as u32 * 1000);
    tv(usage.user_time()) + tv(usage.system_time())
}

/// Wall and CPU time of one search.
#[derive(Clone, Copy)]
struct Cost {
    wall: Duration,
    cpu: Duration,
}

/// One search; with `tracker` set, tracked into experiment `experiment`.
fn search(
    space: &Space,
    trials: usize,
    tracker: Option<(Tracker, String)>,
) -> Result<Cost, Box<dyn std::error::Error>> {
    let mut f = fmin(objective, space)
        .algo(Random)
        .seed(1)
        .parallelism(1)
        .max_evals(trials)
        .progress(false);
    if let Some((tracker, experiment)) = tracker {
        f = f.tracking(Tracking::new(tracker, experiment));
    }
    let (started, cpu) = (Instant::now(), cpu_time());
    let result = f.run()?;
    let cost = Cost {
        wall: started.elapsed(),
        cpu: cpu_time().saturating_sub(cpu),
    };
    if result.trials().len() != trials {
        return Err(format!("expected {trials} trials, ran {}", result.trials().len()).into());
    }
    Ok(cost)
}

/// `log_batch` throughput: `batches` calls of 1000 metric points (10 keys x 100 steps)
/// into one run, as metric points per second of wall and of CPU time.
fn log_batch_throughput(
    tracker: &Tracker,
    batches: usize,
) -> Result<(f64, f64), Box<dyn std::error::Error>> {
    let run = tracker.start_run(RunOptions::new().run_name("log-batch"))?;
    let (started, cpu) = (Instant::now(), cpu_time());
    for b in 0..batches {
        let now = now_ms();
        let metrics: Vec<Metric> = (0..1000)
            .map(|i| Metric {
                key: format!("m{}", i % 10),
                value: i as f64,
                timestamp: now,
                step: (b * 100 + i / 10) as i64,
            })
            .collect();
        run.log_batch(&metrics, &[], &[])?;
    }
    let points = (batches * 1000) as f64;
    Ok((
        points / started.elapsed().as_secs_f64(),
        points / cpu_time().saturating_sub(cpu).as_secs_f64(),
    ))
}

fn print_row(label: &str, row: &[f64; 6]) {
    print!("{label:>6}");
    for value in row {
        print!("  {value:>12.4}");
    }
    println!();
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args()?;
    let space = space()?;
    // A fresh database per run of this example: leftovers would make it measure searches
    // into a larger file than the last time.
    match std::fs::remove_dir_all(&args.dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
        _ => {}
    }
    std::fs::create_dir_all(&args.dir)?;
    let db = args.dir.join("overhead.db");
    let tracker = Tracker::new(Arc::new(SqliteStore::open_with_artifact_root(
        &db,
        args.dir.join("artifacts"),
    )?));

    // Warm-up: page cache, allocator, the store's prepared statements.
    search(&space, args.trials.min(100), None)?;
    search(
        &space,
        args.trials.min(100),
        Some((tracker.clone(), "warm-up".into())),
    )?;

    let ms = |d: Duration| d.as_secs_f64() * 1e3 / args.trials as f64;
    println!(
        "tracking overhead inside fmin: {} trials, parallelism 1, 10 params, 5 metrics per \
         child run, SQLite file {}",
        args.trials,
        db.display()
    );
    println!(
        "ms per trial; wall = elapsed time, cpu = user + system time of the thread running \
         fmin's loop (and the tracking writes)"
    );
    println!(
        "{:>6}  {:>12}  {:>12}  {:>12}  {:>12}  {:>12}  {:>12}",
        "round", "wall without", "wall with", "wall diff", "cpu without", "cpu with", "cpu diff"
    );
    let mut columns: [Vec<f64>; 6] = Default::default();
    for round in 0..args.rounds {
        let plain = search(&space, args.trials, None)?;
        let tracked = search(
            &space,
            args.trials,
            Some((tracker.clone(), format!("overhead-{round}"))),
        )?;
        let row = [
            ms(plain.wall),
            ms(tracked.wall),
            ms(tracked.wall) - ms(plain.wall),
            ms(plain.cpu),
            ms(tracked.cpu),
            ms(tracked.cpu) - ms(plain.cpu),
        ];
        print_row(&round.to_string(), &row);
        for (column, value) in columns.iter_mut().zip(row) {
            column.push(value);
        }
    }
    let medians = columns.map(median);
    print_row("median", &medians);
    println!(
        "per-trial tracking cost (median wall diff): {:.3} ms, target <= 0.4 ms: {}",
        medians[2],
        if medians[2] <= 0.4 { "ok" } else { "over" }
    );
    let (wall, cpu) = log_batch_throughput(&tracker, 200)?;
    println!(
        "log_batch, 200 x 1000 metric points into one run: {wall:.0} points/s of wall time, \
         {cpu:.0} points/s of CPU time (target >= 100,000)"
    );
    Ok(())
}
