"""Outputs read by demuxers that are not FFmpeg's: MediaInfo, and GStreamer's MP4 demuxer.

Required where the distribution's FFmpeg is (`REQUIRE_SYSTEM_FFMPEG=1`, which .ci/run sets
with the packages, or `CI=true`: a missing tool fails the test there); elsewhere a test that
needs one is skipped with how to install it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from array import array
from pathlib import Path
from typing import Any

import pytest

REQUIRED = os.environ.get("REQUIRE_SYSTEM_FFMPEG") == "1" or os.environ.get("CI") == "true"


def _tool(name: str, package: str) -> str:
    binary = shutil.which(name)
    if binary is None:
        message = f"{name} is not installed (apt install {package})"
        if REQUIRED:
            pytest.fail(message + " (required here: REQUIRE_SYSTEM_FFMPEG=1 or CI=true)")
        pytest.skip(message)
    return binary


def mediainfo_tracks(path: Path) -> dict[str, list[dict[str, Any]]]:
    """MediaInfo's tracks of `path` by type: "General", "Video", "Audio", "Other" (timecode)."""
    binary = _tool("mediainfo", "mediainfo")
    done = subprocess.run(
        [binary, "--Output=JSON", str(path)], capture_output=True, text=True, timeout=60, check=True
    )
    tracks: dict[str, list[dict[str, Any]]] = {}
    for track in json.loads(done.stdout)["media"]["track"]:
        tracks.setdefault(track["@type"], []).append(track)
    return tracks


def gstreamer_audio(path: Path, output: Path, channels: int) -> array:
    """The first channel of the first audio track of the MP4 `path`, as floats, as GStreamer's
    demuxer (qtdemux) and decoder give it (written to `output` on the way)."""
    packages = "gstreamer1.0-tools gstreamer1.0-plugins-good gstreamer1.0-libav"
    binary = _tool("gst-launch-1.0", packages)
    pipeline = [
        "filesrc", f"location={path}", "!", "qtdemux", "name=demux", "demux.audio_0", "!",
        "queue", "!", "decodebin", "!", "audioconvert", "!",
        "audio/x-raw,format=F32LE,layout=interleaved", "!", "filesink", f"location={output}",
    ]  # fmt: skip
    subprocess.run([binary, "-q", *pipeline], check=True, capture_output=True, timeout=120)
    pcm = array("f")
    pcm.frombytes(output.read_bytes())
    return pcm[::channels]
