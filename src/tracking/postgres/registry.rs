//! The model registry in PostgreSQL (its tables come with [`MIGRATION`]): the queries
//! behind the registered-model methods of [`Store`](crate::tracking::Store).
//!
//! A registered model is keyed by an integer `registered_model_key`, so renaming it
//! changes one row; its tags, versions and aliases reference that key. Registered models
//! and versions are read in bulk (three queries for any number of them).

use super::super::model::*;
use super::super::store::*;
use super::Tx;
use super::models::logged_model;
use super::{TxError, TxResult, find_run, upsert_tags_into};
use std::collections::HashMap;

/// The schema migration that adds the registry: registered models keyed by an integer (a
/// rename touches one row), their tags, versions, version tags and aliases.
pub(super) const MIGRATION: &str = r#"
    CREATE TABLE registered_models (
        registered_model_key BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        name                 TEXT COLLATE "C" NOT NULL UNIQUE,
        description          TEXT COLLATE "C",
        next_version         BIGINT NOT NULL DEFAULT 1,
        creation_time        BIGINT NOT NULL,
        last_updated_time    BIGINT NOT NULL
    );
    CREATE TABLE registered_model_tags (
        registered_model_key BIGINT NOT NULL REFERENCES registered_models(registered_model_key),
        key                  TEXT COLLATE "C" NOT NULL,
        value                TEXT COLLATE "C" NOT NULL,
        PRIMARY KEY (registered_model_key, key)
    );
    CREATE TABLE model_versions (
        registered_model_key BIGINT NOT NULL REFERENCES registered_models(registered_model_key),
        version              BIGINT NOT NULL,
        source               TEXT COLLATE "C" NOT NULL,
        storage_location     TEXT COLLATE "C" NOT NULL,
        run_id               TEXT COLLATE "C",
        model_id             TEXT COLLATE "C",
        description          TEXT COLLATE "C",
        current_stage        TEXT COLLATE "C" NOT NULL DEFAULT 'None',
        creation_time        BIGINT NOT NULL,
        last_updated_time    BIGINT NOT NULL,
        PRIMARY KEY (registered_model_key, version)
    );
    CREATE TABLE model_version_tags (
        registered_model_key BIGINT NOT NULL,
        version              BIGINT NOT NULL,
        key                  TEXT COLLATE "C" NOT NULL,
        value                TEXT COLLATE "C" NOT NULL,
        PRIMARY KEY (registered_model_key, version, key),
        FOREIGN KEY (registered_model_key, version)
            REFERENCES model_versions(registered_model_key, version)
    );
    CREATE TABLE registered_model_aliases (
        registered_model_key BIGINT NOT NULL,
        alias                TEXT COLLATE "C" NOT NULL,
        version              BIGINT NOT NULL,
        PRIMARY KEY (registered_model_key, alias),
        FOREIGN KEY (registered_model_key, version)
            REFERENCES model_versions(registered_model_key, version)
    );
"#;

/// The key of registered model `name`; `FOR UPDATE` locks its row, so that writes to one
/// registered model (new versions, stage transitions) take turns.
fn key_of(tx: &mut Tx<'_>, name: &str, for_update: bool) -> TxResult<i64> {
    let lock = if for_update { " FOR UPDATE" } else { "" };
    tx.query_opt(
        &format!("SELECT registered_model_key FROM registered_models WHERE name = $1{lock}"),
        &[&name],
    )?
    .map(|r| r.get(0))
    .ok_or_else(|| TxError::Store(StoreError::registered_model_not_found(name)))
}

/// The key of registered model `name`.
pub(super) fn find_key(tx: &mut Tx<'_>, name: &str) -> TxResult<i64> {
    key_of(tx, name, false)
}

/// The key of registered model `name`, its row locked for this transaction's writes.
fn lock_key(tx: &mut Tx<'_>, name: &str) -> TxResult<i64> {
    key_of(tx, name, true)
}

