"""Trade prints missed while the trades socket was down, recovered over REST.

The live tape and the REST back-fill use one id space: Binance's *aggregate*
trade ids (``@aggTrade`` on the socket, ``GET aggTrades`` through ccxt's
``fetch_trades``, the same on spot and USD-M). Spot's ``@trade`` stream numbers
trades differently, and the REST endpoint that pages by those ids
(``historicalTrades``) needs an API key and costs 200 weight, so the tape is
aggregate trades everywhere.

``TapeState`` is one symbol's memory: the id and time of the last print
delivered (the watermark) plus a bounded set of recent ids, so a print that
arrives both over REST and over the socket is delivered once.
``fetch_missed`` walks ``fetch_trades`` forward from the watermark, a page at a
time, within a page count and a time budget; when the budget runs out before
the walk reaches the present, ``latest_id`` says where the hole ends so it can
be reported rather than silently skipped.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

HOUR_MS = 3_600_000


class RecentIds:
    """The last ``size`` ids seen, for membership tests (insertion order, bounded)."""

    def __init__(self, size: int = 4096) -> None:
        self._order: deque[str] = deque()
        self._set: set[str] = set()
        self.size = size

    def __contains__(self, trade_id: object) -> bool:
        return trade_id in self._set

    def __len__(self) -> int:
        return len(self._set)

    def add(self, trade_id: str) -> None:
        if trade_id in self._set:
            return
        self._order.append(trade_id)
        self._set.add(trade_id)
        while len(self._order) > self.size:
            self._set.discard(self._order.popleft())


@dataclass
class TapeState:
    """What one symbol's tape has delivered: the basis of back-fill and de-duplication."""

    last_id: int = -1  # the highest (aggregate) trade id delivered; -1: none yet
    last_ms: int = -1  # its timestamp
    since_ms: int | None = None  # when the stream first subscribed (used while last_id < 0)
    recent: RecentIds = field(default_factory=RecentIds)

    def accept(self, trade_id: str) -> bool:
        """True the first time a print is seen and it is newer than the watermark."""
        if trade_id in self.recent:
            return False
        number = as_int(trade_id)
        if number is not None and number <= self.last_id:
            return False
        self.recent.add(trade_id)
        if number is not None:
            self.last_id = number
        return True

    def skip_to(self, trade_id: int) -> None:
        """Move the watermark past a hole that could not be recovered."""
        self.last_id = max(self.last_id, trade_id)


@dataclass(frozen=True)
class Recovered:
    """The result of one back-fill walk, oldest print first."""

    trades: tuple[dict[str, Any], ...]
    complete: bool  # False: the page or time budget ran out before the present
    pages: int


def as_int(trade_id: object) -> int | None:
    try:
        return int(str(trade_id))
    except (TypeError, ValueError):
        return None


def by_id(trades: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Prints with an integer id, in id order (= the venue's time order)."""
    rows = [t for t in trades if as_int(t.get("id")) is not None]
    return sorted(rows, key=lambda t: as_int(t["id"]) or 0)


def in_order(trades: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Prints in id order; any without an integer id keep their place after those."""
    return sorted(trades, key=lambda t: (as_int(t.get("id")) is None,
                                         as_int(t.get("id")) or 0))


async def fetch_missed(exchange: Any, symbol: str, *, after_id: int, since_ms: int | None,
                       now_ms: int, until_id: int | None = None, page: int = 1000,
                       max_pages: int = 10, max_seconds: float = 10.0) -> Recovered:
    """Every print after ``after_id`` (or, with no id yet, from ``since_ms``) up to now.

    Pages by id (``fromId``) once an id is known; by time (``since``, which ccxt sends as
    a one-hour ``startTime``/``endTime`` window, Binance's limit) before that. Stops at a
    short page, at ``until_id`` (a print already seen live), or when ``max_pages`` or
    ``max_seconds`` is used up (``complete`` is then False).
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max_seconds
    out: list[dict[str, Any]] = []
    cursor = after_id + 1 if after_id >= 0 else None
    window = since_ms if since_ms is not None else now_ms
    pages = 0
    while True:
        if pages >= max_pages or loop.time() > deadline:
            return Recovered(tuple(out), False, pages)
        if cursor is not None:
            rows = by_id(await exchange.fetch_trades(symbol, None, page, {"fromId": cursor}))
        else:
            rows = by_id(await exchange.fetch_trades(symbol, window, page))
        pages += 1
        fresh = [t for t in rows if (as_int(t["id"]) or 0) > after_id]
        out += fresh
        if until_id is not None and any((as_int(t["id"]) or 0) >= until_id for t in rows):
            return Recovered(tuple(out), True, pages)
        if rows:
            if len(rows) < page and (cursor is not None or window + HOUR_MS >= now_ms):
                return Recovered(tuple(out), True, pages)
            cursor = (as_int(rows[-1]["id"]) or 0) + 1  # from here on, by id
        elif cursor is not None:
            return Recovered(tuple(out), True, pages)
        else:
            window += HOUR_MS + 1  # a quiet hour: the next window
            if window > now_ms:
                return Recovered(tuple(out), True, pages)


async def latest_id(exchange: Any, symbol: str) -> int | None:
    """The id of the venue's most recent print (one ``fetch_trades`` without ``since``)."""
    rows = by_id(await exchange.fetch_trades(symbol, None, 1))
    return as_int(rows[-1]["id"]) if rows else None
