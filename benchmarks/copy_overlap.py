"""Would copying the kept span beside the head's re-encode pay on this machine?

On the 60-minute lecture of `benchmarks/trim.py` (generated once, cached), times in one process:
- the head's re-encode as `trim` runs it (libx264 superfast, from the cut to the next keyframe);
- the copy of the source's bytes from that keyframe to the end, as the splice writer makes it
  (`copy_file_range`);
- both one after the other, and both at once (the copy in a thread beside the encode).

Prints the medians and overlapped / sequential. Usage:
`uv run python benchmarks/copy_overlap.py [--runs 5] [--work /tmp/trim-bench]`.
"""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from trim import WORK, make_recording, timed  # benchmarks/trim.py

from integrations.media.cut import EncodeSettings, encode_head, plan_start
from integrations.media.mp4 import read_movie
from integrations.media.probe import probe
from integrations.media.splice import copied_video_range, copy_range

CUT = 230.033  # where trim cuts the generated lecture


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--work", type=Path, default=WORK)
    args = parser.parse_args()
    source = make_recording(args.work, 60)
    out_dir = args.work / "out"
    out_dir.mkdir(exist_ok=True)
    info = probe(source)
    plan = plan_start(info, CUT)
    video = read_movie(source).first("vide")
    assert plan.copy_from_dts is not None and video is not None, "not a smart cut"
    offset = video.offsets[copied_video_range(video, plan.copy_from_dts, None).start]
    length = source.stat().st_size - offset

    def encode() -> None:
        encode_head(source, info, plan, out_dir / "head.mp4", EncodeSettings())

    def copy() -> None:
        copied = out_dir / "copy.bin"
        with source.open("rb") as src, copied.open("wb") as out:
            copy_range(src, out, offset, length, None)
        copied.unlink()

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
        f"head encode {encode_s:.2f} s, copy of {length / 1e6:.0f} MB "
        f"{copy_s:.2f} s (medians of {args.runs})"
    )
    print(
        f"one after the other {sequential_s:.2f} s, at once {overlapped_s:.2f} s: "
        f"at once / one after the other {overlapped_s / sequential_s:.2f}x"
    )


if __name__ == "__main__":
    main()
