"""What the optional processing profiles cost per hour of input (DESIGN §5, issues 4 and 17).

Takes `--minutes` (from minute 5) of the picture of the trim benchmark's 60-minute 720p lecture
(generated and cached by benchmarks/trim.py's `make_recording`) with a speech-like sound track
made for it: pink noise in syllable-like bursts, 32 kHz mono AAC like the lecture's, about
-33 LUFS, with a 10 ms loud burst every 11 s (true peak about -5 dBTP), so that the gain to
-16 LUFS needs the peak limiter. Then, for each FFmpeg build, times in one run:

- a plain stream copy of the sample (the baseline);
- the loudness profile as it runs: `ebur128` (sample peaks) measures the audio alone, then one
  gain (and the limiter where the peaks need it), the audio encoded in one piece per core joined
  at AAC frames, and a last pass beside the copied video;
- the same in one piece (when there are more), to show what the pieces cost and save;
- the two-pass `loudnorm` it replaced (as the profile ran until issue 17: measure, then apply
  with the measured values, 192 kHz inside, back to the source's rate), same targets;
- the compression profile (libx264 veryfast CRF 23), unless `--skip-compression`.

Prints seconds per hour of input, extrapolated linearly from the sample (every pass is linear
in duration), as wall time and as the FFmpeg processes' CPU time (steadier on a shared machine),
the ratio of the new loudness profile to the two-pass `loudnorm` (each of `--runs` rounds
times both, one after the other), and each output's integrated loudness and true peak
(measured with `ebur128=peak=true`).

    uv run python benchmarks/profiles.py [--minutes 5] [--ffmpeg both] [--runs 3]
                                         [--skip-compression]
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from trim import WORK, chosen_binaries, ff, make_recording, use_ffmpeg

from config.processing import CompressionProfile, LoudnessProfile, ProcessingProfiles
from integrations.media.ffmpeg import run_ffmpeg
from integrations.media.probe import probe
from integrations.media.profiles import ProfileResult, apply_profiles, default_pieces

# Syllables (about 4.6 a second) of pink noise, and a loud 10 ms burst every 11 s.
SPEECH = (
    "anoisesrc=color=pink:amplitude=0.5:sample_rate=32000:duration={d}:seed=7[n];"
    "aevalsrc='0.4*(0.1+pow(abs(sin(2*PI*2.3*t)),3))+1.2*between(mod(t,11),0,0.01)'"
    ":s=32000:d={d}[e];[n][e]amultiply[a]"
)


@dataclass(frozen=True)
class Cost:
    """Wall and CPU seconds (the FFmpeg processes' user + system time) of one action."""

    wall: float
    cpu: float


def measured(action: Callable[[], object]) -> Cost:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    action()
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
    return Cost(wall, cpu)


def speech_sample(lecture: Path, minutes: int, out: Path) -> Path:
    """`minutes` of the lecture's picture from minute 5, with the speech-like track."""
    graph = SPEECH.format(d=60 * minutes)
    ff(
        "-ss", "300", "-t", str(60 * minutes), "-i", str(lecture), "-filter_complex", graph,
        "-map", "0:v", "-map", "[a]", "-c:v", "copy", "-c:a", "aac", "-b:a", "64k",
        "-movflags", "+faststart", str(out),
    )  # fmt: skip
    return out


def two_pass_loudnorm(source: Path, destination: Path, profile: LoudnessProfile) -> None:
    """The loudness profile before issue 17: `loudnorm` measures, then applies (linear if can)."""
    targets = f"I={profile.integrated_lufs:g}:TP={profile.true_peak_db:g}:LRA=11"
    measure = ["-vn", "-sn", "-dn", "-i", str(source), "-map", "0:a:0"]
    measure += ["-af", f"loudnorm={targets}:print_format=json", "-f", "null", "-"]
    stderr = run_ffmpeg(measure, timeout=3600, loglevel="info").stderr
    m = json.loads(re.findall(r"\{[^{}]*\"input_i\"[^{}]*\}", stderr)[-1])
    apply = (
        f"loudnorm={targets}:measured_I={m['input_i']}:measured_TP={m['input_tp']}"
        f":measured_LRA={m['input_lra']}:measured_thresh={m['input_thresh']}"
        f":offset={m['target_offset']}:linear=true"
    )
    rate = probe(source).audio.sample_rate  # type: ignore[union-attr]
    args = [
        "-i", str(source), "-map", "0:v:0", "-map", "0:a:0", "-c:v", "copy", "-af", apply,
        "-ar", str(rate), "-c:a", "aac", "-b:a", profile.audio_bitrate,
        "-movflags", "+faststart", "-f", "mp4", "-y", str(destination),
    ]  # fmt: skip
    run_ffmpeg(args, timeout=3600)


def ebur128_summary(path: Path) -> tuple[str, str, str]:
    """The integrated loudness (LUFS) and true peak (dBTP) `ebur128` measures on `path`'s first
    audio track in one run, and that run's whole stderr."""
    args = ["-vn", "-i", str(path), "-map", "0:a:0", "-af", "ebur128=peak=true", "-f", "null", "-"]
    stderr = run_ffmpeg(args, timeout=3600, loglevel="info").stderr
    summary = stderr.rpartition("Summary:")[2]
    integrated = re.search(r"I:\s+(-?[\d.]+) LUFS", summary)
    peak = re.search(r"True peak:\s+Peak:\s+(-?[\d.]+|-inf) dBFS", summary)
    assert integrated is not None and peak is not None, summary
    return integrated.group(1), peak.group(1), stderr


def loudness_of(path: Path) -> str:
    """The integrated loudness and true peak `ebur128` measures in one run."""
    integrated, peak, _ = ebur128_summary(path)
    return f"{integrated} LUFS, true peak {peak} dBTP"


def timed_profile(
    sample: Path, out: Path, profiles: ProcessingProfiles, pieces: int
) -> tuple[Cost, ProfileResult]:
    results: list[ProfileResult] = []
    cost = measured(
        lambda: results.append(apply_profiles(sample, out, profiles, audio_pieces=pieces))
    )
    return cost, results[0]


def ratio_line(label: str, runs: list[tuple[Cost, Cost]]) -> str:
    walls = sorted(new.wall / old.wall for old, new in runs)
    cpus = sorted(new.cpu / old.cpu for old, new in runs)
    each = "; ".join(f"{new.wall / old.wall:.3f}/{new.cpu / old.cpu:.3f}" for old, new in runs)
    return (
        f"{label} / two-pass, wall/CPU per run: {each}; median {walls[len(walls) // 2]:.3f}x "
        f"wall, {cpus[len(cpus) // 2]:.3f}x CPU (target <= 0.1)"
    )


def bench_build(name: str, binary: str, sample: Path, tmp: Path, args: argparse.Namespace) -> None:
    version = use_ffmpeg(binary)
    print(f"\n== {name} FFmpeg {version}")
    per_hour = 60 / args.minutes
    profile = LoudnessProfile(enabled=True)
    loudness = ProcessingProfiles(loudness=profile)
    auto = default_pieces(probe(sample))
    variants = {f"ebur128 + one gain, {auto} pieces": auto}
    if auto > 1:
        variants["ebur128 + one gain, 1 piece"] = 1
    copy = measured(lambda: ff("-i", str(sample), "-c", "copy", str(tmp / "copy.mp4")))
    print(f"stream copy (baseline): {copy.wall * per_hour:.1f} s per hour of input")
    rounds: dict[str, list[tuple[Cost, Cost]]] = {label: [] for label in variants}
    results: dict[str, ProfileResult] = {}
    for run in range(args.runs):
        old = measured(lambda: two_pass_loudnorm(sample, tmp / "old.mp4", profile))
        print(
            f"run {run + 1}: two-pass loudnorm {old.wall * per_hour:.0f} s per hour wall, "
            f"{old.cpu * per_hour:.0f} s CPU"
        )
        for label, pieces in variants.items():
            out = tmp / f"new{pieces}.mp4"
            cost, results[label] = timed_profile(sample, out, loudness, pieces)
            rounds[label].append((old, cost))
            phases = ", ".join(f"{k} {v * per_hour:.1f}" for k, v in results[label].timings.items())
            print(
                f"run {run + 1}: {label}: {cost.wall * per_hour:.1f} s per hour wall, "
                f"{cost.cpu * per_hour:.1f} s CPU ({phases})"
            )
    print(f"outputs: two-pass loudnorm {loudness_of(tmp / 'old.mp4')}")
    for label, pieces in variants.items():
        result = results[label]
        gain = result.gain.describe() if result.gain else "no gain"
        print(
            f"outputs: {label} ({result.audio_pieces} encoded): "
            f"{loudness_of(tmp / f'new{pieces}.mp4')}; {gain}"
        )
        print(ratio_line(label, rounds[label]))
    print(f"source: {loudness_of(sample)}")
    if args.skip_compression:
        return
    compression = ProcessingProfiles(compression=CompressionProfile(enabled=True))
    small = measured(lambda: apply_profiles(sample, tmp / "small.mp4", compression))
    size = (tmp / "small.mp4").stat().st_size / sample.stat().st_size
    print(
        f"compression, libx264 veryfast crf 23: {small.wall * per_hour:.0f} s per hour "
        f"({small.wall / copy.wall:.0f}x copy), size {size:.2f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=int, default=5)
    parser.add_argument("--ffmpeg", choices=["system", "bundled", "both"], default="both")
    parser.add_argument("--runs", type=int, default=3, help="rounds of the loudness timings")
    parser.add_argument("--skip-compression", action="store_true")
    parser.add_argument("--work", type=Path, default=WORK)
    args = parser.parse_args()
    binaries = chosen_binaries(parser, args.ffmpeg)
    use_ffmpeg(binaries.get("bundled") or binaries["system"])
    lecture = make_recording(args.work, 60)
    with tempfile.TemporaryDirectory(dir=args.work) as folder:
        tmp = Path(folder)
        sample = speech_sample(lecture, args.minutes, tmp / "sample.mp4")
        print(f"sample: {args.minutes} min of {lecture.name}'s 720p30 picture, speech-like AAC")
        for name, binary in binaries.items():
            bench_build(name, binary, sample, tmp, args)


if __name__ == "__main__":
    main()
