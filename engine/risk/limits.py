"""Pre-trade risk: every order from every source passes here before a broker.

``PreTradeRisk.check(intent)`` returns ``None`` (go) or a ``Rejection`` with a
machine-readable ``code`` and a human ``message``. Checks run cheapest first:

=====================  =====================================================
code                   rule
=====================  =====================================================
kill_switch            the kill switch is latched (only its own orders pass)
entries_blocked        daily loss / daily target / drawdown / VaR stopped new entries,
                       or an entry gate stops them on this symbol (session-end flatten)
unknown_symbol         no such instrument
invalid_quantity       NaN, zero, negative or not a number
lot_size               not a whole number of lots, or below the minimum
invalid_price          a limit/stop price missing, NaN, zero or negative
off_tick               a price that is not on the instrument's tick grid
short_not_allowed      selling more than is held where shorting is not allowed
no_price               a market order on a symbol with no price yet
max_order_qty          quantity above ``max_order_qty``
max_order_notional     notional above ``max_order_notional``
price_band             a price more than ``price_band_pct`` % away from the last trade
order_rate             more than ``max_orders_per_second`` in the last second
max_active_orders      ``max_active_orders`` already working
cancel_rate            ``max_cancels_per_window`` cancels in the window: churn stops new orders
duplicate_order        the same order again within ``duplicate_window_seconds``
max_position           the position would exceed ``max_position_pct`` % of equity
gross_exposure         all positions would exceed ``max_gross_exposure_pct`` % of equity
insufficient_cash      not enough cash for the notional plus fees and open buys
leverage               futures exposure above ``max_leverage`` (and the instrument's cap)
=====================  =====================================================

Orders that only reduce a position skip the exposure and entry checks (they
lower risk), and orders from the kill switch or from risk itself (stop-loss,
end-of-session flatten) also skip the rate, duplicate and activity limits:
those must never be what stops a position from being closed. Cancels are never
checked at all; they are only counted for ``cancel_rate``.

The check runs on every order of every backtest, so it avoids work that cannot
change its answer: per-instrument facts are computed once per ``Instrument``
object, repeated float quantities and prices are converted once, and each
Decimal (position, pending quantity, notional, account) is computed once per
check. tests/engine/risk/test_limits_reference.py holds it to the plain
rule-by-rule version (tests/engine/risk/reference_limits.py) on random orders.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, fields
from decimal import ROUND_DOWN, Decimal

from engine.clock import Clock
from engine.execution.intents import OrderIntent, Rejection
from engine.execution.oms import OrderManager
from engine.instruments import InstrumentRegistry
from engine.market_state import MarketState
from engine.models import (
    Instrument,
    Liquidity,
    Order,
    OrderSource,
    OrderType,
    Side,
    to_decimal,
)
from engine.models.numbers import ZERO
from engine.portfolio.ledger import Ledger
from engine.risk.derived import Derived

NS = 1_000_000_000
_PRIVILEGED = frozenset({OrderSource.KILL_SWITCH, OrderSource.RISK})
_NEEDS_PRICE = frozenset({OrderType.LIMIT, OrderType.STOP_LIMIT})
_NEEDS_STOP = frozenset({OrderType.STOP, OrderType.STOP_LIMIT})


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """Pre-trade limits; names and units as in ``[risk]`` of the settings (percent)."""

    max_position_pct: float = 10.0
    max_gross_exposure_pct: float = 100.0
    max_order_qty: float = 1e6
    max_order_notional: float = 1e8
    price_band_pct: float = 5.0
    max_orders_per_second: int = 5
    max_active_orders: int = 50
    max_cancels_per_window: int = 100
    cancel_window_seconds: float = 60.0
    duplicate_window_seconds: float = 2.0
    max_leverage: float = 3.0

    @classmethod
    def from_settings(cls, section: object) -> RiskLimits:
        """Build from ``settings.risk`` (any object with these attribute names)."""
        values = {f.name: getattr(section, f.name) for f in fields(cls) if hasattr(section, f.name)}
        return cls(**values)


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


_QUANTITY_CACHE = 256  # distinct sizes (of each kind) remembered per instrument


@dataclass(slots=True)
class _Traits:
    """What the check reads from one instrument, built once per ``Instrument`` object
    (instruments are frozen; a changed one is a new object and gets new traits)."""

    instrument: Instrument
    derivative: bool
    buy_commission: Decimal  # what ``fees_for(Side.BUY, ...)`` charges: the taker rate
    buy_tax: Decimal | None  # None: buys pay no tax (its quantized zero adds nothing)
    # Quantities that parsed and passed the lot checks: floats with their Decimal,
    # Decimals by value (a Decimal parses to itself, and the checks read only its
    # value). Strategies send the same few sizes again and again; invalid ones are
    # never kept, so every rejection still comes from the full parse and its message.
    floats: dict[float, Decimal]
    decimals: set[Decimal]
    # The last market price converted: a close and the entry after it (same bar,
    # same quote) would otherwise convert the same float twice.
    mark: float = math.nan
    mark_decimal: Decimal = ZERO

    @classmethod
    def of(cls, inst: Instrument) -> _Traits:
        tax = inst.fees.tax_rate(Side.BUY, None)
        return cls(inst, inst.asset_class.is_derivative,
                   inst.fees.commission_rate(Liquidity.TAKER), tax if tax else None, {}, set())

    def market_price(self, value: float) -> Decimal:
        """``_decimal(value)`` of a positive (not NaN) market price."""
        if type(value) is not float:
            return to_decimal(value)
        if value != self.mark:  # equal positive floats are the same float
            self.mark, self.mark_decimal = value, Decimal(repr(value))
        return self.mark_decimal

    def known_quantity(self, value: object) -> Decimal | None:
        """``value`` parsed, if it parsed and passed the lot checks before; else None."""
        if type(value) is float:
            return self.floats.get(value)
        # is_finite first: hashing a signalling NaN raises (the parse rejects it instead).
        if type(value) is Decimal and value.is_finite() and value in self.decimals:
            return value
        return None

    def remember(self, value: object, quantity: Decimal) -> None:
        kind = type(value)
        if kind is float:
            if len(self.floats) >= _QUANTITY_CACHE:
                self.floats.clear()
            self.floats[value] = quantity  # type: ignore[index]
        elif kind is Decimal:
            if len(self.decimals) >= _QUANTITY_CACHE:
                self.decimals.clear()
            self.decimals.add(quantity)

    def buy_fees(self, notional: Decimal) -> Decimal:
        """``instrument.fees_for(Side.BUY, price, qty).total`` for ``notional`` = price x qty
        x contract size: the same operations, without building a ``Fees``."""
        unit = self.instrument.currency_unit
        fees = (notional * self.buy_commission).quantize(unit, rounding=ROUND_DOWN)
        if self.buy_tax is None:
            return fees
        return fees + (notional * self.buy_tax).quantize(unit, rounding=ROUND_DOWN)


@dataclass(slots=True)
class _Order:
    """An intent with its numbers parsed, plus what the rules look up once per check.

    Nothing a check calls changes the ledger or the OMS, so a number read once
    (the position, the pending quantity, the account) holds for the whole check.
    """

    intent: OrderIntent
    broker: str
    traits: _Traits
    quantity: Decimal
    price: Decimal | None
    stop: Decimal | None
    held: Decimal  # the broker's signed position in the symbol
    ref: Decimal | None = None  # reference price (limit, stop, or the market's); set by _size
    notional: Decimal = ZERO  # ref x quantity x contract size; set by _size
    equity: Decimal | None = None  # the account's, read once per check
    open_orders: list[Order] | None = None  # the broker's
    pending: Decimal | None = None  # open quantity on the intent's side and symbol


class PreTradeRisk:
    """Stateless rules plus the small windows they need (rates, duplicates)."""

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
        self._traits: dict[str, Derived[Instrument, _Traits]] = {}

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
        if self.kill_switch_latched() and intent.source is not OrderSource.KILL_SWITCH:
            return Rejection("kill_switch", "the kill switch is latched: no new orders until re-armed")
        o = self._parse(intent, broker)
        if isinstance(o, Rejection):
            return o
        privileged = intent.source in _PRIVILEGED
        reducing = self._reduces_position(o)
        if not reducing and not privileged:
            reason = self.entries_blocked(broker) or self._gated(broker, intent.symbol)
            if reason:
                return Rejection("entries_blocked", f"new entries are stopped: {reason}")
        num = self._numbers
        # The rules in the module docstring's order; the first rejection wins.
        return (self._order_rules(o, num)
                or (None if privileged else self._activity_rules(o, num))
                or (None if reducing else self._exposure_rules(o, num)))

    def _gated(self, broker: str, symbol: str) -> str | None:
        for gate in self._entry_gates:
            reason = gate(broker, symbol)
            if reason:
                return reason
        return None

    def _order_rules(self, o: _Order, num: _Numbers) -> Rejection | None:
        if o.intent.side is Side.SELL and not o.traits.instrument.allows_short:
            rejection = self._short_sale(o)
            if rejection is not None:
                return rejection
        rejection = self._size(o, num)
        if rejection is not None or (o.price is None and o.stop is None):
            return rejection  # a market order has no price to be out of the band
        return self._price_band(o, num)

    def _activity_rules(self, o: _Order, num: _Numbers) -> Rejection | None:
        return (self._order_rate() or self._active_orders() or self._cancel_rate(num)
                or self._duplicate(o, num))

    def _exposure_rules(self, o: _Order, num: _Numbers) -> Rejection | None:
        rejection = self._position_limit(o, num) or self._gross_exposure(o, num)
        if rejection is not None:
            return rejection
        if o.traits.derivative:
            return self._leverage(o, num)
        return self._cash(o) if o.intent.side is Side.BUY else None

    # ---- parsing and validity -------------------------------------------------
    def _traits_of(self, symbol: str) -> _Traits | None:
        inst = self.instruments.find(symbol)
        if inst is None:
            return None
        cache = self._traits.get(symbol)
        if cache is None:
            cache = self._traits[symbol] = Derived(_Traits.of)
        return cache.of(inst)

    def _parse(self, intent: OrderIntent, broker: str) -> _Order | Rejection:
        traits = self._traits_of(intent.symbol)
        if traits is None:
            return Rejection("unknown_symbol", f"unknown symbol {intent.symbol!r}")
        if not isinstance(intent.side, Side):
            return Rejection("invalid_side", f"side must be BUY or SELL, got {intent.side!r}")
        value = intent.quantity
        qty = traits.known_quantity(value)
        if qty is None:
            parsed = self._parse_quantity(value, traits.instrument)
            if isinstance(parsed, Rejection):
                return parsed
            traits.remember(value, qty := parsed)
        needs_price = intent.order_type in _NEEDS_PRICE
        price = self._parse_price(intent.price, "price", needs_price, traits.instrument) \
            if intent.price is not None or needs_price else None
        if isinstance(price, Rejection):
            return price
        needs_stop = intent.order_type in _NEEDS_STOP
        stop = self._parse_price(intent.stop_price, "stop price", needs_stop, traits.instrument) \
            if intent.stop_price is not None or needs_stop else None
        if isinstance(stop, Rejection):
            return stop
        # Ledger.quantity is 0 for a broker without an account, like a flat position.
        held = self.ledger.quantity(broker, traits.instrument.symbol)
        return _Order(intent, broker, traits, qty, price, stop, held)

    @staticmethod
    def _parse_quantity(value: object, inst: Instrument) -> Decimal | Rejection:
        try:
            qty = to_decimal(value, what="quantity")  # type: ignore[arg-type]
        except ValueError as exc:
            return Rejection("invalid_quantity", str(exc))
        if qty <= 0:
            return Rejection("invalid_quantity", f"quantity must be positive, got {qty}")
        if qty % inst.lot_size or qty < inst.min_qty:
            return Rejection("lot_size", f"quantity {qty} is not a multiple of the lot "
                             f"{inst.lot_size} or is below the minimum {inst.min_qty}")
        return qty

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
        held = o.held
        if held == 0 or (held > 0) == (o.intent.side is Side.BUY):
            return False
        return o.quantity + self._pending_same_side(o) <= abs(held)

    def _open_orders(self, o: _Order) -> list[Order]:
        """The broker's open orders, listed once per check (and not at all when none are)."""
        if o.open_orders is None:
            o.open_orders = self.oms.open_orders(o.broker) if self.oms.open_count else []
        return o.open_orders

    def _pending_same_side(self, o: _Order) -> Decimal:
        """Open quantity on the intent's side and symbol, not counting orders we are
        already cancelling."""
        if o.pending is None:
            symbol, side = o.traits.instrument.symbol, o.intent.side
            cancelling = self.oms.pending_cancels
            total = ZERO
            for x in self._open_orders(o):
                if x.symbol == symbol and x.side is side and x.client_order_id not in cancelling:
                    total += x.remaining_qty
            o.pending = total
        return o.pending

    # ---- rules ------------------------------------------------------------------
    def _short_sale(self, o: _Order) -> Rejection | None:
        available = o.held - self._pending_same_side(o)  # the intent is a sell
        if o.quantity > available:
            return Rejection("short_not_allowed", f"sell of {o.quantity} {o.traits.instrument.symbol} "
                             f"exceeds the {max(available, ZERO)} held and not already offered; "
                             "short selling is not allowed for this instrument")
        return None

    def _reference_price(self, o: _Order) -> Decimal | None:
        if o.price is not None:
            return o.price
        if o.stop is not None:
            return o.stop
        q = self.market.quote(o.traits.instrument.symbol)
        side_price = q.ask if o.intent.side is Side.BUY else q.bid
        for candidate in (side_price, q.last):
            if candidate == candidate and candidate > 0:  # not NaN
                return o.traits.market_price(candidate)
        return None

    def _size(self, o: _Order, num: _Numbers) -> Rejection | None:
        if o.quantity > num.max_order_qty:
            return Rejection("max_order_qty", f"quantity {o.quantity} is above the limit "
                             f"{self.limits.max_order_qty:g}")
        ref = o.ref = self._reference_price(o)
        if ref is None:
            return Rejection("no_price", f"no market price for {o.traits.instrument.symbol} yet; "
                             "use a limit order")
        # Instrument.notional(ref, quantity) without re-converting two Decimals.
        notional = o.notional = ref * o.quantity * o.traits.instrument.contract_size
        if notional > num.max_order_notional:
            return Rejection("max_order_notional", f"notional {notional:.2f} is above the limit "
                             f"{self.limits.max_order_notional:g}")
        return None

    def _price_band(self, o: _Order, num: _Numbers) -> Rejection | None:
        last = self.market.last_price(o.traits.instrument.symbol)
        if last is None or last <= 0:
            return None
        band = num.band
        last_d = _decimal(last)
        for what, price in (("limit", o.price), ("stop", o.stop)):
            if price is not None and abs(price - last_d) > band * last_d:
                return Rejection("price_band", f"{what} price {price} is more than "
                                 f"{self.limits.price_band_pct:g}% away from the last trade {last_d}")
        return None

    def _order_rate(self) -> Rejection | None:
        now = self.clock.now_ns()
        while self._sent and self._sent[0] <= now - NS:
            self._sent.popleft()
        if len(self._sent) >= self.limits.max_orders_per_second:
            return Rejection("order_rate", f"more than {self.limits.max_orders_per_second} "
                             "orders in the last second")
        return None

    def _active_orders(self) -> Rejection | None:
        if self.oms.open_count >= self.limits.max_active_orders:
            return Rejection("max_active_orders", f"{self.oms.open_count} orders are already "
                             f"working (limit {self.limits.max_active_orders})")
        return None

    def _cancel_rate(self, num: _Numbers) -> Rejection | None:
        cancels = self._cancels
        if cancels:  # no cancels: nothing to expire or count
            now = self.clock.now_ns()
            while cancels and cancels[0] <= now - num.cancel_ns:
                cancels.popleft()
        if len(cancels) >= self.limits.max_cancels_per_window:
            return Rejection("cancel_rate", f"{len(cancels)} cancels in the last "
                             f"{self.limits.cancel_window_seconds:g} s: new orders wait")
        return None

    def _duplicate(self, o: _Order, num: _Numbers) -> Rejection | None:
        window = num.duplicate_ns
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
        if o.equity is None:
            o.equity = (self.ledger.equity(o.broker) if self.ledger.has_account(o.broker)
                        else ZERO)
        return o.equity

    def _position_limit(self, o: _Order, num: _Numbers) -> Rejection | None:
        assert o.ref is not None  # _size ran first
        pending = self._pending_same_side(o)
        projected = abs(o.held + o.intent.side.sign * (pending + o.quantity))
        value = o.ref * projected * o.traits.instrument.contract_size  # Instrument.notional
        cap = self._equity(o) * num.position_pct / 100
        if value > cap:
            return Rejection("max_position", f"position in {o.traits.instrument.symbol} would be "
                             f"{value:.2f}, above {self.limits.max_position_pct:g}% of equity "
                             f"({cap:.2f})")
        return None

    def _gross_exposure(self, o: _Order, num: _Numbers) -> Rejection | None:
        gross = self.ledger.gross_exposure(o.broker) + o.notional
        cap = self._equity(o) * num.gross_pct / 100
        if gross > cap:
            return Rejection("gross_exposure", f"gross exposure would be {gross:.2f}, above "
                             f"{self.limits.max_gross_exposure_pct:g}% of equity ({cap:.2f})")
        return None

    def _cash(self, o: _Order) -> Rejection | None:
        """A cash-product buy: its cost and every open buy's must fit in the cash."""
        if not self.ledger.has_account(o.broker):
            return None  # the venue's own account decides; nothing booked here yet
        cost = o.notional + o.traits.buy_fees(o.notional)
        reserved = self._reserved_for_buys(o)
        cash = self.ledger.cash(o.broker)
        if cost + reserved > cash:
            return Rejection("insufficient_cash", f"needs {cost:.2f} plus {reserved:.2f} for open "
                             f"buys, but only {cash:.2f} cash is available")
        return None

    def _reserved_for_buys(self, o: _Order) -> Decimal:
        """Notional of the broker's open buys (priced at ``o.ref`` when they have no
        limit price, with this instrument's contract size)."""
        total = ZERO
        ref, size = o.ref, o.traits.instrument.contract_size
        for x in self._open_orders(o):
            if x.side is Side.BUY:
                total += (x.price or ref) * x.remaining_qty * size  # type: ignore[operator]
        return total

    def _leverage(self, o: _Order, num: _Numbers) -> Rejection | None:
        exposure = self.ledger.gross_exposure(o.broker, self._is_derivative) + o.notional
        cap = min(num.leverage, o.traits.instrument.max_leverage)
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
