//! MLflow 3's dataset inputs of runs and logged models in SQLite: the queries behind
//! [`Store::log_inputs`](crate::tracking::Store::log_inputs) and the logged-model methods.
//!
//! A dataset belongs to an experiment and is identified there by `(name, digest)`; a run's
//! inputs reference datasets and carry tags of their own. Logged models keep their params
//! and tags in tables of their own, keyed by an integer `model_key`.

use super::connections::{TxError, TxResult};
use super::{
    find_active_run, get_experiment_tx, log_batch_tx, metric_value, parse_experiment_id, split_nan,
    stage_from,
};
use crate::tracking::model::*;
use crate::tracking::store::*;
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::HashMap;

/// The inputs of the runs in `list` (a JSON array of run keys), by run key.
pub(super) fn load_inputs(
    conn: &Connection,
    list: &str,
) -> rusqlite::Result<HashMap<i64, RunInputs>> {
    let mut out: HashMap<i64, RunInputs> = HashMap::new();
    let mut st = conn.prepare_cached(
        "SELECT i.run_key, d.dataset_key, d.name, d.digest, d.source_type, d.source, \
         d.schema, d.profile FROM run_inputs i JOIN datasets d USING (dataset_key) \
         WHERE i.run_key IN (SELECT value FROM json_each(?1)) ORDER BY i.run_key, i.position",
    )?;
    let mut keys: Vec<(i64, i64)> = Vec::new();
    let mut rows = st.query([list])?;
    while let Some(r) = rows.next()? {
        let run_key: i64 = r.get(0)?;
        keys.push((run_key, r.get(1)?));
        out.entry(run_key)
            .or_default()
            .dataset_inputs
            .push(DatasetInput {
                dataset: Dataset {
                    name: r.get(2)?,
                    digest: r.get(3)?,
                    source_type: r.get(4)?,
                    source: r.get(5)?,
                    schema: r.get(6)?,
                    profile: r.get(7)?,
                },
                tags: Vec::new(),
            });
    }
    let mut st = conn.prepare_cached(
        "SELECT run_key, dataset_key, key, value FROM run_input_tags \
         WHERE run_key IN (SELECT value FROM json_each(?1)) ORDER BY run_key, dataset_key, key",
    )?;
    let mut rows = st.query([list])?;
    while let Some(r) = rows.next()? {
        let (run_key, dataset_key): (i64, i64) = (r.get(0)?, r.get(1)?);
        let at = keys
            .iter()
            .filter(|(k, _)| *k == run_key)
            .position(|(_, d)| *d == dataset_key);
        if let Some(input) = at.and_then(|i| {
            out.get_mut(&run_key)
                .and_then(|inputs| inputs.dataset_inputs.get_mut(i))
        }) {
            input
                .tags
                .push(Tag::new(r.get::<_, String>(2)?, r.get::<_, String>(3)?));
        }
    }
    Ok(out)
}

/// Log `inputs` for the active run `run_id`.
pub(super) fn log_inputs_tx(
    conn: &Connection,
    run_id: &str,
    inputs: &[DatasetInput],
) -> TxResult<()> {
    let (run_key, info) = find_active_run(conn, run_id)?;
    let experiment = parse_experiment_id(&info.experiment_id)?;
    let mut position: i64 = conn
        .prepare_cached("SELECT count(*) FROM run_inputs WHERE run_key = ?1")?
        .query_row([run_key], |r| r.get(0))?;
    for input in inputs {
        let d = &input.dataset;
        conn.prepare_cached(
            "INSERT INTO datasets (experiment_id, name, digest, source_type, source, schema, \
             profile) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
             ON CONFLICT (experiment_id, name, digest) DO NOTHING",
        )?
        .execute(params![
            experiment,
            d.name,
            d.digest,
            d.source_type,
            d.source,
            d.schema,
            d.profile
        ])?;
        let dataset_key: i64 = conn
            .prepare_cached(
                "SELECT dataset_key FROM datasets WHERE experiment_id = ?1 AND name = ?2 \
                 AND digest = ?3",
            )?
            .query_row(params![experiment, d.name, d.digest], |r| r.get(0))?;
        let added = conn
            .prepare_cached(
                "INSERT INTO run_inputs (run_key, dataset_key, position) VALUES (?1, ?2, ?3) \
                 ON CONFLICT DO NOTHING",
            )?
            .execute(params![run_key, dataset_key, position])?;
        position += added as i64;
        let mut tag = conn.prepare_cached(
            "INSERT OR REPLACE INTO run_input_tags (run_key, dataset_key, key, value) \
             VALUES (?1, ?2, ?3, ?4)",
        )?;
        for t in &input.tags {
            tag.execute(params![run_key, dataset_key, t.key, t.value])?;
        }
    }
    Ok(())
}

