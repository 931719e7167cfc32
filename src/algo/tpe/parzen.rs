//! Parzen estimators: weighted mixtures of truncated Gaussian (and smoothed categorical)
//! product kernels, one kernel per observation plus a broad prior kernel.

use rand::RngExt;
use rand_distr::StandardNormal;

use super::math::{LN_SQRT_2PI, log_mass};
use super::{Bandwidth, Tpe};
use crate::rng::TrialRng;
use crate::space::{Dist, Param};

/// How a quantized or integer parameter maps a grid value to its cell.
#[derive(Debug, Clone, Copy)]
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
#[derive(Debug, Clone)]
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
#[derive(Debug, Clone)]
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

/// Relative error allowed in a density by skipping kernels: far below anything that can
/// change which candidate wins, while letting scoring skip kernels far from the candidate.
const LN_EPS: f64 = -27.631_021_115_928_547; // ln(1e-12)

/// Smallest truncation mass of a kernel centred inside its bounds with sigma at most the
/// range (`Phi(1) - 1/2`, rounded down): bounds the peak of any kernel's density.
const LN_MIN_MASS: f64 = -1.078_809_661_166_925; // ln(0.34)

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

/// A Parzen estimator over the dims of one group.
///
/// Kernel `k < n` sits on observation `k`; kernel `n` is the prior. Arrays are laid out
/// dim-major (`[d * n + k]`) and kernels are stored in ascending order of the pruning dim
/// (the first continuous dim), so scoring can binary-search the kernels near a candidate.
#[derive(Debug, Default)]
pub(crate) struct Parzen {
    n: usize,
    /// Raw weights by storage position; logs are taken only for kernels that are used.
    w: Vec<f64>,
    /// Normalized log weights, valid with the normalizers (see `norm_gen`).
    log_w: Vec<f64>,
    /// `ln` of the sum of all weights, prior included.
    ln_total: f64,
    /// Normalized log weight of the prior kernel.
    log_w_prior: f64,
    /// Cumulative raw weights for drawing a kernel, in row (chronological) order, so the
    /// draws do not depend on how kernels are stored.
    cum_w: Vec<f64>,
    /// Storage position of the kernel of each row.
    pos: Vec<u32>,
    mu: Vec<f64>,
    sigma: Vec<f64>,
    /// `1 / sigma`, for the distance filter.
    inv_sigma: Vec<f64>,
    /// Squared distances of the kernels in the current window (scratch).
    dist2: Vec<f64>,
    /// Kernels of the window still near after two dims, with their partial distance.
    survivors: Vec<(usize, f64)>,
    /// Per kernel and dim: the log normalizer subtracted from the kernel's log density
    /// (ln sigma + ln sqrt(2 pi) + ln Z for continuous dims, ln Z for cell-scored ones).
    /// Computed when a kernel is first used (most never come near a candidate): valid for
    /// kernel `k` when `norm_gen[k] == generation`.
    log_norm: Vec<f64>,
    norm_gen: Vec<u64>,
    generation: u64,
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
    prior_weight: f64,
}

