"""Alerts from the live signal (docs/STUDIES.md, "Alerts"): an open leg reaching a tail level for
the first time, or the last closed candle touching two or three bands. Each is emitted once: the
keys already alerted are kept in the store (`studies/signals/alerts/…`), so a restart or the next
refresh does not repeat them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from qlir_core.series import Series
from qlir_core.storage import Store
from qlir_core.studies.band_touch import Label
from qlir_core.studies.signals import Signals, level_text

SIGNALS = "signals"  # the study name its tables are stored under
ALERTS_TABLE = "alerts"
ALERT_LABELS = (Label.TOUCH_ALL, Label.TOUCH_LOWER_MID, Label.TOUCH_MID_UPPER)
ALERT_COLUMNS = ("key", "kind", "series", "text", "emitted_at")


class AlertKind(Enum):
    TAIL = "tail"  # an open leg reached a tail level
    BAND = "band"  # the last closed candle touched two or three bands


@dataclass(frozen=True)
class Alert:
    """One alert; `covers` are the keys it settles (a leg reaching 1 % settles 10 % and 5 %)."""

    kind: AlertKind
    series: Series
    text: str
    covers: tuple[str, ...]
    details: dict[str, Any]

    @property
    def key(self) -> str:
        return self.covers[-1]

    def payload(self) -> dict[str, Any]:
        """The JSON body of the webhook POST."""
        return {"kind": self.kind.value, "series": self.series.key, "text": self.text} | {
            "key": self.key,
            **self.details,
        }


def candidate_alerts(signals: Signals) -> list[Alert]:
    """Every alert the signal warrants now, emitted before or not."""
    out = []
    key = signals.series.key
    for leg in signals.legs:
        if leg.level is None:
            continue
        stem = f"{key}|sma{leg.window}|{leg.direction.value}|{leg.start.isoformat()}"
        text = (
            f"{key} SMA{leg.window} {leg.direction.value} leg has lasted {leg.length} candles: "
            f"{level_text(leg.level)}"
        )
        details = {
            "window": leg.window,
            "direction": leg.direction.value,
            "length": leg.length,
            "level": leg.level,
            "leg_start": leg.start.isoformat(),
            "survival": leg.survival,
        }
        out.append(Alert(AlertKind.TAIL, signals.series, text, _keys(stem, leg.levels), details))
    label = signals.last.label
    if label is not None and label in ALERT_LABELS:
        when = signals.last.open_time
        text = f"{key} candle of {when:%Y-%m-%d %H:%M:%S} closed {label.value}"
        horizon5 = signals.last.forward[signals.last.forward["horizon"] == 5]
        if len(horizon5) and int(horizon5["n"].iloc[0]):
            mean = float(horizon5["mean_bps"].iloc[0])
            text += f" (before: {mean:+.1f} bps after 5 candles, n {int(horizon5['n'].iloc[0])})"
        covers = (f"{key}|band|{when.isoformat()}|{label.value}",)
        details = {"label": label.value, "open_time": when.isoformat()}
        out.append(Alert(AlertKind.BAND, signals.series, text, covers, details))
    return out


def _keys(stem: str, levels: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f"{stem}|{level}" for level in levels)


def new_alerts(candidates: list[Alert], alerted: set[str]) -> list[Alert]:
    """The candidates not alerted before: a leg whose rarest level was already alerted is not."""
    return [a for a in candidates if a.key not in alerted]


def alerted_keys(store: Store, series: Series) -> set[str]:
    """The keys already alerted for `series` (empty before the first alert)."""
    path = store.study_table_path(SIGNALS, ALERTS_TABLE, series)
    if not path.exists():
        return set()
    table = pq.read_table(path.path, filesystem=path.fs, columns=["key"])
    return set(table.column("key").to_pylist())


def record(store: Store, series: Series, alerts: list[Alert]) -> None:
    """Add the alerts (every key they cover) to the stored state of `series`."""
    if not alerts:
        return
    now = pd.Timestamp(datetime.now(UTC))
    rows = [
        {"key": key, "kind": a.kind.value, "series": series.key, "text": a.text, "emitted_at": now}
        for a in alerts
        for key in a.covers
    ]
    path = store.study_table_path(SIGNALS, ALERTS_TABLE, series)
    before = (
        pq.read_table(path.path, filesystem=path.fs).to_pandas()
        if path.exists()
        else pd.DataFrame(columns=list(ALERT_COLUMNS))
    )
    added = pd.DataFrame(rows, columns=list(ALERT_COLUMNS))
    table = pd.concat([before, added], ignore_index=True) if len(before) else added
    store.write_study_table(SIGNALS, ALERTS_TABLE, series, table.drop_duplicates("key"))
