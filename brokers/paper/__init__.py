"""The paper venue: the terminal's default broker, a simulated exchange.

Registered as the ``paper`` broker kind (entry point ``trading_terminal.brokers``)::

    from engine.execution import create_broker
    venue = create_broker("paper", name="paper", bus=bus, clock=clock,
                          instruments=[krx_stock("005930")], initial_cash=10_000_000)

Settings are those of ``PaperConfig.from_settings`` (``initial_cash``,
``currency``, ``latency_ms``, ``slippage_bps``, ``fill_on_touch``,
``bar_fill_on_touch``, ``bar_participation``, ``bus_market_data``,
``bar_timeframe``). Matching rules: ``brokers.paper.matching``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from brokers.paper.account import VenueAccount
from brokers.paper.config import PaperConfig
from brokers.paper.matching import MatchingEngine, WorkingOrder
from brokers.paper.venue import BarSource, PaperBroker
from engine.bus import EventBus
from engine.clock import Clock
from engine.models import Instrument


def create_broker(*, name: str = "paper", bus: EventBus, clock: Clock,
                  instruments: Iterable[Instrument] = (), bar_source: BarSource | None = None,
                  config: PaperConfig | None = None, settings: Mapping[str, Any] | None = None,
                  **more_settings: Any) -> PaperBroker:
    """Build a paper venue.

    Settings come as a ``settings`` mapping (a TOML table), as keyword arguments,
    or both (keywords win); they are validated and a bad one raises a
    ``ConfigError`` naming it. ``config`` passes a ready ``PaperConfig`` instead.
    """
    merged = {**(settings or {}), **more_settings}
    if config is None:
        config = PaperConfig.from_settings(merged, where=f"[brokers.{name}]")
    elif merged:
        raise TypeError("pass either config= or settings, not both")
    return PaperBroker(name, bus, clock, config=config, instruments=instruments,
                       bar_source=bar_source)


__all__ = [
    "BarSource",
    "MatchingEngine",
    "PaperBroker",
    "PaperConfig",
    "VenueAccount",
    "WorkingOrder",
    "create_broker",
]
