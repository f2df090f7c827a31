"""The recipes in examples/ run against the emulator, as a user would run them.

The web backends are exercised three ways (FastAPI in process through
``httpx.ASGITransport``, FastAPI behind a real uvicorn on 127.0.0.1, aiohttp.web on
127.0.0.1), each driven by its own startup and shutdown; the assertions are on what
the emulator received.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from aiohttp.test_utils import TestServer

import dumgum_async as dg
from dumgum_async.testing import FakeDumGumServer, FaultKind, ScriptedResponse
from examples import aiohttp_app, fastapi_app, task_worker
from tests.helpers.bodies import minimal_request

KEY = "backend-key"

Backend = Callable[..., contextlib.AbstractAsyncContextManager[httpx.AsyncClient]]


@contextlib.asynccontextmanager
async def _fastapi_in_process(**client_options: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = fastapi_app.create_app(**client_options)
    transport = httpx.ASGITransport(app=app)
    # ASGITransport sends no lifespan events: run the app's lifespan around the calls.
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://backend") as http,
    ):
        yield http
    assert app.state.dumgum.closed


async def _wait_until_started(server: uvicorn.Server, serving: asyncio.Task[None]) -> None:
    while not server.started:
        if serving.done():
            serving.result()
            raise AssertionError("uvicorn stopped during startup")
        await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def _fastapi_on_uvicorn(**client_options: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = fastapi_app.create_app(**client_options)
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    try:
        await asyncio.wait_for(_wait_until_started(server, serving), timeout=10)
        port = server.servers[0].sockets[0].getsockname()[1]
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", trust_env=False) as h:
            yield h
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, timeout=10)
    assert app.state.dumgum.closed


@contextlib.asynccontextmanager
async def _aiohttp_on_a_socket(**client_options: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = aiohttp_app.create_app(**client_options)
    async with (
        TestServer(app, host="127.0.0.1") as server,
        httpx.AsyncClient(base_url=str(server.make_url("")), trust_env=False) as http,
    ):
        yield http
    assert app[aiohttp_app.CLIENT].closed


BACKENDS = pytest.mark.parametrize(
    "backend",
    [_fastapi_in_process, _fastapi_on_uvicorn, _aiohttp_on_a_socket],
    ids=["fastapi-asgi", "fastapi-uvicorn", "aiohttp"],
)


@pytest.fixture
async def emulator() -> AsyncIterator[FakeDumGumServer]:
    async with FakeDumGumServer(api_key=KEY) as server:
        yield server


@BACKENDS
async def test_backend_answers_with_the_emulators_suggestions(
    backend: Backend, emulator: FakeDumGumServer
) -> None:
    async with backend(api_key=KEY, base_url=emulator.url) as http:
        answer = await http.post("/suggestions", json=minimal_request())
    assert answer.status_code == 200
    assert len(answer.json()["suggestions"]) == 3
    assert [r.json for r in emulator.requests] == [minimal_request()]
    assert emulator.requests[0].header("Authorization") == f"Bearer {KEY}"


@BACKENDS
async def test_backend_answers_an_invalid_request_with_422_and_sends_nothing(
    backend: Backend, emulator: FakeDumGumServer
) -> None:
    bad = minimal_request() | {"language": "XX"}
    async with backend(api_key=KEY, base_url=emulator.url) as http:
        answer = await http.post("/suggestions", json=bad)
    assert answer.status_code == 422
    assert [p["path"] for p in answer.json()["problems"]] == ["language"]
    assert emulator.requests == []


@BACKENDS
async def test_backend_answers_an_upstream_429_with_429_and_its_retry_after(
    backend: Backend, emulator: FakeDumGumServer
) -> None:
    # Longer than the client's max_retry_after: the call fails at once with the 429.
    emulator.script(ScriptedResponse(status=429, headers={"Retry-After": "120"}))
    async with backend(api_key=KEY, base_url=emulator.url) as http:
        answer = await http.post("/suggestions", json=minimal_request())
    assert answer.status_code == 429
    assert answer.headers["Retry-After"] == "120"
    assert [r.status for r in emulator.requests] == [429]


@BACKENDS
@pytest.mark.parametrize(
    ("scripted", "status", "error"),
    [
        (ScriptedResponse(fault=FaultKind.RESET), 503, "APIConnectionError"),
        (ScriptedResponse(delay=2.0), 504, "APITimeoutError"),
        (ScriptedResponse(status=500, json={"error": "boom"}), 502, "InternalServerError"),
    ],
    ids=["reset-503", "timeout-504", "http500-502"],
)
async def test_backend_maps_upstream_failures(
    backend: Backend,
    emulator: FakeDumGumServer,
    scripted: ScriptedResponse,
    status: int,
    error: str,
) -> None:
    emulator.script(scripted)
    async with backend(api_key=KEY, base_url=emulator.url, retry=None, timeout=0.3) as http:
        answer = await http.post("/suggestions", json=minimal_request())
    assert answer.status_code == status
    assert answer.json()["type"] == error
    assert len(emulator.requests) == 1
    assert emulator.requests[0].scripted


@BACKENDS
async def test_backend_stats_route_counts_the_calls_it_made(
    backend: Backend, emulator: FakeDumGumServer
) -> None:
    emulator.script(ScriptedResponse(status=503), ScriptedResponse(normal=True))
    retry = dg.RetryPolicy(initial_backoff=0.01)
    async with backend(api_key=KEY, base_url=emulator.url, retry=retry) as http:
        assert (await http.post("/suggestions", json=minimal_request())).status_code == 200
        stats = (await http.get("/stats")).json()
    assert stats["calls"] == 1
    assert stats["succeeded"] == 1
    assert stats["attempts"] == len(emulator.requests) == 2


def test_aiohttp_backend_answers_a_body_that_is_not_json_with_400() -> None:
    async def run() -> tuple[int, int]:
        async with (
            FakeDumGumServer(api_key=KEY) as server,
            _aiohttp_on_a_socket(api_key=KEY, base_url=server.url) as http,
        ):
            answer = await http.post("/suggestions", content=b"{nope")
            return answer.status_code, len(server.requests)

    assert asyncio.run(run()) == (400, 0)


# --- the per-task asyncio.run() worker -----------------------------------------------


@contextlib.contextmanager
def _emulator_in_a_thread() -> Iterator[FakeDumGumServer]:
    """The emulator on its own loop and thread: the worker's tasks own the main thread."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server = FakeDumGumServer(api_key=KEY)
    try:
        asyncio.run_coroutine_threadsafe(server.start(), loop).result(timeout=10)
        yield server
    finally:
        asyncio.run_coroutine_threadsafe(server.close(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


@pytest.fixture
def worker_emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeDumGumServer]:
    """The emulator, with the worker's environment pointing at it; the worker's
    module-level client is closed afterwards."""
    with _emulator_in_a_thread() as server:
        monkeypatch.setenv("DUMGUM_API_KEY", KEY)
        monkeypatch.setenv("DUMGUM_BASE_URL", server.url)
        try:
            yield server
        finally:
            task_worker.close_client()
            # A connection left open by a task's closed loop warns when collected:
            # collect now, so it is reported on the test that leaked it.
            gc.collect()


def test_worker_reuses_one_client_across_asyncio_run_calls(
    worker_emulator: FakeDumGumServer,
) -> None:
    requests = [minimal_request(language=lang) for lang in ("EN", "FR", "DE")]
    answers = [task_worker.suggest_task(request) for request in requests]
    assert [len(a) for a in answers] == [3, 3, 3]
    assert [r.json for r in worker_emulator.requests] == requests
    assert task_worker.get_client().stats.calls == 3  # one client served all three


def test_worker_closes_its_client_at_shutdown(worker_emulator: FakeDumGumServer) -> None:
    task_worker.suggest_task(minimal_request())
    client = task_worker.get_client()
    task_worker.close_client()
    assert client.closed
    with pytest.raises(dg.ClientClosedError):
        asyncio.run(client.suggest(minimal_request()))
    assert len(worker_emulator.requests) == 1
