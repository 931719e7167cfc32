//! Maximizing the acquisition over the mixed space of features.
//!
//! Multi-start local search, as optuna's GPSampler does it: quasi-random candidates
//! (scrambled Halton, snapped onto the support of discrete dimensions) are scored in
//! blocks; the best one, the best observed point, and further candidates drawn with
//! probability proportional to their expected improvement (a roulette wheel, so that the
//! starts are good but not all in one basin) start local searches. Each local search
//! alternates quasi-Newton steps in the real dimensions (in coordinates divided by the
//! length scales, which makes the problem about equally curved in every direction) with
//! coordinate-wise searches of the discrete ones: every value of a small grid or of a
//! choice, the neighbouring values of a large grid (which the first quasi-Newton pass
//! treats as real and then rounds), until no coordinate improves.

use rand::RngExt;

use super::acquisition::LogEi;
use super::dims::{Dim, EXHAUSTIVE, Kind, nearest};
use super::lbfgs::{Lbfgs, Stop};
use super::model::Model;
use super::qmc::Halton;
use crate::rng::TrialRng;

/// Tolerances of the local quasi-Newton searches (optuna's).
const LOCAL: Stop = Stop {
    max_iter: 200,
    gtol: 1e-2,
    ftol: 1e-9,
};

/// Largest number of alternations between real and discrete coordinates per start.
const MAX_ROUNDS: usize = 10;

/// How many points the optimizer scores and starts from.
#[derive(Debug, Clone, Copy)]
pub(super) struct Budget {
    /// Quasi-random candidates scored.
    pub candidates: usize,
    /// Local searches (the best candidate and the best observation included).
    pub starts: usize,
}

/// The optimizer's buffers, reused between suggestions.
#[derive(Debug, Default)]
pub(super) struct Optimizer {
    /// The acquisition function (its threshold is set by the caller).
    pub acq: LogEi,
    halton: Halton,
    cands: Vec<f64>,
    values: Vec<f64>,
    starts: Vec<f64>,
    best: Vec<f64>,
    local: Local,
}

/// Buffers of one local search.
#[derive(Debug, Default)]
struct Local {
    lbfgs: Lbfgs,
    x: Vec<f64>,
    /// Dimensions moved by the quasi-Newton search, and per such dimension its length
    /// scale and box in the scaled coordinates.
    cont: Vec<usize>,
    scale: Vec<f64>,
    z: Vec<f64>,
    lo: Vec<f64>,
    hi: Vec<f64>,
    grad: Vec<f64>,
}

impl Optimizer {
    /// The features of the best point found, starting from quasi-random candidates and
    /// from `incumbent` (the best observation's features).
    pub fn maximize(
        &mut self,
        model: &Model,
        dims: &[Dim],
        incumbent: &[f64],
        budget: Budget,
        rng: &mut TrialRng,
    ) -> &[f64] {
        let nd = dims.len();
        let n = budget.candidates.max(1);
        self.halton.fill(n, nd, rng, &mut self.cands);
        for row in self.cands.chunks_mut(nd) {
            for (w, dim) in row.iter_mut().zip(dims) {
                *w = dim.feature_at(*w);
            }
        }
        self.values.resize(n, 0.0);
        self.acq.batch(model, &self.cands, &mut self.values);

        // Starts: the best candidate, the incumbent, then a roulette wheel over the rest.
        let top = (0..n)
            .max_by(|&a, &b| self.values[a].total_cmp(&self.values[b]).then(b.cmp(&a)))
            .unwrap_or(0);
        self.starts.clear();
        self.starts
            .extend_from_slice(&self.cands[top * nd..(top + 1) * nd]);
        self.starts.extend_from_slice(incumbent);
        let vmax = self.values[top];
        // Reuse `values` as the wheel's weights.
        for (i, v) in self.values.iter_mut().enumerate() {
            *v = if i == top { 0.0 } else { (*v - vmax).exp() };
        }
        for _ in 2..budget.starts {
            let total: f64 = self.values.iter().sum();
            if !(total > 0.0 && total.is_finite()) {
                break;
            }
            let mut r = rng.random::<f64>() * total;
            let pick = self
                .values
                .iter()
                .position(|&w| {
                    r -= w;
                    r < 0.0 && w > 0.0
                })
                .unwrap_or_else(|| self.values.iter().rposition(|&w| w > 0.0).unwrap_or(0));
            self.values[pick] = 0.0;
            self.starts
                .extend_from_slice(&self.cands[pick * nd..(pick + 1) * nd]);
        }

        let mut best_value = f64::NEG_INFINITY;
        for k in 0..self.starts.len() / nd {
            let start = &self.starts[k * nd..(k + 1) * nd];
            let value = self.local.search(model, dims, &mut self.acq, start);
            if value > best_value || self.best.len() != nd {
                best_value = value;
                self.best.clear();
                self.best.extend_from_slice(&self.local.x);
            }
        }
        &self.best
    }
}

