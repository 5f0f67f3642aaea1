"""Hostile workspaces, reading side: whatever is planted in the workspace (links, FIFOs, huge or broken files,
a damaged index), nothing outside it is read, no read hangs or exhausts memory, a bad file costs only its own
image, and outputs land only in real folders inside the workspace (issue 13)."""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import sqlite3
import struct
import subprocess
import sys
import threading
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import anyio
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from PIL import Image, ImageFile
from starlette.testclient import TestClient

from easel_mcp.app import build_server
from easel_mcp.errors import ConfigurationError, FileTooLarge, PathNotAllowed
from easel_mcp.gallery.app import build_gallery_app
from easel_mcp.gallery.thumbs import ensure_thumbnail
from easel_mcp.imaging.io import MAX_INPUT_BYTES, MAX_PIXELS
from easel_mcp.index import INDEX_FILE, ImageIndex
from easel_mcp.ledger import Budgets, Ledger
from easel_mcp.settings import Settings
from easel_mcp.sqlite import damaged
from easel_mcp.workspace import Workspace
from easel_mcp.workspace_files import read_regular
from tests.helpers import error_text, png, structured
from tests.test_index import DAY, age_folders, make_image

SECRET = "hunter2-do-not-leak"
GUARD_S = 30  # a read that blocks is a regression: fail (or unblock) after 30 s instead of hanging the suite


def settings_for(root: Path) -> Settings:
    return Settings(workspace=root, provider="offline")


def gallery(ws: Workspace) -> TestClient:
    return TestClient(build_gallery_app(ws, ws.state_dir / "ledger.sqlite3", None), base_url="http://127.0.0.1:8123")


def everything_said(result: object) -> str:
    return json.dumps(result.model_dump(mode="json"))  # type: ignore[attr-defined]


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder beside the workspace holding things that must never be read or written through it."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"auths": {"registry": SECRET}, "prompt": SECRET}))
    (folder / "secret.png").write_bytes(png((40, 40), (255, 0, 0)))
    return folder


@pytest.fixture
def ws(workspace_dir: Path) -> Workspace:
    return Workspace.open(workspace_dir)


# ---------------------------------------------------------------- item 1: links, FIFOs, devices
@pytest.mark.anyio
async def test_a_sidecar_that_links_outside_is_never_read(ws: Workspace, outside: Path) -> None:
    image_id, path = make_image(ws.root, sidecar=False)
    path.with_suffix(".json").symlink_to(outside / "config.json")
    async with Client(build_server(settings_for(ws.root))) as client:
        detail = await client.call_tool("get_image", {"id": image_id})
        listed = await client.call_tool("list_images", {})
    assert structured(detail)["sidecar"] is None
    assert SECRET not in everything_said(detail) and SECRET not in everything_said(listed)
    with gallery(ws) as c:
        shown = c.get(f"/api/images/{image_id}")
    assert shown.status_code == 200 and shown.json()["sidecar"] is None and SECRET not in shown.text


@pytest.mark.anyio
@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
async def test_a_sidecar_linked_to_dev_zero_is_refused_without_reading_it(ws: Workspace) -> None:
    image_id, path = make_image(ws.root, sidecar=False)
    path.with_suffix(".json").symlink_to("/dev/zero")
    async with Client(build_server(settings_for(ws.root))) as client:
        with anyio.fail_after(GUARD_S):
            detail = structured(await client.call_tool("get_image", {"id": image_id, "preview": False}))
    assert detail["sidecar"] is None and detail["image"]["id"] == image_id


@pytest.fixture
def unblock_fifos() -> Iterator[list[Path]]:
    """FIFOs registered here are opened for writing after GUARD_S seconds, so a reader stuck on one returns
    (and the test fails on the flag) instead of hanging the whole suite."""
    fifos: list[Path] = []
    stuck: list[Path] = []
    done = threading.Event()

    def watchdog() -> None:
        if done.wait(GUARD_S):
            return
        while not done.wait(0.2):  # from now on, release every reader that blocks
            for fifo in fifos:
                try:
                    fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
                except OSError:  # no reader blocked on it
                    continue
                stuck.append(fifo)
                os.close(fd)

    thread = threading.Thread(target=watchdog, daemon=True)
    thread.start()
    yield fifos
    done.set()
    thread.join()
    assert not stuck, f"a read blocked on the FIFO(s) {stuck}"


