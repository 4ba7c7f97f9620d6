"""A fast, sortable table of records with a row cap and CSV export.

``RecordTable`` shows frozen records (orders, fills, positions ...) described by
``Column`` specs. Rows are keyed, so an updated record replaces its row in
place; beyond ``row_cap`` the oldest rows are dropped, which keeps a busy
session's fills table as fast as a fresh one. Sorting goes through a proxy
model on the raw values (numbers sort as numbers), and right-click offers
"Export to CSV…" of all rows in the current sort order.
"""

from __future__ import annotations

import csv
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QAction, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHeaderView,
    QMenu,
    QTableView,
    QWidget,
)

Index = QModelIndex | QPersistentModelIndex


@dataclass(frozen=True)
class Column:
    header: str
    value: Callable[[Any], Any]
    fmt: Callable[[Any], str] | None = None
    colour: Callable[[Any], str | None] | None = None  # text colour for a row's cell
    align_right: bool = False


def plain(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, Decimal):
        return f"{value:,f}" if value == value.to_integral_value() else f"{value.normalize():,f}"
    if isinstance(value, float):
        return f"{value:,.4f}".rstrip("0").rstrip(".")
    return str(value)


def money(value: Any) -> str:
    if value is None:
        return ""
    return f"{float(value):,.2f}"


def signed_colour(value: Any) -> str | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if number > 0:
        return "#26a69a"
    if number < 0:
        return "#ef5350"
    return None


class RecordModel(QAbstractTableModel):
    SORT_ROLE = Qt.ItemDataRole.UserRole + 1

    def __init__(self, columns: list[Column], key: Callable[[Any], Hashable], row_cap: int = 1000,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.columns = columns
        self.key = key
        self.row_cap = row_cap
        self._rows: OrderedDict[Hashable, Any] = OrderedDict()
        self._order: list[Hashable] = []
        self._pos: dict[Hashable, int] = {}

    # ---- data changes -------------------------------------------------------------
    # Rows are inserted, updated and removed individually (not by resetting the
    # model), so a user's selection survives the 20 updates a second.
    def upsert(self, records: Iterable[Any]) -> None:
        """Insert new records, replace changed ones; drop the oldest beyond the cap."""
        last_col = len(self.columns) - 1
        for record in records:
            key = self.key(record)
            if key in self._rows:
                self._rows[key] = record
                row = self._pos[key]
                self.dataChanged.emit(self.index(row, 0), self.index(row, last_col))
                continue
            row = len(self._order)
            self.beginInsertRows(QModelIndex(), row, row)
            self._rows[key] = record
            self._order.append(key)
            self._pos[key] = row
            self.endInsertRows()
        excess = len(self._order) - self.row_cap
        if excess > 0:
            self.beginRemoveRows(QModelIndex(), 0, excess - 1)
            for key in self._order[:excess]:
                del self._rows[key]
            del self._order[:excess]
            self._reindex()
            self.endRemoveRows()

    def remove(self, keys: Iterable[Hashable]) -> None:
        for key in keys:
            row = self._pos.get(key)
            if row is None:
                continue
            self.beginRemoveRows(QModelIndex(), row, row)
            del self._rows[key]
            del self._order[row]
            self._reindex()
            self.endRemoveRows()

    def replace_all(self, records: Iterable[Any]) -> None:
        self.beginResetModel()
        self._rows = OrderedDict((self.key(r), r) for r in records)
        while len(self._rows) > self.row_cap:
            self._rows.popitem(last=False)
        self._order = list(self._rows)
        self._reindex()
        self.endResetModel()

    def _reindex(self) -> None:
        self._pos = {key: row for row, key in enumerate(self._order)}

    def record(self, row: int) -> Any:
        return self._rows[self._order[row]]

    def records(self) -> list[Any]:
        return list(self._rows.values())

    # ---- Qt model -------------------------------------------------------------------
    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self._order)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self.columns[section].header
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        column = self.columns[index.column()]
        record = self._rows[self._order[index.row()]]
        if role == Qt.ItemDataRole.DisplayRole:
            value = column.value(record)
            return (column.fmt or plain)(value)
        if role == self.SORT_ROLE:
            value = column.value(record)
            if isinstance(value, Decimal):
                return float(value)
            if isinstance(value, Enum):
                return str(value.value)
            return value if value is not None else ""
        if role == Qt.ItemDataRole.ForegroundRole and column.colour is not None:
            colour = column.colour(column.value(record))
            return QColor(colour) if colour else None
        if role == Qt.ItemDataRole.TextAlignmentRole and column.align_right:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


class RecordTable(QTableView):
    """A sortable view over a ``RecordModel`` with right-click CSV export."""

    def __init__(self, model: RecordModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.records = model
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(model)
        self.proxy.setSortRole(RecordModel.SORT_ROLE)
        self.setModel(self.proxy)
        self.setSortingEnabled(True)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setAlternatingRowColors(True)
        self.verticalHeader().setVisible(False)
        self.verticalHeader().setDefaultSectionSize(22)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.horizontalHeader().setStretchLastSection(True)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._menu)
        self.extra_actions: list[QAction] = []

    def selected_records(self) -> list[Any]:
        rows = {self.proxy.mapToSource(i).row() for i in self.selectionModel().selectedRows()}
        return [self.records.record(r) for r in sorted(rows)]

    def rows_in_view_order(self) -> list[list[str]]:
        out = []
        for r in range(self.proxy.rowCount()):
            out.append([str(self.proxy.data(self.proxy.index(r, c)))
                        for c in range(self.proxy.columnCount())])
        return out

    def export_csv(self, path: str | Path) -> int:
        """Write every row (current sort order) with headers; returns rows written."""
        rows = self.rows_in_view_order()
        with open(path, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow([c.header for c in self.records.columns])
            writer.writerows(rows)
        return len(rows)

    def _menu(self, pos: Any) -> None:
        menu = QMenu(self)
        for action in self.extra_actions:
            menu.addAction(action)
        if self.extra_actions:
            menu.addSeparator()
        export = menu.addAction("Export to CSV…")
        chosen = menu.exec(self.viewport().mapToGlobal(pos))
        if chosen is export:
            path, _ = QFileDialog.getSaveFileName(self, "Export to CSV", "", "CSV files (*.csv)")
            if path:
                self.export_csv(path)
