"""The client: validation, one call's life, and the session's lifecycle."""

from __future__ import annotations

import asyncio
import datetime as _dt
from collections.abc import AsyncGenerator, AsyncIterable, Awaitable, Callable, Iterable, Mapping
from ssl import SSLContext
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, TypeVar

from dumgum_async import _batch, _converter, _encode
from dumgum_async._aiolimiter import AsyncLimiterLike, StrictAsyncLimiter
from dumgum_async._batch import BatchResult, ProgressCallback
from dumgum_async._breaker import CLOSED, Breaker, Ticket
from dumgum_async._config import (
    DEFAULT_BATCH_CONCURRENCY,
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_TIMEOUT,
    NOT_GIVEN,
    SUGGESTION_PATH,
    AdaptiveRateLimit,
    CircuitBreaker,
    NotGiven,
    RateLimit,
    RetryPolicy,
    Timeout,
    attempt_timeout,
    resolve_api_key,
    resolve_base_url,
    seconds,
)
from dumgum_async._http import (
    USER_AGENT,
    ClientSession,
    Response,
    Transport,
    parse_retry_after,
    proxy_from_env,
    request_id_of,
    safe_headers,
)
from dumgum_async._models import SuggestionRequest, SuggestionResponse
from dumgum_async._options import CallOptions, Capture
from dumgum_async._raw import RawResponse
from dumgum_async._retry import (
    BudgetTracker,
    is_outage,
    is_retryable,
    reason,
    retry_after_failure,
)
from dumgum_async._secret import Secret, SecretHeaders
from dumgum_async._stats import ClientStats, StatsSnapshot
from dumgum_async._throttle import AdaptiveLimiter, Limiter, LocalLimiter
from dumgum_async.exceptions import (
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    CircuitOpenError,
    ClientClosedError,
    ConfigurationError,
    DumGumError,
    PermissionDeniedError,
    Problem,
    RequestValidationError,
    ResponseDecodeError,
    status_error_class,
)

if TYPE_CHECKING:
    from dumgum_async._otel import Telemetry

_In = TypeVar("_In", SuggestionRequest, Mapping[str, Any])

#: Errors after which every further call of a batch would fail the same way.
_FATAL: Final = (AuthenticationError, PermissionDeniedError, ClientClosedError)


#: The former private sentinel; the public one is ``dumgum_async.NOT_GIVEN``.
_Unset = NotGiven
UNSET: Final = NOT_GIVEN


class _LoopState:
    """What belongs to one event loop: the loop itself and the primitives bound to it."""

    __slots__ = ("batch_gate", "guard", "guard_started", "loop", "slots")

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        max_concurrency: int,
        guard: AsyncGenerator[None, None] | None,
    ) -> None:
        self.loop = loop
        self.slots = asyncio.Semaphore(max_concurrency)
        # Batch workers queue for a token one at a time, behind interactive calls.
        self.batch_gate = asyncio.Lock()
        self.guard = guard
        self.guard_started = False


def _slots_for(max_concurrency: int, session: ClientSession | None) -> int:
    # A rate-limit token taken while no connection is free would wait in aiohttp's
    # pool and leave later in a burst: never hold more slots than the caller's
    # session has connections (0 means unlimited in aiohttp).
    connector = session.connector if session is not None else None
    if connector is None:
        return max_concurrency
    return min([max_concurrency, *(n for n in (connector.limit, connector.limit_per_host) if n)])


