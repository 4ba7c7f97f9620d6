"""USD-M stop and stop-limit orders through Binance's algo service.

Since December 2025 Binance takes conditional USD-M orders (STOP_MARKET, STOP,
TAKE_PROFIT(_MARKET), TRAILING_STOP_MARKET) only on ``/fapi/v1/algoOrder``.
ccxt routes there by itself when ``create_order`` gets a ``triggerPrice`` on a
swap market (``type`` market -> STOP_MARKET, limit -> STOP) and sends our
``newClientOrderId`` as ``clientAlgoId``; ``fetch_order`` / ``cancel_order`` /
``fetch_open_orders`` / ``cancel_all_orders`` reach the algo endpoints with
``{"trigger": True}``.

An algo order lives outside the matching engine under its own id (``algoId``)
and reports through ``ALGO_UPDATE`` (NEW, CANCELED, TRIGGERING, TRIGGERED,
FINISHED, REJECTED, EXPIRED). When it triggers, Binance places an ordinary
order (``actualOrderId``, ``ai`` on the stream) whose client id is the
``clientAlgoId``; that order reports through ``ORDER_TRADE_UPDATE`` like any
other. This module keeps both halves on one ``Tracked`` - our client id, the
algo id, and once triggered the ordinary order's id as ``order_id`` - so the
engine sees one order from submit to fill: ACCEPTED when the algo order is
placed, then the triggered order's fills (each once, by trade id, through the
same path as every other fill), then its end. Binance refusing the triggered
order (reduce-only, margin: ``REJECTED`` with ``rm``) after the stop had been
acknowledged is reported as EXPIRED with Binance's reason, since an accepted
order cannot become "rejected".

Reconciliation asks ``openAlgoOrders`` for the stops that have not triggered
(so a resting stop is not taken for a lost order), and a stop missing there by
its client id: an algo order that triggered while we were not listening
brings the triggered order's id, whose state and trades are then fetched and
reported once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import ccxt

from brokers.ccxt import parsing
from brokers.ccxt.config import LINEAR
from engine.models import Order, OrderSource, OrderStatus, OrderType, Side

if TYPE_CHECKING:
    from brokers.ccxt.execution import Execution, Tracked

log = logging.getLogger(__name__)

S = OrderStatus
ZERO = Decimal(0)
OPEN_STATUSES = frozenset({"NEW", "TRIGGERING"})
LIVE_STATUSES = frozenset({"NEW", "TRIGGERING", "TRIGGERED"})
ENGINE_TYPES = {"STOP_MARKET": OrderType.STOP, "STOP": OrderType.STOP_LIMIT,
                "TAKE_PROFIT_MARKET": OrderType.STOP, "TAKE_PROFIT": OrderType.STOP_LIMIT,
                "TRAILING_STOP_MARKET": OrderType.STOP}
TRIGGER = {"trigger": True}
LINEAR_PARAMS = {"type": "swap", "subType": "linear"}


@dataclass(frozen=True, slots=True)
class VenueAlgo:
    """A USD-M algo (conditional) order as Binance reports it."""

    symbol_id: str
    algo_id: str
    client_algo_id: str
    side: Side
    order_type: str
    status: str
    quantity: Decimal
    price: Decimal
    trigger_price: Decimal
    actual_order_id: str
    reduce_only: bool
    ts_ms: int
    reason: str = ""

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


def _d(value: Any) -> Decimal:
    return ZERO if value in (None, "") else Decimal(str(value))


def _id(value: Any) -> str:
    return "" if value in (None, "", 0, "0") else str(value)


def algo_order(info: dict[str, Any]) -> VenueAlgo:
    """``POST/GET /fapi/v1/algoOrder`` or a row of ``openAlgoOrders``."""
    return VenueAlgo(
        symbol_id=str(info["symbol"]), algo_id=_id(info.get("algoId")),
        client_algo_id=str(info.get("clientAlgoId") or ""),
        side=parsing._side(info["side"]), order_type=str(info.get("orderType", "")),
        status=str(info.get("algoStatus", "")), quantity=_d(info.get("quantity")),
        price=_d(info.get("price")), trigger_price=_d(info.get("triggerPrice")),
        actual_order_id=_id(info.get("actualOrderId")),
        reduce_only=bool(info.get("reduceOnly", False)),
        ts_ms=int(info.get("updateTime") or info.get("createTime") or 0))


def algo_update(msg: dict[str, Any]) -> VenueAlgo:
    """The user stream's ``ALGO_UPDATE``."""
    o = msg["o"]
    return VenueAlgo(
        symbol_id=str(o["s"]), algo_id=_id(o.get("aid")), client_algo_id=str(o.get("caid") or ""),
        side=parsing._side(o["S"]), order_type=str(o.get("o", "")), status=str(o["X"]),
        quantity=_d(o.get("q")), price=_d(o.get("p")), trigger_price=_d(o.get("tp")),
        actual_order_id=_id(o.get("ai")), reduce_only=bool(o.get("R")),
        ts_ms=int(msg.get("T") or msg.get("E") or 0), reason=str(o.get("rm") or ""))


