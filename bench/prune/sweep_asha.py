#!/usr/bin/env python3
"""`hyperflow sweep` with and without `[pruner] kind = "asha"`: the same config, the same
seeds, real processes printing learning curves (issue 15, "must show").

Run (after `cargo build --release` and `bash bench/setup.sh`):

    nice ~/.cache/hyperflow/bench-venv/bin/python bench/prune/sweep_asha.py --seeds 0-19
    (about 5 minutes; --smoke: one seed of exp_decay, checked, as CI runs it;
    --pruner 'kind = "hyperband"' another table in place of ASHA's)

For each program and seed, two sweeps of one config that differ only in the `[pruner]`
table (`kind = "asha"`, nothing else): `algo = "tpe"`, `max_evals = 30`, one trial at a
time, the seed. Programs:

  exp_decay, noisy  bench/prune/curve_program.py: 81 steps of a curve family of curves.py
                    (3 parameters; the truth of a trial is known, so its regret is too)
  gbt               examples/sweeps/python/train.py --model gbt --n-estimators 80: real
                    gradient boosting, validation MSE every 5 rounds (lr loguniform
                    0.01-0.5, max_depth 1-6); its best settings start slowly
                    (bench/prune/RESULTS.md), the case ASHA does not handle

Read back from the tracking store with `hyperflow runs list --format json`: the parent's
`total_steps` (reports the trials made), the children's `hyperflow.state` tags, and the
best complete trial (its `loss`, and for the synthetic programs the noise-free value at
the last step minus the optimum). Prints a Markdown table: medians over seeds, *x fewer*
= median total steps without the pruner over median with it, *p* = two-sided
Mann-Whitney U of the best complete trial's regret (or loss) without and with.
"""
import argparse
import concurrent.futures as cf
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import curves as P  # noqa: E402
import run as R  # noqa: E402

HYPERFLOW = os.path.join(P.REPO, "target", "release", "hyperflow")
TRAIN = os.path.join(P.REPO, "examples", "sweeps", "python", "train.py")
UNIT = '{ kind = "uniform", low = 0.0, high = 1.0 }'
MAX_EVALS = 30

# Per program: its command and space (None: curve_program.py over three unit parameters)
# and the metric it prints.
PROGRAMS = {
    "exp_decay": (None, "loss"),
    "noisy": (None, "loss"),
    "gbt": (("%s %s --model gbt --n-estimators 80 --lr={lr} --max-depth={max_depth}",
             'lr = { kind = "loguniform", low = 0.01, high = 0.5 }\n'
             'max_depth = { kind = "randint", low = 1, high = 7 }\n'), "val_loss"),
}


def config(program, seed, pruner):
    """The sweep's TOML: the same for both runs but the `[pruner]` table."""
    command, metric = PROGRAMS[program]
    if command is None:
        run = "%s %s --problem %s --x0={x0} --x1={x1} --x2={x2}" % (
            sys.executable, os.path.join(HERE, "curve_program.py"), program)
        space = "".join("x%d = %s\n" % (i, UNIT) for i in range(3))
    else:
        template, space = command
        run = template % (sys.executable, TRAIN)
    text = ('[experiment]\nname = "demo"\n\n[command]\nrun = "%s"\n\n'
            '[objective]\nmetric = "%s"\ndirection = "minimize"\n\n'
            '[search]\nalgo = "tpe"\nmax_evals = %d\nparallel = 1\nseed = %d\n\n'
            '[space]\n%s' % (run, metric, MAX_EVALS, seed, space))
    if pruner:
        text += '\n[pruner]\n%s\n' % pruner
    return text


