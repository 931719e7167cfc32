"""scikit-learn with the official client against hyperflow's server: `mlflow.sklearn.autolog()`
logs params, training metrics and a logged model that carries those metrics (found by a
metric filter and loaded back); `mlflow.sklearn.log_model`, `register_model` and loads by
alias and by stage predict as the fitted model does; stage transitions, latest versions per
stage and ordered registry searches. Prints "all checks passed" at the end; any failed check
raises."""

import mlflow
import mlflow.pyfunc
import mlflow.sklearn
from mlflow import MlflowClient
from mlflow_errors import error_code
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression


def same_predictions(model):
    return (model.predict(X) == clf.predict(X)).all()


experiment = mlflow.set_experiment("sklearn")
X, y = load_iris(return_X_y=True)

# Autolog: params, training metrics and the model, the metrics attached to the model too.
mlflow.sklearn.autolog()
with mlflow.start_run() as run:
    clf = LogisticRegression(max_iter=300, C=0.5).fit(X, y)
mlflow.sklearn.autolog(disable=True)

client = MlflowClient()
data = client.get_run(run.info.run_id).data
assert data.params["C"] == "0.5" and data.params["max_iter"] == "300", data.params
assert 0.9 < data.metrics["training_accuracy_score"] <= 1.0, data.metrics
assert "training_score" in data.metrics, data.metrics

models = mlflow.search_logged_models(experiment_ids=[experiment.experiment_id], output_format="list")
assert len(models) == 1, models
auto = models[0]
assert auto.source_run_id == run.info.run_id, auto
assert auto.params["C"] == "0.5", auto.params
by_key = {m.key: m for m in auto.metrics}
assert {"training_accuracy_score", "training_score"} <= set(by_key), auto.metrics
accuracy = by_key["training_accuracy_score"]
assert accuracy.value == data.metrics["training_accuracy_score"], accuracy
assert accuracy.run_id == run.info.run_id and accuracy.model_id == auto.model_id, accuracy
assert accuracy.dataset_name and accuracy.dataset_digest, accuracy
assert mlflow.get_logged_model(auto.model_id).metrics == auto.metrics

found = mlflow.search_logged_models(
    experiment_ids=[experiment.experiment_id],
    filter_string="metrics.training_accuracy_score > 0.5",
    output_format="list",
)
assert [m.model_id for m in found] == [auto.model_id], found
none = mlflow.search_logged_models(
    experiment_ids=[experiment.experiment_id],
    filter_string="metrics.training_accuracy_score > 1.5",
    output_format="list",
)
assert none == [], none
assert same_predictions(mlflow.sklearn.load_model(f"models:/{auto.model_id}"))

# log_model, register, load by alias and by version.
with mlflow.start_run():
    info = mlflow.sklearn.log_model(clf, name="iris", input_example=X[:2])
v1 = mlflow.register_model(info.model_uri, "iris-clf")
client.set_registered_model_alias("iris-clf", "champion", v1.version)
assert same_predictions(mlflow.sklearn.load_model("models:/iris-clf@champion"))
assert same_predictions(mlflow.pyfunc.load_model(f"models:/iris-clf/{v1.version}"))

# Stages: transitions in any case, latest version per stage, loading by stage, archiving.
v2 = mlflow.register_model(f"models:/{auto.model_id}", "iris-clf")
assert client.get_model_version("iris-clf", v2.version).current_stage == "None"
staged = client.transition_model_version_stage("iris-clf", v1.version, "staging")
assert staged.current_stage == "Staging", staged
client.transition_model_version_stage("iris-clf", v2.version, "Production")
latest = {(str(v.version), v.current_stage) for v in client.get_latest_versions("iris-clf")}
assert latest == {("1", "Staging"), ("2", "Production")}, latest
production = client.get_latest_versions("iris-clf", stages=["production"])
assert [str(v.version) for v in production] == ["2"], production
registered = client.get_registered_model("iris-clf")
assert {str(v.version) for v in registered.latest_versions} == {"1", "2"}, registered
assert same_predictions(mlflow.sklearn.load_model("models:/iris-clf/Production"))
client.transition_model_version_stage("iris-clf", v1.version, "Production", archive_existing_versions=True)
assert client.get_model_version("iris-clf", v2.version).current_stage == "Archived"
assert client.get_model_version("iris-clf", v1.version).current_stage == "Production"
assert error_code(lambda: client.transition_model_version_stage("iris-clf", v1.version, "live")) == "INVALID_PARAMETER_VALUE"

# Ordered registry searches.
client.create_registered_model("aaa")
assert [m.name for m in client.search_registered_models()] == ["aaa", "iris-clf"]
assert [m.name for m in client.search_registered_models(order_by=["name DESC"])] == ["iris-clf", "aaa"]
assert [m.name for m in client.search_registered_models(order_by=["last_updated_timestamp DESC"])] == ["aaa", "iris-clf"]
versions = client.search_model_versions("name = 'iris-clf'", order_by=["version_number ASC"])
assert [str(v.version) for v in versions] == ["1", "2"], versions
assert error_code(lambda: client.search_registered_models(order_by=["size"])) == "INVALID_PARAMETER_VALUE"
assert error_code(lambda: client.search_model_versions(order_by=["timestamp"])) == "INVALID_PARAMETER_VALUE"

print("all checks passed")
