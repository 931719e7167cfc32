//! MLflow search filter language: AST and parser.
//!
//! Placeholder with the agreed public AST; the real parser lands from branch `filter`.

/// Which kind of entity an identifier refers to.
#[derive(Debug, Clone, PartialEq)]
pub enum EntityKind {
    /// `metrics.<key>`
    Metric,
    /// `params.<key>`
    Param,
    /// `tags.<key>`
    Tag,
    /// `attributes.<key>`
    Attribute,
    /// `datasets.<key>`
    Dataset,
}

/// An identifier such as `metrics.loss`.
#[derive(Debug, Clone, PartialEq)]
pub struct Identifier {
    /// Entity kind.
    pub kind: EntityKind,
    /// Key (attribute keys normalized).
    pub key: String,
}

/// Comparison operator.
#[derive(Debug, Clone, PartialEq)]
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
    /// `LIKE`
    Like,
    /// `ILIKE`
    ILike,
    /// `IN`
    In,
    /// `NOT IN`
    NotIn,
    /// `IS NULL`
    IsNull,
    /// `IS NOT NULL`
    IsNotNull,
}

/// A literal value on the right of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// A number.
    Number(f64),
    /// A quoted string.
    Str(String),
    /// A parenthesized list of strings.
    List(Vec<String>),
    /// No value (`IS NULL`).
    Null,
}

/// One comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct Clause {
    /// Left-hand identifier.
    pub ident: Identifier,
    /// Operator.
    pub op: Comparator,
    /// Right-hand value.
    pub value: Literal,
    /// Byte span in the input.
    pub span: std::ops::Range<usize>,
}

/// AND-joined clauses.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    /// The clauses.
    pub clauses: Vec<Clause>,
}

/// One order_by entry.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderBy {
    /// Sort key.
    pub ident: Identifier,
    /// Ascending?
    pub ascending: bool,
}

/// Experiment search filter.
#[derive(Debug, Clone, PartialEq)]
pub struct ExperimentFilter {
    /// The clauses.
    pub clauses: Vec<Clause>,
}

/// A filter parse error.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message} (at position {position})")]
pub struct FilterError {
    /// What went wrong.
    pub message: String,
    /// Byte position.
    pub position: usize,
}

/// Parse a run filter (stub).
pub fn parse_filter(input: &str) -> Result<Filter, FilterError> {
    if input.trim().is_empty() {
        return Ok(Filter { clauses: vec![] });
    }
    Err(FilterError {
        message: "filter parsing is not implemented yet".into(),
        position: 0,
    })
}

/// Parse order_by entries (stub).
pub fn parse_order_by_list<S: AsRef<str>>(inputs: &[S]) -> Result<Vec<OrderBy>, FilterError> {
    if inputs.is_empty() {
        return Ok(vec![]);
    }
    Err(FilterError {
        message: "order_by parsing is not implemented yet".into(),
        position: 0,
    })
}

/// Parse an experiment filter (stub).
pub fn parse_experiment_filter(input: &str) -> Result<ExperimentFilter, FilterError> {
    if input.trim().is_empty() {
        return Ok(ExperimentFilter { clauses: vec![] });
    }
    Err(FilterError {
        message: "experiment filter parsing is not implemented yet".into(),
        position: 0,
    })
}
