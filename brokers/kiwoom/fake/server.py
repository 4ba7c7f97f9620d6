"""The fake venue: accounts, a simulated KRX order book per stock, and matching.

Orders are matched by price, then time, against resting liquidity (the
"others" in the book, and our own resting orders), with KRX's rules: ticks, the
±30% band around the previous close, no short selling, cash checked on buys.
Every change is told to a listener (the fake control) in the order Kiwoom's
servers report it: the order's reply (its number) and message, then 접수, then
one 체결 per partial fill each followed by the balance. Cancels and modifies get
a number of their own, 접수 then 확인, then the original order's new unfilled
quantity.

With ``state_path`` the whole venue is written to a JSON file after every change
and read back on start, so it outlives the bridge process, as Kiwoom's does.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from brokers.kiwoom.fake import krx

KST = timezone(timedelta(hours=9))
SESSION_OPEN = time(9, 0)
SESSION_MINUTES = 390  # 09:00-15:30


@dataclass(frozen=True)
class Stock:
    code: str
    name: str
    market: str  # "0" KOSPI, "10" KOSDAQ, "8" ETF, "50" KONEX (GetCodeListByMarket)
    base: int  # previous close: the base of the ±30% band
    etf: bool = False

    @property
    def board(self) -> str:
        return {"10": "KOSDAQ", "50": "KONEX"}.get(self.market, "KOSPI")


DEFAULT_UNIVERSE = (
    Stock("005930", "삼성전자", "0", 71_000),
    Stock("000660", "SK하이닉스", "0", 181_000),
    Stock("035720", "카카오", "0", 45_000),
    Stock("247540", "에코프로비엠", "10", 251_000),
    Stock("069500", "KODEX 200", "8", 35_000, etf=True),
)


@dataclass
class VenueOrder:
    no: str
    account: str
    code: str
    side: str  # "buy" | "sell"
    kind: str  # "new" | "modify" | "cancel"
    qty: int
    price: int
    hoga: str
    orig_no: str
    unfilled: int
    filled: int = 0
    amount: int = 0  # 체결누계금액
    fee: int = 0  # cumulative commission
    tax: int = 0  # cumulative tax
    status: str = "접수"
    time: str = ""
    seq: int = 0
    active: bool = True
    last_fill_no: str = ""
    last_fill_price: int = 0
    last_fill_qty: int = 0
    screen: str = ""


@dataclass(frozen=True)
class FillInfo:
    no: str
    price: int
    qty: int
    commission: int
    tax: int
    hhmmss: str


@dataclass
class Holding:
    qty: int = 0
    cost: int = 0  # total purchase amount of the held shares

    @property
    def avg(self) -> int:
        return self.cost // self.qty if self.qty else 0


@dataclass
class AccountState:
    cash: int
    holdings: dict[str, Holding] = field(default_factory=dict)


@dataclass
class DayStats:
    open: int = 0
    high: int = 0
    low: int = 0
    last: int = 0
    volume: int = 0
    value: int = 0  # won


class VenueListener(Protocol):
    def venue_reply(self, screen: str, rq: str, trcode: str, order_no: str) -> None: ...
    def venue_msg(self, screen: str, rq: str, trcode: str, msg: str) -> None: ...
    def venue_order(self, order: VenueOrder, fill: FillInfo | None) -> None: ...
    def venue_balance(self, account: str, code: str) -> None: ...
    def venue_trade(self, code: str, price: int, qty: int, aggressor: str, hhmmss: str) -> None: ...
    def venue_book(self, code: str) -> None: ...


class Rejected(Exception):
    """The venue refused an order; the message is what Kiwoom would say."""


class FakeKiwoomServer:
    def __init__(self, *, state_path: str | Path | None = None,
                 accounts: tuple[str, ...] = ("8012345611", "8012345612"),
                 cash: int = 100_000_000, server: str = "mock",
                 universe: tuple[Stock, ...] = DEFAULT_UNIVERSE,
                 commission: Decimal | None = None,
                 clock: Callable[[], datetime] | None = None,
                 history_days: int = 1_000, minute_days: int = 3,
                 login_errors: list[int] | None = None) -> None:
        if server not in ("mock", "real"):
            raise ValueError("server must be 'mock' or 'real'")
        self.server = server
        self.stocks = {s.code: s for s in universe}
        self.commission = commission if commission is not None else (
            krx.MOCK_COMMISSION if server == "mock" else krx.REAL_COMMISSION)
        self.clock = clock or (lambda: datetime.now(KST))
        self.history_days = history_days
        self.minute_days = minute_days
        self.state_path = Path(state_path) if state_path else None
        self.listeners: list[VenueListener] = []
        # OnEventConnect codes for the next logins (-100 / -101 / -102), then 0.
        self.login_errors = [int(e) for e in (login_errors or [])]
        self.session_open = True
        self.accounts = {a: AccountState(cash) for a in accounts}
        self.orders: dict[str, VenueOrder] = {}
        self.books: dict[str, dict[str, dict[int, list[list[Any]]]]] = {}
        self.stats: dict[str, DayStats] = {}
        self.order_counter = 0
        self.fill_counter = 0
        self.seq = 0
        if self.state_path is not None and self.state_path.exists():
            self._load()
        else:
            for stock in universe:
                self._seed_book(stock)
            self.save()

    # ---- state -------------------------------------------------------------------
    def _seed_book(self, stock: Stock) -> None:
        """Others' resting orders: 10 levels a side, leaving the base price itself free."""
        bids: dict[int, list[list[Any]]] = {}
        asks: dict[int, list[list[Any]]] = {}
        up = down = stock.base
        for level in range(10):
            up += krx.tick_size(up, stock.etf)
            down -= krx.tick_size(down - 1, stock.etf)
            asks[up] = [["ext", 1_000 * (level + 1)]]
            bids[down] = [["ext", 1_000 * (level + 1)]]
        self.books[stock.code] = {"bids": bids, "asks": asks}
        self.stats[stock.code] = DayStats()

    def save(self) -> None:
        if self.state_path is None:
            return
        state = {
            "accounts": {a: {"cash": s.cash, "holdings": {c: asdict(h) for c, h in
                                                          s.holdings.items()}}
                         for a, s in self.accounts.items()},
            "orders": [asdict(o) for o in self.orders.values()],
            "books": {code: {side: [[p, lots] for p, lots in levels.items()]
                             for side, levels in book.items()}
                      for code, book in self.books.items()},
            "stats": {c: asdict(s) for c, s in self.stats.items()},
            "counters": [self.order_counter, self.fill_counter, self.seq],
            "session_open": self.session_open,
        }
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.state_path.parent, prefix=".fake-kiwoom-")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(state, fh, ensure_ascii=False)
        os.replace(tmp, self.state_path)

    def _load(self) -> None:
        assert self.state_path is not None
        state = json.loads(self.state_path.read_text(encoding="utf-8"))
        self.accounts = {a: AccountState(s["cash"], {c: Holding(**h) for c, h in
                                                     s["holdings"].items()})
                         for a, s in state["accounts"].items()}
        self.orders = {o["no"]: VenueOrder(**o) for o in state["orders"]}
        self.books = {code: {side: {int(p): lots for p, lots in levels}
                             for side, levels in book.items()}
                      for code, book in state["books"].items()}
        self.stats = {c: DayStats(**s) for c, s in state["stats"].items()}
        self.order_counter, self.fill_counter, self.seq = state["counters"]
        self.session_open = state.get("session_open", True)

    # ---- helpers -----------------------------------------------------------------
    def now(self) -> datetime:
        return self.clock().astimezone(KST)

    def hhmmss(self) -> str:
        return self.now().strftime("%H%M%S")

    def _prefix(self) -> str:
        return "모의투자 " if self.server == "mock" else ""

    def _next_order_no(self) -> str:
        self.order_counter += 1
        return f"{self.order_counter:07d}"

    def _next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def stock(self, code: str) -> Stock:
        return self.stocks[code]

    def limits(self, code: str) -> tuple[int, int]:
        stock = self.stocks[code]
        return krx.price_limits(stock.base, stock.etf)

    def best(self, code: str) -> tuple[int, int]:
        """(best ask, best bid); 0 when a side is empty."""
        book = self.books[code]
        asks = [p for p, lots in book["asks"].items() if self._level_qty(lots)]
        bids = [p for p, lots in book["bids"].items() if self._level_qty(lots)]
        return (min(asks) if asks else 0, max(bids) if bids else 0)

    def _level_qty(self, lots: list[list[Any]]) -> int:
        total = 0
        for kind, value in lots:
            if kind == "ext":
                total += value
            else:
                order = self.orders.get(value)
                if order is not None and order.active:
                    total += order.unfilled
        return total

    def depth(self, code: str, side: str, levels: int = 10) -> list[tuple[int, int]]:
        """[(price, qty)] best first for "asks" or "bids"."""
        book = self.books[code][side]
        prices = sorted((p for p, lots in book.items() if self._level_qty(lots)),
                        reverse=side == "bids")
        return [(p, self._level_qty(book[p])) for p in prices[:levels]]

    def sellable(self, account: str, code: str) -> int:
        held = self.accounts[account].holdings.get(code, Holding()).qty
        selling = sum(o.unfilled for o in self.orders.values()
                      if o.active and o.account == account and o.code == code
                      and o.side == "sell")
        return held - selling

    def orderable_cash(self, account: str) -> int:
        reserved = 0
        for o in self.orders.values():
            if o.active and o.account == account and o.side == "buy":
                price = o.price or self.limits(o.code)[1]
                amount = price * o.unfilled
                reserved += amount + krx.fee(amount, self.commission)
        return self.accounts[account].cash - reserved

    def open_orders(self, account: str) -> list[VenueOrder]:
        return [o for o in self.orders.values()
                if o.account == account and o.active and o.kind != "cancel" and o.unfilled > 0]

    def _emit(self, method: str, *args: Any) -> None:
        for listener in list(self.listeners):
            getattr(listener, method)(*args)

    # ---- our orders --------------------------------------------------------------
    @staticmethod
    def order_trcode(order_type: int, market: str) -> str:
        board = "KQ" if market == "10" else "KP"
        return {1: f"KOA_NORMAL_BUY_{board}_ORD", 2: f"KOA_NORMAL_SELL_{board}_ORD",
                3: f"KOA_NORMAL_{board}_CANCEL", 4: f"KOA_NORMAL_{board}_CANCEL",
                5: f"KOA_NORMAL_{board}_MODIFY", 6: f"KOA_NORMAL_{board}_MODIFY"}[order_type]

    def place(self, *, account: str, order_type: int, code: str, qty: int, price: int,
              hoga: str, orig_no: str, rq: str, screen: str) -> None:
        """What Kiwoom's server does with one SendOrder, told to the listeners."""
        stock = self.stocks.get(code)
        trcode = self.order_trcode(order_type, stock.market if stock else "0")
        try:
            if stock is None:
                raise Rejected(f"{self._prefix()}종목코드가 없습니다 ({code})")
            if not self.session_open:
                raise Rejected(f"[00Z218] {self._prefix()}장종료 상태입니다")
            if order_type in (1, 2):
                order = self._new_order(account, "buy" if order_type == 1 else "sell", stock,
                                        qty, price, hoga)
            elif order_type in (3, 4):
                order = self._cancel(account, "buy" if order_type == 3 else "sell", stock, qty,
                                     orig_no)
            else:
                order = self._modify(account, "buy" if order_type == 5 else "sell", stock, qty,
                                     price, hoga, orig_no)
        except Rejected as exc:
            self._emit("venue_msg", screen, rq, trcode, str(exc))
            self._emit("venue_reply", screen, rq, trcode, "")
            return
        order.screen = screen
        self._emit("venue_reply", screen, rq, trcode, order.no)
        self._emit("venue_msg", screen, rq, trcode, f"[00Z112] {self._prefix()}정상처리 되었습니다")
        if order.kind == "new":
            self._emit("venue_order", order, None)
            self._work(order)
        elif order.kind == "cancel":
            self._finish_cancel(order)
        else:
            self._finish_modify(order)
        self.save()

    def _check_price(self, stock: Stock, price: int, hoga: str) -> None:
        if hoga not in ("00", "03"):
            raise Rejected(f"{self._prefix()}지원하지 않는 호가구분입니다 ({hoga}): 00 지정가, 03 시장가")
        if hoga == "03":
            if price != 0:
                raise Rejected(f"[00Z237] {self._prefix()}단가를 입력하지 않는 호가입니다.")
            return
        if not krx.on_tick(price, stock.etf):
            raise Rejected(f"{self._prefix()}호가단위 오류입니다: {price}원은 "
                           f"{krx.tick_size(price, stock.etf)}원 단위가 아닙니다")
        lower, upper = krx.price_limits(stock.base, stock.etf)
        if price > upper:
            raise Rejected(f"{self._prefix()}상한가({upper}원)를 초과하는 주문입니다")
        if price < lower:
            raise Rejected(f"{self._prefix()}하한가({lower}원) 미만의 주문입니다")

    def _check_account(self, account: str) -> AccountState:
        state = self.accounts.get(account)
        if state is None:
            raise Rejected(f"{self._prefix()}계좌번호가 없습니다 ({account})")
        return state

    def _new_order(self, account: str, side: str, stock: Stock, qty: int, price: int,
                   hoga: str) -> VenueOrder:
        self._check_account(account)
        if qty <= 0:
            raise Rejected(f"{self._prefix()}주문수량을 입력하세요")
        self._check_price(stock, price, hoga)
        if side == "sell" and qty > self.sellable(account, stock.code):
            raise Rejected(f"{self._prefix()}매도가능수량이 부족합니다 "
                           f"(가능 {max(0, self.sellable(account, stock.code))}주)")
        if side == "buy":
            amount = (price or self.limits(stock.code)[1]) * qty
            if amount + krx.fee(amount, self.commission) > self.orderable_cash(account):
                raise Rejected(f"{self._prefix()}주문가능금액을 초과합니다")
        return self._store(VenueOrder(self._next_order_no(), account, stock.code, side, "new",
                                      qty, price, hoga, "", qty, time=self.hhmmss(),
                                      seq=self._next_seq()))

    def _store(self, order: VenueOrder) -> VenueOrder:
        self.orders[order.no] = order
        return order

    def _original(self, account: str, side: str, stock: Stock, orig_no: str) -> VenueOrder:
        orig = self.orders.get(orig_no)
        if (orig is None or orig.account != account or orig.code != stock.code
                or orig.side != side or orig.kind == "cancel"):
            raise Rejected(f"{self._prefix()}원주문번호가 올바르지 않습니다 ({orig_no})")
        if not orig.active or orig.unfilled <= 0:
            raise Rejected(f"{self._prefix()}정정/취소할 수량이 없습니다 ({orig_no})")
        return orig

    def _cancel(self, account: str, side: str, stock: Stock, qty: int,
                orig_no: str) -> VenueOrder:
        orig = self._original(account, side, stock, orig_no)
        qty = qty or orig.unfilled
        if qty > orig.unfilled:
            raise Rejected(f"[00Z924] {self._prefix()}취소수량이 취소가능수량을 초과합니다")
        return self._store(VenueOrder(self._next_order_no(), account, stock.code, side,
                                      "cancel", qty, orig.price, orig.hoga, orig.no, 0,
                                      time=self.hhmmss(), seq=self._next_seq(), active=False))

    def _modify(self, account: str, side: str, stock: Stock, qty: int, price: int, hoga: str,
                orig_no: str) -> VenueOrder:
        orig = self._original(account, side, stock, orig_no)
        qty = qty or orig.unfilled
        if qty > orig.unfilled:
            raise Rejected(f"{self._prefix()}정정수량이 정정가능수량을 초과합니다")
        self._check_price(stock, price, hoga)
        if side == "buy":
            released = (orig.price or self.limits(stock.code)[1]) * qty
            amount = (price or self.limits(stock.code)[1]) * qty
            extra = amount - released
            if extra > 0 and extra + krx.fee(extra, self.commission) > \
                    self.orderable_cash(account):
                raise Rejected(f"{self._prefix()}주문가능금액을 초과합니다")
        return self._store(VenueOrder(self._next_order_no(), account, stock.code, side,
                                      "modify", qty, price, hoga, orig.no, qty,
                                      time=self.hhmmss(), seq=self._next_seq()))

    def _finish_cancel(self, cancel: VenueOrder) -> None:
        orig = self.orders[cancel.orig_no]
        self._emit("venue_order", cancel, None)
        orig.unfilled -= cancel.qty
        if orig.unfilled == 0:
            orig.active = False
        cancel.status = "확인"
        self._emit("venue_order", cancel, None)
        self._emit("venue_order", orig, None)
        self._emit("venue_book", orig.code)

    def _finish_modify(self, modify: VenueOrder) -> None:
        orig = self.orders[modify.orig_no]
        self._emit("venue_order", modify, None)
        orig.unfilled -= modify.qty
        if orig.unfilled == 0:
            orig.active = False
        modify.status = "확인"
        self._emit("venue_order", modify, None)
        self._emit("venue_order", orig, None)
        self._work(modify)

    def _work(self, order: VenueOrder) -> None:
        """Match a new (or modified) order; rest what is left of a limit order."""
        limit = order.price if order.hoga == "00" else None
        self._match(order.code, order.side, order.unfilled, limit, order)
        if order.active and order.unfilled > 0:
            if order.hoga == "03":
                # A market order the book could not fill keeps working at the last price.
                order.price = self.stats[order.code].last or self.stocks[order.code].base
            side = "bids" if order.side == "buy" else "asks"
            self.books[order.code][side].setdefault(order.price, []).append(["ord", order.no])
        self._emit("venue_book", order.code)

    # ---- others' orders (driven by tests and demos) --------------------------------
    def external(self, code: str, side: str, qty: int, price: int | None = None,
                 hhmmss: str | None = None) -> int:
        """Someone else's order: trades against the book; a limit remainder rests."""
        if code not in self.stocks or side not in ("buy", "sell") or qty <= 0:
            raise ValueError(f"bad external order {code} {side} {qty}")
        left = self._match(code, side, qty, price, None, hhmmss)
        if left and price is not None:
            book_side = "bids" if side == "buy" else "asks"
            self.books[code][book_side].setdefault(price, []).append(["ext", left])
        self._emit("venue_book", code)
        self.save()
        return qty - left

    def _match(self, code: str, side: str, qty: int, limit: int | None,
               aggressor: VenueOrder | None, hhmmss: str | None = None) -> int:
        book = self.books[code]["asks" if side == "buy" else "bids"]
        t = hhmmss or self.hhmmss()
        left = qty
        while left > 0:
            prices = sorted((p for p, lots in book.items() if self._level_qty(lots)),
                            reverse=side == "sell")
            if not prices:
                break
            price = prices[0]
            if limit is not None and (price > limit if side == "buy" else price < limit):
                break
            lots = book[price]
            while lots and left > 0:
                kind, value = lots[0]
                if kind == "ext":
                    take = min(value, left)
                    lots[0][1] -= take
                    if lots[0][1] == 0:
                        lots.pop(0)
                    passive = None
                else:
                    passive = self.orders[value]
                    if not passive.active or passive.unfilled == 0:
                        lots.pop(0)
                        continue
                    take = min(passive.unfilled, left)
                left -= take
                if passive is not None:
                    self._fill(passive, price, take, t)
                    if not passive.active:
                        lots.pop(0)
                if aggressor is not None:
                    self._fill(aggressor, price, take, t)
                self._print(code, price, take, side, t)
            if not lots:
                del book[price]
        return left

    def _print(self, code: str, price: int, qty: int, aggressor: str, hhmmss: str) -> None:
        stats = self.stats[code]
        if not stats.volume:
            stats.open = stats.high = stats.low = price
        stats.high = max(stats.high, price)
        stats.low = min(stats.low, price)
        stats.last = price
        stats.volume += qty
        stats.value += price * qty
        self._emit("venue_trade", code, price, qty, aggressor, hhmmss)

    def _fill(self, order: VenueOrder, price: int, qty: int, hhmmss: str) -> None:
        stock = self.stocks[order.code]
        amount = price * qty
        commission = krx.fee(amount, self.commission)
        tax = krx.fee(amount, krx.sell_tax_rate(stock.board, self.now().date(), stock.etf)) \
            if order.side == "sell" else 0
        self.fill_counter += 1
        fill = FillInfo(f"{self.fill_counter:07d}", price, qty, commission, tax, hhmmss)
        order.unfilled -= qty
        order.filled += qty
        order.amount += amount
        order.fee += commission
        order.tax += tax
        order.status = "체결"
        order.last_fill_no, order.last_fill_price, order.last_fill_qty = fill.no, price, qty
        if order.unfilled == 0:
            order.active = False
        account = self.accounts[order.account]
        holding = account.holdings.setdefault(order.code, Holding())
        if order.side == "buy":
            account.cash -= amount + commission
            holding.qty += qty
            holding.cost += amount
        else:
            account.cash += amount - commission - tax
            holding.cost -= holding.cost * qty // holding.qty
            holding.qty -= qty
        if holding.qty == 0:
            account.holdings.pop(order.code, None)
        self._emit("venue_order", order, fill)
        self._emit("venue_balance", order.account, order.code)

    # ---- history -------------------------------------------------------------------
    def _level(self, code: str, x: float) -> float:
        """A smooth synthetic price path for history (the fake's own market)."""
        stock = self.stocks[code]
        seed = sum(int(ch) for ch in code if ch.isdigit())
        return stock.base * (1 + 0.08 * math.sin(x / 23.0 + seed)
                             + 0.03 * math.sin(x / 7.1 + 2 * seed))

    def _snap(self, code: str, value: float) -> int:
        stock = self.stocks[code]
        price = max(int(value), 1)
        return price - price % krx.tick_size(price, stock.etf) or krx.tick_size(1, stock.etf)

    def _ohlc(self, code: str, x0: float, x1: float) -> tuple[int, int, int, int]:
        o, c = self._level(code, x0), self._level(code, x1)
        h = max(o, c) * 1.004
        low = min(o, c) * 0.996
        return (self._snap(code, o), self._snap(code, h), self._snap(code, low),
                self._snap(code, c))

    @staticmethod
    def _trading_days(until: date, count: int, include_until: bool = True) -> list[date]:
        days: list[date] = []
        day = until if include_until else until - timedelta(days=1)
        while len(days) < count:
            if day.weekday() < 5:
                days.append(day)
            day -= timedelta(days=1)
        return days  # newest first

    def daily_bars(self, code: str, until: date) -> list[dict[str, int | str]]:
        """Newest first, as opt10081 returns them."""
        rows: list[dict[str, int | str]] = []
        for day in self._trading_days(until, self.history_days):
            x = day.toordinal()
            o, h, low, c = self._ohlc(code, x - 0.9, x)
            volume = 100_000 + (x * 7919) % 50_000
            rows.append({"date": day.strftime("%Y%m%d"), "open": o, "high": h, "low": low,
                         "close": c, "volume": volume, "value": c * volume // 1_000_000})
        return rows

    def minute_bars(self, code: str, minutes: int) -> list[dict[str, int | str]]:
        """Newest first; labelled with the bar's end time, as opt10080 does."""
        rows: list[dict[str, int | str]] = []
        for day in self._trading_days(self.now().date(), self.minute_days, include_until=False):
            start = datetime.combine(day, SESSION_OPEN)
            ends = list(range(minutes, SESSION_MINUTES, minutes)) + [SESSION_MINUTES]
            for end in reversed(ends):
                begin = end - minutes if end % minutes == 0 else end - end % minutes
                x0 = day.toordinal() + begin / SESSION_MINUTES
                x1 = day.toordinal() + end / SESSION_MINUTES
                o, h, low, c = self._ohlc(code, x0 * 40, x1 * 40)
                rows.append({"time": (start + timedelta(minutes=end)).strftime("%Y%m%d%H%M%S"),
                             "open": o, "high": h, "low": low, "close": c,
                             "volume": 1_000 + (end * 37 + day.day * 11) % 900})
        return rows
