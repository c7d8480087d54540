"""Binance's kline intervals and time units, as qlir_core.binance states them."""

from qlir_core.binance import DAY_MS, HOUR_MS, MINUTE_MS, SECOND_MS, WEEK_MS, Interval

__all__ = ["DAY_MS", "HOUR_MS", "MINUTE_MS", "SECOND_MS", "WEEK_MS", "Interval"]
