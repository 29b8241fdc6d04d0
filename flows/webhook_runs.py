"""What a verified `recording.completed` leads to: the instance stored, its pipeline run started.

`integrations.webhook.app.create_app` verifies, deduplicates and acknowledges Zoom's events;
`RecordingCompletedHandler` is its callback. For each event it

1. maps the payload's `account_id` to a configured Zoom account (the `ZoomAccount` blocks);
   an account not configured yet (the webhook is often set up before `credentials import`)
   is stored under its Zoom `account_id`, which the download stage resolves once the account
   is imported, and one log line per such account says so,
2. stores the instance exactly as a sync would (`upsert_synced`: idempotent, the same filters,
   so a too-short recording lands SKIPPED),
3. starts the full pipeline for the row if it is INITIALIZED and its account is configured:
   a run of the deployment
   `settings.webhook_deployment` when a Prefect server is configured (`PREFECT_API_URL`),
   otherwise (or when that deployment does not exist) `full_pipeline_flow` in this process, in
   one background thread, one run at a time.

The event's `download_token` is dropped on arrival and never logged or stored. Its file URLs
(`/rec/webhook_download/...`) open only with that token, valid 24 hours, so the row keeps the
files' metadata without URLs: the download stage asks Zoom's API for them with the account's own
token (`tasks.download.api_files`), whenever that account is imported.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from config.errors import CredentialsMissingError
from config.prefect_sync import synchronous
from config.settings import Settings, get_settings
from integrations.store.repository import RecordingStore
from integrations.store.states import ProcessingStatus

logger = logging.getLogger("zoom_publisher.webhook")

Starter = Callable[[int], None]
"""Starts the full pipeline for one recording ID (and returns at once)."""


def configured_accounts() -> dict[str, str]:
    """`account_id -> account name` of every configured Zoom account (the ZoomAccount blocks)."""
    from config.secrets import zoom_accounts

    return {block.account_id: block.account for block in zoom_accounts()}


def without_urls(values: dict[str, Any]) -> dict[str, Any]:
    """`recording_values` with every file's `download_url` left empty (None): the event's URLs
    need its short-lived download token, the download stage gets lasting ones from the API."""
    for item in [*(values.get("video_files") or []), values.get("transcript_file")]:
        if isinstance(item, dict):
            item["download_url"] = None
    return values


@dataclass(frozen=True)
class Handled:
    """What one `recording.completed` led to (for logs and tests)."""

    uuid: str
    recording_id: int | None = None
    status: ProcessingStatus | None = None
    stored: str | None = None  # upsert_synced's "added" / "updated" / "unchanged"
    started: bool = False
    ignored: str | None = None  # why nothing was stored


class RecordingCompletedHandler:
    """The webhook app's `on_recording_completed` callback (thread-safe).

    `store`: the status store (default: this process's). `accounts`: returns the configured
    `account_id -> account name` map (default: the ZoomAccount blocks; reloaded when an event
    names an account it does not know, so an account imported later is picked up). `starter`
    starts the pipeline for one recording ID (default: `PipelineStarter`). Each recording is
    started at most once by this handler.
    """

    def __init__(
        self,
        store: RecordingStore | None = None,
        *,
        accounts: Callable[[], Mapping[str, str]] = configured_accounts,
        starter: Starter | None = None,
        settings: Settings | None = None,
    ) -> None:
        self._store = store
        self._load_accounts = accounts
        self._accounts: Mapping[str, str] | None = None
        self.starter = starter if starter is not None else PipelineStarter(settings)
        self._settings = settings
        self._started: set[int] = set()
        self._waiting_accounts: set[str] = set()
        self._lock = threading.Lock()

    @property
    def settings(self) -> Settings:
        return self._settings or get_settings()

    @property
    def store(self) -> RecordingStore:
        if self._store is None:
            from tasks.common import get_store

            return get_store()
        return self._store

    def account_name(self, account_id: str) -> str | None:
        """The configured account with this Zoom `account_id`, or None."""
        with self._lock:
            known = self._accounts
        if known is None or account_id not in known:
            try:
                loaded = dict(self._load_accounts())
            except CredentialsMissingError:
                loaded = {}
            with self._lock:
                self._accounts = known = loaded
        return known.get(account_id)

    def __call__(self, job: Mapping[str, Any]) -> Handled:
        from integrations.zoom import parse_instance
        from tasks.sync import recording_values, why_skipped

        event = {k: v for k, v in job.items() if k != "download_token"}  # never kept
        uuid = str(event.get("uuid") or "")
        account_id = str(event.get("account_id") or "")
        if not account_id:
            logger.warning("Zoom webhook: instance %s names no Zoom account; ignored", uuid)
            return Handled(uuid, ignored="no account")
        account = self.account_name(account_id)
        if account is None:
            self._note_waiting(account_id)
        try:
            instance = parse_instance(event, self.settings.mp4_view_priority)
        except (KeyError, TypeError, ValueError) as exc:
            logger.warning("Zoom webhook: instance %s is not a usable recording: %s", uuid, exc)
            return Handled(uuid, ignored=f"unusable payload: {exc}")

        store = self.store
        skip = why_skipped(instance)
        stored = store.upsert_synced(
            instance.uuid, without_urls(recording_values(account or account_id, instance)), skip
        )
        row = store.by_uuid(instance.uuid)
        if row is None:  # deleted in between; nothing to run
            return Handled(uuid, stored=stored)
        if account is None:
            logger.info(
                "Zoom webhook: recording %s (%s) %s as %s; it waits for Zoom account %s",
                row.id,
                row.topic,
                stored,
                row.status.value,
                account_id,
            )
            return Handled(uuid, row.id, row.status, stored)
        if row.status != ProcessingStatus.INITIALIZED:
            logger.info(
                "Zoom webhook: recording %s (%s) %s as %s%s; no run started",
                row.id,
                row.topic,
                stored,
                row.status.value,
                f": {row.status_reason}" if row.status_reason else "",
            )
            return Handled(uuid, row.id, row.status, stored)
        with self._lock:
            fresh = row.id not in self._started
            self._started.add(row.id)
        if not fresh:
            logger.info("Zoom webhook: recording %s was already started", row.id)
            return Handled(uuid, row.id, row.status, stored)
        logger.info("Zoom webhook: recording %s (%s) %s; starting it", row.id, row.topic, stored)
        try:
            self.starter(row.id)
        except Exception:
            with self._lock:
                self._started.discard(row.id)
            logger.error(
                "Zoom webhook: could not start the pipeline for recording %s; it is stored "
                "INITIALIZED, so the next scheduled run publishes it",
                row.id,
            )
            raise
        return Handled(uuid, row.id, row.status, stored, started=True)

    def _note_waiting(self, account_id: str) -> None:
        """Say once per account that its recordings are stored but cannot be fetched yet."""
        with self._lock:
            fresh = account_id not in self._waiting_accounts
            self._waiting_accounts.add(account_id)
        if fresh:
            logger.warning(
                "Zoom webhook: no configured Zoom account can fetch the files of Zoom account "
                "%s yet; its recordings are stored and wait. Import it with `zoom-publisher "
                "credentials import --zoom FILE`: the next run picks them up",
                account_id,
            )


class InProcessRunner:
    """Runs `full_pipeline_flow(recording_ids=..., sync=False)` in one background thread.

    One run at a time; IDs that arrive while a run is busy wait and go together into the next.
    `run(ids)` replaces the flow call (tests).
    """

    def __init__(self, run: Callable[[list[int]], None] | None = None) -> None:
        self._run = run or run_pipeline_here
        self._pending: list[int] = []
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self.busy_with: list[int] = []

    def __call__(self, recording_id: int) -> None:
        with self._cond:
            if recording_id not in self._pending:
                self._pending.append(recording_id)
            if self._thread is None or not self._thread.is_alive():
                # Daemon: stopping the server does not wait for a long upload; the rows' leases
                # run out and the next run takes them over where they stopped.
                self._thread = threading.Thread(
                    target=self._loop, name="zoom-hook-pipeline", daemon=True
                )
                self._thread.start()
            self._cond.notify()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._pending:
                    self._cond.wait()
                batch, self._pending = self._pending, []
                self.busy_with = batch
            try:
                self._run(batch)
            except Exception:
                logger.exception("Zoom webhook: the pipeline run for recordings %s failed", batch)
            finally:
                with self._cond:
                    self.busy_with = []
                    self._cond.notify_all()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until nothing is queued or running; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._pending and not self.busy_with, timeout)


def run_pipeline_here(recording_ids: list[int]) -> None:
    """The full pipeline for these recordings, without a sync, in this process."""
    from flows.pipeline import full_pipeline_flow

    logger.info("Zoom webhook: running the pipeline here for recordings %s", recording_ids)
    state = full_pipeline_flow(recording_ids=recording_ids, sync=False, return_state=True)
    logger.info(
        "Zoom webhook: the pipeline run for recordings %s ended %s%s",
        recording_ids,
        state.name,
        f": {state.message}" if state.message else "",
    )


def prefect_server_configured() -> bool:
    """Whether a Prefect API is configured (`PREFECT_API_URL`, from the env or a profile)."""
    from prefect.settings import get_current_settings

    return bool(get_current_settings().api.url)


class PipelineStarter:
    """Start the full pipeline for a recording: a deployment run, or in-process without one.

    With a Prefect server configured, creates a run of `settings.webhook_deployment` with
    `recording_ids=[id], sync=False` and returns at once (a worker runs it). When that
    deployment does not exist on the server, or no server is configured, hands the ID to an
    `InProcessRunner`.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        local: Starter | None = None,
        server_configured: Callable[[], bool] = prefect_server_configured,
    ) -> None:
        self._settings = settings
        self.local = local or InProcessRunner()
        self._server_configured = server_configured

    def __call__(self, recording_id: int) -> None:
        if self._server_configured() and self._run_deployment(recording_id):
            return
        self.local(recording_id)

    def _run_deployment(self, recording_id: int) -> bool:
        from prefect.deployments import run_deployment
        from prefect.exceptions import ObjectNotFound

        name = (self._settings or get_settings()).webhook_deployment
        try:
            flow_run = synchronous(
                run_deployment(
                    name,
                    parameters={"recording_ids": [recording_id], "sync": False},
                    timeout=0,
                    as_subflow=False,
                    tags=["zoom-webhook"],
                )
            )
        except ObjectNotFound:
            logger.warning(
                "Zoom webhook: deployment %s does not exist on the Prefect server (create it "
                "with `prefect --no-prompt deploy --all`); running recording %s in this process",
                name,
                recording_id,
            )
            return False
        logger.info(
            "Zoom webhook: started flow run %s of %s for recording %s",
            flow_run.name,
            name,
            recording_id,
        )
        return True
