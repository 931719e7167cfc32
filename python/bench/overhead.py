"""Per-trial overhead of a search from Python: a no-op objective on 5 parameters,
1,000 trials, in one process: hyperflow's TPE through hyperopt's API (``fmin``) and
through ask/tell (``Study``), optuna's study with hyperflow's sampler, against optuna's
default study (``optuna.create_study()``:
its TPE), optuna's logging silenced.

    python python/bench/overhead.py [--trials 1000] [--repeats 3]

Prints a Markdown table: seconds per search, microseconds per trial, and optuna's
per-trial cost over each of hyperflow's (the issue's target: at least 30).
"""

from __future__ import annotations

import argparse
import math
import time

import optuna

import hyperflow
import hyperflow.optuna
from hyperflow import fmin, hp, tpe


def run_fmin(trials: int, seed: int) -> None:
    space = {f"x{i}": hp.uniform(f"x{i}", -5.0, 5.0) for i in range(5)}
    fmin(lambda p: 0.0, space, algo=tpe.suggest, max_evals=trials, rstate=seed,
         show_progressbar=False)


def run_study(trials: int, seed: int) -> None:
    space = hyperflow.Space({f"x{i}": {"kind": "uniform", "low": -5.0, "high": 5.0} for i in range(5)})
    study = hyperflow.Study(space, sampler="tpe", seed=seed)
    for _ in range(trials):
        trial = study.ask()
        study.tell(trial, 0.0)


def run_optuna(trials: int, seed: int, sampler: "optuna.samplers.BaseSampler | None" = None) -> None:
    study = optuna.create_study(sampler=sampler)

    def objective(trial: optuna.Trial) -> float:
        for i in range(5):
            trial.suggest_float(f"x{i}", -5.0, 5.0)
        return 0.0

    study.optimize(objective, n_trials=trials)


def timed(run, trials: int, repeats: int) -> float:
    """The smallest wall time of ``repeats`` searches, after a short one to warm up."""
    run(20, 0)
    best = math.inf
    for seed in range(repeats):
        start = time.perf_counter()
        run(trials, seed + 1)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    rows = [
        ("hyperflow `fmin` (hyperopt's API), TPE", timed(run_fmin, args.trials, args.repeats)),
        ("hyperflow `Study` ask/tell, TPE", timed(run_study, args.trials, args.repeats)),
        ("optuna 5.0 study, `sampler=hyperflow.optuna.TPESampler()`",
         timed(lambda n, seed: run_optuna(n, seed, hyperflow.optuna.TPESampler(seed=seed)),
               args.trials, args.repeats)),
        ("optuna 5.0 `create_study()` (default TPE)", timed(run_optuna, args.trials, args.repeats)),
    ]
    optuna_per_trial = rows[-1][1] / args.trials
    print(f"{args.trials} trials, no-op objective, 5 parameters, one process")
    print()
    print("| search | seconds | per trial | optuna's per trial / this |")
    print("|---|---:|---:|---:|")
    for name, seconds in rows:
        per_trial = seconds / args.trials
        print(f"| {name} | {seconds:.3f} | {per_trial * 1e6:.1f} µs | {optuna_per_trial / per_trial:.1f}x |")


if __name__ == "__main__":
    main()
