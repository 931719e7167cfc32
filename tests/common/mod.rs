//! Shared test helpers.
#![allow(dead_code)]

pub mod artifacts;
pub mod conformance;
pub mod mlflow_server;
pub mod postgres;
pub mod python;
pub mod server_process;

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

/// A `hyperflow server` in this process (real HTTP on a loopback port) over a fresh SQLite
/// database and artifacts destination in `dir`.
#[cfg(feature = "server")]
pub fn hyperflow_server(dir: &std::path::Path) -> hyperflow::server::ServerHandle {
    hyperflow::server::spawn(hyperflow::server::ServerConfig {
        port: 0,
        backend_store_uri: format!("sqlite:///{}", dir.join("server.db").display()),
        artifacts_destination: dir.join("artifacts"),
        workers: Some(2),
        ..hyperflow::server::ServerConfig::default()
    })
    .expect("start server")
}
