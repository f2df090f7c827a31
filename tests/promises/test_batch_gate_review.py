"""The batch gate (max_requests, and the stop on a refused key) is the batch's own:
what its context variable reaches beyond the batch's calls is left alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

import pytest

import dumgum_async as dg
from dumgum_async.testing import FakeDumGumServer
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
