//! Spaces written in TOML and JSON: one schema, two formats.
//!
//! A space is a table of `name = spec` entries. Their order is the declaration order: it
//! is the order of [`Space::params`], of sampling, and of the values in a
//! [`Point`](super::Point). A spec is a table with a `kind` and the fields of that kind,
//! or a bare value (`n_estimators = 100`), which is a constant.
//!
//! | kind          | fields              | values                                                        |
//! |---------------|---------------------|---------------------------------------------------------------|
//! | `uniform`     | `low`, `high`       | reals in `[low, high]`                                        |
//! | `loguniform`  | `low`, `high`       | reals in `[low, high]`, log-uniform; bounds in value space, `0 < low` |
//! | `quniform`    | `low`, `high`, `q`  | multiples of `q` in `[low, high]`                             |
//! | `qloguniform` | `low`, `high`, `q`  | multiples of `q` in `[low, high]`, log-uniform before rounding; `0 < low` |
//! | `normal`      | `mu`, `sigma`       | reals drawn from `N(mu, sigma)`                               |
//! | `lognormal`   | `mu`, `sigma`       | positive reals `exp(N(mu, sigma))`; `mu`, `sigma` in log space |
//! | `randint`     | `low`, `high`       | integers in `low..high`: **`high` is exclusive**, as in hyperopt and numpy |
//! | `choice`      | `options`           | one of the options' values (never an index)                  |
//! | `const`       | `value`             | always `value`; a bare value means the same                  |
//!
//! Bounds need `low < high`, steps `q > 0` with at least one multiple of `q` in the bounds,
//! `sigma > 0`, and every number must be finite. `randint` bounds are integers; the other
//! numeric fields take integers or reals.
//!
//! Each `choice` option is a plain value (string, number or bool) or a table
//! `{ value = ..., space = { ... } }` whose `space` holds parameters that exist only when
//! that option is chosen. Sub-spaces nest to any depth. Parameter names are unique in the
//! whole space, sub-spaces included, and options of one choice are distinct (`2` and
//! `2.0` count as the same).
//!
//! ```toml
//! lr = { kind = "loguniform", low = 1e-5, high = 1e-1 }
//! max_depth = { kind = "quniform", low = 2, high = 16, q = 1 }
//! model = { kind = "choice", options = [
//!     { value = "svm", space = {
//!         C = { kind = "loguniform", low = 1e-2, high = 1e3 },
//!         kernel = { kind = "choice", options = ["rbf", "linear"] },
//!     } },
//!     { value = "tree", space = { min_leaf = { kind = "randint", low = 1, high = 20 } } },
//! ] }
//! n_estimators = 100
//! ```
//!
//! (A TOML inline table spanning lines needs TOML 1.1, which this crate reads; the
//! single-line form works everywhere.) The same space in JSON:
//!
//! ```json
//! {
//!   "lr": { "kind": "loguniform", "low": 1e-5, "high": 1e-1 },
//!   "max_depth": { "kind": "quniform", "low": 2, "high": 16, "q": 1 },
//!   "model": { "kind": "choice", "options": [
//!     { "value": "svm", "space": {
//!       "C": { "kind": "loguniform", "low": 1e-2, "high": 1e3 },
//!       "kernel": { "kind": "choice", "options": ["rbf", "linear"] } } },
//!     { "value": "tree", "space": { "min_leaf": { "kind": "randint", "low": 1, "high": 20 } } }
//!   ] },
//!   "n_estimators": 100
//! }
//! ```
//!
//! Parse with [`Space::from_toml_str`], [`Space::from_json_str`] or [`Space::from_path`];
//! write with [`Space::to_toml_string`] and [`Space::to_json_string`]. Parsing what was
//! written gives the same space back. A space embedded in a larger document (the `[space]`
//! table of a sweep config) deserializes as a field of type [`Space`] through serde: it is
//! validated while it is read, so `toml` and `serde_json` report problems at the line and
//! column of the offending value.
//!
//! A [`SchemaError`] says what is wrong, where (file, line, column; with the offending line
//! and a caret), and what would be accepted, with a "did you mean" for misspelt kinds and
//! fields.

