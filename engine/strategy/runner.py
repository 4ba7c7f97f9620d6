"""Runs strategies: routes events to them, isolates their failures, keeps their state.

The runner subscribes once to bars, ticks and fills and hands each to the
strategies that asked for it. A strategy that raises is logged with its
traceback; after ``max_errors`` failures it is stopped in the ``error`` state
so one broken strategy cannot spam orders or take the others down. The kill
switch halts every strategy (``on_stop`` is called) and none can start again
until it is re-armed.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from engine.clock import Timer
from engine.models import Bar, FillEvent, Tick
from engine.strategy.base import Strategy
from engine.strategy.signals import StrategyStateChanged

if TYPE_CHECKING:
    from engine.trading import TradingEngine

log = logging.getLogger(__name__)
K = TypeVar("K")
NS = 1_000_000_000


@dataclass(frozen=True, slots=True)
class StrategyFailure:
    """One exception a strategy raised, kept so a backtest can report it."""

    strategy_id: str
    hook: str
    ts_ns: int
    error: str  # "KeyError: 'x'"


class StrategyRunner:
    # The first failures are kept for reports; the rest are counted in ``failure_counts``.
    KEEP_FAILURES = 100

    def __init__(self, engine: TradingEngine, *, max_errors: int = 10) -> None:
        self.engine = engine
        self.max_errors = max_errors
        self.failures: list[StrategyFailure] = []
        self.failure_counts: dict[str, int] = {}
        self._strategies: dict[str, Strategy] = {}
        self._states: dict[str, str] = {}
        self._errors: dict[str, int] = {}
        self._bar_routes: dict[tuple[str, str], list[Strategy]] = {}
        self._tick_routes: dict[str, list[Strategy]] = {}
        self._timers: dict[str, list[Timer]] = {}
        engine.bus.subscribe(Bar, self._on_bar)
        engine.bus.subscribe(Tick, self._on_tick)
        engine.bus.subscribe(FillEvent, self._on_fill)
        engine.on_halt(self.halt)

    # ---- registry ---------------------------------------------------------------
    def add(self, strategy: Strategy) -> Strategy:
        if strategy.strategy_id in self._strategies:
            raise ValueError(f"a strategy with id {strategy.strategy_id!r} is already added")
        self._strategies[strategy.strategy_id] = strategy
        self._states[strategy.strategy_id] = "stopped"
        strategy._runner = self  # type: ignore[attr-defined]
        return strategy

    def get(self, strategy_id: str) -> Strategy:
        return self._strategies[strategy_id]

    def strategies(self) -> list[Strategy]:
        return list(self._strategies.values())

    def state(self, strategy_id: str) -> str:
        return self._states[strategy_id]

    # ---- lifecycle --------------------------------------------------------------
    def start(self, strategy_id: str, warmup: Iterable[Bar] = ()) -> None:
        """Restore state, warm indicators up on ``warmup`` bars (no orders), start."""
        strategy = self._strategies[strategy_id]
        if self._states[strategy_id] == "running":
            return
        if self.engine.kill_switch.latched:
            raise RuntimeError("the kill switch is latched: re-arm it before starting strategies")
        saved = self.engine.journal.load_state(self._state_key(strategy))
        if isinstance(saved, dict):
            strategy.state.update(saved)
        self._errors[strategy_id] = 0
        _pin_params(strategy)
        if not self._call(strategy, "on_start"):
            _unpin_params(strategy)
            return
        strategy._warming_up = True  # type: ignore[attr-defined]
        try:
            for bar in warmup:
                strategy.on_bar(bar)
        finally:
            strategy._warming_up = False  # type: ignore[attr-defined]
        for symbol in strategy.symbols:
            self._bar_routes.setdefault((symbol, strategy.timeframe), []).append(strategy)
            if type(strategy).on_tick is not Strategy.on_tick:
                self._tick_routes.setdefault(symbol, []).append(strategy)
        self._set_state(strategy, "running")

    def start_all(self) -> None:
        for sid in self._strategies:
            self.start(sid)

    def stop(self, strategy_id: str, *, state: str = "stopped", detail: str = "") -> None:
        strategy = self._strategies[strategy_id]
        if self._states[strategy_id] != "running":
            return
        self._unroute(strategy)
        for timer in self._timers.pop(strategy_id, []):
            timer.cancel()
        for sub in strategy.__dict__.pop("_subscriptions", []):
            self.engine.bus.unsubscribe(sub)
        self._call(strategy, "on_stop", stopping=True)
        _unpin_params(strategy)
        self.save_state(strategy)
        self._set_state(strategy, state, detail)

    def stop_all(self) -> None:
        for sid in list(self._strategies):
            self.stop(sid)

    def halt(self, reason: str) -> None:
        """The kill switch: stop every running strategy in the ``halted`` state."""
        for sid, state in list(self._states.items()):
            if state == "running":
                self.stop(sid, state="halted", detail=reason)

    def set_timer(self, strategy: Strategy, name: str, every_seconds: float) -> None:
        def fire(ts_ns: int) -> None:
            if self._states.get(strategy.strategy_id) == "running":
                self._call(strategy, "on_timer", name, ts_ns)

        timer = self.engine.clock.every(int(every_seconds * NS), fire, name=f"{strategy.strategy_id}:{name}")
        self._timers.setdefault(strategy.strategy_id, []).append(timer)

    def save_state(self, strategy: Strategy) -> None:
        self.engine.journal.save_state(self._state_key(strategy), strategy.state)
        self.engine.journal.flush()

    # ---- routing ----------------------------------------------------------------
    def _on_bar(self, bar: Bar) -> None:
        route = self._bar_routes.get((bar.symbol, bar.timeframe))
        if route:
            for strategy in route:
                try:
                    strategy.on_bar(bar)
                except Exception:
                    self._failed(strategy, "on_bar")

    def _on_tick(self, tick: Tick) -> None:
        route = self._tick_routes.get(tick.symbol)
        if route:
            for strategy in route:
                self._call(strategy, "on_tick", tick)

    def _on_fill(self, event: FillEvent) -> None:
        strategy = self._strategies.get(event.order.strategy_id)
        if strategy is not None and self._states.get(strategy.strategy_id) in ("running", "halted"):
            self._call(strategy, "on_fill", event)
            self.save_state(strategy)

    # ---- internals --------------------------------------------------------------
    def _call(self, strategy: Strategy, hook: str, *args: Any, stopping: bool = False) -> bool:
        try:
            getattr(strategy, hook)(*args)
            return True
        except Exception:
            if stopping:
                self._remember(strategy.strategy_id, hook)
                log.exception("strategy %s failed in %s", strategy.strategy_id, hook)
            else:
                self._failed(strategy, hook)
            return False

    def _failed(self, strategy: Strategy, hook: str) -> None:
        sid = strategy.strategy_id
        self._errors[sid] = self._errors.get(sid, 0) + 1
        self._remember(sid, hook)
        log.exception("strategy %s failed in %s (%d/%d)", sid, hook, self._errors[sid],
                      self.max_errors)
        if self._errors[sid] >= self.max_errors and self._states.get(sid) == "running":
            self.stop(sid, state="error", detail=f"{self._errors[sid]} errors; last in {hook}")
        elif self._states.get(sid) != "running" and hook == "on_start":
            self._set_state(strategy, "error", f"failed in {hook}")

    def _remember(self, sid: str, hook: str) -> None:
        self.failure_counts[sid] = self.failure_counts.get(sid, 0) + 1
        if len(self.failures) < self.KEEP_FAILURES:
            exc = sys.exc_info()[1]
            error = f"{type(exc).__name__}: {exc}" if exc is not None else "unknown error"
            self.failures.append(StrategyFailure(sid, hook, self.engine.clock.now_ns(), error))

    def _unroute(self, strategy: Strategy) -> None:
        _drop(self._bar_routes, strategy)
        _drop(self._tick_routes, strategy)

    def _set_state(self, strategy: Strategy, state: str, detail: str = "") -> None:
        self._states[strategy.strategy_id] = state
        self.engine.bus.publish(StrategyStateChanged(strategy.strategy_id, state,
                                                     self.engine.clock.now_ns(), detail))

    @staticmethod
    def _state_key(strategy: Strategy) -> str:
        return f"strategy:{strategy.strategy_id}"


def _drop(routes: dict[K, list[Strategy]], strategy: Strategy) -> None:
    for key in list(routes):
        routes[key] = [s for s in routes[key] if s is not strategy]
        if not routes[key]:
            del routes[key]


def _pin_params(strategy: Strategy) -> None:
    """While it runs, a strategy reads its parameters as plain instance attributes.

    ``Param`` is a descriptor without ``__set__``, so an instance attribute of the
    same name wins: ``self.fast`` then costs a dict lookup instead of a Python call
    (seed 004's hybrid read ~19 parameters a bar; 12% of its backtest). Parameters
    change only while a strategy is stopped (``apply_params`` stops it first), and
    stopping unpins them, so a stopped strategy reads ``_params`` as before.
    """
    values = strategy.__dict__.get("_params", {})
    pinned = {}
    for name, param in type(strategy).params.items():
        if name not in strategy.__dict__:  # never hide what the strategy set itself
            pinned[name] = strategy.__dict__[name] = values.get(name, param.default)
    strategy.__dict__["_pinned_params"] = pinned


def _unpin_params(strategy: Strategy) -> None:
    for name, value in strategy.__dict__.pop("_pinned_params", {}).items():
        if strategy.__dict__.get(name, _MISSING) is value:  # the strategy did not replace it
            del strategy.__dict__[name]


_MISSING = object()
