#!/usr/bin/env bash
# What logging to a tracking server costs a sweep: the same `hyperflow sweep` of N trivial
# trials (each logs its run, metrics and stdout/stderr artifacts) against an SQLite file
# and against `hyperflow server` on loopback (artifacts through its proxy); then the web
# UI's report endpoint over that sweep, and single artifacts through the proxy (with the
# MLflow venv's Python `requests`, when present).
#
#   cargo build --release --features server
#   N=200 scripts/bench_remote_sweep.sh
#
# Wall times depend on the machine's load (printed); CPU times are given beside them.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="${HYPERFLOW_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/hyperflow}"
N="${N:-200}"
PY="${HYPERFLOW_MLFLOW_VENV:-$HOME/.cache/hyperflow/mlflow-venv}/bin/python"
WORK="$(mktemp -d)"
SERVER_PID=""
trap '[ -n "$SERVER_PID" ] && kill "$SERVER_PID"; rm -rf "$WORK"' EXIT
cd "$WORK"

printf 'echo "{\\"loss\\": $1}"\n' > trial.sh
cat > sweep.toml <<EOF
[experiment]
name = "bench"
[command]
run = "sh trial.sh {x}"
[objective]
metric = "loss"
[search]
algo = "random"
seed = 1
max_evals = $N
parallel = 1
[space]
x = { kind = "uniform", low = 0, high = 1 }
EOF
TIME="wall %e s, client user %U s, sys %S s"

echo "sweep of $N trials into sqlite:/// ($(uptime | sed 's/.*load/load/'))"
/usr/bin/time -f "  $TIME" "$BIN" --tracking-uri "sqlite:///$WORK/local.db" \
    sweep sweep.toml --no-progress 2>&1 > /dev/null

"$BIN" server --port 0 --backend-store-uri "sqlite:///$WORK/server.db" \
    --artifacts-destination "$WORK/artifacts" --workers 2 > server.out 2>&1 &
SERVER_PID=$!
until grep -qs "listening on" server.out; do sleep 0.05; done
URL="$(sed -n 's/hyperflow server listening on //p' server.out)"
server_cpu() { awk '{print ($14 + $15) / 100}' "/proc/$SERVER_PID/stat"; }

echo "sweep of $N trials into $URL ($(uptime | sed 's/.*load/load/'))"
before="$(server_cpu)"
/usr/bin/time -f "  $TIME" "$BIN" --tracking-uri "$URL" sweep sweep.toml --no-progress 2>&1 > /dev/null
echo "  server CPU $(echo "$(server_cpu) - $before" | bc) s"

PARENT="$("$BIN" --tracking-uri "$URL" runs list --experiment bench --format json \
    --max-results 5000 | "${PYTHON:-python3}" -c \
    'import json, sys; print(next(r["run_id"] for r in json.load(sys.stdin) if r.get("tags.hyperflow.role") == "search"))')"
echo "report endpoint over the $N trials"
for _ in 1 2 3; do
    curl -s -o /dev/null -w "  HTTP %{http_code}, %{time_total} s, %{size_download} bytes\n" \
        "$URL/ajax-api/2.0/hyperflow/report?parent_run_id=$PARENT"
done

if [ -x "$PY" ]; then
    "$PY" - "$URL" <<'EOF'
import statistics, sys, time
import requests
url = sys.argv[1] + "/api/2.0/mlflow-artifacts/artifacts/bench/artifacts/"
session = requests.Session()
for method in ("PUT", "GET"):
    lat = []
    for i in range(500):
        t = time.perf_counter()
        r = session.request(method, f"{url}f{i}.txt", data=b"x" * 100 if method == "PUT" else None)
        lat.append((time.perf_counter() - t) * 1000)
        r.raise_for_status()
    lat.sort()
    print(f"{method} of a 100-byte artifact through the proxy: p50 {statistics.median(lat):.2f} ms, "
          f"p99 {lat[int(len(lat) * 0.99)]:.2f} ms (500 requests)")
EOF
fi
