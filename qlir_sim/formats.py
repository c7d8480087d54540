"""The candle table as Binance writes it: REST JSON rows, archive CSVs, zips and CHECKSUM files.

The reading side (CSV and JSON into the table) is qlir_core.candles; only the exchange writes.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from datetime import date, timedelta
from typing import Any

import pandas as pd

from qlir_core.candles import TIME_COLUMNS


def to_rest_rows(candles: pd.DataFrame) -> list[list[Any]]:
    """The table as Binance's REST array: 12 fields a candle, prices as 8-decimal strings."""
    ms = {c: candles[c].astype("int64").to_numpy() for c in TIME_COLUMNS}
    out = []
    for i, row in enumerate(candles.itertuples(index=False)):
        out.append(
            [
                int(ms["open_time"][i]),
                f"{row.open:.8f}",
                f"{row.high:.8f}",
                f"{row.low:.8f}",
                f"{row.close:.8f}",
                f"{row.volume:.8f}",
                int(ms["close_time"][i]),
                f"{row.quote_volume:.8f}",
                int(row.trades),  # type: ignore[arg-type]
                f"{row.taker_buy_base_volume:.8f}",
                f"{row.taker_buy_quote_volume:.8f}",
                "0",
            ]
        )
    return out


def to_csv(candles: pd.DataFrame) -> bytes:
    """The table as a header-less archive CSV with millisecond times."""
    lines = (",".join(str(v) for v in row) for row in to_rest_rows(candles))
    return ("\n".join(lines) + "\n").encode()


def micros_csv(csv: bytes) -> bytes:
    """The CSV with times in microseconds, as the archive writes from 2025-01-01 (close …999999)."""
    lines = []
    for line in csv.splitlines():
        fields = line.split(b",")
        fields[0] += b"000"
        fields[6] += b"999"
        lines.append(b",".join(fields))
    return b"\n".join(lines) + b"\n"


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
