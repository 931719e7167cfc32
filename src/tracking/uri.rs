//! Tracking URIs: which store to open.
//!
//! - `sqlite:///relative/path.db` (three slashes: relative to the working directory),
//! - `sqlite:////absolute/path.db` (four slashes),
//! - a bare path such as `runs/hyperflow.db` or `/tmp/x.db`,
//! - `http://host:port` / `https://…`: a tracking server (hyperflow's or MLflow's), through
//!   the REST store (feature `rest`; https needs `rest-tls`),
//! - `postgresql://user:password@host:port/database` (or `postgres://`): a PostgreSQL
//!   database, through the PostgreSQL store (feature `postgres`),
//! - `databricks`, `file:` and any other scheme are errors that list what is accepted
//!   ([`accepted_uris`], from [`URI_FORMS`]).
//!
//! Resolution order: an explicit URI, then `HYPERFLOW_TRACKING_URI`, then
//! `MLFLOW_TRACKING_URI`, then [`DEFAULT_TRACKING_URI`].

use super::store::{OpenMode, Result, Store, StoreError};
use std::path::PathBuf;
use std::sync::Arc;

/// The tracking URI used when none is configured.
pub const DEFAULT_TRACKING_URI: &str = "sqlite:///hyperflow.db";

/// One form of tracking URI that [`TrackingUri::parse`] accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UriForm {
    /// How it is written, e.g. `sqlite:///relative/path.db`.
    pub example: &'static str,
    /// What it names.
    pub meaning: &'static str,
    /// Whether this build opens it (the REST store needs feature `rest`, https also
    /// `rest-tls`).
    pub available: bool,
}

/// Every form of tracking URI hyperflow accepts: the one list help texts and errors are
/// written from.
pub const URI_FORMS: [UriForm; 6] = [
    UriForm {
        example: "sqlite:///relative/path.db",
        meaning: "an SQLite file relative to the working directory",
        available: cfg!(feature = "sqlite"),
    },
    UriForm {
        example: "sqlite:////absolute/path.db",
        meaning: "an SQLite file by absolute path",
        available: cfg!(feature = "sqlite"),
    },
    UriForm {
        example: "path/to/file.db",
        meaning: "a bare path to an SQLite file",
        available: cfg!(feature = "sqlite"),
    },
    UriForm {
        example: "http://host:port",
        meaning: "a tracking server, hyperflow's or MLflow's",
        available: cfg!(feature = "rest"),
    },
    UriForm {
        example: "https://host:port",
        meaning: "a tracking server over TLS",
        available: cfg!(feature = "rest-tls"),
    },
    UriForm {
        example: "postgresql://user:password@host:port/database",
        meaning: "a PostgreSQL database (also postgres://)",
        available: cfg!(feature = "postgres"),
    },
];

