"""The strategy API: parameters, intents through risk, fills, state, halting."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from engine.clock import SimulatedClock
from engine.execution.journal import MemoryJournal
from engine.models import Bar, FillEvent, OrderSource, Side, krx_stock, us_stock
from engine.risk.limits import RiskLimits
from engine.strategies.sma_cross import SmaCross
from engine.strategy import Param, ParamError, Strategy, StrategyRunner, StrategyStateChanged
from engine.trading import TradingEngine
from tests.engine.recording_broker import RecordingBroker

SAMSUNG = krx_stock("005930")


class BuyTheDip(Strategy):
    """Buys after `drops` consecutive down bars; remembers its trade count."""

    name = "buy_the_dip_test"
    drops = Param(int, 2, low=1, high=10, help="down bars before buying")
    size = Param(float, 0.05, low=0.0, high=1.0)
    enabled = Param(bool, True)

    def on_start(self):
        self.last = None
        self.down = 0
        self.state.setdefault("fills", 0)

    def on_bar(self, bar):
        if self.last is not None and bar.close < self.last:
            self.down += 1
        else:
            self.down = 0
        self.last = bar.close
        if self.enabled and self.down >= self.drops and self.position() == 0 \
                and not self.open_orders():
            self.buy(self.size_by_fraction(bar.close, self.size), price=bar.close)

    def on_fill(self, event: FillEvent):
        self.state["fills"] += 1


class Broken(Strategy):
    name = "broken_test"

    def on_bar(self, bar):
        raise ZeroDivisionError("oops")


def setup(journal=None):
    clock = SimulatedClock(10**18)
    engine = TradingEngine.for_backtest(clock=clock, journal=journal or MemoryJournal(),
                                        limits=RiskLimits(max_orders_per_second=1000))
    engine.instruments.add(SAMSUNG)
    broker = RecordingBroker("paper", engine.bus, clock)
    engine.add_broker(broker)
    engine.open_account("paper", "KRW", Decimal(10_000_000))
    return engine, broker, StrategyRunner(engine), clock


def bar(i, close):
    return Bar("005930", "1m", 10**18 + i * 60 * 10**9, close, close, close, close, 100.0)


def test_params_are_declared_validated_and_described():
    assert list(BuyTheDip.params) == ["drops", "size", "enabled"]
    assert BuyTheDip.validate_params({"drops": "3", "enabled": "no"}) == {
        "drops": 3, "size": 0.05, "enabled": False}
    with pytest.raises(ParamError, match="outside its range"):
        BuyTheDip.validate_params({"drops": 50})
    with pytest.raises(ParamError, match="has no parameter 'drop'.*drops"):
        BuyTheDip.validate_params({"drop": 3})
    with pytest.raises(ParamError, match="must be int"):
        BuyTheDip.validate_params({"drops": "2.5"})
    assert BuyTheDip.params["drops"].describe()["help"] == "down bars before buying"
    assert BuyTheDip.params["drops"].grid(4) == [1, 4, 7, 10]


def test_strategy_orders_go_through_risk_and_fills_come_back():
    engine, broker, runner, clock = setup()
    s = runner.add(BuyTheDip(engine, "005930", params={"drops": 2}))
    runner.start(s.strategy_id)
    for i, px in enumerate([70_000, 69_900, 69_800]):
        clock.advance_to(10**18 + i * 60 * 10**9)
        engine.bus.publish(bar(i, px))
    assert len(broker.placed) == 1
    order = broker.placed[0]
    assert order.source is OrderSource.STRATEGY and order.strategy_id == s.strategy_id
    assert order.price == Decimal(69_800) and order.quantity == Decimal(7)  # 5% of 10M / 69,800
    broker.fill(order, 7, 69_800)
    assert s.state["fills"] == 1 and s.position() == 7


def test_state_survives_a_restart():
    journal = MemoryJournal()
    engine, broker, runner, clock = setup(journal)
    s = runner.add(BuyTheDip(engine, "005930"))
    runner.start(s.strategy_id)
    for i, px in enumerate([70_000, 69_900, 69_800]):
        engine.bus.publish(bar(i, px))
    broker.fill(broker.placed[0], 7, 69_800)
    runner.stop(s.strategy_id)
    engine2, _, runner2, _ = setup(journal)
    s2 = runner2.add(BuyTheDip(engine2, "005930"))
    runner2.start(s2.strategy_id)
    assert s2.state["fills"] == 1


def test_warmup_never_trades():
    engine, broker, runner, _ = setup()
    s = runner.add(BuyTheDip(engine, "005930"))
    runner.start(s.strategy_id, warmup=[bar(i, 70_000 - 100 * i) for i in range(5)])
    assert broker.placed == [] and s.down == 4


def test_warm_up_length_follows_the_longest_period_parameter():
    from engine.strategies import SmaCross
    from engine.strategy import warmup_count

    engine, _, _, _ = setup()
    assert BuyTheDip(engine, "005930").warmup_bars == 300  # drops=2: the default rules
    assert SmaCross(engine, "005930", params={"slow": 2000}).warmup_bars == 2000
    assert warmup_count(SmaCross(engine, "005930", params={"slow": 2000})) == 2010

    class HugeLookback(Strategy):
        name = "huge_lookback_test"
        lookback = Param(int, 1_000_000, low=1, high=10_000_000)

    assert HugeLookback(engine, "005930").warmup_bars == 5000  # capped


def test_kill_switch_halts_strategies_and_they_cannot_restart():
    engine, _, runner, _ = setup()
    states: list[str] = []
    engine.bus.subscribe(StrategyStateChanged, lambda e: states.append(e.state))
    s = runner.add(BuyTheDip(engine, "005930"))
    runner.start(s.strategy_id)
    engine.kill("test")
    assert runner.state(s.strategy_id) == "halted" and states == ["running", "halted"]
    with pytest.raises(RuntimeError, match="kill switch is latched"):
        runner.start(s.strategy_id)


def test_a_failing_strategy_is_stopped_without_harming_others():
    engine, broker, runner, _ = setup()
    good = runner.add(BuyTheDip(engine, "005930"))
    bad = runner.add(Broken(engine, "005930"))
    runner.start(good.strategy_id)
    runner.start(bad.strategy_id)
    for i, px in enumerate([70_000 - 100 * i for i in range(12)]):
        engine.bus.publish(bar(i, px))
    assert runner.state(bad.strategy_id) == "error"
    assert runner.state(good.strategy_id) == "running" and len(broker.placed) == 1


class Targets(Strategy):
    name = "test_targets"

    def on_bar(self, bar: Bar) -> None:
        pass


def test_order_target_sends_one_order_for_the_difference():
    from tests.engine.strategy.harness import MIN, T0, feed, make_run

    run = make_run(Targets, "AAPL", instruments=[replace(us_stock("AAPL"), allows_short=True)])
    feed(run, [100.0])
    s, broker = run.strategy, run.broker
    s.order_target(10)  # fills at once (the harness's broker)
    assert s.position() == 10
    s.order_target(-10)  # long 10 to short 10: one sell of 20, not a close and a sell
    assert [(o.side, o.quantity) for o in broker.placed] == [(Side.BUY, 10), (Side.SELL, 20)]
    assert s.position() == -10
    assert s.order_target(-10) is None  # already there: nothing sent
    broker.fill_price = None  # orders now rest unfilled
    feed(run, [100.0], start=T0 + 10 * MIN)  # later (the same order twice in 2 s is refused)
    s.order_target(0)
    assert s.order_target(0) is None  # the open buy of 10 already gets there
    assert [o.quantity for o in broker.placed] == [10, 20, 10]


def test_sma_cross_reverses_in_one_order_where_it_can_short_and_only_closes_where_not():
    from tests.engine.strategy.harness import feed, make_run

    # Up, down, up again (no exact tie of the two averages, which is no cross).
    closes = [10.0, 9.8, 9.6, 9.4, 9.2, 9.6, 10.4, 11.2, 12.0, 11.0, 10.0, 9.0, 8.0, 8.6, 9.7,
              11.1, 12.6]
    params = {"fast": 2, "slow": 5, "size": 10, "reverse": True}
    shortable = make_run(SmaCross, "AAPL", params,
                         instruments=[replace(us_stock("AAPL"), allows_short=True)])
    feed(shortable, closes)
    assert [(o.side, o.quantity) for o in shortable.broker.placed] == [
        (Side.BUY, 10), (Side.SELL, 20), (Side.BUY, 20)]
    long_only = make_run(SmaCross, "AAPL", params,
                         instruments=[replace(us_stock("AAPL"), allows_short=False)])
    feed(long_only, closes)
    placed = long_only.broker.placed
    assert [(o.side, o.quantity, o.reduce_only) for o in placed] == [
        (Side.BUY, 10, False), (Side.SELL, 10, True), (Side.BUY, 10, False)]
    assert long_only.engine.rejections == {}
