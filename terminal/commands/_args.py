"""Argument helpers shared by the subcommands (not a subcommand: the name starts with _)."""

from __future__ import annotations

from collections.abc import Sequence

from engine.errors import UserError


def assignments(items: Sequence[str] | None, flag: str = "--param") -> dict[str, str]:
    """``["fast=10", "slow=30"]`` -> ``{"fast": "10", "slow": "30"}``; a malformed item is a
    ``UserError`` naming it."""
    out: dict[str, str] = {}
    for item in items or ():
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise UserError(f"{flag} {item!r}: write NAME=VALUE, e.g. fast=10")
        out[name.strip()] = value.strip()
    return out
