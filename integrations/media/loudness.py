"""EBU R128 loudness of a file's audio, and the one gain (with a peak limiter) to a target.

`measure_loudness` runs FFmpeg's `ebur128` over pieces of the audio in parallel, reading its
frame log (the momentary loudness of each 400 ms block, every 100 ms) and the sample peak, and
gates the blocks of all pieces together as a single run does (ITU-R BS.1770: an absolute gate
at -70 LUFS, a relative one 10 LU under the mean of the blocks past it). A piece after the
first starts a second early and keeps only the blocks that end past its start, so every block
is counted once, with its whole 400 ms. (Where the source uses noise substitution, its noise
is drawn afresh after a seek: a piece's blocks can differ from one run's by that noise.)

Whether the limiter is needed is decided on the sample peak, not the true peak: the limiter
(`alimiter`) acts on sample values and leaves every sample under its limit as it is, so a
decision on the true peak gives the same output, while measuring it (`peak=true`, which
oversamples) cost more than the rest of the measurement. The true-peak target is held by the
limiter's ceiling, `peak_headroom_db` below it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from config.processing import LoudnessProfile
from integrations.media.errors import MediaError
from integrations.media.parallel import FFmpegJob, run_ffmpeg_jobs
from integrations.media.probe import MediaInfo

# `ebur128` reports -70 LUFS (its absolute gate) when no block is louder: nothing to measure.
SILENCE_LUFS = -70.0
RELATIVE_GATE_LU = 10.0
PIECE_LEAD = 10  # tenths of a second a piece after the first starts before its blocks
SEEK_LEAD = 20  # tenths of a second its run seeks before that
PRINTED_DB = 0.05  # `ebur128` prints decibels with one decimal: each figure is this close


@dataclass(frozen=True)
class LoudnessMeasurement:
    """EBU R128 figures of a file's first audio stream."""

    integrated: float  # LUFS; SILENCE_LUFS when nothing passes the gate
    sample_peak: float  # dBFS; -inf for digital silence

    @property
    def silent(self) -> bool:
        return self.integrated <= SILENCE_LUFS


@dataclass(frozen=True)
class LoudnessGain:
    """What the loudness profile applies: one gain, and a limiter's ceiling when needed."""

    gain_db: float
    ceiling_db: float | None  # sample-peak ceiling of the limiter; None: no limiter

    @property
    def limit(self) -> float | None:
        """The limiter's ceiling as a sample value (what `alimiter` compares samples with)."""
        return None if self.ceiling_db is None else round(10 ** (self.ceiling_db / 20), 4)

    def volume_filter(self) -> str:
        return f"volume={self.gain_db:.2f}dB"

    def filters(self) -> str:
        """The FFmpeg audio filter chain (the limiter's delay compensated: A/V sync kept)."""
        chain = self.volume_filter()
        if self.limit is not None:
            chain += f",alimiter=limit={self.limit:.4f}:level=disabled:latency=1"
        return chain

    def describe(self) -> str:
        """E.g. "gain +16.8 dB, limited at -3.5 dBFS"."""
        limited = "" if self.ceiling_db is None else f", limited at {self.ceiling_db:g} dBFS"
        return f"gain {self.gain_db:+.1f} dB{limited}"


def plan_gain(profile: LoudnessProfile, measured: LoudnessMeasurement) -> LoudnessGain:
    """The gain to the target, limited when it would lift a sample past the ceiling."""
    if measured.silent:
        return LoudnessGain(0.0, None)
    gain = profile.integrated_lufs - measured.integrated
    ceiling = profile.true_peak_db - profile.peak_headroom_db
    # The peak is printed rounded: a limiter it might need is applied.
    needs_limit = measured.sample_peak + gain > ceiling - PRINTED_DB
    return LoudnessGain(gain, ceiling if needs_limit else None)


def _lufs(energy: float) -> float:
    return -0.691 + 10 * math.log10(energy)


def _energy(lufs: float) -> float:
    return 10 ** ((lufs + 0.691) / 10)


