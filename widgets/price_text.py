"""Prices as traders read them: as many decimals as the instrument's tick has.

``450.2`` on a 0.01 tick reads as ``450.20``; a KRX price on a 100-won tick
as ``71,000``; a coin on a 0.00001 tick as ``0.12340``. Symbols the engine
does not know fall back to a plain format.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from engine.instruments import InstrumentRegistry

PriceText = Callable[[float], str]


def plain_price(price: float) -> str:
    """Up to 2 decimals (8 under 1), trailing zeros dropped: when the tick is unknown."""
    if price != price:  # NaN
        return "-"
    text = f"{price:,.8f}" if abs(price) < 1 else f"{price:,.2f}"
    return text.rstrip("0").rstrip(".")


def _decimals(tick: Decimal) -> int:
    exponent = tick.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def price_text(instruments: InstrumentRegistry, symbol: str) -> PriceText:
    """A formatter for ``symbol``'s prices (its tick size can vary with the price)."""
    inst = instruments.find(symbol)
    if inst is None:
        return plain_price

    def text(price: float) -> str:
        if not price > 0 or price == float("inf"):
            return plain_price(price)
        return f"{price:,.{_decimals(inst.tick_size(price))}f}"

    return text
