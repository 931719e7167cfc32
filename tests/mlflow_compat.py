"""Compatibility check: the official MLflow Python client against a hyperflow server.

Run by tests/mlflow_client.rs with MLFLOW_TRACKING_URI pointing at the server (and
MLFLOW_TRACKING_TOKEN set when the server requires a token). Exits non-zero on the first
mismatch; prints "mlflow compat: all checks passed" at the end.
"""

import base64
import math
import os
import sys
import tempfile

import mlflow
import pandas as pd
import requests
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException

URI = os.environ["MLFLOW_TRACKING_URI"]
TOKEN = os.environ.get("MLFLOW_TRACKING_TOKEN")
client = MlflowClient()
checks = 0


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        print(f"FAILED: {what}", file=sys.stderr)
        sys.exit(1)


# ---- experiments ------------------------------------------------------------------------
exp_id = mlflow.set_experiment("compat").experiment_id
check(client.get_experiment(exp_id).name == "compat", "get_experiment")
check(client.get_experiment_by_name("compat").experiment_id == exp_id, "get_experiment_by_name")
check(client.get_experiment_by_name("no such experiment") is None, "get-by-name miss is None")
other = client.create_experiment("compat-other", tags={"team": "ml"})
check(client.get_experiment(other).tags == {"team": "ml"}, "experiment tags")
client.set_experiment_tag(other, "team", "infra")
check(client.get_experiment(other).tags["team"] == "infra", "set_experiment_tag")
client.rename_experiment(other, "compat-renamed")
check(client.get_experiment(other).name == "compat-renamed", "rename_experiment")
try:
    client.create_experiment("compat")
    check(False, "duplicate experiment name must fail")
except MlflowException as e:
    check(e.error_code == "RESOURCE_ALREADY_EXISTS", f"duplicate name code {e.error_code}")
names = {e.name for e in client.search_experiments()}
check({"Default", "compat", "compat-renamed"} <= names, f"search_experiments {names}")
found = client.search_experiments(filter_string="name LIKE 'compat%'", order_by=["name ASC"])
check([e.name for e in found] == ["compat", "compat-renamed"], "search_experiments filter")
client.delete_experiment(other)
check(client.get_experiment(other).lifecycle_stage == "deleted", "delete_experiment")
client.restore_experiment(other)
check(client.get_experiment(other).lifecycle_stage == "active", "restore_experiment")

# ---- runs: fluent API with nesting --------------------------------------------------------
child_ids = []
with mlflow.start_run(run_name="parent", description="a sweep") as parent:
    pid = parent.info.run_id
    mlflow.log_param("optimizer", "adam")
    mlflow.log_params({"lr": 0.01, "layers": 3})
    mlflow.log_metric("best_loss", 1.0, step=0)
    mlflow.log_metrics({"best_loss": 0.5, "nan_metric": float("nan")}, step=1)
    mlflow.set_tag("stage", "dev")
    mlflow.set_tags({"owner": "alice", "kind": "sweep"})
    for i in range(3):
        with mlflow.start_run(run_name=f"trial-{i}", nested=True) as child:
            child_ids.append(child.info.run_id)
            mlflow.log_params({"x": i, "y": f"v{i}"})
            for step in range(5):
                mlflow.log_metric("loss", (i + 1) * 0.1 + step * 0.01, step=step)
            mlflow.set_tag("trial", str(i))
    # A large batch: the client chunks it.
    mlflow.log_metrics({f"m{k}": float(k) for k in range(1500)}, step=2)

# Failed run.
try:
    with mlflow.start_run(run_name="boom"):
        mlflow.log_metric("loss", 9.0)
        raise RuntimeError("boom")
except RuntimeError:
    pass

