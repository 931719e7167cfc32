//! Parzen estimators: weighted mixtures of truncated Gaussian (and smoothed categorical)
//! product kernels, one kernel per observation plus a broad prior kernel.

use std::cmp::Ordering;

use rand::RngExt;
use rand_distr::StandardNormal;

use super::math::{LN_SQRT_2PI, log_mass};
use super::{Bandwidth, Tpe, forgetting_weight};
use crate::rng::TrialRng;
use crate::space::{Dist, Param};

/// How a quantized or integer parameter maps a grid value to its cell.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Cells {
    /// Multiples of `q` in `[low, high]` (value space); the first and last cells reach the
    /// bounds, so the cells tile the range exactly and their masses sum to one.
    Grid {
        low: f64,
        high: f64,
        q: f64,
        first: f64,
        last: f64,
    },
    /// Integers: the cell of `v` is `[v - 1/2, v + 1/2]`.
    Int,
}

/// How one parameter is modelled.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum DimKind {
    /// A real (possibly quantized) modelled in its transformed space (log for log kinds).
    Real {
        /// Lower bound in the transformed space (`-inf` when unbounded).
        lo: f64,
        /// Upper bound in the transformed space (`+inf` when unbounded).
        hi: f64,
        /// Mean of the prior kernel.
        prior_mu: f64,
        /// Width of the prior kernel; also the scale bandwidths are clipped against.
        prior_sigma: f64,
        log: bool,
        cells: Option<Cells>,
    },
    /// One of `n` unordered options.
    Cat { n: usize },
}

/// One modelled parameter of a group.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DimModel {
    /// Index of the parameter in the space.
    pub param: usize,
    pub kind: DimKind,
}

impl DimModel {
    /// The model of `param`, or `None` for constants (nothing to model).
    pub fn new(index: usize, param: &Param) -> Option<DimModel> {
        let real = |lo: f64, hi: f64, log: bool, cells: Option<Cells>| DimKind::Real {
            lo,
            hi,
            prior_mu: 0.5 * (lo + hi),
            prior_sigma: hi - lo,
            log,
            cells,
        };
        let grid = |low: f64, high: f64, q: f64| Cells::Grid {
            low,
            high,
            q,
            first: (low / q).ceil(),
            last: (high / q).floor(),
        };
        let kind = match param.dist {
            Dist::Uniform { low, high } => real(low, high, false, None),
            Dist::LogUniform { low, high } => real(low.ln(), high.ln(), true, None),
            Dist::QUniform { low, high, q } => real(low, high, false, Some(grid(low, high, q))),
            Dist::QLogUniform { low, high, q } => {
                real(low.ln(), high.ln(), true, Some(grid(low, high, q)))
            }
            Dist::Normal { mu, sigma } | Dist::LogNormal { mu, sigma } => DimKind::Real {
                lo: f64::NEG_INFINITY,
                hi: f64::INFINITY,
                prior_mu: mu,
                prior_sigma: sigma,
                log: param.dist.is_log(),
                cells: None,
            },
            Dist::RandInt { low, high } => {
                real(low as f64 - 0.5, high as f64 - 0.5, false, Some(Cells::Int))
            }
            Dist::Choice { ref options } => DimKind::Cat { n: options.len() },
            Dist::Const(_) => return None,
        };
        Some(DimModel { param: index, kind })
    }

    /// Where an encoded value of this parameter sits in the model's space (a kernel mean):
    /// the transformed value clamped into the bounds, or the option index.
    pub fn locate(&self, v: f64) -> f64 {
        match self.kind {
            DimKind::Real { lo, hi, log, .. } => {
                let t = if log {
                    v.max(f64::MIN_POSITIVE).ln()
                } else {
                    v
                };
                // Plain comparisons: this runs for every observation on every suggestion,
                // and `f64::clamp`'s checks cost more than the comparison itself.
                if t < lo {
                    lo
                } else if t > hi {
                    hi
                } else {
                    t
                }
            }
            DimKind::Cat { n } => v.round().clamp(0.0, (n - 1) as f64),
        }
    }

    /// What a candidate is scored on: `(t, _)` for a continuous value, its cell `(a, b)` in
    /// the transformed space for quantized and integer kinds, `(index, _)` for options.
    pub fn score_key(&self, v: f64) -> (f64, f64) {
        match self.kind {
            DimKind::Real {
                lo, hi, log, cells, ..
            } => {
                let tr = |u: f64| {
                    if log {
                        u.max(f64::MIN_POSITIVE).ln()
                    } else {
                        u
                    }
                };
                match cells {
                    None => (self.locate(v), 0.0),
                    Some(Cells::Int) => ((v - 0.5).max(lo), (v + 0.5).min(hi)),
                    Some(Cells::Grid {
                        low,
                        high,
                        q,
                        first,
                        last,
                    }) => {
                        let k = (v / q).round();
                        let a = if k <= first { low } else { v - 0.5 * q };
                        let b = if k >= last { high } else { v + 0.5 * q };
                        (tr(a).max(lo), tr(b).min(hi))
                    }
                }
            }
            DimKind::Cat { .. } => (self.locate(v), 0.0),
        }
    }

    /// Whether the dim is a real without a grid (scored by density, usable for pruning).
    pub fn is_continuous(&self) -> bool {
        matches!(self.kind, DimKind::Real { cells: None, .. })
    }

    /// Whether candidates are scored by cell mass.
    fn is_cell(&self) -> bool {
        matches!(self.kind, DimKind::Real { cells: Some(_), .. })
    }

    /// Draws from the kernel `(mu, sigma)` truncated to the bounds and returns the value in
    /// value space (not yet snapped to the support).
    fn draw_real(lo: f64, hi: f64, log: bool, mu: f64, sigma: f64, rng: &mut TrialRng) -> f64 {
        let mut t = f64::NAN;
        // Every kernel is centred inside the bounds with sigma at most the range, so at
        // least a third of its mass is inside: 64 rejections fail with probability < 1e-11.
        for _ in 0..64 {
            let z: f64 = rng.sample(StandardNormal);
            let cand = mu + sigma * z;
            if cand >= lo && cand <= hi {
                t = cand;
                break;
            }
        }
        if t.is_nan() {
            t = mu.clamp(lo, hi);
        }
        if log { t.exp() } else { t }
    }
}

