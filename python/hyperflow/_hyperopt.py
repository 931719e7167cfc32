"""hyperopt's ``fmin``, ``Trials`` and ``space_eval`` over hyperflow's studies.

A hyperopt space (nested dicts, lists and ``hp`` expressions) is compiled into hyperflow's
space schema: every label becomes a parameter, ``hp.choice`` a choice whose options are
their indices, and the labels inside an option its conditional sub-space. Points come
back from the engine as ``{label: value}`` with choices as indices: hyperopt's shape.
"""

from __future__ import annotations

import datetime
import functools
import math
import numbers
import os
import time
from typing import Any, Callable, Iterator, Optional

from . import _native
from .hp import Apply, Choice, Param

__all__ = [
    "STATUS_OK",
    "STATUS_FAIL",
    "STATUS_STRINGS",
    "JOB_STATE_DONE",
    "JOB_STATE_ERROR",
    "AllTrialsFailed",
    "Trials",
    "fmin",
    "space_eval",
]

STATUS_OK = "ok"
STATUS_FAIL = "fail"
STATUS_STRINGS = ("new", "running", "suspended", STATUS_OK, STATUS_FAIL)
JOB_STATE_DONE = 2
JOB_STATE_ERROR = 3


class AllTrialsFailed(Exception):
    """No trial of the search succeeded, so there is no best point."""


class _Compiled:
    """A hyperopt space compiled: the engine's space and every label, in order."""

    def __init__(self, space: Any) -> None:
        self.labels: list[str] = []
        self._seen: dict[str, tuple[Param, int]] = {}
        schema: dict[str, Any] = {}
        self._walk(space, schema)
        self.schema = schema
        self.space = _native.Space(schema)

    def _walk(self, node: Any, target: dict[str, Any]) -> None:
        if isinstance(node, Param):
            seen = self._seen.get(node.label)
            if seen is not None:
                if seen[0] is node and seen[1] == id(target):
                    return  # the same expression used twice in one place of the space
                raise ValueError(f"duplicate label {node.label!r}: labels are unique in a space")
            self._seen[node.label] = (node, id(target))
            self.labels.append(node.label)
            if isinstance(node, Choice):
                options: list[Any] = []
                for index, option in enumerate(node.options):
                    sub: dict[str, Any] = {}
                    self._walk(option, sub)
                    options.append({"value": index, "space": sub} if sub else index)
                target[node.label] = {"kind": "choice", "options": options}
            else:
                target[node.label] = dict(node.spec)
        elif isinstance(node, Apply):
            self._walk(node.arg, target)
        elif isinstance(node, dict):
            for value in node.values():
                self._walk(value, target)
        elif isinstance(node, (list, tuple)):
            for value in node:
                self._walk(value, target)


def _evaluate(node: Any, values: dict[str, Any]) -> Any:
    if isinstance(node, Choice):
        return _evaluate(node.options[int(values[node.label])], values)
    if isinstance(node, Param):
        return values[node.label]
    if isinstance(node, Apply):
        return node.fn(_evaluate(node.arg, values))
    if isinstance(node, dict):
        return {key: _evaluate(value, values) for key, value in node.items()}
    if isinstance(node, list):
        return [_evaluate(value, values) for value in node]
    if isinstance(node, tuple):
        return tuple(_evaluate(value, values) for value in node)
    return node


def space_eval(space: Any, hp_assignment: dict[str, Any]) -> Any:
    """The space with every expression replaced by its value in ``hp_assignment``
    (``fmin``'s result: choices given by index)."""
    values = {
        label: (value[0] if isinstance(value, (list, tuple)) and len(value) == 1 else value)
        for label, value in hp_assignment.items()
    }
    return _evaluate(space, values)


