"""The database schema: every table the terminal stores, as SQLAlchemy Core.

This module describes the schema at the newest migration; the migrations in
``engine/storage/migrations/versions`` create and evolve real databases, and a
test checks that both agree. Conventions for everyone writing to these tables:

* Time is ``*_ns``: integer nanoseconds since the Unix epoch, UTC (BIGINT).
* Money and quantities (orders, fills, positions, instruments) are ``DecimalText``:
  the exact decimal as text, never a float. They do not sort numerically in SQL.
* Enums are stored as their string values (``Side.BUY`` -> ``'BUY'``).
* JSON columns are ``JSONText``: compact, key-sorted JSON in a TEXT column.
* Market data (bars, trades) is float, like the in-memory records.

Writers should use ``Database.begin()`` (one transaction, the write lock taken
up front on SQLite) and commit before they tell anyone about the change.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
)

from engine.storage.types import DecimalText, JSONText

# Named constraints let Alembic alter them later (SQLite rebuilds tables by name).
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

# An auto-incrementing 64-bit key: SQLite only auto-increments "INTEGER PRIMARY KEY".
SerialKey = BigInteger().with_variant(Integer(), "sqlite")

BACKTEST_STATUSES = ("running", "complete", "failed", "cancelled")


def _text(name: str, *, nullable: bool = False, default: str | None = "") -> Column:
    """A TEXT column that is '' rather than NULL when unknown (simpler queries)."""
    if default is None:
        return Column(name, Text, nullable=nullable)
    return Column(name, Text, nullable=nullable, server_default=default)


# ---- reference data ---------------------------------------------------------

instruments = Table(
    "instruments",
    metadata,
    Column("id", SerialKey, primary_key=True, autoincrement=True),
    Column("symbol", Text, nullable=False),
    Column("venue", Text, nullable=False),
    Column("asset_class", Text, nullable=False),  # engine.models.AssetClass value
    Column("currency", Text, nullable=False),
    # {"top_tick": "1000", "bands": [["2000", "1"], ...]}
    Column("tick_schedule", JSONText, nullable=False),
    Column("lot_size", DecimalText, nullable=False),
    Column("min_qty", DecimalText, nullable=False),
    Column("min_notional", DecimalText, nullable=False),
    Column("price_band_pct", DecimalText, nullable=True),
    # {"maker": "0.00015", "taker": "0.00015", "sell_tax": [["2025-01-01", "0.0015"], ...]}
    Column("fee_schedule", JSONText, nullable=False),
    Column("currency_unit", DecimalText, nullable=False),
    _text("calendar", default="24/7"),
    _text("name"),
    _text("board"),
    Column("contract_size", DecimalText, nullable=False),
    Column("max_leverage", DecimalText, nullable=False),
    Column("allows_short", Boolean, nullable=False),
    _text("base_asset"),
    Column("updated_ns", BigInteger, nullable=False),
    UniqueConstraint("symbol", "venue"),
)

# ---- market data --------------------------------------------------------------

# One row per bar; the key is the natural one, so an import of the same file twice
# replaces rather than duplicates. WITHOUT ROWID on SQLite: one B-tree, not two.
bars = Table(
    "bars",
    metadata,
    Column("symbol", Text, nullable=False),
    Column("timeframe", Text, nullable=False),  # canonical Timeframe name: '1m', '1h', '1d'
    Column("ts_ns", BigInteger, nullable=False),  # bar OPEN time
    Column("open", Float, nullable=False),
    Column("high", Float, nullable=False),
    Column("low", Float, nullable=False),
    Column("close", Float, nullable=False),
    Column("volume", Float, nullable=False),
    Column("trades", Integer, nullable=True),
    Column("vwap", Float, nullable=True),
    Column("source", Text, nullable=False),  # 'import', 'synthetic', 'broker', ...
    PrimaryKeyConstraint("symbol", "timeframe", "ts_ns"),
    CheckConstraint("high >= low", name="high_ge_low"),
    CheckConstraint("volume >= 0", name="volume_nonnegative"),
    sqlite_with_rowid=False,
)

# One row per trade (tick) of a symbol, as a trade file or a feed reports them.
# Several trades can share a time: ``seq`` is a trade's position among those of
# its symbol at the same ts_ns (from 0), so an import of the same file again
# replaces rather than duplicates, and the order of equal times survives.
trades = Table(
    "trades",
    metadata,
    Column("symbol", Text, nullable=False),
    Column("ts_ns", BigInteger, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("price", Float, nullable=False),
    Column("size", Float, nullable=False),
    # The aggressor: 'BUY', 'SELL', '' (unknown). Checked by the writer, not here: a
    # CHECK (side IN ...) doubles the time of a million-row import on SQLite.
    Column("side", Text, nullable=False),
    Column("source", Text, nullable=False),  # 'import', 'broker', ...
    PrimaryKeyConstraint("symbol", "ts_ns", "seq"),
    CheckConstraint("price > 0", name="price_positive"),
    CheckConstraint("size >= 0", name="size_nonnegative"),
    sqlite_with_rowid=False,
)

# ---- the OMS journal ----------------------------------------------------------

# The latest state of every order (engine.models.Order), upserted on each change.
orders = Table(
    "orders",
    metadata,
    Column("client_order_id", Text, primary_key=True),
    Column("broker", Text, nullable=False),
    Column("symbol", Text, nullable=False),
    Column("side", Text, nullable=False),
    Column("order_type", Text, nullable=False),
    Column("quantity", DecimalText, nullable=False),
    Column("price", DecimalText, nullable=True),
    Column("stop_price", DecimalText, nullable=True),
    Column("time_in_force", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("filled_qty", DecimalText, nullable=False),
    Column("avg_fill_price", DecimalText, nullable=True),
    _text("broker_order_id"),
    Column("source", Text, nullable=False),
    _text("strategy_id"),
    _text("tag"),
    Column("reduce_only", Boolean, nullable=False),
    Column("post_only", Boolean, nullable=False),
    Column("created_ns", BigInteger, nullable=False),
    Column("updated_ns", BigInteger, nullable=False),
    _text("reason"),
    Index(None, "status"),  # open orders on start-up
    Index(None, "broker", "broker_order_id"),  # a broker's report -> our order
)

# Append-only: one row per state change, never updated or deleted.
order_events = Table(
    "order_events",
    metadata,
    Column("seq", SerialKey, primary_key=True, autoincrement=True),
    Column("client_order_id", Text, ForeignKey("orders.client_order_id"), nullable=False),
    Column("ts_ns", BigInteger, nullable=False),
    Column("kind", Text, nullable=False),  # 'submitted', 'accepted', 'fill', 'cancel_requested', ...
    Column("status", Text, nullable=False),  # OrderStatus after the change
    Column("payload", JSONText, nullable=False),  # the full order after the change
    Index(None, "client_order_id", "seq"),
)

# Executions, idempotent by (broker, fill_id). No foreign key to orders on
# purpose: a fill the broker reports is a fact to keep even if its order is unknown.
fills = Table(
    "fills",
    metadata,
    Column("id", SerialKey, primary_key=True, autoincrement=True),
    Column("broker", Text, nullable=False),
    Column("fill_id", Text, nullable=False),
    Column("client_order_id", Text, nullable=False),
    Column("symbol", Text, nullable=False),
    Column("side", Text, nullable=False),
    Column("quantity", DecimalText, nullable=False),
    Column("price", DecimalText, nullable=False),
    Column("ts_ns", BigInteger, nullable=False),
    Column("commission", DecimalText, nullable=False),
    Column("tax", DecimalText, nullable=False),
    Column("liquidity", Text, nullable=False),
    _text("broker_order_id"),
    Column("fee_in_kind", DecimalText, nullable=False, server_default="0"),
    UniqueConstraint("broker", "fill_id"),
    Index(None, "client_order_id"),
)

position_snapshots = Table(
    "position_snapshots",
    metadata,
    Column("id", SerialKey, primary_key=True, autoincrement=True),
    Column("broker", Text, nullable=False),
    Column("symbol", Text, nullable=False),
    Column("ts_ns", BigInteger, nullable=False),
    Column("quantity", DecimalText, nullable=False),  # signed: negative = short
    Column("avg_price", DecimalText, nullable=False),
    Column("cost_basis", DecimalText, nullable=False),
    Column("realized_pnl", DecimalText, nullable=False),
    Column("fees", DecimalText, nullable=False),
    Column("last_price", DecimalText, nullable=True),
    Column("contract_size", DecimalText, nullable=False),
    Index(None, "broker", "symbol", "ts_ns"),
)

risk_events = Table(
    "risk_events",
    metadata,
    Column("seq", SerialKey, primary_key=True, autoincrement=True),
    Column("ts_ns", BigInteger, nullable=False),
    Column("code", Text, nullable=False),
    Column("severity", Text, nullable=False),  # info | warning | critical
    Column("message", Text, nullable=False),
    _text("symbol"),
    _text("broker"),
    _text("client_order_id"),
    Column("details", JSONText, nullable=False),
    Index(None, "ts_ns"),
)

# Small named values that must survive a restart: the kill-switch latch,
# opening cash, a strategy's state. ``value`` is any JSON document.
engine_state = Table(
    "engine_state",
    metadata,
    Column("key", Text, primary_key=True),
    Column("value", JSONText, nullable=False),
    Column("updated_ns", BigInteger, nullable=False),
)

# ---- backtests ------------------------------------------------------------------

backtest_runs = Table(
    "backtest_runs",
    metadata,
    Column("id", SerialKey, primary_key=True, autoincrement=True),
    Column("created_ns", BigInteger, nullable=False),
    Column("strategy", Text, nullable=False),
    Column("params", JSONText, nullable=False),
    Column("symbol", Text, nullable=False),
    Column("timeframe", Text, nullable=False),
    Column("start_ns", BigInteger, nullable=True),
    Column("end_ns", BigInteger, nullable=True),
    Column("status", Text, nullable=False, server_default="running"),
    Column("metrics", JSONText, nullable=True),  # engine.backtest.metrics, once complete
    Column("finished_ns", BigInteger, nullable=True),
    # Why a run failed or was cancelled (added in revision 0002).
    _text("error"),
    CheckConstraint(
        "status IN (" + ", ".join(f"'{s}'" for s in BACKTEST_STATUSES) + ")", name="status"
    ),
    Index(None, "created_ns"),
)

# Round trips of a run (engine.backtest.trades.RoundTrip), deleted with the run.
backtest_trades = Table(
    "backtest_trades",
    metadata,
    Column("id", SerialKey, primary_key=True, autoincrement=True),
    Column("run_id", SerialKey, ForeignKey("backtest_runs.id", ondelete="CASCADE"),
           nullable=False),
    Column("seq", Integer, nullable=False),  # order within the run
    Column("symbol", Text, nullable=False),
    Column("direction", Integer, nullable=False),  # +1 long, -1 short
    Column("quantity", DecimalText, nullable=False),
    Column("entry_ns", BigInteger, nullable=False),
    Column("entry_price", DecimalText, nullable=False),
    Column("exit_ns", BigInteger, nullable=False),
    Column("exit_price", DecimalText, nullable=False),
    Column("gross_pnl", DecimalText, nullable=False),
    Column("fees", DecimalText, nullable=False),
    UniqueConstraint("run_id", "seq"),
)
