"""Flow runs started by a command send Prefect's heartbeats only to a server that outlives it."""

from __future__ import annotations

from prefect.settings import (
    PREFECT_API_URL,
    PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
    get_current_settings,
    temporary_settings,
)

from flows.heartbeats import heartbeats_only_where_read


def heartbeat_frequency() -> int | None:
    return get_current_settings().flows.heartbeat_frequency


def test_no_heartbeats_against_a_temporary_server() -> None:
    with temporary_settings(
        updates={PREFECT_API_URL: None}, restore_defaults={PREFECT_FLOWS_HEARTBEAT_FREQUENCY}
    ):
        assert heartbeat_frequency() == 180  # Prefect's default
        with heartbeats_only_where_read():
            assert heartbeat_frequency() is None  # the engine starts no heartbeat thread
        assert heartbeat_frequency() == 180


def test_heartbeats_as_configured_with_a_prefect_server() -> None:
    with (
        temporary_settings(
            updates={PREFECT_API_URL: "http://127.0.0.1:4200/api"},
            restore_defaults={PREFECT_FLOWS_HEARTBEAT_FREQUENCY},
        ),
        heartbeats_only_where_read(),
    ):
        assert heartbeat_frequency() == 180
