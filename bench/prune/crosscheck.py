#!/usr/bin/env python3
"""Cross-checks hyperflow's pruners against optuna's, decision by decision: one sequence of
learning curves (random points of a problem of curves.py) is reported to hyperflow (stdio
engine) and to optuna side by side; both end each trial as optuna decides, so both have seen
the same values when they judge.

- median: hyperflow's decisions must equal optuna's MedianPruner's, but for one documented
  difference: hyperflow never stops a trial at or past the last step of a complete trial
  (it has done as much as one, and stopping it saves nothing); optuna does.
- asha: optuna's SuccessiveHalvingPruner must equal a model of its rule (below), and
  hyperflow's the same model with one documented difference: the trials that ran before the
  automatic minimum resource was known (here the first) have their rung values recorded
  once it is known, so later trials compete with them; optuna leaves them out of the rungs.

Usage: ~/.cache/hyperflow/bench-venv/bin/python bench/prune/crosscheck.py [--trials N]
Exits 1 when a decision differs.
"""
import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402

import curves as P  # noqa: E402
import run as R  # noqa: E402


class AshaModel:
    """optuna's asynchronous successive halving (reduction factor 4, min resource auto)."""

    def __init__(self, backfill):
        self.backfill, self.rungs, self.min_resource = backfill, {}, None

    def judge(self, passed, step, value):
        """(prune, rungs passed) for a trial that passed `passed` rungs and reports now."""
        if self.min_resource is None:
            return False, passed
        while step >= self.min_resource * 4 ** passed:
            values = self.rungs.setdefault(passed, [])
            values.append(value)
            values.sort()
            passed += 1
            if value > values[max(len(values) // 4, 1) - 1]:
                return True, passed
        return False, passed

    def completed(self, reported):
        """A trial completed after reporting `reported` (values of steps 1, 2, ...)."""
        if self.min_resource is None:
            self.min_resource = max(len(reported) // 100, 1)
            rung = 0
            while self.backfill and self.min_resource * 4 ** rung <= len(reported):
                self.rungs.setdefault(rung, []).append(reported[self.min_resource * 4 ** rung - 1])
                rung += 1


def crosscheck(pruner, problem, trials, seed):
    """How many decisions, and how many differ from the reference, per side."""
    prob = P.PROBLEMS[problem]
    rng = np.random.default_rng(seed)
    hyperflow = R.HyperflowDriver(prob.space, seed, pruner, "random")
    optuna = R.OptunaDriver(prob.space, seed, pruner)
    models = {"optuna": AshaModel(False), "hyperflow": AshaModel(True)}
    decisions, differ = 0, {"hyperflow": 0, "optuna": 0}
    full = None  # the last step of the longest complete trial
    try:
        for _ in range(trials):
            hyperflow.ask()
            optuna.ask()
            point = {name: float(rng.uniform(0, 1)) for name in prob.space}
            curve = [observed for observed, _ in prob.curve(point, rng)]
            passed = {side: 0 for side in models}
            pruned = False
            for step, value in enumerate(curve[:-1], start=1):
                said = {"hyperflow": hyperflow.report(step, value),
                        "optuna": optuna.report(step, value)}
                decisions += 1
                for side in differ:
                    if pruner == "asha":
                        expected, passed[side] = models[side].judge(passed[side], step, value)
                    else:
                        expected = said["optuna"]
                    if side == "hyperflow" and full is not None and step >= full:
                        expected = False
                    differ[side] += said[side] != expected
                pruned = said["optuna"]
                if pruned:
                    break
            for driver in (hyperflow, optuna):
                driver.pruned() if pruned else driver.complete(curve[-1])
            if not pruned:
                full = max(full or 0, len(curve) - 1)
                for model in models.values():
                    model.completed(curve[:-1])
    finally:
        hyperflow.close()
    return decisions, differ


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=200)
    a = ap.parse_args()
    failed = False
    for pruner in ("median", "asha"):
        for problem in ("exp_decay", "noisy", "crossing"):
            decisions, differ = crosscheck(pruner, problem, a.trials, seed=5)
            failed |= any(differ.values())
            print("%-6s %-9s %5d decisions, differing from the reference: hyperflow %d, "
                  "optuna %d" % (pruner, problem, decisions, differ["hyperflow"],
                                 differ["optuna"]))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
