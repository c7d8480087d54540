"""Settings: qlir.toml and QLIR_* variables, the environment winning, one clear error per value."""

import pytest

from qlir_core.errors import ConfigError
from qlir_core.ingest import SourceMode
from qlir_core.series import Series
from qlir_dagster import config


@pytest.fixture
def qlir_toml(tmp_path):
    path = tmp_path / "qlir.toml"
    path.write_text(
        'series = ["ETHUSDT-1h"]\nstart_date = "2023-05-01"\nsource = "archive"\n'
        'binance_rest_url = "http://127.0.0.1:9/"\n'
    )
    return path


def test_the_file_is_read_and_the_environment_wins(qlir_toml):
    settings = config.load({"QLIR_CONFIG": str(qlir_toml), "QLIR_SOURCE": " REST "})
    assert settings.series == (Series.parse("ETHUSDT-1h"),)
    assert settings.start_date.isoformat() == "2023-05-01"
    assert settings.source is SourceMode.REST
    assert settings.binance_rest_url == "http://127.0.0.1:9"
    assert settings.data_root == "./data"


def test_blank_variables_count_as_unset(qlir_toml):
    settings = config.load({"QLIR_CONFIG": str(qlir_toml), "QLIR_SOURCE": "  "})
    assert settings.source is SourceMode.ARCHIVE


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"QLIR_SOURCE": "archiv"},
            "QLIR_SOURCE='archiv' is invalid: expected one of auto, rest, archive",
        ),
        (
            {"QLIR_START_DATE": "2024-13-01"},
            "QLIR_START_DATE='2024-13-01' is invalid: month must be in 1..12; "
            "expected a date as YYYY-MM-DD",
        ),
        (
            {"QLIR_BINANCE_REST_URL": "ftp://x"},
            "QLIR_BINANCE_REST_URL='ftp://x' is invalid: expected an http:// or https:// URL",
        ),
        ({"QLIR_CONFIG": "/no/such/qlir.toml"}, "QLIR_CONFIG='/no/such/qlir.toml': no such file"),
    ],
    ids=["source", "date", "url", "missing-file"],
)
def test_a_bad_variable_names_itself_the_value_and_the_valid_form(env, message):
    with pytest.raises(ConfigError) as raised:
        config.load({"QLIR_CONFIG": "/dev/null"} | env)
    assert str(raised.value) == message


def test_a_bad_file_key_names_the_key_and_the_file(tmp_path):
    path = tmp_path / "qlir.toml"
    path.write_text('series = ["BTCUSDT-7m"]\nsource = "nope"\n')
    with pytest.raises(ConfigError) as raised:
        config.load({"QLIR_CONFIG": str(path)})
    lines = str(raised.value).splitlines()
    assert lines[0].startswith(
        f"series in {path}=['BTCUSDT-7m'] is invalid: series key 'BTCUSDT-7m': unknown interval"
    )
    assert lines[1] == f"source in {path}='nope' is invalid: expected one of auto, rest, archive"


def test_a_malformed_file_is_a_config_error(tmp_path):
    path = tmp_path / "qlir.toml"
    path.write_text("series = [\n")
    with pytest.raises(ConfigError, match=f"config file {path}"):
        config.load({"QLIR_CONFIG": str(path)})
