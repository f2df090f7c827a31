"""The retry decision as a pure function (``_retry.decide``), its one place of
effects (``_Plan.decide``), the budget on a fake clock, and when tenacity is built."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import pytest
import tenacity
from aioresponses import aioresponses
from hypothesis import given, settings
from hypothesis import strategies as st

import dumgum_async as dg
from dumgum_async import _retry
from dumgum_async._deadline import Deadline
from dumgum_async._retry import GiveUp, Retry, decide
from dumgum_async.exceptions import status_error_class
from tests.helpers.bodies import minimal_request
from tests.helpers.constants import API_KEY, ENDPOINT

POLICY = dg.RetryPolicy(
    max_attempts=4, initial_backoff=0.5, max_backoff=4.0, jitter=0.0, max_retry_after=10.0
)


def _status(code: int, retry_after: float | None = None) -> dg.APIStatusError:
    cls = status_error_class(code)
    return cls(f"HTTP {code}", status_code=code, retry_after=retry_after)


def _decide(exc: BaseException, attempt: int = 1, **kwargs: Any) -> Retry | GiveUp:
    kwargs.setdefault("budget_left", True)
    kwargs.setdefault("remaining", None)
    kwargs.setdefault("draw", 0.0)
    policy = kwargs.pop("policy", POLICY)
    return decide(exc, attempt, policy, **kwargs)


@pytest.mark.parametrize(
    ("exc", "attempt", "kwargs", "expected"),
    [
        (_status(503), 1, {}, Retry(0.5)),
        (_status(503), 3, {}, Retry(2.0)),
        (_status(500), 1, {"draw": 0.5, "policy": dg.RetryPolicy(jitter=0.5)}, Retry(0.375)),
        (dg.APITimeoutError("t"), 2, {}, Retry(1.0)),
        (dg.APIConnectionError("reset"), 1, {}, Retry(0.5)),
        (dg.ResponseDecodeError("garbled"), 1, {}, Retry(0.5)),
        (_status(429, 2.0), 1, {}, Retry(2.0, pause=2.0)),
        (_status(503, 2.0), 1, {}, Retry(2.0)),  # a 503's Retry-After pauses no one else
        (
            _status(429, 2.0),
            1,
            {"policy": dg.RetryPolicy(respect_retry_after=False, jitter=0.0)},
            Retry(0.5),
        ),
        (_status(400), 1, {}, GiveUp(_retry.GIVE_UP_NOT_RETRYABLE)),
        (_status(401), 1, {}, GiveUp(_retry.GIVE_UP_NOT_RETRYABLE)),
        (
            dg.CircuitOpenError("open", retry_after=1.0, retry_at=0.0),
            1,
            {},
            GiveUp("not retryable"),
        ),
        (
            _status(503),
            4,
            {},
            GiveUp(_retry.GIVE_UP_ATTEMPTS, "giving up after 4 attempts: HTTP 503"),
        ),
        (
            _status(503),
            1,
            {"policy": dg.RetryPolicy(max_attempts=1)},
            GiveUp(_retry.GIVE_UP_ATTEMPTS),  # retries off: nothing to warn about
        ),
        (
            _status(429, 2.0),
            4,
            {},
            # out of attempts, but the others sharing the limiter still wait
            GiveUp(_retry.GIVE_UP_ATTEMPTS, "giving up after 4 attempts: HTTP 429", pause=2.0),
        ),
        (
            _status(429, 30.0),
            1,
            {"policy": dg.RetryPolicy(max_attempts=1, max_retry_after=10.0)},
            GiveUp(_retry.GIVE_UP_ATTEMPTS, pause=10.0),  # retries off still pauses
        ),
        (
            _status(429, 2.0),
            1,
            {"policy": dg.RetryPolicy(max_attempts=1, respect_retry_after=False)},
            GiveUp(_retry.GIVE_UP_ATTEMPTS),
        ),
        (
            _status(503, 2.0),
            4,
            {},
            GiveUp(_retry.GIVE_UP_ATTEMPTS, "giving up after 4 attempts: HTTP 503"),
        ),
        (
            _status(429, 30.0),
            1,
            {},
            GiveUp(
                _retry.GIVE_UP_RETRY_AFTER,
                "not retrying: the server asked to wait 30.0 s (max_retry_after is 10.0 s)",
                pause=10.0,
            ),
        ),
        (
            _status(503),
            1,
            {"remaining": 0.4},
            GiveUp(
                _retry.GIVE_UP_DEADLINE,
                "not retrying: waiting 0.50 s would pass the deadline (0.40 s left)",
            ),
        ),
        (
            _status(429, 1.0),
            1,
            {"remaining": 1.0},
            GiveUp(
                _retry.GIVE_UP_DEADLINE,
                "not retrying: waiting 1.00 s would pass the deadline (1.00 s left)",
                pause=1.0,
            ),
        ),
        (
            _status(503),
            1,
            {"budget_left": False},
            GiveUp(
                _retry.GIVE_UP_BUDGET, "not retrying HTTP 503: the client's retry budget is spent"
            ),
        ),
    ],
)
def test_decision_table(
    exc: BaseException, attempt: int, kwargs: dict[str, Any], expected: Retry | GiveUp
) -> None:
    assert _decide(exc, attempt, **kwargs) == expected


_ERRORS = st.one_of(
    st.builds(
        _status,
        st.sampled_from([400, 401, 403, 404, 408, 409, 422, 425, 429, 500, 502, 503, 504]),
        st.none() | st.floats(0, 100),
    ),
    st.just(dg.APITimeoutError("t")),
    st.just(dg.APIConnectionError("c")),
    st.just(dg.ResponseDecodeError("d")),
    st.just(dg.CircuitOpenError("o", retry_after=1.0, retry_at=0.0)),
)
_POLICIES = st.builds(
    dg.RetryPolicy,
    max_attempts=st.integers(1, 8),
    initial_backoff=st.floats(0.001, 5),
    max_backoff=st.floats(5, 30),
    jitter=st.floats(0, 1),
    respect_retry_after=st.booleans(),
    max_retry_after=st.floats(0.1, 60),
)


@settings(max_examples=300, deadline=None)
@given(
    exc=_ERRORS,
    attempt=st.integers(1, 10),
    policy=_POLICIES,
    budget_left=st.booleans(),
    remaining=st.none() | st.floats(-1, 100),
    draw=st.floats(0, 1, exclude_max=True),
)
def test_a_retry_is_only_ever_decided_within_every_limit(
    exc: BaseException,
    attempt: int,
    policy: dg.RetryPolicy,
    budget_left: bool,
    remaining: float | None,
    draw: float,
) -> None:
    decision = decide(exc, attempt, policy, budget_left=budget_left, remaining=remaining, draw=draw)
    assert decision == decide(
        exc, attempt, policy, budget_left=budget_left, remaining=remaining, draw=draw
    )  # pure: the same answer for the same question
    if decision.pause is not None:
        assert isinstance(exc, dg.RateLimitError)
        assert 0 <= decision.pause <= policy.max_retry_after
    if isinstance(decision, Retry):
        assert _retry.is_retryable(exc)
        assert attempt < policy.max_attempts
        assert budget_left
        assert 0 <= decision.delay <= max(policy.max_backoff, policy.max_retry_after)
        assert remaining is None or decision.delay < remaining


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_budget_refills_as_its_window_slides_on_its_clock() -> None:
    clock = _Clock()
    tracker = _retry.BudgetTracker(dg.RetryBudget(ratio=0.5, min_per_second=0, window=10), clock)
    for _ in range(4):
        tracker.record_call()
    assert [tracker.try_spend() for _ in range(3)] == [True, True, False]
    clock.now += 11  # the calls and the retries left the window
    assert not tracker.available()
    tracker.record_call()
    tracker.record_call()
    assert tracker.available()


def test_available_does_not_spend() -> None:
    tracker = _retry.BudgetTracker(dg.RetryBudget(ratio=0, min_per_second=0.1, window=10))
    assert all(tracker.available() for _ in range(5))
    tracker.spend()
    assert not tracker.available()


class _Limiter:
    def __init__(self) -> None:
        self.paused: list[float] = []

    async def acquire(self) -> None:
        return None

    def pause(self, seconds: float) -> None:
        self.paused.append(seconds)


class _Observer:
    def __init__(self) -> None:
        self.events: list[tuple[str, float]] = []

    def retrying(self, exc: BaseException, delay: float, attempt: int) -> None:
        self.events.append(("retrying", delay))

    def paused(self, seconds: float) -> None:
        self.events.append(("paused", seconds))


def _plan(**kwargs: Any) -> tuple[Any, _Limiter, _Observer, list[BaseException]]:
    limiter, observer = _Limiter(), _Observer()
    counted: list[BaseException] = []
    plan = _retry._Plan(
        kwargs.get("policy", POLICY),
        kwargs.get("budget"),
        limiter,
        kwargs.get("deadline"),
        counted.append,
        observer,
        kwargs.get("before_retry"),
    )
    return plan, limiter, observer, counted


def test_a_429_retry_pauses_the_limiter_counts_and_tells_telemetry() -> None:
    plan, limiter, observer, counted = _plan()
    exc = _status(429, 2.0)
    assert plan.decide(exc, 1)
    assert (limiter.paused, observer.events, counted, plan.delay) == (
        [2.0],
        [("paused", 2.0), ("retrying", 2.0)],
        [exc],
        2.0,
    )


def test_giving_up_on_a_429_still_pauses_but_spends_and_counts_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    budget = _retry.BudgetTracker(dg.RetryBudget(ratio=0, min_per_second=0.1, window=10))
    plan, limiter, observer, counted = _plan(budget=budget)
    assert not plan.decide(_status(429, 30.0), 1)
    assert (limiter.paused, observer.events, counted) == ([10.0], [("paused", 10.0)], [])
    assert budget.available()  # not spent
    assert "max_retry_after is 10.0 s" in caplog.text


def test_a_retry_refused_as_it_is_decided_still_pauses_but_spends_and_counts_nothing() -> None:
    class Stopped(Exception):
        pass

    def refuse() -> None:
        raise Stopped

    budget = _retry.BudgetTracker(dg.RetryBudget(ratio=0, min_per_second=0.1, window=10))
    plan, limiter, observer, counted = _plan(budget=budget, before_retry=refuse)
    with pytest.raises(Stopped):
        plan.decide(_status(429, 2.0), 1)
    assert (limiter.paused, observer.events, counted) == ([2.0], [("paused", 2.0)], [])
    assert budget.available()  # not spent


def test_a_retry_spends_the_budget_once() -> None:
    budget = _retry.BudgetTracker(dg.RetryBudget(ratio=0, min_per_second=0.2, window=10))
    plan, *_ = _plan(budget=budget)
    assert plan.decide(_status(503), 1)
    assert plan.decide(_status(503), 2)
    assert not plan.decide(_status(503), 3)  # the reserve of 2 is spent


def test_the_plan_reads_the_deadline_on_its_clock() -> None:
    clock = _Clock()
    plan, *_ = _plan(deadline=Deadline(clock.now + 1.0, clock))
    assert plan.decide(_status(503), 1)  # 0.5 s of backoff fits in 1 s
    clock.now += 0.6
    assert not plan.decide(_status(503), 1)


def test_a_plain_failure_is_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="dumgum_async")
    plan, *_ = _plan()
    assert not plan.decide(_status(400), 1)
    assert caplog.records == []


# --- "a successful first attempt never builds a tenacity object" ----------------------


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    made: list[object] = []
    real = tenacity.AsyncRetrying

    def counting(*args: Any, **kwargs: Any) -> Any:
        made.append(object())
        return real(*args, **kwargs)

    monkeypatch.setattr(tenacity, "AsyncRetrying", counting)
    return made


async def _one_call(mock_api: aioresponses, *statuses: int) -> None:
    for status in statuses:
        mock_api.post(ENDPOINT, status=status, payload={"suggestions": ["a"]})
    fast = dg.RetryPolicy(initial_backoff=0.001, max_backoff=0.002, budget=None)
    async with dg.DumGumClient(api_key=API_KEY, retry=fast) as client:
        with contextlib.suppress(dg.APIStatusError):
            await client.suggest(minimal_request())


async def test_a_successful_first_attempt_builds_no_tenacity_object(
    mock_api: aioresponses, builds: list[object]
) -> None:
    await _one_call(mock_api, 200)
    assert builds == []


async def test_a_failure_not_worth_retrying_builds_no_tenacity_object(
    mock_api: aioresponses, builds: list[object]
) -> None:
    await _one_call(mock_api, 400)
    assert builds == []


async def test_a_retried_call_builds_one_tenacity_object(
    mock_api: aioresponses, builds: list[object]
) -> None:
    await _one_call(mock_api, 503, 503, 200)
    assert len(builds) == 1
