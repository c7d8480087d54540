"""A root that cannot work fails within seconds with a message naming it, writes nothing, and
no secret ever shows up in a message, a repr or a log line; a root with credentials typed into
it is refused before anything else."""

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
    ReadTimeoutError,
)
from s3fs.errors import translate_boto_error

from qlir_core import s3
from qlir_core.errors import ConfigError, NetworkError, QlirError
from qlir_core.series import Series
from qlir_core.storage import PartitionData, Store
from qlir_dagster import config
from tests.storage.conftest import ACCESS_KEY_ID, SECRET_ACCESS_KEY

FEW_SECONDS = 8.0
SERIES = Series.parse("BTCUSDT-1h")
DAY = date(2022, 9, 7)


@contextmanager
def fails_fast(kind: type[QlirError], *fragments: str) -> Iterator[None]:
    started = time.perf_counter()
    with pytest.raises(kind) as caught:
        yield
    elapsed = time.perf_counter() - started
    assert elapsed < FEW_SECONDS, f"took {elapsed:.1f} s: {caught.value}"
    for fragment in fragments:
        assert fragment in str(caught.value)


def every_operation(store: Store, part: PartitionData) -> list[Callable[[], object]]:
    return [
        store.check,
        lambda: store.publish(part),
        lambda: store.read_candles(SERIES, DAY),
        lambda: store.read_manifest(SERIES, DAY),
        lambda: store.stored_days(SERIES),
        lambda: store.scan_candles(SERIES),
    ]


def test_a_missing_bucket_is_named_and_never_created(
    aws_env: str, s3_client: Any, mirror_parts: list[PartitionData]
) -> None:
    store = Store("s3://qlir-no-such-bucket/prefix")
    for operation in every_operation(store, mirror_parts[0]):
        with fails_fast(ConfigError, "'qlir-no-such-bucket' does not exist", aws_env):
            operation()
    # s3fs's makedirs would have created it; nothing must.
    names = [b["Name"] for b in s3_client.list_buckets()["Buckets"]]
    assert "qlir-no-such-bucket" not in names


