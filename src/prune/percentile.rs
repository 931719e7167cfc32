//! The median and percentile pruners: stop a trial whose best value so far is worse than
//! a percentile of what complete trials reported at the same step.

use std::collections::HashMap;

use super::{
    Progress, Pruner, PrunerKind, PrunerSession, Schedule, insert_sorted, percentile_of_sorted,
};
use crate::trials::TrialState;

/// Stops a trial whose best intermediate value is worse than the `percentile`-th best of
/// the complete trials' values at the same step (optuna's `PercentilePruner`).
///
/// Judged from step `warmup_steps` on, once per `interval_steps`, after `startup_trials`
/// trials are complete, and only where at least `min_trials` complete trials reported
/// that step. A trial that reported only NaN is stopped.
///
/// ```
/// use hyperflow::prune::Percentile;
///
/// // Keep the best quarter at each step, judged after 5 warm-up epochs.
/// let pruner = Percentile::new(25.0).warmup_steps(5);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Percentile {
    percentile: f64,
    startup_trials: usize,
    schedule: Schedule,
    min_trials: usize,
    kind: PrunerKind,
}

impl Percentile {
    /// Keeps trials within the best `percentile` percent (0 to 100, clamped) of the
    /// complete trials at each step; the other settings at their defaults (5 start-up
    /// trials, no warm-up, every step, at least 1 trial at the step).
    pub fn new(percentile: f64) -> Self {
        Percentile {
            percentile: if percentile.is_nan() {
                50.0
            } else {
                percentile.clamp(0.0, 100.0)
            },
            startup_trials: 5,
            schedule: Schedule {
                warmup: 0,
                interval: 1,
            },
            min_trials: 1,
            kind: PrunerKind::Percentile,
        }
    }

    /// How many trials must be complete before any is stopped (default 5).
    pub fn startup_trials(mut self, n: usize) -> Self {
        self.startup_trials = n;
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

    /// How many complete trials must have reported a step for it to be judged (default 1).
    pub fn min_trials(mut self, n: usize) -> Self {
        self.min_trials = n;
        self
    }
}

impl Pruner for Percentile {
    fn name(&self) -> &str {
        self.kind.as_str()
    }

    fn session(&self, _seed: u64) -> Box<dyn PrunerSession> {
        Box::new(PercentileSession {
            config: *self,
            by_step: HashMap::new(),
        })
    }
}

/// The median pruner: [`Percentile`] at 50 (optuna's `MedianPruner`), with the same
/// settings and defaults.
///
/// ```
/// use hyperflow::prune::Median;
///
/// let pruner = Median::new().startup_trials(10).warmup_steps(3);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Median(Percentile);

impl Default for Median {
    fn default() -> Self {
        Median(Percentile {
            kind: PrunerKind::Median,
            ..Percentile::new(50.0)
        })
    }
}

impl Median {
    /// The median pruner with the defaults (5 start-up trials, no warm-up, every step).
    pub fn new() -> Self {
        Median::default()
    }

    /// How many trials must be complete before any is stopped (default 5).
    pub fn startup_trials(self, n: usize) -> Self {
        Median(self.0.startup_trials(n))
    }

    /// Steps before which a trial is never stopped (default 0).
    pub fn warmup_steps(self, n: u64) -> Self {
        Median(self.0.warmup_steps(n))
    }

    /// Judge once per this many steps (default 1).
    pub fn interval_steps(self, n: u64) -> Self {
        Median(self.0.interval_steps(n))
    }

    /// How many complete trials must have reported a step for it to be judged (default 1).
    pub fn min_trials(self, n: usize) -> Self {
        Median(self.0.min_trials(n))
    }

    /// Changes the settings it shares with [`Percentile`] through `change`.
    pub(crate) fn try_with<E>(
        self,
        change: impl FnOnce(Percentile) -> Result<Percentile, E>,
    ) -> Result<Self, E> {
        change(self.0).map(Median)
    }
}

impl Pruner for Median {
    fn name(&self) -> &str {
        self.0.name()
    }

    fn session(&self, seed: u64) -> Box<dyn PrunerSession> {
        self.0.session(seed)
    }
}

struct PercentileSession {
    config: Percentile,
    /// Per step, the scores complete trials reported there, ascending (NaN left out).
    by_step: HashMap<u64, Vec<f64>>,
}

impl PrunerSession for PercentileSession {
    fn judge(&mut self, progress: &Progress, trial: usize) -> bool {
        let c = &self.config;
        let curve = progress.curve(trial);
        let Some((step, _)) = curve.last() else {
            return false;
        };
        if progress.complete() < c.startup_trials || !c.schedule.due(curve, step) {
            return false;
        }
        let best = progress.best_score(trial);
        if best.is_nan() {
            return true;
        }
        match self.by_step.get(&step) {
            Some(scores) if scores.len() >= c.min_trials.max(1) => {
                best > percentile_of_sorted(scores, c.percentile)
            }
            _ => false,
        }
    }

