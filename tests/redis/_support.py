"""What the Redis tests share: the repository root, a test key, timing helpers and a
hung Redis (a socket that accepts and never answers)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from dumgum_async._redis import RedisRateLimit
from tests.helpers.bodies import minimal_request

if TYPE_CHECKING:
    from redis.asyncio import Redis

ROOT = Path(__file__).resolve().parent.parent.parent


KEY = "redis-test-key"


async def stamps(limiters: list[RedisRateLimit], n: int) -> list[float]:
    """``n`` concurrent acquires spread over ``limiters``; the sorted times they returned."""
    loop = asyncio.get_running_loop()
    stamps: list[float] = []

    async def one(limiter: RedisRateLimit) -> None:
        await limiter.acquire()
        stamps.append(loop.time())

    await asyncio.gather(*(one(limiters[i % len(limiters)]) for i in range(n)))
    return sorted(stamps)


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    give_up = loop.time() + timeout
    while not condition():
        assert loop.time() < give_up, "the condition never came true"
        await asyncio.sleep(0.01)


async def until_changed(client: Redis, key: str, value: object, timeout: float = 5.0) -> None:
    """Until ``key`` no longer holds ``value`` (a script ran and moved it on)."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + timeout
    while await client.get(key) == value:
        assert loop.time() < give_up, f"{key} never changed"
        await asyncio.sleep(0.002)


async def wait_for_key(client: Redis, key: str) -> None:
    for _ in range(200):
        if await client.exists(key):
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"{key} never appeared in Redis")


@contextlib.asynccontextmanager
async def hung_redis() -> AsyncIterator[tuple[int, list[int]]]:
    """A TCP server on 127.0.0.1 that accepts connections and never answers.

    Yields its port and a list that grows by one per connection accepted.
    """
    accepted: list[int] = []
    handlers: list[asyncio.Task[None]] = []
    writers: list[asyncio.StreamWriter] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.append(task)
        accepted.append(1)
        writers.append(writer)
        with contextlib.suppress(ConnectionError):
            await reader.read()  # whatever comes, until the client goes

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port: int = server.sockets[0].getsockname()[1]
    try:
        yield port, accepted
    finally:
        server.close()
        for writer in writers:
            writer.close()
        await asyncio.wait_for(asyncio.gather(*handlers, return_exceptions=True), 5)
        await server.wait_closed()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # nothing listens there once the socket is closed


def requests(n: int) -> list[dict[str, object]]:
    return [minimal_request() for _ in range(n)]


@contextlib.asynccontextmanager
async def slow_redis(port: int, delay: float) -> AsyncIterator[int]:
    """A TCP proxy on 127.0.0.1 to the Redis on ``port`` that holds every reply back by
    ``delay`` seconds, in order (a remote Redis: one round trip of ``delay``).

    Yields the proxy's port.
    """
    tasks: list[asyncio.Task[None]] = []
    writers: list[asyncio.StreamWriter] = []

    async def pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, hold: float) -> None:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def deliver() -> None:
            while True:
                due, data = await queue.get()
                await asyncio.sleep(max(due - loop.time(), 0.0))
                if not data:
                    writer.close()
                    return
                writer.write(data)
                await writer.drain()

        delivery = asyncio.ensure_future(deliver())
        try:
            with contextlib.suppress(ConnectionError):
                while data := await reader.read(65536):
                    queue.put_nowait((loop.time() + hold, data))
            queue.put_nowait((loop.time() + hold, b""))
            with contextlib.suppress(ConnectionError):
                await delivery
        finally:
            delivery.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await delivery

    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection("127.0.0.1", port)
        writers.extend((client_w, server_w))
        both = [
            asyncio.ensure_future(pump(client_r, server_w, 0.0)),
            asyncio.ensure_future(pump(server_r, client_w, delay)),
        ]
        tasks.extend(both)
        await asyncio.gather(*both, return_exceptions=True)

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    proxy_port: int = server.sockets[0].getsockname()[1]
    try:
        yield proxy_port
    finally:
        server.close()
        for writer in writers:
            writer.close()
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 5)
        await server.wait_closed()
