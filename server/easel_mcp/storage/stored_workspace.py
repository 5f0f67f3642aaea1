"""A workspace whose truth is an S3-compatible store (EASEL_STORE_URL): the local folder is this replica's cache.

Writes: every image, sidecar, mask and partial is written to the local folder as before (atomically, in real
folders), then `put` to the store under the same workspace-relative key (a user's files under
`users/<folder>/`) through a `SpooledImageStore`. When the store is unreachable the bytes wait in the spool
(`<workspace>/.easel/spool`), `keep_store` uploads them once it is back, and the call's result says so
(`storage_notes`). Easel's own state folder (the index, thumbnails, temp files) stays local.

Reads: an image named by id, workspace path or `s3://` URL is read from the local copy when there is one, else
fetched from the store (capped at MAX_INPUT_BYTES, its sidecar with it) into the local cache first, and then
read with the same safe opener as every workspace file. The key of an id with no local copy is found by
`locate` (a listing of the user's prefix; a shared image index can take its place).

Synchronous like `Workspace`: call it from a worker thread. The store's async API is reached with
`anyio.from_thread.run` from the server's worker threads, or with a short event loop of its own elsewhere.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
from collections.abc import Callable, Coroutine, Sequence
from functools import partial
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import anyio.from_thread

from easel_mcp.errors import ImageNotFound, PathNotAllowed, WorkspaceError
from easel_mcp.imaging.formats import mime_of_file
from easel_mcp.storage.object_store import ObjectExists, ObjectTooLarge, StoreUnavailable, check_key
from easel_mcp.storage.spool import SpooledImageStore
from easel_mcp.uris import parse_image_uri
from easel_mcp.workspace import (
    ID_PATTERN,
    IMAGE_EXTENSIONS,
    STATE_DIR,
    USERS_DIR,
    Workspace,
    WrittenFile,
    user_folder,
)
from easel_mcp.workspace_files import MAX_SIDECAR_BYTES, parts_below

if TYPE_CHECKING:
    from datetime import datetime

    from easel_mcp.settings import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")
SPOOL_DIR = "spool"
SPOOLED_NOTE = "saved locally; waiting for the object store, uploaded when it is back"


def open_stored_workspace(settings: Settings) -> StoredWorkspace:
    """The workspace folder (created and checked as always) as the cache of the store at EASEL_STORE_URL."""
    from easel_mcp.storage.object_store import S3ImageStore

    assert settings.store_url is not None
    local = Workspace.open(settings.workspace_path(), settings.input_dirs)
    store = S3ImageStore.from_url(settings.store_url, settings.s3_endpoint, allow_http=settings.s3_allow_http)
    return StoredWorkspace(local.root, local.input_dirs, store=SpooledImageStore(store, local.state_dir / SPOOL_DIR))


class StoredWorkspace(Workspace):
    """`Workspace` with every file it writes also in the store, and every image it lacks fetched from it."""

    def __init__(
        self, root: Path, input_dirs: Sequence[Path] = (), *, store: SpooledImageStore, key_prefix: str = ""
    ) -> None:
        super().__init__(root, input_dirs)
        self.store = store
        self.key_prefix = key_prefix.strip("/")

    def for_user(self, user: str) -> StoredWorkspace:
        area = super().for_user(user)
        prefix = "/".join(p for p in (self.key_prefix, USERS_DIR, user_folder(user)) if p)
        return StoredWorkspace(area.root, area.input_dirs, store=self.store, key_prefix=prefix)

    def key(self, relative_path: str) -> str:
        """The store's key of a workspace-relative path (the user's prefix in front)."""
        return check_key("/".join(p for p in (self.key_prefix, relative_path) if p))

    # ------------------------------------------------------------------ hooks
    def result_path(self, relative_path: str) -> str:
        return self.store.url(self.key(relative_path))

    def local_file(self, relative_path: str) -> Path:
        path = self.root / relative_path
        if not os.path.lexists(path):
            try:
                self._fetch(relative_path)
            except (ImageNotFound, PathNotAllowed, StoreUnavailable, ObjectTooLarge) as err:
                log.info("no copy of %s in the store: %s", relative_path, err)
        return path

    def storage_notes(self, relative_paths: Sequence[str]) -> list[str]:
        notes = []
        for rel in relative_paths:
            keys = (self.key(rel), self.key(_sidecar_of(rel)))
            if any(self.store.is_spooled(key) for key in keys):
                notes.append(f"{rel} is {SPOOLED_NOTE} ({self.result_path(rel)})")
        return notes

    # ----------------------------------------------------------------- writes
    def write_image(
        self, data: bytes, *, ext: str, label: str, when: datetime | None = None, subfolder: str | None = None
    ) -> WrittenFile:
        written = super().write_image(data, ext=ext, label=label, when=when, subfolder=subfolder)
        self._upload(written.relative_path, data)
        return written

    def write_file(self, parts: Sequence[str], data: bytes) -> Path:
        target = super().write_file(parts, data)
        if parts and parts[0] != STATE_DIR:  # the index, thumbnails and temp files are this replica's own
            self._upload("/".join(parts), data)
        return target

    def _upload(self, relative_path: str, data: bytes) -> None:
        key = self.key(relative_path)
        name = PurePosixPath(relative_path).name
        content_type = "application/json" if name.endswith(".json") else mime_of_file(name)
        try:
            stored = _run(partial(self.store.put, key, data, content_type))
        except ObjectExists:  # a file written again (a sidecar updated): the store keeps its first version
            log.warning("%s is already in the store and is never overwritten; the local copy is newer", key)
            return
        except (OSError, WorkspaceError) as err:  # the local copy stands; a person can upload it from there
            log.error("could not store or spool %s: %s", key, err)
            return
        if stored.spooled:
            log.warning("%s is %s", key, SPOOLED_NOTE)

    # ------------------------------------------------------------------ reads
    def find_image(self, image_id: str) -> Path:
        try:
            return super().find_image(image_id)
        except ImageNotFound:
            key = self.locate(image_id)
            if key is None:
                raise
        return self._fetch(self._relative(key))

    def locate(self, image_id: str) -> str | None:
        """The store's key of the image with this id, or None. The seam for a shared image index: today a
        listing of this workspace's prefix, matching '<day>/<name>-<id>.<ext>' as `find_image` does locally."""
        if not ID_PATTERN.match(image_id):
            return None
        return _run(partial(self._list_for, image_id))

    async def _list_for(self, image_id: str) -> str | None:
        suffixes = tuple(f"-{image_id}{ext}" for ext in IMAGE_EXTENSIONS)
        base = f"{self.key_prefix}/" if self.key_prefix else ""
        async for found in self.store.list(self.key_prefix):
            day, _, name = found.key[len(base) :].partition("/")
            if name and "/" not in name and not day.startswith(".") and name.endswith(suffixes):
                return found.key
        return None

    def resolve_input(self, ref: str, *, what: str = "the image") -> Path:
        text = ref.strip()
        if text.lower().startswith("s3://"):  # a result's `path`, passed back
            own = self._relative(self.store.key_for(text))
            self.local_file(own)
            return super().resolve_input(own, what=what)
        try:
            return super().resolve_input(ref, what=what)
        except ImageNotFound:
            rel = self._stored_relative(text)
            if rel is None:
                raise
            try:
                self._fetch(rel)
            except ImageNotFound:
                raise ImageNotFound(
                    f"no file at {text!r}: {what} must be a file in the workspace or its store "
                    "(a path relative to it, or an image id from an earlier result)"
                ) from None
        return super().resolve_input(rel, what=what)

    def _stored_relative(self, ref: str) -> str | None:
        """The workspace-relative path a path-like `ref` names, when the store could hold it; else None."""
        if not ref or ID_PATTERN.match(ref) or parse_image_uri(ref) is not None or ":" in ref.split("/", 1)[0]:
            return None
        try:
            rel = "/".join(parts_below(self.root, ref))
            check_key(rel)
        except PathNotAllowed:
            return None
        if rel.split("/", 1)[0] == STATE_DIR or not rel.lower().endswith(IMAGE_EXTENSIONS):
            return None
        return rel

    def _relative(self, key: str) -> str:
        """The workspace-relative path of one of this workspace's keys; another user's key is not found."""
        if not self.key_prefix:
            return key
        if not key.startswith(self.key_prefix + "/"):
            raise ImageNotFound("no such image in this workspace: pass an id or path from one of your own results")
        return key[len(self.key_prefix) + 1 :]

    def _fetch(self, relative_path: str) -> Path:
        """Copy an object (and its sidecar, when there is one) from the store into the local cache."""
        from easel_mcp.imaging.io import MAX_INPUT_BYTES

        if relative_path.split("/", 1)[0] == STATE_DIR:
            raise PathNotAllowed(f"{relative_path!r} is inside Easel's own state folder")
        data = _run(partial(self.store.get, self.key(relative_path), MAX_INPUT_BYTES))
        sidecar = _sidecar_of(relative_path)
        if sidecar != relative_path:
            try:
                side = _run(partial(self.store.get, self.key(sidecar), MAX_SIDECAR_BYTES))
            except (ImageNotFound, ObjectTooLarge):
                side = None
            if side is not None:  # first, so the image never shows up in the cache without its details
                Workspace.write_file(self, tuple(sidecar.split("/")), side)
        log.info("fetched %s from the store into the cache", relative_path)
        return Workspace.write_file(self, tuple(relative_path.split("/")), data)

    # ------------------------------------------------------------- background
    async def check_store(self) -> None:
        """List one key of this workspace's prefix: StoreUnavailable, saying what to check, when that fails."""
        async for _ in self.store.store.list(self.key_prefix):
            break

    async def keep_store(self, every_s: float) -> None:
        """Check the store once, then upload the spool every `every_s` seconds (run it in the task group)."""
        try:
            await self.check_store()
            log.info("images are stored in %s (cache: %s)", self.store.url(self.key_prefix or ""), self.root)
        except StoreUnavailable as err:
            log.error(
                "the object store is not reachable at start-up: %s. Check EASEL_STORE_URL, EASEL_S3_ENDPOINT and "
                "the AWS credentials; meanwhile new images are kept in %s and uploaded when it is back",
                err,
                self.store.spool_dir,
            )
        await self.store.keep_flushing(every_s)


def _sidecar_of(relative_path: str) -> str:
    return PurePosixPath(relative_path).with_suffix(".json").as_posix()


def _run(call: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run the store's coroutine from synchronous code: through the server's event loop from one of its worker
    threads, else on a short event loop of its own (in another thread when this one runs an event loop)."""
    try:
        return anyio.from_thread.run(call)
    except anyio.NoEventLoopError:
        pass
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return anyio.run(call)
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="easel-store") as pool:
        return pool.submit(anyio.run, call).result()
