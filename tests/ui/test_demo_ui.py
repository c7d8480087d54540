"""`qlir-demo --ui` (scripts/demo-ui): the Dagster UI on the demo's settings, its sources at the
local exchange it keeps running, and nothing left running once it is stopped."""

import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from tests.conftest import shipped_home
from tests.ui.conftest import REPO, STARTUP_S, _free_port, _stop

pytestmark = pytest.mark.slow

QUERY = """{ workspaceOrError { ... on Workspace { locationEntries { locationOrLoadError {
    ... on RepositoryLocation { repositories {
        allTopLevelResourceDetails { name configuredValues { key value } }
        schedules { name scheduleState { status } } } }
    ... on PythonError { message } } } } } }"""


def test_the_demo_ui_serves_the_demo_settings_against_the_local_exchange(tmp_path):
    home = shipped_home(tmp_path / "dagster_home")
    port = _free_port()
    command = [sys.executable, "-m", "qlir_dagster.demo", "--ui", "--days", "1"]
    command += ["--data-root", str(tmp_path / "data"), "--port", str(port)]
    # Whatever the shell had: the demo's own settings win.
    env = os.environ | {
        "DAGSTER_HOME": str(home),
        "QLIR_BINANCE_REST_URL": "https://data-api.binance.vision",
        "QLIR_BINANCE_ARCHIVE_URL": "https://data.binance.vision",
    }
    process = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline().strip()
        assert first.startswith("local exchange at http://127.0.0.1:")
        exchange = first.removeprefix("local exchange at ")
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + STARTUP_S * 2
        answer = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                answer = httpx.post(f"{url}/graphql", json={"query": QUERY}, timeout=5)
                if answer.status_code == 200 and "repositories" in answer.text:
                    break
            except httpx.TransportError:
                pass
            time.sleep(1)
        assert answer is not None, f"no answer from the UI (exit code {process.poll()})"
        assert "repositories" in answer.text, answer.text
        (entry,) = answer.json()["data"]["workspaceOrError"]["locationEntries"]
        (repository,) = entry["locationOrLoadError"]["repositories"]
        resources = {
            r["name"]: {v["key"]: v["value"].strip('"') for v in r["configuredValues"]}
            for r in repository["allTopLevelResourceDetails"]
        }
        assert resources["binance"]["rest_url"] == exchange
        assert resources["binance"]["archive_url"] == exchange
        assert resources["storage"]["root"] == str(tmp_path / "data")
        assert {s["name"]: s["scheduleState"]["status"] for s in repository["schedules"]} == {
            "daily_klines": "RUNNING",
            "current_day_klines": "RUNNING",
            "klines_freshness_schedule": "RUNNING",
        }
        assert httpx.get(f"{exchange}/api/v3/ping", timeout=5).status_code == 200
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)  # stops dagster dev, then the exchange
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                _stop(process)  # type: ignore[arg-type]
    assert process.returncode is not None
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{exchange}/api/v3/ping", timeout=5)
