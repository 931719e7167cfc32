//! Time of one TPE suggestion as the history grows.
//!
//! `cargo bench --bench tpe`: the 5-parameter styblinski_tang5 space of the benchmark suite
//! and a 10-parameter conditional space, with 10, 100, 1000 and 10000 finished trials.

use std::hint::black_box;
use std::time::{Duration, SystemTime};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use hyperflow::algo::{Sampler, Tpe};
use hyperflow::rng::TrialRng;
use hyperflow::space::Space;
use hyperflow::trials::{Direction, Trial, TrialState, Trials};

fn styblinski() -> Space {
    (1..=5)
        .fold(Space::builder(), |b, i| {
            b.uniform(format!("x{i}"), -5.0, 5.0)
        })
        .build()
        .expect("valid space")
}

fn conditional() -> Space {
    Space::from_toml_str(include_str!("spaces/conditional10.toml")).expect("valid space")
}

/// A history of `n` finished trials: prior samples scored by a smooth function of the
/// encoded point (the sampler's cost does not depend on the objective).
fn history(space: &Space, n: usize) -> Trials {
    let mut trials = Trials::new(Direction::Minimize);
    for i in 0..n {
        let x = space.sample_prior(&mut TrialRng::for_trial(1, i as u64));
        let loss = x
            .iter()
            .filter(|v| !v.is_nan())
            .map(|v| (v.abs() + 1.0).ln().powi(2))
            .sum::<f64>();
        trials.push(Trial {
            number: i,
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
    trials
}

fn bench(c: &mut Criterion) {
    let tpe = Tpe::default();
    for (name, space) in [
        ("styblinski_tang5", styblinski()),
        ("conditional10", conditional()),
    ] {
        let mut group = c.benchmark_group(format!("tpe_suggest/{name}"));
        group.measurement_time(Duration::from_secs(3));
        group.warm_up_time(Duration::from_millis(500));
        for n in [10usize, 100, 1000, 10000] {
            let trials = history(&space, n);
            let mut seed = 0u64;
            group.bench_with_input(BenchmarkId::from_parameter(n), &trials, |b, trials| {
                b.iter(|| {
                    seed += 1;
                    black_box(tpe.suggest(&space, trials, &mut TrialRng::for_trial(9, seed)))
                })
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
