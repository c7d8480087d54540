"""The edges of the rules (near misses on either side), the entry point's inputs, the report."""

import numpy as np
import pandas as pd
import pytest
from validation_parts import BTC_1M, D0, DAY, HALT_FIRST, LATER, copy, halt

from qlir_core import candles, manifest
from qlir_core.intervals import DAY_MS, Interval
from qlir_core.manifest import Source
from qlir_core.validation import (
    CASE_COLUMNS,
    GAP_COLUMNS,
    GapCause,
    Rule,
    Severity,
    parse_url,
    validate_partition,
)

SLICE1 = "BTCUSDT:1m:1674319200000:440"
KLINES = "https://x/api/v3/klines?symbol=BTCUSDT&interval=1m"


def validate(part, **kwargs):
    return validate_partition(
        part.series, part.day, part.candles, part.manifest, now_ms=part.now_ms, **kwargs
    )


def rules(findings):
    return {f.rule for f in findings}


# -- truncated bars ------------------------------------------------------------------------


def test_an_early_close_with_trades_is_not_a_truncated_bar(halt_archive):
    part = copy(halt_archive)
    part.candles.loc[HALT_FIRST - 1, ["volume", "trades"]] = [1.0, 3]
    report = validate(part)
    assert rules(report.errors) == {Rule.CLOSE_TIME}
    assert report.finding(Rule.TRUNCATED_BAR).passed


def test_a_flat_idle_bar_closing_early_without_a_gap_after_it_is_an_error(btc_archive):
    part = copy(btc_archive)
    part.candles = halt(part.candles).head(HALT_FIRST)  # cut at the truncated bar ...
    rest = btc_archive.candles.iloc[HALT_FIRST:]  # ... and put the candles after it back
    part.candles = pd.concat([part.candles, rest], ignore_index=True)
    report = validate(part)
    assert Rule.CLOSE_TIME in rules(report.errors)
    assert report.finding(Rule.TRUNCATED_BAR).passed


def test_a_truncated_last_bar_of_the_day_is_a_warning(btc_archive):
    part = copy(btc_archive)
    last = len(part.candles) - 1
    part.candles.loc[last, ["open", "high", "low", "close"]] = part.candles.loc[last, "open"]
    part.candles.loc[last, ["volume", "quote_volume"]] = 0.0
    part.candles.loc[last, ["taker_buy_base_volume", "taker_buy_quote_volume"]] = 0.0
    part.candles.loc[last, "trades"] = 0
    part.candles.loc[last, "close_time"] -= pd.Timedelta(seconds=30)
    report = validate(part)
    assert rules(report.warnings) == {Rule.TRUNCATED_BAR}
    assert report.passed(Severity.ERROR)


# -- attempts, failures and the current day ------------------------------------------------


def test_only_the_latest_attempt_at_a_slice_counts(btc_rest):
    part = copy(btc_rest)
    part.manifest = part.manifest.iloc[[0, 1, 1]].reset_index(drop=True)
    part.manifest.loc[1, ["status", "reason", "n_candles", "attempt"]] = [
        "failed",
        "http_error",
        0,
        1,
    ]
    part.manifest.loc[1, ["first_open_ms", "last_open_ms"]] = pd.NA
    part.manifest.loc[2, "attempt"] = 2
    assert validate(part).passed(Severity.INFO)


def test_a_failed_latest_attempt_leaves_a_fetch_gap(btc_rest):
    part = copy(btc_rest)
    part.manifest.loc[1, ["status", "reason", "n_candles"]] = ["failed", "http_error", 0]
    part.manifest.loc[1, ["first_open_ms", "last_open_ms"]] = pd.NA
    part.candles = part.candles.head(1000)
    report = validate(part)
    assert rules(report.errors) == {Rule.SLICE_SPACING, Rule.FETCH_GAP}
    (run,) = report.gap_runs
    assert (run.cause, run.count, run.slice_key) == (GapCause.FETCH, 440, SLICE1)
    assert "failed (failed/http_error)" in report.finding(Rule.FETCH_GAP).sample[0].check
    assert "failed" in report.finding(Rule.SLICE_SPACING).sample[0].check


def test_the_current_day_as_fetched_is_complete_so_far(today_rest):
    report = validate(today_rest)
    assert report.passed(Severity.WARN)
    assert rules(report.infos) == {Rule.SLICES_PENDING}
    assert report.summary.rows == report.summary.expected_rows == 600
    assert today_rest.manifest["status"].tolist() == ["partial"]


