"""Driving a backtest with trades (ticks) instead of bars alone.

When a run is given trades for a symbol, they are replayed as a live feed
publishes them (``ReplayFeed``, at full speed, on the simulated clock): every
trade reaches the paper venue, which then matches that symbol in tick mode (a
market order trades at the last price when it arrives, a resting limit fills
only when a trade prints through it), the market state, the risk monitor and
the strategies' ``on_tick``. The bars the trades make (built beforehand by the
engine's own aggregator, ``bars_of_trades``) close on the bus at their end as
in live trading, for ``on_bar`` and the equity curve. Symbols without trades
in the same run keep bar-mode matching on their stored bars. Funding
settlements happen at their time, between the trades around them.

No order book is invented around the trades: the venue has only the prints.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from engine.backtest.equity import EquityTracker
from engine.backtest.funding import FundingReplay
from engine.bus import EventBus
from engine.clock import SimulatedClock
from engine.data.replay import ReplayFeed
from engine.data.trades_io import trades_of_bars
from engine.errors import UserError
from engine.models import Instrument, Timeframe


def ticks_in_range(ticks: Mapping[str, pd.DataFrame] | None,
                   frames: Mapping[str, pd.DataFrame], tf_ns: int) -> dict[str, pd.DataFrame]:
    """Each symbol's trades from its first bar's open to its last bar's end (the run's
    range); ``UserError`` for trades of a symbol the run does not trade."""
    out = {}
    for symbol, trades in (ticks or {}).items():
        if symbol not in frames:
            raise UserError(f"trades given for {symbol}, which the run does not trade "
                            f"(its symbols: {', '.join(frames)})")
        out[symbol] = trades_of_bars(trades, frames[symbol], tf_ns)
    return out


def replay_ticks(*, bus: EventBus, clock: SimulatedClock, frames: Mapping[str, pd.DataFrame],
                 ticks: Mapping[str, pd.DataFrame], instruments: Mapping[str, Instrument],
                 timeframe: Timeframe, timeline_ns: np.ndarray, equity: EquityTracker,
                 funding: FundingReplay, every: int,
                 between: Callable[[int], None]) -> None:
    """Publish every trade and bar close in time order, with funding settled between.

    ``timeline_ns``: the open time of every bar of the run, sorted; each fill is
    booked against the last bar opened by its time. ``between(bars_done)`` runs
    every ``every`` bars (progress, cancellation: it may raise to stop the run).
    """
    feed = ReplayFeed(bus, clock, frames, instruments, speed="max", ticks=ticks,
                      timeframe=timeframe.name, books=False, bar_updates=False)
    opens = timeline_ns.tolist()
    equity.row_at = lambda: bisect_right(opens, clock.now_ns()) - 1

    def through(limit: int, now: int) -> int:
        feed.run_until(limit)
        return clock.now_ns()

    for lo in range(every, len(opens), every):
        between(lo)
        until = opens[lo] - 1  # everything before bar ``lo`` opens
        funding.until(until, clock.now_ns(), through, clock.advance_to)
        feed.run_until(until)
    end = opens[-1] + timeframe.ns  # settlements up to the last close, then the rest
    funding.until(end, clock.now_ns(), through, clock.advance_to)
    feed.run_until(None)
