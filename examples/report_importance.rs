//! How often the report's importance finds a parameter that matters, and calls one that
//! does not significant, by number of trials: the measurements behind
//! `docs/report.md#importance-with-few-trials`.
//!
//! 1. Random search (`fmin` with `algo::Random`) of a learning rate searched over five
//!    decades whose optimum 1e-3 sits in the middle decade, plus three parameters that do
//!    not change the loss; 20 seeds per trial count.
//! 2. Synthetic sweeps: one parameter `x` with effects of several shapes, one irrelevant
//!    `y`, both uniform on [0, 1]; `SWEEPS` seeds per trial count (default 20; docs/report.md used 200).
//!
//! `cargo run --release --example report_importance [-- SWEEPS]`

use hyperflow::algo::Random;
use hyperflow::report::{ReportInput, ReportOptions, ReportTrial, TrialSet, analyze};
use hyperflow::rng::TrialRng;
use hyperflow::{Direction, Point, PointError, Space, TrialContext, fmin_with_context};
use rand::RngExt;

/// Shapes of the effect of `x`: loss = |x − centre| + noise × U(0, 1).
const SHAPES: [(&str, f64, f64); 4] = [
    // name, centre, noise
    ("narrow", 0.6, 0.02),
    ("edge", 0.0, 0.02),
    ("broad", 0.6, 0.3),
    ("weak", 0.3, 1.0),
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sweeps: u64 = match std::env::args().nth(1) {
        Some(s) => s.parse()?,
        None => 20,
    };
    let options = ReportOptions::default();

    println!("lr over five decades, 3 irrelevant parameters, random search, 20 seeds");
    println!("trials | lr first and significant | irrelevant called significant");
    let space = Space::builder()
        .loguniform("lr", 1e-5, 1.0)
        .uniform("dropout", 0.0, 0.5)
        .randint("layers", 1, 8)
        .uniform("momentum", 0.8, 0.99)
        .build()?;
    for n in [25, 30, 40, 60, 100] {
        let (mut found, mut false_alarms) = (0, 0);
        for seed in 0..20 {
            let objective = |p: &Point, ctx: &TrialContext| -> Result<f64, PointError> {
                let lr: f64 = p.get("lr")?;
                let noise: f64 = TrialRng::for_trial(seed + 100, ctx.number() as u64).random();
                Ok((lr.log10() + 3.0).abs() + 0.05 * noise)
            };
            let result = fmin_with_context(objective, &space)
                .algo(Random)
                .max_evals(n)
                .seed(seed)
                .progress(false)
                .run()?;
            let report = analyze(&ReportInput::from_fmin("lr", &result, &space), &options)?;
            let params = &report.groups[0].params;
            found += usize::from(
                params[0]
                    .importance
                    .is_some_and(|i| i.rank == 1 && i.matters),
            );
            false_alarms += params[1..]
                .iter()
                .filter(|p| p.importance.is_some_and(|i| i.matters))
                .count();
        }
        println!("{n:6} | {found:>17} of 20 | {false_alarms:>22} of 60");
    }

    println!(
        "\nx matters (mean strength) with loss = |x - centre| + noise * U(0, 1), y irrelevant,"
    );
    println!("{sweeps} sweeps each; narrow: centre 0.6, noise 0.02 (top trials in a fifth of x);");
    println!("edge: centre 0, noise 0.02; broad: centre 0.6, noise 0.3; weak: centre 0.3, noise 1");
    let names: Vec<String> = SHAPES.iter().map(|s| format!("{:>14}", s.0)).collect();
    println!("trials | {} | y matters", names.join(" | "));
    let xy = Space::builder()
        .uniform("x", 0.0, 1.0)
        .uniform("y", 0.0, 1.0)
        .build()?;
    for n in [25, 40, 60, 100, 200] {
        let mut line = format!("{n:6}");
        let mut false_alarms = 0;
        for (name, centre, noise) in SHAPES {
            let (mut found, mut strength) = (0, 0.0);
            for seed in 0..sweeps {
                let trials = (0..n)
                    .map(|i| {
                        let mut rng = TrialRng::for_trial(seed, i as u64);
                        let point = xy.decode(&xy.sample_prior(&mut rng));
                        let x: f64 = point.get("x").unwrap_or(0.0);
                        let loss = (x - centre).abs() + noise * rng.random::<f64>();
                        ReportTrial::complete(i, point, loss)
                    })
                    .collect();
                let input = ReportInput::single(
                    Direction::Minimize,
                    TrialSet::new(name, trials).with_space(xy.clone()),
                );
                let report = analyze(&input, &options)?;
                let [x, y] = [0, 1].map(|i| report.groups[0].params[i].importance);
                found += usize::from(x.is_some_and(|i| i.matters));
                strength += x.map_or(0.0, |i| i.strength);
                false_alarms += usize::from(y.is_some_and(|i| i.matters));
            }
            line += &format!(
                " | {:>6.1}% ({:.2})",
                100.0 * found as f64 / sweeps as f64,
                strength / sweeps as f64
            );
        }
        let tried = sweeps as f64 * SHAPES.len() as f64;
        println!("{line} | {:>8.1}%", 100.0 * false_alarms as f64 / tried);
    }
    Ok(())
}
