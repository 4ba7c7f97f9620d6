"""Bundled market data for the offline demo and the tests.

Real data: ``resources/data/us_stocks_daily.csv.gz`` is the daily OHLCV of
AAPL, IBM and MSFT (2000-03 to 2013-03) and GOOG (2004 to 2013) from the
Quandl WIKI prices, published as Public Domain and redistributed unmodified
from the ``bokeh-sampledata`` package (see ``SAMPLE_LICENSE``).

No real one-minute data can be redistributed, so intraday bars are
*synthetic* and labelled so everywhere (``df.attrs["synthetic"]``, the
``source`` of stored bars, the chart title). They are not noise: each real day
is rebuilt minute by minute on the exchange calendar so that the day's open,
close, high, low and volume are exactly the real ones; the minute volatility
follows the day's GARCH(1,1) volatility fitted with ``arch`` on the real daily
returns, clusters within the day, and is highest at the open and the close,
like the U-shaped volume profile the minutes' volume follows.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache, partial
from importlib import resources

import numpy as np
import pandas as pd

from engine.calendars import get_calendar
from engine.errors import UserError
from engine.models import Instrument, krx_stock, us_stock
from engine.models.instrument import KRX_STOCK_TICKS

SAMPLE_SYMBOLS = ("AAPL", "MSFT", "IBM", "GOOG")
SAMPLE_LICENSE = (
    "Daily OHLCV of AAPL, IBM, MSFT and GOOG: Quandl WIKI prices, Public Domain "
    "(redistributed unmodified from the bokeh-sampledata package). Intraday bars are "
    "synthetic: generated from the real daily bars, labelled synthetic wherever shown."
)
NS_MIN = 60 * 1_000_000_000
COLUMNS = ["open", "high", "low", "close", "volume", "trades", "vwap"]


# ---- real daily data ------------------------------------------------------------------


@lru_cache(maxsize=1)
def _all_daily() -> pd.DataFrame:
    with (resources.files("resources") / "data" / "us_stocks_daily.csv.gz").open("rb") as fh:
        with gzip.open(fh) as raw:
            return pd.read_csv(raw)


@lru_cache(maxsize=8)
def load_daily(symbol: str) -> pd.DataFrame:
    """Real daily bars of a bundled symbol, indexed by each session's open (UTC)."""
    df = _all_daily()
    rows = df[df["Ticker"] == symbol]
    if rows.empty:
        raise UserError(f"no bundled data for {symbol!r}; bundled: {', '.join(SAMPLE_SYMBOLS)}")
    cal = get_calendar("XNYS")
    opens = {s.label.isoformat(): s.open_ns for s in
             cal.sessions(rows["Date"].iloc[0], rows["Date"].iloc[-1])}
    keep = rows["Date"].isin(opens.keys()).to_numpy()  # a day the calendar says was shut
    rows = rows[keep]
    index = pd.to_datetime([opens[d] for d in rows["Date"]], utc=True)
    frame = pd.DataFrame({
        "open": rows["Open"].to_numpy(float), "high": rows["High"].to_numpy(float),
        "low": rows["Low"].to_numpy(float), "close": rows["Close"].to_numpy(float),
        "volume": rows["Volume"].to_numpy(float),
    }, index=pd.DatetimeIndex(index, name="time"))
    frame.attrs["source"] = "Quandl WIKI (Public Domain)"
    return frame


@lru_cache(maxsize=8)
def daily_volatility(symbol: str) -> pd.Series:
    """Conditional daily volatility (log-return units) from a GARCH(1,1) on the real closes."""
    from engine.regime.detect import fit_garch

    daily = load_daily(symbol)
    returns = np.diff(np.log(daily["close"].to_numpy()))
    fit = fit_garch(returns)
    if fit is None:  # too little data: the sample standard deviation, flat
        vol = np.full(len(returns), float(np.std(returns)))
    else:
        vol = fit.conditional_vol
    return pd.Series(np.r_[vol[0], vol], index=daily.index, name="vol")


# ---- one day of minutes ---------------------------------------------------------------------


def _seed(*parts: object) -> int:
    return zlib.crc32("|".join(map(str, parts)).encode())


