"""Positions and accounts: exact ``Decimal`` records produced by the ledger."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from engine.models.fast_init import fast_init
from engine.models.numbers import ZERO


@fast_init
@dataclass(frozen=True, slots=True)
class Position:
    """Net position in one symbol at one broker.

    ``quantity`` is signed (negative = short). ``cost_basis`` is the exact signed
    entry value of the open quantity (price x quantity x contract size, summed);
    ``avg_price`` is derived from it for display. ``realized_pnl`` is gross of
    fees, which are kept apart in ``fees`` so both reconcile to the unit.
    """

    broker: str
    symbol: str
    quantity: Decimal = ZERO
    avg_price: Decimal = ZERO
    cost_basis: Decimal = ZERO
    realized_pnl: Decimal = ZERO
    fees: Decimal = ZERO
    last_price: Decimal | None = None
    contract_size: Decimal = Decimal(1)
    updated_ns: int = 0

    @property
    def is_flat(self) -> bool:
        return self.quantity == 0

    @property
    def unrealized_pnl(self) -> Decimal:
        if self.last_price is None or self.quantity == 0:
            return ZERO
        return self.last_price * self.quantity * self.contract_size - self.cost_basis

    @property
    def market_value(self) -> Decimal:
        """Signed value at the last price (entry price if none seen yet)."""
        if self.last_price is None:
            return self.cost_basis
        return self.last_price * self.quantity * self.contract_size


@fast_init
@dataclass(frozen=True, slots=True)
class Account:
    """Cash and equity of one broker account in its settlement currency."""

    broker: str
    currency: str
    cash: Decimal
    equity: Decimal
    realized_pnl: Decimal = ZERO
    unrealized_pnl: Decimal = ZERO
    fees: Decimal = ZERO
    margin_used: Decimal = ZERO
    buying_power: Decimal = ZERO
    updated_ns: int = 0