/// Relative error allowed in a density by skipping kernels: a score (a log ratio) moves by
/// less than 2e-6, far below the spread of the candidates' scores (on the benchmark suite
/// every choice is the same as with 1e-12), while a search that has concentrated skips a
/// third fewer kernels than at 1e-12.
const LN_EPS: f64 = -13.815_510_557_964_274; // ln(1e-6)

/// Smallest truncation mass of a kernel centred inside its bounds with sigma at most the
/// range (`Phi(1) - 1/2`, rounded down): bounds the peak of any kernel's density.
const LN_MIN_MASS: f64 = -1.078_809_661_166_925; // ln(0.34)

/// Estimators with at most this many kernels are scored against every kernel: finding
/// the near ones would cost more than it saves.
const SMALL: usize = 64;

/// How one dim contributes to a kernel's log density.
#[derive(Debug, Clone, Copy)]
enum Term {
    /// Gaussian log density (continuous reals).
    Density,
    /// Log mass of the candidate's cell (quantized and integer reals).
    Cell,
    /// Log probability of the candidate's option: `own` if it is the kernel's, else `other`.
    Cat { own: f64, other: f64 },
}

/// The weight an observation's categorical kernel puts on every option, besides its weight
/// 1 on its own: `prior_weight / (n + 1)` for `n` observations, so the kernels sharpen as
/// the estimator learns (few observations spread their mass, many keep it on their
/// option), while the prior kernel keeps every option reachable.
fn cat_smoothing(prior_weight: f64, n: usize) -> f64 {
    prior_weight / (n as f64 + 1.0)
}

/// A Parzen estimator over the dims of one group.
///
/// Kernel `k < n` sits on one observation; kernel `n` is the prior. Arrays are laid out
/// dim-major (`[d * stride + k]`) and kernels are stored in ascending order of
/// `(value in the pruning dim, id)` (the pruning dim is the first continuous dim; ids are
/// chronological), so scoring can binary-search the kernels near a candidate and a kernel
/// can be inserted or removed in place (see [`Parzen::insert`]).
#[derive(Debug, Default)]
pub(crate) struct Parzen {
    n: usize,
    /// Room per dim in the dim-major arrays (at least `n`).
    stride: usize,
    /// Per kernel: the observation's id (the row for fitted estimators, the trial number
    /// for maintained ones), and its chronological row, which sets its weight.
    id: Vec<u32>,
    row: Vec<u32>,
    /// Normalized log weights, valid when `w_gen[k] == generation`.
    log_w: Vec<f64>,
    w_gen: Vec<u64>,
    generation: u64,
    /// `ln` of the sum of all weights, prior included.
    ln_total: f64,
    /// Normalized log weight of the prior kernel.
    log_w_prior: f64,
    /// Cumulative raw weights for drawing a kernel, in row (chronological) order, so the
    /// draws do not depend on how kernels are stored. Only fitted estimators are drawn
    /// from; maintained ones leave it empty.
    cum_w: Vec<f64>,
    /// Storage position of the kernel of each row (fitted estimators).
    pos: Vec<u32>,
    mu: Vec<f64>,
    sigma: Vec<f64>,
    /// `1 / sigma`, for the distance filter.
    inv_sigma: Vec<f64>,
    /// Per kernel and dim: the log normalizer subtracted from the kernel's log density
    /// (ln sigma + ln sqrt(2 pi) + ln Z for continuous dims, ln Z for cell-scored ones).
    /// Computed when a kernel is first used (most never come near a candidate): valid for
    /// kernel `k` when `norm_ok[k]`.
    log_norm: Vec<f64>,
    norm_ok: Vec<bool>,
    norms: NormMemo,
    /// Squared distances of the kernels in the current window (scratch).
    dist2: Vec<f64>,
    /// Kernels of the window still near after the dims checked so far (scratch).
    window_idx: Vec<u32>,
    /// Kernels near the candidate being scored (scratch).
    visit: Vec<u32>,
    /// Their log terms so far, and whether each is still above the negligible floor
    /// (scratch).
    acc: Vec<f64>,
    alive: Vec<bool>,
    /// The same for the prior kernel, per dim.
    prior_log_norm: Vec<f64>,
    /// Per dim: how a kernel's term is computed, decided once per fit so the scoring loop
    /// does not match on the dim's full description for every kernel.
    terms: Vec<Term>,
    /// Per dim: an upper bound of any kernel's log density (log mass) term.
    peak: Vec<f64>,
    /// The largest normalized log weight of an observation kernel.
    max_log_w: f64,
    /// The dim kernels are sorted by, if any is continuous.
    prune_dim: Option<usize>,
    /// Kernels of the pruning dim wider than `narrow`, checked one by one.
    wide: Vec<u32>,
    /// Width below which kernels are found by binary search in the pruning dim.
    narrow: f64,
    /// The continuous dims other than the pruning dim, for the quick distance filter.
    fast_dims: Vec<usize>,
    /// The cell-scored dims: a kernel's mass on a cell at `d` standard deviations from
    /// its mean is at most `exp(-d^2 / 2) / 2`, so they bound the distance filter too.
    cell_dims: Vec<usize>,
    prior_weight: f64,
    forgetting: Option<usize>,
}

/// How many dims of a group are real (Scott's rule depends on it).
pub(crate) fn numeric_dims(dims: &[DimModel]) -> usize {
    dims.iter()
        .filter(|d| matches!(d.kind, DimKind::Real { .. }))
        .count()
}

impl Parzen {
    /// The dim kernels are stored by: the first continuous one.
    pub fn prune_dim(dims: &[DimModel]) -> Option<usize> {
        dims.iter().position(DimModel::is_continuous)
    }