impl Local {
    /// Improves `start` locally; leaves the point in `x` and returns its value.
    fn search(&mut self, model: &Model, dims: &[Dim], acq: &mut LogEi, start: &[f64]) -> f64 {
        self.x.clear();
        self.x.extend_from_slice(start);
        let mut value = acq.eval(model, &self.x, None);
        for round in 0..MAX_ROUNDS {
            // Large grids are searched as real numbers in the first round only.
            let relax = round == 0;
            self.cont.clear();
            self.scale.clear();
            self.lo.clear();
            self.hi.clear();
            for (d, dim) in dims.iter().enumerate() {
                let (lo, hi) = match &dim.kind {
                    Kind::Real => (0.0, 1.0),
                    Kind::Grid { pos, .. } if relax && pos.len() > EXHAUSTIVE => {
                        (pos[0], pos[pos.len() - 1])
                    }
                    _ => continue,
                };
                let scale = 1.0 / model.rho[d].sqrt();
                self.cont.push(d);
                self.scale.push(scale);
                self.lo.push(lo / scale);
                self.hi.push(hi / scale);
            }
            if !self.cont.is_empty() {
                value = self.quasi_newton(model, acq);
                if relax && self.cont.iter().any(|&d| dims[d].kind != Kind::Real) {
                    for &d in &self.cont {
                        self.x[d] = dims[d].snap_feature(self.x[d]);
                    }
                    value = acq.eval(model, &self.x, None);
                }
            }
            let mut changed = false;
            for (d, dim) in dims.iter().enumerate() {
                changed |= match &dim.kind {
                    Kind::Real => false,
                    Kind::Categorical { n } => {
                        let options = (0..*n).map(|k| k as f64);
                        self.best_of(model, acq, d, options, &mut value)
                    }
                    Kind::Grid { pos, .. } if pos.len() <= EXHAUSTIVE => {
                        self.best_of(model, acq, d, pos.iter().copied(), &mut value)
                    }
                    Kind::Grid { pos, .. } => self.climb(model, acq, d, pos, &mut value),
                };
            }
            if !changed {
                break;
            }
        }
        value
    }

    /// Maximizes over the dimensions in `cont`, from `x`; returns the value reached.
    fn quasi_newton(&mut self, model: &Model, acq: &mut LogEi) -> f64 {
        let Local {
            lbfgs,
            x,
            cont,
            scale,
            z,
            lo,
            hi,
            grad,
        } = self;
        z.clear();
        z.extend(cont.iter().zip(scale.iter()).map(|(&d, s)| x[d] / s));
        grad.resize(cont.len(), 0.0);
        lbfgs.forget();
        let min = lbfgs.minimize(z, lo, hi, LOCAL, |z, g| {
            for ((&d, s), &z) in cont.iter().zip(scale.iter()).zip(z) {
                x[d] = z * s;
            }
            let value = acq.eval(model, x, Some((cont, grad)));
            for ((g, dg), s) in g.iter_mut().zip(grad.iter()).zip(scale.iter()) {
                *g = -dg * s;
            }
            -value
        });
        // The minimizer's last evaluation may have been a rejected trial step.
        for ((&d, s), &z) in cont.iter().zip(scale.iter()).zip(z.iter()) {
            x[d] = z * s;
        }
        -min.value
    }

    /// Sets dimension `d` to the best of `options` if it beats `value`; whether it did.
    fn best_of(
        &mut self,
        model: &Model,
        acq: &mut LogEi,
        d: usize,
        options: impl Iterator<Item = f64>,
        value: &mut f64,
    ) -> bool {
        let current = self.x[d];
        let mut best = current;
        for option in options.filter(|&o| o != current) {
            self.x[d] = option;
            let v = acq.eval(model, &self.x, None);
            if v > *value {
                *value = v;
                best = option;
            }
        }
        self.x[d] = best;
        best != current
    }

    /// Moves dimension `d` along the grid `pos` one step at a time while that improves
    /// `value`, first down, then up; whether it moved.
    fn climb(
        &mut self,
        model: &Model,
        acq: &mut LogEi,
        d: usize,
        pos: &[f64],
        value: &mut f64,
    ) -> bool {
        let start = nearest(pos, self.x[d]);
        let mut at = start;
        for step in [-1isize, 1] {
            while let Some(next) = at.checked_add_signed(step).filter(|&k| k < pos.len()) {
                self.x[d] = pos[next];
                let v = acq.eval(model, &self.x, None);
                if v > *value {
                    *value = v;
                    at = next;
                } else {
                    break;
                }
            }
        }
        self.x[d] = pos[at];
        at != start
    }
}
