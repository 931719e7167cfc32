//! The sweep config file (`sweep.toml`), read once into validated types.
//!
//! ```toml
//! [experiment]
//! name = "rf-depth"                    # required; created if missing
//!
//! [command]
//! run = "python3 train.py --lr {lr} --max-depth {max_depth} --model {model}"   # required
//! workdir = "."                        # relative to this file (default: its directory)
//! env = { PYTHONUNBUFFERED = "1" }     # extra environment variables
//! timeout = "10m"                      # per trial (default: none)
//! kill_grace = "5s"                    # SIGTERM -> SIGKILL grace period (default 5s)
//! shell = false                        # true runs `sh -c <run>` (default false)
//!
//! [objective]
//! metric = "val_loss"                  # required: the metric the search optimizes
//! direction = "minimize"               # or "maximize" (default minimize)
//!
//! [search]
//! algo = "tpe"                         # tpe | random | grid (default tpe)
//! max_evals = 50                       # total trials (default 100)
//! parallel = 4                         # trials at once (default 1)
//! seed = 42                            # default: drawn from the clock and reported
//! schedule = "async"                   # or "batch": reproducible with parallel > 1
//! early_stop_after = 20                # stop after 20 trials without improvement
//! timeout = "2h"                       # start no trial after this (default: none)
//! loss_threshold = 0.05                # stop once the objective reaches this
//!
//! [space]                              # the schema of `space::schema`
//! lr = { kind = "loguniform", low = 1e-5, high = 1e-1 }
//! max_depth = { kind = "randint", low = 2, high = 17 }
//! model = { kind = "choice", options = ["rf", "gbt"] }
//! ```
//!
//! Durations are written as a number and a unit, components added up: `"250ms"`, `"30s"`,
//! `"10m"`, `"1h30m"`, `"1.5h"`, `"2d"` (see [`parse_duration`]).
//!
//! Every problem is reported as a [`ConfigError`] with the file, line and column, the
//! offending line with a caret under the problem, what is accepted there, and a "did you
//! mean" for misspelt keys. Command-line overrides ([`Overrides`]) are applied to the
//! document before it is validated, so they get the same checks and messages, pointing
//! at the argument instead of the file.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::command::{CommandTemplate, TemplateError};
use crate::fmin::Schedule;
use crate::space::{SchemaError, SchemaErrorKind, Space};
use crate::suggest::did_you_mean;
use crate::trials::Direction;

/// The samplers a config may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Algo {
    /// Tree-structured Parzen estimator.
    Tpe,
    /// Random search.
    Random,
    /// Grid search.
    Grid,
}

impl Algo {
    /// Every algorithm, in the order error messages list them.
    pub const ALL: [Algo; 3] = [Algo::Tpe, Algo::Random, Algo::Grid];

    /// The name as written in configs (`"tpe"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Algo::Tpe => "tpe",
            Algo::Random => "random",
            Algo::Grid => "grid",
        }
    }
}

/// `[command]`: what runs per trial.
#[derive(Debug, Clone)]
pub struct CommandConfig {
    template: CommandTemplate,
    workdir: PathBuf,
    env: Vec<(String, String)>,
    timeout: Option<Duration>,
    kill_grace: Duration,
}

impl CommandConfig {
    /// The parsed `run` template, its placeholders checked against the space.
    pub fn template(&self) -> &CommandTemplate {
        &self.template
    }

    /// The directory trials run in (absolute).
    pub fn workdir(&self) -> &Path {
        &self.workdir
    }

    /// Extra environment variables, in file order.
    pub fn env(&self) -> &[(String, String)] {
        &self.env
    }

    /// The time limit of one trial.
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// How long a trial gets between SIGTERM and SIGKILL when it is stopped.
    pub fn kill_grace(&self) -> Duration {
        self.kill_grace
    }
}

/// `[objective]`: what the search optimizes.
#[derive(Debug, Clone)]
pub struct ObjectiveConfig {
    metric: String,
    direction: Direction,
}

impl ObjectiveConfig {
    /// The metric's name, as the command prints it.
    pub fn metric(&self) -> &str {
        &self.metric
    }

    /// Whether lower or higher is better.
    pub fn direction(&self) -> Direction {
        self.direction
    }
}

/// `[search]`: how the search runs.
#[derive(Debug, Clone)]
pub struct SearchConfig {
    algo: Algo,
    max_evals: usize,
    parallel: usize,
    seed: Option<u64>,
    schedule: Schedule,
    early_stop_after: Option<usize>,
    timeout: Option<Duration>,
    loss_threshold: Option<f64>,
}

impl SearchConfig {
    /// The sampler.
    pub fn algo(&self) -> Algo {
        self.algo
    }

    /// The total number of trials, earlier ones of a resumed sweep included.
    pub fn max_evals(&self) -> usize {
        self.max_evals
    }

    /// How many trials run at once.
    pub fn parallel(&self) -> usize {
        self.parallel
    }

    /// The seed, if one was given.
    pub fn seed(&self) -> Option<u64> {
        self.seed
    }

    /// How trials are scheduled.
    pub fn schedule(&self) -> Schedule {
        self.schedule
    }

    /// Stop after this many trials without improvement.
    pub fn early_stop_after(&self) -> Option<usize> {
        self.early_stop_after
    }

    /// Start no trial after this long.
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// Stop once the objective reaches this value.
    pub fn loss_threshold(&self) -> Option<f64> {
        self.loss_threshold
    }
}

/// A validated sweep config; see the [module docs](self) for the file format.
#[derive(Debug, Clone)]
pub struct SweepConfig {
    path: PathBuf,
    experiment: String,
    command: CommandConfig,
    objective: ObjectiveConfig,
    search: SearchConfig,
    space: Space,
}

