//! A tracked study shared by several workers through its store's
//! [ledger](crate::tracking::ledger): keeping this worker's view current, and giving up
//! the trials of workers that died.

use std::time::Duration;

use super::{Study, StudyError, lock};
use crate::prune::{NoPruning, Pruner};
use crate::tracking::ledger::LedgerTrial;
use crate::trials::{Trial, TrialState};

/// Why a trial of a worker that died is marked failed.
const LOST: &str = "lost: its worker stopped (no heartbeat within the stale time, or its \
                    process on this machine is gone)";

impl Study {
    /// Reads what the study's other workers did since the last call (trials they asked,
    /// trials that ended) into this study, so its sampler sees them. A study that is not
    /// shared (untracked, or in a store without a ledger) has nothing to read.
    pub fn sync(&mut self) -> Result<usize, StudyError> {
        self.merge_held()?;
        let Some(store) = &mut self.store else {
            return Ok(0);
        };
        let rows = store.changes()?;
        let changed = rows.len();
        for row in rows {
            self.merge(row)?;
        }
        Ok(changed)
    }

    /// [`sync`](Study::sync) up to trial `number` (which this worker just claimed): the
    /// rows of later trials are held until it is in place ([`merge_held`](Self::merge_held)).
    pub(super) fn sync_before(&mut self, number: usize) -> Result<(), StudyError> {
        self.merge_held()?;
        let Some(store) = &mut self.store else {
            return Ok(());
        };
        for row in store.changes()? {
            if row.number as usize > number {
                self.held.push(row);
            } else {
                self.merge(row)?;
            }
        }
        Ok(())
    }

    /// Merges the rows [`sync_before`](Self::sync_before) held back.
    pub(super) fn merge_held(&mut self) -> Result<(), StudyError> {
        for row in std::mem::take(&mut self.held) {
            self.merge(row)?;
        }
        Ok(())
    }

    /// Gives up the running trials of workers that died (see
    /// [`StudyBuilder::stale_after`](super::StudyBuilder::stale_after)): marks them failed,
    /// gives their places in the budget back, and returns their numbers.
    pub fn release_lost(&mut self) -> Result<Vec<usize>, StudyError> {
        self.release_lost_since(Duration::ZERO)
    }

    /// [`release_lost`](Study::release_lost), unless this worker looked less than
    /// `recently` ago.
    pub(super) fn release_lost_since(
        &mut self,
        recently: Duration,
    ) -> Result<Vec<usize>, StudyError> {
        let Some(store) = &mut self.store else {
            return Ok(Vec::new());
        };
        if !store.is_joined() {
            return Ok(Vec::new());
        }
        let lost = store.lost_trials_since(recently)?;
        self.release(&lost)
    }

    /// Gives up the trials `lost` (running trials of workers that are gone, as the
    /// ledger says): those no other reaper ended first are marked failed and give their
    /// places in the budget back. Returns their numbers.
    pub(super) fn release(&mut self, lost: &[usize]) -> Result<Vec<usize>, StudyError> {
        let Some(store) = &mut self.store else {
            return Ok(Vec::new());
        };
        if lost.is_empty() {
            return Ok(Vec::new());
        }
        let trials = &self.trials;
        let ended = store.release_lost(lost, &self.space, |number| {
            let mut trial = trials.get(number).cloned().unwrap_or_else(|| {
                Trial::running(number, vec![f64::NAN; self.space.len()], Default::default())
            });
            trial.state = TrialState::Failed;
            trial.error = Some(LOST.to_string());
            trial
        })?;
        self.sync()?;
        Ok(ended)
    }

    /// The running trials that no live worker runs: of a shared study, those of workers
    /// that are gone (see [`kill_running`](Study::kill_running)); of another study, every
    /// running trial this handle did not ask (left by an earlier process).
    pub fn orphaned_trials(&mut self) -> Result<Vec<usize>, StudyError> {
        self.sync()?;
        match &mut self.store {
            Some(store) if store.is_joined() => store.lost_trials(),
            store => Ok(self
                .trials
                .running()
                .map(|t| t.number)
                .filter(|&n| store.as_ref().is_none_or(|s| !s.is_mine(n)))
                .collect()),
        }
    }

    /// Whether other workers of this shared study are running trials (as of the last
    /// [`sync`](Study::sync)): when its budget is spent, their trials may still be lost
    /// and give their places back.
    pub fn others_running(&self) -> bool {
        self.store.as_ref().is_some_and(|store| {
            store.is_joined() && self.trials.running().any(|t| !store.is_mine(t.number))
        })
    }

