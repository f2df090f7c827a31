"""The client against a mocked API (aioresponses): one call, its errors and its lifecycle."""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import logging
import traceback
from typing import Any

import aiohttp
import pytest
from aioresponses import CallbackResult, aioresponses

import dumgum_async as dg
from tests.helpers.bodies import full_request, minimal_request
from tests.helpers.constants import API_KEY, ENDPOINT
from tests.helpers.hostile_server import hostile_server, http_response, replying

SUGGESTIONS = ["Hi Marc!", "How was Annecy?", "Tell me about the risotto"]


def _client(**kwargs: Any) -> dg.DumGumClient:
    kwargs.setdefault("api_key", API_KEY)
    kwargs.setdefault("retry", None)
    return dg.DumGumClient(**kwargs)


# --- construction -----------------------------------------------------------------


def test_missing_api_key_is_a_configuration_error_naming_the_variable() -> None:
    with pytest.raises(dg.ConfigurationError, match="DUMGUM_API_KEY"):
        dg.DumGumClient()


def test_api_key_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUMGUM_API_KEY", "from-env")
    client = dg.DumGumClient()
    assert client._headers["Authorization"] == "Bearer from-env"


def test_base_url_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUMGUM_BASE_URL", "https://proxy.example.com/dumgum/")
    assert _client().base_url == "https://proxy.example.com/dumgum"


def test_default_base_url_is_the_vendors() -> None:
    assert _client().base_url == "https://api.dumgum.com"


@pytest.mark.parametrize("url", ["http://api.dumgum.com", "http://10.0.0.5:8080"])
def test_plain_http_to_a_remote_host_is_refused(url: str) -> None:
    with pytest.raises(dg.ConfigurationError, match="in clear"):
        _client(base_url=url)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080", "http://localhost:1", "http://[::1]:9"])
def test_plain_http_to_loopback_is_allowed(url: str) -> None:
    assert _client(base_url=url).base_url == url


def test_plain_http_to_a_remote_host_is_allowed_with_explicit_opt_in() -> None:
    client = _client(base_url="http://api.internal", allow_insecure_http=True)
    assert client.base_url == "http://api.internal"


@pytest.mark.parametrize(
    "url", ["ftp://api.dumgum.com", "api.dumgum.com", "https://user:pw@api.dumgum.com"]
)
def test_malformed_base_url_is_refused(url: str) -> None:
    with pytest.raises(dg.ConfigurationError):
        _client(base_url=url)


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf"), "30"])
def test_bad_timeout_is_refused(bad: Any) -> None:
    with pytest.raises(dg.ConfigurationError, match="timeout"):
        _client(timeout=bad)


def test_timeout_accepts_a_timedelta() -> None:
    assert _client(timeout=dt.timedelta(milliseconds=1500))._timeout == 1.5


@pytest.mark.parametrize("bad", [0, -3, True, 2.5])
def test_bad_max_concurrency_is_refused(bad: Any) -> None:
    with pytest.raises(dg.ConfigurationError, match="max_concurrency"):
        _client(max_concurrency=bad)


def test_key_with_a_newline_is_refused() -> None:
    with pytest.raises(dg.ConfigurationError, match="control characters"):
        dg.DumGumClient(api_key="abc\nX-Injected: 1")


def test_constructing_outside_a_loop_opens_nothing() -> None:
    client = _client()
    assert "new" in repr(client)
    assert not client._transport.is_open


# --- secrets ----------------------------------------------------------------------


def test_repr_of_client_hides_the_key() -> None:
    client = _client()
    assert API_KEY not in repr(client)
    assert API_KEY not in repr(client._headers)
    assert API_KEY not in str(vars(client))


async def test_key_never_appears_in_errors_or_their_tracebacks(mock_api: aioresponses) -> None:
    mock_api.post(ENDPOINT, status=401, body='{"error": "bad key"}')
    mock_api.post(ENDPOINT, exception=aiohttp.ClientConnectionError("reset"))
    async with _client() as client:
        for _ in range(2):
            with pytest.raises(dg.APIError) as info:
                await client.suggest(minimal_request())
            rendered = "".join(traceback.format_exception(info.value))
            assert API_KEY not in rendered
            assert API_KEY not in repr(info.value)
            assert API_KEY not in repr(vars(info.value))


