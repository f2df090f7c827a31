"""The emulator over HTTP: routing, auth, validation, answers, recording, lifecycle."""

from __future__ import annotations

import ast
import asyncio
import json

import aiohttp
import pytest

from dumgum_async.testing import (
    ENDPOINT_PATH,
    STRING_LIST_HEADER,
    FakeDumGumServer,
    ServerFactory,
)
from tests.helpers.bodies import conversation_request, minimal_request
from tests.helpers.constants import AUTH


async def test_valid_request_gets_200_with_three_string_suggestions(
    dumgum_server: FakeDumGumServer, http: aiohttp.ClientSession
) -> None:
    async with http.post(
        dumgum_server.endpoint_url, json=conversation_request(), headers=AUTH
    ) as resp:
        assert resp.status == 200
        assert resp.content_type == "application/json"
        payload = await resp.json()
    suggestions = payload["suggestions"]
    assert len(suggestions) == 3
    assert all(isinstance(s, str) and s for s in suggestions)
    assert len(set(suggestions)) == 3


async def test_invalid_request_gets_400_listing_every_problem(
    dumgum_server: FakeDumGumServer, http: aiohttp.ClientSession
) -> None:
    body = conversation_request()
    body["userProfile"]["features"]["job"] = "j" * 33
    body["personaProfile"]["mainPictureUrl"] = "http://insecure.example.org/p.jpg"
    del body["messages"][0]["sender"]

    async with http.post(dumgum_server.endpoint_url, json=body, headers=AUTH) as resp:
        assert resp.status == 400
        payload = await resp.json()

    assert payload["error"] == "invalid_request"
    assert [p["path"] for p in payload["problems"]] == [
        "userProfile.features.job",
        "messages[0].sender",
        "personaProfile.mainPictureUrl",
    ]
    assert all(p["message"] for p in payload["problems"])


async def test_body_that_is_not_json_gets_400(
    dumgum_server: FakeDumGumServer, http: aiohttp.ClientSession
) -> None:
    headers = {**AUTH, "Content-Type": "application/json"}
    async with http.post(dumgum_server.endpoint_url, data=b'{"lang', headers=headers) as resp:
        assert resp.status == 400
        payload = await resp.json()
    assert payload["problems"][0]["path"] == "$"
    assert "not valid JSON" in payload["problems"][0]["message"]


async def test_body_without_json_content_type_gets_415(
    dumgum_server: FakeDumGumServer, http: aiohttp.ClientSession
) -> None:
    data = json.dumps(minimal_request())
    headers = {**AUTH, "Content-Type": "text/plain"}
    async with http.post(dumgum_server.endpoint_url, data=data, headers=headers) as resp:
        assert resp.status == 415


async def test_missing_authorization_gets_401(
    dumgum_server: FakeDumGumServer, http: aiohttp.ClientSession
) -> None:
    async with http.post(dumgum_server.endpoint_url, json=minimal_request()) as resp:
        assert resp.status == 401
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")
        payload = await resp.json()
    assert payload["error"] == "unauthorized"
    assert "missing" in payload["message"]


@pytest.mark.parametrize("header", ["Bearer wrong-key", "Basic dGVzdC1rZXk=", "test-key"])
async def test_wrong_authorization_gets_401(
    dumgum_server: FakeDumGumServer, http: aiohttp.ClientSession, header: str
) -> None:
    headers = {"Authorization": header}
    async with http.post(dumgum_server.endpoint_url, json=minimal_request(), headers=headers) as r:
        assert r.status == 401
        assert (await r.json())["error"] == "unauthorized"


async def test_auth_can_be_disabled(
    dumgum_server_factory: ServerFactory, http: aiohttp.ClientSession
) -> None:
    server = await dumgum_server_factory(api_key=None)
    async with http.post(server.endpoint_url, json=minimal_request()) as resp:
        assert resp.status == 200


