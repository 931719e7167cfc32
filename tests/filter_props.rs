//! Property tests for the search filter language (`hyperflow::tracking::filter`).
//!
//! * The parsers never panic, on arbitrary strings and on strings glued together from grammar
//!   fragments, and every error points at a char boundary within the input.
//! * Rendering a valid AST and parsing it back gives the same AST, and each parsed clause's span
//!   covers exactly that clause's rendering.

use hyperflow::tracking::filter::{
    Clause, Comparator, DATASET_KEYS, EntityKind, ExperimentAttribute, ExperimentClause,
    ExperimentFilter, ExperimentKey, ExperimentOrderBy, Filter, FilterError, Identifier, Literal,
    OrderBy, Ordered, Subject, parse_experiment_filter, parse_experiment_order_by, parse_filter,
    parse_order_by, parse_order_by_list,
};
use proptest::prelude::*;
use proptest::sample::select;

// ---------------------------------------------------------------------------------------------
// Never panic
// ---------------------------------------------------------------------------------------------

const FRAGMENTS: &[&str] = &[
    "metrics",
    "metric",
    "params",
    "param",
    "parameters",
    "tags",
    "tag",
    "attributes",
    "attr",
    "run",
    "datasets",
    "dataset",
    "foo",
    ".",
    "..",
    "rmse",
    "mlflow.parentRunId",
    "metrics.rmse",
    "params.lr",
    "tags.k",
    "`",
    "``",
    "`my metric`",
    "`metrics`",
    "\"",
    "\"a b\"",
    "\"\"",
    "'",
    "''",
    "'x'",
    "'it''s'",
    "'%a_'",
    "=",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "==",
    "<>",
    "!",
    "~",
    "LIKE",
    "ilike",
    "IN",
    "in",
    "NOT",
    "not",
    "IS",
    "is",
    "NULL",
    "null",
    "AND",
    "and",
    "OR",
    "or",
    "(",
    ")",
    ",",
    "-",
    "+",
    "1",
    "0",
    "-1.5e3",
    ".5",
    "-.5",
    "2.",
    "1e",
    "1e999",
    "1.2.3",
    "run_id",
    "status",
    "start_time",
    "end_time",
    "created",
    "Created",
    "`Run Name`",
    "\"run name\"",
    "name",
    "experiment_id",
    "creation_time",
    "last_update_time",
    "ASC",
    "desc",
    "é",
    "¬",
    "日本",
    "\u{0}",
    ";",
    "\\",
    "\n",
    "\t",
    "\u{3000}",
];

fn fragment_string() -> impl Strategy<Value = String> {
    prop::collection::vec(
        (select(FRAGMENTS), select(&["", " ", "  ", "\n"][..])),
        0..14,
    )
    .prop_map(|parts| {
        parts
            .into_iter()
            .flat_map(|(frag, sep)| [frag, sep])
            .collect()
    })
}

/// Clause-shaped strings: mostly valid pieces, with invalid ones mixed in.
fn structured_string() -> impl Strategy<Value = String> {
    const IDENTS: &[&str] = &[
        "metrics.rmse",
        "metric.`my m`",
        "params.lr",
        "params.\"a b\"",
        "tags.mlflow.parentRunId",
        "`tags`.x",
        "status",
        "run_id",
        "attributes.start_time",
        "created",
        "`Run Name`",
        "datasets.name",
        "name",
        "experiment_id",
        "creation_time",
        "tags.k",
        "tag.`a``b`",
        "foo.x",
        "metrics.",
        "'status'",
    ];
    const OPS: &[&str] = &[
        "=",
        "!=",
        "<",
        "<=",
        ">",
        ">=",
        "LIKE",
        "ilike",
        "IN",
        "not in",
        "IS NULL",
        "is not null",
        "==",
        "~",
        "",
    ];
    const VALUES: &[&str] = &[
        "1",
        "-2.5e3",
        ".5",
        "1700000000000",
        "'x'",
        "\"y\"",
        "'it''s'",
        "('a', 'b')",
        "('a')",
        "()",
        "abc",
        "NULL",
        "",
        "'unterminated",
        "1e999",
        "'%ü_'",
    ];
    let conj = prop_oneof![
        8 => Just(" AND "),
        2 => Just(" and "),
        1 => Just(" OR "),
        1 => Just(" "),
        1 => Just(") AND ("),
    ];
    let direction = select(&[" ASC", " desc", "", "", " sideways", ","][..]);
    prop_oneof![
        prop::collection::vec((select(IDENTS), select(OPS), select(VALUES), conj), 1..4).prop_map(
            |clauses| {
                let mut out = String::new();
                for (i, (ident, op, value, conj)) in clauses.into_iter().enumerate() {
                    if i > 0 {
                        out.push_str(conj);
                    }
                    out.push_str(&format!("{ident} {op} {value}"));
                }
                out
            }
        ),
        (select(IDENTS), direction).prop_map(|(ident, dir)| format!("{ident}{dir}")),
    ]
}

