"""OpenTelemetry spans and metrics, checked with the real SDK against the emulator.

Spans go to the SDK's ``InMemorySpanExporter`` through a ``SimpleSpanProcessor``,
metrics to an ``InMemoryMetricReader``; providers are passed to the client, so no
test touches the process-wide ones (those are exercised in a subprocess). What the
server saw (``traceparent``, ``Authorization``) is read from the emulator's records.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import baggage, trace
from opentelemetry import context as otel_context
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    HistogramDataPoint,
    InMemoryMetricReader,
    Metric,
    NumberDataPoint,
)
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import dumgum_async as dg
from dumgum_async import _otel
from dumgum_async.testing import FakeDumGumServer, ScriptedResponse, sample_requests

KEY = "sk-otel-Zq9VbX4kT7wPq2LmN8rS"  # distinctive, to be searched for everywhere
FAST = dg.RetryPolicy(max_attempts=3, initial_backoff=0.01, max_backoff=0.02, budget=None)
ERROR_503 = ScriptedResponse(status=503, headers={"Retry-After": "0"}, json={"error": "busy"})


class Otel:
    """An SDK tracer and meter provider, recording in memory."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])

    def client(self, fake: FakeDumGumServer, **options: Any) -> dg.DumGumClient:
        options.setdefault("retry", FAST)
        return dg.DumGumClient(
            api_key=KEY,
            base_url=fake.url,
            tracer_provider=self.tracer_provider,
            meter_provider=self.meter_provider,
            **options,
        )

    def spans(self, name: str | None = None) -> list[ReadableSpan]:
        return [s for s in self.exporter.get_finished_spans() if name is None or s.name == name]

    def metrics(self) -> dict[str, Metric]:
        data = self.reader.get_metrics_data()
        assert data is not None
        return {
            m.name: m for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics
        }

    def close(self) -> None:
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()


@pytest.fixture
def otel() -> Iterator[Otel]:
    recorder = Otel()
    yield recorder
    recorder.close()


def _points(metric: Metric) -> list[Any]:
    return list(metric.data.data_points)


def _one_request() -> dg.SuggestionRequest:
    return dg.SuggestionRequest.from_dict(next(sample_requests(1)))


def _the_call(otel: Otel) -> ReadableSpan:
    (call,) = otel.spans(_otel.CALL_SPAN)
    return call


def _attempts(otel: Otel) -> list[ReadableSpan]:
    return sorted(otel.spans("POST"), key=lambda s: s.start_time or 0)


# --- spans --------------------------------------------------------------------------


async def test_a_call_is_an_internal_span_with_a_client_span_per_attempt(otel: Otel) -> None:
    request = _one_request()
    async with FakeDumGumServer(api_key=KEY) as fake, otel.client(fake) as client:
        await client.suggest(request)
    call = _the_call(otel)
    (attempt,) = _attempts(otel)
    assert call.kind is SpanKind.INTERNAL
    assert attempt.kind is SpanKind.CLIENT
    assert attempt.parent is not None
    assert call.context is not None
    assert attempt.parent.span_id == call.context.span_id
    assert attempt.context is not None
    assert attempt.context.trace_id == call.context.trace_id
    assert call.attributes is not None
    assert call.attributes[_otel.LANGUAGE] == request.language.value
    assert call.attributes[_otel.MESSAGES] == len(request.messages)
    assert call.attributes[_otel.ATTEMPTS] == 1
    assert call.attributes[_otel.OUTCOME] == "success"
    assert 0 <= call.attributes[_otel.SLOT_WAIT] < 1  # type: ignore[operator]
    assert 0 <= call.attributes[_otel.TOKEN_WAIT] < 1  # type: ignore[operator]
    assert "error.type" not in call.attributes
    assert call.status.status_code is StatusCode.UNSET


async def test_the_attempt_span_has_the_http_client_conventions(otel: Otel) -> None:
    async with FakeDumGumServer(api_key=KEY) as fake, otel.client(fake) as client:
        await client.suggest(_one_request())
        endpoint, port = fake.endpoint_url, fake.port
    (attempt,) = _attempts(otel)
    assert dict(attempt.attributes or {}) == {
        "http.request.method": "POST",
        "server.address": "127.0.0.1",
        "server.port": port,
        "url.full": endpoint,
        "http.response.status_code": 200,
    }
    assert attempt.status.status_code is StatusCode.UNSET


