"""The loudness profile's audio: the source's audio through one gain (and the peak limiter),
encoded with FFmpeg's AAC encoder into an M4A file, in pieces on several cores at once.

The pieces are joined frame-exactly (`aac_join`), which needs both encoders to be given the
same samples where they meet. Every piece's FFmpeg decodes the source from its start and drops
what comes before the piece with `atrim`: decoding costs a twentieth of encoding, and after a
seek some builds drop the first frame and a source with noise substitution (PNS) decodes to
other noise, while decoding from the start gives every piece the very samples one run has.
The gain is the same everywhere, but the limiter has a memory: it lowers the gain from 5 ms
before a sample over its limit until 50 ms after. So with a limiter, a junction goes where no
sample (after the gain) reaches the limit from 70 ms before the frames that overlap there
until 10 ms after: both limiters are idle there, whatever each did before. `silencedetect` at
the limit finds such stretches in a few seconds around each junction. A junction with none is
left out (the pieces on either side are one); when the encoders chose different windows at
every candidate frame of a junction, the audio is encoded again in one piece.
"""

from __future__ import annotations

import contextlib
import logging
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from integrations.media.aac_join import FRAME, AacJoinError, EncodedPiece, join_pieces
from integrations.media.errors import MediaError
from integrations.media.loudness import LoudnessGain
from integrations.media.output import temporary_output
from integrations.media.parallel import FFmpegJob, run_ffmpeg_jobs
from integrations.media.probe import MediaInfo

logger = logging.getLogger(__name__)

WARMUP_FRAMES = 32  # a piece's encoder runs this long before its junction: its models settle
TAIL_FRAMES = 4  # the piece before runs this far past the junction (the encoder looks ahead)
SPREAD_FRAMES = 48  # the candidate frames of a junction lie within this: it bounds the overlap
SEARCH_SECONDS = 6.0  # around each junction, for a stretch where the limiter is idle
LIMITER_QUIET_BEFORE = 0.072  # s: the limiter's release (50 ms) and attack (5 ms), with margin
LIMITER_QUIET_AFTER = 0.012  # s: its attack, with margin


@dataclass(frozen=True)
class _Encoding:
    source: Path
    info: MediaInfo
    gain: LoudnessGain
    bitrate: str
    timeout: float

    @property
    def rate(self) -> int:
        return self.info.audio.sample_rate if self.info.audio else 1


