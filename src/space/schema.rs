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

use std::cell::RefCell;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::builder::{Spec, check_unique, validate_name, validate_param};
use super::{ChoiceOption, Dist, FromValue, Space, SpaceBuilder, SpaceError, Value};
use crate::suggest::did_you_mean;

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

/// What is wrong with a TOML or JSON space (see [`SchemaError`] for where).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum SchemaErrorKind {
    /// The text is not valid TOML or JSON.
    Syntax {
        /// The parser's description.
        message: String,
    },
    /// The space itself is not a table of parameters.
    NotATable {
        /// What was found instead.
        found: String,
    },
    /// A spec's `kind` is not one of the known kinds.
    UnknownKind {
        /// The parameter.
        param: String,
        /// The kind as written.
        found: String,
        /// The closest known kind, if one is close.
        suggestion: Option<&'static str>,
    },
    /// A spec or choice option has a field it does not take.
    UnknownField {
        /// The parameter.
        param: String,
        /// The spec's kind, when known; `None` in a choice option or before `kind` is read.
        kind: Option<&'static str>,
        /// The field as written.
        field: String,
        /// The fields accepted there.
        expected: Vec<&'static str>,
        /// The closest accepted field, if one is close.
        suggestion: Option<&'static str>,
    },
    /// A spec or choice option lacks a field it needs.
    MissingField {
        /// The parameter.
        param: String,
        /// The spec's kind, when known; `None` for `kind` itself and in choice options.
        kind: Option<&'static str>,
        /// The missing field.
        field: &'static str,
    },
    /// A field is given twice (possible in JSON; TOML rejects it as a syntax error).
    DuplicateField {
        /// The parameter.
        param: String,
        /// The repeated field.
        field: String,
    },
    /// A spec, field or option has a value of the wrong type.
    WrongType {
        /// The parameter.
        param: String,
        /// The field; `None` when the spec itself or a choice option has the wrong type.
        field: Option<&'static str>,
        /// What is accepted there.
        expected: &'static str,
        /// What was found.
        found: String,
    },
    /// The spec is well formed but breaks a rule of its kind (`low >= high`, `q <= 0`,
    /// duplicate names, ...), as [`SpaceBuilder::build`] would report it.
    Invalid(SpaceError),
    /// The file could not be read.
    Io {
        /// The operating system's description.
        message: String,
    },
    /// The file's extension names no format this crate reads.
    UnknownFormat {
        /// The extension, empty when there is none.
        extension: String,
    },
}

fn quoted(names: &[&str]) -> String {
    let names: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    names.join(", ")
}

fn did_you_mean_hint(suggestion: Option<&str>) -> String {
    suggestion.map_or_else(String::new, |s| format!("; did you mean `{s}`?"))
}

impl fmt::Display for SchemaErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SchemaErrorKind::Syntax { message } => f.write_str(message),
            SchemaErrorKind::NotATable { found } => write!(
                f,
                "a space must be a table of `name = spec` entries, found {found}"
            ),
            SchemaErrorKind::UnknownKind {
                param,
                found,
                suggestion,
            } => write!(
                f,
                "parameter `{param}`: unknown kind `{found}`; expected one of {}{}",
                quoted(&KINDS),
                did_you_mean_hint(*suggestion)
            ),
            SchemaErrorKind::UnknownField {
                param,
                kind,
                field,
                expected,
                suggestion,
            } => {
                write!(f, "parameter `{param}`: unknown field `{field}`")?;
                match kind {
                    Some(kind) => write!(f, " for kind `{kind}`")?,
                    None if expected.as_slice() == OPTION_FIELDS => {
                        f.write_str(" in a choice option")?;
                    }
                    None => {}
                }
                write!(
                    f,
                    "; expected {}{}",
                    quoted(expected),
                    did_you_mean_hint(*suggestion)
                )
            }
            SchemaErrorKind::MissingField { param, kind, field } => match (kind, *field) {
                (None, "kind") => write!(
                    f,
                    "parameter `{param}`: missing field `kind`; expected one of {} \
                     (or a bare value for a constant)",
                    quoted(&KINDS)
                ),
                (None, field) => write!(
                    f,
                    "parameter `{param}`: a choice option written as a table needs `{field}` \
                     (as in `{{ value = \"svm\", space = {{ ... }} }}`)"
                ),
                (Some(kind), field) => write!(
                    f,
                    "parameter `{param}`: missing field `{field}`; kind `{kind}` needs {}",
                    quoted(fields_of(kind))
                ),
            },
            SchemaErrorKind::DuplicateField { param, field } => {
                write!(f, "parameter `{param}`: field `{field}` is given twice")
            }
            SchemaErrorKind::WrongType {
                param,
                field,
                expected,
                found,
            } => match field {
                Some(field) => write!(
                    f,
                    "parameter `{param}`: `{field}` must be {expected}, found {found}"
                ),
                None => write!(f, "parameter `{param}` must be {expected}, found {found}"),
            },
            SchemaErrorKind::Invalid(e) => write!(f, "{e}"),
            SchemaErrorKind::Io { message } => write!(f, "cannot read the space: {message}"),
            SchemaErrorKind::UnknownFormat { extension } => write!(
                f,
                "cannot tell the format from the extension {:?}; expected `.toml` or `.json`",
                extension
            ),
        }
    }
}

