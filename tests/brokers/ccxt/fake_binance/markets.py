"""Markets of the fake venue and their ``exchangeInfo`` entries, shaped like Binance's.

The entries follow the real spot (``/api/v3/exchangeInfo``) and USD-M futures
(``/fapi/v1/exchangeInfo``) answers field for field (2025 shapes: ``NOTIONAL``
on spot, ``MIN_NOTIONAL`` with ``notional`` on futures, ``permissionSets``),
so ccxt's ``parse_market`` runs over the same fields it reads in production.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

D = Decimal
SPOT, LINEAR = "spot", "linear"


@dataclass(frozen=True)
class MarketSpec:
    kind: str  # spot | linear
    id: str
    base: str
    quote: str
    tick: Decimal
    step: Decimal
    min_qty: Decimal
    max_qty: Decimal
    min_notional: Decimal
    maker: Decimal
    taker: Decimal

    @property
    def price_dp(self) -> int:
        return max(0, -self.tick.normalize().as_tuple().exponent)  # type: ignore[operator]

    @property
    def qty_dp(self) -> int:
        return max(0, -self.step.normalize().as_tuple().exponent)  # type: ignore[operator]

    def price(self, value: Decimal) -> str:
        return f"{value:.8f}" if self.kind == SPOT else f"{value:.{self.price_dp}f}"

    def qty(self, value: Decimal) -> str:
        return f"{value:.8f}" if self.kind == SPOT else f"{value:.{self.qty_dp}f}"


DEFAULT_MARKETS = (
    MarketSpec(SPOT, "BTCUSDT", "BTC", "USDT", D("0.01"), D("0.00001"), D("0.00001"), D("9000"),
               D("5"), D("0.001"), D("0.001")),
    MarketSpec(SPOT, "ETHUSDT", "ETH", "USDT", D("0.01"), D("0.0001"), D("0.0001"), D("9000"),
               D("5"), D("0.001"), D("0.001")),
    MarketSpec(LINEAR, "BTCUSDT", "BTC", "USDT", D("0.10"), D("0.001"), D("0.001"), D("1000"),
               D("100"), D("0.0002"), D("0.0005")),
    MarketSpec(LINEAR, "ETHUSDT", "ETH", "USDT", D("0.01"), D("0.001"), D("0.001"), D("10000"),
               D("20"), D("0.0002"), D("0.0005")),
)

SPOT_RATE_LIMITS = [
    {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
    {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
    {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200000},
    {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 61000},
]
FUTURES_RATE_LIMITS = [
    {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 2400},
    {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
    {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 300},
]


def spot_symbol(m: MarketSpec) -> dict[str, object]:
    return {
        "symbol": m.id, "status": "TRADING", "baseAsset": m.base, "baseAssetPrecision": 8,
        "quoteAsset": m.quote, "quotePrecision": 8, "quoteAssetPrecision": 8,
        "baseCommissionPrecision": 8, "quoteCommissionPrecision": 8,
        "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT",
                       "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"],
        "icebergAllowed": True, "ocoAllowed": True, "otoAllowed": True,
        "quoteOrderQtyMarketAllowed": True, "allowTrailingStop": True,
        "cancelReplaceAllowed": True, "amendAllowed": True, "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": m.price(m.tick),
             "maxPrice": "1000000.00000000", "tickSize": m.price(m.tick)},
            {"filterType": "LOT_SIZE", "minQty": m.qty(m.min_qty), "maxQty": m.qty(m.max_qty),
             "stepSize": m.qty(m.step)},
            {"filterType": "ICEBERG_PARTS", "limit": 10},
            {"filterType": "MARKET_LOT_SIZE", "minQty": "0.00000000", "maxQty": "100.00000000",
             "stepSize": "0.00000000"},
            {"filterType": "TRAILING_DELTA", "minTrailingAboveDelta": 10,
             "maxTrailingAboveDelta": 2000, "minTrailingBelowDelta": 10,
             "maxTrailingBelowDelta": 2000},
            {"filterType": "PERCENT_PRICE_BY_SIDE", "bidMultiplierUp": "5",
             "bidMultiplierDown": "0.2", "askMultiplierUp": "5", "askMultiplierDown": "0.2",
             "avgPriceMins": 5},
            {"filterType": "NOTIONAL", "minNotional": m.price(m.min_notional),
             "applyMinToMarket": True, "maxNotional": "9000000.00000000",
             "applyMaxToMarket": False, "avgPriceMins": 5},
            {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 200},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "maxNumAlgoOrders": 5},
        ],
        "permissions": [], "permissionSets": [["SPOT"]],
        "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": ["NONE", "EXPIRE_TAKER", "EXPIRE_MAKER",
                                            "EXPIRE_BOTH", "DECREMENT"],
    }


def linear_symbol(m: MarketSpec) -> dict[str, object]:
    return {
        "symbol": m.id, "pair": m.id, "contractType": "PERPETUAL", "deliveryDate": 4133404800000,
        "onboardDate": 1569398400000, "status": "TRADING", "maintMarginPercent": "2.5000",
        "requiredMarginPercent": "5.0000", "baseAsset": m.base, "quoteAsset": m.quote,
        "marginAsset": m.quote, "pricePrecision": m.price_dp, "quantityPrecision": m.qty_dp,
        "baseAssetPrecision": 8, "quotePrecision": 8, "underlyingType": "COIN",
        "underlyingSubType": ["PoW"], "triggerProtect": "0.0500", "liquidationFee": "0.012500",
        "marketTakeBound": "0.05", "maxMoveOrderLimit": 10000,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": m.price(m.tick), "maxPrice": "4529764",
             "tickSize": m.price(m.tick)},
            {"filterType": "LOT_SIZE", "minQty": m.qty(m.min_qty), "maxQty": m.qty(m.max_qty),
             "stepSize": m.qty(m.step)},
            {"filterType": "MARKET_LOT_SIZE", "minQty": m.qty(m.min_qty), "maxQty": "120",
             "stepSize": m.qty(m.step)},
            {"filterType": "MAX_NUM_ORDERS", "limit": 200},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
            {"filterType": "MIN_NOTIONAL", "notional": f"{m.min_notional}"},
            {"filterType": "PERCENT_PRICE", "multiplierUp": "1.0500", "multiplierDown": "0.9500",
             "multiplierDecimal": "4"},
        ],
        "orderTypes": ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT",
                       "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET"],
        "timeInForce": ["GTC", "IOC", "FOK", "GTX", "GTD"],
        "permissionSets": ["GRID", "COPY"],
    }


def exchange_info(kind: str, markets: list[MarketSpec], server_ms: int) -> dict[str, object]:
    if kind == SPOT:
        return {"timezone": "UTC", "serverTime": server_ms, "rateLimits": SPOT_RATE_LIMITS,
                "exchangeFilters": [], "symbols": [spot_symbol(m) for m in markets]}
    return {"timezone": "UTC", "serverTime": server_ms, "futuresType": "U_MARGINED",
            "rateLimits": FUTURES_RATE_LIMITS, "exchangeFilters": [],
            "assets": [{"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "-10000"}],
            "symbols": [linear_symbol(m) for m in markets]}
