"""A running trading session, without a window: what the terminal and ``paper`` share.

``TradingSession`` assembles the engine the way a user runs it: settings ->
database (the user's SQLite by default) -> SQL journal (orders and fills are
written before anyone hears of them, and rebuilt on the next start) -> clock ->
market data -> brokers by name from the registry -> risk -> strategies.

In paper mode the market is a ``ReplayFeed`` of stored one-minute bars on a
simulated clock. On first run the bundled demo universe (real daily bars, with
synthetic minutes, labelled as such) is written into the database, so the
terminal has a market with no account and no network. The replay starts a few
sessions before the end of the data; what lies before is history for the chart.

Example (headless, as ``trading-terminal paper`` does)::

    session = TradingSession(load_settings(), SessionOptions(speed="max",
                             strategies=("hybrid",)))
    summary = asyncio.run(session.run_to_end())
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from engine.calendars import get_calendar
from engine.clock import SimulatedClock
from engine.data.replay import ReplayFeed, parse_speed
from engine.data.resample import resample
from engine.data.sample import demo_universe
from engine.errors import ConfigError, UserError
from engine.execution import create_broker
from engine.execution.broker import OrderUpdate
from engine.execution.sql_journal import SqlJournal
from engine.models import Bar, Instrument, OrderStatus, Timeframe
from engine.risk.portfolio import PortfolioRiskMonitor, calendar_day, calendar_session_end
from engine.session_summary import FillCounter, iso, session_params, trading_summary
from engine.settings import (
    broker_settings,
    database_url,
    enabled_brokers,
    engine_config,
    portfolio_limits,
    risk_limits,
)
from engine.settings.model import Settings
from engine.storage import Database
from engine.storage.bars import load_bars, upsert_bars
from engine.storage.instruments import load_instrument, save_instruments
from engine.strategy.base import instances_symbols, warmup_count
from engine.strategy.registry import get_strategy
from engine.strategy.runner import StrategyRunner
from engine.trading import TradingEngine

log = logging.getLogger(__name__)

BASE_TIMEFRAME = "1m"
REPLAY_STATE = "replay.position_ns"
SYNTHETIC_SOURCE = "synthetic"
# Cash of a paper account in a currency [brokers.paper] does not configure.
DEMO_CASH = {"USD": Decimal(100_000), "KRW": Decimal(100_000_000), "USDT": Decimal(100_000)}


@dataclass(frozen=True)
class SessionOptions:
    """What to run; empty values take the settings' ``[replay]`` and ``[app]`` values."""

    symbols: tuple[str, ...] = ()
    speed: str | None = None  # "1x", "10x", "60x", "max"
    start: str | None = None  # first replayed day; None: the last ``replay_sessions`` of the data
    until: str | None = None  # stop the replay here (a date or time, UTC)
    replay_sessions: int = 3
    strategies: tuple[str, ...] = ()  # strategy names started on the first symbol (each)
    params: Mapping[str, Any] = field(default_factory=dict)  # overrides for those strategies
    strategy_symbols: tuple[str, ...] = ()  # default: the first symbol
    start_strategies: bool = True


@dataclass(frozen=True)
class MarketData:
    """One replayed symbol: its instrument, its stored minutes and where they came from."""

    instrument: Instrument
    bars: pd.DataFrame
    label: str


