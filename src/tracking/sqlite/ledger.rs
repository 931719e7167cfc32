//! The [ledger](crate::tracking::ledger) of searches in SQLite (schema v7): writes take
//! the database's write lock, so they are serialized across processes; heartbeats use
//! this machine's clock (an SQLite file is shared by processes of one machine).

use std::time::Duration;

use rusqlite::{OptionalExtension, Transaction, params};

use super::SqliteStore;
use super::connections::TxResult;
use crate::tracking::ledger::{
    Ended, Ledger, LedgerStart, LedgerTrial, TrialEnd, decode_x, encode_x, parse_state, state_name,
};
use crate::tracking::model::now_ms;
use crate::tracking::store::{Result, StoreError};
use crate::trials::TrialState;

/// The trials of search `?1` written after change `?2`: a range of the index by change
/// number (they are few; sorted by number after reading). The values are bound behind a
/// unary plus, so the planner never looks at them: with the statistics `ANALYZE` leaves
/// (SQLite's STAT4), a plan that depends on bound values makes SQLite compile the cached
/// statement again at every execution, and every worker runs this one before each ask.
const CHANGES: &str = "SELECT number, state, released, x, loss, last_step, run_id, worker, seq \
     FROM hyperflow_trials WHERE search = +?1 AND seq > +?2";

fn no_ledger(search: &str) -> StoreError {
    StoreError::NotFound(format!("search {search} has no ledger in this store"))
}

