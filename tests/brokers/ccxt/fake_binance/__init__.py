"""A local fake of Binance (spot and USD-M futures) for testing the ccxt adapter offline.

``FakeBinanceServer`` serves REST and websockets on 127.0.0.1 over TLS with a
throwaway CA; ``FakeVenue`` is its state and matching engine; ``loopback_session``
is the aiohttp session to give ccxt, whose resolver sends Binance's real host
names to the fake and refuses every other host::

    async with FakeBinanceServer() as fake:
        exchange = ccxt.pro.binance({"session": fake.session(), "apiKey": fake.api_key,
                                     "secret": fake.secret})
"""

from tests.brokers.ccxt.fake_binance.markets import LINEAR, SPOT, MarketSpec
from tests.brokers.ccxt.fake_binance.network import RefusedHost, loopback_session
from tests.brokers.ccxt.fake_binance.server import FakeBinanceServer
from tests.brokers.ccxt.fake_binance.venue import FakeVenue, VenueError

__all__ = ["LINEAR", "SPOT", "FakeBinanceServer", "FakeVenue", "MarketSpec", "RefusedHost",
           "VenueError", "loopback_session"]