    fn finished(&mut self, progress: &Progress, trial: usize) {
        if progress.state(trial) != Some(TrialState::Complete) {
            return;
        }
        for &(step, value) in progress.curve(trial).points() {
            let score = progress.score(value);
            if !score.is_nan() {
                insert_sorted(self.by_step.entry(step).or_default(), score);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trials::Direction;

    /// A progress with complete trials whose curves are `finals[i]` at every step
    /// `0..steps`, fed to `session`.
    fn with_complete(
        session: &mut dyn PrunerSession,
        direction: Direction,
        finals: &[f64],
        steps: u64,
    ) -> Progress {
        let mut p = Progress::new(direction);
        for (n, &v) in finals.iter().enumerate() {
            p.push(n, TrialState::Running);
            for s in 0..steps {
                p.report(n, s, v);
            }
            p.finish(n, TrialState::Complete, None);
            session.finished(&p, n);
        }
        p
    }

    #[test]
    fn median_stops_what_is_worse_than_the_median_at_its_step() {
        let mut s = Median::new().startup_trials(3).session(0);
        let mut p = with_complete(&mut *s, Direction::Minimize, &[1.0, 2.0, 3.0, 4.0], 5);
        p.push(4, TrialState::Running);
        p.report(4, 0, 2.4);
        assert!(!s.judge(&p, 4), "2.4 is below the median 2.5");
        p.push(5, TrialState::Running);
        p.report(5, 0, 2.6);
        assert!(s.judge(&p, 5), "2.6 is above the median 2.5");
        // The best value over its steps counts: 2.6 then 2.0 keeps it.
        p.report(5, 1, 2.0);
        assert!(!s.judge(&p, 5));
        // A step no complete trial reported is not judged.
        p.report(5, 9, 100.0);
        assert!(!s.judge(&p, 5));
    }

    #[test]
    fn maximizing_mirrors_and_nan_is_stopped() {
        let mut s = Median::new().startup_trials(1).session(0);
        let mut p = with_complete(&mut *s, Direction::Maximize, &[1.0, 2.0, 3.0], 2);
        p.push(3, TrialState::Running);
        p.report(3, 0, 1.5);
        assert!(s.judge(&p, 3), "1.5 is below the median 2 when maximizing");
        p.push(4, TrialState::Running);
        p.report(4, 0, 2.5);
        assert!(!s.judge(&p, 4));
        p.push(5, TrialState::Running);
        p.report(5, 0, f64::NAN);
        assert!(s.judge(&p, 5));
    }

    #[test]
    fn startup_warmup_and_min_trials_hold_judgement_back() {
        let mut early = Median::new().session(0);
        let mut p = with_complete(&mut *early, Direction::Minimize, &[1.0, 2.0, 3.0, 4.0], 3);
        p.push(4, TrialState::Running);
        p.report(4, 0, 50.0);
        assert!(
            !early.judge(&p, 4),
            "only 4 of 5 start-up trials are complete"
        );

        let mut warm = Median::new().startup_trials(0).warmup_steps(2).session(0);
        let mut p = with_complete(&mut *warm, Direction::Minimize, &[1.0, 2.0], 3);
        p.push(2, TrialState::Running);
        p.report(2, 1, 50.0);
        assert!(!warm.judge(&p, 2), "step 1 is in the warm-up");
        p.report(2, 2, 50.0);
        assert!(warm.judge(&p, 2));

        let mut few = Median::new().startup_trials(0).min_trials(3).session(0);
        let mut p = with_complete(&mut *few, Direction::Minimize, &[1.0, 2.0], 3);
        p.push(2, TrialState::Running);
        p.report(2, 0, 50.0);
        assert!(
            !few.judge(&p, 2),
            "two complete trials at step 0, three needed"
        );
    }

    #[test]
    fn percentile_is_stricter_below_fifty() {
        let finals: Vec<f64> = (0..10).map(f64::from).collect();
        let mut strict = Percentile::new(20.0).session(0);
        let mut p = with_complete(&mut *strict, Direction::Minimize, &finals, 1);
        p.push(10, TrialState::Running);
        p.report(10, 0, 2.5);
        assert!(strict.judge(&p, 10), "2.5 is above the 20th percentile 1.8");
        let mut loose = Percentile::new(80.0).session(0);
        let mut p = with_complete(&mut *loose, Direction::Minimize, &finals, 1);
        p.push(10, TrialState::Running);
        p.report(10, 0, 2.5);
        assert!(!loose.judge(&p, 10));
    }
}
