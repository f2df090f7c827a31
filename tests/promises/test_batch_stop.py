"""The batch gate (max_requests, and the stop on a refused key) is the batch's own:
what its context variable reaches beyond the batch's calls is left alone; and a
stopping batch does not wait for its queued items' waits to end.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator
from typing import Any

import pytest

import dumgum_async as dg
from dumgum_async import _batch
from dumgum_async.testing import FakeDumGumServer, ScriptedResponse
from tests.helpers.batches import collect
from tests.helpers.bodies import minimal_request

KEY = "emulator-key"


async def test_a_stopped_batch_does_not_refuse_a_call_a_task_of_its_source_makes() -> None:
    # The gate is a context variable: a task the source starts inherits it. A call of
    # another client made there, after the batch stopped, is nothing of the batch's.
    release = asyncio.Event()
    spawned: list[asyncio.Task[dg.SuggestionResponse]] = []
    async with (
        FakeDumGumServer(api_key=KEY) as fake,
        dg.DumGumClient(api_key="wrong-key", base_url=fake.url) as refused,
        dg.DumGumClient(api_key=KEY, base_url=fake.url) as other,
    ):

        async def later() -> dg.SuggestionResponse:
            await release.wait()
            return await other.suggest(minimal_request())

        async def source() -> AsyncGenerator[dict[str, Any], None]:
            spawned.append(asyncio.create_task(later()))
            yield minimal_request()

        with pytest.raises(dg.AuthenticationError):
            await refused.suggest_all(source(), concurrency=1)
        release.set()
        response = await spawned[0]
    assert response.suggestions
    assert [r.status for r in fake.requests] == [401, 200]


async def test_a_call_the_source_makes_is_not_counted_in_the_batchs_budget() -> None:
    # "calls outside the batch are not counted": the source's own lookup is one.
    async with (
        FakeDumGumServer(api_key=KEY) as fake,
        dg.DumGumClient(api_key=KEY, base_url=fake.url) as client,
    ):

        async def source() -> AsyncGenerator[dict[str, Any], None]:
            await client.suggest(minimal_request())  # e.g. a probe, or another job's call
            yield minimal_request()

        results = await client.suggest_all(source(), concurrency=1, max_requests=1)
    assert [r.ok for r in results] == [True]
    assert fake.stats.total == 2


async def test_a_refused_key_ends_the_batch_without_waiting_out_a_retry_backoff() -> None:
    # One item got a 503 and sleeps 3 s before its retry; the other's 401 stops the
    # batch. The sleeper's retry will not be sent (BatchStoppedError), so the batch
    # has nothing left to wait for.
    async with (
        FakeDumGumServer(api_key=KEY) as fake,
        dg.DumGumClient(api_key=KEY, base_url=fake.url) as client,
    ):
        fake.script(
            ScriptedResponse(status=503, headers={"Retry-After": "3"}),
            ScriptedResponse(status=401, json={"error": "revoked"}, delay=0.2),
        )
        yielded: list[dg.BatchResult[Any]] = []
        started = time.monotonic()
        stream = client.suggest_many([minimal_request(), minimal_request()], concurrency=2)
        with pytest.raises(dg.AuthenticationError) as info:
            await collect(stream, yielded)
        took = time.monotonic() - started
        failed = client.stats.failed
    assert [r.status for r in fake.requests] == [503, 401]  # the retry was never sent
    assert failed == {"AuthenticationError": 1, "BatchStoppedError": 1}
    errors = {type(r.error) for r in yielded}
    assert errors == {dg.AuthenticationError, dg.BatchStoppedError}
    stopped = next(r.error for r in yielded if isinstance(r.error, dg.BatchStoppedError))
    assert stopped.stopped_by is info.value
    assert took < 2.0  # 3.0+ when it waits out the 503's Retry-After


async def test_a_refused_key_ends_a_batch_queued_on_a_views_rate_limit() -> None:
    # A view's own limit (with_options(rate_limit=...)) is waited before the batch
    # gate: every worker queues there, and each still waits for (and takes) a view
    # token after the batch stopped, one interval apiece.
    yielded: list[dg.BatchResult[Any]] = []
    revoked_at: list[float] = []
    async with (
        FakeDumGumServer(api_key=KEY) as fake,
        dg.DumGumClient(api_key=KEY, base_url=fake.url) as client,
    ):
        view = client.with_options(rate_limit=dg.RateLimit(4, 1.0))

        async def consume() -> None:
            async with contextlib.aclosing(
                view.suggest_many([minimal_request() for _ in range(100)], concurrency=16)
            ) as results:
                async for result in results:
                    yielded.append(result)
                    if len(yielded) == 2:
                        fake.api_key = "revoked"
                        revoked_at.append(time.monotonic())

        with pytest.raises(dg.AuthenticationError):
            await consume()
        stopped_after = time.monotonic() - revoked_at[0]
    statuses = [r.status for r in fake.requests]
    assert statuses.count(401) <= 2
    assert len(yielded) == len(statuses) + sum(
        isinstance(r.error, dg.BatchStoppedError) for r in yielded
    )
    assert stopped_after < 2.0  # ~3.5 s: one view-token interval per queued worker


async def _refused_or_waiting(item: int) -> dg.SuggestionResponse:
    # Item 0 is refused once the others wait; they wait for ever (a token, a backoff).
    if item == 0:
        await asyncio.sleep(0.05)
        raise dg.AuthenticationError("HTTP 401", status_code=401)
    await asyncio.Event().wait()
    raise AssertionError("unreachable")


def _refused_then_waiting_batch(*, ordered: bool) -> AsyncGenerator[dg.BatchResult[int], None]:
    """The engine alone over 10 items, 4 at once: item 0 is refused, the rest wait."""
    return _batch.stream(
        _refused_or_waiting,
        range(10),
        concurrency=4,
        ordered=ordered,
        stop_on_error=False,
        progress=None,
        fatal=(dg.AuthenticationError,),
    )


@pytest.mark.parametrize("ordered", [False, True])
async def test_a_stopping_batch_fails_its_waiting_calls_whatever_they_wait_on(
    ordered: bool,
) -> None:
    # The engine alone, with calls that are not the client's: the stop does not rely
    # on the client's own checks to end the items that wait.
    yielded: list[dg.BatchResult[Any]] = []
    stream = _refused_then_waiting_batch(ordered=ordered)
    async with asyncio.timeout(5):
        with pytest.raises(dg.AuthenticationError) as info:
            await collect(stream, yielded)
    assert sorted(r.index for r in yielded) == [0, 1, 2, 3]
    if ordered:
        assert [r.index for r in yielded] == [0, 1, 2, 3]
    stopped = [r.error for r in yielded if r.index]
    assert all(isinstance(e, dg.BatchStoppedError) and e.stopped_by is info.value for e in stopped)


async def test_cancelling_the_consumer_as_the_batch_stops_still_cancels() -> None:
    stream = _refused_then_waiting_batch(ordered=False)

    async def consume() -> None:
        async with contextlib.aclosing(stream) as results:
            async for _ in results:
                me = asyncio.current_task()
                assert me is not None
                me.cancel()  # as the stop's cancels of the waiting calls are pending

    task = asyncio.create_task(consume())
    async with asyncio.timeout(5):
        with pytest.raises(asyncio.CancelledError):
            await task


async def _a_503_answered_after_the_401(
    retry_after: str,
) -> tuple[list[int | None], set[type[dg.DumGumError] | None], dg.StatsSnapshot, float]:
    """Two items: one's 503 (with ``retry_after``) comes back 0.3 s after the other's
    401 stopped the batch. The statuses the server sent, the items' error types, the
    client's stats and the batch's wall time."""
    yielded: list[dg.BatchResult[Any]] = []
    async with (
        FakeDumGumServer(api_key=KEY) as fake,
        dg.DumGumClient(api_key=KEY, base_url=fake.url) as client,
    ):
        fake.script(
            ScriptedResponse(status=503, headers={"Retry-After": retry_after}, delay=0.3),
            ScriptedResponse(status=401, json={"error": "revoked"}),
        )
        stream = client.suggest_many([minimal_request(), minimal_request()], concurrency=2)
        started = time.monotonic()
        with pytest.raises(dg.AuthenticationError):
            await collect(stream, yielded)
        took = time.monotonic() - started
    errors = {None if r.error is None else type(r.error) for r in yielded}
    return [r.status for r in fake.requests], errors, client.stats, took


async def test_an_item_answered_after_the_stop_does_not_sleep_toward_its_retry() -> None:
    # The item was on the wire when the batch stopped, so left to finish; its retry
    # will not be sent, so nor is its backoff slept.
    statuses, errors, _, took = await _a_503_answered_after_the_401("3")
    assert len(statuses) == 2
    assert set(statuses) == {401, 503}
    assert errors == {dg.AuthenticationError, dg.BatchStoppedError}
    assert took < 2.0  # 3.3 s when it sleeps out the Retry-After first


async def test_a_retry_the_stopped_batch_refuses_is_neither_counted_nor_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The 503 is decided on after the 401 stopped the batch: no retry is made, so
    # none is counted in the stats or logged as "retrying in".
    with caplog.at_level("INFO", logger="dumgum_async"):
        statuses, errors, stats, _ = await _a_503_answered_after_the_401("0")
    assert len(statuses) == 2
    assert set(statuses) == {401, 503}
    assert errors == {dg.AuthenticationError, dg.BatchStoppedError}
    assert (stats.retries, stats.attempts) == ({}, 2)
    assert not [r for r in caplog.records if "retrying in" in r.getMessage()]


async def test_a_batch_closed_under_it_still_fails_its_items_with_client_closed_error() -> None:
    # close() cancels every call in flight itself: the stop that follows the first
    # ClientClosedError adds no cancel of its own, so none turns into BatchStoppedError.
    yielded: list[dg.BatchResult[Any]] = []
    async with FakeDumGumServer(api_key=KEY, latency=0.05) as fake:
        client = dg.DumGumClient(api_key=KEY, base_url=fake.url, rate_limit=dg.RateLimit(20))

        async def consume() -> None:
            await collect(client.suggest_many([minimal_request()] * 200, concurrency=8), yielded)

        task = asyncio.create_task(consume())
        while len(yielded) < 5:  # noqa: ASYNC110 - waiting for the batch to be under way
            await asyncio.sleep(0.01)
        await client.aclose()
        with pytest.raises(dg.ClientClosedError):
            await task
    failures = [type(r.error) for r in yielded if r.error is not None]
    assert failures
    assert set(failures) == {dg.ClientClosedError}


class _Answering:
    """A source whose wait, when cancelled, ends another way: an error, or an item."""

    def __init__(self, on_cancel: str) -> None:
        self.on_cancel = on_cancel
        self.sent = False

    def __aiter__(self) -> _Answering:
        return self

    async def __anext__(self) -> dict[str, Any]:
        if not self.sent:
            self.sent = True
            return minimal_request()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            if self.on_cancel == "raise":
                raise RuntimeError("the feed was torn down") from None
            return minimal_request()  # a last buffered item
        raise AssertionError("unreachable")


@pytest.mark.parametrize("on_cancel", ["raise", "item"])
async def test_a_source_that_answers_the_stops_cancel_does_not_change_the_batchs_end(
    on_cancel: str,
) -> None:
    # The batch cancelled the source's wait itself: what the source makes of it (an
    # error, one more item) is not the batch's failure, nor an item to start.
    yielded: list[dg.BatchResult[Any]] = []
    async with (
        FakeDumGumServer(api_key=KEY) as fake,
        dg.DumGumClient(api_key="wrong-key", base_url=fake.url) as client,
    ):
        stream = client.suggest_many(_Answering(on_cancel), concurrency=2)
        async with asyncio.timeout(10):
            with pytest.raises(dg.AuthenticationError):
                await collect(stream, yielded)
    assert fake.stats.total == 1
    assert [type(r.error) for r in yielded] == [dg.AuthenticationError]


async def test_a_403_ends_a_batch_whose_items_wait_for_a_concurrency_slot() -> None:
    # max_concurrency=2 under a batch of 8: six items wait for a slot, none is sent.
    yielded: list[dg.BatchResult[Any]] = []
    async with (
        FakeDumGumServer(api_key=KEY, latency=0.2) as fake,
        dg.DumGumClient(api_key=KEY, base_url=fake.url, max_concurrency=2) as client,
    ):
        fake.script(ScriptedResponse(status=403, json={"error": "forbidden"}))
        stream = client.suggest_many([minimal_request()] * 50, concurrency=8)
        with pytest.raises(dg.PermissionDeniedError):
            await collect(stream, yielded)
    assert fake.stats.total <= 2
    assert len(yielded) == 8
    assert sum(isinstance(r.error, dg.BatchStoppedError) for r in yielded) >= 6


async def test_a_stopped_batch_leaves_later_calls_and_batches_of_its_task_alone() -> None:
    async with (
        FakeDumGumServer(api_key=KEY) as fake,
        dg.DumGumClient(api_key=KEY, base_url=fake.url, rate_limit=dg.RateLimit(50)) as client,
    ):
        fake.script(ScriptedResponse(status=401, json={"error": "revoked"}))
        with pytest.raises(dg.AuthenticationError):
            await client.suggest_all([minimal_request()] * 20, concurrency=4)
        await client.suggest(minimal_request())
        results = await client.suggest_all([minimal_request()] * 3, concurrency=2)
    assert all(r.ok for r in results)
    assert [r.status for r in fake.requests][-4:] == [200] * 4
