"""Backtest reports: the trades as CSV, and one self-contained HTML page.

The HTML report needs nothing but a browser: the metric table, the equity
curve, the drawdown and the distribution of trade PnL are drawn as inline SVG
written here (no plotting library, no JavaScript, no Qt), so the file can be
mailed or archived as it is. Curves are plotted against bar number, not time,
so nights and weekends do not draw as flat stretches; the axis is labelled with
the bars' dates. Long curves are thinned to the minimum and maximum of each
pixel-wide bucket, which keeps every peak and trough visible.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from engine.backtest.trades import RoundTrip
from engine.data.io import _write_atomically
from engine.errors import UserError

if TYPE_CHECKING:
    from engine.backtest.runner import BacktestResult

MAX_POINTS = 1_200  # points per plotted curve (about two per horizontal pixel)
MAX_TRADE_ROWS = 500  # trades listed in the HTML (the CSV has them all)
TRADE_COLUMNS = ("symbol", "direction", "quantity", "entry_time", "entry_price", "exit_time",
                 "exit_price", "gross_pnl", "fees", "net_pnl", "return_pct", "duration")

# How each metric is shown: (label, format). Unlisted keys are shown as they are.
_PCT = "{:,.2f}%"
_NUM = "{:,.2f}"
METRIC_FORMATS: dict[str, tuple[str, str]] = {
    "start": ("Start", "{}"), "end": ("End", "{}"), "bars": ("Bars", "{:,}"),
    "initial_equity": ("Initial equity", _NUM), "final_equity": ("Final equity", _NUM),
    "total_return_pct": ("Total return", _PCT), "annual_return_pct": ("Annual return (CAGR)", _PCT),
    "volatility_pct": ("Volatility (annual)", _PCT), "sharpe": ("Sharpe ratio", "{:.3f}"),
    "sortino": ("Sortino ratio", "{:.3f}"), "calmar": ("Calmar ratio", "{:.3f}"),
    "max_drawdown_pct": ("Max drawdown", _PCT), "max_dd_duration": ("Max drawdown duration", "{}"),
    "trades": ("Trades", "{:,}"), "win_rate_pct": ("Win rate", _PCT),
    "profit_factor": ("Profit factor", "{:.3f}"), "expectancy": ("Expectancy", _NUM),
    "avg_win": ("Average win", _NUM), "avg_loss": ("Average loss", _NUM),
    "best_trade": ("Best trade", _NUM), "worst_trade": ("Worst trade", _NUM),
    "exposure_pct": ("Exposure", _PCT), "turnover": ("Turnover", "{:.2f}x"),
    "fees": ("Fees", _NUM), "var_95_pct": ("VaR 95% (1 day)", _PCT),
    "es_95_pct": ("Expected shortfall 95%", _PCT),
}


# ---- trades ---------------------------------------------------------------------------


def decimal_text(value: Decimal) -> str:
    """Plain decimal text without trailing zeros (19457.39, not 19457.3900000...; 100, not
    1E+2): the exact value, as a spreadsheet reads it."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def trades_frame(trades: Sequence[RoundTrip]) -> pd.DataFrame:
    """One row per round trip; money as exact decimal text, times as UTC timestamps."""
    rows = [{
        "symbol": t.symbol, "direction": "long" if t.direction > 0 else "short",
        "quantity": decimal_text(t.quantity),
        "entry_time": pd.Timestamp(t.entry_ns, unit="ns", tz="UTC"),
        "entry_price": decimal_text(t.entry_price),
        "exit_time": pd.Timestamp(t.exit_ns, unit="ns", tz="UTC"),
        "exit_price": decimal_text(t.exit_price), "gross_pnl": decimal_text(t.gross_pnl),
        "fees": decimal_text(t.fees), "net_pnl": decimal_text(t.net_pnl),
        "return_pct": round(t.return_pct, 6),
        "duration": str(pd.Timedelta(t.exit_ns - t.entry_ns, unit="ns")),
    } for t in trades]
    return pd.DataFrame(rows, columns=list(TRADE_COLUMNS))


def write_trades_csv(path: str | Path, trades: Sequence[RoundTrip]) -> int:
    """Write the round trips to ``path`` (complete or not at all); returns the row count."""
    frame = trades_frame(trades)
    _write_text(Path(path), frame.to_csv(index=False, date_format="%Y-%m-%dT%H:%M:%S%z"))
    return len(frame)


