"""Resumable, verified downloads of Zoom recording files, and the MP4 checks around them.

`download_file` streams one URL into `<dest>.part` with bounded memory, resumes from the bytes
already there with `Range`, retries cuts, 5xx and 429 with backoff and checks the final size
exactly (Zoom's, or for a file Zoom lists without one, the server's own); the caller then
verifies (`verify_mp4`, `verify_vtt`), joins segments (`join_segments`) and renames. An error
of the local disk is a `LocalFileError`. URLs in logs and errors never carry their query
string, and tokens never appear at all.
"""

from __future__ import annotations

import contextlib
import errno
import io
import logging
import os
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import httpx

from integrations.captions import parse_vtt
from integrations.disk import DiskError, disk_error, free_space, mb
from integrations.errors import IntegrationError
from integrations.http.redact import install_log_redaction, redact_text
from integrations.http.retry import RetryPolicy
from integrations.http.timeouts import http_timeout
from integrations.wide_reads import WideReadTransport

if TYPE_CHECKING:  # PyAV and FFmpeg load when a file is checked, not with the downloader
    from integrations.media.probe import MediaInfo

log = logging.getLogger(__name__)
install_log_redaction()


CHUNK_SIZE = 1024 * 1024  # also each socket read's size (integrations/wide_reads.py)
MIB = 1024 * 1024
Progress = Callable[[int, int], None]
"""`progress(done, total)`: bytes so far and the file's size (0 while it is not known)."""
TokenSource = Callable[[bool], str]
"""Returns an access token; called with True after a 401 to get a fresh one."""


class DownloadError(IntegrationError):
    """Base of download errors; `retryable` tells whether a later run may succeed."""


class DownloadInterruptedError(DownloadError):
    """Connection errors, 5xx or 429 on every attempt; the `.part` file is kept to resume."""

    retryable = True