impl Parzen {
    /// Fits the estimator to `n` observations. `sorted[d]` lists `(t, k)` for every kernel
    /// `k` in ascending order of its located value `t` in dim `d` (see [`DimModel::locate`]);
    /// when a dim is continuous, the first such dim must list kernels in order `0..n`.
    /// `weights[r]` is the raw weight of row `r`, whose kernel is stored at `pos[r]`.
    pub fn fit(
        &mut self,
        dims: &[DimModel],
        sorted: &[Vec<(f64, u32)>],
        weights: &[f64],
        pos: &[u32],
        cfg: &Tpe,
    ) {
        let n = weights.len();
        let nd = dims.len();
        self.n = n;
        self.prior_weight = cfg.prior_weight;

        let total: f64 = weights.iter().sum::<f64>() + cfg.prior_weight;
        self.cum_w.clear();
        // Every entry below n is overwritten, so only growth needs filling.
        self.w.resize(n, 0.0);
        self.log_w.resize(n, 0.0);
        let mut acc = 0.0;
        let mut max_w = 0.0f64;
        for (r, &w) in weights.iter().enumerate() {
            self.w[pos[r] as usize] = w;
            acc += w;
            max_w = fast_max(max_w, w);
            self.cum_w.push(acc);
        }
        self.cum_w.push(acc + cfg.prior_weight);
        self.ln_total = total.ln();
        self.log_w_prior = cfg.prior_weight.ln() - self.ln_total;
        self.max_log_w = max_w.ln() - self.ln_total;
        self.pos.clear();
        self.pos.extend_from_slice(pos);

        // Every entry is overwritten below (or computed lazily under a new generation),
        // so reused buffers are not cleared: at 10k trials the fills alone would cost
        // more than the rest of a suggestion.
        self.mu.resize(n * nd, 0.0);
        self.sigma.resize(n * nd, 0.0);
        self.inv_sigma.resize(n * nd, 0.0);
        self.log_norm.resize(n * nd, 0.0);
        self.norm_gen.resize(n, 0);
        self.generation += 1;
        self.prior_log_norm.clear();
        self.terms.clear();
        self.peak.clear();
        self.prune_dim = None;
        self.wide.clear();
        self.fast_dims.clear();

        let n_numeric = dims
            .iter()
            .filter(|d| matches!(d.kind, DimKind::Real { .. }))
            .count();
        for (d, dim) in dims.iter().enumerate() {
            let list = &sorted[d];
            debug_assert_eq!(list.len(), n);
            let mu = &mut self.mu[d * n..(d + 1) * n];
            for &(t, k) in list {
                mu[k as usize] = t;
            }
            match dim.kind {
                DimKind::Real {
                    lo,
                    hi,
                    prior_mu,
                    prior_sigma,
                    ..
                } => {
                    let out = Widths {
                        sigma: &mut self.sigma[d * n..(d + 1) * n],
                        inv: &mut self.inv_sigma[d * n..(d + 1) * n],
                    };
                    let min_sigma =
                        bandwidths(list, lo, hi, prior_mu, prior_sigma, n_numeric, cfg, out);
                    let sig = &self.sigma[d * n..(d + 1) * n];
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
                    if !cell && self.prune_dim.is_some() {
                        self.fast_dims.push(d);
                    }
                    if !cell && self.prune_dim.is_none() && n > 0 {
                        self.prune_dim = Some(d);
                        // Kernels at the bandwidth floor are the bulk once the history
                        // is long (neighbour gaps shrink below it); the few wider ones
                        // are checked individually.
                        self.narrow = min_sigma;
                        let narrow = self.narrow;
                        self.wide
                            .extend((0..n as u32).filter(|&k| sig[k as usize] > narrow));
                    }
                }
                DimKind::Cat { n: options } => {
                    let c = options as f64;
                    let pw = cfg.prior_weight;
                    let denom = (1.0 + pw).ln();
                    let own = (1.0 + pw / c).ln() - denom;
                    self.terms.push(Term::Cat {
                        own,
                        other: (pw / c).ln() - denom,
                    });
                    self.prior_log_norm.push(c.ln());
                    self.peak.push(own);
                }
            }
        }
    }

