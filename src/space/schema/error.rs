//! Schema errors: what went wrong, where, and how to render it like a compiler.

use std::cell::RefCell;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::de;

use super::{KINDS, OPTION_FIELDS, fields_of};
use crate::diagnostic::Snippet;
use crate::space::SpaceError;

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
    /// duplicate names, ...), as [`SpaceBuilder::build`](crate::space::SpaceBuilder::build) would report it.
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

pub(super) fn quoted(names: &[&str]) -> String {
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
pub struct SchemaError(Box<Located>);

/// The parts of a [`SchemaError`], boxed so that results stay small.
#[derive(Debug, Clone, PartialEq)]
struct Located {
    kind: SchemaErrorKind,
    file: Option<PathBuf>,
    snippet: Option<Snippet>,
}

impl SchemaError {
    pub(super) fn new(kind: SchemaErrorKind) -> Self {
        SchemaError(Box::new(Located {
            kind,
            file: None,
            snippet: None,
        }))
    }

    /// What is wrong.
    pub fn kind(&self) -> &SchemaErrorKind {
        &self.0.kind
    }

    /// The file the space was read from, for [`Space::from_path`](crate::space::Space::from_path).
    pub fn file(&self) -> Option<&Path> {
        self.0.file.as_deref()
    }

    /// The line (from 1) of the problem, when known.
    pub fn line(&self) -> Option<usize> {
        self.0.snippet.as_ref().map(Snippet::line)
    }

    /// The column (from 1, in characters) of the problem, when known.
    pub fn column(&self) -> Option<usize> {
        self.0.snippet.as_ref().map(Snippet::column)
    }

    pub(super) fn in_file(mut self, file: &Path) -> Self {
        self.0.file = Some(file.to_path_buf());
        self
    }

    /// Converts a `toml` error met while reading `source` (a whole space, or a document
    /// embedding one, such as a sweep config with a `[space]` table) into a located error.
    pub(crate) fn from_toml(error: &toml::de::Error, source: &str) -> Self {
        let kind = raised_in_toml(error).unwrap_or_else(|| SchemaErrorKind::Syntax {
            message: error.message().trim_end().to_string(),
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
            located.locate(source, start..start + 1);
        }
        located
    }

    /// Records where `span` (byte offsets into `source`) is, with its line and a caret.
    fn locate(&mut self, source: &str, span: Range<usize>) {
        self.0.snippet = Some(Snippet::new(source, span));
    }
}

/// The byte offset where line `line` (from 1) begins.
fn line_start(source: &str, line: usize) -> usize {
    if line <= 1 {
        return 0;
    }
    source
        .match_indices('\n')
        .nth(line - 2)
        .map_or(source.len(), |(i, _)| i + 1)
}

impl fmt::Display for SchemaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.0.file, &self.0.snippet) {
            (Some(file), Some(at)) => {
                write!(f, "{}:{}:{}: ", file.display(), at.line(), at.column())?;
            }
            (Some(file), None) => write!(f, "{}: ", file.display())?,
            (None, Some(at)) => write!(f, "line {}, column {}: ", at.line(), at.column())?,
            (None, None) => {}
        }
        write!(f, "{}", self.0.kind)?;
        if let Some(snippet) = &self.0.snippet {
            write!(f, "\n{snippet}")?;
        }
        Ok(())
    }
}

/// No `source`: the message already includes the underlying [`SpaceError`], and error
/// reporters that walk the chain would print it twice.
impl std::error::Error for SchemaError {}

thread_local! {
    /// The typed error behind the last `de::Error::custom` this module raised on this
    /// thread. serde errors carry only a message, so the typed kind travels beside it and
    /// is picked up again (if its message matches) once `toml` or `serde_json` has added
    /// the position.
    static RAISED: RefCell<Option<SchemaErrorKind>> = const { RefCell::new(None) };
}

/// Raises `kind` as a serde error, keeping the typed kind for [`take_raised`].
pub(super) fn raise<E: de::Error>(kind: SchemaErrorKind) -> E {
    let error = E::custom(&kind);
    RAISED.with(|r| *r.borrow_mut() = Some(kind));
    error
}

/// Drops a typed kind left behind by an earlier parse (one embedded in a larger document
/// whose error was never converted here), so it cannot be mistaken for the next one. Call
/// it before reading a document that embeds a space.
pub(crate) fn forget_raised() {
    RAISED.with(|r| r.borrow_mut().take());
}

/// The typed kind of a `toml` error, if this module raised it: `None` for an error that is
/// not about a space (in a document that embeds one, an error of the document's own).
pub(crate) fn raised_in_toml(error: &toml::de::Error) -> Option<SchemaErrorKind> {
    take_raised(error.message().trim_end())
}

/// The typed kind of the error whose message is `message`, if this module raised it.
fn take_raised(message: &str) -> Option<SchemaErrorKind> {
    RAISED
        .with(|r| r.borrow_mut().take())
        .filter(|kind| kind.to_string() == message)
}
