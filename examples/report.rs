//! Report of sensible ranges for a synthetic random-forest-like sweep run with `fmin`:
//! prints the terminal report and the recommended next space, and writes the HTML report.
//!
//! `cargo run --example report [-- OUT.html]`

use hyperflow::report::{self, Format, ReportInput, ReportOptions};
use hyperflow::{Point, PointError, Space, fmin};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let space = Space::builder()
        .randint("max_depth", 1, 20)
        .loguniform("learning_rate", 1e-4, 1e-1)
        .uniform("subsample", 0.5, 1.0)
        .choice("criterion", ["gini", "entropy", "log_loss"])
        .build()?;
    // Good depths 6..=10, the learning rate wants to be above 0.1, the criterion `gini` is
    // always worse, and subsample does not matter.
    let objective = |p: &Point| -> Result<f64, PointError> {
        let depth: f64 = p.get("max_depth")?;
        let lr: f64 = p.get("learning_rate")?;
        let criterion: String = p.get("criterion")?;
        let depth_penalty = (6.0 - depth).max(depth - 10.0).max(0.0);
        let lr_penalty = (lr.log10() + 0.5).powi(2) / 4.0;
        let criterion_penalty = if criterion == "gini" { 1.5 } else { 0.0 };
        Ok(0.1 + 0.2 * depth_penalty + lr_penalty + criterion_penalty)
    };
    let result = fmin(objective, &space)
        .max_evals(300)
        .seed(42)
        .progress(false)
        .run()?;

    let input = ReportInput::from_fmin("forest", &result, &space);
    let report = report::analyze(&input, &ReportOptions::default())?;
    print!("{}", report::render::terminal(&report));
    println!("Next space:\n{}", report.next_space_toml()?);

    let out = std::env::args().nth(1).unwrap_or_else(|| {
        std::env::temp_dir()
            .join("hyperflow-report.html")
            .display()
            .to_string()
    });
    report::render::write(&report, Format::Html, std::path::Path::new(&out))?;
    println!("HTML report: {out}");
    Ok(())
}