    /// Draws one point into `out` (value space, one entry per dim, not yet snapped).
    pub fn sample(&self, dims: &[DimModel], rng: &mut TrialRng, out: &mut [f64]) {
        let n = self.n;
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
                        (self.mu[d * n + k], self.sigma[d * n + k])
                    };
                    DimModel::draw_real(lo, hi, log, mu, sigma, rng)
                }
                DimKind::Cat { n: options } => {
                    let keep_own = k < n && rng.random::<f64>() * (1.0 + self.prior_weight) < 1.0;
                    if keep_own {
                        self.mu[d * n + k]
                    } else {
                        rng.random_range(0..options) as f64
                    }
                }
            };
        }
    }

    /// Computes the log weight of kernel `k` and its log normalizers in every numeric dim.
    fn compute_norms(&mut self, dims: &[DimModel], k: usize) {
        let n = self.n;
        self.log_w[k] = self.w[k].ln() - self.ln_total;
        for (d, dim) in dims.iter().enumerate() {
            if let DimKind::Real { lo, hi, .. } = dim.kind {
                let i = d * n + k;
                self.log_norm[i] =
                    kernel_log_norm(self.mu[i], self.sigma[i], lo, hi, dim.is_cell());
            }
        }
        self.norm_gen[k] = self.generation;
    }

    /// Log term of dim `d` of kernel `k` at score key `(a, b)`; its normalizers must be
    /// computed.
    #[inline]
    fn term(&self, d: usize, k: usize, (a, b): (f64, f64)) -> f64 {
        let i = d * self.n + k;
        match self.terms[d] {
            Term::Density => {
                let z = (a - self.mu[i]) / self.sigma[i];
                -0.5 * z * z - self.log_norm[i]
            }
            Term::Cell => {
                let (mu, sig) = (self.mu[i], self.sigma[i]);
                log_mass((a - mu) / sig, (b - mu) / sig) - self.log_norm[i]
            }
            Term::Cat { own, other } => {
                if self.mu[i] == a {
                    own
                } else {
                    other
                }
            }
        }
    }

    /// The log density (log mass for cell-scored dims) at a candidate given by its score
    /// keys (see [`DimModel::score_key`]), to a relative error below 1e-12.
    ///
    /// Kernels whose contribution provably stays below `1e-12 / (n + 1)` of the prior
    /// kernel's are skipped: with the kernels sorted in the pruning dim, only those within
    /// a bounded distance of the candidate there are visited at all.
    pub fn log_density(
        &mut self,
        dims: &[DimModel],
        key: &[(f64, f64)],
        terms: &mut Vec<f64>,
    ) -> f64 {
        let n = self.n;
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
        if n == 0 {
            return prior;
        }
        // Kernel terms at or below `floor` are negligible (see above).
        let floor = prior + LN_EPS - ((n + 1) as f64).ln();
        let peak_sum: f64 = self.peak.iter().sum();
        terms.clear();
        let eval = |this: &mut Parzen, k: usize, terms: &mut Vec<f64>| {
            if this.norm_gen[k] != this.generation {
                this.compute_norms(dims, k);
            }
            let mut t = this.log_w[k];
            let mut rest = peak_sum;
            for (d, &peak) in this.peak.iter().enumerate() {
                rest -= peak;
                t += this.term(d, k, key[d]);
                // Even at their peaks the remaining dims cannot lift it above the floor.
                if t + rest <= floor {
                    return;
                }
            }
            terms.push(t);
        };
        match self.prune_dim {
            Some(p) => {
                // z^2 beyond this makes the kernel negligible whatever the other dims say.
                let slack = self.max_log_w + peak_sum - floor;
                if slack <= 0.0 {
                    return prior;
                }
                let radius = (2.0 * slack).sqrt();
                let x = key[p].0;
                let reach = radius * self.narrow;
                let (start, end) = {
                    let mu = &self.mu[p * n..(p + 1) * n];
                    (
                        mu.partition_point(|&m| m < x - reach),
                        mu.partition_point(|&m| m <= x + reach),
                    )
                };
                // The same bound over all continuous dims at once: a kernel whose summed
                // squared distance exceeds `limit` is negligible. Checked with plain
                // arithmetic before the full evaluation, as most kernels in the window
                // are far from the candidate in some other dim.
                let limit = 2.0 * slack;
                let near = |this: &Parzen, k: usize| {
                    let z = (x - this.mu[p * n + k]) / this.sigma[p * n + k];
                    let mut q = z * z;
                    for &d in &this.fast_dims {
                        let z = (key[d].0 - this.mu[d * n + k]) / this.sigma[d * n + k];
                        q += z * z;
                        if q > limit {
                            return false;
                        }
                    }
                    q <= limit
                };
                // The window in bulk, dim by dim over contiguous memory (vectorizes).
                let mut q = std::mem::take(&mut self.dist2);
                q.clear();
                let span = |d: usize| d * n + start..d * n + end;
                q.extend(
                    self.mu[span(p)]
                        .iter()
                        .zip(&self.inv_sigma[span(p)])
                        .map(|(&m, &iv)| {
                            let z = (x - m) * iv;
                            z * z
                        }),
                );
                if let Some(&d) = self.fast_dims.first() {
                    let xd = key[d].0;
                    let rows = self.mu[span(d)].iter().zip(&self.inv_sigma[span(d)]);
                    for (qj, (&m, &iv)) in q.iter_mut().zip(rows) {
                        let z = (xd - m) * iv;
                        *qj += z * z;
                    }
                }
                // Two dims rule out most of the window: finish the survivors one by one.
                let mut survivors = std::mem::take(&mut self.survivors);
                survivors.clear();
                survivors.extend(
                    q.iter()
                        .enumerate()
                        .filter(|&(_, &qj)| qj <= limit)
                        .map(|(j, &qj)| (start + j, qj)),
                );
                for &(k, mut qk) in &survivors {
                    for &d in self.fast_dims.iter().skip(1) {
                        let z = (key[d].0 - self.mu[d * n + k]) * self.inv_sigma[d * n + k];
                        qk += z * z;
                    }
                    if qk <= limit {
                        eval(self, k, terms);
                    }
                }
                self.survivors = survivors;
                self.dist2 = q;
                let wide = std::mem::take(&mut self.wide);
                for &k in &wide {
                    let k = k as usize;
                    // Kernels inside the window were visited above.
                    if (k < start || k >= end) && near(self, k) {
                        eval(self, k, terms);
                    }
                }
                self.wide = wide;
            }
            None => {
                for k in 0..n {
                    eval(self, k, terms);
                }
            }
        }
        log_sum_exp(terms, prior)
    }
}

