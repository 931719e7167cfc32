//! The report's plots, drawn with plotters' SVG backend.
//!
//! Scatter plots draw at most [`MAX_POINTS`] trials, so a report of 100,000 trials stays
//! small and quick to open. Past that, they draw a seeded stratified sample ([`sample`]):
//! at most [`MAX_TOP_POINTS`] of the top trials and the rest of the room for the others,
//! each part spread evenly over its strata (trial order in the loss history, loss rank in
//! the parameter plots), and say so in their caption, legend and title ("2,000 of 100,000
//! trials drawn").

use std::error::Error;

use plotters::coord::CoordTranslate;
use plotters::coord::ranged1d::{Ranged, ValueFormatter};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use rayon::iter::{IntoParallelIterator, ParallelIterator};

use super::Plot;
use super::fmt::{num, slug, value};
use crate::Direction;
use crate::report::ReportError;
use crate::report::model::{GroupReport, ParamDetail, ParamReport, Report};
use crate::space::Value;

/// Most points drawn in one scatter plot.
pub(crate) const MAX_POINTS: usize = 2000;
/// Most top trials drawn in one scatter plot: a quarter of the points, close to the share
/// of top trials at the default top quantile (0.2), so a sample keeps the picture's mix.
pub(crate) const MAX_TOP_POINTS: usize = MAX_POINTS / 4;
/// The seed of the samples: the same report draws the same points every time.
const SAMPLE_SEED: u64 = 0x5eed_9107;

const SIZE: (u32, u32) = (720, 380);
const FONT: &str = "sans-serif";
const POINT: RGBColor = RGBColor(0x1f, 0x77, 0xb4);
const TOP: RGBColor = RGBColor(0xff, 0x7f, 0x0e);
const BEST: RGBColor = RGBColor(0xd6, 0x27, 0x28);
const GOOD: RGBColor = RGBColor(0x2c, 0xa0, 0x2c);

type DrawResult = Result<(), Box<dyn Error>>;
/// What a plot drew: `Some` when its points are a sample.
type SampleResult = Result<Option<Sample>, Box<dyn Error>>;

/// Draws the labels of a chart's series in its upper right corner, on a light box.
fn draw_legend<'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, CT>,
) -> DrawResult {
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .label_font((FONT, 13))
        .draw()?;
    Ok(())
}

/// How to draw a plot into an SVG text.
type Draw<'a> = Box<dyn Fn(&mut String) -> SampleResult + Send + Sync + 'a>;

/// A plot to draw: its file name, its title (without the note of a sample) and how to
/// draw it.
struct Job<'a> {
    file_name: String,
    title: String,
    draw: Draw<'a>,
}

impl Job<'_> {
    fn draw(self) -> Result<Plot, ReportError> {
        let mut svg = String::new();
        let sample = (self.draw)(&mut svg).map_err(|e| ReportError::Plot {
            plot: self.file_name.clone(),
            message: e.to_string(),
        })?;
        let note = sample.map_or_else(String::new, |s| format!(" ({})", s.note()));
        Ok(Plot {
            file_name: self.file_name,
            title: format!("{}{note}", self.title),
            svg,
        })
    }
}

