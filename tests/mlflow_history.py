"""An MLflow history to import: logged with the official client into MLFLOW_TRACKING_URI
(an SQLite database or a server), then read back with the same client and written as JSON
to the file named by the first argument, for tests/mlflow_import.rs to compare the copy
with, field by field.

What it logs: experiment "tuning" (with a tag) holding a parent run (params, tags, a metric
history with steps and timestamps, artifacts in a folder and at the root) with two nested
children (one FAILED, one with a NaN point), a run left RUNNING and a deleted run; an empty
experiment "empty"; and a deleted experiment "abandoned" with a run. Metric values are
written as Python's repr so that NaN survives JSON.
"""

import json
import os
import sys
import tempfile

import mlflow
from mlflow import MlflowClient

client = MlflowClient()
T0 = 1_700_000_000_000

tuning = client.create_experiment("tuning", tags={"team": "vision", "purpose": "import test"})
client.create_experiment("empty")
abandoned = client.create_experiment("abandoned")

parent = client.create_run(tuning, run_name="search", start_time=T0, tags={"stage": "dev"})
pid = parent.info.run_id
client.log_param(pid, "optimizer", "adam")
client.log_param(pid, "lr", "0.01")
for step in range(5):
    client.log_metric(pid, "loss", 1.0 / (step + 1), timestamp=T0 + 1000 * step, step=step)
    client.log_metric(pid, "acc", 0.5 + step / 10, timestamp=T0 + 1000 * step + 7, step=step)
# Two points at the same step, as a retried epoch logs them.
client.log_metric(pid, "loss", 0.15, timestamp=T0 + 9000, step=4)
client.set_tag(pid, "mlflow.note.content", "the parent")
with tempfile.TemporaryDirectory() as tmp:
    with open(os.path.join(tmp, "hello.txt"), "w") as f:
        f.write("hello from mlflow")
    client.log_artifact(pid, os.path.join(tmp, "hello.txt"), artifact_path="notes")
    with open(os.path.join(tmp, "weights.bin"), "wb") as f:
        f.write(bytes(range(256)))
    client.log_artifact(pid, os.path.join(tmp, "weights.bin"))

for i, status in enumerate(["FINISHED", "FAILED"]):
    child = client.create_run(
        tuning,
        run_name=f"trial-{i}",
        start_time=T0 + 100 + i,
        tags={"mlflow.parentRunId": pid, "trial": str(i)},
    )
    cid = child.info.run_id
    client.log_param(cid, "depth", str(3 + i))
    client.log_metric(cid, "loss", float("nan") if i else 0.25, timestamp=T0 + 200 + i, step=0)
    client.set_terminated(cid, status, end_time=T0 + 300 + i)
client.set_terminated(pid, "FINISHED", end_time=T0 + 10_000)

running = client.create_run(tuning, run_name="still-running", start_time=T0 + 20_000)
client.log_metric(running.info.run_id, "loss", 0.9, timestamp=T0 + 20_001, step=0)

gone = client.create_run(tuning, run_name="thrown-away", start_time=T0 + 30_000)
client.set_terminated(gone.info.run_id, "FINISHED", end_time=T0 + 30_001)
client.delete_run(gone.info.run_id)

lost = client.create_run(abandoned, run_name="lost")
client.set_terminated(lost.info.run_id, "FINISHED")
client.delete_experiment(abandoned)


def artifacts(run_id, path=None):
    out = {}
    for f in client.list_artifacts(run_id, path):
        if f.is_dir:
            out.update(artifacts(run_id, f.path))
        else:
            local = client.download_artifacts(run_id, f.path, tempfile.mkdtemp())
            with open(local, "rb") as fh:
                out[f.path] = list(fh.read())
    return out


def dump(run):
    info = run.info
    return {
        "run_id": info.run_id,
        "run_name": info.run_name,
        "user_id": info.user_id,
        "status": info.status,
        "start_time": info.start_time,
        "end_time": info.end_time,
        "params": run.data.params,
        "tags": run.data.tags,
        "metrics": {
            key: [
                [m.step, m.timestamp, repr(m.value)]
                for m in client.get_metric_history(info.run_id, key)
            ]
            for key in run.data.metrics
        },
        "artifacts": artifacts(info.run_id),
    }


runs = client.search_runs([tuning], run_view_type=mlflow.entities.ViewType.ACTIVE_ONLY)
deleted = client.search_runs([tuning], run_view_type=mlflow.entities.ViewType.DELETED_ONLY)
with open(sys.argv[1], "w") as f:
    json.dump(
        {
            "experiment_tags": client.get_experiment(tuning).tags,
            "runs": [dump(r) for r in runs],
            "deleted_runs": [r.info.run_id for r in deleted],
        },
        f,
    )
print("logged", len(runs), "runs")
