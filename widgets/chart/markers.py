"""Chart markers (signals, fills) whose cost follows what arrives, not the history.

A marker sits on the bar that holds its time (the bar ``i`` with
``ts[i] <= t < ts[i + 1]``). Bars before the last never move (the series only
appends or rewrites its last bar), so a marker on one is *settled*: placed once
and appended with ``addPoints``. A marker on the last bar, or newer than it (a
fill can arrive before the bar it happened in), is in the *tail*: a small item
redrawn when the last bar changes, whose markers settle once a newer bar closes
theirs. A marker older than the first bar has no bar to sit on and is dropped.

Settled markers live in chunks of ``CHUNK`` spots, one scatter item each:
``addPoints`` copies the whole item it appends to, so appending to a chunk costs
the chunk, not the history, and the oldest markers go a whole chunk at a time
(an item removed, nothing rebuilt). At most ``cap`` markers are kept per layer.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import pyqtgraph as pg

from widgets.chart.candles import BarSeries
from widgets.theme import colours

MARKER_CAP = 5_000
CHUNK = 500

# (record, bar index) -> (y, whether it is a buy): where and how a marker is drawn.
Placer = Callable[[Any, int], tuple[float, bool]]
Entry = tuple[Any, float, float, bool]  # record, x, y, buy


class MarkerLayer:
    """One kind of marker on a plot: settled chunks and a tail item."""

    def __init__(self, plot: pg.PlotItem, series: BarSeries, ts_of: Callable[[Any], int],
                 place: Placer, *, symbols: tuple[str, str], size: int, z: float,
                 cap: int = MARKER_CAP, **item_opts: Any) -> None:
        self.plot = plot
        self.series = series
        self.ts_of = ts_of
        self.place = place
        self.symbols = symbols  # (buy, sell)
        self.size = size
        self.z = z
        self.cap = cap
        self.item_opts = item_opts
        self._chunks: deque[tuple[pg.ScatterPlotItem, list[Entry]]] = deque()
        self._settled = 0
        self.tail_item = self._new_item()
        self._tail: deque[Any] = deque(maxlen=cap)
        self._tail_drawn: list[tuple[float, float, bool]] = []
        self.spots_built = 0  # spots computed and handed to pyqtgraph, ever

    def __len__(self) -> int:
        return self._settled + len(self._tail)

    @property
    def items(self) -> list[pg.ScatterPlotItem]:
        """Every scatter item, oldest markers first (the tail last)."""
        return [item for item, _ in self._chunks] + [self.tail_item]

    def points(self) -> list[Any]:
        """Every drawn spot (pyqtgraph SpotItems), oldest first."""
        return [p for item in self.items for p in item.points()]

    def positions(self) -> list[tuple[float, float]]:
        return [(p.pos().x(), p.pos().y()) for p in self.points()]

    def records(self) -> list[Any]:
        return [e[0] for _, entries in self._chunks for e in entries] + list(self._tail)

    # ---- updates ---------------------------------------------------------------------
    def add(self, records: Iterable[Any]) -> None:
        """Place new markers: settled ones appended, the tail redrawn if it changed."""
        settled: list[Entry] = []
        tail_grew = False
        for rec in records:
            where = self._where(self.ts_of(rec))
            if where is None:
                self._tail.append(rec)
                tail_grew = True
            elif where >= 0:
                settled.append(self._entry(rec, where))
        self._settle(settled)
        if tail_grew:
            self.refresh_tail(force=True)

    def refresh_tail(self, force: bool = False) -> None:
        """The last bar changed (new bar, new high/low): settle and redraw the tail."""
        if not self._tail and not force:
            return
        keep: list[Any] = []
        settled: list[Entry] = []
        for rec in self._tail:
            where = self._where(self.ts_of(rec))
            if where is None:
                keep.append(rec)
            elif where >= 0:
                settled.append(self._entry(rec, where))
        if len(keep) != len(self._tail):
            self._tail = deque(keep, maxlen=self.cap)
            self._settle(settled)
        n = self.series.n
        entries = [self._entry(rec, n - 1) for rec in self._tail] if n else []
        shape = [(x, y, buy) for _, x, y, buy in entries]
        if shape != self._tail_drawn:
            self._tail_drawn = shape
            self._draw(self.tail_item, entries, append=False)

    def replace_all(self) -> None:
        """The bars were replaced (reload, other timeframe): place every kept marker again."""
        kept = self.records()
        self.clear()
        self.add(kept[-self.cap:])

    def clear(self) -> None:
        while self._chunks:
            self.plot.removeItem(self._chunks.popleft()[0])
        self._settled = 0
        self._tail.clear()
        self._tail_drawn = []
        self.tail_item.clear()

    # ---- internals -------------------------------------------------------------------
    def _new_item(self) -> pg.ScatterPlotItem:
        item = pg.ScatterPlotItem(pxMode=True, **self.item_opts)
        item.setZValue(self.z)
        self.plot.addItem(item)
        return item

    def _where(self, ts: int) -> int | None:
        """The bar of a settled marker, None for the tail, -1 before the first bar."""
        s = self.series
        n = s.n
        if n == 0 or ts >= s.ts[n - 1]:
            return None
        if ts < s.ts[0]:
            return -1
        return int(np.searchsorted(s.ts[:n], ts, side="right")) - 1

    def _entry(self, rec: Any, i: int) -> Entry:
        y, buy = self.place(rec, i)
        return rec, float(i), y, buy

    def _settle(self, entries: list[Entry]) -> None:
        while entries:
            if not self._chunks or len(self._chunks[-1][1]) >= CHUNK:
                self._chunks.append((self._new_item(), []))
            item, held = self._chunks[-1]
            take, entries = entries[: CHUNK - len(held)], entries[CHUNK - len(held):]
            self._draw(item, take, append=True)
            held.extend(take)
            self._settled += len(take)
        while self._settled > self.cap:  # the oldest chunk goes whole
            item, held = self._chunks.popleft()
            self.plot.removeItem(item)
            self._settled -= len(held)

    def _draw(self, item: pg.ScatterPlotItem, entries: list[Entry], append: bool) -> None:
        self.spots_built += len(entries)
        if not entries:
            item.clear()
            return
        c = colours()
        up, down = pg.mkBrush(c.up), pg.mkBrush(c.down)
        data = np.empty(len(entries), dtype=object)
        data[:] = [e[0] for e in entries]
        points = {"x": np.fromiter((e[1] for e in entries), float, len(entries)),
                  "y": np.fromiter((e[2] for e in entries), float, len(entries)),
                  "brush": [up if e[3] else down for e in entries],
                  "symbol": [self.symbols[0] if e[3] else self.symbols[1] for e in entries],
                  "data": data, "pen": pg.mkPen(c.foreground), "size": self.size}
        (item.addPoints if append else item.setData)(**points)
