"""Outages over real sockets: the circuit breaker in front of a failing emulator."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

import dumgum_async as dg
from dumgum_async.testing import FakeDumGumServer, Faults
from tests.helpers.bodies import minimal_request

KEY = "emulator-key"
QUICK = dg.RetryPolicy(initial_backoff=0.01, max_backoff=0.05)


def _requests(n: int) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        r = minimal_request()
        r["messages"][0]["text"] = f"message number {i}"
        out.append(r)
    return out


async def _open_breaker(fake: FakeDumGumServer, client: dg.DumGumClient) -> None:
    fake.faults = Faults(http_503=1.0, retry_after=0.0)
    for _ in range(dg.DEFAULT_BREAKER_WINDOW):
        with pytest.raises(dg.InternalServerError):
            await client.suggest(minimal_request(), retry=None)
    assert client.stats.breaker_state == "open"


async def test_while_open_an_interactive_call_fails_at_once_and_sends_nothing() -> None:
    async with (
        FakeDumGumServer(api_key=KEY) as fake,
        dg.DumGumClient(
            api_key=KEY, base_url=fake.url, circuit_breaker=dg.CircuitBreaker(cooldown=30.0)
        ) as client,
    ):
        await _open_breaker(fake, client)
        seen = fake.stats.total
        started = time.monotonic()
        with pytest.raises(dg.CircuitOpenError) as info:
            await client.suggest(minimal_request())
        elapsed = time.monotonic() - started
    assert elapsed < 0.1
    assert fake.stats.total == seen
    assert 29.0 < info.value.retry_after <= 30.0
    assert info.value.retry_at == pytest.approx(time.monotonic() + info.value.retry_after, abs=1)
    assert client.stats.breaker_openings == 1


async def test_without_a_breaker_every_call_is_sent() -> None:
    async with (
        FakeDumGumServer(api_key=KEY, faults=Faults(http_503=1.0, retry_after=0.0)) as fake,
        dg.DumGumClient(api_key=KEY, base_url=fake.url, circuit_breaker=None) as client,
    ):
        for _ in range(30):
            with pytest.raises(dg.InternalServerError):
                await client.suggest(minimal_request(), retry=None)
    assert fake.stats.total == 30
    assert client.stats.breaker_state is None


async def test_a_batch_waiting_on_an_open_breaker_is_bounded_by_its_deadline() -> None:
    policy = dg.RetryPolicy(initial_backoff=0.01, max_backoff=0.05, deadline=0.5)
    async with (
        FakeDumGumServer(api_key=KEY, faults=Faults(http_503=1.0, retry_after=0.0)) as fake,
        dg.DumGumClient(
            api_key=KEY,
            base_url=fake.url,
            retry=policy,
            circuit_breaker=dg.CircuitBreaker(cooldown=30.0),
        ) as client,
    ):
        started = time.monotonic()
        results = await client.suggest_all(_requests(60), concurrency=4)
        elapsed = time.monotonic() - started
    assert not any(r.ok for r in results)
    assert any(isinstance(r.error, dg.CircuitOpenError) for r in results)
    # The breaker opened after a window of failures; the rest were never sent.
    assert fake.stats.total <= dg.DEFAULT_BREAKER_WINDOW + 4 * policy.max_attempts
    assert elapsed < 5.0


async def test_an_outage_mid_batch_costs_its_duration_not_its_items() -> None:
    breaker = dg.CircuitBreaker(cooldown=0.2, max_cooldown=0.4)
    fake = FakeDumGumServer(api_key=KEY)
    await fake.start()
    port = fake.port
    back: list[FakeDumGumServer] = []
    results: list[dg.BatchResult[Any]] = []
    fast_failures: list[float] = []
    client = dg.DumGumClient(
        api_key=KEY, base_url=fake.url, retry=QUICK, timeout=2.0, circuit_breaker=breaker
    )

    async def outage() -> int:
        while len(results) < 100:  # noqa: ASYNC110 - waiting for the batch to get going
            await asyncio.sleep(0.005)
        before = fake.stats.total
        fake.faults = Faults(http_503=1.0, retry_after=0.0)  # 0.8 s of 503s ...
        until = time.monotonic() + 0.8
        while time.monotonic() < until:
            if client.stats.breaker_state == "open":
                started = time.monotonic()
                with pytest.raises(dg.CircuitOpenError):
                    await client.suggest(minimal_request())
                fast_failures.append(time.monotonic() - started)
            await asyncio.sleep(0.02)
        sent_during_503s = fake.stats.total - before
        await fake.close()  # ... then 0.8 s of refused connections ...
        await asyncio.sleep(0.8)
        server = FakeDumGumServer(api_key=KEY, port=port)  # ... then the API is back
        await server.start()
        back.append(server)
        return sent_during_503s

    try:
        async with client:
            task = asyncio.create_task(outage())
            async for result in client.suggest_many(_requests(400), concurrency=16):
                results.append(result)
            sent_during_503s = await task
    finally:
        await fake.close()
        for server in back:
            await server.close()
    assert len(results) == 400
    assert sorted(r.index for r in results) == list(range(400))
    failed = [r.error for r in results if not r.ok]
    assert failed == []
    # A window's worth to open it, what was in flight, and a probe per cool-down.
    assert sent_during_503s <= dg.DEFAULT_BREAKER_WINDOW + 16 + 10
    assert fast_failures
    assert max(fast_failures) < 0.1
    stats = client.stats
    assert stats.breaker_openings >= 1
    assert stats.breaker_state == "closed"
    assert back[0].stats.by_status.get(200, 0) > 0


async def test_a_batch_item_s_wait_for_the_breaker_is_call_latency_not_attempt_wait() -> None:
    cooldown = 0.5
    async with (
        FakeDumGumServer(api_key=KEY) as fake,
        dg.DumGumClient(
            api_key=KEY,
            base_url=fake.url,
            retry=dg.RetryPolicy(max_attempts=1, budget=None),  # not patient: one attempt
            circuit_breaker=dg.CircuitBreaker(cooldown=cooldown),
        ) as client,
    ):
        await _open_breaker(fake, client)
        fake.faults = None
        (result,) = await client.suggest_all(_requests(1), concurrency=1)
        stats = client.stats
    assert result.ok
    assert stats.latency_p50 is not None
    assert stats.latency_p50 >= cooldown * 0.8  # the one success waited for the probe
    assert stats.wait_p99 is not None
    assert stats.wait_p99 < cooldown * 0.5  # no attempt counts it as its own wait
