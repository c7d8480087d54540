"""How faults damage a response: klines bodies, archive zips and CHECKSUM files."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import date
from typing import Any

import pandas as pd

from qlir_core.candles import to_rest_rows
from qlir_sim.archive import pack_zip
from qlir_sim.faults import Roll


def tamper_candles(candles: pd.DataFrame, roll: Roll) -> tuple[pd.DataFrame, list[str]]:
    """The candles with the rolled drop / duplicate / reorder / outside faults, and the names
    applied."""
    applied = []
    rng = roll.rng
    if roll.drop and len(candles) >= 3:
        count = rng.randint(1, min(3, len(candles) - 2))
        gone = set(rng.sample(range(1, len(candles) - 1), count))  # interior: detectable as a gap
        candles = candles.iloc[[i for i in range(len(candles)) if i not in gone]]
        applied.append("dropped")
    if roll.duplicate and len(candles) >= 1:
        i = rng.randrange(len(candles))
        order = [*range(i + 1), i, *range(i + 1, len(candles))]
        candles = candles.iloc[order]
        applied.append("duplicated")
    if roll.out_of_order and len(candles) >= 2:
        i = rng.randrange(len(candles) - 1)
        order = [*range(i), i + 1, i, *range(i + 2, len(candles))]
        candles = candles.iloc[order]
        applied.append("out_of_order")
    if roll.outside and len(candles) >= 2:
        # The candle before the first one: outside any window that starts at the first candle.
        first = candles.iloc[[0]].copy()
        step = candles["open_time"].iloc[1] - candles["open_time"].iloc[0]
        for column in ("open_time", "close_time"):
            first[column] = first[column] - step
        candles = pd.concat([first, candles])
        applied.append("outside_window")
    return candles.reset_index(drop=True), applied


def klines_body(candles: pd.DataFrame, roll: Roll) -> tuple[bytes, list[str]]:
    """The JSON body for `candles`, malformed or truncated if rolled, and the faults applied."""
    rows: list[list[Any]] = to_rest_rows(candles)
    applied = []
    if roll.malformed and rows:
        row = rows[roll.rng.randrange(len(rows))]
        if roll.rng.random() < 0.5:
            row.pop()  # 11 fields instead of 12
        else:
            row[roll.rng.randint(1, 5)] = "not-a-number"
        applied.append("malformed")
    body = json.dumps(rows, separators=(",", ":")).encode()
    if roll.truncate:
        body = body[: roll.rng.randint(1, len(body) - 1)]
        applied.append("truncated")
    return body, applied


def corrupt_zip(data: bytes) -> bytes:
    """The zip with 16 bytes in its middle inverted: its sha256 and its CRC no longer match."""
    middle = len(data) // 2
    damaged = bytes(b ^ 0xFF for b in data[middle : middle + 16])
    return data[:middle] + damaged + data[middle + 16 :]


def truncate_csv(data: bytes, day: date) -> bytes:
    """The day's zip re-packed with its CSV cut in the middle of a line two thirds in: a valid
    zip (whose CHECKSUM the archive endpoint computes afresh) holding a file cut short."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        name = archive.namelist()[0]
        csv = archive.read(name)
    line_start = csv.rfind(b"\n", 0, len(csv) * 2 // 3) + 1
    line_end = csv.find(b"\n", line_start)
    cut = line_start + max(1, (line_end - line_start) // 2)
    return pack_zip(name, csv[:cut], day)


def corrupt_checksum(sidecar: bytes) -> bytes:
    """The CHECKSUM with its first 8 hex digits inverted: well formed, wrong hash."""
    text = sidecar.decode("ascii", errors="replace")
    flipped = "".join(f"{15 - int(c, 16):x}" if c in "0123456789abcdef" else c for c in text[:8])
    return (flipped + text[8:]).encode()
