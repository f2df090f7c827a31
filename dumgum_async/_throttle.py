"""Client-side throttling: the rate limit, and the pause a server can impose.

aiolimiter is imported here and nowhere else. A plain ``AsyncLimiter(R, 1)`` is a
leaky bucket that starts empty: it lets R requests through at once and R more as
the bucket drains, about 2R in the first second, which a strict server answers
with 429s. So the bucket is sized to the *burst* instead (capacity ``burst``,
draining at R per period): with the default burst of 1 that spaces requests
evenly, one every ``period / R``. A burst larger than 1 would let more than R
through in a window, so a log of the last R send times holds each request back
until it fits: no window of ``period`` ever holds more than R releases.
"""

from __future__ import annotations

import asyncio
import collections
import math
from typing import Protocol, runtime_checkable

from aiolimiter import AsyncLimiter

from dumgum_async._config import RateLimit


@runtime_checkable
class Limiter(Protocol):
    """What the client needs from a rate limiter; implement it to share one elsewhere.

    ``acquire`` returns when one request may be sent now; ``pause`` reports that
    the server asked everyone to wait (a 429 with ``Retry-After``), so that
    every caller sharing the limiter waits, not only the one that was told.
    """

    async def acquire(self) -> None:
        """Wait until one request may be sent."""
        ...

    def pause(self, seconds: float) -> None:
        """Hold every caller back for ``seconds`` from now."""
        ...


class LocalLimiter:
    """The in-process :class:`Limiter`; create it inside the loop that will use it.

    Args:
        rate: The limit to enforce, or None for no limit (only pauses apply).
    """

    def __init__(self, rate: RateLimit | None) -> None:
        self.rate = rate
        self._loop = asyncio.get_running_loop()
        self._paused_until = 0.0
        self._bucket: AsyncLimiter | None = None
        # The release log is only needed when a burst could overfill a window; the
        # evenly spaced default stays free of that bookkeeping.
        self._sent: collections.deque[float] | None = None
        self._window = 0
        if rate is not None:
            self._bucket = AsyncLimiter(rate.burst, rate.burst * rate.interval)
            if rate.burst > 1:
                self._window = math.ceil(rate.max_rate)
                self._sent = collections.deque(maxlen=self._window)

    def pause(self, seconds: float) -> None:
        """Hold every caller back for ``seconds`` from now."""
        until = self._loop.time() + seconds
        if until > self._paused_until:
            self._paused_until = until

    async def acquire(self) -> None:
        """Wait for any pause to end and for a token; the request may then be sent."""
        loop = self._loop
        # A loop, not one sleep: the pause may be extended while we wait.
        while (wait := self._paused_until - loop.time()) > 0:  # noqa: ASYNC110
            await asyncio.sleep(wait)
        if self._bucket is None:
            return
        await self._bucket.acquire()
        sent = self._sent
        if sent is None:
            return
        period = self.rate.time_period if self.rate is not None else 0.0
        # Check and record the *actual* release time, atomically (no await between):
        # a late wake-up must not let the next request in early.
        while True:
            now = loop.time()
            if len(sent) < self._window or sent[0] + period <= now:
                sent.append(now)
                return
            await asyncio.sleep(sent[0] + period - now)
