"""Panel wiring (terminal.composition._wire): the book fills the ticket; a broken panel is skipped."""

from __future__ import annotations

from engine.models import krx_stock
from terminal.composition import _wire
from terminal.main_window import MainWindow, PanelSpec
from terminal.panels import default_panels
from tests.terminal.test_main_window import make_ctx


def _spec(name: str) -> PanelSpec:
    return next(spec for spec in default_panels() if spec.name == name)


def _broken(ctx):
    raise RuntimeError("no broker")


def test_a_book_click_fills_the_ticket_and_the_ticket_starts_on_the_first_symbol(qtbot):
    ctx, _ = make_ctx()
    ctx.engine.instruments.add(krx_stock("000660"))
    ctx.symbols = ["000660", "005930"]
    window = MainWindow(ctx, panels=[_spec("book"), _spec("ticket")])
    qtbot.addWidget(window)
    _wire(window)
    book, ticket = window.panels["book"], window.panels["ticket"]
    assert ticket.symbol.currentText() == "000660"
    book.price_clicked.emit(69_000.0)
    assert ticket.price.text() == "69000"


def test_a_ticket_that_failed_to_start_does_not_stop_the_wiring(qtbot):
    # The window shows a broken panel as a label; wiring used to call the ticket's
    # set_price/set_symbol on that label and stop the terminal with an AttributeError.
    ctx, _ = make_ctx()
    ctx.symbols = ["005930"]
    window = MainWindow(ctx, panels=[_spec("book"), PanelSpec("ticket", "Order ticket", _broken)])
    qtbot.addWidget(window)
    _wire(window)
    assert "could not start" in window.panels["ticket"].text()
    window.panels["book"].price_clicked.emit(69_000.0)  # nothing listens: no error
    assert window.notifier is not None
