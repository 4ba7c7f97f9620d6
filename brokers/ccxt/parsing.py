"""Binance messages -> plain records (pure functions, tested on real message samples).

The adapter reads user-data events raw (``executionReport`` on spot,
``ORDER_TRADE_UPDATE`` on USD-M) rather than through ccxt's order cache,
because that cache keeps only the latest state of each order: two fills
between two awaits would show as one. Raw events arrive one by one, in the
venue's order, with the trade id of every execution. REST answers (order,
myTrades/userTrades) are read from ccxt's ``info`` for the same reason and so
quantities stay exact strings turned into Decimals, never floats.

A fill's id is ``<kind>:<symbol id>:<trade id>`` (Binance trade ids are unique
per symbol and market), identical whether the execution was first seen on the
stream, in an order answer or in a trade query, which is what makes a fill
reported exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from engine.models import OrderStatus, Side

ZERO = Decimal(0)
SPOT, LINEAR = "spot", "linear"

STATUS = {
    "NEW": OrderStatus.ACCEPTED,
    "PENDING_NEW": OrderStatus.ACCEPTED,
    "PARTIALLY_FILLED": OrderStatus.PARTIALLY_FILLED,
    "PENDING_CANCEL": OrderStatus.ACCEPTED,
    "FILLED": OrderStatus.FILLED,
    "CANCELED": OrderStatus.CANCELLED,
    "REJECTED": OrderStatus.REJECTED,
    "EXPIRED": OrderStatus.EXPIRED,
    "EXPIRED_IN_MATCH": OrderStatus.EXPIRED,  # self-trade prevention
    "NEW_INSURANCE": OrderStatus.ACCEPTED,
    "NEW_ADL": OrderStatus.ACCEPTED,
}


def _d(value: Any) -> Decimal:
    if value in (None, ""):
        return ZERO
    return Decimal(str(value))


def _side(value: Any) -> Side:
    text = str(value).upper()
    if text not in ("BUY", "SELL"):
        raise ValueError(f"side {value!r} is neither BUY nor SELL")
    return Side(text)


def fill_id(kind: str, symbol_id: str, trade_id: str) -> str:
    return f"{kind}:{symbol_id}:{trade_id}"


@dataclass(frozen=True, slots=True)
class VenueOrder:
    """An order as Binance reports it (quantities exact)."""

    kind: str
    symbol_id: str
    order_id: str
    client_order_id: str
    side: Side
    order_type: str
    status: str
    quantity: Decimal
    price: Decimal
    filled: Decimal
    ts_ms: int
    reduce_only: bool = False

    @property
    def engine_status(self) -> OrderStatus:
        return STATUS.get(self.status, OrderStatus.ACCEPTED)

    @property
    def is_open(self) -> bool:
        return self.engine_status.is_open


@dataclass(frozen=True, slots=True)
class VenueTrade:
    """One execution of one of our orders."""

    kind: str
    symbol_id: str
    trade_id: str
    order_id: str
    side: Side
    price: Decimal
    qty: Decimal
    commission: Decimal
    commission_asset: str
    maker: bool
    ts_ms: int
    realized_pnl: Decimal = ZERO

    @property
    def fill_id(self) -> str:
        return fill_id(self.kind, self.symbol_id, self.trade_id)


@dataclass(frozen=True, slots=True)
class OrderReport:
    """One user-stream order event: the order's state, and the execution if it was one."""

    order: VenueOrder
    exec_type: str
    trade: VenueTrade | None


@dataclass(frozen=True, slots=True)
class AccountReport:
    """Balances (asset -> wallet/total) and positions (symbol id -> signed amount)."""

    kind: str
    reason: str
    balances: dict[str, Decimal]
    positions: dict[str, Decimal]
    ts_ms: int


def execution_report(msg: dict[str, Any]) -> OrderReport:
    """Spot ``executionReport``. On a cancel, ``c`` is the cancel's own id and ``C`` ours."""
    x = str(msg["x"])
    cid = str(msg.get("C") or "") if x == "CANCELED" else ""
    order = VenueOrder(
        kind=SPOT, symbol_id=str(msg["s"]), order_id=str(msg["i"]),
        client_order_id=cid or str(msg.get("c") or ""), side=_side(msg["S"]),
        order_type=str(msg.get("o", "")), status=str(msg["X"]), quantity=_d(msg.get("q")),
        price=_d(msg.get("p")), filled=_d(msg.get("z")),
        ts_ms=int(msg.get("T") or msg.get("E") or 0))
    trade = None
    if x == "TRADE":
        trade = VenueTrade(SPOT, order.symbol_id, str(msg["t"]), order.order_id, order.side,
                           _d(msg["L"]), _d(msg["l"]), _d(msg.get("n")),
                           str(msg.get("N") or ""), bool(msg.get("m")), int(msg["T"]))
    return OrderReport(order, x, trade)


