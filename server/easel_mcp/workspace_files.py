"""Opening files inside a folder Easel does not trust (the workspace, an input folder) safely.

Every read of a workspace file goes through `open_regular` / `read_regular`: the path is taken apart
below its base folder and opened one component at a time, each folder with O_NOFOLLOW | O_DIRECTORY
and the file itself with O_NOFOLLOW | O_NONBLOCK, relative to the folder before it. So no symlink is
followed anywhere on the way (a planted link to ~/.docker/config.json or /dev/zero is refused), the
containment is checked at open time rather than before it, a FIFO never blocks (it is refused after
fstat, like every other non-regular file), and no more than `limit` bytes are ever read.

Writes go into folders opened the same way (`real_dir`): a day folder that is a link to somewhere else
is refused instead of followed.

Synchronous file work: call it from a worker thread.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path, PurePath
from typing import Any, BinaryIO, Final

from easel_mcp.errors import FileTooLarge, ImageNotFound, PathNotAllowed

MAX_SIDECAR_BYTES: Final = 1024 * 1024
_NOFOLLOW: Final = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY: Final = getattr(os, "O_DIRECTORY", 0)
_NONBLOCK: Final = getattr(os, "O_NONBLOCK", 0)
_CLOEXEC: Final = getattr(os, "O_CLOEXEC", 0)
_BINARY: Final = getattr(os, "O_BINARY", 0)
_LINK_ERRNOS: Final = {errno.ELOOP, errno.EMLINK, errno.ENOTDIR}
DIR_FD: Final = os.open in os.supports_dir_fd and os.mkdir in os.supports_dir_fd


def parts_below(base: Path, path: Path | str) -> tuple[str, ...]:
    """The components of `path` below `base` (lexically: nothing is resolved); refused if it leaves it."""
    pure = PurePath(path)
    if pure.is_absolute():
        try:
            pure = pure.relative_to(base)
        except ValueError:
            raise PathNotAllowed(f"{path} is outside {base}") from None
    parts = pure.parts
    if not parts or any(p in ("", ".", "..") for p in parts):
        raise PathNotAllowed(f"{path} is not a plain path inside {base}")
    return parts


def _refused(base: Path, parts: Sequence[str], what: str) -> PathNotAllowed:
    return PathNotAllowed(
        f"{what} ({'/'.join(parts)}) is a link or not a regular file/folder: Easel reads and writes only real "
        f"files and folders inside {base}; replace the link with the file itself"
    )


def _open_dir_fd(base: Path, parts: Sequence[str], *, create: bool, what: str) -> int:
    fd = os.open(base, os.O_RDONLY | _DIRECTORY | _CLOEXEC)
    try:
        for i, part in enumerate(parts):
            if create:
                with suppress(FileExistsError):
                    os.mkdir(part, 0o755, dir_fd=fd)
            try:
                nxt = os.open(part, os.O_RDONLY | _DIRECTORY | _NOFOLLOW | _CLOEXEC, dir_fd=fd)
            except FileNotFoundError:
                raise ImageNotFound(f"{what} ({'/'.join(parts)}) does not exist in {base}") from None
            except OSError as e:
                if e.errno in _LINK_ERRNOS:
                    raise _refused(base, parts[: i + 1], what) from None
                raise
            os.close(fd)
            fd = nxt
    except BaseException:
        os.close(fd)
        raise
    return fd


@contextmanager
def real_dir(base: Path, parts: Sequence[str], *, create: bool = True, what: str = "the folder") -> Iterator[int]:
    """A descriptor of the folder base/parts (created when missing), every component a real folder."""
    if not DIR_FD:  # pragma: no cover - Windows: check each component, then hand out no descriptor
        _check_no_links(base, parts, what, create=create)
        yield -1
        return
    fd = _open_dir_fd(base, parts, create=create, what=what)
    try:
        yield fd
    finally:
        os.close(fd)


def open_regular(base: Path, path: Path | str, *, limit: int, what: str) -> BinaryIO:
    """`path` (inside `base`) opened for reading: a regular file, no link anywhere below `base`, at most
    `limit` bytes long. ImageNotFound when missing, PathNotAllowed for a link or a non-regular file,
    FileTooLarge over the limit."""
    parts = parts_below(base, path)
    if DIR_FD:
        with real_dir(base, parts[:-1], create=False, what=what) as dir_fd:
            try:
                fd = os.open(parts[-1], os.O_RDONLY | _NOFOLLOW | _NONBLOCK | _CLOEXEC, dir_fd=dir_fd)
            except FileNotFoundError:
                raise ImageNotFound(f"{what} ({'/'.join(parts)}) does not exist in {base}") from None
            except OSError as e:
                if e.errno in _LINK_ERRNOS:
                    raise _refused(base, parts, what) from None
                raise
    else:  # pragma: no cover - Windows
        _check_no_links(base, parts, what, create=False)
        fd = os.open(base.joinpath(*parts), os.O_RDONLY | _BINARY)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _refused(base, parts, what)
        if st.st_size > limit:
            raise FileTooLarge(what, st.st_size, limit)
        if _NONBLOCK and DIR_FD:
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular(base: Path, path: Path | str, *, limit: int, what: str) -> bytes:
    """The bytes of `path` as `open_regular` opens it; never more than `limit` (a file growing while it is
    read is refused too)."""
    with open_regular(base, path, limit=limit, what=what) as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise FileTooLarge(what, len(data), limit)
    return data


def _check_no_links(base: Path, parts: Sequence[str], what: str, *, create: bool) -> None:  # pragma: no cover
    current = base
    for i, part in enumerate(parts):
        current = current / part
        if create and i < len(parts):
            current.mkdir(exist_ok=True)
        try:
            st = current.lstat()
        except FileNotFoundError:
            raise ImageNotFound(f"{what} ({'/'.join(parts)}) does not exist in {base}") from None
        if stat.S_ISLNK(st.st_mode) or getattr(st, "st_reparse_tag", None):
            raise _refused(base, parts[: i + 1], what)


def link_no_clobber(src: Path, name: str, dir_fd: int, folder: Path) -> bool:
    """Publish `src` as `name` in the folder `dir_fd` atomically unless the name is taken (then False)."""
    fd_args: dict[str, Any] = {"dst_dir_fd": dir_fd} if dir_fd >= 0 else {}
    dst: str | Path = name if dir_fd >= 0 else folder / name
    try:
        os.link(src, dst, **fd_args)
        return True
    except FileExistsError:
        return False
    except OSError:
        # No hard links on this file system: reserve the name exclusively, then replace it.
        try:
            fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644, **({"dir_fd": dir_fd} if fd_args else {}))
        except FileExistsError:
            return False
        os.close(fd)
        os.replace(src, dst, **fd_args)  # noqa: PTH105 - relative to a folder descriptor
        return True


def fsync_dir(dir_fd: int) -> None:
    if os.name != "posix" or dir_fd < 0:  # pragma: no cover
        return
    os.fsync(dir_fd)