impl SweepConfig {
    /// Reads and validates a config file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        Self::load_with(path, &Overrides::default())
    }

    /// Reads a config file, applies command-line overrides, and validates the result.
    pub fn load_with(path: impl AsRef<Path>, overrides: &Overrides) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let source = std::fs::read_to_string(path).map_err(|e| {
            ConfigError(Box::new(ErrorParts {
                kind: ConfigErrorKind::Io {
                    path: path.to_path_buf(),
                    message: e.to_string(),
                },
                file: None,
                location: None,
            }))
        })?;
        Self::from_toml_str(&source, path, overrides)
    }

    /// Validates a config given as text; `path` names it in errors, and relative
    /// `workdir`s are resolved against its directory.
    pub fn from_toml_str(
        source: &str,
        path: &Path,
        overrides: &Overrides,
    ) -> Result<Self, ConfigError> {
        // Overrides are appended to the text, one line each, so that every span, from
        // the file or from the command line, points into one string.
        let mut combined = source.to_string();
        if !combined.ends_with('\n') {
            combined.push('\n');
        }
        let file_len = combined.len();
        let mut assignments = Vec::new();
        for arg in overrides.arguments() {
            let start = combined.len();
            combined.push_str(&arg);
            combined.push('\n');
            assignments.push(start..start + arg.len());
        }
        let doc = Doc {
            source: &combined,
            file_len,
            path,
        };
        let mut root = DeTable::parse(&combined[..file_len])
            .map_err(|e| doc.toml_error(&e, ConfigErrorKind::syntax))?;
        for line in assignments {
            doc.apply_override(root.get_mut(), line)?;
        }
        doc.validate(root)
    }

    /// The config file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The experiment's name.
    pub fn experiment(&self) -> &str {
        &self.experiment
    }

    /// `[command]`.
    pub fn command(&self) -> &CommandConfig {
        &self.command
    }

    /// `[objective]`.
    pub fn objective(&self) -> &ObjectiveConfig {
        &self.objective
    }

    /// `[search]`.
    pub fn search(&self) -> &SearchConfig {
        &self.search
    }

    /// `[space]`.
    pub fn space(&self) -> &Space {
        &self.space
    }
}

/// Command-line changes to a config, applied before validation.
///
/// ```
/// use hyperflow::sweep::Overrides;
///
/// let overrides = Overrides::default()
///     .set("search.algo=random")
///     .max_evals(5)
///     .seed(1);
/// assert_eq!(overrides.arguments().count(), 3);
/// ```
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    set: Vec<String>,
    max_evals: Option<usize>,
    parallel: Option<usize>,
    seed: Option<u64>,
}

impl Overrides {
    /// Adds a `dotted.key=value` assignment (`--set`). The value is read as a TOML value
    /// (`5`, `true`, `"text"`, `{ kind = "uniform", low = 0, high = 1 }`), or as a string
    /// when it is not one (`search.algo=random`).
    pub fn set(mut self, assignment: impl Into<String>) -> Self {
        self.set.push(assignment.into());
        self
    }

    /// Overrides `search.max_evals` (`--max-evals`).
    pub fn max_evals(mut self, n: usize) -> Self {
        self.max_evals = Some(n);
        self
    }

    /// Overrides `search.parallel` (`--parallel`).
    pub fn parallel(mut self, n: usize) -> Self {
        self.parallel = Some(n);
        self
    }

    /// Overrides `search.seed` (`--seed`).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// The overrides as `key=value` assignments, typed ones last (so they win), as
    /// error messages show them.
    pub fn arguments(&self) -> impl Iterator<Item = String> + '_ {
        let typed = [
            self.max_evals.map(|n| format!("search.max_evals={n}")),
            self.parallel.map(|n| format!("search.parallel={n}")),
            self.seed.map(|n| format!("search.seed={n}")),
        ];
        self.set.iter().cloned().chain(typed.into_iter().flatten())
    }
}

/// Where in the config (or on the command line) a problem is.
#[derive(Debug, Clone, PartialEq)]
pub struct Location {
    /// The config file, or the override argument (`search.algo=rnd`).
    pub origin: Origin,
    /// The line, from 1 (1 for an override).
    pub line: usize,
    /// The column, from 1, in characters.
    pub column: usize,
    snippet: String,
}

/// Where a located problem comes from.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Origin {
    /// The config file.
    File(PathBuf),
    /// A command-line override, as written.
    Override(String),
}

/// Why a sweep config is not valid: what, where, and what is accepted.
///
/// Displayed like a compiler diagnostic:
///
/// ```text
/// sweep.toml:12:1: unknown key `max_eval` in [search]; expected one of `algo`, `max_evals`, ...; did you mean `max_evals`?
///    |
/// 12 | max_eval = 50
///    | ^^^^^^^^
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError(Box<ErrorParts>);

/// Boxed, so that results carrying a `ConfigError` stay small.
#[derive(Debug, Clone, PartialEq)]
struct ErrorParts {
    kind: ConfigErrorKind,
    /// The file, for problems that have no line (a missing key).
    file: Option<PathBuf>,
    location: Option<Location>,
}

impl ConfigError {
    /// What is wrong.
    pub fn kind(&self) -> &ConfigErrorKind {
        &self.0.kind
    }

    /// Where, when known.
    pub fn location(&self) -> Option<&Location> {
        self.0.location.as_ref()
    }

    /// The line (from 1), when the problem is in the file.
    pub fn line(&self) -> Option<usize> {
        self.0
            .location
            .as_ref()
            .filter(|l| matches!(l.origin, Origin::File(_)))
            .map(|l| l.line)
    }

