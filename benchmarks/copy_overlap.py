"""Would copying the kept span beside the head's re-encode pay on this machine?

On the 60-minute lecture of `benchmarks/trim.py` (generated once, cached), times in one process:
- the head's re-encode as `trim` runs it (libx264 superfast, from the cut to the next keyframe);
- the kernel copy (`copy_file_range`) of the source's bytes from that keyframe to the end;
- both one after the other, and both at once (the copy in a thread beside the encode).

Prints the medians and overlapped / sequential. Usage:
`uv run python benchmarks/copy_overlap.py [--runs 5] [--work /tmp/trim-bench]`.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from trim import FPS, WORK, ff, make_recording, timed  # benchmarks/trim.py

from integrations.media.mp4 import read_movie
from integrations.media.probe import keyframes_near

CUT = 230.033  # where trim cuts the generated lecture


def kernel_copy(source: Path, destination: Path, offset: int) -> None:
    length = source.stat().st_size - offset
    with source.open("rb") as src, destination.open("wb") as out:
        done = 0
        while done < length:
            step = min(64 << 20, length - done)
            done += os.copy_file_range(src.fileno(), out.fileno(), step, offset + done, done)
    destination.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--work", type=Path, default=WORK)
    args = parser.parse_args()
    source = make_recording(args.work, 60)
    out_dir = args.work / "out"
    out_dir.mkdir(exist_ok=True)
    keyframe = min(k for k in keyframes_near(source, CUT, 70) if k > CUT)
    video = read_movie(source).first("vide")
    assert video is not None
    first = next(i for i in video.sync if video.dts[i] / video.timescale >= keyframe - 1)
    offset = video.offsets[first]

    def encode() -> None:
        ff(
            "-ss", f"{CUT}", "-i", str(source), "-map", "0:v:0", "-an",
            "-frames:v", str(round((keyframe - CUT) * FPS)),
            "-c:v", "libx264", "-preset", "superfast", "-crf", "18",
            "-f", "mp4", str(out_dir / "head.mp4"),
        )  # fmt: skip

    def copy() -> None:
        kernel_copy(source, out_dir / "copy.bin", offset)

    def sequential() -> None:
        encode()
        copy()

    def overlapped() -> None:
        copier = threading.Thread(target=copy)
        copier.start()
        encode()
        copier.join()

    encode_s, copy_s = timed(encode, args.runs), timed(copy, args.runs)
    sequential_s, overlapped_s = timed(sequential, args.runs), timed(overlapped, args.runs)
    print(
        f"head encode {encode_s:.2f} s, copy of {(source.stat().st_size - offset) / 1e6:.0f} MB "
        f"{copy_s:.2f} s (medians of {args.runs})"
    )
    print(
        f"one after the other {sequential_s:.2f} s, at once {overlapped_s:.2f} s: "
        f"at once / one after the other {overlapped_s / sequential_s:.2f}x"
    )


if __name__ == "__main__":
    main()
