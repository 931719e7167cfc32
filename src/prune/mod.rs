//! Pruners: stopping hopeless trials early.
//!
//! An objective that trains by epochs, boosting rounds or folds reports an intermediate
//! value per step through its [`TrialContext`](crate::study::TrialContext)
//! (`ctx.report(step, value)`) and learns whether to stop. A [`Pruner`] is a configuration
//! ([`Median`], [`Percentile`], [`SuccessiveHalving`], [`Hyperband`], [`Wilcoxon`],
//! [`Threshold`], [`Patient`] around another, or your own); for each search it starts a
//! [`PrunerSession`], owned by the search's study like the sampler's session, which sees
//! every intermediate value and every finished trial through [`Progress`] and decides.
//!
//! The semantics follow the literature and optuna's pruners (the same parameters and
//! defaults): a trial is judged when it reports, from what every trial reported so far.
//! [`PrunerKind`] names the built-in pruners for configs, and [`PrunerSpec`] reads one with
//! its settings by name (a sweep's `[pruner]` table, the Python package's `pruner=`).

mod halving;
mod percentile;
mod spec;
mod threshold;
mod wilcoxon;

pub use halving::{
    BracketWeights, Brackets, Hyperband, MaxResource, MinResource, SuccessiveHalving,
};
pub use percentile::{Median, Percentile};
pub use spec::{DEFAULT_PERCENTILE, PrunerSpec, Setting, SettingError, SettingValue};
pub use threshold::{Patient, Threshold};
pub use wilcoxon::Wilcoxon;

use smallvec::SmallVec;

use crate::trials::{Direction, TrialState};

/// A way of deciding which trials to stop: starts one [`PrunerSession`] per search.
pub trait Pruner: Send + Sync {
    /// A short name for logs and tracking; a built-in pruner's is its
    /// [`PrunerKind::as_str`].
    fn name(&self) -> &str;

    /// Starts following a search. `seed` is the search's seed (for pruners that assign
    /// trials at random, as [`Hyperband`] assigns brackets).
    fn session(&self, seed: u64) -> Box<dyn PrunerSession>;
}

/// A pruner following one search: the state it keeps between decisions.
///
/// The study that owns it calls [`judge`](PrunerSession::judge) each time a running trial
/// reports a value for a new step, and [`finished`](PrunerSession::finished) once for each
/// trial that ends; `progress` holds everything reported so far, the new value included.
/// A loaded study replays its history through the same calls.
pub trait PrunerSession: Send {
    /// Trial `trial` reported a value for a new step (`progress.curve(trial)`); whether it
    /// should stop now.
    fn judge(&mut self, progress: &Progress, trial: usize) -> bool;

    /// Trial `trial` ended, in `progress.state(trial)`. The default ignores it.
    fn finished(&mut self, progress: &Progress, trial: usize) {
        let _ = (progress, trial);
    }
}

/// The values one trial reported, by step (steps unique, kept in order; a trial may
/// report them in any order, as folds or instances are).
///
/// A curve of one value (a trial that reported once, as most cheap trials do) is held
/// inline, with no allocation: a search of many such trials keeps one curve per trial.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Curve {
    points: SmallVec<[(u64, f64); 1]>,
}

impl Curve {
    /// Records `value` at `step`; `false` (and nothing changes) when the step was
    /// reported already: the first value for a step is the one kept.
    pub fn insert(&mut self, step: u64, value: f64) -> bool {
        match self.points.binary_search_by_key(&step, |&(s, _)| s) {
            Ok(_) => false,
            Err(at) => {
                self.points.insert(at, (step, value));
                true
            }
        }
    }

    /// Whether a value was reported at `step`.
    pub fn contains(&self, step: u64) -> bool {
        self.points.binary_search_by_key(&step, |&(s, _)| s).is_ok()
    }

    /// Every `(step, value)`, by step.
    pub fn points(&self) -> &[(u64, f64)] {
        &self.points
    }

    /// How many steps were reported.
    pub fn len(&self) -> usize {
        self.points.len()
    }

    /// Whether nothing was reported.
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// The highest step reported and its value (optuna's `last_step`).
    pub fn last(&self) -> Option<(u64, f64)> {
        self.points.last().copied()
    }

