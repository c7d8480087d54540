"""Rules over the manifest's slices: every row's key and URL parse and agree with each other
and with the partition; the latest non-failed slices tile the day as `plan_day` (REST) or
`whole_day` (archive) lays it out."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import Enum
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import pandas as pd

from qlir_core.intervals import Interval
from qlir_core.manifest import SliceStatus, Source, StatusReason
from qlir_core.slices import MAX_LIMIT, SliceKey, slice_id
from qlir_core.validation.context import Findings, Partition
from qlir_core.validation.report import FailureCase, iso
from qlir_core.validation.rules import Rule

E = TypeVar("E", bound=Enum)
KLINES_PATH = "/api/v3/klines"
# …/data/spot/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2023-01-21.zip, at any base (https, s3, a folder)
_ARCHIVE_PATH = re.compile(
    r"(?:^|/)data/spot/daily/klines/(?P<symbol>[^/]+)/(?P<interval>[^/]+)/(?P<file>[^/]+)\.zip$"
)
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class UrlParts:
    """What a request URL names. REST URLs carry the window; archive paths carry the day."""

    source: Source
    symbol: str
    interval: Interval
    start_ms: int | None = None
    limit: int | None = None
    end_ms: int | None = None
    day: date | None = None


def parse_url(url: str) -> UrlParts:
    """`…/api/v3/klines?symbol=BTCUSDT&interval=1m&startTime=1674259200000&limit=1000` (endTime
    optional) or `…/data/spot/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2023-01-21.zip`; a ValueError
    naming the fault for anything else."""
    parts = urlsplit(url)
    if parts.path.endswith(KLINES_PATH):
        query = _query(parts.query)
        limit = _int(_param(query, "limit"), "limit")
        if limit <= 0:
            raise ValueError("limit must be positive")
        end = _param(query, "endTime", required=False)
        return UrlParts(
            Source.REST,
            _param(query, "symbol"),
            Interval.parse(_param(query, "interval")),
            start_ms=_int(_param(query, "startTime"), "startTime"),
            limit=limit,
            end_ms=None if end is None else _int(end, "endTime"),
        )
    match = _ARCHIVE_PATH.search(parts.path)
    if match is None:
        raise ValueError("neither a /api/v3/klines URL nor an archive daily klines path")
    symbol, spelled, file = match["symbol"], match["interval"], match["file"]
    prefix = f"{symbol}-{spelled}-"
    if not file.startswith(prefix) or not _ISO_DAY.match(file[len(prefix) :]):
        raise ValueError(f"file {file}.zip is not {prefix}YYYY-MM-DD.zip")
    interval = Interval.MO1 if spelled == "1mo" else Interval.parse(spelled)
    return UrlParts(Source.ARCHIVE, symbol, interval, day=date.fromisoformat(file[len(prefix) :]))


def _query(text: str) -> dict[str, list[str]]:
    """A query string's parameters; like parse_qs (blank values kept), without its cost on
    the plain values qlir's URLs carry."""
    if "%" in text or "+" in text:
        return parse_qs(text, keep_blank_values=True)
    out: dict[str, list[str]] = {}
    for pair in text.split("&"):
        if pair:
            name, _, value = pair.partition("=")
            out.setdefault(name, []).append(value)
    return out


def _param(query: dict[str, list[str]], name: str, *, required: bool = True) -> Any:
    values = query.get(name, [])
    if len(values) > 1:
        raise ValueError(f"{name} appears {len(values)} times in the query")
    if not values:
        if required:
            raise ValueError(f"the query has no {name}")
        return None
    return values[0]


def _int(text: str, name: str) -> int:
    if not (text.isascii() and text.isdigit()):
        raise ValueError(f"{name}={text!r} is not a non-negative integer")
    return int(text)


# The ledger columns the slice rules read: with these usable they run even if others are off.
SLICE_COLUMNS = (
    "slice_key",
    "slice_id",
    "source",
    "url",
    "start_ms",
    "end_ms",
    "limit",
    "status",
    "reason",
    "n_candles",
    "first_open_ms",
    "last_open_ms",
    "attempt",
)


@dataclass(frozen=True)
class Slice:
    """A manifest row whose key parsed, with the ledger fields later rules read."""

    row: int
    text: str
    key: SliceKey
    source: Source | None
    status: SliceStatus | None
    reason: StatusReason | None
    attempt: int
    n_candles: int
    first_open_ms: int | None
    last_open_ms: int | None

    @property
    def end_ms(self) -> int:
        """End of the window, exclusive."""
        return self.key.end_ms + 1

    @property
    def outcome(self) -> str:
        status = self.status.value if self.status else "?"
        return f"{status}/{self.reason.value if self.reason else '?'}"


