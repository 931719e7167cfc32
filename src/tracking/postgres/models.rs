//! MLflow 3's logged models and run outputs in PostgreSQL (their tables come with
//! [`MIGRATION`]): the queries behind the logged-model methods of
//! [`Store`](crate::tracking::Store) and `log_outputs`.
//!
//! A logged model is keyed by an integer `model_key`; its tags, params and metric points
//! (each with the run that logged it and the dataset it was computed on) reference it.
//! Models are read in bulk: a page of them is four queries, whatever its size.

use super::super::model::*;
use super::super::store::*;
use super::Tx;
use super::{
    TxError, TxResult, find_active_run, get_experiment_tx, insert_params_into, log_batch_tx,
    metric_value, split_nan, stage_from, upsert_tags_into,
};
use postgres::Row;
use std::collections::HashMap;

/// The schema migration that adds logged models (with their tags, params and metric
/// points) and run outputs.
pub(super) const MIGRATION: &str = r#"
    CREATE TABLE logged_models (
        model_key         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        model_id          TEXT COLLATE "C" NOT NULL UNIQUE,
        experiment_id     BIGINT NOT NULL REFERENCES experiments(experiment_id),
        name              TEXT COLLATE "C" NOT NULL,
        artifact_uri      TEXT COLLATE "C" NOT NULL,
        status            TEXT COLLATE "C" NOT NULL,
        status_message    TEXT COLLATE "C",
        model_type        TEXT COLLATE "C",
        source_run_id     TEXT COLLATE "C",
        creation_time     BIGINT NOT NULL,
        last_updated_time BIGINT NOT NULL,
        lifecycle_stage   TEXT COLLATE "C" NOT NULL DEFAULT 'active'
    );
    CREATE INDEX logged_models_by_experiment
        ON logged_models(experiment_id, creation_time DESC);
    CREATE TABLE logged_model_tags (
        model_key BIGINT NOT NULL REFERENCES logged_models(model_key),
        key       TEXT COLLATE "C" NOT NULL,
        value     TEXT COLLATE "C" NOT NULL,
        PRIMARY KEY (model_key, key)
    );
    CREATE TABLE logged_model_params (
        model_key BIGINT NOT NULL REFERENCES logged_models(model_key),
        key       TEXT COLLATE "C" NOT NULL,
        value     TEXT COLLATE "C" NOT NULL,
        PRIMARY KEY (model_key, key)
    );
    CREATE TABLE logged_model_metrics (
        model_key      BIGINT NOT NULL REFERENCES logged_models(model_key),
        key            TEXT COLLATE "C" NOT NULL,
        value          DOUBLE PRECISION NOT NULL,
        is_nan         BOOLEAN NOT NULL,
        timestamp      BIGINT NOT NULL,
        step           BIGINT NOT NULL,
        run_id         TEXT COLLATE "C" NOT NULL,
        dataset_name   TEXT COLLATE "C",
        dataset_digest TEXT COLLATE "C",
        PRIMARY KEY (model_key, key, timestamp, step, run_id)
    );
    CREATE TABLE run_outputs (
        run_key  BIGINT NOT NULL REFERENCES runs(run_key),
        model_id TEXT COLLATE "C" NOT NULL REFERENCES logged_models(model_id),
        step     BIGINT NOT NULL,
        PRIMARY KEY (run_key, model_id)
    );
"#;

const MODEL_COLUMNS: &str = "model_key, model_id, experiment_id, name, artifact_uri, status, \
                             status_message, model_type, source_run_id, creation_time, \
                             last_updated_time, lifecycle_stage";

