"""The whole terminal as a user runs it: real session, paper venue, replay, widgets.

The window is built by ``terminal.composition.build_window`` on a qasync loop,
exactly as ``trading-terminal`` builds it; only the replay is stepped by the
test (instead of paced by the wall clock) so that prices are known.
"""

from __future__ import annotations

import argparse
import asyncio

import pytest
from PySide6.QtCore import Qt

from engine.models import OrderStatus, OrderType, Side

CONFIG = """
[replay]
symbols = ["AAPL", "MSFT"]
speed = "max"

[brokers.paper]
latency_ms = 0
slippage_bps = 0

[kill_switch]
flatten_positions = true
"""


@pytest.fixture(scope="module")
def market_db(tmp_path_factory):
    """The bundled minutes written once (as on a first launch); each test copies the file."""
    from engine.session import SessionOptions, TradingSession
    from engine.settings import default_settings
    from engine.storage import Database

    path = tmp_path_factory.mktemp("market") / "terminal.sqlite3"
    TradingSession(default_settings(), SessionOptions(symbols=("AAPL", "MSFT")),
                   database=Database(path)).close()
    return path


@pytest.fixture
def terminal(qtbot, tmp_path, market_db):
    import qasync
    from PySide6.QtWidgets import QApplication

    from terminal.composition import build_window

    config = tmp_path / "settings.toml"
    config.write_text(CONFIG)
    import os
    import shutil

    db = tmp_path / "terminal.sqlite3"
    shutil.copy(market_db, db)
    os.environ["TT_DATA__DATABASE_URL"] = f"sqlite:///{db}"
    try:
        loop = qasync.QEventLoop(QApplication.instance())
        asyncio.set_event_loop(loop)
        window, services = build_window(argparse.Namespace(config=str(config), speed=None))
    finally:
        del os.environ["TT_DATA__DATABASE_URL"]
    qtbot.addWidget(window)
    window.show()
    session = services.session
    loop.run_until_complete(session.engine.connect_all())
    start = session.replay_start_ns
    session.feed.run_until(start + 15 * 60 * 10**9)  # a quarter of an hour of market
    yield window, session, loop
    loop.run_until_complete(services.stop())
    asyncio.set_event_loop(None)
    loop.close()


def settle(loop, seconds: float = 0.15) -> None:
    """Let spawned broker commands run and the bridge flush to the widgets."""
    loop.run_until_complete(asyncio.sleep(seconds))


def click(loop, qtbot, button, seconds: float = 0.05, feed=None) -> None:
    """A click while the loop runs, as in the app (the engine spawns broker calls on it).

    With ``feed``, the market then moves on a second (risk allows 5 orders a second).
    """
    async def press() -> None:
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
        await asyncio.sleep(seconds)

    loop.run_until_complete(press())
    if feed is not None:
        feed.run_until(feed.clock.now_ns() + 10**9)


def fill_ticket(window, symbol, qty, kind=OrderType.LIMIT, price=None):
    ticket = window.panels["ticket"]
    ticket.set_symbol(symbol)
    ticket.order_type.setCurrentText(kind.value)
    ticket.quantity.setText(str(qty))
    if price is not None:
        ticket.price.setText(str(price))
    ticket.preview()
    return ticket


def test_the_ticket_places_a_limit_that_shows_in_open_orders_and_cancels_from_there(terminal,
                                                                                     qtbot):
    window, session, loop = terminal
    last = session.engine.market.last_price("AAPL")
    price = round(float(last) * 0.98, 2)
    ticket = fill_ticket(window, "AAPL", 5, OrderType.LIMIT, price)
    assert ticket.broker.currentText() == "paper-usd"  # AAPL trades in USD
    click(loop, qtbot, ticket.buy_button)
    settle(loop)
    (order,) = session.engine.oms.open_orders()
    assert order.symbol == "AAPL" and order.status is OrderStatus.ACCEPTED
    table = window.panels["orders"]
    assert table.model.rowCount() == 1
    table.table.selectRow(0)
    click(loop, qtbot, table.cancel_button)
    settle(loop)
    assert session.engine.oms.get(order.client_order_id).status is OrderStatus.CANCELLED
    assert table.model.rowCount() == 0


