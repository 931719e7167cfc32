//! The model registry in SQLite: the queries behind the registered-model methods of
//! [`Store`](crate::tracking::Store).
//!
//! A registered model is keyed by an integer `registered_model_key`, so renaming it
//! changes one row; its tags (and versions and aliases) reference that key.

use super::connections::{TxError, TxResult};
use super::find_run;
use super::models::find_model;
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
            aliases: Vec::new(),
            latest_versions: Vec::new(),
        },
    ))
}

const COLUMNS: &str = "registered_model_key, name, description, creation_time, last_updated_time";

/// Fill in the tags, aliases and latest versions of a model read by [`model_from_row`].
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
    let mut st = conn.prepare_cached(
        "SELECT alias, version FROM registered_model_aliases WHERE registered_model_key = ?1 \
         ORDER BY alias",
    )?;
    m.aliases = st
        .query_map([key], |r| {
            Ok(ModelAlias {
                alias: r.get(0)?,
                version: r.get(1)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    m.latest_versions = latest_per_stage(&versions_of(conn, Some(key))?);
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
        return Err(registered_model_exists(name).into());
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

const VERSION_COLUMNS: &str = "m.name, v.version, v.source, v.run_id, v.model_id, \
                               v.description, v.current_stage, v.creation_time, \
                               v.last_updated_time, v.registered_model_key";

fn version_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, ModelVersion)> {
    Ok((
        r.get(9)?,
        ModelVersion {
            name: r.get(0)?,
            version: r.get(1)?,
            source: r.get(2)?,
            run_id: r.get(3)?,
            model_id: r.get(4)?,
            description: r.get(5)?,
            current_stage: r.get(6)?,
            creation_timestamp_ms: r.get(7)?,
            last_updated_timestamp_ms: r.get(8)?,
            tags: Vec::new(),
            aliases: Vec::new(),
        },
    ))
}

/// Fill in the tags and aliases of a version read by [`version_from_row`].
fn with_version_data(conn: &Connection, key: i64, mut v: ModelVersion) -> TxResult<ModelVersion> {
    let mut st = conn.prepare_cached(
        "SELECT key, value FROM model_version_tags WHERE registered_model_key = ?1 \
         AND version = ?2 ORDER BY key",
    )?;
    v.tags = st
        .query_map(params![key, v.version], |r| {
            Ok(Tag::new(r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut st = conn.prepare_cached(
        "SELECT alias FROM registered_model_aliases WHERE registered_model_key = ?1 \
         AND version = ?2 ORDER BY alias",
    )?;
    v.aliases = st
        .query_map(params![key, v.version], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(v)
}

/// Version `version` of the registered model with key `key`.
pub(super) fn load_version(conn: &Connection, key: i64, version: i64) -> TxResult<ModelVersion> {
    let found = conn
        .prepare_cached(&format!(
            "SELECT {VERSION_COLUMNS} FROM model_versions v JOIN registered_models m \
             USING (registered_model_key) WHERE v.registered_model_key = ?1 AND v.version = ?2"
        ))?
        .query_row(params![key, version], version_from_row)
        .optional()?;
    match found {
        Some((key, v)) => with_version_data(conn, key, v),
        None => {
            let name: String = conn
                .prepare_cached(
                    "SELECT name FROM registered_models WHERE registered_model_key = ?1",
                )?
                .query_row([key], |r| r.get(0))?;
            Err(model_version_not_found(&name, version).into())
        }
    }
}

/// Version `version` of registered model `name`.
pub(super) fn get_version(conn: &Connection, name: &str, version: i64) -> TxResult<ModelVersion> {
    let key = find_key(conn, name)?;
    load_version(conn, key, version)
}

/// Every model version.
pub(super) fn all_versions(conn: &Connection) -> TxResult<Vec<ModelVersion>> {
    versions_of(conn, None)
}

/// The versions of the registered model with key `key` (of every model when `None`).
fn versions_of(conn: &Connection, key: Option<i64>) -> TxResult<Vec<ModelVersion>> {
    let found = conn
        .prepare_cached(&format!(
            "SELECT {VERSION_COLUMNS} FROM model_versions v JOIN registered_models m \
             USING (registered_model_key) WHERE ?1 IS NULL OR v.registered_model_key = ?1"
        ))?
        .query_map([key], version_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    found
        .into_iter()
        .map(|(key, v)| with_version_data(conn, key, v))
        .collect()
}

/// Move a version to `stage`; with `archive_existing`, the other versions in that stage
/// move to Archived.
pub(super) fn transition_tx(
    conn: &Connection,
    name: &str,
    version: i64,
    stage: ModelStage,
    archive_existing: bool,
) -> TxResult<ModelVersion> {
    let key = find_version(conn, name, version)?;
    let now = now_ms();
    if archive_existing {
        conn.prepare_cached(
            "UPDATE model_versions SET current_stage = ?1, last_updated_time = ?2 \
             WHERE registered_model_key = ?3 AND version != ?4 AND current_stage = ?5",
        )?
        .execute(params![
            ModelStage::Archived.as_str(),
            now,
            key,
            version,
            stage.as_str()
        ])?;
    }
    conn.prepare_cached(
        "UPDATE model_versions SET current_stage = ?1, last_updated_time = ?2 \
         WHERE registered_model_key = ?3 AND version = ?4",
    )?
    .execute(params![stage.as_str(), now, key, version])?;
    touch(conn, key)?;
    load_version(conn, key, version)
}

/// Where the files of `new`'s source are, with the logged model and the run it names.
fn resolve_source(conn: &Connection, new: &NewModelVersion) -> TxResult<(String, NewModelVersion)> {
    resolve_model_version_source(
        &mut &*conn,
        new,
        |conn, id| Ok(find_model(conn, id, false)?.1),
        |conn, id| Ok(find_run(conn, id)?.1),
    )
}

/// Create the next version of registered model `name`.
pub(super) fn create_version_tx(
    conn: &Connection,
    name: &str,
    new: &NewModelVersion,
) -> TxResult<ModelVersion> {
    let key = find_key(conn, name)?;
    let (location, new) = resolve_source(conn, new)?;
    let version: i64 = conn
        .prepare_cached(
            "UPDATE registered_models SET next_version = next_version + 1, \
             last_updated_time = ?1 WHERE registered_model_key = ?2 RETURNING next_version - 1",
        )?
        .query_row(params![now_ms(), key], |r| r.get(0))?;
    conn.prepare_cached(
        "INSERT INTO model_versions (registered_model_key, version, source, storage_location, \
         run_id, model_id, description, creation_time, last_updated_time) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
    )?
    .execute(params![
        key,
        version,
        new.source,
        location,
        new.run_id,
        new.model_id,
        new.description,
        now_ms()
    ])?;
    for t in &new.tags {
        put_version_tag(conn, key, version, t)?;
    }
    load_version(conn, key, version)
}

fn put_version_tag(conn: &Connection, key: i64, version: i64, tag: &Tag) -> TxResult<()> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO model_version_tags (registered_model_key, version, key, value) \
         VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![key, version, tag.key, tag.value])?;
    Ok(())
}

/// The key of registered model `name`, checking that it has version `version`.
fn find_version(conn: &Connection, name: &str, version: i64) -> TxResult<i64> {
    let key = find_key(conn, name)?;
    let exists = conn
        .prepare_cached(
            "SELECT 1 FROM model_versions WHERE registered_model_key = ?1 AND version = ?2",
        )?
        .exists(params![key, version])?;
    if !exists {
        return Err(model_version_not_found(name, version).into());
    }
    Ok(key)
}

fn touch_version(conn: &Connection, key: i64, version: i64) -> TxResult<()> {
    conn.prepare_cached(
        "UPDATE model_versions SET last_updated_time = ?1 WHERE registered_model_key = ?2 \
         AND version = ?3",
    )?
    .execute(params![now_ms(), key, version])?;
    Ok(())
}

/// Set the description of a model version.
pub(super) fn describe_version_tx(
    conn: &Connection,
    name: &str,
    version: i64,
    description: &str,
) -> TxResult<ModelVersion> {
    let key = find_version(conn, name, version)?;
    conn.prepare_cached(
        "UPDATE model_versions SET description = ?1 WHERE registered_model_key = ?2 \
         AND version = ?3",
    )?
    .execute(params![description, key, version])?;
    touch_version(conn, key, version)?;
    load_version(conn, key, version)
}

/// Delete a model version, its tags and the aliases pointing at it.
pub(super) fn delete_version_tx(conn: &Connection, name: &str, version: i64) -> TxResult<()> {
    let key = find_version(conn, name, version)?;
    for table in [
        "model_version_tags",
        "registered_model_aliases",
        "model_versions",
    ] {
        conn.prepare_cached(&format!(
            "DELETE FROM {table} WHERE registered_model_key = ?1 AND version = ?2"
        ))?
        .execute(params![key, version])?;
    }
    touch(conn, key)
}

/// Set a tag of a model version.
pub(super) fn set_version_tag_tx(
    conn: &Connection,
    name: &str,
    version: i64,
    tag: &Tag,
) -> TxResult<()> {
    let key = find_version(conn, name, version)?;
    put_version_tag(conn, key, version, tag)?;
    touch_version(conn, key, version)
}

/// Delete a tag of a model version.
pub(super) fn delete_version_tag_tx(
    conn: &Connection,
    name: &str,
    version: i64,
    tag: &str,
) -> TxResult<()> {
    let key = find_version(conn, name, version)?;
    conn.prepare_cached(
        "DELETE FROM model_version_tags WHERE registered_model_key = ?1 AND version = ?2 \
         AND key = ?3",
    )?
    .execute(params![key, version, tag])?;
    touch_version(conn, key, version)
}

/// Where the files of a model version are.
pub(super) fn storage_location(conn: &Connection, name: &str, version: i64) -> TxResult<String> {
    let key = find_version(conn, name, version)?;
    Ok(conn
        .prepare_cached(
            "SELECT storage_location FROM model_versions WHERE registered_model_key = ?1 \
             AND version = ?2",
        )?
        .query_row(params![key, version], |r| r.get(0))?)
}

/// Point alias `alias` of registered model `name` at `version`.
pub(super) fn set_alias_tx(
    conn: &Connection,
    name: &str,
    alias: &str,
    version: i64,
) -> TxResult<()> {
    let key = find_version(conn, name, version)?;
    conn.prepare_cached(
        "INSERT OR REPLACE INTO registered_model_aliases (registered_model_key, alias, version) \
         VALUES (?1, ?2, ?3)",
    )?
    .execute(params![key, alias, version])?;
    touch(conn, key)
}

/// Remove alias `alias` of registered model `name`.
pub(super) fn delete_alias_tx(conn: &Connection, name: &str, alias: &str) -> TxResult<()> {
    let key = find_key(conn, name)?;
    conn.prepare_cached(
        "DELETE FROM registered_model_aliases WHERE registered_model_key = ?1 AND alias = ?2",
    )?
    .execute(params![key, alias])?;
    touch(conn, key)
}

/// The version alias `alias` of registered model `name` points at.
pub(super) fn version_by_alias(
    conn: &Connection,
    name: &str,
    alias: &str,
) -> TxResult<ModelVersion> {
    let key = find_key(conn, name)?;
    let version: i64 = conn
        .prepare_cached(
            "SELECT version FROM registered_model_aliases WHERE registered_model_key = ?1 \
             AND alias = ?2",
        )?
        .query_row(params![key, alias], |r| r.get(0))
        .optional()?
        .ok_or_else(|| TxError::Store(alias_not_found(alias)))?;
    load_version(conn, key, version)
}
