"""Stored instruments: every trading rule of an ``Instrument``, exactly.

An instrument is identified by (symbol, venue); saving it again replaces it.
Tick and fee schedules are JSON with decimals as strings, so a KRX tick table
or a 0.00015 commission comes back digit for digit.

Example::

    >>> save_instrument(db, krx_stock("005930", name="Samsung Electronics"))
    >>> load_instrument(db, "005930", "KRX").tick_size(71_000)
    Decimal('100')
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, select

from engine.models import AssetClass, FeeSchedule, Instrument, TickSchedule
from engine.storage.database import Database
from engine.storage.schema import instruments
from engine.storage.upsert import upsert

_DECIMALS = ("lot_size", "min_qty", "min_notional", "price_band_pct", "currency_unit",
             "contract_size", "max_leverage")
_TEXTS = ("symbol", "venue", "currency", "calendar", "name", "board", "base_asset")


def instrument_to_row(inst: Instrument, updated_ns: int | None = None) -> dict[str, Any]:
    row: dict[str, Any] = {name: getattr(inst, name) for name in (*_DECIMALS, *_TEXTS)}
    row["asset_class"] = inst.asset_class.value
    row["allows_short"] = inst.allows_short
    row["tick_schedule"] = {
        "top_tick": str(inst.tick_schedule.top_tick),
        "bands": [[str(bound), str(tick)] for bound, tick in inst.tick_schedule.bands],
    }
    row["fee_schedule"] = {
        "maker": str(inst.fees.maker),
        "taker": str(inst.fees.taker),
        "sell_tax": [[start.isoformat(), str(rate)] for start, rate in inst.fees.sell_tax],
    }
    row["updated_ns"] = time.time_ns() if updated_ns is None else updated_ns
    return row


def row_to_instrument(row: Any) -> Instrument:
    m = row._mapping if hasattr(row, "_mapping") else row
    ticks = m["tick_schedule"]
    fees = m["fee_schedule"]
    return Instrument(
        asset_class=AssetClass(m["asset_class"]),
        tick_schedule=TickSchedule(
            top_tick=Decimal(ticks["top_tick"]),
            bands=tuple((Decimal(b), Decimal(t)) for b, t in ticks["bands"]),
        ),
        fees=FeeSchedule(
            maker=Decimal(fees["maker"]),
            taker=Decimal(fees["taker"]),
            sell_tax=tuple((date.fromisoformat(d), Decimal(r)) for d, r in fees["sell_tax"]),
        ),
        allows_short=bool(m["allows_short"]),
        **{name: m[name] for name in (*_DECIMALS, *_TEXTS)},
    )


def write_instruments(conn: Connection, items: Iterable[Instrument]) -> int:
    """Upsert instruments inside the caller's transaction; returns how many."""
    rows = [instrument_to_row(inst) for inst in items]
    if rows:
        conn.execute(upsert(instruments, conn.dialect, ["symbol", "venue"]), rows)
    return len(rows)


def save_instrument(db: Database, inst: Instrument) -> None:
    """Insert ``inst`` or replace the stored instrument with the same symbol and venue."""
    save_instruments(db, [inst])


def save_instruments(db: Database, items: Iterable[Instrument]) -> int:
    """Save several instruments in one transaction; returns how many."""
    with db.begin() as conn:
        return write_instruments(conn, items)


def load_instrument(db: Database, symbol: str, venue: str | None = None) -> Instrument | None:
    """The stored instrument, or None. Without ``venue`` the symbol must be unambiguous."""
    query = select(instruments).where(instruments.c.symbol == symbol)
    if venue is not None:
        query = query.where(instruments.c.venue == venue)
    with db.connect() as conn:
        rows = conn.execute(query).all()
    if len(rows) > 1:
        venues = ", ".join(sorted(r.venue for r in rows))
        raise ValueError(f"symbol {symbol!r} is stored for several venues ({venues}); name one")
    return row_to_instrument(rows[0]) if rows else None


def load_instruments(db: Database) -> list[Instrument]:
    """Every stored instrument, by venue then symbol."""
    query = select(instruments).order_by(instruments.c.venue, instruments.c.symbol)
    with db.connect() as conn:
        return [row_to_instrument(r) for r in conn.execute(query)]
