//! Fit a [linfa](https://github.com/rust-ml/linfa) model inside a trial and log it in one
//! call: its hyperparameters as params, training metrics, and the fitted model as an MLflow
//! 3 logged model ([`Tracker::log_model`]), so the best trial's model can be registered and
//! loaded back by `models:/` URI.
//!
//! ```
//! use hyperflow::integrations::linfa::fit_and_log;
//! use hyperflow::tracking::{RunOptions, Tracker};
//! use linfa::prelude::*;
//! use ndarray::{Array1, array};
//!
//! /// A linfa algorithm: the mean of the targets.
//! struct MeanParams;
//! #[derive(serde::Serialize, serde::Deserialize)]
//! struct Mean(f64);
//! impl<R: Records> Fit<R, Array1<f64>, linfa::Error> for MeanParams {
//!     type Object = Mean;
//!     fn fit(&self, d: &DatasetBase<R, Array1<f64>>) -> Result<Mean, linfa::Error> {
//!         Ok(Mean(d.targets().mean().unwrap_or(0.0)))
//!     }
//! }
//!
//! # let dir = tempfile::tempdir().unwrap();
//! # let (db, root) = (dir.path().join("t.db"), dir.path().join("artifacts"));
//! let store = hyperflow::tracking::SqliteStore::open_with_artifact_root(db, root)?;
//! let tracker = Tracker::new(std::sync::Arc::new(store));
//! let run = tracker.start_run(RunOptions::new())?;
//! let train = Dataset::new(array![[1.0], [2.0]], array![1.0, 3.0]);
//! let fitted = fit_and_log(&MeanParams, &train)
//!     .name("mean")
//!     .param("kind", "mean")
//!     .metric("train_mae", |m, d| {
//!         Ok(d.targets().iter().map(|y| (y - m.0).abs()).sum::<f64>() / 2.0)
//!     })
//!     .run(&run)?;
//! assert_eq!(fitted.metric("train_mae"), Some(1.0));
//! let id = fitted.logged.expect("the run is tracked").model_id;
//! let back: Mean = tracker.load_model(&format!("models:/{id}"))?;
//! assert_eq!(back.0, 2.0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::TrialContext;
use crate::tracking::{
    ActiveRun, LogModel, LoggedModel, LoggedModelMetric, Metric, Param, StoreError, Tracker,
};
use ::linfa::dataset::{DatasetBase, Records};
use ::linfa::traits::Fit;
use serde::Serialize;
use std::marker::PhantomData;

/// A run a fit logs into: a trial of a search ([`TrialContext`]; nothing is logged when
/// the search is not tracked) or an [`ActiveRun`].
pub trait TrainingRun {
    /// The tracker and run id, or `None` when there is no run to log into.
    fn tracked_run(&self) -> Option<(&Tracker, &str)>;
}

impl TrainingRun for TrialContext {
    fn tracked_run(&self) -> Option<(&Tracker, &str)> {
        TrialContext::tracked_run(self)
    }
}

impl TrainingRun for ActiveRun {
    fn tracked_run(&self) -> Option<(&Tracker, &str)> {
        Some((self.tracker(), self.id()))
    }
}

/// Why a [`FitAndLog::run`] failed.
#[derive(Debug, thiserror::Error)]
pub enum FitError<E: std::error::Error + 'static> {
    /// linfa's fit failed.
    #[error("fitting the model failed: {0}")]
    Fit(#[source] E),
    /// A training metric could not be computed.
    #[error("computing the training metric '{name}' failed: {source}")]
    Metric {
        /// The metric.
        name: String,
        /// linfa's error.
        #[source]
        source: ::linfa::Error,
    },
    /// Logging into the run failed.
    #[error("logging the fit failed: {0}")]
    Store(#[from] StoreError),
}

/// A training metric: its name, and how it is computed from the fitted model and the
/// training data.
type NamedMetric<'a, M, R, T> = (
    String,
    Box<dyn Fn(&M, &DatasetBase<R, T>) -> Result<f64, ::linfa::Error> + 'a>,
);

