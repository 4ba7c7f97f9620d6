"""A running strategy reads its parameters as plain attributes; changes apply at restart."""

from __future__ import annotations

from engine.models import Bar
from engine.strategy import Param, Strategy
from tests.engine.strategy.harness import T0, make_run


class Reader(Strategy):
    name = "test_param_reader"
    period = Param(int, 5, low=1, high=100)
    label = Param(str, "a")

    def on_start(self) -> None:
        self.seen: list[tuple[int, str]] = []
        self.label = self.label.upper()  # the strategy's own attribute of a param's name

    def on_bar(self, bar: Bar) -> None:
        self.seen.append((self.period, self.label))


def bar(i: int) -> Bar:
    return Bar("AAPL", "1m", T0 + i * 60 * 10**9, 10.0, 10.0, 10.0, 10.0, 1.0)


def test_params_pinned_while_running_and_fresh_after_a_restart():
    run = make_run(Reader, "AAPL", params={"period": 7})
    strategy = run.strategy
    runner = strategy._runner
    run.engine.bus.publish(bar(0))
    assert strategy.seen == [(7, "A")]
    assert strategy.__dict__["period"] == 7  # a plain attribute while it runs
    runner.stop(strategy.strategy_id)
    assert "period" not in strategy.__dict__  # stopped: read through the descriptor again
    assert strategy.__dict__["label"] == "A"  # what the strategy set itself stays
    strategy.__dict__["_params"] = strategy.validate_params({"period": 9, "label": "b"})
    assert strategy.period == 9
    del strategy.__dict__["label"]
    runner.start(strategy.strategy_id)
    run.engine.bus.publish(bar(1))
    assert strategy.seen == [(9, "B")]
    assert strategy.parameters == {"period": 9, "label": "b"}
