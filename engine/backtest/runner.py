"""The backtest driver: the live engine, risk, OMS and paper venue over stored bars.

Nothing here is a second implementation of trading. ``run_backtest`` builds a
``TradingEngine`` (inline task runner, in-memory journal, simulated clock),
the paper venue in bar mode, and the strategy through the same
``StrategyRunner`` the terminal uses, then plays the bars:

1. the clock moves to the bar's open and the venue sees the bar: orders sent
   on the previous bar fill now (market orders at this open, limits and stops
   by their crossing rules, fees/tax/slippage from the instrument);
2. the clock moves to the bar's close and the bar is published: strategies,
   the portfolio monitor and the market state react, and new orders go through
   risk and the OMS to the venue, to fill on a later bar.

With several symbols, opens and closes interleave in time order (closes first at
the same instant). Equity is valued at every bar's close. Results are computed from the fills
the OMS journaled, by the same code the GUI shows.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from decimal import Decimal
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from engine.backtest.equity import EquityTracker, fill_totals
from engine.backtest.funding import FundingReplay, funding_events
from engine.backtest.metrics import Metrics, compute_metrics, drawdown_curve
from engine.backtest.tick_replay import replay_ticks, ticks_in_range
from engine.backtest.trades import RoundTrip, round_trips
from engine.clock import SimulatedClock
from engine.errors import UserError
from engine.execution.journal import MemoryJournal
from engine.execution.registry import create_broker
from engine.models import (
    Bar,
    FeeSchedule,
    Fill,
    FundingPayment,
    Instrument,
    Order,
    OrderStatus,
    Timeframe,
    crypto_perp,
    crypto_spot,
    krx_stock,
    to_decimal,
    us_stock,
)
from engine.models.fast_init import builder
from engine.risk.limits import RiskLimits
from engine.risk.portfolio import PortfolioLimits, PortfolioRiskMonitor
from engine.session_summary import iso, reason_kind
from engine.strategy.base import instances_symbols, warmup_count
from engine.strategy.registry import get_strategy
from engine.strategy.runner import StrategyRunner
from engine.trading import EngineConfig, TradingEngine

log = logging.getLogger(__name__)
BROKER = "paper"
PROGRESS_EVERY = 20_000
CHUNK = 4_000  # bars per slice of the arrays turned into lists (divides PROGRESS_EVERY)


_freeze_lock = threading.Lock()
_freezers = 0
_we_froze = False
_threshold: tuple[int, int, int] | None = None  # the collector's, restored after the runs
RUN_GEN0_THRESHOLD = 10_000  # young objects between collections while a run keeps its own


@contextmanager
def _frozen_heap() -> Iterator[None]:
    """The garbage collector leaves what existed before the run alone while it runs.

    Full collections would otherwise walk every object of the process (modules,
    pandas, the data) again and again: ~4-7% of a long backtest. ``gc.freeze`` is
    process-wide: concurrent runs share one freeze (the last to end thaws), and a
    freeze someone else holds (the GUI's backtest worker freezes for its whole
    job) is left as it is, neither doubled nor thawed here. While runs go on, the
    youngest generation is collected every 10,000 net allocations instead of 700: a
    run allocates records it keeps, and each early collection only promoted them.
    """
    global _freezers, _we_froze, _threshold
    with _freeze_lock:
        _freezers += 1
        if _freezers == 1:
            _threshold = gc.get_threshold()
            gc.set_threshold(max(_threshold[0], RUN_GEN0_THRESHOLD), *_threshold[1:])
            _we_froze = gc.get_freeze_count() == 0
            if _we_froze:
                gc.freeze()
    try:
        yield
    finally:
        with _freeze_lock:
            _freezers -= 1
            if _freezers == 0:
                if _threshold is not None:
                    gc.set_threshold(*_threshold)
                    _threshold = None
                if _we_froze:
                    _we_froze = False
                    gc.unfreeze()


OHLCV = ("open", "high", "low", "close", "volume")


class BacktestCancelled(Exception):
    """``cancel()`` returned True: the run stopped early and has no result."""


# Generous defaults: a backtest measures the strategy, not the live guard rails.
BACKTEST_LIMITS = RiskLimits(max_position_pct=100.0, max_gross_exposure_pct=1_000.0,
                             max_order_qty=1e12, max_order_notional=1e15, price_band_pct=100.0,
                             max_orders_per_second=1_000_000, max_active_orders=1_000_000,
                             max_cancels_per_window=1_000_000, duplicate_window_seconds=0.0,
                             max_leverage=100.0)


@dataclass(frozen=True)
class BacktestConfig:
    strategy: str
    symbols: tuple[str, ...]
    params: Mapping[str, Any] = field(default_factory=dict)
    timeframe: str = "1m"
    start: str | None = None
    end: str | None = None
    cash: float = 100_000_000.0
    commission: float | None = None  # fraction per side; None = the instrument's schedule
    slippage_bps: float = 0.0
    limits: RiskLimits = BACKTEST_LIMITS
    portfolio: PortfolioLimits | None = None  # None: no portfolio monitor
    currency: str | None = None  # None: the first instrument's currency


@dataclass
class BacktestResult:
    config: BacktestConfig
    metrics: Metrics
    equity: pd.Series
    drawdown: pd.Series
    trades: list[RoundTrip]
    orders: list[Order]
    fills: list[Fill]
    rejections: dict[str, int]  # by pre-trade risk, by code
    warnings: list[str]
    bars: int
    elapsed_s: float
    warmup_bars: int = 0  # history bars the strategy saw before the first bar
    venue_rejections: dict[str, int] = field(default_factory=dict)  # by the venue, by reason
    funding: list[FundingPayment] = field(default_factory=list)  # paid (-) or received (+)

    @property
    def bars_per_second(self) -> float:
        return self.bars / self.elapsed_s if self.elapsed_s else float("nan")


def default_instrument(symbol: str) -> Instrument:
    """An instrument from the symbol's shape: KRX code, crypto pair, or a US stock."""
    if symbol.isdigit() and len(symbol) == 6:
        return krx_stock(symbol)
    if "/" in symbol:
        return crypto_perp(symbol) if ":" in symbol else crypto_spot(symbol)
    return us_stock(symbol)


