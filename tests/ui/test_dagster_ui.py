"""What a user sees in the Dagster UI after real runs: the assets, the study charts and headline
numbers, and the klines checks with an exchange halt showing as a warning.

A real `dagster-webserver` serves the instance the runs went into; a headless chromium looks at
it. Screenshots of each page go into the test's tmp dir.
"""

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.ui.conftest import (
    DAYS,
    ERROR_KEY,
    HALT_KEY,
    STUDY_CANDLES,
    STUDY_SERIES,
    TIMEOUT_MS,
)

pytestmark = pytest.mark.slow

expect.set_options(timeout=TIMEOUT_MS)

ASSETS = ("klines", "sma_study", "band_touch_study", "marks_backtest", "signals")
CHECKS = ("candle_schema", "candle_spacing", "completeness", "slice_parse", "slice_spacing")
# One freshness check per series of the UI's settings (BTCUSDT-1m, ETHUSDT-1m): not partitioned.
FRESHNESS = ("fresh_BTCUSDT_1m", "fresh_ETHUSDT_1m")


def visible_text(page: Page, text: str) -> Locator:
    """The first visible element reading exactly `text` (names are also drawn hidden, to measure
    them for truncation)."""
    return page.get_by_text(text, exact=True).filter(visible=True).first


def metadata_row(page: Page, key: str) -> Locator:
    """The metadata table row whose first cell is exactly `key`."""
    key_cell = page.get_by_role("cell", name=key, exact=True)
    return page.get_by_role("row").filter(has=key_cell)


def metadata_value(page: Page, key: str) -> str:
    row = metadata_row(page, key)
    expect(row).to_have_count(1)
    return row.get_by_role("cell").nth(1).inner_text().strip()


def open_chart(page: Page, key: str) -> Locator:
    """Click a chart's [Show Markdown] and return the rendered <img> in the dialog."""
    metadata_row(page, key).get_by_text("[Show Markdown]").click()
    dialog = page.get_by_role("dialog").filter(has_text=key)
    expect(dialog).to_be_visible()
    img = dialog.locator("img")
    expect(img).to_have_count(1)
    expect(img).to_have_attribute("src", re.compile(r"^data:image/png;base64,"))
    # Rendered, not a broken-image icon: the browser decoded the PNG.
    img.evaluate("i => i.decode()")
    assert img.evaluate("i => i.complete && i.naturalWidth") > 0
    assert img.evaluate("i => i.naturalHeight") > 0
    return img


def close_dialog(page: Page, key: str) -> None:
    dialog = page.get_by_role("dialog").filter(has_text=key)
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_have_count(0)


def check_row(page: Page, name: str) -> Locator:
    """A check in the checks tab's list (name, then its status)."""
    return page.locator("[class*=checkRow]").filter(has=page.locator(f"[title='{name}']"))


def test_the_catalog_and_the_lineage_graph_list_every_asset(page: Page, tmp_path):
    page.goto("/assets")
    for name in ASSETS:
        link = page.locator(f"a[href='/assets/{name}']")
        expect(link).to_be_visible()
        expect(link).to_contain_text(name)
    # Loaded: each row counts its partitions.
    expect(page.get_by_text(re.compile(r"^[\d,]+ partitions$"))).to_have_count(len(ASSETS))
    page.screenshot(path=tmp_path / "catalog.png", full_page=True)

    page.goto("/assets/klines?view=lineage")
    for name in ASSETS:
        expect(visible_text(page, name)).to_be_visible()
    # The klines node sums up its partitioned checks: one passes only when every partition has
    # passed, and most partitions (every day since the first) have not been checked yet.
    # Passed on every checked day: 3 of the 5 (completeness warns on the halt day, candle_spacing
    # failed on the ERROR day); the two freshness checks fail on these old days.
    expect(visible_text(page, f"3 / {len(CHECKS) + len(FRESHNESS)} Passed")).to_be_visible()
    expect(page.get_by_text(re.compile(r"^Loading"))).to_have_count(0)
    page.screenshot(path=tmp_path / "lineage.png")


