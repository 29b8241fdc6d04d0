"""The seed's credential files (zoom, youtube and vk `*_creds.json`), validated.

These models only read the files; `integrations.blocks` stores what they hold in Prefect blocks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from config.app_config import ConfigError, ConfiguredId, describe_errors, read_json


class _File(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class ZoomAccountEntry(_File):
    account: str = Field(min_length=1)
    account_id: ConfiguredId = Field(min_length=1)
    client_id: ConfiguredId = Field(min_length=1)
    client_secret: SecretStr

    @field_validator("client_secret")
    @classmethod
    def _not_empty(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value():
            raise ValueError("must not be empty")
        return value


class ZoomCredsFile(_File):
    accounts: list[ZoomAccountEntry] = Field(min_length=1)


class YouTubeCredsFile(_File):
    client_secrets_file: Path
    credentials_file: Path


class VkCredsFile(_File):
    access_token: SecretStr
    group_id: ConfiguredId = Field(min_length=1)


class GoogleClient(_File):
    client_id: str
    client_secret: SecretStr
    token_uri: str = "https://oauth2.googleapis.com/token"
    auth_uri: str = "https://accounts.google.com/o/oauth2/auth"


class GoogleAuthorizedUser(_File):
    refresh_token: SecretStr
    token_uri: str = "https://oauth2.googleapis.com/token"
    scopes: list[str] = Field(default_factory=list)


class YouTubeSecrets(BaseModel):
    """Both Google files a `youtube_creds.json` points to."""

    client: GoogleClient
    user: GoogleAuthorizedUser


def _validated(model: type[BaseModel], data: object, source: Path) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(str(source), describe_errors(exc)) from None


def read_zoom_creds(path: Path) -> ZoomCredsFile:
    data = read_json(path, "Zoom credentials file", "give the path to your zoom_creds.json")
    return _validated(ZoomCredsFile, data, path)


def read_vk_creds(path: Path) -> VkCredsFile:
    data = read_json(path, "VK credentials file", "give the path to your vk_creds.json")
    return _validated(VkCredsFile, data, path)


def _resolve(path: Path, beside: Path) -> Path:
    """A path from a credentials file: as given (relative to the working folder) or beside it."""
    if path.is_absolute() or path.exists():
        return path
    return beside.parent / path


def read_youtube_creds(path: Path) -> YouTubeSecrets:
    """`youtube_creds.json` and the Google client-secrets and authorized-user files it names."""
    data = read_json(path, "YouTube credentials file", "give the path to your youtube_creds.json")
    pointers: YouTubeCredsFile = _validated(YouTubeCredsFile, data, path)
    secrets_path = _resolve(pointers.client_secrets_file, path)
    raw_client = read_json(
        secrets_path, "Google client secrets file", "download it from the Google Cloud console"
    )
    if isinstance(raw_client, dict) and len(raw_client) == 1:
        (kind,) = raw_client  # {"installed": {...}} or {"web": {...}}
        raw_client = raw_client[kind]
    user_path = _resolve(pointers.credentials_file, path)
    raw_user = read_json(
        user_path, "Google credentials file", "run `zoom-publisher auth youtube` to create one"
    )
    return YouTubeSecrets(
        client=_validated(GoogleClient, raw_client, secrets_path),
        user=_validated(GoogleAuthorizedUser, raw_user, user_path),
    )
