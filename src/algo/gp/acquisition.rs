//! Log expected improvement, stable however small the improvement is.
//!
//! With posterior `N(mu, sigma^2)` at a point and the best standardized observation `best`
//! (lower is better), `EI = sigma * h(z)` where `z = (best - mu) / sigma` and
//! `h(z) = z Phi(z) + phi(z)`. Far from the data `h` underflows long before the
//! optimizer has a reason to give up, and its gradient vanishes with it, so the search
//! works with `ln EI` (Ament et al., "Unexpected improvements to expected improvement",
//! 2023): `ln h` is computed directly where it is well conditioned and from its asymptotic
//! series in the far tail; the gradient uses `d ln h / dz = Phi(z) / h(z)`, a ratio of two
//! logs, so both stay finite for any `z`.

use super::super::tpe::math::{LN_SQRT_2PI, log_ndtr};
use super::kernel::matern52;
use super::model::Model;

/// Where `ln h` switches to its asymptotic series (the direct formula loses about
/// `2 log10 |z|` digits to cancellation; the series' error is below 1e-9 from here on).
const TAIL: f64 = -20.0;

/// Added to every posterior variance so that the standard deviation never reaches 0.
const MIN_VAR: f64 = 1e-12;

/// Candidates evaluated together in [`LogEi::batch`].
const CHUNK: usize = 64;