mod de;
mod error;
mod ser;

use std::path::Path;

pub use error::{SchemaError, SchemaErrorKind};
#[cfg(feature = "sweep")]
pub(crate) use error::{forget_raised, raised_in_toml};

use super::Space;

/// The kinds, in the order error messages list them.
const KINDS: [&str; 9] = [
    "uniform",
    "loguniform",
    "quniform",
    "qloguniform",
    "normal",
    "lognormal",
    "randint",
    "choice",
    "const",
];

/// Every field a spec table may have, whatever its kind.
const SPEC_FIELDS: [&str; 8] = [
    "kind", "low", "high", "q", "mu", "sigma", "options", "value",
];

/// The fields of a choice option written as a table.
const OPTION_FIELDS: [&str; 2] = ["value", "space"];

/// The fields a kind takes besides `kind`.
fn fields_of(kind: &str) -> &'static [&'static str] {
    match kind {
        "quniform" | "qloguniform" => &["low", "high", "q"],
        "normal" | "lognormal" => &["mu", "sigma"],
        "choice" => &["options"],
        "const" => &["value"],
        _ => &["low", "high"],
    }
}

/// Every field a kind's table may have: `kind` and the kind's own.
fn allowed_fields(kind: &str) -> Vec<&'static str> {
    std::iter::once("kind")
        .chain(fields_of(kind).iter().copied())
        .collect()
}

impl Space {
    /// Parses a space written in TOML (see the [schema](self)).
    ///
    /// ```
    /// use hyperflow::space::{Space, Value};
    ///
    /// let space = Space::from_toml_str(r#"
    ///     lr = { kind = "loguniform", low = 1e-5, high = 1e-1 }
    ///     model = { kind = "choice", options = [
    ///         { value = "svm", space = { C = { kind = "loguniform", low = 1e-2, high = 1e3 } } },
    ///         "tree",
    ///     ] }
    ///     n_estimators = 100
    /// "#)?;
    /// let names: Vec<&str> = space.params().iter().map(|p| p.name.as_str()).collect();
    /// assert_eq!(names, ["lr", "model", "C", "n_estimators"]);
    ///
    /// let err = Space::from_toml_str(r#"lr = { kind = "logunifrom", low = 1e-5, high = 0.1 }"#)
    ///     .unwrap_err();
    /// assert_eq!((err.line(), err.column()), (Some(1), Some(15)));
    /// assert!(err.to_string().contains("did you mean `loguniform`?"));
    /// # Ok::<(), hyperflow::space::SchemaError>(())
    /// ```
    pub fn from_toml_str(source: &str) -> Result<Space, SchemaError> {
        error::forget_raised();
        toml::from_str(source).map_err(|e| SchemaError::from_toml(&e, source))
    }

    /// Parses a space written in JSON (see the [schema](self)).
    ///
    /// ```
    /// use hyperflow::space::Space;
    ///
    /// let space = Space::from_json_str(r#"{
    ///     "lr": { "kind": "loguniform", "low": 1e-5, "high": 1e-1 },
    ///     "max_depth": { "kind": "randint", "low": 2, "high": 17 }
    /// }"#)?;
    /// assert_eq!(space.len(), 2);
    ///
    /// let err = Space::from_json_str(r#"{ "lr": { "kind": "uniform", "low": 1, "hihg": 2 } }"#)
    ///     .unwrap_err();
    /// assert!(err.to_string().contains("did you mean `high`?"));
    /// # Ok::<(), hyperflow::space::SchemaError>(())
    /// ```
    pub fn from_json_str(source: &str) -> Result<Space, SchemaError> {
        error::forget_raised();
        serde_json::from_str(source).map_err(|e| SchemaError::from_json(&e, source))
    }

