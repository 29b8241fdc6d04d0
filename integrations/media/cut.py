"""Frame-accurate cut of [start, end) from an H.264/AAC MP4 with as little re-encoding as possible.

- `copy`: a keyframe sits at the start: the video is stream-copied.
- `smart`: the video from the start to the next keyframe is re-encoded with the source's codec
  parameters (libx264, same profile and level, pix_fmt, size, timestamps) and joined losslessly
  to a stream copy of the rest.
- `reencode`: the whole span is re-encoded (non-H.264 sources and other unsafe cases).

The audio is stream-copied from the exact start in every case. The end is snapped to the first
frame boundary at or after `end` where decode order and display order agree, so a copy that
stops there has no B-frame whose reference was cut off.

Where the cut falls is decided in cut_plan.py on lists of packets; this module reads those
packets (`plan_start`, `plan_end`) and writes the cut.

A copy or smart cut is written from the source's own index (`splice`): one pass, the index at
the front, the kept bytes copied by the kernel. Sources whose layout that does not model
(fragmented MP4s, say) are joined by FFmpeg with the concat demuxer instead, the index reserved
at the front with `-moov_size`, so that file too is written once and starts playing at once.

Open GOPs: when the keyframe the copy starts at is not an IDR picture (x264's `open_gop`), the
writer makes it one and renumbers the slice headers after it (`open_gop`); the head re-encodes
the keyframe's leading pictures. A cut neither the writer nor a plain join can copy from such a
keyframe is re-encoded whole, and says why.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from integrations.media.cut_plan import (
    CutMethod,
    CutPlan,
    StartPlan,
    fallback,
    join_plans,
    plan_end_from,
    plan_start_from,
    reaches_video_end,
)
from integrations.media.errors import FFmpegError, MediaError, UnsupportedMediaError
from integrations.media.ffmpeg import run_ffmpeg, selected_ffmpeg
from integrations.media.h264 import (
    Avcc,
    AvccError,
    BitstreamError,
    free_parameter_set_id,
    keyframe_is_idr,
    merge_avcc,
    parse_avcc,
    remux_with_extradata,
    video_extradata,
)
from integrations.media.mp4 import Movie, Mp4LayoutError
from integrations.media.probe import (
    MediaInfo,
    PacketTime,
    count_video_packets_outside,
    read_video_packets,
    video_frame_count,
)
from integrations.media.splice import (
    SourceIndex,
    SpliceSpan,
    copied_video_range,
    read_index,
    splice,
)

logger = logging.getLogger(__name__)

_SUPPORTED_PIX_FMTS = {"yuv420p", "yuvj420p", "yuv422p", "yuv444p", "yuv420p10le"}
_INDEX_TOO_SMALL = "reserved_moov_size is too small"
_SMART_PROFILES = {
    "Baseline": "baseline",
    "Constrained Baseline": "baseline",
    "Main": "main",
    "High": "high",
    "High 10": "high10",
    "High 4:2:2": "high422",
    "High 4:4:4 Predictive": "high444",
}


@dataclass(frozen=True)
class EncodeSettings:
    """How re-encoded video is made, and how long FFmpeg may take."""

    preset: str = "veryfast"  # a full re-encode
    # The head (up to one GOP): superfast keeps CABAC and 8x8 transforms, so a High-profile
    # source's profile; ultrafast would not. Measured 1.5x faster than veryfast at 720p.
    head_preset: str = "superfast"
    crf: int = 18
    timeout_base: float = 120.0
    copy_timeout_per_second: float = 0.25
    encode_timeout_per_second: float = 5.0


@dataclass(frozen=True)
class Written:
    """How a cut was written: its method and one phrase saying how (and why so)."""

    method: CutMethod
    how: str
    reason: str | None = None  # why the whole span was re-encoded


def unsafe_reason(info: MediaInfo) -> str | None:
    """Why the source cannot be smart-cut (None when it can)."""
    video = info.video
    if video is None:
        return "no video stream"
    if video.codec != "h264":
        return f"source video codec is {video.codec}; smart cut joins H.264 only"
    if video.profile not in _SMART_PROFILES:
        return f"H.264 profile {video.profile!r} cannot be reproduced with libx264"
    if video.pix_fmt not in _SUPPORTED_PIX_FMTS:
        return f"pixel format {video.pix_fmt} cannot be reproduced with libx264"
    if video.level_string is None:
        return "H.264 level unknown"
    return None


def _packets_near_end(path: Path, end: float) -> list[PacketTime]:
    """The video packets decoded from about 4 s before `end` to 2 s after it."""
    packets = read_video_packets(path, max(0.0, end - 2.0), lambda seen: seen[-1].dts > end + 2.0)
    return [p for p in packets if p.dts >= end - 4.0] or packets


def plan_end(info: MediaInfo, end: float) -> tuple[float, float | None]:
    """Snap `end` to the first clean boundary at or after it: (end pts, decode-time outpoint,
    or None for the file's end). Reads the packets near it; `plan_end_from` decides."""
    frame = info.video.frame_duration if info.video else 1 / 30
    video_end = (info.video_duration or info.duration) + info.video_start
    if reaches_video_end(end, video_end, frame):
        return video_end, None
    return plan_end_from(_packets_near_end(info.path, end), end, video_end)


def _packets_from_start(path: Path, start: float, frame: float) -> list[PacketTime]:
    """The video packets from the keyframe at or before `start` to a few past the next keyframe
    (enough to see any open-GOP leading pictures and B-frame reordering)."""
    max_delay = 3  # frames of B-frame reordering looked past the next keyframe
    past_key: list[int] = []  # packets read since the first keyframe after the start

    def enough(seen: list[PacketTime]) -> bool:
        last = seen[-1]
        if past_key:
            past_key[0] += 1
        elif last.keyframe and last.pts > start - frame / 2:
            past_key.append(0)
        return bool(past_key) and past_key[0] > 2 * max_delay + 4

    return read_video_packets(path, start, enough)


def plan_start(info: MediaInfo, start: float) -> StartPlan:
    """Decide how the cut begins at `start` (frame-accurate; reads packets only, no end needed);
    `plan_start_from` decides on the packets read."""
    video = info.video
    if video is None:
        raise UnsupportedMediaError(f"{info.path.name} has no video stream")
    frame = video.frame_duration
    packets = _packets_from_start(info.path, start, frame)
    plan = plan_start_from(packets, start, frame, unsafe_reason(info))
    if plan is None:
        raise MediaError(f"no video frame at or after {start:.3f} s in {info.path.name}")
    return plan


def expected_frames(info: MediaInfo, plan: CutPlan, movie: Movie | None = None) -> int | None:
    """How many video frames the cut must hold: counted in the source's parsed index (`movie`)
    when given, else from FFmpeg's packet times (a demux of the head's side). An open GOP's
    leading pictures are in the head, not in the copy.

    None for a full re-encode (not a copy) or a source whose index gives no frame count.
    """
    if plan.method == "reencode" or plan.copy_from_dts is None:
        return None
    video = movie.first("vide") if movie is not None else None
    if video is not None:
        with contextlib.suppress(Mp4LayoutError):  # then FFmpeg joins: count as for that
            copied = copied_video_range(video, plan.copy_from_dts, plan.outpoint)
            return plan.head_frames + len(copied) - plan.leading
    total = video_frame_count(info.path)
    if total is None:
        return None
    left_out = count_video_packets_outside(info.path, plan.copy_from_dts, plan.outpoint)
    return plan.head_frames + total - left_out - plan.leading


def plan_cut(info: MediaInfo, start: float, end: float) -> CutPlan:
    """Decide how to cut [start, end) of `info.path` (frame-accurate; reads packets only)."""
    return join_plans(plan_start(info, start), *plan_end(info, end))


def _ss(info: MediaInfo, at: float) -> str:
    """`-ss` value for the absolute time `at`: FFmpeg counts from the container's start."""
    return f"{max(0.0, at - info.start_time):.6f}"


def _quote(path: Path) -> str:
    return "'" + str(path.resolve()).replace("'", "'\\''") + "'"


def moov_reserve(info: MediaInfo, duration: float) -> int:
    """Bytes to reserve up front for the MP4 index of `duration` seconds.

    Per video frame: sample size, composition offset and (variable frame rate) duration entries,
    about 16-20 bytes; per audio packet about 8 (measured: 2.2 MB for 50 min of 30 fps video
    and 32 kHz AAC). Too small a reservation is caught: the join is then redone with
    `+faststart`.
    """
    fps = float(info.video.fps) if info.video else 0.0
    audio_packets = (info.audio.sample_rate / 1024) if info.audio else 0.0
    estimate = duration * (fps * 20 + audio_packets * 8) * 1.15
    return int(estimate) + 64 * 1024


def _color_args(info: MediaInfo) -> list[str]:
    video = info.video
    assert video is not None
    args: list[str] = []
    if video.color_range not in (None, 0):
        args += ["-color_range", str(video.color_range)]
    for name, value in (
        ("-colorspace", video.colorspace),
        ("-color_primaries", video.color_primaries),
        ("-color_trc", video.color_trc),
    ):
        if value not in (None, 2):
            args += [name, str(value)]
    return args


def _x264_args(
    info: MediaInfo, settings: EncodeSettings, match_source: bool, parameter_set_id: int = 0
) -> list[str]:
    video = info.video
    assert video is not None
    preset = settings.head_preset if match_source else settings.preset
    args = ["-c:v", "libx264", "-preset", preset, "-crf", str(settings.crf)]
    if match_source:
        profile = _SMART_PROFILES[str(video.profile)]
        args += ["-profile:v", profile, "-level:v", str(video.level_string)]
        args += ["-pix_fmt", str(video.pix_fmt)]
        # The head's reorder delay must be at least the source's so decode times stay monotonic
        # across the junction: B-pyramid gives 2, no B-frames 0.
        x264_params = [f"sps-id={parameter_set_id}"]
        if video.has_b_frames and profile != "baseline":
            args += ["-bf", "3", "-b_strategy", "0"]
            x264_params.append("b-pyramid=normal")
        else:
            args += ["-bf", "0"]
        args += ["-x264-params", ":".join(x264_params)]
    else:
        args += ["-pix_fmt", "yuv420p"]
    return [*args, *_color_args(info)]


def _audio_input(source: Path, info: MediaInfo, plan: CutPlan) -> list[str]:
    """The source again, audio only, seeking to the packet at `start` rather than a keyframe."""
    return [
        "-vn", "-sn", "-dn", "-seek2any", "1",
        "-ss", _ss(info, plan.start), "-t", f"{plan.duration:.6f}", "-i", str(source),
    ]  # fmt: skip


def _output_args(info: MediaInfo, plan: CutPlan, output: Path, faststart: bool) -> list[str]:
    maps = ["-map", "0:v:0"] + (["-map", "1:a:0"] if info.audio else [])
    layout = (
        ["-movflags", "+faststart"]
        if faststart
        else ["-moov_size", str(moov_reserve(info, plan.duration))]
    )
    # The audio input's -t already ends the span; FFmpeg 4.x ignores it for a source whose
    # timestamps do not start at 0, so the output is bounded too (half a frame of slack).
    limit = f"{plan.duration + plan.frame_duration / 2:.6f}"
    return [
        *maps, "-map_metadata", "-1", "-map_chapters", "-1", "-t", limit,
        *layout, "-f", "mp4", "-y", str(output),
    ]  # fmt: skip


def _join(
    source: Path,
    info: MediaInfo,
    plan: CutPlan,
    output: Path,
    workdir: Path,
    head: PreparedHead | None,
    settings: EncodeSettings,
    progress: Callable[[float], None] | None,
    index: SourceIndex | None = None,
) -> Written:
    """Write the cut: from the source's own index when its layout allows, else with FFmpeg;
    a copy from an open GOP's keyframe that neither can make is re-encoded instead."""
    index = index or read_index(source)
    problem = index.problem
    if head is not None and not head.merged_parameter_sets:
        problem = "the head's parameter sets are in-band"
    key_at = f"the keyframe at {(plan.keyframe or plan.start) - info.start_time:.3f} s"
    if index.movie is not None and problem is None and plan.copy_from_dts is not None:
        span = SpliceSpan(plan.start, plan.end, plan.copy_from_dts, plan.outpoint, plan.keyframe)
        try:
            recovery = splice(
                source, span, output, head.path if head else None, progress, index.movie
            )
        except BitstreamError as exc:
            reason = f"{key_at} is not an IDR picture (open GOP) and cannot be copied from: {exc}"
            return _reencode_instead(source, info, plan, output, settings, progress, reason)
        except Mp4LayoutError as exc:
            problem = str(exc)
        else:
            how = f"{_copied(plan)}, written from the source's index"
            if recovery is not None:
                left = "re-encoded in the head" if plan.method == "smart" else "left out"
                how += (
                    f"; open GOP: {key_at} made an IDR picture, {recovery.leading} leading "
                    f"frames {left}, {recovery.renumbered} pictures renumbered"
                )
            return Written(plan.method, how)
    if plan.copy_from_dts is not None and not keyframe_is_idr(source, plan.copy_from_dts):
        reason = (
            f"{key_at} is not an IDR picture (open GOP) in a layout only FFmpeg joins: {problem}"
        )
        return _reencode_instead(source, info, plan, output, settings, progress, reason)
    logger.info("joining with FFmpeg: %s", problem)
    _ffmpeg_join(source, info, plan, output, workdir, head, settings, progress)
    return Written(plan.method, f"{_copied(plan)}, joined by FFmpeg ({problem})")


def _copied(plan: CutPlan) -> str:
    if plan.method == "smart":
        return f"{plan.head_frames} frames re-encoded up to the keyframe, the rest copied"
    return "copied from the keyframe at the start"


def _reencode_instead(
    source: Path,
    info: MediaInfo,
    plan: CutPlan,
    output: Path,
    settings: EncodeSettings,
    progress: Callable[[float], None] | None,
    reason: str,
) -> Written:
    reencode(source, info, plan, output, settings, progress)
    return Written("reencode", f"the whole span re-encoded: {fallback(reason)}", reason)


def _ffmpeg_join(
    source: Path,
    info: MediaInfo,
    plan: CutPlan,
    output: Path,
    workdir: Path,
    head: PreparedHead | None,
    settings: EncodeSettings,
    progress: Callable[[float], None] | None,
) -> None:
    if head is None:
        # A keyframe sits at the start: seek straight to it. (The concat demuxer would report
        # a negative start time for B-frame sources and shift the video against the audio.)
        video_input = ["-ss", _ss(info, plan.start)]
        if plan.outpoint is not None:
            video_input += ["-t", f"{plan.outpoint - plan.start:.6f}"]
        video_input += ["-i", str(source)]
    else:
        assert plan.keyframe is not None
        lines = [
            "ffconcat version 1.0",
            f"file {_quote(head.path)}",
            f"duration {plan.keyframe - plan.start:.6f}",
            f"file {_quote(source)}",
            f"inpoint {plan.keyframe:.6f}",
        ]
        if plan.outpoint is not None:
            lines.append(f"outpoint {plan.outpoint:.6f}")
        listing = workdir / "join.ffconcat"
        listing.write_text("\n".join(lines) + "\n", encoding="utf-8")
        # With merged avcC the pieces are copied as they are; otherwise auto_convert puts each
        # piece's SPS/PPS in-band (h264_mp4toannexb) at its keyframes, which costs a rewrite.
        convert = "0" if head.merged_parameter_sets else "1"
        video_input = ["-f", "concat", "-safe", "0", "-auto_convert", convert, "-i", str(listing)]
    audio_input = _audio_input(source, info, plan) if info.audio else []
    timeout = settings.timeout_base + settings.copy_timeout_per_second * plan.duration
    common = [*video_input, *audio_input, "-c", "copy"]
    try:
        stderr = run_ffmpeg(
            [*common, *_output_args(info, plan, output, faststart=False)],
            timeout=timeout,
            duration=plan.duration,
            progress=progress,
        ).stderr
    except FFmpegError as exc:
        if _INDEX_TOO_SMALL not in exc.stderr:
            raise
        stderr = exc.stderr
    # FFmpeg before 6 reports a too small reservation but still exits 0.
    if _INDEX_TOO_SMALL in stderr:
        logger.warning("reserved MP4 index space too small; writing with +faststart instead")
        run_ffmpeg(
            [*common, *_output_args(info, plan, output, faststart=True)],
            timeout=timeout,
            duration=plan.duration,
            progress=progress,
        )


def _head_parameter_sets(source: Path) -> tuple[Avcc | None, int]:
    """The source's avcC and a parameter-set id for the head, or (None, 0) when not avcC."""
    try:
        avcc = parse_avcc(video_extradata(source))
        return avcc, free_parameter_set_id(avcc)
    except AvccError as exc:
        logger.info("joining with in-band parameter sets: %s", exc)
        return None, 0


def encode_head(
    source: Path,
    info: MediaInfo,
    plan: StartPlan,
    head: Path,
    settings: EncodeSettings,
    parameter_set_id: int = 0,
) -> None:
    """Re-encode the frames from the start up to (not including) the next keyframe."""
    assert info.video is not None
    ffmpeg = selected_ffmpeg()
    timescale = info.video.time_base.denominator if info.video.time_base.numerator == 1 else 90000
    args = [
        # Seek a quarter frame early: the first kept frame must not be lost to rounding.
        "-ss", _ss(info, plan.start - plan.frame_duration / 4), "-i", str(source),
        "-map", "0:v:0", "-an", "-sn", "-dn", "-frames:v", str(plan.head_frames),
        "-vf", "setpts=PTS-STARTPTS", *ffmpeg.passthrough_timestamps(),
        *ffmpeg.keep_source_time_base(),
        *_x264_args(info, settings, match_source=True, parameter_set_id=parameter_set_id),
        "-video_track_timescale", str(timescale), "-f", "mp4", "-y", str(head),
    ]  # fmt: skip
    seconds = plan.head_frames * plan.frame_duration
    run_ffmpeg(args, timeout=settings.timeout_base + settings.encode_timeout_per_second * seconds)


@dataclass(frozen=True)
class PreparedHead:
    """The re-encoded head of a smart cut, ready to be joined to the copied rest."""

    path: Path
    merged_parameter_sets: bool  # its sample entry lists the source's SPS/PPS and its own


def prepare_head(
    source: Path, info: MediaInfo, plan: StartPlan, workdir: Path, settings: EncodeSettings
) -> PreparedHead:
    """Encode the head into `workdir`.

    The head gets parameter-set ids the source does not use and is re-muxed with an avcC that
    lists the source's sets and its own, so the join is a plain copy (no in-band sets needed).
    """
    source_avcc, set_id = _head_parameter_sets(source)
    encoded = workdir / "head-encoded.mp4"
    encode_head(source, info, plan, encoded, settings, parameter_set_id=set_id)
    if source_avcc is None:
        return PreparedHead(encoded, False)
    try:
        merged = merge_avcc(source_avcc, parse_avcc(video_extradata(encoded)))
    except AvccError as exc:
        logger.info("joining with in-band parameter sets: %s", exc)
        return PreparedHead(encoded, False)
    head = workdir / "head.mp4"
    remux_with_extradata(encoded, head, merged.to_bytes())
    return PreparedHead(head, True)


def reencode(
    source: Path,
    info: MediaInfo,
    plan: CutPlan,
    output: Path,
    settings: EncodeSettings,
    progress: Callable[[float], None] | None,
) -> None:
    """Re-encode the whole span's video (libx264), copying the audio."""
    args = [
        "-ss", _ss(info, plan.start - plan.frame_duration / 4),
        "-t", f"{plan.duration:.6f}", "-i", str(source),
        *(_audio_input(source, info, plan) if info.audio else []),
        "-vf", "setpts=PTS-STARTPTS", *selected_ffmpeg().passthrough_timestamps(),
        *_x264_args(info, settings, match_source=False), "-c:a", "copy",
        *_output_args(info, plan, output, faststart=True),
    ]  # fmt: skip
    timeout = settings.timeout_base + settings.encode_timeout_per_second * plan.duration
    run_ffmpeg(args, timeout=timeout, duration=plan.duration, progress=progress)


def execute_cut(
    source: Path,
    info: MediaInfo,
    plan: CutPlan,
    output: Path,
    settings: EncodeSettings | None = None,
    progress: Callable[[float], None] | None = None,
    timings: dict[str, float] | None = None,
    head: PreparedHead | None = None,
    index: SourceIndex | None = None,
) -> Written:
    """Write the cut described by `plan` to `output` (overwritten); how it was written.

    A smart cut's head is encoded here unless `head` holds it already (encoded while the end
    of the recording was still being looked for); `index` is the source's, when read already.
    """
    settings = settings or EncodeSettings()
    timings = timings if timings is not None else {}
    if plan.method == "reencode":
        started = time.monotonic()
        reencode(source, info, plan, output, settings, progress)
        timings["encode"] = time.monotonic() - started
        return Written("reencode", f"the whole span re-encoded: {plan.reason}", plan.reason)
    with tempfile.TemporaryDirectory(prefix=".cut-", dir=output.parent) as tmp:
        workdir = Path(tmp)
        if plan.method == "smart" and head is None:
            started = time.monotonic()
            head = prepare_head(source, info, plan.head(), workdir, settings)
            timings["head_encode"] = time.monotonic() - started
        started = time.monotonic()
        joined = head if plan.method == "smart" else None
        written = _join(source, info, plan, output, workdir, joined, settings, progress, index)
        timings["join"] = time.monotonic() - started
        return written
