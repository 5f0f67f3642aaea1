"""The image index in PostgreSQL (a throwaway cluster): the same answers as the SQLite index, shared by replicas
that write into different folders, scoped to one user, filled on write and by a one-time backfill."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from easel_mcp.errors import DatabaseUnavailable
from easel_mcp.index import ImageIndex
from easel_mcp.index_common import folder_rows
from easel_mcp.settings import Settings
from easel_mcp.storage.ports import ImageIndexPort, open_index
from easel_mcp.storage.postgres_index import PostgresImageIndex
from easel_mcp.storage.postgres_ledger import PostgresLedger
from easel_mcp.workspace import Workspace
from tests.test_index import T0, age_folders, make_image


@pytest.fixture
def database(postgres_url: str) -> Iterator[PostgresLedger]:
    ledger = PostgresLedger(postgres_url, max_connections=4)
    yield ledger
    ledger.close()


def pg(database: PostgresLedger, root: Path, user: str | None = None) -> PostgresImageIndex:
    return PostgresImageIndex(database.connection, Workspace.open(root), user)


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[Path], ImageIndexPort]]:
    """Makes the index of a workspace folder with either backend."""
    made: list[ImageIndexPort] = []
    database: PostgresLedger | None = None
    if request.param == "postgres":
        database = PostgresLedger(request.getfixturevalue("postgres_url"), max_connections=4)

    def make(root: Path) -> ImageIndexPort:
        index: ImageIndexPort = ImageIndex(Workspace.open(root)) if database is None else pg(database, root)
        made.append(index)
        return index

    yield make
    for index in made:
        index.close()
    if database is not None:
        database.close()


def a_workspace(root: Path) -> dict[str, str]:
    """A small workspace with equal timestamps, several days, an edit chain and text that needs escaping."""
    made: dict[str, str] = {}
    made["fox"], _ = make_image(root, slug="red-fox", prompt="A RED fox in deep snow", model="gpt-image-1.5")
    made["whale"], _ = make_image(
        root,
        slug="whale",
        prompt="A blue whale 100% happy_face \\o/",
        model="gemini-2.5-flash-image",
        operation="edit",
        parents=[made["fox"]],
        created_at=(T0 + timedelta(days=2)).isoformat(),
    )
    made["moon"], _ = make_image(
        root,
        slug="moon",
        prompt="Moon over a lake",
        operation="inpaint",
        parents=[made["whale"]],
        created_at=(T0 + timedelta(days=5)).isoformat(),
    )
    made["bare"], _ = make_image(root, slug="no-sidecar", sidecar=False, day="2026-03-20")
    for i in range(12):  # equal timestamps across days: pages break ties by id, then path
        made[f"tie{i}"], _ = make_image(
            root, day=f"2026-03-{10 + i % 3}", slug=f"tie-{i}", prompt=f"tie {i}", parents=[made["fox"]]
        )
    return made


def test_the_same_answers_as_the_sqlite_index(database: PostgresLedger, tmp_path: Path) -> None:
    made = a_workspace(tmp_path / "ws")
    lite, post = ImageIndex(Workspace.open(tmp_path / "ws")), pg(database, tmp_path / "ws")
    assert lite.refresh() == post.refresh() == len(made)
    assert post.refresh() == 0  # the backfill runs once
    assert post.count() == lite.count() == len(made)
    assert post.facets() == lite.facets()
    for kw in ({}, {"text": "fox"}, {"text": "A"}, {"text": "100%"}, {"text": "_"}, {"text": "\\o/"},
               {"tool": "edit_image"}, {"model": "gpt-image-1.5"}, {"since": T0 + timedelta(days=1)},
               {"text": "tie", "model": "gpt-image-1.5", "since": T0}):  # fmt: skip
        cursor_l = cursor_p = None
        while True:
            page_l, cursor_l = lite.query(limit=5, cursor=cursor_l, **kw)  # type: ignore[arg-type]
            page_p, cursor_p = post.query(limit=5, cursor=cursor_p, **kw)  # type: ignore[arg-type]
            assert page_p == page_l and cursor_p == cursor_l, kw
            if cursor_l is None:
                break
    for image_id in made.values():
        assert post.get(image_id) == lite.get(image_id)
        assert post.children(image_id) == lite.children(image_id)
        assert post.lineage(image_id) == lite.lineage(image_id)
    assert post.get("000000000000") is None and post.children("000000000000") == []
    lite.close()


def test_bad_cursors_and_filters_are_refused_the_same_way(backend: Callable[[Path], ImageIndexPort]) -> None:
    index = backend(Path("/nonexistent-easel-workspace"))
    with pytest.raises(ValueError, match="cursor"):
        index.query(cursor="not-a-cursor")
    with pytest.raises(ValueError, match="NUL"):
        index.query(text="a\x00b")
    with pytest.raises(ValueError, match="surrogate"):
        index.query(model="\ud800")
    assert index.query() == ([], None) and index.count() == 0


def test_filters(backend: Callable[[Path], ImageIndexPort], workspace_dir: Path) -> None:
    made = a_workspace(workspace_dir)
    index = backend(workspace_dir)
    index.refresh()

    def q(**kw: Any) -> set[str]:
        return {e.id for e in index.query(limit=50, **kw)[0]}

    fox, whale, moon = made["fox"], made["whale"], made["moon"]
    assert q(text="fox") == {fox} and q(text="red snow") == {fox} and q(text="red whale") == set()
    assert q(text="SNOW") == {fox} and q(text="red-fox") == {fox} and q(text="ox") == {fox}
    assert q(text="gemini") == {whale} and q(text="inpaint") == {moon}
    assert q(text="100%") == {whale} and q(text="happy_") == {whale} and q(text="%") == {whale}
    assert q(text='"') == set()
    assert q(tool="edit") == {whale} and q(tool="edit_image") == {whale}
    later = {whale, moon, made["bare"]}  # an image without a sidecar dates from its file's mtime
    assert q(since=T0 + timedelta(days=1)) == later
    assert q(since=(T0 + timedelta(days=1)).replace(tzinfo=None)) == later  # naive is UTC
    assert q(text="a", model="gpt-image-1.5", since=T0 + timedelta(days=3)) == {moon}
    assert {e.id for e in index.children(fox)} == {whale} | {made[f"tie{i}"] for i in range(12)}
    assert {n["id"]: n["level"] for n in index.lineage(whale)["nodes"]} == {fox: -1, whale: 0, moon: 1}


def test_two_replicas_in_different_folders_share_one_index(database: PostgresLedger, tmp_path: Path) -> None:
    one, two = pg(database, tmp_path / "one"), pg(database, tmp_path / "two")
    assert one.refresh() == 0 and two.refresh() == 0
    image_id, path = make_image(tmp_path / "one", prompt="written by replica one")
    one.note_written([path])
    entry = two.get(image_id)
    assert entry is not None and entry.prompt == "written by replica one"
    assert [e.id for e in two.query(text="replica one")[0]] == [image_id] and two.count() == 1
    assert two.refresh(full=True) == 0 and two.get(image_id) == entry  # a refresh never drops others' rows
    path.unlink()
    one.note_written([path])  # the writer says it is gone
    assert two.get(image_id) is None and two.count() == 0


def test_a_user_never_sees_another_users_images(database: PostgresLedger, tmp_path: Path) -> None:
    alice, bob = pg(database, tmp_path / "alice", "alice"), pg(database, tmp_path / "bob", "bob")
    root, root_path = make_image(tmp_path / "alice", prompt="alice's kite", model="gpt-image-1.5")
    child, child_path = make_image(tmp_path / "alice", prompt="alice's kite at night", parents=[root])
    alice.note_written([root_path, child_path])
    assert alice.count() == 2 and alice.children(root)[0].id == child
    assert bob.query() == ([], None) and bob.query(text="kite") == ([], None) and bob.count() == 0
    assert bob.get(root) is None and bob.get(child) is None and bob.children(root) == []
    assert bob.facets() == {"models": [], "tools": []}
    assert [n["present"] for n in bob.lineage(root)["nodes"]] == [False]
    # The same relative path in bob's own folder is his, and does not replace alice's.
    (tmp_path / "bob" / child_path.parent.name).mkdir(parents=True)
    (tmp_path / "bob" / child_path.relative_to(tmp_path / "alice")).write_bytes(child_path.read_bytes())
    assert bob.refresh() == 1 and bob.count() == 1 and bob.get(child).prompt is None  # type: ignore[union-attr]
    assert alice.get(child).prompt == "alice's kite at night"  # type: ignore[union-attr]
    anyone = pg(database, tmp_path / "alice")  # the user without OAuth is another user still
    assert anyone.count() == 0 and anyone.get(root) is None


def test_refresh_reads_new_and_changed_folders_and_makes_good_a_failed_write(
    database: PostgresLedger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "ws"
    first, first_path = make_image(root, prompt="there before start")
    make_image(root, day="2026-03-01")
    age_folders(root)
    failing = {"now": False}

    def connect() -> AbstractContextManager[Any]:
        if failing["now"]:
            raise DatabaseUnavailable("the ledger database is unreachable")
        return database.connection()

    index = PostgresImageIndex(connect, Workspace.open(root), None)
    assert index.refresh() == 2 and index.get(first) is not None
    scanned: list[str] = []
    monkeypatch.setattr(
        "easel_mcp.storage.postgres_index.folder_rows",
        lambda ws, days, known: (scanned.extend(days), folder_rows(ws, days, known))[1],
    )
    assert index.refresh() == 0 and scanned == []  # nothing changed: no folder read
    by_hand, _ = make_image(root, day="2026-03-01", prompt="copied in by hand")
    assert index.refresh() == 1 and scanned == ["2026-03-01"] and index.get(by_hand) is not None
    late, late_path = make_image(root, prompt="written while the database was down")
    age_folders(root)  # the folder's mtime back to what the last scan saw: only the failed write tells
    assert index.refresh() == 0
    failing["now"] = True
    with pytest.raises(DatabaseUnavailable):
        index.note_written([late_path])
    failing["now"] = False
    assert index.get(late) is None
    assert index.refresh() == 1 and index.get(late) is not None  # every folder read again after the failure
    side = first_path.with_suffix(".json")  # edited in place: the folder's mtime does not move
    side.write_text(json.dumps({**json.loads(side.read_text()), "prompt": "edited"}) + " ")
    age_folders(root)
    assert index.refresh() == 0 and index.refresh(full=True) == 1
    assert index.get(first).prompt == "edited"  # type: ignore[union-attr]


def test_text_postgresql_cannot_store_is_replaced_not_fatal(database: PostgresLedger, tmp_path: Path) -> None:
    image_id, path = make_image(tmp_path / "ws", prompt="a NUL \x00 and a lone \ud800 surrogate", width=2**40)
    index = pg(database, tmp_path / "ws")
    index.note_written([path])
    entry = index.get(image_id)
    assert entry is not None and entry.prompt == "a NUL \ufffd and a lone ? surrogate"
    assert (entry.width, entry.height) == (None, 2)


def test_open_index_follows_the_settings(database: PostgresLedger, postgres_url: str, workspace_dir: Path) -> None:
    ws = Workspace.open(workspace_dir)
    lite = open_index(Settings(workspace=workspace_dir), ws, None)
    assert isinstance(lite, ImageIndex)
    lite.close()
    team = Settings(workspace=workspace_dir, database_url=postgres_url)  # type: ignore[call-arg]
    shared = open_index(team, ws, "alice", database)
    assert isinstance(shared, PostgresImageIndex) and shared.user == "alice"
    own = open_index(team, ws, None)  # without the ledger: a small pool of its own, closed with the index
    assert own.count() == 0
    own.close()
    with database.connection() as conn:
        names = {r["name"] for r in conn.execute("SELECT name FROM easel_migrations")}
        trgm = conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'").fetchone()
        search = conn.execute("SELECT 1 FROM pg_indexes WHERE indexname = 'images_search'").fetchone()
    assert "006_images" in names
    assert (search is not None) == (trgm is not None)  # substring search indexed where pg_trgm exists
