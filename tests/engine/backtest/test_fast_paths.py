"""The backtest's fast paths build exactly what the plain code builds."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from engine.models import Bar
from engine.models.fast_init import builder

prices = st.floats(min_value=1e-6, max_value=1e9, allow_nan=False)


@given(st.text(min_size=1, max_size=12), st.integers(0, 2**62), prices, prices, prices, prices,
       st.floats(min_value=0, max_value=1e12))
def test_the_bar_builder_builds_the_same_bar(symbol, ts, o, h, low, c, v):
    made = builder(Bar)(symbol, "1m", ts, o, h, low, c, v)
    plain = Bar(symbol, "1m", ts, o, h, low, c, v)
    assert type(made) is Bar
    assert [getattr(made, f) for f in Bar.__dataclass_fields__ if f != "vwap"] == \
        [getattr(plain, f) for f in Bar.__dataclass_fields__ if f != "vwap"]
    assert math.isnan(made.vwap) and math.isnan(plain.vwap)  # the default, NaN
    assert repr(made) == repr(plain)


def test_a_run_thaws_only_the_freeze_it_made():
    import gc

    from engine.backtest.runner import _frozen_heap

    gc.unfreeze()
    with _frozen_heap():
        assert gc.get_freeze_count() > 0  # frozen for the run
    assert gc.get_freeze_count() == 0  # and thawed after it
    held = [object() for _ in range(10)]
    gc.freeze()  # someone else's freeze (the GUI's backtest worker holds one per job)
    before = gc.get_freeze_count()
    try:
        with _frozen_heap():
            pass
        assert gc.get_freeze_count() == before  # theirs is left as it was
    finally:
        gc.unfreeze()
    del held


def test_a_run_collects_young_objects_less_often_and_restores_the_collector():
    import gc

    from engine.backtest.runner import RUN_GEN0_THRESHOLD, _frozen_heap

    before = gc.get_threshold()
    with _frozen_heap():
        assert gc.get_threshold() == (max(before[0], RUN_GEN0_THRESHOLD), *before[1:])
        with _frozen_heap():  # a second, concurrent run: still raised
            pass
        assert gc.get_threshold()[0] == max(before[0], RUN_GEN0_THRESHOLD)
    assert gc.get_threshold() == before