def test_one_click_on_the_kill_switch_leaves_no_orders_flat_positions_and_a_locked_ticket(
        terminal, qtbot):
    window, session, loop = terminal
    engine = session.engine
    for symbol in ("AAPL", "MSFT"):
        fill_ticket(window, symbol, 10, OrderType.MARKET)
        click(loop, qtbot, window.panels["ticket"].buy_button, feed=session.feed)
        for k in range(3):
            low = round(float(engine.market.last_price(symbol)) * (0.99 - k / 200), 2)
            fill_ticket(window, symbol, 1, OrderType.LIMIT, low)
            click(loop, qtbot, window.panels["ticket"].buy_button, feed=session.feed)
    settle(loop)
    assert dict(engine.rejections) == {}
    assert len(engine.oms.open_orders()) == 6
    assert {p.symbol for p in engine.ledger.positions()} == {"AAPL", "MSFT"}
    positions = window.panels["positions"].model
    qtbot.waitUntil(lambda: positions.rowCount() == 2, timeout=3000)  # repaints a few times/s

    click(loop, qtbot, window.kill_button)
    settle(loop)
    assert engine.kill_switch.latched and engine.kill_switch.state.source == "button"
    assert engine.oms.open_orders() == []
    assert engine.ledger.positions() == []  # flattened at the replayed book
    assert window.banner.isVisible() and "LATCHED" in window.windowTitle()
    ticket = fill_ticket(window, "AAPL", 1, OrderType.MARKET)
    assert not ticket.buy_button.isEnabled()
    assert "KILL SWITCH" in ticket.verdict.text()
    from engine.execution.intents import OrderIntent  # and the engine refuses too
    refused = engine.submit(OrderIntent("AAPL", Side.BUY, 1))
    assert refused.rejection is not None and refused.rejection.code == "kill_switch"


def test_the_chart_shows_history_up_to_the_replay_clock_and_reads_out_the_hovered_bar(
        terminal, qtbot):
    from PySide6.QtCore import QPointF

    window, session, loop = terminal
    chart = window.panels["chart"]
    assert chart.symbol == "AAPL"
    settle(loop)
    stored = session.bars("AAPL")
    assert chart.series.n >= len(stored)  # the history, plus bars closed since
    assert int(chart.series.ts[len(stored) - 1]) == stored.index[-1].value
    chart.go_to_latest()
    index = len(stored) - 1
    bar = stored.iloc[index]
    scene = chart.price.vb.mapViewToScene(QPointF(index, float(bar.close)))
    qtbot.mouseMove(chart.glw.viewport(), chart.glw.mapFromScene(scene))
    qtbot.waitUntil(lambda: "O " in chart.readout.text(), timeout=2000)
    text = chart.readout.text()
    for label, value in (("O", bar.open), ("H", bar.high), ("L", bar.low), ("C", bar.close)):
        assert f"{label} {value:,.2f}" in text


def test_saved_settings_tighten_risk_at_once(terminal, qtbot, tmp_path):
    from engine.execution.intents import OrderIntent

    window, session, loop = terminal
    tighter = window.ctx.settings.with_overrides({"risk.max_order_qty": 3})
    window._settings_saved(tighter)
    refused = session.engine.submit(OrderIntent("AAPL", Side.BUY, 5))
    assert refused.rejection is not None and refused.rejection.code == "max_order_qty"


def test_fills_and_the_kill_switch_are_notified(terminal, qtbot):
    window, session, loop = terminal
    fill_ticket(window, "AAPL", 2, OrderType.MARKET)
    click(loop, qtbot, window.panels["ticket"].buy_button)
    settle(loop)
    click(loop, qtbot, window.kill_button)
    settle(loop)
    titles = " ".join(title for title, _ in window.notifier.sent)
    assert "Fill" in titles or "fill" in titles
    assert "KILL" in titles.upper()


def test_the_risk_panel_starts_on_the_account_of_the_charted_symbol(terminal):
    window, session, loop = terminal
    assert window.panels["chart"].symbol == "AAPL"
    assert window.panels["risk"].broker.currentText() == "paper-usd"
