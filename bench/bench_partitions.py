"""Many series: how the code location, the UI and a backfill cope with 3 and with 400 series of
1m candles since 2017-08-17 (nothing is fetched; the symbols beyond BTC/ETH/SOL are made up).

    .venv/bin/python bench/bench_partitions.py [--sizes 3,400] [--start 2017-08-17]
        [--rounds 3] [--timeout 120] [--group-size 29]

With --group-size N, a size above N is configured as series groups of N (QLIR_GROUPS: g00, g01,
…), each with its own klines asset; the views and the backfill are then g00/klines' (the group
holding BTCUSDT-1m).

For each size, with a fresh DAGSTER_HOME holding the shipped dagster.yaml:
1. the definitions' load time, `python -c "import qlir_dagster.definitions"` in a fresh process
   (median of --rounds), and the ratio of the largest size to the smallest;
2. the partition counts of klines and of each study asset;
3. `dagster-webserver`, and the time until the klines asset's partitions view has rendered in
   headless Debian chromium (screenshot /tmp/partitions-<N>[-groups-of-<size>].png);
4. a one-series (BTCUSDT-1m) full-history backfill launched through the webserver's GraphQL
   `launchPartitionBackfill`, as the UI's "Materialize…" dialog does (there is no
   `dagster asset backfill`; `dagster job backfill` submits runs itself), and whether the
   instance holds it and how many partitions it targets. No daemon runs, so it only waits.
"""

import argparse
import contextlib
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg
import httpx
from playwright.sync_api import Page, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1400, "height": 1000}
REAL = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
BACKFILL_SERIES = "BTCUSDT-1m"
STARTUP_S = 180

LAUNCH = """
mutation Launch($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
    ... on Error { message }
  }
}
"""
# What the partitions view asks for (its health bar and per-dimension key lists), without a browser.
PARTITION_HEALTH = """
query PartitionHealth($key: AssetKeyInput!) {
  assetNodeOrError(assetKey: $key) {
    __typename
    ... on AssetNode {
      partitionKeysByDimension { name partitionKeys }
      partitionStats { numMaterialized numPartitions numFailed numMaterializing }
      assetPartitionStatuses {
        __typename
        ... on MultiPartitionStatuses { primaryDimensionName ranges { primaryDimStartKey } }
      }
    }
  }
}
"""
BACKFILL = """
query Backfill($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    __typename
    ... on PartitionBackfill { id status numPartitions isAssetBackfill }
    ... on Error { message }
  }
}
"""


def series_list(n: int) -> list[str]:
    made_up = [f"S{i:03d}USDT" for i in range(max(0, n - len(REAL)))]
    return [f"{s}-1m" for s in (REAL + made_up)[:n]]


def grouped(n: int, group_size: int | None) -> bool:
    return group_size is not None and n > group_size


def series_setting(n: int, group_size: int | None) -> dict[str, str]:
    keys = series_list(n)
    if group_size is None or not grouped(n, group_size):
        return {"QLIR_SERIES": ",".join(keys)}
    chunks = [keys[i : i + group_size] for i in range(0, n, group_size)]
    return {"QLIR_GROUPS": ";".join(f"g{g:02d}=" + ",".join(c) for g, c in enumerate(chunks))}


def environment(n: int, start: date, work: Path, group_size: int | None) -> dict[str, str]:
    home = work / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    env = (
        os.environ
        | {
            "DAGSTER_HOME": str(home),
            "QLIR_CONFIG": "/dev/null",
            "QLIR_DATA_ROOT": str(work / "data"),
            "QLIR_START_DATE": start.isoformat(),
        }
        | series_setting(n, group_size)
    )
    subprocess.run(
        [str(BIN / "dagster"), "instance", "migrate"],
        cwd=REPO,
        env=env,
        check=True,
        capture_output=True,
    )
    return env


def load_seconds(env: dict[str, str], rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", "import qlir_dagster.definitions"],
            cwd=REPO,
            env=env,
            check=True,
            capture_output=True,
        )
        times.append(time.perf_counter() - started)
    return times


