#!/usr/bin/env python3
"""Scale-out benchmark (issue 16): many worker processes on one PostgreSQL, hyperflow
against optuna, side by side in one run.

What it measures (each on a fresh database of a throwaway PostgreSQL cluster that the
script starts with initdb/pg_ctl, as `tests/common/postgres.rs` does):

1. **Throughput**: W worker processes (default 16), a no-op objective, N trials in total
   (default 2,000). hyperflow: `examples/join_worker` processes opening one named study
   (TPE), which join through the store's ledger. optuna: processes running
   `study.optimize` on one RDBStorage study (TPESampler, its default) with
   `MaxTrialsCallback(N)`. Trials per second = finished trials / wall time from the first
   start to the last exit. Checks: trial numbers finished twice (duplicates), trials lost
   (claimed and never finished), finished trials against N.
2. **Quality**: Hartmann-6 (minimum -3.32237) with a 20 ms objective, budgets of 100 and
   600 trials, 16 workers (processes, and threads of one process) against 1 worker, over
   seeds; median regret and a Mann-Whitney U test.
3. **Faults**: W workers, a 100 ms objective, 400 trials (about 2.5 s), `stale_after` 3 s;
   4 workers SIGKILLed after 1 s; the search must end with exactly N complete trials.

Usage (from the repository root; about 10 minutes on 2 cores):

    bash bench/setup.sh            # the venv with optuna (and psycopg2-binary)
    cargo build --release --features postgres --example join_worker
    ~/.cache/hyperflow/bench-venv/bin/python bench/scaleout/run.py [--workers 16] [--trials 2000]

Prints Markdown tables; writes JSON results to target/bench/scaleout/.
"""

import argparse
import json
import os
import pwd
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WORKER = ROOT / "target" / "release" / "examples" / "join_worker"
HARTMANN6_MIN = -3.32237


