//! The Matérn 5/2 kernel with one length scale per dimension (ARD).
//!
//! `k(a, b) = s * m(t)` with `t = sum_d rho_d * delta_d(a_d, b_d)`, where `rho_d = 1 / l_d^2`
//! is the inverse squared length scale of dimension `d`, `delta_d` the squared difference of
//! the features (or, for unordered options, 0 when equal and 1 otherwise: a Hamming
//! distance), `s` the signal variance, and
//!
//! `m(t) = (1 + sqrt(5 t) + 5 t / 3) * exp(-sqrt(5 t))`,
//!
//! twice differentiable, the usual choice for Bayesian optimization.

/// `m(t)` and its derivative `dm/dt = -5/6 (1 + sqrt(5 t)) exp(-sqrt(5 t))`, finite at
/// `t = 0` (where the derivative in the distance itself would not be).
#[inline]
pub(super) fn matern52(t: f64) -> (f64, f64) {
    let r = (5.0 * t).sqrt();
    let e = (-r).exp();
    ((1.0 + r + r * r / 3.0) * e, -5.0 / 6.0 * (1.0 + r) * e)
}

/// The per-dimension distance `delta_d` between two features.
#[inline]
pub(super) fn delta(a: f64, b: f64, categorical: bool) -> f64 {
    if categorical {
        if a == b { 0.0 } else { 1.0 }
    } else {
        (a - b) * (a - b)
    }
}

/// Adds `rho * delta(u, x_i)` to `t[i]` for every training value `x_i` of one dimension.
#[inline]
pub(super) fn accumulate(t: &mut [f64], xs: &[f64], u: f64, rho: f64, categorical: bool) {
    if categorical {
        for (t, &x) in t.iter_mut().zip(xs) {
            if x != u {
                *t += rho;
            }
        }
    } else {
        for (t, &x) in t.iter_mut().zip(xs) {
            *t += rho * (u - x) * (u - x);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matern_has_its_closed_form_and_derivative() {
        assert_eq!(matern52(0.0), (1.0, -5.0 / 6.0));
        // At unit distance: (1 + sqrt5 + 5/3) e^-sqrt5.
        let s5 = 5f64.sqrt();
        let (m, _) = matern52(1.0);
        assert!((m - (1.0 + s5 + 5.0 / 3.0) * (-s5).exp()).abs() < 1e-15);
        for t in [1e-6, 0.01, 0.3, 2.0, 40.0] {
            let h = 1e-4 * t;
            let numeric = (matern52(t + h).0 - matern52(t - h).0) / (2.0 * h);
            let (_, dm) = matern52(t);
            assert!(
                (numeric - dm).abs() < 1e-5 * dm.abs(),
                "t = {t}: {numeric} vs {dm}"
            );
        }
        // Decreasing and positive.
        assert!(matern52(3.0).0 < matern52(2.0).0 && matern52(50.0).0 > 0.0);
    }

    #[test]
    fn distances_are_squared_or_hamming() {
        assert_eq!(delta(0.25, 0.75, false), 0.25);
        assert_eq!(delta(2.0, 0.0, true), 1.0);
        assert_eq!(delta(2.0, 2.0, true), 0.0);
        let mut t = [0.0, 1.0];
        accumulate(&mut t, &[0.5, 1.0], 0.0, 2.0, false);
        assert_eq!(t, [0.5, 3.0]);
        accumulate(&mut t, &[1.0, 0.0], 0.0, 4.0, true);
        assert_eq!(t, [4.5, 3.0]);
    }
}
