"""A call made with ``retry=None`` on a client that has a retry policy: the 429's
pause it causes is the client's to bound, as its own calls' would be."""

from __future__ import annotations

import pytest

import dumgum_async as dg
from dumgum_async.testing import FakeDumGumServer, ScriptedResponse
from tests.helpers.bodies import full_request, minimal_request

KEY = "emulator-key"


@pytest.mark.parametrize(
    "policy",
    [
        dg.RetryPolicy(max_retry_after=0.5, budget=None),
        dg.RetryPolicy(respect_retry_after=False, budget=None),
    ],
    ids=["max_retry_after=0.5", "respect_retry_after=False"],
)
async def test_a_call_without_retries_pauses_the_client_within_its_policy(
    policy: dg.RetryPolicy,
) -> None:
    async with (
        FakeDumGumServer(api_key=KEY) as fake,
        dg.DumGumClient(api_key=KEY, base_url=fake.url, retry=policy) as client,
    ):
        fake.script(ScriptedResponse(status=429, headers={"Retry-After": "5"}))
        with pytest.raises(dg.RateLimitError):
            await client.suggest(minimal_request(), retry=None)
        await client.suggest(full_request())
    first, second = fake.requests
    # The client said it waits at most 0.5 s for a Retry-After (or never): its next
    # call is not held back 5 s because one call turned retries off.
    assert second.received_at - first.received_at < 2.5


async def test_a_call_without_retries_on_a_client_with_retries_still_pauses_it() -> None:
    async with (
        FakeDumGumServer(api_key=KEY) as fake,
        dg.DumGumClient(api_key=KEY, base_url=fake.url) as client,
    ):
        fake.script(ScriptedResponse(status=429, headers={"Retry-After": "2"}))
        with pytest.raises(dg.RateLimitError):
            await client.suggest(minimal_request(), retry=None)
        await client.suggest(full_request())
    first, second = fake.requests
    assert second.received_at - first.received_at >= 1.9
