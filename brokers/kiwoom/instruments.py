"""Kiwoom's stock master -> engine ``Instrument`` records with KRX rules.

``GetCodeListByMarket`` lists codes per market: "0" KOSPI, "10" KOSDAQ, "8" ETF,
"50" KONEX. Each becomes ``krx_stock`` (KRX tick table, ±30% band, commission,
the sell tax of its board by date, no short selling); ETFs get the flat 5-won
tick and no sell tax. ``GetMasterLastPrice`` is the previous close: the base
of the day's band, kept for the adapter's pre-checks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from brokers.kiwoom.parsing import to_price
from engine.models import Instrument, krx_stock

MARKETS = {"0": "KOSPI", "10": "KOSDAQ", "8": "ETF", "50": "KONEX"}
DEFAULT_MARKETS = ("0", "10", "8")


@dataclass(frozen=True, slots=True)
class MasterEntry:
    instrument: Instrument
    base_price: int  # previous close; 0 if the control did not say


def instrument_for(code: str, name: str, market: str, commission: Decimal) -> Instrument:
    etf = market == "8"
    board = {"10": "KOSDAQ", "50": "KONEX"}.get(market, "KOSPI")
    return krx_stock(code, name=name, board=board, etf=etf, commission=commission)


def from_master(rows: Iterable[Mapping[str, str]], commission: Decimal) -> dict[str, MasterEntry]:
    """The ``master`` request's rows -> {code: MasterEntry}; malformed rows are skipped."""
    out: dict[str, MasterEntry] = {}
    for row in rows:
        code = str(row.get("code", "")).strip()
        if not code or code in out:
            continue
        try:
            base = to_price(row.get("last_price", ""))
        except ValueError:
            base = 0
        out[code] = MasterEntry(instrument_for(code, str(row.get("name", "")).strip(),
                                               str(row.get("market", "0")), commission), base)
    return out
