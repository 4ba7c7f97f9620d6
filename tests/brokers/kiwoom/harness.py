"""Test harness: a KiwoomBroker talking to a real bridge over loopback, with the fake control."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from decimal import Decimal
from typing import Any

from brokers.kiwoom.bridge.core import BridgeLimits
from brokers.kiwoom.config import KiwoomConfig
from brokers.kiwoom.execution import KiwoomBroker
from brokers.kiwoom.fake.server import KST, FakeKiwoomServer
from brokers.kiwoom.supervisor import InProcessLauncher
from engine.bus import EventBus
from engine.clock import SimulatedClock
from engine.execution.broker import OrderUpdate
from engine.models import (
    Bar,
    BarUpdate,
    ConnectionStateChanged,
    DataQualityEvent,
    Fill,
    Order,
    OrderBook,
    OrderStatus,
    OrderType,
    Side,
    Tick,
)

# Monday 2024-06-03 10:00:00 KST, inside a KRX regular session.
T0 = int(datetime(2024, 6, 3, 10, 0, tzinfo=KST).timestamp()) * 1_000_000_000
ACCOUNT = "8012345611"
SAMSUNG = "005930"


def run(coro: Any, timeout: float = 30.0) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout))


class Recorder:
    KINDS = (OrderUpdate, Fill, ConnectionStateChanged, Tick, OrderBook, Bar, BarUpdate,
             DataQualityEvent)

    def __init__(self, bus: EventBus) -> None:
        self.events: list[Any] = []
        for kind in self.KINDS:
            bus.subscribe(kind, self.events.append)

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    def updates(self, cid: str | None = None) -> list[OrderUpdate]:
        return [u for u in self.of(OrderUpdate) if cid is None or u.client_order_id == cid]

    def fills(self, cid: str | None = None) -> list[Fill]:
        return [f for f in self.of(Fill) if cid is None or f.client_order_id == cid]


class Harness:
    """Bridge (in this loop, real socket) + fake control + fake venue + adapter."""

    def __init__(self, *, venue: FakeKiwoomServer | None = None,
                 fake_options: dict[str, Any] | None = None,
                 limits: BridgeLimits | None = None, clock: SimulatedClock | None = None,
                 **config: Any) -> None:
        self.clock = clock or SimulatedClock(T0)
        self.bus = EventBus()
        self.record = Recorder(self.bus)
        self.venue = venue or FakeKiwoomServer(clock=self.venue_now)
        self.launcher = InProcessLauncher(venue=self.venue, fake_options=fake_options,
                                          limits=limits)
        settings = {"fake": True, "reconcile_interval_s": 3600.0, "unknown_order_grace_s": 0.2,
                    "restart_backoff_s": 0.05, **config}
        self.broker = KiwoomBroker("kiwoom", self.bus, self.clock,
                                   config=KiwoomConfig.from_mapping(settings),
                                   launcher=self.launcher,
                                   supervisor_options={"health_interval": 0.5})
        self._ids = 0

    def venue_now(self) -> datetime:
        return datetime.fromtimestamp(self.clock.now_ns() / 1e9, KST)

    @property
    def control(self) -> Any:
        return self.launcher.bridge.control

    async def __aenter__(self) -> Harness:
        await self.broker.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.broker.disconnect()

    async def sim(self, **args: Any) -> dict[str, Any]:
        assert self.broker.client is not None
        return await self.broker.client.request("sim", args)

    def order(self, side: Side = Side.BUY, qty: int = 10, price: int | None = 71_000,
              symbol: str = SAMSUNG, order_type: OrderType = OrderType.LIMIT,
              **extra: Any) -> Order:
        self._ids += 1
        return Order(client_order_id=f"c{self._ids}", broker="kiwoom", symbol=symbol, side=side,
                     order_type=order_type, quantity=Decimal(qty),
                     price=None if price is None else Decimal(price),
                     status=OrderStatus.SUBMITTED, **extra)


async def until(predicate: Any, timeout: float = 3.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)