/// Why a TOML or JSON space could not be read: what (see [`kind`](SchemaError::kind)),
/// where (file, line and column, when known), and what would be accepted.
///
/// Displayed like a compiler diagnostic:
///
/// ```text
/// space.toml:1:15: parameter `lr`: unknown kind `logunifrom`; expected one of `uniform`, ...; did you mean `loguniform`?
///   |
/// 1 | lr = { kind = "logunifrom", low = 1e-5, high = 0.1 }
///   |               ^^^^^^^^^^^^
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct SchemaError {
    kind: SchemaErrorKind,
    file: Option<PathBuf>,
    position: Option<(usize, usize)>,
    snippet: Option<String>,
}

impl SchemaError {
    fn new(kind: SchemaErrorKind) -> Self {
        SchemaError {
            kind,
            file: None,
            position: None,
            snippet: None,
        }
    }

    /// What is wrong.
    pub fn kind(&self) -> &SchemaErrorKind {
        &self.kind
    }

    /// The file the space was read from, for [`Space::from_path`].
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// The line (from 1) of the problem, when known.
    pub fn line(&self) -> Option<usize> {
        self.position.map(|(line, _)| line)
    }

    /// The column (from 1, in characters) of the problem, when known.
    pub fn column(&self) -> Option<usize> {
        self.position.map(|(_, column)| column)
    }

    fn in_file(mut self, file: &Path) -> Self {
        self.file = Some(file.to_path_buf());
        self
    }

    /// Converts a `toml` error met while reading `source` (a whole space, or a document
    /// embedding one) into a located error. The sweep config reuses this for its own
    /// `[space]` table.
    pub(crate) fn from_toml(error: &toml::de::Error, source: &str) -> Self {
        let message = error.message().trim_end();
        let kind = take_raised(message).unwrap_or_else(|| SchemaErrorKind::Syntax {
            message: message.to_string(),
        });
        let mut located = SchemaError::new(kind);
        if let Some(span) = error.span() {
            located.locate(source, span);
        }
        located
    }

    /// Converts a `serde_json` error met while reading `source` into a located error.
    pub(crate) fn from_json(error: &serde_json::Error, source: &str) -> Self {
        let full = error.to_string();
        let suffix = format!(" at line {} column {}", error.line(), error.column());
        let message = full.strip_suffix(&suffix).unwrap_or(&full);
        let kind = take_raised(message).unwrap_or_else(|| SchemaErrorKind::Syntax {
            message: message.to_string(),
        });
        let mut located = SchemaError::new(kind);
        if error.line() > 0 {
            // serde_json counts columns in bytes and stands just past what it read last.
            let start = line_start(source, error.line()) + error.column().saturating_sub(1);
            let start = floor_char_boundary(source, start.min(source.len()));
            located.locate(source, start..start + 1);
        }
        located
    }

