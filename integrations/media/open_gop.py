"""Copy H.264 from a keyframe that is not an IDR picture: an open GOP's recovery point.

x264's `open_gop` (and other encoders) start every GOP after the first with an I picture that is
not an IDR (NAL type 1, with a recovery-point SEI). The pictures after it go on counting
frame_num and picture order from the GOP before, name pictures of that GOP when they unmark
references, and the first of them may be leading pictures: decoded after the keyframe, shown
before it, predicted from the GOP before. Copied after a re-encoded head (or from the start of a
file), they send a decoder after references that are not there ("mmco: unref short failure").

`recover` makes the copy decode on its own by rewriting slice headers only:
- the keyframe's slices become IDR slices (frame_num 0, picture order 0);
- leading pictures are left out (a smart cut's head re-encodes them: they are shown before the
  keyframe), and the keyframe takes the decode time of the last of them;
- while the source's decoder could still hold pictures from before the keyframe or left-out
  ones, each picture's slices are rebuilt: operations unmarking such pictures are removed, and
  the other operations and reference list modifications are counted without the left-out ones;
- after that, up to the source's next IDR picture, frame_num and pic_order_cnt_lsb (fixed-width
  fields near the start of every slice) are patched in place in the copied bytes.
Long-term references, interlacing, picture order type 1, in-band parameter sets, and pictures
after the keyframe that refer to ones before it raise `BitstreamError`: the caller re-encodes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from integrations.media.h264 import (
    NAL_IDR,
    NAL_PPS,
    NAL_SLICE,
    NAL_SPS,
    SLICE_I,
    AvccError,
    BitReader,
    BitstreamError,
    Modifications,
    ParameterSets,
    SliceHeader,
    escape,
    join_nal_units,
    nal_units,
    parse_avcc,
    parse_slice_header,
    rebuild_slice,
    slice_prefix,
    unescape,
)
from integrations.media.mp4 import Mp4LayoutError, Track, avcc_payload

Reader = Callable[[int, int], bytes]  # (file offset, size) -> the bytes there
PREFIX = 48  # bytes read of each slice to patch its frame_num and pic_order_cnt_lsb
LEADING_HORIZON = 32  # samples after a keyframe searched for pictures shown before it
WINDOW_LIMIT = 64  # pictures rebuilt at most before the copy no longer names earlier ones
_PARAMETER_SETS = (NAL_SPS, NAL_PPS)


@dataclass
class Recovery:
    """How a copy that starts at a recovery-point keyframe is made to decode on its own."""

    leading: int  # samples right after the keyframe (decode order) shown before it: left out
    key_dts: int  # the keyframe's decode time in the cut (source ticks)
    replaced: dict[int, bytes] = field(default_factory=dict)  # source sample -> rebuilt sample
    patches: list[tuple[int, int, bytes]] = field(default_factory=list)  # (sample, offset, bytes)
    renumbered: int = 0  # pictures whose numbers now count from the keyframe


def leading_pictures(video: Track, first: int, stop: int) -> int:
    """How many samples right after the keyframe `first` (decode order) are shown before it.

    `Mp4LayoutError` when a picture after those is shown before the keyframe too.
    """
    key_pts = video.dts[first] + video.composition[first]
    after = range(first + 1, min(stop, first + LEADING_HORIZON))
    shown_before = [video.dts[i] + video.composition[i] < key_pts for i in after]
    count = shown_before.index(False) if False in shown_before else len(shown_before)
    if any(shown_before[count:]):
        raise Mp4LayoutError("a picture shown before its keyframe follows ones shown after it")
    return count


def _length_size(video: Track) -> int | None:
    """The NAL length size of an H.264 (avcC) track, None for other codecs."""
    try:
        payload = avcc_payload(video.stsd)
    except Mp4LayoutError:
        return None
    return (payload[4] & 0x03) + 1 if len(payload) > 4 else None


def _parameter_sets(track: Track) -> ParameterSets:
    try:
        return ParameterSets.of(parse_avcc(avcc_payload(track.stsd)))
    except (AvccError, Mp4LayoutError) as exc:
        raise BitstreamError(f"the sample entry's parameter sets cannot be read: {exc}") from exc


def _types(units: list[bytes]) -> set[int]:
    return {unit[0] & 0x1F for unit in units}


def idr_pic_id_after(read: Reader, track: Track) -> int:
    """An idr_pic_id for an IDR picture that follows the last sample of `track` (read with
    `read`): consecutive IDR pictures must differ in it."""
    length_size = _length_size(track)
    if length_size is None or not len(track):
        return 0
    last = len(track) - 1
    for unit in nal_units(read(track.offsets[last], track.sizes[last]), length_size):
        if unit[0] & 0x1F == NAL_IDR:
            return (slice_prefix(unit, _parameter_sets(track))["idr_pic_id"] + 1) % 65536
    return 0


def is_recovery_point(read: Reader, video: Track, index: int) -> bool:
    """Whether sample `index` of `video` (read with `read`) is an H.264 picture that is not an
    IDR picture: a keyframe that makes `recover` necessary."""
    length_size = _length_size(video)
    if length_size is None:
        return False
    kinds = _types(nal_units(read(video.offsets[index], video.sizes[index]), length_size))
    return NAL_SLICE in kinds and NAL_IDR not in kinds


def recover(read: Reader, video: Track, copied: range, idr_pic_id: int) -> Recovery:
    """How to copy the samples `copied` (decode order) of `video` from their first, a recovery
    point (see `is_recovery_point`); the keyframe becomes an IDR picture with `idr_pic_id`."""
    length_size = _length_size(video)
    if length_size is None:
        raise BitstreamError("not H.264 with an avcC sample entry")
    first = copied.start
    key_units = nal_units(read(video.offsets[first], video.sizes[first]), length_size)
    if _types(key_units) & set(_PARAMETER_SETS):
        raise BitstreamError("parameter sets inside the stream")
    sets = _parameter_sets(video)
    headers = [_slice_of(unit, sets) for unit in key_units]
    key_slices = [header for header in headers if header is not None]
    if any(h.kind != SLICE_I or not h.ref_idc for h in key_slices):
        raise BitstreamError("a keyframe that is not an I picture used for reference")
    try:
        leading = leading_pictures(video, first, copied.stop)
    except Mp4LayoutError as exc:
        raise BitstreamError(str(exc)) from exc
    recovery = Recovery(leading, video.dts[first + leading])
    numbers = _Numbering(key_slices[0])
    recovery.replaced[first] = join_nal_units(
        [
            unit
            if header is None
            else rebuild_slice(unit, header, 0, numbers.lsb(header), idr_pic_id=idr_pic_id)
            for unit, header in zip(key_units, headers, strict=True)
        ],
        length_size,
    )
    index = _rebuild_window(read, video, copied, recovery, numbers, sets, length_size)
    if index is not None:
        _patch_rest(read, video, range(index, copied.stop), recovery, numbers, sets, length_size)
    return recovery


def _slice_of(unit: bytes, sets: ParameterSets) -> SliceHeader | None:
    return parse_slice_header(unit, sets) if unit[0] & 0x1F == NAL_SLICE else None


class _Numbering:
    """Frame numbers counted from the keyframe (0) without left-out reference pictures, and
    what the source's decoder may still hold from before the keyframe."""

    def __init__(self, key: SliceHeader) -> None:
        sps = key.sps
        self.max_frame_num = 1 << sps.log2_max_frame_num
        self.max_lsb = 1 << sps.log2_max_poc_lsb
        self.key_lsb = key.poc_lsb or 0
        self.max_refs = max(1, sps.max_num_ref_frames)
        self.key_frame_num = self.previous = key.frame_num  # previous: the last picture's
        self.number = 0  # the previous picture's number (unwrapped, the keyframe's 0)
        self.left_out: list[int] = []  # numbers of left-out reference pictures
        self.earlier = self.max_refs - 1  # at most this many from before the keyframe held
        self.held = [0]  # numbers of the source decoder's short-term references since then

    @property
    def settled(self) -> bool:
        """Whether the source's decoder holds no picture this copy lacks or counts differently."""
        return not self.earlier and (not self.left_out or min(self.held) > max(self.left_out))

    @property
    def frame_num_shift(self) -> int:
        """What to subtract from frame_num once no left-out picture is held."""
        return self.key_frame_num + len(self.left_out)

    def advance(self, header: SliceHeader) -> int:
        """The number of the picture `header` starts (pictures come in decode order)."""
        step = (header.frame_num - self.previous) % self.max_frame_num
        if step > 1:
            raise BitstreamError("a gap in frame_num")
        self.previous = header.frame_num
        self.number += step
        return self.number

    def new(self, number: int) -> int:
        return number - sum(1 for left in self.left_out if left < number)

    def lsb(self, header: SliceHeader) -> int | None:
        if header.poc_lsb is None:
            return None
        return (header.poc_lsb - self.key_lsb) % self.max_lsb

    def mark(self, header: SliceHeader, number: int) -> None:
        """Follow the source decoder's reference marking through this picture."""
        if not header.ref_idc:
            return
        if header.adaptive_marking:
            for difference in header.unmark:
                target = number - difference - 1
                if target < 0:
                    self.earlier = max(0, self.earlier - 1)
                elif target in self.held:
                    self.held.remove(target)
        elif self.earlier + len(self.held) >= self.max_refs:
            if self.earlier:
                self.earlier -= 1
            else:
                self.held.pop(0)
        self.held.append(number)

    def unmark(self, header: SliceHeader, number: int) -> tuple[int, ...]:
        """The picture's unmarking operations without those naming pictures this copy lacks."""
        kept = []
        for difference in header.unmark:
            target = number - difference - 1
            if target >= 0 and target not in self.left_out:
                kept.append(self.new(number) - self.new(target) - 1)
        return tuple(kept)

    def modifications(self, header: SliceHeader, number: int) -> tuple[Modifications | None, ...]:
        """The picture's reference list modifications, counted without left-out pictures."""
        size, current, renumbered = self.max_frame_num, header.frame_num, self.new(number)
        lists: list[Modifications | None] = []
        for operations in header.modifications:
            if operations is None:
                lists.append(None)
                continue
            predicted, new_predicted, changed = current, renumbered % size, []
            for idc, value in operations:
                predicted = (predicted + (value + 1 if idc else -value - 1)) % size
                pic_num = predicted - size if predicted > current else predicted
                target = number - (current - pic_num)
                if target < 0 or target in self.left_out:
                    raise BitstreamError("a picture after the keyframe refers to one before it")
                wrapped = self.new(target) % size
                changed.append((0, (new_predicted - wrapped - 1) % size))
                new_predicted = wrapped
            lists.append(tuple(changed))
        return tuple(lists)


