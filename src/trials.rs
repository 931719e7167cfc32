//! Trials: what a search has tried, the history samplers read.

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

/// The history of a search: every trial proposed so far, finished or pending.
#[derive(Debug, Clone, Default)]
pub struct Trials {
    direction: Direction,
    trials: Vec<Trial>,
}

impl Trials {
    /// An empty history for an objective optimized in `direction`.
    pub fn new(direction: Direction) -> Self {
        Trials {
            direction,
            trials: Vec::new(),
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
        self.trials.push(trial);
    }

    /// Mutable access to a trial, to record its outcome.
    pub fn get_mut(&mut self, number: usize) -> Option<&mut Trial> {
        self.trials.get_mut(number)
    }
}
