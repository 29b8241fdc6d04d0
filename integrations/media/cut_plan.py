"""Where a cut falls and how it is made, decided on a list of video packets (nothing read here).

The cut planner's boundary search. `plan_start_from` takes the video packets around the wanted
start (`PacketTime`: pts, dts and keyframe flag in seconds, in decode order) and chooses the
first kept frame and how the cut begins: `copy` from a keyframe sitting there, `smart` (re-encode
up to the next keyframe, copy the rest) or `reencode`. `plan_end_from` snaps the wanted end to
the first boundary at or after it where decode order and display order agree, so a copy that
stops there holds no frame whose reference was cut off. `join_plans` puts the two together.

cut.py reads the packets (PyAV, `read_video_packets`) and writes the cut; a frame too early or
too late is decided here.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from integrations.media.probe import PacketTime

logger = logging.getLogger(__name__)

CutMethod = Literal["copy", "smart", "reencode"]
MAX_HEAD_REORDER_DELAY = 2  # frames: B-pyramid, the most the head encode can match


@dataclass(frozen=True)
class StartPlan:
    """How the cut begins: the first kept frame and what happens up to the next keyframe."""

    start: float  # pts of the first kept video frame (source seconds)
    method: CutMethod
    frame_duration: float
    keyframe: float | None = None  # smart: first source keyframe after the start
    head_frames: int = 0  # smart: frames re-encoded before that keyframe
    reason: str | None = None  # reencode: why the head cannot be joined to a copy
    copy_from_dts: float | None = None  # decode time of the first source packet copied
    leading: int = 0  # open GOP: packets decoded right after that one, shown before it

    @property
    def half(self) -> float:
        return self.frame_duration / 2


@dataclass(frozen=True)
class CutPlan:
    """Where exactly the cut falls and how it is made. Times are source seconds."""

    start: float  # pts of the first kept video frame
    end: float  # pts just after the last kept frame (the source's end when cut there)
    method: CutMethod
    frame_duration: float
    keyframe: float | None = None  # smart: first source keyframe after the start
    head_frames: int = 0  # smart: frames re-encoded before that keyframe
    outpoint: float | None = None  # decode-time threshold that ends the copy; None = to the end
    reason: str | None = None  # why the method was chosen when it is not the best one
    copy_from_dts: float | None = None  # decode time of the first source packet copied
    leading: int = 0  # open GOP: packets decoded right after that one, shown before it

    @property
    def duration(self) -> float:
        return self.end - self.start

    def head(self) -> StartPlan:
        """How this cut begins."""
        return StartPlan(
            self.start,
            self.method,
            self.frame_duration,
            self.keyframe,
            self.head_frames,
            self.reason,
            self.copy_from_dts,
            self.leading,
        )


def fallback(reason: str) -> str:
    """Log that the whole span is re-encoded, and why; the reason, unchanged."""
    logger.warning("smart cut not possible, re-encoding the whole span: %s", reason)
    return reason


def _first_key_after(packets: Sequence[PacketTime], start: float) -> PacketTime | None:
    keys = sorted((p for p in packets if p.keyframe and p.pts > start), key=lambda p: p.pts)
    return keys[0] if keys else None


def _leading(packets: Sequence[PacketTime], key: PacketTime) -> list[PacketTime]:
    """The packets right after `key` in decode order that are shown before it: an open GOP's
    leading pictures (the copy leaves them out; a smart cut's head re-encodes them)."""
    after = packets[packets.index(key) + 1 :]
    return list(itertools.takewhile(lambda p: p.pts < key.pts, after))


def _head_reason(
    unsafe: str | None, frame_duration: float, key: PacketTime | None, key_dts: float
) -> str | None:
    """Why the head cannot be re-encoded and joined to the copied rest (None when it can);
    `key_dts` is when the copy decodes the keyframe (the last leading picture's slot)."""
    if unsafe is not None:
        return unsafe
    if key is None:
        return "no keyframe after the start"
    delay = round((key.pts - key_dts) / frame_duration)
    if delay > MAX_HEAD_REORDER_DELAY:
        return f"source reorder delay of {delay} frames exceeds what the head encode can match"
    return None


def plan_start_from(
    packets: Sequence[PacketTime],
    start: float,
    frame_duration: float,
    unsafe: str | None = None,
) -> StartPlan | None:
    """How the cut begins at `start`, from the video packets in decode order (from a keyframe
    at or before `start` to a few past the next one); None when no frame is at or after it.

    The first kept frame is the first shown at or after `start` less half a frame. `unsafe` says
    why the source cannot be smart-cut at all (codec, profile...): a start between keyframes is
    then re-encoded whole.
    """
    half = frame_duration / 2
    frames = sorted(p.pts for p in packets if p.pts >= start - half)
    if not frames:
        return None
    first_pts = frames[0]
    first = next(p for p in packets if p.pts == first_pts)
    if first.keyframe:
        leading = len(_leading(packets, first))
        return StartPlan(
            first_pts, "copy", frame_duration, copy_from_dts=first.dts, leading=leading
        )
    key = _first_key_after(packets, first_pts)
    leading_packets = _leading(packets, key) if key is not None else []
    key_dts = max((p.dts for p in leading_packets), default=key.dts if key else 0.0)
    reason = _head_reason(unsafe, frame_duration, key, key_dts)
    if reason is not None or key is None:
        return StartPlan(first_pts, "reencode", frame_duration, reason=str(reason))
    head_frames = sum(1 for pts in frames if pts < key.pts - half)
    return StartPlan(
        first_pts,
        "smart",
        frame_duration,
        keyframe=key.pts,
        head_frames=head_frames,
        copy_from_dts=key.dts,
        leading=len(leading_packets),
    )


def reaches_video_end(end: float, video_end: float, frame_duration: float) -> bool:
    """Whether a cut ending at `end` keeps the video to its end (within half a frame)."""
    return end >= video_end - frame_duration / 2


def plan_end_from(
    packets: Sequence[PacketTime], end: float, video_end: float
) -> tuple[float, float | None]:
    """Snap `end` to the first clean boundary at or after it: (end pts, decode-time outpoint),
    or (`video_end`, None) when no boundary among `packets` (decode order) is at or after it.

    Boundary i (between packet i-1 and i in decode order) is clean when every packet before it
    is shown before every packet after it; its pts is the first frame shown after it, and the
    outpoint lies between the two packets' decode times. The padding is kept whole: the first
    clean boundary at or after `end` wins, never one before it.
    """
    suffix_min = [float("inf")] * (len(packets) + 1)
    for i in range(len(packets) - 1, -1, -1):
        suffix_min[i] = min(packets[i].pts, suffix_min[i + 1])
    best: tuple[float, float | None] = (video_end, None)
    prefix_max = float("-inf")
    for i in range(1, len(packets)):
        prefix_max = max(prefix_max, packets[i - 1].pts)
        boundary = suffix_min[i]
        if prefix_max < boundary and end - 1e-6 <= boundary < best[0]:
            best = (boundary, (packets[i - 1].dts + packets[i].dts) / 2)
    return best


def join_plans(head: StartPlan, end: float, outpoint: float | None) -> CutPlan:
    """The whole cut: the start's plan up to `end` (a pts from `plan_end_from`)."""
    method, reason = head.method, head.reason
    if method == "smart" and head.keyframe is not None and head.keyframe >= end - head.half:
        method, reason = "reencode", "no keyframe between the start and the end"
    if method == "reencode":
        reason = fallback(str(reason))
    keyframe = head.keyframe if method == "smart" else None
    return CutPlan(
        head.start,
        end,
        method,
        head.frame_duration,
        keyframe=keyframe,
        head_frames=head.head_frames if method == "smart" else 0,
        outpoint=outpoint,
        reason=reason,
        copy_from_dts=head.copy_from_dts if method != "reencode" else None,
        leading=head.leading if method != "reencode" else 0,
    )
