"""Write a media file so that its final name only ever holds a complete, checked result."""

from __future__ import annotations

import contextlib
import glob
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


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
