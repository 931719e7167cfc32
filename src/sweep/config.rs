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
//! keep_output = "all"                  # all | failures | none: trial output kept as artifacts
//!
//! [objective]
//! metric = "val_loss"                  # required: the metric the search optimizes
//! direction = "minimize"               # or "maximize" (default minimize)
//!
//! [search]
//! algo = "tpe"                         # auto | tpe | gp | random | grid (default auto)
//! max_evals = 50                       # total trials (default 100)
//! parallel = 4                         # trials at once (default 1)
//! seed = 42                            # default: drawn from the clock and reported
//! schedule = "async"                   # or "batch": reproducible with parallel > 1
//! early_stop_after = 20                # stop after 20 trials without improvement
//! timeout = "2h"                       # start no trial after this (default: none)
//! loss_threshold = 0.05                # stop once the objective reaches this
//! stale_after = "60s"                  # a worker silent this long has lost its trials
//!
//! [pruner]                             # stop hopeless trials early (default: none)
//! kind = "asha"                        # none | median | percentile | asha | hyperband
//!                                      # | wilcoxon | threshold; defaults work alone
//! grace = "5s"                         # SIGTERM -> SIGKILL for a pruned trial (default 5s)
//! # and the kind's own settings (see `PrunerConfig`), e.g. reduction_factor = 3
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

use indexmap::IndexMap;
use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{self, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use std::marker::PhantomData;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use super::command::{CommandTemplate, TemplateError};
use crate::algo::Algorithm;
use crate::diagnostic::Snippet;
use crate::fmin::Schedule;
use crate::prune::{self, Pruner, PrunerKind};
use crate::space::schema::{forget_raised, raised_in_toml};
use crate::space::{SchemaErrorKind, Space};
use crate::suggest::did_you_mean;
use crate::trials::Direction;

/// `[command]`: what runs per trial.
#[derive(Debug, Clone)]
pub struct CommandConfig {
    template: CommandTemplate,
    workdir: PathBuf,
    env: Vec<(String, String)>,
    timeout: Option<Duration>,
    kill_grace: Duration,
    keep_output: KeepOutput,
}

/// `[command] keep_output`: which trials' output is saved as `stdout.txt` and
/// `stderr.txt` artifacts of their runs.
///
/// Only output worth keeping is saved: an empty stream leaves no file, and neither does
/// the stdout of a complete trial that printed nothing but the metric lines hyperflow
/// read from it (those are stored as metrics already). A stream is saved bounded: past
/// 1 MiB + 64 KiB, its first 64 KiB and its last 1 MiB are kept, with a line that says
/// how many bytes were dropped between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum KeepOutput {
    /// The output of every trial (the default).
    #[default]
    All,
    /// Only the output of trials that failed or were killed.
    Failures,
    /// No output at all.
    None,
}

impl KeepOutput {
    /// Every setting, in the order of [`KeepOutput::as_str`]'s names.
    pub const ALL: [KeepOutput; 3] = [KeepOutput::All, KeepOutput::Failures, KeepOutput::None];

    /// The name in the config: `all`, `failures` or `none`.
    pub fn as_str(self) -> &'static str {
        match self {
            KeepOutput::All => "all",
            KeepOutput::Failures => "failures",
            KeepOutput::None => "none",
        }
    }

    /// Whether the output of a trial that `failed` (or was killed) is kept.
    pub fn keeps(self, failed: bool) -> bool {
        match self {
            KeepOutput::All => true,
            KeepOutput::Failures => failed,
            KeepOutput::None => false,
        }
    }
}

impl fmt::Display for KeepOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
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

    /// Which trials' output is kept as artifacts.
    pub fn keep_output(&self) -> KeepOutput {
        self.keep_output
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
    algo: Algorithm,
    max_evals: usize,
    parallel: usize,
    seed: Option<u64>,
    schedule: Schedule,
    early_stop_after: Option<usize>,
    timeout: Option<Duration>,
    loss_threshold: Option<f64>,
    stale_after: Option<Duration>,
}

impl SearchConfig {
    /// The sampler.
    pub fn algo(&self) -> Algorithm {
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

    /// How long a worker of a shared sweep may stay silent before its running trials are
    /// marked failed and their places in the budget go back (default
    /// [`DEFAULT_STALE_AFTER`](crate::study::DEFAULT_STALE_AFTER)).
    pub fn stale_after(&self) -> Option<Duration> {
        self.stale_after
    }
}

/// `[pruner]`: which trials are stopped early, judged on the objective metric's stepped
/// values (`hyperflow: metric=NAME value=V step=S` lines, or JSON lines with a `"step"`
/// key) as they arrive.
///
/// `kind` picks the pruner; each kind takes its own settings, all optional, with
/// optuna's defaults:
///
/// | kind | settings |
/// |---|---|
/// | `median` | `startup_trials` (5), `warmup_steps` (0), `interval_steps` (1), `min_trials` (1) |
/// | `percentile` | `percentile` (25) and the settings of `median` |
/// | `asha` | `min_resource` (automatic), `reduction_factor` (4), `min_early_stopping_rate` (0), `bootstrap_count` (0) |
/// | `hyperband` | `min_resource` (1), `max_resource` (automatic), `reduction_factor` (3), `bootstrap_count` (0), `brackets` (`"shared"`: a trial is judged against every bracket's values at a step; `"separate"`: its own bracket's, as optuna), `weights` (`"agreement"`: new trials shared out by budget and by how well the first rungs rank complete trials; `"budgets"`: by budget alone, as optuna) |
/// | `wilcoxon` | `p_threshold` (0.1), `startup_steps` (2) |
/// | `threshold` | `lower`, `upper` (no bound), `warmup_steps`, `interval_steps` |
///
/// Every kind but `none` also takes `patience` (and `min_delta`): stop only after that
/// many steps without improvement ([`Patient`](crate::prune::Patient)), and `grace`, the
/// time a pruned trial gets between SIGTERM and SIGKILL (default 5s).
#[derive(Debug, Clone)]
pub struct PrunerConfig {
    spec: prune::PrunerSpec,
    /// None for kind `none`, which stops nothing.
    grace: Option<Duration>,
}

impl PrunerConfig {
    /// The kind of pruner.
    pub fn kind(&self) -> PrunerKind {
        self.spec.kind()
    }

