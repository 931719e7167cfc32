//! Hooks through which progress displays (or anything else) follow a search.

use std::time::Duration;

use crate::space::Space;
use crate::study::StopReason;
use crate::trials::{Direction, Trial, Trials};

/// The error an observer reports; it stops the search.
pub type ObserverError = Box<dyn std::error::Error + Send + Sync>;

/// The settings of a search, as observers see them when it starts.
#[derive(Debug, Clone)]
#[non_exhaustive]
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
    /// Trials the study held when the search started.
    pub warm_start_trials: usize,
    /// The parent run of a tracked search.
    pub parent_run_id: Option<&'a str>,
}

/// Follows a search: told when it starts, when each trial starts and finishes, and when it
/// ends. Calls come from one thread, in order. An error stops the search (after the trials
/// already running finish) and is returned by [`Fmin::run`](super::Fmin::run). Tracking is
/// not an observer: it is part of the [`Study`](crate::study::Study).
pub trait Observer: Send + Sync {
    /// The search starts.
    fn search_started(&self, _search: &SearchInfo<'_>) -> Result<(), ObserverError> {
        Ok(())
    }

    /// A trial is about to be evaluated.
    fn trial_started(&self, _trial: &Trial) -> Result<(), ObserverError> {
        Ok(())
    }

    /// A trial finished (complete, failed, pruned or killed). `best` is the best trial so
    /// far.
    fn trial_finished(&self, _trial: &Trial, _best: Option<&Trial>) -> Result<(), ObserverError> {
        Ok(())
    }

    /// The search ended.
    fn search_finished(&self, _trials: &Trials, _reason: StopReason) -> Result<(), ObserverError> {
        Ok(())
    }
}
