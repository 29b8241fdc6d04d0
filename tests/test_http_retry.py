"""The shared retry policy and redaction on their own: attempt counting, the backoff's cap and
jitter bounds, Retry-After in seconds and as an HTTP date, the patience beyond which a run
comes back later instead of waiting. Time is injected: nothing here sleeps."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest

from integrations.http import (
    RetryPolicy,
    WaitTooLong,
    install_log_redaction,
    redact_text,
    redact_url,
)
from integrations.sandbox.zoom import ManualClock

NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC).timestamp()


def policy(clock: ManualClock, **options) -> RetryPolicy:
    return RetryPolicy(sleep=clock.sleep, now=lambda: NOW, **options)


def test_attempts_count_every_try_the_first_included():
    retry = RetryPolicy(attempts=3)
    assert [retry.exhausted(n) for n in (1, 2, 3)] == [False, False, True]
    assert RetryPolicy(attempts=1).exhausted(1)  # one try, no retry
    with pytest.raises(ValueError, match="at least 1"):
        RetryPolicy(attempts=0)


def test_a_loop_under_the_policy_tries_exactly_attempts_times():
    clock = ManualClock()
    retry = policy(clock, attempts=4, jitter=lambda: 1.0)
    tries = failures = 0
    while True:
        tries += 1
        failures += 1  # every try fails
        if retry.exhausted(failures):
            break
        retry.wait(failures)
    assert tries == 4 and clock.sleeps == [1.0, 2.0, 4.0]


def test_backoff_doubles_and_is_capped():
    retry = RetryPolicy(backoff_base=1.0, backoff_max=10.0, jitter=lambda: 1.0)
    assert [retry.backoff(n) for n in range(1, 7)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


@pytest.mark.parametrize("draw", [0.0, 0.25, 0.999999])
def test_jitter_keeps_each_wait_between_half_and_all_of_the_backoff(draw):
    retry = RetryPolicy(backoff_base=2.0, backoff_max=60.0, jitter=lambda: draw)
    for failure in range(1, 9):
        raw = min(60.0, 2.0 * 2 ** (failure - 1))
        assert raw / 2 <= retry.backoff(failure) <= raw


def test_real_jitter_spreads_the_waits_within_the_bounds():
    retry = RetryPolicy(backoff_base=1.0)
    waits = [retry.backoff(3) for _ in range(200)]
    assert all(2.0 <= w <= 4.0 for w in waits) and len(set(waits)) > 100


def test_retry_after_in_seconds_is_waited_as_given_without_jitter():
    clock = ManualClock()
    retry = policy(clock, jitter=lambda: 0.0)
    assert retry.retry_after("7") == 7.0
    assert retry.wait(1, retry.retry_after("7")) == 7.0
    assert clock.sleeps == [7.0]


def test_retry_after_as_an_http_date_is_read_against_the_policy_clock():
    clock = ManualClock()
    retry = policy(clock)
    date = format_datetime(datetime.fromtimestamp(NOW + 90, UTC), usegmt=True)
    assert retry.retry_after(date) == 90.0
    past = format_datetime(datetime.fromtimestamp(NOW - 90, UTC), usegmt=True)
    assert retry.retry_after(past) == 0.0
    assert retry.wait(1, 0.0) == 0.0 and clock.sleeps == []  # nothing to wait for
    assert retry.retry_after("soon") is None and retry.retry_after(None) is None


def test_a_retry_after_beyond_the_patience_is_not_slept_but_says_when_to_come_back():
    clock = ManualClock()
    retry = policy(clock, max_retry_after=300.0)
    assert retry.wait(1, 300.0) == 300.0  # at the patience: waited
    with pytest.raises(WaitTooLong) as caught:
        retry.wait(2, 7200.0)
    assert clock.sleeps == [300.0]
    assert caught.value.resume_at == datetime.fromtimestamp(NOW + 7200, UTC)
    assert not caught.value.retryable
    assert "2026-12-07T12:00:00Z" in str(caught.value) and "(in 2 h 00 min)" in str(caught.value)


def test_slower_scales_the_backoff_and_keeps_the_cap():
    retry = RetryPolicy(backoff_base=1.0, backoff_max=60.0, jitter=lambda: 1.0)
    flood = retry.slower(10)
    assert [flood.backoff(n) for n in (1, 2, 3, 4)] == [10.0, 20.0, 40.0, 60.0]
    assert flood.attempts == retry.attempts


def test_from_settings_reads_the_http_settings(monkeypatch):
    from config.settings import get_settings

    monkeypatch.setenv("HTTP_RETRY_ATTEMPTS", "7")
    monkeypatch.setenv("HTTP_BACKOFF_BASE", "0.5")
    monkeypatch.setenv("RATE_LIMIT_PATIENCE", "42")
    get_settings.cache_clear()
    try:
        retry = RetryPolicy.from_settings(backoff_max=5.0)
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert (retry.attempts, retry.backoff_base, retry.max_retry_after) == (7, 0.5, 42.0)
    assert retry.backoff_max == 5.0


def test_redaction_masks_queries_tokens_and_credentials():
    text = (
        "GET https://zoom.us/rec/download/abc?access_token=SECRET&x=1 failed; "
        "Authorization: Bearer eyJhbGci.payload.sig; authorization: Basic Y2xpZW50OnNlY3JldA==; "
        '{"download_access_token": "DLTOKEN"}; '
        '"POST /upload.php?sig=UPLOADSIG&expires=1 HTTP/1.1" 200'
    )
    cleaned = redact_text(text)
    for secret in ("SECRET", "eyJhbGci", "Y2xpZW50", "DLTOKEN", "UPLOADSIG"):
        assert secret not in cleaned
    assert "https://zoom.us/rec/download/abc?…" in cleaned and "POST /upload.php?…" in cleaned
    assert redact_text("a basic profile") == "a basic profile"  # only Authorization's Basic
    assert redact_url("https://h/p?token=x#f") == "https://h/p?…"


def test_log_redaction_covers_the_http_libraries_loggers(caplog):
    install_log_redaction()
    for name in ("httpx", "googleapiclient.discovery", "urllib3.connectionpool"):
        with caplog.at_level(logging.DEBUG, logger=name):
            logging.getLogger(name).debug("URL being requested: %s", "https://h/v?upload_id=SID")
    assert "SID" not in caplog.text and caplog.text.count("https://h/v?…") == 3
