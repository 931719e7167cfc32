"""The official MLflow client reads a model that hyperflow's Rust `log_model` logged and
`register_model` registered (driven by tests/tracking_models.rs, which passes the ids in
MODEL_ID, RUN_ID, REGISTERED_MODEL and the model's JSON in MODEL_JSON)."""

import json
import os
import tempfile

import mlflow
import yaml
from mlflow.entities import LoggedModelStatus
from mlflow.models import Model

model_id = os.environ["MODEL_ID"]
run_id = os.environ["RUN_ID"]
name = os.environ["REGISTERED_MODEL"]
expected = json.loads(os.environ["MODEL_JSON"])
client = mlflow.MlflowClient()

logged = client.get_logged_model(model_id)
assert logged.status == LoggedModelStatus.READY, logged.status
assert logged.source_run_id == run_id, logged.source_run_id
assert logged.name == "net", logged.name

found = mlflow.search_logged_models(
    experiment_ids=[logged.experiment_id],
    filter_string=f"source_run_id = '{run_id}'",
    output_format="list",
)
assert [m.model_id for m in found] == [model_id], found

version = client.get_model_version_by_alias(name, "champion")
assert version.version == "1", version.version
# The official client does not read model_id from the registry's answer; the source names it.
assert version.source == f"models:/{model_id}", version.source
assert version.run_id == run_id, version.run_id

for uri in (f"models:/{name}@champion", f"models:/{name}/1", f"models:/{model_id}"):
    local = mlflow.artifacts.download_artifacts(uri, dst_path=tempfile.mkdtemp())
    # (The client adds its own registered_model_meta file to registered versions.)
    assert {"MLmodel", "model.json"} <= set(os.listdir(local)), (uri, os.listdir(local))
    with open(os.path.join(local, "MLmodel")) as f:
        descriptor = yaml.safe_load(f)
    flavor = descriptor["flavors"]["hyperflow"]
    assert flavor["format"] == "json" and flavor["data"] == "model.json", flavor
    assert descriptor["model_id"] == model_id, descriptor
    assert descriptor["run_id"] == run_id, descriptor
    assert descriptor["artifact_path"] == logged.artifact_location, descriptor
    # MLflow's own Model class reads it too.
    model = Model.load(os.path.join(local, "MLmodel"))
    assert model.model_id == model_id and "hyperflow" in model.flavors, model.to_dict()
    assert model.utc_time_created, model.to_dict()
    with open(os.path.join(local, flavor["data"])) as f:
        assert json.load(f) == expected, uri

print("all checks passed")
