"""The chart: crosshair readout, navigation, indicators, live bars and markers."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt

from engine.backtest.trades import RoundTrip
from engine.clock import SimulatedClock
from engine.execution.journal import MemoryJournal
from engine.models import Bar, us_stock
from engine.strategy.runner import StrategyRunner
from engine.strategy.signals import Signal
from engine.trading import TradingEngine
from tests.engine.recording_broker import RecordingBroker
from widgets.bridge import EngineBridge
from widgets.chart import ChartWidget
from widgets.chart.candles import LOD_BARS

MIN = 60 * 10**9


def frame(n=500, start="2013-03-01 14:30"):
    rng = np.random.default_rng(7)
    close = 100 + np.cumsum(rng.normal(0, 0.2, n))
    open_ = np.r_[close[0], close[:-1]]
    high = np.maximum(open_, close) + rng.uniform(0, 0.3, n)
    low = np.minimum(open_, close) - rng.uniform(0, 0.3, n)
    index = pd.date_range(start, periods=n, freq="1min", tz="UTC", name="time")
    return pd.DataFrame({"open": open_, "high": high, "low": low, "close": close,
                         "volume": rng.integers(100, 1000, n).astype(float)}, index=index)


def make_chart(qtbot, df=None):
    from widgets.context import AppContext

    clock = SimulatedClock(10**18)
    engine = TradingEngine.for_backtest(clock=clock, journal=MemoryJournal())
    engine.instruments.add(us_stock("AAPL"))
    engine.add_broker(RecordingBroker("paper", engine.bus, clock))
    engine.open_account("paper", "USD", Decimal(100_000))
    data = frame() if df is None else df
    ctx = AppContext(engine=engine, bridge=EngineBridge(engine.bus, rate_hz=1),
                     runner=StrategyRunner(engine), symbols=["AAPL"],
                     bar_loader=lambda symbol, tf: data, data_labels={"AAPL": "synthetic"})
    chart = ChartWidget(ctx, symbol="AAPL")
    chart.resize(1200, 800)
    qtbot.addWidget(chart)
    chart.show()
    qtbot.waitExposed(chart)
    return chart, ctx, data


def test_crosshair_readout_shows_the_hovered_bar(qtbot):
    chart, _, df = make_chart(qtbot)
    chart.price.vb.setXRange(400, 500, padding=0)
    target = 450
    scene_pos = chart.price.vb.mapViewToScene(QPointF(target, float(df.close.iloc[target])))
    view_pos = chart.glw.mapFromScene(scene_pos)
    qtbot.mouseMove(chart.glw.viewport(), QPoint(int(view_pos.x()), int(view_pos.y())))
    qtbot.waitUntil(lambda: chart.readout.text() != "", timeout=2000)
    text = chart.readout.text()
    row = df.iloc[target]
    for value in (row.open, row.high, row.low, row.close):
        assert f"{value:,.2f}" in text
    assert "EST" in text and "2013-03-01" in text  # the market's timezone (NYSE)
    assert "[synthetic]" in chart.title.text()


def test_navigation_fits_prices_to_the_visible_bars(qtbot):
    chart, _, df = make_chart(qtbot)
    i0, i1 = chart.visible_indices()
    assert i1 == len(df)  # opens on the latest bars
    chart.pan(-0.5)
    j0, j1 = chart.visible_indices()
    assert j1 < i1
    (_, _), (y0, y1) = chart.price.vb.viewRange()
    assert y0 <= df.low.iloc[j0:j1].min() and y1 >= df.high.iloc[j0:j1].max()
    assert y1 - y0 < (df.high.max() - df.low.min()) * 1.2
    chart.setFocus()
    qtbot.keyClick(chart, Qt.Key.Key_End)
    assert chart.visible_indices()[1] == len(df)
    width = chart.visible_indices()[1] - chart.visible_indices()[0]
    chart.zoom(0.5)
    assert chart.visible_indices()[1] - chart.visible_indices()[0] < width


def test_indicator_menu_shows_panes_and_values_match_the_engine(qtbot):
    from engine import indicators as ind

    chart, _, df = make_chart(qtbot)
    assert not chart.rsi.isVisible()
    chart.indicator_actions["RSI"].setChecked(True)
    chart.indicator_actions["Bollinger"].setChecked(True)
    assert chart.rsi.isVisible() and chart.curves["bb_upper"].isVisible()
    expected = ind.rsi(df.close, 14).to_numpy()
    np.testing.assert_allclose(chart.lines["rsi"], expected, equal_nan=True)
    assert "RSI" in chart.show_readout(300)


def test_forming_bar_updates_live_and_new_bars_append(qtbot):
    chart, ctx, df = make_chart(qtbot)
    last_ts = int(df.index[-1].value)
    n = chart.series.n
    bar = Bar("AAPL", "1m", last_ts, 1.0, 500.0, 0.5, 250.0, 10.0)
    ctx.bridge.forming.emit({("AAPL", "1m"): bar})
    assert chart.series.n == n and chart.series.close[n - 1] == 250.0
    nxt = Bar("AAPL", "1m", last_ts + MIN, 250.0, 251.0, 249.0, 250.5, 5.0)
    ctx.bridge.bars.emit([nxt])
    assert chart.series.n == n + 1 and chart.visible_indices()[1] == n + 1
    assert np.isfinite(chart.lines["ema_fast"][n])


def test_markers_for_signals_fills_and_backtest_trades(qtbot):
    chart, _, df = make_chart(qtbot)
    ts = int(df.index[100].value)
    sig = Signal("hybrid:AAPL", "AAPL", ts + 1, "BUY", float(df.close.iloc[100]),
                 {"ema_cross": 1.0, "ai": 1.0}, {"buy_score": 2.0})
    chart.add_signals([sig])
    spot = chart.signal_layer.points()[0]
    assert spot.pos().x() == 100
    tip = chart._signal_tip(spot.pos().x(), spot.pos().y(), spot.data())
    assert "ema_cross: 1" in tip and "buy_score: 2" in tip
    trade = RoundTrip("AAPL", 1, Decimal(1), ts, Decimal("100"), int(df.index[120].value),
                      Decimal("101"), Decimal(1), Decimal(0))
    chart.show_trades([trade])
    assert chart.trade_count == 1
    assert chart.jump_to(trade.exit_ns) == 120
    i0, i1 = chart.visible_indices()
    assert i0 < 120 < i1


@pytest.mark.parametrize("n", [LOD_BARS // 2, LOD_BARS * 20])
def test_only_the_visible_window_is_drawn(qtbot, n):
    chart, _, _ = make_chart(qtbot, frame(n))
    chart.price.vb.setXRange(0, n, padding=0)
    chart.glw.grab()
    assert chart.candles.builds >= 1
    builds = chart.candles.builds
    chart.glw.grab()  # nothing moved: the cached picture is replayed
    assert chart.candles.builds == builds


# ---- markers that stay bounded and cost their batch -----------------------------------
def fill_event(ts_ns, price, side=None, symbol="AAPL", n=0):
    from engine.models import FillEvent, Order, OrderType, Side
    from engine.models.orders import Fill

    side = side or Side.BUY
    order = Order(f"c{n}", "paper", symbol, side, OrderType.MARKET, Decimal(1))
    fill = Fill(f"f{n}", f"c{n}", "paper", symbol, side, Decimal(1), Decimal(str(price)), ts_ns)
    return FillEvent(fill, order, ts_ns)


def test_a_fill_shows_on_its_bar_and_one_newer_than_the_bars_moves_onto_its_own(qtbot):
    chart, ctx, df = make_chart(qtbot)
    n = chart.series.n
    chart.add_fills([fill_event(int(df.index[200].value) + 30 * 10**9, 101.5, n=1)])
    assert chart.fill_layer.positions() == [(200.0, 101.5)]
    # The next minute's fill arrives before its bar: it waits on the last bar...
    last_ts = int(df.index[-1].value)
    chart.add_fills([fill_event(last_ts + MIN + 10**9, 99.25, n=2)])
    assert chart.fill_layer.positions()[-1] == (n - 1, 99.25)
    # ...and moves onto its bar when that bar comes.
    ctx.bridge.bars.emit([Bar("AAPL", "1m", last_ts + MIN, 99.0, 100.0, 98.0, 99.5, 5.0)])
    ctx.bridge.bars.emit([Bar("AAPL", "1m", last_ts + 2 * MIN, 99.0, 100.0, 98.0, 99.5, 5.0)])
    assert chart.fill_layer.positions() == [(200.0, 101.5), (n, 99.25)]
    assert len(chart.fill_layer.tail_item.data) == 0
    chart.add_fills([fill_event(int(df.index[0].value) - MIN, 1.0, n=3)])  # before the bars
    chart.add_fills([fill_event(int(df.index[5].value), 2.0, symbol="MSFT", n=4)])
    assert len(chart.fill_layer) == 2


def test_markers_stay_bounded_and_a_batch_costs_its_own_size(qtbot):
    from widgets.chart.markers import MARKER_CAP

    chart, _, df = make_chart(qtbot, frame(2_000))
    layer = chart.fill_layer
    times = df.index.as_unit("ns").asi8
    total, batch = MARKER_CAP + 2_000, 40
    events = [fill_event(int(times[k % 1_990]) + 1, 100 + k % 7, n=k) for k in range(total)]
    costs = []
    for k in range(0, total, batch):
        before = layer.spots_built
        chart.add_fills(events[k:k + batch])
        costs.append(layer.spots_built - before)
        drawn = sum(len(item.data) for item in layer.items)  # spots held
        assert len(layer) == drawn <= MARKER_CAP
        assert len(chart.price.items) < 60  # the old chunks' items left the plot
    assert len(layer) >= MARKER_CAP * 0.9
    assert layer.records()[-1] is events[-1]  # the newest stay, the oldest went
    assert layer.positions()[-1] == (float((total - 1) % 1_990), 100 + (total - 1) % 7)
    # Each batch places just its own markers, whatever the history; dropping the
    # oldest rebuilds nothing.
    assert costs == [batch] * len(costs)
    assert layer.spots_built == total


def test_markers_of_the_symbol_are_placed_again_after_a_timeframe_switch(qtbot):
    minute = frame(600)
    five = minute.resample("5min").agg({"open": "first", "high": "max", "low": "min",
                                        "close": "last", "volume": "sum"})
    chart, ctx, _ = make_chart(qtbot, minute)
    ctx.bar_loader = lambda symbol, tf: five if tf == "5m" else minute
    ts = int(minute.index[203].value) + 1
    sig = Signal("hybrid:AAPL", "AAPL", ts, "SELL", 100.0, {}, {})
    chart.add_signals([sig])
    chart.add_fills([fill_event(ts, 100.0, n=1)])
    assert chart.fill_layer.positions() == [(203.0, 100.0)]
    chart.timeframe_box.setCurrentText("5m")
    assert chart.series.n == len(five)
    assert chart.fill_layer.positions() == [(40.0, 100.0)]  # 14:30 + 203 min is in bar 40
    x, y = chart.signal_layer.positions()[0]
    assert x == 40 and y == pytest.approx(five.high.iloc[40] * 1.001)
    chart.symbol_box.addItem("MSFT")
    chart.symbol_box.setCurrentText("MSFT")  # another symbol: AAPL's markers go
    assert len(chart.fill_layer) == len(chart.signal_layer) == 0


def test_forming_updates_move_the_view_only_when_a_bar_is_added(qtbot):
    chart, ctx, df = make_chart(qtbot)
    moves = []
    chart.price.vb.sigXRangeChanged.connect(lambda *_: moves.append(1))
    last_ts = int(df.index[-1].value)
    (_, _), (y0, y1) = chart.price.vb.viewRange()
    for k in range(20):
        close = float(df.close.iloc[-1]) + 0.001 * k
        ctx.bridge.forming.emit({("AAPL", "1m"): Bar("AAPL", "1m", last_ts, close, close,
                                                     close, close, 1.0)})
    assert moves == []
    high = y1 + 5.0  # the forming bar leaves the prices shown: they are refitted
    ctx.bridge.forming.emit({("AAPL", "1m"): Bar("AAPL", "1m", last_ts, high, high, high,
                                                 high, 1.0)})
    assert moves == [] and chart.price.vb.viewRange()[1][1] > high
    n = chart.series.n
    ctx.bridge.forming.emit({("AAPL", "1m"): Bar("AAPL", "1m", last_ts + MIN, 1.0, 1.0, 1.0,
                                                 1.0, 1.0)})
    assert chart.series.n == n + 1 and moves and chart.visible_indices()[1] == n + 1


def test_lines_hold_the_visible_window_and_follow_the_view(qtbot):
    n = 50_000
    chart, ctx, df = make_chart(qtbot, frame(n))
    curve = chart.curves["ema_fast"]
    x, y = curve.getOriginalDataset()
    assert len(x) < 2_000 and x[-1] == n - 1
    np.testing.assert_allclose(y, chart.lines["ema_fast"][int(x[0]):], equal_nan=True)
    chart.price.vb.setXRange(1_000, 1_300, padding=0)  # far away: the window goes there
    x, y = curve.getOriginalDataset()
    assert x[0] <= 1_000 and x[-1] >= 1_300 and len(x) < 2_000
    np.testing.assert_allclose(y, chart.lines["ema_fast"][int(x[0]):int(x[-1]) + 1])
    chart.go_to_latest()
    nxt = Bar("AAPL", "1m", int(df.index[-1].value) + MIN, 100.0, 101.0, 99.0, 100.5, 5.0)
    ctx.bridge.bars.emit([nxt])
    x, y = curve.getOriginalDataset()
    assert x[-1] == n and y[-1] == chart.lines["ema_fast"][n] and np.isfinite(y[-1])
