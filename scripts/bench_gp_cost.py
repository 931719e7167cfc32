#!/usr/bin/env python3
"""GP time per suggestion, hyperflow beside optuna's GPSampler, in one run on one machine.

    scripts/bench_gp_cost.py            (from anywhere; about 15 minutes on 2 cores)

Runs, one after the other, on styblinski_tang in 10 dimensions (10 uniform parameters on
[-5, 5]), one sequential search each:
  1. `cargo build --release --example gp_cost` and the example itself: hyperflow's time of
     `Study::ask` with the default `Gp`, the smallest of three medians of the 10
     suggestions before each history size (the example's own method);
  2. optuna 5.0.0's GPSampler (seed 1) in a venv of its own: the time of `study.ask` with
     the search space given (which is where the sampler fits and optimizes), the median of
     the 10 suggestions before each history size, one run (a run takes minutes);

and prints one Markdown table, engines by history size (50, 100, 200, 400), with
hyperflow's speed-up. Both run on one thread: hyperflow's GP is single-threaded, and
optuna's torch is limited to one thread (`--optuna-threads` changes it).

Environment:
  GP_BENCH_VENV     optuna's venv (default $HOME/.cache/hyperflow/gp-bench-venv); created
                    when missing with optuna==5.0.0, torch, scipy and greenlet from PyPI
                    (torch from PyPI is large: about 5 GB with its CUDA wheels).
  CARGO_TARGET_DIR  honoured as cargo does.

Raw outputs go to target/bench/gp_cost/: hyperflow.md (the example's table), optuna.json
(every suggestion's time), table.md (the table printed at the end).
"""
import argparse
import json
import os
import subprocess
import sys
import time

# The helpers shared with the TPE benchmark (running steps, formatting, the machine).
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_tpe_cost import (  # noqa: E402
    ROOT,
    BenchError,
    cpu_model,
    duration,
    markdown_rows,
    minutes,
    publish,
    ratio,
    revision,
    run_example,
    step,
)

#: History sizes of the table.
SIZES = [50, 100, 200, 400]
#: Suggestions per figure: the median of the last WINDOW before each size.
WINDOW = 10
#: The rows of the example's table: times, and best values found.
HYPERFLOW_ROW = "styblinski10 (ms)"
HYPERFLOW_BEST = "styblinski10 best value"
#: optuna's version, pinned: the GP sampler changes between releases.
OPTUNA = "optuna==5.0.0"

#: optuna's side: the same problem and method, run in its venv. argv: sizes, window,
#: threads; prints {"times": [seconds per suggestion], "best": [best value at each
#: size], "versions": ...}.
OPTUNA_RUN = r"""
import importlib.metadata as m, json, platform, statistics, sys, time
import optuna, torch
sizes, window, threads = json.loads(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
torch.set_num_threads(threads)
optuna.logging.set_verbosity(optuna.logging.WARNING)
space = {f"x{i}": optuna.distributions.FloatDistribution(-5.0, 5.0) for i in range(10)}
study = optuna.create_study(sampler=optuna.samplers.GPSampler(seed=1))
times = []
for _ in range(max(sizes)):
    t0 = time.perf_counter()
    trial = study.ask(space)
    times.append(time.perf_counter() - t0)
    x = [trial.params[f"x{i}"] for i in range(10)]
    study.tell(trial, sum(0.5 * (v**4 - 16 * v * v + 5 * v) for v in x))
versions = ", ".join(p + " " + m.version(p) for p in ("optuna", "torch", "scipy", "numpy"))
best = [min(t.value for t in study.trials[:n]) for n in sizes]
print(json.dumps({"times": times, "best": best,
                  "versions": versions + ", Python " + platform.python_version()}))
"""


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--optuna-threads", type=int, default=1, metavar="N",
                        help="torch threads for optuna's GPSampler (default 1)")
    args = parser.parse_args()
    if args.optuna_threads < 1:
        parser.error("--optuna-threads must be at least 1 (got %d)" % args.optuna_threads)
    try:
        run(args.optuna_threads)
    except BenchError as e:
        sys.exit("bench_gp_cost: error: %s" % e)


def run(threads):
    t_start = time.monotonic()
    target = os.path.join(ROOT, os.environ.get("CARGO_TARGET_DIR") or "target")
    out_dir = os.path.join(target, "bench", "gp_cost")
    os.makedirs(out_dir, exist_ok=True)
    python = optuna_venv()
    load_start = os.getloadavg()
    hyperflow = hyperflow_times(target, out_dir)
    load_mid = os.getloadavg()
    optuna = optuna_times(python, threads, out_dir)
    load_end = os.getloadavg()

    lines = table(hyperflow, optuna) + [""] + notes(
        [load_start, load_mid, load_end], time.monotonic() - t_start, optuna, threads
    )
    publish(lines, out_dir, "hyperflow.md, optuna.json, table.md")


