"""The image index in PostgreSQL (`EASEL_DATABASE_URL`): one `images` table (migration 006) shared by every
replica, so an image written by one replica is listed and found by id by all of them.

Each instance is one user's view (the OAuth subject; "" in the table for the user without OAuth): every
statement filters on the user, so another user's id is simply not found. Rows are the ones `index_rows.read_row`
builds; they arrive on write (`note_written`, from the replica that wrote the image) and from `refresh`, which
reads this replica's day folders (all of them the first time, then those whose mtime changed, as the SQLite index
does) and writes the rows the table lacks or holds with another stamp. A refresh never drops rows: the folder of
one replica is not the whole index. Answers, order, cursors and errors are the SQLite index's (`index.py`).

Synchronous (a pooled connection per statement, usually the ledger's pool): call from a worker thread.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Any

from easel_mcp.index import RACY_NS
from easel_mcp.index_common import IndexRow, day_folders, folder_rows, lineage_of, search_terms, written_rows
from easel_mcp.index_rows import ENTRY_FIELDS, ImageEntry, decode_cursor, encode_cursor
from easel_mcp.times import index_time

if TYPE_CHECKING:
    from pathlib import Path

    import psycopg
    from psycopg.rows import DictRow

    from easel_mcp.workspace import Workspace

log = logging.getLogger("easel_mcp")

Connect = Callable[[], AbstractContextManager["psycopg.Connection[DictRow]"]]

_COLUMNS = (*ENTRY_FIELDS, "folder", "search", "stamp")
_SELECT = "SELECT " + ", ".join(ENTRY_FIELDS) + " FROM images WHERE user_id = %s"
_ORDER = " ORDER BY created_at DESC, id DESC, relative_path DESC"
_UPSERT = (
    f"INSERT INTO images (user_id, {', '.join(_COLUMNS)}) VALUES (%s, {', '.join(['%s'] * len(_COLUMNS))})"
    " ON CONFLICT (user_id, relative_path) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS if c != "relative_path")
    + ", indexed_at = now()"
)
_BATCH = 500  # rows per INSERT batch


class PostgresImageIndex:
    """One user's images in the shared `images` table (see the module's docstring). Thread-safe."""

    def __init__(
        self, connect: Connect, workspace: Workspace, user: str | None, *, on_close: Callable[[], None] | None = None
    ) -> None:
        self.workspace = workspace
        self.user = user or ""
        self._connect = connect
        self._on_close = on_close
        self._scan_lock = threading.Lock()
        self._folders: dict[str, tuple[int, int]] = {}  # day folder -> (mtime_ns, scanned_ns) at its last scan

    def close(self) -> None:
        if self._on_close is not None:
            self._on_close()

    # ------------------------------------------------------------------ writes
    def note_written(self, image_paths: Sequence[Path]) -> None:
        """Index images this replica has just written (their sidecars beside them)."""
        rows, gone = written_rows(self.workspace, image_paths)
        self.note_rows(rows, gone)

    def note_rows(self, rows: Sequence[IndexRow], gone: Sequence[str] = ()) -> None:
        try:
            with self._connect() as conn, conn.transaction():
                if gone:
                    conn.execute(
                        "DELETE FROM images WHERE user_id = %s AND relative_path = ANY(%s)", (self.user, list(gone))
                    )
                ordered = sorted(rows, key=lambda r: str(r["relative_path"]))  # one lock order for every writer
                with conn.cursor() as cur:
                    for start in range(0, len(ordered), _BATCH):
                        cur.executemany(_UPSERT, [self._values(r) for r in ordered[start : start + _BATCH]])
        except Exception:
            self._folders = {}  # the next refresh reads every folder again: it adds what this write could not
            raise

    def _values(self, row: IndexRow) -> list[Any]:
        values: list[Any] = [self.user]
        for column in _COLUMNS:
            value = row.get(column)
            if column == "parents":
                value = [_storable(p) for p in json.loads(value or "[]")]
            elif isinstance(value, str):
                value = _storable(value)
            elif column in ("width", "height") and value is not None and not 0 <= value < 2**31:
                value = None  # a sidecar's nonsense size: unknown, like a missing one
            values.append(value)
        return values

    def refresh(self, *, full: bool = False) -> int:
        """Add the images of this replica's day folders that the table lacks or holds with another stamp, reading
        only folders new or changed since this process last looked (all of them the first time, after a failed
        write, or with `full`); return how many rows were written. Rows are never dropped here."""
        with self._scan_lock:
            seen = day_folders(self.workspace)
            days = [
                name
                for name, mtime_ns in seen.items()
                if full
                or (state := self._folders.get(name)) is None
                or state[0] != mtime_ns
                or mtime_ns + RACY_NS >= state[1]
            ]
            if not days:
                return 0
            scanned_ns = time.time_ns()
            with self._connect() as conn:
                known = {
                    r["relative_path"]: r["stamp"]
                    for r in conn.execute(
                        "SELECT relative_path, stamp FROM images WHERE user_id = %s AND folder = ANY(%s)",
                        (self.user, days),
                    )
                }
            rows = list(folder_rows(self.workspace, days, known))
            if rows:
                self.note_rows(rows)
            self._folders.update({name: (seen[name], scanned_ns) for name in days})
        if rows:
            log.info("image index: %d image(s) of %s written to the database", len(rows), self.workspace.root)
        return len(rows)

    # ----------------------------------------------------------------- queries
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
        operation); keyset pagination. ValueError for a cursor it did not return and filters that are not text."""
        terms = search_terms(text, model, tool)
        limit = max(1, min(int(limit), 500))
        where: list[str] = []
        args: list[Any] = [self.user]
        for term in terms:
            where.append("search LIKE %s")  # backslash is LIKE's escape character
            args.append("%" + re.sub(r"([%_\\])", r"\\\1", term) + "%")
        if since is not None:
            where.append("created_at >= %s")
            args.append(index_time(since))
        if model:
            where.append("model = %s")
            args.append(model)
        if tool:
            where.append("operation = %s")
            args.append(tool.removesuffix("_image"))
        if cursor:
            where.append("(created_at, id, relative_path) < (%s, %s, %s)")
            args.extend(decode_cursor(cursor))
        sql = _SELECT + "".join(" AND " + w for w in where) + _ORDER + " LIMIT %s"
        entries = [_entry(r) for r in self._rows(sql, [*args, limit + 1])]
        if len(entries) <= limit:
            return entries, None
        last = entries[limit - 1]
        return entries[:limit], encode_cursor(last.created_at, last.id, last.relative_path)

    def get(self, image_id: str) -> ImageEntry | None:
        rows = self._rows(_SELECT + " AND id = %s" + _ORDER + " LIMIT 1", [self.user, image_id])
        return _entry(rows[0]) if rows else None

    def children(self, image_id: str) -> list[ImageEntry]:
        sql = _SELECT + " AND parents @> ARRAY[%s]::text[] ORDER BY created_at, id"
        return [_entry(r) for r in self._rows(sql, [self.user, image_id])]

    def lineage(self, image_id: str, depth: int = 10) -> dict[str, Any]:
        return lineage_of(self, image_id, depth)

    def count(self) -> int:
        return int(self._rows("SELECT COUNT(*) AS n FROM images WHERE user_id = %s", [self.user])[0]["n"])

    def facets(self) -> dict[str, list[str]]:
        """The models and operations present, for filter menus."""
        models = self._rows(
            "SELECT DISTINCT model AS v FROM images WHERE user_id = %s AND model IS NOT NULL ORDER BY 1", [self.user]
        )
        tools = self._rows("SELECT DISTINCT operation AS v FROM images WHERE user_id = %s ORDER BY 1", [self.user])
        return {"models": [r["v"] for r in models], "tools": [r["v"] for r in tools]}

    def _rows(self, sql: str, args: Sequence[Any]) -> list[dict[str, Any]]:
        with self._connect() as conn:
            return conn.execute(sql.encode(), args).fetchall()


def _storable(text: str) -> str:
    """PostgreSQL text holds neither NUL nor lone surrogates (a sidecar's JSON may carry both): replace them."""
    return text.replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")


def _entry(row: dict[str, Any]) -> ImageEntry:
    return ImageEntry(**{**row, "parents": tuple(row["parents"])})