async def test_key_never_appears_in_debug_logs(
    mock_api: aioresponses, caplog: pytest.LogCaptureFixture
) -> None:
    mock_api.post(ENDPOINT, payload={"suggestions": SUGGESTIONS})
    caplog.set_level(logging.DEBUG, logger="dumgum_async")
    async with _client() as client:
        await client.suggest(minimal_request())
    assert any("POST" in r.getMessage() and "200" in r.getMessage() for r in caplog.records)
    assert all(API_KEY not in r.getMessage() for r in caplog.records)


async def test_credential_headers_are_removed_from_status_errors(mock_api: aioresponses) -> None:
    mock_api.post(
        ENDPOINT,
        status=500,
        body="oops",
        headers={"Authorization": f"Bearer {API_KEY}", "Set-Cookie": "s=1", "X-Request-Id": "r1"},
    )
    async with _client() as client:
        with pytest.raises(dg.InternalServerError) as info:
            await client.suggest(minimal_request())
    assert "Authorization" not in info.value.headers
    assert "Set-Cookie" not in info.value.headers
    assert info.value.headers["x-request-id"] == "r1"


# --- the request on the wire --------------------------------------------------------


async def test_sends_bearer_key_json_and_user_agent(mock_api: aioresponses) -> None:
    seen: dict[str, Any] = {}

    def reply(url: Any, **kwargs: Any) -> CallbackResult:
        seen.update(kwargs)
        return CallbackResult(payload={"suggestions": SUGGESTIONS})

    mock_api.post(ENDPOINT, callback=reply)
    async with _client() as client:
        await client.suggest(full_request())
    headers = seen["headers"]
    assert headers["Authorization"] == f"Bearer {API_KEY}"
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"].startswith(f"dumgum-async/{dg.__version__}")
    assert json.loads(seen["data"]) == full_request()


def _header_lines(head: bytes) -> list[tuple[str, str]]:
    lines = head.decode("latin-1").split("\r\n")[1:]
    pairs = [line.partition(":") for line in lines if line]
    return [(name.strip().lower(), value.strip()) for name, _, value in pairs]


_ANSWER = http_response(
    "200 OK", b'{"suggestions": ["a", "b", "c"]}', "Content-Type: application/json"
)


async def test_each_of_the_clients_headers_reaches_the_server_once() -> None:
    async with (
        hostile_server(replying(_ANSWER, close=False)) as server,
        _client(base_url=f"http://127.0.0.1:{server.port}") as client,
    ):
        await client.suggest(minimal_request())
        await client.suggest(minimal_request())
    for head in server.requests:
        sent = _header_lines(head)
        names = [name for name, _ in sent]
        for name in ("authorization", "content-type", "accept", "user-agent"):
            assert names.count(name) == 1, (name, names)
        assert ("authorization", f"Bearer {API_KEY}") in sent
        assert ("content-type", "application/json") in sent


async def test_a_views_key_and_headers_replace_the_clients_on_the_wire() -> None:
    async with (
        hostile_server(replying(_ANSWER, close=False)) as server,
        _client(base_url=f"http://127.0.0.1:{server.port}") as client,
    ):
        view = client.with_options(api_key="sk-view-other", headers={"X-Team": "a"})
        await view.suggest(minimal_request(), extra_headers={"user-agent": "mine"})
        await client.suggest(minimal_request())
    first, second = (_header_lines(head) for head in server.requests)
    assert [v for n, v in first if n == "authorization"] == ["Bearer sk-view-other"]
    assert [v for n, v in first if n == "user-agent"] == ["mine"]
    assert [v for n, v in first if n == "x-team"] == ["a"]
    # The client's own call after the view's: its key and headers, nothing of the view's.
    assert [v for n, v in second if n == "authorization"] == [f"Bearer {API_KEY}"]
    assert "x-team" not in [n for n, _ in second]


async def test_suggest_accepts_a_model(mock_api: aioresponses) -> None:
    mock_api.post(ENDPOINT, payload={"suggestions": SUGGESTIONS})
    request = dg.SuggestionRequest.from_dict(full_request())
    async with _client() as client:
        response = await client.suggest(request)
    assert response == dg.SuggestionResponse(suggestions=tuple(SUGGESTIONS))


