"""Numbers derived from a limits object, rebuilt only when the object is replaced.

Risk checks run on every order and tick; the limits change only when the user
applies new settings, which replaces the (frozen) limits object. Comparing by
identity is one pointer test, where hashing or comparing the dataclass would
cost microseconds on every call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

S = TypeVar("S")
T = TypeVar("T")


class Derived(Generic[S, T]):
    """``build(source)``, kept until ``of`` is given another source object.

    >>> halves = Derived(lambda n: n / 2)
    >>> halves.of(10)
    5.0
    """

    __slots__ = ("_build", "_source", "_value")

    def __init__(self, build: Callable[[S], T]) -> None:
        self._build = build
        self._source: S | None = None
        self._value: T | None = None

    def of(self, source: S) -> T:
        if source is not self._source or self._value is None:
            self._value = self._build(source)
            self._source = source
        return self._value
