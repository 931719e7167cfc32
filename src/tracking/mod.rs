//! Experiment tracking: the MLflow-shaped data model and everything that queries it.
pub mod filter;
