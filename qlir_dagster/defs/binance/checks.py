"""The asset checks on `klines` (and on `uiklines`, alike), built on the validation reports of
qlir_core.

Each check groups some of the validation rules. A failed check is ERROR when any of its ERROR
rules found something (corruption), WARN when only WARN rules did (the exchange's own gaps and
truncated bars). Every run records, for every partition it processed, one evaluation per check,
passes included, named by the partition (`evaluations`).

The check specs carry the asset's partitions definition (partitioned checks, Preview in Dagster
1.13). Without it a check has one status for the whole asset, the latest evaluation's: an ERROR
on one day would read "Succeeded" as soon as a run on another day passed. With it, Dagster keeps
each partition's latest result (`get_asset_check_state`), so an ERROR stays on its day until that
day is checked again. The evaluations are logged as they happen rather than yielded as check
outputs, so Dagster's own blocking does not apply: the asset fails the run itself on any ERROR.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import dagster as dg
import pandas as pd
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData as Target,
)

from qlir_core.binance import Endpoint
from qlir_core.validation import PartitionReport, Rule, Severity, candle_columns


def asset_key(endpoint: Endpoint) -> dg.AssetKey:
    """The asset of an endpoint's dataset: `klines`, `uiklines`."""
    return dg.AssetKey(endpoint.value)


KLINES = asset_key(Endpoint.KLINES)
TABLE_ROWS = 20  # failure cases and gap runs shown per result

CHECKS: dict[str, tuple[str, tuple[Rule, ...]]] = {
    "slice_parse": (
        "Every manifest row's slice key and URL parse, agree with each other and the partition, "
        "start on an interval boundary, and the slice id is the hash of the key; the candles, "
        "manifest and raw payloads stored are one published version and agree.",
        (Rule.MANIFEST_COLUMNS, Rule.SLICE_KEY, Rule.SLICE_URL, Rule.SLICE_AGREES,
         Rule.SLICE_ALIGNED, Rule.SLICE_ID, Rule.PARTS_AGREE),
    ),
    "slice_spacing": (
        "The day's slices start at 00:00 UTC, are spaced interval × limit and cover the day.",
        (Rule.SLICE_SPACING, Rule.SLICES_PENDING, Rule.SLICE_CANDLES),
    ),
    "candle_schema": (
        "Strict columns and dtypes, OHLC order, non-negative volumes, taker ≤ volume, candles "
        "inside their day and final, close = open + interval − 1 (truncated halt bars: WARN).",
        (Rule.CANDLE_COLUMNS, Rule.OHLC_ORDER, Rule.NON_NEGATIVE, Rule.TAKER_VOLUME,
         Rule.INSIDE_DAY, Rule.CANDLE_FINAL, Rule.CLOSE_TIME, Rule.CLOSE_OFF_BY_ONE,
         Rule.TRUNCATED_BAR),
    ),
    "candle_spacing": (
        "Open times one interval apart: no duplicates, none misaligned, in order.",
        (Rule.OPEN_ORDER, Rule.DUPLICATE_OPEN, Rule.MISALIGNED_OPEN),
    ),
    "completeness": (
        "Rows against the expected count; gaps the exchange has (WARN) told apart from gaps the "
        "fetch caused (ERROR).",
        (Rule.EXCHANGE_GAP, Rule.FETCH_GAP, Rule.CANDLES_PENDING),
    ),
}  # fmt: skip


def specs(asset: dg.AssetKey, partitions_def: dg.PartitionsDefinition) -> list[dg.AssetCheckSpec]:
    # Blocking: an ERROR fails the run, so CI and downstream steps see it (enforced by the asset,
    # which raises after logging every evaluation; see the module docstring).
    return [
        dg.AssetCheckSpec(
            name, asset=asset, description=text, blocking=True, partitions_def=partitions_def
        )
        for name, (text, _) in CHECKS.items()
    ]


def evaluations(
    asset: dg.AssetKey, key: str, report: PartitionReport, target: Target | None = None
) -> list[dg.AssetCheckEvaluation]:
    """One evaluation per check, passes included, named by the partition: any partition shows
    every check's result and failure table. `target` is the partition's latest materialization:
    Dagster shows a partition's check status only while it targets that one."""
    return [
        dg.AssetCheckEvaluation(
            asset_key=asset,
            check_name=name,
            partition=key,
            passed=outcome.passed,
            severity=outcome.severity,
            description=outcome.description,
            metadata=outcome.metadata,
            target_materialization_data=target,
        )
        for name, (_, rules) in CHECKS.items()
        for outcome in [_outcome([report], rules)]
    ]


