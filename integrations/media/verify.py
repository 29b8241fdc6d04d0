"""Check a produced file before it replaces anything: layout, duration, A/V start, clean decode."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import av

from integrations.media.errors import FFmpegError, MediaError, MediaVerificationError
from integrations.media.ffmpeg import run_ffmpeg
from integrations.media.mp4 import Mp4LayoutError, iter_boxes
from integrations.media.probe import MediaInfo, probe, time_base_of, video_frame_count


@dataclass(frozen=True)
class VerifyReport:
    """What the checks measured."""

    duration: float
    video_duration: float | None
    av_offset: float  # first video frame time minus first audio sample time (seconds)
    moov_first: bool


def top_level_atoms(path: Path, limit: int = 64) -> list[str]:
    """Names of the top-level MP4 boxes in file order (reads box headers only), up to a box
    whose size makes no sense."""
    names: list[str] = []
    with path.open("rb") as fh:
        try:
            for found in iter_boxes(fh, partial=True):
                names.append(found.kind)
                if len(names) >= limit:
                    break
        except Mp4LayoutError:
            pass
    return names


def moov_before_mdat(path: Path) -> bool:
    """True when the index (moov) precedes the media data: playback starts before download ends."""
    atoms = top_level_atoms(path)
    return "moov" in atoms and "mdat" in atoms and atoms.index("moov") < atoms.index("mdat")


def first_timestamps(path: Path, packets: int = 48) -> tuple[float | None, float | None]:
    """When the first video frame and the first audio sample are presented (edit lists applied).

    Packets an edit list hides (codec pre-roll before the cut) do not count.
    """
    firsts: dict[str, float] = {}
    with av.open(str(path)) as container:
        streams = container.streams.video[:1] + container.streams.audio[:1]
        for stream in streams:
            if stream.start_time is not None:
                firsts[stream.type] = float(stream.start_time * time_base_of(stream))
        missing = [s for s in streams if s.type not in firsts]
        seen = 0
        for packet in container.demux(missing) if missing else ():
            if packet.pts is None or packet.is_discard:
                continue
            t = float(packet.pts * packet.time_base)
            kind = packet.stream.type
            firsts[kind] = min(firsts.get(kind, t), t)
            seen += 1
            if seen >= packets:
                break
    return firsts.get("video"), firsts.get("audio")


def read_back(path: Path, label: str) -> MediaInfo:
    """A written cut's streams, once its index is known to come before its data (it streams)."""
    if not moov_before_mdat(path):
        raise MediaVerificationError(f"{label}: the MP4 index (moov) is not before the data")
    try:
        return probe(path)
    except MediaError as exc:
        raise MediaVerificationError(f"{label} cannot be read back: {exc}") from exc


def decode_errors(path: Path, start: float = 0.0, seconds: float = 5.0) -> str:
    """Error messages FFmpeg prints decoding `seconds` from `start` (empty when clean)."""
    args: list[str] = []
    if start > 0:
        args += ["-ss", f"{start:.6f}"]
    args += ["-i", str(path), "-t", f"{seconds:.3f}", "-f", "null", "-"]
    try:
        run = run_ffmpeg(args, timeout=120 + 4 * seconds, loglevel="error")
    except FFmpegError as exc:
        return exc.stderr.strip() or str(exc)
    return run.stderr.strip()


