//! The report's tables and text charts, built once as plain grids of text that the
//! terminal, Markdown and HTML renderers each lay out in their own way.

use super::fmt::{interval, kind, num, opt, point, value};
use crate::report::model::*;
use serde::Serialize;

/// A table: a header and rows of text, with the columns to right-align.
#[derive(Serialize)]
pub(crate) struct Grid {
    pub header: Vec<&'static str>,
    pub rows: Vec<Vec<String>>,
    pub right: Vec<usize>,
}

/// A titled part of a report: a table, lines of text, or a list of notes.
#[derive(Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Block {
    Table(Grid),
    Lines(Vec<String>),
    Notes(Vec<String>),
}

/// A section: a title (heading level 2 or 3) and its block. Serialized (for the server's
/// report endpoint) as `{level, title}` plus `table`, `lines` or `notes`.
#[derive(Serialize)]
pub(crate) struct Section {
    pub level: u8,
    pub title: String,
    #[serde(flatten)]
    pub block: Block,
}

/// Width of the range bars, in characters.
const BAR: usize = 28;
/// Width of the sparkline, in characters.
const SPARK: usize = 48;

/// The legend printed under a parameter table with range bars.
pub(crate) const BAR_LEGEND: &str = "range bar: whole width = searched ∪ recommended (log scale for log kinds); \
     [ ] recommended, - searched, # top trials, * best, < > beyond the searched range";

/// The sections of a whole report, in order.
pub(crate) fn sections(report: &Report) -> Vec<Section> {
    let mut out = Vec::new();
    for g in &report.groups {
        group_sections(report, g, &mut out);
    }
    if let Some(h) = &report.house {
        out.push(Section {
            level: 2,
            title: format!("House ranges across {} groups", h.groups.len()),
            block: Block::Lines(vec![format!("groups: {}", h.groups.join(", "))]),
        });
        out.push(Section {
            level: 3,
            title: "Parameters".into(),
            block: Block::Table(house_grid(h)),
        });
        let notes: Vec<String> = h
            .params
            .iter()
            .flat_map(|p| p.notes.iter().map(move |n| format!("{}: {n}", p.name)))
            .collect();
        if !notes.is_empty() {
            out.push(Section {
                level: 3,
                title: "House notes".into(),
                block: Block::Notes(notes),
            });
        }
    }
    out
}

/// The summary lines of a group.
pub(crate) fn summary(report: &Report, g: &GroupReport) -> Vec<String> {
    let c = &g.counts;
    let killed = if c.killed > 0 {
        format!(", killed {}", c.killed)
    } else {
        String::new()
    };
    let mut lines = vec![format!(
        "trials: {} (complete {}, failed {}, pruned {}{killed}, running {}), {}",
        c.total,
        c.complete,
        c.failed,
        c.pruned,
        c.running,
        report.direction.as_str()
    )];
    if let Some(th) = g.top_threshold {
        lines.push(format!(
            "top {:.0}%: {} trial(s), loss {} {}",
            report.settings.top_quantile * 100.0,
            g.n_top,
            if report.direction == crate::Direction::Maximize {
                ">="
            } else {
                "<="
            },
            num(th)
        ));
    }
    if let Some(b) = g.best.first() {
        lines.push(format!("best loss {} (trial {})", num(b.loss), b.number));
    }
    if g.history.len() > 1 {
        lines.push(format!(
            "best so far: {} (trial {} to {})",
            sparkline(&g.history),
            g.history.first().map_or(0, |h| h.number),
            g.history.last().map_or(0, |h| h.number)
        ));
    }
    lines
}

