"""Benchmark `trim_file` on lecture-like 720p recordings against, in the same run and per FFmpeg:

- the floor (DESIGN.md §7): audio-only `silencedetect` of the first and last 900 s in parallel
  + a veryfast re-encode from the cut to the next keyframe into a null output + one
  keyframe-snapped stream copy of the kept span with `+faststart`, bare ffmpeg commands run one
  after another, as a user would type them;
- the seed's method: `silencedetect` over the whole file without `-vn`, then an `-ss` copy;
- optionally (`--reencode`) a full libx264 veryfast re-encode of the kept span.

Each FFmpeg (`--ffmpeg system|bundled|both`) runs everything above; the 60-minute file gives the
ratios, the 30- and 120-minute ones how the cost grows (seconds per input hour). `zoom-publisher
trim` is also timed as a command, start-up included.

Usage: `uv run python benchmarks/trim.py [--runs 3] [--ffmpeg both] [--skip-seed] [--reencode]`.
Media is generated once and cached under benchmarks/.work/trim/ (gitignored).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from config.settings import get_settings
from integrations.media.ffmpeg import bundled_ffmpeg, ffmpeg_binary, selected_ffmpeg
from integrations.media.probe import keyframes_near, probe
from integrations.media.trim import TrimOptions, TrimResult, trim_file

WORK = Path(__file__).resolve().parent / ".work" / "trim"
SILENT_HEAD = 235
SILENT_TAIL = 355
FPS = 30
GOP_SECONDS = 10
SAMPLE_RATE = 32000
PIECE = 5  # seconds of audio per concatenated piece: silences end on a multiple of it


def ff(*args: str, timeout: float = 3600) -> subprocess.CompletedProcess[bytes]:
    cmd = [ffmpeg_binary(), "-nostdin", "-hide_banner", "-v", "error", "-y", *args]
    done = subprocess.run(cmd, capture_output=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{subprocess.list2cmdline(cmd)}\n{done.stderr.decode()[-2000:]}")
    return done


def make_recording(work: Path, minutes: int) -> Path:
    """A lecture: a 60 s 720p H.264 High piece (B-frames, a keyframe every 10 s) copied end to
    end, mono AAC with a tone between a silent (noise floor) head and tail."""
    out = work / f"lecture_720p_gop{GOP_SECONDS}s_{minutes}min.mp4"
    if out.exists():
        return out
    work.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=work) as tmp:
        t = Path(tmp)
        gop = GOP_SECONDS * FPS
        ff(
            "-f", "lavfi", "-i", f"testsrc2=size=1280x720:rate={FPS}:duration=60",
            "-c:v", "libx264", "-preset", "veryfast", "-tune", "stillimage", "-profile:v",
            "high", "-level:v", "3.1", "-pix_fmt", "yuv420p", "-bf", "3", "-g", str(gop),
            "-keyint_min", str(gop), "-sc_threshold", "0", "-b:v", "900k", "-maxrate", "1200k",
            "-bufsize", "2M", "-f", "mp4", str(t / "v.mp4"),
        )  # fmt: skip
        for name, expr in (
            ("silent", "0.001*(2*random(0)-1)"),
            ("sound", "0.3*sin(2*PI*440*t)+0.001*(2*random(0)-1)"),
        ):
            ff(
                "-f", "lavfi", "-i", f"aevalsrc='{expr}':s={SAMPLE_RATE}:c=mono:d={PIECE}",
                "-c:a", "aac", "-b:a", "64k", "-f", "mp4", str(t / f"{name}.m4a"),
            )  # fmt: skip
        (t / "v.txt").write_text("file 'v.mp4'\n" * minutes)
        pieces = minutes * 60 // PIECE
        head, tail = SILENT_HEAD // PIECE, SILENT_TAIL // PIECE
        kinds = ["silent"] * head + ["sound"] * (pieces - head - tail) + ["silent"] * tail
        (t / "a.txt").write_text("".join(f"file '{k}.m4a'\n" for k in kinds))
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


def trim_command(src: Path, out: Path, binary: str) -> None:
    """`zoom-publisher trim` as a user runs it (the console script of this environment)."""
    script = Path(sys.executable).parent / "zoom-publisher"
    env = {**os.environ, "FFMPEG_BINARY": binary}
    done = subprocess.run([str(script), "trim", str(src), str(out)], env=env, capture_output=True)
    if done.returncode != 0:
        raise RuntimeError(done.stderr.decode()[-2000:])


def chosen_binaries(parser: argparse.ArgumentParser, choice: str) -> dict[str, str]:
    """The FFmpeg builds `--ffmpeg` names ("system", "bundled" or "both"), by name."""
    binaries = {}
    if choice in ("system", "both"):
        system = shutil.which("ffmpeg")
        if system is None:
            parser.error("no ffmpeg on PATH (apt install ffmpeg), or use --ffmpeg bundled")
        binaries["system"] = system
    if choice in ("bundled", "both"):
        binaries["bundled"] = bundled_ffmpeg()
    return binaries


def use_ffmpeg(binary: str) -> str:
    """Make `binary` the FFmpeg of this process (as FFMPEG_BINARY would); its version."""
    os.environ["FFMPEG_BINARY"] = binary
    get_settings.cache_clear()
    selected_ffmpeg.cache_clear()
    return selected_ffmpeg().version


def phases(result: TrimResult) -> str:
    return ", ".join(f"{k} {v:.2f}" for k, v in result.timings.items())


def bench_file(src: Path, out_dir: Path, runs: int, floor: bool) -> dict[str, float]:
    info = probe(src)
    ours = out_dir / "ours.mp4"
    result = trim_file(src, ours, TrimOptions())
    print(
        f"  {info.duration / 60:.0f} min, {src.stat().st_size / 1e6:.0f} MB: cut "
        f"[{result.start:.3f}, {result.end:.3f}) {result.method}; phases of one run (s): "
        f"{phases(result)}"
    )
    figures = {"ours": timed(lambda: trim_file(src, ours, TrimOptions()), runs)}
    if floor:
        figures["floor"] = timed(
            lambda: floor_method(
                src, out_dir / "floor.mp4", result.start, result.end, info.duration
            ),
            runs,
        )
    figures["start"], figures["end"] = result.start, result.end
    return figures


def bench_binary(
    name: str, binary: str, files: dict[int, Path], out_dir: Path, args: argparse.Namespace
) -> None:
    version = use_ffmpeg(binary)
    print(f"\n== {name} FFmpeg {version} ({binary})")
    per_hour = {}
    main_figures: dict[str, float] = {}
    for minutes, src in files.items():
        figures = bench_file(src, out_dir, args.runs, floor=True)
        hours = minutes / 60
        per_hour[minutes] = (figures["ours"] / hours, figures["floor"] / hours)
        print(
            f"    ours {figures['ours']:.2f} s, floor {figures['floor']:.2f} s "
            f"({figures['ours'] / figures['floor']:.2f}x)"
        )
        if minutes == 60:
            main_figures = figures
    if not main_figures:
        return
    src = files[60]
    start, end = main_figures["start"], main_figures["end"]
    command = timed(lambda: trim_command(src, out_dir / "command.mp4", binary), args.runs)
    print(f"  60 min, `zoom-publisher trim` command, start-up included: {command:.2f} s")
    lines = [
        f"  ours / floor      {main_figures['ours'] / main_figures['floor']:.2f}x (target <= 1.3)",
        f"  command / floor   {command / main_figures['floor']:.2f}x",
    ]
    if not args.skip_seed:
        seed = timed(lambda: seed_method(src, out_dir / "seed.mp4", start, end), 1)
        ratio = seed / main_figures["ours"]
        lines.append(f"  seed / ours       {ratio:.1f}x (target >= 30), seed {seed:.1f} s")
        lines.append(f"  seed / command    {seed / command:.1f}x")
    if args.reencode:
        again = timed(lambda: full_reencode(src, out_dir / "reencode.mp4", start, end), 1)
        lines.append(
            f"  reencode / ours   {again / main_figures['ours']:.1f}x, reencode {again:.1f} s"
        )
    print("\n".join(lines))
    print("  seconds per input hour (ours, floor): " + ", ".join(
        f"{m} min {o:.2f}/{f:.2f}" for m, (o, f) in per_hour.items()
    ))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="median of N runs (ours, floor)")
    parser.add_argument("--ffmpeg", choices=["system", "bundled", "both"], default="both")
    parser.add_argument("--minutes", default="30,60,120", help="file lengths (60 gives ratios)")
    parser.add_argument("--skip-seed", action="store_true")
    parser.add_argument("--reencode", action="store_true", help="also time a full re-encode")
    parser.add_argument("--work", type=Path, default=WORK, help=f"media cache (default {WORK})")
    args = parser.parse_args()
    binaries = chosen_binaries(parser, args.ffmpeg)
    started = time.perf_counter()
    use_ffmpeg(binaries.get("bundled") or binaries["system"])
    files = {int(m): make_recording(args.work, int(m)) for m in args.minutes.split(",")}
    print(f"media ready in {time.perf_counter() - started:.1f} s (cached in {args.work})")
    out_dir = args.work / "out"
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, binary in binaries.items():
        bench_binary(name, binary, files, out_dir, args)
    peak_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    peak_children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        f"\npeak RSS: this process {peak_self:.0f} MB, largest child {peak_children:.0f} MB "
        "(includes the seed/floor commands)"
    )


if __name__ == "__main__":
    main()
