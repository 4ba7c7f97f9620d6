"""The warnings of a run whose strategy failed say what happened."""

from __future__ import annotations

from engine.backtest.runner import BacktestConfig, run_backtest
from engine.data import sample
from tests.engine.backtest.as_used.strategies import HERE


def test_a_strategy_that_raised_once_is_not_said_to_have_been_stopped_after_10_errors():
    """A strategy raising once in on_start: "raised 1 time(s)", and stopped because on_start
    failed (it also said "stopped after 10 errors")."""
    aapl = sample.load_daily("AAPL").loc["2012"]
    result = run_backtest(BacktestConfig(f"{HERE}:FailsOnStart", ("AAPL",), timeframe="1d"),
                          aapl)
    assert any("raised 1 time" in w for w in result.warnings)
    assert not any("after 10 errors" in w for w in result.warnings), result.warnings


def test_cli_does_not_call_strategy_errors_missing_bars(capsys):
    """Only gap warnings say the run went on without the bars (the CLI added it to all)."""
    from terminal.cli import main

    main(["--log-level", "ERROR", "backtest", "--strategy", f"{HERE}:FailsOnStart",
                 "--data", "AAPL", "--from", "2012-01-01", "--no-save", "-q"])
    _, err = capsys.readouterr()
    assert "raised" in err
    assert "without those bars" not in err, err
