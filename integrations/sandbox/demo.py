"""The sandbox world of `zoom-publisher demo`: generated lectures served by the three emulators.

    with DemoWorld(Path("demo")) as world:
        world.save_credentials()                  # Prefect blocks pointing at the emulators
        config = world.write_app_config()         # demo/app_config.json (or use app_config())
        os.environ.update(world.environment(), APP_CONFIG=str(config))
        ...                                       # run the pipeline
        world.describe()                          # what Zoom holds and what should become of it

Lectures are made with FFmpeg in two cheap steps: one "slide + speaker" video per scene
(libx264 High with B-frames, 640x360, 25 fps, a keyframe every 2 s), encoded once, then per
recording a stream copy of its first N seconds muxed with a freshly generated AAC track (a
voice-like modulated tone between a silent head and a silent tail). Both steps are cached in a
folder by a hash of what they are made from, so a second demo starts at once.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from integrations.media.ffmpeg import ffmpeg_binary
from integrations.sandbox.server import LoopbackServer
from integrations.sandbox.vk import VkEmulator
from integrations.sandbox.youtube import YouTubeEmulator
from integrations.sandbox.zoom import FileSpec, SandboxAccount, SandboxMeeting, ZoomEmulator

GENERATOR_VERSION = 2  # bump when the commands below change: cached files are then remade
WIDTH, HEIGHT, FPS, GOP = 640, 360, 25, 50
MAX_SECONDS = 120  # the longest lecture allowed, and the progress bar's full length
SAMPLE_RATE = 32_000
FFMPEG_TIMEOUT = 300

# Demo filters (the settings the pipeline reads): generated lectures last 38-60 s and weigh
# 0.6-1 MB (the one too short for the filters 20 s, 0.35 MB), so Zoom reports 45-90 minutes for
# them and the size floor is lowered to 0.5 MB.
DEMO_MIN_DURATION_MIN = 30
DEMO_MIN_SIZE_MB = 0.5
DEMO_SYNC_DAYS = 14
DEMO_VK_GROUP = 229_000_001

# Slide colours per scene: background, title bar, text lines, progress bar.
SCENES: dict[str, tuple[str, str, str, str]] = {
    "physics": ("0x1d3557", "0xf1faee", "0xa8dadc", "0xe63946"),
    "compsci": ("0x283618", "0xfefae0", "0xdda15e", "0xbc6c25"),
    "seminar": ("0x3c096c", "0xf8f9fa", "0xc77dff", "0xffd60a"),
}


class DemoError(RuntimeError):
    """The demo world could not be built (FFmpeg failed, a bad plan)."""


# ---- media ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LectureSpec:
    """One generated recording. Times are seconds; keep `seconds` a multiple of 2 (the GOP) so
    the stream copy ends cleanly at a keyframe."""

    seconds: float
    silent_head: float = 10.0
    silent_tail: float = 8.0
    scene: str = "physics"
    tone_hz: float = 220.0
    silent: bool = False  # no sound at all: digital silence from start to end

    def __post_init__(self) -> None:
        if not 0 < self.seconds <= MAX_SECONDS:
            raise DemoError(f"a lecture lasts 0-{MAX_SECONDS} s, not {self.seconds:g} s")
        if self.scene not in SCENES:
            raise DemoError(f"unknown scene {self.scene!r}; one of {', '.join(SCENES)}")
        if not self.silent and self.silent_head + self.silent_tail >= self.seconds:
            raise DemoError("the silent head and tail leave no sound")

    @property
    def file_name(self) -> str:
        kind = "silent" if self.silent else f"{self.silent_head:g}-{self.silent_tail:g}"
        return f"lecture-{self.scene}-{self.seconds:g}s-{kind}-{_digest(asdict(self))}.mp4"


@dataclass
class GenerationReport:
    """What `generate_lectures` did: the file per spec, how many were made or reused, time."""

    paths: dict[LectureSpec, Path]
    generated: int
    reused: int
    seconds: float


def _digest(data: Any) -> str:
    text = json.dumps(
        {"v": GENERATOR_VERSION, "size": [WIDTH, HEIGHT, FPS, GOP], "data": data}, sort_keys=True
    )
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def base_video_name(scene: str, seconds: int) -> str:
    return f"scene-{scene}-{seconds}s-{_digest(scene)}.mp4"


def _base_length(seconds: float) -> int:
    """A scene video long enough for `seconds`, in whole GOPs (2 s)."""
    gop_seconds = GOP // FPS
    return int(-(-seconds // gop_seconds) * gop_seconds)


def _existing_base(scene: str, seconds: float, folder: Path) -> Path | None:
    """The shortest cached video of `scene` that lasts at least `seconds`."""
    found: list[tuple[int, Path]] = []
    for path in folder.glob(f"scene-{scene}-*s-{_digest(scene)}.mp4"):
        length = path.name.removeprefix(f"scene-{scene}-").split("s-", 1)[0]
        if length.isdigit() and int(length) >= seconds:
            found.append((int(length), path))
    return min(found)[1] if found else None


def _video_graph(scene: str, seconds: int) -> str:
    """A lecture slide (title bar, text lines, a progress bar) with a moving speaker inset.

    The picture at time t does not depend on `seconds`, so a lecture cut from a longer scene
    video looks the same as one cut from a shorter one."""
    bg, title, text, bar = SCENES[scene]
    lines = "".join(
        f"drawbox=x=40:y={110 + 30 * n}:w={width}:h=14:c={text}:t=fill,"
        for n, width in enumerate((380, 420, 300, 350))
    )
    return (
        f"color=c={bg}:size={WIDTH}x{HEIGHT}:rate={FPS}:duration={seconds},format=yuv420p,"
        f"drawbox=x=40:y=40:w={WIDTH - 80}:h=40:c={title}:t=fill,{lines}"
        f"drawbox=x=0:y=ih-6:w='iw*t/{MAX_SECONDS}':h=6:c={bar}:t=fill[slide];"
        f"testsrc2=size=160x90:rate={FPS}:duration={seconds},format=yuv420p[speaker];"
        "[slide][speaker]overlay=x=W-w-16:y=H-h-16:format=yuv420"
    )


def _audio_source(spec: LectureSpec) -> str:
    """A lavfi graph: a voice-like tone (a syllable-rate and a phrase-rate tremolo) between the
    silent head and tail, over a -66 dBFS noise floor; digital silence when `silent`.

    (No `vibrato`: in FFmpeg 9 it now and then emits NaN samples that the AAC encoder refuses.)
    """
    if spec.silent:
        return f"anullsrc=r={SAMPLE_RATE}:cl=mono:d={spec.seconds:g}"
    start, end, length = spec.silent_head, spec.seconds - spec.silent_tail, f"{spec.seconds:g}"
    return (
        f"sine=f={spec.tone_hz:g}:r={SAMPLE_RATE}:d={length},"
        "tremolo=f=3.1:d=0.5,tremolo=f=0.4:d=0.3,"
        f"volume=volume='0.3*between(t,{start:g},{end:g})':eval=frame[voice];"
        f"anoisesrc=r={SAMPLE_RATE}:a=0.0005:c=white:d={length}[noise];"
        "[voice][noise]amix=inputs=2:normalize=0:duration=shortest"
    )


def _run_ffmpeg(args: Sequence[str], destination: Path) -> None:
    """Run FFmpeg writing to a temporary file beside `destination`, then move it into place."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{destination.stem}-", suffix=".tmp", dir=destination.parent
    )
    os.close(fd)
    tmp = Path(tmp_name)
    cmd = [ffmpeg_binary(), "-nostdin", "-hide_banner", "-v", "error", "-y", *args, str(tmp)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=FFMPEG_TIMEOUT)
        if done.returncode != 0:
            detail = done.stderr.strip().splitlines()[:1] or [f"exit code {done.returncode}"]
            raise DemoError(f"FFmpeg could not make {destination.name}: {detail[0]}")
        tmp.chmod(0o644)
        tmp.replace(destination)
    finally:
        tmp.unlink(missing_ok=True)


