"""``client.with_raw_response`` and ``request_id``: what the server sent, as the server sent it.

End to end against the emulator, whose scripted answers carry the headers under test.
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import pytest

import dumgum_async as dg
from dumgum_async.testing import FakeDumGumServer, ScriptedResponse, sample_requests

KEY = "raw-key"
OK_JSON = {"suggestions": ["Hi!", "How are you?"]}
REQUEST = next(iter(sample_requests(1, seed=3)))


def _client(fake: FakeDumGumServer, **kwargs: Any) -> dg.DumGumClient:
    kwargs.setdefault("retry", None)
    return dg.DumGumClient(api_key=KEY, base_url=fake.url, **kwargs)


def _ok(**headers: str) -> ScriptedResponse:
    return ScriptedResponse(200, headers=headers, json=OK_JSON)


async def test_raw_response_has_status_headers_request_id_and_the_parsed_model() -> None:
    async with FakeDumGumServer(api_key=KEY) as fake:
        fake.script(ScriptedResponse(200, headers={"X-Request-Id": "req-123"}, json=OK_JSON))
        async with _client(fake) as client:
            raw = await client.with_raw_response.suggest(REQUEST)
    assert raw.status_code == 200
    assert raw.request_id == "req-123"
    assert raw.headers["x-request-id"] == "req-123"  # case-insensitive
    assert raw.attempts == 1
    assert raw.elapsed > 0
    assert raw.parse() == dg.SuggestionResponse(suggestions=("Hi!", "How are you?"))
    assert len(fake.requests) == 1


async def test_raw_response_headers_have_no_credentials() -> None:
    async with FakeDumGumServer(api_key=KEY) as fake:
        fake.script(_ok(**{"Set-Cookie": "session=secret", "X-Kept": "yes"}))
        async with _client(fake) as client:
            raw = await client.with_raw_response.suggest(REQUEST)
    assert "Set-Cookie" not in raw.headers
    assert raw.headers["X-Kept"] == "yes"


async def test_raw_response_counts_every_attempt_and_keeps_the_last_answer() -> None:
    retry = dg.RetryPolicy(initial_backoff=0.01, max_backoff=0.02, budget=None)
    async with FakeDumGumServer(api_key=KEY) as fake:
        fake.script(
            ScriptedResponse(503, headers={"X-Request-Id": "first"}, json={"e": 1}),
            ScriptedResponse(200, headers={"X-Request-Id": "second"}, json=OK_JSON),
        )
        async with _client(fake, retry=retry) as client:
            raw = await client.with_raw_response.suggest(REQUEST)
    assert len(fake.requests) == 2
    assert raw.attempts == 2
    assert raw.request_id == "second"


async def test_raw_response_elapsed_spans_the_whole_call() -> None:
    async with FakeDumGumServer(api_key=KEY) as fake:
        fake.script(ScriptedResponse(200, json=OK_JSON, delay=0.2))
        async with _client(fake) as client:
            raw = await client.with_raw_response.suggest(REQUEST)
    assert raw.elapsed >= 0.2
    assert raw.request_id is None


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Request-Id": "b", "X-Correlation-Id": "c"}, "b"),
        ({"X-Correlation-Id": "c"}, "c"),
        ({"X-Correlation-Id": "c", "X-Request-Id": "a", "Request-Id": "b"}, "a"),
        ({"x-request-id": "lower"}, "lower"),
    ],
)
async def test_request_id_is_the_first_of_the_known_headers(
    headers: dict[str, str], expected: str
) -> None:
    async with FakeDumGumServer(api_key=KEY) as fake:
        fake.script(_ok(**headers))
        async with _client(fake) as client:
            raw = await client.with_raw_response.suggest(REQUEST)
    assert raw.request_id == expected


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422, 429, 500, 503, 418])
async def test_every_status_error_carries_the_request_id(status: int) -> None:
    async with FakeDumGumServer(api_key=KEY) as fake:
        fake.script(ScriptedResponse(status, headers={"X-Request-Id": f"id-{status}"}, json={}))
        async with _client(fake) as client:
            with pytest.raises(dg.APIStatusError) as info:
                await client.suggest(REQUEST)
    assert info.value.status_code == status
    assert info.value.request_id == f"id-{status}"
    assert f"[request id id-{status}]" in str(info.value)


async def test_a_raw_call_raises_status_errors_like_suggest() -> None:
    async with FakeDumGumServer(api_key=KEY) as fake:
        fake.script(ScriptedResponse(404, headers={"Request-Id": "nf"}, json={}))
        async with _client(fake) as client:
            with pytest.raises(dg.NotFoundError) as info:
                await client.with_raw_response.suggest(REQUEST)
            assert client.stats.failed == {"NotFoundError": 1}
    assert info.value.request_id == "nf"


async def test_an_unreadable_2xx_body_error_carries_the_request_id() -> None:
    async with FakeDumGumServer(api_key=KEY) as fake:
        fake.script(
            ScriptedResponse(
                200,
                headers={"X-Request-Id": "bad-body", "Content-Type": "application/json"},
                body=b"not json",
            )
        )
        async with _client(fake) as client:
            with pytest.raises(dg.ResponseDecodeError) as info:
                await client.suggest(REQUEST)
    assert info.value.request_id == "bad-body"


async def test_a_too_large_2xx_body_error_carries_the_request_id() -> None:
    async with FakeDumGumServer(api_key=KEY) as fake:
        fake.script(
            ScriptedResponse(
                200,
                headers={"X-Request-Id": "big", "Content-Type": "application/json"},
                body=b"x" * 5000,
            )
        )
        async with _client(fake, max_response_bytes=1024) as client:
            with pytest.raises(dg.ResponseDecodeError, match="limit") as info:
                await client.suggest(REQUEST)
    assert info.value.request_id == "big"


async def test_a_refused_redirect_carries_the_request_id() -> None:
    async with FakeDumGumServer(api_key=KEY) as fake:
        fake.script(
            ScriptedResponse(
                307, headers={"Location": "https://elsewhere.example/", "X-Request-Id": "r"}
            )
        )
        async with _client(fake) as client:
            with pytest.raises(dg.APIStatusError, match="refusing") as info:
                await client.suggest(REQUEST)
    assert info.value.request_id == "r"


async def test_errors_without_a_response_have_no_request_id() -> None:
    async with FakeDumGumServer(api_key=KEY) as fake:
        fake.script(ScriptedResponse.reset(), ScriptedResponse(200, json=OK_JSON, delay=1.0))
        async with _client(fake) as client:
            with pytest.raises(dg.APIConnectionError) as reset:
                await client.suggest(REQUEST)
            with pytest.raises(dg.APITimeoutError) as late:
                await client.suggest(REQUEST, timeout=0.1)
    assert reset.value.request_id is None
    assert late.value.request_id is None
    assert "request id" not in str(reset.value)


async def test_request_id_is_a_keyword_of_every_api_error() -> None:
    errors: list[dg.APIError] = [
        dg.APIError("m", request_id="a"),
        dg.APIConnectionError("m", request_id="a"),
        dg.APITimeoutError("m", request_id="a"),
        dg.APIStatusError("m", status_code=400, request_id="a"),
        dg.ResponseDecodeError("m", request_id="a"),
    ]
    assert [e.request_id for e in errors] == ["a"] * len(errors)
    assert dg.CircuitOpenError("m", retry_after=1.0, retry_at=2.0).request_id is None


async def test_raw_calls_count_in_the_clients_stats() -> None:
    async with FakeDumGumServer(api_key=KEY) as fake, _client(fake) as client:
        await client.with_raw_response.suggest(REQUEST)
        await client.suggest(REQUEST)
        stats = client.stats
    assert stats.calls == 2
    assert stats.attempts == 2


async def test_concurrent_raw_calls_each_see_their_own_response() -> None:
    async with FakeDumGumServer(api_key=KEY) as fake:
        fake.script(*(_ok(**{"X-Request-Id": f"id-{i}"}) for i in range(5)))
        async with _client(fake) as client:
            raws = await asyncio.gather(
                *(client.with_raw_response.suggest(REQUEST) for _ in range(5))
            )
    assert sorted(r.request_id or "" for r in raws) == [f"id-{i}" for i in range(5)]
    assert all(r.attempts == 1 for r in raws)


async def test_a_plain_suggest_builds_no_per_call_options(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The hot path: no option given, the client's CallOptions are used as they are.
    from dumgum_async._options import CallOptions

    def refuse(*args: object, **kwargs: object) -> CallOptions:
        raise AssertionError("per-call options built for a plain call")

    monkeypatch.setattr(CallOptions, "for_call", refuse)
    monkeypatch.setattr(CallOptions, "_copy", refuse)
    async with FakeDumGumServer(api_key=KEY) as fake, _client(fake) as client:
        response = await client.suggest(REQUEST)
    assert response.suggestions
    assert len(fake.requests) == 1


def test_a_raw_call_shows_the_parameters_of_suggest() -> None:
    # help() and IDEs read the signature: the raw form has suggest's, not (*args, **kwargs).
    client = dg.DumGumClient(api_key=KEY, base_url="http://127.0.0.1:9")
    raw = inspect.signature(client.with_raw_response.suggest)
    assert raw.parameters == inspect.signature(client.suggest).parameters
    assert raw.return_annotation == "RawResponse"
    assert (client.with_raw_response.suggest.__doc__ or "").startswith(
        "As :meth:`DumGumClient.suggest`, answering a :class:`RawResponse`"
    )


async def test_timeout_none_in_a_raw_call_warns_at_the_callers_line() -> None:
    async with FakeDumGumServer(api_key=KEY) as fake, _client(fake) as client:
        with pytest.warns(DeprecationWarning, match="timeout=None") as record:
            raw = await client.with_raw_response.suggest(REQUEST, timeout=None)
    assert raw.status_code == 200
    assert record[0].filename == __file__


async def test_a_raw_call_sends_its_own_options() -> None:
    async with FakeDumGumServer(api_key=KEY) as fake, _client(fake) as client:
        await client.with_raw_response.suggest(REQUEST, extra_headers={"X-Trace": "t-1"})
    assert fake.requests[0].header("X-Trace") == "t-1"
