//! The analysis: from trials to [`Report`].

use std::collections::HashSet;

use rayon::iter::{IntoParallelRefIterator, ParallelIterator};

use super::house;
use super::importance::{Estimate, ped_anova};
use super::input::{ReportInput, ReportTrial, TrialSet};
use super::model::*;
use super::snap::{dist_interval, snap_range};
use super::{ReportError, ReportOptions};
use crate::space::{Dist, Space, Value};
use crate::trials::{Direction, TrialState};

/// Below this many top values, the good range is their min..max; from it on, the central
/// 90% (one stray top trial should not stretch the range).
const TRIM_FROM: usize = 20;
/// Width of the band at each end of the searched range (fraction of its width, analysis
/// space) in which top trials "crowd a bound".
const EDGE: f64 = 0.1;
/// Smallest margin around the good range, as a fraction of the searched width.
const MIN_MARGIN: f64 = 0.05;
/// How far past a crowded bound to widen, as a fraction of the searched width (at least the
/// margin).
const WIDEN: f64 = 0.25;
/// A recommendation covering at least this fraction of the searched width is "keep".
const KEEP_FRACTION: f64 = 0.9;
/// An option is dropped when the chance that it never reaches the top by luck alone,
/// `(1 − γ)^count`, is below this.
const DROP_P: f64 = 0.05;

/// Analyses the trials of every group and, with two groups or more, what they agree on.
///
/// ```
/// use hyperflow::report::{analyze, ReportInput, ReportOptions, ReportTrial, TrialSet};
/// use hyperflow::{Direction, Point, Space, Value};
///
/// let space = Space::builder().randint("depth", 1, 20).uniform("noise", 0.0, 1.0).build()?;
/// // Loss is lowest for depth in 6..=10 and does not depend on `noise`.
/// let trials = (0..200)
///     .map(|i| {
///         let depth = (i * 7 % 19 + 1) as i64;
///         let noise = (i * 37 % 101) as f64 / 100.0;
///         let loss = (6 - depth).max(depth - 10).max(0) as f64 + noise * 0.01;
///         let params = Point::from_entries(vec![
///             ("depth".into(), Value::Int(depth)),
///             ("noise".into(), Value::Float(noise)),
///         ]);
///         ReportTrial::complete(i, params, loss)
///     })
///     .collect();
/// let input = ReportInput::single(
///     Direction::Minimize,
///     TrialSet::new("rf", trials).with_space(space),
/// );
/// let report = analyze(&input, &ReportOptions::default())?;
/// let depth = &report.groups[0].params[0];
/// let range = depth.numeric().unwrap().recommended;
/// assert!(range.low >= 4.0 && range.high <= 12.0);
/// assert_eq!(depth.importance.unwrap().rank, 1);
/// println!("{}", report.next_space_toml()?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn analyze(input: &ReportInput, options: &ReportOptions) -> Result<Report, ReportError> {
    options.validate()?;
    let groups: Vec<GroupReport> = input
        .groups
        .iter()
        .map(|g| analyze_group(g, input.direction, options))
        .collect();
    let house = (groups.len() >= 2).then(|| house::combine(&groups, options));
    Ok(Report {
        direction: input.direction,
        settings: Settings {
            top_quantile: options.top_quantile,
            min_top_trials: options.min_top_trials,
            best_trials: options.best_trials,
        },
        groups,
        house,
    })
}

/// A ranked (complete, finite) trial.
struct Ranked<'a> {
    trial: &'a ReportTrial,
    /// Lower is better, whatever the direction.
    score: f64,
    top: bool,
}

