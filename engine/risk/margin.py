"""Leverage, margin and liquidation for linear perpetual futures (USD-M).

For one position of ``qty`` contracts entered at ``E`` with initial margin
``IM = notional / L`` and maintenance margin rate ``mmr`` (Binance's first
tier is 0.4%), the position is liquidated when its margin balance falls to
the maintenance margin:

* isolated long:  ``IM + q (P - E) = mmr q P``  ->  ``P = E (1 - 1/L) / (1 - mmr)``
* isolated short: ``IM + q (E - P) = mmr q P``  ->  ``P = E (1 + 1/L) / (1 + mmr)``

Cross margin uses the whole ``collateral`` available to the position instead
of ``IM``: ``P = (E - C/q) / (1 - mmr)`` (long), ``P = (E + C/q) / (1 + mmr)``
(short). Fees and funding are ignored unless folded into the collateral.
"""

from __future__ import annotations

from decimal import Decimal

from engine.models import Side, to_decimal
from engine.models.numbers import Number

DEFAULT_MAINTENANCE_RATE = 0.004


def notional(price: Number, qty: Number, contract_size: Number = 1) -> Decimal:
    return abs(to_decimal(price) * to_decimal(qty) * to_decimal(contract_size))


def initial_margin(price: Number, qty: Number, leverage: Number, contract_size: Number = 1) -> Decimal:
    lev = to_decimal(leverage, what="leverage")
    if lev <= 0:
        raise ValueError(f"leverage must be > 0, got {lev}")
    return notional(price, qty, contract_size) / lev


def maintenance_margin(price: Number, qty: Number, rate: float = DEFAULT_MAINTENANCE_RATE,
                       contract_size: Number = 1) -> Decimal:
    return notional(price, qty, contract_size) * Decimal(repr(rate))


def effective_leverage(gross_notional: Number, equity: Number) -> Decimal:
    """Gross futures exposure over account equity (infinite when equity <= 0)."""
    eq = to_decimal(equity, what="equity")
    if eq <= 0:
        return Decimal("Infinity")
    return abs(to_decimal(gross_notional)) / eq


def liquidation_price(entry: Number, leverage: Number, *, side: Side,
                      maintenance_rate: float = DEFAULT_MAINTENANCE_RATE,
                      collateral: Number | None = None, qty: Number | None = None) -> Decimal:
    """The price at which the position is liquidated (see the module docstring).

    Without ``collateral`` the margin is isolated at ``leverage``; with it (and
    ``qty``) the formula is the cross-margin one.
    """
    e = to_decimal(entry, what="entry price")
    lev = to_decimal(leverage, what="leverage")
    if e <= 0 or lev <= 0:
        raise ValueError("entry price and leverage must be > 0")
    mmr = Decimal(repr(maintenance_rate))
    if collateral is None:
        per_unit = e / lev
    else:
        q = to_decimal(qty if qty is not None else 0, what="quantity")
        if q == 0:
            raise ValueError("cross-margin liquidation needs the position quantity")
        per_unit = to_decimal(collateral, what="collateral") / abs(q)
    if side is Side.BUY:
        price = (e - per_unit) / (1 - mmr)
    else:
        price = (e + per_unit) / (1 + mmr)
    return max(price, Decimal(0))


def liquidation_distance_pct(price: Number, liquidation: Number) -> float:
    """How far the current price is from liquidation, in percent of the price."""
    p = to_decimal(price, what="price")
    if p <= 0:
        return 0.0
    return float(abs(p - to_decimal(liquidation)) / p * 100)


def leverage_ok(gross_notional: Number, equity: Number, max_leverage: Number) -> bool:
    """True if exposure / equity stays within ``max_leverage`` (the pre-trade cap)."""
    return effective_leverage(gross_notional, equity) <= to_decimal(max_leverage)
