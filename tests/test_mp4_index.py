"""The MP4 index reader and the cut written from it, checked against FFmpeg's own demuxer."""

from __future__ import annotations

import os
from pathlib import Path

import av
import pytest
from media_factory import MediaSpec, assert_read_independently, cached_media, make_media

from integrations.media import splice
from integrations.media.h264 import (
    ParameterSets,
    join_nal_units,
    nal_units,
    parse_avcc,
    parse_slice_header,
    rebuild_slice,
)
from integrations.media.mp4 import (
    Mp4LayoutError,
    TruncatedMp4Error,
    avcc_payload,
    read_movie,
    top_level,
)
from integrations.media.open_gop import is_recovery_point, recover
from integrations.media.trim import TrimOptions, trim_file

pytestmark = pytest.mark.usefixtures("ffmpeg_build")

SMART = MediaSpec(duration=20.0, silent_head=7.3, silent_tail=7.7, noise_db=-60.0)
ON_KEYFRAME = MediaSpec(duration=20.0, silent_head=9.0, silent_tail=6.0)
FRAGMENTED = MediaSpec(duration=6.0, movflags="+frag_keyframe+empty_moov+default_base_moof")
OPEN_GOP = MediaSpec(duration=8.0, x264_params="open_gop=1")


def demuxed(path: Path, kind: str) -> list[tuple[int, int, int, int]]:
    """(file offset, size, dts, pts) of every packet of the first `kind` stream, per FFmpeg."""
    with av.open(str(path)) as container:
        stream = getattr(container.streams, kind)[0]
        return [
            (p.pos, p.size, p.dts, p.pts)
            for p in container.demux(stream)
            if p.size and p.pts is not None
        ]


@pytest.mark.parametrize("handler,kind", [("vide", "video"), ("soun", "audio")])
def test_the_index_lists_every_sample_where_ffmpeg_finds_it(handler: str, kind: str) -> None:
    source = cached_media(SMART)
    track = read_movie(source).first(handler)
    assert track is not None
    ours = [
        (track.offsets[i], track.sizes[i], track.dts[i] - track.edit_shift,
         track.dts[i] + track.composition[i] - track.edit_shift)
        for i in range(len(track))
    ]  # fmt: skip
    theirs = demuxed(source, kind)
    assert len(ours) > 100
    assert ours == theirs  # the audio's edit list (encoder priming) shifts it as FFmpeg does


def test_a_fragmented_mp4_is_left_to_ffmpeg() -> None:
    with pytest.raises(Mp4LayoutError, match="fragmented"):
        read_movie(cached_media(FRAGMENTED))


def moov_bytes(path: Path) -> bytes:
    with path.open("rb") as handle:
        [moov] = top_level(handle)["moov"]
        handle.seek(moov.start)
        return handle.read(moov.end - moov.start)


def test_the_cut_is_the_source_bytes_under_a_new_index(tmp_path: Path) -> None:
    source = cached_media(SMART)
    result = trim_file(source, tmp_path / "out.mp4", TrimOptions())
    out = result.destination
    with source.open("rb") as handle:
        ftyp = handle.read(32)
    assert out.read_bytes()[:32] == ftyp  # the source's brands, then the index, then the data
    with out.open("rb") as handle:
        boxes = top_level(handle)
    assert list(boxes) == ["ftyp", "moov", "mdat"]
    [mdat] = boxes["mdat"]
    data_start, data_end = mdat.payload, mdat.end
    tracks = read_movie(out).tracks
    kept = sum(sum(t.sizes) for t in tracks)
    assert all(data_start <= o < data_end for t in tracks for o in t.offsets)
    # Every byte of the data is a kept packet, but for the few the last copied chunks hold.
    assert kept <= data_end - data_start < kept + 16 * 1024
    assert_read_independently(out)


def test_audio_starts_exactly_at_the_cut_inside_its_first_packet(tmp_path: Path) -> None:
    """The audio edit list starts playback at the cut, not at the packet that holds it."""
    source = cached_media(SMART)
    result = trim_file(source, tmp_path / "out.mp4", TrimOptions())
    with av.open(str(result.destination)) as container:
        frame = next(container.decode(audio=0))
    rate = 48000
    into_packet = round(result.start * rate) % 1024
    assert (frame.pts, frame.samples) == (0, 1024 - into_packet)
    assert into_packet, "the cut should fall inside an AAC packet for this check to mean much"


