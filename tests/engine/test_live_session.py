"""LiveSession against the fake Binance: real ccxt, a SQLite journal, a strategy, a clean stop."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from engine.errors import UserError
from engine.live_session import LiveOptions, LiveSession, parse_until, settings_section
from engine.settings import default_settings
from engine.storage import Database
from engine.strategy import Param, Strategy
from engine.strategy.registry import register_strategy
from tests.brokers.ccxt.fake_binance import SPOT, FakeBinanceServer
from tests.brokers.ccxt.harness import FAST, run, seed_books, until

D = Decimal


@register_strategy
class BuyOnce(Strategy):
    """Test only: one buy on the first bar or trade it sees (market, or limit at ``price``)."""

    name = "test_live_buy_once"
    qty = Param(float, 0.01, low=0.0001, high=1.0, help="quantity to buy")
    price = Param(float, 0.0, low=0.0, high=1e9, help="limit price (0: market order)")

    def on_bar(self, bar):
        self._buy()

    def on_tick(self, tick):
        self._buy()

    def _buy(self):
        if not self.state.get("bought"):
            result = self.buy(D(str(self.qty)), D(str(self.price)) if self.price else None)
            self.state["bought"] = result.accepted  # not while warming up on history


@pytest.fixture
def keys(monkeypatch):
    """Put the fake venue's keys where a user puts theirs: the environment."""
    def set_keys(fake: FakeBinanceServer) -> None:
        monkeypatch.setenv("TT_SECRET_BINANCE_API_KEY", fake.api_key)
        monkeypatch.setenv("TT_SECRET_BINANCE_SECRET", fake.secret)
    return set_keys


def session_for(fake, tmp_path, **options) -> LiveSession:
    opts = LiveOptions(symbols=("BTC/USDT",), first_data_timeout_s=3.0, **options)
    return LiveSession(default_settings(), "binance", opts,
                       journal_database=Database(tmp_path / "journal.sqlite3"),
                       broker_factory_kwargs={"session_factory": fake.session_factory(), **FAST})


def test_a_strategy_buys_once_at_the_venue_and_the_fill_is_journaled_once(tmp_path, keys):
    async def scenario():
        async with FakeBinanceServer() as fake:
            seed_books(fake)
            keys(fake)
            s = session_for(fake, tmp_path, strategies=("test_live_buy_once",))
            await s.start()
            assert s.mode == "testnet" and not s.broker.live
            # someone trades on the venue: the strategy's first tick
            fake.venue.external_trade(SPOT, "BTCUSDT", "BUY", "0.001", "60001")
            await until(lambda: s.summary()["fills"] >= 1, timeout=5, what="the fill")
            fake.venue.external_trade(SPOT, "BTCUSDT", "SELL", "0.001", "59999")
            await asyncio.sleep(0.2)  # more market data: no second order
            s.request_stop("test")
            await s.wait()
            await s.stop()
            return s, s.summary(), fake.venue

    s, summary, venue = run(scenario())
    assert summary["orders"] == {"total": 1, "FILLED": 1}
    assert summary["fills"] == 1
    [position] = summary["positions"]
    assert (position["broker"], position["symbol"]) == ("binance", "BTC/USDT")
    # Binance kept its 0.1% fee in BTC: the position is what the venue holds, net
    assert D(position["quantity"]) == D("0.00999") and D(position["avg_price"]) == D(60001)
    # the venue's USDT balance opened the ledger account; the buy came out of it
    assert summary["accounts"]["binance"]["currency"] == "USDT"
    assert D(summary["accounts"]["binance"]["cash"]) < D(100_000)
    assert summary["venue"]["mode"] == "testnet" and summary["venue"]["stopped_by"] == "test"
    assert summary["venue"]["market_data"]["ticks"] >= 2
    assert summary["strategies"] == {"test_live_buy_once:BTC/USDT": "stopped"}
    fills = s.journal.load_fills()
    assert len(fills) == 1 and fills[0].quantity == D("0.01") and fills[0].price == D(60001)
    assert fills[0].fee_in_kind == D("0.00001")
    # and the venue made one order of it, traded once
    [order] = [o for o in venue.orders.values() if o.cid == fills[0].client_order_id]
    assert order.status == "FILLED"
    assert len([t for t in venue.trades[SPOT] if t.order_id == order.order_id]) == 1
    s.close()


def test_stopping_cancels_the_sessions_resting_orders_at_the_venue(tmp_path, keys):
    async def scenario():
        async with FakeBinanceServer() as fake:
            seed_books(fake)
            keys(fake)
            # an order typed into Binance's web page is not the session's to cancel
            fake.venue.place(SPOT, {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT",
                                    "quantity": "0.01", "price": "50000",
                                    "newClientOrderId": "web_abc"})
            s = session_for(fake, tmp_path, strategies=("test_live_buy_once",),
                            params={"price": "59000"})
            task = asyncio.ensure_future(s.run())
            await until(lambda: s.runner.strategies() and s.runner.state(
                "test_live_buy_once:BTC/USDT") == "running", timeout=8, what="strategy running")
            fake.venue.roll_bar(SPOT, "BTCUSDT")  # a closed bar: the strategy bids 59000
            await until(lambda: len(fake.venue.open_orders(SPOT)) == 2, what="resting at venue")
            s.request_stop("Ctrl+C")  # what the CLI's SIGINT handler calls
            summary = await task
            return summary, [o.cid for o in fake.venue.open_orders(SPOT)]

    summary, still_open = run(scenario())
    assert still_open == ["web_abc"]
    assert summary["orders"] == {"total": 1, "CANCELLED": 1}
    assert summary["venue"]["left_open"] == [] and summary["venue"]["stopped_by"] == "Ctrl+C"
    assert summary["fills"] == 0 and summary["positions"] == []


