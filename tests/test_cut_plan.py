"""The cut planner's boundary search on hand-written packet lists (no FFmpeg, no media).

A stream is written in decode order as display indices: "K0 4 2 1 3" is a keyframe shown first,
then the frame shown fifth, and so on; decode times trail by `delay` frames as x264 writes them
(2 with B-pyramid). The lists below are the orders x264 produced for `-bf 3 -b-pyramid normal`,
closed GOPs and `open-gop=1` (checked with `iter_video_packets` on its output).
"""

from __future__ import annotations

import pytest

from integrations.media.cut_plan import (
    StartPlan,
    join_plans,
    plan_end_from,
    plan_start_from,
    reaches_video_end,
)
from integrations.media.probe import PacketTime

F = 0.04  # 25 fps

# Keyframes every 9 frames, B-pyramid: mini-GOPs "P4 B2 b1 b3".
CLOSED = "K0 4 2 1 3 8 6 5 7 K9 13 11 10 12 17 15 14 16 K18 22 20 19 21 26 24 23 25"
CLOSED_END = 27 * F
# x264's open GOP: the keyframe shown 13th is decoded before frames 10 and 11, shown before it.
OPEN = "K0 4 2 1 3 6 5 9 7 8 K12 10 11 16 14 13 15 20 18 17 19 23 21 22"


def stream(order: str, delay: int = 2, frame: float = F) -> list[PacketTime]:
    packets = []
    for n, token in enumerate(order.split()):
        shown = int(token.removeprefix("K"))
        packets.append(PacketTime(shown * frame, (n - delay) * frame, token.startswith("K")))
    return packets


def start_plan(order: str, at: float, unsafe: str | None = None) -> StartPlan:
    plan = plan_start_from(stream(order), at, F, unsafe)
    assert plan is not None
    return plan


# --- the start ---------------------------------------------------------------------------------


def test_start_on_a_keyframe_copies_from_it() -> None:
    plan = start_plan(CLOSED, 9 * F)
    assert (plan.method, plan.start) == ("copy", pytest.approx(9 * F))
    assert plan.copy_from_dts == pytest.approx(7 * F)  # the keyframe's decode time
    assert (plan.head_frames, plan.leading, plan.keyframe) == (0, 0, None)


@pytest.mark.parametrize("offset", [-0.4, 0.4])
def test_start_within_half_a_frame_of_a_keyframe_copies_from_it(offset: float) -> None:
    plan = start_plan(CLOSED, (9 + offset) * F)
    assert (plan.method, plan.start) == ("copy", pytest.approx(9 * F))


def test_start_mid_gop_reencodes_the_head_up_to_the_next_keyframe() -> None:
    plan = start_plan(CLOSED, 3 * F)
    assert (plan.method, plan.start, plan.keyframe) == ("smart", pytest.approx(3 * F), 9 * F)
    assert plan.head_frames == 6  # frames 3..8, shown before the keyframe
    assert plan.copy_from_dts == pytest.approx(7 * F)
    assert plan.reason is None


@pytest.mark.parametrize(("at", "first"), [(9.4, 9), (9.6, 10), (10.0, 10), (10.49, 10)])
def test_start_keeps_the_nearest_frame_never_one_late(at: float, first: int) -> None:
    """A cut asked a frame after a keyframe starts exactly there: not on the keyframe before,
    not a frame later."""
    plan = start_plan(CLOSED, at * F)
    assert plan.start == pytest.approx(first * F)
    if first == 10:
        assert (plan.method, plan.keyframe, plan.head_frames) == ("smart", 18 * F, 8)


def test_start_a_frame_before_a_keyframe_reencodes_that_frame_only() -> None:
    plan = start_plan(CLOSED, 8 * F)
    assert (plan.method, plan.start, plan.keyframe) == ("smart", pytest.approx(8 * F), 9 * F)
    assert plan.head_frames == 1


@pytest.mark.parametrize("at", [0.0, -1.0])
def test_start_at_or_before_the_first_packet_copies_from_it(at: float) -> None:
    plan = start_plan(CLOSED, at)
    assert (plan.method, plan.start) == ("copy", 0.0)
    assert plan.copy_from_dts == pytest.approx(-2 * F)  # B-pyramid: decoding starts 2 early