def make_base_video(scene: str, seconds: float, folder: Path) -> Path:
    """A video track of `scene` (no audio) lasting at least `seconds`: a cached one when
    `folder` holds one, else a new one of `seconds` rounded up to whole GOPs."""
    if found := _existing_base(scene, seconds, folder):
        return found
    length = _base_length(seconds)
    path = folder / base_video_name(scene, length)
    x264 = [
        "-c:v", "libx264", "-preset", "veryfast", "-tune", "stillimage",
        "-profile:v", "high", "-level:v", "3.0", "-pix_fmt", "yuv420p", "-bf", "3",
        "-g", str(GOP), "-keyint_min", str(GOP), "-sc_threshold", "0", "-crf", "28",
    ]  # fmt: skip
    graph = ["-f", "lavfi", "-i", _video_graph(scene, length), "-an"]
    _run_ffmpeg([*graph, *x264, "-movflags", "+faststart", "-f", "mp4"], path)
    return path


def make_lecture(spec: LectureSpec, folder: Path) -> Path:
    """The recording for `spec` in `folder` (made from the scene's video when missing)."""
    path = folder / spec.file_name
    if path.exists():
        return path
    base = make_base_video(spec.scene, spec.seconds, folder)
    length = f"{spec.seconds:g}"
    args = [
        "-t", length, "-i", str(base), "-f", "lavfi", "-i", _audio_source(spec),
        "-map", "0:v", "-map", "1:a", "-c:v", "copy", "-c:a", "aac", "-b:a", "48k",
        "-t", length, "-movflags", "+faststart", "-f", "mp4",
    ]  # fmt: skip
    _run_ffmpeg(args, path)
    return path


