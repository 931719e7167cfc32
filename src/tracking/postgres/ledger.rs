//! The [ledger](crate::tracking::ledger) of searches in PostgreSQL (schema v5, its
//! functions v6): every write to a search first takes its row's lock (the `UPDATE` of its
//! change counter), so writes to one search are serialized in `READ COMMITTED`
//! transactions and a trial's compare-and-set (`... AND state = 'RUNNING'`) has one
//! winner. Heartbeats are stamped, and compared, with the database server's clock.
//!
//! The two writes of every trial, claiming its number and recording its end, are
//! functions in the database (`hyperflow_claim_trial`, `hyperflow_end_trial`) called as
//! one statement each: the search's lock, which every worker of the search waits for, is
//! held while the server runs them and no longer (with a transaction driven from here it
//! was held over several round trips to the client, and workers queued behind it).

use std::time::Duration;

use postgres::Row;
use postgres::error::SqlState;
use postgres::types::Type;

use super::{PgStore, Tx, TxResult};
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

/// The migration that adds the functions that claim a trial and record its end (see the
/// module's documentation). A search or trial that is not there raises `no_data_found`
/// (P0002) with the message a [`StoreError::NotFound`] carries.
pub(super) const FUNCTIONS: &str = r#"
    CREATE OR REPLACE FUNCTION hyperflow_claim_trial(
        p_search TEXT, p_limit BIGINT, p_x BYTEA, p_worker TEXT, p_running TEXT
    ) RETURNS BIGINT LANGUAGE plpgsql AS $$
    DECLARE
        claimed BIGINT;
        change  BIGINT;
    BEGIN
        UPDATE hyperflow_searches SET next_number = next_number + 1, seq = seq + 1
         WHERE search = p_search AND (p_limit IS NULL OR next_number - released < p_limit)
        RETURNING next_number - 1, seq INTO claimed, change;
        IF NOT FOUND THEN
            IF NOT EXISTS (SELECT 1 FROM hyperflow_searches WHERE search = p_search) THEN
                RAISE no_data_found USING MESSAGE =
                    format('search %s has no ledger in this store', p_search);
            END IF;
            RETURN NULL;
        END IF;
        INSERT INTO hyperflow_trials (search, number, state, released, x, worker, heartbeat, seq)
        VALUES (p_search, claimed, p_running, FALSE, p_x, p_worker,
                (extract(epoch from clock_timestamp()) * 1000)::bigint, change);
        RETURN claimed;
    END
    $$;

    CREATE OR REPLACE FUNCTION hyperflow_end_trial(
        p_search TEXT, p_number BIGINT, p_state TEXT, p_released BOOLEAN,
        p_loss DOUBLE PRECISION, p_last_step BIGINT, p_run_id TEXT
    ) RETURNS TEXT LANGUAGE plpgsql AS $$
    DECLARE
        change       BIGINT;
        before       TEXT;
        was_released BOOLEAN;
    BEGIN
        UPDATE hyperflow_searches SET seq = seq + 1 WHERE search = p_search
        RETURNING seq INTO change;
        IF NOT FOUND THEN
            RAISE no_data_found USING MESSAGE =
                format('search %s has no ledger in this store', p_search);
        END IF;
        SELECT state, released INTO before, was_released FROM hyperflow_trials
         WHERE search = p_search AND number = p_number;
        IF NOT FOUND THEN
            RAISE no_data_found USING MESSAGE =
                format('search %s has no trial %s in its ledger', p_search, p_number);
        END IF;
        UPDATE hyperflow_trials SET state = p_state, released = p_released, loss = p_loss,
               last_step = p_last_step, run_id = COALESCE(p_run_id, run_id), seq = change
         WHERE search = p_search AND number = p_number;
        IF p_released <> was_released THEN
            UPDATE hyperflow_searches
               SET released = released + CASE WHEN p_released THEN 1 ELSE -1 END
             WHERE search = p_search;
        END IF;
        RETURN before;
    END
    $$;
"#;

