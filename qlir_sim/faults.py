"""Fault switches and the seeded dice that decide, request by request, which faults fire."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from datetime import date
from typing import Any

ERROR_STATUSES = (500, 502, 503, 504)


@dataclass(frozen=True)
class Faults:
    """What goes wrong. Rates are probabilities per request (klines-only ones say so).

    `corrupt_zip` / `corrupt_checksum` / `truncate_csv` name archive days (`YYYY-MM-DD`) or
    `all`.
    """

    error_rate: float = 0.0  # answer 500/502/503/504 (REST and archive)
    latency_ms: int = 0  # added to every REST and archive request
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