async def test_a_mapping_request_gives_the_same_call_attributes(otel: Otel) -> None:
    request = next(sample_requests(1))
    async with FakeDumGumServer(api_key=KEY) as fake, otel.client(fake) as client:
        await client.suggest(request)
    attributes = _the_call(otel).attributes or {}
    assert attributes[_otel.LANGUAGE] == request["language"]
    assert attributes[_otel.MESSAGES] == len(request["messages"])


async def test_a_retry_is_a_second_client_span_with_resend_count_and_an_event(
    otel: Otel,
) -> None:
    async with FakeDumGumServer(api_key=KEY) as fake, otel.client(fake) as client:
        fake.script(ERROR_503)
        await client.suggest(_one_request())
    first, second = _attempts(otel)
    assert (first.attributes or {})["http.response.status_code"] == 503
    assert (first.attributes or {})["error.type"] == "503"
    assert first.status.status_code is StatusCode.ERROR
    assert "http.request.resend_count" not in (first.attributes or {})
    assert (second.attributes or {})["http.request.resend_count"] == 1
    assert "error.type" not in (second.attributes or {})
    call = _the_call(otel)
    assert (call.attributes or {})[_otel.ATTEMPTS] == 2
    (event,) = [e for e in call.events if e.name == _otel.RETRY_EVENT]
    assert dict(event.attributes or {}) == {
        _otel.RETRY_REASON: "HTTP 503",
        _otel.RETRY_DELAY: 0.0,  # the server's Retry-After: 0
        _otel.RETRY_ATTEMPT: 1,
    }
    assert event.timestamp is not None
    assert second.start_time is not None
    assert event.timestamp <= second.start_time


async def test_a_backoff_wait_is_an_event_with_its_delay(otel: Otel) -> None:
    async with FakeDumGumServer(api_key=KEY) as fake, otel.client(fake) as client:
        fake.script(ScriptedResponse(status=500, json={}), ScriptedResponse(status=502, json={}))
        await client.suggest(_one_request())
    events = [e for e in _the_call(otel).events if e.name == _otel.RETRY_EVENT]
    assert [(e.attributes or {})[_otel.RETRY_REASON] for e in events] == ["HTTP 500", "HTTP 502"]
    assert [(e.attributes or {})[_otel.RETRY_ATTEMPT] for e in events] == [1, 2]
    for event in events:
        assert 0 < (event.attributes or {})[_otel.RETRY_DELAY] <= 0.02  # type: ignore[operator]
    resends = [(s.attributes or {}).get("http.request.resend_count") for s in _attempts(otel)]
    assert resends == [None, 1, 2]


async def test_a_429_pause_of_the_client_is_an_event(otel: Otel) -> None:
    async with FakeDumGumServer(api_key=KEY) as fake, otel.client(fake) as client:
        fake.script(ScriptedResponse(status=429, headers={"Retry-After": "0.05"}, json={}))
        await client.suggest(_one_request())
    call = _the_call(otel)
    (pause,) = [e for e in call.events if e.name == _otel.PAUSE_EVENT]
    assert dict(pause.attributes or {}) == {_otel.PAUSE_SECONDS: 0.05}
    (retry,) = [e for e in call.events if e.name == _otel.RETRY_EVENT]
    assert (retry.attributes or {})[_otel.RETRY_REASON] == "HTTP 429"


async def test_a_failed_call_records_its_error_type_and_outcome(otel: Otel) -> None:
    async with FakeDumGumServer(api_key=KEY) as fake, otel.client(fake) as client:
        fake.script(ERROR_503, ERROR_503, ERROR_503)
        with pytest.raises(dg.InternalServerError):
            await client.suggest(_one_request())
    call = _the_call(otel)
    attributes = call.attributes or {}
    assert attributes[_otel.OUTCOME] == "failure"
    assert attributes["error.type"] == "dumgum_async.exceptions.InternalServerError"
    assert attributes[_otel.ATTEMPTS] == 3
    assert call.status.status_code is StatusCode.ERROR
    assert len(_attempts(otel)) == 3


async def test_a_timed_out_attempt_has_error_type_timeout(otel: Otel) -> None:
    async with FakeDumGumServer(api_key=KEY) as fake, otel.client(fake, timeout=0.2) as client:
        fake.script(ScriptedResponse(status=200, json={"suggestions": []}, delay=2.0))
        with pytest.raises(dg.APITimeoutError):
            await client.suggest(_one_request(), retry=None)
    (attempt,) = _attempts(otel)
    assert (attempt.attributes or {})["error.type"] == "timeout"
    assert "http.response.status_code" not in (attempt.attributes or {})
    assert attempt.status.status_code is StatusCode.ERROR


