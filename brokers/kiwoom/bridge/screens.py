"""Screen numbers: the control's handles for requests and real-time registrations.

Kiwoom allows at most 200 screens per session, refuses "0000", and holds at
most 100 codes per real-time screen. The bridge hands out 4-digit numbers from
one pool: TR queries borrow one until their last page arrives, orders use a few
fixed screens, and real-time registrations fill screens up to 100 codes each.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_SCREENS = 200
CODES_PER_REAL_SCREEN = 100
FIRST_SCREEN = 1000
ORDER_SCREENS = 4


class ScreensExhausted(Exception):
    """All 200 screens are in use."""


@dataclass
class RealScreen:
    number: str
    codes: set[str] = field(default_factory=set)

    @property
    def room(self) -> int:
        return CODES_PER_REAL_SCREEN - len(self.codes)


class ScreenManager:
    def __init__(self, first: int = FIRST_SCREEN, limit: int = MAX_SCREENS) -> None:
        if first <= 0 or first + limit > 10_000:
            raise ValueError("screen numbers are 4 digits and never 0000")
        self._free = [f"{n:04d}" for n in range(first + limit - 1, first - 1, -1)]
        self.limit = limit
        self.order_screens = [self._take() for _ in range(ORDER_SCREENS)]
        self._next_order = 0
        self.real: dict[str, RealScreen] = {}
        self.code_screen: dict[str, str] = {}
        self.tr_in_use: set[str] = set()

    @property
    def in_use(self) -> int:
        return self.limit - len(self._free)

    def _take(self) -> str:
        if not self._free:
            raise ScreensExhausted(f"all {self.limit} Kiwoom screens are in use")
        return self._free.pop()

    def _give_back(self, number: str) -> None:
        self._free.append(number)

    # ---- TR queries -----------------------------------------------------------
    def borrow(self) -> str:
        number = self._take()
        self.tr_in_use.add(number)
        return number

    def release(self, number: str) -> None:
        if number in self.tr_in_use:
            self.tr_in_use.discard(number)
            self._give_back(number)

    # ---- orders ---------------------------------------------------------------
    def order_screen(self) -> str:
        number = self.order_screens[self._next_order]
        self._next_order = (self._next_order + 1) % len(self.order_screens)
        return number

    # ---- real-time ------------------------------------------------------------
    def place_codes(self, codes: list[str]) -> list[tuple[str, list[str], bool]]:
        """Screens for new ``codes``: [(screen, codes, screen_was_empty)], <= 100 per screen."""
        plan: list[tuple[str, list[str], bool]] = []
        pending = [c for c in dict.fromkeys(codes) if c not in self.code_screen]
        for screen in self.real.values():
            if not pending:
                break
            if screen.room > 0:
                batch, pending = pending[:screen.room], pending[screen.room:]
                plan.append((screen.number, batch, not screen.codes))
        while pending:
            number = self._take()
            self.real[number] = RealScreen(number)
            batch, pending = pending[:CODES_PER_REAL_SCREEN], pending[CODES_PER_REAL_SCREEN:]
            plan.append((number, batch, True))
        return plan

    def commit(self, screen: str, codes: list[str]) -> None:
        self.real[screen].codes.update(codes)
        for code in codes:
            self.code_screen[code] = screen

    def drop_empty(self) -> None:
        for number in [n for n, s in self.real.items() if not s.codes]:
            del self.real[number]
            self._give_back(number)

    def remove_code(self, code: str) -> str | None:
        """Forget ``code``; returns its screen (freed when it becomes empty)."""
        number = self.code_screen.pop(code, None)
        if number is None:
            return None
        screen = self.real[number]
        screen.codes.discard(code)
        if not screen.codes:
            del self.real[number]
            self._give_back(number)
        return number

    @property
    def real_codes(self) -> int:
        return len(self.code_screen)
