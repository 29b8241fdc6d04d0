"""Benchmark `trim_file` on a 60-minute 720p lecture-like recording against, in the same run:

- the seed's method: `silencedetect` over the whole file without `-vn`, then `-ss` copy;
- a full libx264 veryfast re-encode of the kept span;
- the floor (DESIGN.md §7): audio-only `silencedetect` of the head and tail windows in
  parallel + re-encode from the cut to the next keyframe to null + one keyframe-snapped stream
  copy of the kept span with `+faststart`, each a bare ffmpeg command.

Usage: `.venv/bin/python benchmarks/trim.py [--runs 3] [--skip-reencode] [--skip-seed]`.
Media is generated once and cached under benchmarks/.work/ (gitignored).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from integrations.media.ffmpeg import ffmpeg_binary
from integrations.media.probe import keyframes_near, probe
from integrations.media.trim import TrimOptions, trim_file

WORK = Path(__file__).resolve().parent / ".work" / "trim"
DURATION = 3600
SILENT_HEAD = 240
SILENT_TAIL = 360
FPS = 30
SAMPLE_RATE = 32000


def ff(*args: str, timeout: float = 3600) -> subprocess.CompletedProcess[bytes]:
    cmd = [ffmpeg_binary(), "-nostdin", "-hide_banner", "-v", "error", "-y", *args]
    done = subprocess.run(cmd, capture_output=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{subprocess.list2cmdline(cmd)}\n{done.stderr.decode()[-2000:]}")
    return done


def _segment_video(path: Path, seconds: int, gop: int) -> None:
    ff(
        "-f", "lavfi", "-i", f"testsrc2=size=1280x720:rate={FPS}:duration={seconds}",
        "-c:v", "libx264", "-preset", "veryfast", "-tune", "stillimage", "-profile:v", "high",
        "-level:v", "3.1", "-pix_fmt", "yuv420p", "-bf", "3", "-g", str(gop),
        "-keyint_min", str(gop), "-sc_threshold", "0", "-b:v", "900k", "-maxrate", "1200k",
        "-bufsize", "2M", "-f", "mp4", str(path),
    )  # fmt: skip


def _segment_audio(path: Path, seconds: int, sound: bool) -> None:
    expr = "0.3*sin(2*PI*440*t)+0.001*(2*random(0)-1)" if sound else "0.001*(2*random(0)-1)"
    ff(
        "-f", "lavfi", "-i", f"aevalsrc='{expr}':s={SAMPLE_RATE}:c=mono:d={seconds}",
        "-c:a", "aac", "-b:a", "64k", "-f", "mp4", str(path),
    )  # fmt: skip


def make_recording(work: Path, name: str, segment: int, gop: int) -> Path:
    """A 60-minute recording: `segment`-second video pieces copied end to end, silent ends."""
    out = work / f"{name}.mp4"
    if out.exists():
        return out
    work.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=work) as tmp:
        t = Path(tmp)
        _segment_video(t / "v.mp4", segment, gop)
        _segment_audio(t / "silent.m4a", 60, sound=False)
        _segment_audio(t / "sound.m4a", 60, sound=True)
        (t / "v.txt").write_text("".join("file 'v.mp4'\n" for _ in range(DURATION // segment)))
        minutes = DURATION // 60
        pieces = (
            ["silent"] * (SILENT_HEAD // 60)
            + ["sound"] * (minutes - (SILENT_HEAD + SILENT_TAIL) // 60)
            + ["silent"] * (SILENT_TAIL // 60)
        )
        (t / "a.txt").write_text("".join(f"file '{p}.m4a'\n" for p in pieces))
        ff(
            "-f", "concat", "-safe", "0", "-i", str(t / "v.txt"),
            "-f", "concat", "-safe", "0", "-i", str(t / "a.txt"),
            "-map", "0:v", "-map", "1:a", "-c", "copy", "-movflags", "+faststart",
            str(t / "out.mp4"),
        )  # fmt: skip
        (t / "out.mp4").replace(out)
    return out


def timed(fn: Callable[[], object], runs: int) -> float:
    """Median wall time of `runs` calls."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def seed_method(src: Path, out: Path, start: float, end: float) -> None:
    """The seed: silencedetect over the whole file, video decoded too, then output-side -ss copy."""
    ff("-i", str(src), "-af", "silencedetect=noise=-40dB:d=2", "-f", "null", "-")
    ff("-i", str(src), "-ss", f"{start}", "-to", f"{end}", "-c", "copy", str(out))


