"""The emulator's HTTP side: a real aiohttp server on a loopback port.

This is the only module of the package's testing aids that imports :mod:`aiohttp.web`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, Generic, Never, Protocol, Self, TypeVar, overload

from aiohttp import web

from dumgum_async.testing._canned import Action, Reply
from dumgum_async.testing._constants import DEFAULT_API_KEY, ENDPOINT_PATH, loopback_host
from dumgum_async.testing._engine import Emulator
from dumgum_async.testing._faults import Faults, LatencySpec, ScriptedResponse
from dumgum_async.testing._rate_limit import ServerRateLimit
from dumgum_async.testing._records import RecordedRequest, ServerStats

__all__ = ["FakeDumGumServer", "ServerFactory"]

_SHUTDOWN_TIMEOUT = 5.0
_T = TypeVar("_T")
_S = TypeVar("_S")


def _resolve(future: asyncio.Future[bool], value: bool) -> None:
    if not future.done():
        future.set_result(value)


class _Read(Generic[_T]):
    """An attribute of :class:`FakeDumGumServer` that is its emulator's of the same
    name: the server is the emulator's HTTP side, and shows its state as it is."""

    def __init__(self, doc: str) -> None:
        self.__doc__ = doc
        self.name: str = ""  # set by __set_name__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, server: None, owner: type) -> Self: ...

    @overload
    def __get__(self, server: FakeDumGumServer, owner: type | None = None) -> _T: ...

    def __get__(self, server: FakeDumGumServer | None, owner: type | None = None) -> Self | _T:
        if server is None:
            return self
        value: _T = getattr(server._emulator, self.name)
        return value

    def __set__(self, server: FakeDumGumServer, value: Never) -> None:
        # As a property without a setter: not silently an attribute of the server.
        raise AttributeError(f"FakeDumGumServer.{self.name} cannot be assigned")


class _ReadWrite(_Read[_T], Generic[_T, _S]):
    """As :class:`_Read`, and assignable: the emulator's own setter checks the value."""

    def __set__(self, server: FakeDumGumServer, value: _S) -> None:
        setattr(server._emulator, self.name, value)


