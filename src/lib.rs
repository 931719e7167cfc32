//! hyperflow: hyperparameter optimization with experiment tracking built in.
//!
//! Declare a [`Space`], hand [`fmin()`] an objective, get the best point back:
//!
//! ```
//! use hyperflow::{fmin, Point, Space};
//!
//! let space = Space::builder()
//!     .loguniform("lr", 1e-4, 1e-1)
//!     .choice("act", ["relu", "tanh"])
//!     .build()?;
//! let result = fmin(|p: &Point| -> Result<f64, hyperflow::PointError> {
//!     let lr: f64 = p.get("lr")?;
//!     let penalty = if p.get::<String>("act")? == "relu" { 0.0 } else { 0.5 };
//!     Ok((lr.log10() + 2.0).powi(2) + penalty)
//! }, &space)
//! .max_evals(60)
//! .seed(1)
//! .progress(false)
//! .run()?;
//! if let Some(best) = result.best() {
//!     println!("best {:?} at {}", best.loss, best.point);
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

pub mod algo;
mod diagnostic;
pub mod fmin;
#[cfg(feature = "linfa")]
pub mod integrations;
pub mod prune;
#[cfg(feature = "report")]
pub mod report;
pub mod rng;
#[cfg(feature = "server")]
pub mod server;
pub mod space;
pub mod study;
mod suggest;
#[cfg(all(unix, feature = "sweep"))]
pub mod sweep;
pub mod tracking;
pub mod trials;

/// Locks a mutex, taking over one a panicking thread left poisoned: every critical section
/// of the crate leaves the data it guards valid (each change is one statement, and an
/// SQLite transaction dropped by the panic is rolled back).
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub use fmin::{FminError, FminResult, Outcome, Schedule, fmin, fmin_with_context};
pub use space::{Point, PointError, Space, SpaceError, Value};
pub use study::{AskedTrial, CancelToken, StopReason, Study, TrialContext};
pub use suggest::UnknownName;
pub use trials::{Direction, Trial, TrialState, Trials};
