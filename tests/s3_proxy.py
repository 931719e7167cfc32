"""The official MLflow client logging artifacts through hyperflow's artifact proxy, whose
destination is an S3 bucket (tests/artifacts_s3.rs checks the bucket). Prints "all checks
passed"."""
import os
import tempfile

import mlflow
import requests
from mlflow import MlflowClient

mlflow.set_experiment("proxied")
with mlflow.start_run() as run:
    assert run.info.artifact_uri.startswith("mlflow-artifacts:/1/"), run.info.artifact_uri
    scratch = tempfile.mkdtemp()
    notes = os.path.join(scratch, "notes.txt")
    with open(notes, "w") as f:
        f.write("hello")
    mlflow.log_artifact(notes)
    tree = os.path.join(scratch, "tree")
    os.makedirs(os.path.join(tree, "nested"))
    with open(os.path.join(tree, "top.txt"), "w") as f:
        f.write("top")
    with open(os.path.join(tree, "nested", "deep.txt"), "w") as f:
        f.write("deep")
    mlflow.log_artifacts(tree, "data")
    big = os.path.join(scratch, "big.bin")
    payload = bytes(i % 253 for i in range(12 << 20))
    with open(big, "wb") as f:
        f.write(payload)
    mlflow.log_artifact(big)
    # A scratch file, deleted through the proxy below.
    mlflow.log_text("gone", "scratch/gone.txt")

client = MlflowClient()
run_id = run.info.run_id
listed = sorted((f.path, f.is_dir) for f in client.list_artifacts(run_id))
assert listed == [("big.bin", False), ("data", True), ("notes.txt", False), ("scratch", True)], listed
nested = [(f.path, f.file_size) for f in client.list_artifacts(run_id, "data/nested")]
assert nested == [("data/nested/deep.txt", 4)], nested

# The REST listing (the web UI's) reads the same bucket.
r = requests.get(os.environ["MLFLOW_TRACKING_URI"] + "/api/2.0/mlflow/artifacts/list",
                 params={"run_id": run_id, "path": "data"})
assert r.status_code == 200, r.text
assert sorted(f["path"] for f in r.json()["files"]) == ["data/nested", "data/top.txt"], r.text

down = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="data", dst_path=tempfile.mkdtemp())
with open(os.path.join(down, "nested", "deep.txt")) as f:
    assert f.read() == "deep"
down = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="big.bin", dst_path=tempfile.mkdtemp())
with open(down, "rb") as f:
    assert f.read() == payload
assert mlflow.artifacts.load_text(f"runs:/{run_id}/notes.txt") == "hello"

# Delete through the proxy route, as MLflow's client does for a run's artifacts.
base = os.environ["MLFLOW_TRACKING_URI"] + "/api/2.0/mlflow-artifacts/artifacts"
prefix = run.info.artifact_uri[len("mlflow-artifacts:/"):]
r = requests.delete(f"{base}/{prefix}/scratch")
assert r.status_code == 200, r.text
r = requests.delete(f"{base}/{prefix}/scratch")
assert r.status_code == 404, r.text
# A client mistake is a 4xx, not a 5xx.
r = requests.get(f"{base}/{prefix}/missing.txt")
assert r.status_code == 404, r.text
# (encoded, since requests would resolve a literal "..")
r = requests.put(f"{base}/{prefix}/%2E%2E/%2E%2E/%2E%2E/escape.txt", data=b"x")
assert 400 <= r.status_code < 500, r.text

with open("run_id.txt", "w") as f:
    f.write(run_id)
print("all checks passed")
