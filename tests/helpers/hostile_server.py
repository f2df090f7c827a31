"""A raw TCP server on 127.0.0.1 that answers each request with bytes a test chooses.

Unlike the emulator, it can say anything: lying Content-Length, broken encodings, 1xx
statuses, endless headers. It counts connections and requests, so a test can assert
on what the server saw.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, cast

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class HostileServer:
    """Serves ``handler`` per connection; ``connections`` and ``requests`` count arrivals."""

    def __init__(self, handler: Handler, tls: ssl.SSLContext | None = None) -> None:
        self._handler = handler
        self._tls = tls
        self.connections = 0
        self.requests: list[bytes] = []
        self.port = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            if self._tls is not None:
                # Counted before the handshake, which is what a TLS test is about.
                # StreamWriter.start_tls is Python 3.11+ (the floor); mypy still targets 3.10.
                await cast(Any, writer).start_tls(self._tls)
            await self._handler(reader, writer)
        except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def read_request(self, reader: asyncio.StreamReader) -> bytes:
        """Read one HTTP request (head and Content-Length body) and record its head."""
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        await reader.readexactly(length)
        self.requests.append(head)
        return head


@contextlib.asynccontextmanager
async def hostile_server(
    respond: Callable[[HostileServer, asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
    *,
    tls: ssl.SSLContext | None = None,
) -> AsyncIterator[HostileServer]:
    """Start a :class:`HostileServer` whose handler is ``respond(server, reader, writer)``."""
    holder: list[HostileServer] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await respond(holder[0], reader, writer)

    server = HostileServer(handler, tls)
    holder.append(server)
    async with listening(server._serve, server._tasks) as port:
        server.port = port
        yield server


@contextlib.asynccontextmanager
async def listening(
    serve: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
    tasks: set[asyncio.Task[None]],
) -> AsyncIterator[int]:
    """Listen on 127.0.0.1 with ``serve``; yield the port; on exit stop listening and
    cancel (and wait for) the connection ``tasks`` the server keeps."""
    listener = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        yield listener.sockets[0].getsockname()[1]
    finally:
        listener.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await listener.wait_closed()


def replying(
    raw: bytes, *, then: bytes = b"", close: bool = True
) -> Callable[[HostileServer, asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
    """A responder that reads each request and answers ``raw`` (then ``then``)."""

    async def respond(
        server: HostileServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        while True:
            await server.read_request(reader)
            writer.write(raw + then)
            await writer.drain()
            if close:
                return

    return respond


def http_response(status: str, body: bytes, *headers: str) -> bytes:
    """The bytes of one HTTP/1.1 answer: ``status`` line, ``headers``, Content-Length, ``body``."""
    head = "\r\n".join((f"HTTP/1.1 {status}", *headers, f"Content-Length: {len(body)}"))
    return (head + "\r\n\r\n").encode("latin-1") + body
