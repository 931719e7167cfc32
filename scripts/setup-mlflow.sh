#!/usr/bin/env bash
# Create (or reuse) a Python venv with the official MLflow client and server, and
# scikit-learn for the flavour and autolog tests, used by the compatibility tests
# (tests/mlflow_client.rs, tests/mlflow_models.rs, tests/rest_vs_mlflow.rs, ...) and the
# server benchmark driver (scripts/bench_client.py).
#
#   HYPERFLOW_MLFLOW_VENV   where the venv lives (default ~/.cache/hyperflow/mlflow-venv)
#   PYTHON                  interpreter used to create it (default python3)
set -euo pipefail
VENV="${HYPERFLOW_MLFLOW_VENV:-$HOME/.cache/hyperflow/mlflow-venv}"
PY="${PYTHON:-python3}"
MLFLOW_VERSION="3.17.2"
export MLFLOW_DISABLE_TELEMETRY=true DO_NOT_TRACK=true

if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import mlflow, sklearn, sys; sys.exit(0 if mlflow.__version__ == '$MLFLOW_VERSION' else 1)" 2>/dev/null; then
    echo "mlflow $MLFLOW_VERSION and scikit-learn already installed in $VENV"
    exit 0
fi
mkdir -p "$(dirname "$VENV")"
# An existing venv (e.g. one made before scikit-learn was needed) is completed in place.
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet "mlflow==$MLFLOW_VERSION" pandas scikit-learn
"$VENV/bin/python" -c "import mlflow; print('installed mlflow', mlflow.__version__, 'in $VENV')"
