"""Faults of the local disk: one line naming the path and the cause, an exit code, and
whether the work should wait for the disk rather than fail.

Standard library only: `trim` and the CLI's error handling import it without loading anything
heavy.
"""

from __future__ import annotations

import contextlib
import errno as errnos
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from integrations.errors import IntegrationError

MIB = 1024 * 1024

# A full or read-only disk: nothing is wrong with the work, it waits until the disk has room.
WAIT_ERRNOS = frozenset({errnos.ENOSPC, errnos.EDQUOT, errnos.EROFS})
# The operating system's refusals to store a file. ENOENT and ENOTDIR only when the folder is
# gone (a missing file to read is not a fault of the disk).
DISK_ERRNOS = WAIT_ERRNOS | {errnos.EACCES, errnos.EPERM, errnos.EIO}
_GONE_ERRNOS = frozenset({errnos.ENOENT, errnos.ENOTDIR})


class DiskError(IntegrationError):
    """The operating system refused to write a file: a full or read-only disk, no permission,
    an I/O error, a folder that vanished. The message names the path and the cause.

    `path`: the file (or folder) concerned; `errno`: the OS error number (None when only
    words told it, e.g. FFmpeg's); `needed`/`free`: bytes, when a space check refused.
    Combined with each layer's own base class (`MediaOutputError`, the download's errors).
    """

    def __init__(
        self,
        message: str,
        *,
        path: Path,
        errno: int | None = None,
        needed: int | None = None,
        free: int | None = None,
    ) -> None:
        super().__init__(message)
        self.path = Path(path)
        self.errno = errno
        self.needed = needed
        self.free = free

    @property
    def exit_code(self) -> int:
        """A command's exit code: 3 for an I/O error (the disk is at fault), else 2."""
        return 3 if self.errno == errnos.EIO else 2

    @property
    def waits(self) -> bool:
        """A full or read-only disk: the work waits for room instead of failing."""
        return self.errno in WAIT_ERRNOS


class DiskWriteError(DiskError):
    """An `OSError` of the local disk, described (see `disk_errors`)."""


def mb(size: float) -> str:
    """Bytes as "0.3 MB" (one decimal below 10 MB) or "512 MB"."""
    return f"{size / MIB:.1f} MB" if size < 10 * MIB else f"{size / MIB:.0f} MB"


def free_space(folder: Path) -> int:
    """Bytes this process may still write on the filesystem of `folder` (of its nearest
    existing parent while it does not exist yet)."""
    folder = Path(folder).absolute()
    for candidate in (folder, *folder.parents):
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            return shutil.disk_usage(candidate).free
    return shutil.disk_usage(os.sep).free


def is_disk_fault(exc: BaseException) -> bool:
    """Whether `exc` is the local disk refusing a file (not a network error, not a missing
    file to read)."""
    if isinstance(exc, DiskError):
        return True
    if not isinstance(exc, OSError) or isinstance(exc, ConnectionError | TimeoutError):
        return False
    if exc.errno in DISK_ERRNOS:
        return True
    return exc.errno in _GONE_ERRNOS and exc.filename is not None and _folder_gone(exc.filename)


def _folder_gone(filename: str | os.PathLike[str]) -> bool:
    folder = Path(os.fsdecode(filename)).absolute().parent
    return not folder.is_dir()


def describe(path: Path, code: int | None, exc: OSError | None = None, verb: str = "write") -> str:
    """One line: which file could not be written (`verb`), and why."""
    path = Path(path)
    folder = path.absolute().parent
    head = f"cannot {verb} {path}"
    if code in (errnos.ENOSPC, errnos.EDQUOT):
        quota = " (disk quota exceeded)" if code == errnos.EDQUOT else ""
        return f"{head}: no space left on the disk of {folder}{quota}"
    if code == errnos.EROFS:
        return f"{head}: {folder} is on a read-only file system"
    if code in (errnos.EACCES, errnos.EPERM):
        return f"{head}: no permission to {verb.split()[0]} in {folder}"
    if code == errnos.EIO:
        return f"{head}: input/output error on the disk of {folder} (a fault of the disk)"
    if code in _GONE_ERRNOS and folder.is_file():
        return f"{head}: {folder} is a file, not a folder"
    if code in _GONE_ERRNOS and not folder.is_dir():
        return f"{head}: the folder {folder} no longer exists"
    cause = (exc.strerror if exc is not None else None) or os.strerror(code or 0)
    where = f" ({exc.filename})" if exc is not None and exc.filename else ""
    return f"{head}: {cause.lower()}{where}"


def disk_error(exc: OSError, path: Path | None = None, verb: str | None = None) -> DiskWriteError:
    """`exc` as a `DiskWriteError` about `path` (default: the file it names). `verb` defaults to
    "write" where the error can only come from writing, else "use"."""
    named = path or (Path(os.fsdecode(exc.filename)) if exc.filename is not None else Path())
    if verb is None:
        verb = "write" if exc.errno in WAIT_ERRNOS else "use"
    return DiskWriteError(describe(named, exc.errno, exc, verb), path=named, errno=exc.errno)


@contextlib.contextmanager
def disk_errors(path: Path | None = None) -> Iterator[None]:
    """Turn the local disk's `OSError` (see `is_disk_fault`) into a `DiskWriteError` about
    `path` (default: the file the error names); other errors pass unchanged."""
    try:
        yield
    except DiskError:
        raise
    except OSError as exc:
        if not is_disk_fault(exc):
            raise
        raise disk_error(exc, path, "write" if path is not None else None) from exc


def folder_fault(folder: Path) -> int | None:
    """Why nothing can be written in `folder` (or its nearest existing parent): EROFS, EACCES,
    ENOSPC, or None when it looks writable. For errors that only say "cannot open" (SQLite)."""
    folder = Path(folder).absolute()
    existing = next((p for p in (folder, *folder.parents) if p.is_dir()), Path(os.sep))
    with contextlib.suppress(OSError):
        if os.statvfs(existing).f_flag & os.ST_RDONLY:
            return errnos.EROFS
    if not os.access(existing, os.W_OK | os.X_OK):
        return errnos.EACCES
    if free_space(existing) == 0:
        return errnos.ENOSPC
    return None
