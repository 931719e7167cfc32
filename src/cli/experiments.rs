//! `hyperflow experiments ...`

use clap::Subcommand;
use hyperflow::tracking::table::Cell;
use hyperflow::tracking::{
    Experiment, ExperimentId, ExperimentQuery, OpenMode, RunsTable, Tracker, ViewType,
};

use super::OutputFormat;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List experiments.
    List {
        /// Include deleted experiments.
        #[arg(long)]
        all: bool,
        /// How to print them.
        #[arg(long, value_enum, default_value_t)]
        format: OutputFormat,
    },
    /// Create an experiment.
    Create {
        /// Its name (unique, deleted experiments included).
        name: String,
        /// Where its runs' artifacts go (default: ./hyperflow-artifacts/<id>).
        #[arg(long)]
        artifact_location: Option<String>,
    },
    /// Delete an experiment and its runs (they can be restored).
    Delete {
        /// Name or id.
        experiment: String,
    },
    /// Restore a deleted experiment and its runs.
    Restore {
        /// Name or id.
        experiment: String,
    },
}

impl Command {
    /// Listing and showing only read the store; the other commands write.
    pub fn store_mode(&self) -> OpenMode {
        match self {
            Command::List { .. } => OpenMode::ReadOnly,
            _ => OpenMode::ReadWrite,
        }
    }
}

pub fn run(cmd: Command, tracker: &Tracker) -> anyhow::Result<()> {
    match cmd {
        Command::List { all, format } => {
            let view_type = if all {
                ViewType::All
            } else {
                ViewType::ActiveOnly
            };
            let experiments = tracker.search_all_experiments(&ExperimentQuery {
                view_type,
                ..ExperimentQuery::default()
            })?;
            print_experiments(&experiments, format);
        }
        Command::Create {
            name,
            artifact_location,
        } => {
            let id = match artifact_location {
                Some(location) => tracker.create_experiment_with(&name, Some(&location), &[])?,
                None => tracker.create_experiment(&name)?,
            };
            println!("created experiment '{name}' with id {id}");
        }
        Command::Delete { experiment } => {
            change(tracker, &experiment, "deleted", Tracker::delete_experiment)?;
        }
        Command::Restore { experiment } => {
            change(
                tracker,
                &experiment,
                "restored",
                Tracker::restore_experiment,
            )?;
        }
    }
    Ok(())
}

/// Deletes or restores (`action`) the experiment named or numbered `name_or_id`, and says so.
fn change(
    tracker: &Tracker,
    name_or_id: &str,
    done: &str,
    action: fn(&Tracker, &ExperimentId) -> hyperflow::tracking::Result<()>,
) -> anyhow::Result<()> {
    let experiment = tracker.find_experiment(name_or_id)?;
    action(tracker, &experiment.experiment_id)?;
    println!(
        "{done} experiment '{}' (id {}) and its runs",
        experiment.name, experiment.experiment_id
    );
    Ok(())
}

fn print_experiments(experiments: &[Experiment], format: OutputFormat) {
    let columns = [
        "experiment_id",
        "name",
        "lifecycle_stage",
        "creation_time",
        "last_update_time",
        "artifact_location",
    ];
    let rows = experiments
        .iter()
        .map(|e| {
            vec![
                Cell::Str(e.experiment_id.to_string()),
                Cell::Str(e.name.clone()),
                Cell::Str(e.lifecycle_stage.as_str().to_string()),
                Cell::Time(e.creation_time),
                Cell::Time(e.last_update_time),
                Cell::Str(e.artifact_location.clone()),
            ]
        })
        .collect();
    let table = RunsTable {
        columns: columns.map(String::from).to_vec(),
        rows,
    };
    super::print_table(&table, format);
}
