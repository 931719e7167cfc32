//! Run and experiment searches compiled into one parameterized SQL query each, within
//! SQLite's limits on a statement: 64 tables in a join, 32,766 bound values, expression
//! trees 1,000 deep and 2,000 `ORDER BY` terms.
//!
//! - A run filter's clauses on metrics, params and tags are inner joins (the planner can
//!   drive the search from the most selective one, and `order_by` reuses them) while fewer
//!   than [`MAX_JOINED_TABLES`] tables are joined, and `EXISTS` subqueries after that;
//!   `order_by` keys are left joins within the same budget and subqueries after it.
//! - A list (`IN`, the experiment ids) is bound as one JSON array read through `json_each`,
//!   whatever its length.
//! - Conditions are combined by a balanced tree of `AND`s, so the expression depth grows
//!   with the logarithm of their number.
//! - Every value is bound through a numbered parameter; no text from a query is ever part of
//!   the SQL.
//!
//! What still needs a limit, the number of filter comparisons ([`MAX_FILTER_CLAUSES`]) and
//! of `order_by` keys ([`MAX_ORDER_BY_KEYS`]), is refused before any SQL is built, with
//! [`StoreError::InvalidParameter`] saying so.

use super::super::filter::{
    self, Comparator, EntityKind, ExperimentAttribute, ExperimentKey, Literal, OrderBy,
};
use super::super::model::{ExperimentQuery, RunQuery, ViewType};
use super::super::store::{Result, StoreError};
use rusqlite::types::Value as SqlValue;

/// The most comparisons a filter may hold (each one binds at most three values, which
/// keeps a search under SQLite's 32,766).
pub const MAX_FILTER_CLAUSES: usize = 1000;
/// The most `order_by` keys a search may have (each is at most three `ORDER BY` terms, which
/// keeps a search under SQLite's 2,000).
pub const MAX_ORDER_BY_KEYS: usize = 500;
/// Tables joined in one search (the runs table included) before further clauses become
/// subqueries; SQLite allows 64.
const MAX_JOINED_TABLES: usize = 32;

/// A compiled search: SQL selecting the keys of one page (plus one row, which says whether
/// more follow) and the values of its numbered parameters.
pub(super) struct Query {
    pub sql: String,
    pub binds: Vec<SqlValue>,
}

impl Query {
    /// Runs the query: the keys of the page's rows, one more when more follow.
    pub fn keys(&self, conn: &rusqlite::Connection) -> rusqlite::Result<Vec<i64>> {
        let mut statement = conn.prepare_cached(&self.sql)?;
        statement
            .query_map(rusqlite::params_from_iter(&self.binds), |r| r.get(0))?
            .collect()
    }
}

/// The values bound to a statement; [`Binds::bind`] returns the placeholder to write.
#[derive(Default)]
struct Binds(Vec<SqlValue>);

impl Binds {
    fn bind(&mut self, value: impl Into<SqlValue>) -> String {
        self.0.push(value.into());
        format!("?{}", self.0.len())
    }
}

fn bad_filter(message: String) -> StoreError {
    StoreError::InvalidFilter(message)
}

fn check_count(what: &str, n: usize, max: usize, advice: &str) -> Result<()> {
    if n > max {
        return Err(StoreError::InvalidParameter(format!(
            "the search has {n} {what}, more than the {max} a search accepts; {advice}"
        )));
    }
    Ok(())
}

fn check_counts(clauses: usize, order_by: usize) -> Result<()> {
    check_count(
        "filter comparisons",
        clauses,
        MAX_FILTER_CLAUSES,
        "split it into several searches, or compare run ids with one IN list",
    )?;
    check_count(
        "order_by keys",
        order_by,
        MAX_ORDER_BY_KEYS,
        "order by fewer keys (later keys only break ties of earlier ones)",
    )
}

/// All of `conditions`, as a balanced tree of `AND`s (`1` when there are none).
fn all_of(conditions: &[String]) -> String {
    match conditions {
        [] => "1".to_string(),
        [one] => one.clone(),
        _ => {
            let (left, right) = conditions.split_at(conditions.len() / 2);
            format!("({}) AND ({})", all_of(left), all_of(right))
        }
    }
}

/// `[NOT ]EXISTS (SELECT 1 FROM <table> <alias> WHERE <row>)`.
fn exists(negated: bool, table: &str, alias: &str, row: &str) -> String {
    let not = if negated { "NOT " } else { "" };
    format!("{not}EXISTS (SELECT 1 FROM {table} {alias} WHERE {row})")
}

