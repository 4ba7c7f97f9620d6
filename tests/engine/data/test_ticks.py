"""TickValidator: malformed trades are counted, logged once and dropped; nothing raises."""

from __future__ import annotations

import logging
import math
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.clock import SimulatedClock
from engine.data.ticks import KINDS, TickValidator
from engine.models import DataQualityEvent, Side, Tick

S = 1_000_000_000
T0 = 1_767_571_200 * S  # 2026-01-05 00:00 UTC


def tick(ts: int = T0, price: object = 100.0, size: object = 1.0, trade_id: str = "",
         symbol: object = "BTC") -> Tick:
    return Tick(symbol, ts, price, size, None, trade_id)  # type: ignore[arg-type]


def make(**kwargs: object) -> tuple[TickValidator, list[DataQualityEvent]]:
    events: list[DataQualityEvent] = []
    clock = SimulatedClock(start_ns=T0 + 3600 * S)
    validator = TickValidator("BTC", clock=clock, on_event=events.append, **kwargs)  # type: ignore[arg-type]
    return validator, events


@pytest.mark.parametrize(("bad", "kind"), [
    (tick(price=math.nan), "bad_price"),
    (tick(price=math.inf), "bad_price"),
    (tick(price=-math.inf), "bad_price"),
    (tick(price=0.0), "bad_price"),
    (tick(price=-5.0), "bad_price"),
    (tick(size=-1.0), "bad_size"),
    (tick(size=math.nan), "bad_size"),
    (tick(size=math.inf), "bad_size"),
    (tick(price="100"), "malformed"),
    (tick(price=Decimal("100")), "malformed"),
    (tick(price=True), "malformed"),
    (tick(ts=float(T0)), "malformed"),  # type: ignore[arg-type]
    (tick(size=None), "malformed"),
    (tick(symbol="ETH"), "wrong_symbol"),
    (tick(symbol=None), "malformed"),
    (tick(trade_id=7), "malformed"),  # type: ignore[arg-type]
    (Tick("BTC", T0, 100.0, 1.0, "BUY"), "malformed"),  # type: ignore[arg-type]
    (None, "malformed"),
    ("BTC,100,1", "malformed"),
    ({"price": 100}, "malformed"),
    (tick(ts=T0 + 3600 * S + 6 * S), "future"),
])
def test_each_kind_of_bad_tick_is_dropped_and_counted(bad: object, kind: str) -> None:
    validator, events = make()
    assert validator.check(bad) is False
    assert validator.counts[kind] == 1 and validator.dropped == 1 and validator.accepted == 0
    (event,) = events
    assert event.kind == kind and event.count == 1 and event.symbol == "BTC"
    assert event.ts_ns == T0 + 3600 * S  # the clock's time
    assert validator.check(tick()) is True  # the stream goes on


def test_good_ticks_pass_including_numpy_numbers_and_zero_size() -> None:
    validator, events = make()
    good = [tick(), tick(ts=T0 + 1, price=np.float64(101.5), size=np.float32(2.0)),
            tick(ts=np.int64(T0 + 2), price=100, size=0.0),  # type: ignore[arg-type]
            Tick("BTC", T0 + 3, 99.0, 1.0, Side.SELL, "t-9"),
            tick(ts=T0 + 3600 * S + 5 * S)]  # at the future limit exactly
    assert [validator.check(t) for t in good] == [True] * len(good)
    assert validator.accepted == len(good) and validator.dropped == 0 and events == []


def test_logged_and_published_once_per_kind(caplog: pytest.LogCaptureFixture) -> None:
    validator, events = make()
    with caplog.at_level(logging.WARNING, logger="engine.data.ticks"):
        for _ in range(5):
            validator.check(tick(price=math.nan))
            validator.check(tick(size=-1.0))
    assert validator.counts["bad_price"] == 5 and validator.counts["bad_size"] == 5
    assert [e.kind for e in events] == ["bad_price", "bad_size"]
    assert len([r for r in caplog.records if "dropped" in r.getMessage()]) == 2


def test_duplicates_by_trade_id_and_by_content_without_id() -> None:
    validator, _ = make()
    assert validator.check(tick(trade_id="a1"))
    assert not validator.check(tick(ts=T0 + 5, price=101.0, trade_id="a1"))  # same id
    assert validator.check(tick(ts=T0 + 5, price=101.0, trade_id="a2"))
    assert validator.check(tick(ts=T0 + 7, price=102.0))
    assert not validator.check(tick(ts=T0 + 7, price=102.0))  # same ts/price/size, no id
    assert validator.check(tick(ts=T0 + 7, price=102.0, size=2.0))
    assert validator.counts["duplicate"] == 2
    lenient, _ = make(dedupe_without_id=False)
    assert lenient.check(tick(ts=T0 + 7)) and lenient.check(tick(ts=T0 + 7))


def test_duplicate_memory_is_bounded() -> None:
    validator, _ = make(dedupe_window=100, late_tolerance_ns=10**18)
    for k in range(1000):
        assert validator.check(tick(ts=T0 + k, trade_id=f"id{k}"))
    assert len(validator._seen) == 100  # noqa: SLF001 - the bound is the point
    assert not validator.check(tick(ts=T0 + 999, trade_id="id999"))


def test_late_means_behind_the_newest_trade_by_more_than_the_tolerance() -> None:
    validator, _ = make(late_tolerance_ns=2 * S)
    assert validator.check(tick(ts=T0 + 10 * S))
    assert validator.check(tick(ts=T0 + 8 * S, price=99.0))  # within tolerance: allowed
    assert not validator.check(tick(ts=T0 + 8 * S - 1, price=98.0))
    assert validator.counts["late"] == 1


def test_no_clock_means_no_future_check() -> None:
    validator = TickValidator("BTC")
    assert validator.check(tick(ts=T0 + 10**15))


# ---- garbage -------------------------------------------------------------------
class Weird:
    def __eq__(self, other: object) -> bool:
        raise RuntimeError("no comparing me")

    def __hash__(self) -> int:
        raise RuntimeError("no hashing me")

    def __repr__(self) -> str:
        raise RuntimeError("no printing me")


garbage = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(), st.binary(),
    st.decimals(allow_nan=True), st.lists(st.integers(), max_size=3), st.builds(Weird),
    st.just(np.nan), st.just(np.int64(5)), st.just(np.float64("inf")),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
tick_like = st.builds(Tick, symbol=st.one_of(st.just("BTC"), garbage), ts_ns=garbage,
                      price=garbage, size=garbage,
                      aggressor=st.one_of(st.none(), garbage), trade_id=garbage)


@settings(max_examples=400)
@given(st.lists(st.one_of(garbage, tick_like), max_size=30))
def test_garbage_never_raises_and_every_tick_is_accounted_for(items: list[object]) -> None:
    validator, events = make()
    results = [validator.check(item) for item in items]
    assert all(r is True or r is False for r in results)
    assert validator.accepted + validator.dropped == len(items)
    assert set(validator.counts) == set(KINDS)
    assert len({e.kind for e in events}) == len(events)  # once per kind
    for item, ok in zip(items, results, strict=True):
        if ok:  # whatever passed is a usable trade
            assert isinstance(item, Tick)
            assert 0 < float(item.price) < math.inf and 0 <= float(item.size) < math.inf
            assert int(item.ts_ns) == item.ts_ns
            assert item.symbol == "BTC" and isinstance(item.trade_id, str)
            assert item.aggressor is None or isinstance(item.aggressor, Side)
