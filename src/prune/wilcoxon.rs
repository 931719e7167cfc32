//! The Wilcoxon pruner: for objectives that are an average over instances or folds,
//! reported one instance per step, a trial is stopped once a signed-rank test says it is
//! worse than the best trial on the instances both evaluated.

use super::{Progress, Pruner, PrunerKind, PrunerSession};
use crate::trials::TrialState;

/// Stops a trial when the Wilcoxon signed-rank test, on its values minus the best
/// complete trial's values at the steps both reported, rejects "no worse than the best"
/// at level `p_threshold` (optuna's `WilcoxonPruner`), unless the mean of its values so
/// far is no worse than the best trial's mean. Steps are instance or fold ids,
/// reported in any order; the values should be comparable across trials per step.
/// Defaults: `p_threshold` 0.1, judged from 2 shared steps on.
///
/// ```
/// use hyperflow::prune::Wilcoxon;
///
/// let pruner = Wilcoxon::new().p_threshold(0.05).startup_steps(5);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Wilcoxon {
    p_threshold: f64,
    startup_steps: usize,
}

impl Default for Wilcoxon {
    fn default() -> Self {
        Wilcoxon {
            p_threshold: 0.1,
            startup_steps: 2,
        }
    }
}

impl Wilcoxon {
    /// The pruner with the defaults.
    pub fn new() -> Self {
        Wilcoxon::default()
    }

    /// The significance level below which a trial is stopped (default 0.1; smaller
    /// stops fewer trials).
    pub fn p_threshold(mut self, p: f64) -> Self {
        self.p_threshold = p;
        self
    }

    /// How many steps a trial must share with the best trial before it is judged
    /// (default 2).
    pub fn startup_steps(mut self, n: usize) -> Self {
        self.startup_steps = n;
        self
    }
}

impl Pruner for Wilcoxon {
    fn name(&self) -> &str {
        PrunerKind::Wilcoxon.as_str()
    }

    fn session(&self, _seed: u64) -> Box<dyn PrunerSession> {
        Box::new(WilcoxonSession {
            config: *self,
            best: None,
            diffs: Vec::new(),
        })
    }
}

struct WilcoxonSession {
    config: Wilcoxon,
    /// The best complete trial by its final score (the lowest; the earliest on ties).
    best: Option<(f64, usize)>,
    /// Scratch: differences of the trial being judged.
    diffs: Vec<f64>,
}

impl PrunerSession for WilcoxonSession {
    fn judge(&mut self, progress: &Progress, trial: usize) -> bool {
        let Some((_, best)) = self.best else {
            return false;
        };
        let (curve, best_curve) = (progress.curve(trial), progress.curve(best));
        self.diffs.clear();
        for &(step, value) in curve.points() {
            if let Some(reference) = best_curve.at(step) {
                self.diffs
                    .push(progress.score(value) - progress.score(reference));
            }
        }
        if self.diffs.len() < self.config.startup_steps.max(2)
            || self.diffs.iter().any(|d| !d.is_finite())
        {
            return false;
        }
        // A trial whose mean so far is no worse than the best trial's mean is kept,
        // whatever the test says (its instances may just be the easy ones).
        if mean_score(progress, curve) <= mean_score(progress, best_curve) {
            return false;
        }
        signed_rank_p_greater(&mut self.diffs) < self.config.p_threshold
    }

    fn finished(&mut self, progress: &Progress, trial: usize) {
        if progress.state(trial) != Some(TrialState::Complete) || progress.curve(trial).is_empty() {
            return;
        }
        let Some(score) = progress.value(trial).map(|v| progress.score(v)) else {
            return;
        };
        if !score.is_nan() && self.best.is_none_or(|(b, _)| score < b) {
            self.best = Some((score, trial));
        }
    }
}

/// The mean score of a curve's values.
fn mean_score(progress: &Progress, curve: &super::Curve) -> f64 {
    let points = curve.points();
    points.iter().map(|&(_, v)| progress.score(v)).sum::<f64>() / points.len() as f64
}

