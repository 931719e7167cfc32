//! Parallel speedup: 200 trials of an objective that sleeps 20 ms, run with 1 and with 8
//! workers, with TPE and with the default `Auto` (a GP for these 200 trials); prints the
//! wall times, the speedups, and fails if any point was proposed twice.
//!
//! Run: `cargo run --release --example parallel_speedup`

use std::collections::HashMap;
use std::time::{Duration, Instant};

use hyperflow::algo::Algorithm;
use hyperflow::{Point, Space, fmin};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let space = Space::builder()
        .uniform("x", -5.0, 5.0)
        .loguniform("lr", 1e-4, 1.0)
        .quniform("depth", 1.0, 12.0, 1.0)
        .choice("kind", ["a", "b", "c"])
        .build()?;
    let objective = |p: &Point| -> Result<f64, hyperflow::PointError> {
        std::thread::sleep(Duration::from_millis(20));
        let x: f64 = p.get("x")?;
        let lr: f64 = p.get("lr")?;
        Ok((x - 1.0).powi(2) + (lr.log10() + 2.0).powi(2))
    };
    for algo in [Algorithm::Tpe, Algorithm::Auto] {
        let mut walls = Vec::new();
        for workers in [1, 8] {
            let started = Instant::now();
            let result = fmin(objective, &space)
                .boxed_algo(algo.sampler())
                .max_evals(200)
                .seed(3)
                .parallelism(workers)
                .progress(false)
                .run()?;
            let wall = started.elapsed();
            let mut seen: HashMap<String, usize> = HashMap::new();
            let repeats: Vec<String> = result
                .trials()
                .iter()
                .filter_map(|t| {
                    let first = *seen.entry(t.point.to_string()).or_insert(t.number);
                    (first != t.number)
                        .then(|| format!("trial {} repeats trial {first}: {}", t.number, t.point))
                })
                .collect();
            println!(
                "{algo}, parallelism {workers}: {:.2} s wall, {} trials, {} distinct points, best {:.4}",
                wall.as_secs_f64(),
                result.trials().len(),
                seen.len(),
                result.best_loss().unwrap_or(f64::NAN)
            );
            if !repeats.is_empty() {
                return Err(format!(
                    "{algo}: {} duplicate points proposed: {}",
                    repeats.len(),
                    repeats.join("; ")
                )
                .into());
            }
            walls.push(wall);
        }
        println!(
            "{algo}: speedup with 8 workers {:.2}x",
            walls[0].as_secs_f64() / walls[1].as_secs_f64()
        );
    }
    Ok(())
}