class FakeDumGumServer:
    """A local DumGum API emulator: a real HTTP server on ``127.0.0.1``.

    It serves ``POST /cs/v1/content_creation/suggestion`` like the vendor: it checks the
    bearer key (401), validates the body against the shipped OpenAPI spec and its prose
    rules (400 listing every problem), and answers ``{"suggestions": [s1, s2, s3]}`` with
    deterministic, conversation-aware replies in the requested language.  On demand it
    rate-limits (429), injects faults, adds latency and plays scripted responses.  It
    records every request it receives.

    Use it as an async context manager or call :meth:`start` and :meth:`close`::

        async with FakeDumGumServer(api_key="test-key", faults=Faults(http_503=0.2), seed=1) as s:
            ...  # point the client at s.url; inspect s.requests afterwards

    Args:
        api_key: The key expected in ``Authorization: Bearer <key>``; None disables auth.
        host: A loopback address to bind (``127.0.0.1``, ``::1`` or ``localhost``).
        port: TCP port; 0 picks a free one (read it from :attr:`url`).
        validate: Validate requests (Content-Type, JSON schema, prose rules).  Turn off for
            benchmarks; non-JSON bodies and non-objects still get a 400.
        faults: Random faults (see :class:`Faults`); default none.
        rate_limit: Server-side rate limit (see :class:`ServerRateLimit`); default none.
        latency: Added response time: seconds, a :class:`Latency`, or a callable taking
            the server's latency ``random.Random`` and returning seconds; default none.
        seed: Seeds the fault and latency generators so runs are reproducible; None
            seeds from the OS.
        string_list: Send ``suggestions`` in the vendor's old form, one string holding a
            Python-style list (also per request with ``X-DumGum-String-List: 1``).
        max_recorded: How many requests :attr:`requests` keeps (oldest dropped first);
            None keeps them all.  Counters in :attr:`stats` are never truncated.

    Raises:
        ValueError: ``host`` is not a loopback address, or an invalid option.
        ImportError: ``validate`` is on and jsonschema or PyYAML is missing (install
            ``dumgum-async[testing]``).
    """

    def __init__(
        self,
        *,
        api_key: str | None = DEFAULT_API_KEY,
        host: str = "127.0.0.1",
        port: int = 0,
        validate: bool = True,
        faults: Faults | None = None,
        rate_limit: ServerRateLimit | None = None,
        latency: LatencySpec = None,
        seed: int | None = None,
        string_list: bool = False,
        max_recorded: int | None = 10_000,
    ) -> None:
        self._host = loopback_host(host)
        if not 0 <= port <= 65535:
            raise ValueError(f"invalid port {port!r}")
        self._requested_port = port
        self._emulator = Emulator(
            api_key=api_key,
            validate=validate,
            faults=faults,
            rate_limit=rate_limit,
            latency=latency,
            seed=seed,
            string_list=string_list,
            max_recorded=max_recorded,
        )
        self._runner: web.ServerRunner | None = None
        self._port: int | None = None
        self._closing = False
        self._waiters: set[asyncio.Future[bool]] = set()

    def __repr__(self) -> str:
        where = self.url if self._port is not None else "not started"
        return f"<FakeDumGumServer {where} api_key={self._emulator.api_key!r}>"

    # ------------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Bind the port and start serving.

        Raises:
            RuntimeError: Already started.
            OSError: The port cannot be bound.
        """
        if self._runner is not None:
            raise RuntimeError("the DumGum emulator is already running")
        server = web.Server(self._handle, handler_cancellation=True, access_log=None)
        runner = web.ServerRunner(server, handle_signals=False, shutdown_timeout=_SHUTDOWN_TIMEOUT)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self._host, self._requested_port)
            await site.start()
            address = runner.addresses[0]
        except BaseException:
            await runner.cleanup()
            raise
        self._closing = False
        self._runner = runner
        self._port = int(address[1])

    async def close(self) -> None:
        """Stop serving: end stalls and delays (their connections are dropped), close
        connections and release the port.  Safe to call more than once."""
        runner = self._runner
        if runner is None:
            return
        self._closing = True
        for waiter in list(self._waiters):
            _resolve(waiter, False)
        self._runner = None
        await runner.cleanup()

    async def __aenter__(self) -> FakeDumGumServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def running(self) -> bool:
        """Whether the server is started and not closed."""
        return self._runner is not None

    # ------------------------------------------------------------------- addresses

    @property
    def port(self) -> int:
        """The bound TCP port.

        Raises:
            RuntimeError: The server has not been started.
        """
        if self._port is None:
            raise RuntimeError("the DumGum emulator is not started")
        return self._port

    @property
    def url(self) -> str:
        """Base URL without a path, e.g. ``http://127.0.0.1:54321``.

        Raises:
            RuntimeError: The server has not been started.
        """
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}"

    @property
    def endpoint_url(self) -> str:
        """Full URL of the suggestion endpoint.

        Raises:
            RuntimeError: The server has not been started.
        """
        return self.url + ENDPOINT_PATH

    # ------------------------------------------------------- configuration/recording

    api_key: _ReadWrite[str | None, str | None] = _ReadWrite(
        "The accepted API key (None: no authentication); assign another to rotate it, "
        "as the vendor revoking a key mid-run would."
    )
    seed: _Read[int | None] = _Read("The seed of the fault and latency generators.")
    validate: _Read[bool] = _Read("Whether request bodies are validated.")
    faults: _ReadWrite[Faults, Faults | None] = _ReadWrite(
        "The random faults in effect; assign new :class:`Faults` (or None) to change them."
    )
    rate_limit: _ReadWrite[ServerRateLimit | None, ServerRateLimit | None] = _ReadWrite(
        "The rate limit in effect; assigning one starts with a full bucket/empty window."
    )
    latency: _ReadWrite[LatencySpec, LatencySpec] = _ReadWrite(
        "The added response time in effect (as given); assign another to change it."
    )
    string_list: _ReadWrite[bool, bool] = _ReadWrite(
        "Whether suggestions are sent as one Python-style list string (assignable)."
    )
    requests: _Read[list[RecordedRequest]] = _Read("The requests received, oldest first (a copy).")
    stats: _Read[ServerStats] = _Read(
        "Counters: total requests, by status, by fault, rate-limited, scripted, in flight."
    )
    scripted_remaining: _Read[int] = _Read("How many scripted responses have not been used yet.")

    def attempts_for(self, body: Any) -> int:
        """Count received requests with this body, e.g. to check how often a call was retried.

        Args:
            body: Raw bytes (or str) compared with the raw bodies, or a JSON value
                (e.g. the request dict) compared with the parsed bodies.
        """
        return self._emulator.attempts_for(body)

    def clear(self) -> None:
        """Forget the recorded requests and reset :attr:`stats` (the scripted queue and the
        rate limiter are kept)."""
        self._emulator.clear()

    def script(self, *responses: ScriptedResponse) -> None:
        """Queue exact responses for the next requests to the endpoint, first in first out.

        They are used after routing and authentication, before the rate limit, faults and
        validation (see :class:`ScriptedResponse`).

        Raises:
            TypeError: Something else than a :class:`ScriptedResponse`.
        """
        self._emulator.script(*responses)

    # --------------------------------------------------------------------- serving

    async def _pause(self, seconds: float) -> bool:
        """Sleep, unless the server closes first; returns False if it did."""
        if self._closing:
            return False
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[bool] = loop.create_future()
        timer = loop.call_later(seconds, _resolve, waiter, True)
        self._waiters.add(waiter)
        try:
            return await waiter
        finally:
            timer.cancel()
            self._waiters.discard(waiter)

    @staticmethod
    def _drop(request: web.BaseRequest) -> web.StreamResponse:
        transport = request.transport
        if transport is not None:
            transport.abort()
        # aiohttp finds the connection gone when sending this and drops it quietly.
        return web.Response(status=204)

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        emulator = self._emulator
        emulator.in_flight += 1
        try:
            too_large = False
            try:
                body = await request.read()
            except web.HTTPRequestEntityTooLarge:
                body, too_large = b"", True
            headers: Mapping[str, str] = request.headers
            reply = emulator.handle(
                request.method, request.path, headers, body, too_large=too_large
            )
            if reply.delay > 0 and not await self._pause(reply.delay):
                return self._drop(request)
            if reply.action is Action.RESET:
                return self._drop(request)
            if reply.action is Action.TRUNCATE:
                return await self._truncated(request, reply)
            if reply.action is Action.CUT:
                return await self._cut(request, reply)
            if reply.action is Action.TRICKLE:
                return await self._trickle(request, reply)
            assert reply.status is not None
            return web.Response(status=reply.status, headers=reply.headers, body=reply.body)
        finally:
            emulator.in_flight -= 1

    @staticmethod
    async def _truncated(request: web.BaseRequest, reply: Reply) -> web.StreamResponse:
        response = web.StreamResponse(status=reply.status or 200, headers=reply.headers)
        response.content_length = len(reply.body)
        await response.prepare(request)
        await response.write(reply.body[: len(reply.body) // 2])
        transport = request.transport
        if transport is not None:
            transport.close()  # flushes what was written, then closes
        return response

    @staticmethod
    async def _cut(request: web.BaseRequest, reply: Reply) -> web.StreamResponse:
        response = web.StreamResponse(status=reply.status or 200, headers=reply.headers)
        response.enable_chunked_encoding()
        await response.prepare(request)
        await response.write(reply.body[: len(reply.body) // 2])
        transport = request.transport
        if transport is not None:
            transport.close()  # flushes the first chunk; the last one never comes
        return response

    async def _trickle(self, request: web.BaseRequest, reply: Reply) -> web.StreamResponse:
        response = web.StreamResponse(status=reply.status or 200, headers=reply.headers)
        response.enable_chunked_encoding()
        await response.prepare(request)
        transport = request.transport
        # Until the client leaves (the handler is cancelled) or the server closes.
        while transport is not None and not transport.is_closing():
            await response.write(b" ")
            if not await self._pause(reply.interval):
                break
        if transport is not None:
            transport.abort()
        return response


class ServerFactory(Protocol):
    """Type of the ``dumgum_server_factory`` fixture: starts a server with options.

    Call it with :class:`FakeDumGumServer` keyword arguments; the server is started and
    closed at the end of the test.
    """

    async def __call__(self, **options: Any) -> FakeDumGumServer:
        """Start a :class:`FakeDumGumServer` with ``options``."""
        ...  # pragma: no cover