/// `<col> [NOT] IN <values>`: one value as `=` / `!=`, more as one bound JSON array.
fn in_list<T>(b: &mut Binds, col: &str, negated: bool, values: &[T]) -> String
where
    T: Clone + Into<SqlValue> + Into<serde_json::Value>,
{
    if let [one] = values {
        let op = if negated { "!=" } else { "=" };
        return format!("{col} {op} {}", b.bind(one.clone()));
    }
    let not = if negated { "NOT " } else { "" };
    let array = serde_json::Value::from(values.to_vec()).to_string();
    format!(
        "{col} {not}IN (SELECT value FROM json_each({}))",
        b.bind(array)
    )
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

/// SQL for `<col> <op> <value>`: numbers compare as numbers, strings as text (`LIKE` is
/// case-sensitive, `ILIKE` is not), lists with `IN`. The parser has checked that the value
/// suits the key and the operator.
fn condition(b: &mut Binds, col: &str, op: Comparator, value: &Literal) -> Result<String> {
    use Comparator::*;
    Ok(match (op, value) {
        (Eq | NotEq | Lt | Le | Gt | Ge, Literal::Number(n)) => {
            format!("{col} {op} {}", b.bind(*n))
        }
        (Eq | NotEq, Literal::Str(s)) => format!("{col} {op} {}", b.bind(s.clone())),
        (Like, Literal::Str(s)) => format!("{col} GLOB {}", b.bind(like_to_glob(s))),
        (ILike, Literal::Str(s)) => format!("lower({col}) LIKE lower({})", b.bind(s.clone())),
        (In | NotIn, Literal::List(items)) if !items.is_empty() => {
            in_list(b, col, op == NotIn, items)
        }
        (op, value) => {
            return Err(bad_filter(format!(
                "the operator {op} does not apply to the value {value}"
            )));
        }
    })
}

/// The column of a run attribute.
fn attribute_column(key: &str) -> Result<&'static str> {
    Ok(match key {
        "run_id" => "r.run_id",
        "run_name" => "r.name",
        "status" => "r.status",
        "user_id" => "r.user_id",
        "artifact_uri" => "r.artifact_uri",
        "start_time" => "r.start_time",
        "end_time" => "r.end_time",
        other => {
            return Err(bad_filter(format!(
                "Invalid attribute key '{other}'; valid keys are run_id, run_name, status, \
                 user_id, artifact_uri, start_time, end_time"
            )));
        }
    })
}

/// The table holding a run's values of one kind of key.
fn table_of(kind: EntityKind) -> &'static str {
    match kind {
        EntityKind::Metric => "latest_metrics",
        EntityKind::Param => "params",
        _ => "tags",
    }
}

fn view_condition(view: ViewType, col: &str) -> Option<String> {
    match view {
        ViewType::ActiveOnly => Some(format!("{col} = 'active'")),
        ViewType::DeletedOnly => Some(format!("{col} = 'deleted'")),
        ViewType::All => None,
    }
}

fn direction(ascending: bool) -> &'static str {
    if ascending { "ASC" } else { "DESC" }
}

/// A run search being compiled.
#[derive(Default)]
struct RunSearch {
    b: Binds,
    /// Tables joined (besides the runs table).
    joined: usize,
    joins: String,
    /// Filter keys that are inner-joined, with their alias: order_by reuses them.
    inner: Vec<(EntityKind, String, String)>,
    wheres: Vec<String>,
    order: Vec<String>,
}

/// A row of a run's params, tags or latest metrics, by key.
fn run_row(alias: &str, key: &str) -> String {
    format!("{alias}.run_key = r.run_key AND {alias}.key = {key}")
}

impl RunSearch {
    fn can_join(&self) -> bool {
        self.joined + 1 < MAX_JOINED_TABLES
    }

    /// Requires the run to have a row of `kind` with `key` where `condition` (about the
    /// row's alias) holds.
    fn require(&mut self, kind: EntityKind, key: &str, alias: &str, condition: &str) {
        let table = table_of(kind);
        let key_bind = self.b.bind(key.to_string());
        let row = format!("{} AND {condition}", run_row(alias, &key_bind));
        if self.can_join() {
            self.joined += 1;
            self.joins += &format!(" JOIN {table} {alias} ON {row}");
            self.inner.push((kind, key.to_string(), alias.to_string()));
        } else {
            self.wheres.push(exists(false, table, alias, &row));
        }
    }

