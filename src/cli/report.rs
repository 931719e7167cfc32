//! `hyperflow report ...`

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{ArgGroup, Args};
use hyperflow::Direction;
use hyperflow::report::{
    self, Format, ReportOptions, ReportSource, StoreOptions, from_store, log_artifacts,
};
use hyperflow::tracking::Tracker;

/// Which hyperparameter ranges were good, and which to search next.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("source").required(true).multiple(true).args(["parent", "experiment", "filter"])))]
pub struct Command {
    /// One sweep: the id of its parent run.
    #[arg(long, value_name = "RUN_ID", conflicts_with_all = ["experiment", "filter"])]
    parent: Option<String>,
    /// An experiment by name or id; repeat for several (one group each, plus the house
    /// ranges they agree on). With --filter: the experiments to search.
    #[arg(long, short, value_name = "NAME")]
    experiment: Vec<String>,
    /// The runs matching an MLflow filter, e.g. "params.criterion = 'gini'", one group per
    /// experiment (every active experiment unless --experiment is given).
    #[arg(long, short, value_name = "FILTER")]
    filter: Option<String>,
    /// The metric that is the loss (default: the sweep's objective metric, else `loss`).
    #[arg(long, value_name = "NAME")]
    metric: Option<String>,
    /// Whether lower or higher is better (default: the sweep's direction, else minimize).
    #[arg(long, value_parser = ["minimize", "maximize"])]
    direction: Option<String>,
    /// Fraction of the complete trials that count as top trials, strictly between 0 and 1.
    #[arg(long, default_value_t = 0.2, value_name = "FRACTION")]
    top: f64,
    /// How many best trials to list.
    #[arg(long, default_value_t = 10, value_name = "N")]
    best: usize,
    /// Output format: terminal, md, json or html.
    #[arg(long, default_value = "terminal", value_parser = ["terminal", "md", "markdown", "json", "html"])]
    format: String,
    /// Write the report to this file instead of printing it (Markdown: the plots go next to
    /// it as SVG files).
    #[arg(long, short, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Write the recommended ranges as a space (TOML) for the next sweep.
    #[arg(long, value_name = "FILE")]
    emit_space: Option<PathBuf>,
    /// Log the plots and the HTML and JSON report as artifacts of the sweep's parent run
    /// (under `report/`); needs a report over one sweep.
    #[arg(long)]
    log_artifacts: bool,
}

pub fn run(cmd: Command, tracker: &Tracker) -> anyhow::Result<()> {
    let format: Format = cmd.format.parse()?;
    let options = ReportOptions::default()
        .top_quantile(cmd.top)
        .best_trials(cmd.best);
    options.validate()?;
    let source = match (cmd.parent, cmd.filter) {
        (Some(run_id), _) => ReportSource::Parent(run_id),
        (None, Some(filter)) => ReportSource::Filter {
            filter,
            experiments: cmd.experiment,
        },
        (None, None) => ReportSource::Experiments(cmd.experiment),
    };
    let mut store_options = StoreOptions::default();
    if let Some(metric) = cmd.metric {
        store_options = store_options.metric(metric);
    }
    match cmd.direction.as_deref() {
        Some("maximize") => store_options = store_options.direction(Direction::Maximize),
        Some(_) => store_options = store_options.direction(Direction::Minimize),
        None => {}
    }
    let read = from_store(tracker, &source, &store_options)?;
    let parent = match (cmd.log_artifacts, read.sole_parent()) {
        (false, _) => None,
        (true, Some(p)) => Some(p.to_string()),
        (true, None) => bail!(
            "--log-artifacts needs a report over exactly one sweep (--parent RUN_ID); this one \
             covers {} sweeps",
            read.parent_run_ids.iter().flatten().count()
        ),
    };
    let report = report::analyze(&read.input, &options)?;

    match &cmd.out {
        Some(path) => {
            report::render::write(&report, format, path)?;
            eprintln!("report written to {}", path.display());
        }
        None => match format {
            Format::Json => print!("{}", report::render::json(&report)?),
            Format::Html => print!("{}", report::render::html(&report)?),
            Format::Markdown => {
                print!("{}", report::render::markdown(&report, "")?);
                eprintln!("(the plots are written next to the Markdown with --out FILE)");
            }
            _ => print!("{}", report::render::terminal(&report)),
        },
    }
    if let Some(path) = &cmd.emit_space {
        let toml = report.next_space_toml()?;
        std::fs::write(path, toml)
            .with_context(|| format!("could not write {}", path.display()))?;
        eprintln!("next space written to {}", path.display());
    }
    if let Some(run_id) = parent {
        let written = log_artifacts(tracker, &run_id, &report)?;
        eprintln!(
            "logged {} artifacts on run {run_id} under {}/",
            written.len(),
            report::REPORT_ARTIFACT_DIR
        );
    }
    Ok(())
}
