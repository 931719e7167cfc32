#!/usr/bin/env python3
"""MLflow's per-trial tracking cost, for comparison with hyperflow's (examples/tracking_overhead.rs).

The work per trial is the same as a hyperflow trial's: one nested child run under a parent run,
holding 10 params and 5 metrics (plus a trial-number tag), started and finished. Two ways of
doing it with MLflow's own Python client on its SQLite backend:

- fluent: what hyperopt + MLflow users write --
  `with mlflow.start_run(nested=True): mlflow.log_params(...); mlflow.log_metrics(...)`;
- client: MLflow's cheapest path -- `MlflowClient.create_run`, one `log_batch`,
  `set_terminated`.

Each variant is timed over N trials, minus the same loop without tracking, and reported in ms per
trial; the parent also gets `best_loss` as it improves (as hyperflow's does). Database creation
(schema migrations) and a warm-up run are outside the timing.

Setup:  scripts/setup-mlflow.sh   (venv at ${HYPERFLOW_MLFLOW_VENV:-~/.cache/hyperflow/mlflow-venv})
Run:    ~/.cache/hyperflow/mlflow-venv/bin/python scripts/bench_mlflow_tracking.py [--trials 200]
        [--dir target/mlflow_bench] [--json]
"""

import argparse
import json
import os
import random
import shutil
import sys
import time

# Set before MLflow is imported: no telemetry, no network.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")

import logging  # noqa: E402

import mlflow  # noqa: E402
from mlflow.entities import Metric, Param, RunTag  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402


def point(rng):
    """Ten parameters, as in hyperflow's overhead example."""
    return {f"x{i}": rng.uniform(-1.0, 1.0) for i in range(10)}


def objective(p):
    """The same no-op-ish objective: the loss plus 4 metrics, 5 in all."""
    xs = list(p.values())
    loss = sum(x * x for x in xs)
    return {
        "loss": loss,
        "l1": sum(abs(x) for x in xs),
        "max": max(xs),
        "min": min(xs),
        "mean": sum(xs) / len(xs),
    }


def untracked(n, seed):
    rng = random.Random(seed)
    best = float("inf")
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(n):
        m = objective(point(rng))
        best = min(best, m["loss"])
    return time.perf_counter() - start, time.process_time() - cpu


def fluent(n, seed, experiment):
    mlflow.set_experiment(experiment)
    rng = random.Random(seed)
    best = float("inf")
    start, cpu = time.perf_counter(), time.process_time()
    with mlflow.start_run(run_name="search") as parent:
        mlflow.log_params({"algo": "random", "max_evals": n, "seed": seed, "parallelism": 1})
        for i in range(n):
            p = point(rng)
            m = objective(p)
            with mlflow.start_run(run_name=f"trial-{i}", nested=True) as child:
                mlflow.log_params(p)
                mlflow.log_metrics(m)
                mlflow.set_tag("hyperflow.trial", i)
            if m["loss"] < best:
                best = m["loss"]
                mlflow.log_metric("best_loss", best, step=i, run_id=parent.info.run_id)
                mlflow.set_tag("best_run_id", child.info.run_id)
    return time.perf_counter() - start, time.process_time() - cpu


def client(n, seed, experiment):
    c = MlflowClient()
    exp = c.get_experiment_by_name(experiment)
    exp_id = exp.experiment_id if exp else c.create_experiment(experiment)
    rng = random.Random(seed)
    best = float("inf")
    start, cpu = time.perf_counter(), time.process_time()
    parent = c.create_run(exp_id, run_name="search")
    pid = parent.info.run_id
    c.log_batch(pid, params=[Param("algo", "random"), Param("max_evals", str(n))])
    for i in range(n):
        p = point(rng)
        m = objective(p)
        now = int(time.time() * 1000)
        run = c.create_run(
            exp_id,
            run_name=f"trial-{i}",
            tags={"mlflow.parentRunId": pid, "hyperflow.trial": str(i)},
        )
        rid = run.info.run_id
        c.log_batch(
            rid,
            metrics=[Metric(k, v, now, 0) for k, v in m.items()],
            params=[Param(k, str(v)) for k, v in p.items()],
        )
        c.set_terminated(rid, "FINISHED")
        if m["loss"] < best:
            best = m["loss"]
            c.log_batch(pid, metrics=[Metric("best_loss", best, now, i)],
                        tags=[RunTag("best_run_id", rid)])
    c.set_terminated(pid, "FINISHED")
    return time.perf_counter() - start, time.process_time() - cpu


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trials", type=int, default=200)
    ap.add_argument("--dir", default="target/mlflow_bench")
    ap.add_argument("--json", action="store_true", help="print the results as JSON too")
    args = ap.parse_args()
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)

    shutil.rmtree(args.dir, ignore_errors=True)
    os.makedirs(args.dir)
    db = os.path.abspath(os.path.join(args.dir, "mlflow.db"))
    mlflow.set_tracking_uri(f"sqlite:///{db}")
    # Creating the database runs MLflow's schema migrations: keep that out of the timing, and
    # warm up both code paths (imports, SQLAlchemy pools, statement caches).
    fluent(5, 0, "warm-up-fluent")
    client(5, 0, "warm-up-client")

    n = args.trials
    base_wall, base_cpu = untracked(n, 1)
    results = {}
    for name, fn in [("fluent", fluent), ("client", client)]:
        wall, cpu = fn(n, 1, f"bench-{name}")
        results[name] = {
            "wall_ms": (wall - base_wall) * 1e3 / n,
            "cpu_ms": (cpu - base_cpu) * 1e3 / n,
        }
    print(f"MLflow {mlflow.__version__} tracking cost per trial, SQLite backend ({db}), "
          f"{n} trials, 10 params + 5 metrics per nested child run")
    print("ms per trial; wall = elapsed time, cpu = user + system time of the process")
    print(f"{'variant':<8}  {'wall':>9}  {'cpu':>9}")
    for name, r in results.items():
        print(f"{name:<8}  {r['wall_ms']:>9.2f}  {r['cpu_ms']:>9.2f}")
    if args.json:
        print(json.dumps({"mlflow": mlflow.__version__, "trials": n, "ms_per_trial": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