def _intraday_vols(rng: np.random.Generator, n: int, day_vol: float) -> np.ndarray:
    """Per-minute volatility: a GARCH(1,1)-like cluster times a U-shaped seasonality,
    scaled so the minutes add up to the day's variance."""
    t = np.arange(n)
    season = 1.0 + 1.5 * np.exp(-t / 25.0) + 0.8 * np.exp(-(n - 1 - t) / 25.0)
    alpha, beta = 0.12, 0.85
    var = np.empty(n)
    v = 1.0
    shocks = rng.standard_normal(n)
    for i in range(n):
        var[i] = v
        v = (1 - alpha - beta) + alpha * v * shocks[i] ** 2 + beta * v
    sig = np.sqrt(var) * season
    return sig * day_vol / np.sqrt(np.sum(sig**2))


def _bridge(rng: np.random.Generator, x0: float, x1: float, vols: np.ndarray) -> np.ndarray:
    """A path from x0 to x1 whose increments have the given volatilities."""
    steps = vols * rng.standard_normal(len(vols))
    walk = x0 + np.cumsum(steps)
    weight = np.cumsum(vols**2) / np.sum(vols**2)
    return walk - weight * (walk[-1] - x1)


def _fold(path: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Reflect excursions back inside [lo, hi] (keeps the path's texture)."""
    out = path.copy()
    for _ in range(50):
        above, below = out > hi, out < lo
        if not (above.any() or below.any()):
            break
        out[above] = 2 * hi - out[above]
        out[below] = 2 * lo - out[below]
    return np.clip(out, lo, hi)


def minute_day(rng: np.random.Generator, o: float, h: float, low: float, c: float, v: float,
               n: int, day_vol: float, snap: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """n minute bars (o, h, l, c, volume) whose day aggregates are exactly (o, h, low, c, v)."""
    vols = _intraday_vols(rng, n, max(day_vol, 1e-4))
    hi_at, lo_at = rng.choice(n, 2, replace=False) if n > 1 else (0, 0)
    anchors = sorted([(0, np.log(o)), (int(hi_at), np.log(h)), (int(lo_at), np.log(low)),
                      (n, np.log(c))])
    closes = np.empty(n)
    for (a, xa), (b, xb) in zip(anchors, anchors[1:], strict=False):
        if b > a:
            closes[a:b] = _bridge(rng, xa, xb, vols[a:b])
    closes = np.clip(snap(_fold(np.exp(closes), low, h)), low, h)
    closes[-1] = c
    opens = np.r_[o, closes[:-1]]
    top = np.maximum(opens, closes)
    bottom = np.minimum(opens, closes)
    wick = np.abs(rng.standard_normal(n)) * vols * top
    # Snapping may round past the day's range; clip back into it afterwards.
    highs = np.minimum(snap(top + wick), h)
    lows = np.maximum(snap(bottom - np.abs(rng.standard_normal(n)) * vols * bottom), low)
    highs = np.maximum(highs, top)
    lows = np.minimum(lows, bottom)
    highs[int(hi_at)] = h  # the day's high and low are printed in these minutes
    lows[int(lo_at)] = low
    t = np.arange(n)
    profile = (1.0 + 2.0 * np.exp(-t / 20.0) + 1.5 * np.exp(-(n - 1 - t) / 20.0)) * \
        rng.lognormal(0.0, 0.35, n)
    volume = _split_integer(v, profile)
    return np.column_stack([opens, highs, lows, closes, volume])


def _split_integer(total: float, weights: np.ndarray) -> np.ndarray:
    """Integers proportional to ``weights`` that add up exactly to ``total``."""
    total = int(round(total))
    raw = weights / weights.sum() * total
    out = np.floor(raw)
    short = total - int(out.sum())
    if short > 0:
        out[np.argsort(raw - out)[::-1][:short]] += 1
    return out


def _cents(prices: np.ndarray) -> np.ndarray:
    return np.round(prices, 2)


def _frame(rows: list[np.ndarray], index: list[np.ndarray], label: str) -> pd.DataFrame:
    data = np.vstack(rows)
    ts = np.concatenate(index)
    frame = pd.DataFrame(data, columns=["open", "high", "low", "close", "volume"],
                         index=pd.DatetimeIndex(pd.to_datetime(ts, utc=True), name="time"))
    frame["trades"] = np.maximum(1, (frame["volume"] // 100)).astype(int)
    frame["vwap"] = (frame["high"] + frame["low"] + frame["close"]) / 3
    frame.attrs["synthetic"] = True
    frame.attrs["source"] = label
    return frame


# ---- public generators ------------------------------------------------------------------------


def synthetic_intraday(symbol: str, start: str | None = None, end: str | None = None,
                       seed: int = 0) -> pd.DataFrame:
    """Synthetic one-minute bars rebuilding the real days of ``symbol`` (see module doc)."""
    daily = load_daily(symbol)
    vol = daily_volatility(symbol)
    if start is not None:
        daily = daily[daily.index >= pd.Timestamp(start, tz="UTC")]
    if end is not None:
        daily = daily[daily.index <= pd.Timestamp(end, tz="UTC") + pd.Timedelta(days=1)]
    if daily.empty:
        raise UserError(f"no bundled days for {symbol} between {start} and {end}")
    cal = get_calendar("XNYS")
    rows, index = [], []
    for ts, row in daily.iterrows():
        session = cal.session_of(int(ts.value))
        if session is None:
            continue
        n = int((session.close_ns - session.open_ns) // NS_MIN)
        rng = np.random.default_rng(_seed(symbol, session.label, seed))
        rows.append(minute_day(rng, row.open, row.high, row.low, row.close, row.volume, n,
                               float(vol.loc[ts]), _cents))
        index.append(session.open_ns + np.arange(n, dtype=np.int64) * NS_MIN)
    return _frame(rows, index, f"synthetic intraday from real {symbol} daily bars")


def _krx_snap(prices: np.ndarray) -> np.ndarray:
    """Round to the nearest valid KRX price (the tick depends on the price)."""
    ticks = np.full(prices.shape, float(KRX_STOCK_TICKS.top_tick))
    for bound, tick in reversed(KRX_STOCK_TICKS.bands):
        ticks = np.where(prices < float(bound), float(tick), ticks)
    return np.round(prices / ticks) * ticks


def synthetic_krx(code: str = "005930", *, start: str = "2013-01-28", end: str = "2013-03-01",
                  price: float = 70_000.0, daily_vol: float = 0.018, seed: int = 0) -> pd.DataFrame:
    """A fully synthetic KRX stock on the XKRX calendar, on valid KRX ticks."""
    cal = get_calendar("XKRX")
    sessions = cal.sessions(start, end)
    if not sessions:
        raise UserError(f"no XKRX sessions between {start} and {end}")
    rng = np.random.default_rng(_seed("krx", code, seed))
    rows, index = [], []
    prev_close = price
    var = daily_vol**2
    for session in sessions:
        sigma = float(np.sqrt(var))
        ret = sigma * rng.standard_normal()
        var = daily_vol**2 * 0.05 + 0.1 * ret**2 + 0.85 * var
        o = prev_close * np.exp(0.2 * sigma * rng.standard_normal())
        c = o * np.exp(ret)
        h = max(o, c) * np.exp(abs(rng.normal(0, sigma / 2)))
        low = min(o, c) * np.exp(-abs(rng.normal(0, sigma / 2)))
        o, c, h, low = (float(x) for x in _krx_snap(np.array([o, c, h, low])))
        h, low = max(h, o, c), min(low, o, c)
        n = int((session.close_ns - session.open_ns) // NS_MIN)
        volume = float(rng.integers(8_000_000, 20_000_000))
        rows.append(minute_day(rng, o, h, low, c, volume, n, sigma, _krx_snap))
        index.append(session.open_ns + np.arange(n, dtype=np.int64) * NS_MIN)
        prev_close = c
    return _frame(rows, index, f"synthetic KRX stock {code}")


@dataclass(frozen=True)
class DemoSymbol:
    instrument: Instrument
    description: str
    load: Callable[[], pd.DataFrame]  # one-minute bars, labelled synthetic

    @property
    def symbol(self) -> str:
        return self.instrument.symbol


def demo_universe(days: int = 20) -> list[DemoSymbol]:
    """What the terminal replays on first run: four US stocks and one KRX stock."""
    return list(_demo_universe(days))


@lru_cache(maxsize=4)
def _demo_universe(days: int) -> tuple[DemoSymbol, ...]:
    last = load_daily("AAPL").index[-1]
    first = load_daily("AAPL").index[-days].strftime("%Y-%m-%d")
    end = last.strftime("%Y-%m-%d")
    out = [DemoSymbol(us_stock(s, name=f"{s} (synthetic intraday)"),
                      f"{s}: real daily bars {first}..{end}, synthetic minutes",
                      partial(synthetic_intraday, s, first, end))
           for s in SAMPLE_SYMBOLS]
    krx = krx_stock("005930", name="Samsung Electronics (synthetic)")
    out.append(DemoSymbol(krx, "005930: a fully synthetic KRX stock on the XKRX calendar",
                          lambda: synthetic_krx("005930", start=first, end=end)))
    return tuple(out)
