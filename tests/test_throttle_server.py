"""The rate limit as a server sees it: arrival times at a real local server.

The server runs in its own thread with its own event loop, as a remote server would:
a stall of the client's loop (the hogs below) does not stall it, so the times it
records are when requests actually arrived, not when the client believed it sent them.
Times are ``time.monotonic()``, the limiter's default clock, on both sides.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

import dumgum_async as dg
from dumgum_async._lifecycle import slots_for as _slots_for
from dumgum_async._throttle import LocalLimiter
from tests.helpers.bodies import minimal_request

KEY = "arrivals-key"
_OK = b'{"suggestions": ["one", "two", "three"]}'

#: (arrival index) -> (status, headers, seconds to stall before answering)
Behaviour = Callable[[int], tuple[int, dict[str, str], float]]


def _always_ok(_: int) -> tuple[int, dict[str, str], float]:
    return 200, {}, 0.0


class ArrivalServer:
    """An aiohttp server in a thread of its own, recording when each request arrived."""

    def __init__(self, behaviour: Behaviour = _always_ok) -> None:
        self.behaviour = behaviour
        self.arrivals: list[float] = []
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="arrival-server", daemon=True)

    async def _handle(self, request: web.Request) -> web.Response:
        # Stamped before anything else: the handler runs once the headers are in.
        index = len(self.arrivals)
        self.arrivals.append(time.monotonic())
        await request.read()
        status, headers, stall = self.behaviour(index)
        if stall:
            await asyncio.sleep(stall)
        body = _OK if status == 200 else b'{"error": "slow down"}'
        return web.Response(
            status=status, headers=headers, body=body, content_type="application/json"
        )

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_post("/cs/v1/content_creation/suggestion", self._handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        self._stop = asyncio.Event()
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await runner.cleanup()

    def _run(self) -> None:
        self._loop.run_until_complete(self._serve())
        self._loop.close()

    def __enter__(self) -> ArrivalServer:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the arrival server did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        stop = self._stop
        assert stop is not None
        self._loop.call_soon_threadsafe(stop.set)
        self._thread.join(10)


@pytest.fixture
def server() -> Iterator[ArrivalServer]:
    with ArrivalServer() as s:
        yield s


def max_in_window(times: list[float], period: float) -> int:
    """Most of ``times`` in any half-open window ``(t - period, t]``."""
    times = sorted(times)
    best = i = 0
    for j, t in enumerate(times):
        while t - times[i] >= period:
            i += 1
        best = max(best, j - i + 1)
    return best


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
