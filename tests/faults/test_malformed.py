"""Malformed answers are classified, every attempt a manifest row with the kind as its reason,
and never stored: a damaged REST page is asked for again; a damaged archive file is not (in AUTO
the day comes from REST instead)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from qlir_core import candles
from qlir_core.errors import (
    ChecksumMismatch,
    Malformation,
    MalformedData,
    MalformedFile,
    MalformedPage,
    UnconfirmedPage,
)
from qlir_core.ingest import MALFORMED_REASONS, Answer, SourceMode, check_page, confirm_short_page
from qlir_core.manifest import SliceStatus, Source, StatusReason
from qlir_core.pacing import Budget, WeightLimit
from qlir_core.slices import plan_day, whole_day
from qlir_core.sources.rest import Reply, RestClient
from qlir_core.validation import validate_partition
from qlir_sim import serve
from tests.faults.conftest import BTC_1M, DAY, LATER_MS, Fetch, Sim, market

# fault switch → the kinds it produces
REST_FAULTS = {
    "truncate_rate": {"truncated_body"},
    "malformed_rate": {"bad_field_count", "non_numeric_field"},
    "duplicate_rate": {"duplicate_candles"},
    "out_of_order_rate": {"out_of_order"},
    "outside_window_rate": {"outside_window"},
}


@pytest.mark.parametrize("switch", list(REST_FAULTS))
def test_a_damaged_page_every_time_fails_with_its_kind_after_five_attempts(
    sim: Sim, fetch: Fetch, switch: str
) -> None:
    sim.faults(**{switch: 1.0}, seed=5)
    outcome = fetch()
    assert isinstance(outcome.error, MalformedPage)
    assert MALFORMED_REASONS[outcome.error.kind].value in REST_FAULTS[switch]
    assert outcome.reasons[-1] == MALFORMED_REASONS[outcome.error.kind].value
    assert len(outcome.ledger) == 5
    assert set(outcome.reasons) <= REST_FAULTS[switch]
    assert {(r.status, r.http_status, r.attempt) for r in outcome.ledger} == {
        (SliceStatus.FAILED, 200, n) for n in range(1, 6)
    }
    # what came back (the weight header may read 0 when a window has just turned)
    assert all(r.bytes > 0 and r.used_weight is not None for r in outcome.ledger)


@pytest.mark.parametrize("switch", list(REST_FAULTS))
def test_a_damaged_page_now_and_then_is_asked_again_and_the_day_is_exact(
    sim: Sim, fetch: Fetch, served: Callable[..., pd.DataFrame], switch: str
) -> None:
    sim.faults(**{switch: 0.5}, seed=13)  # dice that damage some pages, never five in a row
    outcome = fetch()
    assert outcome.part is not None
    pd.testing.assert_frame_equal(outcome.part.candles, served(BTC_1M, DAY))
    damaged = set(outcome.reasons) - {"none"}
    assert damaged, "the dice were meant to damage some pages"
    assert damaged <= REST_FAULTS[switch]
    report = validate_partition(
        BTC_1M, DAY, outcome.part.candles, outcome.part.manifest, now_ms=LATER_MS
    )
    assert report.passed(), report


def test_candles_lost_on_the_way_are_asked_for_again(
    sim: Sim, fetch: Fetch, served: Callable[..., pd.DataFrame]
) -> None:
    sim.faults(drop_rate=0.5, seed=7)
    outcome = fetch()
    assert outcome.part is not None
    pd.testing.assert_frame_equal(outcome.part.candles, served(BTC_1M, DAY))
    short = [r for r in outcome.ledger if r.reason is StatusReason.HISTORICAL_SPARSITY]
    assert short, "the dice were meant to drop candles"
    assert all(r.n_candles < r.limit for r in short)
    latest = {r.slice_key: r for r in outcome.ledger}  # the last attempt at each slice
    assert {r.reason for r in latest.values()} == {StatusReason.NONE}


def test_a_real_gap_is_confirmed_by_the_same_answer_twice(budget_dir: Path, fetch: Fetch) -> None:
    halted = market(halts=["2024-01-02T12:40/2024-01-02T14:00"])
    with serve(halted) as url:
        budget = Budget.for_url(url, folder=budget_dir, limit=WeightLimit())
        with RestClient(url, budget=budget) as client:
            outcome = fetch(rest_client=client)
    assert outcome.part is not None
    assert len(outcome.part.candles) == 1440 - 80
    first, second = plan_day(BTC_1M, DAY)
    rows = [(r.slice_key, r.attempt, r.reason, r.n_candles) for r in outcome.ledger]
    assert rows == [  # 12:40 … 13:59 is in the first slice (00:00 … 16:39)
        (first.key, 1, StatusReason.HISTORICAL_SPARSITY, 920),
        (first.key, 2, StatusReason.HISTORICAL_SPARSITY, 920),
        (second.key, 1, StatusReason.NONE, 440),
    ]


def test_a_zip_whose_csv_is_cut_short_fails_the_archive_day_without_a_retry(
    sim: Sim, fetch: Fetch
) -> None:
    sim.faults(truncate_csv=[DAY.isoformat()])
    outcome = fetch(mode=SourceMode.ARCHIVE)
    assert isinstance(outcome.error, MalformedData)
    assert isinstance(outcome.error, MalformedFile)
    assert outcome.error.kind is Malformation.TRUNCATED_CSV
    assert "cut short" in str(outcome.error)
    assert outcome.reasons == ["truncated_csv"]
    assert sim.stats()["faults"] == {"truncate_csv": 1}


@pytest.mark.parametrize(
    ("faults", "reason"),
    [
        ({"truncate_csv": [DAY.isoformat()]}, StatusReason.TRUNCATED_CSV),
        ({"corrupt_zip": [DAY.isoformat()]}, StatusReason.CHECKSUM_MISMATCH),
    ],
)
def test_in_auto_mode_an_unusable_archive_day_comes_from_rest(
    sim: Sim,
    fetch: Fetch,
    served: Callable[..., pd.DataFrame],
    faults: dict[str, Any],
    reason: StatusReason,
) -> None:
    sim.faults(**faults)
    outcome = fetch(mode=SourceMode.AUTO)
    assert outcome.part is not None
    pd.testing.assert_frame_equal(outcome.part.candles, served(BTC_1M, DAY))
    assert [(r.source, r.reason) for r in outcome.ledger] == [
        (Source.ARCHIVE, reason),
        (Source.REST, StatusReason.NONE),
        (Source.REST, StatusReason.NONE),
    ]
    report = validate_partition(
        BTC_1M, DAY, outcome.part.candles, outcome.part.manifest, now_ms=LATER_MS
    )
    assert report.passed(), report


def test_a_checksum_mismatch_in_archive_mode_is_not_asked_again(sim: Sim, fetch: Fetch) -> None:
    sim.faults(corrupt_checksum=[DAY.isoformat()])
    outcome = fetch(mode=SourceMode.ARCHIVE)
    assert isinstance(outcome.error, ChecksumMismatch)
    assert outcome.reasons == ["checksum_mismatch"]


def _page(day: date) -> pd.DataFrame:
    return market().full_day(BTC_1M, day).head(5)


@pytest.mark.parametrize(
    ("change", "kind"),
    [
        (lambda t: pd.concat([t, t.tail(1)]), Malformation.DUPLICATE),
        (lambda t: t.iloc[[0, 2, 1, 3, 4]], Malformation.OUT_OF_ORDER),
        (lambda t: t.iloc[[0, 1, 2, 3, 1]], Malformation.DUPLICATE),
        (lambda t: _page(date(2024, 1, 1)).tail(1), Malformation.OUTSIDE_WINDOW),
        (lambda t: pd.concat([_page(date(2024, 1, 3)).head(1), t]), Malformation.OUT_OF_ORDER),
    ],
    ids=["repeated-last", "swapped", "repeated-apart", "day-before", "day-after-first"],
)
def test_check_page_names_what_is_wrong(change: Callable[..., Any], kind: Malformation) -> None:
    window = whole_day(BTC_1M, DAY)
    page = change(_page(DAY)).reset_index(drop=True)
    with pytest.raises(MalformedPage) as bad:
        check_page(page, window, "test")
    assert bad.value.kind is kind
    with pytest.raises(MalformedFile) as bad_file:  # the same fault in an archive file
        check_page(page, window, "test", malformed=MalformedFile)
    assert bad_file.value.kind is kind


def test_check_page_passes_a_clean_page_and_an_empty_one() -> None:
    window = whole_day(BTC_1M, DAY)
    assert check_page(_page(DAY), window, "test") is not None
    assert check_page(candles.empty(), window, "test").empty


def test_every_malformation_is_its_own_manifest_reason() -> None:
    assert set(MALFORMED_REASONS) == set(Malformation)
    assert len(set(MALFORMED_REASONS.values())) == len(Malformation)


def _answer(table: pd.DataFrame) -> Answer:
    now = pd.Timestamp("2024-06-01", tz="UTC")
    return Answer(table, Reply("test", 200, b"[]", None, now, now, 0.0))


def test_confirm_short_page_takes_a_full_answer_or_a_short_one_seen_twice() -> None:
    window = whole_day(BTC_1M, DAY)
    day = market().full_day(BTC_1M, DAY)
    full, short, other = _answer(day), _answer(day.iloc[10:]), _answer(day.iloc[:-10])
    asked: list[Answer] = []

    def answers(*given: Answer) -> Iterator[Answer]:
        for answer in given:
            asked.append(answer)
            yield answer

    assert confirm_short_page(window, answers(full, short)) is full
    assert asked == [full]  # a full answer is not asked again
    asked.clear()
    assert confirm_short_page(window, answers(short, other, full)) is full
    asked.clear()
    confirmed = confirm_short_page(window, answers(short, other, _answer(day.iloc[10:]), full))
    assert len(confirmed.table) == len(short.table)  # the same open times as the first answer
    assert len(asked) == 3
    with pytest.raises(UnconfirmedPage, match="no two alike"):
        confirm_short_page(window, answers(short, other))