def test_keep_orders_leaves_them_resting_and_says_so(tmp_path, keys):
    async def scenario():
        async with FakeBinanceServer() as fake:
            seed_books(fake)
            keys(fake)
            s = session_for(fake, tmp_path, strategies=("test_live_buy_once",),
                            params={"price": "59000"}, keep_orders=True, until="30s")
            task = asyncio.ensure_future(s.run())
            await until(lambda: s.runner.strategies() and s.runner.state(
                "test_live_buy_once:BTC/USDT") == "running", timeout=8, what="strategy running")
            fake.venue.roll_bar(SPOT, "BTCUSDT")
            await until(lambda: fake.venue.open_orders(SPOT), what="resting at venue")
            s.request_stop()
            summary = await task
            return summary, fake.venue.open_orders(SPOT)

    summary, still_open = run(scenario())
    assert len(still_open) == 1 and summary["venue"]["left_open"] == [still_open[0].cid]
    assert summary["orders"] == {"total": 1, "ACCEPTED": 1}


def test_the_deadline_ends_a_market_data_only_session(tmp_path, monkeypatch):
    monkeypatch.delenv("TT_SECRET_BINANCE_API_KEY", raising=False)
    monkeypatch.delenv("TT_SECRET_BINANCE_SECRET", raising=False)

    async def scenario():
        async with FakeBinanceServer() as fake:
            seed_books(fake)
            s = session_for(fake, tmp_path, until="1s")
            return await s.run()

    summary = run(scenario())
    assert summary["venue"]["stopped_by"] == "until"
    assert summary["venue"]["market_data"]["books"] >= 1
    assert summary["orders"] == {"total": 0}
    span = (pd_ts(summary["replay"]["to"]) - pd_ts(summary["replay"]["from"])).total_seconds()
    assert 1.0 <= span < 6.0


def test_an_unknown_symbol_is_refused_after_connecting_and_nothing_is_left_running(tmp_path):
    async def scenario():
        async with FakeBinanceServer() as fake:
            s = LiveSession(default_settings(), "binance", LiveOptions(symbols=("DOGE/USDT",)),
                            journal_database=Database(tmp_path / "j.sqlite3"),
                            broker_factory_kwargs={"session_factory": fake.session_factory(),
                                                   **FAST})
            with pytest.raises(UserError, match="DOGE/USDT.*not a binance instrument"):
                await s.run()
            return s

    s = run(scenario())
    assert s.broker.state.value == "DISCONNECTED"


def test_live_money_needs_live_true_for_that_broker(tmp_path):
    settings = default_settings().with_overrides({"brokers.binance.environment": "live"})
    with pytest.raises(UserError, match="live = true"):
        LiveSession(settings, "binance", LiveOptions(symbols=("BTC/USDT",)),
                    journal_database=Database(tmp_path / "j.sqlite3"))
    # with the switch on, the session is built LIVE (it is not connected here)
    live = default_settings().with_overrides({"brokers.binance.live": True})
    s = LiveSession(live, "binance", LiveOptions(symbols=("BTC/USDT",)),
                    journal_database=Database(tmp_path / "j2.sqlite3"))
    assert s.broker.live and s.mode == "LIVE"
    # the testnet kind stays on the testnet whatever [brokers.binance] says
    t = LiveSession(live, "binance-testnet", LiveOptions(symbols=("BTC/USDT",)),
                    journal_database=Database(tmp_path / "j3.sqlite3"))
    assert not t.broker.live and t.mode == "testnet"


def test_until_takes_durations_and_utc_times():
    now = 1_700_000_000 * 10**9
    assert parse_until("30s", now) == now + 30 * 10**9
    assert parse_until("1h30m", now) == now + 5400 * 10**9
    assert parse_until("2d", now) == now + 2 * 86400 * 10**9
    assert parse_until("2023-11-14T23:00", now) == 1_700_002_800 * 10**9
    for bad in ("soon", "2020-01-01", "0s", "90"):
        with pytest.raises(UserError, match="--until"):
            parse_until(bad, now)


def test_broker_names_find_their_settings_table():
    assert settings_section("binance") == "binance"
    assert settings_section("binance-testnet") == "binance"
    assert settings_section("ccxt") is None


def pd_ts(text):
    import pandas as pd

    return pd.Timestamp(text)


def test_a_venue_that_cannot_be_reached_is_a_clear_error_not_a_traceback(tmp_path):
    import socket

    from tests.brokers.ccxt.fake_binance.network import loopback_session

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    s = LiveSession(default_settings(), "binance-testnet", LiveOptions(symbols=("BTC/USDT",)),
                    journal_database=Database(tmp_path / "j.sqlite3"),
                    broker_factory_kwargs={"session_factory": lambda: loopback_session(port),
                                           **FAST})
    with pytest.raises(UserError) as info:
        run(s.run())
    assert str(info.value).startswith("binance-testnet: could not connect to Binance testnet: ")
    assert s.broker.state.value == "DISCONNECTED"