def generate_lectures(
    specs: Iterable[LectureSpec], folder: Path, *, workers: int = 2
) -> GenerationReport:
    """Every spec's recording in `folder`, made in parallel (`workers` FFmpeg processes) where
    missing, reused where present. Each scene's video is encoded once, as long as its longest
    missing lecture, and every lecture is a stream copy of it with its own sound track."""
    started = time.perf_counter()
    wanted = list(dict.fromkeys(specs))
    folder.mkdir(parents=True, exist_ok=True)
    missing = [s for s in wanted if not (folder / s.file_name).exists()]
    longest: dict[str, float] = {}
    for spec in missing:
        longest[spec.scene] = max(longest.get(spec.scene, 0.0), spec.seconds)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        list(
            pool.map(
                lambda item: make_base_video(item[0], item[1], folder), sorted(longest.items())
            )
        )
        list(pool.map(lambda spec: make_lecture(spec, folder), missing))
    return GenerationReport(
        paths={s: folder / s.file_name for s in wanted},
        generated=len(missing),
        reused=len(wanted) - len(missing),
        seconds=time.perf_counter() - started,
    )


def make_thumbnail(path: Path, scene: str, size: tuple[int, int] = (640, 360)) -> Path:
    """A small title-card image (PNG or JPEG by the name's suffix), reused when present."""
    if path.exists():
        return path
    bg, title, text, bar = SCENES[scene]
    w, h = size
    graph = (
        f"color=c={bg}:size={w}x{h}:duration=1,"
        f"drawbox=x={w // 16}:y={h // 3}:w={w * 7 // 8}:h={h // 6}:c={title}:t=fill,"
        f"drawbox=x={w // 16}:y={h * 5 // 8}:w={w // 2}:h={h // 24}:c={text}:t=fill,"
        f"drawbox=x=0:y={h - h // 20}:w={w}:h={h // 20}:c={bar}:t=fill"
    )
    codec = ["-q:v", "3", "-f", "image2", "-c:v", "mjpeg"]
    if path.suffix.lower() == ".png":
        codec = ["-f", "image2", "-c:v", "png"]
    _run_ffmpeg(["-f", "lavfi", "-i", graph, "-frames:v", "1", "-update", "1", *codec], path)
    return path


