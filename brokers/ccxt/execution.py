"""Orders out, execution reports in, and reconciliation with the venue.

Placing. The order is checked and rounded with ccxt's precision helpers
(``amount_to_precision``/``price_to_precision``; an order that is not already
on the venue's grid is refused with the rounded values, so the OMS never holds
a quantity the venue does not), then sent with ``newClientOrderId`` = our
client order id. What happens on failure (``brokers.ccxt.errors``):

* 429/418: not executed by Binance; wait (backoff, longer after a 418 ban),
  send again;
* -1021 (timestamp outside recvWindow): measure the clock offset, send again;
* timeout, 5xx, connection lost after sending: the outcome is unknown. Binance
  executes a signed request only within ``recvWindow`` of its timestamp, so the
  adapter waits until that window has passed on the venue's clock, then asks
  for the order by its client id: found -> adopted (reported as it is, never
  sent twice); not found -> it can no longer appear, so sending it again (with
  the same client id) is safe;
* a definite refusal (InsufficientFunds, InvalidOrder, ...) -> REJECTED with
  Binance's reason; an authentication failure -> REJECTED, counted, raised.

USD-M stop and stop-limit orders go to Binance's algo service and are looked
up by ``clientAlgoId`` the same way; the order a stop triggers reports under
the stop's client id (``brokers.ccxt.algo``).

Reports. Order events from the user stream (raw, via the tap), order answers
and trade queries all go through ``apply``: acknowledgement first, then each
execution as a ``Fill`` whose id is the venue trade id (seen ids are never
published again), then a terminal status - held back while the venue's
cumulative filled quantity is ahead of the fills reported, until the missing
trades are fetched (so a cancel never overtakes the fill before it).

Reconciliation (on connect, after the user stream comes back, every
``reconcile_interval_s`` and after an unknown outcome): each open order of
ours is compared with the venue (its symbol's open orders, then the order by
client id), missing fills are fetched by order id and reported once, orders
the venue closed are closed; on connect, on reconnect and every tenth round
all open orders are listed, and those we did not place are reported once as a
``RiskEvent``; positions (USD-M) and base-asset balances (spot) are compared
with what the reported fills imply, and a difference seen twice in a row is a
``RiskEvent``.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Any

import ccxt

from brokers.ccxt import parsing
from brokers.ccxt.algo import AlgoOrders, algo_order, is_algo
from brokers.ccxt.config import LINEAR, SPOT
from brokers.ccxt.errors import Action, classify, is_ban, reason
from brokers.ccxt.parsing import VenueOrder, VenueTrade
from engine.execution.broker import BrokerError, BrokerUnavailable, OrderUpdate
from engine.models import (
    Fill,
    Liquidity,
    Order,
    OrderSource,
    OrderStatus,
    OrderType,
    Position,
    Side,
    TimeInForce,
)
from engine.tasks import SingleFlight

if TYPE_CHECKING:
    from brokers.ccxt.broker import CcxtBroker

log = logging.getLogger(__name__)

S = OrderStatus
ZERO = Decimal(0)
FILLS_KEPT = 10_000
BAN_WAIT_S = 60.0
# Open orders of every symbol cost 40 weight on USD-M (16 spot), one symbol 1: ccxt's
# limiter makes every later request wait for that weight, an order included. Periodic
# rounds ask per symbol with orders of ours; every FULL_SWEEP_EVERY-th round (and on
# connect / reconnect) asks for all, to find orders placed elsewhere.
FULL_SWEEP_EVERY = 10


@dataclass(eq=False)
class Tracked:
    """One of our orders as the venue knows it."""

    cid: str
    symbol: str
    kind: str
    symbol_id: str
    side: Side
    order_type: OrderType
    quantity: Decimal
    price: Decimal | None
    order_id: str = ""
    accepted: bool = False
    done: bool = False
    reported: Decimal = ZERO
    venue_filled: Decimal = ZERO
    pending: tuple[OrderStatus, str] | None = None
    outcome_unknown: bool = False
    adopted: bool = False  # first seen at the venue, not placed by this session
    sent_ms: int = 0
    algo: bool = False  # a USD-M stop: Binance's algo service holds it until it triggers
    algo_id: str = ""  # ... under this id; ``order_id`` is the order it triggers
    fill_ids: set[str] = field(default_factory=set)


class Found(Enum):
    FOUND = "found"
    ABSENT = "absent"
    UNREACHABLE = "unreachable"


class Execution:
    def __init__(self, broker: CcxtBroker) -> None:
        self.b = broker
        self.orders: dict[str, Tracked] = {}
        self.by_id: dict[tuple[str, str], Tracked] = {}
        self.fills_seen: set[str] = set()
        self.fills: deque[Fill] = deque(maxlen=FILLS_KEPT)
        self.external_seen: set[tuple[str, str]] = set()
        self.baseline: dict[tuple[str, str], Decimal] = {}
        self.baselined: set[str] = set()
        self.expected_delta: dict[tuple[str, str], Decimal] = {}
        self.suspect: dict[tuple[str, str], Decimal] = {}
        self.mismatches_reported: set[tuple[str, str, str]] = set()
        self.reconciles = 0
        self.gap_fetches = 0
        self._gaps: dict[str, asyncio.Task[None]] = {}
        self._reconciling = SingleFlight()  # a reconcile asked for while one runs joins it
        self._tasks: set[asyncio.Task[Any]] = set()
        self.algo = AlgoOrders(self)

    # ---- placing ----------------------------------------------------------------------
    def request_for(self, order: Order, market: dict[str, Any]) -> tuple[str, float,
                                                                      float | None, dict]:
        """(ccxt type, amount, price, params) for ``order``; BrokerUnavailable if impossible."""
        kind = self.b.kind_of(order.symbol)
        params: dict[str, Any] = {"newClientOrderId": order.client_order_id}
        ot = order.order_type
        if ot in (OrderType.STOP, OrderType.STOP_LIMIT):
            # USD-M: ccxt sends a triggerPrice order to the algo service, the client id as
            # clientAlgoId (brokers.ccxt.algo)
            if order.stop_price is None:
                raise BrokerUnavailable(f"{ot.value} order without a stop price")
            params["triggerPrice"] = self._price(order.symbol, order.stop_price, "stop price")
        if ot in (OrderType.LIMIT, OrderType.STOP_LIMIT):
            if order.price is None:
                raise BrokerUnavailable(f"{ot.value} order without a limit price")
            price: float | None = self._price(order.symbol, order.price, "price")
            ccxt_type = "limit"
            tif = order.time_in_force
            if tif is TimeInForce.DAY:
                raise BrokerUnavailable("time in force DAY does not exist on 24/7 crypto venues; "
                                        "use GTC, IOC or FOK")
            if order.post_only:
                if tif is not TimeInForce.GTC:
                    raise BrokerUnavailable("a post-only order must be GTC")
                params["postOnly"] = True
            elif tif is not TimeInForce.GTC:
                params["timeInForce"] = tif.value
        else:
            price, ccxt_type = None, "market"
            if order.post_only:
                raise BrokerUnavailable("a market order cannot be post-only")
        if order.reduce_only and kind == LINEAR:
            params["reduceOnly"] = True
        # spot cannot go short, so a spot "reduce-only" sell is what it is: nothing to add
        amount = self._amount(order.symbol, order.quantity)
        return ccxt_type, amount, price, params

    def _amount(self, symbol: str, quantity: Decimal) -> float:
        ex = self.b.exchange
        try:
            rounded = Decimal(ex.amount_to_precision(symbol, str(quantity)))
        except ccxt.BaseError:
            rounded = Decimal(0)
        if rounded != quantity:
            raise BrokerUnavailable(f"{symbol}: quantity {quantity} is not a whole number of lots "
                                    f"(step {self.b.instrument(symbol).lot_size}); "
                                    f"{rounded} would be sent - round it before sending")
        return float(rounded)

    def _price(self, symbol: str, value: Decimal, what: str) -> float:
        ex = self.b.exchange
        try:
            rounded = Decimal(ex.price_to_precision(symbol, str(value)))
        except ccxt.BaseError:
            rounded = Decimal(0)
        if rounded != value:
            raise BrokerUnavailable(f"{symbol}: {what} {value} is not on the tick grid "
                                    f"({self.b.instrument(symbol).tick_size(value)}); "
                                    f"{rounded} would be sent")
        return float(rounded)

    async def place(self, order: Order) -> None:
        market = self.b.market(order.symbol)
        ccxt_type, amount, price, params = self.request_for(order, market)
        t = Tracked(order.client_order_id, order.symbol, self.b.kind_of(order.symbol),
                    market["id"], order.side, order.order_type, order.quantity, order.price)
        t.algo = is_algo(t.kind, t.order_type)
        self.orders[t.cid] = t
        backoff = self.b.new_backoff()
        attempts = 0
        while True:
            attempts += 1
            t.sent_ms = self.b.venue_now_ms()
            try:
                answer = await self.b.exchange.create_order(
                    t.symbol, ccxt_type, t.side.value.lower(), amount, price, dict(params))
            except Exception as exc:
                action = classify(exc)
                why = reason(exc, self.b.credentials)
                if action is Action.REJECT:
                    self._reject(t, why)
                    return
                if action is Action.AUTH:
                    self._reject(t, f"authentication failed: {why}")
                    self.b.auth_failed(why, raised=True)
                    raise BrokerError(f"{self.b.name}: Binance refused the API key ({why})") \
                        from None
                if action is Action.FAIL:
                    t.outcome_unknown = True
                    self.request_reconcile("an order failed unexpectedly")
                    raise BrokerError(f"{self.b.name}: placing {t.cid} failed: {why}") from None
                log.warning("placing %s (attempt %d): %s", t.cid, attempts, why)
                if action is Action.UNKNOWN:
                    found = await self._find_after_unknown(t)
                    if found is Found.FOUND:
                        return
                    if found is Found.UNREACHABLE:
                        t.outcome_unknown = True
                        self.request_reconcile("an order's outcome is unknown")
                        raise BrokerError(f"{self.b.name}: placing {t.cid} timed out and Binance "
                                          f"could not be asked about it ({why}); the outcome "
                                          "will be reconciled") from None
                if attempts > self.b.config.max_retries:
                    self._forget(t)
                    self.b.report_error(f"placing {t.cid} failed {attempts} times: {why}")
                    raise BrokerUnavailable(f"{self.b.name}: gave up placing {t.cid} after "
                                            f"{attempts} attempts ({why}); it is not at Binance") \
                        from None
                if action is Action.RESYNC_TIME:
                    await self.b.sync_time()
                    continue
                await asyncio.sleep(backoff.next(BAN_WAIT_S if is_ban(exc) else 0.0))
                continue
            self.b.auth_ok()
            info = answer.get("info") or {}
            if t.algo:
                self.algo.apply(t, algo_order(info))
                return
            self.apply(t, parsing.rest_order(t.kind, info),
                       parsing.rest_order_fills(t.kind, info) if t.kind == SPOT else ())
            return

    async def _find_after_unknown(self, t: Tracked) -> Found:
        """Ask for ``t`` by client id once Binance can no longer execute the lost request."""
        # A signed request is executed only if it arrives within recvWindow of its timestamp.
        margin_ms = 250
        wait_ms = t.sent_ms + self.b.config.recv_window_ms + margin_ms - self.b.venue_now_ms()
        if wait_ms > 0:
            await asyncio.sleep(wait_ms / 1000)
        backoff = self.b.new_backoff()
        for _ in range(self.b.config.max_retries + 1):
            try:
                answer = await self.b.exchange.fetch_order(
                    None, t.symbol, {"origClientOrderId": t.cid, **({"trigger": True}
                                                                   if t.algo else {})})
            except ccxt.OrderNotFound:
                return Found.ABSENT
            except Exception as exc:
                action = classify(exc)
                if action is Action.AUTH:
                    self.b.auth_failed(reason(exc, self.b.credentials))
                    return Found.UNREACHABLE
                if action is Action.RESYNC_TIME:
                    await self.b.sync_time()
                    continue
                if action in (Action.RETRY, Action.UNKNOWN):
                    await asyncio.sleep(backoff.next(BAN_WAIT_S if is_ban(exc) else 0.0))
                    continue
                return Found.UNREACHABLE
            log.warning("order %s reached Binance although its request failed; adopted", t.cid)
            t.outcome_unknown = False
            if t.algo:
                await self.algo.settle(t, algo_order(answer.get("info") or {}))
                return Found.FOUND
            self.apply(t, parsing.rest_order(t.kind, answer.get("info") or {}), ())
            return Found.FOUND
        return Found.UNREACHABLE

    def _forget(self, t: Tracked) -> None:
        self.orders.pop(t.cid, None)

    # ---- cancelling -------------------------------------------------------------------
    async def cancel(self, order: Order) -> None:
        t = self.orders.get(order.client_order_id)
        if t is None and order.broker_order_id:
            kind = self.b.kind_of(order.symbol)
            t = self.by_id.get((kind, order.broker_order_id))
        if t is None:
            await self._cancel_untracked(order)
            return
        if t.done:
            return
        backoff = self.b.new_backoff()
        for attempt in range(self.b.config.max_retries + 1):
            waiting = t.algo and not t.order_id  # a stop not triggered: cancel the algo order
            try:
                if waiting:
                    params: dict[str, object] = {"trigger": True} if t.algo_id else \
                        {"origClientOrderId": t.cid, "trigger": True}
                    answer = await self.b.exchange.cancel_order(t.algo_id or None, t.symbol,
                                                                params)
                else:
                    params = {} if t.order_id else {"origClientOrderId": t.cid}
                    answer = await self.b.exchange.cancel_order(t.order_id or None, t.symbol,
                                                                params)
            except ccxt.OrderNotFound:
                await self.refresh(t)  # already filled or cancelled: learn which
                if waiting and t.order_id and not t.done:
                    continue  # it triggered meanwhile: cancel the order it placed
                return
            except Exception as exc:
                action = classify(exc)
                why = reason(exc, self.b.credentials)
                if action is Action.AUTH:
                    self.b.auth_failed(why, raised=True)
                    raise BrokerError(f"{self.b.name}: Binance refused the API key ({why})") \
                        from None
                if action in (Action.REJECT, Action.FAIL) or attempt == self.b.config.max_retries:
                    raise BrokerError(f"{self.b.name}: cancelling {t.cid} failed: {why}") \
                        from None
                if action is Action.RESYNC_TIME:
                    await self.b.sync_time()
                else:  # cancels are idempotent: just send again
                    await asyncio.sleep(backoff.next(BAN_WAIT_S if is_ban(exc) else 0.0))
                continue
            self.b.auth_ok()
            if waiting:  # the answer is {algoId, code, msg}: success means cancelled
                self._terminal(t, S.CANCELLED, "canceled at Binance")
                return
            self.apply(t, parsing.rest_order(t.kind, answer.get("info") or {}), ())
            return

    async def _cancel_untracked(self, order: Order) -> None:
        """An order we did not place in this session (found at the venue): cancel by id."""
        if not order.broker_order_id:
            raise BrokerError(f"cannot cancel {order.client_order_id}: no Binance order id")
        try:
            if is_algo(self.b.kind_of(order.symbol), order.order_type):
                await self.algo.cancel_untracked(order)
            else:
                await self.b.exchange.cancel_order(order.broker_order_id, order.symbol)
        except ccxt.OrderNotFound:
            return
        except Exception as exc:
            raise BrokerError(f"{self.b.name}: cancelling Binance order {order.broker_order_id} "
                              f"failed: {reason(exc, self.b.credentials)}") from None

    async def cancel_all(self, symbol: str | None = None) -> None:
        symbols = {o.symbol for o in await self.open_orders()}
        for sym in sorted(symbols):
            if symbol is None or sym == symbol:
                try:
                    await self.b.exchange.cancel_all_orders(sym)
                    if self.b.kind_of(sym) == LINEAR:
                        await self.algo.cancel_all(sym)
                except ccxt.OrderNotFound:
                    continue
                except Exception as exc:
                    raise BrokerError(f"{self.b.name}: cancelling all {sym} orders failed: "
                                      f"{reason(exc, self.b.credentials)}") from None
        self.request_reconcile("cancel all")

    async def refresh(self, t: Tracked) -> None:
        """Ask the venue for ``t`` by client id and apply what it says (fills first)."""
        if t.algo:
            await self.algo.refresh(t)
            return
        try:
            answer = await self.b.exchange.fetch_order(None, t.symbol,
                                                       {"origClientOrderId": t.cid})
        except ccxt.OrderNotFound:
            return
        vo = parsing.rest_order(t.kind, answer.get("info") or {})
        self.apply(t, vo, ())
        await self.wait_gap(t)

    # ---- reports ------------------------------------------------------------------------
    def track(self, vo: VenueOrder) -> Tracked:
        """Our record of ``vo``; an order we never placed in this session is adopted."""
        t = self.by_id.get((vo.kind, vo.order_id))
        if t is None and vo.client_order_id:
            t = self.orders.get(vo.client_order_id)
            if t is not None and t.kind != vo.kind:
                t = None
        if t is None:
            symbol = self.b.symbol_for(vo.kind, vo.symbol_id)
            t = Tracked(vo.client_order_id, symbol, vo.kind, vo.symbol_id, vo.side,
                        _engine_type(vo.order_type), vo.quantity, vo.price or None,
                        adopted=True)
            if vo.client_order_id:
                self.orders.setdefault(vo.client_order_id, t)
        if vo.order_id and not t.order_id:
            t.order_id = vo.order_id
        if vo.order_id:
            self.by_id[(vo.kind, vo.order_id)] = t
        return t

    def on_user_event(self, kind: str, event: str, payload: dict[str, Any]) -> None:
        """A user-data event (called from the tap, in the venue's order)."""
        if event == "executionReport":
            report = parsing.execution_report(payload)
        elif event == "ORDER_TRADE_UPDATE":
            report = parsing.order_trade_update(payload)
        elif event == "ALGO_UPDATE":
            self.algo.on_update(payload)
            return
        elif event in ("ACCOUNT_UPDATE", "outboundAccountPosition"):
            self.b.on_account_report(
                parsing.account_update(payload) if event == "ACCOUNT_UPDATE"
                else parsing.outbound_account_position(payload))
            return
        else:
            return
        if report.exec_type not in ("NEW", "TRADE", "CANCELED", "EXPIRED", "REJECTED",
                                    "TRADE_PREVENTION", "CALCULATED"):
            return  # REPLACED / AMENDMENT: this adapter does not amend
        t = self.track(report.order)
        self.apply(t, report.order, [report.trade] if report.trade else ())

    def apply(self, t: Tracked, vo: VenueOrder | None, trades: Iterable[VenueTrade]) -> None:
        """Acknowledge, then fills (once each), then a terminal status (after the fills)."""
        if vo is not None:
            if vo.order_id and not t.order_id:
                t.order_id = vo.order_id
                self.by_id[(t.kind, vo.order_id)] = t
            status = vo.engine_status
            if status in (S.ACCEPTED, S.PARTIALLY_FILLED) and not t.accepted and not t.done \
                    and t.reported == 0:
                t.accepted = True
                self._update(t, S.ACCEPTED)
            t.venue_filled = max(t.venue_filled, vo.filled)
        for trade in sorted(trades, key=lambda tr: int(tr.trade_id)):
            self._fill(t, trade)
        if vo is None:
            return
        status = vo.engine_status
        if status in (S.CANCELLED, S.EXPIRED, S.REJECTED):
            self._terminal(t, status, f"{vo.status.lower()} at Binance")
        elif t.reported < t.venue_filled:
            self.close_gap(t)

    def _fill(self, t: Tracked, trade: VenueTrade) -> None:
        fid = trade.fill_id
        if fid in self.fills_seen:
            return
        self.fills_seen.add(fid)
        t.fill_ids.add(fid)
        if trade.order_id and not t.order_id:
            t.order_id = trade.order_id
            self.by_id[(t.kind, trade.order_id)] = t
        commission = self.b.commission_in_quote(t.symbol, trade)
        fill = Fill(fill_id=fid, client_order_id=t.cid, broker=self.b.name, symbol=t.symbol,
                    side=trade.side, quantity=trade.qty, price=trade.price,
                    ts_ns=trade.ts_ms * 1_000_000, commission=commission,
                    liquidity=Liquidity.MAKER if trade.maker else Liquidity.TAKER,
                    broker_order_id=trade.order_id,
                    fee_in_kind=self.b.fee_in_kind(t.symbol, trade))
        t.reported += trade.qty
        t.venue_filled = max(t.venue_filled, t.reported)
        self._expect(t, trade)
        self.fills.append(fill)
        self.b.bus.publish(fill)
        if t.reported >= t.quantity:
            t.done = True
            t.pending = None
        elif t.pending is not None and t.reported >= t.venue_filled:
            status, why = t.pending
            t.pending = None
            self._terminal(t, status, why)

    def _terminal(self, t: Tracked, status: OrderStatus, why: str) -> None:
        if t.done:
            return
        if t.reported < t.venue_filled:
            t.pending = (status, why)  # the fills before it first
            self.close_gap(t)
            return
        t.done = True
        self._update(t, status, reason=why, filled_qty=t.reported)

    def _reject(self, t: Tracked, why: str) -> None:
        log.info("order %s rejected: %s", t.cid, why)
        t.done = True
        self._update(t, S.REJECTED, reason=why)

    def _update(self, t: Tracked, status: OrderStatus, *, reason: str = "",
                filled_qty: Decimal | None = None) -> None:
        self.b.bus.publish(OrderUpdate(self.b.name, t.cid, status, self.b.clock.now_ns(),
                                       broker_order_id=t.order_id or t.algo_id, reason=reason,
                                       filled_qty=filled_qty))

    # ---- missing fills ----------------------------------------------------------------
    def close_gap(self, t: Tracked) -> None:
        """Fetch the trades of ``t`` that the venue counts but we have not reported."""
        if not t.order_id or (t.cid in self._gaps and not self._gaps[t.cid].done()):
            return
        task = asyncio.get_running_loop().create_task(self._close_gap(t),
                                                      name=f"fills of {t.cid}")
        self._gaps[t.cid] = task
        task.add_done_callback(lambda _: self._gaps.pop(t.cid, None) if
                               self._gaps.get(t.cid) is task else None)

    async def wait_gap(self, t: Tracked) -> None:
        task = self._gaps.get(t.cid)
        if task is not None:
            await asyncio.gather(task, return_exceptions=True)

    async def _close_gap(self, t: Tracked) -> None:
        backoff = self.b.new_backoff()
        for _ in range(self.b.config.max_retries + 1):
            try:
                rows = await self.b.exchange.fetch_my_trades(t.symbol, None, None,
                                                             {"orderId": t.order_id})
                break
            except Exception as exc:
                why = reason(exc, self.b.credentials)
                if classify(exc) in (Action.AUTH, Action.REJECT, Action.FAIL):
                    log.warning("fetching the fills of %s failed: %s", t.cid, why)
                    rows = None
                    break
                await asyncio.sleep(backoff.next())
        else:
            rows = None
        self.gap_fetches += 1
        if rows is not None:
            trades = [parsing.rest_trade(t.kind, r.get("info") or {}) for r in rows]
            for trade in sorted(trades, key=lambda tr: int(tr.trade_id)):
                if trade.order_id == t.order_id:
                    self._fill(t, trade)
        if t.pending is not None and not t.done:
            status, why = t.pending
            t.pending = None
            if t.reported < t.venue_filled:
                self.b.risk_event("missing_fills", f"{t.cid}: Binance counts {t.venue_filled} "
                                  f"filled but only {t.reported} could be found as trades",
                                  symbol=t.symbol, client_order_id=t.cid, severity="critical")
            t.done = True
            self._update(t, status, reason=why, filled_qty=t.reported)

    # ---- queries ----------------------------------------------------------------------
    async def open_orders(self) -> list[Order]:
        now = self.b.clock.now_ns()
        out = []
        for kind in self.b.config.markets:
            for row in await self.b.exchange.fetch_open_orders(None, None, None,
                                                               _type_params(kind)):
                vo = parsing.rest_order(kind, row.get("info") or {})
                t = self.by_id.get((kind, vo.order_id)) or self.orders.get(vo.client_order_id)
                ours = t is not None and t.kind == kind
                out.append(Order(
                    client_order_id=t.cid if ours and t is not None else vo.client_order_id,
                    broker=self.b.name, symbol=self.b.symbol_for(kind, vo.symbol_id),
                    side=vo.side, order_type=_engine_type(vo.order_type), quantity=vo.quantity,
                    price=vo.price or None, status=vo.engine_status, filled_qty=vo.filled,
                    broker_order_id=vo.order_id, reduce_only=vo.reduce_only,
                    source=OrderSource.STRATEGY if ours else OrderSource.EXTERNAL,
                    created_ns=vo.ts_ms * 1_000_000, updated_ns=now))
            if kind == LINEAR:
                out += await self.algo.open_orders()
        return out

    async def fetched_fills(self, since_ns: int | None) -> list[Fill]:
        await self.reconcile("fills requested")
        return [f for f in self.fills if since_ns is None or f.ts_ns >= since_ns]

    # ---- reconciliation ---------------------------------------------------------------
    def spawn(self, coro: Any, name: str) -> None:
        """Run ``coro`` in the background; it is cancelled on close, a failure is logged."""
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)

        def done(t: asyncio.Task[Any]) -> None:
            self._tasks.discard(t)
            if not t.cancelled() and t.exception() is not None:
                log.warning("%s failed: %s", name,
                            reason(t.exception(), self.b.credentials))  # type: ignore[arg-type]

        task.add_done_callback(done)

    def request_reconcile(self, why: str) -> None:
        if not self.b.can_trade:
            return
        task = asyncio.get_running_loop().create_task(self.reconcile(why),
                                                      name=f"{self.b.name} reconcile")
        self._tasks.add(task)

        def done(t: asyncio.Task[None]) -> None:
            self._tasks.discard(t)
            if not t.cancelled() and t.exception() is not None:
                log.warning("reconciliation (%s) failed: %s", why,
                            reason(t.exception(), self.b.credentials))  # type: ignore[arg-type]

        task.add_done_callback(done)

    async def reconcile(self, why: str) -> None:
        """Bring our view in line with the venue's (single flight: joins a running one)."""
        await self._reconciling.run(lambda: self._reconcile(why))

    async def _reconcile(self, why: str) -> None:
        full = why != "periodic" or self.reconciles % FULL_SWEEP_EVERY == 0
        for kind in self.b.config.markets:
            await self._reconcile_kind(kind, full)
        self.reconciles += 1
        log.info("%s reconciled (%s): %d open orders of ours", self.b.name, why,
                 sum(1 for t in self.orders.values() if not t.done))

    async def _reconcile_kind(self, kind: str, full: bool = True) -> None:
        ex = self.b.exchange
        if full:
            rows = await ex.fetch_open_orders(None, None, None, _type_params(kind))
        else:
            rows = []
            for symbol in sorted({t.symbol for t in self.orders.values()
                                  if t.kind == kind and not t.done}):
                rows += await ex.fetch_open_orders(symbol)
        venue_open = [parsing.rest_order(kind, r.get("info") or {}) for r in rows]
        by_id = {vo.order_id: vo for vo in venue_open}
        by_cid = {vo.client_order_id: vo for vo in venue_open}
        for t in [t for t in self.orders.values() if t.kind == kind and not t.done]:
            if t.algo and not t.order_id:
                continue  # a stop waiting for its trigger: below
            vo = by_id.get(t.order_id) or by_cid.get(t.cid)
            if vo is None:
                if t.algo:
                    await self.algo.refresh_child(t)
                else:
                    await self._reconcile_closed(t)
                continue
            self.track(vo)
            self.apply(t, vo, ())
            await self.wait_gap(t)
        if kind == LINEAR:
            await self.algo.reconcile(full)
        if full:
            self._flag_external(kind, venue_open)
        await self._check_holdings(kind)

    def _flag_external(self, kind: str, venue_open: list[VenueOrder]) -> None:
        """Open orders this session did not place: one warning each, ever."""
        for vo in venue_open:
            key = (kind, vo.order_id)
            known = self.by_id.get(key) or self.orders.get(vo.client_order_id)
            if (known is None or known.adopted) and key not in self.external_seen:
                self.external_seen.add(key)
                self.b.risk_event("external_order", f"Binance has an open {vo.side.value} order "
                                  f"{vo.order_id} ({vo.client_order_id or 'no client id'}) of "
                                  f"{vo.quantity} {vo.symbol_id} that this session did not "
                                  "place", symbol=self.b.symbol_for(kind, vo.symbol_id),
                                  severity="warning")

    async def _reconcile_closed(self, t: Tracked) -> None:
        in_flight_ms = self.b.config.recv_window_ms + 2_000
        if not t.order_id and not t.outcome_unknown:
            if self.b.venue_now_ms() - t.sent_ms < in_flight_ms:
                return  # still being placed
        try:
            answer = await self.b.exchange.fetch_order(None, t.symbol,
                                                       {"origClientOrderId": t.cid})
        except ccxt.OrderNotFound:
            if self.b.venue_now_ms() - t.sent_ms >= in_flight_ms:
                self._reject(t, "Binance has no such order: it never reached the venue")
            return
        t.outcome_unknown = False
        vo = parsing.rest_order(t.kind, answer.get("info") or {})
        self.track(vo)
        self.apply(t, vo, ())
        await self.wait_gap(t)

    # ---- holdings -----------------------------------------------------------------------
    def _expect(self, t: Tracked, trade: VenueTrade) -> None:
        """What a fill does to the venue's position (USD-M) or base balance (spot)."""
        if t.kind == LINEAR:
            key, delta = (LINEAR, t.symbol_id), trade.qty * trade.side.sign
        else:
            base = self.b.market(t.symbol)["base"]
            key = (SPOT, base)
            delta = trade.qty * trade.side.sign
            if trade.commission_asset == base:
                delta -= trade.commission
        self.expected_delta[key] = self.expected_delta.get(key, ZERO) + delta

    async def venue_holdings(self, kind: str) -> dict[str, Decimal]:
        ex = self.b.exchange
        if kind == LINEAR:
            rows = await ex.fetch_positions(None, {"type": "swap", "subType": "linear"})
            out: dict[str, Decimal] = {}
            for row in rows:
                info = row.get("info") or {}
                if str(info.get("positionSide", "BOTH")) == "BOTH":
                    out[str(info.get("symbol"))] = Decimal(str(info.get("positionAmt", "0")))
            return out
        balance = await ex.fetch_balance({"type": "spot"})
        return {asset: Decimal(str(b.get("free") or 0)) + Decimal(str(b.get("locked") or 0))
                for asset, b in _balances(balance.get("info") or {}).items()}

    async def _check_holdings(self, kind: str) -> None:
        venue = await self.venue_holdings(kind)
        if kind not in self.baselined:
            # What the account held before this session's fills is the baseline.
            for key, actual in venue.items():
                self.baseline[(kind, key)] = actual - self.expected_delta.get((kind, key), ZERO)
            self.baselined.add(kind)
            return
        keys = {k for (knd, k) in self.expected_delta if knd == kind}
        if kind == LINEAR:
            keys |= set(venue)  # any position appearing on the futures account
        for key in sorted(keys):
            full = (kind, key)
            actual = venue.get(key, ZERO)
            expected = self.baseline.get(full, ZERO) + self.expected_delta.get(full, ZERO)
            if actual == expected:
                self.suspect.pop(full, None)
                continue
            if self.suspect.get(full) != actual:
                self.suspect[full] = actual  # fills may be in flight: confirm next time
                continue
            marker = (kind, key, str(actual))
            if marker in self.mismatches_reported:
                continue
            self.mismatches_reported.add(marker)
            what = "position" if kind == LINEAR else "balance"
            self.b.risk_event("position_mismatch", f"Binance {kind} {what} of {key} is {actual}, "
                              f"the fills reported imply {expected}",
                              symbol=key, severity="critical",
                              details={"venue": str(actual), "expected": str(expected),
                                       "kind": kind})

    async def positions(self) -> list[Position]:
        now = self.b.clock.now_ns()
        out: list[Position] = []
        if LINEAR in self.b.config.markets:
            rows = await self.b.exchange.fetch_positions(None, {"type": "swap",
                                                                "subType": "linear"})
            for row in rows:
                info = row.get("info") or {}
                qty = Decimal(str(info.get("positionAmt", "0")))
                if not qty:
                    continue
                entry = Decimal(str(info.get("entryPrice", "0")))
                mark = info.get("markPrice")
                out.append(Position(broker=self.b.name, symbol=row["symbol"], quantity=qty,
                                    avg_price=entry, cost_basis=entry * qty,
                                    last_price=Decimal(str(mark)) if mark else None,
                                    updated_ns=now))
        if SPOT in self.b.config.markets:
            venue = await self.venue_holdings(SPOT)
            for symbol in self.b.spot_symbols():
                base = self.b.market(symbol)["base"]
                qty = venue.get(base, ZERO)
                if qty:
                    out.append(Position(broker=self.b.name, symbol=symbol, quantity=qty,
                                        updated_ns=now))
                    venue.pop(base, None)  # one position per base asset
        return out

    async def close(self) -> None:
        tasks = [*self._tasks, *self._gaps.values()]
        if self._reconciling.task is not None:
            tasks.append(self._reconciling.task)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        self._gaps.clear()


def _type_params(kind: str) -> dict[str, str]:
    return {"type": "spot"} if kind == SPOT else {"type": "swap", "subType": "linear"}


def _balances(info: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {str(b["asset"]): b for b in info.get("balances") or [] if "asset" in b}


_TYPES = {"MARKET": OrderType.MARKET, "LIMIT": OrderType.LIMIT, "LIMIT_MAKER": OrderType.LIMIT,
          "STOP_LOSS": OrderType.STOP, "STOP_MARKET": OrderType.STOP,
          "STOP_LOSS_LIMIT": OrderType.STOP_LIMIT, "STOP": OrderType.STOP_LIMIT}


def _engine_type(venue_type: str) -> OrderType:
    return _TYPES.get(venue_type, OrderType.LIMIT)
