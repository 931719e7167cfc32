//! Spaces written in TOML and JSON.

/// Why a TOML or JSON space could not be parsed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
#[error("{message}")]
pub struct SchemaError {
    message: String,
}
