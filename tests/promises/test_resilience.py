"""The client over real sockets against the package's emulator: calls, faults, retries,
Retry-After, deadlines, the client-wide pause, cancellation, and a bounded soak."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

import dumgum_async as dg
from dumgum_async.testing import FakeDumGumServer, Faults, ScriptedResponse, ServerRateLimit
from tests.helpers.bodies import full_request, minimal_request
from tests.helpers.tasks import no_client_tasks_left

KEY = "emulator-key"
QUICK = dg.RetryPolicy(initial_backoff=0.01, max_backoff=0.05, budget=None)


@contextlib.asynccontextmanager
async def _pair(
    *,
    retry: dg.RetryPolicy | None = QUICK,
    timeout: float = 5.0,
    breaker: dg.CircuitBreaker | None = dg.CircuitBreaker(),  # noqa: B008 - frozen
    **server: Any,
) -> AsyncIterator[tuple[FakeDumGumServer, dg.DumGumClient]]:
    async with (
        FakeDumGumServer(api_key=KEY, **server) as fake,
        dg.DumGumClient(
            api_key=KEY, base_url=fake.url, retry=retry, timeout=timeout, circuit_breaker=breaker
        ) as client,
    ):
        yield fake, client


# --- one call over a real socket ---------------------------------------------------


async def test_full_request_gets_three_suggestions_over_a_socket() -> None:
    async with _pair() as (fake, client):
        response = await client.suggest(full_request())
    assert len(response.suggestions) == 3
    assert all(isinstance(s, str) and s for s in response.suggestions)
    assert fake.requests[0].json == full_request()


async def test_headers_reach_the_server() -> None:
    async with _pair() as (fake, client):
        await client.suggest(minimal_request())
    seen = fake.requests[0]
    assert seen.header("Authorization") == f"Bearer {KEY}"
    assert seen.header("Content-Type") == "application/json"
    assert (seen.header("User-Agent") or "").startswith("dumgum-async/")


async def test_wrong_key_is_an_authentication_error() -> None:
    async with (
        FakeDumGumServer(api_key=KEY) as fake,
        dg.DumGumClient(api_key="wrong", base_url=fake.url, retry=QUICK) as client,
    ):
        with pytest.raises(dg.AuthenticationError) as info:
            await client.suggest(minimal_request())
    assert info.value.status_code == 401
    assert info.value.attempts == 1
    assert "wrong" not in str(info.value)


async def test_string_list_responses_are_read() -> None:
    async with _pair(string_list=True) as (_, client):
        response = await client.suggest(minimal_request(language="FR"))
    assert len(response.suggestions) == 3


async def test_a_request_the_server_rejects_is_a_bad_request_error() -> None:
    # Sent as a model built with an unknown language the emulator's schema refuses.
    request = dg.SuggestionRequest.from_dict(minimal_request("XX_YY"), strict_enums=False)
    async with _pair() as (_, client):
        with pytest.raises(dg.BadRequestError) as info:
            await client.suggest(request)
    assert "language" in info.value.body


# --- faults, retried or not ----------------------------------------------------------


@pytest.mark.parametrize(
    "kind", ["http_429", "http_500", "http_502", "http_503", "http_504", "reset", "truncated"]
)
async def test_each_transient_fault_is_retried_once_then_succeeds(kind: str) -> None:
    async with _pair() as (fake, client):
        fake.script(ScriptedResponse.fault_of(kind))
        if kind in ("http_429", "http_503"):
            fake.faults = Faults(retry_after=0.0)
        response = await client.suggest(minimal_request())
    assert len(response.suggestions) == 3
    assert fake.attempts_for(minimal_request()) == 2


@pytest.mark.parametrize("kind", ["non_json", "html"])
async def test_unreadable_success_bodies_are_retried(kind: str) -> None:
    async with _pair() as (fake, client):
        fake.script(ScriptedResponse.fault_of(kind))
        await client.suggest(minimal_request())
    assert fake.attempts_for(minimal_request()) == 2


@pytest.mark.parametrize("status", [408, 409, 425])
async def test_other_retried_statuses(status: int) -> None:
    async with _pair() as (fake, client):
        fake.script(ScriptedResponse(status=status, json={"error": "later"}))
        await client.suggest(minimal_request())
    assert fake.attempts_for(minimal_request()) == 2


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
async def test_never_retried_statuses_reach_the_server_once(status: int) -> None:
    async with _pair() as (fake, client):
        fake.script(*[ScriptedResponse(status=status, json={"error": "no"})] * 3)
        with pytest.raises(dg.APIStatusError) as info:
            await client.suggest(minimal_request())
    assert info.value.status_code == status
    assert fake.attempts_for(minimal_request()) == 1


async def test_a_stall_longer_than_the_timeout_is_retried() -> None:
    async with _pair(timeout=0.3) as (fake, client):
        fake.script(ScriptedResponse.stall(10.0))
        response = await client.suggest(minimal_request())
    assert len(response.suggestions) == 3
    assert fake.attempts_for(minimal_request()) == 2


async def test_persistent_failure_ends_with_the_last_error_and_attempt_count() -> None:
    async with _pair() as (fake, client):
        fake.faults = Faults(http_500=1.0)
        with pytest.raises(dg.InternalServerError) as info:
            await client.suggest(minimal_request())
    assert info.value.attempts == QUICK.max_attempts
    assert fake.attempts_for(minimal_request()) == QUICK.max_attempts


# --- Retry-After ------------------------------------------------------------------------


async def test_retry_after_in_seconds_is_obeyed() -> None:
    async with _pair() as (fake, client):
        fake.script(ScriptedResponse(status=429, headers={"Retry-After": "1"}))
        await client.suggest(minimal_request())
    first, second = fake.requests
    assert second.received_at - first.received_at >= 0.95


async def test_retry_after_as_an_http_date_is_obeyed() -> None:
    async with _pair() as (fake, client):
        fake.faults = Faults(retry_after=2.0, retry_after_http_date=1.0)
        fake.script(ScriptedResponse.fault_of("http_503"))
        await client.suggest(minimal_request())
    first, second = fake.requests
    # An HTTP date has whole seconds: the wait is between 1 and 2 s.
    assert second.received_at - first.received_at >= 0.95


async def test_retry_after_beyond_the_limit_fails_at_once() -> None:
    policy = dg.RetryPolicy(max_retry_after=2.0, budget=None)
    async with _pair(retry=policy) as (fake, client):
        fake.script(ScriptedResponse(status=429, headers={"Retry-After": "30"}))
        with pytest.raises(dg.RateLimitError) as info:
            await client.suggest(minimal_request())
    assert info.value.retry_after == 30.0
    assert len(fake.requests) == 1


async def test_a_429_pauses_every_call_of_the_client() -> None:
    async with _pair() as (fake, client):
        fake.script(ScriptedResponse(status=429, headers={"Retry-After": "1"}))
        first = asyncio.create_task(client.suggest(minimal_request()))
        while not fake.requests:  # noqa: ASYNC110 - waiting for the server to see it
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)
        other = full_request()
        await client.suggest(other)
        await first
    rejected_at = fake.requests[0].received_at
    later = [r.received_at for r in fake.requests[1:]]
    assert later
    assert min(later) - rejected_at >= 0.95


@pytest.mark.parametrize(
    "retry", [None, dg.RetryPolicy(max_attempts=1, budget=None)], ids=["retry=None", "one-attempt"]
)
async def test_a_429_without_retries_still_pauses_the_next_call(
    retry: dg.RetryPolicy | None,
) -> None:
    # The call that got the 429 fails at once, but the server said when to come
    # back: the client's next call, whoever makes it, waits until then.
    async with _pair(retry=retry) as (fake, client):
        fake.script(ScriptedResponse(status=429, headers={"Retry-After": "2"}))
        with pytest.raises(dg.RateLimitError):
            await client.suggest(minimal_request())
        await client.suggest(full_request())
    first, second = fake.requests
    assert second.received_at - first.received_at >= 1.9


async def test_a_503_delays_only_its_own_call() -> None:
    async with _pair() as (fake, client):
        fake.script(ScriptedResponse(status=503, headers={"Retry-After": "1"}))
        first = asyncio.create_task(client.suggest(minimal_request()))
        while not fake.requests:  # noqa: ASYNC110 - waiting for the server to see it
            await asyncio.sleep(0.01)
        await client.suggest(full_request())
        other_at = fake.requests[-1].received_at
        await first
    assert other_at - fake.requests[0].received_at < 0.9


async def test_server_rate_limit_is_respected_through_retries() -> None:
    async with _pair(rate_limit=ServerRateLimit(max_rate=2, time_period=1.0)) as (fake, client):
        responses = await asyncio.gather(*(client.suggest(minimal_request()) for _ in range(4)))
    assert len(responses) == 4
    assert fake.stats.by_status.get(200) == 4


# --- deadlines -------------------------------------------------------------------------


async def test_deadline_bounds_the_whole_call() -> None:
    policy = dg.RetryPolicy(deadline=1.0, initial_backoff=0.05, budget=None)
    loop = asyncio.get_running_loop()
    async with _pair(retry=policy, timeout=0.4) as (fake, client):
        fake.faults = Faults(stall=1.0, stall_seconds=10.0)
        started = loop.time()
        with pytest.raises(dg.APITimeoutError):
            await client.suggest(minimal_request())
        elapsed = loop.time() - started
    assert elapsed < 1.5
    assert len(fake.requests) >= 2


async def test_deadline_counts_the_wait_for_a_rate_limit_token() -> None:
    policy = dg.RetryPolicy(deadline=0.3, budget=None)
    async with (
        FakeDumGumServer(api_key=KEY) as fake,
        dg.DumGumClient(
            api_key=KEY, base_url=fake.url, retry=policy, rate_limit=dg.RateLimit(1, 2.0)
        ) as client,
    ):
        await client.suggest(minimal_request())
        with pytest.raises(dg.APITimeoutError, match="rate-limit token"):
            await client.suggest(minimal_request())
    assert len(fake.requests) == 1


# --- budget, cancellation ----------------------------------------------------------------


async def test_retry_budget_stops_a_storm() -> None:
    policy = dg.RetryPolicy(
        initial_backoff=0.001, max_backoff=0.001, budget=dg.RetryBudget(ratio=0.1, min_per_second=0)
    )
    # Without the circuit breaker, which would stop this storm even sooner.
    async with _pair(retry=policy, breaker=None) as (fake, client):
        fake.faults = Faults(http_503=1.0, retry_after=0.0)
        results = await asyncio.gather(
            *(client.suggest(full_request()) for _ in range(40)), return_exceptions=True
        )
    assert all(isinstance(r, dg.InternalServerError) for r in results)
    # 40 first attempts, and retries limited to 10% of them.
    assert len(fake.requests) <= 44
    assert client.stats.total_retries <= 4


async def test_cancelling_during_a_request_leaves_nothing_pending() -> None:
    async with _pair() as (fake, client):
        fake.script(ScriptedResponse.stall(10.0))
        task = asyncio.create_task(client.suggest(minimal_request()))
        while not fake.requests:  # noqa: ASYNC110 - waiting for the server to see it
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert len(fake.requests) == 1
    assert no_client_tasks_left()


async def test_cancelling_during_backoff_leaves_nothing_pending() -> None:
    slow = dg.RetryPolicy(initial_backoff=20.0, max_backoff=20.0, jitter=0.0, budget=None)
    async with _pair(retry=slow) as (fake, client):
        fake.script(ScriptedResponse(status=500, json={}))
        task = asyncio.create_task(client.suggest(minimal_request()))
        while not fake.requests:  # noqa: ASYNC110 - waiting for the server to see it
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert len(fake.requests) == 1
    assert no_client_tasks_left()


# --- soak ------------------------------------------------------------------------------


@pytest.mark.slow
async def test_soak_through_a_30_percent_fault_mix_every_request_succeeds_and_matches() -> None:
    faults = Faults(
        http_429=0.05,
        http_500=0.04,
        http_502=0.04,
        http_503=0.05,
        http_504=0.03,
        reset=0.03,
        truncated=0.02,
        non_json=0.02,
        html=0.02,
        retry_after=0.0,
    )
    policy = dg.RetryPolicy(max_attempts=10, initial_backoff=0.005, max_backoff=0.05, budget=None)
    requests = []
    for i in range(300):
        r = minimal_request(language=["EN", "FR", "DE", "ES"][i % 4])
        r["userProfile"]["firstName"] = f"User{i}"
        r["messages"][0]["text"] = f"message number {i}"
        requests.append(r)
    async with _pair(retry=policy, faults=faults, seed=1234) as (fake, client):
        responses = await asyncio.gather(*(client.suggest(r) for r in requests))
        # The emulator is deterministic per body: ask again without faults to compare.
        fake.faults = Faults()
        clean = await asyncio.gather(*(client.suggest(r) for r in requests))
    assert responses == clean
    assert len(set(responses)) > 250  # each answer belongs to its own request
    assert fake.stats.total > 600
    # The default circuit breaker takes a 30% random fault mix for an API that is up.
    assert client.stats.breaker_openings == 0


async def test_waiting_for_a_slot_is_not_part_of_the_attempt_timeout() -> None:
    async with (
        FakeDumGumServer(api_key=KEY, latency=0.3) as fake,
        dg.DumGumClient(
            api_key=KEY, base_url=fake.url, retry=None, timeout=0.5, max_concurrency=1
        ) as client,
    ):
        # The second call waits ~0.3 s for the only slot, then ~0.3 s for its
        # answer: 0.6 s in all, over the 0.5 s timeout, yet no timeout.
        both = await asyncio.gather(
            client.suggest(minimal_request()), client.suggest(full_request())
        )
    assert len(both) == 2
    first, second = sorted(r.received_at for r in fake.requests)
    assert second - first >= 0.25
