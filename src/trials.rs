//! Trials: what a search has tried, the history samplers read.
//!
//! [`Trials`] is a plain record, checked as it grows: trial numbers run from 0 without gaps
//! or repeats, whoever builds it. Samplers keep their own models of it (see
//! [`Session`](crate::algo::Session)); the [`Study`](crate::study::Study) that owns a
//! history tells them what changed.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::fmin::{Outcome, Status};
use crate::space::Point;

/// Whether an objective is minimized or maximized.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Lower values are better (the default).
    #[default]
    Minimize,
    /// Higher values are better.
    Maximize,
}

impl Direction {
    /// The value turned into a score where lower is always better.
    pub fn score(self, value: f64) -> f64 {
        match self {
            Direction::Minimize => value,
            Direction::Maximize => -value,
        }
    }

    /// `"minimize"` or `"maximize"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Minimize => "minimize",
            Direction::Maximize => "maximize",
        }
    }
}

/// Where a trial stands. Stored as the upper-case name (`COMPLETE`, ...) through serde.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
#[non_exhaustive]
pub enum TrialState {
    /// Proposed and being evaluated ("pending").
    Running,
    /// Evaluated, with a finite loss.
    Complete,
    /// The objective returned an error, panicked, or gave a NaN or infinite loss.
    Failed,
    /// Stopped early by the objective.
    Pruned,
    /// Stopped from outside before it finished (the search was cancelled, or its process
    /// died). A killed trial is not a result: it does not count towards a budget and
    /// samplers ignore it, but its number is never reused.
    Killed,
}

impl TrialState {
    /// Every state, in the order a trial can pass through them.
    pub const ALL: [TrialState; 5] = [
        TrialState::Running,
        TrialState::Complete,
        TrialState::Failed,
        TrialState::Pruned,
        TrialState::Killed,
    ];

    /// The state's name in words: `running`, `complete`, `failed`, `pruned`, `killed`.
    pub fn as_str(self) -> &'static str {
        match self {
            TrialState::Running => "running",
            TrialState::Complete => "complete",
            TrialState::Failed => "failed",
            TrialState::Pruned => "pruned",
            TrialState::Killed => "killed",
        }
    }

    /// Whether the trial has ended (any state but [`Running`](TrialState::Running)).
    pub fn is_finished(self) -> bool {
        self != TrialState::Running
    }

    /// Whether the trial is a result of the search, counted towards its budget: complete,
    /// failed and pruned trials are; running and killed ones are not.
    pub fn is_result(self) -> bool {
        matches!(
            self,
            TrialState::Complete | TrialState::Failed | TrialState::Pruned
        )
    }
}

/// The state in words, for messages: `running`, `complete`, `failed`, `pruned`, `killed`.
impl std::fmt::Display for TrialState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for TrialState {
    type Err = crate::suggest::UnknownName;

    /// Matches the names [`Display`](std::fmt::Display) writes case-insensitively
    /// (`COMPLETE`, the stored form, too), and `fail`, optuna's and hyperopt's word for
    /// [`Failed`](TrialState::Failed).
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        if name.trim().eq_ignore_ascii_case("fail") {
            return Ok(TrialState::Failed);
        }
        crate::suggest::UnknownName::parse(
            "trial state",
            name,
            &TrialState::ALL,
            TrialState::as_str,
        )
    }
}

/// One evaluation of the objective.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Trial {
    /// Its number in the search, from 0, in the order trials were proposed.
    pub number: usize,
    /// Where it stands.
    pub state: TrialState,
    /// The point in the encoded form samplers use (see [`Space::encode`](crate::space::Space::encode)).
    pub x: Vec<f64>,
    /// The point as the objective saw it.
    pub point: Point,
    /// The objective's value, as returned (not negated when maximizing); set when complete.
    pub loss: Option<f64>,
    /// Further metrics the objective returned.
    pub metrics: Vec<(String, f64)>,
    /// Why it failed, was pruned or was killed.
    pub error: Option<String>,
    /// The highest step at which it [reported](crate::study::TrialContext::report) an
    /// intermediate value, if it did (a pruned trial's `loss` is the value reported
    /// there).
    pub last_step: Option<u64>,
    /// When evaluation started.
    pub started: SystemTime,
    /// How long the evaluation took; `None` while running.
    pub duration: Option<Duration>,
}

impl Trial {
    /// A trial just proposed: running, with no outcome yet.
    pub fn running(number: usize, x: Vec<f64>, point: Point) -> Self {
        Trial {
            number,
            state: TrialState::Running,
            x,
            point,
            loss: None,
            metrics: Vec::new(),
            error: None,
            last_step: None,
            started: SystemTime::now(),
            duration: None,
        }
    }

    /// This trial ended with `outcome` (checked: a missing or non-finite loss fails it),
    /// after `duration`.
    pub fn finished(mut self, outcome: Outcome, duration: Duration) -> Self {
        self.record(outcome, duration);
        self
    }

