"""RedisRateLimit against a real redis-server: shared budget, shared pause, outages.

Every test starts its own ``redis-server`` on a free loopback port. Without
redis-server the tests skip, except under ``CI=true`` where they fail: CI must
never pass by skipping them.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import socket
import sys
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dumgum_async as dg
from dumgum_async import _redis_link, _redis_local
from dumgum_async._redis import RedisRateLimit
from dumgum_async._throttle import Limiter
from dumgum_async.exceptions import RateLimiterUnavailableError
from dumgum_async.testing import FakeDumGumServer, ScriptedResponse, ServerRateLimit
from tests.redis_server import (
    RedisServer,
)
from tests.redis_server import max_in_window as _max_in_window
from tests.redis_server import new_key as _key
from tests.redis_server import require as _require
from tests.samples import minimal_request

if TYPE_CHECKING:
    from redis.asyncio import Redis

ROOT = Path(__file__).resolve().parent.parent
KEY = "redis-test-key"


async def _stamps(limiters: list[RedisRateLimit], n: int) -> list[float]:
    """``n`` concurrent acquires spread over ``limiters``; the sorted times they returned."""
    loop = asyncio.get_running_loop()
    stamps: list[float] = []

    async def one(limiter: RedisRateLimit) -> None:
        await limiter.acquire()
        stamps.append(loop.time())

    await asyncio.gather(*(one(limiters[i % len(limiters)]) for i in range(n)))
    return sorted(stamps)


async def _until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    give_up = loop.time() + timeout
    while not condition():
        assert loop.time() < give_up, "the condition never came true"
        await asyncio.sleep(0.01)


async def _wait_for_key(client: Redis, key: str) -> None:
    for _ in range(200):
        if await client.exists(key):
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"{key} never appeared in Redis")


# --- many processes, one budget ----------------------------------------------------------


@pytest.mark.slow
async def test_worker_processes_share_one_budget_exactly(redis_server: RedisServer) -> None:
    rate, workers, each = 20, 3, 25
    key = _key()
    procs: list[asyncio.subprocess.Process] = []
    async with FakeDumGumServer(
        api_key=KEY, rate_limit=ServerRateLimit(max_rate=rate, time_period=1.0)
    ) as fake:
        try:
            for _ in range(workers):
                procs.append(
                    await asyncio.create_subprocess_exec(
                        sys.executable,
                        "-m",
                        "tests.redis_worker",
                        redis_server.url,
                        key,
                        fake.url,
                        KEY,
                        str(each),
                        str(rate),
                        cwd=ROOT,
                        stdout=asyncio.subprocess.PIPE,
                        stderr=asyncio.subprocess.PIPE,
                    )
                )
            outputs = await asyncio.wait_for(
                asyncio.gather(*(p.communicate() for p in procs)), timeout=60
            )
        finally:
            for proc in procs:
                if proc.returncode is None:
                    proc.kill()
                    await proc.wait()
        arrivals = sorted(r.received_at for r in fake.requests)
        stats = fake.stats
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err.decode()
        assert json.loads(out) == {"ok": each, "failed": {}}
    total = workers * each
    assert stats.total == total
    assert stats.rate_limited == 0
    assert _max_in_window(arrivals, 1.0) <= rate
    # Saturated: the three processes together keep the server at its limit (a busy
    # machine may slow them down, never speed them up).
    expected = (total - 1) / rate
    assert 0.95 * expected <= arrivals[-1] - arrivals[0] <= 1.5 * expected


# --- exactness in one process -----------------------------------------------------------


@pytest.mark.parametrize("burst", [1, 4])
async def test_two_limiters_on_one_key_never_exceed_the_rate(
    redis_server: RedisServer, burst: int
) -> None:
    key = _key()
    rate, period = 10, 0.5
    async with (
        RedisRateLimit(
            redis_server.url, key=key, max_rate=rate, time_period=period, burst=burst
        ) as a,
        RedisRateLimit(
            redis_server.url, key=key, max_rate=rate, time_period=period, burst=burst
        ) as b,
    ):
        await asyncio.gather(a.acquire(), b.acquire())  # connect both before timing
        stamps = await _stamps([a, b], 30)
    assert _max_in_window(stamps, period) <= rate
    gaps = [y - x for x, y in itertools.pairwise(stamps)]
    if burst == 1:
        # Evenly spaced: a late wake-up can shorten one gap by a few ms, never halve it.
        assert min(gaps) >= 0.6 * period / rate
    else:
        assert sum(1 for g in gaps if g < 0.01) >= burst - 2  # a quick start, then the pace


async def test_a_fresh_key_lets_the_first_request_go_at_once(redis_server: RedisServer) -> None:
    loop = asyncio.get_running_loop()
    async with RedisRateLimit(redis_server.url, key=_key(), max_rate=1, time_period=10) as limiter:
        started = loop.time()
        await limiter.acquire()
    assert loop.time() - started < 0.5


# --- the shared pause -------------------------------------------------------------------


async def test_a_pause_on_one_limiter_holds_another(
    redis_server: RedisServer, redis_client: Redis
) -> None:
    key = _key()
    loop = asyncio.get_running_loop()
    async with (
        RedisRateLimit(redis_server.url, key=key, max_rate=100) as a,
        RedisRateLimit(redis_server.url, key=key, max_rate=100) as b,
    ):
        await b.acquire()
        started = loop.time()
        a.pause(0.5)
        await _wait_for_key(redis_client, f"{{{key}}}:pause_until")
        await b.acquire()
        waited = loop.time() - started
    assert 0.45 <= waited < 1.0


async def test_a_shorter_pause_never_cuts_a_longer_one(
    redis_server: RedisServer, redis_client: Redis
) -> None:
    key = _key()
    loop = asyncio.get_running_loop()
    async with (
        RedisRateLimit(redis_server.url, key=key, max_rate=100) as a,
        RedisRateLimit(redis_server.url, key=key, max_rate=100) as b,
        RedisRateLimit(redis_server.url, key=key, max_rate=100) as c,
    ):
        started = loop.time()
        a.pause(0.6)
        await _wait_for_key(redis_client, f"{{{key}}}:pause_until")
        b.pause(0.05)
        await c.acquire()
        assert loop.time() - started >= 0.55


async def test_a_pause_sends_waiting_callers_of_this_process_behind_it(
    redis_server: RedisServer,
) -> None:
    loop = asyncio.get_running_loop()
    async with RedisRateLimit(redis_server.url, key=_key(), max_rate=2) as limiter:
        await limiter.acquire()
        waiting = asyncio.create_task(limiter.acquire())  # its slot is 0.5 s away
        await asyncio.sleep(0.1)
        started = loop.time()
        limiter.pause(0.8)
        await waiting
        assert loop.time() - started >= 0.75


async def test_a_429_seen_by_one_client_pauses_a_client_of_another_limiter(
    redis_server: RedisServer,
) -> None:
    key = _key()
    policy = dg.RetryPolicy(initial_backoff=0.01, budget=None)
    async with (
        FakeDumGumServer(api_key=KEY) as fake,
        RedisRateLimit(redis_server.url, key=key, max_rate=50) as one,
        RedisRateLimit(redis_server.url, key=key, max_rate=50) as other,
        dg.DumGumClient(api_key=KEY, base_url=fake.url, rate_limit=one, retry=policy) as a,
        dg.DumGumClient(api_key=KEY, base_url=fake.url, rate_limit=other, retry=policy) as b,
    ):
        fake.script(ScriptedResponse(status=429, headers={"Retry-After": "1"}))
        await a.suggest(minimal_request())  # the 429, a pause of 1 s, then the retry
        rejected_at = fake.requests[0].received_at
        await b.suggest(minimal_request())
    assert fake.requests[0].status == 429
    later = [r.received_at for r in fake.requests[1:]]
    assert len(later) == 2
    assert min(later) - rejected_at >= 0.95


async def test_a_pause_given_just_before_close_still_reaches_redis(
    redis_server: RedisServer, redis_client: Redis
) -> None:
    key = _key()
    limiter = RedisRateLimit(redis_server.url, key=key, max_rate=10)
    await limiter.acquire()
    limiter.pause(30)
    await limiter.aclose()  # awaits the write; nothing is left pending
    ttl_ms = await cast("Awaitable[int]", redis_client.pttl(f"{{{key}}}:pause_until"))
    assert ttl_ms > 25_000


# --- Redis going away -------------------------------------------------------------------


async def test_with_raise_a_killed_redis_fails_acquire_promptly(
    redis_server: RedisServer,
) -> None:
    loop = asyncio.get_running_loop()
    async with RedisRateLimit(
        redis_server.url, key=_key(), max_rate=100, socket_timeout=1.0
    ) as limiter:
        await limiter.acquire()
        redis_server.kill()
        for _ in range(2):  # every acquire fails, none hangs
            started = loop.time()
            with pytest.raises(RateLimiterUnavailableError, match="unavailable"):
                await limiter.acquire()
            assert loop.time() - started < 5


async def test_with_raise_a_hung_redis_fails_within_socket_timeout(
    redis_server: RedisServer,
) -> None:
    loop = asyncio.get_running_loop()
    async with RedisRateLimit(
        redis_server.url, key=_key(), max_rate=100, socket_timeout=0.5
    ) as limiter:
        await limiter.acquire()
        redis_server.freeze()
        try:
            started = loop.time()
            with pytest.raises(RateLimiterUnavailableError, match="in time"):
                await limiter.acquire()
            elapsed = loop.time() - started
        finally:
            redis_server.thaw()
    assert 0.4 <= elapsed < 1.5


async def test_with_local_a_killed_redis_falls_back_with_one_warning(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="dumgum_async")
    loop = asyncio.get_running_loop()
    async with RedisRateLimit(
        redis_server.url, key=_key(), max_rate=50, on_redis_error="local"
    ) as limiter:
        await limiter.acquire()
        redis_server.kill()
        started = loop.time()
        for _ in range(10):
            await limiter.acquire()
        elapsed = loop.time() - started
        assert limiter.using_fallback
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "limiting this process on its own" in warnings[0].getMessage()
    assert 0.15 <= elapsed < 5  # still paced locally: 10 at 50/s


async def test_with_local_the_limiter_goes_back_to_redis_once_it_answers(
    redis_server: RedisServer,
) -> None:
    async with RedisRateLimit(
        redis_server.url,
        key=_key(),
        max_rate=100,
        on_redis_error="local",
        recheck_interval=0.3,
    ) as limiter:
        await limiter.acquire()
        redis_server.kill()
        await limiter.acquire()
        assert limiter.using_fallback
        redis_server.start()  # the same port again
        await limiter.acquire()
        assert limiter.using_fallback  # not checked again before recheck_interval
        await asyncio.sleep(0.35)
        await limiter.acquire()  # starts the check, and does not wait for it
        await _until(lambda: limiter.redis_available)
        await limiter.acquire()
        assert not limiter.using_fallback


# --- a hung Redis, the breaker, the fallback's window ---------------------------------------


@contextlib.asynccontextmanager
async def _hung_redis() -> AsyncIterator[tuple[int, list[int]]]:
    """A TCP server on 127.0.0.1 that accepts connections and never answers.

    Yields its port and a list that grows by one per connection accepted.
    """
    accepted: list[int] = []
    handlers: list[asyncio.Task[None]] = []
    writers: list[asyncio.StreamWriter] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.append(task)
        accepted.append(1)
        writers.append(writer)
        with contextlib.suppress(ConnectionError):
            await reader.read()  # whatever comes, until the client goes

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port: int = server.sockets[0].getsockname()[1]
    try:
        yield port, accepted
    finally:
        server.close()
        for writer in writers:
            writer.close()
        await asyncio.wait_for(asyncio.gather(*handlers, return_exceptions=True), 5)
        await server.wait_closed()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # nothing listens there once the socket is closed


def _requests(n: int) -> list[dict[str, object]]:
    return [minimal_request() for _ in range(n)]


async def test_with_raise_a_hung_redis_fails_a_batch_after_one_timeout() -> None:
    loop = asyncio.get_running_loop()
    async with (
        _hung_redis() as (port, accepted),
        FakeDumGumServer(api_key=KEY) as fake,
        RedisRateLimit(
            f"redis://127.0.0.1:{port}/0", key=_key(), max_rate=100, socket_timeout=0.5
        ) as limiter,
        dg.DumGumClient(api_key=KEY, base_url=fake.url, rate_limit=limiter) as client,
    ):
        started = loop.time()
        results = await client.suggest_all(_requests(30), concurrency=8)
        elapsed = loop.time() - started
        assert not limiter.redis_available
    assert [type(r.error) for r in results] == [RateLimiterUnavailableError] * 30
    assert fake.stats.total == 0  # nothing was sent without the shared budget
    assert 1 <= len(accepted) <= 3  # one connection tried, not one per item
    # Was one socket_timeout per item, one after another behind the batch gate (15 s).
    assert 0.4 <= elapsed < 2.5


async def test_with_local_a_hung_redis_falls_back_after_one_timeout() -> None:
    loop = asyncio.get_running_loop()
    rate = 50
    async with (
        _hung_redis() as (port, _),
        FakeDumGumServer(api_key=KEY, rate_limit=ServerRateLimit(max_rate=rate)) as fake,
        RedisRateLimit(
            f"redis://127.0.0.1:{port}/0",
            key=_key(),
            max_rate=rate,
            socket_timeout=0.5,
            on_redis_error="local",
        ) as limiter,
        dg.DumGumClient(api_key=KEY, base_url=fake.url, rate_limit=limiter) as client,
    ):
        started = loop.time()
        results = await client.suggest_all(_requests(30), concurrency=8)
        elapsed = loop.time() - started
        assert limiter.using_fallback
        arrivals = sorted(r.received_at for r in fake.requests)
    assert all(r.ok for r in results)
    assert fake.stats.rate_limited == 0
    assert _max_in_window(arrivals, 1.0) <= rate
    # One timeout, then paced locally: 30 at 50/s.
    assert 0.5 + 0.5 <= elapsed < 0.5 + 0.6 + 2.0


async def test_with_raise_a_frozen_redis_fails_fast_until_a_check_finds_it_back(
    redis_server: RedisServer,
) -> None:
    loop = asyncio.get_running_loop()
    async with RedisRateLimit(
        redis_server.url, key=_key(), max_rate=100, socket_timeout=0.4, recheck_interval=0.6
    ) as limiter:
        await limiter.acquire()
        redis_server.freeze()
        try:
            started = loop.time()
            with pytest.raises(RateLimiterUnavailableError, match="in time"):
                await limiter.acquire()
            first = loop.time() - started
            started = loop.time()
            for _ in range(20):
                with pytest.raises(RateLimiterUnavailableError, match="checking again in"):
                    await limiter.acquire()
            rest = loop.time() - started
        finally:
            redis_server.thaw()
        await asyncio.sleep(0.6)
        with pytest.raises(RateLimiterUnavailableError, match="checking again now"):
            await limiter.acquire()  # starts the check, does not wait for it
        await _until(lambda: limiter.redis_available)
        await limiter.acquire()
    assert 0.3 <= first < 1.5
    assert rest < 0.2  # 20 acquires, none waited on the frozen Redis


async def test_with_local_a_frozen_redis_falls_back_at_once_and_comes_back(
    redis_server: RedisServer, redis_client: Redis
) -> None:
    loop = asyncio.get_running_loop()
    key = _key()
    async with RedisRateLimit(
        redis_server.url,
        key=key,
        max_rate=100,
        socket_timeout=0.4,
        recheck_interval=0.6,
        on_redis_error="local",
    ) as limiter:
        await limiter.acquire()
        redis_server.freeze()
        try:
            started = loop.time()
            await limiter.acquire()  # waits out one timeout, then local
            first = loop.time() - started
            started = loop.time()
            for _ in range(10):
                await limiter.acquire()
            rest = loop.time() - started
            assert limiter.using_fallback
        finally:
            redis_server.thaw()
        await redis_client.delete(f"{{{key}}}:tat")
        await asyncio.sleep(0.6)
        await limiter.acquire()  # starts the check, and goes locally meanwhile
        await _until(lambda: limiter.redis_available)
        await limiter.acquire()
        assert not limiter.using_fallback
        assert await redis_client.exists(f"{{{key}}}:tat")  # reserved in Redis again
    assert 0.3 <= first < 1.5
    assert rest < 0.5  # 10 at 100/s, none waiting on the frozen Redis


async def test_calls_waiting_on_a_hung_redis_give_up_with_the_first_to_time_out() -> None:
    loop = asyncio.get_running_loop()
    async with (
        _hung_redis() as (port, _),
        RedisRateLimit(
            f"redis://127.0.0.1:{port}/0", key=_key(), max_rate=100, socket_timeout=0.6
        ) as limiter,
    ):

        async def failed_at() -> float:
            with pytest.raises(RateLimiterUnavailableError):
                await limiter.acquire()
            return loop.time()

        first = asyncio.create_task(failed_at())
        await asyncio.sleep(0.3)
        second = await failed_at()  # would wait until 0.3 + 0.6 on its own
        assert abs(second - await first) < 0.2


async def test_a_pause_taken_while_redis_is_down_reaches_it_when_it_returns(
    redis_server: RedisServer, redis_client: Redis
) -> None:
    key = _key()
    async with RedisRateLimit(
        redis_server.url, key=key, max_rate=100, on_redis_error="local", recheck_interval=0.2
    ) as limiter:
        await limiter.acquire()
        redis_server.kill()
        await limiter.acquire()
        assert limiter.using_fallback
        limiter.pause(30)
        redis_server.start()
        await asyncio.sleep(0.25)
        with contextlib.suppress(asyncio.TimeoutError):
            # Starts the check; the acquire itself is held by the pause.
            await asyncio.wait_for(limiter.acquire(), 0.1)
        await _until(lambda: limiter.redis_available)
        ttl_ms = await cast("Awaitable[int]", redis_client.pttl(f"{{{key}}}:pause_until"))
    assert ttl_ms > 25_000


async def test_a_caller_holding_a_slot_goes_at_it_though_redis_then_hangs(
    redis_server: RedisServer,
) -> None:
    loop = asyncio.get_running_loop()
    async with RedisRateLimit(
        redis_server.url, key=_key(), max_rate=2, socket_timeout=1.0
    ) as limiter:
        await limiter.acquire()
        started = loop.time()
        holder = asyncio.create_task(limiter.acquire())  # its slot is 0.5 s away
        await asyncio.sleep(0.2)
        redis_server.freeze()  # its question for the pause, before its slot, hangs
        try:
            await holder
            waited = loop.time() - started
        finally:
            redis_server.thaw()
    assert 0.45 <= waited < 0.5 + 0.3  # at its slot, not after a 1 s timeout


async def test_acquires_cancelled_at_any_point_leave_no_task_behind(
    redis_server: RedisServer,
) -> None:
    limiter = RedisRateLimit(redis_server.url, key=_key(), max_rate=20)
    before = asyncio.all_tasks()
    # Deadlines spread over every await: the connect, the script, the sleep, the
    # question for the pause.
    outcomes = await asyncio.gather(
        *(asyncio.wait_for(limiter.acquire(), 0.013 * i) for i in range(1, 30)),
        return_exceptions=True,
    )
    await limiter.aclose()
    assert any(o is None for o in outcomes)
    assert any(isinstance(o, TimeoutError) for o in outcomes)
    assert all(o is None or isinstance(o, TimeoutError) for o in outcomes)
    await asyncio.sleep(0)
    assert asyncio.all_tasks() - before == set()


async def test_switching_to_local_and_back_never_overruns_a_window(
    redis_server: RedisServer,
) -> None:
    # A burst, so that the window log is exercised too (burst 1 keeps the window
    # with the grid alone: the property test below covers both).
    rate, period, burst = 20, 0.5, 3
    loop = asyncio.get_running_loop()
    async with (
        FakeDumGumServer(
            api_key=KEY, rate_limit=ServerRateLimit(max_rate=rate, time_period=period)
        ) as fake,
        RedisRateLimit(
            redis_server.url,
            key=_key(),
            max_rate=rate,
            time_period=period,
            burst=burst,
            margin=0.05,  # the server shares this busy loop: its arrival stamps jitter
            on_redis_error="local",
            recheck_interval=0.3,
        ) as limiter,
        dg.DumGumClient(api_key=KEY, base_url=fake.url, rate_limit=limiter) as client,
    ):
        # 24 callers at once: each holds a slot reserved up to 0.6 s ahead in Redis
        # when it is killed.
        async def caller() -> None:
            while loop.time() < stop_at:
                await client.suggest(minimal_request())

        stop_at = loop.time() + 1.8
        callers = asyncio.gather(*(caller() for _ in range(24)))
        await asyncio.sleep(0.5)
        redis_server.kill()
        await _until(lambda: limiter.using_fallback)
        await asyncio.sleep(0.3)
        redis_server.start()  # empty: only the seeds tell it about the local slots
        await _until(lambda: limiter.redis_available)
        await callers
        arrivals = sorted(r.received_at for r in fake.requests)
        stats = fake.stats
    assert stats.rate_limited == 0
    assert _max_in_window(arrivals, period) <= rate
    assert stats.total >= 2 * rate  # it kept going through both switches


async def test_a_429_elsewhere_holds_back_a_caller_already_asleep_toward_its_slot(
    redis_server: RedisServer,
) -> None:
    key = _key()
    policy = dg.RetryPolicy(initial_backoff=0.01, budget=None)
    async with (
        FakeDumGumServer(api_key=KEY) as fake,
        RedisRateLimit(redis_server.url, key=key, max_rate=2) as one,
        RedisRateLimit(redis_server.url, key=key, max_rate=2) as other,
        dg.DumGumClient(api_key=KEY, base_url=fake.url, rate_limit=one, retry=policy) as a,
        dg.DumGumClient(api_key=KEY, base_url=fake.url, rate_limit=other, retry=policy) as b,
    ):
        # The first request to go draws the 429, 0.2 s late; the other, 0.5 s after
        # it on the shared schedule, is asleep toward its slot when the pause lands.
        fake.script(ScriptedResponse(status=429, headers={"Retry-After": "1"}, delay=0.2))
        await asyncio.gather(a.suggest(minimal_request()), b.suggest(minimal_request()))
    assert fake.requests[0].status == 429
    rejected_at = fake.requests[0].received_at
    later = [r.received_at for r in fake.requests[1:]]
    assert len(later) == 2
    assert min(later) - rejected_at >= 0.95


async def test_a_pause_holds_back_callers_asleep_in_the_local_fallback() -> None:
    loop = asyncio.get_running_loop()
    url = f"redis://127.0.0.1:{_closed_port()}/0"
    async with RedisRateLimit(url, key=_key(), max_rate=2, on_redis_error="local") as limiter:
        await limiter.acquire()
        assert limiter.using_fallback
        waiting = asyncio.create_task(limiter.acquire())  # its local slot is 0.5 s away
        await asyncio.sleep(0.1)
        started = loop.time()
        limiter.pause(0.8)
        await waiting
        assert loop.time() - started >= 0.75


# --- the breaker and the schedule, on a fake clock ---------------------------------------


class FakeClock:
    """A monotonic clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_breaker_checks_again_only_after_the_interval() -> None:
    clock = FakeClock()
    breaker = _redis_link.Breaker(5.0, clock)
    assert not breaker.start_check()  # not down: nothing to check
    assert breaker.failed("refused")
    assert breaker.down
    assert breaker.seconds_to_check() == 5.0
    clock.now += 4.9
    assert not breaker.start_check()
    clock.now += 0.1
    assert breaker.start_check()


