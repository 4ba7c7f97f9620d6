"""The order state machine: which status may follow which.

::

    NEW -> SUBMITTED -> ACCEPTED -> PARTIALLY_FILLED -> FILLED
      \\          \\          \\              \\-> CANCELLED / EXPIRED
       \\          \\          \\-> CANCELLED / EXPIRED / FILLED
        \\          \\-> REJECTED / CANCELLED / EXPIRED / PARTIALLY_FILLED / FILLED
         \\-> SUBMITTED / REJECTED (refused before it left us)

A fill may arrive before the acknowledgement (fast venues), so SUBMITTED may go
straight to PARTIALLY_FILLED or FILLED. Terminal states never change again.
ACCEPTED -> ACCEPTED and PARTIALLY_FILLED -> PARTIALLY_FILLED are legal: an
amend re-acknowledges, a second partial fill keeps the state.
"""

from __future__ import annotations

from engine.models import OrderStatus as S

_ALLOWED: dict[S, frozenset[S]] = {
    S.NEW: frozenset({S.SUBMITTED, S.REJECTED}),
    S.SUBMITTED: frozenset(
        {S.ACCEPTED, S.REJECTED, S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.EXPIRED}
    ),
    S.ACCEPTED: frozenset({S.ACCEPTED, S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.EXPIRED}),
    S.PARTIALLY_FILLED: frozenset({S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.EXPIRED}),
    S.FILLED: frozenset(),
    S.CANCELLED: frozenset(),
    S.REJECTED: frozenset(),
    S.EXPIRED: frozenset(),
}


def is_legal(old: S, new: S) -> bool:
    """True if an order in ``old`` may move to ``new``."""
    return new in _ALLOWED[old]


def allowed_next(old: S) -> frozenset[S]:
    return _ALLOWED[old]
