"""Series groups in the Dagster UI: each group's klines with its own series and checks, its
studies beside it, after real runs through the group's jobs.

The module's settings put BTCUSDT-1m in the group `majors` and ETHUSDT-1m in `alts`; the
webserver, the exchange and the browser are the UI tests' own (tests/ui/conftest.py).
"""

from datetime import UTC, datetime

import dagster as dg
import pytest
from playwright.sync_api import Page, expect

from qlir_dagster import config
from qlir_dagster.definitions import build_defs
from tests.conftest import shipped_home
from tests.ui.conftest import DAYS, FIRST_DAY, TIMEOUT_MS
from tests.ui.test_dagster_ui import check_row

pytestmark = pytest.mark.slow

expect.set_options(timeout=TIMEOUT_MS)

GROUPS = {"majors": "BTCUSDT-1m", "alts": "ETHUSDT-1m"}
DAY = DAYS[1]  # a clean day of both series
CHECKS = ("candle_schema", "candle_spacing", "completeness", "slice_parse", "slice_spacing")


@pytest.fixture(scope="module")
def qlir_env(exchange, tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("ui-groups")
    return {
        "DAGSTER_HOME": str(shipped_home(root / "dagster_home")),
        "QLIR_CONFIG": "/dev/null",
        "QLIR_DATA_ROOT": str(root / "data"),
        "QLIR_GROUPS": ";".join(f"{g}={s}" for g, s in GROUPS.items()),
        "QLIR_START_DATE": FIRST_DAY.isoformat(),
        "QLIR_SOURCE": "archive",
        "QLIR_BINANCE_REST_URL": exchange,
        "QLIR_BINANCE_ARCHIVE_URL": exchange,
    }


@pytest.fixture(scope="module")
def materialized(qlir_env) -> None:
    """One day of each group's series through the group's job; the majors' studies on it."""
    defs = build_defs(config.load(qlir_env))
    with dg.DagsterInstance.from_config(qlir_env["DAGSTER_HOME"]) as instance:
        for group, series in GROUPS.items():
            job = defs.resolve_job_def(f"{group}_klines_job")
            assert job.execute_in_process(
                instance=instance, partition_key=f"{DAY}|{series}"
            ).success
        studies = defs.resolve_job_def("majors_studies_job")
        assert studies.execute_in_process(instance=instance, partition_key=GROUPS["majors"]).success


def test_each_groups_klines_shows_only_its_own_series(page: Page, tmp_path):
    days = (datetime.now(UTC).date() - FIRST_DAY).days + 1
    for group, series in GROUPS.items():
        page.goto(f"/assets/{group}/klines?view=partitions")
        expect(page.get_by_text(f"{days:,} Partitions", exact=False)).to_be_visible()
        expect(page.get_by_text("Materialized (1)", exact=True)).to_be_visible()
        expect(page.get_by_text(series, exact=True).first).to_be_visible()
        other = next(s for s in GROUPS.values() if s != series)
        expect(page.get_by_text(other, exact=True)).to_have_count(0)
        page.screenshot(path=tmp_path / f"{group}-partitions.png")


def test_a_groups_checks_and_studies_are_its_own(page: Page, tmp_path):
    page.goto("/assets/majors/klines?view=checks")
    # The five validation checks and the one freshness check of the group's one series.
    expect(page.get_by_text(f"Checks ({len(CHECKS) + 1})", exact=True)).to_be_visible()
    expect(page.get_by_text("fresh_BTCUSDT_1m", exact=True).first).to_be_visible()
    expect(page.get_by_text("fresh_ETHUSDT_1m", exact=True)).to_have_count(0)
    for name in CHECKS:  # evaluated on the group's day
        expect(check_row(page, name)).to_contain_text("Succeeded")
    page.screenshot(path=tmp_path / "majors-checks.png", full_page=True)

    page.goto("/assets/majors/sma_study?view=partitions")
    expect(page.get_by_text("Materialized (1)", exact=True)).to_be_visible()
    page.goto("/assets/alts/sma_study?view=partitions")
    # Loaded (its one partition counted as missing), and not materialized.
    expect(page.get_by_text("Missing (1)", exact=True)).to_be_visible()
    expect(page.get_by_text("Materialized (0)", exact=True)).to_be_visible()
    page.screenshot(path=tmp_path / "alts-sma.png")
