//! The ledger of a search: what several workers of one search share besides its runs.
//!
//! A search's runs are its record (MLflow's view); its ledger is how workers coordinate:
//! one row per search (its join key, the next trial number, how many claimed trials were
//! given back to the budget, a change counter) and one row per trial (state, encoded point,
//! value, the worker running it and its last heartbeat). Every ledger write to a search
//! takes the search's row first, so writes to one search are serialized and each gets the
//! next change number (`seq`): a worker reads what changed since the last number it saw.
//!
//! - **Trial numbers** are claimed ([`Ledger::claim_trial`]): the number and its place in
//!   the budget in one write, so two workers never get one number and a budget of `n`
//!   trials is never exceeded.
//! - **Heartbeats** ([`Ledger::heartbeat`]) are stamped with the store's clock, and
//!   [`Ledger::stale_trials`] compares them with the same clock, so the machines'
//!   clocks need not agree.
//! - **Giving back** ([`Ledger::end_trial`] with [`TrialEnd::released`]): a trial killed,
//!   or lost with its worker, does not count towards the budget; its number is not reused.
//!
//! The ledger holds what samplers need (point, state, value, last step), so a worker keeps
//! its view of a search current with one small query per trial it asks.

use std::time::Duration;

use super::store::{Result, StoreError};
use crate::trials::TrialState;

/// One trial as a search's ledger keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct LedgerTrial {
    /// Its number in the search.
    pub number: u64,
    /// Where it stands.
    pub state: TrialState,
    /// Whether it was given back to the budget (killed, or lost with its worker).
    pub released: bool,
    /// The encoded point (NaN for an inactive parameter).
    pub x: Vec<f64>,
    /// Its value, as the objective returned it (for a pruned trial, the last value it
    /// reported).
    pub loss: Option<f64>,
    /// The last step it reported at.
    pub last_step: Option<u64>,
    /// Its run, once known (set when it ends).
    pub run_id: Option<String>,
    /// The worker running it (a [`Worker`]'s name).
    pub worker: String,
    /// The change number of its latest write.
    pub seq: u64,
}

/// How a trial ended, for [`Ledger::end_trial`].
#[derive(Debug, Clone, PartialEq)]
pub struct TrialEnd {
    /// Its final state (not running).
    pub state: TrialState,
    /// Whether it goes back to the budget: killed, or lost with its worker.
    pub released: bool,
    /// Its value.
    pub loss: Option<f64>,
    /// The last step it reported at.
    pub last_step: Option<u64>,
    /// Its run.
    pub run_id: Option<String>,
}

/// What [`Ledger::end_trial`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The trial was running, and now has ended as told.
    Now,
    /// The trial had been ended by someone else (lost with its worker, as far as the
    /// others could tell); it has ended as told all the same, so no result is lost.
    Overruled(TrialState),
}

/// Where a search's numbering starts when its ledger row is created (a study that ran
/// before it had a ledger, or one warm-started with earlier trials).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LedgerStart {
    /// The next trial number.
    pub next_number: u64,
    /// How many of the numbers below it do not count towards the budget.
    pub released: u64,
}

/// A store's ledger of searches; see the [module docs](self). `search` is always the
/// search's parent run id.
pub trait Ledger: Send + Sync {
    /// Registers a search (nothing happens when it is registered already) and returns the
    /// parent run id of the search that holds `join_key`: this one, or the one that took
    /// the key first. A search with no key cannot be joined by key.
    fn open_search(
        &self,
        search: &str,
        join_key: Option<&str>,
        start: LedgerStart,
    ) -> Result<String>;

    /// Counts one more worker of the search and returns how many joined it before (0 for
    /// the first): a worker draws its own random numbers by it, so workers asking at once
    /// do not propose the same point.
    fn join_worker(&self, search: &str) -> Result<u64>;

    /// The search holding `join_key`, if any.
    fn find_search(&self, join_key: &str) -> Result<Option<String>>;

    /// Gives up the search's join key (its last worker finished it), so the next worker
    /// with that key starts a new search.
    fn close_search(&self, search: &str) -> Result<()>;

    /// Claims the next trial number for a trial at `x` run by `worker`, when fewer than
    /// `limit` claimed trials count towards the budget (no limit: always). `None` when
    /// the budget is spent.
    fn claim_trial(
        &self,
        search: &str,
        limit: Option<u64>,
        x: &[f64],
        worker: &str,
    ) -> Result<Option<u64>>;

    /// Records how trial `number` ended.
    fn end_trial(&self, search: &str, number: u64, end: &TrialEnd) -> Result<Ended>;

    /// Ends the running trials among `numbers` as `end` says, leaving the others; returns
    /// those it ended (what two reapers race for, exactly one wins).
    fn release_running(&self, search: &str, numbers: &[u64], end: &TrialEnd) -> Result<Vec<u64>>;