    fn filter(&mut self, filter: &filter::Filter) -> Result<()> {
        for (i, clause) in filter.clauses.iter().enumerate() {
            let (kind, key) = (clause.ident.kind, clause.ident.key.as_str());
            let alias = format!("f{i}");
            let value = format!("{alias}.value");
            match (kind, clause.op) {
                (EntityKind::Metric, op) => {
                    let sql = match (op, &clause.value) {
                        // NaN differs from every number.
                        (Comparator::NotEq, Literal::Number(n)) => {
                            format!("({alias}.is_nan = 1 OR {value} != {})", self.b.bind(*n))
                        }
                        _ => format!(
                            "{alias}.is_nan = 0 AND {}",
                            condition(&mut self.b, &value, op, &clause.value)?
                        ),
                    };
                    self.require(kind, key, &alias, &sql);
                }
                (
                    EntityKind::Param | EntityKind::Tag,
                    op @ (Comparator::IsNull | Comparator::IsNotNull),
                ) => {
                    let row = run_row("x", &self.b.bind(key.to_string()));
                    let absent = op == Comparator::IsNull;
                    self.wheres.push(exists(absent, table_of(kind), "x", &row));
                }
                (EntityKind::Param | EntityKind::Tag, op) => {
                    let sql = condition(&mut self.b, &value, op, &clause.value)?;
                    self.require(kind, key, &alias, &sql);
                }
                (EntityKind::Attribute, op) => {
                    let col = attribute_column(key)?;
                    self.wheres.push(match op {
                        Comparator::IsNull => format!("{col} IS NULL"),
                        Comparator::IsNotNull => format!("{col} IS NOT NULL"),
                        _ => condition(&mut self.b, col, op, &clause.value)?,
                    });
                }
                // Runs carry no dataset inputs in this store: nothing matches.
                (EntityKind::Dataset, _) => self.wheres.push("0".to_string()),
            }
        }
        Ok(())
    }

    fn order_by(&mut self, order: &[OrderBy]) -> Result<()> {
        let mut has_start_time = false;
        for (i, o) in order.iter().enumerate() {
            let (kind, key) = (o.ident.kind, o.ident.key.as_str());
            let dir = direction(o.ascending);
            let inner = self
                .inner
                .iter()
                .find(|(k, joined_key, _)| *k == kind && joined_key == key);
            if let Some((_, _, alias)) = inner {
                // The filter inner-joins this key: every row has it.
                self.order.push(match kind {
                    EntityKind::Metric => format!("{alias}.is_nan, {alias}.value {dir}"),
                    _ => format!("{alias}.value {dir}"),
                });
                continue;
            }
            match kind {
                EntityKind::Metric | EntityKind::Param | EntityKind::Tag => {
                    let table = table_of(kind);
                    let key_bind = self.b.bind(key.to_string());
                    let column: Box<dyn Fn(&str) -> String> = if self.can_join() {
                        let alias = format!("o{i}");
                        self.joined += 1;
                        self.joins += &format!(
                            " LEFT JOIN {table} {alias} ON {}",
                            run_row(&alias, &key_bind)
                        );
                        Box::new(move |col| format!("{alias}.{col}"))
                    } else {
                        let row = run_row("x", &key_bind);
                        Box::new(move |col| format!("(SELECT x.{col} FROM {table} x WHERE {row})"))
                    };
                    // Runs without the key last, then NaN metrics, in either direction.
                    self.order.push(match kind {
                        EntityKind::Metric => format!(
                            "{0} IS NULL, {0}, {1} {dir}",
                            column("is_nan"),
                            column("value")
                        ),
                        _ => format!("{0} IS NULL, {0} {dir}", column("value")),
                    });
                }
                EntityKind::Attribute => {
                    let col = attribute_column(key)?;
                    has_start_time |= key == "start_time";
                    self.order.push(format!("{col} IS NULL, {col} {dir}"));
                }
                EntityKind::Dataset => {
                    return Err(bad_filter(
                        "ordering by dataset fields is not supported; order by metrics, params, \
                         tags or attributes"
                            .to_string(),
                    ));
                }
            }
        }
        if !has_start_time {
            self.order.push("r.start_time DESC".to_string());
        }
        self.order.push("r.run_id ASC".to_string());
        Ok(())
    }
}

