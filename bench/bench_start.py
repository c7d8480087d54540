"""Start-up cost: a one-partition `dagster asset materialize` of klines beside the same command
on a trivial one-asset code location (Dagster's own floor), alternating, with bytecode
precompiled (as `uv sync` with UV_COMPILE_BYTECODE=1 leaves it) and never written at run time
(PYTHONDONTWRITEBYTECODE=1, as in many containers).

    uv run python bench/bench_start.py [--rounds 5]
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from qlir_sim.process import running

TRIVIAL = """import dagster as dg


@dg.asset
def trivial() -> int:
    return 1


defs = dg.Definitions(assets=[trivial])
"""
DAY = date(2024, 1, 2)


def timed(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="qlir-bench-"))
    home = work / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text(Path("dagster.yaml").read_text())
    (work / "trivial_defs.py").write_text(TRIVIAL)
    with running(
        "--synthetic", "--symbols", "BTCUSDT", "--intervals", "1m", "--start", "2024-01-01",
        "--days", "3",
    ) as url:  # fmt: skip
        env = os.environ | {
            "DAGSTER_HOME": str(home),
            "PYTHONDONTWRITEBYTECODE": "1",
            "QLIR_CONFIG": "/dev/null",
            "QLIR_SERIES": "BTCUSDT-1m",
            "QLIR_START_DATE": "2024-01-01",
            "QLIR_SOURCE": "archive",
            "QLIR_BINANCE_REST_URL": url,
            "QLIR_BINANCE_ARCHIVE_URL": url,
            "QLIR_DATA_ROOT": str(work / "data"),
            "PYTHONPATH": str(work),
        }
        dagster = [sys.executable, "-m", "dagster"]
        subprocess.run([*dagster, "instance", "migrate"], env=env, check=True, capture_output=True)
        trivial = [*dagster, "asset", "materialize", "-m", "trivial_defs", "--select", "trivial"]
        klines = [
            *dagster, "asset", "materialize", "-m", "qlir_dagster.definitions",
            "--select", "klines", "--partition", f"{DAY}|BTCUSDT-1m",
        ]  # fmt: skip
        times: dict[str, list[float]] = {"trivial": [], "klines": []}
        for _ in range(args.rounds):
            times["trivial"].append(timed(trivial, env))
            times["klines"].append(timed(klines, env))
    stored = list((work / "data" / "klines").rglob("data.parquet"))
    assert len(stored) == 1, f"the klines partition was not stored: {stored}"
    medians = {name: statistics.median(t) for name, t in times.items()}
    for name, t in times.items():
        print(f"{name}: median {medians[name]:.2f} s (" + ", ".join(f"{x:.2f}" for x in t) + ")")
    print(f"klines / trivial = {medians['klines'] / medians['trivial']:.2f}")


if __name__ == "__main__":
    main()
