"""Predictors: the seeds' "AI model" as an interface, a remote HTTP model and a built-in one."""

from engine.predict.base import AsyncPredictor, FeatureWindow, Prediction, Predictor
from engine.predict.http import CircuitBreaker, HttpPredictor
from engine.predict.ridge import RidgePredictor

__all__ = [
    "AsyncPredictor",
    "CircuitBreaker",
    "FeatureWindow",
    "HttpPredictor",
    "Prediction",
    "Predictor",
    "RidgePredictor",
]
