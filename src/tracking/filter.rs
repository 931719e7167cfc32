//! The MLflow search filter language: run and experiment filters and `order_by` clauses.
//!
//! This module turns the strings that MLflow clients send to `runs/search` and
//! `experiments/search` into a typed AST. It does no I/O and knows nothing about SQL; the stores
//! compile the AST themselves.
//!
//! # Grammar (runs)
//!
//! ```text
//! filter     := ws* | clause (AND clause)*            AND is case-insensitive
//! clause     := identifier comparator value
//! identifier := [type "."] key                         split on the FIRST "."
//! type       := metric | metrics | param | params | parameter | parameters | tag | tags
//!             | attribute | attributes | attr | run | dataset | datasets   (case-sensitive)
//! key        := bare | `back ticked` | "double quoted"
//! bare       := (alphanumeric | "_" | ".")+            so tags.mlflow.parentRunId needs no quotes
//! comparator := = | != | < | <= | > | >= | LIKE | ILIKE | IN | NOT IN | IS NULL | IS NOT NULL
//! value      := number | string | "(" string ("," string)* ")"     lists only after [NOT] IN
//! string     := 'single quoted' | "double quoted"
//! number     := ["-"] (digits ["." [digits]] | "." digits) [("e"|"E") ["+"|"-"] digits]
//! ```
//!
//! Whitespace (any Unicode white space) may surround every token; none is needed around
//! operators (`metrics.rmse<0.5`). A bare word is made of Unicode alphanumerics, `_` and `.`.
//!
//! * Without a type prefix, an identifier names an attribute (`status = 'FAILED'`). The type
//!   itself may be quoted too (`` `metrics`.rmse ``).
//! * Keywords (`AND`, `LIKE`, `ILIKE`, `IN`, `NOT`, `IS`, `NULL`, `ASC`, `DESC`) are
//!   case-insensitive; entity types and keys are case-sensitive, as in MLflow.
//! * Quoting: inside a quoted string or key, the quote character is written twice to stand
//!   for itself (`'it''s'` is `it's`, `` `a``b` `` is ``a`b``). Nothing else is special: a
//!   backslash is an ordinary character. (MLflow keeps doubled quotes verbatim; we unescape
//!   them so that every string can be written.)
//! * `OR`, `NOT` (other than in `NOT IN` / `IS NOT NULL`) and parentheses for grouping are
//!   rejected, naming the offending token.
//! * Per entity type, comparators and value types are checked as MLflow 3.17 does:
//!
//! | type | value | comparators |
//! |---|---|---|
//! | metric | number | `= != < <= > >=` |
//! | param, tag | quoted string | `= != LIKE ILIKE IS NULL IS NOT NULL` |
//! | attribute `run_id` | quoted string, or a list for `IN` | `= != LIKE ILIKE IN NOT IN` |
//! | attribute `run_name`, `status`, `user_id`, `artifact_uri` | quoted string | `= != LIKE ILIKE` |
//! | attribute `start_time`, `end_time` | integer (ms) | `= != < <= > >=` |
//! | dataset `name`, `digest`, `context` | quoted string, or a list for `IN` | `= != LIKE ILIKE IN NOT IN` |
//!
//! Where we deliberately differ from MLflow: a trailing `AND` and a number on a time attribute
//! that is not an integer are errors (MLflow accepts the first and fails to convert the second
//! to an integer deep in the store); ordering by a dataset key is rejected; duplicate
//! `order_by` keys are a normal (400-style) error.
//!
//! Left to the stores (this module only parses): `LIKE` is case-sensitive and `ILIKE` is not;
//! metric clauses compare the latest value and never match a run without the metric;
//! `attributes.run_name` is evaluated against the `mlflow.runName` tag; MLflow drops run ids
//! that are not lower-case from `run_id IN (...)` lists, which we keep as written.
//!
//! # Experiments
//!
//! [`parse_experiment_filter`] accepts the same syntax with the keys `name`, `experiment_id`
//! (`= != IN NOT IN`, quoted strings), `creation_time`, `last_update_time` (integers) and
//! `tags.<key>` (as run tags). The prefixes `attribute`/`attributes` and `tag`/`tags` are
//! accepted.
//!
//! # Building filters in code
//!
//! Code that searches builds a [`Filter`] from typed clauses instead of formatting a string:
//! [`Clause::metric`], [`Clause::param`], [`Clause::tag`] and [`Clause::attribute`] name the
//! left-hand side, and its comparators (`eq`, `lt`, `like`, `is_null`, `is_in`, ...) offer
//! only what the language accepts for it. `Display` quotes every key and value as needed, so
//! the rendering parses back to the same filter whatever the key and value hold (quotes,
//! backticks, backslashes, any Unicode; an empty key is written ``` `` ```). A
//! `Filter` converts into the `String` that searches take:
//!
//! ```
//! use hyperflow::tracking::filter::{Clause, Filter};
//!
//! let f = Filter::new()
//!     .and(Clause::tag("mlflow.parentRunId").eq("it's"))
//!     .and(Clause::metric("val loss").le(0.25));
//! assert_eq!(
//!     String::from(&f),
//!     "tags.mlflow.parentRunId = 'it''s' AND metrics.`val loss` <= 0.25"
//! );
//! ```
//!
//! # Errors
//!
//! Every error is a [`FilterError`] with the byte position of the offending token, a message
//! that says what was wrong, and a description of what would have been accepted there.

use std::collections::HashSet;
use std::fmt;
use std::ops::Range;

use crate::diagnostic::Snippet;

// ---------------------------------------------------------------------------------------------
// AST: runs
// ---------------------------------------------------------------------------------------------

/// The kind of entity an identifier refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntityKind {
    /// A metric (`metrics.<key>`); filters compare its latest value.
    Metric,
    /// A parameter (`params.<key>`).
    Param,
    /// A tag (`tags.<key>`).
    Tag,
    /// A run attribute (`attributes.<key>` or an unprefixed key).
    Attribute,
    /// A dataset input of the run (`datasets.<key>`).
    Dataset,
}

impl EntityKind {
    /// The canonical singular name, as MLflow prints it in messages (`metric`, `parameter`, ...).
    pub fn name(self) -> &'static str {
        match self {
            EntityKind::Metric => "metric",
            EntityKind::Param => "parameter",
            EntityKind::Tag => "tag",
            EntityKind::Attribute => "attribute",
            EntityKind::Dataset => "dataset",
        }
    }

    /// The prefix used when rendering an identifier (`metrics`, `params`, `tags`, ...).
    pub fn prefix(self) -> &'static str {
        match self {
            EntityKind::Metric => "metrics",
            EntityKind::Param => "params",
            EntityKind::Tag => "tags",
            EntityKind::Attribute => "attributes",
            EntityKind::Dataset => "datasets",
        }
    }

    /// Recognise a type prefix, including its plural and alias spellings (case-sensitive).
    pub fn from_prefix(prefix: &str) -> Option<EntityKind> {
        Some(match prefix {
            "metric" | "metrics" => EntityKind::Metric,
            "param" | "params" | "parameter" | "parameters" => EntityKind::Param,
            "tag" | "tags" => EntityKind::Tag,
            "attribute" | "attributes" | "attr" | "run" => EntityKind::Attribute,
            "dataset" | "datasets" => EntityKind::Dataset,
            _ => return None,
        })
    }
}

impl fmt::Display for EntityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The searchable run attribute keys, in their normalized spelling.
pub const RUN_ATTRIBUTE_KEYS: [&str; 7] = [
    "run_id",
    "run_name",
    "status",
    "user_id",
    "artifact_uri",
    "start_time",
    "end_time",
];

/// The dataset keys that run filters may use.
pub const DATASET_KEYS: [&str; 3] = ["name", "digest", "context"];

/// Normalize a run attribute key, resolving the aliases `created`/`Created` (`start_time`) and
/// `run name`/`Run name`/`Run Name` (`run_name`). Returns `None` for an unknown key.
pub fn normalize_run_attribute(key: &str) -> Option<&'static str> {
    match key {
        "created" | "Created" => Some("start_time"),
        "run name" | "Run name" | "Run Name" => Some("run_name"),
        _ => RUN_ATTRIBUTE_KEYS.iter().copied().find(|k| *k == key),
    }
}

/// A typed reference to a metric, param, tag, attribute or dataset field.
///
/// For [`EntityKind::Attribute`], `key` is normalized to one of [`RUN_ATTRIBUTE_KEYS`]; for
/// [`EntityKind::Dataset`] it is one of [`DATASET_KEYS`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Identifier {
    /// What the key names.
    pub kind: EntityKind,
    /// The key, unquoted.
    pub key: String,
}

impl Identifier {
    /// Build an identifier from its parts (no validation).
    pub fn new(kind: EntityKind, key: impl Into<String>) -> Self {
        Identifier {
            kind,
            key: key.into(),
        }
    }

    /// True for the numeric attributes `start_time` and `end_time`.
    pub fn is_numeric_attribute(&self) -> bool {
        self.kind == EntityKind::Attribute && matches!(self.key.as_str(), "start_time" | "end_time")
    }
}

impl fmt::Display for Identifier {
    /// Renders `<prefix>.<key>`, quoting the key with backticks when it is not a bare word.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.", self.kind.prefix())?;
        write_key(f, &self.key)
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparator {
    /// `=`
    Eq,
    /// `!=`
    NotEq,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `LIKE` (case-sensitive; wildcards `%` and `_`)
    Like,
    /// `ILIKE` (case-insensitive; wildcards `%` and `_`)
    ILike,
    /// `IN (...)`
    In,
    /// `NOT IN (...)`
    NotIn,
    /// `IS NULL` (the key is absent)
    IsNull,
    /// `IS NOT NULL` (the key is present)
    IsNotNull,
}

impl Comparator {
    /// The comparators of numbers: `= != < <= > >=`.
    pub const NUMERIC: [Comparator; 6] = [
        Comparator::Eq,
        Comparator::NotEq,
        Comparator::Lt,
        Comparator::Le,
        Comparator::Gt,
        Comparator::Ge,
    ];

    /// The operator as written in a filter (`=`, `LIKE`, `NOT IN`, `IS NULL`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Comparator::Eq => "=",
            Comparator::NotEq => "!=",
            Comparator::Lt => "<",
            Comparator::Le => "<=",
            Comparator::Gt => ">",
            Comparator::Ge => ">=",
            Comparator::Like => "LIKE",
            Comparator::ILike => "ILIKE",
            Comparator::In => "IN",
            Comparator::NotIn => "NOT IN",
            Comparator::IsNull => "IS NULL",
            Comparator::IsNotNull => "IS NOT NULL",
        }
    }

    /// Does `left <op> right` hold, for a numeric comparator (`false` for the others and
    /// for NaN, except that NaN `!=` anything)?
    pub fn compares(self, left: f64, right: f64) -> bool {
        match self {
            Comparator::Eq => left == right,
            Comparator::NotEq => left != right,
            Comparator::Lt => left < right,
            Comparator::Le => left <= right,
            Comparator::Gt => left > right,
            Comparator::Ge => left >= right,
            _ => false,
        }
    }

    /// True for `IN` and `NOT IN`, whose value is a list.
    pub fn takes_list(self) -> bool {
        matches!(self, Comparator::In | Comparator::NotIn)
    }

    /// True for `IS NULL` and `IS NOT NULL`, which take no value.
    pub fn takes_no_value(self) -> bool {
        matches!(self, Comparator::IsNull | Comparator::IsNotNull)
    }
}

impl fmt::Display for Comparator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The right-hand side of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// A finite number (metrics, `start_time`, `end_time`).
    Number(f64),
    /// A quoted string, unescaped.
    Str(String),
    /// A non-empty list of strings, for `IN` / `NOT IN`.
    List(Vec<String>),
    /// No value: used with `IS NULL` / `IS NOT NULL`.
    Null,
}

impl fmt::Display for Literal {
    /// Renders valid filter syntax: numbers in Rust's shortest round-trip form, strings in
    /// single quotes with `'` doubled, lists as `('a', 'b')`, and `NULL` for [`Literal::Null`].
    /// A non-finite number renders as `NaN`/`inf`, which does not parse back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Number(n) => write!(f, "{n:?}"),
            Literal::Str(s) => write_string(f, s),
            Literal::List(items) => {
                f.write_str("(")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write_string(f, item)?;
                }
                f.write_str(")")
            }
            Literal::Null => f.write_str("NULL"),
        }
    }
}

/// One comparison of a filter: `<ident> <op> <value>`. `K` is what the left-hand side can
/// name: an [`Identifier`] for run filters, an [`ExperimentKey`] for experiment filters
/// ([`ExperimentClause`]).
///
/// Equality ignores [`span`](Self::span), which only says where a parsed clause stood.
/// Build run clauses without writing filter syntax through the typed constructors:
///
/// ```
/// use hyperflow::tracking::filter::{Clause, Filter, RunAttribute, parse_filter};
///
/// let f = Filter::new()
///     .and(Clause::tag("hyperflow.trial").eq("3"))
///     .and(Clause::metric("loss").lt(0.5))
///     .and(Clause::param("it's").like("ad%"))
///     .and(Clause::attribute(RunAttribute::RUN_ID).is_in(["a", "b"]));
/// assert_eq!(
///     f.to_string(),
///     "tags.hyperflow.trial = '3' AND metrics.loss < 0.5 AND params.`it's` LIKE 'ad%' \
///      AND attributes.run_id IN ('a', 'b')"
/// );
/// assert_eq!(parse_filter(&f.to_string()), Ok(f));
/// ```
#[derive(Debug, Clone)]
pub struct Clause<K = Identifier> {
    /// The left-hand side.
    pub ident: K,
    /// The operator.
    pub op: Comparator,
    /// The right-hand side ([`Literal::Null`] for `IS [NOT] NULL`).
    pub value: Literal,
    /// Byte span of the whole clause in the input (`0..0` for a clause built in code).
    pub span: Range<usize>,
}