def order_trade_update(msg: dict[str, Any]) -> OrderReport:
    """USD-M ``ORDER_TRADE_UPDATE`` (the client id stays ours on a cancel)."""
    o = msg["o"]
    x = str(o["x"])
    order = VenueOrder(
        kind=LINEAR, symbol_id=str(o["s"]), order_id=str(o["i"]),
        client_order_id=str(o.get("c") or ""), side=_side(o["S"]),
        order_type=str(o.get("o", "")), status=str(o["X"]), quantity=_d(o.get("q")),
        price=_d(o.get("p")), filled=_d(o.get("z")),
        ts_ms=int(o.get("T") or msg.get("T") or msg.get("E") or 0),
        reduce_only=bool(o.get("R")))
    trade = None
    if x == "TRADE":
        trade = VenueTrade(LINEAR, order.symbol_id, str(o["t"]), order.order_id, order.side,
                           _d(o["L"]), _d(o["l"]), _d(o.get("n")), str(o.get("N") or ""),
                           bool(o.get("m")), int(o.get("T") or msg.get("T") or 0),
                           _d(o.get("rp")))
    return OrderReport(order, x, trade)


def rest_order(kind: str, info: dict[str, Any]) -> VenueOrder:
    """An order from ``GET/POST/DELETE order`` or ``openOrders`` (spot or USD-M)."""
    cid = info.get("origClientOrderId") or info.get("clientOrderId") or ""
    return VenueOrder(
        kind=kind, symbol_id=str(info["symbol"]), order_id=str(info["orderId"]),
        client_order_id=str(cid), side=_side(info["side"]), order_type=str(info.get("type", "")),
        status=str(info["status"]), quantity=_d(info.get("origQty")), price=_d(info.get("price")),
        filled=_d(info.get("executedQty")),
        ts_ms=int(info.get("updateTime") or info.get("transactTime") or info.get("time") or 0),
        reduce_only=bool(info.get("reduceOnly", False)))


def rest_order_fills(kind: str, info: dict[str, Any]) -> list[VenueTrade]:
    """The ``fills`` of a spot FULL order answer (futures answers carry none)."""
    order = rest_order(kind, info)
    ts = int(info.get("transactTime") or info.get("workingTime") or 0)
    return [VenueTrade(kind, order.symbol_id, str(f["tradeId"]), order.order_id, order.side,
                       _d(f["price"]), _d(f["qty"]), _d(f.get("commission")),
                       str(f.get("commissionAsset") or ""), False, ts)
            for f in info.get("fills") or []]


def rest_trade(kind: str, info: dict[str, Any]) -> VenueTrade:
    """One row of spot ``myTrades`` or USD-M ``userTrades``."""
    if kind == SPOT:
        side = Side.BUY if info.get("isBuyer") else Side.SELL
        maker = bool(info.get("isMaker"))
    else:
        side = _side(info["side"])
        maker = bool(info.get("maker"))
    return VenueTrade(kind, str(info["symbol"]), str(info["id"]), str(info["orderId"]), side,
                      _d(info["price"]), _d(info["qty"]), _d(info.get("commission")),
                      str(info.get("commissionAsset") or ""), maker, int(info["time"]),
                      _d(info.get("realizedPnl")))


def account_update(msg: dict[str, Any]) -> AccountReport:
    """USD-M ``ACCOUNT_UPDATE``: wallet balances and position amounts after an event."""
    a = msg.get("a") or {}
    balances = {str(b["a"]): _d(b.get("wb")) for b in a.get("B") or []}
    positions = {str(p["s"]): _d(p.get("pa")) for p in a.get("P") or []
                 if str(p.get("ps", "BOTH")) == "BOTH"}
    return AccountReport(LINEAR, str(a.get("m", "")), balances, positions,
                         int(msg.get("T") or msg.get("E") or 0))


def outbound_account_position(msg: dict[str, Any]) -> AccountReport:
    """Spot ``outboundAccountPosition``: free + locked of the assets that changed."""
    balances = {str(b["a"]): _d(b.get("f")) + _d(b.get("l")) for b in msg.get("B") or []}
    return AccountReport(SPOT, "ORDER", balances, {}, int(msg.get("E") or 0))


def user_event(message: Any) -> tuple[str, dict[str, Any]] | None:
    """(event type, payload) of a user-data message, unwrapping the ws-api envelope."""
    if not isinstance(message, dict):
        return None
    inner = message.get("event")
    payload = inner if isinstance(inner, dict) else message
    event = payload.get("e")
    if event in USER_EVENTS:
        return str(event), payload
    return None


USER_EVENTS = frozenset({"executionReport", "ORDER_TRADE_UPDATE", "ALGO_UPDATE", "ACCOUNT_UPDATE",
                         "outboundAccountPosition", "balanceUpdate", "eventStreamTerminated",
                         "listenKeyExpired"})
