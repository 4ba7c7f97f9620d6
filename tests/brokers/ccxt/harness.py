"""Shared test helpers: run a scenario, a raw ccxt client on the fake network, waiting."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import ccxt.pro

from tests.brokers.ccxt.fake_binance import LINEAR, SPOT, FakeBinanceServer

SPOT_BOOK = ([("59999.00", "1.5"), ("59998.00", "2"), ("59990.00", "5")],
             [("60001.00", "1.5"), ("60002.00", "3"), ("60010.00", "5")])
LINEAR_BOOK = ([("59999.0", "5"), ("59998.0", "8")], [("60001.0", "5"), ("60002.0", "8")])


def run(coro: Any, timeout: float = 20.0) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def until(predicate: Callable[[], bool], timeout: float = 5.0, what: str = "") -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        await asyncio.sleep(0.01)


def seed_books(fake: FakeBinanceServer) -> None:
    for kind, book in ((SPOT, SPOT_BOOK), (LINEAR, LINEAR_BOOK)):
        for symbol in ("BTCUSDT",):
            fake.venue.set_book(kind, symbol, *book)
    fake.venue.set_book(SPOT, "ETHUSDT", [("2999.00", "10")], [("3001.00", "10")])
    fake.venue.set_book(LINEAR, "ETHUSDT", [("2999.00", "10")], [("3001.00", "10")])


@contextlib.asynccontextmanager
async def raw_exchange(fake: FakeBinanceServer, *, demo: bool = True,
                       **config: Any) -> AsyncIterator[Any]:
    """A plain ccxt.pro binance on the fake network (no adapter in between)."""
    session = fake.session()
    options = {"fetchMarkets": {"types": ["spot", "linear"]}, "fetchCurrencies": False}
    options.update(config.pop("options", {}))
    config.setdefault("enableRateLimit", False)
    exchange = ccxt.pro.binance({"session": session, "apiKey": fake.api_key,
                                 "secret": fake.secret, "options": options, **config})
    exchange.timeout_on_exit = 0
    if demo:
        exchange.enable_demo_trading(True)
    try:
        yield exchange
    finally:
        await exchange.close()
        await session.close()


class Recorder:
    """Everything the adapter publishes, by type."""

    def __init__(self, bus: Any) -> None:
        from brokers.ccxt.events import FundingPayment
        from engine.execution.broker import OrderUpdate
        from engine.models import (
            Bar,
            BarUpdate,
            ConnectionStateChanged,
            DataQualityEvent,
            Fill,
            FundingRate,
            OrderBook,
            RiskEvent,
            Tick,
        )

        self.events: list[Any] = []
        for kind in (OrderUpdate, Fill, ConnectionStateChanged, Tick, OrderBook, Bar, BarUpdate,
                     DataQualityEvent, RiskEvent, FundingRate, FundingPayment):
            bus.subscribe(kind, self.events.append)

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    def updates(self, cid: str | None = None) -> list[Any]:
        from engine.execution.broker import OrderUpdate

        return [u for u in self.of(OrderUpdate) if cid is None or u.client_order_id == cid]

    def fills(self, cid: str | None = None) -> list[Any]:
        from engine.models import Fill

        return [f for f in self.of(Fill) if cid is None or f.client_order_id == cid]

    def states(self) -> list[Any]:
        from engine.models import ConnectionStateChanged

        return [e.state for e in self.of(ConnectionStateChanged)]


FAST = {"backoff_initial_s": 0.05, "backoff_max_s": 0.4, "recv_window_ms": 1000,
        "request_timeout_ms": 1500, "reconcile_interval_s": 3600, "book_stale_s": 0,
        "funding_poll_s": 3600, "backfill_bars": 5, "rate_limit": False}


class Adapter:
    """Fake venue + a CcxtBroker wired to it: ``async with Adapter(markets=[...]) as h:``."""

    def __init__(self, *, keys: bool = True, connect: bool = True,
                 fake: FakeBinanceServer | None = None,
                 credentials: dict[str, str] | None = None, **settings: Any) -> None:
        from engine.bus import EventBus
        from engine.clock import LiveClock

        self.fake = fake or FakeBinanceServer()
        self.bus = EventBus()
        self.clock = LiveClock()
        self.record = Recorder(self.bus)
        self.settings = {**FAST, **settings}
        self.keys = keys
        self.credentials = credentials
        self.connect = connect
        self.broker: Any = None
        self.errors: list[Any] = []

    async def __aenter__(self) -> Adapter:
        from brokers.ccxt import create_broker

        await self.fake.start()
        seed_books(self.fake)
        settings = dict(self.settings)
        if self.keys:
            settings["credentials"] = self.credentials or {"api_key": self.fake.api_key,
                                                           "secret": self.fake.secret}
        self.broker = create_broker(name="binance", bus=self.bus, clock=self.clock,
                                    settings=settings,
                                    session_factory=self.fake.session_factory(),
                                    on_broker_error=lambda b, e: self.errors.append((b, e)))
        self.broker.close_grace_ms = 0
        if self.connect:
            await self.broker.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            await self.broker.disconnect()
        finally:
            await self.fake.stop()
