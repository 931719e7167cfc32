//! The Gaussian process: training data, the kernel's hyperparameters fitted by maximum a
//! posteriori (marginal likelihood times weak priors), and the factorization the
//! posterior is computed from.
//!
//! Hyperparameters are kept as one vector `theta` of unconstrained numbers:
//! `ln rho_d` for each dimension (inverse squared length scales), `ln s` (signal variance)
//! and `ln(noise - MIN_NOISE)`. The priors are optuna's (the same families and constants,
//! in our own formulation): on each `rho`, density `exp(-(0.1 / rho + 0.1 rho))`, which
//! favours length scales near the unit cube's size and penalizes both extremes softly; on
//! `s`, Gamma(2, 1); on the noise, Gamma(1.1, 30), which keeps it small unless the data
//! insist. Observations are standardized, so these scales mean the same on any problem.

use faer::dyn_stack::{MemBuffer, MemStack, StackReq};
use faer::linalg::cholesky::llt;
use faer::linalg::triangular_solve;
use faer::{Accum, MatMut, MatRef, Par};

use super::dims::Dim;
use super::kernel::{accumulate, delta, matern52};
use super::lbfgs::{Lbfgs, Stop};

/// The smallest noise variance (of standardized observations): keeps the kernel matrix
/// well conditioned when points repeat, and is the noise of a deterministic objective.
pub(super) const MIN_NOISE: f64 = 1e-6;

/// Bounds of `ln rho`, `ln s` and the raw noise parameter: far outside where the priors
/// put any weight, only there so that no search wanders into overflow.
const LOG_RHO: (f64, f64) = (-12.0, 12.0);
const LOG_SIGNAL: (f64, f64) = (-12.0, 12.0);
const RAW_NOISE: (f64, f64) = (-30.0, 5.0);

/// How hard the hyperparameters are fitted: optuna's tolerance on the gradient, or an
/// iteration that gains less than 1e-5 of the value (about 1e-3 nats at 100 trials: the
/// hyperparameters no longer move in a way that changes the model).
const FIT: Stop = Stop {
    max_iter: 200,
    gtol: 1e-2,
    ftol: 1e-5,
};

/// `ln(2 pi) / 2`.
const HALF_LN_2PI: f64 = 0.918_938_533_204_672_8;

/// The hyperparameters where a fit without a better start begins: unit length scales,
/// unit signal, and noise 1 (the fit lowers it at once when the data are smooth).
pub(super) fn default_theta(dims: usize) -> Vec<f64> {
    let mut theta = vec![0.0; dims + 2];
    theta[dims + 1] = (1.0 - MIN_NOISE).ln();
    theta
}

/// faer's scratch memory.
struct Scratch(MemBuffer);

impl Default for Scratch {
    fn default() -> Self {
        Scratch(MemBuffer::new(StackReq::EMPTY))
    }
}

/// A Gaussian process over the unit-scaled features of the modelled dimensions.
#[derive(Default)]
pub(super) struct Model {
    /// Number of training points and of dimensions.
    pub n: usize,
    pub dims: usize,
    /// Per dimension: compared by a Hamming distance.
    pub categorical: Vec<bool>,
    /// Training features, dimension-major: value of point `i` in dimension `d` at
    /// `d * n + i`.
    pub xs: Vec<f64>,
    /// Training targets (standardized, lower is better).
    pub y: Vec<f64>,
    /// Inverse squared length scales and signal variance of the last conditioning.
    pub rho: Vec<f64>,
    pub signal: f64,
    /// The Cholesky factor `L` of `K + noise I` (lower triangle, column-major `n x n`).
    pub chol: Vec<f64>,
    /// `(K + noise I)^-1 y`.
    pub alpha: Vec<f64>,
    /// `(K + noise I)^-1`, both triangles (column-major `n x n`).
    pub inv: Vec<f64>,
    /// Whether the noise is held at [`MIN_NOISE`].
    noise_free: bool,
    /// Per dimension, per pair `i < j` (column `i`, rows `j > i`, in order): `delta_d`.
    deltas: Vec<f64>,
    /// Per pair: `t`, `m(t)`, `m'(t)`.
    t: Vec<f64>,
    m: Vec<f64>,
    dm: Vec<f64>,
    /// Hyperparameters of the conditioning held in `chol`, `alpha` and `inv`, when
    /// `conditioned` (an objective evaluation leaves its factorization there too).
    conditioned_on: Vec<f64>,
    conditioned: bool,
    /// faer's scratch space, sized for `mem_for` points.
    mem: Scratch,
    mem_for: usize,
    lo: Vec<f64>,
    hi: Vec<f64>,
}

