"""Kiwoom's raw strings -> the engine's records. Pure functions, no I/O.

The control returns every value as a string, often signed and zero-padded:

* real-time prices carry the direction against the previous close as a sign
  (``"+71200"`` up, ``"-70900"`` down): the price is the absolute value;
* the trade volume FID 15 is signed by the aggressor (``"+15"`` a buy took the
  offer, ``"-3"`` a sell hit the bid);
* account TRs pad with zeros (``"000000071200"``, ``"-00000150"``), minute bars
  sign their prices like real-time data, daily bars do not;
* codes in chejan and balances are ``"A005930"``;
* times are KST ``HHMMSS`` without a date (real-time, chejan) or full
  ``YYYYMMDDHHMMSS`` / ``YYYYMMDD`` in history.

Parsers of streaming data return ``None`` for a malformed record (the caller
counts it) instead of raising into the event loop.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, cast

import numpy as np
import pandas as pd

from brokers.kiwoom.protocol import REAL_FIDS
from engine.models import BookLevel, OrderBook, Side, Tick

KST = timezone(timedelta(hours=9))  # Korea keeps no daylight saving time
NS = 1_000_000_000
DAY_NS = 86_400 * NS
_KST_OFFSET_NS = 9 * 3600 * NS
SESSION_OPEN_MINUTE = 9 * 60  # KRX regular session opens 09:00 KST
_EMPTY_ORDER_NO = frozenset({"", "0", "0000000"})


# ---- scalars ---------------------------------------------------------------------------
def to_int(raw: str | int) -> int:
    """``"+0071200"`` -> 71200, ``"-00000150"`` -> -150, ``""`` -> 0; else ValueError."""
    if type(raw) is int:
        return raw
    try:
        # int() reads signs, zero padding and spaces itself, in C: the common case of
        # every real-time record. It would also take "1_000"; Kiwoom never sends that.
        if "_" not in raw:  # type: ignore[operator]
            return int(raw)
    except (TypeError, ValueError):
        pass
    if isinstance(raw, int):
        return raw
    text = str(raw).strip().replace(",", "")
    if not text:
        return 0
    sign = -1 if text[0] == "-" else 1
    digits = text[1:] if text[0] in "+-" else text
    if not digits.isdigit():
        raise ValueError(f"not an integer: {raw!r}")
    return sign * int(digits)


def to_price(raw: str | int) -> int:
    """A price without its direction sign."""
    return abs(to_int(raw))


def to_decimal(raw: str) -> Decimal:
    text = str(raw).strip().replace(",", "")
    if not text:
        return Decimal(0)
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"not a number: {raw!r}") from None
    if not value.is_finite():
        raise ValueError(f"not a finite number: {raw!r}")
    return value


def code_of(raw: str) -> str:
    """``"A005930"`` -> ``"005930"`` (chejan and balances prefix the market letter)."""
    text = str(raw).strip()
    if len(text) == 7 and text[0].isalpha() and text[1:].isdigit():
        return text[1:]
    return text


def order_no(raw: str) -> str:
    text = str(raw).strip()
    return "" if text in _EMPTY_ORDER_NO or not text.strip("0") else text


# ---- time ------------------------------------------------------------------------------
def kst_date(ts_ns: int) -> date:
    return datetime.fromtimestamp(ts_ns / NS, KST).date()


_last_time: list[Any] = ["", 0]  # the last HHMMSS read, and its seconds into the day


def event_ts_ns(hhmmss: str, now_ns: int) -> int:
    """A real-time or chejan ``HHMMSS`` placed on the KST day it happened.

    The control sends no date: the day is today's (KST) by ``now_ns``, except a
    time more than an hour ahead of now, which is yesterday's (an event from
    just before midnight arriving just after it). Plain arithmetic (KST has no
    daylight saving time): this runs for every tick and book.
    """
    if hhmmss == _last_time[0]:  # quotes come many to a second: read each time once
        seconds = _last_time[1]
    else:
        text = hhmmss.strip() if type(hhmmss) is str else str(hhmmss).strip()
        if len(text) != 6 or not text.isdigit():
            raise ValueError(f"not an HHMMSS time: {hhmmss!r}")
        h, m, s = int(text[:2]), int(text[2:4]), int(text[4:])
        if h > 23 or m > 59 or s > 59:
            raise ValueError(f"not an HHMMSS time: {hhmmss!r}")
        seconds = h * 3600 + m * 60 + s
        _last_time[:] = [hhmmss, seconds]
    midnight = (now_ns + _KST_OFFSET_NS) // DAY_NS * DAY_NS - _KST_OFFSET_NS
    ts = midnight + seconds * NS
    if ts - now_ns > 3600 * NS:
        ts -= DAY_NS
    return ts


# ---- real-time ---------------------------------------------------------------------------
# Real-time records arrive as the protocol's value lists (REAL_FIDS order) or, in tests
# and from older bridges, as {fid: value}; the parsers take either.
RealFields = dict[str, str] | list[str]

_TRADE_AT = {fid: i for i, fid in enumerate(REAL_FIDS["주식체결"])}
_BOOK_AT = {fid: i for i, fid in enumerate(REAL_FIDS["주식호가잔량"])}
_BOOK_LEN = len(REAL_FIDS["주식호가잔량"])
# The book's four runs of ten FIDs are contiguous in the protocol's order: sliced below.
if any(_BOOK_AT[first + i] != _BOOK_AT[first] + i for first in (41, 51, 61, 71)
       for i in range(10)):
    raise RuntimeError("protocol.REAL_FIDS['주식호가잔량'] must list 41-50, 51-60, 61-70 and "
                       "71-80 each in a row")


def trade_tick(code: str, fids: RealFields, now_ns: int) -> Tick | None:
    """주식체결 -> Tick: price FID 10 (sign stripped), size |FID 15| with its sign as the
    aggressor, time FID 20; ``trade_id`` from time and cumulative volume (FID 13)."""
    try:
        if type(fids) is dict:
            raw_price, raw_volume, raw_time = fids["10"], fids["15"], fids["20"]
            raw_cumulative = fids.get("13", "")
        else:
            # ``type() is dict`` (not isinstance) keeps the hot path cheap; anything else
            # is taken as the value list (a dict subclass then fails the lookup: None).
            values = cast("list[str]", fids)
            at = _TRADE_AT
            raw_price, raw_volume, raw_time = values[at[10]], values[at[15]], values[at[20]]
            raw_cumulative = values[at[13]]
        price = to_price(raw_price)
        volume = to_int(raw_volume)
        hhmmss = raw_time.strip()
        ts = event_ts_ns(hhmmss, now_ns)
        cumulative = to_int(raw_cumulative)
    except (KeyError, IndexError, ValueError, AttributeError, TypeError):
        return None
    if price <= 0:
        return None
    aggressor = Side.BUY if volume > 0 else Side.SELL if volume < 0 else None
    return Tick(symbol=code, ts_ns=ts, price=float(price), size=float(abs(volume)),
                aggressor=aggressor, trade_id=f"{hhmmss}-{cumulative}" if cumulative else "")


def best_quotes(fids: RealFields) -> tuple[float, float] | None:
    """(best ask FID 27, best bid FID 28) of a 주식체결 record, signs stripped."""
    try:
        if type(fids) is dict:
            return float(to_price(fids["27"])), float(to_price(fids["28"]))
        values = cast("list[str]", fids)
        return float(to_price(values[_TRADE_AT[27]])), float(to_price(values[_TRADE_AT[28]]))
    except (KeyError, IndexError, ValueError, TypeError):
        return None


_ASK_PRICE_KEYS = tuple(str(41 + i) for i in range(10))
_BID_PRICE_KEYS = tuple(str(51 + i) for i in range(10))
_ASK_QTY_KEYS = tuple(str(61 + i) for i in range(10))
_BID_QTY_KEYS = tuple(str(71 + i) for i in range(10))
_EMPTY = BookLevel(0.0, 0.0)  # a level without a price, kept in the cache as such
LEVEL_CACHE_SIZE = 20_000

LevelCache = dict[tuple[str, str], BookLevel]


def order_book(code: str, fids: RealFields, now_ns: int, depth: int = 10,
               cache: LevelCache | None = None) -> OrderBook | None:
    """주식호가잔량 -> OrderBook: ask prices 41-50 / quantities 61-70, bids 51-60 / 71-80.

    Empty levels (price 0) are left out. A book whose sides are not in price
    order is malformed and gives None. ``cache`` (a dict the caller keeps for
    its streams) maps a level's raw (price, quantity) strings to the level made
    from them before: consecutive books of a stock share most of their levels,
    so most are neither parsed nor built again.
    """
    depth = min(depth, 10)
    try:
        if type(fids) is dict:
            raw_time = fids["21"]
            asks = _levels(zip([fids[k] for k in _ASK_PRICE_KEYS[:depth]],
                               [fids[k] for k in _ASK_QTY_KEYS[:depth]], strict=True), cache)
            bids = _levels(zip([fids[k] for k in _BID_PRICE_KEYS[:depth]],
                               [fids[k] for k in _BID_QTY_KEYS[:depth]], strict=True), cache)
        else:
            values = cast("list[str]", fids)
            if len(values) != _BOOK_LEN:
                return None
            raw_time = values[_BOOK_AT[21]]
            ap, aq, bp, bq = _BOOK_AT[41], _BOOK_AT[61], _BOOK_AT[51], _BOOK_AT[71]
            asks = _levels(zip(values[ap:ap + depth], values[aq:aq + depth], strict=True), cache)
            bids = _levels(zip(values[bp:bp + depth], values[bq:bq + depth], strict=True), cache)
        ts = event_ts_ns(raw_time, now_ns)
    except (KeyError, ValueError, AttributeError, TypeError):
        return None
    for i in range(1, len(asks)):
        if asks[i - 1].price >= asks[i].price:
            return None
    for i in range(1, len(bids)):
        if bids[i - 1].price <= bids[i].price:
            return None
    return OrderBook(symbol=code, ts_ns=ts, bids=tuple(bids), asks=tuple(asks))


def _levels(pairs: Iterable[tuple[str, str]], cache: LevelCache | None) -> list[BookLevel]:
    levels = []
    for raw in pairs:
        level = cache.get(raw) if cache is not None else None
        if level is None:
            price = to_price(raw[0])
            level = BookLevel(float(price), float(abs(to_int(raw[1])))) if price > 0 else _EMPTY
            if cache is not None:
                if len(cache) >= LEVEL_CACHE_SIZE:
                    cache.clear()
                cache[raw] = level
        if level is not _EMPTY:
            levels.append(level)
    return levels


# ---- chejan ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ChejanOrder:
    """OnReceiveChejanData gubun 0: one order's state (접수/체결/확인), per order number."""

    account: str
    order_no: str
    orig_no: str
    code: str
    status: str  # 접수 | 체결 | 확인 | 거부 ...
    kind: str  # new | modify | cancel
    side: Side
    order_qty: int
    order_price: int
    unfilled: int
    cum_qty: int  # FID 911: filled so far on this order number
    cum_amount: int  # FID 903: value filled so far
    fill_no: str
    fill_price: int  # FID 910 (914 when 910 is empty)
    fill_qty: int  # FID 915
    ts_ns: int
    market: bool
    reject_reason: str
    fee: int | None = None  # FID 938: commission charged on this order number so far
    tax: int | None = None  # FID 939: tax charged on this order number so far

    @property
    def is_fill(self) -> bool:
        return self.status == "체결" and bool(self.fill_no) and self.cum_qty > 0