def test_the_breaker_runs_one_check_at_a_time() -> None:
    clock = FakeClock()
    breaker = _redis_link.Breaker(1.0, clock)
    breaker.failed("refused")
    clock.now += 1.0
    assert breaker.start_check()
    assert not breaker.start_check()
    assert breaker.seconds_to_check() == 0.0


def test_a_failed_check_waits_a_whole_interval_again() -> None:
    clock = FakeClock()
    breaker = _redis_link.Breaker(1.0, clock)
    breaker.failed("refused")
    clock.now += 1.5
    assert breaker.start_check()
    assert not breaker.failed("no answer")  # still down: not a new outage
    assert breaker.error == "no answer"
    clock.now += 0.9
    assert not breaker.start_check()
    clock.now += 0.1
    assert breaker.start_check()


def test_an_answer_closes_the_breaker_once() -> None:
    breaker = _redis_link.Breaker(1.0, FakeClock())
    breaker.failed("refused")
    assert breaker.succeeded()
    assert not breaker.down
    assert not breaker.succeeded()


def _schedule(rate: int, burst: int, period: float = 1.0) -> _redis_local.Schedule:
    window = period * 1.01
    interval = window / rate
    return _redis_local.Schedule(interval, (burst - 1) * interval, rate if burst > 1 else 0, window)


