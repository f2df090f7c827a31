"""Edge cases found by an adversarial review, each one way a promise could break
(timeouts across redirects, Retry-After dates, the key in errors the transport builds,
settings of the wrong type), shown over a real socket or on the timer itself."""

from __future__ import annotations

import asyncio
import calendar
import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

import dumgum_async as dg
from dumgum_async._http import Transport
from dumgum_async._interpret import parse_retry_after
from dumgum_async._secret import Secret
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


def _answering(raw: bytes) -> object:
    async def respond(
        server: HostileServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await server.read_request(reader)
        writer.write(raw)
        await writer.drain()

    return respond


# A proxy echoing the request's headers into the start of an oversized 2xx body, and a
# refused redirect echoing them into one of its headers.
# Chunked: with a Content-Length the cap refuses the body unread.
_ECHO = f"Authorization: Bearer {KEY}\n".encode() + bytes(8192)
_ECHOED_BODY = (
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    + b"%x\r\n%s\r\n0\r\n\r\n" % (len(_ECHO), _ECHO)
)
_ECHOED_REDIRECT = _response(
    "307 Temporary Redirect", b"", "Location: http://elsewhere.example/", f"X-Echo: Bearer {KEY}"
)


async def _transport_error(raw: bytes, secret: Secret) -> dg.DumGumError:
    async with hostile_server(_answering(raw)) as server:  # type: ignore[arg-type]
        transport = Transport(session=None, max_connections=1, max_response_bytes=4096)
        transport.open()
        try:
            with pytest.raises(dg.DumGumError) as info:
                await transport.post(
                    f"http://127.0.0.1:{server.port}/x", b"{}", {}, timeout=2.0, secret=secret
                )
        finally:
            await transport.close()
    return info.value


async def test_an_oversized_bodys_excerpt_has_the_key_redacted_by_the_transport() -> None:
    error = await _transport_error(_ECHOED_BODY, Secret(KEY))
    assert isinstance(error, dg.ResponseDecodeError)
    assert "Bearer <redacted>" in error.body_excerpt
    assert KEY not in error.body_excerpt


async def test_a_refused_redirects_headers_have_the_key_masked_by_the_transport() -> None:
    error = await _transport_error(_ECHOED_REDIRECT, Secret(KEY))
    assert isinstance(error, dg.APIStatusError)
    assert error.headers["X-Echo"] == "Bearer <redacted>"


async def _client_error(raw: bytes) -> dg.DumGumError:
    async with (
        hostile_server(_answering(raw)) as server,  # type: ignore[arg-type]
        dg.DumGumClient(
            api_key=KEY,
            base_url=f"http://127.0.0.1:{server.port}",
            retry=None,
            max_response_bytes=4096,
        ) as client,
    ):
        with pytest.raises(dg.DumGumError) as info:
            await client.suggest(minimal_request())
    return info.value


async def test_an_oversized_bodys_excerpt_never_holds_the_key() -> None:
    error = await _client_error(_ECHOED_BODY)
    assert isinstance(error, dg.ResponseDecodeError)
    assert KEY not in error.body_excerpt


async def test_a_refused_redirects_headers_never_hold_the_key() -> None:
    error = await _client_error(_ECHOED_REDIRECT)
    assert isinstance(error, dg.APIStatusError)
    assert KEY not in error.headers["X-Echo"]


@pytest.mark.parametrize(
    "base_url",
    ["http://[::1", "http://127.0.0.1:99999", "http://127.0.0.1:abc", ["http://x"]],
)
def test_a_malformed_base_url_is_a_configuration_error(base_url: object) -> None:
    # urllib and yarl raise ValueError (a list: TypeError) for these; the client's
    # settings are refused with ConfigurationError, a DumGumError.
    with pytest.raises(dg.ConfigurationError, match="base_url"):
        dg.DumGumClient(api_key=KEY, base_url=base_url)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["64k", None, float("nan"), 65536.5])
def test_a_max_response_bytes_that_is_not_an_integer_is_a_configuration_error(
    value: object,
) -> None:
    # "64k" and None raised TypeError; NaN was accepted and turned the cap off (no
    # size compares greater than NaN, so a decompression bomb was read whole).
    with pytest.raises(dg.ConfigurationError, match="max_response_bytes"):
        dg.DumGumClient(api_key=KEY, max_response_bytes=value)  # type: ignore[arg-type]


@pytest.mark.parametrize("flag", ["strict_enums", "telemetry", "allow_insecure_http", "trust_env"])
def test_a_switch_that_is_not_a_bool_is_a_configuration_error(flag: str) -> None:
    # "no" is truthy: taken as a switch it would turn on what the caller meant off.
    kwargs: dict[str, Any] = {flag: "no"}
    with pytest.raises(dg.ConfigurationError, match=flag):
        dg.DumGumClient(api_key=KEY, **kwargs)


def test_a_session_that_is_not_an_aiohttp_session_is_a_configuration_error() -> None:
    with pytest.raises(dg.ConfigurationError, match="session"):
        dg.DumGumClient(api_key=KEY, session="not a session")  # type: ignore[arg-type]


@pytest.fixture
def west_coast(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process's local time zone is eight hours behind UTC, for the test."""
    monkeypatch.setenv("TZ", "America/Los_Angeles")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("west_coast")
@pytest.mark.parametrize("zone", [" -0000", ""])
def test_a_retry_after_date_without_a_zone_is_read_as_gmt(zone: str) -> None:
    # HTTP dates are GMT (RFC 9110); email.utils gives a naive datetime for these,
    # which .timestamp() read as local time: 60 s became 8 hours and a minute.
    now = calendar.timegm((2015, 10, 21, 7, 27, 0))
    assert parse_retry_after(f"Wed, 21 Oct 2015 07:28:00{zone}", now=now) == 60.0


async def test_an_error_page_cut_at_the_cap_keeps_no_part_of_the_key() -> None:
    # The key straddles the cap: cut first and redacted later, its first half stayed.
    page = bytes(4096 - len(KEY) // 2) + KEY.encode() + bytes(4096)
    raw = b"HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\n" + (
        b"%x\r\n%s\r\n0\r\n\r\n" % (len(page), page)
    )
    async with hostile_server(_answering(raw)) as server:  # type: ignore[arg-type]
        transport = Transport(session=None, max_connections=1, max_response_bytes=4096)
        transport.open()
        try:
            response = await transport.post(
                f"http://127.0.0.1:{server.port}/x", b"{}", {}, timeout=2.0, secret=Secret(KEY)
            )
        finally:
            await transport.close()
    assert KEY[: len(KEY) // 2].encode() not in response.body
