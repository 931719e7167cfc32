#!/bin/bash
# Runs the deployment files' commands here, without a container engine or a cluster:
#
# 1. reads the server's and the workers' commands out of compose.yaml and k8s/, and
#    checks that both start them alike and that k8s/sweep-config.yaml holds example/;
# 2. runs 3 tasks of slurm/sweep-array.sh at once on one SQLite store;
# 3. starts the server with compose's command (an SQLite store for PostgreSQL, a local
#    directory for S3), checks the image's health check against it, and runs 3 workers
#    with compose's worker command: no store credentials, the server's token, the
#    example folder read-only;
#
# and checks each search: one parent run, [search].max_evals finished trials numbered
# 0..max_evals-1, every worker exiting 0.
#
#   deploy/check.sh [HYPERFLOW_BINARY]     (default: target/debug/hyperflow)
#
# Needs a python3 with PyYAML: $PYTHON, else the MLflow venv of scripts/setup-mlflow.sh.
set -euo pipefail

deploy=$(cd "$(dirname "$0")" && pwd)
bin=$(realpath "${1:-$deploy/../target/debug/hyperflow}")
python=${PYTHON:-$HOME/.cache/hyperflow/mlflow-venv/bin/python}
workers=3
token=check-token

tmp=$(mktemp -d)
server_pid=
# Stops the server; keeps the logs of a failed check.
cleanup() {
  local status=$?
  if [[ -n $server_pid ]]; then kill "$server_pid" 2>/dev/null || true; fi
  chmod -R u+w "$tmp" 2>/dev/null || true
  if [[ $status -eq 0 ]]; then rm -rf "$tmp"; else echo "deploy/check.sh: logs kept in $tmp" >&2; fi
}
trap cleanup EXIT

fail() {
  echo "deploy/check.sh: $*" >&2
  exit 1
}

# 1. The commands, as the manifests write them (shell assignments of quoted arrays).
server_args=() worker_args=() max_evals=
commands=$("$python" - "$deploy" <<'PY'
import pathlib, shlex, sys, tomllib
import yaml

deploy = pathlib.Path(sys.argv[1])
load = lambda path: list(yaml.safe_load_all((deploy / path).read_text()))
compose = load("compose.yaml")[0]["services"]
server_k8s = next(d for d in load("k8s/server.yaml") if d["kind"] == "Deployment")
job = load("k8s/workers.yaml")[0]
config_map = load("k8s/sweep-config.yaml")[0]

def fail(message):
    sys.exit(f"deploy/check.sh: {message}")

server = compose["server"]["command"]
if server_k8s["spec"]["template"]["spec"]["containers"][0]["args"] != server:
    fail("k8s/server.yaml starts the server otherwise than compose.yaml")
worker = compose["worker"]["command"]
worker_k8s = job["spec"]["template"]["spec"]["containers"][0]["args"]
if [a.replace("http://hyperflow:5000", "http://server:5000") for a in worker_k8s] != worker:
    fail("k8s/workers.yaml starts the workers otherwise than compose.yaml")
if job["spec"]["parallelism"] != job["spec"]["completions"]:
    fail("k8s/workers.yaml: parallelism and completions differ")
if compose["worker"]["volumes"] != ["./example:/work:ro"]:
    fail("compose.yaml mounts the worker's sweep otherwise than this check does")
for name, text in config_map["data"].items():
    if (deploy / "example" / name).read_text() != text:
        fail(f"k8s/sweep-config.yaml: {name} differs from example/{name}")
max_evals = tomllib.loads(config_map["data"]["sweep.toml"])["search"]["max_evals"]
print(f"server_args=({shlex.join(server)})")
print(f"worker_args=({shlex.join(worker)})")
print(f"max_evals={max_evals}")
PY
)
eval "$commands"

# The example folder, read-only as compose and Kubernetes mount it.
cp -R "$deploy/example" "$tmp/work"
# Its trials take milliseconds: 24 of them could end before the last worker has started,
# and a worker starting after its search finished starts a new one (slurm/sweep-array.sh
# says so). Here each trial takes 0.1 s more, so the workers started together meet.
sed -i 's/^awk /sleep 0.1; awk /' "$tmp/work/objective.sh"
grep -q '^sleep 0.1; awk ' "$tmp/work/objective.sh" || fail "example/objective.sh: no awk line to slow down"
chmod -R a-w "$tmp/work"
mkdir "$tmp/home"