impl<K: PartialEq> PartialEq for Clause<K> {
    fn eq(&self, other: &Self) -> bool {
        (&self.ident, self.op, &self.value) == (&other.ident, other.op, &other.value)
    }
}

impl<K: fmt::Display> fmt::Display for Clause<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.op.takes_no_value() {
            write!(f, "{} {}", self.ident, self.op)
        } else {
            write!(f, "{} {} {}", self.ident, self.op, self.value)
        }
    }
}

/// A filter: clauses joined by `AND`. Empty means "match everything". `Filter` alone is a
/// run filter; [`ExperimentFilter`] is the experiment one.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter<K = Identifier> {
    /// The clauses, in input order.
    pub clauses: Vec<Clause<K>>,
}

impl<K> Default for Filter<K> {
    fn default() -> Self {
        Filter {
            clauses: Vec::new(),
        }
    }
}

impl Filter {
    /// An empty run filter (matches every run); add clauses with [`Filter::and`].
    pub fn new() -> Self {
        Filter::default()
    }
}

impl<K> Filter<K> {
    /// This filter with `clause` added (`AND`).
    pub fn and(mut self, clause: Clause<K>) -> Self {
        self.clauses.push(clause);
        self
    }

    /// True when the filter has no clauses.
    pub fn is_empty(&self) -> bool {
        self.clauses.is_empty()
    }
}

impl<K: fmt::Display> fmt::Display for Filter<K> {
    /// Renders the clauses joined by ` AND `; [`parse_filter`] (or
    /// [`parse_experiment_filter`]) parses the result back to an equal filter.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, clause) in self.clauses.iter().enumerate() {
            if i > 0 {
                f.write_str(" AND ")?;
            }
            write!(f, "{clause}")?;
        }
        Ok(())
    }
}

impl<K: fmt::Display> From<&Filter<K>> for String {
    fn from(filter: &Filter<K>) -> String {
        filter.to_string()
    }
}

impl<K: fmt::Display> From<Filter<K>> for String {
    fn from(filter: Filter<K>) -> String {
        filter.to_string()
    }
}

/// One `order_by` entry: what to order by and the direction. `OrderBy` alone is a run
/// search's entry (never a dataset key); [`ExperimentOrderBy`] is the experiment one.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderBy<K = Identifier> {
    /// What to order by.
    pub ident: K,
    /// `ASC` (the default) or `DESC`.
    pub ascending: bool,
}

impl<K: fmt::Display> fmt::Display for OrderBy<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let direction = if self.ascending { "ASC" } else { "DESC" };
        write!(f, "{} {direction}", self.ident)
    }
}

// ---------------------------------------------------------------------------------------------
// Typed construction of run clauses
// ---------------------------------------------------------------------------------------------

mod sealed {
    pub trait Sealed {}
}

/// What a [`Subject`] compares, which fixes its comparators and value type: [`Number`],
/// [`Time`], [`Text`], [`KeyText`] or [`ListText`]. Sealed.
pub trait ValueKind: sealed::Sealed {
    /// The Rust type of the values.
    type Value;
    /// A value as a literal of the filter language.
    #[doc(hidden)]
    fn literal(value: Self::Value) -> Literal;
}

/// Kinds with an order: `< <= > >=` besides `= !=`.
pub trait Ordered: ValueKind {}

/// Kinds compared as strings: `LIKE` and `ILIKE` besides `= !=`.
pub trait Textual: ValueKind<Value = String> {}

/// Numbers (metrics): `= != < <= > >=` with an `f64`. MLflow's filter language has no
/// spelling for NaN or infinities: a clause with one renders as `NaN`/`inf`, which a store
/// rejects as an invalid filter.
#[derive(Debug, Clone, Copy)]
pub enum Number {}
/// Times in ms since the epoch (`start_time`, `end_time`): `= != < <= > >=` with an `i64`.
#[derive(Debug, Clone, Copy)]
pub enum Time {}
/// String attributes (`run_name`, `status`, `user_id`, `artifact_uri`): `= != LIKE ILIKE`.
#[derive(Debug, Clone, Copy)]
pub enum Text {}
/// Params and tags: as [`Text`], plus `IS NULL` / `IS NOT NULL` (the key is absent /
/// present).
#[derive(Debug, Clone, Copy)]
pub enum KeyText {}
/// The `run_id` attribute: as [`Text`], plus `IN` / `NOT IN` a non-empty list (the language
/// has no empty list: an empty one renders as `()`, which a store rejects).
#[derive(Debug, Clone, Copy)]
pub enum ListText {}

impl ValueKind for Number {
    type Value = f64;
    fn literal(value: f64) -> Literal {
        Literal::Number(value)
    }
}

impl ValueKind for Time {
    type Value = i64;
    #[allow(clippy::cast_precision_loss)] // the language's numbers are f64, as in MLflow
    fn literal(value: i64) -> Literal {
        Literal::Number(value as f64)
    }
}

macro_rules! text_kinds {
    ($($kind:ty),*) => {$(
        impl sealed::Sealed for $kind {}
        impl Textual for $kind {}
        impl ValueKind for $kind {
            type Value = String;
            fn literal(value: String) -> Literal {
                Literal::Str(value)
            }
        }
    )*};
}
text_kinds!(Text, KeyText, ListText);
impl sealed::Sealed for Number {}
impl sealed::Sealed for Time {}
impl Ordered for Number {}
impl Ordered for Time {}

/// A run attribute usable in typed clauses, with the kind of its values:
/// `Clause::attribute(RunAttribute::STATUS).eq("FINISHED")`.
#[derive(Debug, Clone, Copy)]
pub struct RunAttribute<T> {
    key: &'static str,
    kind: std::marker::PhantomData<T>,
}

impl<T> RunAttribute<T> {
    const fn new(key: &'static str) -> Self {
        RunAttribute {
            key,
            kind: std::marker::PhantomData,
        }
    }

    /// The attribute's key as written in a filter.
    pub fn key(&self) -> &'static str {
        self.key
    }
}

impl RunAttribute<ListText> {
    /// `run_id`.
    pub const RUN_ID: Self = Self::new("run_id");
}

impl RunAttribute<Text> {
    /// `run_name` (the `mlflow.runName` tag).
    pub const RUN_NAME: Self = Self::new("run_name");
    /// `status` (`RUNNING`, `FINISHED`, `FAILED`, `KILLED`, `SCHEDULED`).
    pub const STATUS: Self = Self::new("status");
    /// `user_id`.
    pub const USER_ID: Self = Self::new("user_id");
    /// `artifact_uri`.
    pub const ARTIFACT_URI: Self = Self::new("artifact_uri");
}

impl RunAttribute<Time> {
    /// `start_time` (ms since the epoch).
    pub const START_TIME: Self = Self::new("start_time");
    /// `end_time` (ms since the epoch).
    pub const END_TIME: Self = Self::new("end_time");
}

/// The left-hand side of a typed run clause; its comparators make the [`Clause`]. Made by
/// [`Clause::metric`], [`Clause::param`], [`Clause::tag`] and [`Clause::attribute`].
#[derive(Debug, Clone)]
#[must_use = "a subject only becomes a clause through a comparator such as `eq`"]
pub struct Subject<T> {
    ident: Identifier,
    kind: std::marker::PhantomData<T>,
}

impl Clause {
    fn subject<T>(kind: EntityKind, key: impl Into<String>) -> Subject<T> {
        Subject {
            ident: Identifier::new(kind, key),
            kind: std::marker::PhantomData,
        }
    }

    /// A metric's latest value, e.g. `Clause::metric("loss").lt(0.5)`. Any key works: keys
    /// that are not plain words are quoted when rendered.
    pub fn metric(key: impl Into<String>) -> Subject<Number> {
        Self::subject(EntityKind::Metric, key)
    }

    /// A param, e.g. `Clause::param("optimizer").eq("adam")`.
    pub fn param(key: impl Into<String>) -> Subject<KeyText> {
        Self::subject(EntityKind::Param, key)
    }

    /// A tag, e.g. `Clause::tag("hyperflow.trial").eq("3")`.
    pub fn tag(key: impl Into<String>) -> Subject<KeyText> {
        Self::subject(EntityKind::Tag, key)
    }

    /// A run attribute, e.g. `Clause::attribute(RunAttribute::START_TIME).ge(t)`.
    pub fn attribute<T>(attribute: RunAttribute<T>) -> Subject<T> {
        Self::subject(EntityKind::Attribute, attribute.key)
    }
}

impl<T> Subject<T> {
    fn compare(self, op: Comparator, value: Literal) -> Clause {
        Clause {
            ident: self.ident,
            op,
            value,
            span: 0..0,
        }
    }
}

impl<T: ValueKind> Subject<T> {
    fn value(self, op: Comparator, value: impl Into<T::Value>) -> Clause {
        self.compare(op, T::literal(value.into()))
    }

    /// `= value`.
    pub fn eq(self, value: impl Into<T::Value>) -> Clause {
        self.value(Comparator::Eq, value)
    }
    /// `!= value`.
    pub fn ne(self, value: impl Into<T::Value>) -> Clause {
        self.value(Comparator::NotEq, value)
    }
}

impl<T: Ordered> Subject<T> {
    /// `< value`.
    pub fn lt(self, value: impl Into<T::Value>) -> Clause {
        self.value(Comparator::Lt, value)
    }
    /// `<= value`.
    pub fn le(self, value: impl Into<T::Value>) -> Clause {
        self.value(Comparator::Le, value)
    }
    /// `> value`.
    pub fn gt(self, value: impl Into<T::Value>) -> Clause {
        self.value(Comparator::Gt, value)
    }
    /// `>= value`.
    pub fn ge(self, value: impl Into<T::Value>) -> Clause {
        self.value(Comparator::Ge, value)
    }
}

impl<T: Textual> Subject<T> {
    /// `LIKE 'pattern'`: case-sensitive, `%` matches any run of characters, `_` one.
    pub fn like(self, pattern: impl Into<String>) -> Clause {
        self.value(Comparator::Like, pattern)
    }
    /// `ILIKE 'pattern'`: as [`like`](Self::like), ignoring case.
    pub fn ilike(self, pattern: impl Into<String>) -> Clause {
        self.value(Comparator::ILike, pattern)
    }
}

impl Subject<KeyText> {
    /// `IS NULL`: the run has no such key.
    pub fn is_null(self) -> Clause {
        self.compare(Comparator::IsNull, Literal::Null)
    }
    /// `IS NOT NULL`: the run has the key.
    pub fn is_not_null(self) -> Clause {
        self.compare(Comparator::IsNotNull, Literal::Null)
    }
}

impl Subject<ListText> {
    fn list<S: Into<String>>(self, op: Comparator, values: impl IntoIterator<Item = S>) -> Clause {
        self.compare(
            op,
            Literal::List(values.into_iter().map(Into::into).collect()),
        )
    }

    /// `IN ('a', 'b', ...)`.
    pub fn is_in<S: Into<String>>(self, values: impl IntoIterator<Item = S>) -> Clause {
        self.list(Comparator::In, values)
    }
    /// `NOT IN ('a', 'b', ...)`.
    pub fn not_in<S: Into<String>>(self, values: impl IntoIterator<Item = S>) -> Clause {
        self.list(Comparator::NotIn, values)
    }
}

// ---------------------------------------------------------------------------------------------
// AST: experiments
// ---------------------------------------------------------------------------------------------

/// An experiment attribute usable in experiment filters and `order_by`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExperimentAttribute {
    /// `name` (string).
    Name,
    /// `experiment_id` (string; also `IN` / `NOT IN`).
    ExperimentId,
    /// `creation_time` (integer, ms).
    CreationTime,
    /// `last_update_time` (integer, ms).
    LastUpdateTime,
}

impl ExperimentAttribute {
    /// All experiment attributes.
    pub const ALL: [ExperimentAttribute; 4] = [
        ExperimentAttribute::Name,
        ExperimentAttribute::ExperimentId,
        ExperimentAttribute::CreationTime,
        ExperimentAttribute::LastUpdateTime,
    ];

    /// The key as written in a filter.
    pub fn as_str(self) -> &'static str {
        match self {
            ExperimentAttribute::Name => "name",
            ExperimentAttribute::ExperimentId => "experiment_id",
            ExperimentAttribute::CreationTime => "creation_time",
            ExperimentAttribute::LastUpdateTime => "last_update_time",
        }
    }

    /// Look an attribute up by its key (case-sensitive).
    pub fn from_key(key: &str) -> Option<ExperimentAttribute> {
        ExperimentAttribute::ALL
            .into_iter()
            .find(|a| a.as_str() == key)
    }

    /// True for the time attributes, which compare numbers.
    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            ExperimentAttribute::CreationTime | ExperimentAttribute::LastUpdateTime
        )
    }
}

