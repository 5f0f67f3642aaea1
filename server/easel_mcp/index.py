"""The image index: a SQLite cache of the sidecars at <workspace>/.easel/index.sqlite3.

refresh() lists the top-level day folders (<root>/YYYY-MM-DD) and rescans only those that are new, gone, or
whose mtime changed since their last scan (adding, deleting or renaming a file changes its folder's mtime); in a
rescanned folder only files whose (mtime, size) or sidecar changed are read again. A folder changed within
RACY_NS of its scan is scanned again next time (coarse file-system clocks). An image without a sidecar is
indexed from its file header (operation "unknown"); a sidecar without its image is ignored. Sidecars edited in
place (no rename) are seen when their folder next changes, or with refresh(full=True).

Thread-safe (one connection per thread) and shared safely with other processes (WAL, busy timeout). Every
method is synchronous file and SQLite work: call it from a worker thread.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sqlite3
import stat
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import datetime
from functools import lru_cache, wraps
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from easel_mcp.imaging.formats import SUFFIX_FORMATS as FORMATS
from easel_mcp.index_common import DAY_FOLDER, IndexRow, lineage_of, written_rows
from easel_mcp.index_rows import (
    ENTRY_FIELDS,
    encode_cursor,
    entry_of,
    read_row,
    stamp_of,
    utf8_name,
)
from easel_mcp.index_rows import ImageEntry as ImageEntry  # re-exported: the index's entries
from easel_mcp.index_rows import decode_cursor as decode_cursor  # re-exported
from easel_mcp.sqlite import connect, damaged
from easel_mcp.times import index_time
from easel_mcp.workspace import STATE_DIR, Workspace
from easel_mcp.workspace_files import real_dir

log = logging.getLogger("easel_mcp")

INDEX_FILE = "index.sqlite3"
SCHEMA_VERSION = 1
RACY_NS = 2_000_000_000
_SELECT = "SELECT " + ", ".join(ENTRY_FIELDS) + " FROM images"
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS folders (name TEXT PRIMARY KEY, mtime_ns INTEGER NOT NULL, count INTEGER NOT NULL,"
    " scanned_ns INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS images (rid INTEGER PRIMARY KEY, relative_path TEXT NOT NULL UNIQUE,"
    " folder TEXT NOT NULL, id TEXT NOT NULL, created_at TEXT NOT NULL, operation TEXT NOT NULL, prompt TEXT,"
    " model TEXT, provider TEXT, width INTEGER, height INTEGER, format TEXT NOT NULL, bytes INTEGER NOT NULL,"
    " cost_usd REAL, parents TEXT NOT NULL, name_slug TEXT NOT NULL, search TEXT NOT NULL, stamp TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS images_order ON images (created_at DESC, id DESC, relative_path DESC)",
    "CREATE INDEX IF NOT EXISTS images_id ON images (id)",
    "CREATE INDEX IF NOT EXISTS images_folder ON images (folder)",
    "CREATE TABLE IF NOT EXISTS edges (parent TEXT NOT NULL, child_path TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS edges_parent ON edges (parent)",
    "CREATE INDEX IF NOT EXISTS edges_child ON edges (child_path)",
)


P = ParamSpec("P")
R = TypeVar("R")


def _rebuilt_when_damaged(method: Callable[Concatenate[ImageIndex, P], R]) -> Callable[Concatenate[ImageIndex, P], R]:
    """The index is a cache: when its file is damaged (not a database, corrupt pages, a foreign schema),
    discard it, rescan the workspace and run the call once more, instead of failing every call from now on."""

    @wraps(method)
    def run(self: ImageIndex, /, *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.DatabaseError as e:
            if not damaged(e):
                raise
            self._discard(e)
        if method.__name__ != "refresh":
            self.refresh(full=True)
        return method(self, *args, **kwargs)

    return run


@lru_cache(maxsize=1)
def fts5_available() -> bool:
    """True when this SQLite has FTS5 with the trigram tokenizer (substring search)."""
    conn = sqlite3.connect(":memory:")
    try:
        conn.execute("CREATE VIRTUAL TABLE t USING fts5(s, tokenize='trigram')")
    except sqlite3.Error:
        return False
    finally:
        conn.close()
    return True


class ImageIndex:
    """The workspace's images, newest first, searchable, with their lineage."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.path = workspace.root / STATE_DIR / INDEX_FILE
        self._local = threading.local()
        self._lock = threading.Lock()
        self._refresh_lock = threading.Lock()
        self._writes = threading.Lock()  # this process's writers queue here, not in SQLite's sleeping busy handler
        self._connections: list[sqlite3.Connection] = []
        self._writer_lock = threading.Lock()
        self._writer_conn: sqlite3.Connection | None = None
        self._fts: bool | None = None
        workspace.index = self  # the workspace's id resolver asks this index first

    # ---------------------------------------------------------------- plumbing
    def _conn(self) -> sqlite3.Connection:
        """This thread's connection (opened on the thread's first use)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._open()
        return conn

    def _writer(self) -> sqlite3.Connection:
        """The one connection the written images are noted through (under `_writes`): a burst of calls on
        fresh worker threads opens no connections."""
        with self._writer_lock:
            if self._writer_conn is None:
                self._writer_conn = self._open()
            return self._writer_conn

    def _open(self) -> sqlite3.Connection:
        with real_dir(self.workspace.root, (STATE_DIR,), what="Easel's state folder"):
            pass
        for file in self._files():  # a link planted here would make SQLite write through it
            with suppress(FileNotFoundError):
                if not stat.S_ISREG(file.lstat().st_mode):
                    file.unlink()
        conn = connect(self.path)
        with self._lock:
            try:
                if self._fts is None:
                    conn.execute("PRAGMA journal_mode = WAL")
                    self._fts = self._setup(conn)
            except BaseException:
                conn.close()
                raise
            self._connections.append(conn)
        return conn

    def _setup(self, conn: sqlite3.Connection) -> bool:
        with self._write(conn):
            if conn.execute("PRAGMA user_version").fetchone()[0] not in (0, SCHEMA_VERSION):
                for table in ("images", "folders", "edges", "images_fts"):  # a cache: rebuilt, never migrated
                    with suppress(sqlite3.Error):
                        conn.execute(f"DROP TABLE IF EXISTS {table}")
            for statement in _SCHEMA:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            has_fts = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'images_fts'").fetchone() is not None
            if not fts5_available():
                if has_fts:
                    with suppress(sqlite3.Error):
                        conn.execute("DROP TABLE images_fts")
                return False
            if not has_fts:
                conn.execute("CREATE VIRTUAL TABLE images_fts USING fts5(search, tokenize='trigram')")
                conn.execute("INSERT INTO images_fts (rowid, search) SELECT rid, search FROM images")
            return True

    @contextmanager
    def _write(self, conn: sqlite3.Connection | None = None) -> Iterator[sqlite3.Connection]:
        """A write transaction on `conn` (by default the writer connection), queued behind this process's others."""
        conn = self._writer() if conn is None else conn
        with self._writes:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def close(self) -> None:
        with self._writer_lock:  # never held together with _lock (the writer is opened under both in turn)
            self._writer_conn = None
        with self._lock:
            connections, self._connections, self._local = self._connections, [], threading.local()
        for conn in connections:
            conn.close()

    def _files(self) -> list[Path]:
        return [self.path.with_name(self.path.name + suffix) for suffix in ("", "-wal", "-shm", "-journal")]

    def _discard(self, error: sqlite3.Error) -> None:
        """Throw the damaged cache away; the next connection starts an empty one, filled by the next refresh."""
        log.warning("the image index %s is damaged (%s): rebuilding it from the workspace", self.path, error)
        self.close()
        with self._lock:
            self._fts = None
        for file in self._files():
            with suppress(FileNotFoundError):
                file.unlink()

    # ------------------------------------------------------------------ scans
    @_rebuilt_when_damaged
    def refresh(self, *, full: bool = False) -> int:
        """Bring the index up to date with the day folders; return how many entries changed."""
        with self._refresh_lock:
            conn = self._conn()
            seen: dict[str, int] = {}
            with suppress(FileNotFoundError), os.scandir(self.workspace.root) as listing:
                for entry in listing:
                    if DAY_FOLDER.match(entry.name) and entry.is_dir(follow_symlinks=False):
                        seen[entry.name] = entry.stat(follow_symlinks=False).st_mtime_ns
            known = {r[0]: (r[1], r[2]) for r in conn.execute("SELECT name, mtime_ns, scanned_ns FROM folders")}
            indexed = {r[0] for r in conn.execute("SELECT DISTINCT folder FROM images")}
            changed = sum(self._drop_folder(conn, name) for name in (known.keys() | indexed) - seen.keys())
            for name, mtime_ns in sorted(seen.items()):
                state = known.get(name)
                if full or state is None or state[0] != mtime_ns or mtime_ns + RACY_NS >= state[1]:
                    changed += self._scan_folder(conn, name, mtime_ns)
            return changed

    def _drop_folder(self, conn: sqlite3.Connection, name: str) -> int:
        with self._write(conn):
            rels = [r[0] for r in conn.execute("SELECT relative_path FROM images WHERE folder = ?", (name,))]
            for rel in rels:
                self._delete(conn, rel)
            conn.execute("DELETE FROM folders WHERE name = ?", (name,))
        return len(rels)

    def _scan_folder(self, conn: sqlite3.Connection, name: str, mtime_ns: int) -> int:
        scanned_ns = time.time_ns()
        try:
            with os.scandir(self.workspace.root / name) as listing:
                files = {e.name: e for e in listing if e.is_file(follow_symlinks=False)}
        except (FileNotFoundError, NotADirectoryError):
            return self._drop_folder(conn, name)
        stored = dict(conn.execute("SELECT relative_path, stamp FROM images WHERE folder = ?", (name,)).fetchall())
        present: set[str] = set()
        rows: list[dict[str, Any]] = []
        for file_name, entry in files.items():
            if Path(file_name).suffix.lower() not in FORMATS or file_name.startswith(".") or not utf8_name(file_name):
                continue
            side = files.get(Path(file_name).stem + ".json")
            try:
                st = entry.stat(follow_symlinks=False)
                side_st = side.stat(follow_symlinks=False) if side else None
            except FileNotFoundError:
                continue
            rel = f"{name}/{file_name}"
            present.add(rel)
            stamp = stamp_of(st, side_st)
            if stored.get(rel) != stamp:
                rows.append(read_row(self.workspace, Path(entry.path), rel, stamp))
        gone = stored.keys() - present
        with self._write(conn):
            for rel in gone:
                self._delete(conn, rel)
            for row in rows:
                self._upsert(conn, row)
            conn.execute(
                "INSERT OR REPLACE INTO folders (name, mtime_ns, count, scanned_ns) VALUES (?, ?, ?, ?)",
                (name, mtime_ns, len(present), scanned_ns),
            )
        if rows or gone:
            log.debug("index: %s: %d updated, %d removed", name, len(rows), len(gone))
        return len(rows) + len(gone)

    def note_written(self, image_paths: Sequence[Path]) -> None:
        """Index images the server has just written (their sidecars beside them) without waiting for a scan."""
        rows, gone = written_rows(self.workspace, image_paths)
        self.note_rows(rows, gone)

    @_rebuilt_when_damaged
    def note_rows(self, rows: Sequence[IndexRow], gone: Sequence[str] = ()) -> None:
        """Add or replace these rows (as index_rows.read_row builds them); drop the entries at the `gone` paths."""
        with self._write() as conn:
            for rel in gone:
                self._delete(conn, rel)
            for row in rows:
                self._upsert(conn, row)

    def _upsert(self, conn: sqlite3.Connection, row: dict[str, Any]) -> None:
        columns = list(row)
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c != "relative_path")
        rid = conn.execute(
            f"INSERT INTO images ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
            f" ON CONFLICT (relative_path) DO UPDATE SET {updates} RETURNING rid",
            [row[c] for c in columns],
        ).fetchone()[0]
        conn.execute("DELETE FROM edges WHERE child_path = ?", (row["relative_path"],))
        conn.executemany(
            "INSERT INTO edges (parent, child_path) VALUES (?, ?)",
            [(p, row["relative_path"]) for p in json.loads(row["parents"])],
        )
        if self._fts:
            conn.execute("DELETE FROM images_fts WHERE rowid = ?", (rid,))
            conn.execute("INSERT INTO images_fts (rowid, search) VALUES (?, ?)", (rid, row["search"]))

    def _delete(self, conn: sqlite3.Connection, rel: str) -> None:
        for (rid,) in conn.execute("DELETE FROM images WHERE relative_path = ? RETURNING rid", (rel,)).fetchall():
            if self._fts:
                conn.execute("DELETE FROM images_fts WHERE rowid = ?", (rid,))
        conn.execute("DELETE FROM edges WHERE child_path = ?", (rel,))

    # ---------------------------------------------------------------- queries
    @_rebuilt_when_damaged
    def query(
        self,
        *,
        text: str | None = None,
        since: datetime | None = None,
        model: str | None = None,
        tool: str | None = None,
        limit: int = 20,
        cursor: str | None = None,
    ) -> tuple[list[ImageEntry], str | None]:
        """Newest first; `text` terms all match (case-insensitive substrings of the prompt, name, model,
        operation); keyset pagination: pass the returned cursor back for the next page (None at the end).
        Raises ValueError for a cursor it did not return and for filters that are not text (NUL, surrogates)."""
        from easel_mcp.text_checks import check_text

        for name, value in (("the query", text), ("the model filter", model), ("the tool filter", tool)):
            check_text(name, value)
        conn = self._conn()
        limit = max(1, min(int(limit), 500))
        where: list[str] = []
        args: list[Any] = []
        for term in (text or "").lower().split()[:16]:
            if self._fts and len(term) >= 3:
                where.append("rid IN (SELECT rowid FROM images_fts WHERE images_fts MATCH ?)")
                args.append('"' + term.replace('"', '""') + '"')
            else:
                where.append("search LIKE ? ESCAPE '\\'")
                args.append("%" + re.sub(r"([%_\\])", r"\\\1", term) + "%")
        if since is not None:
            where.append("created_at >= ?")
            args.append(index_time(since))
        if model:
            where.append("model = ?")
            args.append(model)
        if tool:
            where.append("operation = ?")
            args.append(tool.removesuffix("_image"))
        if cursor:
            where.append("(created_at, id, relative_path) < (?, ?, ?)")
            args.extend(decode_cursor(cursor))
        sql = _SELECT + (" WHERE " + " AND ".join(where) if where else "")
        sql += " ORDER BY created_at DESC, id DESC, relative_path DESC LIMIT ?"
        entries = [entry_of(r) for r in conn.execute(sql, [*args, limit + 1])]
        if len(entries) <= limit:
            return entries, None
        last = entries[limit - 1]
        return entries[:limit], encode_cursor(last.created_at, last.id, last.relative_path)

    @_rebuilt_when_damaged
    def get(self, image_id: str) -> ImageEntry | None:
        row = self._conn().execute(_SELECT + " WHERE id = ? ORDER BY created_at DESC LIMIT 1", (image_id,)).fetchone()
        return entry_of(row) if row else None

    @_rebuilt_when_damaged
    def children(self, image_id: str) -> list[ImageEntry]:
        sql = (
            _SELECT + " WHERE relative_path IN (SELECT child_path FROM edges WHERE parent = ?) ORDER BY created_at, id"
        )
        return [entry_of(r) for r in self._conn().execute(sql, (image_id,))]

    def lineage(self, image_id: str, depth: int = 10) -> dict[str, Any]:
        """Ancestors and descendants up to `depth` steps (see index_common.lineage_of)."""
        return lineage_of(self, image_id, depth)

    @_rebuilt_when_damaged
    def count(self) -> int:
        return int(self._conn().execute("SELECT COUNT(*) FROM images").fetchone()[0])

    @_rebuilt_when_damaged
    def facets(self) -> dict[str, list[str]]:
        """The models and operations present, for filter menus."""
        conn = self._conn()
        models = [r[0] for r in conn.execute("SELECT DISTINCT model FROM images WHERE model IS NOT NULL ORDER BY 1")]
        tools = [r[0] for r in conn.execute("SELECT DISTINCT operation FROM images ORDER BY 1")]
        return {"models": models, "tools": tools}