class Trials:
    """The trials of a search, as hyperopt keeps them: ``trials`` (dicts with ``tid``,
    ``state``, ``result``, ``misc['vals']``...), ``results``, ``losses()``,
    ``statuses()``, ``best_trial`` and ``argmin``. Passing one ``Trials`` to ``fmin``
    again continues its search."""

    def __init__(self, exp_key: Optional[str] = None) -> None:
        self._exp_key = exp_key
        self._dynamic_trials: list[dict[str, Any]] = []
        self._study: Optional[_native.Study] = None
        self._compiled: Optional[_Compiled] = None
        self.attachments: dict[str, Any] = {}

    @property
    def trials(self) -> list[dict[str, Any]]:
        """Every trial, in order."""
        return self._dynamic_trials

    def __len__(self) -> int:
        return len(self._dynamic_trials)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self._dynamic_trials)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self._dynamic_trials[index]

    @property
    def tids(self) -> list[int]:
        """The trials' ids."""
        return [t["tid"] for t in self._dynamic_trials]

    def _by_label(self, field: str) -> dict[str, list[Any]]:
        """``misc[field]``'s lists of every trial, joined per label."""
        out: dict[str, list[Any]] = {}
        for t in self._dynamic_trials:
            for label, items in t["misc"][field].items():
                out.setdefault(label, []).extend(items)
        return out

    @property
    def vals(self) -> dict[str, list[Any]]:
        """Each label's values, over the trials where it was active."""
        return self._by_label("vals")

    @property
    def idxs(self) -> dict[str, list[int]]:
        """Each label's trial ids, where it was active."""
        return self._by_label("idxs")

    @property
    def results(self) -> list[dict[str, Any]]:
        """What the objective returned, per trial (a float as ``{"loss", "status"}``)."""
        return [t["result"] for t in self._dynamic_trials]

    def losses(self, bandit: Any = None) -> list[Optional[float]]:
        """The loss of each trial; ``None`` for those that failed."""
        return [
            r.get("loss") if r.get("status") == STATUS_OK else None for r in self.results
        ]

    def statuses(self, bandit: Any = None) -> list[str]:
        """The status of each trial (``"ok"`` or ``"fail"``)."""
        return [r.get("status") for r in self.results]

    @property
    def best_trial(self) -> dict[str, Any]:
        """The successful trial with the lowest loss (the first on ties). A NaN or infinite
        loss is passed over, as the engine records such a trial failed (hyperopt passes
        over NaN)."""
        ok = [
            t
            for t in self._dynamic_trials
            if t["result"].get("status") == STATUS_OK and t["result"].get("loss") is not None
        ]
        finite = [t for t in ok if math.isfinite(float(t["result"]["loss"]))]
        if not finite:
            raise AllTrialsFailed(
                "no trial succeeded"
                + (f" ({len(ok)} returned a NaN or infinite loss)" if ok else "")
            )
        return min(finite, key=lambda t: float(t["result"]["loss"]))

    @property
    def argmin(self) -> dict[str, Any]:
        """The best trial's values, by label (choices as indices, active labels only)."""
        vals = self.best_trial["misc"]["vals"]
        return {label: value[0] for label, value in vals.items() if value}

    def count_by_state_unsynced(self, arg: int | list[int]) -> int:
        """How many trials are in the state(s) ``arg``."""
        states = {arg} if isinstance(arg, int) else set(arg)
        return sum(1 for t in self._dynamic_trials if t["state"] in states)

    def _record(self, number: int, params: dict[str, Any], result: dict[str, Any],
                state: int, started: Optional[datetime.datetime],
                error: Optional[str]) -> dict[str, Any]:
        assert self._compiled is not None
        labels = self._compiled.labels
        misc: dict[str, Any] = {
            "tid": number,
            "cmd": ("domain_attachment", "FMinIter_Domain"),
            "workdir": None,
            "idxs": {label: ([number] if label in params else []) for label in labels},
            "vals": {label: ([params[label]] if label in params else []) for label in labels},
        }
        if error is not None:
            misc["error"] = error
        trial = {
            "state": state,
            "tid": number,
            "spec": None,
            "result": result,
            "misc": misc,
            "exp_key": self._exp_key,
            "owner": None,
            "version": 0,
            "book_time": started,
            "refresh_time": datetime.datetime.now(datetime.timezone.utc),
        }
        self._dynamic_trials.append(trial)
        return trial


