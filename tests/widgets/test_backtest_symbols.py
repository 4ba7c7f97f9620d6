"""The backtest panel over several symbols at once, as ``backtest --data AAPL MSFT`` runs."""

from __future__ import annotations

from dataclasses import replace

import pytest
from PySide6.QtCore import QDate, Qt

from engine.backtest.runner import run_backtest
from engine.backtest.store import list_runs, load_run
from engine.models import krx_stock, us_stock
from tests.widgets.test_backtest_panel import bars, run_to_end
from tests.widgets.test_backtest_panel import make_panel as panel_of

USD = ("AAPL", "MSFT", "IBM")
KRW = ("005930", "000660")
INSTRUMENTS = {**{s: us_stock(s) for s in USD}, **{s: krx_stock(s) for s in KRW}}
# Different walks over overlapping spans: MSFT starts two days after AAPL and ends later.
DATA = {"AAPL": bars(6_000, seed=5), "MSFT": bars(6_000, seed=11, start="2024-01-04 00:00"),
        "IBM": bars(600, seed=3), "005930": bars(600, seed=7), "000660": bars(600, seed=8)}


def make_panel(qtbot, database=None, chart=False):
    panel, _, view = panel_of(qtbot, DATA, database, chart, INSTRUMENTS.values())
    return panel, view


def offered(panel) -> list[str]:
    return list(panel.inputs.also_actions)


def test_only_symbols_quoted_in_the_primary_currency_are_offered(qtbot):
    panel, _ = make_panel(qtbot)
    inputs = panel.inputs
    assert inputs.symbol.currentText() == "AAPL"
    assert offered(panel) == ["MSFT", "IBM"]
    inputs.choose_symbols(["AAPL", "MSFT", "005930"])  # a KRW symbol cannot be ticked
    assert inputs.symbols() == ("AAPL", "MSFT")
    assert inputs.also.text() == "MSFT"
    inputs.symbol.setCurrentText("005930")
    assert offered(panel) == ["000660"]  # MSFT was USD: dropped with the currency
    assert inputs.symbols() == ("005930",) and inputs.cash.prefix() == "KRW "
    inputs.symbol.setCurrentText("MSFT")
    assert offered(panel) == ["AAPL", "IBM"]  # the primary is not offered again
    # Ticks made in the menu stay as the primary changes within a currency.
    inputs.also_actions["IBM"].trigger()
    inputs.symbol.setCurrentText("AAPL")
    assert inputs.symbols() == ("AAPL", "IBM") and inputs.also.isEnabled()


def test_the_menu_stays_open_while_symbols_are_ticked(qtbot):
    panel, _ = make_panel(qtbot)
    panel.show()
    inputs = panel.inputs
    menu = inputs.also_menu
    menu.popup(inputs.also.mapToGlobal(inputs.also.rect().bottomLeft()))
    qtbot.waitUntil(menu.isVisible, timeout=2_000)
    for symbol in ("MSFT", "IBM"):
        rect = menu.actionGeometry(inputs.also_actions[symbol])
        qtbot.mouseMove(menu, rect.center())
        qtbot.mouseClick(menu, Qt.MouseButton.LeftButton, pos=rect.center())
    assert menu.isVisible()
    assert inputs.symbols() == ("AAPL", "MSFT", "IBM")
    assert inputs.also.text() == "MSFT, IBM"
    menu.close()


def test_all_dates_cover_every_chosen_symbol(qtbot):
    panel, _ = make_panel(qtbot)
    inputs = panel.inputs
    assert inputs.end.date() == QDate(2024, 1, 6)  # AAPL's own last day
    inputs.choose_symbols(["AAPL", "MSFT"])
    inputs.full_range.click()
    assert inputs.start.date() == QDate(2024, 1, 2)  # AAPL's first bar
    assert inputs.end.date() == QDate(2024, 1, 8)  # MSFT's last bar


def test_a_backtest_of_two_symbols_trades_both_as_the_engine_does(qtbot, database):
    panel, chart = make_panel(qtbot, database, chart=True)
    panel.inputs.choose_symbols(["AAPL", "MSFT"])
    panel.inputs.full_range.click()
    bar = panel.backtest.run_bar
    qtbot.mouseClick(bar.run_button, Qt.MouseButton.LeftButton)
    assert "on AAPL,MSFT 1m" in bar.text
    qtbot.waitUntil(lambda: not panel.running, timeout=15_000)
    result = panel.result
    assert result is not None, bar.text
    assert result.config.symbols == ("AAPL", "MSFT")
    traded = {t.symbol for t in result.trades}
    assert traded == {"AAPL", "MSFT"}
    assert panel.backtest.trades.records.rowCount() == len(result.trades)
    # The same config and frames, run by hand on the terminal's instruments.
    frames = {"AAPL": DATA["AAPL"], "MSFT": DATA["MSFT"]}
    direct = run_backtest(result.config, frames,
                          instruments={s: INSTRUMENTS[s] for s in frames})
    assert repr(direct.metrics) == repr(result.metrics)  # NaN-safe equality
    assert direct.trades == result.trades
    assert result.bars == len(DATA["AAPL"]) + len(DATA["MSFT"])
    n_aapl = sum(t.symbol == "AAPL" for t in result.trades)
    n_msft = len(result.trades) - n_aapl
    assert f"(AAPL {n_aapl:,}, MSFT {n_msft:,})" in bar.text
    # Stored with both symbols and every trade.
    runs = list_runs(database)
    assert [r.symbol for r in runs] == ["AAPL,MSFT"]
    stored = load_run(database, runs[0].id)
    assert stored.config["symbols"] == ["AAPL", "MSFT"]
    assert {t.symbol for t in stored.trades} == {"AAPL", "MSFT"}
    assert "terminal bars of AAPL" in stored.origin and "terminal bars of MSFT" in stored.origin
    # Choosing an MSFT trade switches the chart to MSFT and marks its trades there.
    assert chart is not None and chart.symbol == "AAPL"
    row = next(i for i, t in enumerate(result.trades) if t.symbol == "MSFT")
    panel.backtest.trades.selectRow(panel.backtest.trades.proxy.mapFromSource(
        panel.backtest.trades.records.index(row, 0)).row())
    assert chart.symbol == "MSFT"
    assert chart.trade_count == n_msft


