"""The bridge's logic: protocol requests in, control calls out, control events back.

``BridgeCore`` runs on the control's own thread (the Qt thread on Windows, the
asyncio loop with the fake) and never blocks it: every control call returns at
once and every answer comes back through an event handler. Requests that the
control answers with an event (login, TR queries, orders) are kept as pending
with a timer, so nothing waits inside an event. Rate limits are applied here,
before the control sees a request (see ratelimit.py).

Standard library only.
"""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from brokers.kiwoom import protocol as P
from brokers.kiwoom.bridge.control import ControlApi
from brokers.kiwoom.bridge.ratelimit import ORDER_WINDOWS, TR_WINDOWS, Handle, RateQueue, Scheduler
from brokers.kiwoom.bridge.screens import ScreenManager, ScreensExhausted
from brokers.kiwoom.errors import RATE_LIMIT_CODES, describe, kind_of

log = logging.getLogger(__name__)

REAL_TYPE_FIDS = P.REAL_FIDS  # the protocol fixes them: values travel in this order


@dataclass(frozen=True, slots=True)
class BridgeLimits:
    tr_windows: tuple[tuple[float, int], ...] = TR_WINDOWS
    order_windows: tuple[tuple[float, int], ...] = ORDER_WINDOWS
    tr_timeout_s: float = 20.0
    order_timeout_s: float = 10.0
    login_timeout_s: float = 300.0  # the user types a password into Kiwoom's dialog
    cont_ttl_s: float = 120.0  # a paged query's screen is kept this long for the next page
    refused_pause_s: float = 1.0  # after the control itself said -200/-308
    max_refusals: int = 5
    kept_events: int = 20_000  # chejan/msg events kept while no client is connected


RequestId = tuple[int, int]  # (client generation, request id)


@dataclass(eq=False)
class _PendingTr:
    rid: RequestId
    trcode: str
    single: list[str]
    multi: list[str]
    screen: str
    timer: Handle | None = None
    msg: str = ""


@dataclass(eq=False)
class _PendingOrder:
    rid: RequestId
    msgs: list[str] = field(default_factory=list)
    timer: Handle | None = None
    got_reply: bool = False