async def test_a_connection_failure_has_the_exception_class_as_error_type(otel: Otel) -> None:
    async with FakeDumGumServer(api_key=KEY) as fake:
        url = fake.url
    # The server is gone: the port refuses connections.
    client = dg.DumGumClient(
        api_key=KEY,
        base_url=url,
        retry=None,
        tracer_provider=otel.tracer_provider,
        meter_provider=otel.meter_provider,
    )
    async with client:
        with pytest.raises(dg.APIConnectionError):
            await client.suggest(_one_request())
    (attempt,) = _attempts(otel)
    assert (attempt.attributes or {})["error.type"] == "dumgum_async.exceptions.APIConnectionError"


async def test_a_cancelled_call_ends_its_spans_as_cancelled(otel: Otel) -> None:
    async with FakeDumGumServer(api_key=KEY) as fake, otel.client(fake) as client:
        fake.script(ScriptedResponse(status=200, json={"suggestions": []}, delay=5.0))
        task = asyncio.create_task(client.suggest(_one_request()))
        while not fake.requests:  # noqa: ASYNC110 - the server offers no event to wait on
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    call = _the_call(otel)
    assert (call.attributes or {})[_otel.OUTCOME] == "cancelled"
    assert call.status.status_code is StatusCode.UNSET
    (attempt,) = _attempts(otel)
    assert attempt.end_time is not None


async def test_the_call_span_is_a_child_of_the_caller_s_span(otel: Otel) -> None:
    tracer = otel.tracer_provider.get_tracer("app")
    async with FakeDumGumServer(api_key=KEY) as fake, otel.client(fake) as client:
        with tracer.start_as_current_span("handler") as handler:
            await client.suggest(_one_request())
    call = _the_call(otel)
    assert call.parent is not None
    assert call.parent.span_id == handler.get_span_context().span_id


async def test_each_batch_item_gets_its_own_call_span(otel: Otel) -> None:
    async with FakeDumGumServer(api_key=KEY) as fake, otel.client(fake) as client:
        results = await client.suggest_all(list(sample_requests(5)), concurrency=3)
    assert all(r.ok for r in results)
    calls = otel.spans(_otel.CALL_SPAN)
    assert len(calls) == 5
    call_ids = {c.context.span_id for c in calls if c.context is not None}
    assert {a.parent.span_id for a in _attempts(otel) if a.parent is not None} == call_ids


# --- propagation ----------------------------------------------------------------------


async def test_the_server_sees_each_attempt_s_traceparent(otel: Otel) -> None:
    async with FakeDumGumServer(api_key=KEY) as fake, otel.client(fake) as client:
        fake.script(ERROR_503)
        await client.suggest(_one_request())
        seen = [r.header("traceparent") for r in fake.requests]
    expected = [
        f"00-{a.context.trace_id:032x}-{a.context.span_id:016x}-{a.context.trace_flags:02x}"
        for a in _attempts(otel)
        if a.context is not None
    ]
    assert len(expected) == 2
    assert seen == expected


async def test_trace_headers_leave_the_client_s_shared_headers_alone(otel: Otel) -> None:
    async with FakeDumGumServer(api_key=KEY) as fake, otel.client(fake) as client:
        await client.suggest(_one_request())
        await client.suggest(_one_request())
        authorizations = [r.header("Authorization") for r in fake.requests]
        shared = dict(client._headers.items())
    assert authorizations == [f"Bearer {KEY}"] * 2
    assert "traceparent" not in {name.lower() for name in shared}


async def test_without_a_recording_span_no_traceparent_is_sent() -> None:
    # The API's default providers record nothing: no context, so nothing to send.
    async with (
        FakeDumGumServer(api_key=KEY) as fake,
        dg.DumGumClient(
            api_key=KEY,
            base_url=fake.url,
            tracer_provider=trace.NoOpTracerProvider(),
        ) as client,
    ):
        await client.suggest(_one_request())
        assert fake.requests[0].header("traceparent") is None


# --- metrics --------------------------------------------------------------------------