def transcript(recording: DemoRecording, every: float = 4.0) -> bytes:
    """A Zoom-like VTT transcript: a cue every few seconds while the lecture speaks."""

    from integrations.captions import format_timestamp

    def stamp(seconds: float) -> str:
        return format_timestamp(round(seconds * 1000))

    media = recording.media
    lines = ["WEBVTT", ""]
    start, number = media.silent_head, 1
    while start + every <= media.seconds - media.silent_tail:
        lines += [str(number), f"{stamp(start)} --> {stamp(start + every)}"]
        lines += [f"{recording.host.split('@')[0]}: sentence {number} of {recording.topic}", ""]
        start, number = start + every, number + 1
    return "\n".join(lines).encode()


def timeline(recording: DemoRecording) -> bytes:
    """A Zoom-like TIMELINE file (JSON: who spoke when); listed bare, never used by the pipeline."""
    from integrations.captions import format_timestamp

    speaker = {"username": recording.host.split("@")[0], "email_address": recording.host}
    start = format_timestamp(round(recording.media.silent_head * 1000))
    return json.dumps({"timeline": [{"ts": start, "users": [speaker]}]}).encode()


# ---- the plan ---------------------------------------------------------------------------

# Expected outcomes, as the final table can show them.
PUBLISHED = "published (silent start and end trimmed)"
SKIPPED_SHORT = "skipped at sync: too short"
SKIPPED_SILENT = "skipped at processing: no sound"


@dataclass(frozen=True)
class DemoRecording:
    """One Zoom meeting instance of the world. Instances with the same `series` share one
    meeting id (a recurring meeting); `reported_minutes` is the duration Zoom reports."""

    account: str
    host: str
    topic: str
    days_ago: int
    hour: int
    reported_minutes: int
    media: LectureSpec
    series: str | None = None
    expected: str = PUBLISHED
    transcript: bool = False  # Zoom also has a VTT transcript of it
    closed_captions: bool = False  # and its closed captions (CC) and a TIMELINE, listed bare


DEMO_ACCOUNTS: dict[str, tuple[str, ...]] = {
    "physics": ("ann.lee@physics.demo.edu", "bob.kim@physics.demo.edu", "fay.ito@physics.demo.edu"),
    "compsci": ("carol.diaz@cs.demo.edu", "dave.roy@cs.demo.edu", "erin.wu@cs.demo.edu"),
}
# Hosts deactivated in Zoom since they recorded: Zoom lists them only with `status=inactive`,
# and their cloud recordings stay in the account, to be published like any other.
DEMO_INACTIVE_HOSTS = frozenset({"fay.ito@physics.demo.edu"})


def default_plan() -> list[DemoRecording]:
    """Two accounts, six hosts (one deactivated), nine instances over the last nine days: seven
    lectures to publish (two of them instances of one recurring seminar, one by the deactivated
    host), one too short, one silent."""
    ann, bob, fay = DEMO_ACCOUNTS["physics"]
    carol, dave, erin = DEMO_ACCOUNTS["compsci"]

    def lecture(seconds: int, head: float, tail: float, scene: str, tone: float) -> LectureSpec:
        return LectureSpec(seconds, head, tail, scene=scene, tone_hz=tone)

    return [
        DemoRecording(
            "physics", ann, "Physics Lecture 1: Kinematics", 9, 9, 88,
            lecture(48, 12, 9, "physics", 200), transcript=True, closed_captions=True,
        ),
        DemoRecording(
            "physics", ann, "Physics Lecture 2: Newton's Laws", 5, 9, 85,
            lecture(42, 10, 8, "physics", 210),
        ),
        DemoRecording(
            "physics", fay, "Physics Lecture 3: Energy", 7, 11, 80,
            lecture(40, 10, 8, "physics", 220),
        ),
        DemoRecording(
            "physics", bob, "Weekly Seminar", 8, 15, 62,
            lecture(38, 9, 7, "seminar", 180), series="seminar",
        ),
        DemoRecording(
            "physics", bob, "Weekly Seminar", 1, 15, 58,
            lecture(40, 11, 10, "seminar", 190), series="seminar",
        ),
        DemoRecording(
            "physics", bob, "Office hours", 3, 17, 12,
            lecture(20, 3, 3, "physics", 230), expected=SKIPPED_SHORT,
        ),
        DemoRecording(
            "compsci", carol, "Python Basics Lecture 3", 4, 10, 90,
            lecture(54, 14, 10, "compsci", 240),
        ),
        DemoRecording(
            "compsci", dave, "Python Advanced Lecture 1", 2, 12, 75,
            lecture(38, 9, 8, "compsci", 250),
        ),
        DemoRecording(
            "compsci", erin, "Lab walkthrough (microphone muted)", 6, 14, 47,
            LectureSpec(60, scene="compsci", silent=True), expected=SKIPPED_SILENT,
        ),
    ]  # fmt: skip


