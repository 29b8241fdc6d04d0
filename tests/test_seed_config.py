"""The files of the tool this project replaces load unchanged (../shared/notes/seed-config.md).

tests/seed_files/ holds that note's app_config.json and vk_creds.json byte for byte.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from config.app_config import (
    ConfigError,
    ConfiguredIdError,
    load_app_config,
    vk_id_problem,
    vk_number,
)
from config.credentials import read_vk_creds
from config.titles import render, resolve_thumbnail
from flows.cli import main
from integrations.sandbox.server import LoopbackServer
from integrations.sandbox.vk import VkEmulator

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "tests" / "seed_files"


@pytest.fixture
def seed_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The seed's app_config.json as APP_CONFIG, in a working folder with its thumbnails."""
    target = tmp_path / "config" / "app_config.json"
    target.parent.mkdir()
    shutil.copyfile(SEED / "app_config.json", target)
    (tmp_path / "thumbnails").mkdir()
    for name in ("course.png", "ml_extra.png"):
        (tmp_path / "thumbnails" / name).write_bytes(b"\x89PNG\r\n\x1a\n")
    monkeypatch.setenv("APP_CONFIG", str(target))
    return target


def edited(seed_config: Path, change: dict[str, object]) -> Path:
    """The seed file with `change` merged into its top level."""
    data = json.loads(seed_config.read_text(encoding="utf-8"))
    data.update(change)
    seed_config.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return seed_config


def test_the_seed_app_config_loads_with_its_own_value_types(seed_config: Path) -> None:
    config = load_app_config(seed_config)
    vk = config.platforms.vk
    assert vk.group_id == "123456"  # a JSON number in the file
    # VK's community codes "0", "1" (every upload goes to the community group_id)
    assert (vk.default_privacy, vk.privacy_comment) == ("all", "members")
    assert config.upload_settings.supported_formats == ["mp4", "avi", "mov"]
    rule = config.video_title_mapping.mapping_rules[0]
    assert (rule.youtube_playlist_id, rule.vk_album_id) == ("PLAYLIST_ID", "ALBUM_ID")


def test_every_configured_id_may_be_a_json_number(seed_config: Path) -> None:
    data = json.loads(seed_config.read_text(encoding="utf-8"))
    data["platforms"]["youtube"]["category_id"] = 27
    data["video_title_mapping"]["mapping_rules"][0] |= {"vk_album_id": 7, "youtube_playlist_id": 9}
    seed_config.write_text(json.dumps(data), encoding="utf-8")
    config = load_app_config(seed_config)
    rule = config.video_title_mapping.mapping_rules[0]
    assert (config.platforms.youtube.category_id, rule.vk_album_id) == ("27", "7")
    assert rule.youtube_playlist_id == "9" and config.notes() == []


def test_config_check_passes_on_the_seed_file_and_points_at_placeholder_ids(
    seed_config: Path,
) -> None:
    result = CliRunner().invoke(main, ["config", "check"])
    assert result.exit_code == 0, result.output
    assert "is valid: 1 mapping rules, platforms enabled: youtube, vk" in result.output
    assert "mapping_rules[0].vk_album_id is 'ALBUM_ID', not a VK ID" in result.output
    assert "group_id" not in result.output  # 123456 is a real-looking id
    assert "run `zoom-publisher config check --online`" in result.output  # for the VK token


def test_config_title_previews_the_seed_rule_and_its_thumbnail_once(seed_config: Path) -> None:
    result = CliRunner().invoke(
        main, ["config", "title", "Название курса из Zoom", "--date", "2026-11-20"]
    )
    assert result.exit_code == 0, result.output
    assert "youtube_title: (Л) Название (20.11.2026)" in result.output
    assert "thumbnail: thumbnails/course.png" in result.output
    assert "thumbnails/thumbnails" not in result.output
    assert "youtube_playlist_id: PLAYLIST_ID" in result.output


def test_the_default_rule_thumbnail_resolves_to_the_file(seed_config: Path) -> None:
    mapping = load_app_config(seed_config).video_title_mapping
    publication = render(mapping, "Some other meeting", datetime(2026, 11, 20, tzinfo=UTC))
    assert publication.thumbnail == Path("thumbnails/ml_extra.png")
    assert publication.thumbnail.is_file()
    assert publication.youtube_title == "Some other meeting (20.11.2026)"


@pytest.mark.parametrize(
    ("directory", "name", "expected"),
    [
        ("thumbnails/", "thumbnails/course.png", "thumbnails/course.png"),
        ("thumbnails", "course.png", "thumbnails/course.png"),
        ("assets/thumbs", "assets/thumbs/a.png", "assets/thumbs/a.png"),
        ("assets/thumbs", "thumbs/a.png", "assets/thumbs/a.png"),
        ("/srv/zp/thumbnails/", "thumbnails/course.png", "/srv/zp/thumbnails/course.png"),
        ("thumbnails", "covers/a.png", "thumbnails/covers/a.png"),
        ("thumbnails", "/srv/covers/a.png", "/srv/covers/a.png"),
    ],
)
def test_thumbnail_paths_are_joined_to_the_directory_only_when_needed(
    directory: str, name: str, expected: str
) -> None:
    assert resolve_thumbnail(Path(directory), name) == Path(expected)