def _with_commission(inst: Instrument, commission: float | None) -> Instrument:
    if commission is None:
        return inst
    rate = to_decimal(commission, what="commission")
    if rate < 0 or rate >= 1:
        raise UserError(f"commission must be a fraction in [0, 1), got {commission}")
    return replace(inst, fees=FeeSchedule(maker=rate, taker=rate, sell_tax=inst.fees.sell_tax))


def _frames(config: BacktestConfig, data: pd.DataFrame | Mapping[str, pd.DataFrame]
            ) -> dict[str, pd.DataFrame]:
    if isinstance(data, pd.DataFrame):
        if len(config.symbols) != 1:
            raise UserError("one DataFrame given for several symbols; pass {symbol: frame}")
        frames = {config.symbols[0]: data}
    else:
        frames = dict(data)
    out = {}
    for symbol in config.symbols:
        if symbol not in frames:
            raise UserError(f"no data for symbol {symbol!r}")
        frame = frames[symbol]
        if config.start is not None:
            start = pd.Timestamp(config.start)
            frame = frame[frame.index >= (start.tz_localize("UTC") if start.tzinfo is None
                                          else start)]
        if config.end is not None:
            end = pd.Timestamp(config.end)
            frame = frame[frame.index <= (end.tz_localize("UTC") if end.tzinfo is None else end)]
        if frame.empty:
            raise UserError(f"no bars for {symbol} between {config.start or 'the start'} and "
                            f"{config.end or 'the end'}")
        out[symbol] = frame
    return out


