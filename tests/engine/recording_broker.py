"""A minimal in-memory venue for engine tests: it acknowledges, fills on demand,
and cancels, publishing the same reports a real adapter would."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pandas as pd

from engine.execution.broker import Broker, BrokerUnavailable, OrderUpdate
from engine.models import ConnectionState, Fill, Order, OrderStatus


class RecordingBroker(Broker):
    def __init__(self, name, bus, clock, *, auto_ack=True, unavailable=False, fill_price=None):
        """``fill_price(order) -> price`` makes every order fill in full at once."""
        super().__init__(name, bus, clock)
        self.fill_price = fill_price
        self.auto_ack = auto_ack
        self.unavailable = unavailable
        self.placed: list[Order] = []
        self.cancelled: list[str] = []
        self.open: dict[str, Order] = {}
        self._fills = 0
        self.state = ConnectionState.CONNECTED

    async def connect(self):
        self._set_state(ConnectionState.CONNECTED)

    async def disconnect(self):
        self._set_state(ConnectionState.DISCONNECTED)

    async def instruments(self):
        return []

    async def subscribe_ticks(self, symbols):
        pass

    async def subscribe_order_book(self, symbols, depth=10):
        pass

    async def subscribe_bars(self, symbols, timeframe="1m"):
        pass

    async def fetch_bars(self, symbol, timeframe, start_ns=None, end_ns=None):
        return pd.DataFrame()

    async def place_order(self, order):
        if self.unavailable:
            raise BrokerUnavailable("socket closed")
        self.placed.append(order)
        self.open[order.client_order_id] = order
        if self.auto_ack:
            self.bus.publish(OrderUpdate(self.name, order.client_order_id, OrderStatus.ACCEPTED,
                                         self.clock.now_ns(), broker_order_id=f"B{len(self.placed)}"))
        if self.fill_price is not None:
            self.fill(order, order.quantity, self.fill_price(order))

    async def cancel_order(self, order):
        self.cancelled.append(order.client_order_id)
        if self.open.pop(order.client_order_id, None) is not None:
            self.bus.publish(OrderUpdate(self.name, order.client_order_id, OrderStatus.CANCELLED,
                                         self.clock.now_ns()))

    def fill(self, order, qty, price):
        self._fills += 1
        filled = Fill(fill_id=f"{self.name}-{self._fills}", client_order_id=order.client_order_id,
                      broker=self.name, symbol=order.symbol, side=order.side,
                      quantity=Decimal(qty), price=Decimal(price), ts_ns=self.clock.now_ns())
        self.bus.publish(filled)
        left = self.open.get(order.client_order_id, order).quantity - Decimal(qty)
        if left <= 0:
            self.open.pop(order.client_order_id, None)
        else:
            self.open[order.client_order_id] = dataclasses.replace(order, quantity=left)

    async def fetch_open_orders(self):
        return list(self.open.values())

    async def fetch_positions(self):
        return []

    async def fetch_balances(self):
        return []

    async def fetch_fills(self, since_ns=None):
        return []