def encode_loudness(
    source: Path,
    info: MediaInfo,
    gain: LoudnessGain,
    output: Path,
    bitrate: str,
    pieces: int,
    timeout: float,
    progress: Callable[[float], None] | None = None,
    named_after: Path | None = None,
) -> list[int]:
    """Encode the first audio stream of `source` through `gain` to `output` (M4A), in up to
    `pieces` parallel pieces; the frames where the pieces were joined.

    The pieces are temporary files beside `output`, named as `output.temporary_output` names
    those of `named_after` (default: `output`), so that a killed run's are found by its name.
    """
    if info.audio is None:
        raise MediaError(f"{source.name} has no audio")
    encoding = _Encoding(source, info, gain, bitrate, timeout)
    candidates: list[list[int]] = []
    if pieces > 1 and info.audio.channels <= 2:  # `aac_join` reads mono and stereo frames
        samples = int((info.audio_duration or info.duration) * encoding.rate)
        centers = [samples * k // pieces for k in range(1, pieces)]
        candidates = [found for found in _candidates(encoding, centers) if found]
    if candidates:
        try:
            return _encode_pieces(encoding, output, named_after or output, candidates, progress)
        except AacJoinError as exc:
            logger.warning("%s: %s; encoding the audio in one piece", source.name, exc)
    _run_pieces(encoding, [(0, None, output)], progress)
    return []


def _encode_pieces(
    encoding: _Encoding,
    output: Path,
    named_after: Path,
    candidates: list[list[int]],
    progress: Callable[[float], None] | None,
) -> list[int]:
    starts = [0, *(max(0, min(frames) - WARMUP_FRAMES) for frames in candidates)]
    ends: list[int | None] = [max(frames) + TAIL_FRAMES for frames in candidates]
    ends.append(None)
    parts = [temporary_output(output.with_name(named_after.name)) for _ in starts]
    try:
        _run_pieces(encoding, list(zip(starts, ends, parts, strict=True)), progress)
        pieces = [EncodedPiece(part, start) for start, part in zip(starts, parts, strict=True)]
        junctions = join_pieces(pieces, candidates, output)
    finally:
        for part in parts:
            with contextlib.suppress(FileNotFoundError):
                part.unlink()
    logger.info(
        "%s: audio encoded in %d pieces, joined at %s s",
        encoding.source.name,
        len(parts),
        ", ".join(f"{frame * FRAME / encoding.rate:.3f}" for frame in junctions),
    )
    return junctions


def _run_pieces(
    encoding: _Encoding,
    plan: list[tuple[int, int | None, Path]],
    progress: Callable[[float], None] | None,
) -> None:
    """Encode each (first frame, end frame or None for the end, output) of `plan` at once."""
    rate = encoding.rate
    length = encoding.info.audio_duration or encoding.info.duration
    jobs = []
    for start, end, part in plan:
        trim = [f"start_sample={start * FRAME}"] if start else []
        if end is not None:
            trim.append(f"end_sample={end * FRAME}")
        # Every piece starts at 0: `apply_profiles` places the audio where the source's starts.
        chain = (f"atrim={':'.join(trim)}," if trim else "") + "asetpts=PTS-STARTPTS,"
        args = [
            "-vn", "-sn", "-dn", "-i", str(encoding.source), "-map", "0:a:0",
            "-af", chain + encoding.gain.filters(),
            # The fast coder takes about half the default (twoloop) coder's time.
            "-c:a", "aac", "-aac_coder", "fast", "-b:a", encoding.bitrate,
            # The length in samples (not milliseconds) in the edit list: `aac_join` reads it.
            "-movie_timescale", str(rate), "-f", "mp4", "-y", str(part),
        ]  # fmt: skip
        seconds = (end * FRAME / rate if end is not None else length) - start * FRAME / rate
        jobs.append(FFmpegJob(args, seconds))
    run_ffmpeg_jobs(jobs, timeout=encoding.timeout, progress=progress)


def _candidates(encoding: _Encoding, centers: list[int]) -> list[list[int]]:
    """For each junction wanted near sample `center`: the frames where it may go, best first."""
    gain, rate = encoding.gain, encoding.rate
    if gain.limit is None:  # one gain: the same samples everywhere
        return [_nearest(range(c // FRAME - 8, c // FRAME + 9), c) for c in centers]
    before = math.ceil(LIMITER_QUIET_BEFORE * rate)
    after = math.ceil(LIMITER_QUIET_AFTER * rate)
    need = (before + FRAME + after) / rate
    detect = f"{gain.volume_filter()},silencedetect=noise={0.99 * gain.limit:.6f}:d={need:.4f}"
    begins = [max(0.0, c / rate - SEARCH_SECONDS / 2) for c in centers]
    jobs = [_search_job(encoding, begin, detect) for begin in begins]
    runs = run_ffmpeg_jobs(jobs, timeout=encoding.timeout)
    found = []
    for center, begin, run in zip(centers, begins, runs, strict=True):
        frames: list[int] = []
        for start, end in _quiet(run.stderr):
            first = math.ceil((round((begin + start) * rate) + before) / FRAME) + 1
            last = (round((begin + end) * rate) - after) // FRAME
            frames += range(first, last + 1)
        found.append(_nearest(frames, center))
    return found


def _search_job(encoding: _Encoding, begin: float, detect: str) -> FFmpegJob:
    info = encoding.info
    seek = begin + info.audio_start - info.start_time  # `-ss` counts from the file's start
    args = [
        "-vn", "-sn", "-dn", "-ss", f"{seek:.6f}", "-t", f"{SEARCH_SECONDS}",
        "-i", str(encoding.source), "-map", "0:a:0", "-af", detect, "-f", "null", "-",
    ]  # fmt: skip
    return FFmpegJob(args, SEARCH_SECONDS, loglevel="info")


_SILENCE = re.compile(r"silence_(start|end): (-?\d+(?:\.\d+)?)")


def _quiet(stderr: str) -> list[tuple[float, float]]:
    """The stretches `silencedetect` logged (seconds from the run's start, inward by 2 ms for
    its printed precision); one still open at the end runs to the end of the search."""
    stretches = []
    start: float | None = None
    for kind, value in _SILENCE.findall(stderr):
        if kind == "start":
            start = float(value)
        elif start is not None:
            stretches.append((start + 0.002, float(value) - 0.002))
            start = None
    if start is not None:
        stretches.append((start + 0.002, SEARCH_SECONDS - 0.002))
    return stretches


def _nearest(frames: range | list[int], center: int) -> list[int]:
    """`frames` nearest to sample `center` first, only those within the spread of the first."""
    ordered = sorted(set(frames), key=lambda frame: abs(frame * FRAME - center))
    if not ordered:
        return []
    return [frame for frame in ordered if abs(frame - ordered[0]) <= SPREAD_FRAMES // 2]
