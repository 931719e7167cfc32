#!/usr/bin/env bash
# Idempotent setup of the broad benchmark: a Python venv with the pinned peers and COCO,
# and the release build of hyperflow's stdio engine.
#
# Usage: bash bench/setup.sh [VENV_DIR]      (default $HOME/.cache/hyperflow/bench-venv,
#                                              or $BENCH_VENV)
#        SKIP_BUILD=1 bash bench/setup.sh     (venv only)
#
# Pinned versions, so that re-runs compare against the same peers:
#   optuna 5.0.0, hyperopt 0.3.0, rustuna 0.2.0, coco-experiment 2.8.2, plus numpy, scipy
#   and torch (optuna's GPSampler needs both; torch from PyPI is large, a few GB), and
#   psycopg2-binary (optuna's RDBStorage on PostgreSQL, for bench/scaleout).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${1:-${BENCH_VENV:-$HOME/.cache/hyperflow/bench-venv}}"
PY="${PYTHON:-python3}"

if ! command -v "$PY" >/dev/null; then
  echo "setup.sh: $PY not found; install Python 3.10+ (Debian: apt-get install python3 python3-venv)" >&2
  exit 1
fi
if [ ! -x "$VENV/bin/python" ]; then
  mkdir -p "$(dirname "$VENV")"
  if ! "$PY" -m venv "$VENV"; then
    echo "setup.sh: could not create a venv at $VENV; install python3-venv (Debian: apt-get install python3-venv)" >&2
    exit 1
  fi
fi

PINS=("optuna==5.0.0" "hyperopt==0.3.0" "rustuna==0.2.0" "coco-experiment==2.8.2")
if ! "$VENV/bin/python" - "${PINS[@]}" <<'PYEOF' 2>/dev/null
import importlib.metadata as m, sys
pins = dict(p.split("==") for p in sys.argv[1:])
ok = all(m.version(k) == v for k, v in pins.items())
for extra in ("numpy", "scipy", "torch", "psycopg2-binary"):
    m.version(extra)
sys.exit(0 if ok else 1)
PYEOF
then
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  "$VENV/bin/python" -m pip install --quiet "${PINS[@]}" numpy scipy torch psycopg2-binary
fi
"$VENV/bin/python" - <<'PYEOF'
import importlib.metadata as m
names = ["optuna", "hyperopt", "rustuna", "coco-experiment", "numpy", "scipy", "torch",
         "psycopg2-binary"]
print("bench venv:", ", ".join("%s %s" % (n, m.version(n)) for n in names))
PYEOF

if [ -z "${SKIP_BUILD:-}" ]; then
  if ! command -v cargo >/dev/null; then
    echo "setup.sh: cargo not found; install Rust (https://rustup.rs) to build the stdio engine" >&2
    exit 1
  fi
  (cd "$HERE/.." && cargo build --release --example stdio_engine)
  echo "stdio engine: $(cd "$HERE/.." && pwd)/target/release/examples/stdio_engine"
fi
echo "run: $VENV/bin/python $HERE/run.py --help"
