"""Fault injection, latency and scripted responses, observed by a raw aiohttp client."""

from __future__ import annotations

import asyncio
import email.utils
import json
import time
from typing import Any

import aiohttp
import pytest

from dumgum_async.testing import (
    FakeDumGumServer,
    FaultKind,
    Faults,
    Latency,
    ScriptedResponse,
    ServerFactory,
)
from tests.helpers.bodies import minimal_request
from tests.helpers.constants import AUTH

SHORT = aiohttp.ClientTimeout(total=0.5)


async def _post(
    http: aiohttp.ClientSession, server: FakeDumGumServer, **kwargs: Any
) -> tuple[int, dict[str, str], bytes]:
    async with http.post(
        server.endpoint_url, json=minimal_request(), headers=AUTH, **kwargs
    ) as resp:
        return resp.status, dict(resp.headers), await resp.read()


async def _faulty(factory: ServerFactory, kind: FaultKind, **options: float) -> FakeDumGumServer:
    return await factory(faults=Faults.only(kind, **options), seed=1)


@pytest.mark.parametrize(("kind", "status"), [(FaultKind.HTTP_429, 429), (FaultKind.HTTP_503, 503)])
async def test_429_and_503_faults_carry_retry_after_seconds(
    dumgum_server_factory: ServerFactory,
    http: aiohttp.ClientSession,
    kind: FaultKind,
    status: int,
) -> None:
    server = await _faulty(dumgum_server_factory, kind, retry_after=2.5)
    got, headers, body = await _post(http, server)
    assert got == status
    assert headers["Retry-After"] == "3"
    assert "error" in json.loads(body)
    assert server.requests[0].fault is kind


async def test_retry_after_can_be_an_http_date(
    dumgum_server_factory: ServerFactory, http: aiohttp.ClientSession
) -> None:
    server = await _faulty(
        dumgum_server_factory, FaultKind.HTTP_503, retry_after=5, retry_after_http_date=1.0
    )
    status, headers, _ = await _post(http, server)
    assert status == 503
    value = headers["Retry-After"]
    assert value.endswith(" GMT")
    when = email.utils.parsedate_to_datetime(value)
    assert 0 < when.timestamp() - time.time() <= 60


async def test_500_fault_is_a_json_error(
    dumgum_server_factory: ServerFactory, http: aiohttp.ClientSession
) -> None:
    server = await _faulty(dumgum_server_factory, FaultKind.HTTP_500)
    status, headers, body = await _post(http, server)
    assert status == 500
    assert headers["Content-Type"].startswith("application/json")
    assert json.loads(body)["error"] == "internal_error"


@pytest.mark.parametrize(("kind", "status"), [(FaultKind.HTTP_502, 502), (FaultKind.HTTP_504, 504)])
async def test_gateway_faults_send_an_html_page(
    dumgum_server_factory: ServerFactory,
    http: aiohttp.ClientSession,
    kind: FaultKind,
    status: int,
) -> None:
    server = await _faulty(dumgum_server_factory, kind)
    got, headers, body = await _post(http, server)
    assert got == status
    assert headers["Content-Type"].startswith("text/html")
    assert body.lstrip().startswith(b"<html>")


async def test_reset_fault_closes_the_connection_without_a_response(
    dumgum_server_factory: ServerFactory, http: aiohttp.ClientSession
) -> None:
    server = await _faulty(dumgum_server_factory, FaultKind.RESET)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await _post(http, server)
    assert server.requests[0].status is None
    assert server.stats.by_fault == {FaultKind.RESET: 1}


async def test_stall_fault_outlasts_the_client_timeout(
    dumgum_server_factory: ServerFactory, http: aiohttp.ClientSession
) -> None:
    server = await _faulty(dumgum_server_factory, FaultKind.STALL, stall_seconds=30)
    with pytest.raises(asyncio.TimeoutError):
        await _post(http, server, timeout=SHORT)
    for _ in range(100):  # the server notices the disconnect and drops the stalled request
        if server.stats.in_flight == 0:
            break
        await asyncio.sleep(0.02)
    assert server.stats.in_flight == 0


async def test_stall_ends_when_the_server_closes(http: aiohttp.ClientSession) -> None:
    server = FakeDumGumServer(faults=Faults.only(FaultKind.STALL, stall_seconds=60))
    await server.start()
    try:
        request = asyncio.create_task(_post(http, server))
        for _ in range(500):
            if server.stats.total:
                break
            await asyncio.sleep(0.01)
    finally:
        started = time.monotonic()
        await server.close()
    assert time.monotonic() - started < 5
    with pytest.raises(aiohttp.ClientError):
        await request


async def test_truncated_fault_cuts_the_json_body(
    dumgum_server_factory: ServerFactory, http: aiohttp.ClientSession
) -> None:
    server = await _faulty(dumgum_server_factory, FaultKind.TRUNCATED)
    async with http.post(server.endpoint_url, json=minimal_request(), headers=AUTH) as resp:
        assert resp.status == 200
        assert resp.content_type == "application/json"
        assert resp.content_length is not None
        with pytest.raises(aiohttp.ClientPayloadError):
            await resp.read()


