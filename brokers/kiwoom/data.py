"""Kiwoom market data: real-time registration, ticks, books, bars, and history.

Ticks come from 주식체결 (FIDs 20, 10, 15, 13 registered), books from
주식호가잔량 (21, 41-80). Real types nobody registered (장시작시간, 주식우선호가
...) arrive too; they are logged and counted, never a crash. Bars are built
from the ticks by the engine's ``BarAggregator`` on the XKRX calendar, so a
quiet market still closes its bars (flushed every second by the clock).

History: opt10080 (minutes) and opt10081 (days) page backwards with prevNext=2
until the requested start is covered; ``backfill`` writes the result to storage.
Every registration is remembered, so a restarted bridge gets the same streams.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

import pandas as pd

from brokers.kiwoom import parsing
from brokers.kiwoom.protocol import REAL_KEYS
from engine.data.bars import BarAggregator
from engine.execution.broker import BrokerError
from engine.models import BarUpdate, DataQualityEvent, Timeframe

if TYPE_CHECKING:
    from engine.bus import EventBus
    from engine.clock import Clock, Timer

log = logging.getLogger(__name__)

TRADE_FIDS = (20, 10, 15, 13)
BOOK_FIDS = (21, 41, 51, 61, 71)
MINUTE_RANGES = (1, 3, 5, 10, 15, 30, 45, 60)
MAX_HISTORY_PAGES = 200

Request = Callable[..., Awaitable[dict[str, Any]]]


class KiwoomMarketData:
    def __init__(self, name: str, bus: EventBus, clock: Clock, request: Request) -> None:
        self.name = name
        self.bus = bus
        self.clock = clock
        self.request = request
        self.tick_codes: set[str] = set()
        self.book_codes: set[str] = set()
        self.book_depth: dict[str, int] = {}
        self.aggregators: dict[str, list[BarAggregator]] = {}
        self.malformed: Counter[str] = Counter()
        self.unregistered: Counter[str] = Counter()
        self.market_status = ""
        self._levels: parsing.LevelCache = {}  # raw level strings -> BookLevel, all stocks
        self.latency_ns: deque[int] | None = None  # set by benchmarks: bridge -> bus delivery
        self._flush_timer: Timer | None = None
        self._reported: set[str] = set()

    # ---- registration -----------------------------------------------------------------
    async def subscribe_ticks(self, symbols: Iterable[str]) -> None:
        codes = [s for s in dict.fromkeys(symbols) if s not in self.tick_codes]
        if codes:
            await self.request("real_reg", {"codes": codes, "fids": list(TRADE_FIDS)})
            self.tick_codes.update(codes)

    async def subscribe_order_book(self, symbols: Iterable[str], depth: int = 10) -> None:
        if not 1 <= depth <= 10:
            raise BrokerError(f"Kiwoom order books have 1 to 10 levels, asked for {depth}")
        codes = [s for s in dict.fromkeys(symbols) if s not in self.book_codes]
        if codes:
            await self.request("real_reg", {"codes": codes, "fids": list(BOOK_FIDS)})
            self.book_codes.update(codes)
        for code in dict.fromkeys(symbols):
            self.book_depth[code] = depth

    async def subscribe_bars(self, symbols: Iterable[str], timeframe: str = "1m") -> None:
        tf = Timeframe.parse(timeframe)
        symbols = list(dict.fromkeys(symbols))
        await self.subscribe_ticks(symbols)
        for code in symbols:
            aggs = self.aggregators.setdefault(code, [])
            if any(a.timeframe == tf.name for a in aggs):
                continue
            aggs.append(BarAggregator(code, tf, "XKRX", on_bar=self.bus.publish,
                                      on_update=lambda bar: self.bus.publish(BarUpdate(bar)),
                                      on_quality=self.bus.publish))
        if self._flush_timer is None:
            self._flush_timer = self.clock.every(1_000_000_000, self.flush, name="kiwoom bars")

    def flush(self, now_ns: int) -> None:
        for aggs in self.aggregators.values():
            for agg in aggs:
                agg.flush(now_ns)

    async def unsubscribe(self, symbols: Iterable[str]) -> None:
        codes = list(dict.fromkeys(symbols))
        if codes:
            await self.request("real_remove", {"codes": codes})
        for code in codes:
            self.tick_codes.discard(code)
            self.book_codes.discard(code)
            self.book_depth.pop(code, None)
            self.aggregators.pop(code, None)

    async def resubscribe(self) -> None:
        """After a bridge restart: register every stream again."""
        if self.tick_codes:
            await self.request("real_reg", {"codes": sorted(self.tick_codes),
                                            "fids": list(TRADE_FIDS)})
        if self.book_codes:
            await self.request("real_reg", {"codes": sorted(self.book_codes),
                                            "fids": list(BOOK_FIDS)})

    def close(self) -> None:
        if self._flush_timer is not None:
            self._flush_timer.cancel()
            self._flush_timer = None

    # ---- real-time events (called in the client's reader; never awaits) ----------------
    def on_real(self, msg: dict[str, Any]) -> None:
        real_type = msg.get("rt", "")
        code = str(msg.get("c", ""))
        # Values in the order of protocol.REAL_FIDS[real_type] (or {fid: value}): the
        # parsers of ticks and books read either, the rare types take a dict.
        fields = msg.get("f") or {}
        if real_type == "주식체결":
            self._on_trade(code, fields, msg.get("bt"))
            return
        if real_type == "주식호가잔량":
            self._on_book(code, fields, msg.get("bt"))
            return
        if type(fields) is list:
            fields = dict(zip(REAL_KEYS.get(real_type, ()), fields, strict=False))
        if real_type == "장시작시간":
            # 215: 0 before the open, 3 open, 2 closing auction, 4 closed (and others).
            self.market_status = str(fields.get("215", "")).strip()
            log.info("Kiwoom market operation status %s at %s", self.market_status,
                     fields.get("20", ""))
        else:
            self.unregistered[real_type] += 1
            if self.unregistered[real_type] == 1:
                log.info("Kiwoom sent real type %r that nothing here uses; ignored", real_type)

    def _on_trade(self, code: str, fields: parsing.RealFields, bridge_ns: int | None) -> None:
        if code not in self.tick_codes:
            return
        tick = parsing.trade_tick(code, fields, self.clock.now_ns())
        if tick is None:
            self._malformed("trade", code, fields)
            return
        self.bus.publish(tick)
        for agg in self.aggregators.get(code, ()):
            agg.on_tick(tick)
        if self.latency_ns is not None and bridge_ns:
            self.latency_ns.append(time.time_ns() - int(bridge_ns))

    def _on_book(self, code: str, fields: parsing.RealFields, bridge_ns: int | None) -> None:
        if code not in self.book_codes:
            return
        book = parsing.order_book(code, fields, self.clock.now_ns(),
                                  self.book_depth.get(code, 10), self._levels)
        if book is None:
            self._malformed("book", code, fields)
            return
        self.bus.publish(book)
        if self.latency_ns is not None and bridge_ns:
            self.latency_ns.append(time.time_ns() - int(bridge_ns))

    def _malformed(self, kind: str, code: str, fields: parsing.RealFields) -> None:
        self.malformed[kind] += 1
        if kind not in self._reported:
            self._reported.add(kind)
            log.warning("malformed Kiwoom %s for %s dropped: %r", kind, code, fields)
            self.bus.publish(DataQualityEvent(kind=f"kiwoom_{kind}", symbol=code,
                                              message=f"malformed Kiwoom {kind} record dropped",
                                              ts_ns=self.clock.now_ns()))

    # ---- history ------------------------------------------------------------------------
    async def fetch_bars(self, symbol: str, timeframe: str, start_ns: int | None = None,
                         end_ns: int | None = None, *,
                         max_pages: int = MAX_HISTORY_PAGES) -> pd.DataFrame:
        """opt10081 (1d) or opt10080 (minutes) paged back to ``start_ns``."""
        tf = Timeframe.parse(timeframe)
        if tf.is_daily:
            end_day = parsing.kst_date(end_ns if end_ns is not None else self.clock.now_ns())
            trcode, items = "opt10081", list(parsing.DAILY_ITEMS)
            inputs = {"종목코드": symbol, "기준일자": end_day.strftime("%Y%m%d"),
                      "수정주가구분": "1"}

            def parse(rows: list[dict[str, str]]) -> pd.DataFrame:
                return parsing.daily_bars(rows)
        else:
            minutes = tf.seconds // 60
            if tf.seconds % 60 or minutes not in MINUTE_RANGES:
                raise BrokerError(f"Kiwoom has no {tf.name} history; minute bars come in "
                                  f"{', '.join(f'{m}m' for m in MINUTE_RANGES)} and daily (1d)")
            trcode, items = "opt10080", list(parsing.MINUTE_ITEMS)
            inputs = {"종목코드": symbol, "틱범위": str(minutes), "수정주가구분": "1"}

            def parse(rows: list[dict[str, str]]) -> pd.DataFrame:
                return parsing.minute_bars(rows, minutes)

        frames: list[pd.DataFrame] = []
        prev_next, cont = 0, None
        for _ in range(max_pages):
            reply = await self.request("tr", {"trcode": trcode, "inputs": inputs, "single": [],
                                              "multi": items, "prev_next": prev_next,
                                              "cont": cont})
            frame = parse(parsing.rows_as_dicts(items, reply.get("rows", [])))
            if not frame.empty:
                frames.append(frame)
            oldest = int(frame.index[0].value) if not frame.empty else None
            if reply.get("prev_next") != "2" or frame.empty or \
                    (start_ns is not None and oldest is not None and oldest <= start_ns):
                break
            prev_next, cont = 2, reply.get("cont")
        if not frames:
            return parse([])
        result = pd.concat(frames).sort_index()
        result = result[~result.index.duplicated(keep="last")]
        if start_ns is not None:
            result = result[result.index >= pd.Timestamp(start_ns, unit="ns", tz="UTC")]
        if end_ns is not None:
            result = result[result.index <= pd.Timestamp(end_ns, unit="ns", tz="UTC")]
        return result

    async def backfill(self, symbol: str, timeframe: str, database: Any,
                       start_ns: int | None = None, end_ns: int | None = None) -> int:
        """Fetch history and upsert it into ``database`` (engine.storage); rows written."""
        from engine.storage import upsert_bars

        frame = await self.fetch_bars(symbol, timeframe, start_ns, end_ns)
        if frame.empty:
            return 0
        # SQLite work off the event loop: a long history must not stall the feeds.
        return await asyncio.to_thread(upsert_bars, database, symbol, timeframe, frame, "kiwoom")
