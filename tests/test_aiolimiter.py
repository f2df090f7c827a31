"""rate_limit=aiolimiter.AsyncLimiter(...): the caller's budget stays shared, and the
server never sees more than the rate in any window. Arrivals are counted by the
emulator over real sockets on 127.0.0.1."""

from __future__ import annotations

import asyncio
import bisect
import subprocess
import sys
import time

import pytest
from aiolimiter import AsyncLimiter

import dumgum_async as dg
from dumgum_async.testing import FakeDumGumServer
from tests.helpers.bodies import minimal_request

KEY = "aiolimiter-key"


class _Bare:
    """The AsyncLimiter used as it is, without our window: what it lets through alone."""

    def __init__(self, limiter: AsyncLimiter) -> None:
        self._limiter = limiter

    async def acquire(self) -> None:
        await self._limiter.acquire()

    def pause(self, seconds: float) -> None:
        pass


def _most_in_any_window(times: list[float], window: float) -> int:
    times = sorted(times)
    return max(bisect.bisect_left(times, t + window) - i for i, t in enumerate(times))


async def _arrivals(limiter: dg.Limiter | AsyncLimiter, n: int) -> list[float]:
    async with (
        FakeDumGumServer(api_key=KEY) as fake,
        dg.DumGumClient(api_key=KEY, base_url=fake.url, rate_limit=limiter) as client,
    ):
        await asyncio.gather(*(client.suggest(minimal_request()) for _ in range(n)))
    assert len(fake.requests) == n
    return [r.received_at for r in fake.requests]


async def test_the_async_limiter_alone_lets_about_twice_its_rate_into_the_first_second() -> None:
    # The baseline the window below exists for: a full bucket, then its leak.
    times = await _arrivals(_Bare(AsyncLimiter(20, 1)), 45)
    assert _most_in_any_window(times, 1.0) >= 35


async def test_through_the_client_no_second_holds_more_than_the_rate() -> None:
    times = await _arrivals(AsyncLimiter(20, 1), 25)
    assert _most_in_any_window(times, 1.0) <= 20
    assert max(times) - min(times) >= 1.0


async def _first_arrival_after(limiter: AsyncLimiter, started: float) -> float:
    times = await _arrivals(limiter, 5)
    return min(times) - started


async def test_the_callers_other_acquires_spend_the_same_budget() -> None:
    fresh = await _first_arrival_after(AsyncLimiter(20, 1), time.monotonic())
    shared = AsyncLimiter(20, 1)
    # The caller's other code: 20 acquires empty the bucket, 10 more queue for its
    # leak (one per 50 ms) ahead of the client's.
    others = [asyncio.create_task(shared.acquire()) for _ in range(30)]
    await asyncio.sleep(0)
    started = time.monotonic()
    late = await _first_arrival_after(shared, started)
    assert all(task.done() for task in others)
    assert fresh < 0.3
    assert late >= 0.45


async def test_a_pause_holds_callers_before_they_spend_the_callers_budget() -> None:
    limiter = AsyncLimiter(20, 1)
    async with dg.DumGumClient(api_key=KEY, rate_limit=limiter) as client:
        strict = client._limiter
        strict.pause(0.3)
        waiter = asyncio.create_task(strict.acquire())
        await asyncio.sleep(0.15)
        assert limiter.has_capacity(20)  # nothing taken from the bucket yet
        await waiter
    assert not limiter.has_capacity(20)


def test_something_else_is_still_refused() -> None:
    with pytest.raises(dg.ConfigurationError, match="AsyncLimiter"):
        dg.DumGumClient(api_key=KEY, rate_limit="20/s")  # type: ignore[arg-type]


def test_importing_the_package_does_not_import_aiolimiter() -> None:
    code = "import sys, dumgum_async; print('aiolimiter' in sys.modules)"
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert run.stdout.strip() == "False"
