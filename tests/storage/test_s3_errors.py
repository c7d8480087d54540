"""A root that cannot work fails within seconds with a message naming it, writes nothing, and
no secret ever shows up in a message, a repr or a log line."""

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date

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
from qlir_core.storage import Store
from tests.storage.conftest import SECRET_ACCESS_KEY

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


def every_operation(store: Store, part) -> list[Callable[[], object]]:
    return [
        store.check,
        lambda: store.publish(part),
        lambda: store.read_candles(SERIES, DAY),
        lambda: store.read_manifest(SERIES, DAY),
        lambda: store.stored_days(SERIES),
        lambda: store.scan_candles(SERIES),
    ]


def test_a_missing_bucket_is_named_and_never_created(aws_env, s3_client, mirror_parts):
    store = Store("s3://qlir-no-such-bucket/prefix")
    for operation in every_operation(store, mirror_parts[0]):
        with fails_fast(ConfigError, "'qlir-no-such-bucket' does not exist", aws_env):
            operation()
    # s3fs's makedirs would have created it; nothing must.
    names = [b["Name"] for b in s3_client.list_buckets()["Buckets"]]
    assert "qlir-no-such-bucket" not in names


def test_missing_credentials_say_so(bucket, keys, monkeypatch, mirror_parts):
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
    aws_env, monkeypatch, closed_port, mirror_parts
):
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
def test_every_mapped_botocore_error_becomes_a_qlir_error(error, kind, fragment):
    """As s3fs raises them: ClientErrors turned into OSErrors with the original as the cause."""
    raised = translate_boto_error(error)
    translated = s3.translate(raised, "s3://b/p", fs=None)
    assert isinstance(translated, kind)
    assert fragment in str(translated)
    assert str(translated).startswith("s3://b/p: ")


def test_other_errors_pass_through_untranslated():
    raised = translate_boto_error(ClientError({"Error": {"Code": "NoSuchKey"}}, "GetObject"))
    assert s3.translate(raised, "s3://b/p", fs=None) is None
    assert s3.translate(ValueError("x"), "s3://b/p", fs=None) is None


def test_no_secret_in_messages_reprs_or_logs(
    bucket, aws_env, monkeypatch, closed_port, caplog, capsys, mirror_parts
):
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
