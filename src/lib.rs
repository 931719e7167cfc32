//! hyperflow: hyperparameter optimization with experiment tracking built in.

pub mod algo;
pub mod rng;
pub mod space;
mod suggest;
pub mod trials;
