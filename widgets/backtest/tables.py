"""Tables of results: metrics (name/value), round trips, and any DataFrame (search trials).

All are ``RecordTable``s, so they sort on raw values and export to CSV from
the right-click menu.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from PySide6.QtCore import Qt

from engine.backtest.trades import RoundTrip
from widgets.record_table import Column, RecordModel, RecordTable, money, plain, signed_colour

TRADE_ROW_CAP = 200_000
TIME_METRICS = frozenset({"start", "end"})
MIXED_TEXT_RANK = -1e301
METRIC_LABELS = {
    "start": "Start", "end": "End", "bars": "Bars", "initial_equity": "Initial equity",
    "final_equity": "Final equity", "total_return_pct": "Total return %",
    "annual_return_pct": "Annual return % (CAGR)", "volatility_pct": "Volatility %",
    "sharpe": "Sharpe", "sortino": "Sortino", "calmar": "Calmar",
    "max_drawdown_pct": "Max drawdown %", "max_dd_duration": "Max drawdown duration",
    "trades": "Trades", "win_rate_pct": "Win rate %", "profit_factor": "Profit factor",
    "expectancy": "Expectancy", "avg_win": "Avg win", "avg_loss": "Avg loss",
    "best_trade": "Best trade", "worst_trade": "Worst trade", "exposure_pct": "Exposure %",
    "turnover": "Turnover", "fees": "Fees", "var_95_pct": "VaR 95 % (1 day)",
    "es_95_pct": "ES 95 % (1 day)",
}


def label_of(name: str) -> str:
    return METRIC_LABELS.get(name, name.replace("_pct", " %").replace("_", " ").capitalize())


def number_text(value: Any) -> str:
    """Numbers with thousands separators and sensible decimals; NaN as '-'."""
    if isinstance(value, bool) or value is None:
        return plain(value)
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    if isinstance(value, float | np.floating):
        v = float(value)
        if math.isnan(v):
            return "-"
        if math.isinf(v):
            return "∞" if v > 0 else "-∞"
        return f"{v:,.2f}" if abs(v) >= 1000 else f"{v:,.4g}" if abs(v) < 0.01 else f"{v:,.3f}"
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d %H:%M")
    return str(value)


@dataclass(frozen=True)
class MetricRow:
    name: str
    label: str
    value: Any


def metric_rows(metrics: Mapping[str, Any], extra: Mapping[str, Any] | None = None
                ) -> list[MetricRow]:
    rows = [MetricRow(k, label_of(k), pd.Timestamp(v) if k in TIME_METRICS else v)
            for k, v in metrics.items()]
    rows += [MetricRow(k, k, v) for k, v in (extra or {}).items()]
    return rows


def sort_key(value: Any, text_rank: float | None = None) -> Any:
    """A value Qt's proxy can compare: numbers as floats (NaN lowest), times as ns, text as
    text or, with ``text_rank``, as that number (a column mixing text and numbers)."""
    if isinstance(value, pd.Timestamp):
        return float(value.value)
    if isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool):
        v = float(value)
        return v if math.isfinite(v) else (-1e300 if math.isnan(v) else math.copysign(1e300, v))
    if value is None:
        return -1e300 if text_rank is not None else ""
    return text_rank if text_rank is not None else str(value)


class SortableModel(RecordModel):
    """A ``RecordModel`` whose sort values never mix types (NaN, timestamps, text)."""

    def __init__(self, *args: Any, mixed_columns: tuple[int, ...] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.mixed_columns = mixed_columns  # text in these sorts below every number

    def data(self, index: Any, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        value = super().data(index, role)
        if role == RecordModel.SORT_ROLE:
            return sort_key(value, MIXED_TEXT_RANK if index.column() in self.mixed_columns
                            else None)
        return value


class MetricsTable(RecordTable):
    """Metric / value, sortable by either column (text values sort below numbers)."""

    def __init__(self) -> None:
        model = SortableModel([
            Column("Metric", lambda r: r.label),
            Column("Value", lambda r: r.value, fmt=number_text, align_right=True),
        ], key=lambda r: r.name, row_cap=500, mixed_columns=(1,))
        super().__init__(model)

    def show_metrics(self, metrics: Mapping[str, Any], extra: Mapping[str, Any] | None = None
                     ) -> None:
        """Rows in the metrics' own order (click a header to sort)."""
        self.records.replace_all(metric_rows(metrics, extra))
        self.sortByColumn(-1, Qt.SortOrder.AscendingOrder)
        self.resizeColumnToContents(0)

    def value(self, label_or_name: str) -> Any:
        for row in self.records.records():
            if label_or_name in (row.name, row.label):
                return row.value
        raise KeyError(label_or_name)


