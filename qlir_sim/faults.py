"""What goes wrong, on purpose: the fault switches and the seeded dice that decide, request by
request, which faults fire; how a fired fault damages a klines body, a zip or a CHECKSUM; and the
irregularities a synthetic market carries (halts, corrupted days)."""

from __future__ import annotations

import io
import json
import random
import zipfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from datetime import date, datetime
from enum import Enum
from typing import Any

import numpy as np
import pandas as pd

from qlir_core.candles import open_ms
from qlir_core.series import Series
from qlir_sim.formats import pack_zip, to_rest_rows
from qlir_sim.market import time_column, utc_ms

ERROR_STATUSES = (500, 502, 503, 504)


@dataclass(frozen=True)
class Faults:
    """What goes wrong. Rates are probabilities per request (klines-only ones say so).

    `corrupt_zip` / `corrupt_checksum` / `truncate_csv` name archive days (`YYYY-MM-DD`) or
    `all`.
    """

    error_rate: float = 0.0  # answer 500/502/503/504 (REST and archive)
    latency_ms: int = 0  # added to every REST and archive request
    latency_jitter_ms: int = 0  # up to this much more, uniformly at random, per request
    timeout_rate: float = 0.0  # hang `hang_seconds` before answering (REST and archive)
    hang_seconds: float = 15.0
    truncate_rate: float = 0.0  # klines: body cut short (invalid JSON)
    malformed_rate: float = 0.0  # klines: a candle with 11 fields or a non-numeric field
    drop_rate: float = 0.0  # klines: one to three candles left out
    duplicate_rate: float = 0.0  # klines: one candle sent twice
    out_of_order_rate: float = 0.0  # klines: two neighbouring candles swapped
    outside_window_rate: float = 0.0  # klines: a candle from before the window asked for, first
    burst_429: int = 0  # answer the next N REST requests with 429
    force_418: bool = False  # answer every REST request with 418 while on
    corrupt_zip: tuple[str, ...] = ()
    corrupt_checksum: tuple[str, ...] = ()
    truncate_csv: tuple[str, ...] = ()  # the zip holds a CSV cut mid-line; its CHECKSUM matches

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name.endswith("_rate") and not 0.0 <= value <= 1.0:
                raise ValueError(f"{f.name} must be between 0 and 1, got {value}")
            if f.type in ("int", "float") and value < 0:
                raise ValueError(f"{f.name} must not be negative, got {value}")
        for day in (*self.corrupt_zip, *self.corrupt_checksum, *self.truncate_csv):
            if day != "all":
                date.fromisoformat(day)  # raises ValueError on a malformed day

    def updated(self, changes: Mapping[str, Any]) -> Faults:
        """These faults with `changes` (JSON values) applied; ValueError on a bad key or value."""
        known = {f.name: str(f.type) for f in fields(self)}
        unknown = sorted(set(changes) - set(known))
        if unknown:
            raise ValueError(f"unknown fault {unknown[0]!r}; known: {', '.join(known)}")
        return replace(self, **{k: _coerce(k, known[k], v) for k, v in changes.items()})

    def to_json(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


def corrupts(days: tuple[str, ...], day: date) -> bool:
    """True when a corrupt_* list names `day` or `all`."""
    return "all" in days or day.isoformat() in days


@dataclass(frozen=True)
class Roll:
    """One request's draws: which faults fire, and a generator for where they strike."""

    timeout: bool
    error: bool
    error_status: int
    drop: bool
    duplicate: bool
    out_of_order: bool
    malformed: bool
    truncate: bool
    outside: bool
    rng: random.Random


class FaultSwitch:
    """The current faults and their RNG; every request draws the same number of values."""

    def __init__(self, faults: Faults, seed: int) -> None:
        self.faults = faults
        self.burst_left = faults.burst_429
        self._rng = random.Random(seed)

    def set(self, faults: Faults, *, seed: int | None = None, rearm: bool = False) -> None:
        """Switch to `faults`; `rearm` restarts the 429 burst, a seed restarts the dice."""
        self.faults = faults
        if rearm:
            self.burst_left = faults.burst_429
        if seed is not None:
            self._rng = random.Random(seed)

    def roll(self) -> Roll:
        f, draw = self.faults, self._rng.random
        draws = [draw() for _ in range(9)]
        return Roll(
            timeout=draws[0] < f.timeout_rate,
            error=draws[1] < f.error_rate,
            error_status=ERROR_STATUSES[int(draws[2] * len(ERROR_STATUSES))],
            drop=draws[3] < f.drop_rate,
            duplicate=draws[4] < f.duplicate_rate,
            out_of_order=draws[5] < f.out_of_order_rate,
            malformed=draws[6] < f.malformed_rate,
            truncate=draws[7] < f.truncate_rate,
            outside=draws[8] < f.outside_window_rate,
            rng=random.Random(self._rng.getrandbits(64)),
        )

    def take_burst(self) -> bool:
        """True (and one fewer left) while a 429 burst is armed."""
        if self.burst_left <= 0:
            return False
        self.burst_left -= 1
        return True


def _coerce(name: str, kind: str, value: Any) -> Any:
    """A JSON value as the field's type; bools are not numbers here."""
    if kind == "bool" and isinstance(value, bool):
        return value
    if kind in ("int", "float") and isinstance(value, int | float) and not isinstance(value, bool):
        if kind == "int" and value != int(value):
            raise ValueError(f"{name} must be a whole number, got {value}")
        return int(value) if kind == "int" else float(value)
    if kind.startswith("tuple") and isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    if (
        kind.startswith("tuple")
        and isinstance(value, list)
        and all(isinstance(v, str) for v in value)
    ):
        return tuple(value)
    raise ValueError(f"{name}: {value!r} is not a valid {kind}")


# --- damage done by a fired fault ---------------------------------------------------------------


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


# --- irregularities of a synthetic market ------------------------------------------------------


@dataclass(frozen=True)
class Halt:
    """The exchange had no candles opening in `[start_ms, end_ms)` (all symbols, all intervals)."""

    start_ms: int
    end_ms: int

    def __post_init__(self) -> None:
        if self.end_ms <= self.start_ms:
            raise ValueError(f"a halt must end after it starts: {self.start_ms} → {self.end_ms}")

    @classmethod
    def parse(cls, text: str) -> Halt:
        """`2024-01-02T12:40/2024-01-02T14:00` (UTC; a bare date means its midnight)."""
        start, sep, end = text.partition("/")
        if not sep:
            raise ValueError(
                f"malformed halt {text!r}: expected START/END, "
                "e.g. 2024-01-02T12:40/2024-01-02T14:00"
            )
        return cls(utc_ms(datetime.fromisoformat(start)), utc_ms(datetime.fromisoformat(end)))


class Corruption(Enum):
    """What is wrong with a corrupted day: a candle twice, or a candle off the interval grid."""

    DUP = "dup"
    MISALIGN = "misalign"


@dataclass(frozen=True)
class CorruptDay:
    """One day of one series served wrong, the same way by REST and the archive.

    The affected candle is the middle one of the day (12:00 UTC for intervals up to 12h):
    `dup` repeats it, `misalign` shifts its open and close times by half an interval.
    """

    kind: Corruption
    series: Series
    day: date

    @classmethod
    def parse(cls, text: str) -> CorruptDay:
        """`dup:BTCUSDT-1m:2024-01-02` or `misalign:BTCUSDT-1m:2024-01-02`."""
        parts = text.split(":")
        if len(parts) != 3:
            raise ValueError(
                f"malformed corrupt day {text!r}: expected KIND:SERIES:DAY, "
                "e.g. dup:BTCUSDT-1m:2024-01-02"
            )
        kinds = ", ".join(k.value for k in Corruption)
        try:
            kind = Corruption(parts[0])
        except ValueError:
            raise ValueError(f"unknown corruption {parts[0]!r} (one of: {kinds})") from None
        return cls(kind, Series.parse(parts[1]), date.fromisoformat(parts[2]))


def without_halts(candles: pd.DataFrame, halts: tuple[Halt, ...]) -> pd.DataFrame:
    """The candles whose open time falls in no halt."""
    if not halts:
        return candles
    opens = open_ms(candles)
    keep = np.ones(len(opens), dtype=bool)
    for halt in halts:
        keep &= (opens < halt.start_ms) | (opens >= halt.end_ms)
    return candles[keep].reset_index(drop=True)


def corrupted(candles: pd.DataFrame, kind: Corruption, interval_ms: int) -> pd.DataFrame:
    """The day with its middle candle repeated (DUP) or shifted by half an interval (MISALIGN)."""
    if candles.empty:
        return candles
    middle = len(candles) // 2
    if kind is Corruption.DUP:
        order = np.insert(np.arange(len(candles)), middle, middle)
        return candles.iloc[order].reset_index(drop=True)
    out = candles.copy()
    for column in ("open_time", "close_time"):
        ms = out[column].astype("int64").to_numpy().copy()
        ms[middle] += interval_ms // 2
        out[column] = time_column(ms)
    return out
