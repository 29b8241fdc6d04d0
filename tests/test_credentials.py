"""Seed credential files into Prefect blocks; secrets never shown, logged or stored in clear."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from config.app_config import ConfigError
from config.credentials import read_youtube_creds, read_zoom_creds
from flows.cli import main

ZOOM_SECRET = "zoom-secret-Zx81"
YOUTUBE_CLIENT_SECRET = "yt-client-secret-Qp02"
REFRESH_TOKEN = "1//refresh-token-Lm33"
VK_TOKEN = "vk1.a.token-Rt44"
SECRETS = (ZOOM_SECRET, YOUTUBE_CLIENT_SECRET, REFRESH_TOKEN, VK_TOKEN)


def _json(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@pytest.fixture
def seed_files(tmp_path: Path) -> dict[str, Path]:
    """The three credential files in the seed's formats (YouTube's pointing at Google's two)."""
    zoom = _json(
        tmp_path / "zoom_creds.json",
        {
            "accounts": [
                {
                    "account": "school@example.com",
                    "account_id": "AcC1",
                    "client_id": "cid-1",
                    "client_secret": ZOOM_SECRET,
                },
                {
                    "account": "Community Team",
                    "account_id": "AcC2",
                    "client_id": "cid-2",
                    "client_secret": ZOOM_SECRET + "b",
                },
            ]
        },
    )
    _json(
        tmp_path / "client_secrets.json",
        {
            "installed": {
                "client_id": "gid.apps.googleusercontent.com",
                "client_secret": YOUTUBE_CLIENT_SECRET,
                "token_uri": "http://127.0.0.1:9/token",
            }
        },
    )
    _json(
        tmp_path / "credentials.json",
        {
            "refresh_token": REFRESH_TOKEN,
            "token_uri": "http://127.0.0.1:9/token",
            "client_id": "gid.apps.googleusercontent.com",
            "client_secret": YOUTUBE_CLIENT_SECRET,
        },
    )
    youtube = _json(
        tmp_path / "youtube_creds.json",
        {"client_secrets_file": "client_secrets.json", "credentials_file": "credentials.json"},
    )
    vk = _json(tmp_path / "vk_creds.json", {"access_token": VK_TOKEN, "group_id": 123456})
    return {"zoom": zoom, "youtube": youtube, "vk": vk}


def test_seed_files_are_read(seed_files: dict[str, Path]) -> None:
    zoom = read_zoom_creds(seed_files["zoom"])
    assert [a.account_id for a in zoom.accounts] == ["AcC1", "AcC2"]
    youtube = read_youtube_creds(seed_files["youtube"])
    assert youtube.client.client_id == "gid.apps.googleusercontent.com"
    assert youtube.user.token_uri == "http://127.0.0.1:9/token"
    assert ZOOM_SECRET not in repr(zoom) and REFRESH_TOKEN not in repr(youtube)


def test_malformed_credentials_file_names_the_field(tmp_path: Path) -> None:
    bad = _json(
        tmp_path / "zoom_creds.json",
        {"accounts": [{"account": "a", "account_id": "x", "client_id": "y"}]},
    )
    with pytest.raises(ConfigError) as caught:
        read_zoom_creds(bad)
    assert caught.value.problems == ["accounts[0].client_secret: missing"]

    result = CliRunner().invoke(main, ["credentials", "import", "--zoom", str(bad)])
    assert result.exit_code == 2
    assert "accounts[0].client_secret: missing" in result.output
    assert "Traceback" not in result.output


def test_missing_referenced_google_file_is_explained(tmp_path: Path) -> None:
    pointers = _json(
        tmp_path / "youtube_creds.json",
        {"client_secrets_file": "nowhere.json", "credentials_file": "credentials.json"},
    )
    result = CliRunner().invoke(main, ["credentials", "import", "--youtube", str(pointers)])
    assert result.exit_code == 2
    assert "Google client secrets file not found" in result.output


def test_import_then_show_masks_every_secret(
    prefect_harness: None,
    seed_files: dict[str, Path],
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    from config.secrets import vk_credentials, youtube_credentials, zoom_accounts

    caplog.set_level(logging.DEBUG)
    runner = CliRunner()
    imported = runner.invoke(
        main,
        [
            "credentials",
            "import",
            "--zoom",
            str(seed_files["zoom"]),
            "--youtube",
            str(seed_files["youtube"]),
            "--vk",
            str(seed_files["vk"]),
        ],
        catch_exceptions=False,
    )
    shown = runner.invoke(main, ["credentials", "show"], catch_exceptions=False)

    assert imported.exit_code == 0, imported.output
    assert "zoom-account/zoom-school-example-com" in imported.output
    assert shown.exit_code == 0, shown.output
    assert "AcC1" in shown.output and "AcC2" in shown.output and "123456" in shown.output
    assert "********" in shown.output
    captured = imported.output + shown.output + caplog.text
    for secret in SECRETS:
        assert secret not in captured

    accounts = {a.account_id: a for a in zoom_accounts()}
    assert accounts["AcC1"].client_secret.get_secret_value() == ZOOM_SECRET
    assert youtube_credentials().refresh_token.get_secret_value() == REFRESH_TOKEN
    assert youtube_credentials().token_uri == "http://127.0.0.1:9/token"
    assert vk_credentials().group_id == "123456"
    assert ZOOM_SECRET not in repr(accounts["AcC1"])


def test_import_works_without_a_server_in_ephemeral_mode(
    seed_files: dict[str, Path], tmp_path: Path
) -> None:
    """No PREFECT_API_URL: Prefect's local ephemeral server under PREFECT_HOME keeps the blocks."""
    home = tmp_path / "prefect-home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env |= {"PREFECT_HOME": str(home), "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120"}
    result = subprocess.run(
        [sys.executable, "-m", "flows.cli", "credentials", "import", "--vk", str(seed_files["vk"])],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert result.returncode == 0, result.stderr
    assert "vk-credentials/vk" in result.stdout
    assert VK_TOKEN not in result.stdout + result.stderr
    database = home / "prefect.db"
    with sqlite3.connect(database) as connection:
        names = [row[0] for row in connection.execute("SELECT name FROM block_document")]
    assert "vk" in names
    assert VK_TOKEN.encode() not in database.read_bytes(), "the token is stored in plain text"
