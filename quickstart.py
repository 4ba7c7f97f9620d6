#!/usr/bin/env python3
"""One command to install and launch the terminal, or to install and run the tests.

    python3 quickstart.py            # install into ./.venv and open the terminal
    python3 quickstart.py test       # install with the dev extra and run pytest
    python3 quickstart.py -- ARGS    # pass ARGS to trading-terminal (e.g. -- backtest --help)

It works the same on Linux, macOS and Windows (use ``py quickstart.py`` there),
needs only Python 3.11 or newer, and never touches the system's Python: the
virtual environment lives in ``.venv`` next to this file. Installation is
skipped when ``pyproject.toml`` has not changed since the last run.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"


def _bin(name: str) -> Path:
    folder = "Scripts" if os.name == "nt" else "bin"
    suffix = ".exe" if os.name == "nt" else ""
    return VENV / folder / f"{name}{suffix}"


def _ensure_venv() -> Path:
    python = _bin("python")
    if not python.exists():
        print(f"creating a virtual environment in {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    return python


def _install(python: Path, extra: str) -> None:
    stamp = VENV / f".installed-{extra or 'app'}"
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return
    target = f".[{extra}]" if extra else "."
    print(f"installing trading-terminal{f' [{extra}]' if extra else ''} ...", flush=True)
    # setuptools' build of an editable install warns, in a box, that folders named like
    # the packages take precedence: here they are the packages themselves. Errors still show.
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    subprocess.check_call([str(python), "-m", "pip", "install", "--quiet", "--upgrade", "pip"],
                          cwd=ROOT, env=env)
    subprocess.check_call([str(python), "-m", "pip", "install", "--quiet", "-e", target],
                          cwd=ROOT, env=env)
    stamp.write_text(digest)


def main(argv: list[str]) -> int:
    if sys.version_info < (3, 11):  # noqa: UP036 - this file runs on any Python to say so
        print("trading-terminal needs Python 3.11 or newer", file=sys.stderr)
        return 2
    python = _ensure_venv()
    if argv[:1] == ["test"]:
        _install(python, "dev")
        return subprocess.call([str(python), "-m", "pytest", *argv[1:]], cwd=ROOT)
    _install(python, "")
    args = argv[1:] if argv[:1] == ["--"] else argv
    return subprocess.call([str(_bin("trading-terminal")), *args], cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
