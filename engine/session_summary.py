"""What a trading session did, as the JSON both ``paper`` modes print.

``FillCounter`` counts the fills a session saw; ``trading_summary`` reads the rest
from the engine itself (orders from the OMS, rejections by reason from
``TradingEngine.rejections``, accounts and positions from the ledger).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pandas as pd

from engine.models import OrderStatus
from engine.models.events import FillEvent
from engine.settings import strategy_params
from engine.settings.model import Settings
from engine.strategy.runner import StrategyRunner
from engine.trading import TradingEngine

ACCOUNT_FIELDS = ("currency", "cash", "equity", "realized_pnl", "unrealized_pnl", "fees")


class FillCounter:
    """Fills published on the engine's bus since the session was built, and the orders
    that were already in the OMS then (restored from the journal of earlier runs)."""

    def __init__(self, engine: TradingEngine) -> None:
        self.fills = 0
        self.orders_before = frozenset(o.client_order_id for o in engine.oms.orders())
        engine.bus.subscribe(FillEvent, self._count)

    def _count(self, _event: FillEvent) -> None:
        self.fills += 1


def trading_summary(engine: TradingEngine, runner: StrategyRunner,
                    counter: FillCounter) -> dict[str, Any]:
    """Strategies; this session's orders by state, fills, rejections by reason (pre-trade
    risk, and the venue's); what was restored from earlier runs; accounts; positions."""
    orders = [o for o in engine.oms.orders() if o.client_order_id not in counter.orders_before]
    refused = Counter(reason_kind(o.reason) for o in orders if o.status is OrderStatus.REJECTED)
    accounts = {}
    for broker in engine.ledger.brokers():
        acct = engine.ledger.account(broker)
        accounts[broker] = {k: str(getattr(acct, k)) for k in ACCOUNT_FIELDS}
    positions = [{"broker": p.broker, "symbol": p.symbol, "quantity": str(p.quantity),
                  "avg_price": str(p.avg_price), "realized_pnl": str(p.realized_pnl)}
                 for p in engine.ledger.positions() if p.quantity != 0]
    return {
        "strategies": {s.strategy_id: runner.state(s.strategy_id) for s in runner.strategies()},
        "orders": {"total": len(orders), **Counter(o.status.value for o in orders)},
        "fills": counter.fills,
        "rejections": dict(engine.rejections),
        "venue_rejections": dict(refused),
        "restored": {"orders": len(counter.orders_before)},
        "accounts": accounts,
        "positions": positions,
        "kill_switch": {"latched": engine.kill_switch.latched},
    }


def reason_kind(text: str) -> str:
    """A refusal's kind: the venue's reason up to its first colon ("reduce-only order
    would open or increase a position"); the rest is particulars."""
    return (text or "no reason given").split(":")[0].strip()


def session_params(settings: Settings, name: str, overrides: dict[str, Any]) -> dict[str, Any]:
    """A strategy's parameters: its ``[strategy.<name>]`` settings, then ``overrides``."""
    return {**strategy_params(settings, name), **overrides}


def iso(ts_ns: int) -> str:
    return pd.Timestamp(ts_ns, tz="UTC").isoformat()
