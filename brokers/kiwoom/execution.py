"""``KiwoomBroker``: the engine's broker interface on top of the Kiwoom bridge.

Fully async: every command is a request to the bridge, and every report comes
from the bridge's events, handled synchronously in the client's reader (never
awaiting, never calling the control inside an event).

Orders. ``SendOrder`` types 1-6 (buy, sell, cancel buy, cancel sell, modify buy,
modify sell) with hoga 00 (limit) or 03 (market). Kiwoom has no client order
id: the order number from the order's reply is bound to our client order id
before any later event is handled (``on_result`` in the reader), and a chejan
event for a number not bound yet is held for a few seconds in case its reply
is late. Chejan gubun 0 drives the reports:

* 접수 of a new order -> ``OrderUpdate(ACCEPTED)``;
* 체결 -> one ``Fill`` per execution, ``fill_id`` = ``<KST date>-<order no>-<909>``;
  the cumulative quantity (911) per order number guards against a repeated
  event, so each execution is reported exactly once; its commission and tax
  are Kiwoom's own (the step in the cumulative 938/939), or the Instrument's
  schedule when an execution was booked by reconciliation in between;
* 확인 of a cancel -> ``CANCELLED`` (or an amend to the smaller quantity for a
  partial cancel); 확인 of a modify -> ``ACCEPTED`` with the new price and
  quantity (Kiwoom gives the modified order a new number; fills then come under
  it and are still reported for the same client order id);

gubun 1 updates holdings. KRX rules are checked before anything is sent, from
the ``Instrument``: tick size, the ±30% band around the previous close, whole
shares, no short sale (selling more than the sellable holding).

Reconciliation (after every login, hence after every bridge restart, and
periodically): opw00001 (deposit), opw00018 (holdings, paged), opt10075
(outstanding orders) and opt10076 (today's orders with their fills). A gap
between Kiwoom's filled quantity and what we reported becomes a ``Fill``
(``fill_id`` ``<date>-<order no>-r<cumulative>``); an order no longer working
becomes CANCELLED; an order whose outcome was unknown (the bridge died before
its reply) is found by code, side, quantity and price or reported REJECTED.

LIVE: ``live`` is True only on Kiwoom's real server *and* with ``live = true``
in ``[brokers.kiwoom]``; the real server without it refuses to connect.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pandas as pd

from brokers.kiwoom import parsing
from brokers.kiwoom.client import BridgeClient, BridgeDisconnected, BridgeError, BridgeTimeout
from brokers.kiwoom.config import KiwoomConfig
from brokers.kiwoom.data import KiwoomMarketData
from brokers.kiwoom.errors import describe
from brokers.kiwoom.instruments import DEFAULT_MARKETS, MasterEntry, from_master
from brokers.kiwoom.supervisor import (
    BridgeLauncher,
    BridgeSupervisor,
    FatalBridgeError,
    SubprocessLauncher,
)
from engine.bus import EventBus
from engine.clock import Clock, Timer
from engine.errors import UserError
from engine.execution.broker import (
    Broker,
    BrokerCapabilities,
    BrokerError,
    BrokerUnavailable,
    OrderUpdate,
)
from engine.models import (
    Account,
    ConnectionState,
    Fill,
    Instrument,
    Order,
    OrderSource,
    OrderStatus,
    OrderType,
    Position,
    Side,
    TimeInForce,
)
from engine.tasks import SingleFlight

log = logging.getLogger(__name__)

S = OrderStatus
ORDER_NEW = {Side.BUY: 1, Side.SELL: 2}
ORDER_CANCEL = {Side.BUY: 3, Side.SELL: 4}
ORDER_MODIFY = {Side.BUY: 5, Side.SELL: 6}
HOGA_LIMIT, HOGA_MARKET = "00", "03"
_ACCOUNT_INPUTS = {"비밀번호": "", "비밀번호입력매체구분": "00"}
FILLS_KEPT = 10_000


@dataclass(eq=False)
class Tracked:
    """One of our orders as Kiwoom knows it, across its order numbers."""

    cid: str
    symbol: str
    side: Side
    order_type: OrderType
    quantity: Decimal
    price: Decimal | None
    sent_ns: int = 0
    nos: list[str] = field(default_factory=list)
    live_no: str = ""
    cum: dict[str, int] = field(default_factory=dict)  # filled qty reported, per number
    amount: dict[str, Decimal] = field(default_factory=dict)  # filled value reported
    unfilled: dict[str, int] = field(default_factory=dict)  # working qty, per number
    reduced: set[str] = field(default_factory=set)  # cancel/modify numbers applied
    # Per number: (filled qty, FID 938 fee, FID 939 tax) of the last chejan booked.
    charged: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    accepted: bool = False
    done: bool = False
    outcome_unknown: bool = False
    ack: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def filled(self) -> int:
        return sum(self.cum.values())

    @property
    def working(self) -> int:
        return sum(self.unfilled.values())


class KiwoomBroker(Broker):
    capabilities = BrokerCapabilities(
        order_types=frozenset({OrderType.LIMIT, OrderType.MARKET}),
        time_in_force=frozenset({TimeInForce.DAY, TimeInForce.GTC}),
        amend=True, short_selling=False)

    def __init__(self, name: str, bus: EventBus, clock: Clock, *,
                 config: KiwoomConfig | None = None,
                 launcher: BridgeLauncher | None = None,
                 supervisor_options: dict[str, Any] | None = None) -> None:
        super().__init__(name, bus, clock, live=False)
        self.config = config or KiwoomConfig()
        self._launcher = launcher
        self._supervisor_options = supervisor_options or {}
        self.supervisor: BridgeSupervisor | None = None
        self.client: BridgeClient | None = None
        self.market = KiwoomMarketData(name, bus, clock, self._request)
        self.account = self.config.account
        self.accounts: list[str] = []
        self.server = ""
        self.user = ""
        self.master: dict[str, MasterEntry] = {}
        self.deposit: parsing.Deposit | None = None
        self.holdings: dict[str, parsing.Holding] = {}
        self.orders: dict[str, Tracked] = {}
        self.by_no: dict[str, tuple[Tracked, str]] = {}
        self.fills: deque[Fill] = deque(maxlen=FILLS_KEPT)
        self.queue_waits: list[float] = []
        self.reconciles = 0
        self.logins = 0
        self._parked: dict[str, list[dict[str, str]]] = {}
        self._reconciling = SingleFlight()  # a reconcile asked for while one runs joins it
        self._reconcile_timer: Timer | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._connected_once = False

    # ---- connection -------------------------------------------------------------------
    def _make_launcher(self) -> BridgeLauncher:
        if self._launcher is not None:
            return self._launcher
        from engine.paths import data_dir

        python = self.config.python32_path or (sys.executable if self.config.fake else "")
        return SubprocessLauncher(python, fake=self.config.fake,
                                  fake_state=self.config.fake_state or None,
                                  log_path=data_dir() / "logs" / "kiwoom-bridge.log",
                                  ready_timeout=60.0)

    async def connect(self) -> None:
        if self.supervisor is not None and self.supervisor.is_up:
            return
        try:
            if self._launcher is None:
                self.config.check_runnable()
        except UserError as exc:
            self._set_state(ConnectionState.FAILED, str(exc))
            raise
        options: dict[str, Any] = dict(backoff_initial=self.config.restart_backoff_s,
                                       backoff_max=self.config.restart_backoff_max_s,
                                       health_interval=self.config.health_interval_s,
                                       max_restarts=self.config.max_restarts)
        options.update(self._supervisor_options)
        self.supervisor = BridgeSupervisor(
            self._make_launcher(), on_event=self._on_event, on_up=self._on_bridge_up,
            on_down=self._on_bridge_down, on_state=self._on_bridge_state, **options)
        try:
            await self.supervisor.start()
        except Exception as exc:
            self._set_state(ConnectionState.FAILED, str(exc))
            raise BrokerError(f"Kiwoom: {exc}") from None
        if self._reconcile_timer is None:
            self._reconcile_timer = self.clock.every(
                int(self.config.reconcile_interval_s * 1e9), self._periodic_reconcile,
                name=f"{self.name} reconcile")

    async def disconnect(self) -> None:
        if self._reconcile_timer is not None:
            self._reconcile_timer.cancel()
            self._reconcile_timer = None
        self.market.close()
        for task in list(self._tasks):
            task.cancel()
        if self.supervisor is not None:
            await self.supervisor.stop()
            self.supervisor = None
        self.client = None
        self._set_state(ConnectionState.DISCONNECTED, "")

    def _on_bridge_state(self, state: str, detail: str) -> None:
        if state == "starting":
            self._set_state(ConnectionState.RECONNECTING if self._connected_once
                            else ConnectionState.CONNECTING, detail)
        elif state == "running":
            self._connected_once = True
            self._set_state(ConnectionState.CONNECTED,
                            f"{self.server} server, account {self.account}"
                            + (" - LIVE" if self.live else ""))
        elif state == "restarting":
            self._set_state(ConnectionState.RECONNECTING, detail)
        elif state == "failed":
            self._set_state(ConnectionState.FAILED, detail)

    def _on_bridge_down(self, reason: str) -> None:
        self.client = None
        log.warning("Kiwoom bridge down: %s", reason)
        self._set_state(ConnectionState.RECONNECTING, f"bridge down: {reason}")

    async def _on_bridge_up(self, client: BridgeClient) -> None:
        """A fresh bridge is connected: log in, check the server, reconcile, resubscribe."""
        self.client = client
        try:
            info = await client.request("login", timeout=self.config.login_timeout_s)
        except BridgeError as exc:
            if exc.kind == "login" and exc.code == -100:
                # A wrong password again and again locks the account: do not retry.
                raise FatalBridgeError(describe(-100)) from None
            raise
        self.logins += 1
        self._check_login(info)
        if not self.master:
            reply = await client.request("master", {"markets": list(DEFAULT_MARKETS)},
                                         timeout=self.config.request_timeout_s * 3)
            self.master = from_master(reply.get("codes", []),
                                      self.config.commission_for(self.server))
        await self.reconcile("login")
        await self.market.resubscribe()

    def _check_login(self, info: dict[str, Any]) -> None:
        self.server = str(info.get("server", ""))
        self.user = str(info.get("user_id", ""))
        self.accounts = [str(a) for a in info.get("accounts", [])]
        if self.server == "real" and not self.config.live:
            raise FatalBridgeError(
                "logged in to Kiwoom's REAL server, but live trading is not enabled for Kiwoom "
                "([brokers.kiwoom] live = true); log in to the mock server (모의투자) instead, "
                "or enable live trading deliberately")
        self.live = self.server == "real" and self.config.live
        if not self.accounts:
            raise FatalBridgeError("Kiwoom reported no account for this login")
        if self.config.account:
            if self.config.account not in self.accounts:
                raise FatalBridgeError(f"[brokers.kiwoom] account {self.config.account} is not "
                                       f"one of this login's accounts ({', '.join(self.accounts)})")
            self.account = self.config.account
        else:
            self.account = self.accounts[0]

    async def _request(self, op: str, args: dict[str, Any] | None = None, *,
                       timeout: float | None = None, **kwargs: Any) -> dict[str, Any]:
        client = self.client
        if client is None or not client.connected:
            raise BridgeDisconnected("the Kiwoom bridge is not connected", sent=False)
        return await client.request(op, args, timeout=timeout or self.config.request_timeout_s,
                                    on_queued=self._note_queued, **kwargs)

    def _note_queued(self, wait: float, ahead: int) -> None:
        self.queue_waits.append(wait)
        log.info("Kiwoom request held back by the rate limit for %.2f s (%d ahead)", wait, ahead)

    def _spawn(self, coro: Any, what: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=what)
        self._tasks.add(task)

        def done(t: asyncio.Task[Any]) -> None:
            self._tasks.discard(t)
            if not t.cancelled() and t.exception() is not None:
                log.warning("%s failed: %s", what, t.exception())

        task.add_done_callback(done)

    # ---- reference & market data -----------------------------------------------------
    async def instruments(self) -> list[Instrument]:
        return [entry.instrument for entry in self.master.values()]

    def instrument(self, symbol: str) -> Instrument:
        entry = self.master.get(symbol)
        if entry is None:
            raise BrokerUnavailable(f"{symbol} is not a stock Kiwoom lists")
        return entry.instrument

    async def subscribe_ticks(self, symbols: Iterable[str]) -> None:
        await self._data_call(self.market.subscribe_ticks(symbols))

    async def subscribe_order_book(self, symbols: Iterable[str], depth: int = 10) -> None:
        await self._data_call(self.market.subscribe_order_book(symbols, depth))

    async def subscribe_bars(self, symbols: Iterable[str], timeframe: str = "1m") -> None:
        await self._data_call(self.market.subscribe_bars(symbols, timeframe))

    async def unsubscribe(self, symbols: Iterable[str]) -> None:
        await self._data_call(self.market.unsubscribe(symbols))

    async def fetch_bars(self, symbol: str, timeframe: str, start_ns: int | None = None,
                         end_ns: int | None = None) -> pd.DataFrame:
        return await self._data_call(self.market.fetch_bars(symbol, timeframe, start_ns, end_ns))

    async def backfill(self, symbol: str, timeframe: str, database: Any,
                       start_ns: int | None = None, end_ns: int | None = None) -> int:
        """History from Kiwoom into storage (``engine.storage.Database``); rows written."""
        return await self._data_call(
            self.market.backfill(symbol, timeframe, database, start_ns, end_ns))

    async def _data_call(self, coro: Any) -> Any:
        try:
            return await coro
        except BridgeError as exc:
            raise BrokerError(f"Kiwoom: {exc}") from None

    # ---- events ---------------------------------------------------------------------
    def _on_event(self, msg: dict[str, Any]) -> None:
        kind = msg.get("ev")
        if kind == "real":
            self.market.on_real(msg)
        elif kind == "chejan":
            self._on_chejan(msg)
        elif kind == "msg":
            log.info("Kiwoom message [%s %s]: %s", msg.get("tr"), msg.get("rq"), msg.get("msg"))
        elif kind == "connect":
            err = int(msg.get("err", 0))
            if err != 0:
                log.error("Kiwoom lost its server connection: %s", describe(err))
                self._set_state(ConnectionState.RECONNECTING, describe(err))
                if self.supervisor is not None:
                    self.supervisor.launcher.kill()  # a fresh bridge logs in again

    def _on_chejan(self, msg: dict[str, Any]) -> None:
        fields = msg.get("f") or {}
        gubun = str(msg.get("g", ""))
        if gubun == "1":
            self._on_balance(fields)
            return
        if gubun != "0":
            return
        try:
            report = parsing.chejan_order(fields, self.clock.now_ns())
        except ValueError as exc:
            log.warning("malformed Kiwoom chejan dropped: %s (%r)", exc, fields)
            return
        if self.account and report.account and report.account != self.account:
            return  # another account of the same login
        entry = self.by_no.get(report.order_no)
        if entry is None and report.kind in ("cancel", "modify") and report.orig_no in self.by_no:
            entry = self._bind(self.by_no[report.orig_no][0], report.order_no, report.kind)
        if entry is None:
            self._park(report.order_no, fields)
            return
        self._apply(entry[0], entry[1], report)

    def _park(self, number: str, fields: dict[str, str]) -> None:
        """Hold events of an order number whose reply has not arrived yet."""
        first = number not in self._parked
        self._parked.setdefault(number, []).append(fields)
        if first:
            asyncio.get_running_loop().call_later(self.config.unknown_order_grace_s,
                                                  self._unpark_unknown, number)

    def _unpark_unknown(self, number: str) -> None:
        parked = self._parked.pop(number, None)
        if not parked:
            return
        # Nobody claimed it: an order placed elsewhere (HTS, another program) or in an
        # earlier session. Report it by its number; the OMS knows it or quarantines it.
        report = parsing.chejan_order(parked[0], self.clock.now_ns())
        tracked = Tracked("", report.code, report.side,
                          OrderType.MARKET if report.market else OrderType.LIMIT,
                          Decimal(report.order_qty), Decimal(report.order_price) or None)
        self._bind(tracked, number, "order")
        for fields in parked:
            self._apply(tracked, "order", parsing.chejan_order(fields, self.clock.now_ns()))

    def _bind(self, tracked: Tracked, number: str, role: str) -> tuple[Tracked, str]:
        entry = (tracked, role)
        self.by_no[number] = entry
        if role == "order" and number not in tracked.nos:
            tracked.nos.append(number)
            tracked.live_no = number
            tracked.unfilled.setdefault(number, int(tracked.quantity) - tracked.filled)
            tracked.ack.set()
        for fields in self._parked.pop(number, []):
            self._apply(tracked, role, parsing.chejan_order(fields, self.clock.now_ns()))
        return entry

    def _apply(self, t: Tracked, role: str, r: parsing.ChejanOrder) -> None:
        if role == "cancel":
            self._apply_cancel(t, r)
            return
        if role == "modify" and r.order_no not in t.nos:
            t.nos.append(r.order_no)
        if r.status == "거부":
            t.unfilled[r.order_no] = 0
            self._finish(t, S.REJECTED, r.reject_reason or "Kiwoom refused the order")
            return
        if r.is_fill:
            self._fill_from_chejan(t, r)
        if role == "modify" and r.status == "확인":
            self._apply_modify(t, r)
            return
        if role == "modify" and r.order_no not in t.unfilled:
            return  # 접수 of a modify: it works only once confirmed
        t.unfilled[r.order_no] = r.unfilled
        if role == "order" and r.status == "접수" and not t.accepted and not t.done:
            t.accepted = True
            self._report(t, S.ACCEPTED, broker_order_id=r.order_no)

    def _apply_cancel(self, t: Tracked, r: parsing.ChejanOrder) -> None:
        if r.status != "확인" or r.order_no in t.reduced:
            return
        t.reduced.add(r.order_no)
        t.unfilled[r.orig_no] = max(0, t.unfilled.get(r.orig_no, 0) - r.order_qty)
        if t.done:
            return
        if t.working == 0:
            self._finish(t, S.CANCELLED, "cancelled at Kiwoom")
        else:
            t.quantity = Decimal(t.filled + t.working)
            self._report(t, S.ACCEPTED, quantity=t.quantity, reason="partly cancelled")

    def _apply_modify(self, t: Tracked, r: parsing.ChejanOrder) -> None:
        if r.order_no in t.reduced:
            return
        t.reduced.add(r.order_no)
        t.unfilled[r.orig_no] = max(0, t.unfilled.get(r.orig_no, 0) - r.order_qty)
        t.unfilled[r.order_no] = r.unfilled
        t.live_no = r.order_no
        t.price = Decimal(r.order_price) if r.order_price else None
        t.quantity = Decimal(t.filled + t.working)
        if not t.done:
            self._report(t, S.ACCEPTED, quantity=t.quantity, price=t.price, reason="modified")

    def _fill_from_chejan(self, t: Tracked, r: parsing.ChejanOrder) -> None:
        number = r.order_no
        before = t.cum.get(number, 0)
        qty = r.cum_qty - before
        if qty <= 0:
            return  # this execution was reported already (a repeat, or reconciliation)
        paid = t.amount.get(number, Decimal(0))
        if r.fill_qty == qty and r.fill_price > 0:
            price = Decimal(r.fill_price)
        elif r.cum_amount > paid:
            price = (Decimal(r.cum_amount) - paid) / qty  # covers an execution we missed
        else:
            price = Decimal(r.fill_price)
        # Kiwoom's own charge (938/939 are cumulative per number) when the last chejan
        # booked is the fill just before this one; else the Instrument's fee schedule.
        charges = None
        last_qty, last_fee, last_tax = t.charged.get(number, (0, 0, 0))
        if r.fee is not None and r.tax is not None:
            if last_qty == before and r.fee >= last_fee and r.tax >= last_tax:
                charges = (Decimal(r.fee - last_fee), Decimal(r.tax - last_tax))
            t.charged[number] = (r.cum_qty, r.fee, r.tax)
        day = parsing.kst_date(r.ts_ns).strftime("%Y%m%d")
        self._publish_fill(t, number, r.cum_qty, price, qty, r.ts_ns,
                           f"{day}-{number}-{r.fill_no}", charges)

    def _publish_fill(self, t: Tracked, number: str, cum_qty: int, price: Decimal, qty: int,
                      ts_ns: int, fill_id: str,
                      charges: tuple[Decimal, Decimal] | None = None) -> None:
        t.cum[number] = cum_qty
        t.amount[number] = t.amount.get(number, Decimal(0)) + price * qty
        entry = self.master.get(t.symbol)
        commission = tax = Decimal(0)
        if charges is not None:
            commission, tax = charges
        elif entry is not None:
            fees = entry.instrument.fees_for(t.side, price, qty, on=parsing.kst_date(ts_ns))
            commission, tax = fees.commission, fees.tax
        fill = Fill(fill_id=fill_id, client_order_id=t.cid, broker=self.name, symbol=t.symbol,
                    side=t.side, quantity=Decimal(qty), price=price, ts_ns=ts_ns,
                    commission=commission, tax=tax, broker_order_id=number)
        self.fills.append(fill)
        self.bus.publish(fill)
        if t.filled >= t.quantity:
            t.done = True

    def _report(self, t: Tracked, status: OrderStatus, *, broker_order_id: str = "",
                reason: str = "", quantity: Decimal | None = None,
                price: Decimal | None = None, filled_qty: Decimal | None = None) -> None:
        self.bus.publish(OrderUpdate(self.name, t.cid, status, self.clock.now_ns(),
                                     broker_order_id=broker_order_id or t.live_no,
                                     reason=reason, quantity=quantity, price=price,
                                     filled_qty=filled_qty))

    def _finish(self, t: Tracked, status: OrderStatus, reason: str) -> None:
        if t.done:
            return
        t.done = True
        self._report(t, status, reason=reason)

    def _on_balance(self, fields: dict[str, str]) -> None:
        try:
            balance = parsing.chejan_balance(fields)
        except ValueError as exc:
            log.warning("malformed Kiwoom balance dropped: %s", exc)
            return
        if self.account and balance.account and balance.account != self.account:
            return
        if balance.qty:
            self.holdings[balance.code] = parsing.Holding(
                balance.code, self.holdings.get(balance.code, parsing.Holding(
                    balance.code, "", 0, 0, 0, 0, 0)).name,
                balance.qty, balance.avg_price, balance.sellable, balance.last, 0)
        else:
            self.holdings.pop(balance.code, None)
        if balance.cash is not None and self.deposit is not None:
            self.deposit = parsing.Deposit(balance.cash, self.deposit.d2_cash,
                                           self.deposit.orderable)

    # ---- orders ------------------------------------------------------------------------
    def _precheck(self, order: Order, inst: Instrument) -> str:
        """The hoga code for ``order``, or BrokerUnavailable naming the broken KRX rule."""
        if order.order_type not in (OrderType.LIMIT, OrderType.MARKET):
            raise BrokerUnavailable(f"Kiwoom takes limit and market orders, not "
                                    f"{order.order_type.value}")
        if order.time_in_force not in self.capabilities.time_in_force:
            raise BrokerUnavailable(f"Kiwoom orders are day orders; {order.time_in_force.value} "
                                    "is not supported")
        if not inst.is_valid_qty(order.quantity) or order.quantity != int(order.quantity):
            raise BrokerUnavailable(f"{order.symbol}: quantity {order.quantity} is not a whole "
                                    "number of shares")
        if order.order_type is OrderType.LIMIT:
            self._check_price(order.symbol, inst, order.price)
        if order.side is Side.SELL:
            available = self._sellable(order.symbol)
            if order.quantity > available:
                raise BrokerUnavailable(f"{order.symbol}: selling {order.quantity} but only "
                                        f"{available} can be sold (no short selling on KRX "
                                        "through Kiwoom)")
        return HOGA_LIMIT if order.order_type is OrderType.LIMIT else HOGA_MARKET

    def _check_price(self, symbol: str, inst: Instrument, price: Decimal | None) -> None:
        if price is None or not inst.is_valid_price(price):
            raise BrokerUnavailable(f"{symbol}: {price} is not a valid KRX price "
                                    f"(tick {inst.tick_size(price or 1)})")
        base = self.master[symbol].base_price if symbol in self.master else 0
        limits = inst.price_limits(base) if base else None
        if limits is not None and not limits[0] <= price <= limits[1]:
            raise BrokerUnavailable(f"{symbol}: {price} is outside today's band "
                                    f"{limits[0]}-{limits[1]} (±30% of {base})")

    def _sellable(self, symbol: str) -> Decimal:
        held = self.holdings.get(symbol)
        selling = sum(t.working for t in self.orders.values()
                      if t.symbol == symbol and t.side is Side.SELL and not t.done)
        return Decimal((held.qty if held else 0) - selling)

    async def place_order(self, order: Order) -> None:
        if self.client is None or not self.client.connected:
            raise BrokerUnavailable("the Kiwoom bridge is not connected")
        hoga = self._precheck(order, self.instrument(order.symbol))
        tracked = Tracked(order.client_order_id, order.symbol, order.side, order.order_type,
                          order.quantity, order.price, sent_ns=self.clock.now_ns())
        self.orders[order.client_order_id] = tracked
        args = {"account": self.account, "order_type": ORDER_NEW[order.side],
                "code": order.symbol, "qty": int(order.quantity),
                "price": int(order.price or 0) if hoga == HOGA_LIMIT else 0, "hoga": hoga,
                "orig_no": ""}

        def bind(result: dict[str, Any]) -> None:
            # Runs in the reader, before any later chejan event is handled.
            if result.get("order_no"):
                self._bind(tracked, str(result["order_no"]), "order")

        reply = await self._send_order(tracked, args, bind, new=True)
        if reply is None:
            return
        if not reply.get("order_no"):
            tracked.ack.set()
            self._finish(tracked, S.REJECTED, reply.get("msg") or "Kiwoom refused the order")

    async def _send_order(self, tracked: Tracked, args: dict[str, Any],
                          bind: Callable[[dict[str, Any]], None],
                          new: bool) -> dict[str, Any] | None:
        try:
            reply = await self._request("order", args, timeout=self.config.order_timeout_s,
                                        on_result=bind)
        except BridgeDisconnected as exc:
            if not exc.sent:
                if new:
                    self.orders.pop(tracked.cid, None)
                raise BrokerUnavailable(f"Kiwoom: {exc}") from None
            self._outcome_unknown(tracked, new)
            raise BrokerError(f"Kiwoom: {exc}; the outcome will be reconciled") from None
        except BridgeTimeout as exc:
            self._outcome_unknown(tracked, new)
            raise BrokerError(f"Kiwoom: {exc}; the outcome will be reconciled") from None
        except BridgeError as exc:
            if new:
                self.orders.pop(tracked.cid, None)
            raise BrokerUnavailable(f"Kiwoom refused the order: {exc}") from None
        if reply.get("timed_out"):
            self._outcome_unknown(tracked, new)
            raise BrokerError("Kiwoom did not confirm the order in time; the outcome will be "
                              "reconciled")
        return reply

    def _outcome_unknown(self, tracked: Tracked, new: bool) -> None:
        if new and not tracked.nos:
            tracked.outcome_unknown = True
        self.request_reconcile("an order's outcome is unknown")

    async def _wait_ack(self, t: Tracked) -> None:
        if not t.nos and not t.done:
            try:
                await asyncio.wait_for(t.ack.wait(), self.config.order_timeout_s)
            except TimeoutError:
                raise BrokerError(f"order {t.cid} has no Kiwoom order number yet; "
                                  "try again after reconciliation") from None

    async def cancel_order(self, order: Order) -> None:
        t = self.orders.get(order.client_order_id)
        if t is None and order.broker_order_id in self.by_no:
            t = self.by_no[order.broker_order_id][0]
        if t is None:
            await self._cancel_untracked(order)
            return
        await self._wait_ack(t)
        if t.done:
            return
        for number, qty in list(t.unfilled.items()):
            if qty > 0:
                await self._cancel_number(t, number, qty)

    async def _cancel_number(self, t: Tracked, number: str, qty: int) -> None:
        args = {"account": self.account, "order_type": ORDER_CANCEL[t.side], "code": t.symbol,
                "qty": qty, "price": 0, "hoga": HOGA_LIMIT, "orig_no": number}

        def bind(result: dict[str, Any]) -> None:
            if result.get("order_no"):
                self._bind(t, str(result["order_no"]), "cancel")

        reply = await self._send_order(t, args, bind, new=False)
        if reply is not None and not reply.get("order_no"):
            raise BrokerError(f"Kiwoom refused to cancel {t.cid} ({number}): "
                              f"{reply.get('msg') or 'no reason given'}")

    async def _cancel_untracked(self, order: Order) -> None:
        """An order we did not place (or lost track of), known by its Kiwoom number."""
        number = order.broker_order_id
        if not number:
            raise BrokerError(f"cannot cancel {order.client_order_id}: no Kiwoom order number")
        # Reported by number only: the OMS knows it (an earlier session) or flags it.
        cid = "" if order.client_order_id.startswith("kiwoom:") else order.client_order_id
        t = Tracked(cid, order.symbol, order.side, order.order_type, order.quantity, order.price)
        self._bind(t, number, "order")
        t.cum[number] = int(order.filled_qty)
        t.unfilled[number] = int(order.quantity - order.filled_qty)
        t.accepted = True
        await self._cancel_number(t, number, t.unfilled[number])

    async def amend_order(self, order: Order, quantity: Decimal | None = None,
                          price: Decimal | None = None) -> None:
        t = self.orders.get(order.client_order_id)
        if t is None:
            raise BrokerError(f"{order.client_order_id} is not a Kiwoom order of this session")
        await self._wait_ack(t)
        if t.done:
            raise BrokerError(f"{t.cid} is no longer working")
        if t.order_type is OrderType.MARKET:
            raise BrokerError("a market order cannot be modified")
        working = t.working
        target = working
        if quantity is not None:
            target = int(quantity) - t.filled
            if quantity != int(quantity) or target <= 0:
                raise BrokerError(f"new quantity {quantity} must be a whole number above the "
                                  f"{t.filled} already filled (cancel the order instead)")
            if target > working:
                raise BrokerError("Kiwoom cannot raise an order's quantity; place another order")
        if price is not None:
            self._check_price(t.symbol, self.instrument(t.symbol), price)
        if target < working:
            await self._cancel_number(t, t.live_no, working - target)
        if price is not None and price != t.price:
            args = {"account": self.account, "order_type": ORDER_MODIFY[t.side],
                    "code": t.symbol, "qty": target, "price": int(price), "hoga": HOGA_LIMIT,
                    "orig_no": t.live_no}

            def bind(result: dict[str, Any]) -> None:
                if result.get("order_no"):
                    self._bind(t, str(result["order_no"]), "modify")

            reply = await self._send_order(t, args, bind, new=False)
            if reply is not None and not reply.get("order_no"):
                raise BrokerError(f"Kiwoom refused to modify {t.cid}: "
                                  f"{reply.get('msg') or 'no reason given'}")

    # ---- queries -----------------------------------------------------------------------
    async def _tr(self, trcode: str, inputs: dict[str, str], single: Iterable[str] = (),
                  multi: Iterable[str] = (), max_pages: int = 50
                  ) -> tuple[dict[str, str], list[dict[str, str]]]:
        single, multi = list(single), list(multi)
        first: dict[str, str] | None = None
        rows: list[dict[str, str]] = []
        prev_next, cont = 0, None
        for _ in range(max_pages):
            reply = await self._request("tr", {"trcode": trcode, "inputs": inputs,
                                               "single": single, "multi": multi,
                                               "prev_next": prev_next, "cont": cont})
            if first is None:
                first = reply.get("single", {})
            rows += parsing.rows_as_dicts(multi, reply.get("rows", []))
            if reply.get("prev_next") != "2":
                break
            prev_next, cont = 2, reply.get("cont")
        return first or {}, rows

    async def _load_deposit(self) -> parsing.Deposit:
        single, _ = await self._tr("opw00001", {"계좌번호": self.account, **_ACCOUNT_INPUTS,
                                                "조회구분": "2"}, single=parsing.DEPOSIT_ITEMS)
        self.deposit = parsing.deposit(single)
        return self.deposit

    async def _load_holdings(self) -> dict[str, parsing.Holding]:
        _, rows = await self._tr("opw00018", {"계좌번호": self.account, **_ACCOUNT_INPUTS,
                                              "조회구분": "1"}, multi=parsing.HOLDING_ITEMS)
        self.holdings = {h.code: h for h in parsing.holdings(rows) if h.qty}
        return self.holdings

    async def _load_orders(self) -> tuple[dict[str, parsing.VenueOrder],
                                          dict[str, parsing.VenueOrder]]:
        """(outstanding, all of today's). Today's first: an order placed between the two
        queries then shows up as outstanding, never as "known but not working"."""
        _, all_rows = await self._tr("opt10076", {"종목코드": "", "조회구분": "0",
                                                  "매도수구분": "0", "계좌번호": self.account,
                                                  **_ACCOUNT_INPUTS, "주문번호": "",
                                                  "체결구분": "0"},
                                     multi=parsing.FILLED_ITEMS)
        _, open_rows = await self._tr("opt10075", {"계좌번호": self.account, "전체종목구분": "0",
                                                   "매매구분": "0", "종목코드": "",
                                                   "체결구분": "1"},
                                      multi=parsing.OUTSTANDING_ITEMS)
        outstanding = {o.order_no: o for o in parsing.venue_orders(open_rows)}
        today = {o.order_no: o for o in parsing.venue_orders(all_rows)}
        return outstanding, today

    async def fetch_open_orders(self) -> list[Order]:
        try:
            outstanding, _ = await self._load_orders()
        except BridgeError as exc:
            raise BrokerError(f"Kiwoom: {exc}") from None
        now = self.clock.now_ns()
        out = []
        for v in outstanding.values():
            entry = self.by_no.get(v.order_no)
            cid = entry[0].cid if entry is not None and entry[0].cid else f"kiwoom:{v.order_no}"
            out.append(Order(client_order_id=cid, broker=self.name, symbol=v.code, side=v.side,
                             order_type=OrderType.MARKET if v.market else OrderType.LIMIT,
                             quantity=Decimal(v.cum_qty + v.unfilled),
                             price=Decimal(v.price) if v.price else None,
                             status=S.PARTIALLY_FILLED if v.cum_qty else S.ACCEPTED,
                             filled_qty=Decimal(v.cum_qty), broker_order_id=v.order_no,
                             source=OrderSource.EXTERNAL if entry is None else
                             OrderSource.STRATEGY, created_ns=now, updated_ns=now))
        return out

    async def fetch_positions(self) -> list[Position]:
        try:
            holdings = await self._load_holdings()
        except BridgeError as exc:
            raise BrokerError(f"Kiwoom: {exc}") from None
        now = self.clock.now_ns()
        return [Position(broker=self.name, symbol=h.code, quantity=Decimal(h.qty),
                         avg_price=Decimal(h.avg_price), cost_basis=Decimal(h.avg_price * h.qty),
                         last_price=Decimal(h.last) if h.last else None, updated_ns=now)
                for h in holdings.values()]

    async def fetch_balances(self) -> list[Account]:
        try:
            deposit = await self._load_deposit()
            holdings = await self._load_holdings()
        except BridgeError as exc:
            raise BrokerError(f"Kiwoom: {exc}") from None
        # Decimal starts: no holdings gives Decimal 0, not int 0, as Account declares.
        value = sum((Decimal(h.last * h.qty) for h in holdings.values()), Decimal(0))
        pnl = sum((Decimal(h.pnl) for h in holdings.values()), Decimal(0))
        return [Account(broker=self.name, currency="KRW", cash=Decimal(deposit.cash),
                        equity=Decimal(deposit.cash) + value, unrealized_pnl=pnl,
                        buying_power=Decimal(deposit.orderable), updated_ns=self.clock.now_ns())]

    async def fetch_fills(self, since_ns: int | None = None) -> list[Fill]:
        return [f for f in self.fills if since_ns is None or f.ts_ns >= since_ns]

    # ---- reconciliation ---------------------------------------------------------------
    def request_reconcile(self, why: str) -> None:
        if self.client is not None and self.client.connected:
            self._spawn(self.reconcile(why), f"{self.name} reconcile")

    def _periodic_reconcile(self, now_ns: int) -> None:
        if self.state is ConnectionState.CONNECTED:
            self.request_reconcile("periodic")

    async def reconcile(self, why: str) -> None:
        """Bring our view in line with Kiwoom's: cash, holdings, orders, missed fills."""
        await self._reconciling.run(lambda: self._reconcile(why))

    async def _reconcile(self, why: str) -> None:
        asked_ns = self.clock.now_ns()
        await self._load_deposit()
        await self._load_holdings()
        outstanding, today = await self._load_orders()
        self.reconciles += 1
        self._claim_unknown(today)
        venue = {**today, **outstanding}
        for number, v in venue.items():
            entry = self.by_no.get(number)
            if entry is None:
                if number in outstanding:
                    self._adopt(v)
                continue
            t, role = entry
            if role == "cancel" or t.done:
                continue
            self._fill_gap(t, v, asked_ns)
            t.unfilled[number] = v.unfilled if number in outstanding else 0
        for t in list(self.orders.values()):
            self._settle(t, venue)
        log.info("Kiwoom reconciled (%s): cash %s, %d holdings, %d working orders", why,
                 self.deposit.cash if self.deposit else "?", len(self.holdings),
                 len(outstanding))

    def _claim_unknown(self, today: dict[str, parsing.VenueOrder]) -> None:
        for t in self.orders.values():
            if not t.outcome_unknown or t.nos:
                continue
            for number, v in sorted(today.items()):
                if number in self.by_no or v.kind != "new":
                    continue
                if (v.code, v.side, v.qty) == (t.symbol, t.side, int(t.quantity)) and \
                        (t.price is None or v.price == int(t.price)):
                    log.warning("order %s found at Kiwoom as %s after its outcome was unknown",
                                t.cid, number)
                    t.outcome_unknown = False
                    self._bind(t, number, "order")
                    t.accepted = True
                    self._report(t, S.ACCEPTED, broker_order_id=number)
                    break

    def _adopt(self, v: parsing.VenueOrder) -> None:
        """A working order we did not know: report it by number; track it from now."""
        t = Tracked("", v.code, v.side, OrderType.MARKET if v.market else OrderType.LIMIT,
                    Decimal(v.qty), Decimal(v.price) if v.price else None)
        t.cum[v.order_no] = v.cum_qty
        t.amount[v.order_no] = Decimal(v.cum_amount if v.cum_amount is not None
                                       else v.avg_fill_price * v.cum_qty)
        self._bind(t, v.order_no, "order")
        t.unfilled[v.order_no] = v.unfilled
        t.accepted = True
        self._report(t, S.ACCEPTED, broker_order_id=v.order_no, filled_qty=Decimal(v.cum_qty))

    def _fill_gap(self, t: Tracked, v: parsing.VenueOrder, ts_ns: int) -> None:
        number = v.order_no
        gap = v.cum_qty - t.cum.get(number, 0)
        if gap <= 0:
            return
        paid = t.amount.get(number, Decimal(0))
        if v.cum_amount is not None and v.cum_amount > paid:
            price = (Decimal(v.cum_amount) - paid) / gap
        else:
            price = Decimal(v.avg_fill_price)  # opt10076 has only the average
        day = parsing.kst_date(ts_ns).strftime("%Y%m%d")
        log.warning("Kiwoom reports %d more filled on %s (%s) than we saw: booking it",
                    gap, number, t.cid or "external")
        self._publish_fill(t, number, v.cum_qty, price, gap, ts_ns,
                           f"{day}-{number}-r{v.cum_qty}")

    def _settle(self, t: Tracked, venue: dict[str, parsing.VenueOrder]) -> None:
        if t.done:
            return
        if t.outcome_unknown and not t.nos:
            self._finish(t, S.REJECTED, "Kiwoom has no such order: it was never placed "
                         "(the bridge stopped before Kiwoom answered)")
            return
        known = [n for n in t.nos if n in venue]
        if not known or t.working > 0:
            return
        if t.filled >= t.quantity:
            t.done = True
        else:
            self._finish(t, S.CANCELLED, "no longer working at Kiwoom")


def create_broker(*, name: str = "kiwoom", bus: EventBus, clock: Clock,
                  launcher: BridgeLauncher | None = None,
                  settings: Mapping[str, Any] | None = None, instruments: Any = None,
                  **more: Any) -> KiwoomBroker:
    """The registry's factory: settings are the ``[brokers.kiwoom]`` keys.

    They come as ``settings=`` (as the terminal passes every broker's table) or as
    keyword arguments; KRX instruments come from the bridge, so ``instruments`` is unused.
    """
    merged = {**(settings or {}), **more}
    return KiwoomBroker(name, bus, clock, config=KiwoomConfig.from_mapping(merged),
                        launcher=launcher)