    /// Fits the estimator to `n = pos.len()` observations, row `r` (chronological) stored
    /// as kernel `pos[r]`. `sorted[d]` lists `(t, k)` for every kernel `k` in ascending
    /// order of its located value `t` in dim `d` (see [`DimModel::locate`]); the pruning
    /// dim (see [`Parzen::prune_dim`]), if any, must list kernels in order `0..n`.
    fn fit(&mut self, dims: &[DimModel], sorted: &[Vec<(f64, u32)>], pos: &[u32], cfg: &Tpe) {
        let n = pos.len();
        let nd = dims.len();
        self.n = n;
        self.stride = n;
        // Every entry is overwritten below (or computed lazily), so reused buffers are
        // not cleared: at 10k trials the fills alone would cost more than the rest.
        self.mu.resize(n * nd, 0.0);
        self.sigma.resize(n * nd, 0.0);
        self.inv_sigma.resize(n * nd, 0.0);
        self.log_norm.resize(n * nd, 0.0);
        self.id.resize(n, 0);
        self.row.resize(n, 0);
        self.w_gen.resize(n, 0);
        self.norm_ok.clear();
        self.norm_ok.resize(n, false);
        for (r, &k) in pos.iter().enumerate() {
            self.id[k as usize] = r as u32;
            self.row[k as usize] = r as u32;
        }
        self.pos.clear();
        self.pos.extend_from_slice(pos);
        let n_numeric = numeric_dims(dims);
        for (d, dim) in dims.iter().enumerate() {
            let list = &sorted[d];
            debug_assert_eq!(list.len(), n);
            let mu = &mut self.mu[d * n..(d + 1) * n];
            for &(t, k) in list {
                mu[k as usize] = t;
            }
            let rule = WidthRule::new(dim, n, n_numeric, cfg);
            self.set_widths(d, list, rule.as_ref(), cfg);
        }
        self.summarize(dims, cfg);
        self.cum_w.clear();
        let mut acc = 0.0;
        for r in 0..n {
            acc += forgetting_weight(cfg.forgetting, r, n);
            self.cum_w.push(acc);
        }
        self.cum_w.push(acc + cfg.prior_weight);
    }

    /// Fits the estimator to observations given by row (chronological): `sorted[d]` lists
    /// `(t, row)` in ascending order for each dim. The kernels are numbered in the pruning
    /// dim's order (in row order without one): `sorted` is rewritten to kernel numbers and
    /// `pos[r]` set to row `r`'s kernel.
    pub fn fit_rows(
        &mut self,
        dims: &[DimModel],
        sorted: &mut [Vec<(f64, u32)>],
        pos: &mut Vec<u32>,
        cfg: &Tpe,
    ) {
        let n = sorted.first().map_or(0, Vec::len);
        pos.clear();
        pos.resize(n, 0);
        match Parzen::prune_dim(dims) {
            Some(p) => {
                for (k, &(_, r)) in sorted[p].iter().enumerate() {
                    pos[r as usize] = k as u32;
                }
                for list in sorted.iter_mut() {
                    for e in list.iter_mut() {
                        e.1 = pos[e.1 as usize];
                    }
                }
            }
            None => pos.iter_mut().enumerate().for_each(|(r, k)| *k = r as u32),
        }
        self.fit(dims, sorted, pos, cfg);
    }

    /// Sets the width of every kernel of dim `d` from `list`, its `(t, k)` in ascending
    /// order, by `rule` (categorical dims have none).
    fn set_widths(&mut self, d: usize, list: &[(f64, u32)], rule: Option<&WidthRule>, cfg: &Tpe) {
        if let Some(rule) = rule {
            let span = d * self.stride..d * self.stride + self.n;
            let out = Widths {
                sigma: &mut self.sigma[span.clone()],
                inv: &mut self.inv_sigma[span],
            };
            bandwidths(list, rule, cfg, out);
        }
    }

    /// Recomputes what follows from the kernels as a whole: weights, per-dim peaks and
    /// normalizers, the pruning dim's narrow width and wide kernels. Invalidates every
    /// log weight (they depend on the number of kernels).
    fn summarize(&mut self, dims: &[DimModel], cfg: &Tpe) {
        let n = self.n;
        self.prior_weight = cfg.prior_weight;
        self.forgetting = cfg.forgetting;
        self.generation += 1;
        self.log_w.resize(n, 0.0);
        let mut max_w = 0.0f64;
        let sum: f64 = (0..n)
            .map(|r| {
                let w = forgetting_weight(cfg.forgetting, r, n);
                max_w = fast_max(max_w, w);
                w
            })
            .sum();
        let total = sum + cfg.prior_weight;
        self.ln_total = total.ln();
        self.log_w_prior = cfg.prior_weight.ln() - self.ln_total;
        self.max_log_w = max_w.ln() - self.ln_total;

        self.prior_log_norm.clear();
        self.terms.clear();
        self.peak.clear();
        self.prune_dim = None;
        self.wide.clear();
        self.fast_dims.clear();
        self.cell_dims.clear();
        for (d, dim) in dims.iter().enumerate() {
            match dim.kind {
                DimKind::Real {
                    lo,
                    hi,
                    prior_mu,
                    prior_sigma,
                    ..
                } => {
                    let sig = &self.sigma[d * self.stride..d * self.stride + n];
                    let min_sigma = min_of(sig);
                    let cell = dim.is_cell();
                    self.terms
                        .push(if cell { Term::Cell } else { Term::Density });
                    self.prior_log_norm
                        .push(kernel_log_norm(prior_mu, prior_sigma, lo, hi, cell));
                    let ln_mass = if lo.is_finite() || hi.is_finite() {
                        LN_MIN_MASS
                    } else {
                        0.0
                    };
                    self.peak.push(if cell {
                        -ln_mass
                    } else {
                        -min_sigma.ln() - LN_SQRT_2PI - ln_mass
                    });
                    if cell {
                        self.cell_dims.push(d);
                    } else if self.prune_dim.is_some() {
                        self.fast_dims.push(d);
                    }
                    if !cell && self.prune_dim.is_none() && n > 0 {
                        self.prune_dim = Some(d);
                        // Kernels at the bandwidth floor are the bulk once the history
                        // is long (neighbour gaps shrink below it); the few wider ones
                        // are checked individually.
                        self.narrow = min_sigma;
                        self.wide
                            .extend((0..n as u32).filter(|&k| sig[k as usize] > min_sigma));
                    }
                }
                DimKind::Cat { n: options } => {
                    let c = options as f64;
                    let s = cat_smoothing(cfg.prior_weight, n);
                    let denom = (1.0 + c * s).ln();
                    let own = (1.0 + s).ln() - denom;
                    self.terms.push(Term::Cat {
                        own,
                        other: s.ln() - denom,
                    });
                    self.prior_log_norm.push(c.ln());
                    self.peak.push(own);
                }
            }
        }
    }

