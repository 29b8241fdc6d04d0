"""Small tmpfs mounts for the disk-fault tests (root only: skipped, saying why, elsewhere)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def mount_tmpfs(folder: Path, size: str) -> None:
    """Mount a tmpfs of `size` ("128k", "8m") on `folder` (skips the test where it cannot)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", folder],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip() or done.returncode}")


def remount(folder: Path, mode: str) -> None:
    """Make the mount on `folder` read-only ("ro") or writable again ("rw")."""
    subprocess.run(
        ["mount", "-o", f"remount,{mode}", folder], check=True, capture_output=True, text=True
    )


def unmount(folder: Path) -> None:
    if subprocess.run(["umount", folder], capture_output=True).returncode != 0:
        subprocess.run(["umount", "-l", folder], check=True)


@contextmanager
def tmpfs(folder: Path, size: str, read_only: bool = False) -> Iterator[Path]:
    """`folder` (created) with a tmpfs of `size` mounted on it while the block runs."""
    folder.mkdir(parents=True, exist_ok=True)
    mount_tmpfs(folder, size)
    try:
        if read_only:
            try:
                remount(folder, "ro")
            except subprocess.CalledProcessError as exc:
                pytest.skip(f"cannot remount the tmpfs read-only: {exc.stderr.strip()}")
        yield folder
    finally:
        unmount(folder)


def fill(folder: Path, leave: int) -> Path:
    """A file that takes all of `folder`'s free space but `leave` bytes."""
    filler = folder / "filler"
    free = os.statvfs(folder).f_bavail * os.statvfs(folder).f_frsize
    with filler.open("wb") as out:
        os.posix_fallocate(out.fileno(), 0, max(free - leave, 0))
    return filler
