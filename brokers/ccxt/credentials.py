"""API keys: where they come from, and how they never reach a log, an error or a repr.

Lookup order for a broker whose ``secrets_name`` is ``binance``:

1. a ``credentials`` table in the broker's settings (``api_key``, ``secret``) -
   for tests and scripted use; prefer the keyring or the environment;
2. ``engine.settings.secrets.get_secret("binance", "api_key")`` (the OS keyring),
   when that module exists;
3. the environment: ``TT_SECRET_BINANCE_API_KEY`` and ``TT_SECRET_BINANCE_SECRET``.

No key at all is allowed: the adapter then serves market data only and
refuses orders with a message saying where to put the keys.

``Secret`` hides its value from ``str``/``repr``; ``RedactingFilter`` replaces
any key text in log records (ccxt logs request headers at DEBUG, and those
carry ``X-MBX-APIKEY``); ``scrub`` does the same for exception messages.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from engine.errors import ConfigError

log = logging.getLogger(__name__)
MASK = "***"


class Secret:
    """A string that shows as ``***`` everywhere except through ``reveal()``."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> Any:  # never pickled into a worker or a file by accident
        raise TypeError("a Secret cannot be pickled")


@dataclass(frozen=True, slots=True)
class Credentials:
    api_key: Secret
    secret: Secret
    source: str  # settings | keyring | environment (where they were found, for messages)

    def values(self) -> tuple[str, ...]:
        return tuple(v for v in (self.api_key.reveal(), self.secret.reveal()) if v)


def env_name(broker: str, name: str) -> str:
    """``TT_SECRET_<BROKER>_<NAME>`` with anything not alphanumeric as ``_``."""
    return "TT_SECRET_" + re.sub(r"[^A-Za-z0-9]", "_", f"{broker}_{name}").upper()


def _secrets_module_lookup() -> Callable[[str, str], str | None] | None:
    try:
        from engine.settings.secrets import get_secret  # written by another part of the app
    except ImportError:
        return None
    return get_secret


def resolve_credentials(settings: Mapping[str, Any] | None, broker: str,
                        where: str = "[brokers.binance]") -> Credentials | None:
    """Find the key pair (see the module docstring); None when there is none at all."""
    found = _resolve(settings, broker, where)
    if found is not None:
        _remember(found)
    return found


def _remember(credentials: Credentials) -> None:
    """Tell the application-wide log redaction (``engine.settings.secrets``) about the keys."""
    try:
        from engine.settings.secrets import remember_secret
    except ImportError:
        return
    for value in credentials.values():
        remember_secret(value)


def _resolve(settings: Mapping[str, Any] | None, broker: str,
             where: str) -> Credentials | None:
    if settings is not None:
        if not isinstance(settings, Mapping):
            raise ConfigError(f"{where} credentials: expected a table with api_key and secret")
        unknown = sorted(set(settings) - {"api_key", "secret"})
        if unknown:
            raise ConfigError(f"{where} credentials: unknown key(s) {', '.join(unknown)}; "
                              "allowed: api_key, secret")
        key, secret = settings.get("api_key"), settings.get("secret")
        if not isinstance(key, str) or not isinstance(secret, str) or not key or not secret:
            raise ConfigError(f"{where} credentials: give both api_key and secret as text")
        return Credentials(Secret(key), Secret(secret), "settings")
    getter = _secrets_module_lookup()
    if getter is not None:
        try:
            key, secret = getter(broker, "api_key"), getter(broker, "secret")
        except Exception as exc:  # a locked keyring must not stop market data
            log.warning("secrets for %s could not be read from the keyring: %s", broker,
                        type(exc).__name__)
            key = secret = None
        if key and secret:
            return Credentials(Secret(str(key)), Secret(str(secret)), "keyring")
    key = os.environ.get(env_name(broker, "api_key"))
    secret = os.environ.get(env_name(broker, "secret"))
    if key and secret:
        return Credentials(Secret(key), Secret(secret), "environment")
    if key or secret:
        raise ConfigError(f"{where}: only one of {env_name(broker, 'api_key')} and "
                          f"{env_name(broker, 'secret')} is set; set both or neither")
    return None


def scrub(text: str, credentials: Credentials | None) -> str:
    """``text`` with every credential replaced by ``***``."""
    if credentials is None:
        return text
    for value in credentials.values():
        if value in text:
            text = text.replace(value, MASK)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites log records that contain a credential (message and arguments)."""

    def __init__(self, credentials: Credentials) -> None:
        super().__init__("brokers.ccxt.redact")
        self.credentials = credentials

    def filter(self, record: logging.LogRecord) -> bool:
        values = self.credentials.values()
        if not values:
            return True
        try:
            message = record.getMessage()
        except Exception:
            return True
        if any(v in message for v in values):
            record.msg = scrub(message, self.credentials)
            record.args = ()
        if record.exc_info and record.exc_info[1] is not None:
            exc_text = str(record.exc_info[1])
            if any(v in exc_text for v in values):
                record.exc_info = None
                record.msg = f"{record.msg} [exception hidden: it contained a credential]"
        return True
