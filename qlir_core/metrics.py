"""Prometheus metrics computed from what the store holds (local or S3): the candle tables and
the current versions' ledgers. Nothing is counted in memory, so the numbers are right after a
restart, and the same from every process that reads the store.

    qlir_scrape_timestamp_seconds                      the "now" the numbers are computed at
    qlir_freshness_lag_seconds{series}                 now - close time of the last stored candle
    qlir_last_candle_close_timestamp_seconds{series}
    qlir_days_stored / _partial / _missing{series}     days from the start day to today (UTC)
    qlir_rows_stored{series}                           candles in the current tables
    qlir_gap_runs{series,cause} / qlir_missing_candles{series,cause}   cause: exchange|fetch|pending
    qlir_requests{series,source,status,http_status}    ledger rows (one per request attempt)
    qlir_rate_limited_requests{series} / qlir_banned_requests{series}  HTTP 429 / 418
    qlir_request_duration_seconds{source}              histogram of the ledger's durations
    qlir_persist_duration_seconds                      histogram, one per stored partition
    qlir_fetched_bytes{series,source}

Ledger numbers are gauges, not counters: they describe the current versions, and a partition
refetched replaces its ledger.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pyarrow.dataset as ds
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from qlir_core import freshness
from qlir_core import manifest as ledger
from qlir_core.binance import day_of_ms
from qlir_core.candles import empty as no_candles
from qlir_core.series import Series
from qlir_core.storage import Store
from qlir_core.validation import GapCause, validate_partition

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
PERSIST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_LEDGER_COLUMNS = ("source", "status", "http_status", "duration_ms", "bytes", "persist_ms")
Key = tuple[str, str, str]  # symbol, interval, day as stored


@dataclass(frozen=True)
class _Gaps:
    fingerprint: tuple[int, float]
    runs: dict[GapCause, int]
    missing: dict[GapCause, int]


class StoreCollector(Collector):
    """Computes every metric at each collection (a scrape, a textfile write). Gap runs need
    a validation of each partition: closed days are remembered by their ledger, so a scrape
    re-validates only what changed."""

    def __init__(
        self,
        store: Store,
        series: Sequence[Series],
        start: date,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.series = list(series)
        self.start = start
        self.clock = clock
        self._gaps: dict[Key, _Gaps] = {}

    def collect(self) -> Iterator[Metric]:
        now_ms = int(self.clock() * 1000)
        labels = {s: str(s) for s in self.series}
        stamp = GaugeMetricFamily(
            "qlir_scrape_timestamp_seconds", "When these numbers were computed (Unix time)."
        )
        stamp.add_metric([], now_ms / 1000)
        yield stamp
        surveys = [freshness.survey(self.store, s) for s in self.series]
        yield from _freshness(surveys, now_ms)
        # Each series' current ledgers, listed once for the request counts and the gaps.
        datasets = {s: _ledgers_of(self.store, s) for s in self.series}
        ledgers = _ledger_table(datasets)
        yield from _days(surveys, ledgers, self.start, day_of_ms(now_ms))
        yield from _rows(self.store, self.series)
        yield from self._gap_metrics(now_ms, labels, surveys, datasets)
        yield from _requests(ledgers)

    def _gap_metrics(
        self,
        now_ms: int,
        labels: dict[Series, str],
        surveys: Iterable[freshness.Survey],
        datasets: dict[Series, ds.Dataset | None],
    ) -> Iterator[Metric]:
        runs = GaugeMetricFamily(
            "qlir_gap_runs", "Runs of missing candles, by cause.", labels=["series", "cause"]
        )
        missing = GaugeMetricFamily(
            "qlir_missing_candles", "Missing candles, by cause.", labels=["series", "cause"]
        )
        today = day_of_ms(now_ms).isoformat()
        for state in surveys:
            series = state.series
            totals_runs = dict.fromkeys(GapCause, 0)
            totals_missing = dict.fromkeys(GapCause, 0)
            found = self._series_gaps(series, state.days, datasets[series], now_ms, today)
            for gaps in found:
                for cause in GapCause:
                    totals_runs[cause] += gaps.runs[cause]
                    totals_missing[cause] += gaps.missing[cause]
            for cause in GapCause:
                runs.add_metric([labels[series], cause.value], totals_runs[cause])
                missing.add_metric([labels[series], cause.value], totals_missing[cause])
        yield runs
        yield missing

    def _series_gaps(
        self,
        series: Series,
        days: Iterable[date],
        ledgers: ds.Dataset | None,
        now_ms: int,
        today: str,
    ) -> Iterator[_Gaps]:
        """Each stored partition's gaps: a partition whose ledger is unchanged since the last
        scrape (and is not today's) is not read again, so a scrape reads the ledgers and only
        the candles of what changed."""
        rows = {} if ledgers is None else _partitions(ledgers, series, list(ledger.COLUMNS))
        symbol, interval = series.symbol, series.interval.value
        keys = sorted({(symbol, interval, d.isoformat()) for d in days} | set(rows))
        none = ledger.to_frame([])  # a stored day without a ledger row
        frames = {k: rows.get(k, none) for k in keys}
        fingerprints = {k: _fingerprint(frame) for k, frame in frames.items()}
        stale = {
            k
            for k in keys
            if k[2] == today
            or (known := self._gaps.get(k)) is None
            or known.fingerprint != fingerprints[k]
        }
        read = sorted(date.fromisoformat(k[2]) for k in stale)
        candles = _by_partition(self.store.scan_candles(series, read), series) if read else {}
        for key in keys:
            if key not in stale:
                yield self._gaps[key]
                continue
            frame = frames[key]
            report = validate_partition(
                series,
                date.fromisoformat(key[2]),
                candles.get(key, no_candles()),
                frame.reindex(columns=[c for c in ledger.COLUMNS if c in frame.columns]),
                now_ms=now_ms,
            )
            counted_runs = dict.fromkeys(GapCause, 0)
            counted_missing = dict.fromkeys(GapCause, 0)
            for run in report.gap_runs:
                counted_runs[run.cause] += 1
                counted_missing[run.cause] += run.count
            self._gaps[key] = gaps = _Gaps(fingerprints[key], counted_runs, counted_missing)
            yield gaps


def _fingerprint(rows: pd.DataFrame) -> tuple[int, float]:
    """What tells a partition's ledger from the one before it: a refetch adds or times rows."""
    return len(rows), float(rows["duration_ms"].sum()) if len(rows) else 0.0


def registry(collector: StoreCollector) -> CollectorRegistry:
    found = CollectorRegistry(auto_describe=False)
    found.register(collector)
    return found


def exposition(collector: StoreCollector) -> bytes:
    """The metrics in Prometheus' text format."""
    return bytes(generate_latest(registry(collector)))


def _freshness(surveys: Iterable[freshness.Survey], now_ms: int) -> Iterator[Metric]:
    lag = GaugeMetricFamily(
        "qlir_freshness_lag_seconds",
        "Now minus the close time of the last stored candle.",
        labels=["series"],
    )
    close = GaugeMetricFamily(
        "qlir_last_candle_close_timestamp_seconds",
        "Close time of the last stored candle (Unix time).",
        labels=["series"],
    )
    for state in surveys:
        if state.last_close_ms is not None:
            lag.add_metric([str(state.series)], (now_ms - state.last_close_ms) / 1000)
            close.add_metric([str(state.series)], state.last_close_ms / 1000)
    yield lag
    yield close


def _days(
    surveys: Iterable[freshness.Survey], ledgers: pd.DataFrame, start: date, today: date
) -> Iterator[Metric]:
    names = ("stored", "partial", "missing")
    families = {
        n: GaugeMetricFamily(
            f"qlir_days_{n}", f"Days {n}, from the start day to today (UTC).", labels=["series"]
        )
        for n in names
    }
    expected = {start + timedelta(days=i) for i in range((today - start).days + 1)}
    partial = ledgers[ledgers["status"] == ledger.SliceStatus.PARTIAL.value]
    partial_days = partial.groupby("series", observed=True)["date"].nunique()
    for state in surveys:
        key = str(state.series)
        stored = set(state.days)
        families["stored"].add_metric([key], len(stored))
        families["partial"].add_metric([key], int(partial_days.get(key, 0)))
        families["missing"].add_metric([key], len(expected - stored))
    yield from families.values()


def _rows(store: Store, series: Sequence[Series]) -> Iterator[Metric]:
    """Each series' candles, counted from its own files' footers (no column is read)."""
    rows = GaugeMetricFamily(
        "qlir_rows_stored", "Candles in the current candle tables.", labels=["series"]
    )
    for s in series:
        try:
            count = store.candles_dataset(s).count_rows()
        except FileNotFoundError:
            count = 0
        rows.add_metric([str(s)], count)
    yield rows


def _requests(table: pd.DataFrame) -> Iterator[Metric]:
    requests = GaugeMetricFamily(
        "qlir_requests",
        "Requests in the current ledgers (one row per attempt).",
        labels=["series", "source", "status", "http_status"],
    )
    limited = GaugeMetricFamily(
        "qlir_rate_limited_requests", "Requests answered 429.", labels=["series"]
    )
    banned = GaugeMetricFamily("qlir_banned_requests", "Requests answered 418.", labels=["series"])
    fetched = GaugeMetricFamily(
        "qlir_fetched_bytes", "Bytes received, by source.", labels=["series", "source"]
    )
    http = table["http_status"].map(lambda v: "none" if pd.isna(v) else str(int(v)))
    grouped = table.assign(http=http).groupby(["series", "source", "status", "http"], observed=True)
    for key, size in grouped.size().items():
        requests.add_metric(_labels(key), int(size))
    for series, frame in table.groupby("series", observed=True):
        codes = frame["http_status"]
        limited.add_metric([str(series)], int((codes == 429).sum()))
        banned.add_metric([str(series)], int((codes == 418).sum()))
    for key, total in table.groupby(["series", "source"], observed=True)["bytes"].sum().items():
        fetched.add_metric(_labels(key), int(total))
    yield requests
    yield limited
    yield banned
    yield fetched
    latency = HistogramMetricFamily(
        "qlir_request_duration_seconds",
        "Request durations in the current ledgers.",
        labels=["source"],
    )
    for source, frame in table.groupby("source", observed=True):
        seconds = frame["duration_ms"].to_numpy(dtype="float64") / 1000
        latency.add_metric([str(source)], *_buckets(seconds, LATENCY_BUCKETS))
    yield latency
    persist = HistogramMetricFamily(
        "qlir_persist_duration_seconds",
        "Per stored partition: its persist up to writing its ledger.",
    )
    per_partition = (
        table.dropna(subset=["persist_ms"])
        .groupby(["series", "date"], observed=True)["persist_ms"]
        .first()
    )
    persist.add_metric(
        [], *_buckets(per_partition.to_numpy(dtype="float64") / 1000, PERSIST_BUCKETS)
    )
    yield persist


def _buckets(values: np.ndarray, bounds: Sequence[float]) -> tuple[list[tuple[str, float]], float]:
    """Cumulative bucket counts (with +Inf) and the sum, as HistogramMetricFamily takes them."""
    counts = [(str(b), float((values <= b).sum())) for b in bounds]
    counts.append(("+Inf", float(len(values))))
    return counts, float(values.sum())


def _ledgers_of(store: Store, series: Series) -> ds.Dataset | None:
    """The series' current ledgers (its own folders only), or None when it has none."""
    try:
        return store.manifest_dataset(series=series)
    except FileNotFoundError:
        return None


def _ledger_table(datasets: dict[Series, ds.Dataset | None]) -> pd.DataFrame:
    """The rows of each series' current ledgers, with `series` and `date` columns."""
    columns = ["series", "date", *_LEDGER_COLUMNS]
    tables: list[pd.DataFrame] = []
    for s, dataset in datasets.items():
        if dataset is None:
            continue
        present = [c for c in _LEDGER_COLUMNS if c in dataset.schema.names]
        table = dataset.to_table(columns=["date", *present]).to_pandas()
        tables.append(table.reindex(columns=columns).assign(series=str(s)))
    if not tables:
        return pd.DataFrame(columns=columns)
    joined: pd.DataFrame = pd.concat(tables, ignore_index=True)
    for name in ("source", "status", "date"):
        joined[name] = joined[name].astype(str)
    return joined


def _labels(key: object) -> list[str]:
    """A groupby key (a value, or a tuple of them) as label values."""
    return [str(k) for k in key] if isinstance(key, tuple) else [str(key)]


def _by_partition(candles: pd.DataFrame, series: Series) -> dict[Key, pd.DataFrame]:
    """A series' candles split by UTC day of their open time."""
    if candles.empty:
        return {}
    days = candles["open_time"].dt.strftime("%Y-%m-%d")
    symbol, interval = series.symbol, series.interval.value
    return {
        (symbol, interval, str(day)): frame.reset_index(drop=True)
        for day, frame in candles.groupby(days, sort=True)
    }


def _partitions(dataset: ds.Dataset, series: Series, columns: list[str]) -> dict[Key, pd.DataFrame]:
    """A series' ledger rows (of a dataset of that series only) split by partition, in stored
    order."""
    present = [c for c in columns if c in dataset.schema.names]
    frame = dataset.to_table(columns=[*present, "date"]).to_pandas()
    symbol, interval = series.symbol, series.interval.value
    return {
        (symbol, interval, str(day)): rows.drop(columns=["date"]).reset_index(drop=True)
        for day, rows in frame.groupby(frame["date"].astype(str), sort=True)
    }
