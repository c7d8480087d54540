"""The partition being validated (its day's bounds in ms, what is due by now) and the
collector every rule reports into."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from itertools import islice

import numpy as np
import numpy.typing as npt

from qlir_core.binance import Endpoint
from qlir_core.intervals import DAY_MS
from qlir_core.series import Series
from qlir_core.slices import day_start_ms
from qlir_core.validation.report import FailureCase, Finding
from qlir_core.validation.rules import Rule


@dataclass(frozen=True)
class Partition:
    """One (series, day) of `endpoint`'s dataset seen at `now_ms`: the day is [start_ms, end_ms)
    in epoch ms."""

    series: Series
    day: date
    now_ms: int
    interval_ms: int
    start_ms: int
    end_ms: int
    endpoint: Endpoint = Endpoint.KLINES

    @classmethod
    def of(
        cls, series: Series, day: date, now_ms: int, endpoint: Endpoint = Endpoint.KLINES
    ) -> Partition:
        start = day_start_ms(day)
        return cls(series, day, now_ms, series.interval.ms, start, start + DAY_MS, endpoint)

    @property
    def per_day(self) -> int:
        return DAY_MS // self.interval_ms

    @property
    def is_open(self) -> bool:
        """The current (or a future) day: its last candle has not closed at `now_ms`."""
        return self.now_ms < self.end_ms

    @property
    def expected_rows(self) -> int:
        """Candles of the day that have closed by `now_ms` (candle k closes at
        start + (k + 1) × interval − 1 and is final once that is before now)."""
        return int(min(self.per_day, max(0, (self.now_ms - self.start_ms) // self.interval_ms)))


class Findings:
    """Counts and the first `max_cases` failure cases per rule, in the order rules report."""

    def __init__(self, part: Partition, max_cases: int) -> None:
        self.part = part
        self.max_cases = max_cases
        self._found: dict[Rule, tuple[int, list[FailureCase]]] = {}

    def add(self, rule: Rule, count: int, cases: Iterable[FailureCase] = ()) -> None:
        """Report `count` violations of `rule` (0: it ran and passed); repeated calls add up."""
        before, sample = self._found.get(rule, (0, []))
        room = self.max_cases - len(sample)
        sample = sample + list(islice(cases, max(room, 0)))
        self._found[rule] = (before + count, sample)

    def rows(
        self, rule: Rule, rows: npt.NDArray[np.intp], case: Callable[[int], FailureCase]
    ) -> None:
        """Report the rows in `rows` (positions), building cases for the first few only."""
        self.add(rule, len(rows), (case(int(r)) for r in rows[: self.max_cases]))

    def build(self) -> tuple[Finding, ...]:
        """One finding per rule that ran, in the order of `Rule`."""
        part = self.part
        return tuple(
            Finding(part.series, part.day, rule, count, tuple(sample))
            for rule in Rule
            if rule in self._found
            for count, sample in [self._found[rule]]
        )
