//! Overhead of `fmin` itself: a search of 1,000 trials with a no-op objective, so the time
//! is the loop's own (proposing, recording, observers) plus the sampler's.
//!
//! `cargo bench --bench fmin`; divide by 1,000 for the cost per trial. How the cost grows
//! with the number of trials: `cargo run --release --example fmin_overhead`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use hyperflow::algo::{Algorithm, Sampler};
use hyperflow::{Point, Space, fmin};

fn space() -> Space {
    (1..=5)
        .fold(Space::builder(), |b, i| {
            b.uniform(format!("x{i}"), -5.0, 5.0)
        })
        .build()
        .expect("valid space")
}

/// No work beyond reading one value, so the search has something to rank.
fn noop(p: &Point) -> f64 {
    p.get::<f64>("x1").unwrap_or(f64::NAN)
}

fn search(space: &Space, algo: Box<dyn Sampler>, trials: usize, parallelism: Option<usize>) {
    let mut f = fmin(noop, space)
        .boxed_algo(algo)
        .max_evals(trials)
        .seed(1)
        .progress(false);
    if let Some(p) = parallelism {
        f = f.parallelism(p);
    }
    black_box(f.run().expect("search runs"));
}

fn bench(c: &mut Criterion) {
    let space = space();
    let mut group = c.benchmark_group("fmin_1000_trials");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(5));
    for algo in [Algorithm::Random, Algorithm::Tpe] {
        let name = algo.as_str();
        for (label, parallelism) in [("parallelism_1", Some(1)), ("default", None)] {
            group.bench_function(BenchmarkId::new(name, label), |b| {
                b.iter(|| search(&space, algo.sampler(), 1000, parallelism))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