    /// The pruner, ready for a study.
    pub fn build(&self) -> Box<dyn Pruner> {
        self.spec.build()
    }

    /// The pruner's kind and the settings given.
    pub fn spec(&self) -> &prune::PrunerSpec {
        &self.spec
    }

    /// How long a pruned trial gets between SIGTERM and SIGKILL; none for kind `none`,
    /// which prunes nothing.
    pub fn grace(&self) -> Option<Duration> {
        self.grace
    }
}

/// The pruner and the settings given, as a dry run shows them: `asha (reduction_factor =
/// 3); grace 5s`.
impl fmt::Display for PrunerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.spec)?;
        if let Some(grace) = self.grace {
            write!(f, "; grace {}", format_duration(grace))?;
        }
        Ok(())
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
    pruner: Option<PrunerConfig>,
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
        let mut root = DeTable::parse(&combined[..file_len]).map_err(|e| doc.syntax_error(&e))?;
        for line in assignments {
            doc.apply_override(root.get_mut(), line)?;
        }
        doc.validate(doc.read(root)?)
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

    /// `[pruner]`, if the config has one.
    pub fn pruner(&self) -> Option<&PrunerConfig> {
        self.pruner.as_ref()
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
    snippet: Snippet,
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
        expected: String,
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

fn one_of(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match quoted.len() {
        0 => "no keys here".to_string(),
        1 => quoted[0].clone(),
        _ => format!("one of {}", quoted.join(", ")),
    }
}

/// The config as written: the sections as serde structs, every key optional and every
/// value as found, with its span. [`Doc::validate`] turns it into a [`SweepConfig`].
///
/// Unknown keys are rejected while reading (`deny_unknown_fields`); [`Doc::read`] turns
/// that error into [`ConfigErrorKind::UnknownKey`] with a suggestion.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    experiment: Section<RawExperiment>,
    command: Section<RawCommand>,
    objective: Section<RawObjective>,
    search: Section<RawSearch>,
    pruner: Section<RawPruner>,
    /// Read and validated by the space schema, which raises its own typed errors.
    space: Option<Space>,
}

/// `[experiment]` as written.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawExperiment {
    name: Field<String>,
}

/// `[command]` as written.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawCommand {
    run: Field<String>,
    workdir: Field<String>,
    env: Section<IndexMap<Spanned<String>, Spanned<toml::Value>>>,
    timeout: Field<String>,
    kill_grace: Field<String>,
    shell: Field<bool>,
    keep_output: Field<String>,
}

/// `[objective]` as written.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawObjective {
    metric: Field<String>,
    direction: Field<String>,
}

/// `[search]` as written.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawSearch {
    algo: Field<String>,
    max_evals: Field<usize>,
    parallel: Field<usize>,
    seed: Field<u64>,
    schedule: Field<String>,
    early_stop_after: Field<usize>,
    timeout: Field<String>,
    loss_threshold: Field<f64>,
    stale_after: Field<String>,
}

/// `[pruner]` as written: `kind`, `grace` and the pruner's settings, in order, each with
/// its span (which kind takes which setting is [`prune::PrunerSpec::settings`]).
type RawPruner = IndexMap<Spanned<String>, Spanned<toml::Value>>;

/// The `[pruner]` keys of the sweep itself; the rest are the pruner's settings.
const PRUNER_KEYS: [&str; 2] = [PRUNER_KIND, PRUNER_GRACE];
/// `[pruner]`'s key naming the pruner.
const PRUNER_KIND: &str = prune::PrunerSpec::KIND;
/// `[pruner]`'s key for the time between SIGTERM and SIGKILL.
pub(crate) const PRUNER_GRACE: &str = "grace";

/// A `[pruner]` key as `--set` and messages name it (`pruner.grace`; the parent run's
/// params of the settings are
/// [`pruner_setting_param`](crate::tracking::schema::pruner_setting_param)'s, of the same form).
pub(crate) fn pruner_key(key: impl fmt::Display) -> String {
    format!("pruner.{key}")
}

/// An optional key holding a value of type `T`.
type Field<T> = Option<Spanned<Loose<T>>>;

/// An optional key holding a table read as `T`.
type Section<T> = Option<Spanned<Loose<T, true>>>;

/// A value as written: the `T` its key takes, or a description of what was found instead
/// (`string "four"`, `an array`), so that validation can say which key wanted what. With
/// `TABLE`, `T` is read from a table, and errors inside the table (an unknown key) are
/// reported as they are; otherwise `T` is a plain value, and a table is just a misfit.
enum Loose<T, const TABLE: bool = false> {
    Is(T),
    Found(String),
}

impl<'de, T: Deserialize<'de>, const TABLE: bool> Deserialize<'de> for Loose<T, TABLE> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(LooseVisitor(PhantomData))
    }
}

struct LooseVisitor<T, const TABLE: bool>(PhantomData<T>);

impl<'de, T: Deserialize<'de>, const TABLE: bool> LooseVisitor<T, TABLE> {
    fn fit<E>(value: toml::Value) -> Result<Loose<T, TABLE>, E> {
        // A table only fits through `visit_map` (a struct would also read an array, field
        // by field); `toml::Value` hands a datetime over as a string, and no key here takes
        // one.
        if !TABLE
            && !matches!(value, toml::Value::Datetime(_))
            && let Ok(t) = T::deserialize(value.clone())
        {
            return Ok(Loose::Is(t));
        }
        Ok(Loose::Found(describe(&value)))
    }
}

