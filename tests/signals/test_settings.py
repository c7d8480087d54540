"""The alert webhook setting: read from QLIR_ALERT_WEBHOOK, a bad value is one clear line."""

import pytest

from qlir_core.errors import ConfigError
from qlir_dagster import config


def test_the_webhook_comes_from_the_environment() -> None:
    env = {"QLIR_CONFIG": "/dev/null", "QLIR_ALERT_WEBHOOK": "http://127.0.0.1:9/hook"}
    assert config.load(env).alert_webhook == "http://127.0.0.1:9/hook"
    assert config.load({"QLIR_CONFIG": "/dev/null"}).alert_webhook is None


def test_a_webhook_that_is_not_an_url_is_refused() -> None:
    env = {"QLIR_CONFIG": "/dev/null", "QLIR_ALERT_WEBHOOK": "hooks.example"}
    with pytest.raises(ConfigError) as refused:
        config.load(env)
    assert str(refused.value) == (
        "QLIR_ALERT_WEBHOOK='hooks.example' is invalid: expected an http:// or https:// URL"
    )