def test_64_bit_chunk_offsets_read_back_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past 4 GB the index needs co64; forced here on a small file, FFmpeg reads the same."""
    source = cached_media(SMART)
    narrow = trim_file(source, tmp_path / "narrow.mp4", TrimOptions()).destination
    monkeypatch.setattr(splice, "CO64_ABOVE", -1)
    wide = trim_file(source, tmp_path / "wide.mp4", TrimOptions()).destination
    assert b"co64" in moov_bytes(wide) and b"stco" not in moov_bytes(wide)
    assert b"stco" in moov_bytes(narrow)
    for kind in ("video", "audio"):
        assert [p[1:] for p in demuxed(wide, kind)] == [p[1:] for p in demuxed(narrow, kind)]
    assert_read_independently(wide)


def test_without_a_kernel_copy_the_file_is_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where `copy_file_range` is missing (macOS), the bytes go through a buffer instead."""
    source = cached_media(ON_KEYFRAME)  # a plain copy: no re-encode, so byte for byte
    kernel = trim_file(source, tmp_path / "kernel.mp4", TrimOptions()).destination
    monkeypatch.delattr(os, "copy_file_range")
    buffered = trim_file(source, tmp_path / "buffered.mp4", TrimOptions()).destination
    assert buffered.read_bytes() == kernel.read_bytes()


def test_a_truncated_file_says_how_much_is_missing(tmp_path: Path) -> None:
    full = cached_media(SMART)
    cut_off = tmp_path / "cut-off.mp4"
    cut_off.write_bytes(full.read_bytes()[:-1000])
    size = full.stat().st_size
    with pytest.raises(TruncatedMp4Error, match=f"up to byte {size}, the file has {size - 1000}"):
        read_movie(cut_off)


@pytest.mark.parametrize(
    "x264_params", ["open_gop=1", "open_gop=1:cabac=0:slices=3"], ids=["cabac", "cavlc-slices"]
)
def test_slice_headers_are_rebuilt_bit_for_bit(x264_params: str, tmp_path: Path) -> None:
    """Read and written again with the same values, every slice is what it was."""
    source = make_media(tmp_path / "source.mp4", MediaSpec(duration=4.0, x264_params=x264_params))
    video = read_movie(source).first("vide")
    avcc = parse_avcc(avcc_payload(video.stsd))
    sets = ParameterSets.of(avcc)
    data = source.read_bytes()
    slices = 0
    for offset, size in zip(video.offsets, video.sizes, strict=True):
        sample = data[offset : offset + size]
        units = nal_units(sample, avcc.nal_length_size)
        assert join_nal_units(units, avcc.nal_length_size) == sample
        for unit in units:
            if unit[0] & 0x1F in (1, 5):
                header = parse_slice_header(unit, sets)
                again = rebuild_slice(
                    unit,
                    header,
                    header.frame_num,
                    header.poc_lsb,
                    modifications=header.modifications,
                    unmark=header.unmark,
                )
                assert again == unit
                slices += 1
    assert slices >= len(video) * (3 if "slices" in x264_params else 1)


def test_after_an_open_gop_keyframe_only_the_first_pictures_are_rebuilt() -> None:
    """The rest of the copy keeps its bytes, with frame numbers patched in place."""
    source = cached_media(OPEN_GOP)
    video = read_movie(source).first("vide")
    key = video.sync[2]  # the keyframe at 4 s
    copied = range(key, len(video))
    with source.open("rb") as handle:

        def read(offset: int, size: int) -> bytes:
            return os.pread(handle.fileno(), size, offset)

        assert not is_recovery_point(read, video, 0)  # the first keyframe is an IDR picture
        assert is_recovery_point(read, video, key)
        recovery = recover(read, video, copied, idr_pic_id=1)
    assert recovery.renumbered == len(copied) - 1 - recovery.leading
    assert key in recovery.replaced and len(recovery.replaced) <= 8
    patched = {index for index, _, _ in recovery.patches}
    assert len(patched) + len(recovery.replaced) >= recovery.renumbered
    assert all(len(data) < 16 for _, _, data in recovery.patches)  # a slice's first bytes
