"""Opening Easel's SQLite files (the ledger, the image index) the same way everywhere."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

from easel_mcp.errors import PathNotAllowed

BUSY_TIMEOUT_MS = 5000


def connect(path: Path) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), rows as sqlite3.Row, waiting up to
    5 s for a lock held by another thread or process, fsync only at WAL checkpoints."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _refuse_links(path)
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA synchronous = NORMAL")
    return conn


# Result codes that mean a file is not a usable database of ours: not a database, or corrupt pages. Busy and
# locked are not among them; the generic error counts only when it names a table or column the file lacks (a
# foreign schema), never for a query's own mistake (an FTS syntax error must not discard a whole cache).
_DAMAGE_CODES = frozenset((sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_FORMAT))
_SCHEMA_ERRORS = ("no such table", "no such column", "has no column")


def damaged(error: sqlite3.DatabaseError) -> bool:
    """True when `error` says the database file itself is damaged or foreign (a cache may then be rebuilt)."""
    code = getattr(error, "sqlite_errorcode", None)
    if code is None or isinstance(error, sqlite3.IntegrityError):
        return False
    if code & 0xFF == sqlite3.SQLITE_ERROR:
        return any(text in str(error) for text in _SCHEMA_ERRORS)
    return code & 0xFF in _DAMAGE_CODES


def _refuse_links(path: Path) -> None:
    """SQLite follows links: a database (or its journal) planted as a link would be written through it."""
    for file in (path.parent, *(path.with_name(path.name + s) for s in ("", "-wal", "-shm", "-journal"))):
        try:
            mode = file.lstat().st_mode
        except FileNotFoundError:
            continue
        if stat.S_ISLNK(mode) or (file != path.parent and not stat.S_ISREG(mode)):
            raise PathNotAllowed(
                f"{file} is a link or not a regular file: Easel keeps its database only in real files; "
                "move it away (Easel creates a new one)"
            )