    /// Draws one point into `out` (value space, one entry per dim, not yet snapped).
    /// Only for fitted estimators (see [`Parzen::fit`]).
    pub fn sample(&self, dims: &[DimModel], rng: &mut TrialRng, out: &mut [f64]) {
        let n = self.n;
        let st = self.stride;
        let total = self.cum_w[n];
        let u = rng.random::<f64>() * total;
        let r = self.cum_w.partition_point(|&c| c <= u).min(n);
        let k = if r == n { n } else { self.pos[r] as usize };
        for (d, dim) in dims.iter().enumerate() {
            out[d] = match dim.kind {
                DimKind::Real {
                    lo,
                    hi,
                    prior_mu,
                    prior_sigma,
                    log,
                    ..
                } => {
                    let (mu, sigma) = if k == n {
                        (prior_mu, prior_sigma)
                    } else {
                        (self.mu[d * st + k], self.sigma[d * st + k])
                    };
                    DimModel::draw_real(lo, hi, log, mu, sigma, rng)
                }
                DimKind::Cat { n: options } => {
                    let spread = options as f64 * cat_smoothing(self.prior_weight, n);
                    let keep_own = k < n && rng.random::<f64>() * (1.0 + spread) < 1.0;
                    if keep_own {
                        self.mu[d * st + k]
                    } else {
                        rng.random_range(0..options) as f64
                    }
                }
            };
        }
    }

    /// Computes the log weight of kernel `k` and, unless still valid, its log normalizers
    /// in every numeric dim.
    fn compute_norms(&mut self, dims: &[DimModel], k: usize) {
        let w = forgetting_weight(self.forgetting, self.row[k] as usize, self.n);
        self.log_w[k] = w.ln() - self.ln_total;
        self.w_gen[k] = self.generation;
        if self.norm_ok[k] {
            return;
        }
        for (d, dim) in dims.iter().enumerate() {
            if let DimKind::Real { lo, hi, .. } = dim.kind {
                let i = d * self.stride + k;
                let kernel = [self.mu[i], self.sigma[i], lo, hi];
                self.log_norm[i] = self.norms.get(kernel, dim.is_cell());
            }
        }
        self.norm_ok[k] = true;
    }

    /// Sets every kernel's width in each real dim to `factor` times the mean width of
    /// `other`'s kernels there (at most the prior's width), then recomputes what depends
    /// on the widths. `other` is fitted to the same dims.
    pub fn widen_to(&mut self, dims: &[DimModel], other: &Parzen, factor: f64, cfg: &Tpe) {
        for (d, dim) in dims.iter().enumerate() {
            let DimKind::Real { prior_sigma, .. } = dim.kind else {
                continue;
            };
            let theirs = &other.sigma[d * other.stride..d * other.stride + other.n];
            if theirs.is_empty() {
                continue;
            }
            let mean = theirs.iter().sum::<f64>() / theirs.len() as f64;
            let s = (factor * mean).min(prior_sigma);
            for k in 0..self.n {
                self.set_width(d, k, s);
            }
        }
        self.summarize(dims, cfg);
    }

    /// `ln` of the weighted sum of the observation kernels at a candidate (score keys),
    /// the prior kernel left out: the estimator's density times its total weight, less
    /// the prior's share. `every` and `terms` are scratch.
    pub fn ln_kernel_sum(
        &mut self,
        dims: &[DimModel],
        key: &[(f64, f64)],
        every: &mut Vec<u32>,
        terms: &mut Vec<f64>,
    ) -> f64 {
        every.clear();
        every.extend(0..self.n as u32);
        self.log_terms(dims, key, every, f64::NEG_INFINITY, terms);
        log_sum_exp(terms, f64::NEG_INFINITY) + self.ln_total
    }

    /// `ln` of the sum of all weights, the prior kernel's included: the factor from the
    /// estimator's density to the weighted sum of its kernels.
    pub fn ln_total(&self) -> f64 {
        self.ln_total
    }

    /// The number of observation kernels.
    pub fn len(&self) -> usize {
        self.n
    }

    /// Whether the estimator was never fitted or finished (see [`Parzen::finish`]).
    pub fn is_blank(&self) -> bool {
        self.generation == 0
    }

    /// The id of kernel `k`'s observation.
    pub fn id(&self, k: usize) -> u32 {
        self.id[k]
    }

    /// Sets the id of kernel `k`'s observation (fitted estimators number them by row).
    pub fn set_id(&mut self, k: usize, id: u32) {
        self.id[k] = id;
    }

