"""Crypto venues through ccxt: Binance spot and USD-M perpetuals.

Registered as the ``ccxt`` broker kind (and ``binance``, ``binance-testnet``
with their defaults) in the ``trading_terminal.brokers`` entry-point group::

    broker = create_broker(name="binance", bus=bus, clock=clock,
                           settings={"markets": ["spot", "linear"]})

Settings: ``brokers.ccxt.config`` (testnet/demo by default; ``live = true``
to trade real money). Keys: ``brokers.ccxt.credentials`` (keyring or
``TT_SECRET_BINANCE_API_KEY`` / ``TT_SECRET_BINANCE_SECRET``). Package rooms:
``config``, ``credentials``, ``instruments``, ``parsing``, ``errors``,
``client`` (the ccxt object), ``streams`` (reconnecting loops), ``data``,
``execution`` and ``broker``; the fake venue for tests is in
``tests/brokers/ccxt/fake_binance``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def create_broker(*, name: str = "binance", bus: Any, clock: Any,
                  instruments: Any = (), settings: Mapping[str, Any] | None = None,
                  session_factory: Any = None, on_broker_error: Any = None,
                  **more_settings: Any) -> Any:
    """Build a ``CcxtBroker`` from a settings mapping (keywords win over ``settings``).

    ``instruments`` is accepted for the registry's uniform call and ignored:
    the venue's own markets define the instruments.
    """
    from brokers.ccxt.broker import CcxtBroker
    from brokers.ccxt.config import CcxtConfig
    from brokers.ccxt.credentials import resolve_credentials

    merged = {**(settings or {}), **more_settings}
    where = f"[brokers.{name}]"
    config = CcxtConfig.from_settings(merged, where=where)
    credentials = resolve_credentials(merged.get("credentials"), config.secrets_name, where)
    return CcxtBroker(name, bus, clock, config=config, credentials=credentials,
                      session_factory=session_factory, on_broker_error=on_broker_error)


def create_testnet_broker(*, name: str = "binance-testnet", **kwargs: Any) -> Any:
    """The ``binance-testnet`` kind: spot testnet, whatever else the settings say."""
    settings = {**(kwargs.pop("settings", None) or {}), "environment": "testnet",
                "markets": ["spot"]}
    return create_broker(name=name, settings=settings, **kwargs)


__all__ = ["create_broker", "create_testnet_broker"]
