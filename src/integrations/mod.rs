//! Integrations with machine-learning libraries, each behind the cargo feature of its name.
//!
//! - [`linfa`] (feature `linfa`): fit a linfa model inside a trial and log its params,
//!   training metrics and the fitted model in one call.

#[cfg(feature = "linfa")]
pub mod linfa;
