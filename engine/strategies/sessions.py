"""Session lookups for strategies: which trading day a bar belongs to, and when it ends.

Cached per session, so a strategy can ask on every bar for the price of a
comparison. 24/7 instruments get one session per UTC day and never "close".
"""

from __future__ import annotations

from datetime import date

from engine.calendars import Session, get_calendar
from engine.risk.portfolio import utc_day


class SessionClock:
    def __init__(self, calendar: str) -> None:
        self.always_open = calendar == "24/7"
        self.calendar = None if self.always_open else get_calendar(calendar)
        self._current: Session | None = None

    def session(self, ts_ns: int) -> Session | None:
        cur = self._current
        if cur is not None and cur.open_ns <= ts_ns < cur.close_ns:
            return cur
        if self.calendar is None:
            return None
        try:
            cur = self.calendar.session_of(ts_ns)
        except Exception:  # outside the calendar's range
            cur = None
        self._current = cur
        return cur

    def day(self, ts_ns: int) -> date:
        """The trading date of ``ts_ns`` (the UTC date for 24/7 or outside sessions)."""
        session = self.session(ts_ns)
        return session.label if session is not None else utc_day(ts_ns)

    def close_ns(self, ts_ns: int) -> int | None:
        session = self.session(ts_ns)
        return None if session is None else session.close_ns
