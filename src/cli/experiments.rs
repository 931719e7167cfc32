//! `hyperflow experiments ...`

use anyhow::Context;
use clap::Subcommand;
use hyperflow::tracking::{Experiment, ExperimentId, ExperimentQuery, OpenMode, Tracker, ViewType};
use serde_json::json;

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
            let mut experiments = Vec::new();
            let mut query = ExperimentQuery {
                view_type,
                ..ExperimentQuery::default()
            };
            loop {
                let page = tracker.search_experiments(&query)?;
                experiments.extend(page.items);
                match page.next_page_token {
                    Some(token) => query.page_token = Some(token),
                    None => break,
                }
            }
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
            let experiment = find(tracker, &experiment)?;
            tracker.delete_experiment(&experiment.experiment_id)?;
            println!(
                "deleted experiment '{}' (id {}) and its runs",
                experiment.name, experiment.experiment_id
            );
        }
        Command::Restore { experiment } => {
            let experiment = find(tracker, &experiment)?;
            tracker.restore_experiment(&experiment.experiment_id)?;
            println!(
                "restored experiment '{}' (id {}) and its runs",
                experiment.name, experiment.experiment_id
            );
        }
    }
    Ok(())
}

/// The experiment with this name, else with this id.
pub fn find(tracker: &Tracker, name_or_id: &str) -> anyhow::Result<Experiment> {
    if let Some(experiment) = tracker.get_experiment_by_name(name_or_id)? {
        return Ok(experiment);
    }
    tracker
        .get_experiment(&ExperimentId(name_or_id.to_string()))
        .with_context(|| format!("no experiment is named or numbered '{name_or_id}' (see `hyperflow experiments list --all`)"))
}

fn print_experiments(experiments: &[Experiment], format: OutputFormat) {
    let rows: Vec<[String; 5]> = experiments
        .iter()
        .map(|e| {
            [
                e.experiment_id.to_string(),
                e.name.clone(),
                e.lifecycle_stage.as_str().to_string(),
                e.creation_time.to_string(),
                e.artifact_location.clone(),
            ]
        })
        .collect();
    let header = [
        "experiment_id",
        "name",
        "lifecycle_stage",
        "creation_time",
        "artifact_location",
    ];
    match format {
        OutputFormat::Table => {
            let mut table = comfy_table::Table::new();
            table
                .load_preset(comfy_table::presets::UTF8_HORIZONTAL_ONLY)
                .set_header(header);
            for row in rows {
                table.add_row(row);
            }
            println!("{table}");
        }
        OutputFormat::Csv => {
            println!("{}", header.join(","));
            for row in rows {
                println!(
                    "{}",
                    row.iter()
                        .map(|c| csv_field(c))
                        .collect::<Vec<_>>()
                        .join(",")
                );
            }
        }
        OutputFormat::Json => {
            let list: Vec<_> = experiments
                .iter()
                .map(|e| {
                    json!({
                        "experiment_id": e.experiment_id.to_string(),
                        "name": e.name,
                        "lifecycle_stage": e.lifecycle_stage.as_str(),
                        "creation_time": e.creation_time,
                        "last_update_time": e.last_update_time,
                        "artifact_location": e.artifact_location,
                    })
                })
                .collect();
            println!("{}", serde_json::Value::Array(list));
        }
    }
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}
