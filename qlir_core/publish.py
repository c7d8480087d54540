"""Whether a fresh fetch may replace what is stored for a partition: one pure decision.

A refetch can come back with less than an earlier fetch stored: the exchange answering short,
a day refetched before it was fully served, a source that lost a stretch. Such a fetch never
replaces the stored candles. A fetch replaces them only when it holds every stored open time;
then it is either the same (rewritten byte for byte: re-materializing is idempotent), more
(a partial day grown, a gap filled), or the same candles with new values (the exchange's
latest word).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np
import pandas as pd

from qlir_core import candles
from qlir_core.storage import PartitionData


class Reason(Enum):
    NEW = "new"  # nothing stored yet
    UNCHANGED = "unchanged"  # the same candles
    MORE = "more"  # every stored candle, and more
    REVISED = "revised"  # the same open times, some values changed
    FEWER = "fewer"  # fewer candles than stored: kept
    MISSING = "missing"  # as many or more candles, but some stored open times absent: kept

    @property
    def label(self) -> str:
        """How messages show the reason: `fewer`."""
        return self.name.lower()


@dataclass(frozen=True)
class Decision:
    """Publish the fetch or keep what is stored, and why."""

    publish: bool
    reason: Reason
    new_rows: int
    stored_rows: int
    missing: int = 0  # stored open times the fetch lacks
    changed: int = 0  # open times in both whose candle differs

    def __str__(self) -> str:
        verb = "publish" if self.publish else "keep the stored candles"
        detail = f"{self.new_rows} fetched, {self.stored_rows} stored"
        if self.missing:
            detail += f", {self.missing} stored open times not in the fetch"
        if self.changed:
            detail += f", {self.changed} candles changed"
        return f"{verb} ({self.reason.label}: {detail})"


def decide(new: PartitionData, stored: pd.DataFrame | None) -> Decision:
    """Whether `new` may replace `stored` (None: nothing stored)."""
    fetched = new.candles
    if stored is None:
        return Decision(True, Reason.NEW, len(fetched), 0)
    new_opens, stored_opens = candles.open_ms(fetched), candles.open_ms(stored)
    missing = int(np.setdiff1d(stored_opens, new_opens).size)
    sizes = {"new_rows": len(fetched), "stored_rows": len(stored), "missing": missing}
    if missing:
        reason = Reason.FEWER if len(fetched) < len(stored) else Reason.MISSING
        return Decision(False, reason, **sizes)
    changed = _changed(fetched, stored)
    if len(np.unique(new_opens)) > len(np.unique(stored_opens)):
        return Decision(True, Reason.MORE, changed=changed, **sizes)
    reason = Reason.REVISED if changed else Reason.UNCHANGED
    return Decision(True, reason, changed=changed, **sizes)


def _changed(fetched: pd.DataFrame, stored: pd.DataFrame) -> int:
    """Candles, by open time, that both tables hold with different values."""
    columns = [c for c in candles.COLUMNS if c != "open_time" and c in stored.columns]
    old = stored.drop_duplicates("open_time", keep="last").set_index("open_time")[columns]
    now = fetched.drop_duplicates("open_time", keep="last").set_index("open_time")[columns]
    common = now.index.intersection(old.index)
    if common.empty:
        return 0
    differs = now.loc[common].ne(old.loc[common]).any(axis=1)
    return int(differs.sum())