    /// The column (from 1), when the problem is located.
    pub fn column(&self) -> Option<usize> {
        self.0.location.as_ref().map(|l| l.column)
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0.location {
            Some(Location {
                origin: Origin::File(path),
                line,
                column,
                ..
            }) => write!(f, "{}:{line}:{column}: ", path.display())?,
            Some(Location {
                origin: Origin::Override(arg),
                column,
                ..
            }) => write!(f, "in override `{arg}` (column {column}): ")?,
            None => {
                if let Some(file) = &self.0.file {
                    write!(f, "{}: ", file.display())?;
                }
            }
        }
        write!(f, "{}", self.0.kind)?;
        if let Some(location) = &self.0.location {
            write!(f, "\n{}", location.snippet)?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.0.kind {
            ConfigErrorKind::Template(e) => Some(e),
            _ => None,
        }
    }
}

/// What is wrong with a sweep config (see [`ConfigError`] for where).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigErrorKind {
    /// The file could not be read.
    #[error("cannot read the sweep config {}: {message}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying description.
        message: String,
    },
    /// The text is not valid TOML.
    #[error("{message}")]
    Syntax {
        /// The underlying description.
        message: String,
    },
    /// A key the config does not have.
    #[error(
        "unknown key `{key}` in {section}; expected {}{}",
        one_of(expected),
        suggestion.map_or_else(String::new, |s| format!("; did you mean `{s}`?"))
    )]
    UnknownKey {
        /// The key, dotted (`search.max_evals`).
        key: String,
        /// The section it is in (`[search]`, or the top level).
        section: String,
        /// What is accepted there.
        expected: Vec<&'static str>,
        /// The closest known name, if one is close.
        suggestion: Option<&'static str>,
    },
    /// A required key is missing.
    #[error("missing `{key}`: {expected}")]
    MissingKey {
        /// The key, dotted (`search.max_evals`).
        key: &'static str,
        /// What is accepted there.
        expected: &'static str,
    },
    /// A value of the wrong type.
    #[error("`{key}` must be {expected}, found {found}")]
    WrongType {
        /// The key, dotted (`search.max_evals`).
        key: String,
        /// What is accepted there.
        expected: &'static str,
        /// What was found.
        found: String,
    },
    /// A value of the right type that is not accepted.
    #[error(
        "`{key}` = {found} is not valid: expected {expected}{}",
        suggestion.as_ref().map_or_else(String::new, |s| format!("; did you mean `{s}`?"))
    )]
    InvalidValue {
        /// The key, dotted (`search.max_evals`).
        key: String,
        /// What was found.
        found: String,
        /// What is accepted there.
        expected: String,
        /// The closest known name, if one is close.
        suggestion: Option<String>,
    },
    /// The `[space]` table is not a valid space.
    #[error("in [space]: {0}")]
    Space(SchemaErrorKind),
    /// `[command].run` is not a valid template.
    #[error("in `command.run`: {0}")]
    Template(TemplateError),
    /// A command-line override is malformed.
    #[error("override `{argument}`: {reason}")]
    BadOverride {
        /// The override as given.
        argument: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl ConfigErrorKind {
    fn syntax(message: String) -> Self {
        ConfigErrorKind::Syntax { message }
    }
}

fn one_of(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match quoted.len() {
        0 => "no keys here".to_string(),
        1 => quoted[0].clone(),
        _ => format!("one of {}", quoted.join(", ")),
    }
}

/// The text all spans point into: the file, then one line per override.
struct Doc<'s> {
    source: &'s str,
    file_len: usize,
    path: &'s Path,
}

const SECTIONS: [&str; 5] = ["experiment", "command", "objective", "search", "space"];
const EXPERIMENT_KEYS: [&str; 1] = ["name"];
const COMMAND_KEYS: [&str; 6] = ["run", "workdir", "env", "timeout", "kill_grace", "shell"];
const OBJECTIVE_KEYS: [&str; 2] = ["metric", "direction"];
const SEARCH_KEYS: [&str; 8] = [
    "algo",
    "max_evals",
    "parallel",
    "seed",
    "schedule",
    "early_stop_after",
    "timeout",
    "loss_threshold",
];

type Value<'s> = Spanned<DeValue<'s>>;

