"""``trading-terminal``: the GUI by default, subcommands for headless work.

Each subcommand lives in ``terminal/commands/<name>.py`` and exposes
``register(subparsers)``; it imports only the engine (and brokers), never Qt,
so headless commands start fast and run on machines without a display.
A ``UserError`` from any command prints its message and exits with status 2.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import pkgutil
import sys
from collections.abc import Sequence

from engine.errors import UserError

log = logging.getLogger("terminal")


def _command_modules() -> list[str]:
    from terminal import commands

    return sorted(m.name for m in pkgutil.iter_modules(commands.__path__) if not m.name.startswith("_"))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="trading-terminal",
        description="Desktop trading terminal. Without a subcommand it opens the window.",
    )
    parser.add_argument("--log-level", help="DEBUG, INFO, WARNING or ERROR (default INFO; "
                                            "WARNING with a command's -q)")
    parser.add_argument("--config", metavar="FILE", help="settings file to use instead of the user's")
    parser.add_argument("--screenshot", metavar="PATH", help="start, save a PNG of the window, exit")
    parser.add_argument("--after", type=float, default=3.0, metavar="SECONDS",
                        help="with --screenshot: how long the replay runs first (default 3)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _command_modules():
        module = importlib.import_module(f"terminal.commands.{name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = args.log_level or ("WARNING" if getattr(args, "quiet", False) else "INFO")
    logging.basicConfig(
        level=getattr(logging, str(level).upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        if args.command is None:
            from terminal.app import run_gui

            return run_gui(args)
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # here, where a closed pipe is handled, not at exit
        return code
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly. Python would otherwise report
        # the pipe again when it flushes stdout on exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def gui_main() -> int:
    """Entry point of the console-less launcher (``trading-terminal-gui``)."""
    return main([])


if __name__ == "__main__":
    sys.exit(main())
