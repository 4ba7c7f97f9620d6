"""USD-M conditional orders on the fake venue: Binance's algo service.

Since the end of 2025 Binance takes USD-M STOP_MARKET / STOP / TAKE_PROFIT /
TAKE_PROFIT_MARKET orders only on ``/fapi/v1/algoOrder`` (``algoType`` =
CONDITIONAL, ``clientAlgoId`` instead of ``newClientOrderId``,
``triggerPrice`` instead of ``stopPrice``). An algo order waits outside the
matching engine; when the price it watches (here the last trade price, i.e.
``workingType`` CONTRACT_PRICE) crosses the trigger, the service places an
ordinary MARKET (``*_MARKET``) or LIMIT order in the matching engine, with the
algo order's client id as its ``clientOrderId``, and that order reports
through ``ORDER_TRADE_UPDATE`` like any other.

The algo order itself reports through ``ALGO_UPDATE`` with ``X`` =
NEW (placed), CANCELED, TRIGGERING (condition met, being sent),
TRIGGERED (in the matching engine; ``ai`` is the new order's id), FINISHED
(that order is filled, cancelled or expired), REJECTED (the matching engine
refused it, e.g. reduce-only or margin; ``rm`` says why) or EXPIRED.

Rules enforced like Binance: a stop that would trigger at once is refused
(-2021); a client algo id is unique among open algo orders; filters as for
ordinary orders; unknown / no longer open algo orders are -2013 on a query and
-2011 on a cancel.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from tests.brokers.ccxt.fake_binance.markets import LINEAR

if TYPE_CHECKING:
    from tests.brokers.ccxt.fake_binance.venue import FakeVenue, VOrder

D = Decimal
ZERO = D(0)
TYPES = ("STOP_MARKET", "STOP", "TAKE_PROFIT_MARKET", "TAKE_PROFIT")
OPEN = ("NEW", "TRIGGERING")


@dataclass
class AlgoOrder:
    algo_id: int
    cid: str
    symbol: str
    side: str
    type: str
    qty: Decimal
    price: Decimal
    trigger: Decimal
    tif: str
    reduce_only: bool
    create_time: int
    update_time: int
    status: str = "NEW"
    trigger_time: int = 0
    actual_order_id: int | None = None
    reason: str = ""

    @property
    def is_open(self) -> bool:
        return self.status in OPEN

    def hit(self, last: Decimal) -> bool:
        """Has the price reached the trigger? (stops: against the position; take-profits: with)"""
        stop = self.type in ("STOP_MARKET", "STOP")
        falling = (self.side == "SELL") == stop
        return last <= self.trigger if falling else last >= self.trigger


class AlgoService:
    """The algo orders of the one account; triggers on every price the venue prints."""

    def __init__(self, venue: FakeVenue) -> None:
        self.venue = venue
        self.orders: dict[int, AlgoOrder] = {}
        self._ids = itertools.count(1_000_000_000)
        self._checking = False
        venue.price_listeners.append(self.on_price)
        venue.order_listeners.append(self.on_order)

    # ---- requests ----------------------------------------------------------------------
    def place(self, p: dict[str, str]) -> AlgoOrder:
        from tests.brokers.ccxt.fake_binance.venue import VenueError

        v = self.venue
        m = v.market(LINEAR, p.get("symbol", ""))
        if p.get("algoType") != "CONDITIONAL":
            raise VenueError(-1102, "Mandatory parameter 'algoType' was not sent, was "
                                    "empty/null, or malformed.")
        side, otype = p.get("side", ""), p.get("type", "")
        if side not in ("BUY", "SELL"):
            raise VenueError(-1102, "Mandatory parameter 'side' was not sent, was empty/null, "
                                    "or malformed.")
        if otype not in TYPES:
            raise VenueError(-1116, "Invalid orderType.")
        trigger = D(p.get("triggerPrice") or "0")
        if trigger <= 0:
            raise VenueError(-1102, "Mandatory parameter 'triggerPrice' was not sent, was "
                                    "empty/null, or malformed.")
        cid = p.get("clientAlgoId") or f"fakealgo{next(self._ids)}"
        if any(a.cid == cid and a.is_open for a in self.orders.values()):
            raise VenueError(-4116, "ClientOrderId is duplicated.")
        qty, price = D(p.get("quantity") or "0"), D(p.get("price") or "0")
        limit = otype in ("STOP", "TAKE_PROFIT")
        if limit and price <= 0:
            raise VenueError(-1102, "Mandatory parameter 'price' was not sent, was empty/null, "
                                    "or malformed.")
        v._check_filters(m, "LIMIT" if limit else "MARKET", qty, price, trigger)
        now = v._tick_market_clock()
        a = AlgoOrder(next(self._ids), cid, m.id, side, otype, qty, price, trigger,
                      p.get("timeInForce", "GTC"),
                      p.get("reduceOnly", "false").lower() == "true", now, now)
        if a.hit(v.last_price[(LINEAR, m.id)]):
            raise VenueError(-2021, "Order would immediately trigger.")
        self.orders[a.algo_id] = a
        self._emit(a)
        return a

    def find(self, p: dict[str, str]) -> AlgoOrder:
        from tests.brokers.ccxt.fake_binance.venue import VenueError

        algo_id, cid = p.get("algoId"), p.get("clientAlgoId")
        found = [a for a in self.orders.values()
                 if (algo_id and str(a.algo_id) == algo_id) or (not algo_id and cid
                                                                 and a.cid == cid)]
        if not found:
            raise VenueError(-2013, "Order does not exist.")
        return ([a for a in found if a.is_open] or found)[-1]

    def cancel(self, p: dict[str, str]) -> AlgoOrder:
        from tests.brokers.ccxt.fake_binance.venue import VenueError

        try:
            a = self.find(p)
        except VenueError:
            raise VenueError(-2011, "Unknown order sent.") from None
        if a.status != "NEW":
            raise VenueError(-2011, "Unknown order sent.")
        self._close(a, "CANCELED")
        return a

    def cancel_all(self, symbol: str) -> list[AlgoOrder]:
        self.venue.market(LINEAR, symbol)
        orders = self.open_orders(symbol)
        for a in orders:
            self._close(a, "CANCELED")
        return orders

    def open_orders(self, symbol: str | None = None) -> list[AlgoOrder]:
        return [a for a in self.orders.values() if a.is_open
                and (symbol is None or a.symbol == symbol)]

    # ---- triggering ----------------------------------------------------------------------
    def on_price(self, kind: str, symbol: str, last: Decimal) -> None:
        if kind != LINEAR or self._checking:
            return
        self._checking = True  # the triggered orders print prices themselves
        try:
            for a in [a for a in self.open_orders(symbol) if a.status == "NEW"]:
                if a.hit(last):
                    self._trigger(a)
        finally:
            self._checking = False

    def _trigger(self, a: AlgoOrder) -> None:
        from tests.brokers.ccxt.fake_binance.venue import VenueError

        v = self.venue
        a.status, a.trigger_time = "TRIGGERING", v._tick_market_clock()
        a.update_time = a.trigger_time
        self._emit(a)
        limit = a.type in ("STOP", "TAKE_PROFIT")
        request = {"symbol": a.symbol, "side": a.side, "type": "LIMIT" if limit else "MARKET",
                   "quantity": str(a.qty), "newClientOrderId": a.cid,
                   "reduceOnly": "true" if a.reduce_only else "false"}
        if limit:
            request.update(price=str(a.price), timeInForce=a.tif)
        try:
            child = v.place(LINEAR, request)
        except VenueError as exc:
            a.reason = "Reduce Only reject" if exc.code == -2022 else exc.msg
            self._close(a, "REJECTED")
            return
        a.actual_order_id = child.order_id
        a.status = "TRIGGERED"
        self._emit(a)
        if not child.is_open:
            self._close(a, "FINISHED")

    def on_order(self, o: VOrder) -> None:
        """The matching engine reported ``o``: a triggered order that ended finishes its algo."""
        if o.kind != LINEAR or o.is_open:
            return
        for a in self.orders.values():
            if a.actual_order_id == o.order_id and a.status == "TRIGGERED":
                self._close(a, "FINISHED")

    def _close(self, a: AlgoOrder, status: str) -> None:
        a.status = status
        a.update_time = self.venue._tick_market_clock()
        self._emit(a)

    # ---- shapes ------------------------------------------------------------------------
    def _child(self, a: AlgoOrder) -> VOrder | None:
        if a.actual_order_id is None:
            return None
        return self.venue.orders.get((LINEAR, a.actual_order_id))

    def _emit(self, a: AlgoOrder) -> None:
        m = self.venue.market(LINEAR, a.symbol)
        child = self._child(a)
        executed = child.executed if child else ZERO
        avg = child.cum_quote / child.executed if child and child.executed else ZERO
        payload: dict[str, object] = {
            "caid": a.cid, "aid": a.algo_id, "at": "CONDITIONAL", "o": a.type, "s": a.symbol,
            "S": a.side, "ps": "BOTH", "f": a.tif, "q": m.qty(a.qty), "X": a.status,
            "ai": str(a.actual_order_id) if a.actual_order_id else "",
            "ap": f"{avg:.5f}", "aq": m.qty(executed),
            "act": (child.type if child else "0"), "tp": m.price(a.trigger),
            "p": m.price(a.price), "V": "EXPIRE_MAKER", "wt": "CONTRACT_PRICE", "pm": "NONE",
            "cp": False, "pP": False, "R": a.reduce_only, "tt": a.trigger_time, "gtd": 0}
        if a.reason:
            payload["rm"] = a.reason
        self.venue._user(LINEAR, {"e": "ALGO_UPDATE", "T": a.update_time,
                                  "E": a.update_time, "o": payload})

    def json(self, a: AlgoOrder, *, query: bool = False) -> dict[str, object]:
        """``POST`` / ``openAlgoOrders`` shape; a single query adds the triggered order."""
        m = self.venue.market(LINEAR, a.symbol)
        out: dict[str, object] = {
            "algoId": a.algo_id, "clientAlgoId": a.cid, "algoType": "CONDITIONAL",
            "orderType": a.type, "symbol": a.symbol, "side": a.side, "positionSide": "BOTH",
            "timeInForce": a.tif, "quantity": m.qty(a.qty), "algoStatus": a.status,
            "triggerPrice": m.price(a.trigger), "price": m.price(a.price),
            "icebergQuantity": None, "selfTradePreventionMode": "EXPIRE_MAKER",
            "workingType": "CONTRACT_PRICE", "priceMatch": "NONE", "closePosition": False,
            "priceProtect": False, "reduceOnly": a.reduce_only, "createTime": a.create_time,
            "updateTime": a.update_time, "triggerTime": a.trigger_time, "goodTillDate": 0}
        if query:
            child = self._child(a)
            executed = child.executed if child else ZERO
            avg = child.cum_quote / child.executed if child and child.executed else ZERO
            out.update(actualOrderId=str(a.actual_order_id) if a.actual_order_id else "",
                       actualPrice=f"{avg:.5f}", executedQty=m.qty(executed))
        return out

    def cancel_json(self, a: AlgoOrder) -> dict[str, object]:
        return {"algoId": a.algo_id, "clientAlgoId": a.cid, "code": "200", "msg": "success"}
