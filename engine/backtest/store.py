"""Backtest runs kept in the database (``backtest_runs`` / ``backtest_trades``).

``save_run`` writes a *completed* run, its row and every round trip, in one
transaction: a reader sees the whole run or nothing. A run only completes by
returning a ``BacktestResult`` from ``run_backtest``; a cancelled or failed run
has no result, so it can never be stored as complete. To keep a record of why
a run did not finish, ``save_unfinished_run`` stores a row with status
``cancelled`` or ``failed``, the error text, no metrics and no trades.

The schema has no columns for the run's settings or its equity curve, so the
``metrics`` JSON column holds a small document (``RUN_DOCUMENT_VERSION``)::

    {"version": 1,
     "metrics": {...Metrics.as_dict(); NaN as null, +/-inf as "inf"/"-inf"...},
     "config":  {"cash", "commission", "slippage_bps", "currency", "symbols", ...},
     "equity":  {"initial", "final", "peak", "trough", "points",
                 "curve": [[time_ns, equity], ...]},   # thinned to <= 1,200 points
     "warnings": [...], "origin": "where the bars came from", "bars": n,
     "elapsed_s": seconds}

``list_runs`` gives the newest runs first; ``load_run`` reads one back with its
trades as ``RoundTrip`` records (exact decimals) and its thinned equity curve.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field, is_dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sqlalchemy import delete, desc, select

from engine.backtest.report import thin_curve
from engine.backtest.trades import RoundTrip
from engine.errors import UserError
from engine.models import Timeframe
from engine.storage import Database
from engine.storage.schema import backtest_runs, backtest_trades

if TYPE_CHECKING:
    from engine.backtest.runner import BacktestConfig, BacktestResult

RUN_DOCUMENT_VERSION = 1
STORED_CURVE_POINTS = 1_200


@dataclass(frozen=True)
class RunSummary:
    """One row of ``backtest_runs`` as the results list shows it."""

    id: int
    created: pd.Timestamp
    strategy: str
    symbol: str  # comma-separated when the run traded several symbols
    timeframe: str
    params: dict[str, Any]
    start: pd.Timestamp | None
    end: pd.Timestamp | None
    status: str  # running | complete | failed | cancelled
    metrics: dict[str, Any] | None  # None unless complete
    error: str


@dataclass(frozen=True)
class StoredRun:
    """A stored run in full: its summary, settings, thinned equity curve and trades."""

    summary: RunSummary
    config: dict[str, Any]
    equity: pd.Series
    equity_summary: dict[str, Any]
    trades: list[RoundTrip] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    origin: str = ""


# ---- JSON that survives NaN and infinity (the column refuses them) ----------------------


def json_safe(value: Any) -> Any:
    """``value`` with NaN as None and infinities as "inf"/"-inf" (strict JSON allows neither)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def _metrics_from_json(doc: dict[str, Any]) -> dict[str, Any]:
    from engine.backtest.metrics import Metrics

    kinds = {f.name: f.type for f in Metrics.__dataclass_fields__.values()}
    out: dict[str, Any] = {}
    for key, value in doc.items():
        if kinds.get(key) == "float":
            if value is None:
                value = float("nan")
            elif value in ("inf", "-inf"):
                value = float(value)
        out[key] = value
    return out


def _config_doc(config: BacktestConfig) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    for name in config.__dataclass_fields__:
        value = getattr(config, name)
        if is_dataclass(value) and not isinstance(value, type):
            value = asdict(value)
        elif isinstance(value, tuple):
            value = list(value)
        doc[name] = dict(value) if name == "params" else value
    return json_safe(doc)


def _equity_doc(equity: pd.Series) -> dict[str, Any]:
    thin = thin_curve(equity, STORED_CURVE_POINTS)
    ns = thin.index.as_unit("ns").asi8.tolist()
    return json_safe({
        "initial": float(equity.iloc[0]), "final": float(equity.iloc[-1]),
        "peak": float(equity.max()), "trough": float(equity.min()), "points": len(equity),
        "curve": [[t, float(v)] for t, v in zip(ns, thin.to_numpy(float), strict=True)],
    })


def _ns(ts: pd.Timestamp | str | None) -> int | None:
    if ts is None:
        return None
    stamp = pd.Timestamp(ts)
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    return int(stamp.as_unit("ns").value)


# ---- writing --------------------------------------------------------------------------------


