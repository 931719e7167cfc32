//! `hyperflow runs ...`

use std::io::Write;

use clap::Subcommand;
use hyperflow::tracking::table::Cell;
use hyperflow::tracking::{
    ExperimentQuery, OpenMode, Run, RunsTable, SearchRuns, Tracker, ViewType,
};

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
        /// At most this many runs: one page; when more match, the token of the next page
        /// is printed on standard error.
        #[arg(long, default_value_t = 100)]
        max_results: usize,
        /// Continue a listing where a previous page ended (the token it printed).
        #[arg(long, value_name = "TOKEN")]
        page_token: Option<String>,
        /// Every matching run, written page by page as the pages are read, in constant
        /// memory (CSV, JSON or JSON lines).
        #[arg(long, conflicts_with_all = ["max_results", "page_token"])]
        all: bool,
        /// Include deleted runs.
        #[arg(long)]
        include_deleted: bool,
        /// How to print them: a table, CSV, JSON (a list of objects keyed by column name)
        /// or JSON lines (one object per line).
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
            page_token,
            all,
            include_deleted,
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
                .filter(filter);
            for key in order_by {
                search = search.order_by(key);
            }
            if include_deleted {
                search = search.view_type(ViewType::All);
            }
            let columns: Vec<String> = columns.iter().map(|c| c.trim().to_string()).collect();
            if all {
                return list_all(tracker, &search, format, &columns);
            }
            let mut search = search.max_results(max_results);
            if let Some(token) = page_token {
                search = search.page_token(token);
            }
            let page = tracker.search_runs(&search)?;
            let mut table = RunsTable::from_runs(&page.items);
            if !columns.is_empty() {
                table = table.select_strictly(&columns)?;
            }
            super::print_table(&table, format);
            if let Some(token) = page.next_page_token {
                eprintln!(
                    "more runs match: continue with --page-token {token} (or list them all with --all)"
                );
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

/// Runs per page when `runs list --all` pages through the store.
const ALL_PAGE: usize = 1000;

/// `runs list --all`: every run `search` matches, read a page at a time and written as
/// each page arrives, so memory does not grow with the runs. CSV needs its header first:
/// without `--columns`, a first pass over the pages gathers the columns.
fn list_all(
    tracker: &Tracker,
    search: &SearchRuns,
    format: OutputFormat,
    columns: &[String],
) -> anyhow::Result<()> {
    let search = search.clone().max_results(ALL_PAGE);
    let header = if !columns.is_empty() || !matches!(format, OutputFormat::Csv) {
        columns.to_vec()
    } else {
        let mut header = Vec::new();
        for_each_page(tracker, &search, |runs| {
            header = RunsTable::union_columns(&header, &RunsTable::from_runs(runs).columns);
            Ok(())
        })?;
        header
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut written = 0usize;
    match format {
        OutputFormat::Table => anyhow::bail!(
            "--all writes CSV, JSON or JSON lines (--format csv, json or jsonl): an aligned \
             table needs every row before its first line"
        ),
        OutputFormat::Csv => out.write_all(
            RunsTable {
                columns: header.clone(),
                rows: Vec::new(),
            }
            .to_csv()
            .as_bytes(),
        )?,
        OutputFormat::Json => out.write_all(b"[")?,
        OutputFormat::Jsonl => {}
    }
    for_each_page(tracker, &search, |runs| {
        let mut table = RunsTable::from_runs(runs);
        table.check_columns(columns)?;
        if !header.is_empty() {
            table = table.with_columns(&header);
        }
        match format {
            OutputFormat::Csv => out.write_all(table.csv_rows().as_bytes())?,
            OutputFormat::Jsonl => {
                for row in table.json_rows() {
                    serde_json::to_writer(&mut out, &row)?;
                    out.write_all(b"\n")?;
                }
            }
            OutputFormat::Json => {
                for row in table.json_rows() {
                    out.write_all(if written == 0 { b"\n" } else { b",\n" })?;
                    serde_json::to_writer_pretty(&mut out, &row)?;
                    written += 1;
                }
            }
            OutputFormat::Table => {}
        }
        Ok(())
    })?;
    if matches!(format, OutputFormat::Json) {
        out.write_all(if written == 0 { b"]\n" } else { b"\n]\n" })?;
    }
    out.flush()?;
    Ok(())
}

/// Calls `f` with each page of `search`, in order, one page held at a time.
fn for_each_page(
    tracker: &Tracker,
    search: &SearchRuns,
    mut f: impl FnMut(&[Run]) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut search = search.clone();
    loop {
        let page = tracker.search_runs(&search)?;
        f(&page.items)?;
        match page.next_page_token {
            Some(token) => search = search.page_token(token),
            None => return Ok(()),
        }
    }
}
