"""Request rates: a token bucket per caller and a failed sign-in count per client address.

- Every authenticated request spends one token of its principal's bucket
  (``api.rate_limit_per_minute``, refilled continuously, at most ``api.rate_limit_burst``
  held); an empty bucket answers 429 with ``Retry-After``.
- Every failed sign-in spends one token of the client address's bucket
  (``api.auth_failures_per_minute``); while it is empty, that address gets 429 before its
  credentials are even checked, so keys cannot be guessed at speed.

Both tables are bounded (least recently seen entries go first) and thread-safe: routes run in
a thread pool.

Example::

    limits = RateLimits(settings.api)
    limits.check_address("10.0.0.7")     # RateLimitedError while it is locked out
    limits.spend("key:ci-bot")           # RateLimitedError past its rate
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from rag.errors import RateLimitedError
from rag.settings import ApiSettings

_MAX_ENTRIES = 100_000


class Buckets:
    """Token buckets by name: ``rate`` tokens per second, at most ``capacity`` held."""

    def __init__(
        self, rate: float, capacity: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.capacity = capacity
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def _level(self, name: str, now: float) -> float:
        tokens, last = self._buckets.get(name, (self.capacity, now))
        return min(self.capacity, tokens + (now - last) * self.rate)

    def wait(self, name: str) -> float:
        """Seconds until ``name`` has a token again (0: it has one now)."""
        with self._lock:
            tokens = self._level(name, self._clock())
        return 0.0 if tokens >= 1 else (1 - tokens) / self.rate

    def take(self, name: str) -> float:
        """Spend a token of ``name``: 0 when there was one, else the seconds to wait."""
        with self._lock:
            now = self._clock()
            tokens = self._level(name, now)
            if tokens < 1:
                self._buckets[name] = (tokens, now)
                self._buckets.move_to_end(name)
                return (1 - tokens) / self.rate
            self._buckets[name] = (tokens - 1, now)
            self._buckets.move_to_end(name)
            while len(self._buckets) > _MAX_ENTRIES:
                self._buckets.popitem(last=False)
            return 0.0


class RateLimits:
    """The limits of one app: per principal and per address of failed sign-ins."""

    def __init__(self, api: ApiSettings, clock: Callable[[], float] = time.monotonic) -> None:
        per_minute, failures = api.rate_limit_per_minute, api.auth_failures_per_minute
        self.requests = (
            Buckets(per_minute / 60, api.rate_limit_burst, clock) if per_minute else None
        )
        self.failures = Buckets(failures / 60, failures, clock) if failures else None

    def spend(self, principal: str) -> None:
        """Count one request of ``principal``; RateLimitedError past its rate."""
        if self.requests is None:
            return
        wait = self.requests.take(principal)
        if wait:
            raise RateLimitedError(
                "too many requests for this key or user",
                retry_after=max(1, math.ceil(wait)),
                hint="slow down, or ask an administrator to raise api.rate_limit_per_minute",
            )

    def check_address(self, address: str | None) -> None:
        """RateLimitedError while ``address`` is locked out after failed sign-ins."""
        if self.failures is None or address is None:
            return
        wait = self.failures.wait(address)
        if wait:
            raise RateLimitedError(
                "too many failed sign-ins from this address",
                retry_after=max(1, math.ceil(wait)),
                hint="check the key or token; further attempts are refused until then",
            )

    def failed(self, address: str | None) -> None:
        """Count one failed sign-in from ``address``."""
        if self.failures is not None and address is not None:
            self.failures.take(address)
