"""``client.stats``: the API's latency per attempt, and the wait for a slot or a token apart.

End to end against the emulator: the emulator's latency is known, and the spacing of the
requests it received shows how long the client held each one back.
"""

from __future__ import annotations

import asyncio

import pytest

import dumgum_async as dg
from dumgum_async.testing import FakeDumGumServer, ScriptedResponse, sample_requests

KEY = "latency-key"
SERVER_LATENCY = 0.05
# A busy 2-core machine may add this much to a request's round trip.
MARGIN = 0.25


async def test_attempt_latency_is_the_wire_time_and_the_rate_limit_wait_is_apart() -> None:
    async with FakeDumGumServer(api_key=KEY, latency=SERVER_LATENCY) as fake:
        async with dg.DumGumClient(
            api_key=KEY, base_url=fake.url, rate_limit=dg.RateLimit.per_second(20)
        ) as client:
            results = await client.suggest_all(sample_requests(12, seed=1), concurrency=12)
            stats = client.stats
        arrivals = sorted(r.received_at for r in fake.requests)
    assert all(r.ok for r in results)
    # The server saw the requests spread by the rate limit: the last one was held back.
    assert arrivals[-1] - arrivals[0] >= 11 / 20 - 0.05
    assert stats.attempt_latency_p50 is not None
    assert stats.attempt_latency_p99 is not None
    assert SERVER_LATENCY <= stats.attempt_latency_p50 <= stats.attempt_latency_p99
    assert stats.attempt_latency_p99 < SERVER_LATENCY + MARGIN
    # The waiting is where the rate limit's time went.
    assert stats.wait_p50 is not None
    assert stats.wait_p95 is not None
    assert stats.wait_p99 is not None
    assert stats.wait_p50 <= stats.wait_p95 <= stats.wait_p99
    assert stats.wait_p99 >= 10 / 20 - 0.05
    # The call latency still counts both, so it reads far above the wire time.
    assert stats.latency_p95 is not None
    assert stats.latency_p95 >= stats.wait_p95 + SERVER_LATENCY


async def test_every_answered_attempt_counts_a_failed_one_included() -> None:
    async with FakeDumGumServer(api_key=KEY, latency=SERVER_LATENCY) as fake:
        fake.script(ScriptedResponse(status=503, headers={"Retry-After": "0"}, json={}))
        async with dg.DumGumClient(api_key=KEY, base_url=fake.url) as client:
            await client.suggest(next(sample_requests(1)))
            stats = client.stats
        assert len(fake.requests) == 2
    assert stats.attempts == 2
    # Without a rate limit or contention there is next to nothing to wait for.
    assert stats.wait_p99 is not None
    assert stats.wait_p99 < MARGIN
    assert stats.attempt_latency_p50 is not None
    assert stats.attempt_latency_p50 >= SERVER_LATENCY


async def test_the_percentiles_are_none_before_any_answer() -> None:
    async with FakeDumGumServer(api_key=KEY) as fake:
        client = dg.DumGumClient(api_key=KEY, base_url=fake.url)
        stats = client.stats
        await client.aclose()
    assert stats.attempt_latency_p50 is None
    assert stats.attempt_latency_p95 is None
    assert stats.attempt_latency_p99 is None
    assert stats.wait_p50 is None
    assert stats.wait_p95 is None
    assert stats.wait_p99 is None


async def test_waiting_for_a_concurrency_slot_counts_as_waiting() -> None:
    async with FakeDumGumServer(api_key=KEY, latency=0.1) as fake:
        async with dg.DumGumClient(api_key=KEY, base_url=fake.url, max_concurrency=1) as client:
            await asyncio.gather(*(client.suggest(r) for r in sample_requests(4, seed=2)))
            stats = client.stats
        arrivals = sorted(r.received_at for r in fake.requests)
    # One at a time at the server: the fourth waited for three others.
    assert arrivals[-1] - arrivals[0] >= 3 * 0.1 - 0.02
    assert stats.wait_p99 is not None
    assert stats.wait_p99 >= 3 * 0.1 - 0.02
    assert stats.attempt_latency_p99 is not None
    assert stats.attempt_latency_p99 < 0.1 + MARGIN


def _whole_milliseconds(seconds: float) -> bool:
    return abs(seconds * 1000 - round(seconds * 1000)) < 1e-6


def test_on_uvloop_latencies_are_not_rounded_to_the_millisecond() -> None:
    # uvloop's loop.time() counts whole milliseconds: measured with it, every figure
    # below would be a whole number of them. The server's latency is a fraction of one.
    uvloop = pytest.importorskip("uvloop")

    async def main() -> tuple[dg.StatsSnapshot, float]:
        async with (
            FakeDumGumServer(api_key=KEY, latency=0.0025) as fake,
            dg.DumGumClient(api_key=KEY, base_url=fake.url) as client,
        ):
            requests = list(sample_requests(8, seed=2))
            for request in requests[:-1]:
                await client.suggest(request)
            raw = await client.with_raw_response.suggest(requests[-1])
            return client.stats, raw.elapsed

    stats, elapsed = uvloop.run(main())
    figures = [stats.latency_p50, stats.latency_p99, stats.attempt_latency_p50]
    figures += [stats.attempt_latency_p99, elapsed]
    assert all(f is not None and f >= 0.0025 for f in figures), figures
    assert not all(_whole_milliseconds(f) for f in figures if f is not None), figures