const MODEL_COLUMNS: &str = "model_key, model_id, experiment_id, name, artifact_uri, status, \
                             status_message, model_type, source_run_id, creation_time, \
                             last_updated_time, lifecycle_stage";

fn model_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, LoggedModel)> {
    let status: String = r.get(5)?;
    let stage: String = r.get(11)?;
    Ok((
        r.get(0)?,
        LoggedModel {
            model_id: r.get(1)?,
            experiment_id: ExperimentId(r.get::<_, i64>(2)?.to_string()),
            name: r.get(3)?,
            artifact_uri: r.get(4)?,
            // Only this module writes the column, from `LoggedModelStatus::as_str`.
            status: LoggedModelStatus::parse(&status).unwrap_or(LoggedModelStatus::Pending),
            status_message: r.get(6)?,
            model_type: r.get(7)?,
            source_run_id: r.get(8)?,
            creation_timestamp_ms: r.get(9)?,
            last_updated_timestamp_ms: r.get(10)?,
            lifecycle_stage: stage_from(&stage),
            tags: Vec::new(),
            params: Vec::new(),
            metrics: Vec::new(),
        },
    ))
}

/// Fill in the tags, params and metrics of a model read by [`model_from_row`].
fn with_data(conn: &Connection, key: i64, mut model: LoggedModel) -> rusqlite::Result<LoggedModel> {
    let mut st = conn.prepare_cached(
        "SELECT key, value, is_nan, timestamp, step, run_id, dataset_name, dataset_digest \
         FROM logged_model_metrics WHERE model_key = ?1 ORDER BY key, timestamp, step, run_id",
    )?;
    model.metrics = st
        .query_map([key], |r| {
            Ok(LoggedModelMetric {
                model_id: model.model_id.clone(),
                metric: Metric {
                    key: r.get(0)?,
                    value: metric_value(r.get(1)?, r.get(2)?),
                    timestamp: r.get(3)?,
                    step: r.get(4)?,
                },
                run_id: r.get(5)?,
                dataset_name: r.get(6)?,
                dataset_digest: r.get(7)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    for (table, is_param) in [("logged_model_tags", false), ("logged_model_params", true)] {
        let mut st = conn.prepare_cached(&format!(
            "SELECT key, value FROM {table} WHERE model_key = ?1 ORDER BY key"
        ))?;
        let rows = st.query_map([key], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?;
        for row in rows {
            let (k, v) = row?;
            if is_param {
                model.params.push(Param::new(k, v));
            } else {
                model.tags.push(Tag::new(k, v));
            }
        }
    }
    Ok(model)
}

/// The key and the whole of model `model_id`; a deleted one only when `allow_deleted`.
pub(super) fn find_model(
    conn: &Connection,
    model_id: &str,
    allow_deleted: bool,
) -> TxResult<(i64, LoggedModel)> {
    let found = conn
        .prepare_cached(&format!(
            "SELECT {MODEL_COLUMNS} FROM logged_models WHERE model_id = ?1"
        ))?
        .query_row([model_id], model_from_row)
        .optional()?;
    match found {
        Some((key, m)) if allow_deleted || m.lifecycle_stage == LifecycleStage::Active => {
            Ok((key, with_data(conn, key, m)?))
        }
        _ => Err(TxError::Store(StoreError::logged_model_not_found(model_id))),
    }
}

/// The whole of model `model_id`; a deleted one only when `allow_deleted`.
pub(super) fn logged_model(
    conn: &Connection,
    model_id: &str,
    allow_deleted: bool,
) -> TxResult<LoggedModel> {
    Ok(find_model(conn, model_id, allow_deleted)?.1)
}

/// The key of the active model `model_id`.
pub(super) fn model_key(conn: &Connection, model_id: &str) -> TxResult<i64> {
    Ok(find_model(conn, model_id, false)?.0)
}

fn touch_model(conn: &Connection, key: i64) -> TxResult<()> {
    conn.prepare_cached("UPDATE logged_models SET last_updated_time = ?1 WHERE model_key = ?2")?
        .execute(params![now_ms(), key])?;
    Ok(())
}

/// Upsert tags of the model with key `key`.
pub(super) fn set_model_tags_tx(conn: &Connection, key: i64, tags: &[Tag]) -> TxResult<()> {
    let mut st = conn.prepare_cached(
        "INSERT OR REPLACE INTO logged_model_tags (model_key, key, value) VALUES (?1, ?2, ?3)",
    )?;
    for t in tags {
        st.execute(params![key, t.key, t.value])?;
    }
    touch_model(conn, key)
}

/// Log params of the model with key `key`: a key logged before must keep its value.
pub(super) fn log_model_params_tx(
    conn: &Connection,
    key: i64,
    model_id: &str,
    params: &[Param],
) -> TxResult<()> {
    let mut get = conn.prepare_cached(
        "SELECT value FROM logged_model_params WHERE model_key = ?1 AND key = ?2",
    )?;
    let mut put = conn.prepare_cached(
        "INSERT INTO logged_model_params (model_key, key, value) VALUES (?1, ?2, ?3)",
    )?;
    for p in params {
        match get
            .query_row(params![key, p.key], |r| r.get::<_, String>(0))
            .optional()?
        {
            Some(old) if old != p.value => {
                return Err(logged_model_param_changed(model_id, &p.key, &old, &p.value).into());
            }
            Some(_) => {}
            None => {
                put.execute(params![key, p.key, p.value])?;
            }
        }
    }
    touch_model(conn, key)
}

/// Create a logged model in the active experiment `experiment_id`.
pub(super) fn create_model_tx(
    conn: &Connection,
    experiment_id: &ExperimentId,
    model: &NewLoggedModel,
    name: &str,
) -> TxResult<LoggedModel> {
    let (n, experiment) = get_experiment_tx(conn, experiment_id)?;
    if experiment.lifecycle_stage != LifecycleStage::Active {
        return Err(
            experiment_not_active(experiment_id, Some("to create logged models in it")).into(),
        );
    }
    if let Some(run_id) = &model.source_run_id {
        find_active_run(conn, run_id)?;
    }
    let model_id = new_logged_model_id();
    let artifact_uri = logged_model_artifact_uri(&experiment.artifact_location, &model_id);
    let now = now_ms();
    conn.prepare_cached(
        "INSERT INTO logged_models (model_id, experiment_id, name, artifact_uri, status, \
         model_type, source_run_id, creation_time, last_updated_time, lifecycle_stage) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, 'active')",
    )?
    .execute(params![
        model_id,
        n,
        name,
        artifact_uri,
        LoggedModelStatus::Pending.as_str(),
        model.model_type,
        model.source_run_id,
        now
    ])?;
    let key = conn.last_insert_rowid();
    set_model_tags_tx(conn, key, &model.tags)?;
    log_model_params_tx(conn, key, &model_id, &model.params)?;
    Ok(find_model(conn, &model_id, false)?.1)
}

/// Set the status of model `model_id`.
pub(super) fn finalize_model_tx(
    conn: &Connection,
    model_id: &str,
    status: LoggedModelStatus,
) -> TxResult<LoggedModel> {
    let (key, _) = find_model(conn, model_id, false)?;
    conn.prepare_cached(
        "UPDATE logged_models SET status = ?1, last_updated_time = ?2 WHERE model_key = ?3",
    )?
    .execute(params![status.as_str(), now_ms(), key])?;
    Ok(find_model(conn, model_id, false)?.1)
}

/// Soft-delete model `model_id`.
pub(super) fn delete_model_tx(conn: &Connection, model_id: &str) -> TxResult<()> {
    let (key, _) = find_model(conn, model_id, false)?;
    conn.prepare_cached(
        "UPDATE logged_models SET lifecycle_stage = 'deleted', last_updated_time = ?1 \
         WHERE model_key = ?2",
    )?
    .execute(params![now_ms(), key])?;
    Ok(())
}

/// Delete tag `tag` of model `model_id`.
pub(super) fn delete_model_tag_tx(conn: &Connection, model_id: &str, tag: &str) -> TxResult<()> {
    let (key, _) = find_model(conn, model_id, false)?;
    let n = conn
        .prepare_cached("DELETE FROM logged_model_tags WHERE model_key = ?1 AND key = ?2")?
        .execute(params![key, tag])?;
    if n == 0 {
        return Err(logged_model_tag_not_found(model_id, tag).into());
    }
    touch_model(conn, key)
}

/// Every active model of the experiments `experiment_ids`, newest first.
pub(super) fn models_of(
    conn: &Connection,
    experiment_ids: &[ExperimentId],
) -> TxResult<Vec<LoggedModel>> {
    let ids: Vec<i64> = experiment_ids
        .iter()
        .map(parse_experiment_id)
        .collect::<Result<_>>()?;
    let list = serde_json::Value::from(ids).to_string();
    let mut st = conn.prepare_cached(&format!(
        "SELECT {MODEL_COLUMNS} FROM logged_models WHERE lifecycle_stage = 'active' \
         AND experiment_id IN (SELECT value FROM json_each(?1)) \
         ORDER BY creation_time DESC, model_id"
    ))?;
    let found = st
        .query_map([list], model_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(found
        .into_iter()
        .map(|(key, m)| with_data(conn, key, m))
        .collect::<rusqlite::Result<_>>()?)
}

/// Record `outputs` of the active run `run_id`.
pub(super) fn log_outputs_tx(
    conn: &Connection,
    run_id: &str,
    outputs: &[ModelOutput],
) -> TxResult<()> {
    let (run_key, _) = find_active_run(conn, run_id)?;
    let mut put = conn.prepare_cached(
        "INSERT OR REPLACE INTO run_outputs (run_key, model_id, step) VALUES (?1, ?2, ?3)",
    )?;
    for o in outputs {
        find_model(conn, &o.model_id, false)?;
        put.execute(params![run_key, o.model_id, o.step])?;
    }
    Ok(())
}

/// Log `metrics` into the histories of their (active) runs and the metrics of their
/// (active) logged models.
pub(super) fn log_model_metrics_tx(
    conn: &Connection,
    metrics: &[LoggedModelMetric],
) -> TxResult<()> {
    let (runs, model_ids) = group_model_metrics(metrics);
    let mut models: HashMap<&str, i64> = HashMap::new();
    for id in model_ids {
        models.insert(id, find_model(conn, id, false)?.0);
    }
    let mut run_keys = Vec::with_capacity(runs.len());
    for (run_id, _) in &runs {
        run_keys.push(find_active_run(conn, run_id)?.0);
    }
    for ((run_id, points), run_key) in runs.iter().zip(run_keys) {
        log_batch_tx(conn, run_key, run_id, points, &[], &[])?;
    }
    let mut put = conn.prepare_cached(
        "INSERT OR IGNORE INTO logged_model_metrics (model_key, key, value, is_nan, timestamp, \
         step, run_id, dataset_name, dataset_digest) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    for m in metrics {
        let (value, is_nan) = split_nan(m.metric.value);
        put.execute(params![
            models[m.model_id.as_str()],
            m.metric.key,
            value,
            is_nan,
            m.metric.timestamp,
            m.metric.step,
            m.run_id,
            m.dataset_name,
            m.dataset_digest
        ])?;
    }
    for key in models.values() {
        touch_model(conn, *key)?;
    }
    Ok(())
}