def check_slices(frame: pd.DataFrame, part: Partition, found: Findings) -> list[Slice]:
    """Slice parse rules over every manifest row; returns the rows whose key parsed."""
    col = {name: frame[name].tolist() for name in SLICE_COLUMNS}
    bad_keys: list[FailureCase] = []
    bad_urls: list[FailureCase] = []
    disagree: dict[int, list[FailureCase]] = {}
    misaligned: list[FailureCase] = []
    wrong_ids: list[FailureCase] = []
    slices = []
    for row in range(len(frame)):
        text = _text(col["slice_key"][row])
        url = _text(col["url"][row])
        key: SliceKey | None = None
        parts: UrlParts | None = None
        try:
            key = SliceKey.parse(text)
        except ValueError as e:
            bad_keys.append(FailureCase(str(e), text, "slice_key", text))
        try:
            parts = parse_url(url)
        except ValueError as e:
            bad_urls.append(FailureCase(str(e), url, "url", text))
        source = _enum(Source, col["source"][row])
        faults = _disagreements(part, col, row, text, key, parts, source)
        if faults:
            disagree[row] = faults
        if key is not None and key.start_ms % key.series.interval.ms:
            misaligned.append(
                FailureCase(
                    f"start is {key.start_ms % key.series.interval.ms} ms past a "
                    f"{key.series.interval} boundary",
                    str(key.start_ms),
                    "slice_key",
                    text,
                )
            )
        if _text(col["slice_id"][row]) != slice_id(text):
            wrong_ids.append(
                FailureCase(
                    f"slice id is not blake2b-128 of the key ({slice_id(text)})",
                    _text(col["slice_id"][row]),
                    "slice_id",
                    text,
                )
            )
        if key is not None:
            slices.append(
                Slice(
                    row,
                    text,
                    key,
                    source,
                    _enum(SliceStatus, col["status"][row]),
                    _enum(StatusReason, col["reason"][row]),
                    _opt_int(col["attempt"][row]) or 0,
                    _opt_int(col["n_candles"][row]) or 0,
                    _opt_int(col["first_open_ms"][row]),
                    _opt_int(col["last_open_ms"][row]),
                )
            )
    found.add(Rule.SLICE_KEY, len(bad_keys), bad_keys)
    found.add(Rule.SLICE_URL, len(bad_urls), bad_urls)
    found.add(Rule.SLICE_AGREES, len(disagree), (c for cases in disagree.values() for c in cases))
    found.add(Rule.SLICE_ALIGNED, len(misaligned), misaligned)
    found.add(Rule.SLICE_ID, len(wrong_ids), wrong_ids)
    return slices


def _disagreements(
    part: Partition,
    col: dict[str, list[Any]],
    row: int,
    text: str,
    key: SliceKey | None,
    url: UrlParts | None,
    source: Source | None,
) -> list[FailureCase]:
    """Key against partition and ledger columns, URL against partition, source and key."""
    out = []

    def fault(column: str, check: str, value: object) -> None:
        out.append(FailureCase(check, str(value), column, text))

    if key is not None:
        if key.series != part.series:
            fault("slice_key", f"key names {key.series}, the partition is {part.series}", text)
        if not part.start_ms <= key.start_ms < part.end_ms:
            fault("slice_key", f"key starts {iso(key.start_ms)}, outside {part.day}", text)
        for name, expected in (("start_ms", key.start_ms), ("end_ms", key.end_ms)):
            if _opt_int(col[name][row]) != expected:
                fault(name, f"ledger {name} is not the key's {expected}", col[name][row])
        if _opt_int(col["limit"][row]) != key.limit:
            fault("limit", f"ledger limit is not the key's {key.limit}", col["limit"][row])
    if url is None:
        return out
    named = f"{url.symbol}-{url.interval}"
    if named != part.series.key:
        fault("url", f"URL names {named}, the partition is {part.series}", named)
    if url.source is not source:
        fault("source", f"a {url.source.value} URL on a {source and source.value} row", source)
    if url.day is not None and url.day != part.day:
        fault("url", f"archive URL names {url.day}, the partition is {part.day}", url.day)
    if key is not None and url.source is Source.REST:
        for name, got, expected in (
            ("startTime", url.start_ms, key.start_ms),
            ("limit", url.limit, key.limit),
        ):
            if got != expected:
                fault("url", f"URL {name} is not the key's {expected}", got)
        if url.end_ms is not None and url.end_ms != key.end_ms:
            fault("url", f"URL endTime is not the key's {key.end_ms}", url.end_ms)
    return out


