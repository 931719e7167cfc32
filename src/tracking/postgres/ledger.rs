//! The [ledger](crate::tracking::ledger) of searches in PostgreSQL (schema v5): every
//! write to a search first takes its row's lock (`FOR UPDATE`, or the `UPDATE` of its
//! change counter), so writes to one search are serialized in `READ COMMITTED`
//! transactions and a trial's compare-and-set (`... AND state = 'RUNNING'`) has one
//! winner. Heartbeats are stamped, and compared, with the database server's clock.

use std::time::Duration;

use postgres::{GenericClient, Row, Transaction};

use super::{PgStore, TxResult};
use crate::tracking::ledger::{
    Ended, Ledger, LedgerStart, LedgerTrial, TrialEnd, decode_x, encode_x, parse_state, state_name,
};
use crate::tracking::store::{Result, StoreError};
use crate::trials::TrialState;

/// The migration that adds the ledger's tables.
pub(super) const MIGRATION: &str = r#"
    CREATE TABLE hyperflow_searches (
        search      TEXT COLLATE "C" PRIMARY KEY,
        join_key    TEXT COLLATE "C" UNIQUE,
        next_number BIGINT NOT NULL,
        released    BIGINT NOT NULL,
        seq         BIGINT NOT NULL,
        workers     BIGINT NOT NULL DEFAULT 0
    );
    CREATE TABLE hyperflow_trials (
        search    TEXT COLLATE "C" NOT NULL,
        number    BIGINT NOT NULL,
        state     TEXT NOT NULL,
        released  BOOLEAN NOT NULL,
        x         BYTEA NOT NULL,
        loss      DOUBLE PRECISION,
        last_step BIGINT,
        run_id    TEXT,
        worker    TEXT NOT NULL,
        heartbeat BIGINT NOT NULL,
        seq       BIGINT NOT NULL,
        PRIMARY KEY (search, number)
    );
    CREATE INDEX hyperflow_trials_changes ON hyperflow_trials (search, seq);
    CREATE INDEX hyperflow_trials_running ON hyperflow_trials (search, heartbeat)
        WHERE state = 'RUNNING';
"#;

/// The database server's clock in milliseconds, as SQL.
const NOW_MS: &str = "(extract(epoch from clock_timestamp()) * 1000)::bigint";

fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn count(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn no_ledger(search: &str) -> StoreError {
    StoreError::NotFound(format!("search {search} has no ledger in this store"))
}

/// The search's `(next_number, released)`, locked until the transaction ends.
fn lock_search(tx: &mut Transaction<'_>, search: &str) -> TxResult<(u64, u64)> {
    let row = tx
        .query_opt(
            "SELECT next_number, released FROM hyperflow_searches WHERE search = $1 FOR UPDATE",
            &[&search],
        )?
        .ok_or_else(|| no_ledger(search))?;
    Ok((count(row.get(0)), count(row.get(1))))
}

/// Takes the search's next change number.
fn next_seq(tx: &mut Transaction<'_>, search: &str) -> TxResult<i64> {
    let row = tx
        .query_opt(
            "UPDATE hyperflow_searches SET seq = seq + 1 WHERE search = $1 RETURNING seq",
            &[&search],
        )?
        .ok_or_else(|| no_ledger(search))?;
    Ok(row.get(0))
}

fn add_released(tx: &mut Transaction<'_>, search: &str, delta: i64) -> TxResult<()> {
    if delta != 0 {
        tx.execute(
            "UPDATE hyperflow_searches SET released = released + $2 WHERE search = $1",
            &[&search, &delta],
        )?;
    }
    Ok(())
}

/// Writes `end` into trial `number` (only if it is running, with `only_running`);
/// returns how many rows changed.
fn end_row(
    tx: &mut Transaction<'_>,
    search: &str,
    number: u64,
    end: &TrialEnd,
    seq: i64,
    only_running: bool,
) -> TxResult<u64> {
    let sql = if only_running {
        "UPDATE hyperflow_trials SET state = $3, released = $4, loss = $5, last_step = $6, \
         run_id = COALESCE($7, run_id), seq = $8 \
         WHERE search = $1 AND number = $2 AND state = 'RUNNING'"
    } else {
        "UPDATE hyperflow_trials SET state = $3, released = $4, loss = $5, last_step = $6, \
         run_id = COALESCE($7, run_id), seq = $8 WHERE search = $1 AND number = $2"
    };
    Ok(tx.execute(
        sql,
        &[
            &search,
            &int(number),
            &state_name(end.state),
            &end.released,
            &end.loss.filter(|l| !l.is_nan()),
            &end.last_step.map(int),
            &end.run_id,
            &seq,
        ],
    )?)
}

fn trial_from_row(row: &Row) -> TxResult<LedgerTrial> {
    let state: String = row.get(1);
    let x: Vec<u8> = row.get(3);
    Ok(LedgerTrial {
        number: count(row.get(0)),
        state: parse_state(&state)?,
        released: row.get(2),
        x: decode_x(&x)?,
        loss: row.get(4),
        last_step: row.get::<_, Option<i64>>(5).map(count),
        run_id: row.get(6),
        worker: row.get(7),
        seq: count(row.get(8)),
    })
}

fn find(client: &mut impl GenericClient, join_key: &str) -> TxResult<Option<String>> {
    Ok(client
        .query_opt(
            "SELECT search FROM hyperflow_searches WHERE join_key = $1",
            &[&join_key],
        )?
        .map(|r| r.get(0)))
}

impl Ledger for PgStore {
    fn open_search(
        &self,
        search: &str,
        join_key: Option<&str>,
        start: LedgerStart,
    ) -> Result<String> {
        self.write("opening a search's ledger", |tx| {
            tx.execute(
                "INSERT INTO hyperflow_searches (search, join_key, next_number, released, seq) \
                 VALUES ($1, $2, $3, $4, 0) ON CONFLICT DO NOTHING",
                &[
                    &search,
                    &join_key,
                    &int(start.next_number),
                    &int(start.released),
                ],
            )?;
            Ok(match join_key {
                Some(key) => find(tx, key)?.unwrap_or_else(|| search.to_string()),
                None => search.to_string(),
            })
        })
    }

    fn join_worker(&self, search: &str) -> Result<u64> {
        self.write("counting a worker of a search", |tx| {
            let row = tx
                .query_opt(
                    "UPDATE hyperflow_searches SET workers = workers + 1 WHERE search = $1 \
                     RETURNING workers - 1",
                    &[&search],
                )?
                .ok_or_else(|| no_ledger(search))?;
            Ok(count(row.get(0)))
        })
    }

    fn find_search(&self, join_key: &str) -> Result<Option<String>> {
        self.read("looking up a search by its join key", |tx| {
            find(tx, join_key)
        })
    }

    fn close_search(&self, search: &str) -> Result<()> {
        self.write("closing a search's ledger", |tx| {
            tx.execute(
                "UPDATE hyperflow_searches SET join_key = NULL WHERE search = $1",
                &[&search],
            )?;
            Ok(())
        })
    }

    fn claim_trial(
        &self,
        search: &str,
        limit: Option<u64>,
        x: &[f64],
        worker: &str,
    ) -> Result<Option<u64>> {
        let x = encode_x(x);
        self.write("claiming a trial number", |tx| {
            let (next, released) = lock_search(tx, search)?;
            if limit.is_some_and(|l| next.saturating_sub(released) >= l) {
                return Ok(None);
            }
            let seq = next_seq(tx, search)?;
            tx.execute(
                &format!(
                    "INSERT INTO hyperflow_trials \
                     (search, number, state, released, x, worker, heartbeat, seq) \
                     VALUES ($1, $2, $3, FALSE, $4, $5, {NOW_MS}, $6)"
                ),
                &[
                    &search,
                    &int(next),
                    &state_name(TrialState::Running),
                    &x,
                    &worker,
                    &seq,
                ],
            )?;
            tx.execute(
                "UPDATE hyperflow_searches SET next_number = $2 WHERE search = $1",
                &[&search, &int(next + 1)],
            )?;
            Ok(Some(next))
        })
    }

    fn end_trial(&self, search: &str, number: u64, end: &TrialEnd) -> Result<Ended> {
        self.write("recording the end of a trial in its search's ledger", |tx| {
            lock_search(tx, search)?;
            let row = tx
                .query_opt(
                    "SELECT state, released FROM hyperflow_trials WHERE search = $1 AND number = $2",
                    &[&search, &int(number)],
                )?
                .ok_or_else(|| {
                    StoreError::NotFound(format!(
                        "search {search} has no trial {number} in its ledger"
                    ))
                })?;
            let (state, released): (String, bool) = (row.get(0), row.get(1));
            let before = parse_state(&state)?;
            let seq = next_seq(tx, search)?;
            end_row(tx, search, number, end, seq, false)?;
            add_released(tx, search, i64::from(end.released) - i64::from(released))?;
            Ok(match before {
                TrialState::Running => Ended::Now,
                other => Ended::Overruled(other),
            })
        })
    }

    fn release_running(&self, search: &str, numbers: &[u64], end: &TrialEnd) -> Result<Vec<u64>> {
        self.write("ending lost trials in a search's ledger", |tx| {
            let seq = next_seq(tx, search)?;
            let mut ended = Vec::new();
            for &number in numbers {
                if end_row(tx, search, number, end, seq, true)? == 1 {
                    ended.push(number);
                }
            }
            if end.released {
                add_released(tx, search, ended.len() as i64)?;
            }
            Ok(ended)
        })
    }

    fn heartbeat(&self, search: &str, numbers: &[u64]) -> Result<()> {
        let numbers: Vec<i64> = numbers.iter().map(|&n| int(n)).collect();
        self.write("sending the heartbeat of running trials", |tx| {
            tx.execute(
                &format!(
                    "UPDATE hyperflow_trials SET heartbeat = {NOW_MS} \
                     WHERE search = $1 AND number = ANY($2) AND state = 'RUNNING'"
                ),
                &[&search, &numbers],
            )?;
            Ok(())
        })
    }

    fn stale_trials(&self, search: &str, stale_after: Duration) -> Result<Vec<u64>> {
        let stale_ms = i64::try_from(stale_after.as_millis()).unwrap_or(i64::MAX);
        self.read("looking for trials whose worker stopped", |tx| {
            Ok(tx
                .query(
                    &format!(
                        "SELECT number FROM hyperflow_trials WHERE search = $1 \
                         AND state = 'RUNNING' AND heartbeat < {NOW_MS} - $2 ORDER BY number"
                    ),
                    &[&search, &stale_ms],
                )?
                .iter()
                .map(|r| count(r.get(0)))
                .collect())
        })
    }

    fn changes(&self, search: &str, since: u64) -> Result<Vec<LedgerTrial>> {
        self.read("reading what changed in a search", |tx| {
            tx.query(
                "SELECT number, state, released, x, loss, last_step, run_id, worker, seq \
                 FROM hyperflow_trials WHERE search = $1 AND seq > $2 ORDER BY number",
                &[&search, &int(since)],
            )?
            .iter()
            .map(trial_from_row)
            .collect()
        })
    }
}
