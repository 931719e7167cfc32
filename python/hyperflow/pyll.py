"""The part of hyperopt's ``pyll`` that spaces use: ``scope.int`` and ``scope.float``
around an expression, applied to its value when the space is evaluated."""

from __future__ import annotations

from typing import Any

from .hp import Apply

__all__ = ["scope"]


class _Scope:
    """``scope.int(expr)``, ``scope.float(expr)``."""

    @staticmethod
    def int(expr: Any) -> Apply:
        """The expression's value, as an ``int``."""
        return Apply(int, expr)

    @staticmethod
    def float(expr: Any) -> Apply:
        """The expression's value, as a ``float``."""
        return Apply(float, expr)


scope = _Scope()