fn arbitrary_input() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => structured_string(),
        3 => fragment_string(),
        1 => any::<String>(),
        1 => "\\PC{0,40}",
        // Mostly-valid filters with a random character spliced in.
        1 => (fragment_string(), any::<char>(), any::<prop::sample::Index>()).prop_map(
            |(s, c, at)| {
                let mut s = s;
                let boundaries: Vec<usize> =
                    (0..=s.len()).filter(|&i| s.is_char_boundary(i)).collect();
                s.insert(*at.get(&boundaries), c);
                s
            }
        ),
    ]
}

fn check_error(input: &str, e: &FilterError) -> Result<(), TestCaseError> {
    prop_assert!(
        e.position <= input.len(),
        "position {} > len {}",
        e.position,
        input.len()
    );
    prop_assert!(
        input.is_char_boundary(e.position),
        "position {} not on a char boundary",
        e.position
    );
    prop_assert_eq!(&e.input, input);
    prop_assert!(!e.message.is_empty());
    prop_assert!(!e.expected.is_empty());
    // Rendering must not panic either.
    let rendered = e.to_string();
    prop_assert!(rendered.starts_with(&e.message));
    Ok(())
}

fn check_span(input: &str, span: &std::ops::Range<usize>) -> Result<(), TestCaseError> {
    prop_assert!(span.start <= span.end && span.end <= input.len());
    prop_assert!(input.is_char_boundary(span.start) && input.is_char_boundary(span.end));
    Ok(())
}

/// Renders `filter`, parses it back with `parse`, and checks that the result equals `filter`
/// (equality ignores spans) and that each parsed clause's span covers exactly that clause's
/// rendering.
fn check_round_trip<K>(
    filter: &Filter<K>,
    parse: fn(&str) -> Result<Filter<K>, FilterError>,
) -> Result<(), TestCaseError>
where
    K: std::fmt::Display + std::fmt::Debug + PartialEq,
{
    let rendered = filter.to_string();
    let parsed = match parse(&rendered) {
        Ok(parsed) => parsed,
        Err(e) => return Err(TestCaseError::fail(format!("{rendered:?} failed: {e}"))),
    };
    prop_assert_eq!(&parsed, filter);
    for (p, original) in parsed.clauses.iter().zip(&filter.clauses) {
        let expected = original.to_string();
        prop_assert_eq!(rendered.get(p.span.clone()), Some(expected.as_str()));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn parse_filter_never_panics(input in arbitrary_input()) {
        match parse_filter(&input) {
            Ok(f) => {
                for c in &f.clauses {
                    check_span(&input, &c.span)?;
                }
                // Whatever parses renders to something that parses to the same thing.
                let rendered = f.to_string();
                let again = parse_filter(&rendered);
                prop_assert!(again.is_ok(), "{:?} rendered as {:?}: {:?}", input, rendered, again);
                if let Ok(again) = again {
                    prop_assert_eq!(&again, &f);
                }
            }
            Err(e) => check_error(&input, &e)?,
        }
    }

    #[test]
    fn parse_order_by_never_panics(input in arbitrary_input()) {
        match parse_order_by(&input) {
            Ok(o) => {
                prop_assert_ne!(o.ident.kind, EntityKind::Dataset);
                prop_assert_eq!(parse_order_by(&o.to_string()), Ok(o));
            }
            Err(e) => check_error(&input, &e)?,
        }
    }

    #[test]
    fn parse_experiment_filter_never_panics(input in arbitrary_input()) {
        match parse_experiment_filter(&input) {
            Ok(f) => {
                for c in &f.clauses {
                    check_span(&input, &c.span)?;
                }
                let rendered = f.to_string();
                let again = parse_experiment_filter(&rendered);
                prop_assert!(again.is_ok(), "{:?} rendered as {:?}: {:?}", input, rendered, again);
                if let Ok(again) = again {
                    prop_assert_eq!(&again, &f);
                }
            }
            Err(e) => check_error(&input, &e)?,
        }
    }

    #[test]
    fn parse_experiment_order_by_never_panics(input in arbitrary_input()) {
        match parse_experiment_order_by(&input) {
            Ok(o) => prop_assert_eq!(parse_experiment_order_by(&o.to_string()), Ok(o)),
            Err(e) => check_error(&input, &e)?,
        }
    }

    #[test]
    fn parse_order_by_list_never_panics(inputs in prop::collection::vec(arbitrary_input(), 0..4)) {
        if let Err(e) = parse_order_by_list(&inputs) {
            prop_assert!(inputs.contains(&e.input));
            check_error(&e.input.clone(), &e)?;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Round trip
// ---------------------------------------------------------------------------------------------

/// Keys: plain words, dotted words, and anything printable or not (quoted when rendered).
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z_][a-zA-Z0-9_]{0,8}",
        "[a-z]{1,6}(\\.[a-zA-Z]{1,6}){1,3}",
        "[ `\"'.a-z()=<>-]{1,8}",
        "\\PC{1,10}",
        "[\\n\\t\\\\é ]{1,4}",
    ]
}

fn string_value() -> impl Strategy<Value = String> {
    prop_oneof!["[a-z%_]{0,8}", "['\" `a]{0,6}", any::<String>(),]
}

fn finite() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>().prop_filter("finite", |n| n.is_finite()),
        (-1000i32..1000).prop_map(f64::from),
        Just(0.0),
        Just(-0.0),
        Just(f64::MAX),
        Just(f64::MIN_POSITIVE),
        Just(5e-324),
    ]
}

