"""`zoom-publisher auth youtube`: Google's consent (console fallback) into the Prefect block."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from prefect.exceptions import ObjectNotFound

from config.blocks import YOUTUBE_BLOCK, YouTubeCredentials
from config.secrets import youtube_credentials
from flows.cli import main
from integrations.sandbox.server import LoopbackServer
from integrations.sandbox.youtube import YouTubeEmulator


def test_console_consent_stores_the_refresh_token(
    prefect_harness: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the sandbox speaks plain HTTP
    emulator = YouTubeEmulator()
    with LoopbackServer(emulator):
        secrets_file = tmp_path / "client_secrets.json"
        secrets_file.write_text(json.dumps(emulator.client_config()), encoding="utf-8")
        redirect = f"http://localhost:1/?state=x&code={emulator.auth_code}\n"

        result = CliRunner().invoke(
            main,
            ["auth", "youtube", "--client-secrets", str(secrets_file), "--console"],
            input=redirect,
        )

    assert result.exit_code == 0, result.output
    assert "Stored the YouTube refresh token" in result.output
    assert emulator.refresh_token not in result.output
    stored = youtube_credentials()
    assert stored.refresh_token.get_secret_value() == emulator.refresh_token
    assert stored.client_id == emulator.client_id
    assert stored.token_uri == f"{emulator.base_url}/token"


def test_without_a_stored_client_it_asks_for_the_secrets_file(prefect_harness: None) -> None:
    with contextlib.suppress(ObjectNotFound):
        YouTubeCredentials.delete(YOUTUBE_BLOCK)
    result = CliRunner().invoke(main, ["auth", "youtube", "--console"])
    assert result.exit_code == 2
    assert "--client-secrets" in result.output
