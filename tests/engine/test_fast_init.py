"""``@fast_init`` builds the same records as the dataclass's own ``__init__``."""

from __future__ import annotations

import dataclasses
import inspect
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.models.fast_init import ORIGINAL_INIT, fast_init

# Values of every type the records hold; the inits store them without looking.
VALUES = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5),
                   st.floats(allow_nan=False), st.decimals(allow_nan=False, places=4))
DECORATED = sorted(ORIGINAL_INIT, key=lambda c: c.__qualname__)


def test_the_hot_records_are_decorated() -> None:
    # Importing the models registers them; a record dropped from the list would
    # silently lose the speed (and this equality check).
    import engine.execution.broker  # noqa: F401
    import engine.execution.intents  # noqa: F401
    names = {c.__name__ for c in ORIGINAL_INIT}
    assert {"Order", "Fill", "Bar", "Tick", "Position", "OrderUpdate", "OrderIntent",
            "FillEvent", "PositionEvent", "OrderEvent"} <= names


def _slots(obj: object) -> dict[str, object]:
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}  # type: ignore[arg-type]


@pytest.mark.parametrize("cls", DECORATED, ids=lambda c: c.__name__)
@given(data=st.data())
def test_same_object_as_the_dataclass_init(cls: type, data: st.DataObject) -> None:
    fields = dataclasses.fields(cls)
    required = [f for f in fields if f.default is dataclasses.MISSING
                and f.default_factory is dataclasses.MISSING]
    optional = [f for f in fields if f not in required]
    kwargs = {f.name: data.draw(VALUES, label=f.name) for f in required}
    kwargs |= {f.name: data.draw(VALUES, label=f.name) for f in optional
               if data.draw(st.booleans(), label=f"give {f.name}")}
    reference = object.__new__(cls)
    ORIGINAL_INIT[cls](reference, **kwargs)
    fast = cls(**kwargs)
    assert _slots(fast) == _slots(reference)
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.__setattr__(fields[0].name, 1)


@pytest.mark.parametrize("cls", DECORATED, ids=lambda c: c.__name__)
def test_same_signature(cls: type) -> None:
    fast = inspect.signature(cls.__init__)
    original = inspect.signature(ORIGINAL_INIT[cls])
    # Defaults compared by repr: a default_factory shows as "<factory>" in both.
    assert [(p.name, p.kind, repr(p.default)) for p in fast.parameters.values()] == \
        [(p.name, p.kind, repr(p.default)) for p in original.parameters.values()]


def test_positional_and_missing_arguments_behave_like_a_dataclass() -> None:
    from engine.models import Bar

    bar = Bar("S", "1m", 60, 1.0, 2.0, 0.5, 1.5, 10.0)
    assert (bar.trades, bar.close) == (0, 1.5) and bar.vwap != bar.vwap
    with pytest.raises(TypeError):
        Bar("S", "1m")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Bar("S", "1m", 60, 1.0, 2.0, 0.5, 1.5, 10.0, nope=1)  # type: ignore[call-arg]


def test_default_factory_gives_each_record_its_own_value() -> None:
    from engine.models.events import RiskEvent

    a, b = RiskEvent(code="a", message="m", ts_ns=1), RiskEvent(code="b", message="m", ts_ns=1)
    assert a.details == {} and a.details is not b.details


def test_refuses_what_it_cannot_copy_faithfully() -> None:
    @dataclasses.dataclass(frozen=True, slots=True)
    class WithPost:
        x: int

        def __post_init__(self) -> None:
            pass

    @dataclasses.dataclass(slots=True)
    class Mutable:
        x: int

    @dataclasses.dataclass(frozen=True, slots=True)
    class Derived:
        x: int
        y: int = dataclasses.field(init=False, default=0)

    for cls in (WithPost, Mutable, Derived):
        with pytest.raises(TypeError, match=cls.__name__):
            fast_init(cls)


def test_decimal_defaults_are_shared_immutables_like_the_dataclass() -> None:
    from engine.models import Fill, Side

    fill = Fill("f", "c", "paper", "S", Side.BUY, Decimal(1), Decimal(2), 3)
    assert fill.commission == 0 and fill.fee == 0 and fill.notional == 2
