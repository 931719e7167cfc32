//! SQLite's spelling of the shared search compiler (`tracking/sql.rs`): `?N`
//! placeholders, lists bound as one JSON array read through `json_each`, `LIKE` as a
//! case-sensitive `GLOB`.

use super::super::model::{ExperimentQuery, RunQuery};
use super::super::sql::{self, Binds, Dialect, KeysPage, List, SortValue};
use super::super::store::Result;
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, Value, ValueRef};

pub use super::super::sql::{MAX_FILTER_CLAUSES, MAX_ORDER_BY_KEYS};

/// SQLite's spellings.
struct Sqlite;

impl Dialect for Sqlite {
    type Value = Value;
    const PLACEHOLDER: char = '?';
    /// SQLite allows 64.
    const MAX_JOINED_TABLES: usize = 32;
    const SUBQUERY_FENCE: &str = "";

    fn in_list(b: &mut Binds<Value>, col: &str, negated: bool, list: List) -> String {
        let not = if negated { "NOT " } else { "" };
        let array = match list {
            List::Ints(v) => serde_json::Value::from(v),
            List::Texts(v) => serde_json::Value::from(v),
        };
        format!(
            "{col} {not}IN (SELECT value FROM json_each({}))",
            b.bind(array.to_string())
        )
    }

    fn like(b: &mut Binds<Value>, col: &str, pattern: &str) -> String {
        format!("{col} GLOB {}", b.bind(like_to_glob(pattern)))
    }

    fn ilike(b: &mut Binds<Value>, col: &str, pattern: &str) -> String {
        format!("lower({col}) LIKE lower({})", b.bind(pattern.to_string()))
    }

    fn number(b: &mut Binds<Value>, n: f64) -> String {
        b.bind(n)
    }
}

/// A compiled search over SQLite.
pub(super) type Query = sql::Query<Value>;

impl sql::Query<Value> {
    /// Runs the query: each row's first column.
    pub(super) fn keys(&self, conn: &rusqlite::Connection) -> rusqlite::Result<Vec<i64>> {
        self.rows(conn, |r| r.get(0))
    }

    /// Runs the query: its rows, each read with `f`.
    pub(super) fn rows<T>(
        &self,
        conn: &rusqlite::Connection,
        f: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<Vec<T>> {
        let mut statement = conn.prepare_cached(&self.sql)?;
        statement
            .query_map(rusqlite::params_from_iter(&self.binds), f)?
            .collect()
    }
}

impl sql::PageQuery<Value> {
    /// Runs the query: the keys of the page's rows and the next page's token.
    pub(super) fn page(&self, conn: &rusqlite::Connection) -> rusqlite::Result<KeysPage> {
        let mut statement = conn.prepare_cached(&self.query.sql)?;
        let rows = statement
            .query_map(rusqlite::params_from_iter(&self.query.binds), |r| {
                let sort_key = (1..=self.sort_columns)
                    .map(|i| r.get(i))
                    .collect::<rusqlite::Result<_>>()?;
                Ok((r.get(0)?, sort_key))
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(self.page_of(rows))
    }
}

impl FromSql for SortValue {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        Ok(match value {
            ValueRef::Null => SortValue::Null,
            ValueRef::Integer(v) => SortValue::Int(v),
            ValueRef::Real(v) => SortValue::Real(v),
            ValueRef::Text(_) => SortValue::Text(String::column_result(value)?),
            ValueRef::Blob(_) => return Err(FromSqlError::InvalidType),
        })
    }
}

/// The query selecting the run keys of one page of `query`, from where its token says.
pub(super) fn runs(query: &RunQuery) -> Result<sql::PageQuery<Value>> {
    sql::runs::<Sqlite>(query)
}

/// The query counting the runs `query` matches: one row, the count.
pub(super) fn count_runs(query: &RunQuery) -> Result<Query> {
    sql::count_runs::<Sqlite>(query)
}

/// The query selecting `columns` (of the runs table, `r`) of every run `query` matches.
pub(super) fn select_matching(query: &RunQuery, columns: &str) -> Result<Query> {
    sql::select_matching::<Sqlite>(query, columns)
}

/// The query selecting the experiment ids of one page of `query`, from where its token
/// says.
pub(super) fn experiments(query: &ExperimentQuery) -> Result<sql::PageQuery<Value>> {
    sql::experiments::<Sqlite>(query)
}

/// Translate a SQL LIKE pattern (`%`, `_`) into a case-sensitive GLOB pattern.
fn like_to_glob(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 4);
    for c in pattern.chars() {
        match c {
            '%' => out.push('*'),
            '_' => out.push('?'),
            '*' => out.push_str("[*]"),
            '?' => out.push_str("[?]"),
            '[' => out.push_str("[[]"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_translation() {
        assert_eq!(like_to_glob("a%b_c"), "a*b?c");
        assert_eq!(like_to_glob("x*?[y"), "x[*][?][[]y");
    }
}
