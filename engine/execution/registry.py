"""Brokers by name, so the engine never imports an adapter.

Adapters register a factory under a name, either in code (``register_broker``)
or, for installed adapters, through the ``trading_terminal.brokers`` entry-point
group in pyproject.toml, which is loaded on first lookup::

    [project.entry-points."trading_terminal.brokers"]
    paper = "brokers.paper:create_broker"

A factory is called as ``factory(name=..., bus=..., clock=..., **settings)`` and
returns a ``Broker``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

from engine.errors import UserError
from engine.execution.broker import Broker

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "trading_terminal.brokers"
BrokerFactory = Callable[..., Broker]

_factories: dict[str, BrokerFactory] = {}
_entry_points_loaded = False
_load_lock = threading.Lock()


def register_broker(kind: str, factory: BrokerFactory) -> None:
    _factories[kind] = factory


def _load_entry_points() -> None:
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    # Backtests run in threads too (Dask workers, the GUI's worker): a second thread
    # must wait for the first load to finish, not see a half-filled registry.
    with _load_lock:
        if _entry_points_loaded:
            return
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            if ep.name in _factories:
                continue
            try:
                _factories[ep.name] = ep.load()
            except Exception as exc:  # an optional adapter may lack its extra (e.g. kiwoom)
                log.warning("broker adapter %r could not be loaded: %s", ep.name, exc)
        _entry_points_loaded = True


def broker_kinds() -> list[str]:
    _load_entry_points()
    return sorted(_factories)


def create_broker(kind: str, **kwargs: Any) -> Broker:
    """Build a broker of ``kind`` (e.g. ``"paper"``, ``"ccxt"``, ``"kiwoom"``)."""
    _load_entry_points()
    factory = _factories.get(kind)
    if factory is None:
        known = ", ".join(sorted(_factories)) or "none installed"
        raise UserError(f"unknown broker kind {kind!r}; known kinds: {known}")
    return factory(**kwargs)