fn millis() -> impl Strategy<Value = f64> {
    (-(1i64 << 52)..(1i64 << 52)).prop_map(|i| i as f64)
}

/// The comparators of numbers, in the order [`ordered`] applies them.
const NUMERIC: [Comparator; 6] = Comparator::NUMERIC;

fn numeric_op() -> impl Strategy<Value = Comparator> {
    select(NUMERIC.to_vec())
}

fn like_op() -> impl Strategy<Value = Comparator> {
    select(vec![
        Comparator::Eq,
        Comparator::NotEq,
        Comparator::Like,
        Comparator::ILike,
    ])
}

fn list_op() -> impl Strategy<Value = Comparator> {
    select(vec![Comparator::In, Comparator::NotIn])
}

fn null_op() -> impl Strategy<Value = Comparator> {
    select(vec![Comparator::IsNull, Comparator::IsNotNull])
}

fn list() -> impl Strategy<Value = Literal> {
    prop::collection::vec(string_value(), 1..4).prop_map(Literal::List)
}

fn clause(kind: EntityKind, key: impl Into<String>, op: Comparator, value: Literal) -> Clause {
    Clause {
        ident: Identifier::new(kind, key),
        op,
        value,
        span: 0..0,
    }
}

fn run_clause() -> impl Strategy<Value = Clause> {
    let param_or_tag = || select(vec![EntityKind::Param, EntityKind::Tag]);
    prop_oneof![
        (key(), numeric_op(), finite()).prop_map(|(k, op, n)| clause(
            EntityKind::Metric,
            k,
            op,
            Literal::Number(n)
        )),
        (param_or_tag(), key(), like_op(), string_value()).prop_map(|(kind, k, op, v)| clause(
            kind,
            k,
            op,
            Literal::Str(v)
        )),
        (param_or_tag(), key(), null_op()).prop_map(|(kind, k, op)| clause(
            kind,
            k,
            op,
            Literal::Null
        )),
        (
            select(vec![
                "run_id",
                "run_name",
                "status",
                "user_id",
                "artifact_uri"
            ]),
            like_op(),
            string_value()
        )
            .prop_map(|(k, op, v)| clause(EntityKind::Attribute, k, op, Literal::Str(v))),
        (list_op(), list()).prop_map(|(op, v)| clause(EntityKind::Attribute, "run_id", op, v)),
        (
            select(vec!["start_time", "end_time"]),
            numeric_op(),
            millis()
        )
            .prop_map(|(k, op, n)| clause(
                EntityKind::Attribute,
                k,
                op,
                Literal::Number(n)
            )),
        (select(DATASET_KEYS.to_vec()), like_op(), string_value()).prop_map(|(k, op, v)| clause(
            EntityKind::Dataset,
            k,
            op,
            Literal::Str(v)
        )),
        (select(DATASET_KEYS.to_vec()), list_op(), list()).prop_map(|(k, op, v)| clause(
            EntityKind::Dataset,
            k,
            op,
            v
        )),
    ]
}

