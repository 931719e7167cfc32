//! Search quality with parallel workers: how much a TPE search loses when `W` trials are
//! pending at every suggestion, against the same search with one worker.
//!
//! ```text
//! cargo run --release --example parallel_quality -- [WORKERS] [SEEDS] [EVALS] [PROBLEMS] [SAMPLERS]
//! ```
//!
//! Every search is a [`Study`] driven by ask and tell with `W` trials in flight: `W` are
//! asked at once, then each tell of the oldest pending trial is followed by the next ask
//! (workers whose trials take the same time, finishing in the order they started). No
//! threads and no sleeping, so the runs are exact replays: the same seed gives the same
//! trials, and the sampler sees exactly `W - 1` pending trials at each steady-state ask
//! (what `fmin(..).parallelism(W)` gives with an objective of constant duration).
//!
//! Arguments (comma-separated lists; defaults in brackets):
//! - `WORKERS` [`1,4,16`]: trials in flight.
//! - `SEEDS` [`20`]: seeds 0..SEEDS per cell.
//! - `EVALS` [`100`]: trials per search.
//! - `PROBLEMS` [`hartmann6,branin,rosenbrock5,conditional,mixed`]: see [`Problem`].
//! - `SAMPLERS` [`tpe,noliar,random`]: `tpe` (the default TPE), `noliar` (pending trials
//!   ignored), `random`.
//!
//! Prints, per problem, the median and the mean regret (best loss minus the known
//! minimum) over the seeds for each sampler and number of workers.

use std::collections::VecDeque;
use std::process::ExitCode;

use hyperflow::algo::{Random, Sampler, Tpe};
use hyperflow::study::Study;
use hyperflow::{Point, PointError, Space};

#[path = "common/functions.rs"]
mod functions;

use functions::hartmann6;

/// A test function with its space and known minimum.
#[derive(Debug, Clone, Copy)]
enum Problem {
    /// Hartmann-6 on `[0, 1]^6`, minimum -3.32237.
    Hartmann6,
    /// Branin on `[-5, 10] x [0, 15]`, minimum 0.397887.
    Branin,
    /// Rosenbrock on `[-2, 2]^5`, minimum 0.
    Rosenbrock5,
    /// A choice between two models with their own parameters and a shared one, minimum 0.
    Conditional,
    /// Discrete and log-scaled kinds (a rate, an integer, a quantized real, a choice),
    /// minimum 0.
    Mixed,
}

impl Problem {
    fn parse(name: &str) -> Option<Problem> {
        Some(match name {
            "hartmann6" => Problem::Hartmann6,
            "branin" => Problem::Branin,
            "rosenbrock5" => Problem::Rosenbrock5,
            "conditional" => Problem::Conditional,
            "mixed" => Problem::Mixed,
            _ => return None,
        })
    }

    fn space(self) -> Result<Space, hyperflow::space::SpaceError> {
        let uniform = |n: usize, low: f64, high: f64| {
            (0..n).fold(Space::builder(), |b, i| {
                b.uniform(format!("x{i}"), low, high)
            })
        };
        match self {
            Problem::Hartmann6 => uniform(6, 0.0, 1.0).build(),
            Problem::Branin => Space::builder()
                .uniform("x0", -5.0, 10.0)
                .uniform("x1", 0.0, 15.0)
                .build(),
            Problem::Rosenbrock5 => uniform(5, -2.0, 2.0).build(),
            Problem::Conditional => Space::builder()
                .choice(
                    "model",
                    [
                        (
                            "smooth",
                            Space::builder()
                                .uniform("a", 0.0, 1.0)
                                .uniform("b", 0.0, 1.0),
                        ),
                        (
                            "tree",
                            Space::builder()
                                .loguniform("lr", 1e-5, 1.0)
                                .randint("depth", 1, 16),
                        ),
                    ],
                )
                .uniform("shared", -1.0, 1.0)
                .build(),
            Problem::Mixed => Space::builder()
                .loguniform("lr", 1e-5, 1.0)
                .randint("depth", 1, 20)
                .quniform("q", 0.0, 10.0, 0.5)
                .choice("opt", ["a", "b", "c"])
                .build(),
        }
    }

    fn minimum(self) -> f64 {
        match self {
            Problem::Hartmann6 => -3.32237,
            Problem::Branin => 0.397887,
            Problem::Rosenbrock5 | Problem::Conditional | Problem::Mixed => 0.0,
        }
    }

