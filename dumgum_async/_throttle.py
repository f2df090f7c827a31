"""Client-side throttling: the rate limit, and the pause a server can impose.

The limit is a GCRA schedule (the "virtual scheduling" form of a token bucket):
each caller is given the next free slot on a grid of ``period / max_rate`` and
sleeps once until it. A late wake-up does not shift the grid, so the rate holds
on a busy machine; ``burst`` lets that many slots fall at once after a quiet
spell. A log of the last ``max_rate`` actual release times then holds a release
back until the oldest one has left the window, so no window of ``period`` ever
holds more than ``max_rate`` releases, whatever the wake-up jitter.

Why not aiolimiter, which this project started with: measured here, its bucket
sized to one request lost every late wake-up (88 requests/s at a limit of 100/s),
and on uvloop, whose clock moves in 1 ms steps, it spun on zero-delay timers
(~130 wake-ups and ~0.8 ms of CPU per acquire). A plain ``AsyncLimiter(R, 1)``
also lets about 2R through in the first second. See benchmarks/README.md.
"""

from __future__ import annotations

import asyncio
import collections
import math
import time
from typing import Final, Protocol, runtime_checkable

from dumgum_async._config import RateLimit

#: Extra spacing, beyond the window, between a release and the one ``max_rate``
#: releases before it: the server counts arrivals, and neither the network nor a
#: busy server process delivers two requests with exactly the gap they were sent
#: with (a 20 ms stall of a server's event loop is ordinary). It costs 2% of the
#: rate for a one-second window, 0.03% for a one-minute window.
ARRIVAL_MARGIN: Final = 0.02
_EARLY_OK: Final = 0.001


@runtime_checkable
class Limiter(Protocol):
    """What the client needs from a rate limiter; implement it to share one elsewhere.

    ``acquire`` returns when one request may be sent now; ``pause`` reports that
    the server asked everyone to wait (a 429 with ``Retry-After``), so that every
    caller sharing the limiter waits, not only the one that was told.
    """

    async def acquire(self) -> None:
        """Wait until one request may be sent."""
        ...

    def pause(self, seconds: float) -> None:
        """Hold every caller back for ``seconds`` from now."""
        ...


class LocalLimiter:
    """The in-process :class:`Limiter`.

    A caller cancelled while waiting gives up its slot; the slot is not reused,
    which can only make the rate lower, never higher.

    Args:
        rate: The limit to enforce, or None for no limit (only pauses apply).
    """

    def __init__(self, rate: RateLimit | None) -> None:
        self.rate = rate
        self._paused_until = 0.0
        self._interval = 0.0
        self._tolerance = 0.0
        self._tat = 0.0  # theoretical arrival time of the next request
        self._span = 0.0
        self._released: collections.deque[float] | None = None
        if rate is not None:
            self._span = rate.time_period + min(ARRIVAL_MARGIN, rate.time_period / 100)
            # The grid includes the margin, so that on time the window check below
            # never has to hold anyone back (a second sleep would double the cost).
            self._interval = self._span / rate.max_rate
            self._tolerance = (rate.burst - 1) * self._interval
            window = max(1, math.floor(rate.max_rate))  # 2.5/s allows 2 in any second
            self._released = collections.deque(maxlen=window)

    def pause(self, seconds: float) -> None:
        """Hold every caller back for ``seconds`` from now."""
        until = time.monotonic() + seconds
        if until > self._paused_until:
            self._paused_until = until

    async def acquire(self) -> None:
        """Wait for any pause to end and for a slot; the request may then be sent."""
        # A loop, not one sleep: the pause may be extended while we wait.
        while (wait := self._paused_until - time.monotonic()) > 0:  # noqa: ASYNC110
            await asyncio.sleep(wait)
        released = self._released
        if released is None:
            return
        now = time.monotonic()
        tat = self._tat if self._tat > now else now
        at = tat - self._tolerance
        if at < now:
            at = now
        self._tat = tat + self._interval
        # uvloop rounds timers to whole milliseconds, so a wake-up can come a little
        # early; sleeping again for that sliver would double the cost of an acquire.
        # Up to 1 ms early is accepted: the grid does not move, and the window
        # check below still holds exactly.
        while at - now > _EARLY_OK:
            await asyncio.sleep(at - now)
            now = time.monotonic()
        # Check and record the *actual* release time with no await in between: a
        # late wake-up must not let a request into a full window.
        span = self._span
        while True:
            now = time.monotonic()
            if len(released) < (released.maxlen or 0) or now - released[0] >= span:
                released.append(now)
                return
            await asyncio.sleep(released[0] + span - now)