impl fmt::Display for ExperimentAttribute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The left-hand side of an experiment filter clause.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ExperimentKey {
    /// An experiment attribute.
    Attribute(ExperimentAttribute),
    /// An experiment tag (`tags.<key>`), key unquoted.
    Tag(String),
}

impl fmt::Display for ExperimentKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExperimentKey::Attribute(a) => write!(f, "attributes.{a}"),
            ExperimentKey::Tag(k) => {
                f.write_str("tags.")?;
                write_key(f, k)
            }
        }
    }
}

/// One comparison of an experiment filter.
pub type ExperimentClause = Clause<ExperimentKey>;

/// A parsed experiment filter: clauses joined by `AND`. Empty means "match everything".
pub type ExperimentFilter = Filter<ExperimentKey>;

/// One `order_by` entry of an experiment search (attributes only, as in MLflow).
pub type ExperimentOrderBy = OrderBy<ExperimentAttribute>;

// ---------------------------------------------------------------------------------------------
// Rendering helpers
// ---------------------------------------------------------------------------------------------

/// Characters allowed in a bare (unquoted) word.
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '.'
}

fn write_key(f: &mut fmt::Formatter<'_>, key: &str) -> fmt::Result {
    if !key.is_empty() && key.chars().all(is_word_char) {
        f.write_str(key)
    } else {
        write_quoted(f, key, '`')
    }
}

fn write_string(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    write_quoted(f, s, '\'')
}

fn write_quoted(f: &mut fmt::Formatter<'_>, s: &str, quote: char) -> fmt::Result {
    use fmt::Write;
    f.write_char(quote)?;
    for c in s.chars() {
        if c == quote {
            f.write_char(quote)?;
        }
        f.write_char(c)?;
    }
    f.write_char(quote)
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// A filter or `order_by` string could not be parsed.
///
/// `Display` renders the message, the input with a caret under [`position`](Self::position),
/// and what would have been accepted:
///
/// ```text
/// Expected numeric value type for metric 'rmse', found 'abc'
///   metrics.rmse < 'abc'
///                  ^
/// expected: a number, e.g. 0.5, -3 or 1e-4
/// ```
///
/// Stores should answer it with HTTP 400 `INVALID_PARAMETER_VALUE`, using [`message`](Self::message)
/// (or the whole rendering) as the error message.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub struct FilterError {
    /// Byte offset in `input` of the offending token (`input.len()` for "end of input"); always
    /// on a char boundary.
    pub position: usize,
    /// What was wrong.
    pub message: String,
    /// What would have been accepted at `position`.
    pub expected: String,
    /// The string that was being parsed.
    pub input: String,
}

impl FilterError {
    /// Build an error about `input` at byte `position` (clamped to the input and moved back to
    /// a char boundary), saying what was wrong and what would have been accepted.
    pub fn new(
        input: &str,
        position: usize,
        message: impl Into<String>,
        expected: impl Into<String>,
    ) -> Self {
        let mut position = position.min(input.len());
        while !input.is_char_boundary(position) {
            position -= 1;
        }
        FilterError {
            position,
            message: message.into(),
            expected: expected.into(),
            input: input.to_owned(),
        }
    }
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        let snippet = Snippet::new(&self.input, self.position..self.position);
        // A filter is one line of text, not a numbered line of a file.
        let snippet = if self.input.contains('\n') {
            snippet
        } else {
            snippet.unnumbered()
        };
        write!(f, "\n{snippet}")?;
        if !self.expected.is_empty() {
            write!(f, "\nexpected: {}", self.expected)?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Tokenizer
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quote {
    Backtick,
    Double,
    Single,
}

impl Quote {
    fn from_char(c: char) -> Option<Quote> {
        match c {
            '`' => Some(Quote::Backtick),
            '"' => Some(Quote::Double),
            '\'' => Some(Quote::Single),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    /// A bare run of word characters (identifiers, keywords, `a.b.c`).
    Word(String),
    /// A quoted string or key, unescaped.
    Quoted(Quote, String),
    Number(f64),
    /// One of `= != < <= > >=`.
    Op(Comparator),
    LParen,
    RParen,
    Comma,
    /// A character that starts no token; the parser reports it in context.
    Unknown(char),
    Eof,
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    span: Range<usize>,
}

impl Token {
    fn is_keyword(&self, kw: &str) -> bool {
        matches!(&self.tok, Tok::Word(w) if w.eq_ignore_ascii_case(kw))
    }
}

/// A lazy tokenizer: tokens are produced on demand, so an early semantic error is reported
/// before a later lexical one.
struct Lexer<'a> {
    src: &'a str,
    pos: usize,
}

/// 2^63: the magnitude of `i64::MIN`, and `i64::MAX` as an f64.
const I64_BOUND: f64 = 9_223_372_036_854_775_808.0;

const NUMBER_EXPECTED: &str = "a number, e.g. 0.5, -3 or 1e-4";

impl<'a> Lexer<'a> {
    fn new(src: &'a str) -> Self {
        Lexer { src, pos: 0 }
    }

    fn rest(&self) -> &'a str {
        self.src.get(self.pos..).unwrap_or("")
    }

    fn err(&self, pos: usize, message: impl Into<String>, expected: &str) -> FilterError {
        FilterError::new(self.src, pos, message, expected)
    }

    fn next_token(&mut self) -> Result<Token, FilterError> {
        let rest = self.rest();
        let trimmed = rest.trim_start();
        self.pos += rest.len() - trimmed.len();
        let start = self.pos;
        let mut chars = trimmed.chars();
        let Some(c) = chars.next() else {
            return Ok(Token {
                tok: Tok::Eof,
                span: start..start,
            });
        };
        let next = chars.next();
        let after_next = chars.next();
        let (tok, len) = match c {
            '(' => (Tok::LParen, 1),
            ')' => (Tok::RParen, 1),
            ',' => (Tok::Comma, 1),
            '=' if next == Some('=') => {
                return Err(self.err(
                    start,
                    "'==' is not an operator; use '=' to test equality",
                    OPERATORS,
                ));
            }
            '=' => (Tok::Op(Comparator::Eq), 1),
            '!' if next == Some('=') => (Tok::Op(Comparator::NotEq), 2),
            '<' if next == Some('>') => {
                return Err(self.err(
                    start,
                    "'<>' is not supported; use '!=' to test inequality",
                    OPERATORS,
                ));
            }
            '<' if next == Some('=') => (Tok::Op(Comparator::Le), 2),
            '<' => (Tok::Op(Comparator::Lt), 1),
            '>' if next == Some('=') => (Tok::Op(Comparator::Ge), 2),
            '>' => (Tok::Op(Comparator::Gt), 1),
            _ if starts_number(c, next, after_next) => return self.lex_number(),
            _ => {
                if let Some(q) = Quote::from_char(c) {
                    return self.lex_quoted(c, q);
                }
                if is_word_char(c) {
                    let len = trimmed
                        .find(|ch: char| !is_word_char(ch))
                        .unwrap_or(trimmed.len());
                    let word = trimmed.get(..len).unwrap_or("").to_owned();
                    (Tok::Word(word), len)
                } else {
                    // Reported by the parser, which knows what it expected here.
                    (Tok::Unknown(c), c.len_utf8())
                }
            }
        };
        self.pos += len;
        Ok(Token {
            tok,
            span: start..self.pos,
        })
    }

    fn lex_quoted(&mut self, quote_char: char, quote: Quote) -> Result<Token, FilterError> {
        let start = self.pos;
        let body = self.rest().get(quote_char.len_utf8()..).unwrap_or("");
        let mut text = String::new();
        let mut chars = body.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if c == quote_char {
                if chars.peek().is_some_and(|&(_, d)| d == quote_char) {
                    chars.next();
                    text.push(c);
                    continue;
                }
                self.pos = start + quote_char.len_utf8() + i + c.len_utf8();
                return Ok(Token {
                    tok: Tok::Quoted(quote, text),
                    span: start..self.pos,
                });
            }
            text.push(c);
        }
        let what = match quote {
            Quote::Backtick => "quoted key",
            Quote::Double | Quote::Single => "string",
        };
        Err(self.err(
            start,
            format!("Unterminated {what}: missing closing {quote_char}"),
            &format!(
                "a closing {quote_char} (write {quote_char}{quote_char} for a literal {quote_char})"
            ),
        ))
    }

    fn lex_number(&mut self) -> Result<Token, FilterError> {
        let start = self.pos;
        let rest = self.rest();
        let bytes = rest.as_bytes();
        let digits = |mut i: usize| {
            while bytes.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            i
        };
        let mut i = 0;
        if bytes.first() == Some(&b'-') {
            i += 1;
        }
        i = digits(i);
        if bytes.get(i) == Some(&b'.') {
            i = digits(i + 1);
        }
        if matches!(bytes.get(i), Some(b'e' | b'E')) {
            let mut j = i + 1;
            if matches!(bytes.get(j), Some(b'+' | b'-')) {
                j += 1;
            }
            if bytes.get(j).is_some_and(u8::is_ascii_digit) {
                i = digits(j);
            }
        }
        // Only ASCII bytes were consumed, so `i` is a char boundary.
        let after = rest.get(i..).unwrap_or("");
        if after.starts_with(is_word_char) {
            let junk = after
                .find(|c: char| !is_word_char(c))
                .unwrap_or(after.len());
            let text = rest.get(..i + junk).unwrap_or(rest);
            return Err(self.err(
                start,
                format!("Invalid number '{text}'"),
                "a number such as 0.5, -3 or 1e-4, or a quoted string",
            ));
        }
        let text = rest.get(..i).unwrap_or("");
        match text.parse::<f64>() {
            Ok(n) if n.is_finite() => {
                self.pos += i;
                Ok(Token {
                    tok: Tok::Number(n),
                    span: start..self.pos,
                })
            }
            _ => Err(self.err(
                start,
                format!("Number '{text}' is out of range"),
                "a finite number (at most about 1.8e308 in magnitude)",
            )),
        }
    }
}

/// Does a number start at `c` (followed by `n1`, `n2`)? `-` and `.` only when a digit follows.
fn starts_number(c: char, n1: Option<char>, n2: Option<char>) -> bool {
    let digit = |o: Option<char>| o.is_some_and(|d| d.is_ascii_digit());
    c.is_ascii_digit()
        || (c == '.' && digit(n1))
        || (c == '-' && (digit(n1) || (n1 == Some('.') && digit(n2))))
}

// ---------------------------------------------------------------------------------------------
// Parser
// ---------------------------------------------------------------------------------------------

const OPERATORS: &str = "a comparison operator (=, !=, <, <=, >, >=, LIKE, ILIKE, IN, NOT IN, \
                         IS NULL, IS NOT NULL)";
const IDENT_EXPECTED: &str =
    "an identifier such as metrics.rmse, params.lr, tags.`my tag`, attributes.status or status";
const STRING_EXPECTED: &str = "a string in single or double quotes, e.g. 'my-value'";

/// The left-hand side as written, before the schema gives it meaning.
#[derive(Debug)]
struct RawIdent {
    /// The type prefix and its span, if there is one.
    prefix: Option<(String, Range<usize>)>,
    key: String,
    key_span: Range<usize>,
    span: Range<usize>,
}

/// The right-hand side as written.
#[derive(Debug)]
enum RawValue {
    Number(f64),
    Str(String),
    /// A bare word or backticked text where a value was expected (always an error).
    Bare,
    List(Vec<String>),
    Null,
}

enum ValueType {
    Number,
    Integer,
    Str,
}

/// What a resolved key accepts.
struct KeySpec {
    /// How the key is named in messages, e.g. `metric 'rmse'`.
    what: String,
    ops: &'static [Comparator],
    value: ValueType,
    /// Extra explanation when `IN`/`NOT IN` is used where it is not allowed.
    list_note: Option<&'static str>,
}

const NUMERIC_OPS: &[Comparator] = &Comparator::NUMERIC;
const PARAM_TAG_OPS: &[Comparator] = &[
    Comparator::Eq,
    Comparator::NotEq,
    Comparator::Like,
    Comparator::ILike,
    Comparator::IsNull,
    Comparator::IsNotNull,
];
const STRING_ATTR_OPS: &[Comparator] = &[
    Comparator::Eq,
    Comparator::NotEq,
    Comparator::Like,
    Comparator::ILike,
];
const LIST_ATTR_OPS: &[Comparator] = &[
    Comparator::Eq,
    Comparator::NotEq,
    Comparator::Like,
    Comparator::ILike,
    Comparator::In,
    Comparator::NotIn,
];
const EXPERIMENT_ID_OPS: &[Comparator] = &[
    Comparator::Eq,
    Comparator::NotEq,
    Comparator::In,
    Comparator::NotIn,
];

fn ops_list(ops: &[Comparator]) -> String {
    let names: Vec<&str> = ops.iter().map(|o| o.as_str()).collect();
    names.join(", ")
}

/// Gives identifiers their meaning: runs and experiments differ only here.
trait Schema {
    type Key;
    fn resolve(&self, input: &str, id: &RawIdent) -> Result<(Self::Key, KeySpec), FilterError>;
}

struct Parser<'a> {
    src: &'a str,
    lexer: Lexer<'a>,
    peeked: Option<Token>,
    /// End of the last token consumed.
    last_end: usize,
}

impl<'a> Parser<'a> {
    fn new(src: &'a str) -> Self {
        Parser {
            src,
            lexer: Lexer::new(src),
            peeked: None,
            last_end: 0,
        }
    }

