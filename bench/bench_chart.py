"""Chart benchmark: 1,000,000 one-minute bars, first paint and pan/zoom frame times.

Runs offscreen. Prints the time to build the chart and paint the first frame,
then median and p95 of repaint times while panning and zooming, measured on
the real widget (``QWidget.repaint()`` paints synchronously).

    python bench/bench_chart.py [--bars 1000000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402


def frame(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    close = 100 + np.cumsum(rng.normal(0, 0.05, n))
    open_ = np.r_[close[0], close[:-1]]
    high = np.maximum(open_, close) + rng.uniform(0, 0.05, n)
    low = np.minimum(open_, close) - rng.uniform(0, 0.05, n)
    index = pd.date_range("2010-01-04 14:30", periods=n, freq="1min", tz="UTC", name="time")
    return pd.DataFrame({"open": open_, "high": high, "low": low, "close": close,
                         "volume": rng.integers(100, 1000, n).astype(float)}, index=index)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bars", type=int, default=1_000_000)
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])
    from widgets.chart import ChartWidget

    df = frame(args.bars)
    t0 = time.perf_counter()
    chart = ChartWidget(None)
    chart.resize(1600, 900)
    chart.show()
    chart.set_data(df)
    app.processEvents()
    chart.glw.grab()
    first = time.perf_counter() - t0
    print(f"bars: {args.bars:,}")
    print(f"first paint (build + indicators + paint): {first * 1000:,.0f} ms (target < 1000 ms)")

    def timed(action) -> float:  # type: ignore[no-untyped-def]
        # grab() renders the graphics view synchronously: the real cost of a frame.
        start = time.perf_counter()
        action()
        app.processEvents()
        chart.glw.grab()
        return (time.perf_counter() - start) * 1000

    pans = [timed(lambda: chart.pan(0.02)) for _ in range(60)]
    zooms = [timed(lambda i=i: chart.zoom(0.9 if i % 2 else 1.1)) for i in range(60)]
    chart.price.vb.setXRange(0, args.bars, padding=0)
    wide = [timed(lambda: chart.pan(-0.01)) for _ in range(20)]
    for name, times in (("pan (~400 bars visible)", pans), ("zoom in/out", zooms),
                        (f"pan fully zoomed out ({args.bars:,} bars visible)", wide)):
        times.sort()
        p95 = times[int(len(times) * 0.95) - 1]
        print(f"{name}: median {statistics.median(times):.1f} ms, p95 {p95:.1f} ms "
              "(target median < 16 ms)")
    print(f"picture builds: {chart.candles.builds}")


if __name__ == "__main__":
    main()
