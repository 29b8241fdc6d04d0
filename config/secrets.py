"""Credentials kept in Prefect blocks: import the seed's files, list them masked, load them.

Works against a running Prefect server (`PREFECT_API_URL`) or, without one, Prefect's local
ephemeral mode under `PREFECT_HOME`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import SecretStr

from config.blocks import (
    VK_BLOCK,
    YOUTUBE_BLOCK,
    VkCredentials,
    YouTubeCredentials,
    ZoomAccount,
    zoom_block_name,
)
from config.credentials import read_vk_creds, read_youtube_creds, read_zoom_creds
from config.errors import CredentialsMissingError
from config.prefect_sync import one_api_client, synchronous
from config.settings import Settings, get_settings

MASK = "********"
WEBHOOK_SECRET_BLOCK = "zoom-webhook-secret-token"
T = TypeVar("T")

# What a run has read of its credentials (see `read_once`); Prefect's task runner copies the
# flow's context into each task, so the tasks of one run share it.
_READ: ContextVar[dict[tuple[Any, ...], Any] | None] = ContextVar("credentials_read", default=None)
_READ_LOCK = threading.Lock()


@contextmanager
def read_once() -> Iterator[None]:
    """Inside (a flow run), each credentials block is read from Prefect once: the first read is
    kept for the rest. A run of 500 recordings read the Zoom account's blocks twice per
    download and YouTube's and VK's once per upload, each a request to a server busy with the
    run's own events. A block changed during the run is read by the next run."""
    reset = _READ.set({})
    try:
        yield
    finally:
        _READ.reset(reset)


def _read(key: tuple[Any, ...], load: Callable[[], T]) -> T:
    """`load()`, or inside `read_once` what it gave the first time (failures are not kept)."""
    kept = _READ.get()
    if kept is None:
        return load()
    with _READ_LOCK:
        if key in kept:
            return kept[key]
    value = load()
    with _READ_LOCK:
        return kept.setdefault(key, value)


@dataclass(frozen=True)
class StoredCredential:
    """One configured credential as `credentials show` prints it: secrets masked."""

    kind: str
    block: str
    details: dict[str, str]


@one_api_client()
def import_files(
    zoom: Path | None = None, youtube: Path | None = None, vk: Path | None = None
) -> list[str]:
    """Read the given seed files (all validated first) and save them as blocks; returns names."""
    zoom_file = read_zoom_creds(zoom) if zoom else None
    youtube_secrets = read_youtube_creds(youtube) if youtube else None
    vk_file = read_vk_creds(vk) if vk else None
    saved: list[str] = []
    for entry in zoom_file.accounts if zoom_file else []:
        name = save_zoom_account(
            entry.account, entry.account_id, entry.client_id, entry.client_secret
        )
        saved.append(f"zoom-account/{name}")
    if youtube_secrets:
        client, user = youtube_secrets.client, youtube_secrets.user
        block = YouTubeCredentials(
            client_id=client.client_id,
            client_secret=client.client_secret,
            refresh_token=user.refresh_token,
            token_uri=user.token_uri or client.token_uri,
            auth_uri=client.auth_uri,
        )
        if user.scopes:
            block.scopes = user.scopes
        block.save(YOUTUBE_BLOCK, overwrite=True)
        saved.append(f"youtube-credentials/{YOUTUBE_BLOCK}")
    if vk_file:
        VkCredentials(access_token=vk_file.access_token, group_id=vk_file.group_id).save(
            VK_BLOCK, overwrite=True
        )
        saved.append(f"vk-credentials/{VK_BLOCK}")
    return saved


@one_api_client()
def save_zoom_account(
    account: str, account_id: str, client_id: str, client_secret: SecretStr | str
) -> str:
    """Save (or replace) one Zoom account's block; returns the block's name."""
    name = zoom_block_name(account)
    ZoomAccount(
        account=account,
        account_id=account_id,
        client_id=client_id,
        client_secret=SecretStr(str(client_secret))
        if isinstance(client_secret, str)
        else client_secret,
    ).save(name, overwrite=True)
    return name


def _documents(block_type_slug: str, include_secrets: bool = False) -> list[tuple[str, dict]]:
    """(name, data) of every saved block document of one type (secret values obfuscated unless
    `include_secrets`)."""
    return _read(
        ("documents", block_type_slug, include_secrets),
        lambda: _read_documents(block_type_slug, include_secrets),
    )


def _read_documents(block_type_slug: str, include_secrets: bool) -> list[tuple[str, dict]]:
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError

    with get_client(sync_client=True) as client:
        try:
            documents = client.read_block_documents_by_type(
                block_type_slug, include_secrets=include_secrets
            )
        except (ObjectNotFound, PrefectHTTPStatusError) as exc:
            if isinstance(exc, PrefectHTTPStatusError) and exc.response.status_code != 404:
                raise
            return []  # the block type was never registered: nothing of that kind saved
    return [(d.name, d.data) for d in documents if d.name]


def _zoom_documents(include_secrets: bool = False) -> list[tuple[str, dict]]:
    """Every configured Zoom account's (block name, data), by name; at least one."""
    documents = sorted(_documents(ZoomAccount.get_block_type_slug(), include_secrets))
    if not documents:
        raise CredentialsMissingError(
            "no Zoom account configured: run `zoom-publisher credentials import --zoom FILE`"
        )
    return documents


def zoom_account_names() -> list[str]:
    """The block names of every configured Zoom account (secrets are loaded only where used)."""
    return [name for name, _ in _zoom_documents()]


