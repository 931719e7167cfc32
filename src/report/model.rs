//! The report as plain, serializable data: what [`analyze`](super::analyze) returns and every
//! renderer (and, later, the server) reads.

use serde::Serialize;

use crate::space::{Dist, Point, Space, Value};
use crate::trials::Direction;

/// The analysis of one or more groups of trials.
///
/// Losses are reported as logged (not negated when maximizing); "best" follows
/// [`Report::direction`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Whether lower or higher losses are better.
    pub direction: Direction,
    /// The settings the analysis ran with.
    pub settings: Settings,
    /// One report per group, in input order.
    pub groups: Vec<GroupReport>,
    /// What the groups agree on; present when there are two groups or more.
    pub house: Option<HouseReport>,
}

/// The settings of an analysis, as recorded in the report (see
/// [`ReportOptions`](super::ReportOptions) for their meaning).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Settings {
    /// Fraction of the complete trials that count as "top".
    pub top_quantile: f64,
    /// Fewer top trials than this and ranges are shown but not acted on.
    pub min_top_trials: usize,
    /// How many best trials are listed.
    pub best_trials: usize,
}

/// How many trials a group has, by state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct TrialCounts {
    /// All trials.
    pub total: usize,
    /// Complete with a finite loss: the ranked ones.
    pub complete: usize,
    /// Failed, or complete without a usable loss.
    pub failed: usize,
    /// Stopped early by the objective.
    pub pruned: usize,
    /// Stopped from outside before they finished (not results).
    pub killed: usize,
    /// Still running when the report was made.
    pub running: usize,
}

/// The analysis of one sweep or experiment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupReport {
    /// The group's name.
    pub name: String,
    /// Trials by state.
    pub counts: TrialCounts,
    /// The number of top trials (top quantile of the complete ones; ties at the boundary
    /// all count).
    pub n_top: usize,
    /// The worst loss still in the top quantile; `None` without complete trials.
    pub top_threshold: Option<f64>,
    /// The best trials, best first.
    pub best: Vec<BestTrial>,
    /// Complete trials in trial order, with the best loss so far.
    pub history: Vec<HistoryPoint>,
    /// Failed trials grouped by reason, most frequent first.
    pub failures: Vec<FailureGroup>,
    /// One entry per hyperparameter, in the space's order.
    pub params: Vec<ParamReport>,
    /// Remarks on the group as a whole (too few trials, unknown parameters, ...).
    pub notes: Vec<String>,
    /// The declared space, when known; kept for [`GroupReport::next_space`].
    #[serde(skip)]
    pub(crate) space: Option<Space>,
}

/// One of the best trials.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BestTrial {
    /// 1 for the best.
    pub rank: usize,
    /// Its trial number.
    pub number: usize,
    /// Its loss.
    pub loss: f64,
    /// Its hyperparameters.
    pub params: Point,
    /// Its tracking run, when known.
    pub run_id: Option<String>,
}

/// A point of the loss history.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct HistoryPoint {
    /// Trial number.
    pub number: usize,
    /// That trial's loss.
    pub loss: f64,
    /// The best loss among complete trials up to and including this one.
    pub best_so_far: f64,
}

/// Failed trials that share a reason.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FailureGroup {
    /// The reason (first line of the error, at most 200 characters).
    pub reason: String,
    /// How many trials failed this way.
    pub count: usize,
    /// The first few of their trial numbers (at most 5), ascending.
    pub examples: Vec<usize>,
}

/// A closed interval of parameter values (value space, not log space).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Interval {
    /// Smallest value.
    pub low: f64,
    /// Largest value (inclusive, also for `randint`).
    pub high: f64,
}

/// What the report recommends doing with a parameter's range in the next search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Action {
    /// Search a narrower range around where the top trials lie.
    Narrow,
    /// The top trials spread over (almost) the whole range: search it again.
    Keep,
    /// The top trials crowd the lower bound: search below it.
    WidenLow,
    /// The top trials crowd the upper bound: search above it.
    WidenHigh,
    /// The top trials crowd both bounds.
    WidenBoth,
    /// The parameter does not measurably matter: left as searched.
    Unimportant,
    /// Too few trials to say: left as searched.
    TooFewTrials,
    /// Categorical: some options never made it to the top and are suggested to drop.
    DropOptions,
    /// A constant, or a single value was tried: nothing to search.
    Fixed,
}

