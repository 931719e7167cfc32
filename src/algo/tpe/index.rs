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
    }
}