#[cfg(test)]
impl Parzen {
    /// The log density summed over every kernel, without skipping: the reference the
    /// pruned [`Parzen::log_density`] is tested against.
    pub fn log_density_brute_force(&mut self, dims: &[DimModel], key: &[(f64, f64)]) -> f64 {
        let mut prior_only = Vec::new();
        let n = self.n;
        let prior = {
            let saved = std::mem::replace(&mut self.n, 0);
            let p = self.log_density(dims, key, &mut prior_only);
            self.n = saved;
            p
        };
        let mut terms = Vec::with_capacity(n);
        for k in 0..n {
            self.compute_norms(dims, k);
            let mut t = self.log_w[k];
            for (d, &kd) in key.iter().enumerate() {
                t += self.term(d, k, kd);
            }
            terms.push(t);
        }
        log_sum_exp(&terms, prior)
    }
}

/// `ln(sum(exp(terms)) + exp(extra))`.
fn log_sum_exp(terms: &[f64], extra: f64) -> f64 {
    let max = terms.iter().copied().fold(extra, f64::max);
    if max == f64::NEG_INFINITY || max.is_nan() {
        return f64::NEG_INFINITY;
    }
    let s: f64 = terms.iter().map(|&t| (t - max).exp()).sum::<f64>() + (extra - max).exp();
    max + s.ln()
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

/// Per-kernel bandwidths of one numeric dim from its kernels in ascending order
/// (`sorted` as in [`Parzen::fit`]), written into `out` for kernel `k`; returns the
/// smallest (`+inf` without kernels).
#[allow(clippy::too_many_arguments)]
fn bandwidths(
    sorted: &[(f64, u32)],
    lo: f64,
    hi: f64,
    prior_mu: f64,
    scale: f64,
    n_numeric: usize,
    cfg: &Tpe,
    mut out: Widths<'_>,
) -> f64 {
    let n = sorted.len();
    if n == 0 {
        return f64::INFINITY;
    }
    let n_kernels = (n + 1) as f64;
    let mut floor = scale * cfg.min_bandwidth;
    if cfg.magic_clip {
        floor = floor.max(scale / (1.0 + n_kernels));
    }
    // Never zero: identical observations would otherwise make a Dirac kernel.
    let floor = floor.max(scale * 1e-9);
    if cfg.bandwidth == Bandwidth::Scott {
        let s = (0.2 * n_kernels.powf(-1.0 / (n_numeric as f64 + 4.0)) * scale).clamp(floor, scale);
        for &(_, k) in sorted {
            out.set(k, s);
        }
        return s;
    }
    let hyperopt = cfg.bandwidth == Bandwidth::HyperoptNeighbor;
    if !hyperopt && !cfg.consider_endpoints && n >= 2 {
        // The common case, without per-point branching: the extreme points take their
        // single inner gap, the others the larger of their two gaps.
        // floor <= scale, so max-then-min is the clamp (without its checks); a NaN gap
        // (impossible for located values) would become the floor.
        let clip = |s: f64| fast_min(fast_max(s, floor), scale);
        let mut left = sorted[1].0 - sorted[0].0;
        let mut min = clip(left);
        out.set(sorted[0].1, min);
        for w in sorted.windows(3) {
            let right = w[2].0 - w[1].0;
            let s = clip(fast_max(left, right));
            out.set(w[1].1, s);
            min = fast_min(min, s);
            left = right;
        }
        let last = clip(left);
        out.set(sorted[n - 1].1, last);
        return fast_min(min, last);
    }
    let mut min = f64::INFINITY;
    for r in 0..n {
        let x = sorted[r].0;
        // Neighbours of the point in sorted order; None past the ends.
        let mut left = (r > 0).then(|| x - sorted[r - 1].0);
        let mut right = (r + 1 < n).then(|| sorted[r + 1].0 - x);
        if hyperopt {
            // hyperopt inserts the prior mean among the observations.
            if prior_mu <= x && left.is_none_or(|l| x - prior_mu < l) {
                left = Some(x - prior_mu);
            }
            if prior_mu >= x && right.is_none_or(|g| prior_mu - x < g) {
                right = Some(prior_mu - x);
            }
        } else if cfg.consider_endpoints || n == 1 {
            if left.is_none() && lo.is_finite() {
                left = Some(x - lo);
            }
            if right.is_none() && hi.is_finite() {
                right = Some(hi - x);
            }
        }
        let s = match (left, right) {
            (Some(l), Some(g)) => l.max(g),
            (Some(l), None) => l,
            (None, Some(g)) => g,
            (None, None) => scale,
        };
        let s = s.clamp(floor, scale);
        out.set(sorted[r].1, s);
        min = min.min(s);
    }
    min
}