impl Action {
    /// Whether the recommended range goes beyond the searched one.
    pub fn is_widen(self) -> bool {
        matches!(
            self,
            Action::WidenLow | Action::WidenHigh | Action::WidenBoth
        )
    }

    /// A short word for tables.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Narrow => "narrow",
            Action::Keep => "keep",
            Action::WidenLow => "widen low",
            Action::WidenHigh => "widen high",
            Action::WidenBoth => "widen both",
            Action::Unimportant => "unimportant",
            Action::TooFewTrials => "too few",
            Action::DropOptions => "drop options",
            Action::Fixed => "fixed",
        }
    }
}

/// A parameter's importance, estimated with PED-ANOVA (see the [module docs](super)).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Importance {
    /// This parameter's share of the summed divergences of all parameters of the group
    /// (shares add up to 1 unless no parameter matters).
    pub share: f64,
    /// Bias-corrected Pearson divergence between the top-quantile and the overall density
    /// of the parameter; 0 when the top trials are spread like all trials.
    pub divergence: f64,
    /// `divergence` over its largest possible value `(1 - γ) / γ`: 0 to 1, comparable
    /// across groups and quantiles.
    pub strength: f64,
    /// The chi-square statistic (finite-population corrected) of top vs all counts per bin,
    /// averaged over the shifted bin grids.
    pub chi2: f64,
    /// The number of bins of one grid (categories for a choice).
    pub bins: usize,
    /// The permutation p-value of "top trials are spread like all trials".
    pub p_value: f64,
    /// Whether the parameter measurably matters: the permutation test rejects "top trials
    /// are spread like all trials" at the 1% level and `strength` is at least the
    /// configured minimum.
    pub matters: bool,
    /// Whether the evidence is tentative: the test rejects "top trials are spread like all
    /// trials" at the 10% level but not at 1% (and `strength` is at least the configured
    /// minimum). The parameter probably matters; more trials would tell. Reports say so
    /// (action `keep`, a note, the top trials' range or options) and change the searched
    /// range or options on firm evidence only.
    pub tentative: bool,
    /// 1 for the most important parameter of the group.
    pub rank: usize,
}

/// One hyperparameter's analysis.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParamReport {
    /// Its name.
    pub name: String,
    /// Its kind as in the space schema (`"loguniform"`, `"randint"`, `"choice"`, ...).
    pub kind: String,
    /// Whether it is analysed in log space.
    pub log: bool,
    /// Whether the kind was inferred from the values (no declared space).
    pub inferred: bool,
    /// Complete trials in which it has a value.
    pub n_values: usize,
    /// Its importance; `None` with too few top trials.
    pub importance: Option<Importance>,
    /// What to do with it next time.
    pub action: Action,
    /// Ranges (numeric kinds) or per-option figures (choice).
    pub detail: ParamDetail,
    /// Remarks (why an action was taken, values that did not fit, ...).
    pub notes: Vec<String>,
    /// The distribution searched (declared or inferred).
    #[serde(skip)]
    pub(crate) dist: Dist,
    /// The distribution recommended for the next search.
    #[serde(skip)]
    pub(crate) next: Dist,
    /// Per complete trial with a value: for the plots, kept out of the JSON (the history
    /// and best trials carry what a reader needs).
    #[serde(skip)]
    pub(crate) trial_values: Vec<TrialValue>,
}

/// One complete trial's value of a parameter, for plots.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TrialValue {
    pub number: usize,
    pub value: Value,
    pub loss: f64,
    pub top: bool,
}

impl ParamReport {
    /// The numeric details, for numeric kinds.
    pub fn numeric(&self) -> Option<&NumericDetail> {
        match &self.detail {
            ParamDetail::Numeric(n) => Some(n),
            _ => None,
        }
    }

    /// The per-option details, for `choice`.
    pub fn categorical(&self) -> Option<&CategoricalDetail> {
        match &self.detail {
            ParamDetail::Categorical(c) => Some(c),
            _ => None,
        }
    }

    /// The distribution recommended for the next search.
    pub fn next_dist(&self) -> &Dist {
        &self.next
    }

    /// The distribution that was searched (declared, or inferred from the values).
    pub fn searched_dist(&self) -> &Dist {
        &self.dist
    }
}

/// Kind-specific details of a parameter.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ParamDetail {
    /// A numeric kind.
    Numeric(NumericDetail),
    /// A `choice`.
    Categorical(CategoricalDetail),
    /// A constant.
    Constant {
        /// Its value.
        value: Value,
    },
}

