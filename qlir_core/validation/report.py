"""What validating one partition finds: typed records, turned into tables only on demand.

Tables are built lazily (a passing partition builds none), with enums written as their stored
spellings; log lines name rules and severities by their enum names.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from functools import cached_property

import pandas as pd

from qlir_core.series import Series
from qlir_core.validation.rules import GapCause, Rule, Severity

CASE_COLUMNS = (
    "series",
    "day",
    "rule",
    "severity",
    "slice_key",
    "open_time",
    "row",
    "column",
    "check",
    "value",
)
GAP_COLUMNS = ("series", "day", "first_missing", "last_missing", "count", "cause", "slice_key")


@dataclass(frozen=True)
class FailureCase:
    """One offending slice or candle: where it is, which check it fails, with what value."""

    check: str
    value: str
    column: str | None = None
    slice_key: str | None = None
    open_time_ms: int | None = None
    row: int | None = None  # position in the candle table


@dataclass(frozen=True)
class Finding:
    """One rule's outcome for one partition. `count` counts offending slices or candles (or, for
    gaps, missing candles); `sample` holds the first failure cases (a row may fail several)."""

    series: Series
    day: date
    rule: Rule
    count: int
    sample: tuple[FailureCase, ...] = ()

    @property
    def severity(self) -> Severity:
        return self.rule.severity

    @property
    def passed(self) -> bool:
        return self.count == 0

    @cached_property
    def cases(self) -> pd.DataFrame:
        """The sample as a table with CASE_COLUMNS."""
        return _cases_frame([(self, c) for c in self.sample])

    def message(self) -> str:
        """One line for a log: severity, rule, partition, count and the first offender."""
        head = (
            f"{self.severity.name} {self.rule.name} {self.series} {self.day}: "
            f"{self.count} violation(s)"
        )
        if not self.sample:
            return head
        first = self.sample[0]
        where = [
            first.slice_key,
            None if first.open_time_ms is None else iso(first.open_time_ms),
            first.column,
        ]
        named = " ".join(w for w in where if w)
        return f"{head}; first: {named}: {first.check} ({first.value})"


@dataclass(frozen=True)
class GapRun:
    """Consecutive missing candles with one cause and one covering slice (None: no slice)."""

    first_missing_ms: int
    last_missing_ms: int
    count: int
    cause: GapCause
    slice_key: str | None


@dataclass(frozen=True)
class Summary:
    """The per-partition numbers for materialization metadata."""

    rows: int
    expected_rows: int
    missing: int
    missing_exchange: int
    missing_fetch: int
    missing_pending: int
    gap_runs: int
    errors: int
    warnings: int
    infos: int

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class PartitionReport:
    """Every rule's finding for one (series, day) partition, its gap runs and its numbers."""

    series: Series
    day: date
    findings: tuple[Finding, ...]
    gap_runs: tuple[GapRun, ...]
    summary: Summary

    def passed(self, severity: Severity = Severity.ERROR) -> bool:
        """True when no rule of `severity` or worse found anything."""
        return not any(f.count and f.severity.rank >= severity.rank for f in self.findings)

    @property
    def errors(self) -> tuple[Finding, ...]:
        return self._violations(Severity.ERROR)

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return self._violations(Severity.WARN)

    @property
    def infos(self) -> tuple[Finding, ...]:
        return self._violations(Severity.INFO)

    @property
    def violations(self) -> tuple[Finding, ...]:
        """Every finding with a count, worst first."""
        found = [f for f in self.findings if f.count]
        return tuple(sorted(found, key=lambda f: -f.severity.rank))

    def _violations(self, severity: Severity) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.count and f.severity is severity)

    def finding(self, rule: Rule) -> Finding | None:
        """The finding for `rule`, or None if the rule could not run (e.g. missing columns)."""
        return next((f for f in self.findings if f.rule is rule), None)

    @cached_property
    def failure_cases(self) -> pd.DataFrame:
        """All findings' samples in one table with CASE_COLUMNS, worst severity first."""
        return _cases_frame([(f, c) for f in self.violations for c in f.sample])

    def cases_of(self, rules: Collection[Rule]) -> pd.DataFrame:
        """The samples of the findings of `rules` only, as `failure_cases` orders them."""
        return _cases_frame([(f, c) for f in self.violations if f.rule in rules for c in f.sample])

    @cached_property
    def gaps(self) -> pd.DataFrame:
        """The gap runs as a table with GAP_COLUMNS."""
        runs = self.gap_runs
        return pd.DataFrame(
            {
                "series": pd.Series([self.series.key] * len(runs), dtype="string"),
                "day": pd.Series([self.day.isoformat()] * len(runs), dtype="string"),
                "first_missing": _times([r.first_missing_ms for r in runs]),
                "last_missing": _times([r.last_missing_ms for r in runs]),
                "count": pd.Series([r.count for r in runs], dtype="int64"),
                "cause": pd.Series([r.cause.value for r in runs], dtype="string"),
                "slice_key": pd.Series([r.slice_key for r in runs], dtype="string"),
            },
            columns=list(GAP_COLUMNS),
        )


def _cases_frame(pairs: list[tuple[Finding, FailureCase]]) -> pd.DataFrame:
    def text(values: list[str | None]) -> pd.Series:
        return pd.Series(values, dtype="string")

    return pd.DataFrame(
        {
            "series": text([f.series.key for f, _ in pairs]),
            "day": text([f.day.isoformat() for f, _ in pairs]),
            "rule": text([f.rule.value for f, _ in pairs]),
            "severity": text([f.severity.value for f, _ in pairs]),
            "slice_key": text([c.slice_key for _, c in pairs]),
            "open_time": _times([c.open_time_ms for _, c in pairs]),
            "row": pd.Series([c.row for _, c in pairs], dtype="Int64"),
            "column": text([c.column for _, c in pairs]),
            "check": text([c.check for _, c in pairs]),
            "value": text([c.value for _, c in pairs]),
        },
        columns=list(CASE_COLUMNS),
    )


def _times(ms: list[int | None]) -> pd.Series:
    return pd.to_datetime(pd.Series(ms, dtype="Int64"), unit="ms", utc=True).astype(
        "datetime64[ms, UTC]"
    )


def iso(ms: int) -> str:
    """`2023-03-24T12:40:00Z`, milliseconds shown only when there are any."""
    try:
        moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    except (OverflowError, ValueError, OSError):
        return f"{ms} ms"
    spec = "seconds" if ms % 1000 == 0 else "milliseconds"
    return moment.replace(tzinfo=None).isoformat(timespec=spec) + "Z"