fn model_from_row(r: &Row) -> (i64, LoggedModel) {
    let status: &str = r.get(5);
    (
        r.get(0),
        LoggedModel {
            model_id: r.get(1),
            experiment_id: ExperimentId(r.get::<_, i64>(2).to_string()),
            name: r.get(3),
            artifact_uri: r.get(4),
            // Only this module writes the column, from `LoggedModelStatus::as_str`.
            status: LoggedModelStatus::parse(status).unwrap_or(LoggedModelStatus::Pending),
            status_message: r.get(6),
            model_type: r.get(7),
            source_run_id: r.get(8),
            creation_timestamp_ms: r.get(9),
            last_updated_timestamp_ms: r.get(10),
            lifecycle_stage: stage_from(r.get(11)),
            tags: Vec::new(),
            params: Vec::new(),
            metrics: Vec::new(),
        },
    )
}

/// The models read by [`model_from_row`] with their tags, params and metrics, in the
/// order given.
fn with_data(tx: &mut Tx<'_>, found: Vec<(i64, LoggedModel)>) -> TxResult<Vec<LoggedModel>> {
    let keys: Vec<i64> = found.iter().map(|(k, _)| *k).collect();
    let at: HashMap<i64, usize> = keys.iter().enumerate().map(|(i, k)| (*k, i)).collect();
    let mut models: Vec<LoggedModel> = found.into_iter().map(|(_, m)| m).collect();
    for r in tx.query(
        "SELECT model_key, key, value, is_nan, timestamp, step, run_id, dataset_name, \
         dataset_digest FROM logged_model_metrics WHERE model_key = ANY($1) \
         ORDER BY model_key, key, timestamp, step, run_id",
        &[&keys],
    )? {
        let model = &mut models[at[&r.get::<_, i64>(0)]];
        model.metrics.push(LoggedModelMetric {
            model_id: model.model_id.clone(),
            metric: Metric {
                key: r.get(1),
                value: metric_value(r.get(2), r.get(3)),
                timestamp: r.get(4),
                step: r.get(5),
            },
            run_id: r.get(6),
            dataset_name: r.get(7),
            dataset_digest: r.get(8),
        });
    }
    for (table, is_param) in [("logged_model_tags", false), ("logged_model_params", true)] {
        for r in tx.query(
            &format!(
                "SELECT model_key, key, value FROM {table} WHERE model_key = ANY($1) \
                 ORDER BY model_key, key"
            ),
            &[&keys],
        )? {
            let model = &mut models[at[&r.get::<_, i64>(0)]];
            let (k, v): (String, String) = (r.get(1), r.get(2));
            if is_param {
                model.params.push(Param::new(k, v));
            } else {
                model.tags.push(Tag::new(k, v));
            }
        }
    }
    Ok(models)
}

/// The key of model `model_id` and the model without its data; a deleted one only when
/// `allow_deleted`.
fn find_model_row(
    tx: &mut Tx<'_>,
    model_id: &str,
    allow_deleted: bool,
) -> TxResult<(i64, LoggedModel)> {
    let found = tx
        .query_opt(
            &format!("SELECT {MODEL_COLUMNS} FROM logged_models WHERE model_id = $1"),
            &[&model_id],
        )?
        .map(|r| model_from_row(&r));
    match found {
        Some((key, m)) if allow_deleted || m.lifecycle_stage == LifecycleStage::Active => {
            Ok((key, m))
        }
        _ => Err(TxError::Store(StoreError::logged_model_not_found(model_id))),
    }
}

/// The key of the active model `model_id`.
pub(super) fn model_key(tx: &mut Tx<'_>, model_id: &str) -> TxResult<i64> {
    Ok(find_model_row(tx, model_id, false)?.0)
}

/// The whole of model `model_id`; a deleted one only when `allow_deleted`.
pub(super) fn logged_model(
    tx: &mut Tx<'_>,
    model_id: &str,
    allow_deleted: bool,
) -> TxResult<LoggedModel> {
    let found = find_model_row(tx, model_id, allow_deleted)?;
    Ok(with_data(tx, vec![found])?.remove(0))
}

fn touch_model(tx: &mut Tx<'_>, key: i64) -> TxResult<()> {
    tx.execute(
        "UPDATE logged_models SET last_updated_time = $1 WHERE model_key = $2",
        &[&now_ms(), &key],
    )?;
    Ok(())
}