    /// Records the position of `span` (byte offsets into `source`) and renders its line
    /// with a caret under the span.
    fn locate(&mut self, source: &str, span: Range<usize>) {
        let start = floor_char_boundary(source, span.start.min(source.len()));
        let line_begin = source[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = source[start..]
            .find('\n')
            .map_or(source.len(), |i| start + i);
        let line_no = source[..start].matches('\n').count() + 1;
        let text = source[line_begin..line_end].trim_end_matches('\r');
        let column = source[line_begin..start].chars().count() + 1;
        let end = floor_char_boundary(source, span.end.clamp(start, line_end));
        let width = source[start..end].chars().count().max(1);
        let gutter = " ".repeat(line_no.to_string().len());
        self.position = Some((line_no, column));
        self.snippet = Some(format!(
            "{gutter} |\n{line_no} | {text}\n{gutter} | {}{}",
            " ".repeat(column - 1),
            "^".repeat(width)
        ));
    }
}

fn line_start(source: &str, line: usize) -> usize {
    source
        .match_indices('\n')
        .nth(line.saturating_sub(2))
        .map_or(0, |(i, _)| if line <= 1 { 0 } else { i + 1 })
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

impl fmt::Display for SchemaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.file, self.position) {
            (Some(file), Some((line, column))) => {
                write!(f, "{}:{line}:{column}: ", file.display())?;
            }
            (Some(file), None) => write!(f, "{}: ", file.display())?,
            (None, Some((line, column))) => write!(f, "line {line}, column {column}: ")?,
            (None, None) => {}
        }
        write!(f, "{}", self.kind)?;
        if let Some(snippet) = &self.snippet {
            write!(f, "\n{snippet}")?;
        }
        Ok(())
    }
}

impl std::error::Error for SchemaError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            SchemaErrorKind::Invalid(e) => Some(e),
            _ => None,
        }
    }
}

impl From<SchemaError> for SpaceError {
    fn from(e: SchemaError) -> Self {
        SpaceError::Schema(Box::new(e))
    }
}

thread_local! {
    /// The typed error behind the last `de::Error::custom` this module raised on this
    /// thread. serde errors carry only a message, so the typed kind travels beside it and
    /// is picked up again (if its message matches) once `toml` or `serde_json` has added
    /// the position.
    static RAISED: RefCell<Option<SchemaErrorKind>> = const { RefCell::new(None) };
}

/// Raises `kind` as a serde error, keeping the typed kind for [`take_raised`].
fn raise<E: de::Error>(kind: SchemaErrorKind) -> E {
    let error = E::custom(&kind);
    RAISED.with(|r| *r.borrow_mut() = Some(kind));
    error
}

/// The typed kind of the error whose message is `message`, if this module raised it.
fn take_raised(message: &str) -> Option<SchemaErrorKind> {
    RAISED
        .with(|r| r.borrow_mut().take())
        .filter(|kind| kind.to_string() == message)
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
        RAISED.with(|r| r.borrow_mut().take());
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
        RAISED.with(|r| r.borrow_mut().take());
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
        let builder = SpaceBuilder::from(self);
        let mut out = String::new();
        for (name, spec) in &builder.specs {
            let mut value = String::new();
            match SpecRef(spec).serialize(toml::ser::ValueSerializer::new(&mut value)) {
                Ok(_) => {}
                // Every spec is made of finite numbers, strings and bools, which TOML
                // can always hold; a failure here is a bug in this function.
                Err(e) => unreachable!("a validated space is always valid TOML: {e}"),
            }
            out.push_str(&toml_key(name));
            out.push_str(" = ");
            out.push_str(&value);
            out.push('\n');
        }
        out
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

/// A TOML key for a parameter name: bare when TOML allows it, quoted otherwise. Names
/// never hold quotes, backslashes or control characters (see `validate_name`), so
/// wrapping in double quotes needs no escaping.
fn toml_key(name: &str) -> String {
    if name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        name.to_string()
    } else {
        format!("\"{name}\"")
    }
}

/// Serialized in the schema's form: a map of `name = spec`.
impl Serialize for Space {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        SpecsRef(&SpaceBuilder::from(self)).serialize(serializer)
    }
}

struct SpecsRef<'a>(&'a SpaceBuilder);

impl Serialize for SpecsRef<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.specs.len()))?;
        for (name, spec) in &self.0.specs {
            map.serialize_entry(name, &SpecRef(spec))?;
        }
        map.end()
    }
}

struct SpecRef<'a>(&'a Spec);

