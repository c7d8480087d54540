"""Log profiles, the JSON-lines file, the record context and redaction, in this process."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from qlir_core import logs
from qlir_core.errors import ConfigError
from qlir_dagster import config


@pytest.fixture
def configured(tmp_path: Path) -> Iterator[Path]:
    """The process's logging as `configure` leaves it, put back afterwards."""
    root, qlir = logging.getLogger(), logging.getLogger(logs.QLIR)
    levels = root.level, qlir.level
    yield tmp_path / "logs"
    logs.unconfigure()
    logs.set_defaults(run_id=None)
    root.setLevel(levels[0])
    qlir.setLevel(levels[1])


def lines(folder: Path, name: str = logs.FILE) -> list[dict[str, object]]:
    return [json.loads(line) for line in (folder / name).read_text().splitlines()]


@pytest.mark.parametrize(
    ("profile", "root", "qlir"),
    [
        ("prod", logging.WARNING, logging.WARNING),
        ("all-info", logging.INFO, logging.INFO),
        ("all-debug", logging.DEBUG, logging.DEBUG),
        ("qlir-info", logging.WARNING, logging.INFO),
        ("qlir-debug", logging.WARNING, logging.DEBUG),
    ],
)
def test_a_profile_sets_the_root_and_qlir_levels(configured, profile, root, qlir):
    logs.configure(logs.LogSettings(logs.Profile.parse(profile), configured))
    assert logging.getLogger().level == root
    assert logging.getLogger(logs.QLIR).level == qlir


def test_the_default_profile_is_qlir_info():
    settings = config.load({"QLIR_CONFIG": "/dev/null"})
    assert settings.log_profile is logs.Profile.QLIR_INFO
    assert settings.logging == logs.LogSettings()


def test_a_bad_profile_fails_the_load_naming_it():
    with pytest.raises(ConfigError) as e:
        config.load({"QLIR_CONFIG": "/dev/null", "QLIR_LOG_PROFILE": "verbose"})
    assert str(e.value) == (
        "QLIR_LOG_PROFILE='verbose' is invalid: expected one of prod, all-info, all-debug, "
        "qlir-info, qlir-debug"
    )
    with pytest.raises(ConfigError, match="QLIR_LOG_SPLIT='symbol' is invalid"):
        config.load({"QLIR_CONFIG": "/dev/null", "QLIR_LOG_SPLIT": "symbol"})


def test_the_log_folder_defaults_to_the_dagster_home():
    assert logs.default_dir({"DAGSTER_HOME": "/srv/dagster"}) == Path("/srv/dagster/logs")
    assert logs.default_dir({}) == Path("logs").absolute()


def test_every_line_is_json_with_the_contract_fields(configured):
    logs.configure(logs.LogSettings(logs.Profile.QLIR_DEBUG, configured), run_id="run-1")
    log = logs.logger("qlir_core.sources.rest")
    with logs.bound(series="BTCUSDT-1m", day="2024-01-01"):
        log.debug("a request", extra={"event": "request", "status": 200, "duration_ms": 4.5})
        log.info("another day", extra={"day": "2024-01-02"})  # extra wins over the context
    log.debug("outside")
    first, second, third = lines(configured)
    assert set(first) >= {"time", "level", "logger", "pid", "message", "run_id", "event"}
    assert first["logger"] == "qlir.sources.rest"
    assert first["time"].endswith("+00:00")  # UTC
    assert (first["level"], first["status"], first["duration_ms"]) == ("DEBUG", 200, 4.5)
    assert (first["series"], first["day"], first["run_id"]) == ("BTCUSDT-1m", "2024-01-01", "run-1")
    assert (second["series"], second["day"]) == ("BTCUSDT-1m", "2024-01-02")
    assert (third["series"], third["day"], third["run_id"]) == (None, None, "run-1")


def test_timed_logs_its_duration(configured):
    logs.configure(logs.LogSettings(logs.Profile.QLIR_DEBUG, configured))
    with logs.timed(logs.logger("qlir_core.x"), "validate", "validated", series="ETHUSDT-1m") as x:
        x["rows"] = 1440
    (line,) = lines(configured)
    assert (line["event"], line["series"], line["rows"]) == ("validate", "ETHUSDT-1m", 1440)
    assert isinstance(line["duration_ms"], float)


def test_prod_writes_no_info_from_qlir(configured):
    logs.configure(logs.LogSettings(logs.Profile.PROD, configured))
    log = logs.logger("qlir_core.x")
    log.info("not written")
    log.debug("not written")
    log.warning("written")
    assert [(line["level"], line["message"]) for line in lines(configured)] == [
        ("WARNING", "written")
    ]


def test_other_libraries_are_written_by_the_all_profiles_only(configured):
    logs.configure(logs.LogSettings(logs.Profile.QLIR_INFO, configured))
    logging.getLogger("httpx").info("hidden")
    logs.logger("qlir_core.x").info("shown")
    logs.configure(logs.LogSettings(logs.Profile.ALL_INFO, configured))
    logging.getLogger("httpx").info("now shown")
    assert [line["message"] for line in lines(configured)] == ["shown", "now shown"]


def test_a_split_writes_one_file_per_series(configured):
    logs.configure(logs.LogSettings(logs.Profile.QLIR_INFO, configured, logs.Split.SERIES))
    log = logs.logger("qlir_core.x")
    log.info("btc", extra={"series": "BTCUSDT-1m"})
    with logs.bound(series="ETHUSDT-1m"):
        log.info("eth")
    log.info("none")
    assert [line["message"] for line in lines(configured, "qlir-BTCUSDT-1m.jsonl")] == ["btc"]
    assert [line["message"] for line in lines(configured, "qlir-ETHUSDT-1m.jsonl")] == ["eth"]
    assert [line["message"] for line in lines(configured)] == ["none"]


def test_no_secret_reaches_the_file(configured):
    logs.configure(logs.LogSettings(logs.Profile.QLIR_DEBUG, configured))
    log = logs.logger("qlir_core.x")
    url = "https://key:hunter2@api.binance.com/api/v3/order?symbol=BTCUSDT&signature=abc123"
    log.warning("GET %s failed", url, extra={"url": url + "&apiKey=k9"})
    logging.getLogger("botocore").warning("X-Amz-Signature=deadbeef&X-Amz-Credential=AKIA1")
    text = (configured / logs.FILE).read_text()
    for secret in ("hunter2", "abc123", "k9", "deadbeef", "AKIA1"):
        assert secret not in text
    (first, _) = lines(configured)
    assert first["message"] == (
        "GET https://***@api.binance.com/api/v3/order?symbol=BTCUSDT&signature=*** failed"
    )


def test_a_second_configure_replaces_the_file(configured, tmp_path):
    logs.configure(logs.LogSettings(logs.Profile.QLIR_INFO, configured))
    logs.configure(logs.LogSettings(logs.Profile.QLIR_INFO, tmp_path / "other"))
    logs.logger("qlir_core.x").warning("once")
    assert not (configured / logs.FILE).exists()
    assert [line["message"] for line in lines(tmp_path / "other")] == ["once"]


def test_off_writes_no_file_and_keeps_the_levels(configured):
    logs.configure(logs.LogSettings(logs.Profile.QLIR_INFO, configured))
    off = config.load({"QLIR_CONFIG": "/dev/null", "QLIR_LOG_DIR": "off"}).logging
    assert not off.file
    logs.configure(off)
    logs.logger("qlir_core.x").warning("nowhere")
    assert not (configured / logs.FILE).exists()
    assert logging.getLogger(logs.QLIR).level == logging.INFO
