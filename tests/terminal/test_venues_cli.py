"""``venues`` and ``paper --broker`` against the fake Binance, served from a thread.

The command runs its own event loop (``asyncio.run``) as it does for a user, so the
fake venue runs on a second loop in a background thread; ccxt reaches it through
the loopback session that ``EXTRA_BROKER_KWARGS`` hands the adapter.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import threading
from collections.abc import Iterator
from typing import Any

import keyring
import pytest

from engine.live_session import EXTRA_BROKER_KWARGS
from terminal.cli import main
from tests.brokers.ccxt.fake_binance import SPOT, FakeBinanceServer
from tests.brokers.ccxt.fake_binance.network import loopback_session
from tests.brokers.ccxt.harness import FAST, seed_books
from tests.engine.test_live_session import BuyOnce  # noqa: F401 - registers the test strategy
from tests.memory_keyring import MemoryKeyring


class FakeInThread:
    """A FakeBinanceServer on its own loop; ``call(fn)`` runs ``fn`` on that loop."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.fake = FakeBinanceServer()
        self.tasks: list[Any] = []
        self.call(self.fake.start)
        self.call(lambda: seed_books(self.fake))

    def call(self, fn: Any, timeout: float = 10.0) -> Any:
        async def go() -> Any:
            result = fn()
            return await result if asyncio.iscoroutine(result) else result
        return asyncio.run_coroutine_threadsafe(go(), self.loop).result(timeout)

    def every(self, seconds: float, fn: Any) -> None:
        """Call ``fn`` on the fake's loop every ``seconds`` until it returns True."""
        async def loop() -> None:
            while not fn():
                await asyncio.sleep(seconds)
        self.tasks.append(asyncio.run_coroutine_threadsafe(loop(), self.loop))

    def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        self.call(self.fake.stop)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@pytest.fixture
def venue(monkeypatch) -> Iterator[FakeInThread]:
    fake = FakeInThread()
    monkeypatch.setitem(EXTRA_BROKER_KWARGS, "binance",
                        {"session_factory": fake.fake.session_factory(), **FAST})
    try:
        yield fake
    finally:
        fake.close()


@pytest.fixture
def ring() -> Iterator[MemoryKeyring]:
    """An empty keyring in a dict: never the machine's own (a developer's keys stay out)."""
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)


@pytest.fixture
def keys(monkeypatch):
    def put(fake: FakeBinanceServer) -> tuple[str, str]:
        monkeypatch.setenv("TT_SECRET_BINANCE_API_KEY", fake.api_key)
        monkeypatch.setenv("TT_SECRET_BINANCE_SECRET", fake.secret)
        return fake.api_key, fake.secret
    return put


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def by_name(out: str) -> dict[str, dict[str, Any]]:
    return {row["name"]: row for row in json.loads(out)["brokers"]}


# ---- venues ---------------------------------------------------------------------------------
def test_venues_lists_every_broker_with_mode_and_whether_keys_exist(capsys, monkeypatch, ring):
    monkeypatch.delenv("TT_SECRET_BINANCE_API_KEY", raising=False)
    monkeypatch.delenv("TT_SECRET_BINANCE_SECRET", raising=False)
    code, out, _ = cli(capsys, "venues", "--json")
    rows = by_name(out)
    assert code == 0 and list(rows) == ["paper", "binance", "kiwoom"]
    assert rows["binance"] | {"check": None} == {
        "name": "binance", "kind": "ccxt", "enabled": False, "mode": "testnet", "live": False,
        "keys": "no", "keys_from": "", "detail": "binance spot", "problem": "", "check": None}
    assert (rows["paper"]["mode"], rows["paper"]["enabled"]) == ("paper", True)
    assert rows["kiwoom"]["mode"] == "demo"

    key, secret = "tt-venues-key-6c1f0e9a", "tt-venues-secret-77ab90de"
    monkeypatch.setenv("TT_SECRET_BINANCE_API_KEY", key)
    monkeypatch.setenv("TT_SECRET_BINANCE_SECRET", secret)
    monkeypatch.setenv("TT_BROKERS__BINANCE__ENABLED", "true")
    monkeypatch.setenv("TT_BROKERS__BINANCE__MARKETS", '["spot", "linear"]')
    code, out, err = cli(capsys, "venues", "--json")
    binance = by_name(out)["binance"]
    assert code == 0 and binance["enabled"] and binance["mode"] == "demo"  # USD-M: demo trading
    assert (binance["keys"], binance["keys_from"]) == ("yes", "environment")
    code, text, err2 = cli(capsys, "venues")
    [line] = [x for x in text.splitlines() if x.startswith("binance ")]
    assert line.split()[:6] == ["binance", "ccxt", "yes", "demo", "yes", "(environment)"]
    for shown in (out, err, text, err2):
        assert key not in shown and secret not in shown

    monkeypatch.delenv("TT_SECRET_BINANCE_SECRET")
    assert by_name(cli(capsys, "venues", "--json")[1])["binance"]["keys"] == \
        "partial (secret missing)"
    ring.set_password("trading-terminal", "binance:secret", secret)  # config secret set ...
    code, out, _ = cli(capsys, "venues", "--json")
    binance = by_name(out)["binance"]
    assert (binance["keys"], binance["keys_from"]) == ("yes", "environment+keyring")
    assert json.loads(out)["keyring"] is True and secret not in out


