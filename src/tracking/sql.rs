//! Run and experiment searches compiled into one parameterized SQL query each, shared by
//! the SQL stores (SQLite and PostgreSQL), which differ only in a few spellings
//! ([`Dialect`]). The queries stay within SQLite's limits on a statement (the tighter of
//! the two): 64 tables in a join, 32,766 bound values, expression trees 1,000 deep and
//! 2,000 `ORDER BY` terms.
//!
//! - A run filter's clauses on metrics, params and tags are inner joins (the planner can
//!   drive the search from the most selective one, and `order_by` reuses them) while fewer
//!   than [`Dialect::MAX_JOINED_TABLES`] tables are joined, and `EXISTS` subqueries after that;
//!   `order_by` keys are left joins within the same budget and subqueries after it.
//! - A list (`IN`, the experiment ids) is bound as one value, whatever its length.
//! - Conditions are combined by a balanced tree of `AND`s, so the expression depth grows
//!   with the logarithm of their number.
//! - Every value is bound through a numbered parameter; no text from a query is ever part of
//!   the SQL.
//! - Pages are found by their sort key (keyset paging): a search's order ends with a unique
//!   key (the run id, the experiment id), a page's token carries the sort key of the page's
//!   last row ([`SortValue`]s), and the next page is the rows after it, a condition that an
//!   index on the leading sort key answers by seeking. A page costs the same wherever it is
//!   in the list, and rows written or deleted between pages neither repeat nor skip others.
//!   MLflow's offset tokens (`{"offset": N}`) are still read, as `OFFSET`.
//!
//! What still needs a limit, the number of filter comparisons ([`MAX_FILTER_CLAUSES`]) and
//! of `order_by` keys ([`MAX_ORDER_BY_KEYS`]), is refused before any SQL is built, with
//! [`StoreError::InvalidParameter`] saying so.
//!
//! The tables searched: `runs` (`run_key`, `run_id`, `experiment_id`, `name`, `user_id`,
//! `status`, `start_time`, `end_time`, `artifact_uri`, `lifecycle_stage`), `params` and
//! `tags` (`run_key`, `key`, `value`), `latest_metrics` (`run_key`, `key`, `value`,
//! `is_nan` as a boolean, ...), `experiments` and `experiment_tags`.

use super::filter::{
    self, Comparator, EntityKind, ExperimentAttribute, ExperimentKey, Literal, OrderBy,
};
use super::model::{
    ExperimentQuery, Metric, Param, Run, RunData, RunInfo, RunInputs, RunQuery, Tag, ViewType, tags,
};
use super::selected::{SelectedRuns, SelectedRunsBuilder, sort_unless_sorted};
use super::store::{
    Result, StoreError, encode_page_token_json, page_token_json, page_token_offset,
    parse_experiment_id,
};
use std::collections::HashMap;

/// The most comparisons a filter may hold (each one binds at most three values, which
/// keeps a search under SQLite's 32,766).
pub const MAX_FILTER_CLAUSES: usize = 1000;
/// The most `order_by` keys a search may have (each is at most three `ORDER BY` terms, which
/// keeps a search under SQLite's 2,000).
pub const MAX_ORDER_BY_KEYS: usize = 500;

/// A list bound as one value: the experiment ids of a search, or a filter's `IN` strings.
pub(crate) enum List {
    /// Experiment ids.
    Ints(Vec<i64>),
    /// Strings from a filter.
    Texts(Vec<String>),
}

/// The spellings in which the SQL stores differ.
pub(crate) trait Dialect {
    /// The type of a bound value in the store's driver.
    type Value: From<i64> + From<f64> + From<String> + From<bool>;
    /// Placeholders are this character and the 1-based number of the value.
    const PLACEHOLDER: char;
    /// Tables joined in one search (the runs table included) before further clauses
    /// become subqueries.
    const MAX_JOINED_TABLES: usize;
    /// Written at the end of an `EXISTS` subquery to keep the planner from flattening it
    /// into the join.
    const SUBQUERY_FENCE: &str;
    /// `<col> [NOT] IN <list>` for a list of more than one value.
    fn in_list(b: &mut Binds<Self::Value>, col: &str, negated: bool, list: List) -> String;
    /// `<col> LIKE <pattern>`, case-sensitive, `%` and `_` the only special characters.
    fn like(b: &mut Binds<Self::Value>, col: &str, pattern: &str) -> String;
    /// `<col> ILIKE <pattern>`: as [`Dialect::like`] but case-insensitive.
    fn ilike(b: &mut Binds<Self::Value>, col: &str, pattern: &str) -> String;
    /// A bound number, comparable with integer and floating-point columns.
    fn number(b: &mut Binds<Self::Value>, n: f64) -> String;
}

/// A compiled search: SQL selecting the keys of one page (plus one row, which says whether
/// more follow) and the values of its numbered parameters.
pub(crate) struct Query<V> {
    pub sql: String,
    pub binds: Vec<V>,
}

/// A compiled search of one page: SQL selecting each row's key and then its sort key
/// ([`PageQuery::sort_columns`] values), one row more than the page, which says whether
/// more follow.
pub(crate) struct PageQuery<V> {
    /// The SQL and its bound values.
    pub query: Query<V>,
    /// Columns of the sort key after the row's key.
    pub sort_columns: usize,
    max_results: usize,
    /// The order's fingerprint, which the next page's token names.
    order: String,
}

/// One page of a search: the keys of its rows, in order, and the next page's token.
pub(crate) struct KeysPage {
    /// The rows' keys (run keys, experiment ids), at most the page's size.
    pub keys: Vec<i64>,
    /// The token of the page after it, when more rows follow.
    pub next_page_token: Option<String>,
}

impl<V> PageQuery<V> {
    /// The page from the query's rows (each row's key and sort key): the next page's token
    /// carries the sort key of this page's last row.
    pub fn page_of(&self, mut rows: Vec<(i64, Vec<SortValue>)>) -> KeysPage {
        let more = rows.len() > self.max_results;
        rows.truncate(self.max_results);
        let next_page_token = match rows.last() {
            Some((_, key)) if more => Some(after_token(&self.order, key)),
            _ => None,
        };
        KeysPage {
            keys: rows.into_iter().map(|(key, _)| key).collect(),
            next_page_token,
        }
    }
}

