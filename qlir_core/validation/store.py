"""Validating what a Store holds: one dataset scan per layer (per series when series are named),
one report per partition."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import date
from functools import partial

import numpy as np
import pandas as pd
import pyarrow.compute as pc
import pyarrow.dataset as ds

from qlir_core import candles as candle_table
from qlir_core import manifest as ledger
from qlir_core.intervals import Interval
from qlir_core.series import Series
from qlir_core.storage import Store, on_days
from qlir_core.validation.partition import MAX_CASES, validate_partition
from qlir_core.validation.parts import check_parts
from qlir_core.validation.report import Finding, PartitionReport

PARTITION_COLUMNS = ("symbol", "interval", "date")
Key = tuple[str, str, str]


def validate_store(
    store: Store,
    *,
    now_ms: int,
    series: Iterable[Series] | None = None,
    days: Iterable[date] | None = None,
    max_cases: int = MAX_CASES,
) -> list[PartitionReport]:
    """A report for every stored partition of the store's endpoint, of `series` on `days` (all
    when None), that has a candle table or a manifest; a partition with only one of them is
    validated against an empty other. Reads each layer in one hive-partitioned scan, pruned by
    the days. Named series are scanned one by one, each listing only its own folders.

    The scan reads every file with the dataset's (first file's) schema, so a stored table with
    an extra column shows up here without it; `validate_partition` on a table read on its own
    sees the file exactly.

    The ledgers are the current versions' (a partition with versions and no candle table: its
    newest one); each partition's parts are then matched (PARTS_AGREE, `validation.parts`), a
    finding added only where they disagree."""
    where = None if days is None else on_days(days)
    tables: dict[Key, pd.DataFrame] = {}
    ledgers: dict[Key, pd.DataFrame] = {}
    for scope in [None] if series is None else list(dict.fromkeys(series)):
        tables |= _scan(partial(store.candles_dataset, scope), where)
        ledgers |= _scan(partial(store.manifest_dataset, uncommitted=True, series=scope), where)
    keys = sorted(set(tables) | set(ledgers), key=_order)
    reports = []
    for key in keys:
        symbol, interval, day = key
        one, on = Series(symbol, Interval.parse(interval)), date.fromisoformat(day)
        report = validate_partition(
            one,
            on,
            tables[key] if key in tables else candle_table.empty(),
            ledgers[key] if key in ledgers else ledger.to_frame([]),
            now_ms=now_ms,
            endpoint=store.endpoint,
            max_cases=max_cases,
        )
        reports.append(_with(report, check_parts(store, one, on)))
    return reports


def _with(report: PartitionReport, finding: Finding | None) -> PartitionReport:
    """`report` with the parts finding added, when it found something."""
    if finding is None or not finding.count:
        return report
    summary = replace(report.summary, errors=report.summary.errors + finding.count)
    return replace(report, findings=(*report.findings, finding), summary=summary)


def _scan(
    dataset_of: Callable[[], ds.Dataset], where: ds.Expression | None
) -> dict[Key, pd.DataFrame]:
    """Each partition's rows in stored order, without the partition columns."""
    try:
        dataset = dataset_of()
    except FileNotFoundError:
        return {}
    table = dataset.to_table(filter=where)
    if table.num_rows == 0:
        return {}
    keys = pc.binary_join_element_wise(*(table[c] for c in PARTITION_COLUMNS), "|")
    encoded = keys.combine_chunks().dictionary_encode()
    codes = encoded.indices.to_numpy()
    names = encoded.dictionary.to_pylist()
    frame: pd.DataFrame = table.drop_columns(list(PARTITION_COLUMNS)).to_pandas()
    starts = np.concatenate(([0], np.flatnonzero(np.diff(codes)) + 1))
    if len(starts) == len(names):  # one file per partition, read in one piece each: slice
        ends = np.concatenate((starts[1:], [len(codes)]))
        pieces = {int(codes[a]): frame.iloc[a:b] for a, b in zip(starts, ends, strict=True)}
    else:  # rows of partitions interleaved: gather each one's rows, in order
        pieces = {code: frame.iloc[np.flatnonzero(codes == code)] for code in range(len(names))}
    return {_key(names[code]): rows.reset_index(drop=True) for code, rows in pieces.items()}


def _key(name: str) -> Key:
    symbol, interval, day = name.split("|")
    return symbol, interval, day


def _order(key: Key) -> tuple[str, int, str]:
    symbol, interval, day = key
    return symbol, Interval.parse(interval).ms, day
