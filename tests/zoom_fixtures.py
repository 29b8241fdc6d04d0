"""A running Zoom emulator whose accounts are saved as Prefect blocks, for flow-level tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from config.blocks import ZoomAccount
from config.secrets import save_zoom_account
from config.settings import get_settings
from integrations.sandbox.demo import DemoRecording, DemoWorld, default_plan
from integrations.sandbox.server import LoopbackServer
from integrations.sandbox.zoom import SandboxAccount, ZoomEmulator


def forget_zoom_blocks() -> None:
    """Delete every saved Zoom account block (the harness is shared by the whole session)."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        try:
            documents = client.read_block_documents_by_type(ZoomAccount.get_block_type_slug())
        except Exception:  # the block type was never registered
            return
        for document in documents:
            client.delete_block_document(document.id)


def demo_plan_of(*topics: str) -> list[DemoRecording]:
    """The demo plan's recordings with these topics (every one of them), for a test whose
    point needs fewer than the whole plan."""
    plan = [r for r in default_plan() if r.topic in topics]
    assert {r.topic for r in plan} == set(topics), "a topic not in the demo plan"
    return plan


def save_block(account: SandboxAccount) -> str:
    return save_zoom_account(
        account.name, account.account_id, account.client_id, account.client_secret
    )


@contextmanager
def zoom_sandbox(monkeypatch: pytest.MonkeyPatch, **options) -> Iterator[ZoomEmulator]:
    """A Zoom emulator on loopback with ZOOM_API_URL/ZOOM_OAUTH_URL pointed at it."""
    emulator = ZoomEmulator(**options)
    with LoopbackServer(emulator):
        monkeypatch.setenv("ZOOM_API_URL", emulator.api_url)
        monkeypatch.setenv("ZOOM_OAUTH_URL", emulator.oauth_url)
        monkeypatch.setenv("HTTP_BACKOFF_BASE", "0.01")
        get_settings.cache_clear()
        forget_zoom_blocks()
        yield emulator
        forget_zoom_blocks()


@contextmanager
def demo_world_settings(
    demo: DemoWorld, monkeypatch: pytest.MonkeyPatch, database_url: str, **extra: str
) -> Iterator[DemoWorld]:
    """Point settings at `demo`'s emulators and `database_url` and save its Zoom accounts as
    blocks (forgotten again at the end); `extra` adds or overrides environment variables."""
    settings = {
        **demo.environment(),
        "DATABASE_URL": database_url,
        "APP_CONFIG": str(demo.write_app_config()),
        "HTTP_BACKOFF_BASE": "0.01",
        **extra,
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    forget_zoom_blocks()
    demo.save_credentials()
    yield demo
    forget_zoom_blocks()
