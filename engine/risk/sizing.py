"""Position sizing: how many units to trade, always a whole number of lots.

Every sizer returns a ``Decimal`` quantity rounded *down* to the instrument's
lot and never negative; an input that makes a size meaningless (no price,
no capital) gives zero, and a nonsensical one (negative capital, a fraction
above 1) raises ``ValueError`` naming it.

* ``fixed_fraction``: seed 004's ``floor(capital * fraction / price)``.
* ``fractional_kelly``: a fraction of the Kelly bet ``p - (1 - p) / b``, capped.
* ``atr_size``: risk ``risk_per_trade`` of capital with a stop ``atr_multiple`` ATRs away.
* ``var_size``: the position whose one-day VaR is ``var_budget`` of capital.
* ``PositionSizer``: several of these at once; the smallest wins, with a
  breakdown the order ticket shows ("size by risk").

Example::

    qty = fixed_fraction(Decimal(10_000_000), Decimal(71_200), Decimal("0.10"), samsung)
    # -> Decimal('14'): 10% of 10M buys 14 shares at 71,200
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from engine.models import Instrument, Liquidity, Side, to_decimal
from engine.models.numbers import ZERO, Number
from engine.risk.margin import liquidation_price


def _lots(raw: Decimal, inst: Instrument) -> Decimal:
    """``raw`` units rounded down to whole lots (zero if below the minimum)."""
    if raw <= 0:
        return ZERO
    qty = inst.snap_qty(raw, "down")
    return qty if qty >= inst.min_qty else ZERO


def _positive(value: Number, what: str, *, allow_zero: bool = True) -> Decimal:
    d = to_decimal(value, what=what)
    if d < 0 or (d == 0 and not allow_zero):
        raise ValueError(f"{what} must be {'>= 0' if allow_zero else '> 0'}, got {d}")
    return d


def _fraction(value: Number, what: str) -> Decimal:
    d = to_decimal(value, what=what)
    if not 0 <= d <= 1:
        raise ValueError(f"{what} must be a fraction in [0, 1], got {d}")
    return d


def fixed_fraction(capital: Number, price: Number, fraction: Number, instrument: Instrument) -> Decimal:
    """Seed 004's sizing: ``floor(capital * fraction / price)``, in whole lots."""
    cap = _positive(capital, "capital")
    p = _positive(price, "price")
    frac = _fraction(fraction, "fraction")
    if p == 0:
        return ZERO
    return _lots(cap * frac / (p * instrument.contract_size), instrument)


def kelly_fraction(win_rate: float, win_loss_ratio: float) -> float:
    """The Kelly bet ``p - (1 - p) / b``; <= 0 means the edge does not pay to bet."""
    if not 0 <= win_rate <= 1:
        raise ValueError(f"win rate must be in [0, 1], got {win_rate}")
    if win_loss_ratio <= 0:
        raise ValueError(f"win/loss ratio must be > 0, got {win_loss_ratio}")
    return win_rate - (1 - win_rate) / win_loss_ratio


@dataclass(frozen=True, slots=True)
class KellyEstimate:
    win_rate: float
    win_loss_ratio: float
    fraction: float  # raw Kelly
    trades: int


def kelly_from_returns(trade_returns: Sequence[float], min_trades: int = 20) -> KellyEstimate | None:
    """Estimate p and b from past trade returns; None with too few trades or no losers."""
    r = [x for x in trade_returns if x == x]
    if len(r) < min_trades:
        return None
    wins = [x for x in r if x > 0]
    losses = [-x for x in r if x < 0]
    if not wins or not losses:
        return None
    p = len(wins) / (len(wins) + len(losses))
    b = (sum(wins) / len(wins)) / (sum(losses) / len(losses))
    return KellyEstimate(p, b, kelly_fraction(p, b), len(r))


def fractional_kelly(capital: Number, price: Number, win_rate: float, win_loss_ratio: float,
                     instrument: Instrument, *, fraction: float = 0.5, cap: float = 0.2) -> Decimal:
    """``fraction`` of the Kelly bet, at most ``cap`` of capital, in whole lots."""
    f = kelly_fraction(win_rate, win_loss_ratio)
    if f <= 0:
        return ZERO
    share = min(f * _check_unit(fraction, "Kelly fraction"), _check_unit(cap, "Kelly cap"))
    # Round off binary noise (0.6 - 0.4 = 0.19999999999999998) before flooring to lots.
    return fixed_fraction(capital, price, Decimal(repr(round(share, 12))), instrument)


def _check_unit(x: float, what: str) -> float:
    if not 0 <= x <= 1:
        raise ValueError(f"{what} must be in [0, 1], got {x}")
    return x


