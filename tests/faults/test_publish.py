"""`publish.decide`: a fetch replaces the stored candles only when it holds every stored open
time, or when it is the exchange's settled word on a closed day (a correction); any other
refetch with less never replaces them, nor does an older fetch. Boundary cases as tables."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from qlir_core import candles
from qlir_core.publish import CorrectionRule, Decision, Reason, decide
from qlir_core.storage import PartitionData, Store
from qlir_core.versions import fetched_at_ms
from tests.core.partition_parts import AFTER_DAY_MS
from tests.core.partition_parts import fetch as fetch_at
from tests.faults.conftest import BTC_1M, DAY, market

FULL = market().full_day(BTC_1M, DAY)  # 1440 candles
AFTER, DURING = AFTER_DAY_MS + 60_000, AFTER_DAY_MS - 60_000  # when a refetch began


def rows(*spans: tuple[int, int]) -> pd.DataFrame:
    """The candles FULL[a:b] for each (a, b), in order."""
    parts = [FULL.iloc[a:b] for a, b in spans]
    return pd.concat(parts, ignore_index=True) if parts else candles.empty()


def revised(table: pd.DataFrame, at: int) -> pd.DataFrame:
    out = table.copy()
    out.loc[at, "close"] = out.loc[at, "close"] + 1.0
    out.loc[at, "high"] = max(out.loc[at, "high"], out.loc[at, "close"])
    return out


def part(table: pd.DataFrame) -> PartitionData:
    return PartitionData(BTC_1M, DAY, table, [], [])


def fetch(table: pd.DataFrame, at_ms: int) -> PartitionData:
    """`table` fetched from REST beginning at `at_ms`, every window answered in full (or
    confirmed short)."""
    return fetch_at(table.reset_index(drop=True), at_ms)


Table = Callable[[], pd.DataFrame | None]

CASES: list[tuple[str, Table, Table, bool, Reason, int, int]] = [
    # id, fetched, stored, publish, reason, missing, changed
    ("nothing stored", lambda: rows((0, 1440)), lambda: None, True, Reason.NEW, 0, 0),
    ("nothing stored, empty fetch", lambda: rows(), lambda: None, True, Reason.NEW, 0, 0),
    (
        "same candles",
        lambda: rows((0, 1440)),
        lambda: rows((0, 1440)),
        True,
        Reason.UNCHANGED,
        0,
        0,
    ),
    ("both empty", lambda: rows(), lambda: rows(), True, Reason.UNCHANGED, 0, 0),
    ("partial day grown", lambda: rows((0, 900)), lambda: rows((0, 600)), True, Reason.MORE, 0, 0),
    ("one more candle", lambda: rows((0, 1440)), lambda: rows((0, 1439)), True, Reason.MORE, 0, 0),
    (
        "gap filled",
        lambda: rows((0, 1440)),
        lambda: rows((0, 700), (780, 1440)),
        True,
        Reason.MORE,
        0,
        0,
    ),
    ("stored empty, fetch not", lambda: rows((0, 10)), lambda: rows(), True, Reason.MORE, 0, 0),
    (
        "one value revised",
        lambda: revised(rows((0, 1440)), 5),
        lambda: rows((0, 1440)),
        True,
        Reason.REVISED,
        0,
        1,
    ),
    (
        "more, and one revised",
        lambda: revised(rows((0, 1440)), 5),
        lambda: rows((0, 1000)),
        True,
        Reason.MORE,
        0,
        1,
    ),
    (
        "one candle fewer",
        lambda: rows((0, 1439)),
        lambda: rows((0, 1440)),
        False,
        Reason.FEWER,
        1,
        0,
    ),
    ("empty refetch", lambda: rows(), lambda: rows((0, 1440)), False, Reason.FEWER, 1440, 0),
    (
        "first candle lost",
        lambda: rows((1, 1440)),
        lambda: rows((0, 1440)),
        False,
        Reason.FEWER,
        1,
        0,
    ),
    (
        "a gap the stored lacks",
        lambda: rows((0, 700), (780, 1440)),
        lambda: rows((0, 1440)),
        False,
        Reason.FEWER,
        80,
        0,
    ),
    (
        "as many, shifted",
        lambda: rows((1, 601)),
        lambda: rows((0, 600)),
        False,
        Reason.MISSING,
        1,
        0,
    ),
    (
        "more, but one lost",
        lambda: rows((1, 1440)),
        lambda: rows((0, 600)),
        False,
        Reason.MISSING,
        1,
        0,
    ),
]


@pytest.mark.parametrize(
    ("fetched", "stored", "publish", "reason", "missing", "changed"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_decide(
    fetched: Table,
    stored: Table,
    publish: bool,
    reason: Reason,
    missing: int,
    changed: int,
) -> None:
    decision = decide(part(fetched()), stored())  # type: ignore[arg-type]
    assert (decision.publish, decision.reason) == (publish, reason)
    assert (decision.missing, decision.changed) == (missing, changed)


def test_a_decision_reads_as_a_sentence() -> None:
    kept = decide(part(rows((0, 1439))), rows((0, 1440)))
    assert str(kept) == (
        "keep the stored candles (fewer: 1439 fetched, 1440 stored, "
        "1 stored open times not in the fetch)"
    )
    assert isinstance(kept, Decision)


def test_stored_candles_read_back_decide_like_the_fetched_ones(tmp_path: Path) -> None:
    """Through the store: what was published and read back is UNCHANGED against itself."""
    store = Store(str(tmp_path))
    first = part(rows((0, 1440)))
    store.publish(first)
    stored = store.read_candles(BTC_1M, DAY)
    assert decide(first, stored).reason is Reason.UNCHANGED
    assert decide(part(rows((0, 1000))), stored).publish is False
    assert store.read_candles(BTC_1M, date(2024, 1, 3)) is None


# A fetch the exchange settled: the closed day refetched after it ended, every window answered
# in full or confirmed. Where it lacks stored candles, the correction rule publishes it (these
# rows are the table's "fewer" rows above, settled).
SETTLED: list[tuple[str, Table, Table, int, bool, Reason, int, int]] = [
    # id, fetched, stored, fetched at, publish, reason, missing, changed
    ("one candle fewer", lambda: rows((0, 1439)), lambda: rows((0, 1440)), AFTER, True,
     Reason.CORRECTED, 1, 0),
    ("a gap the stored lacks", lambda: rows((0, 700), (780, 1440)), lambda: rows((0, 1440)),
     AFTER, True, Reason.CORRECTED, 80, 0),
    ("fewer and one revised", lambda: revised(rows((0, 1439)), 5), lambda: rows((0, 1440)),
     AFTER, True, Reason.CORRECTED, 1, 1),
    ("fewer, fetched before the day ended", lambda: rows((0, 1439)), lambda: rows((0, 1440)),
     DURING, False, Reason.FEWER, 1, 0),
    ("as many, shifted, fetched on the day", lambda: rows((1, 601)), lambda: rows((0, 600)),
     DURING, False, Reason.MISSING, 1, 0),
]  # fmt: skip


@pytest.mark.parametrize(
    ("fetched", "stored", "at", "publish", "reason", "missing", "changed"),
    [c[1:] for c in SETTLED],
    ids=[c[0] for c in SETTLED],
)
def test_decide_a_settled_fetch(
    fetched: Table,
    stored: Table,
    at: int,
    publish: bool,
    reason: Reason,
    missing: int,
    changed: int,
) -> None:
    decision = decide(fetch(fetched(), at), stored())  # type: ignore[arg-type]
    assert (decision.publish, decision.reason) == (publish, reason)
    assert (decision.missing, decision.changed) == (missing, changed)


def test_a_fetch_older_than_the_stored_one_never_replaces_it() -> None:
    new = fetch(rows((0, 1440)), AFTER)
    stored_at = fetched_at_ms(new.manifest)
    assert stored_at is not None
    stale = decide(new, rows((0, 1000)), stored_fetched_ms=stored_at + 1)
    assert (stale.publish, stale.reason) == (False, Reason.STALE)
    same = decide(new, rows((0, 1000)), stored_fetched_ms=stored_at)
    assert (same.publish, same.reason) == (True, Reason.MORE)


def test_the_stored_rule_refuses_every_correction() -> None:
    keep = CorrectionRule.STORED
    changed = decide(part(revised(rows((0, 1440)), 5)), rows((0, 1440)), rule=keep)
    assert (changed.publish, changed.reason) == (False, Reason.REFUSED)
    removed = decide(fetch(rows((0, 1439)), AFTER), rows((0, 1440)), rule=keep)
    assert (removed.publish, removed.reason) == (False, Reason.REFUSED)
    grown = decide(part(rows((0, 1440))), rows((0, 1000)), rule=keep)
    assert (grown.publish, grown.reason) == (True, Reason.MORE)
