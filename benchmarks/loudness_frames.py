"""Could the loudness profile change the gain inside the AAC bitstream instead of re-encoding?
(issue 17, item 6: "loudness at copy speed")

The route: add k to every frame's `global_gain` (each scale factor follows it, so the frame
decodes k x 1.505 dB louder, same bytes otherwise), and re-encode, with the gain and the peak
limiter, only the frames where the limiter acts, spliced in at frames where it is idle. This
measures, on a mono AAC source, how many frames that would leave to the encoder:

- per 1024-sample frame, the decoded source's sample peak (`astats` per frame, one decode);
- at the four 1.5 dB steps around the profile's gain: the frames holding a sample over the
  limiter's ceiling ("hot"), those the limiter changes (a hot frame within its release before
  or its attack after), the frames where a junction may go (no hot frame from the limiter's
  release before to its attack after: `loudness_encode`'s margins, rounded out to whole
  frames), and the frames a splice route encodes: every stretch between junctions, plus
  `--warmup` frames before it and `--tail` after (stretches closer than that merge). Windows
  are not checked: a lower bound;
- `--bitstream-gain`: the route without any encoder: each frame's `global_gain` lowered where
  the gained frame would pass the ceiling (whole 1.5 dB steps, at most one step per frame
  between neighbours), written as ADTS and measured (`ebur128=peak=true`): whether a gain per
  frame can stand in for the limiter.

The default source is the speech-like track of benchmarks/profiles.py (`--minutes` of it,
32 kHz mono AAC, 64 kb/s); `--source` takes any file with AAC-LC audio in an MP4.

    uv run python benchmarks/loudness_frames.py [--minutes 20] [--source FILE]
        [--warmup 2 8 32] [--tail 2 4 4] [--bitstream-gain]
"""

from __future__ import annotations

import argparse
import math
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from profiles import SPEECH, ebur128_summary
from trim import WORK, ff

from config.processing import LoudnessProfile
from integrations.media.aac_join import FRAME
from integrations.media.ffmpeg import run_ffmpeg
from integrations.media.loudness import measure_loudness, plan_gain
from integrations.media.loudness_encode import LIMITER_QUIET_AFTER, LIMITER_QUIET_BEFORE
from integrations.media.mp4 import read_movie
from integrations.media.probe import probe

STEP_DB = 20 * math.log10(2) / 4  # one step of global_gain: 2^(1/4)
ALIMITER_ATTACK, ALIMITER_RELEASE = 0.005, 0.050  # s: `alimiter`'s defaults, as the profile runs it
ADTS_RATES = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000]
_FIL, _DSE, _SCE = 6, 4, 0


def speech_audio(minutes: int, out: Path) -> Path:
    graph = SPEECH.format(d=60 * minutes)
    ff("-filter_complex", graph, "-map", "[a]", "-c:a", "aac", "-b:a", "64k", str(out))
    return out


