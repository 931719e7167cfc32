//! Parzen estimators: weighted mixtures of truncated Gaussian (and smoothed categorical)
//! product kernels, one kernel per observation plus a broad prior kernel.

use rand::RngExt;
use rand_distr::StandardNormal;

use super::math::{LN_SQRT_2PI, log_add, log_mass};
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
            Dist::RandInt { low, high } => real(
                low as f64 - 0.5,
                high as f64 - 0.5,
                false,
                Some(Cells::Int),
            ),
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
                let t = if log { v.max(f64::MIN_POSITIVE).ln() } else { v };
                t.clamp(lo, hi)
            }
            DimKind::Cat { n } => v.round().clamp(0.0, (n - 1) as f64),
        }
    }

    /// What a candidate is scored on: `(t, _)` for a continuous value, its cell `(a, b)` in
    /// the transformed space for quantized and integer kinds, `(index, _)` for options.
    pub fn score_key(&self, v: f64) -> (f64, f64) {
        match self.kind {
            DimKind::Real {
                lo,
                hi,
                log,
                cells,
                ..
            } => {
                let tr = |u: f64| if log { u.max(f64::MIN_POSITIVE).ln() } else { u };
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

    /// Whether candidates are scored by cell mass.
    fn is_cell(&self) -> bool {
        matches!(
            self.kind,
            DimKind::Real {
                cells: Some(_),
                ..
            }
        )
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

/// A Parzen estimator over the dims of one group.
///
/// Kernel `k < n` sits on observation `k`; kernel `n` is the prior. Arrays are laid out
/// dim-major (`[d * n + k]`) so the scoring loop over kernels reads memory in order.
#[derive(Debug, Default)]
pub(crate) struct Parzen {
    n: usize,
    /// Normalized log weights, `n + 1` entries (prior last).
    log_w: Vec<f64>,
    /// Cumulative raw weights for drawing a kernel.
    cum_w: Vec<f64>,
    mu: Vec<f64>,
    sigma: Vec<f64>,
    /// Per kernel and dim: the log normalizer subtracted from the kernel's log density
    /// (ln sigma + ln sqrt(2 pi) + ln Z for continuous dims, ln Z for cell-scored ones).
    log_norm: Vec<f64>,
    /// The same for the prior kernel, per dim.
    prior_log_norm: Vec<f64>,
    /// Per categorical dim: log probability of the kernel's own option, and of any other.
    cat_logp: Vec<(f64, f64)>,
    prior_weight: f64,
}

impl Parzen {
    /// Fits the estimator to `n` observations given dim-major in `obs` (`obs[d * n + k]`,
    /// already located, see [`DimModel::locate`]) with raw weights `weights`.
    pub fn fit(&mut self, dims: &[DimModel], obs: &[f64], weights: &[f64], cfg: &Tpe) {
        let n = weights.len();
        let nd = dims.len();
        debug_assert_eq!(obs.len(), n * nd);
        self.n = n;
        self.prior_weight = cfg.prior_weight;

        let total: f64 = weights.iter().sum::<f64>() + cfg.prior_weight;
        self.log_w.clear();
        self.cum_w.clear();
        let mut acc = 0.0;
        for &w in weights.iter().chain(std::iter::once(&cfg.prior_weight)) {
            self.log_w.push((w / total).ln());
            acc += w;
            self.cum_w.push(acc);
        }

        self.mu.clear();
        self.mu.extend_from_slice(obs);
        self.sigma.clear();
        self.sigma.resize(n * nd, 0.0);
        self.log_norm.clear();
        self.log_norm.resize(n * nd, 0.0);
        self.prior_log_norm.clear();
        self.cat_logp.clear();

        let n_numeric = dims
            .iter()
            .filter(|d| matches!(d.kind, DimKind::Real { .. }))
            .count();
        let mut order: Vec<usize> = Vec::with_capacity(n);
        for (d, dim) in dims.iter().enumerate() {
            let mu = &self.mu[d * n..(d + 1) * n];
            match dim.kind {
                DimKind::Real {
                    lo,
                    hi,
                    prior_mu,
                    prior_sigma,
                    ..
                } => {
                    let sig = &mut self.sigma[d * n..(d + 1) * n];
                    bandwidths(mu, lo, hi, prior_mu, prior_sigma, n_numeric, cfg, &mut order, sig);
                    let cell = dim.is_cell();
                    let norm = &mut self.log_norm[d * n..(d + 1) * n];
                    for k in 0..n {
                        norm[k] = kernel_log_norm(mu[k], sig[k], lo, hi, cell);
                    }
                    self.prior_log_norm
                        .push(kernel_log_norm(prior_mu, prior_sigma, lo, hi, cell));
                }
                DimKind::Cat { n: options } => {
                    let c = options as f64;
                    let pw = cfg.prior_weight;
                    let denom = (1.0 + pw).ln();
                    self.cat_logp
                        .push(((1.0 + pw / c).ln() - denom, (pw / c).ln() - denom));
                    self.prior_log_norm.push(c.ln());
                }
            }
        }
    }

    /// Draws one point into `out` (value space, one entry per dim, not yet snapped).
    pub fn sample(&self, dims: &[DimModel], rng: &mut TrialRng, out: &mut [f64]) {
        let n = self.n;
        let total = self.cum_w[n];
        let u = rng.random::<f64>() * total;
        let k = self.cum_w.partition_point(|&c| c <= u).min(n);
        let mut cat = 0;
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
                    cat += 1;
                    let keep_own = k < n && rng.random::<f64>() * (1.0 + self.prior_weight) < 1.0;
                    if keep_own {
                        self.mu[d * n + k]
                    } else {
                        rng.random_range(0..options) as f64
                    }
                }
            };
        }
        debug_assert_eq!(cat, self.cat_logp.len());
    }

    /// The log density (log mass for cell-scored dims) at a candidate given by its score
    /// keys (see [`DimModel::score_key`]).
    pub fn log_density(&self, dims: &[DimModel], key: &[(f64, f64)], scratch: &mut Vec<f64>) -> f64 {
        let n = self.n;
        // Accumulate each kernel's log term dim by dim; kernels are independent, so the
        // inner loop over k vectorizes for continuous dims.
        scratch.clear();
        scratch.extend_from_slice(&self.log_w[..n]);
        let mut prior = self.log_w[n];
        let mut cat = 0;
        for (d, dim) in dims.iter().enumerate() {
            let (a, b) = key[d];
            let mu = &self.mu[d * n..(d + 1) * n];
            let sig = &self.sigma[d * n..(d + 1) * n];
            let norm = &self.log_norm[d * n..(d + 1) * n];
            match dim.kind {
                DimKind::Real {
                    prior_mu,
                    prior_sigma,
                    ..
                } => {
                    if dim.is_cell() {
                        for k in 0..n {
                            scratch[k] +=
                                log_mass((a - mu[k]) / sig[k], (b - mu[k]) / sig[k]) - norm[k];
                        }
                        prior += log_mass((a - prior_mu) / prior_sigma, (b - prior_mu) / prior_sigma)
                            - self.prior_log_norm[d];
                    } else {
                        for k in 0..n {
                            let z = (a - mu[k]) / sig[k];
                            scratch[k] += -0.5 * z * z - norm[k];
                        }
                        let z = (a - prior_mu) / prior_sigma;
                        prior += -0.5 * z * z - self.prior_log_norm[d];
                    }
                }
                DimKind::Cat { .. } => {
                    let (own, other) = self.cat_logp[cat];
                    cat += 1;
                    for k in 0..n {
                        scratch[k] += if mu[k] == a { own } else { other };
                    }
                    prior -= self.prior_log_norm[d];
                }
            }
        }
        log_sum_exp(scratch, prior)
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
    // Far from both bounds the mass is 1 to double precision: skip the erfc calls.
    let log_z = if za < -40.0 && zb > 40.0 {
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

/// Per-kernel bandwidths of one numeric dim, written into `out`.
#[allow(clippy::too_many_arguments)]
fn bandwidths(
    mu: &[f64],
    lo: f64,
    hi: f64,
    prior_mu: f64,
    scale: f64,
    n_numeric: usize,
    cfg: &Tpe,
    order: &mut Vec<usize>,
    out: &mut [f64],
) {
    let n = mu.len();
    if n == 0 {
        return;
    }
    let n_kernels = (n + 1) as f64;
    let mut floor = scale * cfg.min_bandwidth;
    if cfg.magic_clip {
        floor = floor.max(scale / (1.0 + n_kernels));
    }
    // Never zero: identical observations would otherwise make a Dirac kernel.
    let floor = floor.max(scale * 1e-9);
    match cfg.bandwidth {
        Bandwidth::Scott => {
            let s = 0.2 * n_kernels.powf(-1.0 / (n_numeric as f64 + 4.0)) * scale;
            out.fill(s.clamp(floor, scale));
            return;
        }
        Bandwidth::Neighbor | Bandwidth::HyperoptNeighbor => {}
    }
    order.clear();
    order.extend(0..n);
    order.sort_unstable_by(|&i, &j| mu[i].total_cmp(&mu[j]));
    let at = |r: usize| mu[order[r]];
    let hyperopt = matches!(cfg.bandwidth, Bandwidth::HyperoptNeighbor);
    for r in 0..n {
        let x = at(r);
        // Neighbours of the point in sorted order; None past the ends.
        let mut left = (r > 0).then(|| x - at(r - 1));
        let mut right = (r + 1 < n).then(|| at(r + 1) - x);
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
        out[order[r]] = s.clamp(floor, scale);
    }
}
