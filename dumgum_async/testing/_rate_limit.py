"""Server-side rate limiting for the emulator: a token bucket or an exact sliding window.

Rates are in the client's words (``RateLimit(max_rate, time_period)``): ``max_rate``
requests per ``time_period`` seconds. The emulator's old words, ``rate`` and
``period``, still work for one release and warn.
"""

from __future__ import annotations

import math
import warnings
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Protocol, overload

__all__ = [
    "AdmissionPolicy",
    "ServerRateLimit",
    "SlidingWindow",
    "TokenBucket",
    "retry_after_seconds",
]

#: The emulator's old keyword names and the client's names that replace them.
_RENAMED: Final = {"rate": "max_rate", "period": "time_period"}


def _adopt_old_names(
    where: str,
    given: dict[str, float | None],
    old: dict[str, float],
    renamed: Mapping[str, str] = _RENAMED,
) -> dict[str, float | None]:
    """``given`` (the new keywords) completed from ``old`` ones, each with a warning."""
    for name, value in old.items():
        new = renamed.get(name)
        if new is None or new not in given:
            raise TypeError(f"{where}() got an unexpected keyword argument {name!r}")
        if given[new] is not None:
            raise TypeError(f"{where}() got both {name!r} and its new name {new!r}")
        warnings.warn(
            f"{where}({name}=...) is deprecated, use {new}=... (the client's RateLimit words)",
            DeprecationWarning,
            stacklevel=3,
        )
        given[new] = value
    return given


@dataclass(frozen=True, slots=True, init=False)
class ServerRateLimit:
    """How many requests the emulator accepts before answering 429.

    Two modes, chosen by ``burst``:

    * ``burst`` given: a **token bucket** holding at most ``burst`` tokens, full at start,
      refilled continuously with ``max_rate`` tokens per ``time_period`` seconds; each
      accepted request takes one token.  ``ServerRateLimit(max_rate=10, burst=5)``:
      bursts of 5, then 10 requests per second on average.
    * ``burst`` None: an **exact sliding window**: at most ``max_rate`` requests (an
      integer) are accepted in any window of ``time_period`` seconds.
      ``ServerRateLimit(max_rate=5, time_period=1.0)``: never more than 5 in any second.

    Rejected requests consume nothing.  They get a 429 whose ``Retry-After`` is the whole
    number of seconds (rounded up, at least 1) after which the request would be accepted.
    The clock is ``time.monotonic()``.  Requests are counted when their body has arrived,
    after authentication and before random faults and validation.

    ``rate=`` and ``period=`` (and the attributes ``rate``, ``period``) are the
    deprecated names of ``max_rate`` and ``time_period``.

    Raises:
        ValueError: Non-positive ``max_rate``/``time_period``, ``burst`` below 1, or a
            fractional ``max_rate`` in sliding-window mode.
    """

    max_rate: float
    burst: int | None
    time_period: float

    @overload
    def __init__(
        self, max_rate: float, burst: int | None = None, time_period: float = 1.0
    ) -> None: ...

    @overload
    def __init__(self, *, burst: int | None = None, rate: float, period: float = 1.0) -> None: ...

    def __init__(
        self,
        max_rate: float | None = None,
        burst: int | None = None,
        time_period: float | None = None,
        **deprecated: float,
    ) -> None:
        given = _adopt_old_names(
            "ServerRateLimit", {"max_rate": max_rate, "time_period": time_period}, deprecated
        )
        rate, period = given["max_rate"], given["time_period"]
        if rate is None:
            raise TypeError("ServerRateLimit() missing required argument: 'max_rate'")
        object.__setattr__(self, "max_rate", rate)
        object.__setattr__(self, "burst", burst)
        object.__setattr__(self, "time_period", 1.0 if period is None else period)
        self._check()

    def _check(self) -> None:
        if not (math.isfinite(self.max_rate) and self.max_rate > 0):
            raise ValueError(f"max_rate must be > 0, got {self.max_rate!r}")
        if not (math.isfinite(self.time_period) and self.time_period > 0):
            raise ValueError(f"time_period must be > 0, got {self.time_period!r}")
        if self.burst is not None and self.burst < 1:
            raise ValueError(f"burst must be >= 1, got {self.burst!r}")
        if self.burst is None and (self.max_rate != int(self.max_rate) or self.max_rate < 1):
            raise ValueError(
                "a sliding window needs a whole number of requests per time_period, "
                f"got {self.max_rate!r}"
            )

    @property
    def rate(self) -> float:
        """Deprecated name of :attr:`max_rate`."""
        warnings.warn(
            "ServerRateLimit.rate is deprecated, use max_rate", DeprecationWarning, stacklevel=2
        )
        return self.max_rate

    @property
    def period(self) -> float:
        """Deprecated name of :attr:`time_period`."""
        warnings.warn(
            "ServerRateLimit.period is deprecated, use time_period",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.time_period

    @classmethod
    def token_bucket(
        cls,
        max_rate: float | None = None,
        burst: int = 1,
        time_period: float | None = None,
        **deprecated: float,
    ) -> ServerRateLimit:
        """A bucket of ``burst`` tokens refilled with ``max_rate`` tokens per
        ``time_period`` seconds (``rate=``/``period=``: deprecated names)."""
        given = _adopt_old_names(
            "ServerRateLimit.token_bucket",
            {"max_rate": max_rate, "time_period": time_period},
            deprecated,
        )
        rate, period = given["max_rate"], given["time_period"]
        if rate is None:
            raise TypeError("token_bucket() missing required argument: 'max_rate'")
        return cls(rate, burst, 1.0 if period is None else period)

    @classmethod
    def sliding_window(
        cls, max_rate: int | None = None, time_period: float | None = None, **deprecated: float
    ) -> ServerRateLimit:
        """At most ``max_rate`` requests in any window of ``time_period`` seconds
        (``limit=``/``period=``: deprecated names)."""
        given = _adopt_old_names(
            "ServerRateLimit.sliding_window",
            {"max_rate": max_rate, "time_period": time_period},
            deprecated,
            {"limit": "max_rate", "period": "time_period"},
        )
        rate, period = given["max_rate"], given["time_period"]
        if rate is None:
            raise TypeError("sliding_window() missing required argument: 'max_rate'")
        return cls(rate, None, 1.0 if period is None else period)

    @property
    def is_token_bucket(self) -> bool:
        """True in token-bucket mode, False in sliding-window mode."""
        return self.burst is not None

    def limiter(self) -> AdmissionPolicy:
        """Return a fresh policy (full bucket / empty window) applying this limit."""
        if self.burst is not None:
            return TokenBucket(self.max_rate / self.time_period, self.burst)
        return SlidingWindow(int(self.max_rate), self.time_period)


class AdmissionPolicy(Protocol):
    """Decides, for a request arriving at ``now``, whether the emulator accepts it.

    Not the client's :class:`dumgum_async.Limiter` (which makes a caller wait for its
    turn): the server never waits, it answers 429 with the wait.
    """

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
