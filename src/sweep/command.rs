//! The command a sweep runs per trial: a template with `{name}` placeholders, split into
//! argv once, filled per trial.
//!
//! # Syntax
//!
//! - `{name}` is replaced by the trial's value of parameter `name`: strings bare, numbers in
//!   their shortest round-trip form (`0.001`, `6`), bools as `true`/`false`.
//! - `{name?}` is for parameters that exist only under some choice: when the parameter is
//!   inactive in a trial, the **whole argument** holding the placeholder is left out (write
//!   `--C={C?}` rather than `--C {C?}`, so the flag goes with its value). A plain `{name}`
//!   naming such a conditional parameter is a config error, since substituting an empty
//!   string silently would be a footgun. Every trial also gets the whole point as JSON in
//!   `HYPERFLOW_PARAMS`, which is the easier route for deeply conditional spaces.
//! - `{{` and `}}` stand for literal braces.
//!
//! Without `shell = true`, the command is split into arguments the way a POSIX shell splits
//! words (single quotes, double quotes, backslash escapes), **before** values are
//! substituted, so a value holding spaces or `; rm -rf ~` stays one argument and is never
//! interpreted. Shell operators (`|`, `>`, `&&`, `$VAR`, ...) are not available without a
//! shell and are rejected when unquoted, with a hint to set `shell = true`.
//!
//! With `shell = true`, the command runs as `sh -c <command>`, and each substituted value
//! is quoted for the shell (`'a b'`), so values still cannot inject code. Do not put quotes
//! around placeholders yourself in that mode.

use std::fmt;

use crate::space::{Point, Space};

/// A piece of one argument (or of the shell script).
#[derive(Debug, Clone, PartialEq)]
enum Segment {
    /// Text taken as is.
    Literal(String),
    /// A placeholder; `offset` is its byte offset in the template, for error messages.
    Param {
        name: String,
        optional: bool,
        offset: usize,
    },
}

/// One argument of the command: literal text and placeholders, concatenated.
#[derive(Debug, Clone, PartialEq)]
struct Word(Vec<Segment>);

#[derive(Debug, Clone, PartialEq)]
enum Form {
    /// Split into arguments at parse time; run directly.
    Argv(Vec<Word>),
    /// Run as `sh -c <script>`.
    Shell(Vec<Segment>),
}

/// A parsed `[command].run` template: `{name}` and `{name?}` placeholders, `{{`/`}}` for braces.
///
/// ```
/// use hyperflow::sweep::CommandTemplate;
/// use hyperflow::{Point, Value};
///
/// let t = CommandTemplate::parse("python3 train.py --model {model} --lr={lr}", false)?;
/// let point = Point::from_entries(vec![
///     ("model".into(), Value::from("x; touch PWNED")),
///     ("lr".into(), Value::from(0.001)),
/// ]);
/// let argv = t.render(&point)?;
/// assert_eq!(argv, ["python3", "train.py", "--model", "x; touch PWNED", "--lr=0.001"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct CommandTemplate {
    source: String,
    form: Form,
}

