"""Settings tests: a user folder of their own (tests/conftest.py) and an in-memory keyring."""

from __future__ import annotations

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError

from engine.paths import user_config_file
from engine.settings.secrets import forget_secrets


class MemoryKeyring(KeyringBackend):
    """A keyring that lives in a dict: the real OS keyring is never touched."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.store.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.store[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if (service, username) not in self.store:
            raise PasswordDeleteError(username)
        del self.store[(service, username)]


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