fn analyze_group(group: &TrialSet, direction: Direction, options: &ReportOptions) -> GroupReport {
    let mut trials: Vec<&ReportTrial> = group.trials.iter().collect();
    // Stable: trials sharing a number keep their input order, so output is deterministic.
    trials.sort_by_key(|t| t.number);

    let mut counts = TrialCounts {
        total: trials.len(),
        ..TrialCounts::default()
    };
    let mut ranked: Vec<Ranked> = Vec::new();
    let mut failures: Vec<(String, usize)> = Vec::new();
    for t in &trials {
        match (t.status, t.loss) {
            (TrialState::Complete, Some(loss)) if loss.is_finite() => {
                counts.complete += 1;
                ranked.push(Ranked {
                    trial: t,
                    score: direction.score(loss),
                    top: false,
                });
            }
            (TrialState::Complete, loss) => {
                counts.failed += 1;
                let reason = match loss {
                    Some(l) => format!("non-finite loss ({l})"),
                    None => "complete without a loss".to_string(),
                };
                failures.push((reason, t.number));
            }
            (TrialState::Failed, _) => {
                counts.failed += 1;
                failures.push((failure_reason(t.error.as_deref()), t.number));
            }
            (TrialState::Pruned, _) => counts.pruned += 1,
            (TrialState::Killed, _) => counts.killed += 1,
            (TrialState::Running, _) => counts.running += 1,
        }
    }

    // Top set: the ceil(γ n) best, and every trial tied with the last of them, so the set
    // does not depend on the order of ties.
    let mut by_score: Vec<usize> = (0..ranked.len()).collect();
    by_score.sort_by(|&a, &b| {
        ranked[a]
            .score
            .total_cmp(&ranked[b].score)
            .then(ranked[a].trial.number.cmp(&ranked[b].trial.number))
    });
    let n_top_target = ((options.top_quantile * ranked.len() as f64).ceil() as usize)
        .clamp(usize::from(!ranked.is_empty()), ranked.len());
    let threshold = n_top_target
        .checked_sub(1)
        .map(|i| ranked[by_score[i]].score);
    if let Some(th) = threshold {
        for r in &mut ranked {
            r.top = r.score <= th;
        }
    }
    let n_top = ranked.iter().filter(|r| r.top).count();

    let best = by_score
        .iter()
        .take(options.best_trials)
        .enumerate()
        .map(|(i, &j)| BestTrial {
            rank: i + 1,
            number: ranked[j].trial.number,
            loss: ranked[j].trial.loss.unwrap_or(f64::NAN),
            params: ranked[j].trial.params.clone(),
            run_id: ranked[j].trial.run_id.clone(),
        })
        .collect();

    let mut history = Vec::with_capacity(ranked.len());
    let mut best_score = f64::INFINITY;
    for r in &ranked {
        best_score = best_score.min(r.score);
        history.push(HistoryPoint {
            number: r.trial.number,
            loss: direction.score(r.score),
            best_so_far: direction.score(best_score),
        });
    }

    let mut notes = Vec::new();
    if ranked.is_empty() {
        notes.push("no complete trial: nothing to rank".to_string());
    } else if n_top < options.min_top_trials {
        notes.push(format!(
            "only {n_top} top trial(s) of {} complete: too few to rank importance; ranges \
             are shown but not acted on (at least {} top trials are needed, i.e. {} complete \
             trials at top quantile {})",
            ranked.len(),
            options.min_top_trials,
            (options.min_top_trials as f64 / options.top_quantile).ceil(),
            options.top_quantile
        ));
    }
    if counts.running > 0 {
        notes.push(format!(
            "{} trial(s) still running are left out",
            counts.running
        ));
    }

    let names = param_names(group, &trials, &mut notes);
    let enough = n_top >= options.min_top_trials;
    // Each parameter on its own, in parallel.
    let mut params: Vec<ParamReport> = names
        .par_iter()
        .map(|(name, declared)| {
            let all_values: Vec<&Value> =
                trials.iter().filter_map(|t| t.params.value(name)).collect();
            let (dist, inferred) = match declared {
                Some(d) => (d.clone(), false),
                None => (infer_dist(&all_values), true),
            };
            analyze_param(name, dist, inferred, &ranked, enough, direction, options)
        })
        .collect();
    rank_importance(&mut params);

    GroupReport {
        name: group.name.clone(),
        counts,
        n_top,
        top_threshold: threshold.map(|s| direction.score(s)),
        best,
        history,
        failures: group_failures(failures),
        params,
        notes,
        space: group.space.clone(),
    }
}

/// The first line of an error, at most 200 characters: enough to group equal failures
/// whose messages differ only in a trailing backtrace or detail.
fn failure_reason(error: Option<&str>) -> String {
    let line = error
        .and_then(|e| e.lines().map(str::trim).find(|l| !l.is_empty()))
        .unwrap_or("no reason given");
    match line.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &line[..i]),
        None => line.to_string(),
    }
}

