"""Commands on a read-only disk (issue 20, item 2): one line naming the path and the cause,
exit code 2, no traceback. The disks are small tmpfs mounts (root only: skipped elsewhere)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from disk_mounts import remount, tmpfs
from factories import add_recording

from config.settings import get_settings
from flows.cli import main
from integrations.store.repository import RecordingStore
from integrations.store.states import ProcessingStatus


def one_error(result) -> str:
    assert "Traceback" not in result.output, result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, result.output
    return lines[0]


@pytest.mark.parametrize("below", [False, True], ids=["on-it", "below-it"])
def test_init_db_with_the_data_dir_on_a_read_only_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, below: bool
):
    with tmpfs(tmp_path / "ro", "128k", read_only=True) as disk:
        data_dir = disk / "data" if below else disk
        monkeypatch.setenv("DATA_DIR", str(data_dir))
        get_settings.cache_clear()
        result = CliRunner().invoke(main, ["init-db"])

    assert result.exit_code == 2
    if below:  # the folder cannot even be made
        expected = f"Error: cannot write {data_dir}: {disk} is on a read-only file system"
    else:
        expected = (
            f"Error: cannot write the status store {disk / 'zoom_publisher.db'}: {disk} is on "
            "a read-only file system (DATA_DIR, or DATABASE_URL)"
        )
    assert one_error(result) == expected


def test_clean_on_a_read_only_media_disk(
    prefect_harness: None, store: RecordingStore, tmp_path: Path
):
    with tmpfs(tmp_path / "media", "128k") as disk:
        video = disk / "1-Lecture.mp4"
        video.write_bytes(b"\0" * 1024)
        add_recording(store, status=ProcessingStatus.UPLOADED, processed_path=str(video))
        remount(disk, "ro")
        result = CliRunner().invoke(main, ["clean", "--days", "0"])

        assert video.exists()
    assert result.exit_code == 2
    assert one_error(result) == (
        f"Error: cannot write {video}: {disk} is on a read-only file system"
    )
    assert store.list()[0].status == ProcessingStatus.UPLOADED  # not marked cleaned


def test_a_command_whose_temporary_prefect_server_cannot_write_its_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Checked before Prefect starts the server (which would die at start-up and be waited
    for until the start-up timeout)."""
    creds = tmp_path / "zoom_creds.json"
    creds.write_text(
        '{"accounts": [{"account": "a@example.com", "account_id": "x", '
        '"client_id": "y", "client_secret": "z"}]}'
    )
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setenv("PREFECT_PROFILES_PATH", str(tmp_path / "no-profiles.toml"))
    with tmpfs(tmp_path / "ro", "128k", read_only=True) as disk:
        monkeypatch.setenv("PREFECT_HOME", str(disk / "prefect"))
        result = CliRunner().invoke(main, ["credentials", "import", "--zoom", str(creds)])

    assert result.exit_code == 2
    assert one_error(result) == (
        f"Error: cannot write the temporary Prefect server's database {disk}/prefect/prefect.db: "
        f"{disk}/prefect is on a read-only file system (PREFECT_HOME; or set PREFECT_API_URL "
        "to a running Prefect server)"
    )
