"""ccxt markets -> engine ``Instrument``s, with the venue's exact rules as Decimals.

Binance reports tick and step sizes as strings in ``exchangeInfo`` filters
(``PRICE_FILTER.tickSize``, ``LOT_SIZE.stepSize``); ccxt turns them into floats
under ``precision`` (TICK_SIZE mode). The strings are used when present, so a
0.1 tick is exactly ``Decimal("0.1")``; otherwise the float's shortest repr.

Only spot markets and linear perpetual swaps become instruments; dated
futures, inverse contracts and options are skipped.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from engine.models import AssetClass, FeeSchedule, Instrument, TickSchedule
from engine.models.numbers import ONE

VENUE = "BINANCE"
DEFAULT_PERP_LEVERAGE = Decimal(20)


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    d = Decimal(str(value)) if not isinstance(value, Decimal) else value
    return d.normalize() if d else d


def _filters(market: dict[str, Any]) -> dict[str, dict[str, Any]]:
    info = market.get("info") or {}
    return {str(f.get("filterType")): f for f in info.get("filters", []) if isinstance(f, dict)}


def market_kind(market: dict[str, Any]) -> str | None:
    """``spot`` or ``linear`` (perpetual swap) - the two kinds this adapter trades."""
    if market.get("spot"):
        return "spot"
    if market.get("swap") and market.get("linear"):
        return "linear"
    return None


def tick_size(market: dict[str, Any]) -> Decimal:
    tick = _decimal(_filters(market).get("PRICE_FILTER", {}).get("tickSize"))
    return tick or _decimal(market["precision"]["price"]) or Decimal("0.01")


def step_size(market: dict[str, Any]) -> Decimal:
    step = _decimal(_filters(market).get("LOT_SIZE", {}).get("stepSize"))
    return step or _decimal(market["precision"]["amount"]) or Decimal("0.00000001")


def instrument_from_market(market: dict[str, Any], *, leverage: int | None = None,
                           venue: str = VENUE) -> Instrument | None:
    """The engine's view of one ccxt market, or None for kinds not traded here."""
    kind = market_kind(market)
    if kind is None or market.get("active") is False:
        return None
    filters = _filters(market)
    step = step_size(market)
    limits = market.get("limits") or {}
    min_qty = _decimal((limits.get("amount") or {}).get("min")) or step
    notional = filters.get("NOTIONAL", {}).get("minNotional") or \
        filters.get("MIN_NOTIONAL", {}).get("notional") or \
        filters.get("MIN_NOTIONAL", {}).get("minNotional") or \
        (limits.get("cost") or {}).get("min")
    maker = _decimal(market.get("maker")) or Decimal(0)
    taker = _decimal(market.get("taker")) or Decimal(0)
    settle = market.get("settle") or market["quote"]
    perp = kind == "linear"
    if perp:
        max_lev = Decimal(leverage) if leverage else (
            _decimal((limits.get("leverage") or {}).get("max")) or DEFAULT_PERP_LEVERAGE)
    else:
        max_lev = ONE
    return Instrument(
        symbol=market["symbol"],
        venue=venue,
        asset_class=AssetClass.CRYPTO_PERP if perp else AssetClass.CRYPTO_SPOT,
        currency=settle if perp else market["quote"],
        tick_schedule=TickSchedule.constant(tick_size(market)),
        lot_size=step,
        min_qty=max(min_qty, step),
        min_notional=_decimal(notional) or Decimal(0),
        fees=FeeSchedule(maker=maker, taker=taker),
        currency_unit=Decimal("0.00000001"),
        calendar="24/7",
        name=market.get("id", ""),
        contract_size=_decimal(market.get("contractSize")) or ONE,
        max_leverage=max_lev,
        allows_short=perp,
        base_asset=market["base"],
    )
