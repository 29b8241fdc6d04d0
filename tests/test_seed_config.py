"""The files of the tool this project replaces load unchanged (../shared/notes/seed-config.md).

tests/seed_files/ holds that note's app_config.json and vk_creds.json byte for byte.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from config.app_config import ConfigError, ConfiguredIdError, load_app_config, vk_number
from config.credentials import read_vk_creds
from config.titles import render, resolve_thumbnail
from flows.cli import main

SEED = Path(__file__).resolve().parent / "seed_files"


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
    assert (vk.default_privacy, vk.privacy_comment) == ("all", "friends")  # VK codes "0", "1"
    assert config.upload_settings.supported_formats == ["mp4", "avi", "mov"]
    rule = config.video_title_mapping.mapping_rules[0]
    assert (rule.youtube_playlist_id, rule.vk_album_id) == ("PLAYLIST_ID", "ALBUM_ID")


def test_config_check_passes_on_the_seed_file_and_points_at_placeholder_ids(
    seed_config: Path,
) -> None:
    result = CliRunner().invoke(main, ["config", "check"])
    assert result.exit_code == 0, result.output
    assert "is valid: 1 mapping rules, platforms enabled: youtube, vk" in result.output
    assert "mapping_rules[0].vk_album_id is 'ALBUM_ID', not a VK ID" in result.output
    assert "group_id" not in result.output  # 123456 is a real-looking id


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
        ("assets/thumbs", "thumbs/a.png", "assets/thumbs/thumbs/a.png"),
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


def test_the_seed_vk_credentials_file_is_read(tmp_path: Path) -> None:
    creds = read_vk_creds(SEED / "vk_creds.json")
    assert creds.group_id == "your_group_id"
    numeric = tmp_path / "vk_creds.json"
    numeric.write_text('{"access_token": "t", "group_id": 123456}', encoding="utf-8")
    assert read_vk_creds(numeric).group_id == "123456"


def test_a_vk_id_that_is_not_a_number_fails_clearly_where_it_is_used() -> None:
    assert vk_number("123456", "platforms.vk.group_id") == 123456
    assert vk_number("-123456", "platforms.vk.group_id") == 123456
    assert vk_number(None, "platforms.vk.group_id") is None
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


def test_a_misspelt_key_is_an_error_naming_the_field(seed_config: Path) -> None:
    data = json.loads(seed_config.read_text(encoding="utf-8"))
    data["platforms"]["youtube"]["default_privacyy"] = "public"
    seed_config.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_app_config(seed_config)
    assert caught.value.problems == [
        "platforms.youtube: unknown field 'default_privacyy': did you mean 'default_privacy'?"
    ]


@pytest.mark.parametrize("command", [["list"], ["list", "--all"], ["config", "check"]])
def test_commands_that_read_app_config_refuse_a_wrong_one_first(
    seed_config: Path, command: list[str]
) -> None:
    data = json.loads(seed_config.read_text(encoding="utf-8"))
    data["platforms"]["vk"]["group_id"] = [123456]
    data["upload_settings"]["retry_attempts"] = "three"
    seed_config.write_text(json.dumps(data), encoding="utf-8")
    result = CliRunner().invoke(main, command)
    assert result.exit_code == 2, result.output
    assert "platforms.vk.group_id: Input should be a valid string" in result.output
    assert "upload_settings.retry_attempts: Input should be a valid integer" in result.output
    assert "Traceback" not in result.output
    assert "No recordings" not in result.output
