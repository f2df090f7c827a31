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

import pytest
from aiohttp import web

import dumgum_async as dg
from tests.samples import minimal_request

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