fn group_failures(failures: Vec<(String, usize)>) -> Vec<FailureGroup> {
    let mut groups: Vec<FailureGroup> = Vec::new();
    for (reason, number) in failures {
        match groups.iter_mut().find(|g| g.reason == reason) {
            Some(g) => {
                g.count += 1;
                if g.examples.len() < 5 {
                    g.examples.push(number);
                }
            }
            None => groups.push(FailureGroup {
                reason,
                count: 1,
                examples: vec![number],
            }),
        }
    }
    // Most frequent first; equal counts by first occurrence (the sort is stable).
    groups.sort_by_key(|g| std::cmp::Reverse(g.count));
    groups
}

/// The parameters to report, with their declared distribution when the space is known:
/// the space's parameters in order, then names seen in trials but not declared.
fn param_names(
    group: &TrialSet,
    trials: &[&ReportTrial],
    notes: &mut Vec<String>,
) -> Vec<(String, Option<Dist>)> {
    let mut names: Vec<(String, Option<Dist>)> = group
        .space
        .as_ref()
        .map(|s| {
            s.params()
                .iter()
                .map(|p| (p.name.clone(), Some(p.dist.clone())))
                .collect()
        })
        .unwrap_or_default();
    let mut undeclared = Vec::new();
    for t in trials {
        for (name, _) in t.params.iter() {
            if !names.iter().any(|(n, _)| n == name) {
                names.push((name.to_string(), None));
                if group.space.is_some() {
                    undeclared.push(name.to_string());
                }
            }
        }
    }
    if !undeclared.is_empty() {
        notes.push(format!(
            "parameter(s) not in the declared space, kinds inferred from values: {}",
            undeclared.join(", ")
        ));
    }
    names
}

/// Infers a distribution from the values seen (as the module docs describe):
/// text or booleans, or at most 3 distinct numbers, make a `choice`; integers a `randint`
/// (`qloguniform` with `q = 1` when they span two decades or more); other numbers a
/// `uniform`, or `loguniform` when positive and spanning two decades or more.
pub(crate) fn infer_dist(values: &[&Value]) -> Dist {
    // The distinct values in first-seen order, found through a set: a search of 100,000
    // trials has as many distinct values of a real parameter.
    let mut seen: HashSet<Distinct<'_>> = HashSet::new();
    let distinct: Vec<&Value> = values
        .iter()
        .copied()
        .filter(|v| seen.insert(Distinct::of(v)))
        .collect();
    let numbers: Option<Vec<f64>> = values
        .iter()
        .map(|v| match v {
            Value::Int(_) | Value::Float(_) => v.as_f64(),
            _ => None,
        })
        .collect();
    match (numbers, distinct.len()) {
        (_, 0) => Dist::Const(Value::Str(String::new())),
        (_, 1) => Dist::Const(distinct[0].clone()),
        (Some(xs), n) if n > 3 => {
            let lo = xs.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let log = lo > 0.0 && hi / lo >= 100.0;
            let integral = xs.iter().all(|x| x.fract() == 0.0 && x.abs() < 9.0e15);
            match (integral, log) {
                (true, false) => Dist::RandInt {
                    low: lo as i64,
                    high: hi as i64 + 1,
                },
                (true, true) => Dist::QLogUniform {
                    low: lo,
                    high: hi,
                    q: 1.0,
                },
                (false, true) => Dist::LogUniform { low: lo, high: hi },
                (false, false) => Dist::Uniform { low: lo, high: hi },
            }
        }
        _ => {
            let mut options: Vec<Value> = distinct.into_iter().cloned().collect();
            // Numbers in numeric order, booleans false first; text keeps first-seen order.
            if options.iter().all(|v| v.as_f64().is_some()) {
                options.sort_by(|a, b| {
                    a.as_f64()
                        .unwrap_or(0.0)
                        .total_cmp(&b.as_f64().unwrap_or(0.0))
                });
            } else if options.iter().all(|v| matches!(v, Value::Bool(_))) {
                options.sort_by_key(|v| matches!(v, Value::Bool(true)));
            }
            Dist::Choice { options }
        }
    }
}

