"""suggest_many / suggest_all against the emulator over real sockets."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import typing
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

import dumgum_async as dg
from dumgum_async.testing import FakeDumGumServer, Faults, Latency, ScriptedResponse
from tests.helpers.bodies import minimal_request
from tests.helpers.misbehaving import RaisingMapping
from tests.helpers.tasks import no_client_tasks_left

KEY = "batch-key"
QUICK = dg.RetryPolicy(initial_backoff=0.005, max_backoff=0.02, budget=None)


def _request(i: int) -> dict[str, Any]:
    r = minimal_request(language=["EN", "FR", "DE"][i % 3])
    r["userProfile"]["firstName"] = f"Person{i}"
    r["messages"][0]["text"] = f"Message {i}: what are you doing tonight?"
    return r


@contextlib.asynccontextmanager
async def _pair(**server: Any) -> AsyncIterator[tuple[FakeDumGumServer, dg.DumGumClient]]:
    async with (
        FakeDumGumServer(api_key=KEY, **server) as fake,
        dg.DumGumClient(api_key=KEY, base_url=fake.url, retry=QUICK) as client,
    ):
        yield fake, client


async def test_unordered_results_map_to_their_own_requests() -> None:
    requests = [_request(i) for i in range(60)]
    async with _pair(latency=Latency.uniform(0.0, 0.03), seed=3) as (_, client):
        expected = [await client.suggest(r) for r in requests]
        results = [r async for r in client.suggest_many(requests, concurrency=8)]
    assert sorted(r.index for r in results) == list(range(60))
    for result in results:
        assert result.ok
        assert result.request is requests[result.index]
        assert result.response == expected[result.index]


async def test_unordered_results_come_in_completion_order() -> None:
    requests = [_request(i) for i in range(40)]
    async with _pair(latency=Latency.uniform(0.0, 0.05), seed=5) as (_, client):
        indexes = [r.index for r in [x async for x in client.suggest_many(requests)]]
    assert indexes != list(range(40))


async def test_ordered_results_come_in_input_order() -> None:
    requests = [_request(i) for i in range(50)]
    async with _pair(latency=Latency.uniform(0.0, 0.03), seed=9) as (_, client):
        results = [r async for r in client.suggest_many(requests, concurrency=10, ordered=True)]
    assert [r.index for r in results] == list(range(50))
    assert [r.request for r in results] == requests


async def test_suggest_all_returns_every_result_in_input_order() -> None:
    requests = [_request(i) for i in range(20)]
    async with _pair(latency=Latency.uniform(0.0, 0.02), seed=1) as (_, client):
        results = await client.suggest_all(requests, concurrency=5)
    assert [r.index for r in results] == list(range(20))
    assert all(len(r.suggestions) == 3 for r in results)


async def test_accepts_an_async_iterable() -> None:
    async def source() -> AsyncIterator[dict[str, Any]]:
        for i in range(10):
            await asyncio.sleep(0)
            yield _request(i)

    async with _pair() as (_, client):
        results = await client.suggest_all(source())
    assert len(results) == 10


class _CountingSource:
    """A lazy source of many items that records how far it was pulled."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.pulled = 0

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for i in range(self.n):
            self.pulled += 1
            yield _request(i % 7)


@pytest.mark.parametrize("ordered", [False, True])
async def test_source_is_consumed_lazily_within_a_bounded_window(ordered: bool) -> None:
    source = _CountingSource(2_000)
    concurrency = 8
    outstanding = 0
    async with _pair(validate=False) as (_, client):
        consumed = 0
        async for _ in client.suggest_many(source, concurrency=concurrency, ordered=ordered):
            consumed += 1
            outstanding = max(outstanding, source.pulled - consumed)
            if consumed == 300:
                break
        await asyncio.sleep(0.05)
    window = 2 * concurrency if ordered else concurrency
    assert outstanding <= window
    assert source.pulled <= 300 + window


async def test_one_failure_does_not_stop_the_batch() -> None:
    requests = [_request(i) for i in range(10)]
    requests[4] = {"language": "EN"}  # invalid: fails before the network
    async with _pair() as (_, client):
        results = await client.suggest_all(requests)
    assert [r.ok for r in results] == [i != 4 for i in range(10)]
    assert isinstance(results[4].error, dg.RequestValidationError)
    assert results[4].suggestions == ()


async def test_an_item_of_the_wrong_type_is_that_items_failure() -> None:
    async with _pair() as (_, client):
        items: list[Any] = [_request(0), "not a request", _request(1)]
        results = await client.suggest_all(items)
    assert [r.ok for r in results] == [True, False, True]
    assert "got str" in str(results[1].error)


async def test_a_mapping_that_raises_is_that_items_failure_and_is_not_sent() -> None:
    items: list[Any] = [_request(0), RaisingMapping(), _request(2), 42]
    async with _pair() as (fake, client):
        results = [r async for r in client.suggest_many(items, concurrency=1, ordered=True)]
        sent = sorted(r.json["userProfile"]["firstName"] for r in fake.requests if r.json)
    assert [r.ok for r in results] == [True, False, True, False]
    error = results[1].error
    assert isinstance(error, dg.RequestValidationError)
    assert [(p.loc, p.code) for p in error.problems] == [((), "invalid")]
    assert sent == ["Person0", "Person2"]


