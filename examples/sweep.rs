//! Runs a sweep config with the library, as `hyperflow sweep` will:
//!
//! ```text
//! cargo run --release --example sweep -- examples/sweeps/python/sweep.toml
//! cargo run --release --example sweep -- examples/sweeps/python/sweep.toml --dry-run
//! cargo run --release --example sweep -- examples/sweeps/rust/sweep.toml --set search.max_evals=10
//! ```
//!
//! Ctrl-C stops the sweep cleanly (running trials are killed); a second Ctrl-C exits at once.
//! Without arguments it runs a short version (8 trials) of the Python example.

use std::process::ExitCode;

use hyperflow::sweep::{
    Cancellation, Overrides, SweepConfig, SweepOptions, cancel_on_ctrl_c, display_argv, plan,
    render_summary, run_sweep,
};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut path = None;
    let mut overrides = Overrides::default();
    let mut dry_run = false;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--dry-run" => dry_run = true,
            "--set" => match args.next() {
                Some(assignment) => overrides = overrides.set(assignment),
                None => return fail("--set needs a `key=value`"),
            },
            _ if path.is_none() => path = Some(arg),
            _ => return fail(&format!("unexpected argument `{arg}`")),
        }
    }
    let path = match path {
        Some(path) => path,
        None => {
            let demo = concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/examples/sweeps/python/sweep.toml"
            );
            eprintln!(
                "usage: sweep CONFIG.toml [--dry-run] [--set key=value]...\n\
                 no config given: running {demo} with 8 trials"
            );
            overrides = overrides.max_evals(8);
            demo.to_string()
        }
    };
    let config = match SweepConfig::load_with(&path, &overrides) {
        Ok(c) => c,
        Err(e) => return fail(&e.to_string()),
    };
    if dry_run {
        return match plan(&config, config.search().max_evals()) {
            Ok(plan) => {
                println!("seed {}", plan.seed);
                for t in plan.trials {
                    println!(
                        "trial {:>3}  {}\n           {}",
                        t.number,
                        t.point,
                        display_argv(&t.argv)
                    );
                }
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e.to_string()),
        };
    }
    let cancel = Cancellation::new();
    if let Err(e) = cancel_on_ctrl_c(&cancel) {
        return fail(&e.to_string());
    }
    match run_sweep(&config, SweepOptions::new().cancellation(cancel)) {
        Ok(summary) => {
            println!("{}", render_summary(&summary, 5));
            if summary.is_interrupted() {
                ExitCode::from(130)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => fail(&e.to_string()),
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::FAILURE
}
