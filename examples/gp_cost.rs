//! Cost of one GP suggestion in a real search, as the history grows: the time of
//! [`Study::ask`](hyperflow::Study::ask) with the default [`Gp`] sampler, which is the
//! hyperparameter fit, the acquisition's optimization and recording the trial.
//!
//! ```text
//! cargo run --release --example gp_cost               # table: ms per suggestion
//! cargo run --release --example gp_cost -- 200 10     # 10 suggestions after 200 trials
//! ```
//!
//! The problem is styblinski_tang in 10 dimensions (10 uniform parameters on [-5, 5]),
//! minimized by one sequential search (seed 1); each suggestion is timed, and the figure
//! at N trials is the median of the 10 suggestions made with N - 9 to N trials in the
//! history, the smallest of three identical runs (the machine is shared, and noise only
//! adds time); a second row gives the best value found by then (the minimum is about
//! -391.66). `scripts/bench_gp_cost.py` runs this beside optuna's GPSampler.
//!
//! With arguments it runs a search of `N` trials and then `STEPS` more, for profiles:
//! `valgrind --tool=callgrind --toggle-collect='*GpSession*suggest*'` of that run minus the
//! same run with 0 steps, divided by `STEPS`.

use std::time::{Duration, Instant};

use hyperflow::Study;
use hyperflow::algo::Gp;
use hyperflow::space::Space;

/// History sizes reported in the table.
const CHECKPOINTS: [usize; 4] = [50, 100, 200, 400];
/// Suggestions per figure: the median of the last `WINDOW` before each checkpoint.
const WINDOW: usize = 10;
/// Dimensions of the problem.
const DIMS: usize = 10;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => table(),
        [n, steps] => {
            let (Ok(n), Ok(steps)) = (n.parse::<usize>(), steps.parse::<usize>()) else {
                usage();
            };
            let (times, _) = search(n + steps);
            let total: Duration = times[n..].iter().sum();
            let per = total.as_secs_f64() * 1e3 / steps.max(1) as f64;
            println!("styblinski{DIMS} n={n}: {per:.2} ms per suggestion (mean of {steps})");
        }
        _ => usage(),
    }
}

fn usage() -> ! {
    eprintln!("usage: gp_cost [N STEPS]");
    std::process::exit(2);
}

fn table() {
    let header: Vec<String> = CHECKPOINTS.iter().map(usize::to_string).collect();
    println!("| trials in history | {} |", header.join(" | "));
    println!("|---|{}", "---:|".repeat(CHECKPOINTS.len()));
    let last = CHECKPOINTS[CHECKPOINTS.len() - 1];
    let runs: Vec<(Vec<Duration>, Vec<f64>)> = (0..3).map(|_| search(last)).collect();
    let cells: Vec<String> = CHECKPOINTS
        .iter()
        .map(|&n| {
            let best = runs.iter().map(|(t, _)| median(&t[n - WINDOW..n])).min();
            format!("{:.2}", best.unwrap_or_default().as_secs_f64() * 1e3)
        })
        .collect();
    println!("| styblinski{DIMS} (ms) | {} |", cells.join(" | "));
    // The runs are identical (same seed): the best values of the first.
    let best: Vec<String> = CHECKPOINTS
        .iter()
        .map(|&n| format!("{:.2}", runs[0].1[n - 1]))
        .collect();
    println!("| styblinski{DIMS} best value | {} |", best.join(" | "));
}

fn median(times: &[Duration]) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort();
    sorted[sorted.len() / 2]
}

/// Runs a sequential search of `n` trials with the default GP (seed 1) and returns the
/// time of each suggestion and the best value after each trial.
fn search(n: usize) -> (Vec<Duration>, Vec<f64>) {
    let space = (0..DIMS)
        .fold(Space::builder(), |b, i| {
            b.uniform(format!("x{i}"), -5.0, 5.0)
        })
        .build()
        .expect("valid space");
    let mut study = Study::builder(&space)
        .sampler(Gp::default())
        .seed(1)
        .create()
        .expect("the GP searches any space");
    let mut times = Vec::with_capacity(n);
    let mut best = Vec::with_capacity(n);
    for _ in 0..n {
        let t0 = Instant::now();
        let trial = study.ask().expect("an untracked study cannot fail to ask");
        times.push(t0.elapsed());
        let loss = styblinski_tang(&study.trials().all()[trial.number()].x);
        study
            .tell(trial, loss)
            .expect("an untracked study cannot fail to tell");
        best.push(best.last().map_or(loss, |&b: &f64| b.min(loss)));
    }
    (times, best)
}

/// Minimum about -39.166 * DIMS at x_i = -2.9035.
fn styblinski_tang(x: &[f64]) -> f64 {
    x.iter()
        .map(|&v| 0.5 * (v.powi(4) - 16.0 * v * v + 5.0 * v))
        .sum()
}