    /// Reads a space from a `.toml` or `.json` file (by extension, case-insensitive).
    /// Errors name the file.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Space, SchemaError> {
        let path = path.as_ref();
        let extension = path
            .extension()
            .map(|e| e.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        let parse = match extension.as_str() {
            "toml" => Space::from_toml_str,
            "json" => Space::from_json_str,
            _ => {
                return Err(
                    SchemaError::new(SchemaErrorKind::UnknownFormat { extension }).in_file(path),
                );
            }
        };
        let source = std::fs::read_to_string(path).map_err(|e| {
            SchemaError::new(SchemaErrorKind::Io {
                message: e.to_string(),
            })
            .in_file(path)
        })?;
        parse(&source).map_err(|e| e.in_file(path))
    }

    /// Writes the space as TOML, one `name = { ... }` line per top-level parameter
    /// (sub-spaces inline), constants as bare values. [`Space::from_toml_str`] reads it
    /// back into an equal space.
    pub fn to_toml_string(&self) -> String {
        ser::to_toml(self)
    }

    /// The space as a JSON value in the [schema](self)'s form.
    pub fn to_json(&self) -> serde_json::Value {
        match serde_json::to_value(self) {
            Ok(value) => value,
            Err(e) => unreachable!("a validated space is always valid JSON: {e}"),
        }
    }

