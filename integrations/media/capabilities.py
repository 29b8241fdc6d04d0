"""What an FFmpeg binary can do: its version and the few features the cut relies on.

Users run whatever FFmpeg their system has (Debian 12: 5.1, Ubuntu 22.04: 4.4, Homebrew: 7-9).
The options that differ between those versions are chosen here, once per binary, from two quick
runs (`-h full` and a one-frame encode), so that nothing fails in the middle of a cut.
"""

from __future__ import annotations

import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache

from integrations.media.errors import MediaError

MINIMUM_VERSION = (4, 2)
MINIMUM = "FFmpeg 4.2 with libx264"

_VERSION = re.compile(r"ffmpeg version n?(\d+)\.(\d+)(?:\.(\d+))?")
_VERSION_WORD = re.compile(r"ffmpeg version (\S+)")
# Sections of `-h full` the cut, the detection and the profiles need, and what each is for.
_REQUIRED_SECTIONS = {
    "libx264 AVOptions:": "the libx264 encoder (frame-accurate cuts)",
    "AAC encoder AVOptions:": "the AAC encoder (loudness normalization)",
    "concat demuxer AVOptions:": "the concat demuxer (joining the cut)",
    "silencedetect AVOptions:": "the silencedetect filter (finding silence)",
}
# Filter options the loudness profile needs (a build whose alimiter cannot compensate its delay
# would shift the sound against the picture).
_REQUIRED_FILTER_OPTIONS = {
    ("ebur128", "peak"): "the ebur128 filter's peak option (loudness measurement)",
    ("alimiter", "latency"): "the alimiter filter's delay compensation (loudness limiting)",
}
_REQUIRED_OPTIONS = {
    "-moov_size": "the MP4 muxer's -moov_size (index written up front)",
    "-x264-params": "libx264's -x264-params",
    "-enc_time_base": "the -enc_time_base option (timestamps kept exactly)",
    "-progress": "the -progress option",
}
_PROBE_TIMEOUT = 20.0


@dataclass(frozen=True)
class FFmpegCapabilities:
    """One FFmpeg binary: its version and how to ask it for what the cut needs."""

    path: str
    version: str  # as the binary prints it, e.g. "5.1.9-0+deb12u1" or "n9.0.2-17-g2a571b6068"
    release: tuple[int, int] | None  # (major, minor); None for a build without a release number
    has_fps_mode: bool  # -fps_mode (5.1+) instead of the older -vsync
    source_time_base: str | None  # -enc_time_base value for the demuxer's time base: demux or -1
    missing: tuple[str, ...] = ()  # what the cut needs and this binary lacks

    @property
    def usable(self) -> bool:
        return not self.missing

    def passthrough_timestamps(self) -> list[str]:
        """Options that keep each frame's timestamp as it is (no frames dropped or duplicated)."""
        return ["-fps_mode" if self.has_fps_mode else "-vsync", "passthrough"]

    def keep_source_time_base(self) -> list[str]:
        """Options that make the video encoder use the input's time base."""
        assert self.source_time_base is not None
        return ["-enc_time_base:v", self.source_time_base]

    def describe(self) -> str:
        return f"FFmpeg {self.version} ({self.path})"


class UnsupportedFFmpegError(MediaError):
    """The FFmpeg binary that was asked for cannot do what processing needs."""


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        errors="replace",
        timeout=_PROBE_TIMEOUT,
        check=False,
    )


def _encodes_with(path: str, time_base: str, fps_mode: bool) -> bool:
    """Whether a one-frame libx264 encode accepts `-enc_time_base:v time_base`."""
    sync = ["-fps_mode" if fps_mode else "-vsync", "passthrough"]
    args = [
        path, "-nostdin", "-hide_banner", "-v", "error",
        "-f", "lavfi", "-i", "color=size=16x16:duration=0.04", "-frames:v", "1",
        *sync, "-enc_time_base:v", time_base, "-c:v", "libx264", "-f", "null", "-",
    ]  # fmt: skip
    return _run(args).returncode == 0


def parse_release(banner: str) -> tuple[str, tuple[int, int] | None]:
    """(version word, (major, minor) or None) from FFmpeg's `ffmpeg version ...` line."""
    word = _VERSION_WORD.search(banner)
    numbers = _VERSION.search(banner)
    release = (int(numbers.group(1)), int(numbers.group(2))) if numbers else None
    return (word.group(1) if word else "unknown"), release


def _option_listed(help_text: str, option: str) -> bool:
    return re.search(rf"^\s*{re.escape(option)}[\s\[]", help_text, re.MULTILINE) is not None


def _filter_option_listed(help_text: str, name: str, option: str) -> bool:
    """Whether `-h full` lists `option` in filter `name`'s section."""
    section = re.search(rf"^{re.escape(name)} AVOptions:\n((?:[ \t]+\S.*\n?)*)", help_text, re.M)
    return section is not None and _option_listed(section.group(1), option)


@lru_cache(maxsize=8)
def inspect_ffmpeg(path: str) -> FFmpegCapabilities:
    """Find out what the FFmpeg at `path` can do (about 0.1 s, once per binary and process)."""
    try:
        with ThreadPoolExecutor(max_workers=3) as pool:
            help_run = pool.submit(_run, [path, "-h", "full"])
            demux = pool.submit(_encodes_with, path, "demux", True)
            legacy = pool.submit(_encodes_with, path, "-1", True)
            help_done = help_run.result()
            demux_ok, legacy_ok = demux.result(), legacy.result()
    except (OSError, subprocess.SubprocessError) as exc:
        return FFmpegCapabilities(path, "unknown", None, False, None, (f"cannot run it: {exc}",))
    version, release = parse_release(help_done.stderr + help_done.stdout)
    if version == "unknown":
        return FFmpegCapabilities(path, version, None, False, None, ("an FFmpeg banner",))
    help_text = help_done.stdout
    has_fps_mode = _option_listed(help_text, "-fps_mode")
    if not has_fps_mode and not (demux_ok or legacy_ok):
        legacy_ok = _encodes_with(path, "-1", False)
    missing = [need for section, need in _REQUIRED_SECTIONS.items() if section not in help_text]
    missing += [need for option, need in _REQUIRED_OPTIONS.items() if option not in help_text]
    missing += [
        need
        for (name, option), need in _REQUIRED_FILTER_OPTIONS.items()
        if not _filter_option_listed(help_text, name, option)
    ]
    if not has_fps_mode and not _option_listed(help_text, "-vsync"):
        missing.append("the -fps_mode or -vsync option")
    source_time_base = "demux" if demux_ok else "-1" if legacy_ok else None
    if source_time_base is None and "-enc_time_base" in help_text:
        missing.append("a libx264 encode that keeps the source's time base")
    if release is not None and release < MINIMUM_VERSION:
        missing.insert(0, f"version {MINIMUM_VERSION[0]}.{MINIMUM_VERSION[1]} or newer")
    return FFmpegCapabilities(
        path=path,
        version=version,
        release=release,
        has_fps_mode=has_fps_mode,
        source_time_base=source_time_base,
        missing=tuple(dict.fromkeys(missing)),
    )
