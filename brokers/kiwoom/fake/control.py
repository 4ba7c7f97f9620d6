"""``FakeKiwoomControl``: the OpenAPI+ control's methods, events and return codes.

Methods are called the way PyQt5 calls the real one, ``dynamicCall(signature,
*args)`` (or with one list of arguments), and the signature must match the real
control's (argument count and types are checked). Events are signal objects
with ``connect``: ``OnEventConnect(err)``, ``OnReceiveTrData(scr, rq, trcode,
record, prev_next, len, err, msg, splm)``, ``OnReceiveRealData(code, type,
data)``, ``OnReceiveMsg(scr, rq, trcode, msg)``, ``OnReceiveChejanData(gubun,
count, fid_list)``. As with the real control, events never fire inside the
call that caused them: they are delivered later from the event loop, in order,
and ``GetCommData`` / ``GetChejanData`` / ``GetCommRealData`` read the record
of the event being delivered.

Real data registered with ``SetRealReg`` arrives for the real types its FIDs
belong to; ``장시작시간`` arrives without any registration. Requests beyond the
control's limits are refused like the real one refuses them: more than 5 TR
queries in a second (or 1,000 in an hour) -> -200, more than 5 orders in a
second -> -308.
"""

from __future__ import annotations

import logging
import re
from bisect import bisect_right
from collections import deque
from collections.abc import Callable
from datetime import datetime
from typing import Any

from brokers.kiwoom.bridge.ratelimit import Scheduler
from brokers.kiwoom.fake import krx
from brokers.kiwoom.fake.server import KST, FakeKiwoomServer, FillInfo, VenueOrder

log = logging.getLogger(__name__)

TRADE_FIDS = frozenset({20, 10, 11, 12, 27, 28, 15, 13, 14, 16, 17, 18, 25, 26, 29, 30, 31, 32,
                        228, 311, 290, 691, 567, 568})
BOOK_FIDS = frozenset({21, *range(41, 81), 121, 122, 125, 126, 128, 129, 138, 139})
QUOTE_FIDS = frozenset({27, 28})
CHEJAN_ORDER_FIDS = ("9201;9203;9205;9001;912;913;302;900;901;902;903;904;905;906;907;908;909;"
                     "910;911;10;27;28;914;915;938;939;919;920;921;922;923;949;10010")
CHEJAN_BALANCE_FIDS = ("9201;9001;917;916;302;10;930;931;932;933;945;946;950;951;27;28;307;"
                       "8019;957;958;918;990;991;992;993;959;924")
TR_WINDOWS = ((1.0, 5), (3600.0, 1000))
ORDER_WINDOWS = ((1.0, 5),)

_SIGNATURE = re.compile(r"^\s*(\w+)\s*\(([^)]*)\)\s*$")


class Signal:
    """Enough of a bound Qt signal: connect, disconnect, emit."""

    def __init__(self) -> None:
        self._slots: list[Callable[..., Any]] = []

    def connect(self, slot: Callable[..., Any]) -> None:
        self._slots.append(slot)

    def disconnect(self, slot: Callable[..., Any] | None = None) -> None:
        self._slots = [] if slot is None else [s for s in self._slots if s is not slot]

    def emit(self, *args: Any) -> None:
        for slot in list(self._slots):
            try:
                slot(*args)
            except Exception:  # Qt prints and carries on; so do we
                log.exception("slot %r raised", slot)


class _Windows:
    def __init__(self, windows: tuple[tuple[float, int], ...]) -> None:
        self.windows = windows
        self.stamps: list[float] = []

    def allow(self, now: float) -> bool:
        span = max(s for s, _ in self.windows)
        cut = bisect_right(self.stamps, now - span)
        if cut:
            del self.stamps[:cut]
        for window, limit in self.windows:
            if len(self.stamps) - bisect_right(self.stamps, now - window) >= limit:
                return False
        self.stamps.append(now)
        return True


def signed(value: int, base: int) -> str:
    """Prices as the control sends them: '+' above the base, '-' below."""
    if value == 0:
        return "0"
    return f"+{value}" if value > base else f"-{value}" if value < base else str(value)


