"""hyperflow's samplers inside optuna: ``optuna.create_study(sampler=TPESampler(seed=1))``.

The sampler implements optuna's ``BaseSampler``. Each suggestion maps the trial's search
space (optuna's distributions) to a hyperflow space, hands the study's trials to the
engine as a history (complete, pruned by their last intermediate value, failed, and
running ones as pending) and asks it for one point. optuna's pruners, storages and
everything else of the study are optuna's own.
"""

from __future__ import annotations

import secrets
import zlib
from typing import Any, Optional

import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.samplers import BaseSampler
from optuna.search_space import IntersectionSearchSpace
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from . import _native

__all__ = ["TPESampler", "GPSampler", "HyperflowSampler"]

_STATES = {
    TrialState.COMPLETE: "complete",
    TrialState.PRUNED: "pruned",
    TrialState.FAIL: "failed",
    TrialState.RUNNING: "running",
}


class _Param:
    """One optuna distribution as a hyperflow parameter: its schema entry and the
    translation of values both ways."""

    def __init__(self, dist: BaseDistribution) -> None:
        self.dist = dist
        self.offset = 0.0
        self.step: Optional[float] = None
        if isinstance(dist, CategoricalDistribution):
            self.spec: dict[str, Any] = {"kind": "choice", "options": list(range(len(dist.choices)))}
        elif isinstance(dist, IntDistribution):
            if dist.log:
                self.spec = {"kind": "qloguniform", "low": dist.low, "high": dist.high, "q": 1}
            else:
                # Integers low, low + step, ... as their ordinals.
                self.step = float(dist.step)
                self.offset = float(dist.low)
                self.spec = {"kind": "randint", "low": 0, "high": (dist.high - dist.low) // dist.step + 1}
        elif isinstance(dist, FloatDistribution):
            if dist.log:
                self.spec = {"kind": "loguniform", "low": dist.low, "high": dist.high}
            elif dist.step is not None:
                self.step = float(dist.step)
                self.offset = dist.low
                count = round((dist.high - dist.low) / dist.step)
                self.spec = {"kind": "randint", "low": 0, "high": count + 1}
            else:
                self.spec = {"kind": "uniform", "low": dist.low, "high": dist.high}
        else:
            raise ValueError(f"hyperflow's sampler cannot sample {dist!r}")

    def to_engine(self, value: Any) -> Any:
        if isinstance(self.dist, CategoricalDistribution):
            return int(self.dist.to_internal_repr(value))
        if self.step is not None:
            return int(round((value - self.offset) / self.step))
        if isinstance(self.dist, IntDistribution):
            return float(value)
        return min(max(float(value), self.dist.low), self.dist.high)

    def from_engine(self, value: Any) -> Any:
        if isinstance(self.dist, CategoricalDistribution):
            return self.dist.choices[int(value)]
        if self.step is not None:
            x = self.offset + int(value) * self.step
            return int(round(x)) if isinstance(self.dist, IntDistribution) else min(x, self.dist.high)
        if isinstance(self.dist, IntDistribution):
            return int(round(value))
        return float(value)


class HyperflowSampler(BaseSampler):
    """An optuna sampler run by one of hyperflow's samplers (``"tpe"``, ``"gp"``,
    ``"auto"``, ``"random"``), multivariate over the parameters every finished trial has
    (optuna's intersection search space), one parameter at a time for the others."""

    def __init__(self, sampler: str = "tpe", *, seed: Optional[int] = None,
                 n_startup_trials: Optional[int] = None) -> None:
        self._sampler = sampler
        self._seed = secrets.randbits(63) if seed is None else int(seed)
        self._n_startup = n_startup_trials
        self._intersection = IntersectionSearchSpace(include_pruned=True)
        # Finished trials as history entries, by (trial id, search space): they never
        # change, and translating the whole history on every suggestion would cost more
        # than the engine's suggestion.
        self._entries: dict[tuple[int, str], Optional[tuple[Any, ...]]] = {}

    def reseed_rng(self) -> None:
        self._seed = secrets.randbits(63)

    def infer_relative_search_space(self, study: optuna.Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        return {
            name: dist
            for name, dist in self._intersection.calculate(study).items()
            if not dist.single()
        }

    def sample_relative(self, study: optuna.Study, trial: FrozenTrial,
                        search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        if not search_space:
            return {}
        return self._suggest(study, trial, search_space)

    def sample_independent(self, study: optuna.Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution) -> Any:
        if param_distribution.single():
            if isinstance(param_distribution, CategoricalDistribution):
                return param_distribution.choices[0]
            return param_distribution.low  # type: ignore[attr-defined]
        return self._suggest(study, trial, {param_name: param_distribution})[param_name]

    def _suggest(self, study: optuna.Study, trial: FrozenTrial,
                 search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        self._raise_error_if_multi_objective(study)
        params = {name: _Param(dist) for name, dist in search_space.items()}
        space = _native.Space({name: p.spec for name, p in params.items()})
        history = []
        key = repr(sorted(search_space.items()))
        for past in study._get_trials(deepcopy=False, states=tuple(_STATES), use_cache=True):
            if past.number == trial.number:
                continue
            if past.state == TrialState.RUNNING:
                entry = _entry(past, params, search_space)
            elif (past._trial_id, key) in self._entries:
                entry = self._entries[(past._trial_id, key)]
            else:
                entry = self._entries[(past._trial_id, key)] = _entry(past, params, search_space)
            if entry is not None:
                history.append(entry)
        # Each set of parameters draws from a stream of its own.
        seed = (self._seed + zlib.crc32(",".join(params).encode())) % 2**63
        direction = "maximize" if study.direction == StudyDirection.MAXIMIZE else "minimize"
        point = _native.suggest(space, history, seed, sampler=self._sampler,
                                direction=direction, n_startup=self._n_startup)
        return {name: params[name].from_engine(value) for name, value in point.items()}


def _entry(past: FrozenTrial, params: dict[str, _Param], search_space: dict[str, BaseDistribution],
           ) -> Optional[tuple[dict[str, Any], str, Optional[float], Optional[int]]]:
    """A past optuna trial as a history entry of ``_native.suggest``; ``None`` when it
    has not every parameter of the search space, or one of another kind."""
    if any(name not in past.params or not isinstance(past.distributions[name], type(dist))
           for name, dist in search_space.items()):
        return None
    point = {name: p.to_engine(past.params[name]) for name, p in params.items()}
    state = _STATES[past.state]
    value: Optional[float] = past.value if state == "complete" else None
    last_step = None
    if past.intermediate_values:
        last_step = max(past.intermediate_values)
        if state == "pruned":
            value = past.intermediate_values[last_step]
    return point, state, value, last_step


class TPESampler(HyperflowSampler):
    """hyperflow's TPE as an optuna sampler: ``optuna.create_study(sampler=
    hyperflow.optuna.TPESampler(seed=1))``."""

    def __init__(self, *, seed: Optional[int] = None, n_startup_trials: Optional[int] = None) -> None:
        super().__init__("tpe", seed=seed, n_startup_trials=n_startup_trials)


class GPSampler(HyperflowSampler):
    """hyperflow's Gaussian-process sampler (Matern 5/2, log expected improvement) as an
    optuna sampler, for small budgets of expensive objectives. Each suggestion fits the
    model to the study's trials afresh."""

    def __init__(self, *, seed: Optional[int] = None) -> None:
        super().__init__("gp", seed=seed)
