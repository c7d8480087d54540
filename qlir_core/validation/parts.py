"""Whether a stored partition's parts belong together: the current candle table, and the
ledger and raw payloads of the version its stamp names (see `qlir_core.storage`).

A publish killed between its writes cannot mix versions; a hand-made change or a copy from
elsewhere can: a ledger, payload or candle table the stamp does not fingerprint, a missing or
extra payload, or a payload whose candles disagree with the stored ones.
"""

from __future__ import annotations

import zipfile
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from qlir_core import candles as candle_table
from qlir_core.errors import QlirError
from qlir_core.series import Series
from qlir_core.sources.archive import unzip_single
from qlir_core.storage import CANDLES_FILE, MANIFEST_FILE, RawPayload, Store
from qlir_core.validation.report import FailureCase, Finding
from qlir_core.validation.rules import Rule
from qlir_core.versions import Stamp, sha256


def check_parts(store: Store, series: Series, day: date) -> Finding | None:
    """The PARTS_AGREE finding of one partition; None when it has no stamped candle table
    (nothing committed, or a table written by another tool: nothing to match)."""
    stamp = store.stamp(series, day)
    if stamp is None:
        return None
    cases = [*_files(store, series, day, stamp)]
    current = store.read_candles(series, day)
    if current is not None:
        copy = store.read_candles(series, day, stamp.version)
        if copy is not None and not copy.equals(current):
            cases.append(_case("the candle table differs from its version's copy", stamp.version))
        for payload in store.read_raw(series, day, stamp.version):
            cases.extend(_payload_agrees(payload, current))
    return Finding(series, day, Rule.PARTS_AGREE, len(cases), tuple(cases))


def _files(store: Store, series: Series, day: date, stamp: Stamp) -> list[FailureCase]:
    """Each file of the version against the digest the stamp records for it."""
    folder = store.version_dir(series, day, stamp.version)
    expected = {CANDLES_FILE: stamp.candles_sha256, MANIFEST_FILE: stamp.manifest_sha256}
    found = []
    for name, digest in expected.items():
        found.extend(_digest(folder.fs, f"{folder.path}/{name}", name, digest))
    stored = {p.name: p.data for p in store.read_raw(series, day, stamp.version)}
    for name in sorted(set(stamp.raw_sha256) | set(stored)):
        if name not in stored:
            found.append(_case("a payload of the version is missing", name))
        elif name not in stamp.raw_sha256:
            found.append(_case("a payload the version does not list", name))
        elif sha256(stored[name]) != stamp.raw_sha256[name]:
            found.append(_case("a payload differs from the one published", name))
    return found


def _digest(fs: Any, key: str, name: str, digest: str) -> list[FailureCase]:
    try:
        data: bytes = fs.cat_file(key)
    except FileNotFoundError:
        return [_case(f"the version's {name} is missing", name)]
    if sha256(data) != digest:
        return [_case(f"the {name} is not the one published with the candles", name)]
    return []


def _payload_agrees(payload: RawPayload, current: pd.DataFrame) -> list[FailureCase]:
    """Candles of `payload` that the table holds with other values (one case per payload)."""
    parsed = _parse(payload)
    if parsed is None:
        return []
    if isinstance(parsed, str):
        return [_case(f"a payload does not parse ({parsed})", payload.name)]
    old = current.set_index(candle_table.open_ms(current))
    new = parsed.set_index(candle_table.open_ms(parsed))
    common = old.index.intersection(new.index)
    columns = [c for c in candle_table.COLUMNS if c != "open_time"]
    differs = old.loc[common, columns].ne(new.loc[common, columns]).any(axis=1)
    bad = np.flatnonzero(differs.to_numpy())
    if not bad.size:
        return []
    first = int(common[bad[0]])
    check = f"{bad.size} candle(s) of a payload differ from the stored ones"
    return [FailureCase(check=check, value=payload.name, open_time_ms=first)]


def _parse(payload: RawPayload) -> pd.DataFrame | str | None:
    """The payload's candles, the reason it does not parse, or None (not a candle payload)."""
    try:
        if payload.name.endswith(".json"):
            return candle_table.from_rest_json(payload.data, source=payload.name)
        if payload.name.endswith(".zip"):
            csv = unzip_single(payload.data, payload.name)
            return candle_table.from_csv(csv, source=payload.name)
    except (QlirError, ValueError, zipfile.BadZipFile) as e:
        return str(e)
    return None


def _case(check: str, value: str) -> FailureCase:
    return FailureCase(check=check, value=value)
