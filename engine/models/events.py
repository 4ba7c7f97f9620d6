"""Events that travel on the bus besides the market records themselves.

Market data is published as the records (``Tick``, ``Bar``, ``OrderBook``);
these wrap what has no record of its own. All are frozen and carry ``ts_ns``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from engine.models.enums import ConnectionState, OrderStatus
from engine.models.fast_init import fast_init
from engine.models.market import Bar
from engine.models.orders import Fill, Order
from engine.models.portfolio import Position


@dataclass(frozen=True, slots=True)
class BarUpdate:
    """The still-forming bar, republished as trades arrive (for live charts)."""

    bar: Bar


@dataclass(frozen=True, slots=True)
class ConnectionStateChanged:
    broker: str
    state: ConnectionState
    ts_ns: int
    detail: str = ""


@fast_init
@dataclass(frozen=True, slots=True)
class OrderEvent:
    """An order changed state. Published only after the change is journaled."""

    order: Order
    previous_status: OrderStatus | None
    ts_ns: int


@fast_init
@dataclass(frozen=True, slots=True)
class FillEvent:
    """A fill was applied to the order and the ledger. Journaled before publication."""

    fill: Fill
    order: Order
    ts_ns: int


@fast_init
@dataclass(frozen=True, slots=True)
class PositionEvent:
    """A position changed because a fill was applied (after it was journaled)."""

    position: Position
    ts_ns: int


@fast_init
@dataclass(frozen=True, slots=True)
class RiskEvent:
    """Something risk-relevant happened: a rejection, a breached limit, a mismatch.

    ``code`` is machine readable (``max_order_qty``, ``overfill``, ...);
    ``message`` is for a human.
    """

    code: str
    message: str
    ts_ns: int
    symbol: str = ""
    broker: str = ""
    client_order_id: str = ""
    severity: str = "warning"  # info | warning | critical
    details: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DataQualityEvent:
    """Bad market data was dropped (counted per kind, published once per kind)."""

    kind: str
    symbol: str
    message: str
    ts_ns: int
    count: int = 1


@dataclass(frozen=True, slots=True)
class FundingPayment:
    """Funding paid (negative) or received (positive) on a perpetual position.

    ``payment_id`` is the venue's id (Binance's ``tranId``): the engine books each
    one once as a journaled cash transfer, however often it is reported.
    """

    broker: str
    symbol: str
    amount: Decimal
    asset: str
    ts_ns: int
    payment_id: str


@dataclass(frozen=True, slots=True)
class FundingRate:
    """A perpetual's funding rate (fraction per interval; positive: longs pay shorts)."""

    symbol: str
    rate: float
    ts_ns: int
    next_funding_ns: int = 0