/// One value of a row's sort key, as a page token carries it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SortValue {
    /// A value the row lacks (a metric, param or tag it does not have, no end time).
    Null,
    /// An `IS NULL` term or a metric's `is_nan` (PostgreSQL's booleans; SQLite's are `Int`).
    Bool(bool),
    /// An integer column (times, ids).
    Int(i64),
    /// A metric's value.
    Real(f64),
    /// A text column (run id, names, params, tags).
    Text(String),
}

impl SortValue {
    /// JSON has no NaN nor infinities: a float is written as its exact decimal text in an
    /// object, `{"f": "2.5e-1"}`.
    fn to_json(&self) -> serde_json::Value {
        match self {
            SortValue::Null => serde_json::Value::Null,
            SortValue::Bool(v) => (*v).into(),
            SortValue::Int(v) => (*v).into(),
            SortValue::Real(v) => serde_json::json!({ "f": format!("{v:e}") }),
            SortValue::Text(v) => v.as_str().into(),
        }
    }

    fn from_json(json: &serde_json::Value) -> Option<SortValue> {
        use serde_json::Value;
        Some(match json {
            Value::Null => SortValue::Null,
            Value::Bool(v) => SortValue::Bool(*v),
            Value::Number(v) => SortValue::Int(v.as_i64()?),
            Value::String(v) => SortValue::Text(v.clone()),
            Value::Object(o) if o.len() == 1 => {
                SortValue::Real(o.get("f")?.as_str()?.parse().ok()?)
            }
            _ => return None,
        })
    }
}

/// The token of the page after the row whose sort key is `key`, in the order `order`
/// fingerprints.
fn after_token(order: &str, key: &[SortValue]) -> String {
    let json = serde_json::json!({
        "after": key.iter().map(SortValue::to_json).collect::<Vec<_>>(),
        "order": order,
    });
    encode_page_token_json(&json.to_string())
}

/// Where a page starts, as its token says.
enum PageStart {
    First,
    /// An MLflow token: skip this many rows.
    Offset(usize),
    /// After the row with this sort key.
    After(Vec<SortValue>),
}

/// A search's order: its terms (an SQL expression, in parentheses unless it is a column or
/// a subquery, and whether ascending) ending with a unique one, so that the order is total
/// and a sort key names one row.
struct Order {
    terms: Vec<(String, bool)>,
    /// A fingerprint of the order asked for: a token names it, so that a token is not taken
    /// by a search in another order.
    fingerprint: String,
}

impl Order {
    /// `asked` is the order as the search gave it (its `order_by` keys, normalized).
    fn new(asked: &str) -> Self {
        // FNV-1a: stable across builds and processes, unlike the standard library's hasher.
        let hash = asked.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, byte| {
            (h ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
        });
        Order {
            terms: Vec::new(),
            fingerprint: format!("{hash:016x}"),
        }
    }

    fn push(&mut self, expression: impl Into<String>, ascending: bool) {
        self.terms.push((expression.into(), ascending));
    }

    /// The `ORDER BY` list.
    fn order_by(&self) -> String {
        let terms: Vec<String> = self
            .terms
            .iter()
            .map(|(term, ascending)| format!("{term} {}", direction(*ascending)))
            .collect();
        terms.join(", ")
    }

    /// Where the page `token` names starts.
    fn start(&self, token: Option<&str>) -> Result<PageStart> {
        let Some(json) = page_token_json(token)? else {
            return Ok(PageStart::First);
        };
        let token = token.unwrap_or_default();
        if let Some(offset) = page_token_offset(&json) {
            return Ok(PageStart::Offset(offset));
        }
        let key = json
            .get("after")
            .and_then(|a| a.as_array())
            .and_then(|a| {
                a.iter()
                    .map(SortValue::from_json)
                    .collect::<Option<Vec<_>>>()
            })
            .ok_or_else(|| {
                StoreError::InvalidParameter(format!(
                    "Invalid page token '{token}', it has neither an 'offset' nor the sort key \
                     of a row; pass the next_page_token of a previous page unchanged"
                ))
            })?;
        let same_order = json.get("order").and_then(|o| o.as_str()) == Some(&self.fingerprint);
        if !same_order || key.len() != self.terms.len() {
            return Err(StoreError::InvalidParameter(format!(
                "Invalid page token '{token}', it continues a search in another order or with \
                 another filter; pass the next_page_token of the previous page of this search"
            )));
        }
        Ok(PageStart::After(key))
    }

    /// The conditions selecting the rows after the row whose sort key is `key`: the first
    /// term's bound (which an index on it seeks to), and the rows strictly after the key.
    /// Terms that may be NULL follow their `IS NULL` term, so that a NULL is only compared
    /// with rows that tie with it on that term, all NULL.
    fn after<V>(&self, b: &mut Binds<V>, key: Vec<SortValue>) -> Vec<String>
    where
        V: From<i64> + From<f64> + From<String> + From<bool>,
    {
        let mut strict = Vec::with_capacity(key.len());
        let mut equal = Vec::with_capacity(key.len());
        let mut conditions = Vec::new();
        for (i, ((term, ascending), value)) in self.terms.iter().zip(key).enumerate() {
            let value = match value {
                SortValue::Null => {
                    strict.push("FALSE".to_string());
                    equal.push(format!("{term} IS NULL"));
                    continue;
                }
                SortValue::Bool(v) => b.bind(v),
                SortValue::Int(v) => b.bind(v),
                SortValue::Real(v) => b.bind(v),
                SortValue::Text(v) => b.bind(v),
            };
            let (after, from) = if *ascending { (">", ">=") } else { ("<", "<=") };
            if i == 0 {
                conditions.push(format!("{term} {from} {value}"));
            }
            strict.push(format!("{term} {after} {value}"));
            equal.push(format!("{term} = {value}"));
        }
        conditions.push(rows_after(&strict, &equal));
        conditions
    }
}