    /// Sets how long another worker may stay silent before its running trials count as
    /// lost (see [`StudyBuilder::stale_after`](super::StudyBuilder::stale_after)).
    pub fn set_stale_after(&mut self, stale_after: Duration) {
        if let Some(store) = &mut self.store {
            store.set_stale_after(stale_after);
        }
    }

    /// Whether several workers may share this study (it is kept in a store's ledger).
    pub fn is_shared(&self) -> bool {
        self.store.as_ref().is_some_and(|s| s.is_joined())
    }

    /// Takes one ledger row into the study: a trial another worker asked, or the end of
    /// one it ran. This worker's own trials are known better here.
    fn merge(&mut self, row: LedgerTrial) -> Result<(), StudyError> {
        let number = row.number as usize;
        let Some(store) = &self.store else {
            return Ok(());
        };
        if store.is_mine(number) || store.wrote(&row) {
            return Ok(());
        }
        while self.trials.len() < number {
            // A number with no row: claimed before the ledger kept this search.
            let gap = self.trials.len();
            let mut lost =
                Trial::running(gap, vec![f64::NAN; self.space.len()], Default::default());
            lost.kill("no record of this trial was found");
            lost.started = std::time::UNIX_EPOCH;
            self.trials.push(lost)?;
            self.session.observe(&self.trials, gap);
            lock(&self.pruning).added(gap);
        }
        let trial = self.trial_of(row);
        if number == self.trials.len() {
            self.trials
                .push(Trial::running(number, trial.x.clone(), trial.point.clone()))?;
            self.session.observe(&self.trials, number);
            lock(&self.pruning).added(number);
        } else {
            let known = &self.trials.all()[number];
            let placeholder = known.state == TrialState::Killed && self.run_id(number).is_none();
            if known.state != TrialState::Running && !placeholder {
                // Its run says it ended (a worker that died between writing its run and
                // the ledger), or it ended here already.
                return Ok(());
            }
            if placeholder && !trial.state.is_finished() {
                // Its run was not readable yet: running, as the ledger says.
                self.trials.update(number, |slot| *slot = trial);
                self.session.observe(&self.trials, number);
                return Ok(());
            }
        }
        if trial.state.is_finished() {
            self.take_reports(&trial)?;
            let score = self.trials.score(&trial);
            self.commit(trial);
            if let Some(s) = score
                && self
                    .best
                    .is_none_or(|(b, n)| s.total_cmp(&b).then(number.cmp(&n)).is_lt())
            {
                self.best = Some((s, number));
            }
        }
        Ok(())
    }

    /// The trial a ledger row describes.
    fn trial_of(&self, row: LedgerTrial) -> Trial {
        let point = self.space.decode(&row.x);
        let mut trial = Trial::running(row.number as usize, row.x, point);
        if row.state.is_finished() {
            trial.state = row.state;
            trial.loss = row.loss;
            trial.last_step = row.last_step;
            trial.duration = Some(Duration::ZERO);
            if row.released && row.state == TrialState::Failed {
                trial.error = Some(LOST.to_string());
            }
        }
        trial
    }

    /// Before the last worker of a shared study records `total_steps`: reads what the
    /// other workers' trials reported where no pruner read it as they ended, in a search
    /// whose trials report steps at all (this worker's own tell whether they do).
    pub(super) fn read_others_reports(&mut self) -> Result<(), StudyError> {
        let Some(store) = &self.store else {
            return Ok(());
        };
        let mut pruning = lock(&self.pruning);
        let stepped = pruning.progress.iter().any(|(_, _, c)| !c.is_empty());
        if pruning.name != NoPruning.name() || !stepped {
            return Ok(());
        }
        super::read_back(&mut pruning.progress, store, &self.trials, |t| {
            !store.is_mine(t.number)
        })
    }

    /// Reads what another worker's trial reported, for the pruner (nothing without one),
    /// as if this worker had watched it: each value goes through the pruner's session,
    /// which is how rung-based pruners (ASHA, Hyperband) record it at their rungs.
    fn take_reports(&mut self, trial: &Trial) -> Result<(), StudyError> {
        let Some(store) = &self.store else {
            return Ok(());
        };
        let mut pruning = lock(&self.pruning);
        if pruning.name == NoPruning.name() || !pruning.progress.curve(trial.number).is_empty() {
            return Ok(());
        }
        for (step, value) in store.reported(trial)? {
            pruning.report(trial.number, step, value);
        }
        Ok(())
    }
}