impl Model {
    /// Holds the noise at its floor (a deterministic objective) or fits it.
    pub fn set_noise_free(&mut self, on: bool) {
        self.noise_free = on;
    }

    /// Replaces the training data: `rows` holds `n` points of `dims.len()` features each
    /// (row-major), `y` their targets.
    pub fn set_data(&mut self, dims: &[Dim], rows: &[f64], y: &[f64]) {
        let (n, nd) = (y.len(), dims.len());
        debug_assert_eq!(rows.len(), n * nd);
        self.n = n;
        self.dims = nd;
        self.categorical.clear();
        self.categorical
            .extend(dims.iter().map(Dim::is_categorical));
        self.y.clear();
        self.y.extend_from_slice(y);
        self.xs.clear();
        self.xs.resize(n * nd, 0.0);
        for i in 0..n {
            for d in 0..nd {
                self.xs[d * n + i] = rows[i * nd + d];
            }
        }
        let pairs = n * n.saturating_sub(1) / 2;
        self.deltas.clear();
        self.deltas.reserve(pairs * nd);
        for d in 0..nd {
            let (col, cat) = (&self.xs[d * n..(d + 1) * n], self.categorical[d]);
            for i in 0..n {
                for j in i + 1..n {
                    self.deltas.push(delta(col[i], col[j], cat));
                }
            }
        }
        for buf in [&mut self.t, &mut self.m, &mut self.dm] {
            buf.clear();
            buf.resize(pairs, 0.0);
        }
        for buf in [&mut self.chol, &mut self.inv] {
            buf.clear();
            buf.resize(n * n, 0.0);
        }
        self.alpha.clear();
        self.alpha.resize(n, 0.0);
        if self.mem_for < n {
            let req = StackReq::any_of(&[
                llt::factor::cholesky_in_place_scratch::<f64>(n, Par::Seq, Default::default()),
                llt::inverse::inverse_scratch::<f64>(n, Par::Seq),
            ]);
            self.mem = Scratch(MemBuffer::new(req));
            self.mem_for = n;
        }
        self.conditioned = false;
    }

    /// The noise variance of `theta`.
    fn noise(&self, theta: &[f64]) -> f64 {
        if self.noise_free {
            MIN_NOISE
        } else {
            MIN_NOISE + theta[self.dims + 1].exp()
        }
    }

