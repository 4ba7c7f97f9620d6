"""The fake venue's state: books, a matching engine, spot balances and USD-M positions.

Everything here is synchronous and transport-free; ``server.py`` puts HTTP and
websockets in front of it. Every change is announced to listeners as the
payload Binance would push (``depthUpdate``, ``trade``/``aggTrade``, ``kline``,
``executionReport``, ``outboundAccountPosition``, ``ORDER_TRADE_UPDATE``,
``ACCOUNT_UPDATE``), and every REST answer is built in Binance's shape.

Rules that matter to an adapter and that this venue enforces like Binance:

* filters: tick size, step size, minimum quantity, minimum notional;
* ``newClientOrderId`` is unique among open orders (spot -2010 "Duplicate order
  sent.", futures -4116); orders are found by ``origClientOrderId`` later;
* spot buyers pay commission in the base asset, sellers in the quote asset;
  futures pay it in USDT; a cancelled spot order's ``executionReport`` carries
  the cancel's id in ``c`` and the original client id in ``C``;
* USD-M conditional types on ``/fapi/v1/order`` are refused (-4120): they go to
  the algo service (``algo.py``), which triggers on the last price;
* post-only (LIMIT_MAKER / GTX) orders that would take are refused; reduce-only
  orders that would grow a position are refused (-2022); margin (-2019) and
  balance (-2010) are checked before an order rests.

Two clocks: ``server_ms`` (wall clock plus a skew knob) stamps ``serverTime``
and judges ``timestamp``/``recvWindow``; ``market_ms`` is the market's own time
(trades, candles), which tests move forward one candle at a time with
``roll_bar`` so candle tests never wait for a real minute.
"""

from __future__ import annotations

import itertools
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal

from tests.brokers.ccxt.fake_binance.markets import DEFAULT_MARKETS, LINEAR, SPOT, MarketSpec

D = Decimal
ZERO = D(0)
MINUTE_MS = 60_000
_LIMIT_TYPES = ("LIMIT", "LIMIT_MAKER", "STOP_LOSS_LIMIT")

PublicListener = Callable[[str, str, dict], None]  # kind, stream name, payload
UserListener = Callable[[str, dict], None]  # kind, payload
PriceListener = Callable[[str, str, Decimal], None]  # kind, symbol, last price


class VenueError(Exception):
    """A refusal in Binance's words: ``{"code": -2010, "msg": "..."}`` with an HTTP status."""

    def __init__(self, code: int, msg: str, status: int = 400) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg
        self.status = status

    def body(self) -> dict[str, object]:
        return {"code": self.code, "msg": self.msg}


@dataclass
class VOrder:
    kind: str
    symbol: str
    order_id: int
    cid: str
    side: str
    type: str
    tif: str
    qty: Decimal
    price: Decimal
    stop_price: Decimal
    time: int
    status: str = "NEW"
    executed: Decimal = ZERO
    cum_quote: Decimal = ZERO
    update_time: int = 0
    reduce_only: bool = False
    triggered: bool = False
    locked: Decimal = ZERO  # spot: what this order still holds of the balance

    @property
    def remaining(self) -> Decimal:
        return self.qty - self.executed

    @property
    def is_open(self) -> bool:
        return self.status in ("NEW", "PARTIALLY_FILLED")


@dataclass
class VTrade:
    kind: str
    symbol: str
    id: int
    order_id: int
    side: str
    price: Decimal
    qty: Decimal
    commission: Decimal
    commission_asset: str
    time: int
    maker: bool
    realized_pnl: Decimal = ZERO


@dataclass(frozen=True)
class AggPrint:
    """One aggregate trade as Binance keeps it (``/api/v3/aggTrades``, ``@aggTrade``)."""

    a: int  # aggregate trade id: its own sequence, not the trade ids ``f``..``l``
    price: Decimal
    qty: Decimal
    f: int
    l: int  # noqa: E741 - Binance's own field name
    t: int
    buyer_maker: bool


@dataclass
class Candle:
    t: int
    o: Decimal
    h: Decimal
    l: Decimal  # noqa: E741 - Binance's own field name
    c: Decimal
    v: Decimal = ZERO
    q: Decimal = ZERO
    n: int = 0
    taker_v: Decimal = ZERO
    taker_q: Decimal = ZERO
    first_id: int = -1
    last_id: int = -1


@dataclass
class Book:
    bids: dict[Decimal, Decimal] = field(default_factory=dict)  # liquidity not ours
    asks: dict[Decimal, Decimal] = field(default_factory=dict)
    update_id: int = 1000


@dataclass
class Position:
    amt: Decimal = ZERO
    entry: Decimal = ZERO
    leverage: int = 20
    margin_type: str = "cross"
    realized: Decimal = ZERO


