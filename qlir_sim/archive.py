"""The data.binance.vision daily-klines layout: file names, deterministic zips, CHECKSUM files."""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from dataclasses import dataclass
from datetime import date, timedelta

from qlir_core.errors import InvalidSeries
from qlir_core.intervals import Interval
from qlir_core.series import Series

ARCHIVE_PREFIX = "data/spot/daily/klines"
_FILE = re.compile(
    r"^(?P<base>[A-Z0-9]+-[0-9a-z]+-\d{4}-\d{2}-\d{2})\.zip(?P<checksum>\.CHECKSUM)?$"
)


@dataclass(frozen=True)
class ArchiveRequest:
    """One archive file asked for: a series' day, the zip itself or its CHECKSUM sidecar."""

    series: Series
    day: date
    checksum: bool


def zip_name(series: Series, day: date) -> str:
    """`BTCUSDT-1m-2023-01-21.zip` for Series('BTCUSDT', 1m) on 2023-01-21."""
    return f"{series.symbol}-{series.interval.archive_name}-{day.isoformat()}.zip"


def archive_path(series: Series, day: date) -> str:
    """`data/spot/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2023-01-21.zip` (relative to the host)."""
    return (
        f"{ARCHIVE_PREFIX}/{series.symbol}/{series.interval.archive_name}/{zip_name(series, day)}"
    )


def parse_request(symbol: str, interval: str, filename: str) -> ArchiveRequest | None:
    """The file named by an archive URL's last three segments, or None if no such file can exist."""
    match = _FILE.match(filename)
    if match is None:
        return None
    try:
        series = Series(symbol, Interval.parse(interval))
        day = date.fromisoformat(match["base"][-10:])
    except (InvalidSeries, ValueError):
        return None
    if match["base"] != zip_name(series, day)[: -len(".zip")]:
        return None
    return ArchiveRequest(series, day, checksum=match["checksum"] is not None)


def pack_zip(csv_name: str, csv: bytes, day: date) -> bytes:
    """A one-member zip with a fixed member timestamp: the same CSV always gives the same bytes."""
    # The real archive stamps the member shortly after the day ends (e.g. next day 00:54).
    stamp = day + timedelta(days=1)
    info = zipfile.ZipInfo(csv_name, date_time=(stamp.year, stamp.month, stamp.day, 0, 54, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 3  # Unix, as the real files say; the default depends on the platform.
    info.external_attr = 0o100644 << 16
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(info, csv, compresslevel=1)  # fast: ~3 ms for a 1m day
    return buffer.getvalue()


def read_zip(data: bytes) -> bytes:
    """The CSV inside an archive zip (its only member)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return archive.read(archive.namelist()[0])


def checksum_file(zip_bytes: bytes, name: str) -> bytes:
    """The sidecar in `sha256sum` format: `<64 hex>  <file name>\\n`."""
    return f"{hashlib.sha256(zip_bytes).hexdigest()}  {name}\n".encode()


def micros_csv(csv: bytes) -> bytes:
    """The CSV with times in microseconds, as the archive writes from 2025-01-01 (close …999999)."""
    lines = []
    for line in csv.splitlines():
        fields = line.split(b",")
        fields[0] += b"000"
        fields[6] += b"999"
        lines.append(b",".join(fields))
    return b"\n".join(lines) + b"\n"
