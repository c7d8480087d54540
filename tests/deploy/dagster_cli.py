"""Dagster as a team runs it: a home with deploy/dagster.yaml, the webserver and the daemon as
processes, a backfill launched through the webserver's GraphQL (what the UI's "Launch backfill"
sends)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.deploy.servers import Postgres, free_port, wait_for_port

REPO = Path(__file__).resolve().parents[2]
DEFS = ["-m", "qlir_dagster.definitions"]
DONE = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}

LAUNCH = """
mutation($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
    ... on InvalidSubsetError { message }
    ... on UnauthorizedError { message }
  }
}"""
STATUS = """
query($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    ... on PartitionBackfill { status }
    ... on PythonError { message }
  }
}"""


def production_home(home: Path, pg_env: dict[str, str]) -> dict[str, str]:
    """A Dagster home with deploy/dagster.yaml; the environment its processes need."""
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "deploy" / "dagster.yaml", home / "dagster.yaml")
    return pg_env | {
        "DAGSTER_HOME": str(home),
        "DAGSTER_COMPUTE_LOG_DIR": str(home / "compute_logs"),
        "DAGSTER_ARTIFACT_DIR": str(home / "artifacts"),
    }


def migrated(db: Postgres, home: Path) -> Postgres:
    """The team's database with Dagster's tables in it, made once from `home` before any process
    starts, as the Production steps say: processes started together on an empty database race
    on creating the tables, and one of them fails."""
    env = os.environ | production_home(home, db.env())
    command = [sys.executable, "-m", "dagster", "instance", "migrate"]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return db


@contextmanager
def process(
    command: list[str], env: dict[str, str], log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """`command` in its own process group, output to `log`; interrupted (then killed) after."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            yield proc
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGINT)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()


@contextmanager
def webserver(env: dict[str, str], logs: Path) -> Iterator[str]:
    port = free_port()
    command = [sys.executable, "-m", "dagster_webserver", *DEFS, "-h", "127.0.0.1", "-p", str(port)]
    with process(command, env, logs / "webserver.log"):
        wait_for_port(port, timeout=120)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while httpx.get(f"{url}/server_info", timeout=10).status_code != 200:
            if time.monotonic() > deadline:
                raise TimeoutError("the webserver did not answer")
            time.sleep(0.5)
        yield url


@contextmanager
def daemon(env: dict[str, str], logs: Path) -> Iterator[subprocess.Popen[bytes]]:
    with process(
        [str(Path(sys.executable).with_name("dagster-daemon")), "run", *DEFS],
        env,
        logs / "daemon.log",
    ) as d:
        yield d


def graphql(url: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    reply = httpx.post(f"{url}/graphql", json={"query": query, "variables": variables}, timeout=120)
    reply.raise_for_status()
    body: dict[str, Any] = reply.json()
    assert "errors" not in body, body
    return body["data"]


def launch_backfill(url: str, by_asset: dict[str, tuple[str, str] | None]) -> str:
    """A backfill of each asset's partition range (None: all its partitions); its id."""
    selection = [
        {
            "assetKey": {"path": [key]},
            "partitions": None if r is None else {"range": {"start": r[0], "end": r[1]}},
        }
        for key, r in by_asset.items()
    ]
    data = graphql(url, LAUNCH, {"params": {"partitionsByAssets": selection}})
    answer = data["launchPartitionBackfill"]
    assert answer["__typename"] == "LaunchBackfillSuccess", answer
    return str(answer["backfillId"])


def wait_for_backfill(url: str, backfill_id: str, timeout: float = 900) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = graphql(url, STATUS, {"id": backfill_id})["partitionBackfillOrError"]["status"]
        if status in DONE:
            return str(status)
        time.sleep(2)
    raise TimeoutError(f"backfill {backfill_id} not done after {timeout} s")
