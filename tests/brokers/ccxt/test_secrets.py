"""API keys never appear in logs, exception messages or reprs - not even at DEBUG."""

from __future__ import annotations

import logging
from decimal import Decimal

import pytest

from engine.execution.broker import BrokerError
from engine.models import ConnectionState, Order, OrderStatus, OrderType, Side
from tests.brokers.ccxt.harness import Adapter, run


def _leaks(text: str, *secrets: str) -> list[str]:
    return [s for s in secrets if s in text]


def test_refused_keys_fail_the_connection_without_showing_them(caplog):
    caplog.set_level(logging.DEBUG)
    key, secret = "tt-revoked-key-4f1c9a77e2", "tt-revoked-secret-9b2e6d10aa"

    async def scenario():
        async with Adapter(connect=False, markets=["spot", "linear"],
                           credentials={"api_key": key, "secret": secret}) as h:
            with pytest.raises(BrokerError) as info:
                await h.broker.connect()
            return h, info.value

    h, error = run(scenario())
    assert ConnectionState.FAILED in h.record.states()
    assert "Invalid API-key" in str(error)
    everything = caplog.text + str(error) + repr(error) + repr(h.broker) + \
        " ".join(repr(e) for e in h.record.events)
    assert not _leaks(everything, key, secret)
    assert "X-MBX-APIKEY" in caplog.text  # ccxt did log its request headers, redacted


def test_debug_logging_of_a_whole_session_shows_no_key(caplog):
    caplog.set_level(logging.DEBUG)

    async def scenario():
        async with Adapter(markets=["spot", "linear"]) as h:
            order = Order("tt-secret-1", "binance", "BTC/USDT", Side.BUY, OrderType.LIMIT,
                          Decimal("0.01"), Decimal("59000"), status=OrderStatus.SUBMITTED)
            await h.broker.place_order(order)
            await h.broker.cancel_order(order)
            await h.broker.fetch_balances()
            h.fake.faults.auth_error = (-1022, "Signature for this request is not valid.", 400)
            with pytest.raises(BrokerError) as info:
                await h.broker.fetch_positions()
            return h, info.value

    h, error = run(scenario())
    secrets = (h.fake.api_key, h.fake.secret)
    assert "X-MBX-APIKEY" in caplog.text and "***" in caplog.text
    assert not _leaks(caplog.text + str(error) + repr(h.broker.credentials), *secrets)
    assert not _leaks(" ".join(repr(e) for e in h.record.events), *secrets)