    fn loss(self, p: &Point) -> Result<f64, PointError> {
        let xs = |n: usize| -> Result<Vec<f64>, PointError> {
            (0..n).map(|i| p.get(&format!("x{i}"))).collect()
        };
        Ok(match self {
            Problem::Hartmann6 => hartmann6(&xs(6)?),
            Problem::Branin => {
                let x = xs(2)?;
                let b = 5.1 / (4.0 * std::f64::consts::PI.powi(2));
                let c = 5.0 / std::f64::consts::PI;
                let t = 1.0 / (8.0 * std::f64::consts::PI);
                (x[1] - b * x[0] * x[0] + c * x[0] - 6.0).powi(2)
                    + 10.0 * (1.0 - t) * x[0].cos()
                    + 10.0
            }
            Problem::Rosenbrock5 => xs(5)?
                .windows(2)
                .map(|w| 100.0 * (w[1] - w[0] * w[0]).powi(2) + (1.0 - w[0]).powi(2))
                .sum(),
            Problem::Conditional => {
                let shared: f64 = p.get("shared")?;
                let model = match p.get::<String>("model")?.as_str() {
                    "smooth" => {
                        let (a, b): (f64, f64) = (p.get("a")?, p.get("b")?);
                        (a - 0.3).powi(2) + 2.0 * (b - 0.8).powi(2)
                    }
                    _ => {
                        let lr: f64 = p.get("lr")?;
                        let depth: f64 = p.get("depth")?;
                        0.05 + 0.02 * (lr.log10() + 3.0).powi(2) + 0.002 * (depth - 6.0).powi(2)
                    }
                };
                model + 0.5 * (shared - 0.4).powi(2)
            }
            Problem::Mixed => {
                let lr: f64 = p.get("lr")?;
                let depth: f64 = p.get("depth")?;
                let q: f64 = p.get("q")?;
                let opt = match p.get::<String>("opt")?.as_str() {
                    "a" => 0.3,
                    "b" => 0.0,
                    _ => 0.5,
                };
                0.25 * (lr.log10() + 3.0).powi(2)
                    + 0.025 * (depth - 7.0).powi(2)
                    + 0.05 * (q - 3.5).powi(2)
                    + opt
            }
        })
    }
}

fn sampler(name: &str) -> Option<Box<dyn Sampler>> {
    Some(match name {
        "tpe" => Box::new(Tpe::default()),
        "noliar" => Box::new(Tpe::default().constant_liar(false)),
        "random" => Box::new(Random),
        _ => return None,
    })
}

/// The best loss of one search of `evals` trials with `workers` in flight.
fn search(
    problem: Problem,
    algo: &str,
    workers: usize,
    seed: u64,
    evals: usize,
) -> Result<f64, Box<dyn std::error::Error>> {
    let sampler = sampler(algo).ok_or_else(|| format!("unknown sampler {algo}"))?;
    let mut study = Study::builder(&problem.space()?)
        .boxed_sampler(sampler)
        .seed(seed)
        .create()?;
    let mut pending = VecDeque::new();
    let mut asked = 0;
    while asked < evals.min(workers) {
        pending.push_back(study.ask()?);
        asked += 1;
    }
    while let Some(trial) = pending.pop_front() {
        let loss = problem.loss(trial.point());
        study.tell(trial, loss)?;
        if asked < evals {
            pending.push_back(study.ask()?);
            asked += 1;
        }
    }
    let best = study
        .best()
        .and_then(|t| t.loss)
        .ok_or("no complete trial")?;
    Ok(best - problem.minimum())
}

fn list<T>(
    arg: Option<&String>,
    default: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<Vec<T>, String> {
    let text = arg.map_or(default, String::as_str);
    text.split(',')
        .map(|s| parse(s).ok_or_else(|| format!("unknown value {s:?} in {text:?}")))
        .collect()
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let workers = list(args.first(), "1,4,16", |s| s.parse::<usize>().ok())?;
    let seeds: u64 = args.get(1).map_or(Ok(20), |s| s.parse())?;
    let evals: usize = args.get(2).map_or(Ok(100), |s| s.parse())?;
    let problems = list(
        args.get(3),
        "hartmann6,branin,rosenbrock5,conditional,mixed",
        Problem::parse,
    )?;
    let algos = list(args.get(4), "tpe,noliar,random", |s| {
        sampler(s).map(|_| s.to_string())
    })?;
    println!("{evals} trials, {seeds} seeds; median (mean) regret");
    for &problem in &problems {
        let header: Vec<String> = workers.iter().map(|w| format!("W={w:<16}")).collect();
        println!(
            "{:<14} {:<10} {}",
            format!("{problem:?}"),
            "",
            header.join("")
        );
        for algo in &algos {
            let mut cells = Vec::new();
            for &w in &workers {
                let mut regrets = (0..seeds)
                    .map(|seed| search(problem, algo, w.max(1), seed, evals))
                    .collect::<Result<Vec<f64>, _>>()?;
                regrets.sort_by(f64::total_cmp);
                let mean = regrets.iter().sum::<f64>() / regrets.len().max(1) as f64;
                let median = regrets.get(regrets.len() / 2).copied().unwrap_or(f64::NAN);
                cells.push(format!("{:<18}", format!("{median:.4} ({mean:.4})")));
            }
            println!("{:<14} {algo:<10} {}", "", cells.join(""));
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("parallel_quality: {e}");
            ExitCode::FAILURE
        }
    }
}
