"""An instrument's trading terms as the venue uses them on every order, computed once.

``Instrument`` methods convert their arguments (``to_decimal``), look rates up
through the fee schedule and build a ``Fees`` record on each call; the venue
calls them several times per order with Decimals it already validated. ``Terms``
holds the same numbers ready to use and does the same arithmetic, in the same
order, so every amount (and its Decimal exponent) is identical to what
``Instrument.notional`` / ``fees_for`` give. tests/brokers/paper/test_terms.py
holds the two equal.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_DOWN, Decimal

from engine.models import Instrument, Liquidity, Side
from engine.models.numbers import ZERO

MAKER = Liquidity.MAKER


class Terms:
    """One instrument's constants; amounts take finite Decimals (what the venue validated)."""

    __slots__ = ("inst", "symbol", "currency", "lot", "min_qty", "contract_size", "unit",
                 "derivative", "leverage", "maker", "taker", "reserve_rate", "taxed", "no_tax")

    def __init__(self, inst: Instrument) -> None:
        self.inst = inst
        self.symbol = inst.symbol
        self.currency = inst.currency
        self.lot = inst.lot_size
        self.min_qty = inst.min_qty
        self.contract_size = inst.contract_size
        self.unit = inst.currency_unit
        self.derivative = inst.asset_class.is_derivative
        self.leverage = inst.max_leverage
        self.maker = inst.fees.maker
        self.taker = inst.fees.taker
        self.reserve_rate = max(inst.fees.maker, inst.fees.taker)
        self.taxed = bool(inst.fees.sell_tax)
        # The tax without a sell tax: (notional * ZERO) quantized is this zero, for any
        # positive notional (a fill's).
        self.no_tax = ZERO.quantize(self.unit, rounding=ROUND_DOWN)

    def notional(self, price: Decimal, qty: Decimal) -> Decimal:
        """``Instrument.notional`` for Decimals."""
        return price * qty * self.contract_size

    def commission(self, notional: Decimal, liquidity: Liquidity) -> Decimal:
        """The commission ``fees_for`` charges on ``notional``."""
        rate = self.maker if liquidity is MAKER else self.taker
        return (notional * rate).quantize(self.unit, rounding=ROUND_DOWN)

    def tax(self, notional: Decimal, side: Side, on: object) -> Decimal:
        """The tax ``fees_for`` charges on ``notional`` (``on``: the trade date or None)."""
        rate = self.inst.fees.tax_rate(side, on)  # type: ignore[arg-type]
        return (notional * rate).quantize(self.unit, rounding=ROUND_DOWN)

    def cost(self, price: Decimal, qty: Decimal, liquidity: Liquidity | None = None) -> Decimal:
        """Cash a buy (or a derivative's margin) ties up: notional (/leverage) + commission.

        Without ``liquidity`` it is a reservation: the worse of the two rates, rounded up.
        """
        notional = price * qty * self.contract_size
        if liquidity is None:
            fee = (notional * self.reserve_rate).quantize(self.unit, rounding=ROUND_CEILING)
        else:
            fee = self.commission(notional, liquidity)
        return self.tied_up(notional) + fee

    def tied_up(self, notional: Decimal) -> Decimal:
        """What ``notional`` ties up before fees: all of it, or a derivative's margin."""
        return notional / self.leverage if self.derivative else notional
