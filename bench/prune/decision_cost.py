"""Cost of a pruning decision in optuna as the history grows, measured as
`examples/prune_cost.rs` measures hyperflow's (its doc comment has the method).

For each of optuna's pruners with its defaults (ThresholdPruner with an upper bound no value
reaches), a study with RandomSampler(seed=1) and in-memory storage runs trials one after
another over one parameter x; a trial reports 81 steps of (x - 0.3)^2 + e^(-t/9) until it
is pruned. The figure at N trials is the mean time of `trial.report(value, step)` plus
`trial.should_prune()` over the reports of the 25 trials before the Nth.

    ~/.cache/hyperflow/bench-venv/bin/python bench/prune/decision_cost.py   # a few minutes
"""

import math
import time

import optuna

CHECKPOINTS = [10, 100, 1000]
WINDOW = 25
STEPS = 81

PRUNERS = {
    "none": optuna.pruners.NopPruner,
    "median": optuna.pruners.MedianPruner,
    "percentile": lambda: optuna.pruners.PercentilePruner(25.0),
    "asha": optuna.pruners.SuccessiveHalvingPruner,
    "hyperband": optuna.pruners.HyperbandPruner,
    "wilcoxon": optuna.pruners.WilcoxonPruner,
    "threshold": lambda: optuna.pruners.ThresholdPruner(upper=1e9),
}


def search(make_pruner):
    """Per trial, the time of each of its reports (seconds)."""
    study = optuna.create_study(
        sampler=optuna.samplers.RandomSampler(seed=1), pruner=make_pruner()
    )
    times = []
    for _ in range(CHECKPOINTS[-1]):
        trial = study.ask()
        x = trial.suggest_float("x", 0.0, 1.0)
        reports = []
        state, value = optuna.trial.TrialState.COMPLETE, None
        for step in range(STEPS):
            value = (x - 0.3) ** 2 + math.exp(-step / 9.0)
            t0 = time.perf_counter()
            trial.report(value, step)
            prune = trial.should_prune()
            reports.append(time.perf_counter() - t0)
            if prune:
                state = optuna.trial.TrialState.PRUNED
                break
        if state == optuna.trial.TrialState.PRUNED:
            study.tell(trial, state=state)
        else:
            study.tell(trial, value)
        times.append(reports)
    return times


def main():
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    print("| pruner | " + " | ".join(str(n) for n in CHECKPOINTS) + " |")
    print("|---|" + "---:|" * len(CHECKPOINTS))
    for name, make in PRUNERS.items():
        per_trial = search(make)
        cells = []
        for n in CHECKPOINTS:
            window = [t for trial in per_trial[max(0, n - WINDOW):n] for t in trial]
            cells.append(f"{sum(window) / max(1, len(window)) * 1e6:.1f}")
        print(f"| {name} (µs) | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
