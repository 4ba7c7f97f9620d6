"""Fixtures shared by the widget tests."""

from __future__ import annotations

import pytest

from engine.storage import Database


@pytest.fixture
def database(tmp_path):
    """A real SQLite file for stored backtest runs."""
    db = Database(tmp_path / "backtests.db")
    yield db
    db.close()
