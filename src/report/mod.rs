//! Reports of sensible hyperparameter ranges: which parameters matter, where the good
//! trials lie, and which ranges to search next.
//!
//! [`analyze`] turns a [`ReportInput`] (plain trials, grouped by sweep or experiment) into
//! a [`Report`], plain serializable data that the [`render`] functions turn into a terminal
//! report, Markdown, JSON or a self-contained HTML page with SVG plots.
//! [`Report::next_space`] gives the recommended ranges as a [`Space`](crate::Space), and
//! [`Report::plots`] each plot as an SVG file to log as an artifact.
//!
//! # Method
//!
//! Losses are ranked in the report's [`Direction`](crate::Direction); only complete trials
//! with a finite loss are ranked. Log kinds are analysed in log space throughout.
//!
//! - **Top trials**: the best `ceil(γ n)` of the `n` complete trials (`γ` =
//!   [`ReportOptions::top_quantile`], default 0.2), plus any tied with the last of them.
//! - **Too few to say**: with fewer than [`ReportOptions::min_top_trials`] top trials
//!   (default 5, so 25 complete trials at γ = 0.2), ranges are shown but importance is
//!   neither estimated nor ranked (the group says "too few to rank importance") and every
//!   range is left as searched ([`Action::TooFewTrials`]).
//! - **Good range**: where the top trials' values lie: their min..max, or their central 90%
//!   (5th to 95th percentile) from 20 top trials on.
//! - **Importance**: PED-ANOVA (Watanabe et al., IJCAI 2023): the Pearson divergence between
//!   a parameter's density among the top trials and among all trials, estimated with
//!   equal-mass histograms (at least `1/γ` bins, averaged over shifted bin edges), minus its
//!   expected value when the parameter does not matter; reported as a share of the group's
//!   total and as a strength in 0..1. A parameter *matters* when a permutation test of top
//!   vs all counts rejects "spread like all trials" at the 1% level and its strength is at
//!   least [`ReportOptions::min_strength`]. With few trials only clear effects reach
//!   significance: "does not matter" then means "not shown to matter". Details in the
//!   source of `report::importance`.
//! - **Recommended range**: parameters that do not matter, or with too few trials, are left
//!   as searched. Otherwise the good range plus a margin on each side
//!   ([`ReportOptions::margin`] × its width, at least 5% of the searched width), kept
//!   inside the searched range — unless the top trials *crowd a bound*: the good range
//!   reaches the outer 10% band at that end and either the best trial lies in the band or
//!   top trials are 1.5× over-represented there (two at least). Then the range is widened
//!   past that bound by 25% of the searched width (at least the margin) and flagged
//!   ([`Action::WidenLow`], [`Action::WidenHigh`]). Widening never crosses zero: ranges
//!   searched on positive values stay positive (integers ≥ 1, reals ≥ half the searched
//!   low). The result is snapped to the kind: integers, the `q` grid, positive log bounds,
//!   reals rounded outward to two significant digits. A recommendation covering 90% of the
//!   searched width or more is [`Action::Keep`] (the searched range, unchanged).
//! - **Choices**: per option, trials, top trials, best and median loss; the option with the
//!   worst median is marked; an option is suggested to drop when the parameter matters and
//!   the option never reached the top although the chance of that by luck, `(1 − γ)^count`,
//!   is below 5% (at γ = 0.2: tried 14 times or more).
//! - **Several groups**: see the house ranges ([`HouseReport`]): a majority vote of the
//!   groups in which a parameter matters.
//!
//! Inferred kinds (no declared space): text and booleans, or at most 3 distinct numbers,
//! make a `choice`; integers a `randint`; other numbers a `uniform`; positive numbers
//! spanning two decades or more are log scale (`loguniform`, or `qloguniform` with `q = 1`
//! for integers).
//!
//! Output is deterministic: the same input gives byte-identical reports.

mod analyze;
mod house;
mod importance;
mod input;
mod model;
mod next;
pub mod render;
mod snap;
mod store;

pub use analyze::analyze;
pub use input::{ReportInput, ReportTrial, TrialSet, parse_param_value};
pub use model::{
    Action, BestTrial, CategoricalDetail, FailureGroup, GroupRange, GroupReport, HistoryPoint,
    HouseCategorical, HouseDetail, HouseNumeric, HouseOption, HouseParam, HouseReport, Importance,
    Interval, NumericDetail, OptionStats, ParamDetail, ParamReport, Report, Settings, TrialCounts,
};
pub use render::{Format, Plot};
pub(crate) use store::parent_space;
pub use store::{
    REPORT_ARTIFACT_DIR, ReportSource, StoreInput, StoreOptions, from_store, log_artifacts,
};

