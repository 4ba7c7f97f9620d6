"""Test-wide setup: Qt runs offscreen, and nothing touches the user's real folders."""

from __future__ import annotations

import os

# Set before anything imports Qt: tests never need a display.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("PYTHONHASHSEED", "0")

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path_factory, monkeypatch):
    """Point the platform config/data folders at a temp dir for every test."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("TRADING_TERMINAL_HOME", str(home))
    yield


@pytest.fixture(autouse=True)
def _qt_garbage_dies_on_the_gui_thread(request):
    """After a test that built Qt objects, collect its garbage here, on the GUI thread.

    A closed main window sits in reference cycles (bridges, panels, their QTimers).
    Left to the collector, it may be destroyed later by whichever thread happens to
    allocate, such as a fake venue's event loop in another test. A QTimer destroyed
    off its thread stays registered, and the next processEvents segfaults.
    """
    yield
    if {"qtbot", "qapp"} & set(request.fixturenames):
        import gc

        gc.collect()
