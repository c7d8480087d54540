"""Every rule: it passes on every real day, and one change to a real day breaks it, with a
finding that names the rule, the partition and the offending slice or candle."""

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
import pytest
from validation_parts import D0, HALT_FIRST, Part, copy

from qlir_core.candles import TIME_COLUMNS, TIME_DTYPE
from qlir_core.intervals import DAY_MS, HOUR_MS, MINUTE_MS
from qlir_core.validation import PartitionReport, Rule, Severity, validate_partition
from qlir_core.validation.rules import STORE_RULES

ROW = 100  # the candle of 01:40
# Store rules need the stored files: tests/core/test_partition_unit.py breaks them.
PARTITION_RULES = [r for r in Rule if r not in STORE_RULES]
SLICE0 = "BTCUSDT:1m:1674259200000:1000"
SLICE1 = "BTCUSDT:1m:1674319200000:440"
WHOLE_DAY = "BTCUSDT:1m:1674259200000:1440"


def at(row: int) -> int:
    return D0 + row * MINUTE_MS


def validate(part: Part) -> PartitionReport:
    return validate_partition(
        part.series, part.day, part.candles, part.manifest, now_ms=part.now_ms
    )


@dataclass(frozen=True)
class Break:
    """How to break `rule` starting from the fixture `base`, and who the offender is."""

    base: str
    change: Callable[[Part], Part]
    slice_key: str | None = None
    open_time_ms: int | None = None
    column: str | None = None


def cell(frame_of: str, row: int, column: str, value: object) -> Callable[[Part], Part]:
    def change(part: Part) -> Part:
        frame = getattr(part, frame_of)
        frame.loc[row, column] = value(frame) if callable(value) else value
        return part

    return change


def candles(edit: Callable[[pd.DataFrame], pd.DataFrame]) -> Callable[[Part], Part]:
    def change(part: Part) -> Part:
        edited = edit(part.candles).reset_index(drop=True)
        part.candles = edited.astype({c: TIME_DTYPE for c in TIME_COLUMNS})  # keep ms
        return part

    return change


def now(ms: int) -> Callable[[Part], Part]:
    def change(part: Part) -> Part:
        part.now_ms = ms
        return part

    return change


def _swap(t: pd.DataFrame) -> pd.DataFrame:
    return t.iloc[[*range(ROW), ROW + 1, ROW, *range(ROW + 2, len(t))]]


def _shift_open(t: pd.DataFrame) -> pd.DataFrame:
    t.loc[ROW, ["open_time", "close_time"]] += pd.Timedelta(seconds=1)
    return t


def _next_day(t: pd.DataFrame) -> pd.DataFrame:
    extra = t.tail(1).copy()
    extra[["open_time", "close_time"]] += pd.Timedelta(days=1)
    return pd.concat([t, extra])


_ms = pd.Timedelta(milliseconds=1)
BREAKS: dict[Rule, Break] = {
    Rule.MANIFEST_COLUMNS: Break(
        "btc_rest", cell("manifest", 1, "status", "weird"), SLICE1, column="status"
    ),
    Rule.SLICE_KEY: Break(
        "btc_rest",
        cell("manifest", 1, "slice_key", "BTCUSDT:1m:16743192OO000:440"),
        "BTCUSDT:1m:16743192OO000:440",
    ),
    Rule.SLICE_URL: Break(
        "btc_rest",
        cell("manifest", 1, "url", lambda m: m.loc[1, "url"].replace("startTime=", "start=")),
        SLICE1,
    ),
    Rule.SLICE_AGREES: Break(
        "btc_rest",
        cell("manifest", 1, "url", lambda m: m.loc[1, "url"].replace("BTCUSDT", "ETHUSDT")),
        SLICE1,
        column="url",
    ),
    Rule.SLICE_ALIGNED: Break(
        "btc_rest",
        cell("manifest", 1, "slice_key", "BTCUSDT:1m:1674319200001:440"),
        "BTCUSDT:1m:1674319200001:440",
    ),
    Rule.SLICE_ID: Break("btc_rest", cell("manifest", 0, "slice_id", "0" * 32), SLICE0),
    Rule.SLICE_SPACING: Break(
        "btc_rest", lambda p: copy(p, manifest=p.manifest.drop(index=1)), SLICE1
    ),
    Rule.SLICES_PENDING: Break("today_rest", lambda p: p, SLICE1),
    Rule.SLICE_CANDLES: Break(
        "btc_rest", cell("manifest", 0, "n_candles", 999), SLICE0, column="n_candles"
    ),
    Rule.CANDLE_COLUMNS: Break(
        "btc_archive", candles(lambda t: t.assign(ignore="0")), column="ignore"
    ),
    Rule.OHLC_ORDER: Break(
        "btc_archive", cell("candles", ROW, "low", lambda t: t.loc[ROW, "high"] + 1), None, at(ROW)
    ),
    Rule.NON_NEGATIVE: Break(
        "btc_archive", cell("candles", ROW, "volume", -1.0), None, at(ROW), "volume"
    ),
    Rule.TAKER_VOLUME: Break(
        "btc_archive",
        cell("candles", ROW, "taker_buy_base_volume", lambda t: t.loc[ROW, "volume"] + 1),
        None,
        at(ROW),
    ),
    Rule.INSIDE_DAY: Break("btc_archive", candles(_next_day), None, at(1439) + DAY_MS),
    Rule.CANDLE_FINAL: Break("btc_archive", now(D0 + 10 * HOUR_MS), None, at(600)),
    Rule.CLOSE_TIME: Break(
        "btc_archive",
        cell("candles", ROW, "close_time", lambda t: t.loc[ROW, "close_time"] + 5000 * _ms),
        None,
        at(ROW),
        "close_time",
    ),
    Rule.CLOSE_OFF_BY_ONE: Break(
        "btc_archive",
        cell("candles", ROW, "close_time", lambda t: t.loc[ROW, "close_time"] + _ms),
        None,
        at(ROW),
    ),
    Rule.TRUNCATED_BAR: Break("halt_archive", lambda p: p, None, at(HALT_FIRST - 1)),
    Rule.OPEN_ORDER: Break("btc_archive", candles(_swap), None, at(ROW)),
    Rule.DUPLICATE_OPEN: Break(
        "btc_archive",
        candles(lambda t: pd.concat([t.iloc[: ROW + 1], t.iloc[ROW:]])),
        None,
        at(ROW),
    ),
    Rule.MISALIGNED_OPEN: Break("btc_archive", candles(_shift_open), None, at(ROW) + 1000),
    Rule.EXCHANGE_GAP: Break("halt_archive", lambda p: p, WHOLE_DAY, at(HALT_FIRST)),
    Rule.FETCH_GAP: Break(
        "btc_rest", candles(lambda t: t.drop(index=range(200, 210))), SLICE0, at(200)
    ),
    Rule.CANDLES_PENDING: Break("today_rest", now(D0 + 12 * HOUR_MS), SLICE0, at(600)),
}


