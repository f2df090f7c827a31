"""Retries: which failures, how long to wait, and a budget shared by a whole client.

tenacity is imported here and nowhere else. It is only entered after a first
attempt has failed with something worth retrying: a call that succeeds at once
never builds a ``AsyncRetrying`` object (measured at 15-45 us and ~20 garbage
objects per call). The failure that led here is replayed as tenacity's first
attempt, so every retry decision, wait and log line comes from one place.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import Final, Protocol, TypeVar

import tenacity as _t

from dumgum_async._config import RetryBudget, RetryPolicy
from dumgum_async._throttle import Limiter
from dumgum_async.exceptions import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    CircuitOpenError,
    ResponseDecodeError,
)

logger: Final = logging.getLogger("dumgum_async")

_T = TypeVar("_T")

#: Statuses worth another attempt. 409 and 425 are included: for this read-only,
#: idempotent endpoint they mean "not now" (a profile refresh in progress, an
#: early-data replay), not "never".
RETRYABLE_STATUSES: Final = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
#: Statuses whose Retry-After is a message to every caller, not just this one. A 503
#: is left out: it may be one overloaded backend among many, and pausing the whole
#: client on each one collapses a batch's throughput under a modest fault rate.
_PAUSING_STATUSES: Final = frozenset({429})


def is_retryable(exc: BaseException) -> bool:
    """True for failures another attempt may cure; never for cancellation, bad input or
    an open circuit breaker (failing fast is its point)."""
    if isinstance(exc, APIStatusError):
        return exc.status_code in RETRYABLE_STATUSES
    if isinstance(exc, CircuitOpenError):
        return False
    if isinstance(exc, APIConnectionError):
        return exc.retryable  # False for a TLS failure that cannot heal
    # A garbled 2xx body (a proxy's page, a cut connection) is transient too.
    return isinstance(exc, ResponseDecodeError)


def is_outage(exc: BaseException) -> bool:
    """True for failures that count against the API's health in the circuit breaker:
    no usable answer (connection errors, timeouts, a garbled 2xx body) or a 5xx. Any
    4xx, 429 included, shows the API is up and answering."""
    if isinstance(exc, APIStatusError):
        return exc.status_code >= 500
    if isinstance(exc, CircuitOpenError):
        return False
    return isinstance(exc, APIConnectionError | ResponseDecodeError)


def reason(exc: BaseException) -> str:
    """A short, secret-free label for logs and statistics: ``HTTP 503``, ``timeout``."""
    if isinstance(exc, APIStatusError):
        return f"HTTP {exc.status_code}"
    if isinstance(exc, APITimeoutError):
        return "timeout"
    if isinstance(exc, CircuitOpenError):
        return "circuit open"
    if isinstance(exc, APIConnectionError):
        return "connection error"
    if isinstance(exc, ResponseDecodeError):
        return "unreadable response"
    return type(exc).__name__


class RetryObserver(Protocol):
    """Told of retry decisions, for telemetry (``_otel.Telemetry`` implements it)."""

    def retrying(self, exc: BaseException, delay: float, attempt: int) -> None:
        """A retry after attempt number ``attempt`` failed with ``exc``, in ``delay`` s."""

    def paused(self, seconds: float) -> None:
        """A 429's ``Retry-After`` paused the limiter for ``seconds``."""


class BudgetTracker:
    """Counts first attempts and retries over a sliding window, for one client.

    Args:
        budget: The limits.
    """

    def __init__(self, budget: RetryBudget) -> None:
        self.budget = budget
        self._calls: collections.deque[float] = collections.deque()
        self._retries: collections.deque[float] = collections.deque()

    def record_call(self) -> None:
        """Note a first attempt (a deposit into the budget)."""
        now = time.monotonic()
        calls = self._calls
        calls.append(now)
        horizon = now - self.budget.window
        while calls[0] < horizon:
            calls.popleft()

    def try_spend(self) -> bool:
        """Take one retry from the budget; False when it is spent."""
        now = time.monotonic()
        horizon = now - self.budget.window
        for log in (self._calls, self._retries):
            while log and log[0] < horizon:
                log.popleft()
        allowed = self.budget.reserve + self.budget.ratio * len(self._calls)
        if len(self._retries) >= allowed:
            return False
        self._retries.append(now)
        return True


