"""EASEL_STORE_URL: images, sidecars, masks and partials in an S3-compatible store (moto's server over real HTTP),
the workspace folder as each replica's cache, and a local spool for what the store cannot take at the moment."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from easel_mcp.app import build_server
from easel_mcp.errors import ConfigurationError, ImageNotFound, PathNotAllowed
from easel_mcp.schemas.sidecar import Sidecar
from easel_mcp.settings import Settings
from easel_mcp.storage.object_store import S3ImageStore, StoreUnavailable
from easel_mcp.storage.spool import SpooledImageStore
from easel_mcp.storage.stored_workspace import StoredWorkspace
from easel_mcp.studio import open_studio
from easel_mcp.workspace import Workspace, user_folder
from tests.helpers import error_text, png, structured
from tests.infra.easel_http import serving
from tests.infra.oauth_issuer import OAuthIssuer
from tests.infra.s3 import CREDENTIALS, S3Server
from tests.infra.tcp_proxy import TcpProxy

pytestmark = pytest.mark.anyio


@pytest.fixture
def bucket(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> str:
    for name, value in CREDENTIALS.items():  # Easel reads the standard AWS variables
        monkeypatch.setenv(name, value)
    return s3_server.bucket()


def _settings(folder: Path, bucket: str, endpoint: str, **extra: Any) -> Settings:
    folder.mkdir(parents=True, exist_ok=True)
    return Settings(  # type: ignore[call-arg]
        workspace=folder, provider="offline", store_url=f"s3://{bucket}/team", s3_endpoint=endpoint, **extra
    )


async def _keys(s3_server: S3Server, bucket: str) -> list[str]:
    store = S3ImageStore.from_url(f"s3://{bucket}", environ=s3_server.env())
    return [found.key async for found in store.list()]


@pytest.fixture
async def proxy(s3_server: S3Server) -> AsyncIterator[TcpProxy]:
    parts = urlsplit(s3_server.endpoint)
    assert parts.hostname and parts.port
    forwarder = await TcpProxy(parts.hostname, parts.port).start()
    yield forwarder
    await forwarder.stop()


async def test_images_are_stored_and_another_replica_reads_them_by_id(
    tmp_path: Path, s3_server: S3Server, bucket: str
) -> None:
    async with Client(build_server(_settings(tmp_path / "one", bucket, s3_server.endpoint))) as client:
        made = structured(await client.call_tool("generate_image", {"prompt": "a fox in the bucket", "name": "fox"}))
    [image] = made["images"]
    rel = image["relative_path"]
    sidecar = rel.rsplit(".", 1)[0] + ".json"
    assert image["path"] == f"s3://{bucket}/team/{rel}" and image["uri"] == f"easel://images/{image['id']}"
    assert not [w for w in made["warnings"] if "object store" in w]
    keys = await _keys(s3_server, bucket)
    assert {f"team/{rel}", f"team/{sidecar}"} <= set(keys)
    assert not [key for key in keys if ".easel" in key]  # the index, thumbnails and temp files stay local

    empty = tmp_path / "two"  # another replica: nothing of the image in its folder
    async with Client(build_server(_settings(empty, bucket, s3_server.endpoint))) as client:
        read = await client.read_resource(image["uri"])
        detail = structured(await client.call_tool("get_image", {"id": image["id"], "preview": False}))
        by_id = structured(await client.call_tool("edit_image", {"prompt": "the fox in snow", "images": [image["id"]]}))
        by_path = structured(await client.call_tool("edit_image", {"prompt": "by url", "images": [image["path"]]}))
        job = structured(await client.call_tool("get_job", {"job_id": by_id["job_id"], "wait_s": 0}))
    data = base64.b64decode(read.contents[0].blob)  # type: ignore[union-attr]
    assert hashlib.sha256(data).hexdigest() == image["sha256"]
    assert detail["image"]["id"] == image["id"] and detail["path"] == image["path"]
    assert detail["sidecar"]["prompt"] == "a fox in the bucket"
    assert (empty / rel).is_file() and (empty / sidecar).is_file()  # the cache, with the sidecar
    for edited in (by_id, by_path):
        [out] = edited["images"]
        assert out["path"] == f"s3://{bucket}/team/{out['relative_path']}"
    assert job["result"]["images"][0]["path"] == by_id["images"][0]["path"]
    assert f"team/{by_id['images'][0]['relative_path']}" in await _keys(s3_server, bucket)


async def test_a_job_is_found_again_by_a_replica_without_its_files(
    tmp_path: Path, s3_server: S3Server, bucket: str
) -> None:
    settings = _settings(tmp_path / "one", bucket, s3_server.endpoint)
    async with Client(build_server(settings)) as client:
        made = structured(await client.call_tool("generate_image", {"prompt": "a kite"}))
    # A fresh process on the same ledger, its cache emptied: the job comes back from the ledger and the store.
    for path in (tmp_path / "one").iterdir():
        if path.name != ".easel":
            import shutil

            shutil.rmtree(path)
    async with Client(build_server(settings)) as client:
        job = structured(await client.call_tool("get_job", {"job_id": made["job_id"], "wait_s": 0}))
    assert job["status"] == "done" and job["result"]["images"][0]["path"] == made["images"][0]["path"]


async def test_the_store_down_at_write_time_spools_the_paid_image_until_it_is_back(
    tmp_path: Path, s3_server: S3Server, bucket: str, proxy: TcpProxy
) -> None:
    server = build_server(_settings(tmp_path / "one", bucket, proxy.endpoint, store_flush_s=0.05))
    async with Client(server) as client:
        proxy.cut()  # the store is unreachable from now on
        made = structured(await client.call_tool("generate_image", {"prompt": "paid while the store is away"}))
        [image] = made["images"]
        rel = image["relative_path"]
        assert [w for w in made["warnings"] if "waiting for the object store" in w and rel in w]
        assert image["path"] == f"s3://{bucket}/team/{rel}"
        [row] = server.studio.ledger.rows()
        assert row["status"] == "ok" and row["cost_usd"] == made["cost_usd"] and row["outputs"] == [rel]
        workspace = server.studio.root_workspace
        assert isinstance(workspace, StoredWorkspace)
        assert workspace.store.pending() == 2  # the image and its sidecar
        assert f"team/{rel}" not in await _keys(s3_server, bucket)

        await proxy.start()  # the store is back: the server's flusher uploads the spool
        with anyio.fail_after(120):  # a guard against a hang, not a timing assertion
            await workspace.store.wait_drained()
    keys = await _keys(s3_server, bucket)
    assert {f"team/{rel}", f"team/{rel.rsplit('.', 1)[0]}.json"} <= set(keys)
    assert workspace.store.pending() == 0


def _replica(tmp_path: Path, folder: str, store: S3ImageStore) -> StoredWorkspace:
    local = Workspace.open(tmp_path / folder)
    return StoredWorkspace(local.root, store=SpooledImageStore(store, local.state_dir / "spool"))


def test_a_user_reads_their_own_images_on_any_replica_and_nobody_elses(
    tmp_path: Path, s3_server: S3Server, bucket: str
) -> None:
    store = S3ImageStore.from_url(f"s3://{bucket}/team", environ=s3_server.env())
    alice = _replica(tmp_path, "one", store).for_user("alice")
    pixels = png((8, 8))
    written = alice.write_image(pixels, ext="png", label="kite")
    alice.write_sidecar(written.path, Sidecar(id=written.id, prompt="alice's kite"))
    alice.write_file(("masks", "mask-for-kite.png"), pixels)  # masks (and partials) are stored too
    alice.write_file((".easel", "thumbs", "kite.webp"), pixels)  # Easel's own state stays local
    prefix = f"team/users/{user_folder('alice')}"
    keys = anyio.run(_keys, s3_server, bucket)
    assert {f"{prefix}/masks/mask-for-kite.png", f"{prefix}/{written.relative_path}"} <= set(keys)
    assert not [key for key in keys if ".easel" in key]
    url = alice.result_path(written.relative_path)
    assert url == f"s3://{bucket}/team/users/{user_folder('alice')}/{written.relative_path}"

    other = _replica(tmp_path, "two", store)
    again = other.for_user("alice")
    found = again.find_image(written.id)
    assert again.read_file(found, limit=1000) == pixels and (again.read_sidecar(found) or Sidecar()).id == written.id
    assert again.resolve_input(url) == found and again.resolve_input(written.relative_path) == found

    bob = other.for_user("bob")
    with pytest.raises(ImageNotFound) as hidden:
        bob.find_image(written.id)
    assert "alice" not in str(hidden.value)
    with pytest.raises(ImageNotFound):
        bob.resolve_input(url)
    with pytest.raises((ImageNotFound, PathNotAllowed)):
        bob.resolve_input(f"../{user_folder('alice')}/{written.relative_path}")
    with pytest.raises(ImageNotFound):
        bob.resolve_input(written.relative_path)  # the same path in bob's own prefix: nothing there
    with pytest.raises(ImageNotFound):
        other.find_image(written.id)  # the shared root sees no user's images by id either
    with pytest.raises(PathNotAllowed):
        bob.resolve_input(f"s3://{bucket}/elsewhere/{written.relative_path}")


async def test_an_unreachable_store_is_named_with_what_to_check(tmp_path: Path, bucket: str) -> None:
    settings = _settings(tmp_path / "one", bucket, "http://127.0.0.1:9")
    workspace = open_studio(settings).root_workspace
    assert isinstance(workspace, StoredWorkspace)
    with pytest.raises(StoreUnavailable, match="EASEL_S3_ENDPOINT"):
        await workspace.check_store()
    with pytest.raises(ConfigurationError, match="EASEL_STORE_URL"):
        open_studio(Settings(workspace=tmp_path / "two", provider="offline", store_url="bucket/prefix"))  # type: ignore[call-arg]


@asynccontextmanager
async def _as(user: str, url: str, issuer: OAuthIssuer) -> AsyncIterator[Client]:
    headers = {"Authorization": f"Bearer {issuer.token(user, audience=url)}"}
    async with httpx2.AsyncClient(headers=headers, timeout=60) as http:
        async with Client(streamable_http_client(url, http_client=http)) as client:
            yield client


async def test_through_oauth_each_user_reads_only_their_own_stored_images_from_any_replica(
    tmp_path: Path, s3_server: S3Server, bucket: str, oauth_issuer: OAuthIssuer
) -> None:
    def replica(folder: str) -> Callable[[str], Settings]:
        return lambda url: _settings(
            tmp_path / folder, bucket, s3_server.endpoint, oauth_issuer=oauth_issuer.issuer, public_url=url
        )

    with serving(replica("one")) as (url, _):
        async with _as("alice", url, oauth_issuer) as alice:
            made = structured(await alice.call_tool("generate_image", {"prompt": "alice's kite", "name": "kite"}))
    [image] = made["images"]
    assert image["path"].startswith(f"s3://{bucket}/team/users/{user_folder('alice')}/")

    with serving(replica("two")) as (url, _):  # another replica, its folder empty
        async with _as("bob", url, oauth_issuer) as bob:
            hidden = error_text(await bob.call_tool("get_image", {"id": image["id"]}))
            by_id = error_text(await bob.call_tool("edit_image", {"prompt": "mine now", "images": [image["id"]]}))
            by_url = error_text(await bob.call_tool("edit_image", {"prompt": "mine now", "images": [image["path"]]}))
            with pytest.raises(Exception, match=r"not found|Unknown resource|no image"):
                await bob.read_resource(image["uri"])
        async with _as("alice", url, oauth_issuer) as alice:
            own = await alice.read_resource(image["uri"])
            detail = structured(await alice.call_tool("get_image", {"id": image["id"], "preview": False}))
    for text in (hidden, by_id, by_url):
        assert ("no " in text.lower() or "not" in text.lower()) and "alice" not in text and "kite" not in text
        assert "forbidden" not in text.lower()
    assert own.contents and detail["sidecar"]["prompt"] == "alice's kite"