def test_every_rule_has_a_way_to_break_it():
    assert set(BREAKS) == set(PARTITION_RULES)


@pytest.mark.parametrize("rule", PARTITION_RULES, ids=lambda r: r.value)
def test_rule_passes_on_every_real_day(rule, real_days, real_days_rest):
    for part in [*real_days, *real_days_rest]:
        found = validate(part).finding(rule)
        assert found is not None, f"{rule.value} did not run on {part.series} {part.day}"
        assert found.passed, found.message()


@pytest.mark.parametrize("rule", PARTITION_RULES, ids=lambda r: r.value)
def test_rule_fails_naming_rule_partition_and_offender(rule, request):
    recipe = BREAKS[rule]
    part = recipe.change(copy(request.getfixturevalue(recipe.base)))
    report = validate(part)

    found = report.finding(rule)
    assert found is not None, [f.message() for f in report.violations]
    assert found.count > 0, [f.message() for f in report.violations]
    assert found.severity is rule.severity
    assert not report.passed(rule.severity)
    assert found in (report.errors + report.warnings + report.infos)
    message = found.message()
    assert f"{rule.severity.name} {rule.name} {part.series} {part.day}" in message
    assert f"{part.series} {part.day}" in message

    cases = report.failure_cases
    mine = cases[cases["rule"] == rule.value]
    assert len(mine) == len(found.sample) > 0
    assert set(mine["series"]) == {"BTCUSDT-1m"}
    assert set(mine["day"]) == {"2023-01-21"}
    assert set(mine["severity"]) == {rule.severity.value}
    if recipe.slice_key is not None:
        assert recipe.slice_key in set(mine["slice_key"].dropna()), mine.to_string()
    if recipe.open_time_ms is not None:
        wanted = pd.Timestamp(recipe.open_time_ms, unit="ms", tz="UTC")
        assert wanted in set(mine["open_time"].dropna()), mine.to_string()
    if recipe.column is not None:
        assert any(recipe.column in c for c in mine["column"].dropna()), mine.to_string()


@pytest.mark.parametrize(
    "rule",
    [Rule.CLOSE_OFF_BY_ONE, Rule.TRUNCATED_BAR, Rule.EXCHANGE_GAP],
    ids=lambda r: r.value,
)
def test_the_exchanges_own_irregularities_are_warnings_only(rule, request):
    recipe = BREAKS[rule]
    report = validate(recipe.change(copy(request.getfixturevalue(recipe.base))))
    assert report.passed(Severity.ERROR), [f.message() for f in report.errors]
    assert not report.passed(Severity.WARN)


@pytest.mark.parametrize("rule", [Rule.SLICES_PENDING, Rule.CANDLES_PENDING], ids=lambda r: r.value)
def test_the_current_days_missing_part_is_info_only(rule, request):
    recipe = BREAKS[rule]
    report = validate(recipe.change(copy(request.getfixturevalue(recipe.base))))
    assert report.passed(Severity.WARN), [f.message() for f in report.violations]
    assert not report.passed(Severity.INFO)
