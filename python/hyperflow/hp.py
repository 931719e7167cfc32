"""hyperopt's ``hp`` module: the expressions a search space is written with.

A space is any nesting of dicts, lists and tuples holding these expressions and plain
values. ``hp.choice`` options may hold further expressions: they are conditional, drawn
only when their option is chosen. Labels are unique in a space.

Bounds are hyperopt's: ``loguniform``'s and ``qloguniform``'s are in log space
(``hp.loguniform("lr", math.log(1e-5), math.log(1e-1))``), ``randint``'s upper bound is
exclusive.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

__all__ = [
    "Expr",
    "Param",
    "Choice",
    "choice",
    "uniform",
    "loguniform",
    "quniform",
    "qloguniform",
    "normal",
    "lognormal",
    "randint",
    "uniformint",
]


class Expr:
    """An expression of a hyperopt-style space."""


class Param(Expr):
    """A labelled hyperparameter; ``spec`` is its entry in hyperflow's space schema."""

    __slots__ = ("label", "spec")

    def __init__(self, label: str, spec: dict[str, Any]) -> None:
        if not isinstance(label, str):
            raise TypeError(f"a label must be a str, not {type(label).__name__}")
        self.label = label
        self.spec = spec

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in self.spec.items() if k != "kind")
        return f"hp.{self.spec['kind']}({self.label!r}, {fields})"


class Choice(Param):
    """``hp.choice``: one of ``options``, each any nesting of values and expressions."""

    __slots__ = ("options",)

    def __init__(self, label: str, options: Sequence[Any]) -> None:
        options = list(options)
        if not options:
            raise ValueError(f"hp.choice({label!r}): needs at least one option")
        super().__init__(label, {"kind": "choice"})
        self.options = options

    def __repr__(self) -> str:
        return f"hp.choice({self.label!r}, {self.options!r})"


class Apply(Expr):
    """A function applied to the value of an expression (``scope.int(hp.quniform(...))``)."""

    __slots__ = ("fn", "arg")

    def __init__(self, fn: Any, arg: Any) -> None:
        self.fn = fn
        self.arg = arg

    def __repr__(self) -> str:
        return f"{getattr(self.fn, '__name__', self.fn)}({self.arg!r})"


def choice(label: str, options: Sequence[Any]) -> Choice:
    """One of ``options``; the search result holds its index."""
    return Choice(label, options)


def uniform(label: str, low: float, high: float) -> Param:
    """A real uniform on ``[low, high]``."""
    return Param(label, {"kind": "uniform", "low": float(low), "high": float(high)})


def _exp_bounds(label: str, low: float, high: float) -> tuple[float, float]:
    """``exp(low)``, ``exp(high)`` of log-space bounds, or a ``ValueError`` naming the label
    where one overflows (bounds written in value space, ``0, 1000`` for ``1..1000``)."""
    try:
        return math.exp(low), math.exp(high)
    except OverflowError:
        raise ValueError(
            f"{label}: bounds ({low}, {high}) are in log space, as in hyperopt, and exp({high}) "
            f"overflows; for values from a to b write math.log(a), math.log(b)") from None


def loguniform(label: str, low: float, high: float) -> Param:
    """``exp(uniform(low, high))``: ``low`` and ``high`` are in log space."""
    low, high = _exp_bounds(label, low, high)
    return Param(label, {"kind": "loguniform", "low": low, "high": high})


def quniform(label: str, low: float, high: float, q: float) -> Param:
    """``round(uniform(low, high) / q) * q``."""
    return Param(label, {"kind": "quniform", "low": float(low), "high": float(high), "q": float(q)})


def qloguniform(label: str, low: float, high: float, q: float) -> Param:
    """``round(exp(uniform(low, high)) / q) * q``: ``low`` and ``high`` in log space."""
    low, high = _exp_bounds(label, low, high)
    return Param(label, {"kind": "qloguniform", "low": low, "high": high, "q": float(q)})


def normal(label: str, mu: float, sigma: float) -> Param:
    """A real from ``N(mu, sigma)``."""
    return Param(label, {"kind": "normal", "mu": float(mu), "sigma": float(sigma)})


def lognormal(label: str, mu: float, sigma: float) -> Param:
    """``exp(N(mu, sigma))``: ``mu`` and ``sigma`` in log space."""
    return Param(label, {"kind": "lognormal", "mu": float(mu), "sigma": float(sigma)})


def randint(label: str, *bounds: int) -> Param:
    """An integer: ``randint(label, upper)`` in ``[0, upper)``, ``randint(label, low,
    high)`` in ``[low, high)`` (the upper bound is exclusive, as in hyperopt and numpy)."""
    if len(bounds) == 1:
        low, high = 0, bounds[0]
    elif len(bounds) == 2:
        low, high = bounds
    else:
        raise TypeError(f"hp.randint({label!r}, ...) takes an upper bound, or low and high")
    return Param(label, {"kind": "randint", "low": int(low), "high": int(high)})


def uniformint(label: str, low: int, high: int, q: float = 1.0) -> Param:
    """An integer in ``[low, high]``, both included (hyperopt's ``uniformint``)."""
    if q != 1:
        raise ValueError(f"hp.uniformint({label!r}, ...): only q = 1 is supported")
    return Param(label, {"kind": "randint", "low": int(low), "high": int(high) + 1})