def test_a_thumbnail_path_that_exists_as_written_wins(tmp_path: Path) -> None:
    (tmp_path / "covers").mkdir()
    (tmp_path / "covers" / "a.png").write_bytes(b"png")
    assert resolve_thumbnail(Path("thumbnails"), "covers/a.png") == Path("covers/a.png")


def test_credentials_import_takes_the_seed_vk_file_and_points_at_its_placeholder(
    prefect_harness: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from config.secrets import vk_credentials

    monkeypatch.setenv("VK_API_URL", "http://127.0.0.1:9/method/")  # VK is not reachable
    result = CliRunner().invoke(
        main, ["credentials", "import", "--vk", str(SEED / "vk_creds.json")]
    )

    assert result.exit_code == 0, result.output
    assert "Saved block vk-credentials/vk" in result.output
    assert "VK: the VK token was not checked" in result.output
    assert "group_id in" in result.output and "is 'your_group_id', not a VK ID" in result.output
    assert "your_vk_access_token" not in result.output
    block = vk_credentials()
    assert block.group_id == "your_group_id"
    assert block.access_token.get_secret_value() == "your_vk_access_token"


def test_the_seed_placeholder_token_is_refused_when_vk_answers(
    prefect_harness: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from config.blocks import VK_BLOCK, VkCredentials
    from config.secrets import vk_credentials

    VkCredentials(access_token="stored-before", group_id="1").save(VK_BLOCK, overwrite=True)
    with LoopbackServer(VkEmulator()) as server:
        monkeypatch.setenv("VK_API_URL", server.url + "/method/")
        result = CliRunner().invoke(
            main, ["credentials", "import", "--vk", str(SEED / "vk_creds.json")]
        )

    assert result.exit_code == 2, result.output
    assert "access_token: VK rejected the access token (error 5" in result.output
    assert "Saved block" not in result.output and "your_vk_access_token" not in result.output
    assert vk_credentials().access_token.get_secret_value() == "stored-before"


@pytest.mark.parametrize(
    ("view", "comment", "sent"),
    [
        ("0", "1", ("all", "members")),
        ("3", "0", ("by_link", "all")),
        (2, 4, ("editors", "nobody")),
        ("5", "members", ("donut", "members")),
        ("by_link", "nobody", ("by_link", "nobody")),
    ],
)
def test_vk_privacy_codes_and_names_are_the_community_values(
    seed_config: Path, view: object, comment: object, sent: tuple[str, str]
) -> None:
    """dev.vk.com/reference/objects/privacy, "Types of Community Privacy": "3" is by link."""
    data = json.loads(seed_config.read_text(encoding="utf-8"))
    data["platforms"]["vk"] |= {"default_privacy": view, "privacy_comment": comment}
    seed_config.write_text(json.dumps(data), encoding="utf-8")
    vk = load_app_config(seed_config).platforms.vk
    assert (vk.default_privacy, vk.privacy_comment) == sent


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        (
            "default_privacy",
            "only_me",
            "platforms.vk.default_privacy: 'only_me' is a user's privacy, not a community's: "
            "VK uploads go to a community (group_id), and a community's videos take all (0), "
            "members (1), editors (2), by_link (3), donut (5)",
        ),
        (
            "default_privacy",
            "friends_of_friends",
            "platforms.vk.default_privacy: 'friends_of_friends' is a user's privacy",
        ),
        (
            "privacy_comment",
            "3",
            "platforms.vk.privacy_comment: '3' is unknown: VK uploads go to a community "
            "(group_id), and a community's videos take all (0), members (1), editors (2), "
            "nobody (4)",
        ),
        ("privacy_comment", "friends", "platforms.vk.privacy_comment: 'friends' is a user's"),
    ],
)
def test_a_user_privacy_for_the_community_is_refused_naming_the_field(
    seed_config: Path, field: str, value: str, problem: str
) -> None:
    data = json.loads(seed_config.read_text(encoding="utf-8"))
    data["platforms"]["vk"][field] = value
    seed_config.write_text(json.dumps(data), encoding="utf-8")

    result = CliRunner().invoke(main, ["config", "check"])

    assert result.exit_code == 2, result.output
    assert problem in " ".join(result.output.split())
    assert "Traceback" not in result.output


def test_the_seed_vk_credentials_file_is_read(tmp_path: Path) -> None:
    creds = read_vk_creds(SEED / "vk_creds.json")
    assert creds.group_id == "your_group_id"
    numeric = tmp_path / "vk_creds.json"
    numeric.write_text('{"access_token": "t", "group_id": 123456}', encoding="utf-8")
    assert read_vk_creds(numeric).group_id == "123456"


