"""A fresh project folder (its own qlir.toml, data root and studies folder), a store filled
through the real pipeline, and `qlir` run as the console script or in process."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from qlir_cli.main import main
from qlir_core.ingest import SourceMode, Sources
from qlir_core.pipeline import Stored, ingest_partition
from qlir_core.series import Series
from qlir_core.sources.archive import ArchiveClient
from qlir_core.sources.rest import RestClient
from qlir_core.storage import Store

# The moto S3 server and a fresh bucket per test, as the storage tests have them.
from tests.storage.conftest import aws_env, bucket, moto_endpoint, s3_client  # noqa: F401

HERE = Path(__file__).resolve().parent
QLIR = Path(sys.executable).parent / "qlir"  # the installed console script
LOG = logging.getLogger("tests.cli")

SETTINGS = """\
# The markets this project keeps.
series = ["BTCUSDT-1m", "ETHUSDT-1m"]  # edited by hand
start_date = "{start}"
data_root = "./data"  # beside this file
source = "archive"
"""


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str

    def one_error_line(self) -> str:
        """The single `error: …` line of a refused command (and nothing else on stderr)."""
        lines = self.err.strip().splitlines()
        assert len(lines) == 1, self.err
        assert lines[0].startswith("error: "), self.err
        return lines[0]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder as the working directory: qlir.toml (start 2023-01-01), no QLIR_*
    variable from outside, the shared request budget in a private folder of its own."""
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "qlir.toml").write_text(SETTINGS.format(start="2023-01-01"), encoding="utf-8")
    for name in [n for n in os.environ if n.startswith("QLIR_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("QLIR_BUDGET_DIR", str(tmp_path / "budget"))
    monkeypatch.chdir(folder)
    return folder


@pytest.fixture
def qlir(capsys: pytest.CaptureFixture[str]) -> Callable[..., Result]:
    """`qlir(*args)` in this process (the console script's own `main`), in the project."""

    def run(*args: str) -> Result:
        capsys.readouterr()
        code = main(list(args))
        out, err = capsys.readouterr()
        return Result(code, out, err)

    return run


def qlir_process(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> Result:
    """The installed `qlir` script in a process of its own, in the working directory."""
    done = subprocess.run(
        [str(QLIR), *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    return Result(done.returncode, done.stdout, done.stderr)


def fill(
    root: Path | str,
    series: Series,
    days: Iterable[date],
    *,
    archive: str,
    rest: str,
    mode: SourceMode = SourceMode.ARCHIVE,
) -> None:
    """Store `days` of `series` through the pipeline (fetch, validate, publish)."""
    with RestClient(rest, timeout=5) as client:
        sources = Sources(mode, client, ArchiveClient(archive))
        for day in days:
            outcome = ingest_partition(
                series, day, sources, Store(str(root)), now_ms=int(time.time() * 1000), log=LOG
            )
            assert isinstance(outcome, Stored), outcome


def exchange_info_symbols() -> list[dict[str, Any]]:
    """The `symbols` of tests/cli/exchange_info.json: an exchangeInfo body in Binance's shape,
    with BTCUSDT and ETHUSDT trading on spot beside a BTC-quoted, a USDC-quoted, a BREAK and a
    margin-only symbol."""
    entries: list[dict[str, Any]] = json.loads((HERE / "exchange_info.json").read_text())["symbols"]
    return entries