/// The one-sided p-value of the Wilcoxon signed-rank test that the differences tend to
/// be positive (the trial is worse), zeros split between both signs ("zsplit"). Exact for
/// up to 50 differences without ties or zeros; the normal approximation with the tie
/// correction otherwise. Sorts `diffs` by magnitude.
fn signed_rank_p_greater(diffs: &mut [f64]) -> f64 {
    let n = diffs.len();
    diffs.sort_by(|a, b| a.abs().total_cmp(&b.abs()));
    // Midranks of the magnitudes; the statistic is the sum of positive ranks, half of
    // each zero's rank.
    let mut w_plus = 0.0;
    let mut tie_term = 0.0;
    let mut exact = n <= 50;
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && diffs[j + 1].abs() == diffs[i].abs() {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        let tied = (j - i + 1) as f64;
        if tied > 1.0 {
            exact = false;
            tie_term += tied * tied * tied - tied;
        }
        for d in &diffs[i..=j] {
            if *d > 0.0 {
                w_plus += rank;
            } else if *d == 0.0 {
                exact = false;
                w_plus += rank / 2.0;
            }
        }
        i = j + 1;
    }
    let nf = n as f64;
    if exact {
        return exact_upper_tail(n, w_plus);
    }
    let mean = nf * (nf + 1.0) / 4.0;
    let var = nf * (nf + 1.0) * (2.0 * nf + 1.0) / 24.0 - tie_term / 48.0;
    if var <= 0.0 {
        return 1.0;
    }
    let z = (w_plus - mean) / var.sqrt();
    0.5 * libm::erfc(z * std::f64::consts::FRAC_1_SQRT_2)
}

/// `P(W+ >= w)` for `n` differences without ties or zeros: the share of the `2^n` sign
/// assignments whose positive ranks sum to `w` or more.
fn exact_upper_tail(n: usize, w: f64) -> f64 {
    let max = n * (n + 1) / 2;
    // counts[s]: sign assignments of ranks 1..=k with positive-rank sum s. Below 2^53,
    // every count is exact in an f64 for n <= 50.
    let mut counts = vec![0.0f64; max + 1];
    counts[0] = 1.0;
    for rank in 1..=n {
        for s in (rank..=max).rev() {
            counts[s] += counts[s - rank];
        }
    }
    let from = w.ceil() as usize;
    let tail: f64 = counts[from.min(max + 1)..].iter().sum();
    tail / 2f64.powi(n as i32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trials::Direction;

    #[test]
    fn exact_p_values_match_the_distribution() {
        // n = 3: sums 0..6 have counts 1,1,1,2,1,1,1 over 8 assignments.
        assert_eq!(exact_upper_tail(3, 6.0), 1.0 / 8.0);
        assert_eq!(exact_upper_tail(3, 3.0), 5.0 / 8.0);
        assert_eq!(exact_upper_tail(3, 0.0), 1.0);
        // Five positive differences: p = 1/32 (scipy: 0.03125).
        let mut d = [0.5, 1.0, 2.0, 3.0, 4.0];
        assert_eq!(signed_rank_p_greater(&mut d), 1.0 / 32.0);
        let mut d = [-0.5, 1.0, 2.0, 3.0, 4.0];
        assert_eq!(signed_rank_p_greater(&mut d), 2.0 / 32.0);
    }

    #[test]
    fn ties_and_zeros_use_the_normal_approximation() {
        // scipy.stats.wilcoxon([1, 1, 2, 0, 3, -1, 2, 2], alternative="greater",
        // zero_method="zsplit", method="approx"): statistic 32.5, p = 0.020152.
        let mut d = [1.0, 1.0, 2.0, 0.0, 3.0, -1.0, 2.0, 2.0];
        let p = signed_rank_p_greater(&mut d);
        assert!((p - 0.020152).abs() < 1e-6, "{p}");
    }

    #[test]
    fn a_trial_worse_on_most_folds_is_stopped() {
        let mut s = Wilcoxon::new().session(0);
        let mut p = Progress::new(Direction::Minimize);
        p.push(0, TrialState::Running);
        for fold in 0..10 {
            p.report(0, fold, 1.0 + 0.1 * fold as f64);
        }
        p.finish(0, TrialState::Complete, Some(1.45));
        s.finished(&p, 0);
        // Worse by 0.05 on every fold: stopped once enough folds are in.
        p.push(1, TrialState::Running);
        let mut stopped_at = None;
        for fold in (0..10).rev() {
            p.report(1, fold, 1.0 + 0.11 * fold as f64 + 0.01);
            if s.judge(&p, 1) {
                stopped_at = Some(fold);
                break;
            }
        }
        assert_eq!(stopped_at, Some(6), "p = 1/16 < 0.1 after four folds");
        // Better on every fold: never stopped.
        p.push(2, TrialState::Running);
        for fold in 0..10 {
            p.report(2, fold, 0.9 + 0.1 * fold as f64);
            assert!(!s.judge(&p, 2));
        }
    }
}
