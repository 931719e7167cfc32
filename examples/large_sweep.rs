//! Costs that must stay flat as a search grows: a SQLite store with one search of N trials,
//! then the report over it (phase by phase, with the HTML's size) and the queries behind
//! the UI's pages (a page of runs, the counts). Prints a Markdown table (README, "Large
//! searches").
//!
//! ```text
//! cargo run --release --features cli --example large_sweep -- create /tmp/big.db 100000
//! cargo run --release --features cli --example large_sweep -- measure /tmp/big.db
//! cargo run --release --features cli --example large_sweep -- bulk /tmp/big.db 1000000 runs-1m
//! ```
//!
//! `create` runs a tracked random search of a cheap objective through the ordinary API
//! (`fmin` on the store: two small transactions per trial, as a real search writes them),
//! so the store is what a sweep leaves. `bulk` writes N finished runs into experiment
//! EXPERIMENT faster, one `record_run` each (one transaction per run: four params, two
//! metrics, two tags; start times shared by four runs at a time, as parallel trials tie).
//! `runs list --all` is measured from the shell:
//! `/usr/bin/time -v hyperflow --tracking-uri sqlite:///DB runs list --experiment
//! EXPERIMENT --all --format csv`.

use std::time::Instant;

use hyperflow::algo::Random;
use hyperflow::report::{self, ReportOptions, ReportSource, StoreOptions};
use hyperflow::study::Tracking;
use hyperflow::tracking::{Metric, Param, RunRecord, RunStart, SearchRuns, Tag, Tracker};
use hyperflow::{Outcome, Point, PointError, Space, fmin};

const EXPERIMENT: &str = "large";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["create", db, n] => create(db, n.parse()?),
        ["measure", db] => measure(db),
        ["bulk", db, n, experiment] => bulk(db, n.parse()?, experiment),
        _ => Err("usage: large_sweep create DB N | measure DB | bulk DB N EXPERIMENT".into()),
    }
}

fn uri(db: &str) -> String {
    format!("sqlite:///{db}")
}

fn create(db: &str, n: usize) -> Result<(), Box<dyn std::error::Error>> {
    let space = Space::builder()
        .loguniform("lr", 1e-4, 1e-1)
        .uniform("dropout", 0.0, 0.5)
        .randint("layers", 1, 8)
        .choice("optimizer", ["adam", "sgd", "rmsprop"])
        .build()?;
    let started = Instant::now();
    fmin(
        |p: &Point| -> Result<Outcome, PointError> {
            let (lr, dropout, layers): (f64, f64, f64) =
                (p.get("lr")?, p.get("dropout")?, p.get("layers")?);
            let sgd = p.get::<String>("optimizer")? == "sgd";
            let loss = (lr.log10() + 2.0).powi(2)
                + (dropout - 0.2).powi(2)
                + 0.05 * (layers - 4.0).abs()
                + if sgd { 0.3 } else { 0.0 };
            Ok(Outcome::loss(loss))
        },
        &space,
    )
    .algo(Random)
    .seed(7)
    .max_evals(n)
    .progress(false)
    .tracking(Tracking::new(Tracker::open(&uri(db))?, EXPERIMENT).name("large"))
    .run()?;
    let s = started.elapsed().as_secs_f64();
    println!(
        "created {n} trials in {s:.1} s ({:.0} µs per trial)",
        s * 1e6 / n as f64
    );
    Ok(())
}

/// Runs sharing one start time in `bulk` (trials started in the same millisecond).
const TIES: usize = 4;

fn bulk(db: &str, n: usize, experiment: &str) -> Result<(), Box<dyn std::error::Error>> {
    let tracker = Tracker::open(&uri(db))?;
    let exp = tracker.get_or_create_experiment(experiment)?;
    let started = Instant::now();
    let t0 = 1_700_000_000_000i64;
    for i in 0..n {
        let x = (i as f64 * 0.618_033_988_75).fract();
        let start_time = t0 + (i / TIES) as i64;
        let metric = |key: &str, value: f64| Metric {
            key: key.into(),
            value,
            timestamp: start_time + 1,
            step: 0,
        };
        let record = RunRecord {
            start: RunStart {
                run_name: Some(format!("run-{i}")),
                user_id: Some("bulk".into()),
                start_time: Some(start_time),
                tags: vec![
                    Tag::new("group", format!("g{}", i % 10)),
                    Tag::new("seed", i.to_string()),
                ],
            },
            metrics: vec![metric("loss", x * x), metric("acc", 1.0 - x)],
            params: vec![
                Param::new("lr", format!("{:.6}", 1e-4 * (1.0 + 999.0 * x))),
                Param::new("dropout", format!("{:.3}", x / 2.0)),
                Param::new("layers", (1 + i % 8).to_string()),
                Param::new("optimizer", ["adam", "sgd", "rmsprop"][i % 3]),
            ],
            end_time: Some(start_time + 2),
            ..RunRecord::default()
        };
        tracker.record_run(&exp, &record)?;
    }
    let s = started.elapsed().as_secs_f64();
    println!(
        "recorded {n} runs in {s:.1} s ({:.0} µs per run)",
        s * 1e6 / n as f64
    );
    Ok(())
}

