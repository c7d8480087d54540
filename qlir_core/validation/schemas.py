"""pandera schemas of the candle table and the manifest, and a fast way to run them.

pandera's lazy validation costs ~10 ms for a 1440-row day even when every check passes, so a
table is first screened with the schema's own dtypes and the very functions its checks call
(well under a millisecond); only a table that fails the screen goes through `validate(lazy=True)`,
whose `SchemaErrors.failure_cases` become the failure cases.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pandera.pandas as pa
from pandera.engines import pandas_engine
from pandera.errors import SchemaErrors
from pandera.typing import Series as Column

from qlir_core.manifest import SliceStatus, Source, StatusReason
from qlir_core.validation.report import FailureCase
from qlir_core.validation.rules import Rule

Mask = npt.NDArray[np.bool_]
RuleResult = tuple[int, list[FailureCase]]  # offending rows (or columns), first cases
OHLC_COLUMNS = ("open", "high", "low", "close")
NON_NEGATIVE_COLUMNS = (
    "volume",
    "quote_volume",
    "trades",
    "taker_buy_base_volume",
    "taker_buy_quote_volume",
)
TAKER_COLUMNS = ("volume", "taker_buy_base_volume", "quote_volume", "taker_buy_quote_volume")
_MS_UTC = {"unit": "ms", "tz": "UTC"}


def ohlc_ok(frame: pd.DataFrame) -> Mask:
    """low <= min(open, close) and max(open, close) <= high, row by row."""
    o, h, lo, c = (frame[name].to_numpy() for name in OHLC_COLUMNS)
    ok: Mask = (lo <= np.minimum(o, c)) & (np.maximum(o, c) <= h)
    return ok


def taker_ok(frame: pd.DataFrame) -> Mask:
    """Taker buy volume within the volume, in base and in quote units."""
    v, tb, q, tq = (frame[name].to_numpy() for name in TAKER_COLUMNS)
    ok: Mask = (tb <= v) & (tq <= q)
    return ok


def non_negative_ok(values: pd.Series[float]) -> Mask:
    ok: Mask = values.to_numpy() >= 0
    return ok


class CandleSchema(pa.DataFrameModel):
    """The candle table of one partition (qlir_core.candles): exactly these columns and dtypes.
    The 12th kline field ("ignore") is not stored, so it is never validated."""

    open_time: Column[pd.DatetimeTZDtype] = pa.Field(dtype_kwargs=_MS_UTC)
    open: Column[np.float64]
    high: Column[np.float64]
    low: Column[np.float64]
    close: Column[np.float64]
    volume: Column[np.float64]
    close_time: Column[pd.DatetimeTZDtype] = pa.Field(dtype_kwargs=_MS_UTC)
    quote_volume: Column[np.float64]
    trades: Column[np.int64]
    taker_buy_base_volume: Column[np.float64]
    taker_buy_quote_volume: Column[np.float64]

    class Config:
        strict = True
        name = "candles"

    @pa.check(*NON_NEGATIVE_COLUMNS, name=Rule.NON_NEGATIVE.value)
    def non_negative(cls, values: pd.Series[float]) -> pd.Series[bool]:
        return pd.Series(non_negative_ok(values), index=values.index)

    @pa.dataframe_check(name=Rule.OHLC_ORDER.value)
    def ohlc_order(cls, frame: pd.DataFrame) -> pd.Series[bool]:
        return pd.Series(ohlc_ok(frame), index=frame.index)

    @pa.dataframe_check(name=Rule.TAKER_VOLUME.value)
    def taker_volume(cls, frame: pd.DataFrame) -> pd.Series[bool]:
        return pd.Series(taker_ok(frame), index=frame.index)


def _values(enum: type[Source | SliceStatus | StatusReason]) -> list[str]:
    return [e.value for e in enum]


class ManifestSchema(pa.DataFrameModel):
    """The request ledger of one partition, as `qlir_core.manifest.to_frame` writes it."""

    slice_key: Column[pd.StringDtype]
    slice_id: Column[pd.StringDtype]
    source: Column[pd.StringDtype] = pa.Field(isin=_values(Source))
    url: Column[pd.StringDtype]
    start_ms: Column[np.int64]
    end_ms: Column[np.int64]
    limit: Column[np.int64]
    status: Column[pd.StringDtype] = pa.Field(isin=_values(SliceStatus))
    reason: Column[pd.StringDtype] = pa.Field(isin=_values(StatusReason))
    http_status: Column[pd.Int64Dtype] = pa.Field(nullable=True)
    n_candles: Column[np.int64] = pa.Field(ge=0)
    first_open_ms: Column[pd.Int64Dtype] = pa.Field(nullable=True)
    last_open_ms: Column[pd.Int64Dtype] = pa.Field(nullable=True)
    requested_at: Column[pd.DatetimeTZDtype] = pa.Field(dtype_kwargs=_MS_UTC)
    completed_at: Column[pd.DatetimeTZDtype] = pa.Field(dtype_kwargs=_MS_UTC)
    duration_ms: Column[np.float64]
    bytes: Column[np.int64] = pa.Field(ge=0)
    used_weight: Column[pd.Int64Dtype] = pa.Field(nullable=True)
    attempt: Column[np.int64] = pa.Field(ge=1)

    class Config:
        strict = True
        name = "manifest"


def _isin(column: str, enum: type[Source | SliceStatus | StatusReason]) -> Callable[..., bool]:
    allowed = frozenset(_values(enum))
    return lambda frame: set(frame[column].tolist()) <= allowed


def _ge(column: str, low: int) -> Callable[..., bool]:
    return lambda frame: bool((frame[column].to_numpy() >= low).all())


@dataclass(frozen=True)
class TableResult:
    rules: dict[Rule, RuleResult]
    usable: frozenset[str]  # the schema's columns present with their dtype


class TableModel:
    """A pandera schema and its screen. Each named check reports under its rule (the columns it
    reads are listed, so it runs only when they are usable); everything else pandera finds
    (extra or missing columns, dtypes, nulls, value sets) reports under `structure`."""

    def __init__(
        self,
        model: type[pa.DataFrameModel],
        *,
        structure: Rule,
        checks: dict[Rule, tuple[str, ...]] | None = None,
        screen: tuple[Callable[[pd.DataFrame], bool], ...] = (),
    ) -> None:
        self.model = model
        self.schema: pa.DataFrameSchema = model.to_schema()
        self.structure = structure
        self.checks = checks or {}
        self.screen = screen
        self._dtypes: dict[str, Any] = dict(self.schema.dtypes)
        self._dtype_ok: dict[tuple[str, Any], bool] = {}

    def usable(self, frame: pd.DataFrame) -> frozenset[str]:
        """The schema's columns that `frame` has, once, with the schema's dtype."""
        names = frame.columns
        twice = set(names[names.duplicated()]) if names.has_duplicates else set()
        return frozenset(
            name
            for name, dtype in zip(names, frame.dtypes, strict=True)
            if name not in twice and self._dtype_matches(name, dtype)
        )

    def validate(self, frame: pd.DataFrame, max_cases: int) -> TableResult:
        """(count, first cases) for the structure rule and for every check rule whose columns
        are usable. `frame` must have a default RangeIndex: case rows are positions."""
        usable = self.usable(frame)
        evaluated = [r for r, cols in self.checks.items() if usable.issuperset(cols)]
        out: dict[Rule, RuleResult] = {self.structure: (0, [])}
        out.update({r: (0, []) for r in evaluated})
        if not self._screen_passes(frame, usable):
            try:
                self.schema.validate(frame, lazy=True)
            except SchemaErrors as e:
                out.update(self._failures(e.failure_cases, frame, evaluated, max_cases))
        return TableResult(out, usable)

    def _dtype_matches(self, column: str, dtype: Any) -> bool:
        key = (column, dtype)
        if key not in self._dtype_ok:
            expected = self._dtypes.get(column)
            self._dtype_ok[key] = expected is not None and bool(
                expected.check(pandas_engine.Engine.dtype(dtype))
            )
        return self._dtype_ok[key]

    def _screen_passes(self, frame: pd.DataFrame, usable: frozenset[str]) -> bool:
        """The schema's columns, dtypes and nulls, then every check function."""
        columns = self.schema.columns
        if len(frame.columns) != len(columns) or len(usable) != len(columns):
            return False
        for name, column in columns.items():
            if not column.nullable and _has_nulls(frame[name]):
                return False
        return all(screen(frame) for screen in self.screen)

    def _failures(
        self, cases: pd.DataFrame, frame: pd.DataFrame, evaluated: list[Rule], max_cases: int
    ) -> dict[Rule, RuleResult]:
        by_name = {r.value: r for r in self.checks}
        rule_of = cases["check"].astype(str).map(by_name)
        out: dict[Rule, RuleResult] = {}
        # a check whose columns are unusable says nothing more than the structure rule does
        structural = cases[rule_of.isna()]
        out[self.structure] = (len(structural), _structure_cases(structural, max_cases))
        for rule in evaluated:
            # a failing check with no row is a check that could not run: already structural
            hits = cases[(rule_of == rule) & cases["index"].notna()]
            rows = sorted({int(i) for i in hits["index"]})
            reads = self.checks[rule]
            sample = []
            for row in rows[:max_cases]:
                listed = set(hits.loc[hits["index"] == row, "column"].astype(str))
                # a dataframe-wide check lists every column of the row: show the ones it reads
                shown = [c for c in reads if c in listed]
                value = " ".join(f"{c}={frame[c].iloc[row]}" for c in shown)
                sample.append(FailureCase(rule.description, value, column=",".join(shown), row=row))
            out[rule] = (len(rows), sample)
        return out


