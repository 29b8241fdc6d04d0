"""HTTP plumbing that the Zoom client, the downloader, YouTube's and VK's clients share.

- `retry`: the one `RetryPolicy` (attempts count every try, backoff capped and jittered,
  `Retry-After` honoured up to the run's patience, beyond it `WaitTooLong`);
- `redact`: secrets out of logs and messages (`redact_text`, `redact_url`,
  `install_log_redaction`);
- `timeouts`: what `HTTP_TIMEOUT` means for each library (`http_timeout`);
- `tls`: the process's one TLS context for httpx clients (`tls_context`).

Errors stay each client's own (beneath `integrations.errors.IntegrationError`).
"""

from integrations.http.redact import install_log_redaction, redact_text, redact_url
from integrations.http.retry import RetryPolicy, WaitTooLong, parse_retry_after
from integrations.http.timeouts import http_timeout
from integrations.http.tls import tls_context

__all__ = [
    "RetryPolicy",
    "WaitTooLong",
    "http_timeout",
    "install_log_redaction",
    "parse_retry_after",
    "redact_text",
    "redact_url",
    "tls_context",
]
