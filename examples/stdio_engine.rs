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
//!
//! ## Pruning (the learning-curve benchmark in `bench/prune/` drives it)
//!
//! `--pruner KIND` gives the study a pruner: any name of `hyperflow::prune::PrunerKind`
//! (`none`, the default, `median`, `percentile`, `asha`, `hyperband`, `wilcoxon`,
//! `threshold`), with the same defaults as a sweep's `[pruner]` table holding only `kind`
//! (optuna's defaults); `--pruner KIND/KEY=VALUE/...` sets that table's settings over them
//! (`hyperband/brackets=separate/weights=budgets`; a VALUE is an integer, a number or
//! else a string). In step 2 the driver may then, before the trial's value, send any
//! number of intermediate values, each answered at once:
//!
//! - it writes `{"report": STEP, "value": V}` (STEP a non-negative integer, V a number);
//! - the engine answers one line `{"prune": true}` or `{"prune": false}`
//!   (`TrialContext::report`'s answer).
//!
//! The trial then ends with its value as above, or with `{"pruned": true}` when the driver
//! stopped it (the study records it PRUNED with the last value it reported). Without
//! reports, the protocol is the one above, unchanged.

use std::io::{BufRead, Write};
use std::process::ExitCode;

use hyperflow::prune::{PrunerKind, PrunerSpec, SettingValue};
use hyperflow::{AskedTrial, Outcome, Space, Study};

const USAGE: &str =
    "usage: stdio_engine --space SPACE.json --algo NAME --seed S [--pruner KIND[/KEY=VALUE...]]";

/// The command line, checked.
struct Args {
    space: String,
    algo: String,
    seed: u64,
    pruner: PrunerSpec,
}

fn parse_args(mut argv: impl Iterator<Item = String>) -> Result<Args, String> {
    let (mut space, mut algo, mut seed, mut pruner) = (None, None, None, None);
    while let Some(flag) = argv.next() {
        let slot = match flag.as_str() {
            "--space" => &mut space,
            "--algo" => &mut algo,
            "--seed" => &mut seed,
            "--pruner" => &mut pruner,
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
        pruner: match pruner {
            None => PrunerSpec::new(PrunerKind::None),
            Some(text) => parse_pruner(&text)?,
        },
    })
}

/// `KIND[/KEY=VALUE...]`: a built-in pruner with settings over its defaults.
fn parse_pruner(text: &str) -> Result<PrunerSpec, String> {
    let mut parts = text.split('/');
    let name = parts.next().unwrap_or_default();
    let kind: PrunerKind = name
        .parse()
        .map_err(|e| format!("`--pruner {text}`: {e}"))?;
    let settings = parts
        .map(|setting| {
            let (key, value) = setting
                .split_once('=')
                .ok_or_else(|| format!("`--pruner {text}`: `{setting}` is not KEY=VALUE"))?;
            let value = value
                .parse()
                .map(SettingValue::Integer)
                .unwrap_or_else(|_| {
                    value.parse().map_or_else(
                        |_| SettingValue::Text(value.to_string()),
                        SettingValue::Number,
                    )
                });
            Ok((key, value))
        })
        .collect::<Result<Vec<_>, String>>()?;
    PrunerSpec::from_settings(kind, settings).map_err(|e| format!("`--pruner {text}`: {e}"))
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

/// A line of the driver's within a trial: an intermediate value, or the trial's end.
enum Line {
    Report { step: u64, value: f64 },
    End(Outcome),
}

/// Reads one line of the driver's for trial `number`: `{"report": STEP, "value": V}`,
/// `{"pruned": true}`, or the value (`parse_value`).
fn parse_line(line: &str, number: usize) -> Result<Line, String> {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_str(line.trim()) else {
        return parse_value(line, number).map(Line::End);
    };
    let expected = "expected `{\"report\": STEP, \"value\": V}` (STEP an integer >= 0, V a \
                    number), `{\"pruned\": true}`, a number, or null";
    let bad = || format!("trial {number}: `{}`; {expected}", line.trim());
    if map.len() == 1 && map.get("pruned") == Some(&serde_json::Value::Bool(true)) {
        return Ok(Line::End(Outcome::pruned(
            "the driver stopped it when told to",
        )));
    }
    match (map.len(), map.get("report"), map.get("value")) {
        (2, Some(step), Some(value)) => Ok(Line::Report {
            step: step.as_u64().ok_or_else(bad)?,
            value: value.as_f64().ok_or_else(bad)?,
        }),
        _ => Err(bad()),
    }
}

/// Reads the driver's lines for `trial` up to its end, answering each report; `None` when
/// stdin ended.
fn evaluate(
    trial: &AskedTrial,
    input: &mut impl BufRead,
    out: &mut impl Write,
    line: &mut String,
) -> Result<Option<Outcome>, String> {
    let number = trial.number();
    loop {
        line.clear();
        let read = input
            .read_line(line)
            .map_err(|e| format!("trial {number}: reading the value from stdin: {e}"))?;
        if read == 0 {
            return Ok(None);
        }
        match parse_line(line, number)? {
            Line::End(outcome) => return Ok(Some(outcome)),
            Line::Report { step, value } => {
                let prune = trial
                    .context()
                    .report(step, value)
                    .map_err(|e| format!("trial {number}: report at step {step}: {e}"))?;
                let answer = serde_json::json!({ "prune": prune });
                // A driver that closed its end is done.
                if writeln!(out, "{answer}")
                    .and_then(|()| out.flush())
                    .is_err()
                {
                    return Ok(None);
                }
            }
        }
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
        .boxed_pruner(args.pruner.build())
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
        let Some(outcome) = evaluate(&trial, &mut input, &mut out, &mut line)? else {
            return Ok(());
        };
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
