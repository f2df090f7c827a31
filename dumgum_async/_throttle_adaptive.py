"""The in-process limiter whose rate adapts: :class:`AdaptiveLimiter`.

A :class:`~dumgum_async._throttle.LocalLimiter` whose rate the adaptive controller
(:mod:`dumgum_async._adaptive`) moves from the answers the client reports; the
schedule, the release log and its guarantees are the local limiter's.
"""

from __future__ import annotations

import asyncio
import time

from dumgum_async._adaptive import AdaptiveController
from dumgum_async._config import AdaptiveRateLimit, RateLimit
from dumgum_async._throttle import Clock, LocalLimiter, Sleep

__all__ = ["AdaptiveLimiter"]


class AdaptiveLimiter(LocalLimiter):
    """A :class:`LocalLimiter` whose rate an :class:`AdaptiveController` sets from
    the answers the client reports through :meth:`observe`.

    Args:
        config: The bounds and starting rate.
        clock: Seconds, monotonic; must be the clock ``sleep`` waits on.
        sleep: Waits that many seconds (a fake one in tests).
    """

    def __init__(
        self,
        config: AdaptiveRateLimit,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.config = config
        self.controller = AdaptiveController(
            config.min_rate, config.max_rate, config.start, config.time_period
        )
        super().__init__(
            RateLimit(self.controller.rate, config.time_period), clock=clock, sleep=sleep
        )

    def observe(self, status: int, retry_after: float | None) -> None:
        """An HTTP attempt got ``status`` (with the ``Retry-After`` of a 429)."""
        controller = self.controller
        before = controller.rate
        if status == 429:
            controller.rate_limited(self._clock(), retry_after)
        elif 200 <= status < 300:
            controller.success(self._clock())
        else:
            return  # no evidence about the rate limit
        if controller.rate != before:
            self._set_rate(RateLimit(controller.rate, self.config.time_period))

    @property
    def rate_ceiling(self) -> float | None:
        """Requests per second at which 429s began (the latest cut); None before any."""
        ceiling = self.controller.ceiling
        return None if ceiling is None else ceiling / self.config.time_period
