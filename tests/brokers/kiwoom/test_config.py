"""``[brokers.kiwoom]``: values checked with messages that name the key, and the bridge's
interpreter checked before anything is started."""

from __future__ import annotations

import sys
from decimal import Decimal

import pytest

from brokers.kiwoom.config import KiwoomConfig
from brokers.kiwoom.execution import create_broker
from engine.bus import EventBus
from engine.clock import SimulatedClock
from engine.errors import ConfigError
from engine.models import ConnectionState, ConnectionStateChanged
from tests.brokers.kiwoom.harness import run


def test_values_are_checked_with_the_key_in_the_message():
    config = KiwoomConfig.from_mapping({"enabled": True, "python32_path": r"C:\Py32\python.exe",
                                        "live": False, "commission": 0.00015})
    assert config.enabled and config.commission == Decimal("0.00015")
    assert config.commission_for("mock") == Decimal("0.00015")
    assert KiwoomConfig().commission_for("mock") == Decimal("0.0035")
    assert KiwoomConfig().commission_for("real") == Decimal("0.00015")
    for values, words in (({"live": "yes"}, "live = 'yes'"),
                          ({"commission": 0.35}, "commission is a fraction"),
                          ({"account": "8012-3456"}, "account must be"),
                          ({"request_timeout_s": 0}, "request_timeout_s must be positive")):
        with pytest.raises(ConfigError, match=words) as info:
            KiwoomConfig.from_mapping(values)
        assert "[brokers.kiwoom]" in str(info.value)


def test_the_bridge_interpreter_is_checked_before_connecting(monkeypatch, tmp_path):
    if sys.platform != "win32":
        with pytest.raises(ConfigError, match="only on Windows.*fake = true"):
            KiwoomConfig(enabled=True).check_runnable()
    KiwoomConfig(fake=True).check_runnable()  # anywhere
    monkeypatch.setattr(sys, "platform", "win32")
    with pytest.raises(ConfigError, match="python32_path is empty.*README"):
        KiwoomConfig(enabled=True).check_runnable()
    missing = str(tmp_path / "python.exe")
    with pytest.raises(ConfigError, match="does not exist"):
        KiwoomConfig(enabled=True, python32_path=missing).check_runnable()

    bus = EventBus()
    states: list[ConnectionStateChanged] = []
    bus.subscribe(ConnectionStateChanged, states.append)
    broker = create_broker(bus=bus, clock=SimulatedClock(0),
                           settings={"enabled": True, "python32_path": missing})
    with pytest.raises(ConfigError, match="does not exist"):
        run(broker.connect())
    assert states[-1].state is ConnectionState.FAILED and "does not exist" in states[-1].detail