def frame_peaks(source: Path, tmp: Path) -> list[float]:
    """The decoded sample peak (dBFS) of each frame's 1024 samples as a decoder outputs them
    (frame n: the overlap of packets n - 1 and n), from the first packet on."""
    delay = read_movie(source).first("soun").edit_shift  # type: ignore[union-attr]
    chain = "asetnsamples=n=1024:p=0,astats=metadata=1:reset=1:measure_perchannel=none"
    chain += ":measure_overall=Peak_level,ametadata=mode=print"
    chain += f":key=lavfi.astats.Overall.Peak_level:file={tmp / 'peaks.txt'}"
    if delay % FRAME:  # the decoder starts `delay` samples in: pad back to the frame grid
        chain = f"adelay=delays={delay % FRAME}S:all=1," + chain
    args = ["-vn", "-i", str(source), "-map", "0:a:0", "-af", chain, "-f", "null", "-"]
    run_ffmpeg(args, timeout=3600)
    found = re.findall(r"Peak_level=(\S+)", (tmp / "peaks.txt").read_text())
    return [-math.inf] * (delay // FRAME) + [float(value) for value in found]


@dataclass(frozen=True)
class Plan:
    """Which frames a splice route would encode, at one gain."""

    hot: list[bool]
    changed: list[bool]  # frames the limiter changes: a hot frame within its attack or release
    junction: list[bool]

    def stretches(self, warmup: int, tail: int) -> list[tuple[int, int]]:
        """(first, end) of each stretch of our frames: from a junction frame to the next."""
        found: list[tuple[int, int]] = []
        n, count = 0, len(self.junction)
        while n < count:
            if self.junction[n]:
                n += 1
                continue
            first = max(0, n - 1)
            while n < count and not self.junction[n]:
                n += 1
            if found and first - found[-1][1] < warmup + tail:
                found[-1] = (found[-1][0], n)
            else:
                found.append((first, n))
        return found

    def encoded(self, warmup: int, tail: int) -> tuple[float, int]:
        stretches = self.stretches(warmup, tail)
        frames = sum(end - first + warmup + tail for first, end in stretches)
        return min(1.0, frames / len(self.hot)), len(stretches)


def plan(peaks: list[float], gain_db: float, ceiling_db: float, rate: int) -> Plan:
    hot = [peak + gain_db > ceiling_db for peak in peaks]

    def near_hot(before: float, after: float) -> list[bool]:
        back, ahead = math.ceil(before * rate / FRAME), math.ceil(after * rate / FRAME)
        return [any(hot[max(0, n - back) : n + ahead + 1]) for n in range(len(hot))]

    changed = near_hot(ALIMITER_RELEASE, ALIMITER_ATTACK)
    junction = [not near for near in near_hot(LIMITER_QUIET_BEFORE, LIMITER_QUIET_AFTER)]
    return Plan(hot, changed, junction)


def global_gain_at(frame: bytes) -> int | None:
    """The bit where a mono AAC-LC frame's global_gain starts (after leading fill and data
    stream elements), or None when its first channel element is not a single channel."""
    bits, size, pos = int.from_bytes(frame, "big"), 8 * len(frame), 0

    def read(count: int) -> int:
        nonlocal pos
        pos += count
        return (bits >> (size - pos)) & ((1 << count) - 1)

    while pos + 3 <= size:
        element = read(3)
        if element == _SCE:
            return pos + 4 if pos + 12 <= size else None
        if element == _FIL:
            count = read(4)
            pos += 8 * (count + read(8) - 1 if count == 15 else count)
        elif element == _DSE:
            read(4)
            aligned, count = read(1), read(8)
            count += read(8) if count == 255 else 0
            pos += (-pos % 8 if aligned else 0) + 8 * count
        else:
            return None
    return None


def with_gain(frame: bytes, at: int, change: int) -> bytes | None:
    """`frame` with its global_gain (at bit `at`) changed by `change`; None out of 0..255."""
    bits, shift = int.from_bytes(frame, "big"), 8 * len(frame) - at - 8
    gain = (bits >> shift) & 0xFF
    if not 0 <= gain + change <= 255:
        return None
    bits = bits & ~(0xFF << shift) | (gain + change) << shift
    return bits.to_bytes(len(frame), "big")


def adts(frame: bytes, rate: int) -> bytes:
    """An ADTS header for one AAC-LC mono frame, and the frame."""
    length = len(frame) + 7
    header = (0xFFF1 << 40) | (1 << 38) | (ADTS_RATES.index(rate) << 34) | (1 << 30)
    header |= (length << 13) | (0x7FF << 2)
    return header.to_bytes(7, "big") + frame


def bitstream_gain(
    source: Path, peaks: list[float], steps: int, ceiling_db: float, out: Path
) -> str:
    """Write `source`'s frames with `steps` added to their global_gain, fewer where the frame
    would pass the ceiling; its loudness, true peak and decoding errors."""
    track = read_movie(source).first("soun")
    assert track is not None
    rate = track.timescale
    gain_db = steps * STEP_DB
    over = [
        max(0, math.ceil((peak + gain_db - ceiling_db) / STEP_DB - 1e-9))
        if peak > ceiling_db - gain_db
        else 0
        for peak in peaks
    ]
    over += [0] * (len(track) + 1 - len(over))
    less = [max(over[p], over[p + 1]) for p in range(len(track))]  # packet p makes frames p, p+1
    for p in range(1, len(less)):
        less[p] = max(less[p], less[p - 1] - 1)
    for p in range(len(less) - 2, -1, -1):
        less[p] = max(less[p], less[p + 1] - 1)
    with source.open("rb") as handle, out.open("wb") as written:
        for index, (offset, size) in enumerate(zip(track.offsets, track.sizes, strict=True)):
            handle.seek(offset)
            frame = handle.read(size)
            at = global_gain_at(frame)
            patched = None if at is None else with_gain(frame, at, steps - less[index])
            if patched is None:
                return f"frame {index}: no mono global_gain to change within 0..255"
            written.write(adts(patched, rate))
    integrated, peak, stderr = ebur128_summary(out)
    errors = len(re.findall(r"error|invalid|out of range|clipped", stderr, re.IGNORECASE))
    lowered = sum(1 for value in less if value) / len(less)
    return (
        f"{integrated} LUFS, true peak {peak} dBTP, {errors} decoding errors "
        f"(frames lowered: {lowered:.1%}, by {sum(less) / len(less) * STEP_DB:.2f} dB on average)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=int, default=20)
    parser.add_argument("--source", type=Path, help="default: the speech-like track")
    parser.add_argument("--warmup", type=int, nargs="+", default=[2, 8, 32])
    parser.add_argument("--tail", type=int, nargs="+", default=[2, 4, 4])
    parser.add_argument("--bitstream-gain", action="store_true")
    parser.add_argument("--work", type=Path, default=WORK)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=args.work) as folder:
        tmp = Path(folder)
        source = args.source or speech_audio(args.minutes, tmp / "speech.m4a")
        info = probe(source)
        assert info.audio is not None, f"{source} has no audio"
        profile = LoudnessProfile(enabled=True)
        measured = measure_loudness(source, info, timeout=3600, pieces=2)
        gain = plan_gain(profile, measured)
        ceiling = profile.true_peak_db - profile.peak_headroom_db
        print(
            f"{source.name}: {measured.integrated:.1f} LUFS, sample peak "
            f"{measured.sample_peak:.1f} dBFS; the profile: {gain.describe()}"
        )
        peaks = frame_peaks(source, tmp)
        rate = info.audio.sample_rate
        print(
            f"{len(peaks)} frames of {FRAME} samples ({FRAME / rate * 1000:.1f} ms); ceiling "
            f"{ceiling:g} dBFS; a junction needs no hot frame within "
            f"{math.ceil(LIMITER_QUIET_BEFORE * rate / FRAME)} frames before, "
            f"{math.ceil(LIMITER_QUIET_AFTER * rate / FRAME)} after"
        )
        below = math.floor(gain.gain_db / STEP_DB)
        for steps in range(below - 1, below + 3):
            gained = plan(peaks, steps * STEP_DB, ceiling, rate)
            encoded = ", ".join(
                "{}/{}: {:.1%} ({} stretches)".format(warmup, tail, *gained.encoded(warmup, tail))
                for warmup, tail in zip(args.warmup, args.tail, strict=True)
            )
            print(
                f"gain {steps * STEP_DB:+.2f} dB ({steps} steps): hot frames "
                f"{sum(gained.hot) / len(peaks):.1%}, changed by the limiter "
                f"{sum(gained.changed) / len(peaks):.1%}, junction frames "
                f"{sum(gained.junction) / len(peaks):.1%}; encoded with warm-up/tail {encoded}"
            )
            if args.bitstream_gain:
                result = bitstream_gain(source, peaks, steps, ceiling, tmp / f"gain{steps}.aac")
                print(f"  bitstream gain only, no limiter: {result}")


if __name__ == "__main__":
    main()
