"""A backtest's equity curve: the account after each fill, valued at every bar's close.

The account only changes when a fill lands, so instead of valuing it on each of
a million bars in Python, ``EquityTracker`` notes cash and positions (as floats)
at each fill, with the timeline row the fill happened in, and ``curve`` values
all bars at once in numpy. The arithmetic per point is the one a per-bar loop
would do, in the same order (cash, then each symbol's ``qty * close * size``,
less the cost for margined contracts), so the figures are the same to the bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.models import AssetClass, FillEvent, PositionEvent
from engine.trading import TradingEngine


@dataclass(frozen=True)
class EquityCurve:
    ts_ns: np.ndarray  # int64: each point's time (the close of the bars valued there)
    value: np.ndarray  # float64
    exposed: np.ndarray  # bool: any position held at that point


class EquityTracker:
    """Cash and positions after each fill of ``broker``'s account, by timeline row.

    The backtest loop sets ``row`` to the timeline row it is processing before the
    venue or the strategies can trade on it.
    """

    def __init__(self, engine: TradingEngine, broker: str, symbols: list[str]) -> None:
        self.ledger = engine.ledger
        self.broker = broker
        self.row = -1
        self.cash = float(engine.ledger.cash(broker))
        self.qty = dict.fromkeys(symbols, 0.0)
        self.cost = dict.fromkeys(symbols, 0.0)
        self.margin = [engine.instruments.get(s).asset_class is AssetClass.CRYPTO_PERP
                       for s in symbols]
        self.size = {s: float(engine.instruments.get(s).contract_size) for s in symbols}
        self.traded = 0.0
        self.fees = 0.0
        self.opening_cash = self.cash
        # One entry per row that had fills: the state after that row's last fill.
        self.rows: list[int] = []
        self.states: list[tuple[float, tuple[float, ...], tuple[float, ...]]] = []
        engine.bus.subscribe(FillEvent, self.on_fill)
        engine.bus.subscribe(PositionEvent, self.on_position)

    def on_fill(self, event: FillEvent) -> None:
        f = event.fill
        self.cash = float(self.ledger.cash(self.broker))
        self.traded += float(f.price * f.quantity) * self.size.get(f.symbol, 1.0)
        self.fees += float(f.fee)

    def on_position(self, event: PositionEvent) -> None:
        # Published by the OMS right after the fill's FillEvent, with the position after it.
        pos = event.position
        if pos.broker != self.broker or pos.symbol not in self.qty:
            return
        self.qty[pos.symbol] = float(pos.quantity)
        self.cost[pos.symbol] = float(pos.cost_basis)
        state = (self.cash, tuple(self.qty.values()), tuple(self.cost.values()))
        if self.rows and self.rows[-1] == self.row:
            self.states[-1] = state
        else:
            self.rows.append(self.row)
            self.states.append(state)

    def curve(self, ts_ns: np.ndarray, which: np.ndarray, close: np.ndarray,
              bar_ns: int, first_close: list[float]) -> EquityCurve:
        """Value the account at every bar's close (one point per distinct close time).

        ``ts_ns``/``which``/``close``: the timeline (open time, symbol's index, close);
        ``first_close``: each symbol's first close, its value before its first bar.
        """
        ends = ts_ns + bar_ns
        last = np.r_[ends[1:] != ends[:-1], True]  # several symbols closing together: one point
        points = np.flatnonzero(last)
        state = np.searchsorted(np.asarray(self.rows, dtype=np.int64), points, side="right") - 1
        cash = np.array([self.opening_cash] + [s[0] for s in self.states])[state + 1]
        value = cash.copy()
        exposed = np.zeros(len(points), dtype=bool)
        for k, symbol in enumerate(self.qty):
            qty = np.array([0.0] + [s[1][k] for s in self.states])[state + 1]
            cost = np.array([0.0] + [s[2][k] for s in self.states])[state + 1]
            mine = np.flatnonzero(which == k)
            seen = np.searchsorted(mine, points, side="right") - 1
            price = np.where(seen >= 0, close[mine[np.maximum(seen, 0)]], first_close[k]) \
                if len(mine) else np.full(len(points), first_close[k])
            worth = qty * price * self.size[symbol]
            if self.margin[k]:
                worth = worth - cost
            held = qty != 0
            value = np.where(held, value + worth, value)
            exposed |= held
        return EquityCurve(ends[points], value, exposed)
