"""The circuit breaker: closed, open, half open, decided from the outcomes of attempts.

Pure bookkeeping on an injectable clock: no asyncio object is stored, so one
breaker serves a client across event loops and unit tests drive it with a fake
clock. Waiting is the caller's business: :meth:`Breaker.admit` says *how long*.

Each admission is a :class:`Ticket` stamped with the breaker's generation (bumped
on every change of state), so an attempt that was sent before the breaker opened
and fails after it cannot count twice, and only the probe's outcome decides a
half-open breaker.
"""

from __future__ import annotations

import collections
import logging
import time
from collections.abc import Callable
from typing import Final

from dumgum_async._config import CircuitBreaker

logger: Final = logging.getLogger("dumgum_async")

CLOSED: Final = "closed"
OPEN: Final = "open"
HALF_OPEN: Final = "half_open"

#: How often a caller waiting behind a probe in flight asks again, in seconds.
PROBE_POLL: Final = 0.05


class Ticket:
    """Permission to send one attempt; hand it back with :meth:`Breaker.record`.

    Never changed once made: a closed breaker hands every attempt the same one.
    """

    __slots__ = ("generation", "probe")

    def __init__(self, generation: int, probe: bool) -> None:
        self.generation = generation
        self.probe = probe


class Breaker:
    """The state of one client's circuit breaker.

    Args:
        policy: Thresholds and cool-downs.
        clock: Monotonic seconds; ``time.monotonic`` by default (the same clock as
            CPython's event loops, so it carries over from one loop to the next).
    """

    def __init__(
        self, policy: CircuitBreaker, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.policy = policy
        self._clock = clock
        self._state = CLOSED
        self._generation = 0
        # What every attempt gets while closed: one object per generation, not per attempt.
        self._closed_ticket = Ticket(0, probe=False)
        self._outcomes: collections.deque[bool] = collections.deque(maxlen=policy.window)
        self._failures = 0  # failures among _outcomes
        self._cooldown = policy.cooldown
        self._probe_at = 0.0  # when an open breaker lets a probe through
        self._probing = False  # a probe is in flight
        self._probe_successes = 0
        self.openings = 0
        #: Called each time the breaker opens (the client's telemetry hook).
        self.on_open: Callable[[], None] | None = None

    @property
    def state(self) -> str:
        """``closed``, ``open`` or ``half_open`` (an open breaker whose cool-down is over
        reads as half open)."""
        if self._state == OPEN and self._clock() >= self._probe_at:
            return HALF_OPEN
        return self._state

    @property
    def retry_at(self) -> float | None:
        """Clock time at which a probe may go, while not closed; None when closed."""
        return None if self._state == CLOSED else self._probe_at

    def admit(self) -> Ticket | float:
        """A :class:`Ticket` if an attempt may be sent now, else seconds to wait first."""
        if self._state == CLOSED:
            return self._closed_ticket
        now = self._clock()
        if self._state == OPEN:
            if now < self._probe_at:
                return self._probe_at - now
            self._change(HALF_OPEN)
        if self._probing:
            return PROBE_POLL
        self._probing = True
        return Ticket(self._generation, probe=True)

    def record(self, ticket: Ticket, failed: bool | None) -> None:
        """The outcome of a ticket's attempt: True failed, False succeeded, None neither
        (cancelled, or cut short by the caller's own deadline)."""
        if ticket.generation != self._generation:
            return  # sent before the last change of state: no longer evidence
        if ticket.probe:
            self._probing = False
            if failed is None:
                return
            if failed:
                self._cooldown = min(self._cooldown * 2, self.policy.max_cooldown)
                self._open()
                return
            self._probe_successes += 1
            if self._probe_successes >= self.policy.probes:
                self._change(CLOSED)
                logger.warning("circuit breaker closed: the API answers again")
            return
        if failed is None or self._state != CLOSED:
            return
        outcomes = self._outcomes
        if len(outcomes) == outcomes.maxlen and outcomes[0]:
            self._failures -= 1
        outcomes.append(failed)
        if failed:
            self._failures += 1
            if len(
                outcomes
            ) == outcomes.maxlen and self._failures >= self.policy.failure_ratio * len(outcomes):
                self._cooldown = self.policy.cooldown
                self._open()

    def _open(self) -> None:
        self._change(OPEN)
        self._probe_at = self._clock() + self._cooldown
        self.openings += 1
        if self.on_open is not None:
            self.on_open()
        logger.warning(
            "circuit breaker open: the API keeps failing; next probe in %.1f s", self._cooldown
        )

    def _change(self, state: str) -> None:
        self._state = state
        self._generation += 1
        self._closed_ticket = Ticket(self._generation, probe=False)
        self._probing = False
        self._probe_successes = 0
        if state == CLOSED:
            self._outcomes.clear()
            self._failures = 0