    /// Where the kernel of observation `id` with value `t` in pruning dim `p` is stored
    /// (`Ok`), or would be inserted (`Err`).
    pub fn find(&self, p: Option<usize>, t: f64, id: u32) -> Result<usize, usize> {
        let st = self.stride;
        let cmp = |k: usize| match p {
            Some(p) => self.mu[p * st + k].total_cmp(&t).then(self.id[k].cmp(&id)),
            None => self.id[k].cmp(&id),
        };
        let (mut lo, mut hi) = (0, self.n);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match cmp(mid) {
                Ordering::Less => lo = mid + 1,
                Ordering::Greater => hi = mid,
                Ordering::Equal => return Ok(mid),
            }
        }
        Err(lo)
    }

    /// Inserts a kernel at storage position `k` for observation `id` with located values
    /// `mu` (one per dim). Its width is unset until [`Parzen::set_width`], its row until
    /// [`Parzen::finish`].
    pub fn insert(&mut self, k: usize, id: u32, mu: &[f64]) {
        let nd = mu.len();
        if self.n == self.stride {
            self.grow(nd, (2 * self.stride).max(16));
        }
        let (n, st) = (self.n, self.stride);
        for (d, &m) in mu.iter().enumerate() {
            for a in [
                &mut self.mu,
                &mut self.sigma,
                &mut self.inv_sigma,
                &mut self.log_norm,
            ] {
                a.copy_within(d * st + k..d * st + n, d * st + k + 1);
            }
            self.mu[d * st + k] = m;
        }
        self.id.insert(k, id);
        self.row.insert(k, 0);
        self.w_gen.insert(k, 0);
        self.norm_ok.insert(k, false);
        self.n += 1;
    }

    /// Removes the kernel at storage position `k`.
    pub fn remove(&mut self, k: usize, nd: usize) {
        let (n, st) = (self.n, self.stride);
        for d in 0..nd {
            for a in [
                &mut self.mu,
                &mut self.sigma,
                &mut self.inv_sigma,
                &mut self.log_norm,
            ] {
                a.copy_within(d * st + k + 1..d * st + n, d * st + k);
            }
        }
        self.id.remove(k);
        self.row.remove(k);
        self.w_gen.remove(k);
        self.norm_ok.remove(k);
        self.n -= 1;
    }

    /// Lays the dim-major arrays out with room for `stride` kernels per dim.
    fn grow(&mut self, nd: usize, stride: usize) {
        let (n, old) = (self.n, self.stride);
        for a in [
            &mut self.mu,
            &mut self.sigma,
            &mut self.inv_sigma,
            &mut self.log_norm,
        ] {
            let mut wider = vec![0.0; nd * stride];
            for d in 0..nd {
                wider[d * stride..d * stride + n].copy_from_slice(&a[d * old..d * old + n]);
            }
            *a = wider;
        }
        self.stride = stride;
    }

    /// Sets the width of kernel `k` in dim `d`.
    pub fn set_width(&mut self, d: usize, k: usize, s: f64) {
        let i = d * self.stride + k;
        if self.sigma[i].to_bits() != s.to_bits() {
            self.sigma[i] = s;
            self.inv_sigma[i] = 1.0 / s;
            self.norm_ok[k] = false;
        }
    }

    /// Sets every width of dim `d` from `list`, its `(t, k)` in ascending order.
    pub fn set_all_widths(&mut self, d: usize, list: &[(f64, u32)], rule: &WidthRule, cfg: &Tpe) {
        self.norm_ok.iter_mut().for_each(|ok| *ok = false);
        self.set_widths(d, list, Some(rule), cfg);
    }

    /// Completes a series of insertions and removals: sets each kernel's chronological
    /// row from its id and recomputes what depends on the kernels as a whole.
    pub fn finish(&mut self, dims: &[DimModel], cfg: &Tpe, row_of: impl Fn(u32) -> u32) {
        for (row, &id) in self.row.iter_mut().zip(&self.id) {
            *row = row_of(id);
        }
        self.cum_w.clear();
        self.summarize(dims, cfg);
    }

    /// The log density (log mass for cell-scored dims) at a candidate given by its score
    /// keys (see [`DimModel::score_key`]), to a relative error below 1e-6.
    ///
    /// `known_low` is a lower bound of the result, if one is known (else `-inf`). Kernels
    /// whose contribution provably stays below `1e-6 / (n + 1)` of the larger of it and
    /// the prior kernel's are skipped: with the kernels sorted in the pruning dim, only
    /// those within a bounded distance of the candidate there are visited at all, and a
    /// tighter `known_low` shortens that distance.
    pub fn log_density(
        &mut self,
        dims: &[DimModel],
        key: &[(f64, f64)],
        known_low: f64,
        terms: &mut Vec<f64>,
    ) -> f64 {
        let n = self.n;
        let prior = self.prior_log_density(dims, key);
        terms.clear();
        if n == 0 {
            return prior;
        }
        // Only a finite bound can raise the floor: an infinite or NaN one (from a
        // degenerate kernel) must not hide every kernel.
        let known_low = if known_low < f64::INFINITY {
            known_low
        } else {
            f64::NEG_INFINITY
        };
        // Kernel terms at or below `floor` are negligible (see above).
        let floor = prior.max(known_low) + LN_EPS - ((n + 1) as f64).ln();
        let peak_sum: f64 = self.peak.iter().sum();
        let mut visit = std::mem::take(&mut self.visit);
        visit.clear();
        match self.prune_dim {
            // Searching for the near kernels pays off only when most of them are far.
            Some(p) if n > SMALL => {
                // z^2 beyond this makes the kernel negligible whatever the other dims say.
                let slack = self.max_log_w + peak_sum - floor;
                if slack > 0.0 {
                    self.near_kernels(p, key, 2.0 * slack, &mut visit);
                }
            }
            _ => visit.extend(0..n as u32),
        }
        self.log_terms(dims, key, &visit, floor, terms);
        self.visit = visit;
        log_sum_exp(terms, prior)
    }

    /// The prior kernel's weighted log density at a candidate: a lower bound of
    /// [`Parzen::log_density`].
    pub fn prior_log_density(&self, dims: &[DimModel], key: &[(f64, f64)]) -> f64 {
        let mut prior = self.log_w_prior;
        for (d, dim) in dims.iter().enumerate() {
            let (a, b) = key[d];
            match dim.kind {
                DimKind::Real {
                    prior_mu,
                    prior_sigma,
                    ..
                } => {
                    prior += if dim.is_cell() {
                        log_mass((a - prior_mu) / prior_sigma, (b - prior_mu) / prior_sigma)
                    } else {
                        let z = (a - prior_mu) / prior_sigma;
                        -0.5 * z * z
                    } - self.prior_log_norm[d];
                }
                DimKind::Cat { .. } => prior -= self.prior_log_norm[d],
            }
        }
        prior
    }

    /// Appends to `visit`, in storage order, every kernel whose summed squared distance to
    /// the candidate over the continuous dims is at most `limit`: the others are
    /// negligible. Only kernels within reach in the pruning dim (narrow kernels in a
    /// window found by binary search, wide ones checked one by one) can qualify.
    fn near_kernels(&mut self, p: usize, key: &[(f64, f64)], limit: f64, visit: &mut Vec<u32>) {
        let (n, st) = (self.n, self.stride);
        let x = key[p].0;
        let reach = limit.sqrt() * self.narrow;
        let (start, end) = {
            let mu = &self.mu[p * st..p * st + n];
            (
                mu.partition_point(|&m| m < x - reach),
                mu.partition_point(|&m| m <= x + reach),
            )
        };
        let wide = std::mem::take(&mut self.wide);
        let split = wide.partition_point(|&k| (k as usize) < start);
        let wide_near = |this: &Parzen, k: usize| {
            let z = (x - this.mu[p * st + k]) / this.sigma[p * st + k];
            let mut qk = z * z;
            for &d in &this.fast_dims {
                let z = (key[d].0 - this.mu[d * st + k]) / this.sigma[d * st + k];
                qk += z * z;
                if qk > limit {
                    return false;
                }
            }
            for &d in &this.cell_dims {
                let z = cell_gap(key[d], this.mu[d * st + k]) / this.sigma[d * st + k];
                qk += z * z;
                if qk > limit {
                    return false;
                }
            }
            qk <= limit
        };
        visit.extend(
            wide[..split]
                .iter()
                .filter(|&&k| wide_near(self, k as usize)),
        );

        // The window in bulk, its first two dims over contiguous memory (vectorizes).
        let mut q = std::mem::take(&mut self.dist2);
        q.clear();
        let span = |d: usize| d * st + start..d * st + end;
        let near_p = self.mu[span(p)].iter().zip(&self.inv_sigma[span(p)]);
        match self.fast_dims.first() {
            Some(&d) => {
                let xd = key[d].0;
                let near_d = self.mu[span(d)].iter().zip(&self.inv_sigma[span(d)]);
                q.extend(near_p.zip(near_d).map(|((&m, &iv), (&md, &ivd))| {
                    let z = (x - m) * iv;
                    let zd = (xd - md) * ivd;
                    z * z + zd * zd
                }));
            }
            None => q.extend(near_p.map(|(&m, &iv)| {
                let z = (x - m) * iv;
                z * z
            })),
        }
        // The other continuous dims over the whole window too: once a search has
        // concentrated, most kernels of the window stay near in every dim, and plain
        // passes over contiguous memory beat packing the survivors after each dim.
        for &d in self.fast_dims.iter().skip(1) {
            let xd = key[d].0;
            let rows = self.mu[span(d)].iter().zip(&self.inv_sigma[span(d)]);
            for (qj, (&m, &iv)) in q.iter_mut().zip(rows) {
                let z = (xd - m) * iv;
                *qj += z * z;
            }
        }
        // Survivors packed (written unconditionally, kept by advancing the end: no branch
        // to mispredict).
        let mut idx = std::mem::take(&mut self.window_idx);
        idx.clear();
        idx.resize(q.len(), 0);
        let mut m = 0;
        for j in 0..q.len() {
            let qj = q[j];
            q[m] = qj;
            idx[m] = (start + j) as u32;
            m += usize::from(qj <= limit);
        }
        q.truncate(m);
        idx.truncate(m);
        for &d in &self.cell_dims {
            let (cell, mu, inv) = (key[d], &self.mu[d * st..], &self.inv_sigma[d * st..]);
            keep_near(&mut q, &mut idx, limit, |k| cell_gap(cell, mu[k]) * inv[k]);
        }
        visit.extend_from_slice(&idx);
        self.window_idx = idx;
        self.dist2 = q;
        let rest = wide[split..].iter().filter(|&&k| k as usize >= end);
        visit.extend(rest.filter(|&&k| wide_near(self, k as usize)));
        self.wide = wide;
    }

    /// Appends to `terms` the log term of each kernel in `visit` (weight plus every dim),
    /// leaving out kernels that fall to `floor` or below with the remaining dims at their
    /// peaks. Computed dim by dim over all kernels at once: the per-dim dispatch leaves
    /// the inner loops, and every kernel's sum is still accumulated in dim order.
    fn kernel_terms(
        &mut self,
        key: &[(f64, f64)],
        visit: &[u32],
        floor: f64,
        terms: &mut Vec<f64>,
    ) {
        let (n, st) = (self.n, self.stride);
        let mut acc = std::mem::take(&mut self.acc);
        let mut alive = std::mem::take(&mut self.alive);
        acc.clear();
        acc.extend(visit.iter().map(|&k| self.log_w[k as usize]));
        alive.clear();
        alive.resize(visit.len(), true);
        // A kernel is negligible when its term ends at or below `floor`. Checking that once
        // at the end leaves the same kernels as checking after every dim (each later term
        // is at most its dim's peak); only before a costly cell dim are the kernels that
        // cannot rise above the floor any more (with the remaining dims at their peaks)
        // set aside.
        let mut rest: f64 = self.peak.iter().sum();
        for (d, &peak) in self.peak.iter().enumerate() {
            let (a, b) = key[d];
            let mu = &self.mu[d * st..d * st + n];
            let sigma = &self.sigma[d * st..d * st + n];
            let inv_sigma = &self.inv_sigma[d * st..d * st + n];
            let log_norm = &self.log_norm[d * st..d * st + n];
            match self.terms[d] {
                // Every kernel in storage order (small estimators): contiguous, vectorizes.
                Term::Density if visit.len() == n => {
                    let rows = mu.iter().zip(inv_sigma).zip(log_norm);
                    for (((&m, &iv), &ln), t) in rows.zip(acc.iter_mut()) {
                        let z = (a - m) * iv;
                        *t += -0.5 * z * z - ln;
                    }
                }
                Term::Density => {
                    for (&k, t) in visit.iter().zip(acc.iter_mut()) {
                        let k = k as usize;
                        let z = (a - mu[k]) * inv_sigma[k];
                        *t += -0.5 * z * z - log_norm[k];
                    }
                }
                Term::Cell => {
                    for (t, live) in acc.iter().zip(alive.iter_mut()) {
                        *live &= !negligible(*t, rest, floor);
                    }
                    let kernels = visit.iter().zip(acc.iter_mut()).zip(&alive);
                    for ((&k, t), _) in kernels.filter(|(_, live)| **live) {
                        let k = k as usize;
                        let (m, s) = (mu[k], sigma[k]);
                        *t += log_mass((a - m) / s, (b - m) / s) - log_norm[k];
                    }
                }
                Term::Cat { own, other } => {
                    for (&k, t) in visit.iter().zip(acc.iter_mut()) {
                        *t += if mu[k as usize] == a { own } else { other };
                    }
                }
            }
            rest -= peak;
        }
        terms.extend(
            acc.iter()
                .zip(&alive)
                .filter(|&(&t, &live)| live && !negligible(t, 0.0, floor))
                .map(|(&t, _)| t),
        );
        self.acc = acc;
        self.alive = alive;
    }
}

