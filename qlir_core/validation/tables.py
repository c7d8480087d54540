"""Running a pandera model over a table: a fast screen derived from the model, pandera's own
failure cases when the screen fails.

pandera's lazy validation costs ~10 ms for a 1440-row day even when every check passes, so a
table is first screened with what the model states — its columns, their dtypes and
nullability, and every check's own function applied to the whole column or frame (well under
a millisecond). Only a table that fails the screen goes through `validate(lazy=True)`, whose
`SchemaErrors` become the failure cases, each under the rule its check carries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.engines import pandas_engine
from pandera.errors import SchemaError, SchemaErrors

from qlir_core.validation.report import FailureCase
from qlir_core.validation.rules import Rule
from qlir_core.validation.schemas import reads_of, rule_of

RuleResult = tuple[int, list[FailureCase]]  # offending rows (or columns), first cases
_CASE_FIELDS = ["column", "index", "failure_case", "check"]
_COLUMN_CHECKS = {"column_in_schema": "not in the schema", "column_in_dataframe": "missing"}


@dataclass(frozen=True)
class ModelCheck:
    """One pandera check of a model: the rule it reports under, the column it is attached to
    (None: dataframe-wide) and the columns it reads."""

    check: pa.Check
    rule: Rule
    column: str | None
    reads: tuple[str, ...]
    na_passes: bool  # pandera ignores nulls of this nullable column

    def holds(self, frame: pd.DataFrame) -> bool:
        """The check's function over the whole column or frame, as pandera would call it."""
        data = frame if self.column is None else frame[self.column]
        # Check.__call__ adds ~0.3 ms of backend dispatch per check; the function itself is
        # the vectorised comparison.
        out = self.check._check_fn(data, **self.check._check_kwargs)
        if isinstance(out, bool | np.bool_):
            return bool(out)
        ok = np.asarray(out.to_numpy())
        if ok.dtype != np.bool_:  # a nullable boolean result: pandera's ignore_na decides
            ok = np.asarray(out.to_numpy(dtype=bool, na_value=self.check.ignore_na))
        if self.na_passes:
            ok = ok | data.isna().to_numpy()
        return bool(ok.all())


@dataclass(frozen=True)
class TableResult:
    rules: dict[Rule, RuleResult]
    usable: frozenset[str]  # the schema's columns present with their dtype


