"""``CcxtBroker``: Binance spot and USD-M futures through ccxt, on the caller's event loop.

Connecting (``connect``): a ccxt exchange is built for the configured
environment (spot testnet / demo / live, see ``config``), markets are loaded
and turned into ``Instrument``s, the clock offset to Binance is measured
(``load_time_difference``, again every ``time_sync_s`` and after any -1021),
USD-M margin mode and leverage are set per symbol, then - with API keys -
the account is reconciled and the user-data streams start. Market data
streams start as they are subscribed (``data``). Orders: ``execution``.

Connection state: CONNECTING -> CONNECTED; RECONNECTING while any stream is
down (each retries with backoff and jitter on its own); FAILED when connecting
failed or Binance refused the API key ``max_auth_errors`` times in a row
(every such refusal is also a critical ``RiskEvent`` and goes to
``on_broker_error``, which the application points at
``TradingEngine.report_broker_error`` so the kill switch can trip).

Secrets never leave ``credentials``: ccxt's own logger is replaced by one that
redacts them, and every error message is scrubbed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

import pandas as pd

from brokers.ccxt.client import build_exchange, kind_of_url
from brokers.ccxt.config import LINEAR, SPOT, CcxtConfig
from brokers.ccxt.credentials import Credentials, RedactingFilter, scrub
from brokers.ccxt.data import MarketData
from brokers.ccxt.errors import Action, classify, reason
from brokers.ccxt.execution import Execution
from brokers.ccxt.instruments import instrument_from_market, market_kind
from brokers.ccxt.parsing import AccountReport, VenueTrade, user_event
from brokers.ccxt.streams import Backoff, Health
from engine.bus import EventBus
from engine.clock import Clock
from engine.execution.broker import (
    Broker,
    BrokerCapabilities,
    BrokerError,
    BrokerUnavailable,
)
from engine.models import (
    Account,
    ConnectionState,
    Fill,
    Instrument,
    Order,
    OrderType,
    Position,
    RiskEvent,
    TimeInForce,
)

log = logging.getLogger(__name__)
ZERO = Decimal(0)
CONNECT_ATTEMPTS = 3

ErrorSink = Callable[[str, BaseException | str], None]


class CcxtBroker(Broker):
    capabilities = BrokerCapabilities(
        order_types=frozenset({OrderType.MARKET, OrderType.LIMIT, OrderType.STOP,
                               OrderType.STOP_LIMIT}),
        time_in_force=frozenset({TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK}),
        amend=False, reduce_only=True, post_only=True, short_selling=True)

    def __init__(self, name: str, bus: EventBus, clock: Clock, *, config: CcxtConfig,
                 credentials: Credentials | None = None,
                 session_factory: Callable[[], Any] | None = None,
                 on_broker_error: ErrorSink | None = None,
                 close_grace_ms: int = 250) -> None:
        super().__init__(name, bus, clock, live=config.is_live)
        self.config = config
        self.credentials = credentials
        self.session_factory = session_factory
        self.on_broker_error = on_broker_error
        self.close_grace_ms = close_grace_ms
        self.exchange: Any = None
        self.streaming = False
        self.health = Health(self._health_changed)
        self.market_data = MarketData(self)
        self.execution = Execution(self)
        self.auth_failures = 0
        self.time_offset_ms = 0
        self.venue_balances: dict[tuple[str, str], Decimal] = {}
        self.venue_positions: dict[str, Decimal] = {}
        self._instruments: dict[str, Instrument] = {}
        self._markets: dict[str, dict[str, Any]] = {}
        self._by_id: dict[tuple[str, str], str] = {}
        self._session: Any = None
        self._tasks: list[asyncio.Task[Any]] = []
        self._user_tasks: list[asyncio.Task[Any]] = []
        self._user_ready: dict[str, asyncio.Event] = {}
        self._user_auth_error: BaseException | None = None
        # ccxt logs every request with its headers (X-MBX-APIKEY) at DEBUG: its logger is
        # replaced by this one, which redacts the keys while the broker is connected.
        self._wire_log = logging.getLogger(f"brokers.ccxt.wire.{name}")
        self._redact = RedactingFilter(credentials) if credentials is not None else None

    def __repr__(self) -> str:
        return (f"CcxtBroker(name={self.name!r}, environment={self.config.environment!r}, "
                f"markets={self.config.markets!r}, keys={'yes' if self.credentials else 'no'})")

    # ---- connection ---------------------------------------------------------------------
    @property
    def can_trade(self) -> bool:
        return self.credentials is not None and self.exchange is not None

    async def connect(self) -> None:
        if self.state is ConnectionState.CONNECTED and self.exchange is not None:
            return
        where = f"Binance {self.config.environment}"
        self._set_state(ConnectionState.CONNECTING, where)
        try:
            await self._open()
        except Exception as exc:
            why = reason(exc, self.credentials)
            if classify(exc) is Action.AUTH:
                self.auth_failed(why, raised=True)
            await self._close()
            self._set_state(ConnectionState.FAILED, why)
            raise BrokerError(f"{self.name}: could not connect to {where}: {why}") from None
        detail = where + (" - LIVE" if self.live else "")
        if self.credentials is None:
            detail += " (market data only: no API key)"
        self._set_state(ConnectionState.CONNECTED, detail)

    async def _open(self) -> None:
        if self._redact is not None:
            self._wire_log.addFilter(self._redact)
        self._session = self.session_factory() if self.session_factory else None
        self.exchange = build_exchange(self.config, self.credentials, session=self._session,
                                       logger=self._wire_log)
        self.exchange.tt_tap = self._tap
        backoff = self.new_backoff()
        for attempt in range(CONNECT_ATTEMPTS):
            try:
                await self.exchange.load_markets()
                break
            except Exception as exc:
                if classify(exc) not in (Action.RETRY, Action.UNKNOWN) or \
                        attempt == CONNECT_ATTEMPTS - 1:
                    raise
                await asyncio.sleep(backoff.next())
        await self.sync_time()
        self._build_instruments()
        self.streaming = True
        if self.credentials is not None:
            # One signed request per market first: a refused key is an AuthenticationError
            # here, where ccxt's ws-api path would mask it (a KeyError on cleanup).
            for kind in self.config.markets:
                await self.execution.venue_holdings(kind)
            await self._setup_futures()
            # Streams first, then reconcile: an event between the two is seen by the
            # stream; one before the stream, by the reconciliation. Nothing falls between.
            self._user_ready = {kind: asyncio.Event() for kind in self.config.markets}
            self._user_auth_error = None
            for kind in self.config.markets:
                self._user_tasks.append(asyncio.get_running_loop().create_task(
                    self._user_stream(kind), name=f"{self.name} user {kind}"))
            await self._wait_user_streams()
            await self.execution.reconcile("connect")
            self.auth_ok()
        self.market_data.start_all()
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._housekeeping(), name=f"{self.name} housekeeping"),
                       loop.create_task(self.market_data.funding_loop(),
                                        name=f"{self.name} funding")]

    async def _wait_user_streams(self) -> None:
        """Until every user stream is subscribed; an authentication refusal fails at once."""
        timeout = self.config.request_timeout_ms / 1000 * 3
        deadline = asyncio.get_running_loop().time() + timeout
        while not all(e.is_set() for e in self._user_ready.values()):
            if self._user_auth_error is not None:
                raise self._user_auth_error
            if asyncio.get_running_loop().time() > deadline:
                down = "; ".join(f"{k}: {v}" for k, v in self.health.down_since.items())
                raise BrokerError(f"the user-data stream did not start within {timeout:g} s"
                                  + (f" ({down})" if down else ""))
            await asyncio.sleep(0.01)

    async def disconnect(self) -> None:
        await self._close()
        self._set_state(ConnectionState.DISCONNECTED, "")

    async def _close(self) -> None:
        self.streaming = False
        tasks, self._tasks = [*self._tasks, *self._user_tasks], []
        self._user_tasks = []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.market_data.stop_all()
        await self.execution.close()
        self.health.down_since.clear()
        if self.exchange is not None:
            self.exchange.timeout_on_exit = self.close_grace_ms
            try:
                await self.exchange.close()
            except Exception as exc:
                log.warning("closing ccxt failed: %s", reason(exc, self.credentials))
            self.exchange = None
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._redact is not None:
            self._wire_log.removeFilter(self._redact)

    def _health_changed(self, healthy: bool, detail: str) -> None:
        if self.state in (ConnectionState.FAILED, ConnectionState.DISCONNECTED,
                          ConnectionState.CONNECTING):
            return
        if healthy:
            self._set_state(ConnectionState.CONNECTED, "streams recovered")
        else:
            self._set_state(ConnectionState.RECONNECTING, detail)

    def socket_open(self, subscription: str) -> bool:
        """True when a connected ccxt websocket carries ``subscription`` (e.g. trade::BTC/USDT)."""
        if self.exchange is None:
            return False
        for client in list(self.exchange.clients.values()):
            if subscription in client.subscriptions and not client.closed():
                connected = client.connected
                if connected.done() and not connected.cancelled() and \
                        connected.exception() is None:
                    return True
        return False

    def clear_dial_backoff(self) -> None:
        """Forget ccxt's own per-URL dial backoff: the adapter's backoff has just waited."""
        if self.exchange is not None:
            self.exchange.ws_dial_backoff = {}

    def new_backoff(self) -> Backoff:
        return Backoff(self.config.backoff_initial_s, self.config.backoff_max_s)

    async def sync_time(self) -> None:
        """Measure Binance's clock against ours; signed requests are stamped with it."""
        await self.exchange.load_time_difference()
        offset = int(self.exchange.options.get("timeDifference") or 0)
        if abs(offset - self.time_offset_ms) > 500 or abs(offset) > 1000:
            log.info("%s: local clock is %+d ms off Binance's", self.name, offset)
        self.time_offset_ms = offset

    def venue_now_ms(self) -> int:
        return int(self.exchange.milliseconds()) - self.time_offset_ms

    async def _setup_futures(self) -> None:
        if LINEAR not in self.config.markets:
            return
        import ccxt

        for symbol in self._instruments:
            if self._markets[symbol].get("linear") is not True:
                continue
            mode = self.config.margin_mode_for(symbol)
            if mode is not None:
                try:
                    await self.exchange.set_margin_mode(mode, symbol)
                except ccxt.MarginModeAlreadySet:
                    pass
                except ccxt.AuthenticationError:
                    raise
                except Exception as exc:
                    self.risk_event("margin_mode", f"{symbol}: could not set {mode} margin: "
                                    f"{reason(exc, self.credentials)}", symbol=symbol)
            leverage = self.config.leverage_for(symbol)
            if leverage is not None:
                try:
                    await self.exchange.set_leverage(leverage, symbol)
                except ccxt.AuthenticationError:
                    raise
                except Exception as exc:
                    self.risk_event("leverage", f"{symbol}: could not set leverage {leverage}: "
                                    f"{reason(exc, self.credentials)}", symbol=symbol)

    async def _housekeeping(self) -> None:
        """Periodic reconciliation, clock re-measurement and stale-book checks."""
        stale = self.config.book_stale_s
        tick = min(1.0, self.config.reconcile_interval_s, stale / 2 if stale else 1.0)
        loop = asyncio.get_running_loop()
        next_reconcile = loop.time() + self.config.reconcile_interval_s
        next_sync = loop.time() + self.config.time_sync_s
        while True:
            await asyncio.sleep(tick)
            now = loop.time()
            self.market_data.check_stale()
            if now >= next_sync:
                next_sync = now + self.config.time_sync_s
                try:
                    await self.sync_time()
                except Exception as exc:
                    log.warning("clock sync failed: %s", reason(exc, self.credentials))
            if now >= next_reconcile and self.state is ConnectionState.CONNECTED:
                next_reconcile = now + self.config.reconcile_interval_s
                self.execution.request_reconcile("periodic")

    # ---- user data ----------------------------------------------------------------------
    async def _user_stream(self, kind: str) -> None:
        """Keep the user-data stream of ``kind`` open; events arrive through the tap."""
        name = f"user:{kind}"
        backoff = self.new_backoff()
        params = {"type": "spot"} if kind == SPOT else {"type": "swap", "subType": "linear"}
        failures = 0
        while True:
            try:
                watch = asyncio.ensure_future(self.exchange.watch_orders(None, None, None,
                                                                         dict(params)))
                try:
                    await self._user_connected(kind, params, watch)
                    self._user_ready[kind].set()
                    if failures:
                        log.info("%s recovered; reconciling", name)
                        failures = 0
                        backoff.reset()
                        await self.execution.reconcile("user stream reconnected")
                        self.health.up(name)
                    self.auth_ok()
                    while True:
                        await watch
                        watch = asyncio.ensure_future(
                            self.exchange.watch_orders(None, None, None, dict(params)))
                finally:
                    if not watch.done():
                        watch.cancel()
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise
                failures += 1
            except Exception as exc:
                failures += 1
                why = reason(exc, self.credentials)
                if classify(exc) is Action.AUTH:
                    if not self._user_ready[kind].is_set():
                        self._user_auth_error = exc  # connect() reports it
                    else:
                        self.auth_failed(why)
                if failures == 1:
                    log.warning("%s failed: %s; reconnecting", name, why)
                self.health.down(name, why)
                await asyncio.sleep(backoff.next())
                self.clear_dial_backoff()

    async def _user_connected(self, kind: str, params: dict[str, str],
                              watch: asyncio.Future[Any]) -> None:
        """Wait until the user stream is subscribed (spot) or its socket is open (USD-M)."""
        ex = self.exchange
        await ex.authenticate(dict(params))
        if kind == SPOT:
            return  # the ws-api subscription was acknowledged inside authenticate()
        key = (ex.options.get(LINEAR) or {}).get("listenKey")
        client = ex.client(ex.get_private_ws_url(LINEAR, key))
        done, _ = await asyncio.wait({asyncio.ensure_future(client.connected), watch},
                                     return_when=asyncio.FIRST_COMPLETED)
        if watch in done:
            watch.result()  # raises the stream's error

    def _tap(self, url: str, message: Any) -> None:
        """Every websocket message, before ccxt handles it (see ``client.TapBinance``)."""
        if not isinstance(message, dict):
            return
        event = message.get("e")
        if event == "kline":
            self.market_data.on_kline(kind_of_url(url), message)
            return
        if event == "depthUpdate" or event == "trade" or event == "aggTrade":
            return
        found = user_event(message)
        if found is None:
            return
        name, payload = found
        kind = SPOT if "ws-api" in url and "fapi" not in url else kind_of_url(url)
        if name == "ACCOUNT_UPDATE" and (payload.get("a") or {}).get("m") == "FUNDING_FEE":
            self.market_data.funding_wakeup.set()
        if name == "listenKeyExpired":
            self.exchange.options.setdefault(LINEAR, {})["lastAuthenticatedTime"] = 0
            return
        self.execution.on_user_event(kind, name, payload)

    def on_account_report(self, report: AccountReport) -> None:
        """Balances and positions as the stream last said (reconciliation asks over REST)."""
        for asset, total in report.balances.items():
            self.venue_balances[(report.kind, asset)] = total
        for market_id, amount in report.positions.items():
            self.venue_positions[self.symbol_for(report.kind, market_id)] = amount

    # ---- auth ---------------------------------------------------------------------------
    def auth_failed(self, why: str, *, raised: bool = False) -> None:
        """Count a refused key. ``raised``: the caller raises it to the engine, which counts
        it itself; only failures the engine cannot see go to ``on_broker_error``."""
        self.auth_failures += 1
        message = f"{self.name}: Binance refused the API key ({why})"
        log.error(message)
        self.risk_event("broker_auth_failed", message, severity="critical")
        if self.on_broker_error is not None and not raised:
            try:
                self.on_broker_error(self.name, BrokerError(message))
            except Exception:
                log.exception("reporting a broker error failed")
        if self.auth_failures >= self.config.max_auth_errors and \
                self.state is not ConnectionState.FAILED:
            self._set_state(ConnectionState.FAILED, f"authentication failed "
                            f"{self.auth_failures} times: {why}")

    def report_error(self, message: str) -> None:
        """A failure that retrying did not cure: tell ``on_broker_error`` (the kill switch)."""
        message = scrub(f"{self.name}: {message}", self.credentials)
        self.risk_event("broker_error", message, severity="critical")
        if self.on_broker_error is not None:
            try:
                self.on_broker_error(self.name, BrokerError(message))
            except Exception:
                log.exception("reporting a broker error failed")

    def auth_ok(self) -> None:
        self.auth_failures = 0

    def risk_event(self, code: str, message: str, *, symbol: str = "",
                   client_order_id: str = "", severity: str = "warning",
                   details: dict[str, object] | None = None) -> None:
        message = scrub(message, self.credentials)
        self.bus.publish(RiskEvent(code=code, message=message, ts_ns=self.clock.now_ns(),
                                   symbol=symbol, broker=self.name,
                                   client_order_id=client_order_id, severity=severity,
                                   details=details or {}))

    # ---- reference data -----------------------------------------------------------------
    def _build_instruments(self) -> None:
        self._instruments.clear()
        self._markets.clear()
        self._by_id.clear()
        wanted = set(self.config.symbols)
        for symbol, market in self.exchange.markets.items():
            kind = market_kind(market)
            if kind not in self.config.markets or (wanted and symbol not in wanted):
                continue
            inst = instrument_from_market(market, leverage=self.config.leverage_for(symbol))
            if inst is None:
                continue
            self._instruments[symbol] = inst
            self._markets[symbol] = market
            self._by_id[(kind, market["id"])] = symbol
        missing = wanted - set(self._instruments)
        if missing:
            raise BrokerError(f"{self.name}: Binance {self.config.environment} has no "
                              f"{', '.join(sorted(missing))} among {', '.join(self.config.markets)}"
                              " markets")

    async def instruments(self) -> list[Instrument]:
        return list(self._instruments.values())

    def instrument(self, symbol: str) -> Instrument:
        inst = self._instruments.get(symbol)
        if inst is None:
            raise BrokerUnavailable(f"{symbol} is not a {self.name} instrument (known: "
                                    f"{', '.join(sorted(self._instruments)[:6]) or 'none'})")
        return inst

    def market(self, symbol: str) -> dict[str, Any]:
        self.instrument(symbol)
        return self._markets[symbol]

    def kind_of(self, symbol: str) -> str:
        return market_kind(self.market(symbol)) or SPOT

    def symbol_for(self, kind: str, market_id: str) -> str:
        return self._by_id.get((kind, market_id), market_id)

    def spot_symbols(self) -> list[str]:
        return [s for s, m in self._markets.items() if market_kind(m) == SPOT]

    def traded_symbols(self, kind: str) -> set[str]:
        return {t.symbol for t in self.execution.orders.values() if t.kind == kind}

    def normalize(self, symbol: str, quantity: Decimal | float | str,
                  price: Decimal | float | str | None = None) -> tuple[Decimal, Decimal | None]:
        """Quantity and price as Binance will take them (ccxt's precision helpers, truncating).

        Call this before building an order intent, so risk checks what will be sent.
        """
        if self.exchange is None:
            raise BrokerUnavailable(f"{self.name} is not connected")
        self.instrument(symbol)
        qty = Decimal(self.exchange.amount_to_precision(symbol, str(quantity)))
        px = None if price is None else Decimal(self.exchange.price_to_precision(symbol,
                                                                                  str(price)))
        return qty, px

    def fee_in_kind(self, symbol: str, trade: VenueTrade) -> Decimal:
        """The units of the traded asset the venue kept as the fee (spot fees in the base)."""
        market = self._markets.get(symbol)
        if market is None or not market.get("spot") or trade.commission_asset != market["base"]:
            return ZERO
        return trade.commission

    def commission_in_quote(self, symbol: str, trade: VenueTrade) -> Decimal:
        """The fee of ``trade`` in the instrument's currency (base-asset fees at the fill price)."""
        market = self._markets.get(symbol)
        if market is None or trade.commission == 0:
            return trade.commission
        quote = market.get("settle") or market["quote"]
        if trade.commission_asset in ("", quote):
            return trade.commission
        if trade.commission_asset == market["base"]:
            return trade.commission * trade.price
        # e.g. BNB: no price for it here; charge the instrument's own rate instead
        inst = self._instruments[symbol]
        rate = inst.fees.maker if trade.maker else inst.fees.taker
        return (trade.qty * trade.price * rate).quantize(Decimal("0.00000001"))

    # ---- market data --------------------------------------------------------------------
    async def subscribe_ticks(self, symbols: Iterable[str]) -> None:
        await self.market_data.subscribe_ticks(list(symbols))

    async def subscribe_order_book(self, symbols: Iterable[str], depth: int = 10) -> None:
        await self.market_data.subscribe_order_book(list(symbols), depth)

    async def subscribe_bars(self, symbols: Iterable[str], timeframe: str = "1m") -> None:
        await self.market_data.subscribe_bars(list(symbols), timeframe)

    async def unsubscribe(self, symbols: Iterable[str]) -> None:
        await self.market_data.unsubscribe(list(symbols))

    async def fetch_bars(self, symbol: str, timeframe: str, start_ns: int | None = None,
                         end_ns: int | None = None) -> pd.DataFrame:
        self._require_connected()
        return await self.market_data.fetch_bars(symbol, timeframe, start_ns, end_ns)

    # ---- execution ----------------------------------------------------------------------
    def _require_connected(self) -> None:
        if self.exchange is None or self.state in (ConnectionState.DISCONNECTED,
                                                   ConnectionState.FAILED):
            raise BrokerUnavailable(f"{self.name} is {self.state.value.lower()}")

    def _require_trading(self) -> None:
        self._require_connected()
        if self.credentials is None:
            from brokers.ccxt.credentials import env_name

            name = self.config.secrets_name
            raise BrokerUnavailable(
                f"{self.name} has no API key: store it in the keyring, or set "
                f"{env_name(name, 'api_key')} and {env_name(name, 'secret')}")

    async def place_order(self, order: Order) -> None:
        self._require_trading()
        await self.execution.place(order)

    async def cancel_order(self, order: Order) -> None:
        self._require_trading()
        await self.execution.cancel(order)

    async def cancel_all(self, symbol: str | None = None) -> None:
        self._require_trading()
        await self.execution.cancel_all(symbol)

    async def fetch_open_orders(self) -> list[Order]:
        self._require_trading()
        return await self._query(self.execution.open_orders(), "open orders")

    async def fetch_positions(self) -> list[Position]:
        self._require_trading()
        return await self._query(self.execution.positions(), "positions")

    async def fetch_balances(self) -> list[Account]:
        self._require_trading()
        return await self._query(self._balances(), "balances")

    async def fetch_fills(self, since_ns: int | None = None) -> list[Fill]:
        self._require_trading()
        return await self._query(self.execution.fetched_fills(since_ns), "fills")

    async def reconcile(self, why: str = "requested") -> None:
        self._require_trading()
        await self._query(self.execution.reconcile(why), "reconciliation")

    async def _query(self, coro: Any, what: str) -> Any:
        try:
            return await coro
        except (BrokerError, asyncio.CancelledError):
            raise
        except Exception as exc:
            why = reason(exc, self.credentials)
            if classify(exc) is Action.AUTH:
                self.auth_failed(why, raised=True)
            raise BrokerError(f"{self.name}: fetching {what} failed: {why}") from None

    async def _balances(self) -> list[Account]:
        now = self.clock.now_ns()
        out: list[Account] = []
        if SPOT in self.config.markets:
            balance = await self.exchange.fetch_balance({"type": "spot"})
            for b in (balance.get("info") or {}).get("balances") or []:
                free, locked = Decimal(str(b.get("free", 0))), Decimal(str(b.get("locked", 0)))
                if free + locked:
                    out.append(Account(broker=self.name, currency=str(b["asset"]),
                                       cash=free + locked, equity=free + locked,
                                       buying_power=free, updated_ns=now))
        if LINEAR in self.config.markets:
            balance = await self.exchange.fetch_balance({"type": "swap", "subType": "linear"})
            for a in (balance.get("info") or {}).get("assets") or []:
                wallet = Decimal(str(a.get("walletBalance", 0)))
                if not wallet:
                    continue
                upnl = Decimal(str(a.get("unrealizedProfit", 0)))
                out.append(Account(broker=self.name, currency=str(a["asset"]), cash=wallet,
                                   equity=Decimal(str(a.get("marginBalance", wallet + upnl))),
                                   unrealized_pnl=upnl,
                                   margin_used=Decimal(str(a.get("initialMargin", 0))),
                                   buying_power=Decimal(str(a.get("availableBalance", 0))),
                                   updated_ns=now))
        return out
