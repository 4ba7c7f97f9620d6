"""What every panel gets: the engine, its bridge to Qt, and the app's services.

Panels read engine state and call the engine's public API (submit, cancel,
kill, run a backtest); they never import a broker. ``AppContext`` is built by
the terminal (``terminal/app.py``) and handed to each panel's constructor.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from engine.strategy.runner import StrategyRunner
from engine.trading import TradingEngine
from widgets.bridge import EngineBridge


@dataclass
class AppContext:
    engine: TradingEngine
    bridge: EngineBridge
    runner: StrategyRunner
    settings: Any = None  # engine.settings.Settings
    database: Any = None  # engine.storage.Database
    monitor: Any = None  # engine.risk.portfolio.PortfolioRiskMonitor
    replay: Any = None  # engine.data.replay.ReplayFeed (paper mode)
    symbols: list[str] = field(default_factory=list)
    # (symbol, timeframe) -> OHLCV frame from storage, resampled; set by the terminal.
    bar_loader: Callable[[str, str], pd.DataFrame] | None = None
    # Human labels for the status bar / chart title, e.g. {"AAPL": "synthetic intraday"}.
    data_labels: dict[str, str] = field(default_factory=dict)

    def load_bars(self, symbol: str, timeframe: str) -> pd.DataFrame:
        if self.bar_loader is None:
            return pd.DataFrame(columns=["open", "high", "low", "close", "volume"])
        return self.bar_loader(symbol, timeframe)

    @property
    def live(self) -> bool:
        """True if any connected broker trades real money."""
        return any(b.live for b in self.engine.brokers.values())