use crate::space::SpaceError;
use crate::tracking::StoreError;

/// Why a report could not be made or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// An option is out of range.
    #[error("report option `{name}` = {value} is invalid: expected {expected}")]
    InvalidOption {
        /// The option.
        name: &'static str,
        /// Its value, as text.
        value: String,
        /// What is accepted.
        expected: &'static str,
    },
    /// The report has no group, so there is nothing to recommend.
    #[error("the report has no group of trials")]
    NoGroups,
    /// The recommended ranges do not make a valid space.
    #[error("the recommended ranges do not make a valid space: {0}")]
    Space(#[source] SpaceError),
    /// A plot could not be drawn.
    #[error("plot `{plot}` could not be drawn: {message}")]
    Plot {
        /// The plot's file name.
        plot: String,
        /// What went wrong.
        message: String,
    },
    /// The report could not be serialized to JSON.
    #[error("the report could not be written as JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// A file could not be written.
    #[error("could not write {path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A format name is not known.
    #[error("unknown report format `{0}`: expected terminal, md, json or html")]
    UnknownFormat(String),
    /// The tracking store could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No run has this id.
    #[error("no run has the id `{0}`")]
    RunNotFound(String),
    /// No experiment has this name or id; the message names it and the closest name.
    #[error("{0}")]
    ExperimentNotFound(String),
    /// The source has no runs to report on.
    #[error("nothing to report on: {0}")]
    NoTrials(String),
    /// The runs were optimized in different directions.
    #[error("the runs were optimized in different directions: {0}")]
    MixedDirections(String),
    /// A run holds something the report cannot read.
    #[error("run {run_id}: {message}")]
    RunData {
        /// The run.
        run_id: String,
        /// What is wrong with it.
        message: String,
    },
}

/// Settings of [`analyze`]; the defaults work.
///
/// ```
/// use hyperflow::report::ReportOptions;
/// let options = ReportOptions::default().top_quantile(0.1).best_trials(5);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ReportOptions {
    top_quantile: f64,
    min_top_trials: usize,
    best_trials: usize,
    margin: f64,
    min_strength: f64,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            top_quantile: 0.2,
            min_top_trials: 5,
            best_trials: 10,
            margin: 0.25,
            min_strength: 0.03,
        }
    }
}

impl ReportOptions {
    /// Fraction of the complete trials that count as top trials, in `(0, 1)`; default 0.2.
    pub fn top_quantile(mut self, gamma: f64) -> Self {
        self.top_quantile = gamma;
        self
    }

    /// With fewer top trials than this, ranges are shown but not acted on and no importance
    /// is estimated; at least 1, default 5.
    pub fn min_top_trials(mut self, n: usize) -> Self {
        self.min_top_trials = n;
        self
    }

    /// How many best trials are listed; default 10.
    pub fn best_trials(mut self, n: usize) -> Self {
        self.best_trials = n;
        self
    }

    /// Margin added on each side of the good range, as a fraction of its width (in log space
    /// for log kinds); at least 0, default 0.25.
    pub fn margin(mut self, fraction: f64) -> Self {
        self.margin = fraction;
        self
    }

    /// Smallest importance strength (0..1) for a parameter to count as mattering; default
    /// 0.03.
    pub fn min_strength(mut self, strength: f64) -> Self {
        self.min_strength = strength;
        self
    }

    /// Checks every option (done by [`analyze`] too); the error names the option, its
    /// value and what is accepted.
    pub fn validate(&self) -> Result<(), ReportError> {
        let invalid = |name, value: String, expected| {
            Err(ReportError::InvalidOption {
                name,
                value,
                expected,
            })
        };
        if !(self.top_quantile > 0.0 && self.top_quantile < 1.0) {
            return invalid(
                "top_quantile",
                self.top_quantile.to_string(),
                "a fraction strictly between 0 and 1",
            );
        }
        if self.min_top_trials == 0 {
            return invalid("min_top_trials", "0".into(), "at least 1");
        }
        if !(self.margin >= 0.0 && self.margin.is_finite()) {
            return invalid("margin", self.margin.to_string(), "a finite number >= 0");
        }
        if !(0.0..=1.0).contains(&self.min_strength) {
            return invalid(
                "min_strength",
                self.min_strength.to_string(),
                "a number between 0 and 1",
            );
        }
        Ok(())
    }
}
