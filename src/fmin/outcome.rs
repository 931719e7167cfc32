//! What an objective returns.

use std::fmt::Display;

/// How a trial ended, as the objective reports it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Status {
    /// The loss is valid.
    Ok,
    /// The trial failed; the reason is recorded and the search goes on.
    Failed(String),
    /// The objective stopped the trial early; its loss, if any, is not used for ranking.
    Pruned(String),
    /// The evaluation was stopped from outside (the search was cancelled): the trial is
    /// not a result and does not count towards the budget.
    Killed(String),
}

/// The result of one evaluation: a loss, extra metrics, and a status.
///
/// Objectives usually return a plain `f64` or `Result<f64, E>`; return an `Outcome` to report
/// more:
///
/// ```
/// use hyperflow::fmin::Outcome;
///
/// let outcome = Outcome::loss(0.23).with_metric("accuracy", 0.91);
/// assert_eq!(outcome.metrics, vec![("accuracy".to_string(), 0.91)]);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The value the search optimizes.
    pub loss: Option<f64>,
    /// Further metrics, logged with the trial.
    pub metrics: Vec<(String, f64)>,
    /// How the trial ended.
    pub status: Status,
}

impl Outcome {
    /// A successful trial with this loss.
    pub fn loss(loss: f64) -> Self {
        Outcome {
            loss: Some(loss),
            metrics: Vec::new(),
            status: Status::Ok,
        }
    }

    /// A failed trial.
    pub fn failed(reason: impl Into<String>) -> Self {
        Outcome {
            loss: None,
            metrics: Vec::new(),
            status: Status::Failed(reason.into()),
        }
    }

    /// A trial the objective stopped early.
    pub fn pruned(reason: impl Into<String>) -> Self {
        Outcome {
            loss: None,
            metrics: Vec::new(),
            status: Status::Pruned(reason.into()),
        }
    }

    /// A trial stopped from outside before it finished (see [`Status::Killed`]).
    pub fn killed(reason: impl Into<String>) -> Self {
        Outcome {
            loss: None,
            metrics: Vec::new(),
            status: Status::Killed(reason.into()),
        }
    }

    /// Adds a metric.
    pub fn with_metric(mut self, key: impl Into<String>, value: f64) -> Self {
        self.metrics.push((key.into(), value));
        self
    }

    /// Fails a successful outcome whose loss is missing, NaN or infinite: such a loss cannot
    /// be ranked.
    pub(crate) fn checked(self) -> Self {
        match (&self.status, self.loss) {
            (Status::Ok, Some(loss)) if !loss.is_finite() => Outcome {
                status: Status::Failed(format!(
                    "the objective returned a non-finite loss ({loss})"
                )),
                ..self
            },
            (Status::Ok, None) => Outcome {
                status: Status::Failed("the objective returned no loss".into()),
                ..self
            },
            _ => self,
        }
    }
}

/// What an objective may return: `f64`, `f32`, [`Outcome`], or a `Result` of one of these
/// whose error becomes the failure reason.
pub trait IntoOutcome {
    /// Converts into an outcome.
    fn into_outcome(self) -> Outcome;
}

impl IntoOutcome for Outcome {
    fn into_outcome(self) -> Outcome {
        self
    }
}

impl IntoOutcome for f64 {
    fn into_outcome(self) -> Outcome {
        Outcome::loss(self)
    }
}

impl IntoOutcome for f32 {
    fn into_outcome(self) -> Outcome {
        Outcome::loss(f64::from(self))
    }
}

impl<T: IntoOutcome, E: Display> IntoOutcome for Result<T, E> {
    fn into_outcome(self) -> Outcome {
        match self {
            Ok(value) => value.into_outcome(),
            Err(e) => Outcome::failed(e.to_string()),
        }
    }
}
