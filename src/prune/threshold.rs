//! The threshold pruner (fixed bounds) and the patience wrapper.

use super::{Progress, Pruner, PrunerKind, PrunerSession, Schedule};

/// Stops a trial whose latest value (at its highest step) is below `lower`, above
/// `upper`, or NaN (optuna's `ThresholdPruner`): for divergence ("the loss went above
/// 10") or hopeless accuracy. Judged from step `warmup_steps` on, once per
/// `interval_steps`. The bounds are on the reported values as they are, whatever the
/// direction.
///
/// ```
/// use hyperflow::prune::Threshold;
///
/// let pruner = Threshold::new().upper(10.0).warmup_steps(2);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Threshold {
    lower: f64,
    upper: f64,
    schedule: Schedule,
}

impl Default for Threshold {
    fn default() -> Self {
        Threshold {
            lower: f64::NEG_INFINITY,
            upper: f64::INFINITY,
            schedule: Schedule {
                warmup: 0,
                interval: 1,
            },
        }
    }
}

impl Threshold {
    /// No bounds yet (only NaN is stopped); set [`lower`](Self::lower) and/or
    /// [`upper`](Self::upper).
    pub fn new() -> Self {
        Threshold::default()
    }

    /// Stop below this value.
    pub fn lower(mut self, bound: f64) -> Self {
        self.lower = bound;
        self
    }

    /// Stop above this value.
    pub fn upper(mut self, bound: f64) -> Self {
        self.upper = bound;
        self
    }

    /// Steps before which a trial is never stopped (default 0).
    pub fn warmup_steps(mut self, n: u64) -> Self {
        self.schedule.warmup = n;
        self
    }

    /// Judge once per this many steps (default 1, at least 1).
    pub fn interval_steps(mut self, n: u64) -> Self {
        self.schedule.interval = n.max(1);
        self
    }
}

impl Pruner for Threshold {
    fn name(&self) -> &str {
        PrunerKind::Threshold.as_str()
    }

    fn session(&self, _seed: u64) -> Box<dyn PrunerSession> {
        Box::new(*self)
    }
}

impl PrunerSession for Threshold {
    fn judge(&mut self, progress: &Progress, trial: usize) -> bool {
        let curve = progress.curve(trial);
        match curve.last() {
            Some((step, value)) if self.schedule.due(curve, step) => {
                value.is_nan() || value < self.lower || value > self.upper
            }
            _ => false,
        }
    }
}

/// Patience: stops a trial only when its best value over its last `patience + 1` steps
/// is worse than its best before them by more than `min_delta`, and then only if the
/// wrapped pruner agrees (optuna's `PatientPruner`). Without a wrapped pruner,
/// patience alone decides: early stopping per trial.
///
/// ```
/// use hyperflow::prune::{Median, Patient};
///
/// // Stop below the median, but only after 3 steps without improvement.
/// let pruner = Patient::new(3).wrap(Median::new());
/// ```
pub struct Patient {
    patience: usize,
    min_delta: f64,
    wrapped: Option<Box<dyn Pruner>>,
}

impl std::fmt::Debug for Patient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Patient")
            .field("patience", &self.patience)
            .field("min_delta", &self.min_delta)
            .field("wrapped", &self.wrapped.as_ref().map(|p| p.name()))
            .finish()
    }
}

impl Patient {
    /// Patience of `patience` steps without improvement, alone.
    pub fn new(patience: usize) -> Self {
        Patient {
            patience,
            min_delta: 0.0,
            wrapped: None,
        }
    }

    /// The tolerance (default 0): the last steps count as no improvement only when
    /// their best is worse than the best before them by more than this.
    pub fn min_delta(mut self, delta: f64) -> Self {
        self.min_delta = delta.max(0.0);
        self
    }

    /// Stops a trial out of patience only if `pruner` also would.
    pub fn wrap(self, pruner: impl Pruner + 'static) -> Self {
        self.wrap_boxed(Box::new(pruner))
    }

