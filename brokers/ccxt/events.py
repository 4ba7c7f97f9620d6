"""Records this adapter publishes that the engine has no type for yet."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class FundingPayment:
    """Funding paid (negative) or received (positive) on a perpetual position.

    ``payment_id`` is Binance's ``tranId``: each payment is published once.
    The engine books funding as a cash transfer (``TradingEngine.transfer``);
    until it subscribes to this record, the GUI and logs are its consumers.
    """

    broker: str
    symbol: str
    amount: Decimal
    asset: str
    ts_ns: int
    payment_id: str