impl<'s> Doc<'s> {
    /// A located error at `span` (byte offsets into the combined text).
    fn error(&self, kind: ConfigErrorKind, span: Range<usize>) -> ConfigError {
        let source = self.source;
        let start = floor_char_boundary(source, span.start.min(source.len()));
        let line_begin = source[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = source[start..]
            .find('\n')
            .map_or(source.len(), |i| start + i);
        let text = source[line_begin..line_end].trim_end_matches('\r');
        let column = source[line_begin..start].chars().count() + 1;
        let end = floor_char_boundary(source, span.end.clamp(start, line_end));
        let width = source[start..end].chars().count().max(1);
        let (origin, line) = if start < self.file_len {
            (
                Origin::File(self.path.to_path_buf()),
                source[..start].matches('\n').count() + 1,
            )
        } else {
            (Origin::Override(text.to_string()), 1)
        };
        let line_label = match origin {
            Origin::File(_) => line.to_string(),
            _ => String::new(),
        };
        let gutter = " ".repeat(line_label.len());
        let snippet = format!(
            "{gutter} |\n{line_label} | {text}\n{gutter} | {}{}",
            " ".repeat(column - 1),
            "^".repeat(width)
        );
        ConfigError(Box::new(ErrorParts {
            kind,
            file: Some(self.path.to_path_buf()),
            location: Some(Location {
                origin,
                line,
                column,
                snippet,
            }),
        }))
    }

    /// A `toml` error, located when it has a span.
    fn toml_error(
        &self,
        e: &toml::de::Error,
        kind: impl FnOnce(String) -> ConfigErrorKind,
    ) -> ConfigError {
        let kind = kind(e.message().trim_end().to_string());
        match e.span() {
            Some(span) => self.error(kind, span),
            None => ConfigError(Box::new(ErrorParts {
                kind,
                file: Some(self.path.to_path_buf()),
                location: None,
            })),
        }
    }

    /// Applies the override on `line` (a range of the combined text) to the document.
    fn apply_override(
        &self,
        root: &mut DeTable<'s>,
        line: Range<usize>,
    ) -> Result<(), ConfigError> {
        let text = &self.source[line.clone()];
        let bad = |reason: &str| {
            ConfigError(Box::new(ErrorParts {
                kind: ConfigErrorKind::BadOverride {
                    argument: text.to_string(),
                    reason: reason.to_string(),
                },
                file: None,
                location: None,
            }))
        };
        let Some(eq) = text.find('=') else {
            return Err(bad(
                "expected `dotted.key=value`, as in `search.algo=random`",
            ));
        };
        let keys = split_key(&text[..eq])
            .map_err(|reason| bad(&reason))?
            .into_iter()
            .map(|(key, r)| (key, line.start + r.start..line.start + r.end))
            .collect::<Vec<_>>();
        let value_start = line.start + eq + 1;
        let raw = &self.source[value_start..line.end];
        let value = match DeValue::parse(raw) {
            Ok(v) => shift(v, value_start),
            // Not a TOML value: take the text as a string, so `search.algo=random` works
            // without quotes.
            Err(_) => Spanned::new(
                value_start..line.end,
                DeValue::String(Cow::Borrowed(raw.trim())),
            ),
        };
        let Some(((last, last_span), parents)) = keys.split_last() else {
            return Err(bad("the key is empty"));
        };
        let mut table = root;
        let mut path = String::new();
        for (key, span) in parents {
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(key);
            let entry = table
                .entry(Spanned::new(span.clone(), Cow::Owned(key.clone())))
                .or_insert_with(|| Spanned::new(span.clone(), DeValue::Table(DeTable::new())));
            let found = describe(entry.get_ref());
            match entry.get_mut() {
                DeValue::Table(t) => table = t,
                _ => {
                    return Err(bad(&format!(
                        "`{path}` is {found} in the config, not a table"
                    )));
                }
            }
        }
        table.insert(
            Spanned::new(last_span.clone(), Cow::Owned(last.clone())),
            value,
        );
        Ok(())
    }

    /// Turns the document into a config.
    fn validate(&self, root: Spanned<DeTable<'s>>) -> Result<SweepConfig, ConfigError> {
        let root_span = root.span();
        let root = root.into_inner();
        for (key, _) in root.iter() {
            if !SECTIONS.contains(&key.get_ref().as_ref()) {
                return Err(self.unknown_key(key, "the top level", &SECTIONS));
            }
        }
        let section = |name: &'static str, keys: &'static [&'static str]| {
            Section::new(self, &root, name, keys)
        };
        let experiment = section("experiment", &EXPERIMENT_KEYS)?;
        let command = section("command", &COMMAND_KEYS)?;
        let objective = section("objective", &OBJECTIVE_KEYS)?;
        let search = section("search", &SEARCH_KEYS)?;

        let space = self.space(&root, root_span.clone())?;

        let name = experiment.string("name")?.ok_or_else(|| {
            self.missing(
                "experiment.name",
                "add `[experiment]` with `name = \"...\"`",
            )
        })?;
        if name.0.trim().is_empty() {
            return Err(self.invalid("experiment.name", "\"\"", "a non-empty name", name.1));
        }

        let shell = command.boolean("shell")?.is_some_and(|b| b.0);
        let (run, run_span) = command.string("run")?.ok_or_else(|| {
            self.missing(
                "command.run",
                "add `[command]` with `run = \"program --arg {param}\"`",
            )
        })?;
        let template = CommandTemplate::parse(&run, shell)
            .and_then(|t| t.check(&space).map(|()| t))
            .map_err(|e| {
                let at = e
                    .offset()
                    .map_or(run_span.clone(), |o| self.string_offset(&run_span, &run, o));
                self.error(ConfigErrorKind::Template(e), at)
            })?;
        let base = self
            .path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let workdir = match command.string("workdir")? {
            None => base.to_path_buf(),
            Some((dir, span)) => {
                let joined = base.join(&dir);
                if !joined.is_dir() {
                    return Err(self.invalid(
                        "command.workdir",
                        &format!("{dir:?}"),
                        &format!(
                            "an existing directory (relative to the config file's directory); {} is not one",
                            joined.display()
                        ),
                        span,
                    ));
                }
                joined
            }
        };
        // Absolute, so trials do not depend on the directory hyperflow was started in.
        let workdir = std::path::absolute(&workdir).unwrap_or(workdir);
        let env = command.env("env")?;
        let timeout = command.duration("timeout")?;
        let kill_grace = command
            .duration_allow_zero("kill_grace")?
            .unwrap_or(Duration::from_secs(5));

        let (metric, metric_span) = objective.string("metric")?.ok_or_else(|| {
            self.missing(
                "objective.metric",
                "add `[objective]` with `metric = \"...\"`, the metric the command prints",
            )
        })?;
        if metric.trim().is_empty() {
            return Err(self.invalid("objective.metric", "\"\"", "a metric name", metric_span));
        }
        let direction = objective
            .keyword("direction", &["minimize", "maximize"])?
            .map_or(Direction::Minimize, |i| {
                [Direction::Minimize, Direction::Maximize][i]
            });

        let algo_names: Vec<&'static str> = Algo::ALL.iter().map(|a| a.as_str()).collect();
        let algo = search
            .keyword("algo", &algo_names)?
            .map_or(Algo::Tpe, |i| Algo::ALL[i]);
        let max_evals = search.count("max_evals")?.unwrap_or(100);
        let parallel = search.count("parallel")?.unwrap_or(1);
        let seed = match search.integer("seed")? {
            None => None,
            Some((n, span)) => Some(u64::try_from(n).map_err(|_| {
                self.invalid("search.seed", &n.to_string(), "an integer >= 0", span)
            })?),
        };
        let schedule = search
            .keyword("schedule", &["async", "batch"])?
            .map_or(Schedule::Async, |i| [Schedule::Async, Schedule::Batch][i]);
        let early_stop_after = search.count("early_stop_after")?;
        let search_timeout = search.duration("timeout")?;
        let loss_threshold = match search.float("loss_threshold")? {
            Some((x, span)) if !x.is_finite() => {
                return Err(self.invalid(
                    "search.loss_threshold",
                    &x.to_string(),
                    "a finite number",
                    span,
                ));
            }
            other => other.map(|(x, _)| x),
        };

        Ok(SweepConfig {
            path: self.path.to_path_buf(),
            experiment: name.0,
            command: CommandConfig {
                template,
                workdir,
                env,
                timeout,
                kill_grace,
            },
            objective: ObjectiveConfig { metric, direction },
            search: SearchConfig {
                algo,
                max_evals,
                parallel,
                seed,
                schedule,
                early_stop_after,
                timeout: search_timeout,
                loss_threshold,
            },
            space,
        })
    }

    /// Reads `[space]` through the space schema's own deserializer, which reports
    /// problems at the offending key or value.
    fn space(&self, root: &DeTable<'s>, root_span: Range<usize>) -> Result<Space, ConfigError> {
        #[derive(Deserialize)]
        struct SpaceOnly {
            space: Space,
        }
        let Some((key, value)) = root.get_key_value("space") else {
            return Err(self.missing(
                "space",
                "add a `[space]` table with the parameters to search, e.g. \
                 `lr = { kind = \"loguniform\", low = 1e-5, high = 1e-1 }`",
            ));
        };
        let mut only = DeTable::new();
        only.insert(key.clone(), value.clone());
        let deserializer = toml::de::Deserializer::from(Spanned::new(root_span, only));
        match SpaceOnly::deserialize(deserializer) {
            Ok(s) => Ok(s.space),
            Err(e) => {
                let kind = SchemaError::from_toml(&e, self.source).kind().clone();
                let kind = ConfigErrorKind::Space(kind);
                Err(match e.span() {
                    Some(span) => self.error(kind, span),
                    None => self.error(kind, value.span()),
                })
            }
        }
    }

    /// Maps a byte offset inside a string value to an offset in the text, when the
    /// string is written without escapes (otherwise points at the string's start).
    fn string_offset(&self, span: &Range<usize>, value: &str, offset: usize) -> Range<usize> {
        let raw = &self.source[span.clone()];
        let quote = if raw.starts_with("\"\"\"") || raw.starts_with("'''") {
            3
        } else if raw.starts_with('"') || raw.starts_with('\'') {
            1
        } else {
            0
        };
        let inner = raw
            .get(quote..raw.len().saturating_sub(quote))
            .unwrap_or("");
        if inner == value {
            let at = span.start + quote + offset;
            at..at + 1
        } else {
            span.clone()
        }
    }

    fn unknown_key(
        &self,
        key: &Spanned<Cow<'s, str>>,
        section: &str,
        expected: &[&'static str],
    ) -> ConfigError {
        self.error(
            ConfigErrorKind::UnknownKey {
                key: key.get_ref().to_string(),
                section: section.to_string(),
                expected: expected.to_vec(),
                suggestion: did_you_mean(key.get_ref(), expected.iter().copied()),
            },
            key.span(),
        )
    }

    fn missing(&self, key: &'static str, expected: &'static str) -> ConfigError {
        ConfigError(Box::new(ErrorParts {
            kind: ConfigErrorKind::MissingKey { key, expected },
            file: Some(self.path.to_path_buf()),
            location: None,
        }))
    }

    fn invalid(&self, key: &str, found: &str, expected: &str, span: Range<usize>) -> ConfigError {
        self.error(
            ConfigErrorKind::InvalidValue {
                key: key.to_string(),
                found: found.to_string(),
                expected: expected.to_string(),
                suggestion: None,
            },
            span,
        )
    }
}

/// One `[section]` of the config, its keys checked.
struct Section<'d, 's> {
    doc: &'d Doc<'s>,
    name: &'static str,
    table: Option<&'d DeTable<'s>>,
}

impl<'d, 's> Section<'d, 's> {
    fn new(
        doc: &'d Doc<'s>,
        root: &'d DeTable<'s>,
        name: &'static str,
        keys: &'static [&'static str],
    ) -> Result<Self, ConfigError> {
        let table = match root.get(name) {
            None => None,
            Some(value) => match value.get_ref() {
                DeValue::Table(t) => Some(t),
                other => {
                    return Err(doc.error(
                        ConfigErrorKind::WrongType {
                            key: name.to_string(),
                            expected: "a table",
                            found: describe(other),
                        },
                        value.span(),
                    ));
                }
            },
        };
        for (key, _) in table.into_iter().flat_map(|t| t.iter()) {
            if !keys.contains(&key.get_ref().as_ref()) {
                return Err(doc.unknown_key(key, &format!("[{name}]"), keys));
            }
        }
        Ok(Section { doc, name, table })
    }

    fn get(&self, key: &str) -> Option<&'d Value<'s>> {
        self.table.and_then(|t| t.get(key))
    }

    fn wrong_type(&self, key: &str, expected: &'static str, value: &Value<'s>) -> ConfigError {
        self.doc.error(
            ConfigErrorKind::WrongType {
                key: format!("{}.{key}", self.name),
                expected,
                found: describe(value.get_ref()),
            },
            value.span(),
        )
    }

    fn string(&self, key: &str) -> Result<Option<(String, Range<usize>)>, ConfigError> {
        let Some(value) = self.get(key) else {
            return Ok(None);
        };
        match value.get_ref() {
            DeValue::String(s) => Ok(Some((s.to_string(), value.span()))),
            _ => Err(self.wrong_type(key, "a string", value)),
        }
    }

    fn boolean(&self, key: &str) -> Result<Option<(bool, Range<usize>)>, ConfigError> {
        let Some(value) = self.get(key) else {
            return Ok(None);
        };
        match value.get_ref() {
            DeValue::Boolean(b) => Ok(Some((*b, value.span()))),
            _ => Err(self.wrong_type(key, "`true` or `false`", value)),
        }
    }

    fn integer(&self, key: &str) -> Result<Option<(i64, Range<usize>)>, ConfigError> {
        let Some(value) = self.get(key) else {
            return Ok(None);
        };
        match value.get_ref() {
            DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix())
                .map(|n| Some((n, value.span())))
                .map_err(|_| self.wrong_type(key, "an integer that fits in 64 bits", value)),
            _ => Err(self.wrong_type(key, "an integer", value)),
        }
    }

