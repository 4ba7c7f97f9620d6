"""Chart markers (signals, fills) whose cost follows what arrives, not the history.

A marker sits on the bar that holds its time (the bar ``i`` with
``ts[i] <= t < ts[i + 1]``). Bars before the last never move (the series only
appends or rewrites its last bar), so a marker on one is *settled*: placed once
and appended to one scatter item with ``addPoints``, which computes only the new
spots. A marker on the last bar, or newer than it (a fill can arrive before the
bar it happened in), is in the *tail*: a second, small item that is redrawn when
the last bar changes, and whose markers move to the settled item once a newer bar
closes theirs. A marker older than the first bar has no bar to sit on and is
dropped.

At most ``cap`` markers are kept per layer. The oldest settled ones go in chunks
of ``cap // 4`` (one rebuild of ``cap`` spots per ``cap // 4`` markers added, so
the cost per marker stays constant), hence up to ``cap + cap // 4`` are drawn.
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

# (record, bar index) -> (y, whether it is a buy): where and how a marker is drawn.
Placer = Callable[[Any, int], tuple[float, bool]]


class MarkerLayer:
    """One kind of marker on the price plot: a settled item and a tail item."""

    def __init__(self, series: BarSeries, ts_of: Callable[[Any], int], place: Placer, *,
                 symbols: tuple[str, str], size: int, cap: int = MARKER_CAP,
                 **item_opts: Any) -> None:
        self.series = series
        self.ts_of = ts_of
        self.place = place
        self.symbols = symbols  # (buy, sell)
        self.size = size
        self.cap = cap
        self.settled_item = pg.ScatterPlotItem(pxMode=True, **item_opts)
        self.tail_item = pg.ScatterPlotItem(pxMode=True, **item_opts)
        self._settled: deque[tuple[Any, float, float, bool]] = deque()  # record, x, y, buy
        self._tail: deque[Any] = deque(maxlen=cap)
        self._tail_drawn: list[tuple[float, float, bool]] = []
        self.spots_built = 0  # spots computed and handed to pyqtgraph, ever

    def __len__(self) -> int:
        return len(self._settled) + len(self._tail)

    @property
    def items(self) -> tuple[pg.ScatterPlotItem, pg.ScatterPlotItem]:
        return self.settled_item, self.tail_item

    def positions(self) -> list[tuple[float, float]]:
        """Where every drawn marker is, oldest first (settled, then tail)."""
        return [(p.pos().x(), p.pos().y()) for item in self.items for p in item.points()]

    def records(self) -> list[Any]:
        return [entry[0] for entry in self._settled] + list(self._tail)

    # ---- updates ---------------------------------------------------------------------
    def add(self, records: Iterable[Any]) -> None:
        """Place new markers: settled ones appended, the tail redrawn if it changed."""
        settled: list[tuple[Any, float, float, bool]] = []
        tail_grew = False
        for rec in records:
            where = self._where(self.ts_of(rec))
            if where == "drop":
                continue
            if where == "tail":
                self._tail.append(rec)
                tail_grew = True
            else:
                settled.append(self._entry(rec, where))
        self._settle(settled)
        if tail_grew:
            self.refresh_tail(force=True)

    def refresh_tail(self, force: bool = False) -> None:
        """The last bar changed (new bar, new high/low): settle and redraw the tail."""
        if not self._tail and not force:
            return
        keep: list[Any] = []
        settled: list[tuple[Any, float, float, bool]] = []
        for rec in self._tail:
            where = self._where(self.ts_of(rec))
            if where == "tail":
                keep.append(rec)
            elif where != "drop":
                settled.append(self._entry(rec, where))
        if settled:
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
        self._settled.clear()
        self._tail.clear()
        self._tail_drawn = []
        self.settled_item.clear()
        self.tail_item.clear()
        self.add(kept[-self.cap:])

    def clear(self) -> None:
        self._settled.clear()
        self._tail.clear()
        self._tail_drawn = []
        self.settled_item.clear()
        self.tail_item.clear()

    # ---- internals -------------------------------------------------------------------
    def _where(self, ts: int) -> int | str:
        """The bar index of a settled marker, or "tail", or "drop" (before the first bar)."""
        s = self.series
        n = s.n
        if n == 0 or ts >= s.ts[n - 1]:
            return "tail"
        if ts < s.ts[0]:
            return "drop"
        return int(np.searchsorted(s.ts[:n], ts, side="right")) - 1

    def _entry(self, rec: Any, i: int | str) -> tuple[Any, float, float, bool]:
        y, buy = self.place(rec, int(i))
        return rec, float(i), y, buy

    def _settle(self, entries: list[tuple[Any, float, float, bool]]) -> None:
        if not entries:
            return
        self._settled.extend(entries)
        if len(self._settled) > self.cap + self.cap // 4:
            while len(self._settled) > self.cap:
                self._settled.popleft()
            self._draw(self.settled_item, list(self._settled), append=False)
        else:
            self._draw(self.settled_item, entries, append=True)

    def _draw(self, item: pg.ScatterPlotItem,
              entries: list[tuple[Any, float, float, bool]], append: bool) -> None:
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
