"""Redis going away (killed, hung, frozen) and coming back: "raise" and "local".

Every test that needs it starts its own ``redis-server`` (``tests/redis_server.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable
from typing import TYPE_CHECKING, cast

import pytest

import dumgum_async as dg
from dumgum_async._redis import RedisRateLimit
from dumgum_async.exceptions import RateLimiterUnavailableError
from dumgum_async.testing import FakeDumGumServer, ServerRateLimit
from tests.helpers.bodies import minimal_request
from tests.helpers.redis_server import (
    RedisServer,
)
from tests.helpers.redis_server import new_key as _key
from tests.helpers.windows import max_in_window as _max_in_window

if TYPE_CHECKING:
    from redis.asyncio import Redis
from tests.redis._support import (
    KEY,
)
from tests.redis._support import (
    hung_redis as _hung_redis,
)
from tests.redis._support import (
    requests as _requests,
)
from tests.redis._support import (
    until as _until,
)
from tests.redis._support import (
    until_changed as _until_changed,
)


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
    redis_server: RedisServer, redis_client: Redis
) -> None:
    key = _key()
    loop = asyncio.get_running_loop()
    # margin=0.2: a loaded machine wakes the holder tens of ms late, and a caller
    # later than margin / 2 gives its slot up and asks (the frozen) Redis again;
    # this test is about the question for the pause, not about that.
    async with RedisRateLimit(
        redis_server.url, key=key, max_rate=2, margin=0.2, socket_timeout=1.0
    ) as limiter:
        await limiter.acquire()
        tat = await redis_client.get(f"{{{key}}}:tat")
        started = loop.time()
        holder = asyncio.create_task(limiter.acquire())  # its slot is 0.6 s away
        # Frozen only once Redis granted the holder its slot (the script moved the
        # schedule on): a fixed sleep lost that race on a busy machine.
        await _until_changed(redis_client, f"{{{key}}}:tat", tat)
        assert loop.time() - started < 0.4, "Redis took too long to grant the holder's slot"
        redis_server.freeze()  # its question for the pause, 0.1 s before its slot, hangs
        try:
            await holder
            waited = loop.time() - started
        finally:
            redis_server.thaw()
    # At its slot (0.6 s), not after the question's 1 s timeout (1.5 s at the earliest).
    assert 0.55 <= waited < 1.3


async def test_acquires_cancelled_at_any_point_leave_no_task_behind(
    redis_server: RedisServer,
) -> None:
    limiter = RedisRateLimit(redis_server.url, key=_key(), max_rate=20)
    before = asyncio.all_tasks()
    # Deadlines spread over every await: the connect, the script, the sleep, the
    # question for the pause.
    # One without a deadline, so that some acquire succeeds however slow the machine
    # (a busy one can take longer than every deadline to connect).
    outcomes = await asyncio.gather(
        limiter.acquire(),
        *(asyncio.wait_for(limiter.acquire(), 0.013 * i) for i in range(1, 30)),
        return_exceptions=True,
    )
    await limiter.aclose()
    assert outcomes[0] is None
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
