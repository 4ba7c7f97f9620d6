"""Strategies by name, for the CLI (``--strategy NAME``), the GUI and the optimiser.

Built-in strategies register themselves when ``engine.strategies`` is
imported; a user's own strategy registers with ``register_strategy`` (or by
being importable as ``module:Class`` on the command line).
"""

from __future__ import annotations

import importlib

from engine.strategy.base import Strategy
from engine.strategy.params import ParamError

_registry: dict[str, type[Strategy]] = {}


def register_strategy(cls: type[Strategy]) -> type[Strategy]:
    """Class decorator: make ``cls`` available by its ``name``."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} needs a class attribute 'name' to be registered")
    _registry[cls.name] = cls
    return cls


def _load_builtins() -> None:
    try:
        importlib.import_module("engine.strategies")
    except ModuleNotFoundError as exc:
        if exc.name != "engine.strategies":
            raise


def strategy_names() -> list[str]:
    _load_builtins()
    return sorted(_registry)


def get_strategy(name: str) -> type[Strategy]:
    """A registered strategy class, or ``package.module:Class`` for a user's own."""
    _load_builtins()
    if name in _registry:
        return _registry[name]
    if ":" in name:
        module_name, _, attr = name.partition(":")
        try:
            cls = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise ParamError(f"cannot load strategy {name!r}: {exc}") from None
        if isinstance(cls, type) and issubclass(cls, Strategy):
            return cls
        raise ParamError(f"{name!r} is not a Strategy subclass")
    known = ", ".join(sorted(_registry)) or "none"
    raise ParamError(f"unknown strategy {name!r}; built-in strategies: {known}")