def _write_text(path: Path, text: str) -> None:
    if not path.parent.is_dir():
        raise UserError(f"cannot write {path}: folder {path.parent} does not exist")

    def write(tmp: Path) -> None:
        tmp.write_text(text, encoding="utf-8", newline="")

    _write_atomically(path, write)


# ---- curves -----------------------------------------------------------------------------


def thin_positions(values: np.ndarray, max_points: int = MAX_POINTS) -> np.ndarray:
    """Positions of at most about ``max_points`` points: each bucket's min and max, in order.

    The first and last points are always kept, so the curve starts and ends where
    the real one does.
    """
    n = len(values)
    if n <= max_points:
        return np.arange(n)
    values = np.where(np.isnan(values), np.nanmean(values) if n else 0.0, values)
    edges = np.linspace(0, n, max(1, max_points // 2) + 1).astype(int)
    keep = {0, n - 1}
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        if hi > lo:
            keep.add(lo + int(np.argmin(values[lo:hi])))
            keep.add(lo + int(np.argmax(values[lo:hi])))
    return np.asarray(sorted(keep))


def thin_curve(series: pd.Series, max_points: int = MAX_POINTS) -> pd.Series:
    """``series`` thinned by ``thin_positions`` (every peak and trough kept)."""
    return series.iloc[thin_positions(series.to_numpy(dtype=float), max_points)]


def _nice_step(span: float, ticks: int = 5) -> float:
    if span <= 0 or not math.isfinite(span):
        return 1.0
    raw = span / ticks
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)


def _fmt_tick(value: float, step: float, extent: float) -> str:
    """An axis label; in millions for the whole axis when it reaches a million."""
    if value == 0:
        return "0"
    if extent >= 1e6 and step >= 1e4:
        step, value, suffix = step / 1e6, value / 1e6, "M"
    else:
        suffix = ""
    decimals = max(0, -math.floor(math.log10(step))) if step < 1 else 0
    return f"{value:,.{decimals}f}{suffix}"


def _ticks(lo: float, hi: float, step: float) -> list[float]:
    """Multiples of ``step`` within [lo, hi] (counted, not accumulated: no drift)."""
    first, last = math.ceil(lo / step - 1e-9), math.floor(hi / step + 1e-9)
    return [k * step for k in range(first, last + 1)]


def _date_format(index: pd.DatetimeIndex) -> str:
    span = index[-1] - index[0]
    if span > pd.Timedelta(days=730):
        return "%Y-%m"
    if span > pd.Timedelta(days=3):
        return "%Y-%m-%d"
    return "%m-%d %H:%M"


def line_svg(series: pd.Series, *, title: str, color: str = "#1f77b4", area: bool = False,
             width: int = 900, height: int = 260, unit: str = "") -> str:
    """An SVG line (or area down to 0) chart of ``series`` against bar number."""
    pad_l, pad_r, pad_t, pad_b = 70, 16, 28, 34
    w, h = width - pad_l - pad_r, height - pad_t - pad_b
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
           f'width="{width}" height="{height}" role="img" aria-label="{html.escape(title)}">',
           f'<text x="{pad_l}" y="18" class="title">{html.escape(title)}</text>']
    if series.empty:
        out.append(f'<text x="{pad_l}" y="{pad_t + h / 2}">no data</text></svg>')
        return "".join(out)
    n_total = len(series)
    pos = thin_positions(series.to_numpy(dtype=float))
    values = series.to_numpy(dtype=float)[pos]
    finite = values[np.isfinite(values)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if area:
        lo, hi = min(lo, 0.0), max(hi, 0.0)
    if hi == lo:
        lo, hi = lo - 1, hi + 1
    step = _nice_step(hi - lo)
    lo, hi = math.floor(lo / step) * step, math.ceil(hi / step) * step

    def x(i: float) -> float:
        return pad_l + (i / max(n_total - 1, 1)) * w

    def y(v: float) -> float:
        return pad_t + (hi - v) / (hi - lo) * h

    extent = max(abs(lo), abs(hi))
    for tick in _ticks(lo, hi, step):
        label = _fmt_tick(tick, step, extent) + unit
        out.append(f'<line class="grid" x1="{pad_l}" x2="{pad_l + w}" y1="{y(tick):.1f}" '
                   f'y2="{y(tick):.1f}"/><text class="ylab" x="{pad_l - 6}" '
                   f'y="{y(tick) + 4:.1f}">{label}</text>')
    index = pd.DatetimeIndex(series.index)
    fmt = _date_format(index)
    places = np.unique(np.linspace(0, n_total - 1, min(6, n_total)).astype(int))
    for k, i in enumerate(places):
        # The outer labels hang inwards so they are not cut off at the edges.
        anchor = "start" if k == 0 else "end" if k == len(places) - 1 else "middle"
        out.append(f'<text class="xlab" style="text-anchor:{anchor}" x="{x(i):.1f}" '
                   f'y="{pad_t + h + 20}">{index[i].strftime(fmt)}</text>')
    pts = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in zip(pos, values, strict=True)
                   if math.isfinite(v))
    if area:
        base = y(0.0)
        out.append(f'<polygon fill="{color}" fill-opacity="0.35" stroke="none" '
                   f'points="{x(pos[0]):.1f},{base:.1f} {pts} {x(pos[-1]):.1f},{base:.1f}"/>')
    out.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.3" points="{pts}"/>')
    out.append(f'<rect class="frame" x="{pad_l}" y="{pad_t}" width="{w}" height="{h}"/></svg>')
    return "".join(out)