/// The forms of tracking URI this build opens, as one line for help texts and errors:
/// `sqlite:///relative/path.db (an SQLite file relative to the working directory), ...`.
pub fn accepted_uris() -> String {
    URI_FORMS
        .iter()
        .filter(|form| form.available)
        .map(|form| format!("{} ({})", form.example, form.meaning))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A parsed tracking URI.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TrackingUri {
    /// An SQLite database file.
    Sqlite(PathBuf),
    /// A tracking server's base URL (`http://host:port`).
    Http(String),
    /// A PostgreSQL database (`postgresql://user:password@host:port/database`), as given.
    Postgres(String),
}

/// Names MLflow reads as a tracking URI of its own although they have no `://`:
/// Databricks workspaces and Unity Catalog. Taken as paths they would create a local file
/// of that name.
const MLFLOW_SCHEME_WORDS: &[&str] = &["databricks", "databricks-uc", "uc"];

/// The scheme of `uri`, lowercased, when it starts with one (`name:`), such as `file:` or
/// `databricks:`; a single letter is a Windows drive, not a scheme.
fn scheme_of(uri: &str) -> Option<String> {
    let (scheme, _) = uri.split_once(':')?;
    let mut chars = scheme.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    (valid && scheme.len() > 1).then(|| scheme.to_ascii_lowercase())
}

impl TrackingUri {
    /// Parse a tracking URI. A URI with a scheme hyperflow does not serve (`databricks`,
    /// `file:`, `mysql://`, ...) is [`StoreError::UnsupportedUri`] naming the schemes
    /// accepted ([`accepted_uris`]), never a file path.
    pub fn parse(uri: &str) -> Result<TrackingUri> {
        let uri = uri.trim();
        let unsupported = |reason: &str| StoreError::UnsupportedUri {
            uri: uri.to_string(),
            reason: format!("{reason}; accepted: {}", accepted_uris()),
        };
        if uri.is_empty() {
            return Err(unsupported("the URI is empty"));
        }
        if MLFLOW_SCHEME_WORDS.contains(&uri.to_ascii_lowercase().as_str()) {
            return Err(unsupported(&databricks_reason(uri)));
        }
        let Some(scheme) = scheme_of(uri) else {
            return Ok(TrackingUri::Sqlite(PathBuf::from(uri)));
        };
        match scheme.as_str() {
            "sqlite" => {
                let path = uri
                    .strip_prefix("sqlite://")
                    .and_then(|rest| rest.strip_prefix('/'))
                    .ok_or_else(|| {
                        unsupported(
                            "SQLite URIs have the form sqlite:///relative/path.db or \
                             sqlite:////absolute/path.db",
                        )
                    })?;
                if path.is_empty() || path == ":memory:" {
                    return Err(unsupported(
                        "an SQLite URI needs a database file path (in-memory databases are \
                         not supported, runs would be lost)",
                    ));
                }
                Ok(TrackingUri::Sqlite(PathBuf::from(path)))
            }
            "http" | "https" if uri.contains("://") => {
                Ok(TrackingUri::Http(uri.trim_end_matches('/').to_string()))
            }
            "http" | "https" => Err(unsupported("a server URL has the form http://host:port")),
            "postgresql" | "postgres" if uri.contains("://") => {
                Ok(TrackingUri::Postgres(uri.to_string()))
            }
            s if s.starts_with("postgres") => Err(unsupported(
                "a PostgreSQL URI has the form postgresql://user:password@host:port/database \
                 (without a driver suffix such as +psycopg2)",
            )),
            "file" => Err(unsupported(
                "file: names MLflow's file store (an mlruns directory), which hyperflow \
                 does not read or write",
            )),
            s if MLFLOW_SCHEME_WORDS.contains(&s) => Err(unsupported(&databricks_reason(uri))),
            other => Err(unsupported(&format!("unknown scheme '{other}:'"))),
        }
    }

    /// Open the store this URI names for reading and writing.
    pub fn open(&self) -> Result<Arc<dyn Store>> {
        self.open_with(OpenMode::ReadWrite)
    }

    /// Open the store this URI names in `mode` (see [`OpenMode`]).
    pub fn open_with(&self, mode: OpenMode) -> Result<Arc<dyn Store>> {
        // The SQL stores open in a mode; a server decides for itself.
        #[cfg(not(any(feature = "sqlite", feature = "postgres")))]
        let _ = mode;
        match self {
            #[cfg(feature = "sqlite")]
            TrackingUri::Sqlite(path) => Ok(Arc::new(super::sqlite::SqliteStore::open_in(
                path,
                "hyperflow-artifacts",
                mode,
            )?)),
            #[cfg(not(feature = "sqlite"))]
            TrackingUri::Sqlite(path) => Err(StoreError::UnsupportedUri {
                uri: path.display().to_string(),
                reason: "this build has no SQLite support (feature `sqlite`)".to_string(),
            }),
            // The server decides what may be written.
            #[cfg(feature = "rest")]
            TrackingUri::Http(url) => Ok(Arc::new(super::rest::RestStore::new(url)?)),
            #[cfg(not(feature = "rest"))]
            TrackingUri::Http(url) => Err(StoreError::UnsupportedUri {
                uri: url.clone(),
                reason: "this build has no REST store (feature `rest`); rebuild with \
                         --features rest or use sqlite:///path/to.db"
                    .to_string(),
            }),
            #[cfg(feature = "postgres")]
            TrackingUri::Postgres(uri) => Ok(Arc::new(super::postgres::PgStore::open_in(
                uri,
                &super::postgres::default_artifact_root()?,
                mode,
            )?)),
            #[cfg(not(feature = "postgres"))]
            TrackingUri::Postgres(uri) => Err(StoreError::UnsupportedUri {
                uri: uri.clone(),
                reason: "this build has no PostgreSQL store (feature `postgres`); rebuild \
                         with --features postgres"
                    .to_string(),
            }),
        }
    }
}

/// The tracking URI to use: `explicit`, else `HYPERFLOW_TRACKING_URI`, else
/// `MLFLOW_TRACKING_URI`, else [`DEFAULT_TRACKING_URI`].
pub fn resolve_tracking_uri(explicit: Option<&str>) -> String {
    explicit
        .map(str::to_string)
        .or_else(|| std::env::var("HYPERFLOW_TRACKING_URI").ok())
        .or_else(|| std::env::var("MLFLOW_TRACKING_URI").ok())
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_TRACKING_URI.to_string())
}

