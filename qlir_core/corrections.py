"""Exchange corrections: the candles a refetch changes or removes in the stored ones.

Binance revises its archive now and then. A correction is published (see `qlir_core.publish`),
logged, and recorded one row per changed field (or removed candle) in the `corrections` table,
a plain hive dataset anyone can list without qlir.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

import pandas as pd

from qlir_core import candles

COLUMNS = (
    "open_time",
    "change",
    "field",
    "old",
    "new",
    "old_version",
    "new_version",
    "corrected_at",
)
SHOWN = 8  # corrections named in one log line


class Change(Enum):
    CHANGED = "changed"  # a field of the candle has a new value
    REMOVED = "removed"  # the exchange no longer serves the candle


@dataclass(frozen=True)
class Correction:
    """One changed field of one candle, or one removed candle (`field` None)."""

    open_time_ms: int
    change: Change
    field: str | None = None
    old: str | None = None
    new: str | None = None

    def __str__(self) -> str:
        when = pd.Timestamp(self.open_time_ms, unit="ms", tz="UTC").strftime("%Y-%m-%dT%H:%M")
        if self.change is Change.REMOVED:
            return f"{when} removed"
        return f"{when} {self.field} {self.old} -> {self.new}"


def diff(stored: pd.DataFrame, fetched: pd.DataFrame) -> list[Correction]:
    """What replacing `stored` by `fetched` changes or removes, in open-time order."""
    fields = [c for c in candles.COLUMNS if c != "open_time"]
    old = _by_open(stored)[fields]
    new = _by_open(fetched)[fields]
    found = [Correction(int(t), Change.REMOVED) for t in old.index.difference(new.index)]
    common = old.index.intersection(new.index)
    before, after = old.loc[common], new.loc[common]
    differs = before.ne(after)
    for opened in differs.index[differs.any(axis=1)].tolist():
        for name in (f for f in fields if differs.at[opened, f]):
            old_value, new_value = before.at[opened, name], after.at[opened, name]
            found.append(
                Correction(int(opened), Change.CHANGED, name, _text(old_value), _text(new_value))
            )
    return sorted(found, key=lambda c: (c.open_time_ms, c.field or ""))


def describe(found: Sequence[Correction]) -> str:
    """The corrections as one log line's tail: the first `SHOWN`, then how many more."""
    shown = "; ".join(str(c) for c in found[:SHOWN])
    rest = len(found) - SHOWN
    return shown if rest <= 0 else f"{shown}; and {rest} more"


def to_frame(
    found: Sequence[Correction], old_version: str, new_version: str, at: pd.Timestamp
) -> pd.DataFrame:
    """The corrections as the stored table, enums written as their string values."""
    n = len(found)
    opened = pd.Series([c.open_time_ms for c in found], dtype="int64")
    return pd.DataFrame(
        {
            "open_time": pd.to_datetime(opened, unit="ms", utc=True).astype("datetime64[ms, UTC]"),
            "change": pd.Series([c.change.value for c in found], dtype="string"),
            "field": pd.Series([c.field for c in found], dtype="string"),
            "old": pd.Series([c.old for c in found], dtype="string"),
            "new": pd.Series([c.new for c in found], dtype="string"),
            "old_version": pd.Series([old_version] * n, dtype="string"),
            "new_version": pd.Series([new_version] * n, dtype="string"),
            "corrected_at": pd.Series([at] * n, dtype="datetime64[ms, UTC]"),
        },
        columns=list(COLUMNS),
    )


def _by_open(table: pd.DataFrame) -> pd.DataFrame:
    frame = table.drop_duplicates("open_time", keep="last")
    return frame.set_index(candles.open_ms(frame))


def _text(value: object) -> str:
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return repr(value.item() if hasattr(value, "item") else value)
