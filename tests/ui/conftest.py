"""A Dagster instance with real runs in it, a `dagster-webserver` serving it, and a headless
Debian chromium driven by playwright to look at it as a user would."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import httpx
import pytest
from playwright.sync_api import Locator, Page, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from qlir_dagster import config
from qlir_dagster.definitions import build_defs
from qlir_sim import Synthetic, serve
from tests.conftest import away_from_midnight, shipped_home

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1400, "height": 1000}
TIMEOUT_MS = 20_000  # per page action or expectation
STARTUP_S = 90  # for the webserver to answer, on a loaded 2-core machine

FIRST_DAY = date(2023, 12, 31)
DAYS = [(FIRST_DAY + timedelta(days=i)).isoformat() for i in range(3)]  # ..2024-01-02
HALT = "2024-01-02T12:40/2024-01-02T14:00"  # 80 one-minute candles the exchange never had
HALT_KEY = "2024-01-02|BTCUSDT-1m"
# The exchange serves the first day's 12:00 candle half a minute late: an ERROR (candle_spacing), so
# that day is not stored.
ERROR_KEY = f"{DAYS[0]}|BTCUSDT-1m"
CORRUPT = f"misalign:BTCUSDT-1m:{DAYS[0]}"  # stored by the fetch, refused by candle_spacing
STUDY_SERIES = "BTCUSDT-1m"
# The studies read every stored day of the series: the two days after the ERROR day, less the halt.
STUDY_CANDLES = (len(DAYS) - 1) * 1440 - 80


@dataclass(frozen=True)
class Webserver:
    process: subprocess.Popen[bytes]
    url: str
    log: Path


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's chromium (playwright never downloads its own); CI must have it."""
    if not CHROMIUM.is_file():
        reason = f"the browser UI test needs {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("QLIR_REQUIRE_REAL_DATA") == "1":
            pytest.fail(f"QLIR_REQUIRE_REAL_DATA=1 but {reason}", pytrace=False)
        pytest.skip(reason)
    return CHROMIUM


@pytest.fixture(scope="module")
def exchange(chromium) -> Iterator[str]:
    """qlir-sim serving BTCUSDT and ETHUSDT 1m from FIRST_DAY up to now, with a corrupt first
    day and a halt on the third one for BTCUSDT."""
    market = Synthetic(
        ["BTCUSDT", "ETHUSDT"],
        ["1m"],
        FIRST_DAY,
        days=None,
        seed=11,
        halts=[HALT],
        corrupt_days=[CORRUPT],
    )
    with serve(market) as url:
        yield url


@pytest.fixture(scope="module")
def qlir_env(exchange, tmp_path_factory) -> dict[str, str]:
    """DAGSTER_HOME (its storage created) and the QLIR_* settings, for the runs and the webserver."""
    root = tmp_path_factory.mktemp("ui")
    # The instance as shipped (run launcher, pools, run monitoring), its storage created once,
    # now, before two processes use it at once.
    home = shipped_home(root / "dagster_home")
    return {
        "DAGSTER_HOME": str(home),
        "QLIR_CONFIG": "/dev/null",
        "QLIR_DATA_ROOT": str(root / "data"),
        "QLIR_SERIES": "BTCUSDT-1m,ETHUSDT-1m",
        "QLIR_START_DATE": FIRST_DAY.isoformat(),
        "QLIR_SOURCE": "auto",  # the archive for closed days, REST for today
        "QLIR_BINANCE_REST_URL": exchange,
        "QLIR_BINANCE_ARCHIVE_URL": exchange,
    }