@settings(max_examples=60, deadline=None)
@given(
    rate=st.integers(2, 12),
    burst=st.integers(1, 4),
    steps=st.lists(
        st.tuples(st.floats(0, 0.4), st.booleans(), st.booleans()), min_size=5, max_size=80
    ),
)
def test_local_and_redis_grants_together_never_overrun_a_window(
    rate: int, burst: int, steps: list[tuple[float, bool, bool]]
) -> None:
    # Two schedules stand for Redis and for one process's fallback; each step is a
    # request after a pause of `gap`, granted by whichever is in use (switching
    # when told), with grants noted, and seeds handed over, as RedisRateLimit does.
    burst = min(burst, rate)
    redis, local = _schedule(rate, burst), _schedule(rate, burst)
    now, on_redis, slots = 0.0, True, []
    for gap, switch, _ in steps:
        now += gap
        if switch:
            if not on_redis:
                for seed in local.recent(now):
                    redis.note(seed)
            on_redis = not on_redis
        if on_redis:
            slot = redis.reserve(now)
            local.note(slot)
        else:
            slot = local.reserve(now)
        slots.append(slot)
    assert _max_in_window(sorted(slots), 1.0) <= rate


def test_a_fresh_local_schedule_would_overrun_the_window() -> None:
    # The control for the property above: without the slots granted through
    # Redis, the fallback starts a new window on top of the old one.
    redis, fresh = _schedule(10, 1), _schedule(10, 1)
    slots = [redis.reserve(0.0) for _ in range(10)]  # reserved up to 0.9 s ahead
    slots += [fresh.reserve(0.05) for _ in range(5)]
    assert _max_in_window(sorted(slots), 1.0) > 10


