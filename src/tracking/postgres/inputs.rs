//! MLflow 3's dataset inputs of runs in PostgreSQL (schema v2): a dataset belongs to an
//! experiment and is identified there by `(name, digest)`; a run's inputs reference
//! datasets, in the order first logged, and carry tags of their own.

use super::super::model::*;
use super::super::store::*;
use super::Tx;
use super::{TxResult, find_active_run, upsert_tags_into};
use std::collections::HashMap;

/// The inputs of the runs `keys`, by run key.
pub(super) fn load_inputs(tx: &mut Tx<'_>, keys: &[i64]) -> TxResult<HashMap<i64, RunInputs>> {
    let mut out: HashMap<i64, RunInputs> = HashMap::new();
    // (run key, dataset key) -> index in that run's inputs.
    let mut at: HashMap<(i64, i64), usize> = HashMap::new();
    for r in tx.query(
        "SELECT i.run_key, d.dataset_key, d.name, d.digest, d.source_type, d.source, \
         d.schema, d.profile FROM run_inputs i JOIN datasets d USING (dataset_key) \
         WHERE i.run_key = ANY($1) ORDER BY i.run_key, i.position",
        &[&keys],
    )? {
        let run_key: i64 = r.get(0);
        let inputs = &mut out.entry(run_key).or_default().dataset_inputs;
        at.insert((run_key, r.get(1)), inputs.len());
        inputs.push(DatasetInput {
            dataset: Dataset {
                name: r.get(2),
                digest: r.get(3),
                source_type: r.get(4),
                source: r.get(5),
                schema: r.get(6),
                profile: r.get(7),
            },
            tags: Vec::new(),
        });
    }
    for r in tx.query(
        "SELECT run_key, dataset_key, key, value FROM run_input_tags \
         WHERE run_key = ANY($1) ORDER BY run_key, dataset_key, key",
        &[&keys],
    )? {
        let (run_key, dataset_key): (i64, i64) = (r.get(0), r.get(1));
        let input = at.get(&(run_key, dataset_key)).and_then(|&i| {
            out.get_mut(&run_key)
                .and_then(|inputs| inputs.dataset_inputs.get_mut(i))
        });
        if let Some(input) = input {
            input
                .tags
                .push(Tag::new(r.get::<_, String>(2), r.get::<_, String>(3)));
        }
    }
    Ok(out)
}

/// Log `inputs` for the active run `run_id`.
pub(super) fn log_inputs_tx(
    tx: &mut Tx<'_>,
    run_id: &str,
    inputs: &[DatasetInput],
) -> TxResult<()> {
    let (run_key, info) = find_active_run(tx, run_id)?;
    let experiment = parse_experiment_id(&info.experiment_id)?;
    let mut position: i64 = tx
        .query_one(
            "SELECT count(*) FROM run_inputs WHERE run_key = $1",
            &[&run_key],
        )?
        .get(0);
    for input in inputs {
        let d = &input.dataset;
        // The no-op update makes RETURNING give the key of an existing dataset too.
        let dataset_key: i64 = tx
            .query_one(
                "INSERT INTO datasets (experiment_id, name, digest, source_type, source, \
                 schema, profile) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (experiment_id, name, digest) \
                 DO UPDATE SET name = EXCLUDED.name RETURNING dataset_key",
                &[
                    &experiment,
                    &d.name,
                    &d.digest,
                    &d.source_type,
                    &d.source,
                    &d.schema,
                    &d.profile,
                ],
            )?
            .get(0);
        let added = tx.execute(
            "INSERT INTO run_inputs (run_key, dataset_key, position) VALUES ($1, $2, $3) \
             ON CONFLICT DO NOTHING",
            &[&run_key, &dataset_key, &position],
        )?;
        position += added as i64;
        upsert_tags_into(
            tx,
            "run_input_tags",
            &["run_key", "dataset_key"],
            &[run_key, dataset_key],
            &input.tags,
        )?;
    }
    Ok(())
}