    /// The value reported at `step`.
    pub fn at(&self, step: u64) -> Option<f64> {
        self.points
            .binary_search_by_key(&step, |&(s, _)| s)
            .ok()
            .map(|i| self.points[i].1)
    }

    /// The first value reported at `step` or after it: what a trial that skipped `step`
    /// stands at there.
    pub fn from_step(&self, step: u64) -> Option<f64> {
        let at = self.points.partition_point(|&(s, _)| s < step);
        self.points.get(at).map(|&(_, v)| v)
    }

    /// The highest step reported below `step`.
    fn step_before(&self, step: u64) -> Option<u64> {
        let at = self.points.partition_point(|&(s, _)| s < step);
        at.checked_sub(1).map(|i| self.points[i].0)
    }
}

/// What one trial has reported and where it stands.
#[derive(Debug, Clone)]
struct Entry {
    state: TrialState,
    curve: Curve,
    /// The objective's value, once complete.
    value: Option<f64>,
}

/// Every trial's reported values and state, as the pruner sees them.
#[derive(Debug, Clone)]
pub struct Progress {
    direction: Direction,
    trials: Vec<Entry>,
    complete: usize,
    /// The highest last step of a complete trial.
    full: Option<u64>,
}

impl Progress {
    /// No trials yet, for an objective optimized in `direction`.
    pub fn new(direction: Direction) -> Self {
        Progress {
            direction,
            trials: Vec::new(),
            complete: 0,
            full: None,
        }
    }

    /// The direction of the objective (and of the reported values).
    pub fn direction(&self) -> Direction {
        self.direction
    }

    /// How many trials there are.
    pub fn len(&self) -> usize {
        self.trials.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.trials.is_empty()
    }

    /// How many trials are complete.
    pub fn complete(&self) -> usize {
        self.complete
    }

    /// Whether trial `trial` has reported a step at or past the last step of a complete
    /// trial: it has run as long as a trial that completed, and stopping it would save
    /// nothing (a study never stops it there, whatever its pruner says, so that a trial
    /// that did all its work, its last report on a rung, say, ends complete).
    pub fn ran_full(&self, trial: usize) -> bool {
        let last = self.curve(trial).last();
        self.full
            .zip(last)
            .is_some_and(|(full, (step, _))| step >= full)
    }

    /// Trial `trial`'s reported values (empty for an unknown trial).
    pub fn curve(&self, trial: usize) -> &Curve {
        static EMPTY: Curve = Curve {
            points: SmallVec::new_const(),
        };
        self.trials.get(trial).map_or(&EMPTY, |e| &e.curve)
    }

    /// Trial `trial`'s state (`None` for an unknown trial).
    pub fn state(&self, trial: usize) -> Option<TrialState> {
        self.trials.get(trial).map(|e| e.state)
    }

    /// A reported value as a score where lower is better (NaN stays NaN).
    pub fn score(&self, value: f64) -> f64 {
        self.direction.score(value)
    }

    /// Every trial with its state and curve, by number.
    pub fn iter(&self) -> impl Iterator<Item = (usize, TrialState, &Curve)> {
        self.trials
            .iter()
            .enumerate()
            .map(|(n, e)| (n, e.state, &e.curve))
    }

    /// Trial `trial` was added (running, or in the state a loaded history gives it).
    pub(crate) fn push(&mut self, trial: usize, state: TrialState) {
        debug_assert_eq!(trial, self.trials.len());
        self.trials.push(Entry {
            state,
            curve: Curve::default(),
            value: None,
        });
        self.complete += usize::from(state == TrialState::Complete);
    }

    /// Records a report; `false` when the step was reported already.
    pub(crate) fn report(&mut self, trial: usize, step: u64, value: f64) -> bool {
        self.trials
            .get_mut(trial)
            .is_some_and(|e| e.curve.insert(step, value))
    }

    /// Trial `trial` ended in `state`, with the objective's `value` when complete.
    pub(crate) fn finish(&mut self, trial: usize, state: TrialState, value: Option<f64>) {
        if let Some(e) = self.trials.get_mut(trial) {
            self.complete -= usize::from(e.state == TrialState::Complete);
            e.state = state;
            e.value = value;
            if state == TrialState::Complete {
                self.complete += 1;
                if let Some((last, _)) = e.curve.last() {
                    self.full = Some(self.full.map_or(last, |full| full.max(last)));
                }
            }
        }
    }