# --- secrets ----------------------------------------------------------------------------

PASSWORD = "s3cr3t-pw"


def _reachable_reprs(exc: BaseException) -> list[str]:
    """What an error tracker may capture: the reprs of everything reachable from
    ``exc`` through its args, attributes, cause and context chain, and the locals
    of every frame of its traceback, walking into containers."""
    seen: set[int] = set()
    stack: list[object] = [exc]
    found: list[str] = []
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        found.append(repr(obj))
        if isinstance(obj, BaseException):
            stack += [*obj.args, *vars(obj).values(), obj.__cause__, obj.__context__]
            tb = obj.__traceback__
            while tb is not None:
                stack += tb.tb_frame.f_locals.values()
                tb = tb.tb_next
        elif isinstance(obj, dict):
            stack += [*obj.keys(), *obj.values()]
        elif isinstance(obj, list | tuple | set | frozenset):
            stack += list(obj)
    return found


def _assert_no_password(exc: BaseException) -> None:
    text = "".join(traceback.TracebackException.from_exception(exc, capture_locals=True).format())
    assert PASSWORD not in text
    leaks = [r for r in _reachable_reprs(exc) if PASSWORD in r]
    assert leaks == []


async def _failure(awaitable: Awaitable[object]) -> BaseException:
    # The test's own frame must not hold the URL: a helper catches the error.
    try:
        await awaitable
    except dg.DumGumError as exc:
        return exc
    raise AssertionError("it did not fail")