    /// Stamps the running trials `numbers` with the store's clock.
    fn heartbeat(&self, search: &str, numbers: &[u64]) -> Result<()>;

    /// The running trials whose last heartbeat is older than `stale_after` by the store's
    /// clock.
    fn stale_trials(&self, search: &str, stale_after: Duration) -> Result<Vec<u64>>;

    /// The trials written after change `since`, by number.
    fn changes(&self, search: &str, since: u64) -> Result<Vec<LedgerTrial>>;
}

/// A worker of searches: one handle of a study in this process, named `host:pid:n` in
/// the ledger. A worker is alive while its value is; [`is_dead_local_worker`] tells the
/// trials of workers of this machine that are gone (their process, or their handle in
/// this process).
#[derive(Debug)]
pub struct Worker {
    id: String,
    handle: u64,
}

/// The handles of this process that are alive.
static LIVE_HANDLES: std::sync::Mutex<Vec<u64>> = std::sync::Mutex::new(Vec::new());

fn live_handles() -> std::sync::MutexGuard<'static, Vec<u64>> {
    crate::lock(&LIVE_HANDLES)
}

impl Worker {
    /// A new worker of this process.
    pub fn new() -> Worker {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let handle = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        live_handles().push(handle);
        Worker {
            id: format!("{}:{}:{handle}", host_name(), std::process::id()),
            handle,
        }
    }

    /// Its name in the ledger.
    pub fn id(&self) -> &str {
        &self.id
    }
}

impl Default for Worker {
    fn default() -> Self {
        Worker::new()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        live_handles().retain(|&h| h != self.handle);
    }
}

/// The host part of a [`Worker`]'s name (read once per process).
pub fn host_name() -> &'static str {
    static HOST: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HOST.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .ok()
            .filter(|h| !h.is_empty())
            .or_else(|| std::env::var("HOSTNAME").ok())
            .unwrap_or_else(|| "localhost".to_string())
    })
}

/// Whether `worker` (a [`Worker`]'s name) was a worker of this machine that is gone: its
/// process has exited, or it was a handle of this process that was dropped.
pub fn is_dead_local_worker(worker: &str) -> bool {
    let mut parts = worker.rsplitn(3, ':');
    let (Some(handle), Some(pid), Some(host)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let (Ok(handle), Ok(pid)) = (handle.parse::<u64>(), pid.parse::<u32>()) else {
        return false;
    };
    if host != host_name() {
        return false;
    }
    if pid == std::process::id() {
        !live_handles().contains(&handle)
    } else {
        !std::path::Path::new(&format!("/proc/{pid}")).exists()
    }
}

/// A trial's encoded point as stored: little-endian `f64`s.
pub fn encode_x(x: &[f64]) -> Vec<u8> {
    x.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// The inverse of [`encode_x`].
pub fn decode_x(bytes: &[u8]) -> Result<Vec<f64>> {
    if bytes.len() % 8 != 0 {
        return Err(StoreError::Serialization(format!(
            "a ledger point of {} bytes is not a list of 8-byte numbers",
            bytes.len()
        )));
    }
    Ok(bytes
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
        .collect())
}

/// A trial state as the ledger stores it (the serde name, as `hyperflow.state` has it).
pub fn state_name(state: TrialState) -> String {
    crate::tracking::schema::serde_name(state)
}

/// The inverse of [`state_name`].
pub fn parse_state(name: &str) -> Result<TrialState> {
    crate::tracking::schema::from_serde_name(name).ok_or_else(|| {
        StoreError::Serialization(format!("unknown trial state {name:?} in a search ledger"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_and_states_round_trip() {
        let x = [0.5, f64::NAN, -3.25];
        let back = decode_x(&encode_x(&x)).unwrap();
        assert_eq!(back[0], 0.5);
        assert!(back[1].is_nan());
        assert_eq!(back[2], -3.25);
        assert!(decode_x(&[1, 2, 3]).is_err());
        for state in [
            TrialState::Running,
            TrialState::Complete,
            TrialState::Failed,
            TrialState::Pruned,
            TrialState::Killed,
        ] {
            assert_eq!(parse_state(&state_name(state)).unwrap(), state);
        }
        assert!(parse_state("lost").is_err());
        assert_eq!(state_name(TrialState::Complete), "COMPLETE");
    }

    #[test]
    fn workers_of_this_machine_are_dead_when_gone() {
        let me = Worker::new();
        let other = Worker::new();
        assert_ne!(me.id(), other.id());
        assert!(me.id().contains(&format!(":{}:", std::process::id())));
        assert!(!is_dead_local_worker(me.id()));
        let gone = other.id().to_string();
        drop(other);
        assert!(is_dead_local_worker(&gone));
        assert!(is_dead_local_worker(&format!(
            "{}:{}:0",
            host_name(),
            u32::MAX - 1
        )));
        assert!(!is_dead_local_worker("another-host:1:0"));
        assert!(!is_dead_local_worker("not a worker"));
    }
}
