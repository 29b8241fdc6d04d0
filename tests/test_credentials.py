"""Seed credential files into Prefect blocks; secrets never shown, logged or stored in clear."""

from __future__ import annotations

import json
import logging
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from prefect_servers import seed_prefect_home, without_prefect_settings

from config.app_config import ConfigError
from config.credentials import read_youtube_creds, read_zoom_creds
from config.settings import get_settings
from flows.cli import main
from integrations.sandbox.server import LoopbackServer
from integrations.sandbox.vk import VkEmulator

ZOOM_SECRET = "zoom-secret-Zx81"
YOUTUBE_CLIENT_SECRET = "yt-client-secret-Qp02"
REFRESH_TOKEN = "1//refresh-token-Lm33"
VK_TOKEN = "vk1.a.token-Rt44"
SECRETS = (ZOOM_SECRET, YOUTUBE_CLIENT_SECRET, REFRESH_TOKEN, VK_TOKEN)


def _json(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@pytest.fixture
def vk_sandbox(monkeypatch: pytest.MonkeyPatch):
    """The VK emulator as VK_API_URL, taking `VK_TOKEN` as a user's token."""
    emulator = VkEmulator()
    emulator.valid_tokens.add(VK_TOKEN)
    with LoopbackServer(emulator) as server:
        monkeypatch.setenv("VK_API_URL", server.url + "/method/")
        get_settings.cache_clear()
        yield emulator


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
    vk_sandbox: VkEmulator,
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
    assert "VK: VK takes the token as a user token" in imported.output
    assert "may upload videos there" in imported.output
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
    seed_files: dict[str, Path], prefect_database: Path, tmp_path: Path
) -> None:
    """No PREFECT_API_URL: Prefect's local ephemeral server under PREFECT_HOME keeps the blocks."""
    home = seed_prefect_home(prefect_database, tmp_path / "prefect-home")
    env = without_prefect_settings()
    env |= {"PREFECT_HOME": str(home), "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120"}
    env["VK_API_URL"] = "http://127.0.0.1:9/method/"  # no VK either: the token is not checked
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
    assert "the VK token was not checked" in result.stdout
    assert VK_TOKEN not in result.stdout + result.stderr
    database = home / "prefect.db"
    with sqlite3.connect(database) as connection:
        names = [row[0] for row in connection.execute("SELECT name FROM block_document")]
    assert "vk" in names
    assert VK_TOKEN.encode() not in database.read_bytes(), "the token is stored in plain text"


# ---- the VK token: a user's, never a community's ---------------------------------------------


def test_a_community_token_is_refused_before_anything_is_saved(
    prefect_harness: None, vk_sandbox: VkEmulator, seed_files: dict[str, Path]
) -> None:
    """video.* methods take a user token only (VKCOM/vk-api-schema video/methods.json)."""
    from config.blocks import VK_BLOCK, VkCredentials
    from config.secrets import vk_credentials

    VkCredentials(access_token="stored-before", group_id="1").save(VK_BLOCK, overwrite=True)
    token = vk_sandbox.community_token(123456)
    community = _json(seed_files["vk"], {"access_token": token, "group_id": 123456})

    result = CliRunner().invoke(
        main, ["credentials", "import", "--zoom", str(seed_files["zoom"]), "--vk", str(community)]
    )

    assert result.exit_code == 2, result.output
    output = " ".join(result.output.split())
    assert f"{community} is not valid: access_token: VK refused video.getAlbums (error 27" in output
    assert "the token is a community token" in output
    assert "Create a user access token of an administrator of the community" in output
    assert "Saved block" not in output
    assert vk_credentials().access_token.get_secret_value() == "stored-before"
    assert token not in output


def test_credentials_import_warns_when_the_user_may_not_upload_to_the_community(
    prefect_harness: None, vk_sandbox: VkEmulator, seed_files: dict[str, Path]
) -> None:
    vk_sandbox.groups[123456] = {"is_admin": 0, "can_upload_video": 0}
    result = CliRunner().invoke(main, ["credentials", "import", "--vk", str(seed_files["vk"])])
    assert result.exit_code == 0, result.output
    assert "Saved block vk-credentials/vk" in result.output
    assert "warning: the token's user may not upload videos to community" in result.output


@pytest.fixture
def vk_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = _json(
        tmp_path / "app_config.json",
        {"platforms": {"vk": {"enabled": True, "group_id": 123456, "default_privacy": "0"}}},
    )
    monkeypatch.setenv("APP_CONFIG", str(path))
    return path


def test_config_check_online_catches_a_stored_community_token(
    prefect_harness: None, vk_sandbox: VkEmulator, vk_config: Path
) -> None:
    from config.blocks import VK_BLOCK, VkCredentials

    token = vk_sandbox.community_token(123456)
    VkCredentials(access_token=token, group_id="your_group_id").save(VK_BLOCK, overwrite=True)

    result = CliRunner().invoke(main, ["config", "check", "--online"])

    assert result.exit_code == 2, result.output
    output = " ".join(result.output.split())
    assert "VK refused video.getAlbums (error 27: group authorization failed)" in output
    assert "user access token of an administrator of the community" in output
    assert token not in output


def test_config_check_online_passes_a_user_token_and_points_at_a_closed_community(
    prefect_harness: None, vk_sandbox: VkEmulator, vk_config: Path
) -> None:
    from config.blocks import VK_BLOCK, VkCredentials

    VkCredentials(access_token=VK_TOKEN, group_id="your_group_id").save(VK_BLOCK, overwrite=True)
    vk_sandbox.groups[123456] = {"is_closed": 1}

    result = CliRunner().invoke(main, ["config", "check", "--online"])

    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())
    assert "VK: VK takes the token as a user token" in output
    assert "administrator of community 'Community 123456' (123456)" in output
    assert "privacy all (0) is only for open communities" in output
    assert len(vk_sandbox.calls("POST", r"groups\.getById")) == 1


def test_a_run_reads_each_credentials_block_once_and_the_next_run_reads_them_anew(
    prefect_harness: None,
) -> None:
    from prefect import flow, task

    from config.blocks import VK_BLOCK, VkCredentials
    from config.secrets import read_once, save_zoom_account, vk_credentials, zoom_account_block
    from flows.task_runner import thread_pool

    def secrets() -> tuple[str, str]:
        zoom = zoom_account_block(name).client_secret.get_secret_value()
        return zoom, vk_credentials().access_token.get_secret_value()

    @task
    def read_in_a_task() -> tuple[str, str]:
        return secrets()

    @flow(task_runner=thread_pool(2))
    def run() -> list[tuple[str, str]]:
        with read_once():
            seen = [secrets()]
            save_zoom_account("school@example.com", "AcC1", "cid-1", "zoom-2")
            VkCredentials(access_token="vk-2", group_id="1").save(VK_BLOCK, overwrite=True)
            futures = [read_in_a_task.submit() for _ in range(2)]
            return seen + [secrets()] + [future.result() for future in futures]

    name = save_zoom_account("school@example.com", "AcC1", "cid-1", "zoom-1")
    VkCredentials(access_token="vk-1", group_id="1").save(VK_BLOCK, overwrite=True)

    assert run() == [("zoom-1", "vk-1")] * 4  # the run's first read, in its tasks too
    assert secrets() == ("zoom-2", "vk-2")  # outside a run, and the next run, read them anew
    assert run()[0] == ("zoom-2", "vk-2")
