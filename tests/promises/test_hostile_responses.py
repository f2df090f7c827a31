"""Hostile servers over real sockets on 127.0.0.1: whatever a server sends, the caller
gets a typed error within the timeout, in bounded memory, and the key never leaks."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import socket
import ssl
import subprocess
import threading
import time
import traceback
import tracemalloc
import warnings
import zlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import aiohttp
import brotli  # type: ignore[import-untyped]
import orjson
import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dumgum_async as dg
from tests.helpers.bodies import minimal_request
from tests.helpers.hostile_server import HostileServer, hostile_server, replying

KEY = "sk-hostile-9f8e7d6c5b4a39281706"
QUICK = dg.RetryPolicy(max_attempts=3, initial_backoff=0.01, max_backoff=0.02, budget=None)
CAP = 64 * 1024
BOMB_SIZE = 32 * 1024 * 1024  # decoded: 512 times the cap
MEMORY_BOUND = 8 * 1024 * 1024  # a quarter of the bomb; the whole of it fails
GOOD = orjson.dumps({"suggestions": ["a", "b", "c"]})


def client_for(port: int, *, scheme: str = "http", **options: Any) -> dg.DumGumClient:
    """A client of the hostile server on ``port`` with quick retries and a short timeout."""
    options.setdefault("retry", QUICK)
    options.setdefault("timeout", 2.0)
    return dg.DumGumClient(api_key=KEY, base_url=f"{scheme}://127.0.0.1:{port}", **options)


def head(status: str, *headers: str) -> bytes:
    """A response head: status line, headers, blank line."""
    return ("\r\n".join((f"HTTP/1.1 {status}", *headers)) + "\r\n\r\n").encode("latin-1")


def response(status: str, body: bytes, *headers: str) -> bytes:
    """A whole response with a true Content-Length."""
    return head(status, *headers, f"Content-Length: {len(body)}") + body


def chunked(body: bytes, size: int = 16 * 1024) -> bytes:
    """``body`` in chunked transfer encoding, terminated."""
    parts = [body[i : i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"


@contextlib.contextmanager
def peak_memory() -> Iterator[list[int]]:
    """Trace Python allocations; the peak in bytes is appended on exit."""
    gc.collect()
    tracemalloc.start()
    out: list[int] = []
    try:
        yield out
    finally:
        out.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()


# --- decompression bombs -------------------------------------------------------------


def _zeros(compress: Callable[[bytes], bytes], flush: Callable[[], bytes]) -> bytes:
    block = bytes(1024 * 1024)
    return b"".join(compress(block) for _ in range(BOMB_SIZE // len(block))) + flush()


@functools.cache
def bomb(encoding: str) -> bytes:
    """``BOMB_SIZE`` zero bytes compressed with ``encoding`` (tens of KiB)."""
    if encoding in ("gzip", "deflate"):
        z = zlib.compressobj(9, zlib.DEFLATED, 31 if encoding == "gzip" else 15)
        return _zeros(z.compress, z.flush)
    if encoding == "br":
        b = brotli.Compressor(quality=5)
        return _zeros(b.process, b.finish)
    c = zstandard.ZstdCompressor().compressobj()
    return _zeros(c.compress, c.flush)


ENCODINGS = ["gzip", "deflate", "br", "zstd"]


def bomb_response(encoding: str, *, status: str = "200 OK", with_length: bool) -> bytes:
    """A response whose body inflates to ``BOMB_SIZE`` bytes."""
    body = bomb(encoding)
    headers = ["Content-Type: application/json", f"Content-Encoding: {encoding}"]
    if with_length:
        return response(status, body, *headers)
    return head(status, *headers, "Transfer-Encoding: chunked") + chunked(body)


@pytest.mark.parametrize("with_length", [True, False], ids=["content-length", "chunked"])
@pytest.mark.parametrize("encoding", ENCODINGS)
async def test_a_decompression_bomb_is_refused_at_the_cap_in_bounded_memory(
    encoding: str, with_length: bool
) -> None:
    raw = bomb_response(encoding, with_length=with_length)
    async with (
        hostile_server(replying(raw)) as server,
        client_for(server.port, max_response_bytes=CAP, retry=None) as client,
    ):
        with peak_memory() as peak:
            started = time.perf_counter()
            with pytest.raises((dg.ResponseDecodeError, dg.APIConnectionError)) as info:
                await client.suggest(minimal_request())
            elapsed = time.perf_counter() - started
    if encoding != "zstd" or isinstance(info.value, dg.ResponseDecodeError):
        # zstd only where aiohttp can decode it; else it is refused as undecodable.
        assert isinstance(info.value, dg.ResponseDecodeError)
        assert "exceeds the 65536-byte limit" in str(info.value)
    assert peak[0] < MEMORY_BOUND
    assert elapsed < 3.0
    assert len(server.requests) == 1


@pytest.mark.parametrize("encoding", ["gzip", "br"])
async def test_a_bomb_in_an_error_page_keeps_only_the_capped_start(encoding: str) -> None:
    raw = bomb_response(encoding, status="500 Internal Server Error", with_length=True)
    async with (
        hostile_server(replying(raw)) as server,
        client_for(server.port, max_response_bytes=CAP, retry=None) as client,
    ):
        with peak_memory() as peak, pytest.raises(dg.InternalServerError) as info:
            await client.suggest(minimal_request())
    assert len(info.value.body) == CAP
    assert peak[0] < MEMORY_BOUND
    assert len(server.requests) == 1


async def test_a_small_compressed_body_is_read() -> None:
    z = zlib.compressobj(wbits=31)
    raw = response("200 OK", z.compress(GOOD) + z.flush(), "Content-Encoding: gzip")
    async with hostile_server(replying(raw)) as server, client_for(server.port) as client:
        result = await client.suggest(minimal_request())
    assert result.suggestions == ("a", "b", "c")


# --- TLS failures that cannot heal ---------------------------------------------------


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A throwaway certificate for 127.0.0.1 that no trust store knows (openssl CLI)."""
    where = tmp_path_factory.mktemp("tls")
    cert, key = str(where / "cert.pem"), str(where / "key.pem")
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            key,
            "-out",
            cert,
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return cert, key