async def test_the_password_is_nowhere_in_the_error_of_a_refused_connection() -> None:
    async with (
        RedisRateLimit(
            f"redis://:{PASSWORD}@127.0.0.1:{_closed_port()}/0", key=_key(), max_rate=5
        ) as limiter,
        FakeDumGumServer(api_key=KEY) as fake,
        dg.DumGumClient(api_key=KEY, base_url=fake.url, rate_limit=limiter) as client,
    ):
        first = await _failure(client.suggest(minimal_request()))
        again = await _failure(limiter.acquire())  # the breaker's error, at once
    for exc in (first, again):
        assert isinstance(exc, RateLimiterUnavailableError)
        _assert_no_password(exc)


async def test_the_password_is_nowhere_in_the_error_of_a_hung_server() -> None:
    # redis-py sends AUTH, then waits: its frames hold the password (auth_args).
    async with (
        _hung_redis() as (port, accepted),
        RedisRateLimit(
            f"redis://user:{PASSWORD}@127.0.0.1:{port}/0",
            key=_key(),
            max_rate=5,
            socket_timeout=0.3,
        ) as limiter,
    ):
        exc = await _failure(limiter.acquire())
        assert accepted
    assert isinstance(exc, RateLimiterUnavailableError)
    assert "in time" in str(exc)
    _assert_no_password(exc)