def backoff(policy: RetryPolicy, retry_number: int) -> float:
    """The wait before retry ``retry_number`` (1-based): doubling, capped, jittered."""
    base = min(policy.max_backoff, policy.initial_backoff * 2.0 ** (retry_number - 1))
    return base * (1.0 - policy.jitter * random.random())


class _Plan:
    """The decisions of one call's retries; tenacity asks it at each step."""

    def __init__(
        self,
        policy: RetryPolicy,
        budget: BudgetTracker | None,
        limiter: Limiter,
        deadline_at: float | None,
        on_retry: Callable[[BaseException], None] | None,
        observer: RetryObserver | None = None,
    ) -> None:
        self.policy = policy
        self.observer = observer
        self.budget = budget
        self.limiter = limiter
        self.deadline_at = deadline_at
        self.on_retry = on_retry
        self.delay = 0.0

    def should_retry(self, state: _t.RetryCallState) -> bool:
        outcome = state.outcome
        if outcome is None or not outcome.failed:
            return False
        exc = outcome.exception()
        if exc is None or not is_retryable(exc):
            return False
        if state.attempt_number >= self.policy.max_attempts:
            logger.warning("giving up after %d attempts: %s", state.attempt_number, reason(exc))
            return False
        policy = self.policy
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None and policy.respect_retry_after:
            if isinstance(exc, APIStatusError) and exc.status_code in _PAUSING_STATUSES:
                # Everyone sharing the limiter waits, not just this call.
                pause = min(retry_after, policy.max_retry_after)
                self.limiter.pause(pause)
                if self.observer is not None:  # telemetry hook
                    self.observer.paused(pause)
            if retry_after > policy.max_retry_after:
                logger.warning(
                    "not retrying: the server asked to wait %.1f s (max_retry_after is %.1f s)",
                    retry_after,
                    policy.max_retry_after,
                )
                return False
            delay = retry_after
        else:
            delay = backoff(policy, state.attempt_number)
        if self.deadline_at is not None:
            left = self.deadline_at - asyncio.get_running_loop().time()
            if delay >= left:
                logger.warning(
                    "not retrying: waiting %.2f s would pass the deadline (%.2f s left)",
                    delay,
                    max(left, 0.0),
                )
                return False
        if self.budget is not None and not self.budget.try_spend():
            logger.warning("not retrying %s: the client's retry budget is spent", reason(exc))
            return False
        self.delay = delay
        if self.on_retry is not None:
            self.on_retry(exc)
        if self.observer is not None:  # telemetry hook
            self.observer.retrying(exc, delay, state.attempt_number)
        return True

    def wait(self, state: _t.RetryCallState) -> float:
        return self.delay

    def log(self, state: _t.RetryCallState) -> None:
        outcome = state.outcome
        exc = outcome.exception() if outcome is not None else None
        # INFO, as openai-python does: a retry that then succeeds is routine.
        logger.info(
            "attempt %d/%d failed (%s); retrying in %.2f s",
            state.attempt_number,
            self.policy.max_attempts,
            reason(exc) if exc is not None else "?",
            self.delay,
        )


async def retry_after_failure(
    first: BaseException,
    attempt: Callable[[], Awaitable[_T]],
    *,
    policy: RetryPolicy,
    budget: BudgetTracker | None,
    limiter: Limiter,
    deadline_at: float | None,
    on_retry: Callable[[BaseException], None] | None = None,
    observer: RetryObserver | None = None,
) -> _T:
    """Carry on a call whose first attempt failed with ``first``.

    Returns the first successful result; raises the last real error (never
    tenacity's ``RetryError``) with ``attempts`` set. Cancellation passes through
    at once, during an attempt or a wait.
    """
    plan = _Plan(policy, budget, limiter, deadline_at, on_retry, observer)
    attempts = 0

    async def replay_then_attempt() -> _T:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise first
        return await attempt()

    retrying = _t.AsyncRetrying(
        stop=_t.stop_after_attempt(policy.max_attempts),
        wait=plan.wait,
        retry=plan.should_retry,
        before_sleep=plan.log,
        sleep=asyncio.sleep,
        reraise=True,
    )
    try:
        return await retrying(replay_then_attempt)
    except APIError as exc:
        exc.attempts = attempts
        raise
