//! Trials: what a search has tried, the history samplers read.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

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

/// Where a trial stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum TrialState {
    /// Proposed and being evaluated ("pending").
    Running,
    /// Evaluated, with a finite loss.
    Complete,
    /// The objective returned an error, panicked, or gave a NaN or infinite loss.
    Failed,
    /// Stopped early by the objective.
    Pruned,
}

/// One evaluation of the objective.
#[derive(Debug, Clone, PartialEq)]
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
    /// Why it failed or was pruned.
    pub error: Option<String>,
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
            started: SystemTime::now(),
            duration: None,
        }
    }
}

/// The history of a search: every trial proposed so far, finished or pending.
#[derive(Debug)]
pub struct Trials {
    direction: Direction,
    trials: Vec<Trial>,
    /// Identifies this history among all others in the process (see [`Trials::id`]).
    id: u64,
    /// A compact summary of the trials, brought up to date lazily (see [`Trials::index`]).
    index: Mutex<TrialIndex>,
}

impl Default for Trials {
    fn default() -> Self {
        Trials::new(Direction::default())
    }
}

impl Clone for Trials {
    fn clone(&self) -> Self {
        Trials {
            direction: self.direction,
            trials: self.trials.clone(),
            id: next_history_id(),
            index: Mutex::new(self.lock_index().clone()),
        }
    }
}

/// A fresh history id: ids are never reused within a process.
fn next_history_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// What a sampler reads of every trial on each suggestion, kept compact and up to date by
/// [`Trials`] as trials are pushed or modified.
///
/// Scanning these arrays costs a few instructions per trial, where walking the trials
/// themselves would touch every trial's point, metrics and strings. The epochs let a
/// sampler that keeps a model between suggestions tell which trials changed since.
#[derive(Debug, Clone, Default)]
pub struct TrialIndex {
    /// Per trial number: the score (loss, negated when maximizing) of a complete trial,
    /// `NaN` for any other state.
    scores: Vec<f64>,
    /// Per trial number: the length of its encoded point.
    widths: Vec<u32>,
    /// Per trial number: how many times it was pushed or handed out mutably.
    epochs: Vec<u32>,
    /// Numbers of the running trials, ascending.
    running: Vec<usize>,
    /// Trials pushed or handed out mutably since the last update.
    dirty: Vec<usize>,
}

impl TrialIndex {
    /// Per trial number: the score of each complete trial (lower is better), `NaN` for
    /// trials in any other state. A complete trial's score can itself be non-finite.
    pub fn scores(&self) -> &[f64] {
        &self.scores
    }

    /// Per trial number: the length of the trial's encoded point.
    pub fn widths(&self) -> &[u32] {
        &self.widths
    }

    /// Per trial number: a counter that changes whenever the trial may have changed (it
    /// was pushed, or handed out by [`Trials::get_mut`]).
    pub fn epochs(&self) -> &[u32] {
        &self.epochs
    }

    /// The numbers of the running trials, ascending.
    pub fn running(&self) -> &[usize] {
        &self.running
    }

    fn update(&mut self, direction: Direction, trials: &[Trial]) {
        let n = trials.len();
        self.scores.resize(n, f64::NAN);
        self.widths.resize(n, 0);
        self.epochs.resize(n, 0);
        let mut dirty = std::mem::take(&mut self.dirty);
        for &number in &dirty {
            let Some(trial) = trials.get(number) else {
                continue;
            };
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
        // Keep the allocation for the next batch.
        dirty.clear();
        self.dirty = dirty;
    }
}

impl Trials {
    /// An empty history for an objective optimized in `direction`.
    pub fn new(direction: Direction) -> Self {
        Trials {
            direction,
            trials: Vec::new(),
            id: next_history_id(),
            index: Mutex::default(),
        }
    }

    /// The direction of the objective.
    pub fn direction(&self) -> Direction {
        self.direction
    }

    /// Every trial, in the order proposed.
    pub fn all(&self) -> &[Trial] {
        &self.trials
    }

    /// The number of trials, pending ones included.
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

    /// The trials still being evaluated.
    pub fn running(&self) -> impl Iterator<Item = &Trial> {
        self.trials
            .iter()
            .filter(|t| t.state == TrialState::Running)
    }

    /// The best complete trial.
    pub fn best(&self) -> Option<&Trial> {
        self.completed()
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(t, _)| t)
    }

    /// Appends a trial; its number must be the next one.
    pub fn push(&mut self, trial: Trial) {
        debug_assert_eq!(trial.number, self.trials.len());
        let index = self.index.get_mut().unwrap_or_else(|e| e.into_inner());
        index.dirty.push(self.trials.len());
        self.trials.push(trial);
    }

    /// Mutable access to a trial, to record its outcome.
    pub fn get_mut(&mut self, number: usize) -> Option<&mut Trial> {
        let index = self.index.get_mut().unwrap_or_else(|e| e.into_inner());
        if number < self.trials.len() {
            index.dirty.push(number);
        }
        self.trials.get_mut(number)
    }

    /// An id that no other history in this process has, also not a clone of this one:
    /// with [`TrialIndex::epochs`] it lets a sampler keep a model of this history between
    /// suggestions and tell what changed.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The compact summary of every trial, brought up to date first (cost proportional to
    /// the trials changed since the last call).
    ///
    /// The guard locks the index: drop it before calling methods that modify the history.
    pub fn index(&self) -> MutexGuard<'_, TrialIndex> {
        let mut index = self.lock_index();
        if !index.dirty.is_empty() {
            index.update(self.direction, &self.trials);
        }
        index
    }

    fn lock_index(&self) -> MutexGuard<'_, TrialIndex> {
        // The index is rebuilt from the trials, so a panic elsewhere cannot leave it wrong
        // in a way that matters: keep using it.
        self.index.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trial(number: usize, state: TrialState, x: Vec<f64>) -> Trial {
        Trial {
            number,
            state,
            x,
            point: Point::default(),
            loss: Some(number as f64),
            metrics: Vec::new(),
            error: None,
            started: SystemTime::UNIX_EPOCH,
            duration: None,
        }
    }

    #[test]
    fn index_follows_pushes_and_completions() {
        let mut t = Trials::new(Direction::Maximize);
        t.push(trial(0, TrialState::Complete, vec![3.0, f64::NAN]));
        t.push(trial(1, TrialState::Running, vec![1.0, 5.0]));
        t.push(trial(2, TrialState::Complete, vec![2.0]));
        {
            let index = t.index();
            assert_eq!(index.scores()[0], -0.0);
            assert!(index.scores()[1].is_nan());
            assert_eq!(index.scores()[2], -2.0);
            assert_eq!(index.widths(), &[2, 2, 1]);
            assert_eq!(index.running(), &[1]);
        }
        let before = t.index().epochs().to_vec();
        if let Some(tr) = t.get_mut(1) {
            tr.state = TrialState::Complete;
        }
        let index = t.index();
        assert_eq!(index.scores()[1], -1.0);
        assert!(index.running().is_empty());
        assert_ne!(index.epochs()[1], before[1]);
        assert_eq!(index.epochs()[0], before[0]);
        drop(index);
        let copy = t.clone();
        assert_ne!(copy.id(), t.id());
        assert_eq!(copy.index().scores()[1], -1.0);
    }
}