def test_the_sma_study_partition_shows_its_survival_chart_and_headline(page: Page, tmp_path):
    page.goto(f"/assets/sma_study?view=partitions&partition={STUDY_SERIES}")
    expect(visible_text(page, STUDY_SERIES)).to_be_visible()
    expect(visible_text(page, "Materialized")).to_be_visible()
    assert int(metadata_value(page, "candles")) == STUDY_CANDLES
    for window in (14, 50, 200):
        assert float(metadata_value(page, f"w{window}_up_legs")) > 0
        assert float(metadata_value(page, f"w{window}_down_length_p50")) >= 1
    page.screenshot(path=tmp_path / "sma_study.png", full_page=True)

    img = open_chart(page, "chart_survival")
    expect(img).to_have_attribute("alt", "survival")
    page.screenshot(path=tmp_path / "sma_study_chart_survival.png")


def test_the_band_touch_study_partition_shows_its_charts_and_label_shares(page: Page, tmp_path):
    page.goto(f"/assets/band_touch_study?view=partitions&partition={STUDY_SERIES}")
    expect(visible_text(page, STUDY_SERIES)).to_be_visible()
    expect(visible_text(page, "Materialized")).to_be_visible()
    assert int(metadata_value(page, "candles")) == STUDY_CANDLES
    keys = [k.strip() for k in page.get_by_role("cell").all_inner_texts()]
    shares = [float(metadata_value(page, k)) for k in keys if k.startswith("share_")]
    assert len(shares) >= 2
    # Ten shares, each rounded to 6 decimals on the materialization.
    assert sum(shares) == pytest.approx(1.0, abs=1e-5)
    page.screenshot(path=tmp_path / "band_touch_study.png", full_page=True)

    for key, alt in (("chart_label_shares", "label_shares"), ("chart_per_day", "per_day")):
        img = open_chart(page, key)
        expect(img).to_have_attribute("alt", alt)
        page.screenshot(path=tmp_path / f"band_touch_study_{key}.png")
        close_dialog(page, key)


def test_the_klines_checks_show_the_halt_day_as_a_warning(page: Page, tmp_path):
    page.goto("/assets/klines?view=checks")
    expect(page.get_by_text(f"Checks ({len(CHECKS) + len(FRESHNESS)})", exact=True)).to_be_visible()
    for name in CHECKS:
        expect(check_row(page, name)).to_have_count(1)
    # completeness failed with WARN severity: a yellow warning icon, not a red cross
    completeness = check_row(page, "completeness")
    expect(completeness).to_contain_text("Failed")
    expect(completeness.locator("[role=img][aria-label=warning_outline]")).to_have_count(1)
    # candle_spacing failed on the ERROR day, and stays failed on that day.
    expect(check_row(page, "candle_spacing")).to_contain_text("Failed")
    for name in set(CHECKS) - {"completeness", "candle_spacing"}:
        expect(check_row(page, name)).to_contain_text("Succeeded")
        expect(check_row(page, name).locator("[aria-label=check_circle]")).to_have_count(1)

    # Its latest execution: the halt day, failed as a warning, the gap itself in a table.
    completeness.click()
    expect(page).to_have_url(re.compile(r"checkDetail=completeness"))
    expect(page.get_by_text("Latest execution", exact=True)).to_be_visible()
    expect(page.get_by_text(HALT_KEY, exact=True)).to_be_visible()
    expect(page.get_by_text("EXCHANGE_GAP: 80", exact=True)).to_be_visible()
    result = page.locator(".BaseTag", has_text="Failed")
    expect(result.locator("[aria-label=warning_outline]")).to_have_count(1)
    gap = (
        page.get_by_role("row")
        .filter(has=page.get_by_role("cell", name="2024-01-02 12:40:00+00:00", exact=True))
        .filter(has=page.get_by_role("cell", name="2024-01-02 13:59:00+00:00", exact=True))
        .last  # the gaps table's own row, not the metadata row around it
    )
    expect(gap.get_by_role("cell", name="80", exact=True)).to_have_count(1)
    expect(gap.get_by_role("cell", name="exchange", exact=True)).to_have_count(1)
    page.screenshot(path=tmp_path / "klines_checks_completeness.png", full_page=True)

    page.get_by_text("Execution history", exact=True).click()
    warned = page.get_by_role("row").filter(has_text="EXCHANGE_GAP: 80")
    expect(warned.first).to_be_visible()
    expect(warned.first.locator("[aria-label=warning_outline]")).to_have_count(1)
    page.screenshot(path=tmp_path / "klines_checks_history.png", full_page=True)

    # The same through the webserver's GraphQL API, as a cross-check of what the page showed.
    answer = page.request.post(
        "/graphql",
        data={
            "query": """{ assetNodes(assetKeys: [{path: ["klines"]}]) { assetChecksOrError {
                ... on AssetChecks { checks { name executionForLatestMaterialization {
                    status partition evaluation { severity description } } } } } } }"""
        },
    )
    assert answer.ok
    (node,) = answer.json()["data"]["assetNodes"]
    latest_by_check = {
        c["name"]: c["executionForLatestMaterialization"]
        for c in node["assetChecksOrError"]["checks"]
    }
    assert set(latest_by_check) == {*CHECKS, *FRESHNESS}
    assert latest_by_check["completeness"]["status"] == "FAILED"
    assert latest_by_check["completeness"]["partition"] == HALT_KEY
    assert latest_by_check["completeness"]["evaluation"]["severity"] == "WARN"
    assert all(latest_by_check[n]["status"] == "SUCCEEDED" for n in set(CHECKS) - {"completeness"})


