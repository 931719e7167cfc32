//! PostgreSQL's spelling of the shared search compiler (`tracking/sql.rs`): `$N`
//! placeholders, lists bound as one array (`= ANY($N)`), `LIKE` / `ILIKE` with no escape
//! character, numbers cast to `float8` so that they compare with integer columns too.

use super::super::model::{ExperimentQuery, RunQuery};
use super::super::sql::{self, Binds, Dialect, List};
use super::super::store::Result;
use super::Tx;
use super::TxResult;
use postgres::types::ToSql;

/// A value bound to a search.
#[derive(Debug)]
pub(super) enum Value {
    Int(i64),
    Real(f64),
    Text(String),
    Ints(Vec<i64>),
    Texts(Vec<String>),
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Real(v)
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}

impl Value {
    fn as_sql(&self) -> &(dyn ToSql + Sync) {
        match self {
            Value::Int(v) => v,
            Value::Real(v) => v,
            Value::Text(v) => v,
            Value::Ints(v) => v,
            Value::Texts(v) => v,
        }
    }
}

/// PostgreSQL's spellings.
struct Postgres;

impl Dialect for Postgres {
    type Value = Value;
    const PLACEHOLDER: char = '$';
    /// PostgreSQL's planner reorders up to `join_collapse_limit` (8) joined tables; beyond
    /// that, planning time grows steeply with more joins (minutes at 32).
    const MAX_JOINED_TABLES: usize = 8;
    /// `OFFSET 0` keeps the planner from turning an `EXISTS` into a semi-join: with
    /// hundreds of them, planning the joins took minutes, while each subquery is one
    /// primary-key lookup per candidate run.
    const SUBQUERY_FENCE: &str = " OFFSET 0";

    fn in_list(b: &mut Binds<Value>, col: &str, negated: bool, list: List) -> String {
        let array = b.bind(match list {
            List::Ints(v) => Value::Ints(v),
            List::Texts(v) => Value::Texts(v),
        });
        if negated {
            format!("{col} <> ALL({array})")
        } else {
            format!("{col} = ANY({array})")
        }
    }

    fn like(b: &mut Binds<Value>, col: &str, pattern: &str) -> String {
        format!("{col} LIKE {} ESCAPE ''", b.bind(pattern.to_string()))
    }

    fn ilike(b: &mut Binds<Value>, col: &str, pattern: &str) -> String {
        format!("{col} ILIKE {} ESCAPE ''", b.bind(pattern.to_string()))
    }

    fn number(b: &mut Binds<Value>, n: f64) -> String {
        format!("{}::float8", b.bind(n))
    }
}

/// A compiled search over PostgreSQL.
pub(super) type Query = sql::Query<Value>;

impl sql::Query<Value> {
    /// Runs the query: the keys of the page's rows, one more when more follow.
    pub(super) fn keys(&self, client: &mut Tx<'_>) -> TxResult<Vec<i64>> {
        self.rows(client, |r| r.get(0))
    }

    /// Runs the query: its rows, each read with `f`.
    pub(super) fn rows<T>(
        &self,
        client: &mut Tx<'_>,
        f: impl FnMut(&postgres::Row) -> T,
    ) -> TxResult<Vec<T>> {
        let params: Vec<&(dyn ToSql + Sync)> = self.binds.iter().map(Value::as_sql).collect();
        Ok(client.query(&self.sql, &params)?.iter().map(f).collect())
    }
}

/// The query selecting the run keys of one page of `query`, from row `offset`.
pub(super) fn runs(query: &RunQuery, offset: usize) -> Result<Query> {
    sql::runs::<Postgres>(query, offset)
}

/// The query counting the runs `query` matches: one row, the count.
pub(super) fn count_runs(query: &RunQuery) -> Result<Query> {
    sql::count_runs::<Postgres>(query)
}

/// The query selecting `columns` (of the runs table, `r`) of every run `query` matches.
pub(super) fn select_matching(query: &RunQuery, columns: &str) -> Result<Query> {
    sql::select_matching::<Postgres>(query, columns)
}

/// The query selecting the experiment ids of one page of `query`, from row `offset`.
pub(super) fn experiments(query: &ExperimentQuery, offset: usize) -> Result<Query> {
    sql::experiments::<Postgres>(query, offset)
}
