"""Retries: which failures, how long to wait, and a budget shared by a whole client.

tenacity is imported here and nowhere else. It is only entered after a first
attempt has failed with something worth retrying: a call that succeeds at once
never builds a ``AsyncRetrying`` object (measured at 15-45 us and ~20 garbage
objects per call). The failure that led here is replayed as tenacity's first
attempt.

Every decision is made by :func:`decide`, a pure function of the error, the attempt
number, the policy, the budget's state and the time left (so it is tested without a
loop or a clock); ``_Plan.decide`` is the one place that acts on it: pausing the
limiter on a 429, spending the budget, counting the retry, telemetry and the log.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import Final, NamedTuple, Protocol, TypeVar

import attrs
import tenacity as _t

from dumgum_async._config import RetryBudget, RetryPolicy
from dumgum_async._deadline import Deadline
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
        clock: A ``time.monotonic``-like clock (a fake one in tests).
    """

    def __init__(self, budget: RetryBudget, clock: Callable[[], float] = time.monotonic) -> None:
        self.budget = budget
        self._clock = clock
        self._calls: collections.deque[float] = collections.deque()
        self._retries: collections.deque[float] = collections.deque()

    def record_call(self) -> None:
        """Note a first attempt (a deposit into the budget)."""
        now = self._clock()
        calls = self._calls
        calls.append(now)
        horizon = now - self.budget.window
        while calls[0] < horizon:
            calls.popleft()

    def available(self) -> bool:
        """True while a retry may be taken from the budget (it is not taken)."""
        horizon = self._clock() - self.budget.window
        for log in (self._calls, self._retries):
            while log and log[0] < horizon:
                log.popleft()
        return len(self._retries) < self.budget.reserve + self.budget.ratio * len(self._calls)

    def spend(self) -> None:
        """Take one retry from the budget (after :meth:`available` said yes)."""
        self._retries.append(self._clock())

    def try_spend(self) -> bool:
        """Take one retry from the budget; False when it is spent."""
        if not self.available():
            return False
        self.spend()
        return True


def backoff(policy: RetryPolicy, retry_number: int, draw: float | None = None) -> float:
    """The wait before retry ``retry_number`` (1-based): doubling, capped, jittered by
    ``draw`` (in [0, 1); a random one if None)."""
    base = min(policy.max_backoff, policy.initial_backoff * 2.0 ** (retry_number - 1))
    return base * (1.0 - policy.jitter * (random.random() if draw is None else draw))


class Retry(NamedTuple):
    """Decided: try again after ``delay`` seconds."""

    delay: float
    #: Seconds every caller of the shared limiter waits first (a 429's Retry-After).
    pause: float | None = None


class GiveUp(NamedTuple):
    """Decided: raise the error; ``why`` is one of the ``GIVE_UP_*`` labels."""

    why: str
    #: The warning to log, "" for a failure that is simply not retried.
    message: str = ""
    pause: float | None = None


GIVE_UP_NOT_RETRYABLE: Final = "not retryable"
GIVE_UP_ATTEMPTS: Final = "attempts"
GIVE_UP_RETRY_AFTER: Final = "retry-after too long"
GIVE_UP_DEADLINE: Final = "deadline"
GIVE_UP_BUDGET: Final = "budget"


def decide(
    exc: BaseException,
    attempt: int,
    policy: RetryPolicy,
    *,
    budget_left: bool,
    remaining: float | None,
    draw: float,
) -> Retry | GiveUp:
    """What to do after attempt number ``attempt`` failed with ``exc``: a pure function.

    Args:
        exc: The failure.
        attempt: 1 for the first attempt.
        policy: The call's policy.
        budget_left: Whether the client's retry budget allows one more (True
            without a budget).
        remaining: Seconds left before the call's deadline; None: no deadline.
        draw: The jitter draw, in [0, 1).
    """
    if not is_retryable(exc):
        return GiveUp(GIVE_UP_NOT_RETRYABLE)
    # Without respect_retry_after, as if the server had not said.
    retry_after = getattr(exc, "retry_after", None) if policy.respect_retry_after else None
    pause = None
    if (
        retry_after is not None
        and isinstance(exc, APIStatusError)
        and exc.status_code in _PAUSING_STATUSES
    ):
        # Everyone sharing the limiter waits, not just this call: even if this
        # call gives up below (out of attempts too), the others would hit the
        # same limit.
        pause = min(retry_after, policy.max_retry_after)
    if attempt >= policy.max_attempts:
        # With retries off (max_attempts=1) there is nothing to warn about.
        said = f"giving up after {attempt} attempts: {reason(exc)}" if attempt > 1 else ""
        return GiveUp(GIVE_UP_ATTEMPTS, said, pause)
    if retry_after is not None:
        if retry_after > policy.max_retry_after:
            return GiveUp(
                GIVE_UP_RETRY_AFTER,
                f"not retrying: the server asked to wait {retry_after:.1f} s "
                f"(max_retry_after is {policy.max_retry_after:.1f} s)",
                pause,
            )
        delay = float(retry_after)
    else:
        delay = backoff(policy, attempt, draw)
    if remaining is not None and delay >= remaining:
        return GiveUp(
            GIVE_UP_DEADLINE,
            f"not retrying: waiting {delay:.2f} s would pass the deadline "
            f"({max(remaining, 0.0):.2f} s left)",
            pause,
        )
    if not budget_left:
        return GiveUp(
            GIVE_UP_BUDGET, f"not retrying {reason(exc)}: the client's retry budget is spent", pause
        )
    return Retry(delay, pause)


