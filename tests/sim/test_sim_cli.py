"""The `qlir-sim` command: URL first on stdout, serves, exits cleanly on SIGINT and SIGTERM."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from qlir_sim import Mirror, Synthetic
from qlir_sim.cli import build_parser, main, market_from_args

SCRIPT = Path(sys.executable).parent / "qlir-sim"
COMMAND = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "qlir_sim.cli"]
SYNTHETIC = ["--synthetic", "--symbols", "BTCUSDT", "--intervals", "1h", "--days", "2"]
STOPS = {"SIGINT": signal.SIGINT, "SIGTERM": signal.SIGTERM}


@pytest.fixture(scope="module")
def running() -> Iterator[dict[str, subprocess.Popen[str]]]:
    """One server process per stop signal, started together (each takes seconds to import)."""
    processes = {
        name: subprocess.Popen(
            [*COMMAND, *SYNTHETIC, "--weight-limit", "100"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in STOPS
    }
    yield processes
    for process in processes.values():
        if process.poll() is None:
            process.kill()
        process.communicate()


@pytest.mark.parametrize("stop", list(STOPS))
def test_prints_its_url_first_and_stops_on_a_signal(
    running: dict[str, subprocess.Popen[str]], stop: str
) -> None:
    sim = running[stop]
    assert sim.stdout is not None
    url = sim.stdout.readline().strip()
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url), url
    info = httpx.get(f"{url}/api/v3/exchangeInfo", timeout=5).json()
    assert [s["symbol"] for s in info["symbols"]] == ["BTCUSDT"]
    assert info["rateLimits"][0]["limit"] == 100
    sim.send_signal(STOPS[stop])
    out, err = sim.communicate(timeout=10)
    assert sim.returncode == 0
    assert out == ""  # nothing after the URL
    assert "Traceback" not in err


def test_mirror_flag_builds_a_mirror_market(mirror_dir: Path) -> None:
    market = market_from_args(build_parser().parse_args(["--mirror", str(mirror_dir)]))
    assert isinstance(market, Mirror)
    assert "ETHUSDT-1m" in {s.key for s in market.series()}


def test_start_can_count_back_from_today() -> None:
    args = build_parser().parse_args(["--synthetic", "--start", "today-3", "--until-now"])
    assert args.start == datetime.now(UTC).date() - timedelta(days=3)
    market = market_from_args(args)
    assert isinstance(market, Synthetic)
    assert market.end is None


def test_help_documents_every_flag() -> None:
    text = build_parser().format_help()
    for flag in [
        "--mirror", "--synthetic", "--symbols", "--intervals", "--start", "--days", "--until-now",
        "--seed", "--halt", "--corrupt-day", "--port", "--weight-limit", "--window-seconds",
        "--ban-after", "--ban-seconds", "--fault-seed", "--error-rate", "--latency-ms",
        "--timeout-rate", "--hang-seconds", "--truncate-rate", "--malformed-rate", "--drop-rate",
        "--duplicate-rate", "--out-of-order-rate", "--burst-429", "--force-418", "--corrupt-zip",
        "--corrupt-checksum", "/sim/faults", "/sim/stats", "X-MBX-USED-WEIGHT-1M",
    ]:  # fmt: skip
        assert flag in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--synthetic", "--intervals", "1w"], "1w"),
        (["--synthetic", "--halt", "2024-01-02"], "malformed halt"),
        (["--synthetic", "--corrupt-day", "dup:BTCUSDT-1m"], "malformed corrupt day"),
        (["--synthetic", "--error-rate", "1.5"], "error_rate"),
        (["--mirror", "/nonexistent", "--halt", "2024-01-02/2024-01-03"], "--synthetic only"),
        (["--mirror", "/nonexistent"], "archive layout"),
    ],
)
def test_bad_arguments_exit_with_a_message(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(args)
    assert exited.value.code == 2
    captured = capsys.readouterr()
    assert message in captured.err
    assert captured.out == ""


def test_a_port_in_use_exits_with_a_message(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(SystemExit) as exited:
            main(["--synthetic", "--port", str(port)])
    assert exited.value.code == 2
    assert "in use" in capsys.readouterr().err