/// The search's `(next_number, released)`, locked for this transaction.
fn search_row(tx: &Transaction<'_>, search: &str) -> TxResult<(u64, u64)> {
    tx.prepare_cached("SELECT next_number, released FROM hyperflow_searches WHERE search = ?1")?
        .query_row([search], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?
        .ok_or_else(|| no_ledger(search).into())
}

/// Takes the search's next change number.
fn next_seq(tx: &Transaction<'_>, search: &str) -> TxResult<u64> {
    Ok(tx
        .prepare_cached(
            "UPDATE hyperflow_searches SET seq = seq + 1 WHERE search = ?1 RETURNING seq",
        )?
        .query_row([search], |r| r.get(0))?)
}

fn add_released(tx: &Transaction<'_>, search: &str, delta: i64) -> TxResult<()> {
    if delta != 0 {
        tx.prepare_cached(
            "UPDATE hyperflow_searches SET released = released + ?2 WHERE search = ?1",
        )?
        .execute(params![search, delta])?;
    }
    Ok(())
}

fn ended_row(
    tx: &Transaction<'_>,
    search: &str,
    number: u64,
    end: &TrialEnd,
    seq: u64,
    only_running: bool,
) -> TxResult<usize> {
    let sql = if only_running {
        "UPDATE hyperflow_trials SET state = ?3, released = ?4, loss = ?5, last_step = ?6, \
         run_id = COALESCE(?7, run_id), seq = ?8 \
         WHERE search = ?1 AND number = ?2 AND state = 'RUNNING'"
    } else {
        "UPDATE hyperflow_trials SET state = ?3, released = ?4, loss = ?5, last_step = ?6, \
         run_id = COALESCE(?7, run_id), seq = ?8 WHERE search = ?1 AND number = ?2"
    };
    Ok(tx.prepare_cached(sql)?.execute(params![
        search,
        number,
        state_name(end.state),
        end.released,
        end.loss,
        end.last_step,
        end.run_id,
        seq
    ])?)
}

impl Ledger for SqliteStore {
    fn open_search(
        &self,
        search: &str,
        join_key: Option<&str>,
        start: LedgerStart,
    ) -> Result<String> {
        self.write("opening a search's ledger", |tx| {
            tx.prepare_cached(
                "INSERT INTO hyperflow_searches (search, join_key, next_number, released, seq) \
                 VALUES (?1, ?2, ?3, ?4, 0) ON CONFLICT DO NOTHING",
            )?
            .execute(params![search, join_key, start.next_number, start.released])?;
            let Some(key) = join_key else {
                return Ok(search.to_string());
            };
            let holder: Option<String> = tx
                .prepare_cached("SELECT search FROM hyperflow_searches WHERE join_key = ?1")?
                .query_row([key], |r| r.get(0))
                .optional()?;
            Ok(holder.unwrap_or_else(|| search.to_string()))
        })
    }

    fn join_worker(&self, search: &str) -> Result<u64> {
        self.write("counting a worker of a search", |tx| {
            Ok(tx
                .prepare_cached(
                    "UPDATE hyperflow_searches SET workers = workers + 1 WHERE search = ?1 \
                     RETURNING workers - 1",
                )?
                .query_row([search], |r| r.get(0))
                .optional()?
                .ok_or_else(|| no_ledger(search))?)
        })
    }

    fn find_search(&self, join_key: &str) -> Result<Option<String>> {
        self.read("looking up a search by its join key", |tx| {
            Ok(tx
                .prepare_cached("SELECT search FROM hyperflow_searches WHERE join_key = ?1")?
                .query_row([join_key], |r| r.get(0))
                .optional()?)
        })
    }

    fn close_search(&self, search: &str) -> Result<()> {
        self.write("closing a search's ledger", |tx| {
            tx.prepare_cached("UPDATE hyperflow_searches SET join_key = NULL WHERE search = ?1")?
                .execute([search])?;
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
            let (next, released) = search_row(tx, search)?;
            if limit.is_some_and(|l| next.saturating_sub(released) >= l) {
                return Ok(None);
            }
            let seq = next_seq(tx, search)?;
            tx.prepare_cached(
                "INSERT INTO hyperflow_trials (search, number, state, released, x, worker, heartbeat, seq) \
                 VALUES (?1, ?2, ?3, 0, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![search, next, state_name(TrialState::Running), x, worker, now_ms(), seq])?;
            tx.prepare_cached("UPDATE hyperflow_searches SET next_number = ?2 WHERE search = ?1")?
                .execute(params![search, next + 1])?;
            Ok(Some(next))
        })
    }

    fn end_trial(&self, search: &str, number: u64, end: &TrialEnd) -> Result<Ended> {
        self.write("recording the end of a trial in its search's ledger", |tx| {
            let (state, released): (String, bool) = tx
                .prepare_cached("SELECT state, released FROM hyperflow_trials WHERE search = ?1 AND number = ?2")?
                .query_row(params![search, number], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?
                .ok_or_else(|| StoreError::NotFound(format!("search {search} has no trial {number} in its ledger")))?;
            let before = parse_state(&state)?;
            let seq = next_seq(tx, search)?;
            ended_row(tx, search, number, end, seq, false)?;
            add_released(tx, search, i64::from(end.released) - i64::from(released))?;
            Ok(match before {
                TrialState::Running => Ended::Now,
                other => Ended::Overruled(other),
            })
        })
    }

    fn release_running(&self, search: &str, numbers: &[u64], end: &TrialEnd) -> Result<Vec<u64>> {
        self.write("ending lost trials in a search's ledger", |tx| {
            search_row(tx, search)?;
            let seq = next_seq(tx, search)?;
            let mut ended = Vec::new();
            for &number in numbers {
                if ended_row(tx, search, number, end, seq, true)? == 1 {
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
        let now = now_ms();
        self.write("sending the heartbeat of running trials", |tx| {
            let mut st = tx.prepare_cached(
                "UPDATE hyperflow_trials SET heartbeat = ?3 \
                 WHERE search = ?1 AND number = ?2 AND state = 'RUNNING'",
            )?;
            for &number in numbers {
                st.execute(params![search, number, now])?;
            }
            Ok(())
        })
    }

    fn stale_trials(&self, search: &str, stale_after: Duration) -> Result<Vec<u64>> {
        let before =
            now_ms().saturating_sub(i64::try_from(stale_after.as_millis()).unwrap_or(i64::MAX));
        self.read("looking for trials whose worker stopped", |tx| {
            let mut st = tx.prepare_cached(
                "SELECT number FROM hyperflow_trials \
                 WHERE search = ?1 AND state = 'RUNNING' AND heartbeat < ?2 ORDER BY number",
            )?;
            let rows = st.query_map(params![search, before], |r| r.get(0))?;
            Ok(rows.collect::<rusqlite::Result<Vec<u64>>>()?)
        })
    }

    fn changes(&self, search: &str, since: u64) -> Result<Vec<LedgerTrial>> {
        self.read("reading what changed in a search", |tx| {
            let mut st = tx.prepare_cached(CHANGES)?;
            let mut rows = st.query(params![search, since])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                let state: String = r.get(1)?;
                let x: Vec<u8> = r.get(3)?;
                out.push(LedgerTrial {
                    number: r.get(0)?,
                    state: parse_state(&state)?,
                    released: r.get(2)?,
                    x: decode_x(&x)?,
                    loss: r.get(4)?,
                    last_step: r.get(5)?,
                    run_id: r.get(6)?,
                    worker: r.get(7)?,
                    seq: r.get(8)?,
                });
            }
            out.sort_unstable_by_key(|t| t.number);
            Ok(out)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracking::ledger::LedgerStart;

    /// The plan of `changes` as SQLite describes it.
    fn changes_plan(conn: &rusqlite::Connection) -> String {
        let mut st = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {CHANGES}"))
            .unwrap();
        let rows = st
            .query_map(params!["a", 0], |r| r.get::<_, String>(3))
            .unwrap();
        rows.map(Result::unwrap).collect::<Vec<_>>().join("; ")
    }

    /// `changes` runs before every ask of every worker: it reads only the trials changed
    /// (a range of the index by change number, not every trial of the search), before
    /// and after `ANALYZE`, and it is not compiled again at each run once `ANALYZE` has
    /// gathered statistics on the ledger.
    #[test]
    fn reading_changes_reads_the_changes_only_with_one_compiled_statement() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let store = SqliteStore::open_with_artifact_root(&path, dir.path()).unwrap();
        for search in ["a", "b"] {
            store
                .open_search(search, None, LedgerStart::default())
                .unwrap();
            for i in 0..300 {
                store
                    .claim_trial(search, None, &[f64::from(i)], "w")
                    .unwrap();
            }
        }
        let conn = rusqlite::Connection::open(&path).unwrap();
        let by_changes =
            "SEARCH hyperflow_trials USING INDEX hyperflow_trials_changes (search=? AND seq>?)";
        assert_eq!(changes_plan(&conn), by_changes);
        conn.execute_batch("ANALYZE").unwrap();
        assert_eq!(changes_plan(&conn), by_changes);
        let mut st = conn.prepare(CHANGES).unwrap();
        for (search, since, expected) in [("a", 0, 300), ("b", 250, 50), ("a", 290, 10)] {
            let n = st
                .query_map(params![search, since], |_| Ok(()))
                .unwrap()
                .count();
            assert_eq!(n, expected, "{search} since {since}");
        }
        let changed = store.changes("a", 290).unwrap();
        let numbers: Vec<u64> = changed.iter().map(|t| t.number).collect();
        assert_eq!(numbers, (290..300).collect::<Vec<_>>());
        assert_eq!(st.get_status(rusqlite::StatementStatus::RePrepare), 0);
    }
}
