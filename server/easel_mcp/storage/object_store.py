"""Images, sidecars, masks and partials in an S3-compatible bucket (AWS S3, Cloudflare R2, MinIO, Ceph).

`S3ImageStore.from_url("s3://bucket/prefix")` implements the `ImageStore` port (storage/ports.py) with obstore.
Settings, all read from the environment unless passed:

- `EASEL_S3_ENDPOINT`: the endpoint of a non-AWS store (`https://<account>.r2.cloudflarestorage.com`,
  `http://127.0.0.1:9000` for a local MinIO). Requests are path-style (`<endpoint>/<bucket>/<key>`).
- `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` (and `AWS_SESSION_TOKEN`), `AWS_REGION` (or `AWS_DEFAULT_REGION`).
  Without keys obstore falls back to the usual AWS chain (instance or container role).
- Plain `http://` is allowed on a loopback endpoint (a local MinIO, the tests' moto server). Anywhere else it
  needs `EASEL_S3_ALLOW_HTTP=1` (or `allow_http=True`): the bytes would cross the network unencrypted (the
  secret key itself never does, requests are signed).

Guarantees: `put` never overwrites (an S3 conditional write, `If-None-Match: *`, supported by AWS S3, R2 and
MinIO; a store that ignores the header would overwrite); `get` reads the object's size first and refuses one
larger than `max_bytes` before any byte of it is downloaded; every failure of the store (unreachable, refused
credentials, missing bucket) is one `StoreUnavailable` whose message names what to check and never holds a
credential. An object's `path` in results is `url(key)`: `s3://bucket/prefix/key`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import obstore
from obstore.exceptions import (
    AlreadyExistsError,
    PermissionDeniedError,
    PreconditionError,
    UnauthenticatedError,
)
from obstore.store import S3Store

from easel_mcp.errors import ConfigurationError, EaselError, ImageNotFound, PathNotAllowed, WorkspaceError
from easel_mcp.netguard import is_loopback
from easel_mcp.providers.common import redact
from easel_mcp.storage.ports import ImageStore, StoredObject

if TYPE_CHECKING:
    from obstore import ObjectMeta
    from obstore.store import S3Config

log = logging.getLogger(__name__)

_TRUE = {"1", "true", "yes", "on"}


class StoreUnavailable(EaselError):
    """The object store did not do what was asked: unreachable, credentials refused, bucket missing."""


class ObjectExists(WorkspaceError):
    """`put` refused to overwrite: the key already holds an object."""


class ObjectTooLarge(WorkspaceError):
    """The object is larger than the caller's cap; nothing of it was downloaded."""

    def __init__(self, message: str, *, size: int, max_bytes: int) -> None:
        super().__init__(message)
        self.size = size
        self.max_bytes = max_bytes


def check_key(key: str) -> str:
    """`key` if it is a clean relative POSIX path (no `..`, `.`, empty or absolute parts), else PathNotAllowed."""
    parts = key.split("/")
    if (
        not key
        or "\\" in key
        or any(part in {"", ".", ".."} for part in parts)
        or any(ord(ch) < 0x20 or ch == "\x7f" for ch in key)
    ):
        raise PathNotAllowed(f"{key!r} is not a store key: use a relative path like '2026-11-25/red-fox-3f9a.png'")
    return key


def check_prefix(prefix: str) -> str:
    """A listing prefix: empty (everything) or a key-shaped folder path, without a trailing slash."""
    prefix = prefix.strip("/")
    return check_key(prefix) if prefix else ""


def parse_store_url(url: str) -> tuple[str, str]:
    """`s3://bucket/prefix` -> (bucket, prefix); ConfigurationError says what a valid value looks like."""
    parts = urlsplit(url)
    prefix = parts.path.strip("/")
    try:
        if parts.scheme != "s3" or not parts.netloc or parts.query or parts.fragment or "@" in parts.netloc:
            raise ValueError(url)
        check_prefix(prefix)
    except (ValueError, PathNotAllowed):
        shown = repr(url) if "@" not in url else "a URL with credentials in it (use the AWS_* variables)"
        raise ConfigurationError(f"EASEL_STORE_URL must look like s3://bucket/prefix, got {shown}") from None
    return parts.netloc, prefix


def http_allowed(endpoint: str | None, explicit: bool) -> bool:
    """Whether plain http may be used: only to a loopback endpoint, or when the operator asked for it."""
    if endpoint is None:
        return False
    try:
        parts = urlsplit(endpoint)
        hostname = parts.hostname
    except ValueError:
        hostname = None
    if hostname is None or parts.scheme not in {"http", "https"}:
        raise ConfigurationError(f"EASEL_S3_ENDPOINT must be an http(s):// URL, got {endpoint!r}")
    if parts.scheme == "https":
        return False
    if is_loopback(hostname) or explicit:
        return True
    raise ConfigurationError(
        f"EASEL_S3_ENDPOINT {endpoint!r} is plain http on a non-loopback host: use https://, or set "
        "EASEL_S3_ALLOW_HTTP=1 to send images unencrypted on a private network"
    )


