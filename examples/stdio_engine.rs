//! hyperflow as an ask/tell engine over stdin and stdout, for drivers in other languages
//! (the broad benchmark in `bench/run.py` is one).
//!
//! ```text
//! cargo build --release --example stdio_engine
//! target/release/examples/stdio_engine --space SPACE.json --algo tpe --seed 0
//! ```
//!
//! Creates an untracked study over the space in `SPACE.json` (hyperflow's JSON schema, as
//! `Space::from_json_str` reads it) with the sampler `algo::by_name(ALGO)` and seed `SEED`,
//! then loops:
//!
//! 1. writes one line `{"number": n, "point": {...}}` (the asked point, as `Point::to_json`);
//! 2. reads one line holding the value of that point: a JSON number, or `null` for a failed
//!    evaluation;
//! 3. tells the study.
//!
//! It exits 0 when stdin ends, and 2 with the reason on stderr for bad arguments, a bad
//! space, an unknown algorithm or a line that is not a number or `null`.

use std::io::{BufRead, Write};
use std::process::ExitCode;

use hyperflow::{Outcome, Space, Study};

const USAGE: &str = "usage: stdio_engine --space SPACE.json --algo NAME --seed S";

/// The command line, checked.
struct Args {
    space: String,
    algo: String,
    seed: u64,
}

fn parse_args(mut argv: impl Iterator<Item = String>) -> Result<Args, String> {
    let (mut space, mut algo, mut seed) = (None, None, None);
    while let Some(flag) = argv.next() {
        let slot = match flag.as_str() {
            "--space" => &mut space,
            "--algo" => &mut algo,
            "--seed" => &mut seed,
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument `{other}`; {USAGE}")),
        };
        match argv.next() {
            Some(value) => *slot = Some(value),
            None => return Err(format!("`{flag}` needs a value; {USAGE}")),
        }
    }
    let missing = |name: &str| format!("missing `--{name}`; {USAGE}");
    let seed = seed.ok_or_else(|| missing("seed"))?;
    Ok(Args {
        space: space.ok_or_else(|| missing("space"))?,
        algo: algo.ok_or_else(|| missing("algo"))?,
        seed: seed.parse().map_err(|e| {
            format!("`--seed {seed}`: {e}; expected a non-negative integer below 2^64")
        })?,
    })
}

/// Reads one evaluation result: a number is a loss, `null` a failed evaluation.
fn parse_value(line: &str, number: usize) -> Result<Outcome, String> {
    let expected = "expected a JSON number, or null for a failed evaluation";
    match serde_json::from_str::<serde_json::Value>(line.trim()) {
        Ok(serde_json::Value::Null) => Ok(Outcome::failed("the driver reported a failure")),
        Ok(serde_json::Value::Number(n)) => match n.as_f64() {
            Some(x) => Ok(Outcome::loss(x)),
            None => Err(format!(
                "trial {number}: value `{n}` is not an f64; {expected}"
            )),
        },
        Ok(other) => Err(format!("trial {number}: got `{other}`; {expected}")),
        Err(e) => Err(format!(
            "trial {number}: `{}`: {e}; {expected}",
            line.trim()
        )),
    }
}

fn run(args: Args) -> Result<(), String> {
    let source = std::fs::read_to_string(&args.space)
        .map_err(|e| format!("cannot read the space `{}`: {e}", args.space))?;
    let space = Space::from_json_str(&source).map_err(|e| format!("{}: {e}", args.space))?;
    let sampler = hyperflow::algo::by_name(&args.algo).map_err(|e| e.to_string())?;
    let mut study = Study::builder(&space)
        .boxed_sampler(sampler)
        .seed(args.seed)
        .create()
        .map_err(|e| e.to_string())?;
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut out = std::io::stdout().lock();
    let mut line = String::new();
    loop {
        let trial = study.ask().map_err(|e| e.to_string())?;
        let number = trial.number();
        let asked = serde_json::json!({ "number": number, "point": trial.point().to_json() });
        // A driver that closed its end is done: that is the normal end, as EOF is.
        if writeln!(out, "{asked}").and_then(|()| out.flush()).is_err() {
            return Ok(());
        }
        line.clear();
        let read = input
            .read_line(&mut line)
            .map_err(|e| format!("trial {number}: reading the value from stdin: {e}"))?;
        if read == 0 {
            return Ok(());
        }
        let outcome = parse_value(&line, number)?;
        study.tell(trial, outcome).map_err(|e| e.to_string())?;
    }
}

fn main() -> ExitCode {
    match parse_args(std::env::args().skip(1)).and_then(run) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("stdio_engine: {message}");
            ExitCode::from(2)
        }
    }
}
