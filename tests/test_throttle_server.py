"""The rate limit as a server sees it: arrival times at a real local server.

The server (``tests.helpers.arrival_server``) runs in threads of its own, as a remote
server would: a stall of the client's loop (the hogs below) does not stall it. Its times
are the kernel's, when each request reached its socket, so neither the client's belief
about when it sent nor the server's own lag on a loaded machine enters the count.
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

import dumgum_async as dg
from dumgum_async._lifecycle import slots_for as _slots_for
from dumgum_async._throttle import LocalLimiter
from tests.helpers.arrival_server import ArrivalServer
from tests.helpers.bodies import minimal_request
from tests.helpers.windows import max_in_window

KEY = "arrivals-key"


@pytest.fixture
def server() -> Iterator[ArrivalServer]:
    with ArrivalServer() as s:
        yield s


def _client(url: str, **kwargs: Any) -> dg.DumGumClient:
    return dg.DumGumClient(api_key=KEY, base_url=url, **kwargs)


async def _hog(every: float, for_: float, stop: asyncio.Event) -> None:
    # A synchronous call in a web handler, the ordinary kind: a blocking driver, a
    # template render, a big json.dumps. Jittered, so that over a run it lands at
    # every point of the limiter's cycle, between a release and its send included.
    rng = random.Random(11)
    while not stop.is_set():
        await asyncio.sleep(every * rng.uniform(0.5, 1.5))
        time.sleep(for_)  # noqa: ASYNC251 - blocking the loop is the point


async def test_a_stalled_loop_never_puts_more_than_max_rate_in_a_server_window(
    server: ArrivalServer,
) -> None:
    stop = asyncio.Event()
    hog = asyncio.create_task(_hog(0.1, 0.03, stop))
    try:
        async with _client(server.url, rate_limit=dg.RateLimit.per_second(20)) as client:
            await asyncio.gather(*(client.suggest(minimal_request()) for _ in range(65)))
    finally:
        stop.set()
        await hog
    assert len(server.arrivals) == 65
    assert max_in_window(server.arrivals, 1.0) <= 20


async def test_a_stalled_loop_at_a_watched_rate_never_puts_more_than_max_rate_in_a_window(
    server: ArrivalServer,
) -> None:
    # At 1,000/s the limiter's own timer watches for stalls instead of restamping each
    # release when it is written: stalls too short to be seen (3 ms), just long enough
    # (6 ms) and long (30 ms) land at every point of its cycle. A burst lets the grid
    # catch up after each stall, so that the release log, not the grid, is what holds
    # the window (a burst of one loses the slots a stall covers).
    stop = asyncio.Event()
    async with _client(
        server.url, rate_limit=dg.RateLimit.per_second(1000, burst=50), max_concurrency=32
    ) as client:
        # Open the connections first: their set-up would delay the first requests by
        # more than the margin, a cost outside the limiter.
        await asyncio.gather(*(client.suggest(minimal_request()) for _ in range(32)))
        await asyncio.sleep(1.1)
        server.arrivals.clear()
        hogs = [
            asyncio.create_task(_hog(every, for_, stop))
            for every, for_ in ((0.05, 0.003), (0.1, 0.006), (0.25, 0.03))
        ]
        try:
            await asyncio.gather(*(client.suggest(minimal_request()) for _ in range(2000)))
        finally:
            stop.set()
            await asyncio.gather(*hogs)
    assert len(server.arrivals) == 2000
    assert max_in_window(server.arrivals, 1.0) <= 1000


class _RecordedPauses(LocalLimiter):
    """The client's limiter, noting when it was told to pause (on the server's clock)."""

    def __init__(self, rate: dg.RateLimit) -> None:
        super().__init__(rate)
        self.paused: list[tuple[float, float]] = []

    def pause(self, seconds: float) -> None:
        self.paused.append((time.monotonic(), seconds))
        super().pause(seconds)


async def test_no_request_reaches_the_server_during_a_retry_after_pause() -> None:
    def behaviour(index: int) -> tuple[int, dict[str, str], float]:
        return (429, {"Retry-After": "0.6"}, 0.0) if index == 2 else (200, {}, 0.0)

    limiter = _RecordedPauses(dg.RateLimit.per_second(20))
    with ArrivalServer(behaviour) as server:
        async with _client(
            server.url, rate_limit=limiter, retry=dg.RetryPolicy(budget=None)
        ) as client:
            await asyncio.gather(*(client.suggest(minimal_request()) for _ in range(20)))
    (paused_at, seconds), *_ = limiter.paused
    assert seconds == 0.6
    # A request released just before the 429 was read may still be on its way.
    during = [t for t in server.arrivals if paused_at + 0.03 < t < paused_at + seconds]
    assert during == []
    assert len(server.arrivals) == 21  # every call, and the one retry
    assert max_in_window(server.arrivals, 1.0) <= 20


async def test_a_small_pool_of_the_callers_session_does_not_bank_tokens() -> None:
    # The first two requests hold both of the session's connections for 1.2 s: tokens
    # taken meanwhile would wait in aiohttp's pool, then all leave at once.
    def behaviour(index: int) -> tuple[int, dict[str, str], float]:
        return 200, {}, (1.2 if index < 2 else 0.0)

    with ArrivalServer(behaviour) as server:
        async with (
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=2)) as session,
            _client(server.url, rate_limit=dg.RateLimit.per_second(20), session=session) as client,
        ):
            await asyncio.gather(*(client.suggest(minimal_request()) for _ in range(30)))
    assert len(server.arrivals) == 30
    assert max_in_window(server.arrivals, 1.0) <= 20


@pytest.mark.parametrize(
    ("limit", "per_host", "slots"), [(2, 0, 2), (0, 3, 3), (5, 4, 4), (0, 0, 64), (100, 0, 64)]
)
async def test_concurrency_slots_never_outnumber_the_callers_connections(
    limit: int, per_host: int, slots: int
) -> None:
    connector = aiohttp.TCPConnector(limit=limit, limit_per_host=per_host)
    async with aiohttp.ClientSession(connector=connector) as session:
        assert _slots_for(64, session) == slots
    assert _slots_for(64, None) == 64


@pytest.mark.skipif(sys.platform != "linux", reason="kernel receive stamps are Linux's")
async def test_the_arrival_server_stamps_when_a_request_arrived_not_when_it_was_handled(
    server: ArrivalServer,
) -> None:
    # A lagging server must not report a backlog as a burst: that would fail the
    # limiter for the server's lag, or (stamping late) hide a burst the client sent.
    async def post(session: aiohttp.ClientSession) -> None:
        async with session.post(f"{server.url}/cs/v1/content_creation/suggestion") as got:
            await got.read()

    async with aiohttp.ClientSession() as session:
        with server.lagging():
            first = asyncio.create_task(post(session))
            await asyncio.sleep(0.3)
            second = asyncio.create_task(post(session))  # a second connection
            await asyncio.sleep(0.3)
            assert server.arrivals == []  # nothing was handled yet
        await asyncio.gather(first, second)
    early, late = sorted(server.arrivals)
    assert late - early >= 0.2