def full_reencode(src: Path, out: Path, start: float, end: float) -> None:
    ff(
        "-ss", f"{start}", "-to", f"{end}", "-i", str(src),
        "-c:v", "libx264", "-preset", "veryfast", "-c:a", "copy", "-f", "mp4", str(out),
    )  # fmt: skip


def floor_method(src: Path, out: Path, start: float, end: float, duration: float) -> None:
    """Bare commands for the work every frame-accurate cut must do (DESIGN.md §7)."""
    window = 900.0
    detect = ["-af", "silencedetect=noise=-40dB:d=2", "-f", "null", "-"]
    with ThreadPoolExecutor(2) as pool:
        jobs = [
            pool.submit(ff, "-t", f"{window}", "-vn", "-i", str(src), *detect),
            pool.submit(ff, "-ss", f"{duration - window}", "-vn", "-i", str(src), *detect),
        ]
        for job in jobs:
            job.result()
    keys = [k for k in keyframes_near(src, start, 70) if k > start]
    next_key = keys[0] if keys else start
    ff(
        "-ss", f"{start}", "-t", f"{next_key - start}", "-i", str(src), "-an",
        "-c:v", "libx264", "-preset", "veryfast", "-f", "null", "-",
    )  # fmt: skip
    ff(
        "-ss", f"{next_key}", "-to", f"{end}", "-i", str(src), "-c", "copy",
        "-avoid_negative_ts", "make_zero", "-movflags", "+faststart", "-f", "mp4", str(out),
    )  # fmt: skip


def bench(
    src: Path, work: Path, runs: int, skip_seed: bool, skip_reencode: bool
) -> dict[str, float]:
    info = probe(src)
    out_dir = work / "out"
    out_dir.mkdir(exist_ok=True)
    ours = out_dir / "ours.mp4"
    result = trim_file(src, ours, TrimOptions())
    start, end = result.start, result.end
    print(f"\n{src.name}: {info.duration:.0f} s, {src.stat().st_size / 1e6:.0f} MB")
    print(f"  cut [{start:.3f}, {end:.3f}) method={result.method} reason={result.reason}")
    print("  phases of one run: " + ", ".join(f"{k} {v:.2f}s" for k, v in result.timings.items()))
    figures = {"ours": timed(lambda: trim_file(src, ours, TrimOptions()), runs)}
    # Children so far are only trim_file's ffmpeg processes (when this is the first file).
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  peak RSS so far: this process {own:.0f} MB, largest ffmpeg child {children:.0f} MB")
    figures["floor"] = timed(
        lambda: floor_method(src, out_dir / "floor.mp4", start, end, info.duration), runs
    )
    if not skip_seed:
        figures["seed"] = timed(lambda: seed_method(src, out_dir / "seed.mp4", start, end), 1)
    if not skip_reencode:
        figures["reencode"] = timed(
            lambda: full_reencode(src, out_dir / "reencode.mp4", start, end), 1
        )
    for name, seconds in figures.items():
        print(f"  {name:<9} {seconds:8.2f} s")
    print(f"  ours / floor      {figures['ours'] / figures['floor']:.2f}x (target <= 2)")
    if "seed" in figures:
        print(f"  seed / ours       {figures['seed'] / figures['ours']:.1f}x (target >= 20)")
    if "reencode" in figures:
        print(f"  reencode / ours   {figures['reencode'] / figures['ours']:.1f}x (target >= 50)")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="median of N runs (ours, floor)")
    parser.add_argument("--skip-seed", action="store_true")
    parser.add_argument("--skip-reencode", action="store_true")
    parser.add_argument("--only", choices=["gop4", "longgop"], default=None)
    parser.add_argument("--work", type=Path, default=WORK, help=f"media cache (default {WORK})")
    args = parser.parse_args()
    started = time.perf_counter()
    sources = {
        "gop4": lambda: make_recording(args.work, "lecture_720p_gop4s", segment=60, gop=120),
        "longgop": lambda: make_recording(args.work, "lecture_720p_gop50s", segment=50, gop=1500),
    }
    paths = {k: make() for k, make in sources.items() if args.only in (None, k)}
    print(f"media ready in {time.perf_counter() - started:.1f} s (cached in {args.work})")
    for path in paths.values():
        bench(path, args.work, args.runs, args.skip_seed, args.skip_reencode)
    peak_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    peak_children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        f"\npeak RSS: this process {peak_self:.0f} MB, largest child (ffmpeg) "
        f"{peak_children:.0f} MB (target < 300 MB; includes the seed/re-encode children)"
    )


if __name__ == "__main__":
    main()