def chejan_order(fids: dict[str, str], now_ns: int) -> ChejanOrder:
    """Parse gubun 0; raises ValueError naming the bad field."""
    kind_text = fids.get("905", "").strip()
    kind = "cancel" if "취소" in kind_text else "modify" if "정정" in kind_text else "new"
    side_code = fids.get("907", "").strip()
    if side_code in ("1", "2"):
        side = Side.SELL if side_code == "1" else Side.BUY
    elif "매도" in kind_text:
        side = Side.SELL
    elif "매수" in kind_text:
        side = Side.BUY
    else:
        raise ValueError(f"chejan without a side (907={side_code!r}, 905={kind_text!r})")
    number = order_no(fids.get("9203", ""))
    if not number:
        raise ValueError("chejan without an order number (9203)")
    hhmmss = fids.get("908", "").strip()
    ts = event_ts_ns(hhmmss, now_ns) if hhmmss else now_ns
    fill_price = to_price(fids.get("910", "")) or to_price(fids.get("914", ""))
    return ChejanOrder(
        account=fids.get("9201", "").strip(), order_no=number,
        orig_no=order_no(fids.get("904", "")), code=code_of(fids.get("9001", "")),
        status=fids.get("913", "").strip(), kind=kind, side=side,
        order_qty=abs(to_int(fids.get("900", ""))), order_price=to_price(fids.get("901", "")),
        unfilled=abs(to_int(fids.get("902", ""))), cum_qty=abs(to_int(fids.get("911", ""))),
        cum_amount=abs(to_int(fids.get("903", ""))), fill_no=fids.get("909", "").strip(),
        fill_price=fill_price, fill_qty=abs(to_int(fids.get("915", ""))), ts_ns=ts,
        market="시장가" in fids.get("906", ""), reject_reason=fids.get("919", "").strip(),
        fee=_optional_int(fids.get("938", "")), tax=_optional_int(fids.get("939", "")),
    )