async def test_suggest_returns_suggestions_as_a_tuple(mock_api: aioresponses) -> None:
    mock_api.post(ENDPOINT, payload={"suggestions": SUGGESTIONS, "model": "v9"})
    async with _client() as client:
        response = await client.suggest(minimal_request())
    assert response.suggestions == tuple(SUGGESTIONS)


async def test_suggest_reads_the_vendors_string_list_form(mock_api: aioresponses) -> None:
    mock_api.post(ENDPOINT, payload={"suggestions": "['Salut !', \"C'est moi\", 'Bonne nuit']"})
    async with _client() as client:
        response = await client.suggest(minimal_request())
    assert response.suggestions == ("Salut !", "C'est moi", "Bonne nuit")


async def test_invalid_request_fails_before_any_network_call(mock_api: aioresponses) -> None:
    bad = minimal_request()
    bad["messages"][0]["text"] = "x" * 513
    async with _client() as client:
        with pytest.raises(dg.RequestValidationError) as info:
            await client.suggest(bad)
    assert [p.path for p in info.value.problems] == ["messages[0].text"]
    assert not mock_api.requests


async def test_request_of_the_wrong_type_is_a_request_validation_error() -> None:
    async with _client() as client:
        with pytest.raises(dg.RequestValidationError, match="SuggestionRequest or a mapping"):
            await client.suggest("hello")  # type: ignore[arg-type]


async def test_unknown_enum_passes_through_when_the_client_is_lenient(
    mock_api: aioresponses,
) -> None:
    seen: dict[str, Any] = {}

    def reply(url: Any, **kwargs: Any) -> CallbackResult:
        seen.update(kwargs)
        return CallbackResult(payload={"suggestions": SUGGESTIONS})

    mock_api.post(ENDPOINT, callback=reply)
    async with _client(strict_enums=False) as client:
        await client.suggest(minimal_request(language="KO_KR"))
    assert json.loads(seen["data"])["language"] == "KO_KR"


async def test_unknown_enum_is_rejected_by_a_strict_client(mock_api: aioresponses) -> None:
    async with _client() as client:
        with pytest.raises(dg.RequestValidationError, match="language: unknown value 'KO_KR'"):
            await client.suggest(minimal_request(language="KO_KR"))


# --- statuses and bodies ------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, dg.BadRequestError),
        (401, dg.AuthenticationError),
        (403, dg.PermissionDeniedError),
        (404, dg.NotFoundError),
        (409, dg.ConflictError),
        (422, dg.UnprocessableEntityError),
        (429, dg.RateLimitError),
        (418, dg.APIStatusError),
        (500, dg.InternalServerError),
        (502, dg.InternalServerError),
        (503, dg.InternalServerError),
        (504, dg.InternalServerError),
    ],
)
async def test_status_maps_to_its_exception(
    mock_api: aioresponses, status: int, cls: type[dg.APIStatusError]
) -> None:
    mock_api.post(ENDPOINT, status=status, body='{"error": "nope"}')
    async with _client() as client:
        with pytest.raises(cls) as info:
            await client.suggest(minimal_request())
    err = info.value
    assert type(err) is cls
    assert err.status_code == status
    assert err.body == '{"error": "nope"}'
    assert err.url == ENDPOINT
    assert f"HTTP {status}" in str(err)


async def test_rate_limit_error_carries_retry_after_in_seconds(mock_api: aioresponses) -> None:
    mock_api.post(ENDPOINT, status=429, headers={"Retry-After": "7"})
    async with _client() as client:
        with pytest.raises(dg.RateLimitError) as info:
            await client.suggest(minimal_request())
    assert info.value.retry_after == 7.0


async def test_rate_limit_error_carries_retry_after_from_an_http_date(
    mock_api: aioresponses,
) -> None:
    when = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30)
    mock_api.post(
        ENDPOINT, status=429, headers={"Retry-After": email.utils.format_datetime(when, True)}
    )
    async with _client() as client:
        with pytest.raises(dg.RateLimitError) as info:
            await client.suggest(minimal_request())
    assert info.value.retry_after is not None
    assert 25 <= info.value.retry_after <= 31


async def test_html_error_page_becomes_a_status_error_with_its_text(
    mock_api: aioresponses,
) -> None:
    page = "<html><body><h1>502 Bad Gateway</h1></body></html>"
    mock_api.post(ENDPOINT, status=502, body=page, content_type="text/html")
    async with _client() as client:
        with pytest.raises(dg.InternalServerError) as info:
            await client.suggest(minimal_request())
    assert info.value.body == page
    assert "502 Bad Gateway" in str(info.value)


