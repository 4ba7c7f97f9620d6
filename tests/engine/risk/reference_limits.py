"""The pre-trade risk check as written before it was made fast (commit fe04532), kept
verbatim as the reference the fast ``PreTradeRisk.check`` must agree with.

Plain on purpose: each rule is one method reading a parsed ``_Order``; nothing is
cached across calls except the rule lists. Do not optimise this file.
"""
# ruff: noqa

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from engine.clock import Clock
from engine.execution.intents import OrderIntent, Rejection
from engine.execution.oms import OrderManager
from engine.instruments import InstrumentRegistry
from engine.market_state import MarketState
from engine.models import Account, Instrument, OrderSource, OrderType, Side, to_decimal
from engine.models.numbers import ZERO
from engine.portfolio.ledger import Ledger
from engine.risk.derived import Derived
from engine.risk.limits import RiskLimits

NS = 1_000_000_000
_PRIVILEGED = frozenset({OrderSource.KILL_SWITCH, OrderSource.RISK})
_NEEDS_PRICE = frozenset({OrderType.LIMIT, OrderType.STOP_LIMIT})
_NEEDS_STOP = frozenset({OrderType.STOP, OrderType.STOP_LIMIT})


@dataclass(frozen=True, slots=True)
class _Numbers:
    """``RiskLimits`` as the Decimals and nanoseconds the rules compare with."""

    max_order_qty: Decimal
    max_order_notional: Decimal
    band: Decimal  # price_band_pct / 100
    position_pct: Decimal
    gross_pct: Decimal
    leverage: Decimal
    duplicate_ns: int
    cancel_ns: int

    @classmethod
    def of(cls, lim: RiskLimits) -> _Numbers:
        return cls(Decimal(str(lim.max_order_qty)), Decimal(str(lim.max_order_notional)),
                   Decimal(str(lim.price_band_pct)) / 100, Decimal(str(lim.max_position_pct)),
                   Decimal(str(lim.max_gross_exposure_pct)), Decimal(str(lim.max_leverage)),
                   int(lim.duplicate_window_seconds * NS), int(lim.cancel_window_seconds * NS))


def _decimal(value: float) -> Decimal:
    """``to_decimal`` of a market-data float without its type checks (the same value)."""
    return Decimal(repr(value)) if type(value) is float else to_decimal(value)


@dataclass(slots=True)
class _Order:
    """An intent with its numbers parsed, plus what the rules look up once per check."""

    intent: OrderIntent
    broker: str
    instrument: Instrument
    quantity: Decimal
    price: Decimal | None
    stop: Decimal | None
    ref: Decimal | None = None  # reference price (limit, stop, or the market's)
    account: Account | None = None  # the broker account, computed once per check
    pending: Decimal | None = None  # open quantity on the intent's side, once per check