def partition_counts(env: dict[str, str]) -> dict[str, int]:
    from qlir_dagster import config
    from qlir_dagster.definitions import build_defs

    graph = build_defs(config.load(env)).get_repository_def().asset_graph
    counts = {}
    for key in graph.get_all_asset_keys():
        partitions_def = graph.get(key).partitions_def
        assert partitions_def is not None
        counts[key.to_user_string()] = partitions_def.get_num_partitions()
    return counts


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_webserver(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    command = [
        str(BIN / "dagster-webserver"),
        *("-m", "qlir_dagster.definitions", "-h", "127.0.0.1", "-p", str(port)),
    ]
    with log.open("w") as out:
        return subprocess.Popen(
            command,
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )


def wait_for_server(process: subprocess.Popen[bytes], url: str, log: Path) -> float:
    started = time.perf_counter()
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"dagster-webserver exited with {process.returncode}:\n{log.read_text()}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{url}/server_info", timeout=2).status_code == 200:
                return time.perf_counter() - started
        time.sleep(0.25)
    sys.exit(f"dagster-webserver did not answer within {STARTUP_S} s:\n{log.read_text()}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGINT to the webserver; SIGKILL to what is left of its process group after 10 s."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def skip_community_dialog(page: Page) -> None:
    dialog = page.get_by_role("dialog").filter(has_text="Join the Dagster community")
    page.add_locator_handler(dialog, lambda: dialog.get_by_role("button", name="Skip").click())


def rendered(page: Page, n: int, timeout_s: float) -> tuple[str, float]:
    """Wait for the partitions view: the count of klines partitions in the header and the
    series list. ("rendered" | "error: …" | "timed out", seconds since navigation)."""
    started = time.perf_counter()
    deadline = started + timeout_s
    error = page.get_by_text("An unexpected error", exact=False).or_(
        page.get_by_text("Error", exact=True)
    )
    while time.perf_counter() < deadline:
        text = page.evaluate("() => document.body ? document.body.innerText : ''")
        if error.count() and error.first.is_visible():
            return f"error: {error.first.inner_text()[:200]!r}", time.perf_counter() - started
        if all(marker in text for marker in render_markers(n)):
            return "rendered", time.perf_counter() - started
        time.sleep(0.1)
    return "timed out", time.perf_counter() - started


def render_markers(n: int) -> list[str]:
    """What the rendered view shows: the count of partitions selected, and the series list
    beside the days (the first series is BACKFILL_SERIES at every size)."""
    return [f"{n:,} Partitions", BACKFILL_SERIES]


def render(
    url: str, klines: list[str], total: int, timeout_s: float, screenshot: Path
) -> tuple[str, float]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport=VIEWPORT)
            page = context.new_page()
            skip_community_dialog(page)
            started = time.perf_counter()
            try:
                page.goto(
                    f"{url}/assets/{'/'.join(klines)}?view=partitions", timeout=timeout_s * 1000
                )
            except PlaywrightTimeoutError:
                page.screenshot(path=screenshot)
                return "timed out (navigation)", time.perf_counter() - started
            outcome, _ = rendered(page, total, timeout_s - (time.perf_counter() - started))
            seconds = time.perf_counter() - started
            page.screenshot(path=screenshot)
            (screenshot.with_suffix(".txt")).write_text(
                page.evaluate("() => document.body.innerText")
            )
            return outcome, seconds
        finally:
            browser.close()


def partition_health(url: str, klines: list[str]) -> tuple[str, float]:
    """The partitions view's data over GraphQL: (summary, seconds)."""
    started = time.perf_counter()
    response = httpx.post(
        f"{url}/graphql",
        json={"query": PARTITION_HEALTH, "variables": {"key": {"path": klines}}},
        timeout=600,
    )
    seconds = time.perf_counter() - started
    response.raise_for_status()
    body = response.json()
    node = (body.get("data") or {}).get("assetNodeOrError") or {}
    if "partitionStats" not in node:
        return f"error: {str(body)[:300]}", seconds
    dims = {d["name"]: len(d["partitionKeys"]) for d in node["partitionKeysByDimension"]}
    stats = node["partitionStats"]
    size = len(response.content)
    return f"dimensions {dims}, partitionStats {stats}, {size:,} bytes", seconds


def launch_backfill(
    url: str, klines: list[str], start: date, today: date
) -> tuple[dict[str, object], float]:
    params = {
        "partitionsByAssets": [
            {
                "assetKey": {"path": klines},
                "partitions": {
                    "range": {
                        "start": f"{start.isoformat()}|{BACKFILL_SERIES}",
                        "end": f"{today.isoformat()}|{BACKFILL_SERIES}",
                    }
                },
            }
        ],
        "title": f"{BACKFILL_SERIES} full history",
    }
    started = time.perf_counter()
    response = httpx.post(
        f"{url}/graphql",
        json={"query": LAUNCH, "variables": {"params": params}},
        timeout=600,
    )
    seconds = time.perf_counter() - started
    response.raise_for_status()
    return response.json(), seconds