/// What is wrong with a command template; `offset` is the byte offset in the template.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum TemplateError {
    /// The template has no command in it.
    #[error("the command is empty")]
    Empty,
    /// A `{` without its `}`.
    #[error("unclosed placeholder: `{{` has no matching `}}` (write `{{{{` for a literal brace)")]
    UnclosedPlaceholder {
        /// Byte offset in the template.
        offset: usize,
    },
    /// A `}` that closes nothing.
    #[error("unmatched `}}` (write `}}}}` for a literal brace)")]
    UnmatchedBrace {
        /// Byte offset in the template.
        offset: usize,
    },
    /// `{}` or `{?}`.
    #[error("empty placeholder `{{}}`; write `{{name}}` with the name of a parameter")]
    EmptyPlaceholder {
        /// Byte offset in the template.
        offset: usize,
    },
    /// A quote that is never closed.
    #[error("unterminated {quote} quote")]
    UnterminatedQuote {
        /// `single` or `double`.
        quote: &'static str,
        /// Byte offset in the template.
        offset: usize,
    },
    /// A backslash at the very end.
    #[error("the command ends with a lone backslash")]
    TrailingBackslash {
        /// Byte offset in the template.
        offset: usize,
    },
    /// Shell syntax in a command run without a shell.
    #[error(
        "`{found}` is shell syntax, but the command runs without a shell; set `shell = true` \
         under [command] to run it through `sh -c`, or quote it to pass it literally"
    )]
    ShellSyntax {
        /// What was found.
        found: String,
        /// Byte offset in the template.
        offset: usize,
    },
    /// A placeholder names no parameter of the space.
    #[error(
        "placeholder `{{{name}}}` names no parameter of the space{}",
        hint(suggestion, known)
    )]
    UnknownParam {
        /// The placeholder's name.
        name: String,
        /// Byte offset in the template.
        offset: usize,
        /// The closest known name, if one is close.
        suggestion: Option<String>,
        /// Every parameter of the space.
        known: Vec<String>,
    },
    /// A plain placeholder names a parameter that exists only under some choice.
    #[error(
        "placeholder `{{{name}}}` names a parameter that exists only when `{parent}` = {option}; \
         write `{{{name}?}}` to leave the argument out in trials where it is inactive"
    )]
    Conditional {
        /// The placeholder's name.
        name: String,
        /// The choice it depends on.
        parent: String,
        /// The option of that choice under which it exists.
        option: String,
        /// Byte offset in the template.
        offset: usize,
    },
}

fn hint(suggestion: &Option<String>, known: &[String]) -> String {
    match suggestion {
        Some(s) => format!("; did you mean `{{{s}}}`?"),
        None if known.is_empty() => "; the space has no parameters".to_string(),
        None => {
            let names: Vec<String> = known.iter().map(|n| format!("`{n}`")).collect();
            format!("; expected one of {}", names.join(", "))
        }
    }
}

impl TemplateError {
    /// The byte offset in the template the error points at, if any.
    pub fn offset(&self) -> Option<usize> {
        match *self {
            TemplateError::Empty => None,
            TemplateError::UnclosedPlaceholder { offset }
            | TemplateError::UnmatchedBrace { offset }
            | TemplateError::EmptyPlaceholder { offset }
            | TemplateError::UnterminatedQuote { offset, .. }
            | TemplateError::TrailingBackslash { offset }
            | TemplateError::ShellSyntax { offset, .. }
            | TemplateError::UnknownParam { offset, .. }
            | TemplateError::Conditional { offset, .. } => Some(offset),
        }
    }
}

/// Why a template could not be filled for a point.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RenderError {
    /// A plain placeholder's parameter is missing from the point.
    #[error("the point has no value for placeholder `{{{name}}}`")]
    Missing {
        /// The placeholder's name.
        name: String,
    },
}

impl CommandTemplate {
    /// Parses a template; `shell` runs it through `sh -c` instead of splitting it.
    pub fn parse(source: &str, shell: bool) -> Result<Self, TemplateError> {
        let form = if shell {
            let segments = parse_shell(source)?;
            if segments
                .iter()
                .all(|s| matches!(s, Segment::Literal(t) if t.trim().is_empty()))
            {
                return Err(TemplateError::Empty);
            }
            Form::Shell(segments)
        } else {
            let words = split_words(source)?;
            if words.is_empty() {
                return Err(TemplateError::Empty);
            }
            Form::Argv(words)
        };
        Ok(CommandTemplate {
            source: source.to_string(),
            form,
        })
    }

    /// The template as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether the command runs through `sh -c`.
    pub fn is_shell(&self) -> bool {
        matches!(self.form, Form::Shell(_))
    }