def _optional_int(raw: str) -> int | None:
    """A number the control may leave blank: None then (not 0, which is a value)."""
    return abs(to_int(raw)) if str(raw).strip() else None


@dataclass(frozen=True, slots=True)
class ChejanBalance:
    """OnReceiveChejanData gubun 1: a holding after a fill."""

    account: str
    code: str
    qty: int
    avg_price: int
    sellable: int
    cash: int | None
    last: int


def chejan_balance(fids: dict[str, str]) -> ChejanBalance:
    cash = fids.get("951", "").strip()
    return ChejanBalance(
        account=fids.get("9201", "").strip(), code=code_of(fids.get("9001", "")),
        qty=abs(to_int(fids.get("930", ""))), avg_price=to_price(fids.get("931", "")),
        sellable=abs(to_int(fids.get("933", ""))), cash=to_int(cash) if cash else None,
        last=to_price(fids.get("10", "")),
    )


# ---- TR results --------------------------------------------------------------------------
def rows_as_dicts(items: Sequence[str], rows: Sequence[Sequence[str]]) -> list[dict[str, str]]:
    return [dict(zip(items, row, strict=False)) for row in rows]


DAILY_ITEMS = ("일자", "시가", "고가", "저가", "현재가", "거래량")
MINUTE_ITEMS = ("체결시간", "시가", "고가", "저가", "현재가", "거래량")