class BridgeCore:
    def __init__(self, api: ControlApi, scheduler: Scheduler, *, control_kind: str,
                 limits: BridgeLimits | None = None,
                 sim: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
                 tr_info: Callable[[str], dict[str, Any] | None] | None = None,
                 on_shutdown: Callable[[], None] | None = None) -> None:
        self.api = api
        self.scheduler = scheduler
        self.control_kind = control_kind
        self.limits = limits or BridgeLimits()
        self.sim = sim
        self.tr_info = tr_info
        self.on_shutdown = on_shutdown
        self.send: Callable[[P.Message], None] = lambda msg: None
        self.connected = False
        self.gen = 0
        self.seq = 0
        self.lost = 0
        self._kept: deque[P.Message] = deque()
        self.screens = ScreenManager()
        self.tr_queue = RateQueue("tr", self.limits.tr_windows, scheduler)
        self.order_queue = RateQueue("order", self.limits.order_windows, scheduler)
        self._pending_tr: dict[str, _PendingTr] = {}
        self._pending_orders: dict[str, _PendingOrder] = {}
        self._conts: dict[str, tuple[str, Handle]] = {}
        self._logins: list[RequestId] = []
        self._login_timer: Handle | None = None
        self._counter = 0
        self.logged_in = False
        self.real_fids: dict[str, set[int]] = {}
        self.real_events = 0
        api.connect_events(
            OnEventConnect=self._on_event_connect,
            OnReceiveTrData=self._on_receive_tr_data,
            OnReceiveRealData=self._on_receive_real_data,
            OnReceiveMsg=self._on_receive_msg,
            OnReceiveChejanData=self._on_receive_chejan_data,
        )

    # ---- the client --------------------------------------------------------------
    def client_connected(self) -> None:
        """A client said a valid hello: welcome it and send what it missed."""
        self.gen += 1
        self.connected = True
        self.send({"t": "welcome", "v": P.VERSION, "control": self.control_kind,
                   "logged_in": self.logged_in, "pid": os.getpid(), "seq": self.seq,
                   "lost": self.lost})
        while self._kept and self.connected:
            self.send(self._kept.popleft())

    def client_disconnected(self) -> None:
        self.connected = False

    def _emit(self, msg: P.Message, keep: bool = False) -> None:
        if self.connected:
            self.send(msg)
        elif keep:
            if len(self._kept) >= self.limits.kept_events:
                self._kept.popleft()
                self.lost += 1
            self._kept.append(msg)

    def _reply(self, rid: RequestId, value: dict[str, Any] | None = None) -> None:
        if rid[0] == self.gen and self.connected:
            self.send(P.result(rid[1], value))

    def _fail(self, rid: RequestId, code: int, kind: str, msg: str) -> None:
        if rid[0] == self.gen and self.connected:
            self.send(P.failure(rid[1], code, kind, msg))

    def _queued(self, rid: RequestId) -> Callable[[float, int], None]:
        def notify(wait: float, ahead: int) -> None:
            if rid[0] == self.gen and self.connected:
                self.send(P.queued(rid[1], wait, ahead))
        return notify

    def _next_name(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}{self._counter}"

    # ---- requests ----------------------------------------------------------------
    def handle(self, msg: P.Message) -> None:
        """One request from the client (already authenticated)."""
        req_id = msg.get("id")
        op = msg.get("op")
        args = msg.get("a") or {}
        if not isinstance(req_id, int):
            log.warning("request without an integer id dropped: %r", msg.get("op"))
            return
        rid = (self.gen, req_id)
        if op not in P.OPS or not isinstance(args, dict):
            self._fail(rid, 0, "bad_request", f"unknown op {op!r} or args not an object")
            return
        try:
            getattr(self, f"_op_{op}")(rid, args)
        except (KeyError, TypeError, ValueError) as exc:
            self._fail(rid, 0, "bad_request", f"{op}: {type(exc).__name__}: {exc}")
        except Exception as exc:  # a bridge bug must not kill the bridge
            log.exception("request %s failed", op)
            self._fail(rid, 0, "failed", f"{op}: {exc}")

    def _need_login(self, rid: RequestId) -> bool:
        if self.logged_in:
            return True
        self._fail(rid, -106, "not_logged_in", "not logged in to Kiwoom yet")
        return False

    def _op_ping(self, rid: RequestId, args: dict[str, Any]) -> None:
        self._reply(rid, {"now": time.time()})

    def _op_state(self, rid: RequestId, args: dict[str, Any]) -> None:
        self._reply(rid, {"logged_in": self.logged_in, "screens": self.screens.in_use,
                          "real_codes": self.screens.real_codes, "tr_queue": len(self.tr_queue),
                          "order_queue": len(self.order_queue), "control": self.control_kind,
                          "tr_sent": self.tr_queue.sent, "orders_sent": self.order_queue.sent,
                          "real_events": self.real_events})

    def _op_shutdown(self, rid: RequestId, args: dict[str, Any]) -> None:
        self._reply(rid, {})
        if self.on_shutdown is not None:
            self.scheduler.call_later(0.05, self.on_shutdown)

    def _op_sim(self, rid: RequestId, args: dict[str, Any]) -> None:
        if self.sim is None:
            self._fail(rid, 0, "unsupported", "sim requests need the fake control")
            return
        self._reply(rid, self.sim(args))

    # ---- login -------------------------------------------------------------------
    def _op_login(self, rid: RequestId, args: dict[str, Any]) -> None:
        if self.logged_in and self.api.get_connect_state() == 1:
            self._reply(rid, self._login_info())
            return
        self._logins.append(rid)
        if len(self._logins) > 1:
            return  # a login is already under way; this request shares its outcome
        ret = self.api.comm_connect()
        if ret != 0:
            self._finish_login(ret)
            return
        self._login_timer = self.scheduler.call_later(self.limits.login_timeout_s,
                                                      self._login_timed_out)

    def _login_timed_out(self) -> None:
        self._login_timer = None
        for rid in self._logins:
            self._fail(rid, 0, "timeout", f"no login within {self.limits.login_timeout_s:g} s "
                       "(is Kiwoom's login window waiting for a password, or a version-update "
                       "popup waiting for a click?)")
        self._logins.clear()

    def _login_info(self) -> dict[str, Any]:
        accounts = [a.strip() for a in self.api.get_login_info("ACCNO").split(";") if a.strip()]
        gubun = self.api.koa_functions("GetServerGubun", "").strip()
        return {"err": 0, "accounts": accounts,
                "user_id": self.api.get_login_info("USER_ID").strip(),
                "user_name": self.api.get_login_info("USER_NAME").strip(),
                "server": "mock" if gubun == "1" else "real"}

    def _on_event_connect(self, err: int) -> None:
        err = int(err)
        self.logged_in = err == 0
        if not self._logins:
            self._emit(P.event("connect", err=err), keep=True)
            return
        self._finish_login(err)

    def _finish_login(self, err: int) -> None:
        if self._login_timer is not None:
            self._login_timer.cancel()
            self._login_timer = None
        waiting, self._logins = self._logins, []
        if err == 0:
            info = self._login_info()
            for rid in waiting:
                self._reply(rid, info)
        else:
            for rid in waiting:
                self._fail(rid, err, "login", describe(err))

    # ---- master data ---------------------------------------------------------------
    def _op_master(self, rid: RequestId, args: dict[str, Any]) -> None:
        if not self._need_login(rid):
            return
        rows = []
        for market in args.get("markets", ["0", "10"]):
            for code in self.api.get_code_list_by_market(str(market)).split(";"):
                code = code.strip()
                if code:
                    rows.append({"code": code, "market": str(market),
                                 "name": self.api.get_master_code_name(code).strip(),
                                 "last_price": self.api.get_master_last_price(code).strip()})
        self._reply(rid, {"codes": rows})

    # ---- TR queries ------------------------------------------------------------------
    def _op_tr(self, rid: RequestId, args: dict[str, Any]) -> None:
        if not self._need_login(rid):
            return
        trcode = str(args["trcode"])
        inputs = {str(k): str(v) for k, v in dict(args.get("inputs", {})).items()}
        single = [str(i) for i in args.get("single", [])]
        multi = [str(i) for i in args.get("multi", [])]
        prev_next = int(args.get("prev_next", 0))
        if prev_next not in (0, 2):
            raise ValueError("prev_next must be 0 or 2")
        if self.tr_info is not None and not self._items_known(rid, trcode, single + multi):
            return
        screen: str | None = None
        if prev_next == 2:
            cont = args.get("cont") or {}
            rq = str(cont.get("rq", ""))
            kept = self._conts.pop(rq, None)
            if kept is None:
                self._fail(rid, 0, "bad_request", f"{trcode}: no earlier page to continue "
                           f"({rq or 'no cont given'}; pages expire after "
                           f"{self.limits.cont_ttl_s:g} s)")
                return
            screen, expiry = kept
            expiry.cancel()
        else:
            rq = self._next_name("tr")
        self.tr_queue.submit(
            lambda: self._send_tr(rid, trcode, inputs, single, multi, prev_next, rq, screen, 0),
            on_queued=self._queued(rid), name=f"{trcode} {rq}")

    def _items_known(self, rid: RequestId, trcode: str, items: list[str]) -> bool:
        assert self.tr_info is not None
        try:
            info = self.tr_info(trcode)
        except Exception:
            log.exception("TR metadata of %s could not be read", trcode)
            return True
        if not info:
            return True
        known = {name for block in info.get("output", []) for names in block.values()
                 for name in names}
        unknown = [i for i in items if i not in known]
        if unknown:
            self._fail(rid, -202, "input", f"{trcode} has no output item(s) {unknown}; "
                       f"it has {sorted(known)}")
            return False
        return True

    def _send_tr(self, rid: RequestId, trcode: str, inputs: dict[str, str], single: list[str],
                 multi: list[str], prev_next: int, rq: str, screen: str | None,
                 refusals: int) -> None:
        if rid[0] != self.gen:
            if screen is not None:
                self._release_tr_screen(screen)
            return  # the client that asked is gone; do not spend a request on it
        try:
            scr = screen or self.screens.borrow()
        except ScreensExhausted as exc:
            self._fail(rid, 0, "failed", str(exc))
            return
        for item, value in inputs.items():
            self.api.set_input_value(item, value)
        ret = self.api.comm_rq_data(rq, trcode, prev_next, scr)
        if ret in RATE_LIMIT_CODES and refusals + 1 < self.limits.max_refusals:
            # Kiwoom's server counted differently from us: back off and try again.
            self.tr_queue.pause(self.limits.refused_pause_s * (refusals + 1))
            self.tr_queue.submit(
                lambda: self._send_tr(rid, trcode, inputs, single, multi, prev_next, rq, scr,
                                      refusals + 1),
                on_queued=self._queued(rid), name=f"{trcode} {rq} retry", front=True)
            return
        if ret != 0:
            self._release_tr_screen(scr)
            self._fail(rid, ret, kind_of(ret), f"{trcode}: {describe(ret)}")
            return
        pending = _PendingTr(rid, trcode, single, multi, scr)
        pending.timer = self.scheduler.call_later(self.limits.tr_timeout_s,
                                                  lambda: self._tr_timed_out(rq))
        self._pending_tr[rq] = pending

    def _tr_timed_out(self, rq: str) -> None:
        pending = self._pending_tr.pop(rq, None)
        if pending is None:
            return
        self._release_tr_screen(pending.screen)
        self._fail(pending.rid, 0, "timeout", f"Kiwoom did not answer {pending.trcode} within "
                   f"{self.limits.tr_timeout_s:g} s")

    def _release_tr_screen(self, screen: str) -> None:
        # Some TRs register real-time data on their screen; let it go with the screen.
        self.api.disconnect_real_data(screen)
        self.screens.release(screen)

    def _on_receive_tr_data(self, screen: str, rq: str, trcode: str, record: str,
                            prev_next: str, *_rest: Any) -> None:
        if rq in self._pending_orders:
            self._order_reply(rq, trcode)
            return
        pending = self._pending_tr.pop(rq, None)
        if pending is None:
            log.debug("TR data for %s (%s) nobody waits for", rq, trcode)
            return
        if pending.timer is not None:
            pending.timer.cancel()
        get = self.api.get_comm_data
        single = {item: get(trcode, rq, 0, item).strip() for item in pending.single}
        rows: list[list[str]] = []
        if pending.multi:
            count = self.api.get_repeat_cnt(trcode, rq)
            rows = [[get(trcode, rq, i, item).strip() for item in pending.multi]
                    for i in range(count)]
        more = str(prev_next or "").strip()
        cont = None
        if more == "2":
            cont = {"rq": rq, "scr": pending.screen}
            expiry = self.scheduler.call_later(self.limits.cont_ttl_s,
                                               lambda: self._cont_expired(rq))
            self._conts[rq] = (pending.screen, expiry)
        else:
            self._release_tr_screen(pending.screen)
        self._reply(pending.rid, {"prev_next": more, "single": single, "rows": rows,
                                  "cont": cont, "msg": pending.msg})

    def _cont_expired(self, rq: str) -> None:
        kept = self._conts.pop(rq, None)
        if kept is not None:
            self._release_tr_screen(kept[0])

    # ---- orders --------------------------------------------------------------------
    def _op_order(self, rid: RequestId, args: dict[str, Any]) -> None:
        if not self._need_login(rid):
            return
        account = str(args["account"])
        order_type = int(args["order_type"])
        code = str(args["code"])
        qty = int(args["qty"])
        price = int(args.get("price", 0))
        hoga = str(args.get("hoga", "00"))
        orig_no = str(args.get("orig_no", ""))
        if order_type not in range(1, 7) or qty < 0 or price < 0:
            raise ValueError(f"order_type {order_type} / qty {qty} / price {price} out of range")
        rq = self._next_name("ord")
        self.order_queue.submit(
            lambda: self._send_order(rid, rq, account, order_type, code, qty, price, hoga,
                                     orig_no, 0),
            on_queued=self._queued(rid), name=f"order {rq}")

    def _send_order(self, rid: RequestId, rq: str, account: str, order_type: int, code: str,
                    qty: int, price: int, hoga: str, orig_no: str, refusals: int) -> None:
        ret = self.api.send_order(rq, self.screens.order_screen(), account, order_type, code,
                                  qty, price, hoga, orig_no)
        if ret in RATE_LIMIT_CODES and refusals + 1 < self.limits.max_refusals:
            # Refused before it left the control: sending it again later is safe.
            self.order_queue.pause(self.limits.refused_pause_s * (refusals + 1))
            self.order_queue.submit(
                lambda: self._send_order(rid, rq, account, order_type, code, qty, price, hoga,
                                         orig_no, refusals + 1),
                on_queued=self._queued(rid), name=f"order {rq} retry", front=True)
            return
        if ret != 0:
            self._fail(rid, ret, kind_of(ret), describe(ret))
            return
        pending = _PendingOrder(rid)
        pending.timer = self.scheduler.call_later(self.limits.order_timeout_s,
                                                  lambda: self._order_done(rq, "", True))
        self._pending_orders[rq] = pending

    def _order_reply(self, rq: str, trcode: str) -> None:
        pending = self._pending_orders[rq]
        order_no = self.api.get_comm_data(trcode, rq, 0, "주문번호").strip()
        if order_no or pending.msgs:
            self._order_done(rq, order_no, False)
            return
        # Refused orders come without a number; their reason arrives in OnReceiveMsg,
        # sometimes just after. Give it a moment.
        pending.got_reply = True
        if pending.timer is not None:
            pending.timer.cancel()
        pending.timer = self.scheduler.call_later(0.3, lambda: self._order_done(rq, "", False))

    def _order_done(self, rq: str, order_no: str, timed_out: bool) -> None:
        pending = self._pending_orders.pop(rq, None)
        if pending is None:
            return
        if pending.timer is not None:
            pending.timer.cancel()
        self._reply(pending.rid, {"order_no": order_no, "msg": " / ".join(pending.msgs),
                                  "timed_out": timed_out})

    def _on_receive_msg(self, screen: str, rq: str, trcode: str, msg: str) -> None:
        pending = self._pending_orders.get(rq)
        if pending is not None:
            pending.msgs.append(msg)
            if pending.got_reply:
                self._order_done(rq, "", False)
        elif rq in self._pending_tr:
            self._pending_tr[rq].msg = msg
        self._emit(P.event("msg", scr=screen, rq=rq, tr=trcode, msg=msg), keep=True)

    # ---- real-time -----------------------------------------------------------------
    def _op_real_reg(self, rid: RequestId, args: dict[str, Any]) -> None:
        if not self._need_login(rid):
            return
        codes = [str(c) for c in args["codes"]]
        fids = sorted({int(f) for f in args["fids"]})
        if not codes or not fids:
            raise ValueError("real_reg needs codes and fids")
        fid_text = ";".join(str(f) for f in fids)
        used: set[str] = set()
        try:
            plan = self.screens.place_codes(codes)
        except ScreensExhausted as exc:
            self._fail(rid, 0, "failed", str(exc))
            return
        for screen, batch, empty in plan:
            ret = self.api.set_real_reg(screen, ";".join(batch), fid_text, "0" if empty else "1")
            if ret != 0:
                self.screens.drop_empty()
                self._fail(rid, ret, kind_of(ret), f"SetRealReg: {describe(ret)}")
                return
            self.screens.commit(screen, batch)
            used.add(screen)
        # Codes registered before with fewer FIDs: add the new FIDs on their screens.
        extra: dict[str, list[str]] = {}
        for code in dict.fromkeys(codes):
            have = self.real_fids.get(code)
            if have is not None and not set(fids) <= have:
                extra.setdefault(self.screens.code_screen[code], []).append(code)
        for screen, batch in extra.items():
            ret = self.api.set_real_reg(screen, ";".join(batch), fid_text, "1")
            if ret != 0:
                self._fail(rid, ret, kind_of(ret), f"SetRealReg: {describe(ret)}")
                return
            used.add(screen)
        for code in codes:
            self.real_fids.setdefault(code, set()).update(fids)
        self._reply(rid, {"screens": sorted(used)})

    def _op_real_remove(self, rid: RequestId, args: dict[str, Any]) -> None:
        codes = [str(c) for c in args.get("codes", [])]
        if not codes:
            self.api.set_real_remove("ALL", "ALL")
            for code in list(self.screens.code_screen):
                self.screens.remove_code(code)
            self.real_fids.clear()
        for code in codes:
            screen = self.screens.remove_code(code)
            self.real_fids.pop(code, None)
            if screen is not None:
                self.api.set_real_remove(screen, code)
        self._reply(rid, {})

    def _on_receive_real_data(self, code: str, real_type: str, data: str) -> None:
        bt = time.time_ns()
        self.real_events += 1
        if not self.connected:
            return
        fids = REAL_TYPE_FIDS.get(real_type)
        values: list[str] | dict[str, str]
        if fids is None:
            values = {"raw": data}
        else:
            values = self.api.get_comm_real_values(code, fids)
        self.send({"t": "evt", "ev": "real", "c": code, "rt": real_type, "f": values, "bt": bt})

    # ---- chejan --------------------------------------------------------------------
    def _on_receive_chejan_data(self, gubun: str, item_cnt: int, fid_list: str) -> None:
        get = self.api.get_chejan_data
        fields = {fid: get(int(fid)) for fid in fid_list.split(";") if fid.strip().isdigit()}
        self.seq += 1
        self._emit(P.event("chejan", g=str(gubun), f=fields, seq=self.seq), keep=True)
