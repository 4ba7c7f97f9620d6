"""The chart: candles, volume, indicators, markers, crosshair; smooth at a million bars.

* Candles and volume draw only the visible window (``candles.py``); overlays
  are clipped to the view and downsampled by pyqtgraph.
* x is the bar index, so closed sessions leave no gaps; the time axis labels
  bars in the market's timezone.
* Wheel zooms time, drag and the arrow keys pan, the price axis fits the
  visible bars, End (or "Latest") jumps to the newest bar.
* Overlays (EMA fast/slow, Bollinger, VWAP) and sub-panes (RSI, MACD) come
  from the Indicators menu and are computed by ``engine.indicators``.
* Markers: strategy signals (hover shows their score components), fills, and
  backtest trades drawn from entry to exit. Signals and fills are placed as
  they arrive (``markers.py``): a batch costs its own size, the last 5,000 stay.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QKeyEvent
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from engine import indicators as ind
from engine.models import Bar, FillEvent, Side
from widgets.chart.candles import BarSeries, CandlestickItem, VolumeItem, visible_range
from widgets.chart.grid import GridLines
from widgets.chart.markers import MarkerLayer
from widgets.chart.time_axis import IndexTimeAxis
from widgets.context import AppContext
from widgets.theme import colours

TIMEFRAMES = ("1m", "5m", "15m", "1h", "1d")
BUY_ACTIONS = frozenset({"BUY", "COVER", "LONG"})
OVERLAYS = ("EMA fast", "EMA slow", "Bollinger", "VWAP")
PANES = ("RSI", "MACD")
# The curves each Indicators menu entry shows.
LINE_GROUPS = {"EMA fast": ("ema_fast",), "EMA slow": ("ema_slow",),
               "Bollinger": ("bb_upper", "bb_mid", "bb_lower"), "VWAP": ("vwap",),
               "RSI": ("rsi",), "MACD": ("macd", "macd_signal")}


@dataclass
class IndicatorSettings:
    ema_fast: int = 12
    ema_slow: int = 26
    bb_period: int = 20
    bb_k: float = 2.0
    rsi_period: int = 14


class ChartWidget(QWidget):
    bar_hovered = Signal(int)  # index of the bar under the cursor

    def __init__(self, ctx: AppContext | None, parent: QWidget | None = None, *,
                 symbol: str = "", timeframe: str = "1m", tz: str = "UTC",
                 settings: IndicatorSettings | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.settings = settings or IndicatorSettings()
        self.series = BarSeries()
        self.lines: dict[str, np.ndarray] = {}
        self.enabled: set[str] = {"EMA fast", "EMA slow"}
        self.tz = tz
        self.timeframe = timeframe
        self._build_toolbar(symbol, timeframe)
        self._build_plots(tz)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        if ctx is not None:
            ctx.bridge.forming.connect(self.on_forming)
            ctx.bridge.bars.connect(self.on_bars)
            ctx.bridge.strategy_signals.connect(self.add_signals)
            ctx.bridge.fills.connect(self.add_fills)
            if self.symbol_box.currentText():
                self.load(self.symbol_box.currentText(), timeframe)

    # ---- construction -------------------------------------------------------------
    def _build_toolbar(self, symbol: str, timeframe: str) -> None:
        self.symbol_box = QComboBox()
        symbols = list(self.ctx.symbols) if self.ctx is not None else []
        if symbol and symbol not in symbols:
            symbols.insert(0, symbol)
        self.symbol_box.addItems(symbols)
        if symbol:
            self.symbol_box.setCurrentText(symbol)
        self.timeframe_box = QComboBox()
        self.timeframe_box.addItems(TIMEFRAMES)
        self.timeframe_box.setCurrentText(timeframe)
        self.indicator_button = QToolButton()
        self.indicator_button.setText("Indicators")
        self.indicator_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.indicator_button)
        self.indicator_actions: dict[str, QAction] = {}
        for name in OVERLAYS + PANES:
            action = menu.addAction(name)
            action.setCheckable(True)
            action.setChecked(name in self.enabled)
            action.toggled.connect(lambda on, n=name: self.set_indicator(n, on))
            self.indicator_actions[name] = action
            if name == OVERLAYS[-1]:
                menu.addSeparator()
        self.indicator_button.setMenu(menu)
        self.latest_button = QPushButton("Latest")
        self.latest_button.clicked.connect(self.go_to_latest)
        self.title = QLabel()
        # The data's origin can be long: clip it rather than widen the chart's minimum
        # (which squeezed the order book dock); the whole text is in the tooltip.
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.readout = QLabel()
        self.readout.setTextFormat(Qt.TextFormat.PlainText)
        bar = QHBoxLayout()
        for w in (self.symbol_box, self.timeframe_box, self.indicator_button, self.latest_button):
            bar.addWidget(w)
        bar.addWidget(self.title, 1)
        self.symbol_box.currentTextChanged.connect(lambda s: self.load(s, self.timeframe))
        self.timeframe_box.currentTextChanged.connect(lambda tf: self.load(self.symbol, tf))
        self._toolbar = bar

    def _build_plots(self, tz: str) -> None:
        c = colours()
        self.glw = pg.GraphicsLayoutWidget()
        self.glw.setBackground(c.background)
        self.axis = IndexTimeAxis(tz)
        self.price = self.glw.addPlot(row=0, col=0, axisItems={"bottom": self.axis})
        self.volume = self.glw.addPlot(row=1, col=0)
        self.rsi = self.glw.addPlot(row=2, col=0)
        self.macd = self.glw.addPlot(row=3, col=0)
        layout = self.glw.ci.layout
        for row, stretch in enumerate((6, 1, 2, 2)):
            layout.setRowStretchFactor(row, stretch)
        self.grids = []
        for plot in (self.price, self.volume, self.rsi, self.macd):
            grid = GridLines(plot, c.grid)
            plot.addItem(grid, ignoreBounds=True)
            self.grids.append(grid)
            plot.vb.setMouseEnabled(x=True, y=False)
            plot.setMenuEnabled(False)
            plot.hideButtons()
            if plot is not self.price:
                plot.setXLink(self.price)
                plot.getAxis("bottom").setStyle(showValues=False)
        self.candles = CandlestickItem(self.series, c.up, c.down)
        self.volume_bars = VolumeItem(self.series, c.up, c.down)
        self.price.addItem(self.candles)
        self.volume.addItem(self.volume_bars)
        self.curves: dict[str, pg.PlotDataItem] = {}
        styles = {"ema_fast": "#ffb300", "ema_slow": "#42a5f5", "bb_upper": "#ab47bc",
                  "bb_mid": "#ab47bc", "bb_lower": "#ab47bc", "vwap": "#26c6da"}
        for key, colour in styles.items():
            self.curves[key] = self._curve(self.price, colour)
        self.curves["rsi"] = self._curve(self.rsi, "#ffca28")
        self.curves["macd"] = self._curve(self.macd, "#42a5f5")
        self.curves["macd_signal"] = self._curve(self.macd, "#ef5350")
        self.rsi.setYRange(0, 100)
        for level in (30, 70):
            self.rsi.addItem(pg.InfiniteLine(level, angle=0, pen=pg.mkPen(c.grid, style=Qt.PenStyle.DashLine)))
        self.signal_layer = MarkerLayer(self.price, self.series, lambda sig: sig.ts_ns,
                                        self._place_signal, symbols=("t1", "t"), size=12,
                                        z=1, hoverable=True, tip=self._signal_tip)
        self.fill_layer = MarkerLayer(self.price, self.series, lambda e: e.fill.ts_ns,
                                      self._place_fill, symbols=("o", "o"), size=7, z=2)
        self._marker_symbol = self.symbol  # whose markers the layers hold
        # Kept under these names for bench/soak_terminal.py, which counts them.
        self._signals, self._fills = self.signal_layer, self.fill_layer
        self.trade_wins = pg.PlotDataItem(pen=pg.mkPen(c.up, width=2, style=Qt.PenStyle.DashLine),
                                          connect="pairs")
        self.trade_losses = pg.PlotDataItem(pen=pg.mkPen(c.down, width=2, style=Qt.PenStyle.DashLine),
                                            connect="pairs")
        for item in (self.trade_wins, self.trade_losses):
            self.price.addItem(item)
        pen = pg.mkPen(c.foreground, width=1, style=Qt.PenStyle.DotLine)
        self.vline = pg.InfiniteLine(angle=90, movable=False, pen=pen)
        self.hline = pg.InfiniteLine(angle=0, movable=False, pen=pen)
        self.price.addItem(self.vline, ignoreBounds=True)
        self.price.addItem(self.hline, ignoreBounds=True)
        self._line_window = (0, 0)
        self._lines_n = 0
        self._line_bufs: dict[str, np.ndarray] = {}
        self.price.vb.sigXRangeChanged.connect(lambda *_: self._view_moved())
        self.glw.scene().sigMouseMoved.connect(self._mouse_moved)
        layout_box = QVBoxLayout(self)
        layout_box.setContentsMargins(0, 0, 0, 0)
        layout_box.addLayout(self._toolbar)
        layout_box.addWidget(self.readout)
        layout_box.addWidget(self.glw, 1)
        self._apply_visibility()

    @staticmethod
    def _curve(plot: pg.PlotItem, colour: str) -> pg.PlotDataItem:
        curve = pg.PlotDataItem(pen=pg.mkPen(colour, width=1))
        plot.addItem(curve)
        # After addItem: PlotItem.addItem applies its own (off) clip/downsample modes.
        curve.setClipToView(True)
        curve.setDownsampling(auto=True, method="peak")
        return curve

    # ---- data -----------------------------------------------------------------------
    @property
    def symbol(self) -> str:
        return self.symbol_box.currentText()

    def load(self, symbol: str, timeframe: str) -> None:
        """Show ``symbol`` at ``timeframe`` from stored data (the same store for all)."""
        if self.ctx is None or not symbol:
            return
        self.timeframe = timeframe
        frame = self.ctx.load_bars(symbol, timeframe)
        inst = self.ctx.engine.instruments.find(symbol)
        tz = self.tz
        if inst is not None:
            try:
                from engine.calendars import get_calendar

                tz = str(get_calendar(inst.calendar).tz)
            except Exception:
                tz = self.tz
        label = self.ctx.data_labels.get(symbol, "")
        self.title.setText(f"  {symbol} {timeframe}" + (f"  [{label}]" if label else ""))
        self.title.setToolTip(f"{symbol} {timeframe}" + (f": {label}" if label else ""))
        self.set_data(frame, tz=tz)

    def set_data(self, frame: pd.DataFrame, tz: str | None = None) -> None:
        """Replace the bars with an OHLCV frame (time index, UTC)."""
        if tz:
            self.tz = tz
        ts = frame.index.asi8 if len(frame) else np.empty(0, dtype=np.int64)
        if len(frame) and isinstance(frame.index, pd.DatetimeIndex):
            ts = frame.index.as_unit("ns").asi8
        self.series.set(ts, frame["open"].to_numpy(float) if len(frame) else np.empty(0),
                        frame["high"].to_numpy(float) if len(frame) else np.empty(0),
                        frame["low"].to_numpy(float) if len(frame) else np.empty(0),
                        frame["close"].to_numpy(float) if len(frame) else np.empty(0),
                        frame["volume"].to_numpy(float) if len(frame) else np.empty(0))
        self.axis.set_times(self.series.ts, self.series.n, self.tz)
        self._recompute_indicators()
        self.candles.invalidate()
        self.volume_bars.invalidate()
        # Markers of the charted symbol stay, placed on the new bars; another symbol's go.
        for layer in (self.signal_layer, self.fill_layer):
            if self._marker_symbol == self.symbol:
                layer.replace_all()
            else:
                layer.clear()
        self._marker_symbol = self.symbol
        self.show_trades([])
        self.go_to_latest()

    def _recompute_indicators(self, start: int = 0) -> None:
        """(Re)compute the enabled indicator lines from ``start`` (a tail window when live).

        Only enabled indicators are computed: a million bars cost tens of
        milliseconds per indicator, so hidden ones wait until they are switched on.
        """
        s, st = self.series, self.settings
        n = self._lines_n = s.n
        if n == 0:
            self.lines = {}
            self._redraw_lines()
            return
        lo = max(0, start - 20 * max(st.ema_slow, st.bb_period, st.rsi_period, 26))
        close = pd.Series(s.close[lo:n])
        fresh: dict[str, np.ndarray] = {}
        on = self.enabled
        if "EMA fast" in on:
            fresh["ema_fast"] = ind.ema(close, st.ema_fast).to_numpy()
        if "EMA slow" in on:
            fresh["ema_slow"] = ind.ema(close, st.ema_slow).to_numpy()
        if "RSI" in on:
            fresh["rsi"] = ind.rsi(close, st.rsi_period).to_numpy()
        if "Bollinger" in on:
            bb = ind.bollinger(close, st.bb_period, st.bb_k)
            fresh.update(bb_upper=bb["upper"].to_numpy(), bb_mid=bb["mid"].to_numpy(),
                         bb_lower=bb["lower"].to_numpy())
        if "MACD" in on:
            macd = ind.macd(close)
            fresh.update(macd=macd["macd"].to_numpy(), macd_signal=macd["signal"].to_numpy())
        if "VWAP" in on:
            frame = pd.DataFrame({"open": s.open[lo:n], "high": s.high[lo:n], "low": s.low[lo:n],
                                  "close": s.close[lo:n], "volume": s.volume[lo:n]},
                                 index=pd.to_datetime(s.ts[lo:n], utc=True))
            fresh["vwap"] = self._vwap(frame)
        if lo == 0:
            self.lines = {}
            self._line_bufs = {}
        for key, values in fresh.items():
            if lo == 0:  # the whole line: keep it as computed (may be read-only)
                self.lines[key] = values
            else:
                self.lines[key] = self._store_line(key, lo, values)
        self._redraw_lines()

    def _store_line(self, key: str, lo: int, values: np.ndarray) -> np.ndarray:
        """Write a recomputed tail into the line; returns the line (a view of its buffer).

        The buffer grows by doubling, so a closed bar costs the tail, not a copy
        of the whole line.
        """
        n = lo + len(values)
        old = self.lines.get(key)
        buf = self._line_bufs.get(key)
        if buf is None or len(buf) < n or old is None or old.base is not buf:
            fresh = np.full(max(1024, 2 * n), np.nan)
            if old is not None:  # older bars keep their values (NaN where never computed)
                k = min(lo, len(old))
                fresh[:k] = old[:k]
            buf = self._line_bufs[key] = fresh
        buf[lo:n] = values
        return buf[:n]

    def _vwap(self, frame: pd.DataFrame) -> np.ndarray:
        session = None
        if self.ctx is not None:
            inst = self.ctx.engine.instruments.find(self.symbol)
            if inst is not None:
                try:
                    from engine.calendars import get_calendar

                    session = get_calendar(inst.calendar).session_labels(frame.index)
                except Exception:
                    session = None
        return ind.vwap(frame, session).to_numpy()

    def _redraw_lines(self) -> None:
        self._draw_line_window()
        self._apply_visibility()

    def _draw_line_window(self) -> None:
        """Give the shown curves the visible bars and one view width either side.

        Not the whole series: at a million bars that cost ~20 ms per closed bar
        (pyqtgraph scans all the data for its bounds); this costs the window, and
        panning within the margins sets nothing (``_view_moved``).
        """
        m = self._lines_n  # bars the lines cover (a forming bar may be newer)
        (x0, x1), _ = self.price.vb.viewRange()
        span = max(x1 - x0, 50.0)
        lo = max(0, min(m, int(math.floor(x0 - span))))
        hi = max(lo, min(m, int(math.ceil(x1 + span)) + 1))
        self._line_window = (lo, hi)
        x = np.arange(lo, hi, dtype=float)
        for key, curve in self.curves.items():
            values = self.lines.get(key)
            # Hidden lines are not kept up to date: they are recomputed when shown.
            if values is None or hi == lo or len(values) < hi or not self._wanted(key):
                curve.setData([], [])
            else:
                curve.setData(x, values[lo:hi], connect="finite")

    def _wanted(self, key: str) -> bool:
        return any(key in keys for name, keys in LINE_GROUPS.items() if name in self.enabled)

    def _lines_cover_view(self) -> bool:
        lo, hi = self._line_window
        i0, i1 = self.visible_indices()
        # Zoomed in far past the window's making: a smaller window costs less per bar.
        small = hi - lo <= 6 * max(i1 - i0, 50)
        return lo <= i0 and hi >= min(i1, self._lines_n) and small

    def _view_moved(self) -> None:
        self.fit_y()
        if not self._lines_cover_view():
            self._draw_line_window()

    def set_indicator(self, name: str, on: bool) -> None:
        (self.enabled.add if on else self.enabled.discard)(name)
        if on:
            self._recompute_indicators()
        self._apply_visibility()
        self.fit_y()

    def _apply_visibility(self) -> None:
        for name, keys in LINE_GROUPS.items():
            for key in keys:
                self.curves[key].setVisible(name in self.enabled)
        layout = self.glw.ci.layout
        for row, (plot, name) in enumerate(((self.rsi, "RSI"), (self.macd, "MACD")), start=2):
            shown = name in self.enabled
            plot.setVisible(shown)
            # A hidden item still holds its row in the grid: give the room back.
            plot.setMaximumHeight(16_777_215 if shown else 0)
            layout.setRowStretchFactor(row, 2 if shown else 0)

    # ---- live updates ----------------------------------------------------------------
    def _accepts(self, bar: Bar) -> bool:
        return bar.symbol == self.symbol and (bar.timeframe == self.timeframe or
                                              bar.timeframe == "1m")

    def on_forming(self, forming: dict[tuple[str, str], Bar]) -> None:
        bar = forming.get((self.symbol, self.timeframe)) or forming.get((self.symbol, "1m"))
        if bar is not None:
            self._merge(bar, closed=False)

    def on_bars(self, bars: list[Bar]) -> None:
        closed = False
        for bar in bars:
            if self._accepts(bar):
                self._merge(bar, closed=True)
                closed = True
        if closed:
            self._recompute_indicators(start=max(0, self.series.n - 2))

    def _merge(self, bar: Bar, closed: bool) -> None:
        """Fold a 1m (or same-timeframe) bar into the last bucket of this timeframe."""
        s = self.series
        from engine.models import Timeframe

        tf_ns = Timeframe.parse(self.timeframe).ns
        if s.n and bar.timeframe != self.timeframe and bar.ts_ns < s.ts[s.n - 1] + tf_ns \
                and bar.ts_ns >= s.ts[s.n - 1]:
            i = s.n - 1
            s.upsert_last(int(s.ts[i]), float(s.open[i]), max(float(s.high[i]), bar.high),
                          min(float(s.low[i]), bar.low), bar.close,
                          float(s.volume[i]) + (bar.volume if closed else 0.0))
        else:
            s.upsert_last(bar.ts_ns, bar.open, bar.high, bar.low, bar.close, bar.volume)
        following = self._at_latest()
        self.axis.set_times(s.ts, s.n)
        self.candles.extend_bounds(bar.low, bar.high)
        self.volume_bars.invalidate()
        for layer in (self.signal_layer, self.fill_layer):
            layer.refresh_tail()  # markers on the last bar follow it (a no-op without any)
        if following:
            self._follow()

    # ---- view ---------------------------------------------------------------------------
    def visible_indices(self) -> tuple[int, int]:
        (x0, x1), _ = self.price.vb.viewRange()
        return self.series.visible(x0, x1)

    def _at_latest(self) -> bool:
        (_, x1), _ = self.price.vb.viewRange()
        return x1 >= self.series.n - 3

    def _follow(self) -> None:
        """Keep the newest bar in view, touching the view only when it must change.

        Most updates rewrite the forming bar: the view stays where it is and the
        prices are refitted only if that bar left them (setting the same range
        again cost ~5% of the CPU at max replay speed).
        """
        s = self.series
        i = s.n - 1
        (_, x1), (y0, y1) = self.price.vb.viewRange()
        if i < 0:
            return
        if abs(x1 - (s.n + 2)) > 1e-6:  # a bar was added: where go_to_latest puts the edge
            self.go_to_latest()
            return
        _, (_, v1) = self.volume.vb.viewRange()
        if s.low[i] < y0 or s.high[i] > y1 or s.volume[i] > v1:
            self.fit_y()

    def go_to_latest(self, width: int | None = None) -> None:
        n = self.series.n
        if n == 0:
            return
        (x0, x1), _ = self.price.vb.viewRange()
        span = width or int(max(20, min(x1 - x0, 400))) if n > 1 else 20
        self.price.vb.setXRange(max(-1, n - span), n + 2, padding=0)
        self.fit_y()

    def jump_to(self, ts_ns: int, width: int | None = None) -> int:
        """Centre the view on the bar containing ``ts_ns``; returns its index."""
        i = self.index_of(ts_ns)
        (x0, x1), _ = self.price.vb.viewRange()
        span = width or max(40, int(x1 - x0))
        self.price.vb.setXRange(i - span / 2, i + span / 2, padding=0)
        self.fit_y()
        return i

    def index_of(self, ts_ns: int) -> int:
        s = self.series
        i = int(np.searchsorted(s.ts[: s.n], ts_ns, side="right")) - 1
        return max(0, min(i, s.n - 1))

    def fit_y(self) -> None:
        """Fit every pane's y range to the bars (and lines) that are visible."""
        i0, i1 = self.visible_indices()
        rng = visible_range(self.series, "low", "high", i0, i1)
        if rng is None:
            return
        lo, hi = rng
        if "Bollinger" in self.enabled and "bb_upper" in self.lines:
            upper = self.lines["bb_upper"][i0:i1]
            lower = self.lines["bb_lower"][i0:i1]
            if np.isfinite(upper).any():
                hi = max(hi, float(np.nanmax(upper)))
                lo = min(lo, float(np.nanmin(lower)))
        pad = (hi - lo) * 0.05 or abs(hi) * 0.01 or 1.0
        self.price.vb.setYRange(lo - pad, hi + pad, padding=0)
        vol = float(np.nanmax(self.series.volume[i0:i1])) if i1 > i0 else 1.0
        self.volume.vb.setYRange(0, (vol if math.isfinite(vol) and vol > 0 else 1.0) * 1.05,
                                 padding=0)
        if "MACD" in self.enabled and "macd" in self.lines:
            window = np.concatenate([self.lines["macd"][i0:i1], self.lines["macd_signal"][i0:i1]])
            if np.isfinite(window).any():
                m = float(np.nanmax(np.abs(window))) or 1.0
                self.macd.vb.setYRange(-m * 1.1, m * 1.1, padding=0)

    def pan(self, fraction: float) -> None:
        (x0, x1), _ = self.price.vb.viewRange()
        shift = (x1 - x0) * fraction
        self.price.vb.setXRange(x0 + shift, x1 + shift, padding=0)

    def zoom(self, factor: float) -> None:
        (x0, x1), _ = self.price.vb.viewRange()
        centre, half = x1 - (x1 - x0) / 2, (x1 - x0) * factor / 2
        self.price.vb.setXRange(centre - half, centre + half, padding=0)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        key = event.key()
        if key == Qt.Key.Key_Left:
            self.pan(-0.1)
        elif key == Qt.Key.Key_Right:
            self.pan(0.1)
        elif key in (Qt.Key.Key_Up, Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self.zoom(0.8)
        elif key in (Qt.Key.Key_Down, Qt.Key.Key_Minus):
            self.zoom(1.25)
        elif key == Qt.Key.Key_End:
            self.go_to_latest()
        elif key == Qt.Key.Key_Home:
            self.jump_to(int(self.series.ts[0])) if self.series.n else None
        else:
            super().keyPressEvent(event)

    # ---- crosshair and readout -------------------------------------------------------
    def _mouse_moved(self, pos: Any) -> None:
        if not self.price.sceneBoundingRect().contains(pos):
            return
        point = self.price.vb.mapSceneToView(pos)
        self.show_readout(int(round(point.x())), point.y())

    def show_readout(self, index: int, y: float | None = None) -> str:
        s = self.series
        if not 0 <= index < s.n:
            return ""
        self.vline.setPos(index)
        if y is not None:
            self.hline.setPos(y)
        stamp = pd.Timestamp(int(s.ts[index]), unit="ns", tz="UTC").tz_convert(self.tz)
        parts = [stamp.strftime("%Y-%m-%d %H:%M %Z"),
                 f"O {s.open[index]:,.2f}", f"H {s.high[index]:,.2f}",
                 f"L {s.low[index]:,.2f}", f"C {s.close[index]:,.2f}",
                 f"V {s.volume[index]:,.0f}"]
        names = {"ema_fast": f"EMA{self.settings.ema_fast}", "ema_slow": f"EMA{self.settings.ema_slow}",
                 "bb_upper": "BB+", "bb_lower": "BB-", "vwap": "VWAP", "rsi": "RSI", "macd": "MACD"}
        visible = {"ema_fast": "EMA fast", "ema_slow": "EMA slow", "bb_upper": "Bollinger",
                   "bb_lower": "Bollinger", "vwap": "VWAP", "rsi": "RSI", "macd": "MACD"}
        for key, label in names.items():
            values = self.lines.get(key)
            if visible[key] in self.enabled and values is not None and index < len(values) \
                    and math.isfinite(values[index]):
                parts.append(f"{label} {values[index]:,.2f}")
        text = "  ".join(parts)
        self.readout.setText(text)
        self.bar_hovered.emit(index)
        return text

    # ---- markers ------------------------------------------------------------------------
    def add_signals(self, signals: Iterable[Any]) -> None:
        """Strategy signals for this symbol: triangles with their score components on hover.

        Only the new signals are placed (``markers.MarkerLayer``); the last
        ``MARKER_CAP`` are kept.
        """
        mine = [sig for sig in signals if sig.symbol == self.symbol and sig.action != "HOLD"]
        if mine:
            self.signal_layer.add(mine)

    def _place_signal(self, sig: Any, i: int) -> tuple[float, bool]:
        buy = sig.action in BUY_ACTIONS
        s = self.series
        return float(s.low[i] * 0.999 if buy else s.high[i] * 1.001), buy

    @staticmethod
    def _place_fill(event: FillEvent, i: int) -> tuple[float, bool]:
        return float(event.fill.price), event.fill.side is Side.BUY

    @staticmethod
    def _signal_tip(x: float, y: float, data: Any) -> str:
        lines = [f"{data.action} @ {data.price:,.2f}  ({data.strategy_id})"]
        lines += [f"  {k}: {v:g}" for k, v in data.components.items()]
        lines += [f"  {k}: {v:g}" for k, v in data.scores.items()]
        return "\n".join(lines)

    def add_fills(self, events: Iterable[FillEvent]) -> None:
        """Fills of this symbol as dots at their price on their bar (the last ``MARKER_CAP``)."""
        mine = [e for e in events if e.fill.symbol == self.symbol]
        if mine:
            self.fill_layer.add(mine)

    def show_trades(self, trades: Iterable[Any]) -> None:
        """Backtest round trips as dashed segments from entry to exit (green won, red lost)."""
        wins: list[float] = []
        win_y: list[float] = []
        losses: list[float] = []
        loss_y: list[float] = []
        for t in trades:
            if t.symbol != self.symbol and self.symbol:
                continue
            xs = [self.index_of(t.entry_ns), self.index_of(t.exit_ns)]
            ys = [float(t.entry_price), float(t.exit_price)]
            (wins if t.net_pnl > 0 else losses).extend(xs)
            (win_y if t.net_pnl > 0 else loss_y).extend(ys)
        self.trade_wins.setData(wins, win_y)
        self.trade_losses.setData(losses, loss_y)
        self.trade_count = len(wins) // 2 + len(losses) // 2


class ChartPanel(ChartWidget):
    """The terminal's central chart (the context's first symbol)."""

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        first = ctx.symbols[0] if ctx.symbols else ""
        super().__init__(ctx, parent, symbol=first)