# Replaces, in the arguments after the first, every FROM by TO; prints them NUL-separated.
substitute() {
  local from=$1 to=$2 arg
  shift 2
  for arg in "$@"; do printf '%s\0' "${arg//"$from"/"$to"}"; done
}

# Checks the search of the example in STORE (a tracking URI): one parent run, max_evals
# finished trials numbered 0..max_evals-1.
check_search() {
  local store=$1 what=$2 csv
  csv=$("$bin" runs list --tracking-uri "$store" --experiment deploy-example --format csv \
    --columns tags.hyperflow.role,status,tags.hyperflow.trial --max-results 10000)
  local parents finished numbers
  parents=$(awk -F, '$1 == "search"' <<<"$csv" | wc -l)
  finished=$(awk -F, '$1 == "trial" && $2 == "FINISHED"' <<<"$csv" | wc -l)
  numbers=$(awk -F, '$1 == "trial" && $2 == "FINISHED" { print $3 }' <<<"$csv" | sort -n | uniq | tr '\n' ' ')
  [[ $parents -eq 1 ]] || fail "$what: $parents parent runs, expected 1 (one search)"
  [[ $finished -eq $max_evals ]] || fail "$what: $finished finished trials, expected $max_evals"
  [[ $numbers == "$(seq -s ' ' 0 $((max_evals - 1))) " ]] ||
    fail "$what: finished trial numbers $numbers, expected 0..$((max_evals - 1)) once each"
  echo "ok: $what: one search, $finished finished trials"
}

# Waits for the PIDs given, failing unless each exits 0.
wait_all() {
  local what=$1 pid
  shift
  for pid in "$@"; do
    wait "$pid" || fail "$what: a worker exited with status $?"
  done
}

# 2. Slurm: array tasks on one shared store, as sbatch would start them.
pids=()
for i in $(seq 0 $((workers - 1))); do
  (
    cd "$tmp/home"
    PATH="$(dirname "$bin"):$PATH" SLURM_ARRAY_TASK_ID=$i SLURM_ARRAY_JOB_ID=check \
      HYPERFLOW_TRACKING_URI="sqlite:///$tmp/slurm.db" \
      exec "$deploy/slurm/sweep-array.sh" "$tmp/work/sweep.toml" >"$tmp/slurm-$i.log" 2>&1
  ) &
  pids+=($!)
done
wait_all "slurm" "${pids[@]}"
check_search "sqlite:///$tmp/slurm.db" "slurm: $workers array tasks"

# 3. The server (compose's command, port 0 for a free one, a directory for S3) and its
#    workers (compose's command, the server's address here, no store credentials).
mapfile -d '' args < <(substitute s3://hyperflow/artifacts "$tmp/artifacts" "${server_args[@]}")
mapfile -d '' args < <(substitute 5000 0 "${args[@]}")
(
  cd "$tmp/home"
  export HYPERFLOW_TRACKING_URI="sqlite:///$tmp/store.db" HYPERFLOW_AUTH_TOKEN=$token
  exec "$bin" "${args[@]}" >"$tmp/server.log" 2>&1
) &
server_pid=$!
port=
for _ in $(seq 100); do
  port=$(sed -n 's|.*listening on http://[^ ]*:\([0-9]*\).*|\1|p' "$tmp/server.log")
  [[ -n $port ]] && break
  kill -0 "$server_pid" 2>/dev/null || fail "the server exited: $(cat "$tmp/server.log")"
  sleep 0.1
done
[[ -n $port ]] || fail "the server did not start listening: $(cat "$tmp/server.log")"
"$deploy/healthcheck.sh" "$port" || fail "the image's health check fails against the server"
echo "ok: server on port $port, healthy"

mapfile -d '' args < <(substitute /work/ "$tmp/work/" "${worker_args[@]}")
mapfile -d '' args < <(substitute http://server:5000 "http://127.0.0.1:$port" "${args[@]}")
pids=()
for i in $(seq "$workers"); do
  (
    cd "$tmp/home"
    unset HYPERFLOW_TRACKING_URI MLFLOW_TRACKING_URI HYPERFLOW_AUTH_TOKEN
    export MLFLOW_TRACKING_TOKEN=$token
    exec "$bin" "${args[@]}" >"$tmp/worker-$i.log" 2>&1
  ) &
  pids+=($!)
done
wait_all "compose/k8s" "${pids[@]}"
MLFLOW_TRACKING_TOKEN=$token check_search "http://127.0.0.1:$port" \
  "compose/k8s: server and $workers workers"
