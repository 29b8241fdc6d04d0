"""Prefect's flow-run heartbeats: off while the Prefect server is a command's temporary one.

Prefect 3.9 emits a heartbeat event for every flow run (at its start, then every
`PREFECT_FLOWS_HEARTBEAT_FREQUENCY` seconds) so that an automation on a Prefect server can tell
a crashed run from a long one, and at the run's end waits for the thread that sends them, which
sleeps in 1 s steps: about 1 s per flow run, half of a sync that finds nothing new. Without
`PREFECT_API_URL` a command runs its flows against a temporary server that ends with it: no
automation can read those events, so they are not sent. With a server of its own (and for
deployments, which `serve` and workers run in processes of their own) Prefect's setting holds.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def heartbeats_only_where_read() -> Iterator[None]:
    """Flow runs started inside send no heartbeats when no Prefect server is configured."""
    import prefect.context
    from prefect.settings import PREFECT_API_URL

    if PREFECT_API_URL.value():
        yield
        return
    # None turns them off; the setting cannot say so from the environment (it takes 30 s or more).
    # A copy of the current settings with that one field changed: Prefect's `temporary_settings`
    # would build them anew from the environment and files (about 27 ms a run).
    current = prefect.context.get_settings_context()
    flows = current.settings.flows.model_copy(update={"heartbeat_frequency": None})
    settings = current.settings.model_copy(update={"flows": flows})
    with prefect.context.SettingsContext(profile=current.profile, settings=settings):
        yield