def test_a_current_day_left_as_it_was_after_the_day_ended_is_an_error(today_rest):
    report = validate(copy(today_rest, now_ms=LATER))
    assert rules(report.errors) == {Rule.SLICE_SPACING, Rule.FETCH_GAP}
    assert report.summary.missing_fetch == 840
    assert "never fetched again" in report.finding(Rule.FETCH_GAP).sample[0].check


@pytest.mark.parametrize(
    ("now_ms", "errors", "infos"),
    [
        (LATER, {Rule.SLICE_SPACING, Rule.FETCH_GAP}, set()),
        (D0 + DAY_MS // 2, set(), {Rule.SLICES_PENDING, Rule.CANDLES_PENDING}),
        (D0, set(), {Rule.SLICES_PENDING}),
    ],
)
def test_nothing_stored(now_ms, errors, infos):
    report = validate_partition(BTC_1M, DAY, candles.empty(), [], now_ms=now_ms)
    assert rules(report.errors) == errors
    assert rules(report.infos) == infos
    assert report.summary.rows == 0


def test_a_day_covered_twice_is_broken_spacing(btc_archive, btc_rest):
    part = copy(btc_rest)
    part.manifest = pd.concat([btc_archive.manifest, part.manifest], ignore_index=True)
    report = validate(part)
    spacing = report.finding(Rule.SLICE_SPACING)
    assert spacing.count == 2
    assert {c.slice_key for c in spacing.sample} == {"BTCUSDT:1m:1674259200000:1000", SLICE1}


def test_a_rest_slice_must_be_what_plan_day_asks_for(btc_archive):
    part = copy(btc_archive)
    part.manifest.loc[0, "source"] = Source.REST.value
    part.manifest.loc[0, "url"] = (
        "https://x/api/v3/klines?symbol=BTCUSDT&interval=1m&startTime=1674259200000"
        "&endTime=1674345599999&limit=1440"
    )
    report = validate(part)
    assert rules(report.errors) == {Rule.SLICE_SPACING}
    assert "plan_day" in report.finding(Rule.SLICE_SPACING).sample[0].check


# -- the inputs ----------------------------------------------------------------------------


def test_a_manifest_without_a_column_stops_the_slice_rules_only(btc_archive):
    part = copy(btc_archive)
    part.manifest = part.manifest.drop(columns="url")
    report = validate(part)
    assert rules(report.errors) == {Rule.MANIFEST_COLUMNS}
    assert report.finding(Rule.MANIFEST_COLUMNS).sample[0].column == "url"
    assert report.finding(Rule.SLICE_URL) is None
    assert report.finding(Rule.CLOSE_TIME).passed


def test_a_wrong_candle_dtype_is_named_and_stops_the_time_rules(btc_archive):
    part = copy(btc_archive)
    part.candles["trades"] = part.candles["trades"].astype("float64")
    report = validate(part)
    (case,) = report.finding(Rule.CANDLE_COLUMNS).sample
    assert (case.column, case.check, case.value) == ("trades", "dtype('int64')", "float64")
    assert report.finding(Rule.CLOSE_TIME) is None
    assert report.finding(Rule.OHLC_ORDER).passed  # its columns are fine


def test_a_missing_value_is_named_by_row_and_open_time(btc_archive):
    part = copy(btc_archive)
    part.candles.loc[7, "close"] = np.nan
    found = validate(part).finding(Rule.CANDLE_COLUMNS)
    assert found.count == 1
    assert (found.sample[0].row, found.sample[0].column) == (7, "close")
    assert found.sample[0].open_time_ms == D0 + 7 * 60_000


def test_manifest_rows_or_their_table_give_the_same_report(btc_rest):
    rows = manifest.from_frame(btc_rest.manifest)
    by_rows = validate_partition(BTC_1M, DAY, btc_rest.candles, rows, now_ms=LATER)
    assert by_rows == validate(btc_rest)


def test_rows_are_positions_whatever_the_index(btc_archive):
    part = copy(btc_archive)
    table = pd.concat([part.candles.iloc[:6], part.candles.iloc[5:]])
    part.candles = table.set_axis(range(1000, 1000 + len(table)))
    (case,) = validate(part).finding(Rule.DUPLICATE_OPEN).sample
    assert (case.row, case.check) == (6, "same open time as row 5")


# -- the report ----------------------------------------------------------------------------


def test_failure_tables_have_fixed_columns_and_keep_the_first_cases(btc_archive):
    report = validate(copy(btc_archive, now_ms=D0 + 10 * 3_600_000), max_cases=5)
    final = report.finding(Rule.CANDLE_FINAL)
    assert final.count == 840
    assert len(final.sample) == 5
    assert tuple(report.failure_cases.columns) == CASE_COLUMNS
    assert tuple(final.cases.columns) == CASE_COLUMNS
    assert str(report.failure_cases["open_time"].dtype) == "datetime64[ms, UTC]"
    assert tuple(report.gaps.columns) == GAP_COLUMNS
    assert report.summary.as_dict()["errors"] == 840
    assert report.errors == (final,)
    assert report.warnings == ()
    assert not report.passed()
    assert report.passed(Severity.ERROR) is False


def test_a_clean_report_builds_empty_tables_with_their_columns(btc_archive):
    report = validate(btc_archive)
    assert report.passed()
    assert report.errors == report.warnings == report.infos == report.violations == ()
    assert tuple(report.failure_cases.columns) == CASE_COLUMNS
    assert tuple(report.gaps.columns) == GAP_COLUMNS
    assert all(f.message().endswith("0 violation(s)") for f in report.findings)


# -- URLs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://data-api.binance.vision/api/v3/klines?symbol=BTCUSDT&interval=1m"
            "&startTime=1674259200000&endTime=1674319199999&limit=1000",
            (Source.REST, "BTCUSDT", Interval.M1, 1674259200000, 1000, 1674319199999, None),
        ),
        (
            "http://127.0.0.1:8000/api/v3/klines?limit=24&endTime=86399999&startTime=0"
            "&interval=1h&symbol=ETHUSDT",
            (Source.REST, "ETHUSDT", Interval.H1, 0, 24, 86399999, None),
        ),
        (
            "https://data.binance.vision/data/spot/daily/klines/BTCUSDT/1s/BTCUSDT-1s-2025-01-01.zip",
            (Source.ARCHIVE, "BTCUSDT", Interval.S1, None, None, None, "2025-01-01"),
        ),
        (
            "s3://bucket/mirror/data/spot/daily/klines/ETHUSDT/1d/ETHUSDT-1d-2022-08-14.zip",
            (Source.ARCHIVE, "ETHUSDT", Interval.D1, None, None, None, "2022-08-14"),
        ),
        (
            "data/spot/daily/klines/ETHUSDT/1h/ETHUSDT-1h-2022-08-14.zip",
            (Source.ARCHIVE, "ETHUSDT", Interval.H1, None, None, None, "2022-08-14"),
        ),
    ],
)
def test_urls_parse(url, expected):
    parts = parse_url(url)
    day = parts.day.isoformat() if parts.day else None
    got = (parts.source, parts.symbol, parts.interval)
    assert (*got, parts.start_ms, parts.limit, parts.end_ms, day) == expected


