"""Strategies panel: state, start/stop, and a parameter form that respects declarations."""

from __future__ import annotations

from decimal import Decimal

import pytest

from engine.clock import SimulatedClock
from engine.errors import UserError
from engine.execution.journal import MemoryJournal
from engine.models import krx_stock
from engine.strategy import Param, Strategy, StrategyRunner
from engine.trading import TradingEngine
from tests.engine.recording_broker import RecordingBroker
from widgets.bridge import EngineBridge
from widgets.context import AppContext
from widgets.param_form import ParamForm
from widgets.strategies_panel import StrategiesPanel


class Demo(Strategy):
    name = "demo_panel_test"
    period = Param(int, 10, low=2, high=50, help="lookback")
    k = Param(float, 2.0, low=0.5, high=4.0)
    mode = Param(str, "fast", choices=("fast", "slow"))
    on = Param(bool, True)


def make(qtbot):
    clock = SimulatedClock(10**18)
    engine = TradingEngine.for_backtest(clock=clock, journal=MemoryJournal())
    engine.instruments.add(krx_stock("005930"))
    engine.add_broker(RecordingBroker("paper", engine.bus, clock))
    engine.open_account("paper", "KRW", Decimal(10_000_000))
    runner = StrategyRunner(engine)
    ctx = AppContext(engine=engine, bridge=EngineBridge(engine.bus, rate_hz=1), runner=runner)
    strategy = runner.add(Demo(engine, "005930"))
    panel = StrategiesPanel(ctx)
    qtbot.addWidget(panel)
    return ctx, panel, strategy


def test_form_is_generated_from_declarations_and_validates(qapp):
    form = ParamForm(Demo, {"period": 20})
    assert set(form.editors) == {"period", "k", "mode", "on"}
    assert form.editors["period"].maximum() == 50 and form.editors["period"].value() == 20
    assert form.editors["mode"].count() == 2
    assert form.values() == {"period": 20, "k": 2.0, "mode": "fast", "on": True}
    form.editors["mode"].addItem("bogus")
    form.editors["mode"].setCurrentText("bogus")
    with pytest.raises(UserError, match="must be one of"):
        form.values()


def test_start_stop_and_edit_from_the_panel(qtbot):
    ctx, panel, strategy = make(qtbot)
    assert panel.model.rowCount() == 1
    panel.table.selectRow(0)
    panel.start_selected()
    ctx.bridge.flush()
    assert ctx.runner.state(strategy.strategy_id) == "running"
    assert panel.model.index(0, 3).data() == "running"
    panel.apply_params(strategy, {"period": 30})
    assert strategy.period == 30 and ctx.runner.state(strategy.strategy_id) == "running"
    panel.stop_selected()
    assert ctx.runner.state(strategy.strategy_id) == "stopped"
    panel.start_selected()
    ctx.engine.kill("test")
    ctx.bridge.flush()
    assert panel.model.index(0, 3).data() == "halted"
