"""Market data: books kept consistent, candles without holes across reconnects."""

from __future__ import annotations

import asyncio

from engine.models import (
    Bar,
    BarUpdate,
    ConnectionState,
    ConnectionStateChanged,
    DataQualityEvent,
    OrderBook,
    Tick,
)
from tests.brokers.ccxt.fake_binance import LINEAR, SPOT
from tests.brokers.ccxt.fake_binance.venue import MINUTE_MS
from tests.brokers.ccxt.harness import Adapter, run, until

S = ConnectionState


def best(book: OrderBook) -> tuple[float, float]:
    return book.bids[0].price, book.asks[0].price


def test_book_follows_the_diff_stream_on_spot_and_futures():
    async def scenario():
        async with Adapter(markets=["spot", "linear"], keys=False) as h:
            await h.broker.subscribe_order_book(["BTC/USDT", "BTC/USDT:USDT"], depth=2)
            await until(lambda: len(h.record.of(OrderBook)) >= 2)
            h.fake.venue.update_levels(SPOT, "BTCUSDT", bids=[("60000.00", "0.7")])
            h.fake.venue.update_levels(LINEAR, "BTCUSDT", asks=[("60001.0", "0")])
            await until(lambda: any(b.symbol == "BTC/USDT" and b.bids[0].price == 60000.0
                                    for b in h.record.of(OrderBook)))
            await until(lambda: any(b.symbol == "BTC/USDT:USDT" and b.asks[0].price == 60002.0
                                    for b in h.record.of(OrderBook)))
            return h, h.broker.state

    h, state = run(scenario())
    spot = [b for b in h.record.of(OrderBook) if b.symbol == "BTC/USDT"][-1]
    perp = [b for b in h.record.of(OrderBook) if b.symbol == "BTC/USDT:USDT"][-1]
    assert best(spot) == (60000.0, 60001.0) and spot.bids[0].size == 0.7
    assert len(spot.bids) == 2 and len(spot.asks) == 2  # the requested depth
    assert best(perp) == (59999.0, 60002.0)
    connected = [e for e in h.record.of(ConnectionStateChanged) if e.state is S.CONNECTED]
    assert state is S.CONNECTED and "market data only" in connected[-1].detail


def test_crossed_or_gapped_books_are_reported_and_resubscribed():
    async def scenario():
        async with Adapter(keys=False) as h:
            await h.broker.subscribe_order_book(["BTC/USDT"])
            await until(lambda: h.record.of(OrderBook))
            snapshots = h.fake.count("GET", "/api/v3/depth")
            h.fake.inject_depth(SPOT, "BTCUSDT", bids=[("60005.00", "1")])  # a corrupt message
            await until(lambda: h.fake.count("GET", "/api/v3/depth") == snapshots + 1,
                        what="a new snapshot after the crossed book")
            h.fake.venue.books[(SPOT, "BTCUSDT")].update_id += 1  # one update id skipped
            h.fake.venue.update_levels(SPOT, "BTCUSDT", asks=[("60000.50", "2")])
            await until(lambda: h.fake.count("GET", "/api/v3/depth") == snapshots + 2,
                        what="a new snapshot after the gap")
            await until(lambda: best(h.record.of(OrderBook)[-1]) == (59999.0, 60000.5))
            return h

    h = run(scenario())
    kinds = [e.kind for e in h.record.of(DataQualityEvent)]
    assert kinds == ["crossed_book", "book_gap"]
    assert not any(b.is_crossed for b in h.record.of(OrderBook))


def test_a_stale_book_is_resubscribed():
    async def scenario():
        async with Adapter(keys=False, book_stale_s=0.3) as h:
            await h.broker.subscribe_order_book(["BTC/USDT"])
            await until(lambda: h.record.of(OrderBook))
            await until(lambda: h.fake.count("GET", "/api/v3/depth") >= 2, timeout=4,
                        what="a resubscription of the silent book")
            return h

    h = run(scenario())
    assert [e.kind for e in h.record.of(DataQualityEvent)][:1] == ["stale_book"]


