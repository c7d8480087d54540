"""Partitions to validate, made the way qlir makes them: `fetch_partition` over the real mirror
(or a copy of one of its days, changed), and over a fake REST exchange serving a candle table.
(A plain module, not conftest: tests import from it.)"""

import hashlib
import io
import json
import logging
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pandas as pd

from qlir_core import candles, manifest
from qlir_core.ingest import SourceMode, Sources, fetch_partition
from qlir_core.intervals import DAY_MS
from qlir_core.pacing import DEFAULT_LIMIT
from qlir_core.series import Series
from qlir_core.slices import day_start_ms
from qlir_core.sources.archive import ArchiveClient, day_path
from qlir_core.sources.rest import RestClient
from qlir_core.storage import PartitionData
from qlir_sim.formats import to_csv, to_rest_rows

BTC_1M = Series.parse("BTCUSDT-1m")
DAY = date(2023, 1, 21)
D0 = day_start_ms(DAY)
LATER = D0 + 400 * DAY_MS  # "now" for the past days: long after they ended
LOG = logging.getLogger("tests.validation")
HALT_FIRST, HALT_MISSING = 12 * 60 + 40, 80  # 12:40 … 13:59 missing, as on 2023-03-24
TRUNCATED_CLOSE_MS = 41_646  # the real 12:39 bar of 2023-03-24 closed at 12:39:41.646


@dataclass
class Part:
    """A partition as validate_partition takes it; tests change copies of it."""

    series: Series
    day: date
    candles: pd.DataFrame
    manifest: pd.DataFrame
    now_ms: int


def _refuse(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"unexpected request {request.url}")


def _serve(table: pd.DataFrame) -> Callable[[httpx.Request], httpx.Response]:
    """/api/v3/klines over `table`, as Binance answers it (startTime … endTime, at most limit)."""
    opens = candles.open_ms(table)

    def handler(request: httpx.Request) -> httpx.Response:
        query = {k: v[0] for k, v in parse_qs(urlsplit(str(request.url)).query).items()}
        inside = (opens >= int(query["startTime"])) & (opens <= int(query["endTime"]))
        page = table[inside].head(int(query["limit"]))
        return httpx.Response(200, json=to_rest_rows(page))

    return handler


def ingest(
    series: Series,
    day: date,
    *,
    now_ms: int,
    mirror: Path | None = None,
    serve: pd.DataFrame | None = None,
) -> Part:
    """fetch_partition from an archive folder (`mirror`) or from a REST exchange serving
    `serve`; the other source refuses every request."""
    mode = SourceMode.ARCHIVE if mirror is not None else SourceMode.REST
    handler = _refuse if serve is None else _serve(serve)
    transport = httpx.MockTransport(handler)
    # A known limit: the client would read exchangeInfo before the first page otherwise.
    with RestClient(
        "https://exchange.test", transport=transport, weight_limit=DEFAULT_LIMIT
    ) as rest:
        archive = ArchiveClient(str(mirror) if mirror is not None else "/nonexistent")
        data: PartitionData = fetch_partition(
            series, day, Sources(mode, rest, archive), now_ms=now_ms, log=LOG
        )
    return Part(series, day, data.candles, manifest.to_frame(data.manifest), now_ms)


def write_archive_day(root: Path, series: Series, day: date, table: pd.DataFrame) -> Path:
    """`table` as the archive publishes a day: a zip of a header-less CSV and its CHECKSUM."""
    rel = day_path(series, day)
    target = root / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(Path(rel).with_suffix(".csv").name, to_csv(table))
    target.write_bytes(buffer.getvalue())
    digest = hashlib.sha256(buffer.getvalue()).hexdigest()
    Path(f"{target}.CHECKSUM").write_text(f"{digest}  {target.name}\n")
    return root


def halt(table: pd.DataFrame) -> pd.DataFrame:
    """A 1m day with a halt: 12:40–13:59 missing, and 12:39 a flat zero-volume bar closing at
    12:39:41.646, as the 2023-03-24 halt left them (binance-api-notes.md §8)."""
    out = table.drop(index=range(HALT_FIRST, HALT_FIRST + HALT_MISSING)).reset_index(drop=True)
    row = HALT_FIRST - 1
    price = out.loc[row, "open"]
    out.loc[row, ["high", "low", "close"]] = price
    for column in ("volume", "quote_volume", "taker_buy_base_volume", "taker_buy_quote_volume"):
        out.loc[row, column] = 0.0
    out.loc[row, "trades"] = 0
    out.loc[row, "close_time"] = out.loc[row, "open_time"] + pd.Timedelta(
        milliseconds=TRUNCATED_CLOSE_MS
    )
    return out


def mirror_series_days(mirror: Path) -> list[tuple[Series, date]]:
    out = []
    for z in sorted(mirror.glob("data/spot/daily/klines/*/*/*.zip")):
        symbol, interval, *ymd = z.stem.split("-")
        out.append((Series.parse(f"{symbol}-{interval}"), date.fromisoformat("-".join(ymd))))
    return out


def copy(part: Part, **changes: object) -> Part:
    """A deep copy of `part` (tables included), with `changes` applied."""
    fields = {
        "series": part.series,
        "day": part.day,
        "candles": part.candles.copy(),
        "manifest": part.manifest.copy(),
        "now_ms": part.now_ms,
    }
    fields.update(changes)
    return Part(**fields)  # type: ignore[arg-type]


def manifest_json(part: Part) -> str:
    """The manifest in a readable form, for assertion messages."""
    return json.dumps(part.manifest.astype(str).to_dict("records"), indent=1)
