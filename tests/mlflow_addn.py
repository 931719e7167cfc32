"""A tiny pyfunc model shared by the official-client test scripts: adds `n` to its input."""

import mlflow.pyfunc


class AddN(mlflow.pyfunc.PythonModel):
    def __init__(self, n):
        self.n = n

    def predict(self, context, model_input, params=None):
        return model_input + self.n