def test_reconnect_after_a_dropped_socket_recovers_the_book_and_backfills_every_candle():
    async def scenario():
        async with Adapter(keys=False, backfill_bars=3) as h:
            venue = h.fake.venue
            for price in ("60010", "60020", "60030", "60040"):  # history before we look
                venue.external_trade(SPOT, "BTCUSDT", "BUY", "0.1", price)
                venue.roll_bar()
            await h.broker.subscribe_order_book(["BTC/USDT"])
            await h.broker.subscribe_bars(["BTC/USDT"], "1m")
            await h.broker.subscribe_ticks(["BTC/USDT"])
            await until(lambda: len(h.record.of(Bar)) == 3, what="the start back-fill")
            venue.external_trade(SPOT, "BTCUSDT", "SELL", "0.2", "60050")
            venue.roll_bar()
            await until(lambda: len(h.record.of(Bar)) == 4, what="a live bar")
            # The network goes away: sockets cut, new ones refused for a while.
            h.fake.faults.refuse_ws = True
            h.fake.drop_ws()
            await until(lambda: h.broker.state is S.RECONNECTING, what="RECONNECTING")
            for price in ("60060", "60070", "60080"):
                venue.external_trade(SPOT, "BTCUSDT", "BUY", "0.3", price)
                venue.roll_bar()
            venue.update_levels(SPOT, "BTCUSDT", bids=[("60070.00", "4")],
                                asks=[("60001.00", "0"), ("60002.00", "0"), ("60010.00", "0"),
                                      ("60090.00", "2")])
            await asyncio.sleep(0.3)
            h.fake.faults.refuse_ws = False
            await until(lambda: h.broker.state is S.CONNECTED, timeout=5, what="CONNECTED")
            await until(lambda: len(h.record.of(Bar)) == 7, what="the back-filled bars")
            await until(lambda: best(h.record.of(OrderBook)[-1]) == (60070.0, 60090.0),
                        what="the book as it is now")
            venue.external_trade(SPOT, "BTCUSDT", "BUY", "0.1", "60090")
            venue.roll_bar()
            await until(lambda: len(h.record.of(Bar)) == 8, what="live bars again")
            await asyncio.sleep(0.1)
            return h, venue

    h, venue = run(scenario())
    bars = h.record.of(Bar)
    starts = [b.ts_ns // 1_000_000 for b in bars]
    assert starts == sorted(set(starts))  # no duplicate, in order
    assert all(b - a == MINUTE_MS for a, b in zip(starts, starts[1:], strict=False))  # no hole
    closes = [b.close for b in bars]
    assert closes == [60020.0, 60030.0, 60040.0, 60050.0, 60060.0, 60070.0, 60080.0, 60090.0]
    assert bars[-1].volume == 0.1
    assert h.record.states() == [S.CONNECTING, S.CONNECTED, S.RECONNECTING, S.CONNECTED,
                                 S.DISCONNECTED]
    updates = h.record.of(BarUpdate)
    assert updates and all(u.bar.ts_ns // 1_000_000 > s for u, s in
                           zip(updates[-1:], starts[-1:], strict=False))
    ticks = [t.trade_id for t in h.record.of(Tick)]
    assert len(ticks) == len(set(ticks))  # no tick twice after the reconnect


def test_each_environment_talks_to_its_own_hosts_and_live_needs_live_true():
    async def visit(**settings):
        async with Adapter(**settings) as h:
            await h.broker.subscribe_order_book([h.broker.config.symbols[0]])
            await until(lambda: h.record.of(OrderBook))
            return h.fake.hosts_seen(), h.broker.live

    testnet, live_flag = run(visit(symbols=["BTC/USDT"]))
    assert testnet == {"testnet.binance.vision", "stream.testnet.binance.vision",
                       "ws-api.testnet.binance.vision"} and not live_flag
    demo, live_flag = run(visit(markets=["linear"], symbols=["BTC/USDT:USDT"]))
    assert demo == {"demo-fapi.binance.com", "fstream.binancefuture.com"} and not live_flag
    live, live_flag = run(visit(live=True, symbols=["BTC/USDT"]))
    assert live == {"api.binance.com", "stream.binance.com", "ws-api.binance.com"}
    assert live_flag


def test_fetch_bars_returns_closed_candles_as_an_ohlcv_frame():
    async def scenario():
        async with Adapter(keys=False) as h:
            venue = h.fake.venue
            start = venue.candles[(SPOT, "BTCUSDT")][0].t
            for price in ("60010", "60020", "60030"):
                venue.external_trade(SPOT, "BTCUSDT", "BUY", "0.25", price)
                venue.roll_bar()
            everything = await h.broker.fetch_bars("BTC/USDT", "1m")
            window = await h.broker.fetch_bars("BTC/USDT", "1m", (start + MINUTE_MS) * 10**6,
                                               (start + 3 * MINUTE_MS) * 10**6)
            return everything, window, start

    everything, window, start = run(scenario())
    assert list(everything.columns) == ["open", "high", "low", "close", "volume"]
    assert everything.index.name == "time" and str(everything.index.tz) == "UTC"
    assert list(everything["close"]) == [60010.0, 60020.0, 60030.0]  # not the forming one
    assert list(everything["volume"]) == [0.25, 0.25, 0.25]
    assert [int(t.value // 10**6) for t in window.index] == [start + MINUTE_MS,
                                                             start + 2 * MINUTE_MS]


def test_subscriptions_made_before_connect_start_with_it():
    async def scenario():
        async with Adapter(keys=False, connect=False) as h:
            await h.broker.subscribe_order_book(["BTC/USDT", "NOPE/USDT"])
            await h.broker.subscribe_bars(["BTC/USDT"], "1m")
            await h.broker.connect()
            await until(lambda: h.record.of(OrderBook) and h.record.of(BarUpdate))
            return h

    h = run(scenario())
    quality = h.record.of(DataQualityEvent)
    assert [(q.kind, q.symbol) for q in quality] == [("unknown_symbol", "NOPE/USDT")]
    assert {b.symbol for b in h.record.of(OrderBook)} == {"BTC/USDT"}