def test_free_zoom_checks_vk_copies_despite_the_seed_placeholder_group_id(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The seed's vk_creds.json keeps "your_group_id" (the real one is in app_config.json)."""
    import config.secrets
    from config.app_config import AppConfig
    from config.blocks import VkCredentials
    from flows.zoom_cleanup import RemoteCopies

    block = VkCredentials(access_token="t", group_id="your_group_id")
    monkeypatch.setattr(config.secrets, "vk_credentials", lambda: block)
    assert RemoteCopies(AppConfig()).vk.owner_id is None  # video.get names the owner itself


def test_a_vk_id_that_is_not_a_number_fails_clearly_where_it_is_used() -> None:
    assert vk_number("123456", "platforms.vk.group_id") == 123456
    assert vk_number("-123456", "platforms.vk.group_id") == 123456
    assert vk_number(None, "platforms.vk.group_id") is None
    assert (
        vk_id_problem("--5", "vk_album_id")
        == "vk_album_id is '--5', not a VK ID (a number such as 123456)"
    )
    with pytest.raises(ConfiguredIdError, match=r"platforms\.vk\.group_id is 'your_group_id'"):
        vk_number("your_group_id", "platforms.vk.group_id")


def test_unknown_keys_are_ignored_and_listed(seed_config: Path) -> None:
    edited(seed_config, {"comment": "kept from the old tool", "log_level": "INFO"})
    assert load_app_config(seed_config).notes()[:2] == [
        "comment: not a setting zoom-publisher knows; ignored",
        "log_level: not a setting zoom-publisher knows; ignored",
    ]
    result = CliRunner().invoke(main, ["config", "check"])
    assert result.exit_code == 0, result.output
    assert "note: comment: not a setting zoom-publisher knows; ignored" in result.output


@pytest.mark.parametrize(
    ("where", "key", "problem"),
    [
        (
            ("platforms", "youtube"),
            "default_privacyy",
            "platforms.youtube: unknown field 'default_privacyy': did you mean 'default_privacy'?",
        ),
        (
            ("video_title_mapping", "mapping_rules", 0),
            "youtube_title_templat",
            "video_title_mapping.mapping_rules[0]: unknown field 'youtube_title_templat': "
            "did you mean 'youtube_title_template'?",
        ),
        ((), "platform", "(top level): unknown field 'platform': did you mean 'platforms'?"),
    ],
)
def test_a_misspelt_key_is_an_error_naming_the_field(
    seed_config: Path, where: tuple[str | int, ...], key: str, problem: str
) -> None:
    data = json.loads(seed_config.read_text(encoding="utf-8"))
    section = data
    for part in where:
        section = section[part]
    section[key] = "x"
    seed_config.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_app_config(seed_config)
    assert caught.value.problems == [problem]


READING_COMMANDS = [
    ["list"],
    ["list", "--all"],
    ["sync", "--last", "3"],
    ["download", "--all"],
    ["process", "--recordings", "1"],
    ["upload", "--vk", "--all"],
    ["full-process", "--all", "--no-sync"],
    ["free-zoom", "--dry-run"],
    ["config", "check"],
    ["config", "title", "Название курса из Zoom"],
]


def break_config(seed_config: Path) -> None:
    """Two wrong values in the seed file: a list for an ID, a word for a number."""
    data = json.loads(seed_config.read_text(encoding="utf-8"))
    data["platforms"]["vk"]["group_id"] = [123456]
    data["upload_settings"]["retry_attempts"] = "three"
    seed_config.write_text(json.dumps(data), encoding="utf-8")


@pytest.mark.parametrize("command", READING_COMMANDS, ids=" ".join)
def test_commands_that_read_app_config_refuse_a_wrong_one_first(
    seed_config: Path, command: list[str]
) -> None:
    break_config(seed_config)
    result = CliRunner().invoke(main, command)
    assert result.exit_code == 2, result.output
    assert "platforms.vk.group_id: Input should be a valid string" in result.output
    assert "upload_settings.retry_attempts: Input should be a valid integer" in result.output
    assert "Traceback" not in result.output
    assert "No recordings" not in result.output
    assert "init-db" not in result.output  # refused before the store is opened


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """The command in a fresh interpreter, listing every module it imports on stderr."""
    return subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "flows.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


def imported_prefect(importtime: str) -> bool:
    return re.search(r"\|\s+prefect(\.|$)", importtime, re.MULTILINE) is not None


@pytest.mark.parametrize("command", [["list"], ["upload", "--vk", "--all"], ["sync"]], ids=" ".join)
def test_a_wrong_config_stops_before_prefect_is_imported(
    seed_config: Path, command: list[str]
) -> None:
    break_config(seed_config)
    result = run_cli(*command)
    assert result.returncode == 2, result.stderr
    assert "platforms.vk.group_id: Input should be a valid string" in result.stderr
    assert "Traceback" not in result.stderr
    assert not imported_prefect(result.stderr)


def test_list_with_the_seed_config_never_imports_prefect(seed_config: Path) -> None:
    assert run_cli("init-db").returncode == 0
    result = run_cli("list", "--all")
    assert result.returncode == 0, result.stderr
    assert "No recordings (all)" in result.stdout
    assert not imported_prefect(result.stderr)