/// The registered models with key `key` (every one when `None`), whole.
fn load_models(tx: &mut Tx<'_>, key: Option<i64>) -> TxResult<Vec<RegisteredModel>> {
    let rows = tx.query(
        "SELECT registered_model_key, name, description, creation_time, last_updated_time \
         FROM registered_models WHERE $1::int8 IS NULL OR registered_model_key = $1 \
         ORDER BY registered_model_key",
        &[&key],
    )?;
    let mut at: HashMap<i64, usize> = HashMap::with_capacity(rows.len());
    let mut models: Vec<RegisteredModel> = Vec::with_capacity(rows.len());
    for r in rows {
        at.insert(r.get(0), models.len());
        models.push(RegisteredModel {
            name: r.get(1),
            description: r.get(2),
            creation_timestamp_ms: r.get(3),
            last_updated_timestamp_ms: r.get(4),
            tags: Vec::new(),
            aliases: Vec::new(),
            latest_versions: Vec::new(),
        });
    }
    for r in tx.query(
        "SELECT registered_model_key, key, value FROM registered_model_tags \
         WHERE $1::int8 IS NULL OR registered_model_key = $1 ORDER BY registered_model_key, key",
        &[&key],
    )? {
        if let Some(&i) = at.get(&r.get::<_, i64>(0)) {
            models[i]
                .tags
                .push(Tag::new(r.get::<_, String>(1), r.get::<_, String>(2)));
        }
    }
    for r in tx.query(
        "SELECT registered_model_key, alias, version FROM registered_model_aliases \
         WHERE $1::int8 IS NULL OR registered_model_key = $1 \
         ORDER BY registered_model_key, alias",
        &[&key],
    )? {
        if let Some(&i) = at.get(&r.get::<_, i64>(0)) {
            models[i].aliases.push(ModelAlias {
                alias: r.get(1),
                version: r.get(2),
            });
        }
    }
    let mut versions: HashMap<String, Vec<ModelVersion>> = HashMap::new();
    for v in load_versions(tx, key, None)? {
        versions.entry(v.name.clone()).or_default().push(v);
    }
    for m in &mut models {
        m.latest_versions = latest_per_stage(versions.get(&m.name).map_or(&[], Vec::as_slice));
    }
    Ok(models)
}

/// The versions of the registered model with key `key` (of every model when `None`),
/// only version `version` when given, whole.
fn load_versions(
    tx: &mut Tx<'_>,
    key: Option<i64>,
    version: Option<i64>,
) -> TxResult<Vec<ModelVersion>> {
    let which = "($1::int8 IS NULL OR registered_model_key = $1) \
                 AND ($2::int8 IS NULL OR version = $2)";
    let rows = tx.query(
        &format!(
            "SELECT m.name, v.version, v.source, v.run_id, v.model_id, v.description, \
             v.current_stage, v.creation_time, v.last_updated_time, v.registered_model_key \
             FROM model_versions v JOIN registered_models m USING (registered_model_key) \
             WHERE {which} ORDER BY v.registered_model_key, v.version"
        ),
        &[&key, &version],
    )?;
    let mut at: HashMap<(i64, i64), usize> = HashMap::with_capacity(rows.len());
    let mut versions: Vec<ModelVersion> = Vec::with_capacity(rows.len());
    for r in rows {
        at.insert((r.get(9), r.get(1)), versions.len());
        versions.push(ModelVersion {
            name: r.get(0),
            version: r.get(1),
            source: r.get(2),
            run_id: r.get(3),
            model_id: r.get(4),
            description: r.get(5),
            current_stage: r.get(6),
            creation_timestamp_ms: r.get(7),
            last_updated_timestamp_ms: r.get(8),
            tags: Vec::new(),
            aliases: Vec::new(),
        });
    }
    for r in tx.query(
        &format!(
            "SELECT registered_model_key, version, key, value FROM model_version_tags \
             WHERE {which} ORDER BY registered_model_key, version, key"
        ),
        &[&key, &version],
    )? {
        if let Some(&i) = at.get(&(r.get(0), r.get(1))) {
            versions[i]
                .tags
                .push(Tag::new(r.get::<_, String>(2), r.get::<_, String>(3)));
        }
    }
    for r in tx.query(
        &format!(
            "SELECT registered_model_key, version, alias FROM registered_model_aliases \
             WHERE {which} ORDER BY registered_model_key, version, alias"
        ),
        &[&key, &version],
    )? {
        if let Some(&i) = at.get(&(r.get(0), r.get(1))) {
            versions[i].aliases.push(r.get(2));
        }
    }
    Ok(versions)
}