/// Upsert tags of the model with key `key` (the last value of a repeated key wins).
pub(super) fn set_model_tags_tx(tx: &mut Tx<'_>, key: i64, tags: &[Tag]) -> TxResult<()> {
    upsert_tags_into(tx, "logged_model_tags", &["model_key"], &[key], tags)?;
    touch_model(tx, key)
}

/// Log params of the model with key `key`: a key logged before must keep its value.
pub(super) fn log_model_params_tx(
    tx: &mut Tx<'_>,
    key: i64,
    model_id: &str,
    params: &[Param],
) -> TxResult<()> {
    let stored = insert_params_into(tx, "logged_model_params", "model_key", key, params)?;
    for p in params {
        if let Some(old) = stored.get(&p.key).filter(|old| **old != p.value) {
            return Err(logged_model_param_changed(model_id, &p.key, old, &p.value).into());
        }
    }
    touch_model(tx, key)
}

/// Create a logged model in the active experiment `experiment_id`.
pub(super) fn create_model_tx(
    tx: &mut Tx<'_>,
    experiment_id: &ExperimentId,
    model: &NewLoggedModel,
    name: &str,
) -> TxResult<LoggedModel> {
    let (n, experiment) = get_experiment_tx(tx, experiment_id)?;
    if experiment.lifecycle_stage != LifecycleStage::Active {
        return Err(
            experiment_not_active(experiment_id, Some("to create logged models in it")).into(),
        );
    }
    if let Some(run_id) = &model.source_run_id {
        find_active_run(tx, run_id)?;
    }
    let model_id = new_logged_model_id();
    let artifact_uri = logged_model_artifact_uri(&experiment.artifact_location, &model_id);
    let key: i64 = tx
        .query_one(
            "INSERT INTO logged_models (model_id, experiment_id, name, artifact_uri, status, \
             model_type, source_run_id, creation_time, last_updated_time, lifecycle_stage) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, 'active') RETURNING model_key",
            &[
                &model_id,
                &n,
                &name,
                &artifact_uri,
                &LoggedModelStatus::Pending.as_str(),
                &model.model_type,
                &model.source_run_id,
                &now_ms(),
            ],
        )?
        .get(0);
    set_model_tags_tx(tx, key, &model.tags)?;
    log_model_params_tx(tx, key, &model_id, &model.params)?;
    logged_model(tx, &model_id, false)
}

/// Set the status of model `model_id`.
pub(super) fn finalize_model_tx(
    tx: &mut Tx<'_>,
    model_id: &str,
    status: LoggedModelStatus,
) -> TxResult<LoggedModel> {
    let key = model_key(tx, model_id)?;
    tx.execute(
        "UPDATE logged_models SET status = $1, last_updated_time = $2 WHERE model_key = $3",
        &[&status.as_str(), &now_ms(), &key],
    )?;
    logged_model(tx, model_id, false)
}

/// Soft-delete model `model_id`.
pub(super) fn delete_model_tx(tx: &mut Tx<'_>, model_id: &str) -> TxResult<()> {
    let key = model_key(tx, model_id)?;
    tx.execute(
        "UPDATE logged_models SET lifecycle_stage = 'deleted', last_updated_time = $1 \
         WHERE model_key = $2",
        &[&now_ms(), &key],
    )?;
    Ok(())
}

/// Delete tag `tag` of model `model_id`.
pub(super) fn delete_model_tag_tx(tx: &mut Tx<'_>, model_id: &str, tag: &str) -> TxResult<()> {
    let key = model_key(tx, model_id)?;
    let n = tx.execute(
        "DELETE FROM logged_model_tags WHERE model_key = $1 AND key = $2",
        &[&key, &tag],
    )?;
    if n == 0 {
        return Err(logged_model_tag_not_found(model_id, tag).into());
    }
    touch_model(tx, key)
}

