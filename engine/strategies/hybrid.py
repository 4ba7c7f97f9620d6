"""Seed 004's hybrid intraday strategy, exactly as specified, with real data.

On every closed bar (after at least max(ema_long, rsi, bb) bars):

* EMA cross:    prev short < prev long and short > long (up); the reverse (down)
* RSI:          rsi < rsi_oversold (buy side); rsi > rsi_overbought (sell side)
* Bollinger:    prev close <= prev upper and close > upper (up);
                prev close >= prev lower and close < lower (down)
* VWAP:         prev close <= prev vwap and close > vwap (up); the reverse (down)
* predictor:    predicted return > ai_buy_threshold (buy); < ai_sell_threshold (sell)

``buy_score`` / ``sell_score`` add the weights of the true rules (1.0, 0.5,
0.7, 0.5, 1.0 by default). Then, in the seed's order:

1. BUY if buy_score >= buy_threshold, no position, and the position can be
   opened; quantity = int(equity * max_position_pct/100 // price) (the seed's
   ``capital * max_position_pct`` with the percentage as a percentage);
2. SELL if holding and sell_score >= sell_threshold;
3. SELL_SL if holding and price <= entry * (1 - stop_loss_pct/100);
4. SELL_TP if holding and price >= entry * (1 + take_profit_pct/100);
5. otherwise HOLD.

Seed 004's ``check_daily_targets``: when the day's return reaches
``target_daily_return_pct`` or its loss reaches ``daily_max_loss_pct``, the
strategy stops entering for the rest of the session and closes what it holds
(the seed's final cleanup). It also closes ``flatten_minutes`` before the
session ends. Every decision other than HOLD is published as a ``Signal``
with each rule's contribution, so the chart can show why it traded.

The predictor is never random: ``none`` (the AI rule never fires), the
built-in walk-forward ridge model, or a remote HTTP model whose answer is
awaited off the event loop (the decision for that bar is taken when it
arrives, without the AI rule if it fails).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.indicators import EMA, RSI, VWAP, Bollinger
from engine.models import Bar, Timeframe
from engine.predict import FeatureWindow, HttpPredictor, Prediction, Predictor, RidgePredictor
from engine.strategies.sessions import SessionClock
from engine.strategy import Param, Strategy, register_strategy

NS = 1_000_000_000


@dataclass(frozen=True, slots=True)
class _Snapshot:
    """One bar's indicator values (and the previous bar's), for one decision."""

    bar: Bar
    ema_short: float
    ema_long: float
    rsi: float
    bb_upper: float
    bb_lower: float
    vwap: float
    prev_close: float
    prev_ema_short: float
    prev_ema_long: float
    prev_bb_upper: float
    prev_bb_lower: float
    prev_vwap: float


@register_strategy
class HybridStrategy(Strategy):
    """Seed 004: weighted EMA/RSI/Bollinger/VWAP/predictor votes with SL/TP and daily targets."""

    name = "hybrid"
    ema_short_period = Param(int, 12, low=2, high=200, help="short EMA period")
    ema_long_period = Param(int, 26, low=3, high=500, help="long EMA period")
    rsi_period = Param(int, 14, low=2, high=200)
    rsi_oversold = Param(float, 30.0, low=0.0, high=100.0)
    rsi_overbought = Param(float, 70.0, low=0.0, high=100.0)
    bb_period = Param(int, 20, low=2, high=500)
    bb_std = Param(float, 2.0, low=0.1, high=10.0)
    weight_ema = Param(float, 1.0, low=0.0, high=10.0)
    weight_rsi = Param(float, 0.5, low=0.0, high=10.0)
    weight_bb = Param(float, 0.7, low=0.0, high=10.0)
    weight_vwap = Param(float, 0.5, low=0.0, high=10.0)
    weight_ai = Param(float, 1.0, low=0.0, high=10.0)
    buy_threshold = Param(float, 1.5, low=0.0, high=50.0)
    sell_threshold = Param(float, 1.5, low=0.0, high=50.0)
    ai_buy_threshold = Param(float, 0.005, low=-1.0, high=1.0)
    ai_sell_threshold = Param(float, -0.005, low=-1.0, high=1.0)
    max_position_pct = Param(float, 10.0, low=0.0, high=100.0, help="% of equity per entry")
    stop_loss_pct = Param(float, 1.0, low=0.0, high=100.0)
    take_profit_pct = Param(float, 2.0, low=0.0, high=1000.0)
    target_daily_return_pct = Param(float, 3.0, low=0.0, high=1000.0)
    daily_max_loss_pct = Param(float, 2.0, low=0.0, high=100.0)
    flatten_minutes = Param(float, 5.0, low=0.0, high=600.0, help="close this long before the session ends")
    vwap_price = Param(str, "close", choices=("close", "typical", "vwap"))
    predictor = Param(str, "none", choices=("none", "builtin", "http"))
    ai_endpoint = Param(str, "", help="URL of the HTTP predictor")
    ai_timeout_seconds = Param(float, 2.0, low=0.1, high=60.0)

    # ---- lifecycle ------------------------------------------------------------------
    def on_start(self) -> None:
        inst = self.engine.instruments.find(self.symbol)
        self.sessions = SessionClock(inst.calendar if inst is not None else "24/7")
        self.bar_ns = Timeframe.parse(self.timeframe).ns
        # Flatten early enough that one more bar opens before the close to fill it.
        self.flatten_ns = max(int(self.flatten_minutes * 60 * NS), self.bar_ns)
        self.ema_short = EMA(self.ema_short_period)
        self.ema_long = EMA(self.ema_long_period)
        self.rsi_ind = RSI(self.rsi_period)
        self.bands = Bollinger(self.bb_period, self.bb_std)
        self.vwap_ind = VWAP(self.vwap_price, session_fn=self.sessions.day)
        self.window = FeatureWindow(64)
        self.model: Predictor | None = None
        self.remote: HttpPredictor | None = None
        if self.predictor == "builtin":
            self.model = RidgePredictor()
        elif self.predictor == "http":
            self.remote = HttpPredictor(self.ai_endpoint, timeout_seconds=self.ai_timeout_seconds)
        self.bars_seen = 0
        self.prev: _Snapshot | None = None
        self.day: object = None
        self.day_start_equity = 0.0
        self.stopped_for_day = False
        self.last_decision: dict[str, Any] = {}

    @property
    def warmup_bars(self) -> int:
        return max(self.ema_long_period, self.rsi_period, self.bb_period)

    # ---- per bar ----------------------------------------------------------------------
    def on_bar(self, bar: Bar) -> None:
        self._roll_day(bar)
        snapshot = self._update_indicators(bar)
        self.window.push(bar)
        if self.model is not None:
            self.model.observe(bar)
        self.bars_seen += 1
        if snapshot is None or self.bars_seen < self.warmup_bars:
            return
        if self._session_rules(bar):
            return
        if self.remote is not None and not getattr(self, "_warming_up", False):
            self._ask_remote(snapshot)
            return
        prediction = self.model.predict(self.window) if self.model is not None else None
        self.decide(snapshot, prediction)

    def _update_indicators(self, bar: Bar) -> _Snapshot | None:
        prev = self.prev
        es, el = self.ema_short.update(bar.close), self.ema_long.update(bar.close)
        r = self.rsi_ind.update(bar.close)
        bands = self.bands.update(bar.close)
        vw = self.vwap_ind.update_bar(bar)
        snap = _Snapshot(
            bar, es, el, r, bands.upper, bands.lower, vw,
            prev.bar.close if prev else float("nan"),
            prev.ema_short if prev else float("nan"), prev.ema_long if prev else float("nan"),
            prev.bb_upper if prev else float("nan"), prev.bb_lower if prev else float("nan"),
            prev.vwap if prev else float("nan"),
        )
        self.prev = snap
        return snap if prev is not None else None

    def _roll_day(self, bar: Bar) -> None:
        day = self.sessions.day(bar.ts_ns)
        if day != self.day:
            self.day = day
            self.stopped_for_day = False
            self.day_start_equity = float(self.equity) if self.engine.ledger.has_account(self.broker) else 0.0

    def _session_rules(self, bar: Bar) -> bool:
        """Seed 004's check_daily_targets and final cleanup; True when no entry is allowed."""
        if getattr(self, "_warming_up", False):
            return False
        equity = float(self.equity)
        if not self.stopped_for_day and self.day_start_equity > 0:
            change = (equity - self.day_start_equity) / self.day_start_equity * 100
            if change >= self.target_daily_return_pct or -change >= self.daily_max_loss_pct:
                self.stopped_for_day = True
                reason = "DAILY_TARGET" if change > 0 else "DAILY_LOSS"
                self._flatten(bar, reason, {"daily_return_pct": change})
        close_ns = self.sessions.close_ns(bar.ts_ns)
        bar_end = bar.ts_ns + self.bar_ns
        if close_ns is not None and bar_end >= close_ns - self.flatten_ns:
            if self.position() != 0:
                self._flatten(bar, "SESSION_END", {"minutes_to_close": (close_ns - bar_end) / 60 / NS})
            return True
        return self.stopped_for_day

    def _flatten(self, bar: Bar, action: str, components: dict[str, float]) -> None:
        if self.position() == 0:
            return
        self.cancel_all()
        self.close(tag=action.lower())
        self.signal(action, bar.close, components)

    # ---- the decision ------------------------------------------------------------------
    def _ask_remote(self, snapshot: _Snapshot) -> None:
        assert self.remote is not None
        remote, window = self.remote, FeatureWindow(self.window.size)
        window.bars.extend(self.window.bars)

        async def ask() -> None:
            prediction = await remote.predict_async(window)
            if self.prev is not None and self.prev.bar is snapshot.bar:  # still the latest bar
                self.decide(snapshot, prediction)

        self.engine.runner.spawn(ask(), f"{self.strategy_id}: predictor",
                                 on_error=lambda exc: self.log.warning("predictor failed: %s", exc))

    def scores(self, s: _Snapshot, prediction: Prediction | None) -> dict[str, float]:
        """Each rule's contribution to the buy and sell scores, exactly as seed 004 adds them."""
        c = s.bar.close
        predicted = prediction.predicted_return if prediction is not None else 0.0
        return {
            "ema_cross_up": self.weight_ema * (s.prev_ema_short < s.prev_ema_long and s.ema_short > s.ema_long),
            "rsi_oversold": self.weight_rsi * (s.rsi < self.rsi_oversold),
            "bb_break_up": self.weight_bb * (s.prev_close <= s.prev_bb_upper and c > s.bb_upper),
            "vwap_break_up": self.weight_vwap * (s.prev_close <= s.prev_vwap and c > s.vwap),
            "ai_buy": self.weight_ai * (prediction is not None and predicted > self.ai_buy_threshold),
            "ema_cross_down": self.weight_ema * (s.prev_ema_short > s.prev_ema_long and s.ema_short < s.ema_long),
            "rsi_overbought": self.weight_rsi * (s.rsi > self.rsi_overbought),
            "bb_break_down": self.weight_bb * (s.prev_close >= s.prev_bb_lower and c < s.bb_lower),
            "vwap_break_down": self.weight_vwap * (s.prev_close >= s.prev_vwap and c < s.vwap),
            "ai_sell": self.weight_ai * (prediction is not None and predicted < self.ai_sell_threshold),
        }

    def decide(self, s: _Snapshot, prediction: Prediction | None) -> str:
        parts = self.scores(s, prediction)
        buy_score = sum(v for k, v in parts.items() if k in _BUY_KEYS)
        sell_score = sum(v for k, v in parts.items() if k in _SELL_KEYS)
        price = s.bar.close
        held = self.position()
        action = "HOLD"
        if self.open_orders():
            action = "HOLD"  # an order is already working: wait for it
        elif buy_score >= self.buy_threshold and held == 0 and self._can_open(price):
            qty = self.size_by_fraction(price, self.max_position_pct / 100)
            if qty > 0:  # the seed's "quantity >= 1", in lots of the instrument
                self.buy(qty, tag="hybrid")
                action = "BUY"
        elif held > 0 and sell_score >= self.sell_threshold:
            action = "SELL"
        elif held > 0:
            entry = float(self.engine.ledger.position(self.broker, self.symbol).avg_price)
            if price <= entry * (1 - self.stop_loss_pct / 100):
                action = "SELL_SL"
            elif price >= entry * (1 + self.take_profit_pct / 100):
                action = "SELL_TP"
        if action.startswith("SELL"):
            self.close(tag=action.lower())
        self.last_decision = {"action": action, "buy_score": buy_score, "sell_score": sell_score,
                              "predicted_return": None if prediction is None else
                              prediction.predicted_return}
        if action != "HOLD":
            components = {k: float(v) for k, v in parts.items() if v}
            scores = {"buy_score": buy_score, "sell_score": sell_score}
            if prediction is not None:
                scores["predicted_return"] = prediction.predicted_return
            # mypy cannot tell these keys from ``symbol``; they are score names.
            self.signal(action, price, components, **scores)  # type: ignore[arg-type]
        return action

    def _can_open(self, price: float) -> bool:
        """Seed 004's can_open_position: one unit fits the position cap and the cash."""
        equity = float(self.equity)
        return price <= equity * self.max_position_pct / 100 and price <= float(self.cash)


_BUY_KEYS = frozenset({"ema_cross_up", "rsi_oversold", "bb_break_up", "vwap_break_up", "ai_buy"})
_SELL_KEYS = frozenset({"ema_cross_down", "rsi_overbought", "bb_break_down", "vwap_break_down",
                        "ai_sell"})