def histogram_svg(values: Sequence[float], *, title: str, width: int = 900,
                  height: int = 240) -> str:
    """An SVG histogram of ``values``; bins above zero green, below red."""
    pad_l, pad_r, pad_t, pad_b = 70, 16, 28, 34
    w, h = width - pad_l - pad_r, height - pad_t - pad_b
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
           f'width="{width}" height="{height}" role="img" aria-label="{html.escape(title)}">',
           f'<text x="{pad_l}" y="18" class="title">{html.escape(title)}</text>']
    data = np.asarray([v for v in values if math.isfinite(v)], dtype=float)
    if data.size == 0:
        out.append(f'<text x="{pad_l}" y="{pad_t + h / 2}">no closed trades</text></svg>')
        return "".join(out)
    wanted = int(min(40, max(5, math.ceil(math.sqrt(data.size)))))
    lo, hi = float(data.min()), float(data.max())
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    # Bin edges on multiples of a round width, so zero is an edge and no bin mixes
    # winners with losers.
    width_ = _nice_step(hi - lo, wanted)
    lo, hi = math.floor(lo / width_) * width_, math.ceil(hi / width_) * width_
    bins = max(1, round((hi - lo) / width_))
    counts, edges = np.histogram(data, bins=bins, range=(lo, hi))
    top = max(int(counts.max()), 1)
    bar_w = w / bins
    for k, c in enumerate(counts):
        bh = c / top * h
        mid = (edges[k] + edges[k + 1]) / 2
        color = "#2ca02c" if mid >= 0 else "#d62728"
        out.append(f'<rect x="{pad_l + k * bar_w + 0.5:.1f}" y="{pad_t + h - bh:.1f}" '
                   f'width="{max(bar_w - 1, 0.5):.1f}" height="{bh:.1f}" fill="{color}">'
                   f'<title>{edges[k]:,.2f} .. {edges[k + 1]:,.2f}: {int(c)}</title></rect>')
    for tick in _ticks(0, top, math.ceil(_nice_step(top, 4))):  # counts: whole steps
        yy = pad_t + h - tick / top * h
        out.append(f'<text class="ylab" x="{pad_l - 6}" y="{yy + 4:.1f}">{int(tick)}</text>')
    xstep, extent = _nice_step(hi - lo), max(abs(lo), abs(hi))
    for tick in _ticks(lo, hi, xstep):
        xx = pad_l + (tick - lo) / (hi - lo) * w
        out.append(f'<text class="xlab" x="{xx:.1f}" y="{pad_t + h + 20}">'
                   f'{_fmt_tick(tick, xstep, extent)}</text>')
    if lo < 0 < hi:
        x0 = pad_l + (0 - lo) / (hi - lo) * w
        out.append(f'<line class="zero" x1="{x0:.1f}" x2="{x0:.1f}" y1="{pad_t}" '
                   f'y2="{pad_t + h}"/>')
    out.append(f'<rect class="frame" x="{pad_l}" y="{pad_t}" width="{w}" height="{h}"/></svg>')
    return "".join(out)


# ---- the page -----------------------------------------------------------------------------


def format_metric(key: str, value: Any) -> tuple[str, str]:
    """(label, text) of one metric; NaN and missing values show as an en dash."""
    label, fmt = METRIC_FORMATS.get(key, (key, "{}"))
    if value is None or isinstance(value, float) and math.isnan(value):
        return label, "\u2013"
    if isinstance(value, float) and math.isinf(value):
        return label, "\u221e" if value > 0 else "-\u221e"
    try:
        return label, fmt.format(value)
    except (ValueError, TypeError):
        return label, str(value)