def atr_size(capital: Number, price: Number, atr: Number, risk_per_trade: Number,
             atr_multiple: Number, instrument: Instrument) -> Decimal:
    """Lose ``risk_per_trade`` of capital if a stop ``atr_multiple`` ATRs away is hit."""
    cap = _positive(capital, "capital")
    stop = _positive(atr, "ATR") * _positive(atr_multiple, "ATR multiple")
    risk = _fraction(risk_per_trade, "risk per trade")
    if stop == 0 or _positive(price, "price") == 0:
        return ZERO
    return _lots(cap * risk / (stop * instrument.contract_size), instrument)


# One-sided normal quantiles for the usual confidences (scipy for the rest).
def _z(confidence: float) -> float:
    if not 0.5 < confidence < 1:
        raise ValueError(f"confidence must be in (0.5, 1), got {confidence}")
    from scipy.stats import norm

    return float(norm.ppf(confidence))


def var_size(capital: Number, price: Number, volatility: float, var_budget: Number,
             instrument: Instrument, *, confidence: float = 0.99) -> Decimal:
    """The position whose parametric one-period VaR (``volatility`` of returns) is
    ``var_budget`` of capital: value = budget * capital / (z * vol)."""
    cap = _positive(capital, "capital")
    p = _positive(price, "price")
    budget = _fraction(var_budget, "VaR budget")
    if not volatility > 0 or p == 0:
        return ZERO
    value = cap * budget / Decimal(repr(_z(confidence) * volatility))
    return _lots(value / (p * instrument.contract_size), instrument)


def liquidation_safe_size(collateral: Number, price: Number, leverage: Number,
                          min_distance: float, instrument: Instrument, *, side: Side = Side.BUY,
                          maintenance_rate: float = 0.004) -> Decimal:
    """Largest size at ``leverage`` whose liquidation price is at least ``min_distance``
    (a fraction of the price) away; zero if that leverage is too high for the distance."""
    p = _positive(price, "price")
    lev = _positive(leverage, "leverage", allow_zero=False)
    if p == 0:
        return ZERO
    liq = liquidation_price(p, lev, side=side, maintenance_rate=maintenance_rate)
    distance = abs(float(p - liq)) / float(p)
    if distance < min_distance:
        return ZERO
    return _lots(_positive(collateral, "collateral") * lev / (p * instrument.contract_size),
                 instrument)


@dataclass(frozen=True)
class SizingResult:
    """The chosen size, which constraint bound it, and every constraint's own size."""

    quantity: Decimal
    binding: str
    sizes: dict[str, Decimal] = field(default_factory=dict)

    def explain(self) -> str:
        parts = ", ".join(f"{k} {v}" for k, v in self.sizes.items())
        return f"{self.quantity} (bound by {self.binding}; {parts})"


@dataclass
class PositionSizer:
    """Multi-constraint sizing (seed 000's PositionSizer): the smallest size wins.

    Set the inputs you have; constraints without their inputs are skipped.
    """

    instrument: Instrument
    capital: Decimal
    cash: Decimal | None = None
    max_position_pct: float = 10.0
    kelly: KellyEstimate | None = None
    kelly_fraction: float = 0.5
    kelly_cap_pct: float = 20.0
    atr: float | None = None
    risk_per_trade: float = 0.01
    atr_multiple: float = 2.0
    volatility: float | None = None
    var_budget: float = 0.02
    leverage: float | None = None
    min_liquidation_distance: float = 0.1

    def size(self, price: Number, side: Side = Side.BUY) -> SizingResult:
        p = to_decimal(price, what="price")
        inst = self.instrument
        sizes: dict[str, Decimal] = {
            "max_position": fixed_fraction(self.capital, p,
                                           Decimal(repr(self.max_position_pct / 100)), inst),
        }
        if self.cash is not None and side is Side.BUY and not inst.allows_short:
            fee = inst.fees.commission_rate(Liquidity.TAKER)
            sizes["cash"] = _lots(max(self.cash, ZERO) / (p * inst.contract_size * (1 + fee)), inst)
        if self.kelly is not None:
            sizes["kelly"] = fractional_kelly(self.capital, p, self.kelly.win_rate,
                                              self.kelly.win_loss_ratio, inst,
                                              fraction=self.kelly_fraction,
                                              cap=self.kelly_cap_pct / 100)
        if self.atr is not None:
            sizes["atr"] = atr_size(self.capital, p, self.atr, self.risk_per_trade,
                                    self.atr_multiple, inst)
        if self.volatility is not None:
            sizes["var"] = var_size(self.capital, p, self.volatility, self.var_budget, inst)
        if self.leverage is not None:
            sizes["liquidation"] = liquidation_safe_size(
                self.capital, p, self.leverage, self.min_liquidation_distance, inst, side=side)
        binding = min(sizes, key=lambda k: sizes[k])
        return SizingResult(sizes[binding], binding, sizes)
