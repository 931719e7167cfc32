//! The tracking example of the README (docs/tracking.md): a tracked search, then a search of
//! its runs. Runs go to `HYPERFLOW_TRACKING_URI` (else `sqlite:///hyperflow.db`).
//!
//! Run: `cargo run --release --example tracking_search`

use hyperflow::tracking::{RunsTable, SearchRuns, Tracker};
use hyperflow::{Outcome, Point, PointError, Space, fmin};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let space = Space::builder()
        .loguniform("lr", 1e-4, 1e-1)
        .uniform("dropout", 0.0, 0.5)
        .build()?;
    fmin(
        |p: &Point| -> Result<Outcome, PointError> {
            let (lr, dropout): (f64, f64) = (p.get("lr")?, p.get("dropout")?);
            let loss = (lr.log10() + 2.0).powi(2) + (dropout - 0.2).powi(2);
            Ok(Outcome::loss(loss).with_metric("accuracy", 1.0 / (1.0 + loss)))
        },
        &space,
    )
    .max_evals(50)
    .experiment("readme") // a parent run, and a nested child run per trial
    .run()?;

    let tracker = Tracker::from_env()?;
    let exp = tracker
        .get_experiment_by_name("readme")?
        .ok_or("no experiment")?;
    let top = tracker.search_runs(
        &SearchRuns::new()
            .experiment(&exp.experiment_id)
            .filter("metrics.accuracy > 0.9 AND tags.hyperflow.role = 'trial'")
            .order_by("metrics.loss ASC")
            .max_results(5),
    )?;
    let table = RunsTable::from_runs(&top.items);
    print!(
        "{}",
        table
            .select(&["run_name", "metrics.loss", "params.lr", "params.dropout"])
            .to_text()
    );
    Ok(())
}
