"""The session the terminal and ``paper`` run: bundled data in, journal out, restarts."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import pandas as pd
import pytest

from engine.session import REPLAY_STATE, SessionOptions, TradingSession
from engine.settings import default_settings
from engine.storage import Database
from engine.storage.bars import load_bars
from terminal.cli import main

FAST = {"fast": "5", "slow": "20"}


@pytest.fixture(scope="module")
def market_db(tmp_path_factory):
    """The bundled AAPL minutes, written once by a first session (as on a first launch)."""
    path = tmp_path_factory.mktemp("market") / "market.sqlite3"
    db = Database(path)
    TradingSession(default_settings(), SessionOptions(symbols=("AAPL",)), database=db).close()
    return path


def session(market_db, journal, **options) -> TradingSession:
    opts = SessionOptions(symbols=("AAPL",), speed="max", strategies=("sma_cross",),
                          params=FAST, **options)
    return TradingSession(default_settings(), opts, database=Database(market_db),
                          journal_database=Database(journal))


def test_first_run_stores_the_bundled_minutes_labelled_synthetic(market_db):
    db = Database(market_db)
    bars = load_bars(db, "AAPL", "1m")
    assert len(bars) == 20 * 390  # twenty real NYSE days rebuilt minute by minute
    with db.connect() as conn:
        sources = {r[0] for r in conn.exec_driver_sql("select distinct source from bars")}
    assert sources == {"synthetic"}


def test_a_headless_run_trades_through_risk_oms_and_venue_into_the_journal(market_db, tmp_path):
    s = session(market_db, tmp_path / "j.sqlite3", replay_sessions=2)
    summary = asyncio.run(s.run_to_end())
    assert summary["orders"]["total"] > 0 and summary["fills"] > 0
    journaled = s.journal.load_fills()
    assert len(journaled) == summary["fills"]
    assert {f.broker for f in journaled} == {"paper-usd"}  # USD stock -> the USD account
    ledger = s.engine.ledger.account("paper-usd")
    assert Decimal(summary["accounts"]["paper-usd"]["cash"]) == ledger.cash
    assert summary["replay"]["to"].startswith("2013-03-01T21:00")
    # The chart's history never shows a bar the replay has not closed yet.
    assert s.bars("AAPL").index[-1].value + 60 * 10**9 <= s.clock.now_ns()
    s.close()


def test_a_restart_goes_on_from_the_journal_without_losing_or_doubling_anything(market_db,
                                                                                 tmp_path):
    journal = tmp_path / "j.sqlite3"
    first = session(market_db, journal, replay_sessions=3, until="2013-02-28T18:00")
    one = asyncio.run(first.run_to_end())
    stopped_at = first.clock.now_ns()
    cash = first.engine.ledger.account("paper-usd").cash
    positions = {p.symbol: p.quantity for p in first.engine.ledger.positions()}
    first.close()
    assert one["fills"] > 0

    second = session(market_db, journal, replay_sessions=3)
    assert second.journal.load_state(REPLAY_STATE) == stopped_at
    assert second.clock.now_ns() >= stopped_at  # never back past a journaled fill
    assert second.engine.ledger.account("paper-usd").cash == cash
    assert {p.symbol: p.quantity for p in second.engine.ledger.positions()} == positions
    venue = second.engine.brokers["paper-usd"]
    (balance,) = asyncio.run(venue.fetch_balances())
    assert balance.cash == cash  # the venue's own books were rebuilt from the fills
    two = asyncio.run(second.run_to_end())
    fills = second.journal.load_fills()
    assert len({f.fill_id for f in fills}) == len(fills) == one["fills"] + two["fills"]
    # Each summary counts its own run's orders; the second also says what it restored.
    assert two["restored"]["orders"] == one["orders"]["total"]
    assert two["orders"]["total"] + one["orders"]["total"] == len(second.engine.oms.orders())
    assert second.engine.oms.quarantined == 0
    second.close()


def test_a_restart_keeps_the_bar_it_stopped_in_and_never_replays_past_fills(market_db,
                                                                             tmp_path, caplog):
    journal = tmp_path / "j.sqlite3"
    # Stop in the middle of the 17:59 bar: after a restart that bar is a closed bar of
    # the history (chart and warm-up), and the replay goes on with the 18:00 bar.
    first = session(market_db, journal, replay_sessions=2, until="2013-02-28T17:59:30")
    asyncio.run(first.run_to_end())
    first.close()
    second = session(market_db, journal, replay_sessions=2)
    history = second.bars("AAPL")
    assert history.index[-1] == pd.Timestamp("2013-02-28 17:59", tz="UTC")
    assert second.clock.now_ns() == pd.Timestamp("2013-02-28 18:00", tz="UTC").value
    done = asyncio.run(second.run_to_end())
    second.close()
    assert done["fills"] > 0
    end = second.clock.now_ns()

    # The data is replayed to its end and the journal has fills: a third start stays at
    # the end (and says why) instead of replaying the days again behind those fills.
    third = session(market_db, journal, replay_sessions=2)
    assert third.clock.now_ns() >= end
    again = asyncio.run(third.run_to_end())
    assert again["replay"]["events"] == 0 and again["fills"] == 0
    assert all(f.ts_ns <= end for f in third.journal.load_fills())
    assert "the replay reached the end of its data" in caplog.text
    third.close()


def test_paper_cli_prints_a_json_summary(market_db, capsys):
    code = main(["paper", "--db", str(market_db), "--symbol", "AAPL", "--strategy", "sma_cross",
                 "--param", "fast=5", "--param", "slow=20", "--sessions", "1", "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    # Orders still travelling to the venue (50 ms) when the data ends stay SUBMITTED.
    assert out["symbols"] == ["AAPL"] and out["orders"]["total"] >= out["fills"] > 0
    assert out["orders"].get("FILLED", 0) + out["orders"].get("SUBMITTED", 0) \
        + out["orders"].get("REJECTED", 0) == out["orders"]["total"]
    assert set(out) >= {"rejections", "accounts", "positions", "kill_switch"}


@pytest.mark.parametrize("argv, words", [
    (["--strategy", "no_such"], "no_such"),
    (["--strategy", "sma_cross", "--param", "fast=1"], "fast"),
    (["--symbol", "NOPE"], "NOPE"),
    (["--speed", "fast"], "--speed"),
    (["--until", "yesterday-ish"], "until"),
])
def test_paper_cli_mistakes_exit_2_with_the_reason(market_db, capsys, argv, words):
    assert main(["paper", "--db", str(market_db), *argv]) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err


def test_brokers_enabled_in_the_settings_join_the_session_paper_still_runs(market_db, tmp_path):
    settings = default_settings().with_overrides({"brokers.kiwoom.enabled": True,
                                                  "brokers.kiwoom.fake": True})
    s = TradingSession(settings, SessionOptions(symbols=("AAPL",)), database=Database(market_db),
                       journal_database=Database(tmp_path / "j.sqlite3"))
    kiwoom = s.engine.brokers["kiwoom"]
    assert not kiwoom.live  # live only when the user sets live = true for kiwoom

    class Down(type(s.engine.brokers["paper-usd"])):
        async def connect(self) -> None:
            raise ConnectionError("venue unreachable")

    s.engine.brokers.pop("kiwoom")  # its fake bridge is tested in tests/brokers/kiwoom
    down = Down("down", s.engine.bus, s.clock)
    s.engine.add_broker(down)
    asyncio.run(s.engine.connect_all())
    assert s.engine.brokers["paper-usd"].state.value == "CONNECTED"
    assert s.engine._broker_errors.get("down")  # reported, counted towards the kill switch
    s.close()
