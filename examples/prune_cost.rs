//! Cost of a pruning decision as the history grows: the time of
//! [`TrialContext::report`](hyperflow::TrialContext::report) (the value recorded and the
//! pruner's answer) in an untracked study, for every built-in pruner with its defaults.
//!
//! ```text
//! cargo run --release --example prune_cost              # table: µs per reported value
//! ```
//!
//! Each search runs trials one after another with random suggestions (the sampler's cost
//! is not the pruner's) over one parameter `x`; a trial reports a learning curve of 81 steps,
//! `(x - 0.3)² + e^(-t/9)`, until the pruner stops it. The figure at `N` trials is the
//! mean time of the reports of the 25 trials before the `N`th, the smallest of three
//! runs of the same search (the machine is shared; noise only adds time).
//! `bench/prune/decision_cost.py` measures optuna's `trial.report` plus
//! `trial.should_prune` the same way.

use std::time::{Duration, Instant};

use hyperflow::algo::Random;
use hyperflow::prune::PrunerKind;
use hyperflow::{Outcome, Space, Study};

/// History sizes reported in the table.
const CHECKPOINTS: [usize; 4] = [10, 100, 1000, 5000];
/// Trials per figure: the reports of the last `WINDOW` before each checkpoint.
const WINDOW: usize = 25;
/// Steps of a full trial.
const STEPS: u64 = 81;

fn main() {
    let space = Space::builder()
        .uniform("x", 0.0, 1.0)
        .build()
        .expect("valid space");
    let header: Vec<String> = CHECKPOINTS.iter().map(usize::to_string).collect();
    println!("| pruner | {} |", header.join(" | "));
    println!("|---|{}", "---:|".repeat(CHECKPOINTS.len()));
    for kind in PrunerKind::ALL {
        let runs: Vec<Vec<Vec<Duration>>> = (0..3).map(|_| search(&space, kind)).collect();
        let cells: Vec<String> = CHECKPOINTS
            .iter()
            .map(|&n| {
                let best = runs
                    .iter()
                    .map(|per_trial| mean(&per_trial[n.saturating_sub(WINDOW)..n].concat()))
                    .min();
                format!("{:.2}", best.unwrap_or_default().as_secs_f64() * 1e6)
            })
            .collect();
        println!("| {} (µs) | {} |", kind.as_str(), cells.join(" | "));
    }
}

/// A search of as many trials as the last checkpoint with `kind`'s pruner; per trial, the
/// time of each of its reports.
fn search(space: &Space, kind: PrunerKind) -> Vec<Vec<Duration>> {
    let mut study = Study::builder(space)
        .sampler(Random)
        .boxed_pruner(kind.pruner())
        .seed(1)
        .create()
        .expect("an untracked study");
    let n = CHECKPOINTS[CHECKPOINTS.len() - 1];
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let trial = study.ask().expect("an untracked study cannot fail to ask");
        let x: f64 = trial.point().get("x").expect("x is in the space");
        let mut reports = Vec::with_capacity(STEPS as usize);
        let mut outcome = None;
        for step in 0..STEPS {
            let value = (x - 0.3).powi(2) + (-(step as f64) / 9.0).exp();
            let t0 = Instant::now();
            let prune = trial.context().report(step, value);
            reports.push(t0.elapsed());
            if prune.expect("an untracked study logs nothing") {
                outcome = Some(Outcome::pruned(format!("step {step}")));
                break;
            }
            outcome = Some(Outcome::loss(value));
        }
        study
            .tell(trial, outcome.expect("at least one step"))
            .expect("an untracked study cannot fail to tell");
        times.push(reports);
    }
    times
}

fn mean(times: &[Duration]) -> Duration {
    times.iter().sum::<Duration>() / times.len().max(1) as u32
}
