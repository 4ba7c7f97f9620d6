"""parsing.py on records shaped like the control's: signed, zero-padded strings."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from brokers.kiwoom import parsing as p
from engine.models import Side

KST = p.KST
NOW = int(datetime(2024, 6, 3, 10, 0, 5, tzinfo=KST).timestamp()) * 1_000_000_000


@pytest.mark.parametrize("raw, value", [
    ("+0071200", 71_200), ("-00000150", -150), ("000000071200", 71_200), ("  71200 ", 71_200),
    ("+15", 15), ("-3", -3), ("", 0), ("0", 0), ("1,234", 1_234), (42, 42),
])
def test_to_int_reads_signed_padded_strings(raw, value):
    assert p.to_int(raw) == value


@pytest.mark.parametrize("raw", ["+7l200", "--5", "12.5", "abc", "+"])
def test_to_int_refuses_garbage(raw):
    with pytest.raises(ValueError):
        p.to_int(raw)


@given(st.integers(min_value=-10**12, max_value=10**12), st.integers(min_value=0, max_value=15),
       st.booleans())
def test_to_int_round_trips_any_padding_and_sign(value, width, plus):
    sign = "-" if value < 0 else ("+" if plus else "")
    assert p.to_int(f"{sign}{abs(value):0{width}d}") == value
    assert p.to_price(f"{sign}{abs(value):0{width}d}") == abs(value)


def test_codes_and_order_numbers():
    assert p.code_of("A005930") == "005930" and p.code_of("005930") == "005930"
    assert p.order_no("0000000") == "" and p.order_no(" 0012345 ") == "0012345"


def test_event_times_take_the_kst_day_of_now_and_wrap_midnight():
    assert p.event_ts_ns("100000", NOW) == NOW - 5 * 1_000_000_000
    just_after_midnight = int(datetime(2024, 6, 4, 0, 0, 2, tzinfo=KST).timestamp()) * 10**9
    assert p.kst_date(p.event_ts_ns("235959", just_after_midnight)) == date(2024, 6, 3)
    with pytest.raises(ValueError):
        p.event_ts_ns("256000", NOW)


TRADE = {"20": "100001", "10": "-70900", "11": "-100", "12": "-0.14", "27": "+71100",
         "28": "-70900", "15": "-7", "13": "1234567", "14": "87654", "16": "+71100",
         "17": "+71300", "18": "-70800", "25": "5", "228": "98.12", "290": "2"}


def test_trade_tick_strips_the_price_sign_and_reads_the_aggressor():
    tick = p.trade_tick("005930", TRADE, NOW)
    assert tick.price == 70_900.0 and tick.size == 7.0 and tick.aggressor is Side.SELL
    assert tick.ts_ns == NOW - 4 * 1_000_000_000
    assert tick.trade_id == "100001-1234567"
    buy = p.trade_tick("005930", {**TRADE, "15": "+0000012"}, NOW)
    assert buy.aggressor is Side.BUY and buy.size == 12.0
    assert p.best_quotes(TRADE) == (71_100.0, 70_900.0)


@pytest.mark.parametrize("broken", [{"10": "+7l200"}, {"10": "0"}, {"20": "1000"}, {"15": ""},
                                    {"20": None}])
def test_malformed_trades_give_none(broken):
    fields = {**TRADE, **broken}
    fields = {k: v for k, v in fields.items() if v is not None}
    if broken.get("15") == "":
        assert p.trade_tick("005930", fields, NOW).aggressor is None
        return
    assert p.trade_tick("005930", fields, NOW) is None


def book_fields(asks, bids):
    fields = {"21": "100002"}
    for i in range(10):
        ap, aq = asks[i] if i < len(asks) else ("0", "0")
        bp, bq = bids[i] if i < len(bids) else ("0", "0")
        fields[str(41 + i)], fields[str(61 + i)] = ap, aq
        fields[str(51 + i)], fields[str(71 + i)] = bp, bq
    return fields


def test_order_book_levels_come_from_fids_41_to_80():
    fields = book_fields([("+71100", "000500"), ("+71200", "1200")],
                         [("-71000", "300"), ("-70900", "0000077")])
    book = p.order_book("005930", fields, NOW)
    assert [(lvl.price, lvl.size) for lvl in book.asks] == [(71_100.0, 500.0), (71_200.0, 1_200.0)]
    assert [(lvl.price, lvl.size) for lvl in book.bids] == [(71_000.0, 300.0), (70_900.0, 77.0)]
    assert p.order_book("005930", fields, NOW, depth=1).asks[0].price == 71_100.0
    crossed = book_fields([("+71200", "1"), ("+71100", "1")], [])
    assert p.order_book("005930", crossed, NOW) is None


CHEJAN_FILL = {"9201": "8012345611", "9203": "0000012", "9001": "A005930", "913": "체결",
               "900": "10", "901": "71000", "902": "6", "903": "284000", "904": "0000000",
               "905": "+매수", "906": "보통", "907": "2", "908": "100003", "909": "0000031",
               "910": "71000", "911": "4", "914": "71000", "915": "4", "938": "994",
               "939": "0", "10": "+71000", "27": "+71100", "28": "-70900"}


def test_chejan_fill():
    r = p.chejan_order(CHEJAN_FILL, NOW)
    assert (r.order_no, r.orig_no, r.code, r.status, r.kind, r.side) == \
        ("0000012", "", "005930", "체결", "new", Side.BUY)
    assert (r.order_qty, r.order_price, r.unfilled, r.cum_qty, r.cum_amount) == \
        (10, 71_000, 6, 4, 284_000)
    assert (r.fill_no, r.fill_price, r.fill_qty, r.is_fill) == ("0000031", 71_000, 4, True)
    assert (r.fee, r.tax) == (994, 0)
    assert p.chejan_order({**CHEJAN_FILL, "938": "", "939": " "}, NOW).fee is None
    assert r.ts_ns == NOW - 2 * 1_000_000_000


def test_chejan_acceptance_cancel_and_modify():
    accepted = p.chejan_order({**CHEJAN_FILL, "913": "접수", "909": "", "910": "", "911": "",
                               "914": "", "915": "", "902": "10", "903": "0"}, NOW)
    assert accepted.status == "접수" and not accepted.is_fill and accepted.unfilled == 10
    cancel = p.chejan_order({**CHEJAN_FILL, "9203": "0000013", "904": "0000012",
                             "905": "매수취소", "913": "확인", "907": "2"}, NOW)
    assert cancel.kind == "cancel" and cancel.orig_no == "0000012"
    modify = p.chejan_order({**CHEJAN_FILL, "905": "-매도정정", "907": "1"}, NOW)
    assert modify.kind == "modify" and modify.side is Side.SELL
    with pytest.raises(ValueError, match="order number"):
        p.chejan_order({**CHEJAN_FILL, "9203": ""}, NOW)


def test_chejan_balance():
    b = p.chejan_balance({"9201": "8012345611", "9001": "A005930", "930": "10", "931": "71000",
                          "933": "000010", "951": "99287515", "10": "-70900"})
    assert (b.code, b.qty, b.avg_price, b.sellable, b.cash, b.last) == \
        ("005930", 10, 71_000, 10, 99_287_515, 70_900)


def test_daily_bars_are_labelled_with_the_session_open():
    rows = [{"일자": "20240603", "시가": "70100", "고가": "71500", "저가": "69900",
             "현재가": "71000", "거래량": "000123456"},
            {"일자": "20240531", "시가": "70000", "고가": "70200", "저가": "69000",
             "현재가": "70000", "거래량": "99"}]
    frame = p.daily_bars(rows)
    assert list(frame.index) == [pd.Timestamp("2024-05-31 00:00", tz="UTC"),
                                 pd.Timestamp("2024-06-03 00:00", tz="UTC")]
    assert frame.loc[pd.Timestamp("2024-06-03", tz="UTC")].tolist() == \
        [70_100.0, 71_500.0, 69_900.0, 71_000.0, 123_456.0]


@pytest.mark.parametrize("label, minutes, opens_at", [
    ("20240603090100", 1, "09:00"), ("20240603153000", 1, "15:29"),
    ("20240603090500", 5, "09:00"), ("20240603153000", 60, "15:00"),
    ("20240603150000", 60, "14:00"), ("20240603153000", 45, "15:00"),
])
def test_minute_labels_are_bar_ends(label, minutes, opens_at):
    ts = pd.Timestamp(p.minute_open_ns(label, minutes), unit="ns", tz="UTC")
    assert ts.tz_convert("Asia/Seoul").strftime("%H:%M") == opens_at


def test_minute_bars_strip_signs():
    rows = [{"체결시간": "20240603090200", "시가": "-70900", "고가": "+71100", "저가": "-70800",
             "현재가": "+71000", "거래량": "1500"}]
    frame = p.minute_bars(rows, 1)
    assert frame.iloc[0].tolist() == [70_900.0, 71_100.0, 70_800.0, 71_000.0, 1_500.0]
    assert frame.index[0].tz_convert("Asia/Seoul").strftime("%H:%M") == "09:01"


def test_account_trs():
    dep = p.deposit({"예수금": "000000100000000", "d+2추정예수금": "000000099000000",
                     "주문가능금액": "000000098500000"})
    assert (dep.cash, dep.d2_cash, dep.orderable) == (100_000_000, 99_000_000, 98_500_000)
    (h,) = p.holdings([{"종목번호": "A005930", "종목명": "삼성전자", "보유수량": "000000000010",
                        "매입가": "000000071000", "매매가능수량": "000000000010",
                        "현재가": "000000070900", "평가손익": "-000000001000"}])
    assert (h.code, h.qty, h.avg_price, h.sellable, h.last, h.pnl) == \
        ("005930", 10, 71_000, 10, 70_900, -1_000)


def test_venue_order_rows():
    rows = [{"주문번호": "0000012", "원주문번호": "0000000", "종목코드": "005930",
             "주문구분": "+매수", "주문상태": "체결", "주문수량": "10", "주문가격": "71000",
             "미체결수량": "6", "체결량": "4", "체결가": "71000", "매매구분": "보통",
             "체결누계금액": "284000", "시간": "100003"},
            {"주문번호": "0000013", "주문구분": "매수취소", "주문수량": "6"},
            {"주문번호": "0000014", "원주문번호": "0000012", "종목코드": "005930",
             "주문구분": "-매도정정", "주문수량": "2", "주문가격": "72000", "미체결수량": "2",
             "체결량": "0", "매매구분": "시장가"}]
    first, modified = p.venue_orders(rows)
    assert (first.order_no, first.side, first.kind, first.cum_qty, first.cum_amount) == \
        ("0000012", Side.BUY, "new", 4, 284_000)
    assert (modified.kind, modified.side, modified.orig_no, modified.market,
            modified.cum_amount) == ("modify", Side.SELL, "0000012", True, None)


def test_decimal_text():
    assert p.to_decimal("+0.71") == Decimal("0.71") and p.to_decimal("") == 0
    with pytest.raises(ValueError):
        p.to_decimal("NaN")


@given(st.integers(min_value=0, max_value=4_000_000_000).map(lambda s: s * 1_000_000_000
                                                             + 123_456_789),
       st.integers(0, 23), st.integers(0, 59), st.integers(0, 59))
def test_event_times_match_the_calendar_reading(now_ns, h, m, s):
    """The arithmetic fast path agrees with placing HHMMSS on the KST date by datetime."""
    hhmmss = f"{h:02d}{m:02d}{s:02d}"
    day = p.kst_date(now_ns)
    expected = int(datetime(day.year, day.month, day.day, h, m, s, tzinfo=KST).timestamp()) \
        * 1_000_000_000
    if expected - now_ns > 3600 * 1_000_000_000:
        expected -= 86_400 * 1_000_000_000
    assert p.event_ts_ns(hhmmss, now_ns) == expected


def test_to_int_refuses_underscores_that_int_would_take():
    with pytest.raises(ValueError):
        p.to_int("1_000")


def test_books_from_the_level_cache_equal_books_parsed_afresh():
    cache: dict = {}
    first = book_fields([("+71100", "000500"), ("+71200", "1200")],
                        [("-71000", "300"), ("-70900", "0000077")])
    changed = {**first, "61": "000499", "72": "80"}
    for fields in (first, changed, first):
        assert p.order_book("005930", fields, NOW, cache=cache) == \
            p.order_book("005930", fields, NOW)
    assert 0 < len(cache) <= 2 + 4 + 1  # the unchanged levels were reused; one empty level
    assert p.order_book("005930", {**first, "41": "+7l100"}, NOW, cache=cache) is None
    assert p.order_book("000660", first, NOW, cache=cache).symbol == "000660"


def test_the_protocols_value_lists_parse_like_fid_dicts():
    from brokers.kiwoom.protocol import REAL_KEYS

    trade_values = [TRADE.get(k, "") for k in REAL_KEYS["주식체결"]]
    assert p.trade_tick("005930", trade_values, NOW) == p.trade_tick("005930", TRADE, NOW)
    assert p.best_quotes(trade_values) == p.best_quotes(TRADE)
    assert p.trade_tick("005930", trade_values[:5], NOW) is None  # a short record
    fields = book_fields([("+71100", "000500"), ("+71200", "1200")],
                         [("-71000", "300"), ("-70900", "0000077")])
    book_values = [fields.get(k, "0") for k in REAL_KEYS["주식호가잔량"]]
    for depth in (1, 5, 10):
        assert p.order_book("005930", book_values, NOW, depth) == \
            p.order_book("005930", fields, NOW, depth)
    assert p.order_book("005930", book_values[:-1], NOW) is None
    assert p.order_book("005930", {**fields, "21": "1000"}, NOW) is None
