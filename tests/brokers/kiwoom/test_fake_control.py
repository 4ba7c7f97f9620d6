"""The fake control behaves like OpenAPI+: signatures, event order, return codes, limits."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from brokers.kiwoom.bridge.host_asyncio import AsyncioScheduler
from brokers.kiwoom.fake import krx
from brokers.kiwoom.fake.control import FakeKiwoomControl
from brokers.kiwoom.fake.server import FakeKiwoomServer
from engine.models import krx_stock

ACCOUNT = "8012345611"
SEND_ORDER = "SendOrder(QString, QString, QString, int, QString, int, int, QString, QString)"


class Spy:
    """Records events the way a bridge would read them: inside the handlers."""

    def __init__(self, ocx: FakeKiwoomControl) -> None:
        self.ocx = ocx
        self.events: list[tuple] = []
        ocx.OnEventConnect.connect(lambda err: self.events.append(("connect", err)))
        ocx.OnReceiveTrData.connect(self.tr)
        ocx.OnReceiveMsg.connect(lambda scr, rq, tr, msg: self.events.append(("msg", rq, msg)))
        ocx.OnReceiveChejanData.connect(self.chejan)
        ocx.OnReceiveRealData.connect(self.real)

    def tr(self, scr, rq, trcode, record, prev_next, *rest):
        call = self.ocx.dynamicCall
        count = call("GetRepeatCnt(QString, QString)", trcode, rq)
        self.events.append(("tr", rq, trcode, prev_next, count,
                            call("GetCommData(QString, QString, int, QString)", trcode, rq, 0,
                                 "주문번호").strip(),
                            [call("GetCommData(QString, QString, int, QString)", trcode, rq, i,
                                  "일자").strip() for i in range(count)]))

    def chejan(self, gubun, count, fids):
        get = lambda fid: self.ocx.dynamicCall("GetChejanData(int)", fid)  # noqa: E731
        assert count == len(fids.split(";"))
        if gubun == "0":
            self.events.append(("chejan0", get(9203), get(913), get(902), get(911), get(904)))
        else:
            self.events.append(("chejan1", get(9001), get(930)))

    def real(self, code, real_type, data):
        get = lambda fid: self.ocx.dynamicCall("GetCommRealData(QString, int)", code, fid)  # noqa: E731
        self.events.append(("real", code, real_type, get(10), get(15)))

    def of(self, kind: str) -> list[tuple]:
        return [e for e in self.events if e[0] == kind]


async def logged_in(**venue_options):
    venue = FakeKiwoomServer(**venue_options)
    ocx = FakeKiwoomControl(AsyncioScheduler(asyncio.get_running_loop()), venue)
    spy = Spy(ocx)
    assert ocx.dynamicCall("CommConnect()") == 0
    assert spy.events == []  # events never fire inside the call that caused them
    await asyncio.sleep(0.05)
    assert spy.events == [("connect", 0)]
    spy.events.clear()
    return venue, ocx, spy


def order(ocx, rq, order_type, qty, price, orig="", hoga="00"):
    return ocx.dynamicCall(SEND_ORDER, [rq, "2000", ACCOUNT, order_type, "005930", qty, price,
                                        hoga, orig])


def test_login_info_as_the_control_gives_it():
    async def scenario():
        _, ocx, _ = await logged_in()
        return (ocx.dynamicCall("GetLoginInfo(QString)", "ACCNO"),
                ocx.dynamicCall("KOA_Functions(QString, QString)", "GetServerGubun", ""),
                ocx.dynamicCall("GetConnectState()"),
                ocx.dynamicCall("GetCodeListByMarket(QString)", "0"),
                ocx.dynamicCall("GetMasterLastPrice(QString)", "005930"))
    accno, gubun, state, kospi, last = asyncio.run(scenario())
    assert accno == "8012345611;8012345612;" and gubun == "1" and state == 1
    assert kospi.endswith(";") and "005930" in kospi.split(";")
    assert last == "00071000"


def test_signatures_are_checked():
    async def scenario():
        _, ocx, _ = await logged_in()
        with pytest.raises(TypeError, match="takes 4 arguments"):
            ocx.dynamicCall("CommRqData(QString, QString, int, QString)", "rq", "opt10081", 0)
        with pytest.raises(AttributeError):
            ocx.dynamicCall("NoSuchMethod(QString)", "x")
    asyncio.run(scenario())


def test_order_events_come_in_kiwooms_order():
    async def scenario():
        venue, ocx, spy = await logged_in()
        assert order(ocx, "buy1", 1, 10, 71_000) == 0
        await asyncio.sleep(0.02)
        venue.external("005930", "sell", 4, 71_000)
        venue.external("005930", "sell", 6, 71_000)
        await asyncio.sleep(0.02)
        return spy.events
    events = asyncio.run(scenario())
    kinds = [e[0] for e in events]
    assert kinds == ["tr", "msg", "chejan0", "chejan0", "chejan1", "chejan0", "chejan1"]
    number = events[0][5]
    assert number == "0000001"
    assert events[2] == ("chejan0", number, "접수", "10", "", "0000000")
    assert events[3] == ("chejan0", number, "체결", "6", "4", "0000000")
    assert events[4] == ("chejan1", "A005930", "4")
    assert events[5] == ("chejan0", number, "체결", "0", "10", "0000000")
    assert events[6] == ("chejan1", "A005930", "10")


def test_cancel_gets_its_own_number_then_the_original_is_reported():
    async def scenario():
        _, ocx, spy = await logged_in()
        order(ocx, "buy1", 1, 10, 70_000)
        await asyncio.sleep(0.02)
        spy.events.clear()
        order(ocx, "cancel1", 3, 10, 0, orig="0000001")
        await asyncio.sleep(0.02)
        return spy.of("chejan0")
    chejan = asyncio.run(scenario())
    assert chejan == [("chejan0", "0000002", "접수", "0", "", "0000001"),
                      ("chejan0", "0000002", "확인", "0", "", "0000001"),
                      ("chejan0", "0000001", "접수", "0", "", "0000000")]


def test_venue_rules_refuse_with_a_message_and_no_number():
    async def scenario():
        _, ocx, spy = await logged_in()
        order(ocx, "tick", 1, 1, 71_050)
        order(ocx, "band", 1, 1, 93_000)
        order(ocx, "short", 2, 1, 71_000)
        order(ocx, "mkt", 1, 1, 71_000, hoga="03")
        order(ocx, "cancel", 3, 1, 0, orig="9999999")
        await asyncio.sleep(0.02)
        return spy
    spy = asyncio.run(scenario())
    assert [e[5] for e in spy.of("tr")] == [""] * 5
    messages = [e[2] for e in spy.of("msg")]
    assert "호가단위" in messages[0] and "상한가" in messages[1]
    assert "매도가능수량" in messages[2] and "[00Z237]" in messages[3]
    assert "원주문번호" in messages[4]
    assert spy.of("chejan0") == []


def test_return_codes_and_rate_limits():
    async def scenario():
        _, ocx, _ = await logged_in()
        call = ocx.dynamicCall
        rq = "CommRqData(QString, QString, int, QString)"
        codes = []
        for i in range(6):
            call("SetInputValue(QString, QString)", "계좌번호", ACCOUNT)
            codes.append(call(rq, f"r{i}", "opw00001", 0, "1000"))
        orders = [order(ocx, f"o{i}", 1, 1, 70_000) for i in range(6)]
        return (codes, orders, call(rq, "x", "opt99999", 0, "1001"),
                call(rq, "y", "opw00001", 0, "0000"),
                call("SetRealReg(QString, QString, QString, QString)", "3000",
                     ";".join(f"{i:06d}" for i in range(101)), "10", "0"),
                order(ocx, "bad", 7, 1, 70_000), order(ocx, "noorig", 3, 1, 0))
    codes, orders, unknown_tr, screen0, too_many, bad_type, no_orig = asyncio.run(scenario())
    assert codes == [0, 0, 0, 0, 0, -200]  # 5 per second
    assert orders == [0, 0, 0, 0, 0, -308]
    assert (unknown_tr, screen0, too_many, bad_type, no_orig) == (-201, -105, -204, -300, -300)


def test_not_logged_in_refuses():
    async def scenario():
        ocx = FakeKiwoomControl(AsyncioScheduler(asyncio.get_running_loop()), FakeKiwoomServer())
        return (ocx.dynamicCall("CommRqData(QString, QString, int, QString)", "r", "opw00001", 0,
                                "1000"), order(ocx, "o", 1, 1, 70_000))
    assert asyncio.run(scenario()) == (-106, -106)


def test_prev_next_pages_continue_where_the_last_page_ended():
    async def scenario():
        _, ocx, spy = await logged_in(history_days=700)
        call = ocx.dynamicCall
        rq = "CommRqData(QString, QString, int, QString)"
        for prev_next in (0, 2):
            call("SetInputValue(QString, QString)", "종목코드", "005930")
            call("SetInputValue(QString, QString)", "기준일자", "20240603")
            call(rq, "daily", "opt10081", prev_next, "1000")
            await asyncio.sleep(0.02)
        return spy.of("tr")
    first, second = asyncio.run(scenario())
    assert (first[3], first[4]) == ("2", 600) and (second[3], second[4]) == ("0", 100)
    assert first[6][0] == "20240603" and second[6][0] < first[6][-1]


def test_real_data_for_registered_fids_and_start_time_without_registration():
    async def scenario():
        venue, ocx, spy = await logged_in()
        call = ocx.dynamicCall
        reg = "SetRealReg(QString, QString, QString, QString)"
        assert call(reg, "5000", "005930", "20;10;15", "0") == 0
        venue.external("005930", "buy", 3)
        venue.external("000660", "buy", 3)  # nobody registered it
        ocx.sim({"action": "session", "status": "3"})
        await asyncio.sleep(0.02)
        call("SetRealRemove(QString, QString)", "5000", "005930")
        venue.external("005930", "buy", 1)
        await asyncio.sleep(0.02)
        return spy.of("real")
    reals = asyncio.run(scenario())
    assert reals == [("real", "005930", "주식체결", "+71100", "+3"),
                     ("real", "", "장시작시간", "", "")]


def test_the_venue_outlives_the_bridge_in_its_state_file(tmp_path):
    path = tmp_path / "venue.json"
    venue = FakeKiwoomServer(state_path=path)
    venue.place(account=ACCOUNT, order_type=1, code="005930", qty=10, price=71_000, hoga="00",
                orig_no="", rq="r", screen="2000")
    venue.external("005930", "sell", 4, 71_000)
    again = FakeKiwoomServer(state_path=path)
    (working,) = again.open_orders(ACCOUNT)
    assert (working.no, working.unfilled, working.filled) == ("0000001", 6, 4)
    assert again.accounts[ACCOUNT].holdings["005930"].qty == 4
    assert again.accounts[ACCOUNT].cash == venue.accounts[ACCOUNT].cash
    again.external("005930", "sell", 6, 71_000)  # matching continues from the saved book
    assert again.accounts[ACCOUNT].holdings["005930"].qty == 10


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=1, max_value=3_000_000), st.booleans())
def test_the_fake_venue_and_the_engine_agree_on_krx_rules(price, etf):
    inst = krx_stock("005930", etf=etf)
    assert krx.tick_size(price, etf) == inst.tick_size(price)
    assert krx.on_tick(price, etf) == inst.is_valid_price(price)
    base = int(inst.snap_price(price))  # a base price (yesterday's close) is on the grid
    lower, upper = krx.price_limits(base, etf)
    assert (Decimal(lower), Decimal(upper)) == inst.price_limits(base)
