"""The funding record this adapter publishes (defined by the engine, which books it)."""

from __future__ import annotations

from engine.models import FundingPayment

__all__ = ["FundingPayment"]
