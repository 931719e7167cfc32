//! Report over 10,000 trials of 10 parameters: analysis, terminal and HTML rendering.
//!
//! The target is under 1 s for the whole `hyperflow report`, reading from SQLite
//! included; the store read is measured where the store adapter lives.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use hyperflow::report::{ReportInput, ReportOptions, ReportTrial, TrialSet, analyze, render};
use hyperflow::rng::TrialRng;
use hyperflow::{Direction, Space};
use rand::RngExt;

fn input(n: usize) -> ReportInput {
    let space = Space::builder()
        .loguniform("lr", 1e-5, 1e-1)
        .loguniform("l2", 1e-6, 1.0)
        .loguniform("min_child_weight", 1e-2, 1e2)
        .uniform("subsample", 0.5, 1.0)
        .uniform("colsample", 0.3, 1.0)
        .uniform("dropout", 0.0, 0.5)
        .randint("max_depth", 1, 20)
        .randint("n_layers", 1, 8)
        .choice("booster", ["gbtree", "dart", "gblinear"])
        .choice("criterion", ["gini", "entropy"])
        .build()
        .expect("valid space");
    let trials = (0..n)
        .map(|i| {
            let mut rng = TrialRng::for_trial(1, i as u64);
            let point = space.decode(&space.sample_prior(&mut rng));
            let lr: f64 = point.get("lr").unwrap_or(1e-3);
            let depth: f64 = point.get("max_depth").unwrap_or(8.0);
            let loss = (lr.log10() + 2.0).powi(2)
                + (6.0 - depth).max(depth - 10.0).max(0.0)
                + rng.random::<f64>();
            ReportTrial::complete(i, point, loss)
        })
        .collect();
    ReportInput::single(
        Direction::Minimize,
        TrialSet::new("bench", trials).with_space(space),
    )
}

fn bench(c: &mut Criterion) {
    let input = input(10_000);
    let options = ReportOptions::default();
    let report = analyze(&input, &options).expect("report");
    // Sizes, for the record: scatter plots are capped at 2,000 points each.
    let html = render::html(&report).expect("html");
    eprintln!(
        "report of 10,000 trials: terminal {} bytes, HTML {} bytes, JSON {} bytes",
        render::terminal(&report).len(),
        html.len(),
        render::json(&report).expect("json").len()
    );
    let mut g = c.benchmark_group("report_10k_trials_10_params");
    g.sample_size(10).measurement_time(Duration::from_secs(8));
    g.bench_function("analyze", |b| {
        b.iter(|| analyze(black_box(&input), &options))
    });
    g.bench_function("terminal", |b| {
        b.iter(|| render::terminal(black_box(&report)))
    });
    g.bench_function("html", |b| b.iter(|| render::html(black_box(&report))));
    g.bench_function("analyze+terminal+html", |b| {
        b.iter(|| {
            let r = analyze(black_box(&input), &options).expect("report");
            (render::terminal(&r), render::html(&r))
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
