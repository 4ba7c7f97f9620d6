"""Settings of the ccxt (Binance) adapter, validated with errors that name the key.

A ``[brokers.binance]`` table (any broker name works; the kind is ``ccxt``)::

    exchange = "binance"            # the ccxt exchange id; Binance is the one supported
    markets = ["spot"]              # spot and/or "linear" (USD-M perpetuals)
    environment = "testnet"         # testnet (spot only) | demo (spot + USD-M) | live
    live = false                    # must be true for environment = "live"
    symbols = ["BTC/USDT"]          # optional: only these instruments
    secrets_name = "binance"        # TT_SECRET_BINANCE_API_KEY / TT_SECRET_BINANCE_SECRET
    leverage = 5                    # USD-M: one number, or a table {"BTC/USDT:USDT" = 10}
    margin_mode = "isolated"        # USD-M: cross | isolated, or a table per symbol
    reconcile_interval_s = 30       # venue vs what was reported, also after every reconnect
    request_timeout_ms = 10000
    recv_window_ms = 10000          # Binance refuses a signed request older than this
    max_retries = 4                 # per order/cancel, on 429/418/5xx/timeouts
    backoff_initial_s = 0.5         # reconnect and retry backoff: doubles, with jitter,
    backoff_max_s = 30              #   up to this
    book_depth = 20                 # levels published per side
    book_stale_s = 60               # no book update for this long: resubscribe (0: never)
    funding_poll_s = 60             # USD-M funding rate and payments
    time_sync_s = 600               # re-measure the clock offset (load_time_difference)
    max_auth_errors = 3             # authentication failures in a row before FAILED
    backfill_bars = 100             # closed bars published when a bar stream starts
    rate_limit = true               # ccxt paces requests by Binance's weights; keep it on
    ws_compression = false          # permessage-deflate: less bandwidth, more CPU per message

The default environment is Binance's spot testnet when only spot is traded
and demo trading (spot and USD-M) otherwise; real money needs ``live = true``.
Credentials are never settings of this table unless given as a ``credentials``
table (tests, scripted use); see ``brokers.ccxt.credentials``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.errors import ConfigError

SPOT, LINEAR = "spot", "linear"
MARKET_TYPES = (SPOT, LINEAR)
ENVIRONMENTS = ("testnet", "demo", "live")
MARGIN_MODES = ("cross", "isolated")


@dataclass(frozen=True, slots=True)
class CcxtConfig:
    exchange: str = "binance"
    markets: tuple[str, ...] = (SPOT,)
    environment: str = "testnet"
    live: bool = False
    symbols: tuple[str, ...] = ()
    secrets_name: str = "binance"
    leverage: Mapping[str, int] = field(default_factory=dict)
    default_leverage: int | None = None
    margin_mode: Mapping[str, str] = field(default_factory=dict)
    default_margin_mode: str | None = None
    reconcile_interval_s: float = 30.0
    request_timeout_ms: int = 10_000
    recv_window_ms: int = 10_000
    max_retries: int = 4
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    book_depth: int = 20
    book_stale_s: float = 60.0
    funding_poll_s: float = 60.0
    time_sync_s: float = 600.0
    max_auth_errors: int = 3
    backfill_bars: int = 100
    rate_limit: bool = True
    ws_compression: bool = False

    @property
    def is_live(self) -> bool:
        return self.environment == "live"

    def leverage_for(self, symbol: str) -> int | None:
        return self.leverage.get(symbol, self.default_leverage)

    def margin_mode_for(self, symbol: str) -> str | None:
        return self.margin_mode.get(symbol, self.default_margin_mode)

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any] | None = None,
                      where: str = "[brokers.binance]") -> CcxtConfig:
        """Build from a settings mapping; raises ``ConfigError`` naming the bad key."""
        s = {k: v for k, v in dict(settings or {}).items() if k != "credentials"}
        unknown = sorted(set(s) - _KEYS)
        if unknown:
            raise ConfigError(f"{where}: unknown setting(s) {', '.join(unknown)}; "
                              f"allowed: {', '.join(sorted(_KEYS | {'credentials'}))}")
        exchange = str(s.get("exchange", "binance")).strip().lower()
        if exchange != "binance":
            raise ConfigError(f"{where} exchange: {exchange!r} is not supported yet; "
                              "allowed: binance")
        markets = _markets(s.get("markets", [SPOT]), where)
        live = _bool(s, "live", False, where)
        environment = _environment(s.get("environment"), markets, live, where)
        leverage, default_leverage = _per_symbol(s.get("leverage"), "leverage", where,
                                                 _leverage)
        margin, default_margin = _per_symbol(s.get("margin_mode"), "margin_mode", where,
                                             _margin_mode)
        return cls(
            exchange=exchange, markets=markets, environment=environment, live=live,
            symbols=_symbols(s.get("symbols", []), where),
            secrets_name=_name(s.get("secrets_name", exchange), where),
            leverage=leverage, default_leverage=default_leverage,
            margin_mode=margin, default_margin_mode=default_margin,
            reconcile_interval_s=_number(s, "reconcile_interval_s", 30, where, 1, 86_400),
            request_timeout_ms=int(_number(s, "request_timeout_ms", 10_000, where, 100, 120_000)),
            recv_window_ms=int(_number(s, "recv_window_ms", 10_000, where, 100, 60_000)),
            max_retries=int(_number(s, "max_retries", 4, where, 0, 20)),
            backoff_initial_s=_number(s, "backoff_initial_s", 0.5, where, 0.01, 60),
            backoff_max_s=_number(s, "backoff_max_s", 30, where, 0.01, 600),
            book_depth=int(_number(s, "book_depth", 20, where, 1, 1000)),
            book_stale_s=_number(s, "book_stale_s", 60, where, 0, 3600),
            funding_poll_s=_number(s, "funding_poll_s", 60, where, 0.05, 86_400),
            time_sync_s=_number(s, "time_sync_s", 600, where, 1, 86_400),
            max_auth_errors=int(_number(s, "max_auth_errors", 3, where, 1, 100)),
            backfill_bars=int(_number(s, "backfill_bars", 100, where, 0, 1000)),
            rate_limit=_bool(s, "rate_limit", True, where),
            ws_compression=_bool(s, "ws_compression", False, where),
        )


_KEYS = frozenset({
    "exchange", "markets", "environment", "live", "symbols", "secrets_name", "leverage",
    "margin_mode", "reconcile_interval_s", "request_timeout_ms", "recv_window_ms", "max_retries",
    "backoff_initial_s", "backoff_max_s", "book_depth", "book_stale_s", "funding_poll_s",
    "time_sync_s", "max_auth_errors", "backfill_bars", "rate_limit", "ws_compression",
})


def _markets(value: Any, where: str) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not items:
        raise ConfigError(f"{where} markets: expected a list such as [\"spot\", \"linear\"], "
                          f"got {value!r}")
    out = []
    for item in items:
        kind = str(item).strip().lower()
        if kind not in MARKET_TYPES:
            raise ConfigError(f"{where} markets: {item!r} is not supported; allowed: "
                              f"{', '.join(MARKET_TYPES)}")
        if kind not in out:
            out.append(kind)
    return tuple(out)


def _environment(value: Any, markets: tuple[str, ...], live: bool, where: str) -> str:
    if value is None:
        if live:
            return "live"
        return "testnet" if markets == (SPOT,) else "demo"
    env = str(value).strip().lower()
    if env not in ENVIRONMENTS:
        raise ConfigError(f"{where} environment: {value!r} is not one of "
                          f"{', '.join(ENVIRONMENTS)}")
    if env == "live" and not live:
        raise ConfigError(f"{where} environment: \"live\" trades real money and needs "
                          "live = true in the same table; use \"testnet\" or \"demo\" to practise")
    if env == "testnet" and LINEAR in markets:
        raise ConfigError(f"{where} environment: Binance's futures testnet is retired (ccxt "
                          "refuses it); use environment = \"demo\" for USD-M futures")
    return env


def _per_symbol(value: Any, key: str, where: str,
                check: Any) -> tuple[dict[str, Any], Any]:
    if value is None:
        return {}, None
    if isinstance(value, Mapping):
        return {str(sym): check(v, f"{key}.{sym}", where) for sym, v in value.items()}, None
    return {}, check(value, key, where)


def _leverage(value: Any, key: str, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 125:
        raise ConfigError(f"{where} {key}: expected a whole number in [1, 125], got {value!r}")
    return value


def _margin_mode(value: Any, key: str, where: str) -> str:
    mode = str(value).strip().lower()
    if mode not in MARGIN_MODES:
        raise ConfigError(f"{where} {key}: {value!r} is not one of {', '.join(MARGIN_MODES)}")
    return mode


def _symbols(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{where} symbols: expected a list of ccxt symbols such as "
                          f"[\"BTC/USDT\", \"BTC/USDT:USDT\"], got {value!r}")
    return tuple(value)


def _name(value: Any, where: str) -> str:
    text = str(value).strip()
    if not text or not text.replace("-", "").replace("_", "").isalnum():
        raise ConfigError(f"{where} secrets_name: {value!r} must be letters, digits, - or _")
    return text


def _number(s: Mapping[str, Any], key: str, default: float, where: str, lo: float,
            hi: float) -> float:
    value = s.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{where} {key}: expected a number in [{lo:g}, {hi:g}], got {value!r}")
    if not lo <= float(value) <= hi:  # also refuses NaN
        raise ConfigError(f"{where} {key}: {value!r} is outside the allowed range "
                          f"[{lo:g}, {hi:g}]")
    return float(value)


def _bool(s: Mapping[str, Any], key: str, default: bool, where: str) -> bool:
    value = s.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"{where} {key}: expected true or false, got {value!r}")
    return value