    /// Factors `K + noise I` at `theta` into `chol`, solves for `alpha` and forms `inv`:
    /// conditions the model on `theta`. `false` when the matrix is not positive definite.
    fn factor(&mut self, theta: &[f64]) -> bool {
        self.conditioned = false;
        self.conditioned_on.clear();
        self.conditioned_on.extend_from_slice(theta);
        let (n, nd) = (self.n, self.dims);
        let pairs = self.t.len();
        self.rho.clear();
        self.rho.extend(theta[..nd].iter().map(|l| l.exp()));
        self.signal = theta[nd].exp();
        self.t.fill(0.0);
        for d in 0..nd {
            let (rho, deltas) = (self.rho[d], &self.deltas[d * pairs..(d + 1) * pairs]);
            for (t, &dl) in self.t.iter_mut().zip(deltas) {
                *t += rho * dl;
            }
        }
        for p in 0..pairs {
            (self.m[p], self.dm[p]) = matern52(self.t[p]);
        }
        let (s, diag) = (self.signal, self.signal + self.noise(theta));
        let mut p = 0;
        for i in 0..n {
            self.chol[i * n + i] = diag;
            for j in i + 1..n {
                self.chol[i * n + j] = s * self.m[p];
                p += 1;
            }
        }
        let mut l = MatMut::from_column_major_slice_mut(&mut self.chol, n, n);
        let stack = MemStack::new(&mut self.mem.0);
        if llt::factor::cholesky_in_place(
            l.as_mut(),
            Default::default(),
            Par::Seq,
            stack,
            Default::default(),
        )
        .is_err()
        {
            return false;
        }
        self.alpha.copy_from_slice(&self.y);
        let l = MatRef::from_column_major_slice(&self.chol, n, n);
        let mut a = MatMut::from_column_major_slice_mut(&mut self.alpha, n, 1);
        triangular_solve::solve_lower_triangular_in_place(l, a.as_mut(), Par::Seq);
        triangular_solve::solve_upper_triangular_in_place(l.transpose(), a, Par::Seq);
        let out = MatMut::from_column_major_slice_mut(&mut self.inv, n, n);
        llt::inverse::inverse(out, l, Par::Seq, MemStack::new(&mut self.mem.0));
        for i in 0..n {
            for j in i + 1..n {
                self.inv[j * n + i] = self.inv[i * n + j];
            }
        }
        self.conditioned = true;
        true
    }

    /// The negative log posterior of `theta` (up to a constant) and its gradient.
    /// `+inf` when the kernel matrix is not positive definite.
    pub fn neg_log_posterior(&mut self, theta: &[f64], grad: &mut [f64]) -> f64 {
        let (n, nd) = (self.n, self.dims);
        if !self.factor(theta) {
            grad.fill(0.0);
            return f64::INFINITY;
        }
        let (s, noise) = (self.signal, self.noise(theta));
        let mut value = n as f64 * HALF_LN_2PI;
        for i in 0..n {
            value += 0.5 * self.y[i] * self.alpha[i] + self.chol[i * n + i].ln();
        }
        // d/dp of the negative log likelihood is -1/2 tr(W dK/dp), W = alpha alpha' - K^-1.
        // Off-diagonal entries of W, weighted by the kernel's derivatives.
        let mut trace_w = 0.0;
        let mut w_m = 0.0;
        let mut p = 0;
        for i in 0..n {
            trace_w += self.alpha[i] * self.alpha[i] - self.inv[i * n + i];
            for j in i + 1..n {
                let w = self.alpha[i] * self.alpha[j] - self.inv[i * n + j];
                w_m += w * self.m[p];
                // Reuse `t` for w * m'(t): the distances are not needed any more.
                self.t[p] = w * self.dm[p];
                p += 1;
            }
        }
        let pairs = self.t.len();
        for (d, (g, &rho)) in grad[..nd].iter_mut().zip(&self.rho).enumerate() {
            let deltas = &self.deltas[d * pairs..(d + 1) * pairs];
            let sum: f64 = self.t.iter().zip(deltas).map(|(w, dl)| w * dl).sum();
            *g = -s * rho * sum;
        }
        grad[nd] = -0.5 * s * (trace_w + 2.0 * w_m);
        grad[nd + 1] = if self.noise_free {
            0.0
        } else {
            -0.5 * (noise - MIN_NOISE) * trace_w
        };
        // Priors (negative log densities and their derivatives in theta).
        for (g, &rho) in grad[..nd].iter_mut().zip(&self.rho) {
            value += 0.1 / rho + 0.1 * rho;
            *g += 0.1 * rho - 0.1 / rho;
        }
        value += s - s.ln();
        grad[nd] += s - 1.0;
        if !self.noise_free {
            value += 30.0 * noise - 0.1 * noise.ln();
            grad[nd + 1] += (30.0 - 0.1 / noise) * (noise - MIN_NOISE);
        }
        value
    }

