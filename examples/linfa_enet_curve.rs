//! A learning curve from real training: linfa's ElasticNet on the diabetes data set, trained
//! by coordinate-descent sweeps, with its validation mean squared error after each sweep.
//! The pruning benchmark (`bench/prune/`) tabulates these curves over a grid of settings.
//!
//! ```text
//! cargo run --release --example linfa_enet_curve -- --penalty 0.01 --l1-ratio 0.5 --sweeps 81
//! ```
//!
//! Prints one JSON line per sweep `k = 1..=SWEEPS`: `{"sweep": k, "val_mse": V}`, where `V`
//! is the validation MSE of the model after exactly `k` sweeps over the coefficients
//! (coordinate descent from zero is deterministic, so the fit limited to `k` sweeps with
//! no early stop is the `k`-th state of one training run). The split is seeded: 75 % of
//! the shuffled data to train, 25 % to validate. Defaults: penalty 0.01, l1 ratio 0.5,
//! 27 sweeps. Exits 2 with the reason on stderr for bad arguments.

use std::process::ExitCode;

use linfa::prelude::*;
use linfa_elasticnet::ElasticNet;
use rand08::SeedableRng;

const USAGE: &str =
    "usage: linfa_enet_curve [--penalty P (> 0)] [--l1-ratio R (0 to 1)] [--sweeps N (>= 1)]";

/// The command line, checked.
struct Args {
    penalty: f64,
    l1_ratio: f64,
    sweeps: u32,
}

fn parse_args(mut argv: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut args = Args {
        penalty: 0.01,
        l1_ratio: 0.5,
        sweeps: 27,
    };
    while let Some(flag) = argv.next() {
        let value = argv
            .next()
            .ok_or_else(|| format!("`{flag}` needs a value; {USAGE}"))?;
        let bad = |e: &dyn std::fmt::Display| format!("`{flag} {value}`: {e}; {USAGE}");
        match flag.as_str() {
            "--penalty" => args.penalty = value.parse().map_err(|e| bad(&e))?,
            "--l1-ratio" => args.l1_ratio = value.parse().map_err(|e| bad(&e))?,
            "--sweeps" => args.sweeps = value.parse().map_err(|e| bad(&e))?,
            _ => return Err(format!("unknown argument `{flag}`; {USAGE}")),
        }
    }
    let out_of_range = if !(args.penalty > 0.0 && args.penalty.is_finite()) {
        Some(format!("--penalty {}", args.penalty))
    } else if !(0.0..=1.0).contains(&args.l1_ratio) {
        Some(format!("--l1-ratio {}", args.l1_ratio))
    } else if args.sweeps == 0 {
        Some("--sweeps 0".to_string())
    } else {
        None
    };
    match out_of_range {
        Some(what) => Err(format!("`{what}` is out of range; {USAGE}")),
        None => Ok(args),
    }
}

fn run(args: &Args) -> Result<(), String> {
    let mut rng = rand08::rngs::StdRng::seed_from_u64(42);
    let (train, valid) = linfa_datasets::diabetes()
        .shuffle(&mut rng)
        .split_with_ratio(0.75);
    for sweep in 1..=args.sweeps {
        let model = ElasticNet::params()
            .penalty(args.penalty)
            .l1_ratio(args.l1_ratio)
            // No early stop: the fit runs exactly `sweep` sweeps.
            .tolerance(0.0)
            .max_iterations(sweep)
            .fit(&train)
            .map_err(|e| format!("fitting {sweep} sweeps: {e}"))?;
        let mse = model
            .predict(&valid)
            .mean_squared_error(&valid)
            .map_err(|e| format!("scoring after {sweep} sweeps: {e}"))?;
        println!("{}", serde_json::json!({ "sweep": sweep, "val_mse": mse }));
    }
    Ok(())
}

fn main() -> ExitCode {
    match parse_args(std::env::args().skip(1)).and_then(|args| run(&args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("linfa_enet_curve: {message}");
            ExitCode::from(2)
        }
    }
}