def test_start_in_the_last_gop_has_no_keyframe_to_copy_from() -> None:
    plan = start_plan(CLOSED, 26 * F)  # the last frame shown
    assert (plan.method, plan.start) == ("reencode", pytest.approx(26 * F))
    assert plan.reason == "no keyframe after the start"


def test_start_after_the_last_frame_finds_nothing() -> None:
    assert plan_start_from(stream(CLOSED), 27 * F, F) is None
    assert plan_start_from([], 0.0, F) is None


def test_an_unsafe_source_is_reencoded_between_keyframes_and_copied_on_one() -> None:
    unsafe = "source video codec is hevc; smart cut joins H.264 only"
    between = start_plan(CLOSED, 3 * F, unsafe=unsafe)
    assert (between.method, between.reason) == ("reencode", unsafe)
    assert start_plan(CLOSED, 9 * F, unsafe=unsafe).method == "copy"


def test_a_reorder_delay_the_head_cannot_match_reencodes_the_span() -> None:
    plan = plan_start_from(stream(CLOSED, delay=3), 3 * F, F)
    assert plan is not None and plan.method == "reencode"
    assert plan.reason == (
        "source reorder delay of 3 frames exceeds what the head encode can match"
    )


def test_open_gop_keyframe_copy_leaves_its_leading_pictures_out() -> None:
    plan = start_plan(OPEN, 12 * F)
    assert (plan.method, plan.start) == ("copy", pytest.approx(12 * F))
    assert plan.copy_from_dts == pytest.approx(8 * F)
    assert plan.leading == 2  # frames 10 and 11: decoded after the keyframe, shown before it


def test_open_gop_frame_shown_before_the_keyframe_is_in_the_head() -> None:
    plan = start_plan(OPEN, 11 * F)
    assert (plan.method, plan.start, plan.keyframe) == ("smart", pytest.approx(11 * F), 12 * F)
    assert (plan.head_frames, plan.leading) == (1, 2)
    assert plan.copy_from_dts == pytest.approx(8 * F)


def test_open_gop_reorder_delay_counts_from_the_last_leading_picture() -> None:
    """The keyframe is shown 4 frames after it is decoded, but the copy decodes it in the last
    leading picture's slot, 2 frames before: a head encode can match that."""
    plan = start_plan(OPEN, 5 * F)
    assert (plan.method, plan.keyframe, plan.head_frames) == ("smart", 12 * F, 7)


VFR = [0.0, 0.04, 0.1, 0.2, 0.22, 0.3, 0.35, 0.41, 0.5]  # shown times; a keyframe at 0 and 0.3


def vfr_stream() -> list[PacketTime]:
    return [PacketTime(t, t, t in (0.0, 0.3)) for t in VFR]


@pytest.mark.parametrize(
    ("at", "expected"),
    [(0.15, ("smart", 0.2, 2)), (0.21, ("smart", 0.2, 2)), (0.28, ("copy", 0.3, 0))],
)
def test_variable_frame_rate_start_lands_on_a_real_frame(
    at: float, expected: tuple[str, float, int]
) -> None:
    plan = plan_start_from(vfr_stream(), at, F)
    assert plan is not None
    assert (plan.method, plan.start, plan.head_frames) == expected


# --- the end -----------------------------------------------------------------------------------


def clean(packets: list[PacketTime], end: float, outpoint: float) -> bool:
    """The copy stopping at `outpoint` (decode time) holds exactly the frames shown before
    `end`: nothing kept needs a frame left out."""
    return all((p.dts < outpoint) == (p.pts < end - 1e-9) for p in packets)


def test_end_on_a_clean_boundary_stays_there() -> None:
    end, outpoint = plan_end_from(stream(CLOSED), 5 * F, CLOSED_END)
    assert end == pytest.approx(5 * F)
    assert outpoint == pytest.approx(2.5 * F)  # between the decode times of frames 3 and 8


@pytest.mark.parametrize(("wanted", "snapped"), [(5.01, 9), (6, 9), (8, 9), (9.5, 10), (10.5, 14)])
def test_end_after_a_boundary_moves_to_the_next_clean_one(wanted: float, snapped: int) -> None:
    """B-pyramid: between two clean boundaries the end moves later, never earlier."""
    end, outpoint = plan_end_from(stream(CLOSED), wanted * F, CLOSED_END)
    assert end == pytest.approx(snapped * F)
    assert outpoint is not None and clean(stream(CLOSED), end, outpoint)


