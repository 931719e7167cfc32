//! Limited-memory BFGS with box bounds (projected quasi-Newton).
//!
//! Variables at a bound whose gradient pushes them outwards are held fixed; the two-loop
//! recursion gives a quasi-Newton direction in the others, and a backtracking (Armijo)
//! search along the projected path `P(x + a d)` takes the step. This is the simple cousin
//! of L-BFGS-B (no generalized Cauchy point): enough for the smooth, low-dimensional
//! problems of the GP sampler, and free of allocations once its buffers have grown.

/// When to stop.
#[derive(Debug, Clone, Copy)]
pub(super) struct Stop {
    /// Largest number of iterations (line searches).
    pub max_iter: usize,
    /// Stop when every component of the projected gradient is at most this in magnitude.
    pub gtol: f64,
    /// Stop when an iteration lowers the value by less than this, relative to it.
    pub ftol: f64,
}

/// How a minimization ended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Minimum {
    /// The value at the returned point.
    pub value: f64,
    /// Iterations taken (0 when the start was already optimal or not finite).
    pub iterations: usize,
}

/// Pairs kept for the inverse Hessian approximation.
const MEMORY: usize = 10;
/// Armijo's sufficient decrease constant.
const ARMIJO: f64 = 1e-4;
/// Shortenings of the step before a line search gives up.
const MAX_BACKTRACKS: usize = 30;

/// The minimizer's buffers, reused between calls.
#[derive(Debug, Clone, Default)]
pub(super) struct Lbfgs {
    /// Ring buffers of the last `MEMORY` steps `s` and gradient changes `y`, `n` each.
    s: Vec<f64>,
    y: Vec<f64>,
    rho: Vec<f64>,
    alpha: Vec<f64>,
    /// How many pairs are stored and where the newest is.
    len: usize,
    newest: usize,
    g: Vec<f64>,
    d: Vec<f64>,
    x_new: Vec<f64>,
    g_new: Vec<f64>,
    free: Vec<bool>,
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

impl Lbfgs {
    /// Forgets the curvature pairs: the next [`minimize`](Lbfgs::minimize) starts from
    /// steepest descent.
    pub fn forget(&mut self) {
        self.len = 0;
    }

    /// Minimizes `f` over the box `[lo, hi]` from `x` (projected into the box first),
    /// leaving the best point found in `x`. `f(x, grad)` returns the value and writes the
    /// gradient; a non-finite value counts as "outside the domain" and is backtracked from.
    ///
    /// The curvature pairs of the previous call are kept (unless [`forget`](Lbfgs::forget)
    /// was called or the dimension changed): minimizing a function close to the last one
    /// from close to its minimum, the first step is already a quasi-Newton step.
    pub fn minimize(
        &mut self,
        x: &mut [f64],
        lo: &[f64],
        hi: &[f64],
        stop: Stop,
        mut f: impl FnMut(&[f64], &mut [f64]) -> f64,
    ) -> Minimum {
        let n = x.len();
        if self.g.len() != n {
            self.len = 0;
        }
        for buf in [&mut self.g, &mut self.d, &mut self.x_new, &mut self.g_new] {
            buf.resize(n, 0.0);
        }
        self.s.resize(MEMORY * n, 0.0);
        self.y.resize(MEMORY * n, 0.0);
        self.rho.resize(MEMORY, 0.0);
        self.alpha.resize(MEMORY, 0.0);
        self.free.resize(n, true);
        for i in 0..n {
            x[i] = x[i].clamp(lo[i], hi[i]);
        }
        let mut fx = f(x, &mut self.g);
        let mut iterations = 0;
        if !fx.is_finite() {
            return Minimum {
                value: fx,
                iterations,
            };
        }
        while iterations < stop.max_iter {
            // Variables held at a bound by their gradient are not free. The pairs describe
            // the curvature of the face they were taken on: a new face forgets them.
            let mut pg_max = 0.0f64;
            let mut face_changed = false;
            for i in 0..n {
                let g = self.g[i];
                let free = !((x[i] <= lo[i] && g > 0.0) || (x[i] >= hi[i] && g < 0.0));
                face_changed |= free != self.free[i];
                self.free[i] = free;
                if free {
                    pg_max = pg_max.max(g.abs());
                }
            }
            if pg_max <= stop.gtol {
                break;
            }
            if face_changed || self.direction(n) >= 0.0 {
                // Steepest descent on the free variables (a descent direction, since their
                // gradient is not zero).
                self.len = 0;
                self.direction(n);
            }
            // Without curvature information, the first step moves the largest component
            // by at most 1.
            let mut step = if self.len == 0 {
                (1.0 / pg_max).min(1.0)
            } else {
                1.0
            };
            let mut accepted = None;
            for _ in 0..MAX_BACKTRACKS {
                let mut decrease = 0.0;
                for i in 0..n {
                    self.x_new[i] = (x[i] + step * self.d[i]).clamp(lo[i], hi[i]);
                    decrease += self.g[i] * (self.x_new[i] - x[i]);
                }
                let f_new = if decrease < 0.0 {
                    f(&self.x_new, &mut self.g_new)
                } else {
                    // The bounds cut the descending components of a long step: shorter
                    // ones keep more of them.
                    f64::NAN
                };
                if f_new.is_finite() && f_new <= fx + ARMIJO * decrease {
                    accepted = Some(f_new);
                    break;
                }
                // The minimum of the quadratic through f(x), its slope along the step
                // and f(x_new), kept within [0.1, 0.5] of the step.
                let shrink = if f_new.is_finite() {
                    0.5 * decrease / (decrease - (f_new - fx))
                } else {
                    0.1
                };
                step *= shrink.clamp(0.1, 0.5);
            }
            let Some(f_new) = accepted else {
                if self.len == 0 {
                    break;
                }
                // The curvature pairs led nowhere: try again from steepest descent.
                self.len = 0;
                continue;
            };
            iterations += 1;
            self.remember(x, n);
            let converged = fx - f_new <= stop.ftol * fx.abs().max(f_new.abs()).max(1.0);
            x.copy_from_slice(&self.x_new);
            std::mem::swap(&mut self.g, &mut self.g_new);
            fx = f_new;
            if converged {
                break;
            }
        }
        Minimum {
            value: fx,
            iterations,
        }
    }