impl Serialize for SpecRef<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let dist = match self.0 {
            Spec::Dist(Dist::Const(value)) => return value.serialize(serializer),
            Spec::Dist(dist) => dist,
            Spec::Choice(options) => {
                let mut map = serializer.serialize_map(Some(2))?;
                map.serialize_entry("kind", "choice")?;
                map.serialize_entry("options", &OptionsRef(options))?;
                return map.end();
            }
        };
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("kind", dist.kind())?;
        match *dist {
            Dist::Uniform { low, high } | Dist::LogUniform { low, high } => {
                map.serialize_entry("low", &low)?;
                map.serialize_entry("high", &high)?;
            }
            Dist::QUniform { low, high, q } | Dist::QLogUniform { low, high, q } => {
                map.serialize_entry("low", &low)?;
                map.serialize_entry("high", &high)?;
                map.serialize_entry("q", &q)?;
            }
            Dist::Normal { mu, sigma } | Dist::LogNormal { mu, sigma } => {
                map.serialize_entry("mu", &mu)?;
                map.serialize_entry("sigma", &sigma)?;
            }
            Dist::RandInt { low, high } => {
                map.serialize_entry("low", &low)?;
                map.serialize_entry("high", &high)?;
            }
            Dist::Choice { ref options } => map.serialize_entry("options", options)?,
            Dist::Const(ref value) => map.serialize_entry("value", value)?,
        }
        map.end()
    }
}

struct OptionsRef<'a>(&'a [ChoiceOption]);

impl Serialize for OptionsRef<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for option in self.0 {
            if option.space.specs.is_empty() {
                seq.serialize_element(&option.value)?;
            } else {
                seq.serialize_element(&OptionRef(option))?;
            }
        }
        seq.end()
    }
}

struct OptionRef<'a>(&'a ChoiceOption);

impl Serialize for OptionRef<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("value", &self.0.value)?;
        map.serialize_entry("space", &SpecsRef(&self.0.space))?;
        map.end()
    }
}

/// Reads a space in the schema's form, validating each parameter as it is read so that
/// `toml` and `serde_json` report errors at the offending key or value.
impl<'de> Deserialize<'de> for Space {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let seen = RefCell::new(Vec::new());
        let builder = SpaceSeed {
            seen: &seen,
            parent: None,
        }
        .deserialize(deserializer)?;
        // Every rule was checked while reading; building again cannot fail, but if it
        // ever did, reporting beats panicking.
        builder
            .build()
            .map_err(|e| raise(SchemaErrorKind::Invalid(e)))
    }
}

/// Names declared so far, anywhere in the tree, in declaration order.
type Seen = RefCell<Vec<String>>;

/// How a value that is neither a table nor a scalar is described in errors.
fn describe(value: &Value) -> String {
    match value {
        Value::Str(s) => format!("the string {s:?}"),
        other => format!("the {} {other}", other.type_name()),
    }
}

/// Reads a table of `name = spec` entries: the whole space, or an option's sub-space.
struct SpaceSeed<'a> {
    seen: &'a Seen,
    /// The choice whose option holds this sub-space; `None` at the top level.
    parent: Option<&'a str>,
}

impl<'de> DeserializeSeed<'de> for SpaceSeed<'_> {
    type Value = SpaceBuilder;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<SpaceBuilder, D::Error> {
        // `deserialize_any` rather than `deserialize_map`, so that a non-table reaches the
        // visitor and gets this module's error instead of the format's generic one.
        deserializer.deserialize_any(self)
    }
}

impl SpaceSeed<'_> {
    fn wrong_type<E: de::Error>(&self, found: &str) -> E {
        raise(match self.parent {
            None => SchemaErrorKind::NotATable {
                found: found.to_string(),
            },
            Some(param) => SchemaErrorKind::WrongType {
                param: param.to_string(),
                field: Some("space"),
                expected: "a table of `name = spec` entries",
                found: found.to_string(),
            },
        })
    }
}

