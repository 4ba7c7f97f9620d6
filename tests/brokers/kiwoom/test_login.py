"""Login through the bridge: results, reasons, accounts, mock vs real server, LIVE."""

from __future__ import annotations

import pytest

from brokers.kiwoom.fake.server import FakeKiwoomServer
from engine.execution.broker import BrokerError
from engine.models import AssetClass, ConnectionState, ConnectionStateChanged
from tests.brokers.kiwoom.harness import ACCOUNT, SAMSUNG, Harness, run

C = ConnectionState


def states(h: Harness) -> list[ConnectionState]:
    return [e.state for e in h.record.of(ConnectionStateChanged)]


def test_login_on_the_mock_server():
    async def scenario():
        async with Harness() as h:
            return h, await h.broker.instruments()

    h, instruments = run(scenario())
    assert states(h)[:2] == [C.CONNECTING, C.CONNECTED]
    assert states(h)[-1] is C.DISCONNECTED
    assert h.broker.server == "mock" and h.broker.live is False
    assert h.broker.accounts == [ACCOUNT, "8012345612"] and h.broker.account == ACCOUNT
    by_code = {i.symbol: i for i in instruments}
    samsung = by_code[SAMSUNG]
    assert samsung.name == "삼성전자" and samsung.board == "KOSPI" and samsung.venue == "KRX"
    assert samsung.tick_size(71_000) == 100 and not samsung.allows_short
    assert samsung.price_limits(71_000) == (49_700, 92_300)
    assert by_code["247540"].board == "KOSDAQ"
    assert by_code["069500"].asset_class is AssetClass.ETF and by_code["069500"].tick_size(35_000) == 5
    assert h.broker.deposit.cash == 100_000_000 and h.broker.reconciles == 1


@pytest.mark.parametrize("code, words", [(-101, "서버접속 실패"), (-102, "버전처리 실패")])
def test_connection_and_version_failures_restart_the_bridge_and_retry(code, words):
    async def scenario():
        async with Harness(venue=FakeKiwoomServer(login_errors=[code])) as h:
            return h

    h = run(scenario())
    assert C.CONNECTED in states(h)
    details = " ".join(e.detail for e in h.record.of(ConnectionStateChanged))
    assert words in details and str(code) in details
    assert C.RECONNECTING in states(h)


def test_a_wrong_password_fails_without_retrying():
    async def scenario():
        h = Harness(venue=FakeKiwoomServer(login_errors=[-100, -100, -100]))
        with pytest.raises(BrokerError) as info:
            await h.broker.connect()
        starts = h.broker.supervisor.starts
        await h.broker.disconnect()
        return h, str(info.value), starts

    h, message, starts = run(scenario())
    assert "-100" in message and "사용자정보 교환 실패" in message
    assert starts == 1  # retrying a wrong password locks Kiwoom accounts
    assert C.FAILED in states(h)


def test_the_real_server_needs_live_enabled():
    async def scenario(live: bool):
        venue = FakeKiwoomServer(server="real")
        h = Harness(venue=venue, live=live)
        try:
            await h.broker.connect()
        except BrokerError as exc:
            return h, str(exc)
        finally:
            await h.broker.disconnect()
        return h, ""

    refused, message = run(scenario(False))
    assert "REAL server" in message and "live = true" in message
    assert refused.broker.live is False and C.FAILED in states(refused)
    allowed, message = run(scenario(True))
    assert message == "" and allowed.broker.live is True
    live_detail = [e.detail for e in allowed.record.of(ConnectionStateChanged)
                   if e.state is C.CONNECTED]
    assert "LIVE" in live_detail[0]


def test_an_account_not_in_the_login_is_refused():
    async def scenario():
        h = Harness(account="5555555555")
        with pytest.raises(BrokerError, match="5555555555 is not one of"):
            await h.broker.connect()
        await h.broker.disconnect()
    run(scenario())