@dataclass(frozen=True)
class TradeRow:
    seq: int
    trade: RoundTrip


def _time(ns: int) -> str:
    return pd.Timestamp(int(ns), unit="ns", tz="UTC").strftime("%Y-%m-%d %H:%M")


class TradesTable(RecordTable):
    """One row per round trip; the row's record is a ``TradeRow``."""

    def __init__(self) -> None:
        model = RecordModel([
            Column("#", lambda r: r.seq + 1),
            Column("Symbol", lambda r: r.trade.symbol),
            Column("Side", lambda r: "long" if r.trade.direction > 0 else "short",
                   colour=lambda s: "#26a69a" if s == "long" else "#ef5350"),
            Column("Qty", lambda r: r.trade.quantity, align_right=True),
            Column("Entry (UTC)", lambda r: r.trade.entry_ns, fmt=_time),
            Column("Entry price", lambda r: r.trade.entry_price, align_right=True),
            Column("Exit (UTC)", lambda r: r.trade.exit_ns, fmt=_time),
            Column("Exit price", lambda r: r.trade.exit_price, align_right=True),
            Column("Net PnL", lambda r: r.trade.net_pnl, fmt=money, colour=signed_colour,
                   align_right=True),
            Column("Return %", lambda r: r.trade.return_pct, fmt=lambda v: f"{v:,.2f}",
                   colour=signed_colour, align_right=True),
            Column("Fees", lambda r: r.trade.fees, fmt=money, align_right=True),
        ], key=lambda r: r.seq, row_cap=TRADE_ROW_CAP)
        super().__init__(model)

    def show_trades(self, trades: Iterable[RoundTrip]) -> None:
        """Rows in execution order (first trade on top)."""
        self.records.replace_all(TradeRow(i, t) for i, t in enumerate(trades))
        self.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.resizeColumnsToContents()


class FrameTable(RecordTable):
    """Any DataFrame, one record per row (index first); columns follow the frame."""

    def __init__(self, row_cap: int = 100_000) -> None:
        super().__init__(SortableModel([], key=lambda r: r[0], row_cap=row_cap))
        self.frame = pd.DataFrame()

    def show_frame(self, frame: pd.DataFrame, index_name: str | None = None) -> None:
        self.frame = frame
        name = index_name or str(frame.index.name or "#")
        columns: list[Column] = [Column(name, _first, fmt=number_text)]
        for k, col in enumerate(frame.columns):
            columns.append(Column(str(col), _field(k), fmt=number_text,
                                  align_right=pd.api.types.is_numeric_dtype(frame[col])))
        self.records.columns = columns
        rows = [(idx, tuple(_plain(v) for v in values))
                for idx, values in zip(frame.index, frame.itertuples(index=False), strict=True)]
        self.records.replace_all(rows)
        self.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.resizeColumnsToContents()

    def column_of(self, header: str) -> int:
        return [c.header for c in self.records.columns].index(header)


def _field(k: int) -> Callable[[tuple[Any, ...]], Any]:
    return lambda row: row[1][k]


def _first(row: tuple[Any, ...]) -> Any:
    return row[0]


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return float("nan")
    return value