impl<'de> Visitor<'de> for SpaceSeed<'_> {
    type Value = SpaceBuilder;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a table of `name = spec` entries")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SpaceBuilder, A::Error> {
        let mut builder = SpaceBuilder::default();
        while let Some(name) = map.next_key_seed(NameSeed { seen: self.seen })? {
            let spec = map.next_value_seed(SpecSeed {
                name: &name,
                seen: self.seen,
            })?;
            builder.specs.push((name, spec));
        }
        Ok(builder)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<SpaceBuilder, A::Error> {
        Err(self.wrong_type("an array"))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<SpaceBuilder, E> {
        Err(self.wrong_type(&describe(&Value::Bool(v))))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<SpaceBuilder, E> {
        Err(self.wrong_type(&describe(&Value::Int(v))))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<SpaceBuilder, E> {
        Err(self.wrong_type(&format!("the integer {v}")))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<SpaceBuilder, E> {
        Err(self.wrong_type(&describe(&Value::Float(v))))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<SpaceBuilder, E> {
        Err(self.wrong_type(&format!("the string {v:?}")))
    }

    fn visit_unit<E: de::Error>(self) -> Result<SpaceBuilder, E> {
        Err(self.wrong_type("null"))
    }
}

/// Reads a parameter name, checking it is valid and not declared before.
struct NameSeed<'a> {
    seen: &'a Seen,
}

impl<'de> DeserializeSeed<'de> for NameSeed<'_> {
    type Value = String;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<String, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for NameSeed<'_> {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a parameter name")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<String, E> {
        let mut seen = self.seen.borrow_mut();
        validate_name(name)
            .and_then(|()| check_unique(name, seen.iter().map(String::as_str)))
            .map_err(|e| raise(SchemaErrorKind::Invalid(e)))?;
        seen.push(name.to_string());
        Ok(name.to_string())
    }
}

/// Reads one parameter's spec: a table with a `kind`, or a bare constant.
struct SpecSeed<'a> {
    name: &'a str,
    seen: &'a Seen,
}

impl<'de> DeserializeSeed<'de> for SpecSeed<'_> {
    type Value = Spec;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Spec, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl SpecSeed<'_> {
    fn constant<E: de::Error>(self, value: Value) -> Result<Spec, E> {
        let dist = Dist::Const(value);
        validate_param(self.name, &dist).map_err(|e| raise(SchemaErrorKind::Invalid(e)))?;
        Ok(Spec::Dist(dist))
    }

    fn wrong_type<E: de::Error>(&self, found: &str) -> E {
        raise(SchemaErrorKind::WrongType {
            param: self.name.to_string(),
            field: None,
            expected: "a spec table like `{ kind = \"uniform\", low = 0, high = 1 }` \
                       or a constant (string, number or bool)",
            found: found.to_string(),
        })
    }
}

