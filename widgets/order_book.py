"""Order book ladder and time-and-sales tape.

The ladder shows ``levels`` asks (best at the bottom of the ask half) above
``levels`` bids (best at the top of the bid half), each with its size drawn as
a bar proportional to the largest size on screen, plus the spread and the last
trade. Clicking a row emits ``price_clicked`` with that level's price (the
terminal wires it to the order ticket). Updates arrive through the bridge,
already coalesced to the repaint rate, so a 50-updates-a-second book costs at
most ``repaint_hz`` repaints.
"""

from __future__ import annotations

from collections import deque

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QRect,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSplitter,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from engine.models import BookLevel, OrderBook, Side, Tick, ns_to_timestamp
from widgets.context import AppContext
from widgets.price_text import PriceText, plain_price, price_text
from widgets.theme import colours

Index = QModelIndex | QPersistentModelIndex
BID_COL, PRICE_COL, ASK_COL = 0, 1, 2
SIZE_ROLE = Qt.ItemDataRole.UserRole + 1


class LadderModel(QAbstractTableModel):
    def __init__(self, levels: int = 10) -> None:
        super().__init__()
        self.levels = levels
        self.price_text: PriceText = plain_price
        self.asks: tuple[BookLevel, ...] = ()
        self.bids: tuple[BookLevel, ...] = ()
        self.max_size = 1.0

    def set_book(self, book: OrderBook | None) -> None:
        self.asks = book.asks[: self.levels] if book else ()
        self.bids = book.bids[: self.levels] if book else ()
        sizes = [lv.size for lv in self.asks + self.bids]
        self.max_size = max(sizes) if sizes else 1.0
        self.dataChanged.emit(self.index(0, 0), self.index(self.rowCount() - 1, 2))

    def level_at(self, row: int) -> tuple[Side, BookLevel] | None:
        """Row 0..levels-1 are asks (worst first), levels.. are bids (best first)."""
        if row < self.levels:
            i = self.levels - 1 - row
            return (Side.SELL, self.asks[i]) if i < len(self.asks) else None
        i = row - self.levels
        return (Side.BUY, self.bids[i]) if i < len(self.bids) else None

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else 2 * self.levels

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else 3

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return ("Bid size", "Price", "Ask size")[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        found = self.level_at(index.row())
        if found is None:
            return None
        side, level = found
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if col == PRICE_COL:
                return self.price_text(level.price)
            if (col == BID_COL and side is Side.BUY) or (col == ASK_COL and side is Side.SELL):
                return f"{level.size:,.4f}".rstrip("0").rstrip(".")
            return None
        if role == SIZE_ROLE and col != PRICE_COL:
            own = (col == BID_COL and side is Side.BUY) or (col == ASK_COL and side is Side.SELL)
            return level.size / self.max_size if own and self.max_size else None
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignCenter)
        if role == Qt.ItemDataRole.ForegroundRole and col == PRICE_COL:
            return QColor(colours().up if side is Side.BUY else colours().down)
        return None


