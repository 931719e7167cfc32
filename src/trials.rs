//! Trials: what a search has tried, the history samplers read.

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
#[derive(Debug, Default)]
pub struct Trials {
    direction: Direction,
    trials: Vec<Trial>,
    /// Sorted values per parameter, brought up to date lazily (see [`Trials::value_index`]).
    index: Mutex<ValueIndex>,
}

impl Clone for Trials {
    fn clone(&self) -> Self {
        Trials {
            direction: self.direction,
            trials: self.trials.clone(),
            index: Mutex::new(self.lock_index().clone()),
        }
    }
}

/// The encoded values of every complete trial, sorted per parameter.
///
/// Kept by [`Trials`] and updated incrementally as trials are pushed or modified, so a
/// sampler that needs observations in sorted order (TPE's bandwidths) does not sort the
/// whole history on every suggestion.
#[derive(Debug, Clone, Default)]
pub struct ValueIndex {
    /// Per parameter position: `(value, trial number)` of complete trials, ascending
    /// by value then number; `NaN` (inactive) values are left out.
    by_param: Vec<Vec<(f64, usize)>>,
    /// Whether each trial's values are in `by_param`.
    indexed: Vec<bool>,
    /// Trials pushed or handed out mutably since the last update.
    dirty: Vec<usize>,
}

impl ValueIndex {
    fn rebuild(&mut self, trials: &[Trial]) {
        self.by_param.iter_mut().for_each(Vec::clear);
        self.indexed.iter_mut().for_each(|i| *i = false);
        for t in trials.iter().filter(|t| t.state == TrialState::Complete) {
            if self.by_param.len() < t.x.len() {
                self.by_param.resize_with(t.x.len(), Vec::new);
            }
            for (list, &v) in self.by_param.iter_mut().zip(&t.x) {
                if !v.is_nan() {
                    list.push((v, t.number));
                }
            }
            if let Some(i) = self.indexed.get_mut(t.number) {
                *i = true;
            }
        }
        for list in &mut self.by_param {
            list.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        }
    }

    /// `(value, trial number)` for every complete trial where parameter `param` (its
    /// position in the encoded point) is active, ascending by value then trial number.
    pub fn sorted(&self, param: usize) -> &[(f64, usize)] {
        self.by_param.get(param).map_or(&[], Vec::as_slice)
    }

    fn update(&mut self, trials: &[Trial]) {
        let mut dirty = std::mem::take(&mut self.dirty);
        dirty.sort_unstable();
        dirty.dedup();
        self.indexed.resize(trials.len(), false);
        if dirty.len() > 64 && dirty.len() * 8 > trials.len() {
            // Many changes at once (a resumed or freshly built history): one sort beats
            // thousands of insertions into the middle of long vectors.
            self.rebuild(trials);
            dirty.clear();
            self.dirty = dirty;
            return;
        }
        for &number in &dirty {
            let Some(trial) = trials.get(number) else {
                continue;
            };
            if self.indexed[number] {
                // Rare: a complete trial was modified. Its old values are unknown, so drop
                // its entries by number.
                for list in &mut self.by_param {
                    list.retain(|&(_, n)| n != number);
                }
                self.indexed[number] = false;
            }
            if trial.state != TrialState::Complete {
                continue;
            }
            if self.by_param.len() < trial.x.len() {
                self.by_param.resize_with(trial.x.len(), Vec::new);
            }
            for (list, &v) in self.by_param.iter_mut().zip(&trial.x) {
                if v.is_nan() {
                    continue;
                }
                let at =
                    list.partition_point(|&(w, n)| w.total_cmp(&v).then(n.cmp(&number)).is_lt());
                list.insert(at, (v, number));
            }
            self.indexed[number] = true;
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

    /// The values of the complete trials sorted per parameter, brought up to date first
    /// (cost proportional to the trials changed since the last call).
    ///
    /// The guard locks the index: drop it before calling methods that modify the history.
    pub fn value_index(&self) -> MutexGuard<'_, ValueIndex> {
        let mut index = self.lock_index();
        if !index.dirty.is_empty() {
            index.update(&self.trials);
        }
        index
    }

    fn lock_index(&self) -> MutexGuard<'_, ValueIndex> {
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
    fn value_index_follows_pushes_and_completions() {
        let mut t = Trials::new(Direction::Minimize);
        t.push(trial(0, TrialState::Complete, vec![3.0, f64::NAN]));
        t.push(trial(1, TrialState::Running, vec![1.0, 5.0]));
        t.push(trial(2, TrialState::Complete, vec![2.0, 4.0]));
        assert_eq!(t.value_index().sorted(0), &[(2.0, 2), (3.0, 0)]);
        assert_eq!(t.value_index().sorted(1), &[(4.0, 2)]);
        if let Some(tr) = t.get_mut(1) {
            tr.state = TrialState::Complete;
        }
        assert_eq!(t.value_index().sorted(0), &[(1.0, 1), (2.0, 2), (3.0, 0)]);
        if let Some(tr) = t.get_mut(2) {
            tr.state = TrialState::Failed;
        }
        assert_eq!(t.value_index().sorted(1), &[(5.0, 1)]);
        assert_eq!(t.clone().value_index().sorted(0), &[(1.0, 1), (3.0, 0)]);
        assert!(t.value_index().sorted(7).is_empty());
    }
}
