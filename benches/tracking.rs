//! Tracking benchmarks (SQLite store, real files):
//! - `log_batch`: 1000 metric points per call (target ≥ 100,000 points/s);
//! - `child_run`: a nested child run with 10 params, 5 metrics and tags, then finished
//!   (target ≤ 0.4 ms);
//! - `search_100k`: a two-clause filter plus order_by over 100,000 runs (target < 100 ms),
//!   and a param filter that one run matches.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hyperflow::tracking::*;
use std::sync::Arc;

fn open(dir: &std::path::Path) -> Tracker {
    let store =
        SqliteStore::open_with_artifact_root(dir.join("bench.db"), dir.join("art")).unwrap();
    Tracker::new(Arc::new(store))
}

fn log_batch(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let t = open(dir.path());
    let run = t.start_run(RunOptions::new()).unwrap();
    let mut step = 0i64;
    let mut g = c.benchmark_group("log_batch");
    g.throughput(Throughput::Elements(1000));
    g.bench_function("1000_metric_points", |b| {
        b.iter(|| {
            let now = now_ms();
            let metrics: Vec<Metric> = (0..1000)
                .map(|i| Metric {
                    key: format!("m{}", i % 10),
                    value: i as f64,
                    timestamp: now,
                    step: step + i / 10,
                })
                .collect();
            step += 100;
            t.log_batch(run.id(), &metrics, &[], &[]).unwrap();
        })
    });
    g.finish();
}

fn child_run(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let t = open(dir.path());
    let exp = t.create_experiment("bench").unwrap();
    let parent = t.start_run(RunOptions::new().experiment(&exp)).unwrap();
    let parent_id = parent.id().to_string();
    let mut n = 0u64;
    c.bench_function("child_run_record_run", |b| {
        b.iter(|| {
            n += 1;
            let now = now_ms();
            let rec = RunRecord {
                start: RunStart {
                    run_name: Some(format!("trial-{n}")),
                    user_id: None,
                    start_time: Some(now),
                    tags: vec![
                        Tag::new(tags::PARENT_RUN_ID, parent_id.clone()),
                        Tag::new("hyperflow.trial", n.to_string()),
                    ],
                },
                params: (0..10)
                    .map(|i| Param::new(format!("x{i}"), format!("{}", i as f64 * 0.1)))
                    .collect(),
                metrics: (0..5)
                    .map(|i| Metric {
                        key: format!("m{i}"),
                        value: i as f64,
                        timestamp: now,
                        step: 0,
                    })
                    .collect(),
                status: RunStatus::Finished,
                end_time: Some(now),
            };
            t.record_run(&exp, &rec).unwrap();
        })
    });
    c.bench_function("child_run_three_calls", |b| {
        b.iter(|| {
            n += 1;
            let now = now_ms();
            let store = t.store();
            let run = store
                .create_run(
                    &exp,
                    RunStart {
                        run_name: Some(format!("trial-{n}")),
                        user_id: None,
                        start_time: Some(now),
                        tags: vec![
                            Tag::new(tags::PARENT_RUN_ID, parent_id.clone()),
                            Tag::new("hyperflow.trial", n.to_string()),
                        ],
                    },
                )
                .unwrap();
            let params: Vec<Param> = (0..10)
                .map(|i| Param::new(format!("x{i}"), format!("{}", i as f64 * 0.1)))
                .collect();
            let metrics: Vec<Metric> = (0..5)
                .map(|i| Metric {
                    key: format!("m{i}"),
                    value: i as f64,
                    timestamp: now,
                    step: 0,
                })
                .collect();
            store.log_batch(run.id(), &metrics, &params, &[]).unwrap();
            store
                .update_run(
                    run.id(),
                    RunUpdate {
                        status: Some(RunStatus::Finished),
                        end_time: Some(now),
                        run_name: None,
                    },
                )
                .unwrap();
        })
    });
}

fn search_100k(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let t = open(dir.path());
    let exp = t.create_experiment("big").unwrap();
    let store = t.store().clone();
    let opts = ["adam", "sgd", "rmsprop", "adamw"];
    let loss = |i: u64| (i.wrapping_mul(2654435761) % 100_000) as f64 / 100_000.0;
    let lr = |x: f64| format!("{}", x / 10.0);
    for i in 0..100_000u64 {
        let x = loss(i);
        let rec = RunRecord {
            start: RunStart {
                run_name: Some(format!("r{i}")),
                start_time: Some(i as i64),
                ..RunStart::default()
            },
            metrics: vec![
                Metric {
                    key: "loss".into(),
                    value: x,
                    timestamp: 1,
                    step: 0,
                },
                Metric {
                    key: "acc".into(),
                    value: 1.0 - x,
                    timestamp: 1,
                    step: 0,
                },
            ],
            params: vec![
                Param::new("opt", opts[(i % 4) as usize]),
                Param::new("lr", lr(x)),
            ],
            status: RunStatus::Finished,
            end_time: Some(i as i64 + 1),
        };
        store.record_run(&exp, &rec).unwrap();
    }
    let mut g = c.benchmark_group("search_100k");
    g.sample_size(20);
    for max in [100usize, 1000] {
        let q = RunQuery {
            experiment_ids: vec![exp.clone()],
            filter: "metrics.loss < 0.5 AND params.opt = 'adam'".into(),
            order_by: vec!["metrics.loss ASC".into()],
            max_results: max,
            ..RunQuery::default()
        };
        assert_eq!(store.search_runs(&q).unwrap().items.len(), max);
        g.bench_function(format!("two_clause_filter_order_by_max{max}"), |b| {
            b.iter(|| store.search_runs(&q).unwrap())
        });
    }
    // A param value one run has: param values have no index (a commit is cheaper without
    // one), so this search checks every run of the experiment.
    let q = RunQuery {
        experiment_ids: vec![exp.clone()],
        filter: format!("params.lr = '{}'", lr(loss(54_321))),
        ..RunQuery::default()
    };
    assert_eq!(store.search_runs(&q).unwrap().items.len(), 1);
    g.bench_function("param_value_of_one_run", |b| {
        b.iter(|| store.search_runs(&q).unwrap())
    });
    g.finish();
}

criterion_group!(benches, log_batch, child_run, search_100k);
criterion_main!(benches);