/// The whole of the registered model with key `key`.
pub(super) fn load(tx: &mut Tx<'_>, key: i64) -> TxResult<RegisteredModel> {
    Ok(load_models(tx, Some(key))?.remove(0))
}

/// Every registered model.
pub(super) fn all(tx: &mut Tx<'_>) -> TxResult<Vec<RegisteredModel>> {
    load_models(tx, None)
}

/// Every model version.
pub(super) fn all_versions(tx: &mut Tx<'_>) -> TxResult<Vec<ModelVersion>> {
    load_versions(tx, None, None)
}

/// Version `version` of registered model `name`, whole.
pub(super) fn get_version(tx: &mut Tx<'_>, name: &str, version: i64) -> TxResult<ModelVersion> {
    let key = find_key(tx, name)?;
    load_version(tx, key, name, version)
}

fn load_version(tx: &mut Tx<'_>, key: i64, name: &str, version: i64) -> TxResult<ModelVersion> {
    load_versions(tx, Some(key), Some(version))?
        .pop()
        .ok_or_else(|| model_version_not_found(name, version).into())
}

fn touch(tx: &mut Tx<'_>, key: i64) -> TxResult<()> {
    tx.execute(
        "UPDATE registered_models SET last_updated_time = $1 WHERE registered_model_key = $2",
        &[&now_ms(), &key],
    )?;
    Ok(())
}

fn put_tags(tx: &mut Tx<'_>, key: i64, tags: &[Tag]) -> TxResult<()> {
    upsert_tags_into(
        tx,
        "registered_model_tags",
        &["registered_model_key"],
        &[key],
        tags,
    )
}

/// Create registered model `name`.
pub(super) fn create_tx(
    tx: &mut Tx<'_>,
    name: &str,
    description: Option<&str>,
    tags: &[Tag],
) -> TxResult<RegisteredModel> {
    // A name taken, even by a concurrent creation, is a conflict.
    let key: i64 = tx
        .query_opt(
            "INSERT INTO registered_models (name, description, creation_time, \
             last_updated_time) VALUES ($1, $2, $3, $3) ON CONFLICT (name) DO NOTHING \
             RETURNING registered_model_key",
            &[&name, &description, &now_ms()],
        )?
        .map(|r| r.get(0))
        .ok_or_else(|| TxError::Store(registered_model_exists(name)))?;
    put_tags(tx, key, tags)?;
    load(tx, key)
}

/// Rename registered model `name` to `new_name`.
pub(super) fn rename_tx(tx: &mut Tx<'_>, name: &str, new_name: &str) -> TxResult<RegisteredModel> {
    let key = lock_key(tx, name)?;
    if new_name != name {
        let renamed = tx.execute(
            "UPDATE registered_models SET name = $1 WHERE registered_model_key = $2 \
             AND NOT EXISTS (SELECT 1 FROM registered_models WHERE name = $1)",
            &[&new_name, &key],
        )?;
        if renamed == 0 {
            return Err(registered_model_exists(new_name).into());
        }
    }
    touch(tx, key)?;
    load(tx, key)
}

/// Set the description of registered model `name`.
pub(super) fn describe_tx(
    tx: &mut Tx<'_>,
    name: &str,
    description: &str,
) -> TxResult<RegisteredModel> {
    let key = lock_key(tx, name)?;
    tx.execute(
        "UPDATE registered_models SET description = $1 WHERE registered_model_key = $2",
        &[&description, &key],
    )?;
    touch(tx, key)?;
    load(tx, key)
}

/// Delete registered model `name` with everything that references it.
pub(super) fn delete_tx(tx: &mut Tx<'_>, name: &str) -> TxResult<()> {
    let key = lock_key(tx, name)?;
    for table in [
        "registered_model_tags",
        "model_version_tags",
        "registered_model_aliases",
        "model_versions",
        "registered_models",
    ] {
        tx.execute(
            &format!("DELETE FROM {table} WHERE registered_model_key = $1"),
            &[&key],
        )?;
    }
    Ok(())
}

