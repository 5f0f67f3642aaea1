"""The workspace: the one folder Easel writes to, and the sandbox every input path goes through.

Layout:
    <root>/2026-11-25/red-fox-in-snow-3f9a0c12be45.png    an image (the id is the last 12 hex digits)
    <root>/2026-11-25/red-fox-in-snow-3f9a0c12be45.json   its sidecar (prompt, parameters, cost, lineage)
    <root>/.easel/                                         Easel's own state (temp files, ledger)

Every function here is synchronous file work: call it from a worker thread.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import secrets
import sys
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, Protocol
from urllib.parse import unquote, urlparse

from easel_mcp.errors import ConfigurationError, ImageNotFound, PathNotAllowed, WorkspaceError
from easel_mcp.imaging.formats import IMAGE_SUFFIXES
from easel_mcp.schemas.sidecar import Sidecar
from easel_mcp.times import day_folder
from easel_mcp.uris import parse_image_uri
from easel_mcp.workspace_files import (
    MAX_SIDECAR_BYTES,
    fsync_dir,
    link_no_clobber,
    open_regular,
    parts_below,
    read_regular,
    real_dir,
)

ID_PATTERN = re.compile(r"^[0-9a-f]{12}$")
_ID_IN_NAME = re.compile(r"-([0-9a-f]{12})\.[a-z0-9]+$")
IMAGE_EXTENSIONS = IMAGE_SUFFIXES
STATE_DIR = ".easel"
USERS_DIR = "users"  # <root>/users/<user folder>/: each user's own workspace (a team deployment with OAuth)
MAX_PATH_CHARS = 1024
log = logging.getLogger("easel_mcp")


class IndexedImage(Protocol):
    @property
    def relative_path(self) -> str: ...


class IdIndex(Protocol):
    """What the id resolver asks first: an image index (`index.ImageIndex` attaches itself as `Workspace.index`;
    any index with `get`, e.g. the PostgreSQL one, can be attached)."""

    def get(self, image_id: str) -> IndexedImage | None: ...


def slugify(text: str, *, max_len: int = 48) -> str:
    """'A red fox, in snow!' -> 'a-red-fox-in-snow' (ASCII, lower case, never empty)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    if len(slug) > max_len:
        slug = slug[:max_len].rsplit("-", 1)[0] or slug[:max_len]
    return slug or "image"


