//! Shared test helpers.
#![allow(dead_code)]

pub mod artifacts;
pub mod conformance;
pub mod mlflow_server;
pub mod python;

use hyperflow::tracking::{SqliteStore, Store};
use std::sync::Arc;

/// A fresh SQLite store in a temp dir (database file and artifact root inside it).
pub fn sqlite_store() -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store =
        SqliteStore::open_with_artifact_root(dir.path().join("t.db"), dir.path().join("artifacts"))
            .expect("open store");
    (Arc::new(store), dir)
}