/// Seconds of CPU this process has used.
fn cpu_seconds() -> f64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid timespec for clock_gettime to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut t) };
    t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9
}

/// Wall and CPU seconds of one step (the machine may be shared: CPU is what the step costs).
#[derive(Clone, Copy, Default)]
struct Took {
    wall: f64,
    cpu: f64,
}

impl std::ops::Add for Took {
    type Output = Took;
    fn add(self, o: Took) -> Took {
        Took {
            wall: self.wall + o.wall,
            cpu: self.cpu + o.cpu,
        }
    }
}

/// Times `f`, returning its value and what it took.
fn timed<T>(f: impl FnOnce() -> T) -> (T, Took) {
    let (t, c) = (Instant::now(), cpu_seconds());
    let v = f();
    let took = Took {
        wall: t.elapsed().as_secs_f64(),
        cpu: cpu_seconds() - c,
    };
    (v, took)
}

fn measure(db: &str) -> Result<(), Box<dyn std::error::Error>> {
    let tracker = Tracker::open_read_only(&uri(db))?;
    let exp = tracker
        .get_experiment_by_name(EXPERIMENT)?
        .ok_or("no experiment `large`: run `create` first")?;
    let parent = tracker
        .search_runs(
            &SearchRuns::new()
                .experiment(&exp.experiment_id)
                .filter("attributes.run_name = 'large'")
                .max_results(1),
        )?
        .items
        .into_iter()
        .next()
        .ok_or("no search in experiment `large`")?;
    let parent_id = parent.info.run_id.clone();
    let children = format!("tags.mlflow.parentRunId = '{parent_id}'");

    let mut rows: Vec<(String, Took, String)> = Vec::new();
    let source = ReportSource::Parent(parent_id.clone());
    let (input, load) = timed(|| report::from_store(&tracker, &source, &StoreOptions::default()));
    let input = input?;
    let trials: usize = input.input.groups.iter().map(|g| g.trials.len()).sum();
    rows.push((format!("report: load {trials} trials"), load, String::new()));
    let (rep, analyze) = timed(|| report::analyze(&input.input, &ReportOptions::default()));
    let rep = rep?;
    rows.push(("report: analyze".into(), analyze, String::new()));
    let (html, render) = timed(|| report::render::html(&rep));
    let html = html?;
    rows.push((
        "report: render HTML".into(),
        render,
        format!("{:.2} MB", html.len() as f64 / 1e6),
    ));
    rows.push((
        "report: total".into(),
        load + analyze + render,
        String::new(),
    ));

    let (page, t) = timed(|| {
        tracker.search_runs(
            &SearchRuns::new()
                .experiment(&exp.experiment_id)
                .filter(children.clone())
                .max_results(100),
        )
    });
    rows.push((
        "runs page: 100 children".into(),
        t,
        format!("{} runs", page?.items.len()),
    ));
    let (count, t) = timed(|| {
        tracker.count_runs(
            &SearchRuns::new()
                .experiment(&exp.experiment_id)
                .filter(children.clone()),
        )
    });
    rows.push(("count: the search's trials".into(), t, count?.to_string()));
    let (count, t) =
        timed(|| tracker.count_runs(&SearchRuns::new().experiment(&exp.experiment_id)));
    rows.push(("count: the experiment's runs".into(), t, count?.to_string()));

    println!("| step | wall s | CPU s | result |\n|---|---:|---:|---|");
    for (step, took, result) in rows {
        println!("| {step} | {:.3} | {:.3} | {result} |", took.wall, took.cpu);
    }
    Ok(())
}