    /// A positive integer.
    fn count(&self, key: &str) -> Result<Option<usize>, ConfigError> {
        let Some(value) = self.get(key) else {
            return Ok(None);
        };
        let Ok(Some((n, span))) = self.integer(key) else {
            return Err(self.wrong_type(key, "a positive integer", value));
        };
        match usize::try_from(n) {
            Ok(n) if n > 0 => Ok(Some(n)),
            _ => Err(self.doc.invalid(
                &format!("{}.{key}", self.name),
                &n.to_string(),
                "a positive integer",
                span,
            )),
        }
    }

    fn float(&self, key: &str) -> Result<Option<(f64, Range<usize>)>, ConfigError> {
        let Some(value) = self.get(key) else {
            return Ok(None);
        };
        let number = match value.get_ref() {
            DeValue::Float(x) => x.as_str().parse::<f64>().ok(),
            DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix())
                .ok()
                .map(|n| n as f64),
            _ => None,
        };
        number
            .map(|x| Some((x, value.span())))
            .ok_or_else(|| self.wrong_type(key, "a number", value))
    }

    /// One of `words`; returns its index.
    fn keyword(&self, key: &str, words: &[&'static str]) -> Result<Option<usize>, ConfigError> {
        let Some((word, span)) = self.string(key)? else {
            return Ok(None);
        };
        match words.iter().position(|w| *w == word) {
            Some(i) => Ok(Some(i)),
            None => Err(self.doc.error(
                ConfigErrorKind::InvalidValue {
                    key: format!("{}.{key}", self.name),
                    found: format!("{word:?}"),
                    expected: one_of(words),
                    suggestion: did_you_mean(&word, words.iter().copied()).map(str::to_string),
                },
                span,
            )),
        }
    }

    fn duration_allow_zero(&self, key: &str) -> Result<Option<Duration>, ConfigError> {
        let Some(value) = self.get(key) else {
            return Ok(None);
        };
        let DeValue::String(text) = value.get_ref() else {
            return Err(self.wrong_type(
                key,
                "a duration string such as \"30s\", \"10m\" or \"1h30m\"",
                value,
            ));
        };
        parse_duration(text).map(Some).map_err(|e| {
            self.doc.invalid(
                &format!("{}.{key}", self.name),
                &format!("{text:?}"),
                &e.to_string(),
                value.span(),
            )
        })
    }

    /// A positive duration.
    fn duration(&self, key: &str) -> Result<Option<Duration>, ConfigError> {
        match self.duration_allow_zero(key)? {
            Some(d) if d.is_zero() => Err(self.doc.invalid(
                &format!("{}.{key}", self.name),
                "0",
                "a positive duration (leave the key out for no limit)",
                self.get(key).map_or(0..0, |v| v.span()),
            )),
            other => Ok(other),
        }
    }

    /// A table of environment variables; numbers and bools are written out as text.
    fn env(&self, key: &str) -> Result<Vec<(String, String)>, ConfigError> {
        let Some(value) = self.get(key) else {
            return Ok(Vec::new());
        };
        let DeValue::Table(table) = value.get_ref() else {
            return Err(self.wrong_type(key, "a table of NAME = \"value\" entries", value));
        };
        let mut env = Vec::new();
        for (name, v) in table.iter() {
            let text = match v.get_ref() {
                DeValue::String(s) => s.to_string(),
                DeValue::Integer(i) => i.to_string(),
                DeValue::Float(x) => x.to_string(),
                DeValue::Boolean(b) => b.to_string(),
                _ => {
                    return Err(self.wrong_type(
                        &format!("{key}.{}", name.get_ref()),
                        "a string, number or bool",
                        v,
                    ));
                }
            };
            if name.get_ref().is_empty() || name.get_ref().contains(['=', '\0']) {
                return Err(self.doc.invalid(
                    &format!("{}.{key}", self.name),
                    &format!("{:?}", name.get_ref()),
                    "variable names without `=` or NUL",
                    name.span(),
                ));
            }
            env.push((name.get_ref().to_string(), text));
        }
        Ok(env)
    }
}

