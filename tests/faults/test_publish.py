"""`publish.decide`: a fetch replaces the stored candles only when it holds every stored open
time; a refetch with less never replaces them. Boundary cases as a table."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from qlir_core import candles
from qlir_core.publish import Decision, Reason, decide
from qlir_core.storage import PartitionData, Store
from tests.faults.conftest import BTC_1M, DAY, market

FULL = market().full_day(BTC_1M, DAY)  # 1440 candles


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
