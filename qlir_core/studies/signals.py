"""The live signal of one series (docs/STUDIES.md, "Live signals"): the open SMA leg of each window
and direction with its survival and the tail level it has reached, and the last closed candle's
band label with what followed that label before.

It reads only what it needs: the last stored days of candles (as many as the open legs span) and
the small per-leg and forward-return tables the studies stored; never the whole candle history.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from qlir_core.candles import open_ms as candle_open_ms
from qlir_core.indicators import bbands, follows_previous
from qlir_core.intervals import DAY_MS
from qlir_core.series import Series
from qlir_core.storage import Store
from qlir_core.studies.band_touch import Label, classify
from qlir_core.studies.sma import DEFAULT_WINDOWS, Direction, window_legs
from qlir_core.studies.tails import TAIL_LEVELS, threshold

SMA_STUDY, BAND_STUDY = "sma_study", "band_touch_study"
BAND_PERIOD = 20
LEG_COLUMNS = (
    *("series", "as_of", "window", "direction", "length", "leg_start"),
    *("history_legs", "survival", "continuation", "level"),
)
CANDLE_COLUMNS = (
    *("series", "open_time", "label", "horizon", "n"),
    *("mean_bps", "median_bps", "share_positive"),
)


@dataclass(frozen=True)
class LiveLeg:
    """The open leg of one window and direction, against the legs that ended before it began.
    `levels` are the tail levels (TAIL_LEVELS names) its length has reached, widest first."""

    window: int
    direction: Direction
    length: int
    start: pd.Timestamp
    history_legs: int
    survival: float  # S(L) over those legs: the share that lasted at least as long
    continuation: float  # c(L): the share of those that went on one more candle
    levels: tuple[str, ...]

    @property
    def level(self) -> str | None:
        """The rarest tail level reached, or None."""
        return self.levels[-1] if self.levels else None


@dataclass(frozen=True)
class LastCandle:
    """The last stored (closed) candle's band label and that label's forward returns."""

    open_time: pd.Timestamp
    label: Label | None
    forward: pd.DataFrame  # horizon, n, mean_bps, median_bps, share_positive


@dataclass(frozen=True)
class Signals:
    series: Series
    as_of: pd.Timestamp  # open time of the last closed candle
    legs: tuple[LiveLeg, ...]
    last: LastCandle

    def legs_table(self) -> pd.DataFrame:
        rows = [
            {
                "series": self.series.key,
                "as_of": self.as_of,
                "window": leg.window,
                "direction": leg.direction.value,
                "length": leg.length,
                "leg_start": leg.start,
                "history_legs": leg.history_legs,
                "survival": leg.survival,
                "continuation": leg.continuation,
                "level": leg.level,
            }
            for leg in self.legs
        ]
        return pd.DataFrame(rows, columns=list(LEG_COLUMNS)).astype(
            {"window": "int64", "length": "int64", "history_legs": "int64"}
        )

    def candle_table(self) -> pd.DataFrame:
        forward = self.last.forward.copy()
        forward.insert(0, "label", None if self.last.label is None else self.last.label.value)
        forward.insert(0, "open_time", self.last.open_time)
        forward.insert(0, "series", self.series.key)
        return forward.loc[:, list(CANDLE_COLUMNS)]

    def line(self) -> str:
        """One line: `BTCUSDT-1m at 2024-01-02 10:37: SMA14 up 12 (S 0.31); …; touch_mid`."""
        parts = [
            f"SMA{leg.window} {leg.direction.value} {leg.length}"
            + (f" (S {leg.survival:.3g})" if leg.history_legs else "")
            + (f" {level_text(leg.level)}" if leg.level else "")
            for leg in self.legs
        ]
        label = "no bands" if self.last.label is None else self.last.label.value
        when = self.as_of.strftime("%Y-%m-%d %H:%M:%S")
        return f"{self.series.key} at {when}: " + "; ".join([*parts, label])


def level_text(level: str) -> str:
    """`tail_1pct` → `top 1 %`, `tail_0_1pct` → `top 0.1 %`."""
    return f"top {TAIL_LEVELS[level] * 100:g} %"


def live_signals(
    store: Store,
    series: Series,
    *,
    windows: Sequence[int] = DEFAULT_WINDOWS,
    price: str = "open",
    flat_tol: float = 1e-9,
    band_period: int = BAND_PERIOD,
) -> Signals | None:
    """The signals of `series` from what `store` holds now (None without stored candles)."""
    days = store.stored_days(series)
    if not days:
        return None
    need = max(*windows, band_period) + 2
    count = max(1, -(-need * series.interval.ms // DAY_MS))  # days holding `need` candles
    while True:
        candles = _tail(store, series, days[-count:])
        found = _open_legs(candles, series, windows, price, flat_tol)
        if found is not None or count >= len(days):
            break
        count = min(len(days), count * 2)  # an open leg reaches back further: read more days
    found = found or _open_legs(candles, series, windows, price, flat_tol, complete=True) or []
    history = _study_table(
        store, SMA_STUDY, "legs", series, ["window", "direction", "length", "end_time"]
    )
    legs = tuple(_against(history, *leg) for leg in found)
    return Signals(
        series=series,
        as_of=candles["open_time"].iloc[-1],
        legs=legs,
        last=_last_candle(store, series, candles, band_period),
    )


def _tail(store: Store, series: Series, days: Sequence[date]) -> pd.DataFrame:
    frames = [f for f in (store.read_candles(series, d) for d in days) if f is not None]
    return pd.concat(frames, ignore_index=True).sort_values("open_time", ignore_index=True)


def _open_legs(
    candles: pd.DataFrame,
    series: Series,
    windows: Sequence[int],
    price: str,
    flat_tol: float,
    *,
    complete: bool = False,
) -> list[tuple[int, Direction, int, pd.Timestamp]] | None:
    """(window, direction, length, start) of each leg still open at the last candle; None when
    one may have begun before the first candle read (unless `complete`: nothing before it)."""
    opens_ms = candle_open_ms(candles)
    follows = follows_previous(opens_ms, series.interval.ms)
    values = candles[price].to_numpy(dtype=np.float64)
    last = len(candles) - 1
    out = []
    for window in windows:
        for direction, legs in window_legs(
            values, opens_ms, follows, window, flat_tol, series.interval.ms
        ).items():
            if not legs.ends.size or legs.ends[-1] != last:
                continue
            start = int(legs.starts[-1])
            # d(t) is known from row `window` of what was read; before it the leg may go on.
            if start - 1 < window and not complete:
                return None
            out.append((window, direction, last - start + 1, candles["open_time"].iloc[start]))
    return out


def _against(
    history: pd.DataFrame | None,
    window: int,
    direction: Direction,
    length: int,
    start: pd.Timestamp,
) -> LiveLeg:
    """The open leg against the stored legs of its window and direction that ended before it."""
    lengths = np.empty(0, dtype=np.int64)
    if history is not None:
        mine = history[
            (history["window"] == window)
            & (history["direction"] == direction.value)
            & (history["end_time"] < start)
        ]
        lengths = mine["length"].to_numpy(dtype=np.int64)
    at_least = int((lengths >= length).sum())
    longer = int((lengths >= length + 1).sum())
    levels = []
    for name, level in TAIL_LEVELS.items():
        bar = threshold(lengths, level)
        if bar is not None and length >= bar:
            levels.append(name)
    return LiveLeg(
        window=window,
        direction=direction,
        length=length,
        start=start,
        history_legs=int(lengths.size),
        survival=at_least / lengths.size if lengths.size else np.nan,
        continuation=longer / at_least if at_least else np.nan,
        levels=tuple(levels),
    )


def _last_candle(store: Store, series: Series, candles: pd.DataFrame, period: int) -> LastCandle:
    recent = candles.iloc[-period:]
    label = None
    if len(recent) >= period:
        low, high, close = (recent[c].to_numpy(dtype=np.float64) for c in ("low", "high", "close"))
        opens_ms = candle_open_ms(recent)
        bands = bbands(close, opens_ms, period, interval_ms=series.interval.ms)
        code = int(classify(low, high, close, bands).codes[-1])
        label = None if code < 0 else list(Label)[code]
    columns = ["horizon", "n", "mean_bps", "median_bps", "share_positive"]
    forward = pd.DataFrame(columns=columns)
    table = _study_table(store, BAND_STUDY, "forward", series, ["label", *columns])
    if table is not None and label is not None:
        forward = table[table["label"].astype(str) == label.value].loc[:, columns]
    return LastCandle(
        open_time=candles["open_time"].iloc[-1], label=label, forward=forward.reset_index(drop=True)
    )


def _study_table(
    store: Store, study: str, table: str, series: Series, columns: list[str]
) -> pd.DataFrame | None:
    """Some columns of one stored study table, or None when the study has not stored it."""
    path = store.study_table_path(study, table, series)
    if not path.exists():
        return None
    frame: pd.DataFrame = pq.read_table(path.path, filesystem=path.fs, columns=columns).to_pandas()
    return frame
