"""The alert webhook against a real HTTP receiver on 127.0.0.1: delivery, retry after a 5xx, and
a receiver that is down (a warning, never an exception)."""

from __future__ import annotations

import logging
import socket

import pandas as pd
import pytest

from qlir_core.studies.alerts import Alert, AlertKind
from qlir_dagster.defs.signals.webhook import AlertWebhookResource
from tests.signals.conftest import ETH, Receiver


def _alert(text: str = "ETHUSDT-1m SMA14 up leg has lasted 42 candles: top 1 %") -> Alert:
    start = pd.Timestamp("2024-01-02 10:00", tz="UTC")
    return Alert(
        AlertKind.TAIL,
        ETH,
        text,
        (f"ETHUSDT-1m|sma14|up|{start.isoformat()}|tail_1pct",),
        {"window": 14, "direction": "up", "length": 42, "level": "tail_1pct"},
    )


def test_an_alert_is_posted_as_json(receiver: Receiver) -> None:
    sent = AlertWebhookResource(url=receiver.url).send([_alert()], logging.getLogger("t"))
    assert sent == 1
    (body,) = receiver.bodies
    assert body["text"] == "ETHUSDT-1m SMA14 up leg has lasted 42 candles: top 1 %"
    assert body["series"] == "ETHUSDT-1m"
    assert body["kind"] == "tail"
    assert (body["window"], body["length"], body["level"]) == (14, 42, "tail_1pct")


def test_a_5xx_is_retried(receiver: Receiver) -> None:
    receiver.fail_next = 2
    sent = AlertWebhookResource(url=receiver.url).send([_alert()], logging.getLogger("t"))
    assert sent == 1
    assert receiver.requests == 3
    assert len(receiver.bodies) == 1


def test_a_receiver_that_is_down_is_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    hook = AlertWebhookResource(url=f"http://127.0.0.1:{port}/alerts", timeout_s=0.5)
    with caplog.at_level(logging.WARNING):
        assert hook.send([_alert()], logging.getLogger("t")) == 0
    (message,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "not delivered (3 tries): ConnectError" in message


def test_no_url_sends_nothing(receiver: Receiver) -> None:
    assert AlertWebhookResource().send([_alert()], logging.getLogger("t")) == 0
    assert receiver.requests == 0
