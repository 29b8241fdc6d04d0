"""The one MP4 box reader (`integrations.media.mp4.iter_boxes`) on hand-built boxes, from a
buffer and from an open file alike, and the emulators' duration read through it."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import pytest

from integrations.media.mp4 import (
    Box,
    Mp4LayoutError,
    TruncatedMp4Error,
    box,
    full_box,
    iter_boxes,
    top_level,
)
from integrations.media.verify import moov_before_mdat, top_level_atoms
from integrations.sandbox.mp4 import movie_duration


def large_box(kind: str, payload: bytes) -> bytes:
    """A box with a 64-bit `largesize` (size field 1), whatever its length."""
    return struct.pack(">I4sQ", 1, kind.encode(), 16 + len(payload)) + payload


def to_end_box(kind: str, payload: bytes) -> bytes:
    """A box of size 0: it runs to the end of its parent (of the file, at the top level)."""
    return struct.pack(">I4s", 0, kind.encode()) + payload


def mvhd(timescale: int, duration: int, version: int = 0) -> bytes:
    if version == 1:
        times = struct.pack(">QQIQ", 0, 0, timescale, duration)
    else:
        times = struct.pack(">IIII", 0, 0, timescale, duration)
    return full_box("mvhd", version, 0, times, bytes(80))


FTYP = box("ftyp", b"isom", struct.pack(">I", 512), b"isomiso2avc1mp41")
MOOV = box("moov", mvhd(1000, 90_500), box("trak", box("tkhd", bytes(84))))


def walk(data: bytes, *args: int, partial: bool = False) -> list[tuple[str, int, int, int]]:
    """The walk over `data` as (type, start, payload, end), from a buffer and from a file,
    which must agree."""
    from_buffer = list(iter_boxes(data, *args, partial=partial))
    from_file = list(iter_boxes(io.BytesIO(data), *args, partial=partial))
    assert from_file == from_buffer
    return [(b.kind, b.start, b.payload, b.end) for b in from_buffer]


def test_boxes_laid_end_to_end_and_their_children() -> None:
    data = FTYP + MOOV + box("mdat", b"x" * 10)
    ftyp_end, moov_end = len(FTYP), len(FTYP) + len(MOOV)
    assert walk(data) == [
        ("ftyp", 0, 8, ftyp_end),
        ("moov", ftyp_end, ftyp_end + 8, moov_end),
        ("mdat", moov_end, moov_end + 8, len(data)),
    ]
    moov = Box("moov", ftyp_end, ftyp_end + 8, moov_end)
    inside = walk(data, moov.payload, moov.end)
    assert [kind for kind, *_ in inside] == ["mvhd", "trak"]
    trak = inside[1]
    assert walk(data, trak[2], trak[3]) == [("tkhd", trak[2], trak[2] + 8, trak[3])]


def test_a_64_bit_largesize_gives_a_16_byte_header() -> None:
    data = FTYP + large_box("mdat", b"y" * 40) + box("free")
    start = len(FTYP)
    assert walk(data)[1:] == [
        ("mdat", start, start + 16, start + 56),
        ("free", start + 56, start + 64, start + 64),
    ]


def test_size_0_runs_to_the_end_of_the_file_or_of_the_parent() -> None:
    data = FTYP + to_end_box("mdat", b"z" * 33)
    assert walk(data)[-1] == ("mdat", len(FTYP), len(FTYP) + 8, len(data))
    parent = box("udta", box("name", b"a"), to_end_box("free", b"pad"))
    assert walk(parent, 8, len(parent))[-1] == ("free", 17, 25, len(parent))


def test_fewer_than_8_bytes_at_the_end_are_ignored() -> None:
    assert [kind for kind, *_ in walk(FTYP + b"\0\0\0")] == ["ftyp"]


@pytest.mark.parametrize(
    "data",
    [
        FTYP + MOOV[:-5],  # the data end inside a box
        FTYP + large_box("mdat", b"y" * 40)[:12],  # ... inside a 64-bit size
        FTYP + box("mdat", b"y" * 40)[:6] + b"\0" * 2,  # ... a size larger than what is left
    ],
    ids=["body", "largesize", "short"],
)
def test_a_box_the_data_end_inside_is_truncated(data: bytes) -> None:
    for source in (data, io.BytesIO(data)):
        with pytest.raises(TruncatedMp4Error):
            list(iter_boxes(source))


def test_a_parent_cut_off_is_truncated_where_its_children_run_out() -> None:
    cut = MOOV[:-20]  # moov's last child (trak) runs past the data
    with pytest.raises(TruncatedMp4Error, match="'trak'"):
        list(iter_boxes(cut, 8, len(MOOV)))


def test_partial_yields_the_cut_off_box_and_stops() -> None:
    data = FTYP + MOOV + box("mdat", b"x" * 1000)
    head = data[: len(FTYP) + len(MOOV) + 100]
    *_, last = walk(head, partial=True)
    assert last == ("mdat", len(FTYP) + len(MOOV), len(FTYP) + len(MOOV) + 8, len(data))
    assert walk(head[:-96], partial=True)[-1][0] == "moov"  # 4 bytes of mdat's header: no box


def test_a_child_overrunning_its_parent_is_malformed() -> None:
    parent = box("moov", box("mvhd", bytes(20)))
    bad = bytearray(parent + box("free"))
    struct.pack_into(">I", bad, 8, 40)  # mvhd claims 40 bytes, moov holds 28
    with pytest.raises(Mp4LayoutError, match="overruns its parent"):
        list(iter_boxes(bytes(bad), 8, len(parent)))
    alone = bytes(bad[: len(parent)])  # the parent read whole: its end is the data's end
    with pytest.raises(Mp4LayoutError, match="overruns its parent"):
        list(iter_boxes(alone, 8, len(alone)))
    tiny = struct.pack(">I4s", 4, b"free")  # smaller than its own header
    with pytest.raises(Mp4LayoutError, match="smaller than its header"):
        list(iter_boxes(tiny))


def test_a_file_on_disk_reads_the_same_as_its_bytes(tmp_path: Path) -> None:
    data = FTYP + large_box("moov", MOOV[8:]) + to_end_box("mdat", b"m" * 100)
    path = tmp_path / "hand.mp4"
    path.write_bytes(data)
    with path.open("rb") as handle:
        found = top_level(handle)
    assert list(found) == ["ftyp", "moov", "mdat"]
    assert found["mdat"] == [Box("mdat", len(data) - 108, len(data) - 100, len(data))]
    assert top_level_atoms(path) == ["ftyp", "moov", "mdat"]
    assert moov_before_mdat(path)
    path.write_bytes(FTYP + box("mdat", b"m" * 100) + MOOV)
    assert not moov_before_mdat(path)
    path.write_bytes(FTYP + struct.pack(">I4s", 4, b"moov") + MOOV)  # a size below 8: stops
    assert top_level_atoms(path) == ["ftyp"]


def test_the_emulators_read_the_duration_from_the_first_bytes() -> None:
    assert movie_duration(FTYP + MOOV + box("mdat", b"x" * 10)) == pytest.approx(90.5)
    long_moov = box("moov", mvhd(600, 600 * 7300, version=1), box("trak", bytes(100_000)))
    head = (FTYP + long_moov)[:65536]  # the moov runs past the head: mvhd is still read
    assert movie_duration(head) == pytest.approx(7300)
    assert movie_duration(FTYP + box("mdat", bytes(100_000))[:4096]) is None  # moov at the end
    assert movie_duration((FTYP + MOOV)[: len(FTYP) + 30]) is None  # mvhd cut off
    assert movie_duration(b"\0\0\0\x04junk" * 10) is None  # not an MP4
