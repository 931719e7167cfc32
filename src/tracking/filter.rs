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
//! value      := number | 'string' | "string" | "(" string ("," string)* ")"
//! number     := -?(digits[.digits*] | .digits)([eE][+-]?digits)?
//! ```
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
//! that is not an integer are errors (MLflow accepts the first and fails with a 500 on the
//! second); ordering by a dataset key is rejected; duplicate `order_by` keys are a normal
//! (400-style) error.
//!
//! # Experiments
//!
//! [`parse_experiment_filter`] accepts the same syntax with the keys `name`, `experiment_id`
//! (`= != IN NOT IN`, quoted strings), `creation_time`, `last_update_time` (integers) and
//! `tags.<key>` (as run tags). The prefixes `attribute`/`attributes` and `tag`/`tags` are
//! accepted.
//!
//! # Errors
//!
//! Every error is a [`FilterError`] with the byte position of the offending token, a message
//! that says what was wrong, and a description of what would have been accepted there.

use std::collections::HashSet;
use std::fmt;
use std::ops::Range;

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

/// One comparison of a run filter.
#[derive(Debug, Clone, PartialEq)]
pub struct Clause {
    /// The left-hand side.
    pub ident: Identifier,
    /// The operator.
    pub op: Comparator,
    /// The right-hand side ([`Literal::Null`] for `IS [NOT] NULL`).
    pub value: Literal,
    /// Byte span of the whole clause in the input.
    pub span: Range<usize>,
}

impl fmt::Display for Clause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_comparison(f, &self.ident, self.op, &self.value)
    }
}

/// A parsed run filter: clauses joined by `AND`. Empty means "match everything".
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Filter {
    /// The clauses, in input order.
    pub clauses: Vec<Clause>,
}

impl Filter {
    /// True when the filter has no clauses.
    pub fn is_empty(&self) -> bool {
        self.clauses.is_empty()
    }
}

impl fmt::Display for Filter {
    /// Renders the clauses joined by ` AND `; [`parse_filter`] parses the result back to an
    /// equal filter (spans aside).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_joined(f, &self.clauses)
    }
}

/// One `order_by` entry of a run search.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderBy {
    /// What to order by (never a dataset key).
    pub ident: Identifier,
    /// `ASC` (the default) or `DESC`.
    pub ascending: bool,
}

impl fmt::Display for OrderBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.ident, direction(self.ascending))
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
#[derive(Debug, Clone, PartialEq)]
pub struct ExperimentClause {
    /// The left-hand side.
    pub key: ExperimentKey,
    /// The operator.
    pub op: Comparator,
    /// The right-hand side ([`Literal::Null`] for `IS [NOT] NULL`).
    pub value: Literal,
    /// Byte span of the whole clause in the input.
    pub span: Range<usize>,
}

impl fmt::Display for ExperimentClause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_comparison(f, &self.key, self.op, &self.value)
    }
}

/// A parsed experiment filter: clauses joined by `AND`. Empty means "match everything".
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ExperimentFilter {
    /// The clauses, in input order.
    pub clauses: Vec<ExperimentClause>,
}

impl fmt::Display for ExperimentFilter {
    /// Renders the clauses joined by ` AND `; [`parse_experiment_filter`] parses it back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_joined(f, &self.clauses)
    }
}

/// One `order_by` entry of an experiment search (attributes only, as in MLflow).
#[derive(Debug, Clone, PartialEq)]
pub struct ExperimentOrderBy {
    /// What to order by.
    pub key: ExperimentAttribute,
    /// `ASC` (the default) or `DESC`.
    pub ascending: bool,
}

impl fmt::Display for ExperimentOrderBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.key, direction(self.ascending))
    }
}

// ---------------------------------------------------------------------------------------------
// Rendering helpers
// ---------------------------------------------------------------------------------------------

fn direction(ascending: bool) -> &'static str {
    if ascending { "ASC" } else { "DESC" }
}

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

fn write_comparison(
    f: &mut fmt::Formatter<'_>,
    lhs: &dyn fmt::Display,
    op: Comparator,
    value: &Literal,
) -> fmt::Result {
    if op.takes_no_value() {
        write!(f, "{lhs} {op}")
    } else {
        write!(f, "{lhs} {op} {value}")
    }
}