def is_algo(kind: str, order_type: OrderType) -> bool:
    """Does this order go to Binance's algo service? (USD-M stops do; spot stops do not)"""
    return kind == LINEAR and order_type in (OrderType.STOP, OrderType.STOP_LIMIT)


class AlgoOrders:
    """The algo half of ``Execution``: links, status, cancels and reconciliation."""

    def __init__(self, execution: Execution) -> None:
        self.x = execution
        self.by_algo: dict[str, Tracked] = {}

    @property
    def b(self) -> Any:
        return self.x.b

    # ---- linking ------------------------------------------------------------------------
    def track(self, va: VenueAlgo) -> Tracked:
        """Our record of ``va``; an algo order we never placed in this session is adopted."""
        from brokers.ccxt.execution import Tracked

        t = self.by_algo.get(va.algo_id) if va.algo_id else None
        if t is None and va.client_algo_id:
            t = self.x.orders.get(va.client_algo_id)
            if t is not None and not t.algo:
                t = None
        if t is None:
            t = Tracked(va.client_algo_id, self.b.symbol_for(LINEAR, va.symbol_id), LINEAR,
                        va.symbol_id, va.side, ENGINE_TYPES.get(va.order_type, OrderType.STOP),
                        va.quantity, va.price or None, adopted=True, algo=True)
            if va.client_algo_id:
                self.x.orders.setdefault(va.client_algo_id, t)
        self._link(t, va)
        return t

    def _link(self, t: Tracked, va: VenueAlgo) -> None:
        if va.algo_id:
            t.algo_id = t.algo_id or va.algo_id
            self.by_algo[va.algo_id] = t
        if va.actual_order_id and not t.order_id:
            t.order_id = va.actual_order_id  # the triggered order: its fills are ours
            self.x.by_id[(LINEAR, va.actual_order_id)] = t

    def apply(self, t: Tracked, va: VenueAlgo) -> bool:
        """Apply the algo order's state; True when the triggered order must be asked for."""
        self._link(t, va)
        if va.status in LIVE_STATUSES:
            if not t.accepted and not t.done and t.reported == 0:
                t.accepted = True
                self.x._update(t, S.ACCEPTED)
            return False
        if va.status == "CANCELED":
            self.x._terminal(t, S.CANCELLED, "canceled at Binance")
        elif va.status == "EXPIRED":
            self.x._terminal(t, S.EXPIRED, "expired at Binance")
        elif va.status == "REJECTED":
            why = f"Binance refused the triggered order: {va.reason or 'no reason given'}"
            self.x._terminal(t, S.EXPIRED if t.accepted else S.REJECTED, why)
        elif va.status == "FINISHED":
            return not t.done  # the triggered order ended; its own report is not here yet
        return False

    def on_update(self, payload: dict[str, Any]) -> None:
        """An ``ALGO_UPDATE`` from the user stream."""
        va = algo_update(payload)
        t = self.track(va)
        if self.apply(t, va) and t.order_id:
            self.x.spawn(self.refresh_child(t), f"triggered order of {t.cid}")

    # ---- REST ---------------------------------------------------------------------------
    async def fetch(self, t: Tracked) -> VenueAlgo | None:
        """The algo order by our client id (``clientAlgoId``); None if Binance has none."""
        try:
            answer = await self.b.exchange.fetch_order(None, t.symbol,
                                                       {"origClientOrderId": t.cid, **TRIGGER})
        except ccxt.OrderNotFound:
            return None
        return algo_order(answer.get("info") or {})

    async def settle(self, t: Tracked, va: VenueAlgo) -> None:
        """Apply a REST answer about the algo order, then the triggered order's own state."""
        self.apply(t, va)
        if t.order_id and not t.done:
            await self.refresh_child(t)

    async def refresh(self, t: Tracked) -> None:
        va = await self.fetch(t)
        if va is not None:
            await self.settle(t, va)

    async def refresh_child(self, t: Tracked) -> None:
        """The triggered order by its id: state first, then its missing trades."""
        try:
            answer = await self.b.exchange.fetch_order(t.order_id, t.symbol)
        except ccxt.OrderNotFound:
            return
        self.x.apply(t, parsing.rest_order(LINEAR, answer.get("info") or {}), ())
        await self.x.wait_gap(t)

    async def cancel_untracked(self, order: Order) -> None:
        await self.b.exchange.cancel_order(order.broker_order_id, order.symbol, dict(TRIGGER))

    async def cancel_all(self, symbol: str) -> None:
        await self.b.exchange.cancel_all_orders(symbol, dict(TRIGGER))

    async def venue_open(self, symbols: list[str] | None) -> list[VenueAlgo]:
        """Open algo orders of every USD-M symbol (None) or of these."""
        ex = self.b.exchange
        if symbols is None:
            rows = await ex.fetch_open_orders(None, None, None, {**LINEAR_PARAMS, **TRIGGER})
        else:
            rows = []
            for symbol in symbols:
                rows += await ex.fetch_open_orders(symbol, None, None, dict(TRIGGER))
        return [algo_order(r.get("info") or {}) for r in rows]

    async def open_orders(self) -> list[Order]:
        """Open algo orders as engine orders (``broker_order_id`` is the algo id)."""
        now = self.b.clock.now_ns()
        out = []
        for va in await self.venue_open(None):
            t = self.by_algo.get(va.algo_id) or self.x.orders.get(va.client_algo_id)
            ours = t is not None and t.algo and not t.adopted
            out.append(Order(
                client_order_id=t.cid if ours and t is not None else va.client_algo_id,
                broker=self.b.name, symbol=self.b.symbol_for(LINEAR, va.symbol_id),
                side=va.side, order_type=ENGINE_TYPES.get(va.order_type, OrderType.STOP),
                quantity=va.quantity, price=va.price or None, stop_price=va.trigger_price,
                status=S.ACCEPTED, broker_order_id=va.algo_id, reduce_only=va.reduce_only,
                source=OrderSource.STRATEGY if ours else OrderSource.EXTERNAL,
                created_ns=va.ts_ms * 1_000_000, updated_ns=now))
        return out

    # ---- reconciliation -----------------------------------------------------------------
    async def reconcile(self, full: bool) -> None:
        """Our stops that have not triggered (as far as we know) against Binance's."""
        waiting = [t for t in self.x.orders.values()
                   if t.algo and not t.done and not t.order_id]
        if not waiting and not full:
            return
        venue = await self.venue_open(None if full else sorted({t.symbol for t in waiting}))
        by_id = {va.algo_id: va for va in venue}
        by_cid = {va.client_algo_id: va for va in venue}
        for t in waiting:
            va = by_id.get(t.algo_id) or by_cid.get(t.cid)
            if va is not None:
                self.apply(self.track(va), va)
            else:
                await self._closed(t)
        if full:
            self._flag_external(venue)

    async def _closed(self, t: Tracked) -> None:
        """Not open at Binance: triggered, cancelled or never placed - ask by client id."""
        in_flight_ms = self.b.config.recv_window_ms + 2_000
        if not t.algo_id and not t.outcome_unknown and \
                self.b.venue_now_ms() - t.sent_ms < in_flight_ms:
            return  # still being placed
        va = await self.fetch(t)
        if va is None:
            if self.b.venue_now_ms() - t.sent_ms >= in_flight_ms:
                self.x._reject(t, "Binance has no such order: it never reached the venue")
            return
        t.outcome_unknown = False
        await self.settle(t, va)

    def _flag_external(self, venue: list[VenueAlgo]) -> None:
        for va in venue:
            key = ("algo", va.algo_id)
            known = self.by_algo.get(va.algo_id) or self.x.orders.get(va.client_algo_id)
            if (known is None or known.adopted) and key not in self.x.external_seen:
                self.x.external_seen.add(key)
                self.b.risk_event("external_order", f"Binance has an open {va.side.value} "
                                  f"{va.order_type} algo order {va.algo_id} "
                                  f"({va.client_algo_id or 'no client id'}) of {va.quantity} "
                                  f"{va.symbol_id} that this session did not place",
                                  symbol=self.b.symbol_for(LINEAR, va.symbol_id),
                                  severity="warning")
