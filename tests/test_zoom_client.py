"""ZoomClient against the Zoom emulator: auth, paging, windows, retries, encoding, deletion."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest

from config.settings import get_settings
from integrations.download import download_file
from integrations.http.retry import RetryPolicy, WaitTooLong, parse_retry_after
from integrations.sandbox.server import Fault, LoopbackServer
from integrations.sandbox.zoom import FileSpec, ManualClock, SandboxAccount, ZoomEmulator
from integrations.zoom import (
    ZoomAccount,
    ZoomAuthError,
    ZoomClient,
    ZoomNotFoundError,
    ZoomRateLimitError,
    ZoomRetryLaterError,
    ZoomUnavailableError,
)

START = date(2026, 8, 1)
END = date(2026, 10, 14)  # 75 days: three 30-day windows


@pytest.fixture
def zoom() -> Iterator[ZoomEmulator]:
    emulator = ZoomEmulator(page_size_cap=2)
    with LoopbackServer(emulator):
        yield emulator


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def make_client(
    zoom: ZoomEmulator, account: SandboxAccount | ZoomAccount, clock: ManualClock, attempts=4
) -> ZoomClient:
    creds = account.credentials if isinstance(account, SandboxAccount) else account
    retry = RetryPolicy(attempts=attempts, backoff_base=1.0, sleep=clock.sleep, jitter=lambda: 1.0)
    return ZoomClient(
        creds, api_url=zoom.api_url, oauth_url=zoom.oauth_url, timeout=5, retry=retry, clock=clock
    )


def at(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def populate(zoom: ZoomEmulator) -> dict[str, set[str]]:
    """2 accounts x 3 users, a meeting every 6 days per user over 75 days (+ outside ones)."""
    expected: dict[str, set[str]] = {}
    for name in ("acme", "globex"):
        account = zoom.add_account(name)
        expected[account.account_id] = set()
        for u in range(3):
            user = zoom.add_user(account)
            for n in range(13):
                day = START + timedelta(days=6 * n + u)
                m = zoom.add_meeting(account, user, topic=f"{name} {u} #{n}", start_time=at(day))
                if day <= END:
                    expected[account.account_id].add(m.uuid)
            zoom.add_meeting(account, user, topic="before", start_time=at(START) - timedelta(1))
            zoom.add_meeting(account, user, topic="after", start_time=at(END) + timedelta(1))
    return expected


def test_lists_every_instance_of_two_accounts_over_windows_and_pages(zoom, clock):
    expected = populate(zoom)
    for account in zoom.accounts.values():
        with make_client(zoom, account, clock) as client:
            first = client.instances(START, END)
            second = client.instances(START, END)
        assert {i.uuid for i in first} == expected[account.account_id]
        assert first == second  # a second list over the same range gives the same instances
        assert [i.start_time for i in first] == sorted(i.start_time for i in first)
    listing = zoom.calls("GET", r"/recordings$")
    assert all(r.query["page_size"] == "300" for r in listing)
    assert any(r.query.get("next_page_token") for r in listing)  # more than one page
    spans = {(r.query["from"], r.query["to"]) for r in listing}
    assert len(spans) == 3
    for first_day, last_day in spans:
        days = date.fromisoformat(last_day) - date.fromisoformat(first_day)
        assert days < timedelta(days=30)
    users_calls = zoom.calls("GET", r"^/v2/users$")
    assert all(
        r.query
        in ({"status": "active", "page_size": "300"}, {"status": "inactive", "page_size": "300"})
        or r.query.get("next_page_token")
        for r in users_calls
    )
    assert any(r.query.get("next_page_token") for r in users_calls)  # 3 users, pages of 2
    assert len(zoom.calls("POST", r"/oauth/token")) == 2  # one cached token per account


def test_emulator_answers_only_the_last_month_of_a_longer_range(zoom):
    account = zoom.add_account("acme")
    user = zoom.add_user(account)
    zoom.add_meeting(account, user, topic="old", start_time=at(date(2026, 8, 2)))
    recent = zoom.add_meeting(account, user, topic="new", start_time=at(date(2026, 10, 1)))
    token = httpx.post(
        zoom.oauth_url,
        params={"grant_type": "account_credentials", "account_id": account.account_id},
        auth=(account.client_id, account.client_secret),
    ).json()["access_token"]
    body = httpx.get(
        f"{zoom.api_url}/users/{user.id}/recordings",
        params={"from": "2026-08-01", "to": "2026-10-14"},
        headers={"Authorization": f"Bearer {token}"},
    ).json()
    assert (body["from"], body["to"]) == ("2026-09-14", "2026-10-14")
    assert [m["uuid"] for m in body["meetings"]] == [recent.uuid]
    assert body["page_size"] == 2 and body["next_page_token"] == ""


def test_recurring_meeting_gives_one_instance_each(zoom, clock):
    account = zoom.add_account("acme")
    user = zoom.add_user(account)
    first = zoom.add_meeting(account, user, topic="Weekly", start_time=at(date(2026, 9, 1)))
    others = [
        zoom.add_meeting(
            account,
            user,
            topic="Weekly",
            start_time=at(date(2026, 9, 1 + 7 * k)),
            meeting_id=first.id,
        )
        for k in (1, 2, 3)
    ]
    with make_client(zoom, account, clock) as client:
        instances = client.instances(date(2026, 9, 1), date(2026, 9, 30))
        past = client.past_instances(first.id)
        latest = client.meeting_recordings(first.id)
    assert {i.meeting_id for i in instances} == {first.id}
    assert [i.uuid for i in instances] == [first.uuid, *(m.uuid for m in others)]
    assert [p["uuid"] for p in past] == [i.uuid for i in instances]
    assert latest["uuid"] == others[-1].uuid


@pytest.mark.parametrize("uuid", ["/ajQk8+XRQqKkFDsP5V3Bg==", "ab//cdQqKkFDsP5V3Bg+=="])
def test_uuid_needing_double_encoding(zoom, clock, uuid):
    account = zoom.add_account("acme")
    user = zoom.add_user(account)
    zoom.add_meeting(account, user, topic="Slashes", start_time=at(date(2026, 9, 1)), uuid=uuid)
    with make_client(zoom, account, clock) as client:
        assert client.meeting_recordings(uuid)["uuid"] == uuid
        raw = zoom.calls("GET", r"^/v2/meetings/")[-1].path
        assert "%252F" in raw
        with pytest.raises(ZoomNotFoundError) as caught:
            client.request("GET", f"/meetings/{uuid.replace('/', '%2F')}/recordings")
        assert caught.value.code == 3301
        client.delete_recordings(uuid)
        with pytest.raises(ZoomNotFoundError):
            client.meeting_recordings(uuid)


def test_rate_limit_waits_for_retry_after(zoom, clock):
    account = zoom.add_account("acme")
    user = zoom.add_user(account)
    zoom.add_meeting(account, user, topic="A", start_time=at(date(2026, 9, 1)))
    zoom.rate_limit(r"/recordings$", retry_after=7)
    zoom.rate_limit(r"/recordings$", times=2)  # no Retry-After: exponential backoff
    with make_client(zoom, account, clock) as client:
        assert len(client.instances(date(2026, 9, 1), date(2026, 9, 2))) == 1
    assert clock.sleeps == [7.0, 2.0, 4.0]  # jitter pinned to 1.0: 1 s * 2**(n-1)


def test_rate_limit_gives_up_with_a_clear_message(zoom, clock):
    account = zoom.add_account("acme")
    zoom.add_user(account)
    zoom.rate_limit(r"^/v2/users$", retry_after=1, times=10)
    with (
        make_client(zoom, account, clock, attempts=3) as client,
        pytest.raises(
            ZoomRateLimitError, match=r"still rate limited .* after 3 attempts"
        ) as caught,
    ):
        client.users()
    assert "acme" in str(caught.value) and caught.value.retryable
    assert clock.sleeps == [1.0, 1.0]
    zoom.faults.clear()
    zoom.rate_limit(r"^/v2/users$", retry_after=86_400, limit_type="Daily-limit")
    with (
        make_client(zoom, account, clock) as client,
        pytest.raises(ZoomRetryLaterError, match=r"Daily-limit.*again at .*\(in 24 h 00 min\)"),
    ):
        client.users()
    assert len(zoom.calls("GET", r"^/v2/users$")) == 4  # 3 + 1: the long wait is not retried


def test_server_errors_and_connection_errors_are_retried(zoom, clock):
    account = zoom.add_account("acme")
    zoom.add_user(account)
    zoom.server_error(r"^/v2/users$", status=503, times=2)
    with make_client(zoom, account, clock) as client:
        assert len(client.users()) == 1
    assert clock.sleeps == [1.0, 2.0]
    dead = ZoomClient(
        account.credentials,
        api_url="http://127.0.0.1:9/v2",
        oauth_url="http://127.0.0.1:9/oauth/token",
        timeout=1,
        retry=RetryPolicy(attempts=3, sleep=clock.sleep, jitter=lambda: 1.0),
    )
    with dead, pytest.raises(ZoomUnavailableError, match="unreachable after 3 attempts"):
        dead.users()


def test_token_expiring_mid_run_is_refreshed_once(zoom, clock):
    account = zoom.add_account("acme")
    user = zoom.add_user(account)
    for n in range(5):
        zoom.add_meeting(account, user, topic=f"M{n}", start_time=at(date(2026, 9, 1 + n)))
    zoom.expire_tokens_on(r"/recordings$", skip=1)  # expires before the second page
    with make_client(zoom, account, clock) as client:
        assert len(client.instances(date(2026, 9, 1), date(2026, 9, 30))) == 5
    assert len(zoom.calls("POST", r"/oauth/token")) == 2


def test_token_is_cached_until_shortly_before_expiry(zoom, clock):
    account = zoom.add_account("acme")
    zoom.add_user(account)
    with make_client(zoom, account, clock) as client:
        client.users()
        clock.now += 3000
        client.users()
        assert len(zoom.calls("POST", r"/oauth/token")) == 1
        clock.now += 500  # past expires_in minus the margin
        client.users()
        assert len(zoom.calls("POST", r"/oauth/token")) == 2


def test_refused_fresh_token_names_the_account(zoom, clock):
    account = zoom.add_account("acme-prod")
    zoom.add_user(account)
    zoom.inject(
        Fault(
            r"^/v2/users$",
            status=401,
            body={"code": 124, "message": "Invalid access token."},
            times=5,
        )
    )
    with make_client(zoom, account, clock) as client, pytest.raises(ZoomAuthError) as caught:
        client.users()
    assert "acme-prod" in str(caught.value)
    assert "Invalid access token" in str(caught.value)
    assert len(zoom.calls("POST", r"/oauth/token")) == 2


def test_wrong_secret_fails_clearly_without_the_secret(zoom, clock):
    account = zoom.add_account("acme")
    wrong = ZoomAccount("acme", account.account_id, account.client_id, "s3cr3t-WRONG-value")
    with make_client(zoom, wrong, clock) as client, pytest.raises(ZoomAuthError) as caught:
        client.users()
    message = str(caught.value)
    assert "acme" in message and "invalid_client" in message
    assert "s3cr3t-WRONG-value" not in message + repr(caught.value) + repr(wrong)


def test_delete_one_file_and_trash_an_instance(zoom, clock):
    account = zoom.add_account("acme")
    user = zoom.add_user(account)
    meeting = zoom.add_meeting(account, user, topic="Bye", start_time=at(date(2026, 9, 3)))
    with make_client(zoom, account, clock) as client:
        audio = next(f for f in meeting.files if f.file_type == "M4A")
        client.delete_recording_file(meeting.uuid, audio.id)
        files = client.meeting_recordings(meeting.uuid)["recording_files"]
        assert [f["file_type"] for f in files] == ["MP4"]
        client.delete_recordings(meeting.uuid, action="trash")
        assert client.instances(date(2026, 9, 1), date(2026, 9, 30)) == []
    assert zoom.calls("DELETE", r"/recordings$")[0].query == {"action": "trash"}


def test_secrets_never_reach_logs_or_errors(zoom, clock, caplog, tmp_path):
    caplog.set_level(logging.DEBUG)
    account = zoom.add_account("acme", client_secret="TOPSECRET-client-secret")
    user = zoom.add_user(account)
    data = bytes(range(256)) * 400
    zoom.add_meeting(
        account, user, topic="Log", start_time=at(date(2026, 9, 3)), files=[FileSpec(data=data)]
    )
    zoom.rate_limit(r"/recordings$", retry_after=1)
    zoom.expire_tokens_on(r"/rec/download/")
    zoom.cut_download(10_000)
    with make_client(zoom, account, clock) as client:
        instance = client.instances(date(2026, 9, 1), date(2026, 9, 30))[0]
        dat = client.meeting_recordings(instance.uuid, include_download_token=True)[
            "download_access_token"
        ]
        f = instance.mp4_files[0]
        retry = RetryPolicy(attempts=3, sleep=clock.sleep)
        download_file(
            f.download_url,
            tmp_path / "a.mp4",
            f.file_size,
            token=client.bearer,
            retry=retry,
            min_free_mb=0,
            timeout=5,
        )
        download_file(
            f"{f.download_url}?access_token={dat}",
            tmp_path / "b.mp4",
            f.file_size,
            retry=retry,
            min_free_mb=0,
            timeout=5,
        )
        texts = [caplog.text, repr(client), repr(client.tokens), repr(client.account)]
    storage = zoom.calls("GET", r"^/storage/")[0]
    secrets = ["TOPSECRET-client-secret", dat, storage.query["signature"], *zoom.issued_tokens()]
    assert "HTTP Request" in caplog.text  # httpx did log, redacted
    for text in texts:
        for secret in secrets:
            assert secret not in text


def test_deactivated_hosts_recordings_are_listed_and_pending_users_are_not_asked(zoom, clock):
    account = zoom.add_account("acme")
    active = zoom.add_user(account)
    gone = zoom.add_user(account, status="inactive")
    invited = zoom.add_user(account, status="pending")
    day = date(2026, 9, 1)
    kept = {
        zoom.add_meeting(account, active, topic="current", start_time=at(day)).uuid,
        zoom.add_meeting(account, gone, topic="by a former host", start_time=at(day, 14)).uuid,
    }
    with make_client(zoom, account, clock) as client:
        assert {u.status for u in client.hosts()} == {"active", "inactive"}
        assert {i.uuid for i in client.instances(day, day)} == kept
    statuses = [r.query.get("status") for r in zoom.calls("GET", r"^/v2/users$")]
    assert sorted(statuses) == ["active", "active", "inactive", "inactive"]
    asked = {r.path.split("/")[3] for r in zoom.calls("GET", r"^/v2/users/[^/]+/recordings$")}
    assert asked == {active.id, gone.id} and invited.id not in asked


@pytest.mark.parametrize(
    "header",
    ["2026-05-31T00:00:00Z", "2026-05-31T02:00:00+02:00", "Sun, 31 May 2026 00:00:00 GMT", "3600"],
)
def test_retry_after_is_read_as_iso_8601_http_date_or_seconds(header):
    reset = datetime(2026, 5, 31, tzinfo=UTC).timestamp()
    assert parse_retry_after(header, now=lambda: reset - 3600) == 3600.0
    assert parse_retry_after("2026-05-31T00:00:00Z", now=lambda: reset + 5) == 0.0
    assert parse_retry_after("next Tuesday") is None


def test_daily_limit_within_the_patience_is_waited_out(zoom, clock):
    account = zoom.add_account("acme")
    user = zoom.add_user(account)
    zoom.add_meeting(account, user, topic="A", start_time=at(date(2026, 9, 1)))
    reset = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=90)
    zoom.daily_limit(r"/recordings$", reset)
    with make_client(zoom, account, clock) as client:
        assert len(client.instances(date(2026, 9, 1), date(2026, 9, 2))) == 1
    assert len(clock.sleeps) == 1 and 80 < clock.sleeps[0] <= 90  # until the ISO-8601 time
    limited = zoom.calls("GET", r"/recordings$")[0]
    assert limited.fault is not None and limited.fault.headers["Retry-After"].endswith("Z")


def test_daily_limit_beyond_the_patience_is_not_retried_and_says_when(zoom, clock):
    account = zoom.add_account("acme")
    user = zoom.add_user(account)
    zoom.add_meeting(account, user, topic="A", start_time=at(date(2026, 9, 1)))
    reset = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=20)
    zoom.daily_limit(r"/recordings$", reset, times=10)
    with (
        make_client(zoom, account, clock) as client,
        pytest.raises(ZoomRetryLaterError) as caught,
    ):
        client.instances(date(2026, 9, 1), date(2026, 9, 2))
    assert caught.value.resume_at == reset and not caught.value.retryable
    assert f"{reset:%Y-%m-%dT%H:%M:%SZ}" in str(caught.value)
    assert "Heavy Daily-limit" in str(caught.value) and "acme" in str(caught.value)
    assert clock.sleeps == [] and len(zoom.calls("GET", r"/recordings$")) == 1


def test_daily_limit_without_retry_after_waits_for_midnight_utc(zoom, clock):
    account = zoom.add_account("acme")
    zoom.add_user(account)
    # The headers-less form Zoom was seen answering (devforum.zoom.us/t/18928).
    message = "You have exceeded the daily rate limit (100) of Meeting Create/Update API requests."
    zoom.inject(Fault(r"^/v2/users$", "GET", 429, {"code": 429, "message": message}, times=5))
    with (
        make_client(zoom, account, clock) as client,
        pytest.raises(ZoomRetryLaterError) as caught,
    ):
        client.users()
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    assert abs(caught.value.resume_at - (midnight + timedelta(days=1))) < timedelta(seconds=2)
    assert clock.sleeps == []


def test_downloader_does_not_sleep_through_a_long_retry_after(zoom, clock, tmp_path):
    account = zoom.add_account("acme")
    user = zoom.add_user(account)
    zoom.add_meeting(account, user, topic="A", start_time=at(date(2026, 9, 1)))
    reset = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=6)
    zoom.daily_limit(r"^/storage/", reset, times=10)
    with make_client(zoom, account, clock) as client:
        f = client.instances(date(2026, 9, 1), date(2026, 9, 2))[0].mp4_files[0]
        retry = RetryPolicy(attempts=3, sleep=clock.sleep)
        with pytest.raises(WaitTooLong) as caught:
            download_file(
                f.download_url,
                tmp_path / "a.mp4",
                f.file_size,
                token=client.bearer,
                retry=retry,
                min_free_mb=0,
                timeout=5,
            )
    assert caught.value.resume_at == reset and not caught.value.retryable
    assert clock.sleeps == [] and len(zoom.calls("GET", r"^/storage/")) == 1


def test_token_response_api_url_is_the_api_host(zoom, clock, monkeypatch):
    monkeypatch.delenv("ZOOM_API_URL", raising=False)
    get_settings.cache_clear()
    account = zoom.add_account("acme")
    user = zoom.add_user(account)
    zoom.add_meeting(account, user, topic="A", start_time=at(date(2026, 9, 1)))
    port = zoom.base_url.rsplit(":", 1)[1]
    zoom.token_api_url = f"http://localhost:{port}"  # another name for this host: a "region"
    retry = RetryPolicy(attempts=2, sleep=clock.sleep, jitter=lambda: 1.0)
    with ZoomClient(
        account.credentials, oauth_url=zoom.oauth_url, timeout=5, retry=retry, clock=clock
    ) as client:
        assert len(client.instances(date(2026, 9, 1), date(2026, 9, 2))) == 1
        assert client.api_url == f"http://localhost:{port}/v2"
    api_calls = zoom.calls("GET", r"^/v2/")
    assert api_calls and {r.headers["host"] for r in api_calls} == {f"localhost:{port}"}


def test_an_explicit_api_url_wins_over_the_token_response(zoom, clock, monkeypatch):
    account = zoom.add_account("acme")
    zoom.add_user(account)
    zoom.token_api_url = "http://127.0.0.1:9"  # nothing listens there
    with make_client(zoom, account, clock) as client:
        assert len(client.users()) == 1 and client.api_url == zoom.api_url
    monkeypatch.setenv("ZOOM_API_URL", zoom.api_url)
    get_settings.cache_clear()
    retry = RetryPolicy(attempts=1, sleep=clock.sleep)
    with ZoomClient(account.credentials, oauth_url=zoom.oauth_url, timeout=5, retry=retry) as z:
        assert len(z.users()) == 1