@pytest.fixture(scope="module")
def webserver(qlir_env, tmp_path_factory) -> Iterator[Webserver]:
    """`dagster-webserver` on that instance, as a user starts it; not waited for here."""
    port = _free_port()
    log = tmp_path_factory.mktemp("webserver") / "webserver.log"
    command = [
        str(Path(sys.executable).with_name("dagster-webserver")),
        *("-m", "qlir_dagster.definitions", "-h", "127.0.0.1", "-p", str(port)),
    ]
    with log.open("w") as out:
        process = subprocess.Popen(
            command,
            cwd=REPO,
            env=os.environ | qlir_env,
            stdout=out,
            stderr=subprocess.STDOUT,
            # Its own process group with SIGINT restored, so SIGINT stops it and its children.
            start_new_session=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
    try:
        yield Webserver(process, f"http://127.0.0.1:{port}", log)
    finally:
        _stop(process)


@pytest.fixture(scope="module")
def materialized(qlir_env) -> str:
    """What a user has after a few days, in the SQLite storage under DAGSTER_HOME; the key of
    today's partial day.

    ETHUSDT-1m is backfilled as one ranged run, then today's partial day (today as of the run,
    not of the tests' start, and the run not near midnight). BTCUSDT-1m runs day by
    day, as the daily schedule runs it: its first day fails with an ERROR, the next two pass (the
    halt day, a WARN, is the newest check evaluation). Then both studies run for BTCUSDT-1m.
    """
    defs = build_defs(config.load(qlir_env))
    klines_job = defs.resolve_job_def("klines_job")
    with dg.DagsterInstance.from_config(qlir_env["DAGSTER_HOME"]) as instance:
        backfill = klines_job.execute_in_process(
            instance=instance,
            tags={
                "dagster/asset_partition_range_start": f"{DAYS[0]}|ETHUSDT-1m",
                "dagster/asset_partition_range_end": f"{DAYS[-1]}|ETHUSDT-1m",
            },
        )
        assert backfill.success
        today = away_from_midnight(after=timedelta(minutes=3), before=timedelta(minutes=10))
        partial_key = f"{today.date()}|ETHUSDT-1m"
        partial = klines_job.execute_in_process(instance=instance, partition_key=partial_key)
        assert partial.success
        for day in DAYS:
            key = f"{day}|BTCUSDT-1m"
            daily = klines_job.execute_in_process(
                instance=instance, partition_key=key, raise_on_error=False
            )
            assert daily.success is (key != ERROR_KEY)
        studies = defs.resolve_job_def("studies_job").execute_in_process(
            instance=instance, partition_key=STUDY_SERIES
        )
        assert studies.success
    return partial_key


@pytest.fixture(scope="module")
def site(webserver, materialized) -> str:
    """The webserver's URL once it answers and the runs are in (the runs go while it starts)."""
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        if webserver.process.poll() is not None:
            pytest.fail(
                f"dagster-webserver exited with {webserver.process.returncode}:\n"
                + webserver.log.read_text()
            )
        try:
            if httpx.get(f"{webserver.url}/server_info", timeout=2).status_code == 200:
                return webserver.url
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    pytest.fail(
        f"dagster-webserver did not answer /server_info within {STARTUP_S} s:\n"
        + webserver.log.read_text()
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGINT (dagster maps SIGTERM to it too); SIGKILL what is left of the group after 10 s."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None and not _group_alive(process.pid):
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(scope="module")
def browser(chromium, site):
    """Headless chromium, started after the runs: they must not execute while playwright's
    event loop is the main thread's current loop (unawaited-coroutine warnings)."""
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def browser_context(site, browser):
    """One context for the module (the UI's scripts load once into its cache), past the
    "Join the Dagster community" dialog a fresh DAGSTER_HOME shows on the first visit."""
    context = browser.new_context(viewport=VIEWPORT, base_url=site)
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = context.new_page()
        page.goto("/assets")
        skip_community_dialog(page, wait_ms=10_000)
        page.close()
        yield context
    finally:
        context.close()


def community_dialog(page: Page) -> Locator:
    return page.get_by_role("dialog").filter(has_text="Join the Dagster community")


def skip_community_dialog(page: Page, wait_ms: int) -> None:
    """Click "Skip" if the dialog shows up within `wait_ms` (it waits a second to appear)."""
    dialog = community_dialog(page)
    try:
        dialog.wait_for(timeout=wait_ms)
    except PlaywrightTimeoutError:
        return
    dialog.get_by_role("button", name="Skip").click()
    dialog.wait_for(state="detached")


@pytest.fixture
def page(browser_context):
    """A fresh tab; should the community dialog show up again, it is skipped."""
    page = browser_context.new_page()
    dialog = community_dialog(page)
    page.add_locator_handler(dialog, lambda: dialog.get_by_role("button", name="Skip").click())
    try:
        yield page
    finally:
        page.close()