/// A value as error messages describe it: `string "x"`, `integer 3`, `a table`.
fn describe(value: &DeValue<'_>) -> String {
    match value {
        DeValue::String(s) => format!("string {s:?}"),
        DeValue::Integer(i) => format!("integer {i}"),
        DeValue::Float(x) => format!("float {x}"),
        DeValue::Boolean(b) => format!("boolean {b}"),
        DeValue::Datetime(d) => format!("datetime {d}"),
        DeValue::Array(_) => "an array".to_string(),
        DeValue::Table(_) => "a table".to_string(),
    }
}

/// Moves every span of a value parsed on its own by `offset` bytes, so it points into the
/// combined text.
fn shift(value: Value<'_>, offset: usize) -> Value<'_> {
    let span = value.span();
    let span = span.start + offset..span.end + offset;
    let inner = match value.into_inner() {
        DeValue::Array(items) => {
            let mut array = toml::de::DeArray::new();
            for item in items {
                array.push(shift(item, offset));
            }
            DeValue::Array(array)
        }
        DeValue::Table(table) => {
            let mut shifted = DeTable::new();
            for (key, v) in table {
                let key_span = key.span();
                shifted.insert(
                    Spanned::new(
                        key_span.start + offset..key_span.end + offset,
                        key.into_inner(),
                    ),
                    shift(v, offset),
                );
            }
            DeValue::Table(shifted)
        }
        other => other,
    };
    Spanned::new(span, inner)
}

/// Splits a dotted key (`search.algo`, `space."a.b".low`) into its parts and their byte
/// ranges in `key`.
fn split_key(key: &str) -> Result<Vec<(String, Range<usize>)>, String> {
    let mut parts = Vec::new();
    let mut rest = key;
    let mut at = 0;
    loop {
        let trimmed = rest.trim_start();
        at += rest.len() - trimmed.len();
        rest = trimmed;
        let (part, len) = if let Some(quoted) = rest.strip_prefix('"') {
            let end = quoted
                .find('"')
                .ok_or_else(|| "unterminated quote in the key".to_string())?;
            (quoted[..end].to_string(), end + 2)
        } else {
            let end = rest.find('.').unwrap_or(rest.len());
            let part = rest[..end].trim_end();
            if part.is_empty() {
                return Err("a part of the dotted key is empty".to_string());
            }
            (part.to_string(), part.len())
        };
        parts.push((part, at..at + len));
        at += len;
        rest = &rest[len..];
        let trimmed = rest.trim_start();
        at += rest.len() - trimmed.len();
        rest = trimmed;
        match rest.strip_prefix('.') {
            Some(after) => {
                rest = after;
                at += 1;
            }
            None if rest.is_empty() => return Ok(parts),
            None => return Err(format!("unexpected `{rest}` in the key")),
        }
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Why a duration could not be parsed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "a duration: numbers with units (ms, s, m, h, d), as in \"250ms\", \"30s\", \"10m\", \"1h30m\"{}",
    if detail.is_empty() { String::new() } else { format!(" ({detail})") }
)]
pub struct DurationError {
    detail: String,
}

/// Parses a duration written as numbers with units, added up: `"250ms"`, `"30s"`, `"10m"`,
/// `"1h30m"`, `"1.5h"`, `"2d"`, `"1h 30m"`. Units: `ms`, `s`, `m`, `h`, `d`. A bare number
/// is rejected, since its unit would be a guess.
///
/// ```
/// use std::time::Duration;
/// use hyperflow::sweep::parse_duration;
///
/// assert_eq!(parse_duration("1h30m")?, Duration::from_secs(5400));
/// assert_eq!(parse_duration("250ms")?, Duration::from_millis(250));
/// assert!(parse_duration("10").is_err());
/// # Ok::<(), hyperflow::sweep::DurationError>(())
/// ```
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let fail = |detail: &str| DurationError {
        detail: detail.to_string(),
    };
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(fail("it is empty"));
    }
    let mut total = 0.0_f64;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number = &rest[..number_len];
        let value: f64 = number
            .parse()
            .map_err(|_| fail(&format!("`{number}` is not a number")))?;
        rest = rest[number_len..].trim_start();
        let unit_len = rest
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        let seconds = match unit {
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "d" => 86400.0,
            "" => return Err(fail(&format!("`{number}` has no unit"))),
            other => return Err(fail(&format!("unknown unit `{other}`"))),
        };
        total += value * seconds;
        rest = rest[unit_len..].trim_start();
    }
    Duration::try_from_secs_f64(total).map_err(|_| fail("it is too long"))
}

