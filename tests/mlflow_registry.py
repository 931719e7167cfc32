"""The model registry with the official client against hyperflow's server: a pyfunc model
registered from models:/<model_id> and from runs:/, an alias set, moved and read, loads by
version and by alias, registry searches, and MLflow's error codes for client mistakes.
Prints "all checks passed" at the end; any failed check raises."""

import mlflow
import mlflow.pyfunc
import pandas as pd
from mlflow import MlflowClient
from mlflow_addn import AddN
from mlflow_errors import error_code


mlflow.set_experiment("registry")
frame = pd.DataFrame({"x": [1.0, 2.0, 3.0]})
with mlflow.start_run() as run:
    five = mlflow.pyfunc.log_model(name="adder", python_model=AddN(5))
    seven = mlflow.pyfunc.log_model(name="adder7", python_model=AddN(7))

client = MlflowClient()
v1 = mlflow.register_model(f"models:/{five.model_id}", "wine")
assert v1.version in ("1", 1), v1.version
# The client does not read model_id back from the wire; it tags the logged model instead.
assert "wine" in mlflow.get_logged_model(five.model_id).tags["mlflow.modelVersions"]
v2 = mlflow.register_model(f"models:/{seven.model_id}", "wine")
assert str(v2.version) == "2", v2.version

client.set_registered_model_alias("wine", "champion", 1)
by_alias = client.get_model_version_by_alias("wine", "champion")
assert str(by_alias.version) == "1", by_alias
assert by_alias.aliases == ["champion"], by_alias.aliases
assert client.get_registered_model("wine").aliases == {"champion": "1"}

assert list(mlflow.pyfunc.load_model("models:/wine/1").predict(frame)["x"]) == [6.0, 7.0, 8.0]
assert list(mlflow.pyfunc.load_model("models:/wine@champion").predict(frame)["x"]) == [6.0, 7.0, 8.0]
assert list(mlflow.pyfunc.load_model("models:/wine/2").predict(frame)["x"]) == [8.0, 9.0, 10.0]

# Moving the alias changes what loads by alias.
client.set_registered_model_alias("wine", "champion", 2)
assert list(mlflow.pyfunc.load_model("models:/wine@champion").predict(frame)["x"]) == [8.0, 9.0, 10.0]

client.create_registered_model("beer", tags={"team": "ml"}, description="lager")
client.update_registered_model("beer", description="stout")
client.set_registered_model_tag("beer", "stage", "dev")
beer = client.get_registered_model("beer")
assert beer.description == "stout", beer
assert beer.tags == {"team": "ml", "stage": "dev"}, beer.tags
client.delete_registered_model_tag("beer", "stage")
client.rename_registered_model("beer", "ale")
assert client.get_registered_model("ale").tags == {"team": "ml"}

assert [m.name for m in client.search_registered_models("tags.team = 'ml'")] == ["ale"]
names = [m.name for m in client.search_registered_models()]
assert names == ["ale", "wine"], names
assert [m.name for m in client.search_registered_models("name = 'wine'")] == ["wine"]
assert [m.name for m in client.search_registered_models("name LIKE '%le'")] == ["ale"]
page = client.search_registered_models(max_results=1)
assert [m.name for m in page] == ["ale"] and page.token, page
rest = client.search_registered_models(max_results=1, page_token=page.token)
assert [m.name for m in rest] == ["wine"], rest

versions = client.search_model_versions("name = 'wine'")
assert sorted(int(v.version) for v in versions) == [1, 2], versions

client.update_model_version("wine", 1, description="first")
client.set_model_version_tag("wine", 1, "validated", "yes")
mv = client.get_model_version("wine", 1)
assert mv.description == "first" and mv.tags == {"validated": "yes"}, mv

from_run = client.create_model_version("ale", f"runs:/{run.info.run_id}/extra", run_id=run.info.run_id)
assert str(from_run.version) == "1" and from_run.run_id == run.info.run_id, from_run
assert client.get_model_version_download_uri("ale", 1).endswith("/extra")

# Client mistakes get MLflow's error codes.
assert error_code(lambda: client.get_registered_model("nope")) == "RESOURCE_DOES_NOT_EXIST"
assert error_code(lambda: client.create_registered_model("wine")) == "RESOURCE_ALREADY_EXISTS"
assert error_code(lambda: client.get_model_version("wine", 9)) == "RESOURCE_DOES_NOT_EXIST"
assert error_code(lambda: client.set_registered_model_alias("wine", "x", 9)) == "RESOURCE_DOES_NOT_EXIST"
assert error_code(lambda: client.get_model_version_by_alias("wine", "gone")) == "RESOURCE_DOES_NOT_EXIST"
assert error_code(lambda: client.set_registered_model_alias("wine", "latest", 1)) == "INVALID_PARAMETER_VALUE"
assert error_code(lambda: client.search_registered_models("version > 'y'")) == "INVALID_PARAMETER_VALUE"

client.delete_model_version("wine", 2)
assert client.get_registered_model("wine").aliases == {}
v3 = mlflow.register_model(f"models:/{seven.model_id}", "wine")
assert str(v3.version) == "3", v3.version
client.delete_registered_model("wine")
assert error_code(lambda: client.get_model_version("wine", 1)) == "RESOURCE_DOES_NOT_EXIST"

print("all checks passed")