    fn peek(&mut self) -> Result<&Token, FilterError> {
        let token = match self.peeked.take() {
            Some(t) => t,
            None => self.lexer.next_token()?,
        };
        Ok(self.peeked.insert(token))
    }

    fn bump(&mut self) -> Result<Token, FilterError> {
        let token = match self.peeked.take() {
            Some(t) => t,
            None => self.lexer.next_token()?,
        };
        self.last_end = token.span.end;
        Ok(token)
    }

    fn text(&self, span: &Range<usize>) -> &'a str {
        self.src.get(span.clone()).unwrap_or("")
    }

    /// `'<token text>'` (quoted tokens as written), or `end of input`.
    fn describe(&self, token: &Token) -> String {
        match token.tok {
            Tok::Eof => "end of input".to_owned(),
            // Already delimited by its own quotes.
            Tok::Quoted(_, _) => self.text(&token.span).to_owned(),
            _ => format!("'{}'", self.text(&token.span)),
        }
    }

    fn err(&self, pos: usize, message: impl Into<String>, expected: &str) -> FilterError {
        FilterError::new(self.src, pos, message, expected)
    }

    /// identifier := word | quoted | word-ending-in-"." quoted | quoted "." (word | quoted)
    fn parse_ident(&mut self) -> Result<RawIdent, FilterError> {
        let first = self.bump()?;
        let mut pieces: Vec<Token> = Vec::new();
        match first.tok {
            Tok::Word(_) | Tok::Quoted(Quote::Backtick | Quote::Double, _) => pieces.push(first),
            Tok::Quoted(Quote::Single, _) => {
                return Err(self.err(
                    first.span.start,
                    format!(
                        "Expected an identifier, found the string {}; quote keys with \
                         backticks or double quotes, not single quotes",
                        self.describe(&first)
                    ),
                    IDENT_EXPECTED,
                ));
            }
            _ => {
                return Err(self.err(
                    first.span.start,
                    format!("Expected an identifier, found {}", self.describe(&first)),
                    IDENT_EXPECTED,
                ));
            }
        }
        // Glue adjacent pieces: `metrics.`x``, `` `metrics`.rmse ``.
        loop {
            let end = self.last_end;
            let next = self.peek()?;
            let adjacent = next.span.start == end;
            let glues = matches!(next.tok, Tok::Word(_) | Tok::Quoted(_, _));
            if !(adjacent && glues) {
                break;
            }
            let token = self.bump()?;
            pieces.push(token);
        }
        let start = pieces.first().map_or(0, |t| t.span.start);
        let span = start..self.last_end;
        let whole = self.text(&span);
        let bad_quoting = || {
            FilterError::new(
                self.src,
                start,
                format!(
                    "Invalid identifier '{whole}'. To use special characters in a key, quote \
                     the whole key with backticks or double quotes, e.g. metrics.`my metric`"
                ),
                IDENT_EXPECTED,
            )
        };

        // Split the first piece(s) into the type prefix and the start of the key.
        let mut iter = pieces.into_iter();
        let Some(first) = iter.next() else {
            return Err(bad_quoting());
        };
        let (prefix, key_bare, key_bare_start) = match first.tok {
            Tok::Word(w) => match w.split_once('.') {
                Some((t, k)) => {
                    let t_span = first.span.start..first.span.start + t.len();
                    let key_start = t_span.end + 1;
                    (Some((t.to_owned(), t_span)), k.to_owned(), key_start)
                }
                None => {
                    if iter.len() > 0 {
                        return Err(bad_quoting());
                    }
                    return Ok(RawIdent {
                        prefix: None,
                        key: w,
                        key_span: first.span.clone(),
                        span,
                    });
                }
            },
            Tok::Quoted(Quote::Single, _) => return Err(bad_quoting()),
            Tok::Quoted(_, q) => match iter.next() {
                None => {
                    return Ok(RawIdent {
                        prefix: None,
                        key: q,
                        key_span: first.span.clone(),
                        span,
                    });
                }
                Some(Token {
                    tok: Tok::Word(w),
                    span: w_span,
                }) if w.starts_with('.') => {
                    let k = w.get(1..).unwrap_or("").to_owned();
                    (Some((q, first.span.clone())), k, w_span.start + 1)
                }
                Some(_) => return Err(bad_quoting()),
            },
            _ => return Err(bad_quoting()),
        };
        let rest: Vec<Token> = iter.collect();
        let (key, key_span) = match rest.as_slice() {
            [] => (key_bare, key_bare_start..span.end),
            // A quoted key may be anything, even empty (`` tags.`` ``).
            [
                Token {
                    tok: Tok::Quoted(Quote::Backtick | Quote::Double, q),
                    span: q_span,
                },
            ] if key_bare.is_empty() => {
                return Ok(RawIdent {
                    prefix,
                    key: q.clone(),
                    key_span: q_span.clone(),
                    span,
                });
            }
            _ => return Err(bad_quoting()),
        };
        if key.is_empty() {
            let what = prefix.as_ref().map_or("", |(p, _)| p.as_str());
            return Err(self.err(
                key_span.start,
                format!("Missing key after '{what}.'"),
                "a key, e.g. metrics.rmse or params.`my param`",
            ));
        }
        Ok(RawIdent {
            prefix,
            key,
            key_span,
            span,
        })
    }

    fn parse_comparator(&mut self, lhs: &str) -> Result<(Comparator, Range<usize>), FilterError> {
        let lhs_end = self.last_end;
        let token = self.bump()?;
        let start = token.span.start;
        let op = match &token.tok {
            Tok::Op(op) => *op,
            Tok::Word(w) if w.eq_ignore_ascii_case("like") => Comparator::Like,
            Tok::Word(w) if w.eq_ignore_ascii_case("ilike") => Comparator::ILike,
            Tok::Word(w) if w.eq_ignore_ascii_case("in") => Comparator::In,
            Tok::Word(w) if w.eq_ignore_ascii_case("not") => {
                let next = self.bump()?;
                if !next.is_keyword("in") {
                    return Err(self.err(
                        next.span.start,
                        format!("Expected IN after NOT, found {}", self.describe(&next)),
                        "IN (NOT is only supported in NOT IN and IS NOT NULL)",
                    ));
                }
                Comparator::NotIn
            }
            Tok::Word(w) if w.eq_ignore_ascii_case("is") => {
                let next = self.bump()?;
                if next.is_keyword("null") {
                    Comparator::IsNull
                } else if next.is_keyword("not") {
                    let null = self.bump()?;
                    if !null.is_keyword("null") {
                        return Err(self.err(
                            null.span.start,
                            format!("Expected NULL after IS NOT, found {}", self.describe(&null)),
                            "NULL",
                        ));
                    }
                    Comparator::IsNotNull
                } else {
                    return Err(self.err(
                        next.span.start,
                        format!(
                            "Expected NULL or NOT NULL after IS, found {}",
                            self.describe(&next)
                        ),
                        "NULL or NOT NULL",
                    ));
                }
            }
            _ => {
                let key_continues = start == lhs_end
                    && matches!(
                        token.tok,
                        Tok::Number(_) | Tok::Unknown('-' | '/' | ':' | '+' | '@' | '#' | '$')
                    );
                let hint = if key_continues {
                    "; keys with special characters must be quoted, e.g. metrics.`val-loss`"
                } else if token.tok == Tok::Unknown('!') {
                    "; did you mean '!='?"
                } else {
                    ""
                };
                return Err(self.err(
                    start,
                    format!(
                        "Expected a comparison operator after '{lhs}', found {}{hint}",
                        self.describe(&token)
                    ),
                    OPERATORS,
                ));
            }
        };
        Ok((op, start..self.last_end))
    }

    fn parse_value(&mut self, op: Comparator) -> Result<(RawValue, Range<usize>), FilterError> {
        if op.takes_no_value() {
            return Ok((RawValue::Null, self.last_end..self.last_end));
        }
        let token = self.bump()?;
        let start = token.span.start;
        if op.takes_list() {
            if token.tok != Tok::LParen {
                return Err(self.err(
                    start,
                    format!("Expected '(' after {op}, found {}", self.describe(&token)),
                    "a parenthesized list of quoted strings, e.g. ('a', 'b')",
                ));
            }
            let mut items = Vec::new();
            loop {
                let item = self.bump()?;
                match item.tok {
                    Tok::Quoted(Quote::Single | Quote::Double, s) => items.push(s),
                    Tok::RParen if items.is_empty() => {
                        return Err(self.err(
                            item.span.start,
                            format!("The list after {op} must not be empty"),
                            "at least one quoted string, e.g. ('a')",
                        ));
                    }
                    _ => {
                        return Err(self.err(
                            item.span.start,
                            format!(
                                "Expected a quoted string in the list after {op}, found {}",
                                self.describe(&item)
                            ),
                            STRING_EXPECTED,
                        ));
                    }
                }
                let sep = self.bump()?;
                match sep.tok {
                    Tok::Comma => continue,
                    Tok::RParen => break,
                    _ => {
                        return Err(self.err(
                            sep.span.start,
                            format!(
                                "Expected ',' or ')' in the list after {op}, found {}",
                                self.describe(&sep)
                            ),
                            "',' or ')'",
                        ));
                    }
                }
            }
            return Ok((RawValue::List(items), start..self.last_end));
        }
        let value = match token.tok {
            Tok::Number(n) => RawValue::Number(n),
            Tok::Quoted(Quote::Single | Quote::Double, s) => RawValue::Str(s),
            Tok::Word(_) | Tok::Quoted(Quote::Backtick, _) => RawValue::Bare,
            Tok::LParen => {
                return Err(self.err(
                    start,
                    format!("A parenthesized list is only allowed after IN or NOT IN, not {op}"),
                    "a quoted string or a number",
                ));
            }
            _ => {
                return Err(self.err(
                    start,
                    format!(
                        "Expected a value after {op}, found {}",
                        self.describe(&token)
                    ),
                    "a quoted string or a number",
                ));
            }
        };
        Ok((value, token.span))
    }

    /// Parse one `identifier comparator value` clause, checking it against `schema`.
    fn parse_clause<S: Schema>(&mut self, schema: &S) -> Result<Clause<S::Key>, FilterError> {
        let token = self.peek()?.clone();
        let start = token.span.start;
        if token.tok == Tok::LParen {
            return Err(self.err(
                start,
                "Invalid clause(s) in filter string: '('. Parentheses for grouping are not \
                 supported",
                "a comparison such as metrics.rmse < 0.5; combine comparisons with AND only",
            ));
        }
        if token.is_keyword("not") {
            return Err(self.err(
                start,
                format!(
                    "Invalid clause(s) in filter string: {}. NOT is only supported as part of \
                     NOT IN and IS NOT NULL",
                    self.describe(&token)
                ),
                "a comparison such as params.optimizer != 'sgd'",
            ));
        }
        if token.is_keyword("or") || token.is_keyword("and") {
            return Err(self.err(
                start,
                format!(
                    "Invalid clause(s) in filter string: {}. Expected a comparison",
                    self.describe(&token)
                ),
                IDENT_EXPECTED,
            ));
        }
        if token.tok == Tok::Eof {
            return Err(self.err(
                start,
                "Expected a comparison after AND, found end of input",
                IDENT_EXPECTED,
            ));
        }
        let id = self.parse_ident()?;
        let (key, spec) = schema.resolve(self.src, &id)?;
        let lhs = self.text(&id.span);
        let (op, op_span) = self.parse_comparator(lhs)?;
        if !spec.ops.contains(&op) {
            let mut message = format!("Invalid comparator '{op}' for {}", spec.what);
            if let (true, Some(note)) = (op.takes_list(), spec.list_note) {
                message.push_str(". ");
                message.push_str(note);
            }
            return Err(self.err(
                op_span.start,
                message,
                &format!("one of {}", ops_list(spec.ops)),
            ));
        }
        let (raw, value_span) = self.parse_value(op)?;
        let value = check_value(self, &spec, raw, &value_span)?;
        Ok(Clause {
            ident: key,
            op,
            value,
            span: start..self.last_end,
        })
    }

    /// `clause (AND clause)*`, or nothing at all for blank input.
    fn parse_filter<S: Schema>(&mut self, schema: &S) -> Result<Filter<S::Key>, FilterError> {
        let mut filter = Filter::default();
        if self.peek()?.tok == Tok::Eof {
            return Ok(filter);
        }
        loop {
            filter.clauses.push(self.parse_clause(schema)?);
            let token = self.bump()?;
            match &token.tok {
                Tok::Eof => return Ok(filter),
                _ if token.is_keyword("and") => continue,
                _ if token.is_keyword("or") => {
                    return Err(self.err(
                        token.span.start,
                        format!(
                            "Invalid clause(s) in filter string: {}. Only AND is supported to \
                             combine comparisons",
                            self.describe(&token)
                        ),
                        "AND or end of input",
                    ));
                }
                Tok::LParen | Tok::RParen => {
                    return Err(self.err(
                        token.span.start,
                        format!(
                            "Invalid clause(s) in filter string: {}. Parentheses for grouping \
                             are not supported",
                            self.describe(&token)
                        ),
                        "AND or end of input",
                    ));
                }
                _ => {
                    return Err(self.err(
                        token.span.start,
                        format!(
                            "Expected AND or end of input after a comparison, found {}",
                            self.describe(&token)
                        ),
                        "AND or end of input",
                    ));
                }
            }
        }
    }

    /// `identifier [ASC|DESC]` then end of input.
    fn parse_order_by<S: Schema>(&mut self, schema: &S) -> Result<OrderBy<S::Key>, FilterError> {
        const ORDER_EXPECTED: &str = "<identifier> [ASC|DESC], e.g. metrics.rmse DESC";
        let first = self.peek()?;
        if !matches!(
            first.tok,
            Tok::Word(_) | Tok::Quoted(Quote::Backtick | Quote::Double, _)
        ) {
            let at = first.span.start;
            return Err(self.err(
                at,
                format!(
                    "Invalid order_by clause '{}'. Could not be parsed.",
                    self.src
                ),
                ORDER_EXPECTED,
            ));
        }
        let id = self.parse_ident()?;
        let (ident, _) = schema.resolve(self.src, &id)?;
        let token = self.bump()?;
        let ascending = match &token.tok {
            Tok::Eof => {
                return Ok(OrderBy {
                    ident,
                    ascending: true,
                });
            }
            _ if token.is_keyword("asc") => true,
            _ if token.is_keyword("desc") => false,
            Tok::Word(_) => {
                return Err(self.err(
                    token.span.start,
                    format!("Invalid ordering key in order_by clause '{}'.", self.src),
                    "ASC or DESC",
                ));
            }
            _ => {
                return Err(self.err(
                    token.span.start,
                    format!(
                        "Invalid order_by clause '{}'. Could not be parsed: unexpected {}",
                        self.src,
                        self.describe(&token)
                    ),
                    ORDER_EXPECTED,
                ));
            }
        };
        let end = self.bump()?;
        if end.tok != Tok::Eof {
            return Err(self.err(
                end.span.start,
                format!(
                    "Invalid order_by clause '{}'. Could not be parsed: unexpected {} after \
                     the direction",
                    self.src,
                    self.describe(&end)
                ),
                "end of input (one order_by entry per string)",
            ));
        }
        Ok(OrderBy { ident, ascending })
    }
}

