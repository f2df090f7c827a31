"""The client's lifecycle over real sockets: close and drain with calls in flight, one
client across event loops, and cancellation that is never swallowed."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import random
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

import dumgum_async as dg
from dumgum_async._lifecycle import Slots
from dumgum_async.testing import FakeDumGumServer, Faults, ScriptedResponse
from tests.helpers.bodies import minimal_request
from tests.helpers.tasks import no_client_tasks_left

KEY = "emulator-key"
QUICK = dg.RetryPolicy(initial_backoff=0.01, max_backoff=0.05, budget=None)


def _requests(n: int) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        r = minimal_request()
        r["messages"][0]["text"] = f"message number {i}"
        out.append(r)
    return out


async def _until(predicate: Any, limit: float = 5.0) -> None:
    until = time.monotonic() + limit
    while not predicate():
        assert time.monotonic() < until, "timed out waiting"
        await asyncio.sleep(0.005)


# --- close and drain -------------------------------------------------------------------


@pytest.mark.parametrize("retry", [None, QUICK], ids=["no-retry", "retry"])
async def test_closing_ends_every_call_in_flight_with_client_closed_error(
    retry: dg.RetryPolicy | None,
) -> None:
    async with FakeDumGumServer(api_key=KEY, latency=10.0) as fake:
        client = dg.DumGumClient(api_key=KEY, base_url=fake.url, retry=retry)
        tasks = [asyncio.create_task(client.suggest(r)) for r in _requests(5)]
        await _until(lambda: fake.stats.total == 5)
        await client.aclose()
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    assert [type(o) for o in outcomes] == [dg.ClientClosedError] * 5
    assert no_client_tasks_left()


async def test_closing_during_a_backoff_ends_the_call_with_client_closed_error() -> None:
    slow = dg.RetryPolicy(initial_backoff=20.0, max_backoff=20.0, jitter=0.0, budget=None)
    async with FakeDumGumServer(api_key=KEY) as fake:
        client = dg.DumGumClient(api_key=KEY, base_url=fake.url, retry=slow)
        fake.script(ScriptedResponse(status=500, json={}))
        task = asyncio.create_task(client.suggest(minimal_request()))
        await _until(lambda: fake.stats.total == 1)
        await asyncio.sleep(0.05)
        await client.aclose()
        with pytest.raises(dg.ClientClosedError):
            await task
    assert fake.stats.total == 1


async def test_drain_lets_calls_in_flight_finish_and_refuses_new_ones() -> None:
    async with FakeDumGumServer(api_key=KEY, latency=0.3) as fake:
        client = dg.DumGumClient(api_key=KEY, base_url=fake.url)
        tasks = [asyncio.create_task(client.suggest(r)) for r in _requests(4)]
        await _until(lambda: fake.stats.total == 4)
        closing = asyncio.create_task(client.aclose(drain=5.0))
        await asyncio.sleep(0)
        with pytest.raises(dg.ClientClosedError):
            await client.suggest(minimal_request())
        started = time.monotonic()
        await closing
        elapsed = time.monotonic() - started
        responses = await asyncio.gather(*tasks)
    assert all(len(r.suggestions) == 3 for r in responses)
    assert fake.stats.total == 4  # the refused call never reached the server
    assert elapsed < 2.0  # it returned once they were done, not after the whole drain


async def test_drain_cancels_what_is_still_running_when_it_ends() -> None:
    async with FakeDumGumServer(api_key=KEY, latency=10.0) as fake:
        client = dg.DumGumClient(api_key=KEY, base_url=fake.url)
        tasks = [asyncio.create_task(client.suggest(r)) for r in _requests(3)]
        await _until(lambda: fake.stats.total == 3)
        started = time.monotonic()
        await client.aclose(drain=0.3)
        elapsed = time.monotonic() - started
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    assert [type(o) for o in outcomes] == [dg.ClientClosedError] * 3
    assert 0.25 <= elapsed < 2.0


async def test_two_closes_at_once_both_return() -> None:
    async with FakeDumGumServer(api_key=KEY, latency=10.0) as fake:
        client = dg.DumGumClient(api_key=KEY, base_url=fake.url)
        task = asyncio.create_task(client.suggest(minimal_request()))
        await _until(lambda: fake.stats.total == 1)
        async with asyncio.timeout(5):
            await asyncio.gather(client.aclose(drain=0.2), client.aclose(drain=0.5))
        with pytest.raises(dg.ClientClosedError):
            await task


@pytest.mark.parametrize("drain", [None, 0.2], ids=["no drain", "equal drains"])
async def test_two_closes_cancelling_at_once_still_raise_client_closed_error(
    drain: float | None,
) -> None:
    # Each closer cancelled every call in flight: two cancels read as someone else's.
    async with FakeDumGumServer(api_key=KEY, latency=10.0) as fake:
        client = dg.DumGumClient(api_key=KEY, base_url=fake.url)
        task = asyncio.create_task(client.suggest(minimal_request()))
        await _until(lambda: fake.stats.total == 1)
        async with asyncio.timeout(5):
            await asyncio.gather(client.aclose(drain=drain), client.aclose(drain=drain))
        with pytest.raises(dg.ClientClosedError):
            await task
        assert not task.cancelled()


async def test_the_callers_own_cancel_stays_a_cancel_when_the_client_closes() -> None:
    async with FakeDumGumServer(api_key=KEY, latency=10.0) as fake:
        client = dg.DumGumClient(api_key=KEY, base_url=fake.url)
        task = asyncio.create_task(client.suggest(minimal_request()))
        await _until(lambda: fake.stats.total == 1)
        task.cancel()
        await client.aclose()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_closing_stops_a_batch_which_raises_client_closed_error() -> None:
    yielded: list[dg.BatchResult[Any]] = []
    async with FakeDumGumServer(api_key=KEY, latency=0.05) as fake:
        client = dg.DumGumClient(api_key=KEY, base_url=fake.url)

        async def consume() -> None:
            async for result in client.suggest_many(_requests(500), concurrency=8):
                yielded.append(result)

        task = asyncio.create_task(consume())
        await _until(lambda: len(yielded) >= 20)
        await client.aclose()
        with pytest.raises(dg.ClientClosedError):
            await task
    assert len(yielded) < 500
    # The items cancelled by the close were yielded as failures, and none started after:
    # everything the server saw was yielded, and at most the 8 in flight were yielded
    # without reaching it (cancelled while waiting for a connection, say).
    assert fake.stats.total <= len(yielded) <= fake.stats.total + 8
    assert any(isinstance(r.error, dg.ClientClosedError) for r in yielded)


async def test_a_callers_session_closed_under_the_client_is_a_typed_error_not_retried() -> None:
    import aiohttp

    async with FakeDumGumServer(api_key=KEY) as fake:
        session = aiohttp.ClientSession()
        await session.close()
        async with dg.DumGumClient(
            api_key=KEY, base_url=fake.url, session=session, retry=QUICK
        ) as client:
            with pytest.raises(
                dg.APIConnectionError, match="session given to the client is closed"
            ) as info:
                await client.suggest(minimal_request())
        assert info.value.retryable is False
        assert info.value.attempts == 1
        assert fake.stats.total == 0


async def test_a_bad_drain_is_a_configuration_error() -> None:
    client = dg.DumGumClient(api_key=KEY)
    with pytest.raises(dg.ConfigurationError, match="drain"):
        await client.aclose(drain=-1.0)
    await client.aclose()


# --- event loops -------------------------------------------------------------------------


@contextlib.contextmanager
def _server_in_a_thread(**options: Any) -> Iterator[FakeDumGumServer]:
    """The emulator in a loop of its own, so that the test's loops can come and go."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server = FakeDumGumServer(api_key=KEY, **options)
    try:
        asyncio.run_coroutine_threadsafe(server.start(), loop).result(10)
        yield server
    finally:
        asyncio.run_coroutine_threadsafe(server.close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def test_a_client_carries_on_in_a_new_event_loop_with_its_schedule_and_stats() -> None:
    with _server_in_a_thread() as fake:
        client = dg.DumGumClient(
            api_key=KEY, base_url=fake.url, rate_limit=dg.RateLimit(1, 0.5)
        )  # like a module-level client, used from one asyncio.run() per task
        first = asyncio.run(client.suggest(minimal_request()))
        second = asyncio.run(client.suggest(minimal_request()))
        asyncio.run(client.aclose())
        gc.collect()  # an unclosed session would warn here (warnings are errors)
        arrivals = [r.received_at for r in fake.requests]
    assert first == second
    assert client.stats.calls == 2
    assert client.stats.succeeded == 2
    # The rate-limit schedule crossed the loops: the second call waited its turn.
    assert arrivals[1] - arrivals[0] >= 0.45


def test_a_client_never_closed_leaves_no_session_open_when_its_loop_ends() -> None:
    with _server_in_a_thread() as fake:
        client = dg.DumGumClient(api_key=KEY, base_url=fake.url)
        asyncio.run(client.suggest(minimal_request()))
        assert not client._transport.is_open  # asyncio.run closed it inside its loop
        asyncio.run(client.suggest(minimal_request()))
        del client
        gc.collect()
    assert fake.stats.total == 2


def test_an_open_circuit_breaker_stays_open_in_the_next_loop() -> None:
    with _server_in_a_thread(faults=Faults(http_503=1.0, retry_after=0.0)) as fake:
        client = dg.DumGumClient(
            api_key=KEY, base_url=fake.url, circuit_breaker=dg.CircuitBreaker(cooldown=30.0)
        )

        async def fail_until_open() -> None:
            for _ in range(dg.DEFAULT_BREAKER_WINDOW):
                with pytest.raises(dg.InternalServerError):
                    await client.suggest(minimal_request(), retry=None)

        asyncio.run(fail_until_open())
        seen = fake.stats.total
        with pytest.raises(dg.CircuitOpenError):
            asyncio.run(client.suggest(minimal_request()))
        asyncio.run(client.aclose())
    assert fake.stats.total == seen == dg.DEFAULT_BREAKER_WINDOW
    assert client.stats.breaker_state == "open"


def test_two_running_loops_sharing_one_client_get_a_clear_error() -> None:
    with _server_in_a_thread(latency=0.5) as fake:
        client = dg.DumGumClient(api_key=KEY, base_url=fake.url)
        started = threading.Event()
        outcome: list[object] = []

        async def in_other_thread() -> None:
            task = asyncio.create_task(client.suggest(minimal_request()))
            await asyncio.sleep(0.05)
            started.set()
            outcome.append(await task)

        other = threading.Thread(target=asyncio.run, args=(in_other_thread(),))
        other.start()
        assert started.wait(10)
        try:
            with pytest.raises(dg.DumGumError, match="another running event loop"):
                asyncio.run(client.suggest(minimal_request()))
        finally:
            other.join(10)
        asyncio.run(client.aclose())
    assert len(outcome) == 1
    assert isinstance(outcome[0], dg.SuggestionResponse)


def test_a_callers_session_from_an_ended_loop_is_a_clear_error() -> None:
    with _server_in_a_thread() as fake:

        async def make_session() -> Any:
            import aiohttp

            return aiohttp.ClientSession()

        async def use(client: dg.DumGumClient) -> None:
            await client.suggest(minimal_request())

        loop = asyncio.new_event_loop()
        session = loop.run_until_complete(make_session())
        client = dg.DumGumClient(api_key=KEY, base_url=fake.url, session=session)
        loop.run_until_complete(use(client))
        try:
            with pytest.raises(dg.DumGumError, match="session"):
                asyncio.run(use(client))
        finally:
            loop.run_until_complete(session.close())
            loop.close()


def test_a_call_left_running_by_an_ended_loop_does_not_hold_up_the_next_loops_close() -> None:
    # A loop run with run_until_complete() and left (no asyncio.run clean-up) with a
    # call still in flight: that call can never finish, so the next loop's drain must
    # not wait for it, nor its close try to cancel it (a hang, or "Event loop is
    # closed" once that loop is closed).
    delay = [30.0]
    with _server_in_a_thread(latency=lambda _rng: delay[0]) as fake:
        client = dg.DumGumClient(api_key=KEY, base_url=fake.url)
        old = asyncio.new_event_loop()

        async def leave_a_call_running() -> asyncio.Task[dg.SuggestionResponse]:
            task = asyncio.create_task(client.suggest(minimal_request()))
            await _until(lambda: fake.stats.total == 1)
            return task

        stranded = old.run_until_complete(leave_a_call_running())
        stranded_session = client._transport._session
        delay[0] = 0.0

        async def next_loop() -> float:
            await client.suggest(minimal_request())
            started = time.monotonic()
            async with asyncio.timeout(10):
                await client.aclose(drain=5.0)
            return time.monotonic() - started

        try:
            took = asyncio.run(next_loop())
        finally:
            # Only for the test's own hygiene: end the stranded call in its loop.
            stranded.cancel()
            old.run_until_complete(asyncio.gather(stranded, return_exceptions=True))
            if stranded_session is not None:
                old.run_until_complete(stranded_session.close())
            old.run_until_complete(old.shutdown_asyncgens())
            old.close()
    assert took < 2.0  # nothing of the next loop's was in flight: no drain to wait out
    assert not client._transport.is_open


# --- cancellation ------------------------------------------------------------------------


async def _cancel_after(task: asyncio.Task[Any], turns: int) -> bool:
    # A moment counted in turns of the event loop, not in seconds: every await of a
    # call gets its share, the one-turn windows between a wake-up and its resumption
    # included (where asyncio.wait_for on Python <= 3.11 returned instead).
    for _ in range(turns):
        await asyncio.sleep(0)
    return task.cancel()


@pytest.mark.parametrize("deadline", [None, 30.0], ids=["no-deadline", "deadline"])
async def test_cancellation_at_a_random_moment_is_never_swallowed(deadline: float | None) -> None:
    rng = random.Random(11)
    policy = dg.RetryPolicy(initial_backoff=0.01, max_backoff=0.02, deadline=deadline, budget=None)
    async with (
        FakeDumGumServer(api_key=KEY, latency=lambda r: r.uniform(0.0, 0.02)) as fake,
        dg.DumGumClient(
            api_key=KEY,
            base_url=fake.url,
            retry=policy,
            max_concurrency=8,
            rate_limit=dg.RateLimit(1000, 1.0, burst=50),
        ) as client,
    ):
        tasks = [asyncio.create_task(client.suggest(r)) for r in _requests(200)]
        cancels = [asyncio.create_task(_cancel_after(t, rng.randrange(80))) for t in tasks]
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        took = await asyncio.gather(*cancels)
    hit = [i for i in range(200) if took[i]]
    assert len(hit) > 150  # nearly all were cancelled while still running
    swallowed = [i for i in hit if not isinstance(outcomes[i], asyncio.CancelledError)]
    assert swallowed == []
    assert fake.stats.total <= 200


# --- the concurrency slots ----------------------------------------------------------


def _take(slots: Slots) -> bool:
    # What the call path does: the free case inline.
    if slots.free:
        slots.free -= 1
        return True
    return False


async def test_a_released_slot_goes_to_the_first_waiter_not_to_a_newcomer() -> None:
    slots = Slots(1, asyncio.get_running_loop())
    assert _take(slots)
    order: list[str] = []

    async def wait(name: str) -> None:
        await slots.wait()
        order.append(name)

    first = asyncio.create_task(wait("first"))
    second = asyncio.create_task(wait("second"))
    await asyncio.sleep(0)
    slots.release()
    assert not _take(slots)  # handed to "first", not left free
    await first
    slots.release()
    await second
    assert order == ["first", "second"]


async def test_a_waiter_cancelled_before_its_turn_takes_no_slot() -> None:
    slots = Slots(1, asyncio.get_running_loop())
    assert _take(slots)
    gone = asyncio.create_task(slots.wait())
    stays = asyncio.create_task(slots.wait())
    await asyncio.sleep(0)
    gone.cancel()
    with pytest.raises(asyncio.CancelledError):
        await gone
    slots.release()
    await stays
    assert slots.free == 0


async def test_a_waiter_cancelled_as_it_is_handed_a_slot_passes_it_on() -> None:
    slots = Slots(1, asyncio.get_running_loop())
    assert _take(slots)
    handed = asyncio.create_task(slots.wait())
    await asyncio.sleep(0)
    slots.release()  # handed the slot; cancelled before it runs again
    handed.cancel()
    with pytest.raises(asyncio.CancelledError):
        await handed
    assert slots.free == 1


async def test_holders_never_exceed_the_count_under_random_cancellation() -> None:
    rng = random.Random(7)
    slots = Slots(3, asyncio.get_running_loop())
    holding = peak = 0

    async def hold() -> None:
        nonlocal holding, peak
        if not _take(slots):
            await slots.wait()
        holding += 1
        peak = max(peak, holding)
        try:
            for _ in range(rng.randrange(3)):
                await asyncio.sleep(0)
        finally:
            holding -= 1
            slots.release()

    tasks = [asyncio.create_task(hold()) for _ in range(60)]
    for _ in range(20):
        await asyncio.sleep(0)
        rng.choice(tasks).cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert peak == 3
    assert slots.free == 3
