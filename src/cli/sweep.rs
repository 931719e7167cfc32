//! `hyperflow sweep CONFIG` and `hyperflow run CONFIG -P name=value`: thin handlers over
//! [`hyperflow::sweep`].

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use hyperflow::sweep::tracked::{Resume, TrackedSweep, run_point, run_tracked};
use hyperflow::sweep::{
    Cancellation, Overrides, ProgressMode, SweepConfig, SweepOptions, cancel_on_ctrl_c,
    display_argv, plan, point_from_assignments, render_summary,
};
use hyperflow::tracking::Tracker;

/// How many of the best trials the final table shows.
const TOP: usize = 5;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Tune a program: run the command of a sweep config once per trial, tracked.
    Sweep(SweepArgs),
    /// Run one tracked trial of a sweep config with given values (`-P lr=0.01`).
    Run(RunArgs),
}

/// Config file and overrides shared by `sweep` and `run`.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// The sweep config (TOML).
    config: PathBuf,
    /// Override a config key, e.g. `--set search.algo=random`; repeatable.
    #[arg(long, value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// No progress bar or progress lines.
    #[arg(long)]
    no_progress: bool,
}

#[derive(Debug, Args)]
pub struct SweepArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Continue an earlier sweep of this config from the store: the latest one, or the
    /// one with this parent run id.
    #[arg(long, value_name = "PARENT_RUN_ID", num_args = 0..=1, default_missing_value = "")]
    resume: Option<String>,
    /// Join a search as one more worker: the one with this parent run id, or without an
    /// id the latest search of this config, running or finished (started when there is
    /// none), so a worker starting after the search ended adds nothing. Processes started
    /// on one config and store join its running search by themselves.
    #[arg(long, value_name = "PARENT_RUN_ID", num_args = 0..=1, default_missing_value = "", conflicts_with = "resume")]
    join: Option<String>,
    /// Print the points and commands the first trials would run; run and store nothing.
    #[arg(long)]
    dry_run: bool,
    /// Override search.max_evals.
    #[arg(long, value_name = "N")]
    max_evals: Option<usize>,
    /// Override search.parallel.
    #[arg(long, value_name = "N")]
    parallel: Option<usize>,
    /// Override search.seed.
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// A parameter's value, e.g. `-P lr=0.01`; repeat for each parameter.
    #[arg(short = 'P', long = "param", value_name = "NAME=VALUE")]
    params: Vec<String>,
}

pub fn run(cmd: Command, tracking_uri: &str) -> anyhow::Result<()> {
    match cmd {
        Command::Sweep(args) => sweep(args, tracking_uri),
        Command::Run(args) => run_one(args, tracking_uri),
    }
}

fn overrides(args: &ConfigArgs) -> Overrides {
    args.set
        .iter()
        .fold(Overrides::default(), |o, s| o.set(s.clone()))
}

/// What a tracked sweep of the command line runs with: the store's URI, Ctrl-C, and the
/// progress display asked for.
fn options(args: &ConfigArgs, tracking_uri: &str) -> anyhow::Result<SweepOptions<'static>> {
    let progress = if args.no_progress {
        ProgressMode::Quiet
    } else {
        ProgressMode::Auto
    };
    Ok(SweepOptions::new()
        .tracking_uri(tracking_uri)
        .cancellation(cancellation()?)
        .progress(progress))
}

/// The overrides of the command line, which a resumed sweep needs to go on as it ran (the
/// store it adds itself).
fn resume_args(args: &SweepArgs) -> Vec<String> {
    let sets = args.config.set.iter().map(|s| ("--set", s.clone()));
    let numbers = [
        ("--max-evals", args.max_evals.map(|n| n.to_string())),
        ("--parallel", args.parallel.map(|n| n.to_string())),
        ("--seed", args.seed.map(|n| n.to_string())),
    ]
    .into_iter()
    .filter_map(|(flag, value)| Some((flag, value?)));
    sets.chain(numbers)
        .flat_map(|(flag, value)| [flag.to_string(), value])
        .collect()
}