fn check_value(
    p: &Parser<'_>,
    spec: &KeySpec,
    raw: RawValue,
    span: &Range<usize>,
) -> Result<Literal, FilterError> {
    let found = match &raw {
        RawValue::Str(s) => format!("'{s}'"),
        _ => p.text(span).to_owned(),
    };
    let null_hint = if matches!(raw, RawValue::Bare) && p.text(span).eq_ignore_ascii_case("null") {
        " (use IS NULL / IS NOT NULL to test whether a key exists)"
    } else {
        ""
    };
    match (&spec.value, raw) {
        (_, RawValue::Null) => Ok(Literal::Null),
        (_, RawValue::List(items)) => Ok(Literal::List(items)),
        (ValueType::Number, RawValue::Number(n)) => Ok(Literal::Number(n)),
        // Every i64 (as f64, the language's numbers) and nothing beyond ±2^63.
        (ValueType::Integer, RawValue::Number(n)) if n.fract() == 0.0 && n.abs() <= I64_BOUND => {
            Ok(Literal::Number(n))
        }
        (ValueType::Str, RawValue::Str(s)) => Ok(Literal::Str(s)),
        (ValueType::Number, _) => Err(p.err(
            span.start,
            format!(
                "Expected numeric value type for {}, found {}",
                spec.what, found
            ),
            NUMBER_EXPECTED,
        )),
        (ValueType::Integer, _) => Err(p.err(
            span.start,
            format!(
                "Expected an integer value for {}, found {}",
                spec.what, found
            ),
            "an integer number of milliseconds since the Unix epoch, e.g. 1700000000000",
        )),
        (ValueType::Str, _) => Err(p.err(
            span.start,
            format!(
                "Expected a quoted string value for {}, found {}{null_hint}",
                spec.what, found
            ),
            STRING_EXPECTED,
        )),
    }
}

// ---------------------------------------------------------------------------------------------
// Schemas
// ---------------------------------------------------------------------------------------------

const ENTITY_TYPES_EXPECTED: &str = "metric(s), param(s), parameter(s), tag(s), attribute(s), \
                                     attr, run or dataset(s), followed by '.' and a key";

struct RunSchema {
    order_by: bool,
}

impl Schema for RunSchema {
    type Key = Identifier;

    fn resolve(&self, input: &str, id: &RawIdent) -> Result<(Identifier, KeySpec), FilterError> {
        let kind = match &id.prefix {
            None => EntityKind::Attribute,
            Some((prefix, span)) => EntityKind::from_prefix(prefix).ok_or_else(|| {
                FilterError::new(
                    input,
                    span.start,
                    format!(
                        "Invalid entity type '{prefix}'. Valid values are metric, parameter, \
                         tag, attribute, dataset"
                    ),
                    ENTITY_TYPES_EXPECTED,
                )
            })?,
        };
        let key = id.key.as_str();
        let spec = |what: String, ops, value| KeySpec {
            what,
            ops,
            value,
            list_note: None,
        };
        let (key, spec) = match kind {
            EntityKind::Metric => (
                key.to_owned(),
                spec(format!("metric '{key}'"), NUMERIC_OPS, ValueType::Number),
            ),
            EntityKind::Param | EntityKind::Tag => (
                key.to_owned(),
                KeySpec {
                    list_note: Some(
                        "IN and NOT IN are only supported for attributes.run_id and dataset keys",
                    ),
                    ..spec(
                        format!("{} '{key}'", kind.name()),
                        PARAM_TAG_OPS,
                        ValueType::Str,
                    )
                },
            ),
            EntityKind::Attribute => {
                let Some(norm) = normalize_run_attribute(key) else {
                    return Err(FilterError::new(
                        input,
                        id.key_span.start,
                        format!(
                            "Invalid attribute key '{key}' specified. Valid keys are {}",
                            RUN_ATTRIBUTE_KEYS.join(", ")
                        ),
                        format!(
                            "one of {} (aliases: created, Created, `run name`, `Run name`, \
                             `Run Name`)",
                            RUN_ATTRIBUTE_KEYS.join(", ")
                        ),
                    ));
                };
                let what = format!("attribute '{norm}'");
                let spec = match norm {
                    "start_time" | "end_time" => spec(what, NUMERIC_OPS, ValueType::Integer),
                    "run_id" => spec(what, LIST_ATTR_OPS, ValueType::Str),
                    _ => KeySpec {
                        list_note: Some("Only the 'run_id' attribute supports IN and NOT IN"),
                        ..spec(what, STRING_ATTR_OPS, ValueType::Str)
                    },
                };
                (norm.to_owned(), spec)
            }
            EntityKind::Dataset => {
                if self.order_by {
                    return Err(FilterError::new(
                        input,
                        id.span.start,
                        format!("Ordering by dataset key '{key}' is not supported"),
                        "a metric, param, tag or attribute identifier",
                    ));
                }
                let Some(norm) = DATASET_KEYS.iter().copied().find(|k| *k == key) else {
                    return Err(FilterError::new(
                        input,
                        id.key_span.start,
                        format!(
                            "Invalid dataset key '{key}' specified. Valid keys are name, digest, \
                             context"
                        ),
                        "one of name, digest, context",
                    ));
                };
                (
                    norm.to_owned(),
                    spec(format!("dataset '{norm}'"), LIST_ATTR_OPS, ValueType::Str),
                )
            }
        };
        Ok((Identifier { kind, key }, spec))
    }
}

struct ExperimentSchema {
    order_by: bool,
}

impl Schema for ExperimentSchema {
    type Key = ExperimentKey;

    fn resolve(&self, input: &str, id: &RawIdent) -> Result<(ExperimentKey, KeySpec), FilterError> {
        let is_tag = match &id.prefix {
            None => false,
            Some((p, _)) if p == "attribute" || p == "attributes" => false,
            Some((p, _)) if p == "tag" || p == "tags" => true,
            Some((p, span)) => {
                return Err(FilterError::new(
                    input,
                    span.start,
                    format!(
                        "Invalid entity type '{p}'. Valid values for experiments are \
                         attribute, tag"
                    ),
                    "attribute(s) or tag(s), followed by '.' and a key",
                ));
            }
        };
        let key = id.key.as_str();
        if is_tag {
            if self.order_by {
                return Err(FilterError::new(
                    input,
                    id.span.start,
                    "Invalid order_by entity: tag. Experiments can only be ordered by an \
                     attribute",
                    "one of name, experiment_id, creation_time, last_update_time",
                ));
            }
            return Ok((
                ExperimentKey::Tag(key.to_owned()),
                KeySpec {
                    what: format!("tag '{key}'"),
                    ops: PARAM_TAG_OPS,
                    value: ValueType::Str,
                    list_note: Some("IN and NOT IN are only supported for experiment_id"),
                },
            ));
        }
        let Some(attr) = ExperimentAttribute::from_key(key) else {
            return Err(FilterError::new(
                input,
                id.key_span.start,
                format!(
                    "Invalid attribute key '{key}' specified. Valid keys are name, \
                     experiment_id, creation_time, last_update_time"
                ),
                "one of name, experiment_id, creation_time, last_update_time, or tags.<key>",
            ));
        };
        let what = format!("experiment attribute '{attr}'");
        let spec = match attr {
            ExperimentAttribute::Name => KeySpec {
                what,
                ops: STRING_ATTR_OPS,
                value: ValueType::Str,
                list_note: Some("IN and NOT IN are only supported for experiment_id"),
            },
            ExperimentAttribute::ExperimentId => KeySpec {
                what,
                ops: EXPERIMENT_ID_OPS,
                value: ValueType::Str,
                list_note: None,
            },
            ExperimentAttribute::CreationTime | ExperimentAttribute::LastUpdateTime => KeySpec {
                what,
                ops: NUMERIC_OPS,
                value: ValueType::Integer,
                list_note: None,
            },
        };
        Ok((ExperimentKey::Attribute(attr), spec))
    }
}

// ---------------------------------------------------------------------------------------------
// Logged-model filters
// ---------------------------------------------------------------------------------------------

/// The attributes a logged-model filter names (`name`, `model_id`, ...).
pub const LOGGED_MODEL_ATTRIBUTES: &[&str] =
    &["name", "model_id", "model_type", "status", "source_run_id"];

/// What a logged-model filter clause names: an attribute, a tag or a param.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LoggedModelKey {
    /// One of [`LOGGED_MODEL_ATTRIBUTES`].
    Attribute(&'static str),
    /// `tags.<key>`.
    Tag(String),
    /// `params.<key>`.
    Param(String),
    /// `metrics.<key>`: matches when any point of that metric does.
    Metric(String),
}

impl fmt::Display for LoggedModelKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoggedModelKey::Attribute(a) => write!(f, "attributes.{a}"),
            LoggedModelKey::Tag(k) => write!(f, "tags.`{k}`"),
            LoggedModelKey::Param(k) => write!(f, "params.`{k}`"),
            LoggedModelKey::Metric(k) => write!(f, "metrics.`{k}`"),
        }
    }
}

/// A logged-model search filter ([`parse_logged_model_filter`]).
pub type LoggedModelFilter = Filter<LoggedModelKey>;

const LOGGED_MODEL_OPS: &[Comparator] = &[
    Comparator::Eq,
    Comparator::NotEq,
    Comparator::In,
    Comparator::NotIn,
    Comparator::IsNull,
    Comparator::IsNotNull,
];

struct LoggedModelSchema;

impl Schema for LoggedModelSchema {
    type Key = LoggedModelKey;

    fn resolve(
        &self,
        input: &str,
        id: &RawIdent,
    ) -> Result<(LoggedModelKey, KeySpec), FilterError> {
        let key = id.key.as_str();
        let (ident, what) = match id.prefix.as_ref().map(|(p, s)| (p.as_str(), s)) {
            Some(("metric" | "metrics", _)) => {
                let spec = KeySpec {
                    what: format!("metric '{key}'"),
                    ops: NUMERIC_OPS,
                    value: ValueType::Number,
                    list_note: None,
                };
                return Ok((LoggedModelKey::Metric(key.into()), spec));
            }
            Some(("tag" | "tags", _)) => (LoggedModelKey::Tag(key.into()), format!("tag '{key}'")),
            Some(("param" | "params", _)) => {
                (LoggedModelKey::Param(key.into()), format!("param '{key}'"))
            }
            None | Some(("attribute" | "attributes", _)) => {
                let Some(a) = LOGGED_MODEL_ATTRIBUTES.iter().find(|a| **a == key) else {
                    return Err(FilterError::new(
                        input,
                        id.key_span.start,
                        format!(
                            "Invalid attribute key '{key}' specified. Valid keys are {}",
                            LOGGED_MODEL_ATTRIBUTES.join(", ")
                        ),
                        "a logged model attribute, metrics.<key>, tags.<key> or params.<key>",
                    ));
                };
                (LoggedModelKey::Attribute(a), format!("attribute '{key}'"))
            }
            Some((p, span)) => {
                return Err(FilterError::new(
                    input,
                    span.start,
                    format!(
                        "Invalid entity type '{p}'. Valid values for logged models are \
                         attribute, metric, tag, param"
                    ),
                    "attribute(s), metric(s), tag(s) or param(s), followed by '.' and a key",
                ));
            }
        };
        let spec = KeySpec {
            what,
            ops: LOGGED_MODEL_OPS,
            value: ValueType::Str,
            list_note: None,
        };
        Ok((ident, spec))
    }
}

