"""The latest market picture per symbol: last trade, best bid/ask, reference price.

Fed from the bus (``Tick``, ``OrderBook``, ``Bar``); read by risk (price bands,
notional of market orders), the ledger's marks and the stale-data watchdog.
The reference price is the previous session's close, the base of KRX's ±30%
daily band; callers that know it better (a broker's quote) may set it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from engine.bus import EventBus
from engine.models import Bar, OrderBook, Tick

INF = float("inf")


@dataclass(slots=True)
class Quote:
    last: float = float("nan")
    bid: float = float("nan")
    ask: float = float("nan")
    reference: float = float("nan")  # previous session close
    session_close: float = float("nan")  # close of the latest daily bar seen
    updated_ns: int = 0


class MarketState:
    """``marks(symbol, price)``, if given, hears every valid last price (the ledger's
    marks): one handler per tick or bar instead of two."""

    def __init__(self, bus: EventBus | None = None,
                 marks: Callable[[str, float], None] | None = None) -> None:
        self._quotes: dict[str, Quote] = {}
        self._marks = marks
        if bus is not None:
            bus.subscribe(Tick, self.on_tick)
            bus.subscribe(OrderBook, self.on_book)
            bus.subscribe(Bar, self.on_bar)

    def quote(self, symbol: str) -> Quote:
        q = self._quotes.get(symbol)
        if q is None:
            q = self._quotes[symbol] = Quote()
        return q

    def last_price(self, symbol: str) -> float | None:
        q = self._quotes.get(symbol)
        if q is None or q.last != q.last:  # NaN
            return None
        return q.last

    def symbols(self) -> list[str]:
        return list(self._quotes)

    def on_tick(self, tick: Tick) -> None:
        q = self.quote(tick.symbol)
        q.last = price = tick.price
        q.updated_ns = tick.ts_ns
        if self._marks is not None and 0 < price < INF:  # NaN and garbage never mark
            self._marks(tick.symbol, price)

    def on_book(self, book: OrderBook) -> None:
        q = self.quote(book.symbol)
        if book.bids:
            q.bid = book.bids[0].price
        if book.asks:
            q.ask = book.asks[0].price
        q.updated_ns = max(q.updated_ns, book.ts_ns)

    def on_bar(self, bar: Bar) -> None:
        q = self._quotes.get(bar.symbol) or self.quote(bar.symbol)
        q.last = bar.close
        if bar.ts_ns > q.updated_ns:
            q.updated_ns = bar.ts_ns
        if bar.timeframe == "1d":
            q.reference = q.session_close if q.session_close == q.session_close else bar.open
            q.session_close = bar.close
        if self._marks is not None and 0 < bar.close < INF:
            self._marks(bar.symbol, bar.close)

    def set_reference(self, symbol: str, price: float) -> None:
        self.quote(symbol).reference = price
