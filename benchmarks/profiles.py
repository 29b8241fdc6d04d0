"""What the optional processing profiles cost per hour of input (DESIGN §5, issue 4).

Takes the first `--minutes` of the trim benchmark's 60-minute 720p lecture (H.264 + AAC,
generated and cached by benchmarks/trim.py's `make_recording`), then times, in one run:
a plain stream copy of it (the baseline), the two-pass loudness normalization (measure + apply,
video copied), and the compression profile (libx264 veryfast CRF 23). Prints seconds per hour
of input, extrapolated linearly from the sample (both passes are linear in duration).

    uv run python benchmarks/profiles.py [--minutes 5] [--work benchmarks/.work/trim]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from trim import WORK, ff, make_recording

from config.processing import CompressionProfile, LoudnessProfile, ProcessingProfiles
from integrations.media.profiles import apply_profiles


def seconds(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=int, default=5)
    parser.add_argument("--work", type=Path, default=WORK)
    args = parser.parse_args()
    full = make_recording(args.work, "lecture_720p_gop4s", segment=60, gop=120)
    per_hour = 60 / args.minutes
    with tempfile.TemporaryDirectory() as tmp:
        sample = Path(tmp) / "sample.mp4"
        # From minute 5: the sound part of the lecture (the first 4 minutes are silent).
        ff("-ss", "300", "-i", str(full), "-t", str(60 * args.minutes), "-c", "copy", str(sample))
        copy = seconds(lambda: ff("-i", str(sample), "-c", "copy", str(Path(tmp) / "copy.mp4")))
        loudness = ProcessingProfiles(loudness=LoudnessProfile(enabled=True))
        compression = ProcessingProfiles(compression=CompressionProfile(enabled=True))
        loud = seconds(lambda: apply_profiles(sample, Path(tmp) / "loud.mp4", loudness))
        small = seconds(lambda: apply_profiles(sample, Path(tmp) / "small.mp4", compression))
        size_in = sample.stat().st_size
        size_out = (Path(tmp) / "small.mp4").stat().st_size
    print(f"sample: {args.minutes} min of 720p30 H.264 + AAC from {full.name}")
    print(f"stream copy (baseline): {copy * per_hour:.1f} s per hour of input")
    print(
        f"loudness, two-pass loudnorm: {loud * per_hour:.0f} s per hour ({loud / copy:.0f}x copy)"
    )
    print(
        f"compression, libx264 veryfast crf 23: {small * per_hour:.0f} s per hour "
        f"({small / copy:.0f}x copy), size {size_out / size_in:.2f}x"
    )


if __name__ == "__main__":
    main()
