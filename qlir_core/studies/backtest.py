"""A backtest of the per-candle marks (docs/STUDIES.md, "Marks backtest"): per tail level, enter
where a leg's mark first reaches it, exit when the leg ends. It uses only the no-look-ahead marks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from qlir_core.candles import open_ms as candle_open_ms
from qlir_core.indicators import BoolArray, FloatArray, IntArray, follows_previous
from qlir_core.studies.marks import DIRECTION_DTYPE, leg_thresholds
from qlir_core.studies.sma import DEFAULT_WINDOWS, Direction, window_legs
from qlir_core.studies.tails import TAIL_LEVELS

DEFAULT_FEE_BPS = 10.0  # round trip
TRADE_COLUMNS = (
    *("series", "window", "direction", "level", "entry_time", "exit_time"),
    *("entry_price", "exit_price", "return_bps"),
)
RESULT_COLUMNS = (
    *("series", "window", "direction", "level", "trades", "hit_rate", "mean_bps", "median_bps"),
    *("fee_bps", "net_hit_rate", "net_mean_bps", "net_median_bps"),
)
LEVEL_DTYPE = pd.CategoricalDtype(list(TAIL_LEVELS), ordered=True)


@dataclass(frozen=True)
class MarksBacktest:
    """trades: one row per trade (TRADE_COLUMNS); results: one row per (window, direction,
    level) (RESULT_COLUMNS), gross and net of the round-trip fee."""

    trades: pd.DataFrame
    results: pd.DataFrame


def marks_backtest(
    candles: pd.DataFrame,
    *,
    series: str,
    windows: Sequence[int] = DEFAULT_WINDOWS,
    price: str = "open",
    flat_tol: float = 1e-9,
    fee_bps: float = DEFAULT_FEE_BPS,
    interval_ms: int | None = None,
) -> MarksBacktest:
    """Trades on the marks of one series' history (sorted by open time).

    A mark on the SMA of opens is known when its candle opens, so trades fill at the open of the
    entry candle and of the candle that ends the leg; on another price, at those candles' close.
    A leg cut by a gap exits at the close of its last candle; a leg still running is no trade.
    """
    opens_ms = candle_open_ms(candles)
    follows = follows_previous(opens_ms, interval_ms)
    values = candles[price].to_numpy(dtype=np.float64)
    fill = candles["open" if price == "open" else "close"].to_numpy(dtype=np.float64)
    last_close = candles["close"].to_numpy(dtype=np.float64)
    times = candles["open_time"].reset_index(drop=True)
    trades = []
    for window in windows:
        legs = window_legs(values, opens_ms, follows, window, flat_tol, interval_ms)
        for direction, found in legs.items():
            lengths = found.lengths
            exit_row, exit_price = _exits(found.ends, follows, fill, last_close)
            for level, bars in leg_thresholds(lengths).items():
                take = ~np.isnan(bars) & (lengths >= np.nan_to_num(bars, nan=0)) & (exit_row >= 0)
                entry = found.starts[take] + bars[take].astype(np.int64) - 1
                trades.append(
                    _trades(
                        series,
                        window,
                        direction,
                        level,
                        times,
                        entry,
                        fill[entry],
                        exit_row[take],
                        exit_price[take],
                    )
                )
    table = pd.concat(trades, ignore_index=True).loc[:, list(TRADE_COLUMNS)]
    return MarksBacktest(trades=table, results=_results(series, table, windows, fee_bps))


def _exits(
    ends: IntArray, follows: BoolArray, fill: FloatArray, last_close: FloatArray
) -> tuple[IntArray, FloatArray]:
    """Per leg: the row and price it exits at (−1 and NaN while it is still running)."""
    n = len(fill)
    after = ends + 1
    has_next = after < n
    contiguous = np.zeros(len(ends), dtype=np.bool_)
    contiguous[has_next] = follows[after[has_next]]
    gap = has_next & ~contiguous
    row = np.where(contiguous, after, np.where(gap, ends, -1))
    price = np.full(len(ends), np.nan)
    price[contiguous] = fill[after[contiguous]]
    price[gap] = last_close[ends[gap]]
    return row.astype(np.int64), price


def _trades(
    series: str,
    window: int,
    direction: Direction,
    level: str,
    times: pd.Series,
    entry: IntArray,
    entry_price: FloatArray,
    exit_row: IntArray,
    exit_price: FloatArray,
) -> pd.DataFrame:
    n = len(entry)
    return pd.DataFrame(
        {
            "series": series,
            "window": np.full(n, window, dtype=np.int64),
            "direction": pd.Categorical([direction.value] * n, dtype=DIRECTION_DTYPE),
            "level": pd.Categorical([level] * n, dtype=LEVEL_DTYPE),
            "entry_time": times.iloc[entry].reset_index(drop=True),
            "exit_time": times.iloc[exit_row].reset_index(drop=True),
            "entry_price": entry_price,
            "exit_price": exit_price,
            "return_bps": direction.sign * (exit_price / entry_price - 1.0) * 1e4,
        }
    )


def _results(
    series: str, trades: pd.DataFrame, windows: Sequence[int], fee_bps: float
) -> pd.DataFrame:
    rows = []
    for window in windows:
        for direction in Direction:
            for level in TAIL_LEVELS:
                chosen = trades[
                    (trades["window"] == window)
                    & (trades["direction"] == direction.value)
                    & (trades["level"] == level)
                ]["return_bps"].to_numpy()
                rows.append(
                    {"series": series, "window": window, "direction": direction.value}
                    | {"level": level, "trades": int(chosen.size)}
                    | _stats(chosen, "")
                    | {"fee_bps": fee_bps}
                    | _stats(chosen - fee_bps, "net_")
                )
    table = pd.DataFrame(rows, columns=list(RESULT_COLUMNS))
    table["direction"] = table["direction"].astype(DIRECTION_DTYPE)
    table["level"] = table["level"].astype(LEVEL_DTYPE)
    return table


def _stats(returns: FloatArray, prefix: str) -> dict[str, float]:
    if returns.size == 0:
        return {
            f"{prefix}hit_rate": np.nan,
            f"{prefix}mean_bps": np.nan,
            f"{prefix}median_bps": np.nan,
        }
    return {
        f"{prefix}hit_rate": float((returns > 0).mean()),
        f"{prefix}mean_bps": float(returns.mean()),
        f"{prefix}median_bps": float(np.median(returns)),
    }
