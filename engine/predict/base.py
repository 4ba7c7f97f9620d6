"""The predictor interface: the seeds' "AI model", without random numbers.

A predictor turns the recent bars of one symbol into a ``Prediction``: the
expected return over its horizon and a confidence in [0, 1]. Two kinds:

* synchronous (``Predictor.predict``) for models that run in-process and fast,
  such as the built-in ridge model, usable inside a backtest;
* asynchronous (``AsyncPredictor.predict_async``) for remote models (HTTP);
  strategies request and get the answer later, so the event loop never waits.

No prediction is better than a made-up one: every predictor returns ``None``
when it cannot answer (not trained yet, endpoint down, circuit open).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import deque
from dataclasses import dataclass

import numpy as np

from engine.models import Bar


@dataclass(frozen=True, slots=True)
class Prediction:
    symbol: str
    ts_ns: int  # time of the bar the prediction was made on
    predicted_return: float  # e.g. 0.004 = +0.4% over the horizon
    confidence: float  # 0..1
    source: str  # "builtin-ridge", "http:<host>", ...


class FeatureWindow:
    """The last ``size`` bars of a symbol as arrays, for feature building."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self.bars: deque[Bar] = deque(maxlen=size)

    def push(self, bar: Bar) -> None:
        self.bars.append(bar)

    def __len__(self) -> int:
        return len(self.bars)

    def closes(self) -> np.ndarray:
        return np.fromiter((b.close for b in self.bars), float, len(self.bars))

    def volumes(self) -> np.ndarray:
        return np.fromiter((b.volume for b in self.bars), float, len(self.bars))

    def payload(self) -> dict[str, object]:
        """JSON-able recent history (what the HTTP predictor posts)."""
        return {
            "symbol": self.bars[-1].symbol if self.bars else "",
            "ts_ns": self.bars[-1].ts_ns if self.bars else 0,
            "bars": [
                {"t": b.ts_ns, "o": b.open, "h": b.high, "l": b.low, "c": b.close, "v": b.volume}
                for b in self.bars
            ],
        }


class Predictor(ABC):
    """A synchronous predictor: fast, in-process, fine inside a backtest."""

    name = "predictor"

    def observe(self, bar: Bar) -> None:  # noqa: B027 - optional hook
        """See every closed bar (a learning model trains on these)."""

    @abstractmethod
    def predict(self, window: FeatureWindow) -> Prediction | None:
        """A prediction from the bars in ``window`` (newest last), or None."""


class AsyncPredictor(ABC):
    """A predictor that must be awaited (remote); never called from inside a handler."""

    name = "async-predictor"

    @abstractmethod
    async def predict_async(self, window: FeatureWindow) -> Prediction | None: ...