@pytest.mark.parametrize(
    "body",
    [
        b"not json at all",
        b'{"suggestions": ["a", "b"',
        b"<html><body>Maintenance</body></html>",
        b'{"suggestions": 3}',
        b'{"other": []}',
        b"[1, 2, 3]",
    ],
)
async def test_unreadable_success_body_is_a_decode_error_with_an_excerpt(
    mock_api: aioresponses, body: bytes
) -> None:
    mock_api.post(ENDPOINT, status=200, body=body)
    async with _client() as client:
        with pytest.raises(dg.ResponseDecodeError) as info:
            await client.suggest(minimal_request())
    assert info.value.body_excerpt == body.decode()
    assert info.value.status_code == 200


async def test_oversized_success_body_is_refused(mock_api: aioresponses) -> None:
    huge = json.dumps({"suggestions": ["x" * 4096] * 3}).encode()
    mock_api.post(ENDPOINT, status=200, body=huge)
    async with _client(max_response_bytes=4096) as client:
        with pytest.raises(dg.ResponseDecodeError, match="exceeds the 4096-byte limit"):
            await client.suggest(minimal_request())


async def test_connection_error_is_wrapped(mock_api: aioresponses) -> None:
    mock_api.post(ENDPOINT, exception=aiohttp.ServerDisconnectedError())
    async with _client() as client:
        with pytest.raises(dg.APIConnectionError) as info:
            await client.suggest(minimal_request())
    assert not isinstance(info.value, aiohttp.ClientError)
    assert "ServerDisconnectedError" in str(info.value)


async def test_timeout_is_wrapped_as_api_timeout_error(mock_api: aioresponses) -> None:
    mock_api.post(ENDPOINT, exception=TimeoutError())
    async with _client(timeout=0.5) as client:
        with pytest.raises(dg.APITimeoutError, match=r"within 0\.5 s") as info:
            await client.suggest(minimal_request())
    assert isinstance(info.value, dg.APIConnectionError)
    assert isinstance(info.value, TimeoutError)


async def test_redirect_to_another_host_is_refused(mock_api: aioresponses) -> None:
    mock_api.post(ENDPOINT, status=307, headers={"Location": "https://evil.example.com/steal"})
    async with _client() as client:
        with pytest.raises(dg.APIStatusError, match="must not be sent to another host"):
            await client.suggest(minimal_request())
    assert all(url.host != "evil.example.com" for _, url in mock_api.requests)


async def test_redirect_within_the_same_host_is_followed(mock_api: aioresponses) -> None:
    moved = "https://api.dumgum.com/v2/suggestion"
    mock_api.post(ENDPOINT, status=308, headers={"Location": "/v2/suggestion"})
    mock_api.post(moved, payload={"suggestions": SUGGESTIONS})
    async with _client() as client:
        response = await client.suggest(minimal_request())
    assert response.suggestions == tuple(SUGGESTIONS)


# --- lifecycle ----------------------------------------------------------------------


async def test_closed_client_refuses_calls() -> None:
    client = _client()
    async with client:
        pass
    with pytest.raises(dg.ClientClosedError):
        await client.suggest(minimal_request())


async def test_closed_client_cannot_be_reopened() -> None:
    client = _client()
    await client.aclose()
    with pytest.raises(dg.ClientClosedError):
        async with client:
            pass


async def test_aclose_twice_is_harmless() -> None:
    client = _client()
    async with client:
        pass
    await client.aclose()
    assert client.closed


async def test_client_without_context_manager_opens_on_first_call(mock_api: aioresponses) -> None:
    mock_api.post(ENDPOINT, payload={"suggestions": SUGGESTIONS})
    client = _client()
    try:
        await client.suggest(minimal_request())
        assert client._transport.is_open
    finally:
        await client.aclose()
    assert not client._transport.is_open


async def test_callers_session_is_used_and_left_open(mock_api: aioresponses) -> None:
    mock_api.post(ENDPOINT, payload={"suggestions": SUGGESTIONS})
    async with aiohttp.ClientSession() as session:
        async with _client(session=session) as client:
            await client.suggest(minimal_request())
        assert not session.closed
