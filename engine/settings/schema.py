"""Every setting the terminal reads: its type, default, allowed values and one line of help.

A setting is addressed by its dotted path, ``section.key`` (``risk.max_position_pct``,
``brokers.binance.live``). The sections here are fixed; ``[strategy.<name>]`` has one
section per registered strategy, derived from the strategy's ``Param`` declarations
so their ranges are written once (in the strategy).

Percentages are percentages, as in seed 004: ``max_position_pct = 10`` means 10 %.
"""

from __future__ import annotations

import math
import re
import zoneinfo
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

Check = Callable[[Any], str | None]  # extra rule: an error message, or None when fine

# Key names that look like credentials. Such keys are refused wherever they appear.
_SECRET = re.compile(r"(^|_)(api_?key|secret|secret_?key|password|passwd|token|passphrase|"
                     r"private_?key|credentials?)($|_)")


def is_secret_name(name: str) -> bool:
    """True when a key's last part looks like a credential (``api_key``, ``password``...)."""
    return bool(_SECRET.search(name.rsplit(".", 1)[-1].lower()))


@dataclass(frozen=True, slots=True)
class Key:
    """One setting: where it lives, its type, default, allowed values and help."""

    section: str
    name: str
    kind: type  # bool, int, float, str, tuple (a list of str), or object (choices only)
    default: Any
    doc: str
    low: float | None = None
    high: float | None = None
    choices: tuple[Any, ...] | None = None
    check: Check | None = None

    @property
    def path(self) -> str:
        return f"{self.section}.{self.name}"

    def allowed(self) -> str:
        """The allowed values in words, for errors and ``config show``."""
        if self.choices is not None:
            return "one of: " + ", ".join(_show(c) for c in self.choices)
        if self.kind is bool:
            return "true or false"
        if self.kind in (int, float):
            noun = "an integer" if self.kind is int else "a number"
            if self.low is not None and self.high is not None:
                return f"{noun} between {fmt_number(self.low)} and {fmt_number(self.high)}"
            if self.low is not None:
                return f"{noun} >= {fmt_number(self.low)}"
            return noun
        if self.kind is tuple:
            return "a list of strings"
        return "a string"


def fmt_number(x: float) -> str:
    """``100`` not ``100.0``; ``1e+15`` stays readable."""
    if isinstance(x, int) or (isinstance(x, float) and x.is_integer() and abs(x) < 1e16):
        return str(int(x))
    return f"{x:g}"


def _show(value: Any) -> str:
    return f'"{value}"' if isinstance(value, str) else fmt_number(value) if isinstance(
        value, int | float) and not isinstance(value, bool) else str(value)


# ---- extra rules ----------------------------------------------------------------------------
def _timezone(value: str) -> str | None:
    if value == "local":
        return None
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return 'must be "local" or an IANA timezone such as Asia/Seoul or America/New_York'
    return None


def _timeframe(value: str) -> str | None:
    from engine.models.market import Timeframe

    try:
        Timeframe.parse(value)
    except ValueError as exc:
        return f"must be a bar length such as 1m, 5m, 1h, 1d ({exc})"
    return None


def _start(value: str) -> str | None:
    if not value:
        return None
    try:
        datetime.fromisoformat(value) if "T" in value or " " in value else date.fromisoformat(value)
    except ValueError:
        return 'must be empty (from the first bar) or a date such as "2024-01-02"'
    return None


def _url(value: str) -> str | None:
    if value and not re.match(r"^https?://[^\s/]+", value):
        return "must be empty or an http:// or https:// URL"
    return None


def _currency(value: str) -> str | None:
    if not re.fullmatch(r"[A-Z0-9]{2,10}", value):
        return "must be a currency code in capitals, such as KRW, USD or USDT"
    return None


def _digits(value: str) -> str | None:
    if value and not value.isdigit():
        return "must be empty (the login's first account) or the account number's digits"
    return None


def _markets(value: tuple[str, ...]) -> str | None:
    bad = [m for m in value if m not in ("spot", "linear")]
    if not value or bad:
        return 'must list "spot" and/or "linear"'
    return None


