"""Server-side rate limiting for the emulator: a token bucket or an exact sliding window."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Protocol

__all__ = ["Limiter", "ServerRateLimit", "SlidingWindow", "TokenBucket", "retry_after_seconds"]


@dataclass(frozen=True, slots=True)
class ServerRateLimit:
    """How many requests the emulator accepts before answering 429.

    Two modes, chosen by ``burst``:

    * ``burst`` given: a **token bucket** holding at most ``burst`` tokens, full at start,
      refilled continuously with ``rate`` tokens per ``period`` seconds; each accepted
      request takes one token.  ``ServerRateLimit(rate=10, burst=5)``: bursts of 5, then
      10 requests per second on average.
    * ``burst`` None: an **exact sliding window**: at most ``rate`` requests (an integer)
      are accepted in any window of ``period`` seconds.
      ``ServerRateLimit(rate=5, period=1.0)``: never more than 5 in any second.

    Rejected requests consume nothing.  They get a 429 whose ``Retry-After`` is the whole
    number of seconds (rounded up, at least 1) after which the request would be accepted.
    The clock is ``time.monotonic()``.  Requests are counted when their body has arrived,
    after authentication and before random faults and validation.

    Raises:
        ValueError: Non-positive ``rate``/``period``, ``burst`` below 1, or a fractional
            ``rate`` in sliding-window mode.
    """

    rate: float
    burst: int | None = None
    period: float = 1.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.rate) and self.rate > 0):
            raise ValueError(f"rate must be > 0, got {self.rate!r}")
        if not (math.isfinite(self.period) and self.period > 0):
            raise ValueError(f"period must be > 0, got {self.period!r}")
        if self.burst is not None and self.burst < 1:
            raise ValueError(f"burst must be >= 1, got {self.burst!r}")
        if self.burst is None and (self.rate != int(self.rate) or self.rate < 1):
            raise ValueError(
                f"a sliding window needs a whole number of requests per period, got {self.rate!r}"
            )

    @classmethod
    def token_bucket(cls, rate: float, burst: int, period: float = 1.0) -> ServerRateLimit:
        """A bucket of ``burst`` tokens refilled with ``rate`` tokens per ``period`` seconds."""
        return cls(rate=rate, burst=burst, period=period)

    @classmethod
    def sliding_window(cls, limit: int, period: float = 1.0) -> ServerRateLimit:
        """At most ``limit`` requests in any window of ``period`` seconds."""
        return cls(rate=limit, burst=None, period=period)

    @property
    def is_token_bucket(self) -> bool:
        """True in token-bucket mode, False in sliding-window mode."""
        return self.burst is not None

    def limiter(self) -> Limiter:
        """Return a fresh limiter (full bucket / empty window) applying this policy."""
        if self.burst is not None:
            return TokenBucket(self.rate / self.period, self.burst)
        return SlidingWindow(int(self.rate), self.period)


class Limiter(Protocol):
    """Decides, for a request arriving at ``now``, whether it is accepted."""

    def acquire(self, now: float) -> float | None:
        """Accept the request (None) or return the seconds to wait before retrying."""
        ...  # pragma: no cover


class TokenBucket:
    """A token bucket with ``capacity`` tokens refilled at ``per_second`` tokens/s.

    Args:
        per_second: Refill rate.
        capacity: Maximum tokens (the burst); the bucket starts full.
    """

    __slots__ = ("_capacity", "_per_second", "_stamp", "_tokens")

    def __init__(self, per_second: float, capacity: int) -> None:
        self._per_second = per_second
        self._capacity = float(capacity)
        self._tokens = float(capacity)
        self._stamp: float | None = None

    def acquire(self, now: float) -> float | None:
        """Take a token, or return how long until one is available."""
        if self._stamp is not None and now > self._stamp:
            refill = (now - self._stamp) * self._per_second
            self._tokens = min(self._capacity, self._tokens + refill)
        if self._stamp is None or now > self._stamp:
            self._stamp = now
        if self._tokens >= 1.0 - 1e-9:
            self._tokens -= 1.0
            return None
        return (1.0 - self._tokens) / self._per_second


class SlidingWindow:
    """Accepts at most ``limit`` requests in any window of ``period`` seconds.

    Keeps the arrival times of the accepted requests still inside the window.
    """

    __slots__ = ("_accepted", "_limit", "_period")

    def __init__(self, limit: int, period: float) -> None:
        self._limit = limit
        self._period = period
        self._accepted: deque[float] = deque()

    def acquire(self, now: float) -> float | None:
        """Accept the request, or return how long until the oldest one leaves the window."""
        accepted = self._accepted
        horizon = now - self._period
        while accepted and accepted[0] <= horizon:
            accepted.popleft()
        if len(accepted) < self._limit:
            accepted.append(now)
            return None
        return accepted[0] - horizon


def retry_after_seconds(wait: float) -> int:
    """Round a wait up to the whole seconds sent in ``Retry-After`` (at least 1)."""
    return max(1, math.ceil(wait - 1e-9))
