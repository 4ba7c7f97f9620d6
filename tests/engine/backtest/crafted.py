"""A strategy and bars whose best parameters are known in advance (for the optimiser tests).

``EnterAt`` buys on bar ``entry`` and sells on bar ``exit``; orders fill at the
next bar's open. ``v_then_peak`` falls to its low at bar ``LOW`` and rises to its
high at bar ``HIGH``, so the best total return comes from signalling on
``LOW - 1`` and ``HIGH - 1``. Importable as ``STRATEGY`` by worker processes and
Dask workers (a ``module:Class`` name, not the registry of the test process).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.models import Bar
from engine.strategy import Param, Strategy

STRATEGY = "tests.engine.backtest.crafted:EnterAt"
SYMBOL = "BTC/USDT"
LOW, HIGH, BARS = 10, 30, 60


class EnterAt(Strategy):
    """Long from bar ``entry`` to bar ``exit`` (signals; fills on the next bar)."""

    name = "test_enter_at"
    entry = Param(int, 0, low=0, high=100)
    exit = Param(int, 1, low=1, high=200)
    forbidden_entry = Param(int, -1, low=-1, high=100, help="an entry the constructor refuses")
    fraction = Param(float, 0.5, low=0.0, high=1.0)
    constraints = ("entry < exit",)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.entry == self.forbidden_entry:  # an invalid combination, refused up front
            raise ValueError(f"entry {self.entry} is forbidden")

    def on_start(self) -> None:
        self.n = -1

    def on_bar(self, bar: Bar) -> None:
        self.n += 1
        if self.n == self.entry:
            self.buy(self.size_by_fraction(bar.close, self.fraction))
        elif self.n == self.exit:
            self.close()


def v_then_peak(bars: int = BARS, start: str = "2024-01-01") -> pd.DataFrame:
    """Daily bars (open = high = low = close) falling to LOW, rising to HIGH, then falling."""
    i = np.arange(bars, dtype=float)
    price = np.where(i <= LOW, 100 - 2 * i,
                     np.where(i <= HIGH, 80 + 3 * (i - LOW), 140 - 1.5 * (i - HIGH)))
    index = pd.date_range(start, periods=bars, freq="1D", tz="UTC", name="time")
    return pd.DataFrame({"open": price, "high": price, "low": price, "close": price,
                         "volume": 1_000.0}, index=index)
