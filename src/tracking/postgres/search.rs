//! PostgreSQL's spelling of the shared search compiler (`tracking/sql.rs`): `$N`
//! placeholders, lists bound as one array (`= ANY($N)`), `LIKE` / `ILIKE` with no escape
//! character, numbers cast to `float8` so that they compare with integer columns too.

use super::super::model::{ExperimentQuery, RunQuery};
use super::super::sql::{self, Binds, Dialect, KeysPage, List, SortValue};
use super::super::store::Result;
use super::Tx;
use super::TxResult;
use postgres::types::{FromSql, ToSql, Type};

/// A value bound to a search.
#[derive(Debug)]
pub(super) enum Value {
    Bool(bool),
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

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}

impl Value {
    fn as_sql(&self) -> &(dyn ToSql + Sync) {
        match self {
            Value::Bool(v) => v,
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
    /// Runs the query: each row's first column.
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

impl sql::PageQuery<Value> {
    /// Runs the query: the keys of the page's rows and the next page's token.
    pub(super) fn page(&self, client: &mut Tx<'_>) -> TxResult<KeysPage> {
        let binds = &self.query.binds;
        let params: Vec<&(dyn ToSql + Sync)> = binds.iter().map(Value::as_sql).collect();
        let rows = client
            .query(&self.query.sql, &params)?
            .iter()
            .map(|r| {
                let sort_key = (1..=self.sort_columns)
                    .map(|i| r.try_get(i))
                    .collect::<Result<_, _>>()?;
                Ok((r.try_get(0)?, sort_key))
            })
            .collect::<Result<_, postgres::Error>>()?;
        Ok(self.page_of(rows))
    }
}

/// A sort key's columns are booleans (`IS NULL`, `is_nan`), integers, floats and text.
impl<'a> FromSql<'a> for SortValue {
    fn from_sql(
        ty: &Type,
        raw: &'a [u8],
    ) -> std::result::Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(match *ty {
            Type::BOOL => SortValue::Bool(bool::from_sql(ty, raw)?),
            Type::INT8 => SortValue::Int(i64::from_sql(ty, raw)?),
            Type::INT4 => SortValue::Int(i32::from_sql(ty, raw)?.into()),
            Type::FLOAT8 => SortValue::Real(f64::from_sql(ty, raw)?),
            _ => SortValue::Text(String::from_sql(ty, raw)?),
        })
    }

    fn from_sql_null(
        _: &Type,
    ) -> std::result::Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(SortValue::Null)
    }

    fn accepts(ty: &Type) -> bool {
        matches!(*ty, Type::BOOL | Type::INT8 | Type::INT4 | Type::FLOAT8)
            || <String as FromSql>::accepts(ty)
    }
}

/// The query selecting the run keys of one page of `query`, from where its token says.
pub(super) fn runs(query: &RunQuery) -> Result<sql::PageQuery<Value>> {
    sql::runs::<Postgres>(query)
}

/// The query counting the runs `query` matches: one row, the count.
pub(super) fn count_runs(query: &RunQuery) -> Result<Query> {
    sql::count_runs::<Postgres>(query)
}

/// The query selecting `columns` (of the runs table, `r`) of every run `query` matches.
pub(super) fn select_matching(query: &RunQuery, columns: &str) -> Result<Query> {
    sql::select_matching::<Postgres>(query, columns)
}

/// The query selecting the experiment ids of one page of `query`, from where its token
/// says.
pub(super) fn experiments(query: &ExperimentQuery) -> Result<sql::PageQuery<Value>> {
    sql::experiments::<Postgres>(query)
}
