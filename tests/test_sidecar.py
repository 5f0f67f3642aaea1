"""The sidecar model (one owner of the file beside each image) and the one image-id resolver."""

from __future__ import annotations

import json
import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from mcp import Client
from PIL import Image

import easel_mcp.workspace as workspace_module
from easel_mcp.app import build_server
from easel_mcp.budgets import Budgets
from easel_mcp.errors import ImageNotFound, PathNotAllowed
from easel_mcp.index import ImageIndex
from easel_mcp.index_rows import find_entry
from easel_mcp.ledger import Ledger
from easel_mcp.outputs import rebuild_job
from easel_mcp.recovery import recover
from easel_mcp.schemas.sidecar import SIDECAR_VERSION, Sidecar
from easel_mcp.settings import Settings
from easel_mcp.times import day_folder
from easel_mcp.workspace import Workspace
from tests.helpers import png, structured

# Written by the code before the model existed (an edit with a mask and an input by id, run as a job): no
# "version", an "easel_version". Kept as it was written; every reader must keep reading it.
UNVERSIONED = Path(__file__).parent / "fixtures" / "sidecar-unversioned.json"
DAY = "2026-03-14"


@pytest.fixture
def ws(workspace_dir: Path) -> Workspace:
    return Workspace.open(workspace_dir)


def make_image(ws: Workspace, image_id: str, *, folder: str = DAY, slug: str = "red-fox") -> Path:
    (ws.root / folder).mkdir(parents=True, exist_ok=True)
    path = ws.root / folder / f"{slug}-{image_id}.png"
    path.write_bytes(png((3, 2)))
    return path


# ------------------------------------------------------------------- the model
def test_an_unversioned_sidecar_reads_as_version_1_and_is_shown_unchanged() -> None:
    raw = UNVERSIONED.read_bytes()
    side = Sidecar.read(raw)
    assert side is not None and side.version == 1 == SIDECAR_VERSION
    assert side.easel_version == "0.1.0" and side.operation == "edit" and side.prompt == "Add a moon"
    assert side.parameters is not None and side.parameters.size == "auto" and side.parameters.n == 1
    assert side.inputs[0].id == "b371b6f64825" and side.parents == ["b371b6f64825"]
    assert side.job_id == "7190002760fb" and side.mask is not None and side.mask["convention"] == "white"
    assert side.ai_generated is False and side.cost_usd == 0.0 and side.width == side.height == 1024
    assert side.shown() == json.loads(raw)  # nothing added (no version), nothing lost


def test_round_trip_keeps_every_field_and_extra_keys() -> None:
    old = json.loads(UNVERSIONED.read_text())
    side = Sidecar.model_validate({**old, "version": SIDECAR_VERSION, "prompt": "Füchse 🦊", "seed": {"a": [1]}})
    data = side.dump()
    assert "Füchse 🦊" in data.decode("utf-8")  # UTF-8, not escapes
    assert data.decode().startswith('{\n  "version": 1,\n')  # indented, the version first
    again = Sidecar.read(data)
    assert again == side and again is not None and again.model_extra == {"seed": {"a": [1]}}
    assert set(json.loads(data)) == {*old, "version", "seed"}


def test_a_sidecar_built_without_a_version_is_written_with_one() -> None:
    side = Sidecar(prompt="fox")
    assert json.loads(side.dump()) == {"version": 1, "prompt": "fox"}
    assert Sidecar.read(side.dump()) == side


def test_a_newer_version_is_read_for_the_fields_it_shares() -> None:
    side = Sidecar.read(json.dumps({"version": 2, "prompt": "fox", "something_new": {"x": 1}}).encode())
    assert side is not None and side.version == 2 and side.prompt == "fox"
    assert side.shown() == {"version": 2, "prompt": "fox", "something_new": {"x": 1}}


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not json",
        b"[1, 2, 3]",
        b'"a string"',
        b'{"prompt": "\xff\xfe broken"}',
        b'{"cost_usd": NaN}',
        b'{"x": ' + b"[" * 100 + b"]" * 100 + b"}",
        b'{"width": ' + b"9" * 30 + b"}",
        b'{"width": "12"}',
        b'{"width": true}',
        b'{"version": 0}',
        b'{"version": "1"}',
        b'{"parents": "x"}',
        b'{"parameters": []}',
        b'{"inputs": [{"width": 1.5}]}',
        b'{"created_at": 5}',
    ],
)
def test_a_damaged_or_foreign_sidecar_reads_as_none(data: bytes) -> None:
    assert Sidecar.read(data) is None


