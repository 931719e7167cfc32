//! What several groups agree on: the house "best practice" ranges.
//!
//! Per numeric parameter, only the groups in which it measurably matters vote, each with
//! its good range (where its top trials lie). The **consensus** is where more than half of
//! the voters' good ranges overlap (with two voters: both; the intersection when all
//! overlap); the house range is the consensus with the usual margin, widened past a searched
//! bound when more than half of the voters asked to widen it, and snapped to the kind. When
//! no region has a majority the voters disagree: the house range is the hull of their good
//! ranges, and a note says so. A parameter that matters nowhere keeps the hull of the
//! searched ranges (flagged unimportant). `agreement` counts the voters whose good range
//! touches the consensus.
//!
//! Per `choice` option: the house drops it when more than half of the groups that tried
//! it suggested dropping it, and never drops every option.

use super::ReportOptions;
use super::model::*;
use super::snap::{dist_interval, snap_range};
use crate::space::{Dist, Value};

fn to_t(x: f64, log: bool) -> f64 {
    if log {
        x.max(f64::MIN_POSITIVE).ln()
    } else {
        x
    }
}

fn from_t(t: f64, log: bool) -> f64 {
    if log { t.exp() } else { t }
}

pub(crate) fn combine(groups: &[GroupReport], options: &ReportOptions) -> HouseReport {
    let mut names: Vec<&str> = Vec::new();
    for g in groups {
        for p in &g.params {
            if !names.contains(&p.name.as_str()) {
                names.push(&p.name);
            }
        }
    }
    let params = names
        .iter()
        .map(|name| {
            let members: Vec<(&str, &ParamReport)> = groups
                .iter()
                .filter_map(|g| {
                    g.params
                        .iter()
                        .find(|p| p.name == *name)
                        .map(|p| (g.name.as_str(), p))
                })
                .collect();
            combine_param(name, &members, options)
        })
        .collect();
    HouseReport {
        groups: groups.iter().map(|g| g.name.clone()).collect(),
        params,
    }
}

fn combine_param(
    name: &str,
    members: &[(&str, &ParamReport)],
    options: &ReportOptions,
) -> HouseParam {
    // `members` is never empty: the name was taken from one of the groups.
    let first = members[0].1;
    let same_kind: Vec<(&str, &ParamReport)> = members
        .iter()
        .filter(|(_, p)| std::mem::discriminant(&p.detail) == std::mem::discriminant(&first.detail))
        .copied()
        .collect();
    let mut notes = Vec::new();
    if same_kind.len() < members.len() {
        notes.push(format!(
            "{} group(s) searched it as a different kind and were left out",
            members.len() - same_kind.len()
        ));
    }
    let shares: Vec<f64> = same_kind
        .iter()
        .filter_map(|(_, p)| p.importance.map(|i| i.share))
        .collect();
    let mean_share = if shares.is_empty() {
        0.0
    } else {
        shares.iter().sum::<f64>() / shares.len() as f64
    };
    let n_matters = same_kind
        .iter()
        .filter(|(_, p)| p.importance.is_some_and(|i| i.matters))
        .count();
    let mut house = HouseParam {
        name: name.to_string(),
        kind: first.kind.clone(),
        log: first.log,
        n_groups: same_kind.len(),
        n_matters,
        mean_share,
        action: Action::Fixed,
        detail: HouseDetail::Constant,
        notes: Vec::new(),
        next: first.next.clone(),
    };
    match &first.detail {
        ParamDetail::Numeric(_) => combine_numeric(&mut house, &same_kind, options, &mut notes),
        ParamDetail::Categorical(_) => combine_choice(&mut house, &same_kind, &mut notes),
        ParamDetail::Constant { .. } => {}
    }
    house.notes = notes;
    house
}

