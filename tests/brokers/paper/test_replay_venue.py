"""End to end: the paper venue trading against a ReplayFeed, behind the real engine."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import numpy as np
import pandas as pd

from engine.clock import SimulatedClock
from engine.data.replay import ReplayFeed
from engine.execution import create_broker
from engine.execution.intents import OrderIntent
from engine.execution.journal import MemoryJournal
from engine.models import (
    Fill,
    Liquidity,
    OrderBook,
    OrderStatus,
    OrderType,
    Side,
    Tick,
    krx_stock,
)
from engine.trading import TradingEngine
from tests.brokers.paper.harness import MINUTE, NS, T0, D, run

S = OrderStatus
SAMSUNG = krx_stock("005930")


def krx_minutes(n: int = 30, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 70_000 + np.cumsum(rng.integers(-3, 4, n)) * 100
    open_ = np.r_[70_000, close[:-1]]
    high = np.maximum(open_, close) + 100 * rng.integers(0, 3, n)
    low = np.minimum(open_, close) - 100 * rng.integers(0, 3, n)
    idx = pd.date_range(pd.Timestamp(T0, tz="UTC"), periods=n, freq="1min", tz="UTC",
                        name="time")
    return pd.DataFrame({"open": open_, "high": high, "low": low, "close": close,
                         "volume": rng.integers(200, 2_000, n)}, index=idx, dtype=float)


class Session:
    def __init__(self, latency_ms: float = 0, data: pd.DataFrame | None = None) -> None:
        self.clock = SimulatedClock(T0 - NS)
        self.engine = TradingEngine.for_backtest(clock=self.clock, journal=MemoryJournal())
        self.engine.instruments.add(SAMSUNG)
        self.venue = create_broker("paper", name="paper", bus=self.engine.bus, clock=self.clock,
                                   instruments=[SAMSUNG], initial_cash=50_000_000,
                                   latency_ms=latency_ms)
        self.engine.add_broker(self.venue)
        run(self.engine.connect_all())
        self.engine.open_account("paper", "KRW", Decimal(50_000_000))
        self.data = krx_minutes() if data is None else data
        self.feed = ReplayFeed(self.engine.bus, self.clock, {"005930": self.data}, [SAMSUNG],
                               speed="max")
        self.ticks: list[Tick] = []
        self.books: list[OrderBook] = []
        self.fills: list[Fill] = []
        self.engine.bus.subscribe(Tick, self.ticks.append)
        self.engine.bus.subscribe(OrderBook, self.books.append)
        self.engine.bus.subscribe(Fill, self.fills.append)

    def submit(self, side, qty, kind=OrderType.MARKET, price=None):
        result = self.engine.submit(OrderIntent("005930", side, qty, kind, price))
        assert result.accepted, result.rejection
        return result.order.client_order_id

    def check_books(self) -> None:
        assert self.engine.oms.quarantined == 0
        assert self.engine.ledger.account("paper").cash == run(self.venue.fetch_balances())[0].cash


def test_market_order_takes_the_replayed_offer_and_a_limit_fills_when_trades_go_through():
    s = Session()
    s.feed.run_until(T0 + 3 * MINUTE + 30 * NS)
    book = s.books[-1]
    market = s.submit(Side.BUY, 5)
    (fill,) = s.fills
    assert fill.price == D(int(book.asks[0].price)) and fill.liquidity is Liquidity.TAKER
    assert book.asks[0].size >= 5  # the synthetic book had the size at the best offer
    assert s.engine.oms.get(market).status is S.FILLED

    limit_price = int(s.ticks[-1].price) - 200
    limit = s.submit(Side.BUY, 3, OrderType.LIMIT, limit_price)
    s.feed.run_until(None)
    later = [t for t in s.ticks if t.ts_ns > fill.ts_ns]
    through = next(t for t in later if t.price < limit_price)  # this data does go through
    limit_fills = [f for f in s.fills if f.client_order_id == limit]
    assert limit_fills[0].ts_ns == through.ts_ns
    assert limit_fills[0].price == D(limit_price)
    assert limit_fills[0].liquidity is Liquidity.MAKER
    assert sum(f.quantity for f in limit_fills) == 3
    assert s.engine.oms.get(limit).status is S.FILLED
    s.check_books()


def test_the_limit_is_hit_in_data_built_to_trade_through_it():
    rows = krx_minutes(6)
    rows.iloc[4] = [70_000, 70_000, 69_000, 69_500, 1_000]  # dips to 69,000
    s = Session(data=rows)
    s.feed.run_until(T0 + 2 * MINUTE)
    cid = s.submit(Side.BUY, 2, OrderType.LIMIT, 69_200)
    s.feed.run_until(None)
    (fill,) = [f for f in s.fills if f.client_order_id == cid]
    assert fill.price == D(69_200) and fill.quantity == 2
    assert T0 + 4 * MINUTE <= fill.ts_ns < T0 + 5 * MINUTE
    s.check_books()


def test_latency_delays_arrival_to_a_later_replay_instant():
    s = Session(latency_ms=250)
    s.feed.run_until(T0 + MINUTE + NS)
    sent = s.clock.now_ns()
    s.submit(Side.BUY, 1)
    assert s.fills == []
    s.feed.run_until(None)
    assert s.fills[0].ts_ns == sent + 250 * 1_000_000
    s.check_books()


def test_async_replay_and_venue_together():
    s = Session()

    async def main():
        task = asyncio.create_task(s.feed.run())
        await task

    s.feed.run_until(T0 + 5 * MINUTE)
    s.submit(Side.BUY, 1)
    s.submit(Side.SELL, 1, OrderType.LIMIT, int(s.ticks[-1].price) + 100)
    asyncio.run(main())
    assert s.feed.finished and s.fills
    s.check_books()