    /// The space as pretty-printed JSON; [`Space::from_json_str`] reads it back into an
    /// equal space.
    pub fn to_json_string(&self) -> String {
        match serde_json::to_string_pretty(self) {
            Ok(text) => text,
            Err(e) => unreachable!("a validated space is always valid JSON: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::{SpaceError, Value};

    fn example_space() -> Space {
        Space::builder()
            .loguniform("lr", 1e-5, 1e-1)
            .quniform("max_depth", 2.0, 16.0, 1.0)
            .choice(
                "model",
                [
                    (
                        "svm",
                        Space::builder()
                            .loguniform("C", 1e-2, 1e3)
                            .choice("kernel", ["rbf", "linear", "poly"]),
                    ),
                    ("tree", Space::builder().randint("min_leaf", 1, 20)),
                ],
            )
            .constant("n_estimators", 100)
            .build()
            .unwrap()
    }

    fn names(space: &Space) -> Vec<&str> {
        space.params().iter().map(|p| p.name.as_str()).collect()
    }

    fn toml_err(source: &str) -> SchemaError {
        match Space::from_toml_str(source) {
            Ok(space) => panic!("expected an error, got {space:?}"),
            Err(e) => e,
        }
    }

    fn json_err(source: &str) -> SchemaError {
        match Space::from_json_str(source) {
            Ok(space) => panic!("expected an error, got {space:?}"),
            Err(e) => e,
        }
    }

    /// The error of a TOML space, checked to say `text`.
    fn toml_says(source: &str, text: &str) -> SchemaError {
        let e = toml_err(source);
        assert!(e.to_string().contains(text), "{e}");
        e
    }

    /// The error of a JSON space, checked to say `text`.
    fn json_says(source: &str, text: &str) -> SchemaError {
        let e = json_err(source);
        assert!(e.to_string().contains(text), "{e}");
        e
    }

    fn at(e: &SchemaError) -> (usize, usize) {
        (e.line().unwrap(), e.column().unwrap())
    }

    #[test]
    fn example_files_are_the_same_space() {
        let from_toml =
            Space::from_path(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/space.toml")).unwrap();
        let from_json =
            Space::from_path(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/space.json")).unwrap();
        assert_eq!(from_toml, from_json);
        assert_eq!(from_toml, example_space());
    }

    #[test]
    fn declaration_order_is_kept() {
        let toml = "zeta = 1\nalpha = { kind = \"uniform\", low = 0, high = 1 }\nmid = \"x\"\n";
        assert_eq!(
            names(&Space::from_toml_str(toml).unwrap()),
            ["zeta", "alpha", "mid"]
        );
        let json = r#"{"zeta": 1, "alpha": {"kind": "uniform", "low": 0, "high": 1}, "mid": "x"}"#;
        assert_eq!(
            names(&Space::from_json_str(json).unwrap()),
            ["zeta", "alpha", "mid"]
        );
    }

    #[test]
    fn fields_may_come_in_any_order() {
        let a = Space::from_toml_str(r#"x = { high = 2, q = 0.5, low = 1, kind = "quniform" }"#);
        let b = Space::builder().quniform("x", 1.0, 2.0, 0.5).build();
        assert_eq!(a.unwrap(), b.unwrap());
    }

    #[test]
    fn bare_values_are_constants() {
        let space = Space::from_toml_str(
            "n = 100\nrate = 0.5\nopt = \"adam\"\nflag = true\nc = { kind = \"const\", value = 100 }",
        )
        .unwrap();
        let expected = Space::builder()
            .constant("n", 100)
            .constant("rate", 0.5)
            .constant("opt", "adam")
            .constant("flag", true)
            .constant("c", 100)
            .build()
            .unwrap();
        assert_eq!(space, expected);
        assert!(Space::to_toml_string(&space).starts_with("n = 100\nrate = 0.5\n"));
    }

    #[test]
    fn nested_conditionals_to_depth_three() {
        let toml = r#"
            a = { kind = "choice", options = [
                { value = "x", space = { b = { kind = "choice", options = [
                    { value = 1, space = { c = { kind = "choice", options = [
                        { value = true, space = { d = { kind = "normal", mu = 0, sigma = 1 } } },
                        false,
                    ] } } },
                    2,
                ] } } },
                "y",
            ] }
            e = { kind = "lognormal", mu = 0, sigma = 1 }
        "#;
        let space = Space::from_toml_str(toml).unwrap();
        assert_eq!(names(&space), ["a", "b", "c", "d", "e"]);
        let parents: Vec<Option<(usize, usize)>> = space
            .params()
            .iter()
            .map(|p| p.parent.map(|c| (c.param, c.option)))
            .collect();
        assert_eq!(
            parents,
            [None, Some((0, 0)), Some((1, 0)), Some((2, 0)), None]
        );
        assert_eq!(
            Space::from_json_str(&space.to_json_string()).unwrap(),
            space
        );
        assert_eq!(
            Space::from_toml_str(&space.to_toml_string()).unwrap(),
            space
        );
    }

    #[test]
    fn every_kind_round_trips_in_both_formats() {
        let space = Space::builder()
            .uniform("u", -1.5, 2.0)
            .loguniform("lu", 1e-7, 3.0)
            .quniform("qu", -3.0, 3.0, 0.25)
            .qloguniform("qlu", 1.0, 1000.0, 5.0)
            .normal("n", -0.3, 2.0)
            .lognormal("ln", 0.1, 0.2)
            .randint("ri", -5, 5)
            .choice("ch", [Value::from(1), Value::from(2.5), Value::from(false)])
            .constant("a.b/c: d", 0.1 + 0.2)
            .constant("nothing-special_1", "ok")
            .build()
            .unwrap();
        let toml = space.to_toml_string();
        assert!(
            toml.contains("\"a.b/c: d\" = 0.30000000000000004"),
            "{toml}"
        );
        assert_eq!(Space::from_toml_str(&toml).unwrap(), space);
        assert_eq!(
            Space::from_json_str(&space.to_json_string()).unwrap(),
            space
        );
        assert_eq!(
            serde_json::from_value::<Space>(space.to_json()).unwrap(),
            space
        );
    }

    #[test]
    fn standard_tables_and_arrays_of_tables_work_too() {
        let toml = "[lr]\r\nkind = \"loguniform\"\r\nlow = 1e-5\r\nhigh = 1e-1\r\n\r\n\
                    [model]\r\nkind = \"choice\"\r\n\
                    [[model.options]]\r\nvalue = \"svm\"\r\n\
                    [model.options.space]\r\n\"größe\" = { kind = \"uniform\", low = 0, high = 1 }\r\n\
                    [[model.options]]\r\nvalue = \"tree\"\r\n";
        let space = Space::from_toml_str(toml).unwrap();
        let expected = Space::builder()
            .loguniform("lr", 1e-5, 1e-1)
            .choice(
                "model",
                [
                    ("svm", Space::builder().uniform("größe", 0.0, 1.0)),
                    ("tree", Space::builder()),
                ],
            )
            .build()
            .unwrap();
        assert_eq!(space, expected);
        assert_eq!(
            Space::from_toml_str(&space.to_toml_string()).unwrap(),
            space
        );

        let e = toml_err(&toml.replace("high = 1e-1", "hihg = 1e-1"));
        assert_eq!(at(&e), (4, 1));
        assert!(e.to_string().ends_with("4 | hihg = 1e-1\n  | ^^^^"), "{e}");
        let e = toml_err(&toml.replace("high = 1 }", "high = 1, q = 2 }"));
        // Columns count characters, not bytes (`ö` and `ß` take two each).
        assert_eq!(at(&e), (11, 50));
    }

    #[test]
    fn unknown_kind_lists_kinds_and_suggests() {
        let e = toml_err("lr = { kind = \"logunifrom\", low = 1e-5, high = 0.1 }");
        assert_eq!(at(&e), (1, 15));
        assert!(matches!(
            e.kind(),
            SchemaErrorKind::UnknownKind { param, found, suggestion: Some("loguniform") }
                if param == "lr" && found == "logunifrom"
        ));
        let text = e.to_string();
        assert!(
            text.contains("expected one of `uniform`, `loguniform`"),
            "{text}"
        );
        assert!(text.contains("did you mean `loguniform`?"), "{text}");
        assert!(
            text.ends_with("1 | lr = { kind = \"logunifrom\", low = 1e-5, high = 0.1 }\n  |               ^^^^^^^^^^^^"),
            "{text}"
        );

        let e = json_err("{\n  \"lr\": { \"kind\": \"gaussian\", \"mu\": 0, \"sigma\": 1 }\n}");
        assert_eq!(e.line(), Some(2));
        assert!(matches!(
            e.kind(),
            SchemaErrorKind::UnknownKind {
                suggestion: None,
                ..
            }
        ));
        assert!(!e.to_string().contains("did you mean"));
    }

    #[test]
    fn unknown_field_suggests_and_points_at_the_key() {
        let e = toml_err("\nlr = { kind = \"uniform\", low = 1, hihg = 2 }");
        assert_eq!(at(&e), (2, 35));
        let text = e.to_string();
        assert!(
            text.contains("unknown field `hihg` for kind `uniform`; expected `kind`, `low`, `high`; did you mean `high`?"),
            "{text}"
        );

        // A field another kind takes is still unknown for this one.
        let e = toml_err("x = { kind = \"uniform\", low = 0, high = 1, q = 1 }");
        assert_eq!(at(&e), (1, 44));
        assert!(
            matches!(e.kind(), SchemaErrorKind::UnknownField { field, kind: Some("uniform"), .. } if field == "q")
        );

        // Before `kind` is read, any spec field is fine; the check comes at the table.
        let e = toml_err("x = { q = 1, low = 0, high = 1, kind = \"uniform\" }");
        assert_eq!(at(&e), (1, 5));
        assert!(matches!(e.kind(), SchemaErrorKind::UnknownField { field, .. } if field == "q"));

        let e = json_err(r#"{"m": {"kind": "choice", "options": [{"value": 1, "spcae": {}}]}}"#);
        assert!(
            e.to_string()
                .contains("in a choice option; expected `value`, `space`; did you mean `space`?"),
            "{e}"
        );
    }

    #[test]
    fn missing_fields_say_what_is_needed() {
        let e = toml_err("x = { low = 0, high = 1 }");
        assert!(matches!(
            e.kind(),
            SchemaErrorKind::MissingField {
                field: "kind",
                kind: None,
                ..
            }
        ));
        assert!(e.to_string().contains("or a bare value for a constant"));
        let e = toml_err("x = { kind = \"quniform\", low = 0, high = 1 }");
        assert_eq!(at(&e), (1, 5));
        assert!(
            e.to_string()
                .contains("missing field `q`; kind `quniform` needs `low`, `high`, `q`"),
            "{e}"
        );
        let e = toml_err("x = { kind = \"choice\" }");
        assert!(matches!(
            e.kind(),
            SchemaErrorKind::MissingField {
                field: "options",
                ..
            }
        ));
        let e = toml_err("x = { kind = \"const\" }");
        assert!(matches!(
            e.kind(),
            SchemaErrorKind::MissingField { field: "value", .. }
        ));
        let e = toml_err("x = { kind = \"choice\", options = [{ space = {} }] }");
        assert!(matches!(
            e.kind(),
            SchemaErrorKind::MissingField {
                field: "value",
                kind: None,
                ..
            }
        ));
        assert!(
            e.to_string()
                .contains("a choice option written as a table needs `value`")
        );
    }

    #[test]
    fn wrong_types_name_field_expected_and_found() {
        let e = toml_says(
            "x = { kind = \"uniform\", low = \"0\", high = 1 }",
            "`low` must be a number, found the string \"0\"",
        );
        assert_eq!(at(&e), (1, 31));
        toml_says(
            "x = { kind = 3 }",
            "`kind` must be a string naming the kind, found the integer 3",
        );
        let e = toml_says(
            "x = { kind = \"randint\", low = 1.5, high = 3 }",
            "`low` must be an integer, found the float 1.5",
        );
        assert_eq!(at(&e), (1, 31));
        // With `kind` last, the integer check waits for the end of the table.
        let e = toml_err("x = { low = 1.5, high = 3, kind = \"randint\" }");
        assert!(matches!(
            e.kind(),
            SchemaErrorKind::WrongType {
                field: Some("low"),
                ..
            }
        ));
        // Integral reals are integers (JSON writers often emit `1.0`).
        let space = Space::from_json_str(r#"{"x": {"kind": "randint", "low": 1.0, "high": 3}}"#);
        assert_eq!(
            space.unwrap(),
            Space::builder().randint("x", 1, 3).build().unwrap()
        );
        toml_says("x = [1, 2]", "must be a spec table like");
        toml_says(
            "x = { kind = \"choice\", options = \"a\" }",
            "`options` must be an array of options",
        );
        toml_says(
            "x = { kind = \"choice\", options = [{ value = \"a\", space = 3 }] }",
            "`space` must be a table of `name = spec` entries",
        );
        let e = toml_err("x = { kind = \"choice\", options = [[1]] }");
        assert!(matches!(
            e.kind(),
            SchemaErrorKind::WrongType {
                field: Some("options"),
                ..
            }
        ));
        let e = json_err("[1, 2]");
        assert!(matches!(e.kind(), SchemaErrorKind::NotATable { found } if found == "an array"));
        let e = json_err(r#"{"x": null}"#);
        assert!(matches!(
            e.kind(),
            SchemaErrorKind::WrongType { field: None, .. }
        ));
    }

    #[test]
    fn invalid_values_reuse_the_builder_rules() {
        let invalid = |source: &str| match toml_err(source).kind() {
            SchemaErrorKind::Invalid(e) => e.clone(),
            other => panic!("expected an invalid spec, got {other:?}"),
        };
        assert!(matches!(
            invalid("x = { kind = \"uniform\", low = 2, high = 1 }"),
            SpaceError::EmptyRange {
                low: 2.0,
                high: 1.0,
                ..
            }
        ));
        assert!(matches!(
            invalid("x = { kind = \"randint\", low = 3, high = 3 }"),
            SpaceError::EmptyRange { .. }
        ));
        assert!(matches!(
            invalid("x = { kind = \"quniform\", low = 0, high = 1, q = 0 }"),
            SpaceError::NonPositiveStep { .. }
        ));
        assert!(matches!(
            invalid("x = { kind = \"quniform\", low = 0.1, high = 0.2, q = 1 }"),
            SpaceError::EmptyGrid { .. }
        ));
        assert!(matches!(
            invalid("x = { kind = \"loguniform\", low = 0, high = 1 }"),
            SpaceError::NonPositiveLogBound { .. }
        ));
        assert!(matches!(
            invalid("x = { kind = \"qloguniform\", low = -1, high = 10, q = 1 }"),
            SpaceError::NonPositiveLogBound { .. }
        ));
        assert!(matches!(
            invalid("x = { kind = \"normal\", mu = 0, sigma = 0 }"),
            SpaceError::NonPositiveSigma { .. }
        ));
        let e = invalid("x = { kind = \"uniform\", low = -1e308, high = 1e308 }");
        assert!(matches!(e, SpaceError::RangeTooWide { .. }), "{e:?}");
        assert!(e.to_string().contains("narrow the range"), "{e}");
        assert!(matches!(
            invalid("x = { kind = \"uniform\", low = -inf, high = 0 }"),
            SpaceError::NotFinite { field: "low", .. }
        ));
        assert!(matches!(invalid("x = nan"), SpaceError::NotFinite { .. }));
        assert!(matches!(
            invalid("x = { kind = \"choice\", options = [] }"),
            SpaceError::EmptyChoice { .. }
        ));
        assert!(matches!(
            invalid("x = { kind = \"choice\", options = [\"a\", \"b\", \"a\"] }"),
            SpaceError::DuplicateOption { .. }
        ));
        assert!(matches!(
            invalid("x = { kind = \"choice\", options = [2, 2.0] }"),
            SpaceError::DuplicateOption { .. }
        ));
        assert!(matches!(
            invalid("\"\" = 1"),
            SpaceError::InvalidName { .. }
        ));

        let e = toml_says(
            "\nx = { kind = \"uniform\", low = 2, high = 1 }",
            "parameter `x`: uniform needs low < high, got low = 2, high = 1",
        );
        assert_eq!(at(&e), (2, 5));
    }

    #[test]
    fn duplicate_names_are_found_anywhere_in_the_tree() {
        // In a sub-space, then again at the top level: the error is at the second one.
        let source = "m = { kind = \"choice\", options = [{ value = \"a\", space = { lr = 1 } }] }\nlr = 2\n";
        let e = toml_err(source);
        assert_eq!(at(&e), (2, 1));
        assert!(
            matches!(e.kind(), SchemaErrorKind::Invalid(SpaceError::DuplicateName { param }) if param == "lr")
        );
        // In two branches of the same choice.
        let e = json_says(
            r#"{"m": {"kind": "choice", "options": [
                {"value": "a", "space": {"lr": 1}},
                {"value": "b", "space": {"lr": 2}}]}}"#,
            "parameter `lr` is declared twice",
        );
        assert_eq!(e.line(), Some(3));
        // Twice in one JSON object (TOML rejects that as a syntax error).
        let e = json_err(r#"{"a": 1, "a": 2}"#);
        assert!(matches!(
            e.kind(),
            SchemaErrorKind::Invalid(SpaceError::DuplicateName { .. })
        ));
        let e = json_err(r#"{"a": {"kind": "uniform", "low": 0, "low": 1, "high": 2}}"#);
        assert!(
            matches!(e.kind(), SchemaErrorKind::DuplicateField { field, .. } if field == "low")
        );
    }

    #[test]
    fn syntax_errors_are_located() {
        let e = toml_err("a = 1\nb = { kind = \"uniform\", low = 0, high = 1\n");
        assert!(matches!(e.kind(), SchemaErrorKind::Syntax { .. }));
        assert_eq!(e.line(), Some(2));
        let e = json_err("{\"a\": 1,\n}");
        assert!(matches!(e.kind(), SchemaErrorKind::Syntax { .. }));
        assert_eq!(e.line(), Some(2));
        assert!(!e.to_string().contains(" at line "), "{e}");
    }

    #[test]
    fn a_stale_typed_error_is_not_reused() {
        // The first parse leaves a typed kind behind on purpose (as an embedding document
        // would); the next syntax error must not pick it up.
        assert!(toml::from_str::<Space>("x = { kind = \"unifrom\" }").is_err());
        let e = toml_err("x = ");
        assert!(matches!(e.kind(), SchemaErrorKind::Syntax { .. }), "{e:?}");
    }

    #[test]
    fn files_are_named_in_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("space.toml");
        std::fs::write(
            &path,
            "a = 1\nb = { kind = \"unifrom\", low = 0, high = 1 }\n",
        )
        .unwrap();
        let e = Space::from_path(&path).unwrap_err();
        assert_eq!(e.file(), Some(path.as_path()));
        let prefix = format!(
            "{}:2:14: parameter `b`: unknown kind `unifrom`",
            path.display()
        );
        assert!(e.to_string().starts_with(&prefix), "{e}");

        let missing = dir.path().join("nope.json");
        let e = Space::from_path(&missing).unwrap_err();
        assert!(matches!(e.kind(), SchemaErrorKind::Io { .. }));
        assert!(
            e.to_string()
                .starts_with(&format!("{}: cannot read", missing.display()))
        );

        let e = Space::from_path(dir.path().join("space.yaml")).unwrap_err();
        assert!(
            matches!(e.kind(), SchemaErrorKind::UnknownFormat { extension } if extension == "yaml")
        );
        assert!(e.to_string().contains("expected `.toml` or `.json`"));

        let upper = dir.path().join("SPACE.JSON");
        std::fs::write(&upper, r#"{"a": 1}"#).unwrap();
        assert_eq!(Space::from_path(&upper).unwrap().len(), 1);
    }

    #[test]
    fn an_embedded_space_reports_positions_in_the_whole_document() {
        #[derive(Debug, serde::Deserialize)]
        struct Config {
            #[allow(dead_code)]
            name: String,
            space: Space,
        }
        let doc = "name = \"sweep\"\n\n[space]\nlr = { kind = \"loguniform\", low = 1e-5, high = 0.1 }\nmodel = { kind = \"choice\", options = [\"rf\", \"gbt\"] }\n";
        let config: Config = toml::from_str(doc).unwrap();
        assert_eq!(names(&config.space), ["lr", "model"]);

        let bad = doc.replace("loguniform", "log_uniform");
        let err = toml::from_str::<Config>(&bad).unwrap_err();
        let e = SchemaError::from_toml(&err, &bad);
        assert_eq!(at(&e), (4, 15));
        assert!(matches!(
            e.kind(),
            SchemaErrorKind::UnknownKind {
                suggestion: Some("loguniform"),
                ..
            }
        ));
    }

    #[test]
    fn schema_errors_convert_into_space_errors() {
        fn parse(source: &str) -> Result<Space, SpaceError> {
            Ok(Space::from_toml_str(source)?)
        }
        let e = parse("x = { kind = \"unifrom\" }").unwrap_err();
        assert!(matches!(e, SpaceError::Schema(_)));
        assert!(e.to_string().contains("did you mean `uniform`?"));
    }
}