/// Why a Databricks or Unity Catalog URI cannot be used.
fn databricks_reason(uri: &str) -> String {
    format!(
        "'{uri}' names a Databricks workspace (or Unity Catalog), which hyperflow does not \
         track into"
    )
}

/// Parse and open a store from a tracking URI, for reading and writing.
pub fn open_store(uri: &str) -> Result<Arc<dyn Store>> {
    open_store_with(uri, OpenMode::ReadWrite)
}

/// Parse and open a store from a tracking URI in `mode`: [`OpenMode::ReadOnly`] creates,
/// upgrades and writes nothing.
pub fn open_store_with(uri: &str, mode: OpenMode) -> Result<Arc<dyn Store>> {
    TrackingUri::parse(uri)?.open_with(mode)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        assert_eq!(
            TrackingUri::parse("sqlite:///rel/x.db").ok(),
            Some(TrackingUri::Sqlite("rel/x.db".into()))
        );
        assert_eq!(
            TrackingUri::parse("sqlite:////abs/x.db").ok(),
            Some(TrackingUri::Sqlite("/abs/x.db".into()))
        );
        assert_eq!(
            TrackingUri::parse("x.db").ok(),
            Some(TrackingUri::Sqlite("x.db".into()))
        );
        assert_eq!(
            TrackingUri::parse("http://localhost:5000/").ok(),
            Some(TrackingUri::Http("http://localhost:5000".into()))
        );
        assert_eq!(
            TrackingUri::parse(r"C:\runs\x.db").ok(),
            Some(TrackingUri::Sqlite(r"C:\runs\x.db".into()))
        );
        for uri in ["postgresql://u@h/db", "postgres://u:p@h:5432/db"] {
            assert_eq!(
                TrackingUri::parse(uri).ok(),
                Some(TrackingUri::Postgres(uri.into()))
            );
        }
        for bad in [
            "postgresql+psycopg2://u@h/db",
            "postgresql:u@h/db",
            "sqlite://",
            "sqlite:/x.db",
            "ftp://x",
            "databricks",
            "Databricks",
            "databricks://profile",
            "databricks-uc",
            "file:///tmp/mlruns",
            "file:mlruns",
            "mysql://u@h/db",
            "",
        ] {
            let e = TrackingUri::parse(bad).unwrap_err();
            assert_eq!(e.error_code(), "INVALID_PARAMETER_VALUE");
            let text = e.to_string();
            assert!(
                text.starts_with(&format!("tracking URI '{bad}' is not supported: "))
                    && text.ends_with(&accepted_uris()),
                "{text}"
            );
        }
    }
}
