"""Parameter and input checks shared by the batch and streaming indicators.

A bad period is the strategy author's mistake, so it raises ``ConfigError``
naming the indicator, the parameter and the allowed range. Input that cannot be
read as numbers raises ``DataValidationError`` naming the input.
"""

from __future__ import annotations

import math
import operator

import numpy as np
import pandas as pd

from engine.errors import ConfigError, DataValidationError

NS_PER_DAY = 86_400 * 1_000_000_000
PRICE_SOURCES = ("typical", "close", "vwap")


def check_period(indicator: str, name: str, value: object) -> int:
    """``value`` as an int >= 1, or ConfigError naming ``indicator`` and ``name``."""
    try:
        if isinstance(value, bool):  # True is an int to Python, never a period to a user
            raise TypeError
        period = operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise ConfigError(
            f"{indicator}: {name} must be a whole number >= 1, got {value!r}"
        ) from None
    if period < 1:
        raise ConfigError(f"{indicator}: {name} must be a whole number >= 1, got {period}")
    return period


def check_k(indicator: str, value: object) -> float:
    """A band width in standard deviations: a finite number >= 0."""
    try:
        if isinstance(value, bool):
            raise TypeError
        k = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ConfigError(f"{indicator}: k must be a number >= 0, got {value!r}") from None
    if not math.isfinite(k) or k < 0:
        raise ConfigError(f"{indicator}: k must be a finite number >= 0, got {value!r}")
    return k


def check_price_source(indicator: str, price: object) -> str:
    if price not in PRICE_SOURCES:
        raise ConfigError(
            f"{indicator}: price must be one of {', '.join(PRICE_SOURCES)}, got {price!r}"
        )
    return str(price)


def as_floats(indicator: str, name: str, values: object) -> np.ndarray:
    """A 1-D float64 array of ``values`` (never a copy when it already is one)."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataValidationError(f"{indicator}: {name} must hold numbers ({exc})") from None
    if arr.ndim != 1:
        raise DataValidationError(
            f"{indicator}: {name} must be one-dimensional, got shape {arr.shape}"
        )
    return arr


def index_of(values: object, n: int) -> pd.Index:
    """The index results are aligned to: the Series' own, else 0..n-1."""
    if isinstance(values, pd.Series):
        return values.index
    return pd.RangeIndex(n)


def check_aligned(indicator: str, reference: object, **others: object) -> None:
    """Every Series in ``others`` has the same length and index as ``reference``."""
    n = len(reference)  # type: ignore[arg-type]
    ref_index = reference.index if isinstance(reference, pd.Series) else None
    for name, other in others.items():
        if len(other) != n:  # type: ignore[arg-type]
            raise DataValidationError(
                f"{indicator}: {name} has {len(other)} rows but close has {n}"  # type: ignore[arg-type]
            )
        if ref_index is not None and isinstance(other, pd.Series):
            if other.index is not ref_index and not other.index.equals(ref_index):
                raise DataValidationError(
                    f"{indicator}: {name} and close have different indexes; align them first"
                )


def column(indicator: str, df: pd.DataFrame, name: str) -> np.ndarray:
    if name not in df.columns:
        raise DataValidationError(
            f"{indicator}: the frame has no {name!r} column (columns: {', '.join(map(str, df.columns))})"
        )
    return as_floats(indicator, f"column {name!r}", df[name])
