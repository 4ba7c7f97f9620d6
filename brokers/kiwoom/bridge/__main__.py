"""``python -m brokers.kiwoom.bridge [--fake ...]``: run the bridge.

The session token comes from the ``KIWOOM_BRIDGE_TOKEN`` environment variable.
On Windows without ``--fake`` the real OpenAPI+ control is hosted (32-bit
Python with PyQt5); with ``--fake`` (any platform) the fake control and venue.
Logs go to stderr, which the terminal's supervisor writes to a log file.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys

from brokers.kiwoom import protocol as P
from brokers.kiwoom.bridge.core import BridgeLimits


def _limits(text: str | None) -> BridgeLimits | None:
    if not text:
        return None
    raw = json.loads(text)
    for key in ("tr_windows", "order_windows"):
        if key in raw:
            raw[key] = tuple(tuple(w) for w in raw[key])
    return BridgeLimits(**raw)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m brokers.kiwoom.bridge")
    parser.add_argument("--fake", action="store_true", help="host the fake control")
    parser.add_argument("--fake-state", help="JSON file holding the fake venue's state")
    parser.add_argument("--fake-options", default="{}", help="JSON options of the fake control")
    parser.add_argument("--venue-options", default="{}", help="JSON options of the fake venue")
    parser.add_argument("--limits", help="JSON BridgeLimits overrides")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=args.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    token = os.environ.get(P.TOKEN_ENV, "")
    if not token:
        print(f"set {P.TOKEN_ENV}: the terminal passes the session token there",
              file=sys.stderr)
        return 2
    limits = _limits(args.limits)
    if args.fake:
        from brokers.kiwoom.bridge.host_asyncio import serve_fake

        return asyncio.run(serve_fake(token, state_path=args.fake_state,
                                      fake_options=json.loads(args.fake_options),
                                      venue_options=json.loads(args.venue_options),
                                      limits=limits))
    if sys.platform != "win32":
        print("Kiwoom OpenAPI+ runs on Windows only; use --fake elsewhere", file=sys.stderr)
        return 2
    from brokers.kiwoom.bridge.host_qt import run_ocx_bridge

    return run_ocx_bridge(token, limits=limits)


if __name__ == "__main__":
    sys.exit(main())