/// The rows after a sort key, given for each term the condition that a row is after the
/// key's value (`strict`) and that it ties with it (`equal`): after on the first term, or
/// tied on it and after on the rest. Split in halves, so the expression's depth grows with
/// the logarithm of the number of terms.
fn rows_after(strict: &[String], equal: &[String]) -> String {
    match strict.len() {
        0 => "FALSE".to_string(),
        1 => strict[0].clone(),
        n => {
            let half = n / 2;
            format!(
                "({}) OR (({}) AND ({}))",
                rows_after(&strict[..half], &equal[..half]),
                all_of(&equal[..half]),
                rows_after(&strict[half..], &equal[half..])
            )
        }
    }
}

/// The query of one page: `key` and the order's terms of the rows of `from` where `wheres`
/// hold, from where `token` says.
fn page_query<V: From<i64> + From<f64> + From<String> + From<bool>>(
    mut b: Binds<V>,
    key: &str,
    from: &str,
    mut wheres: Vec<String>,
    order: Order,
    max_results: usize,
    token: Option<&str>,
) -> Result<PageQuery<V>> {
    let mut offset = String::new();
    match order.start(token)? {
        PageStart::First => {}
        PageStart::Offset(n) => offset = format!(" OFFSET {}", b.bind(offset_value(n))),
        PageStart::After(sort_key) => wheres.extend(order.after(&mut b, sort_key)),
    }
    let limit = b.bind(page_end(max_results));
    let columns: String = order.terms.iter().map(|(t, _)| format!(", {t}")).collect();
    Ok(PageQuery {
        query: Query {
            sql: format!(
                "SELECT {key}{columns} FROM {from} WHERE {} ORDER BY {} LIMIT {limit}{offset}",
                all_of(&wheres),
                order.order_by()
            ),
            binds: b.values,
        },
        sort_columns: order.terms.len(),
        max_results,
        order: order.fingerprint,
    })
}

/// The values bound to a statement; [`Binds::bind`] returns the placeholder to write.
pub(crate) struct Binds<V> {
    placeholder: char,
    values: Vec<V>,
}

impl<V> Binds<V> {
    fn new<D: Dialect<Value = V>>() -> Self {
        Binds {
            placeholder: D::PLACEHOLDER,
            values: Vec::new(),
        }
    }

