"""``trading-terminal config check|show|path|secret``: the settings, checked and explained.

    trading-terminal config check                 # the effective settings (file + TT_ variables)
    trading-terminal config check my.toml         # one file, over the defaults
    trading-terminal config show [--json] [risk]  # every value and where it came from
    trading-terminal config path                  # the user file, data folder and database
    trading-terminal config secret set binance api_key   # into the OS keyring (prompted)

Invalid settings print every problem (``file:line: key = value: rule``) and exit
with status 2. Secrets are never shown: they are not settings.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from typing import Any

from engine.errors import UserError
from engine.paths import HOME_ENV, user_config_file
from engine.settings import (
    Settings,
    data_folder,
    database_url,
    delete_secret,
    load_settings,
    secret_env_name,
    set_secret,
    validate_file,
)
from engine.settings.loader import defaults_text
from engine.settings.toml_io import toml_value


def _effective(args: argparse.Namespace) -> Settings:
    return load_settings(user_file=getattr(args, "config", None))


def _counts(settings: Settings) -> str:
    files: dict[str, int] = {}
    from_env = 0
    for path, _ in settings.items():
        source = settings.source_of(path)
        if source.kind == "file":
            name = source.where.rsplit(":", 1)[0]
            files[name] = files.get(name, 0) + 1
        elif source.kind == "env":
            from_env += 1
    parts = [f"{n} from {name}" for name, n in files.items()]
    if from_env:
        parts.append(f"{from_env} from the environment")
    return f" ({', '.join(parts)})" if parts else " (all defaults)"


def _check(args: argparse.Namespace) -> int:
    settings = validate_file(args.file) if args.file else _effective(args)
    print(f"ok: {len(settings)} keys{_counts(settings)}")
    return 0


def _show(args: argparse.Namespace) -> int:
    settings = _effective(args)
    prefix = args.prefix.rstrip(".") if args.prefix else ""
    rows = [(path, value, str(settings.source_of(path))) for path, value in settings.items()
            if not prefix or path == prefix or path.startswith(prefix + ".")]
    if prefix and not rows:
        raise UserError(f"no setting or table {prefix!r}; see `trading-terminal config show`")
    if args.json:
        out: dict[str, Any] = {p: {"value": list(v) if isinstance(v, tuple) else v, "source": s}
                               for p, v, s in rows}
        json.dump(out, sys.stdout, indent=2, ensure_ascii=False)
        print()
        return 0
    shown = [(p, toml_value(v), s) for p, v, s in rows]
    wk = max(len(r[0]) for r in shown)
    wv = max(len(r[1]) for r in shown)
    for p, v, s in shown:
        print(f"{p.ljust(wk)}  {v.ljust(wv)}  {s}".rstrip())
    return 0


def _path(args: argparse.Namespace) -> int:
    user = user_config_file()
    chosen = getattr(args, "config", None)
    settings = _effective(args)
    print(f"user settings file: {user}" + ("" if user.is_file() else " (not created yet)"))
    if chosen:
        print(f"in use instead (--config): {os.path.abspath(chosen)}")
    if os.environ.get(HOME_ENV):
        print(f"relocated by {HOME_ENV}={os.environ[HOME_ENV]}")
    print(f"defaults: {defaults_text()[0]}")
    print(f"data folder: {data_folder(settings)}")
    print(f"database: {database_url(settings)}")
    return 0


def _secret(args: argparse.Namespace) -> int:
    from keyring.errors import KeyringError

    var = secret_env_name(args.broker, args.name)
    try:
        if args.secret_action == "set":
            value = sys.stdin.readline().rstrip("\r\n") if args.stdin else \
                getpass.getpass(f"{args.broker} {args.name}: ")
            if not value:
                raise UserError("empty secret: nothing stored")
            set_secret(args.broker, args.name, value)
            print(f"stored {args.broker} {args.name} in the OS keyring")
        elif args.secret_action == "delete":
            found = delete_secret(args.broker, args.name)
            print(f"deleted {args.broker} {args.name} from the OS keyring" if found else
                  f"no {args.broker} {args.name} in the OS keyring")
        else:
            import keyring

            if os.environ.get(var):
                print(f"{args.broker} {args.name}: set in the environment ({var})")
            elif keyring.get_password("trading-terminal", f"{args.broker}:{args.name}"):
                print(f"{args.broker} {args.name}: stored in the OS keyring")
            else:
                print(f"{args.broker} {args.name}: not set (keyring or {var})")
    except KeyringError as exc:
        raise UserError(f"the OS keyring is not available ({type(exc).__name__}); "
                        f"set the environment variable {var} instead") from None
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("config", help="check, show and locate the settings",
                            description="Settings: shipped defaults < your settings file "
                                        "(or --config FILE) < TT_<SECTION>__<KEY> variables.")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    check = actions.add_parser("check", help="validate a settings file or the effective settings",
                               description="Print 'ok' or every problem (file:line: key = value: "
                                           "rule); exit status 2 when there are problems.")
    check.add_argument("file", nargs="?", help="a settings file (default: the effective settings)")
    check.set_defaults(func=_check)

    show = actions.add_parser("show", help="every setting's value and where it came from")
    show.add_argument("prefix", nargs="?", help="only this table or key, e.g. risk or brokers.paper")
    show.add_argument("--json", action="store_true", help="as JSON {key: {value, source}}")
    show.set_defaults(func=_show)

    path = actions.add_parser("path", help="where the settings file, data and database are")
    path.set_defaults(func=_path)

    secret = actions.add_parser("secret", help="store or delete a secret in the OS keyring",
                                description="Secrets never go in settings files. They are read "
                                            "from TT_SECRET_<BROKER>_<NAME>, else the OS keyring.")
    secret.add_argument("secret_action", metavar="set|delete|status", choices=("set", "delete", "status"))
    secret.add_argument("broker", help="e.g. binance")
    secret.add_argument("name", help="e.g. api_key, api_secret")
    secret.add_argument("--stdin", action="store_true", help="set: read the value from stdin")
    secret.set_defaults(func=_secret)
