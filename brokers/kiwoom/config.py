"""Kiwoom settings: the ``[brokers.kiwoom]`` table, checked with clear errors.

::

    [brokers.kiwoom]
    enabled = true
    live = false                  # true: real-money trading allowed on Kiwoom's real server
    python32_path = 'C:\\Python311-32\\python.exe'
    account = "8012345611"        # empty: the login's first account
    # commission = 0.00015        # real server; the mock server charges 0.35%

``fake = true`` runs the bridge with the fake control instead of OpenAPI+ (any
platform): for demos and tests, never real orders.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from dataclasses import dataclass, fields
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from engine.errors import ConfigError

log = logging.getLogger(__name__)

WHERE = "[brokers.kiwoom]"
MOCK_COMMISSION = Decimal("0.0035")  # Kiwoom's mock server (모의투자)
REAL_COMMISSION = Decimal("0.00015")


@dataclass(frozen=True, slots=True)
class KiwoomConfig:
    enabled: bool = False
    live: bool = False
    python32_path: str = ""
    account: str = ""
    fake: bool = False
    fake_state: str = ""
    commission: Decimal | None = None  # None: by server (mock 0.35%, real 0.015%)
    request_timeout_s: float = 20.0
    order_timeout_s: float = 15.0
    login_timeout_s: float = 300.0
    reconcile_interval_s: float = 60.0
    restart_backoff_s: float = 1.0
    restart_backoff_max_s: float = 30.0
    max_restarts: int = 10
    health_interval_s: float = 5.0
    unknown_order_grace_s: float = 3.0

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], where: str = WHERE) -> KiwoomConfig:
        """Build from settings values; a wrong key or type raises ``ConfigError``."""
        known = {f.name: f for f in fields(cls)}
        kwargs: dict[str, Any] = {}
        for key, value in values.items():
            if key not in known:
                log.warning("%s: unknown key %r ignored (known: %s)", where, key,
                            ", ".join(sorted(known)))
                continue
            kwargs[key] = _coerce(key, value, known[key].type, where)
        config = cls(**kwargs)
        config.validate(where)
        return config

    def validate(self, where: str = WHERE) -> None:
        for name in ("request_timeout_s", "order_timeout_s", "login_timeout_s",
                     "reconcile_interval_s", "restart_backoff_s", "restart_backoff_max_s",
                     "health_interval_s"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{where} {name} must be positive, got {getattr(self, name)}")
        if self.commission is not None and not Decimal(0) <= self.commission < Decimal("0.01"):
            raise ConfigError(f"{where} commission is a fraction (0.00015 = 0.015%), "
                              f"got {self.commission}")
        if self.account and not self.account.isdigit():
            raise ConfigError(f"{where} account must be the account number's digits, "
                              f"got {self.account!r}")

    def check_runnable(self, where: str = WHERE) -> None:
        """The bridge can be started as configured (called before connecting)."""
        if self.fake:
            return
        if sys.platform != "win32":
            raise ConfigError(f"{where}: Kiwoom OpenAPI+ runs only on Windows (set fake = true "
                              "to try the fake control)")
        if not self.python32_path:
            raise ConfigError(f"{where} python32_path is empty: set it to a 32-bit Python with "
                              "PyQt5 (see the README, 'Kiwoom setup on Windows')")
        if not Path(self.python32_path).is_file():
            raise ConfigError(f"{where} python32_path {self.python32_path!r} does not exist")

    def commission_for(self, server: str) -> Decimal:
        if self.commission is not None:
            return self.commission
        return MOCK_COMMISSION if server == "mock" else REAL_COMMISSION


def _coerce(key: str, value: Any, annotation: Any, where: str) -> Any:
    text = str(annotation)
    try:
        if text == "bool":
            if not isinstance(value, bool):
                raise TypeError
            return value
        if text == "int":
            if isinstance(value, bool):
                raise TypeError
            return int(value)
        if text == "float":
            if isinstance(value, bool):
                raise TypeError
            return float(value)
        if "Decimal" in text:
            return None if value is None else Decimal(str(value))
        return str(value)
    except (TypeError, ValueError, InvalidOperation):
        raise ConfigError(f"{where} {key} = {value!r} is not a valid {text}") from None
