"""Portfolio accounting: the exact ledger of cash, positions, PnL and fees."""

from engine.portfolio.ledger import Ledger

__all__ = ["Ledger"]
