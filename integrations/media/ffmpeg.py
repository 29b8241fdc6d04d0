"""Which FFmpeg binary runs (`FFMPEG_BINARY`, PATH, or the bundled one), and how it is run."""

from __future__ import annotations

import contextlib
import ctypes
import logging
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from config.settings import get_settings
from integrations.media.capabilities import (
    MINIMUM,
    FFmpegCapabilities,
    UnsupportedFFmpegError,
    inspect_ffmpeg,
)
from integrations.media.errors import FFmpegError, FFmpegTimeoutError

logger = logging.getLogger(__name__)


def bundled_ffmpeg() -> str:
    """Path of the static FFmpeg build that comes with the install (imageio-ffmpeg)."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


@lru_cache(maxsize=1)
def selected_ffmpeg() -> FFmpegCapabilities:
    """The FFmpeg to run: `FFMPEG_BINARY`, else the one on PATH if it can cut, else the bundled one.

    Raises `UnsupportedFFmpegError` when `FFMPEG_BINARY` names a binary that cannot do what
    processing needs: the user asked for it, so it is not silently replaced.
    """
    configured = get_settings().ffmpeg_binary
    if configured:
        chosen = inspect_ffmpeg(shutil.which(configured) or configured)
        if not chosen.usable:
            raise UnsupportedFFmpegError(
                f"FFMPEG_BINARY={configured} is FFmpeg {chosen.version}, which lacks "
                f"{'; '.join(chosen.missing)}. zoom-publisher needs {MINIMUM} or newer: "
                "point FFMPEG_BINARY at such a build, or unset it to use the bundled FFmpeg."
            )
        return chosen
    on_path = shutil.which("ffmpeg")
    if on_path:
        system = inspect_ffmpeg(on_path)
        if system.usable:
            return system
        bundled = inspect_ffmpeg(bundled_ffmpeg())
        logger.warning(
            "ffmpeg on PATH is %s and lacks %s; using the bundled FFmpeg %s instead",
            system.describe(),
            "; ".join(system.missing),
            bundled.version,
        )
        return bundled
    return inspect_ffmpeg(bundled_ffmpeg())


def ffmpeg_binary() -> str:
    """Path of the ffmpeg to run (see `selected_ffmpeg`)."""
    return selected_ffmpeg().path


ProgressCallback = Callable[[float], None]
# FFmpeg 5.1 exits 0 when the last writes of its output fail (a full disk at the trailer, the
# close); only its words tell.
_UNFINISHED_OUTPUT = ("Error writing trailer", "Error closing file")
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class FFmpegRun:
    """What a finished FFmpeg process left behind."""

    args: list[str]
    stderr: str
    elapsed: float


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Ask Linux to SIGKILL the child when the parent dies, so a killed trim leaves no writer."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, 9)


class _ProgressReader:
    """Reads `-progress pipe:1` lines; a callback that raises stops the process."""

    def __init__(
        self,
        proc: subprocess.Popen[bytes],
        duration: float | None,
        progress: ProgressCallback | None,
    ) -> None:
        self.proc = proc
        self.duration = duration
        self.progress = progress
        self.error: BaseException | None = None

    def __call__(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            if self.progress is None or not self.duration or self.duration <= 0:
                continue
            key, _, value = raw.decode("ascii", "replace").strip().partition("=")
            fraction: float | None = None
            # Both keys carry microseconds (a historical FFmpeg quirk for out_time_ms).
            if key in ("out_time_us", "out_time_ms") and value.lstrip("-").isdigit():
                fraction = min(1.0, max(0.0, int(value) / 1e6 / self.duration))
            elif key == "progress" and value == "end":
                fraction = 1.0
            if fraction is None or self.error is not None:
                continue
            try:
                self.progress(fraction)
            except BaseException as exc:  # the caller cancels by raising, e.g. KeyboardInterrupt
                self.error = exc
                self.proc.kill()


def run_ffmpeg(
    args: Sequence[str],
    *,
    timeout: float,
    duration: float | None = None,
    progress: ProgressCallback | None = None,
    loglevel: str = "error",
) -> FFmpegRun:
    """Run `ffmpeg ARGS` with a timeout, reporting `progress(fraction)` of `duration` seconds.

    Raises `FFmpegTimeoutError` (the process is killed) or `FFmpegError` (non-zero exit, or
    an output FFmpeg says it could not finish).
    The child is killed when this call is interrupted (KeyboardInterrupt), when `progress`
    raises (the exception is re-raised here: a way to cancel) and, on Linux, when this
    process dies.
    """
    cmd = [
        ffmpeg_binary(), "-nostdin", "-hide_banner", "-nostats",
        "-progress", "pipe:1", "-v", loglevel, *args,
    ]  # fmt: skip
    logger.debug("ffmpeg: %s", subprocess.list2cmdline(cmd))
    started = time.monotonic()
    proc = subprocess.Popen(
        cmd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
    )
    err_chunks: list[bytes] = []
    err_pipe = proc.stderr
    assert err_pipe is not None  # stderr=PIPE
    progress_reader = _ProgressReader(proc, duration, progress)
    readers = [
        threading.Thread(target=progress_reader, daemon=True),
        threading.Thread(
            target=lambda: err_chunks.append(err_pipe.read()),
            daemon=True,
        ),
    ]
    for reader in readers:
        reader.start()
    try:
        returncode = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise FFmpegTimeoutError(
            f"ffmpeg ran longer than {timeout:.0f} s and was killed", returncode=None
        ) from None
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    finally:
        for reader in readers:
            reader.join(timeout=5)
    if progress_reader.error is not None:
        raise progress_reader.error
    stderr = b"".join(err_chunks).decode("utf-8", "replace")
    elapsed = time.monotonic() - started
    tail = "\n".join(stderr.strip().splitlines()[-5:])
    if returncode != 0:
        raise FFmpegError(
            f"ffmpeg exited with status {returncode}: {tail or 'no message'}",
            returncode=returncode,
            stderr=stderr,
        )
    if any(words in stderr for words in _UNFINISHED_OUTPUT):
        raise FFmpegError(
            f"ffmpeg could not finish its output: {tail}", returncode=0, stderr=stderr
        )
    return FFmpegRun(args=cmd, stderr=stderr, elapsed=elapsed)