def test_a_bad_sidecar_costs_only_its_own_images_details(ws: Workspace) -> None:
    good, bad = make_image(ws, "aaaaaaaaaaaa", slug="good"), make_image(ws, "bbbbbbbbbbbb", slug="bad")
    ws.write_sidecar(good, Sidecar(prompt="a fox", width=3, height=2))
    ws.sidecar_path(bad).write_text(json.dumps({"prompt": "x", "width": "wide"}))
    assert ws.read_sidecar(bad) is None
    index = ImageIndex(ws)
    try:
        index.refresh()
        entries = {e.id: e for e in index.query()[0]}
    finally:
        index.close()
    assert entries["aaaaaaaaaaaa"].prompt == "a fox"
    assert entries["bbbbbbbbbbbb"].prompt is None and entries["bbbbbbbbbbbb"].width == 3  # from the header


@pytest.mark.anyio
async def test_the_files_easel_writes_keep_the_keys_they_had(offline_settings: Settings) -> None:
    ws = offline_settings.workspace_path()
    mask = Image.new("L", (1024, 1024), 0)
    mask.paste(255, (100, 100, 400, 300))
    mask.save(ws / "mask.png")
    async with Client(build_server(offline_settings)) as client:
        first = structured(await client.call_tool("generate_image", {"prompt": "a fox", "preview": "none"}))
        source = first["images"][0]["id"]
        edit = {"prompt": "Add a moon", "images": [source], "mask": "mask.png", "preview": "none"}
        made = structured(await client.call_tool("edit_image", edit))
    written = json.loads(Path(made["images"][0]["path"]).with_suffix(".json").read_text())
    old = json.loads(UNVERSIONED.read_text())
    assert set(written) == {*old, "version"}
    assert written["version"] == 1 and written["parents"] == [source] and written["ai_generated"] is False
    assert written["mask"]["convention"] == "white" and set(written["mask"]) == set(old["mask"])
    assert set(written["parameters"]) == set(old["parameters"]) and set(written["inputs"][0]) == set(old["inputs"][0])


def test_a_job_with_unversioned_sidecars_is_recovered_and_rebuilt(ws: Workspace) -> None:
    """A call a crashed run left open, whose sidecar was written before the model: recovery settles it from
    the sidecar, and get_job's rebuild reads it."""
    old = json.loads(UNVERSIONED.read_text())
    started = datetime.now(UTC)
    folder = ws.root / day_folder(started)
    folder.mkdir()
    (folder / old["file"]).write_bytes(png((4, 4)))
    (folder / old["file"]).with_suffix(".json").write_bytes(UNVERSIONED.read_bytes())
    ledger = Ledger.open(ws.state_dir / "ledger.sqlite3")
    try:
        ledger.begin(
            tool="edit",
            provider="offline",
            model="gpt-image-1.5",
            params={},
            estimated_usd=0.04,
            reserve_usd=0.05,
            budgets=Budgets(),
            job_id=old["job_id"],
            now=started,
        )
        with ledger._conn() as conn:
            conn.execute("UPDATE attempts SET pid = ?", (2**31 - 2,))  # a process that is gone
        assert recover(ws, ledger) == 1
        rows = ledger.job_rows(old["job_id"])
        assert rows[-1]["status"] == "ok" and rows[-1]["outputs"] == [f"{day_folder(started)}/{old['file']}"]
        view = rebuild_job(ws, rows, old["job_id"])
    finally:
        ledger.close()
    assert view is not None and view.status == "done" and view.result is not None
    [image] = view.result.images
    assert image.id == old["id"] and (image.width, image.height) == (1024, 1024) and image.sha256 == old["sha256"]
    assert view.result.size == "auto" and view.result.quality == "auto"


