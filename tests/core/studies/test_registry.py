"""The study registry: parameters from the signature, as a model the orchestrator validates."""

import pandas as pd
import pydantic
import pytest

from qlir_core.series import Series
from qlir_core.studies import registered, registry
from qlir_core.studies.registry import study

STUDIES = {s.name: s for s in registered()}


def test_each_study_declares_its_parameters_as_a_model():
    sma = STUDIES["sma_study"].parameters_model
    assert sma.__name__ == "SmaStudyParameters"
    assert sma().model_dump() == {"windows": [14, 50, 200], "price": "open", "flat_tol": 1e-9}
    band = STUDIES["band_touch_study"].parameters_model
    assert band(period=10).model_dump()["period"] == 10
    assert band().model_dump()["horizons"] == [1, 5, 20]


@pytest.mark.parametrize(
    ("params", "field"),
    [({"windowz": [5]}, "windowz"), ({"windows": "fourteen"}, "windows")],
    ids=["unknown-name", "wrong-type"],
)
def test_a_wrong_parameter_is_refused_by_the_model(params, field):
    with pytest.raises(pydantic.ValidationError, match=field):
        STUDIES["sma_study"].parameters_model(**params)


def test_an_unknown_parameter_is_a_clear_error_when_run_directly():
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) \['windowz'\]; known: windows"):
        STUDIES["sma_study"].run(pd.DataFrame(), Series.parse("ETHUSDT-1m"), {"windowz": [5]})


def test_each_builtin_study_reads_only_the_candle_columns_it_declares():
    assert STUDIES["sma_study"].columns == ("open", "high", "low", "close")
    assert STUDIES["marks_backtest"].columns == ("open", "high", "low", "close")
    assert STUDIES["band_touch_study"].columns == ("high", "low", "close")


def test_declared_columns_are_kept_in_table_order_and_a_wrong_one_is_refused(monkeypatch):
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))  # registered here only

    def noop(candles, series):  # never run
        raise AssertionError

    study("test_columns_in_order", columns=("close", "open_time", "high"))(noop)
    assert {s.name: s for s in registered()}["test_columns_in_order"].columns == ("high", "close")
    with pytest.raises(ValueError, match=r"\['closed'\] are not candle columns; the columns are"):
        study("test_wrong_column", columns=("closed",))
