"""The trades CSV of a run with a commission."""

from __future__ import annotations

import csv

from terminal.cli import main


def test_trades_csv_money_columns_are_not_padded_with_dozens_of_zeros(tmp_path, capsys):
    """`backtest --strategy ema_crossover --data IBM --commission 0.001 --trades t.csv`:
    money columns read as money (fees were "19457.39000000000000000000000")."""
    out = tmp_path / "t.csv"
    code = main(["--log-level", "ERROR", "backtest", "--strategy", "ema_crossover", "--data",
                 "IBM", "--from", "2009-01-01", "--to", "2009-12-31", "--param", "fast=5",
                 "slow=20", "--commission", "0.001", "--trades", str(out), "--no-save", "-q"])
    assert code == 0, capsys.readouterr().err
    rows = list(csv.DictReader(out.open()))
    assert rows
    for row in rows:
        for column in ("fees", "net_pnl", "gross_pnl"):
            decimals = row[column].partition(".")[2]
            assert len(decimals) <= 10, (column, row[column])
