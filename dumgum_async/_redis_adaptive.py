"""The adaptive rate that every process of one :mod:`dumgum_async._redis` key shares.

Each process runs the adaptive controller (:mod:`dumgum_async._adaptive`) on its own
answers and proposes its cut or its rise with its next acquire; the script takes a
cut only downward and a rise only if the rate did not change within the last window
(so N processes add one step, not N), then returns the shared rate, which each
process's controller follows (:meth:`SharedRate.adopt`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any, Final

from dumgum_async._adaptive import AdaptiveController
from dumgum_async._config import AdaptiveRateLimit

__all__ = ["NO_PROPOSAL", "SharedRate"]

#: The script's adaptive arguments for a fixed rate (and for a pause sync).
NO_PROPOSAL: Final[list[str | float]] = [0, "none", 0, ""]


def _text(value: object) -> str:
    """A script's string answer, which redis-py gives as bytes unless decoding."""
    return value.decode() if isinstance(value, bytes) else str(value)


class SharedRate:
    """This process's controller of the shared adaptive rate, and what Redis last said.

    Args:
        config: The adaptive rate's bounds and start.
    """

    def __init__(self, config: AdaptiveRateLimit) -> None:
        self.config = config
        self.controller = AdaptiveController(
            config.min_rate, config.max_rate, config.start, config.time_period
        )
        #: The controller's clock (injectable for tests).
        self.now: Callable[[], float] = time.monotonic
        self._synced = self.controller.rate  # the shared rate as Redis last said it
        self._synced_at = -math.inf  # when (Redis clock, us) it last changed
        self._cut_pending = False  # a cut Redis has not been told of yet

    def observe(self, status: int, retry_after: float | None) -> bool:
        """Feed one answer to the controller (a cut is proposed with the next acquire);
        False if it says nothing about the rate limit (neither a 2xx nor a 429)."""
        controller = self.controller
        before = controller.rate
        if status == 429:
            controller.rate_limited(self.now(), retry_after)
            if controller.rate < before:
                self._cut_pending = True
        elif 200 <= status < 300:
            controller.success(self.now())
        else:
            return False
        return True

    def proposal(self) -> list[str | float]:
        """The script's adaptive arguments: start, proposal kind, rate, ceiling."""
        controller = self.controller
        if self._cut_pending:
            kind = "cut"
        elif controller.rate > self._synced:
            kind = "raise"
        else:
            kind = "none"
        ceiling = "" if controller.ceiling is None else repr(controller.ceiling)
        return [repr(self.config.start), kind, repr(controller.rate), ceiling]

    def adopt(self, answer: Any, sent_cut: bool) -> float | None:
        """Follow the shared rate an acquire's answer carries; return it (per window),
        or None if the answer carries none or was overtaken by a later change."""
        controller = self.controller
        if len(answer) < 5:
            return None
        rate_text, ceiling_text, changed_text = (_text(v) for v in answer[2:5])
        if not rate_text:
            return None
        if sent_cut:
            self._cut_pending = False  # applied, or the shared rate was lower already
        changed = float(changed_text)
        if changed < self._synced_at:
            return None  # an answer overtaken by a later change (another connection)
        rate = float(rate_text)
        ceiling = float(ceiling_text) if ceiling_text else None
        if rate < self._synced and rate < controller.rate:
            controller.follow(self.now(), rate, ceiling)  # another process cut it
        elif rate > self._synced:  # another process (or this one) raised it
            # Growth this controller made since goes on: its next proposal is its
            # own step, which Redis takes at most once per window from anyone.
            controller.rate = max(controller.rate, rate)
            if ceiling is not None:
                controller.ceiling = ceiling
        self._synced, self._synced_at = rate, changed
        return rate
