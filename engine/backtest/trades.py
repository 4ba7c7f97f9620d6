"""Round-trip trades from fills, matched first-in first-out.

Each fill that opens or adds to a position creates a lot; each fill that
reduces it closes lots oldest first, and every (lot, closing fill) pair is one
``RoundTrip``, so partial exits give several trades, like a broker statement
(and like backtesting.py's ``Trade`` objects). Fees are shared pro rata by
quantity: an entry fill's commission goes to the trades its lot ends up in.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from engine.models import Fill, Side
from engine.models.numbers import ZERO
from engine.portfolio.ledger import COST_QUANTUM, EXACT


@dataclass(frozen=True, slots=True)
class RoundTrip:
    symbol: str
    direction: int  # +1 long, -1 short
    quantity: Decimal
    entry_ns: int
    entry_price: Decimal
    exit_ns: int
    exit_price: Decimal
    gross_pnl: Decimal
    fees: Decimal

    @property
    def net_pnl(self) -> Decimal:
        return self.gross_pnl - self.fees

    @property
    def return_pct(self) -> float:
        """Gross price return of the trade in percent, in the trade's direction."""
        return float((self.exit_price / self.entry_price - 1) * self.direction * 100)


@dataclass
class _Lot:
    quantity: Decimal
    price: Decimal
    ts_ns: int
    fee_per_unit: Decimal


def round_trips(fills: Iterable[Fill],
                contract_sizes: Mapping[str, Decimal] | None = None) -> list[RoundTrip]:
    """FIFO round trips of ``fills`` (in execution order), per symbol."""
    lots: dict[str, deque[_Lot]] = {}
    direction: dict[str, int] = {}
    out: list[RoundTrip] = []
    sizes = contract_sizes or {}
    for fill in fills:
        book = lots.setdefault(fill.symbol, deque())
        sign = 1 if fill.side is Side.BUY else -1
        cs = sizes.get(fill.symbol, Decimal(1))
        fee_unit = fill.fee / fill.quantity if fill.quantity else ZERO
        remaining = fill.quantity
        if book and direction[fill.symbol] != sign:
            while remaining > 0 and book:
                lot = book[0]
                qty = min(lot.quantity, remaining)
                d = direction[fill.symbol]
                out.append(RoundTrip(
                    symbol=fill.symbol, direction=d, quantity=qty,
                    entry_ns=lot.ts_ns, entry_price=lot.price,
                    exit_ns=fill.ts_ns, exit_price=fill.price,
                    gross_pnl=(fill.price - lot.price) * qty * d * cs,
                    # Fees per unit came from a division: rounded once, like cost shares
                    # in the ledger, so a trade's fees read as money, not 28 digits.
                    fees=((lot.fee_per_unit + fee_unit) * qty).quantize(COST_QUANTUM, context=EXACT),
                ))
                lot.quantity -= qty
                remaining -= qty
                if lot.quantity == 0:
                    book.popleft()
        if remaining > 0:
            direction[fill.symbol] = sign
            book.append(_Lot(remaining, fill.price, fill.ts_ns, fee_unit))
    return out