class DownloadHTTPError(DownloadError):
    """An HTTP answer that retrying in this call will not fix (403, 404, ...)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message, retryable=status == 429 or status >= 500)
        self.status = status


class DownloadAuthError(DownloadError):
    """The download URL refused the access token, a fresh one included."""

    retryable = True


class SizeMismatchError(DownloadError):
    """The server sent a different number of bytes than Zoom's `file_size` (or than it first
    announced itself, for a file Zoom lists without a size)."""


class InsufficientDiskSpaceError(DownloadError, DiskError):
    """Not enough free space for the rest of the file plus the configured reserve (and what
    the other downloads in flight will still write there)."""

    def __init__(self, message: str, *, path: Path, needed: int, free: int) -> None:
        DiskError.__init__(self, message, path=path, errno=errno.ENOSPC, needed=needed, free=free)


class InvalidMediaError(DownloadError):
    """The file does not parse as what it should be: an MP4 with at least one video or audio
    stream, or a WebVTT document."""


class LocalFileError(DownloadError, DiskError):
    """The local disk refused a downloaded file: full, read-only, a path that is not a folder.
    The message names the file and the cause."""

    def __init__(self, message: str, *, path: Path, errno: int | None) -> None:
        DiskError.__init__(self, message, path=path, errno=errno)


@contextmanager
def local_file_errors(label: str) -> Iterator[None]:
    """Turn an `OSError` of the local file system into a `LocalFileError` naming the file and
    the cause (`label`: the recording it belongs to); network errors (`ConnectionError`,
    `TimeoutError`, both `OSError`s) pass unchanged."""
    try:
        yield
    except (ConnectionError, TimeoutError):
        raise
    except OSError as exc:
        described = disk_error(exc, verb="write")
        raise LocalFileError(f"{label}: {described}", path=described.path, errno=exc.errno) from exc


class JoinError(DownloadError):
    """FFmpeg could not join the segments losslessly, or the result does not check out."""


@dataclass(frozen=True)
class DownloadResult:
    """What `download_file` did: the complete `.part` file and how it got there."""

    part_path: Path
    size: int
    resumed_from: int
    restarts: int
    attempts: int


def part_path(dest: Path) -> Path:
    """Where `download_file` writes `dest` while it is incomplete."""
    return dest.with_name(dest.name + ".part")


class SpaceLedger:
    """The bytes the downloads in flight in this process will still write, per filesystem.

    A download starts only when its own rest, what the others in flight on the same disk will
    still write, and the reserve (MIN_FREE_DISK_MB) all fit in the free space: concurrent
    downloads never each count the same free bytes as theirs.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._claims: dict[object, tuple[int, Callable[[], int]]] = {}

    @contextmanager
    def reserve(
        self, folder: Path, remaining: Callable[[], int], reserve_mb: float, name: str
    ) -> Iterator[None]:
        """Hold `remaining()` bytes (asked again whenever another download checks: it shrinks
        as the file grows) in `folder`'s filesystem while the block runs; raise
        `InsufficientDiskSpaceError` up front when they do not fit."""
        device = _existing(folder).stat().st_dev
        token = object()
        with self._lock:
            others = [rest() for dev, rest in self._claims.values() if dev == device]
            needed = max(remaining(), 0)
            in_flight = sum(max(rest, 0) for rest in others)
            reserve = int(reserve_mb * MIB)
            free = free_space(folder)
            if free < needed + in_flight + reserve:
                parts = [f"{mb(needed)} to download"]
                if in_flight:
                    parts.append(f"{mb(in_flight)} for {len(others)} download(s) in flight")
                if reserve:
                    parts.append(f"the {reserve_mb:g} MB reserve (MIN_FREE_DISK_MB)")
                raise InsufficientDiskSpaceError(
                    f"not enough free space in {Path(folder).absolute()} for {name}: "
                    f"{' plus '.join(parts)} needed, {mb(free)} free",
                    path=Path(folder),
                    needed=needed + in_flight + reserve,
                    free=free,
                )
            self._claims[token] = (device, remaining)
        try:
            yield
        finally:
            with self._lock:
                del self._claims[token]


def _existing(folder: Path) -> Path:
    """`folder`, or its nearest parent that exists (a folder not made yet)."""
    folder = Path(folder).absolute()
    return next((p for p in (folder, *folder.parents) if p.exists()), Path(os.sep))


SPACE = SpaceLedger()
"""The ledger of this process's downloads."""


def download_file(
    url: str,
    dest: Path,
    expected_size: int | None,
    *,
    token: str | TokenSource | None = None,
    client: httpx.Client | None = None,
    progress: Progress | None = None,
    retry: RetryPolicy | None = None,
    chunk_size: int = CHUNK_SIZE,
    min_free_mb: float | None = None,
    timeout: float | None = None,
    fsync: bool = True,
    label: str | None = None,
    space_reserved: bool = False,
) -> DownloadResult:
    """Download `url` into `part_path(dest)` and return once it holds exactly `expected_size`
    bytes. The caller verifies and renames it.

    `expected_size` None: Zoom lists no size (its `CC` and `TIMELINE` files). The size is then
    the server's own, from the first answer's `Content-Length` or `Content-Range` total, and
    every later answer must agree with it; with neither header the file ends where the
    response ends (httpx raises on a chunked body cut short, not on a close-delimited one).

    `token` is sent as a Bearer header (a callable is asked again with `True` after a 401);
    redirects are followed. An existing `.part` is resumed with `Range: bytes=N-`; a server
    answering 200 instead of 206 restarts the file from zero. `progress(done, total)` is called
    at the start, about every `chunk_size` bytes, and at the end.

    The rest of the file is reserved in `SPACE` while it downloads (unless `space_reserved`:
    the caller holds a reservation that covers it).
    """
    if retry is None or min_free_mb is None:
        from config.settings import get_settings

        retry = retry or RetryPolicy.from_settings()
        min_free_mb = get_settings().min_free_disk_mb if min_free_mb is None else min_free_mb
    label = label or dest.name
    with local_file_errors(label):
        job = _Download(url, dest, expected_size, token, progress, retry, chunk_size, fsync, label)
        job.part.parent.mkdir(parents=True, exist_ok=True)
        if expected_size is not None and job.have > expected_size:
            log.warning("%s: .part is larger than the file (%d bytes); restarting", label, job.have)
            job.truncate()
        reserved = (
            contextlib.nullcontext()
            if space_reserved
            else SPACE.reserve(job.part.parent, job.rest, min_free_mb, label)
        )
        with reserved:
            if client is None:
                wide = WideReadTransport(CHUNK_SIZE)
                timeout = http_timeout(timeout)
                with httpx.Client(transport=wide, timeout=timeout, follow_redirects=True) as own:
                    return job.run(own)
            return job.run(client)


