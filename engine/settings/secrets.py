"""Secrets (API keys, passwords): from the environment or the OS keyring, never from files.

::

    key = get_secret("binance", "api_key")   # TT_SECRET_BINANCE_API_KEY, else the keyring
    set_secret("binance", "api_key", "...")  # into the keyring (service "trading-terminal")

Every secret this module hands out or stores is remembered, and the filter that
``install_redaction()`` puts on the logging system replaces it with ``***`` in any
log record, whatever logger or handler the record goes through.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Mapping
from typing import Any

log = logging.getLogger(__name__)

SERVICE = "trading-terminal"
MASK = "***"
MIN_LENGTH = 4  # shorter values would mask ordinary words and digits in every log line

_lock = threading.Lock()
_known: set[str] = set()
_ordered: tuple[str, ...] = ()  # longest first, so a secret inside another is masked whole


def secret_env_name(broker: str, name: str) -> str:
    """``("binance", "api_key")`` -> ``TT_SECRET_BINANCE_API_KEY``."""
    def part(text: str) -> str:
        return re.sub(r"[^A-Z0-9]+", "_", text.upper()).strip("_")
    return f"TT_SECRET_{part(broker)}_{part(name)}"


def _username(broker: str, name: str) -> str:
    return f"{broker}:{name}"


def remember_secret(value: str) -> None:
    """Mask ``value`` in logs from now on (get/set_secret do this themselves)."""
    global _ordered
    if not value or len(value) < MIN_LENGTH:
        return
    with _lock:
        if value not in _known:
            _known.add(value)
            _ordered = tuple(sorted(_known, key=len, reverse=True))


def forget_secrets() -> None:
    """Stop masking everything remembered so far (tests)."""
    global _ordered
    with _lock:
        _known.clear()
        _ordered = ()


def get_secret(broker: str, name: str, env: Mapping[str, str] | None = None) -> str | None:
    """The secret from ``TT_SECRET_<BROKER>_<NAME>``, else from the OS keyring, else None."""
    environ = os.environ if env is None else env
    value = environ.get(secret_env_name(broker, name))
    if not value:
        import keyring
        from keyring.errors import KeyringError

        try:
            value = keyring.get_password(SERVICE, _username(broker, name))
        except KeyringError as exc:
            # The error names the backend, never the secret.
            log.warning("no OS keyring to read %s %s from (%s); set %s instead",
                        broker, name, type(exc).__name__, secret_env_name(broker, name))
            value = None
    if value:
        remember_secret(value)
    return value or None


def set_secret(broker: str, name: str, value: str) -> None:
    """Store a secret in the OS keyring (raises ``keyring.errors.KeyringError`` if none)."""
    import keyring

    remember_secret(value)
    keyring.set_password(SERVICE, _username(broker, name), value)


def delete_secret(broker: str, name: str) -> bool:
    """Remove a secret from the OS keyring; False when there was none."""
    import keyring
    from keyring.errors import PasswordDeleteError

    try:
        keyring.delete_password(SERVICE, _username(broker, name))
    except PasswordDeleteError:
        return False
    return True


def redact(text: str) -> str:
    """``text`` with every remembered secret replaced by ``***``."""
    for secret in _ordered:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


class RedactingFilter(logging.Filter):
    """Replaces remembered secrets in a record's message, arguments, exception and stack."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not _ordered or getattr(record, "_tt_redacted", False):
            return True
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep its parts, masked, rather than fail
            message = f"{record.msg} {record.args!r}"
        clean = redact(message)
        if clean != message or record.args:
            record.msg, record.args = clean, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        record._tt_redacted = True
        return True


_filter = RedactingFilter()
_factory_installed = False


def install_redaction(logger: logging.Logger | None = None) -> RedactingFilter:
    """Mask secrets in every log record from now on; returns the filter.

    The filter goes on ``logger`` (default: the root logger) and its handlers, as
    usual, and also on record creation, because a logger's own filters do not see
    records from its children and handlers added later would miss it. Idempotent.
    """
    global _factory_installed
    target = logger if logger is not None else logging.getLogger()
    if _filter not in target.filters:
        target.addFilter(_filter)
    for handler in target.handlers:
        if _filter not in handler.filters:
            handler.addFilter(_filter)
    with _lock:
        if not _factory_installed:
            previous = logging.getLogRecordFactory()

            def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
                record = previous(*args, **kwargs)
                if _ordered:
                    _filter.filter(record)
                return record

            logging.setLogRecordFactory(factory)
            _factory_installed = True
    return _filter
