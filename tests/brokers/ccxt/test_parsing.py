"""Binance messages -> records, on samples shaped like Binance's documentation."""

from __future__ import annotations

from decimal import Decimal

import pytest

from brokers.ccxt import parsing
from brokers.ccxt.errors import Action, classify, reason
from engine.models import OrderStatus, Side

D = Decimal

# Spot user data stream, "Order Update" (developers.binance.com, user-data-stream).
EXECUTION_REPORT_TRADE = {
    "e": "executionReport", "E": 1499405658658, "s": "ETHBTC", "c": "mUvoqJxFIILMdfAW5iGSOW",
    "S": "BUY", "o": "LIMIT", "f": "GTC", "q": "1.00000000", "p": "0.10264410",
    "P": "0.00000000", "F": "0.00000000", "g": -1, "C": "", "x": "TRADE",
    "X": "PARTIALLY_FILLED", "r": "NONE", "i": 4293153, "l": "0.40000000", "z": "0.40000000",
    "L": "0.10264400", "n": "0.00040000", "N": "ETH", "T": 1499405658657, "t": 8675309,
    "v": 3, "I": 8641984, "w": False, "m": True, "M": False, "O": 1499405658657,
    "Z": "0.04105760", "Y": "0.04105760", "Q": "0.00000000", "W": 1499405658657,
    "V": "NONE",
}


def test_spot_trade_event_is_an_execution_with_its_trade_id():
    report = parsing.execution_report(EXECUTION_REPORT_TRADE)
    assert report.exec_type == "TRADE"
    o, t = report.order, report.trade
    assert (o.kind, o.symbol_id, o.order_id, o.client_order_id) == ("spot", "ETHBTC", "4293153",
                                                                    "mUvoqJxFIILMdfAW5iGSOW")
    assert o.engine_status is OrderStatus.PARTIALLY_FILLED and o.filled == D("0.4")
    assert t.fill_id == "spot:ETHBTC:8675309" and t.qty == D("0.4") and t.price == D("0.102644")
    assert t.commission == D("0.0004") and t.commission_asset == "ETH" and t.maker
    assert t.side is Side.BUY


def test_a_cancelled_spot_order_is_ours_by_C_not_c():
    msg = dict(EXECUTION_REPORT_TRADE, x="CANCELED", X="CANCELED", c="cancelReq1",
               C="mUvoqJxFIILMdfAW5iGSOW", t=-1, l="0.00000000", L="0.00000000")
    report = parsing.execution_report(msg)
    assert report.trade is None and report.order.client_order_id == "mUvoqJxFIILMdfAW5iGSOW"
    assert report.order.engine_status is OrderStatus.CANCELLED


# USD-M user data stream, "Event: Order Update".
ORDER_TRADE_UPDATE = {
    "e": "ORDER_TRADE_UPDATE", "E": 1568879465651, "T": 1568879465650, "o": {
        "s": "BTCUSDT", "c": "TEST", "S": "SELL", "o": "LIMIT", "f": "GTC", "q": "0.002",
        "p": "7103.04", "ap": "7103.04", "sp": "0", "x": "TRADE", "X": "FILLED",
        "i": 8886774, "l": "0.002", "z": "0.002", "L": "7103.04", "N": "USDT",
        "n": "0.00710304", "T": 1568879465650, "t": 1931, "b": "0", "a": "9.91", "m": False,
        "R": True, "wt": "CONTRACT_PRICE", "ot": "LIMIT", "ps": "BOTH", "cp": False,
        "rp": "-1.50000000", "pP": False, "si": 0, "ss": 0, "V": "EXPIRE_TAKER", "pm": "NONE",
        "gtd": 0}}


def test_usdm_order_trade_update():
    report = parsing.order_trade_update(ORDER_TRADE_UPDATE)
    o, t = report.order, report.trade
    assert o.kind == "linear" and o.reduce_only and o.engine_status is OrderStatus.FILLED
    assert t.fill_id == "linear:BTCUSDT:1931" and t.side is Side.SELL and not t.maker
    assert t.realized_pnl == D("-1.5") and t.commission == D("0.00710304")


