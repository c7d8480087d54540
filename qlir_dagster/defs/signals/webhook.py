"""The alert webhook: each alert as a JSON POST to `QLIR_ALERT_WEBHOOK`, with a timeout and a few
retries. Delivery never fails or stalls a run: a receiver that is down costs at most
ATTEMPTS × TIMEOUT_S plus the pauses, and is a warning in the run log."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import dagster as dg
import httpx

from qlir_core.studies.alerts import Alert

TIMEOUT_S = 3.0
ATTEMPTS = 3
PAUSE_S = 0.5  # before the second attempt; doubled before each later one


class AlertWebhookResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Where alerts are POSTed; no URL: alerts go to the run log and the check only."""

    url: str | None = None
    timeout_s: float = TIMEOUT_S
    attempts: int = ATTEMPTS

    def send(self, alerts: Sequence[Alert], log: logging.Logger | dg.DagsterLogManager) -> int:
        """POST each alert; how many the receiver accepted (2xx)."""
        if not self.url or not alerts:
            return 0
        delivered = 0
        with httpx.Client(timeout=self.timeout_s) as client:
            for alert in alerts:
                delivered += self._post(client, self.url, alert, log)
        return delivered

    def _post(
        self,
        client: httpx.Client,
        url: str,
        alert: Alert,
        log: logging.Logger | dg.DagsterLogManager,
    ) -> bool:
        problem = ""
        for attempt in range(self.attempts):
            if attempt:
                time.sleep(PAUSE_S * 2 ** (attempt - 1))
            try:
                response = client.post(url, json=alert.payload())
            except httpx.HTTPError as e:
                problem = f"{type(e).__name__}: {e}"
                continue
            if response.is_success:
                return True
            problem = f"HTTP {response.status_code}"
            if response.status_code < 500 and response.status_code != 429:
                break  # the receiver refuses this body: sending it again will not help
        log.warning(f"alert webhook: {alert.key} not delivered ({attempt + 1} tries): {problem}")
        return False
