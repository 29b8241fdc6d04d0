"""Generate Zoom-like test recordings with FFmpeg: H.264 High with B-frames plus AAC.

The picture is lavfi `testsrc2` (every frame differs, so a frame can be told from its
neighbours); the sound is a tone between a silent head and a silent tail, with an optional
noise floor under the silence and short "coughs" inside it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from session_files import exclusive

from integrations.media.ffmpeg import ffmpeg_binary
from integrations.media.probe import probe, video_frame_count

# Like the distribution's FFmpeg (tests/conftest.py), the independent checkers must be there.
CHECKERS_REQUIRED = os.environ.get("REQUIRE_SYSTEM_FFMPEG") == "1" or os.environ.get("CI") == "true"
CHECKERS = ("mediainfo", "gst-launch-1.0")
CHECKER_PACKAGES = "mediainfo gstreamer1.0-tools gstreamer1.0-plugins-good gstreamer1.0-libav"


@dataclass(frozen=True)
class MediaSpec:
    """What to generate. Times are seconds."""

    duration: float = 12.0
    silent_head: float = 0.0
    silent_tail: float = 0.0
    noise_db: float | None = None  # noise floor under the silence (dBFS), None for digital silence
    coughs: tuple[tuple[float, float], ...] = ()  # (start, length) of short loud sounds
    gop: int = 60  # frames between keyframes; huge values give a long-GOP source
    fps: int = 30
    width: int = 320
    height: int = 180
    bframes: int = 3
    sample_rate: int = 48000
    tone_db: float = -10.0
    video_codec: str = "libx264"
    level: str = "3.0"
    silent: bool = False  # no tone at all (the whole file is silence/noise)
    movflags: str = "+faststart"  # "+frag_keyframe+empty_moov": a fragmented MP4
    x264_params: str = ""  # e.g. "open_gop=1": keyframes after the first are not IDR pictures


def _amplitude(db: float) -> float:
    return float(10 ** (db / 20))


def audio_expression(spec: MediaSpec) -> str:
    """An `aevalsrc` expression for the spec's sound track."""
    terms: list[str] = []
    if not spec.silent:
        start, end = spec.silent_head, spec.duration - spec.silent_tail
        terms.append(f"{_amplitude(spec.tone_db):.6f}*sin(2*PI*440*t)*between(t,{start},{end})")
    for at, length in spec.coughs:
        terms.append(f"0.5*sin(2*PI*300*t)*between(t,{at},{at + length})")
    if spec.noise_db is not None:
        terms.append(f"{_amplitude(spec.noise_db):.6f}*(2*random(0)-1)")
    return "+".join(terms) if terms else "0"


def make_media(path: Path, spec: MediaSpec) -> Path:
    """Write an MP4 for `spec` to `path` (faststart by default, like Zoom's downloads)."""
    video = f"testsrc2=size={spec.width}x{spec.height}:rate={spec.fps}:duration={spec.duration}"
    audio = f"aevalsrc='{audio_expression(spec)}':s={spec.sample_rate}:c=mono:d={spec.duration}"
    if spec.video_codec == "libx264":
        # superfast keeps the B-frames and CABAC of Zoom's High profile at 3/4 of veryfast's CPU
        vcodec = [
            "-c:v", "libx264", "-preset", "superfast", "-profile:v", "high",
            "-level:v", spec.level, "-pix_fmt", "yuv420p", "-bf", str(spec.bframes),
            "-g", str(spec.gop), "-keyint_min", str(spec.gop), "-sc_threshold", "0",
            "-crf", "28", *(["-x264-params", spec.x264_params] if spec.x264_params else []),
        ]  # fmt: skip
    else:
        vcodec = ["-c:v", spec.video_codec, "-g", str(spec.gop), "-pix_fmt", "yuv420p"]
    cmd = [
        ffmpeg_binary(), "-nostdin", "-hide_banner", "-v", "error", "-y",
        "-f", "lavfi", "-i", video, "-f", "lavfi", "-i", audio,
        *vcodec, "-c:a", "aac", "-b:a", "64k", "-shortest",
        "-movflags", spec.movflags, str(path),
    ]  # fmt: skip
    subprocess.run(cmd, check=True, capture_output=True, timeout=300)
    return path


