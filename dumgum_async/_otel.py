"""OpenTelemetry spans and metrics of the client: the one module that imports opentelemetry.

The client imports this module only when telemetry is on and ``opentelemetry-api`` is
installed (``pip install 'dumgum-async[otel]'``); otherwise it holds None instead of a
:class:`Telemetry` and each hook costs one ``is None`` test. Only the API is used: the
application chooses the SDK, exporters and sampling, or passes providers in.

What is emitted (names documented in README.md, "Observability"):

* a ``dumgum.suggest`` span (INTERNAL) per call, with a ``dumgum.retry`` event per
  retry wait and a ``dumgum.rate_limit.pause`` event when a 429 pauses the client;
* under it, a ``POST`` span (CLIENT) per HTTP attempt, with the stable HTTP client
  semantic conventions; its context goes out in the request's headers (``traceparent``)
  through the global propagator;
* ``http.client.request.duration`` and the client's own counters and wait histogram.

Nothing secret goes into an attribute, an event or a status: the key travels only in
the ``Authorization`` header, exception messages (which quote server bodies) are never
recorded, and ``url.full`` is the configured endpoint (no credentials, no query).

Attribute names are the stable semantic-convention strings, written out rather than
imported from ``opentelemetry-semantic-conventions``: that package would be a second
dependency of the extra for a handful of constants; tests/test_otel.py checks ours
against it.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Mapping
from contextvars import ContextVar, Token
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from opentelemetry import context as otel_context
from opentelemetry import metrics, propagate, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

try:  # the proxy the API hands out until set_meter_provider(); not a public name
    from opentelemetry.metrics._internal import _ProxyMeterProvider

    _QUIET_METERS: tuple[type, ...] = (_ProxyMeterProvider, metrics.NoOpMeterProvider)
except ImportError:  # pragma: no cover - another API release: the proxy counts as real
    _QUIET_METERS = (metrics.NoOpMeterProvider,)

from dumgum_async._retry import reason
from dumgum_async._secret import Secret, SecretHeaders
from dumgum_async._version import __version__
from dumgum_async.exceptions import APIStatusError, APITimeoutError, ConfigurationError

if TYPE_CHECKING:
    from dumgum_async._config import Timeout
    from dumgum_async._http import Response, Transport

SCOPE: Final = "dumgum_async"

# Stable HTTP semantic conventions (semconv 1.26+).
HTTP_REQUEST_METHOD: Final = "http.request.method"
HTTP_RESPONSE_STATUS_CODE: Final = "http.response.status_code"
HTTP_REQUEST_RESEND_COUNT: Final = "http.request.resend_count"
SERVER_ADDRESS: Final = "server.address"
SERVER_PORT: Final = "server.port"
URL_FULL: Final = "url.full"
ERROR_TYPE: Final = "error.type"
HTTP_CLIENT_REQUEST_DURATION: Final = "http.client.request.duration"
#: The semantic conventions' advice for ``http.client.request.duration``, in seconds.
DURATION_BUCKETS: Final = (
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
)  # fmt: skip
#: Rate-limit waits go from nothing to a minute-long 429 pause.
WAIT_BUCKETS: Final = (
    0.0, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
)  # fmt: skip

# Our own names.
CALL_SPAN: Final = "dumgum.suggest"
LANGUAGE: Final = "dumgum.language"
MESSAGES: Final = "dumgum.messages"
ATTEMPTS: Final = "dumgum.attempts"
OUTCOME: Final = "dumgum.outcome"
SLOT_WAIT: Final = "dumgum.wait.slot"
TOKEN_WAIT: Final = "dumgum.wait.rate_limit"
RETRY_EVENT: Final = "dumgum.retry"
RETRY_REASON: Final = "dumgum.retry.reason"
RETRY_DELAY: Final = "dumgum.retry.delay"
RETRY_ATTEMPT: Final = "dumgum.retry.attempt"
PAUSE_EVENT: Final = "dumgum.rate_limit.pause"
PAUSE_SECONDS: Final = "dumgum.pause.seconds"
CALLS: Final = "dumgum.client.calls"
RETRIES: Final = "dumgum.client.retries"
RATE_LIMITED: Final = "dumgum.client.rate_limited"
BREAKER_OPENINGS: Final = "dumgum.client.circuit_breaker.openings"
RATE_LIMIT_WAIT: Final = "dumgum.client.rate_limit.wait"

SUCCESS: Final = "success"
FAILURE: Final = "failure"
CANCELLED: Final = "cancelled"

_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
#: Seconds between two looks at the global providers while none is configured.
RECHECK: Final = 1.0
#: The tracer providers of the API that record nothing: the proxy handed out until
#: ``set_tracer_provider()``, and the explicit no-op.
_QUIET_TRACERS: Final = (trace.ProxyTracerProvider, trace.NoOpTracerProvider)


class _Call:
    """One call's span, made current while the call runs, and what its attempts add up to.

    A plain context manager, entered and left in the caller's task: contextvars carry
    the span into the attempts and retry waits of that call, and nowhere else.
    """

    __slots__ = (
        "attempts",
        "otel_token",
        "slot_wait",
        "span",
        "state_token",
        "telemetry",
        "token_wait",
    )

    def __init__(self, telemetry: Telemetry, span: Span) -> None:
        self.telemetry = telemetry
        self.span = span
        self.attempts = 0
        self.slot_wait = 0.0
        self.token_wait = 0.0
        self.otel_token: Token[otel_context.Context] | None = None
        self.state_token: Token[_Call | None] | None = None

    def __enter__(self) -> _Call:
        self.otel_token = otel_context.attach(trace.set_span_in_context(self.span))
        self.state_token = _CURRENT.set(self)
        return self

    # Only the exception itself tells the outcome: its type and traceback add nothing.
    def __exit__(self, _type: object, exc: BaseException | None, _tb: object) -> None:
        assert self.otel_token is not None
        assert self.state_token is not None
        _CURRENT.reset(self.state_token)
        otel_context.detach(self.otel_token)
        span = self.span
        if exc is None:
            outcome, error = SUCCESS, None
        elif isinstance(exc, BaseException) and not isinstance(exc, Exception):
            outcome, error = CANCELLED, None  # CancelledError, KeyboardInterrupt
        else:
            outcome, error = FAILURE, _qualified(exc)
        if span.is_recording():
            span.set_attribute(ATTEMPTS, self.attempts)
            span.set_attribute(OUTCOME, outcome)
            span.set_attribute(SLOT_WAIT, self.slot_wait)
            span.set_attribute(TOKEN_WAIT, self.token_wait)
            if error is not None:
                span.set_attribute(ERROR_TYPE, error)
                span.set_status(Status(StatusCode.ERROR))
        span.end()
        attributes = {OUTCOME: outcome} if error is None else {OUTCOME: outcome, ERROR_TYPE: error}
        self.telemetry.calls.add(1, attributes)


#: The call running in this task, for the hooks that are not handed it.
_CURRENT: ContextVar[_Call | None] = ContextVar("dumgum_async_call", default=None)


class Telemetry:
    """The client's instrumentation: tracer, meter and instruments, bound to one endpoint.

    It is :attr:`live` when someone may see what it emits; until then the client
    skips it (see :meth:`listening`), so a process with opentelemetry-api installed
    and no SDK configured pays nothing per call.

    Args:
        url: The endpoint every request goes to (no credentials: see ``resolve_base_url``).
        tracer_provider: A ``TracerProvider``; None uses the global one.
        meter_provider: A ``MeterProvider``; None uses the global one.
        clock: Seconds, monotonic: when to look at the global providers again.

    Raises:
        ConfigurationError: A provider of the wrong type.
    """

    def __init__(
        self,
        url: str,
        tracer_provider: object,
        meter_provider: object,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if tracer_provider is not None and not isinstance(tracer_provider, trace.TracerProvider):
            raise ConfigurationError(
                f"tracer_provider must be an opentelemetry TracerProvider, got {tracer_provider!r}"
            )
        if meter_provider is not None and not isinstance(meter_provider, metrics.MeterProvider):
            raise ConfigurationError(
                f"meter_provider must be an opentelemetry MeterProvider, got {meter_provider!r}"
            )
        #: True once a call's spans and metrics may reach someone: a provider given
        #: here, a global one set, or a caller's context to propagate. Never reset.
        self.live = tracer_provider is not None or meter_provider is not None
        self._clock = clock
        self._recheck_at = -math.inf
        self._checked_loop: asyncio.AbstractEventLoop | None = None
        #: How many times the global providers were looked at (for the tests).
        self.lookups = 0
        # Proxies when no provider is set yet: they hand over to the real ones once
        # set, so the tracer, meter and instruments made now keep working then.
        self._tracer = trace.get_tracer(SCOPE, __version__, tracer_provider)
        meter = metrics.get_meter(SCOPE, __version__, meter_provider)
        self.duration = meter.create_histogram(
            HTTP_CLIENT_REQUEST_DURATION,
            unit="s",
            description="Duration of HTTP client requests.",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self.calls = meter.create_counter(
            CALLS, unit="{call}", description="Calls of suggest(), by outcome."
        )
        self.retries = meter.create_counter(
            RETRIES, unit="{retry}", description="Retries decided by the retry policy, by reason."
        )
        self.rate_limited = meter.create_counter(
            RATE_LIMITED, unit="{response}", description="HTTP 429 answers."
        )
        self.openings = meter.create_counter(
            BREAKER_OPENINGS, unit="{opening}", description="Times the circuit breaker opened."
        )
        self.rate_limit_wait = meter.create_histogram(
            RATE_LIMIT_WAIT,
            unit="s",
            description="Time an attempt waited for a rate-limit token (429 pauses included).",
            explicit_bucket_boundaries_advisory=WAIT_BUCKETS,
        )
        parts = urlsplit(url)
        scheme = parts.scheme
        port = parts.port or _DEFAULT_PORTS.get(scheme, 0)
        host = parts.hostname or ""
        # Rebuilt from its parts, so that it could not carry a userinfo even by mistake.
        netloc = f"[{host}]" if ":" in host else host
        if parts.port is not None:
            netloc += f":{parts.port}"
        self._span_attributes: dict[str, Any] = {
            HTTP_REQUEST_METHOD: "POST",
            SERVER_ADDRESS: host,
            SERVER_PORT: port,
            URL_FULL: f"{scheme}://{netloc}{parts.path}",
        }
        self._metric_attributes: dict[str, Any] = {
            HTTP_REQUEST_METHOD: "POST",
            SERVER_ADDRESS: host,
            SERVER_PORT: port,
        }

    # --- whether anyone listens ------------------------------------------------------

    def listening(self) -> bool:
        """Whether a call should be instrumented now; once True, :attr:`live` stays so.

        With no provider given, the call's spans would go to OpenTelemetry's global
        providers: while both are the API's own (the proxies handed out before
        ``set_tracer_provider``/``set_meter_provider``, or the no-ops) they record
        nothing, and a span of theirs has nothing to propagate unless the caller's
        context holds a span or baggage. Looking the providers up costs more than a
        microsecond, so that is done on the first call in each event loop and then at
        most once every :data:`RECHECK` seconds; the context is looked at every call.
        """
        if otel_context.get_current():  # a span or baggage to send on
            self.live = True
            return True
        now = self._clock()
        loop = asyncio.get_running_loop()
        if now < self._recheck_at and loop is self._checked_loop:
            return False
        self._recheck_at = now + RECHECK
        self._checked_loop = loop
        self.lookups += 1
        if not isinstance(trace.get_tracer_provider(), _QUIET_TRACERS) or not isinstance(
            metrics.get_meter_provider(), _QUIET_METERS
        ):
            self.live = True
        return self.live

    # --- the call -------------------------------------------------------------------

    def call(self, request: object) -> _Call:
        """The span of one call of ``request`` (a validated model or mapping), to enter."""
        span = self._tracer.start_span(CALL_SPAN, kind=SpanKind.INTERNAL)
        if span.is_recording():
            language = getattr(request, "language", None)
            messages = getattr(request, "messages", None)
            if isinstance(request, Mapping):
                language = request.get("language")
                messages = request.get("messages")
            if language is not None:
                span.set_attribute(LANGUAGE, str(getattr(language, "value", language)))
            if isinstance(messages, list | tuple):
                span.set_attribute(MESSAGES, len(messages))
        return _Call(self, span)

    # --- one attempt ----------------------------------------------------------------

    async def post(
        self,
        transport: Transport,
        url: str,
        body: bytes,
        headers: SecretHeaders,
        *,
        timeout: float | Timeout,
        secret: Secret | None = None,
        slot_wait: float,
        token_wait: float,
    ) -> Response:
        """``transport.post`` inside a CLIENT span, its context injected into the headers.

        The client's shared headers are not touched: the trace headers go into a copy
        made for this attempt. Errors are re-raised as they came.
        """
        call = _CURRENT.get()
        resends = 0
        if call is not None:
            resends = call.attempts
            call.attempts += 1
            call.slot_wait += slot_wait
            call.token_wait += token_wait
        self.rate_limit_wait.record(token_wait)
        attributes = dict(self._span_attributes)
        if resends:
            attributes[HTTP_REQUEST_RESEND_COUNT] = resends
        span = self._tracer.start_span("POST", kind=SpanKind.CLIENT, attributes=attributes)
        ctx = trace.set_span_in_context(span)
        carrier: dict[str, str] = {}
        propagate.inject(carrier, context=ctx)
        if carrier:
            headers = headers.merged(carrier)
        # Current while the request is sent: an aiohttp-level instrumentation's span,
        # if any, nests under this one instead of beside it.
        token = otel_context.attach(ctx)
        started = time.perf_counter()
        status: int | None = None
        error: str | None = None
        try:
            response = await transport.post(url, body, headers, timeout=timeout, secret=secret)
            status = response.status
            if status >= 400:
                error = str(status)
            if status == 429:
                self.rate_limited.add(1)
            return response
        except APIStatusError as exc:  # a refused redirect
            status = exc.status_code
            error = str(status)
            raise
        except APITimeoutError:
            error = "timeout"
            raise
        except BaseException as exc:
            error = _qualified(exc)
            raise
        finally:
            elapsed = time.perf_counter() - started
            otel_context.detach(token)
            measured = dict(self._metric_attributes)
            if status is not None:
                measured[HTTP_RESPONSE_STATUS_CODE] = status
            if error is not None:
                measured[ERROR_TYPE] = error
            self.duration.record(elapsed, measured)
            if span.is_recording():
                if status is not None:
                    span.set_attribute(HTTP_RESPONSE_STATUS_CODE, status)
                if error is not None:
                    span.set_attribute(ERROR_TYPE, error)
                    span.set_status(Status(StatusCode.ERROR))
            span.end()

    # --- retries, pauses, the breaker (see _retry.RetryObserver) --------------------

    def retrying(self, exc: BaseException, delay: float, attempt: int) -> None:
        """A retry was decided: it waits ``delay`` s after attempt number ``attempt``."""
        label = reason(exc)
        self.retries.add(1, {RETRY_REASON: label})
        call = _CURRENT.get()
        if call is not None and call.span.is_recording():
            call.span.add_event(
                RETRY_EVENT, {RETRY_REASON: label, RETRY_DELAY: delay, RETRY_ATTEMPT: attempt}
            )

    def paused(self, seconds: float) -> None:
        """A 429's ``Retry-After`` paused every caller of the client for ``seconds``."""
        call = _CURRENT.get()
        if call is not None and call.span.is_recording():
            call.span.add_event(PAUSE_EVENT, {PAUSE_SECONDS: seconds})

    def breaker_opened(self) -> None:
        """The circuit breaker opened."""
        self.openings.add(1)


def _qualified(exc: BaseException) -> str:
    """The exception's class by its canonical name: the conventions' ``error.type``."""
    cls = type(exc)
    module = cls.__module__
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"
