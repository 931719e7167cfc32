//! The bad-set estimator `g(x)` of one group, kept between suggestions.
//!
//! In a running search the bad set changes by a trial or two between suggestions (the
//! newest result, a trial leaving the good set, a pending trial), yet it holds almost
//! every trial. Refitting it costs a pass over the whole history per dim; keeping it
//! costs an insertion or removal per change and a refresh of the neighbours' widths. The
//! kept estimator is the one a fit from scratch would give, bit for bit: same kernels in
//! the same order with the same widths and weights (the tests check this).

use super::Tpe;
use super::curve::{Curve, CurveIndex};
use super::index::HistoryIndex;
use super::parzen::{DimModel, Parzen, WidthRule, log_sum_exp, numeric_dims};
use crate::trials::Trials;

/// Above this many changes (and an eighth of the kernels), refitting from scratch is
/// cheaper than applying them one by one.
const REFIT_CHANGES: usize = 64;

/// Up to this many kernels, a full `g` costs little more than its bound: the prior
/// kernel's share stands in for it.
const FEW_TO_BOUND: usize = 128;

/// Kernels taken on each side of a candidate on each curve for the lower bound of `g`.
pub(super) const NEAR_ON_CURVE: usize = 6;

/// Where the two curves of [`BadSet::lower_bound`] put their cell boundaries (fractions of
/// each range): a candidate near a boundary of one is mostly far from those of the other.
const CURVE_SHIFTS: [f64; 2] = [0.0, 1.0 / 3.0];

/// The kept estimator of one group and what it was built from.
#[derive(Debug, Default)]
pub(super) struct BadSet {
    /// The group's dims and the configuration modelled; any change starts over.
    dims: Vec<DimModel>,
    cfg: Option<Tpe>,
    est: Parzen,
    /// Per dim: `(located value, trial number)` of every kernel, ascending.
    lists: Vec<Vec<(f64, u32)>>,
    /// Per dim: the width rule the current widths follow.
    rules: Vec<Option<WidthRule>>,
    /// The members along two Morton curves of the group's real dims, their cell
    /// boundaries shifted apart; each member's kernel (storage position) after a sync, by
    /// trial number.
    curves: [CurveIndex; 2],
    kernel: Vec<u32>,
    /// Per trial number: the epoch (see [`HistoryIndex::epochs`]) when the trial was last
    /// looked at, whether the group is active in it then, and whether it has a kernel.
    seen: Vec<u32>,
    active: Vec<bool>,
    member: Vec<bool>,
    /// Scratch: trial numbers to remove and to insert, kernels touched per dim,
    /// chronological rows by trial number, a dim's list by kernel position.
    removals: Vec<u32>,
    insertions: Vec<u32>,
    touched: Vec<Vec<u32>>,
    rows: Vec<u32>,
    by_kernel: Vec<(f64, u32)>,
    values: Vec<f64>,
}

impl BadSet {
    /// Brings the estimator (see [`BadSet::estimator`]) up to date: one kernel per trial
    /// `i` with `wanted[i]` (complete and not good, or pending) in which the group is
    /// active.
    pub fn sync(
        &mut self,
        history: &Trials,
        index: &HistoryIndex,
        dims: &[DimModel],
        cfg: &Tpe,
        wanted: &[bool],
    ) {
        if self.dims != dims || self.cfg.as_ref() != Some(cfg) {
            *self = BadSet {
                dims: dims.to_vec(),
                cfg: Some(cfg.clone()),
                curves: CURVE_SHIFTS.map(|shift| CurveIndex::new(Curve::new(dims, shift))),
                ..BadSet::default()
            };
        }
        let len = wanted.len();
        let epochs = &index.epochs()[..len];
        self.seen.resize(len, u32::MAX);
        self.kernel.resize(len, 0);
        self.active.resize(len, false);
        self.member.resize(len, false);
        self.removals.clear();
        self.insertions.clear();
        // Blocks where every trial is unchanged and in the right set are skipped after a
        // branch-free check (the common case: a step changes one or two trials).
        const BLOCK: usize = 64;
        for start in (0..len).step_by(BLOCK) {
            let end = (start + BLOCK).min(len);
            let settled = self.seen[start..end]
                .iter()
                .zip(&epochs[start..end])
                .zip(&self.member[start..end])
                .zip(wanted[start..end].iter().zip(&self.active[start..end]))
                .fold(true, |ok, (((s, e), &m), (&w, &a))| {
                    ok & (s == e) & (m == (w & a))
                });
            if settled {
                continue;
            }
            for i in start..end {
                let fresh = self.seen[i] == epochs[i];
                if !fresh {
                    // The trial may have changed: look at its point again.
                    self.seen[i] = epochs[i];
                    self.active[i] = history.get(i).is_some_and(|t| {
                        dims.iter()
                            .all(|d| t.x.get(d.param).is_some_and(|v| !v.is_nan()))
                    });
                }
                let want = wanted[i] && self.active[i];
                let member = self.member[i];
                if member == want && fresh {
                    continue;
                }
                if member {
                    self.removals.push(i as u32);
                }
                if want {
                    self.insertions.push(i as u32);
                }
            }
        }
        let changes = self.removals.len() + self.insertions.len();
        if changes > REFIT_CHANGES && changes * 8 > self.est.len() {
            self.refit(history, cfg, wanted);
        } else if changes > 0 || self.est.is_blank() {
            self.apply(history, cfg);
        } else {
            return;
        }
        // Insertions and removals shift the kernels after them.
        for k in 0..self.est.len() {
            self.kernel[self.est.id(k) as usize] = k as u32;
        }
    }

