#!/usr/bin/env python3
"""A program that prints a learning curve, for `hyperflow sweep` (bench/prune/sweep_asha.py).

    curve_program.py --problem exp_decay --x0 0.2 --x1 0.5 --x2 0.9

Prints one line per step of the problem's curve (bench/prune/curves.py), as a training
script prints its validation loss after each epoch, one step every `--step-seconds`
(default 0.005: a program printing its whole curve at once would end before any pruner
could stop it, and a sweep would measure that race):

    hyperflow: metric=loss value=3.1 step=1
    ...
    hyperflow: metric=loss value=0.42 step=81

and nothing else: the last value is the trial's result. A noisy problem draws its noise
from the point, so a point run twice prints the same curve.
"""
import argparse
import hashlib
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import curves as P  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problem", required=True, choices=sorted(
        name for name, p in P.PROBLEMS.items()
        if isinstance(p, P.Synthetic) and list(p.space) == ["x0", "x1", "x2"]))
    ap.add_argument("--x0", type=float, required=True)
    ap.add_argument("--x1", type=float, required=True)
    ap.add_argument("--x2", type=float, required=True)
    ap.add_argument("--step-seconds", type=float, default=0.005)
    a = ap.parse_args()
    problem = P.PROBLEMS[a.problem]
    point = {"x0": a.x0, "x1": a.x1, "x2": a.x2}
    seed = int.from_bytes(hashlib.sha256(repr(sorted(point.items())).encode()).digest()[:8],
                          "little")
    for t, (observed, _) in enumerate(problem.curve(point, np.random.default_rng(seed)), 1):
        time.sleep(a.step_seconds)
        print("hyperflow: metric=loss value=%r step=%d" % (observed, t), flush=True)


if __name__ == "__main__":
    main()
