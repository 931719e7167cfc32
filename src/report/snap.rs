//! Turning a recommended interval into a distribution of the parameter's kind: integers,
//! grids, positive bounds for log kinds, readable numbers.

use crate::space::Dist;

use super::model::Interval;

/// The largest number with two significant digits that is `<= x`.
///
/// Built as integer mantissa × power of ten, so `0.3` prints as `0.3`, not
/// `0.30000000000000004`.
pub(crate) fn nice_floor(x: f64) -> f64 {
    nice(x, false)
}

/// The smallest number with two significant digits that is `>= x`.
pub(crate) fn nice_ceil(x: f64) -> f64 {
    nice(x, true)
}

fn nice(x: f64, up: bool) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let e = x.abs().log10().floor() as i32 - 1;
    // Mantissa in [10, 100); a relative epsilon keeps exact two-digit numbers (written as
    // 0.29999999999999999 in binary) from rounding one step outward.
    let scaled = x / 10f64.powi(e);
    let eps = 1e-9 * scaled.abs();
    let m = if up {
        (scaled - eps).ceil()
    } else {
        (scaled + eps).floor()
    };
    if e >= 0 {
        m * 10f64.powi(e)
    } else {
        m / 10f64.powi(-e)
    }
}

/// The values a numeric distribution covers: bounds for bounded kinds (inclusive, so
/// `randint`'s exclusive high minus one), `mu ± 2 sigma` for Gaussian kinds (in log space
/// for `lognormal`). `None` for choice and constant.
pub(crate) fn dist_interval(dist: &Dist) -> Option<Interval> {
    match *dist {
        Dist::Uniform { low, high } | Dist::LogUniform { low, high } => {
            Some(Interval { low, high })
        }
        Dist::QUniform { low, high, q } | Dist::QLogUniform { low, high, q } => Some(Interval {
            low: (low / q).ceil() * q,
            high: (high / q).floor() * q,
        }),
        Dist::Normal { mu, sigma } => Some(Interval {
            low: mu - 2.0 * sigma,
            high: mu + 2.0 * sigma,
        }),
        Dist::LogNormal { mu, sigma } => Some(Interval {
            low: (mu - 2.0 * sigma).exp(),
            high: (mu + 2.0 * sigma).exp(),
        }),
        Dist::RandInt { low, high } => Some(Interval {
            low: low as f64,
            high: (high - 1) as f64,
        }),
        _ => None,
    }
}

/// A distribution of `dist`'s kind over `[low, high]` (value space), snapped to the kind:
/// `randint` to whole numbers (`high` made exclusive again), quantized kinds outward to
/// their grid, log kinds kept positive, reals rounded outward to two significant digits.
/// Gaussian kinds become `mu`/`sigma` with `mu ± 2 sigma` spanning the interval.
///
/// `keep` holds bounds the result must not cross (the searched bounds on sides that were
/// not widened), so outward rounding never widens by accident.
pub(crate) fn snap_range(
    dist: &Dist,
    low: f64,
    high: f64,
    keep: (Option<f64>, Option<f64>),
) -> Dist {
    let clamp = |l: f64, h: f64| {
        let l = keep.0.map_or(l, |k| l.max(k));
        let h = keep.1.map_or(h, |k| h.min(k));
        (l, h)
    };
    match *dist {
        Dist::Uniform { .. } => {
            let (l, h) = clamp(nice_floor(low), nice_ceil(high));
            if l < h {
                Dist::Uniform { low: l, high: h }
            } else {
                Dist::Uniform {
                    low,
                    high: high.max(low + f64::EPSILON * low.abs().max(1.0)),
                }
            }
        }
        Dist::LogUniform { .. } => {
            let (l, h) = clamp(nice_floor(low.max(f64::MIN_POSITIVE)), nice_ceil(high));
            let l = if l > 0.0 {
                l
            } else {
                low.max(f64::MIN_POSITIVE)
            };
            if l < h {
                Dist::LogUniform { low: l, high: h }
            } else {
                Dist::LogUniform {
                    low: l,
                    high: l * 1.01,
                }
            }
        }
        Dist::QUniform { q, .. } | Dist::QLogUniform { q, .. } => {
            let mut l = (low / q + 1e-9).floor() * q;
            let mut h = (high / q - 1e-9).ceil() * q;
            // The kept bounds need not be multiples of q; the grid inside them is what counts.
            if let Some(k) = keep.0 {
                l = l.max((k / q - 1e-9).ceil() * q);
            }
            if let Some(k) = keep.1 {
                h = h.min((k / q + 1e-9).floor() * q);
            }
            let log = matches!(dist, Dist::QLogUniform { .. });
            if log && l <= 0.0 {
                l = q;
            }
            if h <= l {
                h = l + q;
            }
            // Round away representation noise of k * q (0.1 * 3 = 0.30000000000000004).
            let (l, h) = (tidy(l), tidy(h));
            if log {
                Dist::QLogUniform { low: l, high: h, q }
            } else {
                Dist::QUniform { low: l, high: h, q }
            }
        }
        Dist::RandInt { .. } => {
            let mut l = low.floor();
            let mut h = high.ceil();
            if let Some(k) = keep.0 {
                l = l.max(k.ceil());
            }
            if let Some(k) = keep.1 {
                h = h.min(k.floor());
            }
            let l = l as i64;
            let h = (h as i64).max(l);
            Dist::RandInt {
                low: l,
                high: h + 1,
            }
        }
        Dist::Normal { .. } => Dist::Normal {
            mu: tidy((low + high) / 2.0),
            sigma: nice_ceil(((high - low) / 4.0).max(f64::MIN_POSITIVE)),
        },
        Dist::LogNormal { .. } => {
            let (a, b) = (
                low.max(f64::MIN_POSITIVE).ln(),
                high.max(f64::MIN_POSITIVE).ln(),
            );
            Dist::LogNormal {
                mu: tidy((a + b) / 2.0),
                sigma: nice_ceil(((b - a) / 4.0).max(f64::MIN_POSITIVE)),
            }
        }
        ref other => other.clone(),
    }
}

