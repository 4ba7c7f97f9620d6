"""``trading-terminal data``: exit codes, one-line summaries, errors without tracebacks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.data.trades_io import read_trades
from engine.paths import default_database_path
from engine.storage import Database, load_bars, load_trades
from terminal.cli import main

HEADER = "time,open,high,low,close,volume\n"


def csv_file(tmp_path, n=5, name="bars.csv", extra=""):
    times = pd.date_range("2024-01-02 09:00", periods=n, freq="1min")
    body = "".join(f"{t:%Y-%m-%d %H:%M:%S},100,101,99,100.5,{i}\n" for i, t in enumerate(times))
    path = tmp_path / name
    path.write_text(HEADER + body + extra)
    return path


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def test_import_list_export_round_trip(tmp_path, capsys):
    db = str(tmp_path / "cli.sqlite3")
    code, out, _ = run(capsys, "data", "import", str(csv_file(tmp_path)), "--symbol", "005930",
                       "--timeframe", "1m", "--tz", "Asia/Seoul", "--db", db)
    assert code == 0
    assert out.count("\n") == 1
    assert "imported 5 1m bars of 005930" in out and "(5 new, 0 replaced)" in out
    assert "2024-01-02 09:00:00 Asia/Seoul .. 2024-01-02 09:04:00 Asia/Seoul" in out

    code, out, _ = run(capsys, "data", "list", "--db", db)
    assert code == 0
    assert out.splitlines()[1].split() == ["005930", "1m", "2024-01-02", "00:00:00", "UTC",
                                           "2024-01-02", "00:04:00", "UTC", "5"]

    target = tmp_path / "out.parquet"
    code, out, _ = run(capsys, "data", "export", str(target), "--symbol", "005930",
                       "--timeframe", "1m", "--from", "2024-01-02 09:01", "--to",
                       "2024-01-02 09:03", "--tz", "Asia/Seoul", "--db", db)
    assert code == 0 and "exported 3 1m bars" in out
    assert len(pd.read_parquet(target)) == 3


def test_the_default_database_is_the_users(tmp_path, capsys):
    code, _, _ = run(capsys, "data", "import", str(csv_file(tmp_path)), "--symbol", "X",
                     "--timeframe", "1m", "--tz", "UTC")
    assert code == 0
    with Database(default_database_path()) as db:
        assert len(load_bars(db, "X", "1m")) == 5


def test_a_bad_file_exits_2_naming_file_and_line_and_imports_nothing(tmp_path, capsys):
    db = str(tmp_path / "cli.sqlite3")
    path = csv_file(tmp_path, extra="2024-01-02 10:00:00,100,99,98,100.5,1\n")
    code, out, err = run(capsys, "data", "import", str(path), "--symbol", "X", "--timeframe",
                         "1m", "--tz", "UTC", "--db", db)
    assert code == 2 and out == ""
    assert err.startswith("error: ") and str(path) in err and "line 7" in err
    assert "high 99 is below max(open, close) 100.5" in err
    with Database(db) as database:
        assert load_bars(database, "X", "1m").empty


@pytest.mark.parametrize("args,words", [
    (["--timeframe", "7x"], "timeframe '7x' is not valid"),
    (["--tz", "Nowhere/City"], "unknown timezone 'Nowhere/City'"),
    ([], "has no timezone; pass the zone"),
])
def test_user_mistakes_exit_2_with_a_message(tmp_path, capsys, args, words):
    argv = ["data", "import", str(csv_file(tmp_path)), "--symbol", "X", "--timeframe", "1m",
            "--db", str(tmp_path / "c.sqlite3"), *args]
    code, _, err = run(capsys, *argv)
    assert code == 2 and words in err


def test_missing_files_and_unusable_databases_exit_2(tmp_path, capsys):
    code, _, err = run(capsys, "data", "import", str(tmp_path / "nope.csv"), "--symbol", "X",
                       "--timeframe", "1m", "--db", str(tmp_path / "c.sqlite3"))
    assert code == 2 and "no such file" in err
    bogus = tmp_path / "bogus.sqlite3"
    bogus.write_text("not a database at all\n" * 200)
    code, _, err = run(capsys, "data", "list", "--db", str(bogus))
    assert code == 2 and "not a database" in err


def test_export_of_nothing_exits_2(tmp_path, capsys):
    code, _, err = run(capsys, "data", "export", str(tmp_path / "x.csv"), "--symbol", "X",
                       "--timeframe", "1m", "--db", str(tmp_path / "c.sqlite3"))
    assert code == 2 and "no bars of X" in err


def test_list_of_an_empty_database(tmp_path, capsys):
    code, out, _ = run(capsys, "data", "list", "--db", str(tmp_path / "c.sqlite3"))
    assert code == 0 and "no bars stored" in out


def trades_csv(tmp_path, n=1_000, name="trades.csv"):
    """Trades as an exchange exports them: Unix ms, several per millisecond at times."""
    rng = np.random.default_rng(3)
    ms = pd.Timestamp("2024-03-01", tz="UTC").value // 1_000_000 + np.cumsum(
        rng.integers(0, 500, n))
    path = tmp_path / name
    pd.DataFrame({"timestamp": ms, "price": (60_000 + np.cumsum(rng.normal(0, 3, n))).round(1),
                  "qty": rng.uniform(0.001, 0.3, n).round(3),
                  "side": rng.choice(["buy", "sell"], n)}).to_csv(path, index=False)
    return path, ms


def test_a_trade_file_stores_its_trades_and_the_minutes_they_make(tmp_path, capsys):
    db = str(tmp_path / "cli.sqlite3")
    path, ms = trades_csv(tmp_path)
    code, out, err = run(capsys, "data", "import", str(path), "--symbol", "BTC/USDT",
                         "--db", db)  # no --timeframe: the trades make 1m bars
    assert code == 0, err
    minutes = len(np.unique(ms // 60_000))
    assert out.startswith(f"imported 1,000 trades of BTC/USDT from {path} (1,000 new, "
                          "0 replaced): 2024-03-01 00:00:00 UTC ..")
    assert f"and {minutes} 1m bars built from them (0 replaced)" in out
    with Database(db) as database:
        stored = load_trades(database, "BTC/USDT")
        assert stored.equals(read_trades(path))
        assert len(load_bars(database, "BTC/USDT", "1m")) == minutes

    code, out, _ = run(capsys, "data", "import", str(path), "--symbol", "BTC/USDT", "--db", db)
    assert code == 0 and "(0 new, 1,000 replaced)" in out and f"({minutes} replaced)" in out

    code, out, _ = run(capsys, "data", "list", "--db", db)
    assert code == 0
    bars_table, trades_table = out.split("\n\n")
    assert bars_table.splitlines()[1].split()[:2] == ["BTC/USDT", "1m"]
    assert trades_table.splitlines()[0].split() == ["symbol", "first", "trade", "last", "trade",
                                                    "trades"]
    assert trades_table.splitlines()[1].split() == ["BTC/USDT", "2024-03-01", "00:00:00", "UTC",
                                                    *_when(ms[-1]), "1,000"]


def _when(ms: int) -> list[str]:
    return pd.Timestamp(int(ms), unit="ms", tz="UTC").strftime("%Y-%m-%d %H:%M:%S UTC").split()


def test_a_bad_trade_file_exits_2_naming_file_and_line_and_stores_nothing(tmp_path, capsys):
    db = str(tmp_path / "cli.sqlite3")
    path = tmp_path / "bad.csv"
    path.write_text("time,price,size,side\n2024-03-01T00:00:00Z,100,1,buy\n"
                    "2024-03-01T00:00:01Z,101,-2,sell\n")
    code, out, err = run(capsys, "data", "import", str(path), "--symbol", "X", "--db", db)
    assert code == 2 and out == ""
    assert f"{path}, line 3: size '-2' is not a number of at least 0" in err
    assert "nothing was imported" in err
    with Database(db) as database:
        assert load_trades(database, "X").empty and load_bars(database, "X", "1m").empty


def test_a_bar_file_still_needs_its_timeframe(tmp_path, capsys):
    code, _, err = run(capsys, "data", "import", str(csv_file(tmp_path)), "--symbol", "X",
                       "--tz", "UTC", "--db", str(tmp_path / "c.sqlite3"))
    assert code == 2 and "give --timeframe for a file of bars" in err