def _url_with_password(where: str, option: str) -> str:
    # Built here, so that no frame of the traceback under test holds it in a local.
    if where == "netloc":
        return f"redis://:{PASSWORD}@127.0.0.1:6379/0?{option}"
    return f"redis://127.0.0.1:6379/0?password={PASSWORD}&{option}"


@pytest.mark.parametrize(
    ("where", "option", "named"),
    [
        ("netloc", "socket_timeout=abc", "socket_timeout"),
        ("netloc", "frobnicate=1", "frobnicate"),
        ("query", "socket_timeout=x", "socket_timeout"),
    ],
)
def test_a_bad_url_option_is_refused_at_construction(where: str, option: str, named: str) -> None:
    _require("redis")
    with pytest.raises(dg.ConfigurationError, match=named) as info:
        RedisRateLimit(_url_with_password(where, option), key="k", max_rate=5)
    _assert_no_password(info.value)


# --- construction -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://user:s3cret@cache:6379/0", "redis://user:***@cache:6379/0"),
        ("rediss://:s3cret@[::1]:6380", "rediss://:***@[::1]:6380"),
        ("unix:///run/redis.sock?password=s3cret&db=2", "unix:///run/redis.sock?password=***&db=2"),
    ],
)
def test_repr_never_shows_the_password(url: str, shown: str) -> None:
    _require("redis")
    text = repr(RedisRateLimit(url, key="k", max_rate=5))
    assert "s3cret" not in text
    assert shown in text


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_rate": 0},
        {"max_rate": 5, "burst": 6},
        {"max_rate": 5, "time_period": -1},
        {"max_rate": 5, "on_redis_error": "ignore"},
        {"max_rate": 5, "socket_timeout": 0},
        {"max_rate": 5, "recheck_interval": 0},
        {"max_rate": 5, "margin": 2.0},
        {"max_rate": 5, "key": ""},
    ],
)
def test_bad_settings_are_refused(kwargs: dict[str, object]) -> None:
    _require("redis")
    settings: dict[str, object] = {"key": "k", **kwargs}
    with pytest.raises(dg.ConfigurationError):
        RedisRateLimit("redis://localhost", **settings)  # type: ignore[arg-type]