@pytest.mark.anyio
async def test_a_fifo_sidecar_or_image_never_blocks(ws: Workspace, unblock_fifos: list[Path]) -> None:
    image_id, path = make_image(ws.root, sidecar=False)
    os.mkfifo(path.with_suffix(".json"))
    fifo_image = ws.root / DAY / "pipe-0123456789ab.png"
    os.mkfifo(fifo_image)
    unblock_fifos.extend([path.with_suffix(".json"), fifo_image])
    async with Client(build_server(settings_for(ws.root))) as client:
        with anyio.fail_after(GUARD_S + 10):
            detail = structured(await client.call_tool("get_image", {"id": image_id}))
            listed = structured(await client.call_tool("list_images", {}))
            with pytest.raises(MCPError):
                await client.read_resource("easel://images/0123456789ab")
    assert detail["sidecar"] is None and [i["id"] for i in listed["images"]] == [image_id]
    with gallery(ws) as c:
        assert c.get(f"/api/images/{image_id}").json()["sidecar"] is None
        assert c.get("/api/images/0123456789ab/thumb").status_code == 404


@pytest.mark.anyio
async def test_start_up_recovery_never_blocks_on_a_fifo_sidecar(ws: Workspace, unblock_fifos: list[Path]) -> None:
    ledger = Ledger.open(ws.state_dir / "ledger.sqlite3")
    ledger.begin(
        tool="generate",
        provider="offline",
        model="gpt-image-1.5",
        params={"prompt": "x"},
        estimated_usd=0.0,
        reserve_usd=0.0,
        budgets=Budgets(),
        job_id="0123456789ab",
    )
    ledger.close()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, check=True)
    conn = sqlite3.connect(ws.state_dir / "ledger.sqlite3")
    conn.execute("UPDATE attempts SET pid = ?", (int(dead.stdout),))  # left open by a process that died
    conn.commit()
    conn.close()
    folder = ws.root / datetime.now(UTC).strftime("%Y-%m-%d")
    folder.mkdir()
    os.mkfifo(folder / "planted.json")
    unblock_fifos.append(folder / "planted.json")
    with anyio.fail_after(GUARD_S + 10):
        async with Client(build_server(settings_for(ws.root))) as client:
            assert not (await client.call_tool("list_images", {})).is_error


@pytest.mark.anyio
async def test_an_indexed_image_replaced_by_a_link_is_not_read(ws: Workspace, outside: Path) -> None:
    image_id, path = make_image(ws.root, data=png((40, 40), (0, 0, 255)), width=40, height=40)
    age_folders(ws.root)  # scanned long after its last change: the next refresh trusts the folder's mtime
    async with Client(build_server(settings_for(ws.root))) as client:
        structured(await client.call_tool("list_images", {}))  # indexed
        folder_st = path.parent.stat()
        path.unlink()
        path.symlink_to(outside / "secret.png")
        os.utime(path.parent, ns=(folder_st.st_atime_ns, folder_st.st_mtime_ns))  # the folder looks unchanged
        detail = await client.call_tool("get_image", {"id": image_id})
        with pytest.raises(MCPError):
            await client.read_resource(f"easel://images/{image_id}")
    assert not [b for b in detail.content if b.type == "image"], "a preview of the file outside was sent"
    assert "link" in error_text(detail)
    with gallery(ws) as c:
        c.get("/api/images")
        assert c.get(f"/api/images/{image_id}/file").status_code == 404
        assert c.get(f"/api/images/{image_id}/thumb").status_code == 404


@pytest.mark.anyio
async def test_a_job_from_an_earlier_run_reads_only_its_own_intact_files(ws: Workspace, outside: Path) -> None:
    async with Client(build_server(settings_for(ws.root))) as client:
        made = structured(await client.call_tool("generate_image", {"prompt": "a fox", "n": 3, "preview": "none"}))
    linked, broken, intact = (Path(i["path"]) for i in made["images"])
    linked.unlink()
    linked.symlink_to(outside / "secret.png")
    broken.with_suffix(".json").write_text(json.dumps({"id": 5, "width": "big", "parameters": [], "usage": "x"}))
    async with Client(build_server(settings_for(ws.root))) as client:  # a new run: the job is rebuilt from files
        job = await client.call_tool("get_job", {"job_id": made["job_id"]})
    assert [i["path"] for i in structured(job)["result"]["images"]] == [str(intact)]
    assert len([b for b in job.content if b.type == "image"]) == 1