def corrupt_copy(source: Path, destination: Path) -> Path:
    """A copy of `source` with its middle overwritten by garbage and its end cut off."""
    data = bytearray(source.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 4096] = bytes(range(256)) * 16
    destination.write_bytes(bytes(data[: int(len(data) * 0.7)]))
    return destination


_cache_folder: Path | None = None


def share_cache(folder: Path) -> None:
    """Keep `cached_media`'s files in `folder`, which every test process of the session sees."""
    global _cache_folder
    folder.mkdir(parents=True, exist_ok=True)
    _cache_folder = folder


def cached_media(spec: MediaSpec) -> Path:
    """`make_media(spec)` once per test session: the first process to ask for a spec makes it
    (the others wait for it on a lock) in the session's shared folder. Callers must not change
    the file."""
    if _cache_folder is None:
        raise RuntimeError("no media cache folder: tests/conftest.py calls share_cache")
    name = hashlib.sha256(repr(spec).encode()).hexdigest()[:20]
    path = _cache_folder / f"{name}.mp4"
    if not path.exists():
        with exclusive(_cache_folder / f"{name}.lock"):
            if not path.exists():
                partial = make_media(_cache_folder / f"{name}.partial.mp4", spec)
                partial.rename(path)
    return path


@dataclass(frozen=True)
class IndependentReading:
    """A file as tools the project did not write see it: MediaInfo's reading of the container,
    and GStreamer's MP4 demuxer (qtdemux) with its H.264 decoder run to the end."""

    frames: int  # video frames MediaInfo lists
    duration: float  # seconds of video, per MediaInfo
    decoded: int  # video frames GStreamer decoded
    errors: list[str]  # GStreamer's error messages


def read_independently(path: Path) -> IndependentReading:
    """Read `path` with MediaInfo and GStreamer; fails (CI) or skips the test without them."""
    missing = [tool for tool in CHECKERS if shutil.which(tool) is None]
    if missing:
        message = f"{', '.join(missing)} not installed (apt install {CHECKER_PACKAGES})"
        if CHECKERS_REQUIRED:
            pytest.fail(message + " (required here: REQUIRE_SYSTEM_FFMPEG=1 or CI=true)")
        pytest.skip(message)
    listing = subprocess.run(
        ["mediainfo", "--Output=JSON", str(path)],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    video = next(t for t in json.loads(listing.stdout)["media"]["track"] if t["@type"] == "Video")
    pipeline = [
        "gst-launch-1.0", "-v", "filesrc", f"location={path}", "!", "qtdemux", "name=demux",
        "demux.video_0", "!", "queue", "!", "avdec_h264", "!", "fakesink", "name=video",
        "silent=false",
    ]  # fmt: skip
    env = {**os.environ, "GST_DEBUG": "*:1", "GST_DEBUG_NO_COLOR": "1"}
    run = subprocess.run(pipeline, capture_output=True, text=True, timeout=300, env=env)
    errors = [line for line in run.stderr.splitlines() if " ERROR " in line]
    if run.returncode:
        errors.append(f"gst-launch-1.0 exited with {run.returncode}: {run.stdout[-500:]}")
    return IndependentReading(
        frames=int(video["FrameCount"]),
        duration=float(video["Duration"]),
        decoded=run.stdout.count("GstFakeSink:video: last-message = chain"),
        errors=errors,
    )


def assert_read_independently(path: Path) -> None:
    """MediaInfo lists the frames and duration FFmpeg finds; GStreamer's demuxer and decoder
    play every frame without an error."""
    reading = read_independently(path)
    assert reading.errors == []
    assert reading.frames == video_frame_count(path)
    assert reading.decoded == reading.frames
    assert abs(reading.duration - (probe(path).video_duration or 0.0)) < 0.002
