"""Storage benchmark: import a 1,000,000-row 1-minute CSV into a fresh SQLite file
(parse + validate + one-transaction upsert, through the real CLI command) and read
it back into a DataFrame. Target: each under 5 s.

    python bench/bench_storage.py [--rows 1000000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.data.io import read_ohlcv  # noqa: E402
from engine.storage import Database, load_bars  # noqa: E402
from terminal.cli import main  # noqa: E402


def make_csv(path: Path, rows: int, seed: int = 7) -> None:
    """A random-walk 1-minute series with realistic OHLC relations, times with +09:00."""
    rng = np.random.default_rng(seed)
    close = 50_000 * np.exp(np.cumsum(rng.normal(0, 5e-4, rows)))
    open_ = np.concatenate([[close[0]], close[:-1]])
    spread = np.abs(rng.normal(0, 3e-4, rows)) * close
    frame = pd.DataFrame({
        "time": pd.date_range("2022-01-03 09:00", periods=rows, freq="1min", tz="Asia/Seoul"),
        "open": open_.round(2),
        "high": (np.maximum(open_, close) + spread).round(2),
        "low": (np.minimum(open_, close) - spread).round(2),
        "close": close.round(2),
        "volume": rng.integers(1, 5_000, rows),
    })
    frame.to_csv(path, index=False, date_format="%Y-%m-%dT%H:%M:%S%z")


def timed(label: str, fn) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    fn()
    elapsed = time.perf_counter() - start
    print(f"{label:<44} {elapsed:6.2f} s")
    return elapsed


def main_bench() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, help="folder to keep the CSV and database in")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        csv, db_file = folder / "bench_1m.csv", folder / "bench.sqlite3"
        for f in (db_file, db_file.with_name(db_file.name + "-wal"),
                  db_file.with_name(db_file.name + "-shm")):
            f.unlink(missing_ok=True)
        make_csv(csv, args.rows)
        print(f"{args.rows:,} rows, CSV {csv.stat().st_size / 1e6:.0f} MB")
        out = io.StringIO()
        timed("read_ohlcv (parse + validate only)", lambda: read_ohlcv(csv, timeframe="1m"))

        def run_import() -> None:
            with redirect_stdout(out):
                code = main(["data", "import", str(csv), "--symbol", "BENCH", "--timeframe", "1m",
                             "--db", str(db_file)])
            assert code == 0, code

        t_import = timed("data import (parse, validate, write, commit)", run_import)
        print("  " + out.getvalue().strip())
        db = Database(db_file)
        frame: list[pd.DataFrame] = []
        t_read = timed("load_bars -> DataFrame", lambda: frame.append(load_bars(db, "BENCH", "1m")))
        assert len(frame[0]) == args.rows
        db.close()
        print(f"database {db_file.stat().st_size / 1e6:.0f} MB")
        ok = t_import < 5 and t_read < 5
        print("target (each under 5 s):", "met" if ok else "NOT met")
    return 0


if __name__ == "__main__":
    sys.exit(main_bench())
