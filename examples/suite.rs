//! The benchmark problems of `../shared/bench/suite.json`, minimised with hyperflow's
//! default sampler (or the one `--algo` names), following the suite's external-engine
//! contract.
//!
//! ```text
//! cargo run --release --example suite -- branin 0 100     # prints {"values": [...], "optimizer_seconds": S}
//! cargo run --release --example suite -- --algo tpe branin 0 100
//! cargo run --release --example suite -- --check          # verifies every formula against suite.json
//! ```
//!
//! `--check` reads the suite from `$PEERS_SUITE`, or `../shared/bench/suite.json` relative
//! to the crate root.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use hyperflow::Study;
use hyperflow::algo::{Algorithm, Bandwidth, Gamma, Tpe};
use hyperflow::space::{Point, Space, SpaceError};

/// One benchmark problem: its space and objective.
struct Problem {
    space: Space,
    f: fn(&Point) -> f64,
}

fn get(p: &Point, name: &str) -> f64 {
    // The spaces below are built from the same names, so a miss is a bug in this file.
    p.get::<f64>(name)
        .unwrap_or_else(|e| panic!("objective read {name}: {e}"))
}

fn xs(p: &Point, n: usize) -> Vec<f64> {
    (1..=n).map(|i| get(p, &format!("x{i}"))).collect()
}

fn uniform_box(n: usize, low: f64, high: f64) -> Result<Space, SpaceError> {
    (1..=n)
        .fold(Space::builder(), |b, i| {
            b.uniform(format!("x{i}"), low, high)
        })
        .build()
}

fn branin(p: &Point) -> f64 {
    let (x1, x2) = (get(p, "x1"), get(p, "x2"));
    let pi = std::f64::consts::PI;
    let (a, b, c, r, s, t) = (
        1.0,
        5.1 / (4.0 * pi * pi),
        5.0 / pi,
        6.0,
        10.0,
        1.0 / (8.0 * pi),
    );
    a * (x2 - b * x1 * x1 + c * x1 - r).powi(2) + s * (1.0 - t) * x1.cos() + s
}

fn rosenbrock4(p: &Point) -> f64 {
    let x = xs(p, 4);
    (0..3)
        .map(|i| 100.0 * (x[i + 1] - x[i] * x[i]).powi(2) + (1.0 - x[i]).powi(2))
        .sum()
}

fn ackley5(p: &Point) -> f64 {
    let x = xs(p, 5);
    let d = x.len() as f64;
    let (a, b, c) = (20.0, 0.2, 2.0 * std::f64::consts::PI);
    let sq = x.iter().map(|v| v * v).sum::<f64>() / d;
    let cs = x.iter().map(|v| (c * v).cos()).sum::<f64>() / d;
    -a * (-b * sq.sqrt()).exp() - cs.exp() + a + std::f64::consts::E
}

fn styblinski_tang5(p: &Point) -> f64 {
    0.5 * xs(p, 5)
        .iter()
        .map(|v| v.powi(4) - 16.0 * v * v + 5.0 * v)
        .sum::<f64>()
}

fn logscale_lr(p: &Point) -> f64 {
    let u = get(p, "lr").log10() + 2.5;
    let v = get(p, "wd").log10() + 4.0;
    let bias = get(p, "bias");
    u * u + 0.5 * u * v + 0.5 * v * v + 0.25 * (bias - 0.5).powi(2)
}

fn int_quantized(p: &Point) -> f64 {
    let n_layers = get(p, "n_layers");
    let units = get(p, "units");
    let dropout = get(p, "dropout");
    let pen = match p.get::<String>("activation").as_deref() {
        Ok("relu") => 0.0,
        Ok("tanh") => 0.3,
        _ => 1.0,
    };
    0.5 * (n_layers - 3.0).powi(2)
        + ((units - (64.0 * n_layers + 16.0)) / 64.0).powi(2)
        + ((dropout - 0.15) / 0.1).powi(2)
        + pen
}