def test_a_failed_day_keeps_its_failed_check_and_table_after_a_later_day_passes(
    page: Page, tmp_path
):
    page.goto("/assets/klines?view=checks&checkDetail=candle_spacing")
    expect(page.get_by_text(f"Checks ({len(CHECKS) + len(FRESHNESS)})", exact=True)).to_be_visible()
    # The check's own Partitions tab (a button), not the asset's (a link).
    page.locator("button[role=tab]", has_text="Partitions").click()
    day, series = ERROR_KEY.split("|")
    visible_text(page, day).click()
    visible_text(page, series).click()
    expect(visible_text(page, ERROR_KEY)).to_be_visible()
    status = page.locator(".BaseTag", has_text="Failed").first
    expect(status).to_be_visible()
    # Its failure table: the 12:00 candle the exchange served half a minute late.
    expect(page.get_by_text(re.compile(rf"{day}.12:00")).first).to_be_visible()
    page.screenshot(path=tmp_path / "klines_check_failed_day.png", full_page=True)

    # A later day of the same series passed that check.
    later = f"{DAYS[1]}|BTCUSDT-1m"
    visible_text(page, DAYS[1]).click()
    visible_text(page, series).click()
    expect(visible_text(page, later)).to_be_visible()
    expect(visible_text(page, "Passed")).to_be_visible()
    expect(page.locator("[aria-label=check_circle]").first).to_be_visible()
    page.screenshot(path=tmp_path / "klines_check_passed_day.png", full_page=True)


def test_todays_partition_reads_as_partial(page: Page, materialized: str, tmp_path):
    page.goto(f"/assets/klines?view=partitions&partition={materialized}")
    expect(visible_text(page, "Materialized")).to_be_visible()
    assert metadata_value(page, "partial") == "true"
    page.screenshot(path=tmp_path / "klines_partial_day.png", full_page=True)


def test_the_klines_page_shows_its_column_schema(page: Page, tmp_path):
    page.goto("/assets/klines?view=overview")
    expect(page.get_by_text("Columns", exact=True).first).to_be_visible()
    for column in ("open_time", "close_time", "quote_volume"):
        expect(visible_text(page, column)).to_be_visible()
    page.screenshot(path=tmp_path / "klines_columns.png", full_page=True)


def test_a_studys_chart_is_the_first_thing_on_its_partition(page: Page, tmp_path):
    page.goto(f"/assets/sma_study?view=partitions&partition={STUDY_SERIES}")
    expect(visible_text(page, "Materialized")).to_be_visible()
    first_key = page.get_by_role("row").filter(has=page.get_by_role("cell")).first
    expect(first_key.get_by_role("cell").first).to_have_text("chart_survival")
    img = open_chart(page, "chart_survival")
    assert img.evaluate("i => i.naturalWidth") > 100
    page.screenshot(path=tmp_path / "sma_study_first_chart.png")
    close_dialog(page, "chart_survival")

    # Its tables' columns are in the catalog.
    page.goto("/assets/sma_study?view=overview")
    for column in ("window", "direction"):
        expect(visible_text(page, column)).to_be_visible()
    page.screenshot(path=tmp_path / "sma_study_columns.png", full_page=True)
