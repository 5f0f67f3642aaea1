"""The workspace: names never collide, writes are atomic, inputs never escape the sandbox."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from easel_mcp.errors import ConfigurationError, ImageNotFound, PathNotAllowed
from easel_mcp.schemas.sidecar import Sidecar
from easel_mcp.workspace import Workspace, slugify


@pytest.fixture
def ws(workspace_dir: Path) -> Workspace:
    return Workspace.open(workspace_dir)


def test_slugify() -> None:
    assert slugify("A red fox, in snow!") == "a-red-fox-in-snow"
    assert slugify("   ") == "image"
    assert slugify("Ünïcödé café") == "unicode-cafe"
    assert len(slugify("word " * 40)) <= 48


def test_names_never_collide_under_concurrency(ws: Workspace) -> None:
    with ThreadPoolExecutor(max_workers=16) as pool:
        files = list(pool.map(lambda i: ws.write_image(f"data {i}".encode(), ext="png", label="same"), range(200)))
    assert len({f.path for f in files}) == 200
    assert len({f.id for f in files}) == 200
    for i, f in enumerate(files):
        assert f.path.read_bytes() == f"data {i}".encode()
        assert f.path.name.startswith("same-") and f.path.parent.parent == ws.root
    assert list((ws.state_dir / "tmp").iterdir()) == []


def test_write_never_overwrites(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    first = ws.write_image(b"one", ext="png", label="x")
    ids = iter([first.id, "aaaaaaaaaaaa"])
    monkeypatch.setattr("easel_mcp.workspace.secrets.token_hex", lambda n: next(ids))
    second = ws.write_image(b"two", ext="png", label="x")
    assert second.id == "aaaaaaaaaaaa"
    assert first.path.read_bytes() == b"one"


def test_failed_write_leaves_nothing_behind(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(OSError, match="disk full"):
        ws.write_image(b"data", ext="png", label="x")
    assert list((ws.state_dir / "tmp").iterdir()) == []
    assert not any(p.suffix == ".png" for p in ws.root.rglob("*"))


def test_sidecar_round_trip_and_id_lookup(ws: Workspace) -> None:
    f = ws.write_image(b"img", ext="webp", label="fox")
    ws.write_sidecar(f.path, Sidecar(prompt="fox"))
    assert ws.read_sidecar(f.path) == Sidecar(prompt="fox")
    assert ws.find_image(f.id) == f.path
    assert ws.resolve_input(f.id) == f.path
    assert ws.resolve_input(f"easel://images/{f.id}") == f.path
    assert ws.resolve_input(f.relative_path) == f.path
    assert ws.resolve_input(str(f.path)) == f.path
    assert ws.resolve_input(f.path.as_uri()) == f.path
    assert Workspace.id_of(f.path) == f.id


@pytest.mark.parametrize(
    "ref",
    [
        "../outside.png",
        "/etc/passwd",
        "file:///etc/passwd",
        "~/../../etc/passwd",
        "..\\..\\x.png",
        "https://example.com/a.png",
        "a\x00b.png",
        "x" * 5000,
        "file://otherhost/a.png",
        ".easel/ledger.sqlite3",
    ],
)
def test_traversal_is_refused(ws: Workspace, ref: str, tmp_path: Path) -> None:
    (tmp_path / "outside.png").write_bytes(b"secret")
    (ws.state_dir / "ledger.sqlite3").write_bytes(b"db")
    with pytest.raises((PathNotAllowed, ImageNotFound)):
        ws.resolve_input(ref)


def test_symlink_escape_is_refused(ws: Workspace, tmp_path: Path) -> None:
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"secret")
    (ws.root / "link.png").symlink_to(secret)
    (ws.root / "dirlink").symlink_to(tmp_path)
    with pytest.raises(PathNotAllowed, match="outside the workspace"):
        ws.resolve_input("link.png")
    with pytest.raises(PathNotAllowed):
        ws.resolve_input("dirlink/secret.png")


def test_symlink_inside_is_fine(ws: Workspace) -> None:
    f = ws.write_image(b"img", ext="png", label="x")
    (ws.root / "alias.png").symlink_to(f.path)
    assert ws.resolve_input("alias.png") == f.path


def test_input_dirs_are_allowed_read_only(tmp_path: Path, workspace_dir: Path) -> None:
    extra = tmp_path / "photos"
    extra.mkdir()
    (extra / "a.png").write_bytes(b"x")
    ws = Workspace.open(workspace_dir, [extra])
    assert ws.resolve_input(str(extra / "a.png")) == (extra / "a.png").resolve()


def test_missing_file_names_the_workspace(ws: Workspace) -> None:
    with pytest.raises(ImageNotFound, match=str(ws.root)):
        ws.resolve_input("nope.png")
    with pytest.raises(ImageNotFound):
        ws.resolve_input("0123456789ab")


def test_root_workspace_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="root of the file system"):
        Workspace.open(Path("/"))
