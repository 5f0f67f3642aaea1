"""Building one image-index row from the files (the sidecar, or the image's own header), and reading rows back
(entries, summaries, page cursors)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
import sqlite3
import stat
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from easel_mcp.errors import ImageNotFound
from easel_mcp.imaging.formats import SUFFIX_FORMATS
from easel_mcp.schemas.sidecar import Sidecar, SidecarParameters
from easel_mcp.times import index_time
from easel_mcp.workspace import ID_PATTERN, Workspace

_ID_SUFFIX = re.compile(r"-[0-9a-f]{12}$")


def read_row(workspace: Workspace, path: Path, rel: str, stamp: str) -> dict[str, Any]:
    """The index row of one image: its sidecar's fields, or what the file header tells."""
    side = (workspace.read_sidecar(path) if not stamp.endswith(":-") else None) or Sidecar()
    mtime_ns, size = (int(v) for v in stamp.split(":")[:2])
    name_id = workspace.id_of(path)
    side_id = side.id if side.id and ID_PATTERN.match(side.id) else None
    image_id = name_id or side_id or hashlib.sha256(rel.encode()).hexdigest()[:12]
    try:
        created_at = index_time(datetime.fromisoformat(side.created_at or ""))
    except (ValueError, OverflowError):  # overflow: year 1 or 9999 moved to UTC
        created_at = _file_time(mtime_ns)
    width, height, fmt = side.width, side.height, _text(side.format)
    if width is None or height is None:
        width, height, header_format = _header(workspace, path)
        fmt = fmt or header_format
    params = side.parameters or SidecarParameters()
    # Older sidecars may lack "parents": the ids of the inputs tell the same.
    parents = side.parents if "parents" in side.model_fields_set else [i.id for i in side.inputs]
    parent_ids = list(dict.fromkeys(p for p in parents if p and ID_PATTERN.match(p)))
    slug = _ID_SUFFIX.sub("", path.stem) if name_id else path.stem
    row: dict[str, Any] = {
        "relative_path": rel,
        "folder": rel.split("/")[0],
        "id": image_id,
        "created_at": created_at,
        "operation": _text(side.operation) or "unknown",
        "prompt": _text(side.prompt),
        "model": _text(side.model) or _text(params.model),
        "provider": _text(side.provider),
        "width": width,
        "height": height,
        "format": (fmt or SUFFIX_FORMATS[path.suffix.lower()]).lower(),
        "bytes": size,
        "cost_usd": side.cost_usd,
        "parents": json.dumps(parent_ids),
        "name_slug": slug,
        "stamp": stamp,
    }
    words = (
        row["prompt"],
        _text(side.revised_prompt),
        slug,
        slug.replace("-", " "),
        row["model"],
        row["operation"],
        row["provider"],
        image_id,
    )
    row["search"] = " ".join(w for w in words if w).lower()
    return row


def stamp_of(st: os.stat_result, side: os.stat_result | None) -> str:
    """What tells that a file or its sidecar changed: mtime and size of each."""
    return f"{st.st_mtime_ns}:{st.st_size}:" + (f"{side.st_mtime_ns}:{side.st_size}" if side else "-")


def _text(value: str | None) -> str | None:
    return value or None


def _file_time(mtime_ns: int) -> str:
    try:
        return index_time(datetime.fromtimestamp(mtime_ns / 1e9, UTC))
    except (OverflowError, OSError, ValueError):  # a file time set far outside what datetime holds
        return index_time(datetime.fromtimestamp(0, UTC))


def _header(workspace: Workspace, path: Path) -> tuple[int | None, int | None, str | None]:
    """Size and format from the file's header only (Pillow opens lazily: no pixels are decoded); the file is
    opened like every workspace read (regular, no links)."""
    from PIL import Image, UnidentifiedImageError

    from easel_mcp.errors import WorkspaceError
    from easel_mcp.imaging.io import MAX_INPUT_BYTES

    try:
        with workspace.open_file(path, limit=MAX_INPUT_BYTES) as f, Image.open(f) as im:
            return im.width, im.height, (im.format or "").lower() or None
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError, WorkspaceError):
        return None, None, None


@dataclass(frozen=True)
class ImageEntry:
    id: str
    relative_path: str
    created_at: str
    operation: str
    prompt: str | None
    model: str | None
    provider: str | None
    width: int | None
    height: int | None
    format: str
    bytes: int
    cost_usd: float | None
    parents: tuple[str, ...]
    name_slug: str

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["parents"] = list(self.parents)
        return out


ENTRY_FIELDS = tuple(f.name for f in fields(ImageEntry))  # the index columns an entry is read from


def encode_cursor(created_at: str, image_id: str, relative_path: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([created_at, image_id, relative_path]).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, str, str]:
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error):
        raw = None
    if not (isinstance(raw, list) and len(raw) == 3 and all(isinstance(v, str) for v in raw)):
        raise ValueError("the cursor is not one this index returned; start again without it")
    return raw[0], raw[1], raw[2]


def utf8_name(name: str) -> bool:
    """False for a file name that is not valid UTF-8 (Python keeps its bytes as surrogates, SQLite refuses it)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def entry_of(row: sqlite3.Row) -> ImageEntry:
    values = dict(row)
    values["parents"] = tuple(json.loads(values["parents"]))
    return ImageEntry(**values)


class Entries(Protocol):
    """What `find_entry` needs of an image index (the SQLite one, or any other with these methods)."""

    def refresh(self, *, full: bool = False) -> int: ...

    def get(self, image_id: str) -> ImageEntry | None: ...


def find_entry(index: Entries, workspace: Workspace, image_id: str) -> ImageEntry:
    """The image with this id, resolved by `Workspace.find_image` (the one resolver; PathNotAllowed when its indexed
    file became a link), with its entry: the index's, brought up to date when it lacks the image, else read from the
    files (an image outside the day folders). An image the index knows but this machine does not have (a shared
    index: written by another replica) is its entry alone; ImageNotFound when neither knows the id."""
    try:
        path = workspace.find_image(image_id)
    except ImageNotFound:
        if (known := index.get(image_id)) is None:
            raise
        return known
    rel = workspace.relative(path)
    entry = index.get(image_id)
    if entry is None or entry.relative_path != rel:
        index.refresh()  # written since the last scan, perhaps by another process
        entry = index.get(image_id)
    if entry is not None and entry.relative_path == rel:
        return entry
    return entry_from_files(workspace, path, rel)


def entry_from_files(workspace: Workspace, path: Path, rel: str) -> ImageEntry:
    """The entry of an image the index does not hold, read from its files as a scan reads them."""
    st = path.lstat()
    try:
        side: os.stat_result | None = path.with_suffix(".json").lstat()
    except OSError:
        side = None
    row = read_row(workspace, path, rel, stamp_of(st, side if side and stat.S_ISREG(side.st_mode) else None))
    values = {name: row[name] for name in ENTRY_FIELDS}
    values["parents"] = tuple(json.loads(row["parents"]))
    return ImageEntry(**values)


def summary_of(entry: ImageEntry) -> dict[str, Any]:
    prompt = entry.prompt if entry.prompt is None or len(entry.prompt) <= 240 else entry.prompt[:239] + "…"
    return {
        "relative_path": entry.relative_path,
        "created_at": entry.created_at,
        "operation": entry.operation,
        "prompt": prompt,
        "model": entry.model,
        "width": entry.width,
        "height": entry.height,
        "name_slug": entry.name_slug,
    }