/// A value as [`infer_dist`] tells values apart: numbers by value (`2` and `2.0` are one;
/// `-0.0` is `0.0`), text and booleans as they are.
#[derive(PartialEq, Eq, Hash)]
enum Distinct<'a> {
    Number(u64),
    Text(&'a str),
    Bool(bool),
}

impl<'a> Distinct<'a> {
    fn of(value: &'a Value) -> Self {
        match value {
            Value::Str(s) => Distinct::Text(s),
            Value::Bool(b) => Distinct::Bool(*b),
            Value::Int(_) | Value::Float(_) => {
                let x = value.as_f64().unwrap_or_default();
                Distinct::Number(if x == 0.0 { 0 } else { x.to_bits() })
            }
        }
    }
}

/// The analysis-space coordinate of a value: `ln x` for log kinds.
fn to_t(x: f64, log: bool) -> f64 {
    if log { x.ln() } else { x }
}

fn from_t(t: f64, log: bool) -> f64 {
    if log { t.exp() } else { t }
}

fn analyze_param(
    name: &str,
    dist: Dist,
    inferred: bool,
    ranked: &[Ranked],
    enough: bool,
    direction: Direction,
    options: &ReportOptions,
) -> ParamReport {
    let mut notes = Vec::new();
    let kind = dist.kind().to_string();
    let log = dist.is_log();
    let mut report = ParamReport {
        name: name.to_string(),
        kind,
        log,
        inferred,
        n_values: 0,
        importance: None,
        action: Action::Fixed,
        detail: ParamDetail::Constant {
            value: Value::Str(String::new()),
        },
        notes: Vec::new(),
        next: dist.clone(),
        dist: dist.clone(),
        trial_values: ranked
            .iter()
            .filter_map(|r| {
                Some(TrialValue {
                    number: r.trial.number,
                    value: r.trial.params.value(name)?.clone(),
                    loss: direction.score(r.score),
                    top: r.top,
                })
            })
            .collect(),
    };
    match &dist {
        Dist::Const(v) => {
            report.n_values = ranked
                .iter()
                .filter(|r| r.trial.params.value(name).is_some())
                .count();
            report.detail = ParamDetail::Constant { value: v.clone() };
        }
        Dist::Choice { options: choices } => {
            let ctx = ChoiceContext {
                ranked,
                enough,
                direction,
                options,
            };
            analyze_choice(&mut report, choices, &ctx, &mut notes);
        }
        _ => analyze_numeric(&mut report, ranked, enough, options, &mut notes),
    }
    report.notes = notes;
    report
}

fn importance_of(estimate: Option<Estimate>, options: &ReportOptions) -> Option<Importance> {
    estimate.map(|e| Importance {
        share: 0.0,
        divergence: e.divergence,
        strength: e.strength,
        chi2: e.chi2,
        bins: e.bins,
        p_value: e.p_value,
        matters: e.significant && e.strength >= options.min_strength,
        tentative: e.tentative && e.strength >= options.min_strength,
        rank: 0,
    })
}