class FakeVenue:
    """One account on spot and USD-M futures, with books and candles per market."""

    def __init__(self, markets: tuple[MarketSpec, ...] = DEFAULT_MARKETS, *,
                 spot_balances: dict[str, str] | None = None,
                 futures_wallet: str = "10000", start_price: str = "60000") -> None:
        self.markets = {(m.kind, m.id): m for m in markets}
        self.skew_ms = 0
        now = int(time.time() * 1000)
        self.market_ms = now - now % MINUTE_MS
        self.books = {key: Book() for key in self.markets}
        self.orders: dict[tuple[str, int], VOrder] = {}
        self.trades: dict[str, list[VTrade]] = {SPOT: [], LINEAR: []}
        self.balances: dict[str, list[Decimal]] = {
            a: [D(v), ZERO] for a, v in (spot_balances or {"USDT": "100000", "BTC": "1",
                                                           "ETH": "10"}).items()}
        self.wallet = D(futures_wallet)
        self.positions: dict[str, Position] = defaultdict(Position)
        self.income: list[dict[str, object]] = []
        self.funding_rate: dict[str, Decimal] = defaultdict(lambda: D("0.0001"))
        self.last_price: dict[tuple[str, str], Decimal] = {k: D(start_price) for k in self.markets}
        self.candles: dict[tuple[str, str], list[Candle]] = {}
        for key in self.markets:
            p = self.last_price[key]
            self.candles[key] = [Candle(self.market_ms, p, p, p, p)]
        self._order_ids = itertools.count(4_000_000)
        self._trade_ids: dict[tuple[str, str], itertools.count] = {
            k: itertools.count(700_000) for k in self.markets}
        self._tran_ids = itertools.count(9_000_000)
        # Aggregate trade ids run in their own sequence, as on Binance, so an adapter that
        # mixed the ``trade`` and ``aggTrade`` id spaces would be caught.
        self._agg_ids: dict[tuple[str, str], itertools.count] = {
            k: itertools.count(300_000) for k in self.markets}
        self.prints: dict[tuple[str, str], list[AggPrint]] = {k: [] for k in self.markets}
        self.public_listeners: list[PublicListener] = []
        self.user_listeners: list[UserListener] = []
        self.price_listeners: list[PriceListener] = []
        self.order_listeners: list[Callable[[VOrder], None]] = []
        from tests.brokers.ccxt.fake_binance.algo import AlgoService

        self.algo = AlgoService(self)  # USD-M conditional orders (Binance's algo service)

    # ---- clocks ------------------------------------------------------------------------
    def server_ms(self) -> int:
        return int(time.time() * 1000) + self.skew_ms

    def _tick_market_clock(self) -> int:
        # Market time runs inside the current candle; each event moves it by 1 ms so
        # trades keep their order, never past the candle's end.
        candle_end = self._any_candle_start() + MINUTE_MS - 1
        self.market_ms = min(self.market_ms + 1, candle_end)
        return self.market_ms

    def _any_candle_start(self) -> int:
        return self.market_ms - self.market_ms % MINUTE_MS

    # ---- lookups -----------------------------------------------------------------------
    def market(self, kind: str, symbol: str) -> MarketSpec:
        m = self.markets.get((kind, symbol))
        if m is None:
            raise VenueError(-1121, "Invalid symbol.")
        return m

    def order(self, kind: str, symbol: str, order_id: int | None = None,
              cid: str | None = None) -> VOrder:
        if order_id is not None:
            o = self.orders.get((kind, order_id))
            if o is not None and o.symbol == symbol:
                return o
        elif cid:
            found = [o for o in self.orders.values()
                     if o.kind == kind and o.symbol == symbol and o.cid == cid]
            if found:
                open_ = [o for o in found if o.is_open]
                return (open_ or found)[-1]
        raise VenueError(-2013, "Order does not exist.")

    def open_orders(self, kind: str, symbol: str | None = None) -> list[VOrder]:
        return [o for o in self.orders.values() if o.kind == kind and o.is_open
                and (symbol is None or o.symbol == symbol)]

    # ---- books -------------------------------------------------------------------------
    def resting(self, kind: str, symbol: str, side: str) -> list[VOrder]:
        """Our resting, triggered limit orders on one side, best price first, then time."""
        orders = [o for o in self.open_orders(kind, symbol)
                  if o.side == side and o.type in ("LIMIT", "LIMIT_MAKER", "STOP_LOSS_LIMIT")
                  and (o.type != "STOP_LOSS_LIMIT" or o.triggered)]
        return sorted(orders, key=lambda o: (-o.price if side == "BUY" else o.price, o.order_id))

    def depth(self, kind: str, symbol: str, limit: int = 1000) -> tuple[list, list]:
        book = self.books[(kind, symbol)]
        bids: dict[Decimal, Decimal] = dict(book.bids)
        asks: dict[Decimal, Decimal] = dict(book.asks)
        for o in self.resting(kind, symbol, "BUY"):
            bids[o.price] = bids.get(o.price, ZERO) + o.remaining
        for o in self.resting(kind, symbol, "SELL"):
            asks[o.price] = asks.get(o.price, ZERO) + o.remaining
        b = sorted(((p, q) for p, q in bids.items() if q > 0), key=lambda x: -x[0])[:limit]
        a = sorted(((p, q) for p, q in asks.items() if q > 0), key=lambda x: x[0])[:limit]
        return b, a

    def set_book(self, kind: str, symbol: str, bids: list[tuple[str, str]],
                 asks: list[tuple[str, str]]) -> None:
        """Replace the liquidity (not our orders) with these levels; one diff event."""
        before = self.depth(kind, symbol)
        book = self.books[(kind, symbol)]
        book.bids = {D(p): D(q) for p, q in bids}
        book.asks = {D(p): D(q) for p, q in asks}
        self._emit_diff(kind, symbol, before)

    def update_levels(self, kind: str, symbol: str, bids: list[tuple[str, str]] = (),
                      asks: list[tuple[str, str]] = (), *, updates: int = 1) -> None:
        """Set liquidity at some levels (size 0 removes); one ``depthUpdate``."""
        before = self.depth(kind, symbol)
        book = self.books[(kind, symbol)]
        for p, q in bids:
            book.bids[D(p)] = D(q)
        for p, q in asks:
            book.asks[D(p)] = D(q)
        self._emit_diff(kind, symbol, before, updates=updates)

    def set_level(self, kind: str, symbol: str, side: str, price: str, qty: str) -> None:
        """One liquidity level changes (size 0 removes it): one ``depthUpdate``, computed
        without re-sorting the book - the fast path benchmarks use (assumes none of our
        orders rests at that price)."""
        book = self.books[(kind, symbol)]
        levels = book.bids if side == "BUY" else book.asks
        p, q = D(price), D(qty)
        if q:
            levels[p] = q
        else:
            levels.pop(p, None)
        book.update_id += 1
        entry = [[price, qty]]
        payload: dict[str, object] = {"e": "depthUpdate", "E": self.market_ms, "s": symbol,
                                      "U": book.update_id, "u": book.update_id,
                                      "b": entry if side == "BUY" else [],
                                      "a": [] if side == "BUY" else entry}
        if kind == LINEAR:
            payload["pu"] = book.update_id - 1
            payload["T"] = self.market_ms
        self._public(kind, f"{symbol.lower()}@depth", payload)

    def _emit_diff(self, kind: str, symbol: str, before: tuple[list, list], *,
                   updates: int = 1, force: bool = False) -> None:
        after = self.depth(kind, symbol)
        changes = []
        for side_before, side_after in zip(before, after, strict=True):
            old, new = dict(side_before), dict(side_after)
            diff = [(p, new.get(p, ZERO)) for p in sorted(set(old) | set(new))
                    if old.get(p) != new.get(p)]
            changes.append(diff)
        if not changes[0] and not changes[1] and not force:
            return
        book = self.books[(kind, symbol)]
        first = book.update_id + 1
        previous = book.update_id
        book.update_id += max(1, updates)
        m = self.market(kind, symbol)
        payload: dict[str, object] = {
            "e": "depthUpdate", "E": self.market_ms, "s": symbol, "U": first,
            "u": book.update_id,
            "b": [[m.price(p), m.qty(q)] for p, q in changes[0]],
            "a": [[m.price(p), m.qty(q)] for p, q in changes[1]],
        }
        if kind == LINEAR:
            payload = {"e": "depthUpdate", "E": self.market_ms, "T": self.market_ms,
                       "s": symbol, "U": first, "u": book.update_id, "pu": previous,
                       "b": payload["b"], "a": payload["a"]}
        self._public(kind, f"{symbol.lower()}@depth", payload)

    # ---- orders ------------------------------------------------------------------------
    def place(self, kind: str, p: dict[str, str]) -> VOrder:
        """Validate and accept an order (``p`` holds the request's parameters)."""
        m = self.market(kind, p.get("symbol", ""))
        side = p.get("side", "")
        otype = p.get("type", "")
        if side not in ("BUY", "SELL"):
            raise VenueError(-1102, "Mandatory parameter 'side' was not sent, was empty/null, "
                                    "or malformed.")
        allowed = ("LIMIT", "MARKET", "LIMIT_MAKER", "STOP_LOSS", "STOP_LOSS_LIMIT") \
            if kind == SPOT else ("LIMIT", "MARKET")
        if otype not in allowed:
            if kind == LINEAR and otype in ("STOP", "STOP_MARKET", "TAKE_PROFIT",
                                            "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET"):
                raise VenueError(-4120, "Order type not supported for this endpoint. Please use "
                                        "the Algo Order API endpoints instead.")
            raise VenueError(-1116, "Invalid orderType.")
        cid = p.get("newClientOrderId") or f"fake{next(self._order_ids)}"
        if any(o.cid == cid for o in self.open_orders(kind, m.id)):
            if kind == SPOT:
                raise VenueError(-2010, "Duplicate order sent.")
            raise VenueError(-4116, "ClientOrderId is duplicated.")
        qty = D(p.get("quantity", "0"))
        price = D(p.get("price", "0"))
        stop = D(p.get("stopPrice", "0"))
        tif = p.get("timeInForce", "GTC" if otype in ("LIMIT", "STOP_LOSS_LIMIT") else "")
        self._check_filters(m, otype, qty, price, stop)
        reduce_only = p.get("reduceOnly", "false").lower() == "true"
        now = self._tick_market_clock()
        o = VOrder(kind, m.id, next(self._order_ids), cid, side, otype, tif, qty, price, stop,
                   now, update_time=now, reduce_only=reduce_only)
        if otype == "LIMIT_MAKER" or tif == "GTX":
            if self._would_take(o):
                if kind == SPOT:
                    raise VenueError(-2010, "Order would immediately match and take.")
                raise VenueError(-5022, "Due to the order could not be executed as maker, the "
                                        "Post Only order will be rejected. The order will not be "
                                        "recorded in the order history")
        if kind == SPOT:
            self._lock_spot(o, m)
        else:
            self._check_futures(o, m)
        self.orders[(kind, o.order_id)] = o
        before = self.depth(kind, m.id)
        self._report(o, "NEW")
        if otype in ("STOP_LOSS", "STOP_LOSS_LIMIT"):
            return o
        self._take(o, m)
        self._finish_taker(o, m)
        self._emit_diff(kind, m.id, before)
        self._price_moved(kind, m.id)
        return o

    def _check_filters(self, m: MarketSpec, otype: str, qty: Decimal, price: Decimal,
                       stop: Decimal) -> None:
        if qty < m.min_qty or qty > m.max_qty or qty % m.step:
            raise VenueError(-1013, "Filter failure: LOT_SIZE")
        for value in (price, stop):
            if value and value % m.tick:
                raise VenueError(-1013, "Filter failure: PRICE_FILTER")
        if otype in ("LIMIT", "LIMIT_MAKER", "STOP_LOSS_LIMIT") and price <= 0:
            raise VenueError(-1102, "Mandatory parameter 'price' was not sent, was empty/null, "
                                    "or malformed.")
        ref = price or self.last_price[(m.kind, m.id)]
        if qty * ref < m.min_notional:
            if m.kind == SPOT:
                raise VenueError(-1013, "Filter failure: NOTIONAL")
            raise VenueError(-4164, f"Order's notional must be no smaller than {m.min_notional} "
                                    "(unless you choose reduce only).")

    def _would_take(self, o: VOrder) -> bool:
        book = self.books[(o.kind, o.symbol)]
        if o.side == "BUY":
            return bool(book.asks) and min(p for p, q in book.asks.items() if q > 0) <= o.price
        return bool(book.bids) and max(p for p, q in book.bids.items() if q > 0) >= o.price

    def _lock_spot(self, o: VOrder, m: MarketSpec) -> None:
        if o.side == "BUY":
            price = o.price if o.type != "MARKET" else self._sweep_cost(o, m) / o.qty
            need, asset = o.qty * price, m.quote
        else:
            need, asset = o.qty, m.base
        free = self.balances.setdefault(asset, [ZERO, ZERO])
        if free[0] < need:
            raise VenueError(-2010, "Account has insufficient balance for requested action.")
        free[0] -= need
        free[1] += need
        o.locked = need

    def _sweep_cost(self, o: VOrder, m: MarketSpec) -> Decimal:
        book = self.books[(o.kind, o.symbol)]
        left, cost = o.qty, ZERO
        for price in sorted(p for p, q in book.asks.items() if q > 0):
            take = min(left, book.asks[price])
            cost += take * price
            left -= take
            if left <= 0:
                break
        return cost + left * self.last_price[(o.kind, o.symbol)]

    def _check_futures(self, o: VOrder, m: MarketSpec) -> None:
        pos = self.positions[o.symbol]
        signed = o.qty if o.side == "BUY" else -o.qty
        if o.reduce_only and (pos.amt == 0 or (pos.amt > 0) == (signed > 0)
                              or abs(signed) > abs(pos.amt)):
            raise VenueError(-2022, "ReduceOnly Order is rejected.")
        growing = max(ZERO, abs(pos.amt + signed) - abs(pos.amt))
        ref = o.price or self.last_price[(o.kind, o.symbol)]
        if growing * ref / pos.leverage > self.available():
            raise VenueError(-2019, "Margin is insufficient.")

    def available(self) -> Decimal:
        used = ZERO
        for pos in self.positions.values():
            if pos.amt:
                used += abs(pos.amt) * pos.entry / pos.leverage
        for o in self.open_orders(LINEAR):
            used += o.remaining * (o.price or self.last_price[(LINEAR, o.symbol)]) \
                / self.positions[o.symbol].leverage
        return self.wallet + self.unrealized() - used

    def unrealized(self) -> Decimal:
        total = ZERO
        for sym, pos in self.positions.items():
            if pos.amt:
                total += (self.last_price[(LINEAR, sym)] - pos.entry) * pos.amt
        return total

    def _take(self, o: VOrder, m: MarketSpec) -> None:
        """Match a taker order against the book's liquidity (never against our own orders)."""
        book = self.books[(o.kind, o.symbol)]
        levels = book.asks if o.side == "BUY" else book.bids
        if o.type == "LIMIT" and o.tif == "FOK":
            reachable = sum((q for p, q in levels.items() if q > 0 and self._crosses(o, p)), ZERO)
            if reachable < o.qty:
                return
        for price in sorted((p for p, q in levels.items() if q > 0),
                            reverse=(o.side == "SELL")):
            if o.remaining <= 0 or not self._crosses(o, price):
                break
            take = min(o.remaining, levels[price])
            levels[price] -= take
            if levels[price] <= 0:
                del levels[price]
            self._execute(o, m, price, take, maker=False)

    @staticmethod
    def _crosses(o: VOrder, price: Decimal) -> bool:
        if o.type in ("MARKET", "STOP_LOSS"):
            return True
        return price <= o.price if o.side == "BUY" else price >= o.price

    def _finish_taker(self, o: VOrder, m: MarketSpec) -> None:
        if not o.is_open:
            return
        if o.type in ("MARKET", "STOP_LOSS") or o.tif in ("IOC", "FOK"):
            self._close(o, "EXPIRED")

    def _execute(self, o: VOrder, m: MarketSpec, price: Decimal, qty: Decimal, *,
                 maker: bool) -> VTrade:
        now = self._tick_market_clock()
        rate = m.maker if maker else m.taker
        trade_id = next(self._trade_ids[(o.kind, o.symbol)])
        realized = ZERO
        if o.kind == SPOT:
            if o.side == "BUY":
                commission, asset = (qty * rate).quantize(D("0.00000001"), ROUND_DOWN), m.base
                cost = qty * price
                if o.type in _LIMIT_TYPES:
                    release = qty * o.price  # held at the limit; a better price refunds
                    self._move(m.quote, free=release - cost, locked=-release)
                    o.locked -= release
                else:
                    held = min(cost, o.locked)
                    self._move(m.quote, free=held - cost, locked=-held)
                    o.locked -= held
                self._move(m.base, free=qty - commission)
            else:
                commission, asset = (qty * price * rate).quantize(D("0.00000001"), ROUND_DOWN), \
                    m.quote
                o.locked -= qty
                self._move(m.base, locked=-qty)
                self._move(m.quote, free=qty * price - commission)
        else:
            commission, asset = (qty * price * rate).quantize(D("0.00000001"), ROUND_DOWN), m.quote
            realized = self._apply_position(o.symbol, o.side, qty, price)
            self.wallet += realized - commission
        o.executed += qty
        o.cum_quote += qty * price
        o.update_time = now
        o.status = "FILLED" if o.remaining <= 0 else "PARTIALLY_FILLED"
        trade = VTrade(o.kind, o.symbol, trade_id, o.order_id, o.side, price, qty, commission,
                       asset, now, maker, realized)
        self.trades[o.kind].append(trade)
        self._print(o.kind, o.symbol, trade_id, price, qty, buyer_maker=(o.side == "SELL")
                    != maker, ts=now)
        self._report(o, "TRADE", trade)
        if o.status == "FILLED" and o.kind == SPOT and o.locked > 0:
            self._release(o)
        return trade

    def _move(self, asset: str, free: Decimal = ZERO, locked: Decimal = ZERO) -> None:
        bal = self.balances.setdefault(asset, [ZERO, ZERO])
        bal[0] += free
        bal[1] += locked

    def _release(self, o: VOrder) -> None:
        m = self.market(o.kind, o.symbol)
        asset = m.quote if o.side == "BUY" else m.base
        self._move(asset, free=o.locked, locked=-o.locked)
        o.locked = ZERO

    def _apply_position(self, symbol: str, side: str, qty: Decimal, price: Decimal) -> Decimal:
        pos = self.positions[symbol]
        signed = qty if side == "BUY" else -qty
        realized = ZERO
        if pos.amt == 0 or (pos.amt > 0) == (signed > 0):
            total = pos.amt + signed
            pos.entry = (pos.entry * abs(pos.amt) + price * qty) / abs(total)
            pos.amt = total
        else:
            closing = min(qty, abs(pos.amt))
            realized = (price - pos.entry) * closing * (1 if pos.amt > 0 else -1)
            pos.amt += signed
            if pos.amt == 0:
                pos.entry = ZERO
            elif (pos.amt > 0) == (signed > 0):  # flipped through zero
                pos.entry = price
        pos.realized += realized
        return realized

    def cancel(self, kind: str, symbol: str, order_id: int | None = None,
               cid: str | None = None, cancel_cid: str = "") -> VOrder:
        self.market(kind, symbol)
        try:
            o = self.order(kind, symbol, order_id, cid)
        except VenueError:
            raise VenueError(-2011, "Unknown order sent.") from None
        if not o.is_open:
            raise VenueError(-2011, "Unknown order sent.")
        before = self.depth(kind, symbol)
        self._close(o, "CANCELED", cancel_cid=cancel_cid or f"cancel{next(self._order_ids)}")
        self._emit_diff(kind, symbol, before)
        return o

    def cancel_all(self, kind: str, symbol: str) -> list[VOrder]:
        self.market(kind, symbol)
        orders = self.open_orders(kind, symbol)
        if not orders and kind == SPOT:
            raise VenueError(-2011, "Unknown order sent.")
        before = self.depth(kind, symbol)
        for o in orders:
            self._close(o, "CANCELED", cancel_cid=f"cancel{next(self._order_ids)}")
        self._emit_diff(kind, symbol, before)
        return orders

    def _close(self, o: VOrder, status: str, cancel_cid: str = "") -> None:
        o.status = status
        o.update_time = self._tick_market_clock()
        if o.kind == SPOT and o.locked > 0:
            self._release(o)
        self._report(o, status, cancel_cid=cancel_cid)

    # ---- the outside market -------------------------------------------------------------
    def external_trade(self, kind: str, symbol: str, taker_side: str, qty: str | Decimal,
                       price: str | Decimal) -> list[VTrade]:
        """Someone else takes ``qty`` at ``price`` or better: our resting orders fill first
        (price-time), the rest prints against liquidity. Stops trigger on the print."""
        m = self.market(kind, symbol)
        qty, price = D(qty), D(price)
        before = self.depth(kind, symbol)
        ours = self.resting(kind, symbol, "SELL" if taker_side == "BUY" else "BUY")
        fills: list[VTrade] = []
        left = qty
        for o in ours:
            if left <= 0:
                break
            if (taker_side == "BUY" and o.price > price) or (taker_side == "SELL"
                                                             and o.price < price):
                break
            take = min(left, o.remaining)
            fills.append(self._execute(o, m, o.price, take, maker=True))
            left -= take
        if left > 0:
            trade_id = next(self._trade_ids[(kind, symbol)])
            self._print(kind, symbol, trade_id, price, left, buyer_maker=taker_side == "SELL",
                        ts=self._tick_market_clock())
        self.last_price[(kind, symbol)] = price
        self._trigger_stops(kind, symbol, m, price)
        self._price_moved(kind, symbol)
        self._emit_diff(kind, symbol, before)
        return fills

    def fill(self, kind: str, symbol: str, cid: str, qty: str | Decimal | None = None) -> VTrade:
        """An outside taker fills (part of) our resting order at its own price."""
        m = self.market(kind, symbol)
        o = self.order(kind, symbol, cid=cid)
        if not o.is_open:
            raise ValueError(f"order {cid} is {o.status}")
        before = self.depth(kind, symbol)
        trade = self._execute(o, m, o.price or self.last_price[(kind, symbol)],
                              o.remaining if qty is None else D(qty), maker=True)
        self.last_price[(kind, symbol)] = trade.price
        self._price_moved(kind, symbol)
        self._emit_diff(kind, symbol, before)
        return trade

    def _price_moved(self, kind: str, symbol: str) -> None:
        for listener in list(self.price_listeners):
            listener(kind, symbol, self.last_price[(kind, symbol)])

    def _trigger_stops(self, kind: str, symbol: str, m: MarketSpec, last: Decimal) -> None:
        for o in list(self.open_orders(kind, symbol)):
            if o.type not in ("STOP_LOSS", "STOP_LOSS_LIMIT") or o.triggered:
                continue
            hit = last <= o.stop_price if o.side == "SELL" else last >= o.stop_price
            if not hit:
                continue
            o.triggered = True
            self._take(o, m)
            self._finish_taker(o, m)

    def _print(self, kind: str, symbol: str, trade_id: int, price: Decimal, qty: Decimal, *,
               buyer_maker: bool, ts: int) -> None:
        m = self.market(kind, symbol)
        self.last_price[(kind, symbol)] = price
        c = self.candles[(kind, symbol)][-1]
        c.h, c.l, c.c = max(c.h, price), min(c.l, price), price
        if c.n == 0:
            c.o = c.h = c.l = price
            c.first_id = trade_id
        c.v += qty
        c.q += qty * price
        c.n += 1
        c.last_id = trade_id
        if not buyer_maker:
            c.taker_v += qty
            c.taker_q += qty * price
        agg = AggPrint(next(self._agg_ids[(kind, symbol)]), price, qty, trade_id, trade_id, ts,
                       buyer_maker)
        self.prints[(kind, symbol)].append(agg)
        self._public(kind, f"{symbol.lower()}@aggTrade",
                     {"e": "aggTrade", "E": ts, "s": symbol, **self.agg_json(m, agg)})
        trade: dict[str, object] = {"e": "trade", "E": ts, "s": symbol, "t": trade_id,
                                    "p": m.price(price), "q": m.qty(qty), "T": ts,
                                    "m": buyer_maker}
        if kind == SPOT:
            trade["M"] = True
        else:
            trade["X"] = "MARKET"
        self._public(kind, f"{symbol.lower()}@trade", trade)
        self._emit_kline(kind, symbol, closed=False)

    @staticmethod
    def agg_json(m: MarketSpec, p: AggPrint) -> dict[str, object]:
        """An aggregate trade in Binance's REST shape (the stream adds ``e``, ``E``, ``s``)."""
        out: dict[str, object] = {"a": p.a, "p": m.price(p.price), "q": m.qty(p.qty),
                                  "f": p.f, "l": p.l, "T": p.t, "m": p.buyer_maker}
        if m.kind == SPOT:
            out["M"] = True  # spot only: "was the trade the best price match"
        return out

    def agg_trades(self, kind: str, symbol: str, from_id: int | None, start: int | None,
                   end: int | None, limit: int) -> list[dict[str, object]]:
        """``GET aggTrades``: by id from ``fromId``, or a time window of at most an hour, or
        the most recent; oldest first, at most ``limit``."""
        m = self.market(kind, symbol)
        if not 1 <= limit <= 1000:
            raise VenueError(-1100, "Illegal characters found in parameter 'limit'; legal "
                                    "range is '1-1000'.")
        if from_id is not None and (start is not None or end is not None):
            raise VenueError(-1128, "Combination of optional parameters invalid.")
        if start is not None and end is not None and end - start > 3_600_000:
            raise VenueError(-1127, "More than 1 hours between startTime and endTime.")
        prints = self.prints[(kind, symbol)]
        if from_id is not None:
            rows = [p for p in prints if p.a >= from_id][:limit]
        elif start is not None or end is not None:
            rows = [p for p in prints if (start is None or p.t >= start)
                    and (end is None or p.t <= end)][:limit]
        else:
            rows = prints[-limit:]
        return [self.agg_json(m, p) for p in rows]

    # ---- candles -----------------------------------------------------------------------
    def roll_bar(self, kind: str | None = None, symbol: str | None = None) -> None:
        """Close the current candle of every (or one) market and open the next minute."""
        nxt = self._any_candle_start() + MINUTE_MS
        for (k, s) in self.markets:
            if (kind is None or k == kind) and (symbol is None or s == symbol):
                self._emit_kline(k, s, closed=True)
                last = self.candles[(k, s)][-1].c
                self.candles[(k, s)].append(Candle(nxt, last, last, last, last))
        self.market_ms = nxt
        for (k, s) in self.markets:
            if (kind is None or k == kind) and (symbol is None or s == symbol):
                self._emit_kline(k, s, closed=False)

    def kline_row(self, kind: str, symbol: str, c: Candle) -> list[object]:
        m = self.market(kind, symbol)
        return [c.t, m.price(c.o), m.price(c.h), m.price(c.l), m.price(c.c), m.qty(c.v),
                c.t + MINUTE_MS - 1, f"{c.q:.8f}", c.n, m.qty(c.taker_v), f"{c.taker_q:.8f}", "0"]

    def klines(self, kind: str, symbol: str, interval: str, start: int | None, end: int | None,
               limit: int) -> list[list[object]]:
        self.market(kind, symbol)
        if interval != "1m":
            raise VenueError(-1120, "Invalid interval.")
        rows = [c for c in self.candles[(kind, symbol)]
                if (start is None or c.t >= start) and (end is None or c.t <= end)]
        rows = rows[:limit] if start is not None else rows[-limit:]
        return [self.kline_row(kind, symbol, c) for c in rows]

    def emit_kline(self, kind: str, symbol: str) -> None:
        """The forming candle again (Binance repeats it every couple of seconds)."""
        self._emit_kline(kind, symbol, closed=False)

    def _emit_kline(self, kind: str, symbol: str, closed: bool) -> None:
        c = self.candles[(kind, symbol)][-1]
        m = self.market(kind, symbol)
        self._public(kind, f"{symbol.lower()}@kline_1m", {
            "e": "kline", "E": self.market_ms, "s": symbol, "k": {
                "t": c.t, "T": c.t + MINUTE_MS - 1, "s": symbol, "i": "1m", "f": c.first_id,
                "L": c.last_id, "o": m.price(c.o), "c": m.price(c.c), "h": m.price(c.h),
                "l": m.price(c.l), "v": m.qty(c.v), "n": c.n, "x": closed,
                "q": f"{c.q:.8f}", "V": m.qty(c.taker_v), "Q": f"{c.taker_q:.8f}", "B": "0"}})

    # ---- futures account -----------------------------------------------------------------
    def set_leverage(self, symbol: str, leverage: int) -> None:
        self.market(LINEAR, symbol)
        if not 1 <= leverage <= 125:
            raise VenueError(-4028, "Leverage is not valid")
        self.positions[symbol].leverage = leverage

    def set_margin_type(self, symbol: str, margin_type: str) -> None:
        self.market(LINEAR, symbol)
        wanted = {"ISOLATED": "isolated", "CROSSED": "cross"}.get(margin_type.upper())
        if wanted is None:
            raise VenueError(-1116, "Invalid marginType.")
        pos = self.positions[symbol]
        if pos.margin_type == wanted:
            raise VenueError(-4046, "No need to change margin type.")
        if pos.amt or self.open_orders(LINEAR, symbol):
            raise VenueError(-4048, "Margin type cannot be changed if there exists position.")
        pos.margin_type = wanted

    def settle_funding(self, symbol: str, rate: str | Decimal | None = None) -> Decimal:
        """Pay funding on the open position (positive rate: longs pay shorts)."""
        if rate is not None:
            self.funding_rate[symbol] = D(rate)
        pos = self.positions[symbol]
        mark = self.last_price[(LINEAR, symbol)]
        amount = (-pos.amt * mark * self.funding_rate[symbol]).quantize(D("0.00000001"))
        self.wallet += amount
        now = self.market_ms
        self.income.append({"symbol": symbol, "incomeType": "FUNDING_FEE",
                            "income": f"{amount:.8f}", "asset": "USDT", "info": "FUNDING_FEE",
                            "time": now, "tranId": next(self._tran_ids), "tradeId": ""})
        self._user(LINEAR, self._account_update("FUNDING_FEE", [symbol]))
        return amount

    def next_funding_ms(self) -> int:
        eight_hours = 8 * 3600 * 1000
        return (self.market_ms // eight_hours + 1) * eight_hours

    # ---- reports -----------------------------------------------------------------------
    def _report(self, o: VOrder, exec_type: str, trade: VTrade | None = None,
                cancel_cid: str = "") -> None:
        m = self.market(o.kind, o.symbol)
        if o.kind == SPOT:
            self._user(SPOT, self._execution_report(o, m, exec_type, trade, cancel_cid))
            if exec_type in ("NEW", "TRADE", "CANCELED", "EXPIRED"):
                self._user(SPOT, self._outbound_account_position(m))
        else:
            self._user(LINEAR, self._order_trade_update(o, m, exec_type, trade))
            if trade is not None:
                self._user(LINEAR, self._account_update("ORDER", [o.symbol]))
        for listener in list(self.order_listeners):
            listener(o)

    def _execution_report(self, o: VOrder, m: MarketSpec, x: str, t: VTrade | None,
                          cancel_cid: str) -> dict[str, object]:
        now = o.update_time
        cancelled = o.status == "CANCELED"
        return {
            "e": "executionReport", "E": now, "s": o.symbol,
            "c": cancel_cid if cancelled else o.cid, "S": o.side, "o": o.type,
            "f": o.tif or "GTC", "q": m.qty(o.qty), "p": m.price(o.price),
            "P": m.price(o.stop_price), "F": "0.00000000", "g": -1,
            "C": o.cid if cancelled else "", "x": x, "X": o.status, "r": "NONE",
            "i": o.order_id, "l": m.qty(t.qty if t else ZERO),
            "z": m.qty(o.executed), "L": m.price(t.price if t else ZERO),
            "n": f"{t.commission:.8f}" if t else "0", "N": t.commission_asset if t else None,
            "T": t.time if t else now, "t": t.id if t else -1, "v": 3,
            "I": o.order_id * 2 + (t.id if t else 0), "w": o.is_open and o.type not in (
                "STOP_LOSS", "STOP_LOSS_LIMIT") or o.triggered,
            "m": t.maker if t else False, "M": False, "O": o.time,
            "Z": f"{o.cum_quote:.8f}", "Y": f"{(t.qty * t.price) if t else ZERO:.8f}",
            "Q": "0.00000000", "W": o.time, "V": "EXPIRE_MAKER",
        }

    def _order_trade_update(self, o: VOrder, m: MarketSpec, x: str,
                            t: VTrade | None) -> dict[str, object]:
        now = o.update_time
        avg = o.cum_quote / o.executed if o.executed else ZERO
        return {"e": "ORDER_TRADE_UPDATE", "E": now, "T": now, "o": {
            "s": o.symbol, "c": o.cid, "S": o.side, "o": o.type, "f": o.tif or "GTC",
            "q": m.qty(o.qty), "p": m.price(o.price), "ap": f"{avg:.8f}".rstrip("0"),
            "sp": m.price(o.stop_price), "x": x, "X": o.status, "i": o.order_id,
            "l": m.qty(t.qty if t else ZERO), "z": m.qty(o.executed),
            "L": m.price(t.price if t else ZERO), "N": t.commission_asset if t else "USDT",
            "n": f"{t.commission:.8f}" if t else "0", "T": t.time if t else now,
            "t": t.id if t else 0, "b": "0", "a": "0", "m": t.maker if t else False,
            "R": o.reduce_only, "wt": "CONTRACT_PRICE", "ot": o.type, "ps": "BOTH",
            "cp": False, "rp": f"{t.realized_pnl:.8f}" if t else "0", "pP": False, "si": 0,
            "ss": 0, "V": "EXPIRE_TAKER", "pm": "NONE", "gtd": 0}}

    def _outbound_account_position(self, m: MarketSpec) -> dict[str, object]:
        now = self.market_ms
        return {"e": "outboundAccountPosition", "E": now, "u": now, "B": [
            {"a": a, "f": f"{self.balances.get(a, [ZERO, ZERO])[0]:.8f}",
             "l": f"{self.balances.get(a, [ZERO, ZERO])[1]:.8f}"} for a in (m.base, m.quote)]}

    def _account_update(self, reason: str, symbols: list[str]) -> dict[str, object]:
        now = self.market_ms
        positions = []
        for s in symbols:
            pos = self.positions[s]
            up = (self.last_price[(LINEAR, s)] - pos.entry) * pos.amt if pos.amt else ZERO
            positions.append({"s": s, "pa": f"{pos.amt}", "ep": f"{pos.entry:.8f}",
                              "bep": f"{pos.entry:.8f}", "cr": f"{pos.realized:.8f}",
                              "up": f"{up:.8f}", "mt": pos.margin_type, "iw": "0", "ps": "BOTH"})
        return {"e": "ACCOUNT_UPDATE", "E": now, "T": now, "a": {
            "m": reason, "B": [{"a": "USDT", "wb": f"{self.wallet:.8f}",
                                "cw": f"{self.wallet:.8f}", "bc": "0"}],
            "P": positions}}

    def _public(self, kind: str, stream: str, payload: dict) -> None:
        for listener in list(self.public_listeners):
            listener(kind, stream, payload)

    def _user(self, kind: str, payload: dict) -> None:
        for listener in list(self.user_listeners):
            listener(kind, payload)

    # ---- REST shapes --------------------------------------------------------------------
    def order_json(self, o: VOrder, *, full: bool = False,
                   fills: list[VTrade] | None = None) -> dict[str, object]:
        m = self.market(o.kind, o.symbol)
        if o.kind == SPOT:
            out: dict[str, object] = {
                "symbol": o.symbol, "orderId": o.order_id, "orderListId": -1,
                "clientOrderId": o.cid, "price": m.price(o.price), "origQty": m.qty(o.qty),
                "executedQty": m.qty(o.executed), "cummulativeQuoteQty": f"{o.cum_quote:.8f}",
                "status": o.status, "timeInForce": o.tif or "GTC", "type": o.type,
                "side": o.side, "stopPrice": m.price(o.stop_price), "icebergQty": "0.00000000",
                "time": o.time, "updateTime": o.update_time,
                "isWorking": o.type not in ("STOP_LOSS", "STOP_LOSS_LIMIT") or o.triggered,
                "workingTime": o.time, "origQuoteOrderQty": "0.00000000",
                "selfTradePreventionMode": "EXPIRE_MAKER",
            }
            if full:
                out = {k: out[k] for k in ("symbol", "orderId", "orderListId", "clientOrderId",
                                           "price", "origQty", "executedQty",
                                           "cummulativeQuoteQty", "status", "timeInForce",
                                           "type", "side", "workingTime",
                                           "selfTradePreventionMode")}
                out["transactTime"] = o.time
                out["origQuoteOrderQty"] = "0.00000000"
                out["fills"] = [{"price": m.price(t.price), "qty": m.qty(t.qty),
                                 "commission": f"{t.commission:.8f}",
                                 "commissionAsset": t.commission_asset, "tradeId": t.id}
                                for t in (fills or [])]
            return out
        avg = o.cum_quote / o.executed if o.executed else ZERO
        return {
            "orderId": o.order_id, "symbol": o.symbol, "status": o.status,
            "clientOrderId": o.cid, "price": m.price(o.price),
            "avgPrice": f"{avg:.8f}" if o.executed else "0.00", "origQty": m.qty(o.qty),
            "executedQty": m.qty(o.executed), "cumQty": m.qty(o.executed),
            "cumQuote": f"{o.cum_quote:.8f}", "timeInForce": o.tif or "GTC", "type": o.type,
            "reduceOnly": o.reduce_only, "closePosition": False, "side": o.side,
            "positionSide": "BOTH", "stopPrice": m.price(o.stop_price), "workingType":
            "CONTRACT_PRICE", "priceProtect": False, "origType": o.type, "priceMatch": "NONE",
            "selfTradePreventionMode": "EXPIRE_TAKER", "goodTillDate": 0, "time": o.time,
            "updateTime": o.update_time,
        }

    def cancel_json(self, o: VOrder, cancel_cid: str) -> dict[str, object]:
        if o.kind == LINEAR:
            return self.order_json(o)
        m = self.market(o.kind, o.symbol)
        return {"symbol": o.symbol, "origClientOrderId": o.cid, "orderId": o.order_id,
                "orderListId": -1, "clientOrderId": cancel_cid, "transactTime": o.update_time,
                "price": m.price(o.price), "origQty": m.qty(o.qty),
                "executedQty": m.qty(o.executed), "cummulativeQuoteQty": f"{o.cum_quote:.8f}",
                "status": o.status, "timeInForce": o.tif or "GTC", "type": o.type,
                "side": o.side, "selfTradePreventionMode": "EXPIRE_MAKER"}

    def trade_json(self, t: VTrade) -> dict[str, object]:
        m = self.market(t.kind, t.symbol)
        if t.kind == SPOT:
            return {"symbol": t.symbol, "id": t.id, "orderId": t.order_id, "orderListId": -1,
                    "price": m.price(t.price), "qty": m.qty(t.qty),
                    "quoteQty": f"{t.price * t.qty:.8f}", "commission": f"{t.commission:.8f}",
                    "commissionAsset": t.commission_asset, "time": t.time,
                    "isBuyer": t.side == "BUY", "isMaker": t.maker, "isBestMatch": True}
        return {"buyer": t.side == "BUY", "commission": f"{t.commission:.8f}",
                "commissionAsset": t.commission_asset, "id": t.id, "maker": t.maker,
                "orderId": t.order_id, "price": m.price(t.price), "qty": m.qty(t.qty),
                "quoteQty": f"{t.price * t.qty:.8f}", "realizedPnl": f"{t.realized_pnl:.8f}",
                "side": t.side, "positionSide": "BOTH", "symbol": t.symbol, "time": t.time}

    def spot_account(self) -> dict[str, object]:
        return {
            "makerCommission": 10, "takerCommission": 10, "buyerCommission": 0,
            "sellerCommission": 0, "commissionRates": {"maker": "0.00100000",
                                                       "taker": "0.00100000",
                                                       "buyer": "0.00000000",
                                                       "seller": "0.00000000"},
            "canTrade": True, "canWithdraw": True, "canDeposit": True, "brokered": False,
            "requireSelfTradePrevention": False, "preventSor": False,
            "updateTime": self.market_ms, "accountType": "SPOT",
            "balances": [{"asset": a, "free": f"{v[0]:.8f}", "locked": f"{v[1]:.8f}"}
                         for a, v in sorted(self.balances.items())],
            "permissions": ["SPOT"], "uid": 354937868,
        }

    def futures_account(self) -> dict[str, object]:
        up = self.unrealized()
        avail = self.available()
        w = f"{self.wallet:.8f}"
        positions = []
        for s, pos in self.positions.items():
            if pos.amt:
                upnl = (self.last_price[(LINEAR, s)] - pos.entry) * pos.amt
                positions.append({
                    "symbol": s, "positionSide": "BOTH", "positionAmt": f"{pos.amt}",
                    "unrealizedProfit": f"{upnl:.8f}", "isolatedMargin": "0",
                    "notional": f"{pos.amt * self.last_price[(LINEAR, s)]:.8f}",
                    "isolatedWallet": "0",
                    "initialMargin": f"{abs(pos.amt) * pos.entry / pos.leverage:.8f}",
                    "maintMargin": "0", "updateTime": self.market_ms})
        return {
            "totalInitialMargin": "0", "totalMaintMargin": "0", "totalWalletBalance": w,
            "totalUnrealizedProfit": f"{up:.8f}", "totalMarginBalance": f"{self.wallet + up:.8f}",
            "totalPositionInitialMargin": "0", "totalOpenOrderInitialMargin": "0",
            "totalCrossWalletBalance": w, "totalCrossUnPnl": f"{up:.8f}",
            "availableBalance": f"{avail:.8f}", "maxWithdrawAmount": f"{avail:.8f}",
            "assets": [{"asset": "USDT", "walletBalance": w, "unrealizedProfit": f"{up:.8f}",
                        "marginBalance": f"{self.wallet + up:.8f}", "maintMargin": "0",
                        "initialMargin": "0", "positionInitialMargin": "0",
                        "openOrderInitialMargin": "0", "crossWalletBalance": w,
                        "crossUnPnl": f"{up:.8f}", "availableBalance": f"{avail:.8f}",
                        "maxWithdrawAmount": f"{avail:.8f}", "updateTime": self.market_ms}],
            "positions": positions,
        }

    def position_risk(self, symbol: str | None = None) -> list[dict[str, object]]:
        out = []
        for s, pos in self.positions.items():
            if (symbol is not None and s != symbol) or not pos.amt:
                continue
            mark = self.last_price[(LINEAR, s)]
            out.append({
                "symbol": s, "positionSide": "BOTH", "positionAmt": f"{pos.amt}",
                "entryPrice": f"{pos.entry:.8f}", "breakEvenPrice": f"{pos.entry:.8f}",
                "markPrice": f"{mark:.8f}",
                "unRealizedProfit": f"{(mark - pos.entry) * pos.amt:.8f}",
                "liquidationPrice": "0", "isolatedMargin": "0",
                "notional": f"{pos.amt * mark:.8f}", "marginAsset": "USDT",
                "isolatedWallet": "0",
                "initialMargin": f"{abs(pos.amt) * mark / pos.leverage:.8f}",
                "maintMargin": "0",
                "positionInitialMargin": f"{abs(pos.amt) * mark / pos.leverage:.8f}",
                "openOrderInitialMargin": "0", "adl": 1, "bidNotional": "0", "askNotional": "0",
                "updateTime": self.market_ms})
        return out

    def premium_index(self, symbol: str) -> dict[str, object]:
        mark = self.last_price[(LINEAR, symbol)]
        return {"symbol": symbol, "markPrice": f"{mark:.8f}", "indexPrice": f"{mark:.8f}",
                "estimatedSettlePrice": f"{mark:.8f}",
                "lastFundingRate": f"{self.funding_rate[symbol]:.8f}",
                "interestRate": "0.00010000", "nextFundingTime": self.next_funding_ms(),
                "time": self.market_ms}