def _symbols_or_none(value: tuple[str, ...]) -> str | None:
    return _symbols(value) if value else None


def _symbols(value: tuple[str, ...]) -> str | None:
    if any(not s.strip() for s in value):
        return "must not contain empty symbols"
    return None


# ---- the fixed sections ---------------------------------------------------------------------
def _k(section: str, name: str, kind: type, default: Any, doc: str, **more: Any) -> Key:
    return Key(section, name, kind, default, doc, **more)


def _pct(section: str, name: str, default: float, doc: str, high: float = 100.0) -> Key:
    return _k(section, name, float, default, doc, low=0.0, high=high)


FIXED: tuple[Key, ...] = (
    # [app]
    _k("app", "log_level", str, "INFO", "least severe log level written",
       choices=("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")),
    _k("app", "timezone", str, "local", 'times shown in the window: "local" or an IANA zone',
       check=_timezone),
    _k("app", "default_broker", str, "paper", "broker used when an order names none",
       choices=("paper", "binance", "kiwoom")),
    # [data]
    _k("data", "folder", str, "", "where data files go (empty: the platform's user data folder)"),
    _k("data", "database_url", str, "",
       "SQLAlchemy URL of the database (empty: SQLite in the data folder)"),
    # [risk] -- names and meanings as in engine.risk.limits.RiskLimits and
    # engine.risk.portfolio.PortfolioLimits, so both build straight from this section.
    _pct("risk", "max_position_pct", 10.0, "largest position in one symbol, % of equity"),
    _pct("risk", "daily_max_loss_pct", 2.0, "stop new entries when the day's loss reaches this %"),
    _pct("risk", "target_daily_return_pct", 3.0,
         "stop new entries when the day's return reaches this %", high=1000.0),
    _pct("risk", "stop_loss_pct", 1.0, "exit a position this % below its entry (0: off)"),
    _pct("risk", "take_profit_pct", 2.0, "exit a position this % above its entry (0: off)",
         high=1000.0),
    _pct("risk", "trailing_stop_pct", 0.0, "exit this % below the best price since entry (0: off)"),
    _pct("risk", "max_drawdown_pct", 10.0, "kill switch when equity falls this % from its peak"),
    _pct("risk", "var_limit_pct", 5.0, "stop new entries when VaR exceeds this % of equity"),
    _k("risk", "var_confidence", float, 0.99, "confidence level of the VaR", low=0.5, high=0.9999),
    _k("risk", "var_window", int, 250, "equity returns kept for the VaR", low=20, high=100_000),
    _k("risk", "var_sample_seconds", float, 60.0, "one equity return per this many seconds",
       low=1.0, high=86_400.0),
    _k("risk", "flatten_at_session_end", bool, True, "close positions before the session ends"),
    _k("risk", "session_end_flatten_minutes", float, 5.0,
       "how many minutes before the close to flatten", low=0.0, high=600.0),
    _pct("risk", "max_gross_exposure_pct", 100.0, "all positions together, % of equity",
         high=10_000.0),
    _k("risk", "max_order_qty", float, 1e6, "largest quantity in one order", low=0.0, high=1e15),
    _k("risk", "max_order_notional", float, 1e8, "largest value of one order (account currency)",
       low=0.0, high=1e18),
    _pct("risk", "price_band_pct", 5.0, "refuse prices this % away from the last trade"),
    _k("risk", "max_orders_per_second", int, 5, "orders sent per second at most", low=1, high=1000),
    _k("risk", "max_active_orders", int, 50, "working orders at most", low=1, high=100_000),
    _k("risk", "max_cancels_per_window", int, 100, "cancels per window before new orders wait",
       low=1, high=1_000_000),
    _k("risk", "cancel_window_seconds", float, 60.0, "window of max_cancels_per_window",
       low=1.0, high=86_400.0),
    _k("risk", "duplicate_window_seconds", float, 2.0,
       "refuse the same order again within this many seconds", low=0.0, high=3600.0),
    _k("risk", "max_leverage", float, 3.0, "futures exposure at most this many times equity",
       low=1.0, high=125.0),
    # [kill_switch]
    _k("kill_switch", "flatten_positions", bool, True, "the kill switch also closes positions"),
    _k("kill_switch", "max_broker_errors", int, 5, "broker errors in the window that throw it",
       low=1, high=1000),
    _k("kill_switch", "broker_error_window_seconds", float, 60.0, "window of max_broker_errors",
       low=1.0, high=86_400.0),
    _k("kill_switch", "auto_on_broker_errors", bool, True, "throw it on repeated broker errors"),
    _k("kill_switch", "auto_on_daily_loss", bool, True, "throw it when daily_max_loss_pct is hit"),
    _k("kill_switch", "auto_on_drawdown", bool, True, "throw it when max_drawdown_pct is hit"),
    _k("kill_switch", "stale_data_seconds", float, 30.0,
       "market data older than this is stale (0: never)", low=0.0, high=3600.0),
    # [predictor]
    _k("predictor", "kind", str, "none", "the AI vote: none, the built-in model, or an HTTP model",
       choices=("none", "builtin", "http")),
    _k("predictor", "url", str, "", "endpoint of the HTTP model (kind = http)", check=_url),
    _k("predictor", "timeout_seconds", float, 2.0, "wait this long for an answer",
       low=0.1, high=60.0),
    _k("predictor", "retries", int, 2, "retries after a failed request", low=0, high=10),
    _k("predictor", "breaker_failures", int, 5, "failures in a row that stop asking",
       low=1, high=1000),
    _k("predictor", "breaker_reset_seconds", float, 60.0, "ask again after this long",
       low=1.0, high=3600.0),
    # [replay]
    _k("replay", "speed", object, 10, "simulated seconds per wall second",
       choices=(1, 10, 60, "max")),
    _k("replay", "symbols", tuple, ("AAPL", "MSFT", "IBM", "GOOG", "005930"),
       "symbols replayed in demo mode", check=_symbols),
    _k("replay", "timeframe", str, "1m", "bar length of the replayed data", check=_timeframe),
    _k("replay", "start", str, "", 'first day replayed, e.g. "2024-01-02" (empty: all)',
       check=_start),
    # [gui]
    _k("gui", "theme", str, "dark", "window colours", choices=("dark", "light")),
    _k("gui", "book_levels", int, 10, "price levels shown each side of the order book",
       low=10, high=20),
    _k("gui", "book_hz", float, 10.0, "order book and tables repaint at most this often",
       low=1.0, high=60.0),
    _k("gui", "max_table_rows", int, 1000, "rows kept in the trade, fill and log tables",
       low=100, high=1_000_000),
    # [brokers.paper] -- the keys of brokers.paper.PaperConfig.from_settings
    _k("brokers.paper", "enabled", bool, True, "the simulated venue (always safe)"),
    _k("brokers.paper", "initial_cash", float, 10_000_000.0, "starting cash in currency",
       low=0.0, high=1e15),
    _k("brokers.paper", "currency", str, "KRW", "account currency", check=_currency),
    _k("brokers.paper", "latency_ms", float, 50.0, "order, cancel and amend travel time",
       low=0.0, high=60_000.0),
    _k("brokers.paper", "slippage_bps", float, 5.0, "market and stop fills slip this much",
       low=0.0, high=10_000.0),
    _k("brokers.paper", "fill_on_touch", bool, False,
       "tick mode: a resting limit fills when touched (false: needs a trade through it)"),
    _k("brokers.paper", "bar_fill_on_touch", bool, True, "bar mode: a limit fills when touched"),
    _k("brokers.paper", "bar_participation", float, 0.0,
       "bar mode: share of a bar's volume one side may fill (0: no limit)", low=0.0, high=1.0),
    _k("brokers.paper", "bus_market_data", bool, True, "fill against the live market data"),
    _k("brokers.paper", "bar_timeframe", str, "1m", "bar length in bar mode", check=_timeframe),
    # [brokers.binance]
    _k("brokers.binance", "enabled", bool, False, "connect to Binance"),
    _k("brokers.binance", "markets", tuple, ("spot",),
       'what to trade: "spot" and/or "linear" (USD-M perpetual futures)', check=_markets),
    _k("brokers.binance", "environment", str, "",
       "empty: the spot testnet (spot only) or demo trading (with USD-M); live needs live = true",
       choices=("", "testnet", "demo", "live")),
    _k("brokers.binance", "symbols", tuple, (), "only these instruments (empty: all)",
       check=_symbols_or_none),
    _k("brokers.binance", "leverage", int, 0, "USD-M leverage set per symbol (0: the venue's)",
       low=0, high=125),
    _k("brokers.binance", "margin_mode", str, "", "USD-M margin mode (empty: the venue's)",
       choices=("", "cross", "isolated")),
    _k("brokers.binance", "reconcile_interval_s", float, 30.0,
       "compare venue orders, fills and positions with the journal this often",
       low=1.0, high=86_400.0),
    _k("brokers.binance", "live", bool, False, "allow real-money orders (off unless set here)"),
    # [brokers.kiwoom]
    _k("brokers.kiwoom", "enabled", bool, False, "connect to Kiwoom OpenAPI+ (Windows)"),
    _k("brokers.kiwoom", "python32_path", str, "", "32-bit Python with PyQt5 that hosts OpenAPI+"),
    _k("brokers.kiwoom", "account", str, "", "account number (empty: the login's first)",
       check=_digits),
    _k("brokers.kiwoom", "fake", bool, False, "run the fake control instead (demos, tests)"),
    _k("brokers.kiwoom", "live", bool, False, "allow real-money orders (off unless set here)"),
)