    /// The estimator as of the last [`BadSet::sync`].
    pub fn estimator(&mut self) -> &mut Parzen {
        &mut self.est
    }

    /// A lower bound of `ln g` at a candidate (score keys, see
    /// [`DimModel::score_key`](super::parzen::DimModel::score_key)) from the prior kernel
    /// and the [`NEAR_ON_CURVE`] kernels on each side of it on each curve, which are mostly
    /// among its nearest: a candidate whose `l` over this bound cannot beat the best needs
    /// no full `g`. `near` and `terms` are scratch.
    pub fn lower_bound(
        &mut self,
        dims: &[DimModel],
        key: &[(f64, f64)],
        near: &mut Vec<u32>,
        terms: &mut Vec<f64>,
    ) -> f64 {
        let prior = self.est.prior_log_density(dims, key);
        if self.est.len() <= FEW_TO_BOUND {
            return prior;
        }
        near.clear();
        for curve in &self.curves {
            curve.near(key, NEAR_ON_CURVE, near);
        }
        for i in near.iter_mut() {
            *i = self.kernel[*i as usize];
        }
        near.sort_unstable();
        near.dedup();
        // Kernels below the prior's share hardly tighten the bound; leaving them out early
        // saves their costlier dims (cell masses).
        self.est.log_terms(dims, key, near, prior, terms);
        log_sum_exp(terms, prior)
    }

    /// The located values of trial `number` in every dim, into `self.values`.
    fn locate(&mut self, history: &Trials, number: u32) {
        self.values.clear();
        if let Some(t) = history.get(number as usize) {
            self.values
                .extend(self.dims.iter().map(|d| d.locate(t.x[d.param])));
        }
    }

    /// Fits the estimator from scratch to every wanted, active trial.
    fn refit(&mut self, history: &Trials, cfg: &Tpe, wanted: &[bool]) {
        let nd = self.dims.len();
        for (m, (&w, &a)) in self.member.iter_mut().zip(wanted.iter().zip(&self.active)) {
            *m = w && a;
        }
        let members: Vec<u32> = (0..wanted.len() as u32)
            .filter(|&i| self.member[i as usize])
            .collect();
        // Rows are the members in chronological order; sorting by (value, row) is sorting
        // by (value, trial number), the order the kept lists follow.
        // Members are active, so each is in the history with a whole point.
        let mut points = Vec::with_capacity(members.len() * nd);
        for &i in &members {
            self.locate(history, i);
            points.extend_from_slice(&self.values);
        }
        self.lists.resize_with(nd, Vec::new);
        for (d, list) in self.lists.iter_mut().enumerate() {
            list.clear();
            list.extend((0..members.len()).map(|r| (points[r * nd + d], r as u32)));
            list.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        }
        for curve in &mut self.curves {
            curve.rebuild(members.iter().copied().zip(points.chunks_exact(nd)));
        }
        let mut pos = Vec::new();
        self.est
            .fit_rows(&self.dims, &mut self.lists, &mut pos, cfg);
        for (r, &i) in members.iter().enumerate() {
            self.est.set_id(pos[r] as usize, i);
        }
        // The kept lists name trials, not kernels.
        for list in &mut self.lists {
            for e in list.iter_mut() {
                e.1 = self.est.id(e.1 as usize);
            }
        }
        let n_numeric = numeric_dims(&self.dims);
        self.rules = (0..nd)
            .map(|d| WidthRule::new(&self.dims[d], members.len(), n_numeric, cfg))
            .collect();
    }

