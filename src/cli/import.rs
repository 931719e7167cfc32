//! `hyperflow import SOURCE`

use hyperflow::tracking::Tracker;
use hyperflow::tracking::import::{ImportOptions, import};

/// Copy the history of an MLflow store into the tracking store.
#[derive(Debug, clap::Args)]
pub struct Command {
    /// The MLflow store: its SQLite database (sqlite:///mlflow.db) or a tracking server's
    /// URL (http://host:5000).
    source: String,
    /// Import only this experiment (repeat for more); default: every active experiment.
    #[arg(long = "experiment", value_name = "NAME")]
    experiments: Vec<String>,
}

pub fn run(cmd: Command, tracker: &Tracker, uri: &str) -> anyhow::Result<()> {
    let options = cmd
        .experiments
        .into_iter()
        .fold(ImportOptions::new(), ImportOptions::experiment);
    let report = import(&cmd.source, tracker, &options)?;
    println!("imported {} into {uri}", cmd.source);
    print!("{report}");
    Ok(())
}
