//! `hyperflow runs ...`

use clap::Subcommand;
use hyperflow::tracking::table::Cell;
use hyperflow::tracking::{ExperimentQuery, OpenMode, RunsTable, SearchRuns, Tracker, ViewType};

use super::OutputFormat;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List runs, filtered and ordered with MLflow's search language.
    List {
        /// Experiment name or id; repeat for several (default: every active experiment).
        #[arg(long, short)]
        experiment: Vec<String>,
        /// MLflow filter, e.g. "metrics.loss < 0.2 AND params.model = 'svm'".
        #[arg(long, short, default_value = "")]
        filter: String,
        /// Order, e.g. "metrics.loss ASC"; repeat for several keys.
        #[arg(long, short)]
        order_by: Vec<String>,
        /// At most this many runs.
        #[arg(long, default_value_t = 100)]
        max_results: usize,
        /// Include deleted runs.
        #[arg(long)]
        all: bool,
        /// How to print them: a table, CSV, or JSON (a list of objects keyed by column name).
        #[arg(long, value_enum, default_value_t)]
        format: OutputFormat,
        /// Only these columns, in this order, by their header names: e.g.
        /// `run_name,metrics.loss,params.lr,tags.mlflow.user` (default: all of them).
        #[arg(long, short = 'c', value_delimiter = ',', value_name = "NAMES")]
        columns: Vec<String>,
    },
    /// Show one run: info, params, metrics and tags.
    Show {
        /// The run id.
        run_id: String,
        /// How to print it.
        #[arg(long, value_enum, default_value_t)]
        format: OutputFormat,
    },
    /// Delete a run (it can be restored).
    Delete {
        /// The run id.
        run_id: String,
    },
    /// Restore a deleted run.
    Restore {
        /// The run id.
        run_id: String,
    },
}

impl Command {
    /// Listing and showing only read the store; the other commands write.
    pub fn store_mode(&self) -> OpenMode {
        match self {
            Command::List { .. } | Command::Show { .. } => OpenMode::ReadOnly,
            _ => OpenMode::ReadWrite,
        }
    }
}

pub fn run(cmd: Command, tracker: &Tracker) -> anyhow::Result<()> {
    match cmd {
        Command::List {
            experiment,
            filter,
            order_by,
            max_results,
            all,
            format,
            columns,
        } => {
            let experiments = if experiment.is_empty() {
                tracker.search_all_experiments(&ExperimentQuery::default())?
            } else {
                experiment
                    .iter()
                    .map(|e| tracker.find_experiment(e))
                    .collect::<Result<_, _>>()?
            };
            let mut search = SearchRuns::new()
                .experiments(experiments.into_iter().map(|e| e.experiment_id))
                .filter(filter)
                .max_results(max_results);
            for key in order_by {
                search = search.order_by(key);
            }
            if all {
                search = search.view_type(ViewType::All);
            }
            let page = tracker.search_runs(&search)?;
            let mut table = RunsTable::from_runs(&page.items);
            if !columns.is_empty() {
                let columns: Vec<&str> = columns.iter().map(|c| c.trim()).collect();
                table = table.select_strictly(&columns)?;
            }
            super::print_table(&table, format);
            if page.next_page_token.is_some() && matches!(format, OutputFormat::Table) {
                eprintln!("(more runs match; raise --max-results to see them)");
            }
        }
        Command::Show { run_id, format } => {
            let run = tracker.get_run(&run_id)?;
            match format {
                OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&run)?),
                _ => {
                    // One line per field: the run's table turned on its side.
                    let table = RunsTable::from_runs(std::slice::from_ref(&run));
                    let fields = RunsTable {
                        columns: vec!["field".to_string(), "value".to_string()],
                        rows: table
                            .columns
                            .into_iter()
                            .zip(table.rows.into_iter().flatten())
                            .map(|(column, cell)| vec![Cell::Str(column), cell])
                            .collect(),
                    };
                    super::print_table(&fields, format);
                }
            }
        }
        Command::Delete { run_id } => {
            tracker.delete_run(&run_id)?;
            println!("deleted run {run_id}");
        }
        Command::Restore { run_id } => {
            tracker.restore_run(&run_id)?;
            println!("restored run {run_id}");
        }
    }
    Ok(())
}