def _frame(times: list[int], opens: list[int], highs: list[int], lows: list[int],
           closes: list[int], volumes: list[int]) -> pd.DataFrame:
    index = pd.DatetimeIndex(pd.to_datetime(np.asarray(times, dtype="int64"), unit="ns",
                                            utc=True), name="time")
    frame = pd.DataFrame({"open": np.asarray(opens, dtype=float),
                          "high": np.asarray(highs, dtype=float),
                          "low": np.asarray(lows, dtype=float),
                          "close": np.asarray(closes, dtype=float),
                          "volume": np.asarray(volumes, dtype=float)}, index=index)
    frame = frame[~frame.index.duplicated(keep="last")]
    return frame.sort_index()


def daily_bars(rows: Sequence[dict[str, str]]) -> pd.DataFrame:
    """opt10081 rows -> OHLCV frame; each bar labelled with its session open (09:00 KST)."""
    out: tuple[list[int], ...] = ([], [], [], [], [], [])
    for row in rows:
        day = row.get("일자", "").strip()
        if not day:
            continue
        moment = datetime.strptime(day, "%Y%m%d").replace(hour=9, tzinfo=KST)
        values = (int(moment.timestamp()) * NS, to_price(row["시가"]), to_price(row["고가"]),
                  to_price(row["저가"]), to_price(row["현재가"]), abs(to_int(row["거래량"])))
        for column, value in zip(out, values, strict=True):
            column.append(value)
    return _frame(*out)


