"""hyperflow from Python: hyperparameter search (TPE, GP, random, grid), pruning and
MLflow-shaped tracking, run by hyperflow's Rust engine.

Three ways in:

- hyperopt's API with only the import changed:
  ``from hyperflow import fmin, tpe, rand, hp, Trials, STATUS_OK, STATUS_FAIL, space_eval``;
- the native API: ``Space`` (hyperflow's TOML/JSON schema) and ``Study`` (ask and tell,
  pruning, tracking);
- ``hyperflow.optuna.TPESampler``, a sampler for optuna's studies.
"""

from . import hp, rand, tpe
from ._hyperopt import (
    JOB_STATE_DONE,
    JOB_STATE_ERROR,
    STATUS_FAIL,
    STATUS_OK,
    STATUS_STRINGS,
    AllTrialsFailed,
    Trials,
    fmin,
    space_eval,
)
from ._native import Space, Study, Trial, TrackingError, __version__, suggest

__all__ = [
    "AllTrialsFailed",
    "JOB_STATE_DONE",
    "JOB_STATE_ERROR",
    "STATUS_FAIL",
    "STATUS_OK",
    "STATUS_STRINGS",
    "Space",
    "Study",
    "Trial",
    "TrackingError",
    "Trials",
    "__version__",
    "fmin",
    "hp",
    "rand",
    "space_eval",
    "suggest",
    "tpe",
]
