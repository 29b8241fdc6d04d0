"""Checks a flow makes before it claims any recording."""

from __future__ import annotations

from prefect import get_run_logger
from prefect.states import Failed, State

from integrations.media.capabilities import UnsupportedFFmpegError
from integrations.media.ffmpeg import selected_ffmpeg


def unusable_ffmpeg() -> State | None:
    """A Failed state naming the problem when the FFmpeg to run cannot cut, else None.

    Checked once at the start, so a wrong `FFMPEG_BINARY` fails the run before any recording
    is claimed instead of failing every recording one by one.
    """
    try:
        chosen = selected_ffmpeg()
    except UnsupportedFFmpegError as exc:
        get_run_logger().error("%s", exc)
        return Failed(message=str(exc))
    get_run_logger().info("Processing with %s", chosen.describe())
    return None