/// Rounds to 12 significant digits, removing the noise of float arithmetic.
fn tidy(x: f64) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let digits = 11 - x.abs().log10().floor() as i32;
    if digits >= 0 {
        let p = 10f64.powi(digits);
        (x * p).round() / p
    } else {
        let p = 10f64.powi(-digits);
        (x / p).round() * p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_rounds_outward_to_two_digits() {
        assert_eq!(nice_floor(0.01234), 0.012);
        assert_eq!(nice_ceil(0.01234), 0.013);
        assert_eq!(nice_floor(0.3), 0.3);
        assert_eq!(nice_ceil(0.3), 0.3);
        assert_eq!(nice_ceil(1234.0), 1300.0);
        assert_eq!(nice_floor(-1.234), -1.3);
        assert_eq!(nice_floor(0.0), 0.0);
    }

    #[test]
    fn randint_snaps_to_whole_numbers_with_exclusive_high() {
        let d = Dist::RandInt { low: 1, high: 20 };
        assert_eq!(
            snap_range(&d, 5.2, 10.7, (Some(1.0), Some(19.0))),
            Dist::RandInt { low: 5, high: 12 }
        );
        // Kept bounds are not crossed by rounding.
        assert_eq!(
            snap_range(&d, 0.4, 19.5, (Some(1.0), Some(19.0))),
            Dist::RandInt { low: 1, high: 20 }
        );
        assert_eq!(
            dist_interval(&Dist::RandInt { low: 5, high: 12 })
                .unwrap()
                .high,
            11.0
        );
    }

    #[test]
    fn quantized_kinds_snap_to_their_grid_and_log_stays_positive() {
        let d = Dist::QUniform {
            low: 0.0,
            high: 1.0,
            q: 0.1,
        };
        assert_eq!(
            snap_range(&d, 0.23, 0.61, (Some(0.0), Some(1.0))),
            Dist::QUniform {
                low: 0.2,
                high: 0.7,
                q: 0.1
            }
        );
        let d = Dist::QLogUniform {
            low: 1.0,
            high: 100.0,
            q: 5.0,
        };
        assert_eq!(
            snap_range(&d, 0.5, 23.0, (None, None)),
            Dist::QLogUniform {
                low: 5.0,
                high: 25.0,
                q: 5.0
            }
        );
    }

    #[test]
    fn log_kinds_keep_positive_bounds() {
        let d = Dist::LogUniform {
            low: 1e-5,
            high: 1e-1,
        };
        match snap_range(&d, 3.3e-3, 0.97, (Some(1e-5), None)) {
            Dist::LogUniform { low, high } => {
                assert_eq!((low, high), (0.0033, 0.97));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn gaussian_kinds_span_the_interval_with_two_sigma() {
        let d = Dist::Normal {
            mu: 0.0,
            sigma: 1.0,
        };
        assert_eq!(
            snap_range(&d, -1.0, 3.0, (None, None)),
            Dist::Normal {
                mu: 1.0,
                sigma: 1.0
            }
        );
    }
}
