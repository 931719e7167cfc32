//! The [ledger of searches](crate::tracking::ledger) over HTTP: one endpoint per
//! [`Ledger`] method under `/api/2.0/hyperflow/ledger/` (and `/ajax-api/2.0/...`), over the
//! backend store's ledger, so that workers given the server's URL join one search. Bodies
//! are [`wire::ledger`]'s. A backend store without a ledger answers 501
//! `NOT_IMPLEMENTED` (the REST store then runs its searches alone).

use super::AppState;
use super::error::{ApiError, ApiResult};
use crate::tracking::ledger::{Ledger, TrialEnd};
use crate::tracking::wire::{self, Empty, ledger as lw};
use crate::trials::TrialState;
use axum::http::StatusCode;
use std::time::Duration;

/// The backend store's ledger, or 501 `NOT_IMPLEMENTED`.
fn ledger_of(st: &AppState) -> ApiResult<&dyn Ledger> {
    st.store().ledger().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            "NOT_IMPLEMENTED",
            "This server's backend store keeps no ledger of searches, so workers cannot \
             join one search through it (each runs its search alone). Serve an SQLite \
             backend store (--backend-store-uri sqlite:///path/to.db) to share searches.",
        )
    })
}

/// A trial's end as sent, refused while it says the trial still runs.
fn trial_end(end: lw::TrialEnd) -> ApiResult<TrialEnd> {
    if end.state == TrialState::Running {
        return Err(ApiError::invalid(
            "Invalid value \"RUNNING\" for parameter 'end.state' supplied: Hint: a trial ends \
             COMPLETE, FAILED, PRUNED or KILLED.",
        ));
    }
    Ok(end.into())
}

/// `POST hyperflow/ledger/open-search`.
pub fn open_search(
    st: &AppState,
    wire::LedgerOpenSearch(req): wire::LedgerOpenSearch,
) -> ApiResult<lw::SearchFound> {
    let holder = ledger_of(st)?.open_search(&req.search, req.join_key.as_deref(), req.start())?;
    Ok(lw::SearchFound {
        search: Some(holder),
    })
}

/// `GET hyperflow/ledger/find-search`.
pub fn find_search(
    st: &AppState,
    wire::LedgerFindSearch(req): wire::LedgerFindSearch,
) -> ApiResult<lw::SearchFound> {
    Ok(lw::SearchFound {
        search: ledger_of(st)?.find_search(&req.join_key)?,
    })
}

/// `POST hyperflow/ledger/close-search`.
pub fn close_search(
    st: &AppState,
    wire::LedgerCloseSearch(req): wire::LedgerCloseSearch,
) -> ApiResult<Empty> {
    ledger_of(st)?.close_search(&req.search)?;
    Ok(Empty {})
}

/// `POST hyperflow/ledger/join-worker`.
pub fn join_worker(
    st: &AppState,
    wire::LedgerJoinWorker(req): wire::LedgerJoinWorker,
) -> ApiResult<lw::Joined> {
    let ordinal = ledger_of(st)?.join_worker(&req.search)?;
    Ok(lw::Joined { ordinal })
}

/// `POST hyperflow/ledger/claim-trial`.
pub fn claim_trial(
    st: &AppState,
    wire::LedgerClaimTrial(req): wire::LedgerClaimTrial,
) -> ApiResult<lw::Claimed> {
    let number = ledger_of(st)?.claim_trial(&req.search, req.limit, &req.x, &req.worker)?;
    Ok(lw::Claimed { number })
}

/// `POST hyperflow/ledger/end-trial`.
pub fn end_trial(
    st: &AppState,
    wire::LedgerEndTrial(req): wire::LedgerEndTrial,
) -> ApiResult<lw::Ended> {
    let end = trial_end(req.end)?;
    Ok(ledger_of(st)?
        .end_trial(&req.search, req.number, &end)?
        .into())
}

/// `POST hyperflow/ledger/release-running`.
pub fn release_running(
    st: &AppState,
    wire::LedgerReleaseRunning(req): wire::LedgerReleaseRunning,
) -> ApiResult<lw::Numbers> {
    let end = trial_end(req.end)?;
    let numbers = ledger_of(st)?.release_running(&req.search, &req.numbers, &end)?;
    Ok(lw::Numbers { numbers })
}

/// `POST hyperflow/ledger/heartbeat`.
pub fn heartbeat(
    st: &AppState,
    wire::LedgerHeartbeat(req): wire::LedgerHeartbeat,
) -> ApiResult<Empty> {
    ledger_of(st)?.heartbeat(&req.search, &req.numbers)?;
    Ok(Empty {})
}

/// `GET hyperflow/ledger/stale-trials`.
pub fn stale_trials(
    st: &AppState,
    wire::LedgerStaleTrials(req): wire::LedgerStaleTrials,
) -> ApiResult<lw::Numbers> {
    let after = Duration::from_millis(req.stale_after_ms);
    let numbers = ledger_of(st)?.stale_trials(&req.search, after)?;
    Ok(lw::Numbers { numbers })
}

/// `GET hyperflow/ledger/changes`.
pub fn changes(
    st: &AppState,
    wire::LedgerChanges(req): wire::LedgerChanges,
) -> ApiResult<lw::Changed> {
    let trials = ledger_of(st)?.changes(&req.search, req.since)?;
    Ok(lw::Changed {
        trials: wire::all(&trials),
    })
}