impl<'de, T: Deserialize<'de>, const TABLE: bool> Visitor<'de> for LooseVisitor<T, TABLE> {
    type Value = Loose<T, TABLE>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any TOML value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Self::fit(v.into())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Self::fit(v.into())
    }

    /// Only integers beyond `i64` come here.
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(match T::deserialize(v.into_deserializer()) {
            Ok(t) => Loose::Is(t),
            Err(de::value::Error { .. }) => Loose::Found(format!("integer {v}")),
        })
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Self::fit(v.into())
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Self::fit(v.into())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        Self::fit(toml::Value::deserialize(SeqAccessDeserializer::new(seq))?)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let map = MapAccessDeserializer::new(map);
        if TABLE {
            T::deserialize(map).map(Loose::Is)
        } else {
            // A datetime comes here too.
            Self::fit(toml::Value::deserialize(map)?)
        }
    }
}

/// A value as error messages describe it: `string "x"`, `integer 3`, `a table`.
fn describe(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => format!("string {s:?}"),
        toml::Value::Integer(i) => format!("integer {i}"),
        toml::Value::Float(x) => format!("float {x}"),
        toml::Value::Boolean(b) => format!("boolean {b}"),
        toml::Value::Datetime(d) => format!("datetime {d}"),
        toml::Value::Array(_) => "an array".to_string(),
        toml::Value::Table(_) => "a table".to_string(),
    }
}

/// A value as a key that takes a string reads it ([`LooseVisitor::fit`]): the string, or
/// what was found instead.
fn string_or_not(value: Spanned<toml::Value>) -> Spanned<Loose<String>> {
    let span = value.span();
    let Ok(loose) =
        LooseVisitor::<String, false>::fit::<std::convert::Infallible>(value.into_inner());
    Spanned::new(span, loose)
}

/// A pruner setting's value as [`prune::PrunerSpec::from_settings`] reads it.
fn setting_value(value: &toml::Value) -> prune::SettingValue {
    match value {
        toml::Value::Integer(i) => prune::SettingValue::Integer(*i),
        toml::Value::Float(x) => prune::SettingValue::Number(*x),
        toml::Value::String(s) => prune::SettingValue::Text(s.clone()),
        other => prune::SettingValue::Other(describe(other)),
    }
}

/// The keys a raw section accepts, read from its `Deserialize` impl (which hands them to
/// the deserializer), so that the struct is the one list of them.
fn keys_of<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    struct Keys<'a>(&'a mut &'static [&'static str]);

    impl<'de> Deserializer<'de> for Keys<'_> {
        type Error = de::value::Error;

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = fields;
            Err(de::Error::custom("only the field names were asked for"))
        }

        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("not a struct"))
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map
            enum identifier ignored_any
        }
    }

    let mut keys: &'static [&'static str] = &[];
    // The error is the point: the names were taken on the way.
    let _ = T::deserialize(Keys(&mut keys));
    keys
}

/// The keys accepted in the table at `path` (empty: the top level).
fn keys_at(path: &[&str]) -> &'static [&'static str] {
    match path {
        [] => keys_of::<RawConfig>(),
        ["experiment"] => keys_of::<RawExperiment>(),
        ["command"] => keys_of::<RawCommand>(),
        ["objective"] => keys_of::<RawObjective>(),
        ["search"] => keys_of::<RawSearch>(),
        _ => &[],
    }
}

/// The key written at `span`, with the path of the table it is in.
fn key_at<'t>(table: &'t DeTable<'_>, span: &Range<usize>) -> Option<(Vec<&'t str>, &'t str)> {
    table.iter().find_map(|(key, value)| {
        if key.span() == *span {
            return Some((Vec::new(), key.get_ref().as_ref()));
        }
        let DeValue::Table(inner) = value.get_ref() else {
            return None;
        };
        key_at(inner, span).map(|(mut path, found)| {
            path.insert(0, key.get_ref().as_ref());
            (path, found)
        })
    })
}

/// The text all spans point into: the file, then one line per override.
struct Doc<'s> {
    source: &'s str,
    file_len: usize,
    path: &'s Path,
}

impl<'s> Doc<'s> {
    /// A located error at `span` (byte offsets into the combined text).
    fn error(&self, kind: ConfigErrorKind, span: Range<usize>) -> ConfigError {
        let snippet = Snippet::new(self.source, span.clone());
        let location = if span.start < self.file_len {
            Location {
                origin: Origin::File(self.path.to_path_buf()),
                line: snippet.line(),
                column: snippet.column(),
                snippet,
            }
        } else {
            Location {
                origin: Origin::Override(snippet.text().to_string()),
                line: 1,
                column: snippet.column(),
                snippet: snippet.unnumbered(),
            }
        };
        ConfigError(Box::new(ErrorParts {
            kind,
            file: Some(self.path.to_path_buf()),
            location: Some(location),
        }))
    }

    /// An error about the file as a whole (a missing key).
    fn unlocated(&self, kind: ConfigErrorKind) -> ConfigError {
        ConfigError(Box::new(ErrorParts {
            kind,
            file: Some(self.path.to_path_buf()),
            location: None,
        }))
    }

