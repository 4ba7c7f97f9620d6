"""The fake Binance answers the real ccxt client like Binance does (shapes, auth, errors)."""

from __future__ import annotations

import asyncio

import aiohttp
import ccxt
import pytest

from tests.brokers.ccxt.fake_binance import LINEAR, SPOT, FakeBinanceServer, RefusedHost
from tests.brokers.ccxt.harness import raw_exchange, run, seed_books


def test_markets_balances_and_a_signed_order_round_trip():
    async def scenario():
        async with FakeBinanceServer() as fake:
            seed_books(fake)
            async with raw_exchange(fake) as ex:
                await ex.load_time_difference()
                markets = await ex.load_markets()
                balance = await ex.fetch_balance()
                order = await ex.create_order("BTC/USDT", "limit", "buy", 0.01, 59000,
                                              {"newClientOrderId": "tt-a-1"})
                again = await ex.fetch_order(None, "BTC/USDT", {"origClientOrderId": "tt-a-1"})
                cancel = await ex.cancel_order(order["id"], "BTC/USDT")
                return markets, balance, order, again, cancel, fake.hosts_seen()

    markets, balance, order, again, cancel, hosts = run(scenario())
    spot, perp = markets["BTC/USDT"], markets["BTC/USDT:USDT"]
    assert spot["precision"]["price"] == 0.01 and spot["precision"]["amount"] == 0.00001
    assert spot["limits"]["cost"]["min"] == 5.0
    assert perp["swap"] and perp["linear"] and perp["settle"] == "USDT"
    assert perp["precision"]["price"] == 0.1 and perp["limits"]["cost"]["min"] == 100.0
    assert balance["total"]["USDT"] == 100_000.0
    assert order["clientOrderId"] == "tt-a-1" and order["status"] == "open"
    assert again["id"] == order["id"]
    assert cancel["status"] == "canceled"
    assert hosts == {"demo-api.binance.com", "demo-fapi.binance.com"}


def test_wrong_secret_clock_skew_and_rate_limits_map_to_ccxt_errors():
    async def scenario():
        async with FakeBinanceServer() as fake:
            seed_books(fake)
            out = {}
            async with raw_exchange(fake, secret="not-the-secret") as ex:
                await ex.load_markets()
                with pytest.raises(ccxt.AuthenticationError):
                    await ex.fetch_balance()
            async with raw_exchange(fake) as ex:
                await ex.load_markets()
                fake.venue.skew_ms = 30_000
                with pytest.raises(ccxt.InvalidNonce):
                    await ex.fetch_balance()
                await ex.load_time_difference()
                out["skew_fixed"] = (await ex.fetch_balance())["total"]["BTC"]
                fake.fail_next("/api/v3/account", 429, retry_after=1)
                with pytest.raises(ccxt.DDoSProtection):
                    await ex.fetch_balance()
                fake.fail_next("/api/v3/account", 503)
                with pytest.raises(ccxt.ExchangeNotAvailable):
                    await ex.fetch_balance()
                with pytest.raises(ccxt.InsufficientFunds):
                    await ex.create_order("BTC/USDT:USDT", "limit", "buy", 100, 59000)
                with pytest.raises(ccxt.InvalidOrder):
                    await ex.create_order("BTC/USDT", "limit", "buy", 0.01, 61000,
                                          {"postOnly": True})
            return out

    assert run(scenario()) == {"skew_fixed": 1.0}


def test_refuses_every_host_that_is_not_binance():
    async def scenario():
        async with FakeBinanceServer() as fake:
            session = fake.session()
            try:
                with pytest.raises(aiohttp.ClientConnectorError) as refused:
                    await session.get("https://example.com/")
                assert isinstance(refused.value.os_error, RefusedHost)
                assert not fake.requests  # nothing reached the venue either
            finally:
                await session.close()

    run(scenario())


def test_streams_book_user_events_and_a_dropped_socket():
    async def scenario():
        async with FakeBinanceServer() as fake:
            seed_books(fake)
            async with raw_exchange(fake) as ex:
                await ex.load_markets()
                book = await ex.watch_order_book("BTC/USDT:USDT")
                first = (book["bids"][0], book["nonce"])
                fake.venue.update_levels(LINEAR, "BTCUSDT", bids=[("60000.0", "2")])
                book = await ex.watch_order_book("BTC/USDT:USDT")
                second = (book["bids"][0], book["nonce"])
                await ex.create_order("BTC/USDT", "limit", "sell", 0.01, 60500,
                                      {"newClientOrderId": "tt-s-1"})
                watching = asyncio.ensure_future(ex.watch_orders("BTC/USDT"))
                await asyncio.sleep(0.3)
                fake.venue.fill(SPOT, "BTCUSDT", "tt-s-1")
                orders = await asyncio.wait_for(watching, 3)
                pending = asyncio.ensure_future(ex.watch_order_book("BTC/USDT:USDT"))
                await asyncio.sleep(0.05)
                fake.drop_ws(role="market")
                with pytest.raises(ccxt.NetworkError):
                    await asyncio.wait_for(pending, 3)
                book = await ex.watch_order_book("BTC/USDT:USDT")  # the next call reconnects
                return first, second, orders[-1], book["bids"][0]

    first, second, order, recovered = run(scenario())
    assert first == ([59999.0, 5.0], 1001) and second[0] == [60000.0, 2.0]
    assert second[1] > first[1]
    assert order["clientOrderId"] == "tt-s-1" and order["status"] == "closed"
    assert recovered == [60000.0, 2.0]