fn group_sections(report: &Report, g: &GroupReport, out: &mut Vec<Section>) {
    out.push(Section {
        level: 2,
        title: format!("Report: {}", g.name),
        block: Block::Lines(summary(report, g)),
    });
    if !g.params.is_empty() {
        out.push(Section {
            level: 3,
            title: "Parameters".into(),
            block: Block::Table(param_grid(g)),
        });
    }
    for p in &g.params {
        if let Some(c) = p.categorical() {
            out.push(Section {
                level: 3,
                title: format!("Choice: {}", p.name),
                block: Block::Table(choice_grid(c)),
            });
        }
    }
    if !g.best.is_empty() {
        // The run column only when trials were tracked as runs.
        let runs = g.best.iter().any(|b| b.run_id.is_some());
        let mut header = vec!["#", "trial", "loss", "params"];
        if runs {
            header.push("run");
        }
        out.push(Section {
            level: 3,
            title: format!("Best {} trial(s)", g.best.len()),
            block: Block::Table(Grid {
                header,
                rows: g
                    .best
                    .iter()
                    .map(|b| {
                        let mut row = vec![
                            b.rank.to_string(),
                            b.number.to_string(),
                            num(b.loss),
                            point(&b.params),
                        ];
                        if runs {
                            row.push(b.run_id.clone().unwrap_or_default());
                        }
                        row
                    })
                    .collect(),
                right: vec![0, 1, 2],
            }),
        });
    }
    if !g.failures.is_empty() {
        out.push(Section {
            level: 3,
            title: format!("Failures ({})", g.counts.failed),
            block: Block::Table(Grid {
                header: vec!["count", "reason", "e.g. trials"],
                rows: g
                    .failures
                    .iter()
                    .map(|f| {
                        let ex: Vec<String> = f.examples.iter().map(ToString::to_string).collect();
                        vec![f.count.to_string(), f.reason.clone(), ex.join(", ")]
                    })
                    .collect(),
                right: vec![0],
            }),
        });
    }
    let mut notes = g.notes.clone();
    for p in &g.params {
        notes.extend(p.notes.iter().map(|n| format!("{}: {n}", p.name)));
    }
    if !notes.is_empty() {
        out.push(Section {
            level: 3,
            title: "Notes".into(),
            block: Block::Notes(notes),
        });
    }
}

fn importance_cell(p: &ParamReport) -> String {
    match p.importance {
        Some(i) => format!(
            "{:.0}% (#{}{})",
            i.share * 100.0,
            i.rank,
            if i.matters {
                ""
            } else if i.tentative {
                ", tentative"
            } else {
                ", n.s."
            }
        ),
        None => "-".into(),
    }
}

fn param_grid(g: &GroupReport) -> Grid {
    let rows = g
        .params
        .iter()
        .map(|p| {
            let (searched, good, bar, rec) = match &p.detail {
                ParamDetail::Numeric(n) => (
                    interval(&n.searched),
                    n.good
                        .map_or("-".into(), |i| format!("{} (n={})", interval(&i), n.n_good)),
                    range_bar(p, n),
                    interval(&n.recommended),
                ),
                ParamDetail::Categorical(c) => {
                    let all: Vec<String> = c.options.iter().map(|o| value(&o.value)).collect();
                    let top: Vec<String> = c
                        .options
                        .iter()
                        .filter(|o| o.n_top > 0)
                        .map(|o| value(&o.value))
                        .collect();
                    let next: Vec<String> = c
                        .options
                        .iter()
                        .filter(|o| !o.drop)
                        .map(|o| value(&o.value))
                        .collect();
                    (
                        format!("{{{}}}", all.join(", ")),
                        format!("{{{}}}", top.join(", ")),
                        String::new(),
                        format!("{{{}}}", next.join(", ")),
                    )
                }
                ParamDetail::Constant { value: v } => {
                    (value(v), String::new(), String::new(), value(v))
                }
            };
            vec![
                p.name.clone(),
                kind(p),
                searched,
                good,
                bar,
                rec,
                p.action.as_str().to_string(),
                importance_cell(p),
            ]
        })
        .collect();
    Grid {
        header: vec![
            "param",
            "kind",
            "searched",
            "top trials",
            "range",
            "recommended",
            "action",
            "importance",
        ],
        rows,
        right: vec![7],
    }
}

fn choice_grid(c: &CategoricalDetail) -> Grid {
    Grid {
        header: vec!["option", "trials", "top", "best", "median", "verdict"],
        rows: c
            .options
            .iter()
            .map(|o| {
                let mut verdict = Vec::new();
                if o.is_best {
                    verdict.push("best trial");
                }
                if o.is_worst {
                    verdict.push("worst median");
                }
                if o.drop {
                    verdict.push("drop");
                }
                vec![
                    value(&o.value),
                    o.count.to_string(),
                    o.n_top.to_string(),
                    opt(o.best),
                    opt(o.median),
                    verdict.join(", "),
                ]
            })
            .collect(),
        right: vec![1, 2, 3, 4],
    }
}

