"""Orders and fills.

Records are immutable: the OMS moves an order through its states by producing
a new ``Order`` (``dataclasses.replace``), journals it, and only then tells
anyone. Quantities and prices are exact ``Decimal``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from engine.models.enums import (
    Liquidity,
    OrderSource,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)
from engine.models.fast_init import evolver, fast_init
from engine.models.numbers import ZERO


@fast_init
@dataclass(frozen=True, slots=True)
class Order:
    """One order as the OMS knows it.

    ``client_order_id`` is ours and unique for ever; ``broker_order_id`` is the
    venue's and arrives with the acknowledgement. ``avg_fill_price`` is the
    quantity-weighted mean of the fills so far (``None`` until the first fill).
    """

    client_order_id: str
    broker: str
    symbol: str
    side: Side
    order_type: OrderType
    quantity: Decimal
    price: Decimal | None = None  # limit price (LIMIT, STOP_LIMIT)
    stop_price: Decimal | None = None  # trigger (STOP, STOP_LIMIT)
    time_in_force: TimeInForce = TimeInForce.GTC
    status: OrderStatus = OrderStatus.NEW
    filled_qty: Decimal = ZERO
    avg_fill_price: Decimal | None = None
    broker_order_id: str = ""
    source: OrderSource = OrderSource.STRATEGY
    strategy_id: str = ""
    tag: str = ""
    reduce_only: bool = False
    post_only: bool = False
    created_ns: int = 0
    updated_ns: int = 0
    reason: str = ""  # last rejection / cancel reason, human readable

    @property
    def remaining_qty(self) -> Decimal:
        return self.quantity - self.filled_qty

    @property
    def is_open(self) -> bool:
        return self.status.is_open

    @property
    def signed_quantity(self) -> Decimal:
        return self.quantity * self.side.sign


@fast_init
@dataclass(frozen=True, slots=True)
class Fill:
    """One execution. ``fill_id`` is unique per broker and makes fills idempotent."""

    fill_id: str
    client_order_id: str
    broker: str
    symbol: str
    side: Side
    quantity: Decimal
    price: Decimal
    ts_ns: int
    commission: Decimal = ZERO
    tax: Decimal = ZERO
    liquidity: Liquidity = Liquidity.TAKER
    broker_order_id: str = ""
    # Units of the traded instrument the venue kept as its fee (Binance spot charges
    # a buy's fee in the base asset). Their value is already in ``commission``; the
    # ledger takes them from the position instead of charging the cash, so the
    # quantity held matches the venue's balance.
    fee_in_kind: Decimal = ZERO

    @property
    def fee(self) -> Decimal:
        return self.commission + self.tax

    @property
    def notional(self) -> Decimal:
        return self.price * self.quantity


# The OMS makes a new Order on every state change: ``dataclasses.replace`` was a visible
# share of an order's cost in backtests.
evolve: Callable[..., Order] = evolver(Order)