async def test_http_client_request_duration_is_recorded_per_attempt(otel: Otel) -> None:
    async with FakeDumGumServer(api_key=KEY) as fake, otel.client(fake) as client:
        fake.script(ERROR_503)
        await client.suggest(_one_request())
        port = fake.port
    metric = otel.metrics()["http.client.request.duration"]
    assert metric.unit == "s"
    points: list[HistogramDataPoint] = _points(metric)
    base = {"http.request.method": "POST", "server.address": "127.0.0.1", "server.port": port}
    by_status = {p.attributes["http.response.status_code"]: p for p in points if p.attributes}
    assert dict(by_status[503].attributes or {}) == {
        **base,
        "http.response.status_code": 503,
        "error.type": "503",
    }
    assert dict(by_status[200].attributes or {}) == {**base, "http.response.status_code": 200}
    assert [by_status[s].count for s in (200, 503)] == [1, 1]
    assert tuple(by_status[200].explicit_bounds) == _otel.DURATION_BUCKETS
    assert 0 < by_status[200].sum < 5


async def test_calls_retries_and_429s_are_counted(otel: Otel) -> None:
    async with FakeDumGumServer(api_key=KEY) as fake, otel.client(fake) as client:
        fake.script(ScriptedResponse(status=429, headers={"Retry-After": "0"}, json={}), ERROR_503)
        await client.suggest(_one_request())
        fake.script(ERROR_503, ERROR_503, ERROR_503)
        with pytest.raises(dg.InternalServerError):
            await client.suggest(_one_request())
    metrics = otel.metrics()
    calls: list[NumberDataPoint] = _points(metrics[_otel.CALLS])
    assert metrics[_otel.CALLS].unit == "{call}"
    assert {tuple(sorted((p.attributes or {}).items())): p.value for p in calls} == {
        ((_otel.OUTCOME, "success"),): 1,
        (
            (_otel.OUTCOME, "failure"),
            ("error.type", "dumgum_async.exceptions.InternalServerError"),
        ): 1,
    }
    retries: list[NumberDataPoint] = _points(metrics[_otel.RETRIES])
    assert {(p.attributes or {})[_otel.RETRY_REASON]: p.value for p in retries} == {
        "HTTP 429": 1,
        "HTTP 503": 3,
    }
    (limited,) = _points(metrics[_otel.RATE_LIMITED])
    assert limited.value == 1


async def test_breaker_openings_are_counted(otel: Otel) -> None:
    breaker = dg.CircuitBreaker(window=2, failure_ratio=1.0, cooldown=30.0)
    async with (
        FakeDumGumServer(api_key=KEY) as fake,
        otel.client(fake, circuit_breaker=breaker, retry=None) as client,
    ):
        fake.script(ERROR_503, ERROR_503)
        for _ in range(2):
            with pytest.raises(dg.InternalServerError):
                await client.suggest(_one_request())
        with pytest.raises(dg.CircuitOpenError):
            await client.suggest(_one_request())
    (openings,) = _points(otel.metrics()[_otel.BREAKER_OPENINGS])
    assert openings.value == 1
    # The refused call sent nothing: a call span with no attempt under it.
    assert len(otel.spans(_otel.CALL_SPAN)) == 3
    assert len(_attempts(otel)) == 2


async def test_rate_limit_waits_are_a_histogram(otel: Otel) -> None:
    async with (
        FakeDumGumServer(api_key=KEY) as fake,
        otel.client(fake, rate_limit=dg.RateLimit.per_second(5)) as client,
    ):
        for _ in range(3):
            await client.suggest(_one_request())
    metric = otel.metrics()[_otel.RATE_LIMIT_WAIT]
    assert metric.unit == "s"
    (point,) = _points(metric)
    assert point.count == 3
    # The 2nd and 3rd calls wait for their slot on a grid of ~0.2 s.
    assert 0.25 < point.sum < 1.5
    waits = [(c.attributes or {})[_otel.TOKEN_WAIT] for c in otel.spans(_otel.CALL_SPAN)]
    assert sum(waits) == pytest.approx(point.sum, abs=0.01)  # type: ignore[arg-type]


# --- secrets ------------------------------------------------------------------------


def _every_value(otel: Otel) -> list[str]:
    """Every name and value exported: span names, attributes, events, statuses, links,
    resources, metric names and every data point's attributes."""
    out: list[str] = []
    for span in otel.spans():
        out += [span.name, str(span.status.description)]
        out += [f"{k}={v!s}" for k, v in (span.attributes or {}).items()]
        out += [f"{k}={v!s}" for k, v in span.resource.attributes.items()]
        for event in span.events:
            out.append(event.name)
            out += [f"{k}={v!s}" for k, v in (event.attributes or {}).items()]
    for metric in otel.metrics().values():
        out.append(metric.name)
        for point in _points(metric):
            out += [f"{k}={v}" for k, v in (point.attributes or {}).items()]
    return out


