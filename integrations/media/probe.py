"""Read what a media file holds with PyAV: stream parameters and packet timestamps, no decoding."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

from integrations.media.errors import MediaProbeError


@dataclass(frozen=True)
class VideoParams:
    """The parameters a re-encoded piece must share with the source to be joined to it."""

    codec: str
    profile: str | None
    level: int | None  # H.264 level_idc, e.g. 31 for 3.1
    width: int
    height: int
    fps: Fraction
    time_base: Fraction
    pix_fmt: str | None
    has_b_frames: bool
    color_range: int | None = None
    colorspace: int | None = None
    color_primaries: int | None = None
    color_trc: int | None = None

    @property
    def frame_duration(self) -> float:
        """Seconds per frame at the nominal rate."""
        return float(1 / self.fps) if self.fps else 1 / 30

    @property
    def level_string(self) -> str | None:
        """The level as FFmpeg's `-level` wants it ("3.1"), or None when unknown."""
        if not self.level or self.level <= 0:
            return None
        return f"{self.level // 10}.{self.level % 10}"


@dataclass(frozen=True)
class AudioParams:
    """The audio stream's parameters."""

    codec: str
    sample_rate: int
    channels: int
    time_base: Fraction


@dataclass(frozen=True)
class MediaInfo:
    """Duration and the first video and audio streams of a file, and what else it holds."""

    path: Path
    duration: float
    video: VideoParams | None
    audio: AudioParams | None
    video_duration: float | None = None
    audio_duration: float | None = None
    video_start: float = 0.0
    audio_start: float = 0.0
    start_time: float = 0.0  # container start: FFmpeg's `-ss` and filter times count from here
    # The other streams (a second audio track, a timecode track, a cover picture...), described
    # for a person: a cut keeps only `video` and `audio`.
    extra_streams: tuple[str, ...] = ()
    format_name: str = ""  # FFmpeg's demuxer, e.g. "mov,mp4,m4a,3gp,3g2,mj2"


@dataclass(frozen=True)
class PacketTime:
    """One video packet's timestamps in seconds, in decode order."""

    pts: float
    dts: float
    keyframe: bool


def _open(path: Path) -> av.container.InputContainer:
    try:
        return av.open(str(path), mode="r")
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise MediaProbeError(f"cannot read {path.name} as media: {exc}") from exc


def time_base_of(stream: av.stream.Stream) -> Fraction:
    """The stream's time base; a demuxed stream always has one (PyAV types it optional)."""
    if stream.time_base is None:
        raise MediaProbeError(f"stream #{stream.index} has no time base")
    return stream.time_base


def _seconds(value: int | None, time_base: Fraction | None) -> float | None:
    if value is None or time_base is None:
        return None
    return float(value * time_base)


def _is_picture(stream: av.stream.Stream) -> bool:
    """A still picture attached to the file (cover art), not a video track."""
    return bool(stream.disposition & av.stream.Disposition.attached_pic)


def describe_stream(stream: av.stream.Stream) -> str:
    """E.g. `audio stream #2 (aac, 32000 Hz, mono, language fra, "Interpreter")`."""
    tags = stream.metadata
    details: list[str] = []
    ctx = stream.codec_context
    kind: str = stream.type
    if _is_picture(stream):
        kind = "cover picture"
    elif stream.type == "data" and "timecode" in tags:  # an MP4/MOV tmcd track
        kind = "timecode"
        details.append(f"starts {tags['timecode']}")
    elif ctx is not None:
        details.append(ctx.name)
    else:
        details.append(tags.get("handler_name") or "unknown codec")
    if isinstance(ctx, av.audio.codeccontext.AudioCodecContext):
        details += [f"{ctx.sample_rate} Hz", ctx.layout.name]
    elif isinstance(ctx, av.video.codeccontext.VideoCodecContext):
        details.append(f"{ctx.width}x{ctx.height}")
    if tags.get("language", "und") != "und":
        details.append(f"language {tags['language']}")
    title = tags.get("title") or tags.get("name")
    if title:
        details.append(f'"{title}"')
    return f"{kind} stream #{stream.index} ({', '.join(details)})"


def probe(path: Path) -> MediaInfo:
    """Duration and stream parameters of `path`; `MediaProbeError` when it is not readable media
    or holds neither video nor audio or has no duration."""
    info = read_info(path)
    if info.video is None and info.audio is None:
        raise MediaProbeError(f"{path.name} has neither video nor audio")
    if info.duration <= 0:
        raise MediaProbeError(f"{path.name} has no duration")
    return info


