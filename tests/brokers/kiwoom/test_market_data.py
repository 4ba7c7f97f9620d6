"""Quotes, books, bars and history through adapter + bridge + fake control."""

from __future__ import annotations

import pandas as pd
import pytest

from engine.execution.broker import BrokerError
from engine.models import Bar, BarUpdate, OrderBook, Side, Tick
from tests.brokers.kiwoom.harness import SAMSUNG, T0, Harness, run, until

NS = 1_000_000_000


def test_a_quote_stream_becomes_ticks_books_and_bars():
    async def scenario():
        async with Harness() as h:
            await h.broker.subscribe_bars([SAMSUNG], "1m")
            await h.broker.subscribe_order_book([SAMSUNG], depth=5)
            # Others trade: a sell hits the bid, then buys lift the offer; the last print
            # belongs to the next minute and closes the 10:00 bar.
            await h.sim(action="external", code=SAMSUNG, side="sell", qty=7, time="100001")
            await h.sim(action="external", code=SAMSUNG, side="buy", qty=3, time="100030")
            await h.sim(action="external", code=SAMSUNG, side="buy", qty=1_500, time="100059")
            await h.sim(action="external", code=SAMSUNG, side="buy", qty=2, time="100105")
            await until(lambda: h.record.of(Bar), what="the 10:00 bar")
            return h.record

    record = run(scenario())
    ticks = record.of(Tick)
    assert [(t.price, t.size, t.aggressor) for t in ticks[:3]] == [
        (70_900.0, 7.0, Side.SELL), (71_100.0, 3.0, Side.BUY), (71_100.0, 997.0, Side.BUY)]
    assert ticks[0].ts_ns == T0 + 1 * NS and ticks[1].ts_ns == T0 + 30 * NS
    assert len({t.trade_id for t in ticks}) == len(ticks)  # never mistaken for duplicates
    (bar,) = record.of(Bar)
    assert bar.symbol == SAMSUNG and bar.timeframe == "1m" and bar.ts_ns == T0
    assert (bar.open, bar.high, bar.low, bar.close) == (70_900.0, 71_200.0, 70_900.0, 71_200.0)
    assert bar.volume == 1_510.0 and bar.trades == 4  # 7, 3, then 997 + 503 over two levels
    assert record.of(BarUpdate)
    book = record.of(OrderBook)[-1]
    assert len(book.asks) == 5 and len(book.bids) == 5
    assert [lvl.price for lvl in book.asks] == sorted(lvl.price for lvl in book.asks)
    assert [lvl.price for lvl in book.bids] == sorted((lvl.price for lvl in book.bids),
                                                      reverse=True)
    assert book.best_bid.price < book.best_ask.price


def test_unregistered_real_types_are_ignored_never_fatal():
    async def scenario():
        async with Harness() as h:
            await h.broker.subscribe_ticks([SAMSUNG])
            # 27/28 belong to 주식우선호가 too: Kiwoom then sends that type as well.
            await h.broker.client.request("real_reg", {"codes": [SAMSUNG], "fids": [27, 28]})
            await h.sim(action="session", status="3", time="090000")  # 장시작시간, unregistered
            await h.sim(action="external", code=SAMSUNG, side="buy", qty=1, time="100002")
            await until(lambda: h.record.of(Tick), what="a tick after the odd types")
            return h

    h = run(scenario())
    assert h.broker.market.market_status == "3"
    assert h.broker.market.unregistered["주식우선호가"] >= 1
    assert h.broker.market.malformed == {}


def test_malformed_real_data_is_counted_and_dropped():
    async def scenario():
        async with Harness() as h:
            await h.broker.subscribe_ticks([SAMSUNG])
            market = h.broker.market
            market.on_real({"rt": "주식체결", "c": SAMSUNG, "f": {"10": "+7l200", "15": "+1",
                                                                "20": "100000"}})
            market.on_real({"rt": "주식체결", "c": SAMSUNG, "f": {"10": "+71200"}})
            market.on_real({"rt": "주식호가잔량", "c": SAMSUNG, "f": {"21": "25:00:00"}})
            market.on_real({"rt": "알수없는타입", "c": SAMSUNG, "f": {"raw": "x"}})
            return h
    h = run(scenario())
    assert h.broker.market.malformed["trade"] == 2
    assert h.record.of(Tick) == []


def test_daily_history_pages_back_with_prev_next():
    async def scenario():
        async with Harness() as h:
            start = int(pd.Timestamp("2021-01-01", tz="UTC").value)
            frame = await h.broker.fetch_bars(SAMSUNG, "1d", start_ns=start)
            stats = await h.sim(action="stats")
            return frame, stats

    frame, stats = run(scenario())
    assert frame.index.name == "time" and str(frame.index.tz) == "UTC"
    assert frame.index.is_monotonic_increasing and frame.index.is_unique
    assert list(frame.columns) == ["open", "high", "low", "close", "volume"]
    # Bars carry their session open: 09:00 KST = 00:00 UTC.
    assert (frame.index.hour == 0).all()
    assert frame.index[0] >= pd.Timestamp("2021-01-01", tz="UTC")
    assert frame.index[-1] == pd.Timestamp("2024-06-03", tz="UTC")
    assert len(frame) > 600  # more than one page of 600
    assert stats["calls"]["CommRqData(QString, QString, int, QString)"] >= 4 + 2
    assert (frame["high"] >= frame[["open", "close"]].max(axis=1)).all()
    assert (frame["low"] <= frame[["open", "close"]].min(axis=1)).all()


