//! The model registry in SQLite: the queries behind the registered-model methods of
//! [`Store`](crate::tracking::Store).
//!
//! A registered model is keyed by an integer `registered_model_key`, so renaming it
//! changes one row; its tags (and versions and aliases) reference that key.

use super::connections::{TxError, TxResult};
use crate::tracking::model::*;
use crate::tracking::store::*;
use rusqlite::{Connection, OptionalExtension, params};

/// The key of registered model `name`.
pub(super) fn find_key(conn: &Connection, name: &str) -> TxResult<i64> {
    conn.prepare_cached("SELECT registered_model_key FROM registered_models WHERE name = ?1")?
        .query_row([name], |r| r.get(0))
        .optional()?
        .ok_or_else(|| TxError::Store(StoreError::registered_model_not_found(name)))
}

fn model_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, RegisteredModel)> {
    Ok((
        r.get(0)?,
        RegisteredModel {
            name: r.get(1)?,
            description: r.get(2)?,
            creation_timestamp_ms: r.get(3)?,
            last_updated_timestamp_ms: r.get(4)?,
            tags: Vec::new(),
        },
    ))
}

const COLUMNS: &str = "registered_model_key, name, description, creation_time, last_updated_time";

/// Fill in the tags of a model read by [`model_from_row`].
fn with_tags(conn: &Connection, key: i64, mut m: RegisteredModel) -> TxResult<RegisteredModel> {
    let mut st = conn.prepare_cached(
        "SELECT key, value FROM registered_model_tags WHERE registered_model_key = ?1 \
         ORDER BY key",
    )?;
    m.tags = st
        .query_map([key], |r| {
            Ok(Tag::new(r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(m)
}

/// The whole of the registered model with key `key`.
pub(super) fn load(conn: &Connection, key: i64) -> TxResult<RegisteredModel> {
    let (_, m) = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM registered_models WHERE registered_model_key = ?1"
        ))?
        .query_row([key], model_from_row)?;
    with_tags(conn, key, m)
}

/// Every registered model.
pub(super) fn all(conn: &Connection) -> TxResult<Vec<RegisteredModel>> {
    let found = conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM registered_models"))?
        .query_map([], model_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    found
        .into_iter()
        .map(|(key, m)| with_tags(conn, key, m))
        .collect()
}

fn taken(conn: &Connection, name: &str) -> TxResult<()> {
    if find_key(conn, name).is_ok() {
        return Err(StoreError::AlreadyExists(format!(
            "Registered Model (name={name}) already exists."
        ))
        .into());
    }
    Ok(())
}

fn touch(conn: &Connection, key: i64) -> TxResult<()> {
    conn.prepare_cached(
        "UPDATE registered_models SET last_updated_time = ?1 WHERE registered_model_key = ?2",
    )?
    .execute(params![now_ms(), key])?;
    Ok(())
}

fn put_tag(conn: &Connection, key: i64, tag: &Tag) -> TxResult<()> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO registered_model_tags (registered_model_key, key, value) \
         VALUES (?1, ?2, ?3)",
    )?
    .execute(params![key, tag.key, tag.value])?;
    Ok(())
}

/// Create registered model `name`.
pub(super) fn create_tx(
    conn: &Connection,
    name: &str,
    description: Option<&str>,
    tags: &[Tag],
) -> TxResult<RegisteredModel> {
    taken(conn, name)?;
    let now = now_ms();
    conn.prepare_cached(
        "INSERT INTO registered_models (name, description, creation_time, last_updated_time) \
         VALUES (?1, ?2, ?3, ?3)",
    )?
    .execute(params![name, description, now])?;
    let key = conn.last_insert_rowid();
    for t in tags {
        put_tag(conn, key, t)?;
    }
    load(conn, key)
}

/// Rename registered model `name` to `new_name`.
pub(super) fn rename_tx(
    conn: &Connection,
    name: &str,
    new_name: &str,
) -> TxResult<RegisteredModel> {
    let key = find_key(conn, name)?;
    if new_name != name {
        taken(conn, new_name)?;
    }
    conn.prepare_cached("UPDATE registered_models SET name = ?1 WHERE registered_model_key = ?2")?
        .execute(params![new_name, key])?;
    touch(conn, key)?;
    load(conn, key)
}

/// Set the description of registered model `name`.
pub(super) fn describe_tx(
    conn: &Connection,
    name: &str,
    description: &str,
) -> TxResult<RegisteredModel> {
    let key = find_key(conn, name)?;
    conn.prepare_cached(
        "UPDATE registered_models SET description = ?1 WHERE registered_model_key = ?2",
    )?
    .execute(params![description, key])?;
    touch(conn, key)?;
    load(conn, key)
}

/// Delete registered model `name` with everything that references it.
pub(super) fn delete_tx(conn: &Connection, name: &str) -> TxResult<()> {
    let key = find_key(conn, name)?;
    for table in [
        "registered_model_tags",
        "model_version_tags",
        "registered_model_aliases",
        "model_versions",
        "registered_models",
    ] {
        conn.prepare_cached(&format!(
            "DELETE FROM {table} WHERE registered_model_key = ?1"
        ))?
        .execute([key])?;
    }
    Ok(())
}

/// Set a tag of registered model `name`.
pub(super) fn set_tag_tx(conn: &Connection, name: &str, tag: &Tag) -> TxResult<()> {
    let key = find_key(conn, name)?;
    put_tag(conn, key, tag)?;
    touch(conn, key)
}

/// Delete tag `tag` of registered model `name`.
pub(super) fn delete_tag_tx(conn: &Connection, name: &str, tag: &str) -> TxResult<()> {
    let key = find_key(conn, name)?;
    conn.prepare_cached(
        "DELETE FROM registered_model_tags WHERE registered_model_key = ?1 AND key = ?2",
    )?
    .execute(params![key, tag])?;
    touch(conn, key)
}
