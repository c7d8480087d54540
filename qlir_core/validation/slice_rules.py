"""Rules over the manifest's slices: every row's key and URL parse and agree with each other
and with the partition; the latest non-failed slices tile the day as `plan_day` (REST) or
`whole_day` (archive) lays it out."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from enum import Enum
from typing import Any, TypeVar
from urllib.parse import urlsplit

import numpy as np
import numpy.typing as npt
import pandas as pd

from qlir_core import binance
from qlir_core.intervals import Interval
from qlir_core.manifest import SliceStatus, Source, StatusReason
from qlir_core.slices import MAX_LIMIT, SliceKey, slice_id
from qlir_core.validation.context import Findings, Partition
from qlir_core.validation.report import FailureCase, iso
from qlir_core.validation.rules import Rule

E = TypeVar("E", bound=Enum)
T = TypeVar("T")
Mask = npt.NDArray[np.bool_]


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


def parse_url(url: str, endpoint: binance.Endpoint = binance.Endpoint.KLINES) -> UrlParts:
    """A request URL of `endpoint`'s dataset: its REST URL as `binance.klines_url` writes it,
    or (klines only) an archive day as `binance.archive_url` (or `archive_day_path`) writes it;
    a ValueError naming the fault, such as a klines URL in the uiklines dataset."""
    asked = binance.Endpoint.of_path(urlsplit(url).path)
    if asked is not None:
        if asked is not endpoint:
            raise ValueError(
                f"{url!r} asks {asked.path}; the {endpoint.value} dataset is fetched from "
                f"{endpoint.path}"
            )
        symbol, interval, start, end, limit = binance.parse_klines_url(url, endpoint)
        if limit <= 0:
            raise ValueError(f"limit must be positive, not {limit}")
        return UrlParts(Source.REST, symbol, interval, start_ms=start, limit=limit, end_ms=end)
    if not endpoint.archived:
        raise ValueError(
            f"{url!r}: the {endpoint.value} dataset is fetched from {endpoint.path} only"
        )
    symbol, interval, day = binance.parse_archive_url(url)
    return UrlParts(Source.ARCHIVE, symbol, interval, day=day)


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


@dataclass(frozen=True)
class Fault:
    """The rows failing one condition of a rule, and how one of them reads: (check, value)."""

    rows: Mask
    column: str
    case: Callable[[int], tuple[str, object]]


def check_slices(frame: pd.DataFrame, part: Partition, found: Findings) -> list[Slice]:
    """Slice parse rules over every manifest row; returns the rows whose key parsed."""
    texts = _texts(frame["slice_key"])
    keys, key_errors = _parse_each(SliceKey.parse, texts)
    url_texts = _texts(frame["url"])
    urls, url_errors = _parse_each(lambda u: parse_url(u, part.endpoint), url_texts)
    sources = [_enum(Source, v) for v in frame["source"]]
    ids = _texts(frame["slice_id"])
    expected_ids = [slice_id(t) for t in texts]
    k = _KeyColumns.of(keys)
    step = np.array([key.series.interval.ms if key else 1 for key in keys], dtype=np.int64)
    off = np.where(k.ok, k.start % step, 0)

    def report(rule: Rule, faults: list[Fault]) -> None:
        found.add(rule, *_cases(faults, texts))

    report(
        Rule.SLICE_KEY,
        [Fault(~k.ok, "slice_key", lambda r: (str(key_errors[r]), texts[r]))],
    )
    report(
        Rule.SLICE_URL,
        [Fault(_missing(urls), "url", lambda r: (str(url_errors[r]), url_texts[r]))],
    )
    report(Rule.SLICE_AGREES, _disagreements(frame, part, keys, k, urls, sources))
    report(
        Rule.SLICE_ALIGNED,
        [
            Fault(
                off != 0,
                "slice_key",
                lambda r: (
                    f"start is {off[r]} ms past a {_key(keys, r).series.interval.label} boundary",
                    k.start[r],
                ),
            )
        ],
    )
    report(
        Rule.SLICE_ID,
        [
            Fault(
                np.array(ids, dtype=object) != np.array(expected_ids, dtype=object),
                "slice_id",
                lambda r: (f"slice id is not blake2b-128 of the key ({expected_ids[r]})", ids[r]),
            )
        ],
    )
    status = [_enum(SliceStatus, v) for v in frame["status"]]
    reason = [_enum(StatusReason, v) for v in frame["reason"]]
    attempt, n_candles = _ints(frame["attempt"]), _ints(frame["n_candles"])
    first, last = _ints(frame["first_open_ms"]), _ints(frame["last_open_ms"])
    return [
        Slice(
            r,
            texts[r],
            key,
            sources[r],
            status[r],
            reason[r],
            attempt[r] or 0,
            n_candles[r] or 0,
            first[r],
            last[r],
        )
        for r, key in enumerate(keys)
        if key is not None
    ]


@dataclass(frozen=True)
class _KeyColumns:
    """The parsed keys' fields as arrays (0 where a key did not parse)."""

    ok: Mask
    start: npt.NDArray[np.int64]
    end: npt.NDArray[np.int64]
    limit: npt.NDArray[np.int64]

    @classmethod
    def of(cls, keys: list[SliceKey | None]) -> _KeyColumns:
        def field(get: Callable[[SliceKey], int]) -> npt.NDArray[np.int64]:
            return np.array([get(k) if k else 0 for k in keys], dtype=np.int64)

        return cls(
            ~_missing(keys),
            field(lambda k: k.start_ms),
            field(lambda k: k.end_ms),
            field(lambda k: k.limit),
        )


