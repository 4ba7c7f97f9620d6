"""The one async contract every broker adapter implements (paper, ccxt, kiwoom).

An adapter speaks to one venue and publishes what it learns on the engine's
bus as the engine's own records:

* market data: ``Tick``, ``OrderBook``, ``Bar`` (closed bars) and ``BarUpdate``;
* connection state: ``ConnectionStateChanged`` (the GUI's status bar);
* execution reports: ``OrderUpdate`` (accepted, rejected, cancelled, expired,
  amended) and ``Fill`` (one per execution, with a ``fill_id`` unique at that
  broker, so a report delivered twice is recognised and applied once).

Execution reports are raw: only the OMS subscribes to them. It checks each one
against the order state machine, journals it, and then publishes ``OrderEvent``
/ ``FillEvent``, which is what the GUI and strategies listen to.

Commands (``place_order``, ``cancel_order`` ...) return once the request has
been handed to the venue; the outcome arrives later as a report. A command
raises ``BrokerUnavailable`` only when the request certainly did not reach the
venue (so the OMS may reject it locally); if the outcome is unknown (a timeout
after sending) the adapter must find out itself, e.g. by client order id, and
report what happened, never by sending the order again blindly.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

import pandas as pd

from engine.bus import EventBus
from engine.clock import Clock
from engine.models import (
    Account,
    ConnectionState,
    ConnectionStateChanged,
    Fill,
    Instrument,
    Order,
    OrderStatus,
    OrderType,
    Position,
    TimeInForce,
)
from engine.models.fast_init import fast_init


@fast_init
@dataclass(frozen=True, slots=True)
class OrderUpdate:
    """A broker's report about one order (not a fill: fills come as ``Fill``).

    ``status`` is the state the broker says the order is in. ``quantity`` and
    ``price`` are set when an amend changed them. ``filled_qty`` is the venue's
    cumulative filled quantity when it reports one (used to detect missed fills).
    """

    broker: str
    client_order_id: str
    status: OrderStatus
    ts_ns: int
    broker_order_id: str = ""
    reason: str = ""
    quantity: Decimal | None = None
    price: Decimal | None = None
    filled_qty: Decimal | None = None


@dataclass(frozen=True, slots=True)
class BrokerCapabilities:
    """What an adapter supports. ``inline_commands``: ``place_order``, ``cancel_order`` and
    ``amend_order`` never suspend (the paper venue), so the engine may run them to
    completion in its own call, as the kill switch does with its cancels."""

    order_types: frozenset[OrderType] = frozenset(OrderType)
    time_in_force: frozenset[TimeInForce] = frozenset(TimeInForce)
    amend: bool = True
    reduce_only: bool = False
    post_only: bool = False
    short_selling: bool = False
    inline_commands: bool = False


class BrokerError(Exception):
    """A broker-side failure; the message never contains credentials."""


class BrokerUnavailable(BrokerError):
    """The request certainly did not reach the venue (disconnected, refused locally)."""


class Broker(ABC):
    """Base class of every adapter. Subclasses implement the abstract methods.

    ``live`` is True only when the adapter trades real money; it is False for
    paper, testnets and mock servers, and the GUI shows LIVE or PAPER from it.
    """

    capabilities: BrokerCapabilities = BrokerCapabilities()

    def __init__(self, name: str, bus: EventBus, clock: Clock, *, live: bool = False) -> None:
        self.name = name
        self.bus = bus
        self.clock = clock
        self.live = live
        self.state = ConnectionState.DISCONNECTED

    # ---- connection ---------------------------------------------------------
    def resume(self, fills: Iterable[Fill], orders: Iterable[Order] = ()) -> int:
        """Continue after a restart from the engine's journal (simulated venues).

        A real venue keeps its own state and is reconciled instead; the paper
        venue rebuilds its account from the journaled fills. Returns fills booked.
        """
        return 0

    @abstractmethod
    async def connect(self) -> None:
        """Connect and authenticate; publish CONNECTING then CONNECTED (or FAILED)."""

    @abstractmethod
    async def disconnect(self) -> None:
        """Close every stream and session; publish DISCONNECTED."""

    def _set_state(self, state: ConnectionState, detail: str = "") -> None:
        if state is self.state and not detail:
            return
        self.state = state
        self.bus.publish(ConnectionStateChanged(self.name, state, self.clock.now_ns(), detail))

    # ---- reference data -----------------------------------------------------
    @abstractmethod
    async def instruments(self) -> list[Instrument]:
        """Every instrument this broker can trade, with the venue's rules."""

    # ---- market data --------------------------------------------------------
    @abstractmethod
    async def subscribe_ticks(self, symbols: Iterable[str]) -> None: ...

    @abstractmethod
    async def subscribe_order_book(self, symbols: Iterable[str], depth: int = 10) -> None: ...

    @abstractmethod
    async def subscribe_bars(self, symbols: Iterable[str], timeframe: str = "1m") -> None: ...

    async def unsubscribe(self, symbols: Iterable[str]) -> None:  # noqa: B027 - optional
        """Stop every stream for ``symbols`` (default: nothing to do)."""

    @abstractmethod
    async def fetch_bars(
        self, symbol: str, timeframe: str, start_ns: int | None = None, end_ns: int | None = None
    ) -> pd.DataFrame:
        """History as an OHLCV frame (see README: time index, UTC, bar open times)."""

    # ---- execution ----------------------------------------------------------
    @abstractmethod
    async def place_order(self, order: Order) -> None:
        """Send ``order`` (status SUBMITTED, ``client_order_id`` set) to the venue."""

    @abstractmethod
    async def cancel_order(self, order: Order) -> None:
        """Ask the venue to cancel; the CANCELLED report (or a fill) follows."""

    async def amend_order(
        self, order: Order, quantity: Decimal | None = None, price: Decimal | None = None
    ) -> None:
        """Change quantity and/or price. Default: unsupported."""
        raise BrokerError(f"{self.name} does not support amending orders")

    async def cancel_all(self, symbol: str | None = None) -> None:
        """Cancel every open order (of ``symbol``) at the venue, including ones we lost track of."""
        for report in await self.fetch_open_orders():
            if symbol is None or report.symbol == symbol:
                await self.cancel_order(report)

    # ---- queries ------------------------------------------------------------
    @abstractmethod
    async def fetch_open_orders(self) -> list[Order]:
        """Open orders as the venue sees them."""

    @abstractmethod
    async def fetch_positions(self) -> list[Position]: ...

    @abstractmethod
    async def fetch_balances(self) -> list[Account]: ...

    @abstractmethod
    async def fetch_fills(self, since_ns: int | None = None) -> list[Fill]:
        """Executions since ``since_ns`` (for reconciliation after a disconnect)."""

    async def fetch_order_history(self, since_ns: int | None = None) -> list[Order]:
        """Closed orders since ``since_ns``; default: none kept."""
        return []
