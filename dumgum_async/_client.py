"""The client: its settings, validation, the public calls, and its views.

``DumGumClient`` is assembled from its halves: ``_callpath.CallPath`` (one call's
life, the hot path), ``_lifecycle.Lifecycle`` (per-loop state, ``aclose``) and
``_batches.BatchCalls`` (``suggest_many``/``suggest_all``). A view
(:meth:`DumGumClient.with_options`) is a ``_ClientView``: other call options, the
same client underneath.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
from collections.abc import Callable, Mapping
from ssl import SSLContext
from typing import TYPE_CHECKING, Any, Final, Self

from dumgum_async import _encode
from dumgum_async._aiolimiter import AsyncLimiterLike
from dumgum_async._batches import BatchCalls
from dumgum_async._breaker import Breaker
from dumgum_async._callpath import CallPath
from dumgum_async._config import (
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
from dumgum_async._http import USER_AGENT, ClientSession, Transport
from dumgum_async._http_proxy import proxy_from_env
from dumgum_async._lifecycle import LoopState, slots_for
from dumgum_async._models import SuggestionRequest, SuggestionResponse
from dumgum_async._options import CallOptions
from dumgum_async._raw import RawCall
from dumgum_async._retry import BudgetTracker
from dumgum_async._secret import Secret, SecretHeaders
from dumgum_async._settings import check_settings, limiter_for
from dumgum_async._stats import ClientStats, StatsSnapshot
from dumgum_async._throttle import Limiter, LocalLimiter
from dumgum_async.exceptions import (
    ConfigurationError,
    DumGumError,
    Problem,
    RequestValidationError,
)

if TYPE_CHECKING:
    from dumgum_async._otel import Telemetry

#: The former private sentinel; the public one is ``dumgum_async.NOT_GIVEN``.
_Unset = NotGiven
UNSET: Final = NOT_GIVEN


class DumGumClient(BatchCalls, CallPath):
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
            "Observability"). While no provider is given and the global ones are
            still the API's no-op proxies (no SDK set up), calls are not
            instrumented, unless their context holds a span or baggage to send on;
            the global providers are looked at again on the first call in each event
            loop and at most once a second, and once one is real every call is.
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
        check_settings(
            retry=retry,
            rate_limit=rate_limit,
            max_concurrency=max_concurrency,
            max_response_bytes=max_response_bytes,
            circuit_breaker=circuit_breaker,
            trust_env=trust_env,
            ssl=ssl,
            allow_insecure_http=allow_insecure_http,
            strict_enums=strict_enums,
            telemetry=telemetry,
        )
        if session is not None and not isinstance(session, ClientSession):
            raise ConfigurationError(
                f"session must be an aiohttp.ClientSession or None, got {type(session).__name__}"
            )
        self._retry = retry
        self._rate_limit = rate_limit
        self._max_concurrency = max_concurrency
        self._slot_count = slots_for(max_concurrency, session)
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
            headers=self._headers,
        )
        self._budget: BudgetTracker | None = (
            BudgetTracker(retry.budget) if retry is not None and retry.budget is not None else None
        )
        # Loop-agnostic state lives on the client; what binds to a loop, in LoopState.
        self._limiter = limiter_for(rate_limit)
        # A limiter that adapts to answers is told each one; None costs fixed ones nothing.
        self._observe: Callable[[int, float | None], object] | None = getattr(
            self._limiter, "observe", None
        )
        self._breaker = Breaker(circuit_breaker) if circuit_breaker is not None else None
        self._bound: LoopState | None = None
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
        self._batch = False  # a batch's items are the calls of a view with True
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

    # Read through the root, so that a view answers for the client it came from.

    @property
    def base_url(self) -> str:
        """The API's base URL in use."""
        return self._root._base_url

    @property
    def closed(self) -> bool:
        """True once :meth:`aclose` was called (on a view: on its client)."""
        return self._root._closed

    @property
    def stats(self) -> StatsSnapshot:
        """Counters of this client's calls so far: attempts, retries by reason, 429s,
        failures by type and latency percentiles (a view's calls count in its
        client's)."""
        return self._root._stats.snapshot()

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
        root = self._root
        root._stats.calls += 1
        try:
            body = root.prepare(request)
            telemetry = root._telemetry
            # --- telemetry: the call's span, when anyone may see it (Telemetry.listening)
            if telemetry is not None and (telemetry.live or telemetry.listening()):
                with telemetry.call(request):
                    return await root._call(body, opts, batch=self._batch)
            return await root._call(body, opts, batch=self._batch)
        except DumGumError as exc:
            root._stats.failed[type(exc).__name__] += 1
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

    def _view(self, opts: CallOptions, *, batch: bool) -> DumGumClient:
        # A call with other options, through suggest's own path (raw responses, batches).
        return _ClientView(self._root, opts, batch=batch)


class RawResponses:
    """``client.with_raw_response``: the client's calls, answering :class:`RawResponse`."""

    __slots__ = ("_client",)

    def __init__(self, client: DumGumClient) -> None:
        self._client = client

    # Final: a declared type (the descriptor's, from suggest) that every checker reads alike.
    suggest: Final = RawCall(DumGumClient.suggest)


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


class _ClientView(DumGumClient):
    """What :meth:`DumGumClient.with_options` returns: other call options, the same
    client underneath (its lifecycle included)."""

    def __init__(self, root: DumGumClient, opts: CallOptions, *, batch: bool = False) -> None:
        # Deliberately not DumGumClient.__init__: a view owns nothing of its own.
        self._root = root
        self._opts = opts
        self._strict_enums = root._strict_enums
        self._batch = batch

    def __repr__(self) -> str:
        return f"<DumGumClient view of {self._root!r}>"

    async def __aenter__(self) -> Self:
        await self._root._bind()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None

    async def aclose(self, *, drain: float | _dt.timedelta | None = None) -> None:
        """Close nothing: a view lives as long as the client it came from.

        Close that client instead; its views are closed with it.
        """
        seconds(drain, "drain")  # the same checks as the client's, for the same calls