def _tls_context(cert_and_key: tuple[str, str], **versions: ssl.TLSVersion) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*cert_and_key)
    for name, version in versions.items():
        setattr(context, name, version)
    return context


async def _answer_good(
    server: HostileServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    await server.read_request(reader)
    writer.write(response("200 OK", GOOD, "Content-Type: application/json"))
    await writer.drain()


async def _garbage(
    server: HostileServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nthis is not TLS at all\r\n\r\n" * 8)
    await writer.drain()
    await reader.read(4096)


def _old_tls_only(cert_and_key: tuple[str, str]) -> ssl.SSLContext:
    context = _tls_context(cert_and_key)
    with warnings.catch_warnings():  # deprecated versions are the point here
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        context.maximum_version = ssl.TLSVersion.TLSv1_1
    with contextlib.suppress(ssl.SSLError):
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
    return context


async def _assert_failed_once_without_retry(
    server: HostileServer | _BlockingTLSServer, why: str, **client: Any
) -> dg.APIConnectionError:
    async with client_for(server.port, scheme="https", **client) as c:
        started = time.perf_counter()
        with pytest.raises(dg.APIConnectionError) as info:
            await c.suggest(minimal_request())
        elapsed = time.perf_counter() - started
    assert info.value.retryable is False
    assert info.value.attempts == 1
    assert "not retried" in str(info.value)
    assert why in str(info.value).lower()
    assert server.connections == 1
    assert elapsed < 2.0
    return info.value


async def test_an_unverifiable_certificate_fails_at_once_without_retry(
    self_signed: tuple[str, str],
) -> None:
    async with hostile_server(_answer_good, tls=_tls_context(self_signed)) as server:
        await _assert_failed_once_without_retry(server, "certificate verify failed")


class _BlockingTLSServer:
    """A TLS server in a thread: a failed handshake still sends its alert, which asyncio's
    server-side TLS drops when it aborts the connection."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self._context = context
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self.port: int = self._listener.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            self.connections += 1
            conn.settimeout(2.0)
            with contextlib.suppress(OSError), conn:
                self._context.wrap_socket(conn, server_side=True).close()

    def __enter__(self) -> _BlockingTLSServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self._listener.close()


async def test_a_server_speaking_only_an_old_tls_version_fails_at_once(
    self_signed: tuple[str, str],
) -> None:
    with _BlockingTLSServer(_old_tls_only(self_signed)) as server:
        error = await _assert_failed_once_without_retry(server, "protocol version")
    assert "SSLError" in str(error)


async def test_plain_tcp_garbage_on_a_tls_port_fails_at_once(self_signed: tuple[str, str]) -> None:
    async with hostile_server(_garbage) as server:
        await _assert_failed_once_without_retry(server, "ssl")


async def test_a_verified_tls_server_is_used(self_signed: tuple[str, str]) -> None:
    # The same server with its certificate trusted: TLS itself is not what is refused.
    trust = ssl.create_default_context(cafile=self_signed[0])
    async with (
        hostile_server(_answer_good, tls=_tls_context(self_signed)) as server,
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=trust)) as session,
        client_for(server.port, scheme="https", session=session) as client,
    ):
        result = await client.suggest(minimal_request())
    assert result.suggestions == ("a", "b", "c")


# --- redirects -----------------------------------------------------------------------


def _redirecting(location: str) -> Callable[..., Any]:
    async def respond(
        server: HostileServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        while True:
            request = await server.read_request(reader)
            if b" /moved " in request.split(b"\r\n", 1)[0]:
                writer.write(response("200 OK", GOOD, "Content-Type: application/json"))
            else:
                where = location.replace("{port}", str(server.port))
                writer.write(response("307 Temporary Redirect", b"", f"Location: {where}"))
            await writer.drain()

    return respond


@pytest.mark.parametrize(
    "location",
    [
        "http://[::1",
        "http://127.0.0.1:99999/moved",
        "http://user:pw@127.0.0.1:{port}/moved",
        "https://127.0.0.1:{port}/moved",
        "ftp://127.0.0.1:{port}/moved",
        "http://localhost:{port}/moved",
        "http://127.0.0.1:1/moved",
        "//evil.example/moved",
        "data:text/plain,hi",
    ],
)
async def test_a_hostile_redirect_is_refused_with_a_typed_error(location: str) -> None:
    async with (
        hostile_server(_redirecting(location)) as server,
        client_for(server.port) as client,
    ):
        with pytest.raises(dg.APIStatusError, match="refusing to follow") as info:
            await client.suggest(minimal_request())
    assert info.value.status_code == 307
    assert len(server.requests) == 1  # refused, not retried, not followed


async def test_a_same_origin_redirect_is_followed_over_a_socket() -> None:
    async with (
        hostile_server(_redirecting("/moved")) as server,
        client_for(server.port) as client,
    ):
        result = await client.suggest(minimal_request())
    assert result.suggestions == ("a", "b", "c")
    assert [r.split(b" ")[1] for r in server.requests] == [
        b"/cs/v1/content_creation/suggestion",
        b"/moved",
    ]


# --- the key never leaks through an exception ----------------------------------------


def _reachable_leaks(exc: BaseException, secret: str) -> list[str]:
    """Where ``secret`` shows: the formatted traceback with locals, or the repr/str of
    any object reachable from the exception's attributes, args and chain."""
    found: list[str] = []
    text = "".join(traceback.TracebackException.from_exception(exc, capture_locals=True).format())
    if secret in text:
        found.append("traceback with locals")
    seen: set[int] = set()
    stack: list[object] = [exc]
    while stack:
        obj = stack.pop()
        if obj is None or id(obj) in seen:
            continue
        seen.add(id(obj))
        with contextlib.suppress(Exception):
            if secret in repr(obj) or secret in str(obj):
                found.append(type(obj).__name__)
        if isinstance(obj, BaseException):
            stack += [obj.__cause__, obj.__context__, *obj.args, *vars(obj).values()]
        elif isinstance(obj, Mapping):
            stack += [v for kv in obj.items() for v in kv]
        elif isinstance(obj, list | tuple | set | frozenset):
            stack += list(obj)
    return found


async def _never_answer(
    server: HostileServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    await server.read_request(reader)
    await asyncio.sleep(30)


async def _reset(
    server: HostileServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    await server.read_request(reader)
    writer.transport.abort()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _failure(kind: str, self_signed: tuple[str, str]) -> dg.DumGumError:
    if kind == "refused":
        async with client_for(_closed_port()) as client:
            return await _raised(client)
    respond: Any = {
        "reset": _reset,
        "timeout": _never_answer,
        "tls": _answer_good,
        "redirect": _redirecting("http://user:pw@127.0.0.1:{port}/moved"),
        "decode": replying(bomb_response("gzip", with_length=True)),
    }[kind]
    tls = _tls_context(self_signed) if kind == "tls" else None
    async with hostile_server(respond, tls=tls) as server:
        scheme = "https" if kind == "tls" else "http"
        async with client_for(
            server.port, scheme=scheme, timeout=0.3, max_response_bytes=CAP
        ) as client:
            return await _raised(client)


async def _raised(client: dg.DumGumClient) -> dg.DumGumError:
    try:
        await client.suggest(minimal_request())
    except dg.DumGumError as exc:
        return exc
    raise AssertionError("no error")


@pytest.mark.parametrize("kind", ["refused", "reset", "timeout", "tls", "redirect", "decode"])
async def test_no_exception_reaches_the_key_through_its_chain_frames_or_attributes(
    kind: str, self_signed: tuple[str, str]
) -> None:
    exc = await _failure(kind, self_signed)
    assert isinstance(exc, dg.APIError)
    assert _reachable_leaks(exc, KEY) == []


async def test_a_connection_error_keeps_the_cause_in_its_message() -> None:
    async with client_for(_closed_port(), retry=None) as client:
        exc = await _raised(client)
    assert exc.__cause__ is None
    assert exc.__context__ is None
    assert "ClientConnectorError" in str(exc)
    assert "Connect call failed" in str(exc) or "refused" in str(exc).lower()


# --- every other oddity: a typed error within the timeout ----------------------------

_TRICKLE = "trickle"
ODDITIES: dict[str, bytes | str] = {
    "102-processing": head("102 Processing"),
    "204-no-content": head("204 No Content"),
    "599": response("599 Weird", b"?"),
    "giant-header": head("200 OK", "X-Big: " + "a" * 100_000, "Content-Length: 2") + b"{}",
    "many-headers": head("200 OK", *[f"X-{i}: v" for i in range(20_000)]),
    "cut-body": head("200 OK", "Content-Length: 1000") + b'{"suggestions": [',
    "cut-chunked": head("200 OK", "Transfer-Encoding: chunked") + b'10\r\n{"sugg',
    "bad-chunk-size": head("200 OK", "Transfer-Encoding: chunked") + b"zz\r\n{}\r\n0\r\n\r\n",
    "garbage-gzip": response("200 OK", b"\x1f\x8bnot gzip at all", "Content-Encoding: gzip"),
    "garbage-br": response("200 OK", b"not brotli", "Content-Encoding: br"),
    "not-http": b"SSH-2.0-OpenSSH_9.6\r\n",
    "slow-trickle": _TRICKLE,
}


def _odd(raw: bytes | str) -> Callable[..., Any]:
    async def respond(
        server: HostileServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await server.read_request(reader)
        if raw == _TRICKLE:
            writer.write(head("200 OK", "Content-Length: 100000"))
            for _ in range(200):
                writer.write(b" ")
                await writer.drain()
                await asyncio.sleep(0.05)
            return
        assert isinstance(raw, bytes)
        writer.write(raw)
        await writer.drain()

    return respond


@pytest.mark.parametrize("raw", list(ODDITIES.values()), ids=list(ODDITIES))
async def test_each_oddity_is_a_typed_error_within_the_timeout(raw: bytes | str) -> None:
    async with (
        hostile_server(_odd(raw)) as server,
        client_for(server.port, retry=None, timeout=0.5) as client,
    ):
        started = time.perf_counter()
        with pytest.raises(dg.APIError):
            await client.suggest(minimal_request())
        assert time.perf_counter() - started < 1.5
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    "value",
    [
        "-1",
        "1e999",
        "nan",
        "inf",
        "",
        "soon",
        "Wed, 21 Oct 2015 07:28:00 GMT",
        "99999999999999999999",
        "Fri, 31 Dec 9999 23:59:59 GMT",
        "\u00e9t\u00e9",
    ],
)
async def test_any_retry_after_form_ends_in_a_rate_limit_error_in_bounded_time(value: str) -> None:
    raw = response("429 Too Many Requests", b"{}", f"Retry-After: {value}")
    policy = dg.RetryPolicy(
        max_attempts=2, initial_backoff=0.01, max_backoff=0.02, max_retry_after=0.2, budget=None
    )
    async with (
        hostile_server(replying(raw.decode("latin-1").encode("utf-8"))) as server,
        client_for(server.port, retry=policy) as client,
    ):
        started = time.perf_counter()
        with pytest.raises(dg.RateLimitError):
            await client.suggest(minimal_request())
        assert time.perf_counter() - started < 1.5
    assert 1 <= len(server.requests) <= 2


# --- generated hostile responses -------------------------------------------------------

_HEADER_VALUES = {
    "Content-Encoding": st.sampled_from(
        ["gzip", "deflate", "br", "zstd", "identity", "x", "gzip, br", ""]
    ),
    "Content-Length": st.one_of(
        st.integers(0, 10**7).map(str), st.sampled_from(["-1", "x", "1, 2"])
    ),
    "Retry-After": st.one_of(st.text("0123456789.-e GMTWed,", max_size=12), st.integers().map(str)),
    "Transfer-Encoding": st.sampled_from(["chunked", "gzip", "x"]),
    "Content-Type": st.sampled_from(["application/json", "text/html", "", "x/y; charset=nope"]),
}
_HEADERS = st.lists(
    st.sampled_from(sorted(_HEADER_VALUES)).flatmap(
        lambda name: _HEADER_VALUES[name].map(lambda value: f"{name}: {value}")
    ),
    max_size=4,
)
_BODIES = st.one_of(
    st.binary(max_size=512),
    st.sampled_from([GOOD, b"", b"{}", b'{"suggestions": "[\'a\'' + b" " * 2000 + b'x"}']),
    st.sampled_from(ENCODINGS).map(bomb),
)
_RESPONSES = st.one_of(
    st.tuples(st.integers(100, 599), _HEADERS, _BODIES).map(
        lambda t: head(f"{t[0]} X", *t[1]) + t[2]
    ),
    st.binary(max_size=256),  # not HTTP at all
)


async def _one(raw: bytes) -> None:
    policy = dg.RetryPolicy(
        max_attempts=2, initial_backoff=0.01, max_backoff=0.01, max_retry_after=0.05, budget=None
    )
    async with (
        hostile_server(replying(raw)) as server,
        client_for(server.port, retry=policy, timeout=0.25, max_response_bytes=CAP) as client,
    ):
        with contextlib.suppress(dg.DumGumError):
            await client.suggest(minimal_request())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=_RESPONSES)
def test_generated_hostile_responses_give_typed_errors_in_bounded_time_and_memory(
    raw: bytes,
) -> None:
    with peak_memory() as peak:
        started = time.perf_counter()
        asyncio.run(_one(raw))  # anything but a DumGumError propagates and fails
        elapsed = time.perf_counter() - started
    assert elapsed < 2.5
    assert peak[0] < MEMORY_BOUND