fn problem(name: &str) -> Result<Problem, String> {
    let built = match name {
        "branin" => Space::builder()
            .uniform("x1", -5.0, 10.0)
            .uniform("x2", 0.0, 15.0)
            .build()
            .map(|s| (s, branin as fn(&Point) -> f64)),
        "rosenbrock4" => uniform_box(4, -5.0, 10.0).map(|s| (s, rosenbrock4 as _)),
        "ackley5" => uniform_box(5, -32.768, 32.768).map(|s| (s, ackley5 as _)),
        "styblinski_tang5" => uniform_box(5, -5.0, 5.0).map(|s| (s, styblinski_tang5 as _)),
        "logscale_lr" => Space::builder()
            .loguniform("lr", 1e-5, 1.0)
            .loguniform("wd", 1e-7, 0.1)
            .normal("bias", 0.0, 1.0)
            .build()
            .map(|s| (s, logscale_lr as _)),
        "int_quantized" => Space::builder()
            .randint("n_layers", 1, 9)
            .quniform("units", 16.0, 512.0, 16.0)
            .quniform("dropout", 0.0, 0.5, 0.05)
            .choice("activation", ["relu", "tanh", "sigmoid"])
            .build()
            .map(|s| (s, int_quantized as _)),
        other => return Err(format!("unknown problem {other:?}")),
    };
    let (space, f) = built.map_err(|e| e.to_string())?;
    Ok(Problem { space, f })
}

/// Minimises `name` for `evals` evaluations with `algo` (the default sampler when `None`),
/// asking and telling a study; returns the values in evaluation order and the time spent
/// in the optimizer.
fn run(
    name: &str,
    algo: Option<Algorithm>,
    seed: u64,
    evals: usize,
) -> Result<(Vec<f64>, Duration), String> {
    let Problem { space, f } = problem(name)?;
    let builder = Study::builder(&space).seed(seed);
    let tuned = std::env::var_os("SUITE_TPE").is_some();
    let builder = match algo {
        Some(Algorithm::Tpe) => builder.sampler(tpe_from_env()?),
        _ if tuned => return Err("SUITE_TPE needs --algo tpe".to_string()),
        Some(other) => builder.boxed_sampler(other.sampler()),
        None => builder,
    };
    let mut study = builder.create().map_err(|e| e.to_string())?;
    let mut values = Vec::with_capacity(evals);
    let mut optimizer = Duration::ZERO;
    for _ in 0..evals {
        let t0 = Instant::now();
        let trial = study.ask().map_err(|e| e.to_string())?;
        optimizer += t0.elapsed();
        let value = f(trial.point());
        values.push(value);
        let t0 = Instant::now();
        study.tell(trial, value).map_err(|e| e.to_string())?;
        optimizer += t0.elapsed();
    }
    Ok((values, optimizer))
}

