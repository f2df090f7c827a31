"""Many processes, one budget and one pause, through a real redis-server.

Every test that needs it starts its own ``redis-server`` (``tests/redis_server.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import itertools
import json
import logging
import sys
import time
from collections.abc import Awaitable
from typing import TYPE_CHECKING, cast

import pytest

import dumgum_async as dg
from dumgum_async._redis import RedisRateLimit
from dumgum_async._throttle import ARRIVAL_MARGIN, Limiter
from dumgum_async.exceptions import RateLimiterUnavailableError
from dumgum_async.testing import FakeDumGumServer, ScriptedResponse, ServerRateLimit
from tests.helpers.bodies import minimal_request
from tests.helpers.redis_server import (
    RedisServer,
)
from tests.helpers.redis_server import new_key as _key
from tests.helpers.redis_server import require as _require
from tests.helpers.windows import max_in_window as _max_in_window

if TYPE_CHECKING:
    from redis.asyncio import Redis
from tests.redis._support import (
    KEY,
    ROOT,
)
from tests.redis._support import (
    closed_port as _closed_port,
)
from tests.redis._support import (
    slow_redis as _slow_redis,
)
from tests.redis._support import (
    stamps as _stamps,
)
from tests.redis._support import (
    until_changed as _until_changed,
)
from tests.redis._support import (
    wait_for_key as _wait_for_key,
)


@pytest.mark.slow
async def test_worker_processes_share_one_budget_exactly(redis_server: RedisServer) -> None:
    rate, workers, each = 20, 3, 25
    # The emulator stamps arrivals in this process, on the machine the workers load:
    # its stamps, and the workers' way from their slot to the socket, jitter by tens
    # of ms there, more than the default margin is for (see RedisRateLimit: it
    # covers what the limiter cannot see, between the slot and the API's stamp).
    margin = 0.05
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
                        "tests.helpers.redis_worker",
                        redis_server.url,
                        key,
                        fake.url,
                        KEY,
                        str(each),
                        str(rate),
                        str(margin),
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
    expected = (total - 1) * (1.0 + margin) / rate
    assert 0.95 * expected <= arrivals[-1] - arrivals[0] <= 1.5 * expected


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
    # margin=1: a slot granted at once is late by the answer's way back and the
    # clock's error; on a busy machine the first round trip exceeded the default
    # margin / 2, and the caller gave its slot up and waited the whole interval.
    async with RedisRateLimit(
        redis_server.url, key=_key(), max_rate=1, time_period=10, margin=1.0
    ) as limiter:
        started = loop.time()
        await limiter.acquire()
    # The alternative is the 11 s interval: a slow connect on a busy machine is not.
    assert loop.time() - started < 5.0


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


async def test_a_429_elsewhere_holds_back_a_caller_already_asleep_toward_its_slot(
    redis_server: RedisServer,
) -> None:
    key = _key()
    policy = dg.RetryPolicy(initial_backoff=0.01, budget=None)
    async with (
        FakeDumGumServer(api_key=KEY) as fake,
        RedisRateLimit(redis_server.url, key=key, max_rate=1.5) as one,
        RedisRateLimit(redis_server.url, key=key, max_rate=1.5) as other,
        dg.DumGumClient(api_key=KEY, base_url=fake.url, rate_limit=one, retry=policy) as a,
        dg.DumGumClient(api_key=KEY, base_url=fake.url, rate_limit=other, retry=policy) as b,
    ):
        # The first request to go draws the 429, 0.1 s late; the other, 0.67 s after
        # it on the shared schedule, is asleep toward its slot when the pause lands
        # (0.57 s to spare: a loaded machine once used up the 0.3 s it had before).
        fake.script(ScriptedResponse(status=429, headers={"Retry-After": "1"}, delay=0.1))
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


async def test_a_caller_woken_late_for_its_slot_gives_it_up_and_queues_again(
    redis_server: RedisServer, redis_client: Redis
) -> None:
    # The stall between a grant and the send that the limiter can see: its loop
    # wakes the caller after its slot. Sent then, it could crowd the API's next window.
    key = _key()
    loop = asyncio.get_running_loop()
    async with RedisRateLimit(redis_server.url, key=key, max_rate=2, margin=0.1) as limiter:
        await limiter.acquire()
        tat = await redis_client.get(f"{{{key}}}:tat")
        started = loop.time()
        holder = asyncio.create_task(limiter.acquire())  # its slot is 0.55 s away
        await _until_changed(redis_client, f"{{{key}}}:tat", tat)  # granted
        time.sleep(0.8)  # noqa: ASYNC251 - a stalled loop is the point: 0.25 s late
        await holder
        waited = loop.time() - started
    # Not at once (0.8 s), but at the next free slot (1.1 s).
    assert waited >= 1.0


def test_a_limiter_carries_on_in_a_new_event_loop_like_the_client_it_serves(
    redis_server: RedisServer,
) -> None:
    # A task queue's worker runs each task in an asyncio.run() of its own and keeps
    # one client, and so its limiter, per process (README, "Using it in FastAPI /
    # aiohttp / workers"): the limiter must follow the client from loop to loop.
    limiter = RedisRateLimit(redis_server.url, key=_key(), max_rate=2)
    granted: list[float] = []

    async def task() -> None:
        await limiter.acquire()
        granted.append(time.monotonic())

    asyncio.run(task())
    asyncio.run(task())
    asyncio.run(limiter.aclose())
    gc.collect()  # a connection left open in the first loop would warn here
    assert len(granted) == 2
    assert granted[1] - granted[0] >= 0.45  # the same schedule, across the loops


def test_a_check_of_redis_cut_short_by_the_end_of_its_loop_runs_again_in_the_next(
    redis_server: RedisServer,
) -> None:
    # The loop ended (asyncio.run() cancels what is left) while a check of a frozen
    # Redis was waiting: the next loop must check again, not take that check for
    # one still running and fail every acquire for good.
    limiter = RedisRateLimit(
        redis_server.url, key=_key(), max_rate=100, socket_timeout=2.0, recheck_interval=0.2
    )

    async def lose_redis_with_a_check_in_flight() -> None:
        await limiter.acquire()
        redis_server.freeze()
        with pytest.raises(RateLimiterUnavailableError):
            await limiter.acquire()  # times out: Redis is marked down
        await asyncio.sleep(0.3)
        with pytest.raises(RateLimiterUnavailableError, match="checking again now"):
            await limiter.acquire()  # starts a check, which waits on the frozen Redis

    async def find_redis_again() -> bool:
        give_up = time.monotonic() + 5.0
        while time.monotonic() < give_up:
            with contextlib.suppress(RateLimiterUnavailableError):
                await limiter.acquire()
                return True
            await asyncio.sleep(0.05)
        return False

    try:
        asyncio.run(lose_redis_with_a_check_in_flight())
    finally:
        redis_server.thaw()
    found = asyncio.run(find_redis_again())
    asyncio.run(limiter.aclose())
    gc.collect()
    assert found


def test_the_default_margin_is_the_in_process_limiters() -> None:
    _require("redis")
    limiter = RedisRateLimit("redis://localhost", key="k", max_rate=5)
    assert limiter.margin == ARRIVAL_MARGIN


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


# --- a Redis one long round trip away (a proxy that delays every reply) -------------

#: One round trip to the proxied Redis; the margin is chosen so that an immediate
#: grant, answered a whole round trip after Redis's "now" as the clock maps it (half
#: the trip, plus the clock's error of half the trip), is later than ``margin / 2``,
#: while a slot the caller sleeps towards (only the clock's error) is not.
SLOW_DELAY = 0.2
SLOW_MARGIN = 0.3


async def test_a_fresh_key_lets_the_first_request_go_at_once_through_a_slow_redis(
    redis_server: RedisServer,
) -> None:
    async with _slow_redis(redis_server.port, SLOW_DELAY) as port:
        limiter = RedisRateLimit(
            f"redis://127.0.0.1:{port}/0",
            key=_key(),
            max_rate=1,
            time_period=10,
            margin=SLOW_MARGIN,
        )
        async with limiter:
            loop = asyncio.get_running_loop()
            started = loop.time()
            # Connecting and loading the script take a few round trips; a forfeited
            # slot would cost the whole interval (10 s).
            await asyncio.wait_for(limiter.acquire(), timeout=5)
            assert loop.time() - started < 10 * SLOW_DELAY


async def test_many_acquirers_through_a_slow_redis_never_exceed_the_rate(
    redis_server: RedisServer,
) -> None:
    key, rate, period = _key(), 5, 1.0
    async with _slow_redis(redis_server.port, SLOW_DELAY) as port:
        url = f"redis://127.0.0.1:{port}/0"
        limiters = [
            RedisRateLimit(url, key=key, max_rate=rate, time_period=period, margin=SLOW_MARGIN)
            for _ in range(3)
        ]
        try:
            stamps = await asyncio.wait_for(_stamps(limiters, 3 * rate), timeout=30)
        finally:
            for limiter in limiters:
                await limiter.aclose()
    assert _max_in_window(stamps, period) <= rate


async def test_no_slot_is_given_up_for_the_answers_way_back(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="dumgum_async")
    async with _slow_redis(redis_server.port, SLOW_DELAY) as port:
        url = f"redis://127.0.0.1:{port}/0"
        async with RedisRateLimit(url, key=_key(), max_rate=20, margin=SLOW_MARGIN) as limiter:
            for _ in range(3):
                # Each alone on the key (the last slot is past): an immediate grant.
                await asyncio.sleep(0.2)
                await limiter.acquire()
    assert not [r for r in caplog.records if "late for a slot" in r.getMessage()]