    /// Records how the trial ended.
    pub(crate) fn record(&mut self, outcome: Outcome, duration: Duration) {
        let outcome = outcome.checked();
        self.duration = Some(duration);
        self.loss = outcome.loss;
        self.metrics = outcome.metrics;
        (self.state, self.error) = match outcome.status {
            Status::Ok => (TrialState::Complete, None),
            Status::Failed(reason) => (TrialState::Failed, Some(reason)),
            Status::Pruned(reason) => (TrialState::Pruned, Some(reason)),
            Status::Killed(reason) => (TrialState::Killed, Some(reason)),
        };
    }

    /// Marks a running trial killed, with the reason.
    pub(crate) fn kill(&mut self, reason: impl Into<String>) {
        self.state = TrialState::Killed;
        self.error = Some(reason.into());
        self.duration = Some(self.started.elapsed().unwrap_or_default());
    }
}

/// Why a trial cannot join a history.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HistoryError {
    /// Trial numbers must run from 0 without gaps: the next one was expected.
    #[error(
        "trial {found} cannot follow {len} trials: numbers run from 0 without gaps, so the next must be {len}"
    )]
    Gap {
        /// How many trials the history holds (so the number expected next).
        len: usize,
        /// The number given.
        found: usize,
    },
    /// A trial with this number is in the history already.
    #[error("trial {number} is in the history twice")]
    Duplicate {
        /// The number given twice.
        number: usize,
    },
}

/// The history of a search: every trial proposed so far, finished or pending, numbered
/// from 0 without gaps.
///
/// Cloning shares the trials (they are copied only when one of the clones changes), so
/// the result of a long search costs no second copy of its history.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Trials {
    direction: Direction,
    trials: Arc<Vec<Trial>>,
    /// How many trials are in each state (by [`state_slot`]), kept as trials are pushed
    /// and updated, so budgets are checked without a pass over the history.
    counts: [usize; 5],
}

/// Where a state is counted in [`Trials::counts`](Trials).
fn state_slot(state: TrialState) -> usize {
    match state {
        TrialState::Running => 0,
        TrialState::Complete => 1,
        TrialState::Failed => 2,
        TrialState::Pruned => 3,
        TrialState::Killed => 4,
    }
}

impl Trials {
    /// An empty history for an objective optimized in `direction`.
    pub fn new(direction: Direction) -> Self {
        Trials {
            direction,
            trials: Arc::default(),
            counts: [0; 5],
        }
    }

    /// A history of these trials, in any order; their numbers must be `0..n`, each once.
    ///
    /// ```
    /// use hyperflow::trials::{Direction, HistoryError, Trial, Trials};
    /// use hyperflow::Point;
    ///
    /// let t = |n| Trial::running(n, vec![], Point::default());
    /// assert_eq!(Trials::from_trials(Direction::Minimize, [t(1), t(0)])?.len(), 2);
    /// assert_eq!(
    ///     Trials::from_trials(Direction::Minimize, [t(0), t(2)]).unwrap_err(),
    ///     HistoryError::Gap { len: 1, found: 2 }
    /// );
    /// # Ok::<(), HistoryError>(())
    /// ```
    pub fn from_trials(
        direction: Direction,
        trials: impl IntoIterator<Item = Trial>,
    ) -> Result<Self, HistoryError> {
        let mut trials: Vec<Trial> = trials.into_iter().collect();
        trials.sort_by_key(|t| t.number);
        let mut history = Trials::new(direction);
        Arc::make_mut(&mut history.trials).reserve(trials.len());
        for trial in trials {
            history.push(trial)?;
        }
        Ok(history)
    }

    /// The direction of the objective.
    pub fn direction(&self) -> Direction {
        self.direction
    }

    /// Every trial, in the order proposed.
    pub fn all(&self) -> &[Trial] {
        &self.trials
    }

    /// Every trial, in the order proposed, giving up the history (shared with its
    /// clones, if it has any).
    #[cfg(feature = "sweep")]
    pub(crate) fn into_shared(self) -> Arc<Vec<Trial>> {
        self.trials
    }

    /// The number of trials, pending and killed ones included.
    pub fn len(&self) -> usize {
        self.trials.len()
    }

    /// Whether no trial has been proposed.
    pub fn is_empty(&self) -> bool {
        self.trials.is_empty()
    }

    /// The trial with this number.
    pub fn get(&self, number: usize) -> Option<&Trial> {
        self.trials.get(number)
    }

    /// The trial's loss as a score where lower is better, if it is complete.
    pub fn score(&self, trial: &Trial) -> Option<f64> {
        match trial.state {
            TrialState::Complete => trial.loss.map(|l| self.direction.score(l)),
            _ => None,
        }
    }

    /// The complete trials with their scores (lower is better).
    pub fn completed(&self) -> impl Iterator<Item = (&Trial, f64)> {
        self.trials
            .iter()
            .filter_map(|t| self.score(t).map(|s| (t, s)))
    }

    /// The trials still being evaluated, in order.
    ///
    /// Running trials are few and recent, so the search starts at the oldest of them,
    /// found from the end: asking stays as cheap at the 100,000th trial as at the first.
    pub fn running(&self) -> impl Iterator<Item = &Trial> {
        let mut left = self.count(TrialState::Running);
        let from = if left == 0 {
            self.trials.len()
        } else {
            self.trials
                .iter()
                .rposition(|t| {
                    if t.state == TrialState::Running {
                        left -= 1;
                    }
                    left == 0
                })
                .unwrap_or(0)
        };
        self.trials[from..]
            .iter()
            .filter(|t| t.state == TrialState::Running)
    }