/// A ledger function's answer, with its `no_data_found` (a search or trial that is not
/// there) as the store's [`StoreError::NotFound`].
fn called<T>(result: std::result::Result<T, postgres::Error>) -> TxResult<T> {
    result.map_err(|e| match e.as_db_error() {
        Some(db) if *db.code() == SqlState::NO_DATA_FOUND => {
            StoreError::NotFound(db.message().to_string()).into()
        }
        _ => e.into(),
    })
}

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

/// Takes the search's next change number.
fn next_seq(tx: &mut Tx<'_>, search: &str) -> TxResult<i64> {
    let row = tx
        .query_opt(
            "UPDATE hyperflow_searches SET seq = seq + 1 WHERE search = $1 RETURNING seq",
            &[&search],
        )?
        .ok_or_else(|| no_ledger(search))?;
    Ok(row.get(0))
}

fn add_released(tx: &mut Tx<'_>, search: &str, delta: i64) -> TxResult<()> {
    if delta != 0 {
        tx.execute(
            "UPDATE hyperflow_searches SET released = released + $2 WHERE search = $1",
            &[&search, &delta],
        )?;
    }
    Ok(())
}

/// Writes `end` into trial `number` if it is running; returns how many rows changed.
fn end_running_row(
    tx: &mut Tx<'_>,
    search: &str,
    number: u64,
    end: &TrialEnd,
    seq: i64,
) -> TxResult<u64> {
    Ok(tx.execute(
        "UPDATE hyperflow_trials SET state = $3, released = $4, loss = $5, last_step = $6, \
         run_id = COALESCE($7, run_id), seq = $8 \
         WHERE search = $1 AND number = $2 AND state = 'RUNNING'",
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

fn find(client: &mut Tx<'_>, join_key: &str) -> TxResult<Option<String>> {
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
        let limit = limit.map(int);
        self.statement("claiming a trial number", |client| {
            let row = called(client.query_typed_one(
                "SELECT hyperflow_claim_trial($1, $2, $3, $4, $5)",
                &[
                    (&search, Type::TEXT),
                    (&limit, Type::INT8),
                    (&x, Type::BYTEA),
                    (&worker, Type::TEXT),
                    (&state_name(TrialState::Running), Type::TEXT),
                ],
            ))?;
            Ok(row.get::<_, Option<i64>>(0).map(count))
        })
    }

    fn end_trial(&self, search: &str, number: u64, end: &TrialEnd) -> Result<Ended> {
        let loss = end.loss.filter(|l| !l.is_nan());
        let last_step = end.last_step.map(int);
        self.statement(
            "recording the end of a trial in its search's ledger",
            |client| {
                let row = called(client.query_typed_one(
                    "SELECT hyperflow_end_trial($1, $2, $3, $4, $5, $6, $7)",
                    &[
                        (&search, Type::TEXT),
                        (&int(number), Type::INT8),
                        (&state_name(end.state), Type::TEXT),
                        (&end.released, Type::BOOL),
                        (&loss, Type::FLOAT8),
                        (&last_step, Type::INT8),
                        (&end.run_id, Type::TEXT),
                    ],
                ))?;
                let before: String = row.get(0);
                Ok(match parse_state(&before)? {
                    TrialState::Running => Ended::Now,
                    other => Ended::Overruled(other),
                })
            },
        )
    }

    fn release_running(&self, search: &str, numbers: &[u64], end: &TrialEnd) -> Result<Vec<u64>> {
        self.write("ending lost trials in a search's ledger", |tx| {
            let seq = next_seq(tx, search)?;
            let mut ended = Vec::new();
            for &number in numbers {
                if end_running_row(tx, search, number, end, seq)? == 1 {
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
        // One statement: one snapshot, no transaction around it.
        self.statement("reading what changed in a search", |client| {
            client
                .query_typed(
                    "SELECT number, state, released, x, loss, last_step, run_id, worker, seq \
                     FROM hyperflow_trials WHERE search = $1 AND seq > $2 ORDER BY number",
                    &[(&search, Type::TEXT), (&int(since), Type::INT8)],
                )?
                .iter()
                .map(trial_from_row)
                .collect()
        })
    }
}
