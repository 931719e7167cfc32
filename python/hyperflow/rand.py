"""``rand.suggest``: independent draws from each parameter's prior, for
``fmin(..., algo=rand.suggest)``."""

from typing import Any


def suggest(*args: Any, **kwargs: Any) -> Any:
    """A marker naming the sampler for ``fmin``; it is not called."""
    raise TypeError("rand.suggest is passed to fmin(algo=...), not called")


suggest._hyperflow_sampler = "random"  # type: ignore[attr-defined]