/// Every active model of the experiments `experiment_ids`, newest first.
pub(super) fn models_of(
    tx: &mut Tx<'_>,
    experiment_ids: &[ExperimentId],
) -> TxResult<Vec<LoggedModel>> {
    let ids: Vec<i64> = experiment_ids
        .iter()
        .map(parse_experiment_id)
        .collect::<Result<_>>()?;
    let found: Vec<(i64, LoggedModel)> = tx
        .query(
            &format!(
                "SELECT {MODEL_COLUMNS} FROM logged_models WHERE lifecycle_stage = 'active' \
                 AND experiment_id = ANY($1) ORDER BY creation_time DESC, model_id"
            ),
            &[&ids],
        )?
        .iter()
        .map(model_from_row)
        .collect();
    with_data(tx, found)
}

/// Record `outputs` of the active run `run_id` (a model output again moves to its new
/// step).
pub(super) fn log_outputs_tx(
    tx: &mut Tx<'_>,
    run_id: &str,
    outputs: &[ModelOutput],
) -> TxResult<()> {
    let (run_key, _) = find_active_run(tx, run_id)?;
    for o in outputs {
        model_key(tx, &o.model_id)?;
        tx.execute(
            "INSERT INTO run_outputs (run_key, model_id, step) VALUES ($1, $2, $3) \
             ON CONFLICT (run_key, model_id) DO UPDATE SET step = EXCLUDED.step",
            &[&run_key, &o.model_id, &o.step],
        )?;
    }
    Ok(())
}

/// Log `metrics` into the histories of their (active) runs and the metrics of their
/// (active) logged models.
pub(super) fn log_model_metrics_tx(tx: &mut Tx<'_>, metrics: &[LoggedModelMetric]) -> TxResult<()> {
    let (runs, model_ids) = group_model_metrics(metrics);
    let mut models: HashMap<&str, i64> = HashMap::new();
    for id in model_ids {
        models.insert(id, model_key(tx, id)?);
    }
    let mut run_keys = Vec::with_capacity(runs.len());
    for (run_id, _) in &runs {
        run_keys.push(find_active_run(tx, run_id)?.0);
    }
    for ((run_id, points), run_key) in runs.iter().zip(run_keys) {
        log_batch_tx(tx, run_key, run_id, points, &[], &[])?;
    }
    let mut keys = Vec::with_capacity(metrics.len());
    let mut names = Vec::with_capacity(metrics.len());
    let mut values = Vec::with_capacity(metrics.len());
    let mut nans = Vec::with_capacity(metrics.len());
    let mut timestamps = Vec::with_capacity(metrics.len());
    let mut steps = Vec::with_capacity(metrics.len());
    let mut run_ids = Vec::with_capacity(metrics.len());
    let mut dataset_names = Vec::with_capacity(metrics.len());
    let mut dataset_digests = Vec::with_capacity(metrics.len());
    for m in metrics {
        let (value, is_nan) = split_nan(m.metric.value);
        keys.push(models[m.model_id.as_str()]);
        names.push(m.metric.key.as_str());
        values.push(value);
        nans.push(is_nan);
        timestamps.push(m.metric.timestamp);
        steps.push(m.metric.step);
        run_ids.push(m.run_id.as_str());
        dataset_names.push(m.dataset_name.as_deref());
        dataset_digests.push(m.dataset_digest.as_deref());
    }
    tx.execute(
        "INSERT INTO logged_model_metrics (model_key, key, value, is_nan, timestamp, step, \
         run_id, dataset_name, dataset_digest) SELECT * FROM UNNEST($1::int8[], $2::text[], \
         $3::float8[], $4::bool[], $5::int8[], $6::int8[], $7::text[], $8::text[], \
         $9::text[]) ON CONFLICT DO NOTHING",
        &[
            &keys,
            &names,
            &values,
            &nans,
            &timestamps,
            &steps,
            &run_ids,
            &dataset_names,
            &dataset_digests,
        ],
    )?;
    // In key order, so that concurrent writers lock the models' rows in one order.
    let mut touched: Vec<i64> = models.into_values().collect();
    touched.sort_unstable();
    for key in touched {
        touch_model(tx, key)?;
    }
    Ok(())
}
