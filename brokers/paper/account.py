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

Booking a fill in the ``Ledger`` (a Position snapshot, a decimal context, the
fill copied to the ledger account's name) cost the venue more per order than
matching it, while every order only reads cash and holdings. So a fill of a
cash product moves the account's cash and quantity at once, with the ledger's
own arithmetic, and reaches the ledger only when something reads more (views,
marks, margin): fills are booked there in the order they happened, so the
ledger ends up exactly as if each had been booked at once. Derivative fills move
cash by realized PnL, which needs the cost basis: they are booked at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from decimal import Decimal

from engine.models import Account, Fill, Instrument, Position, Side
from engine.models.fast_init import evolver
from engine.models.numbers import ZERO
from engine.portfolio.ledger import EXACT, Ledger

# ``dataclasses.replace`` for a Fill, without re-running its __init__.
_fill_with = evolver(Fill)
BUY = Side.BUY


class _Holding:
    """Quantity of one position, and the two facts the ledger fixed at its first fill."""

    __slots__ = ("quantity", "contract_size", "margin")

    def __init__(self, instrument: Instrument) -> None:
        self.quantity = ZERO
        self.contract_size = instrument.contract_size
        self.margin = instrument.asset_class.is_derivative


class VenueAccount:
    """Cash, holdings and reservations of one paper account."""

    def __init__(self, cash: Mapping[str, Decimal]) -> None:
        self._ledger = Ledger()
        self._reserved_cash: dict[str, Decimal] = {}
        self._reserved_qty: dict[str, Decimal] = {}
        self._currency_of: dict[str, str] = {}
        self._margined: set[str] = set()  # currencies with derivative positions (margin in use)
        # The ledger's cash and quantities, always current (see the module docstring) ...
        self._cash: dict[str, Decimal] = {}
        self._held: dict[str, dict[str, _Holding]] = {}
        # ... and the fills of cash products the ledger has not booked yet, oldest first,
        # with their instruments (two lists: a tuple per fill would be one more object
        # for the garbage collector to walk, for the rest of the run).
        self._pending: list[Fill] = []
        self._pending_instruments: list[Instrument] = []
        for currency, amount in cash.items():
            self._open(currency, amount)

    def _open(self, currency: str, amount: Decimal = ZERO) -> None:
        if not self._ledger.has_account(currency):
            self._ledger.open_account(currency, currency, amount)
            self._reserved_cash[currency] = ZERO
            self._cash[currency] = amount
            self._held[currency] = {}

    def _books(self) -> Ledger:
        """The ledger with every fill booked."""
        if self._pending:
            fills, instruments = self._pending, self._pending_instruments
            self._pending, self._pending_instruments = [], []
            for fill, instrument in zip(fills, instruments, strict=True):
                # (leverage matters to derivatives only, and they are never pending)
                self._book(fill, instrument, instrument.max_leverage)
        return self._ledger

    def currencies(self) -> list[str]:
        return self._ledger.brokers()

    # ---- cash ----------------------------------------------------------------
    def cash(self, currency: str) -> Decimal:
        return self._cash.get(currency, ZERO)

    def reserved_cash(self, currency: str) -> Decimal:
        return self._reserved_cash.get(currency, ZERO)

    def free_cash(self, currency: str) -> Decimal:
        """Cash a new order may commit: cash - reservations - margin of open futures."""
        cash = self._cash.get(currency)
        if cash is None:
            return ZERO
        if currency in self._margined:
            account = self._books().account(currency)
            return account.cash - self._reserved_cash[currency] - account.margin_used
        # No futures: no margin, and no need to value every position (the same result;
        # ZERO is what account() reports as margin then).
        return cash - self._reserved_cash[currency] - ZERO

    def reserve_cash(self, currency: str, amount: Decimal) -> None:
        if currency not in self._cash:
            self._open(currency)
        self._reserved_cash[currency] += amount

    def release_cash(self, currency: str, amount: Decimal) -> None:
        self._reserved_cash[currency] -= amount

    # ---- holdings -------------------------------------------------------------
    def holding(self, instrument: Instrument) -> Decimal:
        """Signed quantity held (negative: short)."""
        held = self._held.get(instrument.currency)
        position = held.get(instrument.symbol) if held is not None else None
        return ZERO if position is None else position.quantity

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
        if currency not in self._held:
            self._open(currency)
        holdings = self._held[currency]
        held = holdings.get(fill.symbol)
        if held is None:
            held = holdings[fill.symbol] = _Holding(instrument)
        if held.margin:
            self._books()  # earlier fills first: the ledger books in order
            self._book(fill, instrument, leverage)
            self._cash[currency] = self._ledger.cash(currency)
            held.quantity = self._ledger.quantity(currency, fill.symbol)
            return
        self._pending.append(fill)
        self._pending_instruments.append(instrument)
        # Ledger.apply_fill's arithmetic for a cash product, operation for operation, in
        # its precision (the methods of a Context: switching the thread's context costs
        # microseconds more than it looks, for the contextvars bookkeeping).
        x, qty, price, size = EXACT, fill.quantity, fill.price, held.contract_size
        delta, sign = (qty, 1) if fill.side is BUY else (x.minus(qty), -1)
        in_kind = fill.fee_in_kind
        if in_kind:
            delta = x.subtract(delta, in_kind)
        held.quantity = x.add(held.quantity, delta)
        fee = x.add(fill.commission, fill.tax)
        cash_fee = x.subtract(fee, x.multiply(x.multiply(in_kind, price), size)) if in_kind \
            else fee
        traded = x.multiply(x.multiply(x.multiply(sign, qty), price), size)
        self._cash[currency] = x.subtract(self._cash[currency], x.add(traded, cash_fee))

    def _book(self, fill: Fill, instrument: Instrument, leverage: Decimal) -> None:
        currency = instrument.currency
        self._ledger.apply_fill(_fill_with(fill, broker=currency), instrument)
        if instrument.symbol not in self._currency_of:
            self._currency_of[instrument.symbol] = currency
            if instrument.asset_class.is_derivative:
                self._margined.add(currency)
                # After the first fill, which created the position with its contract size.
                self._ledger.set_leverage(currency, instrument.symbol, leverage)

    def transfer(self, currency: str, amount: Decimal) -> None:
        """Cash in (positive) or out that is not a trade: funding on a perpetual."""
        ledger = self._books()
        if not ledger.has_account(currency):
            self._open(currency)
        ledger.transfer(currency, amount)
        self._cash[currency] = ledger.cash(currency)

    def mark(self, symbol: str, price: Decimal) -> None:
        self._books().mark(symbol, price)

    # ---- views ----------------------------------------------------------------
    def balances(self, broker: str, now_ns: int) -> list[Account]:
        ledger = self._books()
        out = []
        for currency in ledger.brokers():
            account = ledger.account(currency)
            free = account.cash - self._reserved_cash[currency] - account.margin_used
            out.append(replace(account, broker=broker, buying_power=free, updated_ns=now_ns))
        return out

    def positions(self, broker: str, *, include_flat: bool = False) -> list[Position]:
        return [replace(p, broker=broker)
                for p in self._books().positions(include_flat=include_flat)]

    def open_cost(self, currency: str) -> Decimal:
        """Cost basis of open cash-product positions (for the books' identity)."""
        ledger = self._books()
        return ledger.open_cost(currency) if ledger.has_account(currency) else ZERO

    def opening_cash(self, currency: str) -> Decimal:
        return self._ledger.opening_cash(currency) if self._ledger.has_account(currency) else ZERO

    def totals(self, currencies: Iterable[str] | None = None) -> dict[str, Account]:
        ledger = self._books()
        names = ledger.brokers() if currencies is None else list(currencies)
        return {c: ledger.account(c) for c in names if ledger.has_account(c)}
