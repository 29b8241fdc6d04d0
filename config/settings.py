"""Process-wide settings read from the environment or `.env` (DESIGN.md §3)."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from config.zoom_views import DEFAULT_VIEW_PRIORITY

DEFAULT_DATA_DIR = Path("data")


def _default_workers() -> int:
    return max(1, os.cpu_count() or 1)


class Settings(BaseSettings):
    """Everything that may differ between machines. Secrets live in Prefect blocks, not here."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    database_url: str | None = Field(default=None, description="SQLAlchemy URL of the status store")
    database_block: str | None = Field(
        default=None, description="A SqlAlchemyConnector block holding the store's connection"
    )
    media_dir: Path = Path("video")
    app_config: Path = Path("config/app_config.json")
    data_dir: Path = DEFAULT_DATA_DIR

    # None: the host the token response names (`api_url`: other regions, ZoomGov), else
    # https://api.zoom.us/v2. Set it only to force a host (a proxy, the sandbox).
    zoom_api_url: str | None = None
    zoom_oauth_url: str = "https://zoom.us/oauth/token"
    youtube_api_url: str = "https://www.googleapis.com/"
    vk_api_url: str = "https://api.vk.com/method/"

    ffmpeg_binary: str | None = None

    # Zoom webhook (`zoom-publisher webhook`): the app's secret token, else the Prefect Secret
    # block `zoom-webhook-secret-token`; the deployment each event starts.
    zoom_webhook_secret_token: SecretStr | None = None
    webhook_deployment: str = "full-pipeline/on-demand"

    # Sync filters (the seed's defaults).
    min_duration_min: float = 30
    min_size_mb: float = 40
    sync_days: int = 14
    mp4_view_priority: list[str] = list(DEFAULT_VIEW_PRIORITY)

    # Silence trimming (the seed's defaults).
    silence_threshold_db: float = -40.0
    silence_min_duration: float = 2.0
    trim_padding: float = 5.0

    # Concurrency per stage.
    download_concurrency: int = 3
    process_concurrency: int = Field(default_factory=_default_workers)
    upload_concurrency: int = 2

    # Network behaviour.
    http_timeout: float = 60.0
    http_retry_attempts: int = 5
    http_backoff_base: float = 1.0
    # Seconds a run waits out a 429's Retry-After; a longer wait (Zoom's daily limit) defers the
    # account's sync to a later run instead of failing or retrying blindly.
    rate_limit_patience: float = 300.0
    min_free_disk_mb: int = 512

    # Claims and retries.
    lease_seconds: int = 900
    max_attempts: int = 3  # runs that may try one recording's stage before it stays FAILED
    task_retries: int = 2  # Prefect retries of a task on a transient error, within one run
    task_retry_backoff: float = 10.0  # seconds, doubled per retry, with jitter

    @property
    def resolved_database_url(self) -> str:
        """`DATABASE_URL`, the connection of the `DATABASE_BLOCK` block, or the embedded SQLite
        file under `data/`."""
        if self.database_url:
            return self.database_url
        if self.database_block:
            from config.store_block import database_url_from_block

            return database_url_from_block(self.database_block)
        return f"sqlite:///{(self.data_dir / 'zoom_publisher.db').as_posix()}"

    @property
    def unprocessed_dir(self) -> Path:
        return self.media_dir / "unprocessed_video"

    @property
    def processing_dir(self) -> Path:
        return self.media_dir / "processing"

    @property
    def processed_dir(self) -> Path:
        return self.media_dir / "processed_video"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process (cached; tests call `get_settings.cache_clear()`)."""
    return Settings()
