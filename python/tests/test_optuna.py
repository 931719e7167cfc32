"""hyperflow's TPE as an optuna sampler, with optuna's pruners and storages."""

from __future__ import annotations

import numpy as np
import optuna
import pytest

import hyperflow.optuna

optuna.logging.set_verbosity(optuna.logging.WARNING)


def branin_like(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", -5.0, 10.0)
    y = trial.suggest_float("y", 1e-3, 10.0, log=True)
    return (x - 2.0) ** 2 + (np.log10(y) - 0.5) ** 2


def best_of(sampler, n_trials=60):
    study = optuna.create_study(sampler=sampler)
    study.optimize(branin_like, n_trials=n_trials)
    return study


def test_optimizes_a_two_parameter_function_better_than_random_sampling():
    ours = [best_of(hyperflow.optuna.TPESampler(seed=s)).best_value for s in range(3)]
    rand = [best_of(optuna.samplers.RandomSampler(seed=s)).best_value for s in range(3)]
    assert max(ours) < 0.05, ours
    assert np.median(ours) < np.median(rand) / 3, (ours, rand)


def test_gp_sampler_optimizes_a_small_budget():
    ours = [best_of(hyperflow.optuna.GPSampler(seed=s), 25).best_value for s in range(2)]
    rand = [best_of(optuna.samplers.RandomSampler(seed=s), 25).best_value for s in range(2)]
    assert max(ours) < min(rand), (ours, rand)


def test_seed_makes_it_reproducible():
    a = best_of(hyperflow.optuna.TPESampler(seed=1), 25)
    b = best_of(hyperflow.optuna.TPESampler(seed=1), 25)
    assert [t.params for t in a.trials] == [t.params for t in b.trials]


def test_every_distribution_kind_and_maximize():
    def objective(trial: optuna.Trial) -> float:
        a = trial.suggest_int("a", 1, 9, step=2)
        b = trial.suggest_int("b", 1, 1000, log=True)
        c = trial.suggest_float("c", 0.0, 1.0, step=0.25)
        d = trial.suggest_categorical("d", ["x", "y", None])
        e = trial.suggest_int("e", 3, 3)  # a single value
        assert a in (1, 3, 5, 7, 9) and 1 <= b <= 1000 and c in (0.0, 0.25, 0.5, 0.75, 1.0)
        assert isinstance(a, int) and isinstance(b, int) and e == 3
        return a + c - abs(np.log10(b) - 2) + (1 if d is None else 0)

    study = optuna.create_study(direction="maximize", sampler=hyperflow.optuna.TPESampler(seed=2))
    study.optimize(objective, n_trials=60)
    assert study.best_value > 10.5
    assert study.best_params["a"] == 9 and study.best_params["d"] is None


def test_with_optunas_pruner_and_an_rdb_storage(tmp_path):
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    study = optuna.create_study(sampler=hyperflow.optuna.TPESampler(seed=3),
                                pruner=optuna.pruners.MedianPruner(n_startup_trials=5),
                                storage=storage, study_name="s")

    def objective(trial: optuna.Trial) -> float:
        lr = trial.suggest_float("lr", 1e-4, 1.0, log=True)
        loss = 1.0
        for step in range(20):
            loss *= 1 - min(lr, 0.5) * (1 - lr)
            trial.report(loss, step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return loss

    study.optimize(objective, n_trials=40)
    loaded = optuna.load_study(study_name="s", storage=storage)
    states = [t.state for t in loaded.trials]
    assert states.count(optuna.trial.TrialState.PRUNED) > 5
    assert loaded.best_value < 0.01


def test_multi_objective_is_refused():
    study = optuna.create_study(directions=["minimize", "minimize"],
                                sampler=hyperflow.optuna.TPESampler(seed=1))
    with pytest.raises(ValueError):
        study.optimize(lambda t: (t.suggest_float("x", 0, 1), 0.0), n_trials=2)