def pg_bin():
    env = os.environ.get("HYPERFLOW_PG_BINDIR")
    if env:
        return Path(env)
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
    if not versions:
        sys.exit("run.py: PostgreSQL is not installed (scripts/setup-postgres.sh)")
    return versions[-1]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Postgres:
    """A throwaway cluster; as the postgres user when running as root."""

    def __init__(self):
        self.bin = pg_bin()
        self.dir = Path(tempfile.mkdtemp(prefix="hyperflow-scaleout-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self.user = "postgres" if self.as_postgres else pwd.getpwuid(os.getuid()).pw_name
        self.run("initdb", "-D", str(self.data), "-A", "trust", "-U", self.user, "--no-sync")
        self.run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.dir / "log"), "-w", "start",
            "-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
                  "-c max_connections=300 -c fsync=off -c shared_buffers=128MB",
        )

    def run(self, program, *args):
        cmd = [str(self.bin / program), *args]
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def database(self, name):
        self.run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user, name)
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{name}"

    def query(self, uri, sql):
        out = subprocess.run(
            [str(self.bin / "psql"), uri, "-At", "-c", sql], check=True, capture_output=True, text=True
        )
        return [line.split("|") for line in out.stdout.strip().splitlines() if line]

    def stop(self):
        try:
            self.run("pg_ctl", "-D", str(self.data), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


def hyperflow_workers(uri, name, workers, trials, seed, objective, sleep_ms, stale_after=60,
                      kill=0, kill_after=None, threads=1):
    """Starts the workers at once; returns (wall seconds, their JSON lines)."""
    args = [str(WORKER), uri, name, str(trials), str(seed), objective, str(sleep_ms), str(stale_after),
            str(threads)]
    started = time.perf_counter()
    procs = [subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(workers)]
    if kill:
        time.sleep(kill_after)
        for p in procs[:kill]:
            p.send_signal(signal.SIGKILL)
    lines = []
    for i, p in enumerate(procs):
        out, err = p.communicate()
        if i < kill:
            continue
        if p.returncode != 0:
            sys.exit(f"hyperflow worker failed ({p.returncode}): {err}")
        lines.append(json.loads(out.strip().splitlines()[-1]))
    return time.perf_counter() - started, lines


def hyperflow_counts(pg, uri):
    """(finished by state, duplicated numbers, lost) of the study's trial runs."""
    rows = pg.query(uri, """
        SELECT COALESCE(s.value, ''), COUNT(*) FROM runs r
        JOIN tags t ON t.run_key = r.run_key AND t.key = 'hyperflow.trial'
        LEFT JOIN tags s ON s.run_key = r.run_key AND s.key = 'hyperflow.state'
        WHERE r.lifecycle_stage = 'active' GROUP BY 1""")
    states = {state or "RUNNING": int(n) for state, n in rows}
    dup = pg.query(uri, """
        SELECT COUNT(*) FROM (SELECT p.value, t.value FROM runs r
          JOIN tags t ON t.run_key = r.run_key AND t.key = 'hyperflow.trial'
          JOIN tags p ON p.run_key = r.run_key AND p.key = 'mlflow.parentRunId'
          JOIN tags s ON s.run_key = r.run_key AND s.key = 'hyperflow.state'
          WHERE s.value <> 'RUNNING'
          GROUP BY 1, 2 HAVING COUNT(*) > 1) d""")
    parents = pg.query(uri, """
        SELECT COUNT(*) FROM runs r JOIN tags t ON t.run_key = r.run_key
        WHERE t.key = 'hyperflow.role' AND t.value = 'search' AND r.lifecycle_stage = 'active'""")
    return states, int(dup[0][0]), int(parents[0][0])


OPTUNA_WORKER = r"""
import sys, optuna
from optuna.study import MaxTrialsCallback
optuna.logging.set_verbosity(optuna.logging.WARNING)
uri, name, trials, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
study = optuna.load_study(study_name=name, storage=uri,
                          sampler=optuna.samplers.TPESampler(seed=seed))
def objective(trial):
    for i in range(6):
        trial.suggest_float(f"x{i}", 0.0, 1.0)
    return 0.0
study.optimize(objective, callbacks=[MaxTrialsCallback(trials, states=None)])
"""


def optuna_workers(uri, name, workers, trials, seed):
    import optuna
    uri = uri.replace("postgresql://", "postgresql+psycopg2://", 1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    optuna.create_study(study_name=name, storage=uri)
    started = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-c", OPTUNA_WORKER, uri, name, str(trials), str(seed + i)],
                              stderr=subprocess.PIPE, text=True) for i in range(workers)]
    for p in procs:
        _, err = p.communicate()
        if p.returncode != 0:
            sys.exit(f"optuna worker failed ({p.returncode}): {err[-2000:]}")
    wall = time.perf_counter() - started
    study = optuna.load_study(study_name=name, storage=uri)
    states = {}
    for t in study.get_trials(deepcopy=False):
        states[t.state.name] = states.get(t.state.name, 0) + 1
    numbers = [t.number for t in study.get_trials(deepcopy=False)]
    return wall, states, len(numbers) - len(set(numbers))


