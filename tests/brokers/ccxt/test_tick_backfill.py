"""Trade prints missed while the trades socket was down reach the bus, once each, in order."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from brokers.ccxt.backfill import TapeState, in_order
from engine.models import ConnectionState, DataQualityEvent, Side, Tick
from tests.brokers.ccxt.fake_binance import LINEAR, SPOT
from tests.brokers.ccxt.harness import Adapter, run, until

S = ConnectionState
MARKETS = [(SPOT, "BTC/USDT", "/api/v3/aggTrades"),
           (LINEAR, "BTC/USDT:USDT", "/fapi/v1/aggTrades")]


def ticks(h: Adapter, symbol: str) -> list[Tick]:
    return [t for t in h.record.of(Tick) if t.symbol == symbol]


def printed(h: Adapter, kind: str) -> list[str]:
    return [str(p.a) for p in h.fake.venue.prints[(kind, "BTCUSDT")]]


def subscribed(h: Adapter, kind: str) -> bool:
    return any("btcusdt@aggTrade" in c.streams for c in h.fake.connections("market")
               if c.kind == kind)


async def trade(h: Adapter, kind: str, n: int, *, start: int = 0) -> None:
    for i in range(n):
        side = "BUY" if (start + i) % 3 else "SELL"
        h.fake.venue.external_trade(kind, "BTCUSDT", side, "0.01", str(60000 + start + i))


async def go_offline(h: Adapter) -> None:
    h.fake.faults.refuse_ws = True
    h.fake.drop_ws()
    await until(lambda: h.broker.state is S.RECONNECTING, what="RECONNECTING")


async def live_ticks(h: Adapter, kind: str, symbol: str, n: int) -> None:
    await h.broker.subscribe_ticks([symbol])
    await until(lambda: subscribed(h, kind), what="the aggTrade subscription")
    await trade(h, kind, n)
    await until(lambda: len(ticks(h, symbol)) == n, what="live ticks")


@pytest.mark.parametrize(("kind", "symbol", "path"), MARKETS, ids=["spot", "usdm"])
def test_prints_made_while_disconnected_are_backfilled_once_and_in_order(kind, symbol, path):
    async def scenario():
        async with Adapter(markets=["spot", "linear"], keys=False) as h:
            await live_ticks(h, kind, symbol, 2)
            await go_offline(h)
            await trade(h, kind, 5, start=10)
            await asyncio.sleep(0.2)
            h.fake.faults.refuse_ws = False
            # No new print after the reconnect: the back-fill does not wait for one.
            await until(lambda: len(ticks(h, symbol)) == 7, what="the back-filled ticks")
            await until(lambda: subscribed(h, kind), what="the new subscription")
            await trade(h, kind, 2, start=20)
            await until(lambda: len(ticks(h, symbol)) == 9, what="live ticks again")
            await asyncio.sleep(0.1)
            return h, h.fake.count("GET", path)

    h, rest_calls = run(scenario())
    got = ticks(h, symbol)
    assert [t.trade_id for t in got] == printed(h, kind)  # every print, once, in order
    assert [t.price for t in got] == [60000.0, 60001.0, *(60010.0 + i for i in range(5)),
                                      60020.0, 60021.0]
    assert [t.aggressor for t in got[2:7]] == [Side.SELL if i % 3 == 0 else Side.BUY
                                               for i in range(10, 15)]
    assert all(a.ts_ns <= b.ts_ns for a, b in zip(got, got[1:], strict=False))
    assert rest_calls == 1 and not h.record.of(DataQualityEvent)
    assert h.record.states() == [S.CONNECTING, S.CONNECTED, S.RECONNECTING, S.CONNECTED,
                                 S.DISCONNECTED]


@pytest.mark.parametrize(("kind", "symbol", "path"), MARKETS, ids=["spot", "usdm"])
def test_prints_both_in_the_rest_answer_and_on_the_socket_are_delivered_once(kind, symbol,
                                                                              path):
    async def scenario():
        async with Adapter(markets=["spot", "linear"], keys=False) as h:
            await live_ticks(h, kind, symbol, 1)
            await go_offline(h)
            await trade(h, kind, 3, start=10)
            # The REST answer is computed after a pause: prints made during the pause are
            # in it and also on the (already subscribed) socket.
            h.fake.delay_next(path, 0.4, after_processing=False)
            h.fake.faults.refuse_ws = False
            await until(lambda: h.fake.count("GET", path) == 1, what="the back-fill request")
            await until(lambda: subscribed(h, kind), what="the new subscription")
            await trade(h, kind, 4, start=20)
            await until(lambda: len(ticks(h, symbol)) == 8, what="every tick")
            await trade(h, kind, 1, start=30)
            await until(lambda: len(ticks(h, symbol)) == 9, what="a live tick")
            await asyncio.sleep(0.2)
            return h

    h = run(scenario())
    assert [t.trade_id for t in ticks(h, symbol)] == printed(h, kind)


def test_a_hole_bigger_than_the_backfill_budget_is_reported_not_hidden():
    symbol = "BTC/USDT"

    async def scenario():
        async with Adapter(keys=False) as h:
            h.broker.market_data.tick_page = 3
            h.broker.market_data.tick_pages = 2
            await live_ticks(h, SPOT, symbol, 1)
            await go_offline(h)
            await trade(h, SPOT, 10, start=10)
            h.fake.faults.refuse_ws = False
            await until(lambda: h.record.of(DataQualityEvent), what="the gap report")
            await until(lambda: subscribed(h, SPOT), what="the new subscription")
            await trade(h, SPOT, 2, start=30)
            await until(lambda: len(ticks(h, symbol)) == 9, what="live ticks again")
            await asyncio.sleep(0.1)
            return h

    h = run(scenario())
    ids = printed(h, SPOT)
    assert [t.trade_id for t in ticks(h, symbol)] == ids[:7] + ids[11:]  # oldest 6 recovered
    [gap] = h.record.of(DataQualityEvent)
    assert gap.kind == "tick_gap" and gap.symbol == symbol
    assert f"4 trade print(s) (ids {ids[7]}..{ids[10]}) not recovered" in gap.message


def test_prints_missed_before_the_first_live_one_are_found_by_time():
    symbol = "BTC/USDT:USDT"

    async def scenario():
        async with Adapter(markets=["linear"], keys=False) as h:
            await trade(h, LINEAR, 2)  # before we subscribed: not ours to deliver
            await h.broker.subscribe_ticks([symbol])
            await until(lambda: subscribed(h, LINEAR), what="the aggTrade subscription")
            await go_offline(h)
            h.fake.venue.roll_bar()  # market time moves past the subscription
            await trade(h, LINEAR, 3, start=10)
            h.fake.faults.refuse_ws = False
            await until(lambda: len(ticks(h, symbol)) == 3, what="the back-filled ticks")
            await asyncio.sleep(0.1)
            return h

    h = run(scenario())
    assert [t.trade_id for t in ticks(h, symbol)] == printed(h, LINEAR)[2:]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 60), st.integers(0, 20)), max_size=12),
       st.integers(0, 5))
def test_overlapping_batches_deliver_each_id_once_in_increasing_order(batches, recent):
    """Back-fill pages and socket batches overlap any way they like: the tape delivers a
    strictly increasing sequence and never the same id twice."""
    tape = TapeState()
    tape.recent.size = recent + 1  # a tiny memory still cannot let a duplicate through
    delivered: list[int] = []
    for start, length in batches:
        batch = [{"id": str(i)} for i in range(start + length - 1, start - 1, -1)]
        delivered += [int(t["id"]) for t in in_order(batch) if tape.accept(t["id"])]
    assert delivered == sorted(set(delivered))
    assert len(tape.recent) <= recent + 1


def test_the_fake_answers_agg_trades_in_binance_shape_and_rules():
    import ccxt

    from tests.brokers.ccxt.fake_binance import FakeBinanceServer
    from tests.brokers.ccxt.harness import raw_exchange

    async def scenario():
        async with FakeBinanceServer() as fake, raw_exchange(fake) as ex:
            for i in range(5):
                fake.venue.external_trade(LINEAR, "BTCUSDT", "BUY" if i % 3 else "SELL",
                                          "0.01", str(60000 + i))
            ids = [p.a for p in fake.venue.prints[(LINEAR, "BTCUSDT")]]
            recent = await ex.fetch_trades("BTC/USDT:USDT", None, 2)
            page = await ex.fetch_trades("BTC/USDT:USDT", None, 3, {"fromId": ids[1]})
            first = fake.venue.prints[(LINEAR, "BTCUSDT")][0].t
            window = await ex.fetch_trades("BTC/USDT:USDT", first, 10)
            spot = await ex.publicGetAggTrades({"symbol": "BTCUSDT"})
            refused = []
            for params in ({"fromId": ids[0], "startTime": first},
                           {"startTime": first, "endTime": first + 3_600_001}):
                try:
                    await ex.fapiPublicGetAggTrades({"symbol": "BTCUSDT", **params})
                except ccxt.BadRequest as exc:
                    refused.append(str(exc))
            return ids, recent, page, window, spot, refused

    ids, recent, page, window, spot, refused = run(scenario())
    assert [t["id"] for t in recent] == [str(i) for i in ids[-2:]]
    assert [t["id"] for t in page] == [str(i) for i in ids[1:4]]
    assert [t["id"] for t in window] == [str(i) for i in ids]
    assert page[0]["price"] == 60001.0 and page[0]["amount"] == 0.01
    assert page[0]["side"] == "buy" and window[0]["side"] == "sell"
    assert set(page[0]["info"]) == {"a", "p", "q", "f", "l", "T", "m"}  # USD-M: no "M"
    assert spot == []  # spot printed nothing; its aggregate ids are its own
    assert "-1128" in refused[0] and "-1127" in refused[1]
