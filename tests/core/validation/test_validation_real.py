"""Real days pass every rule without a warning; a real day with a halt cut into it warns only;
missing candles are told apart by the slice that should have brought them."""

import subprocess
import sys

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from validation_parts import BTC_1M, D0, DAY, HALT_FIRST, HALT_MISSING, LATER, ingest

from qlir_core.intervals import MINUTE_MS
from qlir_core.validation import (
    GapCause,
    Rule,
    Severity,
    Summary,
    validate_partition,
)
from qlir_core.validation.rules import STORE_RULES


def validate(part):
    return validate_partition(
        part.series, part.day, part.candles, part.manifest, now_ms=part.now_ms
    )


def test_every_real_day_passes_every_rule_without_a_warning(real_days, real_days_rest):
    for part in [*real_days, *real_days_rest]:
        report = validate(part)
        assert report.passed(Severity.INFO), [f.message() for f in report.violations]
        # The store-level rules (parts of a stored partition agree) run in validate_store only.
        assert {f.rule for f in report.findings} == set(Rule) - STORE_RULES, "every rule ran"
        assert report.summary.rows == report.summary.expected_rows == part.series.interval.per_day
        assert report.failure_cases.empty
        assert report.gaps.empty


@pytest.mark.parametrize(
    ("base", "covering"),
    [
        ("halt_archive", "BTCUSDT:1m:1674259200000:1440"),
        ("halt_rest", "BTCUSDT:1m:1674259200000:1000"),
    ],
)
def test_a_halt_day_gives_warnings_and_no_error(base, covering, request):
    part = request.getfixturevalue(base)
    first = part.manifest.iloc[0]
    assert (first["status"], first["reason"]) == ("complete", "historical_sparsity")

    report = validate(part)

    assert report.passed(Severity.ERROR), [f.message() for f in report.errors]
    assert {f.rule for f in report.warnings} == {Rule.TRUNCATED_BAR, Rule.EXCHANGE_GAP}
    assert report.summary == Summary(
        rows=1440 - HALT_MISSING,
        expected_rows=1440,
        missing=HALT_MISSING,
        missing_exchange=HALT_MISSING,
        missing_fetch=0,
        missing_pending=0,
        gap_runs=1,
        errors=0,
        warnings=HALT_MISSING + 1,
        infos=0,
    )
    gaps = report.gaps
    assert gaps.to_dict("records") == [
        {
            "series": "BTCUSDT-1m",
            "day": "2023-01-21",
            "first_missing": pd.Timestamp("2023-01-21 12:40", tz="UTC"),
            "last_missing": pd.Timestamp("2023-01-21 13:59", tz="UTC"),
            "count": HALT_MISSING,
            "cause": "exchange",
            "slice_key": covering,
        }
    ]
    truncated = report.finding(Rule.TRUNCATED_BAR)
    assert truncated is not None
    assert truncated.sample[0].open_time_ms == D0 + (HALT_FIRST - 1) * MINUTE_MS
    assert truncated.sample[0].value == "2023-01-21T12:39:41.646Z"


def test_the_same_gap_from_a_complete_slice_is_a_fetch_error(btc_rest):
    table = btc_rest.candles.drop(index=range(HALT_FIRST, HALT_FIRST + HALT_MISSING))
    report = validate_partition(BTC_1M, DAY, table, btc_rest.manifest, now_ms=LATER)
    assert [(r.cause, r.count) for r in report.gap_runs] == [(GapCause.FETCH, HALT_MISSING)]
    assert {f.rule for f in report.errors} == {Rule.FETCH_GAP, Rule.SLICE_CANDLES}


@settings(max_examples=30, deadline=None)
@given(removed=st.sets(st.integers(0, 1439), max_size=120))
def test_gap_runs_are_exactly_the_candles_the_exchange_did_not_serve(btc_archive, removed):
    """Whatever the exchange leaves out comes back as maximal runs inside each slice, all of
    them the exchange's (its slices say historical_sparsity) and nothing else is flagged."""
    kept = btc_archive.candles.drop(index=sorted(removed)).reset_index(drop=True)
    part = ingest(BTC_1M, DAY, now_ms=LATER, serve=kept)

    report = validate(part)

    assert report.passed(Severity.ERROR), [f.message() for f in report.errors]
    assert report.summary.missing == report.summary.missing_exchange == len(removed)
    back = set()
    for run in report.gap_runs:
        assert run.cause is GapCause.EXCHANGE
        first = (run.first_missing_ms - D0) // MINUTE_MS
        last = (run.last_missing_ms - D0) // MINUTE_MS
        assert run.count == last - first + 1
        back |= set(range(first, last + 1))
        # maximal: the candles either side are there, or a slice boundary is
        assert first == 1000 or first - 1 not in removed
        assert last == 999 or last + 1 not in removed
    assert back == removed


def test_validation_does_not_import_dagster():
    code = "import sys, qlir_core.validation; print('dagster' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
