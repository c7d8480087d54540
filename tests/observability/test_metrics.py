"""`qlir metrics`: served on 127.0.0.1 and as a textfile, parsed with prometheus_client's own
parser, the numbers checked against the store and its ledgers."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from qlir_core.series import Series
from qlir_core.storage import Store
from tests.conftest import REPO
from tests.observability.conftest import FRESH, STALE, Observed

pytestmark = pytest.mark.slow
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> Samples:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def qlir(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "qlir_cli.main", *args]
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def served(observed: Observed) -> Iterator[str]:
    """The text of one scrape of `qlir metrics serve --port 0`."""
    command = [sys.executable, "-m", "qlir_cli.main", "metrics", "serve", "--port", "0"]
    server = subprocess.Popen(
        command, cwd=REPO, env=observed.env, stderr=subprocess.PIPE, text=True
    )
    assert server.stderr is not None
    try:
        url = server.stderr.readline().split()[-1]
        assert url.startswith("http://127.0.0.1:"), url
        with urllib.request.urlopen(url, timeout=60) as reply:
            yield reply.read().decode()
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_freshness_lag_is_now_minus_the_last_stored_candles_close(observed, served):
    samples = parse(served)
    now = samples[("qlir_scrape_timestamp_seconds", ())]
    store = Store(str(observed.data))
    for key in (FRESH, STALE):
        series = Series.parse(key)
        last_day = store.stored_days(series)[-1]
        close = store.read_candles(series, last_day)["close_time"].max()
        close_s = close.value / 1e9
        labels = (("series", key),)
        assert samples[("qlir_last_candle_close_timestamp_seconds", labels)] == pytest.approx(
            close_s
        )
        assert samples[("qlir_freshness_lag_seconds", labels)] == pytest.approx(
            now - close_s, abs=1e-3
        )


def test_counts_equal_the_store_and_the_ledgers(observed, served):
    samples = parse(served)
    store = Store(str(observed.data))
    for key in (FRESH, STALE):
        series = Series.parse(key)
        days = store.stored_days(series)
        rows = [r for d in days for r in store.read_manifest(series, d) or []]
        of_series = {k: v for k, v in samples.items() if ("series", key) in k[1]}
        assert sum(v for k, v in of_series.items() if k[0] == "qlir_requests") == len(rows)
        assert of_series[("qlir_fetched_bytes", (("series", key), ("source", "rest")))] == sum(
            r.bytes for r in rows
        )
        assert of_series[("qlir_days_stored", (("series", key),))] == len(days)
        candles = sum(len(store.read_candles(series, d)) for d in days)
        assert of_series[("qlir_rows_stored", (("series", key),))] == candles
        assert of_series[("qlir_rate_limited_requests", (("series", key),))] == sum(
            r.http_status == 429 for r in rows
        )
    every = [
        r
        for k in (FRESH, STALE)
        for d in store.stored_days(Series.parse(k))
        for r in store.read_manifest(Series.parse(k), d) or []
    ]
    count = samples[("qlir_request_duration_seconds_count", (("source", "rest"),))]
    assert count == len(every)
    assert samples[("qlir_request_duration_seconds_sum", (("source", "rest"),))] == pytest.approx(
        sum(r.duration_ms for r in every) / 1000
    )


def test_days_partial_and_missing(observed, served):
    samples = parse(served)
    # FRESH: the day before yesterday to today stored, today partial; STALE: one day of four
    assert samples[("qlir_days_partial", (("series", FRESH),))] == 1
    assert samples[("qlir_days_missing", (("series", FRESH),))] == 1
    assert samples[("qlir_days_missing", (("series", STALE),))] == 3
    assert samples[("qlir_gap_runs", (("cause", "fetch"), ("series", FRESH)))] == 0


def test_the_textfile_parses_and_holds_the_same_metrics(observed, served, tmp_path):
    path = tmp_path / "qlir.prom"
    done = qlir(observed.env, "metrics", "serve", "--textfile", str(path))
    assert done.returncode == 0, done.stderr
    written = {k for k in parse(path.read_text()) if not k[0].startswith("qlir_scrape")}
    scraped = {k for k in parse(served) if not k[0].startswith("qlir_scrape")}
    assert written == scraped


def test_a_bad_port_is_one_line_and_exit_2(observed):
    done = qlir(observed.env, "metrics", "serve", "--port", "70000")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith("error: Invalid value for '--port'")


def test_the_grafana_dashboard_uses_only_served_metrics(served):
    dashboard = json.loads((REPO / "monitoring" / "grafana-dashboard.json").read_text())
    used = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"qlir_[a-z_]+", target["expr"])
    }
    assert used
    assert used <= {name for name, _ in parse(served)}