impl<'de> Visitor<'de> for SpecSeed<'_> {
    type Value = Spec;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a spec table or a constant")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Spec, E> {
        self.constant(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Spec, E> {
        self.constant(Value::Int(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Spec, E> {
        self.constant(scalar_from_u64(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Spec, E> {
        self.constant(Value::Float(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Spec, E> {
        self.constant(Value::Str(v.to_string()))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Spec, A::Error> {
        Err(self.wrong_type("an array"))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Spec, E> {
        Err(self.wrong_type("null"))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Spec, A::Error> {
        let param = self.name;
        let mut kind: Option<&'static str> = None;
        let mut numbers: Vec<(&'static str, Value)> = Vec::new();
        let mut options: Option<Vec<ChoiceOption>> = None;
        let mut value: Option<Value> = None;
        let mut given: Vec<&'static str> = Vec::new();
        while let Some(field) = map.next_key_seed(FieldSeed {
            param,
            kind,
            allowed: kind.map_or_else(|| SPEC_FIELDS.to_vec(), allowed_fields),
        })? {
            if given.contains(&field) {
                return Err(raise(SchemaErrorKind::DuplicateField {
                    param: param.to_string(),
                    field: field.to_string(),
                }));
            }
            given.push(field);
            match field {
                "kind" => kind = Some(map.next_value_seed(KindSeed { param })?),
                "options" => {
                    options = Some(map.next_value_seed(OptionsSeed {
                        param,
                        seen: self.seen,
                    })?);
                }
                "value" => {
                    value = Some(map.next_value_seed(ScalarSeed {
                        param,
                        field,
                        expect: Expect::Scalar,
                    })?);
                }
                _ => {
                    let expect = Expect::for_field(kind, field);
                    let x = map.next_value_seed(ScalarSeed {
                        param,
                        field,
                        expect,
                    })?;
                    numbers.push((field, x));
                }
            }
        }

        let Some(kind) = kind else {
            return Err(raise(SchemaErrorKind::MissingField {
                param: param.to_string(),
                kind: None,
                field: "kind",
            }));
        };
        // Fields read before `kind` could not be checked against it then.
        let allowed = allowed_fields(kind);
        if let Some(field) = given.iter().find(|f| !allowed.contains(f)) {
            return Err(raise(unknown_field(param, Some(kind), field, allowed)));
        }
        let missing = |field: &'static str| {
            raise(SchemaErrorKind::MissingField {
                param: param.to_string(),
                kind: Some(kind),
                field,
            })
        };
        let number = |field: &'static str| -> Result<f64, A::Error> {
            let (_, v) = numbers
                .iter()
                .find(|(f, _)| *f == field)
                .ok_or_else(|| missing(field))?;
            Expect::Number.check(param, field, v)?;
            Ok(v.as_f64().unwrap_or(f64::NAN))
        };
        let integer = |field: &'static str| -> Result<i64, A::Error> {
            let (_, v) = numbers
                .iter()
                .find(|(f, _)| *f == field)
                .ok_or_else(|| missing(field))?;
            Expect::Integer.check(param, field, v)?;
            Ok(i64::from_value(v).unwrap_or_default())
        };
        let spec = match kind {
            "uniform" => Spec::Dist(Dist::Uniform {
                low: number("low")?,
                high: number("high")?,
            }),
            "loguniform" => Spec::Dist(Dist::LogUniform {
                low: number("low")?,
                high: number("high")?,
            }),
            "quniform" => Spec::Dist(Dist::QUniform {
                low: number("low")?,
                high: number("high")?,
                q: number("q")?,
            }),
            "qloguniform" => Spec::Dist(Dist::QLogUniform {
                low: number("low")?,
                high: number("high")?,
                q: number("q")?,
            }),
            "normal" => Spec::Dist(Dist::Normal {
                mu: number("mu")?,
                sigma: number("sigma")?,
            }),
            "lognormal" => Spec::Dist(Dist::LogNormal {
                mu: number("mu")?,
                sigma: number("sigma")?,
            }),
            "randint" => Spec::Dist(Dist::RandInt {
                low: integer("low")?,
                high: integer("high")?,
            }),
            "const" => Spec::Dist(Dist::Const(value.ok_or_else(|| missing("value"))?)),
            _ => Spec::Choice(options.ok_or_else(|| missing("options"))?),
        };
        let checked = match &spec {
            Spec::Dist(dist) => validate_param(param, dist),
            Spec::Choice(options) => validate_param(
                param,
                &Dist::Choice {
                    options: options.iter().map(|o| o.value.clone()).collect(),
                },
            ),
        };
        checked.map_err(|e| raise(SchemaErrorKind::Invalid(e)))?;
        Ok(spec)
    }
}

fn unknown_field(
    param: &str,
    kind: Option<&'static str>,
    field: &str,
    expected: Vec<&'static str>,
) -> SchemaErrorKind {
    SchemaErrorKind::UnknownField {
        param: param.to_string(),
        kind,
        field: field.to_string(),
        suggestion: did_you_mean(field, expected.iter().copied()),
        expected,
    }
}

/// Reads a field name of a spec or option table, rejecting fields not in `allowed`.
struct FieldSeed<'a> {
    param: &'a str,
    kind: Option<&'static str>,
    allowed: Vec<&'static str>,
}

impl<'de> DeserializeSeed<'de> for FieldSeed<'_> {
    type Value = &'static str;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for FieldSeed<'_> {
    type Value = &'static str;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "one of {}", quoted(&self.allowed))
    }

    fn visit_str<E: de::Error>(self, field: &str) -> Result<&'static str, E> {
        match self.allowed.iter().find(|f| **f == field) {
            Some(f) => Ok(f),
            None => Err(raise(unknown_field(
                self.param,
                self.kind,
                field,
                self.allowed,
            ))),
        }
    }
}

/// Reads a spec's `kind`.
struct KindSeed<'a> {
    param: &'a str,
}

impl<'de> DeserializeSeed<'de> for KindSeed<'_> {
    type Value = &'static str;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        let value = ScalarSeed {
            param: self.param,
            field: "kind",
            expect: Expect::Kind,
        }
        .deserialize(deserializer)?;
        // `Expect::Kind` has already rejected anything but a known kind's name.
        match value {
            Value::Str(kind) => KINDS.iter().find(|k| **k == kind).copied(),
            _ => None,
        }
        .ok_or_else(|| de::Error::custom("a kind was accepted that is not in KINDS"))
    }
}

/// What a scalar field accepts.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// An integer, or a real with an integral value.
    Integer,
    /// An integer or a real.
    Number,
    /// One of [`KINDS`].
    Kind,
    /// A string, number or bool.
    Scalar,
}

impl Expect {
    /// What a numeric field of `kind` accepts; with `kind` not yet known, any number, and
    /// the stricter check waits until the end of the table.
    fn for_field(kind: Option<&str>, field: &str) -> Expect {
        match (kind, field) {
            (Some("randint"), "low" | "high") => Expect::Integer,
            _ => Expect::Number,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Expect::Integer => "an integer",
            Expect::Number => "a number",
            Expect::Kind => "a string naming the kind",
            Expect::Scalar => "a string, number or bool",
        }
    }

    /// Checks `value` of `param.field`, raising the typed error where it does not fit.
    fn check<E: de::Error>(self, param: &str, field: &'static str, value: &Value) -> Result<(), E> {
        let fits = match self {
            Expect::Integer => i64::from_value(value).is_some(),
            Expect::Number => value.as_f64().is_some(),
            Expect::Kind => match value {
                Value::Str(found) => {
                    if KINDS.contains(&found.as_str()) {
                        true
                    } else {
                        return Err(raise(SchemaErrorKind::UnknownKind {
                            param: param.to_string(),
                            found: found.clone(),
                            suggestion: did_you_mean(found, KINDS),
                        }));
                    }
                }
                _ => false,
            },
            Expect::Scalar => true,
        };
        if fits {
            Ok(())
        } else {
            Err(self.wrong_type(param, field, &describe(value)))
        }
    }

    fn wrong_type<E: de::Error>(self, param: &str, field: &'static str, found: &str) -> E {
        raise(SchemaErrorKind::WrongType {
            param: param.to_string(),
            field: Some(field),
            expected: self.describe(),
            found: found.to_string(),
        })
    }
}

/// Integers beyond `i64` are kept as the nearest real, so they still read as numbers.
fn scalar_from_u64(v: u64) -> Value {
    i64::try_from(v).map_or(Value::Float(v as f64), Value::Int)
}

/// Reads one scalar field, checked against `expect` while it is read.
struct ScalarSeed<'a> {
    param: &'a str,
    field: &'static str,
    expect: Expect,
}

impl<'de> DeserializeSeed<'de> for ScalarSeed<'_> {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl ScalarSeed<'_> {
    fn scalar<E: de::Error>(self, value: Value) -> Result<Value, E> {
        self.expect.check(self.param, self.field, &value)?;
        Ok(value)
    }
}

impl<'de> Visitor<'de> for ScalarSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expect.describe())
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        self.scalar(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        self.scalar(Value::Int(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        self.scalar(scalar_from_u64(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        self.scalar(Value::Float(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        self.scalar(Value::Str(v.to_string()))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Value, A::Error> {
        Err(self.expect.wrong_type(self.param, self.field, "an array"))
    }

    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<Value, A::Error> {
        Err(self.expect.wrong_type(self.param, self.field, "a table"))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Err(self.expect.wrong_type(self.param, self.field, "null"))
    }
}

/// Reads a choice's `options` array.
struct OptionsSeed<'a> {
    param: &'a str,
    seen: &'a Seen,
}

impl<'de> DeserializeSeed<'de> for OptionsSeed<'_> {
    type Value = Vec<ChoiceOption>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl OptionsSeed<'_> {
    fn wrong_type<E: de::Error>(&self, found: &str) -> E {
        raise(SchemaErrorKind::WrongType {
            param: self.param.to_string(),
            field: Some("options"),
            expected: "an array of options",
            found: found.to_string(),
        })
    }
}

impl<'de> Visitor<'de> for OptionsSeed<'_> {
    type Value = Vec<ChoiceOption>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of options")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut options = Vec::new();
        while let Some(option) = seq.next_element_seed(OptionSeed {
            param: self.param,
            seen: self.seen,
        })? {
            options.push(option);
        }
        Ok(options)
    }

    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        Err(self.wrong_type("a table"))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Err(self.wrong_type(&describe(&Value::Bool(v))))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Err(self.wrong_type(&describe(&Value::Int(v))))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Err(self.wrong_type(&describe(&scalar_from_u64(v))))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Err(self.wrong_type(&describe(&Value::Float(v))))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Err(self.wrong_type(&format!("the string {v:?}")))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Err(self.wrong_type("null"))
    }
}

/// Reads one choice option: a plain value, or `{ value = ..., space = { ... } }`.
struct OptionSeed<'a> {
    param: &'a str,
    seen: &'a Seen,
}

