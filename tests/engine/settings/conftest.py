"""Settings tests: a user folder of their own (tests/conftest.py) and an in-memory keyring."""

from __future__ import annotations

import keyring
import pytest

from engine.paths import user_config_file
from engine.settings.secrets import forget_secrets
from tests.memory_keyring import MemoryKeyring


@pytest.fixture
def memory_keyring():
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture(autouse=True)
def _forget_secrets():
    yield
    forget_secrets()


@pytest.fixture
def user_file():
    """The user's settings.toml path (in the test's own TRADING_TERMINAL_HOME)."""
    path = user_config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def write(tmp_path):
    """Write a TOML text to a file in tmp_path and return its path."""
    def _write(text: str, name: str = "settings.toml"):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path
    return _write
