"""Vectorized random-walk candles for one UTC day, from the day's open to the next day's."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from qlir_core.candles import COLUMNS
from qlir_core.intervals import HOUR_MS
from qlir_sim.market import time_column

VOLUME_DECIMALS = 5


@dataclass(frozen=True)
class DayPlan:
    """Everything one day's walk depends on, besides its random generator."""

    day_start_ms: int
    interval_ms: int
    open_price: float
    next_open: float  # the day's last close: the next day starts from it
    decimals: int  # price tick = 10**-decimals
    daily_vol: float  # standard deviation of the day's log return
    quote_volume_per_day: float


def walk_day(plan: DayPlan, rng: np.random.Generator) -> pd.DataFrame:
    """The day's candles: a Brownian bridge from open to next open; wicks, volumes, trades."""
    n = int(24 * HOUR_MS // plan.interval_ms)
    sigma = plan.daily_vol / np.sqrt(n)
    # Volatility clusters: a slowly varying multiplier, so quiet and busy stretches alternate.
    regime = np.exp(np.convolve(rng.normal(0, 0.35, n), np.ones(8) / 8)[:n] * 2)
    steps = rng.normal(0.0, sigma, n) * regime
    path = np.cumsum(steps)
    share = np.arange(1, n + 1) / n
    target = np.log(plan.next_open / plan.open_price)
    closes = plan.open_price * np.exp(path - share * path[-1] + share * target)

    tick = 10.0**-plan.decimals
    closes = np.maximum(np.round(closes, plan.decimals), tick)
    closes[-1] = plan.next_open
    opens = np.concatenate(([plan.open_price], closes[:-1]))
    body_high = np.maximum(opens, closes)
    body_low = np.minimum(opens, closes)
    wick = np.abs(rng.normal(0.0, sigma * 0.7, (2, n))) * regime
    highs = np.maximum(np.round(body_high * np.exp(wick[0]), plan.decimals), body_high)
    lows = np.minimum(np.round(body_low * np.exp(-wick[1]), plan.decimals), body_low)
    lows = np.where(lows > 0, lows, body_low)

    opens_ms = plan.day_start_ms + np.arange(n, dtype=np.int64) * plan.interval_ms
    hours = (opens_ms % (24 * HOUR_MS)) / HOUR_MS
    diurnal = 1.0 + 0.4 * np.cos(2 * np.pi * (hours - 15.0) / 24.0)  # busiest around 15:00 UTC
    activity = rng.lognormal(0.0, 0.5, n) * diurnal * (1.0 + 0.5 * np.abs(steps) / sigma)
    typical = (opens + highs + lows + closes) / 4.0
    quote_target = plan.quote_volume_per_day / n * activity / activity.mean()
    volume = np.maximum(np.round(quote_target / typical, VOLUME_DECIMALS), 10.0**-VOLUME_DECIMALS)
    quote = np.round(volume * typical, 8)
    taker_share = rng.beta(8.0, 8.0, n)
    taker = np.minimum(np.round(volume * taker_share, VOLUME_DECIMALS), volume)
    taker_quote = np.minimum(np.round(taker * typical, 8), quote)
    trade_size = 150.0 * rng.lognormal(0.0, 0.3, n)  # quote currency per trade
    trades = np.maximum(np.round(quote / trade_size), 1).astype(np.int64)

    values = {
        "open_time": time_column(opens_ms),
        "open": opens,
        "high": highs,
        "low": lows,
        "close": closes,
        "volume": volume,
        "close_time": time_column(opens_ms + plan.interval_ms - 1),
        "quote_volume": quote,
        "trades": trades,
        "taker_buy_base_volume": taker,
        "taker_buy_quote_volume": taker_quote,
    }
    return pd.DataFrame({c: values[c] for c in COLUMNS})