def _rebuild_window(
    read: Reader,
    video: Track,
    copied: range,
    recovery: Recovery,
    numbers: _Numbering,
    sets: ParameterSets,
    length_size: int,
) -> int | None:
    """Rebuild the pictures after the keyframe until the copy stands on its own; the sample
    from which patching the numbers is enough, or None when an IDR picture ends the work."""
    first, leading = copied.start, recovery.leading
    for index in range(first + 1, copied.stop):
        if index > first + leading and numbers.settled:
            return index
        if index - first > WINDOW_LIMIT:
            raise BitstreamError("pictures from before the keyframe stay referenced")
        units = nal_units(read(video.offsets[index], video.sizes[index]), length_size)
        kinds = _types(units)
        if NAL_IDR in kinds:
            return None
        if kinds & set(_PARAMETER_SETS):
            raise BitstreamError("parameter sets inside the stream")
        headers = [_slice_of(unit, sets) for unit in units]
        picture = next((h for h in headers if h is not None), None)
        if picture is None:
            raise BitstreamError("a sample without a slice")
        number = numbers.advance(picture)
        if index <= first + leading:
            if picture.ref_idc:
                numbers.left_out.append(number)
        else:
            frame_num = numbers.new(number) % numbers.max_frame_num
            rebuilt = [
                rebuild_slice(
                    unit,
                    header,
                    frame_num,
                    numbers.lsb(header),
                    modifications=numbers.modifications(header, number),
                    unmark=numbers.unmark(header, number),
                )
                if header is not None
                else unit
                for unit, header in zip(units, headers, strict=True)
            ]
            recovery.replaced[index] = join_nal_units(rebuilt, length_size)
            recovery.renumbered += 1
        numbers.mark(picture, number)
    return None


