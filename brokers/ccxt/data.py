"""Market data streams: order books, trades, candles, and USD-M funding.

* Books: ``watch_order_book`` (ccxt keeps the book from a REST snapshot plus
  the diff stream and checks the update-id sequence; a gap raises
  ``ChecksumError`` and the next watch resubscribes). The adapter adds two
  checks of its own: a crossed book (best bid >= best ask) or a book that
  stopped updating for ``book_stale_s`` is a ``DataQualityEvent`` and the
  stream's socket is closed, which makes ccxt resubscribe and take a fresh
  snapshot. The top ``book_depth`` levels are published as ``OrderBook``.
* Trades: ``watch_trades`` on Binance's ``aggTrade`` stream (spot and USD-M)
  -> ``Tick``. After every reconnect, once the socket is subscribed again, the
  prints made while it was down are fetched with ``fetch_trades`` (``aggTrades``,
  the same id space) and published first, oldest first; a print that arrives
  both over REST and over the socket is published once (see ``backfill.py``).
  A hole too big for the back-fill budget is a ``tick_gap`` DataQualityEvent
  naming the ids and count that were not recovered.
* Candles: ``watch_ohlcv`` -> ``BarUpdate`` for the forming candle and ``Bar``
  once it is closed (Binance's kline ``x`` flag, read through the tap, or the
  next candle starting). On start and after every reconnect the closed candles
  since the last published one are fetched over REST first, so the sequence of
  ``Bar`` events has no hole and no duplicate.
* Funding (USD-M): the rate (``premiumIndex``) is polled and published as
  ``FundingRate``; payments (``income`` FUNDING_FEE) as ``FundingPayment``,
  once each, also right after an ``ACCOUNT_UPDATE`` says one happened.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pandas as pd

from brokers.ccxt.backfill import (
    TapeState,
    as_int,
    by_id,
    fetch_missed,
    in_order,
    latest_id,
)
from brokers.ccxt.config import LINEAR
from brokers.ccxt.errors import reason
from brokers.ccxt.events import FundingPayment
from brokers.ccxt.streams import Stream, StreamReset
from engine.execution.broker import BrokerError, BrokerUnavailable
from engine.models import (
    Bar,
    BarUpdate,
    BookLevel,
    DataQualityEvent,
    FundingRate,
    OrderBook,
    Side,
    Tick,
    Timeframe,
)

if TYPE_CHECKING:
    from brokers.ccxt.broker import CcxtBroker

log = logging.getLogger(__name__)

MS = 1_000_000
OHLCV = ["open", "high", "low", "close", "volume"]
PAGE = 1000


@dataclass
class BarState:
    symbol: str
    timeframe: str
    tf_ms: int
    key: tuple[str, str, str]  # (kind, market id, interval) as the tap sees klines
    last_closed: int = -1  # open time (ms) of the last Bar published
    forming: list[Any] | None = None


class MarketData:
    def __init__(self, broker: CcxtBroker) -> None:
        self.b = broker
        self.wanted: dict[str, tuple[str, Any]] = {}  # stream name -> (kind, argument)
        self.streams: dict[str, Stream] = {}
        self.book_depth: dict[str, int] = {}
        self.book_nonce: dict[str, int] = {}
        self.book_seen: dict[str, float] = {}
        self._book_clients: dict[str, Any] = {}
        self._last_book: dict[str, OrderBook] = {}
        self.books_published = 0
        self.resyncs = 0
        self.bars: dict[str, BarState] = {}
        self.kline_closed: dict[tuple[str, str, str], int] = {}
        self.tapes: dict[str, TapeState] = {}
        # Tick back-fill budget after a reconnect: pages of ``tick_page`` prints, and time.
        self.tick_page = PAGE
        self.tick_pages = 10
        self.tick_backfill_s = 10.0
        self.quality: Counter[str] = Counter()
        self.funding_symbols: set[str] = set()
        self.payments_seen: set[str] = set()
        self.last_income_ms = 0
        self.funding_wakeup = asyncio.Event()

    # ---- subscriptions ------------------------------------------------------------------
    # Subscriptions made before ``connect`` are remembered and start with it; symbols are
    # checked against the venue's markets as soon as they are known.
    async def subscribe_order_book(self, symbols: Iterable[str], depth: int) -> None:
        for symbol in symbols:
            self._check(symbol)
            self.book_depth[symbol] = depth
            self._want(f"book|{symbol}", "book", symbol)

    async def subscribe_ticks(self, symbols: Iterable[str]) -> None:
        for symbol in symbols:
            self._check(symbol)
            self._want(f"trades|{symbol}", "trades", symbol)

    async def subscribe_bars(self, symbols: Iterable[str], timeframe: str) -> None:
        tf = self._timeframe(timeframe)
        for symbol in symbols:
            self._check(symbol)
            self._want(f"bars|{symbol}|{tf.name}", "bars", symbol)

    def _check(self, symbol: str) -> None:
        if self.b.exchange is not None:
            self.b.market(symbol)  # BrokerUnavailable naming the symbol

    async def unsubscribe(self, symbols: Iterable[str]) -> None:
        gone = set(symbols)
        for name in [n for n in self.wanted if n.split("|")[1] in gone]:
            self.wanted.pop(name, None)
            stream = self.streams.pop(name, None)
            if stream is not None:
                await stream.stop()
        self.funding_symbols -= gone
        for symbol in gone:
            self.tapes.pop(symbol, None)  # a later subscription starts a new tape

    def _want(self, name: str, kind: str, symbol: str) -> None:
        self.wanted[name] = (kind, symbol)
        if self.b.streaming and name not in self.streams:
            self._start(name)

    def start_all(self) -> None:
        for name in list(self.wanted):
            if name not in self.streams:
                self._start(name)

    async def stop_all(self) -> None:
        streams, self.streams = list(self.streams.values()), {}
        await asyncio.gather(*(s.stop() for s in streams), return_exceptions=True)

    def _start(self, name: str) -> None:
        kind, symbol = self.wanted[name]
        try:
            market = self.b.market(symbol)
        except BrokerUnavailable as exc:
            self.wanted.pop(name, None)
            self._quality("unknown_symbol", symbol, f"not subscribed: {exc}")
            return
        if self.b.kind_of(symbol) == LINEAR:
            self.funding_symbols.add(symbol)
        if kind == "bars":
            tf = self._timeframe(name.split("|")[2])
            if name not in self.bars:
                self.bars[name] = BarState(symbol, tf.name, tf.seconds * 1000,
                                           (self.b.kind_of(symbol), market["id"], tf.name))
            topic = f"ohlcv::{symbol}::{tf.name}"
        else:
            topic = f"orderbook::{symbol}" if kind == "book" else f"trade::{symbol}"

        async def step(recovering: bool) -> None:
            if kind == "bars":
                await self._bars_step(self.bars[name], recovering)
            elif kind == "book":
                await self._book_step(symbol, recovering)
            else:
                await self._trades_step(symbol, recovering)

        stream = Stream(name, step, self.b.health, self.b.new_backoff(),
                        describe=lambda exc: reason(exc, self.b.credentials),
                        on_error=self._stream_error,
                        before_retry=self.b.clear_dial_backoff,
                        probe=lambda: self.b.socket_open(topic))
        self.streams[name] = stream
        stream.start()

    def _stream_error(self, name: str, exc: BaseException) -> None:
        import ccxt  # local: only for the isinstance check

        if isinstance(exc, ccxt.ChecksumError):
            self._quality("book_gap", name.split("|")[1], "order book update ids skipped; "
                          "resubscribed for a fresh snapshot")

    # ---- books --------------------------------------------------------------------------
    async def _book_step(self, symbol: str, recovering: bool) -> None:
        book = await self._next_book(symbol, recovering)
        self.book_seen[symbol] = time.monotonic()
        bids, asks = book["bids"], book["asks"]
        if bids and asks and bids[0][0] >= asks[0][0]:
            self._quality("crossed_book", symbol, f"best bid {bids[0][0]} >= best ask "
                          f"{asks[0][0]}; resubscribed for a fresh snapshot")
            await self.resync(symbol)
            raise StreamReset(symbol)
        depth = self.book_depth.get(symbol, self.b.config.book_depth)
        ts = book.get("timestamp")
        self.book_nonce[symbol] = book.get("nonce") or 0  # before publishing: benchmarks read it
        last = self._last_book.get(symbol)
        record = OrderBook(symbol, ts * MS if ts else self.b.clock.now_ns(),
                           _levels(bids, depth, last.bids if last else ()),
                           _levels(asks, depth, last.asks if last else ()))
        self._last_book[symbol] = record
        self.b.bus.publish(record)
        self.books_published += 1

    async def _next_book(self, symbol: str, recovering: bool) -> Any:
        """The book after its next update.

        ``watch_order_book`` rebuilds its whole subscription request on every call (about
        a tenth of a millisecond); once subscribed, what it awaits is the client's future
        for ``orderbook::<symbol>``, so the adapter awaits that future itself and goes
        through ``watch_order_book`` only to (re)subscribe: at the start, after any error
        and whenever the socket it knew is gone.
        """
        ex = self.b.exchange
        topic = f"orderbook::{symbol}"
        client = None if recovering else self._book_clients.get(symbol)
        if client is not None and ex.clients.get(client.url) is client and not client.closed() \
                and topic in client.subscriptions and symbol in ex.orderbooks:
            return await client.future(topic)
        book = await ex.watch_order_book(symbol)
        self._book_clients[symbol] = next((c for c in list(ex.clients.values())
                                           if topic in c.subscriptions), None)
        return book

    async def resync(self, symbol: str) -> None:
        """Close the socket carrying ``symbol``'s book: ccxt resubscribes with a new snapshot."""
        import ccxt

        ex = self.b.exchange
        self.resyncs += 1
        for url, client in list(ex.clients.items()):
            if f"orderbook::{symbol}" in client.subscriptions:
                # An error set first keeps ccxt's on_close from deleting whichever client
                # holds this URL by then (it deletes by URL, not by identity).
                client.error = ccxt.NetworkError(f"resynchronising the {symbol} book")
                ex.clients.pop(url, None)
                await client.close()
        ex.orderbooks.pop(symbol, None)
        self._book_clients.pop(symbol, None)

    def check_stale(self) -> None:
        limit = self.b.config.book_stale_s
        if not limit:
            return
        now = time.monotonic()
        for name, stream in list(self.streams.items()):
            if not name.startswith("book|") or stream.failures:
                continue
            symbol = name.split("|")[1]
            seen = self.book_seen.get(symbol)
            if seen is not None and now - seen > limit:
                self.book_seen[symbol] = now
                self._quality("stale_book", symbol, f"no book update for {limit:g} s; "
                              "resubscribed")
                asyncio.get_running_loop().create_task(self.resync(symbol))

    # ---- trades -------------------------------------------------------------------------
    async def _trades_step(self, symbol: str, recovering: bool) -> None:
        ex = self.b.exchange
        tape = self.tapes.setdefault(symbol, TapeState())
        # aggTrade on spot too: the socket's ids are then the ids REST back-fills by.
        if not recovering:
            if self._drain(symbol, tape):
                return
            self._deliver(symbol, tape, await ex.watch_trades(symbol, None, None,
                                                              {"name": "aggTrade"}))
            return
        watch = ex.watch_trades(symbol, None, None, {"name": "aggTrade"})
        task = asyncio.ensure_future(watch)
        try:
            # Subscribed first, then REST: a print made in between arrives on the socket.
            while not task.done() and not self.b.socket_open(f"trade::{symbol}"):
                await asyncio.wait({task}, timeout=0.01)
            if tape.since_ms is None:
                tape.since_ms = self.b.clock.now_ns() // MS  # nothing to catch up on yet
            elif not task.done() or (not task.cancelled() and task.exception() is None):
                await self._recover_ticks(symbol, tape)  # (not when the watch just failed)
            trades = await task
        finally:
            if not task.done():
                task.cancel()
        live = by_id(trades)
        first = as_int(live[0]["id"]) if live else None
        if first is not None and tape.last_id >= 0 and first > tape.last_id + 1:
            # The socket's first print is not the next one: prints fell between the REST
            # answer and the subscription taking effect (aggregate ids are consecutive).
            await self._recover_ticks(symbol, tape, until_id=first)
        self._deliver(symbol, tape, trades)

    def _drain(self, symbol: str, tape: TapeState) -> bool:
        """Deliver prints ccxt cached while nobody was watching; True if there were any.

        ccxt wakes a watcher only if one is waiting when a message arrives: a print that
        lands between two ``watch_trades`` calls would otherwise wait for the next print.
        """
        cached = (self.b.exchange.trades or {}).get(symbol)
        if not cached or (as_int(cached[-1].get("id")) or -1) <= tape.last_id:
            return False
        fresh = []
        for t in reversed(cached):
            if (as_int(t.get("id")) or -1) <= tape.last_id:
                break
            fresh.append(t)
        self._deliver(symbol, tape, fresh)
        return True

    async def _recover_ticks(self, symbol: str, tape: TapeState,
                             until_id: int | None = None) -> None:
        """Publish the prints after the watermark over REST; report what the budget left."""
        import ccxt

        ex = self.b.exchange
        after = tape.last_id
        try:
            got = await fetch_missed(ex, symbol, after_id=after, since_ms=tape.since_ms,
                                     now_ms=self.b.clock.now_ns() // MS, until_id=until_id,
                                     page=self.tick_page, max_pages=self.tick_pages,
                                     max_seconds=self.tick_backfill_s)
        except ccxt.NetworkError:
            raise  # the stream retries (with backoff) and back-fills again from the watermark
        except Exception as exc:
            self._quality("tick_gap", symbol, "prints missed while disconnected could not be "
                          f"fetched: {reason(exc, self.b.credentials)}")
            return
        self._deliver(symbol, tape, got.trades)
        if got.trades:
            log.info("%s: %d trade print(s) back-filled over REST in %d page(s)", symbol,
                     len(got.trades), got.pages)
        if got.complete:
            return
        end = until_id - 1 if until_id is not None else await latest_id(ex, symbol)
        if end is None or end <= tape.last_id:
            return
        start = tape.last_id + 1
        tape.skip_to(end)
        self._quality("tick_gap", symbol, f"{end - start + 1} trade print(s) (ids {start}.."
                      f"{end}) not recovered: more than {got.pages} page(s) of "
                      f"{self.tick_page} were missed")

    def _deliver(self, symbol: str, tape: TapeState, trades: Any) -> None:
        """Publish each print not delivered before, as a ``Tick``, in id order."""
        for t in in_order(trades) if len(trades) > 1 else trades:
            tid = str(t.get("id"))
            if not tape.accept(tid):
                continue
            price, size = t.get("price"), t.get("amount")
            if not price or not size or price <= 0 or size <= 0:
                self._quality("bad_trade", symbol, f"trade {t.get('id')} has price {price} "
                              f"and size {size}")
                continue
            ts = int(t["timestamp"])
            tape.last_ms = max(tape.last_ms, ts)
            self.b.bus.publish(Tick(symbol, ts * MS, float(price), float(size),
                                    aggressor=Side.BUY if t.get("side") == "buy" else Side.SELL,
                                    trade_id=tid))

    # ---- candles ------------------------------------------------------------------------
    def on_kline(self, kind: str, payload: dict[str, Any]) -> None:
        """Raw kline event (tap): remember which candle Binance says is closed."""
        k = payload.get("k") or {}
        if k.get("x"):
            key = (kind, str(k.get("s")), str(k.get("i")))
            self.kline_closed[key] = max(self.kline_closed.get(key, -1), int(k.get("t", -1)))

    async def _bars_step(self, st: BarState, recovering: bool) -> None:
        candles = await self.b.exchange.watch_ohlcv(st.symbol, st.timeframe)
        if recovering:
            await self._backfill(st)
        closed = self.kline_closed.get(st.key, -1)
        for c in sorted(candles, key=lambda row: row[0]):
            ts = int(c[0])
            if ts <= st.last_closed:
                continue
            if st.forming is not None and ts > int(st.forming[0]):
                self._close(st, st.forming)
            st.forming = list(c)
            if ts <= closed:
                self._close(st, c)
            else:
                bar = self._bar(st, c)
                if bar is not None:
                    self.b.bus.publish(BarUpdate(bar))

    async def _backfill(self, st: BarState) -> None:
        ex = self.b.exchange
        if st.last_closed < 0:
            if not self.b.config.backfill_bars:
                return
            rows = await ex.fetch_ohlcv(st.symbol, st.timeframe, None,
                                        self.b.config.backfill_bars + 1)
        else:
            rows, since = [], st.last_closed + st.tf_ms
            while True:
                page = await ex.fetch_ohlcv(st.symbol, st.timeframe, since, PAGE)
                rows += page
                if len(page) < PAGE:
                    break
                since = int(page[-1][0]) + st.tf_ms
        if not rows:
            return
        missed = [r for r in rows[:-1] if int(r[0]) > st.last_closed]
        if missed and st.last_closed >= 0:
            log.info("%s %s: %d closed candle(s) back-filled over REST", st.symbol,
                     st.timeframe, len(missed))
        for row in missed:
            self._close(st, row)
        if int(rows[-1][0]) > st.last_closed:
            st.forming = list(rows[-1])  # Binance's last kline is the one still forming

    def _close(self, st: BarState, c: list[Any]) -> None:
        ts = int(c[0])
        if ts <= st.last_closed:
            return
        st.last_closed = ts
        if st.forming is not None and int(st.forming[0]) <= ts:
            st.forming = None
        bar = self._bar(st, c)
        if bar is not None:
            self.b.bus.publish(bar)

    def _bar(self, st: BarState, c: list[Any]) -> Bar | None:
        try:
            o, h, lo, cl, v = (float(x) for x in c[1:6])
        except (TypeError, ValueError):
            self._quality("bad_candle", st.symbol, f"candle {c[0]} has missing values")
            return None
        if not (lo <= min(o, cl) and max(o, cl) <= h and lo > 0 and v >= 0):
            self._quality("bad_candle", st.symbol, f"candle {c[0]} is not consistent: "
                          f"o={o} h={h} l={lo} c={cl} v={v}")
            return None
        return Bar(st.symbol, st.timeframe, int(c[0]) * MS, o, h, lo, cl, v)

    def _timeframe(self, timeframe: str) -> Timeframe:
        try:
            tf = Timeframe.parse(timeframe)
        except ValueError as exc:
            raise BrokerUnavailable(str(exc)) from None
        ex = self.b.exchange
        supported = getattr(ex, "timeframes", None) or {}
        if supported and tf.name not in supported:
            raise BrokerUnavailable(f"Binance has no {tf.name} candles; it has "
                                    f"{', '.join(supported)}")
        return tf

    async def fetch_bars(self, symbol: str, timeframe: str, start_ns: int | None,
                         end_ns: int | None) -> pd.DataFrame:
        tf = self._timeframe(timeframe)
        self.b.market(symbol)
        ex = self.b.exchange
        tf_ms = tf.seconds * 1000
        since = start_ns // MS if start_ns is not None else None
        rows: list[list[Any]] = []
        try:
            while True:
                page = await ex.fetch_ohlcv(symbol, tf.name, since, PAGE)
                rows += page
                if len(page) < PAGE or since is None:
                    break
                since = int(page[-1][0]) + tf_ms
                if end_ns is not None and since * MS >= end_ns:
                    break
        except Exception as exc:
            raise BrokerError(f"{self.b.name}: fetching {symbol} {tf.name} candles failed: "
                              f"{reason(exc, self.b.credentials)}") from None
        if rows and end_ns is None:
            rows = rows[:-1]  # the last one is still forming
        if end_ns is not None:
            rows = [r for r in rows if int(r[0]) * MS < end_ns]
        index = pd.DatetimeIndex(pd.to_datetime([int(r[0]) for r in rows], unit="ms", utc=True),
                                 name="time")
        frame = pd.DataFrame([[float(x) for x in r[1:6]] for r in rows], columns=OHLCV,
                             index=index, dtype="float64")
        return frame[~frame.index.duplicated(keep="last")].sort_index()

    # ---- funding ------------------------------------------------------------------------
    async def funding_loop(self) -> None:
        while True:
            if self.funding_symbols:
                try:
                    await self.poll_funding()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning("funding poll failed: %s", reason(exc, self.b.credentials))
            try:
                await asyncio.wait_for(self.funding_wakeup.wait(), self.b.config.funding_poll_s)
            except TimeoutError:
                pass
            self.funding_wakeup.clear()

    async def poll_funding(self) -> None:
        ex = self.b.exchange
        for symbol in sorted(self.funding_symbols):
            rate = await ex.fetch_funding_rate(symbol)
            next_ts = rate.get("fundingTimestamp") or rate.get("nextFundingTimestamp") or 0
            self.b.bus.publish(FundingRate(symbol, float(rate.get("fundingRate") or 0.0),
                                           int(rate.get("timestamp") or 0) * MS
                                           or self.b.clock.now_ns(), int(next_ts) * MS))
        if not self.b.can_trade:
            return
        since = self.last_income_ms + 1 if self.last_income_ms else None
        for row in await ex.fetch_funding_history(None, since):
            info = row.get("info") or {}
            pid = str(info.get("tranId") or row.get("id"))
            ts = int(info.get("time") or row.get("timestamp") or 0)
            self.last_income_ms = max(self.last_income_ms, ts)
            if pid in self.payments_seen:
                continue
            self.payments_seen.add(pid)
            self.b.bus.publish(FundingPayment(
                self.b.name, self.b.symbol_for(LINEAR, str(info.get("symbol"))),
                Decimal(str(info.get("income", row.get("amount") or 0))),
                str(info.get("asset") or row.get("code") or ""), ts * MS, pid))

    # ---- data quality -------------------------------------------------------------------
    def _quality(self, kind: str, symbol: str, message: str) -> None:
        self.quality[kind] += 1
        log.warning("%s %s: %s", self.b.name, symbol, message)
        self.b.bus.publish(DataQualityEvent(kind, symbol, message, self.b.clock.now_ns(),
                                            self.quality[kind]))


def _levels(side: Any, depth: int, previous: tuple[BookLevel, ...]) -> tuple[BookLevel, ...]:
    """The top ``depth`` levels, reusing the previous record's unchanged ones (cheaper than
    building a frozen record per level per update)."""
    out = []
    n = len(previous)
    for i, level in enumerate(side[:depth]):
        price, size = level[0], level[1]
        if i < n:
            old = previous[i]
            if old.price == price and old.size == size:
                out.append(old)
                continue
        out.append(BookLevel(price, size))
    return tuple(out)