@pytest.mark.parametrize(
    ("url", "fault"),
    [
        (f"{KLINES}&endTime=59999&limit=1000", "one 'startTime' parameter, found 0"),
        (f"{KLINES}&startTime=0&limit=1000", "one 'endTime' parameter, found 0"),
        (f"{KLINES}&startTime=0&endTime=59999&limit=1&limit=2", "one 'limit' parameter, found 2"),
        (f"{KLINES}&startTime=-5&endTime=59999&limit=1", "not a non-negative integer"),
        (f"{KLINES}&startTime=0&endTime=59999&limit=0", "positive"),
        (f"{KLINES}&startTime=0&endTime=59999&limit=1&weight=2", "unexpected parameters"),
        (
            "https://x/api/v3/klines?symbol=BTCUSDT&interval=2m&startTime=0&endTime=1&limit=1",
            "unknown interval",
        ),
        ("https://x/data/spot/monthly/klines/BTCUSDT/1m/BTCUSDT-1m-2023-01.zip", "not a daily"),
        ("https://x/data/spot/daily/klines/BTCUSDT/1m/ETHUSDT-1m-2023-01-21.zip", "its folder"),
        ("https://x/data/spot/daily/klines/BTCUSDT/1m/BTCUSDT-1m-20230121.zip", "not a daily"),
        ("", "not a daily klines zip"),
    ],
)
def test_urls_that_do_not_parse_say_why(url, fault):
    with pytest.raises(ValueError, match=fault):
        parse_url(url)