async def test_non_json_fault_sends_a_200_that_is_not_json(
    dumgum_server_factory: ServerFactory, http: aiohttp.ClientSession
) -> None:
    server = await _faulty(dumgum_server_factory, FaultKind.NON_JSON)
    async with http.post(server.endpoint_url, json=minimal_request(), headers=AUTH) as resp:
        assert resp.status == 200
        assert resp.content_type == "application/json"
        with pytest.raises(json.JSONDecodeError):
            await resp.json()


async def test_html_fault_sends_a_200_html_page(
    dumgum_server_factory: ServerFactory, http: aiohttp.ClientSession
) -> None:
    server = await _faulty(dumgum_server_factory, FaultKind.HTML)
    async with http.post(server.endpoint_url, json=minimal_request(), headers=AUTH) as resp:
        assert resp.status == 200
        assert resp.content_type == "text/html"
        assert b"<html" in await resp.read()


async def _fault_sequence(seed: int) -> list[FaultKind | None]:
    faults = Faults(http_500=0.2, http_503=0.2, html=0.1, retry_after=0)
    async with FakeDumGumServer(faults=faults, seed=seed) as server:
        async with aiohttp.ClientSession() as http:
            for _ in range(30):
                await _post(http, server)
        return [r.fault for r in server.requests]


async def test_same_seed_gives_the_same_fault_sequence() -> None:
    first = await _fault_sequence(seed=42)
    again = await _fault_sequence(seed=42)
    other = await _fault_sequence(seed=43)
    assert first == again
    assert first != other
    assert {FaultKind.HTTP_500, FaultKind.HTTP_503, None} <= set(first)


async def test_faults_can_be_changed_while_running(
    dumgum_server: FakeDumGumServer, http: aiohttp.ClientSession
) -> None:
    dumgum_server.faults = Faults(http_500=1.0)
    assert (await _post(http, dumgum_server))[0] == 500
    dumgum_server.faults = None
    assert (await _post(http, dumgum_server))[0] == 200


def test_fault_probabilities_must_add_up_to_at_most_one() -> None:
    with pytest.raises(ValueError, match="add up"):
        Faults(http_500=0.6, reset=0.5)
    with pytest.raises(ValueError, match="probability"):
        Faults(stall=1.5)


async def test_scripted_responses_are_used_in_order_then_normal_answers(
    dumgum_server: FakeDumGumServer, http: aiohttp.ClientSession
) -> None:
    dumgum_server.script(
        ScriptedResponse(status=503, headers={"Retry-After": "1"}, json={"error": "busy"}),
        ScriptedResponse.normal_response(),
        ScriptedResponse(status=200, body=b"plain", headers={"Content-Type": "text/plain"}),
        ScriptedResponse.fault_of(FaultKind.HTTP_502),
    )
    results = [await _post(http, dumgum_server) for _ in range(5)]

    assert [status for status, _, _ in results] == [503, 200, 200, 502, 200]
    assert results[0][1]["Retry-After"] == "1"
    assert json.loads(results[0][2]) == {"error": "busy"}
    assert len(json.loads(results[1][2])["suggestions"]) == 3
    assert results[2][2] == b"plain"
    assert [r.scripted for r in dumgum_server.requests] == [True, False, True, True, False]
    assert dumgum_server.scripted_remaining == 0


async def test_scripted_responses_skip_validation_but_not_auth(
    dumgum_server: FakeDumGumServer, http: aiohttp.ClientSession
) -> None:
    dumgum_server.script(ScriptedResponse(status=201, json={"ok": True}))
    async with http.post(dumgum_server.endpoint_url, json={"not": "valid"}) as resp:
        assert resp.status == 401
    async with http.post(dumgum_server.endpoint_url, json={"not": "valid"}, headers=AUTH) as r:
        assert r.status == 201
        assert await r.json() == {"ok": True}


async def test_scripted_reset_and_stall(
    dumgum_server: FakeDumGumServer, http: aiohttp.ClientSession
) -> None:
    dumgum_server.script(ScriptedResponse.reset(), ScriptedResponse.stall(10))
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await _post(http, dumgum_server)
    with pytest.raises(asyncio.TimeoutError):
        await _post(http, dumgum_server, timeout=SHORT)
    assert [r.fault for r in dumgum_server.requests] == [FaultKind.RESET, FaultKind.STALL]


async def test_scripted_delay_postpones_the_answer(
    dumgum_server: FakeDumGumServer, http: aiohttp.ClientSession
) -> None:
    dumgum_server.script(ScriptedResponse(status=204, delay=0.3))
    started = time.monotonic()
    status, _, _ = await _post(http, dumgum_server)
    assert status == 204
    assert time.monotonic() - started >= 0.25


async def test_fixed_latency_delays_answers(
    dumgum_server_factory: ServerFactory, http: aiohttp.ClientSession
) -> None:
    server = await dumgum_server_factory(latency=0.2)
    started = time.monotonic()
    assert (await _post(http, server))[0] == 200
    assert time.monotonic() - started >= 0.15


def test_latency_distributions_are_seeded_and_bounded() -> None:
    import random

    uniform = Latency.uniform(0.01, 0.02)
    draws = [uniform.sample(random.Random(3)) for _ in range(3)]
    assert len(set(draws)) == 1
    assert 0.01 <= draws[0] <= 0.02
    capped = Latency.exponential(1.0, cap=0.5)
    assert all(0 <= capped.sample(random.Random(n)) <= 0.5 for n in range(50))
    assert Latency.fixed(0.05).sample(random.Random()) == 0.05