async def test_no_exported_value_holds_the_key(otel: Otel) -> None:
    echo = ScriptedResponse(status=500, body=f"you sent Bearer {KEY}".encode())
    async with FakeDumGumServer(api_key=KEY) as fake:
        async with otel.client(fake, timeout=0.2) as client:
            fake.script(
                ScriptedResponse(status=429, headers={"Retry-After": "0"}, json={}),
                echo,
                ScriptedResponse(status=200, json={"suggestions": []}, delay=1.0),
            )
            with pytest.raises(dg.APIError):
                await client.suggest(_one_request())
            await client.suggest(_one_request())
        # A rejected key is reported too, and its text goes nowhere either.
        async with dg.DumGumClient(
            api_key=KEY + "-wrong",
            base_url=fake.url,
            tracer_provider=otel.tracer_provider,
            meter_provider=otel.meter_provider,
        ) as client:
            with pytest.raises(dg.AuthenticationError):
                await client.suggest(_one_request())
    exported = _every_value(otel)
    assert len(otel.spans("POST")) == 5  # 429, 500 echoing the key, timeout, 200, 401
    assert any("error.type=401" in v for v in exported)
    assert any("error.type=timeout" in v for v in exported)
    for value in exported:
        assert KEY not in value
        assert KEY[10:] not in value
        assert "Bearer" not in value


# --- nobody listening ----------------------------------------------------------------
# This process's global providers stay the API's proxies (no test here sets them; the
# subprocess tests below do), which record nothing.


def _refuse(*args: object, **kwargs: object) -> Any:
    raise AssertionError("the call was instrumented")


async def test_with_the_api_s_own_providers_a_call_opens_no_span(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_otel.Telemetry, "call", _refuse)
    monkeypatch.setattr(_otel.Telemetry, "post", _refuse)
    async with (
        FakeDumGumServer(api_key=KEY) as fake,
        dg.DumGumClient(api_key=KEY, base_url=fake.url) as client,
    ):
        await client.suggest(_one_request())
        await client.suggest(_one_request())
        assert [r.header("traceparent") for r in fake.requests] == [None, None]
    assert client._telemetry is not None
    assert not client._telemetry.live


async def test_a_caller_s_baggage_is_sent_even_with_the_api_s_own_providers() -> None:
    # Propagation works without an SDK: a context to pass on instruments the call.
    token = otel_context.attach(baggage.set_baggage("tenant", "t-42"))
    try:
        async with (
            FakeDumGumServer(api_key=KEY) as fake,
            dg.DumGumClient(api_key=KEY, base_url=fake.url) as client,
        ):
            await client.suggest(_one_request())
    finally:
        otel_context.detach(token)
    assert fake.requests[0].header("baggage") == "tenant=t-42"
    assert client._telemetry is not None
    assert client._telemetry.live


async def test_the_global_providers_are_looked_up_at_most_once_a_second() -> None:
    now = [100.0]
    telemetry = _otel.Telemetry("http://127.0.0.1:1/x", None, None, clock=lambda: now[0])
    for _ in range(5):
        assert not telemetry.listening()
    assert telemetry.lookups == 1
    now[0] += _otel.RECHECK
    assert not telemetry.listening()
    assert telemetry.lookups == 2


def test_the_global_providers_are_looked_up_again_in_a_new_loop() -> None:
    telemetry = _otel.Telemetry("http://127.0.0.1:1/x", None, None, clock=lambda: 100.0)

    async def listen() -> bool:
        return telemetry.listening()

    assert not asyncio.run(listen())
    assert not asyncio.run(listen())
    assert telemetry.lookups == 2


def test_a_provider_given_is_always_used() -> None:
    # Even the explicit no-op: the caller chose it, so it is not second-guessed.
    client = dg.DumGumClient(api_key=KEY, tracer_provider=trace.NoOpTracerProvider())
    assert client._telemetry is not None
    assert client._telemetry.live


# --- configuration and absence ------------------------------------------------------


def test_providers_with_telemetry_off_are_refused() -> None:
    with pytest.raises(dg.ConfigurationError, match="telemetry=False"):
        dg.DumGumClient(api_key=KEY, telemetry=False, tracer_provider=TracerProvider())


