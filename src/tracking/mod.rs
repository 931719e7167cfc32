//! Experiment tracking with MLflow's data model.
//!
//! - [`model`]: experiments, runs, params, metrics (with history), tags, queries, pages.
//! - [`store`]: the [`Store`] trait every backend implements, [`StoreError`] with MLflow
//!   error codes, and the validation rules all stores share.
//! - [`sqlite`]: the embedded SQLite store (default).
//! - [`filter`]: MLflow's search filter language.
//! - [`artifacts`]: artifact repositories ([`ArtifactRepo`]): a local directory, or a
//!   tracking server's artifact proxy (through the REST store).
//! - [`ledger`]: how the workers of one search coordinate (trial numbers, budget,
//!   heartbeats, what changed), kept by the SQL stores and the server.
//! - [`client`]: [`Tracker`], the user-facing API (runs, logged models, the model
//!   registry, loading models), and [`ActiveRun`].
//! - [`mlmodel`]: the `MLmodel` file of a model directory and `models:/` / `runs:/` URIs.
//! - [`import`] (feature `sqlite`): copying an MLflow store's history (its SQLite file or a
//!   server) into a hyperflow store.
//! - [`SelectedRuns`]: the runs of a whole search as a report reads them, held compactly.
//! - [`table`]: search results as a table with MLflow's column names, CSV and JSON export.
//! - [`postgres`] (feature `postgres`): the PostgreSQL store, for searches over many
//!   machines.
//! - [`rest`] (feature `rest`): the REST store, over a hyperflow or MLflow server.
//! - [`uri`]: tracking URI resolution.
//! - [`wire`] (feature `rest`): MLflow's REST API bodies, shared by the REST store and the
//!   server.
//!
//! # Which call to use
//!
//! - Interactive or long-running work: [`Tracker::start_run`] returns an [`ActiveRun`] guard
//!   that logs through the store and ends the run FINISHED on drop (FAILED during a panic);
//!   [`Tracker::with_run`] does the same around a closure returning `Result`.
//! - Many small finished runs (one per trial): [`Tracker::record_run`] /
//!   [`Store::record_run`] writes the run, its params, metrics and final status in one
//!   transaction.
//! - Searching: [`Tracker::search_runs`] with a [`SearchRuns`] builder, in MLflow's filter and
//!   order_by language; [`RunsTable`] turns the results into CSV or JSON.
//!
//! Every error is a [`StoreError`]; [`StoreError::error_code`] gives the MLflow error code
//! (`RESOURCE_DOES_NOT_EXIST`, `INVALID_PARAMETER_VALUE`, ...).

pub mod artifacts;
pub mod client;
pub mod filter;
#[cfg(feature = "sqlite")]
pub mod import;
pub mod ledger;
pub mod mlmodel;
pub mod model;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "rest")]
pub mod rest;
pub mod schema;
mod selected;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql;
#[cfg(feature = "sqlite")]
pub mod sqlite;
pub mod store;
pub mod table;
pub mod uri;
#[cfg(feature = "rest")]
pub mod wire;

pub use artifacts::{
    ArtifactLocation, ArtifactRepo, LocalArtifactRepo, ObjectLocation, ObjectService,
};
pub use client::{
    ActiveRun, ExperimentRef, LogModel, RunOptions, SearchRegistry, SearchRuns, Tracker,
};
pub use mlmodel::{MlModel, ModelError, ModelUri};
pub use model::*;
#[cfg(feature = "postgres")]
pub use postgres::PgStore;
#[cfg(feature = "rest")]
pub use rest::{ProxyArtifactRepo, RestAuth, RestStore};
pub use selected::{SelectedRun, SelectedRuns};
#[cfg(feature = "sqlite")]
pub use sqlite::{DatabaseKind, SqliteStore};
pub use store::{OpenMode, Result, Store, StoreError};
pub use table::RunsTable;
pub use uri::{
    TrackingUri, URI_FORMS, UriForm, accepted_uris, open_store, open_store_with,
    resolve_tracking_uri,
};