class _Download:
    """The state of one `download_file` call."""

    def __init__(
        self,
        url: str,
        dest: Path,
        expected: int | None,
        token: str | TokenSource | None,
        progress: Progress | None,
        retry: RetryPolicy,
        chunk_size: int,
        fsync: bool,
        label: str,
    ) -> None:
        self.url = url
        self.part = part_path(dest)
        self.expected = expected
        self.size_source = "Zoom lists" if expected is not None else "the server announced"
        self.token = token
        self.progress = progress
        self.retry = retry
        self.chunk_size = chunk_size
        self.fsync = fsync
        self.label = label
        self.have = self.part.stat().st_size if self.part.exists() else 0
        self.resumed_from = self.have
        self.restarts = 0
        self.attempts = 0

    def __repr__(self) -> str:
        return f"_Download({self.label!r}, {self.position})"

    def rest(self) -> int:
        """Bytes still to write (0 while the size is not known)."""
        return 0 if self.expected is None else self.expected - self.have

    @property
    def position(self) -> str:
        return f"{self.have}/{self.expected if self.expected is not None else '?'}"

    def truncate(self) -> None:
        with self.part.open("wb"):
            pass
        self.have = 0

    def report(self) -> None:
        if self.progress is not None:
            self.progress(self.have, self.expected or 0)

    def result(self) -> DownloadResult:
        return DownloadResult(self.part, self.have, self.resumed_from, self.restarts, self.attempts)

    def _bearer(self, refresh: bool) -> str | None:
        if self.token is None:
            return None
        if isinstance(self.token, str):
            return self.token
        return self.token(refresh)

    def run(self, client: httpx.Client) -> DownloadResult:
        self.report()
        if self.have == self.expected and self.part.exists():
            log.info("%s: already complete in .part (%d bytes)", self.label, self.have)
            return self.result()
        failures = 0
        refreshed = False
        bearer = self._bearer(False)
        while True:
            self.attempts += 1
            before = self.have
            headers = {"Accept-Encoding": "identity"}
            if bearer:
                headers["Authorization"] = f"Bearer {bearer}"
            if self.have:
                headers["Range"] = f"bytes={self.have}-"
            try:
                with client.stream("GET", self.url, headers=headers, follow_redirects=True) as r:
                    outcome = self._handle(r)
            except httpx.TransportError as exc:
                outcome = f"{type(exc).__name__}: {redact_text(str(exc))}"
            if outcome is None:
                return self._finish()
            if outcome == "auth":
                if refreshed or not callable(self.token):
                    raise DownloadAuthError(
                        f"{self.label}: the download URL refused the access token"
                        + (" (a fresh one too)" if refreshed else "")
                    )
                refreshed = True
                bearer = self._bearer(True)
                continue
            if outcome == "restart":
                continue
            retry_after = None
            if isinstance(outcome, tuple):
                outcome, retry_after = outcome
            failures = 1 if self.have > before else failures + 1
            if self.retry.exhausted(failures):
                raise DownloadInterruptedError(
                    f"{self.label}: download failed {failures} times in a row at "
                    f"{self.position} bytes (last: {outcome}); the .part file is "
                    "kept and the next attempt resumes from it"
                )
            delay = self.retry.wait(failures, retry_after)
            log.warning(
                "%s: %s at %s bytes; retrying in %.1f s", self.label, outcome, self.position, delay
            )

    def _handle(self, response: httpx.Response) -> str | tuple[str, float | None] | None:
        """Consume one response. None: complete; "auth"/"restart": act and retry;
        another string (or with a Retry-After): a retryable failure."""
        status = response.status_code
        if status in (401, 403) and response.url.path == httpx.URL(self.url).path:
            return "auth"
        if status == 429 or status >= 500:
            return f"HTTP {status}", self.retry.retry_after(response.headers.get("Retry-After"))
        if status == 416 and self.have:
            log.warning("%s: server refused Range from %d (416); restarting", self.label, self.have)
            self._restart()
            return "restart"
        if status == 206:
            start, total = _content_range(response.headers.get("Content-Range", ""))
            if total is not None and self.expected is None:
                self.expected = total
            elif total is not None and total != self.expected:
                self._mismatch(f"the server reports {total} bytes")
            if start != self.have:
                log.warning("%s: 206 from %s, not %d; restarting", self.label, start, self.have)
                self._restart()
                return "restart"
        elif status == 200:
            if self.have:
                log.warning("%s: server ignored Range (200); restarting from zero", self.label)
                self._restart()
        else:
            raise DownloadHTTPError(
                f"{self.label}: download answered HTTP {status} "
                f"{response.reason_phrase or ''}".rstrip(),
                status,
            )
        length = response.headers.get("Content-Length")
        if length is not None and self.expected is None:
            self.expected = self.have + int(length)
        elif (
            length is not None
            and self.expected is not None
            and (int(length) != self.expected - self.have)
        ):
            self._mismatch(
                f"the server sends {int(length) + self.have} bytes"
                if status == 200
                else f"the server sends {length} bytes from offset {self.have}"
            )
        return self._write(response)

    def _restart(self) -> None:
        self.truncate()
        self.restarts += 1
        self.report()

    def _mismatch(self, what: str) -> None:
        self.truncate()
        raise SizeMismatchError(
            f"{self.label}: size mismatch: {self.size_source} {self.expected} bytes but {what}"
        )

    def _write(self, response: httpx.Response) -> str | None:
        encoded = response.headers.get("Content-Encoding", "identity").lower() != "identity"
        pieces = response.iter_bytes() if encoded else response.iter_raw()
        mode: Literal["ab", "wb"] = "ab" if self.have else "wb"
        next_report = self.have + self.chunk_size
        # Unbuffered: each received piece (up to `chunk_size`) goes straight to the file.
        with self.part.open(mode, buffering=0) as out:
            try:
                for piece in pieces:
                    if self.expected is not None and self.have + len(piece) > self.expected:
                        out.close()
                        self._mismatch("the server sent more")
                    _write_all(out, piece)
                    self.have += len(piece)
                    if self.have >= next_report:
                        self.report()
                        next_report = self.have + self.chunk_size
                if self.expected is None:  # no size announced: the response's own end is the end
                    self.expected = self.have
            finally:
                if self.fsync and self.have == self.expected:
                    os.fsync(out.fileno())
        if self.have < self.expected:
            return f"response ended early at {self.have} bytes"
        return None

    def _finish(self) -> DownloadResult:
        on_disk = self.part.stat().st_size
        if on_disk != self.expected:
            self._mismatch(f"{on_disk} bytes are on disk")
        self.report()
        log.info(
            "%s: downloaded %d bytes (resumed from %d, %d attempts)",
            self.label,
            on_disk,
            self.resumed_from,
            self.attempts,
        )
        return self.result()


