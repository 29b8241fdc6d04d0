"""Failure alerts, sent by the flow runs themselves to the destination `alerts setup` chose.

At the end of each stage run (download, process, upload, full pipeline):
- every recording the run left FAILED, with its title, the stage, the reason and what happens
  next (the next run tries again, or it waits for a person and `reset`);
- every publication still waiting for its platform's quota more than a day after its first
  upload attempt: at once when one is new to the list, else at most once a day.

Why the flow and not a Prefect automation: the run knows the recording's title and reason (an
automation sees a flow-run state), it works whichever way the run started (the CLI with
Prefect's temporary server, `serve`, a worker: automations need a long-lived server), it can use
blocks Prefect's server cannot load (the SMTP block), and a delivery that fails is one warning
in the run's own log. Alerts never change a run's outcome.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from config.alert_blocks import MAX_TEXT, destination_reference, secret_values
from config.settings import get_settings
from integrations.store.backlogs import QuotaWaits, quota_waits
from integrations.store.models import Recording
from integrations.store.states import STAGES, ProcessingStatus, restart_point
from tasks.common import get_store, run_logger

WAIT_ALERTS_VARIABLE = "zoom-publisher-wait-alert-sent"  # when the last wait alert went out
LONG_WAIT = timedelta(days=1)
PLATFORM_NAMES = {"youtube": "YouTube", "vk": "VK"}


class AlertNotSent(Exception):  # noqa: N818 - an outcome the caller reports
    """The destination did not take the alert; the message holds no secret."""


def destination() -> tuple[str, Any] | None:
    """`type/name` and the configured notification block, or None when alerts are not set up."""
    from prefect.blocks.core import Block

    import config.alert_blocks  # noqa: F401 - registers the SMTP block type for `load`

    reference = destination_reference()
    return (reference, Block.load(reference)) if reference else None


# The loggers of the HTTP clients notification blocks use (a logger's filter sees only its own
# records, not those of its children).
CLIENT_LOGGERS = ("httpx", "httpcore.http11", "httpcore.http2", "httpcore.connection", "apprise")


class MaskSecrets(logging.Filter):
    """Masks given secrets in log records (httpx logs every request's URL at INFO)."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = sorted(filter(None, secrets), key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = message
        for secret in self.secrets:
            masked = masked.replace(secret, "***")
        if masked != message:
            record.msg, record.args = masked, None
        return True


@contextmanager
def secrets_kept_out_of_logs(secrets: list[str]) -> Iterator[None]:
    """While delivering: a webhook URL is itself the secret, and HTTP clients log URLs."""
    mask = MaskSecrets(secrets)
    loggers = [logging.getLogger(name) for name in CLIENT_LOGGERS]
    for logger in loggers:
        logger.addFilter(mask)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(mask)


def deliver(block: Any, subject: str, body: str) -> None:
    """Send one alert; raise `AlertNotSent` with a reason that names no secret."""
    if len(body) > MAX_TEXT:
        body = body[: MAX_TEXT - 20].rsplit("\n", 1)[0] + "\n... (cut)"
    secrets = secret_values(block)
    try:
        with secrets_kept_out_of_logs(secrets), block.raise_on_failure():
            block.notify(body=body, subject=subject)
    except Exception as exc:
        raise AlertNotSent(why_not_sent(exc, secrets)) from None


def why_not_sent(exc: BaseException, secrets: list[str]) -> str:
    """The failure in one line: an HTTP status, or the error without secrets or URL paths."""
    import httpx

    if isinstance(exc, httpx.HTTPStatusError):
        return f"the receiver answered HTTP {exc.response.status_code}"
    text = " ".join(str(exc).split()) or type(exc).__name__
    for secret in sorted(secrets, key=len, reverse=True):
        if secret:
            text = text.replace(secret, "***")
    text = re.sub(r"(https?://[^/\s'\"]+)[^\s'\"]*", r"\1/...", text)
    return f"{type(exc).__name__}: {text}"


def failed_stage(recording: Recording) -> str:
    """The stage a FAILED recording failed in (the one its restart point feeds)."""
    start = restart_point(recording.status, recording.last_good_status)
    return next((name for name, (given, _, _) in STAGES.items() if given == start), "download")


def failure_alert(recordings: list[Recording], run: str) -> tuple[str, str]:
    """Subject and body for recordings a run left FAILED."""
    most = get_settings().max_attempts
    blocks = []
    for r in recordings:
        if r.attempts < most:
            then = f"The next run tries again (attempt {r.attempts} of {most})."
        else:
            then = f"No tries left: fix the cause, then `zoom-publisher reset --recordings {r.id}`."
        blocks.append(
            f"#{r.id} {r.topic} ({r.start_time:%Y-%m-%d %H:%M} UTC)\n"
            f"failed to {failed_stage(r)}: {r.status_reason or 'no reason recorded'}\n{then}"
        )
    count = len(recordings)
    subject = (
        f"zoom-publisher: recording {recordings[0].id} failed"
        if count == 1
        else f"zoom-publisher: {count} recordings failed"
    )
    return subject, "\n\n".join([*blocks, run])


def wait_alert(waits: QuotaWaits, now: datetime) -> tuple[str, str]:
    lines = []
    for r, p in waits.oldest:
        days = (now - p.created_at) / timedelta(days=1)
        until = f"until {p.waiting_until:%Y-%m-%d %H:%M} UTC" if p.waiting_until else "for now"
        lines.append(
            f"#{r.id} {r.topic}: {PLATFORM_NAMES.get(p.platform.value, p.platform.value)} "
            f"has waited {days:.1f} days, now {until}: {p.last_error or 'quota used up'}"
        )
    if more := waits.count - len(waits.oldest):
        lines.append(f"... and {more} more")
    plural = "s" if waits.count > 1 else ""
    subject = f"zoom-publisher: {waits.count} publication{plural} waiting for quota"
    return subject, "\n".join(lines)


def wait_alert_due(waits: QuotaWaits, last: str | None, now: datetime) -> bool:
    """Whether the wait alert goes out now: a wait that passed a day since the last alert (so
    was not in it), or a day since the last alert."""
    if not waits.count or waits.newest is None:
        return False
    if last is None:
        return True
    sent_at = datetime.fromisoformat(last)
    return now - sent_at >= LONG_WAIT or waits.newest + LONG_WAIT > sent_at


def this_run() -> str:
    from prefect.runtime import flow_run

    if not flow_run.id:
        return "zoom-publisher"
    return " ".join(filter(None, ["Flow run", flow_run.name, flow_run.ui_url]))


def send_run_alerts(failed_ids: list[int]) -> None:
    """Alert on the recordings this run left FAILED and on long quota waits; never raises."""
    from prefect.variables import Variable

    logger = run_logger()
    reference = "the alert destination"
    try:
        configured = destination()
        if configured is None:
            return
        reference, block = configured
        store = get_store()
        now = datetime.now(UTC)
        failed = store.list(ids=failed_ids) if failed_ids else []
        if failed := [r for r in failed if r.status == ProcessingStatus.FAILED]:
            deliver(block, *failure_alert(failed, this_run()))
        waits = quota_waits(store, now - LONG_WAIT)
        last = Variable.get(WAIT_ALERTS_VARIABLE, default=None)
        if wait_alert_due(waits, last, now):
            deliver(block, *wait_alert(waits, now))
            Variable.set(WAIT_ALERTS_VARIABLE, now.isoformat(), overwrite=True)
    except AlertNotSent as exc:
        logger.warning("Alert not sent through %s: %s", reference, exc)
    except Exception as exc:  # an alert must never change the run's outcome
        logger.warning("Alerts not sent: %s", why_not_sent(exc, []))
