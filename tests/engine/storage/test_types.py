"""Exact decimals and JSON in TEXT columns, through a real SQLite file."""

from __future__ import annotations

import tempfile
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Column, Integer, MetaData, Table, insert, select
from sqlalchemy.exc import StatementError

from engine.models import Side
from engine.storage import Database, DecimalText, JSONText

_meta = MetaData()
_money = Table("money", _meta, Column("id", Integer, primary_key=True),
               Column("amount", DecimalText), Column("doc", JSONText))


@pytest.fixture(scope="module")
def money_db():
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(Path(tmp) / "money.sqlite3")
        _meta.create_all(db.engine)
        yield db
        db.close()


def _round_trip(db: Database, amount, doc=None):
    with db.begin() as conn:
        row_id = conn.execute(insert(_money).returning(_money.c.id),
                              {"amount": amount, "doc": doc}).scalar_one()
    with db.connect() as conn:
        return conn.execute(select(_money.c.amount, _money.c.doc)
                            .where(_money.c.id == row_id)).one()


decimals = st.decimals(allow_nan=False, allow_infinity=False) | st.builds(
    lambda digits, exp: Decimal(digits).scaleb(exp),
    st.integers(-10**30, 10**30), st.integers(-30, 30))


@settings(max_examples=300, deadline=None)
@given(value=decimals)
def test_decimals_come_back_digit_for_digit(money_db, value):
    amount, _ = _round_trip(money_db, value)
    assert isinstance(amount, Decimal)
    assert amount == value
    # Same digits and exponent: 0.10 stays 0.10, 1E+2 stays 1E+2.
    assert amount.as_tuple() == value.as_tuple()


def test_trailing_zeros_and_tiny_amounts_survive(money_db):
    for text in ("0.10", "0.00000001", "123456789012345678901234567890.123456789", "-0.0"):
        amount, _ = _round_trip(money_db, Decimal(text))
        assert amount.as_tuple() == Decimal(text).as_tuple()


@pytest.mark.parametrize("bad", [0.1, float("nan"), Decimal("NaN"), Decimal("Infinity"), True])
def test_floats_and_non_finite_values_are_refused(money_db, bad):
    with pytest.raises(StatementError):
        _round_trip(money_db, bad)


def test_json_keeps_decimals_as_exact_strings_and_enums_as_values(money_db):
    doc = {"qty": Decimal("0.00100"), "side": Side.BUY, "tags": ("a", "b"), "n": None}
    _, back = _round_trip(money_db, None, doc)
    assert back == {"qty": "0.00100", "side": "BUY", "tags": ["a", "b"], "n": None}