class S3ImageStore:
    """The `ImageStore` port on one bucket (and prefix) of an S3-compatible store."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        session_token: str | None = None,
        allow_http: bool = False,
        retries: int = 3,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.endpoint = endpoint
        self._secrets = (access_key_id, secret_access_key, session_token)
        config: S3Config = {}
        if endpoint:
            config["endpoint"] = endpoint
        if region:
            config["region"] = region
        if access_key_id:
            config["access_key_id"] = access_key_id
        if secret_access_key:
            config["secret_access_key"] = secret_access_key
        if session_token:
            config["session_token"] = session_token
        self._store = S3Store(
            bucket,
            prefix=self.prefix or None,
            config=config,
            client_options={"allow_http": http_allowed(endpoint, allow_http), "connect_timeout": "5s"},
            retry_config={"max_retries": retries, "retry_timeout": timedelta(seconds=60)},
        )

    @classmethod
    def from_url(
        cls,
        url: str,
        endpoint: str | None = None,
        *,
        allow_http: bool | None = None,
        retries: int = 3,
        environ: Mapping[str, str] | None = None,
    ) -> S3ImageStore:
        """The store at `s3://bucket/prefix`, with endpoint, credentials and region from the environment."""
        env = os.environ if environ is None else environ
        bucket, prefix = parse_store_url(url)
        if allow_http is None:
            allow_http = env.get("EASEL_S3_ALLOW_HTTP", "").strip().lower() in _TRUE
        return cls(
            bucket,
            prefix,
            endpoint=endpoint or env.get("EASEL_S3_ENDPOINT") or None,
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None,
            access_key_id=env.get("AWS_ACCESS_KEY_ID") or None,
            secret_access_key=env.get("AWS_SECRET_ACCESS_KEY") or None,
            session_token=env.get("AWS_SESSION_TOKEN") or None,
            allow_http=allow_http,
            retries=retries,
        )

    def url(self, key: str = "") -> str:
        path = "/".join(part for part in (self.prefix, check_key(key) if key else "") if part)
        return f"s3://{self.bucket}/{path}"

    def key_for(self, url: str) -> str:
        """The key of an `s3://` URL that `url(key)` gave (a result's `path` passed back); PathNotAllowed otherwise."""
        root = self.url().rstrip("/") + "/"
        if not url.startswith(root):
            raise PathNotAllowed(f"{url!r} is not in the image store {root}")
        return check_key(url[len(root) :])

    def __repr__(self) -> str:
        return f"S3ImageStore({self.url()!r}, endpoint={self.endpoint!r})"

    async def put(self, key: str, data: bytes, content_type: str) -> StoredObject:
        check_key(key)
        try:
            result = await obstore.put_async(
                self._store, key, data, mode="create", attributes={"Content-Type": content_type}
            )
        except (AlreadyExistsError, PreconditionError):
            raise ObjectExists(f"{self.url(key)} already exists and is never overwritten: use a new name") from None
        except (obstore.exceptions.BaseError, OSError) as err:
            raise self._unavailable("store", key, err) from None
        return StoredObject(key=key, size=len(data), etag=result["e_tag"], last_modified=datetime.now(UTC))

    async def head(self, key: str) -> StoredObject | None:
        check_key(key)
        try:
            meta = await obstore.head_async(self._store, key)
        except FileNotFoundError:
            return None
        except (obstore.exceptions.BaseError, OSError) as err:
            raise self._unavailable("read", key, err) from None
        return _stored(meta)

    async def get(self, key: str, max_bytes: int) -> bytes:
        found = await self.head(key)
        if found is None:
            raise ImageNotFound(f"{self.url(key)} does not exist")
        check_size(self.url(key), found.size, max_bytes)
        try:
            result = await obstore.get_async(self._store, key)
            # The answer's headers arrive before its body: a replacement grown past the cap is refused unread.
            check_size(self.url(key), result.meta["size"], max_bytes)
            data = bytes(await result.bytes_async())
        except FileNotFoundError:
            raise ImageNotFound(f"{self.url(key)} does not exist") from None
        except (obstore.exceptions.BaseError, OSError) as err:
            raise self._unavailable("read", key, err) from None
        check_size(self.url(key), len(data), max_bytes)
        return data

    async def list(self, prefix: str = "", *, start_after: str | None = None) -> AsyncIterator[StoredObject]:
        """Every object under `prefix` (whole path segments: `users/al` does not match `users/alice/x`), in key
        order, fetched page by page (S3 answers at most 1000 keys a request)."""
        prefix = check_prefix(prefix)
        stream = obstore.list(self._store, prefix or None, offset=start_after, chunk_size=500)
        while True:
            try:
                chunk = await stream.__anext__()
            except StopAsyncIteration:
                return
            except (obstore.exceptions.BaseError, OSError) as err:
                raise self._unavailable("list", prefix or "/", err) from None
            for meta in chunk:
                yield _stored(meta)

    def _unavailable(self, action: str, key: str, err: BaseException) -> StoreUnavailable:
        where = f"{self.url()} at {self.endpoint or 'AWS S3'}"
        if isinstance(err, PermissionDeniedError | UnauthenticatedError):
            hint = "the store refused the credentials: check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_REGION"
        elif isinstance(err, FileNotFoundError):
            hint = "the bucket was not found: check the bucket in EASEL_STORE_URL and EASEL_S3_ENDPOINT"
        else:
            hint = "check EASEL_S3_ENDPOINT, the network, the credentials and that the bucket exists"
        detail = redact(str(err).split("\n", 1)[0], self._secrets, limit=300)
        log.warning("object store failure on %s %s: %s", action, key, detail)
        return StoreUnavailable(f"could not {action} {key!r} in {where}: {hint} ({type(err).__name__}: {detail})")


def check_size(url: str, size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise ObjectTooLarge(
            f"{url} is {size} bytes, more than the {max_bytes}-byte limit; it was not downloaded",
            size=size,
            max_bytes=max_bytes,
        )


def _stored(meta: ObjectMeta) -> StoredObject:
    return StoredObject(key=meta["path"], size=meta["size"], etag=meta["e_tag"], last_modified=meta["last_modified"])


if TYPE_CHECKING:

    def _implements_the_port(store: S3ImageStore) -> ImageStore:
        return store
