"""Write a media file so that its final name only ever holds a complete, checked result."""

from __future__ import annotations

import contextlib
import errno
import glob
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from integrations.disk import MIB, describe, free_space, mb
from integrations.media.errors import FFmpegError, InsufficientSpaceError, MediaOutputError


def temporary_output(destination: Path) -> Path:
    """A new empty temporary file beside `destination` (same filesystem), mode 0644."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(
        prefix=f".{destination.stem}.", suffix=".part", dir=destination.parent
    )
    os.close(fd)
    path = Path(name)
    path.chmod(0o644)  # mkstemp creates 0600; the result is an ordinary file
    return path


@contextlib.contextmanager
def atomic_output(destination: Path) -> Iterator[Path]:
    """Yield a temporary path; on success it replaces `destination`, on any error it is deleted.

    Interruptions (KeyboardInterrupt, a killed task) delete it too. A `kill -9` leaves a
    `.NAME.*.part` file beside the destination, never a partial file under the final name.
    """
    temp = temporary_output(destination)
    try:
        yield temp
        temp.replace(destination)  # atomic rename (os.replace)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
        raise


def remove_stale_parts(folder: Path, stem: str | None = None) -> list[Path]:
    """Delete `.*.part` leftovers of killed runs in `folder` (only those of `stem`'s file when
    given, so that other work in the folder is left alone); return what was removed."""
    removed = []
    for path in folder.glob(f".{glob.escape(stem)}.*.part" if stem else ".*.part"):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed.append(path)
    return removed


def check_free_space(destination: Path, needed: int, reserve_mb: float = 0, what: str = "") -> None:
    """Raise `InsufficientSpaceError` unless `needed` bytes (`what` they are for) plus the
    reserve (MIN_FREE_DISK_MB) fit on the disk of `destination`'s folder."""
    folder = Path(destination).absolute().parent
    reserve = int(reserve_mb * MIB)
    free = free_space(folder)
    if free >= needed + reserve:
        return
    parts = [f"{mb(needed)} {what}".rstrip()] if needed else []
    if reserve:
        parts.append(f"the {reserve_mb:g} MB reserve (MIN_FREE_DISK_MB)")
    raise InsufficientSpaceError(
        f"not enough free space in {folder} for {Path(destination).name}: "
        f"{' plus '.join(parts)} needed, {mb(free)} free",
        path=folder,
        needed=needed + reserve,
        free=free,
    )


# What a full, read-only or failing disk looks like in FFmpeg's words (it prints strerror).
_FFMPEG_CAUSES = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO, errno.EACCES)


@contextlib.contextmanager
def output_errors(destination: Path, source: Path | None = None) -> Iterator[None]:
    """Turn the operating system's refusal to write `destination` (or a temporary beside it),
    raised by Python or reported by FFmpeg, into a `MediaOutputError` naming the path and the
    cause. A failure to read `source` is named as such."""
    try:
        yield
    except FFmpegError as exc:
        code = _ffmpeg_cause(exc.stderr, destination)
        if code is None:
            raise
        raise MediaOutputError(
            describe(destination, code, None), path=destination, errno=code
        ) from exc
    except (ConnectionError, TimeoutError):
        raise
    except OSError as exc:
        if source is not None and exc.filename is not None and Path(exc.filename) == source:
            cause = (exc.strerror or str(exc)).lower()
            raise MediaOutputError(
                f"cannot read {source}: {cause}", path=source, errno=exc.errno
            ) from exc
        message = describe(destination, exc.errno, exc)
        raise MediaOutputError(message, path=destination, errno=exc.errno) from exc


def _ffmpeg_cause(stderr: str, destination: Path) -> int | None:
    """The OS error of an FFmpeg line about writing (`av_interleaved_write_frame(): No space
    left on device`, `Error writing trailer of ...`, `PATH: Read-only file system` for a path in
    the destination's folder), not one about reading the source."""
    folders = {str(Path(destination).parent), str(Path(destination).absolute().parent)}
    folders.discard(".")
    for line in stderr.splitlines():
        for code in _FFMPEG_CAUSES:
            if (cause := os.strerror(code)) not in line:
                continue
            rest = line.replace(cause, "").lower()  # "Input/output error" itself says "output"
            if any(w in rest for w in ("writ", "output", "closing")) or any(
                folder in line for folder in folders
            ):
                return code
    return None