def _patch_rest(
    read: Reader,
    video: Track,
    samples: range,
    recovery: Recovery,
    numbers: _Numbering,
    sets: ParameterSets,
    length_size: int,
) -> None:
    """Renumber every slice of `samples` up to the next IDR picture: in place where the new
    numbers take as many bytes as the old, else by rebuilding the sample."""
    shift = numbers.frame_num_shift
    for index in samples:
        offset, size = video.offsets[index], video.sizes[index]
        start = read(offset, min(size, length_size + PREFIX))
        patches: list[tuple[int, int, bytes]] = []
        position = 0
        while position < size:
            unit_at = position + length_size
            if len(start) < min(size, unit_at + PREFIX):
                start = read(offset, min(size, unit_at + PREFIX))
            length = int.from_bytes(start[position:unit_at], "big")
            if not length or unit_at + length > size:
                raise BitstreamError("a NAL unit runs past the end of its sample")
            kind = start[unit_at] & 0x1F
            if kind == NAL_IDR:
                return
            if kind in _PARAMETER_SETS:
                raise BitstreamError("parameter sets inside the stream")
            if kind == NAL_SLICE:
                prefix = start[unit_at : unit_at + min(length, PREFIX)]
                patched = _patched_prefix(prefix, sets, shift, numbers)
                if patched is None:
                    sample = read(offset, size)
                    recovery.replaced[index] = _rebuilt(sample, sets, shift, numbers, length_size)
                    patches = []
                    break
                if patched != prefix[1 : 1 + len(patched)]:
                    patches.append((index, unit_at + 1, patched))
            position = unit_at + length
        recovery.patches.extend(patches)
        recovery.renumbered += 1


