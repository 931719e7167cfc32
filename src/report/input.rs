//! What a report is made from: plain data, independent of where the trials were stored.
//!
//! Runs of a tracking store become an input with [`from_store`](super::from_store); `fmin`
//! users build the input straight from a [`FminResult`] with [`ReportInput::from_fmin`].

use serde::Serialize;

use crate::fmin::FminResult;
use crate::space::{Point, Space, Value};
use crate::trials::{Direction, Trial, TrialState};

/// Everything a report looks at: one or more groups of trials optimized in one direction.
///
/// One group is one sweep (the child runs of one parent run) or one experiment. Several
/// groups are analysed one by one and then compared (the "house" ranges, see
/// [`HouseReport`](super::HouseReport)).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReportInput {
    /// Whether lower (`Minimize`) or higher (`Maximize`) losses are better, for every group.
    pub direction: Direction,
    /// The groups, in the order they are reported.
    pub groups: Vec<TrialSet>,
}

impl ReportInput {
    /// An input of one group.
    pub fn single(direction: Direction, group: TrialSet) -> Self {
        ReportInput {
            direction,
            groups: vec![group],
        }
    }

    /// The input for the trials of one `fmin` search over `space`, as one group called
    /// `name`.
    pub fn from_fmin(name: impl Into<String>, result: &FminResult, space: &Space) -> Self {
        ReportInput::single(
            result.history().direction(),
            TrialSet::from_trials(name, result.trials(), Some(space)),
        )
    }
}

/// The trials of one sweep or experiment.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TrialSet {
    /// How the group is called in the report (sweep or experiment name).
    pub name: String,
    /// The space searched, when known (a sweep's parent run carries it as `space.json`).
    /// Without it, each parameter's kind is inferred from its values (see the
    /// [module docs](super)).
    pub space: Option<Space>,
    /// The trials, in any order; reported by [`ReportTrial::number`].
    pub trials: Vec<ReportTrial>,
}

impl TrialSet {
    /// A group with these trials and no declared space.
    pub fn new(name: impl Into<String>, trials: Vec<ReportTrial>) -> Self {
        TrialSet {
            name: name.into(),
            space: None,
            trials,
        }
    }

    /// Sets the space that was searched.
    pub fn with_space(mut self, space: Space) -> Self {
        self.space = Some(space);
        self
    }

    /// The group of `fmin`'s trials (or any [`Trial`] history) over `space`.
    pub fn from_trials(name: impl Into<String>, trials: &[Trial], space: Option<&Space>) -> Self {
        TrialSet {
            name: name.into(),
            space: space.cloned(),
            trials: trials.iter().map(ReportTrial::from).collect(),
        }
    }
}

/// One trial as the report sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportTrial {
    /// Its number in the search (`hyperflow.trial` tag of a child run).
    pub number: usize,
    /// Its hyperparameter values by name; inactive conditional parameters are absent.
    pub params: Point,
    /// The objective's value as logged (not negated when maximizing).
    pub loss: Option<f64>,
    /// How it ended. Only `Complete` trials with a finite loss are ranked; a `Complete`
    /// trial without one is reported as failed.
    pub status: TrialState,
    /// Why it failed or was pruned.
    pub error: Option<String>,
    /// The tracking run it was logged as, when there is one.
    pub run_id: Option<String>,
}

impl ReportTrial {
    /// A complete trial with this loss.
    pub fn complete(number: usize, params: Point, loss: f64) -> Self {
        ReportTrial {
            number,
            params,
            loss: Some(loss),
            status: TrialState::Complete,
            error: None,
            run_id: None,
        }
    }

    /// A failed trial with this reason.
    pub fn failed(number: usize, params: Point, reason: impl Into<String>) -> Self {
        ReportTrial {
            number,
            params,
            loss: None,
            status: TrialState::Failed,
            error: Some(reason.into()),
            run_id: None,
        }
    }

    /// Sets the tracking run id.
    pub fn with_run_id(mut self, run_id: impl Into<String>) -> Self {
        self.run_id = Some(run_id.into());
        self
    }
}

impl From<&Trial> for ReportTrial {
    fn from(t: &Trial) -> Self {
        ReportTrial {
            number: t.number,
            params: t.point.clone(),
            loss: t.loss,
            status: t.state,
            error: t.error.clone(),
            run_id: None,
        }
    }
}

/// Reads a parameter logged as a string (tracking params are strings) back into a value:
/// integers as `Int`, other numbers as `Float`, `true`/`false` as `Bool`, anything else as
/// `Str`. The store adapter uses it when the space is not known; with a space, the
/// declared kind decides.
///
/// ```
/// use hyperflow::report::parse_param_value;
/// use hyperflow::Value;
///
/// assert_eq!(parse_param_value("12"), Value::Int(12));
/// assert_eq!(parse_param_value("1e-3"), Value::Float(0.001));
/// assert_eq!(parse_param_value("gini"), Value::Str("gini".into()));
/// ```
pub fn parse_param_value(text: &str) -> Value {
    let t = text.trim();
    if let Ok(i) = t.parse::<i64>() {
        return Value::Int(i);
    }
    match t {
        "true" | "True" => return Value::Bool(true),
        "false" | "False" => return Value::Bool(false),
        _ => {}
    }
    // "nan"/"inf" parse as floats but are not numbers anyone searched over: keep the text.
    match t.parse::<f64>() {
        Ok(x) if x.is_finite() => Value::Float(x),
        _ => Value::Str(text.to_string()),
    }
}