async def test_api_failure_of_one_item_is_carried_by_its_result() -> None:
    async with _pair() as (fake, client):
        fake.script(*[ScriptedResponse(status=422, json={"error": "no"})])
        results = await client.suggest_all([_request(i) for i in range(5)], concurrency=1)
    failed = [r for r in results if not r.ok]
    assert len(failed) == 1
    assert isinstance(failed[0].error, dg.UnprocessableEntityError)


async def test_stop_on_error_raises_the_first_error_and_stops() -> None:
    requests = [_request(i) for i in range(200)]
    requests[3] = {"language": "EN"}
    async with _pair() as (fake, client):
        with pytest.raises(dg.RequestValidationError):
            await client.suggest_all(requests, concurrency=2, stop_on_error=True)
        assert no_client_tasks_left()
    assert len(fake.requests) < 50


async def test_an_exception_from_the_source_stops_the_batch() -> None:
    def source() -> Iterator[dict[str, Any]]:
        yield _request(0)
        yield _request(1)
        raise RuntimeError("the database went away")

    async with _pair() as (_, client):
        with pytest.raises(RuntimeError, match="database"):
            await client.suggest_all(source(), concurrency=2)
        assert no_client_tasks_left()


async def test_breaking_out_stops_the_work_and_leaves_no_task() -> None:
    requests = (_request(i % 5) for i in range(10_000))
    async with _pair(latency=0.05) as (fake, client):
        async with contextlib.aclosing(client.suggest_many(requests, concurrency=16)) as results:
            async for _ in results:
                break
        assert no_client_tasks_left()
        seen = len(fake.requests)
        await asyncio.sleep(0.2)
        assert len(fake.requests) == seen
    assert seen <= 32


async def test_cancelling_the_consumer_cancels_in_flight_calls() -> None:
    async def consume(client: dg.DumGumClient) -> None:
        async for _ in client.suggest_many((_request(i) for i in range(1000)), concurrency=8):
            pass

    async with _pair(latency=0.2) as (fake, client):
        task = asyncio.create_task(consume(client))
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert no_client_tasks_left()
    assert len(fake.requests) <= 16


async def test_progress_callback_sees_every_result() -> None:
    seen: list[tuple[int, int]] = []
    async with _pair() as (_, client):
        await client.suggest_all(
            [_request(i) for i in range(12)],
            progress=lambda done, result: seen.append((done, result.index)),
        )
    assert [done for done, _ in seen] == list(range(1, 13))
    assert sorted(index for _, index in seen) == list(range(12))


async def test_bad_concurrency_is_a_configuration_error() -> None:
    async with _pair() as (_, client):
        with pytest.raises(dg.ConfigurationError, match="concurrency"):
            await client.suggest_all([_request(0)], concurrency=0)


def test_suggest_all_takes_every_keyword_of_suggest_many_but_ordered() -> None:
    many = inspect.signature(dg.DumGumClient.suggest_many).parameters
    hints = typing.get_type_hints(dg.DumGumClient.suggest_all, include_extras=True)
    (options,) = typing.get_args(hints["options"])  # Unpack[_AllOptions]
    assert set(options.__annotations__) == set(many) - {"self", "requests", "ordered"}


async def test_suggest_all_refuses_ordered_in_its_own_name() -> None:
    async with _pair() as (fake, client):
        with pytest.raises(TypeError, match=r"^suggest_all\(\) got an unexpected .* 'ordered'"):
            await client.suggest_all([_request(0)], ordered=False)  # type: ignore[call-arg]
    assert fake.requests == []


async def test_suggest_all_refuses_an_unknown_keyword_in_its_own_name() -> None:
    async with _pair() as (fake, client):
        with pytest.raises(TypeError, match=r"^suggest_all\(\) got an unexpected .* 'concurency'"):
            await client.suggest_all([_request(0)], concurency=2)  # type: ignore[call-arg]
    assert fake.requests == []


async def test_stats_count_attempts_retries_429s_failures_and_latency() -> None:
    async with _pair() as (fake, client):
        fake.faults = Faults(retry_after=0.0)
        fake.script(
            ScriptedResponse.fault_of("http_429"),
            ScriptedResponse.fault_of("http_503"),
            ScriptedResponse(status=400, json={"error": "bad"}),
        )
        await client.suggest_all([_request(i) for i in range(10)], concurrency=1)
        with contextlib.suppress(dg.RequestValidationError):
            await client.suggest({"language": "EN"})
    stats = client.stats
    assert stats.calls == 11
    assert stats.succeeded == 9
    assert stats.failed == {"BadRequestError": 1, "RequestValidationError": 1}
    assert stats.attempts == 12
    assert stats.retries == {"HTTP 429": 1, "HTTP 503": 1}
    assert stats.rate_limited == 1
    assert stats.latency_p50 is not None
    assert stats.latency_p99 is not None
    assert stats.latency_p50 <= stats.latency_p99


async def test_interactive_calls_are_not_starved_by_a_batch() -> None:
    loop = asyncio.get_running_loop()
    async with (
        FakeDumGumServer(api_key=KEY) as fake,
        dg.DumGumClient(
            api_key=KEY, base_url=fake.url, rate_limit=dg.RateLimit.per_second(20)
        ) as client,
    ):
        batch = asyncio.create_task(
            client.suggest_all([_request(i) for i in range(60)], concurrency=32)
        )
        await asyncio.sleep(0.3)
        started = loop.time()
        await client.suggest(_request(999))
        waited = loop.time() - started
        batch.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await batch
    # Behind the whole batch queue it would wait 32 / 20 = 1.6 s; it waits for about
    # one batch request instead.
    assert waited < 0.8
