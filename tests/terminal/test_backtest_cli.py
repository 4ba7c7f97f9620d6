"""``trading-terminal strategies|backtest|optimize|walkforward`` on bundled data: exit codes,
JSON content, files written, warnings, and one-line errors without tracebacks."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from engine.backtest.store import list_runs, load_run
from engine.data.sample import synthetic_intraday
from engine.storage import Database
from engine.strategy.registry import strategy_names
from terminal.cli import main

RANGE = ("--data", "AAPL", "--from", "2011-01-01", "--to", "2012-06-30")


def run(capsys, *argv):
    code = main(["--log-level", "WARNING", *argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def test_strategies_lists_every_builtin_with_its_parameters(capsys):
    code, out, _ = run(capsys, "strategies")
    assert code == 0
    for name in strategy_names():
        assert f"\n{name}: " in f"\n{out}"
    assert "\n  fast     int    10     [2, 500]             fast SMA period\n" in out
    assert "\n  (searched with fast < slow)\n" in out
    code, out, _ = run(capsys, "strategies", "--json")
    items = {s["name"]: s for s in json.loads(out)}
    assert sorted(items) == strategy_names()
    fast = next(p for p in items["sma_cross"]["params"] if p["name"] == "fast")
    assert (fast["type"], fast["default"], fast["low"], fast["high"]) == ("int", 10, 2, 500)
    assert items["sma_cross"]["constraints"] == ["fast < slow"]
    mode = next(p for p in items["bollinger_bands"]["params"] if p["name"] == "mode")
    assert mode["choices"] == ["reversion", "breakout"]


def test_backtest_prints_json_saves_the_run_and_writes_report_and_trades(tmp_path, capsys):
    db = tmp_path / "runs.sqlite3"
    report, trades = tmp_path / "r.html", tmp_path / "t.csv"
    code, out, err = run(capsys, "backtest", "--strategy", "sma_cross", *RANGE, "--param",
                         "fast=5", "slow=20", "--commission", "0.0005", "--param", "size=100",
                         "--json", "--db", str(db), "--report", str(report),
                         "--trades", str(trades))
    assert code == 0, err
    doc = json.loads(out)
    assert doc["params"] == {"fast": 5, "slow": 20, "size": 100.0, "reverse": False}
    assert doc["symbol"] == "AAPL" and doc["timeframe"] == "1d" and doc["bars"] == 377
    # Warmed up on the bars before --from, as the terminal warms a live strategy:
    # sma_cross wants 300 (its default) plus a margin of 10.
    assert doc["warmup_bars"] == 310
    metrics = doc["metrics"]
    assert metrics["trades"] > 0 and metrics["fees"] > 0
    assert set(metrics) >= {"sharpe", "total_return_pct", "max_drawdown_pct", "win_rate_pct"}
    with Database(db) as database:
        (summary,) = list_runs(database)
        assert summary.id == doc["run_id"] and summary.status == "complete"
        assert summary.metrics["final_equity"] == metrics["final_equity"]
        assert len(load_run(database, summary.id).trades) == metrics["trades"]
    assert len(pd.read_csv(trades)) == metrics["trades"]
    page = report.read_text()
    assert "<svg" in page and "Sharpe ratio" in page and "sma_cross" in page


def test_backtest_text_output_and_no_save(tmp_path, capsys):
    db = tmp_path / "runs.sqlite3"
    code, out, _ = run(capsys, "backtest", "--strategy", "sma_cross", *RANGE, "--no-save",
                       "--db", str(db))
    assert code == 0
    assert out.startswith("sma_cross on AAPL 1d: fast=10 slow=30")
    assert "Sharpe ratio" in out and "Max drawdown" in out and "saved as run" not in out
    assert not db.exists()


@pytest.mark.parametrize("argv, words", [
    (["--strategy", "sma_cros", *RANGE], "did you mean 'sma_cross'"),
    (["--strategy", "sma_cross", *RANGE, "--param", "fats=3"], "did you mean 'fast'"),
    (["--strategy", "sma_cross", *RANGE, "--param", "fast=1"], "outside its range [2, 500]"),
    (["--strategy", "sma_cross", *RANGE, "--param", "reverse=maybe"], "must be bool"),
    (["--strategy", "sma_cross", "--data", "AAPL", "--from", "2020-01-01", "--to",
      "2020-03-01"], "no 1d bars of AAPL between 2020-01-01 and 2020-03-01"),
    (["--strategy", "sma_cross", "--data", "NOSUCH"], "not a file, not stored"),
    (["--strategy", "sma_cross", *RANGE, "--commission", "1.5"], "--commission"),
    (["--strategy", "sma_cross", *RANGE, "--cash", "-5"], "--cash"),
])
def test_backtest_mistakes_exit_2_with_one_line(tmp_path, capsys, argv, words):
    code, out, err = run(capsys, "backtest", *argv, "--no-save")
    assert code == 2 and out == ""
    lines = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and words in lines[0]


def test_a_gap_inside_a_session_is_a_warning_and_the_run_goes_on(tmp_path, capsys):
    minutes = synthetic_intraday("AAPL", "2013-01-02", "2013-01-03")
    holed = minutes.drop(minutes.index[100:105])  # five minutes missing on 2 January
    path = tmp_path / "aapl_1m.csv"
    holed.reset_index().to_csv(path, index=False)
    code, out, err = run(capsys, "backtest", "--strategy", "sma_cross", "--data", str(path),
                         "--symbol", "AAPL", "--no-save", "--json")
    assert code == 0
    assert json.loads(out)["bars"] == len(holed)
    gap_start, gap_end = minutes.index[99], minutes.index[105]
    assert (f"warning: AAPL: 5 bar(s) missing inside the session between {gap_start} and "
            f"{gap_end}") in err


def test_optimize_ranks_the_grid_and_is_reproducible_with_a_seed(capsys):
    code, out, _ = run(capsys, "optimize", "--strategy", "sma_cross", *RANGE, "--grid",
                       "fast=5:15:5", "slow=10,20", "--metric", "total_return_pct",
                       "--workers", "1", "--json")
    assert code == 0
    doc = json.loads(out)
    assert (doc["planned"], doc["skipped"], doc["done"]) == (4, 2, 4)  # 10/10, 15/10 skipped
    values = [t["total_return_pct"] for t in doc["trials"]]
    assert values == sorted(values, reverse=True)
    assert doc["best"]["value"] == values[0]
    assert doc["best"]["params"]["fast"] == doc["trials"][0]["fast"]

    argv = ("optimize", "--strategy", "sma_cross", *RANGE, "--grid", "fast=2:30", "slow=10:90",
            "--random", "4", "--seed", "3", "--workers", "1", "--json")
    first, again = (json.loads(run(capsys, *argv)[1])["trials"] for _ in range(2))
    assert first == again and len(first) == 4

    code, out, _ = run(capsys, "optimize", "--strategy", "sma_cross", *RANGE, "--grid",
                       "fast=5,10", "slow=20", "--workers", "1", "--metric", "max_drawdown_pct")
    assert code == 0 and out.startswith("grid search of sma_cross: 2 of 2 points")
    assert "best: fast=" in out and "(max_drawdown_pct " in out


@pytest.mark.parametrize("argv, words", [
    (["--grid", "fsat=5:10"], "did you mean 'fast'"),
    (["--grid", "fast=1:10"], "outside its range"),
    (["--grid", "fast=5:10", "--metric", "sharp"], "did you mean 'sharpe'"),
    (["--grid", "fast=5:10", "--constraint", "fast <<< slow"], "constraint"),
    (["--grid", "fast=5:10", "--workers", "0"], "--workers must be at least 1"),
    (["--grid", "fast=30,40", "--param", "slow=20"], "broke a constraint (fast < slow)"),
])
def test_optimize_mistakes_exit_2(capsys, argv, words):
    code, out, err = run(capsys, "optimize", "--strategy", "sma_cross", *RANGE, *argv)
    assert code == 2 and out == "" and words in err


def test_walkforward_json_and_report(tmp_path, capsys):
    report = tmp_path / "wf.html"
    code, out, err = run(capsys, "walkforward", "--strategy", "sma_cross", "--data", "AAPL",
                         "--from", "2009-01-01", "--to", "2012-12-31", "--grid", "fast=5,10",
                         "slow=20,40", "--train", "1Y", "--test", "6M", "--workers", "1",
                         "--json", "--report", str(report))
    assert code == 0, err
    doc = json.loads(out)
    windows = doc["windows"]
    assert len(windows) == 6 and doc["anchored"] is False
    for w in windows:
        assert pd.Timestamp(w["train_end"]) < pd.Timestamp(w["test_start"])
        assert w["fast"] in (5, 10) and w["slow"] in (20, 40)
    assert doc["metrics"]["bars"] == sum(w["test_bars"] for w in windows)
    page = report.read_text()
    assert page.count("<svg") == 3 and "Windows" in page

    code, _, err = run(capsys, "walkforward", "--strategy", "sma_cross", *RANGE, "--grid",
                       "fast=5,10", "--train", "100", "--test", "1M")
    assert code == 2 and "both be bar counts or both be periods" in err


def test_ctrl_c_cancels_a_backtest_and_records_it_as_cancelled(tmp_path):
    n = 100_000  # the runner looks at cancel every 20,000 bars
    rng = np.random.default_rng(1)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.001, n)))
    open_ = np.r_[100.0, close[:-1]]
    frame = pd.DataFrame({"time": pd.date_range("2024-01-01", periods=n, freq="1min", tz="UTC"),
                          "open": open_, "high": np.maximum(open_, close),
                          "low": np.minimum(open_, close), "close": close, "volume": 1.0})
    data, db = tmp_path / "btc.parquet", tmp_path / "runs.sqlite3"
    frame.to_parquet(data, index=False)
    proc = subprocess.Popen(
        [sys.executable, "-m", "terminal", "--log-level", "WARNING", "backtest", "--strategy",
         "sma_cross", "--data", str(data), "--symbol", "BTC/USDT", "--db", str(db)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stderr.readline().startswith("data: 100,000 1m bars of BTC/USDT")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "cancelled: cancelled after" in err and "Traceback" not in err and out == ""
    with Database(db) as database:
        (summary,) = list_runs(database)
    assert summary.status == "cancelled" and summary.metrics is None
    assert summary.error.startswith("cancelled after")


def test_backtest_takes_several_symbols_each_traded_on_its_own(capsys):
    span = ("--from", "2003-01-01", "--to", "2006-12-31", "--param", "size=100")
    code, out, _ = run(capsys, "backtest", "--strategy", "sma_cross", "--data", "AAPL", "MSFT",
                       *span, "--no-save", "--json")
    assert code == 0
    both = json.loads(out)
    assert both["symbol"] == "AAPL,MSFT"
    bars = [json.loads(run(capsys, "backtest", "--strategy", "sma_cross", "--data", s, *span,
                           "--no-save", "--json")[1])["bars"] for s in ("AAPL", "MSFT")]
    assert both["bars"] == sum(bars)


def test_a_search_over_several_symbols_scores_each_point_as_that_backtest(capsys):
    span = ("--from", "2003-01-01", "--to", "2006-12-31")
    code, out, err = run(capsys, "optimize", "--strategy", "sma_cross", "--data", "AAPL", "MSFT",
                         *span, "--param", "size=100", "slow=30", "--grid", "fast=5,10",
                         "--workers", "1", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["symbol"] == "AAPL,MSFT" and doc["done"] == 2 and doc["failed"] == 0
    for trial in doc["trials"]:
        code, out, _ = run(capsys, "backtest", "--strategy", "sma_cross", "--data", "AAPL",
                           "MSFT", *span, "--param", "size=100", "slow=30",
                           f"fast={trial['fast']}", "--no-save", "--json")
        alone = json.loads(out)["metrics"]
        assert trial["trades"] == alone["trades"] > 0
        assert trial["total_return_pct"] == pytest.approx(alone["total_return_pct"], rel=1e-12)


def _carry_files(tmp_path):
    """Three days of minute bars of a perpetual and its spot, and 8-hourly funding rates
    (positive, falling); the --data and --funding arguments that name them."""
    idx = pd.date_range("2024-01-01", periods=3 * 24 * 60, freq="1min", tz="UTC", name="time")
    for name, seed in (("perp", 1), ("spot", 2)):
        px = (40_000 + np.cumsum(np.random.default_rng(seed).normal(0, 3, len(idx)))).round(1)
        pd.DataFrame({"open": px, "high": px + 1, "low": px - 1, "close": px, "volume": 10.0},
                     index=idx).reset_index().to_csv(tmp_path / f"{name}.csv", index=False)
    times = pd.date_range("2024-01-01 08:00", periods=6, freq="8h", tz="UTC")
    # Binance exports funding times in Unix milliseconds.
    pd.DataFrame({"fundingTime": times.as_unit("ms").asi8,
                  "fundingRate": [0.0005, 0.0004, 0.0003, 0.0002, 0.00005, 0.0001]}
                 ).to_csv(tmp_path / "funding.csv", index=False)
    return (("--data", f"BTC/USDT:USDT={tmp_path / 'perp.csv'}",
             f"BTC/USDT={tmp_path / 'spot.csv'}", "--cash", "1000000"),
            ("--funding", f"BTC/USDT:USDT={tmp_path / 'funding.csv'}"))


def test_funding_arbitrage_from_the_command_line(tmp_path, capsys):
    """A perpetual and its spot from files named SYMBOL=FILE, funding rates from a CSV."""
    data, funding = _carry_files(tmp_path)
    args = ("backtest", "--strategy", "funding_arbitrage", *data, "--no-save", "--json")
    code, out, err = run(capsys, *args, *funding)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["metrics"]["trades"] == 2  # the carry's two legs, entered and unwound
    assert float(doc["funding"]) > 0  # short the perpetual while funding was positive
    assert doc["rejections"] == {} and doc["venue_rejections"] == {}
    assert not any("funding" in w for w in doc["warnings"])
    (tmp_path / "bad.csv").write_text("time,rate\n2024-01-01 08:00,0.0001\n2024-01-01 16:00,x\n")
    code, _, err = run(capsys, *args, "--funding", f"BTC/USDT:USDT={tmp_path / 'bad.csv'}")
    assert code == 2 and f"funding file {tmp_path / 'bad.csv'}, line 3: rate 'x'" in err


def test_funding_arbitrage_is_optimised_and_walked_forward_on_both_legs(tmp_path, capsys):
    data, funding = _carry_files(tmp_path)
    code, out, err = run(capsys, "optimize", "--strategy", "funding_arbitrage", *data, *funding,
                         "--grid", "entry_rate=0.0003,0.001", "--workers", "2", "--json")
    assert code == 0, err
    trials = {t["entry_rate"]: t for t in json.loads(out)["trials"]}
    # Entered at 0.0003 (day one pays 0.0005): as the backtest, two legs in and out.
    assert trials[0.0003]["trades"] == 2 and trials[0.0003]["error"] == ""
    assert trials[0.001]["trades"] == 0  # no rate reaches 0.1%
    code, out, _ = run(capsys, "backtest", "--strategy", "funding_arbitrage", *data, *funding,
                       "--param", "entry_rate=0.0003", "--no-save", "--json")
    alone = json.loads(out)["metrics"]
    assert trials[0.0003]["total_return_pct"] == pytest.approx(alone["total_return_pct"],
                                                               rel=1e-12)
    # Day by day: each test window's rate is chosen on the day before it.
    code, out, err = run(capsys, "walkforward", "--strategy", "funding_arbitrage", *data,
                         *funding, "--grid", "entry_rate=0.0002,0.001", "--train", "1440",
                         "--test", "1440", "--metric", "trades", "--workers", "1", "--json")
    assert code == 0, err
    doc = json.loads(out)
    windows = doc["windows"]
    assert [(w["train_bars"], w["test_bars"]) for w in windows] == [(1440, 1440)] * 2
    # Day one and day two both pay 0.0002 or more: the most trades come from entering.
    assert [w["entry_rate"] for w in windows] == [0.0002, 0.0002]
    assert windows[0]["test_trades"] == 2  # day two: in at 0.0003, out after 0.00005
    assert doc["metrics"]["trades"] == sum(w["test_trades"] for w in windows)


def test_quiet_means_warnings_only_unless_a_log_level_is_given():
    argv = [sys.executable, "-m", "terminal.cli", "backtest", "--strategy", "sma_cross",
            "--data", "AAPL", "--from", "2012-01-01", "--no-save", "-q"]
    quiet = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert quiet.returncode == 0 and " INFO " not in quiet.stderr, quiet.stderr
    told = subprocess.run([*argv[:3], "--log-level", "INFO", *argv[3:]], capture_output=True,
                          text=True, timeout=120)
    assert told.returncode == 0 and " INFO " in told.stderr


def test_a_reader_that_stops_early_gets_no_traceback():
    """`trading-terminal strategies | head -1`: the pipe is closed before it writes."""
    proc = subprocess.Popen([sys.executable, "-m", "terminal.cli", "strategies"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    proc.stdout.close()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert b"Traceback" not in err and b"BrokenPipe" not in err, err


def test_a_trade_file_is_replayed_tick_by_tick(tmp_path, capsys):
    """--data SYMBOL=trades.csv (time, price, qty, side): bars are built from the trades
    and the run replays every trade; a search scores each point as that backtest."""
    rng = np.random.default_rng(5)
    n = 30_000
    ms = pd.Timestamp("2024-03-01", tz="UTC").value // 1_000_000 + np.cumsum(
        rng.integers(1, 400, n))
    pd.DataFrame({"timestamp": ms, "price": (60_000 + np.cumsum(rng.normal(0, 3, n))).round(1),
                  "qty": rng.uniform(0.001, 0.3, n).round(3),
                  "side": rng.choice(["buy", "sell"], n)}).to_csv(tmp_path / "t.csv", index=False)
    data = ("--data", f"BTC/USDT={tmp_path / 't.csv'}", "--param", "size=0.1", "slow=20")
    code, out, err = run(capsys, "backtest", "--strategy", "sma_cross", *data, "fast=5",
                         "--no-save", "--json")
    assert code == 0, err
    doc = json.loads(out)
    minutes = (ms[-1] - ms[0]) // 60_000
    assert doc["ticks"] == n and minutes <= doc["bars"] <= minutes + 2
    assert doc["data"].startswith("trades file") and doc["metrics"]["trades"] > 0
    code, out, err = run(capsys, "optimize", "--strategy", "sma_cross", *data, "--grid",
                         "fast=5,10", "--workers", "1", "--json")
    assert code == 0, err
    trial = next(t for t in json.loads(out)["trials"] if t["fast"] == 5)
    assert trial["trades"] == doc["metrics"]["trades"]
    assert trial["total_return_pct"] == pytest.approx(doc["metrics"]["total_return_pct"],
                                                      rel=1e-12)
    (tmp_path / "bad.csv").write_text("time,price,size\n2024-01-01T00:00:00Z,0,1\n")
    code, _, err = run(capsys, "backtest", "--strategy", "sma_cross", "--data",
                       f"BTC/USDT={tmp_path / 'bad.csv'}", "--no-save")
    assert code == 2 and f"{tmp_path / 'bad.csv'}, line 2: price '0' is not a number" in err


def test_stored_trades_are_replayed_as_the_trade_file_they_came_from(tmp_path, capsys):
    """`data import trades.csv` stores the trades and their minutes; a backtest of the
    symbol from the database then replays the stored trades, with the same results as
    the file itself (and so does a search)."""
    rng = np.random.default_rng(8)
    n = 20_000
    ms = pd.Timestamp("2024-03-01", tz="UTC").value // 1_000_000 + np.cumsum(
        rng.integers(0, 400, n))  # 0: several trades in one millisecond, in file order
    pd.DataFrame({"timestamp": ms, "price": (60_000 + np.cumsum(rng.normal(0, 3, n))).round(1),
                  "qty": rng.uniform(0.001, 0.3, n).round(3),
                  "side": rng.choice(["buy", "sell"], n)}).to_csv(tmp_path / "t.csv", index=False)
    db = str(tmp_path / "db.sqlite3")
    code, out, err = run(capsys, "data", "import", str(tmp_path / "t.csv"), "--symbol",
                         "BTC/USDT", "--db", db)
    assert code == 0 and f"imported {n:,} trades of BTC/USDT" in out, err

    argv = ("backtest", "--strategy", "sma_cross", "--json", "--no-save", "--param",
            "size=0.1", "fast=5", "slow=20")
    code, out, err = run(capsys, *argv, "--data", "BTC/USDT", "--db", db)
    assert code == 0, err
    stored = json.loads(out)
    code, out, err = run(capsys, *argv, "--data", f"BTC/USDT={tmp_path / 't.csv'}")
    assert code == 0, err
    from_file = json.loads(out)
    assert stored["ticks"] == from_file["ticks"] == n
    assert stored["data"] == f"database {db} (bars and {n:,} trades)"
    assert stored["bars"] == from_file["bars"] and stored["metrics"]["trades"] > 0
    assert stored["metrics"] == from_file["metrics"]

    code, out, err = run(capsys, "optimize", "--strategy", "sma_cross", "--data", "BTC/USDT",
                         "--db", db, "--param", "size=0.1", "slow=20", "--grid", "fast=5,10",
                         "--workers", "1", "--json")
    assert code == 0, err
    trial = next(t for t in json.loads(out)["trials"] if t["fast"] == 5)
    assert trial["trades"] == stored["metrics"]["trades"]
    assert trial["total_return_pct"] == pytest.approx(stored["metrics"]["total_return_pct"],
                                                      rel=1e-12)