/// Every plot of the report, in a fixed order: per group the loss history, importance
/// bars, one plot per parameter, and the parallel coordinates of the top trials. File
/// names are prefixed with the group's number and name when there are several groups.
/// The plots are drawn in parallel.
pub(crate) fn plots<'r>(report: &'r Report) -> Result<Vec<Plot>, ReportError> {
    let mut jobs: Vec<Job<'r>> = Vec::new();
    let many = report.groups.len() > 1;
    for (gi, group) in report.groups.iter().enumerate() {
        let prefix = if many {
            format!("{}-{}-", gi + 1, slug(&group.name))
        } else {
            String::new()
        };
        let title_prefix = if many {
            format!("{}: ", group.name)
        } else {
            String::new()
        };
        let mut add = |file: String, title: String, draw: Draw<'r>| {
            jobs.push(Job {
                file_name: format!("{prefix}{file}"),
                title: format!("{title_prefix}{title}"),
                draw,
            });
        };
        if !group.history.is_empty() {
            add(
                "loss.svg".into(),
                "Loss by trial".into(),
                Box::new(|s| loss_plot(s, group, report.direction)),
            );
        }
        if group.params.iter().any(|p| p.importance.is_some()) {
            add(
                "importance.svg".into(),
                "Importance".into(),
                Box::new(|s| importance_plot(s, group).map(|()| None)),
            );
        }
        for p in &group.params {
            if matches!(p.detail, ParamDetail::Constant { .. }) || p.n_values == 0 {
                continue;
            }
            add(
                format!("param-{}.svg", slug(&p.name)),
                format!("Loss vs {}", p.name),
                Box::new(|s| param_plot(s, p)),
            );
        }
        if group.n_top > 0 && varying(group).count() > 0 {
            add(
                "parallel.svg".into(),
                "Top trials, parallel coordinates".into(),
                Box::new(|s| {
                    parallel_plot(s, group, report.direction == Direction::Maximize).map(|()| None)
                }),
            );
        }
    }
    let drawn: Vec<Result<Plot, ReportError>> = jobs.into_par_iter().map(Job::draw).collect();
    // The first error in the plots' order, whichever thread met it first.
    drawn.into_iter().collect()
}

fn varying(group: &GroupReport) -> impl Iterator<Item = &ParamReport> {
    group
        .params
        .iter()
        .filter(|p| !matches!(p.detail, ParamDetail::Constant { .. }) && p.n_values > 0)
}

/// A non-empty range around `lo..hi` with a little air.
fn padded(lo: f64, hi: f64) -> (f64, f64) {
    if !(lo.is_finite() && hi.is_finite()) {
        return (0.0, 1.0);
    }
    if hi > lo {
        let pad = (hi - lo) * 0.05;
        (lo - pad, hi + pad)
    } else {
        let pad = lo.abs().max(1.0) * 0.05;
        (lo - pad, hi + pad)
    }
}

/// The points a scatter plot draws out of all it could: their indices, ascending.
#[derive(Debug, Clone, PartialEq)]
struct Drawn {
    indices: Vec<usize>,
    total: usize,
}

/// How many of how many trials a sampled plot drew.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Sample {
    drawn: usize,
    total: usize,
}

impl Sample {
    /// "2,000 of 100,000 trials drawn".
    fn note(self) -> String {
        format!(
            "{} of {} trials drawn",
            thousands(self.drawn),
            thousands(self.total)
        )
    }
}

impl Drawn {
    /// `Some` when not every point is drawn.
    fn sample(&self) -> Option<Sample> {
        (self.indices.len() < self.total).then_some(Sample {
            drawn: self.indices.len(),
            total: self.total,
        })
    }

    /// The legend's label of the points: marked as a sample when it is one.
    fn label(&self, what: &str) -> String {
        match self.sample() {
            Some(s) => format!("{what}, a sample: {}", s.note()),
            None => what.to_string(),
        }
    }
}

/// `n` with thousands separated by commas.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The points to draw out of `n`: all of them up to [`MAX_POINTS`]; past that, a
/// stratified sample of at most [`MAX_TOP_POINTS`] of the `top` ones and of the others
/// to fill [`MAX_POINTS`]. Each part is ordered by `key` (ties by index) and cut into as
/// many equal strata as it gets points; one seeded random point is drawn per stratum, so
/// the sample follows the part's distribution over `key` and is the same every time.
fn sample(n: usize, top: &dyn Fn(usize) -> bool, key: &dyn Fn(usize) -> f64) -> Drawn {
    if n <= MAX_POINTS {
        return Drawn {
            indices: (0..n).collect(),
            total: n,
        };
    }
    let (tops, others): (Vec<usize>, Vec<usize>) = (0..n).partition(|&i| top(i));
    let mut rng = crate::rng::TrialRng::from_seed(SAMPLE_SEED);
    let mut indices = stratified(tops, MAX_TOP_POINTS, key, &mut rng);
    let room = MAX_POINTS - indices.len();
    indices.extend(stratified(others, room, key, &mut rng));
    indices.sort_unstable();
    Drawn { indices, total: n }
}