/// Set a tag of registered model `name`.
pub(super) fn set_tag_tx(tx: &mut Tx<'_>, name: &str, tag: &Tag) -> TxResult<()> {
    let key = lock_key(tx, name)?;
    put_tags(tx, key, std::slice::from_ref(tag))?;
    touch(tx, key)
}

/// Delete tag `tag` of registered model `name`.
pub(super) fn delete_tag_tx(tx: &mut Tx<'_>, name: &str, tag: &str) -> TxResult<()> {
    let key = lock_key(tx, name)?;
    tx.execute(
        "DELETE FROM registered_model_tags WHERE registered_model_key = $1 AND key = $2",
        &[&key, &tag],
    )?;
    touch(tx, key)
}

/// The key of registered model `name` (its row locked), checking that it has version
/// `version`.
fn find_version(tx: &mut Tx<'_>, name: &str, version: i64) -> TxResult<i64> {
    let key = lock_key(tx, name)?;
    let exists = tx
        .query_opt(
            "SELECT 1 FROM model_versions WHERE registered_model_key = $1 AND version = $2",
            &[&key, &version],
        )?
        .is_some();
    if !exists {
        return Err(model_version_not_found(name, version).into());
    }
    Ok(key)
}

/// Move a version to `stage`; with `archive_existing`, the other versions in that stage
/// move to Archived.
pub(super) fn transition_tx(
    tx: &mut Tx<'_>,
    name: &str,
    version: i64,
    stage: ModelStage,
    archive_existing: bool,
) -> TxResult<ModelVersion> {
    let key = find_version(tx, name, version)?;
    let now = now_ms();
    if archive_existing {
        tx.execute(
            "UPDATE model_versions SET current_stage = $1, last_updated_time = $2 \
             WHERE registered_model_key = $3 AND version != $4 AND current_stage = $5",
            &[
                &ModelStage::Archived.as_str(),
                &now,
                &key,
                &version,
                &stage.as_str(),
            ],
        )?;
    }
    tx.execute(
        "UPDATE model_versions SET current_stage = $1, last_updated_time = $2 \
         WHERE registered_model_key = $3 AND version = $4",
        &[&stage.as_str(), &now, &key, &version],
    )?;
    touch(tx, key)?;
    load_version(tx, key, name, version)
}

/// Create the next version of registered model `name`.
pub(super) fn create_version_tx(
    tx: &mut Tx<'_>,
    name: &str,
    new: &NewModelVersion,
) -> TxResult<ModelVersion> {
    let key = find_key(tx, name)?;
    let (location, new) = resolve_model_version_source(
        tx,
        new,
        |tx, id| logged_model(tx, id, false),
        |tx, id| Ok(find_run(tx, id)?.1),
    )?;
    // The update locks the registered model's row: concurrent creations number their
    // versions one after the other.
    let now = now_ms();
    let version: i64 = tx
        .query_one(
            "UPDATE registered_models SET next_version = next_version + 1, \
             last_updated_time = $1 WHERE registered_model_key = $2 \
             RETURNING next_version - 1",
            &[&now, &key],
        )?
        .get(0);
    tx.execute(
        "INSERT INTO model_versions (registered_model_key, version, source, storage_location, \
         run_id, model_id, description, creation_time, last_updated_time) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
        &[
            &key,
            &version,
            &new.source,
            &location,
            &new.run_id,
            &new.model_id,
            &new.description,
            &now,
        ],
    )?;
    put_version_tags(tx, key, version, &new.tags)?;
    load_version(tx, key, name, version)
}

fn put_version_tags(tx: &mut Tx<'_>, key: i64, version: i64, tags: &[Tag]) -> TxResult<()> {
    upsert_tags_into(
        tx,
        "model_version_tags",
        &["registered_model_key", "version"],
        &[key, version],
        tags,
    )
}