impl Parzen {
    /// Writes to `terms` the log term (weight plus every dim) of each listed kernel at a
    /// candidate given by its score keys, leaving out those that provably end at or below
    /// `floor`; `kernels` are ascending storage positions.
    pub fn log_terms(
        &mut self,
        dims: &[DimModel],
        key: &[(f64, f64)],
        kernels: &[u32],
        floor: f64,
        terms: &mut Vec<f64>,
    ) {
        debug_assert!(kernels.windows(2).all(|w| w[0] < w[1]));
        for &k in kernels {
            if self.w_gen[k as usize] != self.generation {
                self.compute_norms(dims, k as usize);
            }
        }
        terms.clear();
        self.kernel_terms(key, kernels, floor, terms);
    }
}

/// Adds one dim's squared standardized distance `z(k)^2` to the partial sum `q` of each
/// kernel `k` in `idx`, and keeps those still within `limit` (packed in place, written
/// unconditionally and kept by advancing the end: no branch to mispredict).
fn keep_near(q: &mut Vec<f64>, idx: &mut Vec<u32>, limit: f64, z: impl Fn(usize) -> f64) {
    let mut m = 0;
    for j in 0..idx.len() {
        let k = idx[j] as usize;
        let zk = z(k);
        let qk = q[j] + zk * zk;
        q[m] = qk;
        idx[m] = k as u32;
        m += usize::from(qk <= limit);
    }
    q.truncate(m);
    idx.truncate(m);
}