    /// Fits the hyperparameters from `theta` (updated in place) by L-BFGS on the negative
    /// log posterior, then conditions the model on them. `lbfgs` carries the curvature of
    /// the previous fit, a good start when the data changed little. Falls back to the
    /// defaults when the start is not usable; `false` when no hyperparameters give a
    /// usable model.
    pub fn fit(&mut self, theta: &mut Vec<f64>, lbfgs: &mut Lbfgs) -> bool {
        let nd = self.dims;
        if theta.len() != nd + 2 {
            *theta = default_theta(nd);
        }
        self.lo.clear();
        self.hi.clear();
        self.lo.resize(nd, LOG_RHO.0);
        self.hi.resize(nd, LOG_RHO.1);
        self.lo.push(LOG_SIGNAL.0);
        self.hi.push(LOG_SIGNAL.1);
        if self.noise_free {
            // Held where it is: the noise is not fitted.
            self.lo.push(theta[nd + 1]);
            self.hi.push(theta[nd + 1]);
        } else {
            self.lo.push(RAW_NOISE.0);
            self.hi.push(RAW_NOISE.1);
        }
        let (lo, hi) = (std::mem::take(&mut self.lo), std::mem::take(&mut self.hi));
        let mut ok = lbfgs
            .minimize(theta, &lo, &hi, FIT, |x, g| self.neg_log_posterior(x, g))
            .value
            .is_finite();
        if !ok {
            *theta = default_theta(nd);
            lbfgs.forget();
            ok = lbfgs
                .minimize(theta, &lo, &hi, FIT, |x, g| self.neg_log_posterior(x, g))
                .value
                .is_finite();
        }
        (self.lo, self.hi) = (lo, hi);
        ok && self.condition(theta)
    }

    /// Conditions the model on its data with hyperparameters `theta`: the factorization
    /// predictions use. `false` when the kernel matrix is not positive definite.
    pub fn condition(&mut self, theta: &[f64]) -> bool {
        (self.conditioned && self.conditioned_on == theta) || self.factor(theta)
    }

    /// Writes `t_i = sum_d rho_d delta_d(u_d, x_id)` for every training point `i`.
    pub fn distances(&self, u: &[f64], t: &mut [f64]) {
        let n = self.n;
        t.fill(0.0);
        for (d, &ud) in u.iter().enumerate().take(self.dims) {
            let xs = &self.xs[d * n..(d + 1) * n];
            accumulate(t, xs, ud, self.rho[d], self.categorical[d]);
        }
    }

    /// The posterior mean at `u`, with `t` as scratch (`n` entries).
    pub fn mean(&self, u: &[f64], t: &mut [f64]) -> f64 {
        self.distances(u, t);
        t.iter()
            .zip(&self.alpha)
            .map(|(&t, a)| self.signal * matern52(t).0 * a)
            .sum()
    }

    /// `out = inv * v` (a symmetric matrix-vector product).
    pub fn inv_times(&self, v: &[f64], out: &mut [f64]) {
        let n = self.n;
        faer::linalg::matmul::matmul(
            MatMut::from_column_major_slice_mut(out, n, 1),
            Accum::Replace,
            MatRef::from_column_major_slice(&self.inv, n, n),
            MatRef::from_column_major_slice(v, n, 1),
            1.0,
            Par::Seq,
        );
    }