fn open(uri: &str) -> anyhow::Result<Tracker> {
    Tracker::open(uri).with_context(|| format!("cannot open tracking store {uri}"))
}

fn cancellation() -> anyhow::Result<Cancellation> {
    let cancel = Cancellation::new();
    cancel_on_ctrl_c(&cancel)?;
    Ok(cancel)
}

fn sweep(args: SweepArgs, tracking_uri: &str) -> anyhow::Result<()> {
    let mut o = overrides(&args.config);
    if let Some(n) = args.max_evals {
        o = o.max_evals(n);
    }
    if let Some(n) = args.parallel {
        o = o.parallel(n);
    }
    if let Some(n) = args.seed {
        o = o.seed(n);
    }
    let config = SweepConfig::load_with(&args.config.config, &o)?;
    if args.dry_run {
        let plan = plan(&config, config.search().max_evals())?;
        println!(
            "dry run of {} ({} trials, algo {}, seed {}); nothing is run or stored",
            config.path().display(),
            plan.trials.len(),
            config.search().algo().as_str(),
            plan.seed
        );
        match config.pruner() {
            Some(pruner) => println!("pruner: {pruner}"),
            None => println!("pruner: none (add a [pruner] table to stop hopeless trials early)"),
        }
        println!(
            "output kept: {} (`[command] keep_output`: all | failures | none)",
            config.command().keep_output()
        );
        for t in plan.trials {
            println!("trial {:>3}  {}", t.number, t.point);
            println!("           {}", display_argv(&t.argv));
        }
        return Ok(());
    }
    hyperflow::sweep::tracked::validate(&config)?;
    let tracker = open(tracking_uri)?;
    let options = options(&args.config, tracking_uri)?.resume_args(resume_args(&args));
    let resume = match (args.resume, args.join) {
        (_, Some(id)) if id.is_empty() => Some(Resume::LatestOrNew),
        (_, Some(id)) => Some(Resume::Run(id)),
        (Some(id), None) if id.is_empty() => Some(Resume::Latest),
        (Some(id), None) => Some(Resume::Run(id)),
        (None, None) => None,
    };
    let done = run_tracked(&config, &tracker, options, resume)?;
    if done.joined {
        println!(
            "joined the running search of this config (parent run {}) as one more worker",
            done.run_id
        );
    }
    if done.resumed_trials > 0 || done.killed_trials > 0 {
        println!(
            "resumed: {} earlier trials read back ({} killed ones not counted)",
            done.resumed_trials, done.killed_trials
        );
    }
    finish(&done)
}

fn run_one(args: RunArgs, tracking_uri: &str) -> anyhow::Result<()> {
    let config = SweepConfig::load_with(&args.config.config, &overrides(&args.config))?;
    let point = point_from_assignments(config.space(), &args.params)?;
    hyperflow::sweep::tracked::validate(&config)?;
    let tracker = open(tracking_uri)?;
    let done = run_point(
        &config,
        point,
        &tracker,
        options(&args.config, tracking_uri)?,
    )?;
    if let Some(t) = done.summary.trials().first()
        && let Some(error) = &t.error
    {
        eprintln!("the run failed: {error}");
    }
    finish(&done)
}

/// Prints the summary and where the runs are; exits 130 when interrupted, 1 when no
/// trial completed.
fn finish(done: &TrackedSweep) -> anyhow::Result<()> {
    println!("{}", render_summary(&done.summary, TOP));
    println!("{}", done.location());
    for w in done.summary.warnings() {
        eprintln!("warning: {w}");
    }
    if done.summary.is_interrupted() {
        // The parent run is already marked KILLED; the resume command was printed.
        std::process::exit(130);
    }
    if done.summary.best().is_none() {
        // The summary above says why; this is the exit status's reason.
        anyhow::bail!("no trial completed, so there is no best");
    }
    Ok(())
}