def _timeline(frames: dict[str, pd.DataFrame]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All bars in time order: (ts_ns, symbol's index in ``frames``, row within its frame)."""
    parts = []
    for k, frame in enumerate(frames.values()):
        ts = frame.index.as_unit("ns").asi8
        parts.append((ts, np.full(len(ts), k), np.arange(len(ts))))
    ts = np.concatenate([p[0] for p in parts])
    which = np.concatenate([p[1] for p in parts])
    rows = np.concatenate([p[2] for p in parts])
    order = np.lexsort((which, ts))
    return ts[order], which[order], rows[order]


def _close_through(closing: deque[tuple[int, Bar]], limit: int, now: int, *,
                   advance: Callable[[int], None], publish: Callable[[object], None]) -> int:
    """Publish the open bars that close at or before ``limit``, in order; returns the
    clock's time after them (``now`` if none)."""
    while closing and closing[0][0] <= limit:
        now, done = closing.popleft()
        advance(now)
        publish(done)
    return now


def _account_currency(config: BacktestConfig, insts: Mapping[str, Instrument]) -> str:
    """The one currency the run's account holds: every symbol must be quoted in it (the
    venue would refuse every order of a symbol priced in another, for want of cash)."""
    quoted = {s: i.currency for s, i in insts.items()}
    currency = config.currency or next(iter(quoted.values()))
    others = {s: c for s, c in quoted.items() if c != currency}
    if others:
        listed = ", ".join(f"{s} in {c}" for s, c in quoted.items())
        raise UserError(f"a backtest account holds one currency ({currency}), but the symbols "
                        f"are quoted {listed}; run each currency's symbols separately")
    return currency


def session_gaps(frame: pd.DataFrame, symbol: str, calendar: str, timeframe: Timeframe,
                 limit: int = 10) -> list[str]:
    """Warnings for missing bars inside a trading session (nights and holidays are normal)."""
    if calendar == "24/7" and timeframe.is_daily or len(frame) < 2 or timeframe.is_daily:
        return []
    from engine.calendars import get_calendar

    try:
        labels = get_calendar(calendar).session_labels(frame.index)
    except Exception:
        return []
    ts = frame.index.as_unit("ns").asi8
    step = np.diff(ts)
    same = labels[1:] == labels[:-1]
    gaps = np.flatnonzero(same & (step > timeframe.ns))
    out = []
    for i in gaps[:limit]:
        start, end = frame.index[i], frame.index[i + 1]
        missing = int(step[i] // timeframe.ns) - 1
        out.append(f"{symbol}: {missing} bar(s) missing inside the session between {start} "
                   f"and {end}; the run went on without them")
    if len(gaps) > limit:
        out.append(f"{symbol}: {len(gaps) - limit} more gaps inside sessions")
    return out


def _warmup_bars(symbols: list[str], warmup: pd.DataFrame | Mapping[str, pd.DataFrame]
                 | None, first_ns: int, timeframe: Timeframe, count: int) -> list[Bar]:
    """The last ``count`` warm-up bars of ``symbols`` in time order, of those that open
    before the run's first bar (each symbol's last ``count`` hold them: no Bar is built
    to be dropped). One frame stands for the run's only symbol."""
    if warmup is None:
        return []
    given = {symbols[0]: warmup} if isinstance(warmup, pd.DataFrame) else dict(warmup)
    frames = {s: f[f.index.as_unit("ns").asi8 < first_ns].tail(count) for s, f in given.items()
              if s in symbols}
    frames = {s: f for s, f in frames.items() if not f.empty}
    if not frames:
        return []
    ts, which, rows = _timeline(frames)
    names, values = list(frames), [f[list(OHLCV)].to_numpy(float) for f in frames.values()]
    make = builder(Bar)
    bars = [make(names[k], timeframe.name, t, *values[k][r].tolist())
            for t, k, r in zip(ts.tolist(), which.tolist(), rows.tolist(), strict=True)]
    return bars[-count:]


def strategy_warnings(runner: StrategyRunner, strategy_id: str) -> list[str]:
    """What went wrong inside the strategy, for the run's warnings.

    A strategy that raises is isolated (logged, and stopped after ``max_errors``),
    so the run completes; without this its metrics would look like a quiet
    strategy's instead of a broken one's.
    """
    count = runner.failure_counts.get(strategy_id, 0)
    if not count:
        return []
    first = next(f for f in runner.failures if f.strategy_id == strategy_id)
    out = [f"the strategy raised {count} time(s); first in {first.hook} at "
           f"{iso(first.ts_ns)}: {first.error}"]
    if runner.state(strategy_id) == "error":
        last = [f for f in runner.failures if f.strategy_id == strategy_id][-1]
        why = (f"after {count} errors" if count >= runner.max_errors
               else f"when {last.hook} failed")
        out.append(f"the strategy was stopped {why} (at {iso(last.ts_ns)}): nothing after "
                   "that time is its decision")
    return out


def venue_refusals(orders: Iterable[Order]) -> dict[str, int]:
    """Orders the venue rejected (after pre-trade risk let them through), by reason."""
    return dict(Counter(reason_kind(o.reason) for o in orders
                        if o.status is OrderStatus.REJECTED))


def refusal_warning(refused: Mapping[str, int]) -> list[str]:
    """The run's warning for venue rejections: each is a trade the strategy wanted and
    did not get (insufficient cash for an entry sized on the close, say)."""
    if not refused:
        return []
    kinds = "; ".join(f"{reason} ({n})" for reason, n in sorted(refused.items()))
    return [f"the venue rejected {sum(refused.values())} order(s): {kinds}"]


def run_backtest(
    config: BacktestConfig,
    data: pd.DataFrame | Mapping[str, pd.DataFrame],
    *,
    instruments: Mapping[str, Instrument] | None = None,
    progress: Callable[[float], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    warmup: pd.DataFrame | Mapping[str, pd.DataFrame] | None = None,
    funding: Mapping[str, pd.Series] | None = None,
    ticks: Mapping[str, pd.DataFrame] | None = None,
) -> BacktestResult:
    """Run ``config.strategy`` over ``data``; see the module docstring for the bar cycle.

    ``warmup``: bars from before ``data`` (same shape); the last
    ``warmup_count(strategy)`` of them reach the strategy before the run starts,
    as the terminal warms a strategy up on stored bars: its indicators are ready
    on the first bar, and it cannot trade on them.
    ``funding``: each perpetual's funding rates, indexed by settlement time (see
    ``engine.backtest.funding``).
    ``ticks``: trades (price, size, optional side; indexed by time) of some or all
    symbols: the run replays them and the venue matches those symbols on them (see
    ``engine.backtest.tick_replay``); ``data`` holds the bars they make.
    """
    cls = get_strategy(config.strategy)
    params = cls.validate_params(config.params)
    groups = instances_symbols(cls, config.symbols)  # checks the strategy can trade them
    timeframe = Timeframe.parse(config.timeframe)
    frames = _frames(config, data)
    insts = {s: _with_commission((instruments or {}).get(s) or default_instrument(s),
                                 config.commission) for s in config.symbols}
    warnings = [w for s, f in frames.items() for w in
                session_gaps(f, s, insts[s].calendar, timeframe)]
    warnings += [f"{s}: no funding rates were given, so no funding is settled on it (a "
                 "perpetual's carry is missing from the results)" for s, i in insts.items()
                 if i.asset_class.is_derivative and s not in (funding or {})]
    ts, which, rows = _timeline(frames)
    tick_frames = ticks_in_range(ticks, frames, timeframe.ns)

    clock = SimulatedClock(int(ts[0]))
    engine = TradingEngine.for_backtest(
        clock=clock, journal=MemoryJournal(keep_events=False), limits=config.limits,
        config=EngineConfig(default_broker=BROKER, flatten_on_kill=True,
                            auto_kill_on_broker_errors=False))
    for inst in insts.values():
        engine.instruments.add(inst)
    currency = _account_currency(config, insts)
    venue = create_broker(
        "paper", name=BROKER, bus=engine.bus, clock=clock,
        settings={"initial_cash": config.cash, "currency": currency,
                  "slippage_bps": config.slippage_bps, "bus_market_data": bool(tick_frames),
                  "bar_timeframe": timeframe.name},
        instruments=list(insts.values()),
    )
    engine.add_broker(venue)
    engine.runner.spawn(venue.connect(), "connect paper venue")
    engine.open_account(BROKER, currency, Decimal(str(config.cash)))
    if config.portfolio is not None:
        from engine.risk.portfolio import calendar_day, calendar_session_end

        first = next(iter(insts.values()))
        PortfolioRiskMonitor(engine, config.portfolio, day_of=calendar_day(first.calendar),
                             session_end=calendar_session_end(engine.instruments))
    runner = StrategyRunner(engine)
    strategies = [runner.add(cls(engine, symbols, broker=BROKER, params=params,
                                 timeframe=timeframe.name))
                  for symbols in groups]
    warmed = 0
    for strategy in strategies:
        warm = _warmup_bars(strategy.symbols, warmup, int(ts[0]), timeframe,
                            warmup_count(strategy))
        warmed = max(warmed, len(warm))
        runner.start(strategy.strategy_id, warmup=warm)
    equity = EquityTracker(engine, BROKER, list(config.symbols))

    # OHLCV in timeline order, handed to the loop as Python lists a chunk at a time:
    # a numpy scalar in a Bar would make every float operation downstream several
    # times slower, and million-element lists would be walked by every full garbage
    # collection (the same IEEE doubles either way).
    names = list(frames)
    offsets = np.cumsum([0] + [len(f) for f in frames.values()])[:-1]
    pick = offsets[which] + rows
    columns = [np.concatenate([f[c].to_numpy(float) for f in frames.values()])[pick]
               for c in OHLCV]
    first_close = [float(f["close"].iloc[0]) for f in frames.values()]
    tf_ns, tf_name = timeframe.ns, timeframe.name
    make_bar = builder(Bar)  # a Bar without type.__call__: per bar, it shows
    on_bar = venue.on_bar  # type: ignore[attr-defined]
    publish = engine.bus.publish
    advance = clock.advance_to
    n = len(ts)
    # Each bar is two events: its open (the venue fills what was sent before) and its
    # close (it is published). Both happen in time order across symbols, closes before
    # opens at the same instant, so an order sent on one close fills at the next open.
    # One timeframe per run, so closes come in timeline order: a FIFO of bars opened
    # and not yet closed is enough.
    closing: deque[tuple[int, Bar]] = deque()
    pop, push = closing.popleft, closing.append
    close_through = partial(_close_through, closing, advance=advance, publish=publish)
    now = int(ts[0])
    # Funding settlements before the first bar are history; they are not replayed.
    rates = FundingReplay([e for e in funding_events(funding, insts) if e[0] >= now],
                          engine.bus, venue.settle_funding)  # type: ignore[attr-defined]
    funding_due = rates.next_ns
    started = time.perf_counter()

    def between(done: int) -> None:
        if cancel is not None and cancel():
            runner.stop_all()
            raise BacktestCancelled(f"cancelled after {done:,} of {n:,} bars")
        if progress is not None:
            progress(done / n)

    with _frozen_heap():
        if tick_frames:
            replay_ticks(bus=engine.bus, clock=clock, frames=frames, ticks=tick_frames,
                         instruments=insts, timeframe=timeframe, timeline_ns=ts, equity=equity,
                         funding=rates, every=PROGRESS_EVERY, between=between)
        # The bar loop, unless the replay above already published every bar.
        for lo in range(0, 0 if tick_frames else n, CHUNK):
            if lo % PROGRESS_EVERY == 0 and lo:
                between(lo)
            hi = min(lo + CHUNK, n)
            chunk = zip(range(lo, hi), ts[lo:hi].tolist(), which[lo:hi].tolist(),
                        *(col[lo:hi].tolist() for col in columns), strict=True)
            for row, t, k, o, h, low, close, v in chunk:
                if funding_due <= t:
                    now = rates.until(t, now, close_through, advance)
                    funding_due = rates.next_ns
                while closing and closing[0][0] <= t:  # close_through, inlined: every bar
                    now, done = pop()
                    advance(now)
                    publish(done)
                if t > now:
                    advance(t)
                    now = t
                bar = make_bar(names[k], tf_name, t, o, h, low, close, v)
                equity.row = row
                on_bar(bar)
                push((t + tf_ns, bar))
        if closing:  # settlements up to the last close, then the last closes
            end = closing[-1][0]
            now = rates.until(end, now, close_through, advance)
            now = close_through(end, now)
    elapsed = time.perf_counter() - started
    runner.stop_all()
    for strategy in strategies:
        warnings += strategy_warnings(runner, strategy.strategy_id)
    journal = engine.journal
    assert isinstance(journal, MemoryJournal)
    refused = venue_refusals(journal.orders.values())
    warnings += refusal_warning(refused)
    if progress is not None:
        progress(1.0)

    points = equity.curve(ts, which, columns[3], tf_ns, first_close)
    # The ns integers viewed as datetimes: pd.to_datetime parses them one by one (0.3 s
    # for a million bars).
    index = pd.DatetimeIndex(points.ts_ns.view("M8[ns]"), tz="UTC")
    curve = pd.Series(points.value, index=index, name="equity")
    fills = list(journal.fills)
    trades = round_trips(fills, {s: i.contract_size for s, i in insts.items()})
    traded, fees = fill_totals(fills, {s: float(i.contract_size) for s, i in insts.items()})
    periods = 365 if all(i.calendar == "24/7" for i in insts.values()) else 252
    metrics = compute_metrics(curve, trades, exposure=points.exposed,
                              traded_notional=traded, fees=fees, periods_per_year=periods)
    return BacktestResult(
        config=replace(config, params=params), metrics=metrics, equity=curve,
        drawdown=drawdown_curve(curve), trades=trades, orders=list(journal.orders.values()),
        fills=fills, rejections=dict(engine.rejections), venue_rejections=refused,
        warnings=warnings, bars=n, funding=equity.funding,
        elapsed_s=elapsed, warmup_bars=warmed,
    )