/// `ln(z Phi(z) + phi(z))`: the log expected improvement of a standard normal over `-z`.
pub(super) fn log_h(z: f64) -> f64 {
    if z >= TAIL {
        let phi = (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt();
        let cdf = 0.5 * libm::erfc(-z * std::f64::consts::FRAC_1_SQRT_2);
        (z * cdf + phi).ln()
    } else {
        // h(z) = phi(z) / z^2 * (1 - 3 / z^2 + 15 / z^4 - 105 / z^6 + 945 / z^8 - ...)
        let r = 1.0 / (z * z);
        let series = 1.0 - 3.0 * r * (1.0 - 5.0 * r * (1.0 - 7.0 * r * (1.0 - 9.0 * r)));
        -0.5 * z * z - LN_SQRT_2PI - 2.0 * (-z).ln() + series.ln()
    }
}

/// `ln EI` at posterior mean `mu` and variance `var` (floored), and the derivatives of
/// `ln EI` in `mu` and in `var`.
fn log_ei(best: f64, mu: f64, var: f64) -> (f64, f64, f64) {
    let var = var.max(0.0) + MIN_VAR;
    let sigma = var.sqrt();
    let z = (best - mu) / sigma;
    let lh = log_h(z);
    // Phi(z) / h(z), computed in logs so that it stays finite in the far tail (~ -z).
    let ratio = (log_ndtr(z) - lh).exp();
    (
        lh + sigma.ln(),
        -ratio / sigma,
        (1.0 - z * ratio) / (2.0 * var),
    )
}

/// Evaluates `ln EI` of a conditioned [`Model`], with buffers reused between calls.
#[derive(Debug, Default)]
pub(super) struct LogEi {
    /// The best (lowest) standardized observation.
    pub best: f64,
    t: Vec<f64>,
    k: Vec<f64>,
    dk: Vec<f64>,
    ik: Vec<f64>,
    batch: Vec<f64>,
}

impl LogEi {
    /// `ln EI` at features `u`. With `grad`, also writes its derivative in `u_d` for every
    /// `d` in `wrt` (dimensions that are not categorical).
    pub fn eval(&mut self, model: &Model, u: &[f64], grad: Option<(&[usize], &mut [f64])>) -> f64 {
        let n = model.n;
        let s = model.signal;
        for buf in [&mut self.t, &mut self.k, &mut self.dk, &mut self.ik] {
            buf.resize(n, 0.0);
        }
        model.distances(u, &mut self.t);
        let mut mu = 0.0;
        for i in 0..n {
            let (m, dm) = matern52(self.t[i]);
            self.k[i] = s * m;
            self.dk[i] = s * dm;
            mu += self.k[i] * model.alpha[i];
        }
        model.inv_times(&self.k, &mut self.ik);
        let quad: f64 = self.k.iter().zip(&self.ik).map(|(a, b)| a * b).sum();
        let (value, d_mu, d_var) = log_ei(self.best, mu, s - quad);
        if let Some((wrt, grad)) = grad {
            // d mu / dk = alpha, d var / dk = -2 K^-1 k; dk_i / du_d = m'(t_i) 2 rho_d (u_d - x_id).
            for i in 0..n {
                self.t[i] = (d_mu * model.alpha[i] - 2.0 * d_var * self.ik[i]) * self.dk[i];
            }
            for (&d, g) in wrt.iter().zip(grad.iter_mut()) {
                let xs = &model.xs[d * n..(d + 1) * n];
                let sum: f64 = self.t.iter().zip(xs).map(|(c, &x)| c * (u[d] - x)).sum();
                *g = 2.0 * model.rho[d] * sum;
            }
        }
        value
    }

    /// `ln EI` at each of the points of `us` (row-major, `model.dims` features each),
    /// written to `out`. Uses triangular solves over blocks of candidates, cheaper per
    /// point than [`eval`](LogEi::eval).
    pub fn batch(&mut self, model: &Model, us: &[f64], out: &mut [f64]) {
        let (n, nd, s) = (model.n, model.dims, model.signal);
        self.t.resize(n, 0.0);
        for (chunk, values) in us.chunks(CHUNK * nd).zip(out.chunks_mut(CHUNK)) {
            let cols = values.len();
            self.batch.resize(n * cols, 0.0);
            for (c, value) in values.iter_mut().enumerate() {
                model.distances(&chunk[c * nd..(c + 1) * nd], &mut self.t);
                let col = &mut self.batch[c * n..(c + 1) * n];
                let mut mu = 0.0;
                for ((k, &t), &a) in col.iter_mut().zip(&self.t).zip(&model.alpha) {
                    *k = s * matern52(t).0;
                    mu += *k * a;
                }
                // The mean for now; the variance once the block is solved.
                *value = mu;
            }
            model.solve_lower(&mut self.batch, cols);
            for (c, value) in values.iter_mut().enumerate() {
                let col = &self.batch[c * n..(c + 1) * n];
                let quad: f64 = col.iter().map(|v| v * v).sum();
                *value = log_ei(self.best, *value, s - quad).0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::Space;

    /// EI by numerical integration of `max(0, best - f)` against `N(mu, sigma^2)`.
    fn ei_by_quadrature(best: f64, mu: f64, sigma: f64) -> f64 {
        let steps = 200_000;
        let (lo, hi) = (mu - 12.0 * sigma, best);
        if hi <= lo {
            return 0.0;
        }
        let h = (hi - lo) / steps as f64;
        let density = |f: f64| {
            (-0.5 * ((f - mu) / sigma).powi(2)).exp()
                / (sigma * (2.0 * std::f64::consts::PI).sqrt())
        };
        // Simpson's rule.
        let mut sum = 0.0;
        for k in 0..=steps {
            let f = lo + k as f64 * h;
            let w = if k == 0 || k == steps {
                1.0
            } else if k % 2 == 1 {
                4.0
            } else {
                2.0
            };
            sum += w * (best - f) * density(f);
        }
        sum * h / 3.0
    }

    #[test]
    fn log_ei_matches_the_integral_where_it_is_well_conditioned() {
        for (best, mu, sigma) in [
            (0.0, 0.0, 1.0),
            (1.0, 0.0, 0.5),
            (-1.0, 0.5, 0.7),
            (-2.0, 1.0, 1.0),
            (0.3, -2.0, 2.0),
        ] {
            let (got, _, _) = log_ei(best, mu, sigma * sigma - MIN_VAR);
            let want = ei_by_quadrature(best, mu, sigma).ln();
            assert!(
                (got - want).abs() < 1e-8,
                "{best} {mu} {sigma}: {got} vs {want}"
            );
        }
    }

    #[test]
    fn log_h_is_finite_and_smooth_far_in_the_tail() {
        // The two branches meet: the series just below the switch, the direct formula at it.
        let below = f64::from_bits(TAIL.to_bits() + 1);
        let (a, b) = (log_h(below), log_h(TAIL));
        assert!((a - b).abs() < 1e-9, "{a} vs {b}");
        // Reference values from mpmath: log(z * ncdf(z) + npdf(z)).
        for (z, want) in [
            (-5.0, -16.744_301_162_660_99),
            (-20.0, -206.917_838_509_425_1),
            (-30.0, -457.724_653_760_598),
            (-100.0, -5_010.129_578_800_25),
        ] {
            let got = log_h(z);
            assert!(
                ((got - want) / want).abs() < 1e-12,
                "z = {z}: {got} vs {want}"
            );
        }
        // Monotone, finite, with the asymptotic slope -z far out.
        let mut last = f64::NEG_INFINITY;
        for k in 0..=200 {
            let z = -1e4 + 50.0 * k as f64;
            let v = log_h(z);
            assert!(v.is_finite() && v > last);
            last = v;
        }
        let (_, d_mu, _) = log_ei(0.0, 1e3, 1.0 - MIN_VAR);
        assert!(d_mu.is_finite() && (d_mu + 1e3).abs() < 1.0, "{d_mu}");
    }

    #[test]
    fn derivatives_of_log_ei_match_finite_differences() {
        for (mu, var) in [(0.2, 0.5), (3.0, 0.04), (30.0, 0.5), (-1.0, 2.0)] {
            let (_, d_mu, d_var) = log_ei(0.0, mu, var);
            let h = 1e-6;
            let num_mu = (log_ei(0.0, mu + h, var).0 - log_ei(0.0, mu - h, var).0) / (2.0 * h);
            let num_var = (log_ei(0.0, mu, var + h).0 - log_ei(0.0, mu, var - h).0) / (2.0 * h);
            assert!(
                (num_mu - d_mu).abs() < 1e-5 * d_mu.abs().max(1.0),
                "{mu} {var}"
            );
            assert!(
                (num_var - d_var).abs() < 1e-5 * d_var.abs().max(1.0),
                "{mu} {var}"
            );
        }
    }

    #[test]
    fn the_gradient_in_the_features_matches_finite_differences_and_batches_agree() {
        let space = Space::builder()
            .uniform("a", 0.0, 1.0)
            .uniform("b", 0.0, 1.0)
            .choice("c", ["x", "y"])
            .build()
            .expect("valid");
        let dims = super::super::dims::dims(&space);
        let mut rows = Vec::new();
        let mut y = Vec::new();
        for i in 0..10 {
            let (a, b) = ((i as f64 * 0.37).fract(), (i as f64 * 0.61).fract());
            rows.extend([a, b, (i % 2) as f64]);
            y.push((a - 0.3).powi(2) + (b - 0.6).powi(2) + 0.1 * (i % 2) as f64);
        }
        let mut model = Model::default();
        model.set_data(&dims, &rows, &y);
        assert!(model.condition(&[1.0, 0.5, -0.5, 0.0, -5.0]));
        let mut acq = LogEi {
            best: y.iter().copied().fold(f64::INFINITY, f64::min),
            ..LogEi::default()
        };
        let points = [[0.5, 0.5, 0.0], [0.05, 0.9, 1.0], [0.31, 0.58, 0.0]];
        for u in points {
            let mut grad = [0.0; 2];
            let v = acq.eval(&model, &u, Some((&[0, 1], &mut grad)));
            for d in 0..2 {
                let h = 1e-6;
                let (mut up, mut down) = (u, u);
                up[d] += h;
                down[d] -= h;
                let num = (acq.eval(&model, &up, None) - acq.eval(&model, &down, None)) / (2.0 * h);
                assert!(
                    (num - grad[d]).abs() < 1e-5 * num.abs().max(1.0),
                    "{u:?} d{d}: {num} vs {}",
                    grad[d]
                );
            }
            let mut out = [0.0];
            acq.batch(&model, &u, &mut out);
            assert!(
                (out[0] - v).abs() < 1e-9 * v.abs().max(1.0),
                "{} vs {v}",
                out[0]
            );
        }
    }
}
