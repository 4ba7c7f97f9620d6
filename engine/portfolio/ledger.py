"""The account ledger: cash, positions, realized PnL and fees, exact to the unit.

Every amount is a ``Decimal`` and every operation is an exact addition or
subtraction, with one exception: when part of a position is closed, the share
of its cost basis that leaves is a division. That share is rounded once to
``COST_QUANTUM`` and the same rounded number is used both to reduce the cost
basis and to compute the realized PnL, so the books still balance exactly::

    cash == opening cash + transfers + realized PnL - fees - open cost basis   (cash products)
    cash == opening cash + transfers + realized PnL - fees                     (futures: margin)

Cash products (equities, spot crypto) pay the notional in cash; futures
(``AssetClass.CRYPTO_PERP``) only move cash by realized PnL, fees and funding,
and tie up margin instead.

Example::

    ledger = Ledger()
    ledger.open_account("paper", "KRW", Decimal(10_000_000))
    ledger.apply_fill(fill, instrument)
    ledger.position("paper", "005930").quantity
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Context, Decimal, localcontext

from engine.models import Account, Fill, Instrument, Position, Side
from engine.models.numbers import ZERO, to_decimal

COST_QUANTUM = Decimal("1e-12")
_PREC = 50  # digits; far beyond any real balance, so sums never round
# The context every amount is booked in (entered per booking: cheaper than setting
# prec on a copy); others that must match the ledger's arithmetic use it too.
EXACT = Context(prec=_PREC)


@dataclass
class _PositionBook:
    quantity: Decimal = ZERO
    cost: Decimal = ZERO  # signed entry value of the open quantity
    realized: Decimal = ZERO
    fees: Decimal = ZERO
    # The latest mark: a Decimal from a fill, or a float straight from market data
    # (converted only when someone reads it, not on every tick).
    last_price: Decimal | float | None = None
    contract_size: Decimal = Decimal(1)
    margin: bool = False
    leverage: Decimal = Decimal(1)
    updated_ns: int = 0


@dataclass
class _AccountBook:
    currency: str
    opening: Decimal
    cash: Decimal
    transfers: Decimal = ZERO  # deposits, withdrawals, funding, adjustments
    realized: Decimal = ZERO
    fees: Decimal = ZERO
    positions: dict[str, _PositionBook] = field(default_factory=dict)


class Ledger:
    """Books of every broker account; see the module docstring for the identities."""

    def __init__(self) -> None:
        self._accounts: dict[str, _AccountBook] = {}

    # ---- accounts -----------------------------------------------------------
    def open_account(self, broker: str, currency: str, cash: Decimal) -> None:
        if broker in self._accounts:
            raise ValueError(f"account {broker!r} is already open")
        self._accounts[broker] = _AccountBook(currency=currency, opening=cash, cash=cash)

    def has_account(self, broker: str) -> bool:
        return broker in self._accounts

    def brokers(self) -> list[str]:
        return list(self._accounts)

    def transfer(self, broker: str, amount: Decimal) -> None:
        """Move cash in (positive) or out: deposits, funding payments, adjustments."""
        book = self._book(broker)
        with localcontext(EXACT):
            book.cash += amount
            book.transfers += amount

    def _book(self, broker: str) -> _AccountBook:
        try:
            return self._accounts[broker]
        except KeyError:
            raise KeyError(f"no ledger account for broker {broker!r}") from None

    # ---- fills --------------------------------------------------------------
    def apply_fill(self, fill: Fill, instrument: Instrument) -> Position:
        """Book one fill and return the position after it."""
        book = self._book(fill.broker)
        pos = book.positions.get(fill.symbol)
        if pos is None:
            pos = book.positions[fill.symbol] = _PositionBook(
                contract_size=instrument.contract_size,
                margin=instrument.asset_class.is_derivative,
            )
        with localcontext(EXACT):
            delta = fill.quantity if fill.side is Side.BUY else -fill.quantity
            in_kind = fill.fee_in_kind
            if in_kind:
                delta -= in_kind
            realized = self._trade(pos, delta, fill.price)
            fee = fill.commission + fill.tax
            pos.fees += fee
            book.fees += fee
            book.realized += realized
            # The part of the fee paid in units is gone from the position, not the cash.
            cash_fee = fee - in_kind * fill.price * pos.contract_size if in_kind else fee
            if pos.margin:
                book.cash += realized - cash_fee
            else:
                book.cash -= (fill.side.sign * fill.quantity * fill.price * pos.contract_size
                              + cash_fee)
            pos.last_price = fill.price
            pos.updated_ns = fill.ts_ns
        return self._snapshot(fill.broker, fill.symbol, pos)

    @staticmethod
    def _trade(pos: _PositionBook, delta: Decimal, price: Decimal) -> Decimal:
        """Move the position by ``delta`` at ``price``; return the PnL realized."""
        value = price * pos.contract_size
        if pos.quantity == 0 or (pos.quantity > 0) == (delta > 0):
            pos.quantity += delta
            pos.cost += delta * value
            return ZERO
        held = abs(pos.quantity)
        closing = min(abs(delta), held)
        if closing == held:
            cost_out = pos.cost
        else:
            cost_out = (pos.cost * closing / held).quantize(COST_QUANTUM)
        direction = 1 if pos.quantity > 0 else -1
        realized = direction * closing * value - cost_out
        pos.realized += realized
        pos.cost -= cost_out
        pos.quantity += delta
        if pos.quantity == 0:
            pos.cost = ZERO
        elif abs(delta) > closing:  # flipped through flat: the rest opens a new position
            pos.cost = pos.quantity * value
        return realized

    # ---- prices -------------------------------------------------------------
    def mark(self, symbol: str, price: Decimal | float) -> None:
        """Set the last price of ``symbol`` in every account that holds it."""
        for book in self._accounts.values():
            pos = book.positions.get(symbol)
            if pos is not None:
                pos.last_price = price

    def set_leverage(self, broker: str, symbol: str, leverage: Decimal) -> None:
        book = self._book(broker)
        pos = book.positions.setdefault(symbol, _PositionBook(margin=True))
        pos.leverage = leverage

    # ---- views --------------------------------------------------------------
    def position(self, broker: str, symbol: str) -> Position:
        pos = self._book(broker).positions.get(symbol)
        if pos is None:
            return Position(broker=broker, symbol=symbol)
        return self._snapshot(broker, symbol, pos)

    def positions(self, broker: str | None = None, *, include_flat: bool = False) -> list[Position]:
        out = []
        for name, book in self._accounts.items():
            if broker is not None and name != broker:
                continue
            for symbol, pos in book.positions.items():
                if include_flat or pos.quantity != 0:
                    out.append(self._snapshot(name, symbol, pos))
        return out

    def gross_exposure(self, broker: str,
                       include: Callable[[str], bool] | None = None) -> Decimal:
        """Sum of |market value| over ``broker``'s open positions (those whose symbol
        ``include`` accepts): ``sum(abs(p.market_value) for p in positions(broker))``
        without building the snapshots (pre-trade risk asks for it on every order)."""
        book = self._accounts.get(broker)
        total = ZERO
        if book is None:
            return total
        for symbol, pos in book.positions.items():
            if pos.quantity == 0 or (include is not None and not include(symbol)):
                continue
            mark = _decimal(pos.last_price)
            total += abs(pos.cost if mark is None else mark * pos.quantity * pos.contract_size)
        return total

    def quantity(self, broker: str, symbol: str) -> Decimal:
        book = self._accounts.get(broker)
        pos = book.positions.get(symbol) if book else None
        return pos.quantity if pos else ZERO

    def cash(self, broker: str) -> Decimal:
        """Cash of ``broker``'s account: ``account(broker).cash`` without valuing positions."""
        return self._book(broker).cash

    def account(self, broker: str) -> Account:
        """Cash, equity and margin; equity = cash + cash-product holdings at market
        + unrealized PnL of futures."""
        book = self._book(broker)
        with localcontext(EXACT):
            holdings, unrealized, margin_used = self._valuation(book)
            equity = book.cash + holdings
        return Account(
            broker=broker,
            currency=book.currency,
            cash=book.cash,
            equity=equity,
            realized_pnl=book.realized,
            unrealized_pnl=unrealized,
            fees=book.fees,
            margin_used=margin_used,
            buying_power=book.cash - margin_used,
        )

    def equity(self, broker: str) -> Decimal:
        """``account(broker).equity`` without building the Account (pre-trade risk asks
        for it on every entry)."""
        book = self._book(broker)
        with localcontext(EXACT):
            return book.cash + self._valuation(book)[0]

    @staticmethod
    def _valuation(book: _AccountBook) -> tuple[Decimal, Decimal, Decimal]:
        """(holdings, unrealized PnL, margin in use) of ``book``'s open positions at their
        marks; call inside the exact context."""
        unrealized = holdings = margin_used = ZERO
        for pos in book.positions.values():
            if pos.quantity == 0:
                continue
            mark = _decimal(pos.last_price)
            value = pos.cost if mark is None else mark * pos.quantity * pos.contract_size
            unrealized += value - pos.cost
            if pos.margin:
                margin_used += abs(value) / pos.leverage
                holdings += value - pos.cost
            else:
                holdings += value
        return holdings, unrealized, margin_used

    def opening_cash(self, broker: str) -> Decimal:
        return self._book(broker).opening

    def transfers(self, broker: str) -> Decimal:
        return self._book(broker).transfers

    def open_cost(self, broker: str) -> Decimal:
        """Cost basis of open cash-product positions (the identity's last term)."""
        book = self._book(broker)
        return sum((p.cost for p in book.positions.values() if not p.margin), ZERO)

    @staticmethod
    def _snapshot(broker: str, symbol: str, pos: _PositionBook) -> Position:
        if pos.quantity:
            avg = abs(pos.cost) / (abs(pos.quantity) * pos.contract_size)
        else:
            avg = ZERO
        return Position(
            broker=broker,
            symbol=symbol,
            quantity=pos.quantity,
            avg_price=avg,
            cost_basis=pos.cost,
            realized_pnl=pos.realized,
            fees=pos.fees,
            last_price=_decimal(pos.last_price),
            contract_size=pos.contract_size,
            updated_ns=pos.updated_ns,
        )


def _decimal(price: Decimal | float | None) -> Decimal | None:
    if price is None or isinstance(price, Decimal):
        return price
    return to_decimal(price, what="mark price")
