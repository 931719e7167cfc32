//! hyperflow: hyperparameter optimization with experiment tracking built in.

pub mod tracking;

#[cfg(feature = "server")]
pub mod server;
