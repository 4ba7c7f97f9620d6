"""Exact number handling for prices, quantities and money.

Money never touches binary floating point inside the engine: prices, quantities
and cash in orders, fills, positions and the ledger are ``Decimal``. Market
data (ticks, bars, books) stays ``float`` for speed and is converted at the
boundary with :func:`to_decimal`, which uses the shortest decimal that round-trips
the float (``0.1`` becomes ``Decimal("0.1")``, not ``0.1000000000000000055...``).
"""

from __future__ import annotations

import numbers
from decimal import Decimal, InvalidOperation

Number = Decimal | int | float | str

ZERO = Decimal(0)
ONE = Decimal(1)


def to_decimal(value: Number, *, what: str = "value") -> Decimal:
    """Convert ``value`` to a finite Decimal or raise ValueError naming ``what``.

    >>> to_decimal(0.1)
    Decimal('0.1')
    """
    kind = type(value)
    # Exact-type fast paths first: the checks against the numbers ABCs below cost
    # microseconds, and floats and Decimals are what the hot paths convert.
    if kind is float:
        result = Decimal(repr(value))
    elif isinstance(value, Decimal):  # a concrete class: cheap, unlike the ABCs below
        result = value
    elif kind is int:
        return Decimal(value)
    elif isinstance(value, bool):
        raise ValueError(f"{what} must be a number, got a bool")
    elif isinstance(value, numbers.Integral):  # int, numpy integers
        return Decimal(int(value))
    elif isinstance(value, numbers.Real):  # float, numpy floats (whose repr is not a number)
        result = Decimal(repr(float(value)))
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip().replace(",", ""))
        except InvalidOperation:
            raise ValueError(f"{what} is not a number: {value!r}") from None
    else:
        raise ValueError(f"{what} must be a number, got {type(value).__name__}")
    if not result.is_finite():
        raise ValueError(f"{what} must be finite, got {value!r}")
    return result
