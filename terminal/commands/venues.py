"""``trading-terminal venues``: the brokers in the settings, and whether they answer.

    trading-terminal venues                  # every [brokers.*]: kind, enabled, mode, keys
    trading-terminal venues --json
    trading-terminal venues --check          # connect each enabled one (15 s at most)
    trading-terminal venues --check --timeout 5 --json

MODE is paper, testnet, demo or fake, and LIVE only when ``live = true`` is set
for that broker. KEYS says whether API keys were found (TT_SECRET_<BROKER>_API_KEY
and TT_SECRET_<BROKER>_SECRET in the environment, else the OS keyring); their
values are never printed. ``--check`` connects each enabled broker, prints its
connection state and, when it fails, why; that still exits 0. Invalid settings
exit with status 2.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from dataclasses import asdict, dataclass
from typing import Any

from engine.errors import ConfigError
from engine.settings import (
    Settings,
    broker_settings,
    get_secret,
    install_redaction,
    load_settings,
    secret_env_name,
)
from engine.settings.adapters import BROKERS

KINDS = {"paper": "paper", "binance": "ccxt", "kiwoom": "kiwoom"}  # settings table -> adapter


@dataclass(frozen=True)
class Venue:
    """One ``[brokers.<name>]`` table as the user configured it (nothing connected)."""

    name: str
    kind: str  # the adapter: paper, ccxt, kiwoom
    enabled: bool
    mode: str  # paper | testnet | demo | fake | LIVE | invalid
    live: bool  # the table's live switch
    keys: str  # yes | no | partial | login | not needed
    keys_from: str  # environment | keyring | environment+keyring | ""
    detail: str  # markets, currency, ... (never a secret)
    problem: str = ""  # why the table is invalid


@dataclass(frozen=True)
class Check:
    """What connecting to one venue did."""

    name: str
    state: str  # a ConnectionState value
    ok: bool
    reason: str  # why it failed ("" when connected)
    detail: str  # what the adapter said about the connection
    seconds: float
    instruments: int


# ---- listing ------------------------------------------------------------------------------
def describe(settings: Settings, name: str) -> Venue:
    """The kind, mode and key status of the ``[brokers.<name>]`` table."""
    enabled = bool(settings.get(f"brokers.{name}.enabled"))
    live = bool(settings.get(f"brokers.{name}.live")) if f"brokers.{name}.live" in \
        settings.schema else False
    kind = KINDS.get(name, name)
    if name == "paper":
        cash = settings.get("brokers.paper.initial_cash")
        return Venue(name, kind, enabled, "paper", False, "not needed", "",
                     f"{settings.get('brokers.paper.currency')} {cash:,.0f}")
    if name == "kiwoom":
        fake = bool(settings.get("brokers.kiwoom.fake"))
        mode = "fake" if fake else ("LIVE" if live else "demo")
        detail = "fake control, no real orders" if fake else \
            "server chosen at login" + ("" if live else "; the real server is refused")
        return Venue(name, kind, enabled, mode, live, "login", "", detail)
    return _ccxt(settings, name, kind, enabled, live)


def _ccxt(settings: Settings, name: str, kind: str, enabled: bool, live: bool) -> Venue:
    from brokers.ccxt.config import CcxtConfig

    try:
        config = CcxtConfig.from_settings(broker_settings(settings, name),
                                          where=f"[brokers.{name}]")
    except ConfigError as exc:
        keys, where = _keys(name)
        return Venue(name, kind, enabled, "invalid", live, keys, where, "", str(exc))
    keys, where = _keys(config.secrets_name)
    detail = f"{config.exchange} {'+'.join(config.markets)}"
    if config.symbols:
        detail += f" ({', '.join(config.symbols)})"
    return Venue(name, kind, enabled, "LIVE" if config.is_live else config.environment,
                 live, keys, where, detail)


def keyring_available() -> bool:
    """False when keyring has no backend here (headless Linux without Secret Service)."""
    import keyring
    from keyring.backends import fail

    return not isinstance(keyring.get_keyring(), fail.Keyring)


def _keys(secrets_name: str) -> tuple[str, str]:
    """("yes" | "no" | "partial", where they were found): looked up, never shown."""
    found: dict[str, str] = {}
    ring = keyring_available()
    for part in ("api_key", "secret"):
        if os.environ.get(secret_env_name(secrets_name, part)):
            found[part] = "environment"
        elif ring and get_secret(secrets_name, part, env={}):
            found[part] = "keyring"
    where = "+".join(sorted(set(found.values())))
    if len(found) == 2:
        return "yes", where
    if found:
        missing = "secret" if "api_key" in found else "api_key"
        return f"partial ({missing} missing)", where
    return "no", ""


# ---- checking -----------------------------------------------------------------------------
async def check(settings: Settings, name: str, timeout: float,
                **factory_kwargs: Any) -> Check:
    """Connect to the ``name`` broker (at most ``timeout`` s), then disconnect."""
    from engine.bus import EventBus
    from engine.clock import LiveClock
    from engine.execution import create_broker
    from engine.models import ConnectionState, ConnectionStateChanged
    from engine.settings.secrets import redact

    bus = EventBus()
    details: list[str] = []  # the broker's state details, newest last

    def note(event: ConnectionStateChanged) -> None:
        if event.detail:
            details.append(event.detail)

    bus.subscribe(ConnectionStateChanged, note)
    started = time.monotonic()
    try:
        broker = create_broker(name, name=name, bus=bus, clock=LiveClock(),
                               settings=broker_settings(settings, name), **factory_kwargs)
    except Exception as exc:  # noqa: BLE001 - a row in the report, never a traceback
        return Check(name, ConnectionState.FAILED.value, False,
                     redact(f"could not be set up: {_text(exc)}"), "", 0.0, 0)
    reason, instruments = "", 0
    try:
        await asyncio.wait_for(broker.connect(), timeout)
        instruments = len(await broker.instruments())
    except TimeoutError:
        reason = f"no answer within {timeout:g} s"
    except Exception as exc:  # noqa: BLE001
        reason = _text(exc)
    state = broker.state
    if not reason and state is not ConnectionState.CONNECTED:
        reason = details[-1] if details else f"left {state.value}"
    seconds = time.monotonic() - started
    try:
        await asyncio.wait_for(broker.disconnect(), 5)
    except Exception:  # noqa: BLE001, S110 - closing is best effort; the report stands
        pass
    reason = reason.removeprefix(f"{name}: ")  # the report names the broker already
    return Check(name, state.value, state is ConnectionState.CONNECTED and not reason,
                 redact(reason), redact(details[-1]) if details and not reason else "",
                 round(seconds, 2), instruments)


def _text(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


async def check_all(settings: Settings, names: list[str], timeout: float) -> list[Check]:
    """One after the other, so each one's time is its own."""
    from engine.live_session import EXTRA_BROKER_KWARGS

    return [await check(settings, n, timeout, **EXTRA_BROKER_KWARGS.get(n, {})) for n in names]


