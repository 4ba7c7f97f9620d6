"""The order ticket: symbol, side, type, time in force, quantity, price; through risk.

Every edit re-runs the engine's pre-trade check as a dry run and shows the
verdict beside the field it concerns, so a trader sees "off tick: nearest
valid is 71,200" before pressing Buy. Prices snap to the instrument's tick
when the field is left. Buy (F9 or Ctrl+B) and Sell (F10 or Ctrl+S) submit
through ``TradingEngine.submit`` like any other source. The ticket disables
itself while the kill switch is latched or the broker is not connected.
"""

from __future__ import annotations

from decimal import Decimal

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from engine.execution.intents import OrderIntent, Rejection, SubmitResult
from engine.models import (
    ConnectionState,
    OrderSource,
    OrderType,
    Side,
    TimeInForce,
    to_decimal,
)
from widgets.context import AppContext

_FIELD_OF_CODE = {
    "invalid_quantity": "quantity", "lot_size": "quantity", "max_order_qty": "quantity",
    "max_order_notional": "quantity", "max_position": "quantity", "insufficient_cash": "quantity",
    "short_not_allowed": "quantity", "gross_exposure": "quantity", "leverage": "quantity",
    "invalid_price": "price", "off_tick": "price", "price_band": "price", "no_price": "price",
    "unknown_symbol": "symbol",
}
OK_STYLE = "color: #2e7d32;"
ERROR_STYLE = "color: #ef5350; font-weight: bold;"