def _structure_cases(cases: pd.DataFrame, max_cases: int) -> list[FailureCase]:
    out = []
    for record in cases.head(max_cases).to_dict("records"):
        check = str(record["check"])
        index = record["index"]
        if check in ("column_in_schema", "column_in_dataframe"):
            column = str(record["failure_case"])
            what = "not in the schema" if check == "column_in_schema" else "missing"
            out.append(FailureCase(check=f"{check}: {what}", value=column, column=column))
        else:
            out.append(
                FailureCase(
                    check=check,
                    value=str(record["failure_case"]),
                    column=None if pd.isna(record["column"]) else str(record["column"]),
                    row=None if pd.isna(index) else int(index),
                )
            )
    return out


def _has_nulls(values: pd.Series[Any]) -> bool:
    dtype = values.dtype
    if isinstance(dtype, np.dtype):
        if dtype.kind == "f":
            return bool(np.isnan(values.to_numpy()).any())
        return dtype.kind not in "iub" and bool(values.isna().any())
    return bool(values.array.isna().any())  # datetimes with a zone, strings: no object array


CANDLES = TableModel(
    CandleSchema,
    structure=Rule.CANDLE_COLUMNS,
    checks={
        Rule.OHLC_ORDER: OHLC_COLUMNS,
        Rule.NON_NEGATIVE: NON_NEGATIVE_COLUMNS,
        Rule.TAKER_VOLUME: TAKER_COLUMNS,
    },
    screen=(
        lambda f: bool(ohlc_ok(f).all()),
        lambda f: bool(taker_ok(f).all()),
        lambda f: all(non_negative_ok(f[c]).all() for c in NON_NEGATIVE_COLUMNS),
    ),
)
MANIFEST = TableModel(
    ManifestSchema,
    structure=Rule.MANIFEST_COLUMNS,
    screen=(
        _isin("source", Source),
        _isin("status", SliceStatus),
        _isin("reason", StatusReason),
        _ge("n_candles", 0),
        _ge("bytes", 0),
        _ge("attempt", 1),
    ),
)
