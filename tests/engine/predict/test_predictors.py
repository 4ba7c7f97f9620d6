"""Predictors: the HTTP one against a real local server, the ridge one on real structure."""

from __future__ import annotations

import asyncio
import math

import numpy as np
import pytest
from aiohttp import web

from engine.models import Bar
from engine.predict import CircuitBreaker, FeatureWindow, HttpPredictor, RidgePredictor
from engine.predict.ridge import features


def bars(closes, symbol="A"):
    return [Bar(symbol, "1m", i * 60 * 10**9, c, c, c, c, 100.0 + i % 7) for i, c in enumerate(closes)]


def window_of(closes):
    w = FeatureWindow(64)
    for b in bars(closes):
        w.push(b)
    return w


class FakeModelServer:
    """A local model endpoint whose behaviour each test scripts."""

    def __init__(self):
        self.mode = "ok"
        self.calls = 0
        self.last_payload = None

    async def handle(self, request):
        self.calls += 1
        self.last_payload = await request.json()
        if self.mode == "ok":
            return web.json_response({"predicted_return": 0.007, "confidence": 0.8})
        if self.mode == "slow":
            await asyncio.sleep(1.0)
            return web.json_response({"predicted_return": 0.007})
        if self.mode == "error":
            return web.Response(status=500, text="boom")
        if self.mode == "garbage":
            return web.Response(text="not json")
        return web.json_response({"predicted_return": "nan"})


async def serve(model):
    app = web.Application()
    app.router.add_post("/predict", model.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    return runner, f"http://127.0.0.1:{port}/predict"


def test_http_predictor_success_timeout_retry_and_circuit_breaker():
    async def scenario():
        model = FakeModelServer()
        runner, url = await serve(model)
        try:
            predictor = HttpPredictor(url, timeout_seconds=0.2, retries=2, failures_to_open=2,
                                      reset_seconds=0.3)
            w = window_of([100 + i * 0.1 for i in range(30)])
            p = await predictor.predict_async(w)
            assert p.predicted_return == 0.007 and p.confidence == 0.8 and p.ts_ns == w.bars[-1].ts_ns
            assert len(model.last_payload["bars"]) == 30
            for mode in ("slow", "error", "garbage", "nan"):
                model.mode = mode
                predictor.breaker.success()
                model.calls = 0
                loop = asyncio.get_running_loop()
                started = loop.time()
                assert await predictor.predict_async(w) is None
                assert model.calls == 3  # one try plus two retries
                assert loop.time() - started < 2.0  # bounded by the timeout, never hangs
            model.mode = "error"
            predictor.breaker.success()
            await predictor.predict_async(w)
            await predictor.predict_async(w)
            assert predictor.breaker.state == "open"
            model.calls = 0
            assert await predictor.predict_async(w) is None and model.calls == 0  # not attempted
            await asyncio.sleep(0.35)
            model.mode = "ok"
            assert (await predictor.predict_async(w)).predicted_return == 0.007  # half-open trial
            assert predictor.breaker.state == "closed"
        finally:
            await runner.cleanup()

    asyncio.run(scenario())


def test_http_predictor_never_blocks_the_loop():
    async def scenario():
        model = FakeModelServer()
        model.mode = "slow"
        runner, url = await serve(model)
        try:
            predictor = HttpPredictor(url, timeout_seconds=0.5, retries=0)
            ticks = 0

            async def heartbeat():
                nonlocal ticks
                while True:
                    ticks += 1
                    await asyncio.sleep(0.01)

            beat = asyncio.create_task(heartbeat())
            assert await predictor.predict_async(window_of([1.0] * 5)) is None
            beat.cancel()
            assert ticks >= 30  # the loop kept running while the request waited
        finally:
            await runner.cleanup()

    asyncio.run(scenario())


def test_bad_endpoint_is_refused():
    with pytest.raises(ValueError, match="http"):
        HttpPredictor("ftp://x")


def test_circuit_breaker_states():
    now = [0.0]
    cb = CircuitBreaker(2, 10, clock=lambda: now[0])
    cb.failure()
    assert cb.state == "closed"
    cb.failure()
    assert cb.state == "open" and not cb.allow()
    now[0] = 10.0
    assert cb.state == "half-open" and cb.allow()
    cb.failure()
    assert cb.state == "open"


def test_features_use_only_the_past():
    rng = np.random.default_rng(0)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 200)))
    volume = rng.uniform(100, 200, 200)
    full = features(close, volume)
    cut = features(close[:150], volume[:150])
    np.testing.assert_allclose(full[:150], cut, equal_nan=True)  # nothing from the future
    assert np.isnan(full[:20, 6]).all() and np.isfinite(full[21:]).all()


def test_ridge_learns_real_structure_and_reports_an_honest_hit_rate():
    # A series with momentum: the next return follows the last one (AR(1), phi=0.5).
    rng = np.random.default_rng(42)
    r = np.zeros(6000)
    for t in range(1, len(r)):
        r[t] = 0.5 * r[t - 1] + rng.normal(0, 0.001)
    close = 100 * np.exp(np.cumsum(r))
    model = RidgePredictor(horizon=1, train_window=2000, retrain_every=250, min_train=500)
    window = FeatureWindow(64)
    for bar in bars(close):
        model.observe(bar)
        window.push(bar)
        model.predict(window)
    assert model.fits >= 10
    assert model.scored > 4000
    assert model.hit_rate > 0.62  # a real edge, measured out of sample
    p = model.predict(window)
    assert p is not None and 0 < p.confidence <= 1 and math.isfinite(p.predicted_return)


def test_ridge_on_noise_has_no_edge_and_no_confidence():
    rng = np.random.default_rng(7)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.001, 4000)))
    model = RidgePredictor(horizon=1, train_window=2000, retrain_every=250, min_train=500)
    window = FeatureWindow(64)
    for bar in bars(close):
        model.observe(bar)
        window.push(bar)
        model.predict(window)
    assert 0.45 < model.hit_rate < 0.55
    assert model.predict(window).confidence < 0.15


def test_untrained_model_gives_no_prediction():
    assert RidgePredictor().predict(window_of([100.0] * 40)) is None
