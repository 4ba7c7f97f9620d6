"""Dropping malformed trades before they reach bars, indicators and strategies.

``TickValidator.check(tick)`` returns True for a trade that may be used and
False for one that was dropped. It never raises, whatever it is given: a bad
print is counted under its kind, logged once per kind, and (optionally) a
``DataQualityEvent`` is published the first time each kind occurs. The feed
goes on.

Kinds:

``malformed``     not a Tick, or a field of the wrong type (a float timestamp,
                  a string price, a symbol or trade id that is not a str, ...)
``wrong_symbol``  a trade of another symbol on this stream
``bad_price``     NaN, infinite, zero or negative price
``bad_size``      NaN, infinite or negative size (zero is allowed)
``future``        stamped more than ``max_future_ns`` ahead of the clock
``late``          stamped more than ``late_tolerance_ns`` behind the newest
                  accepted trade (the bar it belonged to is long closed)
``duplicate``     the same ``trade_id`` again, or, for trades without an id,
                  the same timestamp, price and size again

Example::

    validator = TickValidator("BTC/USDT", clock=clock, on_event=bus.publish)
    if validator.check(tick):
        aggregator.on_tick(tick)
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Callable

import numpy as np

from engine.clock import Clock
from engine.models import DataQualityEvent, Side, Tick
from engine.models.market import NS_PER_SECOND

log = logging.getLogger(__name__)

KINDS = ("malformed", "wrong_symbol", "bad_price", "bad_size", "future", "late", "duplicate")
DEFAULT_MAX_FUTURE_NS = 5 * NS_PER_SECOND
DEFAULT_LATE_TOLERANCE_NS = 5 * NS_PER_SECOND
# Duplicates are looked for among recent trades only: an older repeat is 'late' anyway.
DEFAULT_DEDUPE_WINDOW = 50_000
_INF = math.inf


def _is_int(value: object) -> bool:
    return (type(value) is int or isinstance(value, int | np.integer)) and not isinstance(value, bool)


def _is_real(value: object) -> bool:
    return (type(value) is float or isinstance(value, int | float | np.integer | np.floating)) \
        and not isinstance(value, bool)


class TickValidator:
    """Counts and drops malformed trades of one symbol; see the module docstring."""

    __slots__ = ("symbol", "clock", "max_future_ns", "late_tolerance_ns", "dedupe_without_id",
                 "on_event", "counts", "accepted", "_newest", "_seen", "_recent",
                 "_window")

    def __init__(self, symbol: str | None = None, *, clock: Clock | None = None,
                 max_future_ns: int = DEFAULT_MAX_FUTURE_NS,
                 late_tolerance_ns: int = DEFAULT_LATE_TOLERANCE_NS,
                 dedupe_without_id: bool = True,
                 dedupe_window: int = DEFAULT_DEDUPE_WINDOW,
                 on_event: Callable[[DataQualityEvent], object] | None = None) -> None:
        self.symbol = symbol
        self.clock = clock
        self.max_future_ns = max_future_ns
        self.late_tolerance_ns = late_tolerance_ns
        # Feeds without trade ids and with coarse (1 s) stamps can print two real,
        # identical trades; such feeds turn this off.
        self.dedupe_without_id = dedupe_without_id
        self.on_event = on_event
        self.counts: dict[str, int] = dict.fromkeys(KINDS, 0)
        self.accepted = 0
        self._newest = -(2**63)
        self._seen: set[object] = set()
        self._recent: deque[object] = deque()
        self._window = max(1, dedupe_window)

    def check(self, tick: object) -> bool:
        """True if ``tick`` may be used; False (counted, logged once) if it was dropped."""
        try:
            kind = self._problem(tick)
        except Exception:  # garbage that even the checks choke on (odd __eq__, ...)
            kind = "malformed"
        if kind is None:
            return True
        self._reject(kind, tick)
        return False

    def _problem(self, tick: object) -> str | None:
        if type(tick) is not Tick and not isinstance(tick, Tick):
            return "malformed"
        ts, price, size = tick.ts_ns, tick.price, tick.size
        if type(ts) is not int and not _is_int(ts):
            return "malformed"
        if type(price) is not float and not _is_real(price):
            return "malformed"
        if type(size) is not float and not _is_real(size):
            return "malformed"
        if type(tick.symbol) is not str or type(tick.trade_id) is not str:
            return "malformed"
        if tick.aggressor is not None and not isinstance(tick.aggressor, Side):
            return "malformed"
        if self.symbol is not None and tick.symbol != self.symbol:
            return "wrong_symbol"
        if not 0.0 < price < _INF:
            return "bad_price"
        if not 0.0 <= size < _INF:
            return "bad_size"
        if self.clock is not None and ts > self.clock.now_ns() + self.max_future_ns:
            return "future"
        newest = self._newest
        if ts < newest - self.late_tolerance_ns:
            return "late"
        trade_id = tick.trade_id
        if trade_id:
            key: object = trade_id
        elif self.dedupe_without_id:
            key = (ts, price, size)
        else:
            key = None
        if key is not None:
            seen = self._seen
            if key in seen:
                return "duplicate"
            seen.add(key)
            recent = self._recent
            recent.append(key)
            if len(recent) > self._window:
                seen.discard(recent.popleft())
        if ts > newest:
            self._newest = ts
        self.accepted += 1
        return None

    def _reject(self, kind: str, tick: object) -> None:
        count = self.counts[kind] = self.counts[kind] + 1
        if count != 1:
            return
        try:
            text = repr(tick)[:200]
        except Exception:
            text = f"<unprintable {type(tick).__name__}>"
        message = f"dropped {kind} tick {text}; further ones are counted, not logged"
        log.warning("%s: %s", self.symbol or "ticks", message)
        if self.on_event is None:
            return
        ts = self.clock.now_ns() if self.clock is not None else 0
        if not ts and type(tick) is Tick and _is_int(tick.ts_ns):
            ts = int(tick.ts_ns)
        symbol = self.symbol or (tick.symbol if type(tick) is Tick and type(tick.symbol) is str
                                 else "")
        try:
            self.on_event(DataQualityEvent(kind=kind, symbol=symbol, message=message, ts_ns=ts,
                                           count=count))
        except Exception:
            log.exception("data quality callback failed")

    @property
    def dropped(self) -> int:
        return sum(self.counts.values())
