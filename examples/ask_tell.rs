//! A study driven by ask and tell, kept in a SQLite store, continued across runs.
//!
//! ```text
//! cargo run --release --example ask_tell -- DB_PATH STUDY_NAME N
//! ```
//!
//! Opens study `STUDY_NAME` of experiment `ask-tell` in the SQLite file `DB_PATH` (creating
//! both when missing), asks and tells `N` trials of its own objective (a shifted quadratic
//! over a log-scaled rate, a depth and a choice), and prints one JSON line per trial:
//! `{"number": .., "loss": .., "point": {..}, "best": ..}`. Run it twice with `N = 20` and
//! the second run continues the first: trials 20 to 39, under the same parent run.

use std::io::Write;
use std::process::ExitCode;

use hyperflow::study::{StopReason, Study, Tracking};
use hyperflow::tracking::Tracker;
use hyperflow::{Point, PointError, Space};

/// Best near lr = 1e-2.5, depth 6, `adam`.
fn objective(p: &Point) -> Result<f64, PointError> {
    let lr: f64 = p.get("lr")?;
    let depth: f64 = p.get("depth")?;
    let penalty = match p.get::<String>("optimizer")?.as_str() {
        "adam" => 0.0,
        _ => 0.4,
    };
    Ok((lr.log10() + 2.5).powi(2) + 0.05 * (depth - 6.0).powi(2) + penalty)
}

fn run(db: &str, name: &str, n: usize) -> Result<(), Box<dyn std::error::Error>> {
    let space = Space::builder()
        .loguniform("lr", 1e-5, 1e-1)
        .randint("depth", 1, 13)
        .choice("optimizer", ["adam", "sgd"])
        .build()?;
    let tracker = Tracker::open(&format!("sqlite:///{db}"))?;
    let mut study = Study::builder(&space)
        .tracking(Tracking::new(tracker, "ask-tell").name(name))
        .open()?;
    for _ in 0..n {
        let trial = study.ask()?;
        let point = trial.point().to_json();
        let loss = objective(trial.point());
        let told = study.tell(trial, loss)?;
        let line = serde_json::json!({
            "number": told.number,
            "loss": told.loss,
            "state": told.state,
            "point": point,
            "best": study.best().and_then(|b| b.loss),
        });
        // A closed pipe (`| head`) ends the run with an error rather than a panic.
        writeln!(std::io::stdout().lock(), "{line}")?;
    }
    // This driver is done: the parent run ends FINISHED until the next run reopens it.
    study.finish(StopReason::MaxEvals)?;
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [db, name, n] = args.as_slice() else {
        eprintln!("usage: ask_tell DB_PATH STUDY_NAME N");
        return ExitCode::from(2);
    };
    let Ok(n) = n.parse::<usize>() else {
        eprintln!("ask_tell: N must be a whole number, got {n:?}");
        return ExitCode::from(2);
    };
    match run(db, name, n) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ask_tell: {e}");
            ExitCode::FAILURE
        }
    }
}
