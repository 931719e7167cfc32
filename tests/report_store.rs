//! Reports read from a real SQLite store: `fmin` with tracking writes the runs,
//! `report::from_store` reads them back, and `hyperflow report` renders them.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use hyperflow::algo::Random;
use hyperflow::fmin::Outcome;
use hyperflow::report::{
    self, Action, ReportError, ReportOptions, ReportSource, StoreOptions, from_store,
};
use hyperflow::rng::TrialRng;
use hyperflow::space::ChoiceOption;
use hyperflow::space::Dist;
use hyperflow::study::Tracking;
use hyperflow::tracking::Result;
use hyperflow::tracking::*;
use hyperflow::{Direction, Point, Space, TrialContext, TrialState, fmin_with_context};
use rand::RngExt;

struct Db {
    dir: tempfile::TempDir,
    tracker: Tracker,
}

impl Db {
    fn new() -> Db {
        let dir = tempfile::tempdir().unwrap();
        let tracker = Tracker::open(&Db::uri_of(dir.path())).unwrap();
        Db { dir, tracker }
    }

    fn uri_of(dir: &Path) -> String {
        format!("sqlite:///{}/runs.db", dir.display())
    }

    fn uri(&self) -> String {
        Db::uri_of(self.dir.path())
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `hyperflow --tracking-uri <db> <args>`, run in the temp dir: (success, stdout, stderr).
    fn cli(&self, args: &[&str]) -> (bool, String, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_hyperflow"))
            .current_dir(self.dir.path())
            .arg("--tracking-uri")
            .arg(self.uri())
            .args(args)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

fn depth_space() -> Space {
    Space::builder()
        .randint("max_depth", 1, 20)
        .uniform("subsample", 0.5, 1.0)
        .loguniform("l2", 1e-4, 10.0)
        .choice("criterion", ["gini", "entropy"])
        .build()
        .unwrap()
}

/// Minimum region max_depth in [6, 10]; the others are ignored; a little noise per trial.
fn depth_loss(p: &Point, ctx: &TrialContext) -> Outcome {
    let d: f64 = p.get("max_depth").unwrap();
    let outside = (6.0 - d).max(d - 10.0).max(0.0);
    let mut rng = TrialRng::for_trial(7, ctx.number() as u64);
    let loss = outside * outside + 0.3 * rng.random::<f64>();
    Outcome::loss(loss).with_metric("accuracy", 1.0 / (1.0 + loss))
}

/// Runs a random search of `n` trials logged into `experiment`; returns the parent run id.
fn logged_sweep(db: &Db, experiment: &str, n: usize, seed: u64) -> String {
    let space = depth_space();
    let result = fmin_with_context(depth_loss, &space)
        .algo(Random)
        .max_evals(n)
        .seed(seed)
        .progress(false)
        .tracking(Tracking::new(db.tracker.clone(), experiment))
        .run()
        .unwrap();
    result.parent_run_id().unwrap().to_string()
}

fn assert_depth_answer(report: &report::Report, group: usize) {
    let g = &report.groups[group];
    let depth = g.params.iter().find(|p| p.name == "max_depth").unwrap();
    let n = depth.numeric().unwrap();
    let good = n.good.unwrap();
    assert!(good.low >= 6.0 && good.high <= 10.0, "good {good:?}");
    let r = n.recommended;
    assert!(
        (4.0..=6.0).contains(&r.low) && (10.0..=12.0).contains(&r.high),
        "recommended {r:?}"
    );
    assert_eq!(depth.action, Action::Narrow);
    assert_eq!(depth.importance.unwrap().rank, 1);
    for other in g.params.iter().filter(|p| p.name != "max_depth") {
        let i = other.importance.unwrap();
        assert!(!i.matters, "{}: {i:?}", other.name);
    }
}

#[test]
fn a_logged_sweep_read_back_gives_the_known_answer() {
    let db = Db::new();
    let parent = logged_sweep(&db, "forest", 200, 1);
    let read = from_store(
        &db.tracker,
        &ReportSource::Parent(parent.clone()),
        &StoreOptions::default(),
    )
    .unwrap();
    assert_eq!(read.sole_parent(), Some(parent.as_str()));
    let input = &read.input;
    assert_eq!(input.direction, Direction::Minimize);
    assert_eq!(input.groups.len(), 1);
    let group = &input.groups[0];
    // The space came from the parent's space.json; values keep their declared kinds.
    assert_eq!(group.space.as_ref(), Some(&depth_space()));
    assert_eq!(group.trials.len(), 200);
    let numbers: Vec<usize> = group.trials.iter().map(|t| t.number).collect();
    assert_eq!(numbers, (0..200).collect::<Vec<_>>());
    assert!(
        group
            .trials
            .iter()
            .all(|t| t.status == TrialState::Complete && t.loss.is_some() && t.run_id.is_some())
    );
    let report = report::analyze(input, &ReportOptions::default()).unwrap();
    assert_depth_answer(&report, 0);

    // The same from the experiment.
    let by_experiment = from_store(
        &db.tracker,
        &ReportSource::Experiments(vec!["forest".into()]),
        &StoreOptions::default(),
    )
    .unwrap();
    assert_eq!(by_experiment.input, read.input.clone_renamed("forest"));
}

trait Renamed {
    fn clone_renamed(&self, name: &str) -> Self;
}

impl Renamed for report::ReportInput {
    fn clone_renamed(&self, name: &str) -> Self {
        let mut c = self.clone();
        c.groups[0].name = name.to_string();
        c
    }
}

#[test]
fn another_metric_and_maximize() {
    let db = Db::new();
    let parent = logged_sweep(&db, "forest", 120, 2);
    let read = from_store(
        &db.tracker,
        &ReportSource::Parent(parent),
        &StoreOptions::default()
            .metric("accuracy")
            .direction(Direction::Maximize),
    )
    .unwrap();
    assert_eq!(read.input.direction, Direction::Maximize);
    let report = report::analyze(&read.input, &ReportOptions::default()).unwrap();
    let best = &report.groups[0].best[0];
    let worst_top = report.groups[0].top_threshold.unwrap();
    assert!(best.loss >= worst_top && best.loss <= 1.0);
}

#[test]
fn several_experiments_give_house_ranges() {
    let db = Db::new();
    logged_sweep(&db, "data-a", 200, 3);
    logged_sweep(&db, "data-b", 160, 4);
    // Two sweeps in one experiment are pooled into one group.
    logged_sweep(&db, "data-b", 100, 5);
    let read = from_store(
        &db.tracker,
        &ReportSource::Experiments(vec!["data-a".into(), "data-b".into()]),
        &StoreOptions::default(),
    )
    .unwrap();
    assert_eq!(read.input.groups.len(), 2);
    assert_eq!(read.input.groups[1].trials.len(), 260);
    assert_eq!(read.parent_run_ids[1].len(), 2);
    assert_eq!(read.sole_parent(), None);
    let numbers: Vec<usize> = read.input.groups[1]
        .trials
        .iter()
        .map(|t| t.number)
        .collect();
    assert_eq!(numbers, (0..260).collect::<Vec<_>>());
    let report = report::analyze(&read.input, &ReportOptions::default()).unwrap();
    assert_depth_answer(&report, 0);
    assert_depth_answer(&report, 1);
    let house = report.house.as_ref().unwrap();
    let depth = house.params.iter().find(|p| p.name == "max_depth").unwrap();
    let report::HouseDetail::Numeric(n) = &depth.detail else {
        panic!("{depth:?}")
    };
    assert_eq!((n.agreement, n.out_of), (2, 2));
    assert!(n.recommended.low >= 4.0 && n.recommended.high <= 12.0);
    match &report.next_space().unwrap().params()[0].dist {
        Dist::RandInt { low, high } => assert!(*low >= 4 && *high <= 13, "{low}..{high}"),
        d => panic!("{d:?}"),
    }

    // A filter over both experiments gives the same groups.
    let filtered = from_store(
        &db.tracker,
        &ReportSource::Filter {
            filter: "metrics.loss >= 0".into(),
            experiments: vec![],
        },
        &StoreOptions::default(),
    )
    .unwrap();
    let names: Vec<&str> = filtered
        .input
        .groups
        .iter()
        .map(|g| g.name.as_str())
        .collect();
    assert_eq!(names.len(), 2);
    assert!(names.contains(&"data-a") && names.contains(&"data-b"));
    for g in &filtered.input.groups {
        assert!(g.space.is_some(), "{}", g.name);
    }

    // The CLI says the same.
    let (ok, out, err) = db.cli(&["report", "--experiment", "data-a", "--experiment", "data-b"]);
    assert!(ok, "{err}");
    assert!(out.contains("House ranges across 2 groups"), "{out}");
}

#[test]
fn flat_runs_and_failures() {
    let db = Db::new();
    let exp = db.tracker.create_experiment("manual").unwrap();
    for i in 0..40 {
        let depth = 1 + i % 20;
        let failed = i % 10 == 9;
        let loss = ((6 - depth).max(depth - 10).max(0) as f64).powi(2) + (i as f64) * 1e-3;
        let record = RunRecord {
            start: RunStart {
                start_time: Some(1_000 + i),
                ..RunStart::default()
            },
            params: vec![
                hyperflow::tracking::Param::new("max_depth", depth.to_string()),
                hyperflow::tracking::Param::new(
                    "kernel",
                    if i % 2 == 0 { "rbf" } else { "linear" },
                ),
            ],
            metrics: if failed {
                vec![]
            } else {
                vec![hyperflow::tracking::Metric::new("loss", loss)]
            },
            status: if failed {
                hyperflow::tracking::RunStatus::Failed
            } else {
                hyperflow::tracking::RunStatus::Finished
            },
            end_time: None,
        };
        db.tracker.record_run(&exp, &record).unwrap();
    }
    let read = from_store(
        &db.tracker,
        &ReportSource::Experiments(vec!["manual".into()]),
        &StoreOptions::default(),
    )
    .unwrap();
    let g = &read.input.groups[0];
    assert!(g.space.is_none());
    assert_eq!(g.trials.len(), 40);
    assert_eq!(read.parent_run_ids, vec![Vec::<String>::new()]);
    // Numbered by start time.
    assert_eq!(g.trials[3].params.get::<i64>("max_depth").unwrap(), 4);
    assert_eq!(
        g.trials
            .iter()
            .filter(|t| t.status == TrialState::Failed)
            .count(),
        4
    );
    let report = report::analyze(&read.input, &ReportOptions::default()).unwrap();
    assert_eq!(report.groups[0].counts.failed, 4);
    assert!(!report::render::terminal(&report).is_empty());
}

#[test]
fn cli_renders_every_format_emits_a_space_and_logs_artifacts() {
    let db = Db::new();
    let parent = logged_sweep(&db, "forest", 150, 6);
    for (format, marker) in [
        ("terminal", "max_depth"),
        ("md", "# Hyperparameter report"),
        ("json", "\"groups\""),
        ("html", "<!DOCTYPE html>"),
    ] {
        for source in [["--parent", parent.as_str()], ["--experiment", "forest"]] {
            let (ok, out, err) = db.cli(&["report", source[0], source[1], "--format", format]);
            assert!(ok, "{format} {source:?}: {err}");
            assert!(out.contains(marker), "{format} {source:?}: {out}");
        }
    }
    let json: serde_json::Value = serde_json::from_str(
        &db.cli(&["report", "--parent", &parent, "--format", "json"])
            .1,
    )
    .unwrap();
    assert_eq!(json["groups"][0]["counts"]["complete"], 150);

    // --out, --emit-space, --log-artifacts at once.
    let (ok, _, err) = db.cli(&[
        "report",
        "--parent",
        &parent,
        "--top",
        "0.25",
        "--format",
        "md",
        "--out",
        "report.md",
        "--emit-space",
        "next.toml",
        "--log-artifacts",
    ]);
    assert!(ok, "{err}");
    let md = std::fs::read_to_string(db.path("report.md")).unwrap();
    assert!(md.contains("![") && md.contains("report-"), "{md}");
    assert!(db.path("report-loss.svg").is_file());
    let next = Space::from_path(db.path("next.toml")).unwrap();
    match &next.params()[0].dist {
        Dist::RandInt { low, high } => assert!(*low >= 4 && *high <= 13, "{low}..{high}"),
        d => panic!("{d:?}"),
    }
    assert_eq!(next.len(), 4);
    let files: Vec<String> = db
        .tracker
        .artifacts(&parent)
        .unwrap()
        .list("report")
        .unwrap()
        .into_iter()
        .map(|f| f.path)
        .collect();
    for f in [
        "report/report.html",
        "report/report.json",
        "report/next_space.toml",
        "report/plots",
    ] {
        assert!(files.iter().any(|p| p == f), "{f} in {files:?}");
    }
    let plots = db
        .tracker
        .artifacts(&parent)
        .unwrap()
        .list("report/plots")
        .unwrap();
    assert!(
        plots.iter().any(|f| f.path == "report/plots/loss.svg"),
        "{plots:?}"
    );
    assert!(err.contains("logged"), "{err}");
}

#[test]
fn errors_are_clear() {
    let db = Db::new();
    let parent = logged_sweep(&db, "forest", 20, 8);
    logged_sweep(&db, "forest", 20, 9);

    let (ok, _, err) = db.cli(&["report", "--parent", "0123456789abcdef0123456789abcdef"]);
    assert!(!ok);
    assert!(err.contains("no run has the id"), "{err}");
    let (ok, _, err) = db.cli(&["report", "--experiment", "nope"]);
    assert!(!ok);
    assert!(
        err.contains("no experiment is named or numbered `nope`"),
        "{err}"
    );
    let (ok, _, err) = db.cli(&["report", "--experiment", "froest"]);
    assert!(!ok);
    assert!(
        err.contains("no experiment is named or numbered `froest`; did you mean `forest`?"),
        "{err}"
    );
    let (ok, _, err) = db.cli(&["report", "--parent", &parent, "--top", "1.5"]);
    assert!(!ok);
    assert!(err.contains("top_quantile") && err.contains("1.5"), "{err}");
    let (ok, _, err) = db.cli(&["report"]);
    assert!(!ok);
    assert!(err.contains("--parent"), "{err}");
    let (ok, _, err) = db.cli(&["report", "--experiment", "forest", "--log-artifacts"]);
    assert!(!ok);
    assert!(err.contains("exactly one sweep"), "{err}");
    let (ok, _, err) = db.cli(&["report", "--filter", "params.max_depth = 'x'"]);
    assert!(!ok);
    assert!(err.contains("no run matches"), "{err}");
    let (ok, _, err) = db.cli(&["report", "--filter", "tags.hyperflow.role = 'search'"]);
    assert!(!ok);
    assert!(
        err.contains("matches 2 sweep parent run(s) but no trial"),
        "{err}"
    );
    let (ok, _, err) = db.cli(&["report", "--filter", "metrics.loss <"]);
    assert!(!ok);
    assert!(err.contains("Expected a value after <"), "{err}");
    assert_eq!(err.matches("Expected a value").count(), 1, "{err}");

    // A child run is not a sweep.
    let child = from_store(
        &db.tracker,
        &ReportSource::Parent(parent.clone()),
        &StoreOptions::default(),
    )
    .unwrap()
    .input
    .groups[0]
        .trials[0]
        .run_id
        .clone()
        .unwrap();
    match from_store(
        &db.tracker,
        &ReportSource::Parent(child),
        &StoreOptions::default(),
    ) {
        Err(ReportError::NoTrials(m)) => assert!(m.contains("no child runs"), "{m}"),
        other => panic!("{other:?}"),
    }
    db.tracker.create_experiment("empty").unwrap();
    assert!(matches!(
        from_store(
            &db.tracker,
            &ReportSource::Experiments(vec!["empty".into()]),
            &StoreOptions::default()
        ),
        Err(ReportError::NoTrials(_))
    ));
}

/// The SQLite store read through the `Store` trait's default `select_runs`, which pages
/// through `search_runs`: the read reports made before the SQL stores had their own.
struct PagedReads(SqliteStore);

macro_rules! delegate {
    ($($name:ident($($arg:ident: $ty:ty),*) -> $ret:ty;)*) => {
        $(fn $name(&self, $($arg: $ty),*) -> $ret { self.0.$name($($arg),*) })*
    };
}

impl Store for PagedReads {
    common::required_store_methods!(delegate);
}

/// The SQLite store's own read of a search gives a report the input the paged read gives:
/// a sweep with a conditional param, a constant, failed and pruned trials, pooled with a
/// second sweep of another space, a flat run elsewhere, read as a sweep, as experiments and
/// through a filter, with the sweep's metric or another.
#[test]
fn the_stores_read_gives_the_input_of_the_paged_read() {
    let db = Db::new();
    let space = Space::builder()
        .choice(
            "model",
            [
                ChoiceOption::new("svm", Space::builder().loguniform("C", 1e-2, 1e3)),
                ChoiceOption::new("tree", Space::builder().randint("depth", 1, 12)),
            ],
        )
        .constant("seed", 3)
        .uniform("x", -1.0, 1.0)
        .build()
        .unwrap();
    let result = fmin_with_context(
        |p: &Point, ctx: &TrialContext| match ctx.number() % 7 {
            3 => Outcome::failed("diverged"),
            5 => Outcome::pruned("stopped early"),
            _ => {
                let x: f64 = p.get("x").unwrap();
                Outcome::loss(x * x).with_metric("accuracy", 1.0 - x.abs())
            }
        },
        &space,
    )
    .algo(Random)
    .max_evals(60)
    .seed(1)
    .progress(false)
    .tracking(Tracking::new(db.tracker.clone(), "mixed"))
    .run()
    .unwrap();
    let parent = result.parent_run_id().unwrap().to_string();
    logged_sweep(&db, "mixed", 20, 2);
    let flat = db.tracker.create_experiment("flat").unwrap();
    let record = RunRecord {
        params: vec![Param::new("model", "tree"), Param::new("depth", "4")],
        metrics: vec![Metric::new("loss", 0.5)],
        status: RunStatus::Finished,
        ..RunRecord::default()
    };
    db.tracker.record_run(&flat, &record).unwrap();

    let paged = Tracker::new(Arc::new(PagedReads(
        SqliteStore::open(db.path("runs.db")).unwrap(),
    )));
    let sources = [
        ReportSource::Parent(parent),
        ReportSource::Experiments(vec!["mixed".into(), "flat".into()]),
        ReportSource::Filter {
            filter: "params.model = 'tree'".into(),
            experiments: vec![],
        },
    ];
    for source in &sources {
        for options in [
            StoreOptions::default(),
            StoreOptions::default().metric("accuracy"),
        ] {
            let own = from_store(&db.tracker, source, &options).unwrap();
            assert_eq!(
                own,
                from_store(&paged, source, &options).unwrap(),
                "{source:?}"
            );
            let mut trials = own.input.groups.iter().flat_map(|g| &g.trials);
            assert!(trials.any(|t| t.status == TrialState::Failed), "{source:?}");
        }
    }
}
