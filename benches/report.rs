//! Report over 10,000 trials of 10 parameters: reading them from SQLite, analysis, terminal
//! and HTML rendering.
//!
//! The target is under 1 s for the whole `hyperflow report`, reading from SQLite
//! included. The 10,000 trials are written once into a temporary SQLite store, shaped as
//! `fmin`'s `TrackingObserver` writes them (a parent run with `space.json`, child runs with
//! the point as params, the `loss` metric and the observer's tags), then
//! `report::from_store` reads them back as `hyperflow report --parent` does.
//!
//! `cargo bench --bench report`

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use std::sync::Arc;

use hyperflow::report::{
    ReportInput, ReportOptions, ReportSource, ReportTrial, StoreOptions, TrialSet, analyze,
    from_store, render,
};
use hyperflow::rng::TrialRng;
use hyperflow::tracking::{
    Metric, Param, RunOptions, RunRecord, RunStart, SqliteStore, Tag, Tracker,
};
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

/// Writes `input`'s single group into a fresh SQLite store under `dir` as one sweep;
/// returns the tracker and the parent run id.
fn write_store(input: &ReportInput, dir: &std::path::Path) -> (Tracker, String) {
    let store = SqliteStore::open_with_artifact_root(dir.join("runs.db"), dir.join("artifacts"))
        .expect("store");
    let tracker = Tracker::new(Arc::new(store));
    let exp = tracker.create_experiment("bench").expect("experiment");
    let group = &input.groups[0];
    let parent = tracker
        .start_run(
            RunOptions::new()
                .experiment(&exp)
                .tag("hyperflow.role", "search"),
        )
        .expect("parent");
    parent.log_param("direction", "minimize").expect("param");
    let space = group.space.as_ref().expect("space");
    parent
        .log_json(&space.to_json(), "space.json")
        .expect("space.json");
    let parent_id = parent.id().to_string();
    for t in &group.trials {
        let record = RunRecord {
            start: RunStart {
                run_name: Some(format!("trial-{}", t.number)),
                user_id: Some("bench".into()),
                start_time: Some(1_700_000_000_000 + t.number as i64),
                tags: vec![
                    Tag::new("mlflow.user", "bench"),
                    Tag::new("mlflow.source.type", "LOCAL"),
                    Tag::new("mlflow.source.name", "/usr/local/bin/train"),
                    Tag::new("mlflow.parentRunId", parent_id.clone()),
                    Tag::new("hyperflow.trial", t.number.to_string()),
                    Tag::new("hyperflow.role", "trial"),
                    Tag::new("hyperflow.state", "COMPLETE"),
                ],
            },
            metrics: vec![Metric::new("loss", t.loss.expect("loss"))],
            params: t
                .params
                .iter()
                .map(|(k, v)| Param::new(k, v.to_string()))
                .collect(),
            ..RunRecord::default()
        };
        tracker.record_run(&exp, &record).expect("run");
    }
    parent
        .end(hyperflow::tracking::RunStatus::Finished)
        .expect("end");
    (tracker, parent_id)
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

    // Reading from SQLite, and the whole `hyperflow report` pipeline.
    // REPORT_BENCH_DIR=<empty dir> keeps the database, e.g. to try `hyperflow report` on it.
    let temp = tempfile::tempdir().expect("tempdir");
    let dir =
        std::env::var_os("REPORT_BENCH_DIR").map_or_else(|| temp.path().to_path_buf(), Into::into);
    let written = std::time::Instant::now();
    let (tracker, parent) = write_store(&input, &dir);
    eprintln!(
        "wrote 10,000 trial runs into {} in {:.1} s; parent run {parent}",
        dir.join("runs.db").display(),
        written.elapsed().as_secs_f64()
    );
    let source = ReportSource::Parent(parent);
    let store_options = StoreOptions::default();
    let read = from_store(&tracker, &source, &store_options).expect("read");
    assert_eq!(read.input.groups[0].trials.len(), 10_000);
    assert_eq!(read.input.groups[0].space, input.groups[0].space);
    let mut g = c.benchmark_group("report_10k_trials_10_params_sqlite");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    g.bench_function("read", |b| {
        b.iter(|| from_store(&tracker, black_box(&source), &store_options))
    });
    g.bench_function("read+analyze+terminal+html", |b| {
        b.iter(|| {
            let read = from_store(&tracker, black_box(&source), &store_options).expect("read");
            let r = analyze(&read.input, &options).expect("report");
            (render::terminal(&r), render::html(&r))
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
