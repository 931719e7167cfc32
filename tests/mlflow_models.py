"""MLflow 3 model APIs with the official client against hyperflow's server: a dataset input,
a pyfunc model logged, finalized and found by search_logged_models, loaded back by id.
Prints "all checks passed" at the end; any failed check raises."""

import mlflow
import mlflow.pyfunc
import pandas as pd
from mlflow_addn import AddN


mlflow.set_experiment("models")
frame = pd.DataFrame({"x": [1.0, 2.0, 3.0]})
with mlflow.start_run() as run:
    dataset = mlflow.data.from_pandas(frame, name="train-frame")
    mlflow.log_input(dataset, context="training")
    info = mlflow.pyfunc.log_model(name="adder", python_model=AddN(5), params={"n": 5})

got = mlflow.get_run(run.info.run_id)
inputs = got.inputs.dataset_inputs
assert len(inputs) == 1, inputs
assert inputs[0].dataset.name == "train-frame", inputs[0].dataset
assert any(t.key == "mlflow.data.context" and t.value == "training" for t in inputs[0].tags)

model = mlflow.get_logged_model(info.model_id)
assert model.name == "adder", model
assert str(model.status) in ("READY", "LoggedModelStatus.READY"), model.status
assert model.source_run_id == run.info.run_id, model.source_run_id
assert model.params.get("n") == "5", model.params

found = mlflow.search_logged_models(output_format="list")
assert [m.model_id for m in found] == [info.model_id], found
named = mlflow.search_logged_models(filter_string="name = 'adder'", output_format="list")
assert len(named) == 1, named
none = mlflow.search_logged_models(filter_string="name = 'other'", output_format="list")
assert none == [], none

loaded = mlflow.pyfunc.load_model(info.model_uri)
out = loaded.predict(frame)
assert list(out["x"]) == [6.0, 7.0, 8.0], out

print("all checks passed")