def zoom_block_for(account: str) -> str:
    """The block of the Zoom account a recording names: by the account's name, or by its Zoom
    `account_id` (how the webhook stores an account that was not configured yet)."""
    documents = _documents(ZoomAccount.get_block_type_slug())
    by_name = zoom_block_name(account)
    if any(name == by_name for name, _ in documents):
        return by_name
    for name, data in documents:
        if data.get("account_id") == account:
            return name
    raise CredentialsMissingError(
        f"no Zoom account {account!r} is configured: run `zoom-publisher credentials import "
        "--zoom FILE` with it, then run the stage again"
    )


def zoom_account_blocks() -> dict[str, ZoomAccount]:
    """Every configured Zoom account by block name, secrets loaded, in one request to Prefect
    (a block load each cost a sync of 20 accounts 20 requests to a server busy with its runs);
    inside `read_once`, read and validated once."""
    return _read(
        ("zoom-accounts",),
        lambda: {name: ZoomAccount.model_validate(data) for name, data in _zoom_documents(True)},
    )


def zoom_accounts() -> list[ZoomAccount]:
    """Every configured Zoom account, secrets loaded."""
    return list(zoom_account_blocks().values())


def zoom_account_block(name: str) -> ZoomAccount:
    """One Zoom account's block, secrets loaded: inside `read_once` taken from the one read of
    them all, else loaded alone."""
    if _READ.get() is not None:
        found = zoom_account_blocks().get(name)
        if found is not None:
            return found
    return synchronous(ZoomAccount.load(name))


def youtube_credentials() -> YouTubeCredentials:
    try:
        return _read(
            ("block", YOUTUBE_BLOCK), lambda: synchronous(YouTubeCredentials.load(YOUTUBE_BLOCK))
        )
    except ValueError:
        raise CredentialsMissingError(
            "no YouTube credentials: run `zoom-publisher credentials import --youtube FILE` "
            "or `zoom-publisher auth youtube`"
        ) from None


def vk_credentials() -> VkCredentials:
    try:
        return _read(("block", VK_BLOCK), lambda: synchronous(VkCredentials.load(VK_BLOCK)))
    except ValueError:
        raise CredentialsMissingError(
            "no VK credentials: run `zoom-publisher credentials import --vk FILE`"
        ) from None


@one_api_client()
def describe() -> list[StoredCredential]:
    """What is configured, with every secret masked (never read, only marked as set)."""
    found: list[StoredCredential] = []
    for name, data in _documents(ZoomAccount.get_block_type_slug()):
        details = {k: str(data.get(k, "")) for k in ("account", "account_id", "client_id")}
        found.append(StoredCredential("Zoom", name, {**details, "client_secret": MASK}))
    for name, data in _documents(YouTubeCredentials.get_block_type_slug()):
        token = MASK if data.get("refresh_token") else "(none: run `zoom-publisher auth youtube`)"
        details = {"client_id": str(data.get("client_id", "")), "client_secret": MASK}
        found.append(StoredCredential("YouTube", name, {**details, "refresh_token": token}))
    for name, data in _documents(VkCredentials.get_block_type_slug()):
        details = {"group_id": str(data.get("group_id", "")), "access_token": MASK}
        found.append(StoredCredential("VK", name, details))
    return found


@one_api_client()
def store_youtube_authorization(
    client: dict[str, str], info: dict[str, object], block: YouTubeCredentials | None = None
) -> None:
    """Save the refresh token from Google's consent (and the OAuth client) in the block."""
    refresh = info.get("refresh_token")
    if not refresh:
        raise CredentialsMissingError(
            "Google returned no refresh token; revoke the app's access at "
            "myaccount.google.com/permissions and run `zoom-publisher auth youtube` again"
        )
    saved = block or YouTubeCredentials(
        client_id=client["client_id"], client_secret=client["client_secret"]
    )
    saved.refresh_token = SecretStr(str(refresh))
    saved.token_uri = str(info.get("token_uri") or client.get("token_uri") or saved.token_uri)
    saved.save(YOUTUBE_BLOCK, overwrite=True)


class WebhookSecretMissingError(CredentialsMissingError):
    """Neither `ZOOM_WEBHOOK_SECRET_TOKEN` nor the Secret block holds the token."""


def webhook_secret_token(settings: Settings | None = None) -> str:
    """The Zoom app's secret token: `ZOOM_WEBHOOK_SECRET_TOKEN`, else the Prefect Secret block
    `zoom-webhook-secret-token`. Raises `WebhookSecretMissingError` saying how to set one."""
    settings = settings or get_settings()
    configured = settings.zoom_webhook_secret_token
    if configured is not None and configured.get_secret_value().strip():
        return configured.get_secret_value().strip()
    from prefect.blocks.system import Secret

    try:
        block = synchronous(Secret.load(WEBHOOK_SECRET_BLOCK))
    except ValueError:  # "Unable to find block document named ..."
        block = None
    # `Secret.get()` would JSON-decode the value (a token of digits would become an int).
    value = block.value.get_secret_value() if block is not None else None
    if isinstance(value, str) and value.strip():
        return value.strip()
    raise WebhookSecretMissingError(
        "no Zoom webhook secret token: set ZOOM_WEBHOOK_SECRET_TOKEN, or save it in a Prefect "
        f"Secret block named `{WEBHOOK_SECRET_BLOCK}` (Prefect UI: Blocks > Secret, or "
        f"`Secret(value=TOKEN).save('{WEBHOOK_SECRET_BLOCK}')` from prefect.blocks.system). "
        "The token is on your Zoom app's Feature page, next to the event subscription."
    )
