"""The image index: hand edits noticed by cheap refreshes, filters, keyset pages, lineage, 10,000 images."""

from __future__ import annotations

import io
import json
import os
import secrets
import shutil
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from PIL import Image

from easel_mcp.app import build_server
from easel_mcp.index import ImageIndex, decode_cursor
from easel_mcp.settings import Settings
from easel_mcp.workspace import Workspace
from tests.helpers import png, structured

DAY = "2026-03-14"
T0 = datetime(2026, 3, 14, 9, 0, tzinfo=UTC)
OLD = time.time() - 3 * 86400  # folder mtimes set back past the racy window


def make_image(
    root: Path,
    *,
    day: str = DAY,
    slug: str = "red-fox",
    image_id: str | None = None,
    sidecar: bool = True,
    data: bytes | None = None,
    ext: str = "png",
    **fields: Any,
) -> tuple[str, Path]:
    """An image (and by default its sidecar) as Easel writes them; returns (id, image path)."""
    image_id = image_id or secrets.token_hex(6)
    folder = root / day
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{slug}-{image_id}.{ext}"
    path.write_bytes(data if data is not None else png((3, 2)))
    if sidecar:
        side = {
            "id": image_id,
            "file": path.name,
            "created_at": T0.isoformat(),
            "operation": "generate",
            "prompt": "A red fox in snow",
            "provider": "offline",
            "model": "gpt-image-1.5",
            "parameters": {"model": "gpt-image-1.5", "size": "3x2"},
            "width": 3,
            "height": 2,
            "format": ext,
            "cost_usd": 0.04,
            "inputs": [],
            "parents": [],
            **fields,
        }
        path.with_suffix(".json").write_text(json.dumps(side))
    return image_id, path


def age_folders(root: Path) -> None:
    """Put every day folder's mtime in the past, as for a workspace written days ago."""
    for folder in root.iterdir():
        if folder.is_dir() and not folder.name.startswith("."):
            os.utime(folder, (OLD, OLD))


@pytest.fixture
def ws(workspace_dir: Path) -> Workspace:
    return Workspace.open(workspace_dir)


@pytest.fixture
def index(ws: Workspace) -> Iterator[ImageIndex]:
    ix = ImageIndex(ws)
    yield ix
    ix.close()


def ids(entries: list[Any]) -> set[str]:
    return {e.id for e in entries}


def test_constructor_touches_no_disk(tmp_path: Path) -> None:
    ImageIndex(Workspace(tmp_path / "nowhere"))
    assert not (tmp_path / "nowhere").exists()


def test_refresh_reads_sidecars_and_the_index_survives_a_restart(ws: Workspace, index: ImageIndex) -> None:
    a, _ = make_image(ws.root, prompt="A red fox in snow", cost_usd=0.25)
    b, _ = make_image(
        ws.root,
        slug="blue-whale",
        prompt="A blue whale",
        operation="edit",
        parents=[a],
        created_at=(T0 + timedelta(minutes=1)).isoformat(),
    )
    assert index.refresh() == 2
    assert index.count() == 2
    entry = index.get(b)
    assert entry is not None
    assert (entry.operation, entry.prompt, entry.parents) == ("edit", "A blue whale", (a,))
    assert (entry.name_slug, entry.width, entry.height, entry.format) == ("blue-whale", 3, 2, "png")
    assert (entry.model, entry.provider) == ("gpt-image-1.5", "offline")
    assert entry.relative_path == f"{DAY}/blue-whale-{b}.png" and entry.bytes == len(png((3, 2)))
    assert entry.created_at == "2026-03-14T09:01:00.000000+00:00"
    assert index.get(a) is not None and index.get(a).cost_usd == 0.25  # type: ignore[union-attr]
    assert index.refresh() == 0
    index.close()
    again = ImageIndex(ws)
    assert again.count() == 2 and again.get(b) == entry  # no scan needed: it is on disk
    assert again.refresh() == 0
    again.close()


