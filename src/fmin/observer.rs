//! Hooks through which tracking (or anything else) follows a search.

use std::time::Duration;

use crate::space::Space;
use crate::trials::{Direction, Trial, Trials};

/// The error an observer or a trial log reports; it stops the search.
pub type ObserverError = Box<dyn std::error::Error + Send + Sync>;

/// The settings of a search, as observers see them when it starts.
#[derive(Debug, Clone)]
pub struct SearchInfo<'a> {
    /// The space searched.
    pub space: &'a Space,
    /// The sampler's name (`"tpe"`, `"random"`, ...).
    pub algo: &'a str,
    /// The total number of trials, earlier ones included.
    pub max_evals: usize,
    /// The seed of the search.
    pub seed: u64,
    /// How many trials run at once.
    pub parallelism: usize,
    /// Whether trials are proposed in reproducible batches.
    pub schedule: super::Schedule,
    /// Whether the objective is minimized or maximized.
    pub direction: Direction,
    /// The time limit, if any.
    pub timeout: Option<Duration>,
    /// The loss at which the search stops, if any.
    pub loss_threshold: Option<f64>,
    /// Stop after this many trials without improvement, if set.
    pub early_stop_after: Option<usize>,
    /// Trials carried over from an earlier search.
    pub warm_start_trials: usize,
}

/// Why a search stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// `max_evals` trials were run.
    MaxEvals,
    /// The time limit passed.
    Timeout,
    /// A trial reached the loss threshold.
    LossThreshold,
    /// No trial improved on the best for the configured number of trials.
    NoImprovement,
    /// The sampler has no new points to propose (an exhausted grid).
    Exhausted,
}

impl StopReason {
    /// A short lowercase description.
    pub fn as_str(self) -> &'static str {
        match self {
            StopReason::MaxEvals => "max_evals reached",
            StopReason::Timeout => "timeout",
            StopReason::LossThreshold => "loss threshold reached",
            StopReason::NoImprovement => "no improvement",
            StopReason::Exhausted => "search space exhausted",
        }
    }
}

/// Where an objective logs during its trial, through [`TrialContext`](super::TrialContext).
///
/// Observers hand one out per trial from [`Observer::trial_started`]; the default methods
/// discard everything, so an observer implements only what it stores.
pub trait TrialLog: Send + Sync {
    /// The id of the tracking run that holds this trial, if any.
    fn run_id(&self) -> Option<&str> {
        None
    }

    /// Records a metric value at a step.
    fn log_metric(&self, _key: &str, _value: f64, _step: i64) -> Result<(), ObserverError> {
        Ok(())
    }

    /// Stores a file of the trial under a relative path.
    fn log_artifact(&self, _path: &str, _contents: &[u8]) -> Result<(), ObserverError> {
        Ok(())
    }
}

/// A trial log that stores nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoLog;

impl TrialLog for NoLog {}

/// Follows a search: told when it starts, when each trial starts and finishes, and when it
/// ends. Calls come from one thread, in order. An error stops the search (after the trials
/// already running finish) and is returned by [`Fmin::run`](super::Fmin::run).
pub trait Observer: Send + Sync {
    /// The search starts.
    fn search_started(&self, _search: &SearchInfo<'_>) -> Result<(), ObserverError> {
        Ok(())
    }

    /// A trial is about to be evaluated; returns where its objective may log.
    fn trial_started(&self, _trial: &Trial) -> Result<Box<dyn TrialLog>, ObserverError> {
        Ok(Box::new(NoLog))
    }

    /// A trial finished (complete, failed or pruned). `best` is the best trial so far.
    fn trial_finished(&self, _trial: &Trial, _best: Option<&Trial>) -> Result<(), ObserverError> {
        Ok(())
    }

    /// The search ended.
    fn search_finished(&self, _trials: &Trials, _reason: StopReason) -> Result<(), ObserverError> {
        Ok(())
    }
}
