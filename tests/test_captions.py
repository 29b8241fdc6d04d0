"""WebVTT parsing and re-timing of Zoom transcripts after a trim."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from integrations.captions import (
    CaptionFormatError,
    Cue,
    format_timestamp,
    format_vtt,
    parse_timestamp,
    parse_vtt,
    shift_cues,
    shift_vtt,
    shift_vtt_text,
)

ZOOM_VTT = """WEBVTT

1
00:00:01.000 --> 00:00:04.500
Jane Doe: Can everyone hear me?

2
00:00:10.000 --> 00:00:14.000
Jane Doe: Let's wait a minute for the others.

3
00:10:00.000 --> 00:10:03.250
John Smith: The first theorem says
that this holds.

4
01:02:03.456 --> 01:02:07.000
Jane Doe: Any questions?

5
01:30:00.000 --> 01:30:05.000
Jane Doe: Bye!
"""


def test_timestamps() -> None:
    assert parse_timestamp("01:02:03.456") == 3_723_456
    assert parse_timestamp("02:03.456") == 123_456
    assert parse_timestamp("123:00:00.001") == 442_800_001
    assert format_timestamp(3_723_456) == "01:02:03.456"
    assert format_timestamp(0) == "00:00:00.000"
    assert format_timestamp(442_800_001) == "123:00:00.001"
    with pytest.raises(ValueError):
        parse_timestamp("1:2:3")


def test_parse_zoom_vtt() -> None:
    cues = parse_vtt(ZOOM_VTT)
    assert len(cues) == 5
    assert cues[0] == Cue(1000, 4500, "Jane Doe: Can everyone hear me?", "1")
    assert cues[2].text == "John Smith: The first theorem says\nthat this holds."
    assert cues[2].speaker == "John Smith"
    assert cues[3].start_ms == 3_723_456


def test_cue_at_ten_minutes_lands_at_ten_minutes_minus_cut_start() -> None:
    cut_start = 7.345  # seconds trimmed from the head
    cues = shift_cues(parse_vtt(ZOOM_VTT), cut_start, 3600 * 2)
    theorem = next(c for c in cues if c.speaker == "John Smith")
    assert theorem.start_ms == 600_000 - 7_345
    assert theorem.end_ms == 603_250 - 7_345
    assert format_timestamp(theorem.start_ms) == "00:09:52.655"


def test_cues_outside_span_dropped_straddling_clipped_renumbered() -> None:
    # keep [2.0, 3725.0): cue 1 straddles the start, cue 4 the end, cue 5 is after the end
    cues = shift_cues(parse_vtt(ZOOM_VTT), 2.0, 3725.0)
    assert [(c.identifier, c.start_ms, c.end_ms) for c in cues] == [
        ("1", 0, 2_500),  # 1.0-4.5 clipped to 2.0-4.5
        ("2", 8_000, 12_000),
        ("3", 598_000, 601_250),
        ("4", 3_721_456, 3_723_000),  # 3723.456-3727.0 clipped at 3725.0
    ]
    # a span that starts after the first two cues drops them
    later = shift_cues(parse_vtt(ZOOM_VTT), 20.0, 3600.0)
    assert [c.text.split(":")[0] for c in later] == ["John Smith"]
    assert later[0].identifier == "1"


def test_edges_are_half_open() -> None:
    cues = [Cue(0, 1000, "a"), Cue(1000, 2000, "b"), Cue(2000, 3000, "c")]
    assert [c.text for c in shift_cues(cues, 1.0, 2.0)] == ["b"]


def test_hours_formatting_in_output() -> None:
    text, count = shift_vtt_text(ZOOM_VTT, 1.5, 7200.0)
    assert count == 5
    assert "01:02:01.956 --> 01:02:05.500" in text
    assert "01:29:58.500 --> 01:30:03.500" in text
    assert parse_vtt(text)[-1].start_ms == 5_398_500  # the output parses back


def test_written_vtt_round_trips() -> None:
    cues = parse_vtt(ZOOM_VTT)
    assert parse_vtt(format_vtt(cues)) == cues


def test_empty_result() -> None:
    text, count = shift_vtt_text(ZOOM_VTT, 5000.0, 5100.0)
    assert count == 0
    assert text == "WEBVTT\n"
    assert parse_vtt(text) == []


def test_notes_settings_crlf_bom_and_header_text() -> None:
    document = (
        "\ufeffWEBVTT - Zoom transcript\r\nKind: captions\r\n\r\n"
        "NOTE produced by Zoom\r\n\r\n"
        "00:00:05.000 --> 00:00:06.000 align:start position:10%\r\nno id here\r\n"
    )
    (cue,) = parse_vtt(document)
    assert cue == Cue(5000, 6000, "no id here", None, "align:start position:10%")
    (shifted,) = shift_cues([cue], 1.0)
    assert format_vtt([shifted]) == (
        "WEBVTT\n\n1\n00:00:04.000 --> 00:00:05.000 align:start position:10%\nno id here\n"
    )


@pytest.mark.parametrize(
    ("document", "line", "fragment"),
    [
        ("1\n00:00:01.000 --> 00:00:02.000\nhi\n", 1, "WEBVTT header"),
        ("WEBVTT\n\n1\n00:00:01.000 -> 00:00:02.000\nhi\n", 4, "timing line"),
        ("WEBVTT\n\n1\n00:00:01.000 --> 00:00:02,000\nhi\n", 4, "bad timestamp"),
        ("WEBVTT\n\n1\n00:00:03.000 --> 00:00:02.000\nhi\n", 4, "ends before it starts"),
        ("WEBVTT\n\n1\n00:00:01.000 -->\nhi\n", 4, "without an end time"),
        (
            "WEBVTT\n\n1\n00:00:01.000 --> 00:00:02.000\nhi\n2\n00:00:03.000 --> 00:00:04.000\n",
            7,
            "-->",
        ),
    ],
)
def test_malformed_input_names_the_line(document: str, line: int, fragment: str) -> None:
    with pytest.raises(CaptionFormatError) as info:
        parse_vtt(document)
    assert info.value.line == line
    assert f"line {line}:" in str(info.value)
    assert fragment in str(info.value)


def test_bad_span_rejected() -> None:
    with pytest.raises(ValueError):
        shift_cues([], 5.0, 5.0)
    with pytest.raises(ValueError):
        shift_cues([], -1.0, 5.0)


def test_shift_vtt_file(tmp_path: Path) -> None:
    source = tmp_path / "transcript.vtt"
    source.write_text(ZOOM_VTT, encoding="utf-8")
    destination = tmp_path / "out" / "captions.vtt"
    assert shift_vtt(source, destination, 7.345, 3600.0) == 2  # cue 1 before, 4-5 after
    cues = parse_vtt(destination.read_text(encoding="utf-8"))
    assert cues[-1].start_ms == 600_000 - 7_345
    assert stat.S_IMODE(destination.stat().st_mode) == 0o644
    assert sorted(p.name for p in destination.parent.iterdir()) == ["captions.vtt"]


def test_shift_vtt_in_place_and_errors_leave_nothing(tmp_path: Path) -> None:
    source = tmp_path / "t.vtt"
    source.write_text(ZOOM_VTT, encoding="utf-8")
    assert shift_vtt(source, source, 0.0, 3600.0) == 3
    broken = tmp_path / "broken.vtt"
    broken.write_text("WEBVTT\n\nx\ny\n", encoding="utf-8")
    destination = tmp_path / "dest.vtt"
    with pytest.raises(CaptionFormatError, match=r"broken\.vtt, line 4"):
        shift_vtt(broken, destination, 0.0, 10.0)
    assert not destination.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.vtt", "t.vtt"]
