"""A reader for the daily kline archive (data.binance.vision layout) at any fsspec URL:
`https://data.binance.vision`, a local folder, or `s3://bucket/prefix`.

The zip's sha256 is checked against its `.CHECKSUM` before anything is parsed.
"""

from __future__ import annotations

import hashlib
import io
import time
import zipfile
from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd
from upath import UPath

from qlir_core import binance, candles
from qlir_core.errors import (
    ChecksumMismatch,
    Malformation,
    MalformedFile,
    NetworkError,
    NotPublished,
)
from qlir_core.series import Series

DEFAULT_URL = binance.ARCHIVE_URL
day_path = binance.archive_day_path  # a day's zip, relative to the archive root


@dataclass(frozen=True)
class ArchiveDay:
    url: str
    zip_bytes: bytes
    checksum: bytes
    candles: pd.DataFrame
    requested_at: pd.Timestamp
    completed_at: pd.Timestamp
    duration_ms: float


class ArchiveClient:
    def __init__(self, base_url: str = DEFAULT_URL, **storage_options: Any) -> None:
        self.base_url = base_url.rstrip("/")
        self._base = UPath(self.base_url, **storage_options)

    def url(self, series: Series, day: date) -> str:
        return binance.archive_url(self.base_url, series, day)

    def fetch(self, series: Series, day: date) -> ArchiveDay:
        """The day's candles, verified against the published sha256."""
        requested_at = pd.Timestamp.now(tz="UTC")
        started = time.perf_counter()
        path = self._base / day_path(series, day)
        data = _read(path)
        checksum = _read(path.with_name(path.name + binance.CHECKSUM_SUFFIX))
        verify(data, checksum, self.url(series, day))
        table = candles.from_csv(unzip_single(data, self.url(series, day)), source=str(path))
        return ArchiveDay(
            url=self.url(series, day),
            zip_bytes=data,
            checksum=checksum,
            candles=table,
            requested_at=requested_at,
            completed_at=pd.Timestamp.now(tz="UTC"),
            duration_ms=(time.perf_counter() - started) * 1000,
        )


def verify(data: bytes, checksum: bytes, url: str) -> None:
    """Raise ChecksumMismatch unless sha256(data) is the digest the CHECKSUM file names."""
    expected = checksum.decode(errors="replace").strip().split(" ")[0].lower()
    actual = hashlib.sha256(data).hexdigest()
    if expected != actual:
        raise ChecksumMismatch(
            f"{url}: sha256 is {actual}, but its CHECKSUM says {expected or '(empty)'}"
        )


def unzip_single(data: bytes, url: str) -> bytes:
    """The one CSV inside an archive zip."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = [n for n in archive.namelist() if n.endswith(".csv")]
            if len(names) != 1:
                raise MalformedFile(
                    f"{url}: expected one CSV in the zip, found {names}", Malformation.BAD_ZIP
                )
            return archive.read(names[0])
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as e:
        raise MalformedFile(f"{url}: not a readable zip ({e})", Malformation.BAD_ZIP) from e


def _read(path: UPath) -> bytes:
    try:
        return path.fs.cat_file(path.path)  # type: ignore[no-any-return]
    except FileNotFoundError as e:
        raise NotPublished(f"{path}: the archive has no such file (not published yet?)") from e
    except OSError as e:
        raise NetworkError(f"{path}: {type(e).__name__}: {e}") from e
    except Exception as e:  # aiohttp's errors reach us untranslated through fsspec's http
        if type(e).__module__.startswith("aiohttp"):
            raise NetworkError(f"{path}: {type(e).__name__}: {e}") from e
        raise
