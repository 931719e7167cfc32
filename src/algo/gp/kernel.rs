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
///
/// Branch-free, so that loops over many distances vectorize.
#[inline]
pub(super) fn matern52(t: f64) -> (f64, f64) {
    let r = (5.0 * t).sqrt();
    let e = exp_neg(r);
    ((1.0 + r + r * r / 3.0) * e, -5.0 / 6.0 * (1.0 + r) * e)
}

/// `exp(-r)` for `r >= 0`, within 2 ulp, and branch-free (the standard library's `exp`
/// is a call the compiler cannot vectorize). Below `exp(-708)` it returns about 3e-308
/// instead of rounding down to 0: kernel values that small make no difference.
#[inline]
fn exp_neg(r: f64) -> f64 {
    // exp(x) = 2^k exp(f) with k = round(x / ln 2) and |f| <= ln(2) / 2.
    const LOG2_E: f64 = std::f64::consts::LOG2_E;
    // ln 2 split so that k * LN2_HI is exact for |k| < 2^11.
    const LN2_HI: f64 = 0.693_147_180_369_123_8;
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
    // Adding 1.5 * 2^52 rounds to an integer, which lands in the low bits of the result.
    const ROUND: f64 = 6_755_399_441_055_744.0;
    let x = (-r).max(-708.0);
    let shifted = x * LOG2_E + ROUND;
    let k = shifted - ROUND;
    let f = (x - k * LN2_HI) - k * LN2_LO;
    // Taylor series of exp(f) to f^13 / 13! (the first term left out is below 2e-16),
    // by Horner's rule.
    const INV_FACTORIALS: [f64; 14] = [
        1.0,
        1.0,
        1.0 / 2.0,
        1.0 / 6.0,
        1.0 / 24.0,
        1.0 / 120.0,
        1.0 / 720.0,
        1.0 / 5_040.0,
        1.0 / 40_320.0,
        1.0 / 362_880.0,
        1.0 / 3_628_800.0,
        1.0 / 39_916_800.0,
        1.0 / 479_001_600.0,
        1.0 / 6_227_020_800.0,
    ];
    let mut p = INV_FACTORIALS[13];
    for &c in INV_FACTORIALS[..13].iter().rev() {
        p = p * f + c;
    }
    // 2^k from the integer in the low bits of `shifted` (k >= -1022 here).
    let bits = shifted
        .to_bits()
        .wrapping_sub(ROUND.to_bits())
        .wrapping_add(1023)
        << 52;
    p * f64::from_bits(bits)
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
    fn the_exponential_is_accurate_over_the_range_the_kernel_uses() {
        let mut worst = 0.0f64;
        for k in 0..=200_000 {
            let r = k as f64 * 0.0035;
            let (got, want) = (exp_neg(r), (-r).exp());
            worst = worst.max(((got - want) / want).abs());
        }
        assert!(worst < 5e-16, "worst relative error {worst:e}");
        assert_eq!(exp_neg(0.0), 1.0);
        assert!(exp_neg(1e6) > 0.0 && exp_neg(1e6) < 1e-300);
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
