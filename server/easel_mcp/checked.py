"""Input files held open from the moment they are checked: what is sent upstream is what was checked.

A path is only a name: once checked, a folder on it can be swapped for a symlink (between two attempts
of a call, or while it waits behind the concurrency limit), and `O_NOFOLLOW` guards only the last
component. So an input is opened once, its open file is checked (a regular file, inside the workspace
or an allowed input folder, within the size cap), and every later read goes through that descriptor,
positionally, for the call's life. Before each attempt `verify()` re-reads it and compares its size and
sha256 with what was checked, so a file rewritten in place is refused too, before anything is sent.

Synchronous file work: call it from a worker thread.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import threading
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from easel_mcp.errors import ImageNotFound, InvalidRequest, PathNotAllowed

if TYPE_CHECKING:
    from collections.abc import Iterable

    from easel_mcp.providers.base import InputImage
    from easel_mcp.workspace import Workspace

CHUNK = 1024 * 1024
_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


class CheckedFile:
    """An open, checked input file; reads never go through its path again. Closed by `close()`, or
    when it is garbage-collected."""

    def __init__(self, fd: int, *, size: int, sha256: str, label: str) -> None:
        self._fd = fd
        self.size = size
        self.sha256 = sha256
        self.label = label
        self._closer = weakref.finalize(self, os.close, fd)

    @classmethod
    def open(
        cls, workspace: Workspace, ref: str, *, what: str, max_bytes: int, field: str = "images"
    ) -> tuple[CheckedFile, Path, bytes]:
        """Resolve `ref` through the workspace's sandbox, open it, check the open file, and read it
        once: (the held file, its path, its bytes). `field` is the argument named in errors."""
        path = workspace.resolve_input(ref, what=what)
        try:
            fd = os.open(path, _FLAGS)
        except OSError as e:
            raise PathNotAllowed(
                f"{ref!r} cannot be opened ({e.strerror}); pass a regular file in the workspace"
            ) from e
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise ImageNotFound(f"{ref!r} is not a regular file")
            _check_contained(workspace, fd, path, info, ref, what)
            if info.st_size > max_bytes:
                raise InvalidRequest(
                    f"{what} ({ref}) is {info.st_size / 2**20:.1f} MB; the limit is {max_bytes / 2**20:.0f} MB",
                    field=field,
                )
            data = _pread_all(fd, max_bytes + 1)
            if len(data) > max_bytes:
                raise InvalidRequest(f"{what} ({ref}) grew past the {max_bytes / 2**20:.0f} MB limit", field=field)
        except BaseException:
            os.close(fd)
            raise
        label = workspace.relative(path)
        return cls(fd, size=len(data), sha256=hashlib.sha256(data).hexdigest(), label=label), path, data

    @property
    def closed(self) -> bool:
        return not self._closer.alive

    def close(self) -> None:
        self._closer()

    def reader(self) -> BinaryIO:
        """A new binary reader from the start of the held file (its own position: retries re-read it)."""
        return io.BufferedReader(_HeldRaw(self._fd, self.size), CHUNK)

    def read(self) -> bytes:
        return _pread_all(self._fd, self.size)

    def verify(self) -> None:
        """Refuse (InvalidRequest, before anything is sent) if the held file changed since it was checked."""
        if self.closed:
            raise InvalidRequest(f"{self.label} was closed before the call was sent; call again", field="images")
        digest = hashlib.sha256()
        size = 0
        while chunk := _pread(self._fd, CHUNK, size):
            digest.update(chunk)
            size += len(chunk)
            if size > self.size:
                break
        if size != self.size or digest.hexdigest() != self.sha256:
            raise InvalidRequest(
                f"{self.label} changed on disk after it was checked, so it was not sent; leave it unchanged "
                "while the call runs (or save the new version under a new name) and call again",
                field="images",
            )


def _check_contained(workspace: Workspace, fd: int, path: Path, info: os.stat_result, ref: str, what: str) -> None:
    """The open file is the checked one: where the kernel says it is (Linux), or the same device and
    inode as its path, resolved and checked again, now."""
    try:
        real: str | None = str(Path(f"/proc/self/fd/{fd}").readlink())
    except OSError:
        real = None
    again = workspace.resolve_input(real or str(path), what=what)
    now = again.stat()
    if (now.st_dev, now.st_ino) != (info.st_dev, info.st_ino):
        raise PathNotAllowed(f"{ref!r} changed while it was being opened; pass a plain file in the workspace")


_SEEK_LOCK = threading.Lock()


def _pread(fd: int, size: int, offset: int) -> bytes:
    """Read at an offset without moving a shared position (emulated where os.pread is missing)."""
    if hasattr(os, "pread"):
        return os.pread(fd, size, offset)
    with _SEEK_LOCK:  # pragma: no cover - Windows
        os.lseek(fd, offset, os.SEEK_SET)
        return os.read(fd, size)


def _pread_all(fd: int, limit: int) -> bytes:
    parts: list[bytes] = []
    size = 0
    while size < limit and (chunk := _pread(fd, min(CHUNK, limit - size), size)):
        parts.append(chunk)
        size += len(chunk)
    return b"".join(parts)


class _HeldRaw(io.RawIOBase):
    """A read-only, seekable view of a held descriptor, with its own position (positional reads)."""

    def __init__(self, fd: int, size: int) -> None:
        super().__init__()
        self._fd = fd
        self._size = size
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        want = min(len(buffer), self._size - self._pos)
        if want <= 0:
            return 0
        chunk = _pread(self._fd, want, self._pos)
        buffer[: len(chunk)] = chunk
        self._pos += len(chunk)
        return len(chunk)

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._pos, os.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos


def verify_held(images: Iterable[InputImage]) -> None:
    """Before each attempt: every held input is still byte for byte what was checked."""
    for image in images:
        if image.file is not None:
            image.file.verify()


def close_held(images: Iterable[InputImage]) -> None:
    for image in images:
        if image.file is not None:
            image.file.close()
