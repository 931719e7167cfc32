//! Which decision-tree settings are worth searching? Tunes a linfa decision tree on the red
//! wine quality data set that `linfa-datasets` ships (1,599 wines, 11 features, quality
//! classes 3..8), logs every trial into SQLite, then reads the runs back and prints the
//! report of sensible ranges, writes the HTML report, and logs it on the sweep's parent run.
//!
//! ```text
//! cargo run --release --example linfa_tree_depth [-- TRIALS]
//! ```
//!
//! TRIALS defaults to 150 (about 5 s in release on 2 cores); unoptimized builds, where
//! linfa is some 30 times slower, default to 40 so that CI can run the example bare.
//!
//! Objective: loss = 1 − accuracy, 4-fold cross-validated (folds in file order, so every
//! run gives the same answer). Everything goes under `target/linfa_tree_depth/` (a fresh
//! database each run); the HTML report is `target/linfa_tree_depth_report.html`.

use std::path::PathBuf;
use std::sync::Arc;

use hyperflow::algo::Tpe;
use hyperflow::fmin::Outcome;
use hyperflow::report::{self, Format, ReportOptions, ReportSource, StoreOptions};
use hyperflow::study::Tracking;
use hyperflow::tracking::{SqliteStore, Tracker};
use hyperflow::{Point, Space, fmin};
use linfa::prelude::*;
use linfa_trees::{DecisionTree, SplitQuality};

const FOLDS: usize = 4;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let trials: usize = match std::env::args().nth(1) {
        Some(n) => n
            .parse()
            .map_err(|_| format!("TRIALS must be a number, got `{n}`"))?,
        None if cfg!(debug_assertions) => 40,
        None => 150,
    };

    // Data: the k-fold splits, made once and shared by every trial.
    let folds = linfa_datasets::winequality().fold(FOLDS);

    let space = Space::builder()
        .randint("max_depth", 1, 31)
        .loguniform("min_weight_split", 2.0, 128.0)
        .loguniform("min_weight_leaf", 1.0, 64.0)
        .choice("split_quality", ["gini", "entropy"])
        .build()?;

    let objective = |p: &Point| -> Result<Outcome, Box<dyn std::error::Error + Send + Sync>> {
        let depth: i64 = p.get("max_depth")?;
        let quality = match p.get::<String>("split_quality")?.as_str() {
            "entropy" => SplitQuality::Entropy,
            _ => SplitQuality::Gini,
        };
        let params = DecisionTree::params()
            .max_depth(Some(usize::try_from(depth)?))
            .min_weight_split(p.get::<f64>("min_weight_split")? as f32)
            .min_weight_leaf(p.get::<f64>("min_weight_leaf")? as f32)
            .split_quality(quality);
        let mut accuracy = 0.0;
        for (train, valid) in &folds {
            let tree = params.fit(train)?;
            let cm = tree.predict(valid).confusion_matrix(valid)?;
            accuracy += f64::from(cm.accuracy()) / FOLDS as f64;
        }
        Ok(Outcome::loss(1.0 - accuracy).with_metric("accuracy", accuracy))
    };

    // A fresh SQLite store under target/, artifacts next to it.
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/linfa_tree_depth");
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(&dir)?;
    let store = SqliteStore::open_with_artifact_root(dir.join("runs.db"), dir.join("artifacts"))?;
    let tracker = Tracker::new(Arc::new(store));

    let started = std::time::Instant::now();
    // TPE rather than the default (a GP on this flat space): its search spreads the top
    // trials over the good region, which is what a report of good ranges is about.
    let result = fmin(objective, &space)
        .algo(Tpe::default())
        .max_evals(trials)
        .seed(7)
        .progress(false)
        .tracking(Tracking::new(tracker.clone(), "wine-tree").name("tree-depth"))
        .run()?;
    let parent = result
        .parent_run_id()
        .ok_or("the search did not start")?
        .to_string();
    let best = result.best().ok_or("no trial succeeded")?;
    println!(
        "{trials} trials in {:.1} s; best accuracy {:.3} at {}\n",
        started.elapsed().as_secs_f64(),
        1.0 - best.loss.unwrap_or(f64::NAN),
        best.point
    );

    // The report, read back from the store as `hyperflow report --parent <id>` does.
    let read = report::from_store(
        &tracker,
        &ReportSource::Parent(parent.clone()),
        &StoreOptions::default(),
    )?;
    let report = report::analyze(&read.input, &ReportOptions::default())?;
    print!("{}", report::render::terminal(&report));
    println!(
        "Next search space (--emit-space):\n{}",
        report.next_space_toml()?
    );

    let html =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/linfa_tree_depth_report.html");
    report::render::write(&report, Format::Html, &html)?;
    let logged = report::log_artifacts(&tracker, &parent, &report)?;
    println!("HTML report: {}", html.display());
    println!(
        "Runs: {} (parent run {parent}, {} report artifacts)",
        dir.join("runs.db").display(),
        logged.len()
    );
    println!(
        "Again from the shell: cargo run -- --tracking-uri sqlite:///{} report --parent {parent}",
        dir.join("runs.db").display()
    );
    Ok(())
}
