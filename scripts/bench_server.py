#!/usr/bin/env python3
"""Side-by-side benchmark of hyperflow's tracking server and a real `mlflow server`, driven
by the official MLflow Python client. Run it with the venv from scripts/setup-mlflow.sh:

    cargo build --release --features server --bin hyperflow --example server_bench
    MLFLOW_DISABLE_TELEMETRY=true DO_NOT_TRACK=true \
        ~/.cache/hyperflow/mlflow-venv/bin/python scripts/bench_server.py [--quick]

For each server it measures, on loopback with a fresh SQLite database in a temp dir:
  - start-up: process spawn until the first `GET /health` answers 200;
  - one `MlflowClient.log_metric` round trip (p50, p99 over N calls);
  - creating runs (`MlflowClient.create_run`) per second;
  - `search_runs` with a filter and order_by over the seeded runs (HTTP time of the raw
    request, i.e. server-side plus transfer, and the official client's full call);
  - 32 concurrent clients logging for 30 s (the Rust load generator
    `target/release/examples/server_bench load`), with every acknowledged point checked.
Results are printed as a Markdown table.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"

import requests  # noqa: E402
from mlflow import MlflowClient  # noqa: E402
from mlflow.entities import Metric, Param  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV_BIN = os.path.dirname(sys.executable)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round((len(xs) - 1) * p))]


class Server:
    def __init__(self, kind, tmp):
        self.kind, self.port = kind, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        db = f"sqlite:///{os.path.join(tmp, kind + '.db')}"
        arts = os.path.join(tmp, kind + "-artifacts")
        if kind == "hyperflow":
            exe = os.path.join(ROOT, "target/release/hyperflow")
            cmd = [exe, "server", "--port", str(self.port), "--backend-store-uri", db,
                   "--artifacts-destination", arts]
        else:
            cmd = [os.path.join(VENV_BIN, "mlflow"), "server", "--host", "127.0.0.1",
                   "--port", str(self.port), "--backend-store-uri", db, "--serve-artifacts",
                   "--artifacts-destination", arts]
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(cmd, cwd=tmp, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        while True:
            try:
                if requests.get(self.url + "/health", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if self.proc.poll() is not None:
                raise SystemExit(f"{kind} server exited with {self.proc.returncode}")
            if time.perf_counter() - t0 > 180:
                raise SystemExit(f"{kind} server did not start in 180 s")
            time.sleep(0.005)
        self.startup_ms = (time.perf_counter() - t0) * 1e3

    def stop(self):
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=15)
        except Exception:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def bench(kind, args, tmp):
    out = {}
    srv = Server(kind, tmp)
    out["startup_ms"] = srv.startup_ms
    try:
        client = MlflowClient(tracking_uri=srv.url)
        exp = client.create_experiment("bench")
        run = client.create_run(exp).info.run_id
        for i in range(20):  # warm-up
            client.log_metric(run, "warm", i, step=i)
        lat = []
        for i in range(args.log_calls):
            t = time.perf_counter()
            client.log_metric(run, "m", float(i), step=i)
            lat.append((time.perf_counter() - t) * 1e3)
        out["log_metric_p50_ms"], out["log_metric_p99_ms"] = pct(lat, 0.5), pct(lat, 0.99)
        assert len(client.get_metric_history(run, "m")) == args.log_calls

        n_runs = args.runs if kind == "hyperflow" else args.mlflow_runs
        search_exp = client.create_experiment("search")
        t = time.perf_counter()
        created = 0
        opts = ["adam", "sgd", "rmsprop"]
        for i in range(n_runs):
            r = client.create_run(search_exp, run_name=f"trial-{i}").info.run_id
            client.log_batch(r, metrics=[Metric("loss", ((i * 7919) % 10000) / 10000, 1, 0)],
                             params=[Param("optimizer", opts[i % 3]), Param("layers", str(1 + i % 8))])
            created += 1
        seed_s = time.perf_counter() - t
        out["runs"] = n_runs
        out["create_run_plus_batch_per_s"] = created / seed_s
        t = time.perf_counter()
        for i in range(args.create_calls):
            client.create_run(search_exp, run_name=f"extra-{i}")
        out["create_run_per_s"] = args.create_calls / (time.perf_counter() - t)

        body = {"experiment_ids": [search_exp],
                "filter": "metrics.loss < 0.5 and params.optimizer = 'adam'",
                "order_by": ["metrics.loss ASC"], "max_results": 1000}
        http, full, plain = [], [], []
        for _ in range(args.search_reps):
            t = time.perf_counter()
            resp = requests.post(srv.url + "/api/2.0/mlflow/runs/search", json=body)
            http.append((time.perf_counter() - t) * 1e3)
            assert resp.status_code == 200, resp.text
            t = time.perf_counter()
            res = client.search_runs([search_exp], body["filter"], order_by=body["order_by"],
                                     max_results=1000)
            full.append((time.perf_counter() - t) * 1e3)
            t = time.perf_counter()
            requests.post(srv.url + "/api/2.0/mlflow/runs/search",
                          json={"experiment_ids": [search_exp], "max_results": 1000})
            plain.append((time.perf_counter() - t) * 1e3)
        out["search_hits"] = len(res)
        out["search_http_p50_ms"] = statistics.median(http)
        out["search_client_p50_ms"] = statistics.median(full)
        out["search_plain_http_p50_ms"] = statistics.median(plain)

        load_bin = os.path.join(ROOT, "target/release/examples/server_bench")
        if args.load_seconds > 0 and os.path.exists(load_bin):
            res = subprocess.run([load_bin, "load", "--url", srv.url, "--clients",
                                  str(args.clients), "--seconds", str(args.load_seconds), "--json"],
                                 capture_output=True, text=True)
            if res.returncode == 0:
                out["load"] = json.loads(res.stdout.strip().splitlines()[-1])
            else:
                out["load_error"] = res.stderr[-500:]
    finally:
        srv.stop()
    return out


def fmt(v, unit="", digits=1):
    return "n/a" if v is None else f"{v:,.{digits}f}{unit}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--targets", default="hyperflow,mlflow")
    ap.add_argument("--runs", type=int, default=10_000, help="runs seeded on hyperflow")
    ap.add_argument("--mlflow-runs", type=int, default=1_000, help="runs seeded on mlflow")
    ap.add_argument("--log-calls", type=int, default=2_000)
    ap.add_argument("--create-calls", type=int, default=200)
    ap.add_argument("--search-reps", type=int, default=11)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--load-seconds", type=float, default=30)
    ap.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()
    if args.quick:
        args.runs, args.mlflow_runs, args.log_calls = 300, 100, 200
        args.create_calls, args.search_reps, args.load_seconds = 50, 3, 3
    results = {}
    for kind in args.targets.split(","):
        tmp = tempfile.mkdtemp(prefix=f"bench-{kind}-")
        try:
            print(f"benchmarking {kind} ...", file=sys.stderr, flush=True)
            results[kind] = bench(kind, args, tmp)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    kinds = list(results)
    print("| benchmark | " + " | ".join(kinds) + " |")
    print("|---|" + "---|" * len(kinds))

    def row(name, f):
        print(f"| {name} | " + " | ".join(f(results[k]) for k in kinds) + " |")

    row("start-up to first request served", lambda r: fmt(r["startup_ms"], " ms"))
    row("log_metric round trip p50 (official client)", lambda r: fmt(r["log_metric_p50_ms"], " ms", 2))
    row("log_metric round trip p99", lambda r: fmt(r["log_metric_p99_ms"], " ms", 2))
    row("create_run per second", lambda r: fmt(r["create_run_per_s"], "/s", 0))
    row("create_run + log_batch per second (seeding)", lambda r: fmt(r["create_run_plus_batch_per_s"], "/s", 0))
    row("runs searched", lambda r: f"{r['runs']:,}")
    row("search_runs filter + order_by, HTTP p50 (server + transfer)",
        lambda r: fmt(r["search_http_p50_ms"], " ms") + f" ({r['search_hits']} hits)")
    row("same, official client search_runs p50", lambda r: fmt(r["search_client_p50_ms"], " ms"))
    row("search_runs unfiltered, 1000 results, HTTP p50", lambda r: fmt(r["search_plain_http_p50_ms"], " ms"))

    def load(r):
        l = r.get("load")
        if not l:
            return r.get("load_error", "not run")[:80]
        ok = "all stored" if l["stored"] == l["points"] else f"STORED {l['stored']}"
        return (f"{l['throughput']:,.0f} points/s, {l['points']:,} points ({ok}), "
                f"{l['errors']} errors, p50 {l['p50_ms']:.1f} ms, p99 {l['p99_ms']:.1f} ms")

    row(f"{args.clients} concurrent clients logging for {args.load_seconds:g} s", load)


if __name__ == "__main__":
    main()