def latest_materialization(
    instance: dg.DagsterInstance, asset: dg.AssetKey, key: str
) -> Target | None:
    """The partition's latest materialization, as a check evaluation points at it."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=asset, asset_partitions=[key]), limit=1
    ).records
    if not records:
        return None
    record = records[0]
    return Target(storage_id=record.storage_id, run_id=record.run_id, timestamp=record.timestamp)


def log_findings(log: dg.DagsterLogManager, report: PartitionReport) -> None:
    """Every violation as one structured line: severity, rule, partition, count, first case."""
    for finding in report.violations:
        if finding.severity is Severity.INFO:
            log.info(finding.message())
        else:
            log.warning(finding.message())


def partition_metadata(report: PartitionReport) -> dict[str, dg.MetadataValue]:
    """The numbers the UI plots across partitions."""
    s = report.summary
    return {
        "dagster/row_count": dg.MetadataValue.int(s.rows),
        "expected_rows": dg.MetadataValue.int(s.expected_rows),
        "missing_candles": dg.MetadataValue.int(s.missing),
        "missing_exchange": dg.MetadataValue.int(s.missing_exchange),
        "missing_fetch": dg.MetadataValue.int(s.missing_fetch),
        "gap_runs": dg.MetadataValue.int(s.gap_runs),
        "violations_error": dg.MetadataValue.int(s.errors),
        "violations_warn": dg.MetadataValue.int(s.warnings),
    }


@dataclass(frozen=True)
class Outcome:
    """What one check says over some reports."""

    passed: bool
    severity: dg.AssetCheckSeverity
    description: str
    metadata: dict[str, dg.MetadataValue]


def _outcome(reports: Iterable[PartitionReport], rules: Sequence[Rule]) -> Outcome:
    reports = list(reports)
    counts = dict.fromkeys(rules, 0)
    worst: Severity | None = None
    for report in reports:
        for rule in rules:
            finding = report.finding(rule)
            if finding is None or not finding.count:
                continue
            counts[rule] += finding.count
            if finding.severity is not Severity.INFO and (
                worst is None or finding.severity.rank > worst.rank
            ):
                worst = finding.severity
    # JSON metadata is data: rules appear under the spelling the failure tables store
    per_rule = {rule.value: n for rule, n in counts.items()}
    metadata: dict[str, dg.MetadataValue] = {"violations_per_rule": dg.MetadataValue.json(per_rule)}
    # The tables only where there is something to show: most partitions have nothing.
    with_cases = [r for r in reports if any(f.rule in rules for f in r.violations)]
    if with_cases:
        cases = pd.concat([r.cases_of(rules) for r in with_cases], ignore_index=True)
        if len(cases):
            metadata["failure_cases"] = _table(cases.head(TABLE_ROWS))
    if Rule.EXCHANGE_GAP in rules:
        with_gaps = [r for r in reports if r.gap_runs]
        metadata["gap_runs"] = dg.MetadataValue.int(sum(len(r.gap_runs) for r in with_gaps))
        if with_gaps:
            gaps = pd.concat([r.gaps for r in with_gaps], ignore_index=True)
            metadata["gaps"] = _table(gaps.head(TABLE_ROWS))
    severity = (
        dg.AssetCheckSeverity.ERROR if worst is Severity.ERROR else dg.AssetCheckSeverity.WARN
    )
    described = "; ".join(f"{r.name}: {n}" for r, n in counts.items() if n)
    return Outcome(worst is None, severity, described or "no findings", metadata)


def column_schema() -> dg.TableSchema:
    """The stored candle table's columns (`dagster/column_schema`), from the pandera model."""
    return dg.TableSchema(
        columns=[
            dg.TableColumn(c.name, c.dtype, description=c.description or None)
            for c in candle_columns()
        ]
    )


def _table(frame: pd.DataFrame) -> dg.TableMetadataValue:
    text = frame.astype("string").fillna("")
    return dg.MetadataValue.table(
        records=[
            dg.TableRecord({str(k): v for k, v in row.items()}) for row in text.to_dict("records")
        ],
        schema=dg.TableSchema(columns=[dg.TableColumn(c, "string") for c in text.columns]),
    )