def minute_open_ns(label: str, minutes: int) -> int:
    """Open time of the opt10080 bar labelled ``YYYYMMDDHHMMSS`` (its end time).

    Buckets are aligned to the 09:00 open, so the session's last, shorter bucket
    (15:00-15:30 for 60 minutes) opens on the grid, not ``minutes`` before 15:30.
    """
    end = datetime.strptime(label.strip(), "%Y%m%d%H%M%S").replace(tzinfo=KST)
    session_open = end.replace(hour=SESSION_OPEN_MINUTE // 60, minute=SESSION_OPEN_MINUTE % 60,
                               second=0)
    since_open_s = int((end - session_open).total_seconds())
    # The bar ending at ``end`` holds the second before it: floor((t - 1 s) / length).
    bucket = ((since_open_s - 1) // (minutes * 60)) * minutes
    start = session_open + timedelta(minutes=bucket)
    return int(start.timestamp()) * NS


def minute_bars(rows: Sequence[dict[str, str]], minutes: int) -> pd.DataFrame:
    """opt10080 rows (signed prices, end-time labels) -> OHLCV frame on bar open times."""
    out: tuple[list[int], ...] = ([], [], [], [], [], [])
    for row in rows:
        label = row.get("체결시간", "").strip()
        if not label:
            continue
        values = (minute_open_ns(label, minutes), to_price(row["시가"]), to_price(row["고가"]),
                  to_price(row["저가"]), to_price(row["현재가"]), abs(to_int(row["거래량"])))
        for column, value in zip(out, values, strict=True):
            column.append(value)
    return _frame(*out)


@dataclass(frozen=True, slots=True)
class Deposit:
    cash: int  # 예수금
    d2_cash: int  # d+2추정예수금
    orderable: int  # 주문가능금액


DEPOSIT_ITEMS = ("예수금", "d+2추정예수금", "주문가능금액")


def deposit(single: dict[str, str]) -> Deposit:
    """opw00001 single data."""
    return Deposit(cash=to_int(single.get("예수금", "")),
                   d2_cash=to_int(single.get("d+2추정예수금", "")),
                   orderable=to_int(single.get("주문가능금액", "")))


@dataclass(frozen=True, slots=True)
class Holding:
    code: str
    name: str
    qty: int
    avg_price: int
    sellable: int
    last: int
    pnl: int


HOLDING_ITEMS = ("종목번호", "종목명", "보유수량", "매입가", "매매가능수량", "현재가", "평가손익")


def holdings(rows: Sequence[dict[str, str]]) -> list[Holding]:
    """opw00018 multi data (one row per stock)."""
    out = []
    for row in rows:
        code = code_of(row.get("종목번호", ""))
        if not code:
            continue
        out.append(Holding(code=code, name=row.get("종목명", "").strip(),
                           qty=abs(to_int(row.get("보유수량", ""))),
                           avg_price=to_price(row.get("매입가", "")),
                           sellable=abs(to_int(row.get("매매가능수량", ""))),
                           last=to_price(row.get("현재가", "")),
                           pnl=to_int(row.get("평가손익", ""))))
    return out


@dataclass(frozen=True, slots=True)
class VenueOrder:
    """One order of today as opt10075 (outstanding) or opt10076 (all, with fills) lists it."""

    order_no: str
    orig_no: str
    code: str
    side: Side
    kind: str  # new | modify
    status: str
    qty: int
    price: int
    unfilled: int
    cum_qty: int
    cum_amount: int | None  # exact 체결누계금액 when the TR has it
    avg_fill_price: int
    hhmmss: str
    market: bool


ORDER_ITEMS = ("주문번호", "원주문번호", "종목코드", "주문구분", "주문상태", "주문수량", "주문가격",
               "미체결수량", "체결량", "체결가", "매매구분")
OUTSTANDING_ITEMS = (*ORDER_ITEMS, "체결누계금액", "시간")
FILLED_ITEMS = (*ORDER_ITEMS, "주문시간")


def venue_orders(rows: Sequence[dict[str, str]]) -> list[VenueOrder]:
    out = []
    for row in rows:
        number = order_no(row.get("주문번호", ""))
        if not number:
            continue
        kind_text = row.get("주문구분", "").strip()
        if "취소" in kind_text:
            continue  # a cancel order never works in the market
        side = Side.SELL if ("매도" in kind_text or kind_text.startswith("-")) else Side.BUY
        amount = row.get("체결누계금액")
        cum_qty = abs(to_int(row.get("체결량", "")))
        out.append(VenueOrder(
            order_no=number, orig_no=order_no(row.get("원주문번호", "")),
            code=code_of(row.get("종목코드", "")), side=side,
            kind="modify" if "정정" in kind_text else "new",
            status=row.get("주문상태", "").strip(), qty=abs(to_int(row.get("주문수량", ""))),
            price=to_price(row.get("주문가격", "")),
            unfilled=abs(to_int(row.get("미체결수량", ""))), cum_qty=cum_qty,
            cum_amount=abs(to_int(amount)) if amount not in (None, "") else None,
            avg_fill_price=to_price(row.get("체결가", "")),
            hhmmss=(row.get("시간") or row.get("주문시간") or "").strip(),
            market="시장가" in row.get("매매구분", "")))
    return out
