"""Instruments and the trading rules they carry.

Venue differences (KRX tick tables and sell tax, crypto precision and minimum
notional, futures leverage) live here as data, never as ``if broker == ...``
branches elsewhere.

Example::

    >>> from engine.models import krx_stock
    >>> samsung = krx_stock("005930", name="Samsung Electronics")
    >>> samsung.snap_price(71_234)          # nearest valid KRX price
    Decimal('71200')
    >>> samsung.snap_price(71_234, "up")
    Decimal('71300')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Literal

from engine.models.enums import AssetClass, Liquidity, Side
from engine.models.numbers import ONE, ZERO, Number, to_decimal

Rounding = Literal["down", "up", "nearest"]


@dataclass(frozen=True, slots=True)
class TickSchedule:
    """Tick size as a step function of price.

    ``bands`` holds ``(upper_exclusive, tick)`` pairs in ascending order; prices at
    or above the last bound use ``top_tick``. A constant tick is a schedule with
    no bands. Every bound must be a multiple of the ticks on both sides of it, so
    snapping near a bound always lands on a valid price.
    """

    top_tick: Decimal
    bands: tuple[tuple[Decimal, Decimal], ...] = ()

    def __post_init__(self) -> None:
        if self.top_tick <= 0:
            raise ValueError(f"tick size must be positive, got {self.top_tick}")
        previous_bound = ZERO
        for i, (bound, tick) in enumerate(self.bands):
            if tick <= 0 or bound <= previous_bound:
                raise ValueError(f"tick schedule band {i} is not ascending and positive")
            next_tick = self.bands[i + 1][1] if i + 1 < len(self.bands) else self.top_tick
            if bound % tick or bound % next_tick:
                raise ValueError(f"tick schedule bound {bound} is not a multiple of its ticks")
            previous_bound = bound

    @classmethod
    def constant(cls, tick: Number) -> TickSchedule:
        return cls(top_tick=to_decimal(tick, what="tick size"))

    def tick_at(self, price: Decimal) -> Decimal:
        """Tick size that applies to ``price`` itself."""
        for bound, tick in self.bands:
            if price < bound:
                return tick
        return self.top_tick

    def tick_below(self, price: Decimal) -> Decimal:
        """Tick size that applies to prices just below ``price``."""
        for bound, tick in self.bands:
            if price <= bound:
                return tick
        return self.top_tick

    @property
    def smallest(self) -> Decimal:
        return min([self.top_tick, *(t for _, t in self.bands)])


# KRX, since 2023-01-25: one table for KOSPI, KOSDAQ and KONEX.
KRX_STOCK_TICKS = TickSchedule(
    top_tick=Decimal(1000),
    bands=(
        (Decimal(2_000), Decimal(1)),
        (Decimal(5_000), Decimal(5)),
        (Decimal(20_000), Decimal(10)),
        (Decimal(50_000), Decimal(50)),
        (Decimal(200_000), Decimal(100)),
        (Decimal(500_000), Decimal(500)),
    ),
)
KRX_ETF_TICKS = TickSchedule.constant(5)


@dataclass(frozen=True, slots=True)
class FeeSchedule:
    """Commission rates by liquidity and a sell-side transaction tax by date.

    ``sell_tax`` lists ``(effective_from, rate)`` in ascending date order, so a
    backtest over 2024 applies 2024's rate. Rates are fractions (0.00015 = 0.015%).
    """

    maker: Decimal = ZERO
    taker: Decimal = ZERO
    sell_tax: tuple[tuple[date, Decimal], ...] = ()

    def commission_rate(self, liquidity: Liquidity) -> Decimal:
        return self.maker if liquidity is Liquidity.MAKER else self.taker

    def tax_rate(self, side: Side, on: date | None) -> Decimal:
        if side is not Side.SELL or not self.sell_tax:
            return ZERO
        if on is None:
            return self.sell_tax[-1][1]
        rate = ZERO
        for start, r in self.sell_tax:
            if on >= start:
                rate = r
        return rate


KRX_COMMISSION = Decimal("0.00015")
# Securities transaction tax including the rural special tax (KOSPI), as totals.
KRX_SELL_TAX: dict[str, tuple[tuple[date, Decimal], ...]] = {
    board: (
        (date(1996, 7, 1), Decimal("0.0030")),
        (date(2019, 5, 30), Decimal("0.0025")),
        (date(2021, 1, 1), Decimal("0.0023")),
        (date(2023, 1, 1), Decimal("0.0020")),
        (date(2024, 1, 1), Decimal("0.0018")),
        (date(2025, 1, 1), Decimal("0.0015")),
        (date(2026, 1, 1), Decimal("0.0020")),
    )
    for board in ("KOSPI", "KOSDAQ")
}
KRX_SELL_TAX["KONEX"] = ((date(2013, 7, 1), Decimal("0.0030")),
                         (date(2019, 5, 30), Decimal("0.0010")))


@dataclass(frozen=True, slots=True)
class Fees:
    commission: Decimal
    tax: Decimal

    @property
    def total(self) -> Decimal:
        return self.commission + self.tax


@dataclass(frozen=True, slots=True)
class Instrument:
    """A tradable symbol and every rule a venue would enforce on it."""

    symbol: str
    venue: str
    asset_class: AssetClass
    currency: str
    tick_schedule: TickSchedule
    lot_size: Decimal = ONE
    min_qty: Decimal = ONE
    min_notional: Decimal = ZERO
    # Daily price limit as a fraction of the base (previous close) price; None = no band.
    price_band_pct: Decimal | None = None
    fees: FeeSchedule = field(default_factory=FeeSchedule)
    # Smallest unit of the settlement currency; fees and taxes are truncated to it.
    currency_unit: Decimal = Decimal("0.01")
    calendar: str = "24/7"
    name: str = ""
    board: str = ""
    contract_size: Decimal = ONE
    max_leverage: Decimal = ONE
    allows_short: bool = False
    base_asset: str = ""

    # ---- prices -------------------------------------------------------------
    def tick_size(self, price: Number) -> Decimal:
        return self.tick_schedule.tick_at(to_decimal(price, what="price"))

    def snap_price(self, price: Number, rounding: Rounding = "nearest") -> Decimal:
        """The valid price closest to ``price`` in the given direction.

        Exact: works on Decimals, so ``snap_price(0.3)`` on a 0.1 tick gives
        ``Decimal('0.3')``, never ``0.30000000000000004``. Ties round up.
        """
        p = to_decimal(price, what="price")
        if p <= 0:
            raise ValueError(f"price must be positive, got {p}")
        tick = self.tick_schedule.tick_at(p)
        down = (p / tick).to_integral_value(rounding=ROUND_FLOOR) * tick
        if down == p:
            return p.quantize(tick)
        up = (p / tick).to_integral_value(rounding=ROUND_CEILING) * tick
        if rounding == "down":
            # Below the first tick there is no valid price; the smallest is one tick.
            return down if down > 0 else tick
        if rounding == "up":
            return up
        if rounding != "nearest":
            raise ValueError(f"rounding must be 'down', 'up' or 'nearest', got {rounding!r}")
        if down <= 0:
            return up
        return down if (p - down) < (up - p) else up

    def is_valid_price(self, price: Number) -> bool:
        p = to_decimal(price, what="price")
        return p > 0 and p % self.tick_schedule.tick_at(p) == 0

    def tick_up(self, price: Number, ticks: int = 1) -> Decimal:
        """The valid price ``ticks`` steps above ``price`` (which is snapped down first)."""
        p = self.snap_price(price, "down")
        for _ in range(ticks):
            p = p + self.tick_schedule.tick_at(p)
        return p

    def tick_down(self, price: Number, ticks: int = 1) -> Decimal:
        """The valid price ``ticks`` steps below ``price`` (snapped up first); never below one tick."""
        p = self.snap_price(price, "up")
        for _ in range(ticks):
            below = self.tick_schedule.tick_below(p)
            if p - below <= 0:
                break
            p = p - below
        return p

    def price_limits(self, base_price: Number) -> tuple[Decimal, Decimal] | None:
        """(lower, upper) daily price limits around ``base_price``, or None if unbanded.

        KRX computes base * (1 -+ 30%) and keeps the limits on valid ticks inside
        the band: the upper limit rounds down, the lower limit rounds up.
        """
        if self.price_band_pct is None:
            return None
        base = to_decimal(base_price, what="base price")
        upper = self.snap_price(base * (ONE + self.price_band_pct), "down")
        lower = self.snap_price(base * (ONE - self.price_band_pct), "up")
        return lower, upper

    # ---- quantities ---------------------------------------------------------
    def snap_qty(self, qty: Number, rounding: Rounding = "down") -> Decimal:
        """Quantity rounded to a whole number of lots (down by default)."""
        q = to_decimal(qty, what="quantity")
        mode = {"down": ROUND_DOWN, "up": ROUND_CEILING, "nearest": ROUND_HALF_UP}.get(rounding)
        if mode is None:
            raise ValueError(f"rounding must be 'down', 'up' or 'nearest', got {rounding!r}")
        lots = (q / self.lot_size).to_integral_value(rounding=mode)
        return (lots * self.lot_size).quantize(self.lot_size) if lots else ZERO

    def is_valid_qty(self, qty: Number) -> bool:
        q = to_decimal(qty, what="quantity")
        return q >= self.min_qty and q % self.lot_size == 0

    # ---- money --------------------------------------------------------------
    def notional(self, price: Number, qty: Number) -> Decimal:
        return to_decimal(price, what="price") * to_decimal(qty, what="quantity") * self.contract_size

    def fees_for(
        self,
        side: Side,
        price: Number,
        qty: Number,
        liquidity: Liquidity = Liquidity.TAKER,
        on: date | None = None,
    ) -> Fees:
        """Commission and tax of one fill, each truncated to the currency unit."""
        notional = self.notional(price, qty)
        commission = notional * self.fees.commission_rate(liquidity)
        tax = notional * self.fees.tax_rate(side, on)
        return Fees(
            commission=commission.quantize(self.currency_unit, rounding=ROUND_DOWN),
            tax=tax.quantize(self.currency_unit, rounding=ROUND_DOWN),
        )


# ---- factories ---------------------------------------------------------------


def krx_stock(
    code: str,
    *,
    name: str = "",
    board: str = "KOSPI",
    etf: bool = False,
    commission: Number = KRX_COMMISSION,
) -> Instrument:
    """A KRX-listed stock (or ETF/ETN with ``etf=True``), priced in whole won.

    >>> krx_stock("005930").tick_size(71_000)
    Decimal('100')
    """
    if board not in KRX_SELL_TAX:
        raise ValueError(f"board must be one of {sorted(KRX_SELL_TAX)}, got {board!r}")
    rate = to_decimal(commission, what="commission")
    return Instrument(
        symbol=code,
        venue="KRX",
        asset_class=AssetClass.ETF if etf else AssetClass.EQUITY,
        currency="KRW",
        tick_schedule=KRX_ETF_TICKS if etf else KRX_STOCK_TICKS,
        lot_size=ONE,
        min_qty=ONE,
        price_band_pct=Decimal("0.30"),
        # ETFs and ETNs are exempt from the securities transaction tax.
        fees=FeeSchedule(maker=rate, taker=rate, sell_tax=() if etf else KRX_SELL_TAX[board]),
        currency_unit=ONE,
        calendar="XKRX",
        name=name,
        board=board,
        allows_short=False,
    )


def us_stock(symbol: str, *, name: str = "", commission: Number = 0) -> Instrument:
    """A US-listed stock on the NYSE calendar with a one-cent tick."""
    rate = to_decimal(commission, what="commission")
    return Instrument(
        symbol=symbol,
        venue="NYSE",
        asset_class=AssetClass.EQUITY,
        currency="USD",
        tick_schedule=TickSchedule.constant(Decimal("0.01")),
        fees=FeeSchedule(maker=rate, taker=rate),
        currency_unit=Decimal("0.01"),
        calendar="XNYS",
        name=name,
        allows_short=True,
    )


def crypto_spot(
    symbol: str,
    *,
    venue: str = "BINANCE",
    tick: Number = "0.01",
    lot: Number = "0.00001",
    min_qty: Number | None = None,
    min_notional: Number = 5,
    maker: Number = "0.001",
    taker: Number = "0.001",
) -> Instrument:
    """A spot pair such as ``BTC/USDT``; rules normally come from the venue's markets."""
    base, _, quote = symbol.partition("/")
    lot_d = to_decimal(lot, what="lot size")
    return Instrument(
        symbol=symbol,
        venue=venue,
        asset_class=AssetClass.CRYPTO_SPOT,
        currency=quote or "USDT",
        tick_schedule=TickSchedule.constant(tick),
        lot_size=lot_d,
        min_qty=lot_d if min_qty is None else to_decimal(min_qty, what="min qty"),
        min_notional=to_decimal(min_notional, what="min notional"),
        fees=FeeSchedule(maker=to_decimal(maker), taker=to_decimal(taker)),
        currency_unit=Decimal("0.00000001"),
        calendar="24/7",
        allows_short=False,
        base_asset=base,
    )


def crypto_perp(
    symbol: str,
    *,
    venue: str = "BINANCE",
    tick: Number = "0.1",
    lot: Number = "0.001",
    min_notional: Number = 5,
    maker: Number = "0.0002",
    taker: Number = "0.0005",
    max_leverage: Number = 20,
    contract_size: Number = 1,
) -> Instrument:
    """A linear perpetual such as ``BTC/USDT:USDT``: long or short, with leverage."""
    base, _, rest = symbol.partition("/")
    quote = rest.split(":")[0] or "USDT"
    lot_d = to_decimal(lot, what="lot size")
    return Instrument(
        symbol=symbol,
        venue=venue,
        asset_class=AssetClass.CRYPTO_PERP,
        currency=quote,
        tick_schedule=TickSchedule.constant(tick),
        lot_size=lot_d,
        min_qty=lot_d,
        min_notional=to_decimal(min_notional, what="min notional"),
        fees=FeeSchedule(maker=to_decimal(maker), taker=to_decimal(taker)),
        currency_unit=Decimal("0.00000001"),
        calendar="24/7",
        contract_size=to_decimal(contract_size, what="contract size"),
        max_leverage=to_decimal(max_leverage, what="max leverage"),
        allows_short=True,
        base_asset=base,
    )