# --------------------------------------------------------- the one id resolver
def test_the_resolver_finds_by_the_index_without_scanning(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    path = make_image(ws, "0123456789ab")
    index = ImageIndex(ws)
    try:
        assert ws.index is index
        index.refresh()

        def no_scan(*_: object) -> None:
            raise AssertionError("the folders were scanned")

        monkeypatch.setattr(workspace_module.os, "scandir", no_scan)
        assert ws.find_image("0123456789ab") == path
        assert ws.resolve_input("easel://images/0123456789ab") == path
    finally:
        index.close()


def test_the_resolver_scans_without_an_index_or_when_it_lacks_the_id(ws: Workspace) -> None:
    assert ws.index is None
    path = make_image(ws, "0123456789ab")
    assert ws.find_image("0123456789ab") == path
    index = ImageIndex(ws)
    try:
        index.refresh()
        later = make_image(ws, "ba9876543210", folder="2026-03-15")  # written after the last scan
        assert index.get("ba9876543210") is None
        assert ws.find_image("ba9876543210") == later
        assert find_entry(index, ws, "ba9876543210").relative_path == "2026-03-15/" + later.name  # brought up to date
        outside_days = make_image(ws, "cccccccccccc", folder="imports")  # never indexed: the scan finds it
        assert ws.find_image("cccccccccccc") == outside_days
        entry = find_entry(index, ws, "cccccccccccc")
        assert entry.relative_path == "imports/" + outside_days.name and (entry.width, entry.height) == (3, 2)
    finally:
        index.close()


def test_the_resolver_scans_when_the_index_fails(ws: Workspace) -> None:
    path = make_image(ws, "0123456789ab")

    class Broken:
        def get(self, image_id: str) -> None:
            raise sqlite3.OperationalError("disk I/O error")

    ws.index = Broken()
    assert ws.find_image("0123456789ab") == path
    ws.index = None
    (ws.state_dir / "index.sqlite3").write_bytes(b"not a database" * 100)  # damaged: rebuilt, then asked
    index = ImageIndex(ws)
    try:
        assert ws.find_image("0123456789ab") == path and index.get("0123456789ab") is not None
    finally:
        index.close()


def test_the_resolver_refuses_links(ws: Workspace, tmp_path: Path) -> None:
    secret = tmp_path / "outside" / "secret.png"
    secret.parent.mkdir()
    secret.write_bytes(png((5, 5)))
    path = make_image(ws, "0123456789ab")
    index = ImageIndex(ws)
    try:
        index.refresh()
        path.unlink()
        path.symlink_to(secret)  # indexed as a file, now a link: refused, never followed
        with pytest.raises(PathNotAllowed, match="link"):
            ws.find_image("0123456789ab")
        with pytest.raises(PathNotAllowed):
            find_entry(index, ws, "0123456789ab")
        ws.index = None
        with pytest.raises(ImageNotFound, match="no image with id"):  # the scan skips links
            ws.find_image("0123456789ab")
        (ws.root / "2026-03-16").symlink_to(secret.parent, target_is_directory=True)
        os.rename(secret, secret.with_name("linked-fedcba987654.png"))
        with pytest.raises(ImageNotFound):  # a day folder that is a link is never entered
            ws.find_image("fedcba987654")
    finally:
        index.close()


def test_an_image_gone_since_it_was_indexed_is_not_found(ws: Workspace) -> None:
    path = make_image(ws, "0123456789ab")
    index = ImageIndex(ws)
    try:
        index.refresh()
        path.unlink()
        with pytest.raises(ImageNotFound, match="no image with id 0123456789ab"):
            ws.find_image("0123456789ab")
        # Its details are still the index's (a shared index: the file may be on another replica) until a refresh.
        assert find_entry(index, ws, "0123456789ab").relative_path == f"{DAY}/{path.name}"
        index.refresh()  # the folder changed: the entry is dropped
        with pytest.raises(ImageNotFound):
            find_entry(index, ws, "0123456789ab")
        with pytest.raises(ImageNotFound, match="not an image id"):
            ws.find_image("../../etc/passwd")
    finally:
        index.close()


def test_another_users_id_is_not_found(ws: Workspace) -> None:
    alice, bob = ws.for_user("alice"), ws.for_user("bob")
    path = make_image(alice, "0123456789ab")
    indexes = [ImageIndex(alice), ImageIndex(bob), ImageIndex(ws)]
    try:
        for index in indexes:
            index.refresh()
        assert alice.find_image("0123456789ab") == path
        for other in (bob, ws):
            with pytest.raises(ImageNotFound, match="no image with id"):
                other.find_image("0123456789ab")
    finally:
        for index in indexes:
            index.close()