/// How far a kernel's mean `mu` lies outside the cell `(a, b)` (0 inside it).
#[inline]
fn cell_gap((a, b): (f64, f64), mu: f64) -> f64 {
    fast_max(fast_max(a - mu, mu - b), 0.0)
}

/// Whether a kernel's log term `t` so far stays at or below `floor` even with the
/// remaining dims at their peaks (`rest`). A NaN term is not negligible: it must reach
/// the sum and poison the score rather than vanish.
#[inline]
fn negligible(t: f64, rest: f64, floor: f64) -> bool {
    t + rest <= floor
}

/// `ln(sum(exp(terms)) + exp(extra))`.
pub(crate) fn log_sum_exp(terms: &[f64], extra: f64) -> f64 {
    let max = max_of(terms).max(extra);
    if max == f64::NEG_INFINITY || max.is_nan() {
        return f64::NEG_INFINITY;
    }
    let s: f64 = terms.iter().map(|&t| (t - max).exp()).sum::<f64>() + (extra - max).exp();
    max + s.ln()
}

/// A direct-mapped memo of [`kernel_log_norm`], a pure function: the good-set estimator
/// is refitted on every suggestion with mostly the kernels of the last one, and each
/// normalizer costs two `erfc`. A hit returns the very value a computation would.
#[derive(Debug, Default)]
struct NormMemo {
    /// `(mu, sigma, lo, hi)` bits and the cell flag of the kernel each slot holds.
    slots: Vec<([u64; 4], bool, f64)>,
}

impl NormMemo {
    /// A power of two: the slot is the top bits of a multiplicative hash.
    const SLOTS: usize = 512;

    /// The log normalizer of the kernel `[mu, sigma, lo, hi]`.
    fn get(&mut self, kernel: [f64; 4], cell: bool) -> f64 {
        if self.slots.is_empty() {
            self.slots = vec![([u64::MAX; 4], false, f64::NAN); Self::SLOTS];
        }
        let key = kernel.map(f64::to_bits);
        let hash = key.iter().fold(u64::from(cell), |h, &k| {
            (h ^ k).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        });
        let slot = &mut self.slots[(hash >> (64 - Self::SLOTS.trailing_zeros())) as usize];
        if slot.0 != key || slot.1 != cell {
            let [mu, sigma, lo, hi] = kernel;
            *slot = (key, cell, kernel_log_norm(mu, sigma, lo, hi, cell));
        }
        slot.2
    }
}

/// The log normalizer of a kernel: its truncation mass inside `[lo, hi]`, and for
/// continuous dims also the Gaussian's own `sigma * sqrt(2 pi)`.
fn kernel_log_norm(mu: f64, sigma: f64, lo: f64, hi: f64, cell: bool) -> f64 {
    let za = (lo - mu) / sigma;
    let zb = (hi - mu) / sigma;
    // Beyond 9 sigma from both bounds the mass misses 1 by < 1e-19: skip the erfc calls.
    let log_z = if za < -9.0 && zb > 9.0 {
        0.0
    } else {
        log_mass(za, zb)
    };
    if cell {
        log_z
    } else {
        log_z + sigma.ln() + LN_SQRT_2PI
    }
}

/// `max` without `f64::max`'s NaN handling (one instruction): the second argument wins
/// when either is NaN.
#[inline]
fn fast_max(a: f64, b: f64) -> f64 {
    if a > b { a } else { b }
}

/// `min` without `f64::min`'s NaN handling (one instruction): the second argument wins
/// when either is NaN.
#[inline]
fn fast_min(a: f64, b: f64) -> f64 {
    if a < b { a } else { b }
}