    /// Writes the quasi-Newton direction over the free variables to `d` (zero for the
    /// others) and returns its slope `d . g`.
    fn direction(&mut self, n: usize) -> f64 {
        for i in 0..n {
            self.d[i] = if self.free[i] { self.g[i] } else { 0.0 };
        }
        let mut k = self.newest;
        for _ in 0..self.len {
            let s = &self.s[k * n..(k + 1) * n];
            let a = self.rho[k] * dot(s, &self.d);
            self.alpha[k] = a;
            let y = &self.y[k * n..(k + 1) * n];
            for (d, &y) in self.d[..n].iter_mut().zip(y) {
                *d -= a * y;
            }
            k = (k + MEMORY - 1) % MEMORY;
        }
        if self.len > 0 {
            let (s, y) = (
                &self.s[self.newest * n..(self.newest + 1) * n],
                &self.y[self.newest * n..(self.newest + 1) * n],
            );
            let gamma = dot(s, y) / dot(y, y);
            for v in &mut self.d[..n] {
                *v *= gamma;
            }
        }
        for _ in 0..self.len {
            k = (k + 1) % MEMORY;
            let y = &self.y[k * n..(k + 1) * n];
            let b = self.rho[k] * dot(y, &self.d);
            let a = self.alpha[k];
            let s = &self.s[k * n..(k + 1) * n];
            for (d, &s) in self.d[..n].iter_mut().zip(s) {
                *d += (a - b) * s;
            }
        }
        let mut dg = 0.0;
        for ((d, &free), &g) in self.d[..n].iter_mut().zip(&self.free).zip(&self.g) {
            *d = if free { -*d } else { 0.0 };
            dg += *d * g;
        }
        dg
    }