    /// Binds `value`; returns its placeholder.
    pub fn bind(&mut self, value: impl Into<V>) -> String {
        self.values.push(value.into());
        format!("{}{}", self.placeholder, self.values.len())
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

/// All of `conditions`, as a balanced tree of `AND`s (`TRUE` when there are none).
fn all_of(conditions: &[String]) -> String {
    match conditions {
        [] => "TRUE".to_string(),
        [one] => one.clone(),
        _ => {
            let (left, right) = conditions.split_at(conditions.len() / 2);
            format!("({}) AND ({})", all_of(left), all_of(right))
        }
    }
}

/// `[NOT ]EXISTS (SELECT 1 FROM <table> <alias> WHERE <row>)`.
fn exists<D: Dialect>(negated: bool, table: &str, alias: &str, row: &str) -> String {
    let not = if negated { "NOT " } else { "" };
    let fence = D::SUBQUERY_FENCE;
    format!("{not}EXISTS (SELECT 1 FROM {table} {alias} WHERE {row}{fence})")
}

/// `<col> [NOT] IN <values>`: one value as `=` / `!=`, more as one bound list.
fn in_list<D: Dialect>(b: &mut Binds<D::Value>, col: &str, negated: bool, list: List) -> String {
    let op = if negated { "!=" } else { "=" };
    match list {
        List::Ints(v) if v.len() == 1 => format!("{col} {op} {}", b.bind(v[0])),
        List::Texts(mut v) if v.len() == 1 => format!("{col} {op} {}", b.bind(v.remove(0))),
        list => D::in_list(b, col, negated, list),
    }
}

/// SQL for `<col> <op> <value>`: numbers compare as numbers, strings as text (`LIKE` is
/// case-sensitive, `ILIKE` is not), lists with `IN`. The parser has checked that the value
/// suits the key and the operator.
fn condition<D: Dialect>(
    b: &mut Binds<D::Value>,
    col: &str,
    op: Comparator,
    value: &Literal,
) -> Result<String> {
    use Comparator::*;
    Ok(match (op, value) {
        (Eq | NotEq | Lt | Le | Gt | Ge, Literal::Number(n)) => {
            format!("{col} {op} {}", D::number(b, *n))
        }
        (Eq | NotEq, Literal::Str(s)) => format!("{col} {op} {}", b.bind(s.clone())),
        (Like, Literal::Str(s)) => D::like(b, col, s),
        (ILike, Literal::Str(s)) => D::ilike(b, col, s),
        (In | NotIn, Literal::List(items)) if !items.is_empty() => {
            in_list::<D>(b, col, op == NotIn, List::Texts(items.clone()))
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
struct RunSearch<D: Dialect> {
    b: Binds<D::Value>,
    /// Tables joined (besides the runs table).
    joined: usize,
    joins: String,
    /// Filter keys that are inner-joined, with their alias: order_by reuses them.
    inner: Vec<(EntityKind, String, String)>,
    wheres: Vec<String>,
    /// Whether the filter asks for the child runs of one run (`tags.mlflow.parentRunId =`).
    children: bool,
    dialect: std::marker::PhantomData<D>,
}

/// A row of a run's params, tags or latest metrics, by key.
fn run_row(alias: &str, key: &str) -> String {
    format!("{alias}.run_key = r.run_key AND {alias}.key = {key}")
}

impl<D: Dialect> RunSearch<D> {
    fn new() -> Self {
        RunSearch {
            b: Binds::new::<D>(),
            joined: 0,
            joins: String::new(),
            inner: Vec::new(),
            wheres: Vec::new(),
            children: false,
            dialect: std::marker::PhantomData,
        }
    }

    fn can_join(&self) -> bool {
        self.joined + 1 < D::MAX_JOINED_TABLES
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
            self.wheres.push(exists::<D>(false, table, alias, &row));
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
                        (Comparator::NotEq, Literal::Number(n)) => format!(
                            "({alias}.is_nan = TRUE OR {value} != {})",
                            D::number(&mut self.b, *n)
                        ),
                        _ => format!(
                            "{alias}.is_nan = FALSE AND {}",
                            condition::<D>(&mut self.b, &value, op, &clause.value)?
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
                    self.wheres
                        .push(exists::<D>(absent, table_of(kind), "x", &row));
                }
                (EntityKind::Param | EntityKind::Tag, op) => {
                    self.children |= kind == EntityKind::Tag
                        && op == Comparator::Eq
                        && key == tags::PARENT_RUN_ID;
                    let sql = condition::<D>(&mut self.b, &value, op, &clause.value)?;
                    self.require(kind, key, &alias, &sql);
                }
                (EntityKind::Attribute, op) => {
                    let col = attribute_column(key)?;
                    self.wheres.push(match op {
                        Comparator::IsNull => format!("{col} IS NULL"),
                        Comparator::IsNotNull => format!("{col} IS NOT NULL"),
                        _ => condition::<D>(&mut self.b, col, op, &clause.value)?,
                    });
                }
                // Runs carry no dataset inputs in the SQL stores' searches: nothing matches.
                (EntityKind::Dataset, _) => self.wheres.push("FALSE".to_string()),
            }
        }
        Ok(())
    }

    /// The order of `order_by`, then start time (latest first) unless it is one of the
    /// keys, then run id.
    fn order_by(&mut self, order_by: &[OrderBy]) -> Result<Order> {
        let asked: Vec<String> = order_by.iter().map(ToString::to_string).collect();
        let mut order = Order::new(&asked.join(", "));
        let mut has_start_time = false;
        for (i, o) in order_by.iter().enumerate() {
            let (kind, key, ascending) = (o.ident.kind, o.ident.key.as_str(), o.ascending);
            let inner = self
                .inner
                .iter()
                .find(|(k, joined_key, _)| *k == kind && joined_key == key);
            if let Some((_, _, alias)) = inner {
                // The filter inner-joins this key: every row has it.
                if kind == EntityKind::Metric {
                    order.push(format!("{alias}.is_nan"), true);
                }
                order.push(format!("{alias}.value"), ascending);
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
                    let first = column(if kind == EntityKind::Metric {
                        "is_nan"
                    } else {
                        "value"
                    });
                    order.push(format!("({first} IS NULL)"), true);
                    if kind == EntityKind::Metric {
                        order.push(first, true);
                    }
                    order.push(column("value"), ascending);
                }
                EntityKind::Attribute => {
                    let col = attribute_column(key)?;
                    has_start_time |= key == "start_time";
                    // Runs without an end time last; the other attributes are never NULL.
                    if key == "end_time" {
                        order.push(format!("({col} IS NULL)"), true);
                    }
                    order.push(col, ascending);
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
            order.push("r.start_time", false);
        }
        order.push("r.run_id", true);
        Ok(order)
    }
}

/// The query selecting the run keys of one page of `query`, from where its page token says.
pub(crate) fn runs<D: Dialect>(query: &RunQuery) -> Result<PageQuery<D::Value>> {
    let order_by = filter::parse_order_by_list(&query.order_by)?;
    let mut s = run_matches::<D>(query, order_by.len(), true)?;
    let order = s.order_by(&order_by)?;
    page_query(
        s.b,
        "r.run_key",
        &format!("runs r{}", s.joins),
        s.wheres,
        order,
        query.max_results,
        query.page_token.as_deref(),
    )
}

/// The search of the runs `query` matches (experiments, lifecycle stage, filter), before
/// its order (`ordered`: whether it will have one); `order_keys` counts against the limit on
/// filter and order keys.
fn run_matches<D: Dialect>(
    query: &RunQuery,
    order_keys: usize,
    ordered: bool,
) -> Result<RunSearch<D>> {
    let experiment_ids = query
        .experiment_ids
        .iter()
        .map(parse_experiment_id)
        .collect::<Result<Vec<_>>>()?;
    let filter = filter::parse_filter(&query.filter)?;
    check_counts(filter.clauses.len(), order_keys)?;
    let mut s = RunSearch::<D>::new();
    s.filter(&filter)?;
    // One experiment (the usual search) compares with `=`, so the runs' index by
    // experiment and start time both finds the runs and orders them: a page skips to its
    // key in the index instead of sorting every run. Unordered, the children of one run are
    // found from the index by parent instead (`+` keeps SQLite from using the
    // experiment's): it picks them out of any number of runs, where the experiment's index
    // reads every run of the experiment and looks each one up in the other.
    let column = if s.children && !ordered {
        "+r.experiment_id"
    } else {
        "r.experiment_id"
    };
    let ids = match experiment_ids[..] {
        [id] => format!("{column} = {}", s.b.bind(id)),
        _ => in_list::<D>(&mut s.b, column, false, List::Ints(experiment_ids)),
    };
    // The experiments and the stage come before the filter's conditions in the query.
    let scope = std::iter::once(ids).chain(view_condition(query.view_type, "r.lifecycle_stage"));
    s.wheres.splice(0..0, scope);
    Ok(s)
}

/// The query counting the runs `query` matches (its order, page size and token aside):
/// one row, the count.
pub(crate) fn count_runs<D: Dialect>(query: &RunQuery) -> Result<Query<D::Value>> {
    select_matching::<D>(query, "COUNT(*)")
}

/// The query selecting `columns` (of the runs table, `r`) of every run `query` matches
/// (its order, page size and token aside), in no particular order.
pub(crate) fn select_matching<D: Dialect>(
    query: &RunQuery,
    columns: &str,
) -> Result<Query<D::Value>> {
    let s = run_matches::<D>(query, 0, false)?;
    Ok(Query {
        sql: format!(
            "SELECT {columns} FROM runs r{} WHERE {}",
            s.joins,
            all_of(&s.wheres)
        ),
        binds: s.b.values,
    })
}

/// Where a SQL store puts the rows of its runs' params, tags and latest metrics as it reads
/// them, in whatever order a table gives them: the runs of a page of a search
/// ([`KeyedRuns`]) or of a whole search ([`KeyedSelection`]). Rows of runs that are not
/// these are dropped.
pub(crate) trait RunRows {
    /// The keys of the runs, ascending.
    fn keys(&self) -> &[i64];
    /// A param of the run with key `run`.
    fn param(&mut self, run: i64, key: &str, value: &str);
    /// A tag of the run with key `run`.
    fn tag(&mut self, run: i64, key: &str, value: &str);
    /// A latest metric of the run with key `run`.
    fn metric(&mut self, run: i64, key: &str, value: f64, timestamp: i64, step: i64);
}

/// Run keys, ascending, and where the last row went: rows come grouped by run, so the next
/// one usually goes there too or to the next run.
struct KeyIndex {
    keys: Vec<i64>,
    at: usize,
}

impl KeyIndex {
    /// The position of `key`, if it is one of these keys.
    fn find(&mut self, key: i64) -> Option<usize> {
        let at = [self.at, self.at + 1]
            .into_iter()
            .find(|&i| self.keys.get(i) == Some(&key))
            .or_else(|| self.keys.binary_search(&key).ok())?;
        self.at = at;
        Some(at)
    }
}

/// The runs of a page of a search a SQL store is reading: their infos sorted by run key,
/// to which their data is attached.
pub(crate) struct KeyedRuns {
    index: KeyIndex,
    runs: Vec<Run>,
}

impl KeyedRuns {
    /// The runs with these keys and infos.
    pub(crate) fn new(mut infos: Vec<(i64, RunInfo)>) -> Self {
        infos.sort_unstable_by_key(|(k, _)| *k);
        let (keys, runs) = infos
            .into_iter()
            .map(|(k, info)| {
                let run = Run {
                    info,
                    data: RunData::default(),
                    inputs: RunInputs::default(),
                };
                (k, run)
            })
            .unzip();
        KeyedRuns {
            index: KeyIndex { keys, at: 0 },
            runs,
        }
    }

    fn data(&mut self, key: i64) -> Option<&mut RunData> {
        let at = self.index.find(key)?;
        Some(&mut self.runs[at].data)
    }

    /// The runs in the order of `keys` (those of them that are these runs'), each with its
    /// inputs from `inputs` and its data sorted by key: a page of a search.
    pub(crate) fn in_order(self, keys: &[i64], mut inputs: HashMap<i64, RunInputs>) -> Vec<Run> {
        let mut runs: HashMap<i64, Run> = self
            .index
            .keys
            .into_iter()
            .zip(self.runs)
            .map(|(k, mut run)| {
                let d = &mut run.data;
                sort_unless_sorted(&mut d.params, |a, b| a.key.cmp(&b.key));
                sort_unless_sorted(&mut d.tags, |a, b| a.key.cmp(&b.key));
                sort_unless_sorted(&mut d.metrics, |a, b| a.key.cmp(&b.key));
                (k, run)
            })
            .collect();
        keys.iter()
            .filter_map(|k| {
                runs.remove(k).map(|mut run| {
                    run.inputs = inputs.remove(k).unwrap_or_default();
                    run
                })
            })
            .collect()
    }
}

impl RunRows for KeyedRuns {
    fn keys(&self) -> &[i64] {
        &self.index.keys
    }

    fn param(&mut self, run: i64, key: &str, value: &str) {
        if let Some(d) = self.data(run) {
            d.params.push(Param::new(key, value));
        }
    }

    fn tag(&mut self, run: i64, key: &str, value: &str) {
        if let Some(d) = self.data(run) {
            d.tags.push(Tag::new(key, value));
        }
    }

    fn metric(&mut self, run: i64, key: &str, value: f64, timestamp: i64, step: i64) {
        if let Some(d) = self.data(run) {
            d.metrics.push(Metric {
                key: key.to_string(),
                value,
                timestamp,
                step,
            });
        }
    }
}

/// The runs of a whole search a SQL store is reading
/// ([`Store::select_runs`](super::Store::select_runs)): their infos, read first, and their
/// data, attached by run key without allocating per row.
pub(crate) struct KeyedSelection {
    index: KeyIndex,
    /// Per key (in the order of `index`), the run's index in `runs`.
    runs_at: Vec<usize>,
    runs: SelectedRunsBuilder,
}

impl KeyedSelection {
    /// The runs of `runs`, whose keys are `keys`: `(key, index in runs)`.
    pub(crate) fn new(runs: SelectedRunsBuilder, mut keys: Vec<(i64, usize)>) -> Self {
        keys.sort_unstable();
        let (keys, runs_at) = keys.into_iter().unzip();
        KeyedSelection {
            index: KeyIndex { keys, at: 0 },
            runs_at,
            runs,
        }
    }

    fn run(&mut self, key: i64) -> Option<usize> {
        self.index.find(key).map(|at| self.runs_at[at])
    }

    /// The runs read, each run's data sorted by key.
    pub(crate) fn finish(self) -> super::store::Result<SelectedRuns> {
        self.runs.finish()
    }
}

impl RunRows for KeyedSelection {
    fn keys(&self) -> &[i64] {
        &self.index.keys
    }

    fn param(&mut self, run: i64, key: &str, value: &str) {
        if let Some(i) = self.run(run) {
            self.runs.param(i, key, value);
        }
    }

    fn tag(&mut self, run: i64, key: &str, value: &str) {
        if let Some(i) = self.run(run) {
            self.runs.tag(i, key, value);
        }
    }

    fn metric(&mut self, run: i64, key: &str, value: f64, timestamp: i64, step: i64) {
        if let Some(i) = self.run(run) {
            self.runs.metric(i, key, value, timestamp, step);
        }
    }
}

/// The query selecting the experiment ids of one page of `query`, from where its page token
/// says.
pub(crate) fn experiments<D: Dialect>(query: &ExperimentQuery) -> Result<PageQuery<D::Value>> {
    let filter = filter::parse_experiment_filter(&query.filter)?;
    let order = filter::parse_experiment_order_by_list(&query.order_by)?;
    check_counts(filter.clauses.len(), order.len())?;
    let mut b = Binds::<D::Value>::new::<D>();
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
                    row += &condition::<D>(&mut b, "t.value", op, value)?;
                }
                exists::<D>(op == Comparator::IsNull, "experiment_tags", "t", &row)
            }
            ExperimentKey::Attribute(a) => {
                let col = match a {
                    ExperimentAttribute::Name => "e.name",
                    // Ids compare as text, like MLflow's string ids.
                    ExperimentAttribute::ExperimentId => "CAST(e.experiment_id AS TEXT)",
                    ExperimentAttribute::CreationTime => "e.creation_time",
                    ExperimentAttribute::LastUpdateTime => "e.last_update_time",
                };
                condition::<D>(&mut b, col, op, value)?
            }
        };
        wheres.push(sql);
    }
    let asked: Vec<String> = order.iter().map(ToString::to_string).collect();
    let mut terms = Order::new(&asked.join(", "));
    for o in &order {
        terms.push(format!("e.{}", o.ident.as_str()), o.ascending);
    }
    if order.is_empty() {
        terms.push("e.creation_time", false);
    }
    terms.push("e.experiment_id", true);
    page_query(
        b,
        "e.experiment_id",
        "experiments e",
        wheres,
        terms,
        query.max_results,
        query.page_token.as_deref(),
    )
}

/// `LIMIT` of a page of `max_results`: one row more, which says whether more follow.
fn page_end(max_results: usize) -> i64 {
    i64::try_from(max_results).map_or(i64::MAX, |n| n.saturating_add(1))
}

fn offset_value(offset: usize) -> i64 {
    i64::try_from(offset).unwrap_or(i64::MAX)
}

/// The `Store` methods whose bodies are the same in both SQL stores: validation, then one
/// transaction (`self.write` or `self.read`) over the functions both store modules define
/// with the same names and meanings (`get_experiment_tx`, `find_run`, `find_active_run`,
/// `create_run_tx`, `log_batch_tx`, `update_run_tx`, `load_runs`, ...) and the stores'
/// own `set_experiment_stage` and `set_run_stage`. Invoked inside each store's
/// `impl Store`.
macro_rules! store_methods {
    () => {
        fn get_experiment(&self, id: &ExperimentId) -> Result<Experiment> {
            self.read("reading an experiment", |tx| {
                Ok(get_experiment_tx(tx, id)?.1)
            })
        }

        fn search_experiments(&self, query: &ExperimentQuery) -> Result<Page<Experiment>> {
            validate_max_results(query.max_results)?;
            let search = search::experiments(query)?;
            self.read("searching experiments", |tx| {
                let page = search.page(tx)?;
                let mut items = Vec::new();
                for id in page.keys {
                    if let Some(e) = load_experiment(tx, id)? {
                        items.push(e);
                    }
                }
                Ok(Page {
                    items,
                    next_page_token: page.next_page_token,
                })
            })
        }

        fn delete_experiment(&self, id: &ExperimentId) -> Result<()> {
            self.set_experiment_stage(id, LifecycleStage::Deleted)
        }

        fn restore_experiment(&self, id: &ExperimentId) -> Result<()> {
            self.set_experiment_stage(id, LifecycleStage::Active)
        }

        fn create_run(&self, experiment_id: &ExperimentId, start: RunStart) -> Result<Run> {
            let prepared = prepare_run_start(&start)?;
            self.write("creating a run", |tx| {
                Ok(create_run_tx(
                    tx,
                    experiment_id,
                    &start,
                    &prepared,
                    RunStatus::Running,
                    None,
                )?
                .1)
            })
        }

        fn record_run(&self, experiment_id: &ExperimentId, record: &RunRecord) -> Result<Run> {
            let (prepared, end_time) = prepare_record(record)?;
            let mut run = self.write("recording a run", |tx| {
                let (key, run) = create_run_tx(
                    tx,
                    experiment_id,
                    &record.start,
                    &prepared,
                    record.status,
                    end_time,
                )?;
                log_batch_tx(
                    tx,
                    key,
                    &run.info.run_id,
                    &record.metrics,
                    &record.params,
                    &[],
                )?;
                Ok(run)
            })?;
            // The run is new: its data is exactly the record's (latest metric per key).
            set_recorded_data(&mut run, record);
            Ok(run)
        }

        fn get_run_info(&self, run_id: &str) -> Result<RunInfo> {
            self.read("reading a run", |tx| Ok(find_run(tx, run_id)?.1))
        }

        fn get_run(&self, run_id: &str) -> Result<Run> {
            self.read("reading a run", |tx| {
                let (key, _) = find_run(tx, run_id)?;
                load_runs(tx, &[key])?
                    .pop()
                    .ok_or_else(|| StoreError::run_not_found(run_id).into())
            })
        }

        fn delete_run(&self, run_id: &str) -> Result<()> {
            self.set_run_stage(run_id, LifecycleStage::Deleted)
        }

        fn restore_run(&self, run_id: &str) -> Result<()> {
            self.set_run_stage(run_id, LifecycleStage::Active)
        }

        fn log_batch(
            &self,
            run_id: &str,
            metrics: &[Metric],
            params: &[Param],
            tags: &[Tag],
        ) -> Result<()> {
            validate_batch(run_id, metrics, params, tags)?;
            if metrics.is_empty() && params.is_empty() && tags.is_empty() {
                // Still report a missing or deleted run.
                return self.read("logging a batch", |tx| {
                    find_active_run(tx, run_id).map(|_| ())
                });
            }
            self.write("logging a batch", |tx| {
                let (key, _) = find_active_run(tx, run_id)?;
                log_batch_tx(tx, key, run_id, metrics, params, tags)
            })
        }

        fn ledger(&self) -> Option<&dyn crate::tracking::ledger::Ledger> {
            Some(self)
        }

        fn update_run(&self, run_id: &str, update: RunUpdate) -> Result<RunInfo> {
            validate_update(run_id, &[], &[], &update)?;
            self.write("updating a run", |tx| {
                let (key, info) = find_active_run(tx, run_id)?;
                update_run_tx(tx, key, info, &update)
            })
        }

        fn log_batch_and_update(
            &self,
            run_id: &str,
            metrics: &[Metric],
            tags: &[Tag],
            update: RunUpdate,
        ) -> Result<RunInfo> {
            validate_update(run_id, metrics, tags, &update)?;
            self.write("logging a batch and updating a run", |tx| {
                let (key, info) = find_active_run(tx, run_id)?;
                log_batch_tx(tx, key, run_id, metrics, &[], tags)?;
                update_run_tx(tx, key, info, &update)
            })
        }
    };
}
pub(crate) use store_methods;

/// The `Store` methods for run outputs, logged models and the model registry, the same
/// in both SQL stores: validation, then one transaction (`self.write` or `self.read`)
/// calling the store's `models` and `registry` modules, which have the same functions
/// over each driver. Invoked inside each store's `impl Store`.
macro_rules! models_and_registry_methods {
    () => {
        fn log_outputs(&self, run_id: &str, outputs: &[ModelOutput]) -> Result<()> {
            self.write("logging outputs", |tx| {
                models::log_outputs_tx(tx, run_id, outputs)
            })
        }

        fn create_logged_model(
            &self,
            experiment_id: &ExperimentId,
            model: &NewLoggedModel,
        ) -> Result<LoggedModel> {
            let name = validate_new_logged_model(model)?;
            self.write("creating a logged model", |tx| {
                models::create_model_tx(tx, experiment_id, model, &name)
            })
        }

        fn get_logged_model(&self, model_id: &str, allow_deleted: bool) -> Result<LoggedModel> {
            self.read("reading a logged model", |tx| {
                models::logged_model(tx, model_id, allow_deleted)
            })
        }

        fn finalize_logged_model(
            &self,
            model_id: &str,
            status: LoggedModelStatus,
        ) -> Result<LoggedModel> {
            self.write("finalizing a logged model", |tx| {
                models::finalize_model_tx(tx, model_id, status)
            })
        }

        fn delete_logged_model(&self, model_id: &str) -> Result<()> {
            self.write("deleting a logged model", |tx| {
                models::delete_model_tx(tx, model_id)
            })
        }

        fn set_logged_model_tags(&self, model_id: &str, tags: &[Tag]) -> Result<()> {
            validate_batch(model_id, &[], &[], tags)?;
            self.write("setting logged model tags", |tx| {
                let key = models::model_key(tx, model_id)?;
                models::set_model_tags_tx(tx, key, tags)
            })
        }

        fn delete_logged_model_tag(&self, model_id: &str, key: &str) -> Result<()> {
            self.write("deleting a logged model tag", |tx| {
                models::delete_model_tag_tx(tx, model_id, key)
            })
        }

        fn log_logged_model_params(&self, model_id: &str, params: &[Param]) -> Result<()> {
            validate_batch(model_id, &[], params, &[])?;
            self.write("logging logged model params", |tx| {
                let key = models::model_key(tx, model_id)?;
                models::log_model_params_tx(tx, key, model_id, params)
            })
        }

        fn search_logged_models(&self, query: &LoggedModelQuery) -> Result<Page<LoggedModel>> {
            let all = self.read("searching logged models", |tx| {
                models::models_of(tx, &query.experiment_ids)
            })?;
            page_of_logged_models(all, query)
        }

        fn log_model_metrics(&self, metrics: &[LoggedModelMetric]) -> Result<()> {
            validate_model_metrics(metrics)?;
            self.write("logging metrics of logged models", |tx| {
                models::log_model_metrics_tx(tx, metrics)
            })
        }

        fn create_registered_model(
            &self,
            name: &str,
            description: Option<&str>,
            tags: &[Tag],
        ) -> Result<RegisteredModel> {
            validate_registered_model_name(name)?;
            self.write("creating a registered model", |tx| {
                registry::create_tx(tx, name, description, tags)
            })
        }

        fn get_registered_model(&self, name: &str) -> Result<RegisteredModel> {
            self.read("reading a registered model", |tx| {
                let key = registry::find_key(tx, name)?;
                registry::load(tx, key)
            })
        }

        fn rename_registered_model(&self, name: &str, new_name: &str) -> Result<RegisteredModel> {
            validate_registered_model_name(new_name)?;
            self.write("renaming a registered model", |tx| {
                registry::rename_tx(tx, name, new_name)
            })
        }

        fn update_registered_model(
            &self,
            name: &str,
            description: &str,
        ) -> Result<RegisteredModel> {
            self.write("updating a registered model", |tx| {
                registry::describe_tx(tx, name, description)
            })
        }

        fn delete_registered_model(&self, name: &str) -> Result<()> {
            self.write("deleting a registered model", |tx| {
                registry::delete_tx(tx, name)
            })
        }

        fn search_registered_models(&self, query: &RegistryQuery) -> Result<Page<RegisteredModel>> {
            let all = self.read("searching registered models", |tx| registry::all(tx))?;
            page_of_registered_models(all, query)
        }

        fn set_registered_model_tag(&self, name: &str, tag: &Tag) -> Result<()> {
            validate_key("tag", &tag.key)?;
            self.write("setting a registered model tag", |tx| {
                registry::set_tag_tx(tx, name, tag)
            })
        }

        fn delete_registered_model_tag(&self, name: &str, key: &str) -> Result<()> {
            self.write("deleting a registered model tag", |tx| {
                registry::delete_tag_tx(tx, name, key)
            })
        }

        fn create_model_version(&self, name: &str, new: &NewModelVersion) -> Result<ModelVersion> {
            self.write("creating a model version", |tx| {
                registry::create_version_tx(tx, name, new)
            })
        }

        fn get_model_version(&self, name: &str, version: i64) -> Result<ModelVersion> {
            self.read("reading a model version", |tx| {
                registry::get_version(tx, name, version)
            })
        }

        fn update_model_version(
            &self,
            name: &str,
            version: i64,
            description: &str,
        ) -> Result<ModelVersion> {
            self.write("updating a model version", |tx| {
                registry::describe_version_tx(tx, name, version, description)
            })
        }

        fn delete_model_version(&self, name: &str, version: i64) -> Result<()> {
            self.write("deleting a model version", |tx| {
                registry::delete_version_tx(tx, name, version)
            })
        }

        fn search_model_versions(&self, query: &RegistryQuery) -> Result<Page<ModelVersion>> {
            let all = self.read("searching model versions", |tx| registry::all_versions(tx))?;
            page_of_model_versions(all, query)
        }

        fn transition_model_version_stage(
            &self,
            name: &str,
            version: i64,
            stage: ModelStage,
            archive_existing: bool,
        ) -> Result<ModelVersion> {
            validate_transition(stage, archive_existing)?;
            self.write("moving a model version to another stage", |tx| {
                registry::transition_tx(tx, name, version, stage, archive_existing)
            })
        }

        fn set_model_version_tag(&self, name: &str, version: i64, tag: &Tag) -> Result<()> {
            validate_key("tag", &tag.key)?;
            self.write("setting a model version tag", |tx| {
                registry::set_version_tag_tx(tx, name, version, tag)
            })
        }

        fn delete_model_version_tag(&self, name: &str, version: i64, key: &str) -> Result<()> {
            self.write("deleting a model version tag", |tx| {
                registry::delete_version_tag_tx(tx, name, version, key)
            })
        }

        fn get_model_version_download_uri(&self, name: &str, version: i64) -> Result<String> {
            self.read("reading a model version", |tx| {
                registry::storage_location(tx, name, version)
            })
        }

        fn set_registered_model_alias(&self, name: &str, alias: &str, version: i64) -> Result<()> {
            validate_alias(alias)?;
            self.write("setting a registered model alias", |tx| {
                registry::set_alias_tx(tx, name, alias, version)
            })
        }

        fn delete_registered_model_alias(&self, name: &str, alias: &str) -> Result<()> {
            self.write("deleting a registered model alias", |tx| {
                registry::delete_alias_tx(tx, name, alias)
            })
        }

        fn get_model_version_by_alias(&self, name: &str, alias: &str) -> Result<ModelVersion> {
            self.read("reading a model version by alias", |tx| {
                registry::version_by_alias(tx, name, alias)
            })
        }
    };
}
pub(crate) use models_and_registry_methods;

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(all_of(&[]), "TRUE");
        assert_eq!(all_of(&["a".to_string()]), "a");
    }

    /// An order of `terms` ascending terms, as `asked`.
    fn order(asked: &str, terms: usize) -> Order {
        let mut order = Order::new(asked);
        for i in 0..terms {
            order.push(format!("t{i}"), true);
        }
        order
    }

    fn after(o: &Order, token: &str) -> Result<Vec<SortValue>> {
        match o.start(Some(token))? {
            PageStart::After(key) => Ok(key),
            _ => panic!("not a sort key: {token}"),
        }
    }

    #[test]
    fn page_tokens_carry_the_sort_key_exactly() {
        let o = order("metrics.loss ASC", 6);
        let key = vec![
            SortValue::Null,
            SortValue::Bool(true),
            SortValue::Int(-7),
            SortValue::Real(0.1),
            SortValue::Text("a \"b\" ü".into()),
            SortValue::Real(-1e-300),
        ];
        assert_eq!(after(&o, &after_token(&o.fingerprint, &key)).unwrap(), key);
        for x in [f64::INFINITY, f64::NEG_INFINITY, f64::MAX, 5e-324] {
            let key: Vec<_> = (0..6).map(|_| SortValue::Real(x)).collect();
            assert_eq!(after(&o, &after_token(&o.fingerprint, &key)).unwrap(), key);
        }
        let nan = after_token(&o.fingerprint, &vec![SortValue::Real(f64::NAN); 6]);
        assert!(matches!(after(&o, &nan).unwrap()[0], SortValue::Real(x) if x.is_nan()));
        // MLflow's offsets are still read.
        let offset = crate::tracking::store::encode_page_token(40);
        assert!(matches!(o.start(Some(&offset)), Ok(PageStart::Offset(40))));
        assert!(matches!(o.start(None), Ok(PageStart::First)));
        assert!(matches!(o.start(Some("")), Ok(PageStart::First)));
    }

    #[test]
    fn page_tokens_of_another_search_are_refused_in_words() {
        let o = order("metrics.loss ASC", 2);
        let key = [SortValue::Int(1), SortValue::Text("x".into())];
        for (token, says) in [
            // Another order, or another number of terms.
            (
                after_token(&order("metrics.loss DESC", 2).fingerprint, &key),
                "another order",
            ),
            (after_token(&o.fingerprint, &key[..1]), "another order"),
            (
                encode_page_token_json(r#"{"after": 3}"#),
                "neither an 'offset'",
            ),
            (
                encode_page_token_json(r#"{"after": [{"f": "x"}]}"#),
                "neither an 'offset'",
            ),
            (encode_page_token_json("[1"), "not JSON"),
            ("%%%".to_string(), "could not base64-decode"),
        ] {
            let e = o.start(Some(&token)).err().expect(&token);
            assert_eq!(e.error_code(), "INVALID_PARAMETER_VALUE");
            assert!(e.to_string().contains(says), "{token}: {e}");
        }
    }

    #[test]
    fn rows_after_a_key_compare_each_term_once_deep() {
        let o = order("", 3);
        let mut b = Binds::<serde_json::Value> {
            placeholder: '?',
            values: Vec::new(),
        };
        let key = vec![
            SortValue::Int(1),
            SortValue::Null,
            SortValue::Text("z".into()),
        ];
        assert_eq!(
            o.after(&mut b, key),
            [
                "t0 >= ?1",
                "(t0 > ?1) OR ((t0 = ?1) AND ((FALSE) OR ((t1 IS NULL) AND (t2 > ?2))))"
            ]
        );
        assert_eq!(b.values.len(), 2);
    }
}
