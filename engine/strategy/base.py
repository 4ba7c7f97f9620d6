"""The strategy API: a small class to subclass, the same live and in backtests.

A strategy reacts to market events and expresses what it wants as order
*intents*; the engine runs every intent through pre-trade risk before any
broker sees it, so a strategy can never bypass risk or the kill switch.

Example::

    from engine.indicators import SMA
    from engine.strategy import Param, Strategy

    class SmaCross(Strategy):
        \"\"\"Long when the fast SMA is above the slow one.\"\"\"

        name = "sma_cross"
        fast = Param(int, 10, low=2, high=200, help="fast SMA period")
        slow = Param(int, 30, low=5, high=500, help="slow SMA period")

        def on_start(self):
            self.fast_sma, self.slow_sma = SMA(self.fast), SMA(self.slow)

        def on_bar(self, bar):
            fast, slow = self.fast_sma.update(bar.close), self.slow_sma.update(bar.close)
            if not self.slow_sma.ready:
                return
            if fast > slow and self.position() == 0:
                self.buy(self.size_by_fraction(bar.close))
            elif fast < slow and self.position() > 0:
                self.close()

Lifecycle: ``on_start`` -> (``on_bar`` | ``on_tick`` | ``on_fill`` | ``on_timer``)* ->
``on_stop``. Anything the strategy must remember across a restart goes in
``self.state`` (a JSON-able dict, saved by the engine after fills and on stop,
and restored before ``on_start``); indicators are rebuilt by warming up on
stored bars.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from decimal import ROUND_FLOOR, Decimal
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from engine.execution.intents import OrderIntent, Rejection, SubmitResult
from engine.models import (
    Bar,
    FillEvent,
    OrderSource,
    OrderType,
    Side,
    Tick,
    TimeInForce,
    to_decimal,
)
from engine.models.numbers import ZERO
from engine.strategy.params import Param, ParamError
from engine.strategy.signals import Signal

if TYPE_CHECKING:
    from engine.trading import TradingEngine


DEFAULT_WARMUP, MAX_WARMUP = 300, 5_000


class Strategy:
    """Base class of every strategy; see the module docstring for an example."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    timeframe: str = "1m"  # the bars on_bar receives; a backtest or the runner may set it
    params: ClassVar[dict[str, Param]] = {}
    # Size multiplier set by a StrategyManager (adaptive allocation); 1 = as declared.
    allocation: float = 1.0
    # False: the strategy trades ``self.symbol`` alone, and several symbols get one
    # instance each (its own indicators, position and state), in backtests as in the
    # terminal. True: one instance receives every symbol's bars (a spread, a carry trade).
    multi_symbol: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        declared: dict[str, Param] = {}
        for klass in reversed(cls.__mro__):
            for attr, value in vars(klass).items():
                if isinstance(value, Param):
                    declared[attr] = value
        cls.params = declared
        if not cls.description and cls.__doc__:
            cls.description = cls.__doc__.strip().splitlines()[0]

    def __init__(
        self,
        engine: TradingEngine,
        symbols: str | list[str],
        *,
        broker: str = "",
        strategy_id: str = "",
        params: Mapping[str, Any] | None = None,
        timeframe: str | None = None,
    ) -> None:
        self.engine = engine
        if timeframe is not None:
            self.timeframe = timeframe  # the bars on_bar receives (class default: 1m)
        self.symbols = [symbols] if isinstance(symbols, str) else list(symbols)
        if not self.symbols:
            raise ParamError(f"strategy {self.name!r} needs at least one symbol")
        self.symbol = self.symbols[0]
        self.broker = broker or engine.broker_for(self.symbols[0])
        self.strategy_id = strategy_id or f"{self.name or type(self).__name__}:{self.symbol}"
        self.state: dict[str, Any] = {}
        self.log = logging.getLogger(f"strategy.{self.strategy_id}")
        self.__dict__["_params"] = self.validate_params(params or {})

    @classmethod
    def check_symbols(cls, symbols: Sequence[str]) -> None:
        """Raise ``UserError`` saying what is wrong if the strategy cannot trade
        ``symbols`` (checked before a backtest or a session starts). Any by default."""

    @classmethod
    def validate_params(cls, given: Mapping[str, Any]) -> dict[str, Any]:
        """Parse and range-check ``given``; unknown names are an error."""
        unknown = sorted(set(given) - set(cls.params))
        if unknown:
            known = ", ".join(sorted(cls.params)) or "none"
            raise ParamError(f"strategy {cls.name!r} has no parameter {unknown[0]!r} "
                             f"(parameters: {known})")
        values = {name: p.default for name, p in cls.params.items()}
        for name, value in given.items():
            values[name] = cls.params[name].parse(value, owner=cls.name)
        return values

    @property
    def parameters(self) -> dict[str, Any]:
        return dict(self.__dict__["_params"])

    @property
    def warmup_bars(self) -> int:
        """Bars of history the strategy sees, without trading, before its first bar
        (live and in backtests): 300, or its largest integer parameter if that is
        more (the built-in strategies' integers are periods and lookbacks), at most
        5,000. Override it when the indicators need something else."""
        periods = [v for v in self.__dict__["_params"].values() if type(v) is int]
        return min(max([DEFAULT_WARMUP, *periods]), MAX_WARMUP)

    # ---- hooks to override ------------------------------------------------------
    def on_start(self) -> None:
        """Called once before the first event (after ``state`` was restored)."""

    def on_bar(self, bar: Bar) -> None:
        """A closed bar of ``self.timeframe`` for one of ``self.symbols``."""

    def on_tick(self, tick: Tick) -> None:
        """A trade print (only delivered if a subclass overrides this)."""

    def on_fill(self, event: FillEvent) -> None:
        """One of this strategy's orders traded (after the journal has it)."""

    def on_timer(self, name: str, ts_ns: int) -> None:
        """A timer set with ``set_timer`` fired."""

    def on_stop(self) -> None:
        """Called once when the strategy stops or the kill switch halts it."""

    # ---- orders -----------------------------------------------------------------
    def buy(self, quantity: Any, price: Any = None, **kwargs: Any) -> SubmitResult:
        """Buy ``quantity``: market order, or limit at ``price``; see ``order``."""
        return self.order(Side.BUY, quantity, price, **kwargs)

    def sell(self, quantity: Any, price: Any = None, **kwargs: Any) -> SubmitResult:
        return self.order(Side.SELL, quantity, price, **kwargs)

    def order(
        self,
        side: Side,
        quantity: Any,
        price: Any = None,
        *,
        stop: Any = None,
        symbol: str | None = None,
        time_in_force: TimeInForce = TimeInForce.GTC,
        tag: str = "",
        reduce_only: bool = False,
    ) -> SubmitResult:
        """Send an intent through risk. Limit prices are snapped to the tick.

        ``price`` only: limit; ``stop`` only: stop-market; both: stop-limit;
        neither: market. Buys snap limit prices down and sells snap them up, so
        snapping never makes a price worse for the strategy.
        """
        sym = symbol or self.symbol
        if getattr(self, "_warming_up", False):
            return SubmitResult(rejection=Rejection("warming_up", "no orders while warming up"))
        inst = self.engine.instruments.find(sym)
        if inst is not None:
            rounding: Literal["down", "up"] = "down" if side is Side.BUY else "up"
            if price is not None:
                price = inst.snap_price(price, rounding)
            if stop is not None:
                stop = inst.snap_price(stop, "up" if side is Side.BUY else "down")
        if price is not None and stop is not None:
            kind = OrderType.STOP_LIMIT
        elif stop is not None:
            kind = OrderType.STOP
        elif price is not None:
            kind = OrderType.LIMIT
        else:
            kind = OrderType.MARKET
        return self.engine.submit(OrderIntent(
            symbol=sym, side=side, quantity=quantity, order_type=kind, price=price,
            stop_price=stop, time_in_force=time_in_force, broker=self.broker,
            source=OrderSource.STRATEGY, strategy_id=self.strategy_id, tag=tag,
            reduce_only=reduce_only,
        ))

    def close(self, symbol: str | None = None, tag: str = "close") -> SubmitResult | None:
        """Market order that flattens the position in ``symbol``, less what open
        closing (reduce-only) orders already cover; None when nothing is left to close."""
        held = self.position(symbol)
        if held == 0:
            return None
        side = Side.SELL if held > 0 else Side.BUY
        qty = abs(held) - self.engine.closing_pending(self.broker, symbol or self.symbol, side)
        if qty <= 0:
            return None
        return self.order(side, qty, symbol=symbol, tag=tag, reduce_only=True)

    def order_target(self, quantity: Any, symbol: str | None = None,
                     tag: str = "target") -> SubmitResult | None:
        """One market order that takes the position in ``symbol`` to ``quantity`` (signed:
        negative is short), less what this strategy's open orders there already move;
        None when nothing is left to do. From long to short it is a single order through
        flat, as a trader would send it (``close`` then ``sell`` would be two)::

            self.order_target(-10)   # long 10 -> one sell of 20
        """
        sym = symbol or self.symbol
        working = sum((o.remaining_qty * o.side.sign for o in self.open_orders(sym)), ZERO)
        delta = to_decimal(quantity, what="target quantity") - self.position(sym) - working
        if delta == 0:
            return None
        return self.order(Side.BUY if delta > 0 else Side.SELL, abs(delta), symbol=symbol,
                          tag=tag)

    def cancel_all(self, symbol: str | None = None) -> int:
        n = 0
        for order in self.engine.oms.open_orders(self.broker, symbol):
            if order.strategy_id == self.strategy_id:
                n += self.engine.cancel(order.client_order_id)
        return n

    # ---- queries ----------------------------------------------------------------
    def position(self, symbol: str | None = None) -> Decimal:
        """Signed quantity held at this strategy's broker (0 when flat)."""
        ledger = self.engine.ledger
        if not ledger.has_account(self.broker):
            return ZERO
        return ledger.quantity(self.broker, symbol or self.symbol)

    def open_orders(self, symbol: str | None = None) -> list[Any]:
        return [o for o in self.engine.oms.open_orders(self.broker, symbol)
                if o.strategy_id == self.strategy_id]

    @property
    def equity(self) -> Decimal:
        return self.engine.ledger.account(self.broker).equity

    @property
    def cash(self) -> Decimal:
        return self.engine.ledger.account(self.broker).cash

    def now_ns(self) -> int:
        return self.engine.clock.now_ns()

    def size_by_fraction(self, price: Any, fraction: float | None = None,
                         symbol: str | None = None) -> Decimal:
        """Seed 004's sizing: floor(equity x fraction / price), snapped to the lot.

        ``fraction`` defaults to the risk setting ``max_position_pct`` / 100; the
        result is scaled by ``allocation`` (adaptive allocation, default 1). The
        price includes the instrument's worse commission rate, so an order sized on
        all the cash can pay its fee (it still cannot if the price moves up before it
        fills: the venue then rejects it, and a backtest warns).
        """
        frac = fraction if fraction is not None else self.engine.risk.limits.max_position_pct / 100
        p = to_decimal(price, what="price")
        if p <= 0:
            return ZERO
        inst = self.engine.instruments.find(symbol or self.symbol)
        if inst is not None:
            p *= 1 + max(inst.fees.maker, inst.fees.taker)
        raw = self.equity * to_decimal(frac) * to_decimal(self.allocation) / p
        qty = inst.snap_qty(raw) if inst is not None else raw.to_integral_value(ROUND_FLOOR)
        return max(qty, ZERO)

    # ---- signals and timers -----------------------------------------------------
    def signal(self, action: str, price: float, components: Mapping[str, float] | None = None,
               symbol: str | None = None, **scores: float) -> None:
        """Publish a signal with its score components (the chart shows them on hover)."""
        self.engine.bus.publish(Signal(
            strategy_id=self.strategy_id, symbol=symbol or self.symbol, ts_ns=self.now_ns(),
            action=action, price=float(price), components=dict(components or {}),
            scores=dict(scores),
        ))

    def subscribe(self, event_type: type, handler: Any) -> None:
        """Receive other bus events (e.g. funding rates); dropped when the strategy stops."""
        sub = self.engine.bus.subscribe(event_type, handler)
        self.__dict__.setdefault("_subscriptions", []).append(sub)

    def set_timer(self, name: str, every_seconds: float) -> None:
        """Call ``on_timer(name, ts_ns)`` every ``every_seconds`` of engine time."""
        runner = getattr(self, "_runner", None)
        if runner is None:
            raise RuntimeError("set_timer is available once the strategy is started")
        runner.set_timer(self, name, every_seconds)


def instances_symbols(cls: type[Strategy], symbols: Sequence[str]) -> list[list[str]]:
    """The symbol list of each instance of ``cls`` that trades ``symbols``: one per
    symbol (``[["AAPL"], ["MSFT"]]`` for sma_cross), or one for all if
    ``cls.multi_symbol``. ``UserError`` if the strategy cannot trade them."""
    cls.check_symbols(symbols)
    return [list(symbols)] if cls.multi_symbol else [[s] for s in symbols]


def warmup_count(strategy: Strategy) -> int:
    """How many history bars to warm ``strategy`` on: its ``warmup_bars`` plus a margin
    of 10 for bars missing from the history (a halted minute, a gap in the store)."""
    wanted = strategy.warmup_bars
    return (wanted if isinstance(wanted, int) and wanted >= 0 else DEFAULT_WARMUP) + 10