async def test_unknown_path_gets_404(
    dumgum_server: FakeDumGumServer, http: aiohttp.ClientSession
) -> None:
    async with http.post(dumgum_server.url + "/cs/v2/nope", json={}, headers=AUTH) as resp:
        assert resp.status == 404
        assert (await resp.json())["error"] == "not_found"


async def test_wrong_method_gets_405_with_allow(
    dumgum_server: FakeDumGumServer, http: aiohttp.ClientSession
) -> None:
    async with http.get(dumgum_server.endpoint_url, headers=AUTH) as resp:
        assert resp.status == 405
        assert resp.headers["Allow"] == "POST"


async def test_validation_can_be_turned_off(
    dumgum_server_factory: ServerFactory, http: aiohttp.ClientSession
) -> None:
    server = await dumgum_server_factory(validate=False)
    body = {"language": "FR", "userProfile": {"firstName": "Zoé"}, "messages": "whatever"}
    async with http.post(server.endpoint_url, json=body, headers=AUTH) as resp:
        assert resp.status == 200
        assert len((await resp.json())["suggestions"]) == 3


async def test_string_list_form_is_a_python_list_in_a_string(
    dumgum_server_factory: ServerFactory, http: aiohttp.ClientSession
) -> None:
    server = await dumgum_server_factory(string_list=True)
    body = conversation_request()
    body["messages"][-1]["text"] = "It's 'quoted' and \"double\" quoted"
    async with http.post(server.endpoint_url, json=body, headers=AUTH) as resp:
        payload = await resp.json()
    assert isinstance(payload["suggestions"], str)
    parsed = ast.literal_eval(payload["suggestions"])
    assert isinstance(parsed, list)
    assert len(parsed) == 3
    assert all(isinstance(s, str) for s in parsed)


async def test_string_list_form_can_be_requested_per_request(
    dumgum_server: FakeDumGumServer, http: aiohttp.ClientSession
) -> None:
    headers = {**AUTH, STRING_LIST_HEADER: "1"}
    async with http.post(
        dumgum_server.endpoint_url, json=conversation_request(), headers=headers
    ) as r:
        as_string = (await r.json())["suggestions"]
    async with http.post(
        dumgum_server.endpoint_url, json=conversation_request(), headers=AUTH
    ) as r:
        as_list = (await r.json())["suggestions"]
    assert ast.literal_eval(as_string) == as_list


async def test_requests_are_recorded_with_headers_body_and_outcome(
    dumgum_server: FakeDumGumServer, http: aiohttp.ClientSession
) -> None:
    body = minimal_request()
    headers = {**AUTH, "X-Trace": "abc", "User-Agent": "probe/1.0"}
    async with http.post(dumgum_server.endpoint_url, json=body, headers=headers) as resp:
        await resp.read()

    [record] = dumgum_server.requests
    assert record.method == "POST"
    assert record.path == ENDPOINT_PATH
    assert record.headers["X-Trace"] == "abc"
    assert record.header("user-agent") == "probe/1.0"
    assert record.header("authorization") == "Bearer test-key"
    assert json.loads(record.body) == body
    assert record.json == body
    assert record.status == 200
    assert record.fault is None
    assert record.received_at > 0


async def test_attempts_for_counts_identical_bodies(
    dumgum_server: FakeDumGumServer, http: aiohttp.ClientSession
) -> None:
    first, second = minimal_request("EN"), minimal_request("FR")
    for body in (first, first, second, first):
        async with http.post(dumgum_server.endpoint_url, json=body, headers=AUTH) as resp:
            await resp.read()

    assert dumgum_server.attempts_for(first) == 3
    assert dumgum_server.attempts_for(second) == 1
    assert dumgum_server.attempts_for(dumgum_server.requests[2].body) == 1
    assert dumgum_server.attempts_for(minimal_request("DE")) == 0


