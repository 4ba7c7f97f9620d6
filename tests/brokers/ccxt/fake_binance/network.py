"""The client side of the fake network: Binance host names resolve to the fake venue.

``loopback_session(port)`` returns an aiohttp ``ClientSession`` whose resolver
maps every Binance host name to ``127.0.0.1:port`` and refuses every other
host, and whose TLS trusts only the test CA. ccxt is given this session, so it
keeps its real URLs, signs, connects, upgrades websockets and parses exactly as
it would against Binance; only the wire underneath is swapped.
"""

from __future__ import annotations

import socket
from collections.abc import Callable

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from tests.brokers.ccxt.fake_binance.certs import BINANCE_HOSTS, test_pki


class RefusedHost(OSError):
    """A host that is not Binance's: the tests never leave the machine."""


class LoopbackResolver(AbstractResolver):
    def __init__(self, port: int, hosts: tuple[str, ...] = BINANCE_HOSTS) -> None:
        self.port = port
        self.hosts = frozenset(hosts)
        self.resolved: list[str] = []

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        if host not in self.hosts:
            raise RefusedHost(f"fake network: {host} is not a Binance host; refused")
        self.resolved.append(host)
        return [ResolveResult(hostname=host, host="127.0.0.1", port=self.port,
                              family=socket.AF_INET, proto=0, flags=socket.AI_NUMERICHOST)]

    async def close(self) -> None:
        return None


def loopback_session(port: int) -> aiohttp.ClientSession:
    """A session for ccxt; create it inside the running loop, close it after ccxt."""
    connector = aiohttp.TCPConnector(resolver=LoopbackResolver(port),
                                     ssl=test_pki().client_context(), use_dns_cache=False)
    return aiohttp.ClientSession(connector=connector)


def session_factory(port: int) -> Callable[[], aiohttp.ClientSession]:
    return lambda: loopback_session(port)
