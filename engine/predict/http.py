"""A remote predictor behind an HTTP endpoint, with timeout, retry and a circuit breaker.

It POSTs the recent bars as JSON::

    {"symbol": "005930", "ts_ns": 1767225600000000000,
     "bars": [{"t": ..., "o": ..., "h": ..., "l": ..., "c": ..., "v": ...}, ...]}

and expects ``{"predicted_return": 0.004, "confidence": 0.6}`` back
(``confidence`` optional, default 0.5). Anything else (timeout, HTTP error,
malformed JSON, NaN) counts as a failure and yields ``None``: no signal. After
``failures_to_open`` consecutive failures the circuit opens and requests are
not even attempted for ``reset_seconds``; then one trial request decides
whether it closes again. Nothing here ever blocks the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import aiohttp

from engine.predict.base import AsyncPredictor, FeatureWindow, Prediction

log = logging.getLogger(__name__)


class CircuitBreaker:
    """closed -> (N failures) -> open -> (reset time) -> half-open -> closed | open."""

    def __init__(self, failures_to_open: int = 5, reset_seconds: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.failures_to_open = failures_to_open
        self.reset_seconds = reset_seconds
        self.clock = clock
        self.failures = 0
        self.opened_at: float | None = None

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return "closed"
        if self.clock() - self.opened_at >= self.reset_seconds:
            return "half-open"
        return "open"

    def allow(self) -> bool:
        return self.state != "open"

    def success(self) -> None:
        self.failures = 0
        self.opened_at = None

    def failure(self) -> None:
        self.failures += 1
        if self.state == "half-open" or self.failures >= self.failures_to_open:
            self.opened_at = self.clock()


class HttpPredictor(AsyncPredictor):
    name = "http"

    def __init__(self, endpoint: str, *, timeout_seconds: float = 2.0, retries: int = 2,
                 failures_to_open: int = 5, reset_seconds: float = 60.0,
                 session: aiohttp.ClientSession | None = None) -> None:
        import aiohttp  # here, not at import: it costs the terminal's launch 0.3 s

        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"predictor endpoint must be an http(s) URL, got {endpoint!r}")
        self.endpoint = endpoint
        self.timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self.retries = retries
        self.breaker = CircuitBreaker(failures_to_open, reset_seconds)
        self._session = session
        self.source = f"http:{parts.netloc}"
        self.requests = 0
        self.failures = 0

    async def predict_async(self, window: FeatureWindow) -> Prediction | None:
        if not window.bars or not self.breaker.allow():
            return None
        payload = window.payload()
        for attempt in range(self.retries + 1):
            self.requests += 1
            try:
                answer = await self._post(payload)
                prediction = self._parse(answer, window)
            except (TimeoutError, _client_error(), ValueError, TypeError) as exc:
                self.failures += 1
                log.debug("predictor %s attempt %d failed: %s", self.source, attempt + 1, exc)
                if attempt < self.retries and self.breaker.state == "closed":
                    await asyncio.sleep(min(0.05 * 2**attempt, 0.5))
                    continue
                self.breaker.failure()
                if self.breaker.state == "open":
                    log.warning("predictor %s unavailable (%s); circuit open for %.0f s",
                                self.source, exc, self.breaker.reset_seconds)
                return None
            self.breaker.success()
            return prediction
        return None

    async def _post(self, payload: dict[str, object]) -> object:
        session = self._session
        own = session is None
        if own:
            import aiohttp

            session = aiohttp.ClientSession(timeout=self.timeout)
        assert session is not None
        try:
            async with session.post(self.endpoint, json=payload, timeout=self.timeout) as resp:
                if resp.status != 200:
                    raise ValueError(f"HTTP {resp.status}")
                return await resp.json(content_type=None)
        finally:
            if own:
                await session.close()

    def _parse(self, answer: object, window: FeatureWindow) -> Prediction:
        if not isinstance(answer, dict) or "predicted_return" not in answer:
            raise ValueError("answer has no predicted_return")
        value = float(answer["predicted_return"])
        confidence = float(answer.get("confidence", 0.5))
        if not (math.isfinite(value) and math.isfinite(confidence)):
            raise ValueError("non-finite prediction")
        last = window.bars[-1]
        return Prediction(last.symbol, last.ts_ns, value, min(max(confidence, 0.0), 1.0),
                          self.source)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def _client_error() -> type[Exception]:
    import aiohttp

    return aiohttp.ClientError
