"""Prefect block types that hold every secret: Zoom accounts, YouTube OAuth client and token, VK.

Blocks are the only place secrets are stored; fields are `SecretStr`, so reprs, logs and the
Prefect UI show them masked.
"""

from __future__ import annotations

import re

from prefect.blocks.core import Block
from pydantic import Field, SecretStr

YOUTUBE_BLOCK = "youtube"
VK_BLOCK = "vk"


class ZoomAccount(Block):
    """One Zoom account's Server-to-Server OAuth app."""

    _block_type_name = "Zoom Account"
    _block_type_slug = "zoom-account"
    _description = "Server-to-Server OAuth credentials of one Zoom account (zoom-publisher)."

    account: str = Field(description="A name for the account, e.g. its owner's e-mail")
    account_id: str
    client_id: str
    client_secret: SecretStr


class YouTubeCredentials(Block):
    """The Google OAuth client and the channel owner's refresh token."""

    _block_type_name = "YouTube Credentials"
    _block_type_slug = "youtube-credentials"
    _description = "Google OAuth client and refresh token for YouTube uploads (zoom-publisher)."

    client_id: str
    client_secret: SecretStr
    refresh_token: SecretStr | None = None
    token_uri: str = "https://oauth2.googleapis.com/token"
    auth_uri: str = "https://accounts.google.com/o/oauth2/auth"
    scopes: list[str] = Field(
        default_factory=lambda: [
            "https://www.googleapis.com/auth/youtube.upload",
            "https://www.googleapis.com/auth/youtube",
        ]
    )


class VkCredentials(Block):
    """A VK access token with video rights for the group that publishes."""

    _block_type_name = "VK Credentials"
    _block_type_slug = "vk-credentials"
    _description = "VK access token and group for video uploads (zoom-publisher)."

    access_token: SecretStr
    group_id: str


def block_name(text: str) -> str:
    """A valid block document name (lowercase letters, digits, dashes) made from any text."""
    name = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return name[:60] or "account"


def zoom_block_name(account: str) -> str:
    return f"zoom-{block_name(account)}"
