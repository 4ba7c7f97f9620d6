"""Portfolio risk: the day's loss and target, drawdown, VaR, stops, session end.

``PortfolioRiskMonitor`` watches every broker account's equity as prices move
and applies the seeds' rules:

* daily max loss (``daily_max_loss_pct``): new entries stop; with
  ``auto_on_daily_loss`` the kill switch is thrown;
* daily target (``target_daily_return_pct``, seed 004's check_daily_targets):
  new entries stop for the rest of the day, open positions are kept;
* max drawdown from the equity peak (``max_drawdown_pct``): kill switch when
  ``auto_on_drawdown``, otherwise entries stop;
* VaR (``var_limit_pct`` of equity at ``var_confidence``, historical, over the
  recent equity returns): entries stop while it is exceeded;
* stop-loss / take-profit per position (seed 004's percentages from the average
  entry price; optional trailing stop) and the end-of-session flatten
  (seed 004's final cleanup) ``session_end_flatten_minutes`` before the close.
  From the start of that window until the close, new entries on the symbol are
  rejected (``entries_blocked``; orders that reduce a position still pass) and a
  fill that opens or adds to a position there (an order resting from before the
  window) is flattened at once, so nothing is carried over the close.

A tick costs a few microseconds: the VaR quantile is recomputed only when a new
equity return is sampled (once per ``var_sample_seconds``) or the limits are
replaced; every other check compares the tick's equity with cached numbers.

The day boundary and the session close come from the market calendar through
two small callables, so this module stays free of calendar details.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime
from decimal import Decimal

import numpy as np

from engine.instruments import InstrumentRegistry
from engine.models import Bar, FillEvent, OrderSource, Tick, to_decimal
from engine.models.numbers import ZERO
from engine.risk.derived import Derived
from engine.risk.drawdown import DrawdownTracker
from engine.risk.var import historical_var
from engine.trading import TradingEngine

log = logging.getLogger(__name__)
NS = 1_000_000_000

NS_PER_MINUTE = 60 * NS


@dataclass(frozen=True, slots=True)
class PortfolioLimits:
    """``[risk]`` and ``[kill_switch]`` settings the monitor uses (percent units)."""

    daily_max_loss_pct: float = 2.0
    target_daily_return_pct: float = 3.0
    max_drawdown_pct: float = 10.0
    var_limit_pct: float = 5.0
    var_confidence: float = 0.99
    stop_loss_pct: float = 1.0
    take_profit_pct: float = 2.0
    trailing_stop_pct: float = 0.0
    flatten_at_session_end: bool = True
    session_end_flatten_minutes: float = 5.0
    auto_on_daily_loss: bool = True
    auto_on_drawdown: bool = True
    var_window: int = 250  # equity returns kept for VaR
    var_sample_seconds: float = 60.0  # one equity return per this much engine time

    @classmethod
    def from_settings(cls, *sections: object) -> PortfolioLimits:
        values: dict[str, object] = {}
        for section in sections:
            for f in fields(cls):
                if hasattr(section, f.name):
                    values[f.name] = getattr(section, f.name)
        return cls(**values)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class DailyStatus:
    """One broker account's day so far, for the risk panel."""

    broker: str
    day: date | None
    start_equity: Decimal
    equity: Decimal
    daily_return_pct: float
    peak_equity: Decimal
    drawdown_pct: float
    var_pct: float
    entries_blocked: str | None


@dataclass
class _Account:
    day: date | None = None
    start: Decimal = ZERO
    drawdown: DrawdownTracker = field(default_factory=DrawdownTracker)
    equity: Decimal = ZERO
    returns: deque[float] | None = None
    samples: int = 0  # returns ever appended (the deque stays full, so its length can't tell)
    last_equity: float = 0.0
    last_sample_ns: int = 0
    var_pct: float = 0.0
    var_of: tuple[int, PortfolioLimits | None] = (-1, None)  # (samples, limits) var_pct is of
    var_breach: str | None = None  # the entry block's reason while VaR is above the limit