# Strategy parameters that mean the same as a general setting: unless set in the
# strategy's own section (user file, environment or override), the general one is used.
INHERITED: dict[str, str] = {
    "max_position_pct": "risk.max_position_pct",
    "stop_loss_pct": "risk.stop_loss_pct",
    "take_profit_pct": "risk.take_profit_pct",
    "target_daily_return_pct": "risk.target_daily_return_pct",
    "daily_max_loss_pct": "risk.daily_max_loss_pct",
    "flatten_minutes": "risk.session_end_flatten_minutes",
    "predictor": "predictor.kind",
    "ai_endpoint": "predictor.url",
    "ai_timeout_seconds": "predictor.timeout_seconds",
}


def strategy_keys(name: str, params: Iterable[Any]) -> list[Key]:
    """``[strategy.<name>]`` keys from a strategy's ``Param`` declarations."""
    keys = []
    for p in params:
        kind = p.kind if p.kind in (bool, int, float, str) else str
        keys.append(Key(
            f"strategy.{name}", p.name, kind, p.default, p.help or p.name.replace("_", " "),
            low=p.low, high=p.high, choices=None if p.choices is None else tuple(p.choices),
        ))
    return keys


class Schema:
    """All keys by path, with the sections they make up."""

    def __init__(self, keys: Sequence[Key]) -> None:
        self.keys: dict[str, Key] = {k.path: k for k in keys}
        self.sections: dict[str, list[Key]] = {}
        for k in keys:
            self.sections.setdefault(k.section, []).append(k)
        # "brokers" and "strategy" are tables of tables: every dotted prefix is a table.
        self.tables: set[str] = set()
        for section in self.sections:
            parts = section.split(".")
            self.tables.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))

    def __contains__(self, path: object) -> bool:
        return path in self.keys

    def __getitem__(self, path: str) -> Key:
        return self.keys[path]

    def __len__(self) -> int:
        return len(self.keys)


def build_schema() -> Schema:
    """The fixed sections plus one ``[strategy.<name>]`` per registered strategy."""
    from engine.strategy import get_strategy, strategy_names

    keys = list(FIXED)
    for name in strategy_names():
        keys += strategy_keys(name, get_strategy(name).params.values())
    return Schema(keys)


def is_finite(x: float) -> bool:
    return not (math.isnan(x) or math.isinf(x))
