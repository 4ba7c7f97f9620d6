"""Drive a strategy over crafted bars: every order fills at once at the bar's close
(or its limit price), so a test sees exactly what the strategy's rules decided."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from engine.clock import SimulatedClock
from engine.execution.journal import MemoryJournal
from engine.models import Bar, Instrument, Order, Tick, us_stock
from engine.risk.limits import RiskLimits
from engine.strategy import Signal, Strategy, StrategyRunner
from engine.trading import TradingEngine
from tests.engine.recording_broker import RecordingBroker

MIN = 60 * 10**9
T0 = 1_362_148_200 * 10**9  # 2013-03-01 14:30 UTC, a NYSE session open


@dataclass
class Run:
    engine: TradingEngine
    broker: RecordingBroker
    strategy: Strategy
    signals: list[Signal] = field(default_factory=list)

    def orders(self) -> list[Order]:
        return self.broker.placed

    def sides(self) -> list[str]:
        return [f"{o.side.value}:{o.symbol}" for o in self.broker.placed]


def make_run(cls, symbols, params=None, instruments=None, cash=1_000_000, start=T0) -> Run:
    clock = SimulatedClock(start)
    engine = TradingEngine.for_backtest(
        clock=clock, journal=MemoryJournal(),
        limits=RiskLimits(max_position_pct=100, max_gross_exposure_pct=1000, price_band_pct=100,
                          max_orders_per_second=10_000, max_order_notional=1e15))
    for inst in instruments or [us_stock(s) for s in ([symbols] if isinstance(symbols, str) else symbols)]:
        engine.instruments.add(inst)

    def price(order: Order) -> Decimal:
        if order.price is not None:
            return order.price
        inst: Instrument = engine.instruments.get(order.symbol)
        return inst.snap_price(engine.market.last_price(order.symbol))

    broker = RecordingBroker("paper", engine.bus, clock, fill_price=price)
    engine.add_broker(broker)
    engine.open_account("paper", "USD", Decimal(cash))
    runner = StrategyRunner(engine)
    strategy = runner.add(cls(engine, symbols, params=params or {}))
    run = Run(engine, broker, strategy)
    engine.bus.subscribe(Signal, run.signals.append)
    runner.start(strategy.strategy_id)
    return run


def feed(run: Run, closes, symbol=None, start=T0, spread=0.0, volume=1000.0) -> None:
    symbol = symbol or run.strategy.symbol
    clock = run.engine.clock
    for i, c in enumerate(closes):
        ts = start + i * MIN
        clock.advance_to(max(clock.now_ns(), ts + MIN))
        high, low = c + spread, c - spread
        run.engine.bus.publish(Tick(symbol, ts, c, volume))
        run.engine.bus.publish(Bar(symbol, "1m", ts, c, high, low, c, volume, 1, c))
