//! Cost of one TPE suggestion in a real search, as the history grows: the time of
//! [`Study::ask`](hyperflow::Study::ask), which is the suggestion plus recording the trial.
//!
//! ```text
//! cargo run --release --example tpe_cost                         # table: µs per suggestion
//! cargo run --release --example tpe_cost -- styblinski 1000 50   # 50 steps after 1000 trials
//! ```
//!
//! `styblinski-asha` is the same search pruned: each trial reports a learning curve of 80
//! steps converging on its value (`f + 3 e^(-t/9)`) to ASHA with its defaults, so that most
//! of the history is pruned trials, which TPE ranks after the complete ones.
//!
//! Measured as the peers' harness does (`../shared/bench`): one sequential search minimizes
//! the problem itself, each suggestion is timed, and the figure at N trials is the median of
//! the 25 suggestions made with N - 24 to N trials in the history. The history is the
//! search's own, concentrated where the objective is low, which is what a sampler faces
//! (a history of random points would flatter it: its estimators would be spread out).
//!
//! With arguments it runs a search of `N` trials and then `STEPS` more, for instruction
//! counts: `valgrind --tool=callgrind --toggle-collect='*TpeSession*suggest*'` of that run minus the
//! same run with 0 steps, divided by `STEPS`.

use std::time::{Duration, Instant};

use hyperflow::algo::Tpe;
use hyperflow::prune::SuccessiveHalving;
use hyperflow::space::Space;
use hyperflow::{Outcome, Study};

/// History sizes reported in the table.
const CHECKPOINTS: [usize; 6] = [10, 100, 500, 1000, 2000, 10000];
/// Suggestions per figure: the median of the last `WINDOW` before each checkpoint.
const WINDOW: usize = 25;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => table(),
        [name, n, steps] => {
            let (Ok(n), Ok(steps)) = (n.parse::<usize>(), steps.parse::<usize>()) else {
                usage();
            };
            let problem = Problem::named(name);
            let times = problem.search(n + steps);
            let total: Duration = times[n..].iter().sum();
            let per = total.as_secs_f64() * 1e6 / steps.max(1) as f64;
            println!("{name} n={n}: {per:.1} µs per suggestion (mean of {steps})");
        }
        _ => usage(),
    }
}

fn usage() -> ! {
    eprintln!(
        "usage: tpe_cost [SPACE N STEPS]   (SPACE: styblinski, styblinski-asha or conditional)"
    );
    std::process::exit(2);
}

fn table() {
    let header: Vec<String> = CHECKPOINTS.iter().map(usize::to_string).collect();
    println!("| space | {} |", header.join(" | "));
    println!("|---|{}", "---:|".repeat(CHECKPOINTS.len()));
    for name in ["styblinski", "styblinski-asha", "conditional"] {
        let problem = Problem::named(name);
        let last = CHECKPOINTS[CHECKPOINTS.len() - 1];
        // The same search three times (same seed, same trials): the machine is shared, and
        // noise only adds time, so each figure is the smallest of the three medians.
        let runs: Vec<Vec<Duration>> = (0..3).map(|_| problem.search(last)).collect();
        let cells: Vec<String> = CHECKPOINTS
            .iter()
            .map(|&n| {
                let best = runs.iter().map(|t| median(&t[n - WINDOW.min(n)..n])).min();
                format!("{:.1}", best.unwrap_or_default().as_secs_f64() * 1e6)
            })
            .collect();
        println!("| {name} (µs) | {} |", cells.join(" | "));
    }
}

fn median(times: &[Duration]) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort();
    sorted[sorted.len() / 2]
}

/// A space, the objective a search minimizes on it, and whether trials report curves to
/// a pruner.
struct Problem {
    space: Space,
    objective: fn(&[f64]) -> f64,
    pruned: bool,
}

/// Steps a pruned search's trials report before their value.
const CURVE_STEPS: u64 = 80;

impl Problem {
    fn named(name: &str) -> Problem {
        match name {
            "styblinski" | "styblinski-asha" => Problem {
                space: (1..=5)
                    .fold(Space::builder(), |b, i| {
                        b.uniform(format!("x{i}"), -5.0, 5.0)
                    })
                    .build()
                    .expect("valid space"),
                objective: styblinski_tang,
                pruned: name == "styblinski-asha",
            },
            "conditional" => Problem {
                space: Space::from_toml_str(include_str!("spaces/conditional10.toml"))
                    .expect("valid space"),
                objective: training_like,
                pruned: false,
            },
            other => {
                eprintln!("unknown space {other:?}");
                usage();
            }
        }
    }

    /// Runs a sequential search of `n` trials with the default TPE (seed 1) and returns
    /// the time of each suggestion.
    fn search(&self, n: usize) -> Vec<Duration> {
        let mut builder = Study::builder(&self.space).sampler(Tpe::default()).seed(1);
        if self.pruned {
            builder = builder.pruner(SuccessiveHalving::new());
        }
        let mut study = builder.create().expect("TPE searches any space");
        let mut times = Vec::with_capacity(n);
        for _ in 0..n {
            let t0 = Instant::now();
            let trial = study.ask().expect("an untracked study cannot fail to ask");
            times.push(t0.elapsed());
            let loss = (self.objective)(&study.trials().all()[trial.number()].x);
            let stopped = self.pruned
                && (1..=CURVE_STEPS).any(|t| {
                    let value = loss + 3.0 * (-(t as f64) / 9.0).exp();
                    trial
                        .context()
                        .report(t, value)
                        .expect("an untracked study cannot fail to record")
                });
            let outcome = if stopped {
                Outcome::pruned("asha")
            } else {
                Outcome::loss(loss)
            };
            study
                .tell(trial, outcome)
                .expect("an untracked study cannot fail to tell");
        }
        times
    }
}

/// The suite's styblinski_tang5: minimum about -195.83 at x_i = -2.9035.
fn styblinski_tang(x: &[f64]) -> f64 {
    x.iter()
        .map(|&v| 0.5 * (v.powi(4) - 16.0 * v * v + 5.0 * v))
        .sum()
}

/// A smooth stand-in for a training run on the conditional space (encoded values: lr,
/// weight_decay, batch, dropout, layers, optimizer, then each option's two parameters):
/// best near lr 3e-3, little weight decay, batch 128, dropout 0.2, 4 layers, adam.
fn training_like(x: &[f64]) -> f64 {
    let sq = |v: f64| v * v;
    let base = sq(x[0].log10() + 2.5)
        + 0.1 * sq(x[1].log10() + 5.0)
        + sq((x[2] - 128.0) / 256.0)
        + sq(x[3] - 0.2)
        + 0.05 * sq(x[4] - 4.0);
    let by_option = if x[5] == 0.0 {
        sq(x[6] - 0.9) + 0.01 * sq(x[7].log10() + 8.0)
    } else {
        0.3 + sq(x[8] - 0.9) + 0.1 * x[9]
    };
    base + by_option
}