fn exp_clause() -> impl Strategy<Value = ExperimentClause> {
    use ExperimentAttribute as A;
    let mk = |ident, op, value| ExperimentClause {
        ident,
        op,
        value,
        span: 0..0,
    };
    prop_oneof![
        (like_op(), string_value()).prop_map(move |(op, v)| mk(
            ExperimentKey::Attribute(A::Name),
            op,
            Literal::Str(v)
        )),
        (
            select(vec![Comparator::Eq, Comparator::NotEq]),
            "[0-9]{1,5}"
        )
            .prop_map(move |(op, v)| mk(
                ExperimentKey::Attribute(A::ExperimentId),
                op,
                Literal::Str(v)
            )),
        (list_op(), list()).prop_map(move |(op, v)| mk(
            ExperimentKey::Attribute(A::ExperimentId),
            op,
            v
        )),
        (
            select(vec![A::CreationTime, A::LastUpdateTime]),
            numeric_op(),
            millis()
        )
            .prop_map(move |(a, op, n)| mk(
                ExperimentKey::Attribute(a),
                op,
                Literal::Number(n)
            )),
        (key(), like_op(), string_value()).prop_map(move |(k, op, v)| mk(
            ExperimentKey::Tag(k),
            op,
            Literal::Str(v)
        )),
        (key(), null_op()).prop_map(move |(k, op)| mk(ExperimentKey::Tag(k), op, Literal::Null)),
    ]
}

