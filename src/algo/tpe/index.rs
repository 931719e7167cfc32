//! What TPE reads of every trial on each suggestion, kept compact and up to date as the
//! study reports trials through [`Session::observe`](crate::algo::Session::observe).

use crate::trials::{Direction, Trial, TrialState};

/// Per trial number: its score, its width and a change counter; and the running trials.
///
/// Scanning these arrays costs a few instructions per trial, where walking the trials
/// themselves would touch every trial's point, metrics and strings. The epochs let the
/// bad-set estimators tell which trials changed since they last looked.
#[derive(Debug, Clone, Default)]
pub(super) struct HistoryIndex {
    /// Per trial number: the score (loss, negated when maximizing) of a complete trial,
    /// `NaN` for any other state.
    scores: Vec<f64>,
    /// Per trial number: the length of its encoded point.
    widths: Vec<u32>,
    /// Per trial number: how many times it was observed.
    epochs: Vec<u32>,
    /// Numbers of the running trials, ascending.
    running: Vec<usize>,
    /// The pruned trials, by number: how far each got and its last value's score.
    pruned: Vec<Pruned>,
}

/// A pruned trial in the ranking: after every complete trial, those that got further
/// first, then by the score of their last value (NaN last), then by age (optuna's order).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Pruned {
    pub number: usize,
    pub last_step: u64,
    pub score: f64,
}

impl Pruned {
    /// The ranking order: lower ranks first.
    pub fn rank(&self, other: &Pruned) -> std::cmp::Ordering {
        let score = |p: &Pruned| {
            if p.score.is_nan() {
                f64::INFINITY
            } else {
                p.score
            }
        };
        other
            .last_step
            .cmp(&self.last_step)
            .then(score(self).total_cmp(&score(other)))
            .then(self.number.cmp(&other.number))
    }
}

impl HistoryIndex {
    /// Per trial number: the score of each complete trial (lower is better), `NaN` for
    /// trials in any other state. A complete trial's score can itself be non-finite.
    pub fn scores(&self) -> &[f64] {
        &self.scores
    }

    /// Per trial number: the length of the trial's encoded point.
    pub fn widths(&self) -> &[u32] {
        &self.widths
    }

    /// Per trial number: a counter that changes whenever the trial is observed.
    pub fn epochs(&self) -> &[u32] {
        &self.epochs
    }

    /// The numbers of the running trials, ascending.
    pub fn running(&self) -> &[usize] {
        &self.running
    }

    /// The pruned trials, by number.
    pub fn pruned(&self) -> &[Pruned] {
        &self.pruned
    }

    /// The number of trials indexed.
    pub fn len(&self) -> usize {
        self.scores.len()
    }

    /// Takes in a trial that was added or changed.
    pub fn observe(&mut self, direction: Direction, trial: &Trial) {
        let number = trial.number;
        if self.scores.len() <= number {
            self.scores.resize(number + 1, f64::NAN);
            self.widths.resize(number + 1, 0);
            self.epochs.resize(number + 1, 0);
        }
        self.scores[number] = match (trial.state, trial.loss) {
            (TrialState::Complete, Some(loss)) => direction.score(loss),
            _ => f64::NAN,
        };
        self.widths[number] = u32::try_from(trial.x.len()).unwrap_or(u32::MAX);
        self.epochs[number] = self.epochs[number].wrapping_add(1);
        let at = self.running.binary_search(&number);
        match (at, trial.state == TrialState::Running) {
            (Err(i), true) => self.running.insert(i, number),
            (Ok(i), false) => {
                self.running.remove(i);
            }
            _ => {}
        }
        let at = self.pruned.binary_search_by_key(&number, |p| p.number);
        let pruned = (trial.state == TrialState::Pruned).then(|| Pruned {
            number,
            last_step: trial.last_step.unwrap_or(0),
            score: trial.loss.map_or(f64::NAN, |l| direction.score(l)),
        });
        match (at, pruned) {
            (Err(i), Some(p)) => self.pruned.insert(i, p),
            (Ok(i), Some(p)) => self.pruned[i] = p,
            (Ok(i), None) => {
                self.pruned.remove(i);
            }
            (Err(_), None) => {}
        }
    }
}
