"""Recordings in the shapes real recorders write, generated with the selected FFmpeg:
Zoom's audio-only M4A (with or without cover art), an MP4 with a timecode and a second audio
track."""

from __future__ import annotations

import subprocess
from array import array
from pathlib import Path

from media_factory import MediaSpec, audio_expression

from integrations.media.ffmpeg import ffmpeg_binary

# Zoom's audio_only recordings: a hum at -46 dBFS all along (silence to the -40 dB detector,
# but samples to compare wherever the cut falls), a -10 dBFS tone in the middle.
HUM = "0.005*sin(2*PI*300*t)"


def ffmpeg(*args: str) -> None:
    cmd = [ffmpeg_binary(), "-nostdin", "-v", "error", "-y", *args]
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)


def make_audio_only(
    path: Path,
    head: float,
    tail: float,
    rate: int = 48000,
    layout: str = "mono",
    duration: float = 12.0,
) -> Path:
    """An AAC M4A like Zoom's `audio_only` file: the hum, and the tone from `head` seconds to
    `tail` seconds before the end."""
    sound = f"{HUM}+0.3*sin(2*PI*440*t)*between(t,{head},{duration - tail})"
    channels = sound if layout == "mono" else f"{sound}|{sound}"
    source = f"aevalsrc='{channels}':s={rate}:c={layout}:d={duration}"
    ffmpeg("-f", "lavfi", "-i", source, "-c:a", "aac", "-b:a", "64k", str(path))
    return path


def samples(path: Path) -> array:
    """The first channel of the first audio stream, decoded, as floats."""
    cmd = [ffmpeg_binary(), "-v", "error", "-i", str(path), "-af", "pan=mono|c0=c0"]
    cmd += ["-f", "f32le", "-"]
    pcm = array("f")
    pcm.frombytes(subprocess.run(cmd, check=True, capture_output=True, timeout=120).stdout)
    return pcm


def make_extra_tracks(path: Path) -> Path:
    """An MP4 with a timecode track and a second (interpreter's) audio track."""
    spec = MediaSpec(duration=8.0, silent_head=2.5, silent_tail=2.0)
    ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25:duration=8",
        "-f", "lavfi", "-i", f"aevalsrc='{audio_expression(spec)}':s=48000:c=mono:d=8",
        "-f", "lavfi", "-i", "sine=frequency=660:sample_rate=32000:duration=8",
        "-map", "0:v", "-map", "1:a", "-map", "2:a", "-c:v", "libx264", "-preset", "veryfast",
        "-g", "25", "-c:a", "aac", "-b:a", "64k", "-timecode", "01:00:00:00",
        "-metadata:s:a:1", "language=fra", "-metadata:s:a:1", "title=Interpreter",
        "-movflags", "+faststart", str(path),
    )  # fmt: skip
    return path


def make_with_cover(path: Path, audio: Path) -> Path:
    """`audio` with a 64x64 PNG attached as its cover picture."""
    cover = path.with_suffix(".png")
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=64x64", "-frames:v", "1", str(cover))
    ffmpeg(
        "-i", str(audio), "-i", str(cover), "-map", "0", "-map", "1", "-c", "copy",
        "-disposition:v:0", "attached_pic", str(path),
    )  # fmt: skip
    return path