def _sampler(algo: Any) -> tuple[str, Optional[int]]:
    """The engine's sampler for hyperopt's ``algo`` (``tpe.suggest``, ``rand.suggest``,
    or a ``functools.partial`` of one with ``n_startup_jobs``)."""
    from . import tpe

    algo = tpe.suggest if algo is None else algo
    n_startup = None
    if isinstance(algo, functools.partial):
        n_startup = algo.keywords.get("n_startup_jobs")
        algo = algo.func
    name = getattr(algo, "_hyperflow_sampler", None)
    if name is None:
        raise ValueError(
            f"unsupported algo {algo!r}: expected hyperflow's tpe.suggest or rand.suggest"
        )
    return name, (None if name != "tpe" else n_startup)


def _seed(rstate: Any) -> Optional[int]:
    """A seed from hyperopt's ``rstate`` (a numpy ``Generator``, a ``RandomState``, an
    int), else ``HYPEROPT_FMIN_SEED``; ``None`` draws one from the clock."""
    if rstate is None:
        env = os.environ.get("HYPEROPT_FMIN_SEED", "")
        return int(env) if env else None
    if isinstance(rstate, int):
        return rstate
    if hasattr(rstate, "integers"):
        return int(rstate.integers(0, 2**63 - 1))
    if hasattr(rstate, "randint"):
        return int(rstate.randint(0, 2**31 - 1))
    raise TypeError(f"rstate must be a numpy Generator, a RandomState or an int, not {rstate!r}")


def _result(value: Any) -> dict[str, Any]:
    """What an objective returned, as hyperopt's result dict."""
    if isinstance(value, dict):
        result = dict(value)
        status = result.get("status")
        if status not in STATUS_STRINGS:
            raise ValueError(f"the objective's result has status {status!r}: expected one of {STATUS_STRINGS}")
        if status == STATUS_OK:
            if "loss" not in result or result["loss"] is None:
                raise ValueError("a result with status 'ok' needs a 'loss'")
            result["loss"] = float(result["loss"])
        return result
    return {"loss": float(value), "status": STATUS_OK}


def _metrics(result: dict[str, Any]) -> list[tuple[str, float]]:
    """The result's numbers besides its loss, logged as metrics when tracked."""
    out = []
    for key, value in result.items():
        if key in ("loss", "status") or isinstance(value, bool):
            continue
        # numbers.Real: numpy's integers and floats too.
        if isinstance(value, numbers.Real) and math.isfinite(value):
            out.append((str(key), float(value)))
    return out


