"""``tpe.suggest``: hyperflow's TPE sampler, for ``fmin(..., algo=tpe.suggest)``.

``functools.partial(tpe.suggest, n_startup_jobs=N)`` sets the number of random trials
it starts with."""

from typing import Any


def suggest(*args: Any, **kwargs: Any) -> Any:
    """A marker naming the sampler for ``fmin``; it is not called."""
    raise TypeError("tpe.suggest is passed to fmin(algo=...), not called")


suggest._hyperflow_sampler = "tpe"  # type: ignore[attr-defined]
