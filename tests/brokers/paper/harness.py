"""A paper venue on a real bus and SimulatedClock, with its reports recorded."""

from __future__ import annotations

import itertools
from collections.abc import Coroutine
from decimal import Decimal
from typing import Any

import pandas as pd

from brokers.paper import PaperBroker, create_broker
from engine.bus import EventBus
from engine.clock import SimulatedClock
from engine.execution.broker import OrderUpdate
from engine.models import (
    Bar,
    BookLevel,
    Fill,
    Instrument,
    Order,
    OrderBook,
    OrderStatus,
    OrderType,
    Side,
    Tick,
    TimeInForce,
    crypto_spot,
)

D = Decimal
NS = 1_000_000_000
MINUTE = 60 * NS
# Monday 2024-03-04 00:00 UTC = 09:00 KST, the KRX open.
T0 = int(pd.Timestamp("2024-03-04 00:00", tz="UTC").value)

# A plain instrument: whole-unit prices and lots, distinct maker/taker rates.
TEST = crypto_spot("TEST/USD", tick=1, lot=1, min_notional=0, maker="0.001", taker="0.002")


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    """Drive a coroutine that must not suspend (the backtester's way)."""
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value
    coro.close()
    raise AssertionError("the coroutine suspended")


class Harness:
    def __init__(self, *instruments: Instrument, start: int = T0, **settings: Any) -> None:
        self.bus = EventBus()
        self.clock = SimulatedClock(start)
        settings.setdefault("initial_cash", {"USD": 1_000_000, "KRW": 100_000_000,
                                             "USDT": 100_000})
        self.venue: PaperBroker = create_broker(
            name="paper", bus=self.bus, clock=self.clock,
            instruments=instruments or (TEST,), **settings)
        self.inst = (instruments or (TEST,))[0]
        self.updates: list[OrderUpdate] = []
        self.fills: list[Fill] = []
        self.reports: list[OrderUpdate | Fill] = []  # both, in the order published
        self.bus.subscribe(OrderUpdate, self.updates.append)
        self.bus.subscribe(Fill, self.fills.append)
        self.bus.subscribe(OrderUpdate, self.reports.append)
        self.bus.subscribe(Fill, self.reports.append)
        run(self.venue.connect())
        self._ids = itertools.count(1)
        self.bar_ts = start

    # ---- orders -----------------------------------------------------------------
    def order(self, side: Side | str, qty: Any, order_type: OrderType = OrderType.LIMIT,
              price: Any = None, stop: Any = None, tif: TimeInForce = TimeInForce.GTC,
              symbol: str | None = None, **extra: Any) -> Order:
        return Order(
            client_order_id=f"c{next(self._ids)}", broker="paper",
            symbol=symbol or self.inst.symbol, side=Side(side), order_type=order_type,
            quantity=D(str(qty)), price=None if price is None else D(str(price)),
            stop_price=None if stop is None else D(str(stop)), time_in_force=tif,
            status=OrderStatus.SUBMITTED, created_ns=self.clock.now_ns(), **extra)

    def place(self, *args: Any, **kwargs: Any) -> Order:
        order = self.order(*args, **kwargs)
        run(self.venue.place_order(order))
        return order

    def buy(self, qty: Any, price: Any = None, **kw: Any) -> Order:
        kind = kw.pop("order_type", OrderType.LIMIT if price is not None else OrderType.MARKET)
        return self.place("BUY", qty, kind, price, **kw)

    def sell(self, qty: Any, price: Any = None, **kw: Any) -> Order:
        kind = kw.pop("order_type", OrderType.LIMIT if price is not None else OrderType.MARKET)
        return self.place("SELL", qty, kind, price, **kw)

    def cancel(self, order: Order) -> None:
        run(self.venue.cancel_order(order))

    # ---- what came back -----------------------------------------------------------
    def updates_of(self, order: Order) -> list[OrderUpdate]:
        return [u for u in self.updates if u.client_order_id == order.client_order_id]

    def status(self, order: Order) -> OrderStatus | None:
        ups = self.updates_of(order)
        return ups[-1].status if ups else None

    def reason(self, order: Order) -> str:
        ups = self.updates_of(order)
        return ups[-1].reason if ups else ""

    def fills_of(self, order: Order) -> list[tuple[Decimal, Decimal]]:
        """(quantity, price) of each fill of ``order``."""
        return [(f.quantity, f.price) for f in self.fills
                if f.client_order_id == order.client_order_id]

    def filled(self, order: Order) -> Decimal:
        return sum((q for q, _ in self.fills_of(order)), D(0))

    # ---- market data ----------------------------------------------------------------
    def advance(self, seconds: float) -> None:
        self.clock.advance_to(self.clock.now_ns() + int(seconds * NS))

    def trade(self, price: float, size: float = 1_000, symbol: str | None = None,
              dt: float = 1.0) -> None:
        self.advance(dt)
        self.bus.publish(Tick(symbol or self.inst.symbol, self.clock.now_ns(), float(price),
                              float(size)))

    def book(self, bids: list[tuple[float, float]], asks: list[tuple[float, float]],
             symbol: str | None = None, dt: float = 0.5) -> None:
        self.advance(dt)
        self.bus.publish(OrderBook(symbol or self.inst.symbol, self.clock.now_ns(),
                                   tuple(BookLevel(p, s) for p, s in bids),
                                   tuple(BookLevel(p, s) for p, s in asks)))

    def bar(self, o: float, h: float, low: float, c: float, v: float = 1_000,
            symbol: str | None = None, tf: str = "1m", tf_ns: int = MINUTE) -> Bar:
        """Publish the next closed bar with the clock at its end, like a backtest."""
        bar = Bar(symbol or self.inst.symbol, tf, self.bar_ts, float(o), float(h), float(low),
                  float(c), float(v))
        self.bar_ts += tf_ns
        if self.clock.now_ns() < self.bar_ts:
            self.clock.advance_to(self.bar_ts)
        self.bus.publish(bar)
        return bar