    /// Stores the step from `x` to `x_new` and its gradient change, when the curvature is
    /// positive (otherwise the pair would break the positive definiteness of the model).
    fn remember(&mut self, x: &[f64], n: usize) {
        let k = (self.newest + 1) % MEMORY;
        let (mut sy, mut yy) = (0.0, 0.0);
        let steps = self.x_new.iter().zip(x).map(|(a, b)| a - b);
        let changes = self.g_new.iter().zip(&self.g).map(|(a, b)| a - b);
        let slots = self.s[k * n..(k + 1) * n]
            .iter_mut()
            .zip(&mut self.y[k * n..(k + 1) * n]);
        for ((s_slot, y_slot), (s, y)) in slots.zip(steps.zip(changes)) {
            (*s_slot, *y_slot) = (s, y);
            sy += s * y;
            yy += y * y;
        }
        if sy > 1e-10 * yy && sy > 0.0 {
            self.rho[k] = 1.0 / sy;
            self.newest = k;
            self.len = (self.len + 1).min(MEMORY);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STOP: Stop = Stop {
        max_iter: 500,
        gtol: 1e-8,
        ftol: 0.0,
    };

    /// Rosenbrock's valley in 2-D.
    fn rosenbrock(x: &[f64], g: &mut [f64]) -> f64 {
        let (a, b) = (x[0], x[1]);
        g[0] = -2.0 * (1.0 - a) - 400.0 * a * (b - a * a);
        g[1] = 200.0 * (b - a * a);
        (1.0 - a).powi(2) + 100.0 * (b - a * a).powi(2)
    }

    #[test]
    fn finds_the_minimum_of_rosenbrock() {
        let mut x = [-1.2, 1.0];
        let inf = [f64::INFINITY; 2];
        let neg = [f64::NEG_INFINITY; 2];
        let min = Lbfgs::default().minimize(&mut x, &neg, &inf, STOP, rosenbrock);
        assert!(min.value < 1e-12, "{min:?} at {x:?}");
        assert!((x[0] - 1.0).abs() < 1e-5 && (x[1] - 1.0).abs() < 1e-5);
        assert!(min.iterations < 100, "{min:?}");
    }

    #[test]
    fn stops_at_an_active_bound_with_the_other_variable_optimal() {
        // Minimum of the bowl at (2, -1), outside the box [0, 1] x [-5, 5].
        let bowl = |x: &[f64], g: &mut [f64]| {
            g[0] = 2.0 * (x[0] - 2.0) + 0.5 * (x[1] + 1.0);
            g[1] = 4.0 * (x[1] + 1.0) + 0.5 * (x[0] - 2.0);
            (x[0] - 2.0).powi(2) + 2.0 * (x[1] + 1.0).powi(2) + 0.5 * (x[0] - 2.0) * (x[1] + 1.0)
        };
        let mut x = [0.3, 3.0];
        let min = Lbfgs::default().minimize(&mut x, &[0.0, -5.0], &[1.0, 5.0], STOP, bowl);
        // On x0 = 1 the best x1 solves 4 (x1 + 1) - 0.5 = 0.
        assert_eq!(x[0], 1.0);
        assert!((x[1] - (0.125 - 1.0)).abs() < 1e-6, "{x:?} {min:?}");
    }

    #[test]
    fn kept_curvature_that_points_out_of_the_box_does_not_stop_the_search() {
        // A strongly coupled quadratic with its minimum at (10.99, 5.5). Learnt without
        // bounds, the pairs make the first step from (0.99, 0.5) the Newton step, a
        // descent direction whose projection onto the unit box is an ascent: the bound
        // cuts its descending part (x) and keeps its ascending one (y).
        let quadratic = |x: &[f64], g: &mut [f64]| {
            let (a, b) = (x[0] - 10.99, x[1] - 5.5);
            g[0] = a - 0.99 * b;
            g[1] = b - 0.99 * a;
            0.5 * (a * a + b * b) - 0.99 * a * b
        };
        let mut lbfgs = Lbfgs::default();
        let free = [f64::INFINITY; 2];
        let mut x = [0.0, 0.0];
        lbfgs.minimize(&mut x, &free.map(|v| -v), &free, STOP, quadratic);
        // In the unit box the minimum is the corner (1, 0).
        let mut x = [0.99, 0.5];
        let min = lbfgs.minimize(&mut x, &[0.0, 0.0], &[1.0, 1.0], STOP, quadratic);
        assert_eq!(x, [1.0, 0.0], "{min:?}");
    }

    #[test]
    fn a_start_outside_the_domain_is_returned_as_is() {
        let mut x = [1.0];
        let min = Lbfgs::default().minimize(&mut x, &[0.0], &[2.0], STOP, |_, _| f64::NAN);
        assert_eq!(min.iterations, 0);
        assert!(min.value.is_nan());
    }
}