p = client.get_run(pid)
check(p.info.status == "FINISHED", f"parent status {p.info.status}")
check(p.info.run_name == "parent", "run_name")
check(p.info.end_time is not None and p.info.end_time >= p.info.start_time, "end_time")
check(p.data.params == {"optimizer": "adam", "lr": "0.01", "layers": "3"}, f"params {p.data.params}")
check(p.data.metrics["best_loss"] == 0.5, "latest metric")
check(math.isnan(p.data.metrics["nan_metric"]), "NaN metric round trip")
check(p.data.metrics["m1499"] == 1499.0 and len(p.data.metrics) == 1502, "chunked log_metrics")
check(p.data.tags["stage"] == "dev" and p.data.tags["owner"] == "alice", "tags")
check(p.data.tags["mlflow.note.content"] == "a sweep", "description tag")
check(p.info.artifact_uri == f"mlflow-artifacts:/{exp_id}/{pid}/artifacts", p.info.artifact_uri)
for i, cid in enumerate(child_ids):
    c = client.get_run(cid)
    check(c.data.tags["mlflow.parentRunId"] == pid, "parentRunId")
    check(c.data.params == {"x": str(i), "y": f"v{i}"}, "child params")
    check(c.data.metrics["loss"] == (i + 1) * 0.1 + 4 * 0.01, "child latest loss")
    hist = client.get_metric_history(cid, "loss")
    check([m.step for m in hist] == list(range(5)), "metric history steps")
    check(
        [round(m.value, 10) for m in hist] == [round((i + 1) * 0.1 + s * 0.01, 10) for s in range(5)],
        "metric history values",
    )

# ---- MlflowClient low-level API ---------------------------------------------------------
run = client.create_run(exp_id, run_name="client-run", tags={"src": "client"})
rid = run.info.run_id
client.log_param(rid, "alpha", "0.5")
client.log_metric(rid, "score", 3.0, timestamp=1000, step=7)
client.log_batch(
    rid,
    metrics=[Metric("score", 4.0, 2000, 8), Metric("aux", -1.5, 2000, 0)],
    params=[Param("beta", "b")],
    tags=[RunTag("batch", "yes")],
)
client.set_tag(rid, "temp", "x")
client.delete_tag(rid, "temp")
try:
    client.log_param(rid, "alpha", "0.6")
    check(False, "changing a param must fail")
except MlflowException as e:
    check(e.error_code == "INVALID_PARAMETER_VALUE", f"param change code {e.error_code}")
try:
    client.get_run("0" * 32)
    check(False, "missing run must fail")
except MlflowException as e:
    check(e.error_code == "RESOURCE_DOES_NOT_EXIST", f"missing run code {e.error_code}")
client.set_terminated(rid, "KILLED")
r = client.get_run(rid)
check(r.info.status == "KILLED", "set_terminated")
check(r.data.metrics == {"score": 4.0, "aux": -1.5}, f"metrics {r.data.metrics}")
check(r.data.params == {"alpha": "0.5", "beta": "b"}, "params")
check("temp" not in r.data.tags and r.data.tags["batch"] == "yes", "delete_tag / batch tag")
hist = client.get_metric_history(rid, "score")
check([(m.value, m.timestamp, m.step) for m in hist] == [(3.0, 1000, 7), (4.0, 2000, 8)], "history")
client.update_run(rid, name="client-run-renamed")
check(client.get_run(rid).info.run_name == "client-run-renamed", "update_run name")
client.delete_run(rid)
check(client.get_run(rid).info.lifecycle_stage == "deleted", "delete_run")
client.restore_run(rid)
check(client.get_run(rid).info.lifecycle_stage == "active", "restore_run")

# ---- search into pandas -----------------------------------------------------------------
df = mlflow.search_runs(
    experiment_ids=[exp_id],
    filter_string=f"tags.mlflow.parentRunId = '{pid}' and metrics.loss < 0.3",
    order_by=["metrics.loss DESC"],
)
check(isinstance(df, pd.DataFrame), "search_runs returns a DataFrame")
check(list(df["tags.mlflow.runName"]) == ["trial-1", "trial-0"], f"filtered+ordered {list(df['tags.mlflow.runName'])}")
check(list(df["params.x"]) == ["1", "0"], "params column")
check(str(df["start_time"].dtype).startswith("datetime64"), "start_time is datetime64")
all_df = mlflow.search_runs(experiment_ids=[exp_id], order_by=["attributes.start_time ASC"])
check(len(all_df) == 6, f"all runs {len(all_df)}")
failed = mlflow.search_runs(experiment_ids=[exp_id], filter_string="attributes.status = 'FAILED'")
check(list(failed["tags.mlflow.runName"]) == ["boom"], "status filter")
like = client.search_runs([exp_id], "params.y LIKE 'v%'", order_by=["params.y DESC"])
check([r.info.run_name for r in like] == ["trial-2", "trial-1", "trial-0"], "LIKE + order by param")
page1 = client.search_runs([exp_id], max_results=4)
check(len(page1) == 4 and page1.token, "first page with token")
page2 = client.search_runs([exp_id], max_results=4, page_token=page1.token)
check(len(page2) == 2 and not page2.token, "last page without token")
try:
    client.search_runs([exp_id], "metrics.loss < 'abc'")
    check(False, "bad filter must fail")
