"""``trading-terminal runs``: the stored backtests, listed, shown and deleted."""

from __future__ import annotations

import csv
import json

from terminal.cli import main


def run(capsys, *argv):
    code = main(["--log-level", "WARNING", *argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def test_runs_lists_shows_and_deletes_what_backtest_saved(tmp_path, capsys):
    db = str(tmp_path / "runs.sqlite3")
    for strategy, data in (("sma_cross", "AAPL"), ("ema_crossover", "IBM")):
        code, out, _ = run(capsys, "backtest", "--strategy", strategy, "--data", data,
                           "--from", "2011-01-01", "--db", db, "--json", "-q")
        assert code == 0
    saved = json.loads(out)
    code, out, _ = run(capsys, "runs", "--db", db)
    lines = out.splitlines()
    assert code == 0 and len(lines) == 2
    assert "ema_crossover on IBM 1d" in lines[0] and "sma_cross on AAPL 1d" in lines[1]
    assert "Trades: " in lines[0]
    code, out, _ = run(capsys, "runs", "--db", db, "--strategy", "sma_cross", "--json")
    assert [r["strategy"] for r in json.loads(out)] == ["sma_cross"]
    trades = tmp_path / "t.csv"
    code, out, _ = run(capsys, "runs", "show", str(saved["run_id"]), "--db", db, "--json",
                       "--trades", str(trades))
    shown = json.loads(out)
    assert code == 0 and shown["id"] == saved["run_id"]
    assert shown["metrics"]["trades"] == saved["metrics"]["trades"] == shown["trades"]
    assert len(list(csv.DictReader(trades.open()))) == shown["trades"]
    code, out, _ = run(capsys, "runs", "delete", str(saved["run_id"]), "--db", db)
    assert code == 0 and f"deleted run {saved['run_id']}" in out
    code, _, err = run(capsys, "runs", "show", str(saved["run_id"]), "--db", db)
    assert code == 2 and f"no backtest run {saved['run_id']} in" in err
    code, _, err = run(capsys, "runs", "--db", db, "--limit", "0")
    assert code == 2 and "--limit must be at least 1" in err
