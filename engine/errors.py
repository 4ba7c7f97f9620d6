"""Errors that describe a user's mistake rather than a bug.

Anything raised as a ``UserError`` is shown to the user as its message alone,
with exit status 2 on the command line, never as a traceback. The message must
say what is wrong and where (file, line, key, allowed range).
"""

from __future__ import annotations


class UserError(Exception):
    """Bad input from a user: a file, a setting, a command-line argument."""

    exit_code = 2


class ConfigError(UserError):
    """An invalid configuration value (names the key, value and allowed range)."""


class DataValidationError(UserError):
    """A market data file that breaks a rule (names the file, line and rule)."""