class SizeBarDelegate(QStyledItemDelegate):
    """Paints a size bar behind the number: bids grow leftwards, asks rightwards."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        share = index.data(SIZE_ROLE)
        if share:
            rect = QRect(option.rect)
            width = int(rect.width() * min(float(share), 1.0))
            if index.column() == BID_COL:
                rect.setLeft(rect.right() - width)
                colour = QColor(colours().bid)
            else:
                rect.setWidth(width)
                colour = QColor(colours().ask)
            painter.fillRect(rect, colour)
        super().paint(painter, option, index)


class OrderBookLadder(QWidget):
    price_clicked = Signal(float)

    def __init__(self, ctx: AppContext, parent: QWidget | None = None, levels: int = 10) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.symbol = QComboBox()
        self.symbol.addItems(ctx.symbols or sorted(i.symbol for i in ctx.engine.instruments))
        self.model = LadderModel(max(10, min(levels, 20)))
        self.view = QTableView()
        self.view.setModel(self.model)
        self.view.setItemDelegate(SizeBarDelegate(self.view))
        self.view.verticalHeader().setVisible(False)
        self.view.verticalHeader().setDefaultSectionSize(20)
        self.view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.clicked.connect(self._clicked)
        self.spread = QLabel("spread -")
        self.last = QLabel("last -")
        info = QHBoxLayout()
        info.addWidget(self.spread)
        info.addStretch(1)
        info.addWidget(self.last)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.symbol)
        layout.addWidget(self.view, 1)
        layout.addLayout(info)
        self.repaints = 0
        ctx.bridge.books.connect(self.on_books)
        ctx.bridge.ticks.connect(self.on_ticks)
        self.symbol.currentTextChanged.connect(self._symbol_changed)
        self._symbol_changed(self.symbol.currentText())

    def _symbol_changed(self, symbol: str) -> None:
        self.model.price_text = price_text(self.ctx.engine.instruments, symbol)
        self.model.set_book(None)

    def on_books(self, books: dict[str, OrderBook]) -> None:
        book = books.get(self.symbol.currentText())
        if book is None:
            return
        self.model.set_book(book)
        self.repaints += 1
        spread = book.spread
        self.spread.setText("spread -" if spread is None else
                            f"spread {self.model.price_text(spread)}")

    def on_ticks(self, ticks: list[Tick]) -> None:
        symbol = self.symbol.currentText()
        for tick in reversed(ticks):
            if tick.symbol == symbol:
                self.last.setText(f"last {self.model.price_text(tick.price)} x {tick.size:g}")
                break

    def _clicked(self, index: QModelIndex) -> None:
        found = self.model.level_at(index.row())
        if found is not None:
            self.price_clicked.emit(found[1].price)


class TimeAndSales(QWidget):
    """The tape: newest trade on top, capped at ``max_rows``."""

    def __init__(self, ctx: AppContext, parent: QWidget | None = None, max_rows: int = 300) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.symbol = ""
        self.trades: deque[Tick] = deque(maxlen=max_rows)
        self.view = QTableView()
        self.model = _TapeModel(self.trades)
        self.view.setModel(self.model)
        self.view.verticalHeader().setVisible(False)
        self.view.verticalHeader().setDefaultSectionSize(18)
        header = self.view.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        header.setMinimumSectionSize(self.fontMetrics().horizontalAdvance("000000") + 8)
        self.view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        # Sized for "14:31:07", a 9-digit price and a 6-digit size: all readable in the
        # ~200 px the dock gives the tape on first start (Stretch cut them to "14:...").
        for col, chars in enumerate((8, 9)):
            header.resizeSection(col, self.fontMetrics().horizontalAdvance("0" * chars) + 12)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.view)
        ctx.bridge.ticks.connect(self.on_ticks)

    def set_symbol(self, symbol: str) -> None:
        self.symbol = symbol
        self.model.price_text = price_text(self.ctx.engine.instruments, symbol)
        self.model.beginResetModel()
        self.trades.clear()
        self.model.endResetModel()

    def on_ticks(self, ticks: list[Tick]) -> None:
        mine = [t for t in ticks if not self.symbol or t.symbol == self.symbol]
        if not mine:
            return
        self.model.beginResetModel()
        self.trades.extendleft(mine)
        self.model.endResetModel()


class _TapeModel(QAbstractTableModel):
    """Time, price, size; the colour is the aggressor's side (also in the tooltip)."""

    HEADERS = ("Time", "Price", "Size")

    def __init__(self, trades: deque[Tick]) -> None:
        super().__init__()
        self.trades = trades
        self.price_text: PriceText = plain_price

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self.trades)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else 3

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self.HEADERS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        tick = self.trades[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            col = index.column()
            if col == 0:
                return ns_to_timestamp(tick.ts_ns).strftime("%H:%M:%S")
            if col == 1:
                return self.price_text(tick.price)
            return f"{tick.size:g}"
        if role == Qt.ItemDataRole.ToolTipRole:
            side = f" {tick.aggressor.value}" if tick.aggressor else ""
            when = ns_to_timestamp(tick.ts_ns).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
            return f"{when}{side} {tick.size:g} @ {self.price_text(tick.price)}"
        if role == Qt.ItemDataRole.TextAlignmentRole and index.column() > 0:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ForegroundRole and tick.aggressor is not None:
            return QColor(colours().up if tick.aggressor is Side.BUY else colours().down)
        return None


class OrderBookPanel(QWidget):
    """Ladder and tape side by side, following the same symbol."""

    price_clicked = Signal(float)

    def __init__(self, ctx: AppContext, parent: QWidget | None = None, levels: int = 10) -> None:
        super().__init__(parent)
        self.ladder = OrderBookLadder(ctx, levels=levels)
        self.tape = TimeAndSales(ctx)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.ladder)
        splitter.addWidget(self.tape)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setSizes([300, 230])  # the tape's time, price and size readable at once
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)
        self.ladder.price_clicked.connect(self.price_clicked)
        self.ladder.symbol.currentTextChanged.connect(self.tape.set_symbol)
        self.tape.set_symbol(self.ladder.symbol.currentText())
