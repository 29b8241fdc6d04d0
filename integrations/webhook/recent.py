"""The events the webhook accepted lately, so that a second delivery is answered "duplicate".

Zoom retries an event it did not see answered 200/204 within 3 s (after about 5, 30 and 90
minutes), and the same instance can arrive more than once. The status store already makes a
repeat harmless: `upsert_synced` is idempotent and `flows/webhook_runs.py` starts a recording
once. This memory makes it cheap: the app answers a repeat at once, from memory, before any
store work (which runs after the 200, in a worker thread) and without queueing that work again
behind a slow one. It is per process and bounded; after a restart a repeat reaches the store,
which absorbs it.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

# A download_token lives 24 hours: a copy arriving later could not be acted on with it anyway.
DEDUP_TTL_S = 24 * 3600.0
DEDUP_MAX_ENTRIES = 10_000


class TTLSet:
    """A bounded, thread-safe set whose members expire `ttl` seconds after being added.

    When full, the oldest members go first. `clock` gives seconds (tests pass a fake).
    """

    def __init__(
        self,
        ttl: float = DEDUP_TTL_S,
        max_entries: int = DEDUP_MAX_ENTRIES,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl <= 0 or max_entries <= 0:
            raise ValueError("ttl and max_entries must be positive")
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        self._expiry: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def _expire(self, now: float) -> None:
        while self._expiry:
            key, expires = next(iter(self._expiry.items()))
            if expires > now:
                break
            del self._expiry[key]

    def add(self, key: str) -> bool:
        """Add `key`; True when it was not present (or had expired), False for a duplicate."""
        with self._lock:
            now = self._clock()
            self._expire(now)
            if key in self._expiry:
                return False
            self._expiry[key] = now + self.ttl
            while len(self._expiry) > self.max_entries:
                self._expiry.popitem(last=False)
            return True

    def discard(self, key: str) -> None:
        with self._lock:
            self._expiry.pop(key, None)

    def __contains__(self, key: object) -> bool:
        with self._lock:
            self._expire(self._clock())
            return key in self._expiry

    def __len__(self) -> int:
        with self._lock:
            self._expire(self._clock())
            return len(self._expiry)