async def test_stats_count_by_status_and_clear_resets_them(
    dumgum_server: FakeDumGumServer, http: aiohttp.ClientSession
) -> None:
    for headers in (AUTH, AUTH, {}):
        async with http.post(
            dumgum_server.endpoint_url, json=minimal_request(), headers=headers
        ) as resp:
            await resp.read()

    stats = dumgum_server.stats
    assert stats.total == 3
    assert stats.by_status == {200: 2, 401: 1}
    assert stats.in_flight == 0

    dumgum_server.clear()
    assert dumgum_server.requests == []
    assert dumgum_server.stats.total == 0


async def test_recording_keeps_the_most_recent_requests(
    dumgum_server_factory: ServerFactory, http: aiohttp.ClientSession
) -> None:
    server = await dumgum_server_factory(max_recorded=2)
    for language in ("EN", "FR", "DE"):
        body = minimal_request(language)
        async with http.post(server.endpoint_url, json=body, headers=AUTH) as resp:
            await resp.read()
    assert [r.json["language"] for r in server.requests] == ["FR", "DE"]
    assert server.stats.total == 3


def test_non_loopback_host_is_refused() -> None:
    with pytest.raises(ValueError, match="loopback"):
        FakeDumGumServer(host="0.0.0.0")


def test_url_before_start_raises() -> None:
    server = FakeDumGumServer()
    with pytest.raises(RuntimeError, match="not started"):
        _ = server.url


async def test_server_binds_a_free_loopback_port_and_closes_idempotently() -> None:
    server = FakeDumGumServer()
    await server.start()
    try:
        assert server.url == f"http://127.0.0.1:{server.port}"
        assert server.endpoint_url == server.url + ENDPOINT_PATH
        assert server.port > 0
        assert server.running
    finally:
        await server.close()
    await server.close()
    assert not server.running


async def test_context_manager_starts_and_stops(http: aiohttp.ClientSession) -> None:
    async with FakeDumGumServer(api_key="k") as server:
        headers = {"Authorization": "Bearer k"}
        async with http.post(server.endpoint_url, json=minimal_request(), headers=headers) as r:
            assert r.status == 200
    assert not server.running


def test_a_read_only_setting_of_the_server_refuses_assignment() -> None:
    server = FakeDumGumServer(seed=7)
    with pytest.raises(AttributeError, match="seed"):
        server.seed = 8  # type: ignore[assignment]
    assert server.seed == 7


async def test_a_key_assigned_to_a_running_server_replaces_the_old_one() -> None:
    async with (
        FakeDumGumServer(api_key="old") as server,
        aiohttp.ClientSession() as http,
    ):
        server.api_key = "new"
        statuses = []
        for key in ("old", "new"):
            headers = {"Authorization": f"Bearer {key}"}
            async with http.post(server.endpoint_url, json=minimal_request(), headers=headers) as r:
                statuses.append(r.status)
    assert statuses == [401, 200]


async def test_latency_assigned_to_a_running_server_changes_its_answers_time() -> None:
    async with (
        FakeDumGumServer(api_key="k", latency=0.4) as server,
        aiohttp.ClientSession() as http,
    ):
        took = []
        for latency in (0.4, None):
            server.latency = latency
            started = asyncio.get_running_loop().time()
            headers = {"Authorization": "Bearer k"}
            async with http.post(server.endpoint_url, json=minimal_request(), headers=headers) as r:
                assert r.status == 200
            took.append(asyncio.get_running_loop().time() - started)
    assert took[0] >= 0.4
    assert took[1] < 0.3  # generous on a loaded machine: no latency added
    assert server.latency is None


def test_an_invalid_latency_is_refused_and_the_old_one_kept() -> None:
    server = FakeDumGumServer(latency=0.1)
    with pytest.raises(ValueError, match="latency"):
        server.latency = -1.0
    assert server.latency == 0.1


def test_the_servers_settings_are_its_emulators_and_documented() -> None:
    server = FakeDumGumServer(api_key=None, seed=7, string_list=False)
    server.string_list = True
    assert (server.api_key, server.seed, server.string_list) == (None, 7, True)
    assert server.requests == []
    assert server.scripted_remaining == 0
    assert "assign new" in (FakeDumGumServer.faults.__doc__ or "")
