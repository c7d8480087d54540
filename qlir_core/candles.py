"""The candle table: one typed layout for klines from the archive CSV and the REST JSON.

Binance sends 12 fields per candle. The 12th ("ignore") carries nothing (and in 2017 rows holds
stray numbers), so the table keeps the first 11; the raw layer keeps the payload verbatim.
Times are normalized to UTC milliseconds: the archive writes microseconds from 2025-01-01 on.
"""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from pyarrow import compute as pc
from pyarrow import csv as pacsv

from qlir_core.binance import MICROS_FROM
from qlir_core.errors import Malformation, MalformedFile, MalformedPage

TIME_COLUMNS = ("open_time", "close_time")
FLOAT_COLUMNS = (
    "open",
    "high",
    "low",
    "close",
    "volume",
    "quote_volume",
    "taker_buy_base_volume",
    "taker_buy_quote_volume",
)
COLUMNS = (
    "open_time",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "close_time",
    "quote_volume",
    "trades",
    "taker_buy_base_volume",
    "taker_buy_quote_volume",
)
_RAW_FIELDS = (*COLUMNS, "ignore")
TIME_DTYPE = "datetime64[ms, UTC]"
# The archive CSV's fields as pyarrow parses them ("ignore" kept as text: it is never read).
_CSV_TYPES = (
    {c: pa.int64() for c in ("open_time", "close_time", "trades")}
    | {c: pa.float64() for c in FLOAT_COLUMNS}
    | {"ignore": pa.string()}
)
# The candle columns as Arrow stores them: times in UTC milliseconds.
ARROW_SCHEMA = pa.schema(
    (c, pa.timestamp("ms", tz="UTC") if c in TIME_COLUMNS else _CSV_TYPES[c]) for c in COLUMNS
)


def empty() -> pd.DataFrame:
    """A candle table with no rows and the right dtypes."""
    return _typed({c: pa.array([], _CSV_TYPES[c]) for c in COLUMNS})


def from_csv(data: bytes, *, source: str = "CSV") -> pd.DataFrame:
    """Candles from an archive CSV: header-less spot files; a header line is tolerated.
    Every line must carry all 12 fields: a file cut short mid-line is malformed, even where the
    cut leaves the first 11 fields parseable."""
    text = data.decode("ascii", errors="replace")
    first = text.lstrip()[:1]
    skip = 1 if first and not first.isdigit() else 0
    last = text.rstrip("\r\n").rsplit("\n", 1)[-1]
    if last and (last.count(",") < len(_RAW_FIELDS) - 1 or last.endswith(",")):
        raise MalformedFile(
            f"{source}: the last line has fewer than 12 fields (the file is cut short?)",
            Malformation.TRUNCATED_CSV,
        )
    try:
        raw = pacsv.read_csv(
            io.BytesIO(data),
            read_options=pacsv.ReadOptions(column_names=list(_RAW_FIELDS), skip_rows=skip),
            convert_options=pacsv.ConvertOptions(column_types=_CSV_TYPES),
        )
    except pa.ArrowInvalid as e:
        raise MalformedFile(f"{source}: not a kline CSV ({e})", Malformation.BAD_CSV) from e
    if any(raw.column(c).null_count for c in COLUMNS):
        raise MalformedFile(
            f"{source}: missing fields (a line cut short?)", Malformation.TRUNCATED_CSV
        )
    return _typed({c: raw.column(c) for c in COLUMNS})


def from_rest_json(data: bytes | list[Any], *, source: str = "REST response") -> pd.DataFrame:
    """Candles from a `/api/v3/klines` body: an array of 12-element arrays, numbers as strings."""
    try:
        rows = json.loads(data) if isinstance(data, bytes | bytearray) else data
    except json.JSONDecodeError as e:
        # An array that ends before it closes was cut short on the way; anything else is not
        # klines at all (a proxy's HTML page, say).
        body = bytes(data) if isinstance(data, bytes | bytearray) else b""
        ends_early = e.pos >= len(body.rstrip()) or not body.rstrip().endswith(b"]")
        cut = body.lstrip().startswith(b"[") and ends_early
        kind = Malformation.TRUNCATED_BODY if cut else Malformation.NOT_KLINES
        what = f"cut short at {len(body)} bytes" if cut else f"{e.msg} at {e.pos}"
        raise MalformedPage(f"{source}: body is not JSON ({what})", kind) from e
    if not isinstance(rows, list):
        raise MalformedPage(
            f"{source}: expected a JSON array of klines, got {type(rows).__name__}",
            Malformation.NOT_KLINES,
        )
    if not rows:
        return empty()
    bad = next((i for i, r in enumerate(rows) if not isinstance(r, list) or len(r) != 12), None)
    if bad is not None:
        raise MalformedPage(
            f"{source}: kline #{bad} does not have 12 fields: {rows[bad]!r:.120}",
            Malformation.FIELD_COUNT,
        )
    # Column by column through pyarrow: its casts parse the numbers sent as strings in C++.
    fields = dict(zip(_RAW_FIELDS, zip(*rows, strict=True), strict=True))
    try:
        columns = {c: _numbers(fields[c], _CSV_TYPES[c]) for c in COLUMNS}
    except (ValueError, pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as e:
        raise MalformedPage(f"{source}: non-numeric field ({e})", Malformation.NON_NUMERIC) from e
    return _typed(columns)


def _numbers(values: tuple[Any, ...], kind: pa.DataType) -> pa.Array:
    """`values` (numbers, or numbers as strings) as an array of `kind`; ValueError or an
    Arrow error for anything else, a missing value included."""
    array = pa.array(values)
    if array.null_count:
        raise ValueError("a field is null")
    return array.cast(kind)


def final_only(candles: pd.DataFrame, now_ms: int) -> pd.DataFrame:
    """Drop candles still forming at `now_ms` (close time not yet past): never stored as final."""
    closed = candles["close_time"].astype("int64").to_numpy() < now_ms
    return candles[closed].reset_index(drop=True)


def open_ms(candles: pd.DataFrame) -> np.ndarray:
    """Open times as epoch milliseconds (int64)."""
    return candles["open_time"].astype("int64").to_numpy()


def _typed(columns: dict[str, pa.Array | pa.ChunkedArray]) -> pd.DataFrame:
    """The parsed fields as the candle table, converted in Arrow and handed to pandas once."""
    typed = {c: columns[c].cast(_CSV_TYPES[c]) for c in COLUMNS}
    for c in TIME_COLUMNS:
        values = typed[c]
        in_ms = pc.if_else(pc.greater_equal(values, MICROS_FROM), pc.divide(values, 1000), values)
        typed[c] = in_ms.cast(pa.timestamp("ms", tz="UTC"))
    frame: pd.DataFrame = pa.table(typed).to_pandas()
    return frame
