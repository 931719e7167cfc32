//! Cost of one TPE suggestion in a running search, as the history grows.
//!
//! ```text
//! cargo run --release --example tpe_cost                      # table: µs per suggestion
//! cargo run --release --example tpe_cost -- styblinski 1000 50  # 50 steps at 1000 trials
//! ```
//!
//! A step is what a sequential search does between two suggestions: one trial is completed
//! and the next point is suggested. With arguments it runs `STEPS` steps on a history of `N`
//! finished trials (for `valgrind --tool=callgrind --toggle-collect='*Tpe*suggest*'`).

use std::time::{Duration, Instant, SystemTime};

use hyperflow::algo::{Sampler, Tpe};
use hyperflow::rng::TrialRng;
use hyperflow::space::Space;
use hyperflow::trials::{Direction, Trial, TrialState, Trials};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => table(),
        [space, n, steps] => {
            let (Ok(n), Ok(steps)) = (n.parse(), steps.parse()) else {
                eprintln!("usage: tpe_cost [SPACE N STEPS]");
                std::process::exit(2);
            };
            let t = steps_at(&space_named(space), n, steps);
            println!("{space} n={n}: {:.1} µs per suggestion", micros(t, steps));
        }
        _ => {
            eprintln!("usage: tpe_cost [SPACE N STEPS]");
            std::process::exit(2);
        }
    }
}

fn micros(t: Duration, steps: usize) -> f64 {
    t.as_secs_f64() * 1e6 / steps.max(1) as f64
}

fn table() {
    println!("| space | 10 | 100 | 1000 | 10000 |");
    println!("|---|---:|---:|---:|---:|");
    for name in ["styblinski", "conditional"] {
        let space = space_named(name);
        let cells: Vec<String> = [10, 100, 1000, 10000]
            .iter()
            .map(|&n| {
                // Enough steps for a stable mean, few enough that the history barely grows.
                let steps = (n / 10).clamp(10, 200);
                // The fastest of 5 runs: the machine is shared, and noise only adds time.
                let best = (0..5).map(|_| steps_at(&space, n, steps)).min();
                format!("{:.1}", micros(best.unwrap_or_default(), steps))
            })
            .collect();
        println!("| {name} | {} |", cells.join(" | "));
    }
}

/// Total time of `steps` suggestions, each after one more completed trial, starting from
/// `n` finished trials.
fn steps_at(space: &Space, n: usize, steps: usize) -> Duration {
    let tpe = Tpe::default();
    let mut trials = Trials::new(Direction::Minimize);
    for i in 0..n {
        let x = space.sample_prior(&mut TrialRng::for_trial(1, i as u64));
        complete(&mut trials, space, x);
    }
    // The first suggestion on a history fits everything from scratch: not timed.
    let mut x = tpe.suggest(space, &trials, &mut TrialRng::for_trial(9, n as u64));
    let mut total = Duration::ZERO;
    for step in 0..steps {
        complete(&mut trials, space, x);
        let t0 = Instant::now();
        x = tpe.suggest(
            space,
            &trials,
            &mut TrialRng::for_trial(9, (n + step) as u64),
        );
        total += t0.elapsed();
    }
    total
}

/// Appends `x` as a complete trial, scored by a smooth function of the encoded point (the
/// sampler's cost does not depend on the objective).
fn complete(trials: &mut Trials, space: &Space, x: Vec<f64>) {
    let loss = x
        .iter()
        .filter(|v| !v.is_nan())
        .map(|v| (v.abs() + 1.0).ln().powi(2))
        .sum::<f64>();
    trials.push(Trial {
        number: trials.len(),
        state: TrialState::Complete,
        point: space.decode(&x),
        x,
        loss: Some(loss),
        metrics: Vec::new(),
        error: None,
        started: SystemTime::UNIX_EPOCH,
        duration: Some(Duration::ZERO),
    });
}

fn space_named(name: &str) -> Space {
    let built = match name {
        "styblinski" => (1..=5)
            .fold(Space::builder(), |b, i| {
                b.uniform(format!("x{i}"), -5.0, 5.0)
            })
            .build()
            .map_err(|e| e.to_string()),
        "conditional" => Space::from_toml_str(include_str!("spaces/conditional10.toml"))
            .map_err(|e| e.to_string()),
        other => {
            eprintln!("unknown space {other:?}: styblinski or conditional");
            std::process::exit(2);
        }
    };
    built.expect("valid space")
}