    /// The program to run, when it is a literal (not a placeholder): checked before a
    /// sweep starts so that a missing program is one clear error, not N failed trials.
    pub fn program(&self) -> Option<String> {
        match &self.form {
            Form::Shell(_) => Some("sh".to_string()),
            Form::Argv(words) => {
                let first = words.first()?;
                let mut program = String::new();
                for segment in &first.0 {
                    match segment {
                        Segment::Literal(text) => program.push_str(text),
                        Segment::Param { .. } => return None,
                    }
                }
                Some(program)
            }
        }
    }

    fn segments(&self) -> Box<dyn Iterator<Item = &Segment> + '_> {
        match &self.form {
            Form::Argv(words) => Box::new(words.iter().flat_map(|w| w.0.iter())),
            Form::Shell(segments) => Box::new(segments.iter()),
        }
    }

    /// The names of the placeholders, in order of appearance (repeats included).
    pub fn placeholders(&self) -> impl Iterator<Item = &str> {
        self.segments().filter_map(|s| match s {
            Segment::Param { name, .. } => Some(name.as_str()),
            Segment::Literal(_) => None,
        })
    }

    /// Checks every placeholder against the space: each must name a parameter, and one
    /// naming a conditional parameter must be marked optional (`{name?}`).
    pub fn check(&self, space: &Space) -> Result<(), TemplateError> {
        for segment in self.segments() {
            let Segment::Param {
                name,
                optional,
                offset,
            } = segment
            else {
                continue;
            };
            let Some(index) = space.index_of(name) else {
                let known: Vec<String> = space.params().iter().map(|p| p.name.clone()).collect();
                let suggestion =
                    crate::suggest::did_you_mean(name, known.iter().map(String::as_str))
                        .map(str::to_string);
                return Err(TemplateError::UnknownParam {
                    name: name.clone(),
                    offset: *offset,
                    suggestion,
                    known,
                });
            };
            if let (Some((parent, option)), false) = (space.active_under(index), *optional) {
                return Err(TemplateError::Conditional {
                    name: name.clone(),
                    parent: parent.to_string(),
                    option: option.quoted().to_string(),
                    offset: *offset,
                });
            }
        }
        Ok(())
    }

    /// Fills the template for `point` and returns the argv to execute (`["sh", "-c",
    /// script]` in shell mode).
    pub fn render(&self, point: &Point) -> Result<Vec<String>, RenderError> {
        match &self.form {
            Form::Argv(words) => {
                let mut argv = Vec::with_capacity(words.len());
                'words: for word in words {
                    let mut arg = String::new();
                    for segment in &word.0 {
                        match segment {
                            Segment::Literal(text) => arg.push_str(text),
                            Segment::Param { name, optional, .. } => match point.value(name) {
                                Some(value) => arg.push_str(&value.to_string()),
                                // An inactive optional parameter drops its whole argument.
                                None if *optional => continue 'words,
                                None => return Err(RenderError::Missing { name: name.clone() }),
                            },
                        }
                    }
                    argv.push(arg);
                }
                Ok(argv)
            }
            Form::Shell(segments) => {
                let mut script = String::new();
                for segment in segments {
                    match segment {
                        Segment::Literal(text) => script.push_str(text),
                        Segment::Param { name, optional, .. } => match point.value(name) {
                            Some(value) => script.push_str(&shell_quote(&value.to_string())),
                            None if *optional => {}
                            None => return Err(RenderError::Missing { name: name.clone() }),
                        },
                    }
                }
                Ok(vec!["sh".to_string(), "-c".to_string(), script])
            }
        }
    }
}