# ---- command ------------------------------------------------------------------------------
def run(args: argparse.Namespace) -> int:
    install_redaction()
    if args.timeout <= 0:
        raise ConfigError(f"--timeout {args.timeout:g}: must be more than 0 seconds")
    settings = load_settings(args.config)
    venues = [describe(settings, name) for name in BROKERS]
    checks: dict[str, Check] = {}
    if args.check:
        names = [v.name for v in venues if v.enabled and not v.problem]
        checks = {c.name: c for c in asyncio.run(check_all(settings, names, args.timeout))}
    if args.json:
        rows = [{**asdict(v), "check": asdict(checks[v.name]) if v.name in checks else None}
                for v in venues]
        print(json.dumps({"brokers": rows, "keyring": keyring_available()}, indent=2))
    else:
        _print(venues, checks, args.check)
    problems = [v.problem for v in venues if v.problem]
    if problems:
        raise ConfigError("\n".join(problems))
    return 0


def _print(venues: list[Venue], checks: dict[str, Check], checked: bool) -> None:
    head = ["BROKER", "KIND", "ENABLED", "MODE", "KEYS", "DETAIL"]
    rows = []
    for v in venues:
        keys = f"{v.keys} ({v.keys_from})" if v.keys_from and v.keys == "yes" else v.keys
        rows.append([v.name, v.kind, "yes" if v.enabled else "no", v.mode, keys,
                     v.problem or v.detail])
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head) - 1)]
    for row in [head, *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) + "  " + row[-1])
    if not keyring_available():
        print("(no OS keyring here: keys are read from TT_SECRET_<BROKER>_API_KEY and "
              "TT_SECRET_<BROKER>_SECRET only)")
    if not checked:
        return
    print()
    if not checks:
        print("no broker is enabled: nothing to check")
    for c in checks.values():
        line = f"{c.name}: {c.state} in {c.seconds:.1f} s"
        if c.ok:
            line += f" - {c.detail}" if c.detail else ""
            line += f"; {c.instruments} instruments" if c.instruments else ""
        else:
            line += f" - {c.reason}"
        print(line)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("venues", help="list the configured brokers; --check connects them",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--check", action="store_true",
                   help="connect each enabled broker and report its state (exit 0 either way)")
    p.add_argument("--timeout", type=float, default=15.0, metavar="SECONDS",
                   help="with --check: give up on a broker after this long (default 15)")
    p.add_argument("--json", action="store_true", help="print the list as JSON")
    p.set_defaults(func=run)