def test_the_safe_opener_refuses_links_on_the_way_fifos_and_big_files(ws: Workspace, outside: Path) -> None:
    (ws.root / "linked").symlink_to(outside)
    with pytest.raises(PathNotAllowed):
        read_regular(ws.root, ws.root / "linked" / "config.json", limit=10**6, what="x")
    (ws.root / "file.json").symlink_to(outside / "config.json")
    with pytest.raises(PathNotAllowed):
        read_regular(ws.root, ws.root / "file.json", limit=10**6, what="x")
    os.mkfifo(ws.root / "fifo")
    with pytest.raises(PathNotAllowed):
        read_regular(ws.root, ws.root / "fifo", limit=10**6, what="x")
    (ws.root / "big").write_bytes(b"x" * 101)
    with pytest.raises(FileTooLarge):
        read_regular(ws.root, ws.root / "big", limit=100, what="x")
    with pytest.raises(PathNotAllowed):
        read_regular(ws.root, ws.root / ".." / "outside" / "config.json", limit=10**6, what="x")
    assert read_regular(ws.root, ws.root / "big", limit=101, what="x") == b"x" * 101


# ---------------------------------------------------------------- item 5: thumbnails within the pixel cap
def png_header_only(w: int, h: int) -> bytes:
    """A valid-looking PNG that claims w x h with almost no pixel data (what a bomb's header says)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b"")


def test_thumbnails_refuse_images_over_the_pixel_cap_before_decoding(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    side = int((MAX_PIXELS * 1.5) ** 0.5)  # over our cap, under the 2x where Pillow itself would refuse
    bomb_id, bomb = make_image(ws.root, data=png_header_only(side, side), sidecar=False)

    def no_decoding(self: ImageFile.ImageFile) -> None:
        raise AssertionError("the pixels of an image over the cap were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 89_478_485)  # Pillow's default: the gallery's own process
    with pytest.raises(ValueError, match="pixel"):
        ensure_thumbnail(ws, bomb, ws.state_dir / "thumbs" / f"{bomb_id}-256.webp", 256)
    with gallery(ws) as c:
        response = c.get(f"/api/images/{bomb_id}/thumb")
    assert response.status_code == 415 and "pixel" in response.json()["error"]


# ---------------------------------------------------------------- item 6: one bad sidecar, one image
BAD_SIDECARS = {
    "invalid-utf8": b'{"prompt": "\xff\xfe broken"}',
    "date-out-of-range": json.dumps({"created_at": "0001-01-01T00:00:00+05:00", "prompt": "x"}).encode(),
    "date-far-future": json.dumps({"created_at": "9999-12-31T23:59:59-05:00"}).encode(),
    "deep-nesting": b'{"x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    "nesting-under-the-recursion-limit": b'{"x": ' + b"[" * 500 + b"]" * 500 + b"}",
    "5000-digit-number": b'{"width": ' + b"9" * 5000 + b', "height": 1}',
    "4000-digit-number": b'{"cost_usd": ' + b"9" * 4000 + b', "width": 1, "height": ' + b"9" * 30 + b"}",
    "nan": b'{"cost_usd": NaN, "prompt": "nan"}',
    "not-an-object": b"[1, 2, 3]",
    "huge": b'{"prompt": "' + b"a" * (2 * 1024 * 1024) + b'"}',
    "bad-types": json.dumps({"parents": "x", "inputs": {"a": 1}, "parameters": [], "created_at": 5}).encode(),
}


@pytest.mark.anyio
async def test_one_bad_sidecar_breaks_only_its_own_image(ws: Workspace) -> None:
    good_id, _ = make_image(ws.root, slug="good")
    bad: dict[str, str] = {}
    for name, content in BAD_SIDECARS.items():
        bad[name], path = make_image(ws.root, slug=name, sidecar=False)
        path.with_suffix(".json").write_bytes(content)
    async with Client(build_server(settings_for(ws.root))) as client:
        listed = structured(await client.call_tool("list_images", {"limit": 100}))
        details = {name: await client.call_tool("get_image", {"id": i}) for name, i in {**bad, "good": good_id}.items()}
        resources = await client.list_resources()
    assert {i["id"] for i in listed["images"]} == {good_id, *bad.values()}
    for name, detail in details.items():
        assert not detail.is_error, (name, error_text(detail))
    assert structured(details["good"])["sidecar"]["prompt"] == "A red fox in snow"
    assert structured(details["invalid-utf8"])["sidecar"] is None
    assert structured(details["deep-nesting"])["sidecar"] is None
    assert len([r for r in resources.resources if r.uri.startswith("easel://images/")]) == len(bad) + 1
    with gallery(ws) as c:
        grid = c.get("/api/images", params={"limit": 100})
        assert grid.status_code == 200 and grid.json()["total"] == len(bad) + 1
        for name, image_id in bad.items():
            shown = c.get(f"/api/images/{image_id}")
            assert shown.status_code == 200, name
            json.loads(shown.text)  # strict JSON: no NaN, nothing a browser cannot parse


@pytest.mark.anyio
async def test_odd_files_in_a_day_folder_affect_only_themselves(ws: Workspace) -> None:
    good_id, _ = make_image(ws.root, slug="good")
    folder = os.fsencode(ws.root / DAY)
    os.close(os.open(folder + b"/\xff\xfe-aaaaaaaaaaaa.png", os.O_CREAT | os.O_WRONLY))  # a name that is not UTF-8
    (ws.root / DAY / "folder-bbbbbbbbbbbb.png").mkdir()  # a folder with an image's name
    side_id, side = make_image(ws.root, slug="side", sidecar=False)
    side.with_suffix(".json").mkdir()  # a folder where the sidecar should be
    async with Client(build_server(settings_for(ws.root))) as client:
        listed = structured(await client.call_tool("list_images", {}))
        detail = structured(await client.call_tool("get_image", {"id": side_id}))
        resources = await client.list_resources()
    assert {i["id"] for i in listed["images"]} == {good_id, side_id} and detail["sidecar"] is None
    assert len([r for r in resources.resources if r.uri.startswith("easel://images/")]) == 2
    with gallery(ws) as c:
        assert c.get("/api/images").json()["total"] == 2


# ---------------------------------------------------------------- item 8: a damaged index is rebuilt
def damage_pages(path: Path) -> None:
    data = bytearray(path.read_bytes())
    for offset in range(4096, len(data), 4096):  # every page after the first: the tables, not the header
        data[offset : offset + 64] = b"\xa5" * 64
    path.write_bytes(bytes(data))


@pytest.mark.anyio
@pytest.mark.parametrize("damage", ["garbage", "pages", "wrong-schema", "link"])
async def test_a_damaged_index_is_discarded_and_rebuilt(ws: Workspace, outside: Path, damage: str) -> None:
    ids = {make_image(ws.root, slug=f"img{i}")[0] for i in range(30)}
    age_folders(ws.root)
    index = ImageIndex(ws)
    index.refresh()
    index.close()
    db = ws.state_dir / INDEX_FILE
    for extra in ("-wal", "-shm"):
        Path(f"{db}{extra}").unlink(missing_ok=True)
    if damage == "garbage":
        db.write_bytes(b"not a database at all " * 500)
    elif damage == "pages":
        damage_pages(db)
    elif damage == "wrong-schema":
        conn = sqlite3.connect(db)
        conn.executescript("DROP TABLE images; CREATE TABLE images (rid INTEGER PRIMARY KEY, junk TEXT);")
        conn.close()
    else:
        shutil.copy(db, outside / "other.sqlite3")
        db.unlink()
        db.symlink_to(outside / "other.sqlite3")
    before = (outside / "other.sqlite3").read_bytes() if damage == "link" else b""
    async with Client(build_server(settings_for(ws.root))) as client:
        for _ in range(2):  # and it stays usable
            listed = structured(await client.call_tool("list_images", {"limit": 100}))
            assert {i["id"] for i in listed["images"]} == ids and listed["total"] == 30
    with gallery(ws) as c:
        assert c.get("/api/images").json()["total"] == 30
    if damage == "link":
        assert (outside / "other.sqlite3").read_bytes() == before and not db.is_symlink()


def test_only_a_damaged_or_foreign_file_counts_as_damage() -> None:
    conn = sqlite3.connect(":memory:")
    errors: dict[str, sqlite3.DatabaseError] = {}
    for name, sql in (("missing table", "SELECT * FROM images"), ("syntax", "SELEC 1"), ("fts", "SELECT 1/'")):
        try:
            conn.execute(sql)
        except sqlite3.DatabaseError as e:
            errors[name] = e
    conn.close()
    assert damaged(errors["missing table"]) and not damaged(errors["syntax"]) and not damaged(errors["fts"])


# ---------------------------------------------------------------- item 11: writes only into real folders
@pytest.mark.anyio
async def test_a_linked_day_folder_never_redirects_outputs(ws: Workspace, outside: Path) -> None:
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    (ws.root / today).symlink_to(outside, target_is_directory=True)
    before = sorted(p.name for p in outside.iterdir())
    async with Client(build_server(settings_for(ws.root))) as client:
        made = await client.call_tool("generate_image", {"prompt": "a fox", "partial_images": 1})
    assert sorted(p.name for p in outside.iterdir()) == before
    assert made.is_error and "link" in error_text(made)


@pytest.mark.anyio
async def test_linked_thumbs_and_mask_folders_never_redirect_writes(ws: Workspace, outside: Path) -> None:
    image_id, _ = make_image(ws.root, data=png((64, 64)), width=64, height=64)
    for folder, link in ((outside / "thumbs", ws.state_dir / "thumbs"), (outside / "masks", ws.root / "masks")):
        folder.mkdir()
        link.symlink_to(folder, target_is_directory=True)
    with gallery(ws) as c:
        c.get("/api/images")
        thumb = c.get(f"/api/images/{image_id}/thumb")
    buf = io.BytesIO()
    Image.new("L", (64, 64), 255).save(buf, "PNG")
    async with Client(build_server(settings_for(ws.root))) as client:
        mask = await client.call_tool(
            "save_mask", {"image": image_id, "mask_png_base64": base64.b64encode(buf.getvalue()).decode()}
        )
    assert thumb.status_code >= 400 and "link" in thumb.json()["error"]
    assert mask.is_error and "link" in error_text(mask)
    assert {p.name for p in outside.rglob("*") if p.is_file()} == {"config.json", "secret.png"}


def test_a_linked_temp_folder_never_redirects_writes(ws: Workspace, outside: Path) -> None:
    shutil.rmtree(ws.state_dir / "tmp")
    (ws.state_dir / "tmp").symlink_to(outside, target_is_directory=True)
    with pytest.raises(PathNotAllowed):
        ws.write_image(png((8, 8)), ext="png", label="x")
    assert {p.name for p in outside.iterdir()} == {"config.json", "secret.png"}


def test_a_linked_ledger_or_index_is_never_written_through(ws: Workspace, outside: Path) -> None:
    other = outside / "someone-elses.sqlite3"
    sqlite3.connect(other).close()
    before = other.read_bytes()
    (ws.state_dir / "ledger.sqlite3").symlink_to(other)
    with pytest.raises(PathNotAllowed, match="link"):
        Ledger.open(ws.state_dir / "ledger.sqlite3")
    (ws.state_dir / f"{INDEX_FILE}-wal").symlink_to(outside / "wal")
    index = ImageIndex(ws)
    index.refresh()  # the cache's own files: the link is dropped and a real file made
    index.close()
    assert other.read_bytes() == before and {p.name for p in outside.iterdir()} == {
        "config.json",
        "secret.png",
        other.name,
    }


def test_a_linked_state_folder_is_refused_at_start(workspace_dir: Path, outside: Path) -> None:
    (workspace_dir / ".easel").symlink_to(outside, target_is_directory=True)
    with pytest.raises(ConfigurationError, match="link"):
        Workspace.open(workspace_dir)
    assert {p.name for p in outside.iterdir()} == {"config.json", "secret.png"}


# ---------------------------------------------------------------- item 12: capped resource reads and previews
def sparse_png(path: Path, size: int) -> None:
    """A file of `size` bytes that starts like a PNG, without using the disk space (sparse)."""
    with path.open("wb") as f:
        f.write(png((8, 8)))
        f.truncate(size)


@pytest.mark.anyio
async def test_resource_reads_and_previews_are_size_capped(ws: Workspace) -> None:
    image_id, path = make_image(ws.root, width=8, height=8)
    sparse_png(path, MAX_INPUT_BYTES + 1024 * 1024)
    async with Client(build_server(settings_for(ws.root))) as client:
        with pytest.raises(MCPError, match="MB"):
            await client.read_resource(f"easel://images/{image_id}")
        detail = await client.call_tool("get_image", {"id": image_id})
        without = structured(await client.call_tool("get_image", {"id": image_id, "preview": False}))
    assert "MB" in error_text(detail) and "preview" in error_text(detail)
    assert without["image"]["id"] == image_id
    with gallery(ws) as c:
        c.get("/api/images")
        for route in ("file", "thumb"):
            response = c.get(f"/api/images/{image_id}/{route}")
            assert response.status_code == 413 and "MB" in response.json()["error"], route