/// The default TPE, or for tuning experiments a variant described in `$SUITE_TPE` as
/// comma-separated `key=value` pairs (`n_startup=20,gamma=sqrt:0.25:25,multivariate=false`).
/// Unset, the search uses exactly [`Tpe::default`].
fn tpe_from_env() -> Result<Tpe, String> {
    let Ok(spec) = std::env::var("SUITE_TPE") else {
        return Ok(Tpe::default());
    };
    let mut tpe = Tpe::default();
    for kv in spec.split(',').filter(|s| !s.is_empty()) {
        let (k, v) = kv
            .split_once('=')
            .ok_or(format!("SUITE_TPE: {kv:?} is not key=value"))?;
        let bad = |e: &dyn std::fmt::Display| format!("SUITE_TPE: bad value in {kv:?}: {e}");
        tpe = match k {
            "n_startup" => tpe.n_startup(v.parse().map_err(|e| bad(&e))?),
            "n_candidates" => tpe.n_candidates(v.parse().map_err(|e| bad(&e))?),
            "prior_weight" => tpe.prior_weight(v.parse().map_err(|e| bad(&e))?),
            "min_bandwidth" => tpe.min_bandwidth(v.parse().map_err(|e| bad(&e))?),
            "magic_clip" => tpe.magic_clip(v.parse().map_err(|e| bad(&e))?),
            "consider_endpoints" => tpe.consider_endpoints(v.parse().map_err(|e| bad(&e))?),
            "multivariate" => tpe.multivariate(v.parse().map_err(|e| bad(&e))?),
            "forgetting" => tpe.forgetting(v.parse().ok()),
            "bandwidth" => tpe.bandwidth(match v {
                "neighbor" => Bandwidth::Neighbor,
                "hyperopt" => Bandwidth::HyperoptNeighbor,
                "scott" => Bandwidth::Scott,
                _ => return Err(format!("SUITE_TPE: unknown bandwidth {v:?}")),
            }),
            "gamma" => {
                let parts: Vec<&str> = v.split(':').collect();
                let (beta, cap) = match parts.as_slice() {
                    [_, b, c] => (
                        b.parse().map_err(|e| bad(&e))?,
                        c.parse().map_err(|e| bad(&e))?,
                    ),
                    _ => {
                        return Err(format!(
                            "SUITE_TPE: gamma is linear|sqrt:BETA:CAP, got {v:?}"
                        ));
                    }
                };
                tpe.gamma(if parts[0] == "sqrt" {
                    Gamma::Sqrt { beta, cap }
                } else {
                    Gamma::Linear { beta, cap }
                })
            }
            "preset" if v == "hyperopt" => Tpe::hyperopt_compat(),
            _ => return Err(format!("SUITE_TPE: unknown key {k:?}")),
        };
    }
    Ok(tpe)
}

/// Evaluates every problem at the suite's test points.
fn check() -> Result<(), String> {
    let path = std::env::var("PEERS_SUITE").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/bench/suite.json").to_string()
    });
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    let suite: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{path}: {e}"))?;
    let problems = suite["problems"]
        .as_array()
        .ok_or("suite has no problems")?;
    let mut worst: f64 = 0.0;
    for p in problems {
        let name = p["name"].as_str().ok_or("problem without a name")?;
        let Problem { space, f } = problem(name)?;
        for tp in p["test_points"].as_array().ok_or("no test_points")? {
            let entries = tp["x"]
                .as_object()
                .ok_or("test point without x")?
                .iter()
                .map(|(k, v)| {
                    serde_json::from_value(v.clone())
                        .map(|v| (k.clone(), v))
                        .map_err(|e| e.to_string())
                })
                .collect::<Result<Vec<_>, _>>()?;
            let point = Point::from_entries(entries);
            space.encode(&point).map_err(|e| format!("{name}: {e}"))?;
            let want = tp["f"].as_f64().ok_or("test point without f")?;
            let got = f(&point);
            let rel = (got - want).abs() / want.abs().max(1e-12);
            worst = worst.max(rel);
            if rel > 1e-9 {
                return Err(format!("{name} at {point}: got {got}, want {want}"));
            }
        }
        println!("{name}: ok");
    }
    println!("all test points match (worst relative error {worst:.1e})");
    Ok(())
}

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let algo = match args.first().map(String::as_str) {
        Some("--algo") if args.len() > 1 => {
            let name = args.drain(..2).nth(1).unwrap_or_default();
            match name.parse::<Algorithm>() {
                Ok(algo) => Some(algo),
                Err(e) => {
                    eprintln!("suite: {e}");
                    return ExitCode::FAILURE;
                }
            }
        }
        _ => None,
    };
    let result = match args.as_slice() {
        [flag] if flag == "--check" => check(),
        [name, seed, evals] => match (seed.parse::<u64>(), evals.parse::<usize>()) {
            (Ok(seed), Ok(evals)) => run(name, algo, seed, evals).map(|(values, t)| {
                let out =
                    serde_json::json!({"values": values, "optimizer_seconds": t.as_secs_f64()});
                println!("{out}");
            }),
            _ => Err("SEED and EVALS must be non-negative integers".to_string()),
        },
        _ => Err("usage: suite [--algo NAME] PROBLEM SEED EVALS | suite --check".to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("suite: {e}");
            ExitCode::FAILURE
        }
    }
}