def optuna_venv():
    """optuna's venv, created when missing; returns its python."""
    venv = os.environ.get("GP_BENCH_VENV") or os.path.join(
        os.path.expanduser("~"), ".cache", "hyperflow", "gp-bench-venv"
    )
    python = os.path.join(venv, "bin", "python")
    if not os.path.exists(python):
        print("== creating %s (%s, torch, scipy, greenlet from PyPI)" % (venv, OPTUNA),
              file=sys.stderr, flush=True)
        step([sys.executable, "-m", "venv", venv], "creating the venv (python3 needs venv)")
    # pip is a no-op when the pinned versions are there.
    step([python, "-m", "pip", "install", "-q", OPTUNA, "torch", "scipy", "greenlet"],
         "installing optuna's GPSampler dependencies (it needs access to PyPI)")
    return python


def hyperflow_times(target, out_dir):
    """Builds and runs the gp_cost example; returns {"times": {history size: seconds},
    "best": {history size: best value}}."""
    return parse_example(*run_example("gp_cost", target, out_dir))


def parse_example(text, where):
    """The example's Markdown table as {history size: seconds}."""
    rows = markdown_rows(text)
    header = next((r for r in rows if r[0] == "trials in history"), None)
    times = next((r for r in rows if r[0] == HYPERFLOW_ROW), None)
    best = next((r for r in rows if r[0] == HYPERFLOW_BEST), None)
    if header is None or times is None or best is None:
        raise BenchError(
            "%s: expected a table with a '| trials in history | ...' header and rows '| %s "
            "| ...' and '| %s | ...' (the gp_cost example's output); did its format change?"
            % (where, HYPERFLOW_ROW, HYPERFLOW_BEST)
        )
    try:
        sizes = [int(n) for n in header[1:]]
        result = {
            "times": {n: float(v) * 1e-3 for n, v in zip(sizes, times[1:])},
            "best": {n: float(v) for n, v in zip(sizes, best[1:])},
        }
    except ValueError as e:
        raise BenchError("%s: a history size, time or value is not a number (%s)" % (where, e))
    absent = [n for n in SIZES if n not in result["times"] or n not in result["best"]]
    if absent:
        raise BenchError("%s: no figure at %s trials" % (where, ", ".join(map(str, absent))))
    return result


def optuna_times(python, threads, out_dir):
    """Runs optuna's GPSampler on the same problem; returns {"times": {size: seconds},
    "best": {size: best value}, "versions": ...}."""
    print("== optuna GPSampler: %d trials, %d torch thread(s)" % (max(SIZES), threads),
          file=sys.stderr, flush=True)
    t0 = time.monotonic()
    stdout = step([python, "-c", OPTUNA_RUN, json.dumps(SIZES), str(WINDOW), str(threads)],
                  "the optuna GPSampler run", capture=True)
    raw = os.path.join(out_dir, "optuna.json")
    with open(raw, "w") as fh:
        fh.write(stdout)
    try:
        result = json.loads(stdout.strip().splitlines()[-1])
        per = result["times"]
        times = {n: sorted(per[n - WINDOW:n])[WINDOW // 2] for n in SIZES}
        best = dict(zip(SIZES, result["best"]))
    except (ValueError, KeyError, IndexError, TypeError) as e:
        raise BenchError("%s: not the optuna run's output (%s: %s)" % (raw, type(e).__name__, e))
    print("   done in %s" % minutes(time.monotonic() - t0), file=sys.stderr, flush=True)
    return {"times": times, "best": best, "versions": result["versions"]}


def table(hyperflow, optuna):
    lines = [
        "| trials in history | " + " | ".join(map(str, SIZES)) + " |",
        "|---|" + "---:|" * len(SIZES),
        row("hyperflow `Gp` (default)", [duration(hyperflow["times"][n]) for n in SIZES]),
        row("optuna GPSampler (default)", [duration(optuna["times"][n]) for n in SIZES]),
        row("speed-up of hyperflow over optuna",
            [ratio(optuna["times"][n], hyperflow["times"][n]) for n in SIZES]),
        row("best value so far, hyperflow", ["%.2f" % hyperflow["best"][n] for n in SIZES]),
        row("best value so far, optuna", ["%.2f" % optuna["best"][n] for n in SIZES]),
    ]
    return lines


def row(label, cells):
    return "| %s | %s |" % (label, " | ".join(cells))


def notes(loads, elapsed, optuna, threads):
    """How the table was measured, and on what machine under what load (a Markdown list)."""
    load = ", ".join("%.2f %.2f %.2f" % l for l in loads)
    return ["- " + note for note in [
        "Time per suggestion on styblinski_tang10 (10 uniform parameters on [-5, 5]) when "
        "the history holds N trials, in one sequential search: the median of the %d "
        "suggestions before N. hyperflow: the time of `Study::ask` (gp_cost example), the "
        "smallest of 3 runs. optuna: the time of `study.ask(space)` with GPSampler(seed=1), "
        "one run, torch on %d thread(s). The best values are those of the same searches "
        "(the minimum is -391.66)." % (WINDOW, threads),
        "hyperflow %s; %s." % (revision(), optuna["versions"]),
        "Machine: %d CPUs (%s), shared; load average (1, 5, 15 min) at the start, after "
        "hyperflow and at the end: %s. The whole run took %s."
        % (os.cpu_count(), cpu_model(), load, minutes(elapsed)),
    ]]


if __name__ == "__main__":
    main()