@dataclass(frozen=True)
class WorldEntry:
    """One instance the world holds, for the demo's final table."""

    account: str
    host: str
    topic: str
    meeting_id: int
    uuid: str
    start_time: datetime
    reported_minutes: int
    file: Path
    size_bytes: int
    seconds: float
    silent_head: float | None
    silent_tail: float | None
    expected: str

    @property
    def size_mb(self) -> float:
        return self.size_bytes / (1024 * 1024)


# ---- the world --------------------------------------------------------------------------


@dataclass
class DemoWorld:
    """The Zoom, YouTube and VK emulators on loopback, holding the demo's recordings.

    `work_dir` receives the thumbnails; generated media is cached in `media_cache` (default
    `work_dir/media`) and reused by later worlds. Use as a context manager (or `start`/`stop`).
    """

    work_dir: Path
    media_cache: Path | None = None
    plan: Sequence[DemoRecording] = field(default_factory=default_plan)
    now: datetime | None = None
    vk_group_id: int = DEMO_VK_GROUP
    workers: int = 2

    def __post_init__(self) -> None:
        self.work_dir = Path(self.work_dir)
        self.media_cache = Path(self.media_cache or self.work_dir / "media")
        self.zoom = ZoomEmulator()
        self.youtube = YouTubeEmulator()
        self.vk = VkEmulator()
        self.accounts: dict[str, SandboxAccount] = {}
        self.generation: GenerationReport | None = None
        self.thumbnails: dict[str, Path] = {}
        self._entries: list[WorldEntry] = []
        self._servers: list[LoopbackServer] = []
        self._started = False

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> DemoWorld:
        """Generate (or reuse) the media, populate Zoom and serve the three emulators."""
        if self._started:
            return self
        self.work_dir.mkdir(parents=True, exist_ok=True)
        assert self.media_cache is not None
        self.generation = generate_lectures(
            [r.media for r in self.plan], self.media_cache, workers=self.workers
        )
        thumbs = self.work_dir / "thumbnails"
        self.thumbnails = {
            "default": make_thumbnail(thumbs / "default.png", "seminar"),
            "physics": make_thumbnail(thumbs / "physics.jpg", "physics"),
            "python": make_thumbnail(thumbs / "python.png", "compsci"),
        }
        try:
            for emulator in (self.zoom, self.youtube, self.vk):
                self._servers.append(LoopbackServer(emulator).start())
            self._populate_zoom(self.generation.paths)
        except BaseException:
            self.stop()
            raise
        self._started = True
        return self

    def stop(self) -> None:
        """Stop every server (idempotent)."""
        while self._servers:
            with contextlib.suppress(Exception):
                self._servers.pop().stop()
        self._started = False

    def __enter__(self) -> DemoWorld:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _populate_zoom(self, paths: dict[LectureSpec, Path]) -> None:
        now = (self.now or datetime.now(UTC)).astimezone(UTC)
        users = {}
        for name, emails in DEMO_ACCOUNTS.items():
            if any(r.account == name for r in self.plan):
                account = self.zoom.add_account(name)
                self.accounts[name] = account
                for email in emails:
                    status = "inactive" if email in DEMO_INACTIVE_HOSTS else "active"
                    users[email] = self.zoom.add_user(account, email, status)
        series: dict[str, int] = {}
        ordered = sorted(self.plan, key=lambda r: (-r.days_ago, r.hour, r.topic))
        for rec in ordered:
            if rec.account not in self.accounts or rec.host not in users:
                raise DemoError(f"{rec.topic!r}: unknown account or host {rec.host}")
            day = (now - timedelta(days=rec.days_ago)).date()
            start = datetime(day.year, day.month, day.day, rec.hour, tzinfo=UTC)
            path = paths[rec.media]
            meeting: SandboxMeeting = self.zoom.add_meeting(
                self.accounts[rec.account],
                users[rec.host],
                topic=rec.topic,
                start_time=start,
                duration=rec.reported_minutes,
                files=[
                    FileSpec(path=path),
                    FileSpec("audio_only", size=64 * 1024),
                    *(
                        [FileSpec("audio_transcript", data=transcript(rec))]
                        if rec.transcript
                        else []
                    ),
                    *(
                        [  # a cue every 6 s, the transcript's every 4 s: tells which got published
                            FileSpec("closed_caption", data=transcript(rec, every=6.0)),
                            FileSpec("timeline", data=timeline(rec)),
                        ]
                        if rec.closed_captions
                        else []
                    ),
                ],
                meeting_id=series.get(rec.series) if rec.series else None,
            )
            if rec.series:
                series.setdefault(rec.series, meeting.id)
            self._entries.append(
                WorldEntry(
                    account=rec.account,
                    host=rec.host,
                    topic=rec.topic,
                    meeting_id=meeting.id,
                    uuid=meeting.uuid,
                    start_time=start,
                    reported_minutes=rec.reported_minutes,
                    file=path,
                    size_bytes=path.stat().st_size,
                    seconds=rec.media.seconds,
                    silent_head=None if rec.media.silent else rec.media.silent_head,
                    silent_tail=None if rec.media.silent else rec.media.silent_tail,
                    expected=rec.expected,
                )
            )

    # -- what the pipeline is given --------------------------------------------------------

    def _require_started(self) -> None:
        if not self._started:
            raise DemoError("the demo world is not started (use `with DemoWorld(...)`)")

    @property
    def youtube_url(self) -> str:
        return self.youtube.base_url + "/"

    @property
    def vk_url(self) -> str:
        return self.vk.base_url + "/method/"

    def environment(self) -> dict[str, str]:
        """Settings for the pipeline: the emulators' URLs and the demo's sync filters."""
        self._require_started()
        return {
            "ZOOM_API_URL": self.zoom.api_url,
            "ZOOM_OAUTH_URL": self.zoom.oauth_url,
            "YOUTUBE_API_URL": self.youtube_url,
            "VK_API_URL": self.vk_url,
            "MIN_DURATION_MIN": f"{DEMO_MIN_DURATION_MIN:g}",
            "MIN_SIZE_MB": f"{DEMO_MIN_SIZE_MB:g}",
            "SYNC_DAYS": str(DEMO_SYNC_DAYS),
        }

    def youtube_authorized_user(self) -> dict[str, Any]:
        """The stored-token dict for the YouTube emulator (what the credentials block holds)."""
        return self.youtube.authorized_user_info()

    def save_credentials(self) -> list[str]:
        """Save the Prefect blocks (`config/blocks.py`) for every Zoom account, YouTube and VK,
        all pointing at this world; returns `type/name` of each. Needs a Prefect API."""
        self._require_started()
        from pydantic import SecretStr

        from config.blocks import VK_BLOCK, YOUTUBE_BLOCK, VkCredentials, YouTubeCredentials
        from config.prefect_sync import one_api_client
        from config.secrets import save_zoom_account

        with one_api_client():
            saved: list[str] = []
            for account in self.accounts.values():
                name = save_zoom_account(
                    account.name, account.account_id, account.client_id, account.client_secret
                )
                saved.append(f"zoom-account/{name}")
            client = self.youtube.client_config()["installed"]
            YouTubeCredentials(
                client_id=client["client_id"],
                client_secret=SecretStr(client["client_secret"]),
                refresh_token=SecretStr(self.youtube.refresh_token),
                token_uri=client["token_uri"],
                auth_uri=client["auth_uri"],
            ).save(YOUTUBE_BLOCK, overwrite=True)
            saved.append(f"youtube-credentials/{YOUTUBE_BLOCK}")
            VkCredentials(
                access_token=SecretStr(self.vk.token), group_id=str(self.vk_group_id)
            ).save(VK_BLOCK, overwrite=True)
            saved.append(f"vk-credentials/{VK_BLOCK}")
            return saved

    def app_config(self) -> dict[str, Any]:
        """A demo `app_config.json` (the seed's format): title rules, playlists and albums by
        title, thumbnails generated into `work_dir/thumbnails`, both platforms enabled."""
        self._require_started()
        return {
            "video_title_mapping": {
                "mapping_rules": [
                    {
                        "pattern": r"Physics Lecture (?P<number>\d+): (?P<subject>.+)",
                        "youtube_title_template": "Physics {number}. {subject} ({date})",
                        "vk_title_template": "Physics, lecture {number}: {subject}",
                        "description_template": "Lecture {number} of the physics course, {date}.",
                        "thumbnail": self.thumbnails["physics"].name,
                        "youtube_playlist_title": "Physics lectures",
                        "vk_album_title": "Physics",
                        "tags": ["physics", "lecture"],
                    },
                    {
                        "pattern": r"Python (?P<course>Basics|Advanced) Lecture (?P<number>\d+)",
                        "youtube_title_template": "Python {course}, lecture {number} ({date})",
                        "thumbnail": self.thumbnails["python"].name,
                        "youtube_playlist_title": "Python {course}",
                        "vk_album_title": "Python",
                        "tags": ["python"],
                    },
                    {
                        "pattern": "Weekly Seminar",
                        "youtube_title_template": "{original_title} — {date}",
                        "youtube_playlist_title": "Seminars",
                        "vk_album_title": "Seminars",
                    },
                ],
                "default_rules": {
                    "youtube_title_template": "{original_title} ({date})",
                    "description_template": "{original_title}, recorded {date}",
                    "thumbnail": self.thumbnails["default"].name,
                },
                "date_format": "DD.MM.YYYY",
                "timezone": "UTC",
                "thumbnail_directory": str(self.thumbnails["default"].parent.resolve()),
            },
            "platforms": {
                "youtube": {
                    "enabled": True,
                    "default_privacy": "unlisted",
                    "default_language": "en",
                    "chunk_size_mb": 1,
                },
                "vk": {
                    "enabled": True,
                    "group_id": str(self.vk_group_id),
                    "default_privacy": "all",
                    "privacy_comment": "all",
                    "no_comments": False,
                    "repeat": False,
                },
            },
            "upload_settings": {
                "max_file_size_mb": 1024,
                "supported_formats": ["mp4"],
                "retry_attempts": 3,
                "retry_delay": 1,
            },
        }

    def write_app_config(self, path: Path | None = None) -> Path:
        """Write `app_config()` as JSON (default `work_dir/app_config.json`); returns the path."""
        target = path or self.work_dir / "app_config.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(self.app_config(), indent=2, ensure_ascii=False) + "\n")
        return target

    def describe(self) -> list[WorldEntry]:
        """Every instance the world holds, oldest first, with what should become of it."""
        self._require_started()
        return list(self._entries)

    def summary(self, format_row: Callable[[WorldEntry], str] | None = None) -> str:
        """A plain-text listing of `describe()` (one line per instance)."""
        render = format_row or (
            lambda e: (
                f"{e.start_time:%Y-%m-%d %H:%M} {e.account:<8} {e.topic:<36} "
                f"{e.reported_minutes:>3} min reported, {e.seconds:>4g} s, {e.size_mb:.1f} MB: "
                f"{e.expected}"
            )
        )
        return "\n".join(render(e) for e in self.describe())
