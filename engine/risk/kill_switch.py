"""The kill switch's latch: whether trading is stopped, since when, why, by whom.

The latch lives in the journal's state, so it survives a restart: a terminal
that crashed or was closed while latched comes back latched. What the switch
*does* when thrown (cancel everything, flatten, halt strategies) is the
``TradingEngine``'s job (``engine.trading.TradingEngine.kill``); this class only
holds and persists the latch, which the pre-trade risk layer consults first.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

from engine.bus import EventBus
from engine.clock import Clock
from engine.execution.journal import Journal

STATE_KEY = "kill_switch"
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class KillSwitchState:
    latched: bool = False
    since_ns: int = 0
    reason: str = ""
    by: str = ""  # who: "user", "auto"
    source: str = ""  # how: "button", "shortcut", "cli", "daily_loss", "drawdown", ...


@dataclass(frozen=True, slots=True)
class KillSwitchEvent:
    """Published when the latch is thrown or released."""

    state: KillSwitchState
    ts_ns: int


class KillSwitch:
    def __init__(self, journal: Journal, clock: Clock, bus: EventBus) -> None:
        self.journal = journal
        self.clock = clock
        self.bus = bus
        saved = journal.load_state(STATE_KEY)
        self._state = KillSwitchState(**saved) if isinstance(saved, dict) else KillSwitchState()

    @property
    def state(self) -> KillSwitchState:
        return self._state

    @property
    def latched(self) -> bool:
        return self._state.latched

    def latch(self, reason: str, by: str, source: str) -> bool:
        """Throw the latch (persisted before anyone is told). False if already latched."""
        if self._state.latched:
            return False
        self._set(KillSwitchState(True, self.clock.now_ns(), reason, by, source))
        return True

    def release(self, by: str) -> None:
        self._set(KillSwitchState(False, self.clock.now_ns(), f"re-armed by {by}", by, "rearm"))

    def _set(self, state: KillSwitchState) -> None:
        # In memory first: a journal that cannot be written must not stop the latch.
        self._state = state
        try:
            self.journal.save_state(STATE_KEY, asdict(state))
            self.journal.flush()
        except Exception:
            log.critical("kill switch state could not be persisted; it holds in memory",
                         exc_info=True)
        self.bus.publish(KillSwitchEvent(state, state.since_ns))
