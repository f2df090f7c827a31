"""Regressions found by the review of the call path, timer and HTTP layer: each test
shows one behaviour over a real socket (or on the timer itself)."""

from __future__ import annotations

import asyncio

import orjson
import pytest

import dumgum_async as dg
from dumgum_async.testing import FakeDumGumServer
from tests.helpers.bodies import minimal_request
from tests.helpers.hostile_server import HostileServer, hostile_server

KEY = "sk-review-0123456789abcdef"
GOOD = orjson.dumps({"suggestions": ["a", "b", "c"]})


def _response(status: str, body: bytes, *headers: str) -> bytes:
    head = "\r\n".join((f"HTTP/1.1 {status}", *headers, f"Content-Length: {len(body)}"))
    return (head + "\r\n\r\n").encode("latin-1") + body


def _slow_redirects(hop: float, hops: int) -> object:
    """Each answer takes ``hop`` seconds: ``hops`` same-origin 307s, then a 200."""

    async def respond(
        server: HostileServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        while True:
            await server.read_request(reader)
            await asyncio.sleep(hop)
            if len(server.requests) > hops:
                writer.write(_response("200 OK", GOOD, "Content-Type: application/json"))
            else:
                writer.write(_response("307 Temporary Redirect", b"", "Location: /moved"))
            await writer.drain()

    return respond


async def test_an_attempts_total_timeout_covers_its_redirects() -> None:
    # Four answers of 0.5 s each: every one fits in the 1.2 s total, their sum does not.
    async with (
        hostile_server(_slow_redirects(0.5, 3)) as server,  # type: ignore[arg-type]
        dg.DumGumClient(
            api_key=KEY, base_url=f"http://127.0.0.1:{server.port}", retry=None, timeout=1.2
        ) as client,
    ):
        with pytest.raises(dg.APITimeoutError):
            await client.suggest(minimal_request())


async def test_a_timeout_of_any_finite_length_is_accepted() -> None:
    # Timeout validates "positive and finite"; the timer's slot number for 1e307 s
    # overflowed (OverflowError, which is no DumGumError).
    async with (
        FakeDumGumServer() as server,
        dg.DumGumClient(api_key=server.api_key, base_url=server.url, timeout=1e307) as client,
    ):
        result = await client.suggest(minimal_request())
    assert result.suggestions
