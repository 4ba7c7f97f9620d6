"""Kiwoom OpenAPI+ (Korean equities on KRX) through a 32-bit bridge process.

The terminal side (``KiwoomBroker``, the supervisor, the client) lives in this
package; the bridge program and the fake control in ``bridge/`` and ``fake/``
import only the standard library, which is why nothing is imported here eagerly.

``create_broker`` is the entry point registered under ``trading_terminal.brokers``::

    broker = create_broker(name="kiwoom", bus=bus, clock=clock,
                           python32_path=r"C:\\Python311-32\\python.exe", live=False)
"""

from __future__ import annotations

from typing import Any


def create_broker(**kwargs: Any) -> Any:
    """Build a ``KiwoomBroker`` from registry arguments (name, bus, clock, settings)."""
    from brokers.kiwoom.execution import create_broker as _create

    return _create(**kwargs)


__all__ = ["create_broker"]