fn house_grid(h: &HouseReport) -> Grid {
    let rows = h
        .params
        .iter()
        .map(|p| {
            let (per_group, consensus, agreement, rec) = match &p.detail {
                HouseDetail::Numeric(n) => (
                    n.per_group
                        .iter()
                        .map(|r| {
                            format!(
                                "{}: {}{}",
                                r.group,
                                r.good.map_or("-".into(), |i| interval(&i)),
                                if r.matters { "" } else { " (n.s.)" }
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("; "),
                    n.consensus.map_or("-".into(), |i| interval(&i)),
                    format!("{}/{}", n.agreement, n.out_of),
                    interval(&n.recommended),
                ),
                HouseDetail::Categorical(c) => (
                    c.options
                        .iter()
                        .map(|o| format!("{}: top in {}/{}", value(&o.value), o.n_top, o.n_groups))
                        .collect::<Vec<_>>()
                        .join("; "),
                    String::new(),
                    String::new(),
                    format!(
                        "{{{}}}",
                        c.options
                            .iter()
                            .filter(|o| !o.drop)
                            .map(|o| value(&o.value))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ),
                HouseDetail::Constant => {
                    (String::new(), String::new(), String::new(), String::new())
                }
            };
            vec![
                p.name.clone(),
                p.kind.clone(),
                format!("{}/{}", p.n_matters, p.n_groups),
                per_group,
                consensus,
                agreement,
                rec,
                p.action.as_str().to_string(),
            ]
        })
        .collect();
    Grid {
        header: vec![
            "param",
            "kind",
            "matters in",
            "top trials per group",
            "consensus",
            "agree",
            "recommended",
            "action",
        ],
        rows,
        right: vec![],
    }
}

/// A text bar over the union of the searched and recommended ranges (see [`BAR_LEGEND`]).
pub(crate) fn range_bar(p: &ParamReport, n: &NumericDetail) -> String {
    let t = |x: f64| {
        if p.log {
            x.max(f64::MIN_POSITIVE).ln()
        } else {
            x
        }
    };
    let s = (t(n.searched.low), t(n.searched.high));
    let r = (t(n.recommended.low), t(n.recommended.high));
    let (lo, hi) = (s.0.min(r.0), s.1.max(r.1));
    if hi.is_nan() || lo.is_nan() || hi <= lo {
        return String::new();
    }
    let cell = |x: f64| {
        (((x - lo) / (hi - lo)) * BAR as f64)
            .floor()
            .clamp(0.0, BAR as f64 - 1.0) as usize
    };
    let mut bar: Vec<char> = (0..BAR)
        .map(|i| {
            let mid = lo + (i as f64 + 0.5) / BAR as f64 * (hi - lo);
            if mid < s.0 {
                '<'
            } else if mid > s.1 {
                '>'
            } else {
                '-'
            }
        })
        .collect();
    if let Some(g) = n.good {
        for c in bar
            .iter_mut()
            .take(cell(t(g.high)) + 1)
            .skip(cell(t(g.low)))
        {
            *c = '#';
        }
    }
    if let Some(b) = n.best_value {
        bar[cell(t(b))] = '*';
    }
    if p.action != Action::Keep
        && p.action != Action::Unimportant
        && p.action != Action::TooFewTrials
    {
        bar[cell(r.0)] = '[';
        let end = cell(r.1);
        bar[end] = ']';
    }
    bar.into_iter().collect()
}

/// The best loss so far as a sparkline of block characters; low blocks are better losses
/// when minimizing, high blocks when maximizing (the line follows the loss).
pub(crate) fn sparkline(history: &[HistoryPoint]) -> String {
    const LEVELS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let n = history.len();
    if n == 0 {
        return String::new();
    }
    let width = n.min(SPARK);
    let samples: Vec<f64> = (0..width)
        .map(|i| history[((i + 1) * n).div_ceil(width) - 1].best_so_far)
        .collect();
    let lo = samples.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = samples.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    samples
        .iter()
        .map(|&v| {
            let level = if hi > lo {
                ((v - lo) / (hi - lo) * 7.0).round() as usize
            } else {
                0
            };
            LEVELS[level.min(7)]
        })
        .collect()
}
