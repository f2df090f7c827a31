"""A call's deadline: the one place that does arithmetic with ``RetryPolicy.deadline``.

Every wait of a call (a concurrency slot, a rate-limit token, the breaker's next
probe, a retry's sleep) and every attempt's timeout is measured against one
:class:`Deadline`, built when the call starts on the running loop's clock (any
``time.monotonic``-like clock in tests). A call without a deadline has ``None``
instead, so that the common case costs one ``is None`` test per wait.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from dumgum_async._config import RetryPolicy, Timeout
from dumgum_async.exceptions import APITimeoutError


class _Timed(Protocol):
    def time(self) -> float:
        """Now, in seconds (an event loop's ``time``)."""
        ...


class Deadline:
    """The instant, on ``clock``, by which a call must be over.

    Args:
        at: The instant, in ``clock``'s seconds.
        clock: What "now" is; the running loop's ``time()`` wherever :meth:`within`
            is used (``asyncio.timeout_at`` keeps the loop's time).
    """

    __slots__ = ("at", "clock")

    def __init__(self, at: float, clock: Callable[[], float]) -> None:
        self.at = at
        self.clock = clock

    @classmethod
    def of(cls, policy: RetryPolicy | None, loop: _Timed) -> Deadline | None:
        """The deadline of a call starting now under ``policy``, on ``loop``'s clock;
        None when it has none (then nothing is made, and the clock is not read: the
        common case)."""
        if policy is None or policy.deadline is None:
            return None
        return cls(loop.time() + policy.deadline, loop.time)

    def remaining(self) -> float:
        """Seconds left; zero or less once it has passed."""
        return self.at - self.clock()

    def expired(self) -> bool:
        """True once it has passed."""
        return self.remaining() <= 0

    def cap(self, delay: float) -> float:
        """``delay`` shortened to what is left (never below zero)."""
        return max(min(delay, self.remaining()), 0.0)

    def cap_timeout(self, timeout: float | Timeout) -> float | Timeout | None:
        """An attempt's timeout with its total cut to what is left: ``timeout`` itself
        when it fits (so ``is not timeout`` tells that the deadline cut it short),
        None when the deadline has passed."""
        left = self.remaining()
        if left <= 0:
            return None
        if not isinstance(timeout, Timeout):
            return timeout if timeout <= left else left
        if timeout.total <= left:
            return timeout
        return Timeout(total=left, connect=timeout.connect, read=timeout.read)

    async def within(self, wait: Awaitable[Any], during: str, url: str) -> None:
        """Await ``wait``, unless the deadline passes first.

        Raises:
            APITimeoutError: It passed while waiting (``during`` says for what).
        """
        try:
            async with asyncio.timeout_at(self.at):
                await wait
        except TimeoutError:
            raise expired(during, url) from None


def expired(during: str, url: str) -> APITimeoutError:
    """The error of a call whose deadline passed while ``during``."""
    return APITimeoutError(f"the call's deadline passed while {during}", url=url)