def user_folder(user: str) -> str:
    """A user's folder name: readable, safe on every file system, and distinct for distinct subjects."""
    import hashlib

    return f"{slugify(user, max_len=32)}-{hashlib.sha256(user.encode()).hexdigest()[:12]}"


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
        self.index: IdIndex | None = None  # the index built for this workspace: find_image asks it first

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
            ws.root.mkdir(parents=True, exist_ok=True)
            with real_dir(ws.root, (STATE_DIR, "tmp"), what="Easel's state folder"):
                pass  # a real folder, never created or used through a link
        except PathNotAllowed as e:
            raise ConfigurationError(f"{e} (or set EASEL_WORKSPACE)") from e
        except OSError as e:
            raise ConfigurationError(f"cannot create the workspace {ws.root}: {e.strerror}; set EASEL_WORKSPACE") from e
        if not os.access(ws.root, os.W_OK):
            raise ConfigurationError(f"the workspace {ws.root} is not writable; set EASEL_WORKSPACE")
        return ws

    def for_user(self, user: str) -> Workspace:
        """The workspace of one user (the subject of their OAuth token): <root>/users/<folder>/, a real folder of
        this workspace with its own day folders and index; nothing outside it is readable by id or path."""
        folder = user_folder(user)
        try:
            with real_dir(self.root, (USERS_DIR, folder, STATE_DIR, "tmp"), what="the user's folder"):
                pass  # real folders, never created or used through a link
        except OSError as e:
            raise ConfigurationError(f"cannot create the user's folder in {self.root}: {e.strerror}") from e
        return Workspace(self.root / USERS_DIR / folder, self.input_dirs)

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
        if (uri := parse_image_uri(ref)) is not None:
            ref = uri.image_id  # the display rendition (.../display) names the same image
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
        """The one image-id resolver: the image file with this id (the name ends with '-<id>.<ext>'), a regular
        file in a real folder of the workspace (links are not followed); read it with `read_file`.

        The index answers first and its answer is checked on disk (opened like every read); without an index,
        when it does not know the id, its file is gone, or it fails (damaged, unwritable), the day folders are
        scanned. ImageNotFound when there is no such image (an id of another user's workspace included);
        PathNotAllowed when the index's file was replaced by a link (or something not a regular file)."""
        if not ID_PATTERN.match(image_id):
            raise ImageNotFound(f"{image_id!r} is not an image id (12 hex digits)")
        names = tuple(f"-{image_id}{ext}" for ext in IMAGE_EXTENSIONS)
        refused: WorkspaceError | None = None
        if self.index is not None:
            try:
                entry = self.index.get(image_id)
                rel = entry.relative_path if entry is not None else None
            except Exception as e:  # the index is a cache: never a reason not to find an image
                log.warning("the image index failed (%s: %s); scanning the folders", type(e).__name__, e)
                rel = None
            try:
                if rel is not None and (path := self._verified(rel, names)) is not None:
                    return path
            except ImageNotFound:
                pass  # gone since it was indexed
            except WorkspaceError as e:
                refused = e  # a link now: refused unless the scan finds a real file
        with os.scandir(self.root) as listing:
            days = sorted((e for e in listing if not e.name.startswith(".")), key=lambda e: e.name, reverse=True)
        for day in days:
            if not day.is_dir(follow_symlinks=False):
                continue
            with contextlib.suppress(OSError), os.scandir(day.path) as files:
                for hit in sorted(files, key=lambda e: e.name):
                    if hit.name.endswith(names) and hit.is_file(follow_symlinks=False):
                        return self.root / day.name / hit.name
        raise refused or ImageNotFound(f"no image with id {image_id} in the workspace {self.root}")

    def _verified(self, rel: str, names: tuple[str, ...]) -> Path | None:
        """root/rel if it is an image file with one of `names` in a day folder, opened (then closed) like every
        read: a regular file, no link on the way (else the opener's WorkspaceError); None if it is not such a name."""
        parts = parts_below(self.root, rel)
        if len(parts) != 2 or parts[0].startswith(".") or not parts[1].endswith(names):
            return None
        try:
            open_regular(self.root, rel, limit=sys.maxsize, what="the image").close()
        except OSError:
            return None
        return self.root.joinpath(*parts)

    def read_file(self, path: Path, *, limit: int, what: str = "the image") -> bytes:
        """The bytes of a file in the workspace or an allowed input folder, read safely (see workspace_files):
        a regular file, no link on the way, at most `limit` bytes."""
        return read_regular(self._base_of(path), path, limit=limit, what=what)

    def open_file(self, path: Path, *, limit: int, what: str = "the image") -> BinaryIO:
        """`path` opened for reading as `read_file` reads it (the caller closes it)."""
        return open_regular(self._base_of(path), path, limit=limit, what=what)

    def _base_of(self, path: Path) -> Path:
        if not path.is_absolute() or path.is_relative_to(self.root):
            return self.root
        for base in self.input_dirs:
            if path.is_relative_to(base):
                return base
        raise PathNotAllowed(f"{path} is outside the workspace {self.root}")

    @staticmethod
    def id_of(path: Path) -> str | None:
        m = _ID_IN_NAME.search(path.name)
        return m.group(1) if m else None

    def relative(self, path: Path) -> str:
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return str(path)

    # Hooks a workspace backed by an object store overrides (storage/stored_workspace.py).
    def result_path(self, relative_path: str) -> str:
        """A result's `path` for a file written here: the local file (with a store: the object's s3:// URL)."""
        return str(self.root / relative_path)

    def local_file(self, relative_path: str) -> Path:
        """The local copy of a file of this workspace, never resolved (with a store: fetched when missing)."""
        return self.root / relative_path

    def storage_notes(self, relative_paths: Sequence[str]) -> list[str]:
        """Warnings for a result about where its files are kept (with a store: the ones waiting in the spool)."""
        return []

    # ---------------------------------------------------------------- outputs
    def write_image(
        self, data: bytes, *, ext: str, label: str, when: datetime | None = None, subfolder: str | None = None
    ) -> WrittenFile:
        """Write `data` under a new, never-reused name: <date>/<slug>-<id>.<ext>. Atomic (temp file,
        fsync, then a hard link that fails rather than overwrite); never replaces an existing file. The
        folders are real folders of the workspace: a day folder that is a link is refused, never followed."""
        when = when or datetime.now(UTC)
        folder = [day_folder(when), *([slugify(subfolder)] if subfolder else [])]
        with real_dir(self.root, folder, what="the output folder") as dir_fd:
            tmp = self.write_temp(data)
            try:
                for _ in range(20):
                    image_id = secrets.token_hex(6)
                    name = f"{slugify(label)}-{image_id}.{ext.lower().lstrip('.')}"
                    if link_no_clobber(tmp, name, dir_fd, self.root.joinpath(*folder)):
                        fsync_dir(dir_fd)
                        target = self.root.joinpath(*folder, name)
                        return WrittenFile(image_id, target, self.relative(target))
                raise OSError("could not find a free file name after 20 tries")  # pragma: no cover
            finally:
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()

    def sidecar_path(self, image_path: Path) -> Path:
        return image_path.with_suffix(".json")

    def write_sidecar(self, image_path: Path, sidecar: Sidecar) -> Path:
        """Write the image's sidecar atomically (replacing the one there)."""
        return self.write_file(parts_below(self.root, self.sidecar_path(image_path)), sidecar.dump())

    def write_file(self, parts: Sequence[str], data: bytes) -> Path:
        """Write `data` atomically at root/parts (replacing what is there), in real folders of the workspace."""
        with real_dir(self.root, parts[:-1], what="the folder") as dir_fd:
            tmp = self.write_temp(data)
            if dir_fd < 0:  # pragma: no cover - no descriptors (Windows): the folders were checked
                tmp.replace(self.root.joinpath(*parts))
            else:
                os.replace(tmp, parts[-1], dst_dir_fd=dir_fd)
        return self.root.joinpath(*parts)

    def read_sidecar(self, image_path: Path) -> Sidecar | None:
        """The image's sidecar, or None when it is missing or unusable (a link, not a regular file, over
        MAX_SIDECAR_BYTES, not one Easel wrote: see `Sidecar.read`): a bad one costs only its own image's details."""
        try:
            data = read_regular(self.root, self.sidecar_path(image_path), limit=MAX_SIDECAR_BYTES, what="the sidecar")
        except (WorkspaceError, OSError):
            return None
        return Sidecar.read(data)

    def write_temp(self, data: bytes) -> Path:
        """`data` in a new, fsynced file under the state folder (rename it into place)."""
        name = f"{secrets.token_hex(8)}.part"
        with real_dir(self.root, (STATE_DIR, "tmp"), what="Easel's temp folder") as dir_fd:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
            fd = os.open(name, flags, 0o644, dir_fd=dir_fd) if dir_fd >= 0 else os.open(self._tmp(name), flags, 0o644)
        tmp = self._tmp(name)
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

    def _tmp(self, name: str) -> Path:
        return self.state_dir / "tmp" / name
