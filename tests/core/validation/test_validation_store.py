"""validate_store: one scan per layer of what a Store holds, one report per partition."""

from datetime import date

import pandas as pd
import pytest
from validation_parts import BTC_1M, DAY, LATER, Part, copy

from qlir_core import manifest
from qlir_core.series import Series
from qlir_core.storage import PartitionData, Store
from qlir_core.validation import Rule, Severity, validate_partition, validate_store


def publish(store: Store, part: Part) -> None:
    rows = manifest.from_frame(part.manifest)
    store.publish(PartitionData(part.series, part.day, part.candles, rows, []))


@pytest.fixture
def store(tmp_path, real_days) -> Store:
    store = Store(str(tmp_path))
    for part in real_days:
        publish(store, part)
    return store


def test_every_stored_real_day_passes(store, real_days):
    reports = validate_store(store, now_ms=LATER)
    assert len(reports) == len(real_days)
    assert all(r.passed(Severity.INFO) for r in reports), [
        f.message() for r in reports for f in r.violations
    ]
    keys = [(r.series.symbol, r.series.interval.ms, r.day) for r in reports]
    assert keys == sorted(keys)


def test_the_scan_sees_what_validating_one_partition_sees(store, real_days):
    by_key = {(p.series, p.day): p for p in real_days}
    for report in validate_store(store, now_ms=LATER):
        part = by_key[(report.series, report.day)]
        alone = validate_partition(part.series, part.day, part.candles, part.manifest, now_ms=LATER)
        assert report == alone


def test_filters_prune_series_and_days(store):
    assert [(r.series, r.day) for r in validate_store(store, now_ms=LATER, series=[BTC_1M])] == [
        (BTC_1M, DAY)
    ]
    on_day = validate_store(store, now_ms=LATER, days=[date(2022, 9, 7)])
    assert [(r.series, r.day) for r in on_day] == [(Series.parse("BTCUSDT-1h"), date(2022, 9, 7))]
    eth = Series.parse("ETHUSDT-1m")
    both = validate_store(store, now_ms=LATER, series=[eth], days=[date(2022, 8, 15)])
    assert [(r.series, r.day) for r in both] == [(eth, date(2022, 8, 15))]
    assert validate_store(store, now_ms=LATER, series=[]) == []
    assert validate_store(store, now_ms=LATER, days=[]) == []


def test_named_series_are_reported_as_the_whole_store_reports_them(store):
    whole = validate_store(store, now_ms=LATER)
    named = sorted({r.series for r in whole}, key=str, reverse=True)
    named.append(Series.parse("SOLUSDT-1m"))  # nothing stored: nothing reported
    assert len(named) > 2
    assert validate_store(store, now_ms=LATER, series=named) == whole


def test_a_corrupt_partition_is_reported_among_clean_ones(store, btc_archive):
    broken = copy(btc_archive)
    broken.candles = pd.concat([broken.candles.iloc[:11], broken.candles.iloc[10:]])
    publish(store, broken)
    reports = validate_store(store, now_ms=LATER)
    failing = [r for r in reports if not r.passed()]
    assert [(r.series, r.day) for r in failing] == [(BTC_1M, DAY)]
    assert {f.rule for f in failing[0].errors} == {Rule.DUPLICATE_OPEN, Rule.SLICE_CANDLES}


def test_a_partition_with_a_manifest_and_no_candles(store, btc_archive):
    store.candles_path(BTC_1M, DAY).unlink()
    (report,) = validate_store(store, now_ms=LATER, series=[BTC_1M])
    assert report.summary.missing_fetch == 1440
    assert {f.rule for f in report.errors} == {Rule.FETCH_GAP, Rule.SLICE_CANDLES}


def test_an_empty_store_has_nothing_to_report(tmp_path):
    assert validate_store(Store(str(tmp_path)), now_ms=LATER) == []