def fmin(
    fn: Callable[[Any], Any],
    space: Any,
    algo: Any = None,
    max_evals: Optional[int] = None,
    timeout: Optional[float] = None,
    loss_threshold: Optional[float] = None,
    trials: Optional[Trials] = None,
    rstate: Any = None,
    allow_trials_fmin: bool = True,
    pass_expr_memo_ctrl: Any = None,
    catch_eval_exceptions: bool = False,
    verbose: bool = True,
    return_argmin: bool = True,
    points_to_evaluate: Optional[list[dict[str, Any]]] = None,
    max_queue_len: int = 1,
    show_progressbar: bool = True,
    early_stop_fn: Optional[Callable[..., Any]] = None,
    trials_save_file: str = "",
    *,
    experiment: Optional[str] = None,
    tracking_uri: Optional[str] = None,
    study_name: Optional[str] = None,
) -> Any:
    """Minimizes ``fn`` over ``space`` as hyperopt's ``fmin`` does, with hyperflow's
    samplers: runs trials until ``trials`` holds ``max_evals`` of them (or ``timeout``
    seconds pass, a loss reaches ``loss_threshold``, or ``early_stop_fn`` says stop) and
    returns the best point in hyperopt's shape (``{label: value}``, choices as indices;
    ``space_eval(space, best)`` gives the values).

    ``experiment`` logs the search into a tracking store (``tracking_uri``, default
    ``HYPERFLOW_TRACKING_URI``, ``MLFLOW_TRACKING_URI``, else ``sqlite:///hyperflow.db``):
    a parent run and a child run per trial, as the CLI's searches. ``study_name`` names
    the study, so a later ``fmin`` with the same name continues it: given a new
    ``Trials``, it fills it with the stored trials first, so that they count towards
    ``max_evals`` and the best point is the whole search's."""
    if max_evals is None:
        max_evals = 2**63 - 1 if timeout is not None else None
    if max_evals is None:
        raise ValueError("fmin needs max_evals (or a timeout)")
    trials = Trials() if trials is None else trials
    sampler, n_startup = _sampler(algo)
    if trials._study is None:
        if trials._dynamic_trials:
            raise ValueError("these Trials were not filled by hyperflow's fmin: it cannot continue them")
        compiled = _Compiled(space)
        trials._compiled = compiled
        trials._study = _native.Study(
            compiled.space,
            sampler=sampler,
            n_startup=n_startup,
            seed=_seed(rstate),
            experiment=experiment,
            tracking_uri=tracking_uri,
            name=study_name,
            max_evals=max_evals,
        )
        # A study continued by name: its results are the Trials' first ones, so that
        # max_evals counts them and the best is of the whole search.
        for past in trials._study.trials:
            if past["state"] in ("complete", "failed", "pruned"):
                ok = past["state"] == "complete"
                result = {"loss": past["value"], "status": STATUS_OK} if ok else {"status": STATUS_FAIL}
                result.update(past["metrics"])
                trials._record(past["number"], past["params"], result,
                               JOB_STATE_DONE if ok else JOB_STATE_ERROR, None, past["error"])
        for point in points_to_evaluate or []:
            trials._study.enqueue(point)
    elif trials._compiled is not None and (
            _Compiled(space).space.to_json() != trials._compiled.space.to_json()):
        raise ValueError(
            "these Trials hold a search over another space; pass a new Trials() to search this one")
    study = trials._study
    deadline = None if timeout is None else time.monotonic() + timeout
    early_stop_args: list[Any] = []
    # Why the search stopped, as the parent run's `hyperflow.stop_reason` says it.
    stop = "max_evals reached"
    try:
        while len(trials) < max_evals:
            if deadline is not None and time.monotonic() >= deadline:
                stop = "timeout"
                break
            started = datetime.datetime.now(datetime.timezone.utc)
            trial = study.ask()
            params = trial.params
            try:
                result = _result(fn(space_eval(space, params)))
            except Exception as e:
                study.tell(trial, state="failed", reason=f"{type(e).__name__}: {e}")
                trials._record(trial.number, params, {"status": STATUS_FAIL}, JOB_STATE_ERROR,
                               started, f"{type(e).__name__}: {e}")
                if not catch_eval_exceptions:
                    raise
                continue
            if result["status"] == STATUS_OK:
                study.tell(trial, result["loss"], metrics=_metrics(result))
            else:
                study.tell(trial, state="failed", reason=str(result.get("failure", "status 'fail'")))
            trials._record(trial.number, params, result, JOB_STATE_DONE, started, None)
            if (loss_threshold is not None and result["status"] == STATUS_OK
                    and result["loss"] <= loss_threshold):
                stop = "loss threshold reached"
                break
            if early_stop_fn is not None:
                stopping, early_stop_args = early_stop_fn(trials, *early_stop_args)
                if stopping:
                    stop = "no improvement"
                    break
    except BaseException:
        # An objective's exception, or Ctrl-C (KeyboardInterrupt) during a trial: the
        # trial it interrupted is marked killed, not left running.
        stop = "cancelled"
        raise
    finally:
        study.finish(stop)
    if not return_argmin:
        return trials
    return trials.argmin
