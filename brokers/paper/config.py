"""Settings of the paper venue, validated with errors that name the key.

Settings come as a plain mapping (a TOML table such as ``[brokers.paper]``)::

    initial_cash = 10_000_000          # in ``currency``; or a table {KRW = ..., USDT = ...}
    currency = "KRW"
    latency_ms = 50                    # order, cancel and amend travel time
    slippage_bps = 5                   # market and stop fills priced from trades or bars
    fill_on_touch = false              # tick mode: a resting limit needs a trade THROUGH it
    bar_fill_on_touch = true           # bar mode: low <= limit fills a buy (backtesting.py)
    bar_participation = 0.1            # bar mode: at most 10% of a bar's volume per side
    bus_market_data = true             # consume Tick/OrderBook/Bar from the bus
    bar_timeframe = "1m"               # timeframe of the frames given to fetch_bars
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from engine.errors import ConfigError
from engine.models import Timeframe, to_decimal

NS_PER_MS = 1_000_000

DEFAULT_CURRENCY = "KRW"
DEFAULT_CASH = Decimal(10_000_000)


def _default_cash() -> dict[str, Decimal]:
    return {DEFAULT_CURRENCY: DEFAULT_CASH}


@dataclass(frozen=True, slots=True)
class PaperConfig:
    """How the paper venue behaves. Every field has a safe default."""

    cash: Mapping[str, Decimal] = field(default_factory=_default_cash)
    latency_ns: int = 0
    slippage_bps: Decimal = Decimal(0)
    fill_on_touch: bool = False
    bar_fill_on_touch: bool = True
    bar_participation: float | None = None
    bus_market_data: bool = True
    bar_timeframe: str = "1m"

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any] | None = None,
                      where: str = "[brokers.paper]") -> PaperConfig:
        """Build from a settings mapping; raises ``ConfigError`` naming the bad key."""
        s = dict(settings or {})
        unknown = sorted(set(s) - _KEYS)
        if unknown:
            raise ConfigError(f"{where}: unknown setting(s) {', '.join(unknown)}; "
                              f"allowed: {', '.join(sorted(_KEYS))}")
        currency = str(s.get("currency", DEFAULT_CURRENCY)).strip().upper()
        if not currency:
            raise ConfigError(f"{where} currency: must not be empty")
        return cls(
            cash=_cash(s.get("initial_cash", DEFAULT_CASH), currency, where),
            latency_ns=int(_number(s, "latency_ms", 0, where, lo=0, hi=60_000) * NS_PER_MS),
            slippage_bps=to_decimal(_number(s, "slippage_bps", 0, where, lo=0, hi=10_000)),
            fill_on_touch=_bool(s, "fill_on_touch", False, where),
            bar_fill_on_touch=_bool(s, "bar_fill_on_touch", True, where),
            bar_participation=_participation(s.get("bar_participation"), where),
            bus_market_data=_bool(s, "bus_market_data", True, where),
            bar_timeframe=_timeframe(s.get("bar_timeframe", "1m"), where),
        )


_KEYS = frozenset({
    "initial_cash", "currency", "latency_ms", "slippage_bps", "fill_on_touch",
    "bar_fill_on_touch", "bar_participation", "bus_market_data", "bar_timeframe",
})


def _number(s: Mapping[str, Any], key: str, default: float, where: str, *,
            lo: float, hi: float) -> float:
    value = s.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ConfigError(f"{where} {key}: expected a number in [{lo:g}, {hi:g}], got {value!r}")
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(f"{where} {key}: {value!r} is not a number") from None
    if not lo <= number <= hi:  # also refuses NaN
        raise ConfigError(f"{where} {key}: {value!r} is outside the allowed range [{lo:g}, {hi:g}]")
    return number


def _bool(s: Mapping[str, Any], key: str, default: bool, where: str) -> bool:
    value = s.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"{where} {key}: expected true or false, got {value!r}")
    return value


def _cash(value: Any, currency: str, where: str) -> dict[str, Decimal]:
    table = value if isinstance(value, Mapping) else {currency: value}
    out: dict[str, Decimal] = {}
    for cur, amount in table.items():
        key = f"initial_cash.{cur}" if isinstance(value, Mapping) else "initial_cash"
        try:
            cash = to_decimal(amount, what=key)
        except ValueError as exc:
            raise ConfigError(f"{where} {key}: {exc}") from None
        if cash < 0:
            raise ConfigError(f"{where} {key}: must be >= 0, got {amount!r}")
        out[str(cur).strip().upper()] = cash
    if not out:
        raise ConfigError(f"{where} initial_cash: give at least one currency")
    return out


def _participation(value: Any, where: str) -> float | None:
    if value is None:
        return None
    number = _number({"bar_participation": value}, "bar_participation", 0, where, lo=0, hi=1)
    if number <= 0:
        raise ConfigError(f"{where} bar_participation: must be in (0, 1], got {value!r}; "
                          "leave it out for no volume limit")
    return number


def _timeframe(value: Any, where: str) -> str:
    try:
        return Timeframe.parse(str(value)).name
    except ValueError as exc:
        raise ConfigError(f"{where} bar_timeframe: {exc}") from None