/// At most `k` of `items`: all when they fit, else one random item of each of `k` equal
/// strata of `items` ordered by `key`.
fn stratified(
    items: Vec<usize>,
    k: usize,
    key: &dyn Fn(usize) -> f64,
    rng: &mut crate::rng::TrialRng,
) -> Vec<usize> {
    use rand::RngExt;
    if items.len() <= k {
        return items;
    }
    // Each key read once; with the index as the tie-break the order is total, so an
    // unstable sort gives the one order.
    let mut keyed: Vec<(f64, usize)> = items.into_iter().map(|i| (key(i), i)).collect();
    keyed.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let len = keyed.len();
    (0..k)
        .map(|j| keyed[rng.random_range(j * len / k..(j + 1) * len / k)].1)
        .collect()
}

/// Clamps a loss into the plotted range, so outliers sit at the edge instead of outside.
fn clamp(y: f64, lo: f64, hi: f64) -> f64 {
    y.clamp(lo, hi)
}

/// The y range of losses: all of them, unless a few huge outliers would squash the rest;
/// then up to the 90th percentile plus three times its distance from the best.
fn loss_range(losses: &mut [f64]) -> (f64, f64) {
    losses.sort_by(f64::total_cmp);
    let (Some(&lo), Some(&hi)) = (losses.first(), losses.last()) else {
        return (0.0, 1.0);
    };
    let q90 = losses[(losses.len() * 9 / 10).min(losses.len() - 1)];
    let cap = q90 + 3.0 * (q90 - lo);
    padded(lo, if hi > cap && cap > lo { cap } else { hi })
}

fn loss_plot(svg: &mut String, group: &GroupReport, direction: Direction) -> SampleResult {
    let root = SVGBackend::with_string(svg, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let h = &group.history;
    let x_max = h.last().map_or(1, |p| p.number).max(1) as f64;
    let (y0, y1) = loss_range(&mut h.iter().map(|p| p.loss).collect::<Vec<_>>());
    let threshold = group.top_threshold;
    let is_top = |l: f64| threshold.is_some_and(|t| direction.score(l) <= direction.score(t));
    // Strata over trial order: the sample keeps the history's shape.
    let shown = sample(h.len(), &|i| is_top(h[i].loss), &|i| i as f64);
    let mut chart = ChartBuilder::on(&root)
        .caption(
            caption(format!("Loss by trial ({})", direction.as_str()), &shown),
            (FONT, 18),
        )
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(64)
        .build_cartesian_2d(-0.5f64..x_max + 0.5, y0..y1)?;
    chart
        .configure_mesh()
        .x_desc("trial")
        .y_desc("loss")
        // Trial numbers are whole: a short history's half-step ticks stay unlabelled
        // (rounded, they read 0 1 1 2 2).
        .x_labels((x_max as usize + 1).clamp(2, 10))
        .x_label_formatter(&|x| {
            if x.fract() == 0.0 {
                num(*x)
            } else {
                String::new()
            }
        })
        .y_label_formatter(&|y| num(*y))
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    chart
        .draw_series(shown.indices.iter().map(|&i| {
            let p = h[i];
            let color = if is_top(p.loss) { TOP } else { POINT };
            Circle::new(
                (p.number as f64, clamp(p.loss, y0, y1)),
                2,
                color.mix(0.6).filled(),
            )
        }))?
        .label(shown.label("trial (orange: top quantile)"))
        .legend(|(x, y)| Circle::new((x + 10, y), 3, POINT.filled()));
    // Best so far as a step line: only where it changes, plus the last trial.
    let mut steps: Vec<(f64, f64)> = Vec::new();
    for (i, p) in h.iter().enumerate() {
        let y = clamp(p.best_so_far, y0, y1);
        if let Some(&(_, prev)) = steps.last() {
            if prev != y || i + 1 == h.len() {
                steps.push((p.number as f64, prev));
                steps.push((p.number as f64, y));
            }
        } else {
            steps.push((p.number as f64, y));
        }
    }
    chart
        .draw_series(LineSeries::new(steps, BEST.stroke_width(2)))?
        .label("best so far")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BEST.stroke_width(2)));
    draw_legend(&mut chart)?;
    root.present()?;
    Ok(shown.sample())
}