def _put(value: int, size: int, at: int, width: int, field_value: int) -> int:
    shift = size - at - width
    return value & ~(((1 << width) - 1) << shift) | (field_value << shift)


def _patched_prefix(
    prefix: bytes, sets: ParameterSets, shift: int, numbers: _Numbering
) -> bytes | None:
    """The escaped bytes from a slice's second byte with frame_num and pic_order_cnt_lsb
    renumbered, as long as the old ones; None when they would not be."""
    rbsp = unescape(prefix[1:])
    bits = BitReader(rbsp)
    try:
        fields = slice_prefix(prefix, sets, bits)
    except BitstreamError:
        return None
    sps = sets.sps[fields["sps"]]
    value, size = bits.value, bits.size
    frame_num = (fields["frame_num"] - shift) % numbers.max_frame_num
    value = _put(value, size, fields["frame_num_at"], sps.log2_max_frame_num, frame_num)
    changed_end = fields["frame_num_at"] + sps.log2_max_frame_num
    if "poc_lsb" in fields:
        lsb = (fields["poc_lsb"] - numbers.key_lsb) % numbers.max_lsb
        value = _put(value, size, fields["poc_lsb_at"], sps.log2_max_poc_lsb, lsb)
        changed_end = fields["poc_lsb_at"] + sps.log2_max_poc_lsb
    renumbered = value.to_bytes(len(rbsp), "big")
    # Up to an unchanged non-zero byte, after which the escaping goes on as before.
    end = next((i for i in range((changed_end + 7) // 8, len(rbsp)) if rbsp[i]), None)
    if end is None:
        return None
    old, new = rbsp[: end + 1], renumbered[: end + 1]
    if b"\x00" in old or b"\x00" in new:  # else neither holds an emulation-prevention byte
        old, new = escape(old), escape(new)
        if len(old) != len(new) or not prefix[1:].startswith(old):
            return None
    return new


def _rebuilt(
    sample: bytes, sets: ParameterSets, shift: int, numbers: _Numbering, length_size: int
) -> bytes:
    units = []
    for unit in nal_units(sample, length_size):
        header = _slice_of(unit, sets)
        if header is not None:
            frame_num = (header.frame_num - shift) % numbers.max_frame_num
            unit = rebuild_slice(unit, header, frame_num, numbers.lsb(header))
        units.append(unit)
    return join_nal_units(units, length_size)