def test_minute_history_is_labelled_with_bar_open_times():
    async def scenario():
        async with Harness() as h:
            return await h.broker.fetch_bars(SAMSUNG, "60m")

    frame = run(scenario())
    kst = frame.index.tz_convert("Asia/Seoul")
    day = kst[kst.normalize() == kst.normalize()[-1]]
    # Kiwoom labels 60-minute bars 10:00 ... 15:00, 15:30 by their end; we by their open.
    assert [t.strftime("%H:%M") for t in day] == ["09:00", "10:00", "11:00", "12:00", "13:00",
                                                  "14:00", "15:00"]
    assert (frame["close"] > 0).all()  # the minute TR's signs are gone
    with pytest.raises(BrokerError, match="no 2m history"):
        run(_fetch(Harness(), "2m"))


async def _fetch(h: Harness, timeframe: str):
    async with h:
        return await h.broker.fetch_bars(SAMSUNG, timeframe)


def test_history_backfills_storage(tmp_path):
    from engine.storage import Database, load_bars

    async def scenario():
        async with Harness() as h:
            db = Database(tmp_path / "bars.sqlite3")
            written = await h.broker.backfill(SAMSUNG, "5m", db)
            again = await h.broker.backfill(SAMSUNG, "5m", db)  # upsert: same rows
            return written, again, load_bars(db, SAMSUNG, "5m"), \
                await h.broker.fetch_bars(SAMSUNG, "5m")

    written, again, stored, fetched = run(scenario())
    assert written == again == len(fetched) == 3 * 78
    pd.testing.assert_frame_equal(stored[["open", "high", "low", "close", "volume"]],
                                  fetched, check_freq=False)


def test_registrations_spread_over_screens_of_100_codes_and_are_removed():
    codes = [f"{900_000 + i:06d}" for i in range(250)]

    async def scenario():
        async with Harness() as h:
            await h.broker.subscribe_ticks([SAMSUNG, *codes])
            registered = (await h.sim(action="stats"))["registrations"]
            await h.broker.unsubscribe([SAMSUNG])
            await h.sim(action="external", code=SAMSUNG, side="buy", qty=1, time="100002")
            await h.broker.unsubscribe(codes[:100])
            left = (await h.sim(action="stats"))["registrations"]
            state = await h.broker.client.request("state")
            return registered, left, state, h.record.of(Tick)

    registered, left, state, ticks = run(scenario())
    assert sorted(len(c) for c in registered.values()) == [51, 100, 100]
    assert all(len(s) == 4 and s.isdigit() and s != "0000" for s in registered)
    assert sorted(c for cs in registered.values() for c in cs) == sorted([SAMSUNG, *codes])
    assert sum(len(c) for c in left.values()) == 150 and SAMSUNG not in str(left)
    assert state["real_codes"] == 150
    assert ticks == []  # SetRealRemove: the print after it is not delivered


def test_minute_and_daily_history_page_with_prev_next_into_storage(tmp_path):
    from engine.storage import Database, load_bars

    async def scenario():
        async with Harness() as h:
            h.venue.minute_days = 4  # 4 x 390 one-minute bars: two pages of opt10080 (900)
            db = Database(tmp_path / "bars.sqlite3")
            calls = "CommRqData(QString, QString, int, QString)"
            before = (await h.sim(action="stats"))["calls"].get(calls, 0)
            minutes = await h.broker.backfill(SAMSUNG, "1m", db)
            middle = (await h.sim(action="stats"))["calls"][calls]
            days = await h.broker.backfill(SAMSUNG, "1d", db)  # 1,000 days: two pages of 600
            after = (await h.sim(action="stats"))["calls"][calls]
            return (minutes, days, middle - before, after - middle,
                    load_bars(db, SAMSUNG, "1m"), load_bars(db, SAMSUNG, "1d"))

    minutes, days, minute_requests, day_requests, stored_1m, stored_1d = run(scenario())
    assert minutes == 4 * 390 and len(stored_1m) == minutes
    assert days == 1_000 and len(stored_1d) == days
    assert minute_requests == 2 and day_requests == 2
    for stored in (stored_1m, stored_1d):
        assert stored.index.is_monotonic_increasing and stored.index.is_unique
        assert (stored["close"] > 0).all() and (stored["low"] <= stored["high"]).all()
    kst = stored_1m.index.tz_convert("Asia/Seoul")
    assert kst.min().strftime("%H:%M") == "09:00" and kst.max().strftime("%H:%M") == "15:29"
