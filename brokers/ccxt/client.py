"""The ccxt exchange object: environment, options, credentials, and a tap on the wire.

``build_exchange`` makes a ``ccxt.pro.binance`` (REST through
``ccxt.async_support``, streams through ccxt's websocket client) bound to the
caller's running loop, in the configured environment:

* ``testnet``: ``set_sandbox_mode(True)`` - testnet.binance.vision, spot only;
* ``demo``: ``enable_demo_trading(True)`` - demo-api / demo-fapi, spot and USD-M;
* ``live``: Binance itself (only with ``live = true``, see ``config``).

``TapBinance`` adds one thing to ccxt's class: every decoded websocket message
is shown to ``tt_tap(url, message)`` before ccxt handles it. The adapter uses
it for user-data events (each execution with its trade id, in order; ccxt's
order cache would coalesce them) and for the kline ``x`` (closed) flag that
ccxt drops. The tap never raises into ccxt: an exception there would stop
ccxt's receive loop for that socket.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import ccxt.pro

from brokers.ccxt.config import LINEAR, SPOT, CcxtConfig
from brokers.ccxt.credentials import Credentials

log = logging.getLogger(__name__)

Tap = Callable[[str, Any], None]


class TapBinance(ccxt.pro.binance):
    """ccxt.pro.binance with a tap on raw websocket messages."""

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config or {})
        self.tt_tap: Tap | None = None

    def handle_message(self, client: Any, message: Any) -> Any:
        tap = self.tt_tap
        if tap is not None:
            try:
                tap(client.url, message)
            except Exception:
                log.exception("handling a websocket message from %s failed", client.url)
        return super().handle_message(client, message)


def kind_of_url(url: str) -> str:
    """Which market a websocket URL belongs to (USD-M hosts say fstream/fapi/binancefuture)."""
    return LINEAR if any(k in url for k in ("fstream", "fapi", "binancefuture")) else SPOT


def build_exchange(config: CcxtConfig, credentials: Credentials | None, *,
                   session: Any = None, logger: logging.Logger | None = None) -> TapBinance:
    options: dict[str, Any] = {
        "fetchMarkets": {"types": list(config.markets)},
        "fetchCurrencies": False,  # needs sapi, which testnet and demo do not have
        "fetchMargins": False,
        "recvWindow": config.recv_window_ms,
        "adjustForTimeDifference": False,  # measured by the adapter, on connect and periodically
        "warnOnFetchOpenOrdersWithoutSymbol": False,
        "watchOrderBookLimit": max(100, config.book_depth * 5),
        "newOrderRespType": {"market": "FULL", "limit": "FULL"},
        "defaultType": SPOT if SPOT in config.markets else "swap",
        # ccxt offers permessage-deflate by default and Binance accepts it; inflating every
        # depth update costs more CPU (and latency) than a desktop's bandwidth saves.
        "ws": {"compress": 15 if config.ws_compression else 0},
    }
    params: dict[str, Any] = {"enableRateLimit": config.rate_limit, "timeout": config.request_timeout_ms,
                              "options": options}
    if session is not None:
        params["session"] = session
    if credentials is not None:
        params["apiKey"] = credentials.api_key.reveal()
        params["secret"] = credentials.secret.reveal()
    exchange = TapBinance(params)
    if logger is not None:
        exchange.logger = logger
    if config.environment == "testnet":
        exchange.set_sandbox_mode(True)
    elif config.environment == "demo":
        exchange.enable_demo_trading(True)
    return exchange