/// Ranges of a numeric parameter.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NumericDetail {
    /// The searched range: the declared bounds, or the observed values for unbounded and
    /// inferred kinds.
    pub searched: Interval,
    /// The smallest and largest values tried in complete trials.
    pub observed: Option<Interval>,
    /// Its value in the best trial.
    pub best_value: Option<f64>,
    /// Where the top trials lie: the central 90% of their values (all of them with fewer
    /// than 20).
    pub good: Option<Interval>,
    /// How many top trials have a value.
    pub n_good: usize,
    /// The range recommended for the next search, snapped to the kind.
    pub recommended: Interval,
}

/// How the options of a `choice` fared.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CategoricalDetail {
    /// One entry per option, in declared (or first-seen) order.
    pub options: Vec<OptionStats>,
}

/// How one option of a `choice` fared.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OptionStats {
    /// The option's value.
    pub value: Value,
    /// Complete trials with this option.
    pub count: usize,
    /// Of these, how many are top trials.
    pub n_top: usize,
    /// Best loss with this option.
    pub best: Option<f64>,
    /// Median loss with this option.
    pub median: Option<f64>,
    /// The option of the best trial.
    pub is_best: bool,
    /// The option with the worst median loss (only with two options or more tried).
    pub is_worst: bool,
    /// Suggested to drop: tried often enough that never reaching the top is unlikely to
    /// be chance (probability below 5%), and the parameter matters.
    pub drop: bool,
}

/// What several groups agree on: the house "best practice" ranges.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HouseReport {
    /// The groups compared, in input order.
    pub groups: Vec<String>,
    /// One entry per parameter seen in any group, in first-seen order.
    pub params: Vec<HouseParam>,
}

/// One parameter across groups.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HouseParam {
    /// Its name.
    pub name: String,
    /// Its kind (from the first group that has it).
    pub kind: String,
    /// Whether it is analysed in log space.
    pub log: bool,
    /// Groups in which it was searched.
    pub n_groups: usize,
    /// Groups in which it measurably matters.
    pub n_matters: usize,
    /// Mean importance share over the groups that have it.
    pub mean_share: f64,
    /// The house recommendation.
    pub action: Action,
    /// Ranges or options across groups.
    pub detail: HouseDetail,
    /// Remarks.
    pub notes: Vec<String>,
    /// The recommended distribution.
    #[serde(skip)]
    pub(crate) next: Dist,
}

/// Kind-specific house details.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum HouseDetail {
    /// A numeric kind.
    Numeric(HouseNumeric),
    /// A `choice`.
    Categorical(HouseCategorical),
    /// A constant.
    Constant,
}

/// A numeric parameter across groups.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HouseNumeric {
    /// Each group's good and recommended range.
    pub per_group: Vec<GroupRange>,
    /// Where the good ranges of all groups in which it matters overlap (`None` if they
    /// do not all overlap).
    pub intersection: Option<Interval>,
    /// The hull of those good ranges.
    pub union: Option<Interval>,
    /// Where the good ranges of more than half of those groups overlap.
    pub consensus: Option<Interval>,
    /// How many of those groups' good ranges touch the consensus.
    pub agreement: usize,
    /// How many groups the agreement is out of (those in which it matters).
    pub out_of: usize,
    /// The house range for the next search, snapped to the kind.
    pub recommended: Interval,
}

/// One group's ranges of a parameter.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupRange {
    /// The group.
    pub group: String,
    /// Where its top trials lie.
    pub good: Option<Interval>,
    /// Its own recommendation.
    pub recommended: Interval,
    /// Its action.
    pub action: Action,
    /// Whether the parameter matters in it.
    pub matters: bool,
}

/// A `choice` across groups.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HouseCategorical {
    /// Per option, in first-seen order.
    pub options: Vec<HouseOption>,
}

/// One option across groups.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HouseOption {
    /// The option's value.
    pub value: Value,
    /// Groups in which it was tried.
    pub n_groups: usize,
    /// Groups in which it reached the top quantile.
    pub n_top: usize,
    /// Groups in which it was the best trial's option.
    pub n_best: usize,
    /// Groups in which it is suggested to drop.
    pub n_drop: usize,
    /// Dropped by the house: suggested to drop in more than half of the groups that tried it.
    pub drop: bool,
}