fn analyze_numeric(
    report: &mut ParamReport,
    ranked: &[Ranked],
    enough: bool,
    options: &ReportOptions,
    notes: &mut Vec<String>,
) {
    let log = report.log;
    let dist = report.dist.clone();
    // (analysis-space value, score, top) per complete trial with a usable value.
    let mut points: Vec<(f64, f64, bool)> = Vec::new();
    let mut unusable = 0usize;
    for r in ranked {
        let Some(v) = r.trial.params.value(&report.name) else {
            continue;
        };
        match v.as_f64() {
            Some(x) if x.is_finite() && (!log || x > 0.0) => {
                points.push((to_t(x, log), r.score, r.top));
            }
            _ => unusable += 1,
        }
    }
    if unusable > 0 {
        notes.push(format!(
            "{unusable} value(s) are not {} and were left out",
            if log { "positive numbers" } else { "numbers" }
        ));
    }
    report.n_values = points.len();

    let observed = (!points.is_empty()).then(|| {
        let lo = points.iter().map(|p| p.0).fold(f64::INFINITY, f64::min);
        let hi = points.iter().map(|p| p.0).fold(f64::NEG_INFINITY, f64::max);
        Interval {
            low: from_t(lo, log),
            high: from_t(hi, log),
        }
    });
    // Declared bounds where the kind has them; the observed values for Gaussian kinds
    // (unbounded) and inferred kinds (whose bounds are the observed values anyway).
    let bounded = !matches!(dist, Dist::Normal { .. } | Dist::LogNormal { .. });
    let searched = match (bounded, dist_interval(&dist), observed) {
        (true, Some(i), _) => i,
        (_, _, Some(o)) => o,
        (_, Some(i), None) => i,
        (_, None, None) => Interval {
            low: 0.0,
            high: 0.0,
        },
    };
    let best_value = points
        .iter()
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|p| from_t(p.0, log));

    let mut good_t: Vec<f64> = points.iter().filter(|p| p.2).map(|p| p.0).collect();
    good_t.sort_by(f64::total_cmp);
    let n_good = good_t.len();
    let good = (n_good > 0).then(|| {
        let (i, j) = if n_good >= TRIM_FROM {
            (
                (0.05 * n_good as f64).floor() as usize,
                ((0.95 * n_good as f64).ceil() as usize).saturating_sub(1),
            )
        } else {
            (0, n_good - 1)
        };
        (good_t[i], good_t[j.max(i)])
    });

    let values: Vec<f64> = points.iter().map(|p| p.0).collect();
    let tops: Vec<bool> = points.iter().map(|p| p.2).collect();
    report.importance = if enough {
        importance_of(ped_anova(&values, &tops, false), options)
    } else {
        None
    };

    let (lo, hi) = (to_t(searched.low, log), to_t(searched.high, log));
    let width = hi - lo;
    let mut recommended = searched;
    report.action = if width.is_nan() || width <= 0.0 {
        Action::Fixed
    } else if !enough {
        Action::TooFewTrials
    } else if !report.importance.is_some_and(|i| i.matters || i.tentative) {
        notes.push("does not measurably matter: range left as searched".to_string());
        Action::Unimportant
    } else if let (Some((a, b)), Some(best_v)) = (good, best_value) {
        let best_t = to_t(best_v, log);
        let band = EDGE * width;
        let enriched = |inside: &dyn Fn(f64) -> bool| {
            let all = values.iter().filter(|&&t| inside(t)).count();
            let top = good_t.iter().filter(|&&t| inside(t)).count();
            // Top trials over-represented in the band by half again, and at least two.
            all > 0
                && top >= 2
                && (top as f64 / n_good as f64) >= 1.5 * (all as f64 / values.len() as f64)
        };
        let crowd_low = a <= lo + band && (best_t <= lo + band || enriched(&|t| t <= lo + band));
        let crowd_high = b >= hi - band && (best_t >= hi - band || enriched(&|t| t >= hi - band));
        let margin = (options.margin * (b - a)).max(MIN_MARGIN * width);
        let extend = margin.max(WIDEN * width);
        let mut rl = if crowd_low {
            lo - extend
        } else {
            (a - margin).max(lo)
        };
        let rh = if crowd_high {
            hi + extend
        } else {
            (b + margin).min(hi)
        };
        let mut low_v = from_t(rl, log);
        // Widening never crosses zero: parameters searched on positive values stay
        // positive (integers at least 1, reals at least half the searched low), and
        // non-negative ones non-negative.
        if !log && searched.low >= 0.0 {
            let floor = if searched.low > 0.0 {
                if matches!(dist, Dist::RandInt { .. }) {
                    searched.low.min(1.0)
                } else {
                    searched.low / 2.0
                }
            } else {
                0.0
            };
            if low_v < floor {
                low_v = floor;
                rl = to_t(low_v, log);
            }
        }
        let widened_low = crowd_low && rl < lo;
        let keep = (
            (!widened_low).then_some(searched.low),
            (!crowd_high).then_some(searched.high),
        );
        let next = snap_range(&dist, low_v, from_t(rh, log), keep);
        let snapped = dist_interval(&next).unwrap_or(searched);
        let widened_low = snapped.low < searched.low;
        let widened_high = snapped.high > searched.high;
        if crowd_low && !widened_low {
            notes.push("top trials crowd the lower bound, which cannot go lower".to_string());
        }
        let new_width = to_t(snapped.high, log) - to_t(snapped.low.max(f64::MIN_POSITIVE), log);
        let action = match (widened_low, widened_high) {
            (true, true) => Action::WidenBoth,
            (true, false) => Action::WidenLow,
            (false, true) => Action::WidenHigh,
            (false, false) if new_width >= KEEP_FRACTION * width => Action::Keep,
            (false, false) => Action::Narrow,
        };
        // A range changes on firm evidence only: tentative evidence is a note, with the
        // range it points to.
        let estimate = (action != Action::Keep).then_some(snapped);
        if tentative_note(report.importance, estimate, notes) {
            Action::Keep
        } else {
            if action == Action::Keep {
                notes.push("top trials spread over most of the range: keep it".to_string());
            } else {
                report.next = next;
                recommended = snapped;
            }
            if action.is_widen() {
                notes.push(format!(
                    "top trials crowd the {} bound: search beyond it",
                    match action {
                        Action::WidenLow => "lower",
                        Action::WidenHigh => "upper",
                        _ => "lower and the upper",
                    }
                ));
            }
            action
        }
    } else {
        Action::Keep
    };

    report.detail = ParamDetail::Numeric(NumericDetail {
        searched,
        observed,
        best_value,
        good: good.map(|(a, b)| Interval {
            low: from_t(a, log),
            high: from_t(b, log),
        }),
        n_good,
        recommended,
    });
}