fn write_joined<T: fmt::Display>(f: &mut fmt::Formatter<'_>, items: &[T]) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(" AND ")?;
        }
        write!(f, "{item}")?;
    }
    Ok(())
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
    fn new(
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
        let input = self.input.as_str();
        let pos = self.position.min(input.len());
        let before = input.get(..pos).unwrap_or("");
        let after = input.get(pos..).unwrap_or("");
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let line_end = pos + after.find('\n').unwrap_or(after.len());
        let line = input.get(line_start..line_end).unwrap_or("");
        let column = input.get(line_start..pos).unwrap_or("").chars().count();
        let shown: String = line
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        write!(f, "\n  {}\n  {:column$}^", shown.trim_end(), "")?;
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
                    let hint = if c == '!' {
                        "unexpected character '!'; did you mean '!='?".to_owned()
                    } else {
                        format!("unexpected character '{}'", c.escape_debug())
                    };
                    return Err(self.err(
                        start,
                        hint,
                        "an identifier, a comparison operator, a quoted string, a number, \
                         '(', ')', ',' or AND",
                    ));
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

enum ValueKind {
    Number,
    Integer,
    Str,
}

/// What a resolved key accepts.
struct KeySpec {
    /// How the key is named in messages, e.g. `metric 'rmse'`.
    what: String,
    ops: &'static [Comparator],
    value: ValueKind,
    /// Extra explanation when `IN`/`NOT IN` is used where it is not allowed.
    list_note: Option<&'static str>,
}

const NUMERIC_OPS: &[Comparator] = &[
    Comparator::Eq,
    Comparator::NotEq,
    Comparator::Lt,
    Comparator::Le,
    Comparator::Gt,
    Comparator::Ge,
];
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

    /// `'<token text>'`, or `end of input`.
    fn describe(&self, token: &Token) -> String {
        match token.tok {
            Tok::Eof => "end of input".to_owned(),
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
            [
                Token {
                    tok: Tok::Quoted(Quote::Backtick | Quote::Double, q),
                    span: q_span,
                },
            ] if key_bare.is_empty() => (q.clone(), q_span.clone()),
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
                return Err(self.err(
                    start,
                    format!(
                        "Expected a comparison operator after '{lhs}', found {}",
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
    fn parse_clause<S: Schema>(
        &mut self,
        schema: &S,
    ) -> Result<(S::Key, Comparator, Literal, Range<usize>), FilterError> {
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
        Ok((key, op, value, start..self.last_end))
    }

    /// `clause (AND clause)*`, or nothing at all for blank input.
    fn parse_filter<S: Schema>(
        &mut self,
        schema: &S,
    ) -> Result<Vec<(S::Key, Comparator, Literal, Range<usize>)>, FilterError> {
        let mut clauses = Vec::new();
        if self.peek()?.tok == Tok::Eof {
            return Ok(clauses);
        }
        loop {
            clauses.push(self.parse_clause(schema)?);
            let token = self.bump()?;
            match &token.tok {
                Tok::Eof => return Ok(clauses),
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
    fn parse_order_by<S: Schema>(&mut self, schema: &S) -> Result<(S::Key, bool), FilterError> {
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
        let (key, _) = schema.resolve(self.src, &id)?;
        let token = self.bump()?;
        let ascending = match &token.tok {
            Tok::Eof => return Ok((key, true)),
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
        Ok((key, ascending))
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
        (ValueKind::Number, RawValue::Number(n)) => Ok(Literal::Number(n)),
        (ValueKind::Integer, RawValue::Number(n)) if n.fract() == 0.0 && n.abs() < 9.2e18 => {
            Ok(Literal::Number(n))
        }
        (ValueKind::Str, RawValue::Str(s)) => Ok(Literal::Str(s)),
        (ValueKind::Number, _) => Err(p.err(
            span.start,
            format!(
                "Expected numeric value type for {}, found {}",
                spec.what, found
            ),
            NUMBER_EXPECTED,
        )),
        (ValueKind::Integer, _) => Err(p.err(
            span.start,
            format!(
                "Expected an integer value for {}, found {}",
                spec.what, found
            ),
            "an integer number of milliseconds since the Unix epoch, e.g. 1700000000000",
        )),
        (ValueKind::Str, _) => Err(p.err(
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
                spec(format!("metric '{key}'"), NUMERIC_OPS, ValueKind::Number),
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
                        ValueKind::Str,
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
                        &format!(
                            "one of {} (aliases: created, Created, `run name`, `Run name`, \
                             `Run Name`)",
                            RUN_ATTRIBUTE_KEYS.join(", ")
                        ),
                    ));
                };
                let what = format!("attribute '{norm}'");
                let spec = match norm {
                    "start_time" | "end_time" => spec(what, NUMERIC_OPS, ValueKind::Integer),
                    "run_id" => spec(what, LIST_ATTR_OPS, ValueKind::Str),
                    _ => KeySpec {
                        list_note: Some("Only the 'run_id' attribute supports IN and NOT IN"),
                        ..spec(what, STRING_ATTR_OPS, ValueKind::Str)
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
                    spec(format!("dataset '{norm}'"), LIST_ATTR_OPS, ValueKind::Str),
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
                    value: ValueKind::Str,
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
                value: ValueKind::Str,
                list_note: Some("IN and NOT IN are only supported for experiment_id"),
            },
            ExperimentAttribute::ExperimentId => KeySpec {
                what,
                ops: EXPERIMENT_ID_OPS,
                value: ValueKind::Str,
                list_note: None,
            },
            ExperimentAttribute::CreationTime | ExperimentAttribute::LastUpdateTime => KeySpec {
                what,
                ops: NUMERIC_OPS,
                value: ValueKind::Integer,
                list_note: None,
            },
        };
        Ok((ExperimentKey::Attribute(attr), spec))
    }
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
    let clauses = Parser::new(input).parse_filter(&RunSchema { order_by: false })?;
    Ok(Filter {
        clauses: clauses
            .into_iter()
            .map(|(ident, op, value, span)| Clause {
                ident,
                op,
                value,
                span,
            })
            .collect(),
    })
}

/// Parse one run `order_by` entry: `<identifier> [ASC|DESC]` (direction case-insensitive,
/// ascending by default). Dataset keys are rejected.
pub fn parse_order_by(input: &str) -> Result<OrderBy, FilterError> {
    let (ident, ascending) = Parser::new(input).parse_order_by(&RunSchema { order_by: true })?;
    Ok(OrderBy { ident, ascending })
}

/// Parse the `order_by` list of a run search, rejecting two entries with the same key
/// (after alias normalization, so `created` and `start_time` clash).
///
/// An error names the entry (`order_by[i]`) in its message; its `input` and `position` refer to
/// that entry.
pub fn parse_order_by_list<S: AsRef<str>>(inputs: &[S]) -> Result<Vec<OrderBy>, FilterError> {
    parse_list(inputs, parse_order_by, |o: &OrderBy| o.ident.clone())
}

/// Parse an experiment-search filter string (the `filter` field of `experiments/search`).
///
/// Keys: `name`, `experiment_id`, `creation_time`, `last_update_time` (optionally prefixed
/// with `attribute.`/`attributes.`) and `tags.<key>`/`tag.<key>`.
pub fn parse_experiment_filter(input: &str) -> Result<ExperimentFilter, FilterError> {
    let clauses = Parser::new(input).parse_filter(&ExperimentSchema { order_by: false })?;
    Ok(ExperimentFilter {
        clauses: clauses
            .into_iter()
            .map(|(key, op, value, span)| ExperimentClause {
                key,
                op,
                value,
                span,
            })
            .collect(),
    })
}

/// Parse one experiment `order_by` entry: `<attribute> [ASC|DESC]`, where the attribute is
/// `name`, `experiment_id`, `creation_time` or `last_update_time`.
pub fn parse_experiment_order_by(input: &str) -> Result<ExperimentOrderBy, FilterError> {
    let (key, ascending) =
        Parser::new(input).parse_order_by(&ExperimentSchema { order_by: true })?;
    match key {
        ExperimentKey::Attribute(key) => Ok(ExperimentOrderBy { key, ascending }),
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
    parse_list(
        inputs,
        parse_experiment_order_by,
        |o: &ExperimentOrderBy| o.key,
    )
}

fn parse_list<S, T, K>(
    inputs: &[S],
    parse: impl Fn(&str) -> Result<T, FilterError>,
    key: impl Fn(&T) -> K,
) -> Result<Vec<T>, FilterError>
where
    S: AsRef<str>,
    T: fmt::Display,
    K: std::hash::Hash + Eq,
{
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(inputs.len());
    for (i, input) in inputs.iter().enumerate() {
        let input = input.as_ref();
        let entry = parse(input).map_err(|mut e| {
            e.message = format!("order_by[{i}]: {}", e.message);
            e
        })?;
        if !seen.insert(key(&entry)) {
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
