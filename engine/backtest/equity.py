"""A backtest's equity curve: the account after each fill, valued at every bar's close.

The account only changes when a fill lands, so instead of valuing it on each of
a million bars in Python, ``EquityTracker`` notes cash and the position after
each fill, with the timeline row the fill happened in, and ``curve`` values all
bars at once in numpy. The arithmetic per point is the one a per-bar loop
would do, in the same order (cash, then each symbol's ``qty * close * size``,
less the cost for margined contracts), so the figures are the same to the bit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from engine.models import AssetClass, Fill, FundingPayment, Position, PositionEvent
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
        # A tick-driven run has no per-bar loop to set ``row``: the row of the moment.
        self.row_at: Callable[[], int] | None = None
        self.opening_cash = float(engine.ledger.cash(broker))
        self.symbols = {s: k for k, s in enumerate(symbols)}
        self.margin = [engine.instruments.get(s).asset_class is AssetClass.CRYPTO_PERP
                       for s in symbols]
        self.size = [float(engine.instruments.get(s).contract_size) for s in symbols]
        # Per fill, as the OMS published it: (row, symbol's index, quantity and cost basis
        # after it, the account's cash after it). Converted to floats once, at the end.
        self.changes: list[tuple[int, int, Decimal, Decimal, Decimal]] = []
        self.funding: list[FundingPayment] = []  # settled on the account's perpetuals
        engine.bus.subscribe(PositionEvent, self.on_position)
        # Funding moves cash without a fill (the engine books it before this hears of it).
        engine.bus.subscribe(FundingPayment, self.on_funding)

    def on_position(self, event: PositionEvent) -> None:
        # Published by the OMS right after each fill is booked, with the position after it.
        if event.position.broker == self.broker:
            self._note(event.position)

    def on_funding(self, event: FundingPayment) -> None:
        if event.broker == self.broker and event.symbol in self.symbols:
            self.funding.append(event)
            self._note(self.ledger.position(self.broker, event.symbol))

    def _note(self, pos: Position) -> None:
        k = self.symbols.get(pos.symbol)
        if k is not None:
            row = self.row if self.row_at is None else self.row_at()
            self.changes.append((row, k, pos.quantity, pos.cost_basis,
                                 self.ledger.cash(self.broker)))

    def _states(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(rows, cash, qty[state, symbol], cost[state, symbol]): the account after each row
        that had fills (the last fill of the row), with the opening state first."""
        n = len(self.symbols)
        rows, cash = [-1], [self.opening_cash]
        qty, cost = [[0.0] * n], [[0.0] * n]
        for row, k, q, c, money in self.changes:
            if rows[-1] != row:
                rows.append(row)
                cash.append(0.0)
                qty.append(list(qty[-1]))
                cost.append(list(cost[-1]))
            cash[-1] = float(money)
            qty[-1][k] = float(q)
            cost[-1][k] = float(c)
        return (np.array(rows, dtype=np.int64), np.array(cash), np.array(qty).reshape(-1, n),
                np.array(cost).reshape(-1, n))

    def curve(self, ts_ns: np.ndarray, which: np.ndarray, close: np.ndarray,
              bar_ns: int, first_close: list[float]) -> EquityCurve:
        """Value the account at every distinct bar close.

        ``ts_ns``/``which``/``close``: the timeline (open time, symbol's index, close);
        ``first_close``: each symbol's first close, its value before its first bar.
        The point at a close time E sees the fills of every bar that opened before E
        (closes come before opens at the same instant) and each symbol's last close at
        or before E.
        """
        ends = ts_ns + bar_ns  # sorted, as the timeline is: distinct values without a sort
        ends = ends[np.r_[True, ends[1:] != ends[:-1]]]
        opened = np.searchsorted(ts_ns, ends, side="left") - 1  # last row opened before E
        rows, cash, qty, cost = self._states()
        state = np.searchsorted(rows, opened, side="right") - 1
        value = cash[state]
        exposed = np.zeros(len(ends), dtype=bool)
        for k in range(len(self.symbols)):
            held_qty, held_cost = qty[state, k], cost[state, k]
            mine = np.flatnonzero(which == k)
            seen = np.searchsorted(ts_ns[mine] + bar_ns, ends, side="right") - 1
            # Every symbol has bars (a run refuses one without): ``mine`` is never empty.
            price = np.where(seen >= 0, close[mine[np.maximum(seen, 0)]], first_close[k])
            worth = held_qty * price * self.size[k]
            if self.margin[k]:
                worth = worth - held_cost
            held = held_qty != 0
            value = np.where(held, value + worth, value)
            exposed |= held
        return EquityCurve(ends, value, exposed)


def fill_totals(fills: list[Fill], contract_size: dict[str, float]) -> tuple[float, float]:
    """(notional traded, fees paid) over ``fills``, summed in fill order."""
    traded = fees = 0.0
    for f in fills:
        traded += float(f.price * f.quantity) * contract_size.get(f.symbol, 1.0)
        fees += float(f.fee)
    return traded, fees