/// What a choice's analysis needs besides the parameter.
struct ChoiceContext<'a, 'b> {
    ranked: &'a [Ranked<'b>],
    enough: bool,
    direction: Direction,
    options: &'a ReportOptions,
}

fn analyze_choice(
    report: &mut ParamReport,
    choices: &[Value],
    ctx: &ChoiceContext,
    notes: &mut Vec<String>,
) {
    let (ranked, enough, options) = (ctx.ranked, ctx.enough, ctx.options);
    let index_of = |v: &Value| {
        choices
            .iter()
            .position(|o| o == v || (o.as_f64().is_some() && o.as_f64() == v.as_f64()))
    };
    // Scores per option, in trial order.
    let mut per_option: Vec<Vec<(f64, bool)>> = vec![Vec::new(); choices.len()];
    let mut values = Vec::new();
    let mut tops = Vec::new();
    let mut best: Option<(f64, usize)> = None;
    let mut unknown = 0usize;
    for r in ranked {
        let Some(v) = r.trial.params.value(&report.name) else {
            continue;
        };
        let Some(i) = index_of(v) else {
            unknown += 1;
            continue;
        };
        per_option[i].push((r.score, r.top));
        values.push(i as f64);
        tops.push(r.top);
        if best.is_none_or(|(s, _)| r.score < s) {
            best = Some((r.score, i));
        }
    }
    if unknown > 0 {
        notes.push(format!(
            "{unknown} value(s) are not among the declared options and were left out"
        ));
    }
    report.n_values = values.len();
    report.importance = if enough {
        importance_of(ped_anova(&values, &tops, true), options)
    } else {
        None
    };
    let matters = report.importance.is_some_and(|i| i.matters);
    let n = values.len() as f64;
    let n_top_active = tops.iter().filter(|&&t| t).count() as f64;
    // The top fraction among the trials in which this parameter is active.
    let gamma = if n > 0.0 { n_top_active / n } else { 0.0 };

    let mut stats: Vec<OptionStats> = choices
        .iter()
        .zip(&per_option)
        .enumerate()
        .map(|(i, (value, scores))| {
            let mut sorted: Vec<f64> = scores.iter().map(|s| s.0).collect();
            sorted.sort_by(f64::total_cmp);
            let count = sorted.len();
            let n_top = scores.iter().filter(|s| s.1).count();
            let drop = enough
                && matters
                && count > 0
                && n_top == 0
                && (1.0 - gamma).powi(count as i32) < DROP_P;
            OptionStats {
                value: value.clone(),
                count,
                n_top,
                best: sorted.first().copied(),
                median: median(&sorted),
                is_best: best.is_some_and(|(_, b)| b == i),
                is_worst: false,
                drop,
            }
        })
        .collect();
    let tried = stats.iter().filter(|s| s.count > 0).count();
    if tried >= 2
        && let Some(worst) = stats
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.median.map(|m| (i, m)))
            .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
            .map(|(i, _)| i)
    {
        stats[worst].is_worst = true;
    }
    // Scores (lower is better) back to losses as logged.
    for s in &mut stats {
        s.best = s.best.map(|x| ctx.direction.score(x));
        s.median = s.median.map(|x| ctx.direction.score(x));
    }
    // Never drop every option.
    if stats.iter().all(|s| s.drop || s.count == 0) {
        for s in &mut stats {
            s.drop = false;
        }
    }
    let untried: Vec<String> = stats
        .iter()
        .filter(|s| s.count == 0)
        .map(|s| s.value.to_string())
        .collect();
    if !untried.is_empty() && !ranked.is_empty() {
        notes.push(format!(
            "never tried in a complete trial: {}",
            untried.join(", ")
        ));
    }
    let dropped: Vec<Value> = stats
        .iter()
        .filter(|s| s.drop)
        .map(|s| s.value.clone())
        .collect();
    report.action = if choices.len() < 2 {
        Action::Fixed
    } else if !enough {
        Action::TooFewTrials
    } else if tentative_note(report.importance, None, notes) {
        // Options are dropped on firm evidence only.
        Action::Keep
    } else if !matters {
        notes.push("does not measurably matter: options left as searched".to_string());
        Action::Unimportant
    } else if !dropped.is_empty() {
        let list: Vec<String> = dropped.iter().map(ToString::to_string).collect();
        notes.push(format!(
            "never in the top {:.0}% although tried often enough: drop {}",
            gamma * 100.0,
            list.join(", ")
        ));
        report.next = Dist::Choice {
            options: choices
                .iter()
                .filter(|c| !dropped.contains(c))
                .cloned()
                .collect(),
        };
        Action::DropOptions
    } else {
        Action::Keep
    };
    report.detail = ParamDetail::Categorical(CategoricalDetail { options: stats });
}

