"""The ledger as a table: `to_frame` writes any rows in the dtypes the manifest model states,
and `from_frame` reads them back unchanged."""

from dataclasses import replace

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from qlir_core import manifest
from qlir_core.manifest import ManifestRow, SliceStatus, Source, StatusReason
from qlir_core.storage import parquet_bytes, table_bytes
from qlir_core.validation.partition import MANIFEST

_MS = st.integers(1_500_000_000_000, 1_900_000_000_000)
_TIME = _MS.map(lambda ms: pd.Timestamp(ms, unit="ms", tz="UTC"))
_COUNT = st.integers(0, 10**9)

ROWS = st.builds(
    ManifestRow,
    slice_key=st.text(max_size=30),
    slice_id=st.text(max_size=16),
    source=st.sampled_from(Source),
    url=st.text(max_size=40),
    start_ms=_MS,
    end_ms=_MS,
    limit=st.integers(1, 1000),
    status=st.sampled_from(SliceStatus),
    reason=st.sampled_from(StatusReason),
    http_status=st.none() | st.integers(100, 599),
    n_candles=st.integers(0, 1000),
    first_open_ms=st.none() | _MS,
    last_open_ms=st.none() | _MS,
    requested_at=_TIME,
    completed_at=_TIME,
    duration_ms=st.floats(0, 1e6),
    bytes=_COUNT,
    used_weight=st.none() | st.integers(0, 6000),
    attempt=st.integers(1, 9),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(ROWS, max_size=6), st.none() | st.floats(0, 1e5, allow_nan=False))
def test_any_ledger_is_written_in_the_models_dtypes_and_read_back_unchanged(rows, persist_ms):
    rows = [replace(r, persist_ms=persist_ms) for r in rows]
    frame = manifest.to_frame(rows)
    # persist_ms is written only once the ledger has persist times (a version id hashes it)
    assert ("persist_ms" in frame) == (persist_ms is not None and bool(rows))
    assert MANIFEST.passes_screen(frame)
    MANIFEST.schema.validate(frame, lazy=True)
    back = manifest.from_frame(frame)
    assert back == rows
    assert [r.persist_ms for r in back] == [persist_ms if "persist_ms" in frame else None] * len(
        rows
    )


_FINE_TIME = st.integers(1_500_000_000_000_000, 1_900_000_000_000_000).map(
    lambda us: pd.Timestamp(us, unit="us", tz="UTC")
)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(ROWS, max_size=6),
    st.none() | st.floats(0, 1e5, allow_nan=False) | st.just(float("nan")),
    st.lists(_FINE_TIME, min_size=2, max_size=2),
)
def test_the_arrow_ledger_is_stored_byte_for_byte_as_the_frame(rows, persist_ms, times):
    """A publish writes the ledger from `to_arrow`; its bytes (a version id hashes them) are the
    ones `to_frame` gives, with and without persist times (NaN as missing), sub-millisecond
    times included."""
    requested, completed = times
    rows = [replace(r, persist_ms=persist_ms) for r in rows]
    rows[:1] = [replace(r, requested_at=requested, completed_at=completed) for r in rows[:1]]
    assert parquet_bytes(manifest.to_arrow(rows)) == table_bytes(manifest.to_frame(rows))
    unpersisted = [replace(r, persist_ms=None) for r in rows]
    assert parquet_bytes(manifest.to_arrow(rows, persisted=False)) == table_bytes(
        manifest.to_frame(unpersisted)
    )
