//! Experiment tracking with MLflow's data model.
//!
//! - [`model`]: experiments, runs, params, metrics (with history), tags, queries, pages.
//! - [`store`]: the [`Store`] trait every backend implements, [`StoreError`] with MLflow
//!   error codes, and the validation rules all stores share.
//! - [`sqlite`]: the embedded SQLite store (default).
//! - [`filter`]: MLflow's search filter language.
//! - [`artifacts`]: the local artifact repository.
//! - [`client`]: [`Tracker`], the user-facing API, and [`ActiveRun`].
//! - [`table`]: search results as a table with MLflow's column names, CSV and JSON export.
//! - [`rest`] (feature `rest`): the REST store, over a hyperflow or MLflow server.
//! - [`uri`]: tracking URI resolution.

pub mod artifacts;
pub mod client;
pub mod filter;
pub mod model;
#[cfg(feature = "rest")]
pub mod rest;
#[cfg(feature = "sqlite")]
pub mod sqlite;
pub mod store;
pub mod table;
pub mod uri;

pub use artifacts::LocalArtifactRepo;
pub use client::{ActiveRun, ExperimentRef, RunOptions, SearchRuns, Tracker};
pub use model::*;
#[cfg(feature = "rest")]
pub use rest::{RestAuth, RestStore};
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;
pub use store::{Result, Store, StoreError};
pub use table::RunsTable;
pub use uri::{TrackingUri, open_store, resolve_tracking_uri};
