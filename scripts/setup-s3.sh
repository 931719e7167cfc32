#!/usr/bin/env bash
# Create (or reuse) a Python venv with moto's S3 server (`moto_server`) and boto3, the
# S3 emulator the object-storage artifact tests start (tests/common/s3.rs).
#
#   HYPERFLOW_S3_VENV   where the venv lives (default ~/.cache/hyperflow/s3-venv)
#   PYTHON              interpreter used to create it (default python3)
set -euo pipefail
VENV="${HYPERFLOW_S3_VENV:-$HOME/.cache/hyperflow/s3-venv}"
PY="${PYTHON:-python3}"
MOTO_VERSION="5.2.6"

if [ -x "$VENV/bin/moto_server" ] && "$VENV/bin/python" -c "import moto, boto3, sys; sys.exit(0 if moto.__version__ == '$MOTO_VERSION' else 1)" 2>/dev/null; then
    echo "moto $MOTO_VERSION already installed in $VENV"
    exit 0
fi
mkdir -p "$(dirname "$VENV")"
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet "moto[server]==$MOTO_VERSION" boto3
"$VENV/bin/python" -c "import moto; print('installed moto', moto.__version__, 'in $VENV')"