def _disagreements(
    frame: pd.DataFrame,
    part: Partition,
    keys: list[SliceKey | None],
    k: _KeyColumns,
    urls: list[UrlParts | None],
    sources: list[Source | None],
) -> list[Fault]:
    """Key against partition and ledger columns, URL against partition, source and key."""
    ledger = {
        name: frame[name].to_numpy(dtype=np.int64) for name in ("start_ms", "end_ms", "limit")
    }
    has_url = ~_missing(urls)

    def url_field(get: Callable[[UrlParts], object]) -> npt.NDArray[Any]:
        return np.array([None if u is None else get(u) for u in urls], dtype=object)

    def url_int(get: Callable[[UrlParts], int | None]) -> npt.NDArray[np.int64]:
        return np.array([(get(u) or 0) if u else 0 for u in urls], dtype=np.int64)

    symbol, interval = url_field(lambda u: u.symbol), url_field(lambda u: u.interval)
    source, day = url_field(lambda u: u.source), url_field(lambda u: u.day)
    rest = has_url & (source == Source.REST)
    u_start, u_end, u_limit = (
        url_int(lambda u: u.start_ms),
        url_int(lambda u: u.end_ms),
        url_int(lambda u: u.limit),
    )
    row_source = np.array(sources, dtype=object)

    def key(r: int) -> SliceKey:
        return _key(keys, r)

    def url(r: int) -> UrlParts:
        parts = urls[r]
        assert parts is not None
        return parts

    def named(r: int) -> str:
        return f"{url(r).symbol}-{url(r).interval.label}"

    return [
        Fault(
            k.ok & _each(keys, lambda x: x is not None and x.series != part.series),
            "slice_key",
            lambda r: (f"key names {key(r).series}, the partition is {part.series}", key(r).key),
        ),
        Fault(
            k.ok & ((k.start < part.start_ms) | (k.start >= part.end_ms)),
            "slice_key",
            lambda r: (f"key starts {iso(key(r).start_ms)}, outside {part.day}", key(r).key),
        ),
        _differs(k.ok, "start_ms", "ledger start_ms", ledger["start_ms"], k.start),
        _differs(k.ok, "end_ms", "ledger end_ms", ledger["end_ms"], k.end),
        _differs(k.ok, "limit", "ledger limit", ledger["limit"], k.limit),
        Fault(
            has_url & ((symbol != part.series.symbol) | (interval != part.series.interval)),
            "url",
            lambda r: (f"URL names {named(r)}, the partition is {part.series}", named(r)),
        ),
        Fault(
            has_url & (source != row_source),
            "source",
            lambda r: (
                f"a {url(r).source.name} URL on a {_name(sources[r])} row",
                frame["source"].iloc[r],
            ),
        ),
        Fault(
            has_url & _each(day.tolist(), lambda d: d is not None and d != part.day),
            "url",
            lambda r: (f"archive URL names {url(r).day}, the partition is {part.day}", url(r).day),
        ),
        _differs(rest & k.ok, "url", "URL startTime", u_start, k.start),
        _differs(rest & k.ok, "url", "URL limit", u_limit, k.limit),
        _differs(rest & k.ok, "url", "URL endTime", u_end, k.end),
    ]


def _differs(
    rows: Mask, column: str, label: str, got: npt.NDArray[np.int64], expected: npt.NDArray[np.int64]
) -> Fault:
    """The rows among `rows` where `got` is not the key's `expected`."""
    return Fault(
        rows & (got != expected),
        column,
        lambda r: (f"{label} is not the key's {expected[r]}", got[r]),
    )


def _cases(faults: list[Fault], texts: list[str]) -> tuple[int, Iterator[FailureCase]]:
    """How many rows fail any of `faults`, and their cases row by row, built as read."""
    rows = np.flatnonzero(np.logical_or.reduce([f.rows for f in faults]))

    def cases() -> Iterator[FailureCase]:
        for r in rows.tolist():
            for f in faults:
                if f.rows[r]:
                    check, value = f.case(r)
                    yield FailureCase(check, str(value), f.column, texts[r])

    return len(rows), cases()


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


def _texts(values: pd.Series[Any]) -> list[str]:
    return ["" if v is None or v is pd.NA else str(v) for v in values.tolist()]


def _ints(values: pd.Series[Any]) -> list[int | None]:
    return [None if v is None or v is pd.NA else int(v) for v in values.tolist()]


def _parse_each(
    parse: Callable[[str], T], texts: list[str]
) -> tuple[list[T | None], list[str | None]]:
    """`parse` over every text: the parsed values (None where it failed) and the errors."""
    parsed: list[T | None] = []
    errors: list[str | None] = []
    for text in texts:
        try:
            parsed.append(parse(text))
            errors.append(None)
        except ValueError as e:
            parsed.append(None)
            errors.append(str(e))
    return parsed, errors


def _each(values: list[T], test: Callable[[T], bool]) -> Mask:
    """`test` of every value, as a mask."""
    return np.fromiter((test(v) for v in values), dtype=np.bool_, count=len(values))


def _missing(values: list[Any]) -> Mask:
    return _each(values, lambda v: v is None)


def _key(keys: list[SliceKey | None], row: int) -> SliceKey:
    key = keys[row]
    assert key is not None  # only rows whose key parsed are asked for
    return key


def _name(value: Enum | None) -> str:
    return "?" if value is None else value.name


def _enum(enum: type[E], value: object) -> E | None:
    try:
        return enum(value)  # a ledger column's stored spelling
    except (ValueError, TypeError):
        return None