def test_hand_added_images_with_and_without_sidecar(ws: Workspace, index: ImageIndex) -> None:
    index.refresh()
    copied, _ = make_image(ws.root, slug="copied", prompt="brought in by hand")
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 10, 10)).save(buf, "JPEG")
    (ws.root / DAY / "holiday.jpg").write_bytes(buf.getvalue())
    bare_id, _ = make_image(ws.root, slug="no-sidecar", sidecar=False, data=png((7, 5)))
    (ws.root / DAY / "notes.txt").write_text("not an image")
    (ws.root / DAY / "orphan-aaaaaaaaaaaa.json").write_text("{}")  # a sidecar without its image
    (ws.root / DAY / "broken-bbbbbbbbbbbb.png").write_bytes(b"not a png")
    (ws.root / "masks").mkdir()
    (ws.root / "masks" / "mask.png").write_bytes(png((4, 4)))  # not a day folder
    assert index.refresh() == 4
    assert index.get(copied).prompt == "brought in by hand"  # type: ignore[union-attr]
    bare = index.get(bare_id)
    assert bare is not None and (bare.operation, bare.prompt, bare.width, bare.height) == ("unknown", None, 7, 5)
    holiday = next(e for e in index.query(limit=50)[0] if e.relative_path.endswith("holiday.jpg"))
    assert (holiday.operation, holiday.width, holiday.height, holiday.format) == ("unknown", 40, 30, "jpeg")
    assert len(holiday.id) == 12 and holiday.name_slug == "holiday"
    broken = index.get("bbbbbbbbbbbb")
    assert broken is not None and broken.width is None and broken.format == "png"
    assert index.get("aaaaaaaaaaaa") is None
    assert index.count() == 4


def test_deleted_files_folders_and_new_day_folders(ws: Workspace, index: ImageIndex) -> None:
    a, a_path = make_image(ws.root)
    b, _ = make_image(ws.root)
    c, _ = make_image(ws.root, day="2026-03-15")
    index.refresh()
    a_path.unlink()  # the sidecar stays: an image that is gone is dropped
    assert index.refresh() == 1 and index.get(a) is None and index.get(b) is not None
    shutil.rmtree(ws.root / "2026-03-15")
    assert index.refresh() == 1 and index.get(c) is None
    d, _ = make_image(ws.root, day="2026-04-01")
    assert index.refresh() == 1 and index.get(d) is not None
    assert index.count() == 2


def test_sidecar_edits_are_seen(ws: Workspace, index: ImageIndex) -> None:
    image_id, path = make_image(ws.root, prompt="before")
    index.refresh()
    before = ws.read_sidecar(path)
    assert before is not None
    ws.write_sidecar(path, before.model_copy(update={"prompt": "after"}))  # atomic
    assert index.refresh() == 1
    assert index.get(image_id).prompt == "after"  # type: ignore[union-attr]
    assert index.query(text="after")[0] and not index.query(text="before")[0]
    # An in-place edit does not change the folder's mtime: a full refresh sees it.
    age_folders(ws.root)
    index.refresh()
    side = path.with_suffix(".json")
    side.write_text(side.read_text().replace('"after"', '"edited in place"'))
    os.utime(ws.root / DAY, (OLD, OLD))
    assert index.refresh() == 0
    assert index.refresh(full=True) == 1
    assert index.get(image_id).prompt == "edited in place"  # type: ignore[union-attr]