@attrs.define(slots=True)
class _Plan:
    """One call's retries: asks :func:`decide` after each failure and carries out
    what it says (the only place where a retry decision has effects)."""

    policy: RetryPolicy
    budget: BudgetTracker | None
    limiter: Limiter
    deadline: Deadline | None
    on_retry: Callable[[BaseException], None] | None
    observer: RetryObserver | None
    #: Asked once a retry is decided, before anything is spent or counted: it raises
    #: if the retry must not happen after all (a batch that stopped).
    before_retry: Callable[[], None] | None
    #: The wait tenacity asks for next: that of the last decision to retry.
    delay: float = 0.0

    def decide(self, exc: BaseException, attempt: int) -> bool:
        """Decide after attempt ``attempt`` failed with ``exc``, apply it; True: retry."""
        budget, deadline = self.budget, self.deadline
        decision = decide(
            exc,
            attempt,
            self.policy,
            budget_left=budget is None or budget.available(),
            remaining=None if deadline is None else deadline.remaining(),
            draw=random.random(),
        )
        observer = self.observer
        if decision.pause is not None:
            self.limiter.pause(decision.pause)
            if observer is not None:  # telemetry hook
                observer.paused(decision.pause)
        if isinstance(decision, GiveUp):
            if decision.message:
                logger.warning("%s", decision.message)
            return False
        if self.before_retry is not None:
            self.before_retry()
        if budget is not None:
            budget.spend()
        self.delay = decision.delay
        if self.on_retry is not None:
            self.on_retry(exc)
        if observer is not None:  # telemetry hook
            observer.retrying(exc, decision.delay, attempt)
        # INFO, as openai-python does: a retry that then succeeds is routine.
        logger.info(
            "attempt %d/%d failed (%s); retrying in %.2f s",
            attempt,
            self.policy.max_attempts,
            reason(exc),
            decision.delay,
        )
        return True

    def should_retry(self, state: _t.RetryCallState) -> bool:
        # Attempt 1 was decided before tenacity was entered (see retry_after_failure).
        outcome = state.outcome
        if state.attempt_number == 1 or outcome is None or not outcome.failed:
            return state.attempt_number == 1
        exc = outcome.exception()
        return exc is not None and self.decide(exc, state.attempt_number)

    def wait(self, state: _t.RetryCallState) -> float:
        return self.delay


async def retry_after_failure(
    first: APIError,
    attempt: Callable[[], Awaitable[_T]],
    *,
    policy: RetryPolicy,
    budget: BudgetTracker | None,
    limiter: Limiter,
    deadline: Deadline | None,
    on_retry: Callable[[BaseException], None] | None = None,
    observer: RetryObserver | None = None,
    before_retry: Callable[[], None] | None = None,
) -> _T:
    """Carry on a call whose first attempt failed with ``first``.

    Returns the first successful result; raises the last real error (never
    tenacity's ``RetryError``) with ``attempts`` set. Cancellation passes through
    at once, during an attempt or a wait. A failure not worth retrying is raised
    without building anything of tenacity. ``before_retry`` is asked once a retry
    is decided, before the budget is spent or the retry counted or logged (a batch's
    raises if the batch stopped: the retry would not be sent). A pause the failure
    calls for (a 429's ``Retry-After``) is applied first, whatever it says.
    """
    plan = _Plan(policy, budget, limiter, deadline, on_retry, observer, before_retry)
    if not plan.decide(first, 1):
        first.attempts = 1
        raise first
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
        sleep=asyncio.sleep,
        reraise=True,
    )
    try:
        return await retrying(replay_then_attempt)
    except APIError as exc:
        exc.attempts = attempts
        raise