def verify_output(
    path: Path,
    *,
    expected_duration: float,
    frame_duration: float,
    has_audio: bool = True,
    junction: float | None = None,
    expected_frames: int | None = None,
    decode_seconds: float = 1.0,
    name: str | None = None,
) -> VerifyReport:
    """Raise `MediaVerificationError` unless `path` is a sound cut of `expected_duration` seconds.

    Checks, from the container: moov before mdat; video (and container) duration within one
    frame; the video frame count (`expected_frames`, when given); video and audio start within
    one frame. Decoded, only where pieces begin: the first `decode_seconds` and as many from
    `junction` (the first copied keyframe after a re-encoded head), which must decode without
    an error message. (`trim_file` decodes the head itself while the join runs.)
    """
    tolerance = frame_duration + 1e-3
    label = name or path.name
    info = read_back(path, label)
    if info.video is None:
        raise MediaVerificationError(f"{label} has no video stream")
    if has_audio and info.audio is None:
        raise MediaVerificationError(f"{label} lost its audio stream")
    video_duration = info.video_duration if info.video_duration is not None else info.duration
    if abs(video_duration - expected_duration) > tolerance:
        raise MediaVerificationError(
            f"{label}: video lasts {video_duration:.3f} s, expected {expected_duration:.3f} s"
        )
    if abs(info.duration - expected_duration) > tolerance:
        raise MediaVerificationError(
            f"{label}: file lasts {info.duration:.3f} s, expected {expected_duration:.3f} s"
        )
    frames = video_frame_count(path)
    if expected_frames is not None and frames is not None and frames != expected_frames:
        raise MediaVerificationError(
            f"{label} holds {frames} video frames, expected {expected_frames} "
            "(frames lost or doubled where the pieces meet)"
        )
    video_first, audio_first = first_timestamps(path)
    offset = 0.0
    if video_first is None:
        raise MediaVerificationError(f"{label}: no video frame found")
    if has_audio:
        if audio_first is None:
            raise MediaVerificationError(f"{label}: no audio packet found")
        offset = video_first - audio_first
        if abs(offset) > tolerance:
            raise MediaVerificationError(
                f"{label}: video starts {offset * 1000:+.0f} ms after the audio "
                f"(more than one frame, {frame_duration * 1000:.0f} ms)"
            )
    checks = [(0.0, min(decode_seconds, expected_duration))]
    if junction is not None and junction > decode_seconds:
        checks.append((junction, decode_seconds))  # from the first copied keyframe on
    with ThreadPoolExecutor(max_workers=len(checks)) as pool:
        results = list(pool.map(lambda c: (c, decode_errors(path, *c)), checks))
    for (start, seconds), errors in results:
        if errors:
            first = errors.splitlines()[0]
            raise MediaVerificationError(
                f"{label}: decoding {seconds:g} s from {start:.1f} s reports errors: {first}"
            )
    return VerifyReport(
        duration=info.duration,
        video_duration=video_duration,
        av_offset=offset,
        moov_first=True,
    )


def small_gray(frame: av.VideoFrame, width: int = 32, height: int = 18) -> bytes:
    """A tiny grayscale thumbnail of a frame, for comparing pictures across encodes."""
    small = frame.reformat(width=width, height=height, format="gray")
    plane = small.planes[0]
    data = bytes(plane)
    return b"".join(
        data[row * plane.line_size : row * plane.line_size + width] for row in range(height)
    )


def picture_distance(a: bytes, b: bytes) -> float:
    """Mean absolute difference of two thumbnails (0 = identical)."""
    return sum(abs(x - y) for x, y in zip(a, b, strict=True)) / max(1, len(a))


def source_frame_index_of_first_frame(
    source: Path, output: Path, start: float, frame_duration: float, search: int = 4
) -> int:
    """Which source frame the output's first frame shows, as an offset from the frame at `start`.

    0 means the output starts exactly at `start`; the search covers `search` frames either side.
    Decodes from the keyframe before `start`, so it is meant for tests and spot checks.
    """
    with av.open(str(output)) as container:
        first = small_gray(next(container.decode(video=0)))
    candidates: dict[int, float] = {}
    with av.open(str(source)) as container:
        stream = container.streams.video[0]
        low = start - (search + 0.5) * frame_duration
        time_base = time_base_of(stream)
        container.seek(int(max(0.0, low) / time_base), stream=stream, backward=True)
        for frame in container.decode(stream):
            if frame.pts is None:  # no timestamp: it cannot be placed against `start`
                continue
            t = float(frame.pts * time_base)
            if t < low:
                continue
            if t > start + (search + 0.5) * frame_duration:
                break
            index = round((t - start) / frame_duration)
            candidates[index] = picture_distance(first, small_gray(frame))
    if not candidates:
        raise MediaVerificationError(f"no source frames near {start:.3f} s")
    return min(candidates, key=lambda k: candidates[k])