def test_an_optimisation_over_two_symbols_scores_each_point_as_that_backtest(qtbot):
    panel, _ = make_panel(qtbot)
    panel.inputs.choose_symbols(["AAPL", "MSFT"])
    panel.inputs.full_range.click()
    tab = panel.search
    tab.workers.setValue(1)
    tab.metric_box.setCurrentText("total_return_pct")
    tab.space.choose("fast", 5, 10, 5)
    tab.space.choose("slow", 20, 30, 10)
    run_to_end(qtbot, panel, tab.run_bar.run_button)
    result = tab.result
    assert result is not None, tab.run_bar.text
    assert result.done == 4 and result.failed == 0, tab.run_bar.text
    trial = result.trials[(result.trials["fast"] == 5) & (result.trials["slow"] == 20)].iloc[0]
    # The backtest tab's run of the same point gives the same return.
    run_to_end(qtbot, panel, panel.backtest.run_bar.run_button)
    assert panel.result is not None
    assert panel.result.metrics.total_return_pct == pytest.approx(trial["total_return_pct"])


def test_a_walk_forward_over_two_symbols_counts_windows_in_their_joint_bar_times(qtbot):
    panel, _ = make_panel(qtbot)
    panel.inputs.choose_symbols(["AAPL", "MSFT"])
    panel.inputs.full_range.click()
    tab = panel.search
    tab.mode.setCurrentText("Walk-forward")
    tab.workers.setValue(1)
    tab.windows.setValue(3)
    tab.train_fraction.setValue(0.5)
    tab.metric_box.setCurrentText("total_return_pct")
    tab.space.choose("fast", 5, 10, 5)
    tab.space.choose("slow", 20, 20, 10)
    run_to_end(qtbot, panel, tab.run_bar.run_button)
    walk = tab.walk
    assert walk is not None, tab.run_bar.text
    assert len(walk.windows) == 3
    # The last window ends on the latest bar of either symbol (MSFT's).
    assert walk.windows[-1].test_end == DATA["MSFT"].index[-1]


@pytest.mark.parametrize("tab_name", ["backtest", "search"])
def test_a_strategy_that_cannot_trade_the_set_is_refused_in_the_status_line(qtbot, tab_name):
    panel, _ = make_panel(qtbot)
    panel.inputs.strategy.setCurrentText("funding_arbitrage")
    panel.inputs.choose_symbols(["AAPL", "MSFT"])
    tab = getattr(panel, tab_name)
    if tab_name == "search":
        tab.space.choose("entry_rate")
    bar = tab.run_bar
    qtbot.mouseClick(bar.run_button, Qt.MouseButton.LeftButton)
    assert not panel.running  # refused before any thread started
    assert "funding_arbitrage needs two symbols" in bar.text
    assert "AAPL, MSFT" in bar.text
    assert "color" in bar.status_label.styleSheet()


def test_a_symbol_without_bars_in_the_range_is_named(qtbot):
    panel, _ = make_panel(qtbot)
    inputs = panel.inputs
    inputs.choose_symbols(["AAPL", "MSFT"])
    inputs.start.setDate(QDate(2024, 1, 2))
    inputs.end.setDate(QDate(2024, 1, 3))  # MSFT starts on the 4th
    bar = panel.backtest.run_bar
    run_to_end(qtbot, panel, bar.run_button)
    assert panel.result is None
    assert "no 1m bars of MSFT" in bar.text and "2024-01-04 00:00" in bar.text


def test_the_request_keeps_the_primary_symbol_first(qtbot):
    panel, _ = make_panel(qtbot)
    panel.inputs.choose_symbols(["MSFT", "AAPL"])
    request = panel.inputs.request()
    assert request.symbols == ("MSFT", "AAPL") and request.symbol == "MSFT"
    assert request.label == "MSFT,AAPL"
    assert set(request.instruments) == {"MSFT", "AAPL"}
    assert replace(request, symbols=("AAPL",)).label == "AAPL"


def test_extra_symbols_unknown_to_the_terminal_use_the_runners_default_currency(qtbot):
    panel, _ = make_panel(qtbot)
    panel.inputs.ctx.symbols.append("NVDA")  # no instrument: a US stock by its shape
    panel.inputs.symbol.addItem("NVDA")
    panel.inputs.symbol.setCurrentText("MSFT")
    assert "NVDA" in offered(panel)
