"""The metrics of a store on S3 (a moto server on 127.0.0.1) equal those of the same store on disk."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import boto3
import pytest
import s3fs
from moto.server import ThreadedMotoServer

from qlir_core.metrics import StoreCollector, exposition
from qlir_core.series import Series
from qlir_core.storage import Store
from tests.observability.conftest import FRESH, STALE, Observed

pytestmark = pytest.mark.slow


@pytest.fixture
def s3_root(observed: Observed, monkeypatch: pytest.MonkeyPatch, tmp_path) -> Iterator[str]:
    """The observed store copied into a fresh bucket; the AWS chain set by the environment."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    nowhere = tmp_path / "absent"
    for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_REGION"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAQLIRMETRICS00000")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "metrics-secret")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", endpoint)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(nowhere))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(nowhere))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    s3fs.S3FileSystem.clear_instance_cache()
    bucket = f"qlir-{uuid.uuid4().hex[:12]}"
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=bucket)
    for path in observed.data.rglob("*"):
        if path.is_file() and not path.name.startswith("."):
            key = f"data/{path.relative_to(observed.data).as_posix()}"
            client.upload_file(str(path), bucket, key)
    yield f"s3://{bucket}/data"
    s3fs.S3FileSystem.clear_instance_cache()
    server.stop()


def test_metrics_from_s3_equal_those_from_disk(observed, s3_root):
    series = [Series.parse(FRESH), Series.parse(STALE)]

    def text(root: str) -> str:
        return exposition(
            StoreCollector(Store(root), series, observed.market.start, clock=lambda: 1.8e9)
        ).decode()

    local = text(str(observed.data))
    assert 'qlir_days_stored{series="BTCUSDT-1m"} 3.0' in local
    assert text(s3_root) == local