/// Parse a logged-model search filter: clauses joined by `AND` over the attributes
/// [`LOGGED_MODEL_ATTRIBUTES`], `tags.<key>` and `params.<key>` (with `=`, `!=`, `IN`,
/// `NOT IN`, `IS NULL` and `IS NOT NULL`) and `metrics.<key>` (with `=`, `!=`, `<`, `<=`,
/// `>`, `>=` and a number).
pub fn parse_logged_model_filter(input: &str) -> Result<LoggedModelFilter, FilterError> {
    Parser::new(input).parse_filter(&LoggedModelSchema)
}

impl LoggedModelFilter {
    /// Does `model` pass every clause?
    pub fn matches(&self, model: &crate::tracking::model::LoggedModel) -> bool {
        self.clauses.iter().all(|c| {
            if let (LoggedModelKey::Metric(k), Literal::Number(x)) = (&c.ident, &c.value) {
                // As MLflow: a model matches when any point of the metric does.
                return model
                    .metrics
                    .iter()
                    .filter(|m| &m.metric.key == k)
                    .any(|m| c.op.compares(m.metric.value, *x));
            }
            let status = model.status.as_str();
            let value: Option<&str> = match &c.ident {
                LoggedModelKey::Attribute(a) => match *a {
                    "name" => Some(&model.name),
                    "model_id" => Some(&model.model_id),
                    "model_type" => model.model_type.as_deref(),
                    "status" => Some(status),
                    _ => model.source_run_id.as_deref(),
                },
                LoggedModelKey::Tag(k) => model
                    .tags
                    .iter()
                    .find(|t| &t.key == k)
                    .map(|t| t.value.as_str()),
                LoggedModelKey::Param(k) => model
                    .params
                    .iter()
                    .find(|p| &p.key == k)
                    .map(|p| p.value.as_str()),
                LoggedModelKey::Metric(_) => None,
            };
            let listed = |v: &str| match &c.value {
                Literal::Str(s) => s == v,
                Literal::List(items) => items.iter().any(|s| s == v),
                _ => false,
            };
            match (c.op, value) {
                (Comparator::IsNull, v) => v.is_none(),
                (Comparator::IsNotNull, v) => v.is_some(),
                (Comparator::Eq | Comparator::In, Some(v)) => listed(v),
                (Comparator::NotEq | Comparator::NotIn, Some(v)) => !listed(v),
                _ => false,
            }
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Registry order_by
// ---------------------------------------------------------------------------------------------

/// The order_by keys of a registry search: each accepted key with the field it orders by
/// (two keys may order by the same field, as `timestamp` and `last_updated_timestamp` of
/// registered models do).
pub type RegistryOrderKeys = &'static [(&'static str, &'static str)];

/// The order_by keys of `registered-models/search`, as MLflow accepts them.
pub const REGISTERED_MODEL_ORDER_KEYS: RegistryOrderKeys = &[
    ("name", "name"),
    ("timestamp", "last_updated_timestamp"),
    ("last_updated_timestamp", "last_updated_timestamp"),
];

/// The order_by keys of `model-versions/search`, as MLflow accepts them.
pub const MODEL_VERSION_ORDER_KEYS: RegistryOrderKeys = &[
    ("name", "name"),
    ("version_number", "version_number"),
    ("creation_timestamp", "creation_timestamp"),
    ("last_updated_timestamp", "last_updated_timestamp"),
];

struct RegistryOrderSchema {
    keys: RegistryOrderKeys,
}

impl Schema for RegistryOrderSchema {
    type Key = &'static str;

    fn resolve(&self, input: &str, id: &RawIdent) -> Result<(&'static str, KeySpec), FilterError> {
        let accepted = || {
            let names: Vec<&str> = self.keys.iter().map(|(k, _)| *k).collect();
            names.join(", ")
        };
        let attribute = match &id.prefix {
            None => true,
            Some((p, _)) => p == "attribute" || p == "attributes",
        };
        let field = self
            .keys
            .iter()
            .find(|(k, _)| attribute && *k == id.key)
            .map(|(_, field)| *field);
        let Some(field) = field else {
            return Err(FilterError::new(
                input,
                id.span.start,
                format!(
                    "Invalid order by key '{}' specified. Valid keys are {}",
                    &input[id.span.clone()],
                    accepted()
                ),
                format!("one of {}, then ASC or DESC", accepted()),
            ));
        };
        let spec = KeySpec {
            what: format!("attribute '{field}'"),
            ops: &[],
            value: ValueType::Str,
            list_note: None,
        };
        Ok((field, spec))
    }
}

/// Parse the `order_by` list of a registry search (`<key> [ASC|DESC]` entries over `keys`,
/// such as [`REGISTERED_MODEL_ORDER_KEYS`]), rejecting two entries that order by the same
/// field. Each entry is resolved to the field it orders by.
pub fn parse_registry_order_by_list<S: AsRef<str>>(
    inputs: &[S],
    keys: RegistryOrderKeys,
) -> Result<Vec<OrderBy<&'static str>>, FilterError> {
    let schema = RegistryOrderSchema { keys };
    parse_list(inputs, |input| Parser::new(input).parse_order_by(&schema))
}

// ---------------------------------------------------------------------------------------------
// Public entry points
// ---------------------------------------------------------------------------------------------

/// Parse a run-search filter string (the `filter` field of `runs/search`).
///
/// Blank input gives an empty [`Filter`]. See the [module documentation](self) for the grammar.
///
/// ```
/// use hyperflow::tracking::filter::{parse_filter, Comparator, EntityKind, Literal};
///
/// let f = parse_filter("metrics.rmse < 0.5 and tags.mlflow.parentRunId = 'abc'").unwrap();
/// assert_eq!(f.clauses.len(), 2);
/// assert_eq!(f.clauses[0].ident.kind, EntityKind::Metric);
/// assert_eq!(f.clauses[0].op, Comparator::Lt);
/// assert_eq!(f.clauses[0].value, Literal::Number(0.5));
/// assert_eq!(f.clauses[1].ident.key, "mlflow.parentRunId");
/// assert_eq!(f.clauses[1].span, 23..54);
///
/// let err = parse_filter("metrics.rmse < 1 OR params.lr = '0.1'").unwrap_err();
/// assert_eq!(err.position, 17);
/// assert!(err.message.contains("'OR'"));
/// ```
pub fn parse_filter(input: &str) -> Result<Filter, FilterError> {
    Parser::new(input).parse_filter(&RunSchema { order_by: false })
}

/// Parse one run `order_by` entry: `<identifier> [ASC|DESC]` (direction case-insensitive,
/// ascending by default). Dataset keys are rejected.
pub fn parse_order_by(input: &str) -> Result<OrderBy, FilterError> {
    Parser::new(input).parse_order_by(&RunSchema { order_by: true })
}

/// Parse the `order_by` list of a run search, rejecting two entries with the same key
/// (after alias normalization, so `created` and `start_time` clash).
///
/// An error names the entry (`order_by[i]`) in its message; its `input` and `position` refer to
/// that entry.
pub fn parse_order_by_list<S: AsRef<str>>(inputs: &[S]) -> Result<Vec<OrderBy>, FilterError> {
    parse_list(inputs, parse_order_by)
}

/// Parse an experiment-search filter string (the `filter` field of `experiments/search`).
///
/// Keys: `name`, `experiment_id`, `creation_time`, `last_update_time` (optionally prefixed
/// with `attribute.`/`attributes.`) and `tags.<key>`/`tag.<key>`.
pub fn parse_experiment_filter(input: &str) -> Result<ExperimentFilter, FilterError> {
    Parser::new(input).parse_filter(&ExperimentSchema { order_by: false })
}

/// Parse one experiment `order_by` entry: `<attribute> [ASC|DESC]`, where the attribute is
/// `name`, `experiment_id`, `creation_time` or `last_update_time`.
pub fn parse_experiment_order_by(input: &str) -> Result<ExperimentOrderBy, FilterError> {
    let OrderBy { ident, ascending } =
        Parser::new(input).parse_order_by(&ExperimentSchema { order_by: true })?;
    match ident {
        ExperimentKey::Attribute(ident) => Ok(OrderBy { ident, ascending }),
        // The order_by schema never resolves a tag.
        ExperimentKey::Tag(_) => Err(FilterError::new(
            input,
            0,
            "Invalid order_by entity: tag",
            "an experiment attribute",
        )),
    }
}

/// Parse the `order_by` list of an experiment search, rejecting duplicate keys.
pub fn parse_experiment_order_by_list<S: AsRef<str>>(
    inputs: &[S],
) -> Result<Vec<ExperimentOrderBy>, FilterError> {
    parse_list(inputs, parse_experiment_order_by)
}

fn parse_list<S, K>(
    inputs: &[S],
    parse: impl Fn(&str) -> Result<OrderBy<K>, FilterError>,
) -> Result<Vec<OrderBy<K>>, FilterError>
where
    S: AsRef<str>,
    K: std::hash::Hash + Eq + Clone,
{
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(inputs.len());
    for (i, input) in inputs.iter().enumerate() {
        let input = input.as_ref();
        let entry = parse(input).map_err(|mut e| {
            e.message = format!("order_by[{i}]: {}", e.message);
            e
        })?;
        if !seen.insert(entry.ident.clone()) {
            return Err(FilterError::new(
                input,
                0,
                format!(
                    "order_by[{i}]: duplicate order_by key in '{input}'; each key may appear \
                     only once"
                ),
                "a key not already used by an earlier order_by entry",
            ));
        }
        out.push(entry);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(input: &str) -> Filter {
        match parse_filter(input) {
            Ok(f) => f,
            Err(e) => panic!("{input:?} should parse, got:\n{e}"),
        }
    }

    fn one(input: &str) -> Clause {
        let f = ok(input);
        assert_eq!(f.clauses.len(), 1, "{input:?}");
        f.clauses.into_iter().next().unwrap()
    }

    fn err(input: &str) -> FilterError {
        match parse_filter(input) {
            Ok(f) => panic!("{input:?} should fail, got {f:?}"),
            Err(e) => e,
        }
    }

    /// Asserts the error position and that the message contains `needle`.
    fn err_at(input: &str, position: usize, needle: &str) -> FilterError {
        check_err(input, err(input), position, needle)
    }

    fn check_err(input: &str, e: FilterError, position: usize, needle: &str) -> FilterError {
        assert!(
            e.message.contains(needle),
            "{input:?}: message {:?} lacks {needle:?}",
            e.message
        );
        assert_eq!(e.position, position, "{input:?}: {}", e.message);
        e
    }

    fn id(kind: EntityKind, key: &str) -> Identifier {
        Identifier::new(kind, key)
    }

    fn s(v: &str) -> Literal {
        Literal::Str(v.to_owned())
    }

    // ----- basics ---------------------------------------------------------------------------

    #[test]
    fn blank_input_is_empty_filter() {
        for input in ["", " ", "\t\n  ", "\u{3000}"] {
            assert_eq!(ok(input), Filter::default());
            assert_eq!(
                parse_experiment_filter(input).unwrap(),
                ExperimentFilter::default()
            );
        }
    }

    #[test]
    fn metric_comparators() {
        for (text, op) in [
            ("=", Comparator::Eq),
            ("!=", Comparator::NotEq),
            ("<", Comparator::Lt),
            ("<=", Comparator::Le),
            (">", Comparator::Gt),
            (">=", Comparator::Ge),
        ] {
            let c = one(&format!("metrics.rmse {text} 0.5"));
            assert_eq!(c.ident, id(EntityKind::Metric, "rmse"));
            assert_eq!(c.op, op);
            assert_eq!(c.value, Literal::Number(0.5));
            // No whitespace needed around operators.
            assert_eq!(one(&format!("metrics.rmse{text}0.5")).op, op);
        }
    }

    #[test]
    fn numbers() {
        for (text, n) in [
            ("1", 1.0),
            ("-1", -1.0),
            ("0.25", 0.25),
            ("-0.25", -0.25),
            (".5", 0.5),
            ("-.5", -0.5),
            ("2.", 2.0),
            ("1e3", 1000.0),
            ("1E-3", 0.001),
            ("-2.5e+2", -250.0),
            ("007", 7.0),
        ] {
            assert_eq!(
                one(&format!("metrics.m > {text}")).value,
                Literal::Number(n),
                "{text}"
            );
        }
        err_at("metrics.m > 1abc", 12, "Invalid number '1abc'");
        err_at("metrics.m > 1.2.3", 12, "Invalid number '1.2.3'");
        err_at("metrics.m > 1e", 12, "Invalid number '1e'");
        err_at("metrics.m > 1e999", 12, "out of range");
        err_at("metrics.m > - 1", 12, "Expected a value after >, found '-'");
    }

    #[test]
    fn and_is_case_insensitive_and_spans_are_byte_ranges() {
        let input = "metrics.a > 1 and params.b = 'x' AND tags.c != \"y\" aNd status = 'OK'";
        let f = ok(input);
        assert_eq!(f.clauses.len(), 4);
        let texts: Vec<&str> = f.clauses.iter().map(|c| &input[c.span.clone()]).collect();
        assert_eq!(
            texts,
            [
                "metrics.a > 1",
                "params.b = 'x'",
                "tags.c != \"y\"",
                "status = 'OK'"
            ]
        );
        // Multi-byte characters before a clause shift byte positions, not char positions.
        let input = "tags.é = 'ü' AND metrics.m < 2";
        let f = ok(input);
        assert_eq!(&input[f.clauses[1].span.clone()], "metrics.m < 2");
        assert_eq!(f.clauses[0].ident.key, "é");
        // Newlines and tabs are whitespace.
        assert_eq!(ok("metrics.a > 1\n\tAND\r\nmetrics.b < 2").clauses.len(), 2);
    }

    #[test]
    fn entity_type_aliases() {
        let cases = [
            ("metric", EntityKind::Metric),
            ("metrics", EntityKind::Metric),
            ("param", EntityKind::Param),
            ("params", EntityKind::Param),
            ("parameter", EntityKind::Param),
            ("parameters", EntityKind::Param),
            ("tag", EntityKind::Tag),
            ("tags", EntityKind::Tag),
        ];
        for (prefix, kind) in cases {
            let value = if kind == EntityKind::Metric {
                "1"
            } else {
                "'v'"
            };
            assert_eq!(one(&format!("{prefix}.k = {value}")).ident, id(kind, "k"));
            // The type may be backticked.
            assert_eq!(one(&format!("`{prefix}`.k = {value}")).ident, id(kind, "k"));
        }
        for prefix in ["attribute", "attributes", "attr", "run"] {
            assert_eq!(
                one(&format!("{prefix}.status = 'FAILED'")).ident,
                id(EntityKind::Attribute, "status")
            );
        }
        for prefix in ["dataset", "datasets"] {
            assert_eq!(
                one(&format!("{prefix}.digest = 'abc'")).ident,
                id(EntityKind::Dataset, "digest")
            );
        }
        // Types are case-sensitive, as in MLflow.
        err_at("Metrics.a > 1", 0, "Invalid entity type 'Metrics'");
    }

    #[test]
    fn invalid_entity_type() {
        let e = err_at(
            "metrics.a > 1 AND foo.bar = 'x'",
            18,
            "Invalid entity type 'foo'. Valid values are metric, parameter, tag, attribute, dataset",
        );
        assert!(e.expected.contains("attr"));
        err_at("`foo`.bar = 'x'", 0, "Invalid entity type 'foo'");
        err_at(".bar = 'x'", 0, "Invalid entity type ''");
    }

    #[test]
    fn attributes_and_aliases() {
        for key in RUN_ATTRIBUTE_KEYS {
            let value = if key.ends_with("_time") { "5" } else { "'v'" };
            assert_eq!(
                one(&format!("{key} = {value}")).ident,
                id(EntityKind::Attribute, key)
            );
            assert_eq!(
                one(&format!("attributes.{key} = {value}")).ident,
                id(EntityKind::Attribute, key)
            );
        }
        for alias in ["created", "Created", "attributes.created", "attr.Created"] {
            assert_eq!(
                one(&format!("{alias} >= 17")).ident,
                id(EntityKind::Attribute, "start_time")
            );
        }
        for alias in [
            "`run name`",
            "\"Run name\"",
            "`Run Name`",
            "attributes.`run name`",
            "run.\"Run Name\"",
        ] {
            assert_eq!(
                one(&format!("{alias} = 'x'")).ident,
                id(EntityKind::Attribute, "run_name")
            );
        }
        err_at(
            "metrics.a > 1 AND lifecycle_stage = 'active'",
            18,
            "Invalid attribute key 'lifecycle_stage'",
        );
        err_at("attributes.foo = 'x'", 11, "Invalid attribute key 'foo'");
        err_at("RUN_ID = 'x'", 0, "Invalid attribute key 'RUN_ID'");
    }

    #[test]
    fn dotted_and_quoted_keys() {
        for (input, kind, key) in [
            (
                "tags.mlflow.parentRunId = 'abc'",
                EntityKind::Tag,
                "mlflow.parentRunId",
            ),
            ("metrics.`my metric` > 1", EntityKind::Metric, "my metric"),
            ("params.\"a b\" = 'x'", EntityKind::Param, "a b"),
            ("`metrics`.`val-loss` < 1", EntityKind::Metric, "val-loss"),
            ("`params`.lr = '0.1'", EntityKind::Param, "lr"),
            ("tags.`a``b` = 'x'", EntityKind::Tag, "a`b"),
            (
                "tags.\"say \"\"hi\"\"\" = 'x'",
                EntityKind::Tag,
                "say \"hi\"",
            ),
            // A key with a dot inside quotes stays whole.
            ("metrics.`a.b c` > 0", EntityKind::Metric, "a.b c"),
            // A quoted key may be empty, so that every key has a spelling.
            ("metrics.`` < 1", EntityKind::Metric, ""),
        ] {
            assert_eq!(one(input).ident, id(kind, key), "{input}");
        }
        // Special characters need quotes.
        err_at(
            "metrics.val-loss < 1",
            11,
            "keys with special characters must be quoted",
        );
        err_at(
            "metrics.val-1 < 1",
            11,
            "keys with special characters must be quoted",
        );
        err_at("metrics.a`b` < 1", 0, "quote the whole key");
        err_at("metrics`a` < 1", 0, "quote the whole key");
        err_at("`metrics``a` < 1", 0, "Invalid attribute key 'metrics`a'");
        err_at("metrics. < 1", 8, "Missing key after 'metrics.'");
        err_at("params.'a b' = 'x'", 0, "quote the whole key");
        err_at(
            "'status' = 'x'",
            0,
            "found the string 'status'; quote keys with",
        );
        err_at("metrics.a > 1 \"b\"", 14, "found \"b\"");
    }

    #[test]
    fn string_values_and_escapes() {
        assert_eq!(one("params.a = 'x'").value, s("x"));
        assert_eq!(one("params.a = \"x\"").value, s("x"));
        assert_eq!(one("params.a = ''").value, s(""));
        assert_eq!(one("params.a = 'it''s'").value, s("it's"));
        assert_eq!(one("params.a = \"say \"\"hi\"\"\"").value, s("say \"hi\""));
        assert_eq!(one("params.a = 'say \"hi\"'").value, s("say \"hi\""));
        assert_eq!(one("params.a = 'C:\\dir\\'").value, s("C:\\dir\\"));
        assert_eq!(one("params.a = 'a AND b'").value, s("a AND b"));
        assert_eq!(one("params.a = 'ünï'").value, s("ünï"));
        err_at("params.a = 'abc", 11, "Unterminated string");
        err_at("params.a = \"abc", 11, "Unterminated string");
        err_at("params.`abc = 'x'", 7, "Unterminated quoted key");
        // A backslash does not escape: the string ends at the second quote.
        err_at("params.a = 'it\\'s'", 16, "found 's'");
    }

    #[test]
    fn param_and_tag_rules() {
        for prefix in ["params", "tags"] {
            for (op, c) in [
                ("=", Comparator::Eq),
                ("!=", Comparator::NotEq),
                ("LIKE", Comparator::Like),
                ("like", Comparator::Like),
                ("ILIKE", Comparator::ILike),
                ("iLike", Comparator::ILike),
            ] {
                let clause = one(&format!("{prefix}.k {op} 'v%'"));
                assert_eq!(clause.op, c);
                assert_eq!(clause.value, s("v%"));
            }
            let c = one(&format!("{prefix}.k IS NULL"));
            assert_eq!((c.op, c.value), (Comparator::IsNull, Literal::Null));
            let c = one(&format!("{prefix}.k is not null"));
            assert_eq!((c.op, c.value), (Comparator::IsNotNull, Literal::Null));
            let input = format!("{prefix}.k Is Not Null AND metrics.m > 0");
            let f = ok(&input);
            assert_eq!(
                &input[f.clauses[0].span.clone()],
                &input[..prefix.len() + 14]
            );
            err_at(
                &format!("{prefix}.k < 'v'"),
                prefix.len() + 3,
                "Invalid comparator '<'",
            );
            err_at(
                &format!("{prefix}.k IN ('v')"),
                prefix.len() + 3,
                "Invalid comparator 'IN'",
            );
        }
        let e = err_at(
            "params.lr = 0.1",
            12,
            "Expected a quoted string value for parameter 'lr', found 0.1",
        );
        assert!(e.expected.contains("quotes"));
        err_at(
            "tags.t = abc",
            9,
            "Expected a quoted string value for tag 't', found abc",
        );
        err_at("tags.t = `abc`", 9, "found `abc`");
        err_at("tags.t = NULL", 9, "use IS NULL");
        err_at("tags.t IS 'x'", 10, "Expected NULL or NOT NULL after IS");
        err_at("tags.t IS NOT 'x'", 14, "Expected NULL after IS NOT");
        err_at("tags.t IS NULL 'x'", 15, "Expected AND or end of input");
    }

    #[test]
    fn metric_rules() {
        let e = err_at(
            "metrics.rmse < 'abc'",
            15,
            "Expected numeric value type for metric 'rmse', found 'abc'",
        );
        assert_eq!(e.expected, NUMBER_EXPECTED);
        err_at("metrics.rmse < abc", 15, "found abc");
        err_at(
            "metrics.rmse LIKE '1'",
            13,
            "Invalid comparator 'LIKE' for metric 'rmse'",
        );
        err_at("metrics.rmse IS NULL", 13, "Invalid comparator 'IS NULL'");
        err_at("metrics.rmse IN ('1')", 13, "Invalid comparator 'IN'");
        let e = err("metrics.rmse ILIKE '1'");
        assert_eq!(e.expected, "one of =, !=, <, <=, >, >=");
    }

    #[test]
    fn string_attribute_rules() {
        for key in ["status", "run_name", "user_id", "artifact_uri", "run_id"] {
            for op in ["=", "!=", "LIKE", "ILIKE"] {
                assert_eq!(one(&format!("{key} {op} 'x'")).value, s("x"));
            }
            err_at(
                &format!("{key} > 'x'"),
                key.len() + 1,
                "Invalid comparator '>'",
            );
            err_at(
                &format!("{key} = 1"),
                key.len() + 3,
                "Expected a quoted string value",
            );
        }
        err_at(
            "status IN ('FAILED')",
            7,
            "Only the 'run_id' attribute supports IN and NOT IN",
        );
        err_at(
            "attributes.status NOT IN ('FAILED')",
            18,
            "Only the 'run_id'",
        );
        err_at(
            "params.p IN ('a')",
            9,
            "only supported for attributes.run_id",
        );
    }

    #[test]
    fn in_lists() {
        let c = one("attributes.run_id IN ('a', \"b\",'c')");
        assert_eq!(c.op, Comparator::In);
        assert_eq!(
            c.value,
            Literal::List(vec!["a".into(), "b".into(), "c".into()])
        );
        let c = one("run_id not in ('a')");
        assert_eq!(c.op, Comparator::NotIn);
        assert_eq!(c.value, Literal::List(vec!["a".into()]));
        let input = "run_id NOT IN ('a','b') AND metrics.m > 1";
        assert_eq!(
            &input[ok(input).clauses[0].span.clone()],
            "run_id NOT IN ('a','b')"
        );
        for key in DATASET_KEYS {
            let c = one(&format!("datasets.{key} IN ('x', 'y')"));
            assert_eq!(c.ident, id(EntityKind::Dataset, key));
        }
        err_at("run_id IN ()", 11, "must not be empty");
        err_at(
            "run_id IN (1, 2)",
            11,
            "Expected a quoted string in the list after IN, found '1'",
        );
        err_at(
            "run_id IN ('a',)",
            15,
            "Expected a quoted string in the list",
        );
        err_at(
            "run_id IN ('a' 'b')",
            15,
            "Expected ',' or ')' in the list after IN, found 'b'",
        );
        err_at("run_id IN ('a'", 14, "found end of input");
        err_at("run_id IN 'a'", 10, "Expected '(' after IN");
        err_at("run_id = ('a')", 9, "only allowed after IN or NOT IN");
        err_at("run_id NOT LIKE 'a'", 11, "Expected IN after NOT");
    }

    #[test]
    fn time_attributes() {
        let c = one("start_time >= 1700000000000");
        assert_eq!(c.value, Literal::Number(1.7e12));
        assert_eq!(one("end_time < 1e3").value, Literal::Number(1000.0));
        err_at(
            "end_time < 1.5",
            11,
            "Expected an integer value for attribute 'end_time'",
        );
        err_at("start_time = '5'", 13, "found '5'");
        err_at(
            "created LIKE '5'",
            8,
            "Invalid comparator 'LIKE' for attribute 'start_time'",
        );
    }

    #[test]
    fn dataset_rules() {
        let c = one("datasets.name = 'train'");
        assert_eq!((c.op, c.value), (Comparator::Eq, s("train")));
        assert_eq!(one("dataset.context ILIKE 'TR%'").op, Comparator::ILike);
        err_at("datasets.size = 'x'", 9, "Invalid dataset key 'size'");
        err_at("datasets.name > 'x'", 14, "Invalid comparator '>'");
        err_at(
            "datasets.name = 3",
            16,
            "Expected a quoted string value for dataset 'name'",
        );
        err_at("datasets.name IS NULL", 14, "Invalid comparator 'IS NULL'");
    }

    #[test]
    fn rejected_connectives() {
        let e = err_at(
            "metrics.a > 1 OR metrics.b > 2",
            14,
            "Invalid clause(s) in filter string: 'OR'",
        );
        assert_eq!(e.expected, "AND or end of input");
        err_at("metrics.a > 1 or metrics.b > 2", 14, "'or'");
        err_at("NOT metrics.a > 1", 0, "'NOT'. NOT is only supported");
        err_at("metrics.a > 1 AND not params.b = 'x'", 18, "'not'");
        err_at("(metrics.a > 1)", 0, "'('. Parentheses");
        err_at("metrics.a > 1 AND (params.b = 'x')", 18, "Parentheses");
        err_at("metrics.a > 1)", 13, "')'. Parentheses");
        err_at("metrics.a > 1 AND", 17, "Expected a comparison after AND");
        err_at(
            "metrics.a > 1 AND AND metrics.b > 1",
            18,
            "'AND'. Expected a comparison",
        );
        err_at("AND metrics.a > 1", 0, "'AND'");
        err_at("OR", 0, "'OR'");
        err_at(
            "metrics.a > 1 metrics.b > 2",
            14,
            "Expected AND or end of input",
        );
        err_at(
            "metrics.a > 1; DROP TABLE runs",
            13,
            "Expected AND or end of input after a comparison, found ';'",
        );
    }

    #[test]
    fn operator_errors() {
        let e = err_at(
            "metrics.a ~ 1",
            10,
            "Expected a comparison operator after 'metrics.a', found",
        );
        assert!(e.expected.starts_with("a comparison operator (=, !=, <, <=, >, >=, LIKE, ILIKE, IN, NOT IN, IS NULL, IS NOT NULL)"));
        err_at("metrics.a", 9, "found end of input");
        err_at("metrics.a 1", 10, "found '1'");
        err_at("metrics.a == 1", 10, "'==' is not an operator");
        err_at("metrics.a <> 1", 10, "use '!='");
        err_at("metrics.a ! 1", 10, "found '!'; did you mean '!='?");
        err_at("metrics.a~1", 9, "found '~'");
        assert!(!err("metrics.a~1").message.contains("quoted"));
        err_at(
            "metrics.a >",
            11,
            "Expected a value after >, found end of input",
        );
        err_at("metrics.a > AND", 12, "found AND");
        err_at("= 1", 0, "Expected an identifier, found '='");
        err_at("1 = 1", 0, "Expected an identifier");
    }

    #[test]
    fn errors_report_first_problem_in_order() {
        // The semantic error in the first clause wins over the lexical error later on.
        err_at(
            "foo.a = 'x' AND metrics.b > 'unterminated",
            0,
            "Invalid entity type",
        );
    }

    #[test]
    fn error_positions_are_char_boundaries() {
        let input = "tags.ü = 'x' AND status ¬";
        let e = err_at(input, input.find('¬').unwrap(), "found '¬'");
        assert!(e.input.is_char_boundary(e.position));
        let e = err_at("metrics.m > ¬", 12, "Expected a value after >, found '¬'");
        assert!(e.input.is_char_boundary(e.position));
    }

    #[test]
    fn filter_error_is_a_std_error() {
        fn assert_error<E: std::error::Error + Send + Sync + 'static>(_: &E) {}
        let e = err("OR");
        assert_error(&e);
        assert!(std::error::Error::source(&e).is_none());
    }

    #[test]
    fn filter_error_new_clamps_position() {
        assert_eq!(FilterError::new("é", 1, "m", "x").position, 0);
        assert_eq!(FilterError::new("ab", 10, "m", "x").position, 2);
        let e = FilterError::new("", 0, "Empty", "");
        assert_eq!(e.to_string(), "Empty\n |\n | \n | ^");
    }

    #[test]
    fn error_display_has_caret_and_expected() {
        let e = err("metrics.rmse < 'abc'");
        assert_eq!(
            e.to_string(),
            "Expected numeric value type for metric 'rmse', found 'abc'\n |\n \
             | metrics.rmse < 'abc'\n |                ^\nexpected: a number, e.g. 0.5, -3 or 1e-4"
        );
        // Caret column counts characters, not bytes, and only the offending line is shown.
        let e = err("tags.é = 'x'\nAND metrics.m > 'y'");
        assert_eq!(
            e.to_string().lines().skip(2).take(2).collect::<Vec<_>>(),
            ["2 | AND metrics.m > 'y'", "  |                 ^"]
        );
        let e = err("tags.é = 'x' OR");
        let shown: Vec<String> = e.to_string().lines().map(str::to_owned).collect();
        assert_eq!(shown[2], " | tags.é = 'x' OR");
        assert_eq!(shown[3], " |              ^");
        // End of input.
        let e = err("metrics.m >");
        assert!(
            e.to_string()
                .contains("\n | metrics.m >\n |            ^\n")
        );
    }

    #[test]
    fn display_renders_parseable_syntax() {
        let input = "metrics.`my metric` >= -1.5e-7 and params.\"a'b\" LIKE 'it''s' AND \
                     Created < 5 AND `run name` = 'r' AND tags.x IS NOT NULL AND \
                     run_id NOT IN ('a', 'b') AND datasets.name = 'd' AND tags.`a``b` = ''";
        let f = ok(input);
        let rendered = f.to_string();
        assert_eq!(
            rendered,
            "metrics.`my metric` >= -1.5e-7 AND params.`a'b` LIKE 'it''s' AND \
             attributes.start_time < 5.0 AND attributes.run_name = 'r' AND tags.x IS NOT NULL \
             AND attributes.run_id NOT IN ('a', 'b') AND datasets.name = 'd' AND tags.`a``b` = ''"
        );
        let again = ok(&rendered);
        assert_eq!(again.clauses.len(), f.clauses.len());
        for (a, b) in again.clauses.iter().zip(&f.clauses) {
            assert_eq!((&a.ident, a.op, &a.value), (&b.ident, b.op, &b.value));
            assert_eq!(rendered[a.span.clone()], a.to_string());
        }
    }

    // ----- order_by -------------------------------------------------------------------------

    #[test]
    fn order_by() {
        let o = parse_order_by("metrics.rmse").unwrap();
        assert_eq!(
            (o.ident, o.ascending),
            (id(EntityKind::Metric, "rmse"), true)
        );
        for (input, kind, key, asc) in [
            ("metrics.rmse ASC", EntityKind::Metric, "rmse", true),
            ("metrics.rmse desc", EntityKind::Metric, "rmse", false),
            ("params.lr Desc", EntityKind::Param, "lr", false),
            (
                "tags.mlflow.runName asc",
                EntityKind::Tag,
                "mlflow.runName",
                true,
            ),
            (
                "start_time DESC",
                EntityKind::Attribute,
                "start_time",
                false,
            ),
            ("Created", EntityKind::Attribute, "start_time", true),
            ("`Run Name` DESC", EntityKind::Attribute, "run_name", false),
            (
                "`metrics`.`my metric` DESC",
                EntityKind::Metric,
                "my metric",
                false,
            ),
            (
                "  metrics.\"a b\"   DESC  ",
                EntityKind::Metric,
                "a b",
                false,
            ),
        ] {
            let o = parse_order_by(input).unwrap();
            assert_eq!((o.ident, o.ascending), (id(kind, key), asc), "{input}");
        }
        let e = parse_order_by("metrics.rmse up").unwrap_err();
        assert_eq!(e.position, 13);
        assert_eq!(
            e.message,
            "Invalid ordering key in order_by clause 'metrics.rmse up'."
        );
        assert_eq!(e.expected, "ASC or DESC");
        let e = parse_order_by("").unwrap_err();
        assert_eq!(
            e.message,
            "Invalid order_by clause ''. Could not be parsed."
        );
        assert_eq!(e.position, 0);
        assert!(parse_order_by("metrics.a DESC ASC").unwrap_err().position == 15);
        assert!(parse_order_by("metrics.a, metrics.b").unwrap_err().position == 9);
        assert!(parse_order_by("metrics.a = 1").is_err());
        assert!(
            parse_order_by("DESC")
                .unwrap_err()
                .message
                .contains("Invalid attribute key 'DESC'")
        );
        assert!(
            parse_order_by("foo.a")
                .unwrap_err()
                .message
                .contains("Invalid entity type")
        );
        assert!(
            parse_order_by("datasets.name")
                .unwrap_err()
                .message
                .contains("dataset")
        );
        assert!(parse_order_by("status").is_ok());
        assert!(parse_order_by("nope").is_err());
        assert_eq!(
            parse_order_by("metrics.`a b` DESC").unwrap().to_string(),
            "metrics.`a b` DESC"
        );
    }

    #[test]
    fn order_by_list_rejects_duplicates() {
        let list = parse_order_by_list(&["metrics.a DESC", "params.a", "start_time"]).unwrap();
        assert_eq!(list.len(), 3);
        assert!(parse_order_by_list::<&str>(&[]).unwrap().is_empty());
        let e = parse_order_by_list(&["created DESC", "metrics.a", "start_time ASC"]).unwrap_err();
        assert!(
            e.message.starts_with("order_by[2]: duplicate order_by key"),
            "{}",
            e.message
        );
        assert_eq!(e.input, "start_time ASC");
        let e = parse_order_by_list(&["metrics.a".to_owned(), "metric.a".to_owned()]).unwrap_err();
        assert!(e.message.contains("duplicate"));
        // Same key in different namespaces is fine.
        assert!(parse_order_by_list(&["metrics.a", "params.a", "tags.a"]).is_ok());
        let e = parse_order_by_list(&["metrics.a", "metrics.b sideways"]).unwrap_err();
        assert!(e.message.starts_with("order_by[1]: Invalid ordering key"));
        assert_eq!(e.position, 10);
    }

    // ----- experiments ----------------------------------------------------------------------

    fn exp_one(input: &str) -> ExperimentClause {
        let f = parse_experiment_filter(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
        assert_eq!(f.clauses.len(), 1);
        f.clauses.into_iter().next().unwrap()
    }

    fn exp_err(input: &str, position: usize, needle: &str) {
        let e = parse_experiment_filter(input).unwrap_err();
        check_err(input, e, position, needle);
    }

    #[test]
    fn experiment_filters() {
        use ExperimentAttribute as A;
        let c = exp_one("name LIKE 'sweep-%'");
        assert_eq!(
            (c.ident, c.op, c.value),
            (
                ExperimentKey::Attribute(A::Name),
                Comparator::Like,
                s("sweep-%")
            )
        );
        let c = exp_one("attribute.name = 'x'");
        assert_eq!(c.ident, ExperimentKey::Attribute(A::Name));
        let c = exp_one("attributes.experiment_id IN ('1', '2')");
        assert_eq!(c.value, Literal::List(vec!["1".into(), "2".into()]));
        assert_eq!(exp_one("experiment_id not in ('0')").op, Comparator::NotIn);
        assert_eq!(exp_one("experiment_id = '3'").value, s("3"));
        assert_eq!(
            exp_one("creation_time > 1700000000000").ident,
            ExperimentKey::Attribute(A::CreationTime)
        );
        assert_eq!(exp_one("last_update_time <= 5").op, Comparator::Le);
        let c = exp_one("tags.`team name` ILIKE '%ml%'");
        assert_eq!(c.ident, ExperimentKey::Tag("team name".into()));
        assert_eq!(exp_one("tag.owner IS NULL").op, Comparator::IsNull);
        let input = "name = 'a' and tags.k = 'v'";
        let f = parse_experiment_filter(input).unwrap();
        assert_eq!(&input[f.clauses[1].span.clone()], "tags.k = 'v'");
        assert_eq!(f.to_string(), "attributes.name = 'a' AND tags.k = 'v'");

        exp_err(
            "metrics.a > 1",
            0,
            "Invalid entity type 'metrics'. Valid values for experiments are attribute, tag",
        );
        exp_err("status = 'x'", 0, "Invalid attribute key 'status'");
        exp_err("name IN ('a')", 5, "only supported for experiment_id");
        exp_err(
            "experiment_id LIKE '1%'",
            14,
            "Invalid comparator 'LIKE' for experiment attribute 'experiment_id'",
        );
        exp_err("experiment_id = 1", 16, "Expected a quoted string value");
        exp_err(
            "creation_time > 'yesterday'",
            16,
            "Expected an integer value",
        );
        exp_err("creation_time > 1.5", 16, "Expected an integer value");
        exp_err(
            "tags.k = 1",
            9,
            "Expected a quoted string value for tag 'k'",
        );
        exp_err("name = 'a' OR name = 'b'", 11, "'OR'");
    }

    #[test]
    fn experiment_order_by() {
        use ExperimentAttribute as A;
        let o = parse_experiment_order_by("creation_time DESC").unwrap();
        assert_eq!((o.ident, o.ascending), (A::CreationTime, false));
        let o = parse_experiment_order_by("attributes.name").unwrap();
        assert_eq!((o.ident, o.ascending), (A::Name, true));
        assert_eq!(
            parse_experiment_order_by("experiment_id asc")
                .unwrap()
                .ident,
            A::ExperimentId
        );
        assert!(
            parse_experiment_order_by("tags.k")
                .unwrap_err()
                .message
                .contains("Invalid order_by entity: tag")
        );
        assert!(
            parse_experiment_order_by("status")
                .unwrap_err()
                .message
                .contains("Invalid attribute key")
        );
        assert!(
            parse_experiment_order_by("name upward")
                .unwrap_err()
                .message
                .contains("Invalid ordering key")
        );
        let list = parse_experiment_order_by_list(&["name", "last_update_time DESC"]).unwrap();
        assert_eq!(list[1].to_string(), "last_update_time DESC");
        assert!(parse_experiment_order_by_list(&["name", "attribute.name DESC"]).is_err());
    }
}
