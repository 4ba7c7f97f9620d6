"""The warnings of a run whose strategy failed contradict themselves."""

from __future__ import annotations

from engine.backtest.runner import BacktestConfig, run_backtest
from engine.data import sample
from tests.qa._strategies import HERE


def test_a_strategy_that_raised_once_is_not_said_to_have_been_stopped_after_10_errors():
    """A strategy raising once in on_start gives: "the strategy raised 1 time(s) ..." AND
    "the strategy was stopped after 10 errors ...". Only one of those is true."""
    aapl = sample.load_daily("AAPL").loc["2012"]
    result = run_backtest(BacktestConfig(f"{HERE}:FailsOnStart", ("AAPL",), timeframe="1d"),
                          aapl)
    assert any("raised 1 time" in w for w in result.warnings)
    assert not any("after 10 errors" in w for w in result.warnings), result.warnings


def test_cli_does_not_call_strategy_errors_missing_bars(capsys):
    """The CLI appends "; the run went on without those bars" to every run warning,
    including the strategy's own errors, where no bars are missing."""
    from terminal.cli import main

    code = main(["--log-level", "ERROR", "backtest", "--strategy", f"{HERE}:FailsOnStart",
                 "--data", "AAPL", "--from", "2012-01-01", "--no-save", "-q"])
    _, err = capsys.readouterr()
    assert "raised" in err
    assert "without those bars" not in err, err