/// A plot's caption, with how many trials it drew when they are a sample.
fn caption(title: String, shown: &Drawn) -> String {
    match shown.sample() {
        Some(s) => format!("{title}: {}", s.note()),
        None => title,
    }
}

fn importance_plot(svg: &mut String, group: &GroupReport) -> DrawResult {
    let mut rows: Vec<(&str, f64, bool)> = group
        .params
        .iter()
        .filter_map(|p| p.importance.map(|i| (p.name.as_str(), i.share, i.matters)))
        .collect();
    // Most important on top: plotters' y grows upwards, so the list goes bottom-up.
    rows.sort_by(|a, b| a.1.total_cmp(&b.1));
    let n = rows.len();
    let height = (80 + 28 * n as u32).max(160);
    let root = SVGBackend::with_string(svg, (SIZE.0, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let longest = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(4) as u32;
    let names: Vec<String> = rows.iter().map(|r| r.0.to_string()).collect();
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Importance (PED-ANOVA share; grey: does not matter)",
            (FONT, 18),
        )
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size((longest * 8 + 16).min(260))
        .build_cartesian_2d(0.0f64..1.0, -0.5f64..n as f64 - 0.5)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(n.max(1))
        .y_label_formatter(&|y| {
            let i = y.round();
            if (y - i).abs() < 1e-6 && i >= 0.0 {
                names.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .x_label_formatter(&|x| format!("{:.0}%", x * 100.0))
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    chart.draw_series(rows.iter().enumerate().map(|(i, r)| {
        let color = if r.2 {
            POINT
        } else {
            RGBColor(0xaa, 0xaa, 0xaa)
        };
        Rectangle::new(
            [(0.0, i as f64 - 0.35), (r.1, i as f64 + 0.35)],
            color.filled(),
        )
    }))?;
    chart.draw_series(rows.iter().enumerate().map(|(i, r)| {
        Text::new(
            format!("{:.0}%", r.1 * 100.0),
            ((r.1 + 0.01).min(0.93), i as f64 + 0.15),
            (FONT, 13),
        )
    }))?;
    root.present()?;
    Ok(())
}

/// (x, loss, top) of the complete trials in which the parameter has a value.
fn param_points(p: &ParamReport, to_x: &dyn Fn(&Value) -> Option<f64>) -> Vec<(f64, f64, bool)> {
    p.trial_values
        .iter()
        .filter_map(|t| Some((to_x(&t.value)?, t.loss, t.top)))
        .collect()
}

/// The points of a parameter plot to draw, strata over loss rank: the sample keeps the
/// spread of losses.
fn param_sample(pts: &[(f64, f64, bool)]) -> Drawn {
    sample(pts.len(), &|i| pts[i].2, &|i| pts[i].1)
}

fn param_plot(svg: &mut String, p: &ParamReport) -> SampleResult {
    match &p.detail {
        ParamDetail::Categorical(c) => {
            let options: Vec<&Value> = c.options.iter().map(|o| &o.value).collect();
            let pts = param_points(p, &|v| {
                options.iter().position(|o| *o == v).map(|i| i as f64)
            });
            let labels: Vec<String> = options.iter().map(|v| value(v)).collect();
            categorical_plot(svg, p, &pts, &labels)
        }
        ParamDetail::Numeric(n) => {
            let pts = param_points(p, &|v| v.as_f64().filter(|x| !p.log || *x > 0.0));
            let lo = n.searched.low.min(n.recommended.low);
            let hi = n.searched.high.max(n.recommended.high);
            let mut losses: Vec<f64> = pts.iter().map(|q| q.1).collect();
            let y = loss_range(&mut losses);
            let shown = param_sample(&pts);
            let root = SVGBackend::with_string(svg, SIZE).into_drawing_area();
            root.fill(&WHITE)?;
            let mut builder = ChartBuilder::on(&root);
            builder
                .caption(
                    caption(
                        format!(
                            "Loss vs {} ({}{})",
                            p.name,
                            p.kind,
                            if p.log { ", log axis" } else { "" }
                        ),
                        &shown,
                    ),
                    (FONT, 18),
                )
                .margin(12)
                .x_label_area_size(36)
                .y_label_area_size(64);
            if p.log && lo > 0.0 {
                let (a, b) = (lo.ln(), hi.ln());
                let pad = ((b - a) * 0.03).max(0.01);
                let chart = builder
                    .build_cartesian_2d(((a - pad).exp()..(b + pad).exp()).log_scale(), y.0..y.1)?;
                numeric_body(chart, p, n, &pts, &shown, y)?;
            } else {
                let (a, b) = padded(lo, hi);
                let chart = builder.build_cartesian_2d(a..b, y.0..y.1)?;
                numeric_body(chart, p, n, &pts, &shown, y)?;
            }
            root.present()?;
            Ok(shown.sample())
        }
        ParamDetail::Constant { .. } => Ok(None),
    }
}

fn numeric_body<'a, X>(
    mut chart: ChartContext<'a, SVGBackend<'a>, Cartesian2d<X, RangedCoordf64>>,
    p: &ParamReport,
    n: &crate::report::model::NumericDetail,
    pts: &[(f64, f64, bool)],
    shown: &Drawn,
    (y0, y1): (f64, f64),
) -> DrawResult
where
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    chart
        .configure_mesh()
        .x_desc(p.name.as_str())
        .y_desc("loss")
        .x_label_formatter(&|x| num(*x))
        .y_label_formatter(&|y| num(*y))
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    if let Some(g) = n.good {
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(g.low, y0), (g.high, y1)],
                GOOD.mix(0.15).filled(),
            )))?
            .label("good range (top trials)")
            .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 20, y + 5)], GOOD.mix(0.3).filled()));
    }
    let r = n.recommended;
    chart
        .draw_series(
            [r.low, r.high]
                .into_iter()
                .map(|x| PathElement::new(vec![(x, y0), (x, y1)], GOOD.stroke_width(2))),
        )?
        .label(format!("recommended ({})", p.action.as_str()))
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], GOOD.stroke_width(2)));
    chart
        .draw_series(shown.indices.iter().map(|&i| {
            let (x, l, top) = pts[i];
            let color = if top { TOP } else { POINT };
            Circle::new((x, clamp(l, y0, y1)), 2, color.mix(0.6).filled())
        }))?
        .label(shown.label("trial (orange: top quantile)"))
        .legend(|(x, y)| Circle::new((x + 10, y), 3, POINT.filled()));
    draw_legend(&mut chart)?;
    Ok(())
}