def test_live_mode_shows_only_when_live_is_true(capsys, monkeypatch):
    monkeypatch.setenv("TT_BROKERS__BINANCE__LIVE", "true")
    monkeypatch.setenv("TT_BROKERS__KIWOOM__LIVE", "true")
    rows = by_name(cli(capsys, "venues", "--json")[1])
    assert rows["binance"]["mode"] == "LIVE" and rows["kiwoom"]["mode"] == "LIVE"
    assert rows["paper"]["mode"] == "paper"


@pytest.mark.parametrize("env, words", [
    ({"TT_BROKERS__BINANCE__ENVIRONMENT": "live"}, "live = true"),  # the adapter's rule
    ({"TT_BROKERS__BINANCE__ENABLED": "maybe"}, "brokers.binance.enabled"),  # the schema's
])
def test_invalid_settings_exit_2_with_the_reason(capsys, monkeypatch, env, words):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code, _, err = cli(capsys, "venues")
    assert code == 2 and words in err and "Traceback" not in err


def test_check_connects_each_enabled_broker_to_the_fake_venue(capsys, monkeypatch, venue, keys):
    key, secret = keys(venue.fake)
    monkeypatch.setenv("TT_BROKERS__BINANCE__ENABLED", "true")
    code, out, err = cli(capsys, "venues", "--check", "--json")
    rows = by_name(out)
    assert code == 0
    assert rows["binance"]["check"]["state"] == "CONNECTED" and rows["binance"]["check"]["ok"]
    assert rows["binance"]["check"]["instruments"] == 2  # the fake's BTC/USDT and ETH/USDT
    assert rows["paper"]["check"]["state"] == "CONNECTED"
    assert rows["kiwoom"]["check"] is None  # not enabled: not connected
    assert key not in out + err and secret not in out + err
    assert venue.fake.count("GET", "/api/v3/account") >= 1  # signed with the keys from env

    code, text, _ = cli(capsys, "venues", "--check")
    assert code == 0 and "binance: CONNECTED in" in text and "2 instruments" in text


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_check_reports_why_a_venue_cannot_be_reached_and_still_exits_0(capsys, monkeypatch):
    port = _closed_port()  # nothing listens there
    monkeypatch.setitem(EXTRA_BROKER_KWARGS, "binance",
                        {"session_factory": lambda: loopback_session(port), **FAST})
    monkeypatch.setenv("TT_BROKERS__BINANCE__ENABLED", "true")
    code, out, err = cli(capsys, "venues", "--check")
    assert code == 0 and "Traceback" not in out + err
    [line] = [x for x in out.splitlines() if x.startswith("binance:")]
    assert line.startswith("binance: FAILED in ")
    assert " - could not connect to Binance testnet: ExchangeNotAvailable" in line
    assert "paper: CONNECTED" in out  # the others are still checked