def latest_attempts(slices: list[Slice], part: Partition) -> list[Slice]:
    """The last attempt at each slice of the partition's series (by attempt, then row)."""
    latest: dict[str, Slice] = {}
    for s in slices:
        if s.key.series != part.series:
            continue
        seen = latest.get(s.text)
        if seen is None or (s.attempt, s.row) > (seen.attempt, seen.row):
            latest[s.text] = s
    return sorted(latest.values(), key=lambda s: (s.key.start_ms, s.row))


def check_spacing(latest: list[Slice], part: Partition, found: Findings) -> int:
    """Slice spacing over the latest non-failed attempts; returns where their coverage of the
    day ends (exclusive). On the current day, the planned slices after it are pending."""
    failed = {s.text: s for s in latest if s.status is SliceStatus.FAILED}
    cases = []
    cursor = part.start_ms
    step = part.interval_ms
    for s in (s for s in latest if s.status not in (None, SliceStatus.FAILED)):
        start = s.key.start_ms
        if start > cursor:
            before = "the day starts" if cursor == part.start_ms else "the slices before end"
            cases.append(
                FailureCase(
                    f"starts at {iso(start)}, but {before} at {iso(cursor)}: "
                    + _span(start - cursor, step)
                    + _failed_note(failed, cursor, start),
                    str(start),
                    "start_ms",
                    s.text,
                )
            )
        elif start < cursor:
            cases.append(
                FailureCase(
                    f"starts at {iso(start)}, inside the slice before (it ends {iso(cursor)})",
                    str(start),
                    "start_ms",
                    s.text,
                )
            )
        if s.source is Source.ARCHIVE:
            expected, plan = part.per_day, "an archive day"
        else:
            expected, plan = min(MAX_LIMIT, (part.end_ms - start) // step), "plan_day"
        if s.key.limit != expected:
            cases.append(
                FailureCase(
                    f"limit should be {expected} ({plan})", str(s.key.limit), "limit", s.text
                )
            )
        cursor = max(cursor, s.end_ms)
    tail = _planned(part, cursor)
    waiting = [k for k in tail if k.key not in failed] if part.is_open else []
    found.add(
        Rule.SLICES_PENDING,
        len(waiting),
        (
            FailureCase(
                "not requested yet: the day is still open", iso(k.start_ms), "start_ms", k.key
            )
            for k in waiting
        ),
    )
    if tail and not part.is_open:
        cases.append(
            FailureCase(
                f"no slice covers {iso(cursor)} to the day's end: {len(tail)} planned slice(s) "
                "missing" + _failed_note(failed, cursor, part.end_ms),
                iso(cursor),
                "start_ms",
                tail[0].key,
            )
        )
    elif tail:
        for k in tail:
            if k.key in failed:
                s = failed[k.key]
                cases.append(
                    FailureCase(f"latest attempt {s.outcome}", str(s.attempt), "status", k.key)
                )
    found.add(Rule.SLICE_SPACING, len(cases), cases)
    return cursor


def _span(ms: int, step: int) -> str:
    if ms % step:
        return f"{ms} ms in no slice"
    return f"{ms // step} candle(s) in no slice"


def _planned(part: Partition, cursor: int) -> list[SliceKey]:
    """The REST slices `plan_day` would request from `cursor` to the end of the day."""
    out = []
    step = part.interval_ms
    while cursor < part.end_ms and (limit := min(MAX_LIMIT, (part.end_ms - cursor) // step)) > 0:
        out.append(SliceKey(part.series, cursor, limit))
        cursor += limit * step
    return out


def _failed_note(failed: dict[str, Slice], start: int, end: int) -> str:
    inside = [s for s in failed.values() if start <= s.key.start_ms < end]
    if not inside:
        return ""
    return "; latest attempt failed: " + ", ".join(f"{s.text} ({s.outcome})" for s in inside)


def _text(value: object) -> str:
    return "" if value is None or value is pd.NA else str(value)


def _opt_int(value: Any) -> int | None:
    if value is None or value is pd.NA:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _enum(enum: type[E], value: object) -> E | None:
    try:
        return enum(value)
    except (ValueError, TypeError):
        return None
