"""A headless session against a real venue (Binance testnet, demo, ...): live clock, real orders.

``LiveSession`` is ``TradingSession``'s counterpart for a connected broker: the
engine runs on a ``LiveClock`` with a SQL journal, the broker is built by name
from the registry with its ``[brokers.<section>]`` table, connected, and the
strategy symbols' trades, books and bars are subscribed on it. Strategies warm
up on the venue's own history (``fetch_bars``), the portfolio risk monitor
watches the account, and the session runs until a deadline or ``request_stop``
(Ctrl+C). Stopping cancels every order the session has open at the venue (never
leaves one resting unless ``keep_orders``), disconnects, and ``summary()`` has
the same keys as ``TradingSession.summary()`` plus ``venue``.

Example (as ``trading-terminal paper --broker binance-testnet`` does)::

    session = LiveSession(load_settings(), "binance-testnet",
                          LiveOptions(symbols=("BTC/USDT",), strategies=("sma_cross",),
                                      until="5m"))
    summary = asyncio.run(session.run())

Real money: a broker that says it is live is refused unless ``live = true`` is
set for it in the settings (the adapters enforce this too; this says it plainly).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

import pandas as pd

from engine.clock import LiveClock
from engine.errors import UserError
from engine.execution import Broker, create_broker
from engine.execution.broker import BrokerError, BrokerUnavailable
from engine.execution.sql_journal import SqlJournal
from engine.models import (
    Bar,
    BarUpdate,
    ConnectionState,
    ConnectionStateChanged,
    OrderBook,
    Tick,
    Timeframe,
)
from engine.risk.portfolio import PortfolioRiskMonitor, calendar_session_end
from engine.session_summary import FillCounter, iso, session_params, trading_summary
from engine.settings import (
    broker_settings,
    database_url,
    engine_config,
    live_enabled,
    portfolio_limits,
    risk_limits,
)
from engine.settings.adapters import BROKERS
from engine.settings.model import Settings
from engine.storage import Database
from engine.strategy.base import instances_symbols, warmup_count
from engine.strategy.registry import get_strategy
from engine.strategy.runner import StrategyRunner
from engine.trading import TradingEngine

log = logging.getLogger(__name__)

NS = 1_000_000_000
# Extra keyword arguments for ``create_broker`` by broker name, for whoever embeds the
# terminal: the tests point ccxt at the fake venue here (``session_factory``).
EXTRA_BROKER_KWARGS: dict[str, dict[str, Any]] = {}
_DURATION = re.compile(r"^\s*(\d+(\.\d+)?\s*(ms|s|sec|m|min|h|d)\s*)+$", re.IGNORECASE)


@dataclass(frozen=True)
class LiveOptions:
    """What to run against the venue; ``symbols`` default to the strategy symbols."""

    symbols: tuple[str, ...] = ()  # market data subscribed (ticks, book, bars)
    strategies: tuple[str, ...] = ()  # strategy names, each started on every strategy symbol
    params: Mapping[str, Any] = field(default_factory=dict)  # overrides for those strategies
    strategy_symbols: tuple[str, ...] = ()  # default: the first symbol
    until: str | None = None  # a duration ("30s", "5m", "1h30m") or a UTC time; None: stop()
    keep_orders: bool = False  # leave this session's open orders resting at the venue
    book_depth: int = 10
    connect_timeout_s: float = 30.0
    cancel_timeout_s: float = 10.0
    # Before strategies start, wait this long for each bar stream's first update: the
    # adapter back-fills closed bars when a stream starts, and those are history (the
    # warm-up has them), not signals to trade on.
    first_data_timeout_s: float = 10.0
    warmup: bool = True


def settings_section(broker_name: str) -> str | None:
    """The ``[brokers.*]`` table a broker name takes its settings from.

    ``binance`` -> ``binance``; a kind with a suffix (``binance-testnet``) -> ``binance``;
    a name with no table (``ccxt``) -> None (the adapter's defaults).
    """
    if broker_name in BROKERS:
        return broker_name
    head = broker_name.split("-", 1)[0]
    return head if head in BROKERS else None


def venue_mode(broker: Broker) -> str:
    """``LIVE``, or what the adapter says it practises on: testnet, demo, fake or paper."""
    if broker.live:
        return "LIVE"
    config = getattr(broker, "config", None)
    environment = getattr(config, "environment", None)
    if isinstance(environment, str) and environment:
        return environment
    if getattr(config, "fake", False):
        return "fake"
    return "paper" if type(broker).__module__.startswith("brokers.paper") else "demo"


def parse_until(text: str, now_ns: int) -> int:
    """The deadline of ``--until``: now + a duration (``30s``, ``5m``, ``1h30m``) or a UTC time."""
    if _DURATION.match(text):
        try:
            span = pd.Timedelta(text.lower().replace("sec", "s").replace(" ", "")
                                .replace("d", "D"))
        except ValueError as exc:
            raise UserError(f"--until {text!r}: not a duration ({exc})") from None
        if span <= pd.Timedelta(0):
            raise UserError(f"--until {text!r}: the duration must be positive")
        return now_ns + int(span.value)
    try:
        ts = pd.Timestamp(text)
    except (ValueError, TypeError):
        raise UserError(f"--until {text!r}: give a duration (30s, 5m, 2h, 1h30m) or a UTC "
                        "time (2025-06-01T14:30)") from None
    deadline = int((ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")).value)
    if deadline <= now_ns:
        raise UserError(f"--until {text!r}: {iso(deadline)} is already past (times are UTC)")
    return deadline


class LiveSession:
    """Engine, SQL journal, one connected broker, risk monitor and strategies, on a live clock."""

    def __init__(self, settings: Settings, broker_name: str, options: LiveOptions | None = None,
                 database: Database | None = None, journal_database: Database | None = None,
                 broker_factory_kwargs: Mapping[str, Any] | None = None) -> None:
        self.settings = settings
        self.broker_name = broker_name
        self.options = options or LiveOptions()
        # Mistakes in the options are reported before anything is opened or connected.
        if self.options.until:
            parse_until(self.options.until, time.time_ns())
        self.strategy_symbols, self.symbols = self._symbols()
        self.section = settings_section(broker_name)
        self.database = database
        self.journal_database = journal_database or database or Database(database_url(settings))
        self.journal = SqlJournal(self.journal_database)
        self.clock = LiveClock()
        config = replace(engine_config(settings), default_broker=broker_name)
        self.engine = TradingEngine(clock=self.clock, journal=self.journal,
                                    limits=risk_limits(settings), config=config)
        self.broker = self._create_broker(broker_factory_kwargs)
        self._refuse_unapproved_live()
        self.engine.add_broker(self.broker)
        self.engine.restore()
        self.monitor = PortfolioRiskMonitor(
            self.engine, portfolio_limits(settings),
            session_end=calendar_session_end(self.engine.instruments)
            if settings.risk.flatten_at_session_end else None)
        self.runner = StrategyRunner(self.engine)
        self._add_strategies()
        self._counts: Counter[str] = Counter()  # market data seen: ticks, books, bars
        self._fills = FillCounter(self.engine)
        self._state_detail = ""
        self._bar_streams_seen: set[tuple[str, str]] = set()
        self._subscribe_bus()
        self._stop = asyncio.Event()
        self.stopped_by = ""
        self.deadline_ns: int | None = None
        self.started_ns: int | None = None
        self.stopped_ns: int | None = None
        self.left_open: list[str] = []
        self._running = False
        self.engine.on_halt(lambda reason: self.request_stop(f"kill switch: {reason}"))

    # ---- setup ------------------------------------------------------------------------
    def _create_broker(self, extra: Mapping[str, Any] | None) -> Broker:
        table = broker_settings(self.settings, self.section) if self.section else {}
        kwargs = {**EXTRA_BROKER_KWARGS.get(self.broker_name, {}), **(extra or {})}
        broker = create_broker(self.broker_name, name=self.broker_name, bus=self.engine.bus,
                               clock=self.clock, settings=table, **kwargs)
        if hasattr(broker, "on_broker_error"):  # errors raised outside place/cancel calls
            broker.on_broker_error = self.engine.report_broker_error
        return broker

    def _refuse_unapproved_live(self) -> None:
        if self.broker.live and not (self.section and live_enabled(self.settings, self.section)):
            where = f"[brokers.{self.section}]" if self.section else "the settings"
            raise UserError(f"{self.broker_name} would trade REAL MONEY, and live trading is not "
                            f"enabled for it: set live = true in {where} to allow it, or use its "
                            "testnet/demo environment")

    def _symbols(self) -> tuple[list[str], list[str]]:
        given = list(dict.fromkeys(self.options.symbols))
        traded = list(dict.fromkeys(self.options.strategy_symbols or given[:1]))
        if not traded and self.options.strategies:
            raise UserError("name the symbol to trade with --symbol (e.g. BTC/USDT)")
        every = list(dict.fromkeys(given + traded))
        if not every:
            raise UserError("name at least one symbol with --symbol (e.g. BTC/USDT)")
        return traded, every

    def _add_strategies(self) -> None:
        for name in self.options.strategies:
            cls = get_strategy(name)
            params = session_params(self.settings, name, dict(self.options.params))
            for symbols in instances_symbols(cls, self.strategy_symbols):
                self.runner.add(cls(self.engine, symbols, params=params))

    def _subscribe_bus(self) -> None:
        bus, counts = self.engine.bus, self._counts
        bus.subscribe(Tick, lambda e: counts.update(["ticks"]))
        bus.subscribe(OrderBook, lambda e: counts.update(["books"]))
        bus.subscribe(Bar, self._on_bar)
        bus.subscribe(BarUpdate, lambda e: self._bar_streams_seen.add(
            (e.bar.symbol, e.bar.timeframe)))
        bus.subscribe(ConnectionStateChanged, self._on_state)

    def _on_bar(self, bar: Bar) -> None:
        self._counts["bars"] += 1
        self._bar_streams_seen.add((bar.symbol, bar.timeframe))

    def _on_state(self, event: ConnectionStateChanged) -> None:
        if event.broker == self.broker_name and event.detail:
            self._state_detail = event.detail

    # ---- running ----------------------------------------------------------------------
    @property
    def mode(self) -> str:
        return venue_mode(self.broker)

    async def start(self) -> None:
        """Connect, check the symbols, open the account, subscribe, start the strategies."""
        self.started_ns = self.clock.now_ns()
        if self.options.until:
            self.deadline_ns = parse_until(self.options.until, self.started_ns)
        self._running = True
        await self._connect()
        self._refuse_unapproved_live()  # some venues only know after login (Kiwoom's server)
        if self.engine.kill_switch.latched:
            raise UserError(f"the kill switch is latched in this journal ("
                            f"{self.engine.kill_switch.state.reason}); re-arm it in the terminal "
                            "before trading again")
        for symbol in self.symbols:
            if self.engine.instruments.find(symbol) is None:
                known = ", ".join(sorted(i.symbol for i in await self.broker.instruments())[:8])
                raise UserError(f"{symbol!r} is not a {self.broker_name} instrument "
                                f"(e.g. {known or 'none'})")
        await self._open_account()
        await self._subscribe()
        if self.runner.strategies():
            await self._start_strategies()

    async def _connect(self) -> None:
        timeout = self.options.connect_timeout_s
        try:
            await asyncio.wait_for(self.broker.connect(), timeout)
        except TimeoutError:
            raise UserError(f"{self.broker_name}: no connection within {timeout:g} s "
                            f"({self.broker.state.value})") from None
        except Exception as exc:  # noqa: BLE001 - any adapter's failure: a reason, no traceback
            from engine.settings.secrets import redact

            text = (str(exc) or type(exc).__name__).removeprefix(f"{self.broker_name}: ")
            if not text.startswith("could not connect"):
                text = f"could not connect: {text}"
            raise UserError(redact(f"{self.broker_name}: {text}")) from None
        if self.broker.state is not ConnectionState.CONNECTED:
            raise UserError(f"{self.broker_name} is {self.broker.state.value}: "
                            f"{self._state_detail or 'no reason given'}")
        for inst in await self.broker.instruments():
            self.engine.instruments.add(inst)

    async def _open_account(self) -> None:
        """The ledger account from the venue's balance in the traded currency (risk needs equity)."""
        inst = self.engine.instruments.find(self.symbols[0])
        currency = inst.currency if inst is not None else "USD"
        cash = Decimal(0)
        try:
            balances = await self.broker.fetch_balances()
        except BrokerUnavailable as exc:  # no API key: market data only
            log.warning("%s: %s; orders will be refused", self.broker_name, exc)
            balances = []
        except BrokerError as exc:
            raise UserError(f"{self.broker_name}: could not read the account's balances: "
                            f"{exc}") from None
        for account in balances:
            if account.currency == currency:
                cash += account.cash
        self.engine.open_account(self.broker_name, currency, cash)

    async def _subscribe(self) -> None:
        symbols = self.symbols
        timeframes = sorted({s.timeframe for s in self.runner.strategies()} or {"1m"})
        try:
            await self.broker.subscribe_ticks(symbols)
            await self.broker.subscribe_order_book(symbols, self.options.book_depth)
            for tf in timeframes:
                await self.broker.subscribe_bars(symbols, tf)
        except (BrokerError, NotImplementedError) as exc:
            raise UserError(f"{self.broker_name}: subscribing to {', '.join(symbols)} "
                            f"failed: {exc}") from None

    async def _start_strategies(self) -> None:
        wanted = {(sym, s.timeframe) for s in self.runner.strategies() for sym in s.symbols}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.options.first_data_timeout_s
        while not wanted <= self._bar_streams_seen and loop.time() < deadline \
                and not self._stop.is_set():
            await asyncio.sleep(0.02)
        for strategy in self.runner.strategies():
            warm: list[Bar] = []
            if self.options.warmup:
                warm = await self.warmup_bars(strategy.symbol, strategy.timeframe,
                                              warmup_count(strategy))
            self.runner.start(strategy.strategy_id, warmup=warm)

    async def warmup_bars(self, symbol: str, timeframe: str, count: int) -> list[Bar]:
        """The last ``count`` closed bars from the venue (none if it has no history)."""
        start = self.clock.now_ns() - (count + 1) * Timeframe.parse(timeframe).ns
        try:
            frame = await self.broker.fetch_bars(symbol, timeframe, start_ns=start)
        except (BrokerError, NotImplementedError) as exc:
            log.warning("%s: no history to warm up on (%s)", symbol, exc)
            return []
        frame = frame.iloc[-count:]
        return [Bar(symbol=symbol, timeframe=timeframe, ts_ns=int(ts.value), open=float(r.open),
                    high=float(r.high), low=float(r.low), close=float(r.close),
                    volume=float(r.volume))
                for ts, r in zip(frame.index, frame.itertuples(), strict=True)]

    def request_stop(self, why: str = "stopped") -> None:
        """End the session (Ctrl+C, the kill switch): ``run`` cancels, disconnects, returns."""
        if not self._stop.is_set():
            self.stopped_by = why
            self._stop.set()

    async def wait(self) -> None:
        """Until the deadline or ``request_stop``."""
        if self.deadline_ns is None:
            await self._stop.wait()
            return
        delay = max(0.0, (self.deadline_ns - self.clock.now_ns()) / NS)
        try:
            await asyncio.wait_for(self._stop.wait(), delay)
        except TimeoutError:
            self.request_stop("until")

    async def run(self) -> dict[str, Any]:
        """Start, run until the deadline or a stop request, stop; return the summary."""
        try:
            await self.start()
            await self.wait()
        finally:
            await self.stop()
        return self.summary()

    async def stop(self) -> None:
        """Stop the strategies, cancel this session's open orders, disconnect, flush."""
        if not self._running:
            return
        self._running = False
        self.stopped_by = self.stopped_by or "stopped"
        self.runner.stop_all()
        await self.engine.runner.wait_idle(self.options.cancel_timeout_s)  # orders in flight
        if not self.options.keep_orders:
            await self._cancel_open_orders()
        self.left_open = [o.client_order_id
                          for o in self.engine.oms.open_orders(broker=self.broker_name)]
        if self.left_open:
            log.warning("%s: %d order(s) left open at the venue: %s", self.broker_name,
                        len(self.left_open), ", ".join(self.left_open))
        try:
            await self.broker.disconnect()
        except Exception as exc:  # noqa: BLE001 - the summary still matters
            log.warning("%s: disconnecting failed: %s", self.broker_name, exc)
        self.stopped_ns = self.clock.now_ns()
        self.journal.flush()

    async def _cancel_open_orders(self) -> None:
        if not self.engine.oms.open_orders(broker=self.broker_name):
            return
        if self.broker.state is not ConnectionState.CONNECTED:
            log.warning("%s is %s: open orders cannot be cancelled now", self.broker_name,
                        self.broker.state.value)
            return
        self.engine.cancel_all(broker=self.broker_name)
        deadline = time.monotonic() + self.options.cancel_timeout_s
        while self.engine.oms.open_orders(broker=self.broker_name) \
                and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        await self.engine.runner.wait_idle(max(0.1, deadline - time.monotonic()))

    def close(self) -> None:
        self.journal.flush()
        if self.database is not None and self.journal_database is not self.database:
            self.database.close()
        self.journal_database.close()

    def summary(self) -> dict[str, Any]:
        """``TradingSession.summary()``'s keys (``replay`` is the session's span) plus ``venue``."""
        start = self.started_ns or self.clock.now_ns()
        end = self.stopped_ns or self.clock.now_ns()
        events = {k: self._counts[k] for k in ("ticks", "books", "bars")}
        return {
            "symbols": self.symbols,
            "replay": {"from": iso(start), "to": iso(end), "events": sum(events.values())},
            **trading_summary(self.engine, self.runner, self._fills),
            "venue": {"broker": self.broker_name, "mode": self.mode, "live": self.broker.live,
                      "state": self.broker.state.value, "stopped_by": self.stopped_by,
                      "market_data": events, "left_open": list(self.left_open),
                      "kept_orders": self.options.keep_orders},
        }


__all__ = ["EXTRA_BROKER_KWARGS", "LiveOptions", "LiveSession", "parse_until",
           "settings_section", "venue_mode"]