fn combine_numeric(
    house: &mut HouseParam,
    members: &[(&str, &ParamReport)],
    options: &ReportOptions,
    notes: &mut Vec<String>,
) {
    let log = house.log;
    let first = members[0].1;
    let numeric: Vec<(&str, &ParamReport, &NumericDetail)> = members
        .iter()
        .filter_map(|(g, p)| p.numeric().map(|n| (*g, *p, n)))
        .collect();
    let per_group: Vec<GroupRange> = numeric
        .iter()
        .map(|(g, p, n)| GroupRange {
            group: g.to_string(),
            good: n.good,
            recommended: n.recommended,
            action: p.action,
            matters: p.importance.is_some_and(|i| i.matters),
        })
        .collect();
    // The hull of the searched ranges, in analysis space.
    let lo = numeric
        .iter()
        .map(|n| to_t(n.2.searched.low, log))
        .fold(f64::INFINITY, f64::min);
    let hi = numeric
        .iter()
        .map(|n| to_t(n.2.searched.high, log))
        .fold(f64::NEG_INFINITY, f64::max);
    let searched = Interval {
        low: from_t(lo, log),
        high: from_t(hi, log),
    };
    let voters: Vec<(f64, f64, &GroupRange)> = per_group
        .iter()
        .filter(|r| r.matters)
        .filter_map(|r| r.good.map(|g| (to_t(g.low, log), to_t(g.high, log), r)))
        .collect();
    let k = voters.len();
    let interval = |a: f64, b: f64| Interval {
        low: from_t(a, log),
        high: from_t(b, log),
    };
    let same_dist = numeric.iter().all(|n| n.1.dist == first.dist);
    let searched_dist = if same_dist {
        first.dist.clone()
    } else {
        snap_range(
            &first.dist,
            searched.low,
            searched.high,
            (Some(searched.low), Some(searched.high)),
        )
    };

    let mut detail = HouseNumeric {
        per_group: per_group.clone(),
        intersection: None,
        union: None,
        consensus: None,
        agreement: 0,
        out_of: k,
        recommended: dist_interval(&searched_dist).unwrap_or(searched),
    };
    house.next = searched_dist.clone();
    if k == 0 {
        house.action = if numeric.iter().all(|n| n.1.action == Action::TooFewTrials) {
            Action::TooFewTrials
        } else if numeric.iter().all(|n| n.1.action == Action::Fixed) {
            Action::Fixed
        } else {
            notes.push("matters in no group: range left as searched".to_string());
            Action::Unimportant
        };
        house.detail = HouseDetail::Numeric(detail);
        return;
    }

    let (max_a, min_b) = voters
        .iter()
        .fold((f64::NEG_INFINITY, f64::INFINITY), |(a, b), v| {
            (a.max(v.0), b.min(v.1))
        });
    let (min_a, max_b) = voters
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v.0), b.max(v.1))
        });
    detail.intersection = (max_a <= min_b).then(|| interval(max_a, min_b));
    detail.union = Some(interval(min_a, max_b));

    // Coverage sweep: starts before ends at equal positions, so touching ranges overlap.
    let need = k / 2 + 1;
    let mut events: Vec<(f64, i32)> = voters.iter().flat_map(|v| [(v.0, 1), (v.1, -1)]).collect();
    events.sort_by(|a, b| a.0.total_cmp(&b.0).then(b.1.cmp(&a.1)));
    let mut cover = 0i32;
    let mut consensus: Option<(f64, f64)> = None;
    for (x, d) in events {
        let before = cover;
        cover += d;
        if d > 0 && cover as usize >= need {
            consensus = Some(consensus.map_or((x, x), |(a, _)| (a, x)));
        }
        if d < 0 && before as usize >= need {
            consensus = consensus.map(|(a, _)| (a, x));
        }
    }
    let (a, b) = match consensus {
        Some(c) => {
            detail.consensus = Some(interval(c.0, c.1));
            detail.agreement = voters.iter().filter(|v| v.0 <= c.1 && v.1 >= c.0).count();
            c
        }
        None => {
            notes.push(
                "the groups disagree: no range is good in more than half of them".to_string(),
            );
            detail.agreement = 0;
            (min_a, max_b)
        }
    };

    let width = hi - lo;
    let margin = (options.margin * (b - a)).max(0.05 * width);
    let wants = |f: fn(Action) -> bool| voters.iter().filter(|v| f(v.2.action)).count() * 2 > k;
    let widen_low = wants(|a| matches!(a, Action::WidenLow | Action::WidenBoth));
    let widen_high = wants(|a| matches!(a, Action::WidenHigh | Action::WidenBoth));
    let low = if widen_low {
        voters
            .iter()
            .map(|v| to_t(v.2.recommended.low, log))
            .fold(f64::INFINITY, f64::min)
    } else {
        (a - margin).max(lo)
    };
    let high = if widen_high {
        voters
            .iter()
            .map(|v| to_t(v.2.recommended.high, log))
            .fold(f64::NEG_INFINITY, f64::max)
    } else {
        (b + margin).min(hi)
    };
    let keep = (
        (!widen_low).then_some(searched.low),
        (!widen_high).then_some(searched.high),
    );
    let next = snap_range(&first.dist, from_t(low, log), from_t(high, log), keep);
    let snapped = dist_interval(&next).unwrap_or(searched);
    let (wl, wh) = (snapped.low < searched.low, snapped.high > searched.high);
    let new_width = to_t(snapped.high, log) - to_t(snapped.low, log);
    house.action = match (wl, wh) {
        (true, true) => Action::WidenBoth,
        (true, false) => Action::WidenLow,
        (false, true) => Action::WidenHigh,
        (false, false) if new_width >= 0.9 * width => Action::Keep,
        (false, false) => Action::Narrow,
    };
    if house.action != Action::Keep {
        house.next = next;
        detail.recommended = snapped;
    }
    house.detail = HouseDetail::Numeric(detail);
}

fn combine_choice(
    house: &mut HouseParam,
    members: &[(&str, &ParamReport)],
    notes: &mut Vec<String>,
) {
    let mut options: Vec<HouseOption> = Vec::new();
    for (_, p) in members {
        let Some(c) = p.categorical() else { continue };
        for o in &c.options {
            let i = match options.iter().position(|h| h.value == o.value) {
                Some(i) => i,
                None => {
                    options.push(HouseOption {
                        value: o.value.clone(),
                        n_groups: 0,
                        n_top: 0,
                        n_best: 0,
                        n_drop: 0,
                        drop: false,
                    });
                    options.len() - 1
                }
            };
            let h = &mut options[i];
            if o.count > 0 {
                h.n_groups += 1;
            }
            h.n_top += usize::from(o.n_top > 0);
            h.n_best += usize::from(o.is_best);
            h.n_drop += usize::from(o.drop);
        }
    }
    for h in &mut options {
        h.drop = h.n_drop * 2 > h.n_groups;
    }
    if options.iter().all(|h| h.drop) {
        for h in &mut options {
            h.drop = false;
        }
    }
    let kept: Vec<Value> = options
        .iter()
        .filter(|h| !h.drop)
        .map(|h| h.value.clone())
        .collect();
    house.action = if options.len() < 2 {
        Action::Fixed
    } else if options.iter().any(|h| h.drop) {
        let dropped: Vec<String> = options
            .iter()
            .filter(|h| h.drop)
            .map(|h| h.value.to_string())
            .collect();
        notes.push(format!("dropped in most groups: {}", dropped.join(", ")));
        Action::DropOptions
    } else if house.n_matters == 0 {
        Action::Unimportant
    } else {
        Action::Keep
    };
    house.next = Dist::Choice { options: kept };
    house.detail = HouseDetail::Categorical(HouseCategorical { options });
}
