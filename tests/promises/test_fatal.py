"""Fatal errors stop a batch: a rejected key or a forbidden endpoint, seen by the server."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator
from typing import Any

import pytest

import dumgum_async as dg
from dumgum_async.testing import FakeDumGumServer, ScriptedResponse
from tests.helpers.batches import collect
from tests.helpers.bodies import minimal_request
from tests.helpers.tasks import no_client_tasks_left

KEY = "emulator-key"


def _requests(n: int) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        r = minimal_request()
        r["messages"][0]["text"] = f"message number {i}"
        out.append(r)
    return out


@pytest.mark.parametrize("ordered", [False, True])
async def test_a_wrong_key_stops_the_batch_after_the_requests_in_flight(ordered: bool) -> None:
    yielded: list[dg.BatchResult[Any]] = []
    async with (
        FakeDumGumServer(api_key=KEY) as fake,
        dg.DumGumClient(api_key="wrong-key", base_url=fake.url) as client,
    ):
        stream = client.suggest_many(_requests(200), concurrency=8, ordered=ordered)
        with pytest.raises(dg.AuthenticationError) as info:
            await collect(stream, yielded)
    assert fake.stats.total <= 8
    assert info.value.status_code == 401
    # Every item that was started is yielded, the fatal one included, all failed.
    assert 1 <= len(yielded) == fake.stats.total
    assert all(isinstance(r.error, dg.AuthenticationError) for r in yielded)
    assert info.value in [r.error for r in yielded]
    if ordered:
        assert [r.index for r in yielded] == list(range(len(yielded)))


async def test_a_key_revoked_mid_batch_sends_nothing_after_the_first_401() -> None:
    # Under a rate limit most of the items "in flight" have not been sent: they wait
    # for a token. Once the key is refused, sending them can only draw more 401s
    # (concurrency - 1 of them, one per token, which would also delay the stop).
    yielded: list[dg.BatchResult[Any]] = []
    revoked_at: list[float] = []
    async with (
        FakeDumGumServer(api_key=KEY) as fake,
        dg.DumGumClient(api_key=KEY, base_url=fake.url, rate_limit=dg.RateLimit(4, 1.0)) as client,
    ):

        async def consume() -> None:
            async with contextlib.aclosing(
                client.suggest_many(_requests(100), concurrency=16)
            ) as results:
                async for result in results:
                    yielded.append(result)
                    if len(yielded) == 2:
                        fake.api_key = "revoked"  # the vendor revokes it
                        revoked_at.append(time.monotonic())

        with pytest.raises(dg.AuthenticationError) as info:
            await consume()
        stopped_after = time.monotonic() - revoked_at[0]
    statuses = [r.status for r in fake.requests]
    assert statuses[:2] == [200, 200]
    assert statuses.count(401) <= 2  # the first one, and at most one already on its way
    # The items that were queued are yielded as not sent, naming the refusal.
    unsent = [r.error for r in yielded if isinstance(r.error, dg.BatchStoppedError)]
    assert len(yielded) == 2 + statuses.count(401) + len(unsent)
    assert unsent
    assert all(e.stopped_by is info.value for e in unsent)
    # Within about one token interval (0.25 s), not one per queued item (~3.5 s).
    assert stopped_after < 2.0


async def test_a_403_stops_the_batch_and_the_items_in_flight_still_succeed() -> None:
    yielded: list[dg.BatchResult[Any]] = []
    async with (
        FakeDumGumServer(api_key=KEY) as fake,
        dg.DumGumClient(api_key=KEY, base_url=fake.url) as client,
    ):
        # The first request is refused; the seven others in flight are answered.
        fake.script(ScriptedResponse(status=403, json={"error": "forbidden"}))
        with pytest.raises(dg.PermissionDeniedError):
            await collect(client.suggest_many(_requests(200), concurrency=8), yielded)
    assert fake.stats.total <= 8 + 2
    assert len(yielded) == fake.stats.total
    assert sum(not r.ok for r in yielded) == 1
    assert sum(r.ok for r in yielded) == len(yielded) - 1


async def test_suggest_all_raises_the_fatal_error() -> None:
    async with (
        FakeDumGumServer(api_key=KEY) as fake,
        dg.DumGumClient(api_key="wrong-key", base_url=fake.url) as client,
    ):
        with pytest.raises(dg.AuthenticationError):
            await client.suggest_all(_requests(100), concurrency=4)
    assert fake.stats.total <= 4


async def test_other_client_errors_do_not_stop_the_batch() -> None:
    async with (
        FakeDumGumServer(api_key=KEY) as fake,
        dg.DumGumClient(api_key=KEY, base_url=fake.url) as client,
    ):
        fake.script(*[ScriptedResponse(status=422, json={"error": "no"})] * 5)
        results = await client.suggest_all(_requests(30), concurrency=4)
    assert len(results) == 30
    assert sum(not r.ok for r in results) == 5
    assert fake.stats.total == 30


class _Feed:
    """An async source that yields what is put on its queue and blocks in between."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.pulls = 0
        self.finished = False

    async def items(self) -> AsyncGenerator[dict[str, Any], None]:
        try:
            while True:
                item = await self.queue.get()
                self.pulls += 1
                yield item
        finally:
            self.finished = True