def padded(value: int, width: int = 12) -> str:
    """TR numbers as account TRs send them: zero-padded, '-' in front when negative."""
    return f"-{abs(value):0{width}d}" if value < 0 else f"{value:0{width}d}"


class FakeKiwoomControl:
    """See the module docstring. ``options``:

    ``login_delay``/``tr_delay`` seconds, ``chejan_before_reply``: deliver 접수
    before the order's OnReceiveTrData (an order Kiwoom is known to use at times).
    """

    def __init__(self, scheduler: Scheduler, server: FakeKiwoomServer,
                 **options: Any) -> None:
        self.scheduler = scheduler
        self.server = server
        self.login_delay = float(options.get("login_delay", 0.01))
        self.tr_delay = float(options.get("tr_delay", 0.002))
        self.chejan_before_reply = bool(options.get("chejan_before_reply", False))
        for name in ("OnEventConnect", "OnReceiveTrData", "OnReceiveRealData", "OnReceiveMsg",
                     "OnReceiveChejanData", "OnReceiveConditionVer", "OnReceiveTrCondition",
                     "OnReceiveRealCondition"):
            setattr(self, name, Signal())
        self.connected = False
        self.muted = False
        self._events: deque[Callable[[], None]] = deque()
        self._pumping = False
        self._inputs: dict[str, str] = {}
        self._tr_data: dict[str, tuple[dict[str, str], list[dict[str, str]]]] = {}
        self._cursors: dict[tuple[str, str], int] = {}
        self._chejan: dict[int, str] = {}
        self._real: tuple[str, dict[int, str]] = ("", {})
        self.registrations: dict[str, dict[str, set[int]]] = {}  # screen -> code -> fids
        self.screens_seen: set[str] = set()
        self._tr_limit = _Windows(TR_WINDOWS)
        self._order_limit = _Windows(ORDER_WINDOWS)
        self._held: list[Callable[[], None]] = []
        self.refused: dict[int, int] = {}
        self.calls: dict[str, int] = {}
        self._signatures: dict[str, tuple[Callable[..., Any], int]] = {}
        server.listeners.append(self)

    # ---- dynamicCall ---------------------------------------------------------------
    def dynamicCall(self, signature: str, *args: Any) -> Any:  # noqa: N802 - Qt's name
        try:
            method, arity = self._signatures[signature]
        except KeyError:
            method, arity = self._signatures[signature] = self._resolve(signature)
        if len(args) == 1 and type(args[0]) is list:
            args = tuple(args[0])
        if len(args) != arity:
            raise TypeError(f"{signature} takes {arity} arguments, got {len(args)}")
        calls = self.calls
        calls[signature] = calls[signature] + 1 if signature in calls else 1
        return method(*args)

    def _resolve(self, signature: str) -> tuple[Callable[..., Any], int]:
        match = _SIGNATURE.match(signature)
        if match is None:
            raise ValueError(f"not a method signature: {signature!r}")
        name, params = match.group(1), match.group(2)
        method = getattr(self, name, None)
        if method is None or name.startswith("_") or not name[0].isupper():
            raise AttributeError(f"the Kiwoom control has no method {name}")
        return method, len([p for p in params.split(",") if p.strip()])

    # ---- the event loop ------------------------------------------------------------
    def _post(self, fn: Callable[[], None], delay: float = 0.0) -> None:
        if delay > 0:
            self.scheduler.call_later(delay, lambda: self._post(fn))
            return
        self._events.append(fn)
        if not self._pumping:
            self._pumping = True
            self.scheduler.call_later(0, self._pump)

    def _pump(self) -> None:
        try:
            while self._events:
                fn = self._events.popleft()
                try:
                    fn()
                except Exception:
                    log.exception("fake control event failed")
        finally:
            self._pumping = False

    # ---- login ----------------------------------------------------------------------
    def CommConnect(self) -> int:  # noqa: N802
        # Login outcomes belong to the server side: they outlive a restarted control.
        err = self.server.login_errors.pop(0) if self.server.login_errors else 0

        def answer() -> None:
            self.connected = err == 0
            self.OnEventConnect.emit(err)  # type: ignore[attr-defined]

        self._post(answer, self.login_delay)
        return 0

    def CommTerminate(self) -> None:  # noqa: N802
        self.connected = False

    def GetConnectState(self) -> int:  # noqa: N802
        return 1 if self.connected else 0

    def GetLoginInfo(self, tag: str) -> str:  # noqa: N802
        accounts = list(self.server.accounts)
        return {"ACCNO": "".join(f"{a};" for a in accounts), "ACCOUNT_CNT": str(len(accounts)),
                "USER_ID": "fakeuser", "USER_NAME": "홍길동", "KEY_BSECGB": "0",
                "FIREW_SECGB": "0"}.get(tag, "")

    def KOA_Functions(self, name: str, param: str) -> str:  # noqa: N802
        if name == "GetServerGubun":
            return "1" if self.server.server == "mock" else ""
        if name == "ShowAccountWindow":
            return ""
        return ""

    # ---- master data -----------------------------------------------------------------
    def GetCodeListByMarket(self, market: str) -> str:  # noqa: N802
        return "".join(f"{s.code};" for s in self.server.stocks.values() if s.market == market)

    def GetMasterCodeName(self, code: str) -> str:  # noqa: N802
        stock = self.server.stocks.get(code)
        return stock.name if stock else ""

    def GetMasterLastPrice(self, code: str) -> str:  # noqa: N802
        stock = self.server.stocks.get(code)
        return f"{stock.base:08d}" if stock else ""

    # ---- TR queries ------------------------------------------------------------------
    def SetInputValue(self, item: str, value: str) -> None:  # noqa: N802
        self._inputs[item] = value

    def _refuse(self, code: int) -> int:
        self.refused[code] = self.refused.get(code, 0) + 1
        return code

    def CommRqData(self, rq: str, trcode: str, prev_next: int, screen: str) -> int:  # noqa: N802
        inputs, self._inputs = self._inputs, {}
        if not self.connected:
            return self._refuse(-106)
        if not re.fullmatch(r"\d{4}", screen or "") or screen == "0000":
            return self._refuse(-105)
        handler = getattr(self, f"_tr_{trcode.lower()}", None)
        if handler is None:
            return self._refuse(-201)
        if not self._tr_limit.allow(self.scheduler.now()):
            return self._refuse(-200)
        self.screens_seen.add(screen)
        key = (trcode.lower(), screen)
        offset = self._cursors.get(key, 0) if int(prev_next) == 2 else 0
        try:
            single, rows, page = handler(inputs)
        except (KeyError, ValueError):
            return self._refuse(-202)
        page_rows = rows[offset:offset + page] if page else rows
        more = bool(page) and offset + page < len(rows)
        self._cursors[key] = offset + page if more else 0

        def deliver() -> None:
            self._tr_data[rq] = (single, page_rows)
            self.OnReceiveTrData.emit(screen, rq, trcode, "", "2" if more else "0",  # type: ignore[attr-defined]
                                      0, "", "", "")

        self._post(deliver, self.tr_delay)
        return 0

    def GetRepeatCnt(self, trcode: str, rq: str) -> int:  # noqa: N802
        return len(self._tr_data.get(rq, ({}, []))[1])

    def GetCommData(self, trcode: str, rq: str, index: int, item: str) -> str:  # noqa: N802
        single, rows = self._tr_data.get(rq, ({}, []))
        if rows and 0 <= index < len(rows) and item in rows[index]:
            return rows[index][item]
        return single.get(item, "")

    def DisconnectRealData(self, screen: str) -> None:  # noqa: N802
        self.registrations.pop(screen, None)

    # ---- orders ----------------------------------------------------------------------
    def SendOrder(self, rq: str, screen: str, account: str, order_type: int, code: str,  # noqa: N802
                  qty: int, price: int, hoga: str, orig_no: str) -> int:
        if not self.connected:
            return self._refuse(-106)
        if account not in self.server.accounts:
            return self._refuse(-340)
        if not code:
            return self._refuse(-500)
        if int(order_type) not in range(1, 7) or int(qty) < 0 or int(price) < 0 \
                or (int(order_type) > 2 and not orig_no):
            return self._refuse(-300)
        if not self._order_limit.allow(self.scheduler.now()):
            return self._refuse(-308)
        self.screens_seen.add(screen)

        def work() -> None:
            self.server.place(account=account, order_type=int(order_type), code=code,
                              qty=int(qty), price=int(price), hoga=hoga, orig_no=orig_no,
                              rq=rq, screen=screen)
            self._release_held()

        self._post(work)
        return 0

    def GetChejanData(self, fid: int) -> str:  # noqa: N802
        return self._chejan.get(int(fid), "")

    # ---- real-time -------------------------------------------------------------------
    def SetRealReg(self, screen: str, codes: str, fids: str, opt_type: str) -> int:  # noqa: N802
        if not self.connected:
            return self._refuse(-106)
        if not re.fullmatch(r"\d{4}", screen or "") or screen == "0000":
            return self._refuse(-105)
        code_list = [c for c in codes.split(";") if c]
        fid_list = {int(f) for f in fids.split(";") if f.strip()}
        if len(code_list) > 100:
            return self._refuse(-204)
        if len(fid_list) > 100:
            return self._refuse(-206)
        if opt_type == "0":
            self.registrations[screen] = {}
        self.screens_seen.add(screen)
        regs = self.registrations.setdefault(screen, {})
        for code in code_list:
            regs.setdefault(code, set()).update(fid_list)
        return 0

    def SetRealRemove(self, screen: str, code: str) -> None:  # noqa: N802
        screens = list(self.registrations) if screen == "ALL" else [screen]
        for number in screens:
            regs = self.registrations.get(number, {})
            if code == "ALL":
                regs.clear()
            else:
                regs.pop(code, None)

    def GetCommRealData(self, code: str, fid: int) -> str:  # noqa: N802
        current_code, record = self._real
        return record.get(fid, "") if code == current_code else ""

    def _fids_for(self, code: str) -> set[int]:
        fids: set[int] = set()
        for regs in self.registrations.values():
            fids |= regs.get(code, set())
        return fids

    def _deliver_real(self, code: str, real_type: str, record: dict[int, str]) -> None:
        def deliver() -> None:
            self._real = (code, record)
            self.OnReceiveRealData.emit(code, real_type, "\t".join(record.values()))  # type: ignore[attr-defined]
        self._post(deliver)

    # ---- the venue's reports ------------------------------------------------------------
    def _now_hhmmss(self) -> str:
        return self.server.hhmmss()

    def venue_reply(self, screen: str, rq: str, trcode: str, order_no: str) -> None:
        if self.muted:
            return

        def deliver() -> None:
            self._tr_data[rq] = ({"주문번호": order_no}, [])
            self.OnReceiveTrData.emit(screen, rq, trcode, "", "0", 0, "", "", "")  # type: ignore[attr-defined]

        self._queue_reply(deliver)

    def venue_msg(self, screen: str, rq: str, trcode: str, msg: str) -> None:
        if self.muted:
            return
        self._queue_reply(lambda: self.OnReceiveMsg.emit(screen, rq, trcode, msg))  # type: ignore[attr-defined]

    def _queue_reply(self, deliver: Callable[[], None]) -> None:
        if self.chejan_before_reply:
            self._held.append(deliver)
        else:
            self._post(deliver)

    def _release_held(self) -> None:
        held, self._held = self._held, []
        for deliver in held:
            self._post(deliver)

    def venue_order(self, order: VenueOrder, fill: FillInfo | None) -> None:
        if self.muted:
            return
        record = self._order_record(order, fill)
        self._post(lambda: self._emit_chejan("0", record, CHEJAN_ORDER_FIDS))
        self._release_held()

    def venue_balance(self, account: str, code: str) -> None:
        if self.muted:
            return
        record = self._balance_record(account, code)
        self._post(lambda: self._emit_chejan("1", record, CHEJAN_BALANCE_FIDS))

    def _emit_chejan(self, gubun: str, record: dict[int, str], fid_list: str) -> None:
        self._chejan = record
        self.OnReceiveChejanData.emit(gubun, len(fid_list.split(";")), fid_list)  # type: ignore[attr-defined]

    def venue_trade(self, code: str, price: int, qty: int, aggressor: str, hhmmss: str) -> None:
        if self.muted or not self._fids_for(code) & TRADE_FIDS:
            return
        self._deliver_real(code, "주식체결", self._trade_record(code, price, qty, aggressor, hhmmss))

    def venue_book(self, code: str) -> None:
        if self.muted:
            return
        fids = self._fids_for(code)
        if fids & BOOK_FIDS:
            self._deliver_real(code, "주식호가잔량", self._book_record(code))
        if fids & QUOTE_FIDS:
            ask, bid = self.server.best(code)
            base = self.server.stocks[code].base
            self._deliver_real(code, "주식우선호가", {27: signed(ask, base), 28: signed(bid, base)})

    # ---- records as the control formats them ---------------------------------------------
    def _order_record(self, o: VenueOrder, fill: FillInfo | None) -> dict[int, str]:
        stock = self.server.stocks[o.code]
        base = stock.base
        ask, bid = self.server.best(o.code)
        last = self.server.stats[o.code].last or base
        side = "매수" if o.side == "buy" else "매도"
        kind = {"new": f"{'+' if o.side == 'buy' else '-'}{side}",
                "modify": f"{'+' if o.side == 'buy' else '-'}{side}정정",
                "cancel": f"{side}취소"}[o.kind]
        filled = o.filled > 0 and o.kind != "cancel"
        return {
            9201: o.account, 9203: o.no, 9205: "", 9001: f"A{o.code}", 912: "JJ",
            913: o.status, 302: stock.name, 900: str(o.qty), 901: str(o.price),
            902: str(o.unfilled), 903: str(o.amount), 904: o.orig_no or "0000000", 905: kind,
            906: "시장가" if o.hoga == "03" else "보통", 907: "2" if o.side == "buy" else "1",
            908: fill.hhmmss if fill else self._now_hhmmss(),
            909: o.last_fill_no if filled else "",
            910: str(o.last_fill_price) if filled else "",
            911: str(o.filled) if filled else "",
            10: signed(last, base), 27: signed(ask, base), 28: signed(bid, base),
            914: str(o.last_fill_price) if filled else "",
            915: str(o.last_fill_qty) if filled else "",
            938: str(o.fee), 939: str(o.tax), 919: "", 920: o.screen, 921: "", 922: "00",
            923: "", 949: "", 10010: "",
        }

    def _balance_record(self, account: str, code: str) -> dict[int, str]:
        stock = self.server.stocks[code]
        state = self.server.accounts[account]
        holding = state.holdings.get(code)
        qty = holding.qty if holding else 0
        ask, bid = self.server.best(code)
        last = self.server.stats[code].last or stock.base
        return {
            9201: account, 9001: f"A{code}", 917: "00", 916: "", 302: stock.name,
            10: signed(last, stock.base), 930: str(qty), 931: str(holding.avg if holding else 0),
            932: str(holding.cost if holding else 0),
            933: str(max(0, self.server.sellable(account, code))), 945: str(qty), 946: "2",
            950: "0", 951: str(state.cash), 27: signed(ask, stock.base),
            28: signed(bid, stock.base), 307: str(stock.base), 8019: "0.00",
            957: "0", 958: "0", 918: "", 990: "0", 991: "0.00", 992: "0", 993: "0.00",
            959: "0", 924: "0",
        }

    def _trade_record(self, code: str, price: int, qty: int, aggressor: str,
                      hhmmss: str, best: tuple[int, int] | None = None) -> dict[int, str]:
        stock = self.server.stocks[code]
        base = stock.base
        stats = self.server.stats[code]
        ask, bid = best or self.server.best(code)
        change = price - base
        return {
            20: hhmmss, 10: signed(price, base), 11: f"{change:+d}" if change else "0",
            12: f"{change * 100 / base:+.2f}", 27: signed(ask, base), 28: signed(bid, base),
            15: f"{'+' if aggressor == 'buy' else '-'}{qty}", 13: str(stats.volume),
            14: str(stats.value // 1_000_000), 16: signed(stats.open or price, base),
            17: signed(stats.high or price, base), 18: signed(stats.low or price, base),
            25: "2" if change > 0 else "5" if change < 0 else "3", 228: "100.00", 290: "2",
        }

    def _book_record(self, code: str) -> dict[int, str]:
        base = self.server.stocks[code].base
        asks = self.server.depth(code, "asks")
        bids = self.server.depth(code, "bids")
        record: dict[int, str] = {21: self._now_hhmmss()}
        for i in range(10):
            ap, aq = asks[i] if i < len(asks) else (0, 0)
            bp, bq = bids[i] if i < len(bids) else (0, 0)
            record[41 + i] = signed(ap, base)
            record[51 + i] = signed(bp, base)
            record[61 + i] = str(aq)
            record[71 + i] = str(bq)
        record[121] = str(sum(q for _, q in asks))
        record[125] = str(sum(q for _, q in bids))
        return record

    # ---- TR implementations: (single, rows, page size) ----------------------------------
    def _account_of(self, inputs: dict[str, str]) -> str:
        account = inputs["계좌번호"]
        if account not in self.server.accounts:
            raise KeyError(account)
        return account

    def _tr_opt10081(self, inputs: dict[str, str]) -> tuple[dict[str, str], list[dict[str, str]], int]:
        code = inputs["종목코드"]
        if code not in self.server.stocks:
            raise KeyError(code)
        until = datetime.strptime(inputs.get("기준일자") or self.server.now().strftime("%Y%m%d"),
                                  "%Y%m%d").date()
        rows = [{"종목코드": code if i == 0 else "", "현재가": str(r["close"]),
                 "거래량": str(r["volume"]), "거래대금": str(r["value"]), "일자": str(r["date"]),
                 "시가": str(r["open"]), "고가": str(r["high"]), "저가": str(r["low"]),
                 "수정주가구분": "", "수정비율": "", "대업종구분": "", "소업종구분": "",
                 "종목정보": "", "수정주가이벤트": "", "전일종가": ""}
                for i, r in enumerate(self.server.daily_bars(code, until))]
        return {"종목코드": code}, rows, 600

    def _tr_opt10080(self, inputs: dict[str, str]) -> tuple[dict[str, str], list[dict[str, str]], int]:
        code = inputs["종목코드"]
        minutes = int(inputs["틱범위"])
        if code not in self.server.stocks or minutes not in (1, 3, 5, 10, 15, 30, 45, 60):
            raise ValueError(code)
        base = self.server.stocks[code].base
        rows = [{"현재가": signed(int(r["close"]), base), "거래량": str(r["volume"]),
                 "체결시간": str(r["time"]), "시가": signed(int(r["open"]), base),
                 "고가": signed(int(r["high"]), base), "저가": signed(int(r["low"]), base),
                 "수정주가구분": "", "수정비율": "", "대업종구분": "", "소업종구분": "",
                 "종목정보": "", "수정주가이벤트": "", "전일종가": ""}
                for r in self.server.minute_bars(code, minutes)]
        return {"종목코드": code}, rows, 900

    def _tr_opw00001(self, inputs: dict[str, str]) -> tuple[dict[str, str], list[dict[str, str]], int]:
        account = self._account_of(inputs)
        cash = self.server.accounts[account].cash
        orderable = self.server.orderable_cash(account)
        return {"예수금": padded(cash, 15), "d+2추정예수금": padded(cash, 15),
                "주문가능금액": padded(orderable, 15), "출금가능금액": padded(orderable, 15)}, [], 0

    def _tr_opw00018(self, inputs: dict[str, str]) -> tuple[dict[str, str], list[dict[str, str]], int]:
        account = self._account_of(inputs)
        state = self.server.accounts[account]
        rows = []
        total_cost = total_value = 0
        for code, holding in sorted(state.holdings.items()):
            stock = self.server.stocks[code]
            last = self.server.stats[code].last or stock.base
            value = last * holding.qty
            pnl = value - holding.cost
            total_cost += holding.cost
            total_value += value
            rows.append({"종목번호": f"A{code}", "종목명": stock.name, "평가손익": padded(pnl),
                         "수익률(%)": f"{pnl * 100 / holding.cost:.2f}" if holding.cost else "0.00",
                         "매입가": padded(holding.avg), "전일종가": padded(stock.base),
                         "보유수량": padded(holding.qty),
                         "매매가능수량": padded(max(0, self.server.sellable(account, code))),
                         "현재가": padded(last), "매입금액": padded(holding.cost),
                         "평가금액": padded(value)})
        single = {"총매입금액": padded(total_cost, 15), "총평가금액": padded(total_value, 15),
                  "총평가손익금액": padded(total_value - total_cost, 15),
                  "총수익률(%)": "0.00", "추정예탁자산": padded(state.cash + total_value, 15),
                  "조회건수": padded(len(rows), 4)}
        return single, rows, 20

    def _order_row(self, o: VenueOrder) -> dict[str, str]:
        stock = self.server.stocks[o.code]
        ask, bid = self.server.best(o.code)
        last = self.server.stats[o.code].last or stock.base
        side = "매수" if o.side == "buy" else "매도"
        sign = "+" if o.side == "buy" else "-"
        return {"계좌번호": o.account, "주문번호": o.no, "관리사번": "", "종목코드": o.code,
                "업무구분": "", "주문상태": o.status, "종목명": stock.name,
                "주문수량": str(o.qty), "주문가격": str(o.price), "미체결수량": str(o.unfilled),
                "체결누계금액": str(o.amount), "원주문번호": o.orig_no or "0000000",
                "주문구분": f"{sign}{side}{'정정' if o.kind == 'modify' else ''}",
                "매매구분": "시장가" if o.hoga == "03" else "보통",
                "매도수구분": "2" if o.side == "buy" else "1", "시간": o.time,
                "주문시간": o.time, "체결번호": o.last_fill_no,
                "체결가": str(o.amount // o.filled) if o.filled else "",
                "체결량": str(o.filled), "현재가": signed(last, stock.base),
                "매도호가": signed(ask, stock.base), "매수호가": signed(bid, stock.base),
                "단위체결가": str(o.last_fill_price or ""),
                "단위체결량": str(o.last_fill_qty or ""), "당일매매수수료": str(o.fee),
                "당일매매세금": str(o.tax)}

    def _orders_of(self, inputs: dict[str, str], outstanding: bool) -> list[VenueOrder]:
        account = self._account_of(inputs)
        code = inputs.get("종목코드", "")
        one_code = inputs.get("전체종목구분", inputs.get("조회구분", "0")) == "1"
        side = {"1": "sell", "2": "buy"}.get(inputs.get("매매구분", inputs.get("매도수구분", "0")))
        filter_ = inputs.get("체결구분", "0")
        orders = [o for o in self.server.orders.values()
                  if o.account == account and o.kind != "cancel"
                  and (not one_code or o.code == code) and (side is None or o.side == side)]
        if outstanding or filter_ == "1":
            orders = [o for o in orders if o.active and o.unfilled > 0]
        elif filter_ == "2":
            orders = [o for o in orders if o.filled > 0]
        return sorted(orders, key=lambda o: o.no, reverse=True)

    def _tr_opt10075(self, inputs: dict[str, str]) -> tuple[dict[str, str], list[dict[str, str]], int]:
        return {}, [self._order_row(o) for o in self._orders_of(inputs, True)], 100

    def _tr_opt10076(self, inputs: dict[str, str]) -> tuple[dict[str, str], list[dict[str, str]], int]:
        return {}, [self._order_row(o) for o in self._orders_of(inputs, False)], 100

    # ---- the sim requests (tests and demos drive the market through these) -------------
    def sim(self, args: dict[str, Any]) -> dict[str, Any]:
        action = args.get("action")
        if action == "external":
            self.muted = not args.get("deliver", True)
            try:
                filled = self.server.external(str(args["code"]), str(args["side"]),
                                              int(args["qty"]),
                                              int(args["price"]) if args.get("price") else None,
                                              args.get("time"))
            finally:
                self.muted = False
            return {"filled": filled}
        if action == "session":
            status = str(args.get("status", "3"))
            self.server.session_open = status in ("3", "2")
            self.server.save()
            record = {215: status, 20: str(args.get("time") or self._now_hhmmss()), 214: "000000"}
            self._deliver_real("", "장시작시간", record)
            return {"open": self.server.session_open}
        if action == "burst":
            kinds = args.get("kinds", ["trade"])
            return self._burst(str(args["code"]), int(args["count"]), float(args["rate"]),
                               [str(k) for k in kinds])
        if action == "orders":
            return {"orders": [self._order_row(o) for o in self.server.orders.values()
                               if o.account == args["account"] and o.kind != "cancel"]}
        if action == "account":
            state = self.server.accounts[str(args["account"])]
            return {"cash": state.cash,
                    "holdings": {c: {"qty": h.qty, "cost": h.cost} for c, h in
                                 state.holdings.items()}}
        if action == "stats":
            return {"refused": {str(k): v for k, v in self.refused.items()},
                    "screens_seen": len(self.screens_seen),
                    "registrations": {s: sorted(r) for s, r in self.registrations.items() if r},
                    "calls": dict(self.calls)}
        if action == "login_errors":
            self.server.login_errors = [int(e) for e in args.get("codes", [])]
            return {}
        if action == "disconnect":
            self.connected = False
            self._post(lambda: self.OnEventConnect.emit(-106))  # type: ignore[attr-defined]
            return {}
        raise ValueError(f"unknown sim action {action!r}")

    def _burst(self, code: str, count: int, rate: float,
               kinds: list[str] | None = None) -> dict[str, Any]:
        """``count`` real-time events at ``rate`` per second (benchmarks only).

        ``kinds`` picks 주식체결 trade prints ("trade") and 주식호가잔량 books ("book"),
        taken in turn. Records are the ones the venue's own prints and book changes
        produce (real FIDs, signed strings), varied from event to event without
        touching the venue's book, and raised through ``OnReceiveRealData`` like
        any other: the bridge reads them with ``GetCommRealData``. Only kinds whose
        FIDs are registered for ``code`` are sent, as the real control does.
        """
        kinds = list(kinds or ["trade"])
        if count <= 0 or rate <= 0 or not kinds or set(kinds) - {"trade", "book"}:
            raise ValueError("count and rate must be positive; kinds are 'trade' and 'book'")
        if code not in self.server.stocks:
            raise ValueError(f"no stock {code}")
        fids = self._fids_for(code)
        wanted = {"trade": TRADE_FIDS, "book": BOOK_FIDS}
        missing = [k for k in kinds if not fids & wanted[k]]
        if missing:
            raise ValueError(f"{code} has no real-time registration for {missing}")
        stock = self.server.stocks[code]
        tick = krx.tick_size(stock.base, stock.etf)
        book = self._book_record(code)
        best = self.server.best(code)  # a burst leaves the venue's book alone
        step = 0.001
        sent = 0
        start = self.scheduler.now()
        emit = self.OnReceiveRealData.emit  # type: ignore[attr-defined]

        def trade(n: int, now: str) -> None:
            price = stock.base + tick * (n % 7 - 3)
            self.server.stats[code].volume += 1 + n % 9
            record = self._trade_record(code, price, 1 + n % 9, "buy" if n % 2 else "sell", now,
                                        best)
            self._real = (code, record)
            emit(code, "주식체결", "\t".join(record.values()))

        def book_change(n: int, now: str) -> None:
            record = dict(book)
            record[21] = now
            record[61 + n % 10] = str(1 + n % 997)
            record[71 + (n + 3) % 10] = str(1 + (n * 7) % 991)
            self._real = (code, record)
            emit(code, "주식호가잔량", "\t".join(record.values()))

        makers = [trade if k == "trade" else book_change for k in kinds]

        def emit_some() -> None:
            nonlocal sent
            now = datetime.now(KST).strftime("%H%M%S")
            # Catch up with the schedule when the loop was late, so the rate holds.
            due = min(count, int((self.scheduler.now() - start) * rate) + 1)
            while sent < due:
                makers[sent % len(makers)](sent, now)
                sent += 1
            if sent < count:
                self.scheduler.call_later(step, emit_some)

        self.scheduler.call_later(0, emit_some)
        return {"scheduled": count, "kinds": kinds}
