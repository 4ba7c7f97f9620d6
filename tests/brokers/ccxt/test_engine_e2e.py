"""The adapter under the real TradingEngine: OMS, risk, a SQLite journal and the kill switch."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from sqlalchemy import func, select

from engine.execution.intents import OrderIntent
from engine.execution.sql_journal import SqlJournal
from engine.models import (
    ConnectionState,
    FillEvent,
    OrderSource,
    OrderStatus,
    OrderType,
    RiskEvent,
    Side,
    Tick,
)
from engine.risk.limits import RiskLimits
from engine.storage import Database
from engine.storage import schema as s
from engine.trading import EngineConfig, TradingEngine
from tests.brokers.ccxt.fake_binance import LINEAR, SPOT
from tests.brokers.ccxt.harness import Adapter, run, until

D = Decimal
S = OrderStatus
LIMITS = RiskLimits(max_position_pct=100.0, max_gross_exposure_pct=500.0, price_band_pct=10.0,
                    max_orders_per_second=50, max_leverage=10.0)


async def engine_for(h: Adapter, tmp_path, **config) -> tuple[TradingEngine, Database]:
    db = Database(tmp_path / "journal.sqlite3")
    engine = TradingEngine(clock=h.clock, journal=SqlJournal(db), bus=h.bus, limits=LIMITS,
                           config=EngineConfig(default_broker="binance", **config))
    engine.add_broker(h.broker)
    await engine.connect_all()
    engine.open_account("binance", "USDT", D(100_000))
    for symbol in ("BTC/USDT", "BTC/USDT:USDT"):
        if symbol in engine.instruments:
            h.bus.publish(Tick(symbol, h.clock.now_ns(), 60_000.0, 1.0))
    return engine, db


def limit(symbol: str, side: Side, qty: str, price: str) -> OrderIntent:
    return OrderIntent(symbol, side, D(qty), OrderType.LIMIT, D(price), broker="binance",
                       source=OrderSource.TICKET)


def rows(db: Database, table, **where) -> list:
    query = select(table)
    for column, value in where.items():
        query = query.where(table.c[column] == value)
    with db.engine.connect() as conn:
        return list(conn.execute(query))


def test_order_lifecycle_reaches_the_oms_and_the_journal_exactly_once(tmp_path):
    async def scenario():
        async with Adapter() as h:
            engine, db = await engine_for(h, tmp_path)
            h.fake.faults.duplicate_user_events = True  # every stream event arrives twice
            first = engine.submit(limit("BTC/USDT", Side.BUY, "0.01", "59000")).order
            second = engine.submit(limit("BTC/USDT", Side.BUY, "0.02", "58000")).order
            oms = engine.oms
            await until(lambda: oms.get(first.client_order_id).status is S.ACCEPTED
                        and oms.get(second.client_order_id).status is S.ACCEPTED)
            venue = h.fake.venue
            venue.fill(SPOT, "BTCUSDT", first.client_order_id, "0.004")
            await until(lambda: oms.get(first.client_order_id).status is S.PARTIALLY_FILLED)
            venue.fill(SPOT, "BTCUSDT", first.client_order_id)
            await until(lambda: oms.get(first.client_order_id).status is S.FILLED)
            assert engine.cancel(second.client_order_id)
            await until(lambda: oms.get(second.client_order_id).status is S.CANCELLED)
            await h.broker.reconcile("test")  # finds nothing new
            await asyncio.sleep(0.2)
            await engine.runner.wait_idle()
            fill_events = [e for e in h.record.events if isinstance(e, FillEvent)]
            return engine, db, first, second, fill_events

    h_engine, db, first, second, _ = run(scenario())
    oms = h_engine.oms
    final = oms.get(first.client_order_id)
    assert final.filled_qty == D("0.01") and final.avg_fill_price == D(59000)
    assert final.broker_order_id
    fills = rows(db, s.fills, client_order_id=first.client_order_id)
    assert len(fills) == 2 and len({r.fill_id for r in fills}) == 2
    kinds = [r.kind for r in rows(db, s.order_events, client_order_id=first.client_order_id)]
    assert kinds == ["new", "submitted", "accepted", "fill", "fill"]
    kinds = [r.kind for r in rows(db, s.order_events, client_order_id=second.client_order_id)]
    assert kinds == ["new", "submitted", "accepted", "cancelled"]
    with db.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(s.fills)).scalar() == 2
    quarantined = [r.code for r in rows(db, s.risk_events)]
    assert "duplicate_fill" not in quarantined and "unknown_order" not in quarantined
    assert oms.quarantined == 0
    # Binance spot takes a buy's fee in BTC: the ledger holds what the venue holds (net),
    # and the cash pays the price only; the fee's value is reported as commission.
    fee_btc = sum((D(r.fee_in_kind) for r in fills), D(0))
    assert fee_btc == D("0.01") * D("0.001")  # the fake's spot taker rate
    ledger = h_engine.ledger
    assert ledger.quantity("binance", "BTC/USDT") == D("0.01") - fee_btc
    assert ledger.cash("binance") == D(100_000) - D("0.01") * D(59000)
    assert sum((D(r.commission) for r in fills), D(0)) == fee_btc * D(59000)


def test_kill_switch_cancels_everything_at_the_venue(tmp_path):
    async def scenario():
        async with Adapter(markets=["spot", "linear"]) as h:
            engine, _ = await engine_for(h, tmp_path, flatten_on_kill=False)
            orders = [engine.submit(intent).order for intent in (
                limit("BTC/USDT", Side.BUY, "0.01", "59000"),
                limit("BTC/USDT", Side.BUY, "0.02", "58500"),
                limit("BTC/USDT:USDT", Side.SELL, "0.002", "61000.0"),
                limit("BTC/USDT:USDT", Side.BUY, "0.003", "58000.0"))]
            await until(lambda: all(engine.oms.get(o.client_order_id).status is S.ACCEPTED
                                    for o in orders), what="acceptances")
            # An order typed into Binance's web page, unknown to the terminal.
            h.fake.venue.place(SPOT, {"symbol": "ETHUSDT", "side": "BUY", "type": "LIMIT",
                                      "quantity": "1", "price": "2500",
                                      "newClientOrderId": "web_abc"})
            await asyncio.sleep(0.1)
            report = engine.kill("test: stop everything")
            await until(lambda: not h.fake.venue.open_orders(SPOT)
                        and not h.fake.venue.open_orders(LINEAR), what="venue empty")
            await until(lambda: not engine.oms.open_orders("binance"), what="OMS empty")
            await engine.runner.wait_idle()
            return engine, orders, report

    engine, orders, report = run(scenario())
    assert report.cancels_sent == 4
    assert [engine.oms.get(o.client_order_id).status for o in orders] == [S.CANCELLED] * 4
    assert engine.kill_switch.latched


def test_a_revoked_key_trips_the_kill_switch(tmp_path):
    # Binance answers -2015 for a revoked key, and ccxt reads -2015 after a first success as
    # a temporary ban (DDoSProtection): the adapter backs off, retries, then gives up and
    # reports the failure, which the engine counts towards its kill switch.
    async def scenario():
        async with Adapter(max_auth_errors=10, max_retries=1) as h:
            engine, _ = await engine_for(h, tmp_path, max_broker_errors=3)
            h.broker.on_broker_error = engine.report_broker_error
            h.fake.faults.auth_error = (-2015, "Invalid API-key, IP, or permissions for "
                                               "action.", 401)
            for price in ("59000", "58900", "58800"):
                engine.submit(limit("BTC/USDT", Side.BUY, "0.01", price))
                await engine.runner.wait_idle()
            return engine, h.fake.venue

    engine, venue = run(scenario())
    assert engine.kill_switch.latched
    assert engine.kill_switch.state.source == "broker_errors"
    assert not venue.open_orders(SPOT)
    assert all(o.status is S.REJECTED for o in engine.oms.orders())
    codes = [e.code for e in engine.journal.load_risk_events()]
    assert "kill_switch" in codes


def test_an_authentication_error_counts_once_per_order(tmp_path):
    async def scenario():
        async with Adapter(max_auth_errors=10) as h:
            engine, _ = await engine_for(h, tmp_path, max_broker_errors=3)
            h.broker.on_broker_error = engine.report_broker_error
            h.fake.faults.auth_error = (-1022, "Signature for this request is not valid.", 400)
            engine.submit(limit("BTC/USDT", Side.BUY, "0.01", "59000"))
            await engine.runner.wait_idle()
            return engine

    engine = run(scenario())
    # counted once: by the engine, which sees place_order raise
    assert len(engine._broker_errors["binance"]) == 1 and not engine.kill_switch.latched
    assert [o.status for o in engine.oms.orders()] == [S.REJECTED]


def test_connection_state_reaches_the_engine_gate(tmp_path):
    async def scenario():
        async with Adapter() as h:
            engine, _ = await engine_for(h, tmp_path)
            h.fake.faults.refuse_ws = True
            h.fake.drop_ws()
            await until(lambda: h.broker.state is ConnectionState.RECONNECTING)
            refused = engine.submit(limit("BTC/USDT", Side.BUY, "0.01", "59000"))
            h.fake.faults.refuse_ws = False
            await until(lambda: h.broker.state is ConnectionState.CONNECTED, timeout=5)
            accepted = engine.submit(limit("BTC/USDT", Side.BUY, "0.01", "59000"))
            await engine.runner.wait_idle()
            return refused, accepted, [e for e in h.record.of(RiskEvent)]

    refused, accepted, _ = run(scenario())
    assert refused.rejection.code == "broker_disconnected" and accepted.accepted


def test_a_fill_during_a_disconnect_is_applied_once_by_the_oms(tmp_path):
    async def scenario():
        async with Adapter(markets=["linear"]) as h:
            engine, db = await engine_for(h, tmp_path)
            o = engine.submit(limit("BTC/USDT:USDT", Side.BUY, "0.004", "59000.0")).order
            await until(lambda: engine.oms.get(o.client_order_id).status is S.ACCEPTED)
            h.fake.faults.refuse_ws = True
            h.fake.drop_ws()
            await until(lambda: h.broker.state is ConnectionState.RECONNECTING)
            h.fake.venue.fill(LINEAR, "BTCUSDT", o.client_order_id)  # nobody hears it
            await asyncio.sleep(0.2)
            h.fake.faults.refuse_ws = False
            h.fake.faults.duplicate_user_events = True
            await until(lambda: engine.oms.get(o.client_order_id).status is S.FILLED, timeout=5)
            for _ in range(2):
                await h.broker.reconcile("test")
            await engine.runner.wait_idle()
            return engine, db, o

    engine, db, o = run(scenario())
    assert len(rows(db, s.fills, client_order_id=o.client_order_id)) == 1
    assert engine.ledger.quantity("binance", "BTC/USDT:USDT") == D("0.004")
    assert engine.oms.quarantined == 0