/// A strip plot: one column of points per option, spread sideways by a deterministic
/// jitter so equal losses do not hide each other.
fn categorical_plot(
    svg: &mut String,
    p: &ParamReport,
    pts: &[(f64, f64, bool)],
    labels: &[String],
) -> SampleResult {
    let root = SVGBackend::with_string(svg, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let k = labels.len().max(1);
    let mut losses: Vec<f64> = pts.iter().map(|q| q.1).collect();
    let (y0, y1) = loss_range(&mut losses);
    let shown = param_sample(pts);
    let mut chart = ChartBuilder::on(&root)
        .caption(
            caption(format!("Loss vs {} (choice)", p.name), &shown),
            (FONT, 18),
        )
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(64)
        .build_cartesian_2d(-0.5f64..k as f64 - 0.5, y0..y1)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(k)
        .x_label_formatter(&|x| label_at(labels, *x))
        .y_label_formatter(&|y| num(*y))
        .x_desc(p.name.as_str())
        .y_desc("loss")
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    chart
        .draw_series(shown.indices.iter().map(|&i| {
            let (x, l, top) = pts[i];
            // Golden-ratio sequence: evenly spread, and the same every time.
            let jitter = ((i as f64 * 0.618_033_988_75).fract() - 0.5) * 0.5;
            let color = if top { TOP } else { POINT };
            Circle::new((x + jitter, clamp(l, y0, y1)), 2, color.mix(0.6).filled())
        }))?
        .label(shown.label("trial (orange: top quantile)"))
        .legend(|(x, y)| Circle::new((x + 10, y), 3, POINT.filled()));
    if shown.sample().is_some() {
        draw_legend(&mut chart)?;
    }
    root.present()?;
    Ok(shown.sample())
}

/// Parallel coordinates of the top trials (at most 50): one axis per parameter, each
/// scaled to its searched range (log scale for log kinds, option order for choices);
/// darker lines are better trials.
fn parallel_plot(svg: &mut String, group: &GroupReport, maximize: bool) -> DrawResult {
    let params: Vec<&ParamReport> = varying(group).collect();
    let m = params.len();
    let root =
        SVGBackend::with_string(svg, (SIZE.0.max(90 * m as u32 + 120), SIZE.1)).into_drawing_area();
    root.fill(&WHITE)?;
    let names: Vec<String> = params.iter().map(|p| p.name.clone()).collect();
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Top trials (at most 50): parallel coordinates, best in red",
            (FONT, 18),
        )
        .margin(16)
        .x_label_area_size(36)
        .y_label_area_size(40)
        .build_cartesian_2d(-0.3f64..(m as f64 - 0.7).max(0.3), -0.05f64..1.05)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_labels(m)
        .x_label_formatter(&|x| label_at(&names, *x))
        .y_labels(3)
        .y_label_formatter(&|y| match (y * 2.0).round() as i32 {
            0 => "low".to_string(),
            2 => "high".to_string(),
            _ => String::new(),
        })
        .draw()?;
    chart.draw_series(
        (0..m).map(|i| PathElement::new(vec![(i as f64, 0.0), (i as f64, 1.0)], BLACK.mix(0.4))),
    )?;
    // Axis end labels: the searched bounds (or first and last option).
    for (i, p) in params.iter().enumerate() {
        let (lo, hi) = match &p.detail {
            ParamDetail::Numeric(n) => (num(n.searched.low), num(n.searched.high)),
            ParamDetail::Categorical(c) => (
                c.options
                    .first()
                    .map(|o| value(&o.value))
                    .unwrap_or_default(),
                c.options
                    .last()
                    .map(|o| value(&o.value))
                    .unwrap_or_default(),
            ),
            ParamDetail::Constant { .. } => (String::new(), String::new()),
        };
        chart.draw_series([
            Text::new(lo, (i as f64 + 0.03, 0.0), (FONT, 11)),
            Text::new(hi, (i as f64 + 0.03, 1.03), (FONT, 11)),
        ])?;
    }
    // The top trials (at most 50, best first) and each parameter's value in them.
    let mut top: std::collections::BTreeMap<usize, f64> = std::collections::BTreeMap::new();
    for p in &params {
        for t in p.trial_values.iter().filter(|t| t.top) {
            top.entry(t.number).or_insert(t.loss);
        }
    }
    let mut top: Vec<(usize, f64)> = top.into_iter().collect();
    let sign = if maximize { -1.0 } else { 1.0 };
    top.sort_by(|a, b| (sign * a.1).total_cmp(&(sign * b.1)).then(a.0.cmp(&b.0)));
    top.truncate(50);
    let values: Vec<std::collections::BTreeMap<usize, &Value>> = params
        .iter()
        .map(|p| {
            p.trial_values
                .iter()
                .filter(|t| t.top)
                .map(|t| (t.number, &t.value))
                .collect()
        })
        .collect();
    let n = top.len().max(1);
    // Worst first, so the best lines are drawn last, on top.
    for (rank, (number, _)) in top.iter().enumerate().rev() {
        let coords: Vec<(f64, f64)> = params
            .iter()
            .enumerate()
            .filter_map(|(i, p)| position(p, values[i].get(number)?).map(|y| (i as f64, y)))
            .collect();
        let shade = 0.15 + 0.65 * (1.0 - rank as f64 / n as f64);
        let color = if rank == 0 {
            BEST.mix(1.0)
        } else {
            POINT.mix(shade)
        };
        let width = if rank == 0 { 3 } else { 1 };
        chart.draw_series(std::iter::once(PathElement::new(
            coords,
            color.stroke_width(width),
        )))?;
    }
    root.present()?;
    Ok(())
}

