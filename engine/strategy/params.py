"""Declared strategy parameters: type, default, range, help.

The declarations drive three things: validation of user input (CLI
``--param fast=12``, the GUI form, settings), the GUI's generated form, and the
optimiser's search space. Declare them as class attributes::

    class SmaCross(Strategy):
        fast = Param(int, 10, low=2, high=200, help="fast SMA period")
        slow = Param(int, 30, low=5, high=500, help="slow SMA period")

and read them as ``self.fast`` inside the strategy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from engine.errors import UserError


class ParamError(UserError):
    """An unknown parameter or a value of the wrong type or outside its range."""


_BOOL_WORDS = {"true": True, "yes": True, "1": True, "on": True,
               "false": False, "no": False, "0": False, "off": False}


@dataclass(frozen=True, slots=True)
class Param:
    kind: type
    default: Any
    low: float | None = None
    high: float | None = None
    choices: Sequence[Any] | None = None
    help: str = ""
    step: float | None = None  # grid step for the optimiser (default: 1 for int)
    name: str = ""  # filled in by the owning class

    def __set_name__(self, owner: type, name: str) -> None:
        object.__setattr__(self, "name", name)

    def __get__(self, instance: object, owner: type | None = None) -> Any:
        if instance is None:
            return self
        return instance.__dict__.get("_params", {}).get(self.name, self.default)

    def parse(self, value: Any, *, owner: str = "") -> Any:
        """Coerce ``value`` (possibly a string from the command line) and check it."""
        where = f"parameter {self.name!r}" + (f" of strategy {owner!r}" if owner else "")
        try:
            if self.kind is bool:
                if isinstance(value, str):
                    if value.strip().lower() not in _BOOL_WORDS:
                        raise ValueError(value)
                    coerced: Any = _BOOL_WORDS[value.strip().lower()]
                else:
                    coerced = bool(value)
            elif self.kind is int:
                as_float = float(value)
                if as_float != int(as_float):
                    raise ValueError(value)
                coerced = int(as_float)
            else:
                coerced = self.kind(value)
        except (TypeError, ValueError):
            raise ParamError(f"{where} must be {self.kind.__name__}, got {value!r}") from None
        if isinstance(coerced, float) and coerced != coerced:
            raise ParamError(f"{where} must be a number, got NaN")
        if self.choices is not None and coerced not in self.choices:
            raise ParamError(f"{where} must be one of {list(self.choices)}, got {coerced!r}")
        if self.low is not None and coerced < self.low or self.high is not None and coerced > self.high:
            raise ParamError(f"{where} = {coerced!r} is outside its range "
                             f"[{self.low}, {self.high}]")
        return coerced

    def grid(self, points: int = 5) -> list[Any]:
        """Evenly spread values over the declared range (for grid search)."""
        if self.choices is not None:
            return list(self.choices)
        if self.kind is bool:
            return [False, True]
        if self.low is None or self.high is None:
            return [self.default]
        if self.kind is int:
            step = int(self.step or max(1, (self.high - self.low) // max(points - 1, 1)))
            return list(range(int(self.low), int(self.high) + 1, step))
        if points <= 1:
            return [self.default]
        span = (self.high - self.low) / (points - 1)
        return [self.low + i * span for i in range(points)]

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.kind.__name__,
            "default": self.default,
            "low": self.low,
            "high": self.high,
            "choices": None if self.choices is None else list(self.choices),
            "help": self.help,
        }