def test_missing_credentials_say_so(
    bucket: str,
    keys: Callable[[str], list[str]],
    monkeypatch: pytest.MonkeyPatch,
    mirror_parts: list[PartitionData],
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    store = Store(f"s3://{bucket}/prefix")
    for operation in every_operation(store, mirror_parts[0]):
        with fails_fast(ConfigError, f"s3://{bucket}/prefix", "no AWS credentials"):
            operation()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")  # only to look: nothing was written
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    assert keys(bucket) == []


def test_an_unreachable_endpoint_fails_within_seconds(
    aws_env: str,
    monkeypatch: pytest.MonkeyPatch,
    closed_port: int,
    mirror_parts: list[PartitionData],
) -> None:
    endpoint = f"http://127.0.0.1:{closed_port}"
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", endpoint)
    store = Store("s3://qlir-anything/prefix")
    for operation in every_operation(store, mirror_parts[0]):
        with fails_fast(
            NetworkError, "s3://qlir-anything/prefix", f"cannot reach S3 at {endpoint}"
        ):
            operation()


@pytest.mark.parametrize(
    ("error", "kind", "fragment"),
    [
        (ClientError({"Error": {"Code": "NoSuchBucket"}}, "GetObject"), ConfigError, "not exist"),
        (ClientError({"Error": {"Code": "AccessDenied"}}, "PutObject"), ConfigError, "refused"),
        (ClientError({"Error": {"Code": "InvalidAccessKeyId"}}, "Get"), ConfigError, "refused"),
        (ClientError({"Error": {"Code": "SignatureDoesNotMatch"}}, "Get"), ConfigError, "refused"),
        (ClientError({"Error": {"Code": "ExpiredToken"}}, "Get"), ConfigError, "refused"),
        (NoCredentialsError(), ConfigError, "no AWS credentials"),
        (PartialCredentialsError(provider="env", cred_var="x"), ConfigError, "no AWS credentials"),
        (EndpointConnectionError(endpoint_url="http://h"), NetworkError, "cannot reach"),
        (ConnectTimeoutError(endpoint_url="http://h"), NetworkError, "cannot reach"),
        (ReadTimeoutError(endpoint_url="http://h"), NetworkError, "cannot reach"),
    ],
)
def test_every_mapped_botocore_error_becomes_a_qlir_error(
    error: Exception, kind: type[QlirError], fragment: str
) -> None:
    """As s3fs raises them: ClientErrors turned into OSErrors with the original as the cause."""
    raised = translate_boto_error(error)
    translated = s3.translate(raised, "s3://b/p", fs=None)
    assert isinstance(translated, kind)
    assert fragment in str(translated)
    assert str(translated).startswith("s3://b/p: ")


def test_other_errors_pass_through_untranslated() -> None:
    raised = translate_boto_error(ClientError({"Error": {"Code": "NoSuchKey"}}, "GetObject"))
    assert s3.translate(raised, "s3://b/p", fs=None) is None
    assert s3.translate(ValueError("x"), "s3://b/p", fs=None) is None


def test_no_secret_in_messages_reprs_or_logs(
    bucket: str,
    aws_env: str,
    monkeypatch: pytest.MonkeyPatch,
    closed_port: int,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    mirror_parts: list[PartitionData],
) -> None:
    caplog.set_level(logging.DEBUG)  # botocore and s3fs log requests at DEBUG
    seen: list[str] = []
    store = Store(f"s3://{bucket}/prefix")
    store.check()
    for part in mirror_parts[:2]:
        store.publish(part)
        store.read_candles(part.series, part.day)
        store.scan_candles(part.series)
    explicit = Store(f"s3://{bucket}/prefix", key="AKIAEXPLICIT", secret=SECRET_ACCESS_KEY)
    explicit.check()
    seen += [repr(store), str(store.root), repr(store.root), repr(explicit)]
    seen += [repr(explicit.root), str(explicit.root), repr(explicit.candles_path(SERIES, DAY))]

    failing = [Store("s3://qlir-no-such-bucket/prefix")]
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{closed_port}")
    failing.append(Store("s3://qlir-no-such-bucket/other", skip_instance_cache=True))
    for bad in failing:
        with pytest.raises(QlirError) as caught:
            bad.publish(mirror_parts[0])
        chain: BaseException | None = caught.value
        while chain is not None:
            seen += [str(chain), repr(chain)]
            chain = chain.__cause__ or chain.__context__

    captured = capsys.readouterr()
    seen += [captured.out, captured.err, caplog.text]
    seen += [str(r.args) for r in caplog.records]
    assert len(caplog.records) > 50  # the debug logs really were captured
    leaks = [text for text in seen if SECRET_ACCESS_KEY in text]
    assert leaks == []


# A secret may hold "/" and "+" (AWS's do): the whole of it must stay out of every message.
TYPED_IN = [
    f"s3://{ACCESS_KEY_ID}:{SECRET_ACCESS_KEY}@qlir-bucket/prefix",
    f"s3://{ACCESS_KEY_ID}:{SECRET_ACCESS_KEY}/x+y@qlir-bucket/prefix",
    f"s3a://{ACCESS_KEY_ID}:{SECRET_ACCESS_KEY}@qlir-bucket",
    f"s3://{SECRET_ACCESS_KEY}@qlir-bucket/prefix",
    f"https://user:{SECRET_ACCESS_KEY}@storage.example/qlir",
]


@pytest.mark.parametrize("root", TYPED_IN)
def test_a_root_with_credentials_in_it_is_refused_at_settings_load_without_the_secret(
    root: str, tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    toml = tmp_path / "qlir.toml"
    toml.write_text(f'data_root = "{root}"\n')
    seen: list[str] = []
    for env in ({"QLIR_CONFIG": "/dev/null", "QLIR_DATA_ROOT": root}, {"QLIR_CONFIG": str(toml)}):
        with pytest.raises(ConfigError) as caught:
            config.load(env)
        message = str(caught.value)
        assert message.startswith("QLIR_DATA_ROOT (data_root): ")
        assert "credentials in it" in message
        assert "AWS chain" in message
        assert caught.value.__cause__ is None
        seen += [message, repr(caught.value), str(caught.value.__context__)]
    with pytest.raises(ConfigError, match="credentials in it") as refused:
        Store(root)  # the storage layer refuses it too, whoever builds it
    seen += [str(refused.value), repr(refused.value)]
    captured = capsys.readouterr()
    seen += [captured.out, captured.err, caplog.text]
    assert [text for text in seen if SECRET_ACCESS_KEY in text] == []


@pytest.mark.parametrize(
    "root", ["s3://qlir-bucket/prefix", "s3://qlir-bucket/a@b:c", "./data", "/srv/qlir@2/data"]
)
def test_a_root_without_credentials_passes(root: str) -> None:
    settings = config.load({"QLIR_CONFIG": "/dev/null", "QLIR_DATA_ROOT": root})
    assert settings.data_root == root
    assert repr(Store(root)).startswith("Store(")
