"""What the official client's calls fail with, for the test scripts run against hyperflow's
server."""

from mlflow.exceptions import MlflowException


def error_code(call):
    """The MLflow error code `call()` raises; an AssertionError if it does not raise."""
    try:
        call()
    except MlflowException as e:
        return e.error_code
    raise AssertionError("no error")