    /// Solves `L v = b` in place for the columns of `b` (`n x cols`, column-major).
    pub fn solve_lower(&self, b: &mut [f64], cols: usize) {
        let n = self.n;
        triangular_solve::solve_lower_triangular_in_place(
            MatRef::from_column_major_slice(&self.chol, n, n),
            MatMut::from_column_major_slice_mut(b, n, cols),
            Par::Seq,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::Space;

    /// A model of `n` points in a 2-D space of one real and one categorical dimension.
    fn model(n: usize) -> (Model, Vec<Dim>) {
        let space = Space::builder()
            .uniform("x", 0.0, 1.0)
            .uniform("w", 0.0, 1.0)
            .choice("c", ["a", "b", "c"])
            .build()
            .expect("valid");
        let dims = super::super::dims::dims(&space);
        let mut rows = Vec::new();
        let mut y = Vec::new();
        for i in 0..n {
            let f = i as f64 / n as f64;
            rows.extend([f, (f * 7.3).fract(), (i % 3) as f64]);
            y.push((6.0 * f).sin() + 0.3 * (i % 3) as f64);
        }
        let mut m = Model::default();
        m.set_data(&dims, &rows, &y);
        (m, dims)
    }

    #[test]
    fn the_gradient_of_the_log_posterior_matches_finite_differences() {
        for noise_free in [false, true] {
            let (mut m, _) = model(9);
            m.set_noise_free(noise_free);
            let theta = [0.3, -0.7, 1.1, -0.2, -2.0];
            let mut grad = [0.0; 5];
            let f0 = m.neg_log_posterior(&theta, &mut grad);
            assert!(f0.is_finite());
            for k in 0..theta.len() {
                let h = 1e-6;
                let mut scratch = [0.0; 5];
                let (mut up, mut down) = (theta, theta);
                up[k] += h;
                down[k] -= h;
                let numeric = (m.neg_log_posterior(&up, &mut scratch)
                    - m.neg_log_posterior(&down, &mut scratch))
                    / (2.0 * h);
                assert!(
                    (numeric - grad[k]).abs() < 1e-5 * numeric.abs().max(1.0),
                    "noise_free {noise_free}, theta[{k}]: {numeric} vs {}",
                    grad[k]
                );
            }
        }
    }

    #[test]
    fn fitting_lowers_the_negative_log_posterior_and_conditions_the_model() {
        let (mut m, _) = model(12);
        let mut theta = default_theta(3);
        let mut g = [0.0; 5];
        let before = m.neg_log_posterior(&theta, &mut g);
        assert!(m.fit(&mut theta, &mut Lbfgs::default()));
        let after = m.neg_log_posterior(&theta, &mut g);
        assert!(after < before - 1.0, "{before} -> {after}");
        // At the optimum the projected gradient is small.
        assert!(g.iter().all(|g| g.abs() < 0.05), "{g:?}");
        assert!(m.condition(&theta));
        // A smooth function of x: the noise is fitted small.
        assert!(m.noise(&theta) < 0.05, "{theta:?}");
    }

    #[test]
    fn the_posterior_matches_a_hand_computed_one_dimensional_case() {
        // Two observations at 0 and 1 of a 1-D real dimension, unit length scale and
        // signal, noise at its floor: K = [[1 + e, k], [k, 1 + e]], k = m(1).
        let space = Space::builder()
            .uniform("x", 0.0, 1.0)
            .build()
            .expect("valid");
        let dims = super::super::dims::dims(&space);
        let mut m = Model::default();
        m.set_noise_free(true);
        m.set_data(&dims, &[0.0, 1.0], &[1.0, -1.0]);
        let theta = [0.0, 0.0, 0.0];
        assert!(m.condition(&theta));
        let k = matern52(1.0).0;
        let d = 1.0 + MIN_NOISE;
        // alpha = K^-1 y = (1, -1) / (d - k) by symmetry.
        assert!((m.alpha[0] - 1.0 / (d - k)).abs() < 1e-12);
        assert!((m.alpha[1] + 1.0 / (d - k)).abs() < 1e-12);
        // At the midpoint both kernels are m(1/4): the mean is 0 by symmetry and the
        // variance 1 - 2 m(1/4)^2 / (d + k).
        let mut t = [0.0; 2];
        assert!(m.mean(&[0.5], &mut t).abs() < 1e-12);
        let half = matern52(0.25).0;
        let kx = [half, half];
        let mut ik = [0.0; 2];
        m.inv_times(&kx, &mut ik);
        let var = 1.0 - (kx[0] * ik[0] + kx[1] * ik[1]);
        assert!((var - (1.0 - 2.0 * half * half / (d + k))).abs() < 1e-12);
        // At an observation the mean is (nearly) the observation.
        assert!((m.mean(&[0.0], &mut t) - 1.0).abs() < 1e-5);
    }
}