def read_info(path: Path) -> MediaInfo:
    """What `path` holds as its container's header tells, streams or none, duration or 0;
    `MediaProbeError` (its cause: PyAV's error) when it cannot be opened as media at all."""
    with _open(path) as container:
        video = audio = None
        video_duration = audio_duration = None
        video_start = audio_start = 0.0
        videos = [s for s in container.streams.video if not _is_picture(s)]
        if videos:
            stream = videos[0]
            ctx = stream.codec_context
            fps = stream.average_rate or stream.guessed_rate or Fraction(30)
            video = VideoParams(
                codec=ctx.name,
                profile=ctx.profile,
                level=ctx.level,
                width=ctx.width,
                height=ctx.height,
                fps=Fraction(fps),
                time_base=time_base_of(stream),
                pix_fmt=ctx.pix_fmt,
                has_b_frames=bool(ctx.has_b_frames),
                color_range=int(ctx.color_range) if ctx.color_range is not None else None,
                colorspace=int(ctx.colorspace) if ctx.colorspace is not None else None,
                color_primaries=(
                    int(ctx.color_primaries) if ctx.color_primaries is not None else None
                ),
                color_trc=int(ctx.color_trc) if ctx.color_trc is not None else None,
            )
            video_duration = _seconds(stream.duration, stream.time_base)
            video_start = _seconds(stream.start_time, stream.time_base) or 0.0
        audios = list(container.streams.audio)
        if audios:
            track = audios[0]
            audio = AudioParams(
                codec=track.codec_context.name,
                sample_rate=track.codec_context.sample_rate,
                channels=track.codec_context.channels,
                time_base=time_base_of(track),
            )
            audio_duration = _seconds(track.duration, track.time_base)
            audio_start = _seconds(track.start_time, track.time_base) or 0.0
        if container.duration is not None:
            duration = container.duration / 1_000_000
        else:
            duration = max(video_duration or 0.0, audio_duration or 0.0)
        start_time = container.start_time / 1_000_000 if container.start_time else 0.0
        kept = {s.index for s in (videos[:1] + audios[:1])}
        extra = tuple(describe_stream(s) for s in container.streams if s.index not in kept)
        return MediaInfo(
            path=path,
            duration=duration,
            video=video,
            audio=audio,
            video_duration=video_duration,
            audio_duration=audio_duration,
            video_start=video_start,
            audio_start=audio_start,
            start_time=start_time,
            extra_streams=extra,
            format_name=container.format.name,
        )


def iter_video_packets(path: Path, at: float) -> Iterator[PacketTime]:
    """Video packets in decode order from the keyframe at or before `at` (read, not decoded)."""
    with _open(path) as container:
        if not container.streams.video:
            raise MediaProbeError(f"{path.name} has no video stream")
        stream = container.streams.video[0]
        time_base = time_base_of(stream)
        offset = int(max(0.0, at) / time_base)
        try:
            container.seek(offset, stream=stream, backward=True, any_frame=False)
        except av.FFmpegError as exc:
            raise MediaProbeError(f"cannot seek in {path.name}: {exc}") from exc
        try:
            for packet in container.demux(stream):
                if packet.pts is None or packet.size == 0:
                    continue
                dts = packet.dts if packet.dts is not None else packet.pts
                yield PacketTime(
                    pts=float(packet.pts * time_base),
                    dts=float(dts * time_base),
                    keyframe=bool(packet.is_keyframe),
                )
        except av.FFmpegError as exc:
            raise MediaProbeError(f"cannot read packets of {path.name}: {exc}") from exc


def read_video_packets(
    path: Path, at: float, stop: Callable[[list[PacketTime]], bool]
) -> list[PacketTime]:
    """Packets from the keyframe at or before `at` until `stop(packets so far)` or the end."""
    packets: list[PacketTime] = []
    for packet in iter_video_packets(path, at):
        packets.append(packet)
        if stop(packets):
            break
    return packets


def keyframes_near(path: Path, at: float, span: float = 10.0) -> list[float]:
    """Keyframe timestamps within `span` seconds either side of `at`, from packets only."""
    packets = read_video_packets(path, at - span, lambda seen: seen[-1].dts > at + span)
    return sorted(p.pts for p in packets if p.keyframe and abs(p.pts - at) <= span)


def video_frame_count(path: Path) -> int | None:
    """Frames of the first video stream as the container's index lists them (None: unknown)."""
    with _open(path) as container:
        if not container.streams.video:
            return None
        return container.streams.video[0].frames or None


def count_video_packets_outside(path: Path, first_dts: float, end_dts: float | None) -> int:
    """Video packets decoded before `first_dts` plus those at or after `end_dts` (demuxed only).

    What a copy of [first_dts, end_dts) leaves out of the source: the source's frame count
    minus this is how many frames the copy must hold.
    """
    before = 0
    for packet in iter_video_packets(path, 0.0):
        if packet.dts >= first_dts - 1e-6:
            break
        before += 1
    if end_dts is None:
        return before
    after = sum(
        1 for packet in iter_video_packets(path, end_dts - 5.0) if packet.dts >= end_dts - 1e-6
    )
    return before + after
