"""The demo world: generated lectures, the three emulators, blocks and the demo app config."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from config.app_config import AppConfig
from config.titles import render
from integrations.download import download_file, download_recording, verify_vtt
from integrations.http.retry import RetryPolicy
from integrations.media.probe import probe
from integrations.sandbox.demo import (
    DEMO_INACTIVE_HOSTS,
    DEMO_MIN_DURATION_MIN,
    DEMO_MIN_SIZE_MB,
    PUBLISHED,
    SKIPPED_SHORT,
    SKIPPED_SILENT,
    DemoWorld,
    LectureSpec,
    default_plan,
    generate_lectures,
    transcript,
)
from integrations.thumbnails import check_thumbnail
from integrations.vk import VkClient
from integrations.youtube import YouTubeClient
from integrations.zoom import ZoomClient, parse_instance, skip_reason

NOW = datetime(2026, 10, 15, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, demo_media_cache: Path) -> Iterator[DemoWorld]:
    with DemoWorld(
        tmp_path_factory.mktemp("demo"), media_cache=demo_media_cache, now=NOW
    ) as started:
        yield started


def zoom_client(world: DemoWorld, name: str) -> ZoomClient:
    retry = RetryPolicy(attempts=2, backoff_base=0.01)
    account = world.accounts[name].credentials
    zoom = world.zoom
    return ZoomClient(
        account, api_url=zoom.api_url, oauth_url=zoom.oauth_url, timeout=5, retry=retry
    )


def test_world_holds_two_accounts_a_recurring_meeting_and_the_odd_ones(world):
    entries = world.describe()
    assert len(entries) == len(default_plan()) == 9
    assert {e.account for e in entries} == {"physics", "compsci"}
    assert len({e.host for e in entries}) == 6
    deactivated = [u for u in world.zoom.users.values() if u.status == "inactive"]
    assert [u.email for u in deactivated] == sorted(DEMO_INACTIVE_HOSTS)
    assert any(e.host in DEMO_INACTIVE_HOSTS and e.expected == PUBLISHED for e in entries)
    seminar = [e for e in entries if e.topic == "Weekly Seminar"]
    assert len(seminar) == 2 and seminar[0].meeting_id == seminar[1].meeting_id
    assert seminar[0].uuid != seminar[1].uuid
    assert [e.start_time for e in entries] == sorted(e.start_time for e in entries)
    assert all(NOW - timedelta(days=14) < e.start_time < NOW for e in entries)
    assert sorted(e.expected for e in entries) == sorted(
        [PUBLISHED] * 7 + [SKIPPED_SHORT, SKIPPED_SILENT]
    )
    assert "Weekly Seminar" in world.summary()


def test_generated_files_are_lecture_like(world):
    entries = {e.topic: e for e in world.describe()}
    info = probe(entries["Physics Lecture 1: Kinematics"].file)
    assert info.video is not None and info.audio is not None
    assert (info.video.codec, info.video.profile, info.video.has_b_frames) == ("h264", "High", True)
    assert (info.video.width, info.video.height, info.video.fps) == (640, 360, 25)
    assert info.audio.codec == "aac"
    assert abs(info.duration - 48) < 0.2
    for entry in entries.values():
        passes = entry.expected != SKIPPED_SHORT
        assert (entry.size_mb > DEMO_MIN_SIZE_MB) is passes, entry
        assert (entry.reported_minutes > DEMO_MIN_DURATION_MIN) is passes, entry


def test_generation_is_cached(tmp_path: Path) -> None:
    cache = tmp_path / "media"
    specs = [LectureSpec(8, 2, 2), LectureSpec(10, 2, 2), LectureSpec(6, 2, 2, scene="compsci")]
    first = generate_lectures(specs, cache)
    assert (first.generated, first.reused) == (3, 0)
    before = {p: p.stat().st_mtime_ns for p in cache.iterdir()}
    again = generate_lectures(specs, cache)
    assert (again.generated, again.reused) == (0, 3)
    assert {p: p.stat().st_mtime_ns for p in cache.iterdir()} == before
    # A new lecture reuses the scene video already made (no new video encode).
    extra = generate_lectures([LectureSpec(6, 1, 1, tone_hz=300)], cache)
    assert extra.generated == 1
    assert len(list(cache.glob("scene-physics-*"))) == 1


def test_zoom_lists_the_instances_through_the_real_client(world):
    expected = {e.uuid: e for e in world.describe()}
    seen: dict[str, object] = {}
    for name in ("physics", "compsci"):
        with zoom_client(world, name) as client:
            instances = client.instances((NOW - timedelta(days=13)).date(), NOW.date())
        assert {i.uuid for i in instances} == {
            e.uuid for e in expected.values() if e.account == name
        }
        for instance in instances:
            entry = expected[instance.uuid]
            assert instance.topic == entry.topic and instance.meeting_id == entry.meeting_id
            assert instance.duration_min == entry.reported_minutes
            assert [f.file_size for f in instance.mp4_files] == [entry.size_bytes]
            reason = skip_reason(instance, DEMO_MIN_DURATION_MIN, DEMO_MIN_SIZE_MB)
            assert (reason is not None) is (entry.expected == SKIPPED_SHORT), reason
            seen[instance.uuid] = instance
    assert seen.keys() == expected.keys()


def test_files_download_through_the_real_downloader(world, tmp_path):
    entries = [e for e in world.describe() if e.account == "compsci"]
    with zoom_client(world, "compsci") as client:
        instances = {
            i.uuid: i for i in client.instances(NOW.date() - timedelta(days=13), NOW.date())
        }
        for entry in entries:
            dest = tmp_path / f"{entry.meeting_id}.mp4"
            info = download_recording(
                instances[entry.uuid].mp4_files,
                dest,
                token=client.bearer,
                min_free_mb=0,
                retry=client.retry,
                timeout=5,
            )
            assert dest.read_bytes() == entry.file.read_bytes()
            assert abs(info.duration - entry.seconds) < 0.2


def test_closed_captions_are_listed_bare_and_the_transcript_is_kept(world, tmp_path):
    """The Kinematics lecture also has Zoom's closed captions and timeline, listed without id
    or size: the real client still takes its video and its transcript (not the CC file)."""
    (entry,) = [e for e in world.describe() if e.topic == "Physics Lecture 1: Kinematics"]
    plan = next(r for r in default_plan() if r.topic == entry.topic)
    assert plan.transcript and plan.closed_captions
    with zoom_client(world, "physics") as client:
        raw = client.meeting_recordings(entry.uuid)
        instance = parse_instance(raw)
        options = {"token": client.bearer, "min_free_mb": 0, "retry": client.retry, "timeout": 5}
        bare = [f for f in raw["recording_files"] if f["file_type"] in ("CC", "TIMELINE")]
        assert sorted(f["file_type"] for f in bare) == ["CC", "TIMELINE"]
        assert not [k for f in bare for k in ("id", "file_size", "status", "play_url") if k in f]
        assert [f.file_size for f in instance.mp4_files] == [entry.size_bytes]
        kept = instance.transcript
        assert kept is not None and kept.file_type == "TRANSCRIPT"
        got = download_file(kept.download_url, tmp_path / "t.vtt", kept.file_size, **options)
        assert got.part_path.read_bytes() == transcript(plan)
        (cc,) = instance.closed_captions
        unlisted = download_file(cc.download_url, tmp_path / "cc.vtt", cc.file_size, **options)
        assert cc.file_size is None and verify_vtt(unlisted.part_path) > 0


def test_youtube_and_vk_accept_the_credentials(world):
    youtube = YouTubeClient(
        world.youtube_authorized_user(),
        api_url=world.youtube_url,
        timeout=5,
        retry=RetryPolicy(attempts=2),
    )
    assert youtube.find_playlist("Physics lectures") is None
    assert len(world.youtube.calls("POST", r"^/token$")) == 1  # a refresh-token grant
    vk = VkClient(
        world.vk.token, group_id=world.vk_group_id, api_url=world.vk_url, rps_delay=0, timeout=5
    )
    assert vk.find_album("Physics") is None
    (call,) = world.vk.calls("POST", r"^/method/video\.getAlbums$")
    assert f"owner_id=-{world.vk_group_id}" in call.body.decode()


def test_environment_points_at_the_emulators(world):
    env = world.environment()
    assert env["ZOOM_API_URL"] == world.zoom.api_url and env["ZOOM_OAUTH_URL"].endswith("/token")
    assert env["VK_API_URL"].endswith("/method/") and env["YOUTUBE_API_URL"].endswith("/")
    assert (env["MIN_DURATION_MIN"], env["MIN_SIZE_MB"]) == ("30", "0.5")
    for url in (env["ZOOM_OAUTH_URL"], env["YOUTUBE_API_URL"], env["VK_API_URL"]):
        assert url.startswith("http://127.0.0.1:")


def test_app_config_is_valid_and_maps_the_topics(world):
    config = AppConfig.model_validate(world.app_config())
    assert config.platforms.youtube.enabled and config.platforms.vk.enabled
    mapping = config.video_title_mapping
    start = datetime(2026, 10, 1, 9, tzinfo=UTC)
    physics = render(mapping, "Physics Lecture 2: Newton's Laws", start)
    assert physics.youtube_title == "Physics 2. Newton's Laws (01.10.2026)"
    assert (physics.youtube_playlist_title, physics.vk_album_title) == (
        "Physics lectures",
        "Physics",
    )
    python = render(mapping, "Python Advanced Lecture 1", start)
    assert python.youtube_playlist_title == "Python Advanced"
    other = render(mapping, "Office hours", start)
    assert other.rule_pattern is None and other.thumbnail is not None
    for publication in (physics, python, other):
        assert publication.thumbnail is not None
        assert check_thumbnail(publication.thumbnail) in ("image/png", "image/jpeg")
    written = world.write_app_config()
    assert AppConfig.model_validate_json(written.read_text()) == config


def test_save_credentials_makes_blocks_the_clients_accept(world, prefect_harness):
    from config.secrets import vk_credentials, youtube_credentials, zoom_accounts

    saved = world.save_credentials()
    assert saved == [
        "zoom-account/zoom-physics",
        "zoom-account/zoom-compsci",
        "youtube-credentials/youtube",
        "vk-credentials/vk",
    ]
    accounts = {a.account: a for a in zoom_accounts()}
    assert {"physics", "compsci"} <= accounts.keys()  # the harness is shared with other tests
    physics = accounts["physics"]
    assert physics.client_secret.get_secret_value() == world.accounts["physics"].client_secret
    block = youtube_credentials()
    assert block.token_uri == f"{world.youtube.base_url}/token"
    info = {
        "client_id": block.client_id,
        "client_secret": block.client_secret.get_secret_value(),
        "refresh_token": block.refresh_token.get_secret_value() if block.refresh_token else "",
        "token_uri": block.token_uri,
    }
    refreshes = len(world.youtube.calls("POST", r"^/token$"))
    client = YouTubeClient(
        info, api_url=world.youtube_url, timeout=5, retry=RetryPolicy(attempts=2)
    )
    assert client.find_playlist("Seminars") is None
    assert len(world.youtube.calls("POST", r"^/token$")) == refreshes + 1
    vk = vk_credentials()
    assert (vk.group_id, vk.access_token.get_secret_value()) == (
        str(world.vk_group_id),
        world.vk.token,
    )


def test_world_stops_cleanly(world, tmp_path, demo_media_cache):
    world = DemoWorld(tmp_path / "demo", media_cache=demo_media_cache, now=NOW)
    with world:
        assert world.generation is not None and world.generation.generated == 0
        urls = [world.zoom.oauth_url, world.youtube_url, world.vk_url]
        assert httpx.get(world.youtube_url + "youtube/v3/playlists", timeout=5).status_code == 401
    for url in urls:
        with pytest.raises(httpx.TransportError):
            httpx.get(url, timeout=2)
    world.stop()  # idempotent