@dataclass(frozen=True, slots=True)
class _Numbers:
    """``PortfolioLimits`` as the nanoseconds the per-tick checks compare with."""

    sample_ns: int
    flatten_ns: int

    @classmethod
    def of(cls, lim: PortfolioLimits) -> _Numbers:
        return cls(int(lim.var_sample_seconds * NS), int(lim.session_end_flatten_minutes * 60 * NS))


@dataclass
class _Stops:
    stop: Decimal | None
    take: Decimal | None
    extreme: Decimal  # best price since entry (for the trailing stop)
    exiting: bool = False


DayOf = Callable[[int], date]
SessionEnd = Callable[[str, int], int | None]  # (symbol, ts_ns) -> close ns of that session


def utc_day(ts_ns: int) -> date:
    return datetime.fromtimestamp(ts_ns / NS, tz=UTC).date()


class PortfolioRiskMonitor:
    def __init__(self, engine: TradingEngine, limits: PortfolioLimits, *,
                 day_of: DayOf = utc_day, session_end: SessionEnd | None = None) -> None:
        self.engine = engine
        self.limits = limits
        self.day_of = day_of
        self.session_end = session_end
        self._accounts: dict[str, _Account] = {}
        self._stops: dict[tuple[str, str], _Stops] = {}
        self._flattened_sessions: dict[str, int] = {}
        self._day_cache: tuple[int, date] | None = None  # (minute, trading day)
        self._session_close: dict[str, tuple[int, int]] = {}  # symbol -> (known since, close)
        self._derived: Derived[PortfolioLimits, _Numbers] = Derived(_Numbers.of)
        engine.risk.add_entry_gate(self._session_end_gate)
        engine.bus.subscribe(FillEvent, self._on_fill)
        engine.bus.subscribe(Bar, self._on_bar)
        engine.bus.subscribe(Tick, self._on_tick)

    @property
    def _numbers(self) -> _Numbers:
        """The limits as nanoseconds, rebuilt when ``limits`` is replaced (settings applied)."""
        return self._derived.of(self.limits)

    # ---- status -------------------------------------------------------------
    def status(self, broker: str) -> DailyStatus:
        acct = self._accounts.get(broker) or _Account()
        equity = acct.equity
        daily = float((equity - acct.start) / acct.start * 100) if acct.start else 0.0
        peak = acct.drawdown.peak if acct.drawdown.updates else float(equity)
        return DailyStatus(broker, acct.day, acct.start, equity, daily, Decimal(repr(peak)),
                           acct.drawdown.current_pct, acct.var_pct,
                           self.engine.entries_blocked_reason(broker))

    # ---- events ---------------------------------------------------------------
    def _on_bar(self, bar: Bar) -> None:
        self._price(bar.symbol, bar.close, bar.ts_ns)

    def _on_tick(self, tick: Tick) -> None:
        self._price(tick.symbol, tick.price, tick.ts_ns)

    def _price(self, symbol: str, price: float, ts_ns: int) -> None:
        if not math.isfinite(price) or price <= 0:
            return
        self.check_accounts(ts_ns)
        if self._stops:
            self._check_stops(symbol, to_decimal(price))
        self._check_session_end(symbol, ts_ns)

    def _on_fill(self, event: FillEvent) -> None:
        pos = self.engine.ledger.position(event.fill.broker, event.fill.symbol)
        key = (pos.broker, pos.symbol)
        if pos.quantity == 0:
            self._stops.pop(key, None)
            return
        opening = (pos.quantity > 0) == (event.fill.side.sign > 0)
        if opening or key not in self._stops:
            self._stops[key] = self._levels(pos.avg_price, pos.quantity > 0)
        if opening and self._session_end_gate(pos.broker, pos.symbol) is not None:
            # An order resting from before the window filled inside it: entries are
            # blocked, but this position would otherwise be carried over the close.
            log.info("session end: flattening %s %s opened inside the window", pos.broker,
                     pos.symbol)
            self.engine.flatten(symbol=pos.symbol, broker=pos.broker, source=OrderSource.RISK,
                                reason="session_end")

    # ---- accounts: daily loss / target / drawdown / VaR -------------------------
    def check_accounts(self, ts_ns: int) -> None:
        for broker in self.engine.ledger.brokers():
            self._check_account(broker, ts_ns)

    def _check_account(self, broker: str, ts_ns: int) -> None:
        acct = self._accounts.get(broker)
        if acct is None:  # not setdefault: that built an account, a tracker and a deque per tick
            acct = self._accounts[broker] = _Account(returns=deque(maxlen=self.limits.var_window))
        equity = self.engine.ledger.account(broker).equity
        day = self._day(ts_ns)
        if acct.day != day:
            acct.day, acct.start = day, equity
            for key in ("daily_loss", "daily_target"):
                self.engine.unblock_entries(f"{key}:{broker}")
        drawdown = acct.drawdown.update(float(equity), ts_ns)
        acct.equity = equity
        if ts_ns - acct.last_sample_ns >= self._numbers.sample_ns:
            value = float(equity)
            if acct.last_equity > 0:
                assert acct.returns is not None
                acct.returns.append(value / acct.last_equity - 1.0)
                acct.samples += 1
            acct.last_equity, acct.last_sample_ns = value, ts_ns
        if acct.start <= 0:
            return
        daily = float((equity - acct.start) / acct.start * 100)
        lim = self.limits
        if daily <= -lim.daily_max_loss_pct:
            self._breach(broker, "daily_loss", f"daily loss {daily:.2f}% reached the limit "
                         f"{lim.daily_max_loss_pct:g}%", lim.auto_on_daily_loss)
        elif daily >= lim.target_daily_return_pct:
            self.engine.block_entries(f"daily_target:{broker}", f"daily target "
                                      f"{lim.target_daily_return_pct:g}% reached ({daily:.2f}%)")
        if drawdown >= lim.max_drawdown_pct:
            self._breach(broker, "drawdown", f"drawdown {drawdown:.2f}% reached the limit "
                         f"{lim.max_drawdown_pct:g}%", lim.auto_on_drawdown)
        self._check_var(broker, acct)

    def _day(self, ts_ns: int) -> date:
        """``day_of`` once per minute: a trading day never changes inside a minute, and a
        live feed brings thousands of ticks a second (the calendar look-up was 30 us each)."""
        minute = ts_ns // NS_PER_MINUTE
        cached = self._day_cache
        if cached is None or cached[0] != minute:
            cached = self._day_cache = (minute, self.day_of(ts_ns))
        return cached[1]

    def _check_var(self, broker: str, acct: _Account) -> None:
        assert acct.returns is not None
        if len(acct.returns) < 30:
            acct.var_pct = 0.0
            return
        lim = self.limits
        if acct.var_of[0] != acct.samples or acct.var_of[1] is not lim:
            # The returns change once per var_sample_seconds; the quantile of 250 of
            # them cost ~70 us, on every tick, for every account.
            var = historical_var(np.asarray(acct.returns), lim.var_confidence).var
            acct.var_pct = max(var, 0.0) * 100
            acct.var_breach = (f"VaR {acct.var_pct:.2f}% above the limit {lim.var_limit_pct:g}%"
                               if acct.var_pct > lim.var_limit_pct else None)
            acct.var_of = (acct.samples, lim)
        # Applied on every tick as before (a dict look-up): the gate is the same whichever
        # way the engine's blocks changed in between.
        key = f"var:{broker}"
        if acct.var_breach is not None:
            self.engine.block_entries(key, acct.var_breach)
        else:
            self.engine.unblock_entries(key)

    def _breach(self, broker: str, key: str, message: str, kill: bool) -> None:
        self.engine.block_entries(f"{key}:{broker}", message)
        if kill and not self.engine.kill_switch.latched:
            self.engine.kill(message, by="auto", source=key)

    # ---- stop-loss / take-profit ------------------------------------------------
    def _levels(self, avg: Decimal, long: bool) -> _Stops:
        lim = self.limits
        sl = Decimal(str(lim.stop_loss_pct)) / 100
        tp = Decimal(str(lim.take_profit_pct)) / 100
        sign = 1 if long else -1
        return _Stops(
            stop=avg * (1 - sign * sl) if lim.stop_loss_pct > 0 else None,
            take=avg * (1 + sign * tp) if lim.take_profit_pct > 0 else None,
            extreme=avg,
        )

    def _check_stops(self, symbol: str, price: Decimal) -> None:
        for (broker, sym), stops in list(self._stops.items()):
            if sym != symbol or stops.exiting:
                continue
            qty = self.engine.ledger.quantity(broker, sym)
            if qty == 0:
                self._stops.pop((broker, sym), None)
                continue
            long = qty > 0
            self._trail(stops, price, long)
            hit_stop = stops.stop is not None and (price <= stops.stop if long else price >= stops.stop)
            hit_take = stops.take is not None and (price >= stops.take if long else price <= stops.take)
            if hit_stop or hit_take:
                stops.exiting = True
                reason = "stop_loss" if hit_stop else "take_profit"
                log.info("%s on %s at %s", reason, sym, price)
                self.engine.flatten(symbol=sym, broker=broker, source=OrderSource.RISK,
                                    reason=reason)

    def _trail(self, stops: _Stops, price: Decimal, long: bool) -> None:
        pct = self.limits.trailing_stop_pct
        if pct <= 0:
            return
        if (long and price > stops.extreme) or (not long and price < stops.extreme):
            stops.extreme = price
            frac = Decimal(str(pct)) / 100
            trail = price * (1 - frac) if long else price * (1 + frac)
            if stops.stop is None or (trail > stops.stop if long else trail < stops.stop):
                stops.stop = trail

    # ---- end of session -----------------------------------------------------------
    def _check_session_end(self, symbol: str, ts_ns: int) -> None:
        if not self.limits.flatten_at_session_end or self.session_end is None:
            return
        known = self._session_close.get(symbol)
        if known is not None and known[0] <= ts_ns < known[1]:
            close = known[1]  # still the same session: no calendar look-up per tick
        else:
            found = self.session_end(symbol, ts_ns)
            if found is None:
                return
            close = found
            self._session_close[symbol] = (ts_ns, close)
        if ts_ns < close - self._numbers.flatten_ns:
            return
        if self._flattened_sessions.get(symbol) == close:
            return
        self._flattened_sessions[symbol] = close
        if any(p.symbol == symbol for p in self.engine.ledger.positions()):
            log.info("session end: flattening %s", symbol)
            self.engine.flatten(symbol=symbol, source=OrderSource.RISK, reason="session_end")

    def _session_end_gate(self, broker: str, symbol: str) -> str | None:
        """Why a new entry on ``symbol`` must wait: its session's flatten window has begun.

        Per symbol, not an engine-wide ``block_entries``: the close of one market must not
        stop entries on another (a 24/7 crypto pair, a market that closes hours later).
        Judged by the clock, so the gate lifts at the close even when no tick follows, and
        it applies even before the window's first tick of this symbol has arrived.
        """
        if not self.limits.flatten_at_session_end or self.session_end is None:
            return None
        known = self._session_close.get(symbol)
        if known is None:
            return None
        since, close = known
        now = self.engine.clock.now_ns()
        if not since <= now < close or now < close - self._numbers.flatten_ns:
            return None
        at = datetime.fromtimestamp(close / NS, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")
        return (f"{symbol}: the session ends at {at}; positions are flattened "
                f"{self.limits.session_end_flatten_minutes:g} min before it and new entries "
                "wait for the next session")


def calendar_session_end(instruments: InstrumentRegistry) -> SessionEnd:
    """``session_end`` from each instrument's market calendar; 24/7 markets never flatten."""
    from engine.calendars import get_calendar

    def session_end(symbol: str, ts_ns: int) -> int | None:
        inst = instruments.find(symbol)
        if inst is None or inst.calendar == "24/7":
            return None
        try:
            session = get_calendar(inst.calendar).session_of(ts_ns)
        except Exception:  # outside the calendar's range: no session to end
            return None
        return None if session is None else session.close_ns

    return session_end


def calendar_day(name: str) -> DayOf:
    """``day_of`` from a market calendar: the session's trading date (UTC date outside)."""
    from engine.calendars import get_calendar

    def day_of(ts_ns: int) -> date:
        try:
            session = get_calendar(name).session_of(ts_ns)
        except Exception:
            session = None
        return session.label if session is not None else utc_day(ts_ns)

    return day_of
