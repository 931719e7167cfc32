//! Per-trial overhead of `fmin` with a no-op objective as searches grow.
//!
//! ```text
//! cargo run --release --example fmin_overhead            # random and TPE, 100/1,000/10,000 trials
//! cargo run --release --example fmin_overhead -- tpe 1000 # one search (for callgrind)
//! ```
//!
//! Each cell is a whole search's wall time divided by its trials (parallelism 1, the best
//! of 3 runs for the shorter searches: the machine is shared, and noise only adds time).

use std::time::{Duration, Instant};

use hyperflow::algo::Algorithm;
use hyperflow::{Point, Space, fmin};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => table(),
        [algo, n] => match n.parse() {
            Ok(n) => {
                let t = search(algo, n);
                println!("{algo} {n}: {:.2} µs per trial", per_trial(t, n));
            }
            Err(_) => usage(),
        },
        _ => usage(),
    }
}

fn usage() -> ! {
    eprintln!("usage: fmin_overhead [random|tpe TRIALS]");
    std::process::exit(2);
}

fn table() {
    println!("| sampler | 100 trials | 1,000 trials | 10,000 trials |");
    println!("|---|---:|---:|---:|");
    for algo in ["random", "tpe"] {
        let cells: Vec<String> = [100, 1000, 10000]
            .iter()
            .map(|&n| {
                let runs = if n >= 10000 { 1 } else { 3 };
                let best = (0..runs).map(|_| search(algo, n)).min();
                format!("{:.1} µs", per_trial(best.unwrap_or_default(), n))
            })
            .collect();
        println!("| {algo} | {} |", cells.join(" | "));
    }
}

fn per_trial(t: Duration, n: usize) -> f64 {
    t.as_secs_f64() * 1e6 / n as f64
}

/// Wall time of a search of `n` trials with a no-op objective.
fn search(algo: &str, n: usize) -> Duration {
    let space = (1..=5)
        .fold(Space::builder(), |b, i| {
            b.uniform(format!("x{i}"), -5.0, 5.0)
        })
        .build()
        .expect("valid space");
    let Ok(sampler) = algo.parse::<Algorithm>().map(Algorithm::sampler) else {
        usage()
    };
    let t0 = Instant::now();
    fmin(|p: &Point| p.get::<f64>("x1").unwrap_or(f64::NAN), &space)
        .boxed_algo(sampler)
        .max_evals(n)
        .seed(1)
        .parallelism(1)
        .progress(false)
        .run()
        .expect("search runs");
    t0.elapsed()
}