def test_a_provider_of_the_wrong_type_is_refused() -> None:
    with pytest.raises(dg.ConfigurationError, match="meter_provider"):
        dg.DumGumClient(api_key=KEY, meter_provider=object())


def test_our_attribute_names_are_the_semantic_conventions() -> None:
    from opentelemetry.semconv.attributes import (
        error_attributes,
        http_attributes,
        server_attributes,
        url_attributes,
    )
    from opentelemetry.semconv.metrics import http_metrics

    assert _otel.HTTP_REQUEST_METHOD == http_attributes.HTTP_REQUEST_METHOD
    assert _otel.HTTP_RESPONSE_STATUS_CODE == http_attributes.HTTP_RESPONSE_STATUS_CODE
    assert _otel.HTTP_REQUEST_RESEND_COUNT == http_attributes.HTTP_REQUEST_RESEND_COUNT
    assert _otel.SERVER_ADDRESS == server_attributes.SERVER_ADDRESS
    assert _otel.SERVER_PORT == server_attributes.SERVER_PORT
    assert _otel.URL_FULL == url_attributes.URL_FULL
    assert _otel.ERROR_TYPE == error_attributes.ERROR_TYPE
    assert _otel.HTTP_CLIENT_REQUEST_DURATION == http_metrics.HTTP_CLIENT_REQUEST_DURATION


def _run(*parts: str) -> str:
    code = "\n".join(textwrap.dedent(part) for part in parts)
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


_CALL_ONCE = """
    import asyncio
    import dumgum_async as dg
    from dumgum_async.testing import FakeDumGumServer, sample_requests

    async def call(**options):
        async with FakeDumGumServer(api_key="k") as fake:
            async with dg.DumGumClient(api_key="k", base_url=fake.url, **options) as client:
                await client.suggest(next(sample_requests(1)))
            return fake.requests[0].header("traceparent")
"""


def test_without_opentelemetry_nothing_of_it_is_imported() -> None:
    out = _run(
        """
        import sys

        class NoOtel:
            def find_spec(self, name, path=None, target=None):
                if name == "opentelemetry" or name.startswith("opentelemetry."):
                    raise ModuleNotFoundError(f"No module named {name!r}", name=name)
                return None

        sys.meta_path.insert(0, NoOtel())
        """,
        _CALL_ONCE,
        """
        print(asyncio.run(call()))
        try:
            dg.DumGumClient(api_key="k", tracer_provider=object())
        except dg.ConfigurationError as exc:
            print("refused:", exc)
        print(sorted(m for m in sys.modules if m.startswith("opentelemetry")))
        print("dumgum_async._otel" in sys.modules)
        """,
    )
    traceparent, refused, imported, ours = out.splitlines()
    assert traceparent == "None"
    assert refused.startswith("refused:")
    assert "dumgum-async[otel]" in refused
    assert imported == "[]"
    assert ours == "False"


def test_the_global_providers_are_used_unless_telemetry_is_off() -> None:
    out = _run(
        _CALL_ONCE,
        """
        import sys
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
            InMemorySpanExporter,
        )

        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        off = asyncio.run(call(telemetry=False))
        print(off, len(exporter.get_finished_spans()))
        print("dumgum_async._otel" in sys.modules)
        on = asyncio.run(call())
        print(on is not None, sorted(s.name for s in exporter.get_finished_spans()))
        """,
    )
    off, loaded, on = out.splitlines()
    assert off == "None 0"
    assert loaded == "False"  # telemetry=False does not even import our module
    assert on == "True ['POST', 'dumgum.suggest']"


def test_a_tracer_provider_set_after_the_client_was_made_gets_its_spans() -> None:
    # The common shape: the client built at import, the SDK set up at startup.
    out = _run(
        """
        import asyncio
        import dumgum_async as dg
        from dumgum_async.testing import FakeDumGumServer, sample_requests
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
            InMemorySpanExporter,
        )

        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        client = dg.DumGumClient(api_key="k", base_url=f"http://127.0.0.1:{port}")

        async def call():
            async with FakeDumGumServer(api_key="k", port=port) as fake:
                await client.suggest(next(sample_requests(1)))
                return fake.requests[0].header("traceparent")

        before = asyncio.run(call())
        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        after = asyncio.run(call())
        print(before, after is not None, sorted(s.name for s in exporter.get_finished_spans()))
        asyncio.run(client.aclose())
        """,
    )
    assert out.strip() == "None True ['POST', 'dumgum.suggest']"