/// Formats a duration compactly for people: `250ms`, `4.2s`, `3m05s`, `1h02m`.
pub fn format_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if d < Duration::from_secs(1) {
        format!("{}ms", d.as_millis())
    } else if secs < 60 {
        format!("{:.1}s", d.as_secs_f64())
    } else if secs < 3600 {
        format!("{}m{:02}s", secs / 60, secs % 60)
    } else {
        format!("{}h{:02}m", secs / 3600, (secs % 3600) / 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[experiment]
name = "demo"

[command]
run = "echo --lr {lr} --model {model}"
env = { A = "1", B = 2 }
timeout = "1m30s"

[objective]
metric = "val_loss"
direction = "maximize"

[search]
algo = "random"
max_evals = 7
parallel = 2
seed = 3
schedule = "batch"

[space]
lr = { kind = "loguniform", low = 1e-5, high = 1e-1 }
model = { kind = "choice", options = ["rf", "gbt"] }
"#;

    fn parse(source: &str) -> Result<SweepConfig, ConfigError> {
        SweepConfig::from_toml_str(source, Path::new("sweep.toml"), &Overrides::default())
    }

    fn parse_with(source: &str, overrides: Overrides) -> Result<SweepConfig, ConfigError> {
        SweepConfig::from_toml_str(source, Path::new("sweep.toml"), &overrides)
    }

    #[test]
    fn reads_a_full_config() {
        let c = parse(GOOD).unwrap();
        assert_eq!(c.experiment(), "demo");
        assert_eq!(
            c.command().env(),
            [("A".into(), "1".into()), ("B".into(), "2".into())]
        );
        assert_eq!(c.command().timeout(), Some(Duration::from_secs(90)));
        assert_eq!(c.command().kill_grace(), Duration::from_secs(5));
        assert!(c.command().workdir().is_absolute());
        assert_eq!(c.objective().metric(), "val_loss");
        assert_eq!(c.objective().direction(), Direction::Maximize);
        assert_eq!(c.search().algo(), Algo::Random);
        assert_eq!(c.search().max_evals(), 7);
        assert_eq!(c.search().parallel(), 2);
        assert_eq!(c.search().seed(), Some(3));
        assert_eq!(c.search().schedule(), Schedule::Batch);
        assert_eq!(c.space().len(), 2);
        assert_eq!(
            c.command().template().placeholders().collect::<Vec<_>>(),
            ["lr", "model"]
        );
    }

    #[test]
    fn unknown_keys_suggest_the_right_one() {
        let source = GOOD.replace("max_evals = 7", "max_eval = 7");
        let e = parse(&source).unwrap_err();
        let text = e.to_string();
        assert!(
            text.starts_with("sweep.toml:16:1: unknown key `max_eval` in [search]"),
            "{text}"
        );
        assert!(text.contains("did you mean `max_evals`?"), "{text}");
        assert!(text.contains("16 | max_eval = 7\n   | ^^^^^^^^"), "{text}");

        let e = parse(&GOOD.replace("[objective]", "[objectve]")).unwrap_err();
        assert!(e.to_string().contains("did you mean `objective`?"), "{e}");
    }

    #[test]
    fn wrong_types_and_bad_values_are_located() {
        let e = parse(&GOOD.replace("parallel = 2", "parallel = \"four\"")).unwrap_err();
        assert_eq!((e.line(), e.column()), (Some(17), Some(12)));
        assert!(
            e.to_string()
                .contains("`search.parallel` must be a positive integer, found string \"four\""),
            "{e}"
        );
        let e = parse(&GOOD.replace("parallel = 2", "parallel = 0")).unwrap_err();
        assert!(e.to_string().contains("expected a positive integer"), "{e}");
        let e = parse(&GOOD.replace("\"maximize\"", "\"maximise\"")).unwrap_err();
        assert!(e.to_string().contains("did you mean `maximize`?"), "{e}");
        let e = parse(&GOOD.replace("\"1m30s\"", "\"90\"")).unwrap_err();
        assert!(e.to_string().contains("has no unit"), "{e}");
        assert_eq!(e.line(), Some(8));
    }

    #[test]
    fn template_errors_point_into_the_string() {
        let e = parse(&GOOD.replace("{model}", "{modle}")).unwrap_err();
        assert_eq!((e.line(), e.column()), (Some(6), Some(31)));
        assert!(e.to_string().contains("did you mean `{model}`?"), "{e}");
    }

    #[test]
    fn space_errors_keep_their_position() {
        let e = parse(&GOOD.replace("\"loguniform\"", "\"logunifrom\"")).unwrap_err();
        assert_eq!(e.line(), Some(22));
        assert!(e.to_string().contains("did you mean `loguniform`?"), "{e}");
    }

    #[test]
    fn missing_sections_say_what_to_add() {
        let e = parse("[experiment]\nname = \"x\"\n").unwrap_err();
        assert!(e.to_string().contains("[space]"), "{e}");
        let e = parse(&GOOD.replace("metric = \"val_loss\"", "")).unwrap_err();
        assert!(e.to_string().contains("missing `objective.metric`"), "{e}");
    }

    #[test]
    fn overrides_apply_before_validation() {
        let c = parse_with(
            GOOD,
            Overrides::default()
                .set("search.algo=tpe")
                .set("command.timeout=\"5s\"")
                .set("space.lr={ kind = \"uniform\", low = 0, high = 1 }")
                .max_evals(3),
        )
        .unwrap();
        assert_eq!(c.search().algo(), Algo::Tpe);
        assert_eq!(c.search().max_evals(), 3);
        assert_eq!(c.command().timeout(), Some(Duration::from_secs(5)));
        assert_eq!(c.space().params()[0].dist.kind(), "uniform");

        let e = parse_with(GOOD, Overrides::default().set("search.algo=rnadom")).unwrap_err();
        let text = e.to_string();
        assert!(
            text.starts_with("in override `search.algo=rnadom` (column 13)"),
            "{text}"
        );
        assert!(text.contains("did you mean `random`?"), "{text}");
        assert!(text.contains("^^^^^^"), "{text}");
        let e = parse_with(GOOD, Overrides::default().set("search.algoo=random")).unwrap_err();
        assert!(e.to_string().contains("did you mean `algo`?"), "{e}");
        let e = parse_with(GOOD, Overrides::default().set("search.algo")).unwrap_err();
        assert!(e.to_string().contains("dotted.key=value"), "{e}");
        let e = parse_with(GOOD, Overrides::default().set("experiment.name.x=1")).unwrap_err();
        assert!(e.to_string().contains("not a table"), "{e}");
    }

    #[test]
    fn splits_dotted_keys() {
        assert_eq!(
            split_key("space.\"a.b\".low").unwrap(),
            [
                ("space".to_string(), 0..5),
                ("a.b".to_string(), 6..11),
                ("low".to_string(), 12..15)
            ]
        );
        assert!(split_key("a..b").is_err());
    }

    #[test]
    fn parses_durations() {
        let d = |s| parse_duration(s).unwrap();
        assert_eq!(d("250ms"), Duration::from_millis(250));
        assert_eq!(d("30s"), Duration::from_secs(30));
        assert_eq!(d("10m"), Duration::from_secs(600));
        assert_eq!(d("1h30m"), Duration::from_secs(5400));
        assert_eq!(d("1h 30m"), Duration::from_secs(5400));
        assert_eq!(d("1.5h"), Duration::from_secs(5400));
        assert_eq!(d("2d"), Duration::from_secs(172_800));
        assert_eq!(d("0s"), Duration::ZERO);
        for bad in ["", "10", "10 minutes", "1x", "h", "-1s", "1..2s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(format_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(format_duration(Duration::from_secs(185)), "3m05s");
        assert_eq!(format_duration(Duration::from_secs(3720)), "1h02m");
    }
}
