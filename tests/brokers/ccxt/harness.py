"""Shared test helpers: run a scenario, a raw ccxt client on the fake network, waiting."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import ccxt.pro

from tests.brokers.ccxt.fake_binance import LINEAR, SPOT, FakeBinanceServer

SPOT_BOOK = ([("59999.00", "1.5"), ("59998.00", "2"), ("59990.00", "5")],
             [("60001.00", "1.5"), ("60002.00", "3"), ("60010.00", "5")])
LINEAR_BOOK = ([("59999.0", "5"), ("59998.0", "8")], [("60001.0", "5"), ("60002.0", "8")])


def run(coro: Any, timeout: float = 20.0) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def until(predicate: Callable[[], bool], timeout: float = 5.0, what: str = "") -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        await asyncio.sleep(0.01)


def seed_books(fake: FakeBinanceServer) -> None:
    for kind, book in ((SPOT, SPOT_BOOK), (LINEAR, LINEAR_BOOK)):
        for symbol in ("BTCUSDT",):
            fake.venue.set_book(kind, symbol, *book)
    fake.venue.set_book(SPOT, "ETHUSDT", [("2999.00", "10")], [("3001.00", "10")])
    fake.venue.set_book(LINEAR, "ETHUSDT", [("2999.00", "10")], [("3001.00", "10")])


@contextlib.asynccontextmanager
async def raw_exchange(fake: FakeBinanceServer, *, demo: bool = True,
                       **config: Any) -> AsyncIterator[Any]:
    """A plain ccxt.pro binance on the fake network (no adapter in between)."""
    session = fake.session()
    options = {"fetchMarkets": {"types": ["spot", "linear"]}, "fetchCurrencies": False}
    options.update(config.pop("options", {}))
    exchange = ccxt.pro.binance({"session": session, "apiKey": fake.api_key,
                                 "secret": fake.secret, "options": options, **config})
    exchange.timeout_on_exit = 0
    if demo:
        exchange.enable_demo_trading(True)
    try:
        yield exchange
    finally:
        await exchange.close()
        await session.close()