except MlflowException as e:
    check(e.error_code == "INVALID_PARAMETER_VALUE", f"bad filter code {e.error_code}")

# ---- artifacts --------------------------------------------------------------------------
with tempfile.TemporaryDirectory() as tmp:
    with open(os.path.join(tmp, "notes.txt"), "w") as f:
        f.write("hello artifacts\n")
    os.makedirs(os.path.join(tmp, "d", "e"))
    with open(os.path.join(tmp, "d", "a.json"), "w") as f:
        f.write('{"a": 1}')
    with open(os.path.join(tmp, "d", "e", "b.bin"), "wb") as f:
        f.write(bytes(range(256)) * 10)
    client.log_artifact(pid, os.path.join(tmp, "notes.txt"))
    client.log_artifacts(pid, os.path.join(tmp, "d"), artifact_path="subdir")
    client.log_text(pid, "some text", "texts/t.txt")
    client.log_dict(pid, {"k": [1, 2]}, "texts/d.json")

    top = client.list_artifacts(pid)
    check([(f.path, f.is_dir) for f in top] == [("notes.txt", False), ("subdir", True), ("texts", True)], f"list root {top}")
    sub = client.list_artifacts(pid, "subdir")
    check([(f.path, f.is_dir, f.file_size) for f in sub] == [("subdir/a.json", False, 8), ("subdir/e", True, None)], f"list subdir {sub}")
    deep = client.list_artifacts(pid, "subdir/e")
    check([(f.path, f.file_size) for f in deep] == [("subdir/e/b.bin", 2560)], f"list deep {deep}")
    out = os.path.join(tmp, "out")
    local = client.download_artifacts(pid, "subdir", out)
    with open(os.path.join(local, "e", "b.bin"), "rb") as f:
        check(f.read() == bytes(range(256)) * 10, "downloaded binary equal")
    with open(os.path.join(local, "a.json")) as f:
        check(f.read() == '{"a": 1}', "downloaded json equal")
    local = mlflow.artifacts.download_artifacts(run_id=pid, artifact_path="notes.txt", dst_path=out)
    with open(local) as f:
        check(f.read() == "hello artifacts\n", "downloaded text equal")
    check(mlflow.artifacts.load_text(f"runs:/{pid}/texts/t.txt") == "some text", "load_text")
    check(mlflow.artifacts.load_dict(f"runs:/{pid}/texts/d.json") == {"k": [1, 2]}, "load_dict")

# ---- raw HTTP: auth and error bodies ---------------------------------------------------
headers = {"Authorization": f"Bearer {TOKEN}"} if TOKEN else {}
r = requests.get(f"{URI}/api/2.0/mlflow/runs/get", params={"run_id": "nope"}, headers=headers)
check(r.status_code == 404 and r.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST", "404 body")
check(r.json()["message"] == "Run with id=nope not found", r.json()["message"])
r = requests.get(f"{URI}/api/2.0/mlflow/nope", headers=headers)
check(r.status_code == 404 and r.json()["error_code"] == "ENDPOINT_NOT_FOUND", "unknown endpoint")
if TOKEN:
    r = requests.get(f"{URI}/api/2.0/mlflow/experiments/get", params={"experiment_id": "0"})
    check(r.status_code == 401 and r.json()["error_code"] == "UNAUTHENTICATED", "401 without token")
    basic = base64.b64encode(f"bob:{TOKEN}".encode()).decode()
    r = requests.get(
        f"{URI}/api/2.0/mlflow/experiments/get",
        params={"experiment_id": "0"},
        headers={"Authorization": f"Basic {basic}"},
    )
    check(r.status_code == 200 and r.json()["experiment"]["name"] == "Default", "basic auth")

print(f"mlflow compat: all checks passed ({checks} checks)")