class ReferenceRisk:
    """``PreTradeRisk`` as it was before its fast path: every rule a method on ``_Order``."""

    def __init__(
        self,
        limits: RiskLimits,
        clock: Clock,
        instruments: InstrumentRegistry,
        oms: OrderManager,
        ledger: Ledger,
        market: MarketState,
        *,
        kill_switch_latched: Callable[[], bool] = lambda: False,
        entries_blocked: Callable[[str], str | None] = lambda broker: None,
    ) -> None:
        self.limits = limits
        self.clock = clock
        self.instruments = instruments
        self.oms = oms
        self.ledger = ledger
        self.market = market
        self.kill_switch_latched = kill_switch_latched
        self.entries_blocked = entries_blocked
        self._entry_gates: list[Callable[[str, str], str | None]] = []
        self._sent: deque[int] = deque()
        self._cancels: deque[int] = deque()
        self._recent: dict[tuple[object, ...], int] = {}
        self._derived: Derived[RiskLimits, _Numbers] = Derived(_Numbers.of)
        self._rule_sets: dict[tuple[bool, bool], list[Callable[[_Order], Rejection | None]]] = {}

    @property
    def _numbers(self) -> _Numbers:
        """The limits as Decimals, rebuilt when ``limits`` is replaced (settings applied)."""
        return self._derived.of(self.limits)

    def add_entry_gate(self, gate: Callable[[str, str], str | None]) -> None:
        """``gate(broker, symbol)`` returns why new entries on that symbol must wait, or
        ``None``; like ``entries_blocked`` but per symbol (orders that reduce still pass)."""
        self._entry_gates.append(gate)

    # ---- bookkeeping the engine reports ---------------------------------------
    def order_sent(self, intent: OrderIntent, broker: str) -> None:
        now = self.clock.now_ns()
        self._sent.append(now)
        if self._numbers.duplicate_ns > 0:  # a window of 0 checks no duplicates
            self._recent[_fingerprint(intent, broker)] = now

    def cancel_sent(self) -> None:
        self._cancels.append(self.clock.now_ns())

    # ---- the check ----------------------------------------------------------
    def check(self, intent: OrderIntent, broker: str) -> Rejection | None:
        privileged = intent.source in _PRIVILEGED
        if self.kill_switch_latched() and intent.source is not OrderSource.KILL_SWITCH:
            return Rejection("kill_switch", "the kill switch is latched: no new orders until re-armed")
        parsed = self._parse(intent, broker)
        if isinstance(parsed, Rejection):
            return parsed
        reducing = self._reduces_position(parsed)
        if not reducing and not privileged:
            reason = self.entries_blocked(broker) or self._gated(broker, intent.symbol)
            if reason:
                return Rejection("entries_blocked", f"new entries are stopped: {reason}")
        for rule in self._rules(privileged, reducing):
            rejection = rule(parsed)
            if rejection is not None:
                return rejection
        return None

    def _gated(self, broker: str, symbol: str) -> str | None:
        for gate in self._entry_gates:
            reason = gate(broker, symbol)
            if reason:
                return reason
        return None

    def _rules(self, privileged: bool, reducing: bool) -> list[Callable[[_Order], Rejection | None]]:
        rules = self._rule_sets.get((privileged, reducing))
        if rules is None:
            rules = self._rule_sets[(privileged, reducing)] = self._make_rules(privileged,
                                                                               reducing)
        return rules

    def _make_rules(self, privileged: bool,
                    reducing: bool) -> list[Callable[[_Order], Rejection | None]]:
        rules: list[Callable[[_Order], Rejection | None]] = [
            self._short_sale, self._size, self._price_band,
        ]
        if not privileged:
            rules += [self._order_rate, self._active_orders, self._cancel_rate, self._duplicate]
        if not reducing:
            rules += [self._position_limit, self._gross_exposure, self._cash, self._leverage]
        return rules

    # ---- parsing and validity -------------------------------------------------
    def _parse(self, intent: OrderIntent, broker: str) -> _Order | Rejection:
        inst = self.instruments.find(intent.symbol)
        if inst is None:
            return Rejection("unknown_symbol", f"unknown symbol {intent.symbol!r}")
        if not isinstance(intent.side, Side):
            return Rejection("invalid_side", f"side must be BUY or SELL, got {intent.side!r}")
        try:
            qty = to_decimal(intent.quantity, what="quantity")
        except ValueError as exc:
            return Rejection("invalid_quantity", str(exc))
        if qty <= 0:
            return Rejection("invalid_quantity", f"quantity must be positive, got {qty}")
        if qty % inst.lot_size or qty < inst.min_qty:
            return Rejection("lot_size", f"quantity {qty} is not a multiple of the lot "
                             f"{inst.lot_size} or is below the minimum {inst.min_qty}")
        price = self._parse_price(intent.price, "price", intent.order_type in _NEEDS_PRICE, inst)
        if isinstance(price, Rejection):
            return price
        stop = self._parse_price(intent.stop_price, "stop price",
                                 intent.order_type in _NEEDS_STOP, inst)
        if isinstance(stop, Rejection):
            return stop
        return _Order(intent, broker, inst, qty, price, stop)

    @staticmethod
    def _parse_price(value: object, what: str, required: bool,
                     inst: Instrument) -> Decimal | None | Rejection:
        if value is None:
            return Rejection("invalid_price", f"a {what} is required") if required else None
        try:
            price = to_decimal(value, what=what)  # type: ignore[arg-type]
        except ValueError as exc:
            return Rejection("invalid_price", str(exc))
        if price <= 0:
            return Rejection("invalid_price", f"{what} must be positive, got {price}")
        if not inst.is_valid_price(price):
            return Rejection("off_tick", f"{what} {price} is not on the tick grid of {inst.symbol} "
                             f"(tick {inst.tick_size(price)}); nearest valid is "
                             f"{inst.snap_price(price)}")
        return price

    def _reduces_position(self, o: _Order) -> bool:
        held = self.ledger.quantity(o.broker, o.instrument.symbol) if \
            self.ledger.has_account(o.broker) else ZERO
        if held == 0 or (held > 0) == (o.intent.side is Side.BUY):
            return False
        return o.quantity + self._pending_same_side(o) <= abs(held)

    def _pending_same_side(self, o: _Order) -> Decimal:
        if o.pending is None:
            o.pending = self._pending(o.broker, o.instrument.symbol, o.intent.side)
        return o.pending

    def _pending(self, broker: str, symbol: str, side: Side) -> Decimal:
        """Open quantity on ``side``, not counting orders we are already cancelling."""
        cancelling = self.oms.pending_cancels
        return sum((x.remaining_qty for x in self.oms.open_orders(broker, symbol)
                    if x.side is side and x.client_order_id not in cancelling), ZERO)

    # ---- rules ------------------------------------------------------------------
    def _short_sale(self, o: _Order) -> Rejection | None:
        if o.intent.side is not Side.SELL or o.instrument.allows_short:
            return None
        held = self.ledger.quantity(o.broker, o.instrument.symbol) if \
            self.ledger.has_account(o.broker) else ZERO
        available = held - self._pending(o.broker, o.instrument.symbol, Side.SELL)
        if o.quantity > available:
            return Rejection("short_not_allowed", f"sell of {o.quantity} {o.instrument.symbol} "
                             f"exceeds the {max(available, ZERO)} held and not already offered; "
                             "short selling is not allowed for this instrument")
        return None

    def reference_price(self, o: _Order) -> Decimal | None:
        if o.ref is not None:
            return o.ref
        if o.price is not None:
            o.ref = o.price
        elif o.stop is not None:
            o.ref = o.stop
        else:
            q = self.market.quote(o.instrument.symbol)
            side_price = q.ask if o.intent.side is Side.BUY else q.bid
            for candidate in (side_price, q.last):
                if candidate == candidate and candidate > 0:  # not NaN
                    o.ref = _decimal(candidate)
                    break
        return o.ref

    def _account(self, o: _Order) -> Account | None:
        if o.account is None and self.ledger.has_account(o.broker):
            o.account = self.ledger.account(o.broker)
        return o.account

    def _size(self, o: _Order) -> Rejection | None:
        lim, num = self.limits, self._numbers
        if o.quantity > num.max_order_qty:
            return Rejection("max_order_qty", f"quantity {o.quantity} is above the limit "
                             f"{lim.max_order_qty:g}")
        ref = self.reference_price(o)
        if ref is None:
            return Rejection("no_price", f"no market price for {o.instrument.symbol} yet; "
                             "use a limit order")
        notional = o.instrument.notional(ref, o.quantity)
        if notional > num.max_order_notional:
            return Rejection("max_order_notional", f"notional {notional:.2f} is above the limit "
                             f"{lim.max_order_notional:g}")
        return None

    def _price_band(self, o: _Order) -> Rejection | None:
        if o.price is None and o.stop is None:
            return None  # a market order has no price to be out of the band
        last = self.market.last_price(o.instrument.symbol)
        if last is None or last <= 0:
            return None
        band = self._numbers.band
        last_d = _decimal(last)
        for what, price in (("limit", o.price), ("stop", o.stop)):
            if price is not None and abs(price - last_d) > band * last_d:
                return Rejection("price_band", f"{what} price {price} is more than "
                                 f"{self.limits.price_band_pct:g}% away from the last trade {last_d}")
        return None

    def _order_rate(self, o: _Order) -> Rejection | None:
        now = self.clock.now_ns()
        while self._sent and self._sent[0] <= now - NS:
            self._sent.popleft()
        if len(self._sent) >= self.limits.max_orders_per_second:
            return Rejection("order_rate", f"more than {self.limits.max_orders_per_second} "
                             "orders in the last second")
        return None

    def _active_orders(self, o: _Order) -> Rejection | None:
        if self.oms.open_count >= self.limits.max_active_orders:
            return Rejection("max_active_orders", f"{self.oms.open_count} orders are already "
                             f"working (limit {self.limits.max_active_orders})")
        return None

    def _cancel_rate(self, o: _Order) -> Rejection | None:
        now = self.clock.now_ns()
        window = self._numbers.cancel_ns
        while self._cancels and self._cancels[0] <= now - window:
            self._cancels.popleft()
        if len(self._cancels) >= self.limits.max_cancels_per_window:
            return Rejection("cancel_rate", f"{len(self._cancels)} cancels in the last "
                             f"{self.limits.cancel_window_seconds:g} s: new orders wait")
        return None

    def _duplicate(self, o: _Order) -> Rejection | None:
        window = self._numbers.duplicate_ns
        if window <= 0:  # nothing sent is newer than now: no order can be a duplicate
            if len(self._recent) > 10_000:
                self._recent.clear()
            return None
        seen = self._recent.get(_fingerprint(o.intent, o.broker))
        if seen is not None and self.clock.now_ns() - seen < window:
            return Rejection("duplicate_order", "the same order was sent less than "
                             f"{self.limits.duplicate_window_seconds:g} s ago")
        if len(self._recent) > 10_000:
            cutoff = self.clock.now_ns() - window
            self._recent = {k: v for k, v in self._recent.items() if v >= cutoff}
        return None

    def _equity(self, o: _Order) -> Decimal:
        account = self._account(o)
        return account.equity if account is not None else ZERO

    def _position_limit(self, o: _Order) -> Rejection | None:
        ref = self.reference_price(o)
        assert ref is not None  # _size ran first
        held = self.ledger.quantity(o.broker, o.instrument.symbol) if \
            self.ledger.has_account(o.broker) else ZERO
        pending = self._pending_same_side(o)
        projected = abs(held + o.intent.side.sign * (pending + o.quantity))
        value = o.instrument.notional(ref, projected)
        cap = self._equity(o) * self._numbers.position_pct / 100
        if value > cap:
            return Rejection("max_position", f"position in {o.instrument.symbol} would be "
                             f"{value:.2f}, above {self.limits.max_position_pct:g}% of equity "
                             f"({cap:.2f})")
        return None

    def _gross_exposure(self, o: _Order) -> Rejection | None:
        ref = self.reference_price(o)
        assert ref is not None
        gross = self.ledger.gross_exposure(o.broker) + o.instrument.notional(ref, o.quantity)
        cap = self._equity(o) * self._numbers.gross_pct / 100
        if gross > cap:
            return Rejection("gross_exposure", f"gross exposure would be {gross:.2f}, above "
                             f"{self.limits.max_gross_exposure_pct:g}% of equity ({cap:.2f})")
        return None

    def _cash(self, o: _Order) -> Rejection | None:
        if o.instrument.asset_class.is_derivative or o.intent.side is not Side.BUY:
            return None
        if not self.ledger.has_account(o.broker):
            return None  # the venue's own account decides; nothing booked here yet
        ref = self.reference_price(o)
        assert ref is not None
        cost = o.instrument.notional(ref, o.quantity)
        cost += o.instrument.fees_for(o.intent.side, ref, o.quantity).total
        reserved = sum(
            (o.instrument.notional(x.price or ref, x.remaining_qty)
             for x in self.oms.open_orders(o.broker) if x.side is Side.BUY),
            ZERO,
        )
        account = self._account(o)
        assert account is not None
        cash = account.cash
        if cost + reserved > cash:
            return Rejection("insufficient_cash", f"needs {cost:.2f} plus {reserved:.2f} for open "
                             f"buys, but only {cash:.2f} cash is available")
        return None

    def _leverage(self, o: _Order) -> Rejection | None:
        if not o.instrument.asset_class.is_derivative:
            return None
        ref = self.reference_price(o)
        assert ref is not None
        exposure = self.ledger.gross_exposure(o.broker, self._is_derivative)
        exposure += o.instrument.notional(ref, o.quantity)
        cap = min(self._numbers.leverage, o.instrument.max_leverage)
        equity = self._equity(o)
        if equity <= 0 or exposure > equity * cap:
            return Rejection("leverage", f"futures exposure {exposure:.2f} would exceed "
                             f"{cap:g}x equity ({equity:.2f})")
        return None


    def _is_derivative(self, symbol: str) -> bool:
        inst = self.instruments.find(symbol)
        return inst is not None and inst.asset_class.is_derivative


def _fingerprint(intent: OrderIntent, broker: str) -> tuple[object, ...]:
    return (broker, intent.symbol, intent.side, intent.order_type, str(intent.quantity),
            str(intent.price), str(intent.stop_price))
