"""An ``aiolimiter.AsyncLimiter`` given as ``rate_limit``, made strict.

The user's limiter is acquired first, so its budget stays shared with their other
code; a :class:`LocalLimiter` of the same rate behind it then holds every request
that would put more than ``max_rate`` into a window of ``time_period``: a leaky
bucket alone lets about twice its rate through in its first period (a full bucket,
then the leak). Duck-typed on the limiter's public attributes, so aiolimiter is
never imported here.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from dumgum_async._config import RateLimit
from dumgum_async._throttle import LocalLimiter


@runtime_checkable
class AsyncLimiterLike(Protocol):
    """What the client uses of an ``aiolimiter.AsyncLimiter``."""

    @property
    def max_rate(self) -> float:
        """Acquisitions allowed per ``time_period``."""
        ...

    @property
    def time_period(self) -> float:
        """The period, in seconds."""
        ...

    async def acquire(self, amount: float = 1) -> None:
        """Wait until ``amount`` may be taken from the bucket, and take it."""
        ...

    def has_capacity(self, amount: float = 1) -> bool:
        """True if ``amount`` could be taken now without waiting."""
        ...


class StrictAsyncLimiter:
    """A :class:`~dumgum_async.Limiter` over the caller's ``AsyncLimiter``.

    The window spaces requests evenly, as a :class:`RateLimit` does by default: a
    burst of new connections all at once would reach the server spread by their
    set-up times, and could then crowd a window there. A pause
    (a 429's ``Retry-After``) holds callers back before they take a token of the
    caller's budget, so that a pause does not spend it.

    Args:
        limiter: The caller's limiter; it is acquired, never modified.
    """

    def __init__(self, limiter: AsyncLimiterLike) -> None:
        self.limiter = limiter
        self._pauses = LocalLimiter(None)
        self._window = LocalLimiter(RateLimit(limiter.max_rate, limiter.time_period))

    async def acquire(self) -> None:
        """Wait for any pause, then for the caller's limiter, then for the window."""
        await self._pauses.acquire()
        await self.limiter.acquire()
        await self._window.acquire()

    def pause(self, seconds: float) -> None:
        """Hold every caller back for ``seconds`` from now."""
        self._pauses.pause(seconds)
        self._window.pause(seconds)

    def __repr__(self) -> str:
        return f"<StrictAsyncLimiter over {self.limiter!r}>"
