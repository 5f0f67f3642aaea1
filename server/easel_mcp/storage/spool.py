"""A paid image is never lost: `SpooledImageStore` keeps what the object store could not take in a local spool.

`put` tries the store; when it raises `StoreUnavailable` the bytes go to `spool_dir` and the returned
`StoredObject` says `spooled=True` (the result tells the agent the image waits for the store). `put` is shielded
from cancellation: a call cancelled mid-upload still ends with the image stored or spooled. `flush()` uploads
the spool oldest first and deletes each entry only after its upload succeeded; `keep_flushing(every_s)` runs it
in the server's task group. `get`, `head` and `list` see spooled images too, so they stay readable meanwhile.

Replicas may share one spool (one workspace folder): an entry another replica uploaded and removed meanwhile is
skipped, and the same bytes already in the store count as uploaded.

One entry is one folder, `<spool_dir>/<sha256 of the key>/` holding `data` (the bytes) and `entry.json` (key,
content type, size, when). It is written under a temporary name (files fsynced) and renamed into place, so an
entry is whole or absent; the rename also refuses a second entry for the same key (no-clobber, as the store).
A removal renames the folder to `.done-*` first, so a half-removed entry is never uploaded again. A `.tmp-*`
folder is a write that a crash interrupted before its `put` returned; it is never uploaded and is left for a
person, as is an entry whose `entry.json` cannot be read (logged at each flush).
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from hashlib import sha256
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
from pydantic import BaseModel

from easel_mcp.errors import WorkspaceError
from easel_mcp.storage.object_store import ObjectExists, StoreUnavailable, check_key, check_prefix, check_size
from easel_mcp.storage.ports import ImageStore, StoredObject

log = logging.getLogger(__name__)

_ENTRY_MAX_BYTES = 64 * 1024


class SpoolEntry(BaseModel):
    """`entry.json`: what a spooled `put` was asked to store."""

    key: str
    content_type: str
    size: int
    spooled_at: datetime


@dataclass(frozen=True)
class FlushResult:
    uploaded: list[str]
    remaining: int
    error: str | None = None  # why the flush stopped early (the store is still unavailable), or a conflict


class SpooledImageStore:
    """`store`, with a local spool for the puts it could not take. Implements the `ImageStore` port."""

    def __init__(self, store: ImageStore, spool_dir: Path) -> None:
        self.store = store
        self.spool_dir = spool_dir
        spool_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._lock: anyio.Lock | None = None
        self._drained: anyio.Event | None = None
        self._spool_count = 0  # puts spooled so far: a flush that raced with one does not report the spool drained

    def url(self, key: str) -> str:
        return self.store.url(key)

    def key_for(self, url: str) -> str:
        return self.store.key_for(url)

    def pending(self) -> int:
        """How many images wait in the spool."""
        return len(self._entry_dirs())

    def is_spooled(self, key: str) -> bool:
        """Whether `key` waits in the spool (not uploaded yet)."""
        return self._entry_dir(check_key(key)).exists()

    async def put(self, key: str, data: bytes, content_type: str) -> StoredObject:
        check_key(key)
        if self._entry_dir(key).exists():
            raise ObjectExists(f"{self.url(key)} already exists (waiting in the spool); use a new name")
        # Shielded: the image is paid for, a cancelled call still stores (or spools) it before it stops.
        with anyio.CancelScope(shield=True):
            try:
                stored = await self.store.put(key, data, content_type)
            except StoreUnavailable as err:
                stored = await self._spool(key, data, content_type, err)
        return stored

    async def _spool(self, key: str, data: bytes, content_type: str, err: StoreUnavailable) -> StoredObject:
        entry = SpoolEntry(key=key, content_type=content_type, size=len(data), spooled_at=datetime.now(UTC))
        await anyio.to_thread.run_sync(self._write_entry, entry, data)
        self._spool_count += 1
        if self._drained is not None and self._drained.is_set():
            self._drained = anyio.Event()
        log.warning("spooled %s to %s until the store is back: %s", key, self.spool_dir, err)
        return StoredObject(key=key, size=len(data), etag=None, last_modified=entry.spooled_at, spooled=True)

    async def head(self, key: str) -> StoredObject | None:
        entry = await anyio.to_thread.run_sync(self._read_entry, self._entry_dir(check_key(key)))
        if entry is not None:
            return _spooled(entry)
        return await self.store.head(key)

    async def get(self, key: str, max_bytes: int) -> bytes:
        folder = self._entry_dir(check_key(key))
        try:
            return await anyio.to_thread.run_sync(_read_file, folder / "data", max_bytes, self.url(key))
        except FileNotFoundError:  # not spooled, or uploaded and removed meanwhile: the store has it
            return await self.store.get(key, max_bytes)

    async def list(self, prefix: str = "", *, start_after: str | None = None) -> AsyncIterator[StoredObject]:
        """The store's objects under `prefix` and the spooled ones, merged in key order (the store lists in key
        order, as S3 does), each key once: a listing can be resumed with `start_after` = the last key seen."""
        prefix = check_prefix(prefix)
        entries = await anyio.to_thread.run_sync(self._entries)
        waiting = sorted(
            (_spooled(entry) for _, entry in entries if _under(entry.key, prefix)),
            key=lambda found: found.key,
        )
        waiting = [found for found in waiting if start_after is None or found.key > start_after]
        async for found in self.store.list(prefix, start_after=start_after):
            while waiting and waiting[0].key < found.key:
                yield waiting.pop(0)
            if waiting and waiting[0].key == found.key:
                waiting.pop(0)  # uploaded, not yet removed from the spool: the store's copy is the one
            yield found
        for found in waiting:
            yield found

    async def flush(self) -> FlushResult:
        """Upload the spool, oldest first; stop at the first `StoreUnavailable` (the store is still away)."""
        if self._lock is None:
            self._lock = anyio.Lock()
        uploaded: list[str] = []
        error: str | None = None
        spooled_before = self._spool_count
        async with self._lock:
            for folder, entry in await anyio.to_thread.run_sync(self._entries):
                try:
                    data = await anyio.to_thread.run_sync(_read_file, folder / "data", entry.size, entry.key)
                    try:
                        await self.store.put(entry.key, data, entry.content_type)
                    except ObjectExists:
                        if not await self._already_there(entry.key, data):
                            error = f"{self.url(entry.key)} holds other bytes; the spooled copy stays in {folder}"
                            log.error("%s", error)
                            continue
                except StoreUnavailable as err:
                    error = str(err)
                    break
                except FileNotFoundError:  # another replica sharing this spool uploaded and removed it meanwhile
                    continue
                except (OSError, WorkspaceError) as err:  # one damaged entry must not hold back the others
                    error = f"spooled {entry.key!r} in {folder} could not be uploaded: {err}"
                    log.error("%s", error)
                    continue
                await anyio.to_thread.run_sync(_remove_entry, folder)
                uploaded.append(entry.key)
        remaining = await anyio.to_thread.run_sync(self.pending)
        if remaining == 0 and self._spool_count == spooled_before:
            if self._drained is None:
                self._drained = anyio.Event()
            self._drained.set()
        if uploaded:
            log.info("uploaded %d spooled image(s); %d still waiting", len(uploaded), remaining)
        return FlushResult(uploaded=uploaded, remaining=remaining, error=error)

    async def keep_flushing(self, every_s: float = 30.0) -> None:
        """Flush every `every_s` seconds, forever (run it in the server's task group; cancel to stop)."""
        while True:
            try:
                await self.flush()
            except (OSError, WorkspaceError) as err:  # a damaged spool entry must not stop the others for good
                log.error("flushing the spool %s failed: %s", self.spool_dir, err)
            await anyio.sleep(every_s)

    async def wait_drained(self) -> None:
        """Return once a flush has left the spool empty (immediately if it is empty and was flushed)."""
        while True:
            if self._drained is None:
                self._drained = anyio.Event()
            event = self._drained
            await event.wait()
            if event is self._drained:
                return

    async def _already_there(self, key: str, data: bytes) -> bool:
        """After a crash between upload and removal the store already holds the very same bytes."""
        found = await self.store.head(key)
        if found is None or found.size != len(data):
            return False
        return await self.store.get(key, len(data)) == data

    def _entry_dir(self, key: str) -> Path:
        return self.spool_dir / sha256(key.encode()).hexdigest()

    def _entry_dirs(self) -> tuple[Path, ...]:
        return tuple(p for p in self.spool_dir.iterdir() if not p.name.startswith(".") and p.is_dir())

    def _entries(self) -> tuple[tuple[Path, SpoolEntry], ...]:
        """Every whole entry, oldest first."""
        found = ((folder, self._read_entry(folder)) for folder in self._entry_dirs())
        whole = ((folder, entry) for folder, entry in found if entry is not None)
        return tuple(sorted(whole, key=lambda item: (item[1].spooled_at, item[1].key)))

    def _read_entry(self, folder: Path) -> SpoolEntry | None:
        try:
            raw = _read_file(folder / "entry.json", _ENTRY_MAX_BYTES, str(folder))
            return SpoolEntry.model_validate_json(raw)
        except FileNotFoundError:
            return None
        except (ValueError, OSError, WorkspaceError) as err:  # kept for a person to look at, never deleted
            log.error("spool entry %s is unreadable and is skipped: %s", folder, err)
            return None

    def _write_entry(self, entry: SpoolEntry, data: bytes) -> None:
        tmp = self.spool_dir / f".tmp-{uuid.uuid4().hex}"
        tmp.mkdir(mode=0o700)
        try:
            _write_synced(tmp / "data", data)
            _write_synced(tmp / "entry.json", entry.model_dump_json().encode())
            _fsync_dir(tmp)
            try:
                tmp.rename(self._entry_dir(entry.key))  # fails on an existing, non-empty folder: no clobber
            except OSError as err:
                if self._entry_dir(entry.key).exists():
                    raise ObjectExists(f"{self.url(entry.key)} is already waiting in the spool") from err
                raise
            _fsync_dir(self.spool_dir)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise


def _under(key: str, prefix: str) -> bool:
    return not prefix or key.startswith(prefix + "/")


def _spooled(entry: SpoolEntry) -> StoredObject:
    return StoredObject(key=entry.key, size=entry.size, etag=None, last_modified=entry.spooled_at, spooled=True)


def _read_file(path: Path, max_bytes: int, label: str) -> bytes:
    """A regular file's bytes (no link followed), refused before reading when larger than `max_bytes`."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise WorkspaceError(f"{path} in the spool is not a regular file")
        check_size(label, info.st_size, max_bytes)
        data = f.read(max_bytes + 1)
    check_size(label, len(data), max_bytes)
    return data


def _write_synced(path: Path, data: bytes) -> None:
    with path.open("xb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _fsync_dir(path: Path) -> None:
    if os.name != "posix":  # pragma: no cover
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_entry(folder: Path) -> None:
    gone = folder.with_name(f".done-{folder.name}-{uuid.uuid4().hex[:8]}")
    try:
        folder.rename(gone)
    except FileNotFoundError:  # removed by another replica that shares the spool (and uploaded the same bytes)
        return
    shutil.rmtree(gone)


if TYPE_CHECKING:

    def _implements_the_port(store: SpooledImageStore) -> ImageStore:
        return store