class DumGumClient:
    """An asyncio client for the DumGum suggestion API.

    Use it as an async context manager, or call :meth:`aclose` when done. It opens
    its aiohttp session inside the running loop on first use; once closed it
    cannot be reopened.

    A client that owns its session may be used from one event loop after another
    (``asyncio.run()`` per task, a module-level client): when its loop ends (through
    ``asyncio.run`` or ``asyncio.Runner``) its session is closed inside that loop, and
    the next loop gets a fresh one; the rate-limit schedule, retry budget, circuit
    breaker and stats carry over. They keep time with ``time.monotonic()``, which is
    what CPython's event loops use too. Two loops running at once may not share one
    client.

    Args:
        api_key: The API key; defaults to ``DUMGUM_API_KEY`` from the environment.
        base_url: Defaults to ``DUMGUM_BASE_URL``, else ``https://api.dumgum.com``.
            Plain http is refused for hosts other than loopback unless
            ``allow_insecure_http`` is set.
        timeout: Seconds (or a ``timedelta``, or a :class:`Timeout` for separate
            connect and read limits) one HTTP attempt may take. Waiting for a
            concurrency slot or a rate-limit token is not part of it.
        retry: How calls retry; None disables retries (see :class:`RetryPolicy`).
        rate_limit: Client-side throttle shared by all calls: a :class:`RateLimit`;
            ``RateLimit.adaptive(...)`` (an :class:`AdaptiveRateLimit`: the client
            finds the server's limit from its 429s); an ``aiolimiter.AsyncLimiter``
            you also use elsewhere (its budget stays shared, and a strict window of
            the same rate behind it keeps any ``time_period`` to ``max_rate``
            requests); or any object with
            ``async acquire()`` and ``pause(seconds)`` (a limiter shared with
            other processes, for instance), and optionally ``observe(status,
            retry_after)``, called once per attempt that got an answer.
        max_concurrency: Requests in flight at once for this client; never more
            than the connection limit of a ``session`` you pass.
        session: An ``aiohttp.ClientSession`` you own; the client uses it and never
            closes it.
        strict_enums: Reject enum values this release does not know, in requests
            given as mappings; False passes them through untouched.
        max_response_bytes: Larger response bodies are an error, never read whole.
        allow_insecure_http: Allow plain http to a non-loopback host, and
            ``ssl=False``.
        circuit_breaker: When the API keeps failing, stop sending for a while (see
            :class:`CircuitBreaker`; on by default); None disables it.
        trust_env: Send requests through the proxy that ``HTTPS_PROXY`` (or
            ``HTTP_PROXY`` for an http URL) names, unless ``NO_PROXY`` covers the
            host; read once, here. Credentials in the proxy URL go to the proxy
            only; ``.netrc`` is never read. Applies to the client's own session: a
            ``session`` you give keeps its own ``trust_env``. False connects directly.
        ssl: An ``ssl.SSLContext`` to verify the server's certificate with (a
            corporate CA, say), True for the system's trust store, or False for no
            verification at all, which needs ``allow_insecure_http=True`` too.
            Applies to a ``session`` you give as well.
        telemetry: Emit OpenTelemetry spans and metrics when ``opentelemetry-api`` is
            installed (the ``otel`` extra); False turns them off (see README,
            "Observability").
        tracer_provider: An OpenTelemetry ``TracerProvider``; None uses the global one.
        meter_provider: An OpenTelemetry ``MeterProvider``; None uses the global one.

    Raises:
        ConfigurationError: No API key, a bad URL, a bad proxy URL in the
            environment, ``ssl=False`` without ``allow_insecure_http``, a setting
            out of range, or a provider with ``telemetry=False`` or without
            opentelemetry installed.
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float | _dt.timedelta | Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = RetryPolicy(),  # noqa: B008 - frozen, shared safely
        rate_limit: RateLimit | AdaptiveRateLimit | Limiter | AsyncLimiterLike | None = None,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        session: ClientSession | None = None,
        strict_enums: bool = True,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        allow_insecure_http: bool = False,
        circuit_breaker: CircuitBreaker | None = CircuitBreaker(),  # noqa: B008 - frozen
        trust_env: bool = True,
        ssl: SSLContext | bool = True,
        telemetry: bool = True,
        tracer_provider: object | None = None,
        meter_provider: object | None = None,
    ) -> None:
        # Wrapped before anything can fail, and the parameter unbound: error trackers
        # record the locals of every frame of a traceback, this one included.
        secret = Secret.wrap(api_key)
        del api_key
        self._api_key = resolve_api_key(secret)
        self._base_url = resolve_base_url(base_url, allow_insecure_http=allow_insecure_http)
        self._url = self._base_url + SUGGESTION_PATH
        self._timeout = attempt_timeout(DEFAULT_TIMEOUT if timeout is None else timeout)
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise ConfigurationError(f"retry must be a RetryPolicy or None, got {retry!r}")
        if rate_limit is not None and not isinstance(
            rate_limit, RateLimit | AdaptiveRateLimit | Limiter | AsyncLimiterLike
        ):
            raise ConfigurationError(
                "rate_limit must be a RateLimit, RateLimit.adaptive(...), an "
                f"aiolimiter.AsyncLimiter, a limiter or None, got {rate_limit!r}"
            )
        if isinstance(max_concurrency, bool) or not isinstance(max_concurrency, int):
            raise ConfigurationError(f"max_concurrency must be an integer, got {max_concurrency!r}")
        if max_concurrency < 1:
            raise ConfigurationError(f"max_concurrency must be >= 1, got {max_concurrency}")
        if max_response_bytes < 1024:
            raise ConfigurationError("max_response_bytes must be at least 1024")
        if circuit_breaker is not None and not isinstance(circuit_breaker, CircuitBreaker):
            raise ConfigurationError(
                f"circuit_breaker must be a CircuitBreaker or None, got {circuit_breaker!r}"
            )
        if not isinstance(trust_env, bool):
            raise ConfigurationError(f"trust_env must be True or False, got {trust_env!r}")
        if not isinstance(ssl, SSLContext | bool):
            raise ConfigurationError(
                f"ssl must be an ssl.SSLContext, True or False, got {type(ssl).__name__}"
            )
        if ssl is False and not allow_insecure_http:
            raise ConfigurationError(
                "ssl=False turns certificate verification off, so anyone on the path can "
                "read the API key; pass allow_insecure_http=True as well if that is meant, "
                "or give ssl an SSLContext that trusts your CA"
            )
        self._retry = retry
        self._rate_limit = rate_limit
        self._max_concurrency = max_concurrency
        self._slot_count = _slots_for(max_concurrency, session)
        self._strict_enums = strict_enums
        self._headers = SecretHeaders(
            Secret("Bearer " + self._api_key.reveal()),
            {
                "Content-Type": "application/json",
                "Accept": "application/json",
                "User-Agent": USER_AGENT,
            },
        )
        self._transport = Transport(
            session=session,
            max_connections=max_concurrency,
            max_response_bytes=max_response_bytes,
            proxy=proxy_from_env(self._url) if trust_env and session is None else None,
            tls=ssl,
        )
        self._budget = (
            BudgetTracker(retry.budget) if retry is not None and retry.budget is not None else None
        )
        # Loop-agnostic state lives on the client; what binds to a loop, in _LoopState.
        self._limiter: Limiter
        if isinstance(rate_limit, Limiter):
            self._limiter = rate_limit
        elif isinstance(rate_limit, AsyncLimiterLike):
            self._limiter = StrictAsyncLimiter(rate_limit)
        elif isinstance(rate_limit, AdaptiveRateLimit):
            self._limiter = AdaptiveLimiter(rate_limit)
        else:
            self._limiter = LocalLimiter(rate_limit)
        # A limiter that adapts to answers is told each one; None costs fixed ones nothing.
        self._observe: Callable[[int, float | None], object] | None = getattr(
            self._limiter, "observe", None
        )
        self._breaker = Breaker(circuit_breaker) if circuit_breaker is not None else None
        self._bound: _LoopState | None = None
        self._inflight: set[asyncio.Task[Any]] = set()
        self._cancelled_by_close: set[asyncio.Task[Any]] = set()
        self._idle: asyncio.Future[None] | None = None
        self._stats = ClientStats(self._breaker, self._limiter)
        # --- telemetry (dumgum_async/_otel.py): None when off or not installed.
        self._telemetry = _telemetry(self._url, telemetry, tracer_provider, meter_provider)
        if self._telemetry is not None and self._breaker is not None:
            self._breaker.on_open = self._telemetry.breaker_opened
        self._closed = False
        # Views share everything above and make their calls through their root.
        self._root = self
        self._opts = CallOptions(
            retry=retry, timeout=self._timeout, headers=self._headers, api_key=self._api_key
        )

    def __repr__(self) -> str:
        # Formatters call it on the frames of an __init__ that raised, where some
        # attributes were never set: it must not raise.
        base_url = getattr(self, "_base_url", None)
        transport: Transport | None = getattr(self, "_transport", None)
        if transport is None:
            state = "not initialised"
        elif getattr(self, "_closed", False):
            state = "closed"
        else:
            state = "open" if transport.is_open else "new"
        return f"<DumGumClient base_url={base_url!r} {state}>"

    @property
    def base_url(self) -> str:
        """The API's base URL in use."""
        return self._base_url

    @property
    def closed(self) -> bool:
        """True once :meth:`aclose` was called."""
        return self._closed

    @property
    def stats(self) -> StatsSnapshot:
        """Counters of this client's calls so far: attempts, retries by reason, 429s,
        failures by type and latency percentiles."""
        return self._stats.snapshot()

    # --- lifecycle ------------------------------------------------------------------

    async def __aenter__(self) -> DumGumClient:
        await self._bind()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def _open(self) -> _LoopState:
        """The state for the running loop; a new session when the loop is a new one.

        Raises:
            ClientClosedError: The client is closed.
            DumGumError: Another event loop is using the client right now, or the
                caller's session belongs to a loop that has ended.
        """
        if self._closed:
            raise ClientClosedError("this DumGumClient is closed; create a new one")
        loop = asyncio.get_running_loop()
        bound = self._bound
        if bound is not None:
            if bound.loop is loop:
                return bound
            old = bound.loop
            if not old.is_closed() and old.is_running():
                raise DumGumError(
                    "this DumGumClient is in use by another running event loop; "
                    "create one client per loop (per thread)"
                )
            if not self._transport.owns_session:
                raise DumGumError(
                    "the aiohttp session given to this DumGumClient belongs to an event loop "
                    "that has ended; give it a session of the running loop, or none"
                )
            # The old loop ended without closing our session (it was closed without
            # asyncio.run's clean-up): it cannot be closed from here, only dropped.
            self._transport.forget()
        self._transport.open()
        guard = self._session_guard(loop) if self._transport.owns_session else None
        self._bound = bound = _LoopState(loop, self._slot_count, guard)
        return bound

    async def _session_guard(self, loop: asyncio.AbstractEventLoop) -> AsyncGenerator[None, None]:
        # An async generator, because asyncio.run() and asyncio.Runner close every
        # one still suspended in their loop before closing the loop: this closes our
        # session in the loop it belongs to, even if aclose() is never called.
        try:
            yield
        finally:
            bound = self._bound
            if bound is not None and bound.loop is loop:
                self._bound = None
                await self._transport.close()

    async def _bind(self) -> _LoopState:
        bound = self._bound
        if bound is not None and bound.loop is asyncio.get_running_loop() and not self._closed:
            return bound
        bound = self._open()
        if bound.guard is not None and not bound.guard_started:
            bound.guard_started = True
            await anext(bound.guard)  # run it up to its yield
        return bound

    async def aclose(self, *, drain: float | _dt.timedelta | None = None) -> None:
        """Close the client and its own session; safe to call more than once.

        New calls are refused from the start (:class:`ClientClosedError`). Calls in
        flight are given ``drain`` seconds to finish; those still running then (all
        of them, without ``drain``) are cancelled and raise
        :class:`ClientClosedError` (a batch stops: see :meth:`suggest_many`).
        A cancellation of the caller's own is never turned into that error.

        Args:
            drain: Seconds (or a ``timedelta``) in-flight calls may take to finish.

        Raises:
            ConfigurationError: ``drain`` is not a positive duration.
        """
        grace = seconds(drain, "drain")
        self._closed = True
        bound = self._bound
        here = bound is not None and bound.loop is asyncio.get_running_loop()
        if here and self._inflight:
            if grace is not None:
                await self._wait_idle(grace)
            if self._inflight:
                for task in self._inflight:
                    self._cancelled_by_close.add(task)
                    task.cancel()
                # They unwind at once: nothing in a call shields itself.
                await self._wait_idle(None)
            self._cancelled_by_close.clear()
        if bound is not None and not here:
            old = bound.loop
            if not old.is_closed() and old.is_running():
                raise DumGumError("close this DumGumClient from the event loop that uses it")
            self._bound = None
            self._transport.forget()
            return
        guard = bound.guard if bound is not None else None
        if bound is not None and guard is not None:
            bound.guard = None  # a second aclose() meanwhile must not re-enter it
            await guard.aclose()  # closes the session
        self._bound = None
        await self._transport.close()

    async def _wait_idle(self, timeout: float | None) -> None:
        # One future for every closer waiting at once (aclose may be called twice);
        # shielded, so that one closer's timeout does not cancel it for the others.
        idle = self._idle
        if idle is None or idle.done():
            idle = self._idle = asyncio.get_running_loop().create_future()
        try:
            async with asyncio.timeout(timeout):
                await asyncio.shield(idle)
        except TimeoutError:
            pass

    # --- calls ----------------------------------------------------------------------

    def prepare(self, request: SuggestionRequest | Mapping[str, Any]) -> bytes:
        """Validate ``request`` and return the exact body that would be sent.

        Raises:
            RequestValidationError: The request breaks the API's rules, or is
                neither a model nor a mapping.
        """
        if isinstance(request, SuggestionRequest):
            return _encode.encode_request(request)
        if isinstance(request, Mapping):
            model = SuggestionRequest.from_dict(request, strict_enums=self._strict_enums)
            return _encode.encode_unshared(model)
        raise RequestValidationError(
            [
                Problem(
                    (),
                    "expected a SuggestionRequest or a mapping in the API's JSON shape, "
                    f"got {type(request).__name__}",
                )
            ]
        )

    async def suggest(
        self,
        request: SuggestionRequest | Mapping[str, Any],
        *,
        retry: RetryPolicy | NotGiven | None = NOT_GIVEN,
        timeout: float | _dt.timedelta | Timeout | NotGiven | None = NOT_GIVEN,
        extra_headers: Mapping[str, str] | NotGiven | None = NOT_GIVEN,
    ) -> SuggestionResponse:
        """Ask for reply suggestions for one conversation.

        Every option defaults to :data:`NOT_GIVEN`: the client's (or view's) setting.

        Args:
            request: A :class:`SuggestionRequest`, or a mapping shaped like the
                API's JSON (validated first, every problem reported at once).
            retry: This call's retry policy; None disables retries.
            timeout: This call's per-attempt timeout: seconds, a ``timedelta`` or a
                :class:`Timeout`. ``None`` still means the client's timeout, with a
                ``DeprecationWarning``; it will be refused in the next release.
            extra_headers: Headers merged over the client's for this call (names
                compared case-insensitively). ``Authorization`` is refused: another
                key goes through ``with_options(api_key=...)``; so are
                ``Content-Type``, ``Content-Length``, ``Host`` and
                ``Transfer-Encoding``, which the client sets itself.

        Returns:
            The suggestions.

        Raises:
            ConfigurationError: A bad option: a header name that is not a token, a
                value with CR, LF or another control character, a reserved header,
                a bad timeout or retry policy; nothing was sent.
            RequestValidationError: The request is invalid; nothing was sent.
            APIStatusError: The API answered with an error status (a subclass per
                status; see :mod:`dumgum_async.exceptions`).
            APITimeoutError: An attempt timed out.
            CircuitOpenError: The circuit breaker is open after repeated failures:
                raised at once, nothing sent (``retry_after`` says when it probes).
            APIConnectionError: The API could not be reached.
            ResponseDecodeError: The API answered 2xx with a body we cannot read.
            ClientClosedError: The client was closed, before or during the call.
            DumGumError: The client is in use by another running event loop.
        """
        opts = self._opts
        if retry is not NOT_GIVEN or timeout is not NOT_GIVEN or extra_headers is not NOT_GIVEN:
            opts = opts.for_call(retry, timeout, extra_headers, stacklevel=2)
        # Inlined rather than a call of _suggest: one coroutine less per call.
        root = self._root
        root._stats.calls += 1
        try:
            body = root.prepare(request)
            telemetry = root._telemetry
            if telemetry is not None:  # --- telemetry: the call's span
                with telemetry.call(request):
                    return await root._call(body, opts, batch=False)
            return await root._call(body, opts, batch=False)
        except DumGumError as exc:
            root._stats.failed[type(exc).__name__] += 1
            raise

    async def _suggest(
        self, request: SuggestionRequest | Mapping[str, Any], opts: CallOptions
    ) -> SuggestionResponse:
        self._stats.calls += 1
        try:
            body = self.prepare(request)
            telemetry = self._telemetry
            if telemetry is not None:  # --- telemetry: the call's span
                with telemetry.call(request):
                    return await self._call(body, opts, batch=False)
            return await self._call(body, opts, batch=False)
        except DumGumError as exc:
            self._stats.failed[type(exc).__name__] += 1
            raise

    @property
    def with_raw_response(self) -> RawResponses:
        """The same calls, answering a :class:`RawResponse` (status, headers,
        request id, attempts, elapsed time and ``parse()``) instead of the model::

            raw = await client.with_raw_response.suggest(request)
            print(raw.request_id, raw.attempts)
            suggestions = raw.parse()
        """
        return RawResponses(self)

    def with_options(
        self,
        *,
        timeout: float | _dt.timedelta | Timeout | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | NotGiven | None = NOT_GIVEN,
        headers: Mapping[str, str] | NotGiven = NOT_GIVEN,
        rate_limit: RateLimit | Limiter | NotGiven | None = NOT_GIVEN,
        api_key: str | NotGiven = NOT_GIVEN,
    ) -> DumGumClient:
        """A light view of this client with other defaults for its calls.

        The view shares this client's session, concurrency slots, rate limiter,
        retry budget, circuit breaker and stats (its calls count in this client's
        :attr:`stats`); making one costs a few small objects, so one per request of
        a web handler is fine. Options not given keep this client's settings.

        The view has no life of its own: it is closed when this client is closed
        (its calls then raise :class:`ClientClosedError`), and its own
        :meth:`aclose` (or leaving ``async with view:``) closes nothing, so that
        code handed a view cannot close the client others share.

        Args:
            timeout: Per-attempt timeout of the view's calls (seconds, a
                ``timedelta`` or a :class:`Timeout`).
            retry: Their retry policy; None disables retries. The retry budget
                stays the client's.
            headers: Headers merged over this client's (as ``extra_headers``;
                ``Authorization`` and the headers the client sets are refused).
            rate_limit: A limit applied on top of this client's, for the view's
                calls only: they wait for a token of both, so this client's limit
                still holds across it and all its views. None: no extra limit.
            api_key: Another API key for the view's calls: the one explicit way to
                send another ``Authorization``.

        Raises:
            ConfigurationError: A bad option, header or key.
        """
        limiter: Limiter | None = None
        if not isinstance(rate_limit, NotGiven) and rate_limit is not None:
            if not isinstance(rate_limit, RateLimit | Limiter):
                raise ConfigurationError(
                    f"rate_limit must be a RateLimit, a limiter or None, got {rate_limit!r}"
                )
            limiter = rate_limit if isinstance(rate_limit, Limiter) else LocalLimiter(rate_limit)
        key: Secret | None = None
        if not isinstance(api_key, NotGiven):
            # As in __init__: wrapped at once, the bare key unbound from this frame.
            key = resolve_api_key(Secret.wrap(api_key))
            del api_key
        if timeout is None:
            raise ConfigurationError(
                "timeout must be seconds, a timedelta or a Timeout; omit it to keep the client's"
            )
        opts = self._opts.for_view(
            retry=retry, timeout=timeout, headers=headers, limiter=limiter, api_key=key
        )
        return _ClientView(self._root, opts)

    async def _call(self, body: bytes, opts: CallOptions, *, batch: bool) -> SuggestionResponse:
        bound = await self._bind()
        task = asyncio.current_task()
        assert task is not None
        inflight = self._inflight
        inflight.add(task)
        try:
            return await self._run(bound, body, opts, batch=batch)
        except asyncio.CancelledError:
            if task in self._cancelled_by_close:
                self._cancelled_by_close.discard(task)
                # Only our own cancel becomes an error; anyone else's is passed on.
                if task.uncancel() == 0:
                    raise ClientClosedError(
                        "the DumGumClient was closed while this call was in flight"
                    ) from None
            raise
        finally:
            inflight.discard(task)
            idle = self._idle
            if not inflight and idle is not None and not idle.done():
                idle.set_result(None)

    async def _run(
        self, bound: _LoopState, body: bytes, opts: CallOptions, *, batch: bool
    ) -> SuggestionResponse:
        loop = bound.loop
        policy = opts.retry
        started = loop.time()
        deadline_at = None
        if policy is not None and policy.deadline is not None:
            deadline_at = started + policy.deadline
        # A batch outlasts an outage (waiting on the breaker) only if it may retry at all.
        patient = batch and policy is not None and policy.max_attempts > 1

        budget = self._budget if policy is not None and policy.budget is not None else None
        if budget is not None:
            budget.record_call()
        try:
            result = await self._attempt(bound, body, opts, deadline_at, batch, patient)
        except APIError as exc:
            if policy is None or policy.max_attempts < 2 or not is_retryable(exc):
                raise
            first: APIError = exc
        else:
            self._stats.record_success(loop.time() - started)
            return result

        async def attempt() -> SuggestionResponse:
            return await self._attempt(bound, body, opts, deadline_at, batch, patient)

        result = await retry_after_failure(
            first,
            attempt,
            policy=policy,
            budget=budget,
            limiter=self._limiter,
            deadline_at=deadline_at,
            on_retry=self._count_retry,
            observer=self._telemetry,  # --- telemetry: retry waits and 429 pauses
        )
        self._stats.record_success(loop.time() - started)
        return result

    def _count_retry(self, exc: BaseException) -> None:
        self._stats.retries[reason(exc)] += 1

    async def _attempt(
        self,
        bound: _LoopState,
        body: bytes,
        opts: CallOptions,
        deadline_at: float | None,
        batch: bool,
        patient: bool,
    ) -> SuggestionResponse:
        breaker = self._breaker
        if breaker is None:
            return await self._exchange(bound, body, opts, deadline_at, batch, None)
        while True:
            ticket = await self._admit(breaker, deadline_at, wait=batch)
            try:
                return await self._exchange(bound, body, opts, deadline_at, batch, ticket)
            except APIError as exc:
                if not (patient and is_outage(exc) and breaker.state != CLOSED):
                    raise
                # The outage is the breaker's to handle: wait for it to let a request
                # through again instead of spending one of this item's attempts.
                self._stats.retries["circuit open"] += 1

    async def _admit(self, breaker: Breaker, deadline_at: float | None, *, wait: bool) -> Ticket:
        while True:
            admitted = breaker.admit()
            if isinstance(admitted, Ticket):
                return admitted
            left = None if deadline_at is None else deadline_at - asyncio.get_running_loop().time()
            if not wait or (left is not None and admitted >= left):
                raise CircuitOpenError(
                    "the circuit breaker is open after repeated failures of the API; "
                    f"next probe in {admitted:.2f} s",
                    retry_after=admitted,
                    retry_at=breaker.retry_at or 0.0,
                    url=self._url,
                    attempts=0,
                )
            await asyncio.sleep(admitted)

    async def _exchange(
        self,
        bound: _LoopState,
        body: bytes,
        opts: CallOptions,
        deadline_at: float | None,
        batch: bool,
        ticket: Ticket | None,
    ) -> SuggestionResponse:
        """One attempt: a slot, a token, the POST and its reading; the breaker is told
        how the API did (not how long we queued: that is no evidence about it)."""
        slots = bound.slots
        telemetry = self._telemetry
        verdict: bool | None = None  # for the breaker: stays None unless the API answered
        # Three instants split the attempt into waiting (slot, token) and the wire.
        queued = bound.loop.time()
        try:
            # A batch's max_requests, counted as the attempt queues,
            # so that once it is spent no queued item waits for a token to fail.
            _batch.spend_attempt()
            if deadline_at is None:
                await slots.acquire()
            else:
                await self._within(deadline_at, slots.acquire(), "waiting for a concurrency slot")
            try:
                slotted = bound.loop.time() if telemetry is not None else 0.0
                post_timeout = opts.timeout
                cut = False
                if opts.limiters:
                    await self._view_tokens(opts.limiters, deadline_at)
                token = self._acquire_for_batch(bound) if batch else self._limiter.acquire()
                if deadline_at is None:
                    await token
                else:
                    await self._within(deadline_at, token, "waiting for a rate-limit token")
                    left = deadline_at - bound.loop.time()
                    if left <= 0:
                        raise self._deadline_error("waiting for a rate-limit token")
                    if left < opts.total:
                        post_timeout = opts.within(left)
                        cut = True
                self._stats.attempts += 1
                capture = opts.capture
                if capture is not None:
                    capture.attempts += 1
                sent = bound.loop.time()
                try:
                    if telemetry is None:
                        response = await self._transport.post(
                            self._url, body, opts.headers, timeout=post_timeout
                        )
                    else:  # --- telemetry: the attempt's CLIENT span, traceparent sent
                        response = await telemetry.post(
                            self._transport,
                            self._url,
                            body,
                            opts.headers,
                            timeout=post_timeout,
                            slot_wait=slotted - queued,
                            token_wait=sent - slotted,
                        )
                except APITimeoutError:
                    if cut:
                        # Cut short by our own deadline: no verdict on the API.
                        raise self._deadline_error("waiting for the response") from None
                    verdict = True
                    raise
                except APIError as exc:
                    verdict = is_outage(exc)
                    raise
            finally:
                slots.release()
            self._stats.record_attempt(sent - queued, bound.loop.time() - sent)
            if self._observe is not None:
                status = response.status
                self._observe(
                    status,
                    parse_retry_after(response.headers.get("Retry-After"))
                    if status == 429
                    else None,
                )
            if capture is not None:
                capture.status = response.status
                capture.headers = response.headers
            try:
                result = self._interpret(response, opts.api_key)
            except APIError as exc:
                verdict = is_outage(exc)
                raise
            verdict = False
            return result
        finally:
            if ticket is not None:
                assert self._breaker is not None
                self._breaker.record(ticket, verdict)

    async def _view_tokens(self, limiters: tuple[Limiter, ...], deadline_at: float | None) -> None:
        # A view's own limits first: the client's token is then spent on a request
        # that leaves at once, not held while the view's limit makes it wait.
        for limiter in limiters:
            if deadline_at is None:
                await limiter.acquire()
            else:
                await self._within(deadline_at, limiter.acquire(), "waiting for a rate-limit token")

    async def _within(self, deadline_at: float, wait: Awaitable[Any], during: str) -> None:
        try:
            async with asyncio.timeout_at(deadline_at):
                await wait
        except TimeoutError:
            raise self._deadline_error(during) from None

    async def _acquire_for_batch(self, bound: _LoopState) -> None:
        # One batch worker at a time waits in the limiter, so an interactive call
        # arriving meanwhile is at most one batch request behind, not a whole batch.
        async with bound.batch_gate:
            await self._limiter.acquire()

    def _deadline_error(self, during: str) -> APITimeoutError:
        return APITimeoutError(f"the call's deadline passed while {during}", url=self._url)

    # --- batches --------------------------------------------------------------------

    def suggest_many(
        self,
        requests: Iterable[_In] | AsyncIterable[_In],
        *,
        concurrency: int = DEFAULT_BATCH_CONCURRENCY,
        ordered: bool = False,
        stop_on_error: bool = False,
        retry: RetryPolicy | NotGiven | None = NOT_GIVEN,
        timeout: float | _dt.timedelta | Timeout | NotGiven | None = NOT_GIVEN,
        extra_headers: Mapping[str, str] | NotGiven | None = NOT_GIVEN,
        progress: ProgressCallback | None = None,
        max_requests: int | None = None,
    ) -> AsyncGenerator[BatchResult[_In], None]:
        """Get suggestions for many conversations; yield each result as it is ready.

        ``requests`` is consumed lazily (any iterable or async iterable, a generator
        over millions of items included): memory holds only the items in flight
        and, with ``ordered``, a reorder window of at most ``2 * concurrency``.
        The client's rate limit, retry policy and retry budget apply; the batch
        queues for rate-limit tokens behind interactive :meth:`suggest` calls, and
        should use a ``concurrency`` below the client's ``max_concurrency`` (the
        default 32 leaves half of the default 64 slots to interactive calls).

        A rejected key (:class:`AuthenticationError`, 401), a forbidden endpoint
        (:class:`PermissionDeniedError`, 403) or a closed client
        (:class:`ClientClosedError`) would fail every further item, so after the
        first of them no new item is started: the items already in flight finish
        and are yielded as usual (the fatal one included, as a failed result), then
        the iterator raises that error. Items never started are never yielded.

        While the client's circuit breaker is open, items wait for the API to come
        back instead of failing, within their retry policy's ``deadline`` if it has
        one (without one they wait as long as the outage lasts); that wait spends
        neither their attempts nor the retry budget. With ``retry=None`` an item
        still waits for the breaker, but a failure is final.

        ``max_requests`` bounds the HTTP attempts of the batch, retries included, so
        a misconfigured job cannot spend without bound: once they are spent no
        further attempt starts, items in flight fail with
        :class:`BudgetExhaustedError` (or finish, if already answered), items not
        started are not yielded, and the iterator raises that error
        (``.max_requests``, ``.attempts``).

        Breaking out of the loop, an exception in its body or cancelling the task
        stops the batch: in-flight calls are cancelled, no task is left behind.
        Cleanup runs when the iterator is closed; wrap it in
        ``contextlib.aclosing(...)`` to have it happen at the ``break`` itself.

        Args:
            requests: :class:`SuggestionRequest` objects or mappings in the API's
                JSON shape.
            concurrency: Items in flight at once.
            ordered: Yield results in input order instead of completion order.
            stop_on_error: Raise the first item's error instead of yielding it.
            retry: The batch's retry policy; omitted uses the client's.
            timeout: Per-attempt timeout (seconds, a ``timedelta`` or a
                :class:`Timeout`); omitted uses the client's (``None`` too, deprecated).
            extra_headers: Headers merged over the client's for every item, as for
                :meth:`suggest`.
            progress: Called after each result with (results so far, result).
            max_requests: The batch's budget of HTTP attempts; None: unbounded.

        Yields:
            :class:`BatchResult` objects: ``index``, ``request``, ``response``,
            ``error``, ``ok``.

        Raises:
            AuthenticationError: The API rejected the key; after the items in flight.
            PermissionDeniedError: The key may not use the endpoint; likewise.
            ClientClosedError: The client was closed during the batch; likewise.
            BudgetExhaustedError: ``max_requests`` attempts were made; after the
                items in flight.
            DumGumError: The first failure, only with ``stop_on_error``.
            ConfigurationError: A bad ``concurrency``, ``retry``, ``timeout``,
                ``max_requests`` or header; raised here, before the batch starts.
        """
        opts = self._opts.for_call(retry, timeout, extra_headers, stacklevel=2)
        budget = None if max_requests is None else _batch.AttemptBudget(max_requests)
        root = self._root

        async def call(item: _In) -> SuggestionResponse:
            root._stats.calls += 1
            try:
                body = root._prepare_item(item)
                telemetry = root._telemetry
                if telemetry is not None:  # --- telemetry: the call's span
                    with telemetry.call(item):
                        return await root._call(body, opts, batch=True)
                return await root._call(body, opts, batch=True)
            except DumGumError as exc:
                root._stats.failed[type(exc).__name__] += 1
                raise

        return _batch.stream(
            call,
            requests,
            concurrency=concurrency,
            ordered=ordered,
            stop_on_error=stop_on_error,
            progress=progress,
            fatal=_FATAL,
            budget=budget,
        )

    async def suggest_all(
        self,
        requests: Iterable[_In] | AsyncIterable[_In],
        *,
        concurrency: int = DEFAULT_BATCH_CONCURRENCY,
        stop_on_error: bool = False,
        retry: RetryPolicy | NotGiven | None = NOT_GIVEN,
        timeout: float | _dt.timedelta | Timeout | NotGiven | None = NOT_GIVEN,
        extra_headers: Mapping[str, str] | NotGiven | None = NOT_GIVEN,
        progress: ProgressCallback | None = None,
    ) -> list[BatchResult[_In]]:
        """Like :meth:`suggest_many`, but return every result in input order.

        The results are all held in memory; prefer :meth:`suggest_many` for large
        inputs.

        Raises:
            AuthenticationError: As for :meth:`suggest_many`; the results are lost.
            PermissionDeniedError: Likewise.
            ClientClosedError: Likewise.
            DumGumError: The first failure, only with ``stop_on_error``.
        """
        if timeout is None:
            # Warned here, where the caller's line is one frame up.
            self._opts.for_call(NOT_GIVEN, None, NOT_GIVEN, stacklevel=2)
            timeout = NOT_GIVEN
        results: list[BatchResult[_In]] = []
        stream = self.suggest_many(
            requests,
            concurrency=concurrency,
            ordered=True,
            stop_on_error=stop_on_error,
            retry=retry,
            timeout=timeout,
            extra_headers=extra_headers,
            progress=progress,
        )
        try:
            async for result in stream:
                results.append(result)
        finally:
            await stream.aclose()
        return results

    def _prepare_item(self, item: object) -> bytes:
        # In a batch a wrong item is that item's failure, not a crash of the batch.
        if not isinstance(item, SuggestionRequest | Mapping):
            raise RequestValidationError(
                [
                    Problem(
                        (),
                        f"expected a SuggestionRequest or a JSON object, got {type(item).__name__}",
                    )
                ]
            )
        return self.prepare(item)

    def _interpret(self, response: Response, api_key: Secret) -> SuggestionResponse:
        # A server or proxy may echo the request's Authorization header in its body:
        # redacted before anything (an error, a frame of its traceback) can hold it.
        response.body = api_key.redact(response.body)
        status = response.status
        if 200 <= status < 300:
            try:
                return _converter.decode_response(response.body)
            except _converter.BodyError as exc:
                response.headers = safe_headers(response.headers, api_key)
                raise ResponseDecodeError(
                    f"could not read the response from POST {self._url}: {exc}",
                    body_excerpt=_excerpt(response.body),
                    status_code=status,
                    url=self._url,
                    request_id=request_id_of(response.headers),
                ) from None
        # Credential headers dropped and an echoed key masked, on the object itself:
        # the frames of the error's traceback hold it.
        response.headers = safe_headers(response.headers, api_key)
        raise self._status_error(response)

    def _status_error(self, response: Response) -> APIStatusError:
        if response.status == 429:
            self._stats.rate_limited += 1
        headers = response.headers  # made safe by _interpret
        text = response.body.decode("utf-8", "replace")
        cls = status_error_class(response.status)
        detail = " ".join(text[:200].split())
        return cls(
            f"HTTP {response.status} from POST {self._url}" + (f": {detail}" if detail else ""),
            status_code=response.status,
            body=text,
            headers=headers,
            retry_after=parse_retry_after(headers.get("Retry-After")),
            url=self._url,
            request_id=request_id_of(headers),
        )


