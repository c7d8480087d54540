"""The `GET /api/v3/exchangeInfo` body: every symbol TRADING and spot-enabled, the rate limits."""

from __future__ import annotations

from typing import Any

from qlir_sim.limits import Limits
from qlir_sim.market import split_symbol

_ORDER_TYPES = ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"]


def exchange_info(symbols: list[str], limits: Limits, now_ms: int) -> dict[str, Any]:
    """The body for `symbols`, with the configured REQUEST_WEIGHT limit."""
    unit, count = limits.interval
    return {
        "timezone": "UTC",
        "serverTime": now_ms,
        "rateLimits": [
            {
                "rateLimitType": "REQUEST_WEIGHT",
                "interval": unit,
                "intervalNum": count,
                "limit": limits.weight_limit,
            },
            # Listed as Binance lists it; the local exchange does not enforce it.
            {
                "rateLimitType": "RAW_REQUESTS",
                "interval": "MINUTE",
                "intervalNum": 5,
                "limit": 61000,
            },
        ],
        "exchangeFilters": [],
        "symbols": [_symbol(s) for s in symbols],
    }


def _symbol(symbol: str) -> dict[str, Any]:
    base, quote = split_symbol(symbol)
    return {
        "symbol": symbol,
        "status": "TRADING",
        "baseAsset": base,
        "baseAssetPrecision": 8,
        "quoteAsset": quote,
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "orderTypes": _ORDER_TYPES,
        "icebergAllowed": True,
        "ocoAllowed": True,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "filters": [],
        "permissions": [],
        "permissionSets": [["SPOT"]],
    }