    /// The trials in `state`.
    pub fn in_state(&self, state: TrialState) -> impl Iterator<Item = &Trial> {
        self.trials.iter().filter(move |t| t.state == state)
    }

    /// How many trials are in `state`.
    pub fn count(&self, state: TrialState) -> usize {
        self.counts[state_slot(state)]
    }

    /// How many trials are results of the search (complete, failed or pruned; see
    /// [`TrialState::is_result`]).
    pub fn results(&self) -> usize {
        [TrialState::Complete, TrialState::Failed, TrialState::Pruned]
            .into_iter()
            .map(|s| self.count(s))
            .sum()
    }

    /// The best complete trial: the lowest score, the earliest on ties.
    pub fn best(&self) -> Option<&Trial> {
        self.completed()
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(t, _)| t)
    }

    /// Appends a trial; its number must be the next one ([`len`](Self::len)).
    pub fn push(&mut self, trial: Trial) -> Result<(), HistoryError> {
        let len = self.trials.len();
        match trial.number {
            n if n == len => {
                self.counts[state_slot(trial.state)] += 1;
                Arc::make_mut(&mut self.trials).push(trial);
                Ok(())
            }
            n if n < len => Err(HistoryError::Duplicate { number: n }),
            found => Err(HistoryError::Gap { len, found }),
        }
    }

    /// Changes trial `number` (the study records its outcome); `false` when there is no
    /// such trial. Its number stays as it was.
    pub(crate) fn update(&mut self, number: usize, change: impl FnOnce(&mut Trial)) -> bool {
        let Some(trial) = Arc::make_mut(&mut self.trials).get_mut(number) else {
            return false;
        };
        self.counts[state_slot(trial.state)] -= 1;
        change(trial);
        trial.number = number;
        self.counts[state_slot(trial.state)] += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trial(number: usize) -> Trial {
        Trial::running(number, vec![0.5], Point::default())
    }

    #[test]
    fn running_trials_are_found_wherever_they_are() {
        let mut t = Trials::new(Direction::Minimize);
        for n in 0..20 {
            t.push(trial(n)).unwrap();
        }
        let ends = [0, 1, 2, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14, 15, 16, 18];
        for n in ends {
            t.update(n, |t| t.state = TrialState::Complete);
        }
        let running = |t: &Trials| t.running().map(|t| t.number).collect::<Vec<_>>();
        assert_eq!(running(&t), [3, 7, 17, 19]);
        for n in [3, 7, 17, 19] {
            t.update(n, |t| t.state = TrialState::Failed);
        }
        assert_eq!(running(&t), Vec::<usize>::new());
        t.update(0, |t| t.state = TrialState::Running);
        assert_eq!(running(&t), [0]);
        assert_eq!(
            running(&Trials::new(Direction::Minimize)),
            Vec::<usize>::new()
        );
    }

    #[test]
    fn gaps_and_duplicates_are_errors() {
        let mut t = Trials::new(Direction::Minimize);
        t.push(trial(0)).unwrap();
        assert_eq!(t.push(trial(0)), Err(HistoryError::Duplicate { number: 0 }));
        assert_eq!(
            t.push(trial(5)),
            Err(HistoryError::Gap { len: 1, found: 5 })
        );
        assert_eq!(t.len(), 1);
        let err = Trials::from_trials(Direction::Minimize, [trial(0), trial(1), trial(1)]);
        assert_eq!(err, Err(HistoryError::Duplicate { number: 1 }));
        let ok = Trials::from_trials(Direction::Minimize, [trial(2), trial(0), trial(1)]).unwrap();
        assert_eq!(
            ok.all().iter().map(|t| t.number).collect::<Vec<_>>(),
            [0, 1, 2]
        );
    }

    #[test]
    fn states_count_as_results_or_not() {
        let mut t = Trials::new(Direction::Maximize);
        for n in 0..4 {
            t.push(trial(n)).unwrap();
        }
        assert_eq!(t.count(TrialState::Running), 4);
        t.update(0, |t| t.record(Outcome::loss(1.0), Duration::ZERO));
        t.update(1, |t| t.record(Outcome::loss(3.0), Duration::ZERO));
        t.update(2, |t| t.record(Outcome::loss(f64::NAN), Duration::ZERO));
        t.update(3, |t| t.kill("stopped"));
        assert!(!t.update(9, |t| t.kill("no such trial")));
        assert_eq!(t.count(TrialState::Running), 0);
        assert_eq!(t.count(TrialState::Killed), 1);
        assert_eq!(t.get(2).unwrap().state, TrialState::Failed);
        assert_eq!(t.get(3).unwrap().state, TrialState::Killed);
        assert_eq!(t.results(), 3);
        assert_eq!(t.best().unwrap().number, 1);
        assert_eq!(t.score(t.get(1).unwrap()), Some(-3.0));
    }
}