    /// Trial `trial`'s objective value, once it is complete.
    pub fn value(&self, trial: usize) -> Option<f64> {
        self.trials.get(trial).and_then(|e| e.value)
    }

    /// The lowest score trial `trial` reported over its steps (NaN when it reported only
    /// NaN, or nothing).
    pub fn best_score(&self, trial: usize) -> f64 {
        self.lowest_score(self.curve(trial).points())
            .unwrap_or(f64::NAN)
    }

    /// The lowest score among `points` (reported values), NaN left out; `None` when
    /// there is none.
    pub fn lowest_score(&self, points: &[(u64, f64)]) -> Option<f64> {
        points
            .iter()
            .map(|&(_, v)| self.score(v))
            .filter(|s| !s.is_nan())
            .min_by(f64::total_cmp)
    }
}

/// When to judge: after `warmup` steps, once per `interval` steps.
///
/// A trial is judged at step `s >= warmup` only when it is the first step it reported in
/// its interval (`(s - warmup) / interval`), so trials that skip steps are still judged
/// once per interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Schedule {
    pub warmup: u64,
    pub interval: u64,
}

impl Schedule {
    /// Whether a trial whose curve is `curve`, having just reported its highest step
    /// `step`, is to be judged now.
    pub fn due(&self, curve: &Curve, step: u64) -> bool {
        if step < self.warmup {
            return false;
        }
        let bucket_start = (step - self.warmup) / self.interval * self.interval + self.warmup;
        curve
            .step_before(step)
            .is_none_or(|prev| prev < bucket_start)
    }
}

/// A pruner that never prunes (the default of studies, `fmin` and sweeps).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoPruning;

impl Pruner for NoPruning {
    fn name(&self) -> &str {
        PrunerKind::None.as_str()
    }

    fn session(&self, _seed: u64) -> Box<dyn PrunerSession> {
        Box::new(NoPruning)
    }
}

impl PrunerSession for NoPruning {
    fn judge(&mut self, _progress: &Progress, _trial: usize) -> bool {
        false
    }
}

/// The built-in pruners, by the names configs use. The default is
/// [`None`](PrunerKind::None).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PrunerKind {
    /// [`NoPruning`]: every trial runs to its end.
    #[default]
    None,
    /// [`Median`]: stop below the median of complete trials at the same step.
    Median,
    /// [`Percentile`]: stop below a percentile of complete trials at the same step.
    Percentile,
    /// [`SuccessiveHalving`] (asynchronous, ASHA).
    Asha,
    /// [`Hyperband`]: brackets of successive halving.
    Hyperband,
    /// [`Wilcoxon`]: a signed-rank test against the best trial, per instance or fold.
    Wilcoxon,
    /// [`Threshold`]: stop outside fixed bounds.
    Threshold,
}

impl PrunerKind {
    /// Every built-in pruner, in the order error messages list them.
    pub const ALL: [PrunerKind; 7] = [
        PrunerKind::None,
        PrunerKind::Median,
        PrunerKind::Percentile,
        PrunerKind::Asha,
        PrunerKind::Hyperband,
        PrunerKind::Wilcoxon,
        PrunerKind::Threshold,
    ];

    /// The name as written in configs (`"asha"`).
    pub fn as_str(self) -> &'static str {
        match self {
            PrunerKind::None => "none",
            PrunerKind::Median => "median",
            PrunerKind::Percentile => "percentile",
            PrunerKind::Asha => "asha",
            PrunerKind::Hyperband => "hyperband",
            PrunerKind::Wilcoxon => "wilcoxon",
            PrunerKind::Threshold => "threshold",
        }
    }

    /// The names, quoted and comma-separated, for messages (`"none", "median", ...`).
    pub fn listed() -> String {
        crate::suggest::quoted_list(&PrunerKind::ALL, PrunerKind::as_str)
    }

    /// The pruner of this kind with its defaults, as a sweep's `[pruner]` table with only
    /// `kind` gives it ([`PrunerSpec::new`]; [`PrunerSpec::from_settings`] takes settings).
    pub fn pruner(self) -> Box<dyn Pruner> {
        PrunerSpec::new(self).build()
    }
}