impl fmt::Display for CommandTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// Quotes `s` for a POSIX shell: bare when it holds only characters no shell treats
/// specially, single-quoted otherwise (a `'` inside becomes `'\''`).
pub fn shell_quote(s: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "_-./:=+,@%^".contains(c);
    if !s.is_empty() && s.chars().all(safe) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Renders argv as one line a person can paste into a shell (for dry runs and logs).
pub fn display_argv(argv: &[String]) -> String {
    argv.iter()
        .map(|a| shell_quote(a))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Reads a placeholder whose `{` is at byte `start`; returns the segment and the byte
/// offset just past its `}`.
fn placeholder(source: &str, start: usize) -> Result<(Segment, usize), TemplateError> {
    let rest = &source[start + 1..];
    let Some(len) = rest.find(['}', '{']) else {
        return Err(TemplateError::UnclosedPlaceholder { offset: start });
    };
    if rest[len..].starts_with('{') {
        return Err(TemplateError::UnclosedPlaceholder { offset: start });
    }
    let inner = &rest[..len];
    let (name, optional) = match inner.strip_suffix('?') {
        Some(name) => (name, true),
        None => (inner, false),
    };
    if name.is_empty() {
        return Err(TemplateError::EmptyPlaceholder { offset: start });
    }
    Ok((
        Segment::Param {
            name: name.to_string(),
            optional,
            offset: start,
        },
        start + 1 + len + 1,
    ))
}

/// Appends a character to the last literal segment, starting one if needed.
fn push_char(segments: &mut Vec<Segment>, c: char) {
    match segments.last_mut() {
        Some(Segment::Literal(text)) => text.push(c),
        _ => segments.push(Segment::Literal(c.to_string())),
    }
}

/// Handles `{{`, `}}` and placeholders at byte `i`; returns the offset after them, or
/// `None` when the character is not a brace.
fn brace(
    source: &str,
    i: usize,
    segments: &mut Vec<Segment>,
) -> Result<Option<usize>, TemplateError> {
    let rest = &source[i..];
    if rest.starts_with("{{") {
        push_char(segments, '{');
        Ok(Some(i + 2))
    } else if rest.starts_with("}}") {
        push_char(segments, '}');
        Ok(Some(i + 2))
    } else if rest.starts_with('{') {
        let (segment, next) = placeholder(source, i)?;
        segments.push(segment);
        Ok(Some(next))
    } else if rest.starts_with('}') {
        Err(TemplateError::UnmatchedBrace { offset: i })
    } else {
        Ok(None)
    }
}

/// Shell form: the text stays as it is, only braces are interpreted.
fn parse_shell(source: &str) -> Result<Vec<Segment>, TemplateError> {
    let mut segments = Vec::new();
    let mut i = 0;
    while let Some(c) = source[i..].chars().next() {
        match brace(source, i, &mut segments)? {
            Some(next) => i = next,
            None => {
                push_char(&mut segments, c);
                i += c.len_utf8();
            }
        }
    }
    Ok(segments)
}

/// Splits the template into words with POSIX quoting rules, recognising placeholders in
/// every quoting context (they are a layer above the shell syntax).
fn split_words(source: &str) -> Result<Vec<Word>, TemplateError> {
    #[derive(PartialEq)]
    enum Quote {
        None,
        Single(usize),
        Double(usize),
    }
    let mut words = Vec::new();
    let mut current: Vec<Segment> = Vec::new();
    // A word can be empty yet present (`''`), so track "started" apart from content.
    let mut started = false;
    let mut quote = Quote::None;
    let mut i = 0;
    while let Some(c) = source[i..].chars().next() {
        let width = c.len_utf8();
        if c == '{' || c == '}' {
            if let Some(next) = brace(source, i, &mut current)? {
                started = true;
                i = next;
                continue;
            }
        }
        match quote {
            Quote::Single(_) => {
                if c == '\'' {
                    quote = Quote::None;
                } else {
                    push_char(&mut current, c);
                }
            }
            Quote::Double(_) => match c {
                '"' => quote = Quote::None,
                '\\' => {
                    let next = source[i + 1..].chars().next();
                    match next {
                        // Inside double quotes a backslash escapes only these, as in POSIX.
                        Some(n @ ('"' | '\\' | '$' | '`')) => {
                            push_char(&mut current, n);
                            i += 1 + n.len_utf8();
                            continue;
                        }
                        Some('\n') => {
                            i += 2;
                            continue;
                        }
                        _ => push_char(&mut current, '\\'),
                    }
                }
                _ => push_char(&mut current, c),
            },
            Quote::None => match c {
                '\'' => {
                    quote = Quote::Single(i);
                    started = true;
                }
                '"' => {
                    quote = Quote::Double(i);
                    started = true;
                }
                '\\' => match source[i + 1..].chars().next() {
                    Some('\n') => {
                        i += 2;
                        continue;
                    }
                    Some(n) => {
                        push_char(&mut current, n);
                        started = true;
                        i += 1 + n.len_utf8();
                        continue;
                    }
                    None => return Err(TemplateError::TrailingBackslash { offset: i }),
                },
                c if c.is_whitespace() => {
                    if started {
                        words.push(Word(std::mem::take(&mut current)));
                        started = false;
                    }
                }
                '|' | '&' | ';' | '<' | '>' | '`' | '$' | '(' | ')' => {
                    let found = if c == '$' {
                        let name: String = source[i + 1..]
                            .chars()
                            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '{')
                            .collect();
                        format!("${name}")
                    } else {
                        let repeated = source[i..].chars().take_while(|&d| d == c).count();
                        c.to_string().repeat(repeated.min(2))
                    };
                    return Err(TemplateError::ShellSyntax { found, offset: i });
                }
                _ => {
                    push_char(&mut current, c);
                    started = true;
                }
            },
        }
        i += width;
    }
    match quote {
        Quote::Single(offset) => Err(TemplateError::UnterminatedQuote {
            quote: "single",
            offset,
        }),
        Quote::Double(offset) => Err(TemplateError::UnterminatedQuote {
            quote: "double",
            offset,
        }),
        Quote::None => {
            if started {
                words.push(Word(current));
            }
            Ok(words)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::Value;

    fn point(entries: &[(&str, Value)]) -> Point {
        Point::from_entries(
            entries
                .iter()
                .map(|(n, v)| (n.to_string(), v.clone()))
                .collect(),
        )
    }

    fn argv(template: &str, p: &Point) -> Vec<String> {
        CommandTemplate::parse(template, false)
            .unwrap()
            .render(p)
            .unwrap()
    }

    #[test]
    fn splits_like_a_posix_shell() {
        let p = Point::default();
        assert_eq!(argv("a  b\tc", &p), ["a", "b", "c"]);
        assert_eq!(
            argv(r#"a 'b c' "d e" f\ g"#, &p),
            ["a", "b c", "d e", "f g"]
        );
        assert_eq!(argv(r#"a '' "" b"#, &p), ["a", "", "", "b"]);
        assert_eq!(
            argv(r#"a "x\"y" 'x\y' x\\y"#, &p),
            ["a", "x\"y", "x\\y", "x\\y"]
        );
        assert_eq!(argv(r#"a"b"'c'd"#, &p), ["abcd"]);
        assert_eq!(argv("a 'it''s'", &p), ["a", "its"]);
        assert_eq!(argv("échec 'ü b'", &p), ["échec", "ü b"]);
    }

    #[test]
    fn substitutes_after_splitting() {
        let p = point(&[
            ("model", Value::from("x; touch PWNED")),
            ("lr", Value::Float(1e-5)),
            ("depth", Value::Int(6)),
            ("flag", Value::Bool(true)),
            ("q", Value::Float(4.0)),
        ]);
        assert_eq!(
            argv("run --model {model} --lr={lr} -d {depth} {flag} {q}", &p),
            [
                "run",
                "--model",
                "x; touch PWNED",
                "--lr=0.00001",
                "-d",
                "6",
                "true",
                "4"
            ]
        );
        assert_eq!(
            argv("run '{model}' \"a {depth}\"", &p),
            ["run", "x; touch PWNED", "a 6"]
        );
    }

    #[test]
    fn escapes_braces() {
        let p = point(&[("x", Value::Int(1))]);
        assert_eq!(
            argv("echo {{x}} {{{x}}} }}", &p),
            ["echo", "{x}", "{1}", "}"]
        );
    }

    #[test]
    fn optional_placeholders_drop_their_argument() {
        let p = point(&[("a", Value::Int(1))]);
        assert_eq!(
            argv("run --a={a?} --c={c?} end", &p),
            ["run", "--a=1", "end"]
        );
        let t = CommandTemplate::parse("run {c}", false).unwrap();
        assert_eq!(t.render(&p), Err(RenderError::Missing { name: "c".into() }));
    }

    #[test]
    fn shell_form_quotes_values() {
        let p = point(&[("m", Value::from("x; touch PWNED")), ("n", Value::Int(3))]);
        let t = CommandTemplate::parse("echo {m} {n} | wc -c > out", true).unwrap();
        assert_eq!(
            t.render(&p).unwrap(),
            ["sh", "-c", "echo 'x; touch PWNED' 3 | wc -c > out"]
        );
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("a-b_c.d/1"), "a-b_c.d/1");
    }

    #[test]
    fn reports_syntax_errors_with_offsets() {
        let err = |s: &str| CommandTemplate::parse(s, false).unwrap_err();
        assert_eq!(err(""), TemplateError::Empty);
        assert_eq!(err("   "), TemplateError::Empty);
        assert_eq!(
            err("a {lr"),
            TemplateError::UnclosedPlaceholder { offset: 2 }
        );
        assert_eq!(err("a lr}"), TemplateError::UnmatchedBrace { offset: 4 });
        assert_eq!(err("a {}"), TemplateError::EmptyPlaceholder { offset: 2 });
        assert_eq!(
            err("a 'b"),
            TemplateError::UnterminatedQuote {
                quote: "single",
                offset: 2
            }
        );
        assert_eq!(err("a \\"), TemplateError::TrailingBackslash { offset: 2 });
        assert_eq!(
            err("a > log"),
            TemplateError::ShellSyntax {
                found: ">".into(),
                offset: 2
            }
        );
        assert_eq!(
            err("a && b"),
            TemplateError::ShellSyntax {
                found: "&&".into(),
                offset: 2
            }
        );
        assert_eq!(
            err("echo $HOME"),
            TemplateError::ShellSyntax {
                found: "$HOME".into(),
                offset: 5
            }
        );
        // Quoted, the same characters are literal.
        assert_eq!(
            argv("a '>' \"|\" \\;", &Point::default()),
            ["a", ">", "|", ";"]
        );
    }

    #[test]
    fn checks_placeholders_against_the_space() {
        let space = Space::builder()
            .loguniform("lr", 1e-5, 1e-1)
            .choice(
                "model",
                [
                    ("svm", Space::builder().loguniform("C", 1e-2, 1e3)),
                    ("tree", Space::builder()),
                ],
            )
            .build()
            .unwrap();
        let check = |s: &str| CommandTemplate::parse(s, false).unwrap().check(&space);
        assert_eq!(check("run {lr} {model} --C={C?}"), Ok(()));
        let e = check("run {lrr}").unwrap_err();
        assert_eq!(e.offset(), Some(4));
        assert!(e.to_string().contains("did you mean `{lr}`?"), "{e}");
        let e = check("run {zzz}").unwrap_err();
        assert!(
            e.to_string().contains("expected one of `lr`, `model`, `C`"),
            "{e}"
        );
        let e = check("run --C={C}").unwrap_err();
        assert!(matches!(e, TemplateError::Conditional { offset: 8, .. }));
        assert!(e.to_string().contains("`model` = \"svm\""), "{e}");
        assert_eq!(
            CommandTemplate::parse("run {lr}", false).unwrap().program(),
            Some("run".into())
        );
        assert_eq!(
            CommandTemplate::parse("{lr} x", false).unwrap().program(),
            None
        );
    }
}