def save_run(db: Database, result: BacktestResult, *, origin: str = "") -> int:
    """Store a completed run and its trades in one transaction; returns the run id."""
    cfg = result.config
    now = time.time_ns()
    # The equity curve is stamped at bar closes; the run's range is of bar open times.
    bar_ns = Timeframe.parse(cfg.timeframe).ns
    document = {
        "version": RUN_DOCUMENT_VERSION,
        "metrics": json_safe(result.metrics.as_dict()),
        "config": _config_doc(cfg),
        "equity": _equity_doc(result.equity),
        "warnings": list(result.warnings),
        "origin": origin,
        "bars": result.bars,
        "elapsed_s": result.elapsed_s,
    }
    row = {
        "created_ns": now, "strategy": cfg.strategy, "params": json_safe(dict(cfg.params)),
        "symbol": ",".join(cfg.symbols), "timeframe": cfg.timeframe,
        "start_ns": int(result.equity.index[0].value) - bar_ns,
        "end_ns": int(result.equity.index[-1].value) - bar_ns,
        "status": "complete", "metrics": document, "finished_ns": now, "error": "",
    }
    with db.begin() as conn:
        key = conn.execute(backtest_runs.insert().values(row)).inserted_primary_key
        assert key is not None
        run_id = int(key[0])
        if result.trades:
            conn.execute(backtest_trades.insert(), [{
                "run_id": run_id, "seq": seq, "symbol": t.symbol, "direction": t.direction,
                "quantity": t.quantity, "entry_ns": t.entry_ns, "entry_price": t.entry_price,
                "exit_ns": t.exit_ns, "exit_price": t.exit_price, "gross_pnl": t.gross_pnl,
                "fees": t.fees,
            } for seq, t in enumerate(result.trades)])
    return run_id


def save_unfinished_run(db: Database, config: BacktestConfig, error: str, *,
                        cancelled: bool = False) -> int:
    """Record a run that did not complete (status cancelled or failed, no metrics)."""
    now = time.time_ns()
    row = {
        "created_ns": now, "strategy": config.strategy, "params": json_safe(dict(config.params)),
        "symbol": ",".join(config.symbols), "timeframe": config.timeframe,
        "start_ns": _ns(config.start), "end_ns": _ns(config.end),
        "status": "cancelled" if cancelled else "failed", "metrics": None,
        "finished_ns": now, "error": str(error) or ("cancelled" if cancelled else "failed"),
    }
    with db.begin() as conn:
        key = conn.execute(backtest_runs.insert().values(row)).inserted_primary_key
        assert key is not None
        return int(key[0])


def delete_run(db: Database, run_id: int) -> bool:
    """Delete a run and its trades; False if there was no such run."""
    with db.begin() as conn:
        conn.execute(delete(backtest_trades).where(backtest_trades.c.run_id == run_id))
        return bool(conn.execute(delete(backtest_runs).where(backtest_runs.c.id == run_id))
                    .rowcount)


# ---- reading --------------------------------------------------------------------------------


def _time(ns: int | None) -> pd.Timestamp | None:
    return None if ns is None else pd.Timestamp(ns, unit="ns", tz="UTC")


def _summary(row: Any) -> RunSummary:
    doc = row.metrics or {}
    metrics = _metrics_from_json(doc.get("metrics", {})) if row.status == "complete" else None
    return RunSummary(
        id=int(row.id), created=pd.Timestamp(row.created_ns, unit="ns", tz="UTC"),
        strategy=row.strategy, symbol=row.symbol, timeframe=row.timeframe,
        params=dict(row.params or {}), start=_time(row.start_ns), end=_time(row.end_ns),
        status=row.status, metrics=metrics, error=row.error or "",
    )


def list_runs(db: Database, *, strategy: str | None = None, symbol: str | None = None,
              status: str | None = None, limit: int = 50) -> list[RunSummary]:
    """Stored runs, newest first, optionally filtered."""
    query = select(backtest_runs).order_by(desc(backtest_runs.c.created_ns),
                                           desc(backtest_runs.c.id)).limit(limit)
    if strategy is not None:
        query = query.where(backtest_runs.c.strategy == strategy)
    if symbol is not None:
        query = query.where(backtest_runs.c.symbol == symbol)
    if status is not None:
        query = query.where(backtest_runs.c.status == status)
    with db.connect() as conn:
        return [_summary(r) for r in conn.execute(query)]


def load_run(db: Database, run_id: int) -> StoredRun:
    """One stored run with its trades; ``UserError`` if there is no such run."""
    with db.connect() as conn:
        row = conn.execute(select(backtest_runs).where(backtest_runs.c.id == run_id)).first()
        if row is None:
            raise UserError(f"no backtest run {run_id} in {db}")
        trade_rows = conn.execute(select(backtest_trades)
                                  .where(backtest_trades.c.run_id == run_id)
                                  .order_by(backtest_trades.c.seq)).all()
    doc = row.metrics or {}
    eq = doc.get("equity") or {}
    curve = eq.get("curve") or []
    equity = pd.Series([float(v) for _, v in curve],
                       index=pd.to_datetime([int(t) for t, _ in curve], unit="ns", utc=True),
                       name="equity", dtype=float)
    trades = [RoundTrip(symbol=t.symbol, direction=int(t.direction), quantity=t.quantity,
                        entry_ns=int(t.entry_ns), entry_price=t.entry_price,
                        exit_ns=int(t.exit_ns), exit_price=t.exit_price,
                        gross_pnl=t.gross_pnl, fees=t.fees) for t in trade_rows]
    return StoredRun(summary=_summary(row), config=dict(doc.get("config") or {}), equity=equity,
                     equity_summary={k: v for k, v in eq.items() if k != "curve"},
                     trades=trades, warnings=list(doc.get("warnings") or []),
                     origin=str(doc.get("origin") or ""))