@pytest.mark.parametrize("ordered", [False, True])
async def test_a_fatal_error_stops_a_batch_whose_source_is_waiting(ordered: bool) -> None:
    # One item, then a source that yields nothing more: the 401 must end the batch
    # now, not when (if ever) the source yields again.
    feed = _Feed()
    feed.queue.put_nowait(minimal_request())
    yielded: list[dg.BatchResult[Any]] = []
    async with (
        FakeDumGumServer(api_key=KEY) as fake,
        dg.DumGumClient(api_key="wrong-key", base_url=fake.url) as client,
    ):
        stream = client.suggest_many(feed.items(), concurrency=2, ordered=ordered)
        async with asyncio.timeout(10):
            with pytest.raises(dg.AuthenticationError):
                await collect(stream, yielded)
    assert fake.stats.total == 1
    assert len(yielded) == 1
    assert feed.finished  # the waiting pull was cancelled, and the source's cleanup ran
    assert feed.queue.empty()


async def test_a_fatal_error_stops_a_batch_whose_source_never_yields_again() -> None:
    class Stuck:
        """Not a generator: one item, then an await that never ends."""

        def __init__(self) -> None:
            self.sent = False
            self.forever = asyncio.Event()

        def __aiter__(self) -> Stuck:
            return self

        async def __anext__(self) -> dict[str, Any]:
            if not self.sent:
                self.sent = True
                return minimal_request()
            await self.forever.wait()
            raise StopAsyncIteration

    async with (
        FakeDumGumServer(api_key=KEY) as fake,
        dg.DumGumClient(api_key="wrong-key", base_url=fake.url) as client,
    ):
        async with asyncio.timeout(10):
            with pytest.raises(dg.AuthenticationError):
                await client.suggest_all(Stuck(), concurrency=3)
    assert fake.stats.total == 1


async def test_cancelling_a_batch_while_its_source_waits_still_cancels() -> None:
    feed = _Feed()
    async with (
        FakeDumGumServer(api_key=KEY) as fake,
        dg.DumGumClient(api_key=KEY, base_url=fake.url) as client,
    ):
        task = asyncio.create_task(client.suggest_all(feed.items(), concurrency=2))
        feed.queue.put_nowait(minimal_request())
        while fake.stats.total < 1:  # noqa: ASYNC110 - waiting for the server to see it
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert fake.stats.total == 1


async def test_a_batch_cancelled_mid_flight_while_its_source_waits_leaves_nothing_behind() -> None:
    # The cancel is the caller's, not the batch's own stop: it must end the task as
    # cancelled, close the source, cancel the item on the wire, and leave the client
    # (and a next batch) as if the batch had never run.
    feed = _Feed()
    async with (
        FakeDumGumServer(api_key=KEY, latency=0.5) as fake,
        dg.DumGumClient(api_key=KEY, base_url=fake.url) as client,
    ):
        task = asyncio.create_task(client.suggest_all(feed.items(), concurrency=2))
        feed.queue.put_nowait(minimal_request())
        while fake.stats.total < 1:  # noqa: ASYNC110 - waiting for the server to see it
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert task.cancelled()
        assert feed.finished
        assert no_client_tasks_left()
        after = await client.suggest_all([minimal_request()], concurrency=1)
    assert [r.ok for r in after] == [True]
    assert fake.stats.total == 2
