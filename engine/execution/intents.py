"""Order intents: what a strategy, the ticket or an algorithm asks for.

An intent is not an order yet. It becomes one only after the pre-trade risk
layer accepted it; until then it carries whatever the caller typed, which is
why its numbers are loosely typed and validated by risk, not here.

Example (inside a strategy, ``self.buy`` builds this for you)::

    OrderIntent(symbol="005930", side=Side.BUY, quantity=10,
                order_type=OrderType.LIMIT, price=71_200)
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.models import Order, OrderSource, OrderType, Side, TimeInForce
from engine.models.fast_init import fast_init
from engine.models.numbers import Number


@fast_init
@dataclass(frozen=True, slots=True)
class OrderIntent:
    symbol: str
    side: Side
    quantity: Number
    order_type: OrderType = OrderType.MARKET
    price: Number | None = None
    stop_price: Number | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    broker: str = ""  # empty: the engine's default broker
    source: OrderSource = OrderSource.STRATEGY
    strategy_id: str = ""
    tag: str = ""
    reduce_only: bool = False
    post_only: bool = False


@fast_init
@dataclass(frozen=True, slots=True)
class Rejection:
    """Why an intent was refused: ``code`` for machines, ``message`` for people."""

    code: str
    message: str
    details: dict[str, object] | None = None


@fast_init
@dataclass(frozen=True, slots=True)
class SubmitResult:
    """The outcome of ``TradingEngine.submit``: an order on its way, or a rejection."""

    order: Order | None = None  # set when accepted
    rejection: Rejection | None = None

    @property
    def accepted(self) -> bool:
        return self.rejection is None