class TableModel:
    """A pandera model and the screen derived from it. A check that carries a rule reports
    under it (and runs only when the columns it reads are usable); every other check and
    everything structural (extra or missing columns, dtypes, nulls) reports under `structure`."""

    def __init__(self, model: type[pa.DataFrameModel], *, structure: Rule) -> None:
        self.model = model
        self.schema: pa.DataFrameSchema = model.to_schema()
        # pandera binds its built-in checks (isin, ge, …) to pandas when it first picks the
        # pandas backend; the screen calls them before any validate() might have.
        self.schema.get_backend(check_type=pd.DataFrame)
        self.structure = structure
        self.checks = tuple(_model_checks(self.schema, structure))
        reads: dict[Rule, set[str]] = {}
        for c in self.checks:
            if c.rule is not structure:
                reads.setdefault(c.rule, set()).update(c.reads)
        self.rules: dict[Rule, frozenset[str]] = {r: frozenset(cs) for r, cs in reads.items()}
        self._screenable = all(
            not c.check.element_wise and not c.check.groupby for c in self.checks
        )
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

    def failing(self, frame: pd.DataFrame) -> tuple[ModelCheck, ...]:
        """The screen's verdict per check: those whose function fails on `frame` (a check
        whose columns are not usable is skipped)."""
        usable = self.usable(frame)
        return tuple(c for c in self.checks if usable.issuperset(c.reads) and not c.holds(frame))

    def validate(self, frame: pd.DataFrame, max_cases: int) -> TableResult:
        """(count, first cases) for the structure rule and for every check rule whose columns
        are usable. `frame` must have a default RangeIndex: case rows are positions."""
        usable = self.usable(frame)
        evaluated = {r for r, cols in self.rules.items() if usable.issuperset(cols)}
        out: dict[Rule, RuleResult] = {self.structure: (0, [])}
        out.update({r: (0, []) for r in self.rules if r in evaluated})
        if not self.passes_screen(frame, usable):
            try:
                self.schema.validate(frame, lazy=True)
            except SchemaErrors as e:
                out.update(self._failures(e.schema_errors, frame, evaluated, max_cases))
        return TableResult(out, usable)

    def _dtype_matches(self, column: str, dtype: Any) -> bool:
        key = (column, dtype)
        if key not in self._dtype_ok:
            expected = self._dtypes.get(column)
            self._dtype_ok[key] = expected is not None and bool(
                expected.check(pandas_engine.Engine.dtype(dtype))
            )
        return self._dtype_ok[key]

    def passes_screen(self, frame: pd.DataFrame, usable: frozenset[str] | None = None) -> bool:
        """Whether `frame` passes without pandera's own validation: the schema's columns (an
        optional one may be absent), dtypes and nulls, then every check's function (pandera
        skips the checks of an absent optional column)."""
        usable = self.usable(frame) if usable is None else usable
        if not self._screenable or len(frame.columns) != len(usable):
            return False  # a column the schema lacks, one twice, or one of another dtype
        for name, column in self.schema.columns.items():
            if name not in usable:
                if column.required:
                    return False
            elif not column.nullable and _has_nulls(frame[name]):
                return False
        present = (c for c in self.checks if c.column is None or c.column in usable)
        return all(usable.issuperset(c.reads) and c.holds(frame) for c in present)

    def _failures(
        self,
        errors: list[SchemaError],
        frame: pd.DataFrame,
        evaluated: set[Rule],
        max_cases: int,
    ) -> dict[Rule, RuleResult]:
        structural: list[pd.DataFrame] = []
        hits: dict[Rule, list[pd.DataFrame]] = {r: [] for r in evaluated}
        for err in errors:
            rule, cases = self._cases(err)
            if rule is self.structure:
                structural.append(cases)
            elif rule in hits:
                # a failing check with no row is a check that could not run: already structural
                hits[rule].append(cases[cases["index"].notna()])
            # a check whose columns are unusable says nothing more than the structure rule does
        out: dict[Rule, RuleResult] = {}
        table = _concat(structural)
        out[self.structure] = (len(table), _structure_cases(table, max_cases))
        for rule, found in hits.items():
            out[rule] = _rule_cases(rule, _concat(found), frame, max_cases)
        return out

    def _cases(self, err: SchemaError) -> tuple[Rule, pd.DataFrame]:
        """The rule a pandera error reports under, its cases as rows of _CASE_FIELDS."""
        check = err.check
        found = err.failure_cases
        if isinstance(check, pa.Check):
            rule = rule_of(check) or self.structure
            reads = reads_of(check)
            text = _identify(check) if rule is self.structure else _wants(check, rule)
        else:
            rule, reads, text = self.structure, (), str(check)
        if isinstance(found, pd.DataFrame):
            cases = found if "column" in found else found.assign(column=err.column_name)
            if reads and "column" in found:  # a dataframe-wide check lists every column
                cases = cases[cases["column"].isin(reads)]
        else:
            cases = pd.DataFrame({"index": [None], "failure_case": [found]})
            cases["column"] = err.column_name
        return rule, cases.assign(check=text).loc[:, _CASE_FIELDS]


def _model_checks(schema: pa.DataFrameSchema, structure: Rule) -> list[ModelCheck]:
    out = []
    for name, column in schema.columns.items():
        for check in column.checks:
            na_passes = bool(column.nullable and check.ignore_na)
            out.append(
                ModelCheck(check, rule_of(check) or structure, str(name), (str(name),), na_passes)
            )
    for check in schema.checks:
        out.append(ModelCheck(check, rule_of(check) or structure, None, reads_of(check), False))
    return out


def _wants(check: pa.Check, rule: Rule) -> str:
    """What a failure case says a rule's check wants: its docstring, else the rule's text."""
    return check.description.strip() if check.description else rule.description


def _identify(check: pa.Check) -> str:
    """How pandera's own failure tables name a check."""
    return str(check.error if check.error is not None else check.name)


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    if not frames:
        return pd.DataFrame(columns=_CASE_FIELDS)
    return pd.concat(frames, ignore_index=True)


def _rule_cases(rule: Rule, hits: pd.DataFrame, frame: pd.DataFrame, max_cases: int) -> RuleResult:
    """One case per offending row: the values of the columns that failed there."""
    rows = sorted({int(i) for i in hits["index"]})
    sample = []
    for row in rows[:max_cases]:
        at = hits[hits["index"] == row]
        shown = list(dict.fromkeys(str(c) for c in at["column"]))
        value = " ".join(f"{c}={frame[c].iloc[row]}" for c in shown)
        sample.append(FailureCase(str(at["check"].iloc[0]), value, ",".join(shown), row=row))
    return len(rows), sample


def _structure_cases(cases: pd.DataFrame, max_cases: int) -> list[FailureCase]:
    out = []
    for record in cases.head(max_cases).to_dict("records"):
        check = str(record["check"])
        index = record["index"]
        if check in _COLUMN_CHECKS:
            column = str(record["failure_case"])
            out.append(FailureCase(f"{check}: {_COLUMN_CHECKS[check]}", column, column=column))
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
