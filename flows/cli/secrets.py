"""Credentials in Prefect blocks: `credentials import|show` and `auth youtube`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from flows.cli.common import UsageProblem, friendly_errors, out

if TYPE_CHECKING:
    from integrations.vk import PublishingCheck


def check_vk_token(
    token: str, group_id: int | None, privacy_view: str | None = None
) -> PublishingCheck:
    """Ask VK whether `token` can publish to `group_id`: no retries, 10 s at most per call.

    Only VK can tell a community token from a user token (both look alike), so this needs the
    network; when VK is not reached, the answer is a note saying the token was not checked.
    """
    from integrations.http.retry import RetryPolicy
    from integrations.vk import VkClient

    client = VkClient(token, group_id=group_id, timeout=10, retry=RetryPolicy(attempts=1))
    return client.check_publishing(privacy_view)


def print_vk_notes(check: PublishingCheck) -> None:
    for note in check.notes:
        out.print(f"  VK: {note}", highlight=False)


@click.group()
def credentials() -> None:
    """Store Zoom, YouTube and VK credentials in Prefect blocks, and show what is stored."""


@credentials.command("import")
@click.option("--zoom", type=click.Path(path_type=Path), help="zoom_creds.json (seed format).")
@click.option("--youtube", type=click.Path(path_type=Path), help="youtube_creds.json.")
@click.option("--vk", type=click.Path(path_type=Path), help="vk_creds.json.")
@friendly_errors
def credentials_import(zoom: Path | None, youtube: Path | None, vk: Path | None) -> None:
    """Read the seed's credential files (any of the three) into Prefect blocks.

    The VK token is shown to VK first: one VK refuses (a community token, which video methods
    never take, or a revoked one) is not stored, and nothing else is either.
    """
    if not (zoom or youtube or vk):
        raise UsageProblem("give at least one of --zoom, --youtube, --vk")
    from config.secrets import import_files

    vk_check, group_problem = None, None
    if vk is not None:
        from config.app_config import ConfigError, vk_id_problem, vk_number
        from config.credentials import read_vk_creds

        vk_file = read_vk_creds(vk)
        field = f"group_id in {vk}"
        group_problem = vk_id_problem(vk_file.group_id, field)
        group = None if group_problem else vk_number(vk_file.group_id, field)
        vk_check = check_vk_token(vk_file.access_token.get_secret_value(), group)
        if vk_check.token_problem:
            raise ConfigError(str(vk), [f"access_token: {vk_check.token_problem}"])
    for name in import_files(zoom=zoom, youtube=youtube, vk=vk):
        out.print(f"Saved block {name}")
    if vk_check is not None:
        print_vk_notes(vk_check)
        if vk_check.community_problem:
            out.print(f"  warning: {vk_check.community_problem}", highlight=False)
        if group_problem:
            out.print(
                f"  note: {group_problem}; VK uploads use platforms.vk.group_id from "
                "app_config.json when it is set, and fail naming this field when not",
                highlight=False,
            )


@credentials.command("show")
@friendly_errors
def credentials_show() -> None:
    """List the configured credentials; secrets are always masked."""
    from rich.table import Table

    from config.secrets import describe

    stored = describe()
    if not stored:
        out.print("No credentials stored. Run `zoom-publisher credentials import --help`.")
        return
    table = Table("Kind", "Block", "Details", title="Configured credentials", title_justify="left")
    for item in stored:
        details = "\n".join(f"{k}: {v}" for k, v in item.details.items())
        table.add_row(item.kind, item.block, details)
    out.print(table)


@click.group()
def auth() -> None:
    """Authorise zoom-publisher with a platform."""


@auth.command("youtube")
@click.option(
    "--client-secrets",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Google's OAuth client JSON (default: the client already stored).",
)
@click.option("--console", "use_console", is_flag=True, help="Headless: paste the code instead.")
@click.option("--no-browser", is_flag=True, help="Print the consent URL instead of opening it.")
@friendly_errors
def auth_youtube(client_secrets: Path | None, use_console: bool, no_browser: bool) -> None:
    """Run Google's consent for the channel owner and store the refresh token in the block."""
    from config.errors import CredentialsMissingError
    from config.secrets import store_youtube_authorization, youtube_credentials
    from integrations.youtube import run_consent

    block = None
    if client_secrets is not None:
        from config.app_config import read_json
        from config.credentials import GoogleClient

        raw = read_json(client_secrets, "Google client secrets file", "download it from Google")
        inner = next(iter(raw.values())) if isinstance(raw, dict) and len(raw) == 1 else raw
        parsed = GoogleClient.model_validate(inner)
        client = {
            "client_id": parsed.client_id,
            "client_secret": parsed.client_secret.get_secret_value(),
            "auth_uri": parsed.auth_uri,
            "token_uri": parsed.token_uri,
        }
    else:
        try:
            block = youtube_credentials()
        except CredentialsMissingError:
            raise UsageProblem(
                "no OAuth client stored yet: give --client-secrets client_secrets.json"
            ) from None
        client = {
            "client_id": block.client_id,
            "client_secret": block.client_secret.get_secret_value(),
            "auth_uri": block.auth_uri,
            "token_uri": block.token_uri,
        }
    info = run_consent(
        {"installed": client},
        open_browser=not no_browser,
        console=use_console,
        print_fn=lambda text: out.print(text, highlight=False),
    )
    store_youtube_authorization(client, info, block)
    out.print(
        "Stored the YouTube refresh token in the Prefect block `youtube-credentials/youtube`."
    )