/// Where a value sits on its parameter's axis, 0 to 1.
fn position(p: &ParamReport, v: &Value) -> Option<f64> {
    match &p.detail {
        ParamDetail::Numeric(n) => {
            let x = v.as_f64()?;
            let t = |x: f64| {
                if p.log {
                    x.max(f64::MIN_POSITIVE).ln()
                } else {
                    x
                }
            };
            let (a, b) = (t(n.searched.low), t(n.searched.high));
            Some(if b > a {
                ((t(x) - a) / (b - a)).clamp(0.0, 1.0)
            } else {
                0.5
            })
        }
        ParamDetail::Categorical(c) => {
            let i = c.options.iter().position(|o| &o.value == v)?;
            Some(if c.options.len() > 1 {
                i as f64 / (c.options.len() - 1) as f64
            } else {
                0.5
            })
        }
        ParamDetail::Constant { .. } => None,
    }
}

/// The label of the category at integer position `x` of a category axis; none between
/// positions.
fn label_at(labels: &[String], x: f64) -> String {
    let i = x.round();
    if (x - i).abs() < 1e-6 && i >= 0.0 {
        labels.get(i as usize).cloned().unwrap_or_default()
    } else {
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_plots_draw_every_point() {
        let drawn = sample(MAX_POINTS, &|i| i % 2 == 0, &|i| i as f64);
        assert_eq!(drawn.indices, (0..MAX_POINTS).collect::<Vec<_>>());
        assert_eq!(drawn.sample(), None);
        assert_eq!(drawn.label("trial"), "trial");
    }

    #[test]
    fn large_plots_draw_one_point_per_stratum_of_each_part() {
        let n = 100_000;
        // Every fifth trial is a top trial; the key is the reverse of the index.
        let top = |i: usize| i % 5 == 0;
        let key = |i: usize| (n - i) as f64;
        let drawn = sample(n, &top, &key);
        assert_eq!(drawn.indices.len(), MAX_POINTS);
        assert!(drawn.indices.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(drawn, sample(n, &top, &key), "seeded");
        let tops: Vec<usize> = drawn.indices.iter().copied().filter(|&i| top(i)).collect();
        assert_eq!(tops.len(), MAX_TOP_POINTS);
        // 20,000 top trials in 500 strata of 40 by key: one in each.
        let mut strata: Vec<usize> = tops.iter().map(|&i| (19_999 - i / 5) / 40).collect();
        strata.sort_unstable();
        assert_eq!(strata, (0..MAX_TOP_POINTS).collect::<Vec<_>>());
        let others = MAX_POINTS - MAX_TOP_POINTS;
        let mut strata: Vec<usize> = drawn
            .indices
            .iter()
            .filter(|&&i| !top(i))
            .map(|&i| {
                // Rank among the non-top trials by key (descending index), then stratum.
                let rank = 80_000 - 1 - (i - i / 5 - 1);
                ((rank + 1) * others - 1) / 80_000
            })
            .collect();
        strata.sort_unstable();
        assert_eq!(strata, (0..others).collect::<Vec<_>>());
        assert_eq!(
            drawn.label("trial"),
            "trial, a sample: 2,000 of 100,000 trials drawn"
        );
    }

    #[test]
    fn a_short_history_labels_each_trial_number_once() {
        use crate::report::model::{HistoryPoint, TrialCounts};
        let point = |number, loss| HistoryPoint {
            number,
            loss,
            best_so_far: loss,
        };
        let group = GroupReport {
            name: "g".into(),
            counts: TrialCounts::default(),
            n_top: 1,
            top_threshold: Some(0.25),
            best: Vec::new(),
            history: vec![point(1, 0.5), point(3, 0.25)],
            failures: Vec::new(),
            params: Vec::new(),
            notes: Vec::new(),
            space: None,
        };
        let mut svg = String::new();
        loss_plot(&mut svg, &group, Direction::Minimize).unwrap();
        // Every text's content; the whole numbers are the trial axis' labels (the losses
        // are 0.25 to 0.5).
        let whole: Vec<&str> = svg
            .split("</text>")
            .filter_map(|t| t.rsplit_once('>').map(|(_, text)| text.trim()))
            .filter(|t| t.parse::<i64>().is_ok())
            .collect();
        assert_eq!(whole, ["0", "1", "2", "3"]);
    }

    #[test]
    fn thousands_are_separated() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