impl<'de> DeserializeSeed<'de> for OptionSeed<'_> {
    type Value = ChoiceOption;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for OptionSeed<'_> {
    type Value = ChoiceOption;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string, number, bool, or `{ value = ..., space = { ... } }`")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<ChoiceOption, E> {
        Ok(Value::Bool(v).into())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<ChoiceOption, E> {
        Ok(Value::Int(v).into())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<ChoiceOption, E> {
        Ok(scalar_from_u64(v).into())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<ChoiceOption, E> {
        Ok(Value::Float(v).into())
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<ChoiceOption, E> {
        Ok(Value::Str(v.to_string()).into())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<ChoiceOption, A::Error> {
        Err(raise(SchemaErrorKind::WrongType {
            param: self.param.to_string(),
            field: Some("options"),
            expected: "options that are strings, numbers, bools, or \
                       `{ value = ..., space = { ... } }`",
            found: "an array".to_string(),
        }))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ChoiceOption, A::Error> {
        let param = self.param;
        let mut value = None;
        let mut space = None;
        while let Some(field) = map.next_key_seed(FieldSeed {
            param,
            kind: None,
            allowed: OPTION_FIELDS.to_vec(),
        })? {
            let duplicate = match field {
                "value" => value
                    .replace(map.next_value_seed(ScalarSeed {
                        param,
                        field,
                        expect: Expect::Scalar,
                    })?)
                    .is_some(),
                _ => space
                    .replace(map.next_value_seed(SpaceSeed {
                        seen: self.seen,
                        parent: Some(param),
                    })?)
                    .is_some(),
            };
            if duplicate {
                return Err(raise(SchemaErrorKind::DuplicateField {
                    param: param.to_string(),
                    field: field.to_string(),
                }));
            }
        }
        let value = value.ok_or_else(|| {
            raise(SchemaErrorKind::MissingField {
                param: param.to_string(),
                kind: None,
                field: "value",
            })
        })?;
        Ok(ChoiceOption::new(value, space.unwrap_or_default()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let e = toml_err("x = { kind = \"uniform\", low = \"0\", high = 1 }");
        assert_eq!(at(&e), (1, 31));
        assert!(
            e.to_string()
                .contains("`low` must be a number, found the string \"0\""),
            "{e}"
        );
        let e = toml_err("x = { kind = 3 }");
        assert!(
            e.to_string()
                .contains("`kind` must be a string naming the kind, found the integer 3"),
            "{e}"
        );
        let e = toml_err("x = { kind = \"randint\", low = 1.5, high = 3 }");
        assert_eq!(at(&e), (1, 31));
        assert!(
            e.to_string()
                .contains("`low` must be an integer, found the float 1.5"),
            "{e}"
        );
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
        let e = toml_err("x = [1, 2]");
        assert!(e.to_string().contains("must be a spec table like"), "{e}");
        let e = toml_err("x = { kind = \"choice\", options = \"a\" }");
        assert!(
            e.to_string()
                .contains("`options` must be an array of options"),
            "{e}"
        );
        let e = toml_err("x = { kind = \"choice\", options = [{ value = \"a\", space = 3 }] }");
        assert!(
            e.to_string()
                .contains("`space` must be a table of `name = spec` entries"),
            "{e}"
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

        let e = toml_err("\nx = { kind = \"uniform\", low = 2, high = 1 }");
        assert_eq!(at(&e), (2, 5));
        assert!(
            e.to_string()
                .contains("parameter `x`: uniform needs low < high, got low = 2, high = 1"),
            "{e}"
        );
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
        let e = json_err(
            r#"{"m": {"kind": "choice", "options": [
                {"value": "a", "space": {"lr": 1}},
                {"value": "b", "space": {"lr": 2}}]}}"#,
        );
        assert_eq!(e.line(), Some(3));
        assert!(
            e.to_string().contains("parameter `lr` is declared twice"),
            "{e}"
        );
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
