"""The identity of a media storage: an id written once into `MEDIA_DIR`, read by every worker.

Two workers whose `MEDIA_DIR` is one folder (one disk, or one NFS export mounted on both) read
the same id, so the status store counts them as one storage; two folders on two disks get two.
The id is created atomically: written to a temporary file, then hard-linked to its final name,
which fails if another worker linked its own first (the loser reads the winner's). Filesystems
without hard links (FAT, exFAT) use an exclusive create instead.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import socket
import time
import uuid
from pathlib import Path

MARKER = ".zoom-publisher-storage"
MAX_LENGTH = 64  # the store's column


def storage_id(media_dir: Path) -> str:
    """The id of the storage holding `media_dir`, created on first use.

    A folder that cannot hold it (read-only, full, not creatable) gets an id made from this
    host and the folder's path, not written: nothing can be downloaded there before it can be
    written, and from then on the written id names it.
    """
    marker = media_dir / MARKER
    try:
        if existing := _read(marker):
            return existing
        media_dir.mkdir(parents=True, exist_ok=True)
        return _create(marker, _new_id())
    except OSError:
        return unwritten_id(media_dir)


def unwritten_id(media_dir: Path) -> str:
    """`<host>-<12 hex digits of the folder's path>`: the same in every process of this host."""
    digest = hashlib.sha256(str(media_dir.absolute()).encode()).hexdigest()[:12]
    return f"{_host()}-{digest}"


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9.-]", "-", socket.gethostname())[:40] or "storage"


def _new_id() -> str:
    """`<host>-<12 hex digits>`: unique, and tells a person which machine made it."""
    return f"{_host()}-{uuid.uuid4().hex[:12]}"


def _read(marker: Path, patience: float = 2.0) -> str | None:
    """The stored id; waits briefly for one being written by an exclusive create."""
    deadline = time.monotonic() + patience
    while True:
        try:
            text = marker.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            return None
        if text or time.monotonic() > deadline:
            return text[:MAX_LENGTH] or None
        time.sleep(0.05)


def _create(marker: Path, new_id: str) -> str:
    """Store `new_id` unless another worker stored one first; returns the id that holds."""
    temporary = marker.with_name(f"{MARKER}.{uuid.uuid4().hex}.tmp")
    try:
        with temporary.open("x", encoding="ascii") as file:
            file.write(new_id + "\n")
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(temporary, marker)
        except FileExistsError:
            pass
        except OSError:  # no hard links on this filesystem
            _create_exclusive(marker, new_id)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
    found = _read(marker)
    if not found:
        raise OSError(f"{marker} is empty")
    return found


def _create_exclusive(marker: Path, new_id: str) -> None:
    with contextlib.suppress(FileExistsError), marker.open("x", encoding="ascii") as file:
        file.write(new_id + "\n")
        file.flush()
        os.fsync(file.fileno())
