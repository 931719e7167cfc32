//! Command-line definitions (clap) and their handlers: each parses its arguments, calls the
//! library, and prints.

mod experiments;
mod import;
mod report;
mod runs;
#[cfg(feature = "server")]
mod server;
mod sweep;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use hyperflow::tracking::uri::DEFAULT_TRACKING_URI;
use hyperflow::tracking::{OpenMode, RunsTable, Tracker, accepted_uris, resolve_tracking_uri};

/// hyperflow: hyperparameter optimization with experiment tracking built in.
#[derive(Debug, Parser)]
#[command(name = "hyperflow", version, about, propagate_version = true)]
struct Cli {
    /// Where runs are stored (the accepted forms are listed by --help).
    #[arg(long, global = true, value_name = "URI", long_help = tracking_uri_help())]
    tracking_uri: Option<String>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List, create, delete and restore experiments.
    #[command(subcommand)]
    Experiments(experiments::Command),
    /// List, show, delete and restore runs.
    #[command(subcommand)]
    Runs(runs::Command),
    /// Which hyperparameter ranges were good, and which to search next.
    Report(report::Command),
    /// Copy experiments, runs, metrics and artifacts from an MLflow store (its SQLite file or
    /// a server) into the tracking store; importing again copies nothing twice.
    Import(import::Command),
    /// Serve the MLflow-compatible tracking REST API, the artifact proxy and the web UI.
    #[cfg(feature = "server")]
    Server(server::ServerArgs),
    /// Open the web UI (http://127.0.0.1:5000 unless --host/--port say otherwise) over the
    /// tracking store, read-only.
    #[cfg(feature = "server")]
    Ui(server::Bind),
    #[command(flatten)]
    Sweep(sweep::Command),
}

/// The long help of `--tracking-uri`, written from the one list of accepted forms.
fn tracking_uri_help() -> String {
    format!(
        "Where runs are stored: {}. Default: $HYPERFLOW_TRACKING_URI, else \
         $MLFLOW_TRACKING_URI, else {DEFAULT_TRACKING_URI}.",
        accepted_uris()
    )
}

/// Runs the command line and turns errors into a one-line message and exit code 1.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", describe(&e));
            ExitCode::FAILURE
        }
    }
}

/// An error and its causes on one line, each cause said once: library errors already
/// quote their cause in their message, contexts added here do not.
fn describe(e: &anyhow::Error) -> String {
    let mut text = e.to_string();
    for cause in e.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let uri = resolve_tracking_uri(cli.tracking_uri.as_deref());
    // Commands that only read open the store read-only: they create nothing (a missing
    // database is an error naming its path) and work on a read-only file or folder.
    let open = |mode| {
        Tracker::open_with(&uri, mode)
            .map_err(|e| anyhow::anyhow!("cannot open tracking store {uri}: {e}"))
    };
    match cli.command {
        Command::Experiments(cmd) => {
            let mode = cmd.store_mode();
            experiments::run(cmd, &open(mode)?)
        }
        Command::Runs(cmd) => {
            let mode = cmd.store_mode();
            runs::run(cmd, &open(mode)?)
        }
        // Reports read runs; `--log-artifacts` writes files, not the database.
        Command::Report(cmd) => report::run(cmd, &open(OpenMode::ReadOnly)?),
        Command::Import(cmd) => import::run(cmd, &open(OpenMode::ReadWrite)?, &uri),
        #[cfg(feature = "server")]
        Command::Server(args) => server::run(args, &uri),
        #[cfg(feature = "server")]
        Command::Ui(bind) => server::run(server::ServerArgs::ui(bind), &uri),
        Command::Sweep(cmd) => sweep::run(cmd, &uri),
    }
}

/// How listings are printed.
#[derive(Debug, Clone, Copy, Default, clap::ValueEnum)]
enum OutputFormat {
    /// An aligned table.
    #[default]
    Table,
    /// Comma-separated values with a header row.
    Csv,
    /// A JSON list of objects.
    Json,
    /// JSON lines: one object per line.
    Jsonl,
}

/// Prints a listing in `format`.
fn print_table(table: &RunsTable, format: OutputFormat) {
    match format {
        OutputFormat::Table => print!("{}", table.to_text()),
        OutputFormat::Csv => print!("{}", table.to_csv()),
        OutputFormat::Json => println!("{}", table.to_json_string()),
        OutputFormat::Jsonl => {
            for row in table.json_rows() {
                println!("{row}");
            }
        }
    }
}
