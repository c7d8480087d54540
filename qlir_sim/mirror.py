"""Mirror mode: a folder laid out like the archive, served byte for byte, and parsed for REST."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import pandas as pd

from qlir_core.candles import from_csv
from qlir_core.errors import InvalidSeries
from qlir_core.intervals import Interval
from qlir_core.series import Series
from qlir_sim.archive import ARCHIVE_PREFIX, read_zip, zip_name
from qlir_sim.cache import SizedLRU
from qlir_sim.market import frame_bytes, is_past, today, up_to_now

_DAY = re.compile(r"-(\d{4}-\d{2}-\d{2})\.zip$")
_FRAME_CACHE_BYTES = 256 * 2**20


class Mirror:
    """Serves the daily zips under `root/data/spot/daily/klines` (the archive's own layout)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        base = self.root / ARCHIVE_PREFIX
        if not base.is_dir():
            raise ValueError(f"{self.root} has no {ARCHIVE_PREFIX}/ folder (the archive layout)")
        self._files = _scan(base)
        if not self._files:
            raise ValueError(f"{base} holds no daily kline zips")
        self._frames: SizedLRU[tuple[Series, date], pd.DataFrame] = SizedLRU(
            _FRAME_CACHE_BYTES, frame_bytes
        )

    def series(self) -> Sequence[Series]:
        return sorted(self._files, key=lambda s: (s.symbol, s.interval.ms))

    def days(self, series: Series, now_ms: int) -> Sequence[date]:
        last = today(now_ms)
        return [d for d in sorted(self._files.get(series, {})) if d <= last]

    def candles(self, series: Series, day: date, now_ms: int) -> pd.DataFrame:
        path = self._files[series][day]
        frame = self._frames.get_or_make(
            (series, day), lambda: from_csv(read_zip(path.read_bytes()), source=str(path))
        )
        return up_to_now(frame, now_ms, series.interval.ms)

    def archive_zip(self, series: Series, day: date, now_ms: int) -> bytes | None:
        path = self._files.get(series, {}).get(day)
        return path.read_bytes() if path is not None and is_past(day, now_ms) else None

    def archive_checksum(self, series: Series, day: date, now_ms: int) -> bytes | None:
        path = self._files.get(series, {}).get(day)
        if path is None or not is_past(day, now_ms):
            return None
        sidecar = path.with_name(path.name + ".CHECKSUM")
        return sidecar.read_bytes() if sidecar.is_file() else None


def _scan(base: Path) -> dict[Series, dict[date, Path]]:
    """Every `SYMBOL/INTERVAL/SYMBOL-INTERVAL-YYYY-MM-DD.zip` under `base`, by series and day."""
    found: dict[Series, dict[date, Path]] = {}
    for folder in sorted(p for p in base.glob("*/*") if p.is_dir()):
        try:
            series = Series(folder.parent.name, Interval.parse(folder.name))
        except (InvalidSeries, ValueError):
            continue  # e.g. 1mo or 1w folders: not daily series
        for path in folder.glob("*.zip"):
            match = _DAY.search(path.name)
            if match is None:
                continue
            day = date.fromisoformat(match[1])
            if path.name == zip_name(series, day):
                found.setdefault(series, {})[day] = path
    return found