fn touch_version(tx: &mut Tx<'_>, key: i64, version: i64) -> TxResult<()> {
    tx.execute(
        "UPDATE model_versions SET last_updated_time = $1 WHERE registered_model_key = $2 \
         AND version = $3",
        &[&now_ms(), &key, &version],
    )?;
    Ok(())
}

/// Set the description of a model version.
pub(super) fn describe_version_tx(
    tx: &mut Tx<'_>,
    name: &str,
    version: i64,
    description: &str,
) -> TxResult<ModelVersion> {
    let key = find_version(tx, name, version)?;
    tx.execute(
        "UPDATE model_versions SET description = $1 WHERE registered_model_key = $2 \
         AND version = $3",
        &[&description, &key, &version],
    )?;
    touch_version(tx, key, version)?;
    load_version(tx, key, name, version)
}

/// Delete a model version, its tags and the aliases pointing at it.
pub(super) fn delete_version_tx(tx: &mut Tx<'_>, name: &str, version: i64) -> TxResult<()> {
    let key = find_version(tx, name, version)?;
    for table in [
        "model_version_tags",
        "registered_model_aliases",
        "model_versions",
    ] {
        tx.execute(
            &format!("DELETE FROM {table} WHERE registered_model_key = $1 AND version = $2"),
            &[&key, &version],
        )?;
    }
    touch(tx, key)
}

/// Set a tag of a model version.
pub(super) fn set_version_tag_tx(
    tx: &mut Tx<'_>,
    name: &str,
    version: i64,
    tag: &Tag,
) -> TxResult<()> {
    let key = find_version(tx, name, version)?;
    put_version_tags(tx, key, version, std::slice::from_ref(tag))?;
    touch_version(tx, key, version)
}

/// Delete a tag of a model version.
pub(super) fn delete_version_tag_tx(
    tx: &mut Tx<'_>,
    name: &str,
    version: i64,
    tag: &str,
) -> TxResult<()> {
    let key = find_version(tx, name, version)?;
    tx.execute(
        "DELETE FROM model_version_tags WHERE registered_model_key = $1 AND version = $2 \
         AND key = $3",
        &[&key, &version, &tag],
    )?;
    touch_version(tx, key, version)
}

/// Where the files of a model version are.
pub(super) fn storage_location(tx: &mut Tx<'_>, name: &str, version: i64) -> TxResult<String> {
    let key = find_key(tx, name)?;
    tx.query_opt(
        "SELECT storage_location FROM model_versions WHERE registered_model_key = $1 \
         AND version = $2",
        &[&key, &version],
    )?
    .map(|r| r.get(0))
    .ok_or_else(|| model_version_not_found(name, version).into())
}

/// Point alias `alias` of registered model `name` at `version`.
pub(super) fn set_alias_tx(tx: &mut Tx<'_>, name: &str, alias: &str, version: i64) -> TxResult<()> {
    let key = find_version(tx, name, version)?;
    tx.execute(
        "INSERT INTO registered_model_aliases (registered_model_key, alias, version) \
         VALUES ($1, $2, $3) ON CONFLICT (registered_model_key, alias) \
         DO UPDATE SET version = EXCLUDED.version",
        &[&key, &alias, &version],
    )?;
    touch(tx, key)
}

/// Remove alias `alias` of registered model `name`.
pub(super) fn delete_alias_tx(tx: &mut Tx<'_>, name: &str, alias: &str) -> TxResult<()> {
    let key = lock_key(tx, name)?;
    tx.execute(
        "DELETE FROM registered_model_aliases WHERE registered_model_key = $1 AND alias = $2",
        &[&key, &alias],
    )?;
    touch(tx, key)
}

/// The version alias `alias` of registered model `name` points at.
pub(super) fn version_by_alias(tx: &mut Tx<'_>, name: &str, alias: &str) -> TxResult<ModelVersion> {
    let key = find_key(tx, name)?;
    let version: i64 = tx
        .query_opt(
            "SELECT version FROM registered_model_aliases WHERE registered_model_key = $1 \
             AND alias = $2",
            &[&key, &alias],
        )?
        .map(|r| r.get(0))
        .ok_or_else(|| TxError::Store(alias_not_found(alias)))?;
    load_version(tx, key, name, version)
}