/// The smallest of `xs` (`+inf` when empty; no NaN expected).
fn min_of(xs: &[f64]) -> f64 {
    fold_lanes(xs, f64::INFINITY, fast_min)
}

/// The largest of `xs` (`-inf` when empty), NaN left out as [`f64::max`] does.
fn max_of(xs: &[f64]) -> f64 {
    fold_lanes(xs, f64::NEG_INFINITY, |m, x| fast_max(x, m))
}

/// Folds `xs` with `keep(so_far, x)` in independent running lanes, so the loop
/// vectorizes; `keep` must not depend on the order (a min or a max).
#[inline]
fn fold_lanes(xs: &[f64], init: f64, keep: impl Fn(f64, f64) -> f64) -> f64 {
    let mut lanes = [init; 8];
    let chunks = xs.chunks_exact(8);
    let tail = chunks.remainder();
    for c in chunks {
        for (m, &x) in lanes.iter_mut().zip(c) {
            *m = keep(*m, x);
        }
    }
    lanes.iter().chain(tail).fold(init, |m, &x| keep(m, x))
}

/// Where [`bandwidths`] writes: each kernel's width and its inverse.
struct Widths<'a> {
    sigma: &'a mut [f64],
    inv: &'a mut [f64],
}

impl Widths<'_> {
    #[inline]
    fn set(&mut self, k: u32, s: f64) {
        self.sigma[k as usize] = s;
        self.inv[k as usize] = 1.0 / s;
    }
}

/// How wide the kernels of one real dim are, for a given number of kernels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct WidthRule {
    lo: f64,
    hi: f64,
    prior_mu: f64,
    /// The prior's width: no kernel is wider.
    scale: f64,
    /// No kernel is narrower (the magic clip and the minimum bandwidth).
    floor: f64,
    /// Scott's width shared by every kernel, under [`Bandwidth::Scott`].
    shared: Option<f64>,
}

impl WidthRule {
    /// The rule for `n` kernels of dim `dim` in a group of `n_numeric` real dims; `None`
    /// for a categorical dim.
    pub fn new(dim: &DimModel, n: usize, n_numeric: usize, cfg: &Tpe) -> Option<WidthRule> {
        let DimKind::Real {
            lo,
            hi,
            prior_mu,
            prior_sigma: scale,
            ..
        } = dim.kind
        else {
            return None;
        };
        let n_kernels = (n + 1) as f64;
        let mut floor = scale * cfg.min_bandwidth;
        if cfg.magic_clip {
            floor = floor.max(scale / (1.0 + n_kernels));
        }
        // Never zero: identical observations would otherwise make a Dirac kernel.
        let floor = floor.max(scale * 1e-9);
        let shared = (cfg.bandwidth == Bandwidth::Scott).then(|| {
            (0.2 * n_kernels.powf(-1.0 / (n_numeric as f64 + 4.0)) * scale).clamp(floor, scale)
        });
        Some(WidthRule {
            lo,
            hi,
            prior_mu,
            scale,
            floor,
            shared,
        })
    }

    /// Whether a kernel's width depends only on its neighbours, so inserting or removing
    /// a kernel changes the widths of its neighbours alone.
    pub fn is_local(&self) -> bool {
        self.shared.is_none()
    }

    /// The width of the kernel at position `r` of `sorted` (ascending located values) by
    /// a neighbour rule.
    pub fn width_at(&self, sorted: &[(f64, u32)], r: usize, cfg: &Tpe) -> f64 {
        if let Some(s) = self.shared {
            return s;
        }
        let n = sorted.len();
        let x = sorted[r].0;
        // Neighbours of the point in sorted order; None past the ends.
        let mut left = (r > 0).then(|| x - sorted[r - 1].0);
        let mut right = (r + 1 < n).then(|| sorted[r + 1].0 - x);
        if cfg.bandwidth == Bandwidth::HyperoptNeighbor {
            // hyperopt inserts the prior mean among the observations.
            let prior_mu = self.prior_mu;
            if prior_mu <= x && left.is_none_or(|l| x - prior_mu < l) {
                left = Some(x - prior_mu);
            }
            if prior_mu >= x && right.is_none_or(|g| prior_mu - x < g) {
                right = Some(prior_mu - x);
            }
        } else if cfg.consider_endpoints || n == 1 {
            if left.is_none() && self.lo.is_finite() {
                left = Some(x - self.lo);
            }
            if right.is_none() && self.hi.is_finite() {
                right = Some(self.hi - x);
            }
        }
        let s = match (left, right) {
            (Some(l), Some(g)) => l.max(g),
            (Some(l), None) => l,
            (None, Some(g)) => g,
            (None, None) => self.scale,
        };
        s.clamp(self.floor, self.scale)
    }
}

/// Per-kernel bandwidths of one real dim from its kernels in ascending order (`sorted`
/// as in [`Parzen::fit`]), written into `out` for kernel `k`.
fn bandwidths(sorted: &[(f64, u32)], rule: &WidthRule, cfg: &Tpe, mut out: Widths<'_>) {
    let n = sorted.len();
    let plain = cfg.bandwidth == Bandwidth::Neighbor && !cfg.consider_endpoints;
    if rule.is_local() && plain && n >= 2 {
        // The common case, without per-point branching: the extreme points take their
        // single inner gap, the others the larger of their two gaps. The same widths as
        // `width_at`: floor <= scale, so max-then-min is the clamp (without its checks).
        let clip = |s: f64| fast_min(fast_max(s, rule.floor), rule.scale);
        let mut left = sorted[1].0 - sorted[0].0;
        out.set(sorted[0].1, clip(left));
        for w in sorted.windows(3) {
            let right = w[2].0 - w[1].0;
            out.set(w[1].1, clip(fast_max(left, right)));
            left = right;
        }
        out.set(sorted[n - 1].1, clip(left));
        return;
    }
    for (r, &(_, k)) in sorted.iter().enumerate() {
        out.set(k, rule.width_at(sorted, r, cfg));
    }
}