class OrderTicket(QWidget):
    submitted = Signal(object)  # SubmitResult

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.symbol = QComboBox()
        self.symbol.setEditable(True)
        self.symbol.addItems(sorted(i.symbol for i in ctx.engine.instruments) or ctx.symbols)
        self.broker = QComboBox()
        self.broker.addItems(list(ctx.engine.brokers))
        self.order_type = QComboBox()
        self.order_type.addItems([t.value for t in (OrderType.LIMIT, OrderType.MARKET,
                                                    OrderType.STOP, OrderType.STOP_LIMIT)])
        self.tif = QComboBox()
        self.tif.addItems([t.value for t in TimeInForce])
        self.quantity = QLineEdit()
        self.quantity.setPlaceholderText("quantity")
        self.price = QLineEdit()
        self.price.setPlaceholderText("limit price")
        self.stop = QLineEdit()
        self.stop.setPlaceholderText("stop price")
        self.size_button = QPushButton("Size by risk")
        self.size_button.setToolTip("Quantity from the position sizer (max_position_pct of equity)")
        self.notes = {name: QLabel() for name in ("symbol", "quantity", "price", "stop")}
        for note in self.notes.values():
            note.setWordWrap(True)
        self.verdict = QLabel()
        self.verdict.setWordWrap(True)
        self.buy_button = QPushButton("Buy  (F9)")
        self.sell_button = QPushButton("Sell  (F10)")
        self.buy_button.setStyleSheet("background:#26a69a;color:white;font-weight:bold;padding:6px;")
        self.sell_button.setStyleSheet("background:#ef5350;color:white;font-weight:bold;padding:6px;")
        self._layout()
        self._wire()
        self._route(self.symbol.currentText())
        self.update_enabled()
        self.preview()

    # ---- construction -------------------------------------------------------------
    def _layout(self) -> None:
        form = QFormLayout()
        form.addRow("Symbol", self.symbol)
        form.addRow("", self.notes["symbol"])
        form.addRow("Broker", self.broker)
        form.addRow("Type", self.order_type)
        form.addRow("Time in force", self.tif)
        qty_row = QHBoxLayout()
        qty_row.addWidget(self.quantity, 1)
        qty_row.addWidget(self.size_button)
        form.addRow("Quantity", qty_row)
        form.addRow("", self.notes["quantity"])
        form.addRow("Price", self.price)
        form.addRow("", self.notes["price"])
        form.addRow("Stop", self.stop)
        form.addRow("", self.notes["stop"])
        buttons = QHBoxLayout()
        buttons.addWidget(self.buy_button)
        buttons.addWidget(self.sell_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.verdict)
        layout.addLayout(buttons)
        layout.addStretch(1)
        self.setTabOrder(self.symbol, self.order_type)
        self.setTabOrder(self.order_type, self.tif)
        self.setTabOrder(self.tif, self.quantity)
        self.setTabOrder(self.quantity, self.price)
        self.setTabOrder(self.price, self.stop)
        self.setTabOrder(self.stop, self.buy_button)
        self.setTabOrder(self.buy_button, self.sell_button)

    def _wire(self) -> None:
        for widget in (self.quantity, self.price, self.stop):
            widget.textEdited.connect(lambda _text: self.preview())
        self.price.editingFinished.connect(lambda: self._snap(self.price))
        self.stop.editingFinished.connect(lambda: self._snap(self.stop))
        for combo in (self.symbol, self.order_type, self.tif, self.broker):
            combo.currentTextChanged.connect(lambda _text: self._type_changed())
        self.symbol.currentTextChanged.connect(self._route)
        self.size_button.clicked.connect(self.size_by_risk)
        self.buy_button.clicked.connect(lambda: self.send(Side.BUY))
        self.sell_button.clicked.connect(lambda: self.send(Side.SELL))
        # Bound methods, not lambdas: Qt drops them when the ticket is destroyed.
        self.ctx.bridge.kill_switch.connect(self._on_engine_state)
        self.ctx.bridge.connection.connect(self._on_engine_state)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        # Keys unhandled by the focused field bubble up here, wherever the focus is.
        ctrl = event.modifiers() & Qt.KeyboardModifier.ControlModifier
        key = event.key()
        if key == Qt.Key.Key_F9 or (ctrl and key == Qt.Key.Key_B):
            self.send(Side.BUY)
        elif key == Qt.Key.Key_F10 or (ctrl and key == Qt.Key.Key_S):
            self.send(Side.SELL)
        else:
            super().keyPressEvent(event)

    def _type_changed(self) -> None:
        kind = OrderType(self.order_type.currentText())
        self.price.setEnabled(kind in (OrderType.LIMIT, OrderType.STOP_LIMIT))
        self.stop.setEnabled(kind in (OrderType.STOP, OrderType.STOP_LIMIT))
        self.preview()

    def _on_engine_state(self, _event: object = None) -> None:
        self.update_enabled()

    def _route(self, symbol: str) -> None:
        """Pick the broker the engine routes ``symbol`` to (e.g. its currency's account)."""
        routed = self.ctx.engine.broker_for(symbol.strip())
        if self.broker.findText(routed) >= 0:
            self.broker.setCurrentText(routed)

    # ---- public API (the ladder and the chart call these) ---------------------------
    def set_symbol(self, symbol: str) -> None:
        self.symbol.setCurrentText(symbol)

    def set_price(self, price: float | Decimal) -> None:
        """Fill the limit price (e.g. from a click on the order book ladder)."""
        if OrderType(self.order_type.currentText()) is OrderType.MARKET:
            self.order_type.setCurrentText(OrderType.LIMIT.value)
        self.price.setText(str(to_decimal(price)))
        self._snap(self.price)

    def update_enabled(self) -> None:
        engine = self.ctx.engine
        broker = engine.brokers.get(self.broker.currentText())
        reason = ""
        if engine.kill_switch.latched:
            reason = "Order entry disabled: the KILL SWITCH is latched."
        elif broker is None:
            reason = "No broker."
        elif broker.state is not ConnectionState.CONNECTED:
            reason = f"Order entry disabled: {broker.name} is {broker.state.value.lower()}."
        for widget in (self.buy_button, self.sell_button, self.size_button):
            widget.setEnabled(not reason)
        if reason:
            self._show_verdict(reason, ok=False)
        else:
            self.preview()

    # ---- intents, preview, send ------------------------------------------------------
    def intent(self, side: Side) -> OrderIntent:
        kind = OrderType(self.order_type.currentText())
        price = self.price.text().strip() if kind in (OrderType.LIMIT, OrderType.STOP_LIMIT) else None
        stop = self.stop.text().strip() if kind in (OrderType.STOP, OrderType.STOP_LIMIT) else None
        return OrderIntent(
            symbol=self.symbol.currentText().strip(),
            side=side,
            quantity=self.quantity.text().strip() or "0",
            order_type=kind,
            price=price or None,
            stop_price=stop or None,
            time_in_force=TimeInForce(self.tif.currentText()),
            broker=self.broker.currentText(),
            source=OrderSource.TICKET,
        )

    def check(self, side: Side = Side.BUY) -> Rejection | None:
        """The engine's pre-trade verdict for the ticket as it stands (nothing is sent)."""
        return self.ctx.engine.risk.check(self.intent(side), self.broker.currentText())

    def preview(self) -> Rejection | None:
        for note in self.notes.values():
            note.clear()
        if not self.buy_button.isEnabled() and self.ctx.engine.kill_switch.latched:
            return None
        if not self.quantity.text().strip():  # nothing typed yet: no red before a mistake
            self._show_verdict("Enter a quantity", ok=True)
            return None
        rejection = self.check(Side.BUY)
        if rejection is None:
            self._show_verdict("Risk check: OK", ok=True)
            return None
        field = _FIELD_OF_CODE.get(rejection.code)
        if field == "price" and OrderType(self.order_type.currentText()) is OrderType.STOP:
            field = "stop"
        if field in self.notes:
            self.notes[field].setText(rejection.message)
            self.notes[field].setStyleSheet(ERROR_STYLE)
        self._show_verdict(f"Risk check: {rejection.message}", ok=False)
        return rejection

    def send(self, side: Side) -> SubmitResult | None:
        if not self.buy_button.isEnabled():
            return None
        result = self.ctx.engine.submit(self.intent(side))
        order = result.order
        if order is not None:
            self._show_verdict(f"Sent {side.value} {order.quantity} {order.symbol}: "
                               f"{order.client_order_id}", ok=True)
        else:
            assert result.rejection is not None
            field = _FIELD_OF_CODE.get(result.rejection.code)
            if field in self.notes:
                self.notes[field].setText(result.rejection.message)
                self.notes[field].setStyleSheet(ERROR_STYLE)
            self._show_verdict(f"Refused: {result.rejection.message}", ok=False)
        self.submitted.emit(result)
        return result

    def size_by_risk(self) -> str:
        """Fill the quantity from the engine's position sizer and say what bound it."""
        from engine.risk.sizing import PositionSizer

        engine = self.ctx.engine
        symbol, broker = self.symbol.currentText().strip(), self.broker.currentText()
        inst = engine.instruments.find(symbol)
        if inst is None or not engine.ledger.has_account(broker):
            return ""
        price = self.price.text().strip() or engine.market.last_price(symbol)
        if not price:
            self.notes["quantity"].setText("no price yet to size from")
            return ""
        account = engine.ledger.account(broker)
        sizer = PositionSizer(inst, capital=account.equity, cash=account.cash,
                              max_position_pct=engine.risk.limits.max_position_pct)
        result = sizer.size(to_decimal(price))
        self.quantity.setText(str(result.quantity))
        self.preview()
        explanation = f"sized by risk: {result.explain()}"
        if not self.notes["quantity"].text():
            self.notes["quantity"].setText(explanation)
            self.notes["quantity"].setStyleSheet(OK_STYLE)
        return explanation

    def _snap(self, field: QLineEdit) -> None:
        inst = self.ctx.engine.instruments.find(self.symbol.currentText().strip())
        text = field.text().strip()
        if inst is None or not text:
            return
        try:
            snapped = inst.snap_price(text)
        except ValueError:
            return  # the preview explains what is wrong
        field.setText(str(snapped))
        self.preview()

    def _show_verdict(self, text: str, ok: bool) -> None:
        self.verdict.setText(text)
        self.verdict.setStyleSheet(OK_STYLE if ok else ERROR_STYLE)