fn order_ident() -> impl Strategy<Value = Identifier> {
    prop_oneof![
        (
            select(vec![EntityKind::Metric, EntityKind::Param, EntityKind::Tag]),
            key()
        )
            .prop_map(|(kind, k)| Identifier::new(kind, k)),
        select(hyperflow::tracking::filter::RUN_ATTRIBUTE_KEYS.to_vec())
            .prop_map(|k| Identifier::new(EntityKind::Attribute, k)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn run_filter_round_trips(clauses in prop::collection::vec(run_clause(), 0..6)) {
        check_round_trip(&Filter { clauses }, parse_filter)?;
    }

    #[test]
    fn experiment_filter_round_trips(clauses in prop::collection::vec(exp_clause(), 0..6)) {
        check_round_trip(&ExperimentFilter { clauses }, parse_experiment_filter)?;
    }

    #[test]
    fn order_by_round_trips(ident in order_ident(), ascending in any::<bool>()) {
        let order = OrderBy { ident, ascending };
        prop_assert_eq!(parse_order_by(&order.to_string()), Ok(order));
    }

    #[test]
    fn experiment_order_by_round_trips(
        key in select(ExperimentAttribute::ALL.to_vec()),
        ascending in any::<bool>(),
    ) {
        let order = ExperimentOrderBy { ident: key, ascending };
        prop_assert_eq!(parse_experiment_order_by(&order.to_string()), Ok(order));
    }
}

// ---------------------------------------------------------------------------------------------
// Typed construction
// ---------------------------------------------------------------------------------------------

/// The comparison `NUMERIC[op]` of `subject` with `value`, through the typed comparator.
fn ordered<T: Ordered>(subject: Subject<T>, value: T::Value, op: usize) -> Clause {
    match op {
        0 => subject.eq(value),
        1 => subject.ne(value),
        2 => subject.lt(value),
        3 => subject.le(value),
        4 => subject.gt(value),
        _ => subject.ge(value),
    }
}

/// A clause built with the typed constructors, paired with the AST it must equal.
fn typed_clause() -> impl Strategy<Value = (Clause, Clause)> {
    use hyperflow::tracking::filter::RunAttribute;
    let any_key = || prop_oneof![any::<String>(), key()];
    let any_text = || prop_oneof![any::<String>(), string_value()];
    let number = any::<f64>().prop_filter("finite", |n| n.is_finite());
    prop_oneof![
        (any_key(), 0..6usize, number).prop_map(|(k, op, n)| {
            let typed = ordered(Clause::metric(k.clone()), n, op);
            (
                typed,
                clause(EntityKind::Metric, k, NUMERIC[op], Literal::Number(n)),
            )
        }),
        (any::<bool>(), any_key(), 0..6usize, any_text()).prop_map(|(is_tag, k, op, v)| {
            let (s, kind) = if is_tag {
                (Clause::tag(k.clone()), EntityKind::Tag)
            } else {
                (Clause::param(k.clone()), EntityKind::Param)
            };
            let (typed, comparator, value) = match op {
                0 => (s.eq(v.as_str()), Comparator::Eq, Literal::Str(v)),
                1 => (s.ne(v.clone()), Comparator::NotEq, Literal::Str(v)),
                2 => (s.like(v.as_str()), Comparator::Like, Literal::Str(v)),
                3 => (s.ilike(v.clone()), Comparator::ILike, Literal::Str(v)),
                4 => (s.is_null(), Comparator::IsNull, Literal::Null),
                _ => (s.is_not_null(), Comparator::IsNotNull, Literal::Null),
            };
            (typed, clause(kind, k, comparator, value))
        }),
        (
            select(vec![
                RunAttribute::STATUS,
                RunAttribute::RUN_NAME,
                RunAttribute::USER_ID,
                RunAttribute::ARTIFACT_URI
            ]),
            any::<bool>(),
            any_text(),
        )
            .prop_map(|(a, like, v)| {
                let s = Clause::attribute(a);
                let (typed, op) = if like {
                    (s.like(v.as_str()), Comparator::Like)
                } else {
                    (s.eq(v.as_str()), Comparator::Eq)
                };
                (
                    typed,
                    clause(EntityKind::Attribute, a.key(), op, Literal::Str(v)),
                )
            }),
        (any::<bool>(), prop::collection::vec(any_text(), 1..5)).prop_map(|(not, ids)| {
            let s = Clause::attribute(RunAttribute::RUN_ID);
            let (typed, op) = if not {
                (s.not_in(ids.iter().map(String::as_str)), Comparator::NotIn)
            } else {
                (s.is_in(ids.clone()), Comparator::In)
            };
            (
                typed,
                clause(EntityKind::Attribute, "run_id", op, Literal::List(ids)),
            )
        }),
        (
            select(vec![RunAttribute::START_TIME, RunAttribute::END_TIME]),
            0..6usize,
            any::<i64>()
        )
            .prop_map(|(a, op, t)| {
                let typed = ordered(Clause::attribute(a), t, op);
                let expected = clause(
                    EntityKind::Attribute,
                    a.key(),
                    NUMERIC[op],
                    Literal::Number(t as f64),
                );
                (typed, expected)
            }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// Filters built with the typed constructors, over any key and any value the language
    /// can spell (any string, finite numbers, any i64 time, non-empty lists), are the AST
    /// they say and render to a string that parses back to it.
    #[test]
    fn typed_filters_round_trip(pairs in prop::collection::vec(typed_clause(), 0..6)) {
        let mut filter = Filter::new();
        for (typed, expected) in pairs {
            prop_assert_eq!(&typed, &expected);
            filter = filter.and(typed);
        }
        check_round_trip(&filter, parse_filter)?;
        prop_assert_eq!(String::from(&filter), filter.to_string());
    }
}

/// Guards the fuzz properties above against vacuity: the input generator must reach valid
/// filters and order_by clauses often enough for their Ok branches to be exercised.
#[test]
fn input_generator_reaches_valid_inputs() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    let mut runner = TestRunner::deterministic();
    let strategy = arbitrary_input();
    let (mut filters, mut orders, mut errors) = (0, 0, 0);
    for _ in 0..5000 {
        let Ok(tree) = strategy.new_tree(&mut runner) else {
            continue;
        };
        let input = tree.current();
        match parse_filter(&input) {
            Ok(f) if !f.clauses.is_empty() => filters += 1,
            Ok(_) => {}
            Err(_) => errors += 1,
        }
        if parse_order_by(&input).is_ok() {
            orders += 1;
        }
    }
    assert!(filters >= 5, "only {filters} non-empty filters parsed");
    assert!(orders >= 20, "only {orders} order_by clauses parsed");
    assert!(errors >= 1000, "only {errors} errors");
}
