"""Seed 004's hybrid strategy: its exact scoring, order of decisions, and daily rules."""

from __future__ import annotations

import pytest

from engine.models import Bar
from engine.predict import Prediction
from engine.strategies import HybridStrategy
from engine.strategies.hybrid import _Snapshot
from tests.engine.strategy.harness import MIN, T0, feed, make_run

DECLINE_THEN_JUMP = [100 - 0.05 * i for i in range(40)] + [103.0]


def snapshot(close=100.0, **over):
    values = dict(ema_short=1.0, ema_long=1.0, rsi=50.0, bb_upper=200.0, bb_lower=0.0, vwap=1000.0,
                  prev_close=100.0, prev_ema_short=1.0, prev_ema_long=1.0, prev_bb_upper=200.0,
                  prev_bb_lower=0.0, prev_vwap=1000.0)
    values.update(over)
    return _Snapshot(Bar("AAPL", "1m", T0, close, close, close, close, 1.0), **values)


def test_scores_use_seed_weights_and_rules():
    run = make_run(HybridStrategy, "AAPL")
    s = run.strategy
    up = snapshot(101.0, prev_ema_short=0.9, prev_ema_long=1.0, ema_short=1.1, ema_long=1.0,
                  rsi=25.0, prev_bb_upper=100.5, bb_upper=100.8, prev_vwap=100.5, vwap=100.6)
    ai = Prediction("AAPL", T0, 0.006, 0.5, "test")
    parts = s.scores(up, ai)
    assert {k: v for k, v in parts.items() if v} == {
        "ema_cross_up": 1.0, "rsi_oversold": 0.5, "bb_break_up": 0.7, "vwap_break_up": 0.5,
        "ai_buy": 1.0}
    assert s.scores(up, Prediction("AAPL", T0, 0.005, 0.5, "t"))["ai_buy"] == 0  # strictly above
    assert s.scores(up, None)["ai_buy"] == 0  # no predictor, no vote
    down = snapshot(99.0, prev_ema_short=1.1, prev_ema_long=1.0, ema_short=0.9, ema_long=1.0,
                    rsi=75.0, prev_bb_lower=99.5, bb_lower=99.2, prev_vwap=99.5, vwap=99.4)
    parts = s.scores(down, Prediction("AAPL", T0, -0.006, 0.5, "t"))
    assert sum(parts[k] for k in ("ema_cross_down", "rsi_overbought", "bb_break_down",
                                  "vwap_break_down", "ai_sell")) == pytest.approx(3.7)


def test_threshold_is_inclusive_and_one_rule_alone_is_not_enough():
    run = make_run(HybridStrategy, "AAPL")
    feed(run, [100.0])  # a market price for the order's risk check
    only_ema = snapshot(100.0, prev_ema_short=0.9, ema_short=1.1)
    assert run.strategy.decide(only_ema, None) == "HOLD"  # 1.0 < 1.5
    ema_and_rsi = snapshot(100.0, prev_ema_short=0.9, ema_short=1.1, rsi=20.0)
    assert run.strategy.decide(ema_and_rsi, None) == "BUY"  # 1.0 + 0.5 = 1.5 >= 1.5
    order = run.orders()[0]
    assert order.quantity == 1000  # int(1,000,000 * 10% // 100)


def test_no_signal_before_the_warmup_then_buy_then_stop_loss():
    run = make_run(HybridStrategy, "AAPL")
    feed(run, DECLINE_THEN_JUMP[:-1])
    assert run.signals == [] and run.orders() == []
    feed(run, DECLINE_THEN_JUMP[-1:], start=T0 + 40 * MIN)
    buy = run.signals[-1]
    assert buy.action == "BUY"
    assert {"ema_cross_up", "vwap_break_up"} <= set(buy.components)
    assert buy.scores["buy_score"] >= 1.5
    entry = float(run.engine.ledger.position("paper", "AAPL").avg_price)
    feed(run, [entry * 0.995], start=T0 + 41 * MIN)
    assert run.signals[-1].action == "BUY"  # -0.5%: inside the 1% stop
    feed(run, [entry * 0.989], start=T0 + 42 * MIN)
    assert run.signals[-1].action == "SELL_SL"
    assert run.engine.ledger.position("paper", "AAPL").quantity == 0


def test_take_profit_and_daily_target_stop_new_entries():
    run = make_run(HybridStrategy, "AAPL", {"max_position_pct": 100, "target_daily_return_pct": 3,
                                            "take_profit_pct": 50})
    feed(run, DECLINE_THEN_JUMP)
    assert run.signals[-1].action == "BUY"
    feed(run, [106.5], start=T0 + 41 * MIN)  # +3.4% on the whole account
    assert run.signals[-1].action == "DAILY_TARGET"
    assert run.engine.ledger.position("paper", "AAPL").quantity == 0
    n = len(run.orders())
    feed(run, [100 - 0.05 * i for i in range(30)] + [108.0], start=T0 + 42 * MIN)
    assert len(run.orders()) == n  # stopped for the rest of the day


def test_flat_before_the_session_ends():
    run = make_run(HybridStrategy, "AAPL", {"flatten_minutes": 5})
    close_ns = T0 + 390 * MIN  # 21:00 UTC, the NYSE close that day
    start = close_ns - 60 * MIN
    feed(run, DECLINE_THEN_JUMP, start=start - 41 * MIN + MIN)
    assert run.signals[-1].action == "BUY"
    feed(run, [103.0] * 60, start=start + MIN)
    assert run.signals[-1].action == "SESSION_END"
    flatten = run.orders()[-1]
    assert flatten.created_ns <= close_ns - 4 * MIN
    assert run.engine.ledger.position("paper", "AAPL").quantity == 0


def test_builtin_predictor_votes_only_once_trained():
    run = make_run(HybridStrategy, "AAPL", {"predictor": "builtin"})
    feed(run, [100 + (i % 7) * 0.1 for i in range(300)])
    assert not run.strategy.model.trained
    assert run.strategy.last_decision["predicted_return"] is None
