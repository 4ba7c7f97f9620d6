"""Funding rates in a backtest: settled by the paper venue and published at their times.

A perpetual's funding is cash between longs and shorts at fixed times (every 8 h
on Binance). Given each perpetual's rate history, the backtest settles it at
those times like the live venue does (the paper venue moves its own cash and
reports a ``FundingPayment``, which the engine books once) and publishes a
``FundingRate`` for strategies (``funding_arbitrage`` trades on it). Bars that
close at a funding time are published before it, so an order sent on that close
fills after the settlement and does not pay it.

Example::

    rates = {"BTC/USDT:USDT": pd.Series([0.0001, 0.0003], index=pd.to_datetime(
        ["2024-01-01 00:00", "2024-01-01 08:00"], utc=True))}
    run_backtest(config, frames, funding=rates)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import pandas as pd

from engine.bus import EventBus
from engine.errors import UserError
from engine.models import FundingRate, Instrument


def funding_events(funding: Mapping[str, pd.Series] | None,
                   instruments: Mapping[str, Instrument]) -> list[tuple[int, str, float]]:
    """(time ns, perpetual, rate) of every funding settlement, in time order; checked."""
    events: list[tuple[int, str, float]] = []
    for symbol, rates in (funding or {}).items():
        inst = instruments.get(symbol)
        if inst is None:
            raise UserError(f"funding rates given for {symbol}, which is not in the run "
                            f"(symbols: {', '.join(instruments)})")
        if not inst.asset_class.is_derivative:
            raise UserError(f"funding rates given for {symbol}, which is not a perpetual")
        if not isinstance(rates.index, pd.DatetimeIndex):
            raise UserError(f"funding rates of {symbol}: the index must be the settlement "
                            "times (a DatetimeIndex)")
        index = rates.index if rates.index.tz is not None else rates.index.tz_localize("UTC")
        for ts, rate in zip(index.as_unit("ns").asi8.tolist(), rates.tolist(), strict=True):
            if not isinstance(rate, float | int) or not math.isfinite(rate):
                raise UserError(f"funding rate of {symbol} at {pd.Timestamp(ts, tz='UTC')} is "
                                f"{rate!r}; expected a finite fraction such as 0.0001")
            events.append((ts, symbol, float(rate)))
    events.sort()
    return events


class FundingReplay:
    """Settles and publishes the funding events due by each bar's open."""

    def __init__(self, events: list[tuple[int, str, float]], bus: EventBus,
                 settle: Callable[[str, float, int], object]) -> None:
        self.events = events
        self.bus = bus
        self.settle = settle  # the paper venue's settle_funding
        self.i = 0
        self.next_ns = events[0][0] if events else 2**63 - 1
        # Per event, the same perpetual's next settlement (0: none known).
        self.next_of = [0] * len(events)
        later: dict[str, int] = {}
        for j in range(len(events) - 1, -1, -1):
            ts, symbol, _ = events[j]
            self.next_of[j] = later.get(symbol, 0)
            later[symbol] = ts

    def until(self, t: int, now: int, close_through: Callable[[int, int], int],
              advance: Callable[[int], None]) -> int:
        """Settle every event at or before ``t``, after the bars that close by then
        (``close_through(limit, now)`` publishes them); returns the clock's time."""
        events = self.events
        while self.i < len(events) and events[self.i][0] <= t:
            ts, symbol, rate = events[self.i]
            now = close_through(ts, now)
            if ts > now:
                advance(ts)
                now = ts
            self.settle(symbol, rate, ts)
            self.bus.publish(FundingRate(symbol, rate, ts, self.next_of[self.i]))
            self.i += 1
        self.next_ns = events[self.i][0] if self.i < len(events) else 2**63 - 1
        return now