def mann_whitney(a, b):
    try:
        from scipy.stats import mannwhitneyu
        return float(mannwhitneyu(a, b, alternative="two-sided").pvalue)
    except ImportError:
        return float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workers", type=int, default=16)
    ap.add_argument("--trials", type=int, default=2000)
    ap.add_argument("--quality-seeds", type=int, default=10)
    ap.add_argument("--quality-trials", default="100,600",
                    help="comma-separated budgets of the quality part (trials per search)")
    ap.add_argument("--quality-sleep-ms", type=int, default=20,
                    help="how long each trial of the quality part sleeps")
    ap.add_argument("--skip", default="", help="comma-separated parts to skip: throughput,quality,faults")
    args = ap.parse_args()
    if not WORKER.exists():
        sys.exit(f"run.py: build the worker first: cargo build --release --features postgres --example join_worker")
    skip = set(filter(None, args.skip.split(",")))
    out_dir = ROOT / "target" / "bench" / "scaleout"
    out_dir.mkdir(parents=True, exist_ok=True)
    results = {"workers": args.workers, "trials": args.trials}
    pg = Postgres()
    try:
        if "throughput" not in skip:
            uri = pg.database("hf_throughput")
            wall, lines = hyperflow_workers(uri, "throughput", args.workers, args.trials, 1, "noop", 0)
            states, dup, parents = hyperflow_counts(pg, uri)
            finished = sum(n for s, n in states.items() if s != "RUNNING")
            hf = {"wall": wall, "per_s": finished / wall, "states": states, "duplicates": dup,
                  "parents": parents, "lost": states.get("RUNNING", 0),
                  "per_worker": sorted(l["trials"] for l in lines)}
            uri = pg.database("optuna_throughput")
            owall, ostates, odup = optuna_workers(uri, "throughput", args.workers, args.trials, 1)
            ofinished = sum(n for s, n in ostates.items() if s != "RUNNING")
            op = {"wall": owall, "per_s": ofinished / owall, "states": ostates, "duplicates": odup}
            results["throughput"] = {"hyperflow": hf, "optuna": op}
            print(f"\n## Throughput: {args.workers} processes, one PostgreSQL, no-op objective, "
                  f"{args.trials} trials\n")
            print("| engine | finished trials | wall (s) | trials/s | duplicates | lost | parent runs |")
            print("|---|---|---|---|---|---|---|")
            print(f"| hyperflow (TPE) | {finished} | {wall:.1f} | {hf['per_s']:.0f} | {dup} | "
                  f"{hf['lost']} | {parents} |")
            print(f"| optuna 5.0.0 (TPESampler, RDBStorage) | {ofinished} | {owall:.1f} | "
                  f"{op['per_s']:.1f} | {odup} | {ostates.get('RUNNING', 0)} | 1 |")
            print(f"\nhyperflow / optuna: {hf['per_s'] / op['per_s']:.0f}x trials per second")
        if "quality" not in skip:
            w = args.workers
            setups = {"1 worker": (1, 1), f"{w} worker processes": (w, 1),
                      f"1 process, {w} threads (fmin parallelism)": (1, w)}
            results["quality"] = {}
            for budget in [int(b) for b in args.quality_trials.split(",")]:
                regret = {label: [] for label in setups}
                for seed in range(args.quality_seeds):
                    for i, (label, (procs, threads)) in enumerate(setups.items()):
                        uri = pg.database(f"hf_quality_{budget}_{i}_{seed}")
                        _, lines = hyperflow_workers(uri, "quality", procs, budget, seed, "hartmann6",
                                                     args.quality_sleep_ms, threads=threads)
                        best = min(l["best"] for l in lines if l["best"] is not None)
                        regret[label].append(best - HARTMANN6_MIN)
                labels = list(setups)
                p_seq = mann_whitney(regret[labels[0]], regret[labels[1]])
                p_thr = mann_whitney(regret[labels[2]], regret[labels[1]])
                results["quality"][budget] = regret | {"p_1_vs_processes": p_seq,
                                                       "p_threads_vs_processes": p_thr}
                print(f"\n## Quality: Hartmann-6, {budget} trials of {args.quality_sleep_ms} ms, "
                      f"{args.quality_seeds} seeds\n")
                print("| search | median regret | mean regret |")
                print("|---|---|---|")
                for label, r in regret.items():
                    print(f"| {label} | {statistics.median(r):.4f} | {statistics.mean(r):.4f} |")
                print(f"\nMann-Whitney U: 1 worker against {w} processes p = {p_seq:.2f}; "
                      f"{w} threads in one process against {w} processes p = {p_thr:.2f}")
        if "faults" not in skip:
            uri = pg.database("hf_faults")
            wall, _ = hyperflow_workers(uri, "faults", args.workers, 400, 3, "noop", 100,
                                        stale_after=3, kill=4, kill_after=1.0)
            states, dup, parents = hyperflow_counts(pg, uri)
            results["faults"] = {"wall": wall, "states": states, "duplicates": dup, "parents": parents}
            print(f"\n## Faults: {args.workers} workers, 4 SIGKILLed after 1 s, 400 trials of 100 ms, "
                  "stale_after 3 s\n")
            print("| complete | failed (lost with their workers) | running | duplicates | parent runs | wall (s) |")
            print("|---|---|---|---|---|---|")
            print(f"| {states.get('COMPLETE', 0)} | {states.get('FAILED', 0)} | {states.get('RUNNING', 0)} | "
                  f"{dup} | {parents} | {wall:.1f} |")
    finally:
        pg.stop()
    (out_dir / "results.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