    /// Applies the pending removals and insertions one by one, then refreshes the widths
    /// they touched (or a whole dim whose rule changed) and the weights.
    fn apply(&mut self, history: &Trials, cfg: &Tpe) {
        let nd = self.dims.len();
        let prune = Parzen::prune_dim(&self.dims);
        self.lists.resize_with(nd, Vec::new);
        self.touched.resize_with(nd, Vec::new);
        self.touched.iter_mut().for_each(Vec::clear);
        let removals = std::mem::take(&mut self.removals);
        for &i in &removals {
            // The kernel's values as they were stored: the trial may have changed since.
            let Some(k) = (0..self.est.len()).find(|&k| self.est.id(k) == i) else {
                continue;
            };
            for d in 0..nd {
                let list = &mut self.lists[d];
                if let Some(r) = list.iter().position(|e| e.1 == i) {
                    list.remove(r);
                    neighbours(list, r, true, &mut self.touched[d]);
                }
            }
            self.est.remove(k, nd);
            self.member[i as usize] = false;
            for curve in &mut self.curves {
                curve.remove(i);
            }
        }
        self.removals = removals;
        let insertions = std::mem::take(&mut self.insertions);
        for &i in &insertions {
            self.locate(history, i);
            let t = prune.map_or(0.0, |p| self.values[p]);
            let (Err(k) | Ok(k)) = self.est.find(prune, t, i);
            self.est.insert(k, i, &self.values);
            for curve in &mut self.curves {
                curve.insert(i, &self.values);
            }
            for (d, &v) in self.values.iter().enumerate() {
                let list = &mut self.lists[d];
                let r = list.partition_point(|e| e.0.total_cmp(&v).then(e.1.cmp(&i)).is_lt());
                list.insert(r, (v, i));
                neighbours(list, r, false, &mut self.touched[d]);
            }
            self.member[i as usize] = true;
        }
        self.insertions = insertions;
        self.refresh_widths(history, cfg, prune);
        // Rows: chronological rank among the members.
        self.rows.clear();
        let mut next = 0u32;
        self.rows.extend(self.member.iter().map(|&m| {
            let r = next;
            next += u32::from(m);
            r
        }));
        let rows = &self.rows;
        self.est.finish(&self.dims, cfg, |id| rows[id as usize]);
    }

    /// Recomputes the widths the last changes touched; a dim whose rule changed with the
    /// number of kernels (or whose rule is not local) gets every width recomputed.
    fn refresh_widths(&mut self, history: &Trials, cfg: &Tpe, prune: Option<usize>) {
        let n = self.est.len();
        let n_numeric = numeric_dims(&self.dims);
        self.rules.resize(self.dims.len(), None);
        // Kernel of each member by trial number, filled once if a dim needs every width.
        let mut kernel_at: Vec<u32> = Vec::new();
        for d in 0..self.dims.len() {
            let Some(rule) = WidthRule::new(&self.dims[d], n, n_numeric, cfg) else {
                continue;
            };
            if self.rules[d] != Some(rule) || !rule.is_local() {
                self.rules[d] = Some(rule);
                if kernel_at.is_empty() {
                    kernel_at.resize(self.member.len(), 0);
                    for k in 0..n {
                        kernel_at[self.est.id(k) as usize] = k as u32;
                    }
                }
                self.by_kernel.clear();
                self.by_kernel.extend(
                    self.lists[d]
                        .iter()
                        .map(|&(t, i)| (t, kernel_at[i as usize])),
                );
                let list = std::mem::take(&mut self.by_kernel);
                self.est.set_all_widths(d, &list, &rule, cfg);
                self.by_kernel = list;
                continue;
            }
            let touched = std::mem::take(&mut self.touched[d]);
            let dim = self.dims[d].clone();
            for &i in &touched {
                // Members' points are current (changed ones were reinserted), so the
                // entry is found by its value; a trial removed since is not found.
                let Some(v) = history.get(i as usize).map(|t| dim.locate(t.x[dim.param])) else {
                    continue;
                };
                let list = &self.lists[d];
                let Ok(r) = list.binary_search_by(|e| e.0.total_cmp(&v).then(e.1.cmp(&i))) else {
                    continue;
                };
                let s = rule.width_at(list, r, cfg);
                let k = self.kernel_of(history, prune, i);
                self.est.set_width(d, k, s);
            }
            self.touched[d] = touched;
        }
    }

    /// The storage position of the kernel of member `i`.
    fn kernel_of(&mut self, history: &Trials, prune: Option<usize>, i: u32) -> usize {
        let t = match prune {
            Some(p) => {
                let dim = &self.dims[p];
                dim.locate(history.get(i as usize).map_or(f64::NAN, |t| t.x[dim.param]))
            }
            None => 0.0,
        };
        match self.est.find(prune, t, i) {
            Ok(k) | Err(k) => k,
        }
    }
}

/// Records in `touched` the trials whose width a change at position `r` of `list` affects:
/// the new entry and both neighbours after an insertion, the two entries that became
/// neighbours after a removal.
fn neighbours(list: &[(f64, u32)], r: usize, removed: bool, touched: &mut Vec<u32>) {
    let first = r.saturating_sub(1);
    let last = if removed { r } else { r + 1 };
    touched.extend(list.iter().take(last + 1).skip(first).map(|e| e.1));
}
