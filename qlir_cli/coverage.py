"""What is stored per series, from one listing of the klines layer and one dataset scan of its
open times: days stored and missing, partial days, the exchange's gaps, the last update.

A stored closed day passed validation, where a gap the fetch caused is an ERROR, so every gap
left in one is the exchange's own (a halt). A day is partial when its candle table was written
before the day ended; its not-yet-fetched tail is not a gap.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
from pyarrow.fs import FSSpecHandler, PyFileSystem

from qlir_core.binance import day_start_ms
from qlir_core.errors import ConfigError
from qlir_core.series import Series
from qlir_core.storage import KLINES, TABLE_FILE, Store

_HIVE = ds.partitioning(
    pa.schema([("symbol", pa.string()), ("interval", pa.string()), ("date", pa.string())]),
    flavor="hive",
)
_DAY_MS = 86_400_000


@dataclass(frozen=True)
class Run:
    """Consecutive missing days, `first` to `last`."""

    first: date
    last: date

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1


@dataclass(frozen=True)
class Gap:
    """Consecutive candles missing inside a stored day."""

    day: date
    first_missing: datetime
    last_missing: datetime
    candles: int


@dataclass(frozen=True)
class Coverage:
    series: Series
    days_stored: tuple[date, ...]
    missing: tuple[Run, ...]  # days of the configured range (start date to today) not stored
    partial: tuple[date, ...]
    gaps: tuple[Gap, ...]
    last_update: datetime | None

    @property
    def gap_days(self) -> tuple[date, ...]:
        return tuple(sorted({g.day for g in self.gaps}))

    def to_json(self) -> dict[str, Any]:
        return {
            "series": self.series.key,
            "first_day": _iso(self.days_stored[0]) if self.days_stored else None,
            "last_day": _iso(self.days_stored[-1]) if self.days_stored else None,
            "days_stored": len(self.days_stored),
            "days_missing": sum(r.days for r in self.missing),
            "missing_runs": [
                {"first": _iso(r.first), "last": _iso(r.last), "days": r.days} for r in self.missing
            ],
            "partial_days": [_iso(d) for d in self.partial],
            "gap_days": [_iso(d) for d in self.gap_days],
            "gap_runs": [
                {
                    "day": _iso(g.day),
                    "first_missing": _iso(g.first_missing),
                    "last_missing": _iso(g.last_missing),
                    "candles": g.candles,
                }
                for g in self.gaps
            ],
            "last_update": None if self.last_update is None else _iso(self.last_update),
        }


def coverage(store: Store, series: Sequence[Series], start: date, today: date) -> list[Coverage]:
    """Each series' coverage of the days from `start` to `today` (UTC)."""
    files = _listing(store)
    wanted = {(s.symbol, s.interval.value): s for s in series}
    written: dict[Series, dict[date, datetime]] = {s: {} for s in series}
    for (symbol, interval, day), mtime in files.items():
        if (symbol, interval) in wanted:
            written[wanted[symbol, interval]][date.fromisoformat(day)] = mtime
    opens = _scan(store, [p for p in files if (p[0], p[1]) in wanted])
    return [_one(s, written[s], opens.get(s.key), start, today) for s in series]


def _listing(store: Store) -> dict[tuple[str, str, str], datetime]:
    """(symbol, interval, date) → when its candle table was written, from one listing."""
    base = store.root / KLINES
    try:
        found = base.fs.find(base.path, detail=True)
    except FileNotFoundError:
        return {}
    except OSError as e:
        raise ConfigError(f"storage root {store.root} cannot be listed: {e}") from e
    out: dict[tuple[str, str, str], datetime] = {}
    for key, info in found.items():
        parts = key.removeprefix(base.path).strip("/").split("/")
        if len(parts) == 4 and parts[3] == TABLE_FILE:
            symbol, interval, day = (part.partition("=")[2] for part in parts[:3])
            out[symbol, interval, day] = _modified(info)
    return out


def _scan(store: Store, partitions: Iterable[tuple[str, str, str]]) -> dict[str, pd.DataFrame]:
    """Open times (ms) and dates of the given partitions, per series key: one dataset scan."""
    base = store.root / KLINES
    files = [f"{base.path}/symbol={s}/interval={i}/date={d}/{TABLE_FILE}" for s, i, d in partitions]
    if not files:
        return {}
    fs = PyFileSystem(FSSpecHandler(base.fs))
    dataset = ds.dataset(
        files, filesystem=fs, format="parquet", partitioning=_HIVE, partition_base_dir=base.path
    )
    table = dataset.to_table(columns=["symbol", "interval", "date", "open_time"])
    frame = table.to_pandas()
    frame["open_ms"] = frame["open_time"].astype("datetime64[ms, UTC]").astype("int64")
    keys = frame["symbol"].astype(str) + "-" + frame["interval"].astype(str)
    return {str(k): g for k, g in frame.groupby(keys, sort=False)}


def _one(
    series: Series,
    written: dict[date, datetime],
    opens: pd.DataFrame | None,
    start: date,
    today: date,
) -> Coverage:
    stored = tuple(sorted(written))
    partial = tuple(d for d in stored if written[d] < _day_end(d))
    by_day = {} if opens is None else dict(tuple(opens.groupby("date", sort=False)))
    gaps: list[Gap] = []
    for day in stored:
        rows = by_day.get(day.isoformat())
        ms = np.sort(rows["open_ms"].to_numpy()) if rows is not None else np.empty(0, np.int64)
        gaps.extend(_gaps(series, day, ms, day in partial))
    stored_set = set(stored)
    absent = [
        start + timedelta(days=i)
        for i in range((today - start).days + 1)
        if start + timedelta(days=i) not in stored_set
    ]
    return Coverage(
        series,
        stored,
        tuple(_runs(absent)),
        partial,
        tuple(gaps),
        max(written.values()) if written else None,
    )


def _gaps(series: Series, day: date, opens: np.ndarray, partial: bool) -> list[Gap]:
    """The runs of candles missing from a stored day (of a partial day: before its last)."""
    step = series.interval.ms
    start = day_start_ms(day)
    slots = (opens - start) // step
    due = int(slots[-1]) + 1 if partial and slots.size else series.interval.per_day
    if partial and not slots.size:
        return []
    have = np.zeros(due, dtype=bool)
    have[slots[(slots >= 0) & (slots < due)]] = True
    missing = np.flatnonzero(~have)
    if not missing.size:
        return []
    cuts = np.flatnonzero(np.diff(missing) != 1) + 1
    return [
        Gap(day, _at(start + int(run[0]) * step), _at(start + int(run[-1]) * step), len(run))
        for run in np.split(missing, cuts)
    ]


def _runs(days: list[date]) -> list[Run]:
    runs: list[Run] = []
    for day in days:
        if runs and runs[-1].last + timedelta(days=1) == day:
            runs[-1] = Run(runs[-1].first, day)
        else:
            runs.append(Run(day, day))
    return runs


def _modified(info: dict[str, Any]) -> datetime:
    """A listing entry's modification time: `mtime` (local, seconds) or `LastModified` (S3)."""
    value = info.get("LastModified", info.get("mtime"))
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromtimestamp(float(value or 0), tz=UTC)


def _day_end(day: date) -> datetime:
    return datetime.fromtimestamp((day_start_ms(day) + _DAY_MS) / 1000, tz=UTC)


def _at(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def _iso(value: date | datetime) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return value.isoformat()
