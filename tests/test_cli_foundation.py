"""The foundation commands: init-db, list, reset, config check, and clear errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from factories import add_recording

from flows.cli import main
from integrations.store.repository import RecordingStore
from integrations.store.states import Platform, PlatformStatus, ProcessingStatus

S = ProcessingStatus


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


def test_init_db_twice_is_harmless(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    store = RecordingStore(database_url)
    add_recording(store, topic="kept across init-db")
    first, second = run("init-db"), run("init-db")
    assert first.exit_code == 0 and second.exit_code == 0
    assert "up to date" in second.output
    assert [r.topic for r in store.list()] == ["kept across init-db"]
    store.dispose()


def test_init_db_creates_the_embedded_sqlite_file_by_default(tmp_path: Path) -> None:
    result = run("init-db")
    assert result.exit_code == 0, result.output
    assert "schema none -> " in result.output
    assert (tmp_path / "data" / "zoom_publisher.db").is_file()


def test_list_without_schema_says_to_run_init_db() -> None:
    result = CliRunner().invoke(main, ["list"])
    assert result.exit_code == 1
    assert "run `zoom-publisher init-db`" in result.output
    assert "Traceback" not in result.output


def test_list_shows_the_days_recordings_with_platform_status(store: RecordingStore) -> None:
    today = datetime.now(UTC)
    row = add_recording(store, topic="Algebra lecture", start_time=today, status=S.PROCESSED)
    add_recording(store, topic="Old one", start_time=datetime(2020, 1, 1, tzinfo=UTC))
    with store.session() as session:
        from integrations.store.models import Publication

        session.add(
            Publication(
                recording_id=row.id, platform=Platform.YOUTUBE, status=PlatformStatus.WAITING
            )
        )

    result = run("list")

    assert result.exit_code == 0, result.output
    assert "Algebra lecture" in result.output and "PROCESSED" in result.output
    assert "WAITING" in result.output
    assert "Old one" not in result.output
    assert "Old one" in run("list", "--all").output
    assert "Old one" in run("list", "--from", "2019-12-31", "--to", "2020-01-02").output


def test_reset_asks_first_and_moves_failed_rows_back(store: RecordingStore) -> None:
    row = add_recording(store)
    store.claim("download", "w", lease_seconds=60)
    store.transition(row.id, S.FAILED, worker="w", reason="disk full")

    declined = CliRunner().invoke(main, ["reset"], input="n\n")
    assert declined.exit_code == 1
    assert store.get(row.id).status == S.FAILED

    accepted = run("reset", "--yes")
    assert accepted.exit_code == 0, accepted.output
    assert f"{row.id}: FAILED -> INITIALIZED" in accepted.output
    assert store.get(row.id).status == S.INITIALIZED


def test_reset_names_unknown_ids(store: RecordingStore) -> None:
    result = CliRunner().invoke(main, ["reset", "--recordings", "99", "--yes"])
    assert result.exit_code == 2
    assert "no recording with ID 99" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["download"], "choose the recordings"),
        (["download", "--recordings", "1,x"], "'x' is not an ID or a range"),
        (["process", "--all", "--recordings", "1"], "exclude each other"),
        (["upload", "--all"], "--youtube, --vk or --all-platforms"),
    ],
)
def test_bad_selection_is_a_usage_error(args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def _write(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_malformed_app_config_names_each_field_exit_2(tmp_path: Path) -> None:
    config = {
        "video_title_mapping": {
            "mapping_rules": [{"pattern": "a"}, {"pattern": "b"}, {"thumbnail": "x.png"}],
            "date_format": "DD.MM.YYYY",
        },
        "platforms": {"youtube": {"default_privacy": "everyone"}},
        "upload_settings": {"retry_attempts": "many"},
    }
    path = _write(tmp_path / "app_config.json", config)
    result = subprocess.run(
        [sys.executable, "-m", "flows.cli", "config", "check", "--file", str(path)],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert result.returncode == 2
    assert "video_title_mapping.mapping_rules[2].pattern: missing" in result.stderr
    assert "platforms.youtube.default_privacy:" in result.stderr
    assert "upload_settings.retry_attempts:" in result.stderr
    assert "Traceback" not in result.stderr


def test_app_config_with_a_json_syntax_error(tmp_path: Path) -> None:
    path = tmp_path / "app_config.json"
    path.write_text('{"platforms": {"youtube": }', encoding="utf-8")
    result = CliRunner().invoke(main, ["config", "check", "--file", str(path)])
    assert result.exit_code == 2
    assert "line 1 column 27" in result.output


def test_example_config_is_valid() -> None:
    example = Path(__file__).resolve().parents[1] / "config" / "app_config.example.json"
    result = run("config", "check", "--file", str(example))
    assert result.exit_code == 0
    assert "2 mapping rules" in result.output


def test_reset_dry_run_shows_and_changes_nothing(store: RecordingStore) -> None:
    row = add_recording(store)
    store.claim("download", "w", lease_seconds=60)
    store.transition(row.id, S.FAILED, worker="w", reason="disk full")
    result = run("reset", "--dry-run")
    assert result.exit_code == 0 and "Dry run: nothing was changed." in result.output
    assert store.get(row.id).status == S.FAILED


def test_the_example_configs_thumbnails_ship_and_pass_the_upload_check() -> None:
    from config.app_config import load_app_config
    from integrations.thumbnails import check_thumbnail

    root = Path(__file__).resolve().parents[1]
    mapping = load_app_config(root / "config" / "app_config.example.json").video_title_mapping
    names = {r.thumbnail for r in mapping.mapping_rules} | {mapping.default_rules.thumbnail}
    for name in names:
        assert check_thumbnail(root / mapping.thumbnail_directory / name) in (
            "image/png",
            "image/jpeg",
        )


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flows.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=Path(__file__).resolve().parents[1],
        timeout=120,
    )


def test_a_temporary_prefect_server_that_does_not_start_is_one_line_exit_2(
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    # No time at all to start: what a machine too busy to start it in 120 s sees.
    env |= {
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "0",
    }
    result = _cli(["credentials", "show"], env)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("Error: the temporary Prefect server did not start within 0 s")
    assert "prefect server start" in lines[-1] and "PREFECT_API_URL" in lines[-1]


def test_commands_give_the_temporary_prefect_server_two_minutes_by_default() -> None:
    name = "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"
    env = {k: v for k, v in os.environ.items() if k != name}
    result = subprocess.run(
        [sys.executable, "-c", f"import os, flows.cli; print(os.environ[{name!r}])"],
        capture_output=True,
        text=True,
        env=env,
        cwd=Path(__file__).resolve().parents[1],
        timeout=60,
    )
    assert result.stdout.strip() == "120", result.stderr