def test_refresh_rescans_only_changed_folders(
    ws: Workspace, index: ImageIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    for day in ("2026-03-01", "2026-03-02", "2026-03-03"):
        for _ in range(3):
            make_image(ws.root, day=day)
    age_folders(ws.root)
    assert index.refresh() == 9
    scanned: list[str] = []
    original = ImageIndex._scan_folder

    def spy(self: ImageIndex, conn: Any, name: str, mtime_ns: int) -> int:
        scanned.append(name)
        return original(self, conn, name, mtime_ns)

    monkeypatch.setattr(ImageIndex, "_scan_folder", spy)
    assert index.refresh() == 0 and scanned == []
    make_image(ws.root, day="2026-03-02")
    assert index.refresh() == 1 and scanned == ["2026-03-02"]


def test_a_change_in_the_same_clock_tick_is_not_missed(ws: Workspace, index: ImageIndex) -> None:
    make_image(ws.root)
    index.refresh()
    folder = ws.root / DAY
    before = folder.stat().st_mtime_ns
    late, _ = make_image(ws.root)
    os.utime(folder, ns=(before, before))  # a coarse clock: the folder's mtime did not move
    assert index.refresh() == 1 and index.get(late) is not None


def test_note_written_indexes_without_a_scan(ws: Workspace, index: ImageIndex) -> None:
    index.refresh()
    image_id, path = make_image(ws.root, prompt="just written")
    index.note_written([path, ws.root / "elsewhere.png"])
    assert index.get(image_id).prompt == "just written"  # type: ignore[union-attr]
    path.unlink()
    index.note_written([path])
    assert index.get(image_id) is None
    assert index.refresh() == 0


def test_images_noted_from_many_threads_go_through_one_connection(ws: Workspace, index: ImageIndex) -> None:
    """A burst of calls notes its images from fresh worker threads: they share the writer connection instead
    of each opening (and checking, and setting up) one of its own."""
    index.refresh()
    made = [make_image(ws.root, prompt=f"burst {i}") for i in range(16)]
    start = threading.Barrier(len(made))

    def note(path: Path) -> None:
        start.wait()
        index.note_written([path])

    threads = [threading.Thread(target=note, args=(path,)) for _, path in made]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(index.get(image_id) is not None for image_id, _ in made)
    assert len(index._connections) == 2  # the refresh's thread and the one writer


def test_pages_have_no_duplicates_or_gaps_with_equal_timestamps(ws: Workspace, index: ImageIndex) -> None:
    made = {make_image(ws.root, day=f"2026-03-{10 + i % 3}")[0] for i in range(25)}  # all at T0
    made.add(make_image(ws.root, created_at=(T0 + timedelta(hours=1)).isoformat())[0])
    index.refresh()
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page, cursor = index.query(limit=7, cursor=cursor)
        seen += [e.id for e in page]
        pages += 1
        if cursor is None:
            break
        created, image_id, _ = decode_cursor(cursor)
        assert created and image_id == page[-1].id
    assert pages == 4 and len(seen) == 26 and set(seen) == made
    full, end = index.query(limit=100)
    assert [e.id for e in full] == seen and end is None
    assert full[0].created_at > full[1].created_at  # newest first
    with pytest.raises(ValueError, match="cursor"):
        index.query(cursor="not-a-cursor")


@pytest.mark.parametrize("fts", [True, False], ids=["fts5", "like"])
def test_filters(ws: Workspace, monkeypatch: pytest.MonkeyPatch, fts: bool) -> None:
    if not fts:
        monkeypatch.setattr("easel_mcp.index.fts5_available", lambda: False)
    fox, _ = make_image(ws.root, slug="red-fox", prompt="A RED fox in deep snow", model="gpt-image-1.5")
    whale, _ = make_image(
        ws.root,
        slug="whale",
        prompt="A blue whale 100% happy_face",
        model="gemini-2.5-flash-image",
        operation="edit",
        created_at=(T0 + timedelta(days=2)).isoformat(),
    )
    moon, _ = make_image(
        ws.root,
        slug="moon",
        prompt="Moon over a lake",
        operation="inpaint",
        created_at=(T0 + timedelta(days=5)).isoformat(),
    )
    index = ImageIndex(ws)
    index.refresh()

    def q(**kw: Any) -> set[str]:
        return ids(index.query(limit=50, **kw)[0])

    assert q(text="fox") == {fox} and q(text="red snow") == {fox} and q(text="red whale") == set()
    assert q(text="SNOW") == {fox}  # case-insensitive
    assert q(text="red-fox") == {fox}  # the file name
    assert q(text="gemini") == {whale}  # the model
    assert q(text="inpaint") == {moon}  # the operation
    assert q(text="100%") == {whale} and q(text="_") == {whale} and q(text="%") == {whale}  # no wildcards
    assert q(text="ox") == {fox}  # short terms too
    assert q(text='"') == set() and q(text="   ") == {fox, whale, moon}
    assert q(model="gpt-image-1.5") == {fox, moon}
    assert q(tool="edit") == {whale} and q(tool="edit_image") == {whale}
    assert q(since=T0 + timedelta(days=1)) == {whale, moon}
    assert q(since=(T0 + timedelta(days=1)).replace(tzinfo=None)) == {whale, moon}  # naive is UTC
    assert q(text="a", model="gpt-image-1.5", since=T0 + timedelta(days=3)) == {moon}
    assert index.facets() == {
        "models": ["gemini-2.5-flash-image", "gpt-image-1.5"],
        "tools": ["edit", "generate", "inpaint"],
    }
    index.close()


@pytest.mark.anyio
async def test_lineage_of_a_real_edit_chain(offline_settings: Settings) -> None:
    server = build_server(offline_settings)
    async with Client(server) as client:
        gen = structured(await client.call_tool("generate_image", {"prompt": "A lighthouse", "size": "1024x1024"}))
        root = gen["images"][0]["id"]
        edit = structured(await client.call_tool("edit_image", {"prompt": "Add a moon", "images": [root]}))
        child = edit["images"][0]["id"]
        again = structured(await client.call_tool("edit_image", {"prompt": "Add stars", "images": [child]}))
        grandchild = again["images"][0]["id"]
        side = structured(
            await client.call_tool(
                "inpaint", {"image": root, "prompt": "a boat", "regions": [{"x": 0, "y": 0, "width": 64, "height": 64}]}
            )
        )
        sibling = side["images"][0]["id"]
    index = ImageIndex(server.studio.workspace)
    index.refresh()  # the server already noted what it wrote; a refresh finds nothing else
    assert index.count() == 4
    assert {e.id for e in index.children(root)} == {child, sibling}
    assert [e.id for e in index.children(child)] == [grandchild]
    tree = index.lineage(child)
    levels = {n["id"]: n["level"] for n in tree["nodes"]}
    assert levels == {root: -1, child: 0, grandchild: 1}  # ancestors and descendants, not the sibling
    assert sorted(map(tuple, tree["edges"])) == sorted([(root, child), (child, grandchild)])
    whole = index.lineage(root)
    assert {n["id"]: n["level"] for n in whole["nodes"]} == {root: 0, child: 1, sibling: 1, grandchild: 2}
    assert index.lineage(grandchild, depth=1)["edges"] == [[child, grandchild]]
    # A parent deleted by hand stays in the graph as a missing node.
    (server.studio.workspace.root / index.get(root).relative_path).unlink()  # type: ignore[union-attr]
    index.refresh()
    nodes = {n["id"]: n for n in index.lineage(child)["nodes"]}
    assert nodes[root]["present"] is False and nodes[child]["present"] is True
    assert nodes[child]["operation"] == "edit" and nodes[child]["prompt"] == "Add a moon"
    index.close()


def fabricate(root: Path, n: int, per_day: int = 100, data: bytes = b"\x89PNG tiny") -> None:
    """n images with sidecars (by default the image files are a few bytes: the index never decodes them)."""
    ops = ("generate", "edit", "inpaint", "outpaint")
    models = ("gpt-image-1.5", "gpt-image-1-mini", "gemini-2.5-flash-image")
    words = ("fox", "whale", "lighthouse", "forest", "city", "portrait", "mountain", "robot", "garden", "ocean")
    previous = ""
    for i in range(n):
        at = T0 - timedelta(days=i // per_day, seconds=i)
        folder = root / at.strftime("%Y-%m-%d")
        if i % per_day == 0:
            folder.mkdir(parents=True, exist_ok=True)
        image_id = f"{i:012x}"
        slug = f"{words[i % 10]}-{i % 7}"
        (folder / f"{slug}-{image_id}.png").write_bytes(data)
        op = ops[i % 4]
        side = {
            "id": image_id,
            "created_at": at.isoformat(),
            "operation": op,
            "prompt": f"A {words[i % 10]} study {i}",
            "model": models[i % 3],
            "provider": "openai",
            "width": 1024,
            "height": 1024,
            "format": "png",
            "cost_usd": 0.01 * (i % 5),
            "parents": [previous] if op != "generate" and previous else [],
        }
        (folder / f"{slug}-{image_id}.json").write_text(json.dumps(side))
        previous = image_id
    age_folders(root)


@pytest.fixture(scope="session")
def big_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("big") / "workspace"
    started = time.perf_counter()
    fabricate(root, 10_000)
    print(f"\nfabricated 10,000 images + sidecars in {time.perf_counter() - started:.2f} s")
    return root


def test_ten_thousand_images(big_workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws = Workspace.open(big_workspace)
    (ws.state_dir / "index.sqlite3").unlink(missing_ok=True)
    index = ImageIndex(ws)
    started = time.perf_counter()
    assert index.refresh() == 10_000
    build = time.perf_counter() - started
    index.close()

    index = ImageIndex(ws)  # a fresh process: new connections, nothing cached
    started = time.perf_counter()
    assert index.refresh() == 0
    noop = time.perf_counter() - started
    started = time.perf_counter()
    page, cursor = index.query(limit=50)
    first_page = time.perf_counter() - started
    assert len(page) == 50 and cursor and page[0].id == f"{0:012x}"
    started = time.perf_counter()
    found, _ = index.query(text="lighthouse study", model="gpt-image-1.5", limit=50)
    search = time.perf_counter() - started
    assert found and all("lighthouse" in (e.prompt or "") and e.model == "gpt-image-1.5" for e in found)
    started = time.perf_counter()
    tree = index.lineage(f"{5001:012x}")
    lineage = time.perf_counter() - started
    assert len(tree["nodes"]) > 1
    with capsys.disabled():
        print(
            f"\nindex of 10,000: cold build {build:.2f} s, up-to-date refresh {noop * 1000:.1f} ms, "
            f"first page of 50 {first_page * 1000:.1f} ms, text+model search {search * 1000:.1f} ms, "
            f"lineage {lineage * 1000:.1f} ms"
        )
    index.close()
