"""KRX trading rules as the fake venue applies them (its own copy, on purpose).

The venue is the authority in a test: the adapter's pre-checks come from the
engine's ``Instrument`` and must agree with these (a test checks that they do).
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_DOWN, Decimal

# (upper bound exclusive, tick) since 2023-01-25; KOSPI, KOSDAQ and KONEX alike.
_STOCK_TICKS = ((2_000, 1), (5_000, 5), (20_000, 10), (50_000, 50), (200_000, 100),
                (500_000, 500))
_TOP_TICK = 1_000
ETF_TICK = 5

# Securities transaction tax (with the rural special tax on KOSPI), by start date.
_SELL_TAX = ((date(2023, 1, 1), Decimal("0.0020")), (date(2024, 1, 1), Decimal("0.0018")),
             (date(2025, 1, 1), Decimal("0.0015")), (date(2026, 1, 1), Decimal("0.0020")))
_KONEX_TAX = Decimal("0.0010")

MOCK_COMMISSION = Decimal("0.0035")  # Kiwoom's mock server charges 0.35%
REAL_COMMISSION = Decimal("0.00015")


def tick_size(price: int, etf: bool = False) -> int:
    if etf:
        return ETF_TICK
    for bound, tick in _STOCK_TICKS:
        if price < bound:
            return tick
    return _TOP_TICK


def on_tick(price: int, etf: bool = False) -> bool:
    return price > 0 and price % tick_size(price, etf) == 0


def price_limits(base: int, etf: bool = False) -> tuple[int, int]:
    """(lower, upper) daily limits: base -+ 30%, on valid ticks inside the band."""
    upper_raw = base * 13 // 10  # floor(base * 1.3)
    upper = upper_raw - upper_raw % tick_size(upper_raw, etf)
    lower_raw = -(-base * 7 // 10)  # ceil(base * 0.7)
    step = tick_size(lower_raw, etf)
    lower = lower_raw + (-lower_raw) % step
    return lower, upper


def sell_tax_rate(board: str, on: date, etf: bool = False) -> Decimal:
    if etf:
        return Decimal(0)
    if board == "KONEX":
        return _KONEX_TAX
    rate = Decimal("0.0023")
    for start, r in _SELL_TAX:
        if on >= start:
            rate = r
    return rate


def fee(amount: int, rate: Decimal) -> int:
    """Fees and taxes are truncated to the won."""
    return int((Decimal(amount) * rate).quantize(Decimal(1), rounding=ROUND_DOWN))