def _write_all(out: io.RawIOBase, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = out.write(view)
        if not written:
            raise OSError("the file accepted no bytes")
        view = view[written:]


def _content_range(value: str) -> tuple[int | None, int | None]:
    match = re.fullmatch(r"\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*", value)
    if not match:
        return None, None
    total = None if match[3] == "*" else int(match[3])
    return int(match[1]), total


# -- media checks ---------------------------------------------------------------------------


def verify_mp4(path: Path) -> MediaInfo:
    """Read `path`'s container header (`read_info`) and check it is an MP4/MOV with a duration
    and a video or audio stream.

    Reads the container index only (cheap even for large files); the exact size check of
    `download_file` covers truncation of the media data.
    """
    from integrations.media.errors import MediaProbeError
    from integrations.media.probe import read_info

    try:
        info = read_info(path)
    except MediaProbeError as exc:
        cause = exc.__cause__ or exc
        raise InvalidMediaError(f"{path.name} is not a readable MP4 file ({cause})") from None
    if "mp4" not in info.format_name and "mov" not in info.format_name:
        raise InvalidMediaError(f"{path.name} is {info.format_name}, not MP4")
    if info.video is None and info.audio is None:
        raise InvalidMediaError(f"{path.name} has no video or audio stream")
    if info.duration <= 0:
        raise InvalidMediaError(f"{path.name} has no duration")
    return info


def verify_vtt(path: Path) -> int:
    """Check `path` is a WebVTT document (UTF-8, the `WEBVTT` header, well-formed cues) and
    return its number of cues. For captions Zoom lists without a size, the only content check."""
    try:
        cues = parse_vtt(path.read_text(encoding="utf-8-sig"), source=path.name)
    except ValueError as exc:  # CaptionFormatError, UnicodeDecodeError
        raise InvalidMediaError(f"{path.name} is not a WebVTT file ({exc})") from None
    return len(cues)


def join_segments(segments: Sequence[Path], dest: Path, *, timeout: float = 3600.0) -> MediaInfo:
    """Join MP4 segments losslessly (concat demuxer, stream copy) into `dest`.

    FFmpeg writes a temporary file next to `dest`, which replaces `dest` only when FFmpeg
    succeeded and the result parses with the summed duration. One segment is just renamed. The
    disk refusing the output (full, read-only) is a `LocalFileError`, as for the download.
    """
    if not segments:
        raise JoinError(f"no segments to join into {dest.name}")
    infos = [verify_mp4(p) for p in segments]
    if len(segments) == 1:
        segments[0].replace(dest)
        return infos[0]
    from integrations.media.errors import FFmpegError, FFmpegTimeoutError, MediaOutputError
    from integrations.media.ffmpeg import run_ffmpeg
    from integrations.media.output import atomic_output, output_errors

    try:
        with output_errors(dest), atomic_output(dest) as tmp:
            listing = tmp.with_suffix(".txt")
            try:
                lines = [
                    "file '" + str(p.resolve()).replace("'", "'\\''") + "'\n" for p in segments
                ]
                listing.write_text("ffconcat version 1.0\n" + "".join(lines), encoding="utf-8")
                run_ffmpeg(
                    ["-y", "-f", "concat", "-safe", "0", "-i", str(listing),
                     "-map", "0", "-c", "copy", "-f", "mp4", str(tmp)],
                    timeout=timeout,
                )  # fmt: skip
            finally:
                listing.unlink(missing_ok=True)
            info = verify_mp4(tmp)
            expected = sum(i.duration for i in infos)
            if abs(info.duration - expected) > max(1.0, 0.01 * expected):
                raise JoinError(
                    f"joined {dest.name} lasts {info.duration:.2f} s, the segments {expected:.2f} s"
                )
    except MediaOutputError as exc:
        raise LocalFileError(str(exc), path=exc.path, errno=exc.errno) from exc
    except FFmpegTimeoutError:
        raise JoinError(f"joining into {dest.name} took over {timeout:.0f} s") from None
    except FFmpegError as exc:
        detail = exc.stderr.strip().splitlines()[-1:] or ["no message"]
        raise JoinError(f"FFmpeg could not join into {dest.name}: {detail[0]}") from exc
    return info


class RemoteFile(Protocol):
    """What `download_recording` needs of a file (`ZoomFile` fits)."""

    @property
    def download_url(self) -> str: ...

    @property
    def file_size(self) -> int | None: ...


def segment_path(dest: Path, index: int) -> Path:
    """Where segment `index` of a multi-segment recording is kept until the join."""
    return dest.with_name(f"{dest.stem}.seg{index}{dest.suffix}")


def download_recording(
    files: Sequence[RemoteFile],
    dest: Path,
    *,
    token: str | TokenSource | None = None,
    progress: Progress | None = None,
    min_free_mb: float | None = None,
    label: str | None = None,
    **options: Any,
) -> MediaInfo:
    """Download every segment of one recording, verify each, join them losslessly into `dest`.

    One segment is downloaded as `dest.part`, checked and renamed to `dest`. Several are
    downloaded to `dest.segN.mp4(.part)`, each resumable and skipped once complete, then joined.
    `progress(done, total)` counts bytes over all segments (a segment Zoom lists without a
    size adds nothing to `total`). `options` go to `download_file`.
    """
    if not files:
        raise DownloadError(f"{dest.name}: no MP4 file to download")
    if min_free_mb is None:
        from config.settings import get_settings

        min_free_mb = get_settings().min_free_disk_mb
    total = sum(f.file_size or 0 for f in files)
    targets = [dest] if len(files) == 1 else [segment_path(dest, n) for n in range(len(files))]
    name = label or dest.name
    # Bytes of the recording on disk (complete segments, `.part` files), kept up by progress.
    on_disk = [sum(_bytes_on_disk(target) for target in targets)]
    join = total if len(targets) > 1 else 0  # the joined copy, beside the segments until done

    def remaining() -> int:
        return total - on_disk[0] + join

    def report(done: int, _total: int) -> None:
        on_disk[0] = done
        if progress is not None:
            progress(done, total)

    with local_file_errors(name):
        dest.parent.mkdir(parents=True, exist_ok=True)
    with SPACE.reserve(dest.parent, remaining, min_free_mb, name):
        _download_segments(files, targets, name, report, token=token, **options)
        if len(targets) == 1:
            return verify_mp4(dest)
        with local_file_errors(name):
            info = join_segments(targets, dest)
            for target in targets:
                target.unlink(missing_ok=True)
    return info


def _bytes_on_disk(target: Path) -> int:
    for path in (target, part_path(target)):
        if path.is_file():
            return path.stat().st_size
    return 0


def _download_segments(
    files: Sequence[RemoteFile],
    targets: Sequence[Path],
    name: str,
    progress: Progress,
    **options: Any,
) -> None:
    """Each file to its target (`.part`, verified, renamed), skipping complete segments;
    `progress(done, total)` counts over all of them. The caller reserved the space."""
    done_before = 0
    for n, (target, remote) in enumerate(zip(targets, files, strict=True)):
        if len(targets) > 1 and target.exists() and target.stat().st_size == remote.file_size:
            done_before += remote.file_size
            continue
        offset = done_before

        def report(done: int, total: int, offset: int = offset) -> None:
            progress(offset + done, total)

        result = download_file(
            remote.download_url,
            target,
            remote.file_size,
            progress=report,
            label=name if len(targets) == 1 else f"{name} (segment {n + 1}/{len(targets)})",
            space_reserved=True,
            **options,
        )
        try:
            verify_mp4(result.part_path)
        except InvalidMediaError:
            result.part_path.unlink(missing_ok=True)  # complete but broken: start over next time
            raise
        with local_file_errors(name):
            result.part_path.replace(target)
        done_before += result.size