/// The query selecting the run keys of one page of `query`, from row `offset`.
pub(super) fn runs(query: &RunQuery, offset: usize) -> Result<Query> {
    let filter = filter::parse_filter(&query.filter)?;
    let order = filter::parse_order_by_list(&query.order_by)?;
    check_counts(filter.clauses.len(), order.len())?;
    let ids = query
        .experiment_ids
        .iter()
        .map(super::parse_experiment_id)
        .collect::<Result<Vec<_>>>()?;
    let mut s = RunSearch::default();
    s.wheres
        .push(in_list(&mut s.b, "r.experiment_id", false, &ids));
    s.wheres
        .extend(view_condition(query.view_type, "r.lifecycle_stage"));
    s.filter(&filter)?;
    s.order_by(&order)?;
    let limit = s.b.bind(page_end(query.max_results));
    let offset = s.b.bind(offset_value(offset));
    Ok(Query {
        sql: format!(
            "SELECT r.run_key FROM runs r{} WHERE {} ORDER BY {} LIMIT {limit} OFFSET {offset}",
            s.joins,
            all_of(&s.wheres),
            s.order.join(", ")
        ),
        binds: s.b.0,
    })
}

/// The query selecting the experiment ids of one page of `query`, from row `offset`.
pub(super) fn experiments(query: &ExperimentQuery, offset: usize) -> Result<Query> {
    let filter = filter::parse_experiment_filter(&query.filter)?;
    let order = filter::parse_experiment_order_by_list(&query.order_by)?;
    check_counts(filter.clauses.len(), order.len())?;
    let mut b = Binds::default();
    let mut wheres: Vec<String> = view_condition(query.view_type, "e.lifecycle_stage")
        .into_iter()
        .collect();
    for clause in &filter.clauses {
        let (op, value) = (clause.op, &clause.value);
        let sql = match &clause.ident {
            ExperimentKey::Tag(key) => {
                let mut row = format!(
                    "t.experiment_id = e.experiment_id AND t.key = {}",
                    b.bind(key.clone())
                );
                if !op.takes_no_value() {
                    row += " AND ";
                    row += &condition(&mut b, "t.value", op, value)?;
                }
                exists(op == Comparator::IsNull, "experiment_tags", "t", &row)
            }
            ExperimentKey::Attribute(a) => {
                let col = match a {
                    ExperimentAttribute::Name => "e.name",
                    // Ids compare as text, like MLflow's string ids.
                    ExperimentAttribute::ExperimentId => "CAST(e.experiment_id AS TEXT)",
                    ExperimentAttribute::CreationTime => "e.creation_time",
                    ExperimentAttribute::LastUpdateTime => "e.last_update_time",
                };
                condition(&mut b, col, op, value)?
            }
        };
        wheres.push(sql);
    }
    let mut order: Vec<String> = order
        .iter()
        .map(|o| format!("e.{} {}", o.ident.as_str(), direction(o.ascending)))
        .collect();
    if order.is_empty() {
        order.push("e.creation_time DESC".into());
    }
    order.push("e.experiment_id ASC".into());
    let limit = b.bind(page_end(query.max_results));
    let offset = b.bind(offset_value(offset));
    Ok(Query {
        sql: format!(
            "SELECT e.experiment_id FROM experiments e WHERE {} ORDER BY {} LIMIT {limit} \
             OFFSET {offset}",
            all_of(&wheres),
            order.join(", ")
        ),
        binds: b.0,
    })
}

/// `LIMIT` of a page of `max_results`: one row more, which says whether more follow.
fn page_end(max_results: usize) -> i64 {
    i64::try_from(max_results).map_or(i64::MAX, |n| n.saturating_add(1))
}

fn offset_value(offset: usize) -> i64 {
    i64::try_from(offset).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_translation() {
        assert_eq!(like_to_glob("a%b_c"), "a*b?c");
        assert_eq!(like_to_glob("x*?[y"), "x[*][?][[]y");
    }

    #[test]
    fn conditions_nest_as_a_balanced_tree() {
        let conditions: Vec<String> = (0..1024).map(|i| format!("c{i}")).collect();
        let sql = all_of(&conditions);
        let mut depth = 0usize;
        let mut deepest = 0;
        for c in sql.chars() {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                _ => {}
            }
            deepest = deepest.max(depth);
        }
        assert_eq!(deepest, 10);
        assert_eq!(all_of(&[]), "1");
        assert_eq!(all_of(&["a".to_string()]), "a");
    }
}
