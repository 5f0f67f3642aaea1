"""The workspace: the one folder Easel writes to, and the sandbox every input path goes through.

Layout:
    <root>/2026-11-25/red-fox-in-snow-3f9a0c12be45.png    an image (the id is the last 12 hex digits)
    <root>/2026-11-25/red-fox-in-snow-3f9a0c12be45.json   its sidecar (prompt, parameters, cost, lineage)
    <root>/.easel/                                         Easel's own state (temp files, ledger)

Every function here is synchronous file work: call it from a worker thread.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from easel_mcp.errors import ConfigurationError, ImageNotFound, PathNotAllowed

ID_PATTERN = re.compile(r"^[0-9a-f]{12}$")
_ID_IN_NAME = re.compile(r"-([0-9a-f]{12})\.[a-z0-9]+$")
IMAGE_EXTENSIONS = (".png", ".jpeg", ".jpg", ".webp")
STATE_DIR = ".easel"
MAX_PATH_CHARS = 1024


def slugify(text: str, *, max_len: int = 48) -> str:
    """'A red fox, in snow!' -> 'a-red-fox-in-snow' (ASCII, lower case, never empty)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    if len(slug) > max_len:
        slug = slug[:max_len].rsplit("-", 1)[0] or slug[:max_len]
    return slug or "image"


@dataclass(frozen=True, slots=True)
class WrittenFile:
    id: str
    path: Path
    relative_path: str