def _telemetry(
    url: str, enabled: bool, tracer_provider: object, meter_provider: object
) -> Telemetry | None:
    """The client's instrumentation, or None: off, or opentelemetry-api not installed
    (then nothing of OpenTelemetry is imported)."""
    given = tracer_provider is not None or meter_provider is not None
    if not enabled:
        if given:
            raise ConfigurationError("tracer_provider/meter_provider given with telemetry=False")
        return None
    try:
        from dumgum_async._otel import Telemetry
    except ModuleNotFoundError as exc:
        if not (exc.name or "").startswith("opentelemetry"):
            raise
        if given:
            raise ConfigurationError(
                "tracer_provider/meter_provider need opentelemetry-api: "
                "pip install 'dumgum-async[otel]'"
            ) from None
        return None
    return Telemetry(url, tracer_provider, meter_provider)


def _excerpt(body: bytes, limit: int = 200) -> str:
    text = body[:limit].decode("utf-8", "replace")
    return text + ("..." if len(body) > limit else "")


class RawResponses:
    """``client.with_raw_response``: the client's calls, answering :class:`RawResponse`."""

    __slots__ = ("_client",)

    def __init__(self, client: DumGumClient) -> None:
        self._client = client

    async def suggest(
        self,
        request: SuggestionRequest | Mapping[str, Any],
        *,
        retry: RetryPolicy | NotGiven | None = NOT_GIVEN,
        timeout: float | _dt.timedelta | Timeout | NotGiven | None = NOT_GIVEN,
        extra_headers: Mapping[str, str] | NotGiven | None = NOT_GIVEN,
    ) -> RawResponse:
        """As :meth:`DumGumClient.suggest`, with the HTTP details of the answer.

        Raises:
            DumGumError: As :meth:`DumGumClient.suggest` (an error status included).
        """
        client = self._client
        capture = Capture()
        opts = client._opts.for_call(retry, timeout, extra_headers, stacklevel=2)
        opts = opts.capturing(capture)
        root = client._root
        loop = asyncio.get_running_loop()
        started = loop.time()
        parsed = await root._suggest(request, opts)
        headers = safe_headers(capture.headers, root._api_key)
        return RawResponse(
            status_code=capture.status,
            headers=headers,
            request_id=request_id_of(headers),
            attempts=capture.attempts,
            elapsed=loop.time() - started,
            parsed=parsed,
        )


class _ClientView(DumGumClient):
    """What :meth:`DumGumClient.with_options` returns: other call options, the same
    client underneath (its lifecycle included)."""

    def __init__(self, root: DumGumClient, opts: CallOptions) -> None:
        # Deliberately not DumGumClient.__init__: a view owns nothing of its own.
        self._root = root
        self._opts = opts
        self._strict_enums = root._strict_enums

    def __repr__(self) -> str:
        return f"<DumGumClient view of {self._root!r}>"

    @property
    def base_url(self) -> str:
        """The API's base URL in use (the client's)."""
        return self._root.base_url

    @property
    def closed(self) -> bool:
        """True once the client this view came from is closed."""
        return self._root.closed

    @property
    def stats(self) -> StatsSnapshot:
        """The stats of the client this view came from (its calls count there)."""
        return self._root.stats

    async def __aenter__(self) -> DumGumClient:
        await self._root._bind()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    async def aclose(self, *, drain: float | _dt.timedelta | None = None) -> None:
        """Close nothing: a view lives as long as the client it came from.

        Close that client instead; its views are closed with it.
        """
        seconds(drain, "drain")  # the same checks as the client's, for the same calls
