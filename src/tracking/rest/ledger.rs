//! The [ledger of searches](crate::tracking::ledger) through a tracking server: each
//! [`Ledger`] method is one call of hyperflow's server (`/api/2.0/hyperflow/ledger/...`,
//! bodies in [`wire::ledger`]), which runs it on its backend store's ledger.

use std::time::Duration;

use super::RestStore;
use crate::tracking::ledger::{Ended, Ledger, LedgerStart, LedgerTrial, TrialEnd};
use crate::tracking::store::{Result, StoreError};
use crate::tracking::wire::{self, ledger as lw};

/// The join key the first [`RestStore::serves_ledger`] looks up: a read that changes
/// nothing (join keys of searches start with their experiment's id).
const PROBE_KEY: &str = "hyperflow:does-this-server-serve-the-ledger";

impl RestStore {
    /// Whether the server serves the ledger of searches. Asked once, the first time, and
    /// remembered: a server that answers 404 (MLflow's: no such endpoint) or 501 (a
    /// hyperflow server whose backend store has no ledger) does not. When the server
    /// cannot be asked (unreachable), the answer is left unknown and taken as yes, so the
    /// ledger's own calls report what is wrong rather than the search going on alone.
    pub fn serves_ledger(&self) -> bool {
        if let Some(&known) = self.serves_ledger.get() {
            return known;
        }
        let probe = wire::LedgerFindSearch(lw::FindSearch {
            join_key: PROBE_KEY.to_string(),
        });
        let known = match self.call(probe) {
            Ok(_) => true,
            Err(StoreError::Remote {
                status: 404 | 501, ..
            }) => false,
            Err(_) => return true,
        };
        *self.serves_ledger.get_or_init(|| known)
    }
}

/// The answer's search, which `open-search` always names.
fn holder(found: lw::SearchFound) -> Result<String> {
    found.search.ok_or_else(|| {
        StoreError::Serialization(
            "hyperflow/ledger/open-search: the server's answer names no search".to_string(),
        )
    })
}

impl Ledger for RestStore {
    fn open_search(
        &self,
        search: &str,
        join_key: Option<&str>,
        start: LedgerStart,
    ) -> Result<String> {
        holder(self.call(wire::LedgerOpenSearch(lw::OpenSearch {
            search: search.to_string(),
            join_key: join_key.map(str::to_string),
            next_number: start.next_number,
            released: start.released,
        }))?)
    }

    fn join_worker(&self, search: &str) -> Result<u64> {
        let reply = self.call(wire::LedgerJoinWorker(lw::SearchRef {
            search: search.to_string(),
        }))?;
        Ok(reply.ordinal)
    }

    fn find_search(&self, join_key: &str) -> Result<Option<String>> {
        let reply = self.call(wire::LedgerFindSearch(lw::FindSearch {
            join_key: join_key.to_string(),
        }))?;
        Ok(reply.search)
    }

    fn close_search(&self, search: &str) -> Result<()> {
        self.call(wire::LedgerCloseSearch(lw::SearchRef {
            search: search.to_string(),
        }))
        .map(drop)
    }

    fn claim_trial(
        &self,
        search: &str,
        limit: Option<u64>,
        x: &[f64],
        worker: &str,
    ) -> Result<Option<u64>> {
        let reply = self.call(wire::LedgerClaimTrial(lw::ClaimTrial {
            search: search.to_string(),
            limit,
            x: x.to_vec(),
            worker: worker.to_string(),
        }))?;
        Ok(reply.number)
    }

    fn end_trial(&self, search: &str, number: u64, end: &TrialEnd) -> Result<Ended> {
        let reply = self.call(wire::LedgerEndTrial(lw::EndTrial {
            search: search.to_string(),
            number,
            end: end.into(),
        }))?;
        Ok(reply.into())
    }

    fn release_running(&self, search: &str, numbers: &[u64], end: &TrialEnd) -> Result<Vec<u64>> {
        let reply = self.call(wire::LedgerReleaseRunning(lw::ReleaseRunning {
            search: search.to_string(),
            numbers: numbers.to_vec(),
            end: end.into(),
        }))?;
        Ok(reply.numbers)
    }

    fn heartbeat(&self, search: &str, numbers: &[u64]) -> Result<()> {
        self.call(wire::LedgerHeartbeat(lw::Heartbeat {
            search: search.to_string(),
            numbers: numbers.to_vec(),
        }))
        .map(drop)
    }

    fn stale_trials(&self, search: &str, stale_after: Duration) -> Result<Vec<u64>> {
        let reply = self.call(wire::LedgerStaleTrials(lw::StaleTrials {
            search: search.to_string(),
            // Longer than the server reads (an int64) is as good as forever.
            stale_after_ms: u64::try_from(stale_after.as_millis())
                .unwrap_or(u64::MAX)
                .min(i64::MAX as u64),
        }))?;
        Ok(reply.numbers)
    }

    fn changes(&self, search: &str, since: u64) -> Result<Vec<LedgerTrial>> {
        let reply = self.call(wire::LedgerChanges(lw::Changes {
            search: search.to_string(),
            since,
        }))?;
        Ok(wire::into_all(reply.trials))
    }
}
