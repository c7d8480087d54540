"""What the storage layer needs to know about S3: client settings that fail within seconds, a
preflight that the bucket exists, and the translation of botocore/s3fs errors into qlir's.

Credentials and the endpoint come from the standard AWS chain only: the environment, the shared
profile files, an instance or container role, and `AWS_ENDPOINT_URL_S3` for MinIO or moto (botocore
reads it itself, and s3fs passes it through). qlir never reads, stores or prints a secret: its
messages name the root URL, the bucket and the endpoint, nothing else.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cache
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from qlir_core.errors import ConfigError, NetworkError, QlirError

PROTOCOLS = frozenset({"s3", "s3a"})

# Connections per client: a store's scan keeps this many GETs in flight (storage._FETCH_BATCH),
# which botocore's default pool of 10 would queue.
POOL_CONNECTIONS = 32
# botocore waits 60 s to connect and makes 5 attempts by default ("legacy" retry mode), so a
# wrong endpoint means a minute of silence. Three attempts in all (the first and two retries,
# backing off at most 1 s then 2 s) fail a refused connection in about 2 s and still ride out a
# dropped connection or a 503 SlowDown. `read_timeout` is per socket read, not per object.
CLIENT_CONFIG: dict[str, Any] = {
    "connect_timeout": 5,
    "read_timeout": 30,
    "retries": {"total_max_attempts": 3, "mode": "standard"},
    "max_pool_connections": POOL_CONNECTIONS,
}

_DENIED = frozenset(
    {
        "AccessDenied",
        "AllAccessDisabled",
        "AccountProblem",
        "ExpiredToken",
        "InvalidAccessKeyId",
        "InvalidToken",
        "RequestTimeTooSkewed",
        "SignatureDoesNotMatch",
        "403",
    }
)


_Kinds = tuple[type[BaseException], ...]


@cache
def _kinds() -> tuple[_Kinds, _Kinds, type[BaseException]]:
    """botocore's errors (no credentials, unreachable) and its ClientError, imported on first
    use: loading the settings does not load botocore."""
    from botocore.exceptions import (
        ClientError,
        ConnectionClosedError,
        ConnectTimeoutError,
        CredentialRetrievalError,
        EndpointConnectionError,
        NoCredentialsError,
        PartialCredentialsError,
        ReadTimeoutError,
    )
    from fsspec.exceptions import FSTimeoutError

    no_credentials = (NoCredentialsError, PartialCredentialsError, CredentialRetrievalError)
    unreachable = (
        EndpointConnectionError,
        ConnectTimeoutError,
        ReadTimeoutError,
        ConnectionClosedError,
        FSTimeoutError,
    )
    return no_credentials, unreachable, ClientError


def is_s3(protocol: str | tuple[str, ...]) -> bool:
    names = (protocol,) if isinstance(protocol, str) else protocol
    return any(name in PROTOCOLS for name in names)


def refuse_credentials(url: str, name: str = "the storage root") -> None:
    """ConfigError when `url` has credentials typed into it (`s3://KEY:SECRET@bucket/prefix`),
    saying where they belong; the message never repeats any part of the URL. A secret may
    hold a `/`, so any `@` or `:` in an S3 bucket's place counts (bucket names have neither)."""
    scheme, found, rest = url.partition("://")
    if not found:
        return  # a local path
    authority = rest.split("/", 1)[0]
    typed = "@" in authority or (scheme.lower() in PROTOCOLS and ":" in authority)
    if typed:
        raise ConfigError(
            f"{name}: the {scheme}:// URL has credentials in it (user:secret@); remove them: "
            "S3 credentials come from the standard AWS chain only (AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or an instance role)"
        )


def options(storage_options: Mapping[str, Any]) -> dict[str, Any]:
    """`storage_options` for s3fs with qlir's client settings under whatever the caller set."""
    merged = dict(storage_options)
    merged["config_kwargs"] = {**CLIENT_CONFIG, **merged.get("config_kwargs", {})}
    return merged


def check_prefix(fs: Any, path: str) -> None:
    """Raise (untranslated) unless the bucket of `path` ("bucket/key…") exists and the credentials
    may list under it. One ListObjectsV2 call: unlike HeadBucket it also passes where a policy
    allows listing only below a prefix."""
    bucket, _, key = path.partition("/")
    prefix = f"{key.strip('/')}/" if key.strip("/") else ""
    fs.call_s3("list_objects_v2", Bucket=bucket, Prefix=prefix, MaxKeys=1)


def missing_bucket(error: BaseException) -> bool:
    """True if S3 answered NoSuchBucket (s3fs raises it as a FileNotFoundError, like a missing
    key, so callers that treat "not found" as "never stored" must ask this first)."""
    return _client_code(error) == "NoSuchBucket"


def translate(error: BaseException, url: str, fs: Any) -> QlirError | None:
    """The qlir error for a storage failure under `url` (an `s3://bucket/…` URL), or None when
    the error is not one of S3's configuration or reachability failures."""
    bucket = urlsplit(url).netloc
    code = _client_code(error)
    if code == "NoSuchBucket":
        return ConfigError(f"{url}: the bucket {bucket!r} does not exist at {endpoint(fs)}")
    if code in _DENIED:
        return ConfigError(
            f"{url}: S3 at {endpoint(fs)} refused the credentials for bucket "
            f"{bucket!r} ({code}); check the AWS credentials and their permissions"
        )
    no_credentials, unreachable_kinds, _ = _kinds()
    if _find(error, no_credentials) is not None:
        return ConfigError(
            f"{url}: no AWS credentials found; set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or run with an instance role"
        )
    unreachable = _find(error, unreachable_kinds)
    if unreachable is not None:
        return NetworkError(
            f"{url}: cannot reach S3 at {endpoint(fs)}, or lost the connection "
            f"({type(unreachable).__name__}); check AWS_ENDPOINT_URL_S3 and the network"
        )
    return None


def endpoint(fs: Any) -> str:
    """The endpoint the client talks to, for messages (without any user:password part)."""
    client = getattr(fs, "_s3", None)
    url = (
        getattr(getattr(client, "meta", None), "endpoint_url", None)
        or getattr(fs, "endpoint_url", None)
        or os.environ.get("AWS_ENDPOINT_URL_S3")
        or os.environ.get("AWS_ENDPOINT_URL")
    )
    if not url:
        return "the default AWS S3 endpoint"
    parts = urlsplit(str(url))
    return urlunsplit(parts._replace(netloc=(parts.hostname or "") + _port(parts.port)))


def _port(port: int | None) -> str:
    return "" if port is None else f":{port}"


def _client_code(error: BaseException) -> str | None:
    found = _find(error, (_kinds()[2],))
    if found is None:
        return None
    response: dict[str, Any] = getattr(found, "response", {}) or {}
    code = response.get("Error", {}).get("Code")
    return None if code is None else str(code)


def _find(error: BaseException, kinds: tuple[type[BaseException], ...]) -> BaseException | None:
    """The first exception of `kinds` in `error`'s chain (s3fs puts botocore's as the cause)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, kinds):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None
