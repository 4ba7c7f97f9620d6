"""Execution: the broker contract, the broker registry, and (soon) the OMS."""

from engine.execution.broker import (
    Broker,
    BrokerCapabilities,
    BrokerError,
    BrokerUnavailable,
    OrderUpdate,
)
from engine.execution.registry import broker_kinds, create_broker, register_broker

__all__ = [
    "Broker",
    "BrokerCapabilities",
    "BrokerError",
    "BrokerUnavailable",
    "OrderUpdate",
    "broker_kinds",
    "create_broker",
    "register_broker",
]
