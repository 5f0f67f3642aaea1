"""What both image indexes (SQLite per workspace, PostgreSQL for a team) share: the rows of images just written or
found in the day folders (built by `index_rows.read_row`), the search terms of a query and the lineage walk.

Synchronous file work: call from a worker thread.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from easel_mcp.imaging.formats import SUFFIX_FORMATS as FORMATS
from easel_mcp.index_rows import ImageEntry, read_row, stamp_of, summary_of, utf8_name

if TYPE_CHECKING:
    from easel_mcp.workspace import Workspace

IndexRow = dict[str, Any]
"""One index row as `index_rows.read_row` builds it (relative_path, id, created_at, ..., parents as JSON text)."""

DAY_FOLDER = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MAX_LINEAGE_NODES = 200
MAX_TERMS = 16


def indexable(file_name: str) -> bool:
    """An image file the index lists: a known image suffix, not hidden, a UTF-8 name."""
    return Path(file_name).suffix.lower() in FORMATS and not file_name.startswith(".") and utf8_name(file_name)


def written_rows(workspace: Workspace, image_paths: Sequence[Path]) -> tuple[list[IndexRow], list[str]]:
    """The rows of images just written in the workspace's day folders (paths elsewhere are ignored), and the
    relative paths of those that are no longer regular files (to drop)."""
    rows: list[IndexRow] = []
    gone: list[str] = []
    for path in image_paths:
        with suppress(ValueError):
            rel = path.resolve().relative_to(workspace.root).as_posix()
            day, _, name = rel.partition("/")
            if DAY_FOLDER.match(day) and "/" not in name and Path(name).suffix.lower() in FORMATS:
                try:
                    st: os.stat_result | None = (workspace.root / rel).lstat()
                except FileNotFoundError:
                    st = None
                if st is None or not stat.S_ISREG(st.st_mode):
                    gone.append(rel)
                    continue
                side = (workspace.root / rel).with_suffix(".json")
                try:
                    side_st: os.stat_result | None = side.lstat()
                except FileNotFoundError:
                    side_st = None
                if side_st is not None and not stat.S_ISREG(side_st.st_mode):
                    side_st = None
                rows.append(read_row(workspace, workspace.root / rel, rel, stamp_of(st, side_st)))
    return rows, gone


def day_folders(workspace: Workspace) -> dict[str, int]:
    """The workspace's top-level day folders (<root>/YYYY-MM-DD) and their mtimes (ns)."""
    seen: dict[str, int] = {}
    with suppress(FileNotFoundError), os.scandir(workspace.root) as listing:
        for entry in listing:
            if DAY_FOLDER.match(entry.name) and entry.is_dir(follow_symlinks=False):
                seen[entry.name] = entry.stat(follow_symlinks=False).st_mtime_ns
    return seen


def folder_rows(workspace: Workspace, days: Iterable[str], known: Mapping[str, str]) -> Iterator[IndexRow]:
    """Rows of the images in these day folders that `known` (relative path -> stamp) lacks or has with another
    stamp (the file or its sidecar changed since)."""
    for day in sorted(days):
        try:
            with os.scandir(workspace.root / day) as listing:
                files = {e.name: e for e in listing if e.is_file(follow_symlinks=False)}
        except (FileNotFoundError, NotADirectoryError):
            continue
        for file_name, entry in sorted(files.items()):
            if not indexable(file_name):
                continue
            side = files.get(Path(file_name).stem + ".json")
            try:
                st = entry.stat(follow_symlinks=False)
                side_st = side.stat(follow_symlinks=False) if side else None
            except FileNotFoundError:
                continue
            rel, stamp = f"{day}/{file_name}", stamp_of(st, side_st)
            if known.get(rel) != stamp:
                yield read_row(workspace, Path(entry.path), rel, stamp)


def search_terms(text: str | None, model: str | None, tool: str | None) -> list[str]:
    """The lowercase terms of a query (all must match); ValueError for filters that are not text."""
    from easel_mcp.text_checks import check_text

    for name, value in (("the query", text), ("the model filter", model), ("the tool filter", tool)):
        check_text(name, value)
    return (text or "").lower().split()[:MAX_TERMS]


class _Graph(Protocol):
    def get(self, image_id: str) -> ImageEntry | None: ...

    def children(self, image_id: str) -> list[ImageEntry]: ...


def lineage_of(index: _Graph, image_id: str, depth: int = 10) -> dict[str, Any]:
    """Ancestors and descendants up to `depth` steps: {"root", "nodes": [{id, level, present, ...}],
    "edges": [[parent, child], ...]}; level < 0 for ancestors, > 0 for descendants."""
    found: dict[str, ImageEntry | None] = {image_id: index.get(image_id)}
    levels, edges = {image_id: 0}, set[tuple[str, str]]()
    for direction in (-1, 1):
        frontier = [image_id]
        for step in range(1, depth + 1):
            nxt: list[str] = []
            for node in frontier:
                entry = found[node]
                links: list[tuple[str, str, str | ImageEntry]]
                if direction < 0:
                    links = [(p, node, p) for p in (entry.parents if entry else ())]
                else:
                    links = [(node, k.id, k) for k in index.children(node)]
                for parent, child, other in links:
                    edges.add((parent, child))
                    other_id = other if isinstance(other, str) else other.id
                    if other_id not in found and len(found) < MAX_LINEAGE_NODES:
                        found[other_id] = index.get(other) if isinstance(other, str) else other
                        levels[other_id] = direction * step
                        nxt.append(other_id)
            frontier = nxt
    nodes = [
        {"id": i, "level": levels[i], "present": e is not None, **(summary_of(e) if e else {})}
        for i, e in found.items()
    ]
    nodes.sort(key=lambda n: (n["level"], n.get("created_at", ""), n["id"]))
    return {
        "root": image_id,
        "nodes": nodes,
        "edges": sorted([p, c] for p, c in edges if p in found and c in found),
    }