def html_table(rows: Sequence[Sequence[Any]], header: Sequence[str] | None = None,
           cls: str = "") -> str:
    head = ("<thead><tr>" + "".join(f"<th>{html.escape(str(c))}</th>" for c in header)
            + "</tr></thead>") if header else ""
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>"
                   for row in rows)
    return f'<table class="{cls}">{head}<tbody>{body}</tbody></table>'


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:24px;color:#222;max-width:960px}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:24px 0 8px}
.sub{color:#555;margin:2px 0}.warn{color:#9a5b00}
table{border-collapse:collapse;font-size:13px}td,th{padding:3px 10px;border-bottom:1px solid #eee}
th{text-align:left;background:#f6f6f6}table.metrics td:nth-child(even){text-align:right;font-variant-numeric:tabular-nums}
table.metrics td:nth-child(odd){color:#555}table.trades td{text-align:right;font-variant-numeric:tabular-nums}
svg.chart{display:block;margin:8px 0}svg .title{font-size:13px;font-weight:600}
svg text{font-size:11px;fill:#333}svg .ylab{text-anchor:end}svg .xlab{text-anchor:middle}
svg .grid{stroke:#e6e6e6}svg .frame{fill:none;stroke:#bbb}svg .zero{stroke:#888;stroke-dasharray:3 3}
"""


def render_html(*, title: str, metrics: Mapping[str, Any], equity: pd.Series,
                drawdown: pd.Series, trades: Sequence[RoundTrip],
                subtitle: Sequence[str] = (), params: Mapping[str, Any] | None = None,
                warnings: Sequence[str] = (),
                sections: Sequence[tuple[str, str]] = ()) -> str:
    """The report page. ``sections`` are extra (heading, HTML) blocks after the plots."""
    pairs = [format_metric(k, v) for k, v in metrics.items()]
    half = (len(pairs) + 1) // 2
    grid = [(*pairs[i], *(pairs[i + half] if i + half < len(pairs) else ("", "")))
            for i in range(half)]
    parts = [f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
             f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
             f"<h1>{html.escape(title)}</h1>"]
    parts += [f'<p class="sub">{html.escape(s)}</p>' for s in subtitle]
    parts += [f'<p class="warn">warning: {html.escape(w)}</p>' for w in warnings]
    if params:
        parts.append("<h2>Parameters</h2>" + html_table(
            [(k, v) for k, v in params.items()], ("parameter", "value")))
    parts.append("<h2>Metrics</h2>" + html_table(grid, cls="metrics"))
    parts.append("<h2>Equity</h2>" + line_svg(equity, title="Equity", color="#1f77b4"))
    parts.append(line_svg(drawdown, title="Drawdown", color="#d62728", area=True, unit="%"))
    pnl = [float(t.net_pnl) for t in trades]
    parts.append("<h2>Trades</h2>" + histogram_svg(
        pnl, title=f"Net PnL per trade ({len(pnl)} trades)"))
    for heading, block in sections:
        parts.append(f"<h2>{html.escape(heading)}</h2>{block}")
    if trades:
        frame = trades_frame(trades[:MAX_TRADE_ROWS])
        rows = frame.astype(str).itertuples(index=False)
        more = (f'<p class="sub">first {MAX_TRADE_ROWS} of {len(trades)} trades; the CSV export '
                f'has them all</p>') if len(trades) > MAX_TRADE_ROWS else ""
        parts.append(more + html_table(list(rows), TRADE_COLUMNS, cls="trades"))
    parts.append("</body></html>")
    return "\n".join(parts)


def html_report(result: BacktestResult, *, origin: str = "") -> str:
    """The report page of one completed backtest."""
    cfg = result.config
    subtitle = [f"{', '.join(cfg.symbols)} {cfg.timeframe} \u00b7 {result.metrics.start} .. "
                f"{result.metrics.end} \u00b7 {result.bars:,} bars"]
    if origin:
        subtitle.append(f"data: {origin}")
    subtitle.append(f"cash {cfg.cash:,.2f}, commission "
                    f"{'instrument schedule' if cfg.commission is None else cfg.commission}, "
                    f"slippage {cfg.slippage_bps} bps")
    return render_html(title=f"Backtest: {cfg.strategy}", metrics=result.metrics.as_dict(),
                       equity=result.equity, drawdown=result.drawdown, trades=result.trades,
                       subtitle=subtitle, params=dict(cfg.params), warnings=result.warnings)


def write_html_report(path: str | Path, page: str) -> Path:
    """Write a rendered page to ``path`` (complete or not at all)."""
    path = Path(path)
    _write_text(path, page)
    return path
