"""Fast constructors for the two records the venue publishes on every order.

``Fill`` and ``OrderUpdate`` are frozen slots dataclasses: their ``__init__``
sets each field through ``object.__setattr__``, which cost the venue more per
order (about 4 us for a Fill, 2 us for an OrderUpdate) than matching and
booking it. Setting the slots through their descriptors builds an identical
object in a fraction of the time; the engine does the same for ``Bar`` in the
backtester and for ``Order`` in ``engine.models.orders.evolve``.

``make_fill`` and ``make_update`` take every field, positionally, in the
dataclass's field order. Should either class gain a ``__post_init__`` or lose
its slots, they fall back to the plain constructor, so they never build an
object the constructor would not.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from typing import Any

from engine.execution.broker import OrderUpdate
from engine.models import Fill


def slot_constructor(cls: type) -> Callable[..., Any]:
    """``cls(*values)`` for a frozen slots dataclass without running its ``__init__``.

    The function is generated with one statement per field (no loop, no name
    lookups), like ``engine.models.orders.evolve``.
    """
    names = [f.name for f in fields(cls)]
    if hasattr(cls, "__post_init__") or "__slots__" not in cls.__dict__ or any(
            not f.init for f in fields(cls)):
        return cls  # not the shape this was written for: the plain constructor
    lines = [f"def make({', '.join(names)}):", "    new = _new(_cls)"]
    lines += [f"    _set_{name}(new, {name})" for name in names]
    lines.append("    return new")
    scope: dict[str, object] = {"_new": object.__new__, "_cls": cls}
    scope.update({f"_set_{name}": getattr(cls, name).__set__ for name in names})
    exec("\n".join(lines), scope)  # noqa: S102 - trusted, built from the dataclass fields
    make = scope["make"]
    make.__doc__ = f"{cls.__name__}(*fields), built through its slot descriptors."
    return make  # type: ignore[return-value]


make_fill: Callable[..., Fill] = slot_constructor(Fill)
make_update: Callable[..., OrderUpdate] = slot_constructor(OrderUpdate)