/// Whether the evidence that the parameter matters is tentative; if so, a note says so,
/// with the range firm evidence would recommend (`estimate`, for numeric parameters whose
/// range would change).
fn tentative_note(
    importance: Option<Importance>,
    estimate: Option<Interval>,
    notes: &mut Vec<String>,
) -> bool {
    let Some(i) = importance.filter(|i| i.tentative && !i.matters) else {
        return false;
    };
    let pointing = estimate.map_or_else(
        || "as the top trials suggest".to_string(),
        |r| format!("and points to [{}, {}]", r.low, r.high),
    );
    notes.push(format!(
        "tentative (p = {:.3}): probably matters, {pointing}; left as searched until more \
         trials confirm it",
        i.p_value
    ));
    true
}

/// Median of sorted values.
fn median(sorted: &[f64]) -> Option<f64> {
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

/// Fills in shares (of the summed divergences) and ranks (by divergence, then declaration
/// order).
fn rank_importance(params: &mut [ParamReport]) {
    let total: f64 = params
        .iter()
        .filter_map(|p| p.importance.map(|i| i.divergence))
        .sum();
    let mut order: Vec<usize> = (0..params.len())
        .filter(|&i| params[i].importance.is_some())
        .collect();
    order.sort_by(|&a, &b| {
        let da = params[a].importance.map_or(0.0, |i| i.divergence);
        let db = params[b].importance.map_or(0.0, |i| i.divergence);
        db.total_cmp(&da).then(a.cmp(&b))
    });
    for (rank, &i) in order.iter().enumerate() {
        if let Some(imp) = params[i].importance.as_mut() {
            imp.rank = rank + 1;
            imp.share = if total > 0.0 {
                imp.divergence / total
            } else {
                0.0
            };
        }
    }
}

impl GroupReport {
    /// The space recommended for this group's next search (see
    /// [`Report::next_space`]).
    pub fn next_space(&self) -> Result<Space, ReportError> {
        super::next::group_space(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::Point;

    fn vals(v: &[Value]) -> Vec<&Value> {
        v.iter().collect()
    }

    #[test]
    fn kinds_are_inferred_from_values() {
        let ints: Vec<Value> = (1..=12).map(Value::Int).collect();
        assert_eq!(infer_dist(&vals(&ints)), Dist::RandInt { low: 1, high: 13 });
        let wide: Vec<Value> = [1, 10, 100, 1000, 5].into_iter().map(Value::Int).collect();
        assert_eq!(
            infer_dist(&vals(&wide)),
            Dist::QLogUniform {
                low: 1.0,
                high: 1000.0,
                q: 1.0
            }
        );
        let logf: Vec<Value> = [1e-4, 3e-3, 0.02, 0.05]
            .into_iter()
            .map(Value::Float)
            .collect();
        assert_eq!(
            infer_dist(&vals(&logf)),
            Dist::LogUniform {
                low: 1e-4,
                high: 0.05
            }
        );
        let lin: Vec<Value> = [0.1, 0.5, 0.7, 0.9].into_iter().map(Value::Float).collect();
        assert_eq!(
            infer_dist(&vals(&lin)),
            Dist::Uniform {
                low: 0.1,
                high: 0.9
            }
        );
        // Few distinct numbers are a choice, in numeric order; text keeps first-seen order.
        let few: Vec<Value> = [64, 16, 32, 16].into_iter().map(Value::Int).collect();
        assert_eq!(
            infer_dist(&vals(&few)),
            Dist::Choice {
                options: vec![Value::Int(16), Value::Int(32), Value::Int(64)]
            }
        );
        let text: Vec<Value> = ["tanh", "relu", "tanh"]
            .into_iter()
            .map(Value::from)
            .collect();
        assert_eq!(
            infer_dist(&vals(&text)),
            Dist::Choice {
                options: vec!["tanh".into(), "relu".into()]
            }
        );
        assert_eq!(
            infer_dist(&vals(&[Value::Int(3)])),
            Dist::Const(Value::Int(3))
        );
        // A number spelled two ways is one value, the first spelling kept.
        let spelled = [
            Value::Int(2),
            Value::Float(2.0),
            Value::Float(-0.0),
            Value::Int(0),
        ];
        assert_eq!(
            infer_dist(&vals(&spelled)),
            Dist::Choice {
                options: vec![Value::Float(-0.0), Value::Int(2)]
            }
        );
        let reals: Vec<Value> = (0..100_000).map(|i| Value::Float(f64::from(i))).collect();
        assert_eq!(
            infer_dist(&vals(&reals)),
            Dist::RandInt {
                low: 0,
                high: 100_000
            }
        );
    }

    #[test]
    fn ties_at_the_top_boundary_all_count() {
        // 10 trials, γ = 0.2 → 2 top trials, but three share the second-best loss.
        let trials: Vec<ReportTrial> = [0.0, 1.0, 1.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
            .into_iter()
            .enumerate()
            .map(|(i, l)| ReportTrial::complete(i, Point::from_iter([("x", i as f64)]), l))
            .collect();
        let g = analyze_group(
            &TrialSet::new("t", trials),
            Direction::Minimize,
            &ReportOptions::default(),
        );
        assert_eq!((g.n_top, g.top_threshold), (4, Some(1.0)));
    }

    #[test]
    fn failure_reasons_are_first_lines_grouped_by_count() {
        assert_eq!(failure_reason(Some("\n  boom  \nstack")), "boom");
        assert_eq!(failure_reason(None), "no reason given");
        assert_eq!(failure_reason(Some(&"x".repeat(300))).chars().count(), 201);
        let groups = group_failures(vec![
            ("a".into(), 1),
            ("b".into(), 2),
            ("b".into(), 3),
            ("a".into(), 4),
            ("b".into(), 5),
        ]);
        let summary: Vec<(&str, usize, &[usize])> = groups
            .iter()
            .map(|g| (g.reason.as_str(), g.count, g.examples.as_slice()))
            .collect();
        assert_eq!(summary, [("b", 3, &[2, 3, 5][..]), ("a", 2, &[1, 4][..])]);
    }
}
