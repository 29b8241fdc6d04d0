"""Failure alerts reach the destination `alerts setup` chose (a webhook receiver, an SMTP server,
both local): with what an operator needs to act, and with no secret anywhere."""

from __future__ import annotations

import json
import logging
import socketserver
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from click.testing import CliRunner
from factories import add_recording
from prefect.variables import Variable

from config.alert_blocks import ALERT_BLOCK_VARIABLE, destination_reference
from config.settings import get_settings
from flows.alerts import WAIT_ALERTS_VARIABLE, send_run_alerts
from flows.cli import main
from flows.process import process_flow
from integrations.store.models import Publication
from integrations.store.publications import PublicationStore
from integrations.store.repository import RecordingStore
from integrations.store.states import Platform, ProcessingStatus

SECRET_PATH = "/hooks/T01/s3cr3t-t0ken"


class Receiver:
    """A webhook receiver on loopback: keeps every JSON body, answers `status`."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((self.path, json.loads(body)))
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}{SECRET_PATH}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def texts(self) -> list[str]:
        return [body["text"] for _, body in self.received]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = Receiver()
    yield started
    started.server.shutdown()
    started.server.server_close()


@pytest.fixture
def alerts_store(
    prefect_harness: None, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[RecordingStore]:
    """An empty store, and no alert destination before or after (the harness is shared)."""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    RecordingStore(url).upgrade()
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()
    for name in (ALERT_BLOCK_VARIABLE, WAIT_ALERTS_VARIABLE):
        Variable.unset(name)
    store = RecordingStore.open(url)
    yield store
    store.dispose()
    for name in (ALERT_BLOCK_VARIABLE, WAIT_ALERTS_VARIABLE):
        Variable.unset(name)


def test_a_failed_recording_is_alerted_with_its_title_and_reason(
    alerts_store: RecordingStore,
    receiver: Receiver,
    tmp_path: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="httpx")  # it logs every request's URL at INFO
    runner = CliRunner()
    setup = runner.invoke(main, ["alerts", "setup", "--webhook", receiver.url])
    assert setup.exit_code == 0, setup.output
    assert "webhook at 127.0.0.1" in setup.output
    assert receiver.received[0][0] == SECRET_PATH
    assert "alerts are set up" in receiver.texts()[0]
    shown = runner.invoke(main, ["alerts", "show"])
    assert "webhook at 127.0.0.1" in shown.output

    source = tmp_path / "video" / "unprocessed_video" / "algebra.mp4"
    source.parent.mkdir(parents=True)
    source.write_bytes(b"not a video at all" * 100)
    row = add_recording(
        alerts_store,
        topic="Algebra lecture 3",
        status=ProcessingStatus.DOWNLOADED,
        source_path=str(source),
    )
    assert process_flow(return_state=True).is_failed()

    failed = alerts_store.get(row.id)
    assert failed.status == ProcessingStatus.FAILED and failed.status_reason
    assert len(receiver.received) == 2
    alert = receiver.texts()[1]
    assert f"recording {row.id} failed" in alert
    assert "Algebra lecture 3" in alert and failed.status_reason in alert
    assert "failed to process" in alert
    assert f"The next run tries again (attempt {failed.attempts} of 3)" in alert
    assert "HTTP Request: POST http://127.0.0.1" in caplog.text
    for text in (setup.output, shown.output, *receiver.texts(), caplog.text):
        assert "s3cr3t" not in text


def test_an_undelivered_test_alert_stores_nothing_and_names_no_secret(
    alerts_store: RecordingStore, receiver: Receiver
) -> None:
    receiver.status = 404
    setup = CliRunner().invoke(main, ["alerts", "setup", "--webhook", receiver.url])
    assert setup.exit_code == 1
    assert "HTTP 404" in setup.output and "nothing was stored" in setup.output
    assert "s3cr3t" not in setup.output and "Traceback" not in setup.output
    assert destination_reference() is None


def waiting_publication(
    store: RecordingStore, recording_id: int, platform: Platform, age: timedelta
) -> None:
    publications = PublicationStore(store)
    publications.get_or_create(recording_id, platform)
    until = datetime.now(UTC) + timedelta(hours=5)
    publications.mark_waiting(recording_id, platform, until, "the daily quota is used up")
    with store.session() as session:
        row = session.query(Publication).filter_by(recording_id=recording_id, platform=platform)
        row.update({"created_at": datetime.now(UTC) - age})


def hours_ago(hours: float) -> str:
    return (datetime.now(UTC) - timedelta(hours=hours)).isoformat()


def test_publishing_that_waits_for_quota_over_a_day_is_alerted_once_a_day(
    alerts_store: RecordingStore, receiver: Receiver
) -> None:
    from config.alert_blocks import save_destination, webhook_block

    save_destination(webhook_block(receiver.url))
    row = add_recording(alerts_store, topic="Physics 7", status=ProcessingStatus.PROCESSED)
    waiting_publication(alerts_store, row.id, Platform.YOUTUBE, timedelta(days=2))
    waiting_publication(alerts_store, row.id, Platform.VK, timedelta(hours=3))

    send_run_alerts([])
    assert len(receiver.received) == 1
    alert = receiver.texts()[0]
    assert f"#{row.id} Physics 7: YouTube has waited 2.0 days" in alert
    assert "the daily quota is used up" in alert and "VK" not in alert

    send_run_alerts([])
    assert len(receiver.received) == 1, "the same waits are not alerted again within a day"

    # Two hours later, the VK wait has passed a day (it was 22 hours old at the last alert).
    Variable.set(WAIT_ALERTS_VARIABLE, hours_ago(2), overwrite=True)
    waiting_publication(alerts_store, row.id, Platform.VK, timedelta(days=1, minutes=1))
    send_run_alerts([])
    assert len(receiver.received) == 2, "a wait that passed a day since is alerted at once"
    assert "VK has waited 1.0 days" in receiver.texts()[1]

    Variable.set(WAIT_ALERTS_VARIABLE, hours_ago(25), overwrite=True)
    send_run_alerts([])
    assert len(receiver.received) == 3, "waits still there a day later are alerted again"


EMAIL_OPTIONS = [
    *("--email", "ops@example.org", "--smtp-from", "zp@example.org"),
    *("--smtp-host", "127.0.0.1", "--smtp-security", "none"),
]


class SmtpSink(socketserver.ThreadingTCPServer):
    """The SMTP a relay speaks, enough to take one message; keeps what it received."""

    allow_reuse_address = True

    def __init__(self) -> None:
        self.messages: list[bytes] = []
        sink = self

        class Session(socketserver.StreamRequestHandler):
            def reply(self, line: str) -> None:
                self.wfile.write(line.encode() + b"\r\n")

            def handle(self) -> None:
                self.reply("220 sink")
                while line := self.rfile.readline():
                    verb = line[:4].upper()
                    if verb == b"DATA":
                        self.reply("354 go on")
                        data = b""
                        while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                            data += chunk
                        sink.messages.append(data)
                        self.reply("250 queued")
                    elif verb == b"QUIT":
                        self.reply("221 bye")
                        return
                    else:
                        self.reply("250 ok")

        super().__init__(("127.0.0.1", 0), Session)


def test_alerts_by_email_through_an_smtp_server(alerts_store: RecordingStore) -> None:
    sink = SmtpSink()
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    try:
        port = str(sink.server_address[1])
        setup = CliRunner().invoke(main, ["alerts", "setup", *EMAIL_OPTIONS, "--smtp-port", port])
    finally:
        sink.shutdown()
        sink.server_close()
    assert setup.exit_code == 0, setup.output
    assert "e-mail to ops@example.org" in setup.output
    mail = message_from_bytes(sink.messages[0])
    assert mail["To"] == "ops@example.org" and mail["From"] == "zp@example.org"
    assert mail["Subject"] == "zoom-publisher: alerts are set up"
    assert destination_reference() == "smtp-email/zoom-publisher-alerts"