    /// [`wrap`](Self::wrap) for a pruner already boxed.
    pub fn wrap_boxed(mut self, pruner: Box<dyn Pruner>) -> Self {
        self.wrapped = Some(pruner);
        self
    }
}

impl Pruner for Patient {
    fn name(&self) -> &str {
        self.wrapped.as_ref().map_or("patient", |p| p.name())
    }

    fn session(&self, seed: u64) -> Box<dyn PrunerSession> {
        Box::new(PatientSession {
            patience: self.patience,
            min_delta: self.min_delta,
            wrapped: self.wrapped.as_ref().map(|p| p.session(seed)),
        })
    }
}

struct PatientSession {
    patience: usize,
    min_delta: f64,
    wrapped: Option<Box<dyn PrunerSession>>,
}

impl PatientSession {
    /// Whether the trial's last `patience + 1` steps brought no improvement.
    fn out_of_patience(&self, progress: &Progress, trial: usize) -> bool {
        let points = progress.curve(trial).points();
        if points.len() <= self.patience + 1 {
            return false;
        }
        let (before, after) = points.split_at(points.len() - self.patience - 1);
        match (progress.lowest_score(before), progress.lowest_score(after)) {
            (Some(b), Some(a)) => b + self.min_delta < a,
            // Nothing but NaN lately after real values: no improvement.
            (Some(_), None) => true,
            _ => false,
        }
    }
}

impl PrunerSession for PatientSession {
    fn judge(&mut self, progress: &Progress, trial: usize) -> bool {
        // The wrapped pruner sees every report, so its records (rungs) stay whole.
        let wrapped = self
            .wrapped
            .as_mut()
            .is_none_or(|w| w.judge(progress, trial));
        wrapped && self.out_of_patience(progress, trial)
    }

    fn finished(&mut self, progress: &Progress, trial: usize) {
        if let Some(w) = &mut self.wrapped {
            w.finished(progress, trial);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trials::{Direction, TrialState};

    fn judged(s: &mut dyn PrunerSession, direction: Direction, values: &[f64]) -> Vec<bool> {
        let mut p = Progress::new(direction);
        p.push(0, TrialState::Running);
        values
            .iter()
            .enumerate()
            .map(|(step, &v)| {
                p.report(0, step as u64, v);
                s.judge(&p, 0)
            })
            .collect()
    }

    #[test]
    fn thresholds_bound_the_latest_value() {
        let mut s = Threshold::new().upper(2.0).lower(-1.0).session(0);
        let got = judged(&mut *s, Direction::Minimize, &[1.0, 3.0, -2.0, f64::NAN]);
        assert_eq!(got, [false, true, true, true]);
        let mut warm = Threshold::new().upper(2.0).warmup_steps(2).session(0);
        let got = judged(&mut *warm, Direction::Minimize, &[5.0, 5.0, 5.0]);
        assert_eq!(got, [false, false, true]);
    }

    #[test]
    fn patience_waits_for_a_plateau() {
        let mut s = Patient::new(2).session(0);
        let values = [5.0, 4.0, 3.0, 3.5, 3.2, 3.1, 2.0, 2.5, 2.5, 2.4];
        let got = judged(&mut *s, Direction::Minimize, &values);
        // At step 5 the last three (3.5, 3.2, 3.1) are all worse than 3.0: stop.
        assert_eq!(
            got,
            [
                false, false, false, false, false, true, false, false, false, true
            ]
        );
        let mut delta = Patient::new(1).min_delta(0.5).session(0);
        let got = judged(
            &mut *delta,
            Direction::Maximize,
            &[-1.0, -1.2, -1.3, -1.6, -1.7],
        );
        // Maximizing: only when the last two are both worse than -1.0 by more than 0.5.
        assert_eq!(got, [false, false, false, false, true]);
    }

    #[test]
    fn patience_defers_to_the_wrapped_pruner() {
        let never = Threshold::new();
        let mut s = Patient::new(1).wrap(never).session(0);
        let got = judged(&mut *s, Direction::Minimize, &[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(got, [false; 4]);
    }
}