def sweep(program, seed, pruner):
    """Runs one sweep in a fresh directory and store; returns what it recorded."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "sweep.toml")
        with open(path, "w") as fh:
            fh.write(config(program, seed, pruner))
        uri = "sqlite:///" + os.path.join(d, "runs.db")
        subprocess.run([HYPERFLOW, "sweep", path, "--tracking-uri", uri, "--no-progress"],
                       check=True, capture_output=True, text=True, cwd=d)
        out = subprocess.run([HYPERFLOW, "runs", "list", "--experiment", "demo",
                              "--tracking-uri", uri, "--format", "json", "--max-results", "1000"],
                             check=True, capture_output=True, text=True, cwd=d).stdout
    runs = json.loads(out)
    parent = next(r for r in runs if r.get("tags.hyperflow.role") == "search")
    trials = [r for r in runs if r.get("tags.hyperflow.role") == "trial"]
    command, metric = PROGRAMS[program]
    metric = "metrics." + metric
    complete = [r for r in trials if r.get("tags.hyperflow.state") == "COMPLETE"]
    best = min(complete, key=lambda r: float(r[metric]))
    if command is None:
        # The noise-free value at the last step (the table subtracts the optimum).
        x = [float(best["params.x%d" % i]) for i in range(3)]
        score = P.PROBLEMS[program].truth(x, P.R)
    else:
        score = float(best[metric])
    return {"program": program, "seed": seed, "pruned_sweep": pruner is not None,
            "total_steps": float(parent["metrics.total_steps"]),
            "pruned": sum(r.get("tags.hyperflow.state") == "PRUNED" for r in trials),
            "trials": len(trials), "best": score}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="0-19")
    ap.add_argument("--programs", default=",".join(PROGRAMS))
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--pruner", default='kind = "asha"',
                    help="the [pruner] table's lines of the second sweep (default: "
                    "kind = \"asha\")")
    ap.add_argument("--smoke", action="store_true",
                    help="one seed of exp_decay, checked: every trial of the sweep without the "
                    "pruner complete with its 81 steps, some pruned with it (CI runs it)")
    a = ap.parse_args()
    if a.smoke:
        a.seeds, a.programs = "0", "exp_decay"

    seeds = R.parse_range(a.seeds)
    programs = a.programs.split(",")
    todo = [(p, s, pruner) for p in programs for s in seeds for pruner in (None, a.pruner)]
    with cf.ThreadPoolExecutor(a.jobs) as pool:
        results = list(pool.map(lambda job: sweep(*job), todo))
    if a.smoke:
        none, asha = results
        assert none["pruned"] == 0 and none["total_steps"] == MAX_EVALS * P.R, none
        assert asha["pruned"] > 0 and asha["total_steps"] < none["total_steps"], asha
        assert none["trials"] == asha["trials"] == MAX_EVALS, (none, asha)
        print("smoke: both sweeps ran; with ASHA %d of %d trials pruned, %g steps of %g"
              % (asha["pruned"], MAX_EVALS, asha["total_steps"], none["total_steps"]))
        return
    from scipy.stats import mannwhitneyu
    print("With `[pruner]` %s:\n" % a.pruner.replace("\n", "; "))
    print("| program | seeds | total steps, no pruner | with the pruner | x fewer | trials pruned "
          "| best complete, no pruner | with the pruner | p |")
    print("|---|--:|--:|--:|--:|--:|--:|--:|--:|")
    for program in programs:
        def of(pruned_sweep, key):
            return np.array([r[key] for r in results
                             if r["program"] == program and r["pruned_sweep"] == pruned_sweep])
        steps_none, steps_pruned = np.median(of(False, "total_steps")), \
            np.median(of(True, "total_steps"))
        # Regret for the synthetic programs, validation MSE for gbt.
        optimum = P.PROBLEMS[program].optimum if PROGRAMS[program][0] is None else 0.0
        a_best, b_best = of(False, "best") - optimum, of(True, "best") - optimum
        p = mannwhitneyu(a_best, b_best).pvalue if np.any(a_best != b_best) else 1.0
        print("| %s | %d | %g | %g | %.1f | %g of %d | %.3g | %.3g | %.2f |" % (
            program, len(seeds), steps_none, steps_pruned, steps_none / steps_pruned,
            np.median(of(True, "pruned")), MAX_EVALS, np.median(a_best), np.median(b_best), p))


if __name__ == "__main__":
    main()
