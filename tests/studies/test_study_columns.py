"""A study reads only the candle columns it declares: on the real ETHUSDT days stored and
scanned back, every built-in study gives the same tables from its columns as from all of them."""

from datetime import date

import pandas as pd
import pytest

from qlir_core.series import Series
from qlir_core.storage import PartitionData, Store
from qlir_core.studies import registered

ETH = Series.parse("ETHUSDT-1m")


@pytest.fixture(scope="module")
def store(eth_days: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Store:
    store = Store(str(tmp_path_factory.mktemp("eth")))
    for day, rows in eth_days.groupby(eth_days["open_time"].dt.date):
        assert isinstance(day, date)
        store.publish(PartitionData(ETH, day, rows.reset_index(drop=True), [], []))
    return store


@pytest.mark.parametrize("study", registered(), ids=lambda s: s.name)
def test_a_study_gives_the_same_tables_from_its_declared_columns(store, study):
    every = store.scan_candles(ETH)
    own = store.scan_candles(ETH, columns=study.columns)
    assert len(own) == len(every) == 2 * 1440
    if study.columns is not None:
        assert list(own.columns) == ["open_time", *study.columns]
    expected = study.run(every, ETH)
    got = study.run(own, ETH)
    assert got.tables.keys() == expected.tables.keys()
    for name, table in expected.tables.items():
        pd.testing.assert_frame_equal(got.tables[name], table, obj=f"{study.name}.{name}")
    assert dict(got.headline) == pytest.approx(dict(expected.headline), nan_ok=True)