class TradingSession:
    """Engine, journal, brokers, replay, risk monitor and strategies, wired as in the terminal."""

    def __init__(self, settings: Settings, options: SessionOptions | None = None, *,
                 database: Database | None = None, journal_database: Database | None = None,
                 resume_replay: bool = True) -> None:
        self.settings = settings
        self.options = options or SessionOptions()
        self.database = database or Database(database_url(settings))
        # The journal may live apart from the market data (a throw-away headless run).
        self.journal_database = journal_database or self.database
        self.journal = SqlJournal(self.journal_database)
        self.market = self._load_market()
        self.symbols = list(self.market)
        self.replay_start_ns, self.replay_end_ns = self._replay_span()
        if resume_replay:
            self.replay_start_ns = self._resume_point(self.replay_start_ns)
        self.clock = SimulatedClock(self.replay_start_ns)
        self.engine = TradingEngine(clock=self.clock, journal=self.journal,
                                    limits=risk_limits(settings), config=engine_config(settings))
        for data in self.market.values():
            self.engine.instruments.add(data.instrument)
        self._add_paper_brokers()
        self._add_configured_brokers()
        self.engine.restore()
        self._resume_brokers()
        self.monitor = PortfolioRiskMonitor(
            self.engine, portfolio_limits(settings),
            day_of=calendar_day(self.market[self.symbols[0]].instrument.calendar),
            session_end=calendar_session_end(self.engine.instruments)
            if settings.risk.flatten_at_session_end else None)
        self.feed = ReplayFeed(
            self.engine.bus, self.clock, {s: d.bars for s, d in self.market.items()},
            [d.instrument for d in self.market.values()],
            speed=self.options.speed or str(settings.replay.speed),
            book_levels=int(settings.gui.book_levels),
            start_ns=self.replay_start_ns, end_ns=self.replay_end_ns)
        self.runner = StrategyRunner(self.engine)
        self._fills = FillCounter(self.engine)
        self._add_strategies()
        self._tasks: list[asyncio.Task[Any]] = []

    # ---- market data -------------------------------------------------------------
    def _load_market(self) -> dict[str, MarketData]:
        symbols = list(self.options.symbols or self.settings.replay.symbols)
        if not symbols:
            raise ConfigError("[replay] symbols: give at least one symbol to replay")
        demo = {d.symbol: d for d in demo_universe()}
        out: dict[str, MarketData] = {}
        for symbol in symbols:
            bars = load_bars(self.database, symbol, BASE_TIMEFRAME)
            inst = load_instrument(self.database, symbol)
            label = "stored"
            if symbol in demo and (bars.empty or inst is None):
                bars, inst = self._store_demo(demo[symbol])
            if symbol in demo:
                label = f"{SYNTHETIC_SOURCE}: {demo[symbol].description}"
            if bars.empty or inst is None:
                known = ", ".join(sorted(demo))
                raise UserError(f"no {BASE_TIMEFRAME} bars stored for {symbol!r} in {self.database}; "
                                f"import some with `trading-terminal data import` or replay one "
                                f"of the bundled symbols: {known}")
            out[symbol] = MarketData(inst, bars, label)
        return out

    def _store_demo(self, demo: Any) -> tuple[pd.DataFrame, Instrument]:
        log.info("first run: writing the bundled demo data for %s (%s)", demo.symbol,
                 demo.description)
        bars = demo.load()
        upsert_bars(self.database, demo.symbol, BASE_TIMEFRAME, bars, source=SYNTHETIC_SOURCE)
        save_instruments(self.database, [demo.instrument])
        return load_bars(self.database, demo.symbol, BASE_TIMEFRAME), demo.instrument

    def _replay_span(self) -> tuple[int, int | None]:
        lasts = [int(d.bars.index[-1].value) for d in self.market.values()]
        end = None
        if self.options.until:
            end = _utc_ns(self.options.until, "--until")
        if self.options.start or str(self.settings.replay.start):
            start = _utc_ns(self.options.start or str(self.settings.replay.start), "start")
        else:
            # The last few trading days of the first symbol, from its first bar that day
            # (a market that is open when the terminal starts, not a night to skip).
            lead = self.market[next(iter(self.market))].bars.index
            days = np.unique(lead.normalize().asi8)
            keep = max(1, int(self.options.replay_sessions))
            day = int(days[-keep]) if len(days) >= keep else int(days[0])
            start = int(lead.asi8[np.searchsorted(lead.asi8, day)])
        if start > max(lasts):
            raise UserError(f"replay start {pd.Timestamp(start, tz='UTC')} is after the last stored "
                            f"bar ({pd.Timestamp(max(lasts), tz='UTC')})")
        if end is not None and end <= start:
            raise UserError(f"--until {self.options.until} is not after the replay start "
                            f"{pd.Timestamp(start, tz='UTC')}")
        return start - 1, end

    def _resume_point(self, start: int) -> int:
        """Where the last run's replay stopped, so a restart goes on from there.

        The clock never goes back past a journaled fill. It resumes at the next whole
        minute, so the bar the last run stopped in is a closed bar of the history
        (chart, warm-up) rather than lost. A run that replayed the data to its end
        starts over only if it traded nothing; otherwise the replay stays at the end.
        """
        saved = self.journal.load_state(REPLAY_STATE)
        if not isinstance(saved, int) or saved <= start:
            return start
        minute = Timeframe.parse(BASE_TIMEFRAME).ns
        resume = -(-saved // minute) * minute
        last = max(int(d.bars.index[-1].value) for d in self.market.values())
        if resume > last:
            if not self.journal.load_fills():
                return start
            log.warning("the replay reached the end of its data (%s) in an earlier session, "
                        "and the journal has fills up to then: the clock stays there, as it "
                        "never goes back before a journaled fill. To replay the data again, "
                        "use a new journal (trading-terminal paper --journal NEW.sqlite3, or "
                        "a new [data] database_url)", iso(last + minute))
            return resume
        log.info("replay resumes at %s, where the last run stopped", iso(resume))
        return resume

    def bars(self, symbol: str, timeframe: str = BASE_TIMEFRAME) -> pd.DataFrame:
        """The stored bars of ``symbol`` that closed before the replay clock, in ``timeframe``.

        The chart's history: what a live terminal would have loaded at this moment.
        """
        data = self.market.get(symbol)
        if data is None:
            return pd.DataFrame(columns=["open", "high", "low", "close", "volume"])
        minute = Timeframe.parse(BASE_TIMEFRAME).ns
        cut = data.bars.index.asi8 + minute <= self.clock.now_ns()
        frame = data.bars[cut]
        if Timeframe.parse(timeframe).name == BASE_TIMEFRAME:
            return frame
        return resample(frame, timeframe, get_calendar(data.instrument.calendar))

    def warmup_bars(self, symbol: str, count: int) -> list[Bar]:
        frame = self.bars(symbol).iloc[-count:]
        return [Bar(symbol=symbol, timeframe=BASE_TIMEFRAME, ts_ns=int(ts.value),
                    open=float(r.open), high=float(r.high), low=float(r.low),
                    close=float(r.close), volume=float(r.volume))
                for ts, r in zip(frame.index, frame.itertuples(), strict=True)]

    # ---- brokers and strategies -----------------------------------------------------
    def _add_paper_brokers(self) -> None:
        """One paper account per currency traded: "paper" for the configured one."""
        base = broker_settings(self.settings, "paper")
        main_currency = str(base.get("currency", "KRW")).upper()
        by_currency: dict[str, list[Instrument]] = {}
        for data in self.market.values():
            by_currency.setdefault(data.instrument.currency, []).append(data.instrument)
        for currency, instruments in sorted(by_currency.items(),
                                            key=lambda kv: kv[0] != main_currency):
            name = "paper" if currency == main_currency else f"paper-{currency.lower()}"
            cash = Decimal(str(base["initial_cash"])) if currency == main_currency \
                else DEMO_CASH.get(currency, Decimal(100_000))
            config = {**base, "currency": currency, "initial_cash": cash}
            broker = create_broker("paper", name=name, bus=self.engine.bus, clock=self.clock,
                                   instruments=instruments, settings=config)
            self.engine.add_broker(broker)
            self.engine.open_account(name, currency, cash)
            for inst in instruments:
                self.engine.route(inst.symbol, name)

    def _add_configured_brokers(self) -> None:
        """Brokers enabled in ``[brokers.*]`` besides paper (Binance, Kiwoom), found by name.

        One that cannot be built is logged and left out: the paper market still runs.
        """
        for name in enabled_brokers(self.settings):
            if name == "paper":
                continue
            try:
                broker = create_broker(name, name=name, bus=self.engine.bus, clock=self.clock,
                                       settings=broker_settings(self.settings, name))
            except Exception as exc:  # noqa: BLE001 - e.g. the extra is not installed
                log.error("broker %s is enabled in the settings but could not be set up: %s",
                          name, exc)
                continue
            if hasattr(broker, "on_broker_error"):  # errors raised outside place/cancel calls
                broker.on_broker_error = self.engine.report_broker_error
            self.engine.add_broker(broker)
            log.info("%s added (%s)", name, "LIVE" if broker.live else "testnet/demo")

    async def _open_venue_accounts(self) -> None:
        """A ledger account for each connected venue from its balance (risk needs equity).

        The account is in the venue's largest cash currency (USDT on Binance spot).
        """
        for name, broker in self.engine.brokers.items():
            if self.engine.ledger.has_account(name) or broker.state.value != "CONNECTED":
                continue
            try:
                balances = await broker.fetch_balances()
            except Exception as exc:  # noqa: BLE001 - e.g. no API key: market data only
                log.warning("%s: no account balance (%s); its orders will be refused", name, exc)
                continue
            if balances:
                main = max(balances, key=lambda a: a.cash)
                self.engine.open_account(name, main.currency, main.cash)

    def _resume_brokers(self) -> None:
        """Rebuild the paper venues from the journal; cancel orders left resting."""
        fills = self.journal.load_fills()
        orders = self.engine.oms.orders()
        for broker in self.engine.brokers.values():
            booked = broker.resume(fills, orders)
            if booked:
                log.info("%s: account rebuilt from %d journaled fills", broker.name, booked)
            for order in self.engine.oms.open_orders(broker=broker.name):
                self.engine.oms.on_update(OrderUpdate(
                    broker=broker.name, client_order_id=order.client_order_id,
                    status=OrderStatus.CANCELLED, ts_ns=self.clock.now_ns(),
                    broker_order_id=order.broker_order_id,
                    reason="the paper venue restarted; resting orders are not kept"))

    def _add_strategies(self) -> None:
        targets = list(self.options.strategy_symbols or self.symbols[:1])
        for name in self.options.strategies:
            cls = get_strategy(name)
            params = session_params(self.settings, name, dict(self.options.params))
            for symbol in targets:
                if symbol not in self.market:
                    raise UserError(f"strategy symbol {symbol!r} is not replayed; "
                                    f"replayed: {', '.join(self.symbols)}")
            for symbols in instances_symbols(cls, targets):
                self.runner.add(cls(self.engine, symbols, params=params))

    # ---- running ----------------------------------------------------------------------
    async def start(self) -> None:
        """Connect the brokers, start the strategies (warmed up on history) and the replay."""
        await self.engine.connect_all()
        await self._open_venue_accounts()
        if self.options.start_strategies:
            for strategy in self.runner.strategies():
                warm = self.warmup_bars(strategy.symbol, warmup_count(strategy))
                self.runner.start(strategy.strategy_id, warmup=warm)
        self._tasks.append(asyncio.ensure_future(self.feed.run()))

    async def run_to_end(self) -> dict[str, Any]:
        """Start, play the replay to its end (or ``until``), stop; return the summary."""
        await self.start()
        await asyncio.gather(*self._tasks)
        await self.stop()
        return self.summary()

    async def stop(self) -> None:
        self.journal.save_state(REPLAY_STATE, int(self.clock.now_ns()))
        self.feed.stop()
        self.runner.stop_all()
        for task in self._tasks:
            if not task.done():
                task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        await asyncio.sleep(0)
        await self.engine.disconnect_all()
        self.journal.flush()

    def close(self) -> None:
        self.journal.flush()
        if self.journal_database is not self.database:
            self.journal_database.close()
        self.database.close()

    def summary(self) -> dict[str, Any]:
        """Orders, fills, rejections by reason, PnL and final positions, JSON-ready."""
        progress = self.feed.progress
        return {
            "symbols": self.symbols,
            "replay": {"from": iso(self.replay_start_ns + 1), "to": iso(progress.ts_ns),
                       "events": progress.events},
            **trading_summary(self.engine, self.runner, self._fills),
        }


def _utc_ns(text: str, what: str) -> int:
    try:
        ts = pd.Timestamp(text)
    except (ValueError, TypeError) as exc:
        raise UserError(f"{what}: {text!r} is not a date or time (e.g. 2013-02-27 or "
                        f"2013-02-27T15:00)") from exc
    return int((ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")).value)


def speed_choice(text: str) -> str:
    """Validate a ``--speed`` value early, with the allowed ones in the message."""
    try:
        parse_speed(text)
    except (ConfigError, ValueError) as exc:
        raise UserError(f"--speed {text!r}: use 1x, 10x, 60x or max ({exc})") from exc
    return text


__all__ = ["MarketData", "SessionOptions", "TradingSession", "speed_choice"]