def integrated_loudness(momentary: Iterable[float]) -> float:
    """Integrated loudness (LUFS) from the momentary loudness of every 400 ms block."""
    loud = [m for m in momentary if m > SILENCE_LUFS]
    if not loud:
        return SILENCE_LUFS
    gate = _lufs(sum(map(_energy, loud)) / len(loud)) - RELATIVE_GATE_LU
    kept = [_energy(m) for m in loud if m > gate]
    return _lufs(sum(kept) / len(kept))


_NUMBER = r"(-?(?:\d+(?:\.\d+)?|inf|nan))"
_BLOCK = re.compile(r"\bt:\s*\S+\s+TARGET:.*?\bM:\s*" + _NUMBER)
_SAMPLE_PEAK = re.compile(r"Sample peak:\s+Peak:\s+" + _NUMBER + " dBFS")


def parse_frame_log(stderr: str) -> tuple[list[float], float]:
    """The momentary loudness of each block (in order) and the sample peak (dBFS) that
    `ebur128=peak=sample:framelog=verbose` logs at verbose level (the same in FFmpeg 5.1-9.0)."""
    log, _, summary = stderr.rpartition("Summary:")
    peak = _SAMPLE_PEAK.search(summary)
    if peak is None:
        raise MediaError("ebur128 printed no loudness summary")
    return [float(m) for m in _BLOCK.findall(log)], float(peak.group(1))


@dataclass(frozen=True)
class _Piece:
    """A stretch of the audio measured by one run; times in tenths of a second."""

    begin: int  # where the run starts
    first: int  # the blocks kept end after this...
    last: int  # ... and at or before this
    final: bool  # ... or anywhere after `first`: the run goes on to the end

    def job(self, path: Path, offset: float) -> FFmpegJob:
        # Seeking lands near, not on, the piece's first sample (the first frame after a seek
        # is dropped by some builds): seek earlier and cut where the piece starts, in samples.
        seek = max(0, self.begin - SEEK_LEAD)
        args = ["-vn", "-sn", "-dn"]
        if seek:
            args += ["-ss", f"{seek / 10 + offset:.6f}"]
        if not self.final:  # a little past its last block, so that block is logged
            args += ["-t", f"{(self.last - seek) / 10 + 0.25:.3f}"]
        chain = "ebur128=peak=sample:framelog=verbose"
        if self.begin > seek:
            chain = f"atrim=start={(self.begin - seek) / 10:.1f},asetpts=PTS-STARTPTS,{chain}"
        args += ["-i", str(path), "-map", "0:a:0", "-af", chain, "-f", "null", "-"]
        return FFmpegJob(args, seconds=(self.last - self.begin) / 10, loglevel="verbose")

    def kept(self, blocks: list[float]) -> list[float]:
        """The blocks of this piece's run that are its own (block i ends at begin + i + 1)."""
        ends = range(self.begin + 1, self.begin + len(blocks) + 1)
        return [
            m
            for end, m in zip(ends, blocks, strict=True)
            if self.first < end and (self.final or end <= self.last)
        ]


def measure_loudness(
    path: Path, info: MediaInfo, timeout: float, pieces: int = 1
) -> LoudnessMeasurement:
    """Integrated loudness and sample peak of the first audio stream, measured in `pieces`
    parallel runs (the video is not read)."""
    tenths = int((info.audio_duration or info.duration) * 10)
    pieces = max(1, min(pieces, tenths // (2 * PIECE_LEAD)))
    bounds = [tenths * k // pieces for k in range(pieces + 1)]
    plan = [
        _Piece(
            begin=max(0, bounds[k] - PIECE_LEAD) if k else 0,
            first=bounds[k] if k else -1,
            last=bounds[k + 1],
            final=k + 1 == pieces,
        )
        for k in range(pieces)
    ]
    offset = info.audio_start - info.start_time  # `-ss` counts from the file's start
    runs = run_ffmpeg_jobs([piece.job(path, offset) for piece in plan], timeout=timeout)
    momentary: list[float] = []
    peaks = []
    for piece, run in zip(plan, runs, strict=True):
        blocks, peak = parse_frame_log(run.stderr)
        momentary += piece.kept(blocks)
        peaks.append(peak)
    return LoudnessMeasurement(integrated_loudness(momentary), max(peaks))
