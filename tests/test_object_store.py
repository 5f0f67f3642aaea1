"""The S3 image store and its spool, against moto's S3 server over real HTTP on loopback."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import anyio
import pytest

from easel_mcp.errors import ConfigurationError, ImageNotFound, PathNotAllowed
from easel_mcp.storage.object_store import ObjectExists, ObjectTooLarge, S3ImageStore, StoreUnavailable
from easel_mcp.storage.ports import ImageStore, StoredObject
from easel_mcp.storage.spool import SpooledImageStore
from tests.infra.s3 import S3Server
from tests.infra.tcp_proxy import TcpProxy

pytestmark = pytest.mark.anyio

SECRET = "wJalrXUtnFEMI-do-not-leak-7f3a9c"
ACCESS_KEY = "AKIAEASELTESTKEY0001"
PNG = b"\x89PNG\r\n\x1a\n" + b"fox" * 100


def _env(server: S3Server, endpoint: str | None = None) -> dict[str, str]:
    env = {**server.env(), "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_ACCESS_KEY_ID": ACCESS_KEY}
    if endpoint:
        env["EASEL_S3_ENDPOINT"] = endpoint
    return env


@pytest.fixture
def bucket(s3_server: S3Server) -> str:
    return s3_server.bucket()


@pytest.fixture
def store(s3_server: S3Server, bucket: str) -> S3ImageStore:
    return S3ImageStore.from_url(f"s3://{bucket}/team/ws", environ=_env(s3_server))


@pytest.fixture
async def proxy(s3_server: S3Server) -> AsyncIterator[TcpProxy]:
    parts = urlsplit(s3_server.endpoint)
    assert parts.hostname and parts.port
    forwarder = await TcpProxy(parts.hostname, parts.port).start()
    yield forwarder
    await forwarder.stop()


@pytest.fixture
def proxied(s3_server: S3Server, bucket: str, proxy: TcpProxy) -> S3ImageStore:
    """The store reached through `proxy` (one retry, so an outage is reported at once)."""
    return S3ImageStore.from_url(f"s3://{bucket}/team/ws", environ=_env(s3_server, proxy.endpoint), retries=1)


async def _keys(store: ImageStore, prefix: str = "", start_after: str | None = None) -> list[str]:
    return [found.key async for found in store.list(prefix, start_after=start_after)]


async def test_round_trip_under_the_url_prefix(s3_server: S3Server, bucket: str, store: S3ImageStore) -> None:
    stored = await store.put("2026-11-25/red-fox-3f9a0c12be45.png", PNG, "image/png")
    assert (stored.key, stored.size, stored.spooled) == ("2026-11-25/red-fox-3f9a0c12be45.png", len(PNG), False)
    assert stored.etag
    assert store.url(stored.key) == f"s3://{bucket}/team/ws/2026-11-25/red-fox-3f9a0c12be45.png"
    assert store.key_for(store.url(stored.key)) == stored.key
    for elsewhere in (f"s3://{bucket}/team/other/a.png", f"s3://{bucket}/team/ws/../x.png", "/tmp/a.png"):
        with pytest.raises(PathNotAllowed):
            store.key_for(elsewhere)
    assert await store.get(stored.key, max_bytes=len(PNG)) == PNG
    head = await store.head(stored.key)
    assert head is not None and (head.key, head.size, head.etag) == (stored.key, len(PNG), stored.etag)
    assert await store.head("2026-11-25/nothing.png") is None
    with pytest.raises(ImageNotFound):
        await store.get("2026-11-25/nothing.png", max_bytes=100)
    root = S3ImageStore.from_url(f"s3://{bucket}", environ=_env(s3_server))
    assert await _keys(root) == ["team/ws/2026-11-25/red-fox-3f9a0c12be45.png"]  # the prefix is in the bucket


async def test_put_never_overwrites(store: S3ImageStore) -> None:
    await store.put("a/one.png", PNG, "image/png")
    with pytest.raises(ObjectExists, match="never overwritten"):
        await store.put("a/one.png", b"other bytes", "image/png")
    assert await store.get("a/one.png", max_bytes=len(PNG)) == PNG


async def test_listing_walks_every_page_and_keeps_user_prefixes_apart(store: S3ImageStore) -> None:
    limiter = anyio.CapacityLimiter(32)

    async def put(key: str) -> None:
        async with limiter:
            await store.put(key, b"x", "image/png")

    async with anyio.create_task_group() as tg:
        for i in range(1001):  # S3 answers at most 1000 keys per request
            tg.start_soon(put, f"users/alice/2026-11-25/img-{i:04d}.png")
        for key in ("users/alice2/2026-11-25/b.png", "users/bob/2026-11-25/c.png"):
            tg.start_soon(put, key)
    alice = await _keys(store, "users/alice")
    assert len(alice) == 1001 and alice == sorted(alice)
    assert all(key.startswith("users/alice/") for key in alice)
    assert await _keys(store, "users/alice2/") == ["users/alice2/2026-11-25/b.png"]
    assert await _keys(store, "users/bob") == ["users/bob/2026-11-25/c.png"]
    after = await _keys(store, "users/alice", start_after="users/alice/2026-11-25/img-0998.png")
    assert after == ["users/alice/2026-11-25/img-0999.png", "users/alice/2026-11-25/img-1000.png"]


async def test_too_large_is_refused_before_download(
    store: S3ImageStore, proxied: S3ImageStore, proxy: TcpProxy
) -> None:
    big = bytes(8 * 1024 * 1024)
    await store.put("big/huge.png", big, "image/png")
    before = proxy.downstream_bytes
    with pytest.raises(ObjectTooLarge, match="8388608 bytes, more than the 1048576-byte limit; it was not downloaded"):
        await proxied.get("big/huge.png", max_bytes=1024 * 1024)
    assert proxy.upstream_log.startswith(b"HEAD /") and b"GET /" not in proxy.upstream_log  # never asked for it
    assert proxy.downstream_bytes - before < 64 * 1024  # the HEAD answer only
    assert await proxied.get("big/huge.png", max_bytes=len(big)) == big  # the proxy does see a download
    assert b"GET /" in proxy.upstream_log and proxy.downstream_bytes - before > len(big)


async def test_bad_keys_and_settings_are_refused(bucket: str) -> None:
    store = S3ImageStore(bucket, endpoint="http://127.0.0.1:9")
    for key in ("", "/abs.png", "a/../b.png", "a//b.png", "./a.png", "a\\b.png", "a/\nb.png"):
        with pytest.raises(PathNotAllowed):
            await store.put(key, PNG, "image/png")
    for url in ("https://bucket/x", "s3://", "s3://bucket/../x", "s3://key:secret@bucket/x"):
        with pytest.raises(ConfigurationError, match="s3://bucket/prefix") as refused:
            S3ImageStore.from_url(url, environ={})
        assert "secret" not in str(refused.value)
    with pytest.raises(ConfigurationError, match="EASEL_S3_ALLOW_HTTP=1"):
        S3ImageStore.from_url("s3://b", environ={"EASEL_S3_ENDPOINT": "http://minio.internal:9000"})
    S3ImageStore.from_url(
        "s3://b", environ={"EASEL_S3_ENDPOINT": "http://minio.internal:9000", "EASEL_S3_ALLOW_HTTP": "1"}
    )
    S3ImageStore.from_url("s3://b", environ={"EASEL_S3_ENDPOINT": "https://acct.r2.cloudflarestorage.com"})
    for endpoint in ("ftp://127.0.0.1", "http://[::1", "127.0.0.1:9000"):
        with pytest.raises(ConfigurationError, match="must be an http"):
            S3ImageStore.from_url("s3://b", environ={"EASEL_S3_ENDPOINT": endpoint})


async def test_failures_name_what_to_check_and_never_the_credentials(
    s3_server: S3Server, proxied: S3ImageStore, proxy: TcpProxy, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    missing = S3ImageStore.from_url("s3://no-such-bucket-easel/x", environ=_env(s3_server), retries=0)
    with pytest.raises(StoreUnavailable, match="bucket was not found") as not_found:
        await missing.put("a.png", PNG, "image/png")
    await proxy.stop()
    with pytest.raises(StoreUnavailable, match="check EASEL_S3_ENDPOINT") as unreachable:
        await proxied.put("a.png", PNG, "image/png")
    with pytest.raises(StoreUnavailable):
        await proxied.head("a.png")
    with pytest.raises(StoreUnavailable):
        await _keys(proxied)
    texts = [str(not_found.value), str(unreachable.value), repr(proxied), caplog.text]
    assert all(SECRET not in text and ACCESS_KEY not in text for text in texts)
    assert proxy.endpoint in str(unreachable.value)


async def test_spool_keeps_a_put_while_the_store_is_away_and_flush_uploads_it(
    proxied: S3ImageStore, store: S3ImageStore, proxy: TcpProxy, tmp_path: Path
) -> None:
    spooled = SpooledImageStore(proxied, tmp_path / "spool")
    await spooled.put("2026-11-25/first.png", b"first", "image/png")  # the store is up: straight through
    await proxy.stop()
    result = await spooled.put("2026-11-25/paid.png", PNG, "image/png")
    assert (result.spooled, result.size) == (True, len(PNG))
    later = await spooled.put("2026-11-25/later.png", b"later", "image/webp")
    assert later.spooled and spooled.pending() == 2
    assert await spooled.get("2026-11-25/paid.png", max_bytes=len(PNG)) == PNG  # readable meanwhile
    head = await spooled.head("2026-11-25/paid.png")
    assert head is not None and head.spooled and head.size == len(PNG)
    with pytest.raises(ObjectTooLarge):
        await spooled.get("2026-11-25/paid.png", max_bytes=10)
    with pytest.raises(ObjectExists):  # no-clobber holds for the spool too
        await spooled.put("2026-11-25/paid.png", b"again", "image/png")
    flushed = await spooled.flush()  # still away: nothing is lost
    assert (
        (flushed.uploaded, flushed.remaining) == ([], 2) and flushed.error and "StoreUnavailable" not in flushed.error
    )

    await proxy.start()  # the store is back, on the same endpoint
    listed = [(found.key, found.spooled) async for found in spooled.list("2026-11-25")]
    assert listed == [("2026-11-25/first.png", False), ("2026-11-25/later.png", True), ("2026-11-25/paid.png", True)]
    assert await _keys(spooled, "2026-11-25", start_after="2026-11-25/later.png") == ["2026-11-25/paid.png"]
    flushed = await spooled.flush()
    assert flushed.uploaded == ["2026-11-25/paid.png", "2026-11-25/later.png"]  # oldest first
    assert (flushed.remaining, spooled.pending()) == (0, 0)
    assert [p.name for p in (tmp_path / "spool").iterdir()] == []
    assert await store.get("2026-11-25/paid.png", max_bytes=len(PNG)) == PNG
    head = await spooled.head("2026-11-25/paid.png")
    assert head is not None and not head.spooled
    assert await _keys(spooled, "2026-11-25") == ["2026-11-25/first.png", "2026-11-25/later.png", "2026-11-25/paid.png"]


async def test_flush_after_a_crash_and_a_conflict(
    proxied: S3ImageStore, store: S3ImageStore, proxy: TcpProxy, tmp_path: Path
) -> None:
    spooled = SpooledImageStore(proxied, tmp_path / "spool")
    await proxy.stop()
    await spooled.put("x/uploaded-before-crash.png", PNG, "image/png")
    await spooled.put("x/taken.png", PNG, "image/png")
    damaged = tmp_path / "spool" / ("0" * 64)
    damaged.mkdir()
    (damaged / "entry.json").write_text("{not json")
    await proxy.start()
    await store.put("x/uploaded-before-crash.png", PNG, "image/png")  # same bytes: the upload had happened
    await store.put("x/taken.png", b"someone else's", "image/png")  # other bytes: keep the paid image
    flushed = await spooled.flush()
    assert flushed.uploaded == ["x/uploaded-before-crash.png"]
    assert flushed.remaining == 2 and flushed.error and "holds other bytes" in flushed.error
    assert await spooled.get("x/taken.png", max_bytes=len(PNG)) == PNG
    assert damaged.exists()  # a damaged entry is skipped (it counts as waiting), kept for a person


async def test_keep_flushing_uploads_once_the_store_is_back(
    proxied: S3ImageStore, store: S3ImageStore, proxy: TcpProxy, tmp_path: Path
) -> None:
    spooled = SpooledImageStore(proxied, tmp_path / "spool")
    await proxy.stop()
    assert (await spooled.put("k/paid.png", PNG, "image/png")).spooled
    async with anyio.create_task_group() as tg:
        tg.start_soon(spooled.keep_flushing, 0.05)
        await proxy.start()
        with anyio.fail_after(60):  # an event wait; the bound only stops a hung suite (typical: < 0.5 s)
            await spooled.wait_drained()
        tg.cancel_scope.cancel()
    assert await store.get("k/paid.png", max_bytes=len(PNG)) == PNG


async def test_a_cancelled_call_still_keeps_the_paid_image(
    proxied: S3ImageStore, store: S3ImageStore, proxy: TcpProxy, tmp_path: Path
) -> None:
    spooled = SpooledImageStore(proxied, tmp_path / "spool")
    proxy.gate.clear()
    async with anyio.create_task_group() as tg:
        tg.start_soon(spooled.put, "c/paid.png", PNG, "image/png")
        await proxy.held.wait()  # the upload is in flight
        tg.cancel_scope.cancel()  # the agent cancels the call...
        proxy.cut()  # ...and the store goes away: the upload fails after the cancellation
    assert spooled.pending() == 1
    assert await spooled.get("c/paid.png", max_bytes=len(PNG)) == PNG
    await proxy.start()
    assert (await spooled.flush()).uploaded == ["c/paid.png"]
    assert await store.get("c/paid.png", max_bytes=len(PNG)) == PNG


def test_the_adapters_satisfy_the_port(store: S3ImageStore, tmp_path: Path) -> None:
    ports: list[ImageStore] = [store, SpooledImageStore(store, tmp_path / "spool")]
    assert all(port.url("a.png").endswith("/team/ws/a.png") for port in ports)
    assert StoredObject.__dataclass_params__.frozen  # type: ignore[attr-defined]