    /// A `toml` syntax error, located when it has a span.
    fn syntax_error(&self, e: &toml::de::Error) -> ConfigError {
        let kind = ConfigErrorKind::Syntax {
            message: e.message().trim_end().to_string(),
        };
        match e.span() {
            Some(span) => self.error(kind, span),
            None => self.unlocated(kind),
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
            match entry.get_mut() {
                DeValue::Table(t) => table = t,
                other => {
                    let value = ValueDeserializer::from(Spanned::new(0..0, other.clone()));
                    let found = toml::Value::deserialize(value)
                        .map_or_else(|_| "a value".to_string(), |v| describe(&v));
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

    /// Reads the document into the raw sections. Problems found on the way (unknown keys,
    /// an invalid `[space]`) are located at the offending key or value.
    fn read(&self, root: Spanned<DeTable<'s>>) -> Result<RawConfig, ConfigError> {
        forget_raised();
        let document = root.get_ref().clone();
        RawConfig::deserialize(toml::de::Deserializer::from(root)).map_err(|e| {
            let Some(span) = e.span() else {
                return self.syntax_error(&e);
            };
            if let Some(kind) = raised_in_toml(&e) {
                return self.error(ConfigErrorKind::Space(kind), span);
            }
            // Serde's derive rejects a key at the key itself: find it, and say what the
            // table takes instead.
            match key_at(&document, &span) {
                Some((path, key)) if !keys_at(&path).contains(&key) => {
                    let section = if path.is_empty() {
                        "the top level".to_string()
                    } else {
                        format!("[{}]", path.join("."))
                    };
                    let expected = keys_at(&path);
                    self.error(
                        ConfigErrorKind::UnknownKey {
                            key: key.to_string(),
                            section,
                            expected: expected.to_vec(),
                            suggestion: did_you_mean(key, expected.iter().copied()),
                        },
                        span,
                    )
                }
                _ => self.syntax_error(&e),
            }
        })
    }

    /// Turns the raw sections into a config, checking every value.
    fn validate(&self, raw: RawConfig) -> Result<SweepConfig, ConfigError> {
        let experiment: RawExperiment = self.table("experiment", raw.experiment)?;
        let command: RawCommand = self.table("command", raw.command)?;
        let objective: RawObjective = self.table("objective", raw.objective)?;
        let search: RawSearch = self.table("search", raw.search)?;
        let pruner = match raw.pruner {
            Some(table) => {
                let span = table.span();
                Some(self.pruner(self.table("pruner", Some(table))?, span)?)
            }
            None => None,
        };
        let space = raw.space.ok_or_else(|| {
            self.missing(
                "space",
                "add a `[space]` table with the parameters to search, e.g. \
                 `lr = { kind = \"loguniform\", low = 1e-5, high = 1e-1 }`",
            )
        })?;

        let name = self.text(
            "experiment.name",
            experiment.name,
            "add `[experiment]` with `name = \"...\"`",
            "a non-empty name",
        )?;

        let shell = self
            .typed("command.shell", "`true` or `false`", command.shell)?
            .is_some_and(|b| *b.get_ref());
        let run = self.string("command.run", command.run)?.ok_or_else(|| {
            self.missing(
                "command.run",
                "add `[command]` with `run = \"program --arg {param}\"`",
            )
        })?;
        let template = CommandTemplate::parse(run.get_ref(), shell)
            .and_then(|t| t.check(&space).map(|()| t))
            .map_err(|e| {
                let at = e.offset().map_or(run.span(), |o| {
                    self.string_offset(&run.span(), run.get_ref(), o)
                });
                self.error(ConfigErrorKind::Template(e), at)
            })?;
        let base = self
            .path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let workdir = match self.string("command.workdir", command.workdir)? {
            None => base.to_path_buf(),
            Some(dir) => {
                let joined = base.join(dir.get_ref());
                if !joined.is_dir() {
                    return Err(self.invalid(
                        "command.workdir",
                        &format!("{:?}", dir.get_ref()),
                        &format!(
                            "an existing directory (relative to the config file's directory); {} is not one",
                            joined.display()
                        ),
                        dir.span(),
                    ));
                }
                joined
            }
        };
        // Absolute, so trials do not depend on the directory hyperflow was started in.
        let workdir = std::path::absolute(&workdir).unwrap_or(workdir);
        let env = self.env("command.env", command.env)?;
        let timeout = self.duration("command.timeout", command.timeout, false)?;
        let kill_grace = self
            .duration("command.kill_grace", command.kill_grace, true)?
            .unwrap_or(Duration::from_secs(5));
        let keep_names = KeepOutput::ALL.map(KeepOutput::as_str);
        let keep_output = self
            .keyword("command.keep_output", command.keep_output, &keep_names)?
            .map_or(KeepOutput::default(), |i| KeepOutput::ALL[i]);

        let metric = self.text(
            "objective.metric",
            objective.metric,
            "add `[objective]` with `metric = \"...\"`, the metric the command prints",
            "a metric name",
        )?;
        let direction = self
            .keyword(
                "objective.direction",
                objective.direction,
                &["minimize", "maximize"],
            )?
            .map_or(Direction::Minimize, |i| {
                [Direction::Minimize, Direction::Maximize][i]
            });

        let algo_names: Vec<&'static str> = Algorithm::ALL.iter().map(|a| a.as_str()).collect();
        let algo = self
            .keyword("search.algo", search.algo, &algo_names)?
            .map_or(Algorithm::default(), |i| Algorithm::ALL[i]);
        let seed = self
            .typed("search.seed", "an integer >= 0", search.seed)?
            .map(Spanned::into_inner);
        let schedule = self
            .keyword("search.schedule", search.schedule, &["async", "batch"])?
            .map_or(Schedule::Async, |i| [Schedule::Async, Schedule::Batch][i]);
        let loss_threshold =
            match self.typed("search.loss_threshold", "a number", search.loss_threshold)? {
                Some(x) if !x.get_ref().is_finite() => {
                    return Err(self.invalid(
                        "search.loss_threshold",
                        &x.get_ref().to_string(),
                        "a finite number",
                        x.span(),
                    ));
                }
                other => other.map(Spanned::into_inner),
            };

        Ok(SweepConfig {
            path: self.path.to_path_buf(),
            experiment: name,
            command: CommandConfig {
                template,
                workdir,
                env,
                timeout,
                kill_grace,
                keep_output,
            },
            objective: ObjectiveConfig { metric, direction },
            search: SearchConfig {
                algo,
                max_evals: self
                    .count("search.max_evals", search.max_evals)?
                    .unwrap_or(100),
                parallel: self.count("search.parallel", search.parallel)?.unwrap_or(1),
                seed,
                schedule,
                early_stop_after: self.count("search.early_stop_after", search.early_stop_after)?,
                timeout: self.duration("search.timeout", search.timeout, false)?,
                loss_threshold,
                stale_after: self.duration("search.stale_after", search.stale_after, false)?,
            },
            pruner,
            space,
        })
    }

    /// `[pruner]`, checked: a known kind, then its settings
    /// ([`prune::PrunerSpec::from_settings`]: only those it takes, each of its type and in
    /// its range), every error at the key or value it is about.
    fn pruner(&self, raw: RawPruner, table: Range<usize>) -> Result<PrunerConfig, ConfigError> {
        let names: Vec<&'static str> = PrunerKind::ALL.iter().map(|k| k.as_str()).collect();
        let (mut kind, mut grace, mut settings) = (None, None, Vec::new());
        for (key, value) in raw {
            match key.get_ref().as_str() {
                PRUNER_KIND => kind = Some(string_or_not(value)),
                PRUNER_GRACE => grace = Some((key.span(), string_or_not(value))),
                _ => settings.push((key, value)),
            }
        }
        let kind = match self.keyword("pruner.kind", kind, &names)? {
            Some(i) => PrunerKind::ALL[i],
            None => {
                return Err(self.error(
                    ConfigErrorKind::MissingKey {
                        key: "pruner.kind",
                        expected: format!(
                            "add `kind = \"median\"` (or one of {}) to `[pruner]`",
                            PrunerKind::listed()
                        ),
                    },
                    table,
                ));
            }
        };
        // `none` takes nothing else, not even a grace.
        let own = if kind == PrunerKind::None {
            &PRUNER_KEYS[..1]
        } else {
            &PRUNER_KEYS[..]
        };
        let accepted: Vec<&'static str> = own
            .iter()
            .copied()
            .chain(prune::PrunerSpec::settings(kind).iter().map(|s| s.as_str()))
            .collect();
        let unknown = |key: &str, span: Range<usize>| {
            self.error(
                ConfigErrorKind::UnknownKey {
                    key: key.to_string(),
                    section: format!("[pruner] of kind \"{kind}\""),
                    suggestion: did_you_mean(key, accepted.iter().copied()),
                    expected: accepted.clone(),
                },
                span,
            )
        };
        if let (Some((key, _)), PrunerKind::None) = (&grace, kind) {
            return Err(unknown(PRUNER_GRACE, key.clone()));
        }
        let values = settings
            .iter()
            .map(|(key, value)| (key.get_ref(), setting_value(value.get_ref())));
        let spec = prune::PrunerSpec::from_settings(kind, values).map_err(|e| {
            let (key, value) = settings
                .iter()
                .find(|(key, _)| key.get_ref() == e.key())
                .expect("a setting's error names a setting given");
            match e {
                prune::SettingError::Unknown { key: name, .. } => unknown(&name, key.span()),
                prune::SettingError::WrongType {
                    key,
                    expected,
                    found,
                } => self.error(
                    ConfigErrorKind::WrongType {
                        key: pruner_key(key),
                        expected,
                        found: found.to_string(),
                    },
                    value.span(),
                ),
                prune::SettingError::Invalid {
                    key,
                    found,
                    expected,
                    suggestion,
                } => self.error(
                    ConfigErrorKind::InvalidValue {
                        key: pruner_key(key),
                        found,
                        expected,
                        suggestion: suggestion.map(str::to_string),
                    },
                    value.span(),
                ),
            }
        })?;
        let grace = self
            .duration("pruner.grace", grace.map(|(_, value)| value), true)?
            .unwrap_or(Duration::from_secs(5));
        let grace = (kind != PrunerKind::None).then_some(grace);
        Ok(PrunerConfig { spec, grace })
    }

    /// The value of `key`, or an error saying it must be `expected` when it has another
    /// type.
    fn typed<T, const TABLE: bool>(
        &self,
        key: &str,
        expected: &'static str,
        value: Option<Spanned<Loose<T, TABLE>>>,
    ) -> Result<Option<Spanned<T>>, ConfigError> {
        let Some(value) = value else {
            return Ok(None);
        };
        let span = value.span();
        match value.into_inner() {
            Loose::Is(t) => Ok(Some(Spanned::new(span, t))),
            Loose::Found(found) => Err(self.error(
                ConfigErrorKind::WrongType {
                    key: key.to_string(),
                    expected,
                    found,
                },
                span,
            )),
        }
    }

    /// A section's table (empty when the section is left out).
    fn table<T: Default>(&self, key: &str, value: Section<T>) -> Result<T, ConfigError> {
        Ok(self
            .typed(key, "a table", value)?
            .map(Spanned::into_inner)
            .unwrap_or_default())
    }

    fn string(
        &self,
        key: &str,
        value: Field<String>,
    ) -> Result<Option<Spanned<String>>, ConfigError> {
        self.typed(key, "a string", value)
    }

    /// A required string that is not blank: a missing one gets `to_add` as advice, a
    /// blank one is `expected` instead.
    fn text(
        &self,
        key: &'static str,
        value: Field<String>,
        to_add: &'static str,
        expected: &str,
    ) -> Result<String, ConfigError> {
        let text = self
            .string(key, value)?
            .ok_or_else(|| self.missing(key, to_add))?;
        if text.get_ref().trim().is_empty() {
            let found = format!("{:?}", text.get_ref());
            return Err(self.invalid(key, &found, expected, text.span()));
        }
        Ok(text.into_inner())
    }

    /// A positive integer.
    fn count(&self, key: &str, value: Field<usize>) -> Result<Option<usize>, ConfigError> {
        match self.typed(key, "a positive integer", value)? {
            Some(n) if *n.get_ref() == 0 => {
                Err(self.invalid(key, "0", "a positive integer", n.span()))
            }
            n => Ok(n.map(Spanned::into_inner)),
        }
    }

    /// One of `words`; returns its index.
    fn keyword(
        &self,
        key: &str,
        value: Field<String>,
        words: &[&'static str],
    ) -> Result<Option<usize>, ConfigError> {
        let Some(word) = self.string(key, value)? else {
            return Ok(None);
        };
        match words.iter().position(|w| w == word.get_ref()) {
            Some(i) => Ok(Some(i)),
            None => Err(self.error(
                ConfigErrorKind::InvalidValue {
                    key: key.to_string(),
                    found: format!("{:?}", word.get_ref()),
                    expected: one_of(words),
                    suggestion: did_you_mean(word.get_ref(), words.iter().copied())
                        .map(str::to_string),
                },
                word.span(),
            )),
        }
    }

    /// A duration (see [`parse_duration`]); zero only with `allow_zero`.
    fn duration(
        &self,
        key: &str,
        value: Field<String>,
        allow_zero: bool,
    ) -> Result<Option<Duration>, ConfigError> {
        let Some(text) = self.typed(
            key,
            "a duration string such as \"30s\", \"10m\" or \"1h30m\"",
            value,
        )?
        else {
            return Ok(None);
        };
        let found = format!("{:?}", text.get_ref());
        match parse_duration(text.get_ref()) {
            Err(e) => Err(self.invalid(key, &found, &e.to_string(), text.span())),
            Ok(d) if d.is_zero() && !allow_zero => Err(self.invalid(
                key,
                &found,
                "a positive duration (leave the key out for no limit)",
                text.span(),
            )),
            Ok(d) => Ok(Some(d)),
        }
    }

    /// A table of environment variables; numbers and bools are written out as text.
    fn env(
        &self,
        key: &str,
        value: Section<IndexMap<Spanned<String>, Spanned<toml::Value>>>,
    ) -> Result<Vec<(String, String)>, ConfigError> {
        let Some(table) = self.typed(key, "a table of NAME = \"value\" entries", value)? else {
            return Ok(Vec::new());
        };
        table
            .into_inner()
            .into_iter()
            .map(|(name, v)| {
                let text = match v.get_ref() {
                    toml::Value::String(s) => s.clone(),
                    toml::Value::Integer(i) => i.to_string(),
                    toml::Value::Float(x) => x.to_string(),
                    toml::Value::Boolean(b) => b.to_string(),
                    other => {
                        return Err(self.error(
                            ConfigErrorKind::WrongType {
                                key: format!("{key}.{}", name.get_ref()),
                                expected: "a string, number or bool",
                                found: describe(other),
                            },
                            v.span(),
                        ));
                    }
                };
                if name.get_ref().is_empty() || name.get_ref().contains(['=', '\0']) {
                    return Err(self.invalid(
                        key,
                        &format!("{:?}", name.get_ref()),
                        "variable names without `=` or NUL",
                        name.span(),
                    ));
                }
                Ok((name.into_inner(), text))
            })
            .collect()
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

    fn missing(&self, key: &'static str, expected: impl Into<String>) -> ConfigError {
        self.unlocated(ConfigErrorKind::MissingKey {
            key,
            expected: expected.into(),
        })
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

/// Moves every span of a value parsed on its own by `offset` bytes, so it points into the
/// combined text.
fn shift(value: Spanned<DeValue<'_>>, offset: usize) -> Spanned<DeValue<'_>> {
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
/// ranges in `key`, as TOML reads keys (quotes, escapes and spaces around dots included).
fn split_key(key: &str) -> Result<Vec<(String, Range<usize>)>, String> {
    // The key with a value is a one-line document: a chain of one-key tables.
    let line = format!("{key} = 0");
    let document = DeTable::parse(&line)
        .map_err(|e| format!("the key is not a TOML key ({})", e.message().trim_end()))?;
    let mut parts = Vec::new();
    let mut table = document.get_ref();
    while let Some((part, value)) = table.iter().next() {
        parts.push((part.get_ref().to_string(), part.span()));
        match value.get_ref() {
            DeValue::Table(inner) => table = inner,
            _ => break,
        }
    }
    Ok(parts)
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
        if number.is_empty() {
            return Err(fail(&format!("`{rest}` does not start with a number")));
        }
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
    use crate::tracking::table::DurationParts;
    match DurationParts::of(d) {
        DurationParts::Millis(ms) => format!("{ms}ms"),
        DurationParts::Seconds(s) => format!("{s:.1}s"),
        DurationParts::MinutesSeconds(m, s) => format!("{m}m{s:02}s"),
        DurationParts::HoursMinutes(h, m) => format!("{h}h{m:02}m"),
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

    /// The error of a config, checked to say `text`.
    fn says(source: &str, text: &str) -> ConfigError {
        let e = parse(source).unwrap_err();
        assert!(e.to_string().contains(text), "{e}");
        e
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
        assert_eq!(c.search().algo(), Algorithm::Random);
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

        says(
            &GOOD.replace("[objective]", "[objectve]"),
            "did you mean `objective`?",
        );
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
        says(
            &GOOD.replace("parallel = 2", "parallel = 0"),
            "expected a positive integer",
        );
        says(
            &GOOD.replace("\"maximize\"", "\"maximise\""),
            "did you mean `maximize`?",
        );
        let e = says(&GOOD.replace("\"1m30s\"", "\"90\""), "has no unit");
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
        says("[experiment]\nname = \"x\"\n", "[space]");
        says(
            &format!("{GOOD}\n[pruner]\ngrace = \"1s\"\n"),
            "missing `pruner.kind`: add `kind = \"median\"` (or one of \"none\", \"median\",",
        );
        says(
            &GOOD.replace("metric = \"val_loss\"", ""),
            "missing `objective.metric`",
        );
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
        assert_eq!(c.search().algo(), Algorithm::Tpe);
        assert_eq!(c.search().max_evals(), 3);
        for algo in Algorithm::ALL {
            let set = format!("search.algo={algo}");
            let c = parse_with(GOOD, Overrides::default().set(set)).unwrap();
            assert_eq!(c.search().algo(), algo);
        }
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
        assert!(
            e.to_string()
                .contains("`experiment.name` is string \"demo\" in the config, not a table"),
            "{e}"
        );
    }

    #[test]
    fn hyperband_keywords_have_defaults_overrides_and_only_hyperband_takes_them() {
        let hyperband = format!("{GOOD}\n[pruner]\nkind = \"hyperband\"\n");
        // The pruner built, with every setting (the dry run shows those given).
        let shown = |c: SweepConfig| format!("{:?}", c.pruner().expect("a pruner").spec());
        // (key, its default shown, the other keyword, it shown)
        let keywords = [
            (
                "brackets",
                "brackets: Shared",
                "separate",
                "brackets: Separate",
            ),
            (
                "weights",
                "weights: Agreement",
                "budgets",
                "weights: Budgets",
            ),
        ];
        for (key, default, other, other_shown) in keywords {
            assert!(shown(parse(&hyperband).unwrap()).contains(default), "{key}");
            let set = Overrides::default().set(format!("pruner.{key}=\"{other}\""));
            assert!(shown(parse_with(&hyperband, set).unwrap()).contains(other_shown));
            let unknown = Overrides::default().set(format!("pruner.{key}=\"apart\""));
            let e = parse_with(&hyperband, unknown).unwrap_err();
            assert!(e.to_string().contains(&format!("`{other}`")), "{e}");
            says(
                &format!("{GOOD}\n[pruner]\nkind = \"asha\"\n{key} = \"{other}\"\n"),
                &format!("unknown key `{key}`"),
            );
        }
    }

    #[test]
    fn pruner_settings_are_checked_where_they_are_written() {
        // (the setting's line, the message, the column of the caret: key or value)
        let cases = [
            (
                "reduction_factor = \"four\"",
                "`pruner.reduction_factor` must be a positive integer, found string \"four\"",
                20,
            ),
            (
                "reduction_factor = 1",
                "`pruner.reduction_factor` = 1 is not valid: expected an integer >= 2",
                20,
            ),
            (
                "reduction_factr = 3",
                "unknown key `reduction_factr` in [pruner] of kind \"asha\"; expected one of \
                 `kind`, `grace`, `min_resource`",
                1,
            ),
            ("grace = 5", "`pruner.grace` must be a duration string", 9),
            (
                "min_delta = 0.1",
                "`pruner.min_delta` = 0.1 is not valid: expected `patience` to be set too",
                13,
            ),
        ];
        for (setting, message, column) in cases {
            let source = format!("{GOOD}\n[pruner]\nkind = \"asha\"\n{setting}\n");
            let e = parse(&source).unwrap_err();
            assert!(e.to_string().contains(message), "{setting}: {e}");
            let line = source.lines().count();
            assert_eq!((e.line(), e.column()), (Some(line), Some(column)), "{e}");
        }
        let c = parse(&format!(
            "{GOOD}\n[pruner]\nkind = \"asha\"\nreduction_factor = 3\npatience = 2\n"
        ))
        .unwrap();
        let shown = c.pruner().expect("a pruner").to_string();
        assert_eq!(
            shown,
            "asha (reduction_factor = 3, patience = 2); grace 5.0s"
        );
        let none = parse(&format!("{GOOD}\n[pruner]\nkind = \"none\"\n")).unwrap();
        assert_eq!(none.pruner().expect("a pruner").to_string(), "none");
    }

    #[test]
    fn every_key_has_its_type_checked_where_it_is_written() {
        let cases = [
            (
                "seed = 3",
                "seed = -1",
                "`search.seed` must be an integer >= 0, found integer -1",
            ),
            (
                "seed = 3",
                "seed = 1.5",
                "`search.seed` must be an integer >= 0, found float 1.5",
            ),
            (
                "parallel = 2",
                "parallel = [2]",
                "`search.parallel` must be a positive integer, found an array",
            ),
            (
                "parallel = 2",
                "parallel = { n = 2 }",
                "`search.parallel` must be a positive integer, found a table",
            ),
            (
                "name = \"demo\"",
                "name = 1979-05-27",
                "`experiment.name` must be a string, found datetime 1979-05-27",
            ),
            (
                "timeout = \"1m30s\"",
                "shell = \"yes\"",
                "`command.shell` must be `true` or `false`, found string \"yes\"",
            ),
            (
                "timeout = \"1m30s\"",
                "timeout = 90",
                "`command.timeout` must be a duration string such as",
            ),
            (
                "env = { A = \"1\", B = 2 }",
                "env = \"A=1\"",
                "`command.env` must be a table of NAME = \"value\" entries, found string \"A=1\"",
            ),
            (
                "B = 2 }",
                "B = [2] }",
                "`command.env.B` must be a string, number or bool, found an array",
            ),
            (
                "seed = 3",
                "loss_threshold = \"low\"",
                "`search.loss_threshold` must be a number, found string \"low\"",
            ),
        ];
        for (from, to, message) in cases {
            let source = GOOD.replace(from, to);
            let e = parse(&source).unwrap_err();
            let text = e.to_string();
            assert!(text.contains(message), "{to}: {text}");
            // The caret is under the value.
            let line = source.lines().nth(e.line().unwrap() - 1).unwrap();
            let at: String = line.chars().skip(e.column().unwrap() - 1).collect();
            let value = to.split_once(" = ").unwrap().1;
            assert!(value.starts_with(&at[..1]), "{to}: {text}");
        }
    }

    #[test]
    fn a_section_that_is_not_a_table_says_so() {
        let (head, tail) = GOOD.split_once("[search]").unwrap();
        let (_, space) = tail.split_once("[space]").unwrap();
        let source = format!("search = 3\n{head}[space]{space}");
        let e = parse(&source).unwrap_err();
        assert_eq!((e.line(), e.column()), (Some(1), Some(10)));
        assert!(
            e.to_string()
                .contains("`search` must be a table, found integer 3"),
            "{e}"
        );
        let source = GOOD.replace("[search]", "[[search]]");
        says(&source, "`search` must be a table, found an array");
        // An array holding what the table would is not the table.
        says(
            &GOOD.replace("[experiment]\nname = \"demo\"", "experiment = [\"demo\"]"),
            "`experiment` must be a table, found an array",
        );
    }

    #[test]
    fn unknown_keys_are_found_at_every_level_and_in_overrides() {
        let e = parse(&format!("colour = 1\n{GOOD}")).unwrap_err();
        assert_eq!((e.line(), e.column()), (Some(1), Some(1)));
        assert!(
            matches!(e.kind(), ConfigErrorKind::UnknownKey { key, section, suggestion: None, .. }
                if key == "colour" && section == "the top level"),
            "{e:?}"
        );
        assert!(
            e.to_string().contains(
                "expected one of `experiment`, `command`, `objective`, `search`, `pruner`, `space`"
            ),
            "{e}"
        );
        // A dotted key, in a section named by a dotted key too.
        let e = parse(&GOOD.replace("[objective]", "[objective]\nmetrc.x = 1")).unwrap_err();
        assert!(
            matches!(e.kind(), ConfigErrorKind::UnknownKey { key, section, suggestion: Some("metric"), .. }
                if key == "metrc" && section == "[objective]"),
            "{e:?}"
        );
        let e = parse(&GOOD.replace("[experiment]", "[experiment]\nnmae = 1")).unwrap_err();
        assert!(
            e.to_string().contains(
                "unknown key `nmae` in [experiment]; expected `name`; did you mean `name`?"
            ),
            "{e}"
        );
        // A key an override adds is checked like one in the file.
        let e = parse_with(GOOD, Overrides::default().set("command.shel=true")).unwrap_err();
        let text = e.to_string();
        assert!(
            text.starts_with(
                "in override `command.shel=true` (column 9): unknown key `shel` in [command]"
            ),
            "{text}"
        );
        assert!(
            text.ends_with(" |\n | command.shel=true\n |         ^^^^"),
            "{text}"
        );
        // Environment variables may have any name.
        let c = parse(&GOOD.replace("A = \"1\"", "Z_ANY = true")).unwrap();
        assert_eq!(
            c.command().env(),
            [("Z_ANY".into(), "true".into()), ("B".into(), "2".into())]
        );
    }

    #[test]
    fn values_are_checked_after_their_types() {
        let e = says(
            &GOOD.replace("B = 2", "\"B=C\" = 2"),
            "variable names without `=` or NUL",
        );
        assert_eq!(e.column(), Some(18));
        says(&GOOD.replace("\"1m30s\"", "\"0s\""), "a positive duration");
        let c = parse(&GOOD.replace("timeout = \"1m30s\"", "kill_grace = \"0s\"")).unwrap();
        assert_eq!(c.command().kill_grace(), Duration::ZERO);
        says(
            &GOOD.replace("seed = 3", "loss_threshold = inf"),
            "expected a finite number",
        );
        let c = parse(&GOOD.replace(
            "seed = 3",
            "loss_threshold = 1\nseed = 18446744073709551615",
        ))
        .unwrap();
        assert_eq!(c.search().loss_threshold(), Some(1.0));
        assert_eq!(c.search().seed(), Some(u64::MAX));
        says(
            &GOOD.replace("name = \"demo\"", "name = \" \""),
            "expected a non-empty name",
        );
    }

    #[test]
    fn a_space_error_left_behind_is_not_taken_for_a_config_error() {
        // A failed space parse leaves its typed error behind on this thread; the next
        // config's own error must not pick it up.
        assert!(Space::from_toml_str("x = { kind = \"unifrom\" }").is_err());
        assert!(toml::from_str::<Space>("x = { kind = \"unifrom\" }").is_err());
        let e = parse(&GOOD.replace("max_evals = 7", "max_eval = 7")).unwrap_err();
        assert!(
            matches!(e.kind(), ConfigErrorKind::UnknownKey { .. }),
            "{e:?}"
        );
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
        assert_eq!(
            split_key(" 'x y' . \"a\\u0062\"").unwrap(),
            [("x y".to_string(), 1..6), ("ab".to_string(), 9..18)]
        );
        for bad in ["a..b", "", "a b", "\"open"] {
            let e = split_key(bad).unwrap_err();
            assert!(e.starts_with("the key is not a TOML key ("), "{bad}: {e}");
        }
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
        // The part that is not a number is named.
        assert_eq!(
            parse_duration("abc").unwrap_err().to_string(),
            parse_duration("1s abc").unwrap_err().to_string()
        );
        assert!(
            parse_duration("abc")
                .unwrap_err()
                .to_string()
                .contains("`abc` does not start with a number"),
            "{}",
            parse_duration("abc").unwrap_err()
        );
        assert_eq!(format_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(format_duration(Duration::from_secs(185)), "3m05s");
        assert_eq!(format_duration(Duration::from_secs(3720)), "1h02m");
    }
}
