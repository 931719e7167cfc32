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

pub use fmin::{FminError, FminResult, Outcome, Schedule, fmin, fmin_with_context};
pub use space::{Point, PointError, Space, SpaceError, Value};
pub use study::{AskedTrial, CancelToken, StopReason, Study, TrialContext};
pub use trials::{Direction, Trial, TrialState, Trials};