impl std::str::FromStr for PrunerKind {
    type Err = UnknownPruner;

    /// Matches names case-insensitively, surrounding whitespace ignored.
    fn from_str(name: &str) -> Result<Self, UnknownPruner> {
        crate::suggest::by_name(name, &PrunerKind::ALL, PrunerKind::as_str).map_err(|suggestion| {
            UnknownPruner {
                name: name.to_string(),
                suggestion,
            }
        })
    }
}

/// A name that is no built-in pruner's ([`PrunerKind`]'s `FromStr`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown pruner {name:?}: expected one of {}{}",
    PrunerKind::listed(),
    suggestion.map_or_else(String::new, |s| format!("; did you mean {s:?}?"))
)]
pub struct UnknownPruner {
    /// The name given.
    pub name: String,
    /// The closest known name, if one is close.
    pub suggestion: Option<&'static str>,
}

impl std::fmt::Display for PrunerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `p`-th percentile (0 to 100) of `sorted` (ascending, no NaN), interpolated linearly
/// between the nearest ranks as numpy's default does; NaN when empty.
pub(crate) fn percentile_of_sorted(sorted: &[f64], p: f64) -> f64 {
    let Some(last) = sorted.len().checked_sub(1) else {
        return f64::NAN;
    };
    let rank = p / 100.0 * last as f64;
    let lo = rank.floor() as usize;
    let hi = rank.ceil() as usize;
    let frac = rank - lo as f64;
    sorted[lo] + (sorted[hi] - sorted[lo]) * frac
}

/// Inserts `value` into ascending `sorted`, after equal values.
pub(crate) fn insert_sorted(sorted: &mut Vec<f64>, value: f64) {
    let at = sorted.partition_point(|&v| v <= value);
    sorted.insert(at, value);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curves_keep_the_first_value_of_a_step_in_step_order() {
        let mut c = Curve::default();
        assert!(c.insert(3, 0.3));
        assert!(c.insert(1, 0.1));
        assert!(!c.insert(3, 9.0));
        assert_eq!(c.points(), &[(1, 0.1), (3, 0.3)]);
        assert_eq!(c.last(), Some((3, 0.3)));
        assert_eq!(c.at(1), Some(0.1));
        assert_eq!(c.at(2), None);
        assert_eq!(c.step_before(3), Some(1));
        assert_eq!(c.step_before(1), None);
        assert_eq!(c.from_step(2), Some(0.3));
        assert_eq!(c.from_step(1), Some(0.1));
        assert_eq!(c.from_step(4), None);
    }

    #[test]
    fn schedules_judge_once_per_interval_after_warmup() {
        let s = Schedule {
            warmup: 2,
            interval: 3,
        };
        let mut c = Curve::default();
        let mut due = Vec::new();
        for step in [0, 1, 2, 3, 4, 5, 7, 8, 9, 12] {
            c.insert(step, 1.0);
            if s.due(&c, step) {
                due.push(step);
            }
        }
        // Buckets start at 2, 5, 8, 11; step 7 is in 5's bucket after 5, 12 in 11's.
        assert_eq!(due, [2, 5, 8, 12]);
    }

    #[test]
    fn percentiles_interpolate_like_numpy() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(percentile_of_sorted(&v, 50.0), 2.5);
        assert_eq!(percentile_of_sorted(&v, 0.0), 1.0);
        assert_eq!(percentile_of_sorted(&v, 100.0), 4.0);
        assert!((percentile_of_sorted(&v, 25.0) - 1.75).abs() < 1e-12);
        assert!(percentile_of_sorted(&[], 50.0).is_nan());
    }

    #[test]
    fn kinds_round_trip_their_names() {
        for k in PrunerKind::ALL {
            assert_eq!(k.as_str().parse(), Ok(k));
        }
        assert_eq!(" ASHA ".parse(), Ok(PrunerKind::Asha));
        let e = "ahsa".parse::<PrunerKind>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown pruner \"ahsa\": expected one of \"none\", \"median\", \"percentile\", \
             \"asha\", \"hyperband\", \"wilcoxon\", \"threshold\"; did you mean \"asha\"?"
        );
        assert_eq!("x".parse::<PrunerKind>().unwrap_err().suggestion, None);
    }
}