def backfill_status(url: str, backfill_id: str) -> dict[str, object]:
    response = httpx.post(
        f"{url}/graphql",
        json={"query": BACKFILL, "variables": {"id": backfill_id}},
        timeout=600,
    )
    response.raise_for_status()
    return response.json()


def stored_backfill(home: str, klines: list[str], backfill_id: str) -> str:
    with dg.DagsterInstance.from_config(home) as instance:
        backfills = instance.get_backfills()
        backfill = instance.get_backfill(backfill_id)
        if backfill is None:
            return f"not in the instance ({len(backfills)} backfills stored)"
        data = backfill.asset_backfill_data
        target = data.target_subset if data is not None else None
        keys = (
            sorted(target.get_partitions_subset(dg.AssetKey(klines)).get_partition_keys())
            if target is not None
            else []
        )
        series = sorted({k.split("|")[1] for k in keys})
        first_last = f"{keys[0]} … {keys[-1]}" if keys else "-"
        return (
            f"{len(backfills)} stored, status {backfill.status.value}, "
            f"{len(keys)} klines partitions targeted ({first_last}; series {series})"
        )


def bench(n: int, args: argparse.Namespace) -> dict[str, object]:
    print(f"\n== {n} series ==", flush=True)
    work = Path(tempfile.mkdtemp(prefix=f"qlir-bench-partitions-{n}-"))
    env = environment(n, args.start, work, args.group_size)
    klines = ["g00", "klines"] if grouped(n, args.group_size) else ["klines"]
    loads = load_seconds(env, args.rounds)
    load = statistics.median(loads)
    print(f"definitions load: median {load:.2f} s of {[round(s, 2) for s in loads]}")
    counts = partition_counts(env)
    for name, count in sorted(counts.items()):
        print(f"partitions {name}: {count:,}")
    print(f"assets {len(counts)}, partitions in all {sum(counts.values()):,}, ", end="")
    print(f"the most in one asset {max(counts.values()):,}")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = work / "webserver.log"
    process = start_webserver(env, port, log)
    try:
        startup = wait_for_server(process, url, log)
        print(f"webserver answered /server_info after {startup:.1f} s")
        health, health_s = partition_health(url, klines)
        print(f"partitions view's GraphQL data: {health_s:.2f} s, {health}")
        suffix = f"-groups-of-{args.group_size}" if grouped(n, args.group_size) else ""
        screenshot = Path(f"/tmp/partitions-{n}{suffix}.png")
        if Path(CHROMIUM).is_file():
            total = counts["/".join(klines)]
            outcome, seconds = render(url, klines, total, args.timeout, screenshot)
            print(f"partitions view: {outcome} after {seconds:.1f} s (screenshot {screenshot})")
        else:
            print(f"partitions view: NOT MEASURED, {CHROMIUM} is not installed")
        today = datetime.now(UTC).date()
        launched, launch_s = launch_backfill(url, klines, args.start, today)
        print(f"backfill launch: {launch_s:.2f} s, answer {launched}")
        result = launched.get("data") or {}
        answer = result.get("launchPartitionBackfill") if isinstance(result, dict) else None
        backfill_id = answer.get("backfillId") if isinstance(answer, dict) else None
        if backfill_id:
            print(f"backfill {backfill_id}: {backfill_status(url, backfill_id)}")
            print(f"instance: {stored_backfill(env['DAGSTER_HOME'], klines, backfill_id)}")
        else:
            print("backfill: NOT accepted")
    finally:
        stop(process)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return {"load": load}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="3,400", help="comma-separated numbers of series")
    parser.add_argument("--start", type=date.fromisoformat, default=date(2017, 8, 17))
    parser.add_argument("--rounds", type=int, default=3, help="load-time repeats (median)")
    parser.add_argument("--timeout", type=float, default=120, help="render timeout, seconds")
    parser.add_argument("--keep", action="store_true", help="keep the temp DAGSTER_HOMEs")
    parser.add_argument(
        "--group-size", type=int, default=None, help="series per group above this size"
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    results = {n: bench(n, args) for n in sizes}
    if len(sizes) > 1:
        small, large = min(sizes), max(sizes)
        ratio = float(results[large]["load"]) / float(results[small]["load"])  # type: ignore[arg-type]
        print(f"\nload time ratio {large}/{small}: {ratio:.2f}")


if __name__ == "__main__":
    main()
