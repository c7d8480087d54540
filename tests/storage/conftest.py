"""S3 for the storage tests: one moto server (its real HTTP API; moto's in-process mock does not
reach s3fs) on 127.0.0.1 for the session, a fresh bucket per test, and the AWS chain pointed at
it through the environment only, as a deployment would be."""

import logging
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import boto3
import pytest
import s3fs
from moto.server import ThreadedMotoServer

from qlir_core.ingest import SourceMode, Sources, fetch_partition
from qlir_core.series import Series
from qlir_core.sources.archive import ArchiveClient
from qlir_core.sources.rest import RestClient
from qlir_core.storage import PartitionData
from tests.conftest import mirror_days

ACCESS_KEY_ID = "AKIAQLIRTESTKEY00000"
SECRET_ACCESS_KEY = "qlir-SECRET-must-never-leak-7f3c9b1e"


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws_env(
    moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """Dummy credentials and the moto endpoint in the environment, nothing from ~/.aws or an
    instance role; s3fs's instance cache emptied so no client outlives its environment."""
    nowhere = tmp_path_factory.mktemp("aws") / "absent"
    for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_REGION"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_endpoint)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(nowhere))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(nowhere))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    s3fs.S3FileSystem.clear_instance_cache()
    yield moto_endpoint
    s3fs.S3FileSystem.clear_instance_cache()


@pytest.fixture
def s3_client(aws_env: str):  # type: ignore[no-untyped-def]
    """A boto3 client beside s3fs, to create buckets and look at keys independently of qlir."""
    return boto3.client("s3", endpoint_url=aws_env, region_name="us-east-1")


@pytest.fixture
def bucket(s3_client) -> str:  # type: ignore[no-untyped-def]
    name = f"qlir-{uuid.uuid4().hex[:16]}"
    s3_client.create_bucket(Bucket=name)
    return name


@pytest.fixture
def keys(s3_client) -> Callable[[str], list[str]]:  # type: ignore[no-untyped-def]
    """Every key in a bucket, sorted."""

    def list_keys(bucket: str) -> list[str]:
        pages = s3_client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        return sorted(o["Key"] for page in pages for o in page.get("Contents", []))

    return list_keys


@pytest.fixture(scope="session")
def mirror_parts(mirror: Path) -> list[PartitionData]:
    """Every day of the real sample archive, fetched once, ready to publish."""
    now_ms = int(datetime.now(UTC).timestamp() * 1000)
    log = logging.getLogger("tests.storage")
    with RestClient("http://127.0.0.1:9") as rest:
        sources = Sources(SourceMode.ARCHIVE, rest, ArchiveClient(str(mirror)))
        return [
            fetch_partition(
                Series.parse(key), date.fromisoformat(day), sources, now_ms=now_ms, log=log
            )
            for key, day in mirror_days(mirror)
        ]


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class CuttingProxy:
    """A TCP proxy to moto that forwards everything, except that it hangs up on a PUT after
    `limit` bytes of it: an upload that dies mid-way."""

    def __init__(self, upstream: str, limit: int) -> None:
        host, port = upstream.removeprefix("http://").split(":")
        self.upstream = (host, int(port))
        self.limit = limit
        self.cut = 0
        self._server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def close(self) -> None:
        self._server.close()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(client,), daemon=True).start()

    def _handle(self, client: socket.socket) -> None:
        with client, socket.create_connection(self.upstream) as upstream:
            threading.Thread(target=_pump, args=(upstream, client), daemon=True).start()
            sent, is_put = 0, None
            while chunk := _recv(client):
                if is_put is None:
                    is_put = chunk.startswith(b"PUT ")
                if is_put and sent + len(chunk) > self.limit:
                    upstream.sendall(chunk[: self.limit - sent])
                    self.cut += 1
                    return  # both sockets close mid-body
                upstream.sendall(chunk)
                sent += len(chunk)


def _recv(sock: socket.socket) -> bytes:
    try:
        return sock.recv(65536)
    except OSError:
        return b""


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while chunk := source.recv(65536):
            sink.sendall(chunk)
    except OSError:
        pass


@pytest.fixture
def cutting_proxy(aws_env: str) -> Iterator[Callable[[int], CuttingProxy]]:
    proxies: list[CuttingProxy] = []

    def make(limit: int) -> CuttingProxy:
        proxies.append(CuttingProxy(aws_env, limit))
        return proxies[-1]

    yield make
    for proxy in proxies:
        proxy.close()
