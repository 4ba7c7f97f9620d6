"""The paper venue's own books: cash per currency, holdings, and what open orders hold.

Like a real venue, the paper venue keeps its own account, independent of the
engine's ledger, so reconciliation compares two separate books. Positions and
cash use the engine's exact ``Ledger`` arithmetic (one ledger account per
currency), and on top of it the venue reserves:

* cash for open buy orders (notional at the limit or estimated price plus the
  worse of maker/taker commission), and margin for derivative orders;
* quantity for open sells of instruments that cannot be sold short.

``free_cash`` (cash - reserved - margin in use) is what a new order may use.
It never goes negative: fills that would overdraw it are clipped by the venue.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from decimal import Decimal

from engine.models import Account, Fill, Instrument, Position
from engine.models.numbers import ZERO
from engine.portfolio.ledger import Ledger

_FILL_SETTERS = tuple((name, getattr(Fill, name).__set__) for name in Fill.__dataclass_fields__)


def _with_broker(fill: Fill, broker: str) -> Fill:
    """``dataclasses.replace(fill, broker=broker)`` without re-running the frozen
    ``__init__`` (several times slower; Fill has no ``__post_init__``)."""
    new = object.__new__(Fill)
    for name, setter in _FILL_SETTERS:
        setter(new, broker if name == "broker" else getattr(fill, name))
    return new


class VenueAccount:
    """Cash, holdings and reservations of one paper account."""

    def __init__(self, cash: Mapping[str, Decimal]) -> None:
        self._ledger = Ledger()
        self._reserved_cash: dict[str, Decimal] = {}
        self._reserved_qty: dict[str, Decimal] = {}
        self._currency_of: dict[str, str] = {}
        self._margined: set[str] = set()  # currencies with derivative positions (margin in use)
        for currency, amount in cash.items():
            self._open(currency, amount)

    def _open(self, currency: str, amount: Decimal = ZERO) -> None:
        if not self._ledger.has_account(currency):
            self._ledger.open_account(currency, currency, amount)
            self._reserved_cash[currency] = ZERO

    def currencies(self) -> list[str]:
        return self._ledger.brokers()

    # ---- cash ----------------------------------------------------------------
    def cash(self, currency: str) -> Decimal:
        if not self._ledger.has_account(currency):
            return ZERO
        return self._ledger.account(currency).cash

    def reserved_cash(self, currency: str) -> Decimal:
        return self._reserved_cash.get(currency, ZERO)

    def free_cash(self, currency: str) -> Decimal:
        """Cash a new order may commit: cash - reservations - margin of open futures."""
        if not self._ledger.has_account(currency):
            return ZERO
        if currency in self._margined:
            account = self._ledger.account(currency)
            return account.cash - self._reserved_cash[currency] - account.margin_used
        # No futures: no margin, and no need to value every position (the same result;
        # ZERO is what account() reports as margin then).
        return self._ledger.cash(currency) - self._reserved_cash[currency] - ZERO

    def reserve_cash(self, currency: str, amount: Decimal) -> None:
        self._open(currency)
        self._reserved_cash[currency] += amount

    def release_cash(self, currency: str, amount: Decimal) -> None:
        self._reserved_cash[currency] -= amount

    # ---- holdings -------------------------------------------------------------
    def holding(self, instrument: Instrument) -> Decimal:
        """Signed quantity held (negative: short)."""
        return self._ledger.quantity(instrument.currency, instrument.symbol) \
            if self._ledger.has_account(instrument.currency) else ZERO

    def reserved_qty(self, symbol: str) -> Decimal:
        return self._reserved_qty.get(symbol, ZERO)

    def sellable(self, instrument: Instrument) -> Decimal:
        """Held quantity not already promised to open sell orders."""
        return self.holding(instrument) - self.reserved_qty(instrument.symbol)

    def reserve_qty(self, symbol: str, qty: Decimal) -> None:
        self._reserved_qty[symbol] = self._reserved_qty.get(symbol, ZERO) + qty

    def release_qty(self, symbol: str, qty: Decimal) -> None:
        self._reserved_qty[symbol] = self._reserved_qty.get(symbol, ZERO) - qty

    # ---- fills ----------------------------------------------------------------
    def apply_fill(self, fill: Fill, instrument: Instrument, leverage: Decimal) -> None:
        currency = instrument.currency
        self._open(currency)
        self._ledger.apply_fill(_with_broker(fill, currency), instrument)
        if instrument.symbol not in self._currency_of:
            self._currency_of[instrument.symbol] = currency
            if instrument.asset_class.is_derivative:
                self._margined.add(currency)
                # After the first fill, which created the position with its contract size.
                self._ledger.set_leverage(currency, instrument.symbol, leverage)

    def mark(self, symbol: str, price: Decimal) -> None:
        self._ledger.mark(symbol, price)

    # ---- views ----------------------------------------------------------------
    def balances(self, broker: str, now_ns: int) -> list[Account]:
        out = []
        for currency in self._ledger.brokers():
            account = self._ledger.account(currency)
            free = account.cash - self._reserved_cash[currency] - account.margin_used
            out.append(replace(account, broker=broker, buying_power=free, updated_ns=now_ns))
        return out

    def positions(self, broker: str, *, include_flat: bool = False) -> list[Position]:
        return [replace(p, broker=broker)
                for p in self._ledger.positions(include_flat=include_flat)]

    def open_cost(self, currency: str) -> Decimal:
        """Cost basis of open cash-product positions (for the books' identity)."""
        return self._ledger.open_cost(currency) if self._ledger.has_account(currency) else ZERO

    def opening_cash(self, currency: str) -> Decimal:
        return self._ledger.opening_cash(currency) if self._ledger.has_account(currency) else ZERO

    def totals(self, currencies: Iterable[str] | None = None) -> dict[str, Account]:
        names = self._ledger.brokers() if currencies is None else list(currencies)
        return {c: self._ledger.account(c) for c in names if self._ledger.has_account(c)}
