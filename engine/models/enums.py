"""Enumerations shared by the domain records."""

from __future__ import annotations

from enum import StrEnum


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"

    # +1 for a buy, -1 for a sell: signed quantity = sign * quantity. Set on each member
    # below: a property re-looked up Side.BUY on every call (0.2 us, several per order).
    sign: int

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


Side.BUY.sign = 1
Side.SELL.sign = -1


class OrderType(StrEnum):
    MARKET = "MARKET"
    LIMIT = "LIMIT"
    STOP = "STOP"  # stop-market: becomes a market order once the stop price trades
    STOP_LIMIT = "STOP_LIMIT"


class TimeInForce(StrEnum):
    GTC = "GTC"  # good till cancelled
    DAY = "DAY"  # expires at the end of the instrument's trading session
    IOC = "IOC"  # immediate or cancel: fill what you can now, cancel the rest
    FOK = "FOK"  # fill or kill: fill everything now or nothing


class OrderStatus(StrEnum):
    NEW = "NEW"  # created and journaled by the OMS, not yet sent
    SUBMITTED = "SUBMITTED"  # sent to the broker, no answer yet
    ACCEPTED = "ACCEPTED"  # the broker acknowledged it; resting or working
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELLED = "CANCELLED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL

    @property
    def is_open(self) -> bool:
        return self not in _TERMINAL


_TERMINAL = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.EXPIRED}
)


class AssetClass(StrEnum):
    EQUITY = "EQUITY"
    ETF = "ETF"  # also ETN: KRX gives both the flat 5-won tick
    CRYPTO_SPOT = "CRYPTO_SPOT"
    CRYPTO_PERP = "CRYPTO_PERP"  # perpetual futures (e.g. Binance USD-M)
    FX = "FX"

    @property
    def is_derivative(self) -> bool:
        return self is AssetClass.CRYPTO_PERP


class Liquidity(StrEnum):
    MAKER = "MAKER"
    TAKER = "TAKER"


class OrderSource(StrEnum):
    """Who asked for an order. Risk applies to every one of them."""

    STRATEGY = "STRATEGY"
    TICKET = "TICKET"  # the GUI order ticket
    ALGO = "ALGO"  # an execution algorithm (TWAP, ...)
    RISK = "RISK"  # stop-loss / take-profit / end-of-session flatten
    KILL_SWITCH = "KILL_SWITCH"
    EXTERNAL = "EXTERNAL"  # found at the broker, not placed by us (reconciliation)


class ConnectionState(StrEnum):
    DISCONNECTED = "DISCONNECTED"
    CONNECTING = "CONNECTING"
    CONNECTED = "CONNECTED"
    RECONNECTING = "RECONNECTING"
    FAILED = "FAILED"