SPOT_FULL_ANSWER = {
    "symbol": "BTCUSDT", "orderId": 28, "orderListId": -1, "clientOrderId": "6gCrw2kRUAF9C",
    "transactTime": 1507725176595, "price": "0.00000000", "origQty": "10.00000000",
    "executedQty": "10.00000000", "origQuoteOrderQty": "0.000000",
    "cummulativeQuoteQty": "10.00000000", "status": "FILLED", "timeInForce": "GTC",
    "type": "MARKET", "side": "SELL", "workingTime": 1507725176595,
    "selfTradePreventionMode": "NONE",
    "fills": [{"price": "4000.00000000", "qty": "1.00000000", "commission": "4.00000000",
               "commissionAsset": "USDT", "tradeId": 56},
              {"price": "3999.00000000", "qty": "5.00000000", "commission": "19.99500000",
               "commissionAsset": "USDT", "tradeId": 57}]}


def test_spot_full_order_answer_carries_its_fills():
    order = parsing.rest_order("spot", SPOT_FULL_ANSWER)
    fills = parsing.rest_order_fills("spot", SPOT_FULL_ANSWER)
    assert order.engine_status is OrderStatus.FILLED and order.filled == D("10")
    assert [f.fill_id for f in fills] == ["spot:BTCUSDT:56", "spot:BTCUSDT:57"]
    assert fills[1].price == D("3999") and fills[1].side is Side.SELL


def test_trades_from_both_rest_endpoints_have_the_stream_ids():
    spot = parsing.rest_trade("spot", {
        "symbol": "BNBBTC", "id": 28457, "orderId": 100234, "orderListId": -1,
        "price": "4.00000100", "qty": "12.00000000", "quoteQty": "48.000012",
        "commission": "10.10000000", "commissionAsset": "BNB", "time": 1499865549590,
        "isBuyer": True, "isMaker": False, "isBestMatch": True})
    futures = parsing.rest_trade("linear", {
        "buyer": False, "commission": "-0.07819010", "commissionAsset": "USDT", "id": 698759,
        "maker": False, "orderId": 25851813, "price": "7819.01", "qty": "0.002",
        "quoteQty": "15.63802", "realizedPnl": "-0.91539999", "side": "SELL",
        "positionSide": "SHORT", "symbol": "BTCUSDT", "time": 1569514978020})
    assert spot.fill_id == "spot:BNBBTC:28457" and spot.side is Side.BUY
    assert futures.fill_id == "linear:BTCUSDT:698759" and futures.side is Side.SELL
    assert futures.realized_pnl == D("-0.91539999")


def test_account_events_and_the_ws_api_envelope():
    update = parsing.account_update({
        "e": "ACCOUNT_UPDATE", "E": 1564745798939, "T": 1564745798938, "a": {
            "m": "FUNDING_FEE", "B": [{"a": "USDT", "wb": "122624.12345678", "cw": "100.1",
                                       "bc": "0"}],
            "P": [{"s": "BTCUSDT", "pa": "-0.5", "ep": "60000", "cr": "0", "up": "0",
                   "mt": "cross", "iw": "0", "ps": "BOTH"}]}})
    assert update.reason == "FUNDING_FEE" and update.positions == {"BTCUSDT": D("-0.5")}
    wrapped = {"subscriptionId": 0, "event": EXECUTION_REPORT_TRADE}
    assert parsing.user_event(wrapped) == ("executionReport", EXECUTION_REPORT_TRADE)
    assert parsing.user_event({"e": "depthUpdate"}) is None
    assert parsing.user_event({"result": None, "id": 1}) is None


def test_malformed_sides_are_refused():
    with pytest.raises(ValueError, match="neither BUY nor SELL"):
        parsing.execution_report(dict(EXECUTION_REPORT_TRADE, S="HOLD"))


def test_error_actions_and_reasons():
    import ccxt

    assert classify(ccxt.RateLimitExceeded("429")) is Action.RETRY
    assert classify(ccxt.DDoSProtection("418")) is Action.RETRY
    assert classify(ccxt.InvalidNonce("-1021")) is Action.RESYNC_TIME
    assert classify(ccxt.ChecksumError("gap")) is Action.UNKNOWN
    assert classify(ccxt.RequestTimeout("t")) is Action.UNKNOWN
    assert classify(ccxt.ExchangeNotAvailable("503")) is Action.UNKNOWN
    assert classify(ccxt.PermissionDenied("x")) is Action.AUTH
    assert classify(ccxt.InsufficientFunds("x")) is Action.REJECT
    assert classify(ccxt.OrderNotFound("x")) is Action.REJECT
    assert classify(ValueError("bug")) is Action.FAIL
    text = reason(ccxt.InsufficientFunds('binance {"code":-2019,"msg":"Margin is insufficient."}'))
    assert text == "InsufficientFunds: Margin is insufficient. (Binance -2019)"
