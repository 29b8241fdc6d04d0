"""Exceptions of the media core. Catch `MediaError` for all of them (an `IntegrationError`)."""

from __future__ import annotations

import errno as errno_codes
from pathlib import Path

from integrations.disk import DiskError
from integrations.errors import IntegrationError


class MediaError(IntegrationError):
    """Base class: something about a media file or an FFmpeg run went wrong."""


class MediaProbeError(MediaError):
    """The file could not be opened or read as media (corrupt, truncated, not media)."""


class UnsupportedMediaError(MediaError):
    """The file is readable but lacks what processing needs (e.g. no audio or no video)."""


class FFmpegError(MediaError):
    """An FFmpeg process exited with a non-zero status."""

    def __init__(self, message: str, *, returncode: int | None = None, stderr: str = "") -> None:
        super().__init__(message)
        self.returncode = returncode
        self.stderr = stderr


class FFmpegTimeoutError(FFmpegError):
    """An FFmpeg process ran longer than its timeout and was killed."""


class MediaVerificationError(MediaError):
    """A produced file failed a check (duration, A/V offset, decode errors, layout)."""


class NoSoundError(MediaError):
    """The recording holds no sound above the threshold: there is nothing to publish."""

    def __init__(self, message: str, *, duration: float) -> None:
        super().__init__(message)
        self.duration = duration


class MediaOutputError(MediaError, DiskError):
    """The operating system refused to write an output: a full or read-only disk, no
    permission, an I/O error, a folder that vanished. The message names the path and the cause;
    `errno` is the OS error number (None when FFmpeg reported it only in words)."""


class InsufficientSpaceError(MediaOutputError):
    """The destination's disk has less free space than the output needs (checked before
    writing): `needed` bytes (the output's estimate plus the reserve), `free` bytes."""

    def __init__(self, message: str, *, path: Path, needed: int, free: int) -> None:
        super().__init__(message, path=path, errno=errno_codes.ENOSPC, needed=needed, free=free)
