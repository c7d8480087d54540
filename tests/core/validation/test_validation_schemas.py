"""The pandera models: the candle model lists the stored table's columns for a catalog, and
the screen derived from each model agrees with pandera's own verdict."""

import pytest
from validation_parts import copy

from qlir_core import candles
from qlir_core.validation import Rule, candle_columns
from qlir_core.validation.partition import CANDLES, MANIFEST


def test_the_candle_model_lists_the_stored_columns():
    listed = candle_columns()
    assert tuple(c.name for c in listed) == candles.COLUMNS
    dtypes = {c.name: c.dtype for c in listed}
    assert dtypes["open_time"] == dtypes["close_time"] == "datetime64[ms, UTC]"
    assert (dtypes["open"], dtypes["trades"]) == ("float64", "int64")
    assert all(c.description and not c.nullable for c in listed)


def test_every_rule_check_of_the_models_is_screened():
    assert set(CANDLES.rules) == {Rule.OHLC_ORDER, Rule.NON_NEGATIVE, Rule.TAKER_VOLUME}
    assert {c.rule for c in MANIFEST.checks} == {Rule.MANIFEST_COLUMNS}
    assert len(MANIFEST.checks) == 6  # isin × 3, ge × 3


@pytest.mark.parametrize(
    ("column", "value", "rule"),
    [("low", 1e9, Rule.OHLC_ORDER), ("trades", -1, Rule.NON_NEGATIVE)],
)
def test_the_screen_fails_where_pandera_finds_a_case(btc_archive, column, value, rule):
    clean = btc_archive.candles
    assert CANDLES.failing(clean) == ()
    broken = copy(btc_archive).candles
    broken.loc[3, column] = value
    assert {c.rule for c in CANDLES.failing(broken)} == {rule}
    count, (case,) = CANDLES.validate(broken, max_cases=5).rules[rule]
    assert (count, case.row) == (1, 3)
    assert column in case.column.split(",")


def test_a_ledger_without_its_optional_column_passes_the_screen_as_pandera_passes_it(btc_rest):
    # As fetched, before it is persisted, a ledger has no persist_ms (the one optional column).
    fetched = btc_rest.manifest.drop(columns=["persist_ms"], errors="ignore")
    assert "persist_ms" not in fetched
    assert MANIFEST.passes_screen(fetched)
    MANIFEST.schema.validate(fetched, lazy=True)  # pandera's verdict is the same
    assert MANIFEST.passes_screen(fetched.assign(persist_ms=1.5))
    # a required column may not be missing; the structure rule then names it
    no_url = fetched.drop(columns=["url"])
    assert not MANIFEST.passes_screen(no_url)
    count, cases = MANIFEST.validate(no_url, max_cases=5).rules[Rule.MANIFEST_COLUMNS]
    assert count == 1
    assert cases[0].column == "url"