@pytest.mark.parametrize("order", [CLOSED, OPEN])
def test_end_never_lands_before_the_padded_end(order: str) -> None:
    """Issue 17: with decode and display order apart, the end landed up to two frames before
    the padded end. Every wanted end, in quarter frames, snaps at or after itself, to a clean
    boundary, within one mini-GOP."""
    packets = stream(order)
    last_clean = 23 if order == CLOSED else 21
    for quarter in range(0, last_clean * 4 + 1):
        wanted = quarter * F / 4
        end, outpoint = plan_end_from(packets, wanted, CLOSED_END)
        assert end >= wanted - 1e-6, wanted
        assert end - wanted < 5 * F, wanted
        assert outpoint is not None and clean(packets, end, outpoint), wanted


def test_end_before_an_open_gop_keyframe_keeps_its_leading_pictures_out() -> None:
    """Frames 10 and 11 are decoded after the keyframe shown at 12: the boundary before the
    keyframe keeps frames up to 9, and the next clean one keeps them up to 12."""
    packets = stream(OPEN)
    end, outpoint = plan_end_from(packets, 10 * F, 25 * F)
    assert (end, outpoint) == (pytest.approx(10 * F), pytest.approx(7.5 * F))
    assert plan_end_from(packets, 11 * F, 25 * F)[0] == pytest.approx(13 * F)


def test_end_at_the_first_packet_keeps_the_first_frame() -> None:
    end, outpoint = plan_end_from(stream(CLOSED), 0.5 * F, CLOSED_END)
    assert (end, outpoint) == (pytest.approx(1 * F), pytest.approx(-1.5 * F))


def test_end_past_the_last_clean_boundary_keeps_the_video_to_its_end() -> None:
    assert plan_end_from(stream(CLOSED), 24 * F, CLOSED_END) == (CLOSED_END, None)
    assert plan_end_from([], 1.0, CLOSED_END) == (CLOSED_END, None)
    assert reaches_video_end(26.6 * F, CLOSED_END, F)
    assert not reaches_video_end(26.4 * F, CLOSED_END, F)


def test_variable_frame_rate_end_lands_on_a_real_frame() -> None:
    end, outpoint = plan_end_from(vfr_stream(), 0.25, 0.55)
    assert (end, outpoint) == (0.3, pytest.approx(0.26))
    assert plan_end_from(vfr_stream(), 0.2, 0.55) == (0.2, pytest.approx(0.15))


# --- the whole cut ---------------------------------------------------------------------------


def test_join_keeps_a_smart_start_when_a_keyframe_falls_before_the_end() -> None:
    packets = stream(CLOSED)
    plan = join_plans(start_plan(CLOSED, 3 * F), *plan_end_from(packets, 20 * F, CLOSED_END))
    assert (plan.method, plan.start, plan.end, plan.keyframe) == (
        "smart",
        pytest.approx(3 * F),
        pytest.approx(23 * F),
        9 * F,
    )
    assert plan.outpoint == pytest.approx(20.5 * F)  # between frames 21 and 26, decoded
    assert plan.duration == pytest.approx(20 * F)


def test_join_reencodes_a_span_with_no_keyframe_before_its_end() -> None:
    plan = join_plans(start_plan(CLOSED, 3 * F), *plan_end_from(stream(CLOSED), 7 * F, 1.0))
    assert (plan.method, plan.end) == ("reencode", pytest.approx(9 * F))
    assert plan.reason == "no keyframe between the start and the end"
    assert (plan.keyframe, plan.head_frames, plan.copy_from_dts, plan.leading) == (None, 0, None, 0)


def test_join_keeps_an_open_gop_copy_and_its_leading_count() -> None:
    plan = join_plans(start_plan(OPEN, 12 * F), 22 * F, 17.5 * F)
    assert (plan.method, plan.leading, plan.copy_from_dts) == ("copy", 2, pytest.approx(8 * F))
    assert plan.head().leading == 2