class Workspace:
    """A folder that Easel owns. Inputs resolve inside it (or inside read-only `input_dirs`)."""

    def __init__(self, root: Path, input_dirs: Sequence[Path] = ()) -> None:
        self.root = root.expanduser().resolve()
        self.input_dirs = tuple(d.expanduser().resolve() for d in input_dirs)

    @classmethod
    def open(cls, root: Path, input_dirs: Sequence[Path] = ()) -> Workspace:
        """Create the folder if needed; refuse a root that is the file-system root or read-only."""
        ws = cls(root, input_dirs)
        if ws.root == Path(ws.root.anchor):
            raise ConfigurationError(
                f"EASEL_WORKSPACE resolves to {ws.root}, the root of the file system; set it to a folder of "
                "its own, e.g. ~/Pictures/Easel"
            )
        try:
            (ws.root / STATE_DIR / "tmp").mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ConfigurationError(f"cannot create the workspace {ws.root}: {e.strerror}; set EASEL_WORKSPACE") from e
        if not os.access(ws.root, os.W_OK):
            raise ConfigurationError(f"the workspace {ws.root} is not writable; set EASEL_WORKSPACE")
        return ws

    @property
    def state_dir(self) -> Path:
        return self.root / STATE_DIR

    # ----------------------------------------------------------------- inputs
    def resolve_input(self, ref: str, *, what: str = "the image") -> Path:
        """Turn what an agent passed (a path, an image id, an easel:// or file:// URI) into a real file
        inside the workspace or an allowed input folder, checked after resolving symlinks."""
        ref = ref.strip()
        if not ref:
            raise PathNotAllowed(f"{what} reference is empty; pass a workspace path or an image id")
        if "\x00" in ref or len(ref) > MAX_PATH_CHARS:
            raise PathNotAllowed(f"{what} reference is not a usable path (NUL byte or over {MAX_PATH_CHARS} chars)")
        if ref.startswith("easel://images/"):
            ref = ref.removeprefix("easel://images/")
        if ID_PATTERN.match(ref):
            return self.find_image(ref)
        if ref.startswith("file:"):
            parsed = urlparse(ref)
            if parsed.netloc not in ("", "localhost"):
                raise PathNotAllowed(f"{ref!r} names another host; only local files in the workspace are read")
            ref = unquote(parsed.path)
        elif re.match(r"^[a-z][a-z0-9+.-]*://", ref, re.IGNORECASE):
            raise PathNotAllowed(f"{ref!r} is a URL; pass a file in the workspace {self.root} or an image id")
        try:
            candidate = Path(ref).expanduser()
        except RuntimeError:  # "~someone" with no such user
            raise PathNotAllowed(f"{ref!r} names a home folder that does not exist; pass a workspace path") from None
        if not candidate.is_absolute():
            candidate = self.root / candidate
        try:
            resolved = candidate.resolve(strict=True)
        except (FileNotFoundError, NotADirectoryError):
            raise ImageNotFound(
                f"no file at {ref!r}: {what} must be a file in the workspace {self.root} "
                "(a path relative to it, or an image id from an earlier result)"
            ) from None
        except (OSError, RuntimeError) as e:
            raise PathNotAllowed(f"cannot resolve {ref!r}: {e}") from None
        allowed = (self.root, *self.input_dirs)
        if not any(resolved.is_relative_to(base) for base in allowed):
            raise PathNotAllowed(
                f"{ref!r} is outside the workspace {self.root}"
                + (" and the allowed input folders" if self.input_dirs else "")
                + "; copy the file into the workspace or pass an image id"
            )
        if resolved.is_relative_to(self.state_dir):
            raise PathNotAllowed(f"{ref!r} is inside Easel's own state folder; pass an image instead")
        if not resolved.is_file():
            raise ImageNotFound(f"{ref!r} is not a file")
        return resolved

    def find_image(self, image_id: str) -> Path:
        """The image file with this id (ids are unique; the name ends with '-<id>.<ext>')."""
        if not ID_PATTERN.match(image_id):
            raise ImageNotFound(f"{image_id!r} is not an image id (12 hex digits)")
        for day in sorted(self.root.iterdir(), reverse=True):
            if not day.is_dir() or day.name.startswith("."):
                continue
            for ext in IMAGE_EXTENSIONS:
                for hit in day.glob(f"*-{image_id}{ext}"):
                    resolved = hit.resolve()
                    if resolved.is_relative_to(self.root) and resolved.is_file():
                        return resolved
        raise ImageNotFound(f"no image with id {image_id} in the workspace {self.root}")

    @staticmethod
    def id_of(path: Path) -> str | None:
        m = _ID_IN_NAME.search(path.name)
        return m.group(1) if m else None

    def relative(self, path: Path) -> str:
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return str(path)

    # ---------------------------------------------------------------- outputs
    def write_image(
        self, data: bytes, *, ext: str, label: str, when: datetime | None = None, subfolder: str | None = None
    ) -> WrittenFile:
        """Write `data` under a new, never-reused name: <date>/<slug>-<id>.<ext>. Atomic (temp file,
        fsync, then a hard link that fails rather than overwrite); never replaces an existing file."""
        when = when or datetime.now(UTC)
        day = self.root / when.strftime("%Y-%m-%d")
        if subfolder:
            day = day / slugify(subfolder)
        day.mkdir(parents=True, exist_ok=True)
        tmp = self.write_temp(data)
        try:
            for _ in range(20):
                image_id = secrets.token_hex(6)
                target = day / f"{slugify(label)}-{image_id}.{ext.lower().lstrip('.')}"
                if _link_no_clobber(tmp, target):
                    _fsync_dir(day)
                    return WrittenFile(image_id, target, self.relative(target))
            raise OSError("could not find a free file name after 20 tries")  # pragma: no cover
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()

    def sidecar_path(self, image_path: Path) -> Path:
        return image_path.with_suffix(".json")

    def write_sidecar(self, image_path: Path, payload: dict[str, Any]) -> Path:
        target = self.sidecar_path(image_path)
        data = json.dumps(payload, indent=2, ensure_ascii=False, default=str).encode()
        tmp = self.write_temp(data)
        tmp.replace(target)
        return target

    def read_sidecar(self, image_path: Path) -> dict[str, Any] | None:
        try:
            loaded = json.loads(self.sidecar_path(image_path).read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        return loaded if isinstance(loaded, dict) else None

    def write_temp(self, data: bytes) -> Path:
        """`data` in a new, fsynced file under the state folder (rename it into place)."""
        tmp_dir = self.state_dir / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        tmp = tmp_dir / f"{secrets.token_hex(8)}.part"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            raise
        return tmp


def _link_no_clobber(src: Path, dst: Path) -> bool:
    """Publish `src` at `dst` atomically unless `dst` exists. False when the name is taken."""
    try:
        os.link(src, dst)
        return True
    except FileExistsError:
        return False
    except OSError:
        # No hard links on this file system: reserve the name exclusively, then replace it.
        try:
            fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return False
        os.close(fd)
        src.replace(dst)
        return True


def _fsync_dir(path: Path) -> None:
    if os.name != "posix":  # pragma: no cover
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