def test_check_gives_up_after_the_timeout(capsys, monkeypatch):
    # A server that accepts connections and never says a word (not even TLS).
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    port = silent.getsockname()[1]
    monkeypatch.setitem(EXTRA_BROKER_KWARGS, "binance",
                        {"session_factory": lambda: loopback_session(port), **FAST,
                         "request_timeout_ms": 60_000})
    monkeypatch.setenv("TT_BROKERS__BINANCE__ENABLED", "true")
    try:
        code, out, err = cli(capsys, "venues", "--check", "--timeout", "0.5", "--json")
    finally:
        silent.close()
    check = by_name(out)["binance"]["check"]
    assert code == 0 and check["reason"] == "no answer within 0.5 s" and not check["ok"]
    assert check["state"] == "CONNECTING" and check["seconds"] < 3


# ---- paper --broker -------------------------------------------------------------------------
def test_paper_against_the_fake_venue_buys_once_and_prints_the_summary(capsys, venue, keys):
    keys(venue.fake)
    # trades keep printing at the venue: the strategy's first tick buys
    venue.every(0.1, lambda: venue.fake.venue.external_trade(SPOT, "BTCUSDT", "BUY", "0.001",
                                                              "60001") and False)
    code, out, err = cli(capsys, "paper", "--broker", "binance", "--symbol", "BTC/USDT",
                         "--strategy", "test_live_buy_once", "--until", "2s", "--json")
    assert code == 0, err
    s = json.loads(out)
    assert s["orders"] == {"total": 1, "FILLED": 1} and s["fills"] == 1
    assert s["venue"]["broker"] == "binance" and s["venue"]["mode"] == "testnet"
    assert s["venue"]["stopped_by"] == "until" and s["venue"]["market_data"]["ticks"] > 1
    assert set(s) >= {"symbols", "replay", "strategies", "rejections", "accounts", "positions",
                      "kill_switch"}  # the replay's summary keys


def test_ctrl_c_ends_the_session_and_cancels_its_resting_order_at_the_venue(capsys, venue, keys):
    keys(venue.fake)
    interrupted = []

    def bar_until_an_order_rests() -> bool:
        fake = venue.fake.venue
        if fake.open_orders(SPOT):
            if not interrupted:
                interrupted.append(True)
                os.kill(os.getpid(), signal.SIGINT)  # the user presses Ctrl+C
            return True
        fake.roll_bar(SPOT, "BTCUSDT")  # a closed bar: the strategy bids 59000
        return False

    venue.every(0.2, bar_until_an_order_rests)
    code, out, err = cli(capsys, "paper", "--broker", "binance", "--symbol", "BTC/USDT",
                         "--strategy", "test_live_buy_once", "--param", "price=59000",
                         "--until", "20s")  # only if the Ctrl+C never came
    assert code == 0, err
    assert interrupted and "Ctrl+C: stopping" in err
    assert "orders: 1 (CANCELLED 1); fills: 0" in out and "ended by Ctrl+C" in out
    assert venue.call(lambda: venue.fake.venue.open_orders(SPOT)) == []


@pytest.mark.parametrize("argv, words", [
    (["--speed", "10x"], "--speed: only for the replayed paper venue"),
    (["--strategy", "sma_cross"], "--symbol"),
    (["--symbol", "BTC/USDT", "--until", "later"], "--until 'later'"),
    (["--symbol", "BTC/USDT", "--broker", "nowhere"], "unknown broker kind 'nowhere'"),
])
def test_paper_broker_mistakes_exit_2_before_connecting(capsys, argv, words):
    argv = ["--broker", "binance", *argv] if "--broker" not in argv else argv
    code, _, err = cli(capsys, "paper", *argv)
    assert code == 2 and words in err and "Traceback" not in err


def test_paper_refuses_real_money_unless_live_is_true(capsys, monkeypatch):
    monkeypatch.setenv("TT_BROKERS__BINANCE__ENVIRONMENT", "live")
    code, _, err = cli(capsys, "paper", "--broker", "binance", "--symbol", "BTC/USDT")
    assert code == 2 and "real money" in err and "live = true" in err
