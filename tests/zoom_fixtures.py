"""A running Zoom emulator whose accounts are saved as Prefect blocks, for flow-level tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from config.blocks import ZoomAccount
from config.secrets import save_zoom_account
from config.settings import get_settings
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