/// A fit to run and log, built by [`fit_and_log`] and run by [`FitAndLog::run`].
pub struct FitAndLog<'a, F, R, T, E>
where
    R: Records,
    F: Fit<R, T, E>,
    E: std::error::Error + From<::linfa::Error>,
{
    algorithm: &'a F,
    train: &'a DatasetBase<R, T>,
    name: String,
    params: Vec<Param>,
    metrics: Vec<NamedMetric<'a, F::Object, R, T>>,
    error: PhantomData<E>,
}

/// What a fit gave: the fitted model, its training metrics, and the logged model (`None`
/// when the trial is not tracked).
#[derive(Debug)]
pub struct Fitted<M> {
    /// The fitted model.
    pub model: M,
    /// The training metrics, in the order they were added.
    pub metrics: Vec<(String, f64)>,
    /// The logged model (its `model_id` makes the URI `models:/<model_id>`).
    pub logged: Option<LoggedModel>,
}

impl<M> Fitted<M> {
    /// The value of training metric `name`.
    pub fn metric(&self, name: &str) -> Option<f64> {
        self.metrics
            .iter()
            .find(|(key, _)| key == name)
            .map(|&(_, value)| value)
    }
}

/// Fit `algorithm` (a linfa hyperparameter set, such as `ElasticNet::params().penalty(0.1)`)
/// on `train`, then log into a run: name the logged model, add hyperparameters and
/// training metrics with the builder, and finish with [`FitAndLog::run`].
pub fn fit_and_log<'a, F, R, T, E>(
    algorithm: &'a F,
    train: &'a DatasetBase<R, T>,
) -> FitAndLog<'a, F, R, T, E>
where
    R: Records,
    F: Fit<R, T, E>,
    E: std::error::Error + From<::linfa::Error>,
{
    FitAndLog {
        algorithm,
        train,
        name: "model".to_string(),
        params: Vec::new(),
        metrics: Vec::new(),
        error: PhantomData,
    }
}

impl<'a, F, R, T, E> FitAndLog<'a, F, R, T, E>
where
    R: Records,
    F: Fit<R, T, E>,
    F::Object: Serialize,
    E: std::error::Error + From<::linfa::Error> + 'static,
{
    /// The logged model's name (default `model`).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// A hyperparameter to log as a param of the run and of the logged model.
    pub fn param(mut self, key: impl Into<String>, value: impl ToString) -> Self {
        self.params.push(Param::new(key, value.to_string()));
        self
    }

    /// A training metric, computed from the fitted model and the training data (for
    /// instance with linfa's `model.predict(d).r2(d)`), logged at step 0.
    pub fn metric(
        mut self,
        name: impl Into<String>,
        compute: impl Fn(&F::Object, &DatasetBase<R, T>) -> Result<f64, ::linfa::Error> + 'a,
    ) -> Self {
        self.metrics.push((name.into(), Box::new(compute)));
        self
    }

    /// Fit, compute the training metrics, and log the params, the metrics and the model
    /// into `run` (nothing is logged when it is an untracked trial).
    pub fn run(self, run: &impl TrainingRun) -> Result<Fitted<F::Object>, FitError<E>> {
        let model = self.algorithm.fit(self.train).map_err(FitError::Fit)?;
        let mut metrics = Vec::with_capacity(self.metrics.len());
        for (name, compute) in &self.metrics {
            let value = compute(&model, self.train).map_err(|source| FitError::Metric {
                name: name.clone(),
                source,
            })?;
            metrics.push((name.clone(), value));
        }
        let Some((tracker, run_id)) = run.tracked_run() else {
            return Ok(Fitted {
                model,
                metrics,
                logged: None,
            });
        };
        tracker.log_batch(run_id, &[], &self.params, &[])?;
        // The logged model takes the run's params, these among them.
        let opts = LogModel::new(self.name).model_type(std::any::type_name::<F::Object>());
        let logged = tracker.log_model(run_id, &model, opts)?;
        // The training metrics go into the run's history and the logged model's metrics,
        // as MLflow's autolog logs them.
        let points: Vec<LoggedModelMetric> = metrics
            .iter()
            .map(|(name, value)| LoggedModelMetric {
                model_id: logged.model_id.clone(),
                run_id: run_id.to_string(),
                metric: Metric::new(name.clone(), *value),
                dataset_name: None,
                dataset_digest: None,
            })
            .collect();
        tracker.store().log_model_metrics(&points)?;
        Ok(Fitted {
            model,
            metrics,
            logged: Some(logged),
        })
    }
}
