"""Retry decisions against a mocked API: what is retried, how often, and when it stops."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Any

import aiohttp
import pytest
from aioresponses import aioresponses

import dumgum_async as dg
from dumgum_async import _retry
from tests.helpers.bodies import minimal_request
from tests.helpers.constants import API_KEY, ENDPOINT
from tests.helpers.tasks import no_client_tasks_left

OK = {"suggestions": ["a", "b", "c"]}
FAST = dg.RetryPolicy(max_attempts=4, initial_backoff=0.001, max_backoff=0.002, budget=None)


def _client(**kwargs: Any) -> dg.DumGumClient:
    kwargs.setdefault("api_key", API_KEY)
    kwargs.setdefault("retry", FAST)
    return dg.DumGumClient(**kwargs)


def _attempts(mock_api: aioresponses) -> int:
    return sum(len(calls) for calls in mock_api.requests.values())


@pytest.mark.parametrize("status", [408, 409, 425, 429, 500, 502, 503, 504])
async def test_retried_status_is_retried_until_success(mock_api: aioresponses, status: int) -> None:
    mock_api.post(ENDPOINT, status=status)
    mock_api.post(ENDPOINT, payload=OK)
    async with _client() as client:
        response = await client.suggest(minimal_request())
    assert response.suggestions == ("a", "b", "c")
    assert _attempts(mock_api) == 2


@pytest.mark.parametrize("status", [400, 401, 403, 404, 405, 413, 422])
async def test_other_client_errors_are_never_retried(mock_api: aioresponses, status: int) -> None:
    mock_api.post(ENDPOINT, status=status, repeat=True)
    async with _client() as client:
        with pytest.raises(dg.APIStatusError) as info:
            await client.suggest(minimal_request())
    assert info.value.status_code == status
    assert info.value.attempts == 1
    assert _attempts(mock_api) == 1


async def test_connection_errors_and_timeouts_are_retried(mock_api: aioresponses) -> None:
    mock_api.post(ENDPOINT, exception=aiohttp.ServerDisconnectedError())
    mock_api.post(ENDPOINT, exception=TimeoutError())
    mock_api.post(ENDPOINT, payload=OK)
    async with _client() as client:
        await client.suggest(minimal_request())
    assert _attempts(mock_api) == 3


async def test_unreadable_success_body_is_retried(mock_api: aioresponses) -> None:
    mock_api.post(ENDPOINT, body=b'{"suggestions": ["a"')
    mock_api.post(ENDPOINT, payload=OK)
    async with _client() as client:
        await client.suggest(minimal_request())
    assert _attempts(mock_api) == 2


async def test_final_error_is_the_last_real_error_with_attempts(mock_api: aioresponses) -> None:
    mock_api.post(ENDPOINT, status=500)
    mock_api.post(ENDPOINT, status=502)
    mock_api.post(ENDPOINT, status=500)
    mock_api.post(ENDPOINT, status=503, body="still down")
    async with _client() as client:
        with pytest.raises(dg.InternalServerError) as info:
            await client.suggest(minimal_request())
    assert info.value.status_code == 503
    assert info.value.body == "still down"
    assert info.value.attempts == 4
    assert "after 4 attempts" in str(info.value)


async def test_retry_none_on_the_client_disables_retries(mock_api: aioresponses) -> None:
    mock_api.post(ENDPOINT, status=503, repeat=True)
    async with _client(retry=None) as client:
        with pytest.raises(dg.InternalServerError):
            await client.suggest(minimal_request())
    assert _attempts(mock_api) == 1


async def test_retry_none_on_one_call_disables_its_retries(mock_api: aioresponses) -> None:
    mock_api.post(ENDPOINT, status=503, repeat=True)
    async with _client() as client:
        with pytest.raises(dg.InternalServerError):
            await client.suggest(minimal_request(), retry=None)
    assert _attempts(mock_api) == 1


async def test_a_call_can_override_the_clients_policy(mock_api: aioresponses) -> None:
    mock_api.post(ENDPOINT, status=503, repeat=True)
    two = dg.RetryPolicy(max_attempts=2, initial_backoff=0.001, budget=None)
    async with _client() as client:
        with pytest.raises(dg.InternalServerError) as info:
            await client.suggest(minimal_request(), retry=two)
    assert info.value.attempts == 2
    assert _attempts(mock_api) == 2


async def test_validation_errors_are_never_retried(mock_api: aioresponses) -> None:
    async with _client() as client:
        with pytest.raises(dg.RequestValidationError):
            await client.suggest({"language": "EN"})
    assert _attempts(mock_api) == 0


async def test_retry_after_longer_than_the_maximum_fails_at_once(mock_api: aioresponses) -> None:
    mock_api.post(ENDPOINT, status=429, headers={"Retry-After": "120"}, repeat=True)
    policy = dg.RetryPolicy(max_retry_after=5.0, budget=None)
    async with _client(retry=policy) as client:
        with pytest.raises(dg.RateLimitError) as info:
            await client.suggest(minimal_request())
    assert info.value.retry_after == 120.0
    assert info.value.attempts == 1


async def test_retry_after_past_the_deadline_fails_at_once(mock_api: aioresponses) -> None:
    mock_api.post(ENDPOINT, status=429, headers={"Retry-After": "5"}, repeat=True)
    policy = dg.RetryPolicy(deadline=2.0, budget=None)
    loop = asyncio.get_running_loop()
    async with _client(retry=policy) as client:
        started = loop.time()
        with pytest.raises(dg.RateLimitError) as info:
            await client.suggest(minimal_request())
    assert loop.time() - started < 1.0
    assert info.value.retry_after == 5.0


async def test_retry_after_is_waited_when_it_fits(mock_api: aioresponses) -> None:
    mock_api.post(ENDPOINT, status=503, headers={"Retry-After": "0.3"})
    mock_api.post(ENDPOINT, payload=OK)
    loop = asyncio.get_running_loop()
    async with _client() as client:
        started = loop.time()
        await client.suggest(minimal_request())
    assert loop.time() - started >= 0.29


async def test_exhausted_budget_surfaces_errors_instead_of_retrying(
    mock_api: aioresponses,
) -> None:
    mock_api.post(ENDPOINT, status=503, repeat=True)
    stingy = dg.RetryPolicy(
        initial_backoff=0.001, budget=dg.RetryBudget(ratio=0.0, min_per_second=0.05, window=40)
    )
    async with _client(retry=stingy) as client:
        for _ in range(3):
            with pytest.raises(dg.InternalServerError):
                await client.suggest(minimal_request())
    # The first call spends the two allowed retries; the others get none.
    assert _attempts(mock_api) == 3 + 2


def test_budget_allows_the_ratio_of_recent_calls() -> None:
    tracker = _retry.BudgetTracker(dg.RetryBudget(ratio=0.2, min_per_second=0, window=60))
    for _ in range(50):
        tracker.record_call()
    spent = sum(tracker.try_spend() for _ in range(30))
    assert spent == 10


def test_backoff_doubles_and_is_capped() -> None:
    policy = dg.RetryPolicy(initial_backoff=0.5, max_backoff=3.0, jitter=0.0)
    assert [_retry.backoff(policy, n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_jitter_only_shortens_the_wait() -> None:
    policy = dg.RetryPolicy(initial_backoff=1.0, max_backoff=1.0, jitter=0.5)
    waits = [_retry.backoff(policy, 1) for _ in range(200)]
    assert all(0.5 <= w <= 1.0 for w in waits)
    assert len(set(waits)) > 100


async def test_each_retry_is_logged_without_secrets(
    mock_api: aioresponses, caplog: pytest.LogCaptureFixture
) -> None:
    mock_api.post(ENDPOINT, status=502)
    mock_api.post(ENDPOINT, exception=TimeoutError())
    mock_api.post(ENDPOINT, payload=OK)
    caplog.set_level(logging.INFO, logger="dumgum_async")
    async with _client() as client:
        await client.suggest(minimal_request())
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(lines) == 2
    assert "attempt 1/4 failed (HTTP 502)" in lines[0]
    assert "attempt 2/4 failed (timeout)" in lines[1]
    assert all(API_KEY not in line for line in lines)


async def test_cancellation_during_backoff_propagates_and_leaves_nothing(
    mock_api: aioresponses,
) -> None:
    mock_api.post(ENDPOINT, status=503, repeat=True)
    slow = dg.RetryPolicy(initial_backoff=30.0, max_backoff=30.0, jitter=0.0, budget=None)
    async with _client(retry=slow) as client:
        task = asyncio.create_task(client.suggest(minimal_request()))
        while _attempts(mock_api) < 1:  # noqa: ASYNC110 - polling a mock, not a resource
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert _attempts(mock_api) == 1
    assert no_client_tasks_left()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"max_attempts": 0}, "max_attempts"),
        ({"initial_backoff": -1}, "initial_backoff"),
        ({"jitter": 1.5}, "jitter"),
        ({"deadline": 0}, "deadline"),
        # Accepted once, then every call failed with AttributeError inside the retry.
        ({"budget": "oops"}, "budget"),
        ({"respect_retry_after": "no"}, "respect_retry_after"),
    ],
)
def test_bad_retry_policy_values_are_configuration_errors(
    kwargs: dict[str, Any], field: str
) -> None:
    with pytest.raises(dg.ConfigurationError, match=field):
        dg.RetryPolicy(**kwargs)


def test_deadline_accepts_a_timedelta() -> None:
    assert dg.RetryPolicy(deadline=dt.timedelta(minutes=2)).deadline == 120.0


def test_default_policy_values() -> None:
    policy = dg.RetryPolicy()
    assert (policy.max_attempts, policy.initial_backoff, policy.max_backoff) == (4, 0.5, 8.0)
    assert policy.respect_retry_after
    assert policy.budget == dg.RetryBudget(ratio=0.2, window=10.0, min_per_second=10.0)