@pytest.mark.parametrize("url", ["http://localhost:6379", "redis://localhost:port", "localhost"])
def test_a_url_that_is_not_redis_is_refused(url: str) -> None:
    _require("redis")
    with pytest.raises(dg.ConfigurationError, match="redis://"):
        RedisRateLimit(url, key="k", max_rate=5)


def test_it_satisfies_the_limiter_protocol() -> None:
    _require("redis")
    assert isinstance(RedisRateLimit("redis://localhost", key="k", max_rate=5), Limiter)


def test_the_package_imports_without_redis_installed() -> None:
    import subprocess

    code = (
        "import sys; sys.modules['redis'] = None\n"  # makes `import redis` fail
        "import dumgum_async, dumgum_async._redis as r\n"
        "try:\n"
        "    r.RedisRateLimit('redis://localhost', key='k', max_rate=1)\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert "pip install 'dumgum-async[redis]'" in out.stdout


# --- the job-queue example ----------------------------------------------------------------


async def test_the_saq_example_answers_queued_conversations(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    _require("saq")
    import redis.asyncio
    from saq import Queue, Worker

    from examples import saq_worker

    async with FakeDumGumServer(
        api_key=KEY, rate_limit=ServerRateLimit(max_rate=10, time_period=1.0)
    ) as fake:
        monkeypatch.setenv("REDIS_URL", redis_server.url)
        monkeypatch.setenv("DUMGUM_API_KEY", KEY)
        monkeypatch.setenv("DUMGUM_BASE_URL", fake.url)
        monkeypatch.setenv("DUMGUM_RATE", "10/s")
        producer = Queue.from_url(redis_server.url, name=saq_worker.QUEUE_NAME)
        results = redis.asyncio.from_url(redis_server.url)
        settings = saq_worker.make_settings(redis_server.url, concurrency=4)
        worker = Worker(
            settings["queue"],  # pyright: ignore[reportTypedDictNotRequiredAccess]
            settings["functions"],
            startup=settings.get("startup"),
            shutdown=settings.get("shutdown"),
            concurrency=4,
            burst=True,  # stop once the queue is empty
            dequeue_timeout=0.5,
        )
        try:
            await producer.connect()
            ids = await saq_worker.enqueue_conversations(producer, 6)
            await asyncio.wait_for(worker.start(), timeout=30)
            found = await saq_worker.wait_for_results(results, ids, timeout=5)
        finally:
            await worker.queue.disconnect()
            await producer.disconnect()
            await results.aclose()
        stats = fake.stats
    assert sorted(found) == sorted(ids)
    assert all(len(suggestions) == 3 for suggestions in found.values())
    assert stats.total == 6
    assert stats.rate_limited == 0


async def test_cli_batch_shares_its_rate_through_redis(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    from dumgum_async import _cli

    requests = tmp_path / "in.jsonl"
    requests.write_text(
        "".join(json.dumps({"id": i, "request": minimal_request()}) + "\n" for i in range(12))
    )
    output = tmp_path / "out.jsonl"
    async with FakeDumGumServer(api_key=KEY, rate_limit=ServerRateLimit(max_rate=10)) as fake:
        argv = ["batch", str(requests), "-o", str(output), "--api-key", KEY]
        argv += ["--base-url", fake.url, "--rate", "10/s", "--no-progress"]
        argv += ["--redis-url", redis_server.url, "--redis-key", _key()]
        status = await _cli.run(argv)
    assert status == 0
    lines = [json.loads(line) for line in output.read_text().splitlines()]
    assert sorted(line["id"] for line in lines) == list(range(12))
    assert fake.stats.rate_limited == 0


async def test_cli_redis_url_without_a_rate_is_a_usage_error(tmp_path: Path) -> None:
    from dumgum_async import _cli

    requests = tmp_path / "in.jsonl"
    requests.write_text(json.dumps(minimal_request()) + "\n")
    argv = ["batch", str(requests), "-o", str(tmp_path / "out.jsonl"), "--api-key", KEY]
    argv += ["--redis-url", "redis://127.0.0.1:1/0"]
    status = await _cli.run(argv)
    assert status == 2
